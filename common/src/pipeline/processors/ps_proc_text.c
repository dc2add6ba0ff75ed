/* What lowercase, uppercase and trim share: the same options and the same walk over
 * a string or a list of strings. */
#include <string.h>

#include "pipeline/ps_pipeline_internal.h"

const ps_schema_field pl_text_fields[PL_TEXT_NFIELDS] = {
    PL_OPT_TEXT("field", true, PL_KIND_PATH, NULL,
                "A string, or a list of strings (each is changed). Anything else fails the "
                "processor."),
    PL_OPT_TEXT("target_field", false, PL_KIND_PATH, NULL,
                "Write the result there and leave field as it is."),
    PL_OPT_BOOL("ignore_missing", text_state, ignore_missing, "false",
                "Do nothing when field is missing."),
};

bool pl_is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

bool pl_text_compile(cctx *c, const pl_opts *o, proc *p)
{
    text_state *st = p->state;
    char sub[PL_DPATH];
    const ps_yaml_node *n;
    bool ok = pl_opt_path(c, pl_opt(o, "field", sub, sizeof sub), sub, true, &st->field);
    if ((n = pl_opt(o, "target_field", sub, sizeof sub))) {
        st->has_target = pl_opt_path(c, n, sub, true, &st->target);
        ok = st->has_target && ok;
    }
    return ok;
}

/* Applies the operation to s in place; true when it changed. */
static bool text_apply(text_op op, char *s)
{
    bool changed = false;
    if (op == TEXT_TRIM) {
        size_t len = strlen(s), b = 0, e = len;
        while (b < e && pl_is_space(s[b]))
            b++;
        while (e > b && pl_is_space(s[e - 1]))
            e--;
        if (b == 0 && e == len)
            return false;
        memmove(s, s + b, e - b);
        s[e - b] = '\0';
        return true;
    }
    for (; *s; s++) {
        if (op == TEXT_LOWER && *s >= 'A' && *s <= 'Z') {
            *s = (char)(*s - 'A' + 'a');
            changed = true;
        } else if (op == TEXT_UPPER && *s >= 'a' && *s <= 'z') {
            *s = (char)(*s - 'a' + 'A');
            changed = true;
        }
    }
    return changed;
}

/* Applies the operation to a string or to every string of a list. */
static bool text_apply_all(text_op op, cJSON *v)
{
    cJSON *it;
    bool changed = false;
    if (!cJSON_IsArray(v))
        return text_apply(op, v->valuestring);
    cJSON_ArrayForEach(it, v)
    {
        changed = text_apply(op, it->valuestring) || changed;
    }
    return changed;
}

int pl_text_run(rctx *r, const proc *p, text_op op)
{
    const text_state *st = p->state;
    cJSON *v, *it, *copy;
    size_t i = 0;
    int rc = pl_field_for_update(r, p, "field", &st->field, &v);

    if (rc != R_OK || !v)
        return rc;
    if (cJSON_IsArray(v)) {
        cJSON_ArrayForEach(it, v)
        {
            if (!cJSON_IsString(it))
                return pl_fail(r, p, "field", st->field.text, "element %zu is a %s, not a string",
                               i, pl_json_kind(it));
            i++;
        }
    } else if (!cJSON_IsString(v)) {
        return pl_fail(r, p, "field", st->field.text, "is a %s, not a string", pl_json_kind(v));
    }
    if (st->has_target) {
        if (!(copy = cJSON_Duplicate(v, true)))
            return pl_nomem(r, p);
        text_apply_all(op, copy);
        return pl_store(r, p, &st->target, copy, true, "target_field");
    }
    if (text_apply_all(op, v))
        r->res->modified = true;
    return R_OK;
}

void pl_text_free(void *state)
{
    text_state *st = state;
    pl_fpath_free(&st->field);
    pl_fpath_free(&st->target);
}
