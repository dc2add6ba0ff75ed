/* ps_store schema: the ordered list of migrations and the code that applies them.
 *
 * PRAGMA user_version is the schema version. Migration N takes a database at
 * version N-1 to N inside one transaction, so a crash mid-upgrade leaves the old
 * version intact. Shipped steps are never edited: a change is a new step. */
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "store/ps_store_codec.h"
#include "store/ps_store_migrate.h"
#include "store/ps_store_text.h"

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

/* Version 3: audit events as POD sends them (issue #15). Typed columns for an
 * admin: who (actor), on what (resource), with what outcome (result); `action` and
 * `client_ip` are shared with message events. The rows stored before are filled
 * and re-keyed by v3_audit_rows. */
static const char v3_sql[] = "ALTER TABLE events ADD COLUMN actor TEXT;"
                             "ALTER TABLE events ADD COLUMN resource TEXT;"
                             "ALTER TABLE events ADD COLUMN result TEXT;";

/* The statements v3_audit_rows runs per row. */
typedef struct v3_stmts {
    sqlite3_stmt *sel, *dup, *del, *deref, *set_key, *set_cols, *fts_del, *fts_ins;
} v3_stmts;

/* Columns of v3_stmts.sel after the typed ones. */
enum { V3_TS = PS_EF__COUNT, V3_DEV, V3_KEY, V3_DICT, V3_FMT, V3_RAWLEN, V3_RAW };

static ps_err v3_prepare(ps_store_db *db, v3_stmts *q, ps_errmsg *em)
{
    char sel[1024], cols[1024];
    size_t n = 0, m = 0;
    for (int i = 0; i < PS_EF__COUNT; i++) {
        n += (size_t)snprintf(sel + n, sizeof sel - n, "%s%s", i ? ", " : "SELECT ",
                              ps_store_field_col[i]);
        m += (size_t)snprintf(cols + m, sizeof cols - m, "%s%s = ?",
                              i ? ", " : "UPDATE events SET ", ps_store_field_col[i]);
    }
    snprintf(sel + n, sizeof sel - n,
             ", ts_us, device_id, key, dict_id, fmt, raw_len, raw FROM events WHERE id = ?");
    snprintf(cols + m, sizeof cols - m, " WHERE id = ?");
    const struct {
        sqlite3_stmt **s;
        const char *sql;
    } all[] = {
        {&q->sel, sel},
        {&q->set_cols, cols},
        {&q->dup, "SELECT key FROM events WHERE ts_us = ? AND device_id = ? AND key_hash = ? "
                  "AND id <> ?"},
        {&q->del, "DELETE FROM events WHERE id = ?"},
        {&q->deref, "UPDATE dicts SET refs = refs - 1 WHERE id = ?"},
        {&q->set_key, "UPDATE events SET key = ?, key_hash = ?, dict_id = 0, fmt = 0, "
                      "raw_len = ?, raw = ? WHERE id = ?"},
        {&q->fts_del, "INSERT INTO events_fts(events_fts, rowid, doc) VALUES('delete', ?, ?)"},
        {&q->fts_ins, "INSERT INTO events_fts(rowid, doc) VALUES(?, ?)"},
    };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (sqlite3_prepare_v2(db->db, all[i].sql, -1, all[i].s, NULL) != SQLITE_OK)
            return ps_store_dberr(db, em, "preparing the audit upgrade");
    return PS_OK;
}

static void v3_finalize(v3_stmts *q)
{
    sqlite3_stmt *all[] = {q->sel,     q->dup,      q->del,     q->deref,
                           q->set_key, q->set_cols, q->fts_del, q->fts_ins};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        sqlite3_finalize(all[i]);
}

/* A free key_hash slot for key at (ts, device) other than row id's own; *dup when
 * another row already holds the same key there. */
static ps_err v3_slot(ps_store_db *db, v3_stmts *q, sqlite3_int64 id, sqlite3_int64 ts,
                      sqlite3_int64 dev, const char *key, int64_t *h, bool *dup, ps_errmsg *em)
{
    *h = (int64_t)ps_store_hash64(key, strlen(key));
    *dup = false;
    for (int probe = 0; probe < 16; probe++, *h = (int64_t)((uint64_t)*h + 1)) {
        int rc;
        sqlite3_bind_int64(q->dup, 1, ts);
        sqlite3_bind_int64(q->dup, 2, dev);
        sqlite3_bind_int64(q->dup, 3, *h);
        sqlite3_bind_int64(q->dup, 4, id);
        rc = sqlite3_step(q->dup);
        if (rc == SQLITE_ROW)
            *dup = strcmp((const char *)sqlite3_column_text(q->dup, 0), key) == 0;
        sqlite3_reset(q->dup);
        if (rc == SQLITE_DONE || *dup)
            return PS_OK;
        if (rc != SQLITE_ROW)
            return ps_store_dberr(db, em, "re-keying an audit event");
    }
    return ps_errmsg_set(em, PS_ERR_INTERNAL, "no free natural-key slot for audit event %s", key);
}

/* Runs s, bound by the caller, once. */
static ps_err v3_step(ps_store_db *db, sqlite3_stmt *s, ps_errmsg *em)
{
    return ps_store_step_done(db, s, "upgrading audit events", em);
}

static ps_err v3_fts(ps_store_db *db, sqlite3_stmt *s, sqlite3_int64 id, const ps_store_doc *d,
                     ps_errmsg *em)
{
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_text(s, 2, d->p ? d->p : "", (int)d->len, SQLITE_STATIC);
    return v3_step(db, s, em);
}

/* A row whose key changes keeps its JSON whole (fmt 0, no dictionary): elided
 * text names its old key, and the one-off cost of a plain zstd frame is small. */
static ps_err v3_rekey(ps_store_db *db, v3_stmts *q, sqlite3_int64 id, const char *key, int64_t h,
                       const char *json, size_t len, sqlite3_int64 old_dict, ps_errmsg *em)
{
    size_t cap = ZSTD_compressBound(len), n;
    void *z = malloc(cap);
    ps_err err;
    if (!z)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory upgrading audit events");
    n = ZSTD_compress(z, cap, json, len, 3);
    if (ZSTD_isError(n)) {
        free(z);
        return ps_errmsg_set(em, PS_ERR_INTERNAL, "compressing an audit event: %s",
                             ZSTD_getErrorName(n));
    }
    sqlite3_bind_text(q->set_key, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q->set_key, 2, h);
    sqlite3_bind_int64(q->set_key, 3, (sqlite3_int64)len);
    sqlite3_bind_blob(q->set_key, 4, z, (int)n, SQLITE_STATIC);
    sqlite3_bind_int64(q->set_key, 5, id);
    err = v3_step(db, q->set_key, em);
    free(z);
    if (err == PS_OK && old_dict != 0) {
        sqlite3_bind_int64(q->deref, 1, old_dict);
        err = v3_step(db, q->deref, em);
    }
    return err;
}

/* What one stored audit row becomes: its typed values and, when the JSON has a
 * guid other than the stored key, that guid as key. */
typedef struct v3_row {
    const char *old_text[PS_EF__COUNT];
    const char *old_key;
    ps_event ev;
    ps_store_doc old_doc, new_doc;
} v3_row;

static ps_err v3_apply(ps_store_db *db, v3_stmts *q, sqlite3_int64 id, v3_row *r, const char *json,
                       size_t len, ps_errmsg *em)
{
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(r->ev.root, "guid");
    bool rekey = cJSON_IsString(g) && r->ev.key && strcmp(g->valuestring, r->ev.key) == 0 &&
                 strcmp(r->ev.key, r->old_key) != 0;
    const char *key = rekey ? r->ev.key : r->old_key;
    sqlite3_int64 ts = sqlite3_column_int64(q->sel, V3_TS);
    sqlite3_int64 dev = sqlite3_column_int64(q->sel, V3_DEV);
    sqlite3_int64 dict = sqlite3_column_int64(q->sel, V3_DICT);
    ps_err err;

    if ((err = ps_store_fts_doc(&r->old_doc, r->old_key, r->old_text, em)) != PS_OK ||
        (err = ps_store_fts_doc(&r->new_doc, key, (const char *const *)r->ev.text, em)) != PS_OK ||
        (err = v3_fts(db, q->fts_del, id, &r->old_doc, em)) != PS_OK)
        return err;
    if (rekey) {
        int64_t h;
        bool dup;
        if ((err = v3_slot(db, q, id, ts, dev, key, &h, &dup, em)) != PS_OK)
            return err;
        if (dup) {
            /* The same event, stored once under each key: keep the other copy. */
            sqlite3_bind_int64(q->del, 1, id);
            if ((err = v3_step(db, q->del, em)) == PS_OK && dict != 0) {
                sqlite3_bind_int64(q->deref, 1, dict);
                err = v3_step(db, q->deref, em);
            }
            return err;
        }
        if ((err = v3_rekey(db, q, id, key, h, json, len, dict, em)) != PS_OK)
            return err;
    }
    for (int i = 0; i < PS_EF__COUNT; i++)
        sqlite3_bind_text(q->set_cols, i + 1, r->ev.text[i], -1, SQLITE_STATIC);
    sqlite3_bind_int64(q->set_cols, PS_EF__COUNT + 1, id);
    if ((err = v3_step(db, q->set_cols, em)) != PS_OK)
        return err;
    return v3_fts(db, q->fts_ins, id, &r->new_doc, em);
}

/* One audit row: read, expanded, parsed as an event, then rewritten. A row that
 * no longer parses keeps what it has. */
static ps_err v3_one(ps_store_db *db, v3_stmts *q, ps_store_codec *c, sqlite3_int64 id,
                     ps_errmsg *em)
{
    v3_row r;
    const char *json = NULL;
    size_t len = 0;
    ps_errmsg ignored;
    ps_err err = PS_OK;
    memset(&r, 0, sizeof r);
    ps_event_init(&r.ev);
    sqlite3_bind_int64(q->sel, 1, id);
    if (sqlite3_step(q->sel) != SQLITE_ROW) {
        err = ps_store_dberr(db, em, "reading an audit event");
        goto out;
    }
    for (int i = 0; i < PS_EF__COUNT; i++)
        r.old_text[i] = (const char *)sqlite3_column_text(q->sel, i);
    r.old_key = (const char *)sqlite3_column_text(q->sel, V3_KEY);
    err = ps_store_row_json(
        c, db, sqlite3_column_int64(q->sel, V3_DICT), sqlite3_column_int(q->sel, V3_FMT),
        sqlite3_column_blob(q->sel, V3_RAW), (size_t)sqlite3_column_bytes(q->sel, V3_RAW),
        (size_t)sqlite3_column_int64(q->sel, V3_RAWLEN), r.old_key, r.old_text, &json, &len, em);
    if (err != PS_OK || !r.old_key)
        goto out;
    if (ps_event_parse(&r.ev, PS_DATA_AUDIT, json, len, &ignored) != PS_OK ||
        ps_event_extract(&r.ev, &ignored) != PS_OK)
        goto out;
    err = v3_apply(db, q, id, &r, json, len, em);
out:
    sqlite3_reset(q->sel);
    ps_event_deinit(&r.ev);
    ps_buf_deinit(&r.old_doc);
    ps_buf_deinit(&r.new_doc);
    return err;
}

/* Audit rows stored before version 3 get their typed values, and the key POD
 * gives them (guid) where they were stored under another (podsim's old `id`). */
static ps_err v3_audit_rows(ps_store_db *db, ps_errmsg *em)
{
    v3_stmts q = {0};
    ps_store_codec c;
    sqlite3_stmt *ids = NULL;
    sqlite3_int64 *list = NULL;
    size_t n = 0, cap = 0;
    ps_err err = ps_store_codec_init(&c);
    if (err != PS_OK)
        return ps_errmsg_set(em, err, "out of memory upgrading audit events");
    /* The ids first: the loop rewrites and may delete rows of the table it reads. */
    if ((err = v3_prepare(db, &q, em)) != PS_OK)
        goto out;
    if (sqlite3_prepare_v2(db->db, "SELECT id FROM events WHERE type = 2", -1, &ids, NULL) !=
        SQLITE_OK) {
        err = ps_store_dberr(db, em, "listing audit events");
        goto out;
    }
    while (sqlite3_step(ids) == SQLITE_ROW) {
        if (ps_mem_grow_array((void **)&list, &cap, n, sizeof *list) != PS_OK) {
            err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory upgrading audit events");
            goto out;
        }
        list[n++] = sqlite3_column_int64(ids, 0);
    }
    for (size_t i = 0; i < n && err == PS_OK; i++)
        err = v3_one(db, &q, &c, list[i], em);
out:
    sqlite3_finalize(ids);
    v3_finalize(&q);
    ps_store_codec_deinit(&c);
    free(list);
    return err;
}

/* Version 4: outputs (issue #16). One row per output ever configured: its cursor
 * (the last event id its destination acknowledged, or that it examined and did not
 * take), whether it is enabled (retention waits for the lowest enabled cursor), and
 * the counters `status`, the metrics and the GUI show, written by its runner. */
static const char v4_sql[] = "CREATE TABLE IF NOT EXISTS outputs("
                             " name TEXT PRIMARY KEY,"
                             " type TEXT NOT NULL DEFAULT '',"
                             " enabled INTEGER NOT NULL DEFAULT 1,"
                             " last_id INTEGER NOT NULL DEFAULT 0,"
                             " state INTEGER NOT NULL DEFAULT 0,"
                             " rate REAL NOT NULL DEFAULT 0,"
                             " last_error TEXT NOT NULL DEFAULT '',"
                             " last_error_us INTEGER NOT NULL DEFAULT 0,"
                             " last_delivery_us INTEGER NOT NULL DEFAULT 0,"
                             " delivered INTEGER NOT NULL DEFAULT 0,"
                             " dropped INTEGER NOT NULL DEFAULT 0,"
                             " split INTEGER NOT NULL DEFAULT 0,"
                             " truncated INTEGER NOT NULL DEFAULT 0,"
                             " duplicates INTEGER NOT NULL DEFAULT 0,"
                             " retention_dropped INTEGER NOT NULL DEFAULT 0,"
                             " updated_us INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;";

/* Version 5: empty WebSocket messages per device, a counter like the others so that
 * `status` and the metrics file show what the engine already counted. */
static const char v5_sql[] =
    "ALTER TABLE counters ADD COLUMN empty_frames INTEGER NOT NULL DEFAULT 0;";

/* Version 6: for each chunk of 1,024 ids and each device, which of the ids are that
 * device's (a 128-byte bitmap) and their largest ts (ps_store_chunkdev.h): a
 * newest-first search skips the candidates of a device that is behind without
 * reading them. Rows stored before this step have none and are read as before:
 * filling it in would read every event at upgrade. */
static const char v6_sql[] = "CREATE TABLE chunk_devices("
                             " chunk INTEGER NOT NULL,"
                             " device_id INTEGER NOT NULL,"
                             " max_ts INTEGER NOT NULL,"
                             " ids BLOB NOT NULL,"
                             " PRIMARY KEY(chunk, device_id)) WITHOUT ROWID;";

typedef struct ps_migration {
    int version;
    const char *sql;
    ps_err (*code)(ps_store_db *db, ps_errmsg *em); /* after sql, same transaction; NULL: none */
} ps_migration;

/* Append only. */
static const ps_migration migrations[] = {
    {1, v1_sql, NULL}, {2, v2_sql, NULL}, {3, v3_sql, v3_audit_rows},
    {4, v4_sql, NULL}, {5, v5_sql, NULL}, {6, v6_sql, NULL},
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
    if ((m->code && (err = m->code(db, em)) != PS_OK) ||
        (err = ps_store_exec(db, sql, em)) != PS_OK ||
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
