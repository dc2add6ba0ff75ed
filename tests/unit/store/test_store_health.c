/* ps_store health: quick_check on a sound and on a really damaged file (garbage
 * written over a page with the store closed), damage reported as PS_ERR_CORRUPT by
 * every path, rebuilding a damaged file, the WAL watch, and the record of the
 * service's last configuration load.
 *
 * The same program builds the database of tests/cli/test_repair.sh:
 *   PS_STORE_HEALTH_FIXTURE=DB test_store_health   2,000 maillog events of device 1
 *                                                  and its resume state, closed */
#include "test_store_util.h"

/* Stores n maillog events of device 1 in one batch. */
static void populate(ps_store *st, int first, int n)
{
    ps_errmsg em;
    assert_int_equal(ps_store_begin(st, &em), PS_OK);
    for (int i = first; i < first + n; i++) {
        char id[32], qid[32], ts[40];
        char *raw;
        ps_event ev;
        bool dup = true;
        snprintf(id, sizeof id, "id%06d", i);
        snprintf(qid, sizeof qid, "Q%06d", i);
        snprintf(ts, sizeof ts, "2024-05-22T12:%02d:%02d.%06dZ", (i / 60) % 60, i % 60, i);
        raw = make_maillog(id, ts, qid, "alice@example.com", "bob@example.org", NULL, "Sent",
                           "2.0.0", "mx.example.org");
        event_from(&ev, PS_DATA_MAILLOG, raw, strlen(raw));
        if (ps_store_insert(st, 1, &ev, raw, strlen(raw), NULL, &dup, &em) != PS_OK)
            fail_msg("insert: %s", em.text);
        assert_false(dup);
        ps_event_deinit(&ev);
        free(raw);
    }
    assert_int_equal(ps_store_commit(st, &em), PS_OK);
}

/* A database of n events, closed (its WAL checkpointed into the file). */
static void make_db(const scratch *s, int n)
{
    ps_store *st = NULL;
    ps_errmsg em;
    if (ps_store_create(s->db, PS_STORE_WRITER, &st, &em) != PS_OK)
        fail_msg("open: %s", em.text);
    populate(st, 0, n);
    ps_store_destroy(st);
}

/* The number of a leaf page of table `name`, the `nth` one (dbstat). */
static long long leaf_page(const char *db, const char *name, int nth)
{
    sqlite3 *h = peek_open(db);
    char sql[200];
    long long page;
    snprintf(sql, sizeof sql,
             "SELECT pageno FROM dbstat WHERE name = '%s' AND pagetype = 'leaf' "
             "ORDER BY pageno LIMIT 1 OFFSET %d",
             name, nth);
    page = peek_int(h, sql);
    sqlite3_close(h);
    assert_true(page > 1);
    return page;
}

/* Writes garbage (or zeros) over page `page` (1-based) of the closed database. */
static void garble_page(const char *db, long long page, bool zero)
{
    sqlite3 *h = peek_open(db);
    long long size = peek_int(h, "PRAGMA page_size");
    FILE *f;
    unsigned char junk[65536];
    sqlite3_close(h);
    assert_true(size >= 512 && size <= (long long)sizeof junk);
    f = fopen(db, "r+b");
    assert_non_null(f);
    /* The whole buffer, not just `size` bytes: cppcheck cannot see the bound above. */
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = zero ? 0 : (unsigned char)(i * 37 + 11);
    assert_int_equal(fseek(f, (long)((page - 1) * size), SEEK_SET), 0);
    assert_int_equal(fwrite(junk, 1, (size_t)size, f), (size_t)size);
    assert_int_equal(fclose(f), 0);
}

static bool count_row(const ps_event_row *r, void *ctx)
{
    (void)r;
    (*(size_t *)ctx)++;
    return true;
}

static void test_quick_check_sound(void **state)
{
    scratch s;
    ps_store *st = NULL;
    ps_errmsg em;
    (void)state;
    scratch_make(&s);
    make_db(&s, 500);
    assert_int_equal(ps_store_create(s.db, PS_STORE_READER, &st, &em), PS_OK);
    assert_int_equal(ps_store_quick_check(st, &em), PS_OK);
    ps_store_destroy(st);
    assert_int_equal(ps_store_create(s.db, PS_STORE_WRITER, &st, &em), PS_OK);
    assert_int_equal(ps_store_quick_check(st, &em), PS_OK);
    ps_store_destroy(st);
    scratch_remove(&s);
}

static void test_quick_check_damaged_page(void **state)
{
    scratch s;
    ps_store *st = NULL;
    ps_errmsg em;
    ps_query q;
    size_t rows = 0;
    char prefix[400];
    (void)state;
    scratch_make(&s);
    make_db(&s, 2000);
    garble_page(s.db, leaf_page(s.db, "events", 3), false);
    /* The header and the schema are intact: the writer opens, and only the check
     * (or a read of that page) finds the damage. */
    if (ps_store_create(s.db, PS_STORE_WRITER, &st, &em) != PS_OK)
        fail_msg("open: %s", em.text);
    assert_int_equal(ps_store_quick_check(st, &em), PS_ERR_CORRUPT);
    snprintf(prefix, sizeof prefix, "%s: the database is damaged (", s.db);
    assert_memory_equal(em.text, prefix, strlen(prefix));
    assert_string_equal(ps_strerror(PS_ERR_CORRUPT), "database damaged");
    /* A read that reaches the page is PS_ERR_CORRUPT too: the writer must not retry it. */
    ps_query_init(&q);
    q.oldest_first = true;
    assert_int_equal(ps_store_query(st, &q, count_row, &rows, &em), PS_ERR_CORRUPT);
    ps_store_destroy(st);
    scratch_remove(&s);
}

/* A page of zeros: found by the check, with the store open as a reader. */
static void test_quick_check_zeroed_page(void **state)
{
    scratch s;
    ps_store *st = NULL;
    ps_errmsg em;
    char prefix[400];
    (void)state;
    scratch_make(&s);
    make_db(&s, 2000);
    garble_page(s.db, leaf_page(s.db, "events", 2), true);
    assert_int_equal(ps_store_create(s.db, PS_STORE_READER, &st, &em), PS_OK);
    assert_int_equal(ps_store_quick_check(st, &em), PS_ERR_CORRUPT);
    snprintf(prefix, sizeof prefix, "%s: the database is damaged (", s.db);
    assert_memory_equal(em.text, prefix, strlen(prefix));
    ps_store_destroy(st);
    scratch_remove(&s);
}

static void test_garbled_header_at_open(void **state)
{
    scratch s;
    ps_store *st = NULL;
    ps_errmsg em;
    (void)state;
    scratch_make(&s);
    make_db(&s, 10);
    garble_page(s.db, 1, false);
    /* At open it reads as the wrong file, as test_store_migrate has it. */
    assert_int_equal(ps_store_create(s.db, PS_STORE_WRITER, &st, &em), PS_ERR_DB);
    assert_null(st);
    assert_non_null(strstr(em.text, "file is not a database"));
    scratch_remove(&s);
}

/* ---- recovery ------------------------------------------------------------------------ */

static size_t count_events(const char *db)
{
    ps_store *st = NULL;
    ps_errmsg em;
    ps_query q;
    size_t rows = 0;
    if (ps_store_create(db, PS_STORE_READER, &st, &em) != PS_OK)
        fail_msg("open: %s", em.text);
    ps_query_init(&q);
    assert_int_equal(ps_store_query(st, &q, count_row, &rows, &em), PS_OK);
    assert_int_equal(ps_store_quick_check(st, &em), PS_OK);
    ps_store_destroy(st);
    return rows;
}

/* Two outputs: one behind the damaged page (id 10), one past it (id 1500). */
static void set_cursors(ps_store *st)
{
    static const char *const names[] = {"early", "late"}, *const types[] = {"file", "file"};
    ps_output_row none = {0};
    ps_errmsg em;
    assert_int_equal(ps_store_outputs_sync(st, names, types, 2, &em), PS_OK);
    assert_int_equal(ps_store_output_commit(st, "early", 10, &none, &em), PS_OK);
    assert_int_equal(ps_store_output_commit(st, "late", 1500, &none, &em), PS_OK);
}

/* Repair gives events new ids: each cursor must stand on the same event as before,
 * or an output would skip events or send them all again. */
static void check_cursors(const char *damaged, ps_store *fresh, const ps_store_recovery *r)
{
    ps_store *old = NULL;
    ps_errmsg em;
    int64_t early = 0, late = 0;
    char *a = NULL, *b = NULL;
    size_t alen, blen;
    assert_int_equal(ps_store_output_cursor(fresh, "early", &early, &em), PS_OK);
    assert_int_equal(ps_store_output_cursor(fresh, "late", &late, &em), PS_OK);
    assert_int_equal(early, 10);
    assert_int_equal(late, 1500 - (int64_t)r->events_lost);
    if (ps_store_create(damaged, PS_STORE_READER, &old, &em) != PS_OK)
        fail_msg("open: %s", em.text);
    assert_int_equal(ps_store_event_raw(old, 1500, &a, &alen, &em), PS_OK);
    assert_int_equal(ps_store_event_raw(fresh, late, &b, &blen, &em), PS_OK);
    assert_int_equal(alen, blen);
    assert_memory_equal(a, b, alen);
    free(a);
    free(b);
    ps_store_destroy(old);
}

/* A damaged page of events: what can be read is stored again, the rest counted,
 * and the device's resume state survives, unclean, with its repair window over
 * the lost stretch. */
static void recover_case(bool zero)
{
    scratch s;
    ps_store *st = NULL;
    ps_errmsg em;
    ps_store_recovery r;
    ps_resume_state rs = {.last_event_ts_us = 1716380000000000LL,
                          .last_healthy_us = 1716380000000000LL,
                          .clean_shutdown = true};
    char fresh[400];
    int64_t now = ps_plat_now_us();
    scratch_make(&s);
    snprintf(fresh, sizeof fresh, "%s/other.db", s.dir);
    if (ps_store_create(s.db, PS_STORE_WRITER, &st, &em) != PS_OK)
        fail_msg("open: %s", em.text);
    populate(st, 0, 2000);
    assert_int_equal(ps_store_resume_put(st, 1, PS_DATA_MAILLOG, &rs, &em), PS_OK);
    set_cursors(st);
    ps_store_destroy(st);
    garble_page(s.db, leaf_page(s.db, "events", 4), zero);

    if (ps_store_recover(s.db, fresh, now, &r, &em) != PS_OK)
        fail_msg("recover: %s", em.text);
    assert_int_equal(r.gaps, 1);
    assert_int_equal(r.tables_damaged, 0);
    assert_true(r.events_lost > 0 && r.events_lost < 200);
    assert_int_equal(r.events_saved + r.events_lost, 2000);
    assert_int_equal(r.rows_saved, 3); /* the resume row and the two outputs' rows */
    assert_int_equal(r.devices, 1);
    /* the events are from 12:00 to 12:33 on 2024-05-22 */
    assert_true(r.lost_from_us >= 1716379200000000LL && r.lost_from_us < r.lost_to_us);
    assert_true(r.lost_to_us < 1716381600000000LL);
    assert_int_equal(count_events(fresh), r.events_saved);

    if (ps_store_create(fresh, PS_STORE_WRITER, &st, &em) != PS_OK)
        fail_msg("open: %s", em.text);
    assert_int_equal(ps_store_resume_get(st, 1, PS_DATA_MAILLOG, &rs, &em), PS_OK);
    assert_false(rs.clean_shutdown);
    assert_true(rs.last_event_ts_us >= 1716380000000000LL);
    assert_true(rs.repair_from_us <= r.lost_from_us && rs.repair_to_us >= r.lost_to_us);
    check_cursors(s.db, st, &r);
    /* A second recovery refuses to overwrite. */
    assert_int_equal(ps_store_recover(s.db, fresh, now, &r, &em), PS_ERR_EXISTS);
    ps_store_destroy(st);
    scratch_remove(&s);
}

static void test_recover_zeroed_page(void **state)
{
    (void)state;
    recover_case(true);
}

static void test_recover_garbage_page(void **state)
{
    (void)state;
    recover_case(false);
}

/* ---- the WAL watch -------------------------------------------------------------------- */

static void test_wal_blocked_then_truncated(void **state)
{
    scratch s;
    ps_store *st = NULL, *rd = NULL;
    ps_errmsg em;
    ps_store_wal w;
    sqlite3 *reader;
    const uint64_t warn = 1024 * 1024; /* the new file alone is a few hundred KiB of WAL */
    (void)state;
    scratch_make(&s);
    if (ps_store_create(s.db, PS_STORE_WRITER, &st, &em) != PS_OK)
        fail_msg("open: %s", em.text);
    populate(st, 0, 10);
    /* Under the threshold: nothing to do. */
    assert_int_equal(ps_store_wal_check(st, warn, 1000, &w, &em), PS_OK);
    assert_true(w.wal_bytes > 0 && w.wal_bytes < warn);
    assert_false(w.blocked || w.truncated);
    assert_int_equal(w.warn_bytes, warn);

    /* A reader holds a snapshot while the writer goes on. */
    reader = peek_open(s.db);
    assert_int_equal(sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM events;", NULL, NULL, NULL),
                     SQLITE_OK);
    populate(st, 10, 3000);
    assert_int_equal(ps_store_wal_check(st, warn, 2000, &w, &em), PS_OK);
    assert_true(w.blocked);
    assert_false(w.truncated);
    assert_true(w.wal_bytes > warn);
    assert_int_equal(w.blocked_since_us, 2000);
    /* The episode goes on; its start stays. */
    assert_int_equal(ps_store_wal_check(st, warn, 3000, &w, &em), PS_OK);
    assert_true(w.blocked);
    assert_int_equal(w.blocked_since_us, 2000);
    /* What status sees, from another connection. */
    assert_int_equal(ps_store_create(s.db, PS_STORE_READER, &rd, &em), PS_OK);
    assert_int_equal(ps_store_wal_info(rd, &w, &em), PS_OK);
    assert_true(w.wal_bytes > warn);
    assert_int_equal(w.warn_bytes, warn);
    assert_int_equal(w.blocked_since_us, 2000);

    /* The reader goes: the next check truncates and ends the episode. */
    sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(reader);
    assert_int_equal(ps_store_wal_check(st, warn, 4000, &w, &em), PS_OK);
    assert_false(w.blocked);
    assert_true(w.truncated);
    assert_int_equal(w.blocked_since_us, 2000); /* the episode this ended */
    assert_true(w.wal_bytes < 64 * 1024);
    assert_int_equal(ps_store_wal_info(rd, &w, &em), PS_OK);
    assert_true(w.wal_bytes < 64 * 1024);
    assert_int_equal(w.blocked_since_us, 0);
    ps_store_destroy(rd);

    /* Over the threshold with no reader in the way: truncated at once. */
    populate(st, 5000, 3000);
    assert_int_equal(ps_store_wal_check(st, warn, 5000, &w, &em), PS_OK);
    assert_true(w.truncated);
    assert_int_equal(w.blocked_since_us, 0);
    ps_store_destroy(st);
    scratch_remove(&s);
}

/* ---- the record of the last configuration load ------------------------------------ */

/* Written by the writer inside a batch, read whole by a reader; a refused reload
 * keeps its reason until the next load replaces it. */
static void test_reload_record(void **state)
{
    scratch s;
    ps_store *st = NULL, *rd = NULL;
    ps_errmsg em;
    ps_reload_record r, rec;
    (void)state;
    scratch_make(&s);
    assert_int_equal(ps_store_create(s.db, PS_STORE_WRITER, &st, &em), PS_OK);
    assert_int_equal(ps_store_create(s.db, PS_STORE_READER, &rd, &em), PS_OK);
    assert_int_equal(ps_store_reload_get(rd, &rec, &em), PS_OK);
    assert_int_equal(rec.at_us, 0); /* never written */
    assert_int_equal(rec.generation, 0);
    /* A reader cannot write it. */
    assert_int_not_equal(ps_store_reload_put(rd, &rec, &em), PS_OK);

    memset(&r, 0, sizeof r);
    r.generation = 2;
    r.at_us = 5000;
    r.started_us = 1000;
    r.accepted = false;
    snprintf(r.reason, sizeof r.reason, "devices/10-a.yml:3:7: error: it's wrong");
    assert_int_equal(ps_store_begin(st, &em), PS_OK);
    assert_int_equal(ps_store_reload_put(st, &r, &em), PS_OK);
    assert_int_equal(ps_store_reload_get(rd, &rec, &em), PS_OK);
    assert_int_equal(rec.at_us, 0); /* not committed yet */
    assert_int_equal(ps_store_commit(st, &em), PS_OK);
    assert_int_equal(ps_store_reload_get(rd, &rec, &em), PS_OK);
    assert_int_equal(rec.generation, 2);
    assert_int_equal(rec.at_us, 5000);
    assert_int_equal(rec.started_us, 1000);
    assert_false(rec.accepted);
    assert_false(rec.at_start);
    assert_string_equal(rec.reason, "devices/10-a.yml:3:7: error: it's wrong");

    r.generation = 3;
    r.at_us = 6000;
    r.accepted = true;
    r.reason[0] = '\0';
    assert_int_equal(ps_store_reload_put(st, &r, &em), PS_OK); /* its own transaction */
    assert_int_equal(ps_store_reload_get(rd, &rec, &em), PS_OK);
    assert_int_equal(rec.generation, 3);
    assert_true(rec.accepted);
    assert_string_equal(rec.reason, "");
    ps_store_destroy(rd);
    ps_store_destroy(st);
    scratch_remove(&s);
}

/* A damaged page of another table: its readable rows are copied, the table is
 * counted as damaged, and no event is lost. */
static void test_recover_damaged_quarantine(void **state)
{
    scratch s;
    ps_store *st = NULL;
    ps_errmsg em;
    ps_store_recovery r;
    char fresh[400], payload[600];
    (void)state;
    scratch_make(&s);
    snprintf(fresh, sizeof fresh, "%s/other.db", s.dir);
    if (ps_store_create(s.db, PS_STORE_WRITER, &st, &em) != PS_OK)
        fail_msg("open: %s", em.text);
    populate(st, 0, 100);
    assert_int_equal(ps_store_begin(st, &em), PS_OK);
    for (int i = 0; i < 300; i++) {
        /* random-looking bytes, so that compression leaves each a few hundred bytes */
        for (size_t j = 0; j < sizeof payload - 1; j++)
            payload[j] = (char)('!' + (unsigned)(i * 131 + (int)j * 7919) % 90);
        payload[sizeof payload - 1] = '\0';
        assert_int_equal(
            ps_store_quarantine(st, 1, PS_DATA_MAILLOG, payload, strlen(payload), "not JSON", &em),
            PS_OK);
    }
    assert_int_equal(ps_store_commit(st, &em), PS_OK);
    ps_store_destroy(st);
    garble_page(s.db, leaf_page(s.db, "quarantine", 2), true);
    if (ps_store_recover(s.db, fresh, ps_plat_now_us(), &r, &em) != PS_OK)
        fail_msg("recover: %s", em.text);
    assert_int_equal(r.events_saved, 100);
    assert_int_equal(r.events_lost, 0);
    assert_int_equal(r.gaps, 0);
    assert_int_equal(r.tables_damaged, 1);
    assert_true(r.rows_saved > 200 && r.rows_saved < 300);
    assert_int_equal(r.lost_to_us, 0);
    scratch_remove(&s);
}

static int make_fixture(const char *db)
{
    ps_store *st = NULL;
    ps_errmsg em;
    ps_resume_state rs = {.last_event_ts_us = 1716381199000000LL,
                          .last_healthy_us = 1716381200000000LL,
                          .clean_shutdown = true};
    if (ps_store_create(db, PS_STORE_WRITER, &st, &em) != PS_OK) {
        fprintf(stderr, "%s\n", em.text);
        return 1;
    }
    populate(st, 0, 2000);
    if (ps_store_resume_put(st, 1, PS_DATA_MAILLOG, &rs, &em) != PS_OK) {
        fprintf(stderr, "%s\n", em.text);
        ps_store_destroy(st);
        return 1;
    }
    ps_store_destroy(st);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quick_check_sound),
        cmocka_unit_test(test_quick_check_damaged_page),
        cmocka_unit_test(test_quick_check_zeroed_page),
        cmocka_unit_test(test_garbled_header_at_open),
        cmocka_unit_test(test_recover_zeroed_page),
        cmocka_unit_test(test_recover_garbage_page),
        cmocka_unit_test(test_recover_damaged_quarantine),
        cmocka_unit_test(test_wal_blocked_then_truncated),
        cmocka_unit_test(test_reload_record),
    };
    const char *fixture = getenv("PS_STORE_HEALTH_FIXTURE");
    if (fixture && *fixture)
        return make_fixture(fixture);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
