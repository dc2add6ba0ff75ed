/* ps_store: the SQLite database of events, resume state and live counters.
 *
 * One writer (the service's writer thread) and any number of read-only readers
 * (query, status, the GUI). The database runs in WAL mode so readers never block
 * the writer. Every batch of events and the resume state it implies commit in one
 * transaction: after a crash the stored events and the resume point agree.
 *
 * Dedup: the natural key (message guid; maillog id + ts) is unique per device; a
 * duplicate is counted and not stored. */
#ifndef PS_STORE_H
#define PS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ps_config.h"
#include "ps_error.h"
#include "ps_event.h"

typedef struct ps_store ps_store;

typedef enum ps_store_mode {
    PS_STORE_WRITER = 0, /* creates the file (0640) and migrates the schema */
    PS_STORE_READER = 1  /* read-only; never blocks the writer */
} ps_store_mode;

/* Opens (and for a writer creates and migrates) the database at `path`.
 * *out is owned by the caller; one ps_store is used by one thread at a time. */
ps_err ps_store_create(const char *path, ps_store_mode mode, ps_store **out, ps_errmsg *em);
/* Closes the database. Accepts NULL. */
void ps_store_destroy(ps_store *st);

/* ---- writing (writer mode only) ------------------------------------------- */

/* Starts a batch (one transaction). */
ps_err ps_store_begin(ps_store *st, ps_errmsg *em);

/* Stores one event of `device_id` inside the open batch. `raw` is the JSON to
 * keep (the original frame bytes when no pipeline changed the event). `tags` is a
 * JSON array text of the device tags plus pipeline tags, or NULL. *duplicate is
 * set, and nothing stored, when the natural key is already there. Also counts the
 * event in the hourly table. */
ps_err ps_store_insert(ps_store *st, long long device_id, const ps_event *ev, const char *raw,
                       size_t raw_len, const char *tags, bool *duplicate, ps_errmsg *em);

/* Keeps a payload that could not become an event, with the reason. */
ps_err ps_store_quarantine(ps_store *st, long long device_id, ps_data_type type,
                           const char *raw, size_t raw_len, const char *reason, ps_errmsg *em);

/* Commits the open batch, or rolls it back. */
ps_err ps_store_commit(ps_store *st, ps_errmsg *em);
ps_err ps_store_rollback(ps_store *st);

/* ---- resume state ---------------------------------------------------------- */

typedef struct ps_resume_state {
    int64_t last_event_ts_us;  /* newest committed event ts (UTC); 0 when none */
    int64_t last_healthy_us;   /* wall time the last healthy session was seen alive; 0 never */
    bool clean_shutdown;       /* the last run stopped cleanly */
} ps_resume_state;

/* Reads the state of (device_id, type); a device never seen gives all zeros and
 * clean_shutdown = true. */
ps_err ps_store_resume_get(ps_store *st, long long device_id, ps_data_type type,
                           ps_resume_state *out, ps_errmsg *em);

/* Writes the state (inside the open batch when there is one, so it commits with
 * the events it describes). */
ps_err ps_store_resume_put(ps_store *st, long long device_id, ps_data_type type,
                           const ps_resume_state *state, ps_errmsg *em);

/* ---- live counters --------------------------------------------------------- */

typedef enum ps_device_state {
    PS_STATE_STOPPED = 0,
    PS_STATE_CONNECTING,
    PS_STATE_LIVE,
    PS_STATE_BACKFILL,
    PS_STATE_BACKOFF,
    PS_STATE_UNAUTHORISED,
    PS_STATE_ERROR
} ps_device_state;

/* "stopped", "connecting", "live", "backfill", "backoff", "unauthorised", "error". */
const char *ps_device_state_name(ps_device_state s);

typedef struct ps_device_counters {
    long long device_id;
    char name[128];
    ps_data_type type;
    ps_device_state state;
    uint64_t events_total; /* stored since the database was created */
    double rate_10s;       /* events per second over the last 10 s */
    double rate_1m;        /* events per second over the last minute */
    int64_t last_event_ts_us;
    int64_t lag_ms;        /* now minus the newest event ts when it was received */
    uint64_t reconnects;
    uint64_t duplicates;
    uint64_t quarantined;
    uint64_t dropped;      /* dropped by pipelines */
    uint64_t failed;       /* failed in pipelines */
    char last_error[256];
    int64_t last_error_us; /* 0: never */
    int64_t updated_us;    /* when these counters were written */
} ps_device_counters;

/* Upserts the counters row of c->device_id (its own short transaction when no
 * batch is open). */
ps_err ps_store_counters_put(ps_store *st, const ps_device_counters *c, ps_errmsg *em);

/* Adds to the per-pipeline drop/fail counters of a device. */
ps_err ps_store_pipeline_count(ps_store *st, long long device_id, const char *pipeline,
                               uint64_t dropped, uint64_t failed, ps_errmsg *em);

/* Reads all counter rows, ordered by device id. *out is a new array (free()). */
ps_err ps_store_counters_list(ps_store *st, ps_device_counters **out, size_t *count,
                              ps_errmsg *em);

#endif
