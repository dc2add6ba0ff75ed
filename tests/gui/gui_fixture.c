/* Fixture databases for the GUI tests (see gui_fixture.h). */
#include "gui_fixture.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "podstream/ps_event.h"
#include "podstream/ps_platform.h"
#include "podstream/ps_store.h"

/* The time stamp of event i, `later` seconds on. */
static void ts_of(int i, int per_second, int later, char *ts, size_t len)
{
    int s = i / (per_second > 0 ? per_second : 1) + later;
    snprintf(ts, len, "2024-05-22T%02d:%02d:%02dZ", 10 + s / 3600, s / 60 % 60, s % 60);
}

static bool store_raw(ps_store *st, long long device, ps_data_type type, const char *raw)
{
    ps_event ev;
    ps_errmsg em;
    bool dup = false, ok;
    ps_event_init(&ev);
    ok = ps_event_parse(&ev, type, raw, strlen(raw), &em) == PS_OK &&
         ps_event_extract(&ev, &em) == PS_OK &&
         ps_store_insert(st, device, &ev, raw, strlen(raw), NULL, &dup, &em) == PS_OK;
    if (!ok)
        fprintf(stderr, "gui_fixture: %s: %s\n", raw, em.text);
    ps_event_deinit(&ev);
    return ok;
}

static bool put_one(ps_store *st, long long device, int i, int per_second)
{
    char raw[2048], ts[40];
    ts_of(i, per_second, 0, ts, sizeof ts);
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
    return store_raw(st, device, PS_DATA_MESSAGE, raw);
}

bool gui_fixture_events(const char *db, long long device, int first, int n, int per_second)
{
    ps_store *st = NULL;
    ps_errmsg em = {""};
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

bool gui_fixture_maillog(const char *db, long long device, int i, int per_second)
{
    char rx[1024], tx[1024], ts1[40], ts2[40];
    ps_store *st = NULL;
    ps_errmsg em;
    bool ok;
    ts_of(i, per_second, 1, ts1, sizeof ts1);
    ts_of(i, per_second, 2, ts2, sizeof ts2);
    snprintf(rx, sizeof rx,
             "{\"data\":\"sendmail: 4Q%06d: from=<%s@example.com>, size=2048, nrcpts=1, "
             "msgid=<m%d@example.com>\",\"id\":\"rx-%d\",\"sm\":{\"from\":\"<%s@example.com>\","
             "\"msgid\":\"<m%d@example.com>\",\"qid\":\"4Q%06d\",\"sizeBytes\":\"2048\"},"
             "\"ts\":\"%s\"}",
             i, i % 2 ? "bob" : "alice", i, i, i % 2 ? "bob" : "alice", i, i, ts1);
    snprintf(tx, sizeof tx,
             "{\"data\":\"sendmail: 4Q%06d: to=<carol@corp.example>, relay=mx.corp.example., "
             "dsn=2.0.0, stat=Sent (Ok)\",\"id\":\"tx-%d\",\"sm\":{\"dsn\":\"2.0.0\",\"qid\":"
             "\"4Q%06d\",\"relay\":\"mx.corp.example.\",\"stat\":\"Sent (Ok)\",\"to\":["
             "\"<carol@corp.example>\"]},\"ts\":\"%s\"}",
             i, i, i, ts2);
    ok = ps_store_create(db, PS_STORE_WRITER, &st, &em) == PS_OK &&
         ps_store_begin(st, &em) == PS_OK && store_raw(st, device, PS_DATA_MAILLOG, rx) &&
         store_raw(st, device, PS_DATA_MAILLOG, tx) && ps_store_commit(st, &em) == PS_OK;
    if (!ok)
        fprintf(stderr, "gui_fixture: %s: maillog of %d failed\n", db, i);
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
    c.empty_frames = 4;
    c.duplicates = 3;
    c.updated_us = ps_plat_now_us() - (int64_t)age_s * 1000000;
    ok = ps_store_create(db, PS_STORE_WRITER, &st, &em) == PS_OK &&
         ps_store_counters_put(st, &c, &em) == PS_OK;
    if (!ok)
        fprintf(stderr, "gui_fixture: %s: %s\n", db, em.text);
    ps_store_destroy(st);
    return ok;
}

/* The live part of "siem", as its runner writes it every second. */
static ps_err put_state(ps_store *st, int age_s, ps_errmsg *em)
{
    ps_output_row c;
    int64_t now = ps_plat_now_us();
    memset(&c, 0, sizeof c);
    snprintf(c.name, sizeof c.name, "siem");
    c.state = PS_OUTPUT_STATE_SENDING;
    c.rate = 7.5;
    snprintf(c.last_error, sizeof c.last_error, "connection reset by peer");
    c.last_error_us = now - 30 * 1000000LL;
    c.updated_us = now - (int64_t)age_s * 1000000;
    return ps_store_output_state_put(st, &c, em);
}

bool gui_fixture_outputs(const char *db, int64_t cursor, int age_s)
{
    static const char *const names[] = {"old-hec", "siem"};
    static const char *const types[] = {"splunk_hec", "syslog"};
    const char *const siem[] = {"siem"};
    ps_output_row c;
    ps_store *st = NULL;
    ps_errmsg em;
    bool ok;
    memset(&c, 0, sizeof c);
    c.delivered = 40;
    c.dropped = 1;
    c.split = 2;
    c.last_delivery_us = ps_plat_now_us() - 60 * 1000000LL;
    /* Both configured once, then only siem: old-hec stays, disabled. */
    ok = ps_store_create(db, PS_STORE_WRITER, &st, &em) == PS_OK &&
         ps_store_outputs_sync(st, names, types, 2, &em) == PS_OK &&
         ps_store_outputs_sync(st, siem, types + 1, 1, &em) == PS_OK &&
         ps_store_output_commit(st, "siem", cursor, &c, &em) == PS_OK &&
         put_state(st, age_s, &em) == PS_OK;
    if (!ok)
        fprintf(stderr, "gui_fixture: %s: %s\n", db, em.text);
    ps_store_destroy(st);
    return ok;
}

bool gui_fixture_output_state(const char *db, int age_s)
{
    ps_store *st = NULL;
    ps_errmsg em;
    bool ok = ps_store_create(db, PS_STORE_WRITER, &st, &em) == PS_OK &&
              put_state(st, age_s, &em) == PS_OK;
    if (!ok)
        fprintf(stderr, "gui_fixture: %s: %s\n", db, em.text);
    ps_store_destroy(st);
    return ok;
}

bool gui_fixture_reload(const char *db, uint64_t generation, bool accepted, const char *reason)
{
    ps_reload_record r;
    ps_store *st = NULL;
    ps_errmsg em;
    bool ok;
    memset(&r, 0, sizeof r);
    r.generation = generation;
    r.at_us = ps_plat_now_us();
    r.accepted = accepted;
    r.started_us = r.at_us - 3600 * 1000000LL;
    snprintf(r.reason, sizeof r.reason, "%s", reason ? reason : "");
    ok = ps_store_create(db, PS_STORE_WRITER, &st, &em) == PS_OK &&
         ps_store_reload_put(st, &r, &em) == PS_OK;
    if (!ok)
        fprintf(stderr, "gui_fixture: %s: %s\n", db, em.text);
    ps_store_destroy(st);
    return ok;
}

void gui_fixture_remove_tree(const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d))) {
        char *p = g_build_filename(dir, name, NULL);
        if (g_file_test(p, G_FILE_TEST_IS_DIR))
            gui_fixture_remove_tree(p);
        else
            g_remove(p);
        g_free(p);
    }
    if (d)
        g_dir_close(d);
    g_rmdir(dir);
}
