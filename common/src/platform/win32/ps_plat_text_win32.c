/* Text encodings on Windows: the code-page API (MultiByteToWideChar), with a table
 * from the IANA names RFC 2047 headers use to Windows code pages. ISO-2022-JP is
 * turned into Shift_JIS here (a fixed arithmetic mapping): the code-page API only
 * decodes it through MLang's 5022x pages, which are missing on some systems. */
#include "platform/win32/ps_plat_win32.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_mem.h"

/* Not code pages (Windows' end at 65001): handled here before or instead of
 * MultiByteToWideChar. */
#define CP_ISO2022JP_VIA_SJIS 0xFFFFu /* converted to 932 first */
#define CP_ASCII_STRICT       0xFFFEu /* checked here: 20127 maps every byte */
#define CP_UTF16BE            0xFFFDu
#define CP_UTF16LE            0xFFFCu
#define CP_UTF16              0xFFFBu /* byte order mark, else big-endian */
#define CP_UTF32BE            0xFFFAu
#define CP_UTF32              0xFFF9u
#define CP_UTF32LE            0xFFF8u

static const struct {
    const char *name; /* lower case, '-', '_' and ' ' removed */
    UINT cp;
} charsets[] = {
    {"usascii", CP_ASCII_STRICT},
    {"ascii", CP_ASCII_STRICT},
    {"utf8", CP_UTF8},
    {"utf7", CP_UTF7},
    {"utf16", CP_UTF16},
    {"utf16be", CP_UTF16BE},
    {"utf16le", CP_UTF16LE},
    {"ucs2", CP_UTF16},
    {"utf32", CP_UTF32},
    {"utf32be", CP_UTF32BE},
    {"utf32le", CP_UTF32LE},
    {"iso88591", 28591},
    {"latin1", 28591},
    {"iso88592", 28592},
    {"latin2", 28592},
    {"iso88593", 28593},
    {"iso88594", 28594},
    {"iso88595", 28595},
    {"iso88596", 28596},
    {"iso88597", 28597},
    {"iso88598", 28598},
    {"iso88598i", 28598},
    {"iso88599", 28599},
    {"latin5", 28599},
    {"iso885913", 28603},
    {"iso885915", 28605},
    {"latin9", 28605},
    {"koi8r", 20866},
    {"koi8u", 21866},
    {"shiftjis", 932},
    {"sjis", 932},
    {"xsjis", 932},
    {"windows31j", 932},
    {"cp932", 932},
    {"eucjp", 20932},
    {"iso2022jp", CP_ISO2022JP_VIA_SJIS},
    {"gb2312", 936},
    {"gbk", 936},
    {"cp936", 936},
    {"gb18030", 54936},
    {"big5", 950},
    {"cp950", 950},
    {"euckr", 949},
    {"ksc56011987", 949},
    {"cp949", 949},
    {"ibm437", 437},
    {"cp437", 437},
    {"ibm850", 850},
    {"cp850", 850},
    {"ibm866", 866},
    {"cp866", 866},
    {"tis620", 874},
    {"windows874", 874},
};

/* The code page for an IANA charset name; 0 when there is none. windows-125x and
 * cp125x are read as numbers. */
static UINT code_page(const char *charset)
{
    char key[32];
    size_t n = 0;
    for (const char *p = charset; *p && n + 1 < sizeof key; p++)
        if (*p != '-' && *p != '_' && *p != ' ')
            key[n++] = (char)tolower((unsigned char)*p);
    key[n] = '\0';
    for (size_t i = 0; i < sizeof charsets / sizeof charsets[0]; i++)
        if (strcmp(key, charsets[i].name) == 0)
            return charsets[i].cp;
    if ((strncmp(key, "windows125", 10) == 0 && key[10] >= '0' && key[10] <= '8' && !key[11]) ||
        (strncmp(key, "cp125", 5) == 0 && key[5] >= '0' && key[5] <= '8' && !key[6]))
        return 1250u + (UINT)(key[n - 1] - '0');
    return 0;
}

/* JIS X 0208 row/cell bytes (0x21..0x7E each) to their Shift_JIS pair. */
static void jis_to_sjis(unsigned char j1, unsigned char j2, char *out)
{
    unsigned s1 = (j1 + 1u) / 2u + (j1 <= 0x5Eu ? 0x70u : 0xB0u);
    unsigned s2 = (j1 & 1u) ? j2 + (j2 <= 0x5Fu ? 0x1Fu : 0x20u) : j2 + 0x7Eu;
    out[0] = (char)s1;
    out[1] = (char)s2;
}

/* ISO-2022-JP (RFC 1468: ASCII, JIS X 0201 Roman, JIS X 0208 after ESC $ @ or
 * ESC $ B) as Shift_JIS, into a new buffer. PS_ERR_PARSE for anything else. */
static ps_err iso2022jp_to_sjis(const char *in, size_t len, ps_buf *out)
{
    bool kanji = false;
    ps_err err = ps_buf_reserve(out, len + 1);
    for (size_t i = 0; err == PS_OK && i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == 0x1B) {
            if (i + 2 >= len)
                return PS_ERR_PARSE;
            if (in[i + 1] == '$' && (in[i + 2] == '@' || in[i + 2] == 'B'))
                kanji = true;
            else if (in[i + 1] == '(' && (in[i + 2] == 'B' || in[i + 2] == 'J'))
                kanji = false;
            else
                return PS_ERR_PARSE;
            i += 2;
        } else if (c >= 0x80) {
            return PS_ERR_PARSE; /* a 7-bit encoding */
        } else if (kanji && c != '\r' && c != '\n') {
            char pair[2];
            if (i + 1 >= len || c < 0x21 || c > 0x7E || (unsigned char)in[i + 1] < 0x21 ||
                (unsigned char)in[i + 1] > 0x7E)
                return PS_ERR_PARSE;
            jis_to_sjis(c, (unsigned char)in[i + 1], pair);
            err = ps_buf_append(out, pair, 2);
            i++;
        } else {
            err = ps_buf_append(out, &in[i], 1);
        }
    }
    return err;
}

/* UTF-16 and UTF-32 are not code pages MultiByteToWideChar knows (1200/1201 are
 * for managed code only): decoded here. */
static ps_err unicode_to_wide(UINT cp, const unsigned char *in, size_t len, wchar_t *w, int *wn)
{
    size_t unit = (cp == CP_UTF16BE || cp == CP_UTF16LE || cp == CP_UTF16) ? 2 : 4;
    bool big = cp == CP_UTF16BE || cp == CP_UTF32BE || cp == CP_UTF16 || cp == CP_UTF32;
    int n = 0;

    if (len % unit)
        return PS_ERR_PARSE;
    /* A byte order mark decides for the plain names (big-endian without one, as
     * RFC 2781 says) and is not text. */
    if ((cp == CP_UTF16 || cp == CP_UTF32) && len >= unit) {
        bool le = unit == 2 ? (in[0] == 0xFF && in[1] == 0xFE)
                            : (in[0] == 0xFF && in[1] == 0xFE && !in[2] && !in[3]);
        bool be = unit == 2 ? (in[0] == 0xFE && in[1] == 0xFF)
                            : (!in[0] && !in[1] && in[2] == 0xFE && in[3] == 0xFF);
        if (le || be) {
            big = be;
            in += unit;
            len -= unit;
        }
    }
    for (size_t i = 0; i < len; i += unit) {
        uint32_t c =
            unit == 2 ? (big ? (uint32_t)in[i] << 8 | in[i + 1] : (uint32_t)in[i + 1] << 8 | in[i])
                      : (big ? (uint32_t)in[i] << 24 | (uint32_t)in[i + 1] << 16 |
                                   (uint32_t)in[i + 2] << 8 | in[i + 3]
                             : (uint32_t)in[i + 3] << 24 | (uint32_t)in[i + 2] << 16 |
                                   (uint32_t)in[i + 1] << 8 | in[i]);
        if (unit == 4 && (c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)))
            return PS_ERR_PARSE;
        if (c >= 0x10000) {
            w[n++] = (wchar_t)(0xD800 + ((c - 0x10000) >> 10));
            c = 0xDC00 + ((c - 0x10000) & 0x3FF);
        }
        w[n++] = (wchar_t)c;
    }
    *wn = n;
    return PS_OK; /* unpaired surrogates are refused by the UTF-8 conversion */
}

/* `len` bytes in code page `cp` as UTF-16 in a new buffer (*w, caller frees; *wn
 * units). */
static ps_err to_wide(UINT cp, const char *in, size_t len, wchar_t **w, int *wn)
{
    /* UTF-7 and the other stateful pages refuse MB_ERR_INVALID_CHARS. */
    DWORD flags = cp == CP_UTF7 ? 0 : MB_ERR_INVALID_CHARS;
    bool unicode = cp >= CP_UTF32LE && cp <= CP_UTF16BE;
    int n;

    *w = NULL;
    *wn = 0;
    if (len == 0)
        return PS_OK;
    if (len > 0x3FFFFFFF)
        return PS_ERR_RANGE;
    n = unicode ? (int)len : MultiByteToWideChar(cp, flags, in, (int)len, NULL, 0);
    if (n <= 0)
        return GetLastError() == ERROR_INVALID_PARAMETER ? PS_ERR_UNSUPPORTED : PS_ERR_PARSE;
    *w = malloc((size_t)n * sizeof **w);
    if (!*w)
        return PS_ERR_NOMEM;
    if (unicode)
        return unicode_to_wide(cp, (const unsigned char *)in, len, *w, wn);
    *wn = MultiByteToWideChar(cp, flags, in, (int)len, *w, n);
    return *wn == n ? PS_OK : PS_ERR_PARSE;
}

/* `len` bytes in code page `cp` as UTF-8 into *buf (NUL-terminated). */
static ps_err decode(UINT cp, const char *in, size_t len, ps_buf *buf)
{
    wchar_t *w = NULL;
    int wn = 0, un = 0;
    ps_err err = to_wide(cp, in, len, &w, &wn);

    /* WC_ERR_INVALID_CHARS: a lone surrogate is not text, as iconv says too. */
    if (err == PS_OK && wn > 0) {
        un = WideCharToMultiByte(CP_UTF8, WC_ERR_INVALID_CHARS, w, wn, NULL, 0, NULL, NULL);
        if (un <= 0)
            err = PS_ERR_PARSE;
    }
    if (err == PS_OK)
        err = ps_buf_reserve(buf, (size_t)un + 1);
    if (err == PS_OK && un > 0 &&
        WideCharToMultiByte(CP_UTF8, WC_ERR_INVALID_CHARS, w, wn, buf->p, un, NULL, NULL) != un)
        err = PS_ERR_PARSE;
    if (err == PS_OK) {
        buf->len = (size_t)un;
        buf->p[buf->len] = '\0';
    }
    free(w);
    return err;
}

ps_err ps_plat_charset_to_utf8(const char *charset, const char *in, size_t len, char **out,
                               size_t *outlen)
{
    UINT cp = code_page(charset);
    ps_buf sjis = {0}, buf = {0};
    ps_err err = PS_OK;

    *out = NULL;
    *outlen = 0;
    /* GB18030 extends GBK with four-byte sequences; where its code page is missing
     * (wine) GBK still reads the two-byte text, and refuses the rest as unreadable. */
    if (cp == 54936 && !IsValidCodePage(cp))
        cp = 936;
    if (cp == 0 || (cp < CP_UTF32LE && cp != CP_UTF7 && cp != CP_UTF8 && !IsValidCodePage(cp)))
        return PS_ERR_UNSUPPORTED;
    if (cp == CP_ASCII_STRICT) {
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)in[i] >= 0x80)
                return PS_ERR_PARSE;
        cp = CP_UTF8; /* ASCII is UTF-8 */
    } else if (cp == CP_ISO2022JP_VIA_SJIS) {
        if ((err = iso2022jp_to_sjis(in, len, &sjis)) != PS_OK)
            goto cleanup;
        in = sjis.p ? sjis.p : "";
        len = sjis.len;
        cp = 932;
    }
    if ((err = decode(cp, in, len, &buf)) != PS_OK)
        goto cleanup;
    if (!buf.p && (err = ps_buf_reserve(&buf, 1)) != PS_OK)
        goto cleanup;
    buf.p[buf.len] = '\0';
    *out = ps_buf_take(&buf, outlen);
cleanup:
    ps_buf_deinit(&sjis);
    ps_buf_deinit(&buf);
    return err;
}

const void *ps_plat_memmem(const void *hay, size_t hlen, const void *needle, size_t nlen)
{
    const unsigned char *h = hay, *n = needle, *end;
    if (nlen == 0)
        return hay;
    if (hlen < nlen)
        return NULL;
    /* memchr for the first byte, then a compare: the C runtime's memchr is
     * vectorised, and the needles here (elided values) are short. */
    end = h + (hlen - nlen) + 1;
    while ((h = memchr(h, n[0], (size_t)(end - h))) != NULL) {
        if (memcmp(h, n, nlen) == 0)
            return h;
        h++;
    }
    return NULL;
}
