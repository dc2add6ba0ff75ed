/* ps_store retention: deleting old events a little at a time, and giving the
 * space back.
 *
 * Each step is one short transaction that deletes at most `budget` events, oldest
 * ts first, through the natural-key index, so a step costs about as much as
 * storing `budget` events and the writer is never held up for longer than that.
 * The database is created with auto_vacuum=INCREMENTAL: freed pages are returned
 * to the file system a bounded number at a time, so the file shrinks without a
 * VACUUM (which would rewrite everything under an exclusive lock). */
#include <stdlib.h>
#include <string.h>

#include "store/ps_store_internal.h"

/* Pages given back per step: 2,048 x 4 KiB = 8 MiB, a few milliseconds of I/O. */
#define RETENTION_VACUUM_PAGES 2048

static ps_err pragma_int(ps_store *st, const char *sql, int64_t *out, ps_errmsg *em)
{
    sqlite3_stmt *s = NULL;
    ps_err err = PS_OK;
    *out = 0;
    if (sqlite3_prepare_v2(st->conn.db, sql, -1, &s, NULL) != SQLITE_OK)
        return ps_store_dberr(&st->conn, em, sql);
    if (sqlite3_step(s) == SQLITE_ROW)
        *out = sqlite3_column_int64(s, 0);
    else
        err = ps_store_dberr(&st->conn, em, sql);
    sqlite3_finalize(s);
    return err;
}

/* One integer from a query of one row (`dflt` when it gives NULL). */
static ps_err query_int(ps_store *st, const char *sql, int64_t dflt, int64_t *out, ps_errmsg *em)
{
    sqlite3_stmt *s = NULL;
    ps_err err = PS_OK;
    *out = dflt;
    if (sqlite3_prepare_v2(st->conn.db, sql, -1, &s, NULL) != SQLITE_OK)
        return ps_store_dberr(&st->conn, em, sql);
    if (sqlite3_step(s) == SQLITE_ROW) {
        if (sqlite3_column_type(s, 0) != SQLITE_NULL)
            *out = sqlite3_column_int64(s, 0);
    } else {
        err = ps_store_dberr(&st->conn, em, sql);
    }
    sqlite3_finalize(s);
    return err;
}

/* The lowest cursor of an enabled output (INT64_MAX: no output waits). */
static ps_err lowest_cursor(ps_store *st, int64_t *out, ps_errmsg *em)
{
    return query_int(st, "SELECT min(last_id) FROM outputs WHERE enabled", INT64_MAX, out, em);
}

/* The highest id retention may delete. With outputs configured it keeps the event
 * with the highest id: SQLite gives a new row the highest id plus one, so deleting
 * that one would hand its id out again, and an output whose cursor is past it would
 * never send the new event. By age (`age`) also nothing above the lowest enabled
 * cursor. INT64_MAX when no output was ever configured. */
static ps_err delete_bound(ps_store *st, bool age, int64_t *out, ps_errmsg *em)
{
    int64_t outputs = 0, top = 0, lowest = INT64_MAX;
    ps_err err = query_int(st, "SELECT count(*) FROM outputs", 0, &outputs, em);
    *out = INT64_MAX;
    if (err != PS_OK || outputs == 0)
        return err;
    if ((err = query_int(st, "SELECT max(id) FROM events", 0, &top, em)) != PS_OK ||
        (age && (err = lowest_cursor(st, &lowest, em)) != PS_OK))
        return err;
    *out = top - 1 < lowest ? top - 1 : lowest;
    return PS_OK;
}

/* An event deleted before an enabled output delivered it is counted for it. */
static ps_err count_undelivered(ps_store *st, sqlite3_stmt **s, int64_t id, ps_errmsg *em)
{
    if (!*s && sqlite3_prepare_v2(st->conn.db,
                                  "UPDATE outputs SET retention_dropped = retention_dropped + 1"
                                  " WHERE enabled AND last_id < ?",
                                  -1, s, NULL) != SQLITE_OK)
        return ps_store_dberr(&st->conn, em, "preparing retention");
    sqlite3_bind_int64(*s, 1, id);
    int rc = sqlite3_step(*s);
    sqlite3_reset(*s);
    return rc == SQLITE_DONE ? PS_OK : ps_store_dberr(&st->conn, em, "counting dropped events");
}

ps_err ps_store_delete_oldest(ps_store *st, int64_t before_us, int64_t max_id, unsigned limit,
                              uint64_t *deleted, ps_errmsg *em)
{
    char sql[1024];
    size_t n;
    sqlite3_stmt *sel = NULL, *del_fts = NULL, *del_ev = NULL, *deref = NULL, *undel = NULL;
    int64_t lowest = INT64_MAX;
    ps_err err = PS_OK;
    int rc;
    *deleted = 0;
    n = (size_t)snprintf(sql, sizeof sql, "SELECT id, type, key, dict_id");
    for (int i = 0; i < PS_EF__COUNT; i++)
        n += (size_t)snprintf(sql + n, sizeof sql - n, ", %s", ps_store_field_col[i]);
    snprintf(sql + n, sizeof sql - n,
             " FROM events WHERE ts_us < ? AND id <= ? ORDER BY ts_us, device_id, key_hash"
             " LIMIT ?");
    if (sqlite3_prepare_v2(st->conn.db, sql, -1, &sel, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->conn.db,
                           "INSERT INTO events_fts(events_fts, rowid, doc) VALUES('delete', ?, ?)",
                           -1, &del_fts, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->conn.db, "DELETE FROM events WHERE id = ?", -1, &del_ev, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v2(st->conn.db, "UPDATE dicts SET refs = refs - 1 WHERE id = ?", -1, &deref,
                           NULL) != SQLITE_OK) {
        err = ps_store_dberr(&st->conn, em, "preparing retention");
        goto out;
    }
    if ((err = lowest_cursor(st, &lowest, em)) != PS_OK)
        goto out;
    sqlite3_bind_int64(sel, 1, before_us);
    sqlite3_bind_int64(sel, 2, max_id);
    sqlite3_bind_int(sel, 3, (int)limit);
    while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
        const char *text[PS_EF__COUNT];
        int64_t id = sqlite3_column_int64(sel, 0);
        int64_t dict = sqlite3_column_int64(sel, 3);
        for (int i = 0; i < PS_EF__COUNT; i++)
            text[i] = (const char *)sqlite3_column_text(sel, 4 + i);
        /* A contentless index forgets a row only when told its exact text: the
         * same document the insert built, from the same stored values. */
        err = ps_store_fts_doc(&st->doc, (const char *)sqlite3_column_text(sel, 2), text, em);
        if (err != PS_OK)
            goto out;
        sqlite3_bind_int64(del_fts, 1, id);
        sqlite3_bind_text(del_fts, 2, st->doc.p, (int)st->doc.len, SQLITE_STATIC);
        if (sqlite3_step(del_fts) != SQLITE_DONE) {
            err = ps_store_dberr(&st->conn, em, "removing an event from the full-text index");
            goto out;
        }
        sqlite3_reset(del_fts);
        sqlite3_bind_int64(del_ev, 1, id);
        if (sqlite3_step(del_ev) != SQLITE_DONE) {
            err = ps_store_dberr(&st->conn, em, "deleting an event");
            goto out;
        }
        sqlite3_reset(del_ev);
        if (dict != 0) {
            sqlite3_bind_int64(deref, 1, dict);
            if (sqlite3_step(deref) != SQLITE_DONE) {
                err = ps_store_dberr(&st->conn, em, "counting dictionary users");
                goto out;
            }
            sqlite3_reset(deref);
        }
        if (id > lowest && (err = count_undelivered(st, &undel, id, em)) != PS_OK)
            goto out;
        (*deleted)++;
    }
    if (rc != SQLITE_DONE)
        err = ps_store_dberr(&st->conn, em, "finding expired events");
out:
    sqlite3_finalize(sel);
    sqlite3_finalize(del_fts);
    sqlite3_finalize(del_ev);
    sqlite3_finalize(deref);
    sqlite3_finalize(undel);
    return err;
}

static ps_err used_bytes(ps_store *st, uint64_t *out, ps_errmsg *em)
{
    int64_t pages, freel, psize;
    ps_err err;
    if ((err = pragma_int(st, "PRAGMA page_count", &pages, em)) != PS_OK ||
        (err = pragma_int(st, "PRAGMA freelist_count", &freel, em)) != PS_OK ||
        (err = pragma_int(st, "PRAGMA page_size", &psize, em)) != PS_OK)
        return err;
    *out = (uint64_t)(pages - freel) * (uint64_t)psize;
    return PS_OK;
}

static ps_err exec_changes(ps_store *st, sqlite3_stmt *s, uint64_t *n, ps_errmsg *em)
{
    ps_err err = PS_OK;
    if (sqlite3_step(s) != SQLITE_DONE)
        err = ps_store_dberr(&st->conn, em, "deleting expired rows");
    else
        *n += (uint64_t)sqlite3_changes(st->conn.db);
    sqlite3_finalize(s);
    return err;
}

/* Runs a DELETE with one bound time (and a limit when `limit` > 0), counting rows. */
static ps_err delete_before(ps_store *st, const char *sql, int64_t before, unsigned limit,
                            uint64_t *n, ps_errmsg *em)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->conn.db, sql, -1, &s, NULL) != SQLITE_OK)
        return ps_store_dberr(&st->conn, em, "preparing retention");
    sqlite3_bind_int64(s, 1, before);
    if (limit > 0)
        sqlite3_bind_int(s, 2, (int)limit);
    return exec_changes(st, s, n, em);
}

/* Events past `days`, and the hourly counts and quarantined payloads with them. */
static ps_err expire_by_age(ps_store *st, int64_t now_us, int days, unsigned budget,
                            ps_retention_result *r, ps_errmsg *em)
{
    int64_t cutoff = now_us - (int64_t)days * 86400LL * 1000000LL;
    uint64_t n = 0;
    int64_t bound = INT64_MAX;
    /* Age never deletes what an enabled output has not delivered: the size cap is
     * what bounds the file while an output is down. */
    ps_err err = delete_bound(st, true, &bound, em);
    if (err == PS_OK)
        err = ps_store_delete_oldest(st, cutoff, bound, budget, &n, em);
    if (err != PS_OK)
        return err;
    r->deleted_age = n;
    if (n == budget)
        r->more = true;
    if ((err = delete_before(st, "DELETE FROM hourly WHERE hour_us < ?",
                             cutoff - 3600LL * 1000000LL, 0, &r->other_rows, em)) != PS_OK)
        return err;
    return delete_before(st,
                         "DELETE FROM quarantine WHERE id IN (SELECT id FROM quarantine "
                         "WHERE received_us < ? ORDER BY received_us LIMIT ?)",
                         cutoff, budget, &r->other_rows, em);
}

/* The oldest events, while the database is over `max_bytes`. */
static ps_err trim_to_size(ps_store *st, uint64_t max_bytes, unsigned budget,
                           ps_retention_result *r, ps_errmsg *em)
{
    uint64_t used = 0, n = 0;
    int64_t bound = INT64_MAX;
    ps_err err = used_bytes(st, &used, em);
    if (err != PS_OK || used <= max_bytes)
        return err;
    if ((err = delete_bound(st, false, &bound, em)) != PS_OK ||
        (err = ps_store_delete_oldest(st, INT64_MAX, bound, budget, &n, em)) != PS_OK)
        return err;
    r->deleted_size = n;
    /* Deleted rows become free pages only as their pages empty, and the full-text
     * index shrinks when its segments merge: keep going until the used size is
     * under the cap. */
    r->more = n > 0;
    return PS_OK;
}

/* Gives up to RETENTION_VACUUM_PAGES free pages back to the file system. */
static ps_err give_back_pages(ps_store *st, ps_retention_result *r, ps_errmsg *em)
{
    int64_t freel = 0, before;
    char sql[64];
    ps_err err = pragma_int(st, "PRAGMA freelist_count", &freel, em);
    if (err != PS_OK || freel <= 0)
        return err;
    before = freel;
    snprintf(sql, sizeof sql, "PRAGMA incremental_vacuum(%d)", RETENTION_VACUUM_PAGES);
    if ((err = ps_store_exec(&st->conn, sql, em)) != PS_OK ||
        (err = pragma_int(st, "PRAGMA freelist_count", &freel, em)) != PS_OK)
        return err;
    r->pages_freed = (uint64_t)(before - freel);
    if (freel > 0)
        r->more = true;
    return PS_OK;
}

ps_err ps_store_retention_step(ps_store *st, int64_t now_us, const ps_retention_policy *policy,
                               unsigned budget, ps_retention_result *res, ps_errmsg *em)
{
    ps_retention_result r;
    char sql[128];
    ps_err err = PS_OK;
    memset(&r, 0, sizeof r);
    if (res)
        *res = r;
    if (st->conn.mode != PS_STORE_WRITER)
        return ps_errmsg_set(em, PS_ERR_INTERNAL, "retention on a read-only store");
    if (st->in_batch)
        return ps_errmsg_set(em, PS_ERR_INTERNAL, "retention inside a batch");
    if (!policy || (policy->days <= 0 && policy->max_bytes == 0))
        return PS_OK;
    if (budget == 0)
        budget = 1000;
    if ((err = ps_store_exec(&st->conn, "BEGIN IMMEDIATE", em)) != PS_OK)
        return err;
    if (policy->days > 0 &&
        (err = expire_by_age(st, now_us, policy->days, budget, &r, em)) != PS_OK)
        goto fail;
    if (policy->max_bytes > 0 && r.deleted_age < budget &&
        (err = trim_to_size(st, policy->max_bytes, budget - (unsigned)r.deleted_age, &r, em)) !=
            PS_OK)
        goto fail;
    /* Time bounds of id ranges that hold no event any more. */
    snprintf(sql, sizeof sql, "DELETE FROM chunks WHERE id < (SELECT min(id) FROM events) >> %d",
             PS_CHUNK_SHIFT);
    if ((err = ps_store_exec(&st->conn, sql, em)) != PS_OK)
        goto fail;
    snprintf(sql, sizeof sql,
             "DELETE FROM chunk_devices WHERE chunk < (SELECT min(id) FROM events) >> %d",
             PS_CHUNK_SHIFT);
    if ((err = ps_store_exec(&st->conn, sql, em)) != PS_OK ||
        (err = ps_store_exec(&st->conn, "COMMIT", em)) != PS_OK)
        goto fail;
    err = give_back_pages(st, &r, em);
    if (res)
        *res = r;
    return err;
fail:
    (void)sqlite3_exec(st->conn.db, "ROLLBACK", NULL, NULL, NULL);
    return err;
}

ps_err ps_store_size_get(ps_store *st, bool count, ps_store_size *out, ps_errmsg *em)
{
    sqlite3_stmt *s = NULL;
    int64_t pages, freel, psize;
    ps_err err;
    memset(out, 0, sizeof *out);
    if ((err = pragma_int(st, "PRAGMA page_count", &pages, em)) != PS_OK ||
        (err = pragma_int(st, "PRAGMA freelist_count", &freel, em)) != PS_OK ||
        (err = pragma_int(st, "PRAGMA page_size", &psize, em)) != PS_OK)
        return err;
    out->file_bytes = (uint64_t)pages * (uint64_t)psize;
    out->used_bytes = (uint64_t)(pages - freel) * (uint64_t)psize;
    if (!count)
        return PS_OK;
    if (sqlite3_prepare_v2(st->conn.db,
                           "SELECT count(*), total(raw_len), total(length(raw)) FROM events", -1,
                           &s, NULL) != SQLITE_OK)
        return ps_store_dberr(&st->conn, em, "measuring events");
    if (sqlite3_step(s) == SQLITE_ROW) {
        out->events = (uint64_t)sqlite3_column_int64(s, 0);
        out->raw_bytes = (uint64_t)sqlite3_column_double(s, 1);
        out->stored_bytes = (uint64_t)sqlite3_column_double(s, 2);
    } else {
        err = ps_store_dberr(&st->conn, em, "measuring events");
    }
    sqlite3_finalize(s);
    return err;
}

/* ---- the other step between batches ---------------------------------------------- */

ps_err ps_store_chunkdev_fill_step(ps_store *st, unsigned chunks, bool *more, ps_errmsg *em)
{
    *more = false;
    if (st->conn.mode != PS_STORE_WRITER)
        return ps_store_need_writer(&st->conn, "ps_store_chunkdev_fill_step", em);
    if (st->in_batch)
        return ps_errmsg_set(em, PS_ERR_INTERNAL, "filling chunk devices inside a batch");
    return ps_chunkdev_fill_step(&st->cdev, &st->conn, chunks, more, em);
}
