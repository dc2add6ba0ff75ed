/* The device form: fields from the schema table, values as written, validation by
 * the shared loader on a patched copy of the device's file. */
#include "ps_gui_form.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_config.h"
#include "podstream/ps_loader.h"
#include "podstream/ps_mem.h"
#include "podstream/ps_platform.h"

static size_t count_fields(const ps_schema_table *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->count; i++)
        n += t->fields[i].type == PS_SCHEMA_OBJECT ? count_fields(t->fields[i].object) : 1;
    return n;
}

static void add_fields(ps_gui_form *f, const ps_schema_table *t, const char *prefix)
{
    for (size_t i = 0; i < t->count; i++) {
        const ps_schema_field *sf = &t->fields[i];
        if (sf->type == PS_SCHEMA_OBJECT) {
            char p[64];
            snprintf(p, sizeof p, "%s%s.", prefix, sf->name);
            add_fields(f, sf->object, p);
            continue;
        }
        f->v[f->n].f = sf;
        snprintf(f->v[f->n].path, sizeof f->v[f->n].path, "%s%s", prefix, sf->name);
        f->n++;
    }
}

ps_err ps_gui_form_create(ps_gui_form **out)
{
    const ps_schema_table *t = ps_schema_device();
    ps_gui_form *f = calloc(1, sizeof *f);
    *out = NULL;
    if (!f || !(f->v = calloc(count_fields(t) + 1, sizeof *f->v))) {
        free(f);
        return PS_ERR_NOMEM;
    }
    add_fields(f, t, "");
    *out = f;
    return PS_OK;
}

void ps_gui_form_clear_problems(ps_gui_form *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->v[i].error);
        free(f->v[i].warning);
        f->v[i].error = f->v[i].warning = NULL;
    }
    for (size_t i = 0; i < f->ngeneral; i++)
        free(f->general[i]);
    free(f->general);
    f->general = NULL;
    f->ngeneral = 0;
    f->errors = f->warnings = 0;
}

void ps_gui_form_destroy(ps_gui_form *f)
{
    if (!f)
        return;
    ps_gui_form_clear_problems(f);
    for (size_t i = 0; i < f->n; i++)
        free(f->v[i].value);
    free(f->v);
    free(f);
}

ps_err ps_gui_form_clone(const ps_gui_form *f, ps_gui_form **out)
{
    ps_gui_form *c = NULL;
    ps_err err = ps_gui_form_create(&c);
    for (size_t i = 0; err == PS_OK && i < f->n; i++) {
        c->v[i].plain = f->v[i].plain;
        if (f->v[i].value && !(c->v[i].value = strdup(f->v[i].value)))
            err = PS_ERR_NOMEM;
    }
    if (err != PS_OK) {
        ps_gui_form_destroy(c);
        c = NULL;
    }
    *out = c;
    return err;
}

ps_err ps_gui_form_follow(ps_gui_form *f, const ps_gui_form *before, const ps_gui_form *after,
                          size_t *changed)
{
    size_t n = 0;
    for (size_t i = 0; i < f->n && i < before->n && i < after->n; i++) {
        const ps_gui_form_field *b = &before->v[i], *a = &after->v[i];
        char *v = NULL;
        if (b->plain == a->plain &&
            (b->value && a->value ? strcmp(b->value, a->value) == 0 : b->value == a->value))
            continue;
        if (a->value && !(v = strdup(a->value)))
            return PS_ERR_NOMEM;
        free(f->v[i].value);
        f->v[i].value = v;
        f->v[i].plain = a->plain;
        n++;
    }
    if (changed)
        *changed = n;
    return PS_OK;
}

ps_gui_form_field *ps_gui_form_find(ps_gui_form *f, const char *path)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->v[i].path, path) == 0)
            return &f->v[i];
    return NULL;
}

/* A list's items joined by ", ", or NULL when an item is not a scalar. */
static char *join_items(const ps_yaml_node *seq)
{
    ps_buf b;
    ps_buf_init(&b);
    if (ps_buf_append(&b, "", 0) != PS_OK)
        return NULL;
    for (size_t i = 0; i < seq->count; i++) {
        if (seq->items[i]->kind != PS_YAML_SCALAR ||
            ps_buf_appendf(&b, "%s%s", i ? ", " : "", seq->items[i]->value) != PS_OK) {
            ps_buf_deinit(&b);
            return NULL;
        }
    }
    return ps_buf_take(&b, NULL);
}

static const ps_yaml_node *lookup(const ps_yaml_node *map, const char *path)
{
    const char *dot = strchr(path, '.');
    char head[64];
    if (!dot)
        return ps_yaml_map_get(map, path);
    snprintf(head, sizeof head, "%.*s", (int)(dot - path), path);
    return lookup(ps_yaml_map_get(map, head), dot + 1);
}

ps_err ps_gui_form_load(ps_gui_form *f, const ps_yaml_node *map)
{
    for (size_t i = 0; i < f->n; i++) {
        ps_gui_form_field *ff = &f->v[i];
        const ps_yaml_node *n = lookup(map, ff->path);
        free(ff->value);
        ff->value = NULL;
        ff->plain = false;
        if (!n)
            continue;
        if (ff->f->type == PS_SCHEMA_STRLIST && n->kind == PS_YAML_SEQ) {
            if (!(ff->value = join_items(n)))
                return PS_ERR_NOMEM;
        } else if (n->kind == PS_YAML_SCALAR) {
            if (!(ff->value = strdup(n->value)))
                return PS_ERR_NOMEM;
            ff->plain = n->plain;
        }
    }
    return PS_OK;
}

/* Text an admin could write unquoted without YAML reading it as something else. */
static bool plain_safe(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || s[0] == ' ' || s[n - 1] == ' ' || strchr("-?:,[]{}#&*!|>'\"%@`", s[0]))
        return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return false;
    return !strstr(s, ": ") && !strstr(s, " #");
}

ps_err ps_gui_form_set(ps_gui_form *f, const char *path, const char *text)
{
    ps_gui_form_field *ff = ps_gui_form_find(f, path);
    char *v = NULL;
    if (!ff)
        return PS_ERR_NOTFOUND;
    if (text && *text && !(v = strdup(text)))
        return PS_ERR_NOMEM;
    free(ff->value);
    ff->value = v;
    ff->plain = v && ff->f->type != PS_SCHEMA_STRING && ff->f->type != PS_SCHEMA_PATH &&
                ff->f->type != PS_SCHEMA_STRLIST && plain_safe(v);
    return PS_OK;
}

static ps_err put_quoted(ps_buf *b, const char *s, size_t len)
{
    ps_err err = ps_buf_putc(b, '"');
    for (size_t i = 0; err == PS_OK && i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            err = ps_buf_appendf(b, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            err = ps_buf_appendf(b, "\\x%02x", c);
        else
            err = ps_buf_putc(b, (char)c);
    }
    return err == PS_OK ? ps_buf_putc(b, '"') : err;
}

/* One item of a list typed as comma-separated parts: the item must be written
 * quoted unless, in a block list, it reads the same plain. */
static ps_err put_item(ps_buf *b, const char *p, size_t n, int block_indent, bool first)
{
    char *item;
    ps_err err;
    if (block_indent < 0) {
        err = first ? PS_OK : ps_buf_append(b, ", ", 2);
        return err == PS_OK ? put_quoted(b, p, n) : err;
    }
    if (!(item = malloc(n + 1)))
        return PS_ERR_NOMEM;
    memcpy(item, p, n);
    item[n] = '\0';
    err = ps_buf_appendf(b, "%*s- ", first ? 0 : block_indent, "");
    if (err == PS_OK)
        err = plain_safe(item) ? ps_buf_append(b, p, n) : put_quoted(b, p, n);
    free(item);
    return err == PS_OK ? ps_buf_putc(b, '\n') : err;
}

/* A list field: one item per comma-separated part, trimmed; a flow sequence, or
 * with block_indent >= 0 block items, the first at the current column. */
static ps_err put_list(ps_buf *b, const char *s, int block_indent)
{
    ps_err err = block_indent < 0 ? ps_buf_putc(b, '[') : PS_OK;
    bool first = true;
    while (err == PS_OK && *s) {
        size_t len = strcspn(s, ",");
        const char *p = s;
        size_t n = len;
        while (n && *p == ' ')
            p++, n--;
        while (n && p[n - 1] == ' ')
            n--;
        if (n) {
            err = put_item(b, p, n, block_indent, first);
            first = false;
        }
        s += len + (s[len] == ',');
    }
    if (err != PS_OK)
        return err;
    if (block_indent < 0)
        return ps_buf_putc(b, ']');
    return first ? ps_buf_append(b, "[]\n", 3) : PS_OK;
}

ps_err ps_gui_form_put_value(ps_buf *b, const ps_gui_form_field *ff, int block_indent)
{
    if (ff->f->type == PS_SCHEMA_STRLIST)
        return put_list(b, ff->value, block_indent);
    if (ff->plain)
        return ps_buf_append(b, ff->value, strlen(ff->value));
    return put_quoted(b, ff->value, strlen(ff->value));
}

static ps_err put_field(ps_buf *b, const ps_gui_form_field *ff, int indent, const char *key)
{
    ps_err err = ps_buf_appendf(b, "%*s%s: ", indent, "", key);
    if (err == PS_OK)
        err = ps_gui_form_put_value(b, ff, -1);
    return err == PS_OK ? ps_buf_putc(b, '\n') : err;
}

char *ps_gui_form_yaml(const ps_gui_form *f, int indent)
{
    ps_buf b;
    char group[64] = "";
    ps_err err = PS_OK;
    ps_buf_init(&b);
    for (size_t i = 0; err == PS_OK && i < f->n; i++) {
        const ps_gui_form_field *ff = &f->v[i];
        const char *dot = strchr(ff->path, '.');
        if (!ff->value)
            continue;
        if (!dot) {
            err = put_field(&b, ff, indent, ff->path);
            continue;
        }
        if (strncmp(group, ff->path, (size_t)(dot - ff->path + 1)) != 0) {
            snprintf(group, sizeof group, "%.*s", (int)(dot - ff->path + 1), ff->path);
            err = ps_buf_appendf(&b, "%*s%.*s:\n", indent, "", (int)(dot - ff->path), ff->path);
        }
        if (err == PS_OK)
            err = put_field(&b, ff, indent + 2, dot + 1);
    }
    if (err == PS_OK && b.len == 0)
        err = ps_buf_appendf(&b, "%*s{}\n", indent, "");
    if (err != PS_OK) {
        ps_buf_deinit(&b);
        return NULL;
    }
    return ps_buf_take(&b, NULL);
}
