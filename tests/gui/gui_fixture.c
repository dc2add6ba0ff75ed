/* Fixture databases for the GUI tests (see gui_fixture.h). */
#include "gui_fixture.h"

#include <stdio.h>
#include <string.h>

#include "podstream/ps_event.h"
#include "podstream/ps_platform.h"
#include "podstream/ps_store.h"

static bool put_one(ps_store *st, long long device, int i, int per_second)
{
    char raw[2048], ts[40];
    int s = i / (per_second > 0 ? per_second : 1);
    ps_event ev;
    ps_errmsg em;
    bool dup = false, ok;
    snprintf(ts, sizeof ts, "2024-05-22T%02d:%02d:%02dZ", 10 + s / 3600, s / 60 % 60, s % 60);
    snprintf(raw, sizeof raw,
             "{\"connection\":{\"country\":\"de\",\"host\":\"mx.sender.example\",\"ip\":"
             "\"192.0.2.10\"},\"envelope\":{\"from\":\"%s@example.com\",\"rcpts\":["
             "\"carol@corp.example\"]},\"filter\":{\"actions\":[{\"action\":\"%s\",\"isFinal\":"
             "true,\"module\":\"spam\",\"rule\":\"inbound_spam\"}],\"disposition\":\"%s\","
             "\"qid\":\"4Q%06d\",\"routeDirection\":\"inbound\"},\"guid\":\"gui-%lld-%d\","
             "\"msg\":{\"header\":{\"message-id\":[\"<m%d@example.com>\"],\"subject\":["
             "\"Invoice %d\"]},\"sizeBytes\":2048},\"ts\":\"%s\"}",
             i % 2 ? "bob" : "alice", i % 3 ? "accept" : "reject", i % 3 ? "accept" : "reject", i,
             device, i, i, i, ts);
    ps_event_init(&ev);
    ok = ps_event_parse(&ev, PS_DATA_MESSAGE, raw, strlen(raw), &em) == PS_OK &&
         ps_event_extract(&ev, &em) == PS_OK &&
         ps_store_insert(st, device, &ev, raw, strlen(raw), NULL, &dup, &em) == PS_OK;
    if (!ok)
        fprintf(stderr, "gui_fixture: event %d: %s\n", i, em.text);
    ps_event_deinit(&ev);
    return ok;
}

bool gui_fixture_events(const char *db, long long device, int first, int n, int per_second)
{
    ps_store *st = NULL;
    ps_errmsg em;
    bool ok =
        ps_store_create(db, PS_STORE_WRITER, &st, &em) == PS_OK && ps_store_begin(st, &em) == PS_OK;
    for (int i = first; ok && i < first + n; i++)
        ok = put_one(st, device, i, per_second);
    if (ok && ps_store_commit(st, &em) != PS_OK)
        ok = false;
    if (!ok)
        fprintf(stderr, "gui_fixture: %s: %s\n", db, em.text);
    ps_store_destroy(st);
    return ok;
}

bool gui_fixture_counters(const char *db, long long device, const char *name, uint64_t total,
                          int age_s)
{
    ps_device_counters c;
    ps_store *st = NULL;
    ps_errmsg em;
    bool ok;
    memset(&c, 0, sizeof c);
    c.device_id = device;
    snprintf(c.name, sizeof c.name, "%s", name);
    c.type = PS_DATA_MESSAGE;
    c.state = PS_STATE_LIVE;
    c.events_total = total;
    c.rate_10s = 12.5;
    c.rate_1m = 10.0;
    c.last_event_ts_us = ps_plat_now_us() - 2000000;
    c.lag_ms = 1500;
    c.reconnects = 1;
    c.duplicates = 3;
    c.updated_us = ps_plat_now_us() - (int64_t)age_s * 1000000;
    ok = ps_store_create(db, PS_STORE_WRITER, &st, &em) == PS_OK &&
         ps_store_counters_put(st, &c, &em) == PS_OK;
    if (!ok)
        fprintf(stderr, "gui_fixture: %s: %s\n", db, em.text);
    ps_store_destroy(st);
    return ok;
}
