/* podsim_gen: deterministic timeline and event serialisation (see podsim_gen.h).
 *
 * Events are written by templating straight into a byte buffer: the simulator must
 * produce hundreds of thousands of ~1.5 KB events per second, which rules out
 * building a JSON tree per event. Every random choice comes from a counter-based
 * hash of (stream, index, purpose), so an event never depends on its neighbours; a
 * maillog line depends on the few message events of its group (see "maillog"), which
 * it recomputes the same way. */
#include "podsim_gen.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- buffer ------------------------------------------------------------------- */

void psim_buf_init(psim_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void psim_buf_deinit(psim_buf *b)
{
    if (b == NULL) {
        return;
    }
    free(b->data);
    psim_buf_init(b);
}

bool psim_buf_reserve(psim_buf *b, size_t extra)
{
    if (b->cap - b->len >= extra) {
        return true;
    }
    size_t need = b->len + extra;
    if (need < b->len) {
        return false;
    }
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (p == NULL) {
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

bool psim_buf_append(psim_buf *b, const void *p, size_t n)
{
    if (!psim_buf_reserve(b, n)) {
        return false;
    }
    if (n) {
        memcpy(b->data + b->len, p, n);
    }
    b->len += n;
    return true;
}

/* ---- types -------------------------------------------------------------------- */

static const char *const type_names[PSIM_TYPES] = {"message", "maillog", "audit"};

const char *psim_type_name(psim_type t)
{
    return (unsigned)t < PSIM_TYPES ? type_names[t] : "?";
}

bool psim_type_parse(const char *s, psim_type *out)
{
    for (int t = 0; s != NULL && t < PSIM_TYPES; t++) {
        if (strcmp(s, type_names[t]) == 0) {
            *out = (psim_type)t;
            return true;
        }
    }
    return false;
}

/* ---- hashing ------------------------------------------------------------------ */

static uint64_t mix64(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* Separate purposes keep, say, the disorder decision independent of the key. */
/* New purposes go at the end: the values feed the hashes, so renumbering would change
 * every event. */
enum { H_SLOT = 1, H_LAG, H_LAGLEN, H_KEY, H_BODY, H_BIG, H_FORM, H_SHAPE, H_UNIQ, H_LINE };

/* An event is a "shape" (everything but its unique fields, chosen among SHAPES per
 * stream) plus its unique values (key, ts, qid, ...). Shapes give realistic variety;
 * psim_pool reuses a serialised shape by patching the values in. A maillog line's
 * shape is its message's shape and its place among the mail's lines. */
#define SHAPES 4096U

static uint64_t ev_hash(const psim_timeline *tl, uint64_t i, unsigned purpose)
{
    return mix64(tl->stream_hash ^ mix64(i * 0xD1B54A32D192ED03ULL + purpose));
}

static uint64_t shape_of(const psim_timeline *tl, uint64_t i)
{
    return ev_hash(tl, i, H_SHAPE) % SHAPES;
}

static double unit(uint64_t h)
{
    return (double)(h >> 11) * 0x1.0p-53;
}

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rnext(rng *r)
{
    r->s += 0x9E3779B97F4A7C15ULL;
    uint64_t z = r->s;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static uint32_t rbelow(rng *r, uint32_t n)
{
    return (uint32_t)(((rnext(r) >> 32) * n) >> 32);
}

static bool rchance(rng *r, double p)
{
    return unit(rnext(r)) < p;
}

#define PICK(r, arr) ((arr)[rbelow((r), (uint32_t)(sizeof(arr) / sizeof((arr)[0])))])

/* ---- timeline ----------------------------------------------------------------- */

static const int tz_offsets[] = {-420, -420, -420, -480, -300, -240, 0, 60, 120, 330, 540, 600};

static uint64_t stream_hash_of(uint64_t seed, uint64_t cluster_hash, psim_type type)
{
    return mix64(seed ^ mix64(cluster_hash) ^ mix64(0x5eed0000ULL + (uint64_t)type));
}

void psim_timeline_init(psim_timeline *tl, uint64_t seed, const char *cluster, psim_type type,
                        int64_t origin_us, int64_t interval_us)
{
    memset(tl, 0, sizeof *tl);
    tl->seed = seed;
    size_t n = strlen(cluster);
    if (n >= sizeof tl->cluster) {
        n = sizeof tl->cluster - 1;
    }
    memcpy(tl->cluster, cluster, n);
    tl->type = type;
    tl->origin_us = origin_us;
    tl->interval_us = interval_us < 1 ? 1 : interval_us;
    tl->count = PSIM_UNBOUNDED;
    uint64_t ch = fnv1a(tl->cluster);
    tl->stream_hash = stream_hash_of(seed, ch, type);
    tl->tz_offset_min = tz_offsets[mix64(ch) % (sizeof tz_offsets / sizeof tz_offsets[0])];
}

/* The message stream of tl's cluster with tl's time base: the one whose mails tl's
 * maillog lines describe. */
static void message_sibling(const psim_timeline *tl, psim_timeline *mt)
{
    *mt = *tl;
    mt->type = PSIM_MESSAGE;
    mt->stream_hash = stream_hash_of(tl->seed, fnv1a(tl->cluster), PSIM_MESSAGE);
}

int64_t psim_occurs_us(const psim_timeline *tl, uint64_t i)
{
    int64_t jitter = 0;
    if (tl->interval_us > 1) {
        jitter = (int64_t)(ev_hash(tl, i, H_SLOT) % (uint64_t)tl->interval_us);
    }
    if (i > (uint64_t)(INT64_MAX - tl->origin_us) / (uint64_t)tl->interval_us - 1) {
        return INT64_MAX;
    }
    return tl->origin_us + (int64_t)i * tl->interval_us + jitter;
}

int64_t psim_ts_us(const psim_timeline *tl, uint64_t i)
{
    int64_t t = psim_occurs_us(tl, i);
    if (tl->disorder > 0 && tl->disorder_max_us > 0 && unit(ev_hash(tl, i, H_LAG)) < tl->disorder) {
        t -= 1 + (int64_t)(ev_hash(tl, i, H_LAGLEN) % (uint64_t)tl->disorder_max_us);
    }
    return t;
}

uint64_t psim_index_at(const psim_timeline *tl, int64_t t_us)
{
    uint64_t k = 0;
    if (t_us > tl->origin_us) {
        k = (uint64_t)((t_us - tl->origin_us) / tl->interval_us);
        /* Slot k may start before t and still occur before it; slot k+1 cannot. */
        if (psim_occurs_us(tl, k) < t_us) {
            k++;
        }
    }
    return k > tl->count ? tl->count : k;
}

/* ---- time formatting ---------------------------------------------------------- */

static void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)((int64_t)yoe + era * 400 + (*m <= 2));
}

static int64_t days_from_civil(int y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static char *put_digits(char *p, unsigned v, int width)
{
    for (int k = width - 1; k >= 0; k--) {
        p[k] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

/* Writes "YYYY-MM-DDThh:mm:ss.uuuuuu" (26 bytes, no terminator) of `us` shifted by
 * offset minutes. */
static char *put_datetime(char *p, int64_t us, int offset_min)
{
    us += (int64_t)offset_min * 60000000;
    int64_t secs = us / 1000000;
    int64_t frac = us % 1000000;
    if (frac < 0) {
        frac += 1000000;
        secs--;
    }
    int64_t days = secs / 86400;
    int64_t sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        days--;
    }
    int y;
    unsigned m;
    unsigned d;
    civil_from_days(days, &y, &m, &d);
    p = put_digits(p, (unsigned)y % 10000, 4);
    *p++ = '-';
    p = put_digits(p, m, 2);
    *p++ = '-';
    p = put_digits(p, d, 2);
    *p++ = 'T';
    p = put_digits(p, (unsigned)(sod / 3600), 2);
    *p++ = ':';
    p = put_digits(p, (unsigned)(sod / 60 % 60), 2);
    *p++ = ':';
    p = put_digits(p, (unsigned)(sod % 60), 2);
    *p++ = '.';
    return put_digits(p, (unsigned)frac, 6);
}

static char *put_offset(char *p, int offset_min, bool colon)
{
    *p++ = offset_min < 0 ? '-' : '+';
    unsigned a = (unsigned)(offset_min < 0 ? -offset_min : offset_min);
    p = put_digits(p, a / 60, 2);
    if (colon) {
        *p++ = ':';
    }
    return put_digits(p, a % 60, 2);
}

void psim_format_utc(int64_t us, char *buf, size_t len)
{
    char tmp[32];
    char *p = put_datetime(tmp, us, 0);
    *p++ = 'Z';
    *p = '\0';
    size_t n = (size_t)(p - tmp);
    if (len == 0) {
        return;
    }
    if (n >= len) {
        n = len - 1;
    }
    memcpy(buf, tmp, n);
    buf[n] = '\0';
}

static bool digits(const char **s, int n, unsigned *out)
{
    unsigned v = 0;
    for (int k = 0; k < n; k++) {
        char c = (*s)[k];
        if (c < '0' || c > '9') {
            return false;
        }
        v = v * 10 + (unsigned)(c - '0');
    }
    *s += n;
    *out = v;
    return true;
}

bool psim_parse_iso(const char *s, int64_t *out_us)
{
    unsigned y;
    unsigned mo;
    unsigned d;
    unsigned h;
    unsigned mi;
    unsigned sec = 0;
    int64_t frac = 0;
    if (s == NULL || !digits(&s, 4, &y) || *s++ != '-' || !digits(&s, 2, &mo) || *s++ != '-' ||
        !digits(&s, 2, &d) || (*s != 'T' && *s != 't') || !(s++, digits(&s, 2, &h)) ||
        *s++ != ':' || !digits(&s, 2, &mi)) {
        return false;
    }
    if (*s == ':') {
        s++;
        if (!digits(&s, 2, &sec)) {
            return false;
        }
        if (*s == '.' || *s == ',') {
            s++;
            int n = 0;
            int64_t scale = 100000;
            while (*s >= '0' && *s <= '9') {
                if (n < 6) {
                    frac += (*s - '0') * scale;
                    scale /= 10;
                } else if (n >= 9) {
                    return false;
                }
                n++;
                s++;
            }
            if (n == 0) {
                return false;
            }
        }
    }
    static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 60) {
        return false;
    }
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo == 2 && d == 29 && !leap) {
        return false;
    }
    int off = 0;
    if (*s == 'Z' || *s == 'z') {
        s++;
    } else if (*s == '+' || *s == '-') {
        int sign = *s++ == '-' ? -1 : 1;
        unsigned oh;
        unsigned om = 0;
        if (!digits(&s, 2, &oh)) {
            return false;
        }
        if (*s == ':') {
            s++;
            if (!digits(&s, 2, &om)) {
                return false;
            }
        } else if (*s >= '0' && *s <= '9' && !digits(&s, 2, &om)) {
            return false;
        }
        if (oh > 23 || om > 59) {
            return false;
        }
        off = sign * (int)(oh * 60 + om);
    }
    if (*s != '\0') {
        return false;
    }
    int64_t days = days_from_civil((int)y, mo, d);
    int64_t t = ((days * 24 + h) * 60 + mi) * 60 + sec - (int64_t)off * 60;
    *out_us = t * 1000000 + frac;
    return true;
}

/* ---- JSON writer -------------------------------------------------------------- */

/* Where one unique value sits inside a serialised event. */
typedef struct patch {
    uint32_t off;
    uint8_t kind;
    uint8_t len; /* the value's width when the shape was serialised */
} patch;

#define MAX_PATCHES 16

/* The unique fields of one event. All but `ts` have a fixed width for a given shape;
 * a maillog shape serves lines whose `ts` comes in either offset form, so the pool
 * patches values of any width. */
enum { U_KEY, U_TS, U_QID, U_SID, U_MSGID, U_PID, U_DTS, U_COUNT };

typedef struct uniq {
    char v[U_COUNT][40];
    uint8_t len[U_COUNT];
} uniq;

/* Tracks commas so that the templates below read like the JSON they produce, and
 * records where unique values were written. */
typedef struct jw {
    psim_buf *b;
    bool ok;
    int depth;
    bool need_comma[32];
    bool after_key;
    size_t base;   /* offset of the event in b */
    const uniq *u; /* the values being written, for their widths */
    patch patches[MAX_PATCHES];
    int npatch;
    bool cacheable; /* every unique value was recorded */
} jw;

static void jw_raw(jw *w, const char *s, size_t n)
{
    psim_buf *b = w->b;
    if (n == 0) {
        return;
    }
    if (b->cap - b->len >= n) {
        memcpy(b->data + b->len, s, n);
        b->len += n;
    } else if (w->ok && !psim_buf_append(b, s, n)) {
        w->ok = false;
    }
}

#define JW_LIT(w, lit) jw_raw((w), (lit), sizeof(lit) - 1)

static void jw_sep(jw *w)
{
    if (w->after_key) {
        w->after_key = false;
    } else if (w->need_comma[w->depth]) {
        JW_LIT(w, ",");
    }
    w->need_comma[w->depth] = true;
}

static void jw_open(jw *w, char c)
{
    jw_sep(w);
    jw_raw(w, &c, 1);
    if (w->depth < 31) {
        w->depth++;
    }
    w->need_comma[w->depth] = false;
}

static void jw_close(jw *w, char c)
{
    jw_raw(w, &c, 1);
    if (w->depth > 0) {
        w->depth--;
    }
}

#define jw_obj(w)  jw_open((w), '{')
#define jw_end(w)  jw_close((w), '}')
#define jw_arr(w)  jw_open((w), '[')
#define jw_aend(w) jw_close((w), ']')

static const char hexd[] = "0123456789abcdef";

/* Escapes per RFC 8259; UTF-8 passes through untouched. Writes straight into the
 * buffer after one worst-case reservation: this is the generator's hot loop. */
static void jw_quoted(jw *w, const char *s, size_t n)
{
    if (!w->ok || !psim_buf_reserve(w->b, n * 6 + 2)) {
        w->ok = false;
        return;
    }
    char *o = w->b->data + w->b->len;
    *o++ = '"';
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)s[k];
        if (c >= 0x20 && c != '"' && c != '\\') {
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"':
        case '\\':
            *o++ = (char)c;
            break;
        case '\n':
            *o++ = 'n';
            break;
        case '\r':
            *o++ = 'r';
            break;
        case '\t':
            *o++ = 't';
            break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = hexd[c >> 4];
            *o++ = hexd[c & 15];
        }
    }
    *o++ = '"';
    w->b->len = (size_t)(o - w->b->data);
}

static void jw_str(jw *w, const char *s)
{
    jw_sep(w);
    jw_quoted(w, s, strlen(s));
}

/* Keys are our own literals and never need escaping. */
static void jw_key_n(jw *w, const char *k, size_t n)
{
    jw_sep(w);
    if (!w->ok || !psim_buf_reserve(w->b, n + 3)) {
        w->ok = false;
        return;
    }
    char *o = w->b->data + w->b->len;
    *o++ = '"';
    memcpy(o, k, n);
    o += n;
    *o++ = '"';
    *o++ = ':';
    w->b->len = (size_t)(o - w->b->data);
    w->after_key = true;
}

/* A macro so that strlen of a literal key is folded at compile time. */
#define jw_key(w, k) jw_key_n((w), (k), strlen(k))

static void jw_i64(jw *w, int64_t v)
{
    char tmp[24];
    char *e = tmp + sizeof tmp;
    char *p = e;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) {
        *--p = '-';
    }
    jw_sep(w);
    jw_raw(w, p, (size_t)(e - p));
}

/* A number as a string, as the feed sends e.g. sm.pri and suborgs. */
static void jw_istr(jw *w, int64_t v)
{
    jw_sep(w);
    JW_LIT(w, "\"");
    w->after_key = true;
    jw_i64(w, v);
    JW_LIT(w, "\"");
}

/* A decimal with up to 6 fraction digits, trailing zeros trimmed: 0.11872. */
static void jw_micros(jw *w, int64_t micros)
{
    char tmp[32];
    char *p = tmp;
    int64_t ip = micros / 1000000;
    unsigned fr = (unsigned)(micros % 1000000);
    char ib[24];
    int n = 0;
    do {
        ib[n++] = (char)('0' + ip % 10);
        ip /= 10;
    } while (ip);
    while (n) {
        *p++ = ib[--n];
    }
    if (fr) {
        *p++ = '.';
        p = put_digits(p, fr, 6);
        while (p[-1] == '0') {
            p--;
        }
    }
    jw_sep(w);
    jw_raw(w, tmp, (size_t)(p - tmp));
}

static void jw_bool(jw *w, bool v)
{
    jw_sep(w);
    if (v) {
        JW_LIT(w, "true");
    } else {
        JW_LIT(w, "false");
    }
}

static void jw_kstr_n(jw *w, const char *k, size_t kn, const char *v)
{
    jw_key_n(w, k, kn);
    jw_str(w, v);
}

static void jw_kint_n(jw *w, const char *k, size_t kn, int64_t v)
{
    jw_key_n(w, k, kn);
    jw_i64(w, v);
}

/* "k":["v"] */
static void jw_kstr1_n(jw *w, const char *k, size_t kn, const char *v)
{
    jw_key_n(w, k, kn);
    jw_arr(w);
    jw_str(w, v);
    jw_aend(w);
}

#define jw_kstr(w, k, v)  jw_kstr_n((w), (k), strlen(k), (v))
#define jw_kint(w, k, v)  jw_kint_n((w), (k), strlen(k), (v))
#define jw_kstr1(w, k, v) jw_kstr1_n((w), (k), strlen(k), (v))

static void jw_mark(jw *w, int kind, size_t abs_off)
{
    uint32_t off = (uint32_t)(abs_off - w->base);
    const patch *prev = w->npatch > 0 ? &w->patches[w->npatch - 1] : NULL;
    /* The pool copies the text between patches in order. */
    if (w->npatch < MAX_PATCHES && (prev == NULL || off >= prev->off + prev->len)) {
        w->patches[w->npatch].off = off;
        w->patches[w->npatch].kind = (uint8_t)kind;
        w->patches[w->npatch].len = w->u->len[kind];
        w->npatch++;
    } else {
        w->cacheable = false;
    }
}

/* A unique value as a JSON string (unique values never need escaping). */
static void jw_uniq(jw *w, const uniq *u, int kind)
{
    jw_sep(w);
    JW_LIT(w, "\"");
    jw_mark(w, kind, w->b->len);
    jw_raw(w, u->v[kind], u->len[kind]);
    JW_LIT(w, "\"");
}

/* A string built from text and unique values, remembering where the latter went. */
typedef struct ustr {
    char s[1024];
    size_t n;
    uint8_t kinds[8];
    uint16_t offs[8];
    int nm;
} ustr;

static void us_catn(ustr *b, const char *s, size_t k)
{
    if (k > sizeof b->s - 1 - b->n) {
        k = sizeof b->s - 1 - b->n;
    }
    memcpy(b->s + b->n, s, k);
    b->n += k;
    b->s[b->n] = '\0';
}

static void us_cat(ustr *b, const char *s)
{
    us_catn(b, s, strlen(s));
}

static void us_printf(ustr *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void us_printf(ustr *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->s + b->n, sizeof b->s - b->n, fmt, ap);
    va_end(ap);
    if (n > 0) {
        b->n += (size_t)n < sizeof b->s - b->n ? (size_t)n : sizeof b->s - 1 - b->n;
    }
}

static void us_uniq(ustr *b, const uniq *u, int kind)
{
    if (b->nm < 8) {
        b->kinds[b->nm] = (uint8_t)kind;
        b->offs[b->nm] = (uint16_t)b->n;
        b->nm++;
    }
    us_catn(b, u->v[kind], u->len[kind]);
}

static void jw_ustr(jw *w, const ustr *b)
{
    jw_sep(w);
    size_t start = w->b->len;
    jw_quoted(w, b->s, b->n);
    /* Offsets only hold when nothing before them needed escaping. */
    bool plain = w->ok && w->b->len - start == b->n + 2;
    for (int k = 0; k < b->nm; k++) {
        if (plain) {
            jw_mark(w, b->kinds[k], start + 1 + b->offs[k]);
        } else {
            w->cacheable = false;
        }
    }
}

/* ---- small text helpers ------------------------------------------------------- */

typedef struct sbuf {
    char s[512];
    size_t n;
} sbuf;

static void sb_cat(sbuf *b, const char *s)
{
    size_t k = strlen(s);
    if (k > sizeof b->s - 1 - b->n) {
        k = sizeof b->s - 1 - b->n;
    }
    memcpy(b->s + b->n, s, k);
    b->n += k;
    b->s[b->n] = '\0';
}

static void sb_u(sbuf *b, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    char out[24];
    int k = 0;
    while (n) {
        out[k++] = tmp[--n];
    }
    out[k] = '\0';
    sb_cat(b, out);
}

static void sb_set(sbuf *b, const char *s)
{
    b->n = 0;
    b->s[0] = '\0';
    sb_cat(b, s);
}

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char b64std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char alnum_up[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
static const char alnum_lo[] = "abcdefghijklmnopqrstuvwxyz0123456789";

static void rand_chars(rng *r, char *out, int n, const char *alphabet, uint32_t alen)
{
    for (int k = 0; k < n; k++) {
        out[k] = alphabet[rbelow(r, alen)];
    }
    out[n] = '\0';
}

/* Standard base64 of n bytes into out (room for 4 * ceil(n / 3) + 1). */
static size_t base64(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0;
    size_t k = 0;
    for (; k + 2 < n; k += 3) {
        uint32_t v = (uint32_t)in[k] << 16 | (uint32_t)in[k + 1] << 8 | in[k + 2];
        out[o++] = b64std[v >> 18];
        out[o++] = b64std[(v >> 12) & 63];
        out[o++] = b64std[(v >> 6) & 63];
        out[o++] = b64std[v & 63];
    }
    if (k < n) {
        uint32_t v = (uint32_t)in[k] << 16 | (k + 1 < n ? (uint32_t)in[k + 1] << 8 : 0);
        out[o++] = b64std[v >> 18];
        out[o++] = b64std[(v >> 12) & 63];
        out[o++] = k + 1 < n ? b64std[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

/* Length of the UTF-8 sequence starting with byte c (1 for stray bytes). */
static size_t u8len(unsigned char c)
{
    return c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
}

/* RFC 2047 encoding of a UTF-8 subject as the header map carries it before
 * normalisation: encoded words of at most ~75 chars, folded with CRLF + TAB. */
static void rfc2047(const char *s, bool q_form, sbuf *out)
{
    sb_set(out, "");
    size_t n = strlen(s);
    size_t pos = 0;
    bool first = true;
    while (pos < n) {
        size_t chunk = 0;
        size_t budget = q_form ? 16 : 36;
        while (pos + chunk < n) {
            size_t l = u8len((unsigned char)s[pos + chunk]);
            if (chunk + l > budget || pos + chunk + l > n) {
                break;
            }
            chunk += l;
        }
        if (chunk == 0) {
            chunk = 1;
        }
        if (!first) {
            sb_cat(out, "\r\n\t");
        }
        first = false;
        if (q_form) {
            sb_cat(out, "=?UTF-8?Q?");
            for (size_t k = 0; k < chunk; k++) {
                unsigned char c = (unsigned char)s[pos + k];
                char tmp[4] = {(char)c, 0, 0, 0};
                if (c == ' ') {
                    tmp[0] = '_';
                } else if (c >= 0x80 || c == '=' || c == '?' || c == '_' || c < 0x20) {
                    tmp[0] = '=';
                    tmp[1] = "0123456789ABCDEF"[c >> 4];
                    tmp[2] = "0123456789ABCDEF"[c & 15];
                }
                sb_cat(out, tmp);
            }
        } else {
            char enc[64];
            sb_cat(out, "=?UTF-8?B?");
            base64((const unsigned char *)s + pos, chunk, enc);
            sb_cat(out, enc);
        }
        sb_cat(out, "?=");
        pos += chunk;
    }
}

static bool is_ascii(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s >= 0x80) {
            return false;
        }
    }
    return true;
}

/* ---- vocabularies ------------------------------------------------------------- */

static const char *const tenant_domains[] = {"example.com", "corp.example.com", "example.co.uk"};
static const char *const ext_domains[] = {
    "example.net",        "example.org",     "mail.example.net", "news.example.org",
    "billing.example.io", "bank.example",    "shop.example.jp",  "lists.example.org",
    "partner.example.de", "vendor.example",  "cloud.example.fr", "promo.example.biz",
    "univ.example.edu",   "gov.example.int", "hr.example.com.br"};
static const char *const users[] = {
    "alice",      "bob",        "carol",       "dave",    "erin",        "frank",
    "grace",      "heidi",      "ivan",        "judy",    "mallory",     "oscar",
    "peggy",      "trent",      "victor",      "walter",  "noreply",     "billing",
    "support",    "newsletter", "ceo",         "hr",      "it-helpdesk", "j.doe",
    "m.gonzalez", "k.tanaka",   "accounts+ap", "o'brien", "sales",       "info"};
static const char *const display_names[] = {"Alice Martin",       "Bob Stone",
                                            "Schweigert, Wendy",  "Zoë Müller",
                                            "山田 太郎",          "José Álvarez",
                                            "Support Team",       "Amazon",
                                            "\"The\" Newsletter", "Billing (Do Not Reply)",
                                            "Ольга Петрова",      "IT Helpdesk",
                                            "François Dupont",    "Łukasz Nowak",
                                            "ACME Corp.",         "李 小龙"};
static const char *const subjects[] = {
    "Invoice %n for order %m",
    "Quarterly report Q%q",
    "Re: Meeting tomorrow at 10:00",
    "Fwd: Your package is on its way",
    "Ihre Bestellung wurde versandt – Lieferung am Montag",
    "お支払い方法の確認をお願いします",
    "Réunion d'équipe : ordre du jour n°%q",
    "Ваш пароль истекает сегодня",
    "🎉 Special offer: 50% off today only",
    "[wmoms] ctts",
    "Cron <pps@%h> /opt/proofpoint/resttimer.pl",
    "Password expiry notice \"urgent\" \\ action required",
    "",
    "Mailive! Test - [FSMAILID:%k]",
    "Your statement is ready (account ending %q%q)",
    "RE: RE: contract draft v%q – comments",
    "Déclaration de TVA – échéance du %q/%q",
    "Weekly digest: 12 new posts in #general",
    "Undeliverable: Re: lunch?",
    "【重要】システムメンテナンスのお知らせ",
};
static const char *const countries[] = {"us", "us", "us", "de", "fr", "gb", "jp",
                                        "br", "in", "nl", "ca", "au", "**"};
static const char *const tls_ciphers[] = {"ECDHE-RSA-AES256-GCM-SHA384",
                                          "ECDHE-RSA-AES128-GCM-SHA256", "TLS_AES_256_GCM_SHA384",
                                          "TLS_AES_128_GCM_SHA256"};
static const char *const langs[] = {"", "", "en", "en", "en", "de", "fr", "ja", "ru", "und", "pt"};
static const char *const agent_versions[] = {"8.21.0.1358", "8.19.0.1216", "8.20.1.1404"};
static const char *const url_hosts[] = {"www.example.com", "click.example.net", "t.example.org",
                                        "docs.example.io", "cdn.example.jp",    "bit.example"};

/* Per-event context shared by the sections of a message. */
typedef struct msgctx {
    rng r;
    const psim_timeline *tl;
    int profile;
    bool inbound;
    char from_addr[128];
    char from_display[160];
    char rcpt[3][128];
    int nrcpt;
    const uniq *u;
    char msgid_domain[96];
    char subject[256];
    char agent[64];
    char return_path[200];
    int64_t size;
    int subject_form; /* 0: raw UTF-8, 1: RFC 2047 Q, 2: RFC 2047 B */
    bool x_mailer;
    bool tracking_header;
} msgctx;

enum { P_INBOUND, P_OUTBOUND, P_SPAM, P_SYSTEM, P_BULK };

static void mk_addr(rng *r, const char *const *domains, uint32_t nd, char *out, size_t cap)
{
    sbuf b = {.n = 0};
    b.s[0] = '\0';
    sb_cat(&b, PICK(r, users));
    if (rchance(r, 0.3)) {
        sb_u(&b, rbelow(r, 100));
    }
    sb_cat(&b, "@");
    sb_cat(&b, domains[rbelow(r, nd)]);
    size_t n = b.n < cap - 1 ? b.n : cap - 1;
    memcpy(out, b.s, n);
    out[n] = '\0';
}

/* Fills a subject template: %n, %m, %q and %k are random numbers or ids, %h the
 * agent's short host name; any other '%' is literal. */
static void expand_subject(rng *r, const char *tpl, const char *host, char *out, size_t cap)
{
    sbuf b = {.n = 0};
    b.s[0] = '\0';
    for (const char *p = tpl; *p; p++) {
        if (*p == '%' && p[1] != '\0' && strchr("nmqkh", p[1]) != NULL) {
            p++;
            if (*p == 'h') {
                size_t hl = strcspn(host, ".");
                char hs[64];
                memcpy(hs, host, hl < sizeof hs ? hl : sizeof hs - 1);
                hs[hl < sizeof hs ? hl : sizeof hs - 1] = '\0';
                sb_cat(&b, hs);
                continue;
            }
            if (*p == 'n') {
                sb_u(&b, 100000 + rbelow(r, 900000));
            } else if (*p == 'm') {
                sb_u(&b, rbelow(r, 99999999));
            } else if (*p == 'q') {
                sb_u(&b, 1 + rbelow(r, 4));
            } else if (*p == 'k') {
                char k[33];
                rand_chars(r, k, 32, b64url, 62);
                sb_cat(&b, k);
            }
            continue;
        }
        char c[2] = {*p, 0};
        sb_cat(&b, c);
    }
    size_t n = b.n < cap - 1 ? b.n : cap - 1;
    memcpy(out, b.s, n);
    out[n] = '\0';
}

static void w_connection(jw *w, msgctx *m)
{
    rng *r = &m->r;
    char ip[48];
    char host[96];
    const char *country = PICK(r, countries);
    if (m->profile == P_SYSTEM) {
        memcpy(ip, "127.0.0.1", 10);
        memcpy(host, "localhost", 10);
        country = "**";
    } else {
        sbuf b = {.n = 0};
        b.s[0] = '\0';
        if (rchance(r, 0.1)) {
            sb_cat(&b, "2001:db8:");
            sb_u(&b, rbelow(r, 9999));
            sb_cat(&b, "::");
            sb_u(&b, 1 + rbelow(r, 999));
        } else {
            static const unsigned firsts[] = {89, 66, 203, 198, 185, 52, 40, 104, 216, 5};
            sb_u(&b, PICK(r, firsts));
            for (int k = 0; k < 3; k++) {
                sb_cat(&b, ".");
                sb_u(&b, rbelow(r, 256));
            }
        }
        memcpy(ip, b.s, b.n + 1);
        sb_set(&b, "");
        if (rchance(r, 0.08)) {
            sb_cat(&b, "[unknown]");
        } else {
            sb_cat(&b, "mta");
            sb_u(&b, rbelow(r, 400));
            sb_cat(&b, ".");
            sb_cat(&b, m->inbound ? PICK(r, ext_domains) : "ppops.net");
        }
        memcpy(host, b.s, b.n + 1);
    }
    jw_key(w, "connection");
    jw_obj(w);
    jw_kstr(w, "country", country);
    jw_kstr(w, "helo", m->profile == P_SYSTEM ? m->agent : host);
    jw_kstr(w, "host", host);
    jw_kstr(w, "ip", ip);
    jw_kstr(w, "protocol", rchance(r, 0.7) ? "smtp:smtp" : "smtp:esmtps");
    jw_kstr(w, "resolveStatus", host[0] == '[' ? "[unknown]" : "ok");
    jw_key(w, "sid");
    jw_uniq(w, m->u, U_SID);
    if (rchance(r, 0.5)) {
        const char *cipher = PICK(r, tls_ciphers);
        jw_key(w, "tls");
        jw_obj(w);
        jw_key(w, "inbound");
        jw_obj(w);
        jw_kstr(w, "cipher", cipher);
        jw_kint(w, "cipherBits", strstr(cipher, "128") ? 128 : 256);
        jw_kstr(w, "version", cipher[0] == 'T' ? "TLSv1.3" : "TLSv1.2");
        jw_end(w);
        jw_end(w);
    }
    jw_end(w);
}

static void w_rcpts(jw *w, const char *key, const msgctx *m)
{
    jw_key(w, key);
    jw_arr(w);
    for (int k = 0; k < m->nrcpt; k++) {
        jw_str(w, m->rcpt[k]);
    }
    jw_aend(w);
}

static void w_action(jw *w, const char *module, const char *rule, const char *action, bool final)
{
    jw_obj(w);
    jw_kstr(w, "action", action);
    if (final) {
        jw_key(w, "isFinal");
        jw_bool(w, true);
    }
    jw_kstr(w, "module", module);
    jw_kstr(w, "rule", rule);
    jw_end(w);
}

static void w_scores(jw *w, rng *r, int overall)
{
    static const char *const cls[] = {"adult", "bulk",   "impostor", "lowpriority", "malware",
                                      "mlx",   "mlxlog", "phish",    "spam",        "suspect"};
    jw_key(w, "scores");
    jw_obj(w);
    jw_key(w, "classifiers");
    jw_obj(w);
    for (size_t k = 0; k < sizeof cls / sizeof cls[0]; k++) {
        int v = 0;
        if (strcmp(cls[k], "mlxlog") == 0) {
            v = overall >= 90 ? -1000 : (int)rbelow(r, 900);
        } else if (strcmp(cls[k], "spam") == 0 || strcmp(cls[k], "mlx") == 0) {
            v = overall;
        } else if (rchance(r, 0.2)) {
            v = (int)rbelow(r, 10);
        }
        jw_kint(w, cls[k], v);
    }
    jw_end(w);
    jw_kint(w, "engine", overall);
    jw_kint(w, "overall", overall);
    jw_end(w);
}

static void w_filter(jw *w, msgctx *m)
{
    rng *r = &m->r;
    int overall = m->profile == P_SPAM ? 90 + (int)rbelow(r, 11) : (int)rbelow(r, 40);
    bool phish = m->profile == P_SPAM && rchance(r, 0.5);
    const char *disposition = "continue";
    if (m->profile == P_OUTBOUND || m->profile == P_SYSTEM) {
        disposition = rchance(r, 0.5) ? "accept" : "continue";
    } else if (m->profile == P_SPAM) {
        disposition = rchance(r, 0.6) ? "discard" : "reject";
    }
    jw_key(w, "filter");
    jw_obj(w);
    jw_key(w, "actions");
    jw_arr(w);
    if (m->profile == P_OUTBOUND || m->profile == P_SYSTEM) {
        w_action(w, "access", m->profile == P_SYSTEM ? "system" : "pod-maillive", "accept", true);
    } else {
        w_action(w, "av", "clean", "add-header", false);
        w_action(w, "av", "clean", "continue", m->profile != P_SPAM);
        if (m->profile == P_SPAM) {
            const char *rule = phish ? "phish" : "spam";
            w_action(w, "spam", rule, "add-header", false);
            w_action(w, "spam", rule, "quarantine", false);
            w_action(w, "spam", rule, disposition, true);
        } else {
            w_action(w, "spam", m->profile == P_BULK ? "bulk" : "notspam", "add-header", false);
        }
    }
    jw_aend(w);
    jw_key(w, "delivered");
    jw_obj(w);
    w_rcpts(w, "rcpts", m);
    jw_end(w);
    jw_kstr(w, "disposition", disposition);
    jw_key(w, "durationSecs");
    jw_micros(w, 20000 + (int64_t)rbelow(r, 600000));
    if (m->profile == P_SPAM) {
        jw_key(w, "isMsgInDigest");
        jw_bool(w, rchance(r, 0.5));
    }
    if (m->profile != P_SYSTEM && m->profile != P_OUTBOUND) {
        jw_key(w, "modules");
        jw_obj(w);
        if (rchance(r, 0.3)) {
            jw_key(w, "dmarc");
            jw_obj(w);
            jw_key(w, "authResults");
            jw_arr(w);
            jw_obj(w);
            jw_key(w, "emailIdentities");
            jw_obj(w);
            jw_kstr(w, "smtp.mailfrom", m->from_addr);
            jw_end(w);
            jw_kstr(w, "method", "spf");
            jw_kstr(w, "result", m->profile == P_SPAM ? "none" : "pass");
            jw_end(w);
            jw_obj(w);
            jw_kstr(w, "method", "dmarc");
            jw_kstr(w, "result", m->profile == P_SPAM ? "none" : "pass");
            jw_end(w);
            jw_aend(w);
            jw_kstr(w, "filterdResult", m->profile == P_SPAM ? "none" : "pass");
            jw_kstr(w, "srvid", "ppops.net");
            jw_end(w);
        }
        jw_key(w, "spam");
        jw_obj(w);
        jw_key(w, "langs");
        jw_arr(w);
        jw_str(w, "en");
        if (rchance(r, 0.4)) {
            static const char *const more[] = {"de", "fr", "ja", "pt", "es"};
            jw_str(w, PICK(r, more));
        }
        jw_aend(w);
        w_scores(w, r, overall);
        if (phish) {
            jw_kstr(w, "triggeredClassifier", "phish");
        }
        jw_key(w, "version");
        jw_obj(w);
        jw_kstr(w, "definitions", "main-2209120003");
        jw_kstr(w, "engine", "8.19.0-2204280000");
        jw_end(w);
        jw_end(w);
        if (rchance(r, 0.4)) {
            const char *at = strchr(m->from_addr, '@');
            jw_key(w, "spf");
            jw_obj(w);
            jw_kstr(w, "domain", at ? at + 1 : "example.net");
            jw_kstr(w, "result", m->profile == P_SPAM ? "softfail" : "pass");
            jw_end(w);
        }
        if (m->profile == P_BULK || m->profile == P_SPAM) {
            jw_key(w, "urldefense");
            jw_obj(w);
            jw_key(w, "counts");
            jw_obj(w);
            int total = 1 + (int)rbelow(r, 12);
            jw_kint(w, "rewritten", total);
            jw_kint(w, "total", total);
            jw_kint(w, "unique", 1 + total / 2);
            jw_end(w);
            jw_key(w, "version");
            jw_obj(w);
            jw_kstr(w, "engine", "15");
            jw_end(w);
            jw_end(w);
        }
        jw_end(w);
    }
    jw_kint(w, "msgSizeBytes", m->size - 24 - (int64_t)rbelow(r, 100));
    jw_key(w, "qid");
    jw_uniq(w, m->u, U_QID);
    if (m->profile == P_SPAM) {
        jw_key(w, "quarantine");
        jw_obj(w);
        jw_kstr(w, "folder", phish ? "Phish" : "Spam");
        jw_kstr(w, "folderId", phish ? "phish" : "spam");
        jw_kstr(w, "module", "spam");
        jw_kstr(w, "rule", phish ? "phish" : "spam");
        jw_kstr(w, "type", "quarantine");
        jw_end(w);
    }
    const char *dir = m->inbound ? (rchance(r, 0.1) ? "internal" : "inbound") : "outbound";
    jw_kstr(w, "routeDirection", dir);
    jw_key(w, "routes");
    jw_arr(w);
    jw_str(w, "allow_relay");
    if (m->inbound) {
        jw_str(w, "default_inbound");
    }
    jw_str(w, "firewallsafe");
    if (!m->inbound) {
        jw_str(w, "internalnet");
        jw_str(w, "outbound");
    }
    jw_aend(w);
    jw_key(w, "suborgs");
    jw_obj(w);
    jw_key(w, "rcpts");
    jw_arr(w);
    for (int k = 0; k < m->nrcpt; k++) {
        jw_istr(w, 0);
    }
    jw_aend(w);
    jw_key(w, "sender");
    jw_istr(w, 0);
    jw_end(w);
    jw_key(w, "verified");
    jw_obj(w);
    w_rcpts(w, "rcpts", m);
    jw_end(w);
    jw_end(w);
}

static void w_headers(jw *w, msgctx *m, bool normalized)
{
    jw_key(w, normalized ? "normalizedHeader" : "header");
    jw_obj(w);
    if (m->from_display[0]) {
        sbuf b = {.n = 0};
        b.s[0] = '\0';
        bool quote = strpbrk(m->from_display, ",()\"") != NULL;
        if (quote) {
            sb_cat(&b, "\"");
            for (const char *p = m->from_display; *p; p++) {
                char c[3] = {*p, 0, 0};
                if (*p == '"') {
                    c[0] = '\\';
                    c[1] = '"';
                }
                sb_cat(&b, c);
            }
            sb_cat(&b, "\" <");
        } else {
            sb_cat(&b, m->from_display);
            sb_cat(&b, " <");
        }
        sb_cat(&b, m->from_addr);
        sb_cat(&b, ">");
        jw_kstr1(w, "from", b.s);
    } else {
        jw_kstr1(w, "from", m->from_addr);
    }
    ustr id = {.n = 0, .nm = 0};
    id.s[0] = '\0';
    if (!normalized) {
        us_cat(&id, "<");
    }
    us_uniq(&id, m->u, U_MSGID);
    us_cat(&id, "@");
    us_cat(&id, m->msgid_domain);
    if (!normalized) {
        us_cat(&id, ">");
    }
    jw_key(w, "message-id");
    jw_arr(w);
    jw_ustr(w, &id);
    jw_aend(w);
    if (m->profile == P_BULK) {
        jw_kstr1(w, "reply-to", m->from_addr);
        jw_kstr1(w, "list-unsubscribe",
                 "<mailto:unsubscribe@lists.example.org?subject=unsubscribe>");
    }
    if (m->return_path[0]) {
        jw_kstr1(w, "return-path", m->return_path);
    }
    /* Encoded words only exist before normalisation; the feed's normalizedHeader
     * carries the decoded text. */
    if (!normalized && m->subject_form != 0 && !is_ascii(m->subject)) {
        sbuf enc;
        rfc2047(m->subject, m->subject_form == 1, &enc);
        jw_kstr1(w, "subject", enc.s);
    } else {
        jw_kstr1(w, "subject", m->subject);
    }
    w_rcpts(w, "to", m);
    if (m->x_mailer) {
        jw_kstr1(w, "x-mailer", m->profile == P_SYSTEM ? "cron" : "Microsoft Outlook 16.0");
    }
    if (m->tracking_header) {
        jw_key(w, "x-custom.tracking-id");
        jw_arr(w);
        jw_uniq(w, m->u, U_QID);
        jw_aend(w);
    }
    jw_end(w);
}

static void w_msg(jw *w, msgctx *m)
{
    rng *r = &m->r;
    jw_key(w, "msg");
    jw_obj(w);
    w_headers(w, m, false);
    jw_kstr(w, "lang", m->profile == P_SYSTEM ? "" : PICK(r, langs));
    w_headers(w, m, true);
    jw_key(w, "parsedAddresses");
    jw_obj(w);
    if (m->profile != P_SYSTEM && rchance(r, 0.5)) {
        jw_kstr1(w, "from", m->from_addr);
        if (m->from_display[0]) {
            jw_kstr1(w, "fromDisplayNames", m->from_display);
        }
        w_rcpts(w, "to", m);
    }
    jw_end(w);
    jw_kint(w, "sizeBytes", m->size);
    jw_end(w);
}

static void w_part(jw *w, msgctx *m, int idx, const char *mime, const char *name, size_t big)
{
    rng *r = &m->r;
    char md5[33];
    char sha[65];
    rand_chars(r, md5, 32, hexd, 16);
    rand_chars(r, sha, 64, hexd, 16);
    bool html = strcmp(mime, "text/html") == 0;
    bool text = strncmp(mime, "text/", 5) == 0;
    int64_t sz = big ? (int64_t)big * 3 / 4 : 200 + (int64_t)rbelow(r, 40000);
    jw_obj(w);
    if (big) {
        /* The feed carries some attachments whole; those make the frames over 1 MiB
         * that clients with a 1 MiB cap have lost. */
        jw_key(w, "dataBase64");
        jw_sep(w);
        JW_LIT(w, "\"");
        if (w->ok && psim_buf_reserve(w->b, big + 8)) {
            char *p = w->b->data + w->b->len;
            uint64_t v = rnext(r);
            for (size_t k = 0; k < big; k++) {
                if ((k & 7) == 0) {
                    v = v * 6364136223846793005ULL + 1442695040888963407ULL;
                }
                p[k] = b64std[(v >> (58 - (k & 7) * 6)) & 63];
            }
            w->b->len += big;
        } else {
            w->ok = false;
        }
        JW_LIT(w, "\"");
    }
    jw_kstr(w, "detectedCharset", text ? "UTF-8" : "");
    jw_kstr(w, "detectedExt", html ? "HTML" : text ? "TXT" : strchr(name, '.') + 1);
    jw_kstr(w, "detectedMime", mime);
    jw_kstr(w, "detectedName", name);
    jw_kint(w, "detectedSizeBytes", sz);
    jw_kstr(w, "disposition", text ? "inline" : "attached");
    jw_key(w, "isArchive");
    jw_bool(w, strstr(name, ".zip") != NULL);
    jw_key(w, "isCorrupted");
    jw_bool(w, false);
    jw_key(w, "isDeleted");
    jw_bool(w, false);
    jw_key(w, "isProtected");
    jw_bool(w, false);
    jw_key(w, "isTimedOut");
    jw_bool(w, false);
    jw_key(w, "isVirtual");
    jw_bool(w, false);
    jw_kstr(w, "labeledCharset", text ? "utf-8" : "");
    jw_kstr(w, "labeledExt", strchr(name, '.') + 1);
    jw_kstr(w, "labeledMime", mime);
    jw_kstr(w, "labeledName", name);
    jw_kstr(w, "md5", md5);
    jw_key(w, "metadata");
    jw_obj(w);
    if (strstr(name, ".pdf")) {
        jw_kstr(w, "Page Count", "2");
        jw_kstr(w, "pdf.version", "1.7");
        jw_kstr(w, "xmp:CreatorTool", "Microsoft® Word for Microsoft 365");
    }
    jw_end(w);
    jw_kstr(w, "sha256", sha);
    jw_kint(w, "sizeDecodedBytes", sz);
    char sid[8] = {(char)('0' + idx), 0};
    jw_kstr(w, "structureId", sid);
    if (text && rchance(r, 0.3)) {
        jw_kstr(w, "textExtracted", "Dear customer, please find the details below. Regards");
    }
    if (html) {
        jw_key(w, "urls");
        jw_arr(w);
        int n = 1 + (int)rbelow(r, 4);
        for (int k = 0; k < n; k++) {
            sbuf u = {.n = 0};
            u.s[0] = '\0';
            sb_cat(&u, "https://");
            sb_cat(&u, PICK(r, url_hosts));
            sb_cat(&u, "/l?u=");
            sb_u(&u, rnext(r) % 1000000000);
            sb_cat(&u, "&c=");
            sb_u(&u, rbelow(r, 100000));
            jw_obj(w);
            jw_key(w, "src");
            jw_arr(w);
            jw_str(w, "filter");
            jw_aend(w);
            jw_kstr(w, "url", u.s);
            jw_end(w);
        }
        jw_aend(w);
    }
    jw_end(w);
}

/* The mail that message shape `shape` of tl describes: who sends it to whom, its
 * message-id domain, subject and size. With `full` false only m->nrcpt is set (what
 * a maillog group needs to lay out its lines, cheaply). After a full run m->r is
 * where the rest of the message continues drawing. */
static void msg_prepare(msgctx *m, const psim_timeline *tl, uint64_t shape, bool full)
{
    if (full) {
        memset(m, 0, sizeof *m);
        sbuf a = {.n = 0};
        a.s[0] = '\0';
        sb_cat(&a, "m0");
        sb_u(&a, 100000 + (tl->stream_hash >> 40) % 900000);
        sb_cat(&a, ".ppops.net");
        memcpy(m->agent, a.s, a.n + 1);
    }
    m->tl = tl;
    m->r.s = ev_hash(tl, shape, H_BODY);
    rng *r = &m->r;
    uint32_t pr = rbelow(r, 100);
    m->profile = pr < 30   ? P_INBOUND
                 : pr < 65 ? P_OUTBOUND
                 : pr < 72 ? P_SPAM
                 : pr < 85 ? P_SYSTEM
                           : P_BULK;
    m->inbound = m->profile == P_INBOUND || m->profile == P_SPAM || m->profile == P_BULK;
    size_t ntd = sizeof tenant_domains / sizeof tenant_domains[0];
    size_t ned = sizeof ext_domains / sizeof ext_domains[0];
    if (m->profile == P_SYSTEM) {
        m->nrcpt = 1;
        if (!full) {
            return;
        }
        snprintf(m->from_addr, sizeof m->from_addr, "pps@%s", m->agent);
        memcpy(m->from_display, "(Cron Daemon)", 14);
        memcpy(m->rcpt[0], m->from_addr, sizeof m->from_addr);
    } else {
        mk_addr(r, m->inbound ? ext_domains : tenant_domains, (uint32_t)(m->inbound ? ned : ntd),
                m->from_addr, sizeof m->from_addr);
        if (rchance(r, 0.6)) {
            const char *dn = PICK(r, display_names);
            memcpy(m->from_display, dn, strlen(dn) + 1);
        }
        m->nrcpt = 1 + (rchance(r, 0.3) ? 1 + (int)rbelow(r, 2) : 0);
        if (!full) {
            return;
        }
        for (int k = 0; k < m->nrcpt; k++) {
            mk_addr(r, m->inbound ? tenant_domains : ext_domains,
                    (uint32_t)(m->inbound ? ntd : ned), m->rcpt[k], sizeof m->rcpt[k]);
        }
    }
    const char *at = strchr(m->from_addr, '@');
    snprintf(m->msgid_domain, sizeof m->msgid_domain, "%s", at ? at + 1 : "example.net");
    /* subjects[10] is the cron mail's; people do not write it. */
    size_t nsubj = sizeof subjects / sizeof subjects[0];
    size_t si = 10;
    if (m->profile != P_SYSTEM) {
        si = rbelow(r, (uint32_t)nsubj - 1);
        si += si >= 10;
    }
    expand_subject(r, subjects[si], m->agent, m->subject, sizeof m->subject);
    m->size = 800 + (int64_t)rbelow(r, 60000);
    m->subject_form = (int)rbelow(r, 3);
    m->x_mailer = m->profile == P_SYSTEM || rchance(r, 0.4);
    m->tracking_header = rchance(r, 0.15);
    if (m->inbound) {
        snprintf(m->return_path, sizeof m->return_path, "<bounces+%u@%s>", rbelow(r, 9999999),
                 at ? at + 1 : "example.net");
    }
}

static void gen_message(jw *w, const psim_timeline *tl, uint64_t shape, bool big, size_t pad_to,
                        const uniq *u)
{
    msgctx m;
    msg_prepare(&m, tl, shape, true);
    m.u = u;
    rng *r = &m.r;

    /* Which msgParts this event has: decided before writing so sizes agree. */
    size_t big_bytes = big ? tl->big_bytes : 0;
    int nparts = 0;
    if (m.profile == P_BULK) {
        nparts = 1;
    } else if (m.profile == P_INBOUND && rchance(r, 0.15)) {
        nparts = 1 + (rchance(r, 0.3) ? 1 : 0);
    }
    size_t start = w->b->len;

    jw_obj(w);
    w_connection(w, &m);
    jw_key(w, "envelope");
    jw_obj(w);
    jw_kstr(w, "from", m.from_addr);
    w_rcpts(w, "rcpts", &m);
    jw_end(w);
    w_filter(w, &m);
    jw_key(w, "guid");
    jw_uniq(w, u, U_KEY);
    jw_key(w, "metadata");
    jw_obj(w);
    jw_key(w, "origin");
    jw_obj(w);
    jw_key(w, "data");
    jw_obj(w);
    jw_kstr(w, "agent", m.agent);
    jw_kstr(w, "cid", tl->cluster);
    jw_kstr(w, "version", agent_versions[tl->stream_hash % 3]);
    jw_end(w);
    jw_end(w);
    jw_end(w);
    w_msg(w, &m);
    jw_key(w, "msgParts");
    jw_arr(w);
    for (int k = 0; k < nparts; k++) {
        if (m.profile == P_BULK && k == 0) {
            w_part(w, &m, k, "text/html", "text.html", 0);
        } else if (k == 0) {
            w_part(w, &m, k, "text/plain", "text.txt", 0);
        } else {
            w_part(w, &m, k, "application/pdf", "Invoice 2024-03.pdf", 0);
        }
    }
    if (big_bytes) {
        w_part(w, &m, nparts, "application/zip", "archive.zip", big_bytes);
    }
    size_t so_far = w->b->len - start + 48;
    if (pad_to > so_far) {
        w_part(w, &m, nparts + 1, "application/octet-stream", "padding.bin", pad_to - so_far);
    }
    jw_aend(w);
    jw_key(w, "ts");
    jw_uniq(w, u, U_TS);
    jw_end(w);
}

/* ---- maillog: the sendmail lines of the message stream's mails ------------------ */

/* The maillog timeline is cut into groups of ML_GROUP lines. Group k >= 1 carries
 * the lines of mails from the message events in the message timeline's slots
 * [(k - 1) * ML_GROUP, k * ML_GROUP): a mail with n recipients takes 1 + n lines (its
 * `from=` line, then one `to=` line per recipient, in that order), and the group
 * takes the earliest of those mails whose lines fill it exactly; the others have no
 * maillog lines. When no choice fills it (rare), the last mail takes the lines left
 * over as delivery retries. Every occurrence slot of group k comes after every slot
 * of its message window, so a line is logged 1 to 2 * ML_GROUP - 1 intervals after
 * its message occurred; ts differ by that plus each stream's own disorder lag.
 * Group 0 has no earlier window: it takes the mails of slots [0, ML_GROUP) that
 * group 1 leaves (there are always some), so its lines may precede their messages.
 * No message has lines in two groups. */
#define ML_GROUP ((unsigned)PSIM_MAILLOG_GROUP)

/* Pool slots per message shape: the roles 0-3 of a mail without retries. Mails with
 * retries (rare) are not cached. */
#define ML_SLOTS 4U

typedef struct ml_mail {
    uint64_t msg;   /* message index */
    uint32_t shape; /* the message's shape */
    uint8_t first;  /* its first line's position in the group */
    uint8_t nlines;
    uint8_t nrcpt;
} ml_mail;

typedef struct ml_group {
    uint64_t group;
    bool valid;
    int nmail;
    ml_mail mail[ML_GROUP];
} ml_group;

/* What one maillog line is: everything but its unique values follows from
 * (shape, nrcpt, role, extra). */
typedef struct ml_line {
    const psim_timeline *mt; /* the message stream */
    uint64_t msg;
    uint32_t shape;
    uint8_t nrcpt;
    uint8_t role;  /* 0: the from= line; r >= 1: delivery attempt r - 1 */
    uint8_t extra; /* the mail's delivery attempts beyond one per recipient */
} ml_line;

/* nrcpt_cache (may be NULL): one byte per message shape, 0 until known. */
static unsigned msg_nrcpt(const psim_timeline *mt, uint32_t shape, uint8_t *nrcpt_cache)
{
    if (nrcpt_cache != NULL && nrcpt_cache[shape] != 0) {
        return nrcpt_cache[shape];
    }
    msgctx m;
    msg_prepare(&m, mt, shape, false);
    if (nrcpt_cache != NULL) {
        nrcpt_cache[shape] = (uint8_t)m.nrcpt;
    }
    return (unsigned)m.nrcpt;
}

static void ml_group_of(const psim_timeline *mt, uint64_t k, uint8_t *nrcpt_cache, ml_group *g)
{
    uint64_t lo = k > 0 ? (k - 1) * ML_GROUP : 0;
    uint64_t hi = lo + ML_GROUP;
    unsigned taken = 0; /* bit t: message lo + t belongs to group 1 */
    if (k == 0 && mt->count > ML_GROUP) {
        /* Group 1 places at most ML_GROUP / 2 mails, so at least as many remain. */
        ml_group_of(mt, 1, nrcpt_cache, g);
        for (int j = 0; j < g->nmail; j++) {
            taken |= 1U << g->mail[j].msg;
        }
    }
    /* A bounded timeline's first group only has the messages that exist. */
    if (hi > mt->count && mt->count > lo) {
        hi = mt->count;
    }
    ml_mail cand[ML_GROUP];
    unsigned nc = 0;
    for (uint64_t n = lo; n < hi; n++) {
        if ((taken & (1U << (n - lo))) == 0) {
            cand[nc].msg = n;
            cand[nc].shape = (uint32_t)shape_of(mt, n);
            cand[nc].nrcpt = (uint8_t)msg_nrcpt(mt, cand[nc].shape, nrcpt_cache);
            nc++;
        }
    }
    if (nc == 0) { /* not reached: kept so that a group always has a mail */
        cand[0].msg = lo;
        cand[0].shape = (uint32_t)shape_of(mt, lo);
        cand[0].nrcpt = (uint8_t)msg_nrcpt(mt, cand[0].shape, nrcpt_cache);
        nc = 1;
    }
    /* reach[t], bit r: some of candidates t.. fill exactly r lines. The group takes
     * the earliest candidates that fill it exactly (no mail is one line long, so a
     * greedy fill would often leave a gap), or as much as any choice can fill. */
    unsigned reach[ML_GROUP + 1];
    const unsigned all = (1U << (ML_GROUP + 1)) - 1;
    reach[nc] = 1;
    for (unsigned t = nc; t-- > 0;) {
        reach[t] = (reach[t + 1] | reach[t + 1] << (1 + cand[t].nrcpt)) & all;
    }
    unsigned target = ML_GROUP;
    while (((reach[0] >> target) & 1) == 0) {
        target--;
    }
    g->group = k;
    g->valid = true;
    g->nmail = 0;
    unsigned used = 0;
    for (unsigned t = 0; t < nc && used < target; t++) {
        unsigned len = 1U + cand[t].nrcpt;
        if (used + len <= target && ((reach[t + 1] >> (target - used - len)) & 1) != 0) {
            ml_mail *mm = &g->mail[g->nmail++];
            *mm = cand[t];
            mm->first = (uint8_t)used;
            mm->nlines = (uint8_t)len;
            used += len;
        }
    }
    g->mail[g->nmail - 1].nlines += (uint8_t)(ML_GROUP - used);
}

/* Maillog line i of tl's cluster; `cache` (may be NULL) keeps the last group. */
static void ml_line_of(const psim_timeline *mt, uint64_t i, uint8_t *nrcpt_cache, ml_group *cache,
                       ml_line *out)
{
    ml_group local = {.valid = false};
    ml_group *g = cache != NULL ? cache : &local;
    uint64_t k = i / ML_GROUP;
    if (cache == NULL || !cache->valid || cache->group != k) {
        ml_group_of(mt, k, nrcpt_cache, g);
    }
    unsigned pos = (unsigned)(i % ML_GROUP);
    int j = g->nmail - 1;
    while (j > 0 && g->mail[j].first > pos) {
        j--;
    }
    const ml_mail *mm = &g->mail[j];
    out->mt = mt;
    out->msg = mm->msg;
    out->shape = mm->shape;
    out->nrcpt = mm->nrcpt;
    out->role = (uint8_t)(pos - mm->first);
    out->extra = (uint8_t)(mm->nlines - 1 - mm->nrcpt);
}

/* How one delivery attempt ended, or which kind of delivery it was. */
enum { D_SENT, D_DEFERRED, D_BOUNCED, D_DISCARD, D_LOCAL, D_OLDFILE };

/* Per recipient: decided once per mail so that every line of the mail agrees. */
typedef struct ml_rcpt {
    int kind;
    const char *mailer;
    char relay[128];
    const char *tlsv;
} ml_rcpt;

static void gen_maillog(jw *w, const psim_timeline *tl, const ml_line *ml, size_t pad_to,
                        const uniq *u)
{
    msgctx m;
    msg_prepare(&m, ml->mt, ml->shape, true);
    /* The mail's facts come from its message shape, the line's details from its role,
     * so that a pool slot (shape, role, extra) holds one line. */
    rng rr = {ev_hash(tl, ml->shape, H_BODY)};
    rng *r = &rr;
    rng lr = {ev_hash(tl, ((uint64_t)ml->shape * 16 + ml->role) * 8 + ml->extra, H_LINE)};
    char host[64];
    size_t hl = strcspn(m.agent, ".");
    memcpy(host, m.agent, hl);
    host[hl] = '\0';
    const char *from_domain = m.msgid_domain;
    /* Older agents log in the shape of the first maillog sample: no metadata, local
     * *file* deliveries, a numeric pri. */
    bool old_shape = rchance(r, 0.08);
    static const unsigned firsts[] = {216, 89, 66, 203, 198};
    char client[160];
    if (m.profile == P_SYSTEM) {
        snprintf(client, sizeof client, "localhost [127.0.0.1]");
    } else if (m.inbound) {
        snprintf(client, sizeof client, "mta%u.%s [%u.%u.%u.%u]", rbelow(r, 400), from_domain,
                 PICK(r, firsts), rbelow(r, 256), rbelow(r, 256), rbelow(r, 256));
    } else {
        snprintf(client, sizeof client, "smtp%u.%s [10.%u.%u.%u]", rbelow(r, 9), from_domain,
                 rbelow(r, 256), rbelow(r, 256), 1 + rbelow(r, 254));
    }
    const char *in_tls = m.profile != P_SYSTEM && rchance(r, 0.8) ? "TLSv1.2" : "NONE";
    ml_rcpt rc[3];
    for (int k = 0; k < 3; k++) {
        uint32_t roll = rbelow(r, 100);
        const char *dom = strchr(m.rcpt[k], '@') ? strchr(m.rcpt[k], '@') + 1 : "example.net";
        rc[k].mailer = rchance(r, 0.5) ? "esmtp" : "relay";
        snprintf(rc[k].relay, sizeof rc[k].relay, "mx%u.%s. [%u.%u.%u.%u]", rbelow(r, 9), dom,
                 PICK(r, firsts), rbelow(r, 256), rbelow(r, 256), rbelow(r, 256));
        rc[k].tlsv = rchance(r, 0.8) ? "TLSv1.2" : "NONE";
        rc[k].kind = old_shape               ? D_OLDFILE
                     : m.profile == P_SPAM   ? D_DISCARD
                     : m.profile == P_SYSTEM ? D_LOCAL
                     : roll < 5              ? D_DEFERRED
                     : roll < 10             ? D_BOUNCED
                                             : D_SENT;
    }
    bool from_line = ml->role == 0;
    int nr = ml->nrcpt > 0 && ml->nrcpt <= 3 ? ml->nrcpt : 1;
    int attempt = 0;
    int k = 0;
    int kind = D_SENT;
    bool retried = false; /* an attempt that a later line of the mail repeats */
    if (!from_line) {
        /* Attempts go round the recipients; one with several attempts is deferred
         * until its last, which ends as its first would have (or delivers). */
        int t = ml->role - 1;
        int total = nr + ml->extra;
        k = t % nr;
        attempt = t / nr;
        int attempts = (total - k + nr - 1) / nr;
        kind = rc[k].kind;
        if (attempts > 1 && attempt < attempts - 1) {
            retried = true;
        } else if (attempts > 1 && kind == D_DEFERRED) {
            kind = D_SENT;
        }
    }
    const char *rcpt = m.rcpt[k];
    const char *rdom = strchr(rcpt, '@') ? strchr(rcpt, '@') + 1 : "example.net";
    bool file_like = kind == D_DISCARD || kind == D_LOCAL || kind == D_OLDFILE;
    const char *tlsv = from_line ? in_tls : file_like ? "NONE" : rc[k].tlsv;
    const char *cipher = tlsv[0] == 'T' ? "ECDHE-RSA-AES256-GCM" : "NONE";
    const char *verify = tlsv[0] == 'T' ? "OK" : "NONE";
    char stat[160];
    const char *dsn = "2.0.0";
    if (retried && kind == D_LOCAL) {
        snprintf(stat, sizeof stat,
                 "Deferred: local mailer (/usr/bin/procmail) exited with EX_TEMPFAIL");
        dsn = "4.0.0";
    } else if (retried && file_like) {
        snprintf(stat, sizeof stat, "Deferred: Resource temporarily unavailable");
        dsn = "4.3.0";
    } else if (retried || kind == D_DEFERRED) {
        kind = D_DEFERRED;
        snprintf(stat, sizeof stat, "Deferred: Connection timed out with mx%u.%s.", rbelow(&lr, 9),
                 rdom);
        dsn = "4.4.1";
    } else if (kind == D_BOUNCED) {
        snprintf(stat, sizeof stat, "User unknown");
        dsn = "5.1.1";
    } else {
        snprintf(stat, sizeof stat, "%s", file_like ? "Sent" : "Sent (Ok: queued)");
    }
    const char *mailer = kind == D_LOCAL ? "local" : file_like ? "*file*" : rc[k].mailer;
    /* sendmail's queue priority: the size, a share per recipient, and more for every
     * attempt. */
    int64_t pri = m.size + 30000 * (int64_t)nr + 90000 * (int64_t)attempt;
    char ctladdr[160];
    snprintf(ctladdr, sizeof ctladdr, "<%s> (8/0)", m.from_addr);
    char delay[16];
    char xdelay[16];
    unsigned dl = attempt * 30 + rbelow(&lr, retried || kind == D_DEFERRED ? 30 : 3);
    unsigned xdl = rbelow(&lr, dl % 60 + 1);
    snprintf(delay, sizeof delay, "%02u:%02u:%02u", dl / 3600 % 100, dl / 60 % 60, dl % 60);
    snprintf(xdelay, sizeof xdelay, "00:00:%02u", xdl % 60);
    char to[140];
    if (kind == D_DISCARD) {
        snprintf(to, sizeof to, "/dev/null");
    } else if (kind == D_OLDFILE) {
        snprintf(to, sizeof to, "%s", rcpt);
    } else {
        snprintf(to, sizeof to, "<%s>", rcpt);
    }

    /* The raw log line always carries the -07:00 offset form, whatever `ts` uses. */
    ustr data = {.n = 0, .nm = 0};
    data.s[0] = '\0';
    us_uniq(&data, u, U_DTS);
    us_printf(&data, " %s sendmail[", host);
    us_uniq(&data, u, U_PID);
    us_cat(&data, "]: ");
    us_uniq(&data, u, U_QID);
    ustr msgid = {.n = 0, .nm = 0};
    msgid.s[0] = '\0';
    us_cat(&msgid, "<");
    us_uniq(&msgid, u, U_MSGID);
    us_printf(&msgid, "@%s>", from_domain);
    if (from_line) {
        us_printf(&data, ": from=<%s>, size=%lld, class=0, nrcpts=%d, msgid=<", m.from_addr,
                  (long long)m.size, nr);
        us_uniq(&data, u, U_MSGID);
        us_printf(&data,
                  "@%s>, proto=ESMTP, daemon=MTA, tls_verify=%s, tls_version=%s, cipher=%s, "
                  "auth=NONE, relay=%s",
                  from_domain, verify, tlsv, cipher, client);
    } else if (file_like) {
        us_printf(&data,
                  ": to=%s, ctladdr=%s, delay=%s, xdelay=%s, mailer=%s, tls_verify=NONE, "
                  "tls_version=NONE, cipher=NONE, pri=%lld, dsn=%s, stat=%s",
                  to, ctladdr, delay, xdelay, mailer, (long long)pri, dsn, stat);
    } else {
        us_printf(&data,
                  ": to=%s, delay=%s, xdelay=%s, mailer=%s, tls_verify=%s, tls_version=%s, "
                  "cipher=%s, pri=%lld, relay=%s, dsn=%s, stat=%s",
                  to, delay, xdelay, mailer, verify, tlsv, cipher, (long long)pri, rc[k].relay, dsn,
                  stat);
    }
    char cust[40];
    uint64_t c1 = mix64(tl->stream_hash ^ 77);
    snprintf(cust, sizeof cust, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(c1 >> 32),
             (unsigned)(c1 >> 16) & 0xffff, (unsigned)c1 & 0xfff,
             0x8000 | ((unsigned)(c1 >> 48) & 0x3fff),
             (unsigned long long)(mix64(c1) & 0xffffffffffffULL));

    jw_obj(w);
    if (pad_to > 0) {
        /* A long relay line; no real maillog is this big, but a frame-size fault
         * must be able to hit any stream. */
        jw_key(w, "data");
        jw_sep(w);
        JW_LIT(w, "\"");
        jw_raw(w, data.s, data.n);
        JW_LIT(w, " comment=");
        if (w->ok && psim_buf_reserve(w->b, pad_to)) {
            memset(w->b->data + w->b->len, 'x', pad_to);
            w->b->len += pad_to;
        }
        JW_LIT(w, "\"");
        w->cacheable = false;
    } else {
        jw_key(w, "data");
        jw_ustr(w, &data);
    }
    jw_key(w, "id");
    jw_uniq(w, u, U_KEY);
    if (!old_shape) {
        jw_key(w, "metadata");
        jw_obj(w);
        jw_kstr(w, "customerId", cust);
        jw_key(w, "origin");
        jw_obj(w);
        jw_key(w, "data");
        jw_obj(w);
        jw_kstr(w, "agent", m.agent);
        jw_kstr(w, "cid", tl->cluster);
        jw_end(w);
        jw_kstr(w, "schemaVersion", "20200420");
        jw_end(w);
        jw_end(w);
    }
    jw_key(w, "pps");
    jw_obj(w);
    jw_kstr(w, "agent", m.agent);
    jw_kstr(w, "cid", tl->cluster);
    jw_end(w);
    jw_key(w, "sm");
    jw_obj(w);
    if (from_line) {
        jw_kstr(w, "auth", "NONE");
        jw_key(w, "class");
        jw_istr(w, 0);
        jw_kstr(w, "daemon", "MTA");
        char f[140];
        snprintf(f, sizeof f, "<%s>", m.from_addr);
        jw_kstr(w, "from", f);
        jw_key(w, "msgid");
        jw_ustr(w, &msgid);
        jw_key(w, "nrcpts");
        jw_istr(w, nr);
        jw_kstr(w, "proto", "ESMTP");
        jw_key(w, "qid");
        jw_uniq(w, u, U_QID);
        jw_kstr(w, "relay", client);
        jw_key(w, "sizeBytes");
        jw_istr(w, m.size);
    } else {
        if (file_like) {
            jw_kstr(w, "ctladdr", ctladdr);
        }
        jw_kstr(w, "delay", delay);
        jw_kstr(w, "dsn", dsn);
        jw_kstr(w, "mailer", mailer);
        jw_key(w, "pri");
        if (old_shape) {
            jw_i64(w, pri);
        } else {
            jw_istr(w, pri);
        }
        jw_key(w, "qid");
        jw_uniq(w, u, U_QID);
        if (!file_like) {
            jw_kstr(w, "relay", rc[k].relay);
        }
        jw_kstr(w, "stat", stat);
        if (old_shape) {
            jw_key(w, "tls");
            jw_obj(w);
            jw_kstr(w, "verify", "NONE");
            jw_end(w);
        }
        jw_kstr1(w, "to", to);
        jw_kstr(w, "xdelay", xdelay);
    }
    jw_end(w);
    if (!old_shape) {
        jw_key(w, "tls");
        jw_obj(w);
        jw_kstr(w, "cipher", cipher);
        jw_kstr(w, "verify", verify);
        jw_kstr(w, "version", tlsv);
        jw_end(w);
    }
    jw_key(w, "ts");
    jw_uniq(w, u, U_TS);
    jw_end(w);
}

/* Audit: the shape of POD's admin audit events as Elastic's proofpoint_on_demand
 * integration documents them (its audit fields.yml): audit{action, level,
 * resourceName, resourceType, tags[{name, value}], user{email, id, ipAddress,
 * roles_assigned}}, guid, metadata{customerId, origin{data{agent, cid, version},
 * schemaVersion, type}, trace{id, ts}}, service{cid, customer_id, id,
 * ip_address}, ts. The scenarios and values below are podsim's own. The tag
 * `<action>.<eventSubCategory>` carries "true"; podsim sends "false" for a
 * share of them (an inference: every public sample says "true"). */
typedef struct audit_kind {
    const char *action, *rtype, *sub;
    const char *name; /* the resource's name prefix (a number follows); NULL: none */
    const char *details;
} audit_kind;

static const audit_kind audit_kinds[] = {
    {"login", "authorization", "authorization", NULL, ""},
    {"logout", "authorization", "authorization", NULL, ""},
    {"create", "config", "threatProtectionApiKeys", "tap-key-", "API key created:"},
    {"delete", "config", "threatProtectionApiKeys", "tap-key-", "API key revoked:"},
    {"create", "policy_routes", "policyRoutes", "route_", "Policy route added:"},
    {"edit", "spam_module", "spamDetection.policies", "spam-policy-", "Spam policy changed:"},
    {"execute", "smart_search", "search", NULL, "Smart search run"},
    {"read", "quarantine", "quarantine.folders", "Phish-", "Folder opened:"},
};

static void audit_ip(rng *r, char *buf, size_t len)
{
    snprintf(buf, len, "198.51.100.%u", 1 + rbelow(r, 254));
}

static void audit_uuid(rng *r, char *out)
{
    static const int dash[] = {8, 13, 18, 23};
    rand_chars(r, out, 36, hexd, 16);
    for (int k = 0; k < 4; k++)
        out[dash[k]] = '-';
    out[14] = '4';
    out[36] = '\0';
}

static void audit_tags(jw *w, const audit_kind *k, const char *details, bool ok)
{
    char name[96];
    jw_key(w, "tags");
    jw_open(w, '[');
    jw_obj(w);
    jw_kstr(w, "name", "eventSubCategory");
    jw_kstr(w, "value", k->sub);
    jw_end(w);
    jw_obj(w);
    jw_kstr(w, "name", "eventDetails");
    jw_kstr(w, "value", details);
    jw_end(w);
    snprintf(name, sizeof name, "%s.%s", k->action, k->sub);
    jw_obj(w);
    jw_kstr(w, "name", name);
    jw_kstr(w, "value", ok ? "true" : "false");
    jw_end(w);
    jw_close(w, ']');
}

static void audit_user(jw *w, rng *r)
{
    static const char *const admins[] = {"admin@example.com", "sec-ops@example.com",
                                         "j.doe@example.org", "tanaka.k@example.co.jp"};
    char id[40], ip[48];
    audit_uuid(r, id);
    audit_ip(r, ip, sizeof ip);
    jw_key(w, "user");
    jw_obj(w);
    jw_kstr(w, "email", PICK(r, admins));
    jw_kstr(w, "id", id);
    jw_kstr(w, "ipAddress", ip);
    if (rchance(r, 0.3))
        jw_kstr(w, "roles_assigned", rchance(r, 0.5) ? "organization_admin" : "channel_admin");
    jw_end(w);
}

static void audit_metadata(jw *w, const psim_timeline *tl, rng *r, const uniq *u)
{
    char id[40], ip[48];
    audit_uuid(r, id);
    audit_ip(r, ip, sizeof ip);
    jw_key(w, "metadata");
    jw_obj(w);
    jw_kstr(w, "customerId", id);
    jw_key(w, "origin");
    jw_obj(w);
    jw_key(w, "data");
    jw_obj(w);
    jw_kstr(w, "agent", ip);
    jw_kstr(w, "cid", tl->cluster);
    jw_kstr(w, "version", "1.0");
    jw_end(w);
    jw_kstr(w, "schemaVersion", "1.0");
    jw_kstr(w, "type", "cadmin-api-gateway");
    jw_end(w);
    if (rchance(r, 0.2)) {
        audit_uuid(r, id);
        jw_key(w, "trace");
        jw_obj(w);
        jw_kstr(w, "id", id);
        jw_key(w, "ts");
        jw_uniq(w, u, U_TS);
        jw_end(w);
    }
    jw_end(w);
}

static void gen_audit(jw *w, const psim_timeline *tl, uint64_t shape, size_t pad_to, const uniq *u)
{
    rng rr = {ev_hash(tl, shape, H_BODY)};
    rng *r = &rr;
    const audit_kind *k = &PICK(r, audit_kinds);
    bool ok = !rchance(r, 0.05);
    unsigned n = rbelow(r, 100);
    char rname[64] = "", details[160];
    if (k->name)
        snprintf(rname, sizeof rname, "%s%u", k->name, n);
    snprintf(details, sizeof details, "%s%s%s", k->details, rname[0] ? " " : "", rname);
    jw_obj(w);
    jw_key(w, "audit");
    jw_obj(w);
    jw_kstr(w, "action", k->action);
    jw_kstr(w, "level", ok ? "INFO" : "WARN");
    if (rname[0])
        jw_kstr(w, "resourceName", rname);
    jw_kstr(w, "resourceType", k->rtype);
    if (pad_to > 0) {
        /* An oversized event (fault/oversize): the details carry the bulk. */
        char *pad = malloc(pad_to + 1);
        w->cacheable = false;
        if (pad != NULL) {
            memset(pad, 'a', pad_to);
            pad[pad_to] = '\0';
            audit_tags(w, k, pad, ok);
            free(pad);
        } else {
            w->ok = false;
        }
    } else {
        audit_tags(w, k, details, ok);
    }
    audit_user(w, r);
    jw_end(w);
    jw_key(w, "guid");
    jw_uniq(w, u, U_KEY);
    audit_metadata(w, tl, r, u);
    if (rchance(r, 0.1)) {
        /* Actions of an IDM service rather than a person. */
        char id[40], ip[48];
        audit_uuid(r, id);
        audit_ip(r, ip, sizeof ip);
        jw_key(w, "service");
        jw_obj(w);
        jw_kstr(w, "cid", tl->cluster);
        jw_kstr(w, "customer_id", id);
        jw_kstr(w, "id", "svc-audit-export");
        jw_kstr(w, "ip_address", ip);
        jw_end(w);
    }
    jw_key(w, "ts");
    jw_uniq(w, u, U_TS);
    jw_end(w);
}

/* ---- public entry points ------------------------------------------------------ */

/* Whether event i's `ts` uses the "-07:00" form, and the offset it is shown in. */
static bool ts_form(const psim_timeline *tl, uint64_t i, int *off)
{
    uint64_t form = ev_hash(tl, shape_of(tl, i), H_FORM);
    *off = tl->tz_offset_min;
    if (tl->type == PSIM_AUDIT) {
        /* "2023-10-25T21:49:38.968838+0000", as in the public samples. */
        *off = 0;
        return false;
    }
    /* Both forms occur in the feed; -0700 is the common one. */
    if ((form >> 20) % 100 < 5) {
        *off = 0;
    }
    return (form % 100) < (tl->type == PSIM_MAILLOG ? 30U : 10U);
}

/* The width of event i's `ts` ("2024-05-22T12:10:03.058340-0700" or "...-07:00"). */
static uint8_t ts_width(const psim_timeline *tl, uint64_t i)
{
    int off;
    return ts_form(tl, i, &off) ? 32 : 31;
}

void psim_event_key(const psim_timeline *tl, uint64_t i, psim_event_info *info)
{
    rng r = {ev_hash(tl, i, H_KEY)};
    if (tl->type == PSIM_MESSAGE) {
        rand_chars(&r, info->key, 32, b64url, 64);
    } else if (tl->type == PSIM_MAILLOG) {
        rand_chars(&r, info->key, 22, b64std, 64);
    } else {
        /* UUID-shaped audit ids. */
        static const int dash[] = {8, 13, 18, 23};
        rand_chars(&r, info->key, 36, hexd, 16);
        for (int k = 0; k < 4; k++) {
            info->key[dash[k]] = '-';
        }
        info->key[14] = '4';
    }
    info->ts_us = psim_ts_us(tl, i);
    int off;
    bool colon = ts_form(tl, i, &off);
    char *p = put_datetime(info->ts, info->ts_us, off);
    p = put_offset(p, off, colon);
    *p = '\0';
}

/* The queue id, session id and message-id of mail i of tl (ts_us: its ts); r is
 * left where the event's remaining unique values continue drawing. */
static void uniq_mail(const psim_timeline *tl, uint64_t i, int64_t ts_us, uniq *u, rng *r)
{
    r->s = ev_hash(tl, i, H_UNIQ);
    rand_chars(r, u->v[U_QID], 14, alnum_up, 36);
    u->v[U_QID][2] = (char)('A' + rbelow(r, 26));
    u->len[U_QID] = 14;
    rand_chars(r, u->v[U_SID], 10, alnum_lo, 36);
    u->len[U_SID] = 10;
    /* "<ms since the epoch, 13 digits>.<16 hex digits>" like many MTAs' ids. */
    char *p = u->v[U_MSGID];
    uint64_t ms = (uint64_t)(ts_us / 1000) % 10000000000000ULL;
    p = put_digits(p, (unsigned)(ms / 10000000), 6);
    p = put_digits(p, (unsigned)(ms % 10000000), 7);
    *p++ = '.';
    uint64_t h = rnext(r);
    for (int k = 15; k >= 0; k--) {
        p[k] = hexd[h & 15];
        h >>= 4;
    }
    p[16] = '\0';
    u->len[U_MSGID] = 30;
}

/* For a maillog event, ml is the line it is (NULL for other types): the line's queue
 * id and message-id are its message event's. */
static void uniq_compute(const psim_timeline *tl, uint64_t i, const ml_line *ml, uniq *u,
                         psim_event_info *info)
{
    psim_event_key(tl, i, info);
    size_t n = strlen(info->key);
    memcpy(u->v[U_KEY], info->key, n + 1);
    u->len[U_KEY] = (uint8_t)n;
    n = strlen(info->ts);
    memcpy(u->v[U_TS], info->ts, n + 1);
    u->len[U_TS] = (uint8_t)n;
    rng r;
    if (ml != NULL) {
        /* The line's mail ids are its message's; only the pid is its own. */
        uniq_mail(ml->mt, ml->msg, psim_ts_us(ml->mt, ml->msg), u, &r);
        r.s = ev_hash(tl, i, H_UNIQ);
    } else {
        uniq_mail(tl, i, info->ts_us, u, &r);
    }
    put_digits(u->v[U_PID], 10000 + rbelow(&r, 20000), 5);
    u->v[U_PID][5] = '\0';
    u->len[U_PID] = 5;
    char *p = put_datetime(u->v[U_DTS], info->ts_us, tl->tz_offset_min);
    p = put_offset(p, tl->tz_offset_min, true);
    *p = '\0';
    u->len[U_DTS] = (uint8_t)(p - u->v[U_DTS]);
}

static bool is_big(const psim_timeline *tl, uint64_t i)
{
    return tl->type == PSIM_MESSAGE && tl->big_share > 0 &&
           unit(ev_hash(tl, i, H_BIG)) < tl->big_share;
}

/* Serialises shape `shape` (for maillog: line *ml) with the unique values u; patch
 * offsets end up in *w. */
static bool generate(jw *w, const psim_timeline *tl, uint64_t shape, const ml_line *ml, bool big,
                     size_t pad_to, const uniq *u, psim_buf *out)
{
    memset(w, 0, sizeof *w);
    w->b = out;
    w->base = out->len;
    w->u = u;
    w->cacheable = true;
    w->ok = psim_buf_reserve(out, 8192 + pad_to + (big ? tl->big_bytes : 0));
    if (!w->ok) {
        return false;
    }
    switch (tl->type) {
    case PSIM_MESSAGE:
        gen_message(w, tl, shape, big, pad_to, u);
        break;
    case PSIM_MAILLOG:
        gen_maillog(w, tl, ml, pad_to, u);
        break;
    default:
        gen_audit(w, tl, shape, pad_to, u);
        break;
    }
    return w->ok;
}

bool psim_gen_event(const psim_timeline *tl, uint64_t i, size_t pad_to, psim_buf *out,
                    psim_event_info *info)
{
    psim_event_info local;
    uniq u;
    memset(&u, 0, sizeof u);
    ml_line ml;
    const ml_line *mlp = NULL;
    psim_timeline mt;
    if (tl->type == PSIM_MAILLOG) {
        message_sibling(tl, &mt);
        ml_line_of(&mt, i, NULL, NULL, &ml);
        mlp = &ml;
    }
    uniq_compute(tl, i, mlp, &u, info ? info : &local);
    jw w;
    return generate(&w, tl, shape_of(tl, i), mlp, is_big(tl, i), pad_to, &u, out);
}

/* ---- shape pool --------------------------------------------------------------- */

typedef struct pool_shape {
    char *data; /* NULL until first needed */
    uint32_t len;
    uint8_t npatch;
    bool uncacheable;
    patch patches[MAX_PATCHES];
} pool_shape;

struct psim_pool {
    const psim_timeline *tl;
    pool_shape *shapes; /* SHAPES slots; maillog: ML_SLOTS per message shape */
    size_t nslots;
    psim_timeline mt;      /* maillog: the message stream its lines describe */
    uint8_t nrcpt[SHAPES]; /* maillog: recipients per message shape, 0 unknown */
    ml_group group;        /* maillog: the last group laid out */
};

psim_pool *psim_pool_create(const psim_timeline *tl)
{
    psim_pool *p = calloc(1, sizeof *p);
    if (p == NULL) {
        return NULL;
    }
    p->tl = tl;
    p->nslots = tl->type == PSIM_MAILLOG ? (size_t)SHAPES * ML_SLOTS : SHAPES;
    p->shapes = calloc(p->nslots, sizeof *p->shapes);
    if (p->shapes == NULL) {
        free(p);
        return NULL;
    }
    if (tl->type == PSIM_MAILLOG) {
        message_sibling(tl, &p->mt);
    }
    return p;
}

void psim_pool_destroy(psim_pool *p)
{
    if (p == NULL) {
        return;
    }
    for (size_t k = 0; k < p->nslots; k++) {
        free(p->shapes[k].data);
    }
    free(p->shapes);
    free(p);
}

/* Event i's slot in the pool, or -1 when it is never cached. *ml is filled for a
 * maillog event. */
static int64_t pool_slot(psim_pool *p, uint64_t i, ml_line *ml)
{
    const psim_timeline *tl = p->tl;
    if (is_big(tl, i)) {
        return -1;
    }
    if (tl->type != PSIM_MAILLOG) {
        return (int64_t)shape_of(tl, i);
    }
    ml_line_of(&p->mt, i, p->nrcpt, &p->group, ml);
    if (ml->extra > 0) {
        return -1;
    }
    return (int64_t)ml->shape * ML_SLOTS + ml->role;
}

/* The size of a cached shape once event i's values are patched in: only `ts`
 * differs in width between events of one shape. */
static size_t patched_len(const psim_pool *p, const pool_shape *sh, uint64_t i)
{
    size_t len = sh->len;
    uint8_t tw = 0;
    for (int n = 0; n < sh->npatch; n++) {
        if (sh->patches[n].kind == U_TS) {
            if (tw == 0) {
                tw = ts_width(p->tl, i);
            }
            len = len - sh->patches[n].len + tw;
        }
    }
    return len;
}

size_t psim_pool_cached_len(psim_pool *p, uint64_t i)
{
    ml_line ml;
    int64_t slot = pool_slot(p, i, &ml);
    if (slot < 0) {
        return 0;
    }
    const pool_shape *sh = &p->shapes[slot];
    return sh->data != NULL ? patched_len(p, sh, i) : 0;
}

bool psim_pool_event(psim_pool *p, uint64_t i, size_t pad_to, psim_buf *out, psim_event_info *info)
{
    const psim_timeline *tl = p->tl;
    psim_event_info local;
    ml_line ml;
    int64_t slot = pool_slot(p, i, &ml);
    const ml_line *mlp = tl->type == PSIM_MAILLOG ? &ml : NULL;
    uniq u;
    memset(&u, 0, sizeof u);
    uniq_compute(tl, i, mlp, &u, info ? info : &local);
    uint64_t k = shape_of(tl, i);
    bool big = is_big(tl, i);
    pool_shape *sh = slot >= 0 ? &p->shapes[slot] : NULL;
    if (pad_to > 0 || sh == NULL || sh->uncacheable || sh->data == NULL) {
        jw w;
        size_t start = out->len;
        if (!generate(&w, tl, k, mlp, big, pad_to, &u, out)) {
            return false;
        }
        if (pad_to == 0 && sh != NULL && sh->data == NULL && !sh->uncacheable) {
            size_t len = out->len - start;
            sh->uncacheable = !w.cacheable || len > UINT32_MAX;
            if (!sh->uncacheable) {
                sh->data = malloc(len);
                if (sh->data != NULL) {
                    memcpy(sh->data, out->data + start, len);
                    sh->len = (uint32_t)len;
                    sh->npatch = (uint8_t)w.npatch;
                    memcpy(sh->patches, w.patches, sizeof w.patches);
                }
            }
        }
        return true;
    }
    size_t total = patched_len(p, sh, i);
    if (!psim_buf_reserve(out, total)) {
        return false;
    }
    /* The text between the values comes from the shape, the values from u. */
    char *o = out->data + out->len;
    uint32_t from = 0;
    for (int n = 0; n < sh->npatch; n++) {
        const patch *pt = &sh->patches[n];
        memcpy(o, sh->data + from, pt->off - from);
        o += pt->off - from;
        memcpy(o, u.v[pt->kind], u.len[pt->kind]);
        o += u.len[pt->kind];
        from = pt->off + pt->len;
    }
    memcpy(o, sh->data + from, sh->len - from);
    out->len += total;
    return true;
}
