/* ps_engine: the streaming core behind `podstream run`.
 *
 * Per enabled device: one receiver thread (WebSocket session, resume decisions,
 * backoff, keepalive) appends each message to the device spool and queues it;
 * `workers` threads parse it, run pipelines, extract fields and prepare the row
 * (compression, full-text entry); one writer thread for the whole database, which
 * runs nothing but SQLite, commits batches (1,000 events or 100 ms) together with
 * the resume state, and writes live counters every second.
 *
 * Memory is bounded per device: the receiver stops reading the socket while
 * PS_ENGINE_MAX_INFLIGHT messages or PS_ENGINE_MAX_INFLIGHT_BYTES are between
 * receipt and commit (one message larger than that is still admitted alone). Four
 * batches' worth: with two, a device alone waited for each commit, and the writer
 * for the batch after it (docs/performance.md, "One device alone"); a processed
 * message waits for its commit as a compressed row of a few hundred bytes. */
#ifndef PS_ENGINE_H
#define PS_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "ps_config.h"
#include "ps_error.h"
#include "ps_pipeline.h"

#define PS_ENGINE_MAX_INFLIGHT       4096
#define PS_ENGINE_MAX_INFLIGHT_BYTES (4u * 1024u * 1024u)
#define PS_ENGINE_BATCH_EVENTS       1000
#define PS_ENGINE_BATCH_MS           100

typedef struct ps_engine ps_engine;

/* Opens the database and prepares the devices of `cfg`, whose pipelines are
 * compiled in `pipes` (from ps_pipeline_set_create on the same cfg). Takes
 * ownership of both (also on failure). *out is destroyed by the caller. */
ps_err ps_engine_create(ps_config *cfg, ps_pipeline_set *pipes, ps_engine **out, ps_errmsg *em);

/* Replays each device's spool, then starts every enabled device and the writer. */
ps_err ps_engine_start(ps_engine *eng, ps_errmsg *em);

/* Applies a new, already validated configuration and its compiled pipelines:
 * devices that were added, removed or changed are started, stopped or restarted;
 * the others keep their session and switch to the new pipelines. Takes ownership
 * of cfg and pipes (also on failure). A changed database path is refused whole
 * (PS_ERR_INVALID, em names both paths): the running configuration stays. */
ps_err ps_engine_reload(ps_engine *eng, ps_config *cfg, ps_pipeline_set *pipes, ps_errmsg *em);

/* Records that a new configuration was refused before it reached the engine (the
 * loader found errors): `reason` (copied; may be NULL) says why, the running one
 * stays. ps_engine_start and ps_engine_reload record their own outcome. The record
 * (ps_reload_record) is written with the next live counters, within a second, for
 * `status` and the GUI. Same thread as ps_engine_reload. */
void ps_engine_reload_refused(ps_engine *eng, const char *reason);

/* A stop ends within the 5 s a service manager allows even when the database cannot
 * be written: the writer retries for this long after the stop request, then leaves
 * what it holds in the spool; the final state write has this much more. */
#define PS_ENGINE_STOP_COMMIT_MS 3500
#define PS_ENGINE_STOP_FINAL_MS  500

/* Stops reading, drains every queue, commits, and records the stop: clean when
 * everything received was committed. PS_OK then. When the database could not be
 * written in time (or has a fault): PS_ERR_AGAIN when all that was left stays in the
 * spool for the next start, PS_ERR_IO when some received events could be neither
 * committed nor spooled (their devices' repair windows cover them under
 * resume_policy auto); em (may be NULL) gives the counts. A later call, or the one
 * in ps_engine_destroy, returns the same. */
ps_err ps_engine_stop(ps_engine *eng, ps_errmsg *em);

/* PS_OK while the engine can go on; otherwise the failure that needs it stopped,
 * with its text in em (may be NULL). The database then gets no more writes and the
 * spool keeps what arrives. PS_ERR_CORRUPT: the database is damaged. PS_ERR_NOTFOUND:
 * its file was removed or replaced; the stop saves what the engine stored beside it,
 * and puts it back when the path is free. Any thread; the service polls it and
 * stops. */
ps_err ps_engine_fault(ps_engine *eng, ps_errmsg *em);

/* Stops if still running and frees everything. Accepts NULL. */
void ps_engine_destroy(ps_engine *eng);

/* What the service manager is told (ps_engine_health). */
typedef struct ps_engine_health {
    uint64_t progress; /* times the writer stored the live counters: it moves about once
                        * a second while the writer makes progress, and stands still
                        * while it is stuck (a locked or failing database) */
    size_t devices;    /* devices running */
    size_t live;       /* of those, receiving (live or backfill) */
    double rate_10s;   /* events per second over the last 10 s, all devices */
} ps_engine_health;

/* Fills *out (caller-owned) without waiting for the writer; cheap enough for every
 * second. Call from the thread that calls ps_engine_reload, the one that changes
 * the device list. */
void ps_engine_health_get(ps_engine *eng, ps_engine_health *out);

/* Bytes of the messages a device received from POD since it started (this run, or
 * the reload that restarted it); replays of the spool are not counted. */
typedef struct ps_engine_bytes {
    long long device_id;
    uint64_t bytes;
} ps_engine_bytes;

/* Fills up to `max` entries of `out` (caller-owned), one per running device, and
 * returns how many devices run. Same thread as ps_engine_health_get; no waiting. */
size_t ps_engine_bytes_get(ps_engine *eng, ps_engine_bytes *out, size_t max);

#endif
