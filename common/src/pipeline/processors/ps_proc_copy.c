/* copy: Copies a field to a new path; the source stays. target_field may lie inside field. */
#include "pipeline/ps_pipeline_internal.h"

static const ps_schema_field fields[] = {
    PL_OPT_TEXT("field", true, PL_KIND_PATH, NULL, "The field to copy (may be an _ingest field)."),
    PL_OPT_TEXT("target_field", true, PL_KIND_PATH, NULL, "Where to put the copy."),
    PL_OPT_BOOL("override", move_state, override, "false",
                "Replace a target that exists; without it such a target fails the processor."),
    PL_OPT_BOOL("ignore_missing", move_state, ignore_missing, "false",
                "Do nothing when field is missing."),
};
static const ps_schema_table table = PL_TABLE("copy", fields);

static bool compile(cctx *c, const pl_opts *o, proc *p)
{
    return pl_move_compile(c, o, p, false);
}

static int run(rctx *r, const proc *p)
{
    return pl_move_run(r, p, false);
}

const ps_processor_def pl_proc_copy = {
    {"copy", "Copies a field to a new path; the source stays. target_field may lie inside field.",
     &table},
    sizeof(move_state),
    NULL,
    compile,
    run,
    pl_move_free,
};
