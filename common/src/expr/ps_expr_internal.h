/* ps_expr internals shared by the lexer (ps_expr_lex.c), the parser
 * (ps_expr_parse.c), the evaluator (ps_expr_eval.c) and the operators and
 * functions (ps_expr_ops.c); nothing outside common/src/expr includes it.
 *
 * Syntax and precedence follow expr (github.com/expr-lang/expr):
 *   ||/or 10 < &&/and 15 < comparisons, in, contains, startsWith, endsWith, matches 20
 *   < unary !/not 50 < ?? 500 < postfix (., ?., [], calls).
 * Evaluation never allocates for the common case: values borrow strings from the
 * event or the compiled tree, and what must be built (lower(), string()) goes into a
 * per-thread scratch arena that is reset at the start of every evaluation. */
#ifndef PS_EXPR_INTERNAL_H
#define PS_EXPR_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8

#include <pcre2.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "podstream/ps_compiler.h"
#include "podstream/ps_error.h"
#include "podstream/ps_expr.h"

/* ---- values ---------------------------------------------------------------- */

typedef enum vkind { V_NIL, V_BOOL, V_NUM, V_STR, V_ARR, V_OBJ, V_LIST } vkind;

/* Strings are always NUL-terminated at s[len]; `len` still counts because literals
 * may hold \u0000. */
typedef struct val {
    vkind kind;
    bool b;
    double n;
    const char *s;
    size_t len;
    const cJSON *j;          /* V_ARR, V_OBJ */
    const struct val *items; /* V_LIST */
    size_t nitems;
} val;

/* ---- the compiled tree ------------------------------------------------------- */

typedef enum nop {
    N_LIT,
    N_LIST,
    N_NAME,
    N_ELEM,
    N_MEMBER,
    N_INDEX,
    N_NOT,
    N_AND,
    N_OR,
    N_EQ,
    N_NE,
    N_LT,
    N_LE,
    N_GT,
    N_GE,
    N_IN,
    N_CONTAINS,
    N_STARTS,
    N_ENDS,
    N_MATCHES,
    N_COALESCE,
    N_CALL
} nop;

typedef enum fn_id {
    F_LOWER,
    F_UPPER,
    F_TRIM,
    F_LEN,
    F_INT,
    F_FLOAT,
    F_STRING,
    F_ANY,
    F_ALL,
    F_NONE,
    F_CONTAINS,
    F_CONTAINSKEY,
    F_STARTS,
    F_ENDS
} fn_id;

typedef struct node node;
struct node {
    nop op;
    fn_id fn;
    bool optional; /* ?. member or index */
    bool negate;   /* not in, not matches, ... */
    size_t start, end;
    int depth;
    node *a, *b;
    node **args; /* N_AND/N_OR operands, N_LIST items, N_CALL arguments */
    size_t nargs;
    char *str; /* N_NAME/N_MEMBER key, N_LIT string */
    size_t len;
    val lit;    /* N_LIT, and a constant N_LIST (kind V_LIST) */
    val *items; /* storage of a constant list */
    bool constant;
    pcre2_code *re; /* N_MATCHES */
    node *all_next;
};

struct ps_expr {
    char *src;
    size_t len;
    node *root;
    node *all;
    pcre2_match_context *mctx;
};

/* ---- scratch ------------------------------------------------------------------ */

typedef struct block {
    struct block *next;
    size_t cap, used;
    char data[];
} block;

struct ps_expr_scratch {
    block *base;  /* kept across evaluations */
    block *extra; /* overflow, freed by reset */
    pcre2_match_data *md;
};

/* ---- lexer ---------------------------------------------------------------------- */

typedef enum tk {
    T_EOF,
    T_IDENT,
    T_NUM,
    T_STR,
    T_LP,
    T_RP,
    T_LB,
    T_RB,
    T_COMMA,
    T_DOT,
    T_QDOT,
    T_QQ,
    T_HASH,
    T_EQ,
    T_NE,
    T_LT,
    T_LE,
    T_GT,
    T_GE,
    T_ANDAND,
    T_OROR,
    T_BANG,
    T_MINUS,
    T_COLON
} tk;

typedef struct token {
    tk kind;
    size_t start, end;
    double num;
    char *str; /* T_STR: decoded, owned by the parser until taken */
    size_t slen;
} token;

typedef struct parser {
    ps_expr *e;
    const char *s;
    size_t len;
    token tok;
    int closure; /* > 0 inside the predicate of any()/all()/none() */
    int depth;   /* parse_expr recursion */
    ps_expr_error *err;
    ps_err rc;
} parser;

/* Records the first error of a compilation (later ones are usually its echo) in
 * p->rc and p->err, with `offset` the byte at fault. Returns NULL, so that parsing
 * functions can `return ps_expr_perr(...)`. */
void *ps_expr_perr(parser *p, ps_err rc, size_t offset, const char *fmt, ...) PS_PRINTF(4, 5);

/* Lexes the token at or after byte `pos` into p->tok, freeing the string the
 * previous token still owned. False (with the error recorded) on bad input. */
bool ps_expr_lex(parser *p, size_t pos);

/* Lexes the token after the current one. */
bool ps_expr_advance(parser *p);

/* True when the current token is the identifier `word`. */
bool ps_expr_tok_is(const parser *p, const char *word);

/* True when the word after the current token is `word`, without lexing it (for
 * `not in`). */
bool ps_expr_next_word_is(const parser *p, const char *word);

/* True when the next non-blank byte after the current token is c. */
bool ps_expr_next_char_is(const parser *p, char c);

/* The current token for a message ("'foo'", "a string", "end of condition"), in
 * buf when it has to be formatted. */
const char *ps_expr_tok_desc(const parser *p, char *buf, size_t len);

/* ---- evaluation -------------------------------------------------------------------- */

typedef struct ectx {
    const ps_expr *e;
    const ps_expr_env *env;
    ps_expr_scratch *sc;
    const val *elem; /* the current `#` */
    ps_errmsg *em;
    ps_err rc;
} ectx;

/* Iterates a list value: start with a zeroed list_it. */
typedef struct list_it {
    const cJSON *child;
    size_t i;
} list_it;

static inline void set_str(val *v, const char *s, size_t len)
{
    memset(v, 0, sizeof *v);
    v->kind = V_STR;
    v->s = s;
    v->len = len;
}

static inline void set_bool(val *v, bool b)
{
    memset(v, 0, sizeof *v);
    v->kind = V_BOOL;
    v->b = b;
}

static inline void set_num(val *v, double n)
{
    memset(v, 0, sizeof *v);
    v->kind = V_NUM;
    v->n = n;
}

static inline bool is_list(const val *v)
{
    return v->kind == V_ARR || v->kind == V_LIST;
}

/* The name of a kind in messages ("nil", "string", "list", ...). Static text. */
const char *ps_expr_kind_name(vkind k);

/* Member `key` of JSON object obj (borrowed), or NULL. */
const cJSON *ps_expr_member(const cJSON *obj, const char *key);

/* *v = the value of j, borrowing its strings; NULL reads as nil. */
void ps_expr_from_json(const cJSON *j, val *v);

/* The next element of list l into *out (borrowed); false at the end. */
bool ps_expr_list_next(const val *l, list_it *it, val *out);

/* Number of elements of list l. */
size_t ps_expr_list_len(const val *l);

/* expr's ==: same kind and value; lists element by element, whatever their
 * storage. */
bool ps_expr_val_equal(const val *a, const val *b);

/* A new cJSON tree of v that the caller deletes; NULL when memory runs out. */
cJSON *ps_expr_val_to_json(const val *v);

/* Evaluates n into *out. Returns 0, or -1 with c->rc and c->em set; *out may then
 * borrow from the event, the tree or the scratch. */
int ps_expr_ev(ectx *c, const node *n, val *out);

/* Records a runtime error (the first one only) and returns -1. */
int ps_expr_rt_err(ectx *c, const char *fmt, ...) PS_PRINTF(2, 3);

/* Records running out of memory and returns -1. */
int ps_expr_nomem(ectx *c);

/* n bytes of the evaluation's scratch, valid until the next evaluation with it;
 * NULL (error recorded) when memory runs out. */
char *ps_expr_salloc(ectx *c, size_t n);

/* *out = v as a condition: booleans as they are, nil false, else an error that
 * names sub-expression n; returns 0 or -1. */
int ps_expr_truthy(ectx *c, const node *n, const val *v, bool *out);

/* A sub-expression's text for messages, as "%.*s" arguments. The implicit element
 * of `.field` inside a predicate has no text of its own and shows as "#". */
#define SPAN(c, n) ps_expr_span_len(n), ps_expr_span_text((c), (n))
int ps_expr_span_len(const node *n);
const char *ps_expr_span_text(const ectx *c, const node *n);

/* ---- operators and functions (ps_expr_ops.c) ----------------------------------- */

/* x in coll, for the node n that names both sides in messages; 0 or -1. */
int ps_expr_op_in(ectx *c, const node *n, const val *x, const val *coll, bool *res);

/* contains, startsWith, endsWith (f) of a and b, the values of nodes ln and rn;
 * nil on either side gives false; 0 or -1. */
int ps_expr_op_text(ectx *c, fn_id f, const node *ln, const node *rn, const val *a, const val *b,
                    bool *res);

/* a matches the regex compiled into n; nil gives false; 0 or -1. */
int ps_expr_op_matches(ectx *c, const node *n, const val *a, bool *res);

/* Evaluates the N_CALL node n (its arguments too); 0 or -1. */
int ps_expr_call(ectx *c, const node *n, val *out);

#endif
