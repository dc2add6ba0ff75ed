/* ps_expr's recursive-descent parser: tokens into the immutable tree that
 * evaluation walks, with every error a load-time error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr/ps_expr_internal.h"

/* Bounds backtracking so that a pathological pattern cannot stall a worker. */
#define PS_EXPR_MATCH_LIMIT 1000000u

typedef struct builtin {
    const char *name;
    fn_id id;
    int nargs;      /* arguments, not counting a method's receiver */
    bool function;  /* callable as name(x, ...) */
    bool method;    /* callable as x.name(...) */
    bool predicate; /* second argument is a predicate over # */
} builtin;

static const builtin builtins[] = {
    {"lower", F_LOWER, 1, true, false, false},
    {"upper", F_UPPER, 1, true, false, false},
    {"trim", F_TRIM, 1, true, false, false},
    {"len", F_LEN, 1, true, false, false},
    {"int", F_INT, 1, true, false, false},
    {"float", F_FLOAT, 1, true, false, false},
    {"string", F_STRING, 1, true, false, false},
    {"any", F_ANY, 2, true, false, true},
    {"all", F_ALL, 2, true, false, true},
    {"none", F_NONE, 2, true, false, true},
    {"lower", F_LOWER, 0, false, true, false},
    {"upper", F_UPPER, 0, false, true, false},
    {"trim", F_TRIM, 0, false, true, false},
    {"contains", F_CONTAINS, 1, false, true, false},
    {"containsKey", F_CONTAINSKEY, 1, false, true, false},
    {"startsWith", F_STARTS, 1, false, true, false},
    {"endsWith", F_ENDS, 1, false, true, false},
};

/* ---- tree building --------------------------------------------------------------- */

static node *mk(parser *p, nop op, size_t start, size_t end)
{
    node *n = calloc(1, sizeof *n);
    if (!n)
        return ps_expr_perr(p, PS_ERR_NOMEM, start, "out of memory");
    n->op = op;
    n->start = start;
    n->end = end;
    n->depth = 1;
    n->all_next = p->e->all;
    p->e->all = n;
    return n;
}

static bool depth_ok(parser *p, node *n, const node *child)
{
    if (child && child->depth + 1 > n->depth)
        n->depth = child->depth + 1;
    if (n->depth > PS_EXPR_MAX_DEPTH) {
        ps_expr_perr(p, PS_ERR_RANGE, n->start, "condition nests too deeply (more than %d levels)",
                     PS_EXPR_MAX_DEPTH);
        return false;
    }
    return true;
}

static bool add_arg(parser *p, node *n, node *arg)
{
    /* Not ps_mem: exactly one more, as nodes have few arguments and the compiled
     * tree lives as long as the configuration. */
    node **a = realloc(n->args, (n->nargs + 1) * sizeof(node *));
    if (!a) {
        ps_expr_perr(p, PS_ERR_NOMEM, n->start, "out of memory");
        return false;
    }
    n->args = a;
    n->args[n->nargs++] = arg;
    if (arg->end > n->end)
        n->end = arg->end;
    return depth_ok(p, n, arg);
}

static char *copy_span(parser *p, size_t start, size_t end)
{
    char *s = malloc(end - start + 1);
    if (!s)
        return ps_expr_perr(p, PS_ERR_NOMEM, start, "out of memory");
    memcpy(s, p->s + start, end - start);
    s[end - start] = '\0';
    return s;
}

static node *parse_expr(parser *p, int minprec);

static const builtin *find_builtin(const char *name, size_t len, bool method)
{
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++) {
        const builtin *b = &builtins[i];
        if ((method ? b->method : b->function) && strlen(b->name) == len &&
            memcmp(b->name, name, len) == 0)
            return b;
    }
    return NULL;
}

static bool expect(parser *p, tk kind, const char *what)
{
    char buf[64];
    if (p->tok.kind != kind) {
        ps_expr_perr(p, PS_ERR_PARSE, p->tok.start, "expected %s, found %s", what,
                     ps_expr_tok_desc(p, buf, sizeof buf));
        return false;
    }
    return ps_expr_advance(p);
}

/* Arguments after the '(' of a call, up to and including ')'. */
static bool parse_args(parser *p, node *call, const builtin *b, bool method, size_t name_start)
{
    int want = b->nargs, got = 0;
    if (!ps_expr_advance(p)) /* '(' */
        return false;
    while (p->tok.kind != T_RP) {
        node *arg;
        if (got > 0 && !expect(p, T_COMMA, "',' or ')'"))
            return false;
        if (b->predicate && got == 1)
            p->closure++;
        arg = parse_expr(p, 0);
        if (b->predicate && got == 1)
            p->closure--;
        if (!arg || !add_arg(p, call, arg))
            return false;
        got++;
        if (p->tok.kind == T_EOF)
            break;
    }
    call->end = p->tok.end;
    if (!expect(p, T_RP, "')'"))
        return false;
    if (got != want) {
        ps_expr_perr(p, PS_ERR_PARSE, name_start, "%s%s() takes %d argument%s, not %d",
                     method ? "." : "", b->name, want, want == 1 ? "" : "s", got);
        return false;
    }
    return true;
}

static bool const_list(parser *p, node *n)
{
    for (size_t i = 0; i < n->nargs; i++)
        if (!n->args[i]->constant)
            return true;
    n->items = calloc(n->nargs ? n->nargs : 1, sizeof *n->items);
    if (!n->items) {
        ps_expr_perr(p, PS_ERR_NOMEM, n->start, "out of memory");
        return false;
    }
    for (size_t i = 0; i < n->nargs; i++)
        n->items[i] = n->args[i]->lit;
    n->lit.kind = V_LIST;
    n->lit.items = n->items;
    n->lit.nitems = n->nargs;
    n->constant = true;
    return true;
}

static node *parse_list(parser *p)
{
    node *n = mk(p, N_LIST, p->tok.start, p->tok.end);
    if (!n || !ps_expr_advance(p))
        return NULL;
    while (p->tok.kind != T_RB) {
        node *item = parse_expr(p, 0);
        if (!item || !add_arg(p, n, item))
            return NULL;
        if (p->tok.kind == T_COMMA) {
            if (!ps_expr_advance(p))
                return NULL;
            continue;
        }
        if (p->tok.kind != T_RB) {
            char buf[64];
            return ps_expr_perr(p, PS_ERR_PARSE, p->tok.start,
                                "expected ',' or ']' in list, found %s",
                                ps_expr_tok_desc(p, buf, sizeof buf));
        }
    }
    n->end = p->tok.end;
    if (!ps_expr_advance(p) || !const_list(p, n))
        return NULL;
    return n;
}

static node *parse_postfix(parser *p, node *base)
{
    for (;;) {
        bool optional = p->tok.kind == T_QDOT;
        node *n;
        if (p->tok.kind == T_DOT || p->tok.kind == T_QDOT) {
            if (!ps_expr_advance(p))
                return NULL;
            if (optional && p->tok.kind == T_LB)
                goto index;
            if (p->tok.kind != T_IDENT) {
                char buf[64];
                return ps_expr_perr(p, PS_ERR_PARSE, p->tok.start,
                                    "expected a field name after '%s', found %s; quote other keys "
                                    "like this: a[\"k\"]",
                                    optional ? "?." : ".", ps_expr_tok_desc(p, buf, sizeof buf));
            }
            size_t ns = p->tok.start, ne = p->tok.end;
            if (ps_expr_next_char_is(p, '(')) {
                const builtin *b = find_builtin(p->s + ns, ne - ns, true);
                if (!b)
                    return ps_expr_perr(
                        p, PS_ERR_PARSE, ns,
                        "unknown method .%.*s(); methods are contains, containsKey, "
                        "startsWith, endsWith, lower, upper, trim",
                        (int)(ne - ns), p->s + ns);
                n = mk(p, N_CALL, base->start, ne);
                if (!n || !add_arg(p, n, base) || !ps_expr_advance(p))
                    return NULL;
                n->fn = b->id;
                if (!parse_args(p, n, b, true, ns))
                    return NULL;
                base = n;
                continue;
            }
            n = mk(p, N_MEMBER, base->start, ne);
            if (!n || !(n->str = copy_span(p, ns, ne)))
                return NULL;
            n->len = ne - ns;
            n->optional = optional;
            n->a = base;
            if (!depth_ok(p, n, base) || !ps_expr_advance(p))
                return NULL;
            base = n;
            continue;
        }
        if (p->tok.kind != T_LB)
            return base;
    index:
        n = mk(p, N_INDEX, base->start, p->tok.end);
        if (!n)
            return NULL;
        n->optional = optional;
        n->a = base;
        if (!depth_ok(p, n, base) || !ps_expr_advance(p))
            return NULL;
        if (p->tok.kind == T_COLON)
            return ps_expr_perr(p, PS_ERR_PARSE, p->tok.start, "slices ([a:b]) are not supported");
        n->b = parse_expr(p, 0);
        if (!n->b || !depth_ok(p, n, n->b))
            return NULL;
        if (p->tok.kind == T_COLON)
            return ps_expr_perr(p, PS_ERR_PARSE, p->tok.start, "slices ([a:b]) are not supported");
        n->end = p->tok.end;
        if (!expect(p, T_RB, "']'"))
            return NULL;
        base = n;
    }
}

/* An identifier as a value: a literal word, a function call or a name. */
static node *parse_ident(parser *p)
{
    token *t = &p->tok;
    node *n;

    if (ps_expr_tok_is(p, "true") || ps_expr_tok_is(p, "false") || ps_expr_tok_is(p, "nil") ||
        ps_expr_tok_is(p, "null")) {
        n = mk(p, N_LIT, t->start, t->end);
        if (!n)
            return NULL;
        n->constant = true;
        n->lit.kind = ps_expr_tok_is(p, "true") || ps_expr_tok_is(p, "false") ? V_BOOL : V_NIL;
        n->lit.b = ps_expr_tok_is(p, "true");
        return ps_expr_advance(p) ? n : NULL;
    }
    static const char *const reserved[] = {"and",        "or",       "in",     "contains",
                                           "startsWith", "endsWith", "matches"};
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (ps_expr_tok_is(p, reserved[i]))
            return ps_expr_perr(
                p, PS_ERR_PARSE, t->start,
                "unexpected '%s'; expected a value (quote a key with that name like "
                "this: [\"%s\"])",
                reserved[i], reserved[i]);

    size_t ns = t->start, ne = t->end;
    if (ps_expr_next_char_is(p, '(')) {
        const builtin *b = find_builtin(p->s + ns, ne - ns, false);
        if (!b)
            return ps_expr_perr(
                p, PS_ERR_PARSE, ns,
                "unknown function %.*s(); functions are lower, upper, trim, len, int, "
                "float, string, any, all, none",
                (int)(ne - ns), p->s + ns);
        n = mk(p, N_CALL, ns, ne);
        if (!n || !ps_expr_advance(p))
            return NULL;
        n->fn = b->id;
        if (!parse_args(p, n, b, false, ns))
            return NULL;
        return n;
    }
    n = mk(p, N_NAME, ns, ne);
    if (!n || !(n->str = copy_span(p, ns, ne)))
        return NULL;
    n->len = ne - ns;
    return ps_expr_advance(p) ? n : NULL;
}

static node *parse_primary(parser *p)
{
    token *t = &p->tok;
    char buf[64];
    node *n;

    switch (t->kind) {
    case T_NUM:
        n = mk(p, N_LIT, t->start, t->end);
        if (!n)
            return NULL;
        n->lit.kind = V_NUM;
        n->lit.n = t->num;
        n->constant = true;
        return ps_expr_advance(p) ? n : NULL;
    case T_STR:
        n = mk(p, N_LIT, t->start, t->end);
        if (!n)
            return NULL;
        n->str = t->str;
        n->len = t->slen;
        t->str = NULL;
        n->lit.kind = V_STR;
        n->lit.s = n->str;
        n->lit.len = n->len;
        n->constant = true;
        return ps_expr_advance(p) ? n : NULL;
    case T_LP:
        if (!ps_expr_advance(p))
            return NULL;
        n = parse_expr(p, 0);
        if (!n || !expect(p, T_RP, "')'"))
            return NULL;
        return n;
    case T_LB:
        return parse_list(p);
    case T_HASH:
        if (p->closure == 0)
            return ps_expr_perr(p, PS_ERR_PARSE, t->start,
                                "'#' (the current element) is only allowed inside any(), all() or "
                                "none()");
        n = mk(p, N_ELEM, t->start, t->end);
        return n && ps_expr_advance(p) ? n : NULL;
    case T_DOT:
        /* `.field` inside a predicate is expr's shorthand for `#.field`. */
        if (p->closure == 0)
            return ps_expr_perr(p, PS_ERR_PARSE, t->start, "unexpected '.'; expected a value");
        return mk(p, N_ELEM, t->start, t->start);
    case T_IDENT:
        return parse_ident(p);
    case T_EOF:
        return ps_expr_perr(p, PS_ERR_PARSE, t->start,
                            "unexpected end of condition; expected a value");
    default:
        return ps_expr_perr(p, PS_ERR_PARSE, t->start, "unexpected %s; expected a value",
                            ps_expr_tok_desc(p, buf, sizeof buf));
    }
}

static node *parse_unary(parser *p)
{
    size_t start = p->tok.start;
    node *n;

    if (p->tok.kind == T_BANG || ps_expr_tok_is(p, "not")) {
        if (!ps_expr_advance(p))
            return NULL;
        n = mk(p, N_NOT, start, start + 1);
        if (!n)
            return NULL;
        n->a = parse_expr(p, 50);
        if (!n->a || !depth_ok(p, n, n->a))
            return NULL;
        n->end = n->a->end;
        return n;
    }
    if (p->tok.kind == T_MINUS) {
        if (!ps_expr_advance(p))
            return NULL;
        if (p->tok.kind != T_NUM)
            return ps_expr_perr(p, PS_ERR_PARSE, start,
                                "arithmetic ('-') is not supported in conditions");
        n = parse_primary(p);
        if (!n)
            return NULL;
        n->lit.n = -n->lit.n;
        n->start = start;
        return n;
    }
    n = parse_primary(p);
    return n ? parse_postfix(p, n) : NULL;
}

typedef struct binop {
    nop op;
    int prec;
    bool negate;
    int ntok; /* tokens the operator spans (2 for `not in`) */
} binop;

static bool current_binop(const parser *p, binop *b)
{
    static const struct {
        const char *word;
        nop op;
    } words[] = {{"in", N_IN},
                 {"contains", N_CONTAINS},
                 {"startsWith", N_STARTS},
                 {"endsWith", N_ENDS},
                 {"matches", N_MATCHES}};
    memset(b, 0, sizeof *b);
    b->ntok = 1;
    switch (p->tok.kind) {
    case T_OROR:
        *b = (binop){N_OR, 10, false, 1};
        return true;
    case T_ANDAND:
        *b = (binop){N_AND, 15, false, 1};
        return true;
    case T_EQ:
        *b = (binop){N_EQ, 20, false, 1};
        return true;
    case T_NE:
        *b = (binop){N_NE, 20, false, 1};
        return true;
    case T_LT:
        *b = (binop){N_LT, 20, false, 1};
        return true;
    case T_LE:
        *b = (binop){N_LE, 20, false, 1};
        return true;
    case T_GT:
        *b = (binop){N_GT, 20, false, 1};
        return true;
    case T_GE:
        *b = (binop){N_GE, 20, false, 1};
        return true;
    case T_QQ:
        *b = (binop){N_COALESCE, 500, false, 1};
        return true;
    case T_IDENT:
        break;
    default:
        return false;
    }
    if (ps_expr_tok_is(p, "or")) {
        *b = (binop){N_OR, 10, false, 1};
        return true;
    }
    if (ps_expr_tok_is(p, "and")) {
        *b = (binop){N_AND, 15, false, 1};
        return true;
    }
    bool neg = ps_expr_tok_is(p, "not");
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        if (neg ? ps_expr_next_word_is(p, words[i].word) : ps_expr_tok_is(p, words[i].word)) {
            *b = (binop){words[i].op, 20, neg, neg ? 2 : 1};
            return true;
        }
    }
    return false;
}

static bool compile_regex(parser *p, node *n)
{
    int code;
    PCRE2_SIZE off;
    const node *r = n->b;

    if (r->op != N_LIT || r->lit.kind != V_STR) {
        ps_expr_perr(
            p, PS_ERR_PARSE, r->start,
            "matches needs a quoted regular expression on its right, e.g. matches '^Cron'");
        return false;
    }
    n->re = pcre2_compile((PCRE2_SPTR)r->lit.s, r->lit.len, PCRE2_UTF | PCRE2_MATCH_INVALID_UTF,
                          &code, &off, NULL);
    if (!n->re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(code, msg, sizeof msg);
        ps_expr_perr(p, PS_ERR_PARSE, r->start,
                     "invalid regular expression: %s (at pattern offset %zu)", (const char *)msg,
                     (size_t)off);
        return false;
    }
    /* No JIT (an unsupported CPU, or a locked-down kernel) only costs speed. */
    (void)pcre2_jit_compile(n->re, PCRE2_JIT_COMPLETE);
    return true;
}

static node *parse_expr_inner(parser *p, int minprec);

/* Bounds recursion as well as tree depth: parentheses nest the parser without
 * adding nodes. */
static node *parse_expr(parser *p, int minprec)
{
    node *n;
    if (++p->depth > PS_EXPR_MAX_DEPTH) {
        p->depth--;
        return ps_expr_perr(p, PS_ERR_RANGE, p->tok.start,
                            "condition nests too deeply (more than %d levels)", PS_EXPR_MAX_DEPTH);
    }
    n = parse_expr_inner(p, minprec);
    p->depth--;
    return n;
}

static node *parse_expr_inner(parser *p, int minprec)
{
    node *left = parse_unary(p);
    binop b;

    while (left && current_binop(p, &b) && b.prec >= minprec) {
        node *right, *n;
        for (int i = 0; i < b.ntok; i++)
            if (!ps_expr_advance(p))
                return NULL;
        right = b.op == N_COALESCE ? parse_unary(p) : parse_expr(p, b.prec + 1);
        if (!right)
            return NULL;
        /* Flatten a && b && c into one node: long chains then cost no depth. */
        if ((b.op == N_AND || b.op == N_OR) && left->op == b.op) {
            if (!add_arg(p, left, right))
                return NULL;
            continue;
        }
        n = mk(p, b.op, left->start, right->end);
        if (!n)
            return NULL;
        n->negate = b.negate;
        if (b.op == N_AND || b.op == N_OR) {
            if (!add_arg(p, n, left) || !add_arg(p, n, right))
                return NULL;
        } else {
            n->a = left;
            n->b = right;
            if (!depth_ok(p, n, left) || !depth_ok(p, n, right))
                return NULL;
        }
        if (b.op == N_MATCHES && !compile_regex(p, n))
            return NULL;
        left = n;
    }
    return left;
}

static void free_nodes(node *n)
{
    while (n) {
        node *next = n->all_next;
        free(n->args);
        free(n->str);
        free(n->items);
        pcre2_code_free(n->re);
        free(n);
        n = next;
    }
}

ps_err ps_expr_compile(const char *src, size_t len, ps_expr **out, ps_expr_error *err)
{
    parser p;
    ps_expr *e;

    *out = NULL;
    if (err) {
        err->offset = 0;
        err->msg[0] = '\0';
    }
    memset(&p, 0, sizeof p);
    p.err = err;
    if (len > PS_EXPR_MAX_LEN)
        return ps_expr_perr(&p, PS_ERR_RANGE, 0, "condition is longer than %d bytes",
                            PS_EXPR_MAX_LEN),
               p.rc;
    e = calloc(1, sizeof *e);
    if (!e || !(e->src = malloc(len + 1))) {
        free(e);
        return ps_expr_perr(&p, PS_ERR_NOMEM, 0, "out of memory"), p.rc;
    }
    memcpy(e->src, src, len);
    e->src[len] = '\0';
    e->len = len;
    p.e = e;
    p.s = e->src;
    p.len = len;

    if (ps_expr_lex(&p, 0)) {
        if (p.tok.kind == T_EOF)
            ps_expr_perr(&p, PS_ERR_PARSE, 0, "the condition is empty");
        else
            e->root = parse_expr(&p, 0);
    }
    if (p.rc == PS_OK && p.tok.kind != T_EOF) {
        char buf[64];
        ps_expr_perr(&p, PS_ERR_PARSE, p.tok.start,
                     "unexpected %s; expected an operator or the end",
                     ps_expr_tok_desc(&p, buf, sizeof buf));
    }
    free(p.tok.str);
    if (p.rc == PS_OK) {
        e->mctx = pcre2_match_context_create(NULL);
        if (!e->mctx)
            ps_expr_perr(&p, PS_ERR_NOMEM, 0, "out of memory");
        else
            pcre2_set_match_limit(e->mctx, PS_EXPR_MATCH_LIMIT);
    }
    if (p.rc != PS_OK) {
        ps_expr_destroy(e);
        return p.rc;
    }
    *out = e;
    return PS_OK;
}

void ps_expr_destroy(ps_expr *e)
{
    if (!e)
        return;
    free_nodes(e->all);
    pcre2_match_context_free(e->mctx);
    free(e->src);
    free(e);
}

const char *ps_expr_source(const ps_expr *e)
{
    return e->src;
}
