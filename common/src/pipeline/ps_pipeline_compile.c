/* Compiling pipeline files into immutable processor lists.
 *
 * Compilation does all the checking (options, paths, templates, conditions, keys) so
 * that running is a plain walk. Processors are counted from 1 in labels and in
 * diagnostic paths, as people count them: "processor 1" is processors[1]. */
#include <stdlib.h>
#include <string.h>

#include "pipeline/ps_pipeline_internal.h"
#include "podstream/ps_suggest.h"

#define NAME_MAX_LEN 128
#define MAX_NAMES    64

static void proc_free(proc *p)
{
    free(p->label);
    free(p->tag);
    free(p->description);
    ps_expr_destroy(p->cond);
    pl_procs_free(p->on_failure, p->non_failure);
    if (p->state && p->def->free)
        p->def->free(p->state);
    free(p->state);
}

void pl_procs_free(proc *ps, size_t n)
{
    for (size_t i = 0; i < n; i++)
        proc_free(&ps[i]);
    free(ps);
}

void pl_pipeline_free(ps_pipeline *pl)
{
    if (!pl)
        return;
    free(pl->name);
    free(pl->description);
    ps_expr_destroy(pl->cond);
    pl_procs_free(pl->procs, pl->nprocs);
    pl_procs_free(pl->on_failure, pl->non_failure);
    cJSON_Delete(pl->meta);
    free(pl);
}

/* The names of a table's options, NULL-terminated, into names[MAX_NAMES + 1]. */
static const char *const *table_names(const ps_schema_table *t, const char **names)
{
    size_t n = 0;
    for (size_t i = 0; i < t->count && n < MAX_NAMES; i++)
        names[n++] = t->fields[i].name;
    names[n] = NULL;
    return names;
}

static bool compile_procs(cctx *c, const ps_yaml_node *list, const char *path, const char *label,
                          proc **out, size_t *nout);

static const ps_processor_def *find_def(const char *name)
{
    for (size_t i = 0; i < pl_nprocessors; i++)
        if (strcmp(pl_processors[i]->doc.name, name) == 0)
            return pl_processors[i];
    return NULL;
}

/* The processor type of a one-key mapping, or NULL after reporting why not. */
static const ps_processor_def *proc_type(cctx *c, const ps_yaml_node *item, const char *path)
{
    const char *names[MAX_NAMES + 1];
    const ps_processor_def *def;
    char list[400];
    size_t n = 0;

    for (size_t i = 0; i < pl_nprocessors && n < MAX_NAMES; i++)
        names[n++] = pl_processors[i]->doc.name;
    names[n] = NULL;
    if (item->kind != PS_YAML_MAP) {
        pl_cerr(c, item, path,
                "expected a processor (a mapping such as `set: {field: a, value: b}`), found %s",
                ps_yaml_describe(item));
        return NULL;
    }
    pl_join_words(list, sizeof list, names, NULL);
    if (item->count != 1) {
        if (item->count == 0)
            pl_cerr(c, item, path, "empty processor; use one of: %s", list);
        else
            pl_cerr(c, item, path,
                    "a processor is a mapping with one key, the processor type, but this one "
                    "has %zu (%s, %s%s); indent the options under the type",
                    item->count, item->keys[0]->value, item->keys[1]->value,
                    item->count > 2 ? ", ..." : "");
        return NULL;
    }
    if ((def = find_def(item->keys[0]->value)))
        return def;
    const char *guess = ps_suggest(item->keys[0]->value, names);
    if (guess)
        pl_cerr(c, item->keys[0], path, "unknown processor \"%.60s\" (did you mean \"%s\"?)",
                item->keys[0]->value, guess);
    else
        pl_cerr(c, item->keys[0], path, "unknown processor \"%.60s\"; processors are: %s",
                item->keys[0]->value, list);
    return NULL;
}

/* Reports the options of `m` that neither the processor's table nor the common one
 * knows. */
static bool check_unknown(cctx *c, const ps_processor_def *def, const ps_yaml_node *m,
                          const char *ppath)
{
    const char *own[MAX_NAMES + 1], *common[MAX_NAMES + 1];
    char sub[PL_DPATH], list[400];
    bool ok = true;
    table_names(def->doc.options, own);
    table_names(pl_common_options(), common);
    for (size_t i = 0; m && i < m->count; i++) {
        const char *k = m->keys[i]->value;
        if (ps_schema_find(def->doc.options, k) || ps_schema_find(pl_common_options(), k))
            continue;
        const char *guess = ps_suggest(k, own);
        if (!guess)
            guess = ps_suggest(k, common);
        pl_join_words(list, sizeof list, own, common);
        pl_pjoin(sub, sizeof sub, "%s.%s", ppath, k);
        if (guess)
            pl_cerr(c, m->keys[i], sub, "unknown option \"%.60s\" for %s (did you mean \"%s\"?)", k,
                    def->doc.name, guess);
        else
            pl_cerr(c, m->keys[i], sub, "unknown option \"%.60s\" for %s; options are: %s", k,
                    def->doc.name, list);
        ok = false;
    }
    return ok;
}

/* if, tag, description and on_failure (ignore_failure is typed by the table). */
static bool compile_common(cctx *c, const pl_opts *o, proc *p)
{
    char sub[PL_DPATH];
    const ps_yaml_node *n;
    const char *s;
    bool ok = true;
    if ((n = pl_opt(o, "if", sub, sizeof sub)))
        ok = pl_opt_cond(c, n, sub, &p->cond) && ok;
    if ((n = pl_opt(o, "tag", sub, sizeof sub)))
        ok = pl_opt_text(c, n, sub, &s) && (p->tag = pl_dupstr(s)) != NULL && ok;
    if ((n = pl_opt(o, "description", sub, sizeof sub)))
        ok = pl_opt_text(c, n, sub, &s) && (p->description = pl_dupstr(s)) != NULL && ok;
    if ((n = pl_opt(o, "on_failure", sub, sizeof sub))) {
        char sublabel[PL_DPATH];
        pl_pjoin(sublabel, sizeof sublabel, "%s.on_failure", p->label);
        ok = compile_procs(c, n, sub, sublabel, &p->on_failure, &p->non_failure) && ok;
    }
    return ok;
}

/* The table-driven part: types, defaults and required options, then the processor's
 * own compile. */
static bool compile_options(cctx *c, pl_opts *o, proc *p)
{
    const ps_schema_table *t = p->def->doc.options;
    const ps_schema_field *im = ps_schema_find(t, "ignore_missing");
    unsigned long common_bad = 0;
    bool ok = pl_opts_typed(c, pl_common_options(), o->m, o->ppath, NULL, p, &common_bad);

    if (p->def->state_size && !(p->state = calloc(1, p->def->state_size)))
        return pl_oom(c, o->at, o->ppath);
    if (!pl_opts_typed(c, t, o->m, o->ppath, p->def->gate, p->state, &o->bad)) {
        ok = false;
        if (p->def->gate && pl_opt_bad(o, t, p->def->gate))
            return false; /* what else is needed depends on it */
    }
    if (im)
        p->ignore_missing = *(const bool *)((const char *)p->state + im->offset);
    for (size_t i = 0; i < t->count; i++) {
        if (t->fields[i].required && !ps_yaml_map_get(o->m, t->fields[i].name)) {
            pl_cerr(c, o->at, o->ppath, "%s needs the option %s", p->tname, t->fields[i].name);
            return false;
        }
    }
    return (!p->def->compile || p->def->compile(c, o, p)) && ok;
}

static bool compile_proc(cctx *c, const ps_yaml_node *item, const char *path, const char *label,
                         proc *p)
{
    char ppath[PL_DPATH];
    const ps_processor_def *def = proc_type(c, item, path);
    pl_opts o = {NULL, NULL, ppath, 0};
    bool ok;

    if (!def)
        return false;
    p->def = def;
    p->tname = def->doc.name;
    if (!(p->label = pl_dupstr(label)))
        return pl_oom(c, item, path);
    pl_pjoin(ppath, sizeof ppath, "%s.%s", path, def->doc.name);
    o.at = item->keys[0];
    o.m = item->items[0];
    if (ps_yaml_is_null(o.m)) {
        o.m = NULL;
    } else if (o.m->kind != PS_YAML_MAP) {
        pl_cerr(c, o.m, ppath, "expected the options of %s as a mapping, found %s", def->doc.name,
                ps_yaml_describe(o.m));
        return false;
    }
    ok = check_unknown(c, def, o.m, ppath);
    ok = compile_common(c, &o, p) && ok;
    return compile_options(c, &o, p) && ok;
}

/* A list of processors; labels are "<label>[i]" or "processor i" for the top level,
 * counting from 1. */
static bool compile_procs(cctx *c, const ps_yaml_node *list, const char *path, const char *label,
                          proc **out, size_t *nout)
{
    char sub[PL_DPATH], lab[PL_DPATH];
    bool ok = true;
    *out = NULL;
    *nout = 0;
    if (list->kind != PS_YAML_SEQ) {
        pl_cerr(c, list, path, "expected a list of processors, found %s", ps_yaml_describe(list));
        return false;
    }
    if (list->count == 0) /* allowed, as in Elastic: a pipeline being written */
        return true;
    if (!(*out = calloc(list->count, sizeof **out)))
        return pl_oom(c, list, path);
    *nout = list->count;
    for (size_t i = 0; i < list->count; i++) {
        pl_pjoin(sub, sizeof sub, "%s[%zu]", path, i + 1);
        if (label)
            pl_pjoin(lab, sizeof lab, "%s[%zu]", label, i + 1);
        else
            pl_pjoin(lab, sizeof lab, "processor %zu", i + 1);
        ok = compile_proc(c, list->items[i], sub, lab, &(*out)[i]) && ok;
    }
    return ok;
}

static bool valid_name(const char *s)
{
    if (!*s || strlen(s) > NAME_MAX_LEN)
        return false;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-' || ch == '.'))
            return false;
    }
    return true;
}

/* A new pipeline with the name of mapping `m`, or NULL after reporting why not. */
static ps_pipeline *pipeline_named(cctx *c, const ps_yaml_node *m, const char *path)
{
    char sub[PL_DPATH];
    const ps_yaml_node *n = ps_yaml_map_get(m, "name");
    ps_pipeline *pl;
    const char *s;

    pl_pjoin(sub, sizeof sub, "%s.name", path);
    if (!n) {
        pl_cerr(c, m, path, "a pipeline needs a name");
        return NULL;
    }
    if (!pl_opt_text(c, n, sub, &s))
        return NULL;
    if (!valid_name(s)) {
        pl_cerr(c, n, sub,
                "invalid pipeline name \"%.60s\": use 1 to %d letters, digits, '_', '-' or '.'", s,
                NAME_MAX_LEN);
        return NULL;
    }
    if (!(pl = calloc(1, sizeof *pl)) || !(pl->name = pl_dupstr(s))) {
        free(pl);
        pl_oom(c, n, sub);
        return NULL;
    }
    pl->file = c->file;
    pl->line = n->line;
    pl->col = n->col;
    if (!(pl->meta = cJSON_CreateObject()) || !cJSON_AddStringToObject(pl->meta, "pipeline", s))
        pl_oom(c, m, path);
    return pl;
}

static void check_pipeline_keys(cctx *c, const ps_yaml_node *m, const char *path)
{
    const char *names[MAX_NAMES + 1];
    char sub[PL_DPATH], list[200];
    table_names(ps_pipeline_options(), names);
    for (size_t i = 0; i < m->count; i++) {
        const char *k = m->keys[i]->value;
        if (ps_schema_find(ps_pipeline_options(), k))
            continue;
        const char *guess = ps_suggest(k, names);
        pl_pjoin(sub, sizeof sub, "%s.%s", path, k);
        pl_join_words(list, sizeof list, names, NULL);
        if (guess)
            pl_cerr(c, m->keys[i], sub, "unknown pipeline option \"%.60s\" (did you mean \"%s\"?)",
                    k, guess);
        else
            pl_cerr(c, m->keys[i], sub, "unknown pipeline option \"%.60s\"; options are: %s", k,
                    list);
    }
}

/* Compiles one pipeline mapping. Returns the pipeline (possibly with errors
 * reported, so that its name still counts for device references) or NULL. */
static ps_pipeline *compile_pipeline(cctx *c, const ps_yaml_node *m, const char *path)
{
    pl_opts o = {m, m, path, 0};
    char sub[PL_DPATH];
    const ps_yaml_node *n;
    ps_pipeline *pl;
    const char *s;

    if (m->kind != PS_YAML_MAP) {
        pl_cerr(c, m, path, "expected a pipeline (a mapping with name and processors), found %s",
                ps_yaml_describe(m));
        return NULL;
    }
    if (!(pl = pipeline_named(c, m, path)))
        return NULL;
    check_pipeline_keys(c, m, path);
    if ((n = pl_opt(&o, "description", sub, sizeof sub)) && pl_opt_text(c, n, sub, &s) &&
        !(pl->description = pl_dupstr(s)))
        pl_oom(c, n, sub);
    if ((n = pl_opt(&o, "if", sub, sizeof sub)))
        pl_opt_cond(c, n, sub, &pl->cond);
    if ((n = pl_opt(&o, "ignore_failure", sub, sizeof sub)))
        pl_opt_bool(c, n, sub, &pl->ignore_failure);
    if ((n = pl_opt(&o, "version", sub, sizeof sub))) {
        long long v;
        if (ps_yaml_to_int(n, &v) != PS_OK)
            pl_cerr(c, n, sub, "expected a whole number, found %s", ps_yaml_describe(n));
    }
    if ((n = pl_opt(&o, "processors", sub, sizeof sub)))
        compile_procs(c, n, sub, NULL, &pl->procs, &pl->nprocs);
    else
        pl_cerr(c, m, path, "pipeline \"%s\" needs processors", pl->name);
    if ((n = pl_opt(&o, "on_failure", sub, sizeof sub)))
        compile_procs(c, n, sub, "on_failure", &pl->on_failure, &pl->non_failure);
    return pl;
}

static bool set_add(ps_pipeline_set *set, ps_pipeline *pl)
{
    if (ps_mem_grow_array((void **)&set->pipes, &set->cap, set->n, sizeof *set->pipes) != PS_OK)
        return false;
    set->pipes[set->n++] = pl;
    return true;
}

static const char *keep_file(ps_pipeline_set *set, const char *name)
{
    for (size_t i = 0; i < set->nfiles; i++)
        if (strcmp(set->files[i], name) == 0)
            return set->files[i];
    if (ps_mem_grow_array((void **)&set->files, &set->files_cap, set->nfiles, sizeof *set->files) !=
        PS_OK)
        return NULL;
    if (!(set->files[set->nfiles] = pl_dupstr(name)))
        return NULL;
    return set->files[set->nfiles++];
}

static void add_compiled(cctx *c, ps_pipeline_set *set, const ps_yaml_node *m, const char *path)
{
    ps_pipeline *pl = compile_pipeline(c, m, path);
    if (pl && !set_add(set, pl)) {
        pl_pipeline_free(pl);
        ps_diag_add(c->diag, PS_DIAG_ERROR, c->file, 0, 0, NULL, "out of memory");
    }
}

/* One file: a `pipelines:` list, a bare list or one pipeline mapping. */
static void compile_file(cctx *c, ps_pipeline_set *set, const ps_config_pipeline_file *file)
{
    const ps_yaml_node *list = file->list;
    const char *name = ps_yaml_doc_name(file->doc);
    char path[PL_DPATH];
    if (!list)
        return;
    if (!(c->file = keep_file(set, name ? name : "pipelines"))) {
        ps_diag_add(c->diag, PS_DIAG_ERROR, name, 0, 0, NULL, "out of memory");
        return;
    }
    if (list->kind == PS_YAML_MAP && ps_yaml_map_get(list, "pipelines") &&
        !ps_yaml_map_get(list, "name"))
        list = ps_yaml_map_get(list, "pipelines");
    if (list->kind == PS_YAML_SEQ) {
        for (size_t i = 0; i < list->count; i++) {
            pl_pjoin(path, sizeof path, "pipelines[%zu]", i);
            add_compiled(c, set, list->items[i], path);
        }
    } else if (list->kind == PS_YAML_MAP) {
        add_compiled(c, set, list, "pipeline");
    } else if (!ps_yaml_is_null(list)) {
        pl_cerr(c, list, NULL, "expected a list of pipelines or one pipeline, found %s",
                ps_yaml_describe(list));
    }
}

static void check_duplicates(const ps_pipeline_set *set, ps_diag *diag)
{
    for (size_t i = 1; i < set->n; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(set->pipes[i]->name, set->pipes[j]->name) == 0) {
                ps_diag_add(diag, PS_DIAG_ERROR, set->pipes[i]->file, set->pipes[i]->line,
                            set->pipes[i]->col, NULL,
                            "duplicate pipeline name \"%s\" (first defined at %s:%d:%d)",
                            set->pipes[i]->name, set->pipes[j]->file, set->pipes[j]->line,
                            set->pipes[j]->col);
                break;
            }
}

static void unknown_pipeline(const ps_pipeline_set *set, const char *name, const ps_config_pos *pos,
                             const char *path, ps_diag *diag)
{
    const char **names = calloc(set->n + 1, sizeof *names);
    const char *guess = NULL;
    for (size_t j = 0; names && j < set->n; j++)
        names[j] = set->pipes[j]->name;
    if (names)
        guess = ps_suggest(name, names);
    if (guess)
        ps_diag_add(diag, PS_DIAG_ERROR, pos->file, pos->line, pos->col, path,
                    "unknown pipeline \"%.60s\" (did you mean \"%s\"?)", name, guess);
    else if (set->n == 0)
        ps_diag_add(diag, PS_DIAG_ERROR, pos->file, pos->line, pos->col, path,
                    "unknown pipeline \"%.60s\"; no pipelines are defined (put them "
                    "in pipelines/*.yml)",
                    name);
    else
        ps_diag_add(diag, PS_DIAG_ERROR, pos->file, pos->line, pos->col, path,
                    "unknown pipeline \"%.60s\"", name);
    free(names);
}

/* The chain of one device, resolved now so that running looks nothing up. */
static bool device_chain(ps_pipeline_set *set, const ps_device *dev, ps_diag *diag)
{
    dev_chain *dc = &set->devs[set->ndevs];
    char path[PL_DPATH];
    dc->id = dev->id;
    if (!(dc->chain.p = calloc(dev->npipelines, sizeof(const ps_pipeline *)))) {
        ps_diag_add(diag, PS_DIAG_ERROR, NULL, 0, 0, NULL, "out of memory");
        return false;
    }
    set->ndevs++;
    for (size_t k = 0; k < dev->npipelines; k++) {
        const ps_pipeline *pl = ps_pipeline_set_find(set, dev->pipelines[k]);
        const ps_config_pos *pos = dev->pipeline_pos ? &dev->pipeline_pos[k] : &dev->pos;
        pl_pjoin(path, sizeof path, "%s.pipelines[%zu]", dev->path ? dev->path : "device", k);
        if (!pl) {
            unknown_pipeline(set, dev->pipelines[k], pos, path, diag);
            continue;
        }
        for (size_t j = 0; j < k; j++)
            if (strcmp(dev->pipelines[j], dev->pipelines[k]) == 0)
                ps_diag_add(diag, PS_DIAG_WARNING, pos->file, pos->line, pos->col, path,
                            "pipeline \"%s\" is listed twice; it will run twice",
                            dev->pipelines[k]);
        dc->chain.p[dc->chain.n++] = pl;
    }
    return true;
}

ps_err ps_pipeline_set_compile(const ps_config_pipeline_file *files, size_t nfiles,
                               const ps_device *devices, size_t ndevices, ps_secret_ctx *secrets,
                               ps_pipeline_set **out, ps_diag *diag)
{
    size_t errors_before = diag->errors;
    ps_pipeline_set *set = calloc(1, sizeof *set);
    cctx c = {diag, NULL, secrets};

    *out = NULL;
    if (!set) {
        ps_diag_add(diag, PS_DIAG_ERROR, NULL, 0, 0, NULL, "out of memory compiling pipelines");
        return PS_ERR_NOMEM;
    }
    for (size_t f = 0; f < nfiles; f++)
        compile_file(&c, set, &files[f]);
    check_duplicates(set, diag);
    if (ndevices && !(set->devs = calloc(ndevices, sizeof *set->devs)))
        ps_diag_add(diag, PS_DIAG_ERROR, NULL, 0, 0, NULL, "out of memory");
    for (size_t d = 0; set->devs && d < ndevices; d++)
        if (devices[d].npipelines && !device_chain(set, &devices[d], diag))
            break;
    if (diag->errors > errors_before || diag->oom) {
        ps_pipeline_set_destroy(set);
        return PS_ERR_INVALID;
    }
    *out = set;
    return PS_OK;
}
