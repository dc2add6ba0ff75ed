/* podstream encrypt: turns a token into the enc:v1: value an admin pastes into a
 * device file with `secure: true`.
 *
 * The token is read from standard input or a hidden prompt, never from argv: the
 * command line of every process is readable by all local users (ps, /proc) and
 * lands in shell history. Nothing derived from the token is printed except the
 * encrypted value. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "podstream/ps_config.h"
#include "podstream/ps_diag.h"
#include "podstream/ps_platform.h"
#include "podstream/ps_schema.h"
#include "podstream/ps_secret.h"

static const char *const cmd = "encrypt";

#define DEFAULT_FIELD "properties.token"
/* As in ps_secret: far above any real token, low enough to stop a wrong file. */
#define TOKEN_MAX 65536

static void usage(FILE *out)
{
    fprintf(out,
            "usage: podstream encrypt --device ID [--field FIELD] [-c DIR] [--key-file PATH]\n"
            "                         [--no-config]\n"
            "\n"
            "Encrypts a token with the service shared key and prints the enc:v1: value to\n"
            "paste into the device's file together with \"secure: true\". The token is read\n"
            "from standard input, or typed at a prompt that does not echo when standard\n"
            "input is a terminal; there is deliberately no option that takes the token.\n"
            "The value only decrypts for this device id and field.\n"
            "\n"
            "Options:\n"
            "  --device ID       id of the device the token belongs to (required)\n"
            "  --field FIELD     the field the value goes into (default: " DEFAULT_FIELD ")\n"
            "  -c, --config DIR  configuration directory (default: $PODSTREAM_CONFIG_DIR,\n"
            "                    else %s); the device must exist there, and its\n"
            "                    key_file setting names the key\n"
            "  --key-file PATH   use this key file instead of the key_file setting\n"
            "  --no-config       do not read the configuration (e.g. on a workstation, or for\n"
            "                    a device not added yet); the key is --key-file, else\n"
            "                    DIR/podstream.key\n"
            "  -h, --help        show this help\n"
            "  -V, --version     show the version\n"
            "\n"
            "Examples:\n"
            "  podstream encrypt --device 7                  (type or paste the token)\n"
            "  podstream encrypt --device 7 < token.txt\n"
            "  value=$(podstream encrypt --device 7 < token.txt)\n"
            "\n"
            "Exit codes: 0 ok, 1 failure (unknown device, empty or multi-line token),\n"
            "2 usage error, 3 invalid configuration, 4 key refused or missing.\n",
            ps_plat_default_config_dir());
}

/* An unknown argument may be the token typed in the wrong place, so at most the
 * option name before any '=' is repeated, and only when it looks like one. */
static int unknown_argument(const char *a)
{
    static const char *const token_opts[] = {"--token", "--value", "--secret", "--password", NULL};
    size_t n = strcspn(a, "=");
    bool looks_like_option = a[0] == '-' && n <= 32;

    for (size_t i = 0; looks_like_option && i < n; i++)
        if (!((a[i] >= 'a' && a[i] <= 'z') || a[i] == '-'))
            looks_like_option = false;
    for (size_t i = 0; looks_like_option && token_opts[i]; i++)
        if (strlen(token_opts[i]) == n && strncmp(a, token_opts[i], n) == 0)
            return ps_cli_usage_error(
                cmd,
                "there is no %.*s option: a token on the command line is visible to every "
                "local user and stays in the shell history; pipe it on standard input or type "
                "it at the prompt",
                (int)n, a);
    if (looks_like_option)
        return ps_cli_usage_error(cmd, "unknown option '%.*s'", (int)n, a);
    return ps_cli_usage_error(cmd, "unexpected argument (not shown, in case it is a token); "
                                   "the token is read from standard input");
}

/* The bounds the configuration schema puts on device ids, so that --no-config
 * rejects the same ids the loader would. */
static void device_id_bounds(long long *min, long long *max)
{
    const ps_schema_table *t = ps_schema_device();
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
}

static bool parse_device_id(const char *s, long long *out)
{
    long long min, max, v;
    char *end = NULL;

    if (!*s || !((*s >= '0' && *s <= '9') || *s == '-'))
        return false;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    device_id_bounds(&min, &max);
    if (v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* Field paths as the configuration spells them ("properties.token"). They are part
 * of the AAD, so a typo would only show up as a decryption failure much later. */
static bool field_ok(const char *f)
{
    if (!*f || f[0] == '.' || f[strlen(f) - 1] == '.')
        return false;
    for (const char *p = f; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '.'))
            return false;
    return true;
}

/* Reads the token into buf (wiped by the caller in every case). Returns an exit
 * code; PS_EXIT_OK with the token NUL-terminated in buf. */
static int read_token(long long id, char *buf, size_t cap)
{
    size_t n;
    ps_errmsg em;

    if (ps_plat_stdin_is_terminal()) {
        char prompt[96];
        snprintf(prompt, sizeof prompt, "Token for device %lld (typing is not shown): ", id);
        if (ps_plat_read_secret_line(prompt, buf, cap, &em) != PS_OK) {
            fprintf(stderr, "podstream %s: %s\n", cmd, em.text);
            return PS_EXIT_FAILURE;
        }
        if (!buf[0]) {
            fprintf(stderr, "podstream %s: no token entered\n", cmd);
            return PS_EXIT_FAILURE;
        }
        return PS_EXIT_OK;
    }
    /* Unbuffered, so fread() reads straight into `buf` and no copy of the token is
     * left in a stdio buffer that cannot be wiped. */
    setvbuf(stdin, NULL, _IONBF, 0);
    n = fread(buf, 1, cap - 1, stdin);
    if (ferror(stdin)) {
        fprintf(stderr, "podstream %s: cannot read standard input: %s\n", cmd, strerror(errno));
        return PS_EXIT_FAILURE;
    }
    if (n == cap - 1) {
        fprintf(stderr, "podstream %s: the token on standard input is longer than %d bytes\n", cmd,
                TOKEN_MAX);
        return PS_EXIT_FAILURE;
    }
    /* `echo token |` and files saved by editors add a line ending. */
    if (n > 0 && buf[n - 1] == '\n')
        n--;
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    if (n == 0) {
        fprintf(stderr, "podstream %s: no token on standard input\n", cmd);
        return PS_EXIT_FAILURE;
    }
    if (memchr(buf, '\0', n)) {
        fprintf(stderr, "podstream %s: the token on standard input contains a NUL byte\n", cmd);
        return PS_EXIT_FAILURE;
    }
    if (memchr(buf, '\n', n) || memchr(buf, '\r', n)) {
        fprintf(stderr,
                "podstream %s: standard input has more than one line; give the token alone on "
                "one line\n",
                cmd);
        return PS_EXIT_FAILURE;
    }
    return PS_EXIT_OK;
}

/* Loads the configuration to check the device and find the key. On failure prints
 * why and returns an exit code. */
static int load_config(const char *dir, long long id, ps_config **out, const ps_device **dev)
{
    ps_config *cfg = NULL;
    ps_diag diag;
    ps_err err;
    int rc = PS_EXIT_OK;

    *out = NULL;
    *dev = NULL;
    ps_diag_init(&diag);
    err = ps_config_load(dir, &cfg, &diag);
    if (err == PS_ERR_NOTFOUND) {
        fprintf(stderr,
                "podstream %s: configuration directory %s does not exist; pass -c DIR, or "
                "--no-config with --key-file PATH\n",
                cmd, dir);
        rc = PS_EXIT_FAILURE;
        goto out;
    }
    if (err != PS_OK) {
        ps_diag_sort(&diag);
        ps_diag_print(&diag, stderr);
        fprintf(stderr,
                "podstream %s: the configuration in %s has errors; fix them (see 'podstream "
                "validate'), or pass --no-config to encrypt without checking the device\n",
                cmd, dir);
        rc = PS_EXIT_CONFIG;
        goto out;
    }
    *dev = ps_config_find_device(cfg, id);
    if (!*dev) {
        fprintf(stderr, "podstream %s: device %lld is not defined in %s", cmd, id, dir);
        for (size_t i = 0; i < cfg->ndevices && i < 20; i++)
            fprintf(stderr, "%s%lld", i ? ", " : " (devices: ", cfg->devices[i].id);
        fprintf(stderr, "%s\n",
                cfg->ndevices > 20 ? ", ...)"
                : cfg->ndevices    ? ")"
                                   : " (no devices are configured)");
        fprintf(stderr,
                "podstream %s: check the id, or pass --no-config to encrypt for a device that is "
                "not added yet\n",
                cmd);
        rc = PS_EXIT_FAILURE;
        goto out;
    }
    *out = cfg;
    cfg = NULL;
out:
    ps_config_destroy(cfg);
    ps_diag_deinit(&diag);
    return rc;
}

int ps_cmd_encrypt(int argc, char **argv)
{
    const char *config_opt = NULL, *key_opt = NULL, *device_opt = NULL, *field = DEFAULT_FIELD;
    const char *config_dir;
    bool no_config = false;
    long long id = 0;
    ps_config *cfg = NULL;
    const ps_device *dev = NULL;
    char *key_path = NULL, *token = NULL, *value = NULL;
    unsigned char key[PS_SECRET_KEY_BYTES];
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
        if (strcmp(a, "--no-config") == 0) {
            no_config = true;
            continue;
        }
        r = ps_cli_take_value(argc, argv, &i, "--config", "-c", &config_opt);
        if (r == 0)
            r = ps_cli_take_value(argc, argv, &i, "--key-file", NULL, &key_opt);
        if (r == 0)
            r = ps_cli_take_value(argc, argv, &i, "--device", NULL, &device_opt);
        if (r == 0)
            r = ps_cli_take_value(argc, argv, &i, "--field", NULL, &field);
        if (r < 0)
            return ps_cli_usage_error(cmd, "%s needs a value", a);
        if (r == 0)
            return unknown_argument(a);
    }
    if (!device_opt)
        return ps_cli_usage_error(cmd, "--device ID is required: a value only decrypts for the "
                                       "device it was encrypted for");
    if (!parse_device_id(device_opt, &id)) {
        long long min, max;
        device_id_bounds(&min, &max);
        return ps_cli_usage_error(cmd,
                                  "--device: '%s' is not a device id (a whole number from "
                                  "%lld to %lld)",
                                  device_opt, min, max);
    }
    if (!field_ok(field))
        return ps_cli_usage_error(cmd, "--field: '%s' is not a field path such as " DEFAULT_FIELD,
                                  field);
    if (key_opt && !*key_opt)
        return ps_cli_usage_error(cmd, "--key-file needs a path");
    config_dir = ps_cli_config_dir(config_opt);

    if (!no_config) {
        rc = load_config(config_dir, id, &cfg, &dev);
        if (rc != PS_EXIT_OK)
            goto out;
    }
    if (key_opt)
        key_path = strdup(key_opt);
    else if (cfg)
        key_path = strdup(cfg->service.key_file);
    else
        key_path = ps_plat_path_join(config_dir, "podstream.key");
    if (!key_path) {
        fprintf(stderr, "podstream %s: out of memory\n", cmd);
        rc = PS_EXIT_FAILURE;
        goto out;
    }

    /* The key first: a refused key should not cost the admin a paste. */
    err = ps_secret_key_load(key_path, key, &em);
    if (err != PS_OK) {
        fprintf(stderr, "podstream %s: %s\n", cmd, em.text);
        rc = (err == PS_ERR_NOMEM || err == PS_ERR_IO) ? PS_EXIT_FAILURE : PS_EXIT_SECURITY;
        goto out;
    }

    token = malloc(TOKEN_MAX + 2);
    if (!token) {
        fprintf(stderr, "podstream %s: out of memory\n", cmd);
        rc = PS_EXIT_FAILURE;
        goto out;
    }
    rc = read_token(id, token, TOKEN_MAX + 2);
    if (rc != PS_EXIT_OK)
        goto out;

    err = ps_secret_encrypt(key, id, field, token, &value, &em);
    if (err != PS_OK) {
        fprintf(stderr, "podstream %s: %s\n", cmd, em.text);
        rc = PS_EXIT_FAILURE;
        goto out;
    }
    printf("%s\n", value);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "podstream %s: cannot write standard output: %s\n", cmd, strerror(errno));
        rc = PS_EXIT_FAILURE;
        goto out;
    }
    if (strcmp(field, DEFAULT_FIELD) == 0)
        fprintf(stderr,
                "podstream %s: paste it as the token of device %lld with \"secure: true\"\n", cmd,
                id);
    else
        fprintf(stderr,
                "podstream %s: paste it as %s of device %lld; note that this version of "
                "podstream decrypts only " DEFAULT_FIELD "\n",
                cmd, field, id);
    if (dev && !dev->props.secure && strcmp(field, DEFAULT_FIELD) == 0)
        fprintf(stderr,
                "podstream %s: device %lld (%s) has \"secure: false\"%s%s; set it to true when "
                "you paste the value\n",
                cmd, id, dev->name, dev->pos.file ? " in " : "",
                dev->pos.file ? dev->pos.file : "");
out:
    ps_plat_wipe(key, sizeof key);
    if (token) {
        ps_plat_wipe(token, TOKEN_MAX + 2);
        free(token);
    }
    ps_secret_free(value);
    free(key_path);
    ps_config_destroy(cfg);
    return rc;
}
