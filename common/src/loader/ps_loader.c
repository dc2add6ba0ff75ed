/* ps_loader: see ps_loader.h.
 *
 * Why a folder of its own and not config/: pipeline/ depends on config/ (ps_pipeline.h
 * includes ps_config.h: it compiles the pipeline files ps_config keeps, and checks the
 * pipeline names of ps_device). A loader in config/ that calls ps_pipeline_set_compile
 * would make config/ and pipeline/ depend on each other, so neither could be built,
 * tested or reasoned about without the other. loader/ sits above both: it uses
 * config/, pipeline/, output/ and ps_secret, and nothing in common/ uses it. */
#include "podstream/ps_loader.h"

#include <stdio.h>
#include <string.h>

#include "podstream/ps_output.h"
#include "podstream/ps_secret.h"

#define TOKEN_FIELD "properties.token"
#define MAIN_FILE   "podstream.yml"

/* ps_secret's messages start with the field name; the diagnostic carries the full
 * field path instead. */
static const char *without_field(const char *msg, const char *field)
{
    size_t n = strlen(field);
    if (strncmp(msg, field, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
        return msg + n + 2;
    return msg;
}

/* False when resolving `raw` needs a setting that was refused (and reported) in
 * podstream.yml: resolving would only repeat that error in other words. */
static bool can_resolve(const ps_secret_ctx *sctx, const char *raw, bool secure)
{
    if (secure && !sctx->key_file)
        return false;
    return sctx->secrets_dir || !strstr(raw, "$secret{");
}

static void resolve_one(ps_secret_ctx *sctx, ps_diag *diag, const char *raw, bool secure,
                        long long device_id, const char *field, const char *path,
                        const ps_config_pos *pos, bool disabled)
{
    char *plain = NULL;
    ps_errmsg em;
    ps_err err;

    if (!can_resolve(sctx, raw, secure))
        return;
    em.text[0] = '\0';
    err = ps_secret_resolve(sctx, raw, secure, device_id, field, &plain, &em);
    ps_secret_free(plain);
    if (err == PS_OK)
        return;
    if (disabled)
        ps_diag_add(diag, PS_DIAG_WARNING, pos->file, pos->line, pos->col, path,
                    "%s (the device is disabled)", without_field(em.text, field));
    else
        ps_diag_add(diag, PS_DIAG_ERROR, pos->file, pos->line, pos->col, path, "%s",
                    without_field(em.text, field));
}

/* Tokens of devices whose token was refused (NULL in a configuration with errors)
 * are skipped: that error is already reported. */
static void check_tokens(const ps_config *cfg, bool resolve, ps_diag *diag)
{
    const ps_service_settings *s = &cfg->service;
    ps_secret_ctx sctx;
    ps_secret_ctx_init(&sctx, s->secrets_dir, s->key_file);
    for (size_t i = 0; i < cfg->ndevices; i++) {
        const ps_device *d = &cfg->devices[i];
        const ps_config_pos *pos = &d->props.token_pos;
        char path[128];
        if (!d->props.token)
            continue;
        snprintf(path, sizeof path, "%s.%s", d->path, TOKEN_FIELD);
        if (!d->props.secure && !ps_secret_has_reference(d->props.token))
            ps_diag_add(diag, PS_DIAG_WARNING, pos->file, pos->line, pos->col, path,
                        "the token is written in clear text; use ${ENV_VAR}, $secret{name} or "
                        "secure: true (see docs/security.md)");
        if (resolve)
            resolve_one(&sctx, diag, d->props.token, d->props.secure, d->id, TOKEN_FIELD, path, pos,
                        !d->status);
    }
    if (resolve && s->proxy) {
        if (s->proxy_username)
            resolve_one(&sctx, diag, s->proxy_username, false, 0, "proxy_username",
                        "proxy_username", &s->proxy_username_pos, false);
        if (s->proxy_password)
            resolve_one(&sctx, diag, s->proxy_password, false, 0, "proxy_password",
                        "proxy_password", &s->proxy_password_pos, false);
    }
    ps_secret_ctx_deinit(&sctx);
}

static ps_err compile(const ps_config *cfg, bool resolve, ps_pipeline_set **set, ps_diag *diag)
{
    const ps_service_settings *s = &cfg->service;
    ps_secret_ctx sctx;
    ps_err err;
    /* A refused secrets_dir or key_file is already reported; resolving keys without
     * it would fail each one again, so they are then checked for presence only. */
    resolve = resolve && s->secrets_dir && s->key_file;
    ps_secret_ctx_init(&sctx, s->secrets_dir, s->key_file);
    err = ps_pipeline_set_compile(cfg->pipeline_files, cfg->npipeline_files, cfg->devices,
                                  cfg->ndevices, resolve ? &sctx : NULL, set, diag);
    ps_secret_ctx_deinit(&sctx);
    return err;
}

/* A reload keeps the running configuration rather than take a podstream.yml caught
 * mid-rewrite, or deleted, for "every setting at its default". */
static void check_main_file(const ps_config *cfg, ps_diag *diag)
{
    if (cfg->main_file == PS_MAIN_FILE_ABSENT)
        ps_diag_add(diag, PS_DIAG_ERROR, MAIN_FILE, 0, 0, NULL,
                    "missing; a reload does not take a missing %s for every setting at its "
                    "default (restart the service for that)",
                    MAIN_FILE);
    else if (cfg->main_file == PS_MAIN_FILE_EMPTY)
        ps_diag_add(diag, PS_DIAG_ERROR, MAIN_FILE, 0, 0, NULL,
                    "empty (nothing but blanks and comments); a reload does not take an empty "
                    "%s for every setting at its default (write `{}` for that)",
                    MAIN_FILE);
}

/* The phases after the files, on `cfg` (owned; may hold errors when load_err says
 * so). Hands out cfg and the set only when nothing failed. */
static ps_err check_rest(ps_config *cfg, ps_err load_err, unsigned flags, size_t errors_before,
                         ps_config **out_cfg, ps_pipeline_set **out_pipes, ps_diag *diag)
{
    bool resolve = (flags & PS_LOADER_RESOLVE) != 0;
    ps_pipeline_set *set = NULL;
    ps_err err;

    if (!cfg)
        return load_err == PS_OK ? PS_ERR_INTERNAL : load_err;
    if (flags & PS_LOADER_RELOAD)
        check_main_file(cfg, diag);
    err = compile(cfg, resolve, &set, diag);
    {
        /* Outputs: checked here, made by the service (ps_outputs_apply). */
        ps_output_defs *outs = NULL;
        if (ps_output_defs_create(cfg, set, &outs, diag) == PS_ERR_NOMEM)
            err = PS_ERR_NOMEM;
        ps_output_defs_destroy(outs);
    }
    if (flags & PS_LOADER_TOKENS)
        check_tokens(cfg, resolve, diag);
    if (load_err == PS_OK && err == PS_OK && diag->errors == errors_before && !diag->oom) {
        *out_cfg = cfg;
        *out_pipes = set;
        return PS_OK;
    }
    ps_pipeline_set_destroy(set);
    ps_config_destroy(cfg);
    if (err == PS_ERR_NOMEM || diag->oom)
        return PS_ERR_NOMEM;
    return PS_ERR_INVALID;
}

ps_err ps_loader_load(const char *dir, unsigned flags, ps_config **cfg, ps_pipeline_set **pipes,
                      ps_diag *diag)
{
    size_t errors_before = diag->errors;
    ps_config *loaded = NULL;
    ps_err err;

    *cfg = NULL;
    *pipes = NULL;
    err = ps_config_load_partial(dir, &loaded, diag);
    return check_rest(loaded, err, flags, errors_before, cfg, pipes, diag);
}

ps_err ps_loader_load_sources(const char *dir, const ps_config_source *sources, size_t count,
                              unsigned flags, ps_config **cfg, ps_pipeline_set **pipes,
                              ps_diag *diag)
{
    size_t errors_before = diag->errors;
    ps_config *loaded = NULL;
    ps_err err;

    *cfg = NULL;
    *pipes = NULL;
    err = ps_config_load_sources_partial(dir, sources, count, &loaded, diag);
    return check_rest(loaded, err, flags, errors_before, cfg, pipes, diag);
}
