/* ps_pipeline: named, sequential processors that modify or drop events before they
 * are stored.
 *
 * Pipelines are defined in <config>/pipelines/NAME.yml in the format of Elastic ingest
 * pipelines (see docs/pipelines.md) and named by devices (`pipelines: [a, b]`). They
 * are compiled once, at load: every condition is parsed, every path and template
 * checked, every redaction key resolved, and every problem reported with file, line,
 * column and field path. The compiled set is immutable, so any number of worker
 * threads share it; each thread brings its own ps_pipeline_result, which also holds
 * the thread's scratch memory.
 *
 * Running a chain on an event:
 *   KEPT     store the event. When res.modified is false the tree is untouched: store
 *            the original frame bytes. Otherwise serialise the tree again and call
 *            ps_event_extract (a pipeline may have changed indexed fields).
 *   DROPPED  do not store; count it for the device and for res.pipeline.
 *   FAILED   the tree may be half-changed: keep the original frame bytes in the
 *            quarantine with res.message as the reason, and count it for the device
 *            and for res.pipeline. Nothing is lost.
 * In all three cases res.tags lists the tags that `tag` processors added;
 * ps_pipeline_tags_json merges them with the device tags for ps_store_insert. */
#ifndef PS_PIPELINE_H
#define PS_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "ps_config.h"
#include "ps_diag.h"
#include "ps_error.h"
#include "ps_schema.h"
#include "ps_secret.h"

typedef struct ps_pipeline_set ps_pipeline_set;
typedef struct ps_pipeline ps_pipeline;
typedef struct ps_pipeline_chain ps_pipeline_chain;

/* Compiles every pipeline of `cfg` and checks the pipeline names its devices use.
 * Redaction keys are resolved with cfg->service.secrets_dir. Every problem goes to
 * `diag` (errors and warnings, with file:line:col and a path such as
 * "pipelines[0].processors[2].set.field"). Returns PS_OK with a new set in *out
 * (caller destroys) when there are no errors; otherwise PS_ERR_INVALID (or
 * PS_ERR_NOMEM) and *out is NULL. This is the one call `podstream validate` and the
 * service make. */
ps_err ps_pipeline_set_create(const ps_config *cfg, ps_pipeline_set **out, ps_diag *diag);

/* The same from parts: `files` as ps_config loads them (each file's `list` is a
 * sequence of pipeline mappings or one mapping), the devices whose `pipelines`
 * references are checked and pre-resolved (may be NULL with ndevices 0), and the
 * context that resolves redaction `key:` values. With `secrets` NULL keys are checked
 * for presence but not resolved (for `validate --no-secrets`); such a set fails every
 * event that reaches a hashing redact. Borrowed arguments are not kept. */
ps_err ps_pipeline_set_compile(const ps_config_pipeline_file *files, size_t nfiles,
                               const ps_device *devices, size_t ndevices, ps_secret_ctx *secrets,
                               ps_pipeline_set **out, ps_diag *diag);

/* Frees the set, wiping redaction keys. Accepts NULL. Chains made from the set must
 * be destroyed first. */
void ps_pipeline_set_destroy(ps_pipeline_set *set);

/* Pipelines in definition order (files sorted by name, then position). Borrowed. */
size_t ps_pipeline_set_count(const ps_pipeline_set *set);
const ps_pipeline *ps_pipeline_set_at(const ps_pipeline_set *set, size_t i);
/* The pipeline called `name`, or NULL. */
const ps_pipeline *ps_pipeline_set_find(const ps_pipeline_set *set, const char *name);

const char *ps_pipeline_name(const ps_pipeline *p);
/* NULL when the pipeline has no description. */
const char *ps_pipeline_description(const ps_pipeline *p);
size_t ps_pipeline_processor_count(const ps_pipeline *p);
/* Where the pipeline is defined; the file string lives as long as the set. */
ps_config_pos ps_pipeline_pos(const ps_pipeline *p);

/* The chain of device `device_id`, built by ps_pipeline_set_compile; NULL when the
 * device names no pipelines (or is unknown). Borrowed from the set. */
const ps_pipeline_chain *ps_pipeline_set_device_chain(const ps_pipeline_set *set,
                                                      long long device_id);

/* A chain of the pipelines called names[0..n) in that order (for `pipeline test`).
 * PS_ERR_NOTFOUND, naming the pipeline in `em`, when one does not exist. *out is
 * owned by the caller and must be destroyed before the set. */
ps_err ps_pipeline_chain_create(const ps_pipeline_set *set, const char *const *names, size_t n,
                                ps_pipeline_chain **out, ps_errmsg *em);
/* Accepts NULL. */
void ps_pipeline_chain_destroy(ps_pipeline_chain *chain);

typedef enum ps_pipeline_outcome {
    PS_PIPELINE_KEPT = 0,
    PS_PIPELINE_DROPPED,
    PS_PIPELINE_FAILED
} ps_pipeline_outcome;

/* The outcome of one run. Caller-owned, one per thread; reuse it for every event:
 * runs reset it and keep its memory. */
typedef struct ps_pipeline_result {
    ps_pipeline_outcome outcome;
    bool modified;        /* some processor changed the tree */
    const char *pipeline; /* DROPPED/FAILED: the pipeline that decided (borrowed from
                           * the set); NULL when kept */
    /* DROPPED: "dropped by NAME (processor N: drop)"; FAILED: "pipeline NAME,
     * processor N (TYPE), field F: reason". Empty when kept. Names fields, never
     * quotes event values. */
    char message[512];
    char **tags; /* added by tag processors, in order, without duplicates; owned */
    size_t ntags;
    size_t tags_cap;
    void *scratch; /* per-thread working memory; opaque */
} ps_pipeline_result;

void ps_pipeline_result_init(ps_pipeline_result *res);
/* Frees the tags and the scratch. Safe twice. */
void ps_pipeline_result_deinit(ps_pipeline_result *res);

/* Runs `chain` (NULL: an empty chain, the event is kept unchanged) on `event`, which
 * it may change in place. Returns PS_OK whatever the outcome; PS_ERR_NOMEM when
 * memory ran out (then the outcome is FAILED and the tree may be half-changed). */
ps_err ps_pipeline_chain_run(const ps_pipeline_chain *chain, cJSON *event, ps_pipeline_result *res);

/* ps_pipeline_chain_run with the chain of `dev` (looked up by id; `set` may be NULL
 * when there are no pipelines). */
ps_err ps_pipeline_run(const ps_pipeline_set *set, const ps_device *dev, cJSON *event,
                       ps_pipeline_result *res);

/* ---- the processor reference ---------------------------------------------------- */

/* A processor type as the reference and the GUI show it. Static data. */
typedef struct ps_processor_doc {
    const char *name;               /* "set" */
    const char *summary;            /* one or two sentences */
    const ps_schema_table *options; /* its own options, besides the common ones */
} ps_processor_doc;

/* Processor type i in reference order, or NULL past the last. Static, never freed. */
const ps_processor_doc *ps_pipeline_processor_doc(size_t i);
/* The options every processor takes (if, ignore_failure, on_failure, tag,
 * description), and the keys of a pipeline mapping. Static tables. Only their
 * names, kinds (check_doc), defaults and descriptions are meant to be read: the
 * pipeline compiler, not ps_schema_parse, checks them. */
const ps_schema_table *ps_pipeline_common_options(void);
const ps_schema_table *ps_pipeline_options(void);

/* The JSON array text stored with an event: device tags, then res->tags not already
 * among them. A new string (free()), or NULL when out of memory. "[]" when empty. */
char *ps_pipeline_tags_json(char *const *device_tags, size_t ndevice_tags,
                            const ps_pipeline_result *res);

#endif
