/* ps_store chunk_devices: what the writer records per chunk and device (which ids,
 * their largest ts), and that a newest-first search that skips candidates by it
 * lists exactly what the SQL path lists, when devices diverge and an archive fill
 * lies in between, with and without the table's rows. */
#include <limits.h>

#include "test_store_util.h"

#define T0   1716372000000000LL /* 2024-05-22T10:00:00Z */
#define SEC  1000000LL
#define HOUR (3600 * SEC)

typedef store_pair fixture;

/* Stores a sendmail reception line from <from> at ts on device dev, in the open
 * batch, with key "<prefix>-<i>". */
static void put_line(fixture *f, long long dev, const char *prefix, int i, const char *from,
                     int64_t ts)
{
    ps_errmsg em;
    ps_event ev;
    bool dup = true;
    char key[64], when[40], qid[16], addr[80];
    char *raw;
    snprintf(key, sizeof key, "%s-%04d", prefix, i);
    snprintf(qid, sizeof qid, "QX%06d", i);
    snprintf(addr, sizeof addr, "<%s>", from);
    ps_time_format_iso(ts, when, sizeof when);
    raw = make_maillog(key, when, qid, addr, NULL, NULL, NULL, NULL, NULL);
    event_from(&ev, PS_DATA_MAILLOG, raw, strlen(raw));
    assert_int_equal(ps_store_insert(f->st, dev, &ev, raw, strlen(raw), NULL, &dup, &em), PS_OK);
    assert_false(dup);
    ps_event_deinit(&ev);
    free(raw);
}

/* Device 6 runs up to an hour ahead of device 7; device 7 also stores an archive
 * fill of an hour three hours back, half way through. One line in seven has the
 * word "rare"; every line has "example". */
static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    ps_errmsg em;
    const int64_t base = T0 + 10 * 86400 * SEC;
    scratch_make(&f->s);
    if (ps_store_create(f->s.db, PS_STORE_WRITER, &f->st, &em) != PS_OK ||
        ps_store_create(f->s.db, PS_STORE_READER, &f->rd, &em) != PS_OK)
        fail_msg("%s", em.text);
    assert_int_equal(ps_store_begin(f->st, &em), PS_OK);
    for (int i = 0; i < 3000; i++) {
        int64_t lead = HOUR * i / 3000;
        put_line(f, 6, "ahead", i, i % 7 ? "ahead@x.example" : "rare@x.example",
                 base + i * SEC + lead);
        put_line(f, 7, "behind", i, i % 7 == 3 ? "rare@y.example" : "behind@y.example",
                 base + i * SEC);
        if (i == 1500)
            for (int k = 0; k < 400; k++)
                put_line(f, 7, "fill", k, "behind@y.example", base - 3 * HOUR + k * 9 * SEC);
        if (i % 500 == 499) {
            assert_int_equal(ps_store_commit(f->st, &em), PS_OK);
            assert_int_equal(ps_store_begin(f->st, &em), PS_OK);
        }
    }
    assert_int_equal(ps_store_commit(f->st, &em), PS_OK);
    *state = f;
    return 0;
}

/* Every event's bit is set in its own device's row of its chunk, in no other row,
 * and each row's max_ts is the largest ts of its device's events in the chunk. */
static void test_written_per_chunk_and_device(void **state)
{
    fixture *f = *state;
    sqlite3 *db = peek_open(f->s.db);
    sqlite3_stmt *s = NULL;
    long long rows = 0;
    assert_int_equal(peek_int(db, "SELECT count(*) FROM (SELECT id >> 10, device_id FROM events "
                                  "GROUP BY 1, 2)"),
                     peek_int(db, "SELECT count(*) FROM chunk_devices"));
    assert_int_equal(peek_int(db, "SELECT count(*) FROM (SELECT id >> 10 AS c, device_id AS d, "
                                  "max(ts_us) AS m FROM events GROUP BY 1, 2) JOIN chunk_devices "
                                  "ON chunk = c AND device_id = d AND max_ts = m"),
                     peek_int(db, "SELECT count(*) FROM chunk_devices"));
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT e.id, e.device_id, c.device_id, c.ids FROM events "
                                        "e JOIN chunk_devices c ON c.chunk = e.id >> 10",
                                        -1, &s, NULL),
                     SQLITE_OK);
    while (sqlite3_step(s) == SQLITE_ROW) {
        long long id = sqlite3_column_int64(s, 0) & 1023;
        const unsigned char *b = sqlite3_column_blob(s, 3);
        bool set;
        assert_int_equal(sqlite3_column_bytes(s, 3), 128);
        set = (b[id / 8] >> (id % 8)) & 1;
        assert_int_equal(set, sqlite3_column_int64(s, 1) == sqlite3_column_int64(s, 2));
        rows++;
    }
    sqlite3_finalize(s);
    /* 6,400 events, each joined to the rows of both devices in its chunk */
    assert_true(rows >= 6400);
    sqlite3_close(db);
}

/* The newest `limit` rows through the full-text walk and through the SQL path
 * (no limit, so the plain ORDER BY), for one word, device and time range. */
static void assert_same(fixture *f, const char *word, long long dev, int64_t since, size_t limit)
{
    ps_errmsg em;
    got a, b;
    ps_query q;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    ps_query_init(&q);
    q.search = word;
    q.device_id = dev;
    q.since_us = since;
    q.limit = limit;
    assert_int_equal(ps_store_query(f->rd, &q, got_row, &a, &em), PS_OK);
    q.limit = 0;
    assert_int_equal(ps_store_query(f->rd, &q, got_row, &b, &em), PS_OK);
    assert_true(b.n > 0);
    assert_int_equal(a.n, limit < b.n ? limit : b.n);
    for (size_t i = 0; i < a.n; i++) {
        assert_int_equal(a.id[i], b.id[i]);
        assert_string_equal(a.key[i], b.key[i]);
    }
}

static void assert_all_same(fixture *f)
{
    static const char *const words[] = {"example", "rare", "behind", "ahead"};
    static const long long devs[] = {-1, 6, 7};
    const int64_t base = T0 + 10 * 86400 * SEC;
    for (size_t w = 0; w < sizeof words / sizeof words[0]; w++)
        for (size_t d = 0; d < sizeof devs / sizeof devs[0]; d++)
            for (size_t limit = 1; limit <= 201; limit += 100) {
                if ((w == 2 && devs[d] == 6) || (w == 3 && devs[d] == 7))
                    continue; /* no such rows */
                assert_same(f, words[w], devs[d], INT64_MIN, limit);
                assert_same(f, words[w], devs[d], base + HOUR / 2, limit);
            }
}

static void test_search_same_as_sql(void **state)
{
    assert_all_same(*state);
}

/* A database upgraded from before schema 6 has no rows for what it held: those
 * candidates are read as before, with the same result. */
static void test_search_same_without_rows(void **state)
{
    fixture *f = *state;
    sqlite3 *db = peek_open(f->s.db);
    assert_int_equal(
        sqlite3_exec(db, "DELETE FROM chunk_devices WHERE chunk % 2 = 0", NULL, NULL, NULL),
        SQLITE_OK);
    assert_all_same(f);
    assert_int_equal(sqlite3_exec(db, "DELETE FROM chunk_devices", NULL, NULL, NULL), SQLITE_OK);
    assert_all_same(f);
    sqlite3_close(db);
}

/* The walk believes the table: when every id is claimed by device 7 alone, a search
 * on device 6 reads no candidate at all. (What shows that the rows are used; the
 * writer never records such a thing.) */
static void test_walk_skips_by_device(void **state)
{
    fixture *f = *state;
    sqlite3 *db = peek_open(f->s.db);
    ps_errmsg em;
    got g;
    ps_query q;
    assert_int_equal(sqlite3_exec(db,
                                  "UPDATE chunk_devices SET ids = zeroblob(128) WHERE device_id = "
                                  "6; UPDATE chunk_devices SET ids = x'" /* all ones */
                                  "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
                                  "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
                                  "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
                                  "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
                                  "' WHERE device_id = 7",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    memset(&g, 0, sizeof g);
    ps_query_init(&q);
    q.search = "example";
    q.device_id = 6;
    q.limit = 10;
    assert_int_equal(ps_store_query(f->rd, &q, got_row, &g, &em), PS_OK);
    assert_int_equal(g.n, 0);
    sqlite3_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_written_per_chunk_and_device, setup,
                                        store_pair_teardown),
        cmocka_unit_test_setup_teardown(test_search_same_as_sql, setup, store_pair_teardown),
        cmocka_unit_test_setup_teardown(test_search_same_without_rows, setup, store_pair_teardown),
        cmocka_unit_test_setup_teardown(test_walk_skips_by_device, setup, store_pair_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
