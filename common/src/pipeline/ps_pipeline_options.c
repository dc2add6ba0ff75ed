/* Compiling options: located diagnostics, the typed option values (text, booleans,
 * field paths, conditions), and the checks a processor's ps_schema table drives. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/ps_pipeline_internal.h"
#include "podstream/ps_utf8.h"

void pl_cerr(cctx *c, const ps_yaml_node *n, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ps_diag_addv(c->diag, PS_DIAG_ERROR, c->file, n ? n->line : 0, n ? n->col : 0, path, fmt, ap);
    va_end(ap);
}

void pl_cwarn(cctx *c, const ps_yaml_node *n, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ps_diag_addv(c->diag, PS_DIAG_WARNING, c->file, n ? n->line : 0, n ? n->col : 0, path, fmt, ap);
    va_end(ap);
}

/* Reports a problem at byte `off` inside scalar `n` (a condition, a path, a template).
 * The column is exact for one-line scalars; a multi-line one is reported at its
 * start with the character offset in the message. */
void pl_cerr_in(cctx *c, const ps_yaml_node *n, size_t off, const char *path, const char *what,
                const char *msg)
{
    size_t chars = ps_utf8_count(n->value, off < n->len ? off : n->len);
    if (memchr(n->value, '\n', n->len))
        ps_diag_add(c->diag, PS_DIAG_ERROR, c->file, n->line, n->col, path,
                    "%s: %s (at character %zu)", what, msg, chars + 1);
    else
        ps_diag_add(c->diag, PS_DIAG_ERROR, c->file, n->line,
                    n->col + (n->plain ? 0 : 1) + (int)chars, path, "%s: %s", what, msg);
}

void pl_pjoin(char *dst, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, len, fmt, ap);
    va_end(ap);
}

void pl_join_words(char *buf, size_t len, const char *const *a, const char *const *b)
{
    const char *const *lists[2] = {a, b};
    size_t o = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < 2; k++) {
        const char *const *list = lists[k];
        for (size_t i = 0; list && list[i]; i++) {
            int w = snprintf(buf + o, len - o, "%s%s", o ? ", " : "", list[i]);
            if (w < 0 || (size_t)w >= len - o)
                return;
            o += (size_t)w;
        }
    }
}

char *pl_dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

bool pl_oom(cctx *c, const ps_yaml_node *n, const char *path)
{
    pl_cerr(c, n, path, "out of memory");
    return false;
}

/* A scalar option as text. */
bool pl_opt_text(cctx *c, const ps_yaml_node *n, const char *path, const char **out)
{
    if (n->kind != PS_YAML_SCALAR || ps_yaml_is_null(n)) {
        pl_cerr(c, n, path, "expected a string, found %s", ps_yaml_describe(n));
        return false;
    }
    *out = n->value;
    return true;
}

bool pl_opt_bool(cctx *c, const ps_yaml_node *n, const char *path, bool *out)
{
    if (ps_yaml_to_bool(n, out) != PS_OK) {
        pl_cerr(c, n, path, "expected true or false, found %s", ps_yaml_describe(n));
        return false;
    }
    return true;
}

bool pl_opt_path(cctx *c, const ps_yaml_node *n, const char *path, bool writable, fpath *out)
{
    const char *s;
    size_t off;
    char msg[160];
    if (!pl_opt_text(c, n, path, &s))
        return false;
    if (!pl_fpath_parse(s, n->len, out, &off, msg, sizeof msg)) {
        pl_cerr_in(c, n, off, path, "invalid field path", msg);
        return false;
    }
    if (writable && out->meta) {
        pl_cerr(c, n, path, "_ingest fields are read-only");
        pl_fpath_free(out);
        return false;
    }
    return true;
}

bool pl_opt_cond(cctx *c, const ps_yaml_node *n, const char *path, ps_expr **out)
{
    const char *s;
    ps_expr_error err;
    ps_err rc;
    if (!pl_opt_text(c, n, path, &s))
        return false;
    rc = ps_expr_compile(s, n->len, out, &err);
    if (rc == PS_ERR_NOMEM)
        return pl_oom(c, n, path);
    if (rc != PS_OK) {
        pl_cerr_in(c, n, err.offset, path, "invalid condition", err.msg);
        return false;
    }
    return true;
}

static bool one_of(cctx *c, const ps_yaml_node *n, const char *path, const char *const *words,
                   int *out)
{
    const char *s;
    char list[160];
    if (!pl_opt_text(c, n, path, &s))
        return false;
    for (int i = 0; words[i]; i++) {
        if (strcmp(s, words[i]) == 0) {
            *out = i;
            return true;
        }
    }
    pl_join_words(list, sizeof list, words, NULL);
    pl_cerr(c, n, path, "unknown value \"%.60s\"; expected one of: %s", s, list);
    return false;
}

bool pl_opt_fields(cctx *c, const ps_yaml_node *n, const char *path, fpath **fields, size_t *nf)
{
    char sub[PL_DPATH];
    size_t count = n->kind == PS_YAML_SEQ ? n->count : 1;
    if (n->kind == PS_YAML_SEQ && n->count == 0) {
        pl_cerr(c, n, path, "expected a field path or a list of them, found an empty list");
        return false;
    }
    if (!(*fields = calloc(count, sizeof **fields)))
        return pl_oom(c, n, path);
    for (size_t i = 0; i < count; i++) {
        const ps_yaml_node *item = n->kind == PS_YAML_SEQ ? n->items[i] : n;
        if (n->kind == PS_YAML_SEQ)
            pl_pjoin(sub, sizeof sub, "%s[%zu]", path, i);
        else
            pl_pjoin(sub, sizeof sub, "%s", path);
        if (!pl_opt_path(c, item, sub, true, &(*fields)[i]))
            return false;
        *nf = i + 1;
    }
    return true;
}

const ps_yaml_node *pl_opt(const pl_opts *o, const char *name, char *sub, size_t sublen)
{
    pl_pjoin(sub, sublen, "%s.%s", o->ppath, name);
    return ps_yaml_map_get(o->m, name);
}

bool pl_opt_bad(const pl_opts *o, const ps_schema_table *t, const char *name)
{
    for (size_t i = 0; i < t->count && i < sizeof o->bad * 8; i++)
        if (strcmp(t->fields[i].name, name) == 0)
            return (o->bad >> i) & 1u;
    return false;
}

static bool opt_int(cctx *c, const ps_schema_field *f, const ps_yaml_node *n, const char *path,
                    long long *out)
{
    if (ps_yaml_to_int(n, out) != PS_OK || (f->has_min && *out < f->min) ||
        (f->has_max && *out > f->max)) {
        if (f->has_min && f->has_max)
            pl_cerr(c, n, path, "expected a whole number from %lld to %lld", f->min, f->max);
        else
            pl_cerr(c, n, path, "expected a whole number, found %s", ps_yaml_describe(n));
        return false;
    }
    return true;
}

static int enum_index(const char *const *words, const char *s)
{
    for (int i = 0; s && words[i]; i++)
        if (strcmp(s, words[i]) == 0)
            return i;
    return 0;
}

/* Stores the default of a typed field, then the value of `n` when there is one. */
static bool typed_field(cctx *c, const ps_schema_field *f, const ps_yaml_node *n, const char *path,
                        char *target)
{
    long long iv;
    int ev;
    switch (f->type) {
    case PS_SCHEMA_BOOL: {
        bool *b = (bool *)(target + f->offset);
        *b = f->def && strcmp(f->def, "true") == 0;
        return !n || pl_opt_bool(c, n, path, b);
    }
    case PS_SCHEMA_INT:
        iv = f->def ? strtoll(f->def, NULL, 10) : 0;
        if (n && !opt_int(c, f, n, path, &iv))
            return false;
        if (f->size == sizeof(int))
            *(int *)(target + f->offset) = (int)iv;
        else
            *(long long *)(target + f->offset) = iv;
        return true;
    case PS_SCHEMA_ENUM:
        ev = enum_index(f->enum_values, f->def);
        if (n && !one_of(c, n, path, f->enum_values, &ev))
            return false;
        *(int *)(target + f->offset) = ev;
        return true;
    default: /* compiled by the processor */
        return true;
    }
}

bool pl_opts_typed(cctx *c, const ps_schema_table *t, const ps_yaml_node *m, const char *ppath,
                   const char *gate, void *target, unsigned long *bad)
{
    char sub[PL_DPATH];
    bool ok = true;
    for (size_t pass = gate ? 0 : 1; pass < 2; pass++) {
        for (size_t i = 0; i < t->count; i++) {
            const ps_schema_field *f = &t->fields[i];
            bool is_gate = gate && strcmp(f->name, gate) == 0;
            if (pass == 0 ? !is_gate : is_gate)
                continue;
            pl_pjoin(sub, sizeof sub, "%s.%s", ppath, f->name);
            if (typed_field(c, f, ps_yaml_map_get(m, f->name), sub, target))
                continue;
            ok = false;
            if (i < sizeof *bad * 8)
                *bad |= 1ul << i;
            if (is_gate)
                return false;
        }
    }
    return ok;
}
