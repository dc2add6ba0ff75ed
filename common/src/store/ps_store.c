/* ps_store: opening and closing the database, resume state and counters. The
 * other pieces, and which uses which, are listed in ps_store_internal.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_mem.h"
#include "podstream/ps_platform.h"
#include "podstream/ps_utf8.h"
#include "store/ps_store_internal.h"
#include "store/ps_store_migrate.h"

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

/* FTS5 merges the index's segments as it goes: `automerge` of them on one level make
 * one of the next. At SQLite's 4, merging was a quarter of the writer's CPU; at 8
 * each entry is rewritten on fewer levels (the writer's SQLite part at 5M events:
 * 10.6 -> 9.6 us an event, docs/performance.md) and a search at 5M events reads more
 * segments for no measurable cost. The setting lives in the index itself, so a
 * database written before gets it at its next open and keeps it if downgraded. */
#define FTS_AUTOMERGE 8

static ps_err set_fts_automerge(ps_store *st, ps_errmsg *em)
{
    int64_t v = 0;
    bool found = false;
    ps_err err =
        ps_store_int_query(&st->conn, "SELECT v FROM events_fts_config WHERE k = 'automerge'", NULL,
                           &found, &v, "reading the full-text index's settings", em);
    char sql[96];
    if (err != PS_OK || (found && v == FTS_AUTOMERGE))
        return err;
    snprintf(sql, sizeof sql, "INSERT INTO events_fts(events_fts, rank) VALUES('automerge', %d)",
             FTS_AUTOMERGE);
    return ps_store_exec(&st->conn, sql, em);
}

/* ---- open and close ---------------------------------------------------------------- */

void ps_store_process_init(void)
{
    /* SQLITE_MISUSE once SQLite is initialised: then the statistics stay on, which
     * is slower but correct. */
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static ps_err set_pragmas(ps_store *st, ps_errmsg *em)
{
    if (st->conn.mode == PS_STORE_WRITER) {
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
            ps_err err = ps_store_exec(&st->conn, w[i], em);
            if (err != PS_OK)
                return err;
        }
        return PS_OK;
    }
    if (sqlite3_exec(st->conn.db, "PRAGMA query_only=1; PRAGMA cache_size=-32768", NULL, NULL,
                     NULL) != SQLITE_OK) {
        int code = sqlite3_extended_errcode(st->conn.db);
        /* With the service stopped there is no -shm file, and a reader must create
         * one to read a WAL database: say so rather than "readonly database". */
        if ((code & 0xff) == SQLITE_READONLY || (code & 0xff) == SQLITE_CANTOPEN)
            return ps_errmsg_set(em, PS_ERR_PERM,
                                 "%s: cannot read the database while the service is stopped: "
                                 "SQLite must create %s-shm beside it and this account cannot "
                                 "write there; run this as the service account or root, or "
                                 "while the service runs",
                                 st->conn.path, st->conn.path);
        return ps_store_dberr(&st->conn, em, "reading the database");
    }
    return PS_OK;
}

static ps_err set_new_file_layout(ps_store *st, ps_errmsg *em)
{
    sqlite3_stmt *s = NULL;
    int pages = -1;
    ps_err err;
    if (sqlite3_prepare_v2(st->conn.db, "PRAGMA page_count", -1, &s, NULL) != SQLITE_OK)
        return ps_store_dberr(&st->conn, em, "reading the page count");
    if (sqlite3_step(s) == SQLITE_ROW)
        pages = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    if (pages != 0)
        return PS_OK;
    /* 16 KiB pages, not SQLite's 4 KiB: a batch dirties the same few pages of
     * each B-tree and the full-text segments, so a quarter of the pages means a
     * quarter of the WAL frames, checkpoint copies and write calls, and shallower
     * trees. The writer spent about 20% less CPU per event (docs/performance.md,
     * issue 17). A database made before keeps its page size. */
    if ((err = ps_store_exec(&st->conn, "PRAGMA page_size=16384", em)) != PS_OK)
        return err;
    return ps_store_exec(&st->conn, "PRAGMA auto_vacuum=INCREMENTAL", em);
}

static ps_err create_file(const char *path, ps_errmsg *em)
{
    /* ps_plat_dir_name, not a search for PS_PATH_SEP: Windows takes '/' too. */
    char *dir = ps_plat_dir_name(path);
    ps_err err = PS_OK;
    if (!dir)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    if (strcmp(dir, ".") != 0)
        err = ps_plat_mkdirs(dir, 0750, em);
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

/* A reader must find a database this podstream can read as it is. */
static ps_err check_reader_version(ps_store *st, ps_errmsg *em)
{
    const char *path = st->conn.path;
    int version = 0;
    ps_err err = ps_store_read_version(&st->conn, &version, em);
    if (err != PS_OK)
        return err;
    if (version == 0)
        return ps_errmsg_set(em, PS_ERR_NOTFOUND,
                             "%s: the database is empty (the service has not started on it "
                             "yet)",
                             path);
    if (version < PS_STORE_SCHEMA_VERSION)
        return ps_errmsg_set(em, PS_ERR_UNSUPPORTED,
                             "%s: database schema version %d is older than this podstream "
                             "(%d); start the service once to upgrade it",
                             path, version, PS_STORE_SCHEMA_VERSION);
    if (version > PS_STORE_SCHEMA_VERSION)
        return ps_errmsg_set(em, PS_ERR_UNSUPPORTED,
                             "%s: database schema version %d is newer than this podstream "
                             "understands (%d); use the podstream release that wrote it",
                             path, version, PS_STORE_SCHEMA_VERSION);
    return PS_OK;
}

/* The writer waits for a lock up to PS_STORE_WRITER_BUSY_MS, as
 * sqlite3_busy_timeout would, but gives up at once past a stop's deadline: a stop
 * must end in time even when another program holds the database. */
static int writer_busy(void *arg, int count)
{
    ps_store *st = arg;
    int64_t now = ps_plat_mono_ms();
    int64_t deadline = atomic_load(&st->deadline_ms);
    int64_t left;
    if (count == 0)
        st->busy_since_ms = now;
    left = st->busy_since_ms + PS_STORE_WRITER_BUSY_MS - now;
    if (deadline > 0 && deadline - now < left)
        left = deadline - now;
    if (left <= 0)
        return 0;
    ps_plat_sleep_ms(left < 20 ? left : 20);
    return 1;
}

void ps_store_set_deadline(ps_store *st, int64_t deadline_ms)
{
    if (st)
        atomic_store(&st->deadline_ms, deadline_ms);
}

/* Opens the connection: a writer creates the file first, a reader needs it. */
static ps_err open_connection(ps_store *st, ps_errmsg *em)
{
    const char *path = st->conn.path;
    int flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX;
    ps_err err;
    /* SQLite opens a directory and then fails with "disk I/O error", which sends
     * the admin looking at the disk instead of at the path. */
    if (ps_plat_is_dir(path))
        return ps_errmsg_set(em, PS_ERR_INVALID,
                             "%s is a directory, not a database; give the database file "
                             "(`database:` in podstream.yml, or --db PATH)",
                             path);
    if (st->conn.mode == PS_STORE_WRITER) {
        if ((err = create_file(path, em)) != PS_OK)
            return err;
        flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    } else if (!ps_plat_file_exists(path)) {
        return ps_errmsg_set(em, PS_ERR_NOTFOUND,
                             "%s: no database there (the service creates it when it first "
                             "starts; check `database:` in podstream.yml)",
                             path);
    }
    if (sqlite3_open_v2(path, &st->conn.db, flags, NULL) != SQLITE_OK) {
        err = ps_store_dberr(&st->conn, em, "cannot open the database");
        if (sqlite3_errcode(st->conn.db) == SQLITE_CANTOPEN)
            err = PS_ERR_IO;
        return err;
    }
    sqlite3_extended_result_codes(st->conn.db, 1);
    if (st->conn.mode == PS_STORE_WRITER)
        sqlite3_busy_handler(st->conn.db, writer_busy, st);
    else
        sqlite3_busy_timeout(st->conn.db, 5000);
    return PS_OK;
}

ps_err ps_store_create(const char *path, ps_store_mode mode, ps_store **out, ps_errmsg *em)
{
    ps_store *st = NULL;
    ps_err err = PS_OK;
    *out = NULL;
    if (!path || !*path)
        return ps_errmsg_set(em, PS_ERR_INVALID, "no database path given");
    st = calloc(1, sizeof *st);
    if (!st)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    st->conn.mode = mode;
    if (ps_store_codec_init(&st->codec) != PS_OK) {
        free(st);
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    }
    st->conn.path = strdup(path);
    if (!st->conn.path) {
        err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((err = open_connection(st, em)) != PS_OK)
        goto out;
    /* Only possible before the first table exists and before WAL: the page size,
     * and auto_vacuum, with which retention gives freed pages back to the file
     * system step by step. */
    if (mode == PS_STORE_WRITER && (err = set_new_file_layout(st, em)) != PS_OK)
        goto out;
    if ((err = set_pragmas(st, em)) != PS_OK)
        goto out;
    if (mode == PS_STORE_WRITER) {
        if ((err = ps_store_migrate(&st->conn, em)) != PS_OK ||
            (err = set_fts_automerge(st, em)) != PS_OK ||
            (err = ps_store_write_prepare(st, em)) != PS_OK)
            goto out;
        st->codec.training_enabled = true;
    } else if ((err = check_reader_version(st, em)) != PS_OK) {
        goto out;
    }
    err = ps_store_codec_load(&st->codec, &st->conn, em);
out:
    /* At open, "not a database" is more likely the wrong file than a damaged one. */
    if (err == PS_ERR_CORRUPT && st->conn.db &&
        sqlite3_extended_errcode(st->conn.db) == SQLITE_NOTADB)
        err = PS_ERR_DB;
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
    if (st->in_batch)
        (void)ps_store_rollback(st);
    ps_store_prep_destroy(st->prep);
    /* Joins a running training before the connection goes away. */
    ps_store_codec_deinit(&st->codec);
    ps_store_write_close(st);
    ps_store_tokenizer_close(st);
    if (st->conn.db)
        sqlite3_close_v2(st->conn.db);
    ps_buf_deinit(&st->doc);
    free(st->conn.path);
    free(st);
}

ps_err ps_store_schema_version(ps_store *st, int *out, ps_errmsg *em)
{
    return ps_store_read_version(&st->conn, out, em);
}

void ps_store_set_training(ps_store *st, unsigned first, unsigned samples, uint64_t retrain_every,
                           bool wait)
{
    ps_store_codec_set_training(&st->codec, first, samples, retrain_every, wait);
}

/* ---- resume state ------------------------------------------------------------------ */

ps_err ps_store_resume_get(ps_store *st, long long device_id, ps_data_type type,
                           ps_resume_state *out, ps_errmsg *em)
{
    sqlite3_stmt *s = NULL;
    ps_err err = PS_OK;
    int rc;
    *out = (ps_resume_state){.clean_shutdown = true};
    if (sqlite3_prepare_v2(st->conn.db,
                           "SELECT last_event_ts_us, last_healthy_us, clean_shutdown, "
                           "repair_from_us, repair_to_us, trip_from_us, trip_to_us FROM resume "
                           "WHERE device_id = ? AND type = ?",
                           -1, &s, NULL) != SQLITE_OK)
        return ps_store_dberr(&st->conn, em, "reading the resume state");
    sqlite3_bind_int64(s, 1, device_id);
    sqlite3_bind_int(s, 2, (int)type);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        out->last_event_ts_us = sqlite3_column_int64(s, 0);
        out->last_healthy_us = sqlite3_column_int64(s, 1);
        out->clean_shutdown = sqlite3_column_int(s, 2) != 0;
        out->repair_from_us = sqlite3_column_int64(s, 3);
        out->repair_to_us = sqlite3_column_int64(s, 4);
        out->trip_from_us = sqlite3_column_int64(s, 5);
        out->trip_to_us = sqlite3_column_int64(s, 6);
    } else if (rc != SQLITE_DONE) {
        err = ps_store_dberr(&st->conn, em, "reading the resume state");
    }
    sqlite3_finalize(s);
    return err;
}

ps_err ps_store_resume_put(ps_store *st, long long device_id, ps_data_type type,
                           const ps_resume_state *state, ps_errmsg *em)
{
    sqlite3_stmt *s = st->st_resume_put;
    ps_err err = ps_store_need_writer(&st->conn, "ps_store_resume_put", em);
    if (err != PS_OK)
        return err;
    sqlite3_bind_int64(s, 1, device_id);
    sqlite3_bind_int(s, 2, (int)type);
    sqlite3_bind_int64(s, 3, state->last_event_ts_us);
    sqlite3_bind_int64(s, 4, state->last_healthy_us);
    sqlite3_bind_int(s, 5, state->clean_shutdown ? 1 : 0);
    sqlite3_bind_int64(s, 6, state->repair_from_us);
    sqlite3_bind_int64(s, 7, state->repair_to_us);
    sqlite3_bind_int64(s, 8, state->trip_from_us);
    sqlite3_bind_int64(s, 9, state->trip_to_us);
    return ps_store_step_done(&st->conn, s, "writing the resume state", em);
}

/* ---- counters ---------------------------------------------------------------------- */

ps_err ps_store_counters_put(ps_store *st, const ps_device_counters *c, ps_errmsg *em)
{
    sqlite3_stmt *s = st->st_counters_put;
    ps_err err = ps_store_need_writer(&st->conn, "ps_store_counters_put", em);
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
    sqlite3_bind_int64(s, i++, c->updated_us);
    sqlite3_bind_int64(s, i, (sqlite3_int64)c->empty_frames);
    return ps_store_step_done(&st->conn, s, "writing counters", em);
}

ps_err ps_store_pipeline_count(ps_store *st, long long device_id, const char *pipeline,
                               uint64_t dropped, uint64_t failed, ps_errmsg *em)
{
    sqlite3_stmt *s = st->st_pipeline;
    ps_err err = ps_store_need_writer(&st->conn, "ps_store_pipeline_count", em);
    if (err != PS_OK)
        return err;
    sqlite3_bind_int64(s, 1, device_id);
    sqlite3_bind_text(s, 2, pipeline ? pipeline : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)dropped);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)failed);
    return ps_store_step_done(&st->conn, s, "counting pipeline results", em);
}

static void copy_col(char *dst, size_t cap, sqlite3_stmt *s, int col)
{
    const char *v = (const char *)sqlite3_column_text(s, col);
    size_t n = v ? ps_utf8_prefix(v, strlen(v), cap - 1) : 0;
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
    if (sqlite3_prepare_v2(st->conn.db,
                           "SELECT device_id, name, type, state, events_total, rate_10s, "
                           "rate_1m, last_event_ts_us, lag_ms, reconnects, duplicates, "
                           "quarantined, dropped, failed, last_error, last_error_us, updated_us, "
                           "empty_frames FROM counters ORDER BY device_id",
                           -1, &s, NULL) != SQLITE_OK)
        return ps_store_dberr(&st->conn, em, "reading counters");
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        ps_device_counters *c;
        int i = 0;
        if (ps_mem_grow_array((void **)&arr, &cap, n, sizeof *arr) != PS_OK) {
            err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
            goto out;
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
        c->updated_us = sqlite3_column_int64(s, i++);
        c->empty_frames = (uint64_t)sqlite3_column_int64(s, i);
    }
    if (rc != SQLITE_DONE)
        err = ps_store_dberr(&st->conn, em, "reading counters");
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
