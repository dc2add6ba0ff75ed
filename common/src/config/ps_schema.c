/* ps_schema engine: parses a YAML mapping against a table, fills defaults, frees and
 * compares the structs (see ps_schema.h). The tables themselves are in
 * ps_schema_tables.c, value syntax (sizes, durations, URLs) in ps_schema_values.c. */
#include "podstream/ps_schema.h"
#include "podstream/ps_time.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_config.h"
#include "podstream/ps_platform.h"
#include "podstream/ps_suggest.h"

/* No table has more fields than this; parse keeps a seen-flag per field. */
#define MAX_FIELDS   64
#define PATH_MAX_LEN 512

/* ---- small helpers -------------------------------------------------------- */

const ps_schema_field *ps_schema_find(const ps_schema_table *t, const char *name)
{
    for (size_t i = 0; i < t->count; i++)
        if (strcmp(t->fields[i].name, name) == 0)
            return &t->fields[i];
    return NULL;
}

const char *ps_schema_type_name(ps_schema_type type)
{
    switch (type) {
    case PS_SCHEMA_INT:
        return "integer";
    case PS_SCHEMA_BOOL:
        return "boolean";
    case PS_SCHEMA_STRING:
        return "string";
    case PS_SCHEMA_STRLIST:
        return "list of strings";
    case PS_SCHEMA_ENUM:
        return "enum";
    case PS_SCHEMA_OBJECT:
        return "mapping";
    case PS_SCHEMA_PATH:
        return "path";
    case PS_SCHEMA_SIZE:
        return "size";
    case PS_SCHEMA_DURATION:
        return "duration";
    }
    return "?";
}

/* What the message says was expected: "expected <this>, got ...". */
static const char *expected_text(ps_schema_type type)
{
    switch (type) {
    case PS_SCHEMA_INT:
        return "a number";
    case PS_SCHEMA_BOOL:
        return "true or false";
    case PS_SCHEMA_STRING:
    case PS_SCHEMA_ENUM:
        return "a string";
    case PS_SCHEMA_PATH:
        return "a path";
    case PS_SCHEMA_STRLIST:
        return "a list of strings";
    case PS_SCHEMA_OBJECT:
        return "a mapping";
    case PS_SCHEMA_SIZE:
        return "a size such as 64MiB";
    case PS_SCHEMA_DURATION:
        return "a duration such as 30s";
    }
    return "?";
}

const char *ps_schema_describe(const ps_yaml_node *n)
{
    const char *d = ps_yaml_describe(n);
    if (strcmp(d, "null") == 0)
        return "an empty value";
    if (strcmp(d, "string") == 0)
        return "a string";
    if (strcmp(d, "number") == 0)
        return "a number";
    if (strcmp(d, "boolean") == 0)
        return "a boolean";
    if (strcmp(d, "list") == 0)
        return "a list";
    if (strcmp(d, "mapping") == 0)
        return "a mapping";
    return d;
}

static void *at(void *base, size_t off)
{
    return (char *)base + off;
}

static const void *cat(const void *base, size_t off)
{
    return (const char *)base + off;
}

/* ---- did-you-mean --------------------------------------------------------- */

static const char *suggest_field(const ps_schema_table *t, const char *word)
{
    const char *names[MAX_FIELDS + 1];
    size_t n = 0;
    for (size_t i = 0; i < t->count && n < MAX_FIELDS; i++)
        names[n++] = t->fields[i].name;
    names[n] = NULL;
    return ps_suggest(word, names);
}

/* ---- the parser ----------------------------------------------------------- */

typedef struct walk {
    ps_schema_ctx *ctx;
    ps_err err; /* PS_ERR_NOMEM once an allocation failed */
    bool bad;   /* an error was reported */
} walk;

static void report(walk *w, int line, int col, const char *path, const char *fmt, ...)
    PS_PRINTF(5, 6);

static void report(walk *w, int line, int col, const char *path, const char *fmt, ...)
{
    va_list ap;
    w->bad = true;
    va_start(ap, fmt);
    ps_diag_addv(w->ctx->diag, PS_DIAG_ERROR, w->ctx->file, line, col, path, fmt, ap);
    va_end(ap);
}

static void nomem(walk *w)
{
    if (w->err == PS_OK) {
        w->err = PS_ERR_NOMEM;
        ps_diag_add(w->ctx->diag, PS_DIAG_ERROR, w->ctx->file, 0, 0, NULL,
                    "out of memory while reading the configuration");
    }
    w->bad = true;
}

static void child_path(char *buf, size_t len, const char *path, const char *key)
{
    if (path && *path)
        snprintf(buf, len, "%s.%.200s", path, key);
    else
        snprintf(buf, len, "%.200s", key);
}

static void store_pos(walk *w, const ps_schema_field *f, void *base, const ps_yaml_node *v)
{
    if (f->flags & PS_SCHEMA_F_POS) {
        ps_config_pos *p = at(base, f->pos_offset);
        p->file = w->ctx->file;
        p->line = v->line;
        p->col = v->col;
    }
}

static void store_int(const ps_schema_field *f, void *base, long long v)
{
    if (f->size == sizeof(int)) {
        int i = (int)v;
        memcpy(at(base, f->offset), &i, sizeof i);
    } else {
        memcpy(at(base, f->offset), &v, sizeof v);
    }
}

static long long load_int(const ps_schema_field *f, const void *base)
{
    if (f->size == sizeof(int)) {
        int i;
        memcpy(&i, cat(base, f->offset), sizeof i);
        return i;
    }
    long long v;
    memcpy(&v, cat(base, f->offset), sizeof v);
    return v;
}

static void free_string(const ps_schema_field *f, char **slot)
{
    if (*slot && (f->flags & PS_SCHEMA_F_SECRET))
        ps_plat_wipe(*slot, strlen(*slot));
    free(*slot);
    *slot = NULL;
}

static void store_string(walk *w, const ps_schema_field *f, void *base, const char *s)
{
    char **slot = at(base, f->offset);
    char *copy = strdup(s);
    if (!copy) {
        nomem(w);
        return;
    }
    free_string(f, slot);
    *slot = copy;
}

static bool in_bounds(const ps_schema_field *f, long long v)
{
    return !((f->has_min && v < f->min) || (f->has_max && v > f->max));
}

/* A scalar that is not null, or a type error. */
static bool want_scalar(walk *w, const ps_schema_field *f, const ps_yaml_node *v, const char *path)
{
    if (v->kind != PS_YAML_SCALAR || ps_yaml_is_null(v)) {
        report(w, v->line, v->col, path, "expected %s, got %s", expected_text(f->type),
               ps_schema_describe(v));
        return false;
    }
    if (strlen(v->value) != v->len) {
        report(w, v->line, v->col, path, "contains a NUL character");
        return false;
    }
    return true;
}

static void out_of_range(walk *w, const ps_schema_field *f, const ps_yaml_node *v, const char *path)
{
    char b[64];
    ps_schema_format_bounds(f, b, sizeof b);
    report(w, v->line, v->col, path, "%.64s is out of range (%s)", v->value, *b ? b : "too large");
}

/* 1e9, 2.0: a whole number, but written the way floats are. Whether it fits or not,
 * what helps is the range ("must be a whole number from 1 to 64"), not "1e9 is not a
 * whole number", which is wrong. Doubles from 2^53 up have no fraction. */
static bool whole_in_float_syntax(const ps_yaml_node *v)
{
    double d;
    if (ps_yaml_to_double(v, &d) != PS_OK)
        return false;
    return d >= 9e15 || d <= -9e15 || d == (double)(long long)d;
}

/* "a whole number from 1 to 64", or with the one bound the field has. */
static void whole_number_text(const ps_schema_field *f, char *buf, size_t len)
{
    if (f->has_min && f->has_max)
        snprintf(buf, len, "a whole number from %lld to %lld", f->min, f->max);
    else if (f->has_min)
        snprintf(buf, len, "a whole number of at least %lld", f->min);
    else if (f->has_max)
        snprintf(buf, len, "a whole number of at most %lld", f->max);
    else
        snprintf(buf, len, "a whole number");
}

static void parse_int(walk *w, const ps_schema_field *f, const ps_yaml_node *v, void *base,
                      const char *path)
{
    long long n = 0;
    ps_err e;
    if (!want_scalar(w, f, v, path))
        return;
    e = ps_yaml_to_int(v, &n);
    if (e == PS_ERR_RANGE || (e == PS_OK && !in_bounds(f, n))) {
        out_of_range(w, f, v, path);
        return;
    }
    if (e != PS_OK) {
        char range[96];
        if (whole_in_float_syntax(v)) {
            whole_number_text(f, range, sizeof range);
            report(w, v->line, v->col, path, "%.64s must be %s", v->value, range);
        } else if (v->plain && strcmp(ps_yaml_describe(v), "number") == 0)
            report(w, v->line, v->col, path, "%.64s is not a whole number", v->value);
        else
            report(w, v->line, v->col, path, "expected a number, got %s", ps_schema_describe(v));
        return;
    }
    store_int(f, base, n);
}

static void parse_bool(walk *w, const ps_schema_field *f, const ps_yaml_node *v, void *base,
                       const char *path)
{
    bool b;
    if (!want_scalar(w, f, v, path))
        return;
    if (ps_yaml_to_bool(v, &b) != PS_OK) {
        report(w, v->line, v->col, path, "expected true or false, got %s", ps_schema_describe(v));
        return;
    }
    memcpy(at(base, f->offset), &b, sizeof b);
}

static void parse_string(walk *w, const ps_schema_field *f, const ps_yaml_node *v, void *base,
                         const char *path)
{
    char why[256];
    if (!want_scalar(w, f, v, path))
        return;
    if (v->len == 0 && (f->type == PS_SCHEMA_PATH || (f->flags & PS_SCHEMA_F_NONEMPTY))) {
        report(w, v->line, v->col, path, "must not be empty");
        return;
    }
    if (f->check && !f->check(v->value, why, sizeof why)) {
        report(w, v->line, v->col, path, "%s", why);
        return;
    }
    if (f->type == PS_SCHEMA_PATH) {
        char *abs;
        if (v->value[0] == '~') {
            report(w, v->line, v->col, path, "a leading ~ is not expanded; write the full path");
            return;
        }
        abs =
            w->ctx->config_dir ? ps_plat_path_join(w->ctx->config_dir, v->value) : strdup(v->value);
        if (!abs) {
            nomem(w);
            return;
        }
        free_string(f, at(base, f->offset));
        *(char **)at(base, f->offset) = abs;
    } else {
        store_string(w, f, base, v->value);
    }
    store_pos(w, f, base, v);
}

static void enum_list(const ps_schema_field *f, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; f->enum_values[i] && used < len; i++) {
        int n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", f->enum_values[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

static void parse_enum(walk *w, const ps_schema_field *f, const ps_yaml_node *v, void *base,
                       const char *path)
{
    char list[256];
    const char *guess;
    if (!want_scalar(w, f, v, path))
        return;
    const char *want = v->value;
    for (int a = 0; f->enum_aliases && f->enum_aliases[a]; a += 2)
        if (strcmp(want, f->enum_aliases[a]) == 0)
            want = f->enum_aliases[a + 1];
    for (int i = 0; f->enum_values[i]; i++) {
        if (strcmp(want, f->enum_values[i]) == 0) {
            if (f->flags & PS_SCHEMA_F_ENUM_STRING)
                store_string(w, f, base, f->enum_values[i]);
            else
                memcpy(at(base, f->offset), &i, sizeof i);
            return;
        }
    }
    enum_list(f, list, sizeof list);
    guess = ps_suggest(v->value, f->enum_values);
    if (guess)
        report(w, v->line, v->col, path, "\"%.64s\" must be %s%s (did you mean \"%s\"?)", v->value,
               f->enum_values[1] ? "one of " : "", list, guess);
    else
        report(w, v->line, v->col, path, "\"%.64s\" must be %s%s", v->value,
               f->enum_values[1] ? "one of " : "", list);
}

/* Sizes and durations: text with a unit, read by `parse_text`, then bounded. `hint` says
 * how to write one when the text is not one. Both are stored as 64-bit integers. */
static void parse_with_unit(walk *w, const ps_schema_field *f, const ps_yaml_node *v, void *base,
                            const char *path, ps_err (*parse_text)(const char *, int64_t *),
                            const char *hint)
{
    int64_t n = 0;
    ps_err e;
    if (!want_scalar(w, f, v, path))
        return;
    e = parse_text(v->value, &n);
    if (e == PS_ERR_INVALID) {
        report(w, v->line, v->col, path, "\"%.64s\" is not %s", v->value, hint);
        return;
    }
    if (e == PS_ERR_RANGE || !in_bounds(f, n)) {
        out_of_range(w, f, v, path);
        return;
    }
    memcpy(at(base, f->offset), &n, sizeof n);
}

static ps_err read_size(const char *text, int64_t *out)
{
    uint64_t n = 0;
    ps_err e = ps_schema_parse_size(text, &n);
    if (e == PS_OK && n > (uint64_t)INT64_MAX)
        e = PS_ERR_RANGE;
    *out = (int64_t)n;
    return e;
}

static void parse_size(walk *w, const ps_schema_field *f, const ps_yaml_node *v, void *base,
                       const char *path)
{
    parse_with_unit(w, f, v, base, path, read_size,
                    "a size; write a whole number with an optional unit "
                    "(B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)");
}

static void parse_duration(walk *w, const ps_schema_field *f, const ps_yaml_node *v, void *base,
                           const char *path)
{
    parse_with_unit(w, f, v, base, path, ps_time_parse_duration,
                    "a duration; write a whole number with a unit (ms, s, m, h, d, w), "
                    "e.g. 30s, 5m or 1h30m");
}

static void parse_strlist(walk *w, const ps_schema_field *f, const ps_yaml_node *v, void *base,
                          const char *path)
{
    char **items = NULL;
    ps_config_pos *pos = NULL;
    size_t n = 0;

    if (v->kind != PS_YAML_SEQ) {
        report(w, v->line, v->col, path, "expected a list of strings, got %s",
               ps_schema_describe(v));
        return;
    }
    if (v->count) {
        items = calloc(v->count, sizeof *items);
        if (f->flags & PS_SCHEMA_F_ITEMS_POS)
            pos = calloc(v->count, sizeof *pos);
        if (!items || ((f->flags & PS_SCHEMA_F_ITEMS_POS) && !pos)) {
            free(items);
            free(pos);
            nomem(w);
            return;
        }
    }
    for (size_t i = 0; i < v->count; i++) {
        const ps_yaml_node *it = v->items[i];
        char ipath[PATH_MAX_LEN];
        snprintf(ipath, sizeof ipath, "%s[%zu]", path, i);
        if (it->kind != PS_YAML_SCALAR || ps_yaml_is_null(it)) {
            report(w, it->line, it->col, ipath, "expected a string, got %s",
                   ps_schema_describe(it));
            continue;
        }
        if (strlen(it->value) != it->len) {
            report(w, it->line, it->col, ipath, "contains a NUL character");
            continue;
        }
        if (it->len == 0 && (f->flags & PS_SCHEMA_F_NONEMPTY)) {
            report(w, it->line, it->col, ipath, "must not be empty");
            continue;
        }
        items[n] = strdup(it->value);
        if (!items[n]) {
            nomem(w);
            break;
        }
        if (pos)
            pos[n] = (ps_config_pos){w->ctx->file, it->line, it->col};
        n++;
    }
    /* Keep only what parsed; the count always matches the arrays. */
    *(char ***)at(base, f->offset) = items;
    memcpy(at(base, f->count_offset), &n, sizeof n);
    if (f->flags & PS_SCHEMA_F_ITEMS_POS)
        *(ps_config_pos **)at(base, f->items_pos_offset) = pos;
    else
        free(pos);
}

static void parse_map(walk *w, const ps_schema_table *t, const ps_schema_table *parent,
                      const ps_yaml_node *map, void *base, const char *path, bool defaults_only);

static void parse_field(walk *w, const ps_schema_table *t, const ps_schema_field *f,
                        const ps_yaml_node *v, void *base, const char *path)
{
    switch (f->type) {
    case PS_SCHEMA_INT:
        parse_int(w, f, v, base, path);
        break;
    case PS_SCHEMA_BOOL:
        parse_bool(w, f, v, base, path);
        break;
    case PS_SCHEMA_STRING:
    case PS_SCHEMA_PATH:
        parse_string(w, f, v, base, path);
        break;
    case PS_SCHEMA_ENUM:
        parse_enum(w, f, v, base, path);
        break;
    case PS_SCHEMA_SIZE:
        parse_size(w, f, v, base, path);
        break;
    case PS_SCHEMA_DURATION:
        parse_duration(w, f, v, base, path);
        break;
    case PS_SCHEMA_STRLIST:
        parse_strlist(w, f, v, base, path);
        break;
    case PS_SCHEMA_OBJECT:
        parse_map(w, f->object, t, v, at(base, f->offset), path, false);
        break;
    }
}

static void apply_default(walk *w, const ps_schema_table *t, const ps_schema_field *f, void *base,
                          const char *path)
{
    ps_yaml_node n;
    if (f->type == PS_SCHEMA_OBJECT) {
        parse_map(w, f->object, t, NULL, at(base, f->offset), path, true);
        return;
    }
    if (!f->def)
        return;
    if (f->type == PS_SCHEMA_PATH) {
        const char *dir =
            (f->flags & PS_SCHEMA_F_STATE_DEFAULT) ? w->ctx->state_dir : w->ctx->config_dir;
        char *abs = dir ? ps_plat_path_join(dir, f->def) : strdup(f->def);
        if (!abs) {
            nomem(w);
            return;
        }
        free_string(f, at(base, f->offset));
        *(char **)at(base, f->offset) = abs;
        return;
    }
    /* Defaults are written as YAML so that they go through the same checks as
     * values from a file (a unit test parses every one of them). */
    memset(&n, 0, sizeof n);
    n.kind = PS_YAML_SCALAR;
    n.plain = true;
    n.value = f->def;
    n.len = strlen(f->def);
    parse_field(w, t, f, &n, base, path);
}

/* Reports an unknown key. Returns the field it is probably a misspelling of, so
 * that the field is not also reported missing. */
static const ps_schema_field *unknown_key(walk *w, const ps_schema_table *t,
                                          const ps_schema_table *parent, const ps_yaml_node *k,
                                          const char *path)
{
    char kpath[PATH_MAX_LEN];
    const char *guess = suggest_field(t, k->value);
    const char *hint = t->unknown_hint ? t->unknown_hint(k->value) : NULL;

    child_path(kpath, sizeof kpath, path, k->value);
    if (guess) {
        report(w, k->line, k->col, kpath, "unknown key \"%.200s\" (did you mean \"%s\"?)", k->value,
               guess);
        return ps_schema_find(t, guess);
    }
    if (hint) {
        report(w, k->line, k->col, kpath, "unknown key \"%.200s\" (%s)", k->value, hint);
        return NULL;
    }
    /* A key written at the wrong level is the other common mistake. */
    for (size_t i = 0; i < t->count; i++) {
        const ps_schema_field *f = &t->fields[i];
        if (f->type == PS_SCHEMA_OBJECT && ps_schema_find(f->object, k->value)) {
            report(w, k->line, k->col, kpath, "unknown key \"%.200s\" (it belongs under \"%s\")",
                   k->value, f->name);
            return NULL;
        }
    }
    if (parent && ps_schema_find(parent, k->value)) {
        report(w, k->line, k->col, kpath,
               "unknown key \"%.200s\" (it belongs one level up, beside \"%s\")", k->value,
               t->name);
        return NULL;
    }
    report(w, k->line, k->col, kpath, "unknown key \"%.200s\"", k->value);
    return NULL;
}

static void parse_map(walk *w, const ps_schema_table *t, const ps_schema_table *parent,
                      const ps_yaml_node *map, void *base, const char *path, bool defaults_only)
{
    bool seen[MAX_FIELDS] = {false};
    bool misspelt[MAX_FIELDS] = {false};

    if (!map) {
        defaults_only = true;
    } else if (!defaults_only && map->kind != PS_YAML_MAP) {
        report(w, map->line, map->col, path, "expected a mapping, got %s", ps_schema_describe(map));
        defaults_only = true;
    }
    if (!defaults_only) {
        for (size_t i = 0; i < map->count; i++) {
            const ps_yaml_node *k = map->keys[i], *v = map->items[i];
            const ps_schema_field *f = ps_schema_find(t, k->value);
            char fpath[PATH_MAX_LEN];
            if (!f) {
                const ps_schema_field *meant = unknown_key(w, t, parent, k, path);
                if (meant)
                    misspelt[meant - t->fields] = true;
                continue;
            }
            child_path(fpath, sizeof fpath, path, f->name);
            /* An empty value means "not set" for optional fields, so that
             * `description:` left blank in a template is fine. */
            if (ps_yaml_is_null(v) && !f->required)
                continue;
            seen[f - t->fields] = true;
            if (ps_yaml_is_null(v)) {
                report(w, v->line, v->col, fpath, "expected %s, got an empty value",
                       expected_text(f->type));
                if (f->type == PS_SCHEMA_OBJECT)
                    apply_default(w, t, f, base, fpath);
                continue;
            }
            parse_field(w, t, f, v, base, fpath);
        }
    }
    for (size_t i = 0; i < t->count; i++) {
        const ps_schema_field *f = &t->fields[i];
        char fpath[PATH_MAX_LEN];
        if (seen[i])
            continue;
        child_path(fpath, sizeof fpath, path, f->name);
        if (f->required && !defaults_only && !misspelt[i])
            report(w, map->line, map->col, path && *path ? path : NULL,
                   "missing required field \"%s\"", f->name);
        apply_default(w, t, f, base, fpath);
    }
}

static ps_err finish(const walk *w)
{
    if (w->err != PS_OK)
        return w->err;
    return w->bad ? PS_ERR_INVALID : PS_OK;
}

ps_err ps_schema_parse(const ps_schema_table *t, const ps_yaml_node *map, void *target,
                       const char *path, ps_schema_ctx *ctx)
{
    walk w = {ctx, PS_OK, false};
    if (!map) {
        /* An empty document: the same as an empty mapping. */
        ps_yaml_node empty;
        memset(&empty, 0, sizeof empty);
        empty.kind = PS_YAML_MAP;
        empty.line = 1;
        empty.col = 1;
        parse_map(&w, t, NULL, &empty, target, path, false);
    } else {
        parse_map(&w, t, NULL, map, target, path, false);
    }
    return finish(&w);
}

ps_err ps_schema_defaults(const ps_schema_table *t, void *target, ps_schema_ctx *ctx)
{
    walk w = {ctx, PS_OK, false};
    parse_map(&w, t, NULL, NULL, target, "", true);
    return finish(&w);
}

/* ---- free and compare ----------------------------------------------------- */

void ps_schema_free(const ps_schema_table *t, void *target)
{
    if (!target)
        return;
    for (size_t i = 0; i < t->count; i++) {
        const ps_schema_field *f = &t->fields[i];
        switch (f->type) {
        case PS_SCHEMA_STRING:
        case PS_SCHEMA_PATH:
            free_string(f, at(target, f->offset));
            break;
        case PS_SCHEMA_ENUM:
            if (f->flags & PS_SCHEMA_F_ENUM_STRING)
                free_string(f, at(target, f->offset));
            break;
        case PS_SCHEMA_STRLIST: {
            char ***items = at(target, f->offset);
            size_t n;
            memcpy(&n, cat(target, f->count_offset), sizeof n);
            for (size_t j = 0; *items && j < n; j++)
                free((*items)[j]);
            free(*items);
            *items = NULL;
            n = 0;
            memcpy(at(target, f->count_offset), &n, sizeof n);
            if (f->flags & PS_SCHEMA_F_ITEMS_POS) {
                ps_config_pos **pos = at(target, f->items_pos_offset);
                free(*pos);
                *pos = NULL;
            }
            break;
        }
        case PS_SCHEMA_OBJECT:
            ps_schema_free(f->object, at(target, f->offset));
            break;
        default:
            break;
        }
    }
}

static bool str_eq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

bool ps_schema_equal(const ps_schema_table *t, const void *a, const void *b)
{
    for (size_t i = 0; i < t->count; i++) {
        const ps_schema_field *f = &t->fields[i];
        const void *pa = cat(a, f->offset), *pb = cat(b, f->offset);
        switch (f->type) {
        case PS_SCHEMA_INT:
            if (load_int(f, a) != load_int(f, b))
                return false;
            break;
        case PS_SCHEMA_ENUM:
            if (f->flags & PS_SCHEMA_F_ENUM_STRING) {
                if (!str_eq(*(char *const *)pa, *(char *const *)pb))
                    return false;
            } else if (memcmp(pa, pb, sizeof(int)) != 0) {
                return false;
            }
            break;
        case PS_SCHEMA_BOOL:
            if (*(const bool *)pa != *(const bool *)pb)
                return false;
            break;
        case PS_SCHEMA_SIZE:
        case PS_SCHEMA_DURATION:
            if (memcmp(pa, pb, f->size) != 0)
                return false;
            break;
        case PS_SCHEMA_STRING:
        case PS_SCHEMA_PATH:
            if (!str_eq(*(char *const *)pa, *(char *const *)pb))
                return false;
            break;
        case PS_SCHEMA_STRLIST: {
            size_t na, nb;
            char *const *la = *(char **const *)pa, *const *lb = *(char **const *)pb;
            memcpy(&na, cat(a, f->count_offset), sizeof na);
            memcpy(&nb, cat(b, f->count_offset), sizeof nb);
            if (na != nb)
                return false;
            for (size_t j = 0; j < na; j++)
                if (!str_eq(la[j], lb[j]))
                    return false;
            break;
        }
        case PS_SCHEMA_OBJECT:
            if (!ps_schema_equal(f->object, pa, pb))
                return false;
            break;
        }
    }
    return true;
}
