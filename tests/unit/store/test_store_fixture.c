/* Every shared sample event (tests/data/samples) stored and found again by each of
 * its typed values, through the same filters `podstream query` uses.
 *
 * The same program builds the database of tests/cli/test_query.sh:
 *   PS_STORE_FIXTURE=DB test_store_fixture          create DB with the samples, a
 *                                                    traced mail and device counters
 *   PS_STORE_FIXTURE=DB PS_STORE_FIXTURE_ADD=KEY ... append one maillog event KEY
 *                                                    (for --follow) */
#include <time.h>

#include "test_store_util.h"

/* Recipients in the typed column are joined with ", ". */
static size_t split_rcpts(const char *list, char out[][256], size_t max)
{
    size_t n = 0;
    while (list && *list && n < max) {
        const char *sep = strstr(list, ", ");
        size_t len = sep ? (size_t)(sep - list) : strlen(list);
        snprintf(out[n++], 256, "%.*s", (int)len, list);
        list += len + (sep ? 2 : 0);
    }
    return n;
}

static bool finds(ps_store *rd, ps_query *q, const char *key)
{
    got g;
    ps_errmsg em;
    memset(&g, 0, sizeof g);
    q->limit = 0;
    if (ps_store_query(rd, q, got_row, &g, &em) != PS_OK)
        fail_msg("query for %s: %s", key, em.text);
    for (size_t i = 0; i < g.n; i++)
        if (strcmp(g.key[i], key) == 0)
            return true;
    return false;
}

static void check_samples(const char *file, ps_data_type type)
{
    scratch s;
    ps_store *st = NULL, *rd = NULL;
    ps_errmsg em;
    lines l;
    size_t checked = 0;
    scratch_make(&s);
    lines_load(&l, file);
    assert_true(l.n >= 5);
    assert_int_equal(ps_store_create(s.db, PS_STORE_WRITER, &st, &em), PS_OK);
    for (size_t i = 0; i < l.n; i++)
        assert_false(store_one(st, 1, type, l.v[i]));
    assert_int_equal(ps_store_create(s.db, PS_STORE_READER, &rd, &em), PS_OK);
    for (size_t i = 0; i < l.n; i++) {
        ps_event ev;
        ps_query q;
        char rc[64][256];
        size_t nrc;
        event_from(&ev, type, l.v[i], l.len[i]);
        ps_query_init(&q);
        q.key = ev.key;
        if (!finds(rd, &q, ev.key))
            fail_msg("%s line %zu: not found by its key %s", file, i + 1, ev.key);
        if (ev.text[PS_EF_SENDER] && *ev.text[PS_EF_SENDER]) {
            ps_query_init(&q);
            q.from = ev.text[PS_EF_SENDER];
            if (!finds(rd, &q, ev.key))
                fail_msg("%s line %zu: not found by --from %s", file, i + 1, ev.text[PS_EF_SENDER]);
            checked++;
        }
        nrc = split_rcpts(ev.text[PS_EF_RECIPIENTS], rc, 64);
        for (size_t k = 0; k < nrc; k++) {
            ps_query_init(&q);
            q.to = rc[k];
            if (!finds(rd, &q, ev.key))
                fail_msg("%s line %zu: not found by --to %s", file, i + 1, rc[k]);
            checked++;
        }
        if (ev.text[PS_EF_QID]) {
            ps_query_init(&q);
            q.qid = ev.text[PS_EF_QID];
            if (!finds(rd, &q, ev.key))
                fail_msg("%s line %zu: not found by --qid %s", file, i + 1, ev.text[PS_EF_QID]);
            checked++;
        }
        if (ev.text[PS_EF_MESSAGE_ID]) {
            ps_query_init(&q);
            q.message_id = ev.text[PS_EF_MESSAGE_ID];
            if (!finds(rd, &q, ev.key))
                fail_msg("%s line %zu: not found by --message-id %s", file, i + 1,
                         ev.text[PS_EF_MESSAGE_ID]);
            checked++;
        }
        if (ev.text[PS_EF_SUBJECT] && *ev.text[PS_EF_SUBJECT]) {
            ps_query_init(&q);
            q.subject = ev.text[PS_EF_SUBJECT];
            if (!finds(rd, &q, ev.key))
                fail_msg("%s line %zu: not found by --subject '%s'", file, i + 1,
                         ev.text[PS_EF_SUBJECT]);
            checked++;
        }
        if (ev.text[PS_EF_DISPOSITION]) {
            ps_query_init(&q);
            q.disposition = ev.text[PS_EF_DISPOSITION];
            if (!finds(rd, &q, ev.key))
                fail_msg("%s line %zu: not found by --disposition %s", file, i + 1,
                         ev.text[PS_EF_DISPOSITION]);
            checked++;
        }
        /* Every word-indexed field finds its event through --search. */
        for (int f = 0; f < PS_EF__COUNT; f++) {
            char *words;
            if (f == PS_EF_QID || f == PS_EF_MESSAGE_ID || !ev.text[f] || !*ev.text[f])
                continue;
            words = strdup(ev.text[f]);
            /* --search takes words: spaces separate them. */
            ps_query_init(&q);
            q.search = words;
            q.limit = 0;
            {
                got g;
                ps_err err;
                memset(&g, 0, sizeof g);
                err = ps_store_query(rd, &q, got_row, &g, &em);
                if (err == PS_ERR_INVALID) {
                    free(words); /* a value without letters or digits, e.g. "**" */
                    continue;
                }
                assert_int_equal(err, PS_OK);
                if (!finds(rd, &q, ev.key))
                    fail_msg("%s line %zu: not found by --search '%s' (%s)", file, i + 1, words,
                             ps_event_field_name((ps_event_field)f));
            }
            free(words);
            checked++;
        }
        ps_event_deinit(&ev);
    }
    assert_true(checked >= 20);
    ps_store_destroy(rd);
    ps_store_destroy(st);
    lines_free(&l);
    scratch_remove(&s);
}

static void test_message_samples(void **state)
{
    (void)state;
    check_samples("message.jsonl", PS_DATA_MESSAGE);
}

static void test_maillog_samples(void **state)
{
    (void)state;
    check_samples("maillog.jsonl", PS_DATA_MAILLOG);
}

/* ---- the CLI test database --------------------------------------------------------- */

static int die(const char *what, const ps_errmsg *em)
{
    fprintf(stderr, "test_store_fixture: %s: %s\n", what, em ? em->text : "");
    return 1;
}

static int store_raw(ps_store *st, long long device, ps_data_type type, const char *raw)
{
    ps_event ev;
    ps_errmsg em;
    bool dup;
    ps_event_init(&ev);
    if (ps_event_parse(&ev, type, raw, strlen(raw), &em) != PS_OK ||
        ps_event_extract(&ev, &em) != PS_OK || ps_store_begin(st, &em) != PS_OK ||
        ps_store_insert(st, device, &ev, raw, strlen(raw), "[\"hq\"]", &dup, &em) != PS_OK ||
        ps_store_commit(st, &em) != PS_OK) {
        ps_event_deinit(&ev);
        return die("storing an event", &em);
    }
    ps_event_deinit(&ev);
    return 0;
}

static int make_fixture(const char *path)
{
    ps_store *st = NULL;
    ps_errmsg em;
    lines msg, ml;
    ps_device_counters c;
    int64_t now = ps_plat_now_us();
    char when[40];
    char *m, *a, *b, *d;
    int rc = 0;
    if (ps_store_create(path, PS_STORE_WRITER, &st, &em) != PS_OK)
        return die(path, &em);
    lines_load(&msg, "message.jsonl");
    lines_load(&ml, "maillog.jsonl");
    for (size_t i = 0; i < msg.n && rc == 0; i++)
        rc = store_raw(st, 1, PS_DATA_MESSAGE, msg.v[i]);
    for (size_t i = 0; i < ml.n && rc == 0; i++)
        rc = store_raw(st, 2, PS_DATA_MAILLOG, ml.v[i]);
    /* One mail from reception to delivery, with a deferral on the way. */
    m = make_message("trace-guid-0001", "2024-06-01T08:00:00.000100Z", "4Vt2Xq0001",
                     "<order-77@shop.example>", "orders@shop.example", "ann@corp.example",
                     "Your order 77, shipped", "accept");
    a = make_maillog("trace-ml-a", "2024-06-01T08:00:00.500000Z", "4Vt2Xq0001",
                     "<orders@shop.example>", NULL, "<order-77@shop.example>", NULL, NULL, NULL);
    b = make_maillog("trace-ml-b", "2024-06-01T08:00:02Z", "4Vt2Xq0001", NULL, "<ann@corp.example>",
                     NULL, "Deferred: 421 try later", "4.2.0", "mx1.corp.example. [192.0.2.25]");
    d = make_maillog("trace-ml-c", "2024-06-01T08:15:02Z", "4Vt2Xq0001", NULL, "<ann@corp.example>",
                     NULL, "Sent (Ok: queued as 9F1)", "2.0.0", "mx1.corp.example. [192.0.2.25]");
    if (rc == 0)
        rc = store_raw(st, 1, PS_DATA_MESSAGE, m);
    if (rc == 0)
        rc = store_raw(st, 2, PS_DATA_MAILLOG, d);
    if (rc == 0)
        rc = store_raw(st, 2, PS_DATA_MAILLOG, a);
    if (rc == 0)
        rc = store_raw(st, 2, PS_DATA_MAILLOG, b);
    free(m);
    free(a);
    free(b);
    free(d);
    /* Two recent events, for the hourly counts of `status`. */
    ps_time_format_iso(now - 90LL * 60 * 1000000, when, sizeof when);
    m = make_maillog("recent-1", when, "4RECENT001", NULL, "<ann@corp.example>", NULL, "Sent",
                     "2.0.0", "mx1.corp.example.");
    if (rc == 0)
        rc = store_raw(st, 2, PS_DATA_MAILLOG, m);
    free(m);
    ps_time_format_iso(now - 30LL * 60 * 1000000, when, sizeof when);
    m = make_maillog("recent-2", when, "4RECENT002", NULL, "<bob@corp.example>", NULL, "Sent",
                     "2.0.0", "mx1.corp.example.");
    if (rc == 0)
        rc = store_raw(st, 2, PS_DATA_MAILLOG, m);
    free(m);
    memset(&c, 0, sizeof c);
    c.device_id = 1;
    snprintf(c.name, sizeof c.name, "pod-message");
    c.type = PS_DATA_MESSAGE;
    c.state = PS_STATE_LIVE;
    c.events_total = 6;
    c.rate_10s = 0.5;
    c.rate_1m = 0.1;
    c.last_event_ts_us = now - 2000000;
    c.lag_ms = 2000;
    c.updated_us = now;
    if (rc == 0 && ps_store_counters_put(st, &c, &em) != PS_OK)
        rc = die("counters", &em);
    c.device_id = 2;
    snprintf(c.name, sizeof c.name, "pod-maillog");
    c.type = PS_DATA_MAILLOG;
    c.state = PS_STATE_BACKOFF;
    c.events_total = 11;
    c.reconnects = 4;
    c.empty_frames = 9;
    c.duplicates = 2;
    snprintf(c.last_error, sizeof c.last_error, "HTTP 409: token in use by another session");
    c.last_error_us = now - 3600LL * 1000000;
    c.updated_us = now - 3600LL * 1000000;
    if (rc == 0 && ps_store_counters_put(st, &c, &em) != PS_OK)
        rc = die("counters", &em);
    lines_free(&msg);
    lines_free(&ml);
    ps_store_destroy(st);
    return rc;
}

static int add_event(const char *path, const char *key)
{
    ps_store *st = NULL;
    ps_errmsg em;
    char when[40];
    char *raw;
    int rc;
    if (ps_store_create(path, PS_STORE_WRITER, &st, &em) != PS_OK)
        return die(path, &em);
    ps_time_format_iso(ps_plat_now_us(), when, sizeof when);
    raw = make_maillog(key, when, "4FOLLOW001", NULL, "<follow@corp.example>", NULL, "Sent",
                       "2.0.0", "mx1.corp.example.");
    rc = store_raw(st, 2, PS_DATA_MAILLOG, raw);
    free(raw);
    ps_store_destroy(st);
    return rc;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_message_samples),
        cmocka_unit_test(test_maillog_samples),
    };
    const char *fixture = getenv("PS_STORE_FIXTURE");
    if (fixture && *fixture) {
        const char *add = getenv("PS_STORE_FIXTURE_ADD");
        return add && *add ? add_event(fixture, add) : make_fixture(fixture);
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
