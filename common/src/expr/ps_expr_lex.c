/* ps_expr's lexer: the condition's bytes as tokens, with string escapes decoded and
 * every error placed at the byte that caused it. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr/ps_expr_internal.h"
#include "podstream/ps_utf8.h"

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

void *ps_expr_perr(parser *p, ps_err rc, size_t offset, const char *fmt, ...)
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

/* The character a one-letter escape stands for; 0 when `e` is not one. */
static char simple_escape(char e)
{
    switch (e) {
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 't':
        return '\t';
    case 'a':
        return '\a';
    case 'b':
        return '\b';
    case 'f':
        return '\f';
    case 'v':
        return '\v';
    case '\\':
    case '\'':
    case '"':
    case '/':
        return e;
    default:
        return 0;
    }
}

/* Records an unknown escape \e at byte `at` (its backslash); returns false. */
static bool bad_escape(parser *p, char e, size_t at)
{
    if ((unsigned char)e >= 0x20 && (unsigned char)e < 0x7f)
        ps_expr_perr(p, PS_ERR_PARSE, at,
                     "invalid escape \\%c in string; write \\\\%c for a backslash, or use a "
                     "`raw string`",
                     e, e);
    else
        ps_expr_perr(p, PS_ERR_PARSE, at, "invalid escape in string");
    return false;
}

/* Appends the code point of a \u or \U escape (letter e, hex digits from *ip) to
 * out as UTF-8 and moves *ip past it. A \u high surrogate followed by a \u low
 * surrogate is one code point; any other surrogate is an error. */
static bool lex_unicode(parser *p, char e, size_t *ip, char *out, size_t *op)
{
    int n = e == 'u' ? 4 : 8;
    size_t i = *ip;
    long v = read_hex(p, i, n);

    if (v < 0)
        return bad_escape(p, e, i - 2);
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
        ps_expr_perr(p, PS_ERR_PARSE, i - (size_t)n - 2,
                     "\\%c escape is not a valid Unicode code point", e);
        return false;
    }
    *op += ps_utf8_encode((uint32_t)v, out + *op);
    *ip = i;
    return true;
}

/* Decodes the escape whose backslash is s[*ip] (a letter follows it) into out and
 * moves *ip past it. */
static bool lex_escape(parser *p, size_t *ip, char *out, size_t *op)
{
    char e = p->s[*ip + 1];
    char simple = simple_escape(e);
    long v;

    *ip += 2;
    if (simple) {
        out[(*op)++] = simple;
        return true;
    }
    if (e == 'x') {
        v = read_hex(p, *ip, 2);
        if (v < 0)
            return bad_escape(p, e, *ip - 2);
        out[(*op)++] = (char)v;
        *ip += 2;
        return true;
    }
    if (e == 'u' || e == 'U')
        return lex_unicode(p, e, ip, out, op);
    return bad_escape(p, e, *ip - 2);
}

/* Decodes a quoted string starting at the quote s[start]. */
static bool lex_string(parser *p, size_t start, token *t)
{
    char q = p->s[start];
    size_t i = start + 1, o = 0;
    /* Decoded text never exceeds the source: every escape shrinks or keeps length. */
    char *out = malloc(p->len - start + 1);

    if (!out) {
        ps_expr_perr(p, PS_ERR_NOMEM, start, "out of memory");
        return false;
    }
    for (;;) {
        if (i >= p->len || (p->s[i] == '\\' && q != '`' && i + 1 >= p->len)) {
            free(out);
            ps_expr_perr(p, PS_ERR_PARSE, start, "unterminated string (no closing %c)", q);
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
        if (!lex_escape(p, &i, out, &o)) {
            free(out);
            return false;
        }
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
        return ps_expr_perr(p, PS_ERR_PARSE, start, "invalid number"), false;
    if (o >= sizeof buf - 1)
        return ps_expr_perr(p, PS_ERR_PARSE, start, "number has too many digits"), false;
    buf[o] = '\0';
    errno = 0;
    t->num = strtod(buf, NULL);
    if (errno == ERANGE || !isfinite(t->num))
        return ps_expr_perr(p, PS_ERR_PARSE, start, "number is out of range"), false;
    /* Integers beyond 2^53 would silently compare wrong; refuse them instead. */
    if (!is_float && t->num > 9007199254740992.0)
        return ps_expr_perr(p, PS_ERR_PARSE, start, "integer is larger than 2^53"), false;
    t->kind = T_NUM;
    t->end = i;
    return true;
}

/* Bytes that start no token: an error, with a hint at what was probably meant. */
static bool lex_refused(parser *p, size_t i, unsigned char c)
{
    switch (c) {
    case '+':
    case '*':
    case '/':
    case '%':
    case '^':
        return ps_expr_perr(p, PS_ERR_PARSE, i, "arithmetic ('%c') is not supported in conditions",
                            c),
               false;
    case '{':
        return ps_expr_perr(p, PS_ERR_PARSE, i, "mapping literals ({...}) are not supported"),
               false;
    default:
        break;
    }
    if (c >= 0x20 && c < 0x7f)
        return ps_expr_perr(p, PS_ERR_PARSE, i, "unexpected character '%c'", c), false;
    if (c >= 0x80)
        return ps_expr_perr(p, PS_ERR_PARSE, i,
                            "unexpected non-ASCII character; quote keys like this: a[\"k\"]"),
               false;
    return ps_expr_perr(p, PS_ERR_PARSE, i, "unexpected control character 0x%02x", c), false;
}

/* Sets t to `kind`, a token of `len` bytes at s[i]; returns true. */
static bool tok_set(token *t, tk kind, size_t i, size_t len)
{
    t->kind = kind;
    t->end = i + len;
    return true;
}

/* Punctuation and operators at s[i] = c, followed by n (NUL at the end). */
static bool lex_operator(parser *p, token *t, size_t i, unsigned char c, char n)
{
    static const struct {
        char c;
        tk kind;
    } singles[] = {{'(', T_LP},    {')', T_RP},   {'[', T_LB},    {']', T_RB},
                   {',', T_COMMA}, {'#', T_HASH}, {':', T_COLON}, {'-', T_MINUS}};

    for (size_t k = 0; k < sizeof singles / sizeof singles[0]; k++)
        if (c == (unsigned char)singles[k].c)
            return tok_set(t, singles[k].kind, i, 1);
    switch (c) {
    case '.':
        if (n == '.')
            return ps_expr_perr(p, PS_ERR_PARSE, i, "ranges (..) are not supported"), false;
        return tok_set(t, T_DOT, i, 1);
    case '?':
        if (n == '.' || n == '?')
            return tok_set(t, n == '.' ? T_QDOT : T_QQ, i, 2);
        return ps_expr_perr(p, PS_ERR_PARSE, i, "the ?: operator is not supported; use && and ||"),
               false;
    case '=':
        if (n == '=')
            return tok_set(t, T_EQ, i, 2);
        return ps_expr_perr(p, PS_ERR_PARSE, i, "'=' is not an operator; use '==' to compare"),
               false;
    case '!':
        return n == '=' ? tok_set(t, T_NE, i, 2) : tok_set(t, T_BANG, i, 1);
    case '<':
        return n == '=' ? tok_set(t, T_LE, i, 2) : tok_set(t, T_LT, i, 1);
    case '>':
        return n == '=' ? tok_set(t, T_GE, i, 2) : tok_set(t, T_GT, i, 1);
    case '&':
        if (n == '&')
            return tok_set(t, T_ANDAND, i, 2);
        return ps_expr_perr(p, PS_ERR_PARSE, i, "'&' is not an operator; use '&&' or 'and'"), false;
    case '|':
        if (n == '|')
            return tok_set(t, T_OROR, i, 2);
        return ps_expr_perr(p, PS_ERR_PARSE, i, "'|' is not an operator; use '||' or 'or'"), false;
    default:
        return lex_refused(p, i, c);
    }
}

bool ps_expr_lex(parser *p, size_t pos)
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
    if (is_ident_start(c)) {
        while (t->end < p->len && is_ident_char((unsigned char)p->s[t->end]))
            t->end++;
        t->kind = T_IDENT;
        return true;
    }
    if (is_digit(c))
        return lex_number(p, i, t);
    if (c == '\'' || c == '"' || c == '`')
        return lex_string(p, i, t);
    return lex_operator(p, t, i, c, i + 1 < p->len ? p->s[i + 1] : '\0');
}

bool ps_expr_advance(parser *p)
{
    return ps_expr_lex(p, p->tok.end);
}

bool ps_expr_tok_is(const parser *p, const char *word)
{
    size_t n = strlen(word);
    return p->tok.kind == T_IDENT && p->tok.end - p->tok.start == n &&
           memcmp(p->s + p->tok.start, word, n) == 0;
}

/* The identifier after the current token, without lexing it (for `not in`). */
bool ps_expr_next_word_is(const parser *p, const char *word)
{
    size_t i = skip_ws(p, p->tok.end), n = strlen(word);
    return i + n <= p->len && memcmp(p->s + i, word, n) == 0 &&
           (i + n == p->len || !is_ident_char((unsigned char)p->s[i + n]));
}

bool ps_expr_next_char_is(const parser *p, char c)
{
    size_t i = skip_ws(p, p->tok.end);
    return i < p->len && p->s[i] == c;
}

const char *ps_expr_tok_desc(const parser *p, char *buf, size_t len)
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
