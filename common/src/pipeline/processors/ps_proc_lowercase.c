/* lowercase: Lower-cases ASCII letters in a string or in each string of a list. */
#include "pipeline/ps_pipeline_internal.h"

static const ps_schema_table table = {"lowercase", pl_text_fields, PL_TEXT_NFIELDS, NULL};

static int run(rctx *r, const proc *p)
{
    return pl_text_run(r, p, TEXT_LOWER);
}

const ps_processor_def pl_proc_lowercase = {
    {"lowercase", "Lower-cases ASCII letters in a string or in each string of a list.", &table},
    sizeof(text_state),
    NULL,
    pl_text_compile,
    run,
    pl_text_free,
};
