/* remove: removes fields; all are checked before any is removed. */
#include <stdlib.h>

#include "pipeline/ps_pipeline_internal.h"

typedef struct remove_state {
    fpath *fields;
    size_t nfields;
    bool ignore_missing;
} remove_state;

static const ps_schema_field fields[] = {
    PL_OPT_LIST("field", true, PL_KIND_PATHS, "The field to remove, or a list of them."),
    PL_OPT_BOOL("ignore_missing", remove_state, ignore_missing, "false",
                "Skip fields that do not exist instead of failing."),
};
static const ps_schema_table table = PL_TABLE("remove", fields);

static bool compile(cctx *c, const pl_opts *o, proc *p)
{
    remove_state *st = p->state;
    char sub[PL_DPATH];
    const ps_yaml_node *n = pl_opt(o, "field", sub, sizeof sub);
    return pl_opt_fields(c, n, sub, &st->fields, &st->nfields);
}

static int run(rctx *r, const proc *p)
{
    const remove_state *st = p->state;
    char err[200];
    cJSON *v, *parent;
    /* Check every field first so that a failure removes nothing. */
    for (size_t i = 0; i < st->nfields; i++) {
        switch (pl_walk(r->event, &st->fields[i], st->fields[i].n, &v, &parent, err, sizeof err)) {
        case W_FOUND:
            break;
        case W_MISSING:
            if (!st->ignore_missing)
                return pl_fail(r, p, "field", st->fields[i].text, "not found");
            break;
        default:
            return pl_fail(r, p, "field", st->fields[i].text, "%s", err);
        }
    }
    for (size_t i = 0; i < st->nfields; i++) {
        if (pl_walk(r->event, &st->fields[i], st->fields[i].n, &v, &parent, err, sizeof err) !=
            W_FOUND)
            continue; /* inside a field removed just before */
        cJSON_Delete(cJSON_DetachItemViaPointer(parent, v));
        r->res->modified = true;
    }
    return R_OK;
}

static void free_state(void *state)
{
    remove_state *st = state;
    pl_fpaths_free(st->fields, st->nfields);
}

const ps_processor_def pl_proc_remove = {
    {"remove", "Removes fields. All are checked before anything is removed.", &table},
    sizeof(remove_state),
    NULL,
    compile,
    run,
    free_state,
};
