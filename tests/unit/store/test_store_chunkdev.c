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

/* A message event from <from> at ts on device dev with this disposition and subject,
 * in the open batch, with key "<prefix>-m<i>". */
static void put_message(fixture *f, long long dev, const char *prefix, int i, const char *from,
                        const char *subject, const char *disposition, int64_t ts)
{
    ps_errmsg em;
    ps_event ev;
    bool dup = true;
    char key[64], when[40], qid[16];
    char *raw;
    snprintf(key, sizeof key, "%s-m%04d", prefix, i);
    snprintf(qid, sizeof qid, "QM%06d", i);
    ps_time_format_iso(ts, when, sizeof when);
    raw = make_message(key, when, qid, key, from, "inbox@z.example", subject, disposition);
    event_from(&ev, PS_DATA_MESSAGE, raw, strlen(raw));
    assert_int_equal(ps_store_insert(f->st, dev, &ev, raw, strlen(raw), NULL, &dup, &em), PS_OK);
    assert_false(dup);
    ps_event_deinit(&ev);
    free(raw);
}

static const char *const dispositions[] = {"discard", "continue", "Discard", "reject", "continue"};

/* Iterations [from, to) of the fixture's events, in batches of 500 iterations. */
static void store_events(fixture *f, int from, int to)
{
    ps_errmsg em;
    const int64_t base = T0 + 10 * 86400 * SEC;
    assert_int_equal(ps_store_begin(f->st, &em), PS_OK);
    for (int i = from; i < to; i++) {
        int64_t lead = HOUR * i / 3000;
        put_line(f, 6, "ahead", i, i % 7 ? "ahead@x.example" : "rare@x.example",
                 base + i * SEC + lead);
        put_line(f, 7, "behind", i, i % 7 == 3 ? "rare@y.example" : "behind@y.example",
                 base + i * SEC);
        if (i % 4 == 1)
            put_message(f, 7, "behind", i, "behind@y.example",
                        i % 3 ? "please discard the old copy" : "quarterly figures",
                        dispositions[(i / 4) % 5], base + i * SEC);
        if (i % 6 == 2)
            put_message(f, 6, "ahead", i, "ahead@x.example", "weekly news",
                        dispositions[(i / 6) % 5], base + i * SEC + lead);
        if (i == 1500)
            for (int k = 0; k < 400; k++)
                put_line(f, 7, "fill", k, "behind@y.example", base - 3 * HOUR + k * 9 * SEC);
        if (i % 500 == 499) {
            assert_int_equal(ps_store_commit(f->st, &em), PS_OK);
            assert_int_equal(ps_store_begin(f->st, &em), PS_OK);
        }
    }
    assert_int_equal(ps_store_commit(f->st, &em), PS_OK);
}

/* Device 6 runs up to an hour ahead of device 7; device 7 also stores an archive
 * fill of an hour three hours back, half way through. One line in seven has the
 * word "rare"; every line has "example". Both devices also store message events
 * with several dispositions, some of them with "discard" in the subject. */
static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    scratch_make(&f->s);
    store_pair_open(f);
    store_events(f, 0, 3000);
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
    /* 6,400 lines and the messages, each joined to the rows of both devices in its chunk */
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

/* Runs check after deleting the chunk_devices rows where `half` holds, then after
 * deleting them all. */
static void without_rows(fixture *f, const char *half, void (*check)(fixture *))
{
    sqlite3 *db = peek_open(f->s.db);
    char sql[128];
    snprintf(sql, sizeof sql, "DELETE FROM chunk_devices WHERE %s", half);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    check(f);
    assert_int_equal(sqlite3_exec(db, "DELETE FROM chunk_devices", NULL, NULL, NULL), SQLITE_OK);
    check(f);
    sqlite3_close(db);
}

/* A database upgraded from before schema 6 has no rows for what it held: those
 * candidates are read as before, with the same result. */
static void test_search_same_without_rows(void **state)
{
    without_rows(*state, "chunk % 2 = 0", assert_all_same);
}

/* Makes chunk_devices say that every id is device 7's and none device 6's. */
static void claim_all_for_7(sqlite3 *db)
{
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
    claim_all_for_7(db);
    memset(&g, 0, sizeof g);
    ps_query_init(&q);
    q.search = "example";
    q.device_id = 6;
    q.limit = 10;
    assert_int_equal(ps_store_query(f->rd, &q, got_row, &g, &em), PS_OK);
    assert_int_equal(g.n, 0);
    sqlite3_close(db);
}

/* The reference of a typed filter: the rows of the same query without it, in the
 * same order, that have this disposition (ASCII case aside, as SQLite's NOCASE). */
typedef struct disp_ref {
    const char *want;
    got g;
} disp_ref;

static bool same_ascii_case(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a >= 'A' && *a <= 'Z' ? (char)(*a - 'A' + 'a') : *a;
        char y = *b >= 'A' && *b <= 'Z' ? (char)(*b - 'A' + 'a') : *b;
        if (x != y)
            return false;
    }
    return *a == *b;
}

static bool disp_row(const ps_event_row *r, void *ctx)
{
    disp_ref *d = ctx;
    const char *v = r->text[PS_EF_DISPOSITION];
    if (v && same_ascii_case(v, d->want))
        got_row(r, &d->g);
    return true;
}

/* q with q->disposition set, limited, against the same query without the disposition
 * and without a limit, filtered here. */
static void assert_disp_same(fixture *f, const ps_query *q)
{
    ps_errmsg em;
    got a;
    disp_ref ref;
    ps_query all = *q;
    size_t want;
    memset(&a, 0, sizeof a);
    memset(&ref, 0, sizeof ref);
    ref.want = q->disposition;
    all.disposition = NULL;
    all.limit = 0;
    assert_int_equal(ps_store_query(f->rd, q, got_row, &a, &em), PS_OK);
    assert_int_equal(ps_store_query(f->rd, &all, disp_row, &ref, &em), PS_OK);
    want = q->limit && q->limit < ref.g.n ? q->limit : ref.g.n;
    assert_int_equal(a.n, want);
    for (size_t i = 0; i < a.n; i++) {
        assert_int_equal(a.id[i], ref.g.id[i]);
        assert_string_equal(a.key[i], ref.g.key[i]);
    }
}

/* --disposition takes its candidates from the full-text index on a newest-first walk
 * (the word is in the entry; subjects with the word are candidates the column
 * rejects), and lists exactly what the natural-key walk lists: any case, with a
 * device, --since, --search, oldest first, paging, and values without words. */
static void assert_all_disp_same(fixture *f)
{
    static const char *const values[] = {"discard", "DISCARD", "reject", "-"};
    static const long long devs[] = {-1, 6, 7};
    static const char *const searches[] = {NULL, "please"};
    const int64_t base = T0 + 10 * 86400 * SEC;
    const int64_t sinces[] = {INT64_MIN, base + HOUR / 2, base + 3000 * SEC + HOUR / 2};
    for (size_t v = 0; v < sizeof values / sizeof values[0]; v++)
        for (size_t d = 0; d < sizeof devs / sizeof devs[0]; d++)
            for (size_t w = 0; w < sizeof searches / sizeof searches[0]; w++)
                for (size_t t = 0; t < sizeof sinces / sizeof sinces[0]; t++)
                    for (size_t limit = 7; limit <= 150; limit += 143) {
                        ps_query q;
                        ps_query_init(&q);
                        q.disposition = values[v];
                        q.device_id = devs[d];
                        q.search = searches[w];
                        q.since_us = sinces[t];
                        q.limit = limit;
                        assert_disp_same(f, &q);
                        q.oldest_first = true;
                        assert_disp_same(f, &q);
                        q.oldest_first = false;
                        q.after_id = 2000;
                        assert_disp_same(f, &q);
                    }
}

static void test_disposition_same_as_sql(void **state)
{
    fixture *f = *state;
    ps_errmsg em;
    got g;
    ps_query q;
    sqlite3 *db = peek_open(f->s.db);
    assert_all_disp_same(f);
    /* The walk is the one used: with every id claimed by device 7 alone, as in
     * test_walk_skips_by_device, device 6's discarded messages are not even read. */
    memset(&g, 0, sizeof g);
    ps_query_init(&q);
    q.disposition = "discard";
    q.device_id = 6;
    q.limit = 10;
    assert_int_equal(ps_store_query(f->rd, &q, got_row, &g, &em), PS_OK);
    assert_int_equal(g.n, 10);
    claim_all_for_7(db);
    memset(&g, 0, sizeof g);
    assert_int_equal(ps_store_query(f->rd, &q, got_row, &g, &em), PS_OK);
    assert_int_equal(g.n, 0);
    sqlite3_close(db);
}

/* The same with the chunk_devices rows of half the chunks, then of none. */
static void test_disposition_same_without_rows(void **state)
{
    without_rows(*state, "chunk % 2 = 1", assert_all_disp_same);
}

/* The rows of chunk_devices as one string, to compare two databases. */
static char *chunkdev_rows(const char *path)
{
    sqlite3 *db = peek_open(path);
    sqlite3_stmt *s = NULL;
    char *out = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT group_concat(chunk || ':' || device_id || ':' || "
                                        "max_ts || ':' || hex(ids), ' ') FROM (SELECT * FROM "
                                        "chunk_devices ORDER BY chunk, device_id)",
                                        -1, &s, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    out = strdup(sqlite3_column_text(s, 0) ? (const char *)sqlite3_column_text(s, 0) : "");
    sqlite3_finalize(s);
    sqlite3_close(db);
    return out;
}

/* Fill steps of one chunk each until none is left; returns how many said "more". */
static int fill_all(ps_store *st)
{
    ps_errmsg em;
    bool more = true;
    int steps = 0;
    while (more) {
        assert_int_equal(ps_store_chunkdev_fill_step(st, 1, &more, &em), PS_OK);
        steps += more;
        assert_true(steps < 100);
    }
    return steps;
}

/* The fixture's events written by a database at schema 5 up to iteration 1700 (so
 * the upgrade falls inside a chunk), then upgraded, then the rest. */
static int setup_upgraded(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    ps_errmsg em;
    sqlite3 *db;
    scratch_make(&f->s);
    if (ps_store_create(f->s.db, PS_STORE_WRITER, &f->st, &em) != PS_OK)
        fail_msg("%s", em.text);
    store_events(f, 0, 1700);
    ps_store_destroy(f->st);
    /* schema 5 as the migration tests make it: today's rows without the newer table */
    db = peek_open(f->s.db);
    assert_int_equal(
        sqlite3_exec(db, "DROP TABLE chunk_devices; PRAGMA user_version=5;", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    store_pair_open(f);
    store_events(f, 1700, 3000);
    *state = f;
    return 0;
}

/* An upgraded database searches like before until it is filled, newest chunk first,
 * over steps that survive a restart, and ends with the rows of a database written at
 * schema 6 from the start, which then searches the same. */
static void test_upgraded_fills_like_fresh(void **state)
{
    fixture *f = *state;
    fixture fresh;
    ps_errmsg em;
    bool more = false;
    sqlite3 *db = peek_open(f->s.db);
    long long hole = peek_int(db, "SELECT max(id) FROM chunks WHERE NOT EXISTS (SELECT 1 FROM "
                                  "chunk_devices WHERE chunk = chunks.id)");
    char *a, *b;
    char sql[128];
    assert_true(hole >= 2);
    assert_int_equal(peek_int(db, "SELECT count(*) FROM chunk_devices WHERE chunk = 0"), 0);
    assert_all_same(f);
    assert_all_disp_same(f);
    /* newest first: the chunk the upgrade cut in two, then the newest without rows */
    for (int i = 0; i < 2; i++) {
        assert_int_equal(ps_store_chunkdev_fill_step(f->st, 1, &more, &em), PS_OK);
        assert_true(more);
    }
    snprintf(sql, sizeof sql, "SELECT count(*) FROM chunk_devices WHERE chunk = %lld", hole);
    assert_int_equal(peek_int(db, sql), 2);
    assert_int_equal(peek_int(db, "SELECT count(*) FROM chunk_devices WHERE chunk = 0"), 0);
    /* a restart resumes where the steps got */
    ps_store_destroy(f->st);
    if (ps_store_create(f->s.db, PS_STORE_WRITER, &f->st, &em) != PS_OK)
        fail_msg("%s", em.text);
    assert_true(fill_all(f->st) > 0);
    assert_int_equal(fill_all(f->st), 0); /* done stays done */
    assert_int_equal(peek_int(db, "SELECT v FROM meta WHERE k = 'chunkdev_fill_below'"), 0);
    sqlite3_close(db);

    memset(&fresh, 0, sizeof fresh);
    scratch_make(&fresh.s);
    if (ps_store_create(fresh.s.db, PS_STORE_WRITER, &fresh.st, &em) != PS_OK)
        fail_msg("%s", em.text);
    store_events(&fresh, 0, 3000);
    assert_int_equal(fill_all(fresh.st), 0); /* nothing to fill in a fresh database */
    a = chunkdev_rows(f->s.db);
    b = chunkdev_rows(fresh.s.db);
    assert_true(strlen(a) > 1000);
    assert_string_equal(a, b);
    free(a);
    free(b);
    ps_store_destroy(fresh.st);
    scratch_remove(&fresh.s);
    assert_all_same(f);
    assert_all_disp_same(f);
    /* The walk uses the filled rows of the old chunks as it uses the writer's: told
     * that every id is device 7's, a search on device 6 reads none of them. */
    {
        got g;
        ps_query q;
        db = peek_open(f->s.db);
        claim_all_for_7(db);
        sqlite3_close(db);
        memset(&g, 0, sizeof g);
        ps_query_init(&q);
        q.search = "ahead";
        q.device_id = 6;
        q.until_us = T0 + 10 * 86400 * SEC + 1000 * SEC; /* old chunks only */
        q.limit = 10;
        assert_int_equal(ps_store_query(f->rd, &q, got_row, &g, &em), PS_OK);
        assert_int_equal(g.n, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_written_per_chunk_and_device, setup,
                                        store_pair_teardown),
        cmocka_unit_test_setup_teardown(test_search_same_as_sql, setup, store_pair_teardown),
        cmocka_unit_test_setup_teardown(test_search_same_without_rows, setup, store_pair_teardown),
        cmocka_unit_test_setup_teardown(test_walk_skips_by_device, setup, store_pair_teardown),
        cmocka_unit_test_setup_teardown(test_disposition_same_as_sql, setup, store_pair_teardown),
        cmocka_unit_test_setup_teardown(test_disposition_same_without_rows, setup,
                                        store_pair_teardown),
        cmocka_unit_test_setup_teardown(test_upgraded_fills_like_fresh, setup_upgraded,
                                        store_pair_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
