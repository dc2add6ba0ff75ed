/* ps_secret_internal: what the two halves of ps_secret share (resolution in
 * ps_secret.c, enc:v1: values and the key file in ps_secret_crypto.c). */
#ifndef PS_SECRET_INTERNAL_H
#define PS_SECRET_INTERNAL_H

#include <stddef.h>

/* The most a resolved value, a secret file or a plaintext may hold. POD tokens are a
 * few hundred bytes; this only stops a wrong file or variable from being sent. */
#define PS_SECRET_VALUE_MAX 65536

/* "a newline", "a carriage return" or NULL: what makes `s` (n bytes) unusable as a
 * single header value. Static text. */
const char *ps_secret_unusable_char(const char *s, size_t n);

#endif
