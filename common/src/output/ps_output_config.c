/* Outputs in the configuration: each mapping parsed against the common table and
 * its plugin's, merged into one table so that one ps_schema_parse reports every
 * unknown key with a did-you-mean, whichever table it was meant for. */
#include <stdlib.h>
#include <string.h>

#include "output/ps_output_internal.h"
#include "podstream/ps_suggest.h"

/* The plugin's options follow the settings in one block, at this offset. */
#define OPT_OFFSET ((sizeof(ps_output_settings) + 15u) & ~(size_t)15u)

static ps_err merge_table(ps_output_def *d, const ps_output_plugin *pl)
{
    const ps_schema_table *c = ps_output_common_options();
    size_t np = pl && pl->options ? pl->options->count : 0;
    d->fields = calloc(c->count + np + 1, sizeof *d->fields);
    d->block = calloc(1, OPT_OFFSET + (pl ? pl->options_size : 0) + 1);
    if (!d->fields || !d->block)
        return PS_ERR_NOMEM;
    memcpy(d->fields, c->fields, c->count * sizeof *d->fields);
    for (size_t i = 0; i < np; i++) {
        ps_schema_field *f = &d->fields[c->count + i];
        *f = pl->options->fields[i];
        f->offset += OPT_OFFSET;
        if (f->type == PS_SCHEMA_STRLIST)
            f->count_offset += OPT_OFFSET;
        if (f->flags & PS_SCHEMA_F_POS)
            f->pos_offset += OPT_OFFSET;
        if (f->flags & PS_SCHEMA_F_ITEMS_POS)
            f->items_pos_offset += OPT_OFFSET;
    }
    d->table = (ps_schema_table){
        .name = pl ? pl->name : "output", .fields = d->fields, .count = c->count + np};
    d->s = d->block;
    d->options = (char *)d->block + OPT_OFFSET;
    d->plugin = pl;
    return PS_OK;
}

static void def_free(ps_output_def *d)
{
    if (d->block)
        ps_schema_free(&d->table, d->block);
    free(d->block);
    free(d->fields);
}

void ps_output_defs_destroy(ps_output_defs *defs)
{
    if (!defs)
        return;
    for (size_t i = 0; i < defs->count; i++)
        def_free(&defs->items[i]);
    free(defs->items);
    free(defs);
}

bool ps_output_def_equal(const ps_output_def *a, const ps_output_def *b)
{
    return a->plugin == b->plugin && ps_schema_equal(&a->table, a->block, b->block);
}

/* The plugin `type:` names, with a did-you-mean for a misspelt one. */
static const ps_output_plugin *find_plugin(const ps_yaml_node *map, const char *file,
                                           const char *path, ps_diag *diag)
{
    const ps_yaml_node *t = ps_yaml_map_get(map, "type");
    const char *names[32];
    size_t n = 0;
    const ps_output_plugin *pl;
    if (!t || t->kind != PS_YAML_SCALAR)
        return NULL; /* the schema reports it */
    pl = ps_output_plugin_find(t->value);
    if (pl)
        return pl;
    while (n < 31 && (pl = ps_output_plugin_at(n)) != NULL)
        names[n++] = pl->name;
    names[n] = NULL;
    {
        const char *near = ps_suggest(t->value, names);
        char fp[64];
        snprintf(fp, sizeof fp, "%s.type", path);
        ps_diag_add(diag, PS_DIAG_ERROR, file, t->line, t->col, fp,
                    "unknown output type \"%.100s\"%s%s%s", t->value,
                    near ? " (did you mean \"" : "", near ? near : "", near ? "\"?)" : "");
    }
    return NULL;
}

static bool device_known(const ps_config *cfg, const char *ref)
{
    char *end = NULL;
    long long id = strtoll(ref, &end, 10);
    for (size_t i = 0; i < cfg->ndevices; i++) {
        if (cfg->devices[i].name && strcmp(cfg->devices[i].name, ref) == 0)
            return true;
        if (end && *end == '\0' && end != ref && cfg->devices[i].id == id)
            return true;
    }
    return false;
}

/* msg is already formatted (the value in it); at the item's own position. */
static void item_error(ps_diag *diag, const ps_config_pos *pos, const char *file, int line,
                       const char *path, const char *key, size_t i, const char *msg)
{
    char fp[96];
    snprintf(fp, sizeof fp, "%s.%s[%zu]", path, key, i);
    ps_diag_add(diag, PS_DIAG_ERROR, pos && pos->file ? pos->file : file, pos ? pos->line : line,
                pos ? pos->col : 0, fp, "%s", msg);
}

/* What the tables cannot check: references to devices, types and pipelines. */
static void check_refs(const ps_output_def *d, const ps_config *cfg, const ps_pipeline_set *pipes,
                       const char *file, ps_diag *diag)
{
    const ps_output_settings *s = d->s;
    ps_data_type t;
    char m[256];
    for (size_t i = 0; i < s->ndevices; i++)
        if (!device_known(cfg, s->devices[i])) {
            snprintf(m, sizeof m, "no device has the name or id \"%.100s\"", s->devices[i]);
            item_error(diag, s->devices_pos ? &s->devices_pos[i] : NULL, file, s->pos.line, d->path,
                       "devices", i, m);
        }
    for (size_t i = 0; i < s->ntypes; i++)
        if (ps_data_type_parse(s->types[i], &t) != PS_OK) {
            snprintf(m, sizeof m, "unknown data type \"%.100s\" (message, maillog or audit)",
                     s->types[i]);
            item_error(diag, s->types_pos ? &s->types_pos[i] : NULL, file, s->pos.line, d->path,
                       "types", i, m);
        }
    for (size_t i = 0; pipes && i < s->npipelines; i++)
        if (!ps_pipeline_set_find(pipes, s->pipelines[i])) {
            snprintf(m, sizeof m, "no pipeline is called \"%.100s\"", s->pipelines[i]);
            item_error(diag, s->pipelines_pos ? &s->pipelines_pos[i] : NULL, file, s->pos.line,
                       d->path, "pipelines", i, m);
        }
    if (s->retry_min_ms > s->retry_max_ms)
        ps_diag_add(diag, PS_DIAG_ERROR, file, s->pos.line, s->pos.col, d->path,
                    "retry_min is longer than retry_max");
    if (!s->tls.cert_file != !s->tls.key_file)
        ps_diag_add(diag, PS_DIAG_ERROR, file, s->pos.line, s->pos.col, d->path,
                    "tls: cert_file and key_file go together");
}

static bool name_ok(const char *n)
{
    size_t len = strlen(n);
    if (len == 0 || len > 100)
        return false;
    for (const char *p = n; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-' || *p == '.'))
            return false;
    return true;
}

static ps_err parse_one(ps_output_defs *defs, const ps_config *cfg, const ps_yaml_node *map,
                        const char *file, ps_diag *diag)
{
    ps_output_def *d = &defs->items[defs->count];
    ps_schema_ctx ctx = {.diag = diag, .file = file, .config_dir = cfg->dir};
    memset(d, 0, sizeof *d);
    snprintf(d->path, sizeof d->path, "outputs[%zu]", defs->count);
    if (map->kind != PS_YAML_MAP) {
        ps_diag_add(diag, PS_DIAG_ERROR, file, map->line, map->col, d->path,
                    "expected an output mapping, got %s", ps_schema_describe(map));
        return PS_OK;
    }
    if (merge_table(d, find_plugin(map, file, d->path, diag)) != PS_OK) {
        def_free(d);
        return PS_ERR_NOMEM;
    }
    defs->count++;
    if (!d->plugin) {
        d->s->name = NULL;
        return PS_OK; /* reported; its keys would only add noise */
    }
    if (ps_schema_parse(&d->table, map, d->block, d->path, &ctx) == PS_ERR_NOMEM)
        return PS_ERR_NOMEM;
    d->s->pos = (ps_config_pos){file, map->line, map->col};
    {
        const ps_yaml_node *ov = ps_yaml_map_get(map, "oversized");
        if (ov)
            d->s->oversized_pos = (ps_config_pos){file, ov->line, ov->col};
        else
            d->s->oversized = (int)d->plugin->oversized_default;
    }
    if (d->s->name && !name_ok(d->s->name))
        ps_diag_add(diag, PS_DIAG_ERROR, file, map->line, map->col, d->path,
                    "name: 1 to 100 letters, digits, _, - or .");
    return PS_OK;
}

static void check_all(const ps_output_defs *defs, const ps_config *cfg,
                      const ps_pipeline_set *pipes, ps_diag *diag)
{
    for (size_t i = 0; i < defs->count; i++) {
        const ps_output_def *d = &defs->items[i];
        if (!d->plugin)
            continue;
        check_refs(d, cfg, pipes, d->s->pos.file, diag);
        if (d->plugin->check)
            d->plugin->check(d->s, d->options, d->path, diag);
        for (size_t j = 0; j < i && d->s->name; j++)
            if (defs->items[j].plugin && defs->items[j].s->name &&
                strcmp(defs->items[j].s->name, d->s->name) == 0)
                ps_diag_add(diag, PS_DIAG_ERROR, d->s->pos.file, d->s->pos.line, d->s->pos.col,
                            d->path, "output name \"%s\" is used twice (first at %s:%d)",
                            d->s->name, defs->items[j].s->pos.file, defs->items[j].s->pos.line);
    }
}

ps_err ps_output_defs_create(const ps_config *cfg, const ps_pipeline_set *pipes,
                             ps_output_defs **out, ps_diag *diag)
{
    size_t errors_before = diag->errors, total = 0;
    ps_output_defs *defs = calloc(1, sizeof *defs);
    ps_err err = PS_OK;
    *out = NULL;
    if (!defs)
        return PS_ERR_NOMEM;
    for (size_t f = 0; f < cfg->noutput_files; f++) {
        const ps_yaml_node *l = cfg->output_files[f].list;
        total += l->kind == PS_YAML_SEQ ? l->count : 1;
    }
    defs->items = calloc(total + 1, sizeof *defs->items);
    if (!defs->items)
        err = PS_ERR_NOMEM;
    for (size_t f = 0; f < cfg->noutput_files && err == PS_OK; f++) {
        const ps_yaml_node *l = cfg->output_files[f].list;
        const char *file = ps_yaml_doc_name(cfg->output_files[f].doc);
        if (l->kind != PS_YAML_SEQ) {
            err = parse_one(defs, cfg, l, file, diag);
            continue;
        }
        for (size_t i = 0; i < l->count && err == PS_OK; i++)
            err = parse_one(defs, cfg, l->items[i], file, diag);
    }
    if (err == PS_OK)
        check_all(defs, cfg, pipes, diag);
    if (err == PS_OK && diag->errors > errors_before)
        err = PS_ERR_INVALID;
    if (err != PS_OK) {
        ps_output_defs_destroy(defs);
        return err;
    }
    *out = defs;
    return PS_OK;
}
