/* rename: Moves a field to a new path. */
#include "pipeline/ps_pipeline_internal.h"

static const ps_schema_field fields[] = {
    PL_OPT_TEXT("field", true, PL_KIND_PATH, NULL, "The field to move."),
    PL_OPT_TEXT("target_field", true, PL_KIND_PATH, NULL,
                "Where to put it; must not lie inside field."),
    PL_OPT_BOOL("override", move_state, override, "false",
                "Replace a target that exists; without it such a target fails the processor."),
    PL_OPT_BOOL("ignore_missing", move_state, ignore_missing, "false",
                "Do nothing when field is missing."),
};
static const ps_schema_table table = PL_TABLE("rename", fields);

static bool compile(cctx *c, const pl_opts *o, proc *p)
{
    return pl_move_compile(c, o, p, true);
}

static int run(rctx *r, const proc *p)
{
    return pl_move_run(r, p, true);
}

const ps_processor_def pl_proc_rename = {
    {"rename", "Moves a field to a new path.", &table},
    sizeof(move_state),
    NULL,
    compile,
    run,
    pl_move_free,
};
