/* ps_store: opening the database, the writer's batch API, resume state and counters.
 * Schema: ps_store_migrate.c; compression: ps_store_codec.c; reading:
 * ps_store_query.c; retention: ps_store_retention.c; output: ps_store_format.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_mem.h"
#include "podstream/ps_platform.h"
#include "store/ps_store_internal.h"

const char *const ps_store_field_col[PS_EF__COUNT] = {
    "sender", "recipients", "subject",   "disposition", "action",  "module", "rule", "direction",
    "qid",    "message_id", "client_ip", "client_host", "country", "stat",   "dsn",  "relay",
};

/* Typed values are for listing and filtering; the full event is kept in `raw`.
 * A subject can be many kilobytes of spam: keep the part a person reads. */
#define PS_STORE_SUBJECT_MAX 1000
#define PS_STORE_FIELD_MAX   4000

const char *ps_device_state_name(ps_device_state s)
{
    switch (s) {
    case PS_STATE_STOPPED:
        return "stopped";
    case PS_STATE_CONNECTING:
        return "connecting";
    case PS_STATE_LIVE:
        return "live";
    case PS_STATE_BACKFILL:
        return "backfill";
    case PS_STATE_BACKOFF:
        return "backoff";
    case PS_STATE_UNAUTHORISED:
        return "unauthorised";
    case PS_STATE_ERROR:
        return "error";
    }
    return "unknown";
}

ps_err ps_store_dberr(ps_store *st, ps_errmsg *em, const char *what)
{
    int code = st && st->db ? sqlite3_extended_errcode(st->db) : SQLITE_ERROR;
    const char *msg = st && st->db ? sqlite3_errmsg(st->db) : "no connection";
    ps_err err = PS_ERR_DB;
    if ((code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED)
        err = PS_ERR_CONFLICT;
    else if ((code & 0xff) == SQLITE_NOMEM)
        err = PS_ERR_NOMEM;
    else if ((code & 0xff) == SQLITE_FULL || (code & 0xff) == SQLITE_IOERR)
        err = PS_ERR_IO;
    if (st && st->path)
        return ps_errmsg_set(em, err, "%s: %s: %s", st->path, what, msg);
    return ps_errmsg_set(em, err, "%s: %s", what, msg);
}

ps_err ps_store_exec(ps_store *st, const char *sql, ps_errmsg *em)
{
    if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return ps_store_dberr(st, em, "SQL failed");
    return PS_OK;
}

static ps_err prepare(ps_store *st, sqlite3_stmt **out, const char *sql, ps_errmsg *em)
{
    if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL) != SQLITE_OK)
        return ps_store_dberr(st, em, "preparing a statement");
    return PS_OK;
}

/* ---- normalisation and hashed tokens ------------------------------------------ */

static void trim(const char **s, size_t *len)
{
    while (*len > 0 && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
        (*len)--;
}

size_t ps_store_norm_msgid(const char *s, size_t len, char *buf, size_t buflen)
{
    trim(&s, &len);
    if (len >= 2 && s[0] == '<' && s[len - 1] == '>') {
        s++;
        len -= 2;
        trim(&s, &len);
    }
    if (len >= buflen)
        return (size_t)-1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return len;
}

size_t ps_store_norm_addr(const char *s, size_t len, char *buf, size_t buflen)
{
    size_t n = ps_store_norm_msgid(s, len, buf, buflen);
    if (n == (size_t)-1)
        return n;
    for (size_t i = 0; i < n; i++)
        if (buf[i] >= 'A' && buf[i] <= 'Z')
            buf[i] = (char)(buf[i] - 'A' + 'a');
    return n;
}

/* FNV-1a with a final avalanche. The tokens it makes are stored in the full-text
 * index, so this function is part of the schema: never change it. */
uint64_t ps_store_hash64(const char *s, size_t len)
{
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

void ps_store_hash_token(char prefix, const char *value, size_t len, char *buf)
{
    static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";
    uint64_t h = ps_store_hash64(value, len);
    buf[0] = prefix;
    /* 2^20 buckets per kind. Unique tokens would make the index hold one term
     * per event and merge them over and over; buckets bound the number of terms,
     * and every candidate a bucket yields is compared exactly anyway. At 100
     * million events a queue id lookup confirms a few dozen candidates. */
    for (int i = 0; i < PS_HASH_TOKEN_LEN - 1; i++)
        buf[1 + i] = b32[(h >> (5 * i)) & 31];
    buf[PS_HASH_TOKEN_LEN] = '\0';
}

/* ---- the full-text document ----------------------------------------------------- */

static ps_err doc_append(ps_store_doc *doc, const char *s, size_t len)
{
    if (!doc->s || doc->len + len + 2 > doc->cap) {
        size_t cap = doc->cap ? doc->cap : 1024;
        while (cap < doc->len + len + 2)
            cap *= 2;
        char *p = realloc(doc->s, cap);
        if (!p)
            return PS_ERR_NOMEM;
        doc->s = p;
        doc->cap = cap;
    }
    if (doc->len > 0)
        doc->s[doc->len++] = ' ';
    memcpy(doc->s + doc->len, s, len);
    doc->len += len;
    doc->s[doc->len] = '\0';
    return PS_OK;
}

static ps_err doc_token(ps_store_doc *doc, char prefix, const char *v, size_t len, bool addr)
{
    char norm[1024];
    char tok[12];
    size_t n = addr ? ps_store_norm_addr(v, len, norm, sizeof norm)
                    : ps_store_norm_msgid(v, len, norm, sizeof norm);
    if (n == (size_t)-1 || n == 0)
        return PS_OK; /* unmatchable by an exact filter anyway */
    ps_store_hash_token(prefix, norm, n, tok);
    return doc_append(doc, tok, PS_HASH_TOKEN_LEN);
}

ps_err ps_store_fts_doc(ps_store_doc *doc, const char *key, const char *const text[PS_EF__COUNT],
                        ps_errmsg *em)
{
    /* Ids (key, qid, message-id) are random strings: as words they would add a
     * unique term per event for nothing a person searches by words. They are
     * indexed only as hashed exact-match tokens. */
    static const ps_event_field words[] = {
        PS_EF_SUBJECT, PS_EF_SENDER, PS_EF_RECIPIENTS, PS_EF_DISPOSITION, PS_EF_ACTION,
        PS_EF_MODULE,  PS_EF_RULE,   PS_EF_DIRECTION,  PS_EF_CLIENT_IP,   PS_EF_CLIENT_HOST,
        PS_EF_COUNTRY, PS_EF_STAT,   PS_EF_DSN,        PS_EF_RELAY,
    };
    ps_err err = PS_OK;
    doc->len = 0;
    if (doc->s)
        doc->s[0] = '\0';
    for (size_t i = 0; i < sizeof words / sizeof words[0] && err == PS_OK; i++) {
        const char *v = text[words[i]];
        if (v && *v)
            err = doc_append(doc, v, strlen(v));
    }
    if (err == PS_OK && key)
        err = doc_token(doc, 'g', key, strlen(key), false);
    if (err == PS_OK && text[PS_EF_QID])
        err = doc_token(doc, 'q', text[PS_EF_QID], strlen(text[PS_EF_QID]), false);
    if (err == PS_OK && text[PS_EF_MESSAGE_ID])
        err = doc_token(doc, 'm', text[PS_EF_MESSAGE_ID], strlen(text[PS_EF_MESSAGE_ID]), false);
    if (err == PS_OK && text[PS_EF_SENDER])
        err = doc_token(doc, 'f', text[PS_EF_SENDER], strlen(text[PS_EF_SENDER]), true);
    if (err == PS_OK && text[PS_EF_RECIPIENTS]) {
        const char *p = text[PS_EF_RECIPIENTS];
        while (err == PS_OK && *p) {
            const char *comma = strchr(p, ',');
            size_t n = comma ? (size_t)(comma - p) : strlen(p);
            err = doc_token(doc, 't', p, n, true);
            p += n;
            if (*p == ',')
                p++;
        }
    }
    if (err == PS_OK && !doc->s)
        err = doc_append(doc, "", 0);
    if (err != PS_OK)
        return ps_errmsg_set(em, err, "building the full-text entry: out of memory");
    return PS_OK;
}

/* ---- open and close ---------------------------------------------------------------- */

static ps_err set_pragmas(ps_store *st, ps_errmsg *em)
{
    if (st->mode == PS_STORE_WRITER) {
        /* WAL: readers never block the writer. synchronous=NORMAL: a crash of the
         * process loses nothing; a power cut may lose the last batches, and their
         * resume point with them, so those events are fetched again. */
        static const char *const w[] = {
            "PRAGMA journal_mode=WAL",   "PRAGMA synchronous=NORMAL",
            "PRAGMA cache_size=-8192",   "PRAGMA temp_store=MEMORY",
            "PRAGMA secure_delete=FAST", "PRAGMA journal_size_limit=67108864",
            "PRAGMA foreign_keys=OFF",
        };
        for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
            ps_err err = ps_store_exec(st, w[i], em);
            if (err != PS_OK)
                return err;
        }
        return PS_OK;
    }
    if (sqlite3_exec(st->db, "PRAGMA query_only=1; PRAGMA cache_size=-32768", NULL, NULL, NULL) !=
        SQLITE_OK) {
        int code = sqlite3_extended_errcode(st->db);
        /* With the service stopped there is no -shm file, and a reader must create
         * one to read a WAL database: say so rather than "readonly database". */
        if ((code & 0xff) == SQLITE_READONLY || (code & 0xff) == SQLITE_CANTOPEN)
            return ps_errmsg_set(em, PS_ERR_PERM,
                                 "%s: cannot read the database while the service is stopped: "
                                 "SQLite must create %s-shm beside it and this account cannot "
                                 "write there; run this as the service account or root, or "
                                 "while the service runs",
                                 st->path, st->path);
        return ps_store_dberr(st, em, "reading the database");
    }
    return PS_OK;
}

static ps_err set_auto_vacuum(ps_store *st, ps_errmsg *em)
{
    sqlite3_stmt *s = NULL;
    int pages = -1;
    if (sqlite3_prepare_v2(st->db, "PRAGMA page_count", -1, &s, NULL) != SQLITE_OK)
        return ps_store_dberr(st, em, "reading the page count");
    if (sqlite3_step(s) == SQLITE_ROW)
        pages = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    if (pages != 0)
        return PS_OK;
    return ps_store_exec(st, "PRAGMA auto_vacuum=INCREMENTAL", em);
}

static const char *const writer_sql[] = {
    "BEGIN IMMEDIATE",
    "COMMIT",
    "ROLLBACK",
};

static ps_err prepare_writer(ps_store *st, ps_errmsg *em)
{
    char sql[2048];
    size_t n;
    ps_err err;
    if ((err = prepare(st, &st->st_begin, writer_sql[0], em)) != PS_OK ||
        (err = prepare(st, &st->st_commit, writer_sql[1], em)) != PS_OK ||
        (err = prepare(st, &st->st_rollback, writer_sql[2], em)) != PS_OK)
        return err;
    n = (size_t)snprintf(sql, sizeof sql,
                         "INSERT INTO events(ts_us, device_id, type, key, key_hash");
    for (int i = 0; i < PS_EF__COUNT; i++)
        n += (size_t)snprintf(sql + n, sizeof sql - n, ", %s", ps_store_field_col[i]);
    n += (size_t)snprintf(sql + n, sizeof sql - n,
                          ", spam_score, size_bytes, tags, dict_id, fmt, raw_len, raw) "
                          "VALUES(?,?,?,?,?");
    for (int i = 0; i < PS_EF__COUNT; i++)
        n += (size_t)snprintf(sql + n, sizeof sql - n, ",?");
    snprintf(sql + n, sizeof sql - n,
             ",?,?,?,?,?,?,?) ON CONFLICT(ts_us, device_id, key_hash) DO NOTHING");
    if ((err = prepare(st, &st->st_ins_event, sql, em)) != PS_OK)
        return err;
    if ((err = prepare(st, &st->st_ins_fts, "INSERT INTO events_fts(rowid, doc) VALUES(?, ?)",
                       em)) != PS_OK)
        return err;
    if ((err = prepare(st, &st->st_ins_quar,
                       "INSERT INTO quarantine(received_us, device_id, type, reason, raw_len, "
                       "raw) VALUES(?,?,?,?,?,?)",
                       em)) != PS_OK)
        return err;
    if ((err = prepare(st, &st->st_hourly,
                       "INSERT INTO hourly(device_id, type, hour_us, events) VALUES(?,?,?,?) "
                       "ON CONFLICT(device_id, type, hour_us) DO UPDATE SET "
                       "events = events + excluded.events",
                       em)) != PS_OK)
        return err;
    if ((err = prepare(st, &st->st_resume_put,
                       "INSERT INTO resume(device_id, type, last_event_ts_us, last_healthy_us, "
                       "clean_shutdown, repair_from_us, repair_to_us) VALUES(?,?,?,?,?,?,?) "
                       "ON CONFLICT(device_id, type) DO "
                       "UPDATE SET last_event_ts_us = excluded.last_event_ts_us, "
                       "last_healthy_us = excluded.last_healthy_us, "
                       "clean_shutdown = excluded.clean_shutdown, "
                       "repair_from_us = excluded.repair_from_us, "
                       "repair_to_us = excluded.repair_to_us",
                       em)) != PS_OK)
        return err;
    if ((err = prepare(st, &st->st_counters_put,
                       "INSERT OR REPLACE INTO counters(device_id, name, type, state, "
                       "events_total, rate_10s, rate_1m, last_event_ts_us, lag_ms, reconnects, "
                       "duplicates, quarantined, dropped, failed, last_error, last_error_us, "
                       "updated_us) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                       em)) != PS_OK)
        return err;
    if ((err = prepare(st, &st->st_pipeline,
                       "INSERT INTO pipeline_counters(device_id, pipeline, dropped, failed) "
                       "VALUES(?,?,?,?) ON CONFLICT(device_id, pipeline) DO UPDATE SET "
                       "dropped = dropped + excluded.dropped, failed = failed + excluded.failed",
                       em)) != PS_OK)
        return err;
    if ((err = prepare(st, &st->st_dup,
                       "SELECT key FROM events WHERE ts_us = ? AND device_id = ? AND key_hash = ?",
                       em)) != PS_OK)
        return err;
    if ((err = prepare(st, &st->st_chunk,
                       "INSERT INTO chunks(id, min_ts, max_ts, pmax) VALUES(?1, ?2, ?3, "
                       "max(?3, coalesce((SELECT pmax FROM chunks WHERE id < ?1 ORDER BY id DESC "
                       "LIMIT 1), ?3))) ON CONFLICT(id) DO UPDATE SET "
                       "min_ts = min(min_ts, excluded.min_ts), "
                       "max_ts = max(max_ts, excluded.max_ts), pmax = max(pmax, excluded.pmax)",
                       em)) != PS_OK)
        return err;
    /* Normally no row: new ids land in the newest chunk. After every event was
     * deleted SQLite reuses small ids, and later chunks must still bound them. */
    if ((err = prepare(st, &st->st_chunk_raise,
                       "UPDATE chunks SET pmax = ?2 WHERE id > ?1 AND pmax < ?2", em)) != PS_OK)
        return err;
    return prepare(st, &st->st_dict_ref, "UPDATE dicts SET refs = refs + ? WHERE id = ?", em);
}

static ps_err create_file(const char *path, ps_errmsg *em)
{
    char *dir = strdup(path);
    char *slash;
    ps_err err = PS_OK;
    if (!dir)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    slash = strrchr(dir, PS_PATH_SEP);
    if (slash && slash != dir) {
        *slash = '\0';
        err = ps_plat_mkdirs(dir, 0750, em);
    }
    free(dir);
    if (err != PS_OK)
        return err;
    /* Created here rather than by SQLite so the mode is ours: events name people
     * and their mail. SQLite gives the -wal and -shm files the same mode. */
    err = ps_plat_create_exclusive(path, "", 0, 0640, em);
    if (err == PS_ERR_EXISTS)
        return PS_OK;
    return err;
}

ps_err ps_store_create(const char *path, ps_store_mode mode, ps_store **out, ps_errmsg *em)
{
    ps_store *st = NULL;
    ps_err err = PS_OK;
    int flags;
    int version = 0;
    *out = NULL;
    if (!path || !*path)
        return ps_errmsg_set(em, PS_ERR_INVALID, "no database path given");
    st = calloc(1, sizeof *st);
    if (!st)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    st->mode = mode;
    if (ps_store_codec_init(&st->codec) != PS_OK) {
        free(st);
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    }
    st->path = strdup(path);
    if (!st->path) {
        err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (mode == PS_STORE_WRITER) {
        err = create_file(path, em);
        if (err != PS_OK)
            goto out;
        flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    } else {
        if (!ps_plat_file_exists(path)) {
            err = ps_errmsg_set(em, PS_ERR_NOTFOUND,
                                "%s: no database there (the service creates it when it first "
                                "starts; check `database:` in podstream.yml)",
                                path);
            goto out;
        }
        flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX;
    }
    if (sqlite3_open_v2(path, &st->db, flags, NULL) != SQLITE_OK) {
        err = ps_store_dberr(st, em, "cannot open the database");
        if (sqlite3_errcode(st->db) == SQLITE_CANTOPEN)
            err = PS_ERR_IO;
        goto out;
    }
    sqlite3_extended_result_codes(st->db, 1);
    sqlite3_busy_timeout(st->db, mode == PS_STORE_WRITER ? 10000 : 5000);
    /* Only possible before the first table exists and before WAL: retention then
     * gives freed pages back to the file system step by step. */
    if (mode == PS_STORE_WRITER && (err = set_auto_vacuum(st, em)) != PS_OK)
        goto out;
    if ((err = set_pragmas(st, em)) != PS_OK)
        goto out;
    if (mode == PS_STORE_WRITER) {
        if ((err = ps_store_migrate(st, em)) != PS_OK)
            goto out;
        if ((err = prepare_writer(st, em)) != PS_OK)
            goto out;
        st->codec.training_enabled = true;
    } else {
        if ((err = ps_store_read_version(st, &version, em)) != PS_OK)
            goto out;
        if (version == 0) {
            err = ps_errmsg_set(em, PS_ERR_NOTFOUND,
                                "%s: the database is empty (the service has not started on it "
                                "yet)",
                                path);
            goto out;
        }
        if (version < PS_STORE_SCHEMA_VERSION) {
            err = ps_errmsg_set(em, PS_ERR_UNSUPPORTED,
                                "%s: database schema version %d is older than this podstream "
                                "(%d); start the service once to upgrade it",
                                path, version, PS_STORE_SCHEMA_VERSION);
            goto out;
        }
        if (version > PS_STORE_SCHEMA_VERSION) {
            err = ps_errmsg_set(em, PS_ERR_UNSUPPORTED,
                                "%s: database schema version %d is newer than this podstream "
                                "understands (%d); use the podstream release that wrote it",
                                path, version, PS_STORE_SCHEMA_VERSION);
            goto out;
        }
    }
    err = ps_store_codec_load(st, em);
out:
    if (err != PS_OK) {
        ps_store_destroy(st);
        return err;
    }
    *out = st;
    return PS_OK;
}

void ps_store_destroy(ps_store *st)
{
    if (!st)
        return;
    sqlite3_stmt **stmts[] = {&st->st_begin,        &st->st_commit,     &st->st_rollback,
                              &st->st_ins_event,    &st->st_ins_fts,    &st->st_ins_quar,
                              &st->st_hourly,       &st->st_resume_get, &st->st_resume_put,
                              &st->st_counters_put, &st->st_pipeline,   &st->st_dict_ref,
                              &st->st_dup,          &st->st_chunk,      &st->st_chunk_raise};
    if (st->in_batch)
        (void)ps_store_rollback(st);
    ps_store_prep_destroy(st->prep);
    /* Joins a running training before the connection goes away. */
    ps_store_codec_deinit(&st->codec);
    for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++) {
        sqlite3_finalize(*stmts[i]);
        *stmts[i] = NULL;
    }
    if (st->tokenizer && st->tokenizer_mod) {
        const fts5_tokenizer *mod = st->tokenizer_mod;
        mod->xDelete(st->tokenizer);
    }
    free(st->tokenizer_mod);
    if (st->db)
        sqlite3_close_v2(st->db);
    free(st->hacc);
    free(st->cacc);
    free(st->dref);
    free(st->doc.s);
    free(st->xbuf);
    free(st->path);
    free(st);
}

ps_err ps_store_schema_version(ps_store *st, int *out, ps_errmsg *em)
{
    return ps_store_read_version(st, out, em);
}

/* ---- batches ----------------------------------------------------------------------- */

static ps_err need_writer(ps_store *st, const char *fn, ps_errmsg *em)
{
    if (st->mode != PS_STORE_WRITER)
        return ps_errmsg_set(em, PS_ERR_INTERNAL, "%s on a read-only store", fn);
    return PS_OK;
}

static ps_err step_done(ps_store *st, sqlite3_stmt *s, const char *what, ps_errmsg *em)
{
    int rc = sqlite3_step(s);
    ps_err err = PS_OK;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        err = ps_store_dberr(st, em, what);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return err;
}

ps_err ps_store_begin(ps_store *st, ps_errmsg *em)
{
    ps_err err = need_writer(st, "ps_store_begin", em);
    if (err != PS_OK)
        return err;
    if (st->in_batch)
        return ps_errmsg_set(em, PS_ERR_INTERNAL, "ps_store_begin: a batch is already open");
    /* A finished dictionary is stored in its own transaction first: if it rode in
     * the batch and the batch rolled back, later rows would name a missing
     * dictionary. */
    if ((err = ps_store_codec_poll(st, em)) != PS_OK)
        return err;
    if ((err = step_done(st, st->st_begin, "starting a batch", em)) != PS_OK)
        return err;
    st->in_batch = true;
    st->nhacc = 0;
    st->ndref = 0;
    st->ncacc = 0;
    return PS_OK;
}

/* Writes the time bounds of the chunks the batch touched. At commit only: any
 * other write statement in the middle of a batch makes the full-text index flush
 * what it has gathered so far into a segment of its own (statement savepoints),
 * and many small segments cost merges later. */
static ps_err chunk_flush(ps_store *st, ps_errmsg *em)
{
    ps_err err = PS_OK;
    for (size_t i = 0; i < st->ncacc && err == PS_OK; i++) {
        const ps_chunk_acc *c = &st->cacc[i];
        sqlite3_bind_int64(st->st_chunk, 1, c->id);
        sqlite3_bind_int64(st->st_chunk, 2, c->min_ts);
        sqlite3_bind_int64(st->st_chunk, 3, c->max_ts);
        if ((err = step_done(st, st->st_chunk, "recording time bounds", em)) != PS_OK)
            break;
        sqlite3_bind_int64(st->st_chunk_raise, 1, c->id);
        sqlite3_bind_int64(st->st_chunk_raise, 2, c->max_ts);
        err = step_done(st, st->st_chunk_raise, "recording time bounds", em);
    }
    return err;
}

/* Ids grow, so the chunk of a new event is the last one noted or a new one. */
static ps_err chunk_note(ps_store *st, int64_t id, int64_t ts)
{
    int64_t c = id >> PS_CHUNK_SHIFT;
    ps_chunk_acc *last = st->cacc && st->ncacc ? &st->cacc[st->ncacc - 1] : NULL;
    if (last && last->id == c) {
        if (ts < last->min_ts)
            last->min_ts = ts;
        if (ts > last->max_ts)
            last->max_ts = ts;
        return PS_OK;
    }
    if (ps_mem_grow_array((void **)&st->cacc, &st->capcacc, st->ncacc, sizeof *st->cacc) != PS_OK)
        return PS_ERR_NOMEM;
    st->cacc[st->ncacc++] = (ps_chunk_acc){c, ts, ts};
    return PS_OK;
}

static ps_err count_hour(ps_store *st, long long device_id, int type, int64_t ts_us)
{
    const int64_t hour = 3600LL * 1000000LL;
    int64_t h = ts_us >= 0 ? ts_us / hour * hour : -((-ts_us + hour - 1) / hour) * hour;
    for (size_t i = st->nhacc; i-- > 0;) {
        ps_hour_acc *a = &st->hacc[i];
        if (a->hour_us == h && a->device_id == device_id && a->type == type) {
            a->n++;
            return PS_OK;
        }
    }
    if (ps_mem_grow_array((void **)&st->hacc, &st->caphacc, st->nhacc, sizeof *st->hacc) != PS_OK)
        return PS_ERR_NOMEM;
    st->hacc[st->nhacc++] = (ps_hour_acc){device_id, type, h, 1};
    return PS_OK;
}

static ps_err count_dict(ps_store *st, int64_t dict_id)
{
    if (dict_id == 0)
        return PS_OK;
    for (size_t i = 0; i < st->ndref; i++)
        if (st->dref[i].dict_id == dict_id) {
            st->dref[i].n++;
            return PS_OK;
        }
    if (ps_mem_grow_array((void **)&st->dref, &st->capdref, st->ndref, sizeof *st->dref) != PS_OK)
        return PS_ERR_NOMEM;
    st->dref[st->ndref++] = (ps_dict_ref){dict_id, 1};
    return PS_OK;
}

/* Copies at most `max` bytes of s without cutting a UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max)
        return n;
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

/* Inserts the row with key_hash h; *taken when (ts, device, h) is already used. */
static ps_err insert_row(ps_store *st, long long device_id, const ps_store_row *row, int64_t h,
                         const char *tags, bool *taken, ps_errmsg *em)
{
    sqlite3_stmt *s = st->st_ins_event;
    int col = 1;
    int rc;
    sqlite3_bind_int64(s, col++, row->ts_us);
    sqlite3_bind_int64(s, col++, device_id);
    sqlite3_bind_int(s, col++, (int)row->type);
    sqlite3_bind_text(s, col++, row->key, (int)row->key_len, SQLITE_STATIC);
    sqlite3_bind_int64(s, col++, h);
    for (int i = 0; i < PS_EF__COUNT; i++, col++)
        if (row->vals[i])
            sqlite3_bind_text(s, col, row->vals[i], (int)row->val_len[i], SQLITE_STATIC);
    if (row->has_spam_score)
        sqlite3_bind_double(s, col, row->spam_score);
    col++;
    if (row->has_size)
        sqlite3_bind_int64(s, col, row->size_bytes);
    col++;
    if (tags && *tags && strcmp(tags, "[]") != 0)
        sqlite3_bind_text(s, col, tags, -1, SQLITE_STATIC);
    col++;
    sqlite3_bind_int64(s, col++, row->dict_id);
    sqlite3_bind_int(s, col++, row->fmt);
    sqlite3_bind_int64(s, col++, (sqlite3_int64)row->raw_len);
    sqlite3_bind_blob(s, col, row->blob, (int)row->blob_len, SQLITE_STATIC);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE)
        return ps_store_dberr(st, em, "storing an event");
    *taken = sqlite3_changes(st->db) == 0;
    return PS_OK;
}

/* True when the row holding (ts, device, h) has exactly this key. */
static ps_err same_key(ps_store *st, long long device_id, const ps_store_row *row, int64_t h,
                       bool *same, ps_errmsg *em)
{
    sqlite3_stmt *s = st->st_dup;
    int rc;
    *same = false;
    sqlite3_bind_int64(s, 1, row->ts_us);
    sqlite3_bind_int64(s, 2, device_id);
    sqlite3_bind_int64(s, 3, h);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(s, 0);
        *same = k && strcmp(k, row->key) == 0;
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return ps_store_dberr(st, em, "checking for a duplicate");
    return PS_OK;
}

ps_err ps_store_prep_create(ps_store *st, ps_store_prep **out, ps_errmsg *em)
{
    ps_store_prep *p;
    ps_err err = need_writer(st, "ps_store_prep_create", em);
    *out = NULL;
    if (err != PS_OK)
        return err;
    p = calloc(1, sizeof *p);
    if (!p)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    p->st = st;
    *out = p;
    return PS_OK;
}

void ps_store_prep_destroy(ps_store_prep *p)
{
    if (!p)
        return;
    ZSTD_freeCCtx(p->cctx);
    free(p->cbuf);
    free(p->ebuf);
    free(p->vbuf);
    free(p->doc.s);
    free(p);
}

void ps_store_row_init(ps_store_row *row)
{
    memset(row, 0, sizeof *row);
}

void ps_store_row_deinit(ps_store_row *row)
{
    if (!row)
        return;
    free(row->mem);
    ps_store_row_init(row);
}

/* After a huge event, gives the scratch buffers back rather than keep one set of
 * that size per worker for good. */
static void prep_shrink(ps_store_prep *p)
{
    const size_t big = 1u << 20;
    char **bufs[] = {(char **)&p->cbuf, &p->ebuf, &p->vbuf, &p->doc.s};
    size_t *caps[] = {&p->ccap, &p->ecap, &p->vcap, &p->doc.cap};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (*caps[i] > big) {
            free(*bufs[i]);
            *bufs[i] = NULL;
            *caps[i] = 0;
        }
}

/* Copies the key and the typed values, cut to their columns, into p->vbuf as
 * NUL-terminated strings: the values as they will be stored. */
static ps_err stage_values(ps_store_prep *p, const ps_event *ev, const char **key,
                           const char *vals[PS_EF__COUNT], size_t lens[PS_EF__COUNT])
{
    size_t key_len = strlen(ev->key), need = key_len + 1, off;
    for (int i = 0; i < PS_EF__COUNT; i++) {
        size_t max = i == PS_EF_SUBJECT ? PS_STORE_SUBJECT_MAX : PS_STORE_FIELD_MAX;
        lens[i] = ev->text[i] ? utf8_cut(ev->text[i], max) : 0;
        need += ev->text[i] ? lens[i] + 1 : 0;
    }
    if (ps_mem_reserve((void **)&p->vbuf, &p->vcap, need) != PS_OK)
        return PS_ERR_NOMEM;
    memcpy(p->vbuf, ev->key, key_len + 1);
    *key = p->vbuf;
    off = key_len + 1;
    for (int i = 0; i < PS_EF__COUNT; i++) {
        vals[i] = NULL;
        if (!ev->text[i])
            continue;
        memcpy(p->vbuf + off, ev->text[i], lens[i]);
        p->vbuf[off + lens[i]] = '\0';
        vals[i] = p->vbuf + off;
        off += lens[i] + 1;
    }
    p->vlen = off;
    return PS_OK;
}

ps_err ps_store_prepare(ps_store_prep *p, const ps_event *ev, const char *raw, size_t raw_len,
                        ps_store_row *row, ps_errmsg *em)
{
    const void *blob = NULL;
    size_t blob_len = 0, enc_len = 0;
    const char *key = NULL, *vals[PS_EF__COUNT];
    size_t lens[PS_EF__COUNT];
    ps_elide_list el;
    bool elided = false;
    const char *payload = raw;
    size_t payload_len = raw_len;
    int64_t dict_id = 0;
    char *mem;
    ps_err err = PS_OK;

    ps_store_row_deinit(row);
    if (!ev || !ev->key || !*ev->key)
        return ps_errmsg_set(em, PS_ERR_INVALID, "event without a natural key");
    if ((unsigned)ev->type >= PS_STORE_TYPES)
        return ps_errmsg_set(em, PS_ERR_INVALID, "event of unknown type %d", (int)ev->type);
    if (!raw)
        return ps_errmsg_set(em, PS_ERR_INVALID, "event without its JSON");
    if (stage_values(p, ev, &key, vals, lens) != PS_OK)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory preparing an event");
    /* Elide with the values as stored, since those are what a reader expands the
     * markers with. */
    ps_store_elide_list(key, vals, &el);
    if (ps_store_elide(raw, raw_len, &el, &p->ebuf, &p->ecap, &enc_len, &elided) != PS_OK)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory preparing an event");
    /* Cheap insurance: the stored form must give back the exact bytes. */
    if (elided && ps_store_unelide_equals(p->ebuf, enc_len, &el, raw, raw_len)) {
        payload = p->ebuf;
        payload_len = enc_len;
    } else {
        elided = false;
    }
    ps_store_codec_sample(&p->st->codec, ev->type, payload, payload_len);
    err =
        ps_store_codec_compress(p, ev->type, payload, payload_len, &blob, &blob_len, &dict_id, em);
    if (err != PS_OK)
        return err;
    /* Built from the stored values, as retention rebuilds it to delete it. */
    if ((err = ps_store_fts_doc(&p->doc, key, vals, em)) != PS_OK)
        return err;

    /* One exact-size block: prepared rows wait in the writer's queue, and the
     * writer frees what it stored. */
    mem = malloc(p->vlen + blob_len + p->doc.len + 1);
    if (!mem)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory preparing an event");
    memcpy(mem, p->vbuf, p->vlen);
    row->mem = mem;
    row->key = mem;
    row->key_len = strlen(key);
    for (int i = 0; i < PS_EF__COUNT; i++) {
        row->vals[i] = vals[i] ? mem + (vals[i] - p->vbuf) : NULL;
        row->val_len[i] = lens[i];
    }
    row->blob = memcpy(mem + p->vlen, blob, blob_len);
    row->blob_len = blob_len;
    row->doc = memcpy(mem + p->vlen + blob_len, p->doc.s, p->doc.len + 1);
    row->doc_len = p->doc.len;
    row->key_hash = (int64_t)ps_store_hash64(row->key, row->key_len);
    row->type = ev->type;
    row->ts_us = ev->ts_us;
    row->spam_score = ev->spam_score;
    row->has_spam_score = ev->has_spam_score;
    row->size_bytes = ev->size_bytes;
    row->has_size = ev->has_size;
    row->raw_len = raw_len;
    row->dict_id = dict_id;
    row->fmt = elided ? 1 : 0;
    prep_shrink(p);
    return PS_OK;
}

/* What ps_store_put and ps_store_insert check first. */
static ps_err need_batch(ps_store *st, const char *fn, bool *duplicate, ps_errmsg *em)
{
    ps_err err = need_writer(st, fn, em);
    if (duplicate)
        *duplicate = false;
    if (err != PS_OK)
        return err;
    if (!st->in_batch)
        return ps_errmsg_set(em, PS_ERR_INTERNAL, "%s outside a batch", fn);
    return PS_OK;
}

ps_err ps_store_put(ps_store *st, long long device_id, const ps_store_row *row, const char *tags,
                    bool *duplicate, ps_errmsg *em)
{
    int64_t h = row->key_hash, id;
    bool taken = true, same = false;
    ps_err err = need_batch(st, "ps_store_put", duplicate, em);
    if (err != PS_OK)
        return err;
    if (!row->mem)
        return ps_errmsg_set(em, PS_ERR_INTERNAL, "ps_store_put of a row not prepared");
    /* A taken (ts, device, hash) is a duplicate only when the key is the same;
     * otherwise another key got that hash first and this one takes the next. */
    for (int probe = 0; probe < 16; probe++, h = (int64_t)((uint64_t)h + 1)) {
        same = false;
        err = insert_row(st, device_id, row, h, tags, &taken, em);
        if (err != PS_OK || !taken)
            break;
        if ((err = same_key(st, device_id, row, h, &same, em)) != PS_OK)
            break;
        if (same)
            break;
    }
    if (err == PS_OK && taken && !same)
        err = ps_errmsg_set(em, PS_ERR_INTERNAL, "no free natural-key slot for event %s", row->key);
    if (err != PS_OK)
        return err;
    if (taken) {
        if (duplicate)
            *duplicate = true;
        return PS_OK;
    }
    id = sqlite3_last_insert_rowid(st->db);
    sqlite3_bind_int64(st->st_ins_fts, 1, id);
    sqlite3_bind_text(st->st_ins_fts, 2, row->doc, (int)row->doc_len, SQLITE_STATIC);
    if ((err = step_done(st, st->st_ins_fts, "indexing an event", em)) != PS_OK)
        return err;
    if (chunk_note(st, id, row->ts_us) != PS_OK ||
        count_hour(st, device_id, (int)row->type, row->ts_us) != PS_OK ||
        count_dict(st, row->dict_id) != PS_OK)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    return PS_OK;
}

ps_err ps_store_insert(ps_store *st, long long device_id, const ps_event *ev, const char *raw,
                       size_t raw_len, const char *tags, bool *duplicate, ps_errmsg *em)
{
    ps_store_row row;
    ps_err err = need_batch(st, "ps_store_insert", duplicate, em);
    if (err != PS_OK)
        return err;
    if (!st->prep && (err = ps_store_prep_create(st, &st->prep, em)) != PS_OK)
        return err;
    if (!st->prep)
        return PS_ERR_NOMEM; /* not reached; for the analyzer */
    ps_store_row_init(&row);
    err = ps_store_prepare(st->prep, ev, raw, raw_len, &row, em);
    if (err == PS_OK)
        err = ps_store_put(st, device_id, &row, tags, duplicate, em);
    ps_store_row_deinit(&row);
    return err;
}

ps_err ps_store_quarantine(ps_store *st, long long device_id, ps_data_type type, const char *raw,
                           size_t raw_len, const char *reason, ps_errmsg *em)
{
    sqlite3_stmt *s = st->st_ins_quar;
    size_t bound = ZSTD_compressBound(raw_len);
    void *buf = NULL;
    size_t n;
    ps_err err = need_writer(st, "ps_store_quarantine", em);
    if (err != PS_OK)
        return err;
    buf = malloc(bound ? bound : 1);
    if (!buf)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    /* No dictionary: what lands here is by definition not like the usual traffic. */
    n = ZSTD_compress(buf, bound, raw ? raw : "", raw ? raw_len : 0, 3);
    if (ZSTD_isError(n)) {
        free(buf);
        return ps_errmsg_set(em, PS_ERR_INTERNAL, "compressing a quarantined payload: %s",
                             ZSTD_getErrorName(n));
    }
    sqlite3_bind_int64(s, 1, ps_plat_now_us());
    sqlite3_bind_int64(s, 2, device_id);
    sqlite3_bind_int(s, 3, (int)type);
    sqlite3_bind_text(s, 4, reason ? reason : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)raw_len);
    sqlite3_bind_blob(s, 6, buf, (int)n, SQLITE_STATIC);
    err = step_done(st, s, "storing a quarantined payload", em);
    free(buf);
    return err;
}

ps_err ps_store_commit(ps_store *st, ps_errmsg *em)
{
    ps_err err = need_writer(st, "ps_store_commit", em);
    if (err != PS_OK)
        return err;
    if (!st->in_batch)
        return ps_errmsg_set(em, PS_ERR_INTERNAL, "ps_store_commit without a batch");
    err = chunk_flush(st, em);
    for (size_t i = 0; i < st->nhacc && err == PS_OK; i++) {
        const ps_hour_acc *a = &st->hacc[i];
        sqlite3_bind_int64(st->st_hourly, 1, a->device_id);
        sqlite3_bind_int(st->st_hourly, 2, a->type);
        sqlite3_bind_int64(st->st_hourly, 3, a->hour_us);
        sqlite3_bind_int64(st->st_hourly, 4, (sqlite3_int64)a->n);
        err = step_done(st, st->st_hourly, "counting events per hour", em);
    }
    for (size_t i = 0; i < st->ndref && err == PS_OK; i++) {
        sqlite3_bind_int64(st->st_dict_ref, 1, st->dref[i].n);
        sqlite3_bind_int64(st->st_dict_ref, 2, st->dref[i].dict_id);
        err = step_done(st, st->st_dict_ref, "counting dictionary users", em);
    }
    if (err == PS_OK)
        err = step_done(st, st->st_commit, "committing a batch", em);
    if (err != PS_OK) {
        /* A failed COMMIT (disk full, I/O) leaves the transaction open: end it so
         * the next batch can start, and let the caller retry the events. */
        (void)ps_store_rollback(st);
        return err;
    }
    st->in_batch = false;
    st->nhacc = 0;
    st->ndref = 0;
    return PS_OK;
}

ps_err ps_store_rollback(ps_store *st)
{
    ps_err err = PS_OK;
    if (st->mode != PS_STORE_WRITER)
        return PS_ERR_INTERNAL;
    if (!sqlite3_get_autocommit(st->db)) {
        int rc = sqlite3_step(st->st_rollback);
        sqlite3_reset(st->st_rollback);
        if (rc != SQLITE_DONE)
            err = PS_ERR_DB;
    }
    st->in_batch = false;
    st->nhacc = 0;
    st->ndref = 0;
    st->ncacc = 0;
    return err;
}

/* ---- resume state ------------------------------------------------------------------ */

ps_err ps_store_resume_get(ps_store *st, long long device_id, ps_data_type type,
                           ps_resume_state *out, ps_errmsg *em)
{
    sqlite3_stmt *s = NULL;
    ps_err err = PS_OK;
    int rc;
    *out = (ps_resume_state){.clean_shutdown = true};
    if (sqlite3_prepare_v2(st->db,
                           "SELECT last_event_ts_us, last_healthy_us, clean_shutdown, "
                           "repair_from_us, repair_to_us FROM resume "
                           "WHERE device_id = ? AND type = ?",
                           -1, &s, NULL) != SQLITE_OK)
        return ps_store_dberr(st, em, "reading the resume state");
    sqlite3_bind_int64(s, 1, device_id);
    sqlite3_bind_int(s, 2, (int)type);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        out->last_event_ts_us = sqlite3_column_int64(s, 0);
        out->last_healthy_us = sqlite3_column_int64(s, 1);
        out->clean_shutdown = sqlite3_column_int(s, 2) != 0;
        out->repair_from_us = sqlite3_column_int64(s, 3);
        out->repair_to_us = sqlite3_column_int64(s, 4);
    } else if (rc != SQLITE_DONE) {
        err = ps_store_dberr(st, em, "reading the resume state");
    }
    sqlite3_finalize(s);
    return err;
}

ps_err ps_store_resume_put(ps_store *st, long long device_id, ps_data_type type,
                           const ps_resume_state *state, ps_errmsg *em)
{
    sqlite3_stmt *s = st->st_resume_put;
    ps_err err = need_writer(st, "ps_store_resume_put", em);
    if (err != PS_OK)
        return err;
    sqlite3_bind_int64(s, 1, device_id);
    sqlite3_bind_int(s, 2, (int)type);
    sqlite3_bind_int64(s, 3, state->last_event_ts_us);
    sqlite3_bind_int64(s, 4, state->last_healthy_us);
    sqlite3_bind_int(s, 5, state->clean_shutdown ? 1 : 0);
    sqlite3_bind_int64(s, 6, state->repair_from_us);
    sqlite3_bind_int64(s, 7, state->repair_to_us);
    return step_done(st, s, "writing the resume state", em);
}

/* ---- counters ---------------------------------------------------------------------- */

ps_err ps_store_counters_put(ps_store *st, const ps_device_counters *c, ps_errmsg *em)
{
    sqlite3_stmt *s = st->st_counters_put;
    ps_err err = need_writer(st, "ps_store_counters_put", em);
    int i = 1;
    if (err != PS_OK)
        return err;
    sqlite3_bind_int64(s, i++, c->device_id);
    sqlite3_bind_text(s, i++, c->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(s, i++, (int)c->type);
    sqlite3_bind_int(s, i++, (int)c->state);
    sqlite3_bind_int64(s, i++, (sqlite3_int64)c->events_total);
    sqlite3_bind_double(s, i++, c->rate_10s);
    sqlite3_bind_double(s, i++, c->rate_1m);
    sqlite3_bind_int64(s, i++, c->last_event_ts_us);
    sqlite3_bind_int64(s, i++, c->lag_ms);
    sqlite3_bind_int64(s, i++, (sqlite3_int64)c->reconnects);
    sqlite3_bind_int64(s, i++, (sqlite3_int64)c->duplicates);
    sqlite3_bind_int64(s, i++, (sqlite3_int64)c->quarantined);
    sqlite3_bind_int64(s, i++, (sqlite3_int64)c->dropped);
    sqlite3_bind_int64(s, i++, (sqlite3_int64)c->failed);
    sqlite3_bind_text(s, i++, c->last_error, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, i++, c->last_error_us);
    sqlite3_bind_int64(s, i, c->updated_us);
    return step_done(st, s, "writing counters", em);
}

ps_err ps_store_pipeline_count(ps_store *st, long long device_id, const char *pipeline,
                               uint64_t dropped, uint64_t failed, ps_errmsg *em)
{
    sqlite3_stmt *s = st->st_pipeline;
    ps_err err = need_writer(st, "ps_store_pipeline_count", em);
    if (err != PS_OK)
        return err;
    sqlite3_bind_int64(s, 1, device_id);
    sqlite3_bind_text(s, 2, pipeline ? pipeline : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)dropped);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)failed);
    return step_done(st, s, "counting pipeline results", em);
}

static void copy_col(char *dst, size_t cap, sqlite3_stmt *s, int col)
{
    const char *v = (const char *)sqlite3_column_text(s, col);
    size_t n = v ? utf8_cut(v, cap - 1) : 0;
    if (n)
        memcpy(dst, v, n);
    dst[n] = '\0';
}

ps_err ps_store_counters_list(ps_store *st, ps_device_counters **out, size_t *count, ps_errmsg *em)
{
    sqlite3_stmt *s = NULL;
    ps_device_counters *arr = NULL;
    size_t n = 0, cap = 0;
    ps_err err = PS_OK;
    int rc;
    *out = NULL;
    *count = 0;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT device_id, name, type, state, events_total, rate_10s, "
                           "rate_1m, last_event_ts_us, lag_ms, reconnects, duplicates, "
                           "quarantined, dropped, failed, last_error, last_error_us, updated_us "
                           "FROM counters ORDER BY device_id",
                           -1, &s, NULL) != SQLITE_OK)
        return ps_store_dberr(st, em, "reading counters");
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        ps_device_counters *c;
        int i = 0;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 8;
            ps_device_counters *p = realloc(arr, nc * sizeof *p);
            if (!p) {
                err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
                goto out;
            }
            arr = p;
            cap = nc;
        }
        c = &arr[n++];
        memset(c, 0, sizeof *c);
        c->device_id = sqlite3_column_int64(s, i++);
        copy_col(c->name, sizeof c->name, s, i++);
        c->type = (ps_data_type)sqlite3_column_int(s, i++);
        c->state = (ps_device_state)sqlite3_column_int(s, i++);
        c->events_total = (uint64_t)sqlite3_column_int64(s, i++);
        c->rate_10s = sqlite3_column_double(s, i++);
        c->rate_1m = sqlite3_column_double(s, i++);
        c->last_event_ts_us = sqlite3_column_int64(s, i++);
        c->lag_ms = sqlite3_column_int64(s, i++);
        c->reconnects = (uint64_t)sqlite3_column_int64(s, i++);
        c->duplicates = (uint64_t)sqlite3_column_int64(s, i++);
        c->quarantined = (uint64_t)sqlite3_column_int64(s, i++);
        c->dropped = (uint64_t)sqlite3_column_int64(s, i++);
        c->failed = (uint64_t)sqlite3_column_int64(s, i++);
        copy_col(c->last_error, sizeof c->last_error, s, i++);
        c->last_error_us = sqlite3_column_int64(s, i++);
        c->updated_us = sqlite3_column_int64(s, i);
    }
    if (rc != SQLITE_DONE)
        err = ps_store_dberr(st, em, "reading counters");
out:
    sqlite3_finalize(s);
    if (err != PS_OK) {
        free(arr);
        return err;
    }
    *out = arr;
    *count = n;
    return PS_OK;
}
