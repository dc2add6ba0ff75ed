/* ps_store retention: by age and by size, in bounded steps; the full-text index
 * forgets what is deleted; hourly counts, quarantine and dictionary use follow;
 * the file gives space back. */
#include "test_store_util.h"

#define DAY_US (86400LL * 1000000LL)
#define T0     1716336000000000LL /* 2024-05-22T00:00:00Z */

/* n maillog events, one every `step_us` from `start_us`, a delivered line every
 * second one; message events in between carry a subject. */
static void fill(ps_store *st, int n, int64_t start_us, int64_t step_us, const char *tag)
{
    ps_errmsg em;
    char raw[1024], when[40];
    assert_int_equal(ps_store_begin(st, &em), PS_OK);
    for (int i = 0; i < n; i++) {
        ps_event ev;
        bool dup = true;
        ps_data_type type = i % 3 == 0 ? PS_DATA_MESSAGE : PS_DATA_MAILLOG;
        ps_time_format_iso(start_us + (int64_t)i * step_us, when, sizeof when);
        if (type == PS_DATA_MESSAGE)
            snprintf(
                raw, sizeof raw,
                "{\"guid\":\"%s-%05d\",\"ts\":\"%s\",\"envelope\":{\"from\":\"s%d@example.com\","
                "\"rcpts\":[\"r%d@corp.example\"]},\"filter\":{\"qid\":\"Q%s%05d\","
                "\"disposition\":\"accept\"},\"msg\":{\"header\":{\"subject\":[\"weekly "
                "report %d\"]}}}",
                tag, i, when, i % 50, i % 20, tag, i, i);
        else
            snprintf(raw, sizeof raw,
                     "{\"id\":\"%s-%05d\",\"ts\":\"%s\",\"sm\":{\"qid\":\"Q%s%05d\",\"to\":[\"<r%d@"
                     "corp.example>\"],\"stat\":\"%s\",\"dsn\":\"2.0.0\",\"relay\":\"mx%d.corp."
                     "example.\"}}",
                     tag, i, when, tag, i / 3 * 3, i % 20, i % 2 ? "Sent (ok)" : "Deferred", i % 4);
        event_from(&ev, type, raw, strlen(raw));
        assert_int_equal(ps_store_insert(st, type == PS_DATA_MESSAGE ? 1 : 2, &ev, raw, strlen(raw),
                                         NULL, &dup, &em),
                         PS_OK);
        assert_false(dup);
        ps_event_deinit(&ev);
        if (i % 400 == 399) {
            assert_int_equal(ps_store_commit(st, &em), PS_OK);
            assert_int_equal(ps_store_begin(st, &em), PS_OK);
        }
    }
    assert_int_equal(ps_store_commit(st, &em), PS_OK);
}

/* The full-text index holds exactly the stored events: a word's count in the
 * index equals the rows that have it. */
static void check_index_matches(const char *db_path)
{
    sqlite3 *db = peek_open(db_path);
    long long fts_sent, rows_sent, fts_report, rows_report;
    fts_sent = peek_int(db, "SELECT count(*) FROM events_fts WHERE events_fts MATCH 'sent'");
    rows_sent = peek_int(db, "SELECT count(*) FROM events WHERE stat = 'Sent (ok)'");
    fts_report = peek_int(db, "SELECT count(*) FROM events_fts WHERE events_fts MATCH 'report'");
    rows_report = peek_int(db, "SELECT count(*) FROM events WHERE subject LIKE 'weekly report%'");
    assert_int_equal(fts_sent, rows_sent);
    assert_int_equal(fts_report, rows_report);
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO events_fts(events_fts, rank) "
                                  "VALUES('integrity-check', 0)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    /* Every dictionary knows how many rows use it. */
    assert_int_equal(peek_int(db, "SELECT count(*) FROM dicts d WHERE refs != (SELECT count(*) "
                                  "FROM events e WHERE e.dict_id = d.id)"),
                     0);
    sqlite3_close(db);
}

static void test_age(void **state)
{
    scratch s;
    ps_store *st = NULL, *rd = NULL;
    ps_errmsg em;
    ps_retention_policy p = {5, 0};
    ps_retention_result r;
    sqlite3 *db;
    int steps = 0;
    uint64_t deleted = 0;
    const int64_t now = T0 + 10 * DAY_US;
    (void)state;
    scratch_make(&s);
    assert_int_equal(ps_store_create(s.db, PS_STORE_WRITER, &st, &em), PS_OK);
    ps_store_set_training(st, 200, 400, 0, true);
    /* 2,400 events over 10 days: one every 6 minutes. */
    fill(st, 2400, T0, 360LL * 1000000LL, "a");
    assert_int_equal(ps_store_begin(st, &em), PS_OK);
    assert_int_equal(ps_store_quarantine(st, 1, PS_DATA_MESSAGE, "x", 1, "not JSON", &em), PS_OK);
    assert_int_equal(ps_store_commit(st, &em), PS_OK);
    /* Bounded steps: never more than the budget, `more` until done. */
    do {
        assert_int_equal(ps_store_retention_step(st, now, &p, 500, &r, &em), PS_OK);
        assert_true(r.deleted_age <= 500);
        assert_int_equal(r.deleted_size, 0);
        deleted += r.deleted_age;
        steps++;
    } while (r.more && steps < 20);
    assert_false(r.more);
    /* Events before now - 5 days: the first 1,200. */
    assert_int_equal(deleted, 1200);
    assert_int_equal(steps, 3); /* 500 + 500 + 200 */
    check_index_matches(s.db);
    db = peek_open(s.db);
    assert_int_equal(peek_int(db, "SELECT count(*) FROM events"), 1200);
    assert_int_equal(peek_int(db, "SELECT min(ts_us) FROM events"), T0 + 5 * DAY_US);
    {
        char sql[160];
        /* Hourly counts older than the cutoff's hour are gone, later ones stay. */
        snprintf(sql, sizeof sql, "SELECT count(*) FROM hourly WHERE hour_us < %lld",
                 (long long)(now - 5 * DAY_US - 3600000000LL));
        assert_int_equal(peek_int(db, sql), 0);
        assert_int_equal(peek_int(db, "SELECT sum(events) FROM hourly"), 1200 + 10);
    }
    /* The quarantined payload was received now, so it stays. */
    assert_int_equal(peek_int(db, "SELECT count(*) FROM quarantine"), 1);
    sqlite3_close(db);
    /* A reader finds what is left and not what is gone. */
    assert_int_equal(ps_store_create(s.db, PS_STORE_READER, &rd, &em), PS_OK);
    {
        ps_query q;
        got g;
        memset(&g, 0, sizeof g);
        ps_query_init(&q);
        q.qid = "Qa00003";
        assert_int_equal(ps_store_query(rd, &q, got_row, &g, &em), PS_OK);
        assert_int_equal(g.n, 0);
        ps_query_init(&q);
        q.qid = "Qa02385";
        assert_int_equal(ps_store_query(rd, &q, got_row, &g, &em), PS_OK);
        assert_int_equal(g.n, 3);
    }
    ps_store_destroy(rd);
    /* Deleted events can come back (a re-fetched archive) and go again. */
    fill(st, 30, T0, 360LL * 1000000LL, "a");
    check_index_matches(s.db);
    assert_int_equal(ps_store_retention_step(st, now, &p, 500, &r, &em), PS_OK);
    assert_int_equal(r.deleted_age, 30);
    check_index_matches(s.db);
    ps_store_destroy(st);
    scratch_remove(&s);
}

static void test_size(void **state)
{
    scratch s;
    ps_store *st = NULL;
    ps_errmsg em;
    ps_store_size before, after;
    ps_retention_policy p = {0, 0};
    ps_retention_result r;
    sqlite3 *db;
    int steps = 0;
    long long left, oldest_left;
    (void)state;
    scratch_make(&s);
    assert_int_equal(ps_store_create(s.db, PS_STORE_WRITER, &st, &em), PS_OK);
    fill(st, 6000, T0, 1000000LL, "b");
    assert_int_equal(ps_store_size_get(st, true, &before, &em), PS_OK);
    assert_int_equal(before.events, 6000);
    p.max_bytes = before.used_bytes / 2;
    do {
        assert_int_equal(ps_store_retention_step(st, T0, &p, 300, &r, &em), PS_OK);
        assert_int_equal(r.deleted_age, 0);
        assert_true(r.deleted_size <= 300);
        steps++;
    } while (r.more && steps < 100);
    assert_false(r.more);
    assert_int_equal(ps_store_size_get(st, true, &after, &em), PS_OK);
    assert_true(after.used_bytes <= p.max_bytes);
    /* The file itself shrank: free pages went back to the file system. */
    assert_true(after.file_bytes < before.file_bytes);
    assert_true(after.file_bytes - after.used_bytes < 64 * 4096);
    /* Oldest first: what is left is one contiguous newest stretch. */
    db = peek_open(s.db);
    left = peek_int(db, "SELECT count(*) FROM events");
    oldest_left = peek_int(db, "SELECT min(ts_us) FROM events");
    assert_true(left > 1000 && left < 6000);
    assert_int_equal(oldest_left, T0 + (6000 - left) * 1000000LL);
    sqlite3_close(db);
    check_index_matches(s.db);
    ps_store_destroy(st);
    scratch_remove(&s);
}

static void test_refusals(void **state)
{
    scratch s;
    ps_store *st = NULL, *rd = NULL;
    ps_errmsg em;
    ps_retention_policy p = {1, 0};
    ps_retention_result r;
    (void)state;
    scratch_make(&s);
    assert_int_equal(ps_store_create(s.db, PS_STORE_WRITER, &st, &em), PS_OK);
    fill(st, 10, T0, 1000000LL, "c");
    assert_int_equal(ps_store_begin(st, &em), PS_OK);
    assert_int_equal(ps_store_retention_step(st, T0 + 5 * DAY_US, &p, 100, &r, &em),
                     PS_ERR_INTERNAL);
    assert_string_equal(em.text, "retention inside a batch");
    assert_int_equal(ps_store_rollback(st), PS_OK);
    assert_int_equal(ps_store_create(s.db, PS_STORE_READER, &rd, &em), PS_OK);
    assert_int_equal(ps_store_retention_step(rd, T0 + 5 * DAY_US, &p, 100, &r, &em),
                     PS_ERR_INTERNAL);
    assert_string_equal(em.text, "retention on a read-only store");
    ps_store_destroy(rd);
    /* No policy: nothing to do, nothing done. */
    p.days = 0;
    assert_int_equal(ps_store_retention_step(st, T0 + 5 * DAY_US, &p, 100, &r, &em), PS_OK);
    assert_int_equal(r.deleted_age + r.deleted_size, 0);
    assert_false(r.more);
    ps_store_destroy(st);
    scratch_remove(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_age),
        cmocka_unit_test(test_size),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
