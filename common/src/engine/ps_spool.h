/* ps_spool: an append-only journal of received frames, per device.
 *
 * A frame is appended (write(2), no fsync) before it enters the processing queue
 * and released once the database has committed it. The kernel keeps written data
 * when the process dies, so after a kill -9 the next start replays what was
 * received but not committed; the store's dedup absorbs what was committed after
 * all. This closes the gap that archive backfill cannot: POD's archive is at
 * least ~30 minutes stale, and the live stream resumes after the last frame it
 * sent, not after the last one we stored.
 *
 * Files: <dir>/<name>.<segment>.spool, segments of up to PS_SPOOL_SEGMENT_BYTES.
 * Record: 24-byte header (magic, length, CRC-32, type, flags, total length) and
 * payload. A torn tail (power loss) fails its CRC and ends the replay. */
#ifndef PS_SPOOL_H
#define PS_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "podstream/ps_error.h"

#define PS_SPOOL_SEGMENT_BYTES (8u * 1024u * 1024u)

typedef struct ps_spool ps_spool;

/* Position just after a record: segment number and byte offset. */
typedef struct ps_spool_pos {
    uint32_t segment;
    uint64_t offset;
} ps_spool_pos;

typedef struct ps_spool_record {
    const char *data;
    size_t len;
    size_t total_len; /* > len for an oversize message whose prefix was kept */
    int type;         /* the device data type when it was received */
    bool binary;
    bool oversize;
    ps_spool_pos end;
} ps_spool_record;

/* Opens the spool `name` in `dir` (created 0750 when missing). Segments already
 * there are kept for ps_spool_replay; appends go to a new segment after them. */
ps_err ps_spool_create(const char *dir, const char *name, ps_spool **out, ps_errmsg *em);

/* Calls fn for every record of the segments that existed at create time, oldest
 * first. A record that fails its check ends the replay of that segment (a torn
 * tail); the count of such records goes to *torn (may be NULL). */
typedef ps_err (*ps_spool_replay_fn)(void *ctx, const ps_spool_record *rec);
ps_err ps_spool_replay(ps_spool *sp, ps_spool_replay_fn fn, void *ctx, size_t *torn, ps_errmsg *em);

/* Appends one record; *end is its end position. Thread-safe with release. */
ps_err ps_spool_append(ps_spool *sp, const ps_spool_record *rec, ps_spool_pos *end, ps_errmsg *em);

/* Appends recs[0..n) with one system call where possible; ends[i] is the end of
 * recs[i]. All or none on error. Thread-safe with release. */
ps_err ps_spool_append_many(ps_spool *sp, const ps_spool_record *recs, size_t n, ps_spool_pos *ends,
                            ps_errmsg *em);

/* Every record up to and including `upto` is committed: deletes the segments that
 * hold nothing else. Thread-safe with append. */
void ps_spool_release(ps_spool *sp, ps_spool_pos upto);

/* Closes the spool. With `all_committed` every segment is deleted (clean stop).
 * Accepts NULL. */
void ps_spool_destroy(ps_spool *sp, bool all_committed);

#endif
