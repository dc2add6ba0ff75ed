/* ps_secret: token resolution and the service shared key.
 *
 * A token field may be plain text, `${ENV_VAR}`, `$secret{name}` (a file in the
 * secrets directory; on Linux $CREDENTIALS_DIRECTORY/name first, for systemd
 * credentials), or, with `secure: true`, `enc:v1:<base64(nonce12 || ciphertext ||
 * tag16)>`: AES-256-GCM under the 32-byte shared key, with AAD binding the value to
 * the device id and the field path. References are expanded first, then an
 * `enc:v1:` result is decrypted. Plaintext is wiped when freed. Error messages name
 * the field and the reference (variable or secret name), never the value. */
#ifndef PS_SECRET_H
#define PS_SECRET_H

#include <stdbool.h>
#include <stddef.h>

#include "ps_error.h"

#define PS_SECRET_KEY_BYTES 32
#define PS_SECRET_PREFIX    "enc:v1:"

/* Resolution context; caller-owned. The key is loaded lazily on the first
 * `secure` value and wiped by deinit. Strings are borrowed and must outlive it. */
typedef struct ps_secret_ctx {
    const char *secrets_dir; /* may be NULL: $secret{} then fails with a clear error */
    const char *key_file;    /* may be NULL: secure values then fail */
    unsigned char key[PS_SECRET_KEY_BYTES];
    bool key_loaded;
} ps_secret_ctx;

void ps_secret_ctx_init(ps_secret_ctx *ctx, const char *secrets_dir, const char *key_file);
void ps_secret_ctx_deinit(ps_secret_ctx *ctx);

/* Resolves `raw` for `field` (e.g. "properties.token") of device `device_id`.
 * On success *plain is a new string owned by the caller; release it with
 * ps_secret_free. On failure *plain is NULL and `em` says what is wrong:
 * PS_ERR_NOTFOUND (unset variable, missing secret), PS_ERR_INVALID (newline in a
 * value, bad syntax), PS_ERR_PERM (loose key file), PS_ERR_CRYPTO (wrong key,
 * tampered value, or a value encrypted for another device or field). */
ps_err ps_secret_resolve(ps_secret_ctx *ctx, const char *raw, bool secure, long long device_id,
                         const char *field, char **plain, ps_errmsg *em);

/* True when `raw` holds a ${VAR} or $secret{name} reference. */
bool ps_secret_has_reference(const char *raw);

/* Where a token comes from, safe to print instead of it: "encrypted" when `secure`,
 * `raw` itself when all of it is one reference ("${POD_TOKEN}"), "reference" when it
 * mixes references and text, else "in the file". Static text or borrowed `raw`. */
const char *ps_secret_source(const char *raw, bool secure);

/* Wipes and frees a string from ps_secret_resolve/ps_secret_encrypt. Accepts NULL. */
void ps_secret_free(char *s);

/* Encrypts `plain` into a new "enc:v1:..." string (*out, caller frees with
 * ps_secret_free) bound to device_id and field. */
ps_err ps_secret_encrypt(const unsigned char key[PS_SECRET_KEY_BYTES], long long device_id,
                         const char *field, const char *plain, char **out, ps_errmsg *em);

/* Decrypts an "enc:v1:..." value. *plain as for ps_secret_resolve. */
ps_err ps_secret_decrypt(const unsigned char key[PS_SECRET_KEY_BYTES], long long device_id,
                         const char *field, const char *value, char **plain, ps_errmsg *em);

/* Creates a new random key file at `path`, mode 0600, with O_EXCL. With `force`
 * an existing key is replaced atomically (the old one kept as path.bak, 0600).
 * PS_ERR_EXISTS when the file exists and force is false. */
ps_err ps_secret_key_generate(const char *path, bool force, ps_errmsg *em);

/* Loads the key at `path`. Refuses (PS_ERR_PERM) a file that group or others can
 * read, and a file that is not a valid key (PS_ERR_PARSE). */
ps_err ps_secret_key_load(const char *path, unsigned char key[PS_SECRET_KEY_BYTES], ps_errmsg *em);

#endif
