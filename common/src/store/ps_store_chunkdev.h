/* ps_store chunk devices: for each chunk of 1,024 consecutive ids, which of its ids
 * each device stored and the largest ts among them (table chunk_devices, schema 6).
 *
 * A newest-first full-text walk reads candidates by descending id and stops when
 * chunks.pmax falls below the oldest row it keeps. When one device runs ahead of
 * another, pmax stays high for every id of the lead, and the walk used to read the
 * rank of every candidate there. With this table it tells a candidate's device from
 * the chunk's bitmaps and skips, without reading the row, a candidate whose device
 * has nothing in that chunk new enough to be kept.
 *
 * The bitmaps only ever gain bits and max_ts only grows (a reused id after a
 * complete delete is claimed by every device that held it), so what they say is a
 * bound, never wrong in the direction that would drop a row. Ids stored before
 * schema 6 have no bit in any bitmap and are read as before, until
 * ps_chunkdev_fill_step has filled their chunks from the events (newest first, a
 * few chunks per step between the writer's batches).
 *
 * Like the codec, this piece takes a ps_store_db and its own state, never a
 * ps_store. */
#ifndef PS_STORE_CHUNKDEV_H
#define PS_STORE_CHUNKDEV_H

#include <stdbool.h>
#include <stdint.h>

#include "store/ps_store_sql.h"

/* Ids per chunk, as chunks (PS_CHUNK_SHIFT in ps_store_internal.h). */
#define PS_CHUNKDEV_SHIFT 10
#define PS_CHUNKDEV_BYTES ((1 << PS_CHUNKDEV_SHIFT) / 8)

/* One device's ids in one chunk. */
typedef struct ps_chunkdev_ent {
    int64_t chunk;
    long long device_id;
    int64_t max_ts;
    unsigned char ids[PS_CHUNKDEV_BYTES]; /* bit (id % 1024) of byte (id % 1024) / 8 */
} ps_chunkdev_ent;

/* The writer's accumulator of the open batch; a member of the ps_store, zeroed with
 * it. */
typedef struct ps_chunkdev {
    ps_chunkdev_ent *acc;
    size_t n, cap;
    sqlite3_stmt *get, *put;
} ps_chunkdev;

/* Prepares the writer's statements (after the schema is in place). */
ps_err ps_chunkdev_prepare(ps_chunkdev *cd, ps_store_db *c, ps_errmsg *em);
/* Finalizes the statements and frees the accumulator; cd stays usable zeroed. */
void ps_chunkdev_deinit(ps_chunkdev *cd);
/* Forgets what the open batch noted (begin, commit, rollback). */
void ps_chunkdev_reset(ps_chunkdev *cd);
/* Notes a stored event. PS_ERR_NOMEM only. */
ps_err ps_chunkdev_note(ps_chunkdev *cd, int64_t id, long long device_id, int64_t ts);
/* Merges what the batch noted into chunk_devices, inside the batch's transaction. */
ps_err ps_chunkdev_flush(ps_chunkdev *cd, ps_store_db *c, ps_errmsg *em);

/* Fills the rows of up to `chunks` chunks stored before schema 6 from the events
 * table, newest first, and records how far it got (meta chunkdev_fill_below), in one
 * transaction of its own: a later call, in this process or after a restart, goes on
 * from there. *more: chunks are left. Rows already there are merged, never lost, so
 * a chunk filled twice is filled right. Writer only, between batches; uses cd's
 * accumulator and leaves it empty. */
ps_err ps_chunkdev_fill_step(ps_chunkdev *cd, ps_store_db *c, unsigned chunks, bool *more,
                             ps_errmsg *em);

/* A reader's view of one chunk's devices, reloaded per chunk by a walk; caller-owned
 * (ps_chunkdev_view_init/_deinit). Without the table (a database older than schema
 * 6 opened read-only by an older check) the view stays empty and excludes nothing. */
typedef struct ps_chunkdev_view {
    ps_chunkdev_ent *dev;
    size_t n, cap;
    sqlite3_stmt *s;
} ps_chunkdev_view;

ps_err ps_chunkdev_view_init(ps_chunkdev_view *v, ps_store_db *c, ps_errmsg *em);
void ps_chunkdev_view_deinit(ps_chunkdev_view *v);
/* Loads the devices of `chunk`. */
ps_err ps_chunkdev_view_load(ps_chunkdev_view *v, ps_store_db *c, int64_t chunk, ps_errmsg *em);
/* True when event `id` (in the loaded chunk) cannot be a row wanted: every device
 * that may hold it is not `device_id` (when >= 0), or has no ts of `below_ts` or
 * more in the chunk (when below_ts > INT64_MIN). False when no device claims it. */
bool ps_chunkdev_view_excludes(const ps_chunkdev_view *v, int64_t id, long long device_id,
                               int64_t below_ts);

#endif
