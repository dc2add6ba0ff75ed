/* podstream keygen: creates the service shared key that `secure: true` tokens are
 * encrypted under. The key itself is never printed: it only goes to the file. */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "podstream/ps_config.h"
#include "podstream/ps_diag.h"
#include "podstream/ps_platform.h"
#include "podstream/ps_secret.h"

static const char *const cmd = "keygen";

typedef struct keygen_opts {
    const char *config, *key_file;
    bool force;
} keygen_opts;

static const ps_opt options[] = {
    {"config", 'c', PS_OPT_STRING, "DIR", offsetof(keygen_opts, config),
     "configuration directory (default: $PODSTREAM_CONFIG_DIR,\n"
     "else {config_dir}); the key is written where its\n"
     "key_file setting says (default: DIR/podstream.key)",
     NULL, 0, 0, NULL},
    {"key-file", 0, PS_OPT_STRING, "PATH", offsetof(keygen_opts, key_file),
     "write the key here instead; the configuration is not read", NULL, 0, 0, NULL},
    {"force", 0, PS_OPT_FLAG, NULL, offsetof(keygen_opts, force),
     "replace an existing key; the old one is kept as\n"
     "PATH.bak (mode 0600). Tokens encrypted under the old\n"
     "key must then be encrypted again with 'podstream\n"
     "encrypt'.",
     NULL, 0, 0, NULL},
};

const ps_opt_cmd ps_cmd_keygen_opts = {
    "keygen",
    "create the shared key for secure: true tokens",
    "[-c DIR] [--key-file PATH] [--force]",
    "Creates the shared key that decrypts tokens written with \"secure: true\".\n"
    "The key file is created with mode 0600 and never overwritten without --force.\n"
    "The key is not printed.",
    options,
    sizeof options / sizeof options[0],
    "Exit codes: 0 key written, 1 failure (including: a key exists and --force was\n"
    "not given), 2 usage error, 3 invalid configuration, 4 key refused.",
    0,
};

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

/* Writes a new key to `path` (the old one to PATH.bak with --force) and says
 * what happened. Returns the exit code. */
static int write_key(const char *path, bool force)
{
    char *bak = malloc(strlen(path) + sizeof ".bak");
    bool existed, bak_existed;
    ps_errmsg em;
    ps_err err;
    int rc = PS_EXIT_FAILURE;

    if (!bak) {
        fprintf(stderr, "podstream %s: out of memory\n", cmd);
        return PS_EXIT_FAILURE;
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
        goto out;
    }
    if (err != PS_OK) {
        fprintf(stderr, "podstream %s: %s\n", cmd, em.text);
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
    rc = PS_EXIT_OK;
out:
    free(bak);
    return rc;
}

int ps_cmd_keygen(int argc, char **argv)
{
    keygen_opts o = {NULL, NULL, false};
    ps_opt_list args = {NULL, 0};
    char *path;
    int rc = ps_cli_parse(&ps_cmd_keygen_opts, argc, argv, &o, &args);

    if (rc == PS_CLI_RUN && args.n)
        rc = ps_cli_usage_error(cmd, "unexpected argument '%s'", args.v[0]);
    ps_opt_list_free(&args);
    if (rc != PS_CLI_RUN)
        return rc;
    rc = PS_EXIT_OK;
    path = o.key_file ? strdup(o.key_file) : key_path_from_config(ps_cli_config_dir(o.config), &rc);
    if (!path) {
        if (rc == PS_EXIT_OK) {
            fprintf(stderr, "podstream %s: out of memory\n", cmd);
            rc = PS_EXIT_FAILURE;
        }
        return rc;
    }
    rc = write_key(path, o.force);
    free(path);
    return rc;
}
