/* Internal to the runners: one output's thread state, the batch it builds. */
#ifndef PS_OUTPUT_RUN_H
#define PS_OUTPUT_RUN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "output/ps_output_internal.h"
#include "podstream/ps_platform.h"
#include "podstream/ps_store.h"

typedef struct pso_item {
    ps_output_event e;
    char *owned_json;
    char *owned_key;     /* one block: the stored JSON when it goes as it is (else
                            owned_json), the key, then the typed values of `stored` */
    ps_event_row stored; /* e.stored points here when set */
} pso_item;

typedef struct pso_batch {
    pso_item *ev;
    size_t count, cap;
    size_t bytes;
    ps_output_event *out; /* the plugin's view, rebuilt before each deliver */
    size_t out_cap;
} pso_batch;

/* Counts since the last cursor commit. */
typedef struct pso_counts {
    uint64_t dropped, split, truncated;
} pso_counts;

typedef struct pso_runner {
    char name[128];
    const ps_output_def *def; /* borrowed from a ps_output_defs the ps_outputs keeps */
    const ps_config *cfg;     /* device names; kept alive by the service */
    const ps_pipeline_set *pipes;
    long long *devices; /* ids it takes; none: all */
    size_t ndevices;
    unsigned type_mask; /* 1 << ps_data_type; 0: all */
    ps_thread *thread;
    ps_mutex *mu;
    ps_cond *cv;
    atomic_bool stop;
    _Atomic int64_t stop_deadline; /* 0: not stopping */
    char *db_path;
    const char *state_dir;
    /* the thread's own */
    ps_store *st;
    void *inst;
    ps_output_limits limits;
    ps_pipeline_chain *chain;
    ps_pipeline_result pres;
    pso_batch batch;
    pso_counts acc;
    int64_t cursor;
    size_t rows_seen;
    ps_err read_err;
    ps_output_row state; /* what status shows */
    uint64_t per_sec[10];
    int64_t sec_now;
    int64_t state_due_ms;
    uint64_t last_retention_dropped;
    bool seen_retention;
    bool failing;      /* since the last failure, nothing was delivered */
    int64_t inflight;  /* the highest id handed to the destination, as recorded */
    int64_t resend_to; /* ids up to this may be at the destination already */
    int64_t backoff_ms;
    int64_t last_send_ms;
    ps_secret_ctx secrets;
} pso_runner;

void pso_batch_clear(pso_batch *b);
void pso_batch_free(pso_batch *b);
/* The next batch above r->cursor into r->batch; *read_to is the last id examined
 * (r->cursor when none); *full when the read stopped at a limit. */
ps_err pso_read_batch(pso_runner *r, int64_t *read_to, bool *full, ps_errmsg *em);
/* The configured name of a device ("" when it is not configured). */
const char *pso_device_name(const pso_runner *r, long long id);

#endif
