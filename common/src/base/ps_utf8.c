#include "podstream/ps_utf8.h"

#include <string.h>

static bool is_cont(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

/* Skips ASCII from s[i]. Events are mostly ASCII: 16 bytes are tested per step for
 * a high bit before falling back to one byte at a time. */
static size_t skip_ascii(const unsigned char *s, size_t len, size_t i)
{
    while (len - i >= 16) {
        uint64_t a, b;
        memcpy(&a, s + i, 8);
        memcpy(&b, s + i + 8, 8);
        if ((a | b) & UINT64_C(0x8080808080808080))
            break;
        i += 16;
    }
    while (i < len && s[i] < 0x80)
        i++;
    return i;
}

/* Length of the valid multi-byte sequence at s[i] (a byte >= 0x80), 0 if none. */
static inline size_t seq_len(const unsigned char *s, size_t len, size_t i)
{
    unsigned c = s[i];
    size_t need;
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c < 0xC2) {
        return 0; /* stray continuation byte, or C0/C1: overlong two-byte form */
    } else if (c < 0xE0) {
        need = 1;
    } else if (c < 0xF0) {
        need = 2;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* UTF-16 surrogates */
    } else if (c < 0xF5) {
        need = 3;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else {
        return 0;
    }
    if (len - i <= need || s[i + 1] < lo || s[i + 1] > hi)
        return 0;
    for (size_t k = 2; k <= need; k++)
        if (!is_cont(s[i + k]))
            return 0;
    return need + 1;
}

bool ps_utf8_valid(const char *buf, size_t len, size_t *bad_offset)
{
    const unsigned char *s = (const unsigned char *)buf;
    size_t i = 0;

    while (i < len) {
        if (s[i] < 0x80) {
            i = skip_ascii(s, len, i);
            if (i == len)
                break;
        }
        size_t n = seq_len(s, len, i);
        if (n == 0) {
            if (bad_offset)
                *bad_offset = i;
            return false;
        }
        i += n;
    }
    return true;
}

size_t ps_utf8_decode(const char *str, size_t len, uint32_t *cp)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t n;
    uint32_t v;

    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    n = seq_len(s, len, 0);
    if (n == 0) {
        *cp = 0xFFFD;
        return 1;
    }
    v = s[0] & (0x7Fu >> n);
    for (size_t i = 1; i < n; i++)
        v = (v << 6) | (s[i] & 0x3Fu);
    *cp = v;
    return n;
}

size_t ps_utf8_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

size_t ps_utf8_count(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (!is_cont((unsigned char)s[i]))
            n++;
    return n;
}

size_t ps_utf8_prefix(const char *s, size_t len, size_t max)
{
    size_t n;
    if (len <= max)
        return len;
    n = max;
    while (n > 0 && is_cont((unsigned char)s[n]))
        n--;
    return n;
}
