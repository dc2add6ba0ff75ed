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
 * receipt and commit (one message larger than that is still admitted alone). */
#ifndef PS_ENGINE_H
#define PS_ENGINE_H

#include "ps_config.h"
#include "ps_error.h"
#include "ps_pipeline.h"

#define PS_ENGINE_MAX_INFLIGHT       2048
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

/* Stops reading, drains every queue, commits, marks the shutdown clean. */
void ps_engine_stop(ps_engine *eng);

/* Stops if still running and frees everything. Accepts NULL. */
void ps_engine_destroy(ps_engine *eng);

#endif
