/* ps_store schema: the ordered list of migrations and the code that applies them.
 *
 * PRAGMA user_version is the schema version. Migration N takes a database at
 * version N-1 to N inside one transaction, so a crash mid-upgrade leaves the old
 * version intact. Shipped steps are never edited: a change is a new step. */
#include <string.h>

#include "store/ps_store_migrate.h"

/* Version 1, the first release.
 *
 * events: one row per stored event. The rowid grows with every insert and is the
 * full-text rowid. The only B-tree index is the natural key, led by ts so that
 * inserts land at the end of it (POD delivers in roughly increasing ts); a
 * random-valued index (sender, qid) would cost about 4x the ingest rate. Lookups by
 * sender, recipient, qid, message-id and key go through hashed tokens in the
 * full-text index instead, and the typed column confirms each candidate exactly.
 *
 * Dedup is UNIQUE(ts_us, device_id, key_hash), key_hash being a 64-bit hash of the
 * natural key: half the index of the key itself. A hash that is taken by another
 * key (two keys, one hash, one microsecond) moves to the next free value, so
 * dedup stays exact. A re-sent event carries the same guid (maillog: id) and ts
 * and is dropped and counted. An event that came back with the same key but a
 * different ts is stored again: telling it apart would need a second,
 * random-valued index on the key alone, and keeping a possible duplicate is the
 * safe side for an archive of record. `podstream trace` shows both.
 *
 * raw: the event JSON, zstd-compressed with dictionary dict_id (0: none); with
 * fmt 1 the typed values were elided from it first (ps_store_elide.c).
 *
 * events_fts: contentless (the text lives in events only), detail=none and no
 * column sizes: we need "which rows contain these tokens", not ranking or
 * positions, and this keeps the index a fraction of the data.
 *
 * chunks: for each 1,024 consecutive ids, the range of their ts and the largest
 * ts of any id up to them (pmax): a newest-first query walking the full-text
 * index backwards stops once pmax falls below what it already has. */
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

/* Version 2: the trip window, what a repair trip's own close of the live session
 * abandoned, kept apart from the repair window so that trips do not chain (see
 * ps_engine_repair.h). Written with the batch, like the repair window. */
static const char v2_sql[] =
    "ALTER TABLE resume ADD COLUMN trip_from_us INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE resume ADD COLUMN trip_to_us INTEGER NOT NULL DEFAULT 0;";

typedef struct ps_migration {
    int version;
    const char *sql;
} ps_migration;

/* Append only. A step may also need code (rewriting rows); add a function pointer
 * here when the first such step comes. */
static const ps_migration migrations[] = {
    {1, v1_sql},
    {2, v2_sql},
};

_Static_assert(sizeof migrations / sizeof migrations[0] == PS_STORE_SCHEMA_VERSION,
               "one migration per schema version");

ps_err ps_store_read_version(ps_store_db *db, int *out, ps_errmsg *em)
{
    sqlite3_stmt *s = NULL;
    ps_err err = PS_OK;
    *out = 0;
    if (sqlite3_prepare_v2(db->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
        return ps_store_dberr(db, em, "reading the schema version");
    if (sqlite3_step(s) == SQLITE_ROW)
        *out = sqlite3_column_int(s, 0);
    else
        err = ps_store_dberr(db, em, "reading the schema version");
    sqlite3_finalize(s);
    return err;
}

static ps_err apply(ps_store_db *db, const ps_migration *m, ps_errmsg *em)
{
    char sql[64];
    ps_err err = ps_store_exec(db, "BEGIN IMMEDIATE", em);
    if (err != PS_OK)
        return err;
    if (sqlite3_exec(db->db, m->sql, NULL, NULL, NULL) != SQLITE_OK) {
        char what[64];
        snprintf(what, sizeof what, "upgrading the schema to version %d", m->version);
        err = ps_store_dberr(db, em, what);
        (void)sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
        return err;
    }
    snprintf(sql, sizeof sql, "PRAGMA user_version=%d", m->version);
    if ((err = ps_store_exec(db, sql, em)) != PS_OK ||
        (err = ps_store_exec(db, "COMMIT", em)) != PS_OK) {
        (void)sqlite3_exec(db->db, "ROLLBACK", NULL, NULL, NULL);
        return err;
    }
    return PS_OK;
}

ps_err ps_store_migrate(ps_store_db *db, ps_errmsg *em)
{
    int version = 0;
    ps_err err = ps_store_read_version(db, &version, em);
    if (err != PS_OK)
        return err;
    if (version > PS_STORE_SCHEMA_VERSION)
        return ps_errmsg_set(em, PS_ERR_UNSUPPORTED,
                             "%s: database schema version %d is newer than this podstream "
                             "understands (%d); use the podstream release that wrote it",
                             db->path, version, PS_STORE_SCHEMA_VERSION);
    if (version < 0)
        return ps_errmsg_set(em, PS_ERR_INVALID,
                             "%s: database schema version %d is not one podstream writes; is "
                             "this a podstream database?",
                             db->path, version);
    if (version == 0) {
        /* An empty user_version on a file that already has tables is some other
         * program's database: refuse rather than add ours beside it. */
        sqlite3_stmt *s = NULL;
        int tables = 0;
        if (sqlite3_prepare_v2(db->db, "SELECT count(*) FROM sqlite_schema", -1, &s, NULL) !=
            SQLITE_OK)
            return ps_store_dberr(db, em, "reading the schema");
        if (sqlite3_step(s) == SQLITE_ROW)
            tables = sqlite3_column_int(s, 0);
        sqlite3_finalize(s);
        if (tables > 0)
            return ps_errmsg_set(em, PS_ERR_INVALID,
                                 "%s: the file has tables but no podstream schema version; is "
                                 "this a podstream database?",
                                 db->path);
    }
    for (size_t i = 0; i < sizeof migrations / sizeof migrations[0]; i++) {
        if (migrations[i].version <= version)
            continue;
        if ((err = apply(db, &migrations[i], em)) != PS_OK)
            return err;
    }
    return PS_OK;
}
