/* ps_store elision: the typed values of an event are taken out of its JSON before
 * compression and put back after decompression.
 *
 * A row stores each typed value twice: in its column and inside the JSON. The
 * copies in the JSON are the least compressible part of it (guids, queue ids,
 * message-ids, addresses), so the stored JSON replaces every occurrence of a typed
 * value of six bytes or more with a two-byte marker: 0x01, then 0x20 + the
 * value's index in the list built by ps_store_elide_list. That list comes from the
 * row's own columns, so it is rebuilt identically when the row is read.
 *
 * Why 0x01 is unambiguous: JSON text cannot hold a raw control character except
 * inside strings, where it must be escaped. The writer elides only when the JSON
 * holds no 0x01 byte at all (else it stores it unchanged, fmt 0), never elides a
 * value that holds 0x01 itself, and finds the values in the original text, never
 * in text with markers, so every 0x01 in elided text starts a marker. The writer
 * also expands what it elided and compares it with the original before storing
 * it. */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_mem.h"
#include "store/ps_store_elide.h"

#define ELIDE_MARK 0x01
#define ELIDE_BASE 0x20
#define ELIDE_MIN  6

void ps_store_elide_list(const char *key, const char *const text[PS_EF__COUNT], ps_elide_list *l)
{
    /* The high-entropy values: ids, addresses, subject, hosts, delivery status.
     * Low-cardinality ones (disposition, module, dsn ...) cost the dictionary
     * nearly nothing and would only make the search longer. */
    static const ps_event_field fields[] = {
        PS_EF_SENDER,    PS_EF_RECIPIENTS,  PS_EF_SUBJECT, PS_EF_QID,   PS_EF_MESSAGE_ID,
        PS_EF_CLIENT_IP, PS_EF_CLIENT_HOST, PS_EF_STAT,    PS_EF_RELAY,
    };
    l->n = 0;
    if (key)
        ps_store_elide_add(l, key, strlen(key));
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const char *v = text[fields[i]];
        if (!v)
            continue;
        if (fields[i] == PS_EF_RECIPIENTS) {
            /* The column joins the addresses with ", "; the JSON has each alone. */
            while (*v) {
                const char *sep = strstr(v, ", ");
                size_t n = sep ? (size_t)(sep - v) : strlen(v);
                ps_store_elide_add(l, v, n);
                v += n;
                if (sep)
                    v += 2;
            }
            continue;
        }
        ps_store_elide_add(l, v, strlen(v));
    }
}

void ps_store_elide_add(ps_elide_list *l, const char *v, size_t n)
{
    /* Index byte 0x20 + i must stay below 0x80 so markers are plain ASCII. */
    if (l->n >= PS_ELIDE_MAX)
        return;
    l->v[l->n] = v;
    l->len[l->n] = n;
    l->n++;
}

/* Calls fn with each piece of the expansion of enc, in order, until fn returns
 * false. PS_ERR_DB for a marker that names no value; fn may have had the pieces
 * before it, so a caller that copies measures first. */
typedef bool (*piece_fn)(void *ctx, const char *p, size_t n);

static ps_err expand(const char *enc, size_t len, const ps_elide_list *l, piece_fn fn, void *ctx)
{
    const char *p = enc, *end = enc + len;
    while (p < end) {
        /* memchr keeps the walk at memory speed. */
        const char *m = memchr(p, ELIDE_MARK, (size_t)(end - p));
        size_t run = m ? (size_t)(m - p) : (size_t)(end - p);
        unsigned idx;
        if (!fn(ctx, p, run) || !m)
            break;
        if (m + 1 >= end || (unsigned char)m[1] < ELIDE_BASE ||
            (idx = (unsigned)((unsigned char)m[1] - ELIDE_BASE)) >= l->n)
            return PS_ERR_DB;
        if (!fn(ctx, l->v[idx], l->len[idx]))
            break;
        p = m + 2;
    }
    return PS_OK;
}

typedef struct sink {
    char *out; /* NULL: only count */
    size_t n;
    const char *want; /* compare instead of copy */
    size_t want_len;
    bool same;
} sink;

static bool put_piece(void *ctx, const char *p, size_t n)
{
    sink *k = ctx;
    if (k->out)
        memcpy(k->out + k->n, p, n);
    k->n += n;
    return true;
}

static bool cmp_piece(void *ctx, const char *p, size_t n)
{
    sink *k = ctx;
    k->same = k->same && n <= k->want_len - k->n && memcmp(k->want + k->n, p, n) == 0;
    k->n += n;
    return k->same;
}

ps_err ps_store_unelide(const char *enc, size_t len, const ps_elide_list *l, char **buf,
                        size_t *cap, size_t *out_len)
{
    sink k = {0};
    ps_err err = expand(enc, len, l, put_piece, &k); /* measure, then copy */
    if (err == PS_OK)
        err = ps_mem_reserve((void **)buf, cap, k.n + 1);
    if (err != PS_OK)
        return err;
    k.out = *buf;
    k.n = 0;
    (void)expand(enc, len, l, put_piece, &k);
    (*buf)[k.n] = '\0';
    *out_len = k.n;
    return PS_OK;
}

bool ps_store_unelide_equals(const char *enc, size_t len, const ps_elide_list *l, const char *raw,
                             size_t raw_len)
{
    sink k = {.want = raw, .want_len = raw_len, .same = true};
    return expand(enc, len, l, cmp_piece, &k) == PS_OK && k.same && k.n == raw_len;
}

/* One pass over the JSON for every value at once (Wu-Manber): a window as long as
 * the shortest value slides along the text, and the two bytes at its end say how far
 * it may jump, since no value's first `m` bytes hold them any later. A search per
 * value (memmem) and moving the text after each value's matches cost an event about
 * 1.4 us; this pass is a fraction of that. The markers it writes read back exactly
 * as before: which value a marker names is in the marker. */
enum { SCAN_BITS = 12, SCAN_SIZE = 1u << SCAN_BITS };

static unsigned block_hash(const unsigned char *p)
{
    return (((unsigned)p[0] << 4) ^ (unsigned)p[1]) & (SCAN_SIZE - 1);
}

ps_err ps_store_elide(const char *raw, size_t len, const ps_elide_list *l, char **buf, size_t *cap,
                      size_t *out_len, bool *elided)
{
    const unsigned char *in = (const unsigned char *)raw;
    unsigned char shift[SCAN_SIZE];
    unsigned short end_hash[PS_ELIDE_MAX];
    bool use[PS_ELIDE_MAX];
    size_t m = SIZE_MAX, pos = 0, run = 0, w = 0;
    ps_err err;

    *elided = false;
    if ((err = ps_mem_reserve((void **)buf, cap, len + 1)) != PS_OK)
        return err;
    *out_len = len;
    for (unsigned i = 0; i < l->n; i++) {
        use[i] = l->len[i] >= ELIDE_MIN && !memchr(l->v[i], ELIDE_MARK, l->len[i]);
        if (use[i] && l->len[i] < m)
            m = l->len[i];
    }
    /* Text that holds a marker byte is stored as it is (see the top of this file). */
    if (m == SIZE_MAX || memchr(raw, ELIDE_MARK, len)) {
        memcpy(*buf, raw, len);
        (*buf)[len] = '\0';
        return PS_OK;
    }
    if (m - 1 > UCHAR_MAX)
        m = UCHAR_MAX + 1;
    memset(shift, (int)(m - 1), sizeof shift);
    for (unsigned i = 0; i < l->n; i++) {
        const unsigned char *v = (const unsigned char *)l->v[i];
        if (!use[i])
            continue;
        for (size_t j = 1; j < m; j++) {
            unsigned h = block_hash(v + j - 1);
            if (shift[h] > m - 1 - j)
                shift[h] = (unsigned char)(m - 1 - j);
        }
        end_hash[i] = (unsigned short)block_hash(v + m - 2);
    }
    while (pos + m <= len) {
        unsigned h = block_hash(in + pos + m - 2);
        unsigned best = l->n;
        size_t best_len = 0;
        if (shift[h]) {
            pos += shift[h];
            continue;
        }
        /* the longest value that starts here */
        for (unsigned i = 0; i < l->n; i++)
            if (use[i] && end_hash[i] == h && l->len[i] > best_len && l->len[i] <= len - pos &&
                memcmp(in + pos, l->v[i], l->len[i]) == 0) {
                best = i;
                best_len = l->len[i];
            }
        if (best == l->n) {
            pos++;
            continue;
        }
        memcpy(*buf + w, raw + run, pos - run);
        w += pos - run;
        (*buf)[w++] = (char)ELIDE_MARK;
        (*buf)[w++] = (char)(ELIDE_BASE + best);
        pos += best_len;
        run = pos;
    }
    memcpy(*buf + w, raw + run, len - run);
    w += len - run;
    (*buf)[w] = '\0';
    *out_len = w;
    *elided = w != len;
    return PS_OK;
}
