/* The editor's pipeline picker without a widget. */
#include "ps_gui_pipelines.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_config.h"
#include "podstream/ps_mem.h"
#include "podstream/ps_pipeline.h"

void ps_gui_pipelines_destroy(ps_gui_pipelines *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].name);
        free(p->v[i].file);
        free(p->v[i].error);
    }
    free(p->v);
    free(p);
}

/* The pipeline mappings of one file, as its `list` holds them. */
static ps_err add_file(ps_gui_pipelines *p, const ps_config_pipeline_file *f, int *lines)
{
    const ps_yaml_node *l = f->list;
    size_t n = l && l->kind == PS_YAML_SEQ ? l->count : l ? 1 : 0;
    for (size_t i = 0; i < n; i++) {
        const ps_yaml_node *m = l->kind == PS_YAML_SEQ ? l->items[i] : l;
        const ps_yaml_node *name = ps_yaml_map_get(m, "name");
        ps_gui_pipeline_info *v;
        if (!name || name->kind != PS_YAML_SCALAR)
            continue;
        if (!(v = realloc(p->v, (p->n + 1) * sizeof *v)))
            return PS_ERR_NOMEM;
        p->v = v;
        v[p->n] =
            (ps_gui_pipeline_info){strdup(name->value), strdup(ps_yaml_doc_name(f->doc)), 0, NULL};
        lines[p->n] = m->line;
        if (!v[p->n].name || !v[p->n].file)
            return PS_ERR_NOMEM;
        p->n++;
    }
    return PS_OK;
}

/* Each problem to the pipeline of its file that starts at or above its line. */
static ps_err attribute(ps_gui_pipelines *p, const int *lines, const ps_diag *d)
{
    for (size_t k = 0; k < d->count; k++) {
        const ps_diag_item *it = &d->items[k];
        ps_gui_pipeline_info *best = NULL;
        int best_line = 0;
        char buf[1024];
        if (it->sev != PS_DIAG_ERROR || !it->file)
            continue;
        for (size_t i = 0; i < p->n; i++)
            if (strcmp(p->v[i].file, it->file) == 0 && lines[i] <= it->line &&
                lines[i] >= best_line) {
                best = &p->v[i];
                best_line = lines[i];
            }
        if (!best || best->errors++)
            continue;
        snprintf(buf, sizeof buf, "%s:%d:%d: %s", it->file, it->line, it->col, it->msg);
        if (!(best->error = strdup(buf)))
            return PS_ERR_NOMEM;
    }
    return PS_OK;
}

ps_err ps_gui_pipelines_load(const char *config_dir, ps_gui_pipelines **out)
{
    ps_config *cfg = NULL;
    ps_pipeline_set *set = NULL;
    ps_gui_pipelines *p = calloc(1, sizeof *p);
    int *lines = NULL;
    size_t cap = 0;
    ps_diag d;
    ps_err err = PS_OK;
    ps_diag_init(&d);
    *out = NULL;
    if (!p)
        return PS_ERR_NOMEM;
    if (ps_config_load_partial(config_dir, &cfg, &d) == PS_ERR_NOMEM || !cfg) {
        err = cfg ? PS_ERR_NOMEM : PS_ERR_NOTFOUND;
        goto out;
    }
    for (size_t i = 0; i < cfg->npipeline_files; i++) {
        const ps_yaml_node *l = cfg->pipeline_files[i].list;
        cap += l && l->kind == PS_YAML_SEQ ? l->count : 1;
    }
    if (!(lines = calloc(cap + 1, sizeof *lines))) {
        err = PS_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; err == PS_OK && i < cfg->npipeline_files; i++)
        err = add_file(p, &cfg->pipeline_files[i], lines);
    ps_diag_deinit(&d);
    ps_diag_init(&d);
    /* Compiled alone: devices' references and secrets are the editor's business. */
    ps_pipeline_set_compile(cfg->pipeline_files, cfg->npipeline_files, NULL, 0, NULL, &set, &d);
    if (err == PS_OK)
        err = attribute(p, lines, &d);
out:
    free(lines);
    ps_pipeline_set_destroy(set);
    ps_config_destroy(cfg);
    ps_diag_deinit(&d);
    if (err != PS_OK)
        ps_gui_pipelines_destroy(p);
    else
        *out = p;
    return err;
}

char *ps_gui_pipelines_toggle(const char *list, const char *name)
{
    ps_buf b;
    bool found = false;
    ps_buf_init(&b);
    if (ps_buf_append(&b, "", 0) != PS_OK)
        return NULL;
    while (list && *list) {
        size_t len = strcspn(list, ","), n = len;
        const char *s = list;
        while (n && *s == ' ')
            s++, n--;
        while (n && s[n - 1] == ' ')
            n--;
        if (n == strlen(name) && strncmp(s, name, n) == 0)
            found = true;
        else if (n && ps_buf_appendf(&b, "%s%.*s", b.len ? ", " : "", (int)n, s) != PS_OK)
            goto fail;
        list += len + (list[len] == ',');
    }
    if (!found && ps_buf_appendf(&b, "%s%s", b.len ? ", " : "", name) != PS_OK)
        goto fail;
    return ps_buf_take(&b, NULL);
fail:
    ps_buf_deinit(&b);
    return NULL;
}

/* The trimmed, non-empty items of `list`, *n of them, pointing into `copy` (a copy of
 * list the caller frees); NULL when out of memory. */
static char **split(const char *list, char **copy, size_t *n)
{
    char **v, *p;
    size_t cap = 1;
    *n = 0;
    *copy = strdup(list ? list : "");
    for (const char *c = list; c && *c; c++)
        cap += *c == ',';
    if (!*copy || !(v = calloc(cap, sizeof *v))) {
        free(*copy);
        *copy = NULL;
        return NULL;
    }
    for (p = *copy; p;) {
        char *end = strchr(p, ','), *s = p;
        size_t len;
        if (end)
            *end = '\0';
        while (*s == ' ')
            s++;
        len = strlen(s);
        while (len && s[len - 1] == ' ')
            s[--len] = '\0';
        if (len)
            v[(*n)++] = s;
        p = end ? end + 1 : NULL;
    }
    return v;
}

int ps_gui_pipelines_index(const char *list, const char *name)
{
    char *copy, **v;
    size_t n;
    int at = -1;
    if (!(v = split(list, &copy, &n)))
        return -1;
    for (size_t i = 0; i < n && at < 0; i++)
        if (strcmp(v[i], name) == 0)
            at = (int)i;
    free(v);
    free(copy);
    return at;
}

char *ps_gui_pipelines_move(const char *list, const char *name, int delta)
{
    char *copy, **v, *out = NULL;
    size_t n;
    ps_buf b;
    int at = ps_gui_pipelines_index(list, name);
    if (!(v = split(list, &copy, &n)))
        return NULL;
    /* One step at a time: the swap keeps every other pipeline where it was. */
    for (int step = delta < 0 ? -1 : 1; at >= 0 && delta != 0; delta -= step, at += step) {
        int to = at + step;
        char *t;
        if (to < 0 || (size_t)to >= n)
            break;
        t = v[at];
        v[at] = v[to];
        v[to] = t;
    }
    ps_buf_init(&b);
    if (ps_buf_append(&b, "", 0) == PS_OK) {
        size_t i = 0;
        while (i < n && ps_buf_appendf(&b, "%s%s", i ? ", " : "", v[i]) == PS_OK)
            i++;
        out = i == n ? ps_buf_take(&b, NULL) : NULL;
    }
    ps_buf_deinit(&b);
    free(v);
    free(copy);
    return out;
}
