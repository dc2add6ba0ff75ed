/* ps_secret: token references, AES-256-GCM values and the shared key file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "podstream/ps_secret.h"

#define FIELD "properties.token"
/* Looks like a POD token (a JWT); every failing test checks it never shows up in a
 * message. */
#define TOKEN "eyJhbGciOiJIUzUxMiJ9.c2VjcmV0LXRva2VuLWZvci10ZXN0cw.sig-Zm9v_bar"

typedef struct fixture {
    char dir[64];
    char key_path[128];
    char secrets[128];
    char creds[128];
    unsigned char key[PS_SECRET_KEY_BYTES];
} fixture;

/* ---- helpers ----------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void write_file(const char *path, const char *data, size_t len, mode_t mode)
{
    int fd;
    /* Recreated, so a read-only file from an earlier step is no obstacle. */
    unlink(path);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
    assert_int_equal(chmod(path, mode), 0);
}

static void write_str(const char *path, const char *data, mode_t mode)
{
    write_file(path, data, strlen(data), mode);
}

static char *read_all(const char *path)
{
    static char buf[8192];
    FILE *f = fopen(path, "rb");
    size_t n;
    assert_non_null(f);
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* Mode 0600 on Linux; on Windows the key gets an ACL instead, which
 * test_platform_win32 checks (wine keeps no ACL to read back here). */
static void assert_mode_0600(const char *path)
{
#ifdef _WIN32
    (void)path;
#else
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
#endif
}

/* An independent base64 so the tamper test does not trust the code under test. */
static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t b64_decode(const char *in, unsigned char *out)
{
    size_t n = 0, len = strlen(in);
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len && in[i] != '='; i++) {
        const char *p = strchr(b64, in[i]);
        assert_non_null(p);
        acc = (acc << 6) | (uint32_t)(p - b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(acc >> bits);
        }
    }
    return n;
}

static void b64_encode(const unsigned char *in, size_t n, char *out)
{
    size_t j = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[j++] = b64[(v >> 18) & 63];
        out[j++] = b64[(v >> 12) & 63];
        out[j++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        out[j++] = i + 2 < n ? b64[v & 63] : '=';
    }
    out[j] = '\0';
}

/* Resolves and expects failure with exactly `want`; the token must not leak. */
static void expect_fail(ps_secret_ctx *ctx, const char *raw, bool secure, long long dev,
                        ps_err code, const char *want)
{
    char *plain = (char *)"not touched";
    ps_errmsg em = {{0}};
    ps_err err = ps_secret_resolve(ctx, raw, secure, dev, FIELD, &plain, &em);
    assert_int_equal(err, code);
    assert_null(plain);
    assert_string_equal(em.text, want);
    assert_null(strstr(em.text, TOKEN));
    assert_null(strstr(em.text, "c2VjcmV0"));
}

static void expect_ok(ps_secret_ctx *ctx, const char *raw, bool secure, long long dev,
                      const char *want)
{
    char *plain = NULL;
    ps_errmsg em = {{0}};
    ps_err err = ps_secret_resolve(ctx, raw, secure, dev, FIELD, &plain, &em);
    if (err != PS_OK)
        fail_msg("resolve failed: %s", em.text);
    assert_non_null(plain);
    assert_string_equal(plain, want);
    ps_secret_free(plain);
}

static char *encrypt_token(const unsigned char *key, long long dev, const char *field,
                           const char *plain)
{
    char *out = NULL;
    ps_errmsg em;
    ps_err err = ps_secret_encrypt(key, dev, field, plain, &out, &em);
    if (err != PS_OK)
        fail_msg("encrypt failed: %s", em.text);
    return out;
}

/* ---- fixture ----------------------------------------------------------------- */

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    ps_errmsg em;
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/ps_secret_XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->key_path, sizeof f->key_path, "%s/podstream.key", f->dir);
    snprintf(f->secrets, sizeof f->secrets, "%s/secrets", f->dir);
    snprintf(f->creds, sizeof f->creds, "%s/creds", f->dir);
    if (mkdir(f->secrets, 0700) != 0 || mkdir(f->creds, 0700) != 0 ||
        ps_secret_key_generate(f->key_path, false, &em) != PS_OK ||
        ps_secret_key_load(f->key_path, f->key, &em) != PS_OK) {
        nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        free(f);
        return -1;
    }
    unsetenv("CREDENTIALS_DIRECTORY");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    unsetenv("CREDENTIALS_DIRECTORY");
    unsetenv("PS_T_TOKEN");
    unsetenv("PS_T_ENC");
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* ---- AES-256-GCM values --------------------------------------------------------- */

static void test_round_trip(void **state)
{
    fixture *f = *state;
    char *a = encrypt_token(f->key, 7, FIELD, TOKEN);
    char *b = encrypt_token(f->key, 7, FIELD, TOKEN);
    char *plain = NULL;
    ps_errmsg em;
    size_t blob = 12 + strlen(TOKEN) + 16;

    assert_memory_equal(a, "enc:v1:", 7);
    assert_int_equal(strlen(a), 7 + (blob + 2) / 3 * 4);
    assert_null(strstr(a, TOKEN));
    /* A fresh nonce each time: equal tokens must not give equal values. */
    assert_string_not_equal(a, b);
    assert_int_equal(ps_secret_decrypt(f->key, 7, FIELD, a, &plain, &em), PS_OK);
    assert_string_equal(plain, TOKEN);
    ps_secret_free(plain);
    assert_int_equal(ps_secret_decrypt(f->key, 7, FIELD, b, &plain, &em), PS_OK);
    assert_string_equal(plain, TOKEN);
    ps_secret_free(plain);
    ps_secret_free(a);
    ps_secret_free(b);
}

/* Pins the documented format: produced by Python's `cryptography` AESGCM with key
 * 00..1f, nonce a0..ab and AAD "podstream:v1:device=7:field=properties.token". */
static void test_known_answer(void **state)
{
    fixture *f = *state;
    const char *value = "enc:v1:oKGio6Slpqeoqaqrg2E2RSeMYdYtDM2aUgCVpj3FEym83CMYsXpJ7RrFD8gAUUn8"
                        "a/HFVRFQGEdgxA==";
    unsigned char key[PS_SECRET_KEY_BYTES], loaded[PS_SECRET_KEY_BYTES];
    char *plain = NULL;
    ps_errmsg em;

    for (int i = 0; i < PS_SECRET_KEY_BYTES; i++)
        key[i] = (unsigned char)i;
    assert_int_equal(ps_secret_decrypt(key, 7, FIELD, value, &plain, &em), PS_OK);
    assert_string_equal(plain, "eyJhbGciOiJIUzUxMiJ9.kat-token");
    ps_secret_free(plain);

    /* The same key as a key file line. */
    unlink(f->key_path);
    write_str(f->key_path, "podstream-key-v1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", 0600);
    assert_int_equal(ps_secret_key_load(f->key_path, loaded, &em), PS_OK);
    assert_memory_equal(loaded, key, sizeof key);
}

static void test_tamper_every_byte(void **state)
{
    fixture *f = *state;
    char *value = encrypt_token(f->key, 7, FIELD, TOKEN);
    const char *want = FIELD ": cannot decrypt: wrong shared key, altered value, or value "
                             "encrypted for another device or field";
    unsigned char blob[512];
    char text[1024];
    size_t n = b64_decode(value + 7, blob);
    size_t tlen = strlen(value);

    assert_int_equal(n, 12 + strlen(TOKEN) + 16);
    /* Every byte of nonce, ciphertext and tag, low and high bit. */
    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit += 7) {
            char *plain = (char *)"x";
            ps_errmsg em = {{0}};
            blob[i] ^= (unsigned char)(1u << bit);
            memcpy(text, "enc:v1:", 7);
            b64_encode(blob, n, text + 7);
            assert_int_equal(ps_secret_decrypt(f->key, 7, FIELD, text, &plain, &em), PS_ERR_CRYPTO);
            assert_null(plain);
            assert_string_equal(em.text, want);
            blob[i] ^= (unsigned char)(1u << bit);
        }
    }
    /* Every character of the text replaced by every other base64 character,
     * including the last one before '=' whose low bits a lax decoder ignores. */
    for (size_t i = 7; i < tlen; i++) {
        for (const char *c = b64; *c; c++) {
            char *plain = (char *)"x";
            ps_errmsg em = {{0}};
            if (*c == value[i])
                continue;
            memcpy(text, value, tlen + 1);
            text[i] = *c;
            assert_int_not_equal(ps_secret_decrypt(f->key, 7, FIELD, text, &plain, &em), PS_OK);
            assert_null(plain);
        }
    }
    /* Cut off when pasted. */
    memcpy(text, value, tlen + 1);
    text[tlen - 4] = '\0';
    {
        char *plain = (char *)"x";
        ps_errmsg em;
        assert_int_equal(ps_secret_decrypt(f->key, 7, FIELD, text, &plain, &em), PS_ERR_CRYPTO);
        assert_null(plain);
    }
    ps_secret_free(value);
}

static void test_wrong_key(void **state)
{
    fixture *f = *state;
    unsigned char other[PS_SECRET_KEY_BYTES];
    char *value = encrypt_token(f->key, 7, FIELD, TOKEN);
    char *plain = (char *)"x";
    ps_errmsg em;

    memcpy(other, f->key, sizeof other);
    other[31] ^= 1;
    assert_int_equal(ps_secret_decrypt(other, 7, FIELD, value, &plain, &em), PS_ERR_CRYPTO);
    assert_null(plain);
    assert_string_equal(em.text, FIELD ": cannot decrypt: wrong shared key, altered value, or "
                                       "value encrypted for another device or field");
    ps_secret_free(value);
}

static void test_moved_value(void **state)
{
    fixture *f = *state;
    char *value = encrypt_token(f->key, 7, FIELD, TOKEN);
    char *plain = (char *)"x";
    ps_errmsg em;

    /* Pasted into device 8. */
    assert_int_equal(ps_secret_decrypt(f->key, 8, FIELD, value, &plain, &em), PS_ERR_CRYPTO);
    assert_null(plain);
    /* Device 70 must not match device 7 through a prefix. */
    assert_int_equal(ps_secret_decrypt(f->key, 70, FIELD, value, &plain, &em), PS_ERR_CRYPTO);
    /* Pasted into another field of the same device. */
    assert_int_equal(ps_secret_decrypt(f->key, 7, "proxy_password", value, &plain, &em),
                     PS_ERR_CRYPTO);
    assert_null(plain);
    assert_string_equal(em.text, "proxy_password: cannot decrypt: wrong shared key, altered "
                                 "value, or value encrypted for another device or field");
    ps_secret_free(value);
}

static void test_bad_enc_values(void **state)
{
    fixture *f = *state;
    ps_secret_ctx ctx;
    const char *bad64 = FIELD ": the enc:v1: value is not valid base64 (was it cut or changed "
                              "when it was copied?)";
    const char *short_ = FIELD ": the enc:v1: value is too short to hold an encrypted value "
                               "(was it cut when it was copied?)";

    ps_secret_ctx_init(&ctx, f->secrets, f->key_path);
    expect_fail(&ctx, "enc:v1:not base64!", true, 7, PS_ERR_INVALID, bad64);
    expect_fail(&ctx, "enc:v1:", true, 7, PS_ERR_INVALID, bad64);
    expect_fail(&ctx, "enc:v1:QUJD", true, 7, PS_ERR_INVALID, short_);
    /* 28 bytes: a nonce and a tag but no ciphertext. */
    expect_fail(&ctx, "enc:v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==", true, 7, PS_ERR_INVALID,
                short_);
    /* Whitespace that a lax decoder would skip. */
    expect_fail(&ctx, "enc:v1: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", true, 7,
                PS_ERR_INVALID, bad64);
    expect_fail(&ctx, "enc:v1:AAA=AAAA", true, 7, PS_ERR_INVALID, bad64);
    ps_secret_ctx_deinit(&ctx);
}

static void test_encrypt_rejects(void **state)
{
    fixture *f = *state;
    char *out = (char *)"x";
    ps_errmsg em;

    assert_int_equal(ps_secret_encrypt(f->key, 7, FIELD, "", &out, &em), PS_ERR_INVALID);
    assert_null(out);
    assert_string_equal(em.text, FIELD ": refusing to encrypt an empty value");
    assert_int_equal(ps_secret_encrypt(f->key, 7, FIELD, "abc\ndef", &out, &em), PS_ERR_INVALID);
    assert_null(out);
    assert_string_equal(em.text, FIELD ": refusing to encrypt a value that contains a newline");
    assert_int_equal(ps_secret_encrypt(f->key, 7, FIELD, "abc\r", &out, &em), PS_ERR_INVALID);
    assert_string_equal(em.text,
                        FIELD ": refusing to encrypt a value that contains a carriage return");
    assert_int_equal(ps_secret_encrypt(f->key, 7, "", "abc", &out, &em), PS_ERR_INVALID);
    assert_string_equal(em.text, "cannot encrypt: no field name given");
}

/* ---- secure: true through resolve --------------------------------------------- */

static void test_secure_requires_enc(void **state)
{
    fixture *f = *state;
    ps_secret_ctx ctx;
    char *value = encrypt_token(f->key, 7, FIELD, TOKEN);

    ps_secret_ctx_init(&ctx, f->secrets, f->key_path);
    /* Never used as plaintext, and never loads the key for nothing. */
    expect_fail(&ctx, TOKEN, true, 7, PS_ERR_INVALID,
                FIELD ": secure is true but the value is not an enc:v1: value (create one with "
                      "'podstream encrypt')");
    assert_false(ctx.key_loaded);
    expect_fail(&ctx, value, false, 7, PS_ERR_INVALID,
                FIELD ": the value is an enc:v1: value but secure is false; set secure: true");
    expect_ok(&ctx, value, true, 7, TOKEN);
    assert_true(ctx.key_loaded);
    expect_fail(&ctx, value, true, 8, PS_ERR_CRYPTO,
                FIELD ": cannot decrypt: wrong shared key, altered value, or value encrypted for "
                      "another device or field");
    ps_secret_ctx_deinit(&ctx);
    assert_false(ctx.key_loaded);
    ps_secret_free(value);
}

static void test_secure_without_key(void **state)
{
    fixture *f = *state;
    ps_secret_ctx ctx;
    char *value = encrypt_token(f->key, 7, FIELD, TOKEN);
    char want[2048];

    ps_secret_ctx_init(&ctx, f->secrets, NULL);
    expect_fail(&ctx, value, true, 7, PS_ERR_NOTFOUND,
                FIELD ": secure is true but no shared key file is configured");
    ps_secret_ctx_deinit(&ctx);

    unlink(f->key_path);
    ps_secret_ctx_init(&ctx, f->secrets, f->key_path);
    snprintf(want, sizeof want,
             FIELD ": the shared key file %s does not exist; create it with 'podstream keygen'",
             f->key_path);
    expect_fail(&ctx, value, true, 7, PS_ERR_NOTFOUND, want);
    ps_secret_ctx_deinit(&ctx);
    ps_secret_free(value);
}

/* A loose key is refused through resolve too, and a fixed one is picked up on the
 * next attempt without a new context. */
static void test_secure_loose_key_then_fixed(void **state)
{
    fixture *f = *state;
    ps_secret_ctx ctx;
    char *value = encrypt_token(f->key, 7, FIELD, TOKEN);
    char want[2048];

    assert_int_equal(chmod(f->key_path, 0640), 0);
    ps_secret_ctx_init(&ctx, f->secrets, f->key_path);
    snprintf(want, sizeof want,
             FIELD ": refusing the shared key file (whoever can read it can decrypt every secure "
                   "token): %s has mode 0640: other users could read it; run 'chmod 600 %s'",
             f->key_path, f->key_path);
    expect_fail(&ctx, value, true, 7, PS_ERR_PERM, want);
    assert_false(ctx.key_loaded);
    assert_int_equal(chmod(f->key_path, 0600), 0);
    expect_ok(&ctx, value, true, 7, TOKEN);
    ps_secret_ctx_deinit(&ctx);
    ps_secret_free(value);
}

static void test_mixed_references(void **state)
{
    fixture *f = *state;
    ps_secret_ctx ctx;
    char *value = encrypt_token(f->key, 7, FIELD, TOKEN);
    char path[256], line[1024];

    ps_secret_ctx_init(&ctx, f->secrets, f->key_path);
    /* ${A} whose content is an enc:v1: value: expanded first, then decrypted. */
    setenv("PS_T_ENC", value, 1);
    expect_ok(&ctx, "${PS_T_ENC}", true, 7, TOKEN);
    /* The same from a secret file, with the newline `echo` leaves. */
    snprintf(path, sizeof path, "%s/enc", f->secrets);
    snprintf(line, sizeof line, "%s\n", value);
    write_str(path, line, 0600);
    expect_ok(&ctx, "$secret{enc}", true, 7, TOKEN);
    /* Built from pieces. */
    setenv("PS_T_TOKEN", value + 7, 1);
    expect_ok(&ctx, "enc:v1:${PS_T_TOKEN}", true, 7, TOKEN);
    /* An enc:v1: value from a variable still needs secure: true. */
    expect_fail(&ctx, "${PS_T_ENC}", false, 7, PS_ERR_INVALID,
                FIELD ": the value is an enc:v1: value but secure is false; set secure: true");
    ps_secret_ctx_deinit(&ctx);
    ps_secret_free(value);
}

/* ---- ${ENV} ------------------------------------------------------------------ */

static void test_env(void **state)
{
    fixture *f = *state;
    ps_secret_ctx ctx;

    ps_secret_ctx_init(&ctx, f->secrets, f->key_path);
    setenv("PS_T_TOKEN", TOKEN, 1);
    expect_ok(&ctx, "${PS_T_TOKEN}", false, 7, TOKEN);
    expect_ok(&ctx, "Bearer-${PS_T_TOKEN}-x", false, 7, "Bearer-" TOKEN "-x");
    expect_ok(&ctx, TOKEN, false, 7, TOKEN);
    /* A '$' that starts no reference is text; expanded text is not expanded again. */
    expect_ok(&ctx, "cost$5 and $ and $secret", false, 7, "cost$5 and $ and $secret");
    setenv("PS_T_TOKEN", "a${PS_T_ENC}b", 1);
    expect_ok(&ctx, "${PS_T_TOKEN}", false, 7, "a${PS_T_ENC}b");
    ps_secret_ctx_deinit(&ctx);
}

static void test_env_errors(void **state)
{
    fixture *f = *state;
    ps_secret_ctx ctx;

    ps_secret_ctx_init(&ctx, f->secrets, f->key_path);
    unsetenv("PS_T_TOKEN");
    expect_fail(&ctx, "${PS_T_TOKEN}", false, 7, PS_ERR_NOTFOUND,
                FIELD ": environment variable PS_T_TOKEN is not set");
    expect_fail(&ctx, "x${PS_T_TOKEN}", true, 7, PS_ERR_NOTFOUND,
                FIELD ": environment variable PS_T_TOKEN is not set");
    setenv("PS_T_TOKEN", TOKEN "\n", 1);
    expect_fail(&ctx, "${PS_T_TOKEN}", false, 7, PS_ERR_INVALID,
                FIELD ": environment variable PS_T_TOKEN contains a newline");
    setenv("PS_T_TOKEN", "abc\r", 1);
    expect_fail(&ctx, "${PS_T_TOKEN}", false, 7, PS_ERR_INVALID,
                FIELD ": environment variable PS_T_TOKEN contains a carriage return");
    setenv("PS_T_TOKEN",
           "abc\x01"
           "def",
           1);
    expect_fail(&ctx, "${PS_T_TOKEN}", false, 7, PS_ERR_INVALID,
                FIELD ": environment variable PS_T_TOKEN contains a control character");
    /* Written in the file itself: refused too, naming the field, not the value. */
    expect_fail(&ctx, TOKEN "\x01", false, 7, PS_ERR_INVALID,
                FIELD ": the value contains a control character");
    expect_fail(&ctx, "abc\x7f" TOKEN, false, 7, PS_ERR_INVALID,
                FIELD ": the value contains a control character");
    setenv("PS_T_TOKEN", "", 1);
#ifdef _WIN32
    /* Windows has no empty variables: setting one to "" removes it. */
    expect_fail(&ctx, "${PS_T_TOKEN}", false, 7, PS_ERR_NOTFOUND,
                FIELD ": environment variable PS_T_TOKEN is not set");
#else
    expect_fail(&ctx, "${PS_T_TOKEN}", false, 7, PS_ERR_INVALID,
                FIELD ": environment variable PS_T_TOKEN is empty");
#endif
    expect_fail(&ctx, "", false, 7, PS_ERR_INVALID, FIELD ": the value is empty");
    ps_secret_ctx_deinit(&ctx);
}

static void test_syntax_errors(void **state)
{
    fixture *f = *state;
    ps_secret_ctx ctx;

    ps_secret_ctx_init(&ctx, f->secrets, f->key_path);
    /* The text after an unclosed opener is not shown: it may be the token itself. */
    expect_fail(&ctx, "${" TOKEN, false, 7, PS_ERR_INVALID,
                FIELD ": a \"${\" reference is not closed with \"}\"");
    expect_fail(&ctx, "x$secret{" TOKEN, false, 7, PS_ERR_INVALID,
                FIELD ": a \"$secret{\" reference is not closed with \"}\"");
    expect_fail(&ctx, "${1A}", false, 7, PS_ERR_INVALID,
                FIELD ": \"${1A}\" is not a valid environment variable name (use letters, "
                      "digits and '_', not starting with a digit)");
    expect_fail(&ctx, "${}", false, 7, PS_ERR_INVALID,
                FIELD ": \"${}\" is not a valid environment variable name (use letters, digits "
                      "and '_', not starting with a digit)");
    expect_fail(&ctx, "$secret{../x}", false, 7, PS_ERR_INVALID,
                FIELD ": \"$secret{../x}\" is not a valid secret name (use letters, digits, "
                      "'.', '_' and '-')");
    expect_fail(&ctx, "$secret{..}", false, 7, PS_ERR_INVALID,
                FIELD ": \"$secret{..}\" is not a valid secret name (use letters, digits, '.', "
                      "'_' and '-')");
    expect_fail(&ctx, "$secret{/etc/passwd}", false, 7, PS_ERR_INVALID,
                FIELD ": \"$secret{/etc/passwd}\" is not a valid secret name (use letters, "
                      "digits, '.', '_' and '-')");
    expect_fail(&ctx, "$secret{}", false, 7, PS_ERR_INVALID,
                FIELD ": \"$secret{}\" is not a valid secret name (use letters, digits, '.', '_' "
                      "and '-')");
    ps_secret_ctx_deinit(&ctx);
}

/* ---- $secret{} --------------------------------------------------------------- */

static void test_secret_files(void **state)
{
    fixture *f = *state;
    ps_secret_ctx ctx;
    char path[256], want[2048];

    ps_secret_ctx_init(&ctx, f->secrets, f->key_path);
    snprintf(path, sizeof path, "%s/pod.token", f->secrets);
    write_str(path, TOKEN "\n", 0600);
    expect_ok(&ctx, "$secret{pod.token}", false, 7, TOKEN);
    expect_ok(&ctx, "Bearer $secret{pod.token}", false, 7, "Bearer " TOKEN);
    write_str(path, TOKEN "\r\n", 0600);
    expect_ok(&ctx, "$secret{pod.token}", false, 7, TOKEN);
    write_str(path, TOKEN, 0400);
    expect_ok(&ctx, "$secret{pod.token}", false, 7, TOKEN);

    write_str(path, TOKEN "\nsecond line\n", 0600);
    snprintf(want, sizeof want,
             FIELD ": secret \"pod.token\" (%s) contains a newline; only one trailing newline is "
                   "allowed",
             path);
    expect_fail(&ctx, "$secret{pod.token}", false, 7, PS_ERR_INVALID, want);
    write_str(path, TOKEN "\n\n", 0600);
    expect_fail(&ctx, "$secret{pod.token}", false, 7, PS_ERR_INVALID, want);

    write_str(path, "\n", 0600);
    snprintf(want, sizeof want, FIELD ": secret \"pod.token\" (%s) is empty", path);
    expect_fail(&ctx, "$secret{pod.token}", false, 7, PS_ERR_INVALID, want);

    write_file(path, "ab\0cd", 5, 0600);
    snprintf(want, sizeof want, FIELD ": secret \"pod.token\" (%s) contains a NUL byte", path);
    expect_fail(&ctx, "$secret{pod.token}", false, 7, PS_ERR_INVALID, want);

    write_str(path, TOKEN, 0644);
    snprintf(want, sizeof want,
             FIELD ": refusing secret \"pod.token\": %s has mode 0644: other users could read "
                   "it; run 'chmod 600 %s'",
             path, path);
    expect_fail(&ctx, "$secret{pod.token}", false, 7, PS_ERR_PERM, want);
    ps_secret_ctx_deinit(&ctx);
}

static void test_secret_missing(void **state)
{
    fixture *f = *state;
    ps_secret_ctx ctx;
    char want[2048], gone[256];

    ps_secret_ctx_init(&ctx, f->secrets, f->key_path);
    snprintf(want, sizeof want, FIELD ": secret \"pod\" not found (looked in %s/pod)", f->secrets);
    expect_fail(&ctx, "$secret{pod}", false, 7, PS_ERR_NOTFOUND, want);
    ps_secret_ctx_deinit(&ctx);

    /* The secrets directory itself is missing. */
    snprintf(gone, sizeof gone, "%s/no-such-dir", f->dir);
    ps_secret_ctx_init(&ctx, gone, f->key_path);
    snprintf(want, sizeof want,
             FIELD ": secret \"pod\" not found (secrets directory %s does not exist)", gone);
    expect_fail(&ctx, "$secret{pod}", false, 7, PS_ERR_NOTFOUND, want);
    ps_secret_ctx_deinit(&ctx);

    ps_secret_ctx_init(&ctx, NULL, f->key_path);
    expect_fail(&ctx, "$secret{pod}", false, 7, PS_ERR_NOTFOUND,
                FIELD ": secret \"pod\" not found (no secrets directory is configured)");
    ps_secret_ctx_deinit(&ctx);
}

static void test_credentials_directory(void **state)
{
    fixture *f = *state;
    ps_secret_ctx ctx;
    char cred[256], plain_path[256], want[2048], gone[256];

    snprintf(cred, sizeof cred, "%s/pod", f->creds);
    snprintf(plain_path, sizeof plain_path, "%s/pod", f->secrets);
    /* systemd's own modes (0400, sometimes 0440 with group access) are accepted. */
    write_str(cred, "from-credentials\n", 0440);
    write_str(plain_path, "from-secrets-dir\n", 0600);
    setenv("CREDENTIALS_DIRECTORY", f->creds, 1);
    ps_secret_ctx_init(&ctx, f->secrets, f->key_path);
    expect_ok(&ctx, "$secret{pod}", false, 7, "from-credentials");

    /* Not among the credentials: the secrets directory is next. */
    unlink(cred);
    expect_ok(&ctx, "$secret{pod}", false, 7, "from-secrets-dir");

    unlink(plain_path);
    snprintf(want, sizeof want, FIELD ": secret \"pod\" not found (looked in %s and %s)", cred,
             plain_path);
    expect_fail(&ctx, "$secret{pod}", false, 7, PS_ERR_NOTFOUND, want);
    ps_secret_ctx_deinit(&ctx);

    snprintf(gone, sizeof gone, "%s/no-such-dir", f->dir);
    ps_secret_ctx_init(&ctx, gone, f->key_path);
    snprintf(want, sizeof want,
             FIELD ": secret \"pod\" not found (looked in %s; secrets directory %s does not "
                   "exist)",
             cred, gone);
    expect_fail(&ctx, "$secret{pod}", false, 7, PS_ERR_NOTFOUND, want);
    ps_secret_ctx_deinit(&ctx);

    /* An empty variable means no credentials, not the current directory. */
    setenv("CREDENTIALS_DIRECTORY", "", 1);
    ps_secret_ctx_init(&ctx, f->secrets, f->key_path);
    snprintf(want, sizeof want, FIELD ": secret \"pod\" not found (looked in %s)", plain_path);
    expect_fail(&ctx, "$secret{pod}", false, 7, PS_ERR_NOTFOUND, want);
    ps_secret_ctx_deinit(&ctx);
}

/* ---- the key file ------------------------------------------------------------- */

static void expect_key_fail(const char *path, ps_err code, const char *want)
{
    unsigned char key[PS_SECRET_KEY_BYTES];
    ps_errmsg em = {{0}};
    assert_int_equal(ps_secret_key_load(path, key, &em), code);
    assert_string_equal(em.text, want);
}

static void test_key_permissions(void **state)
{
    fixture *f = *state;
    static const unsigned modes[] = {0640, 0604, 0660, 0620};
    char want[2048];

    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        assert_int_equal(chmod(f->key_path, modes[i]), 0);
        snprintf(want, sizeof want,
                 "refusing the shared key file (whoever can read it can decrypt every secure "
                 "token): %s has mode %04o: other users could read it; run 'chmod 600 %s'",
                 f->key_path, modes[i], f->key_path);
        expect_key_fail(f->key_path, PS_ERR_PERM, want);
    }
    assert_int_equal(chmod(f->key_path, 0400), 0);
    {
        unsigned char key[PS_SECRET_KEY_BYTES];
        ps_errmsg em;
        assert_int_equal(ps_secret_key_load(f->key_path, key, &em), PS_OK);
        assert_memory_equal(key, f->key, sizeof key);
    }
}

static void test_key_contents(void **state)
{
    fixture *f = *state;
    const char *good = "podstream-key-v1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    char want[2048], text[256];
    const char *p = f->key_path;

    unlink(p);
    snprintf(want, sizeof want,
             "the shared key file %s does not exist; create it with 'podstream keygen'", p);
    expect_key_fail(p, PS_ERR_NOTFOUND, want);

    write_str(p, "", 0600);
    snprintf(want, sizeof want,
             "%s is not a podstream key file: it does not start with \"podstream-key-v1:\"", p);
    expect_key_fail(p, PS_ERR_PARSE, want);
    write_str(p, "-----BEGIN PRIVATE KEY-----\nMIIE\n", 0600);
    expect_key_fail(p, PS_ERR_PARSE, want);

    /* 16 bytes: valid base64, wrong size. */
    write_str(p, "podstream-key-v1:AAECAwQFBgcICQoLDA0ODw==\n", 0600);
    snprintf(want, sizeof want, "%s: the key is 16 bytes long; a key is 32 bytes", p);
    expect_key_fail(p, PS_ERR_PARSE, want);
    /* 33 bytes. */
    write_str(p, "podstream-key-v1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g\n", 0600);
    snprintf(want, sizeof want, "%s: the key is 33 bytes long; a key is 32 bytes", p);
    expect_key_fail(p, PS_ERR_PARSE, want);

    write_str(p, "podstream-key-v1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh!=\n", 0600);
    snprintf(want, sizeof want,
             "%s: the key after \"podstream-key-v1:\" is not valid base64 (44 characters; a key "
             "is 44)",
             p);
    expect_key_fail(p, PS_ERR_PARSE, want);
    /* Cut short when copied. */
    write_str(p, "podstream-key-v1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGx\n", 0600);
    snprintf(want, sizeof want,
             "%s: the key after \"podstream-key-v1:\" is not valid base64 (38 characters; a key "
             "is 44)",
             p);
    expect_key_fail(p, PS_ERR_PARSE, want);

    snprintf(text, sizeof text, "%s\n%s\n", good, good);
    write_str(p, text, 0600);
    snprintf(want, sizeof want,
             "%s: unexpected text after the key; a key file holds exactly one line", p);
    expect_key_fail(p, PS_ERR_PARSE, want);

    {
        char big[5000];
        memset(big, 'A', sizeof big);
        write_file(p, big, sizeof big, 0600);
        snprintf(want, sizeof want, "%s is not a podstream key file: it is larger than 4096 bytes",
                 p);
        expect_key_fail(p, PS_ERR_PARSE, want);
    }

    unlink(p);
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(want, sizeof want, "%s is a directory, not a podstream key file", p);
    expect_key_fail(p, PS_ERR_PARSE, want);
    assert_int_equal(rmdir(p), 0);

    /* A copy through a Windows editor, and one with no final newline, both load. */
    for (int i = 0; i < 2; i++) {
        unsigned char key[PS_SECRET_KEY_BYTES];
        ps_errmsg em;
        snprintf(text, sizeof text, "%s%s", good, i == 0 ? "\r\n" : "");
        write_str(p, text, 0600);
        assert_int_equal(ps_secret_key_load(p, key, &em), PS_OK);
        assert_int_equal(key[31], 31);
    }
}

static void test_key_generate(void **state)
{
    fixture *f = *state;
    char first[256], second[256], bak[256], want[2048];
    unsigned char key[PS_SECRET_KEY_BYTES];
    ps_errmsg em;

    unlink(f->key_path);
    assert_int_equal(ps_secret_key_generate(f->key_path, false, &em), PS_OK);
    assert_mode_0600(f->key_path);
    snprintf(first, sizeof first, "%s", read_all(f->key_path));
    assert_int_equal(strlen(first), strlen("podstream-key-v1:") + 44 + 1);
    assert_memory_equal(first, "podstream-key-v1:", 17);
    assert_int_equal(first[strlen(first) - 1], '\n');
    assert_int_equal(ps_secret_key_load(f->key_path, key, &em), PS_OK);

    /* Without force an existing key stays exactly as it was. */
    assert_int_equal(ps_secret_key_generate(f->key_path, false, &em), PS_ERR_EXISTS);
    snprintf(want, sizeof want, "%s already exists", f->key_path);
    assert_string_equal(em.text, want);
    assert_string_equal(read_all(f->key_path), first);

    /* With force: new key, old one in .bak with mode 0600 even if it was loose. */
    assert_int_equal(chmod(f->key_path, 0644), 0);
    assert_int_equal(ps_secret_key_generate(f->key_path, true, &em), PS_OK);
    snprintf(second, sizeof second, "%s", read_all(f->key_path));
    assert_string_not_equal(first, second);
    assert_mode_0600(f->key_path);
    snprintf(bak, sizeof bak, "%s.bak", f->key_path);
    assert_mode_0600(bak);
    assert_string_equal(read_all(bak), first);
    assert_int_equal(ps_secret_key_load(bak, key, &em), PS_OK);

    /* force on a missing file just creates it. */
    unlink(f->key_path);
    unlink(bak);
    assert_int_equal(ps_secret_key_generate(f->key_path, true, &em), PS_OK);
    assert_mode_0600(f->key_path);
    assert_false(access(bak, F_OK) == 0);

    /* A directory that does not exist. */
    snprintf(bak, sizeof bak, "%s/missing/podstream.key", f->dir);
    assert_int_equal(ps_secret_key_generate(bak, false, &em), PS_ERR_IO);
    snprintf(want, sizeof want, "cannot create %s: No such file or directory", bak);
    assert_string_equal(em.text, want);
}

static void test_free_null(void **state)
{
    (void)state;
    ps_secret_free(NULL);
    ps_secret_ctx_deinit(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_round_trip),
        T(test_known_answer),
        T(test_tamper_every_byte),
        T(test_wrong_key),
        T(test_moved_value),
        T(test_bad_enc_values),
        T(test_encrypt_rejects),
        T(test_secure_requires_enc),
        T(test_secure_without_key),
        T(test_secure_loose_key_then_fixed),
        T(test_mixed_references),
        T(test_env),
        T(test_env_errors),
        T(test_syntax_errors),
        T(test_secret_files),
        T(test_secret_missing),
        T(test_credentials_directory),
        T(test_key_permissions),
        T(test_key_contents),
        T(test_key_generate),
        T(test_free_null),
#undef T
    };
    /* Key and secret files are written with explicit modes; keep umask out of it. */
    umask(077);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
