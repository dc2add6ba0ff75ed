/* ps_config: the configuration directory, loaded and validated.
 *
 *   <dir>/podstream.yml     service settings (optional; every setting has a default)
 *   <dir>/devices/NAME.yml   devices: a `devices:` list, a bare list, or one device mapping
 *   <dir>/pipelines/NAME.yml pipelines: a `pipelines:` list, a bare list, or one mapping
 *   <dir>/outputs/NAME.yml   outputs: an `outputs:` list, a bare list, or one mapping
 *
 * Fields, types, defaults and bounds come from the schema table (ps_schema.h); this
 * module only walks files and fills the structs below. Tokens stay exactly as
 * written (still `${VAR}`, `$secret{..}` or `enc:v1:..`): resolution is ps_secret's
 * job, done when a device connects, so plaintext lives as briefly as possible. */
#ifndef PS_CONFIG_H
#define PS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ps_diag.h"
#include "ps_error.h"
#include "ps_log.h"
#include "ps_yaml.h"

/* The POD data types (the `type` query parameter). Values are stored in the
 * database: never renumber. */
typedef enum ps_data_type {
    PS_DATA_MESSAGE = 0,
    PS_DATA_MAILLOG = 1,
    PS_DATA_AUDIT = 2
} ps_data_type;

/* "message", "maillog", "audit". */
const char *ps_data_type_name(ps_data_type t);
/* PS_ERR_INVALID for any other name. */
ps_err ps_data_type_parse(const char *name, ps_data_type *out);

typedef enum ps_resume_policy { PS_RESUME_AUTO = 0, PS_RESUME_LIVE_ONLY = 1 } ps_resume_policy;

/* Where a value was written, for errors found after loading (a token that does not
 * resolve, a pipeline that does not exist). */
typedef struct ps_config_pos {
    const char *file; /* borrowed from the config; NULL when defaulted */
    int line;
    int col;
} ps_config_pos;

typedef struct ps_device_props {
    char *endpoint;
    char *cluster;
    char *token; /* as written; never log it */
    ps_data_type type;
    bool secure;
    int workers;
    bool reuse;
    ps_config_pos token_pos;
} ps_device_props;

typedef struct ps_device {
    long long id;
    char *name;
    char *description; /* NULL when absent */
    char *type;        /* always "proofpoint" after validation */
    char **tags;
    size_t ntags;
    char **pipelines; /* names, in order */
    size_t npipelines;
    ps_config_pos *pipeline_pos; /* npipelines entries */
    bool status;
    ps_device_props props;
    ps_config_pos pos; /* the device mapping */
    char *path;        /* field path of the device, e.g. "devices[0]" */
} ps_device;

typedef struct ps_service_settings {
    char *database;    /* absolute after loading */
    char *key_file;    /* absolute after loading */
    char *secrets_dir; /* absolute after loading */
    ps_log_level log_level;
    char *metrics_file;           /* absolute after loading; NULL: no metrics file */
    int64_t metrics_interval_ms;  /* how often it is written, default 5s */
    char *tls_ca_file;            /* NULL: system CA store */
    char *proxy;                  /* NULL: none; http://, https:// or socks5:// URL */
    char *proxy_username;         /* as written, resolvable like tokens; NULL when absent */
    char *proxy_password;         /* as written, resolvable like tokens; NULL when absent */
    int retention_days;           /* 0: keep forever */
    uint64_t retention_max_bytes; /* 0: no size cap */
    ps_resume_policy resume_policy;
    uint64_t max_frame_bytes;
    /* Connection timing (durations in ms; schema accepts "30s", "5m"). */
    int64_t keepalive_ms;             /* ping interval, default 30s */
    int64_t dead_after_ms;            /* no frame or pong for this long: reconnect, default 90s */
    int64_t backoff_initial_ms;       /* first retry delay, default 1s */
    int64_t backoff_max_ms;           /* retry delay cap, default 5m */
    int64_t unauthorised_retry_ms;    /* retry after HTTP 401, default 5m */
    int64_t connect_timeout_ms;       /* TCP+TLS+upgrade, default 30s */
    int64_t archive_delay_ms;         /* the archive holds an event this long after it, 35m */
    int64_t repair_trip_max_age_ms;   /* a trip window alone makes a trip this old, 7d */
    ps_config_pos proxy_username_pos; /* where they were written, for resolution errors */
    ps_config_pos proxy_password_pos;
} ps_service_settings;

/* One file of pipelines/, kept as parsed YAML for the pipeline module. */
typedef struct ps_config_pipeline_file {
    ps_yaml_doc *doc;
    const ps_yaml_node *list; /* the sequence of pipeline mappings (or a lone mapping) */
} ps_config_pipeline_file;

/* podstream.yml as the load found it. A reload tells a file being rewritten (an
 * editor's truncate-then-write) or deleted from a real change by it. */
typedef enum ps_main_file {
    PS_MAIN_FILE_ABSENT,  /* not there: every setting at its default */
    PS_MAIN_FILE_EMPTY,   /* nothing but whitespace and comments */
    PS_MAIN_FILE_PRESENT, /* a document with content (maybe `{}`) */
} ps_main_file;

typedef struct ps_config {
    char *dir;
    ps_main_file main_file;
    ps_service_settings service;
    ps_device *devices;
    size_t ndevices;
    ps_config_pipeline_file *pipeline_files;
    size_t npipeline_files;
    /* Outputs as YAML: podstream.yml's `outputs:` list, then each outputs/ file (a
     * list or one mapping). The output layer parses them (ps_output_defs_create). */
    ps_config_pipeline_file *output_files;
    size_t noutput_files;
    char **files; /* every file read, relative to dir ("devices/pod.yml"); positions point here */
    size_t nfiles;
} ps_config;

/* Loads and validates `dir`. Every problem is appended to `diag` (all of them, not
 * the first). Returns PS_OK with a new config in *out (caller destroys) when there
 * are no errors; otherwise PS_ERR_INVALID (or PS_ERR_NOTFOUND for a missing
 * directory) and *out is NULL. Warnings do not fail the load. */
ps_err ps_config_load(const char *dir, ps_config **out, ps_diag *diag);

/* One configuration file held in memory: `name` is its path relative to the
 * configuration directory ("podstream.yml", "devices/pod.yml", "pipelines/x.yml"). */
typedef struct ps_config_source {
    const char *name;
    const char *data;
    size_t len;
} ps_config_source;

/* ps_config_load on files already in memory (the GUI checks an edited file before
 * saving it; the fuzzer feeds the loader without a disk). `dir` is the directory
 * relative paths resolve against; it is not read. Names under other directories
 * are refused with an error. Same results as ps_config_load. */
ps_err ps_config_load_sources(const char *dir, const ps_config_source *sources, size_t count,
                              ps_config **out, ps_diag *diag);

/* ps_config_load and ps_config_load_sources that keep what loaded when there are
 * errors, so that later checks (pipelines, tokens) can still run on it: *out is set
 * (caller destroys) whenever the files could be walked, and the result says whether
 * the configuration is valid (PS_OK) or not (PS_ERR_INVALID). A configuration with
 * errors holds every device and pipeline file that parsed; values that were refused
 * are left unset (NULL, 0, false) without their defaults. Check with it, never run it.
 * *out is NULL for PS_ERR_NOTFOUND, a path that is not a directory, and PS_ERR_NOMEM. */
ps_err ps_config_load_partial(const char *dir, ps_config **out, ps_diag *diag);
ps_err ps_config_load_sources_partial(const char *dir, const ps_config_source *sources,
                                      size_t count, ps_config **out, ps_diag *diag);

/* Frees everything. Accepts NULL. */
void ps_config_destroy(ps_config *cfg);

/* The device with `id`, or NULL. Borrowed. */
const ps_device *ps_config_find_device(const ps_config *cfg, long long id);

/* True when two device definitions would stream the same way (every field that
 * affects the connection or processing is equal). Used by reload to restart only
 * the devices that changed. */
bool ps_device_equal(const ps_device *a, const ps_device *b);

#endif
