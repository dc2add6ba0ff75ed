/* ps_utf8: UTF-8 checked, decoded, encoded, counted and cut, written once.
 *
 * "Valid" is RFC 3629 everywhere: no overlong forms, no UTF-16 surrogates, nothing
 * above U+10FFFF. Nothing here allocates; every function works on the caller's
 * bytes and only reads them, unless it says it writes. */
#ifndef PS_UTF8_H
#define PS_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest encoding of one code point, in bytes. */
#define PS_UTF8_MAX 4

/* True when s[0..len) is valid UTF-8. Otherwise false, and *bad_offset (may be
 * NULL) is the offset of the first byte that does not start a valid sequence. */
bool ps_utf8_valid(const char *s, size_t len, size_t *bad_offset);

/* Decodes the sequence at s (len >= 1 bytes readable) into *cp and returns its
 * length. A byte that does not start a valid sequence gives U+FFFD and length 1.
 * Never reads past a byte that is not a continuation byte, so for a NUL-terminated
 * string any len >= PS_UTF8_MAX is safe. */
size_t ps_utf8_decode(const char *s, size_t len, uint32_t *cp);

/* Writes code point cp (at most U+10FFFF, not a surrogate: the caller checks) to
 * out, which has room for PS_UTF8_MAX bytes, and returns how many it wrote. No NUL
 * is added. */
size_t ps_utf8_encode(uint32_t cp, char *out);

/* Number of code points in valid UTF-8 s[0..len) (bytes that are not continuation
 * bytes; each byte of invalid input counts as a lead byte would). */
size_t ps_utf8_count(const char *s, size_t len);

/* Length of the longest prefix of UTF-8 s[0..len) that is at most `max` bytes and
 * does not end inside a sequence: where to cut a value to fit a column. */
size_t ps_utf8_prefix(const char *s, size_t len, size_t max);

#endif
