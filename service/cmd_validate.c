/* podstream validate: loads the configuration directory the way the service does
 * (ps_loader), checks that every token resolves, and prints every problem of every
 * phase at once with its file:line:column and field path. When nothing is wrong it
 * prints a short summary of what the service would run. Never prints a token: only
 * where it comes from. */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "podstream/ps_config.h"
#include "podstream/ps_diag.h"
#include "podstream/ps_loader.h"
#include "podstream/ps_pipeline.h"
#include "podstream/ps_platform.h"
#include "podstream/ps_schema.h"
#include "podstream/ps_secret.h"

static const char *const cmd = "validate";

typedef struct validate_opts {
    const char *config;
    bool no_secrets, quiet;
    int format; /* 0 text, 1 json */
} validate_opts;

static const ps_opt options[] = {
    {"config", 'c', PS_OPT_STRING, "DIR", offsetof(validate_opts, config),
     "configuration directory (default: $PODSTREAM_CONFIG_DIR,\nelse {config_dir})", NULL, 0, 0,
     NULL},
    {"no-secrets", 0, PS_OPT_FLAG, NULL, offsetof(validate_opts, no_secrets),
     "do not resolve tokens (on a machine without the\nkey or the environment of the service)",
     NULL, 0, 0, NULL},
    {"quiet", 'q', PS_OPT_FLAG, NULL, offsetof(validate_opts, quiet),
     "print problems only, no summary", NULL, 0, 0, NULL},
    {"format", 0, PS_OPT_CHOICE, "FORMAT", offsetof(validate_opts, format),
     "text (default) or json: one JSON object on standard\noutput with the problems and the "
     "summary",
     NULL, 0, 0, "text|json"},
};

const ps_opt_cmd ps_cmd_validate_opts = {
    "validate",
    "check the configuration and print every problem",
    "[-c DIR] [--no-secrets] [-q] [--format text|json]",
    "Checks the configuration directory: podstream.yml, devices/*.yml and\n"
    "pipelines/*.yml. Prints every error and warning with its file:line:column and\n"
    "field path, then a summary of the devices when the configuration is valid.\n"
    "Pipelines are compiled, and the pipelines each device names must exist.\n"
    "Each device's token (and the proxy credentials) must resolve: environment\n"
    "variables set, $secret{} files present, secure: true values decrypting with\n"
    "the shared key. Token values are never printed.\n"
    "\n"
    "--format json prints one object instead, for scripts and the GUI:\n"
    "{\"valid\": bool, \"config_dir\": str, \"errors\": n, \"warnings\": n,\n"
    " \"diagnostics\": [{\"severity\": \"error\"|\"warning\", \"file\": str|null,\n"
    "   \"line\": n, \"column\": n, \"path\": str|null, \"message\": str}],\n"
    " \"tokens_checked\": bool, and when valid \"database\": str, \"pipelines\": n,\n"
    " \"devices\": [{\"id\", \"name\", \"enabled\", \"type\", \"cluster\", \"token\",\n"
    "   \"endpoint\"}]}. \"token\" is where the token comes from, never its value;\n"
    "line and column are 0 when unknown. Fields may be added, never removed.",
    options,
    sizeof options / sizeof options[0],
    "Exit codes: 0 valid (warnings allowed), 2 usage error, 3 invalid configuration\n"
    "or a token that does not resolve.",
    0,
};

/* Where a token comes from, safe to print: the reference itself, never a value. */
static const char *token_source(const ps_device *d)
{
    return ps_secret_source(d->props.token, d->props.secure);
}

/* ---- the summary ------------------------------------------------------------ */

static int width(int w, const char *s)
{
    int n = (int)strlen(s);
    return n > w ? n : w;
}

static void print_summary(const ps_config *cfg, const ps_pipeline_set *set, bool resolved)
{
    const ps_service_settings *s = &cfg->service;
    int wid = 2, wname = 4, wtype = 4, wcluster = 7, wtoken = 5;
    char size[32], buf[32];
    size_t enabled = 0;

    printf("%s: the configuration is valid\n", cfg->dir);
    printf("\nDevices: %zu", cfg->ndevices);
    for (size_t i = 0; i < cfg->ndevices; i++)
        enabled += cfg->devices[i].status;
    if (cfg->ndevices)
        printf(" (%zu enabled)", enabled);
    printf("\n");
    for (size_t i = 0; i < cfg->ndevices; i++) {
        const ps_device *d = &cfg->devices[i];
        snprintf(buf, sizeof buf, "%lld", d->id);
        wid = width(wid, buf);
        wname = width(wname, d->name);
        wtype = width(wtype, ps_data_type_name(d->props.type));
        wcluster = width(wcluster, d->props.cluster);
        wtoken = width(wtoken, token_source(d));
    }
    if (cfg->ndevices)
        printf("  %-*s  %-*s  %-8s  %-*s  %-*s  %-*s  %s\n", wid, "ID", wname, "NAME", "STATUS",
               wtype, "TYPE", wcluster, "CLUSTER", wtoken, "TOKEN", "ENDPOINT");
    for (size_t i = 0; i < cfg->ndevices; i++) {
        const ps_device *d = &cfg->devices[i];
        printf("  %-*lld  %-*s  %-8s  %-*s  %-*s  %-*s  %s\n", wid, d->id, wname, d->name,
               d->status ? "enabled" : "disabled", wtype, ps_data_type_name(d->props.type),
               wcluster, d->props.cluster, wtoken, token_source(d), d->props.endpoint);
    }

    printf("\nPipelines:      %zu in %zu file%s\n", ps_pipeline_set_count(set),
           cfg->npipeline_files, cfg->npipeline_files == 1 ? "" : "s");
    printf("Database:       %s\n", s->database);
    if (s->retention_max_bytes)
        ps_schema_format_size(s->retention_max_bytes, size, sizeof size);
    if (s->retention_days)
        printf("Retention:      %d days, %s%s\n", s->retention_days,
               s->retention_max_bytes ? "at most " : "no size limit",
               s->retention_max_bytes ? size : "");
    else
        printf("Retention:      forever, %s%s\n",
               s->retention_max_bytes ? "at most " : "no size limit",
               s->retention_max_bytes ? size : "");
    printf("Key file:       %s\n", s->key_file);
    printf("Secrets dir:    %s\n", s->secrets_dir);
    printf("Log level:      %s\n", ps_log_level_name(s->log_level));
    printf("Proxy:          %s\n", s->proxy ? s->proxy : "none");
    printf("Tokens:         %s\n", !cfg->ndevices ? "none"
                                   : resolved     ? "all resolve"
                                                  : "not checked (--no-secrets)");
}

/* ---- --format json ------------------------------------------------------------ */

static cJSON *json_diagnostics(const ps_diag *diag)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < diag->count; i++) {
        const ps_diag_item *it = &diag->items[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "severity", it->sev == PS_DIAG_ERROR ? "error" : "warning");
        cJSON_AddItemToObject(o, "file",
                              it->file ? cJSON_CreateString(it->file) : cJSON_CreateNull());
        cJSON_AddNumberToObject(o, "line", it->line);
        cJSON_AddNumberToObject(o, "column", it->col);
        cJSON_AddItemToObject(o, "path",
                              it->path ? cJSON_CreateString(it->path) : cJSON_CreateNull());
        cJSON_AddStringToObject(o, "message", it->msg);
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

static void json_summary(cJSON *root, const ps_config *cfg, const ps_pipeline_set *set)
{
    cJSON *devs = cJSON_CreateArray();
    cJSON_AddStringToObject(root, "database", cfg->service.database);
    cJSON_AddNumberToObject(root, "pipelines", (double)ps_pipeline_set_count(set));
    for (size_t i = 0; i < cfg->ndevices; i++) {
        const ps_device *d = &cfg->devices[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "id", (double)d->id);
        cJSON_AddStringToObject(o, "name", d->name);
        cJSON_AddBoolToObject(o, "enabled", d->status);
        cJSON_AddStringToObject(o, "type", ps_data_type_name(d->props.type));
        cJSON_AddStringToObject(o, "cluster", d->props.cluster);
        cJSON_AddStringToObject(o, "token", token_source(d));
        cJSON_AddStringToObject(o, "endpoint", d->props.endpoint);
        cJSON_AddItemToArray(devs, o);
    }
    cJSON_AddItemToObject(root, "devices", devs);
}

/* One object on stdout; nothing on stderr. Returns false when it cannot be written. */
static bool print_json(const char *dir, const ps_diag *diag, const ps_config *cfg,
                       const ps_pipeline_set *set, bool valid, bool resolved)
{
    cJSON *root = cJSON_CreateObject();
    size_t errors = diag->errors < diag->count ? diag->errors : diag->count;
    char *text;
    bool ok;
    cJSON_AddBoolToObject(root, "valid", valid);
    cJSON_AddStringToObject(root, "config_dir", dir);
    cJSON_AddNumberToObject(root, "errors", (double)diag->errors);
    cJSON_AddNumberToObject(root, "warnings", (double)(diag->count - errors));
    cJSON_AddItemToObject(root, "diagnostics", json_diagnostics(diag));
    cJSON_AddBoolToObject(root, "tokens_checked", resolved);
    if (valid)
        json_summary(root, cfg, set);
    text = cJSON_Print(root);
    cJSON_Delete(root);
    ok = text && printf("%s\n", text) >= 0 && fflush(stdout) == 0;
    cJSON_free(text);
    return ok;
}

/* ---- the command ------------------------------------------------------------ */

int ps_cmd_validate(int argc, char **argv)
{
    validate_opts o = {NULL, false, false, 0};
    ps_opt_list args = {NULL, 0};
    int rc = ps_cli_parse(&ps_cmd_validate_opts, argc, argv, &o, &args);
    const char *opt_dir = o.config, *dir;
    bool resolve = !o.no_secrets, quiet = o.quiet;
    ps_config *cfg = NULL;
    ps_pipeline_set *set = NULL;
    ps_diag diag;
    ps_err err;

    if (rc == PS_CLI_RUN && args.n)
        rc = ps_cli_usage_error(cmd, "unexpected argument '%s' (use -c DIR for the directory)",
                                args.v[0]);
    ps_opt_list_free(&args);
    if (rc != PS_CLI_RUN)
        return rc;

    dir = ps_cli_config_dir(opt_dir);
    ps_diag_init(&diag);
    err = ps_loader_load(dir, PS_LOADER_TOKENS | (resolve ? PS_LOADER_RESOLVE : 0), &cfg, &set,
                         &diag);
    ps_diag_sort(&diag);
    if (o.format == 1) {
        bool valid = !ps_diag_has_errors(&diag) && err == PS_OK && cfg && set;
        rc = err == PS_ERR_NOMEM || !print_json(dir, &diag, cfg, set, valid, resolve)
                 ? PS_EXIT_FAILURE
             : valid ? PS_EXIT_OK
                     : PS_EXIT_CONFIG;
        goto out;
    }
    ps_diag_print(&diag, stderr);

    if (err == PS_ERR_NOMEM) {
        rc = PS_EXIT_FAILURE;
    } else if (ps_diag_has_errors(&diag) || err != PS_OK || !cfg || !set) {
        size_t warnings = diag.count - (diag.errors < diag.count ? diag.errors : diag.count);
        fprintf(stderr, "podstream validate: %zu error%s", diag.errors,
                diag.errors == 1 ? "" : "s");
        if (warnings)
            fprintf(stderr, " and %zu warning%s", warnings, warnings == 1 ? "" : "s");
        fprintf(stderr, "; the configuration in %s is not valid\n", dir);
        rc = PS_EXIT_CONFIG;
    } else {
        if (!quiet)
            print_summary(cfg, set, resolve);
        rc = PS_EXIT_OK;
    }
out:
    ps_pipeline_set_destroy(set);
    ps_config_destroy(cfg);
    ps_diag_deinit(&diag);
    return rc;
}
