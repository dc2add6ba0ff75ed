/* podstream encrypt: turns a token into the enc:v1: value an admin pastes into a
 * device file with `secure: true`.
 *
 * The token is read from standard input or a hidden prompt, never from argv: the
 * command line of every process is readable by all local users (ps, /proc) and
 * lands in shell history. Nothing derived from the token is printed except the
 * encrypted value. */
#include <errno.h>
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

static const char *const cmd = "encrypt";

#define DEFAULT_FIELD "properties.token"
/* As in ps_secret: far above any real token, low enough to stop a wrong file. */
#define TOKEN_MAX 65536

typedef struct encrypt_opts {
    const char *device, *output, *field, *config, *key_file;
    bool no_config;
} encrypt_opts;

/* An output's secrets are bound to "device" 0 (no device has it) and the field
 * outputs.<name>.<option>, as the outputs resolve them (ps_out_secret). */
#define OUTPUT_ID 0

static const ps_opt options[] = {
    {"device", 0, PS_OPT_STRING, "ID", offsetof(encrypt_opts, device),
     "id of the device the token belongs to (this or --output\nis required)", NULL, 0, 0, NULL},
    {"output", 0, PS_OPT_STRING, "NAME", offsetof(encrypt_opts, output),
     "or the output (outputs:, by name) a secret belongs to;\n--field then names its option: "
     "password, token,\nclient_secret",
     NULL, 0, 0, NULL},
    {"field", 0, PS_OPT_STRING, "FIELD", offsetof(encrypt_opts, field),
     "the field the value goes into (default: " DEFAULT_FIELD ")", NULL, 0, 0, NULL},
    {"config", 'c', PS_OPT_STRING, "DIR", offsetof(encrypt_opts, config),
     "configuration directory (default: $PODSTREAM_CONFIG_DIR,\n"
     "else {config_dir}); the device must exist there,\n"
     "and its key_file setting names the key",
     NULL, 0, 0, NULL},
    {"key-file", 0, PS_OPT_STRING, "PATH", offsetof(encrypt_opts, key_file),
     "use this key file instead of the key_file setting", NULL, 0, 0, NULL},
    {"no-config", 0, PS_OPT_FLAG, NULL, offsetof(encrypt_opts, no_config),
     "do not read the configuration (e.g. on a workstation,\n"
     "or for a device not added yet); the key is --key-file,\n"
     "else DIR/podstream.key",
     NULL, 0, 0, NULL},
};

const ps_opt_cmd ps_cmd_encrypt_opts = {
    "encrypt",
    "encrypt a token for secure: true (reads it from stdin)",
    "--device ID [--field FIELD] [-c DIR] [--key-file PATH]\n  [--no-config]\n"
    "--output NAME --field OPTION [-c DIR] [--key-file PATH]\n  [--no-config]",
    "Encrypts a token with the service shared key and prints the enc:v1: value to\n"
    "paste into the device's file together with \"secure: true\". The token is read\n"
    "from standard input, or typed at a prompt that does not echo when standard\n"
    "input is a terminal; there is deliberately no option that takes the token.\n"
    "The value only decrypts for this device id and field (or this output and\n"
    "option).",
    options,
    sizeof options / sizeof options[0],
    "Examples:\n"
    "  podstream encrypt --device 7                  (type or paste the token)\n"
    "  podstream encrypt --device 7 < token.txt\n"
    "  value=$(podstream encrypt --device 7 < token.txt)\n"
    "  podstream encrypt --output splunk --field token < hec-token.txt\n"
    "\n"
    "Exit codes: 0 ok, 1 failure (unknown device, empty or multi-line token),\n"
    "2 usage error, 3 invalid configuration, 4 key refused or missing.",
    PS_OPT_CMD_SECRET_ARGS,
};

/* A token typed as an option value (`--token=...`) gets its own message before
 * the options are parsed, which says why there is no such option. Only the name
 * before any '=' is looked at or repeated. */
static int token_option(int argc, char **argv)
{
    static const char *const token_opts[] = {"--token", "--value", "--secret", "--password", NULL};
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        size_t n = strcspn(argv[i], "=");
        for (size_t k = 0; token_opts[k]; k++)
            if (strlen(token_opts[k]) == n && strncmp(argv[i], token_opts[k], n) == 0)
                return ps_cli_usage_error(
                    cmd,
                    "there is no %s option: a token on the command line is visible to every "
                    "local user and stays in the shell history; pipe it on standard input or "
                    "type it at the prompt",
                    token_opts[k]);
    }
    return PS_CLI_RUN;
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
        if (id == OUTPUT_ID)
            snprintf(prompt, sizeof prompt, "Secret (typing is not shown): ");
        else
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
    *dev = id == OUTPUT_ID ? NULL : ps_config_find_device(cfg, id);
    if (!*dev && id != OUTPUT_ID) {
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

/* Checks what the options cannot say by themselves. Returns PS_CLI_RUN with the
 * device id in *id, or the exit code of a usage error (printed). */
static int check_options(const encrypt_opts *o, const ps_opt_list *args, long long *id)
{
    long long min, max;
    if (args->n)
        return ps_cli_usage_error(cmd, "unexpected argument (not shown, in case it is a token); "
                                       "the token is read from standard input");
    if (o->output) {
        *id = OUTPUT_ID;
        if (o->device)
            return ps_cli_usage_error(cmd, "--device and --output exclude each other");
        if (!o->output[0] ||
            strspn(o->output, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                              "0123456789_-") != strlen(o->output))
            return ps_cli_usage_error(cmd, "--output: '%s' is not an output name", o->output);
        if (strcmp(o->field, DEFAULT_FIELD) == 0)
            return ps_cli_usage_error(cmd, "--output needs --field OPTION: the output's option "
                                           "the value goes into (password, token, "
                                           "client_secret)");
        return field_ok(o->field)
                   ? PS_CLI_RUN
                   : ps_cli_usage_error(cmd, "--field: '%s' is not an option name", o->field);
    }
    if (!o->device)
        return ps_cli_usage_error(cmd, "--device ID (or --output NAME) is required: a value only "
                                       "decrypts for the device it was encrypted for");
    if (!ps_cli_device_id(o->device, id, &min, &max))
        return ps_cli_usage_error(cmd,
                                  "--device: '%s' is not a device id (a whole number from "
                                  "%lld to %lld)",
                                  o->device, min, max);
    if (!field_ok(o->field))
        return ps_cli_usage_error(cmd, "--field: '%s' is not a field path such as " DEFAULT_FIELD,
                                  o->field);
    return PS_CLI_RUN;
}

/* After the value: where it goes, and whether the device must change. */
static void print_hints(const char *field, long long id, const ps_device *dev)
{
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
}

/* Reads the token, encrypts it under `key` and prints the value. Returns the
 * exit code. */
static int encrypt_token(const unsigned char *key, long long id, const char *field)
{
    char *token = malloc(TOKEN_MAX + 2), *value = NULL;
    ps_errmsg em;
    int rc;

    if (!token) {
        fprintf(stderr, "podstream %s: out of memory\n", cmd);
        return PS_EXIT_FAILURE;
    }
    rc = read_token(id, token, TOKEN_MAX + 2);
    if (rc == PS_EXIT_OK && ps_secret_encrypt(key, id, field, token, &value, &em) != PS_OK) {
        fprintf(stderr, "podstream %s: %s\n", cmd, em.text);
        rc = PS_EXIT_FAILURE;
    }
    ps_plat_wipe(token, TOKEN_MAX + 2);
    free(token);
    if (rc != PS_EXIT_OK)
        return rc;
    printf("%s\n", value);
    ps_secret_free(value);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "podstream %s: cannot write standard output: %s\n", cmd, strerror(errno));
        return PS_EXIT_FAILURE;
    }
    return PS_EXIT_OK;
}

int ps_cmd_encrypt(int argc, char **argv)
{
    encrypt_opts o = {NULL, NULL, DEFAULT_FIELD, NULL, NULL, false};
    char output_field[192];
    ps_opt_list args = {NULL, 0};
    const char *config_dir;
    long long id = 0;
    ps_config *cfg = NULL;
    const ps_device *dev = NULL;
    char *key_path = NULL;
    unsigned char key[PS_SECRET_KEY_BYTES];
    ps_errmsg em;
    ps_err err;
    int rc = token_option(argc, argv);

    if (rc == PS_CLI_RUN)
        rc = ps_cli_parse(&ps_cmd_encrypt_opts, argc, argv, &o, &args);
    if (rc == PS_CLI_RUN)
        rc = check_options(&o, &args, &id);
    ps_opt_list_free(&args);
    if (rc != PS_CLI_RUN)
        return rc;
    config_dir = ps_cli_config_dir(o.config);
    if (!o.no_config) {
        rc = load_config(config_dir, id, &cfg, &dev);
        if (rc != PS_EXIT_OK)
            goto out;
    }
    if (o.key_file)
        key_path = strdup(o.key_file);
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
    if (o.output && snprintf(output_field, sizeof output_field, "outputs.%s.%s", o.output,
                             o.field) >= (int)sizeof output_field) {
        fprintf(stderr, "podstream %s: --output and --field are too long\n", cmd);
        rc = PS_EXIT_USAGE;
        goto out;
    }
    rc = encrypt_token(key, id, o.output ? output_field : o.field);
    if (rc == PS_EXIT_OK && o.output)
        fprintf(stderr, "podstream %s: paste it as %s: of output %s\n", cmd, o.field, o.output);
    else if (rc == PS_EXIT_OK)
        print_hints(o.field, id, dev);
out:
    ps_plat_wipe(key, sizeof key);
    free(key_path);
    ps_config_destroy(cfg);
    return rc;
}
