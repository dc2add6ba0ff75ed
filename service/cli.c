#include "cli.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_config.h"
#include "podstream/ps_diag.h"
#include "podstream/ps_platform.h"
#include "podstream/ps_schema.h"

int ps_cli_exit_code(ps_err err)
{
    switch (err) {
    case PS_OK:
        return PS_EXIT_OK;
    case PS_ERR_USAGE:
        return PS_EXIT_USAGE;
    case PS_ERR_PARSE:
    case PS_ERR_INVALID:
        return PS_EXIT_CONFIG;
    case PS_ERR_PERM:
    case PS_ERR_CRYPTO:
        return PS_EXIT_SECURITY;
    case PS_ERR_CORRUPT:
        return PS_EXIT_DAMAGED;
    default:
        return PS_EXIT_FAILURE;
    }
}

const char *ps_cli_config_dir(const char *from_option)
{
    const char *env;
    if (from_option && *from_option)
        return from_option;
    env = getenv("PODSTREAM_CONFIG_DIR");
    if (env && *env)
        return env;
    return ps_plat_default_config_dir();
}

void ps_cli_print_version(FILE *out)
{
    fprintf(out, "podstream %s (libcurl %s, SQLite %s, %s)\n", PS_VERSION,
            curl_version_info(CURLVERSION_NOW)->version, sqlite3_libversion(),
            OpenSSL_version(OPENSSL_VERSION));
}

int ps_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "podstream %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nRun 'podstream %s --help' for usage.\n", cmd);
    return PS_EXIT_USAGE;
}

char *ps_cli_database_path(const char *cmd, const char *db_option, const char *config_option,
                           int *rc)
{
    const char *dir = ps_cli_config_dir(config_option);
    ps_config *cfg = NULL;
    ps_diag diag;
    char *path = NULL;
    ps_err err;
    if (db_option && *db_option) {
        path = strdup(db_option);
        if (!path) {
            fprintf(stderr, "podstream %s: out of memory\n", cmd);
            *rc = PS_EXIT_FAILURE;
        }
        return path;
    }
    ps_diag_init(&diag);
    err = ps_config_load(dir, &cfg, &diag);
    if (err == PS_ERR_NOTFOUND) {
        fprintf(stderr,
                "podstream %s: configuration directory %s does not exist; pass -c DIR, or "
                "--db PATH to name the database\n",
                cmd, dir);
        *rc = PS_EXIT_CONFIG;
    } else if (err != PS_OK) {
        ps_diag_sort(&diag);
        ps_diag_print(&diag, stderr);
        fprintf(stderr,
                "podstream %s: the configuration in %s has errors (see above, or run "
                "'podstream validate'); pass --db PATH to read the database anyway\n",
                cmd, dir);
        *rc = ps_cli_exit_code(err);
    } else {
        path = strdup(cfg->service.database);
        if (!path) {
            fprintf(stderr, "podstream %s: out of memory\n", cmd);
            *rc = PS_EXIT_FAILURE;
        }
    }
    ps_config_destroy(cfg);
    ps_diag_deinit(&diag);
    return path;
}

void ps_cli_print_help(const ps_opt_cmd *cmd, FILE *out)
{
    const ps_opt_subst subst[] = {{"{config_dir}", ps_plat_default_config_dir()}};
    ps_opt_print_help(cmd, "podstream", subst, sizeof subst / sizeof subst[0], out);
}

int ps_cli_parse(const ps_opt_cmd *cmd, int argc, char **argv, void *dst, ps_opt_list *positional)
{
    ps_opt_action action;
    ps_errmsg em;
    ps_err err = ps_opt_parse(cmd, argc, argv, dst, positional, &action, &em);
    if (err == PS_ERR_USAGE)
        return ps_cli_usage_error(cmd->name, "%s", em.text);
    if (err != PS_OK) {
        fprintf(stderr, "podstream %s: %s\n", cmd->name, em.text);
        return PS_EXIT_FAILURE;
    }
    if (action == PS_OPT_HELP) {
        ps_cli_print_help(cmd, stdout);
        return PS_EXIT_OK;
    }
    if (action == PS_OPT_VERSION) {
        ps_cli_print_version(stdout);
        return PS_EXIT_OK;
    }
    return PS_CLI_RUN;
}

bool ps_cli_device_id(const char *s, long long *out, long long *min, long long *max)
{
    /* The schema's bounds, so that a command refuses exactly the ids the
     * configuration loader would. */
    const ps_schema_table *t = ps_schema_device();
    char *end = NULL;
    long long v;
    *min = 1;
    *max = 2147483647LL;
    for (size_t i = 0; i < t->count; i++) {
        if (strcmp(t->fields[i].name, "id") != 0)
            continue;
        if (t->fields[i].has_min)
            *min = t->fields[i].min;
        if (t->fields[i].has_max)
            *max = t->fields[i].max;
    }
    if (!((*s >= '0' && *s <= '9') || *s == '-'))
        return false;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < *min || v > *max)
        return false;
    *out = v;
    return true;
}

int ps_cli_table_width(long long option)
{
    const char *cols = getenv("COLUMNS");
    long width = option;
    if (width == 0)
        width = ps_plat_terminal_columns(stdout);
    if (width == 0 && cols && *cols)
        width = strtol(cols, NULL, 10);
    if (width < 60)
        width = 120;
    return (int)width;
}

const char *ps_cli_device_name(long long id, void *ctx)
{
    const ps_cli_devices *d = ctx;
    for (size_t i = 0; i < d->n; i++)
        if (d->c[i].device_id == id && d->c[i].name[0])
            return d->c[i].name;
    return NULL;
}

int ps_cli_open_reader(const char *cmd, const char *db_option, const char *config_option,
                       ps_store **st)
{
    int rc = PS_EXIT_OK;
    char *path = ps_cli_database_path(cmd, db_option, config_option, &rc);
    ps_errmsg em;
    *st = NULL;
    if (!path)
        return rc;
    if (ps_store_create(path, PS_STORE_READER, st, &em) != PS_OK) {
        fprintf(stderr, "podstream %s: %s\n", cmd, em.text);
        rc = PS_EXIT_FAILURE;
    }
    free(path);
    return rc;
}

char *ps_cli_lock_path(const char *db)
{
    size_t n = strlen(db) + sizeof ".lock";
    char *path = malloc(n);
    if (path)
        snprintf(path, n, "%s.lock", db);
    return path;
}

ps_err ps_cli_lock_database(const char *db, ps_plat_lockh locks[2], ps_errmsg *em)
{
    char *lock_path = ps_cli_lock_path(db);
    char *lock_dir;
    ps_err err;

    locks[0] = locks[1] = PS_PLAT_LOCK_NONE;
    if (!lock_path)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    /* The database directory may not exist yet on a first start. */
    lock_dir = ps_plat_dir_name(lock_path);
    if (lock_dir)
        (void)ps_plat_mkdirs(lock_dir, 0750, NULL);
    free(lock_dir);
    err = ps_plat_lock(lock_path, &locks[0], em);
    if (err == PS_OK)
        err = ps_plat_lock(db, &locks[1], em);
    if (err != PS_OK)
        ps_cli_unlock_database(locks);
    free(lock_path);
    return err;
}

void ps_cli_unlock_database(ps_plat_lockh locks[2])
{
    /* The database's own lock first: it was taken last. */
    ps_plat_unlock(locks[1]);
    ps_plat_unlock(locks[0]);
    locks[0] = locks[1] = PS_PLAT_LOCK_NONE;
}
