/* ps_secret: AES-256-GCM values (enc:v1:) and the shared key file (see ps_secret.h).
 * Token resolution is in ps_secret.c.
 *
 * Every buffer that may hold a plaintext value or key material is wiped before it
 * is freed, because a freed heap block can end up in a core dump or be handed to
 * another allocation. */
#include "podstream/ps_secret.h"

#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/ps_secret_internal.h"
#include "podstream/ps_platform.h"

#define NONCE_BYTES 12
#define TAG_BYTES   16
#define KEY_MAGIC   "podstream-key-v1:"
/* base64 of 32 bytes: 44 characters ending in one '='. */
#define KEY_B64_CHARS 44
/* Generous for a key file (one 62-byte line), small enough to reject a wrong file
 * before reading it. */
#define KEY_FILE_MAX 4096

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

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
    if (plen > PS_SECRET_VALUE_MAX)
        return ps_errmsg_set(em, PS_ERR_RANGE,
                             "%s: refusing to encrypt a value longer than %d bytes", field,
                             PS_SECRET_VALUE_MAX);
    brk = ps_secret_unusable_char(plain, plen);
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

/* AES-256-GCM open of blob = nonce || ciphertext (ct_len bytes) || tag into pt.
 * False when the tag does not match (or OpenSSL fails); pt then holds unauthenticated
 * bytes that the caller must wipe. */
static bool gcm_open(const unsigned char key[PS_SECRET_KEY_BYTES], const char *aad,
                     const unsigned char *blob, size_t ct_len, unsigned char *pt)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int outl = 0, finl = 0;
    bool ok;
    if (!c)
        return false;
    ok = EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
         EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, NONCE_BYTES, NULL) == 1 &&
         EVP_DecryptInit_ex(c, NULL, NULL, key, blob) == 1 &&
         EVP_DecryptUpdate(c, NULL, &outl, (const unsigned char *)aad, (int)strlen(aad)) == 1 &&
         EVP_DecryptUpdate(c, pt, &outl, blob + NONCE_BYTES, (int)ct_len) == 1 &&
         EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_BYTES,
                             (void *)(blob + NONCE_BYTES + ct_len)) == 1 &&
         EVP_DecryptFinal_ex(c, pt + outl, &finl) == 1 && (size_t)outl + (size_t)finl == ct_len;
    EVP_CIPHER_CTX_free(c); /* clears the key schedule */
    return ok;
}

/* Decodes the base64 after the prefix into *blob and checks that it can hold a
 * value; *ct_len is the length of the ciphertext in it. */
static ps_err decode_value(const char *value, const char *field, unsigned char **blob,
                           size_t *blob_len, size_t *ct_len, ps_errmsg *em)
{
    size_t prefix_len = strlen(PS_SECRET_PREFIX);
    ps_err err;
    if (strncmp(value, PS_SECRET_PREFIX, prefix_len) != 0)
        return ps_errmsg_set(em, PS_ERR_INVALID, "%s: not an enc:v1: value", field);
    err = b64_decode_strict(value + prefix_len, strlen(value + prefix_len), blob, blob_len);
    if (err == PS_ERR_NOMEM)
        return ps_errmsg_set(em, err, "%s: out of memory", field);
    if (err != PS_OK)
        return ps_errmsg_set(em, PS_ERR_INVALID,
                             "%s: the enc:v1: value is not valid base64 (was it cut or changed "
                             "when it was copied?)",
                             field);
    /* An empty plaintext is never encrypted, so a valid value has at least one byte
     * of ciphertext besides the nonce and the tag. */
    if (*blob_len <= NONCE_BYTES + TAG_BYTES)
        return ps_errmsg_set(em, PS_ERR_INVALID,
                             "%s: the enc:v1: value is too short to hold an encrypted value (was "
                             "it cut when it was copied?)",
                             field);
    *ct_len = *blob_len - NONCE_BYTES - TAG_BYTES;
    if (*ct_len > PS_SECRET_VALUE_MAX)
        return ps_errmsg_set(em, PS_ERR_RANGE, "%s: the enc:v1: value is longer than %d bytes",
                             field, PS_SECRET_VALUE_MAX);
    return PS_OK;
}

ps_err ps_secret_decrypt(const unsigned char key[PS_SECRET_KEY_BYTES], long long device_id,
                         const char *field, const char *value, char **plain, ps_errmsg *em)
{
    ps_err err;
    unsigned char *blob = NULL, *pt = NULL;
    char *aad = NULL;
    size_t blob_len = 0, ct_len = 0;
    const char *brk;

    *plain = NULL;
    if (!field || !*field)
        field = "value";
    err = decode_value(value, field, &blob, &blob_len, &ct_len, em);
    if (err != PS_OK)
        goto out;
    pt = malloc(ct_len + 1);
    aad = make_aad(device_id, field);
    if (!pt || !aad) {
        err = ps_errmsg_set(em, PS_ERR_NOMEM, "%s: out of memory", field);
        goto out;
    }
    /* GCM writes plaintext before the tag is checked; `pt` is wiped below when the
     * check fails, so unauthenticated bytes never leave this function. */
    if (!gcm_open(key, aad, blob, ct_len, pt)) {
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
    brk = ps_secret_unusable_char((const char *)pt, ct_len);
    if (brk) {
        err = ps_errmsg_set(em, PS_ERR_INVALID, "%s: the decrypted value contains %s", field, brk);
        goto out;
    }
    *plain = (char *)pt;
    pt = NULL;
out:
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
    /* Run as root on the service account's key, the backup stays that account's
     * (still 0600), as the new key does (ps_plat_write_file_atomic). Best effort:
     * only root can give a file away. */
    (void)ps_plat_copy_owner(path, bak, false, NULL);
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
