/* ps_output: outputs hand stored events on to a SIEM, a database or a file (#16).
 *
 * The SQLite store is the durable buffer. Each output keeps a cursor in the store
 * (the id of the last event its destination acknowledged); a runner thread per
 * output reads the next batch above the cursor, runs the output's pipelines, hands
 * the batch to the plugin and commits the cursor only once the plugin says the
 * destination acknowledged. Delivery is therefore at least once, in id order (which
 * is commit order, so in order per device), across crashes and outages.
 *
 * A plugin is one ps_output_plugin (Fluent Bit's output plugin model): its name (the
 * `type:` value), its option table, and create/deliver/destroy. It is registered by
 * one row in common/src/output/ps_output_registry.c. A plugin's options sit beside
 * the common ones (name, type, devices, batch_*, retry_*, oversized, tls) in the
 * same YAML mapping; its table describes them like any ps_schema table, with offsets
 * into its own options struct (`options_size` bytes, zeroed, then filled).
 *
 * Threads and ownership: create, deliver and destroy of one instance are called
 * from that output's runner thread only, one at a time; different instances of a
 * plugin run in parallel, so a plugin keeps no mutable global state. The batch and
 * every pointer in it are borrowed for the duration of deliver. The options struct
 * belongs to the framework, which frees it (ps_schema_free) after destroy: an
 * instance may keep pointers into it for its whole life. Secrets (F_SECRET options,
 * TLS key passwords) stay as written in the options; a plugin resolves them with
 * env->secrets when it needs them and wipes the plaintext (ps_secret_free). */
#ifndef PS_OUTPUT_H
#define PS_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ps_config.h"
#include "ps_diag.h"
#include "ps_error.h"
#include "ps_pipeline.h"
#include "ps_schema.h"
#include "ps_secret.h"

/* What happens to an event larger than the destination takes (the instance's
 * max_event_bytes). The framework applies it before deliver and counts it. */
typedef enum ps_output_oversized {
    /* A message event is split by msgParts: each part its own event carrying the
     * shared keys (guid, ts, envelope, headers ...) and `msgParts` reduced to that
     * part, with `podstreamPart: {"index": i, "count": n}`. Other events (or a part
     * still too large) are truncated as below. */
    PS_OUTPUT_OVERSIZED_SPLIT = 0,
    /* A copy cut to fit, valid JSON, marked `"podstreamTruncated": true` with the
     * original size in `podstreamOriginalBytes`. */
    PS_OUTPUT_OVERSIZED_TRUNCATE = 1,
    /* Not sent; counted as dropped for the output and logged with its id. */
    PS_OUTPUT_OVERSIZED_SKIP = 2
} ps_output_oversized;

/* "split", "truncate", "skip". */
const char *ps_output_oversized_name(ps_output_oversized o);

/* TLS of a destination. Verification of the server's certificate and name is always
 * on; there is no setting to turn it off. Paths absolute after loading; NULL:
 * the system CA store / no client certificate. */
typedef struct ps_output_tls {
    char *ca_file;
    char *cert_file;
    char *key_file;
} ps_output_tls;

/* The settings every output has (the common option table, ps_output_common_options).
 * Filled by ps_schema_parse; strings owned by the struct. */
typedef struct ps_output_settings {
    char *name; /* unique among outputs; names its cursor in the store */
    char *type; /* the plugin's name */
    bool enabled;
    char **devices; /* device names or ids; none: every device */
    size_t ndevices;
    ps_config_pos *devices_pos; /* ndevices entries: where each was written */
    char **types;               /* "message", "maillog", "audit"; none: every type */
    size_t ntypes;
    ps_config_pos *types_pos;
    char **pipelines; /* run in order on each event before delivery; none: as stored */
    size_t npipelines;
    ps_config_pos *pipelines_pos;
    long long batch_events;      /* at most this many events per batch */
    uint64_t batch_bytes;        /* at most this many JSON bytes per batch (one event may exceed) */
    int64_t flush_interval_ms;   /* a batch smaller than the limits waits at most this long */
    int64_t retry_min_ms;        /* first retry delay; doubled per failure ... */
    int64_t retry_max_ms;        /* ... up to this; each delay jittered by +-25 % */
    int oversized;               /* ps_output_oversized; the plugin's default when not written */
    ps_config_pos oversized_pos; /* where it was written; file NULL: not written */
    ps_output_tls tls;
    ps_config_pos pos; /* the output's mapping */
} ps_output_settings;

/* One event handed to a plugin. All pointers borrowed for the call. */
typedef struct ps_output_event {
    int64_t id; /* store id: grows with every commit, so batches are in id order */
    long long device_id;
    const char *device_name; /* from the configuration; "" for a device no longer configured */
    int64_t ts_us;           /* the event's ts, UTC microseconds */
    const char *key;         /* the natural key (message guid; maillog id), NUL-terminated */
    const char *json;        /* the event JSON (after the output's pipelines), NUL-terminated */
    size_t json_len;
    ps_data_type type;
    unsigned part, parts; /* split: part 1..parts of event `id`; otherwise 1, 1 */
    bool truncated;       /* a truncated copy (marked in the JSON too) */
    /* The store's typed columns of this event (text, spam_score, size_bytes) when
     * `json` is the stored JSON as it is and no value was cut to its column, so they
     * equal what ps_event_extract gives for `json`; NULL otherwise (a pipeline changed
     * it, a part, a truncated copy). Borrowed like the rest. */
    const struct ps_event_row *stored;
} ps_output_event;

/* One batch: events in id order, parts of a split event adjacent and in order. */
typedef struct ps_output_batch {
    const ps_output_event *events;
    size_t count;
    size_t bytes; /* sum of json_len */
    /* Deliver should return by this time (ps_plat_mono_ms clock). A plugin bounds
     * its network waits by ps_output_deadline(batch), which is earlier when the
     * service stops meanwhile, and answers RETRY when it cannot finish. */
    int64_t deadline_ms;
    const void *ctl; /* the framework's; read through ps_output_deadline */
} ps_output_batch;

/* The time (ps_plat_mono_ms clock) by which the deliver under way must return:
 * batch->deadline_ms, or sooner once the service is stopping. Any thread. */
int64_t ps_output_deadline(const ps_output_batch *batch);

typedef enum ps_output_status {
    /* The destination acknowledged every event with id <= delivered_id (the whole
     * batch when delivered_id is the last event's id). The cursor moves there. A
     * delivered_id below the batch's last id sends the rest again right away. */
    PS_OUTPUT_DELIVERED = 0,
    /* Nothing more than delivered_id (may be 0: nothing) is acknowledged; try the
     * rest again after retry_after_ms (0: the output's own jittered backoff). The
     * output shows state "retrying" with `message` as its last error. */
    PS_OUTPUT_RETRY = 1,
    /* The destination will not take this data or this configuration as it is (bad
     * credentials, a refused schema): state "error" with `message`; retried after
     * retry_max, and after a reload that changes the output. Nothing is skipped. */
    PS_OUTPUT_FAILED = 2
} ps_output_status;

/* What deliver says. The framework zeroes it before each call. */
typedef struct ps_output_result {
    ps_output_status status;
    int64_t delivered_id;   /* see ps_output_status; 0: none */
    int64_t retry_after_ms; /* RETRY: e.g. from Retry-After */
    uint64_t duplicates;    /* events the destination reported as already held */
    char message[256];      /* RETRY/FAILED: what went wrong; never a secret */
    /* RETRY/FAILED: nothing of the batch reached the destination (e.g. it could not
     * connect), so sending it again makes no duplicate. Left false, the events are
     * counted as possible duplicates when they are sent again. */
    bool nothing_sent;
} ps_output_result;

/* What an instance accepts. The framework fills it from the plugin's defaults before
 * create; create may lower (or, from its options, raise) the values. 0: no limit. */
typedef struct ps_output_limits {
    size_t max_batch_events;
    size_t max_batch_bytes;
    size_t max_event_bytes; /* larger events get the `oversized` treatment */
} ps_output_limits;

/* What create gets. Borrowed for the call; `secrets` and `settings` stay valid until
 * destroy returns. */
typedef struct ps_output_env {
    const ps_output_settings *settings;
    ps_secret_ctx *secrets; /* resolves ${ENV}, $secret{} and enc:v1: values */
    const char *state_dir;  /* for a plugin that keeps files of its own */
} ps_output_env;

typedef struct ps_output_plugin {
    const char *name;               /* the `type:` value: "file", "syslog", "clickhouse" ... */
    const char *summary;            /* one sentence for the reference */
    const ps_schema_table *options; /* its own options; offsets into its options struct */
    size_t options_size;            /* sizeof that struct */
    /* Defaults of ps_output_limits. */
    size_t max_batch_events;
    size_t max_batch_bytes;
    size_t max_event_bytes;
    /* What it does with an oversized event when `oversized` is not written. */
    ps_output_oversized oversized_default;
    /* Checks what the schema cannot (e.g. cert_file without key_file), after parsing,
     * reporting to diag at the output's position with field path `path` (e.g.
     * "outputs[0]"). May be NULL. No network, no secrets resolved. */
    void (*check)(const ps_output_settings *s, const void *options, const char *path,
                  ps_diag *diag);
    /* Makes an instance. No network yet is better (a destination that is down must
     * not fail the start): connect in deliver. *out owned by the framework. */
    ps_err (*create)(const ps_output_env *env, const void *options, ps_output_limits *limits,
                     void **out, ps_errmsg *em);
    /* Sends one batch and says how far the destination acknowledged. */
    void (*deliver)(void *inst, const ps_output_batch *batch, ps_output_result *res);
    /* Flushes and frees the instance (closes connections, syncs files). Accepts NULL. */
    void (*destroy)(void *inst);
} ps_output_plugin;

/* ---- the registry (ps_output_registry.c) ------------------------------------------ */

/* Plugin i in registration order, or NULL past the last. Static. */
const ps_output_plugin *ps_output_plugin_at(size_t i);
/* The plugin called `name`, or NULL. */
const ps_output_plugin *ps_output_plugin_find(const char *name);

/* The common option table (ps_output_settings), static. */
const ps_schema_table *ps_output_common_options(void);
/* The `tls:` mapping's table (ps_output_tls), static. */
const ps_schema_table *ps_output_tls_options(void);

/* ---- configured outputs (ps_output_config.c) -------------------------------------- */

/* One output of the configuration, parsed against the common table and its plugin's
 * (the two merged into `table`). Owned by its ps_output_defs. */
typedef struct ps_output_def {
    ps_output_settings *s;          /* the common settings */
    void *options;                  /* the plugin's options struct */
    const ps_output_plugin *plugin; /* NULL only in a configuration with errors */
    char path[32];                  /* field path, "outputs[2]" */
    void *block;                    /* settings then options, one allocation */
    ps_schema_table table;          /* the merged table that filled `block` */
    ps_schema_field *fields;
} ps_output_def;

typedef struct ps_output_defs {
    ps_output_def *items;
    size_t count;
} ps_output_defs;

/* Parses and checks every output of `cfg` (cfg->output_files): the common and the
 * plugin's options, unique names, devices and pipelines that exist (`pipes` may be
 * NULL: not checked), the plugin's own check. Every problem goes to `diag` with
 * file:line:col and field path. PS_OK with *out (caller destroys) when there is no
 * error; otherwise PS_ERR_INVALID (or PS_ERR_NOMEM) and *out is NULL. */
ps_err ps_output_defs_create(const ps_config *cfg, const ps_pipeline_set *pipes,
                             ps_output_defs **out, ps_diag *diag);
/* Accepts NULL. */
void ps_output_defs_destroy(ps_output_defs *defs);
/* True when a and b would deliver the same way (every option equal). */
bool ps_output_def_equal(const ps_output_def *a, const ps_output_def *b);

/* ---- running outputs (ps_output_run.c) ------------------------------------------- */

typedef struct ps_outputs ps_outputs;

/* The outputs of a service writing database `db_path`; none runs yet. `state_dir`
 * for plugins that keep files. *out owned by the caller. */
ps_err ps_outputs_create(const char *db_path, const char *state_dir, ps_outputs **out,
                         ps_errmsg *em);

/* Makes the running outputs those of `cfg`: starts the new and the enabled ones,
 * stops the removed and disabled ones, restarts the changed ones; the others keep
 * running (a changed pipeline set is picked up at their next batch). cfg and pipes
 * must stay alive until the next apply and until ps_outputs_destroy (the service
 * keeps every configuration it loaded). Records in the store which outputs are
 * enabled, so retention waits for them. Problems of one output are logged; it does
 * not stop the others. */
ps_err ps_outputs_apply(ps_outputs *o, const ps_config *cfg, const ps_pipeline_set *pipes,
                        ps_errmsg *em);

/* Stops every runner: each finishes the batch it is delivering, bounded by
 * deadline_ms (ps_plat_mono_ms clock), and commits what was acknowledged. Then
 * frees everything. Accepts NULL. */
void ps_outputs_destroy(ps_outputs *o, int64_t deadline_ms);

#endif
