/* ps_store health: the damage check, the WAL watch and the record of the service's
 * last configuration load (see ps_store.h). The rebuild of a damaged file is
 * ps_store_recover.c. */
#include <stdio.h>
#include <string.h>

#include "store/ps_store_internal.h"

/* At most this many of quick_check's lines go into the message: the first ones
 * say where the damage is, the rest repeat it for every page below. */
#define QUICK_CHECK_LINES 3

/* Adds the problems of one quick_check row to the message. SQLite returns them a row
 * each, or all in one row a line each; "*** in database main ***" heads them and
 * says nothing itself. */
static void add_problems(const char *row, char *lines, size_t cap, size_t *used, unsigned *problems)
{
    while (row && *row) {
        const char *nl = strchr(row, '\n');
        int len = nl ? (int)(nl - row) : (int)strlen(row);
        if (strncmp(row, "*** ", 4) != 0 && !(len == 2 && strncmp(row, "ok", 2) == 0) && len > 0 &&
            ++*problems <= QUICK_CHECK_LINES && *used < cap - 1) {
            int n = snprintf(lines + *used, cap - *used, "%s%.*s", *used ? "; " : "", len, row);
            *used = n < 0 ? *used : *used + (size_t)n;
            if (*used >= cap)
                *used = cap - 1;
        }
        row = nl ? nl + 1 : NULL;
    }
}

ps_err ps_store_quick_check(ps_store *st, ps_errmsg *em)
{
    sqlite3_stmt *s = NULL;
    char lines[400] = "";
    size_t used = 0;
    unsigned problems = 0;
    ps_err err = PS_OK;
    int rc;
    if (sqlite3_prepare_v2(st->conn.db, "PRAGMA quick_check(100)", -1, &s, NULL) != SQLITE_OK)
        return ps_store_dberr(&st->conn, em, "checking the database");
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        add_problems((const char *)sqlite3_column_text(s, 0), lines, sizeof lines, &used,
                     &problems);
    if (rc != SQLITE_DONE) {
        /* Some damage stops the check itself, after the problems it listed. */
        err = ps_store_dberr(&st->conn, em, "checking the database");
        if (err != PS_ERR_CORRUPT)
            goto out;
        if (problems == 0) {
            err = ps_errmsg_set(em, err, "%s: the database is damaged (the check stopped: %s)",
                                st->conn.path, sqlite3_errmsg(st->conn.db));
            goto out;
        }
    } else if (problems == 0) {
        goto out;
    }
    err = ps_errmsg_set(em, PS_ERR_CORRUPT, "%s: the database is damaged (%u problem%s%s): %s",
                        st->conn.path, problems, problems == 1 ? "" : "s",
                        problems >= 100 || rc != SQLITE_DONE ? " or more" : "", lines);
out:
    sqlite3_finalize(s);
    return err;
}

/* ---- the WAL ------------------------------------------------------------------------ */

/* The -wal file's size through the connection's own handle, so no path or OS call
 * is needed; 0 when the connection has no WAL open. */
static uint64_t wal_file_bytes(const ps_store_db *c)
{
    sqlite3_file *f = NULL;
    sqlite3_int64 n = 0;
    if (sqlite3_file_control(c->db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &f) != SQLITE_OK || !f ||
        !f->pMethods || f->pMethods->xFileSize(f, &n) != SQLITE_OK || n < 0)
        return 0;
    return (uint64_t)n;
}

static ps_err meta_put(ps_store_db *c, const char *k, int64_t v, ps_errmsg *em)
{
    return ps_store_meta_put(c, k, v, NULL, "recording the service's state", em);
}

static ps_err meta_get(ps_store_db *c, const char *k, int64_t *v, ps_errmsg *em)
{
    return ps_store_meta_get(c, k, NULL, v, "reading the WAL state", em);
}

/* A passive checkpoint first, which never waits: frames it cannot copy mean a
 * reader still uses them, and a truncating one would wait for that reader (the
 * writer's busy wait, ingest stalled). With every frame copied only short reads
 * can be in the way, and the truncation waits for them. */
static ps_err checkpoint_truncate(ps_store_db *c, bool *blocked, ps_errmsg *em)
{
    int log = 0, done = 0, rc;
    rc = sqlite3_wal_checkpoint_v2(c->db, "main", SQLITE_CHECKPOINT_PASSIVE, &log, &done);
    *blocked = (rc & 0xff) == SQLITE_BUSY || (rc == SQLITE_OK && done < log);
    if (rc == SQLITE_OK && !*blocked)
        rc = sqlite3_wal_checkpoint_v2(c->db, "main", SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    if ((rc & 0xff) == SQLITE_BUSY)
        *blocked = true;
    else if (rc != SQLITE_OK)
        return ps_store_dberr(c, em, "checkpointing the WAL");
    return PS_OK;
}

ps_err ps_store_wal_check(ps_store *st, uint64_t warn_bytes, int64_t now_us, ps_store_wal *out,
                          ps_errmsg *em)
{
    ps_err err = ps_store_need_writer(&st->conn, "ps_store_wal_check", em);
    memset(out, 0, sizeof *out);
    if (err != PS_OK)
        return err;
    if (st->in_batch)
        return ps_errmsg_set(em, PS_ERR_INTERNAL, "ps_store_wal_check inside a batch");
    /* Recorded once per open, so a status after a restart shows this service's
     * threshold and no episode of the last run. */
    if (st->wal_warn_recorded != warn_bytes) {
        if ((err = meta_put(&st->conn, "wal_warn_bytes", (int64_t)warn_bytes, em)) != PS_OK ||
            (err = meta_put(&st->conn, "wal_blocked_since_us", st->wal_blocked_since_us, em)) !=
                PS_OK)
            return err;
        st->wal_warn_recorded = warn_bytes;
    }
    out->warn_bytes = warn_bytes;
    out->wal_bytes = wal_file_bytes(&st->conn);
    if (out->wal_bytes > warn_bytes) {
        int64_t before = st->wal_blocked_since_us;
        if ((err = checkpoint_truncate(&st->conn, &out->blocked, em)) != PS_OK)
            return err;
        out->truncated = !out->blocked;
        if (out->blocked && before == 0)
            st->wal_blocked_since_us = now_us;
        else if (out->truncated)
            st->wal_blocked_since_us = 0;
        if (st->wal_blocked_since_us != before)
            err = meta_put(&st->conn, "wal_blocked_since_us", st->wal_blocked_since_us, em);
        out->wal_bytes = wal_file_bytes(&st->conn);
        out->blocked_since_us = out->truncated ? before : st->wal_blocked_since_us;
        return err;
    }
    out->blocked_since_us = st->wal_blocked_since_us;
    return err;
}

ps_err ps_store_wal_info(ps_store *st, ps_store_wal *out, ps_errmsg *em)
{
    int64_t warn = 0, since = 0;
    ps_err err;
    memset(out, 0, sizeof *out);
    if ((err = meta_get(&st->conn, "wal_warn_bytes", &warn, em)) != PS_OK ||
        (err = meta_get(&st->conn, "wal_blocked_since_us", &since, em)) != PS_OK)
        return err;
    out->warn_bytes = warn > 0 ? (uint64_t)warn : 0;
    out->blocked_since_us = since;
    /* After the reads, which open the WAL of a reader that had not read yet. */
    out->wal_bytes = wal_file_bytes(&st->conn);
    return PS_OK;
}

/* ---- configuration loads ------------------------------------------------------------ */

ps_err ps_store_reload_put(ps_store *st, const ps_reload_record *r, ps_errmsg *em)
{
    ps_err err = ps_store_need_writer(&st->conn, "ps_store_reload_put", em);
    if (err == PS_OK)
        err = meta_put(&st->conn, "reload_generation", (int64_t)r->generation, em);
    if (err == PS_OK)
        err = meta_put(&st->conn, "reload_at_us", r->at_us, em);
    if (err == PS_OK)
        err = meta_put(&st->conn, "reload_accepted", (r->accepted ? 1 : 0) | (r->at_start ? 2 : 0),
                       em);
    if (err == PS_OK)
        err = ps_store_meta_put(&st->conn, "reload_reason", 0, r->reason,
                                "recording the service's state", em);
    if (err == PS_OK)
        err = meta_put(&st->conn, "reload_started_us", r->started_us, em);
    return err;
}

/* One statement for every key, so a reader never sees half of a record from two
 * different writes and holds no transaction afterwards. */
ps_err ps_store_reload_get(ps_store *st, ps_reload_record *out, ps_errmsg *em)
{
    sqlite3_stmt *s = NULL;
    ps_err err = PS_OK;
    int rc;
    memset(out, 0, sizeof *out);
    if (sqlite3_prepare_v2(st->conn.db,
                           "SELECT k, v FROM meta WHERE k IN ('reload_generation', "
                           "'reload_at_us', 'reload_accepted', 'reload_reason', "
                           "'reload_started_us')",
                           -1, &s, NULL) != SQLITE_OK)
        return ps_store_dberr(&st->conn, em, "reading the last configuration load");
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(s, 0);
        int64_t v = sqlite3_column_int64(s, 1);
        if (!k)
            continue;
        if (strcmp(k, "reload_generation") == 0)
            out->generation = v > 0 ? (uint64_t)v : 0;
        else if (strcmp(k, "reload_at_us") == 0)
            out->at_us = v;
        else if (strcmp(k, "reload_accepted") == 0) {
            out->accepted = (v & 1) != 0;
            out->at_start = (v & 2) != 0;
        } else if (strcmp(k, "reload_reason") == 0 && sqlite3_column_text(s, 1))
            snprintf(out->reason, sizeof out->reason, "%s",
                     (const char *)sqlite3_column_text(s, 1));
        else if (strcmp(k, "reload_started_us") == 0)
            out->started_us = v;
    }
    if (rc != SQLITE_DONE)
        err = ps_store_dberr(&st->conn, em, "reading the last configuration load");
    sqlite3_finalize(s);
    return err;
}
