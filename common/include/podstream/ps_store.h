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

/* Turns off SQLite's memory statistics for the whole process. With them on, every
 * allocation of every connection takes one global mutex, and a thread that queries
 * beside the writer (an output, a metrics scrape) made the writer's CPU per event a
 * third dearer. Call at the start of a program, before any other ps_store call and
 * before a second thread runs; a call after SQLite started changes nothing. Nothing
 * of podstream reads those statistics. */
void ps_store_process_init(void);

/* Opens (and for a writer creates and migrates) the database at `path`.
 * *out is owned by the caller; one ps_store is used by one thread at a time. */
ps_err ps_store_create(const char *path, ps_store_mode mode, ps_store **out, ps_errmsg *em);
/* Closes the database. Accepts NULL. */
void ps_store_destroy(ps_store *st);

/* Bounds the writer's every wait for a database lock, the one under way included,
 * by `deadline_ms` (ps_plat_mono_ms clock; 0: the usual 10 s only). Past it a
 * locked database fails at once with PS_ERR_CONFLICT. May be called from another
 * thread than the one using `st`; for a stop that must end in time. */
void ps_store_set_deadline(ps_store *st, int64_t deadline_ms);

/* Writes a consistent copy of the whole database, as this connection sees it, to
 * a new file `dest` (VACUUM INTO; PS_ERR_EXISTS when dest exists). Outside a batch;
 * for saving a database whose file was removed or replaced while it was open. */
ps_err ps_store_copy_to(ps_store *st, const char *dest, ps_errmsg *em);

/* Checkpoints the WAL into the file this connection opened and truncates the WAL
 * to nothing: another file put at the database's name would take the WAL for its
 * own when opened. Outside a batch. */
ps_err ps_store_wal_empty(ps_store *st, ps_errmsg *em);

/* ---- writing (writer mode only) ------------------------------------------- */

/* Starts a batch (one transaction). */
ps_err ps_store_begin(ps_store *st, ps_errmsg *em);

/* Stores one event of `device_id` inside the open batch. `raw` is the JSON to
 * keep (the original frame bytes when no pipeline changed the event). `tags` is a
 * JSON array text of the device tags plus pipeline tags, or NULL. *duplicate is
 * set, and nothing stored, when the natural key is already there. Also counts the
 * event in the hourly table. The same as ps_store_prepare then ps_store_put. */
ps_err ps_store_insert(ps_store *st, long long device_id, const ps_event *ev, const char *raw,
                       size_t raw_len, const char *tags, bool *duplicate, ps_errmsg *em);

/* Storing in two steps, so that the CPU work of an insert (cutting values to
 * their columns, eliding and compressing the JSON, building the full-text entry)
 * runs on worker threads in parallel and the single writer thread only runs
 * SQLite. A prepared row needs neither the event nor its JSON any more. */
typedef struct ps_store_prep ps_store_prep;

/* Per-thread preparation context of writer store `st` (which must outlive it).
 * *out is owned by the caller and used by one thread at a time; contexts of
 * different threads work in parallel with each other and with the writer. */
ps_err ps_store_prep_create(ps_store *st, ps_store_prep **out, ps_errmsg *em);
/* Frees a context. Accepts NULL. */
void ps_store_prep_destroy(ps_store_prep *p);

/* An event ready for ps_store_put: everything the writer binds, in one block of
 * memory that the row owns (`mem`), so the writer frees one block per event.
 * Caller-owned (ps_store_row_init/_deinit); read-only outside the store. */
typedef struct ps_store_row {
    ps_data_type type;
    int64_t ts_us;
    double spam_score;
    bool has_spam_score;
    int64_t size_bytes;
    bool has_size;
    const char *key;
    size_t key_len;
    int64_t key_hash;
    const char *vals[PS_EF__COUNT]; /* the typed values cut to their columns; NULL: absent */
    size_t val_len[PS_EF__COUNT];
    const void *blob; /* the (elided) JSON, compressed */
    size_t blob_len;
    size_t raw_len; /* the JSON's length before compression */
    int64_t dict_id;
    int fmt;         /* 0: plain JSON; 1: with the typed values elided */
    const char *doc; /* the full-text entry */
    size_t doc_len;
    char *mem; /* owns everything the pointers above point to */
} ps_store_row;

/* Empties a row (no allocation). */
void ps_store_row_init(ps_store_row *row);
/* Frees what the row owns and empties it. Accepts NULL. */
void ps_store_row_deinit(ps_store_row *row);

/* Prepares `ev` (with its JSON `raw`, as for ps_store_insert) into `row`, which is
 * deinitialised first. The row keeps nothing of ev or raw. Any thread, with its
 * own context. */
ps_err ps_store_prepare(ps_store_prep *p, const ps_event *ev, const char *raw, size_t raw_len,
                        ps_store_row *row, ps_errmsg *em);

/* Stores a prepared row inside the open batch, as ps_store_insert does. The row is
 * not consumed: a batch that failed can be put again. */
ps_err ps_store_put(ps_store *st, long long device_id, const ps_store_row *row, const char *tags,
                    bool *duplicate, ps_errmsg *em);

/* Keeps a payload that could not become an event, with the reason. */
ps_err ps_store_quarantine(ps_store *st, long long device_id, ps_data_type type, const char *raw,
                           size_t raw_len, const char *reason, ps_errmsg *em);

/* Commits the open batch, or rolls it back. */
ps_err ps_store_commit(ps_store *st, ps_errmsg *em);
ps_err ps_store_rollback(ps_store *st);

/* ---- resume state ---------------------------------------------------------- */

typedef struct ps_resume_state {
    int64_t last_event_ts_us; /* newest committed event ts (UTC); 0 when none */
    int64_t last_healthy_us;  /* wall time the last healthy session was seen alive; 0 never */
    bool clean_shutdown;      /* the last run stopped cleanly */
    /* Events in flight when a session broke are re-fetched from the archive once it
     * holds them; this window survives restarts. 0, 0: nothing to repair. */
    int64_t repair_from_us;
    int64_t repair_to_us;
    /* Likewise for what a repair trip's own close abandoned (the trip window),
     * kept apart so that trips do not chain. 0, 0: none. */
    int64_t trip_from_us;
    int64_t trip_to_us;
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
    int64_t lag_ms; /* now minus the newest event ts when it was received */
    uint64_t reconnects;
    uint64_t empty_frames; /* empty or blank WebSocket messages skipped */
    uint64_t duplicates;
    uint64_t quarantined;
    uint64_t dropped; /* dropped by pipelines */
    uint64_t failed;  /* failed in pipelines */
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
ps_err ps_store_counters_list(ps_store *st, ps_device_counters **out, size_t *count, ps_errmsg *em);

/* ---- configuration loads (the outcome of the service's last reload) ------------ */

/* What the running service did with its configuration the last time it loaded it
 * (at its start, or on a reload): kept in the meta table, so no schema change. */
typedef struct ps_reload_record {
    uint64_t generation; /* the configuration in effect: 1 at the start, +1 per reload taken */
    int64_t at_us;       /* when the last load (start or reload) was decided; 0: never */
    bool accepted;       /* that load was taken (false: refused, `generation` stays) */
    bool at_start;       /* that load was the service's start, not a reload */
    char reason[512];    /* why it was refused ("" when accepted) */
    int64_t started_us;  /* when the service that recorded it started */
} ps_reload_record;

/* Records *r (writer mode; inside the open batch when there is one). */
ps_err ps_store_reload_put(ps_store *st, const ps_reload_record *r, ps_errmsg *em);

/* Reads the last record in one statement (either mode); all zeros when none was
 * ever written. */
ps_err ps_store_reload_get(ps_store *st, ps_reload_record *out, ps_errmsg *em);

/* ---- schema ---------------------------------------------------------------- */

/* The schema version this build writes (PRAGMA user_version). A writer upgrades
 * any older database step by step; a newer one is refused, never touched. */
#define PS_STORE_SCHEMA_VERSION 6

/* The schema version recorded in the database file (0 for a new, empty file). */
ps_err ps_store_schema_version(ps_store *st, int *out, ps_errmsg *em);

/* Dictionary training of the writer (see docs/performance.md): the first
 * dictionary of a type is trained after `first` events (default 2,000; 0: never)
 * from a reservoir of up to `samples` events (default 5,000), again after 25 times
 * `first` and then every `retrain_every` events (default 2,000,000; 0: no
 * retraining at all). A retrained dictionary is used only when it compresses
 * held-back samples better. With `wait`, ps_store_begin waits for a running
 * training instead of picking it up later, so tests and benchmarks repeat. */
void ps_store_set_training(ps_store *st, unsigned first, unsigned samples, uint64_t retrain_every,
                           bool wait);

/* ---- retention (writer mode only) --------------------------------------------- */

typedef struct ps_retention_policy {
    int days;           /* delete events whose ts is older than this; 0: keep forever */
    uint64_t max_bytes; /* keep the database at or under this size; 0: no cap */
} ps_retention_policy;

typedef struct ps_retention_result {
    uint64_t deleted_age;  /* events deleted because of their age */
    uint64_t deleted_size; /* events deleted (oldest first) to meet max_bytes */
    uint64_t other_rows;   /* expired hourly and quarantine rows */
    uint64_t pages_freed;  /* pages returned to the file system */
    bool more;             /* the policy is not met yet: call again after the next batch */
} ps_retention_result;

/* Does a bounded amount of retention work in its own short transaction: deletes at
 * most `budget` events (oldest ts first) that are past `days` or over `max_bytes`,
 * then gives up to a few MB of free pages back to the file system. The writer calls
 * it between batches (never inside one), so ingest never waits for more than one
 * step. *res (may be NULL) says what was done. */
ps_err ps_store_retention_step(ps_store *st, int64_t now_us, const ps_retention_policy *policy,
                               unsigned budget, ps_retention_result *res, ps_errmsg *em);

/* A database upgraded from before schema 6 holds events whose ids have no device
 * bits (chunk_devices), which a newest-first search reads one by one. Each call
 * fills the bits of up to `chunks` chunks of 1,024 ids (reading those events' ts
 * and device), newest first, in its own short transaction, and records how far it
 * got in the database, so a restart resumes there. *more: chunks are left; once it
 * is false, further calls only read one row. The writer calls it between batches,
 * like retention. */
ps_err ps_store_chunkdev_fill_step(ps_store *st, unsigned chunks, bool *more, ps_errmsg *em);

typedef struct ps_store_size {
    uint64_t file_bytes;   /* the database file (page_count * page_size), WAL excluded */
    uint64_t used_bytes;   /* file_bytes minus free pages */
    uint64_t events;       /* events stored (only with `count`) */
    uint64_t raw_bytes;    /* the events' JSON, uncompressed (only with `count`) */
    uint64_t stored_bytes; /* the events' JSON as stored, compressed (only with `count`) */
} ps_store_size;

/* Sizes of the database. With `count` it also counts events and their bytes,
 * which reads every row: for the benchmark, not for a status line. */
ps_err ps_store_size_get(ps_store *st, bool count, ps_store_size *out, ps_errmsg *em);

/* ---- health: damage and the WAL (see docs/operations.md) ------------------------- */

/* Runs PRAGMA quick_check, which reads every page (seconds per GB). PS_OK when the
 * file is sound; PS_ERR_CORRUPT when it is damaged, with the first problems SQLite
 * names in em. Either mode, outside a batch. */
ps_err ps_store_quick_check(ps_store *st, ps_errmsg *em);

/* The WAL size above which the service warns and truncates the WAL as soon as no
 * reader blocks it (PODSTREAM_WAL_WARN_BYTES overrides it, for tests). */
#define PS_STORE_WAL_WARN_BYTES ((uint64_t)64 << 20)

typedef struct ps_store_wal {
    uint64_t wal_bytes;       /* the -wal file now (after a truncation: 0) */
    uint64_t warn_bytes;      /* the threshold the service uses; 0: not known yet */
    int64_t blocked_since_us; /* a reader keeps the WAL from being truncated since then
                                 (after the truncation that ends it: since when it did);
                                 0: not blocked */
    bool blocked;             /* ps_store_wal_check: the checkpoint was blocked this time */
    bool truncated;           /* ps_store_wal_check: this call truncated the WAL */
} ps_store_wal;

/* The writer's WAL watch, called between batches. When the -wal file is over
 * warn_bytes, runs a truncating checkpoint that never waits for a long reader; one
 * that a reader blocks sets out->blocked, and the first of an episode records
 * blocked_since_us = now_us in the database for `status`; the truncation that ends
 * it (out->truncated) clears it there. *out is filled in any case. Writer mode only. */
ps_err ps_store_wal_check(ps_store *st, uint64_t warn_bytes, int64_t now_us, ps_store_wal *out,
                          ps_errmsg *em);

/* What `status` shows: the -wal file's size now, and the threshold and blocked
 * episode the service last recorded. Either mode. */
ps_err ps_store_wal_info(ps_store *st, ps_store_wal *out, ps_errmsg *em);

typedef struct ps_store_recovery {
    uint64_t events_saved;   /* events stored again in the new file */
    uint64_t events_lost;    /* events of the damaged file that could not be read (from the
                                gaps in their ids: fewer when retention had removed some) */
    uint64_t rows_saved;     /* rows of resume, counters, pipeline counters, quarantine */
    uint64_t rows_lost;      /* such rows read but not stored again */
    unsigned gaps;           /* damaged stretches of events stepped over */
    unsigned tables_damaged; /* other tables with a damaged stretch (rows there not counted) */
    int64_t lost_from_us;    /* the event time range the lost events lie in; 0, 0: none */
    int64_t lost_to_us;
    size_t devices; /* devices whose resume state now asks for a backfill */
} ps_store_recovery;

/* Rebuilds the damaged database at `damaged` into a new one at `fresh` (which must
 * not exist; left behind on failure for the caller to remove) with this build's
 * schema. Every event that can still be read is stored again as ps_store_insert
 * stores it (full text, hourly counts, new dictionaries); resume state, counters,
 * pipeline counters and quarantine are copied; damaged stretches are stepped over
 * and counted in *out. Every device's resume state is then marked unclean and its
 * repair window widened over what was lost (now_us when the loss reaches the end),
 * so its next start fetches that again from the archive. No process may use either
 * file meanwhile. */
ps_err ps_store_recover(const char *damaged, const char *fresh, int64_t now_us,
                        ps_store_recovery *out, ps_errmsg *em);

/* ---- reading (either mode) ------------------------------------------------------ */

/* What to select. Initialise with ps_query_init (everything unset), then set the
 * filters wanted; all set filters must hold. Strings are borrowed. */
typedef struct ps_query {
    long long device_id;     /* < 0: every device */
    int type;                /* a ps_data_type, or -1 for every type */
    int64_t since_us;        /* ts >= since_us (UTC); INT64_MIN: unbounded */
    int64_t until_us;        /* ts < until_us (UTC); INT64_MAX: unbounded */
    const char *from;        /* sender equals this address (case-insensitive, <> ignored) */
    const char *to;          /* one of the recipients equals this address (likewise) */
    const char *subject;     /* the subject contains these words in this order, matched at
                                word starts, case-insensitively ("invoice 20" matches
                                "Your Invoice 2024") */
    const char *disposition; /* message disposition equals this (case-insensitive) */
    const char *qid;         /* queue id equals this (case-sensitive) */
    const char *message_id;  /* message-id equals this (<> ignored) */
    const char *key;         /* natural key equals this (message guid, maillog id; <>
                                ignored) */
    const char *search;      /* full text: every whitespace-separated word appears in a
                                text field (subject, addresses, hosts, status, rule ...);
                                punctuation inside a word keeps its parts together
                                ("alice@example.com"); a trailing '*' matches a prefix */
    size_t limit;            /* at most this many rows; 0: no limit */
    bool oldest_first;       /* ts ascending instead of newest first */
    int64_t after_id;        /* > 0: only events stored after this id, in storage order
                                (ts order is then not guaranteed): what --follow polls */
    bool want_raw;           /* fill row->raw with the decompressed event JSON */
} ps_query;

/* Sets every filter to "unset". */
void ps_query_init(ps_query *q);

/* One stored event as the query returns it. Every pointer is borrowed and valid
 * only during the callback. */
typedef struct ps_event_row {
    int64_t id; /* storage order; grows with every insert */
    long long device_id;
    ps_data_type type;
    int64_t ts_us;
    const char *key;
    const char *text[PS_EF__COUNT]; /* NULL when absent */
    double spam_score;
    bool has_spam_score;
    int64_t size_bytes;
    bool has_size;
    const char *tags; /* JSON array text, or NULL */
    const char *raw;  /* the event JSON when ps_query.want_raw, else NULL */
    size_t raw_len;
} ps_event_row;

/* Called once per row; return false to stop early (not an error). */
typedef bool (*ps_store_row_fn)(const ps_event_row *row, void *ctx);

/* Runs `q` and calls fn for each matching event, newest first (or as q asks).
 * PS_ERR_INVALID with a message naming the filter when a filter cannot be used
 * (e.g. --search with no word in it). */
ps_err ps_store_query(ps_store *st, const ps_query *q, ps_store_row_fn fn, void *ctx,
                      ps_errmsg *em);

/* The mail behind `id` (a message guid, a queue id or a message-id, with or
 * without <>): its message events and every maillog line of the same mail,
 * following queue ids and message-ids across events, oldest first. *count (may be
 * NULL) is the number of rows delivered; PS_ERR_NOTFOUND when nothing matches.
 * At most `limit` rows (0: 10000). */
ps_err ps_store_trace(ps_store *st, const char *id, bool want_raw, size_t limit, ps_store_row_fn fn,
                      void *ctx, size_t *count, ps_errmsg *em);

/* The highest event id stored so far (0 when empty): the starting point of
 * ps_query.after_id for a follow loop. */
ps_err ps_store_last_id(ps_store *st, int64_t *out, ps_errmsg *em);

/* The decompressed JSON of event `id` in a new buffer (*raw, NUL-terminated,
 * caller frees; *len excludes the NUL). PS_ERR_NOTFOUND when it is gone. */
ps_err ps_store_event_raw(ps_store *st, int64_t id, char **raw, size_t *len, ps_errmsg *em);

typedef struct ps_hourly_count {
    long long device_id;
    ps_data_type type;
    int64_t hour_us; /* start of the hour, UTC */
    uint64_t events; /* events stored whose ts falls in that hour */
} ps_hourly_count;

/* Hourly counts with hour_us >= since_us, ordered by device, type, hour. *out is a
 * new array (free()), NULL when count is 0. */
ps_err ps_store_hourly_list(ps_store *st, int64_t since_us, ps_hourly_count **out, size_t *count,
                            ps_errmsg *em);

/* ---- the quarantine (ps_store_quarantine.c) --------------------------------------- */

/* Which quarantined payloads: initialise with ps_quarantine_filter_init (all). */
typedef struct ps_quarantine_filter {
    int64_t id;          /* > 0: only this one */
    long long device_id; /* < 0: every device */
    int64_t since_us;    /* received at or after; INT64_MIN: unbounded */
    int64_t until_us;    /* received before; INT64_MAX: unbounded */
    size_t limit;        /* at most this many rows, newest first; 0: no limit */
    bool want_raw;       /* decompress the payload into row->raw */
} ps_quarantine_filter;

void ps_quarantine_filter_init(ps_quarantine_filter *f);

/* One quarantined payload; pointers borrowed, valid during the callback only. */
typedef struct ps_quarantine_row {
    int64_t id;
    int64_t received_us; /* when the service received it (UTC) */
    long long device_id;
    ps_data_type type;
    const char *reason;
    size_t raw_len;  /* the payload's length */
    const char *raw; /* the payload (not NUL-free: use raw_len) when want_raw, else NULL */
} ps_quarantine_row;

/* Called once per row; return false to stop early (not an error). */
typedef bool (*ps_quarantine_fn)(const ps_quarantine_row *row, void *ctx);

/* Calls fn for each quarantined payload `f` selects, newest first; *count (may be
 * NULL) is how many were delivered. Either mode. */
ps_err ps_store_quarantine_list(ps_store *st, const ps_quarantine_filter *f, ps_quarantine_fn fn,
                                void *ctx, size_t *count, ps_errmsg *em);

/* Deletes the payloads `f` selects (its limit and want_raw are ignored) in one
 * transaction; *deleted (may be NULL) says how many. Writer mode only. */
ps_err ps_store_quarantine_delete(ps_store *st, const ps_quarantine_filter *f, uint64_t *deleted,
                                  ps_errmsg *em);

/* ---- outputs: cursors and counters (ps_store_output.c, issue #16) ------------------ */

typedef enum ps_output_state {
    PS_OUTPUT_STATE_STOPPED = 0, /* not running (disabled, or the service is stopped) */
    PS_OUTPUT_STATE_IDLE,        /* delivered everything it takes */
    PS_OUTPUT_STATE_SENDING,     /* delivering a backlog */
    PS_OUTPUT_STATE_RETRYING,    /* the destination failed; waiting to try again */
    PS_OUTPUT_STATE_ERROR        /* the destination refuses (credentials, TLS, schema) */
} ps_output_state;

/* "stopped", "idle", "sending", "retrying", "error". */
const char *ps_output_state_name(ps_output_state s);

/* One output as `status` shows it: its cursor and the counters its runner writes. */
typedef struct ps_output_row {
    char name[128];
    char type[64];
    bool enabled;
    int64_t last_id;  /* the cursor */
    uint64_t backlog; /* events stored after the cursor (any device: the cursor moves
                         past the events it does not take as it reads them) */
    ps_output_state state;
    double rate; /* events per second delivered over the last 10 s */
    char last_error[256];
    int64_t last_error_us;    /* 0: never */
    int64_t last_delivery_us; /* 0: never */
    uint64_t delivered, dropped, split, truncated, duplicates;
    uint64_t retention_dropped; /* deleted by the size cap before it was delivered */
    int64_t updated_us;
} ps_output_row;

/* Marks the outputs called names[0..n) (types[i] their plugin) as configured and
 * enabled, adding a row with cursor 0 for a new one, and every other row as
 * disabled, in one transaction. Retention waits only for enabled cursors. */
ps_err ps_store_outputs_sync(ps_store *st, const char *const *names, const char *const *types,
                             size_t n, ps_errmsg *em);

/* The cursor of output `name` (0 when it has none). */
ps_err ps_store_output_cursor(ps_store *st, const char *name, int64_t *last_id, ps_errmsg *em);

/* Moves the cursor of `name` to last_id (never backwards) and adds the counts of
 * c (delivered, dropped, split, truncated, duplicates; last_delivery_us when
 * `delivered_now`), in one short transaction. Only after the destination
 * acknowledged. */
ps_err ps_store_output_commit(ps_store *st, const char *name, int64_t last_id,
                              const ps_output_row *c, ps_errmsg *em);

/* The highest event id output `name` has handed to its destination (0: none), kept
 * in the meta table: after a crash, what lies between the cursor and it was maybe
 * received already and is counted as a possible duplicate when sent again. */
ps_err ps_store_output_inflight(ps_store *st, const char *name, int64_t *id, ps_errmsg *em);
ps_err ps_store_output_inflight_put(ps_store *st, const char *name, int64_t id, ps_errmsg *em);

/* Writes the live part of r (state, rate, last error, updated_us) for r->name. */
ps_err ps_store_output_state_put(ps_store *st, const ps_output_row *r, ps_errmsg *em);

/* Every output row ordered by name, with backlog filled. *out is a new array
 * (free()), NULL when count is 0. Either mode. */
ps_err ps_store_output_list(ps_store *st, ps_output_row **out, size_t *count, ps_errmsg *em);

/* Calls fn for events with id > after_id in id order, the JSON (row->raw) and the
 * typed columns (text, spam_score, size_bytes) filled, until `limit` rows or
 * `max_bytes` of JSON were delivered (the first row always is) or fn returns false.
 * *last_id is the id of the last row delivered (after_id when none). One short read
 * transaction. Either mode. */
ps_err ps_store_output_read(ps_store *st, int64_t after_id, size_t limit, size_t max_bytes,
                            ps_store_row_fn fn, void *ctx, int64_t *last_id, ps_errmsg *em);

/* True when no typed value of `row` is long enough to have been cut to its column,
 * so row->text is what ps_event_extract gives for the stored JSON. Borrows row. */
bool ps_store_row_values_whole(const ps_event_row *row);

/* Parsing --since/--until (ps_time_parse_when) and writing rows as a table, CSV
 * or JSON Lines (ps_report) belong to the programs, not the store. */

#endif
