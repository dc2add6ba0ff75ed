/* ps_store recovery: rebuilding a damaged database into a new file (see
 * ps_store_recover in ps_store.h and `podstream repair`).
 *
 * Debian 12's libsqlite3 (3.40) has no recovery API (sqlite3_recover arrived in
 * its sources as an extension, not in the library), so this walks each table in
 * rowid order and steps over damage itself: a damaged page makes a read fail, and
 * the first rowid after it is found by seeking further and further ahead, then
 * halving back to where the next sound page starts. Events are stored again
 * through ps_store_insert, which rebuilds their full-text entries, hourly counts
 * and chunks (the full-text index keeps no text to copy). */
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_mem.h"
#include "podstream/ps_platform.h"
#include "store/ps_store_internal.h"

/* Events per transaction of the new file. */
#define RECOVER_BATCH 1000
/* What the archive keeps, and so how far back a lost stretch with no readable
 * event before it is assumed to reach. */
#define ARCHIVE_US ((int64_t)30 * 86400 * 1000000)
/* The margin the repair window gets before a lost stretch, as for a dropped
 * session. */
#define MARGIN_US ((int64_t)15 * 60 * 1000000)

/* ---- walking a table past damaged pages ------------------------------------------- */

typedef struct walker {
    sqlite3_stmt *s; /* "... WHERE rowid >= ?1 ORDER BY rowid", the rowid in column 0 */
    int64_t last;    /* the last rowid delivered; 0 before the first (rowids here are >= 1) */
} walker;

/* Seeks to the first row at or after `from`; the step result says whether the
 * table reads from there (the statement then stands on that row, or at the end). */
static int probe(walker *w, int64_t from)
{
    sqlite3_reset(w->s);
    sqlite3_bind_int64(w->s, 1, from);
    return sqlite3_step(w->s);
}

static bool readable(int rc)
{
    return rc == SQLITE_ROW || rc == SQLITE_DONE;
}

/* Finds the first readable place after w->last: doubling the step until a seek
 * succeeds, then halving back between the last failure and that success, which is
 * where the next sound page begins. Returns the step result standing there. */
static int skip_damage(walker *w)
{
    int64_t bad = w->last + 1, good;
    uint64_t step = 1;
    int rc;
    for (;;) {
        good = (uint64_t)(INT64_MAX - bad) <= step ? INT64_MAX : bad + (int64_t)step;
        if (readable(probe(w, good)) || good == INT64_MAX)
            break;
        bad = good;
        step *= 2;
    }
    while (good - bad > 1) {
        int64_t mid = bad + (good - bad) / 2;
        if (readable(probe(w, mid)))
            good = mid;
        else
            bad = mid;
    }
    rc = probe(w, good);
    return readable(rc) ? rc : SQLITE_DONE;
}

/* The next row: SQLITE_ROW (the statement stands on it) or SQLITE_DONE; *gap when
 * a damaged stretch was stepped over to get there. Rows out of rowid order are
 * garbage read from a damaged page, and taken as damage too. */
static int walk_next(walker *w, bool *gap)
{
    int rc = sqlite3_step(w->s);
    *gap = false;
    if (rc == SQLITE_ROW && sqlite3_column_int64(w->s, 0) > w->last) {
        w->last = sqlite3_column_int64(w->s, 0);
        return rc;
    }
    if (rc == SQLITE_DONE)
        return rc;
    if (rc != SQLITE_ROW && (rc & 0xff) != SQLITE_CORRUPT && (rc & 0xff) != SQLITE_NOTADB)
        return rc;
    *gap = true;
    rc = skip_damage(w);
    if (rc == SQLITE_ROW)
        w->last = sqlite3_column_int64(w->s, 0);
    return rc;
}

/* ---- the events ----------------------------------------------------------------------- */

typedef struct seen_dev {
    long long device_id;
    int type;
    int64_t max_ts;
} seen_dev;

/* An output's cursor: events get new ids in the new file, so the cursor moves to
 * the new id of the last event it had delivered. */
typedef struct out_cursor {
    char *name;
    int64_t old_id, new_id;
} out_cursor;

typedef struct recover_ctx {
    ps_store *src, *dst;
    int64_t now_us;
    ps_store_recovery *out;
    seen_dev *devs;
    size_t ndevs, capdevs;
    out_cursor *outs;
    size_t nouts, capouts;
    int64_t max_cursor; /* the highest old cursor: no id lookup is needed past it */
    unsigned in_batch;
} recover_ctx;

static ps_err note_device(recover_ctx *c, long long device_id, int type, int64_t ts)
{
    for (size_t i = 0; i < c->ndevs; i++)
        if (c->devs[i].device_id == device_id && c->devs[i].type == type) {
            if (ts > c->devs[i].max_ts)
                c->devs[i].max_ts = ts;
            return PS_OK;
        }
    if (ps_mem_grow_array((void **)&c->devs, &c->capdevs, c->ndevs, sizeof *c->devs) != PS_OK)
        return PS_ERR_NOMEM;
    c->devs[c->ndevs++] = (seen_dev){device_id, type, ts};
    return PS_OK;
}

static void lost_range(ps_store_recovery *r, int64_t from, int64_t to)
{
    if (r->lost_from_us == 0 || from < r->lost_from_us)
        r->lost_from_us = from;
    if (to > r->lost_to_us)
        r->lost_to_us = to;
}

/* Event `old_id` was just stored again: the cursors at or past it follow it to its
 * new id. Events are copied in id order, so each cursor ends on the new id of the
 * last event it covered that could be read. */
static ps_err follow_cursors(recover_ctx *c, int64_t old_id, ps_errmsg *em)
{
    int64_t new_id;
    ps_err err = ps_store_last_id(c->dst, &new_id, em);
    for (size_t i = 0; err == PS_OK && i < c->nouts; i++)
        if (c->outs[i].old_id >= old_id)
            c->outs[i].new_id = new_id;
    return err;
}

/* Stores one event of the damaged file again; false when it cannot be read. */
static bool copy_event(recover_ctx *c, sqlite3_stmt *row, ps_errmsg *em, ps_err *err)
{
    int64_t id = sqlite3_column_int64(row, 0);
    ps_data_type type = (ps_data_type)sqlite3_column_int(row, 2);
    const char *tags = (const char *)sqlite3_column_text(row, 4);
    char *raw = NULL;
    size_t len = 0;
    ps_event ev;
    bool dup = false, ok = false;
    ps_errmsg why;
    ps_event_init(&ev);
    if (ps_store_event_raw(c->src, id, &raw, &len, &why) != PS_OK ||
        ps_event_parse(&ev, type, raw, len, &why) != PS_OK || ps_event_extract(&ev, &why) != PS_OK)
        goto out;
    if (c->in_batch == 0 && (*err = ps_store_begin(c->dst, em)) != PS_OK)
        goto out;
    c->in_batch++;
    *err = ps_store_insert(c->dst, sqlite3_column_int64(row, 1), &ev, raw, len, tags, &dup, em);
    if (*err == PS_OK && !dup && id <= c->max_cursor)
        *err = follow_cursors(c, id, em);
    if (*err == PS_OK && c->in_batch >= RECOVER_BATCH) {
        c->in_batch = 0;
        *err = ps_store_commit(c->dst, em);
    }
    ok = *err == PS_OK;
out:
    ps_event_deinit(&ev);
    free(raw);
    return ok;
}

/* Records the stretch lost since the last event read (from ts_before; none: as
 * far back as the archive goes) up to `to`. */
static void lost_since(recover_ctx *c, int64_t ts_before, int64_t to)
{
    lost_range(c->out, ts_before ? ts_before : c->now_us - ARCHIVE_US, to);
}

static ps_err copy_events(recover_ctx *c, ps_errmsg *em)
{
    walker w = {0};
    ps_err err = PS_OK;
    int64_t ts_before = 0, ts;
    bool gap, pending = false; /* pending: events lost since ts_before */
    int rc;
    if (sqlite3_prepare_v2(c->src->conn.db,
                           "SELECT id, device_id, type, ts_us, tags FROM events WHERE id >= ?1 "
                           "ORDER BY id",
                           -1, &w.s, NULL) != SQLITE_OK)
        return ps_store_dberr(&c->src->conn, em, "reading the events");
    sqlite3_bind_int64(w.s, 1, 1);
    for (;;) {
        int64_t before = w.last;
        rc = walk_next(&w, &gap);
        if (gap) {
            c->out->gaps++;
            pending = true;
            /* ids grow by one per event stored, so the gap counts what it held
             * (fewer when retention had deleted some of them) */
            if (rc == SQLITE_ROW && w.last > before + 1)
                c->out->events_lost += (uint64_t)(w.last - before - 1);
        }
        if (rc != SQLITE_ROW)
            break;
        ts = sqlite3_column_int64(w.s, 3);
        if (copy_event(c, w.s, em, &err)) {
            c->out->events_saved++;
            if (pending)
                lost_since(c, ts_before, ts);
            pending = false;
            ts_before = ts;
            err = note_device(c, sqlite3_column_int64(w.s, 1), sqlite3_column_int(w.s, 2), ts);
        } else if (err == PS_OK) {
            c->out->events_lost++;
            pending = true;
        }
        if (err != PS_OK)
            goto out;
    }
    if (pending)
        lost_since(c, ts_before, c->now_us);
    if (rc != SQLITE_DONE)
        err = ps_store_dberr(&c->src->conn, em, "reading the events");
    if (err == PS_OK && c->in_batch > 0) {
        c->in_batch = 0;
        err = ps_store_commit(c->dst, em);
    }
out:
    sqlite3_finalize(w.s);
    return err;
}

/* ---- the other tables ------------------------------------------------------------------ */

/* Copies what can be read of `table` into the same table of the new file: rowid
 * tables past damaged pages, WITHOUT ROWID tables (a page or two each) up to the
 * first damage. */
static ps_err copy_table(recover_ctx *c, const char *table, bool rowid, ps_errmsg *em)
{
    char sql[256];
    walker w = {0};
    sqlite3_stmt *ins = NULL;
    ps_err err = PS_OK;
    int ncol, first = rowid ? 1 : 0, rc;
    size_t len;
    bool gap = false, damaged = false;
    if (rowid)
        snprintf(sql, sizeof sql, "SELECT rowid, * FROM %s WHERE rowid >= ?1 ORDER BY rowid",
                 table);
    else
        snprintf(sql, sizeof sql, "SELECT * FROM %s WHERE ?1 IS NOT NULL", table);
    if (sqlite3_prepare_v2(c->src->conn.db, sql, -1, &w.s, NULL) != SQLITE_OK) {
        /* A file from before the table was added (outputs: schema 4) has none to copy. */
        if (strstr(sqlite3_errmsg(c->src->conn.db), "no such table"))
            return PS_OK;
        return ps_store_dberr(&c->src->conn, em, "reading a table");
    }
    ncol = sqlite3_column_count(w.s);
    len = (size_t)snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO %s VALUES (?", table);
    for (int i = first + 1; i < ncol && len < sizeof sql; i++)
        len += (size_t)snprintf(sql + len, sizeof sql - len, ", ?");
    if (len < sizeof sql)
        snprintf(sql + len, sizeof sql - len, ")");
    if (sqlite3_prepare_v2(c->dst->conn.db, sql, -1, &ins, NULL) != SQLITE_OK) {
        err = ps_store_dberr(&c->dst->conn, em, "copying a table");
        goto out;
    }
    sqlite3_bind_int64(w.s, 1, 1);
    while ((rc = rowid ? walk_next(&w, &gap) : sqlite3_step(w.s)) == SQLITE_ROW || gap) {
        damaged = damaged || gap;
        if (rc != SQLITE_ROW)
            break;
        for (int i = first; i < ncol; i++)
            sqlite3_bind_value(ins, i - first + 1, sqlite3_column_value(w.s, i));
        if (ps_store_step_done(&c->dst->conn, ins, "copying a table", NULL) == PS_OK)
            c->out->rows_saved++;
        else
            c->out->rows_lost++;
    }
    if (!rowid && !readable(rc))
        damaged = true;
    c->out->tables_damaged += damaged ? 1 : 0;
out:
    sqlite3_finalize(ins);
    sqlite3_finalize(w.s);
    return err;
}

/* Reads the outputs' cursors of the damaged file (a file from before outputs has
 * none); what cannot be read leaves its output at 0, which redelivers, never skips. */
static ps_err read_cursors(recover_ctx *c, ps_errmsg *em)
{
    sqlite3_stmt *s = NULL;
    ps_err err = PS_OK;
    if (sqlite3_prepare_v2(c->src->conn.db, "SELECT name, last_id FROM outputs", -1, &s, NULL) !=
        SQLITE_OK)
        return PS_OK;
    while (err == PS_OK && sqlite3_step(s) == SQLITE_ROW) {
        char *name = strdup((const char *)sqlite3_column_text(s, 0));
        err = name ? ps_mem_grow_array((void **)&c->outs, &c->capouts, c->nouts, sizeof *c->outs)
                   : PS_ERR_NOMEM;
        if (err != PS_OK) {
            free(name);
            break;
        }
        c->outs[c->nouts++] = (out_cursor){name, sqlite3_column_int64(s, 1), 0};
        if (c->outs[c->nouts - 1].old_id > c->max_cursor)
            c->max_cursor = c->outs[c->nouts - 1].old_id;
    }
    sqlite3_finalize(s);
    return err == PS_OK ? PS_OK : ps_errmsg_set(em, err, "out of memory");
}

/* The outputs' rows were copied with their old cursors: set the new ones. */
static ps_err write_cursors(recover_ctx *c, ps_errmsg *em)
{
    sqlite3_stmt *s = NULL;
    ps_err err;
    if (c->nouts == 0)
        return PS_OK;
    if (sqlite3_prepare_v2(c->dst->conn.db, "UPDATE outputs SET last_id = ?2 WHERE name = ?1", -1,
                           &s, NULL) != SQLITE_OK)
        return ps_store_dberr(&c->dst->conn, em, "moving the outputs' cursors");
    err = ps_store_begin(c->dst, em);
    for (size_t i = 0; err == PS_OK && i < c->nouts; i++) {
        sqlite3_reset(s);
        sqlite3_bind_text(s, 1, c->outs[i].name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, c->outs[i].new_id);
        err = ps_store_step_done(&c->dst->conn, s, "moving the outputs' cursors", em);
    }
    sqlite3_finalize(s);
    if (err != PS_OK) {
        ps_store_rollback(c->dst);
        return err;
    }
    return ps_store_commit(c->dst, em);
}

/* Every device seen gets an unclean resume state whose repair window covers what
 * was lost, so its next start fetches that again from the archive. */
static ps_err mark_resume(recover_ctx *c, ps_errmsg *em)
{
    sqlite3_stmt *s = NULL;
    ps_err err = PS_OK;
    if (sqlite3_prepare_v2(c->dst->conn.db, "SELECT device_id, type FROM resume", -1, &s, NULL) !=
        SQLITE_OK)
        return ps_store_dberr(&c->dst->conn, em, "reading the resume state");
    while (err == PS_OK && sqlite3_step(s) == SQLITE_ROW)
        err = note_device(c, sqlite3_column_int64(s, 0), sqlite3_column_int(s, 1), 0);
    sqlite3_finalize(s);
    if (err != PS_OK)
        return ps_errmsg_set(em, err, "out of memory");
    if ((err = ps_store_begin(c->dst, em)) != PS_OK)
        return err;
    for (size_t i = 0; i < c->ndevs && err == PS_OK; i++) {
        ps_resume_state r;
        const seen_dev *d = &c->devs[i];
        err = ps_store_resume_get(c->dst, d->device_id, (ps_data_type)d->type, &r, em);
        if (err != PS_OK)
            break;
        r.clean_shutdown = false;
        if (r.last_event_ts_us < d->max_ts)
            r.last_event_ts_us = d->max_ts;
        if (c->out->lost_to_us > 0) {
            int64_t from = c->out->lost_from_us - MARGIN_US;
            if (r.repair_from_us == 0 || from < r.repair_from_us)
                r.repair_from_us = from;
            if (c->out->lost_to_us > r.repair_to_us)
                r.repair_to_us = c->out->lost_to_us;
        }
        err = ps_store_resume_put(c->dst, d->device_id, (ps_data_type)d->type, &r, em);
    }
    c->out->devices = c->ndevs;
    if (err != PS_OK) {
        ps_store_rollback(c->dst);
        return err;
    }
    return ps_store_commit(c->dst, em);
}

ps_err ps_store_recover(const char *damaged, const char *fresh, int64_t now_us,
                        ps_store_recovery *out, ps_errmsg *em)
{
    static const struct {
        const char *name;
        bool rowid;
    } tables[] = {{"resume", false},
                  {"counters", true},
                  {"pipeline_counters", false},
                  {"quarantine", true},
                  {"outputs", false}};
    recover_ctx c = {.now_us = now_us, .out = out};
    ps_err err;
    memset(out, 0, sizeof *out);
    if (ps_plat_file_exists(fresh))
        return ps_errmsg_set(em, PS_ERR_EXISTS, "%s already exists", fresh);
    if ((err = ps_store_create(damaged, PS_STORE_READER, &c.src, em)) != PS_OK ||
        (err = ps_store_create(fresh, PS_STORE_WRITER, &c.dst, em)) != PS_OK)
        goto out;
    if ((err = read_cursors(&c, em)) != PS_OK ||
        (err = ps_store_exec(&c.dst->conn, "BEGIN", em)) != PS_OK)
        goto out;
    for (size_t i = 0; i < sizeof tables / sizeof tables[0] && err == PS_OK; i++)
        err = copy_table(&c, tables[i].name, tables[i].rowid, em);
    if (err == PS_OK)
        err = ps_store_exec(&c.dst->conn, "COMMIT", em);
    else
        (void)sqlite3_exec(c.dst->conn.db, "ROLLBACK", NULL, NULL, NULL);
    if (err == PS_OK && (err = copy_events(&c, em)) == PS_OK &&
        (err = mark_resume(&c, em)) == PS_OK)
        err = write_cursors(&c, em);
out:
    ps_store_destroy(c.src);
    ps_store_destroy(c.dst);
    free(c.devs);
    for (size_t i = 0; i < c.nouts; i++)
        free(c.outs[i].name);
    free(c.outs);
    return err;
}
