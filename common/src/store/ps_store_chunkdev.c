/* ps_store chunk devices: the writer's accumulator and the reader's view (see
 * ps_store_chunkdev.h). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_mem.h"
#include "store/ps_store_chunkdev.h"

#define ID_MASK ((1 << PS_CHUNKDEV_SHIFT) - 1)

/* ---- writer ------------------------------------------------------------------------ */

ps_err ps_chunkdev_prepare(ps_chunkdev *cd, ps_store_db *c, ps_errmsg *em)
{
    ps_err err = ps_store_prepare_kept(
        c, &cd->get, "SELECT max_ts, ids FROM chunk_devices WHERE chunk = ? AND device_id = ?", em);
    if (err == PS_OK)
        err = ps_store_prepare_kept(c, &cd->put,
                                    "INSERT OR REPLACE INTO chunk_devices(chunk, device_id, "
                                    "max_ts, ids) VALUES(?, ?, ?, ?)",
                                    em);
    return err;
}

void ps_chunkdev_deinit(ps_chunkdev *cd)
{
    sqlite3_finalize(cd->get);
    sqlite3_finalize(cd->put);
    free(cd->acc);
    memset(cd, 0, sizeof *cd);
}

void ps_chunkdev_reset(ps_chunkdev *cd)
{
    cd->n = 0;
}

ps_err ps_chunkdev_note(ps_chunkdev *cd, int64_t id, long long device_id, int64_t ts)
{
    int64_t chunk = id >> PS_CHUNKDEV_SHIFT;
    unsigned bit = (unsigned)(id & ID_MASK);
    ps_chunkdev_ent *e = NULL;
    /* A batch touches a chunk or two and a few devices: the newest entries first. */
    for (size_t i = cd->n; i-- > 0;) {
        if (cd->acc[i].chunk == chunk && cd->acc[i].device_id == device_id) {
            e = &cd->acc[i];
            break;
        }
        if (cd->acc[i].chunk < chunk)
            break; /* ids grow: nothing older holds this chunk */
    }
    if (!e) {
        if (ps_mem_grow_array((void **)&cd->acc, &cd->cap, cd->n, sizeof *cd->acc) != PS_OK)
            return PS_ERR_NOMEM;
        e = &cd->acc[cd->n++];
        memset(e, 0, sizeof *e);
        e->chunk = chunk;
        e->device_id = device_id;
        e->max_ts = ts;
    }
    if (ts > e->max_ts)
        e->max_ts = ts;
    e->ids[bit / 8] |= (unsigned char)(1u << (bit % 8));
    return PS_OK;
}

/* Adds what the table already holds for e's chunk and device to e. */
static ps_err merge_stored(ps_chunkdev *cd, ps_store_db *c, ps_chunkdev_ent *e, ps_errmsg *em)
{
    int rc;
    sqlite3_bind_int64(cd->get, 1, e->chunk);
    sqlite3_bind_int64(cd->get, 2, e->device_id);
    rc = sqlite3_step(cd->get);
    if (rc == SQLITE_ROW) {
        const unsigned char *b = sqlite3_column_blob(cd->get, 1);
        int n = sqlite3_column_bytes(cd->get, 1);
        int64_t m = sqlite3_column_int64(cd->get, 0);
        if (m > e->max_ts)
            e->max_ts = m;
        for (int i = 0; b && i < n && i < PS_CHUNKDEV_BYTES; i++)
            e->ids[i] |= b[i];
    }
    sqlite3_reset(cd->get);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return ps_store_dberr(c, em, "reading the devices of a chunk");
    return PS_OK;
}

ps_err ps_chunkdev_flush(ps_chunkdev *cd, ps_store_db *c, ps_errmsg *em)
{
    ps_err err = PS_OK;
    for (size_t i = 0; i < cd->n && err == PS_OK; i++) {
        ps_chunkdev_ent *e = &cd->acc[i];
        if ((err = merge_stored(cd, c, e, em)) != PS_OK)
            break;
        sqlite3_bind_int64(cd->put, 1, e->chunk);
        sqlite3_bind_int64(cd->put, 2, e->device_id);
        sqlite3_bind_int64(cd->put, 3, e->max_ts);
        sqlite3_bind_blob(cd->put, 4, e->ids, PS_CHUNKDEV_BYTES, SQLITE_STATIC);
        err = ps_store_step_done(c, cd->put, "recording the devices of a chunk", em);
    }
    return err;
}

/* ---- filling what was stored before schema 6 --------------------------------------- */

/* meta key: every chunk at or above it has its rows; the chunks below are still to
 * fill (0: nothing left). */
#define FILL_KEY  "chunkdev_fill_below"
#define FILL_WHAT "filling the devices of old chunks"

/* Where the fill stands (*known: it was recorded). The first time: above the newest
 * chunk that has no row at all, so that the chunk the upgrade cut in two (rows for
 * its newer ids only) is filled too; with no such chunk (a database created at
 * schema 6) nothing is left. */
static ps_err fill_below(ps_store_db *c, int64_t *below, bool *known, ps_errmsg *em)
{
    bool found;
    ps_err err = ps_store_meta_get(c, FILL_KEY, known, below, FILL_WHAT, em);
    if (err != PS_OK || *known)
        return err;
    err = ps_store_int_query(c,
                             "SELECT max(id) FROM chunks WHERE NOT EXISTS (SELECT 1 FROM "
                             "chunk_devices WHERE chunk = chunks.id)",
                             NULL, &found, below, FILL_WHAT, em);
    *below = found ? *below + 2 : 0;
    return err;
}

/* Notes every event with an id in [lo, hi) and merges the rows into the table. */
static ps_err fill_range(ps_chunkdev *cd, ps_store_db *c, int64_t lo, int64_t hi, ps_errmsg *em)
{
    sqlite3_stmt *s = NULL;
    ps_err err = PS_OK;
    int rc = SQLITE_DONE;
    if (sqlite3_prepare_v2(c->db,
                           "SELECT id, device_id, ts_us FROM events WHERE id >= ? AND id < ? "
                           "ORDER BY id",
                           -1, &s, NULL) != SQLITE_OK)
        return ps_store_dberr(c, em, FILL_WHAT);
    sqlite3_bind_int64(s, 1, lo);
    sqlite3_bind_int64(s, 2, hi);
    ps_chunkdev_reset(cd);
    while (err == PS_OK && (rc = sqlite3_step(s)) == SQLITE_ROW)
        if (ps_chunkdev_note(cd, sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1),
                             sqlite3_column_int64(s, 2)) != PS_OK)
            err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    if (err == PS_OK && rc != SQLITE_DONE)
        err = ps_store_dberr(c, em, FILL_WHAT);
    sqlite3_finalize(s);
    if (err == PS_OK)
        err = ps_chunkdev_flush(cd, c, em);
    ps_chunkdev_reset(cd);
    return err;
}

ps_err ps_chunkdev_fill_step(ps_chunkdev *cd, ps_store_db *c, unsigned chunks, bool *more,
                             ps_errmsg *em)
{
    int64_t below = 0, top = 0, lo = 0;
    bool known = false, found = false;
    ps_err err;
    *more = false;
    if ((err = ps_store_exec(c, "BEGIN IMMEDIATE", em)) != PS_OK)
        return err;
    err = fill_below(c, &below, &known, em);
    if (err == PS_OK && below > 0) {
        int64_t first = below << PS_CHUNKDEV_SHIFT;
        /* Retention may have left a gap: go on from the newest event below. */
        err = ps_store_int_query(c, "SELECT max(id) FROM events WHERE id < ?", &first, &found, &top,
                                 FILL_WHAT, em);
    }
    if (err == PS_OK && found) {
        int64_t hi = (top >> PS_CHUNKDEV_SHIFT) + 1;
        lo = hi - (int64_t)(chunks ? chunks : 1);
        if (lo < 0)
            lo = 0;
        err = fill_range(cd, c, lo << PS_CHUNKDEV_SHIFT, hi << PS_CHUNKDEV_SHIFT, em);
    }
    if (err == PS_OK && !(known && below <= 0))
        err = ps_store_meta_put(c, FILL_KEY, lo, NULL, FILL_WHAT, em);
    if (err == PS_OK)
        err = ps_store_exec(c, "COMMIT", em);
    if (err != PS_OK) {
        ps_chunkdev_reset(cd);
        (void)sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
        return err;
    }
    *more = lo > 0;
    return PS_OK;
}

/* ---- reader ------------------------------------------------------------------------ */

ps_err ps_chunkdev_view_init(ps_chunkdev_view *v, ps_store_db *c, ps_errmsg *em)
{
    (void)em;
    memset(v, 0, sizeof *v);
    /* No table: an empty view, which excludes nothing. */
    if (sqlite3_prepare_v2(c->db,
                           "SELECT device_id, max_ts, ids FROM chunk_devices WHERE chunk = ?", -1,
                           &v->s, NULL) != SQLITE_OK) {
        sqlite3_finalize(v->s);
        v->s = NULL;
    }
    return PS_OK;
}

void ps_chunkdev_view_deinit(ps_chunkdev_view *v)
{
    sqlite3_finalize(v->s);
    free(v->dev);
    memset(v, 0, sizeof *v);
}

ps_err ps_chunkdev_view_load(ps_chunkdev_view *v, ps_store_db *c, int64_t chunk, ps_errmsg *em)
{
    int rc;
    v->n = 0;
    if (!v->s)
        return PS_OK;
    sqlite3_bind_int64(v->s, 1, chunk);
    while ((rc = sqlite3_step(v->s)) == SQLITE_ROW) {
        const unsigned char *b = sqlite3_column_blob(v->s, 2);
        int n = sqlite3_column_bytes(v->s, 2);
        ps_chunkdev_ent *e;
        if (ps_mem_grow_array((void **)&v->dev, &v->cap, v->n, sizeof *v->dev) != PS_OK) {
            sqlite3_reset(v->s);
            v->n = 0;
            return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
        }
        e = &v->dev[v->n++];
        memset(e, 0, sizeof *e);
        e->chunk = chunk;
        e->device_id = sqlite3_column_int64(v->s, 0);
        e->max_ts = sqlite3_column_int64(v->s, 1);
        if (b)
            memcpy(e->ids, b, (size_t)(n < PS_CHUNKDEV_BYTES ? n : PS_CHUNKDEV_BYTES));
    }
    sqlite3_reset(v->s);
    if (rc != SQLITE_DONE) {
        v->n = 0;
        return ps_store_dberr(c, em, "reading the devices of a chunk");
    }
    return PS_OK;
}

bool ps_chunkdev_view_excludes(const ps_chunkdev_view *v, int64_t id, long long device_id,
                               int64_t below_ts)
{
    unsigned bit = (unsigned)(id & ID_MASK);
    bool claimed = false;
    for (size_t i = 0; i < v->n; i++) {
        const ps_chunkdev_ent *e = &v->dev[i];
        if (!(e->ids[bit / 8] & (1u << (bit % 8))))
            continue;
        claimed = true;
        if ((device_id < 0 || e->device_id == device_id) &&
            (below_ts == INT64_MIN || e->max_ts >= below_ts))
            return false; /* this device may hold a wanted row */
    }
    return claimed;
}
