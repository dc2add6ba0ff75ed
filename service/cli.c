#include "cli.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdlib.h>

#include "ps_platform.h"

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
