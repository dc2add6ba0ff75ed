/* podstream keygen: creates the service shared key that `secure: true` tokens are
 * encrypted under. The key itself is never printed: it only goes to the file. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "podstream/ps_config.h"
#include "podstream/ps_diag.h"
#include "podstream/ps_platform.h"
#include "podstream/ps_secret.h"

static const char *const cmd = "keygen";

static void usage(FILE *out)
{
    fprintf(out,
            "usage: podstream keygen [-c DIR] [--key-file PATH] [--force]\n"
            "\n"
            "Creates the shared key that decrypts tokens written with \"secure: true\".\n"
            "The key file is created with mode 0600 and never overwritten without --force.\n"
            "The key is not printed.\n"
            "\n"
            "Options:\n"
            "  -c, --config DIR  configuration directory (default: $PODSTREAM_CONFIG_DIR,\n"
            "                    else %s); the key is written where its key_file\n"
            "                    setting says (default: DIR/podstream.key)\n"
            "  --key-file PATH   write the key here instead; the configuration is not read\n"
            "  --force           replace an existing key; the old one is kept as PATH.bak\n"
            "                    (mode 0600). Tokens encrypted under the old key must then be\n"
            "                    encrypted again with 'podstream encrypt'.\n"
            "  -h, --help        show this help\n"
            "  -V, --version     show the version\n"
            "\n"
            "Exit codes: 0 key written, 1 failure (including: a key exists and --force was\n"
            "not given), 2 usage error, 3 invalid configuration, 4 key refused.\n",
            ps_plat_default_config_dir());
}

/* The key_file setting of the configuration in `dir`, as a new string. Loads the
 * whole configuration because podstream.yml alone does not say where a relative
 * path points; on failure prints why and returns NULL with *rc set. */
static char *key_path_from_config(const char *dir, int *rc)
{
    ps_config *cfg = NULL;
    ps_diag diag;
    char *path = NULL;
    ps_err err;

    ps_diag_init(&diag);
    err = ps_config_load(dir, &cfg, &diag);
    if (err == PS_ERR_NOTFOUND) {
        fprintf(stderr,
                "podstream %s: configuration directory %s does not exist; create it or pass "
                "--key-file PATH\n",
                cmd, dir);
        *rc = PS_EXIT_FAILURE;
        goto out;
    }
    if (err != PS_OK) {
        ps_diag_sort(&diag);
        ps_diag_print(&diag, stderr);
        fprintf(stderr,
                "podstream %s: the configuration in %s has errors, so its key_file setting "
                "cannot be trusted; fix them (see 'podstream validate') or pass --key-file PATH\n",
                cmd, dir);
        *rc = PS_EXIT_CONFIG;
        goto out;
    }
    path = strdup(cfg->service.key_file);
    if (!path) {
        fprintf(stderr, "podstream %s: out of memory\n", cmd);
        *rc = PS_EXIT_FAILURE;
    }
out:
    ps_config_destroy(cfg);
    ps_diag_deinit(&diag);
    return path;
}

int ps_cmd_keygen(int argc, char **argv)
{
    const char *config_opt = NULL, *key_opt = NULL;
    char *path = NULL, *bak = NULL;
    bool force = false, existed, bak_existed;
    ps_errmsg em;
    ps_err err;
    int rc = PS_EXIT_OK;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int r;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return PS_EXIT_OK;
        }
        if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            ps_cli_print_version(stdout);
            return PS_EXIT_OK;
        }
        if (strcmp(a, "--force") == 0) {
            force = true;
            continue;
        }
        r = ps_cli_take_value(argc, argv, &i, "--config", "-c", &config_opt);
        if (r == 0)
            r = ps_cli_take_value(argc, argv, &i, "--key-file", NULL, &key_opt);
        if (r < 0)
            return ps_cli_usage_error(cmd, "%s needs a value", a);
        if (r > 0)
            continue;
        if (a[0] == '-')
            return ps_cli_usage_error(cmd, "unknown option '%s'", a);
        return ps_cli_usage_error(cmd, "unexpected argument '%s'", a);
    }
    if (key_opt && !*key_opt)
        return ps_cli_usage_error(cmd, "--key-file needs a path");

    path = key_opt ? strdup(key_opt) : key_path_from_config(ps_cli_config_dir(config_opt), &rc);
    if (!path) {
        if (rc == PS_EXIT_OK) {
            fprintf(stderr, "podstream %s: out of memory\n", cmd);
            rc = PS_EXIT_FAILURE;
        }
        goto out;
    }
    bak = malloc(strlen(path) + sizeof ".bak");
    if (!bak) {
        fprintf(stderr, "podstream %s: out of memory\n", cmd);
        rc = PS_EXIT_FAILURE;
        goto out;
    }
    sprintf(bak, "%s.bak", path);
    existed = ps_plat_file_exists(path);
    bak_existed = ps_plat_file_exists(bak);

    err = ps_secret_key_generate(path, force, &em);
    if (err == PS_ERR_EXISTS) {
        fprintf(stderr,
                "podstream %s: %s already exists; not replacing it, because tokens encrypted "
                "under the old key would stop working.\n"
                "To rotate the key: podstream %s --force (keeps the old key as %s), then "
                "encrypt every \"secure: true\" token again with 'podstream encrypt'.\n",
                cmd, path, cmd, bak);
        rc = PS_EXIT_FAILURE;
        goto out;
    }
    if (err != PS_OK) {
        fprintf(stderr, "podstream %s: %s\n", cmd, em.text);
        rc = PS_EXIT_FAILURE;
        goto out;
    }
    /* What the service will check: a file system that ignores modes (a FAT
     * stick, some network shares) would give a key the service then refuses. */
    err = ps_plat_check_private(path, &em);
    if (err != PS_OK) {
        fprintf(stderr, "podstream %s: wrote %s, but the service will refuse it: %s\n", cmd, path,
                em.text);
        rc = PS_EXIT_SECURITY;
        goto out;
    }
    if (force && existed) {
        printf("replaced the shared key in %s (mode 0600)\n", path);
        printf("the previous key is in %s (mode 0600)%s\n", bak,
               bak_existed ? "; it replaced an older backup" : "");
        printf("encrypt every \"secure: true\" token again with 'podstream encrypt': values "
               "made with the previous key no longer decrypt\n");
    } else {
        printf("wrote a new shared key to %s (mode 0600)\n", path);
    }
    printf("keep a copy of the key somewhere safe: without it, secure tokens cannot be "
           "decrypted\n");
out:
    free(path);
    free(bak);
    return rc;
}
