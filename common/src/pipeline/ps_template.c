/* Templates ("{{field.path}}" inside strings) and `value` trees: compiled once,
 * rendered for every event into the thread's scratch buffer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/ps_pipeline_internal.h"

bool pl_sb_put(sbuf *b, const char *s, size_t n)
{
    return ps_buf_append(b, s, n) == PS_OK;
}

bool pl_sb_str(sbuf *b, const char *s)
{
    return pl_sb_put(b, s, strlen(s));
}

void pl_tmpl_free(tmpl *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->parts[i].lit);
        pl_fpath_free(&t->parts[i].path);
    }
    free(t->parts);
    memset(t, 0, sizeof *t);
}

static bool has_template(const char *s)
{
    return strstr(s, "{{") != NULL;
}

/* Appends the text form of a value: strings as they are, numbers in their shortest
 * exact form, booleans as true/false, null as nothing, lists and mappings as JSON. */
static bool render_value(sbuf *b, const cJSON *v)
{
    char num[32];
    if (!v || cJSON_IsNull(v))
        return true;
    if (cJSON_IsString(v))
        return pl_sb_str(b, v->valuestring);
    if (cJSON_IsNumber(v)) {
        ps_expr_format_number(v->valuedouble, num, sizeof num);
        return pl_sb_str(b, num);
    }
    if (cJSON_IsBool(v))
        return pl_sb_str(b, cJSON_IsTrue(v) ? "true" : "false");
    char *json = cJSON_PrintUnformatted(v);
    bool ok = json && pl_sb_str(b, json);
    cJSON_free(json);
    return ok;
}

void pl_vtree_free(vtree *v)
{
    if (!v)
        return;
    cJSON_Delete(v->constant);
    pl_tmpl_free(&v->t);
    for (size_t i = 0; i < v->n; i++) {
        pl_vtree_free(&v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
}

bool pl_tmpl_compile(cctx *c, const ps_yaml_node *n, const char *path, const char *s, tmpl *t)
{
    size_t len = strlen(s), i = 0;
    memset(t, 0, sizeof *t);
    /* Parts never outnumber 2 * ("{{" occurrences) + 1; count generously. */
    size_t cap = 1;
    for (const char *q = s; (q = strstr(q, "{{")); q += 2)
        cap += 2;
    if (!(t->parts = calloc(cap, sizeof *t->parts)))
        return pl_oom(c, n, path);
    while (i < len) {
        const char *open = strstr(s + i, "{{");
        size_t o = open ? (size_t)(open - s) : len;
        if (o > i) {
            tpart *pt = &t->parts[t->n++];
            if (!(pt->lit = malloc(o - i + 1)))
                return pl_oom(c, n, path);
            memcpy(pt->lit, s + i, o - i);
            pt->lit[o - i] = '\0';
            pt->len = o - i;
        }
        if (!open)
            break;
        bool triple = s[o + 2] == '{';
        size_t in = o + (triple ? 3 : 2);
        const char *close = strstr(s + in, triple ? "}}}" : "}}");
        if (!close) {
            pl_cerr_in(c, n, o, path, "invalid template",
                       triple ? "{{{ without a closing }}}" : "{{ without a closing }}");
            return false;
        }
        size_t ce = (size_t)(close - s), b = in, e = ce;
        while (b < e && (s[b] == ' ' || s[b] == '\t'))
            b++;
        while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t'))
            e--;
        if (b < e && s[b] == '&') { /* mustache's unescaped form; nothing is escaped here */
            b++;
            while (b < e && s[b] == ' ')
                b++;
        }
        if (b == e) {
            pl_cerr_in(c, n, o, path, "invalid template", "empty {{ }}");
            return false;
        }
        if (strchr("#^/!>=", s[b])) {
            pl_cerr_in(c, n, b, path, "invalid template",
                       "mustache sections and partials are not supported; write {{field.path}}");
            return false;
        }
        tpart *pt = &t->parts[t->n++];
        size_t off;
        char msg[160];
        if (!pl_fpath_parse(s + b, e - b, &pt->path, &off, msg, sizeof msg)) {
            pl_cerr_in(c, n, b + off, path, "invalid field path in template", msg);
            return false;
        }
        i = ce + (triple ? 3 : 2);
    }
    return true;
}

/* A YAML scalar as a typed JSON value: plain null/true/false/numbers are typed,
 * everything else (and everything quoted) is a string. */
static cJSON *scalar_json(const ps_yaml_node *n)
{
    long long iv;
    double dv;
    if (ps_yaml_is_null(n))
        return cJSON_CreateNull();
    if (n->plain) {
        if (strcmp(n->value, "true") == 0 || strcmp(n->value, "True") == 0 ||
            strcmp(n->value, "TRUE") == 0)
            return cJSON_CreateTrue();
        if (strcmp(n->value, "false") == 0 || strcmp(n->value, "False") == 0 ||
            strcmp(n->value, "FALSE") == 0)
            return cJSON_CreateFalse();
        if (ps_yaml_to_int(n, &iv) == PS_OK)
            return cJSON_CreateNumber((double)iv);
        if (ps_yaml_to_double(n, &dv) == PS_OK)
            return cJSON_CreateNumber(dv);
    }
    return cJSON_CreateString(n->value);
}

static bool yaml_has_template(const ps_yaml_node *n)
{
    if (n->kind == PS_YAML_SCALAR)
        return has_template(n->value);
    for (size_t i = 0; i < n->count; i++)
        if (yaml_has_template(n->items[i]))
            return true;
    return false;
}

static cJSON *yaml_json(const ps_yaml_node *n)
{
    cJSON *out;
    if (n->kind == PS_YAML_SCALAR)
        return scalar_json(n);
    out = n->kind == PS_YAML_SEQ ? cJSON_CreateArray() : cJSON_CreateObject();
    for (size_t i = 0; out && i < n->count; i++) {
        cJSON *item = yaml_json(n->items[i]);
        bool ok =
            item && (n->kind == PS_YAML_SEQ ? cJSON_AddItemToArray(out, item)
                                            : cJSON_AddItemToObject(out, n->keys[i]->value, item));
        if (!ok) {
            cJSON_Delete(item);
            cJSON_Delete(out);
            return NULL;
        }
    }
    return out;
}

bool pl_vtree_compile(cctx *c, const ps_yaml_node *n, const char *path, vtree *v)
{
    char sub[PL_DPATH];
    memset(v, 0, sizeof *v);
    if (!yaml_has_template(n)) {
        v->kind = VT_CONST;
        return (v->constant = yaml_json(n)) != NULL || pl_oom(c, n, path);
    }
    if (n->kind == PS_YAML_SCALAR) {
        v->kind = VT_TMPL;
        return pl_tmpl_compile(c, n, path, n->value, &v->t);
    }
    v->kind = n->kind == PS_YAML_SEQ ? VT_ARRAY : VT_OBJECT;
    if (!(v->items = calloc(n->count ? n->count : 1, sizeof *v->items)))
        return pl_oom(c, n, path);
    if (v->kind == VT_OBJECT && !(v->keys = calloc(n->count ? n->count : 1, sizeof *v->keys)))
        return pl_oom(c, n, path);
    for (size_t i = 0; i < n->count; i++) {
        v->n = i + 1;
        if (v->kind == VT_OBJECT) {
            pl_pjoin(sub, sizeof sub, "%s.%s", path, n->keys[i]->value);
            if (!(v->keys[i] = pl_dupstr(n->keys[i]->value)))
                return pl_oom(c, n, path);
        } else {
            pl_pjoin(sub, sizeof sub, "%s[%zu]", path, i);
        }
        if (!pl_vtree_compile(c, n->items[i], sub, &v->items[i]))
            return false;
    }
    return true;
}

/* Renders a template into the scratch buffer; the text is valid until the next
 * render. NULL when out of memory. */
const char *pl_render(rctx *r, const tmpl *t)
{
    sbuf *b = &r->sc->buf;
    char err[8];
    b->len = 0;
    if (!pl_sb_put(b, "", 0))
        return NULL;
    for (size_t i = 0; i < t->n; i++) {
        const tpart *pt = &t->parts[i];
        cJSON *v = NULL;
        if (pt->lit) {
            if (!pl_sb_put(b, pt->lit, pt->len))
                return NULL;
            continue;
        }
        if (pl_read_field(r, &pt->path, &v, err, sizeof err) != W_FOUND)
            v = NULL; /* mustache: a missing or unreachable field renders as nothing */
        if (!render_value(b, v))
            return NULL;
    }
    return b->p;
}

cJSON *pl_vtree_render(rctx *r, const vtree *v)
{
    cJSON *out;
    const char *s;
    switch (v->kind) {
    case VT_CONST:
        return cJSON_Duplicate(v->constant, true);
    case VT_TMPL:
        return (s = pl_render(r, &v->t)) ? cJSON_CreateString(s) : NULL;
    case VT_ARRAY:
    case VT_OBJECT:
        out = v->kind == VT_ARRAY ? cJSON_CreateArray() : cJSON_CreateObject();
        for (size_t i = 0; out && i < v->n; i++) {
            cJSON *item = pl_vtree_render(r, &v->items[i]);
            bool ok = item && (v->kind == VT_ARRAY ? cJSON_AddItemToArray(out, item)
                                                   : cJSON_AddItemToObject(out, v->keys[i], item));
            if (!ok) {
                cJSON_Delete(item);
                cJSON_Delete(out);
                return NULL;
            }
        }
        return out;
    }
    return NULL;
}
