/* ps_store schema versions: every earlier version upgrades with its data intact,
 * a newer or a foreign database is refused with a clear message, and reopening a
 * current database changes nothing.
 *
 * When schema version N+1 ships, add version N here: its SQL exactly as shipped
 * (copied from ps_store_migrate.c before the change) and a function that fills a
 * database at that version with data, then the checks that the data survived. */
#include "test_store_util.h"

/* A schema as it once shipped, and data written the way that release wrote it. */
typedef struct historical {
    int version;
    const char *sql; /* NULL: an empty file */
    void (*fill)(sqlite3 *db);
    void (*check)(ps_store *st, const char *path);
} historical;

static void check_empty(ps_store *st, const char *path)
{
    sqlite3 *db = peek_open(path);
    (void)st;
    assert_int_equal(peek_int(db, "SELECT count(*) FROM events"), 0);
    sqlite3_close(db);
}

/* Version 1 as shipped (the first release). */
static const char v1_sql[] =
    "CREATE TABLE meta(k TEXT PRIMARY KEY, v) WITHOUT ROWID;"
    "CREATE TABLE dicts("
    " id INTEGER PRIMARY KEY,"
    " type INTEGER NOT NULL,"
    " created_us INTEGER NOT NULL,"
    " samples INTEGER NOT NULL,"
    " refs INTEGER NOT NULL DEFAULT 0,"
    " dict BLOB NOT NULL);"
    "CREATE TABLE events("
    " id INTEGER PRIMARY KEY,"
    " ts_us INTEGER NOT NULL,"
    " device_id INTEGER NOT NULL,"
    " type INTEGER NOT NULL,"
    " key TEXT NOT NULL,"
    " key_hash INTEGER NOT NULL,"
    " sender TEXT, recipients TEXT, subject TEXT, disposition TEXT, action TEXT,"
    " module TEXT, rule TEXT, direction TEXT, qid TEXT, message_id TEXT,"
    " client_ip TEXT, client_host TEXT, country TEXT, stat TEXT, dsn TEXT, relay TEXT,"
    " spam_score REAL,"
    " size_bytes INTEGER,"
    " tags TEXT,"
    " dict_id INTEGER NOT NULL,"
    " fmt INTEGER NOT NULL,"
    " raw_len INTEGER NOT NULL,"
    " raw BLOB NOT NULL);"
    "CREATE UNIQUE INDEX events_natural ON events(ts_us, device_id, key_hash);"
    "CREATE TABLE chunks("
    " id INTEGER PRIMARY KEY,"
    " min_ts INTEGER NOT NULL,"
    " max_ts INTEGER NOT NULL,"
    " pmax INTEGER NOT NULL);"
    "CREATE VIRTUAL TABLE events_fts USING fts5(doc, content='', detail=none, columnsize=0,"
    " tokenize='unicode61 remove_diacritics 2');"
    "CREATE TABLE hourly("
    " device_id INTEGER NOT NULL,"
    " type INTEGER NOT NULL,"
    " hour_us INTEGER NOT NULL,"
    " events INTEGER NOT NULL,"
    " PRIMARY KEY(device_id, type, hour_us)) WITHOUT ROWID;"
    "CREATE TABLE resume("
    " device_id INTEGER NOT NULL,"
    " type INTEGER NOT NULL,"
    " last_event_ts_us INTEGER NOT NULL,"
    " last_healthy_us INTEGER NOT NULL,"
    " clean_shutdown INTEGER NOT NULL,"
    " repair_from_us INTEGER NOT NULL DEFAULT 0,"
    " repair_to_us INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY(device_id, type)) WITHOUT ROWID;"
    "CREATE TABLE counters("
    " device_id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " type INTEGER NOT NULL,"
    " state INTEGER NOT NULL,"
    " events_total INTEGER NOT NULL,"
    " rate_10s REAL NOT NULL,"
    " rate_1m REAL NOT NULL,"
    " last_event_ts_us INTEGER NOT NULL,"
    " lag_ms INTEGER NOT NULL,"
    " reconnects INTEGER NOT NULL,"
    " duplicates INTEGER NOT NULL,"
    " quarantined INTEGER NOT NULL,"
    " dropped INTEGER NOT NULL,"
    " failed INTEGER NOT NULL,"
    " last_error TEXT NOT NULL,"
    " last_error_us INTEGER NOT NULL,"
    " updated_us INTEGER NOT NULL);"
    "CREATE TABLE pipeline_counters("
    " device_id INTEGER NOT NULL,"
    " pipeline TEXT NOT NULL,"
    " dropped INTEGER NOT NULL,"
    " failed INTEGER NOT NULL,"
    " PRIMARY KEY(device_id, pipeline)) WITHOUT ROWID;"
    "CREATE TABLE quarantine("
    " id INTEGER PRIMARY KEY,"
    " received_us INTEGER NOT NULL,"
    " device_id INTEGER NOT NULL,"
    " type INTEGER NOT NULL,"
    " reason TEXT NOT NULL,"
    " raw_len INTEGER NOT NULL,"
    " raw BLOB NOT NULL);"
    "CREATE INDEX quarantine_received ON quarantine(received_us);";

/* A device with a repair window pending and an event stored, as version 1 wrote
 * them. */
static void fill_v1(sqlite3 *db)
{
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO resume VALUES(7, 0, 1716390000000000, "
                                  "1716390001000000, 1, 1716389000000000, 1716390002000000);"
                                  "INSERT INTO events(ts_us, device_id, type, key, key_hash, "
                                  "dict_id, fmt, raw_len, raw) VALUES(1716390000000000, 7, 0, "
                                  "'g1', 1, 0, 0, 2, x'7b7d');",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
}

/* Version 2 added the trip window to the resume state: the repair window is
 * intact, no trip window is pending, and one can be written and read back. */
static void check_v1(ps_store *st, const char *path)
{
    ps_resume_state rs;
    ps_errmsg em;
    sqlite3 *db = peek_open(path);
    assert_int_equal(peek_int(db, "SELECT count(*) FROM events"), 1);
    sqlite3_close(db);
    assert_int_equal(ps_store_resume_get(st, 7, PS_DATA_MESSAGE, &rs, &em), PS_OK);
    assert_int_equal(rs.last_event_ts_us, 1716390000000000LL);
    assert_int_equal(rs.last_healthy_us, 1716390001000000LL);
    assert_true(rs.clean_shutdown);
    assert_int_equal(rs.repair_from_us, 1716389000000000LL);
    assert_int_equal(rs.repair_to_us, 1716390002000000LL);
    assert_int_equal(rs.trip_from_us, 0);
    assert_int_equal(rs.trip_to_us, 0);
    rs.trip_from_us = 1716391000000000LL;
    rs.trip_to_us = 1716392000000000LL;
    assert_int_equal(ps_store_begin(st, &em), PS_OK);
    assert_int_equal(ps_store_resume_put(st, 7, PS_DATA_MESSAGE, &rs, &em), PS_OK);
    assert_int_equal(ps_store_commit(st, &em), PS_OK);
    memset(&rs, 0, sizeof rs);
    assert_int_equal(ps_store_resume_get(st, 7, PS_DATA_MESSAGE, &rs, &em), PS_OK);
    assert_int_equal(rs.repair_from_us, 1716389000000000LL);
    assert_int_equal(rs.trip_from_us, 1716391000000000LL);
    assert_int_equal(rs.trip_to_us, 1716392000000000LL);
}

static const historical versions[] = {
    {0, NULL, NULL, check_empty},
    {1, v1_sql, fill_v1, check_v1},
};

static void test_every_earlier_version_upgrades(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        const historical *h = &versions[i];
        scratch s;
        ps_store *st = NULL;
        ps_errmsg em;
        sqlite3 *db;
        scratch_make(&s);
        if (h->sql) {
            char set[64];
            db = NULL;
            assert_int_equal(sqlite3_open(s.db, &db), SQLITE_OK);
            assert_int_equal(sqlite3_exec(db, h->sql, NULL, NULL, NULL), SQLITE_OK);
            snprintf(set, sizeof set, "PRAGMA user_version=%d", h->version);
            assert_int_equal(sqlite3_exec(db, set, NULL, NULL, NULL), SQLITE_OK);
            if (h->fill)
                h->fill(db);
            sqlite3_close(db);
        }
        if (ps_store_create(s.db, PS_STORE_WRITER, &st, &em) != PS_OK)
            fail_msg("upgrading from version %d: %s", h->version, em.text);
        {
            int v = -1;
            assert_int_equal(ps_store_schema_version(st, &v, &em), PS_OK);
            assert_int_equal(v, PS_STORE_SCHEMA_VERSION);
        }
        h->check(st, s.db);
        ps_store_destroy(st);
        db = peek_open(s.db);
        assert_int_equal(peek_int(db, "PRAGMA user_version"), PS_STORE_SCHEMA_VERSION);
        sqlite3_close(db);
        scratch_remove(&s);
    }
}

static void test_new_database(void **state)
{
    scratch s;
    ps_store *st = NULL;
    ps_errmsg em;
    sqlite3 *db;
    (void)state;
    scratch_make(&s);
    assert_int_equal(ps_store_create(s.db, PS_STORE_WRITER, &st, &em), PS_OK);
    db = peek_open(s.db);
    /* Set before the first table: retention can give pages back without VACUUM. */
    assert_int_equal(peek_int(db, "PRAGMA auto_vacuum"), 2);
    assert_int_equal(peek_int(db, "SELECT count(*) FROM sqlite_schema WHERE name IN ('events', "
                                  "'events_fts', 'events_natural', 'dicts', 'hourly', 'resume', "
                                  "'counters', 'pipeline_counters', 'quarantine', 'chunks')"),
                     10);
    {
        sqlite3_stmt *q = NULL;
        assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(q), SQLITE_ROW);
        assert_string_equal((const char *)sqlite3_column_text(q, 0), "wal");
        sqlite3_finalize(q);
    }
    sqlite3_close(db);
    ps_store_destroy(st);
    scratch_remove(&s);
}

static void test_reopen_keeps_data(void **state)
{
    scratch s;
    ps_store *st = NULL;
    ps_errmsg em;
    sqlite3 *db;
    char *raw = NULL;
    size_t len = 0;
    const char *ev =
        "{\"id\":\"keep-1\",\"ts\":\"2024-05-22T12:00:00Z\",\"sm\":{\"qid\":\"QKEEP001\"}}";
    (void)state;
    scratch_make(&s);
    assert_int_equal(ps_store_create(s.db, PS_STORE_WRITER, &st, &em), PS_OK);
    assert_false(store_one(st, 1, PS_DATA_MAILLOG, ev));
    ps_store_destroy(st);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(ps_store_create(s.db, PS_STORE_WRITER, &st, &em), PS_OK);
        assert_true(store_one(st, 1, PS_DATA_MAILLOG, ev)); /* still there: a duplicate */
        assert_int_equal(ps_store_event_raw(st, 1, &raw, &len, &em), PS_OK);
        assert_string_equal(raw, ev);
        free(raw);
        ps_store_destroy(st);
    }
    db = peek_open(s.db);
    assert_int_equal(peek_int(db, "SELECT count(*) FROM events"), 1);
    sqlite3_close(db);
    scratch_remove(&s);
}

static void set_version(const char *path, int v)
{
    sqlite3 *db = peek_open(path);
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version=%d", v);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static void test_newer_version_refused(void **state)
{
    scratch s;
    ps_store *st = NULL;
    ps_errmsg em;
    char expect[600];
    sqlite3 *db;
    (void)state;
    scratch_make(&s);
    assert_int_equal(ps_store_create(s.db, PS_STORE_WRITER, &st, &em), PS_OK);
    ps_store_destroy(st);
    set_version(s.db, PS_STORE_SCHEMA_VERSION + 1);
    snprintf(expect, sizeof expect,
             "%s: database schema version %d is newer than this podstream understands (%d); "
             "use the podstream release that wrote it",
             s.db, PS_STORE_SCHEMA_VERSION + 1, PS_STORE_SCHEMA_VERSION);
    assert_int_equal(ps_store_create(s.db, PS_STORE_WRITER, &st, &em), PS_ERR_UNSUPPORTED);
    assert_string_equal(em.text, expect);
    assert_null(st);
    assert_int_equal(ps_store_create(s.db, PS_STORE_READER, &st, &em), PS_ERR_UNSUPPORTED);
    assert_string_equal(em.text, expect);
    /* Untouched: still the newer version. */
    db = peek_open(s.db);
    assert_int_equal(peek_int(db, "PRAGMA user_version"), PS_STORE_SCHEMA_VERSION + 1);
    sqlite3_close(db);
    scratch_remove(&s);
}

static void test_older_version_needs_writer(void **state)
{
    scratch s;
    ps_store *st = NULL;
    ps_errmsg em;
    char expect[600];
    (void)state;
    scratch_make(&s);
    assert_int_equal(ps_store_create(s.db, PS_STORE_WRITER, &st, &em), PS_OK);
    ps_store_destroy(st);
    /* A reader cannot upgrade: it says how to. (Version 0 with tables stands in
     * for "older" until a second version exists.) */
    set_version(s.db, -1);
    assert_int_equal(ps_store_create(s.db, PS_STORE_READER, &st, &em), PS_ERR_UNSUPPORTED);
    snprintf(expect, sizeof expect,
             "%s: database schema version -1 is older than this podstream (%d); start the "
             "service once to upgrade it",
             s.db, PS_STORE_SCHEMA_VERSION);
    assert_string_equal(em.text, expect);
    assert_int_equal(ps_store_create(s.db, PS_STORE_WRITER, &st, &em), PS_ERR_INVALID);
    snprintf(expect, sizeof expect,
             "%s: database schema version -1 is not one podstream writes; is this a podstream "
             "database?",
             s.db);
    assert_string_equal(em.text, expect);
    scratch_remove(&s);
}

static void test_foreign_database_refused(void **state)
{
    scratch s;
    ps_store *st = NULL;
    ps_errmsg em;
    sqlite3 *db = NULL;
    char expect[600];
    FILE *f;
    (void)state;
    scratch_make(&s);
    assert_int_equal(sqlite3_open(s.db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE mine(x)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(ps_store_create(s.db, PS_STORE_WRITER, &st, &em), PS_ERR_INVALID);
    snprintf(expect, sizeof expect,
             "%s: the file has tables but no podstream schema version; is this a podstream "
             "database?",
             s.db);
    assert_string_equal(em.text, expect);
    db = peek_open(s.db);
    assert_int_equal(peek_int(db, "SELECT count(*) FROM sqlite_schema"), 1);
    sqlite3_close(db);
    unlink(s.db);
    /* Not SQLite at all. */
    f = fopen(s.db, "w");
    assert_non_null(f);
    fputs("this is a text file, not a database, padded to more than one page........", f);
    for (int i = 0; i < 200; i++)
        fputs("0123456789abcdef0123456789abcdef", f);
    fclose(f);
    assert_int_equal(ps_store_create(s.db, PS_STORE_WRITER, &st, &em), PS_ERR_DB);
    assert_non_null(strstr(em.text, "file is not a database"));
    assert_int_equal(strncmp(em.text, s.db, strlen(s.db)), 0);
    scratch_remove(&s);
}

/* Version 3 keys audit events on guid and gives them typed columns (#15). A
 * version 2 database is made the way version 2 stored audit events: keyed on `id`
 * when there was one, with no typed values. The rows are written by today's code
 * from hand-made events that carry only the old key, then the new columns are
 * dropped and the version set back to 2. */
typedef struct v2_audit {
    const char *key; /* the key version 2 gave it */
    int64_t ts_us;
    const char *json;
} v2_audit;

static const v2_audit v2_rows[] = {
    /* podsim's old shape plus a guid: stored under id, re-keyed to the guid */
    {"id-legacy-1", 1741076142118204,
     "{\"audit\":{\"action\":\"login\",\"resourceType\":\"authorization\",\"tags\":[{\"name\":"
     "\"login.authorization\",\"value\":\"true\"}],\"user\":{\"email\":\"alice@example.com\","
     "\"ipAddress\":\"203.0.113.9\"}},\"guid\":\"g-1\",\"id\":\"id-legacy-1\",\"ts\":"
     "\"2025-03-04T08:15:42.118204+0000\"}"},
    /* POD's shape, already under its guid (elided from the stored JSON, fmt 1): only
     * the typed values are new */
    {"guid-0002", 1741076163551020,
     "{\"audit\":{\"action\":\"delete\",\"resourceName\":\"siem-export\",\"resourceType\":"
     "\"config\",\"tags\":[{\"name\":\"delete.threatProtectionApiKeys\",\"value\":\"false\"}],"
     "\"user\":{\"email\":\"bob@example.com\",\"ipAddress\":\"198.51.100.77\"}},\"guid\":"
     "\"guid-0002\",\"ts\":"
     "\"2025-03-04T08:16:03.551020+0000\"}"},
    /* the same event as the one above, stored a second time under an id: dropped */
    {"id-3", 1741076163551020,
     "{\"audit\":{\"action\":\"delete\",\"resourceName\":\"siem-export\",\"resourceType\":"
     "\"config\",\"tags\":[{\"name\":\"delete.threatProtectionApiKeys\",\"value\":\"false\"}],"
     "\"user\":{\"email\":\"bob@example.com\",\"ipAddress\":\"198.51.100.77\"}},\"guid\":"
     "\"guid-0002\",\"id\":\"id-3\",\"ts\":"
     "\"2025-03-04T08:16:03.551020+0000\"}"},
    /* neither guid nor id: keeps its hash key */
    {"0123456789abcdef", 1741076200000000,
     "{\"audit\":{\"action\":\"logout\",\"user\":{\"email\":\"carol@example.com\"}},"
     "\"ts\":\"2025-03-04T08:16:40+0000\"}"},
};

static void make_v2_audit_db(const char *path)
{
    ps_store *st = NULL;
    ps_errmsg em;
    sqlite3 *db;
    assert_int_equal(ps_store_create(path, PS_STORE_WRITER, &st, &em), PS_OK);
    assert_int_equal(ps_store_begin(st, &em), PS_OK);
    for (size_t i = 0; i < sizeof v2_rows / sizeof v2_rows[0]; i++) {
        ps_event ev;
        bool dup = true;
        ps_event_init(&ev);
        ev.type = PS_DATA_AUDIT;
        ev.ts_us = v2_rows[i].ts_us;
        ev.key = strdup(v2_rows[i].key);
        assert_int_equal(
            ps_store_insert(st, 4, &ev, v2_rows[i].json, strlen(v2_rows[i].json), NULL, &dup, &em),
            PS_OK);
        assert_false(dup);
        ps_event_deinit(&ev);
    }
    assert_int_equal(ps_store_commit(st, &em), PS_OK);
    ps_store_destroy(st);
    db = peek_open(path);
    assert_int_equal(sqlite3_exec(db,
                                  "ALTER TABLE events DROP COLUMN actor;"
                                  "ALTER TABLE events DROP COLUMN resource;"
                                  "ALTER TABLE events DROP COLUMN result;"
                                  "ALTER TABLE counters DROP COLUMN empty_frames;"
                                  "DROP TABLE chunk_devices;"
                                  "PRAGMA user_version=2;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
}

typedef struct found {
    char key[64], actor[64], json[1024];
    int n;
} found;

static bool keep_row(const ps_event_row *r, void *ctx)
{
    found *f = ctx;
    f->n++;
    snprintf(f->key, sizeof f->key, "%s", r->key);
    snprintf(f->actor, sizeof f->actor, "%s", r->text[PS_EF_ACTOR] ? r->text[PS_EF_ACTOR] : "");
    snprintf(f->json, sizeof f->json, "%.*s", (int)r->raw_len, r->raw ? r->raw : "");
    return true;
}

static void test_v2_audit_rows_upgrade(void **state)
{
    scratch s;
    ps_store *st = NULL;
    ps_errmsg em;
    ps_query q;
    found f;
    sqlite3 *db;
    (void)state;
    scratch_make(&s);
    make_v2_audit_db(s.db);
    assert_int_equal(ps_store_create(s.db, PS_STORE_WRITER, &st, &em), PS_OK);

    db = peek_open(s.db);
    assert_int_equal(peek_int(db, "SELECT count(*) FROM events WHERE type = 2"), 3);
    assert_int_equal(peek_int(db, "SELECT count(*) FROM events WHERE key = 'g-1' AND "
                                  "actor = 'alice@example.com' AND action = 'login' AND "
                                  "resource = 'authorization' AND result = 'success' AND "
                                  "client_ip = '203.0.113.9'"),
                     1);
    assert_int_equal(peek_int(db, "SELECT count(*) FROM events WHERE key = 'guid-0002' AND "
                                  "actor = 'bob@example.com' AND action = 'delete' AND "
                                  "resource = 'config: siem-export' AND result = 'failure' AND "
                                  "client_ip = '198.51.100.77' AND fmt = 1"),
                     1);
    assert_int_equal(peek_int(db, "SELECT count(*) FROM events WHERE key IN ('id-legacy-1', "
                                  "'id-3')"),
                     0);
    assert_int_equal(peek_int(db, "SELECT count(*) FROM events WHERE key = '0123456789abcdef' "
                                  "AND actor = 'carol@example.com'"),
                     1);
    sqlite3_close(db);

    /* The full-text index and the JSON follow: found by the new key and by the
     * actor's name, the JSON exactly as it arrived. */
    ps_query_init(&q);
    q.key = "g-1";
    q.want_raw = true;
    memset(&f, 0, sizeof f);
    assert_int_equal(ps_store_query(st, &q, keep_row, &f, &em), PS_OK);
    assert_int_equal(f.n, 1);
    assert_string_equal(f.json, v2_rows[0].json);
    ps_query_init(&q);
    q.search = "bob@example.com";
    q.want_raw = true;
    memset(&f, 0, sizeof f);
    assert_int_equal(ps_store_query(st, &q, keep_row, &f, &em), PS_OK);
    assert_int_equal(f.n, 1);
    assert_string_equal(f.key, "guid-0002");
    assert_string_equal(f.json, v2_rows[1].json);
    ps_store_destroy(st);
    db = peek_open(s.db);
    assert_int_equal(peek_int(db, "PRAGMA user_version"), PS_STORE_SCHEMA_VERSION);
    assert_int_equal(peek_int(db, "SELECT count(*) FROM pragma_integrity_check "
                                  "WHERE integrity_check <> 'ok'"),
                     0);
    sqlite3_close(db);
    scratch_remove(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_earlier_version_upgrades),
        cmocka_unit_test(test_new_database),
        cmocka_unit_test(test_reopen_keeps_data),
        cmocka_unit_test(test_newer_version_refused),
        cmocka_unit_test(test_older_version_needs_writer),
        cmocka_unit_test(test_foreign_database_refused),
        cmocka_unit_test(test_v2_audit_rows_upgrade),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
