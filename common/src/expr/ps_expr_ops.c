/* ps_expr's text operators and built-in functions: in, contains, startsWith,
 * endsWith, matches, lower() and friends, any()/all()/none(). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr/ps_expr_internal.h"
#include "podstream/ps_utf8.h"

static bool list_has(const val *l, const val *x)
{
    list_it it = {0};
    val v;
    while (ps_expr_list_next(l, &it, &v))
        if (ps_expr_val_equal(&v, x))
            return true;
    return false;
}

int ps_expr_op_in(ectx *c, const node *n, const val *x, const val *coll, bool *res)
{
    if (coll->kind == V_NIL) {
        *res = false;
        return 0;
    }
    if (is_list(coll)) {
        *res = list_has(coll, x);
        return 0;
    }
    if (coll->kind == V_OBJ) {
        if (x->kind == V_NIL) {
            *res = false;
            return 0;
        }
        if (x->kind != V_STR)
            return ps_expr_rt_err(c, "a mapping holds string keys; %.*s is a %s", SPAN(c, n->a),
                                  ps_expr_kind_name(x->kind));
        *res = ps_expr_member(coll->j, x->s) != NULL;
        return 0;
    }
    return ps_expr_rt_err(c, "in needs a list or a mapping on its right; %.*s is a %s%s",
                          SPAN(c, n->b), ps_expr_kind_name(coll->kind),
                          coll->kind == V_STR ? " (use contains to search text)" : "");
}

static bool mem_has(const char *h, size_t hl, const char *nd, size_t nl)
{
    if (nl == 0)
        return true;
    for (size_t i = 0; i + nl <= hl; i++) {
        const char *p = memchr(h + i, nd[0], hl - nl - i + 1);
        if (!p)
            return false;
        i = (size_t)(p - h);
        if (memcmp(p, nd, nl) == 0)
            return true;
    }
    return false;
}

/* contains, startsWith, endsWith: strings (and lists for contains); nil gives false. */
int ps_expr_op_text(ectx *c, fn_id f, const node *ln, const node *rn, const val *a, const val *b,
                    bool *res)
{
    static const char *const names[] = {
        [F_CONTAINS] = "contains", [F_STARTS] = "startsWith", [F_ENDS] = "endsWith"};
    *res = false;
    if (a->kind == V_NIL || b->kind == V_NIL)
        return 0;
    if (f == F_CONTAINS && is_list(a)) {
        *res = list_has(a, b);
        return 0;
    }
    if (a->kind != V_STR)
        return ps_expr_rt_err(c, "%s needs a string%s on its left; %.*s is a %s", names[f],
                              f == F_CONTAINS ? " or a list" : "", SPAN(c, ln),
                              ps_expr_kind_name(a->kind));
    if (b->kind != V_STR)
        return ps_expr_rt_err(c, "%s needs a string on its right; %.*s is a %s", names[f],
                              SPAN(c, rn), ps_expr_kind_name(b->kind));
    if (f == F_CONTAINS)
        *res = mem_has(a->s, a->len, b->s, b->len);
    else if (f == F_STARTS)
        *res = b->len <= a->len && memcmp(a->s, b->s, b->len) == 0;
    else
        *res = b->len <= a->len && memcmp(a->s + a->len - b->len, b->s, b->len) == 0;
    return 0;
}

int ps_expr_op_matches(ectx *c, const node *n, const val *a, bool *res)
{
    int rc;
    *res = false;
    if (a->kind == V_NIL)
        return 0;
    if (a->kind != V_STR)
        return ps_expr_rt_err(c, "matches needs a string on its left; %.*s is a %s", SPAN(c, n->a),
                              ps_expr_kind_name(a->kind));
    if (!c->sc->md && !(c->sc->md = pcre2_match_data_create(1, NULL)))
        return ps_expr_nomem(c);
    rc = pcre2_match(n->re, (PCRE2_SPTR)a->s, a->len, 0, 0, c->sc->md, c->e->mctx);
    if (rc >= 0) {
        *res = true;
        return 0;
    }
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
        rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT)
        return ps_expr_rt_err(c, "the regular expression %.*s backtracks too much on this value",
                              SPAN(c, n->b));
    if (rc == PCRE2_ERROR_NOMEMORY)
        return ps_expr_nomem(c);
    PCRE2_UCHAR msg[160];
    pcre2_get_error_message(rc, msg, sizeof msg);
    return ps_expr_rt_err(c, "matches failed: %s", (const char *)msg);
}

static int conv_case(ectx *c, const val *a, fn_id f, val *out)
{
    char *s = ps_expr_salloc(c, a->len + 1);
    if (!s)
        return -1;
    for (size_t i = 0; i < a->len; i++) {
        char ch = a->s[i];
        if (f == F_LOWER && ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        else if (f == F_UPPER && ch >= 'a' && ch <= 'z')
            ch = (char)(ch - 'a' + 'A');
        s[i] = ch;
    }
    s[a->len] = '\0';
    set_str(out, s, a->len);
    return 0;
}

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

static int conv_trim(ectx *c, const val *a, val *out)
{
    size_t b = 0, e = a->len;
    char *s;
    while (b < e && is_space(a->s[b]))
        b++;
    while (e > b && is_space(a->s[e - 1]))
        e--;
    s = ps_expr_salloc(c, e - b + 1);
    if (!s)
        return -1;
    memcpy(s, a->s + b, e - b);
    s[e - b] = '\0';
    set_str(out, s, e - b);
    return 0;
}

cJSON *ps_expr_val_to_json(const val *v)
{
    switch (v->kind) {
    case V_NIL:
        return cJSON_CreateNull();
    case V_BOOL:
        return cJSON_CreateBool(v->b);
    case V_NUM:
        return cJSON_CreateNumber(v->n);
    case V_STR:
        /* cJSON strings end at the first NUL; a literal "\u0000" is cut there. */
        return cJSON_CreateString(v->s);
    case V_ARR:
    case V_OBJ:
        return cJSON_Duplicate(v->j, true);
    case V_LIST: {
        cJSON *arr = cJSON_CreateArray();
        for (size_t i = 0; arr && i < v->nitems; i++) {
            cJSON *item = ps_expr_val_to_json(&v->items[i]);
            if (!item || !cJSON_AddItemToArray(arr, item)) {
                cJSON_Delete(item);
                cJSON_Delete(arr);
                return NULL;
            }
        }
        return arr;
    }
    }
    return NULL;
}

static int conv_string(ectx *c, const val *a, val *out)
{
    char buf[32];
    char *s, *printed;
    cJSON *tmp = NULL;
    size_t len;

    switch (a->kind) {
    case V_STR:
        *out = *a;
        return 0;
    case V_NUM:
        ps_expr_format_number(a->n, buf, sizeof buf);
        len = strlen(buf);
        if (!(s = ps_expr_salloc(c, len + 1)))
            return -1;
        memcpy(s, buf, len + 1);
        set_str(out, s, len);
        return 0;
    case V_BOOL:
        set_str(out, a->b ? "true" : "false", a->b ? 4 : 5);
        return 0;
    case V_NIL:
        *out = *a;
        return 0;
    case V_LIST:
        if (!(tmp = ps_expr_val_to_json(a)))
            return ps_expr_nomem(c);
        printed = cJSON_PrintUnformatted(tmp);
        break;
    default:
        printed = cJSON_PrintUnformatted(a->j);
        break;
    }
    cJSON_Delete(tmp);
    if (!printed)
        return ps_expr_nomem(c);
    len = strlen(printed);
    s = ps_expr_salloc(c, len + 1);
    if (s) {
        memcpy(s, printed, len + 1);
        set_str(out, s, len);
    }
    cJSON_free(printed);
    return s ? 0 : -1;
}

static bool parse_int_text(const char *s, double *out)
{
    char *end;
    long long v;
    if (!*s || is_space(*s))
        return false;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end || v > 9007199254740992LL || v < -9007199254740992LL)
        return false;
    *out = (double)v;
    return true;
}

static bool parse_float_text(const char *s, double *out)
{
    char *end;
    double v;
    if (!*s || is_space(*s) || strpbrk(s, "xXnN")) /* no hex floats, inf or nan */
        return false;
    errno = 0;
    v = strtod(s, &end);
    if (errno || *end || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static int conv_number(ectx *c, const node *n, const val *a, fn_id f, val *out)
{
    const char *what = f == F_INT ? "int" : "float";
    double d;
    switch (a->kind) {
    case V_NIL:
        *out = *a;
        return 0;
    case V_NUM:
        set_num(out, f == F_INT ? trunc(a->n) : a->n);
        return 0;
    case V_STR:
        if (f == F_INT ? parse_int_text(a->s, &d) : parse_float_text(a->s, &d)) {
            set_num(out, d);
            return 0;
        }
        return ps_expr_rt_err(c, "%s(): %.*s is a string that is not %s", what, SPAN(c, n),
                              f == F_INT ? "a whole number" : "a number");
    default:
        return ps_expr_rt_err(c, "%s(): %.*s is a %s, not a number or a string", what, SPAN(c, n),
                              ps_expr_kind_name(a->kind));
    }
}

static int ev_predicate(ectx *c, const node *n, val *out)
{
    const node *ln = n->args[0], *pred = n->args[1];
    const val *saved = c->elem;
    val l, el, pv;
    list_it it = {0};
    bool all = true, any = false, b;

    if (ps_expr_ev(c, ln, &l))
        return -1;
    if (l.kind != V_NIL && !is_list(&l))
        return ps_expr_rt_err(c, "%s() needs a list; %.*s is a %s",
                              n->fn == F_ANY   ? "any"
                              : n->fn == F_ALL ? "all"
                                               : "none",
                              SPAN(c, ln), ps_expr_kind_name(l.kind));
    if (l.kind != V_NIL) {
        while (ps_expr_list_next(&l, &it, &el)) {
            c->elem = &el;
            int rc = ps_expr_ev(c, pred, &pv);
            c->elem = saved;
            if (rc || ps_expr_truthy(c, pred, &pv, &b))
                return -1;
            if (b)
                any = true;
            else
                all = false;
            if ((n->fn == F_ANY || n->fn == F_NONE) && any)
                break;
            if (n->fn == F_ALL && !all)
                break;
        }
    }
    set_bool(out, n->fn == F_ANY ? any : n->fn == F_ALL ? all : !any);
    return 0;
}

int ps_expr_call(ectx *c, const node *n, val *out)
{
    val a, b;
    bool r;

    if (n->fn == F_ANY || n->fn == F_ALL || n->fn == F_NONE)
        return ev_predicate(c, n, out);
    if (ps_expr_ev(c, n->args[0], &a))
        return -1;
    switch (n->fn) {
    case F_LOWER:
    case F_UPPER:
    case F_TRIM:
        if (a.kind == V_NIL) {
            *out = a;
            return 0;
        }
        if (a.kind != V_STR)
            return ps_expr_rt_err(c, "%s() needs a string; %.*s is a %s",
                                  n->fn == F_LOWER   ? "lower"
                                  : n->fn == F_UPPER ? "upper"
                                                     : "trim",
                                  SPAN(c, n->args[0]), ps_expr_kind_name(a.kind));
        return n->fn == F_TRIM ? conv_trim(c, &a, out) : conv_case(c, &a, n->fn, out);
    case F_LEN:
        if (a.kind == V_NIL)
            set_num(out, 0);
        else if (a.kind == V_STR)
            set_num(out, (double)ps_utf8_count(a.s, a.len));
        else if (is_list(&a))
            set_num(out, (double)ps_expr_list_len(&a));
        else if (a.kind == V_OBJ)
            set_num(out, (double)cJSON_GetArraySize(a.j));
        else
            return ps_expr_rt_err(c, "len() needs a string, a list or a mapping; %.*s is a %s",
                                  SPAN(c, n->args[0]), ps_expr_kind_name(a.kind));
        return 0;
    case F_INT:
    case F_FLOAT:
        return conv_number(c, n->args[0], &a, n->fn, out);
    case F_STRING:
        return conv_string(c, &a, out);
    case F_CONTAINSKEY:
        if (ps_expr_ev(c, n->args[1], &b))
            return -1;
        if (a.kind == V_NIL) {
            set_bool(out, false);
            return 0;
        }
        if (a.kind != V_OBJ)
            return ps_expr_rt_err(c, "containsKey() needs a mapping; %.*s is a %s",
                                  SPAN(c, n->args[0]), ps_expr_kind_name(a.kind));
        if (b.kind != V_STR)
            return ps_expr_rt_err(c, "containsKey() needs a string key; %.*s is a %s",
                                  SPAN(c, n->args[1]), ps_expr_kind_name(b.kind));
        set_bool(out, ps_expr_member(a.j, b.s) != NULL);
        return 0;
    case F_CONTAINS:
    case F_STARTS:
    case F_ENDS:
        if (ps_expr_ev(c, n->args[1], &b) ||
            ps_expr_op_text(c, n->fn, n->args[0], n->args[1], &a, &b, &r))
            return -1;
        set_bool(out, r);
        return 0;
    default:
        return ps_expr_rt_err(c, "internal error: unknown function");
    }
}

void ps_expr_format_number(double n, char *buf, size_t len)
{
    if (len == 0)
        return;
    if (isnan(n)) {
        snprintf(buf, len, "NaN");
        return;
    }
    if (isinf(n)) {
        snprintf(buf, len, "%s", n > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (n == trunc(n) && fabs(n) < 1e15) {
        snprintf(buf, len, "%.0f", n == 0 ? 0.0 : n); /* never "-0" */
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, n);
        if (strtod(buf, NULL) == n)
            return;
    }
}
