/* RFC 2047 encoded-word decoding for header values (the message subject).
 *
 * POD hands over header values as the sender wrote them, so a Japanese or
 * accented subject arrives as "=?ISO-2022-JP?B?...?=" words, sometimes folded
 * over several lines. Admins search the decoded text, so we decode here; anything
 * we cannot decode stays exactly as written rather than being lost or mangled. */
#include "event/ps_event_rfc2047.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_mem.h"
#include "podstream/ps_platform.h"
#include "podstream/ps_utf8.h"

/* Long enough for every IANA charset name in use; longer "names" are not charsets. */
#define CHARSET_MAX 40

/* A ps_buf whose first failure sticks, so a decode can append freely and look
 * once at the end. */
typedef struct buf {
    ps_buf s;
    bool oom;
} buf;

static bool buf_reserve(buf *b, size_t extra)
{
    if (!b->oom && ps_buf_reserve(&b->s, extra) != PS_OK)
        b->oom = true;
    return !b->oom;
}

static void buf_put(buf *b, const void *p, size_t n)
{
    if (n && !b->oom && ps_buf_append(&b->s, p, n) != PS_OK)
        b->oom = true;
}

static void buf_putc(buf *b, unsigned char c)
{
    if (!b->oom && ps_buf_putc(&b->s, (char)c) != PS_OK)
        b->oom = true;
}

static void buf_put_cp(buf *b, uint32_t cp)
{
    char u[PS_UTF8_MAX];
    size_t n = ps_utf8_encode(cp, u);
    buf_put(b, u, n);
}

/* ---- encoded-word syntax ---------------------------------------------------- */

typedef struct ew {
    size_t end;                    /* one past the closing "?=" */
    char charset[CHARSET_MAX + 1]; /* upper case, RFC 2231 language removed */
    char enc;                      /* 'B' or 'Q' */
    const char *text;
    size_t textlen;
} ew;

static bool is_wsp(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Charset names end up in iconv_open(); allowing only the characters real names
 * use keeps path-like or option-like strings ("../x", "UTF-8//TRANSLIT") out. */
static bool is_charset_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '+' || c == ':';
}

static bool parse_word(const char *s, size_t n, size_t p, ew *w)
{
    size_t cs = p + 2, i = cs, cslen;

    if (p + 2 > n || s[p] != '=' || s[p + 1] != '?')
        return false;
    while (i < n && i - cs <= CHARSET_MAX && is_charset_char(s[i]))
        i++;
    cslen = i - cs;
    if (cslen == 0 || cslen > CHARSET_MAX)
        return false;
    if (i < n && s[i] == '*') { /* RFC 2231 language tag, e.g. "UTF-8*ja" */
        size_t lang = ++i;
        while (i < n && (is_charset_char(s[i]) && s[i] != '_' && s[i] != ':'))
            i++;
        if (i == lang)
            return false;
    }
    if (i + 2 >= n || s[i] != '?')
        return false;
    switch (s[i + 1]) {
    case 'B':
    case 'b':
        w->enc = 'B';
        break;
    case 'Q':
    case 'q':
        w->enc = 'Q';
        break;
    default:
        return false;
    }
    if (s[i + 2] != '?')
        return false;
    i += 3;
    w->text = s + i;
    while (i < n && s[i] != '?') {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7F)
            return false;
        i++;
    }
    if (i + 1 >= n || s[i + 1] != '=')
        return false;
    w->textlen = (size_t)(s + i - w->text);
    w->end = i + 2;
    for (size_t k = 0; k < cslen; k++) {
        char c = s[cs + k];
        w->charset[k] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
    }
    w->charset[cslen] = '\0';
    return true;
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Appends the bytes the word carries. Missing "=" padding is accepted because
 * several mailers omit it; anything else malformed makes the word plain text. */
static bool decode_b(const char *t, size_t n, buf *out)
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t data = 0, pad = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c == '=') {
            pad++;
            continue;
        }
        int v = b64_value(c);
        if (v < 0 || pad)
            return false;
        data++;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf_putc(out, (unsigned char)(acc >> bits));
        }
    }
    if (data % 4 == 1 || pad > 2 || (pad && (data + pad) % 4 != 0))
        return false;
    return true;
}

static bool decode_q(const char *t, size_t n, buf *out)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c == '_') {
            buf_putc(out, ' ');
        } else if (c == '=') {
            int hi, lo;
            if (i + 2 >= n)
                return false;
            hi = hex_value((unsigned char)t[i + 1]);
            lo = hex_value((unsigned char)t[i + 2]);
            if (hi < 0 || lo < 0)
                return false;
            buf_putc(out, (unsigned char)(hi << 4 | lo));
            i += 2;
        } else {
            buf_putc(out, c);
        }
    }
    return true;
}

static bool decode_word(const ew *w, buf *out)
{
    size_t mark = out->s.len;
    bool ok =
        w->enc == 'B' ? decode_b(w->text, w->textlen, out) : decode_q(w->text, w->textlen, out);
    if (!ok)
        out->s.len = mark;
    return ok;
}

/* ---- charset conversion ------------------------------------------------------ */

static bool name_in(const char *cs, const char *const *names)
{
    for (; *names; names++)
        if (strcmp(cs, *names) == 0)
            return true;
    return false;
}

static const char *const utf8_names[] = {"UTF-8", "UTF8", "US-ASCII", "ASCII", NULL};
static const char *const latin1_names[] = {"ISO-8859-1",   "ISO8859-1", "ISO_8859-1",
                                           "LATIN1",       "L1",        "CP819",
                                           "WINDOWS-1252", "CP1252",    NULL};

/* Windows-1252 in 0x80..0x9F; 0 where it has no character. Mail labelled
 * ISO-8859-1 with bytes in this range was written on Windows (the C1 controls
 * never appear in real subjects), so we read it the way browsers do (WHATWG). */
static const uint16_t cp1252_c1[32] = {
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0,      0x017D, 0,      0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178};

static void convert_latin1(const unsigned char *in, size_t n, buf *out)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = in[i];
        if (cp >= 0x80 && cp < 0xA0 && cp1252_c1[cp - 0x80])
            cp = cp1252_c1[cp - 0x80];
        buf_put_cp(out, cp);
    }
}

static bool convert_charset(const char *charset, const char *in, size_t n, buf *out)
{
    char *u = NULL;
    size_t ulen = 0;
    ps_err err = ps_plat_charset_to_utf8(charset, in, n, &u, &ulen);

    if (err == PS_ERR_NOMEM)
        out->oom = true;
    if (err != PS_OK)
        return false;
    buf_put(out, u, ulen);
    free(u);
    return true;
}

/* Appends bytes `in` of `charset` as UTF-8; on failure appends nothing. A NUL
 * cannot live in a C string column, so a word decoding to one stays encoded. */
static bool convert(const char *charset, char *in, size_t n, buf *out)
{
    size_t mark = out->s.len;
    bool ok;

    if (n == 0)
        return true; /* an empty word ("=?UTF-8?B??=") decodes to nothing */
    if (memchr(in, 0, n))
        return false;
    if (name_in(charset, utf8_names)) {
        ok = ps_utf8_valid(in, n, NULL);
        if (ok)
            buf_put(out, in, n);
    } else if (name_in(charset, latin1_names)) {
        convert_latin1((const unsigned char *)in, n, out);
        ok = true;
    } else {
        ok = convert_charset(charset, in, n, out);
        if (ok && out->s.len > mark &&
            (!ps_utf8_valid(out->s.p + mark, out->s.len - mark, NULL) ||
             memchr(out->s.p + mark, 0, out->s.len - mark)))
            ok = false;
    }
    if (!ok || out->oom)
        out->s.len = mark;
    return ok && !out->oom;
}

/* ---- runs of adjacent words ------------------------------------------------- */

/* One encoded word of a run, as positions in the unfolded input. */
typedef struct run_word {
    size_t ws;           /* start of the whitespace before it (== start when none) */
    size_t start, end;   /* "=?" .. "?=" */
    size_t dstart, dend; /* its bytes in run.bytes */
} run_word;

/* Adjacent words in one charset are converted together: mailers split
 * multi-byte characters (and ISO-2022-JP escape sequences) across words. */
typedef struct run {
    char charset[CHARSET_MAX + 1];
    buf bytes;
    run_word *words;
    size_t nwords, cap;
    bool prev_raw; /* the last word flushed stayed encoded */
    bool oom;
} run;

static void run_add(run *r, const ew *w, size_t ws, size_t start, size_t dstart)
{
    if (ps_mem_grow_array((void **)&r->words, &r->cap, r->nwords, sizeof *r->words) != PS_OK) {
        r->oom = true;
        return;
    }
    if (r->nwords == 0)
        memcpy(r->charset, w->charset, sizeof r->charset);
    r->words[r->nwords++] = (run_word){ws, start, w->end, dstart, r->bytes.s.len};
}

static void run_flush(run *r, const char *in, buf *out)
{
    buf scratch = {0};
    bool prev_raw = r->prev_raw;

    if (r->nwords == 0)
        return;
    if (convert(r->charset, r->bytes.s.p, r->bytes.s.len, &scratch)) {
        if (r->prev_raw)
            buf_put(out, in + r->words[0].ws, r->words[0].start - r->words[0].ws);
        buf_put(out, scratch.s.p, scratch.s.len);
        prev_raw = false;
        goto done;
    }
    /* The run as a whole is not valid in its charset: decode word by word so that
     * one broken word does not hide its good neighbours. Whitespace next to a word
     * that stays encoded comes back, as it was written. */
    for (size_t k = 0; k < r->nwords; k++) {
        const run_word *w = &r->words[k];
        scratch.s.len = 0;
        bool ok = convert(r->charset, r->bytes.s.p + w->dstart, w->dend - w->dstart, &scratch);
        if (!ok || prev_raw)
            buf_put(out, in + w->ws, w->start - w->ws);
        if (ok)
            buf_put(out, scratch.s.p, scratch.s.len);
        else
            buf_put(out, in + w->start, w->end - w->start);
        prev_raw = !ok;
    }
done:
    if (scratch.oom)
        out->oom = true;
    free(scratch.s.p);
    r->prev_raw = prev_raw;
    r->nwords = 0;
    r->bytes.s.len = 0;
}

/* ---- entry point ---------------------------------------------------------------- */

/* RFC 5322 unfolding: a line break followed by whitespace is just that whitespace. */
static void unfold(const char *s, size_t n, buf *out)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\r' && i + 2 < n && s[i + 1] == '\n' &&
            (s[i + 2] == ' ' || s[i + 2] == '\t')) {
            i++;
            continue;
        }
        if (s[i] == '\n' && i + 1 < n && (s[i + 1] == ' ' || s[i + 1] == '\t'))
            continue;
        buf_putc(out, (unsigned char)s[i]);
    }
}

/* Makes the result valid UTF-8 even when the header itself was not (a pipeline may
 * have put arbitrary bytes there): each bad byte becomes U+FFFD. */
static void sanitize_utf8(buf *b)
{
    size_t bad, off = 0;
    buf fixed = {0};

    if (ps_utf8_valid(b->s.p, b->s.len, &bad))
        return;
    do {
        buf_put(&fixed, b->s.p + off, bad);
        buf_put(&fixed, "\xEF\xBF\xBD", 3);
        off += bad + 1;
    } while (off < b->s.len && !ps_utf8_valid(b->s.p + off, b->s.len - off, &bad));
    if (off < b->s.len)
        buf_put(&fixed, b->s.p + off, b->s.len - off);
    if (fixed.oom) {
        free(fixed.s.p);
        b->oom = true;
        return;
    }
    free(b->s.p);
    *b = fixed;
}

char *ps_event_rfc2047_decode(const char *s, size_t len)
{
    buf unfolded = {0}, out = {0};
    run r = {0};
    const char *in = s;
    size_t n = len, p = 0, ws_start = 0;
    bool after_word = false;
    char *result = NULL;

    if (memchr(s, '\n', len)) {
        unfold(s, len, &unfolded);
        if (unfolded.oom)
            goto cleanup;
        in = unfolded.s.p ? unfolded.s.p : "";
        n = unfolded.s.len;
    }
    if (!buf_reserve(&out, n + 1))
        goto cleanup;
    while (p < n) {
        ew w;
        if (in[p] == '=' && parse_word(in, n, p, &w)) {
            bool joins = after_word && strcmp(w.charset, r.charset) == 0;
            if (!joins)
                run_flush(&r, in, &out);
            size_t dstart = r.bytes.s.len;
            if (decode_word(&w, &r.bytes)) {
                run_add(&r, &w, after_word ? ws_start : p, p, dstart);
                p = ws_start = w.end;
                after_word = true;
                continue;
            }
            /* Malformed payload: the word is ordinary text, so any whitespace we
             * held back after the previous word belongs to the output again. */
        }
        if (after_word && is_wsp(in[p])) {
            /* Whitespace between two encoded words is dropped (RFC 2047 6.2); we
             * only know which case this is once we see what follows it. */
            while (p < n && is_wsp(in[p]))
                p++;
            continue;
        }
        if (after_word) {
            run_flush(&r, in, &out);
            buf_put(&out, in + ws_start, p - ws_start);
            after_word = false;
        }
        const char *next = memchr(in + p + 1, '=', n - p - 1);
        size_t stop = next ? (size_t)(next - in) : n;
        buf_put(&out, in + p, stop - p);
        p = stop;
    }
    run_flush(&r, in, &out);
    if (after_word)
        buf_put(&out, in + ws_start, n - ws_start);
    if (r.oom || r.bytes.oom || out.oom)
        goto cleanup;
    sanitize_utf8(&out);
    result = ps_buf_take(&out.s, NULL);
cleanup:
    ps_buf_deinit(&out.s);
    ps_buf_deinit(&unfolded.s);
    ps_buf_deinit(&r.bytes.s);
    free(r.words);
    return result;
}
