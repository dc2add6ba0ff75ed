/* libFuzzer target for secrets: the same bytes go to
 *  - ps_secret_decrypt, as an `enc:v1:` value, under a fixed test key;
 *  - ps_secret_resolve, plain and `secure: true`, with a variable, a secrets
 *    directory and a key file that exist (${PS_FUZZ_TOKEN}, $secret{tok});
 *  - ps_secret_key_load, as the contents of a key file (mode 0600);
 *  - ps_secret_encrypt then ps_secret_decrypt, which must give the text back.
 *
 * Seeds that decrypt under the test key (corpus/secret/enc-*) were made with
 * `podstream encrypt` and a key file holding the bytes 0..31 (TEST_KEY_B64).
 * Besides memory errors the contract is checked: a failure leaves *plain NULL and
 * says why; a success gives a string with no NUL, CR or LF. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "podstream/ps_secret.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A key file is at most 4 KiB and a value at most 64 KiB; a little more tests the limits. */
#define FUZZ_MAX_INPUT (80u * 1024u)
#define DEVICE         7
#define FIELD          "properties.token"
#define TEST_KEY_B64   "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

static char dir[64], key_path[96], fuzz_key_path[96];
static unsigned char key[PS_SECRET_KEY_BYTES];

static void check(bool ok)
{
    if (!ok)
        abort();
}

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    check(f != NULL);
    check(fwrite(p, 1, n, f) == n);
    check(fclose(f) == 0);
    check(chmod(path, 0600) == 0);
}

static void remove_dir(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/tok", dir);
    unlink(path);
    unlink(key_path);
    unlink(fuzz_key_path);
    rmdir(dir);
}

static void setup(void)
{
    char path[128];
    const char *text = "podstream-key-v1:" TEST_KEY_B64 "\n";
    ps_errmsg em;

    for (int i = 0; i < PS_SECRET_KEY_BYTES; i++)
        key[i] = (unsigned char)i;
    snprintf(dir, sizeof dir, "/tmp/ps_fuzz_secret.XXXXXX");
    check(mkdtemp(dir) != NULL);
    atexit(remove_dir);
    snprintf(key_path, sizeof key_path, "%s/key", dir);
    snprintf(fuzz_key_path, sizeof fuzz_key_path, "%s/fuzzkey", dir);
    write_file(key_path, text, strlen(text));
    snprintf(path, sizeof path, "%s/tok", dir);
    write_file(path, "secret-token\n", 13);
    check(setenv("PS_FUZZ_TOKEN", "env-token", 1) == 0);
    check(unsetenv("CREDENTIALS_DIRECTORY") == 0);
    /* The fixed key and the key file must agree, or no seed decrypts. */
    {
        unsigned char loaded[PS_SECRET_KEY_BYTES];
        check(ps_secret_key_load(key_path, loaded, &em) == PS_OK);
        check(memcmp(loaded, key, sizeof key) == 0);
    }
}

static void check_result(ps_err err, char *plain, const ps_errmsg *em)
{
    if (err != PS_OK) {
        check(plain == NULL && em->text[0] != '\0');
        return;
    }
    check(plain != NULL);
    check(!strchr(plain, '\n') && !strchr(plain, '\r'));
    ps_secret_free(plain);
}

static void round_trip(const char *text)
{
    char *enc = NULL, *back = NULL;
    ps_errmsg em;
    ps_err err = ps_secret_encrypt(key, DEVICE, FIELD, text, &enc, &em);
    if (err != PS_OK) {
        check(enc == NULL);
        return;
    }
    check(strncmp(enc, PS_SECRET_PREFIX, strlen(PS_SECRET_PREFIX)) == 0);
    err = ps_secret_decrypt(key, DEVICE, FIELD, enc, &back, &em);
    /* What encrypt accepts, decrypt gives back; a value with a line break is
     * refused on the way out. */
    if (err == PS_OK)
        check(strcmp(back, text) == 0);
    else
        check(err == PS_ERR_INVALID && (strchr(text, '\n') || strchr(text, '\r')));
    ps_secret_free(back);
    ps_secret_free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    unsigned char loaded[PS_SECRET_KEY_BYTES];
    char *text, *plain = NULL;
    ps_secret_ctx ctx;
    ps_errmsg em;
    ps_err err;

    if (size > FUZZ_MAX_INPUT)
        return 0;
    if (!ready) {
        setup();
        ready = true;
    }
    text = malloc(size + 1);
    check(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';

    em.text[0] = '\0';
    err = ps_secret_decrypt(key, DEVICE, FIELD, text, &plain, &em);
    check_result(err, plain, &em);

    ps_secret_ctx_init(&ctx, dir, key_path);
    for (int secure = 0; secure < 2; secure++) {
        plain = (char *)&plain;
        em.text[0] = '\0';
        err = ps_secret_resolve(&ctx, text, secure, DEVICE, FIELD, &plain, &em);
        check_result(err, plain, &em);
    }
    ps_secret_ctx_deinit(&ctx);

    write_file(fuzz_key_path, data, size);
    em.text[0] = '\0';
    err = ps_secret_key_load(fuzz_key_path, loaded, &em);
    check(err == PS_OK || err == PS_ERR_PARSE);
    check((err == PS_OK) == (em.text[0] == '\0'));

    if (size > 0 && size <= 4096)
        round_trip(text);
    free(text);
    return 0;
}
