/* drop: drops the event; nothing is stored and nothing after it runs. */
#include "pipeline/ps_pipeline_internal.h"

static const ps_schema_table table = {"drop", NULL, 0, NULL};

static int run(rctx *r, const proc *p)
{
    r->drop_proc = p;
    return R_DROP;
}

const ps_processor_def pl_proc_drop = {
    {"drop",
     "Drops the event: nothing is stored and later processors and pipelines do not run. "
     "Without `if` it drops everything.",
     &table},
    0,
    NULL,
    NULL,
    run,
    NULL,
};
