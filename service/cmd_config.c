/* podstream config show: the effective configuration, every setting with its
 * default filled in, as YAML or JSON, for people, scripts and the GUI. It walks the
 * schema tables (ps_schema), the same ones that parse the files, so a new setting
 * shows up here by itself. Tokens and passwords (F_SECRET fields) are never shown:
 * only where they come from (ps_secret_source). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "podstream/ps_config.h"
#include "podstream/ps_diag.h"
#include "podstream/ps_schema.h"
#include "podstream/ps_secret.h"
#include "podstream/ps_time.h"

static const char *const cmd = "config";

typedef struct config_opts {
    const char *config;
    int format; /* 0 yaml, 1 json */
} config_opts;

static const ps_opt options[] = {
    {"config", 'c', PS_OPT_STRING, "DIR", offsetof(config_opts, config),
     "configuration directory (default: $PODSTREAM_CONFIG_DIR,\nelse {config_dir})", NULL, 0, 0,
     NULL},
    {"format", 0, PS_OPT_CHOICE, "FORMAT", offsetof(config_opts, format), "yaml (default) or json",
     NULL, 0, 0, "yaml|json"},
};

const ps_opt_cmd ps_cmd_config_opts = {
    "config",
    "show the effective configuration, defaults filled in",
    "show [-c DIR] [--format yaml|json]",
    "show  prints the configuration the service would run with: every setting of\n"
    "      podstream.yml and every field of every device, with the defaults of what\n"
    "      the files leave out and paths made absolute. Tokens and passwords are\n"
    "      replaced by where they come from: the ${VAR} or $secret{name} reference,\n"
    "      \"encrypted\" (secure: true) or \"in the file\".\n"
    "\n"
    "The JSON form is one object: {\"config_dir\": ..., \"service\": {setting: value},\n"
    "\"devices\": [{field: value, \"properties\": {...}}]}. Sizes are strings as the\n"
    "files write them (\"20GiB\"), durations likewise (\"30s\"), absent optional values\n"
    "null.",
    options,
    sizeof options / sizeof options[0],
    "Exit codes: 0 success, 2 usage error, 3 invalid configuration (the problems are\n"
    "printed as podstream validate prints them).",
    0,
};

static cJSON *table_json(const ps_schema_table *t, const void *base);

static cJSON *string_json(const char *s)
{
    return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

/* A secret's source; `secure` says the table's own secure: flag is on. */
static cJSON *secret_json(const ps_schema_field *f, const void *base, bool secure)
{
    const char *v = *(char *const *)((const char *)base + f->offset);
    return v ? cJSON_CreateString(ps_secret_source(v, secure)) : cJSON_CreateNull();
}

static cJSON *list_json(const ps_schema_field *f, const void *base)
{
    char *const *v = *(char *const *const *)((const char *)base + f->offset);
    size_t n = *(const size_t *)((const char *)base + f->count_offset);
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
    return a;
}

static cJSON *field_json(const ps_schema_field *f, const void *base, bool secure)
{
    const char *p = (const char *)base + f->offset;
    char buf[64];
    if (f->flags & PS_SCHEMA_F_SECRET)
        return secret_json(f, base, secure);
    switch (f->type) {
    case PS_SCHEMA_INT:
        return cJSON_CreateNumber(f->size == sizeof(int) ? (double)*(const int *)p
                                                         : (double)*(const long long *)p);
    case PS_SCHEMA_BOOL:
        return cJSON_CreateBool(*(const bool *)p);
    case PS_SCHEMA_STRING:
    case PS_SCHEMA_PATH:
        return string_json(*(char *const *)p);
    case PS_SCHEMA_STRLIST:
        return list_json(f, base);
    case PS_SCHEMA_ENUM:
        if (f->flags & PS_SCHEMA_F_ENUM_STRING)
            return string_json(*(char *const *)p);
        return cJSON_CreateString(f->enum_values[*(const int *)p]);
    case PS_SCHEMA_OBJECT:
        return table_json(f->object, p);
    case PS_SCHEMA_SIZE:
        ps_schema_format_size(*(const uint64_t *)p, buf, sizeof buf);
        return cJSON_CreateString(buf);
    case PS_SCHEMA_DURATION:
        ps_time_format_duration(*(const int64_t *)p, buf, sizeof buf);
        return cJSON_CreateString(buf);
    }
    return cJSON_CreateNull();
}

/* Every field of `t` in `base`, in table order. */
static cJSON *table_json(const ps_schema_table *t, const void *base)
{
    cJSON *o = cJSON_CreateObject();
    const ps_schema_field *sf = ps_schema_find(t, "secure");
    bool secure =
        sf && sf->type == PS_SCHEMA_BOOL && *(const bool *)((const char *)base + sf->offset);
    for (size_t i = 0; i < t->count; i++)
        cJSON_AddItemToObject(o, t->fields[i].name, field_json(&t->fields[i], base, secure));
    return o;
}

/* ---- YAML: the same tree, written as the files write it ------------------------- */

static void yaml_scalar(const cJSON *v, FILE *out)
{
    char *text;
    if (cJSON_IsString(v) && v->valuestring[0] && !strpbrk(v->valuestring, ":#{}[],&*!|>'\"%@`") &&
        !strchr(" -?", v->valuestring[0]) && strcmp(v->valuestring, "true") != 0 &&
        strcmp(v->valuestring, "false") != 0 && strcmp(v->valuestring, "null") != 0 &&
        !(v->valuestring[0] >= '0' && v->valuestring[0] <= '9')) {
        fputs(v->valuestring, out);
        return;
    }
    /* Anything else as JSON, which YAML reads the same: quoted strings, numbers. */
    text = cJSON_PrintUnformatted(v);
    fputs(text ? text : "null", out);
    cJSON_free(text);
}

static void yaml_node(const cJSON *v, int indent, FILE *out);

static void yaml_member(const cJSON *m, int indent, bool first_in_item, FILE *out)
{
    if (!first_in_item)
        fprintf(out, "%*s", indent, "");
    fprintf(out, "%s:", m->string);
    if ((cJSON_IsObject(m) || cJSON_IsArray(m)) && m->child) {
        fputc('\n', out);
        yaml_node(m, indent + 2, out);
    } else {
        fputc(' ', out);
        if (cJSON_IsArray(m))
            fputs("[]", out);
        else if (cJSON_IsObject(m))
            fputs("{}", out);
        else
            yaml_scalar(m, out);
        fputc('\n', out);
    }
}

static void yaml_node(const cJSON *v, int indent, FILE *out)
{
    const cJSON *c;
    if (cJSON_IsObject(v)) {
        for (c = v->child; c; c = c->next)
            yaml_member(c, indent, false, out);
        return;
    }
    for (c = v->child; c; c = c->next) {
        fprintf(out, "%*s- ", indent, "");
        if (cJSON_IsObject(c) && c->child) {
            yaml_member(c->child, indent + 2, true, out);
            for (const cJSON *m = c->child->next; m; m = m->next)
                yaml_member(m, indent + 2, false, out);
        } else {
            yaml_scalar(c, out);
            fputc('\n', out);
        }
    }
}

/* ---- the command ---------------------------------------------------------------- */

static int show(const ps_config *cfg, int format)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *devs;
    int rc = PS_EXIT_OK;
    cJSON_AddStringToObject(root, "config_dir", cfg->dir);
    cJSON_AddItemToObject(root, "service", table_json(ps_schema_service(), &cfg->service));
    devs = cJSON_AddArrayToObject(root, "devices");
    for (size_t i = 0; i < cfg->ndevices; i++)
        cJSON_AddItemToArray(devs, table_json(ps_schema_device(), &cfg->devices[i]));
    if (format == 1) {
        char *text = cJSON_Print(root);
        if (!text || printf("%s\n", text) < 0)
            rc = PS_EXIT_FAILURE;
        cJSON_free(text);
    } else {
        printf("# The effective configuration of %s (podstream config show)\n", cfg->dir);
        yaml_node(root, 0, stdout);
    }
    cJSON_Delete(root);
    return fflush(stdout) == 0 ? rc : PS_EXIT_FAILURE;
}

int ps_cmd_config(int argc, char **argv)
{
    config_opts o = {NULL, 0};
    ps_opt_list args = {NULL, 0};
    bool has_action = argc >= 2 && argv[1][0] != '-';
    ps_config *cfg = NULL;
    ps_diag diag;
    ps_err err;
    int rc;

    if (has_action && strcmp(argv[1], "show") != 0)
        return ps_cli_usage_error(cmd, "unknown action '%s'; expected show", argv[1]);
    rc = ps_cli_parse(&ps_cmd_config_opts, argc - has_action, argv + has_action, &o, &args);
    if (rc == PS_CLI_RUN && !has_action)
        rc = ps_cli_usage_error(cmd, "expected an action: show");
    else if (rc == PS_CLI_RUN && args.n)
        rc = ps_cli_usage_error(cmd, "unexpected argument '%s' (use -c DIR for the directory)",
                                args.v[0]);
    ps_opt_list_free(&args);
    if (rc != PS_CLI_RUN)
        return rc;
    ps_diag_init(&diag);
    err = ps_config_load(ps_cli_config_dir(o.config), &cfg, &diag);
    ps_diag_sort(&diag);
    ps_diag_print(&diag, stderr);
    if (err != PS_OK || !cfg) {
        fprintf(stderr, "podstream %s: the configuration in %s is not valid\n", cmd,
                ps_cli_config_dir(o.config));
        rc = err == PS_ERR_NOMEM ? PS_EXIT_FAILURE : PS_EXIT_CONFIG;
    } else {
        rc = show(cfg, o.format);
    }
    ps_config_destroy(cfg);
    ps_diag_deinit(&diag);
    return rc;
}
