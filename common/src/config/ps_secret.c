/* ps_secret: token resolution and the service shared key (see ps_secret.h).
 *
 * Every buffer that may hold a plaintext value or key material is wiped before it
 * is freed, including the intermediate expansion buffer when it grows, because a
 * freed heap block can end up in a core dump or be handed to another allocation. */
#include "podstream/ps_secret.h"

#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_platform.h"

#define NONCE_BYTES 12
#define TAG_BYTES   16
#define KEY_MAGIC   "podstream-key-v1:"
/* base64 of 32 bytes: 44 characters ending in one '='. */
#define KEY_B64_CHARS 44
/* Generous for a key file (one 62-byte line), small enough to reject a wrong file
 * before reading it. */
#define KEY_FILE_MAX 4096
/* The most a resolved value, a secret file or a plaintext may hold. POD tokens are a
 * few hundred bytes; this only stops a wrong file or variable from being sent. */
#define VALUE_MAX 65536
/* Reference names longer than this are cut in messages. */
#define NAME_SHOWN_MAX 64

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

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
    if (n > VALUE_MAX - b->len)
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

/* "a newline", "a carriage return" or NULL: what makes `s` unusable as a single
 * header value. */
static const char *line_break_in(const char *s, size_t n)
{
    if (memchr(s, '\n', n))
        return "a newline";
    if (memchr(s, '\r', n))
        return "a carriage return";
    return NULL;
}

/* ---- base64 ------------------------------------------------------------------ */

/* Strict base64 (RFC 4648, with padding): EVP_DecodeBlock alone skips surrounding
 * whitespace and ignores the unused low bits of the last character, so a changed
 * character could decode to the same bytes. Requiring the canonical encoding (the
 * input equals the re-encoding of its decoding) closes both. *out is a new buffer
 * of *out_len bytes (caller wipes and frees). */
static ps_err b64_decode_strict(const char *in, size_t n, unsigned char **out, size_t *out_len)
{
    size_t pad = 0, raw_len, dec_len;
    unsigned char *buf = NULL;
    char *check = NULL;
    ps_err err = PS_ERR_PARSE;
    int got;

    *out = NULL;
    *out_len = 0;
    if (n == 0 || n % 4 != 0 || n > (size_t)INT_MAX)
        return PS_ERR_PARSE;
    if (in[n - 1] == '=')
        pad++;
    if (in[n - 2] == '=')
        pad++;
    for (size_t i = 0; i < n - pad; i++)
        if (!in[i] || !strchr(b64_alphabet, in[i]))
            return PS_ERR_PARSE;
    raw_len = n / 4 * 3;
    dec_len = raw_len - pad;
    buf = malloc(raw_len + 1);
    check = malloc(n + 1);
    if (!buf || !check) {
        err = PS_ERR_NOMEM;
        goto out;
    }
    got = EVP_DecodeBlock(buf, (const unsigned char *)in, (int)n);
    if (got < 0 || (size_t)got != raw_len)
        goto out;
    if (EVP_EncodeBlock((unsigned char *)check, buf, (int)dec_len) != (int)n ||
        memcmp(check, in, n) != 0)
        goto out;
    *out = buf;
    *out_len = dec_len;
    buf = NULL;
    err = PS_OK;
out:
    if (buf) {
        ps_plat_wipe(buf, raw_len + 1);
        free(buf);
    }
    /* For a key file this is the key again, in base64. */
    if (check) {
        ps_plat_wipe(check, n + 1);
        free(check);
    }
    return err;
}

/* Returns a new NUL-terminated base64 string of `n` bytes, or NULL. */
static char *b64_encode(const unsigned char *in, size_t n)
{
    size_t olen;
    char *out;
    if (n > (size_t)INT_MAX / 2)
        return NULL;
    olen = (n + 2) / 3 * 4;
    out = malloc(olen + 1);
    if (!out)
        return NULL;
    EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    return out;
}

/* ---- AES-256-GCM ------------------------------------------------------------ */

/* The associated data: not secret, but authenticated, so a value copied to another
 * device or field fails to decrypt instead of authenticating as someone else. */
#define AAD_FORMAT "podstream:v1:device=%lld:field=%s"

static char *make_aad(long long device_id, const char *field)
{
    int n = snprintf(NULL, 0, AAD_FORMAT, device_id, field);
    char *aad;
    if (n < 0)
        return NULL;
    aad = malloc((size_t)n + 1);
    if (aad)
        snprintf(aad, (size_t)n + 1, AAD_FORMAT, device_id, field);
    return aad;
}

ps_err ps_secret_encrypt(const unsigned char key[PS_SECRET_KEY_BYTES], long long device_id,
                         const char *field, const char *plain, char **out, ps_errmsg *em)
{
    ps_err err = PS_OK;
    EVP_CIPHER_CTX *c = NULL;
    unsigned char *blob = NULL;
    char *aad = NULL, *b64 = NULL, *res = NULL;
    size_t plen, blob_len = 0, prefix_len = strlen(PS_SECRET_PREFIX), b64_len;
    int outl = 0, finl = 0;
    const char *brk;

    *out = NULL;
    if (!field || !*field)
        return ps_errmsg_set(em, PS_ERR_INVALID, "cannot encrypt: no field name given");
    plen = strlen(plain);
    if (plen == 0)
        return ps_errmsg_set(em, PS_ERR_INVALID, "%s: refusing to encrypt an empty value", field);
    if (plen > VALUE_MAX)
        return ps_errmsg_set(em, PS_ERR_RANGE,
                             "%s: refusing to encrypt a value longer than %d bytes", field,
                             VALUE_MAX);
    brk = line_break_in(plain, plen);
    if (brk)
        return ps_errmsg_set(em, PS_ERR_INVALID, "%s: refusing to encrypt a value that contains %s",
                             field, brk);

    blob_len = NONCE_BYTES + plen + TAG_BYTES;
    blob = malloc(blob_len);
    aad = make_aad(device_id, field);
    c = EVP_CIPHER_CTX_new();
    if (!blob || !aad || !c) {
        err = ps_errmsg_set(em, PS_ERR_NOMEM, "%s: out of memory", field);
        goto out;
    }
    /* A random 96-bit nonce per value: values are encrypted rarely (by an admin), so
     * the birthday bound of 2^32 values per key is far away. */
    if (ps_plat_random(blob, NONCE_BYTES) != PS_OK) {
        err = ps_errmsg_set(em, PS_ERR_IO, "%s: cannot get random bytes from the system", field);
        goto out;
    }
    if (EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, NONCE_BYTES, NULL) != 1 ||
        EVP_EncryptInit_ex(c, NULL, NULL, key, blob) != 1 ||
        EVP_EncryptUpdate(c, NULL, &outl, (const unsigned char *)aad, (int)strlen(aad)) != 1 ||
        EVP_EncryptUpdate(c, blob + NONCE_BYTES, &outl, (const unsigned char *)plain, (int)plen) !=
            1 ||
        EVP_EncryptFinal_ex(c, blob + NONCE_BYTES + outl, &finl) != 1 ||
        (size_t)outl + (size_t)finl != plen ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_BYTES, blob + NONCE_BYTES + plen) != 1) {
        err = ps_errmsg_set(em, PS_ERR_CRYPTO, "%s: encryption failed in OpenSSL", field);
        goto out;
    }
    b64 = b64_encode(blob, blob_len);
    if (!b64) {
        err = ps_errmsg_set(em, PS_ERR_NOMEM, "%s: out of memory", field);
        goto out;
    }
    b64_len = strlen(b64);
    res = malloc(prefix_len + b64_len + 1);
    if (!res) {
        err = ps_errmsg_set(em, PS_ERR_NOMEM, "%s: out of memory", field);
        goto out;
    }
    memcpy(res, PS_SECRET_PREFIX, prefix_len);
    memcpy(res + prefix_len, b64, b64_len + 1);
    *out = res;
out:
    EVP_CIPHER_CTX_free(c); /* clears the key schedule */
    if (blob) {
        ps_plat_wipe(blob, blob_len);
        free(blob);
    }
    free(b64);
    free(aad);
    return err;
}

ps_err ps_secret_decrypt(const unsigned char key[PS_SECRET_KEY_BYTES], long long device_id,
                         const char *field, const char *value, char **plain, ps_errmsg *em)
{
    ps_err err = PS_OK;
    EVP_CIPHER_CTX *c = NULL;
    unsigned char *blob = NULL, *pt = NULL;
    char *aad = NULL;
    size_t prefix_len = strlen(PS_SECRET_PREFIX), blob_len = 0, ct_len = 0;
    int outl = 0, finl = 0;
    const char *brk;

    *plain = NULL;
    if (!field || !*field)
        field = "value";
    if (strncmp(value, PS_SECRET_PREFIX, prefix_len) != 0)
        return ps_errmsg_set(em, PS_ERR_INVALID, "%s: not an enc:v1: value", field);
    err = b64_decode_strict(value + prefix_len, strlen(value + prefix_len), &blob, &blob_len);
    if (err == PS_ERR_NOMEM) {
        err = ps_errmsg_set(em, err, "%s: out of memory", field);
        goto out;
    }
    if (err != PS_OK) {
        err = ps_errmsg_set(em, PS_ERR_INVALID,
                            "%s: the enc:v1: value is not valid base64 (was it cut or changed "
                            "when it was copied?)",
                            field);
        goto out;
    }
    /* An empty plaintext is never encrypted, so a valid value has at least one byte
     * of ciphertext besides the nonce and the tag. */
    if (blob_len <= NONCE_BYTES + TAG_BYTES) {
        err = ps_errmsg_set(em, PS_ERR_INVALID,
                            "%s: the enc:v1: value is too short to hold an encrypted value (was "
                            "it cut when it was copied?)",
                            field);
        goto out;
    }
    ct_len = blob_len - NONCE_BYTES - TAG_BYTES;
    if (ct_len > VALUE_MAX) {
        err = ps_errmsg_set(em, PS_ERR_RANGE, "%s: the enc:v1: value is longer than %d bytes",
                            field, VALUE_MAX);
        goto out;
    }
    pt = malloc(ct_len + 1);
    aad = make_aad(device_id, field);
    c = EVP_CIPHER_CTX_new();
    if (!pt || !aad || !c) {
        err = ps_errmsg_set(em, PS_ERR_NOMEM, "%s: out of memory", field);
        goto out;
    }
    /* GCM writes plaintext before the tag is checked; `pt` is wiped below when the
     * check fails, so unauthenticated bytes never leave this function. */
    if (EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, NONCE_BYTES, NULL) != 1 ||
        EVP_DecryptInit_ex(c, NULL, NULL, key, blob) != 1 ||
        EVP_DecryptUpdate(c, NULL, &outl, (const unsigned char *)aad, (int)strlen(aad)) != 1 ||
        EVP_DecryptUpdate(c, pt, &outl, blob + NONCE_BYTES, (int)ct_len) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_BYTES, blob + NONCE_BYTES + ct_len) != 1 ||
        EVP_DecryptFinal_ex(c, pt + outl, &finl) != 1 || (size_t)outl + (size_t)finl != ct_len) {
        err = ps_errmsg_set(em, PS_ERR_CRYPTO,
                            "%s: cannot decrypt: wrong shared key, altered value, or value "
                            "encrypted for another device or field",
                            field);
        goto out;
    }
    pt[ct_len] = '\0';
    /* Authentic, but written by something other than ps_secret_encrypt: a NUL would
     * silently cut the C string and a line break would corrupt a request header. */
    if (memchr(pt, '\0', ct_len)) {
        err =
            ps_errmsg_set(em, PS_ERR_INVALID, "%s: the decrypted value contains a NUL byte", field);
        goto out;
    }
    brk = line_break_in((const char *)pt, ct_len);
    if (brk) {
        err = ps_errmsg_set(em, PS_ERR_INVALID, "%s: the decrypted value contains %s", field, brk);
        goto out;
    }
    *plain = (char *)pt;
    pt = NULL;
out:
    EVP_CIPHER_CTX_free(c);
    if (pt) {
        ps_plat_wipe(pt, ct_len + 1);
        free(pt);
    }
    if (blob) {
        ps_plat_wipe(blob, blob_len);
        free(blob);
    }
    free(aad);
    return err;
}

/* ---- the key file ------------------------------------------------------------ */

static ps_err parse_key_text(const char *path, const char *text, size_t len,
                             unsigned char key[PS_SECRET_KEY_BYTES], ps_errmsg *em)
{
    size_t magic_len = strlen(KEY_MAGIC), body_len;
    const char *body;
    unsigned char *raw = NULL;
    size_t raw_len = 0;
    ps_err err;

    if (len < magic_len || memcmp(text, KEY_MAGIC, magic_len) != 0)
        return ps_errmsg_set(em, PS_ERR_PARSE,
                             "%s is not a podstream key file: it does not start with \"%s\"", path,
                             KEY_MAGIC);
    body = text + magic_len;
    body_len = len - magic_len;
    /* Copy-paste backups through editors may add CRLF; accept one line ending. */
    if (body_len > 0 && body[body_len - 1] == '\n')
        body_len--;
    if (body_len > 0 && body[body_len - 1] == '\r')
        body_len--;
    if (memchr(body, '\n', body_len) || memchr(body, '\r', body_len))
        return ps_errmsg_set(em, PS_ERR_PARSE,
                             "%s: unexpected text after the key; a key file holds exactly one line",
                             path);
    if (memchr(body, '\0', body_len))
        return ps_errmsg_set(em, PS_ERR_PARSE, "%s: the key contains a NUL byte", path);
    err = b64_decode_strict(body, body_len, &raw, &raw_len);
    if (err == PS_ERR_NOMEM)
        return ps_errmsg_set(em, err, "out of memory reading %s", path);
    if (err != PS_OK)
        return ps_errmsg_set(em, PS_ERR_PARSE,
                             "%s: the key after \"%s\" is not valid base64 (%zu characters; a "
                             "key is %d)",
                             path, KEY_MAGIC, body_len, KEY_B64_CHARS);
    if (raw_len != PS_SECRET_KEY_BYTES) {
        err = ps_errmsg_set(em, PS_ERR_PARSE, "%s: the key is %zu bytes long; a key is %d bytes",
                            path, raw_len, PS_SECRET_KEY_BYTES);
    } else {
        memcpy(key, raw, PS_SECRET_KEY_BYTES);
        err = PS_OK;
    }
    ps_plat_wipe(raw, raw_len);
    free(raw);
    return err;
}

ps_err ps_secret_key_load(const char *path, unsigned char key[PS_SECRET_KEY_BYTES], ps_errmsg *em)
{
    ps_errmsg sub;
    char *text = NULL;
    size_t len = 0;
    ps_err err;

    err = ps_plat_check_private(path, &sub);
    if (err == PS_ERR_NOTFOUND)
        return ps_errmsg_set(em, err,
                             "the shared key file %s does not exist; create it with 'podstream "
                             "keygen'",
                             path);
    if (err == PS_ERR_PERM && ps_plat_is_dir(path))
        return ps_errmsg_set(em, PS_ERR_PARSE, "%s is a directory, not a podstream key file", path);
    if (err == PS_ERR_PERM)
        return ps_errmsg_set(em, err,
                             "refusing the shared key file (whoever can read it can decrypt "
                             "every secure token): %s",
                             sub.text);
    if (err != PS_OK)
        return ps_errmsg_set(em, err, "%s", sub.text);
    err = ps_plat_read_file(path, KEY_FILE_MAX, &text, &len, &sub);
    if (err == PS_ERR_RANGE)
        return ps_errmsg_set(em, PS_ERR_PARSE,
                             "%s is not a podstream key file: it is larger than %d bytes", path,
                             KEY_FILE_MAX);
    if (err != PS_OK)
        return ps_errmsg_set(em, err, "%s", sub.text);
    err = parse_key_text(path, text, len, key, em);
    ps_plat_wipe(text, len);
    free(text);
    if (err != PS_OK)
        ps_plat_wipe(key, PS_SECRET_KEY_BYTES);
    return err;
}

ps_err ps_secret_key_generate(const char *path, bool force, ps_errmsg *em)
{
    unsigned char key[PS_SECRET_KEY_BYTES];
    /* magic + 44 base64 characters + "\n" + NUL */
    char line[sizeof KEY_MAGIC + KEY_B64_CHARS + 2];
    size_t magic_len = strlen(KEY_MAGIC), line_len;
    char *old = NULL, *bak = NULL;
    size_t old_len = 0;
    ps_errmsg sub;
    ps_err err = PS_OK;

    if (ps_plat_random(key, sizeof key) != PS_OK)
        return ps_errmsg_set(em, PS_ERR_IO, "cannot get random bytes from the system");
    memcpy(line, KEY_MAGIC, magic_len);
    EVP_EncodeBlock((unsigned char *)line + magic_len, key, (int)sizeof key);
    line_len = magic_len + KEY_B64_CHARS;
    line[line_len++] = '\n';
    line[line_len] = '\0';

    if (!force || !ps_plat_file_exists(path)) {
        err = ps_plat_create_exclusive(path, line, line_len, 0600, &sub);
        if (err == PS_ERR_EXISTS)
            err = ps_errmsg_set(em, err, "%s already exists", path);
        else if (err != PS_OK)
            err = ps_errmsg_set(em, err, "%s", sub.text);
        goto out;
    }

    /* Replacing: the old key is copied to path.bak rather than hard-linked, so the
     * backup gets mode 0600 even when the old file had looser permissions. */
    err = ps_plat_read_file(path, KEY_FILE_MAX, &old, &old_len, &sub);
    if (err == PS_ERR_RANGE) {
        err = ps_errmsg_set(em, PS_ERR_INVALID,
                            "not replacing %s: it is larger than %d bytes, so it is not a key "
                            "file; move it away first",
                            path, KEY_FILE_MAX);
        goto out;
    }
    if (err != PS_OK) {
        err = ps_errmsg_set(em, err, "not replacing the key: %s", sub.text);
        goto out;
    }
    bak = malloc(strlen(path) + sizeof ".bak");
    if (!bak) {
        err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
        goto out;
    }
    sprintf(bak, "%s.bak", path);
    err = ps_plat_write_file_atomic(bak, old, old_len, 0600, false, &sub);
    if (err != PS_OK) {
        err = ps_errmsg_set(em, err, "not replacing the key: %s", sub.text);
        goto out;
    }
    err = ps_plat_write_file_atomic(path, line, line_len, 0600, false, &sub);
    if (err != PS_OK)
        err = ps_errmsg_set(em, err, "%s", sub.text);
out:
    ps_plat_wipe(key, sizeof key);
    ps_plat_wipe(line, sizeof line);
    if (old) {
        ps_plat_wipe(old, old_len);
        free(old);
    }
    free(bak);
    return err;
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
    brk = line_break_in(v, n);
    if (brk)
        return ps_errmsg_set(em, PS_ERR_INVALID, "%s: environment variable %s contains %s", field,
                             name, brk);
    err = sbuf_append(out, v, n);
    if (err == PS_ERR_RANGE)
        return ps_errmsg_set(em, err, "%s: the value is longer than %d bytes after expanding %s",
                             field, VALUE_MAX, name);
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
    err = ps_plat_read_file(path, VALUE_MAX, &data, &data_len, &sub);
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
    brk = line_break_in(data, len);
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
                                field, VALUE_MAX, name);
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
        return ps_errmsg_set(em, err, "%s: the value is longer than %d bytes", field, VALUE_MAX);
    if (err != PS_OK)
        return ps_errmsg_set(em, err, "%s: out of memory", field);
    return PS_OK;
}

ps_err ps_secret_resolve(ps_secret_ctx *ctx, const char *raw, bool secure, long long device_id,
                         const char *field, char **plain, ps_errmsg *em)
{
    sbuf val = {0};
    ps_errmsg sub;
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
