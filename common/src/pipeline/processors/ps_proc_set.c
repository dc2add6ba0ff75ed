/* set: sets a field to a value (templates allowed) or to a copy of another field. */
#include <stdlib.h>

#include "pipeline/ps_pipeline_internal.h"

typedef struct set_state {
    fpath field, copy_from;
    vtree value;
    bool has_value, has_copy_from;
    bool override, ignore_empty, ignore_missing;
} set_state;

static const ps_schema_field fields[] = {
    PL_OPT_TEXT("field", true, PL_KIND_PATH, NULL, "The field to set."),
    PL_OPT_TEXT("value", false, PL_KIND_VALUE, NULL,
                "The value: any YAML (string, number, boolean, null, list, mapping); strings "
                "may hold templates. One of value and copy_from is needed."),
    PL_OPT_TEXT("copy_from", false, PL_KIND_PATH, NULL,
                "Copy this field (any type, may be an _ingest field) instead of a value."),
    PL_OPT_BOOL("override", set_state, override, "true",
                "When false, a field that exists and is not null is left as it is."),
    PL_OPT_BOOL("ignore_empty_value", set_state, ignore_empty, "false",
                "Do nothing when the value is null or renders to an empty string."),
    PL_OPT_BOOL("ignore_missing", set_state, ignore_missing, "false",
                "With copy_from: do nothing when the source is missing."),
};
static const ps_schema_table table = PL_TABLE("set", fields);

static bool compile(cctx *c, const pl_opts *o, proc *p)
{
    set_state *st = p->state;
    char sub[PL_DPATH];
    const ps_yaml_node *n = pl_opt(o, "field", sub, sizeof sub);
    bool ok = pl_opt_path(c, n, sub, true, &st->field);

    if (ps_yaml_map_get(o->m, "value") && ps_yaml_map_get(o->m, "copy_from")) {
        pl_cerr(c, ps_yaml_map_get(o->m, "copy_from"), o->ppath,
                "set takes value or copy_from, not both");
        return false;
    }
    if ((n = pl_opt(o, "copy_from", sub, sizeof sub))) {
        st->has_copy_from = pl_opt_path(c, n, sub, false, &st->copy_from);
        ok = st->has_copy_from && ok;
    } else if ((n = pl_opt(o, "value", sub, sizeof sub))) {
        st->has_value = pl_vtree_compile(c, n, sub, &st->value);
        ok = st->has_value && ok;
    } else {
        pl_cerr(c, o->at, o->ppath, "set needs the option value (or copy_from)");
        ok = false;
    }
    return ok;
}

static int run(rctx *r, const proc *p)
{
    const set_state *st = p->state;
    cJSON *item;

    if (st->has_copy_from) {
        cJSON *src;
        int rc = pl_field_for_update(r, p, "copy_from", &st->copy_from, &src);
        if (rc != R_OK || !src)
            return rc;
        item = cJSON_Duplicate(src, true);
    } else {
        item = pl_vtree_render(r, &st->value);
    }
    if (!item)
        return pl_nomem(r, p);
    if (st->ignore_empty &&
        (cJSON_IsNull(item) || (cJSON_IsString(item) && item->valuestring[0] == '\0'))) {
        cJSON_Delete(item);
        return R_OK;
    }
    return pl_store(r, p, &st->field, item, st->override, "field");
}

static void free_state(void *state)
{
    set_state *st = state;
    pl_fpath_free(&st->field);
    pl_fpath_free(&st->copy_from);
    pl_vtree_free(&st->value);
}

const ps_processor_def pl_proc_set = {
    {"set", "Sets a field to a value, creating the mappings on the way.", &table},
    sizeof(set_state),
    NULL,
    compile,
    run,
    free_state,
};
