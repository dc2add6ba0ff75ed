/* ps_expr: the condition language of pipelines, a subset of the expr language
 * (github.com/expr-lang/expr) that admins already write for the seed's product.
 *
 *   filter.routeDirection == 'outbound' && msg.header.subject[0] startsWith 'Cron'
 *   any(envelope.rcpts, lower(#) endsWith '@example.com')
 *   msg?.header?.["x-mailer"]?.[0] matches '(?i)^python'
 *
 * A condition is compiled once (at configuration load) into an immutable tree that
 * any number of threads may evaluate at the same time against a cJSON event. The
 * full reference is docs/pipelines.md; the rules that matter to callers:
 *  - A missing key reads as nil. Reading a member or an index *of* nil is an error
 *    unless written with `?.`; so is an index out of range (`?.[i]` gives nil).
 *  - nil compares false with `<`, `startsWith`, `contains`, `matches` and friends, is
 *    false in a boolean context, and passes through lower()/upper()/trim()/int().
 *  - Other type mismatches (`'5' > 3`, `5 startsWith 'x'`) are runtime errors.
 *  - `matches` takes a literal pattern (PCRE2, close to Go's RE2 syntax), compiled
 *    here so that a bad pattern is a load-time error. */
#ifndef PS_EXPR_H
#define PS_EXPR_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "ps_error.h"

/* Longest condition accepted, in bytes, and the deepest nesting. */
#define PS_EXPR_MAX_LEN   16384
#define PS_EXPR_MAX_DEPTH 64

typedef struct ps_expr ps_expr;

/* Where and why compilation failed. `offset` is the byte offset into the source of
 * the token at fault (the source length for "unexpected end"). */
typedef struct ps_expr_error {
    size_t offset;
    char msg[256];
} ps_expr_error;

/* Compiles `len` bytes of `src` (need not be NUL-terminated). On success *out is a
 * new expression owned by the caller. On failure returns PS_ERR_PARSE (syntax, bad
 * regex, unknown function), PS_ERR_RANGE (too long, too deep) or PS_ERR_NOMEM, fills
 * `err` (may be NULL) and sets *out to NULL. */
ps_err ps_expr_compile(const char *src, size_t len, ps_expr **out, ps_expr_error *err);

/* Frees an expression. Accepts NULL. */
void ps_expr_destroy(ps_expr *e);

/* The source text the expression was compiled from (borrowed, NUL-terminated). */
const char *ps_expr_source(const ps_expr *e);

/* Per-thread working memory for evaluation (strings made by lower(), regex match
 * state). Reusing one per thread keeps evaluation free of allocations in the common
 * case. Not thread-safe: one scratch, one thread at a time. */
typedef struct ps_expr_scratch ps_expr_scratch;

/* *out is new, owned by the caller. PS_ERR_NOMEM on failure. */
ps_err ps_expr_scratch_create(ps_expr_scratch **out);
/* Accepts NULL. */
void ps_expr_scratch_destroy(ps_expr_scratch *s);

/* What an expression is evaluated against. Everything is borrowed and only read. */
typedef struct ps_expr_env {
    const cJSON *root;        /* the event: bare names (`filter`, `msg`) are its keys */
    const cJSON *meta;        /* the `_ingest` object, or NULL (then `_ingest` is nil) */
    ps_expr_scratch *scratch; /* NULL: a temporary one is made for this call */
} ps_expr_env;

/* Evaluates `e` as a condition. On PS_OK *out is the result (nil counts as false).
 * Runtime errors (a member of nil, a type mismatch, a non-boolean result, a regex
 * that backtracks too much) return PS_ERR_INVALID with the reason in `em`, naming
 * the sub-expression (e.g. "filter is nil; cannot read routeDirection (write
 * filter?.routeDirection to allow a missing value)"). PS_ERR_NOMEM on allocation
 * failure. */
ps_err ps_expr_eval_bool(const ps_expr *e, const ps_expr_env *env, bool *out, ps_errmsg *em);

/* Evaluates `e` and returns its value as a new cJSON tree in *out (caller deletes;
 * nil becomes a JSON null). For tools and tests. Errors as ps_expr_eval_bool. */
ps_err ps_expr_eval_json(const ps_expr *e, const ps_expr_env *env, cJSON **out, ps_errmsg *em);

/* Formats a number the way conditions and templates show it: integers without a
 * fraction ("42"), others in the shortest form that reads back exactly ("0.1").
 * Writes at most len bytes including the NUL; 32 bytes always suffice. */
void ps_expr_format_number(double n, char *buf, size_t len);

#endif
