/* ps_gui_form_validate: the device written into a copy of its file at the place
 * the YAML tree recorded (as saving writes it), then the whole directory checked by
 * the shared loader. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_config.h"
#include "podstream/ps_loader.h"
#include "podstream/ps_mem.h"
#include "podstream/ps_platform.h"
#include "ps_gui_form.h"
#include "ps_gui_save.h"
#include "ps_gui_text.h"

/* The files of the directory, read into memory. */
typedef struct sources {
    ps_config_source *v;
    char **names, **data;
    size_t n;
} sources;

static void sources_free(sources *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->names[i]);
        free(s->data[i]);
    }
    free(s->v);
    free(s->names);
    free(s->data);
    memset(s, 0, sizeof *s);
}

static ps_err sources_read(sources *s, const char *dir, ps_diag *all)
{
    ps_config *cfg = NULL;
    ps_diag scratch;
    ps_err err = PS_OK;
    ps_diag_init(&scratch);
    /* Which files validate would read: the config module's own walk. */
    if (ps_config_load_partial(dir, &cfg, &scratch) == PS_ERR_NOMEM || !cfg) {
        err = cfg ? PS_ERR_NOMEM : PS_ERR_NOTFOUND;
        ps_diag_add(all, PS_DIAG_ERROR, NULL, 0, 0, NULL, "%s cannot be read", dir);
        goto out;
    }
    s->v = calloc(cfg->nfiles + 1, sizeof *s->v);
    s->names = calloc(cfg->nfiles + 1, sizeof *s->names);
    s->data = calloc(cfg->nfiles + 1, sizeof *s->data);
    if (!s->v || !s->names || !s->data) {
        err = PS_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < cfg->nfiles; i++) {
        char path[4096];
        size_t len = 0;
        ps_errmsg em;
        snprintf(path, sizeof path, "%s/%s", dir, cfg->files[i]);
        if (ps_plat_read_file(path, PS_YAML_MAX_FILE_BYTES, &s->data[s->n], &len, &em) != PS_OK)
            continue; /* gone since the walk: the loader will not see it either */
        s->names[s->n] = strdup(cfg->files[i]);
        s->v[s->n] = (ps_config_source){s->names[s->n], s->data[s->n], len};
        if (!s->names[s->n++]) {
            err = PS_ERR_NOMEM;
            goto out;
        }
    }
out:
    ps_config_destroy(cfg);
    ps_diag_deinit(&scratch);
    return err;
}

ps_err ps_gui_form_load_file(ps_gui_form *f, const char *config_dir, const char *file, size_t index,
                             ps_errmsg *em)
{
    char path[4096];
    ps_yaml_doc *doc = NULL;
    const ps_yaml_node *n;
    ps_diag d;
    ps_err err;
    ps_diag_init(&d);
    snprintf(path, sizeof path, "%s/%s", config_dir, file);
    err = ps_yaml_load_file(path, file, &doc, &d);
    if (err != PS_OK) {
        if (d.count > 0)
            ps_errmsg_set(em, err, "%s:%d:%d: %s", file, d.items[0].line, d.items[0].col,
                          d.items[0].msg);
        else
            ps_errmsg_set(em, err, "%s cannot be read", file);
        goto out;
    }
    n = ps_gui_text_device(ps_yaml_doc_root(doc), index);
    if (!n || n->kind != PS_YAML_MAP) {
        err = ps_errmsg_set(em, PS_ERR_NOTFOUND, "%s has no device %zu", file, index);
        goto out;
    }
    err = ps_gui_form_load(f, n);
    if (err != PS_OK)
        ps_errmsg_set(em, err, "out of memory");
out:
    ps_yaml_doc_destroy(doc);
    ps_diag_deinit(&d);
    return err;
}

/* The text of `src` with device `index` replaced by the form's mapping. */
static ps_err patch(const ps_gui_form *f, const ps_config_source *src, size_t index, char **out)
{
    ps_yaml_doc *doc = NULL;
    ps_diag d;
    const ps_yaml_node *n;
    ps_buf b;
    char *yaml = NULL;
    ps_err err = PS_ERR_INVALID;
    ps_diag_init(&d);
    ps_buf_init(&b);
    *out = NULL;
    if (ps_yaml_load_buffer(src->name, src->data, src->len, &doc, &d) != PS_OK)
        goto out;
    n = ps_gui_text_device(ps_yaml_doc_root(doc), index);
    if (n && n->kind == PS_YAML_MAP) {
        size_t start = ps_gui_text_line_start(src->data, src->len, n->line);
        size_t at = start + (size_t)n->col - 1;
        size_t end = ps_gui_text_block_end(src->data, src->len, start, n->col);
        if (at >= src->len || src->data[at] == '{' || !(yaml = ps_gui_form_yaml(f, n->col - 1)))
            goto out; /* a flow mapping: not patched by position */
        err = ps_buf_append(&b, src->data, at);
        if (err == PS_OK)
            err = ps_buf_append(&b, yaml + n->col - 1, strlen(yaml) - (size_t)(n->col - 1));
        if (err == PS_OK)
            err = ps_buf_append(&b, src->data + end, src->len - end);
        if (err == PS_OK)
            *out = ps_buf_take(&b, NULL);
    }
out:
    free(yaml);
    ps_buf_deinit(&b);
    ps_yaml_doc_destroy(doc);
    ps_diag_deinit(&d);
    return err;
}

static ps_err add_general(ps_gui_form *f, const char *msg)
{
    char **v = realloc(f->general, (f->ngeneral + 1) * sizeof *v);
    if (!v)
        return PS_ERR_NOMEM;
    f->general = v;
    if (!(v[f->ngeneral] = strdup(msg)))
        return PS_ERR_NOMEM;
    f->ngeneral++;
    return PS_OK;
}

/* The field a diagnostic path below the device names ("properties.type",
 * "tags[1]"), or NULL. */
static ps_gui_form_field *field_of(ps_gui_form *f, const char *rest)
{
    for (size_t i = 0; i < f->n; i++) {
        size_t len = strlen(f->v[i].path);
        if (strncmp(rest, f->v[i].path, len) == 0 && (rest[len] == '\0' || rest[len] == '['))
            return &f->v[i];
    }
    return NULL;
}

/* Hands the device's problems to its fields. */
static ps_err attribute(ps_gui_form *f, const ps_diag *d, const char *file, size_t index)
{
    char prefix[64];
    size_t plen = (size_t)snprintf(prefix, sizeof prefix, "devices[%zu]", index);
    for (size_t i = 0; i < d->count; i++) {
        const ps_diag_item *it = &d->items[i];
        ps_gui_form_field *ff;
        char **slot;
        if (!it->file || strcmp(it->file, file) != 0 || !it->path ||
            strncmp(it->path, prefix, plen) != 0 || (it->path[plen] && it->path[plen] != '.'))
            continue;
        *(it->sev == PS_DIAG_ERROR ? &f->errors : &f->warnings) += 1;
        ff = it->path[plen] ? field_of(f, it->path + plen + 1) : NULL;
        if (!ff) {
            if (add_general(f, it->msg) != PS_OK)
                return PS_ERR_NOMEM;
            continue;
        }
        slot = it->sev == PS_DIAG_ERROR ? &ff->error : &ff->warning;
        if (!*slot && !(*slot = strdup(it->msg)))
            return PS_ERR_NOMEM;
    }
    return PS_OK;
}

/* Puts the form in place of device `index` of `file`, or as a new file. */
static ps_err stand_in(const ps_gui_form *f, sources *s, const char **file, size_t *index)
{
    static const char new_file[] = "devices/zz-podstream-gui-new.yml";
    char *text = NULL, *yaml;
    for (size_t i = 0; *file && i < s->n; i++) {
        ps_errmsg em;
        if (strcmp(s->names[i], *file) != 0)
            continue;
        /* What saving would write; the whole mapping only where that cannot patch. */
        ps_err err =
            ps_gui_save_patch(f, s->names[i], s->v[i].data, s->v[i].len, *index, &text, &em);
        if (err != PS_OK && err != PS_ERR_NOMEM)
            err = patch(f, &s->v[i], *index, &text);
        if (err != PS_OK)
            return err;
        free(s->data[i]);
        s->data[i] = text;
        s->v[i].data = text;
        s->v[i].len = strlen(text);
        return PS_OK;
    }
    if (!(yaml = ps_gui_form_yaml(f, 4)) || !(s->names[s->n] = strdup(new_file))) {
        free(yaml);
        return PS_ERR_NOMEM;
    }
    yaml[2] = '-'; /* the first line's indent "    " becomes the item's "  - " */
    size_t tl = strlen(yaml) + sizeof "devices:\n";
    if (!(s->data[s->n] = malloc(tl))) {
        free(yaml);
        free(s->names[s->n]);
        return PS_ERR_NOMEM;
    }
    snprintf(s->data[s->n], tl, "devices:\n%s", yaml);
    free(yaml);
    s->v[s->n] = (ps_config_source){s->names[s->n], s->data[s->n], strlen(s->data[s->n])};
    s->n++;
    *file = new_file;
    *index = 0;
    return PS_OK;
}

ps_err ps_gui_form_validate(ps_gui_form *f, const char *config_dir, const char *file, size_t index,
                            unsigned flags, ps_diag *all)
{
    sources s = {0};
    ps_config *cfg = NULL;
    ps_pipeline_set *set = NULL;
    ps_err err;
    ps_gui_form_clear_problems(f);
    if ((err = sources_read(&s, config_dir, all)) != PS_OK ||
        (err = stand_in(f, &s, &file, &index)) != PS_OK)
        goto out;
    ps_loader_load_sources(config_dir, s.v, s.n, flags, &cfg, &set, all);
    ps_diag_sort(all);
    err = attribute(f, all, file, index);
out:
    ps_config_destroy(cfg);
    ps_pipeline_set_destroy(set);
    sources_free(&s);
    return err;
}
