/* convert: converts a value, or each value of a list, to a string, a whole number,
 * a number or a boolean. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pipeline/ps_pipeline_internal.h"

typedef enum ctype { C_STRING, C_INT, C_FLOAT, C_BOOL } ctype;

typedef struct convert_state {
    fpath field, target;
    bool has_target, ignore_missing;
    int type; /* index in types[] */
    ctype conv;
} convert_state;

static const char *const types[] = {"string", "int",     "integer", "long", "float",
                                    "double", "boolean", "bool",    NULL};
static const ctype type_map[] = {C_STRING, C_INT, C_INT, C_INT, C_FLOAT, C_FLOAT, C_BOOL, C_BOOL};

static const ps_schema_field fields[] = {
    PL_OPT_TEXT("field", true, PL_KIND_PATH, NULL, "A value or a list of values (each converted)."),
    PL_OPT_ENUM("type", true, convert_state, type, types, NULL,
                "string, int (also integer, long), float (also double), bool (also boolean). "
                "Lists and mappings cannot be converted."),
    PL_OPT_TEXT("target_field", false, PL_KIND_PATH, NULL, "Write the result there."),
    PL_OPT_BOOL("ignore_missing", convert_state, ignore_missing, "false",
                "Do nothing when field is missing."),
};
static const ps_schema_table table = PL_TABLE("convert", fields);

static bool compile(cctx *c, const pl_opts *o, proc *p)
{
    convert_state *st = p->state;
    char sub[PL_DPATH];
    const ps_yaml_node *n;
    bool ok = pl_opt_path(c, pl_opt(o, "field", sub, sizeof sub), sub, true, &st->field);
    if ((n = pl_opt(o, "target_field", sub, sizeof sub))) {
        st->has_target = pl_opt_path(c, n, sub, true, &st->target);
        ok = st->has_target && ok;
    }
    st->conv = type_map[st->type];
    return ok;
}

/* One scalar converted; NULL with `why` on failure (or when out of memory, why
 * says so). */
static cJSON *convert_one(const cJSON *v, ctype to, const char **why)
{
    char buf[32];
    *why = "out of memory";
    switch (to) {
    case C_STRING:
        if (cJSON_IsString(v))
            return cJSON_CreateString(v->valuestring);
        if (cJSON_IsNumber(v)) {
            ps_expr_format_number(v->valuedouble, buf, sizeof buf);
            return cJSON_CreateString(buf);
        }
        if (cJSON_IsBool(v))
            return cJSON_CreateString(cJSON_IsTrue(v) ? "true" : "false");
        break;
    case C_INT:
        if (cJSON_IsNumber(v)) {
            if (v->valuedouble != floor(v->valuedouble)) {
                *why = "a number with a fraction is not a whole number";
                return NULL;
            }
            return cJSON_CreateNumber(v->valuedouble);
        }
        if (cJSON_IsString(v)) {
            const char *s = v->valuestring;
            char *end;
            long long n;
            errno = 0;
            n = strtoll(s, &end, 10);
            if (!*s || pl_is_space(*s) || *end || errno || n > 9007199254740992LL ||
                n < -9007199254740992LL) {
                *why = "the string is not a whole number";
                return NULL;
            }
            return cJSON_CreateNumber((double)n);
        }
        break;
    case C_FLOAT:
        if (cJSON_IsNumber(v))
            return cJSON_CreateNumber(v->valuedouble);
        if (cJSON_IsString(v)) {
            const char *s = v->valuestring;
            char *end;
            double d;
            errno = 0;
            d = strtod(s, &end);
            if (!*s || pl_is_space(*s) || *end || errno || !isfinite(d) || strpbrk(s, "xXnN")) {
                *why = "the string is not a number";
                return NULL;
            }
            return cJSON_CreateNumber(d);
        }
        break;
    case C_BOOL:
        if (cJSON_IsBool(v))
            return cJSON_CreateBool(cJSON_IsTrue(v));
        if (cJSON_IsString(v)) {
            if (strcasecmp(v->valuestring, "true") == 0)
                return cJSON_CreateTrue();
            if (strcasecmp(v->valuestring, "false") == 0)
                return cJSON_CreateFalse();
            *why = "the string is neither true nor false";
            return NULL;
        }
        break;
    }
    *why = cJSON_IsArray(v) || cJSON_IsObject(v) ? "lists and mappings cannot be converted"
                                                 : "this type cannot be converted";
    return NULL;
}

/* The converted value of v (a scalar or a list); NULL after recording why. */
static cJSON *convert_value(rctx *r, const proc *p, const cJSON *v)
{
    static const char *const names[] = {"string", "int", "float", "bool"};
    const convert_state *st = p->state;
    cJSON *out, *it;
    const char *why;
    size_t i = 0;

    if (!cJSON_IsArray(v)) {
        if ((out = convert_one(v, st->conv, &why)))
            return out;
        if (strcmp(why, "out of memory") == 0)
            pl_nomem(r, p);
        else
            pl_fail(r, p, "field", st->field.text, "cannot convert a %s to %s: %s", pl_json_kind(v),
                    names[st->conv], why);
        return NULL;
    }
    if (!(out = cJSON_CreateArray())) {
        pl_nomem(r, p);
        return NULL;
    }
    cJSON_ArrayForEach(it, v)
    {
        cJSON *one = convert_one(it, st->conv, &why);
        if (!one || !cJSON_AddItemToArray(out, one)) {
            cJSON_Delete(one);
            cJSON_Delete(out);
            if (!one && strcmp(why, "out of memory") != 0)
                pl_fail(r, p, "field", st->field.text,
                        "cannot convert element %zu (a %s) to %s: %s", i, pl_json_kind(it),
                        names[st->conv], why);
            else
                pl_nomem(r, p);
            return NULL;
        }
        i++;
    }
    return out;
}

static int run(rctx *r, const proc *p)
{
    const convert_state *st = p->state;
    cJSON *v, *out;
    int rc = pl_field_for_update(r, p, "field", &st->field, &v);

    if (rc != R_OK || !v)
        return rc;
    if (!(out = convert_value(r, p, v)))
        return R_FAIL;
    if (st->has_target)
        return pl_store(r, p, &st->target, out, true, "target_field");
    if (cJSON_Compare(v, out, true)) {
        cJSON_Delete(out);
        return R_OK;
    }
    return pl_store(r, p, &st->field, out, true, "field");
}

static void free_state(void *state)
{
    convert_state *st = state;
    pl_fpath_free(&st->field);
    pl_fpath_free(&st->target);
}

const ps_processor_def pl_proc_convert = {
    {"convert",
     "Converts a value, or each value of a list, to a string, a whole number, a number or "
     "a boolean.",
     &table},
    sizeof(convert_state),
    NULL,
    compile,
    run,
    free_state,
};
