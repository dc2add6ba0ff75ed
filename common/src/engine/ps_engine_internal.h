/* ps_engine internals shared by its files: the device and engine structures and
 * the functions one stage calls in another. Not a public API.
 *
 *   ps_engine.c           lifecycle and reload: create, start, reload, stop, devices
 *   ps_engine_inflight.c  the in-flight window per device, items, errors and state
 *   ps_engine_rx.c        the receiver: queueing what it reads, the spool hand-off
 *   ps_engine_session.c   the receiver's sessions: live, backfill, repair
 *   ps_engine_repair.c    the repair and trip windows (pure bookkeeping)
 *   ps_engine_worker.c    the workers: parse, pipelines, prepare the row
 *   ps_engine_writer.c    the writer: batches, counters, retention
 *   ps_engine_mirror.c    the resume state's copy outside the database */
#ifndef PS_ENGINE_INTERNAL_H
#define PS_ENGINE_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "podstream/ps_compiler.h"
#include "podstream/ps_engine.h"
#include "podstream/ps_event.h"
#include "podstream/ps_platform.h"
#include "podstream/ps_store.h"
#include "engine/ps_engine_repair.h"
#include "engine/ps_queue.h"
#include "engine/ps_spool.h"
#include "net/ps_ws.h"

#define PS_US_PER_S INT64_C(1000000)
#define RATE_SLOTS  60
/* Messages a receiver hands to the workers at once: one lock and one wake-up per
 * batch instead of per message. */
#define RX_BATCH 64

typedef struct device device;

typedef enum item_kind { ITEM_EVENT, ITEM_QUARANTINE, ITEM_DROPPED, ITEM_FAILED } item_kind;

/* One received message on its way from the socket to the database. */
typedef struct item {
    device *dev;
    uint64_t seq;
    ps_data_type type;
    char *data; /* the frame payload (or its prefix when oversize) */
    size_t len;
    size_t total_len;
    bool binary;
    bool oversize;
    bool replayed; /* came from the spool after a restart */
    bool archive;  /* received in an archive session (backfill or repair) */
    /* filled by a worker */
    item_kind kind;
    ps_event ev;
    ps_store_row row; /* EVENT: ready for the writer; data, out and ev are freed then */
    char *out;        /* re-serialised JSON when a pipeline changed the event; NULL: data */
    size_t out_len;
    char *reason;         /* QUARANTINE and FAILED: why (owned; NULL when out of memory), so
                           * that the window's other items stay small */
    const char *pipeline; /* DROPPED/FAILED: the deciding pipeline (sets live as long as
                           * the engine) */
    char *tags;           /* tags JSON when pipelines added some; NULL: the device's */
    bool duplicate;       /* set by the writer inside the batch */
    bool spooled;         /* in the spool: replayed, or appended with its batch (false when
                           * that append failed: then only the commit keeps it) */
} item;

/* Writer-thread view of a device: touched only by the writer. */
typedef struct writer_view {
    ps_resume_state resume;
    uint64_t events_total;
    uint64_t duplicates, quarantined, dropped, failed;
    int64_t lag_ms;
    int64_t slot_second[RATE_SLOTS];
    uint32_t slot_count[RATE_SLOTS];
    int64_t first_ts;        /* ts of the first event the database held (the resume mirror) */
    bool touched;            /* has new events in the open batch */
    int64_t pending_ts;      /* newest ts in the open batch */
    int64_t clock_warned_ms; /* monotonic time the host clock was last said to be behind */
} writer_view;

struct device {
    ps_engine *eng;
    const ps_device *cfg;           /* borrowed from a config generation the engine keeps */
    const ps_service_settings *svc; /* likewise; fixed for the device's lifetime */
    /* Swapped on reload when only pipeline definitions changed; every set lives
     * until the engine is destroyed, so a worker may finish a batch with the old. */
    const ps_pipeline_set *_Atomic pipes;
    char *tags_json;
    ps_spool *spool;
    ps_queue *work;
    ps_thread *rx;
    ps_thread **workers;
    int nworkers;
    bool started;
    atomic_int stop;

    /* in-flight tracking: seq -> done flag, spool position, bytes */
    ps_mutex *mu;
    ps_cond *cv;
    bool rx_waiting;                 /* the receiver waits for room */
    bool rx_archive;                 /* receiver: the session is an archive one */
    struct item *rx_batch[RX_BATCH]; /* receiver-local: messages not yet queued */
    size_t rx_n;
    uint64_t spool_failures;     /* receiver: messages the spool refused */
    int64_t spool_failed_log_ms; /* receiver: when that was last logged (monotonic) */
    atomic_int keep_spool;       /* something was not committed: never delete the spool */
    uint64_t base, next;
    unsigned char done[PS_ENGINE_MAX_INFLIGHT];
    ps_spool_pos pos[PS_ENGINE_MAX_INFLIGHT];
    size_t bytes[PS_ENGINE_MAX_INFLIGHT];
    size_t inflight_bytes;

    /* shared with the writer (atomics) */
    atomic_int state;
    atomic_llong last_alive_us;     /* wall time a live session was last seen alive */
    atomic_llong last_committed_ts; /* newest committed event ts */
    atomic_llong archive_newest_ts; /* newest ts a worker saw from the archive session */
    atomic_ullong reconnects;
    atomic_ullong empty_frames; /* empty or blank messages skipped (POD: "no events") */
    atomic_ullong rx_bytes;     /* received from POD since the device started (metrics) */
    ps_mutex *err_mu;
    char last_error[256];
    int64_t last_error_us;

    /* Events in flight when a live session ended (socket buffers, the network) are
     * gone from the live stream; the archive holds them archive_delay later. These
     * windows are fetched again then. Guarded by err_mu. */
    eng_repair repair;

    writer_view w;
    bool resume_clean_at_start;
};

struct ps_engine {
    ps_config *cfg;
    ps_pipeline_set *pipes;
    ps_config **generations; /* every config loaded; devices borrow from them */
    ps_pipeline_set **pipe_generations;
    size_t ngenerations, generations_cap; /* both arrays have generations_cap */
    ps_store *store;
    ps_queue *commit;
    ps_thread *writer;
    bool writer_started;
    ps_mutex *mu; /* devices array */
    device **devices;
    size_t ndevices, devices_cap;
    char *spool_dir;
    atomic_int stopping;
    /* set by ps_engine_stop: past it the writer stops retrying a failing batch */
    _Atomic int64_t stop_deadline_ms;
    /* What a stop or a fault left uncommitted: in the spool for the next start, or
     * in neither (lost to the live stream; the repair window covers them). */
    atomic_ullong left_spooled, left_lost;
    /* a failure that stops the service (ps_engine_fault), after which the database
     * gets no more writes: PS_ERR_CORRUPT, it is damaged; PS_ERR_NOTFOUND, its file
     * was removed or replaced (ps_engine_dbfile.c) */
    atomic_int fault;
    ps_mutex *fault_mu;
    char fault_text[512]; /* written once, before `fault` is set */
    ps_file_id db_id;     /* the database file opened */
    bool db_id_known;
    char *rescued;           /* where the stop saved a removed or replaced database */
    atomic_uint ticks;       /* counter ticks written, so reload can wait for one */
    int64_t mirror_ms;       /* monotonic time the resume mirrors were last written (writer) */
    _Atomic double rate_10s; /* all devices, as of the last tick (ps_engine_health) */
    /* the last configuration load, for `status` and the GUI: changed by start and
     * reload, written by the writer's next tick while `reload_dirty` (under mu) */
    ps_reload_record reload;
    bool reload_dirty;
    /* read by the writer, changed by reload */
    atomic_int retention_days;
    atomic_ullong retention_max_bytes;
};

/* ---- ps_engine_inflight.c ---- */

/* Records the device's last error (shown by `status`) with the time. */
void eng_set_error(device *d, const char *fmt, ...) PS_PRINTF(2, 3);
void eng_set_state(device *d, ps_device_state s);
/* Frees an item and everything it owns. Accepts NULL. */
void eng_item_free(item *it);
/* True when a message of `bytes` does not fit in the device's window now. Caller
 * holds d->mu. */
bool eng_inflight_full(const device *d, size_t bytes);
/* Reserves a sequence number for a message of `bytes` that ends at spool
 * position `pos`. Blocks while the device has too much in flight, sending
 * keepalive pings on `ws` (may be NULL) meanwhile so the server does not see a
 * dead peer. PS_ERR_CLOSED when the device is stopping. */
ps_err eng_inflight_acquire(device *d, size_t bytes, ps_spool_pos pos, ps_ws *ws, uint64_t *seq);
/* Marks the committed messages items[0..n) of device d (one lock for all) and
 * frees spool segments below the new watermark. */
void eng_inflight_done(device *d, item **items, size_t n);

/* ---- ps_engine_rx.c ---- */

/* Takes ownership of data; queues the message for the workers (spooled with its
 * batch unless replayed from the spool at *pos). Blocks while the window is full,
 * pinging `ws` (may be NULL) meanwhile. PS_ERR_CLOSED when the device stops. */
ps_err eng_enqueue(device *d, char *data, size_t len, size_t total_len, bool binary, bool oversize,
                   ps_data_type type, const ps_spool_pos *pos, ps_ws *ws);
/* Spools and queues the receiver's pending batch. */
void eng_rx_flush(device *d);
/* ps_spool_replay callback: queues one record received before the last stop. */
ps_err eng_replay_cb(void *ctx, const ps_spool_record *rec);

/* ---- ps_engine_dbfile.c ---- */

/* Records the failure that stops the service, once (the first one wins). */
void eng_set_fault(ps_engine *eng, ps_err err, const char *text);
/* The writer's check, once a second, that the database file is the one it opened;
 * sets the fault PS_ERR_NOTFOUND when not. */
void eng_dbfile_watch(ps_engine *eng);
/* At the stop, after the last commit: copies the database the writer still has open
 * to `<database>.rescued-<time>` (eng->rescued). */
void eng_dbfile_rescue(ps_engine *eng);
/* Leaves a mark beside the spool that makes the next start check the database. */
void eng_dbfile_mark_damaged(const ps_engine *eng);
/* True when that mark is there; `clear` removes it. */
bool eng_dbfile_marked_damaged(const ps_engine *eng, bool clear);
/* Once the store is closed: moves the rescued copy to the database's path when that
 * is free, else says where it is. */
void eng_dbfile_restore(ps_engine *eng);

/* Writes r, the device's resume state, to its mirror beside the spool (nothing when
 * it has no events yet). Failures are logged at debug level only: the mirror is a
 * second line of defence. */
void eng_mirror_save(const ps_engine *eng, const device *d, const ps_resume_state *r);
/* Called once the device's resume state is read from the database: when the
 * database has none but the mirror says the device stored events, the database was
 * lost, and (resume_policy auto) the device's resume state and repair window are set
 * to fetch them again. Logs what it found. */
void eng_mirror_adopt(ps_engine *eng, device *d);

/* ---- ps_engine_session.c ---- */

/* Widens the device's repair window over events received since its newest
 * committed one, as a close of a live session does (resume_policy auto only). */
void eng_repair_widen(device *d);

/* The receiver thread (arg: the device). */
void *eng_rx_main(void *arg);

/* ---- ps_engine_worker.c ---- */

/* A worker thread (arg: the device). */
void *eng_worker_main(void *arg);

/* ---- ps_engine_writer.c ---- */

/* The writer thread (arg: the engine). */
void *eng_writer_main(void *arg);
/* Writes live counters and resume state of every device in one transaction;
 * `final` marks them stopped, and clean when nothing was left uncommitted. Writes
 * nothing once the engine has a fault. */
void eng_write_tick(ps_engine *eng, bool final);
/* The resume state to write: what the writer committed, plus the receiver's
 * liveness and repair window. */
ps_resume_state eng_resume_snapshot(device *d, bool clean);

#endif
