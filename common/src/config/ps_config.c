#include "podstream/ps_config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_mem.h"
#include "podstream/ps_platform.h"
#include "podstream/ps_schema.h"
#include "podstream/ps_time.h"
#include "podstream/ps_suggest.h"
#include "config/ps_config_outputs.h"

static const char *const data_type_names[] = {"message", "maillog", "audit"};

const char *ps_data_type_name(ps_data_type t)
{
    if ((unsigned)t < sizeof data_type_names / sizeof data_type_names[0])
        return data_type_names[t];
    return "unknown";
}

ps_err ps_data_type_parse(const char *name, ps_data_type *out)
{
    for (size_t i = 0; i < sizeof data_type_names / sizeof data_type_names[0]; i++) {
        if (name && strcmp(name, data_type_names[i]) == 0) {
            *out = (ps_data_type)i;
            return PS_OK;
        }
    }
    return PS_ERR_INVALID;
}

/* ---- loader state --------------------------------------------------------- */

typedef enum file_kind { KIND_SERVICE, KIND_DEVICES, KIND_PIPELINES } file_kind;

/* Where a device's id and name were written, for the cross-file checks. */
typedef struct device_marks {
    ps_config_pos id;
    ps_config_pos name;
} device_marks;

typedef struct loader {
    ps_config *cfg;
    ps_diag *diag;
    size_t cap_devices, cap_marks, cap_pfiles, cap_files, cap_ofiles;
    device_marks *marks; /* parallel to cfg->devices */
    ps_err err;          /* PS_ERR_NOMEM once an allocation failed */
} loader;

#define SERVICE_FILE "podstream.yml"

static void warn(loader *l, const char *file, int line, int col, const char *path, const char *fmt,
                 ...) PS_PRINTF(6, 7);
static void error(loader *l, const char *file, int line, int col, const char *path, const char *fmt,
                  ...) PS_PRINTF(6, 7);

static void warn(loader *l, const char *file, int line, int col, const char *path, const char *fmt,
                 ...)
{
    va_list ap;
    va_start(ap, fmt);
    ps_diag_addv(l->diag, PS_DIAG_WARNING, file, line, col, path, fmt, ap);
    va_end(ap);
}

static void error(loader *l, const char *file, int line, int col, const char *path, const char *fmt,
                  ...)
{
    va_list ap;
    va_start(ap, fmt);
    ps_diag_addv(l->diag, PS_DIAG_ERROR, file, line, col, path, fmt, ap);
    va_end(ap);
}

static void nomem(loader *l)
{
    if (l->err == PS_OK)
        ps_diag_add(l->diag, PS_DIAG_ERROR, NULL, 0, 0, NULL,
                    "out of memory while reading the configuration");
    l->err = PS_ERR_NOMEM;
}

/* Keeps a copy of a file name for the lifetime of the config; positions point at it. */
static const char *keep_file_name(loader *l, const char *name)
{
    ps_config *cfg = l->cfg;
    char *copy;
    if (ps_mem_grow_array((void **)&cfg->files, &l->cap_files, cfg->nfiles, sizeof *cfg->files) !=
        PS_OK) {
        nomem(l);
        return NULL;
    }
    copy = strdup(name);
    if (!copy) {
        nomem(l);
        return NULL;
    }
    cfg->files[cfg->nfiles++] = copy;
    return copy;
}

static ps_schema_ctx schema_ctx(loader *l, const char *file)
{
    ps_schema_ctx ctx = {l->diag, file, l->cfg->dir, ps_plat_default_state_dir()};
    return ctx;
}

static void note_schema_result(loader *l, ps_err e)
{
    if (e == PS_ERR_NOMEM)
        l->err = PS_ERR_NOMEM;
}

static ps_config_pos pos_of(const char *file, const ps_yaml_node *n)
{
    ps_config_pos p = {NULL, 0, 0};
    if (n) {
        p.file = file;
        p.line = n->line;
        p.col = n->col;
    }
    return p;
}

/* ---- service settings ----------------------------------------------------- */

/* True when `file` already has an error at field `path`: a value that did not
 * parse holds no meaning to compare. */
static bool has_error_at(const loader *l, const char *file, const char *path)
{
    for (size_t i = 0; i < l->diag->count; i++) {
        const ps_diag_item *it = &l->diag->items[i];
        if (it->sev == PS_DIAG_ERROR && it->path && it->file && strcmp(it->path, path) == 0 &&
            strcmp(it->file, file) == 0)
            return true;
    }
    return false;
}

/* A duration pair that must be ordered: reported at whichever of the two was
 * written (the later one when both were), and not at all when either is already
 * in error. */
static void check_order(loader *l, const char *file, const ps_yaml_node *root, const char *shorter,
                        int64_t shorter_ms, const char *longer, int64_t longer_ms, bool strict)
{
    const ps_yaml_node *ns = ps_yaml_map_get(root, shorter);
    const ps_yaml_node *nl = ps_yaml_map_get(root, longer);
    char a[32], b[32];
    if ((strict ? shorter_ms < longer_ms : shorter_ms <= longer_ms) ||
        has_error_at(l, file, shorter) || has_error_at(l, file, longer))
        return;
    ps_time_format_duration(shorter_ms, a, sizeof a);
    ps_time_format_duration(longer_ms, b, sizeof b);
    if (nl)
        error(l, file, nl->line, nl->col, longer, "%s must be %s %s (%s)", b,
              strict ? "longer than" : "at least", shorter, a);
    else if (ns)
        error(l, file, ns->line, ns->col, shorter, "%s must be %s %s (%s)", a,
              strict ? "shorter than" : "at most", longer, b);
}

static void check_service(loader *l, const char *file, const ps_yaml_node *root)
{
    const ps_service_settings *s = &l->cfg->service;
    if (!root || root->kind != PS_YAML_MAP)
        return;
    check_order(l, file, root, "keepalive", s->keepalive_ms, "dead_after", s->dead_after_ms, true);
    check_order(l, file, root, "backoff_initial", s->backoff_initial_ms, "backoff_max",
                s->backoff_max_ms, false);
    check_order(l, file, root, "archive_delay", s->archive_delay_ms, "repair_trip_max_age",
                s->repair_trip_max_age_ms, false);
    if (!s->proxy) {
        static const char *const creds[] = {"proxy_username", "proxy_password"};
        for (size_t i = 0; i < 2; i++) {
            const ps_yaml_node *n = ps_yaml_map_get(root, creds[i]);
            if (n && !ps_yaml_is_null(n))
                warn(l, file, n->line, n->col, creds[i], "ignored because proxy is not set");
        }
    }
}

static void load_service(loader *l, const ps_config_source *src)
{
    ps_schema_ctx ctx;
    ps_yaml_doc *doc = NULL;
    const ps_yaml_node *root;
    const char *file;

    if (!src) {
        ctx = schema_ctx(l, NULL);
        note_schema_result(l, ps_schema_defaults(ps_schema_service(), &l->cfg->service, &ctx));
        return;
    }
    file = keep_file_name(l, src->name);
    if (!file)
        return;
    ctx = schema_ctx(l, file);
    if (ps_yaml_load_buffer(file, src->data, src->len, &doc, l->diag) != PS_OK) {
        /* Keep the struct usable: every setting at its default. */
        note_schema_result(l, ps_schema_defaults(ps_schema_service(), &l->cfg->service, &ctx));
        return;
    }
    root = ps_yaml_doc_root(doc);
    l->cfg->main_file = !root || ps_yaml_is_null(root) ? PS_MAIN_FILE_EMPTY : PS_MAIN_FILE_PRESENT;
    {
        ps_yaml_node tmp;
        void *mem = NULL;
        const ps_yaml_node *outputs = NULL, *rest = root;
        if (pc_outputs_split(root, &tmp, &mem, &outputs, &rest) != PS_OK)
            nomem(l);
        note_schema_result(l,
                           ps_schema_parse(ps_schema_service(), rest, &l->cfg->service, "", &ctx));
        free(mem);
        check_service(l, file, root);
        if (outputs && !ps_yaml_is_null(outputs)) {
            if (pc_outputs_keep(l->cfg, &l->cap_ofiles, doc, outputs) != PS_OK)
                nomem(l);
            return;
        }
    }
    ps_yaml_doc_destroy(doc);
}

/* ---- devices -------------------------------------------------------------- */

static void device_free(ps_device *d)
{
    ps_schema_free(ps_schema_device(), d);
    free(d->path);
    d->path = NULL;
}

static void load_device(loader *l, const char *file, const ps_yaml_node *n, size_t index)
{
    ps_config *cfg = l->cfg;
    ps_schema_ctx ctx = schema_ctx(l, file);
    char path[64];
    ps_device *d;

    snprintf(path, sizeof path, "devices[%zu]", index);
    if (n->kind != PS_YAML_MAP) {
        error(l, file, n->line, n->col, path, "expected a device (a mapping), got %s",
              ps_schema_describe(n));
        return;
    }
    if (ps_mem_grow_array((void **)&cfg->devices, &l->cap_devices, cfg->ndevices,
                          sizeof *cfg->devices) != PS_OK ||
        ps_mem_grow_array((void **)&l->marks, &l->cap_marks, cfg->ndevices, sizeof *l->marks) !=
            PS_OK) {
        nomem(l);
        return;
    }
    d = &cfg->devices[cfg->ndevices];
    memset(d, 0, sizeof *d);
    note_schema_result(l, ps_schema_parse(ps_schema_device(), n, d, path, &ctx));
    d->pos = pos_of(file, n);
    d->path = strdup(path);
    if (!d->path) {
        device_free(d);
        nomem(l);
        return;
    }
    l->marks[cfg->ndevices].id = pos_of(file, ps_yaml_map_get(n, "id"));
    l->marks[cfg->ndevices].name = pos_of(file, ps_yaml_map_get(n, "name"));
    cfg->ndevices++;
}

static void load_device_list(loader *l, const char *file, const ps_yaml_node *list)
{
    for (size_t i = 0; i < list->count && l->err == PS_OK; i++)
        load_device(l, file, list->items[i], i);
}

/* ---- pipelines ------------------------------------------------------------ */

/* Keeps `doc` (ownership moves to the config) with `list` as its pipelines. */
static bool keep_pipelines(loader *l, ps_yaml_doc *doc, const ps_yaml_node *list)
{
    ps_config *cfg = l->cfg;
    if (ps_mem_grow_array((void **)&cfg->pipeline_files, &l->cap_pfiles, cfg->npipeline_files,
                          sizeof *cfg->pipeline_files) != PS_OK) {
        nomem(l);
        return false;
    }
    cfg->pipeline_files[cfg->npipeline_files].doc = doc;
    cfg->pipeline_files[cfg->npipeline_files].list = list;
    cfg->npipeline_files++;
    return true;
}

/* ---- one devices/ or pipelines/ file --------------------------------------- */

static void load_wrapper(loader *l, const char *file, const ps_yaml_node *root,
                         const ps_yaml_node **pipelines)
{
    static const char *const keys[] = {"devices", "pipelines", NULL};
    for (size_t i = 0; i < root->count; i++) {
        const ps_yaml_node *k = root->keys[i], *v = root->items[i];
        if (strcmp(k->value, "devices") == 0) {
            if (ps_yaml_is_null(v))
                continue;
            if (v->kind != PS_YAML_SEQ) {
                error(l, file, v->line, v->col, "devices", "expected a list of devices, got %s",
                      ps_schema_describe(v));
                continue;
            }
            load_device_list(l, file, v);
        } else if (strcmp(k->value, "pipelines") == 0) {
            if (ps_yaml_is_null(v))
                continue;
            if (v->kind == PS_YAML_SCALAR) {
                error(l, file, v->line, v->col, "pipelines", "expected a list of pipelines, got %s",
                      ps_schema_describe(v));
                continue;
            }
            *pipelines = v;
        } else {
            const char *guess = ps_suggest(k->value, keys);
            if (guess)
                error(l, file, k->line, k->col, k->value,
                      "unknown key \"%.200s\" (did you mean \"%s\"?)", k->value, guess);
            else
                error(l, file, k->line, k->col, k->value,
                      "unknown key \"%.200s\" (a file with a devices: or pipelines: list "
                      "holds nothing else)",
                      k->value);
        }
    }
}

/* Tells a Director-style wrapper (devices: / pipelines: lists) from one device
 * mapping, which may itself have a pipelines: list of names. A misspelt wrapper key
 * ("device:") still counts as a wrapper so that the typo is what gets reported. */
static bool looks_like_wrapper(const ps_yaml_node *root)
{
    static const char *const keys[] = {"devices", "pipelines", NULL};
    static const char *const device_keys[] = {"id", "name", "type", "properties"};
    if (ps_yaml_map_get(root, "devices"))
        return true;
    for (size_t i = 0; i < sizeof device_keys / sizeof device_keys[0]; i++)
        if (ps_yaml_map_get(root, device_keys[i]))
            return false;
    if (ps_yaml_map_get(root, "pipelines"))
        return true;
    for (size_t i = 0; i < root->count; i++)
        if (root->items[i]->kind == PS_YAML_SEQ && ps_suggest(root->keys[i]->value, keys))
            return true;
    return false;
}

static void load_file(loader *l, const ps_config_source *src, file_kind kind)
{
    const char *file = keep_file_name(l, src->name);
    ps_yaml_doc *doc = NULL;
    const ps_yaml_node *root, *pipelines = NULL;

    if (!file)
        return;
    if (ps_yaml_load_buffer(file, src->data, src->len, &doc, l->diag) != PS_OK)
        return;
    root = ps_yaml_doc_root(doc);
    if (!root || ps_yaml_is_null(root)) {
        /* An empty file (or one holding only comments) defines nothing. */
    } else if (root->kind == PS_YAML_MAP && looks_like_wrapper(root)) {
        load_wrapper(l, file, root, &pipelines);
    } else if (root->kind == PS_YAML_SCALAR) {
        error(l, file, root->line, root->col, NULL,
              kind == KIND_DEVICES
                  ? "expected a devices: list, a list of devices or one device, got %s"
                  : "expected a pipelines: list, a list of pipelines or one pipeline, got %s",
              ps_schema_describe(root));
    } else if (kind == KIND_DEVICES && root->kind == PS_YAML_SEQ) {
        load_device_list(l, file, root);
    } else if (kind == KIND_DEVICES) {
        load_device(l, file, root, 0);
    } else {
        pipelines = root;
    }
    if (pipelines && keep_pipelines(l, doc, pipelines))
        return;
    ps_yaml_doc_destroy(doc);
}

/* ---- cross-file checks ---------------------------------------------------- */

/* One device reduced to what the duplicate checks sort by. */
typedef struct dup_key {
    long long id;
    const char *name;
    size_t index; /* in cfg->devices: ties keep file order, so the first use wins */
} dup_key;

static int cmp_index(size_t a, size_t b)
{
    return a < b ? -1 : (a > b);
}

static int cmp_by_id(const void *a, const void *b)
{
    const dup_key *x = a, *y = b;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return cmp_index(x->index, y->index);
}

static int cmp_by_name(const void *a, const void *b)
{
    const dup_key *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : cmp_index(x->index, y->index);
}

/* Reports each repeat of an id (error) or a name (warning) against its first use.
 * Sorting keeps this fast for the thousands of devices a fuzzer writes. */
static void check_duplicates(loader *l)
{
    const ps_config *cfg = l->cfg;
    dup_key *keys;
    if (cfg->ndevices < 2 || !l->marks)
        return;
    keys = malloc(cfg->ndevices * sizeof *keys);
    if (!keys) {
        nomem(l);
        return;
    }
    for (int pass = 0; pass < 2; pass++) {
        size_t n = 0, first = 0;
        for (size_t i = 0; i < cfg->ndevices; i++) {
            const ps_device *d = &cfg->devices[i];
            const device_marks *m = &l->marks[i];
            /* Only values that were written and parsed can clash. */
            if (pass == 0 ? (m->id.file && d->id > 0) : (m->name.file && d->name != NULL))
                keys[n++] = (dup_key){d->id, d->name, i};
        }
        qsort(keys, n, sizeof *keys, pass == 0 ? cmp_by_id : cmp_by_name);
        for (size_t i = 1; i < n; i++) {
            const dup_key *a = &keys[first], *b = &keys[i];
            const device_marks *ma = &l->marks[a->index], *mb = &l->marks[b->index];
            const char *bpath = cfg->devices[b->index].path;
            char path[80];
            if (pass == 0 ? a->id != b->id : strcmp(a->name, b->name) != 0) {
                first = i;
                continue;
            }
            if (pass == 0) {
                snprintf(path, sizeof path, "%s.id", bpath);
                error(l, mb->id.file, mb->id.line, mb->id.col, path,
                      "duplicate id %lld (also in %s:%d:%d)", b->id, ma->id.file, ma->id.line,
                      ma->id.col);
            } else {
                snprintf(path, sizeof path, "%s.name", bpath);
                warn(l, mb->name.file, mb->name.line, mb->name.col, path,
                     "duplicate name \"%.100s\" (also in %s:%d:%d)", b->name, ma->name.file,
                     ma->name.line, ma->name.col);
            }
        }
    }
    free(keys);
}

/* ---- entry points --------------------------------------------------------- */

static bool has_prefix(const char *s, const char *dir)
{
    size_t n = strlen(dir);
    return strncmp(s, dir, n) == 0 && (s[n] == '/' || s[n] == '\\') && s[n + 1] != '\0';
}

static char *trimmed_dir(const char *dir)
{
    char *d = strdup(dir);
    size_t n;
    if (!d)
        return NULL;
    n = strlen(d);
    while (n > 1 && (d[n - 1] == '/' || d[n - 1] == '\\'))
        d[--n] = '\0';
    return d;
}

/* With `keep`, a config with errors is handed out too (see ps_config_load_partial). */
static ps_err load_sources(const char *dir, const ps_config_source *sources, size_t count,
                           bool keep, ps_config **out, ps_diag *diag)
{
    loader l;
    size_t errors_before = diag->errors;
    const ps_config_source *service = NULL;

    *out = NULL;
    memset(&l, 0, sizeof l);
    l.diag = diag;
    l.cfg = calloc(1, sizeof *l.cfg);
    if (!l.cfg) {
        nomem(&l);
        return PS_ERR_NOMEM;
    }
    l.cfg->dir = trimmed_dir(dir ? dir : ".");
    if (!l.cfg->dir) {
        nomem(&l);
        goto out;
    }
    for (size_t i = 0; i < count; i++) {
        if (strcmp(sources[i].name, SERVICE_FILE) != 0)
            continue;
        if (service)
            error(&l, sources[i].name, 0, 0, NULL, "given twice");
        service = &sources[i];
    }
    load_service(&l, service);
    for (size_t i = 0; i < count && l.err == PS_OK; i++) {
        const ps_config_source *src = &sources[i];
        if (src == service || strcmp(src->name, SERVICE_FILE) == 0)
            continue;
        if (has_prefix(src->name, "devices")) {
            load_file(&l, src, KIND_DEVICES);
        } else if (has_prefix(src->name, "pipelines")) {
            load_file(&l, src, KIND_PIPELINES);
        } else if (has_prefix(src->name, "outputs")) {
            const char *file = keep_file_name(&l, src->name);
            if (file && pc_outputs_load_file(l.cfg, &l.cap_ofiles, file, src->data, src->len,
                                             diag) != PS_OK)
                nomem(&l);
        } else {
            error(&l, src->name, 0, 0, NULL,
                  "not a configuration file: expected podstream.yml, devices/*.yml or "
                  "pipelines/*.yml");
        }
    }
    if (l.err == PS_OK)
        check_duplicates(&l);
    /* Not when errors explain it (a devices file that did not parse). */
    if (l.err == PS_OK && l.cfg->ndevices == 0 && diag->errors == errors_before) {
        /* Joined as every other path: in the directory's own spelling on Windows. */
        char *devices = ps_plat_path_join(l.cfg->dir, "devices");
        warn(&l, NULL, 0, 0, NULL, "no devices configured; add a file in %s",
             devices ? devices : "devices");
        free(devices);
    }
out:
    free(l.marks);
    if (l.err != PS_OK || (!keep && (diag->errors > errors_before || diag->oom))) {
        ps_config_destroy(l.cfg);
        return l.err != PS_OK ? l.err : PS_ERR_INVALID;
    }
    *out = l.cfg;
    return diag->errors > errors_before || diag->oom ? PS_ERR_INVALID : PS_OK;
}

ps_err ps_config_load_sources(const char *dir, const ps_config_source *sources, size_t count,
                              ps_config **out, ps_diag *diag)
{
    return load_sources(dir, sources, count, false, out, diag);
}

ps_err ps_config_load_sources_partial(const char *dir, const ps_config_source *sources,
                                      size_t count, ps_config **out, ps_diag *diag)
{
    return load_sources(dir, sources, count, true, out, diag);
}

/* Appends one file read from disk to the source list. */
typedef struct source_list {
    ps_config_source *items; /* name and data of each are owned here */
    size_t count, cap;
} source_list;

static void sources_free(source_list *s)
{
    for (size_t i = 0; i < s->count; i++) {
        free((char *)s->items[i].name);
        free((char *)s->items[i].data);
    }
    free(s->items);
}

static ps_err sources_add(source_list *s, const char *dir, const char *name, ps_diag *diag)
{
    char *full = ps_plat_path_join(dir, name);
    char *buf = NULL, *copy = NULL;
    size_t len = 0;
    ps_errmsg em;
    ps_err err;

    if (!full)
        return PS_ERR_NOMEM;
    err = ps_plat_read_file(full, PS_YAML_MAX_FILE_BYTES, &buf, &len, &em);
    free(full);
    if (err == PS_ERR_NOMEM)
        return err;
    if (err != PS_OK) {
        ps_diag_add(diag, PS_DIAG_ERROR, name, 0, 0, NULL, "%s", em.text);
        return PS_OK;
    }
    if (ps_mem_grow_array((void **)&s->items, &s->cap, s->count, sizeof *s->items) != PS_OK ||
        !(copy = strdup(name))) {
        free(buf);
        return PS_ERR_NOMEM;
    }
    s->items[s->count].name = copy;
    s->items[s->count].data = buf;
    s->items[s->count].len = len;
    s->count++;
    return PS_OK;
}

static const char *const yaml_suffixes[] = {".yml", ".yaml", NULL};

typedef struct skipped_ctx {
    const char *sub;
    ps_diag *diag;
} skipped_ctx;

/* A devices file turned into a FIFO or a dangling link would otherwise vanish
 * silently, and a running service would remove the devices it held. */
static void report_skipped(void *ctx, const char *name, const char *why)
{
    const skipped_ctx *c = ctx;
    char rel[1024];
    snprintf(rel, sizeof rel, "%s/%s", c->sub, name);
    ps_diag_add(c->diag, PS_DIAG_ERROR, rel, 0, 0, NULL, "%s", why);
}

/* Adds every YAML file of `sub` (a missing directory is fine); an entry with a YAML
 * name that is not a regular file is an error. */
static ps_err sources_add_dir(source_list *s, const char *dir, const char *sub, ps_diag *diag)
{
    skipped_ctx sctx = {sub, diag};
    char *full = ps_plat_path_join(dir, sub);
    char **names = NULL;
    size_t n = 0;
    ps_errmsg em;
    ps_err err;

    if (!full)
        return PS_ERR_NOMEM;
    err = ps_plat_list_dir_checked(full, yaml_suffixes, report_skipped, &sctx, &names, &n, &em);
    free(full);
    if (err == PS_ERR_NOTFOUND)
        return PS_OK;
    if (err == PS_ERR_NOMEM)
        return err;
    if (err != PS_OK) {
        ps_diag_add(diag, PS_DIAG_ERROR, sub, 0, 0, NULL, "%s", em.text);
        return PS_OK;
    }
    for (size_t i = 0; i < n && err == PS_OK; i++) {
        char rel[1024];
        snprintf(rel, sizeof rel, "%s/%s", sub, names[i]);
        err = sources_add(s, dir, rel, diag);
    }
    ps_plat_free_list(names, n);
    return err;
}

static ps_err load_dir(const char *dir, bool keep, ps_config **out, ps_diag *diag)
{
    size_t errors_before = diag->errors;
    source_list s;
    char *abs = NULL, **top = NULL;
    size_t ntop = 0;
    ps_errmsg em;
    ps_err err = PS_OK;

    *out = NULL;
    memset(&s, 0, sizeof s);
    abs = ps_plat_path_absolute(dir);
    if (!abs) {
        ps_diag_add(diag, PS_DIAG_ERROR, NULL, 0, 0, NULL,
                    "cannot make %s an absolute path (out of memory, or the current "
                    "directory is gone)",
                    dir);
        return PS_ERR_NOMEM;
    }
    if (!ps_plat_is_dir(abs)) {
        bool exists = ps_plat_file_exists(abs);
        ps_diag_add(diag, PS_DIAG_ERROR, NULL, 0, 0, NULL,
                    exists ? "configuration directory %s is not a directory"
                           : "configuration directory %s does not exist",
                    abs);
        free(abs);
        return exists ? PS_ERR_INVALID : PS_ERR_NOTFOUND;
    }
    /* Director users sometimes drop a combined devices file at the top level. */
    if (ps_plat_list_dir(abs, yaml_suffixes, &top, &ntop, &em) == PS_OK) {
        for (size_t i = 0; i < ntop; i++)
            if (strcmp(top[i], SERVICE_FILE) != 0)
                ps_diag_add(diag, PS_DIAG_WARNING, top[i], 0, 0, NULL,
                            "ignored: only podstream.yml is read here; devices go in "
                            "devices/ and pipelines in pipelines/");
        ps_plat_free_list(top, ntop);
    }
    {
        char *svc = ps_plat_path_join(abs, SERVICE_FILE);
        if (!svc) {
            err = PS_ERR_NOMEM;
            goto out;
        }
        if (ps_plat_file_exists(svc))
            err = sources_add(&s, abs, SERVICE_FILE, diag);
        free(svc);
    }
    if (err == PS_OK)
        err = sources_add_dir(&s, abs, "devices", diag);
    if (err == PS_OK)
        err = sources_add_dir(&s, abs, "pipelines", diag);
    if (err == PS_OK)
        err = sources_add_dir(&s, abs, "outputs", diag);
    if (err == PS_OK)
        err = load_sources(abs, s.items, s.count, keep, out, diag);
    if (err == PS_OK && (diag->errors > errors_before || diag->oom)) {
        /* A file that could not be read failed the load too. */
        err = PS_ERR_INVALID;
        if (!keep) {
            ps_config_destroy(*out);
            *out = NULL;
        }
    }
out:
    if (err == PS_ERR_NOMEM)
        ps_diag_add(diag, PS_DIAG_ERROR, NULL, 0, 0, NULL,
                    "out of memory while reading the configuration");
    sources_free(&s);
    free(abs);
    return err;
}

ps_err ps_config_load(const char *dir, ps_config **out, ps_diag *diag)
{
    return load_dir(dir, false, out, diag);
}

ps_err ps_config_load_partial(const char *dir, ps_config **out, ps_diag *diag)
{
    return load_dir(dir, true, out, diag);
}

void ps_config_destroy(ps_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->ndevices; i++)
        device_free(&cfg->devices[i]);
    free(cfg->devices);
    for (size_t i = 0; i < cfg->npipeline_files; i++)
        ps_yaml_doc_destroy(cfg->pipeline_files[i].doc);
    free(cfg->pipeline_files);
    for (size_t i = 0; i < cfg->noutput_files; i++)
        ps_yaml_doc_destroy(cfg->output_files[i].doc);
    free(cfg->output_files);
    ps_schema_free(ps_schema_service(), &cfg->service);
    for (size_t i = 0; i < cfg->nfiles; i++)
        free(cfg->files[i]);
    free(cfg->files);
    free(cfg->dir);
    free(cfg);
}

const ps_device *ps_config_find_device(const ps_config *cfg, long long id)
{
    for (size_t i = 0; cfg && i < cfg->ndevices; i++)
        if (cfg->devices[i].id == id)
            return &cfg->devices[i];
    return NULL;
}

bool ps_device_equal(const ps_device *a, const ps_device *b)
{
    /* Every schema field, nothing else: where a device is written (its position,
     * its index in the file) does not change how it streams. */
    return ps_schema_equal(ps_schema_device(), a, b);
}
