#include "cli.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_config.h"
#include "podstream/ps_diag.h"
#include "podstream/ps_platform.h"

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

int ps_cli_take_value(int argc, char **argv, int *i, const char *name, const char *alias,
                      const char **out)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) == 0 && a[n] == '=') {
        *out = a + n + 1;
        return 1;
    }
    if (strcmp(a, name) != 0 && !(alias && strcmp(a, alias) == 0))
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *i += 1;
    *out = argv[*i];
    return 1;
}
