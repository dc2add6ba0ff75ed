/* ps_secret: token resolution (see ps_secret.h); encryption and the key file are in
 * ps_secret_crypto.c.
 *
 * Every buffer that may hold a plaintext value or key material is wiped before it
 * is freed, including the intermediate expansion buffer when it grows, because a
 * freed heap block can end up in a core dump or be handed to another allocation. */
#include "podstream/ps_secret.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/ps_secret_internal.h"
#include "podstream/ps_platform.h"

/* Reference names longer than this are cut in messages. */
#define NAME_SHOWN_MAX 64

/* ---- wiped buffers ---------------------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t len;
    size_t cap;
} sbuf;

static void sbuf_wipe(sbuf *b)
{
    if (b->p) {
        ps_plat_wipe(b->p, b->cap);
        free(b->p);
    }
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
}

/* Grows by copy-then-wipe instead of realloc: realloc may move the block and leave
 * the old copy of the plaintext behind in freed memory. */
static ps_err sbuf_append(sbuf *b, const char *s, size_t n)
{
    if (n > PS_SECRET_VALUE_MAX - b->len)
        return PS_ERR_RANGE;
    if (b->len + n + 1 > b->cap) {
        size_t ncap = b->cap ? b->cap : 128;
        char *np;
        while (ncap < b->len + n + 1)
            ncap *= 2;
        np = malloc(ncap);
        if (!np)
            return PS_ERR_NOMEM;
        if (b->p) {
            memcpy(np, b->p, b->len);
            ps_plat_wipe(b->p, b->cap);
            free(b->p);
        }
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return PS_OK;
}

static char *copy_exact(const char *s, size_t n)
{
    char *r = malloc(n + 1);
    if (!r)
        return NULL;
    memcpy(r, s, n);
    r[n] = '\0';
    return r;
}

void ps_secret_free(char *s)
{
    if (!s)
        return;
    ps_plat_wipe(s, strlen(s));
    free(s);
}

/* "a newline", "a carriage return", "a control character" or NULL: what makes `s`
 * unusable as a single header value. A token is printable ASCII; a stray control
 * byte would only earn a 401 (or a mangled header) much later. */
const char *ps_secret_unusable_char(const char *s, size_t n)
{
    if (memchr(s, '\n', n))
        return "a newline";
    if (memchr(s, '\r', n))
        return "a carriage return";
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
            return "a control character";
    return NULL;
}

/* ---- resolution ------------------------------------------------------------- */

void ps_secret_ctx_init(ps_secret_ctx *ctx, const char *secrets_dir, const char *key_file)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->secrets_dir = secrets_dir;
    ctx->key_file = key_file;
}

void ps_secret_ctx_deinit(ps_secret_ctx *ctx)
{
    if (!ctx)
        return;
    ps_plat_wipe(ctx->key, sizeof ctx->key);
    ctx->key_loaded = false;
}

/* Copies a reference name for a message: printable ASCII only, cut when long. */
static void shown_name(char *dst, size_t dst_len, const char *name, size_t n)
{
    size_t j = 0;
    for (size_t i = 0; i < n && j + 4 < dst_len; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (i == NAME_SHOWN_MAX) {
            memcpy(dst + j, "...", 3);
            j += 3;
            break;
        }
        dst[j++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
    }
    dst[j] = '\0';
}

static bool env_name_ok(const char *s, size_t n)
{
    if (n == 0 || !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return true;
}

/* Secret names become file names: no separators, and not "." or "..". */
static bool secret_name_ok(const char *s, size_t n)
{
    bool all_dots = true;
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
        if (c != '.')
            all_dots = false;
    }
    return !all_dots;
}

static ps_err expand_env(const char *name, const char *field, sbuf *out, ps_errmsg *em)
{
    const char *v = getenv(name);
    const char *brk;
    size_t n;
    ps_err err;

    if (!v)
        return ps_errmsg_set(em, PS_ERR_NOTFOUND, "%s: environment variable %s is not set", field,
                             name);
    n = strlen(v);
    if (n == 0)
        return ps_errmsg_set(em, PS_ERR_INVALID, "%s: environment variable %s is empty", field,
                             name);
    brk = ps_secret_unusable_char(v, n);
    if (brk)
        return ps_errmsg_set(em, PS_ERR_INVALID, "%s: environment variable %s contains %s", field,
                             name, brk);
    err = sbuf_append(out, v, n);
    if (err == PS_ERR_RANGE)
        return ps_errmsg_set(em, err, "%s: the value is longer than %d bytes after expanding %s",
                             field, PS_SECRET_VALUE_MAX, name);
    if (err != PS_OK)
        return ps_errmsg_set(em, err, "%s: out of memory", field);
    return PS_OK;
}

/* Reads one secret file into `out`. `check_mode`: refuse a file others can read.
 * Returns PS_ERR_NOTFOUND (without a message) when the file does not exist, so the
 * caller can try the next place. */
static ps_err read_secret_file(const char *path, bool check_mode, const char *name,
                               const char *field, sbuf *out, ps_errmsg *em)
{
    ps_errmsg sub;
    char *data = NULL;
    size_t len = 0, data_len = 0;
    const char *brk;
    ps_err err;

    if (!ps_plat_file_exists(path))
        return PS_ERR_NOTFOUND;
    if (check_mode) {
        err = ps_plat_check_private(path, &sub);
        if (err == PS_ERR_NOTFOUND)
            return err;
        if (err != PS_OK)
            return ps_errmsg_set(em, err, "%s: refusing secret \"%s\": %s", field, name, sub.text);
    }
    err = ps_plat_read_file(path, PS_SECRET_VALUE_MAX, &data, &data_len, &sub);
    if (err == PS_ERR_NOTFOUND)
        return err;
    if (err != PS_OK)
        return ps_errmsg_set(em, err, "%s: secret \"%s\": %s", field, name, sub.text);
    len = data_len;
    /* Files written with `echo` or an editor end in a newline that is not part of
     * the secret. */
    if (len > 0 && data[len - 1] == '\n')
        len--;
    if (len > 0 && data[len - 1] == '\r')
        len--;
    brk = ps_secret_unusable_char(data, len);
    if (len == 0)
        err =
            ps_errmsg_set(em, PS_ERR_INVALID, "%s: secret \"%s\" (%s) is empty", field, name, path);
    else if (memchr(data, '\0', len))
        err = ps_errmsg_set(em, PS_ERR_INVALID, "%s: secret \"%s\" (%s) contains a NUL byte", field,
                            name, path);
    else if (brk)
        err = ps_errmsg_set(em, PS_ERR_INVALID,
                            "%s: secret \"%s\" (%s) contains %s; only one trailing newline is "
                            "allowed",
                            field, name, path, brk);
    else {
        err = sbuf_append(out, data, len);
        if (err == PS_ERR_RANGE)
            err = ps_errmsg_set(em, err,
                                "%s: the value is longer than %d bytes after expanding secret "
                                "\"%s\"",
                                field, PS_SECRET_VALUE_MAX, name);
        else if (err != PS_OK)
            err = ps_errmsg_set(em, err, "%s: out of memory", field);
    }
    ps_plat_wipe(data, data_len);
    free(data);
    return err;
}

static ps_err expand_secret(const ps_secret_ctx *ctx, const char *name, const char *field,
                            sbuf *out, ps_errmsg *em)
{
    /* systemd's LoadCredential= puts credentials in a private per-unit directory and
     * names it in $CREDENTIALS_DIRECTORY; elsewhere the variable is simply unset. */
    const char *creds = getenv("CREDENTIALS_DIRECTORY");
    const char *dir = ctx->secrets_dir;
    char *cred_path = NULL, *dir_path = NULL;
    char looked[1024] = "", note[600] = "";
    ps_err err = PS_ERR_NOTFOUND;

    if (creds && *creds) {
        cred_path = ps_plat_path_join(creds, name);
        if (!cred_path) {
            err = ps_errmsg_set(em, PS_ERR_NOMEM, "%s: out of memory", field);
            goto out;
        }
        /* That directory is private to the unit by construction and its file modes
         * are systemd's choice, so they are not checked. */
        err = read_secret_file(cred_path, false, name, field, out, em);
        if (err != PS_ERR_NOTFOUND)
            goto out;
        snprintf(looked, sizeof looked, "looked in %s", cred_path);
    }
    if (!dir || !*dir) {
        snprintf(note, sizeof note, "no secrets directory is configured");
    } else if (!ps_plat_file_exists(dir)) {
        snprintf(note, sizeof note, "secrets directory %s does not exist", dir);
    } else {
        size_t used = strlen(looked);
        dir_path = ps_plat_path_join(dir, name);
        if (!dir_path) {
            err = ps_errmsg_set(em, PS_ERR_NOMEM, "%s: out of memory", field);
            goto out;
        }
        err = read_secret_file(dir_path, true, name, field, out, em);
        if (err != PS_ERR_NOTFOUND)
            goto out;
        snprintf(looked + used, sizeof looked - used, "%s%s", used ? " and " : "looked in ",
                 dir_path);
    }
    err = ps_errmsg_set(em, PS_ERR_NOTFOUND, "%s: secret \"%s\" not found (%s%s%s)", field, name,
                        looked, looked[0] && note[0] ? "; " : "", note);
out:
    free(cred_path);
    free(dir_path);
    return err;
}

/* Expands every ${VAR} and $secret{name} in `raw` into `out`, once: text that comes
 * out of a variable or secret is not scanned again, so a secret may contain '$'. */
static ps_err expand(const ps_secret_ctx *ctx, const char *raw, const char *field, sbuf *out,
                     ps_errmsg *em)
{
    const char *p = raw;
    ps_err err = PS_OK;

    while (*p) {
        const char *dollar = strchr(p, '$');
        const char *name_start, *close, *opener;
        char name[256], shown[NAME_SHOWN_MAX + 8];
        size_t name_len;
        bool is_env;

        if (!dollar) {
            err = sbuf_append(out, p, strlen(p));
            break;
        }
        err = sbuf_append(out, p, (size_t)(dollar - p));
        if (err != PS_OK)
            break;
        if (dollar[1] == '{') {
            is_env = true;
            opener = "${";
            name_start = dollar + 2;
        } else if (strncmp(dollar + 1, "secret{", 7) == 0) {
            is_env = false;
            opener = "$secret{";
            name_start = dollar + 8;
        } else {
            /* A lone '$' is literal text. */
            err = sbuf_append(out, "$", 1);
            if (err != PS_OK)
                break;
            p = dollar + 1;
            continue;
        }
        close = strchr(name_start, '}');
        /* The rest of the value is not shown: without its '}' it may be the token. */
        if (!close)
            return ps_errmsg_set(em, PS_ERR_INVALID,
                                 "%s: a \"%s\" reference is not closed with \"}\"", field, opener);
        name_len = (size_t)(close - name_start);
        shown_name(shown, sizeof shown, name_start, name_len);
        if (is_env ? !env_name_ok(name_start, name_len) : !secret_name_ok(name_start, name_len))
            return ps_errmsg_set(em, PS_ERR_INVALID,
                                 is_env ? "%s: \"${%s}\" is not a valid environment variable "
                                          "name (use letters, digits and '_', not starting "
                                          "with a digit)"
                                        : "%s: \"$secret{%s}\" is not a valid secret name (use "
                                          "letters, digits, '.', '_' and '-')",
                                 field, shown);
        if (name_len >= sizeof name)
            return ps_errmsg_set(em, PS_ERR_INVALID, "%s: the reference name \"%s\" is too long",
                                 field, shown);
        memcpy(name, name_start, name_len);
        name[name_len] = '\0';
        err = is_env ? expand_env(name, field, out, em) : expand_secret(ctx, name, field, out, em);
        if (err != PS_OK)
            return err;
        p = close + 1;
    }
    if (err == PS_ERR_RANGE)
        return ps_errmsg_set(em, err, "%s: the value is longer than %d bytes", field,
                             PS_SECRET_VALUE_MAX);
    if (err != PS_OK)
        return ps_errmsg_set(em, err, "%s: out of memory", field);
    return PS_OK;
}

ps_err ps_secret_resolve(ps_secret_ctx *ctx, const char *raw, bool secure, long long device_id,
                         const char *field, char **plain, ps_errmsg *em)
{
    sbuf val = {0};
    ps_errmsg sub;
    const char *bad;
    bool is_enc;
    ps_err err;

    *plain = NULL;
    if (!field || !*field)
        field = "value";
    if (!raw)
        return ps_errmsg_set(em, PS_ERR_INVALID, "%s: no value", field);
    err = expand(ctx, raw, field, &val, em);
    if (err != PS_OK)
        goto out;
    if (val.len == 0) {
        err = ps_errmsg_set(em, PS_ERR_INVALID, "%s: the value is empty", field);
        goto out;
    }
    is_enc = strncmp(val.p, PS_SECRET_PREFIX, strlen(PS_SECRET_PREFIX)) == 0;
    if (!secure) {
        /* Sending ciphertext as a bearer token would only earn a 401 much later. */
        if (is_enc) {
            err = ps_errmsg_set(em, PS_ERR_INVALID,
                                "%s: the value is an enc:v1: value but secure is false; set "
                                "secure: true",
                                field);
            goto out;
        }
        bad = ps_secret_unusable_char(val.p, val.len);
        if (bad) {
            /* Names the field, never the value: it may be a token. */
            err = ps_errmsg_set(em, PS_ERR_INVALID, "%s: the value contains %s", field, bad);
            goto out;
        }
        *plain = copy_exact(val.p, val.len);
        if (!*plain)
            err = ps_errmsg_set(em, PS_ERR_NOMEM, "%s: out of memory", field);
        goto out;
    }
    if (!is_enc) {
        err = ps_errmsg_set(em, PS_ERR_INVALID,
                            "%s: secure is true but the value is not an enc:v1: value (create one "
                            "with 'podstream encrypt')",
                            field);
        goto out;
    }
    if (!ctx->key_loaded) {
        if (!ctx->key_file || !*ctx->key_file) {
            err = ps_errmsg_set(em, PS_ERR_NOTFOUND,
                                "%s: secure is true but no shared key file is configured", field);
            goto out;
        }
        err = ps_secret_key_load(ctx->key_file, ctx->key, &sub);
        if (err != PS_OK) {
            err = ps_errmsg_set(em, err, "%s: %s", field, sub.text);
            goto out;
        }
        ctx->key_loaded = true;
    }
    err = ps_secret_decrypt(ctx->key, device_id, field, val.p, plain, em);
out:
    sbuf_wipe(&val);
    return err;
}

bool ps_secret_has_reference(const char *raw)
{
    return strstr(raw, "${") || strstr(raw, "$secret{");
}

/* True when all of `s` is one ${NAME} or $secret{name} reference. */
static bool whole_reference(const char *s)
{
    size_t n = strlen(s);
    if (n < 4 || s[n - 1] != '}' || strchr(s, '}') != s + n - 1)
        return false;
    return strncmp(s, "${", 2) == 0 || (strncmp(s, "$secret{", 8) == 0 && n > 9);
}

const char *ps_secret_source(const char *raw, bool secure)
{
    if (secure)
        return "encrypted";
    if (whole_reference(raw))
        return raw;
    if (ps_secret_has_reference(raw))
        return "reference";
    return "in the file";
}
