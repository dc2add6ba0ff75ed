/* ps_expr's tree-walking evaluator: values, the per-thread scratch, and the
 * operators that decide control flow (member, index, comparisons, logic). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr/ps_expr_internal.h"

/* Error messages quote sub-expressions; long ones are cut to this many bytes. */
#define SPAN_MAX 60

/* ---- values ---------------------------------------------------------------- */

const char *ps_expr_kind_name(vkind k)
{
    switch (k) {
    case V_NIL:
        return "nil";
    case V_BOOL:
        return "boolean";
    case V_NUM:
        return "number";
    case V_STR:
        return "string";
    case V_ARR:
    case V_LIST:
        return "list";
    case V_OBJ:
        return "mapping";
    }
    return "value";
}

/* A member of a JSON object. Events are looked up key by key on every condition,
 * so the first byte is compared before paying for a call to strcmp. */
const cJSON *ps_expr_member(const cJSON *obj, const char *key)
{
    for (const cJSON *c = obj ? obj->child : NULL; c; c = c->next)
        if (c->string && c->string[0] == key[0] && strcmp(c->string, key) == 0)
            return c;
    return NULL;
}

void ps_expr_from_json(const cJSON *j, val *v)
{
    memset(v, 0, sizeof *v);
    if (!j || cJSON_IsNull(j) || cJSON_IsInvalid(j)) {
        v->kind = V_NIL;
    } else if (cJSON_IsBool(j)) {
        v->kind = V_BOOL;
        v->b = cJSON_IsTrue(j);
    } else if (cJSON_IsNumber(j)) {
        v->kind = V_NUM;
        v->n = j->valuedouble;
    } else if (cJSON_IsString(j)) {
        v->kind = V_STR;
        v->s = j->valuestring ? j->valuestring : "";
        v->len = strlen(v->s);
    } else if (cJSON_IsArray(j)) {
        v->kind = V_ARR;
        v->j = j;
    } else if (cJSON_IsObject(j)) {
        v->kind = V_OBJ;
        v->j = j;
    } else {
        v->kind = V_NIL; /* cJSON_Raw never comes out of the parser */
    }
}

/* ---- scratch ------------------------------------------------------------------ */

#define SCRATCH_BASE 4096

ps_err ps_expr_scratch_create(ps_expr_scratch **out)
{
    ps_expr_scratch *s = calloc(1, sizeof *s);
    *out = NULL;
    if (!s)
        return PS_ERR_NOMEM;
    s->base = malloc(sizeof(block) + SCRATCH_BASE);
    if (!s->base) {
        free(s);
        return PS_ERR_NOMEM;
    }
    s->base->next = NULL;
    s->base->cap = SCRATCH_BASE;
    s->base->used = 0;
    *out = s;
    return PS_OK;
}

static void scratch_reset(ps_expr_scratch *s)
{
    while (s->extra) {
        block *n = s->extra->next;
        free(s->extra);
        s->extra = n;
    }
    s->base->used = 0;
}

void ps_expr_scratch_destroy(ps_expr_scratch *s)
{
    if (!s)
        return;
    scratch_reset(s);
    free(s->base);
    pcre2_match_data_free(s->md);
    free(s);
}

static void *scratch_alloc(ps_expr_scratch *s, size_t n)
{
    block *b = s->base;
    n = (n + 15u) & ~(size_t)15u;
    if (b->cap - b->used >= n) {
        void *p = b->data + b->used;
        b->used += n;
        return p;
    }
    if (s->extra && s->extra->cap - s->extra->used >= n) {
        void *p = s->extra->data + s->extra->used;
        s->extra->used += n;
        return p;
    }
    size_t cap = n > SCRATCH_BASE ? n : SCRATCH_BASE;
    b = malloc(sizeof(block) + cap);
    if (!b)
        return NULL;
    b->cap = cap;
    b->used = n;
    b->next = s->extra;
    s->extra = b;
    return b->data;
}

/* ---- evaluation -------------------------------------------------------------------- */

int ps_expr_span_len(const node *n)
{
    size_t len = n->end - n->start;
    if (len == 0)
        return 1;
    return (int)(len > SPAN_MAX ? SPAN_MAX : len);
}

const char *ps_expr_span_text(const ectx *c, const node *n)
{
    return n->end == n->start ? "#" : c->e->src + n->start;
}

int ps_expr_rt_err(ectx *c, const char *fmt, ...)
{
    if (c->rc == PS_OK) {
        c->rc = PS_ERR_INVALID;
        if (c->em) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(c->em->text, sizeof c->em->text, fmt, ap);
            va_end(ap);
        }
    }
    return -1;
}

int ps_expr_nomem(ectx *c)
{
    if (c->rc == PS_OK) {
        c->rc = PS_ERR_NOMEM;
        ps_errmsg_set(c->em, PS_ERR_NOMEM, "out of memory evaluating the condition");
    }
    return -1;
}

char *ps_expr_salloc(ectx *c, size_t n)
{
    char *s = scratch_alloc(c->sc, n);
    if (!s)
        ps_expr_nomem(c);
    return s;
}

bool ps_expr_list_next(const val *l, list_it *it, val *out)
{
    if (l->kind == V_ARR) {
        it->child = it->i++ == 0 ? l->j->child : it->child->next;
        if (!it->child)
            return false;
        ps_expr_from_json(it->child, out);
        return true;
    }
    if (it->i >= l->nitems)
        return false;
    *out = l->items[it->i++];
    return true;
}

size_t ps_expr_list_len(const val *l)
{
    return l->kind == V_ARR ? (size_t)cJSON_GetArraySize(l->j) : l->nitems;
}

static bool list_equal(const val *a, const val *b)
{
    list_it ia = {0}, ib = {0};
    val x, y;
    for (;;) {
        bool ha = ps_expr_list_next(a, &ia, &x), hb = ps_expr_list_next(b, &ib, &y);
        if (ha != hb)
            return false;
        if (!ha)
            return true;
        if (!ps_expr_val_equal(&x, &y))
            return false;
    }
}

bool ps_expr_val_equal(const val *a, const val *b)
{
    if (is_list(a) && is_list(b))
        return list_equal(a, b);
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case V_NIL:
        return true;
    case V_BOOL:
        return a->b == b->b;
    case V_NUM:
        return a->n == b->n;
    case V_STR:
        return a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
    case V_OBJ:
        return cJSON_Compare(a->j, b->j, true);
    default:
        return false;
    }
}

int ps_expr_truthy(ectx *c, const node *n, const val *v, bool *out)
{
    if (v->kind == V_BOOL) {
        *out = v->b;
        return 0;
    }
    if (v->kind == V_NIL) {
        *out = false;
        return 0;
    }
    return ps_expr_rt_err(c, "%.*s is a %s, not a boolean", SPAN(c, n), ps_expr_kind_name(v->kind));
}

static int lookup_key(const val *obj, const char *key, val *out)
{
    const cJSON *j = ps_expr_member(obj->j, key);
    ps_expr_from_json(j, out);
    return 0;
}

static int ev_member(ectx *c, const node *n, val *out)
{
    val base;
    if (ps_expr_ev(c, n->a, &base))
        return -1;
    switch (base.kind) {
    case V_OBJ:
        return lookup_key(&base, n->str, out);
    case V_NIL:
        if (n->optional) {
            memset(out, 0, sizeof *out);
            return 0;
        }
        return ps_expr_rt_err(
            c, "%.*s is nil, so .%s cannot be read (write %.*s?.%s if it may be missing)",
            SPAN(c, n->a), n->str, SPAN(c, n->a), n->str);
    case V_ARR:
    case V_LIST:
        return ps_expr_rt_err(c,
                              "%.*s is a list; read .%s of one element ([0]) or test them all with "
                              "any()",
                              SPAN(c, n->a), n->str);
    default:
        return ps_expr_rt_err(c, "%.*s is a %s, not a mapping, so .%s cannot be read",
                              SPAN(c, n->a), ps_expr_kind_name(base.kind), n->str);
    }
}

static int ev_index(ectx *c, const node *n, val *out)
{
    val base, idx;
    if (ps_expr_ev(c, n->a, &base) || ps_expr_ev(c, n->b, &idx))
        return -1;
    if (base.kind == V_NIL) {
        if (n->optional) {
            memset(out, 0, sizeof *out);
            return 0;
        }
        return ps_expr_rt_err(
            c,
            "%.*s is nil, so [%.*s] cannot be read (write %.*s?.[%.*s] if it may be "
            "missing)",
            SPAN(c, n->a), SPAN(c, n->b), SPAN(c, n->a), SPAN(c, n->b));
    }
    if (base.kind == V_OBJ) {
        if (idx.kind != V_STR)
            return ps_expr_rt_err(c, "a mapping is indexed by a string; %.*s is a %s",
                                  SPAN(c, n->b), ps_expr_kind_name(idx.kind));
        if (memchr(idx.s, '\0', idx.len)) {
            memset(out, 0, sizeof *out); /* JSON keys from cJSON never hold NUL */
            return 0;
        }
        return lookup_key(&base, idx.s, out); /* NUL-terminated by construction */
    }
    if (is_list(&base)) {
        size_t len = ps_expr_list_len(&base);
        double d;
        long long i;
        if (idx.kind != V_NUM || idx.n != floor(idx.n))
            return ps_expr_rt_err(c, "a list is indexed by a whole number; %.*s is a %s",
                                  SPAN(c, n->b),
                                  idx.kind == V_NUM ? "fraction" : ps_expr_kind_name(idx.kind));
        d = idx.n;
        if (d < -1e15 || d > 1e15)
            d = 1e15;
        i = (long long)d;
        if (i < 0)
            i += (long long)len;
        if (i < 0 || (size_t)i >= len) {
            if (n->optional) {
                memset(out, 0, sizeof *out);
                return 0;
            }
            return ps_expr_rt_err(c, "index %.*s is out of range: %.*s has %zu element%s",
                                  SPAN(c, n->b), SPAN(c, n->a), len, len == 1 ? "" : "s");
        }
        if (base.kind == V_ARR)
            ps_expr_from_json(cJSON_GetArrayItem(base.j, (int)i), out);
        else
            *out = base.items[i];
        return 0;
    }
    return ps_expr_rt_err(c, "%.*s is a %s and cannot be indexed", SPAN(c, n->a),
                          ps_expr_kind_name(base.kind));
}

static int ev_compare(ectx *c, const node *n, const val *a, const val *b, val *out)
{
    int cmp;
    if (a->kind == V_NIL || b->kind == V_NIL) {
        set_bool(out, false);
        return 0;
    }
    if (a->kind == V_NUM && b->kind == V_NUM) {
        cmp = a->n < b->n ? -1 : a->n > b->n ? 1 : 0;
    } else if (a->kind == V_STR && b->kind == V_STR) {
        size_t m = a->len < b->len ? a->len : b->len;
        cmp = memcmp(a->s, b->s, m);
        if (cmp == 0)
            cmp = a->len < b->len ? -1 : a->len > b->len ? 1 : 0;
    } else {
        const char *hint =
            (a->kind == V_STR && b->kind == V_NUM) || (a->kind == V_NUM && b->kind == V_STR)
                ? " (convert with int() or float())"
                : "";
        return ps_expr_rt_err(c, "cannot order a %s (%.*s) and a %s (%.*s)%s",
                              ps_expr_kind_name(a->kind), SPAN(c, n->a), ps_expr_kind_name(b->kind),
                              SPAN(c, n->b), hint);
    }
    switch (n->op) {
    case N_LT:
        set_bool(out, cmp < 0);
        break;
    case N_LE:
        set_bool(out, cmp <= 0);
        break;
    case N_GT:
        set_bool(out, cmp > 0);
        break;
    default:
        set_bool(out, cmp >= 0);
        break;
    }
    return 0;
}
static int ev_logic(ectx *c, const node *n, val *out)
{
    bool want = n->op == N_OR; /* the value that decides early */
    for (size_t i = 0; i < n->nargs; i++) {
        val v;
        bool b = false;
        if (ps_expr_ev(c, n->args[i], &v) || ps_expr_truthy(c, n->args[i], &v, &b))
            return -1;
        if (b == want) {
            set_bool(out, want);
            return 0;
        }
    }
    set_bool(out, !want);
    return 0;
}

static int ev_dynamic_list(ectx *c, const node *n, val *out)
{
    val *items = (val *)(void *)ps_expr_salloc(c, (n->nargs ? n->nargs : 1) * sizeof *items);
    if (!items)
        return -1;
    for (size_t i = 0; i < n->nargs; i++)
        if (ps_expr_ev(c, n->args[i], &items[i]))
            return -1;
    memset(out, 0, sizeof *out);
    out->kind = V_LIST;
    out->items = items;
    out->nitems = n->nargs;
    return 0;
}

/* Binary operators (comparisons, in, the text operators) evaluate both sides. */
static int ev_binary(ectx *c, const node *n, val *out)
{
    val a, b;
    bool r = false;

    if (ps_expr_ev(c, n->a, &a) || (n->op != N_MATCHES && ps_expr_ev(c, n->b, &b)))
        return -1;
    switch (n->op) {
    case N_EQ:
    case N_NE:
        set_bool(out, ps_expr_val_equal(&a, &b) == (n->op == N_EQ));
        return 0;
    case N_LT:
    case N_LE:
    case N_GT:
    case N_GE:
        return ev_compare(c, n, &a, &b, out);
    case N_IN:
        if (ps_expr_op_in(c, n, &a, &b, &r))
            return -1;
        break;
    case N_CONTAINS:
        if (ps_expr_op_text(c, F_CONTAINS, n->a, n->b, &a, &b, &r))
            return -1;
        break;
    case N_STARTS:
        if (ps_expr_op_text(c, F_STARTS, n->a, n->b, &a, &b, &r))
            return -1;
        break;
    case N_ENDS:
        if (ps_expr_op_text(c, F_ENDS, n->a, n->b, &a, &b, &r))
            return -1;
        break;
    case N_MATCHES:
        if (ps_expr_op_matches(c, n, &a, &r))
            return -1;
        break;
    default:
        return ps_expr_rt_err(c, "internal error: unknown operator");
    }
    set_bool(out, n->negate ? !r : r);
    return 0;
}

int ps_expr_ev(ectx *c, const node *n, val *out)
{
    val a;
    bool r = false;

    out->kind = V_NIL; /* what callers see if evaluation stops on an error */

    switch (n->op) {
    case N_LIT:
        *out = n->lit;
        return 0;
    case N_LIST:
        if (n->constant) {
            *out = n->lit;
            return 0;
        }
        return ev_dynamic_list(c, n, out);
    case N_NAME:
        if (n->len == 7 && memcmp(n->str, "_ingest", 7) == 0) {
            ps_expr_from_json(c->env->meta, out);
            return 0;
        }
        ps_expr_from_json(
            cJSON_IsObject(c->env->root) ? ps_expr_member(c->env->root, n->str) : NULL, out);
        return 0;
    case N_ELEM:
        if (!c->elem)
            return ps_expr_rt_err(c, "internal error: # outside a predicate");
        *out = *c->elem;
        return 0;
    case N_MEMBER:
        return ev_member(c, n, out);
    case N_INDEX:
        return ev_index(c, n, out);
    case N_NOT:
        if (ps_expr_ev(c, n->a, &a) || ps_expr_truthy(c, n->a, &a, &r))
            return -1;
        set_bool(out, !r);
        return 0;
    case N_AND:
    case N_OR:
        return ev_logic(c, n, out);
    case N_COALESCE:
        if (ps_expr_ev(c, n->a, &a))
            return -1;
        if (a.kind != V_NIL) {
            *out = a;
            return 0;
        }
        return ps_expr_ev(c, n->b, out);
    case N_CALL:
        return ps_expr_call(c, n, out);
    default:
        return ev_binary(c, n, out);
    }
}

/* Runs `n` with a scratch (the caller's, or a temporary one). */
static ps_err run(const ps_expr *e, const ps_expr_env *env, ps_errmsg *em, ectx *c, val *out)
{
    ps_expr_scratch *tmp = NULL;
    memset(c, 0, sizeof *c);
    memset(out, 0, sizeof *out);
    c->e = e;
    c->env = env;
    c->em = em;
    c->sc = env->scratch;
    if (!c->sc) {
        if (ps_expr_scratch_create(&tmp) != PS_OK)
            return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory evaluating the condition");
        c->sc = tmp;
    }
    scratch_reset(c->sc);
    /* The result may point into the scratch: callers convert it before a temporary
     * scratch goes away. */
    (void)ps_expr_ev(c, e->root, out);
    return c->rc;
}

ps_err ps_expr_eval_bool(const ps_expr *e, const ps_expr_env *env, bool *out, ps_errmsg *em)
{
    ectx c;
    val v;
    ps_err rc;
    bool owned = env->scratch == NULL;

    *out = false;
    rc = run(e, env, em, &c, &v);
    if (rc == PS_OK) {
        if (v.kind == V_BOOL)
            *out = v.b;
        else if (v.kind != V_NIL)
            rc = ps_errmsg_set(em, PS_ERR_INVALID,
                               "the condition gives a %s, not true or false; compare it, e.g. "
                               "%.*s != nil",
                               ps_expr_kind_name(v.kind), SPAN(&c, e->root));
    }
    if (owned)
        ps_expr_scratch_destroy(c.sc);
    return rc;
}

ps_err ps_expr_eval_json(const ps_expr *e, const ps_expr_env *env, cJSON **out, ps_errmsg *em)
{
    ectx c;
    val v;
    ps_err rc;
    bool owned = env->scratch == NULL;

    *out = NULL;
    rc = run(e, env, em, &c, &v);
    if (rc == PS_OK && !(*out = ps_expr_val_to_json(&v)))
        rc = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    if (owned)
        ps_expr_scratch_destroy(c.sc);
    return rc;
}
