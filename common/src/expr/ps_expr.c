/* ps_expr: lexer, recursive-descent parser and tree-walking evaluator for pipeline
 * conditions. Syntax and precedence follow expr (github.com/expr-lang/expr):
 *   ||/or 10 < &&/and 15 < comparisons, in, contains, startsWith, endsWith, matches 20
 *   < unary !/not 50 < ?? 500 < postfix (., ?., [], calls).
 * Evaluation never allocates for the common case: values borrow strings from the
 * event or the compiled tree, and what must be built (lower(), string()) goes into a
 * per-thread scratch arena that is reset at the start of every evaluation. */
#define PCRE2_CODE_UNIT_WIDTH 8

#include "podstream/ps_expr.h"

#include <errno.h>
#include <math.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bounds backtracking so that a pathological pattern cannot stall a worker. */
#define PS_EXPR_MATCH_LIMIT 1000000u
/* Error messages quote sub-expressions; long ones are cut to this many bytes. */
#define SPAN_MAX 60

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

static const char *vkind_name(vkind k)
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
static const cJSON *member(const cJSON *obj, const char *key)
{
    for (const cJSON *c = obj ? obj->child : NULL; c; c = c->next)
        if (c->string && c->string[0] == key[0] && strcmp(c->string, key) == 0)
            return c;
    return NULL;
}

static void from_json(const cJSON *j, val *v)
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

#define SCRATCH_BASE 4096

struct ps_expr_scratch {
    block *base;  /* kept across evaluations */
    block *extra; /* overflow, freed by reset */
    pcre2_match_data *md;
};

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

static bool is_ident_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$';
}

static bool is_ident_char(unsigned char c)
{
    return is_ident_start(c) || (c >= '0' && c <= '9');
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static void *perr(parser *p, ps_err rc, size_t offset, const char *fmt, ...) PS_PRINTF(4, 5);

static void *perr(parser *p, ps_err rc, size_t offset, const char *fmt, ...)
{
    if (p->rc != PS_OK)
        return NULL; /* keep the first problem: later ones are usually its echo */
    p->rc = rc;
    if (p->err) {
        va_list ap;
        p->err->offset = offset;
        va_start(ap, fmt);
        vsnprintf(p->err->msg, sizeof p->err->msg, fmt, ap);
        va_end(ap);
    }
    return NULL;
}

static size_t skip_ws(const parser *p, size_t i)
{
    while (i < p->len && (p->s[i] == ' ' || p->s[i] == '\t' || p->s[i] == '\n' || p->s[i] == '\r'))
        i++;
    return i;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static size_t put_utf8(char *out, unsigned long cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Reads `n` hex digits at s[i..]; -1 when they are not all hex. */
static long read_hex(const parser *p, size_t i, int n)
{
    long v = 0;
    for (int k = 0; k < n; k++) {
        int h = i + (size_t)k < p->len ? hexval(p->s[i + (size_t)k]) : -1;
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* Decodes a quoted string starting at the quote s[start]. */
static bool lex_string(parser *p, size_t start, token *t)
{
    char q = p->s[start];
    size_t i = start + 1;
    /* Decoded text never exceeds the source: every escape shrinks or keeps length. */
    char *out = malloc(p->len - start + 1);
    size_t o = 0;

    if (!out) {
        perr(p, PS_ERR_NOMEM, start, "out of memory");
        return false;
    }
    for (;;) {
        if (i >= p->len) {
            free(out);
            perr(p, PS_ERR_PARSE, start, "unterminated string (no closing %c)", q);
            return false;
        }
        char c = p->s[i];
        if (c == q) {
            i++;
            break;
        }
        if (c != '\\' || q == '`') {
            out[o++] = c;
            i++;
            continue;
        }
        if (i + 1 >= p->len) {
            free(out);
            perr(p, PS_ERR_PARSE, start, "unterminated string (no closing %c)", q);
            return false;
        }
        char e = p->s[i + 1];
        long v;
        i += 2;
        switch (e) {
        case 'n':
            out[o++] = '\n';
            break;
        case 'r':
            out[o++] = '\r';
            break;
        case 't':
            out[o++] = '\t';
            break;
        case 'a':
            out[o++] = '\a';
            break;
        case 'b':
            out[o++] = '\b';
            break;
        case 'f':
            out[o++] = '\f';
            break;
        case 'v':
            out[o++] = '\v';
            break;
        case '\\':
        case '\'':
        case '"':
        case '/':
            out[o++] = e;
            break;
        case 'x':
            v = read_hex(p, i, 2);
            if (v < 0)
                goto bad_escape;
            out[o++] = (char)v;
            i += 2;
            break;
        case 'u':
        case 'U': {
            int n = e == 'u' ? 4 : 8;
            v = read_hex(p, i, n);
            if (v < 0)
                goto bad_escape;
            i += (size_t)n;
            if (v >= 0xD800 && v <= 0xDBFF && e == 'u' && i + 6 <= p->len && p->s[i] == '\\' &&
                p->s[i + 1] == 'u') {
                long lo = read_hex(p, i + 2, 4);
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
                    i += 6;
                }
            }
            if ((v >= 0xD800 && v <= 0xDFFF) || v > 0x10FFFF) {
                free(out);
                perr(p, PS_ERR_PARSE, i - (size_t)n - 2,
                     "\\%c escape is not a valid Unicode code point", e);
                return false;
            }
            o += put_utf8(out + o, (unsigned long)v);
            break;
        }
        default:
            goto bad_escape;
        }
        continue;
    bad_escape:
        free(out);
        if ((unsigned char)e >= 0x20 && (unsigned char)e < 0x7f)
            perr(p, PS_ERR_PARSE, i - 2,
                 "invalid escape \\%c in string; write \\\\%c for a backslash, or use a "
                 "`raw string`",
                 e, e);
        else
            perr(p, PS_ERR_PARSE, i - 2, "invalid escape in string");
        return false;
    }
    out[o] = '\0';
    t->kind = T_STR;
    t->str = out;
    t->slen = o;
    t->end = i;
    return true;
}

static bool lex_number(parser *p, size_t start, token *t)
{
    char buf[64];
    size_t i = start, o = 0;
    bool is_float = false;

    while (i < p->len && (is_digit((unsigned char)p->s[i]) || p->s[i] == '_')) {
        if (p->s[i] != '_' && o < sizeof buf - 1)
            buf[o++] = p->s[i];
        i++;
    }
    if (i + 1 < p->len && p->s[i] == '.' && is_digit((unsigned char)p->s[i + 1])) {
        is_float = true;
        if (o < sizeof buf - 1)
            buf[o++] = '.';
        i++;
        while (i < p->len && (is_digit((unsigned char)p->s[i]) || p->s[i] == '_')) {
            if (p->s[i] != '_' && o < sizeof buf - 1)
                buf[o++] = p->s[i];
            i++;
        }
    }
    if (i < p->len && (p->s[i] == 'e' || p->s[i] == 'E')) {
        size_t j = i + 1;
        if (j < p->len && (p->s[j] == '+' || p->s[j] == '-'))
            j++;
        if (j < p->len && is_digit((unsigned char)p->s[j])) {
            is_float = true;
            while (i < j && o < sizeof buf - 1)
                buf[o++] = p->s[i++];
            while (i < p->len && is_digit((unsigned char)p->s[i])) {
                if (o < sizeof buf - 1)
                    buf[o++] = p->s[i];
                i++;
            }
        }
    }
    if (i < p->len && (is_ident_char((unsigned char)p->s[i]) || p->s[i] == '.'))
        return perr(p, PS_ERR_PARSE, start, "invalid number"), false;
    if (o >= sizeof buf - 1)
        return perr(p, PS_ERR_PARSE, start, "number has too many digits"), false;
    buf[o] = '\0';
    errno = 0;
    t->num = strtod(buf, NULL);
    if (errno == ERANGE || !isfinite(t->num))
        return perr(p, PS_ERR_PARSE, start, "number is out of range"), false;
    /* Integers beyond 2^53 would silently compare wrong; refuse them instead. */
    if (!is_float && t->num > 9007199254740992.0)
        return perr(p, PS_ERR_PARSE, start, "integer is larger than 2^53"), false;
    t->kind = T_NUM;
    t->end = i;
    return true;
}

/* Lexes the token at or after `pos` into p->tok. */
static bool lex(parser *p, size_t pos)
{
    token *t = &p->tok;
    size_t i = skip_ws(p, pos);
    unsigned char c;

    free(t->str);
    memset(t, 0, sizeof *t);
    t->start = i;
    t->end = i + 1;
    if (i >= p->len) {
        t->kind = T_EOF;
        t->end = i;
        return true;
    }
    c = (unsigned char)p->s[i];
    char n = i + 1 < p->len ? p->s[i + 1] : '\0';
    if (is_ident_start(c)) {
        while (t->end < p->len && is_ident_char((unsigned char)p->s[t->end]))
            t->end++;
        t->kind = T_IDENT;
        return true;
    }
    if (is_digit(c))
        return lex_number(p, i, t);
    switch (c) {
    case '\'':
    case '"':
    case '`':
        return lex_string(p, i, t);
    case '(':
        t->kind = T_LP;
        return true;
    case ')':
        t->kind = T_RP;
        return true;
    case '[':
        t->kind = T_LB;
        return true;
    case ']':
        t->kind = T_RB;
        return true;
    case ',':
        t->kind = T_COMMA;
        return true;
    case '#':
        t->kind = T_HASH;
        return true;
    case ':':
        t->kind = T_COLON;
        return true;
    case '.':
        if (n == '.')
            return perr(p, PS_ERR_PARSE, i, "ranges (..) are not supported"), false;
        t->kind = T_DOT;
        return true;
    case '?':
        if (n == '.') {
            t->kind = T_QDOT;
            t->end = i + 2;
            return true;
        }
        if (n == '?') {
            t->kind = T_QQ;
            t->end = i + 2;
            return true;
        }
        return perr(p, PS_ERR_PARSE, i, "the ?: operator is not supported; use && and ||"), false;
    case '=':
        if (n == '=') {
            t->kind = T_EQ;
            t->end = i + 2;
            return true;
        }
        return perr(p, PS_ERR_PARSE, i, "'=' is not an operator; use '==' to compare"), false;
    case '!':
        if (n == '=') {
            t->kind = T_NE;
            t->end = i + 2;
            return true;
        }
        t->kind = T_BANG;
        return true;
    case '<':
    case '>':
        t->kind = c == '<' ? (n == '=' ? T_LE : T_LT) : (n == '=' ? T_GE : T_GT);
        t->end = n == '=' ? i + 2 : i + 1;
        return true;
    case '&':
        if (n == '&') {
            t->kind = T_ANDAND;
            t->end = i + 2;
            return true;
        }
        return perr(p, PS_ERR_PARSE, i, "'&' is not an operator; use '&&' or 'and'"), false;
    case '|':
        if (n == '|') {
            t->kind = T_OROR;
            t->end = i + 2;
            return true;
        }
        return perr(p, PS_ERR_PARSE, i, "'|' is not an operator; use '||' or 'or'"), false;
    case '-':
        t->kind = T_MINUS;
        return true;
    case '+':
    case '*':
    case '/':
    case '%':
    case '^':
        return perr(p, PS_ERR_PARSE, i, "arithmetic ('%c') is not supported in conditions", c),
               false;
    case '{':
        return perr(p, PS_ERR_PARSE, i, "mapping literals ({...}) are not supported"), false;
    default:
        break;
    }
    if (c >= 0x20 && c < 0x7f)
        return perr(p, PS_ERR_PARSE, i, "unexpected character '%c'", c), false;
    if (c >= 0x80)
        return perr(p, PS_ERR_PARSE, i,
                    "unexpected non-ASCII character; quote keys like this: a[\"k\"]"),
               false;
    return perr(p, PS_ERR_PARSE, i, "unexpected control character 0x%02x", c), false;
}

static bool advance(parser *p)
{
    return lex(p, p->tok.end);
}

static bool tok_is(const parser *p, const char *word)
{
    size_t n = strlen(word);
    return p->tok.kind == T_IDENT && p->tok.end - p->tok.start == n &&
           memcmp(p->s + p->tok.start, word, n) == 0;
}

/* The identifier after the current token, without lexing it (for `not in`). */
static bool next_word_is(const parser *p, const char *word)
{
    size_t i = skip_ws(p, p->tok.end), n = strlen(word);
    return i + n <= p->len && memcmp(p->s + i, word, n) == 0 &&
           (i + n == p->len || !is_ident_char((unsigned char)p->s[i + n]));
}

static bool next_char_is(const parser *p, char c)
{
    size_t i = skip_ws(p, p->tok.end);
    return i < p->len && p->s[i] == c;
}

static const char *tok_desc(const parser *p, char *buf, size_t len)
{
    const token *t = &p->tok;
    if (t->kind == T_EOF)
        return "end of condition";
    size_t n = t->end - t->start;
    if (t->kind == T_STR)
        return "a string";
    if (n > 40)
        n = 40;
    snprintf(buf, len, "'%.*s'", (int)n, p->s + t->start);
    return buf;
}

/* ---- tree building --------------------------------------------------------------- */

static node *mk(parser *p, nop op, size_t start, size_t end)
{
    node *n = calloc(1, sizeof *n);
    if (!n)
        return perr(p, PS_ERR_NOMEM, start, "out of memory");
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
        perr(p, PS_ERR_RANGE, n->start, "condition nests too deeply (more than %d levels)",
             PS_EXPR_MAX_DEPTH);
        return false;
    }
    return true;
}

static bool add_arg(parser *p, node *n, node *arg)
{
    node **a = realloc(n->args, (n->nargs + 1) * sizeof(node *));
    if (!a) {
        perr(p, PS_ERR_NOMEM, n->start, "out of memory");
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
        return perr(p, PS_ERR_NOMEM, start, "out of memory");
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
        perr(p, PS_ERR_PARSE, p->tok.start, "expected %s, found %s", what,
             tok_desc(p, buf, sizeof buf));
        return false;
    }
    return advance(p);
}

/* Arguments after the '(' of a call, up to and including ')'. */
static bool parse_args(parser *p, node *call, const builtin *b, bool method, size_t name_start)
{
    int want = b->nargs, got = 0;
    if (!advance(p)) /* '(' */
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
        perr(p, PS_ERR_PARSE, name_start, "%s%s() takes %d argument%s, not %d", method ? "." : "",
             b->name, want, want == 1 ? "" : "s", got);
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
        perr(p, PS_ERR_NOMEM, n->start, "out of memory");
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
    if (!n || !advance(p))
        return NULL;
    while (p->tok.kind != T_RB) {
        node *item = parse_expr(p, 0);
        if (!item || !add_arg(p, n, item))
            return NULL;
        if (p->tok.kind == T_COMMA) {
            if (!advance(p))
                return NULL;
            continue;
        }
        if (p->tok.kind != T_RB) {
            char buf[64];
            return perr(p, PS_ERR_PARSE, p->tok.start, "expected ',' or ']' in list, found %s",
                        tok_desc(p, buf, sizeof buf));
        }
    }
    n->end = p->tok.end;
    if (!advance(p) || !const_list(p, n))
        return NULL;
    return n;
}

static node *parse_postfix(parser *p, node *base)
{
    for (;;) {
        bool optional = p->tok.kind == T_QDOT;
        node *n;
        if (p->tok.kind == T_DOT || p->tok.kind == T_QDOT) {
            if (!advance(p))
                return NULL;
            if (optional && p->tok.kind == T_LB)
                goto index;
            if (p->tok.kind != T_IDENT) {
                char buf[64];
                return perr(p, PS_ERR_PARSE, p->tok.start,
                            "expected a field name after '%s', found %s; quote other keys "
                            "like this: a[\"k\"]",
                            optional ? "?." : ".", tok_desc(p, buf, sizeof buf));
            }
            size_t ns = p->tok.start, ne = p->tok.end;
            if (next_char_is(p, '(')) {
                const builtin *b = find_builtin(p->s + ns, ne - ns, true);
                if (!b)
                    return perr(p, PS_ERR_PARSE, ns,
                                "unknown method .%.*s(); methods are contains, containsKey, "
                                "startsWith, endsWith, lower, upper, trim",
                                (int)(ne - ns), p->s + ns);
                n = mk(p, N_CALL, base->start, ne);
                if (!n || !add_arg(p, n, base) || !advance(p))
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
            if (!depth_ok(p, n, base) || !advance(p))
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
        if (!depth_ok(p, n, base) || !advance(p))
            return NULL;
        if (p->tok.kind == T_COLON)
            return perr(p, PS_ERR_PARSE, p->tok.start, "slices ([a:b]) are not supported");
        n->b = parse_expr(p, 0);
        if (!n->b || !depth_ok(p, n, n->b))
            return NULL;
        if (p->tok.kind == T_COLON)
            return perr(p, PS_ERR_PARSE, p->tok.start, "slices ([a:b]) are not supported");
        n->end = p->tok.end;
        if (!expect(p, T_RB, "']'"))
            return NULL;
        base = n;
    }
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
        return advance(p) ? n : NULL;
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
        return advance(p) ? n : NULL;
    case T_LP:
        if (!advance(p))
            return NULL;
        n = parse_expr(p, 0);
        if (!n || !expect(p, T_RP, "')'"))
            return NULL;
        return n;
    case T_LB:
        return parse_list(p);
    case T_HASH:
        if (p->closure == 0)
            return perr(p, PS_ERR_PARSE, t->start,
                        "'#' (the current element) is only allowed inside any(), all() or "
                        "none()");
        n = mk(p, N_ELEM, t->start, t->end);
        return n && advance(p) ? n : NULL;
    case T_DOT:
        /* `.field` inside a predicate is expr's shorthand for `#.field`. */
        if (p->closure == 0)
            return perr(p, PS_ERR_PARSE, t->start, "unexpected '.'; expected a value");
        return mk(p, N_ELEM, t->start, t->start);
    case T_IDENT:
        break;
    case T_EOF:
        return perr(p, PS_ERR_PARSE, t->start, "unexpected end of condition; expected a value");
    default:
        return perr(p, PS_ERR_PARSE, t->start, "unexpected %s; expected a value",
                    tok_desc(p, buf, sizeof buf));
    }

    if (tok_is(p, "true") || tok_is(p, "false") || tok_is(p, "nil") || tok_is(p, "null")) {
        n = mk(p, N_LIT, t->start, t->end);
        if (!n)
            return NULL;
        n->constant = true;
        n->lit.kind = tok_is(p, "true") || tok_is(p, "false") ? V_BOOL : V_NIL;
        n->lit.b = tok_is(p, "true");
        return advance(p) ? n : NULL;
    }
    static const char *const reserved[] = {"and",        "or",       "in",     "contains",
                                           "startsWith", "endsWith", "matches"};
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (tok_is(p, reserved[i]))
            return perr(p, PS_ERR_PARSE, t->start,
                        "unexpected '%s'; expected a value (quote a key with that name like "
                        "this: [\"%s\"])",
                        reserved[i], reserved[i]);

    size_t ns = t->start, ne = t->end;
    if (next_char_is(p, '(')) {
        const builtin *b = find_builtin(p->s + ns, ne - ns, false);
        if (!b)
            return perr(p, PS_ERR_PARSE, ns,
                        "unknown function %.*s(); functions are lower, upper, trim, len, int, "
                        "float, string, any, all, none",
                        (int)(ne - ns), p->s + ns);
        n = mk(p, N_CALL, ns, ne);
        if (!n || !advance(p))
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
    return advance(p) ? n : NULL;
}

static node *parse_unary(parser *p)
{
    size_t start = p->tok.start;
    node *n;

    if (p->tok.kind == T_BANG || tok_is(p, "not")) {
        if (!advance(p))
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
        if (!advance(p))
            return NULL;
        if (p->tok.kind != T_NUM)
            return perr(p, PS_ERR_PARSE, start, "arithmetic ('-') is not supported in conditions");
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
    if (tok_is(p, "or")) {
        *b = (binop){N_OR, 10, false, 1};
        return true;
    }
    if (tok_is(p, "and")) {
        *b = (binop){N_AND, 15, false, 1};
        return true;
    }
    bool neg = tok_is(p, "not");
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        if (neg ? next_word_is(p, words[i].word) : tok_is(p, words[i].word)) {
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
        perr(p, PS_ERR_PARSE, r->start,
             "matches needs a quoted regular expression on its right, e.g. matches '^Cron'");
        return false;
    }
    n->re = pcre2_compile((PCRE2_SPTR)r->lit.s, r->lit.len, PCRE2_UTF | PCRE2_MATCH_INVALID_UTF,
                          &code, &off, NULL);
    if (!n->re) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(code, msg, sizeof msg);
        perr(p, PS_ERR_PARSE, r->start, "invalid regular expression: %s (at pattern offset %zu)",
             (const char *)msg, (size_t)off);
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
        return perr(p, PS_ERR_RANGE, p->tok.start,
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
            if (!advance(p))
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
        return perr(&p, PS_ERR_RANGE, 0, "condition is longer than %d bytes", PS_EXPR_MAX_LEN),
               p.rc;
    e = calloc(1, sizeof *e);
    if (!e || !(e->src = malloc(len + 1))) {
        free(e);
        return perr(&p, PS_ERR_NOMEM, 0, "out of memory"), p.rc;
    }
    memcpy(e->src, src, len);
    e->src[len] = '\0';
    e->len = len;
    p.e = e;
    p.s = e->src;
    p.len = len;

    if (lex(&p, 0)) {
        if (p.tok.kind == T_EOF)
            perr(&p, PS_ERR_PARSE, 0, "the condition is empty");
        else
            e->root = parse_expr(&p, 0);
    }
    if (p.rc == PS_OK && p.tok.kind != T_EOF) {
        char buf[64];
        perr(&p, PS_ERR_PARSE, p.tok.start, "unexpected %s; expected an operator or the end",
             tok_desc(&p, buf, sizeof buf));
    }
    free(p.tok.str);
    if (p.rc == PS_OK) {
        e->mctx = pcre2_match_context_create(NULL);
        if (!e->mctx)
            perr(&p, PS_ERR_NOMEM, 0, "out of memory");
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

/* ---- evaluation -------------------------------------------------------------------- */

typedef struct ectx {
    const ps_expr *e;
    const ps_expr_env *env;
    ps_expr_scratch *sc;
    const val *elem; /* the current `#` */
    ps_errmsg *em;
    ps_err rc;
} ectx;

static int ev(ectx *c, const node *n, val *out);

/* A sub-expression's text for messages, as "%.*s" arguments. The implicit element
 * of `.field` inside a predicate has no text of its own and shows as "#". */
#define SPAN(c, n) span_len(n), span_text((c), (n))

static int span_len(const node *n)
{
    size_t len = n->end - n->start;
    if (len == 0)
        return 1;
    return (int)(len > SPAN_MAX ? SPAN_MAX : len);
}

static const char *span_text(const ectx *c, const node *n)
{
    return n->end == n->start ? "#" : c->e->src + n->start;
}

static int rt_err(ectx *c, const char *fmt, ...) PS_PRINTF(2, 3);

static int rt_err(ectx *c, const char *fmt, ...)
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

static int nomem(ectx *c)
{
    if (c->rc == PS_OK) {
        c->rc = PS_ERR_NOMEM;
        ps_errmsg_set(c->em, PS_ERR_NOMEM, "out of memory evaluating the condition");
    }
    return -1;
}

static char *salloc(ectx *c, size_t n)
{
    char *s = scratch_alloc(c->sc, n);
    if (!s)
        nomem(c);
    return s;
}

static void set_str(val *v, const char *s, size_t len)
{
    memset(v, 0, sizeof *v);
    v->kind = V_STR;
    v->s = s;
    v->len = len;
}

static void set_bool(val *v, bool b)
{
    memset(v, 0, sizeof *v);
    v->kind = V_BOOL;
    v->b = b;
}

static void set_num(val *v, double n)
{
    memset(v, 0, sizeof *v);
    v->kind = V_NUM;
    v->n = n;
}

static bool is_list(const val *v)
{
    return v->kind == V_ARR || v->kind == V_LIST;
}

/* Iterates a list value: call with *it = NULL first. */
typedef struct list_it {
    const cJSON *child;
    size_t i;
} list_it;

static bool list_next(const val *l, list_it *it, val *out)
{
    if (l->kind == V_ARR) {
        it->child = it->i++ == 0 ? l->j->child : it->child->next;
        if (!it->child)
            return false;
        from_json(it->child, out);
        return true;
    }
    if (it->i >= l->nitems)
        return false;
    *out = l->items[it->i++];
    return true;
}

static size_t list_len(const val *l)
{
    return l->kind == V_ARR ? (size_t)cJSON_GetArraySize(l->j) : l->nitems;
}

static bool val_equal(const val *a, const val *b);

static bool list_equal(const val *a, const val *b)
{
    list_it ia = {0}, ib = {0};
    val x, y;
    for (;;) {
        bool ha = list_next(a, &ia, &x), hb = list_next(b, &ib, &y);
        if (ha != hb)
            return false;
        if (!ha)
            return true;
        if (!val_equal(&x, &y))
            return false;
    }
}

static bool val_equal(const val *a, const val *b)
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

static int truthy(ectx *c, const node *n, const val *v, bool *out)
{
    if (v->kind == V_BOOL) {
        *out = v->b;
        return 0;
    }
    if (v->kind == V_NIL) {
        *out = false;
        return 0;
    }
    return rt_err(c, "%.*s is a %s, not a boolean", SPAN(c, n), vkind_name(v->kind));
}

static int lookup_key(const val *obj, const char *key, val *out)
{
    const cJSON *j = member(obj->j, key);
    from_json(j, out);
    return 0;
}

static int ev_member(ectx *c, const node *n, val *out)
{
    val base;
    if (ev(c, n->a, &base))
        return -1;
    switch (base.kind) {
    case V_OBJ:
        return lookup_key(&base, n->str, out);
    case V_NIL:
        if (n->optional) {
            memset(out, 0, sizeof *out);
            return 0;
        }
        return rt_err(c, "%.*s is nil, so .%s cannot be read (write %.*s?.%s if it may be missing)",
                      SPAN(c, n->a), n->str, SPAN(c, n->a), n->str);
    case V_ARR:
    case V_LIST:
        return rt_err(c,
                      "%.*s is a list; read .%s of one element ([0]) or test them all with "
                      "any()",
                      SPAN(c, n->a), n->str);
    default:
        return rt_err(c, "%.*s is a %s, not a mapping, so .%s cannot be read", SPAN(c, n->a),
                      vkind_name(base.kind), n->str);
    }
}

static int ev_index(ectx *c, const node *n, val *out)
{
    val base, idx;
    if (ev(c, n->a, &base) || ev(c, n->b, &idx))
        return -1;
    if (base.kind == V_NIL) {
        if (n->optional) {
            memset(out, 0, sizeof *out);
            return 0;
        }
        return rt_err(c,
                      "%.*s is nil, so [%.*s] cannot be read (write %.*s?.[%.*s] if it may be "
                      "missing)",
                      SPAN(c, n->a), SPAN(c, n->b), SPAN(c, n->a), SPAN(c, n->b));
    }
    if (base.kind == V_OBJ) {
        if (idx.kind != V_STR)
            return rt_err(c, "a mapping is indexed by a string; %.*s is a %s", SPAN(c, n->b),
                          vkind_name(idx.kind));
        if (memchr(idx.s, '\0', idx.len)) {
            memset(out, 0, sizeof *out); /* JSON keys from cJSON never hold NUL */
            return 0;
        }
        return lookup_key(&base, idx.s, out); /* NUL-terminated by construction */
    }
    if (is_list(&base)) {
        size_t len = list_len(&base);
        double d = idx.n;
        long long i;
        if (idx.kind != V_NUM || d != floor(d))
            return rt_err(c, "a list is indexed by a whole number; %.*s is a %s", SPAN(c, n->b),
                          idx.kind == V_NUM ? "fraction" : vkind_name(idx.kind));
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
            return rt_err(c, "index %.*s is out of range: %.*s has %zu element%s", SPAN(c, n->b),
                          SPAN(c, n->a), len, len == 1 ? "" : "s");
        }
        if (base.kind == V_ARR)
            from_json(cJSON_GetArrayItem(base.j, (int)i), out);
        else
            *out = base.items[i];
        return 0;
    }
    return rt_err(c, "%.*s is a %s and cannot be indexed", SPAN(c, n->a), vkind_name(base.kind));
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
        return rt_err(c, "cannot order a %s (%.*s) and a %s (%.*s)%s", vkind_name(a->kind),
                      SPAN(c, n->a), vkind_name(b->kind), SPAN(c, n->b), hint);
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

static bool list_has(const val *l, const val *x)
{
    list_it it = {0};
    val v;
    while (list_next(l, &it, &v))
        if (val_equal(&v, x))
            return true;
    return false;
}

static int op_in(ectx *c, const node *n, const val *x, const val *coll, bool *res)
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
            return rt_err(c, "a mapping holds string keys; %.*s is a %s", SPAN(c, n->a),
                          vkind_name(x->kind));
        *res = member(coll->j, x->s) != NULL;
        return 0;
    }
    return rt_err(c, "in needs a list or a mapping on its right; %.*s is a %s%s", SPAN(c, n->b),
                  vkind_name(coll->kind),
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
static int op_text(ectx *c, fn_id f, const node *ln, const node *rn, const val *a, const val *b,
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
        return rt_err(c, "%s needs a string%s on its left; %.*s is a %s", names[f],
                      f == F_CONTAINS ? " or a list" : "", SPAN(c, ln), vkind_name(a->kind));
    if (b->kind != V_STR)
        return rt_err(c, "%s needs a string on its right; %.*s is a %s", names[f], SPAN(c, rn),
                      vkind_name(b->kind));
    if (f == F_CONTAINS)
        *res = mem_has(a->s, a->len, b->s, b->len);
    else if (f == F_STARTS)
        *res = b->len <= a->len && memcmp(a->s, b->s, b->len) == 0;
    else
        *res = b->len <= a->len && memcmp(a->s + a->len - b->len, b->s, b->len) == 0;
    return 0;
}

static int op_matches(ectx *c, const node *n, const val *a, bool *res)
{
    int rc;
    *res = false;
    if (a->kind == V_NIL)
        return 0;
    if (a->kind != V_STR)
        return rt_err(c, "matches needs a string on its left; %.*s is a %s", SPAN(c, n->a),
                      vkind_name(a->kind));
    if (!c->sc->md && !(c->sc->md = pcre2_match_data_create(1, NULL)))
        return nomem(c);
    rc = pcre2_match(n->re, (PCRE2_SPTR)a->s, a->len, 0, 0, c->sc->md, c->e->mctx);
    if (rc >= 0) {
        *res = true;
        return 0;
    }
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
        rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT)
        return rt_err(c, "the regular expression %.*s backtracks too much on this value",
                      SPAN(c, n->b));
    if (rc == PCRE2_ERROR_NOMEMORY)
        return nomem(c);
    PCRE2_UCHAR msg[160];
    pcre2_get_error_message(rc, msg, sizeof msg);
    return rt_err(c, "matches failed: %s", (const char *)msg);
}

static int conv_case(ectx *c, const val *a, fn_id f, val *out)
{
    char *s = salloc(c, a->len + 1);
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
    s = salloc(c, e - b + 1);
    if (!s)
        return -1;
    memcpy(s, a->s + b, e - b);
    s[e - b] = '\0';
    set_str(out, s, e - b);
    return 0;
}

static cJSON *val_to_json(const val *v)
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
            cJSON *item = val_to_json(&v->items[i]);
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
        if (!(s = salloc(c, len + 1)))
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
        if (!(tmp = val_to_json(a)))
            return nomem(c);
        printed = cJSON_PrintUnformatted(tmp);
        break;
    default:
        printed = cJSON_PrintUnformatted(a->j);
        break;
    }
    cJSON_Delete(tmp);
    if (!printed)
        return nomem(c);
    len = strlen(printed);
    s = salloc(c, len + 1);
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
        return rt_err(c, "%s(): %.*s is a string that is not %s", what, SPAN(c, n),
                      f == F_INT ? "a whole number" : "a number");
    default:
        return rt_err(c, "%s(): %.*s is a %s, not a number or a string", what, SPAN(c, n),
                      vkind_name(a->kind));
    }
}

static size_t utf8_chars(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            n++;
    return n;
}

static int ev_predicate(ectx *c, const node *n, val *out)
{
    const node *ln = n->args[0], *pred = n->args[1];
    const val *saved = c->elem;
    val l, el, pv;
    list_it it = {0};
    bool all = true, any = false, b;

    if (ev(c, ln, &l))
        return -1;
    if (l.kind != V_NIL && !is_list(&l))
        return rt_err(c, "%s() needs a list; %.*s is a %s",
                      n->fn == F_ANY   ? "any"
                      : n->fn == F_ALL ? "all"
                                       : "none",
                      SPAN(c, ln), vkind_name(l.kind));
    if (l.kind != V_NIL) {
        while (list_next(&l, &it, &el)) {
            c->elem = &el;
            int rc = ev(c, pred, &pv);
            c->elem = saved;
            if (rc || truthy(c, pred, &pv, &b))
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

static int ev_call(ectx *c, const node *n, val *out)
{
    val a, b;
    bool r;

    if (n->fn == F_ANY || n->fn == F_ALL || n->fn == F_NONE)
        return ev_predicate(c, n, out);
    if (ev(c, n->args[0], &a))
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
            return rt_err(c, "%s() needs a string; %.*s is a %s",
                          n->fn == F_LOWER   ? "lower"
                          : n->fn == F_UPPER ? "upper"
                                             : "trim",
                          SPAN(c, n->args[0]), vkind_name(a.kind));
        return n->fn == F_TRIM ? conv_trim(c, &a, out) : conv_case(c, &a, n->fn, out);
    case F_LEN:
        if (a.kind == V_NIL)
            set_num(out, 0);
        else if (a.kind == V_STR)
            set_num(out, (double)utf8_chars(a.s, a.len));
        else if (is_list(&a))
            set_num(out, (double)list_len(&a));
        else if (a.kind == V_OBJ)
            set_num(out, (double)cJSON_GetArraySize(a.j));
        else
            return rt_err(c, "len() needs a string, a list or a mapping; %.*s is a %s",
                          SPAN(c, n->args[0]), vkind_name(a.kind));
        return 0;
    case F_INT:
    case F_FLOAT:
        return conv_number(c, n->args[0], &a, n->fn, out);
    case F_STRING:
        return conv_string(c, &a, out);
    case F_CONTAINSKEY:
        if (ev(c, n->args[1], &b))
            return -1;
        if (a.kind == V_NIL) {
            set_bool(out, false);
            return 0;
        }
        if (a.kind != V_OBJ)
            return rt_err(c, "containsKey() needs a mapping; %.*s is a %s", SPAN(c, n->args[0]),
                          vkind_name(a.kind));
        if (b.kind != V_STR)
            return rt_err(c, "containsKey() needs a string key; %.*s is a %s", SPAN(c, n->args[1]),
                          vkind_name(b.kind));
        set_bool(out, member(a.j, b.s) != NULL);
        return 0;
    case F_CONTAINS:
    case F_STARTS:
    case F_ENDS:
        if (ev(c, n->args[1], &b) || op_text(c, n->fn, n->args[0], n->args[1], &a, &b, &r))
            return -1;
        set_bool(out, r);
        return 0;
    default:
        return rt_err(c, "internal error: unknown function");
    }
}

static int ev_logic(ectx *c, const node *n, val *out)
{
    bool want = n->op == N_OR; /* the value that decides early */
    for (size_t i = 0; i < n->nargs; i++) {
        val v;
        bool b = false;
        if (ev(c, n->args[i], &v) || truthy(c, n->args[i], &v, &b))
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
    val *items = (val *)(void *)salloc(c, (n->nargs ? n->nargs : 1) * sizeof *items);
    if (!items)
        return -1;
    for (size_t i = 0; i < n->nargs; i++)
        if (ev(c, n->args[i], &items[i]))
            return -1;
    memset(out, 0, sizeof *out);
    out->kind = V_LIST;
    out->items = items;
    out->nitems = n->nargs;
    return 0;
}

static int ev(ectx *c, const node *n, val *out)
{
    val a, b;
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
            from_json(c->env->meta, out);
            return 0;
        }
        from_json(cJSON_IsObject(c->env->root) ? member(c->env->root, n->str) : NULL, out);
        return 0;
    case N_ELEM:
        if (!c->elem)
            return rt_err(c, "internal error: # outside a predicate");
        *out = *c->elem;
        return 0;
    case N_MEMBER:
        return ev_member(c, n, out);
    case N_INDEX:
        return ev_index(c, n, out);
    case N_NOT:
        if (ev(c, n->a, &a) || truthy(c, n->a, &a, &r))
            return -1;
        set_bool(out, !r);
        return 0;
    case N_AND:
    case N_OR:
        return ev_logic(c, n, out);
    case N_COALESCE:
        if (ev(c, n->a, &a))
            return -1;
        if (a.kind != V_NIL) {
            *out = a;
            return 0;
        }
        return ev(c, n->b, out);
    case N_CALL:
        return ev_call(c, n, out);
    default:
        break;
    }

    /* Binary operators evaluate both sides. */
    if (ev(c, n->a, &a) || (n->op != N_MATCHES && ev(c, n->b, &b)))
        return -1;
    switch (n->op) {
    case N_EQ:
    case N_NE:
        set_bool(out, val_equal(&a, &b) == (n->op == N_EQ));
        return 0;
    case N_LT:
    case N_LE:
    case N_GT:
    case N_GE:
        return ev_compare(c, n, &a, &b, out);
    case N_IN:
        if (op_in(c, n, &a, &b, &r))
            return -1;
        break;
    case N_CONTAINS:
        if (op_text(c, F_CONTAINS, n->a, n->b, &a, &b, &r))
            return -1;
        break;
    case N_STARTS:
        if (op_text(c, F_STARTS, n->a, n->b, &a, &b, &r))
            return -1;
        break;
    case N_ENDS:
        if (op_text(c, F_ENDS, n->a, n->b, &a, &b, &r))
            return -1;
        break;
    case N_MATCHES:
        if (op_matches(c, n, &a, &r))
            return -1;
        break;
    default:
        return rt_err(c, "internal error: unknown operator");
    }
    set_bool(out, n->negate ? !r : r);
    return 0;
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
    (void)ev(c, e->root, out);
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
                               vkind_name(v.kind), SPAN(&c, e->root));
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
    if (rc == PS_OK && !(*out = val_to_json(&v)))
        rc = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    if (owned)
        ps_expr_scratch_destroy(c.sc);
    return rc;
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
