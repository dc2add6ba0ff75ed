#include "podstream/ps_event.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "event/ps_event_internal.h"

/* Natural keys are short identifiers (32 characters in every sample); anything much
 * longer is not a key but garbage that would bloat the unique index. */
#define KEY_MAX 512
/* Longest string we read as a number: 17 significant digits, sign, point and
 * exponent fit with room to spare; longer strings are text, not numbers. */
#define NUMBER_TEXT_MAX 64
/* How much of a bad ts value a quarantine reason shows. */
#define TS_SHOWN_CHARS 40

static const char *const field_names[PS_EF__COUNT] = {
    [PS_EF_SENDER] = "sender",
    [PS_EF_RECIPIENTS] = "recipients",
    [PS_EF_SUBJECT] = "subject",
    [PS_EF_DISPOSITION] = "disposition",
    [PS_EF_ACTION] = "action",
    [PS_EF_MODULE] = "module",
    [PS_EF_RULE] = "rule",
    [PS_EF_DIRECTION] = "direction",
    [PS_EF_QID] = "qid",
    [PS_EF_MESSAGE_ID] = "message_id",
    [PS_EF_CLIENT_IP] = "client_ip",
    [PS_EF_CLIENT_HOST] = "client_host",
    [PS_EF_COUNTRY] = "country",
    [PS_EF_STAT] = "stat",
    [PS_EF_DSN] = "dsn",
    [PS_EF_RELAY] = "relay",
};

const char *ps_event_field_name(ps_event_field f)
{
    if ((int)f < 0 || f >= PS_EF__COUNT)
        return NULL;
    return field_names[f];
}

void ps_event_init(ps_event *ev)
{
    memset(ev, 0, sizeof *ev);
}

static void free_texts(char **text)
{
    for (int i = 0; i < PS_EF__COUNT; i++) {
        free(text[i]);
        text[i] = NULL;
    }
}

void ps_event_deinit(ps_event *ev)
{
    if (!ev)
        return;
    cJSON_Delete(ev->root);
    free(ev->key);
    free_texts(ev->text);
    memset(ev, 0, sizeof *ev);
}

/* ---- UTF-8 ------------------------------------------------------------------ */

bool ps_event_utf8_valid(const char *buf, size_t len, size_t *bad_offset)
{
    const unsigned char *s = (const unsigned char *)buf;
    size_t i = 0;

    while (i < len) {
        if (s[i] < 0x80) {
            /* Events are mostly ASCII: test 16 bytes per step for a high bit. */
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
            if (i == len)
                break;
        }
        unsigned c = s[i];
        size_t need;
        unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
        if (c < 0xC2) {
            goto bad; /* stray continuation byte, or C0/C1: overlong two-byte form */
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
            goto bad;
        }
        if (len - i <= need || s[i + 1] < lo || s[i + 1] > hi)
            goto bad;
        for (size_t k = 2; k <= need; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                goto bad;
        i += need + 1;
    }
    return true;
bad:
    if (bad_offset)
        *bad_offset = i;
    return false;
}

/* ---- time ------------------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm):
 * exact for every year, no time zone database, no dependence on TZ. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Reads exactly n digits. Stops at the first non-digit, so it never reads past a
 * terminating NUL. */
static bool read_digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

ps_err ps_event_parse_ts(const char *s, int64_t *out_us)
{
    int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
    int64_t frac = 0;
    const char *p;

    if (!s || !read_digits(s, 4, &y) || s[4] != '-' || !read_digits(s + 5, 2, &mo) || s[7] != '-' ||
        !read_digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        !read_digits(s + 11, 2, &h) || s[13] != ':' || !read_digits(s + 14, 2, &mi) ||
        s[16] != ':' || !read_digits(s + 17, 2, &sec))
        return PS_ERR_PARSE;
    p = s + 19;
    if (*p == '.') {
        int nd = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, nd++) {
            if (nd >= 9)
                return PS_ERR_PARSE;
            if (nd < 6) /* digits beyond microseconds are truncated */
                frac = frac * 10 + (*p - '0');
        }
        if (nd == 0)
            return PS_ERR_PARSE;
        for (; nd < 6; nd++)
            frac *= 10;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '-' ? -1 : 1;
        if (!read_digits(p + 1, 2, &oh))
            return PS_ERR_PARSE;
        p += 3;
        if (*p == ':')
            p++;
        if (!read_digits(p, 2, &om))
            return PS_ERR_PARSE;
        p += 2;
    } else {
        return PS_ERR_PARSE;
    }
    if (*p != '\0')
        return PS_ERR_PARSE;
    /* Second 60 is a leap second; it lands on the next minute's first second. */
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60 ||
        oh > 23 || om > 59)
        return PS_ERR_PARSE;
    int64_t secs = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 +
                   sec - (int64_t)sign * (oh * 3600 + om * 60);
    *out_us = secs * 1000000 + frac;
    return PS_OK;
}

void ps_event_format_ts(int64_t us, char *buf, size_t len)
{
    int64_t secs = us / 1000000, frac = us % 1000000, y;
    unsigned m, d;

    if (!buf || len == 0)
        return;
    if (frac < 0) { /* floor, not truncation, for times before 1970 */
        frac += 1000000;
        secs--;
    }
    int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    civil_from_days(days, &y, &m, &d);
    snprintf(buf, len, "%04lld-%02u-%02uT%02d:%02d:%02d.%06lldZ", (long long)y, m, d,
             (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), (long long)frac);
}

/* ---- JSON failure diagnosis -------------------------------------------------- */

/* cJSON says only that parsing failed, at a rough position, and the same way when
 * memory runs out. Admins reading the quarantine table need the exact byte and
 * whether the frame was cut short, so on failure (never on the hot path) a strict
 * RFC 8259 scanner walks the payload again. */
typedef enum json_fault { JF_NONE = 0, JF_SYNTAX, JF_TRUNCATED, JF_DEEP } json_fault;

static bool json_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static json_fault scan_hex4(const char *s, size_t n, size_t at, unsigned *cp)
{
    unsigned v = 0;
    for (size_t k = 0; k < 4; k++) {
        if (at + k >= n)
            return JF_TRUNCATED;
        char c = s[at + k];
        unsigned x;
        if (c >= '0' && c <= '9')
            x = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            x = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            x = (unsigned)(c - 'A' + 10);
        else
            return JF_SYNTAX;
        v = v << 4 | x;
    }
    *cp = v;
    return JF_NONE;
}

/* *i is at the opening quote; on success it ends past the closing one, on failure
 * at the fault. Lone surrogate escapes are faults because cJSON refuses them. */
static json_fault scan_string(const char *s, size_t n, size_t *i)
{
    size_t p = *i + 1;
    json_fault f;
    unsigned cp;

    while (p < n) {
        unsigned char c = (unsigned char)s[p];
        if (c == '"') {
            *i = p + 1;
            return JF_NONE;
        }
        if (c < 0x20)
            goto fault_here;
        if (c != '\\') {
            p++;
            continue;
        }
        if (p + 1 >= n)
            goto truncated;
        c = (unsigned char)s[p + 1];
        if (c != 'u') {
            if (!c || !strchr("\"\\/bfnrt", c))
                goto fault_here;
            p += 2;
            continue;
        }
        if ((f = scan_hex4(s, n, p + 2, &cp)) != JF_NONE)
            goto fault;
        if (cp >= 0xDC00 && cp <= 0xDFFF)
            goto fault_here;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (p + 6 >= n)
                goto truncated;
            if (s[p + 6] != '\\')
                goto fault_here;
            if (p + 7 >= n)
                goto truncated;
            if (s[p + 7] != 'u')
                goto fault_here;
            if ((f = scan_hex4(s, n, p + 8, &cp)) != JF_NONE)
                goto fault;
            if (cp < 0xDC00 || cp > 0xDFFF)
                goto fault_here;
            p += 6;
        }
        p += 6;
    }
truncated:
    *i = n;
    return JF_TRUNCATED;
fault:
    if (f == JF_TRUNCATED)
        goto truncated;
fault_here:
    *i = p;
    return JF_SYNTAX;
}

static json_fault scan_number(const char *s, size_t n, size_t *i)
{
    size_t p = *i;

    if (s[p] == '-')
        p++;
    if (p >= n)
        goto truncated;
    if (s[p] == '0') {
        p++;
    } else if (is_digit(s[p])) {
        while (p < n && is_digit(s[p]))
            p++;
    } else {
        goto fault;
    }
    if (p < n && s[p] == '.') {
        if (++p >= n)
            goto truncated;
        if (!is_digit(s[p]))
            goto fault;
        while (p < n && is_digit(s[p]))
            p++;
    }
    if (p < n && (s[p] == 'e' || s[p] == 'E')) {
        if (++p < n && (s[p] == '+' || s[p] == '-'))
            p++;
        if (p >= n)
            goto truncated;
        if (!is_digit(s[p]))
            goto fault;
        while (p < n && is_digit(s[p]))
            p++;
    }
    *i = p;
    return JF_NONE;
truncated:
    *i = n;
    return JF_TRUNCATED;
fault:
    *i = p;
    return JF_SYNTAX;
}

static json_fault scan_literal(const char *s, size_t n, size_t *i, const char *lit)
{
    size_t len = strlen(lit);
    for (size_t k = 0; k < len; k++) {
        if (*i + k >= n) {
            *i = n;
            return JF_TRUNCATED;
        }
        if (s[*i + k] != lit[k])
            return JF_SYNTAX; /* *i stays at the start of the bad word */
    }
    *i += len;
    return JF_NONE;
}

static json_fault scan_scalar(const char *s, size_t n, size_t *i)
{
    switch (s[*i]) {
    case '"':
        return scan_string(s, n, i);
    case 't':
        return scan_literal(s, n, i, "true");
    case 'f':
        return scan_literal(s, n, i, "false");
    case 'n':
        return scan_literal(s, n, i, "null");
    default:
        if (s[*i] == '-' || is_digit(s[*i]))
            return scan_number(s, n, i);
        return JF_SYNTAX;
    }
}

/* Finds the first fault of s[0..n) as one JSON text; *pos is its byte offset. */
static json_fault json_scan(const char *s, size_t n, size_t *pos)
{
    enum { ST_VALUE, ST_FIRST_VALUE, ST_KEY, ST_FIRST_KEY, ST_COLON, ST_AFTER } st = ST_VALUE;
    char stack[CJSON_NESTING_LIMIT]; /* '{' or '[' per open container */
    size_t depth = 0, i = 0;
    json_fault f = JF_NONE;

    for (;;) {
        bool close = false;
        while (i < n && json_ws(s[i]))
            i++;
        if (i >= n) {
            *pos = n;
            return st == ST_AFTER && depth == 0 ? JF_NONE : JF_TRUNCATED;
        }
        char c = s[i];
        switch (st) {
        case ST_FIRST_VALUE:
        case ST_VALUE:
            if (st == ST_FIRST_VALUE && c == ']') {
                close = true;
            } else if (c == '{' || c == '[') {
                if (depth == CJSON_NESTING_LIMIT) {
                    *pos = i;
                    return JF_DEEP;
                }
                stack[depth++] = c;
                i++;
                st = c == '{' ? ST_FIRST_KEY : ST_FIRST_VALUE;
            } else {
                if ((f = scan_scalar(s, n, &i)) != JF_NONE)
                    goto fault;
                st = ST_AFTER;
            }
            break;
        case ST_FIRST_KEY:
        case ST_KEY:
            if (st == ST_FIRST_KEY && c == '}') {
                close = true;
            } else {
                if (c != '"') {
                    f = JF_SYNTAX;
                    goto fault;
                }
                if ((f = scan_string(s, n, &i)) != JF_NONE)
                    goto fault;
                st = ST_COLON;
            }
            break;
        case ST_COLON:
            if (c != ':') {
                f = JF_SYNTAX;
                goto fault;
            }
            i++;
            st = ST_VALUE;
            break;
        case ST_AFTER: {
            char open = depth ? stack[depth - 1] : 0;
            if (open && c == ',') {
                i++;
                st = open == '{' ? ST_KEY : ST_VALUE;
            } else if (open && c == (open == '{' ? '}' : ']')) {
                close = true;
            } else {
                f = JF_SYNTAX; /* also: data after the top-level value */
                goto fault;
            }
            break;
        }
        }
        if (close) {
            depth--;
            i++;
            st = ST_AFTER;
        }
    }
fault:
    *pos = i;
    return f;
}

static ps_err json_failure(const char *raw, size_t len, size_t skip, ps_errmsg *em)
{
    size_t pos = 0;
    bool blank = true;

    for (size_t i = skip; i < len && blank; i++)
        blank = json_ws(raw[i]);
    if (blank)
        return ps_errmsg_set(em, PS_ERR_PARSE, "empty payload");
    switch (json_scan(raw + skip, len - skip, &pos)) {
    case JF_TRUNCATED:
        return ps_errmsg_set(em, PS_ERR_PARSE, "JSON truncated at byte %zu", pos + skip);
    case JF_DEEP:
        return ps_errmsg_set(em, PS_ERR_PARSE, "JSON nested deeper than %d levels at byte %zu",
                             CJSON_NESTING_LIMIT, pos + skip);
    case JF_SYNTAX:
        return ps_errmsg_set(em, PS_ERR_PARSE, "not valid JSON near byte %zu", pos + skip);
    case JF_NONE:
        break;
    }
    /* Valid JSON that cJSON could not build: it ran out of memory. */
    return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory parsing the event");
}

/* ---- value helpers ------------------------------------------------------------ */

/* Walks object keys (exact case); NULL as soon as a step is missing or not an
 * object. Lookups by name make extraction independent of key order. */
static const cJSON *get_path(const cJSON *node, const char *const *keys, size_t n)
{
    for (size_t i = 0; node && i < n; i++)
        node = cJSON_IsObject(node) ? cJSON_GetObjectItemCaseSensitive(node, keys[i]) : NULL;
    return node;
}

#define GET(node, ...)                                                                             \
    get_path((node), (const char *const[]){__VA_ARGS__},                                           \
             sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

/* Header names are case-insensitive (RFC 5322). POD lower-cases them, so the exact
 * lookup nearly always hits; the fallback covers producers that do not. */
static const cJSON *header_first(const cJSON *headers, const char *name)
{
    const cJSON *v;

    if (!cJSON_IsObject(headers))
        return NULL;
    v = cJSON_GetObjectItemCaseSensitive(headers, name);
    if (!v)
        v = cJSON_GetObjectItem(headers, name);
    if (cJSON_IsArray(v))
        v = v->child;
    return v;
}

/* 2^53: above it doubles no longer hold every integer. */
#define EXACT_INT_MAX 9007199254740992.0

/* Text of a number: integers plainly (ids and sizes come as numbers at times),
 * other values as cJSON writes them (shortest round-trip form, always with '.'
 * whatever LC_NUMERIC says). */
static char *number_text(const cJSON *v)
{
    double d = v->valuedouble;
    if (d == trunc(d) && fabs(d) < EXACT_INT_MAX) {
        char tmp[32];
        snprintf(tmp, sizeof tmp, "%lld", (long long)d);
        return strdup(tmp);
    }
    return cJSON_PrintUnformatted(v);
}

/* *out = text of a scalar (string, number, boolean); false when v is not one. */
static bool scalar_text(const cJSON *v, char **out, ps_err *err)
{
    *out = NULL;
    if (cJSON_IsString(v) && v->valuestring)
        *out = strdup(v->valuestring);
    else if (cJSON_IsNumber(v))
        *out = number_text(v);
    else if (cJSON_IsBool(v))
        *out = strdup(cJSON_IsTrue(v) ? "true" : "false");
    else
        return false;
    if (!*out)
        *err = PS_ERR_NOMEM;
    return *out != NULL;
}

/* Sets *slot to the text of v. Arrays (recipient lists, or a sender sent as a
 * one-element list) join their scalar elements with ", "; an empty list, null, an
 * object or a missing value leave *slot NULL. */
static ps_err field_text(const cJSON *v, char **slot)
{
    ps_err err = PS_OK;
    const cJSON *e;
    size_t total = 0, n = 0;
    char *joined, *w;

    if (!cJSON_IsArray(v)) {
        scalar_text(v, slot, &err);
        return err;
    }
    cJSON_ArrayForEach(e, v)
    {
        char *t;
        if (!scalar_text(e, &t, &err)) {
            if (err != PS_OK)
                return err;
            continue;
        }
        total += strlen(t) + 2;
        n++;
        free(t);
    }
    if (n == 0)
        return PS_OK;
    joined = malloc(total);
    if (!joined)
        return PS_ERR_NOMEM;
    w = joined;
    cJSON_ArrayForEach(e, v)
    {
        char *t;
        if (!scalar_text(e, &t, &err)) {
            if (err != PS_OK) {
                free(joined);
                return err;
            }
            continue;
        }
        size_t tl = strlen(t);
        if (w != joined) {
            memcpy(w, ", ", 2);
            w += 2;
        }
        memcpy(w, t, tl);
        w += tl;
        free(t);
    }
    *w = '\0';
    *slot = joined;
    return PS_OK;
}

/* A number, or a string holding one ("1557", "40.5"): POD sends both. */
static bool number_of(const cJSON *v, double *out)
{
    if (cJSON_IsNumber(v)) {
        *out = v->valuedouble;
        return isfinite(*out);
    }
    if (!cJSON_IsString(v) || !v->valuestring)
        return false;
    const char *s = v->valuestring;
    size_t n = strlen(s);
    if (n == 0 || n > NUMBER_TEXT_MAX)
        return false;
    /* Plain digits are the common case (maillog sizes); take them directly. */
    if (n <= 15 && strspn(s, "0123456789") == n) {
        double d = 0;
        for (size_t i = 0; i < n; i++)
            d = d * 10 + (s[i] - '0');
        *out = d;
        return true;
    }
    /* Anything else is read as a JSON number, which rejects "0x1F", "inf", "1,5". */
    const char *end = NULL;
    cJSON *num = cJSON_ParseWithLengthOpts(s, n, &end, 0);
    bool ok = cJSON_IsNumber(num) && isfinite(num->valuedouble);
    if (ok) {
        while (end && end < s + n && json_ws(*end))
            end++;
        ok = end == s + n;
        *out = num->valuedouble;
    }
    cJSON_Delete(num);
    return ok;
}

static bool size_of(const cJSON *v, int64_t *out)
{
    double d;
    if (!number_of(v, &d) || d < 0 || d != trunc(d) || d > EXACT_INT_MAX)
        return false;
    *out = (int64_t)d;
    return true;
}

/* isFinal is a boolean in every sample, but some producers write "true". */
static bool is_final(const cJSON *v)
{
    if (cJSON_IsTrue(v))
        return true;
    if (cJSON_IsString(v) && v->valuestring)
        return strcasecmp(v->valuestring, "true") == 0;
    return cJSON_IsNumber(v) && v->valuedouble == 1;
}

/* ---- key and time --------------------------------------------------------------- */

/* Copies at most `chars` code points of a (valid UTF-8) value into out for a
 * quarantine reason, with control characters shown as '?' so that the reason
 * stays one printable line. */
static void clip_for_reason(const char *s, size_t chars, char *out, size_t outlen)
{
    size_t o = 0, count = 0;
    const unsigned char *p = (const unsigned char *)s;

    while (*p && count < chars && o + 8 < outlen) {
        size_t n = *p < 0x80 ? 1 : *p < 0xE0 ? 2 : *p < 0xF0 ? 3 : 4;
        size_t k = 0;
        for (; k < n && p[k]; k++)
            out[o + k] = (char)(p[k] < 0x20 || p[k] == 0x7F ? '?' : p[k]);
        o += k;
        p += k;
        count++;
    }
    if (*p) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

static ps_err extract_ts(const cJSON *root, int64_t *ts, ps_errmsg *em)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "ts");
    char shown[TS_SHOWN_CHARS * 4 + 8];

    if (!v || cJSON_IsNull(v))
        return ps_errmsg_set(em, PS_ERR_PARSE, "no ts");
    if (!cJSON_IsString(v) || !v->valuestring)
        return ps_errmsg_set(em, PS_ERR_PARSE, "ts is not a string");
    if (ps_event_parse_ts(v->valuestring, ts) == PS_OK)
        return PS_OK;
    clip_for_reason(v->valuestring, TS_SHOWN_CHARS, shown, sizeof shown);
    return ps_errmsg_set(em, PS_ERR_PARSE, "ts is not ISO 8601: \"%s\"", shown);
}

/* PS_ERR_NOTFOUND (no message) when the key is absent or null, so that callers can
 * try another name; other failures carry the reason. */
static ps_err key_text(const cJSON *v, const char *name, char **out, ps_errmsg *em)
{
    if (!v || cJSON_IsNull(v))
        return PS_ERR_NOTFOUND;
    if (cJSON_IsNumber(v) && v->valuedouble == trunc(v->valuedouble) &&
        fabs(v->valuedouble) < EXACT_INT_MAX) {
        *out = number_text(v);
        return *out ? PS_OK : ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    }
    if (!cJSON_IsString(v) || !v->valuestring)
        return ps_errmsg_set(em, PS_ERR_PARSE, "%s is not a string", name);
    if (!v->valuestring[0])
        return ps_errmsg_set(em, PS_ERR_PARSE, "%s is empty", name);
    if (strlen(v->valuestring) > KEY_MAX)
        return ps_errmsg_set(em, PS_ERR_PARSE, "%s is longer than %d bytes", name, KEY_MAX);
    *out = strdup(v->valuestring);
    return *out ? PS_OK : ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
}

static char *sha256_hex(const void *data, size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    char *hex;

    if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL))
        return NULL;
    hex = malloc(mdlen * 2 + 1);
    if (!hex)
        return NULL;
    for (unsigned i = 0; i < mdlen; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return hex;
}

/* Audit events have no documented key. We use `id` or `guid` when present; else
 * the hex SHA-256 of the raw payload, so that a replayed copy of the same frame
 * is recognised as a duplicate. `raw` is NULL when re-extracting after a pipeline:
 * then the key computed from the original frame stays, because it names the
 * event that arrived, not what a pipeline made of it. */
static ps_err audit_key(const ps_event *ev, const char *raw, size_t len, char **out, ps_errmsg *em)
{
    static const char *const names[] = {"id", "guid"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        ps_errmsg ignored;
        if (key_text(cJSON_GetObjectItemCaseSensitive(ev->root, names[i]), names[i], out,
                     &ignored) == PS_OK)
            return PS_OK;
    }
    if (raw) {
        *out = sha256_hex(raw, len);
    } else if (ev->key) {
        *out = strdup(ev->key);
    } else {
        /* Built by hand, never parsed: hash its canonical form instead. */
        char *text = cJSON_PrintUnformatted(ev->root);
        *out = text ? sha256_hex(text, strlen(text)) : NULL;
        free(text);
    }
    return *out ? PS_OK : ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
}

static ps_err extract_key(const ps_event *ev, const char *raw, size_t len, char **out,
                          ps_errmsg *em)
{
    const char *name;
    ps_err err;

    switch (ev->type) {
    case PS_DATA_MESSAGE:
        name = "guid";
        break;
    case PS_DATA_MAILLOG:
        name = "id";
        break;
    case PS_DATA_AUDIT:
        return audit_key(ev, raw, len, out, em);
    default:
        return ps_errmsg_set(em, PS_ERR_INVALID, "unknown data type %d", (int)ev->type);
    }
    err = key_text(cJSON_GetObjectItemCaseSensitive(ev->root, name), name, out, em);
    if (err == PS_ERR_NOTFOUND)
        return ps_errmsg_set(em, PS_ERR_PARSE, "no %s", name);
    return err;
}

/* ---- typed fields ------------------------------------------------------------------ */

typedef struct fields {
    char *text[PS_EF__COUNT];
    double spam_score;
    bool has_spam_score;
    int64_t size_bytes;
    bool has_size;
} fields;

static ps_err header_text(const cJSON *msg, const char *name, bool decode, char **slot)
{
    static const char *const maps[] = {"header", "normalizedHeader"};
    ps_err err = PS_OK;

    /* The raw header first: it is what the sender wrote (and what maillog msgid
     * matches); the normalized copy covers events whose raw header map is empty. */
    for (size_t i = 0; i < sizeof maps / sizeof maps[0]; i++) {
        const cJSON *v = header_first(GET(msg, maps[i]), name);
        if (decode && cJSON_IsString(v) && v->valuestring) {
            *slot = ps_event_rfc2047_decode(v->valuestring, strlen(v->valuestring));
            return *slot ? PS_OK : PS_ERR_NOMEM;
        }
        if (scalar_text(v, slot, &err) || err != PS_OK)
            return err;
    }
    return PS_OK;
}

static ps_err extract_message(const cJSON *root, fields *f)
{
    const cJSON *filter = GET(root, "filter");
    const cJSON *conn = GET(root, "connection");
    const cJSON *msg = GET(root, "msg");
    const cJSON *final = NULL, *a;
    const struct {
        ps_event_field field;
        const cJSON *value;
    } plain[] = {
        {PS_EF_SENDER, GET(root, "envelope", "from")},
        {PS_EF_RECIPIENTS, GET(root, "envelope", "rcpts")},
        {PS_EF_DISPOSITION, GET(filter, "disposition")},
        {PS_EF_DIRECTION, GET(filter, "routeDirection")},
        {PS_EF_QID, GET(filter, "qid")},
        {PS_EF_CLIENT_IP, GET(conn, "ip")},
        {PS_EF_CLIENT_HOST, GET(conn, "host")},
        {PS_EF_COUNTRY, GET(conn, "country")},
    };
    ps_err err;

    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        if ((err = field_text(plain[i].value, &f->text[plain[i].field])) != PS_OK)
            return err;
    if ((err = header_text(msg, "subject", true, &f->text[PS_EF_SUBJECT])) != PS_OK ||
        (err = header_text(msg, "message-id", false, &f->text[PS_EF_MESSAGE_ID])) != PS_OK)
        return err;

    /* The first action marked final decided the disposition; the others only
     * added headers or copies along the way. */
    const cJSON *actions = GET(filter, "actions");
    if (cJSON_IsArray(actions)) {
        cJSON_ArrayForEach(a, actions)
        {
            if (is_final(GET(a, "isFinal"))) {
                final = a;
                break;
            }
        }
    }
    if (final && ((err = field_text(GET(final, "action"), &f->text[PS_EF_ACTION])) != PS_OK ||
                  (err = field_text(GET(final, "module"), &f->text[PS_EF_MODULE])) != PS_OK ||
                  (err = field_text(GET(final, "rule"), &f->text[PS_EF_RULE])) != PS_OK))
        return err;

    f->has_spam_score =
        number_of(GET(filter, "modules", "spam", "scores", "overall"), &f->spam_score);
    f->has_size = size_of(GET(msg, "sizeBytes"), &f->size_bytes) ||
                  size_of(GET(filter, "msgSizeBytes"), &f->size_bytes);
    return PS_OK;
}

static ps_err extract_maillog(const cJSON *root, fields *f)
{
    const cJSON *sm = GET(root, "sm");
    const struct {
        ps_event_field field;
        const char *key;
    } plain[] = {
        {PS_EF_SENDER, "from"},      {PS_EF_RECIPIENTS, "to"}, {PS_EF_QID, "qid"},
        {PS_EF_MESSAGE_ID, "msgid"}, {PS_EF_STAT, "stat"},     {PS_EF_DSN, "dsn"},
        {PS_EF_RELAY, "relay"},
    };
    ps_err err;

    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        if ((err = field_text(GET(sm, plain[i].key), &f->text[plain[i].field])) != PS_OK)
            return err;
    f->has_size = size_of(GET(sm, "sizeBytes"), &f->size_bytes);
    return PS_OK;
}

/* Computes key and ts (and with `typed`, every typed field) and stores them in ev
 * only when all succeed, so a failure leaves the previous values intact. */
static ps_err extract(ps_event *ev, const char *raw, size_t len, bool typed, ps_errmsg *em)
{
    fields f = {0};
    char *key = NULL;
    int64_t ts = 0;
    ps_err err;

    if (!cJSON_IsObject(ev->root)) {
        err = ps_errmsg_set(em, PS_ERR_PARSE, "not a JSON object");
        goto cleanup;
    }
    if ((err = extract_ts(ev->root, &ts, em)) != PS_OK ||
        (err = extract_key(ev, raw, len, &key, em)) != PS_OK)
        goto cleanup;
    if (typed) {
        if (ev->type == PS_DATA_MESSAGE)
            err = extract_message(ev->root, &f);
        else if (ev->type == PS_DATA_MAILLOG)
            err = extract_maillog(ev->root, &f);
        /* Audit events carry none of the typed fields. */
        if (err != PS_OK) {
            err = ps_errmsg_set(em, err, "out of memory extracting fields");
            goto cleanup;
        }
    }
    free(ev->key);
    ev->key = key;
    key = NULL;
    ev->ts_us = ts;
    if (typed) {
        free_texts(ev->text);
        memcpy(ev->text, f.text, sizeof f.text);
        memset(f.text, 0, sizeof f.text);
        ev->spam_score = f.has_spam_score ? f.spam_score : 0;
        ev->has_spam_score = f.has_spam_score;
        ev->size_bytes = f.has_size ? f.size_bytes : 0;
        ev->has_size = f.has_size;
    }
cleanup:
    free(key);
    free_texts(f.text);
    return err;
}

/* ---- entry points ---------------------------------------------------------------- */

ps_err ps_event_parse(ps_event *ev, ps_data_type type, const char *raw, size_t len, ps_errmsg *em)
{
    size_t bad = 0, skip = 0;
    const char *end = NULL, *nul;
    cJSON *root;
    ps_err err;

    ps_event_deinit(ev);
    ev->type = type;
    if ((unsigned)type > PS_DATA_AUDIT)
        return ps_errmsg_set(em, PS_ERR_INVALID, "unknown data type %d", (int)type);
    if (!raw || len == 0)
        return ps_errmsg_set(em, PS_ERR_PARSE, "empty payload");
    if (!ps_event_utf8_valid(raw, len, &bad))
        return ps_errmsg_set(em, PS_ERR_PARSE, "invalid UTF-8 at byte %zu", bad);
    /* cJSON would cut a string short at a NUL and keep going; JSON allows none. */
    if ((nul = memchr(raw, '\0', len)) != NULL)
        return ps_errmsg_set(em, PS_ERR_PARSE, "not valid JSON near byte %zu", (size_t)(nul - raw));
    if (len >= 3 && memcmp(raw, "\xEF\xBB\xBF", 3) == 0)
        skip = 3; /* RFC 8259 lets parsers ignore a byte order mark */

    root = cJSON_ParseWithLengthOpts(raw + skip, len - skip, &end, 0);
    if (!root)
        return json_failure(raw, len, skip, em);
    while (end && end < raw + len && json_ws(*end))
        end++;
    if (end != raw + len) {
        cJSON_Delete(root);
        return ps_errmsg_set(em, PS_ERR_PARSE, "not valid JSON near byte %zu",
                             end ? (size_t)(end - raw) : (size_t)0);
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return ps_errmsg_set(em, PS_ERR_PARSE, "not a JSON object");
    }
    ev->root = root;
    err = extract(ev, raw, len, false, em);
    if (err != PS_OK) {
        ps_event_deinit(ev);
        ev->type = type;
    }
    return err;
}

ps_err ps_event_extract(ps_event *ev, ps_errmsg *em)
{
    return extract(ev, NULL, 0, true, em);
}
