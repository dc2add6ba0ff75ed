/* The event's time: the `ts` member read as ISO 8601, and UTC microseconds written
 * back the same way. */
#include "event/ps_event_time.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "podstream/ps_event.h"
#include "podstream/ps_utf8.h"

/* How much of a bad ts value a quarantine reason shows. */
#define TS_SHOWN_CHARS 40

/* ---- ISO 8601 (to become calls to base/ps_time) ------------------------------ */

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

/* ---- the ts member -------------------------------------------------------------- */

/* Copies at most `chars` code points of a (valid UTF-8) value into out for a
 * quarantine reason, with control characters shown as '?' so that the reason
 * stays one printable line. */
static void clip_for_reason(const char *s, size_t chars, char *out, size_t outlen)
{
    size_t o = 0, count = 0;
    const unsigned char *p = (const unsigned char *)s;

    while (*p && count < chars && o + 8 < outlen) {
        uint32_t cp;
        size_t n = ps_utf8_decode((const char *)p, PS_UTF8_MAX, &cp); /* stops at the NUL */
        for (size_t k = 0; k < n; k++)
            out[o + k] = (char)(p[k] < 0x20 || p[k] == 0x7F ? '?' : p[k]);
        o += n;
        p += n;
        count++;
    }
    if (*p) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

ps_err ps_event_extract_ts(const cJSON *root, int64_t *ts, ps_errmsg *em)
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
