/* ps_store, write side: file modes, batches, dedup, raw JSON round trips on every
 * shared sample, elision edge cases, resume state, counters and quarantine. */
#include "test_store_util.h"

static ps_store *open_writer(const scratch *s)
{
    ps_store *st = NULL;
    ps_errmsg em;
    if (ps_store_create(s->db, PS_STORE_WRITER, &st, &em) != PS_OK)
        fail_msg("open: %s", em.text);
    return st;
}

static void test_file_modes(void **state)
{
    scratch s;
    ps_store *st;
    struct stat sb;
    char p[400];
    mode_t old = umask(022);
    (void)state;
#ifdef _WIN32
    /* Windows has ACLs, not modes: test_platform_win32 checks the ones the store asks for. */
    umask(old);
    skip();
#endif
    scratch_make(&s);
    st = open_writer(&s);
    assert_false(
        store_one(st, 1, PS_DATA_MAILLOG,
                  "{\"id\":\"a1\",\"ts\":\"2024-05-22T12:00:00Z\",\"sm\":{\"qid\":\"Q1\"}}"));
    /* Checked while the writer is open, when -wal and -shm exist. */
    assert_int_equal(stat(s.db, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0640);
    snprintf(p, sizeof p, "%s-wal", s.db);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0640);
    snprintf(p, sizeof p, "%s-shm", s.db);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0640);
    ps_store_destroy(st);
    umask(old);
    scratch_remove(&s);
}

static void test_missing_directory_is_created(void **state)
{
    scratch s;
    ps_store *st = NULL;
    ps_errmsg em;
    char db[600], sub[400];
    struct stat sb;
    (void)state;
    scratch_make(&s);
    snprintf(sub, sizeof sub, "%s/state", s.dir);
    snprintf(db, sizeof db, "%s/podstream.db", sub);
    assert_int_equal(ps_store_create(db, PS_STORE_WRITER, &st, &em), PS_OK);
    assert_int_equal(stat(sub, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    ps_store_destroy(st);
    unlink(db);
    rmdir(sub);
    scratch_remove(&s);
}

/* Opens and closes a store: what the service's start does to a file. */
static void store_open_close(const char *db, ps_store_mode mode)
{
    ps_store *st = NULL;
    ps_errmsg em;
    assert_int_equal(ps_store_create(db, mode, &st, &em), PS_OK);
    ps_store_destroy(st);
}

/* A new database gets 16 KiB pages (a quarter of the writer's WAL frames); one made
 * before, with 4 KiB pages, keeps them when the store opens it. */
static void test_page_size_of_new_and_old_files(void **state)
{
    scratch s;
    sqlite3 *h;
    (void)state;
    scratch_make(&s);
    store_open_close(s.db, PS_STORE_WRITER);
    h = peek_open(s.db);
    assert_int_equal(peek_int(h, "PRAGMA page_size"), 16384);
    sqlite3_close(h);
    scratch_remove(&s);

    scratch_make(&s);
    assert_int_equal(sqlite3_open(s.db, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h,
                                  "PRAGMA page_size=4096; PRAGMA user_version=0; "
                                  "CREATE TABLE t(x); DROP TABLE t;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(h);
    store_open_close(s.db, PS_STORE_WRITER);
    h = peek_open(s.db);
    assert_int_equal(peek_int(h, "PRAGMA page_size"), 4096);
    assert_true(peek_int(h, "SELECT count(*) FROM events") == 0);
    sqlite3_close(h);
    scratch_remove(&s);
}

static long long fts_automerge(const char *db)
{
    sqlite3 *h = peek_open(db);
    long long v = peek_int(h, "SELECT coalesce((SELECT v FROM events_fts_config WHERE k = "
                              "'automerge'), 0)");
    sqlite3_close(h);
    return v;
}

/* The full-text index merges 8 segments of a level at a time, on a new database and
 * on one written before with SQLite's default, once the writer opens it. */
static void test_fts_automerge(void **state)
{
    scratch s;
    sqlite3 *h;
    (void)state;
    scratch_make(&s);
    store_open_close(s.db, PS_STORE_WRITER);
    assert_int_equal(fts_automerge(s.db), 8);
    /* as a database from before this setting */
    h = peek_open(s.db);
    assert_int_equal(
        sqlite3_exec(h, "DELETE FROM events_fts_config WHERE k = 'automerge'", NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(h);
    assert_int_equal(fts_automerge(s.db), 0);
    store_open_close(s.db, PS_STORE_READER);
    assert_int_equal(fts_automerge(s.db), 0); /* a reader changes nothing */
    store_open_close(s.db, PS_STORE_WRITER);
    assert_int_equal(fts_automerge(s.db), 8);
    scratch_remove(&s);
}

/* main() called ps_store_process_init before anything else, as the service does:
 * SQLite then keeps no memory statistics, whose global mutex every allocation of
 * every connection would take. */
static void test_memory_statistics_off(void **state)
{
    scratch s;
    ps_store *st, *rd = NULL;
    ps_errmsg em;
    const char *ev = "{\"id\":\"mem-1\",\"ts\":\"2024-05-22T12:00:00Z\",\"sm\":{\"qid\":\"Q1\"}}";
    (void)state;
    scratch_make(&s);
    st = open_writer(&s);
    assert_false(store_one(st, 1, PS_DATA_MAILLOG, ev));
    assert_int_equal(ps_store_create(s.db, PS_STORE_READER, &rd, &em), PS_OK);
    assert_int_equal(sqlite3_memory_used(), 0);
    assert_int_equal(sqlite3_memory_highwater(0), 0);
    /* Too late now: changes nothing, and the stores go on working. */
    ps_store_process_init();
    assert_true(store_one(st, 1, PS_DATA_MAILLOG, ev));
    ps_store_destroy(rd);
    ps_store_destroy(st);
    scratch_remove(&s);
}

static void test_reader_errors(void **state)
{
    scratch s;
    ps_store *st = NULL;
    ps_errmsg em;
    char expect[600];
    (void)state;
    scratch_make(&s);
    assert_int_equal(ps_store_create(s.db, PS_STORE_READER, &st, &em), PS_ERR_NOTFOUND);
    assert_null(st);
    ps_store_destroy(NULL); /* accepted, like free(NULL) */
    snprintf(expect, sizeof expect,
             "%s: no database there (the service creates it when it first starts; check "
             "`database:` in podstream.yml)",
             s.db);
    assert_string_equal(em.text, expect);
    /* A directory is named as one, for the reader and the writer alike. */
    snprintf(expect, sizeof expect,
             "%s is a directory, not a database; give the database file (`database:` in "
             "podstream.yml, or --db PATH)",
             s.dir);
    assert_int_equal(ps_store_create(s.dir, PS_STORE_READER, &st, &em), PS_ERR_INVALID);
    assert_string_equal(em.text, expect);
    assert_int_equal(ps_store_create(s.dir, PS_STORE_WRITER, &st, &em), PS_ERR_INVALID);
    assert_string_equal(em.text, expect);
    assert_null(st);
    /* A reader never writes: an empty file stays empty and is refused. */
    assert_int_equal(ps_plat_create_exclusive(s.db, "", 0, 0640, &em), PS_OK);
    assert_int_equal(ps_store_create(s.db, PS_STORE_READER, &st, &em), PS_ERR_NOTFOUND);
    snprintf(expect, sizeof expect,
             "%s: the database is empty (the service has not started on it yet)", s.db);
    assert_string_equal(em.text, expect);
    ps_store_destroy(open_writer(&s));
    assert_int_equal(ps_store_create(s.db, PS_STORE_READER, &st, &em), PS_OK);
    assert_int_equal(ps_store_begin(st, &em), PS_ERR_INTERNAL);
    assert_string_equal(em.text, "ps_store_begin on a read-only store");
    ps_store_destroy(st);
    scratch_remove(&s);
}

static void test_batch_misuse(void **state)
{
    scratch s;
    ps_store *st;
    ps_event ev;
    ps_errmsg em;
    bool dup;
    const char *raw = "{\"id\":\"a1\",\"ts\":\"2024-05-22T12:00:00Z\",\"sm\":{\"qid\":\"Q1\"}}";
    (void)state;
    scratch_make(&s);
    st = open_writer(&s);
    event_from(&ev, PS_DATA_MAILLOG, raw, strlen(raw));
    assert_int_equal(ps_store_insert(st, 1, &ev, raw, strlen(raw), NULL, &dup, &em),
                     PS_ERR_INTERNAL);
    assert_string_equal(em.text, "ps_store_insert outside a batch");
    assert_int_equal(ps_store_commit(st, &em), PS_ERR_INTERNAL);
    assert_string_equal(em.text, "ps_store_commit without a batch");
    assert_int_equal(ps_store_begin(st, &em), PS_OK);
    assert_int_equal(ps_store_begin(st, &em), PS_ERR_INTERNAL);
    assert_string_equal(em.text, "ps_store_begin: a batch is already open");
    assert_int_equal(ps_store_rollback(st), PS_OK);
    ps_event_deinit(&ev);
    ps_store_destroy(st);
    scratch_remove(&s);
}

static void test_dedup(void **state)
{
    scratch s;
    ps_store *st;
    sqlite3 *db;
    const char *a =
        "{\"id\":\"dup-1\",\"ts\":\"2024-05-22T12:00:00.000001Z\",\"sm\":{\"qid\":\"Q1\"}}";
    const char *a_later =
        "{\"id\":\"dup-1\",\"ts\":\"2024-05-22T12:00:05Z\",\"sm\":{\"qid\":\"Q1\"}}";
    (void)state;
    scratch_make(&s);
    st = open_writer(&s);
    assert_false(store_one(st, 1, PS_DATA_MAILLOG, a));
    /* The same key and ts: a re-sent event, counted and not stored. */
    assert_true(store_one(st, 1, PS_DATA_MAILLOG, a));
    /* The same key and ts from another device is another event. */
    assert_false(store_one(st, 2, PS_DATA_MAILLOG, a));
    /* The same key at another ts is kept (see the schema comment). */
    assert_false(store_one(st, 1, PS_DATA_MAILLOG, a_later));
    ps_store_destroy(st);
    db = peek_open(s.db);
    assert_int_equal(peek_int(db, "SELECT count(*) FROM events"), 3);
    assert_int_equal(peek_int(db, "SELECT sum(events) FROM hourly"), 3);
    sqlite3_close(db);
    scratch_remove(&s);
}

static void test_dedup_hash_collision(void **state)
{
    scratch s;
    ps_store *st;
    sqlite3 *db;
    char sql[256];
    const char *a = "{\"id\":\"key-A\",\"ts\":\"2024-05-22T12:00:00Z\",\"sm\":{\"qid\":\"Q1\"}}";
    const char *b = "{\"id\":\"key-B\",\"ts\":\"2024-05-22T12:00:00Z\",\"sm\":{\"qid\":\"Q2\"}}";
    long long hb;
    (void)state;
    scratch_make(&s);
    st = open_writer(&s);
    assert_false(store_one(st, 1, PS_DATA_MAILLOG, b));
    ps_store_destroy(st);
    /* Give B's slot to A: now A's own hash is taken by another key. */
    db = peek_open(s.db);
    hb = peek_int(db, "SELECT key_hash FROM events WHERE key = 'key-B'");
    assert_int_equal(sqlite3_exec(db, "DELETE FROM events", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    st = open_writer(&s);
    assert_false(store_one(st, 1, PS_DATA_MAILLOG, a));
    ps_store_destroy(st);
    db = peek_open(s.db);
    snprintf(sql, sizeof sql, "UPDATE events SET key_hash = %lld WHERE key = 'key-A'", hb);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    st = open_writer(&s);
    /* B finds its hash taken by A, which is not a duplicate: B goes one further. */
    assert_false(store_one(st, 1, PS_DATA_MAILLOG, b));
    /* And B again is found behind A and is a duplicate. */
    assert_true(store_one(st, 1, PS_DATA_MAILLOG, b));
    ps_store_destroy(st);
    db = peek_open(s.db);
    snprintf(sql, sizeof sql, "SELECT key_hash - %lld FROM events WHERE key = 'key-B'", hb);
    assert_int_equal(peek_int(db, sql), 1);
    assert_int_equal(peek_int(db, "SELECT count(*) FROM events"), 2);
    sqlite3_close(db);
    scratch_remove(&s);
}

static void check_round_trip(ps_store *st, ps_store *rd, const lines *l, ps_data_type type)
{
    ps_errmsg em;
    for (size_t i = 0; i < l->n; i++) {
        ps_event ev;
        bool dup = true;
        int64_t id;
        char *raw = NULL;
        size_t len = 0;
        event_from(&ev, type, l->v[i], l->len[i]);
        assert_int_equal(ps_store_begin(st, &em), PS_OK);
        assert_int_equal(ps_store_insert(st, 7, &ev, l->v[i], l->len[i], NULL, &dup, &em), PS_OK);
        assert_int_equal(ps_store_commit(st, &em), PS_OK);
        ps_event_deinit(&ev);
        if (dup)
            continue; /* stored by an earlier round */
        assert_int_equal(ps_store_last_id(rd, &id, &em), PS_OK);
        assert_int_equal(ps_store_event_raw(rd, id, &raw, &len, &em), PS_OK);
        assert_int_equal(len, l->len[i]);
        assert_memory_equal(raw, l->v[i], len);
        free(raw);
    }
}

/* Every shared sample comes back byte for byte, with and without a dictionary. */
static void test_raw_round_trip_samples(void **state)
{
    scratch s;
    ps_store *st, *rd = NULL;
    lines msg, ml;
    ps_errmsg em;
    sqlite3 *db;
    (void)state;
    scratch_make(&s);
    lines_load(&msg, "message.jsonl");
    lines_load(&ml, "maillog.jsonl");
    assert_true(msg.n >= 5 && ml.n >= 5);
    st = open_writer(&s);
    ps_store_set_training(st, 8, 64, 0, true);
    assert_int_equal(ps_store_create(s.db, PS_STORE_READER, &rd, &em), PS_OK);
    check_round_trip(st, rd, &msg, PS_DATA_MESSAGE);
    check_round_trip(st, rd, &ml, PS_DATA_MAILLOG);
    /* Variants (another key each) until both types have a dictionary. */
    for (int round = 0; round < 4; round++) {
        lines v[2];
        for (int t = 0; t < 2; t++) {
            const lines *src = t == 0 ? &msg : &ml;
            v[t].n = src->n;
            for (size_t i = 0; i < src->n; i++) {
                const char *k = t == 0 ? "\"guid\":\"" : "\"id\":\"";
                char *at = strstr(src->v[i], k);
                v[t].v[i] = strdup(src->v[i]);
                v[t].len[i] = src->len[i];
                assert_non_null(at);
                /* Same length, other key: change the key's first character. */
                v[t].v[i][at - src->v[i] + strlen(k)] = (char)('a' + round);
            }
        }
        check_round_trip(st, rd, &v[0], PS_DATA_MESSAGE);
        check_round_trip(st, rd, &v[1], PS_DATA_MAILLOG);
        lines_free(&v[0]);
        lines_free(&v[1]);
    }
    ps_store_destroy(rd);
    ps_store_destroy(st);
    db = peek_open(s.db);
    assert_int_equal(peek_int(db, "SELECT count(DISTINCT type) FROM dicts"), 2);
    assert_true(peek_int(db, "SELECT count(*) FROM events WHERE dict_id > 0") > 0);
    assert_true(peek_int(db, "SELECT count(*) FROM events WHERE dict_id = 0") > 0);
    /* The typed values were taken out of most stored JSON. */
    assert_true(peek_int(db, "SELECT count(*) FROM events WHERE fmt = 1") >= 20);
    sqlite3_close(db);
    lines_free(&msg);
    lines_free(&ml);
    scratch_remove(&s);
}

static void expect_round_trip(ps_store *st, ps_store *rd, ps_event *ev, const char *raw, size_t len,
                              int want_fmt, sqlite3 *db)
{
    ps_errmsg em;
    bool dup = true;
    int64_t id;
    char *back = NULL;
    size_t blen = 0;
    char sql[128];
    assert_int_equal(ps_store_begin(st, &em), PS_OK);
    assert_int_equal(ps_store_insert(st, 1, ev, raw, len, NULL, &dup, &em), PS_OK);
    assert_int_equal(ps_store_commit(st, &em), PS_OK);
    assert_false(dup);
    assert_int_equal(ps_store_last_id(rd, &id, &em), PS_OK);
    assert_int_equal(ps_store_event_raw(rd, id, &back, &blen, &em), PS_OK);
    assert_int_equal(blen, len);
    assert_memory_equal(back, raw, len);
    free(back);
    snprintf(sql, sizeof sql, "SELECT fmt FROM events WHERE id = %lld", (long long)id);
    assert_int_equal(peek_int(db, sql), want_fmt);
}

/* Hand-made events that stress the elision: repeated values, values inside other
 * values, a raw 0x01, an escaped value, a huge recipient list. */
static void test_elision_edge_cases(void **state)
{
    scratch s;
    ps_store *st, *rd = NULL;
    ps_errmsg em;
    sqlite3 *db;
    ps_event ev;
    char raw[16384];
    (void)state;
    scratch_make(&s);
    st = open_writer(&s);
    assert_int_equal(ps_store_create(s.db, PS_STORE_READER, &rd, &em), PS_OK);
    db = peek_open(s.db);

    /* The qid inside the key, the sender inside the message-id, everything twice. */
    snprintf(raw, sizeof raw,
             "{\"id\":\"QID12345-x\",\"ts\":\"2024-05-22T12:00:00Z\",\"data\":\"QID12345: "
             "from=<bob@example.com> msgid=<m.bob@example.com>\",\"sm\":{\"qid\":\"QID12345\","
             "\"from\":\"<bob@example.com>\",\"msgid\":\"<m.bob@example.com>\"}}");
    event_from(&ev, PS_DATA_MAILLOG, raw, strlen(raw));
    expect_round_trip(st, rd, &ev, raw, strlen(raw), 1, db);
    ps_event_deinit(&ev);

    /* A raw control byte inside a string: no elision, stored as is. */
    snprintf(raw, sizeof raw,
             "{\"id\":\"ctl-1\",\"ts\":\"2024-05-22T12:00:01Z\",\"sm\":{\"qid\":\"QIDCTRL1\","
             "\"stat\":\"Sent \x01 odd\"}}");
    event_from(&ev, PS_DATA_MAILLOG, raw, strlen(raw));
    expect_round_trip(st, rd, &ev, raw, strlen(raw), 0, db);
    ps_event_deinit(&ev);

    /* A value that holds 0x01 after JSON unescaping is never elided; the rest is. */
    snprintf(raw, sizeof raw,
             "{\"id\":\"esc-1-long\",\"ts\":\"2024-05-22T12:00:02Z\",\"sm\":{\"qid\":"
             "\"QIDESC01\",\"stat\":\"Sent \\u0001 escaped\"}}");
    event_from(&ev, PS_DATA_MAILLOG, raw, strlen(raw));
    assert_non_null(strchr(ev.text[PS_EF_STAT], '\x01'));
    expect_round_trip(st, rd, &ev, raw, strlen(raw), 1, db);
    ps_event_deinit(&ev);

    /* More recipients than markers: the first ones are elided, all come back. */
    {
        size_t n = (size_t)snprintf(raw, sizeof raw,
                                    "{\"guid\":\"many-rcpts-guid\",\"ts\":\"2024-05-22T12:00:03Z\","
                                    "\"envelope\":{\"from\":\"a@example.com\",\"rcpts\":[");
        for (int i = 0; i < 150; i++)
            n += (size_t)snprintf(raw + n, sizeof raw - n, "%s\"user%03d@example.org\"",
                                  i ? "," : "", i);
        snprintf(raw + n, sizeof raw - n, "]},\"filter\":{\"qid\":\"QIDMANY1\"}}");
        event_from(&ev, PS_DATA_MESSAGE, raw, strlen(raw));
        expect_round_trip(st, rd, &ev, raw, strlen(raw), 1, db);
        ps_event_deinit(&ev);
    }

    /* A subject longer than the column keeps: the column is cut at a character
     * boundary, the JSON is whole (the cut part is elided like any value). */
    {
        size_t n = (size_t)snprintf(raw, sizeof raw,
                                    "{\"guid\":\"long-subject\",\"ts\":\"2024-05-22T12:00:04Z\","
                                    "\"msg\":{\"header\":{\"subject\":[\"");
        for (int i = 0; i < 700; i++)
            n += (size_t)snprintf(raw + n, sizeof raw - n, "\xC3\xA9"); /* é: 2 bytes */
        snprintf(raw + n, sizeof raw - n, "\"]}}}");
        event_from(&ev, PS_DATA_MESSAGE, raw, strlen(raw));
        expect_round_trip(st, rd, &ev, raw, strlen(raw), 1, db);
        assert_int_equal(peek_int(db, "SELECT length(CAST(subject AS BLOB)) FROM events WHERE "
                                      "key = 'long-subject'"),
                         1000);
        ps_event_deinit(&ev);
    }
    sqlite3_close(db);
    ps_store_destroy(rd);
    ps_store_destroy(st);
    scratch_remove(&s);
}

static void test_rollback_discards_everything(void **state)
{
    scratch s;
    ps_store *st;
    ps_event ev;
    ps_errmsg em;
    sqlite3 *db;
    bool dup;
    ps_resume_state rs = {.last_event_ts_us = 1716400000000000LL,
                          .last_healthy_us = 1716400001000000LL,
                          .clean_shutdown = false,
                          .repair_from_us = 1716390000000000LL,
                          .repair_to_us = 1716400002000000LL,
                          .trip_from_us = 1716400003000000LL,
                          .trip_to_us = 1716400004000000LL},
                    got_rs;
    const char *raw = "{\"id\":\"rb-1\",\"ts\":\"2024-05-22T12:00:00Z\",\"sm\":{\"qid\":\"Q1\"}}";
    (void)state;
    scratch_make(&s);
    st = open_writer(&s);
    event_from(&ev, PS_DATA_MAILLOG, raw, strlen(raw));
    assert_int_equal(ps_store_begin(st, &em), PS_OK);
    assert_int_equal(ps_store_insert(st, 1, &ev, raw, strlen(raw), NULL, &dup, &em), PS_OK);
    assert_int_equal(ps_store_resume_put(st, 1, PS_DATA_MAILLOG, &rs, &em), PS_OK);
    assert_int_equal(ps_store_rollback(st), PS_OK);
    assert_int_equal(ps_store_resume_get(st, 1, PS_DATA_MAILLOG, &got_rs, &em), PS_OK);
    assert_int_equal(got_rs.last_event_ts_us, 0);
    assert_true(got_rs.clean_shutdown);
    /* The same event in the next batch is not a duplicate of the rolled back one. */
    assert_int_equal(ps_store_begin(st, &em), PS_OK);
    assert_int_equal(ps_store_insert(st, 1, &ev, raw, strlen(raw), NULL, &dup, &em), PS_OK);
    assert_false(dup);
    assert_int_equal(ps_store_resume_put(st, 1, PS_DATA_MAILLOG, &rs, &em), PS_OK);
    assert_int_equal(ps_store_commit(st, &em), PS_OK);
    assert_int_equal(ps_store_resume_get(st, 1, PS_DATA_MAILLOG, &got_rs, &em), PS_OK);
    assert_int_equal(got_rs.last_event_ts_us, rs.last_event_ts_us);
    assert_int_equal(got_rs.last_healthy_us, rs.last_healthy_us);
    assert_false(got_rs.clean_shutdown);
    assert_int_equal(got_rs.repair_from_us, rs.repair_from_us);
    assert_int_equal(got_rs.repair_to_us, rs.repair_to_us);
    assert_int_equal(got_rs.trip_from_us, rs.trip_from_us);
    assert_int_equal(got_rs.trip_to_us, rs.trip_to_us);
    ps_event_deinit(&ev);
    ps_store_destroy(st);
    db = peek_open(s.db);
    assert_int_equal(peek_int(db, "SELECT count(*) FROM events"), 1);
    assert_int_equal(peek_int(db, "SELECT sum(events) FROM hourly"), 1);
    /* 2024-05-22T12:00:00Z is in the hour that starts at 12:00. */
    assert_int_equal(peek_int(db, "SELECT hour_us FROM hourly"), 1716379200000000LL);
    sqlite3_close(db);
    scratch_remove(&s);
}

/* The writer thread puts rows that workers prepared; a batch that failed is put
 * again with the same rows. */
static void test_prepared_rows(void **state)
{
    scratch s;
    ps_store *st;
    ps_store_prep *prep = NULL;
    ps_store_row row, empty;
    ps_event ev;
    ps_errmsg em;
    sqlite3 *db;
    bool dup = true;
    char *raw = make_maillog("pr-1", "2024-05-22T12:00:00Z", "QPR1", "<a@example.com>", NULL,
                             "<m1@example.com>", NULL, NULL, NULL);
    char *back = NULL;
    size_t back_len = 0;
    (void)state;
    ps_store_prep_destroy(NULL);
    ps_store_row_deinit(NULL);
    scratch_make(&s);
    st = open_writer(&s);
    assert_int_equal(ps_store_prep_create(st, &prep, &em), PS_OK);
    ps_store_row_init(&row);
    ps_store_row_init(&empty);
    event_from(&ev, PS_DATA_MAILLOG, raw, strlen(raw));
    assert_int_equal(ps_store_prepare(prep, &ev, raw, strlen(raw), &row, &em), PS_OK);
    /* The row owns its copy: the event and the JSON may go. */
    ps_event_deinit(&ev);
    assert_int_equal(row.raw_len, strlen(raw));
    assert_string_equal(row.key, "pr-1");
    assert_int_equal(ps_store_put(st, 1, &row, NULL, &dup, &em), PS_ERR_INTERNAL);
    assert_int_equal(ps_store_begin(st, &em), PS_OK);
    assert_int_equal(ps_store_put(st, 1, &empty, NULL, &dup, &em), PS_ERR_INTERNAL);
    assert_int_equal(ps_store_put(st, 1, &row, NULL, &dup, &em), PS_OK);
    assert_false(dup);
    assert_int_equal(ps_store_rollback(st), PS_OK);
    assert_int_equal(ps_store_begin(st, &em), PS_OK);
    assert_int_equal(ps_store_put(st, 1, &row, NULL, &dup, &em), PS_OK);
    assert_false(dup);
    assert_int_equal(ps_store_put(st, 1, &row, NULL, &dup, &em), PS_OK);
    assert_true(dup);
    assert_int_equal(ps_store_commit(st, &em), PS_OK);
    assert_int_equal(ps_store_event_raw(st, 1, &back, &back_len, &em), PS_OK);
    assert_int_equal(back_len, strlen(raw));
    assert_memory_equal(back, raw, back_len);
    free(back);
    ps_store_row_deinit(&row);
    assert_null(row.mem);
    ps_store_prep_destroy(prep);
    ps_store_destroy(st);
    db = peek_open(s.db);
    assert_int_equal(peek_int(db, "SELECT count(*) FROM events"), 1);
    assert_int_equal(peek_int(db, "SELECT sum(events) FROM hourly"), 1);
    sqlite3_close(db);
    free(raw);
    scratch_remove(&s);
}

/* One batch across several chunks of 1,024 ids: each chunk gets its time bounds,
 * written at commit. */
static void test_batch_spans_chunks(void **state)
{
    scratch s;
    ps_store *st;
    ps_errmsg em;
    sqlite3 *db;
    (void)state;
    scratch_make(&s);
    st = open_writer(&s);
    assert_int_equal(ps_store_begin(st, &em), PS_OK);
    for (int i = 0; i < 2500; i++) {
        char id[32], when[40];
        ps_event ev;
        bool dup = true;
        /* mostly increasing, every 7th an hour late */
        ps_time_format_iso(1716379200000000LL + (int64_t)i * 1000000 -
                               (i % 7 == 0 ? 3600000000LL : 0),
                           when, sizeof when);
        snprintf(id, sizeof id, "ch-%d", i);
        char *raw = make_maillog(id, when, "QCH", NULL, NULL, NULL, "Sent", "2.0.0", NULL);
        event_from(&ev, PS_DATA_MAILLOG, raw, strlen(raw));
        assert_int_equal(ps_store_insert(st, 1, &ev, raw, strlen(raw), NULL, &dup, &em), PS_OK);
        assert_false(dup);
        ps_event_deinit(&ev);
        free(raw);
    }
    assert_int_equal(ps_store_commit(st, &em), PS_OK);
    ps_store_destroy(st);
    db = peek_open(s.db);
    /* ids 1..2500: chunks 0, 1 and 2 */
    assert_int_equal(peek_int(db, "SELECT count(*) FROM chunks"), 3);
    for (int c = 0; c < 3; c++) {
        char q[512];
        snprintf(q, sizeof q,
                 "SELECT (SELECT min_ts FROM chunks WHERE id = %d) = (SELECT min(ts_us) FROM "
                 "events WHERE id >> 10 = %d) AND (SELECT max_ts FROM chunks WHERE id = %d) = "
                 "(SELECT max(ts_us) FROM events WHERE id >> 10 = %d) AND (SELECT pmax FROM "
                 "chunks WHERE id = %d) = (SELECT max(ts_us) FROM events WHERE id >> 10 <= %d)",
                 c, c, c, c, c, c);
        assert_int_equal(peek_int(db, q), 1);
    }
    sqlite3_close(db);
    scratch_remove(&s);
}

static void test_counters_and_pipelines(void **state)
{
    scratch s;
    ps_store *st, *rd = NULL;
    ps_device_counters c, *list = NULL;
    size_t n = 0;
    ps_errmsg em;
    sqlite3 *db;
    (void)state;
    scratch_make(&s);
    st = open_writer(&s);
    memset(&c, 0, sizeof c);
    c.device_id = 12;
    snprintf(c.name, sizeof c.name, "hq-maillog");
    c.type = PS_DATA_MAILLOG;
    c.state = PS_STATE_BACKOFF;
    c.events_total = 123456789012ULL;
    c.rate_10s = 12.5;
    c.rate_1m = 10.25;
    c.last_event_ts_us = 1716400000000000LL;
    c.lag_ms = 1500;
    c.reconnects = 3;
    c.empty_frames = 8;
    c.duplicates = 4;
    c.quarantined = 5;
    c.dropped = 6;
    c.failed = 7;
    snprintf(c.last_error, sizeof c.last_error, "HTTP 409: token in use by another session");
    c.last_error_us = 1716400001000000LL;
    c.updated_us = 1716400002000000LL;
    assert_int_equal(ps_store_counters_put(st, &c, &em), PS_OK);
    c.device_id = 3;
    snprintf(c.name, sizeof c.name, "hq-message");
    c.state = PS_STATE_LIVE;
    assert_int_equal(ps_store_counters_put(st, &c, &em), PS_OK);
    c.rate_10s = 99.0; /* an update replaces the row */
    assert_int_equal(ps_store_counters_put(st, &c, &em), PS_OK);
    assert_int_equal(ps_store_pipeline_count(st, 3, "enrich", 2, 1, &em), PS_OK);
    assert_int_equal(ps_store_pipeline_count(st, 3, "enrich", 3, 0, &em), PS_OK);
    assert_int_equal(ps_store_create(s.db, PS_STORE_READER, &rd, &em), PS_OK);
    assert_int_equal(ps_store_counters_list(rd, &list, &n, &em), PS_OK);
    assert_int_equal(n, 2);
    assert_int_equal(list[0].device_id, 3);
    assert_string_equal(list[0].name, "hq-message");
    assert_int_equal(list[0].state, PS_STATE_LIVE);
    assert_true(list[0].rate_10s == 99.0);
    assert_int_equal(list[1].device_id, 12);
    assert_string_equal(list[1].name, "hq-maillog");
    assert_int_equal(list[1].type, PS_DATA_MAILLOG);
    assert_int_equal(list[1].state, PS_STATE_BACKOFF);
    assert_true(list[1].events_total == 123456789012ULL);
    assert_true(list[1].rate_1m == 10.25);
    assert_int_equal(list[1].lag_ms, 1500);
    assert_int_equal(list[1].reconnects, 3);
    assert_int_equal(list[1].empty_frames, 8);
    assert_int_equal(list[1].duplicates, 4);
    assert_int_equal(list[1].quarantined, 5);
    assert_int_equal(list[1].dropped, 6);
    assert_int_equal(list[1].failed, 7);
    assert_string_equal(list[1].last_error, "HTTP 409: token in use by another session");
    assert_int_equal(list[1].last_error_us, 1716400001000000LL);
    assert_int_equal(list[1].updated_us, 1716400002000000LL);
    free(list);
    ps_store_destroy(rd);
    ps_store_destroy(st);
    db = peek_open(s.db);
    assert_int_equal(peek_int(db, "SELECT dropped * 10 + failed FROM pipeline_counters WHERE "
                                  "device_id = 3 AND pipeline = 'enrich'"),
                     51);
    sqlite3_close(db);
    assert_string_equal(ps_device_state_name(PS_STATE_UNAUTHORISED), "unauthorised");
    assert_string_equal(ps_device_state_name(PS_STATE_STOPPED), "stopped");
    scratch_remove(&s);
}

static void test_quarantine(void **state)
{
    scratch s;
    ps_store *st;
    ps_errmsg em;
    sqlite3 *db;
    const char bad[] = "{\"id\": \xff not json";
    (void)state;
    scratch_make(&s);
    st = open_writer(&s);
    assert_int_equal(ps_store_begin(st, &em), PS_OK);
    assert_int_equal(ps_store_quarantine(st, 4, PS_DATA_MESSAGE, bad, sizeof bad - 1,
                                         "invalid UTF-8 at byte 8", &em),
                     PS_OK);
    assert_int_equal(ps_store_commit(st, &em), PS_OK);
    ps_store_destroy(st);
    db = peek_open(s.db);
    assert_int_equal(peek_int(db, "SELECT count(*) FROM quarantine WHERE device_id = 4 AND "
                                  "type = 0 AND reason = 'invalid UTF-8 at byte 8'"),
                     1);
    assert_int_equal(peek_int(db, "SELECT raw_len FROM quarantine"), (long long)sizeof bad - 1);
    sqlite3_close(db);
    scratch_remove(&s);
}

static void test_insert_refuses_bad_events(void **state)
{
    scratch s;
    ps_store *st;
    ps_event ev;
    ps_errmsg em;
    bool dup;
    (void)state;
    scratch_make(&s);
    st = open_writer(&s);
    ps_event_init(&ev);
    ev.type = PS_DATA_MESSAGE;
    assert_int_equal(ps_store_begin(st, &em), PS_OK);
    assert_int_equal(ps_store_insert(st, 1, &ev, "{}", 2, NULL, &dup, &em), PS_ERR_INVALID);
    assert_string_equal(em.text, "event without a natural key");
    ev.key = strdup("k");
    ev.type = (ps_data_type)7;
    assert_int_equal(ps_store_insert(st, 1, &ev, "{}", 2, NULL, &dup, &em), PS_ERR_INVALID);
    assert_string_equal(em.text, "event of unknown type 7");
    ev.type = PS_DATA_MESSAGE;
    assert_int_equal(ps_store_insert(st, 1, &ev, NULL, 0, NULL, &dup, &em), PS_ERR_INVALID);
    assert_string_equal(em.text, "event without its JSON");
    assert_int_equal(ps_store_rollback(st), PS_OK);
    ps_event_deinit(&ev);
    ps_store_destroy(st);
    scratch_remove(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_modes),
        cmocka_unit_test(test_missing_directory_is_created),
        cmocka_unit_test(test_page_size_of_new_and_old_files),
        cmocka_unit_test(test_fts_automerge),
        cmocka_unit_test(test_reader_errors),
        cmocka_unit_test(test_memory_statistics_off),
        cmocka_unit_test(test_batch_misuse),
        cmocka_unit_test(test_dedup),
        cmocka_unit_test(test_dedup_hash_collision),
        cmocka_unit_test(test_raw_round_trip_samples),
        cmocka_unit_test(test_elision_edge_cases),
        cmocka_unit_test(test_rollback_discards_everything),
        cmocka_unit_test(test_prepared_rows),
        cmocka_unit_test(test_batch_spans_chunks),
        cmocka_unit_test(test_counters_and_pipelines),
        cmocka_unit_test(test_quarantine),
        cmocka_unit_test(test_insert_refuses_bad_events),
    };
    ps_store_process_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
