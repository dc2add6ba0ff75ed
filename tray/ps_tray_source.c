#include "ps_tray_source.h"

#include <stdlib.h>
#include <string.h>

#include "podstream/ps_config.h"
#include "podstream/ps_diag.h"

struct ps_tray_source {
    char *config_dir;
    char *db_path; /* NULL until the configuration gave it */
    ps_store *st;  /* NULL until opened, and after a failure */
};

static char *dup_or_null(const char *s)
{
    char *d = NULL;
    if (s) {
        size_t n = strlen(s) + 1;
        d = malloc(n);
        if (d)
            memcpy(d, s, n);
    }
    return d;
}

ps_err ps_tray_source_create(const char *config_dir, const char *db_path, ps_tray_source **out)
{
    ps_tray_source *src = calloc(1, sizeof *src);
    ps_err err = PS_ERR_NOMEM;
    *out = NULL;
    if (!src)
        goto cleanup;
    src->config_dir = dup_or_null(config_dir);
    src->db_path = dup_or_null(db_path);
    if ((config_dir && !src->config_dir) || (db_path && !src->db_path))
        goto cleanup;
    *out = src;
    src = NULL;
    err = PS_OK;
cleanup:
    ps_tray_source_destroy(src);
    return err;
}

void ps_tray_source_destroy(ps_tray_source *src)
{
    if (!src)
        return;
    ps_store_destroy(src->st);
    free(src->config_dir);
    free(src->db_path);
    free(src);
}

/* The configuration's database path; the first problem in em when it does not load. */
static ps_err resolve(ps_tray_source *src, ps_errmsg *em)
{
    ps_config *cfg = NULL;
    ps_diag diag;
    ps_err err;
    if (!src->config_dir)
        return ps_errmsg_set(em, PS_ERR_INVALID, "no configuration directory or database given");
    ps_diag_init(&diag);
    err = ps_config_load(src->config_dir, &cfg, &diag);
    if (err != PS_OK) {
        ps_errmsg_set(em, err, "configuration %s: %s", src->config_dir,
                      diag.count ? diag.items[0].msg : ps_strerror(err));
        goto cleanup;
    }
    src->db_path = dup_or_null(cfg->service.database);
    if (!src->db_path)
        err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
cleanup:
    ps_config_destroy(cfg);
    ps_diag_deinit(&diag);
    return err;
}

ps_err ps_tray_source_read(ps_tray_source *src, ps_device_counters **out, size_t *count,
                           ps_errmsg *em)
{
    ps_err err = PS_OK;
    *out = NULL;
    *count = 0;
    if (!src->db_path && (err = resolve(src, em)) != PS_OK)
        return err;
    if (!src->st && (err = ps_store_create(src->db_path, PS_STORE_READER, &src->st, em)) != PS_OK)
        return err;
    err = ps_store_counters_list(src->st, out, count, em);
    if (err != PS_OK) {
        /* A replaced or damaged file: the next read opens it afresh. */
        ps_store_destroy(src->st);
        src->st = NULL;
    }
    return err;
}
