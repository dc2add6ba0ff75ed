/* append: appends values to a list, making one if needed. */
#include "pipeline/ps_pipeline_internal.h"

typedef struct append_state {
    fpath field;
    vtree value;
    bool allow_duplicates;
} append_state;

static const ps_schema_field fields[] = {
    PL_OPT_TEXT("field", true, PL_KIND_PATH, NULL,
                "The list. A missing field becomes a new list; a single value already there "
                "becomes its first element."),
    PL_OPT_TEXT("value", true, PL_KIND_VALUE, NULL,
                "A value or a list of values (each appended); templates allowed."),
    PL_OPT_BOOL("allow_duplicates", append_state, allow_duplicates, "true",
                "When false, values already in the list are not appended again."),
};
static const ps_schema_table table = PL_TABLE("append", fields);

static bool compile(cctx *c, const pl_opts *o, proc *p)
{
    append_state *st = p->state;
    char sub[PL_DPATH];
    bool ok = pl_opt_path(c, pl_opt(o, "field", sub, sizeof sub), sub, true, &st->field);
    const ps_yaml_node *n = pl_opt(o, "value", sub, sizeof sub);
    return pl_vtree_compile(c, n, sub, &st->value) && ok;
}

static bool array_has(const cJSON *arr, const cJSON *v)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        if (cJSON_Compare(it, v, true))
            return true;
    }
    return false;
}

/* Moves the values of `vals` to the end of `arr`; false when out of memory. */
static bool append_all(cJSON *arr, cJSON *vals, bool allow_duplicates, bool *added)
{
    cJSON *v;
    while ((v = cJSON_DetachItemFromArray(vals, 0))) {
        if (!allow_duplicates && array_has(arr, v)) {
            cJSON_Delete(v);
            continue;
        }
        if (!cJSON_AddItemToArray(arr, v)) {
            cJSON_Delete(v);
            return false;
        }
        *added = true;
    }
    return true;
}

static int run(rctx *r, const proc *p)
{
    const append_state *st = p->state;
    cJSON *vals = pl_vtree_render(r, &st->value), *cur = NULL, *arr;
    char err[200];
    bool added = false, ok;

    if (!vals)
        return pl_nomem(r, p);
    if (!cJSON_IsArray(vals)) {
        cJSON *one = cJSON_CreateArray();
        if (!one || !cJSON_AddItemToArray(one, vals)) {
            cJSON_Delete(one);
            cJSON_Delete(vals);
            return pl_nomem(r, p);
        }
        vals = one;
    }
    switch (pl_get(r->event, &st->field, &cur, err, sizeof err)) {
    case W_ERROR:
        cJSON_Delete(vals);
        return pl_fail(r, p, "field", st->field.text, "%s", err);
    case W_MISSING:
        cur = NULL;
        break;
    default:
        break;
    }
    if (cJSON_IsArray(cur)) {
        ok = append_all(cur, vals, st->allow_duplicates, &added);
        cJSON_Delete(vals);
        if (added)
            r->res->modified = true;
        return ok ? R_OK : pl_nomem(r, p);
    }
    /* A missing field becomes a list; a single value becomes the first element. */
    if (!(arr = cJSON_CreateArray()) ||
        (cur && !cJSON_AddItemToArray(arr, cJSON_Duplicate(cur, true))) ||
        !append_all(arr, vals, st->allow_duplicates, &added)) {
        cJSON_Delete(arr);
        cJSON_Delete(vals);
        return pl_nomem(r, p);
    }
    cJSON_Delete(vals);
    return pl_store(r, p, &st->field, arr, true, "field");
}

static void free_state(void *state)
{
    append_state *st = state;
    pl_fpath_free(&st->field);
    pl_vtree_free(&st->value);
}

const ps_processor_def pl_proc_append = {
    {"append", "Appends to a list, making one if needed.", &table},
    sizeof(append_state),
    NULL,
    compile,
    run,
    free_state,
};
