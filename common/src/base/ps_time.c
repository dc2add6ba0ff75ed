/* ps_time: civil dates, ISO 8601, durations and local time.
 *
 * One parser reads ISO 8601 for both its users: events (strict: what POD sends)
 * and people (lenient: the time and the offset may be left out, and then it is
 * local time). Both refuse a day the month does not have; mktime would quietly
 * turn 31 February into 2 March. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "podstream/ps_num.h"
#include "podstream/ps_platform.h"
#include "podstream/ps_time.h"

/* ---- civil dates ------------------------------------------------------------------ */

bool ps_time_is_leap(int64_t year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int ps_time_days_in_month(int64_t year, int month)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month < 1 || month > 12)
        return 0;
    return month == 2 && ps_time_is_leap(year) ? 29 : dim[month - 1];
}

/* Howard Hinnant's algorithms: UTC arithmetic without timegm, which C11 lacks,
 * and without a time zone database. */
int64_t ps_time_days_from_civil(int64_t year, int month, int day)
{
    int64_t y = year - (month <= 2);
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void ps_time_civil_from_days(int64_t days, int64_t *year, int *month, int *day)
{
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *day = (int)(doy - (153 * mp + 2) / 5 + 1);
    *month = (int)(mp < 10 ? mp + 3 : mp - 9);
    *year = yoe + era * 400 + (*month <= 2);
}

/* ---- ISO 8601 --------------------------------------------------------------------- */

typedef struct iso_parts {
    int y, mo, d, h, mi, s;
    int64_t frac_us;
    bool has_offset;
    int offset_s; /* east of UTC */
} iso_parts;

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

/* ".058340": at least one digit; strict allows at most 9 and only '.'. Digits
 * beyond microseconds are truncated. */
static const char *read_fraction(const char *p, bool strict, int64_t *frac_us)
{
    int nd = 0;
    int64_t v = 0;
    if (*p != '.' && (strict || *p != ','))
        return p;
    for (p++; *p >= '0' && *p <= '9'; p++, nd++) {
        if (strict && nd >= 9)
            return NULL;
        if (nd < 6)
            v = v * 10 + (*p - '0');
    }
    if (nd == 0)
        return NULL;
    for (; nd < 6; nd++)
        v *= 10;
    *frac_us = v;
    return p;
}

/* "[T ]hh:mm[:ss[.f]]"; strict requires the seconds. */
static const char *read_clock(const char *p, bool strict, iso_parts *t)
{
    if (*p != 'T' && *p != 't' && *p != ' ')
        return strict ? NULL : p;
    p++;
    if (!read_digits(p, 2, &t->h) || p[2] != ':' || !read_digits(p + 3, 2, &t->mi))
        return NULL;
    p += 5;
    if (*p != ':')
        return strict ? NULL : p;
    if (!read_digits(p + 1, 2, &t->s))
        return NULL;
    return read_fraction(p + 3, strict, &t->frac_us);
}

/* "Z", "+hh:mm", "+hhmm"; lenient also "+hh" and nothing (local time). */
static const char *read_offset(const char *p, bool strict, iso_parts *t)
{
    int oh = 0, om = 0, sign;
    if (*p == 'Z' || *p == 'z') {
        t->has_offset = true;
        return p + 1;
    }
    if (*p != '+' && *p != '-')
        return strict ? NULL : p;
    sign = *p == '-' ? -1 : 1;
    if (!read_digits(p + 1, 2, &oh))
        return NULL;
    p += 3;
    if (*p == ':')
        p++;
    if (read_digits(p, 2, &om))
        p += 2;
    else if (strict)
        return NULL;
    if (oh > 23 || om > 59)
        return NULL;
    t->has_offset = true;
    t->offset_s = sign * (oh * 3600 + om * 60);
    return p;
}

/* The whole text; false when it is not ISO 8601 of that strictness. The day is
 * only checked against 31 here: the caller says which day is missing. */
static bool read_iso(const char *s, bool strict, iso_parts *t)
{
    const char *p = s;
    memset(t, 0, sizeof *t);
    if (!s || !read_digits(s, 4, &t->y) || s[4] != '-' || !read_digits(s + 5, 2, &t->mo) ||
        s[7] != '-' || !read_digits(s + 8, 2, &t->d))
        return false;
    p = read_clock(s + 10, strict, t);
    if (p)
        p = read_offset(p, strict, t);
    if (!p || *p != '\0')
        return false;
    /* Second 60 is a leap second; it lands on the next minute's first second. */
    return t->mo >= 1 && t->mo <= 12 && t->d >= 1 && t->d <= 31 && t->h <= 23 && t->mi <= 59 &&
           t->s <= 60;
}

static int64_t utc_us(const iso_parts *t)
{
    int64_t secs = ps_time_days_from_civil(t->y, t->mo, t->d) * 86400 + t->h * 3600 + t->mi * 60 +
                   t->s - t->offset_s;
    return secs * PS_TIME_US_PER_S + t->frac_us;
}

ps_err ps_time_parse_iso(const char *s, int64_t *out_us)
{
    iso_parts t;
    if (!read_iso(s, true, &t) || t.d > ps_time_days_in_month(t.y, t.mo))
        return PS_ERR_PARSE;
    *out_us = utc_us(&t);
    return PS_OK;
}

/* Floor division, so that times before 1970 round down. */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

void ps_time_format_iso(int64_t us, char *buf, size_t len)
{
    int64_t secs = floor_div(us, PS_TIME_US_PER_S), frac = us - secs * PS_TIME_US_PER_S;
    int64_t days = floor_div(secs, 86400), rem = secs - days * 86400, y;
    int m, d;
    if (!buf || len == 0)
        return;
    ps_time_civil_from_days(days, &y, &m, &d);
    snprintf(buf, len, "%04lld-%02d-%02dT%02d:%02d:%02d.%06lldZ", (long long)y, m, d,
             (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), (long long)frac);
}

/* ---- durations -------------------------------------------------------------------- */

typedef struct unit {
    const char *name;
    uint64_t ms;
} unit;

/* Largest first: the order they must be written in. */
static const unit units[] = {
    {"w", 7ULL * 24 * 3600 * 1000},
    {"d", 24ULL * 3600 * 1000},
    {"h", 3600ULL * 1000},
    {"m", 60ULL * 1000},
    {"s", 1000},
    {"ms", 1},
};
#define NUNITS (sizeof units / sizeof units[0])

ps_err ps_time_parse_duration(const char *s, int64_t *out_ms)
{
    const char *p = s;
    uint64_t total = 0;
    size_t next_unit = 0; /* units must come largest first, each at most once */
    if (!s || !(s[0] >= '0' && s[0] <= '9'))
        return PS_ERR_INVALID;
    while (*p) {
        uint64_t v;
        size_t u, ulen = 0;
        const char *q = ps_num_read_u64(p, &v);
        if (!q)
            return (*p >= '0' && *p <= '9') ? PS_ERR_RANGE : PS_ERR_INVALID;
        if (*q == '\0' && p == s) {
            /* A bare number is seconds, like sleep(1) and most config files. */
            if (v > (uint64_t)INT64_MAX / 1000)
                return PS_ERR_RANGE;
            *out_ms = (int64_t)(v * 1000);
            return PS_OK;
        }
        while (q[ulen] >= 'a' && q[ulen] <= 'z')
            ulen++;
        for (u = next_unit; u < NUNITS; u++)
            if (strlen(units[u].name) == ulen && strncmp(q, units[u].name, ulen) == 0)
                break;
        if (ulen == 0 || u == NUNITS)
            return PS_ERR_INVALID;
        if (v > ((uint64_t)INT64_MAX - total) / units[u].ms)
            return PS_ERR_RANGE;
        total += v * units[u].ms;
        next_unit = u + 1;
        p = q + ulen;
    }
    *out_ms = (int64_t)total;
    return PS_OK;
}

void ps_time_format_duration(int64_t ms, char *buf, size_t len)
{
    size_t used = 0;
    uint64_t rest;
    if (!buf || len == 0)
        return;
    if (ms <= 0) {
        snprintf(buf, len, ms == 0 ? "0s" : "%lldms", (long long)ms);
        return;
    }
    rest = (uint64_t)ms;
    buf[0] = '\0';
    /* Days at most: "14d" reads better in a bound than "2w". */
    for (size_t u = 1; u < NUNITS && rest > 0; u++) {
        uint64_t n = rest / units[u].ms;
        int w;
        if (n == 0)
            continue;
        rest -= n * units[u].ms;
        if (used >= len)
            continue;
        w = snprintf(buf + used, len - used, "%llu%s", (unsigned long long)n, units[u].name);
        if (w > 0)
            used += (size_t)w;
    }
}

void ps_time_format_elapsed(int64_t ms, char *buf, size_t len)
{
    if (ms < 0)
        ms = 0;
    if (ms < 1000)
        snprintf(buf, len, "%lldms", (long long)ms);
    else if (ms < 60000)
        snprintf(buf, len, "%.1fs", (double)ms / 1000.0);
    else if (ms < 3600000)
        snprintf(buf, len, "%lldm%02llds", (long long)(ms / 60000), (long long)(ms / 1000 % 60));
    else if (ms < 86400000)
        snprintf(buf, len, "%lldh%02lldm", (long long)(ms / 3600000), (long long)(ms / 60000 % 60));
    else
        snprintf(buf, len, "%lldd%02lldh", (long long)(ms / 86400000),
                 (long long)(ms / 3600000 % 24));
}

/* ---- local time ------------------------------------------------------------------- */

bool ps_time_format_local(int64_t us, bool utc, bool seconds, char *buf, size_t len)
{
    struct tm tm;
    int64_t secs = floor_div(us, PS_TIME_US_PER_S);
    if (!buf || len == 0)
        return false;
    if (utc || !ps_plat_localtime(secs, &tm)) {
        char iso[48];
        ps_time_format_iso(us, iso, sizeof iso);
        /* "2024-05-22T14:03:11.000000Z" -> "2024-05-22 14:03:11" */
        iso[10] = ' ';
        iso[seconds ? 19 : 16] = '\0';
        snprintf(buf, len, "%s", iso);
        return utc;
    }
    strftime(buf, len, seconds ? "%Y-%m-%d %H:%M:%S" : "%Y-%m-%d %H:%M", &tm);
    return true;
}

static const char when_forms[] =
    "use a duration before now (30s, 15m, 2h, 7d, 2w), now, today, yesterday, or a date and "
    "time such as 2024-05-22, \"2024-05-22 14:30\" or 2024-05-22T14:30:05Z";

/* Local broken-down time to UTC seconds; mktime settles summer time (-1). */
static ps_err local_to_utc(struct tm *tm, int64_t *out_s, const char *s, ps_errmsg *em)
{
    time_t t;
    tm->tm_isdst = -1;
    t = mktime(tm);
    if (t == (time_t)-1)
        return ps_errmsg_set(em, PS_ERR_INVALID, "'%s' is not a time in the local time zone", s);
    *out_s = (int64_t)t;
    return PS_OK;
}

/* "today" and "yesterday": local midnight. */
static ps_err parse_day_word(const char *s, int64_t now_us, int64_t *out_us, ps_errmsg *em)
{
    struct tm tm;
    int64_t secs = 0;
    ps_err err;
    if (!ps_plat_localtime(floor_div(now_us, PS_TIME_US_PER_S), &tm))
        return ps_errmsg_set(em, PS_ERR_INVALID, "the clock is out of range");
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    if (s[0] == 'y')
        tm.tm_mday -= 1;
    if ((err = local_to_utc(&tm, &secs, s, em)) != PS_OK)
        return err;
    *out_us = secs * PS_TIME_US_PER_S;
    return PS_OK;
}

/* A date, with or without a time and an offset. */
static ps_err parse_date_time(const char *s, int64_t *out_us, ps_errmsg *em)
{
    static const char *const month_name[12] = {"January",   "February", "March",    "April",
                                               "May",       "June",     "July",     "August",
                                               "September", "October",  "November", "December"};
    iso_parts t;
    struct tm tm;
    int64_t secs = 0;
    ps_err err;
    if (!read_iso(s, false, &t))
        return ps_errmsg_set(em, PS_ERR_INVALID, "'%s' is not a time: %s", s, when_forms);
    if (t.d > ps_time_days_in_month(t.y, t.mo))
        return ps_errmsg_set(em, PS_ERR_INVALID, "'%s' is not a date: %s %d has %d days", s,
                             month_name[t.mo - 1], t.y, ps_time_days_in_month(t.y, t.mo));
    if (t.has_offset) {
        *out_us = utc_us(&t);
        return PS_OK;
    }
    memset(&tm, 0, sizeof tm);
    tm.tm_year = t.y - 1900;
    tm.tm_mon = t.mo - 1;
    tm.tm_mday = t.d;
    tm.tm_hour = t.h;
    tm.tm_min = t.mi;
    tm.tm_sec = t.s;
    if ((err = local_to_utc(&tm, &secs, s, em)) != PS_OK)
        return err;
    *out_us = secs * PS_TIME_US_PER_S + t.frac_us;
    return PS_OK;
}

/* True when s is only digits: a bare number, which as a time is ambiguous (a
 * year? seconds?). */
static bool all_digits(const char *s)
{
    return s[strspn(s, "0123456789")] == '\0';
}

ps_err ps_time_parse_when(const char *s, int64_t now_us, int64_t *out_us, ps_errmsg *em)
{
    int64_t ms = 0;
    if (!s || !*s)
        return ps_errmsg_set(em, PS_ERR_INVALID, "an empty time: %s", when_forms);
    if (strcmp(s, "now") == 0) {
        *out_us = now_us;
        return PS_OK;
    }
    if (strcmp(s, "today") == 0 || strcmp(s, "yesterday") == 0)
        return parse_day_word(s, now_us, out_us, em);
    if (!all_digits(s) && ps_time_parse_duration(s, &ms) == PS_OK) {
        if (ms > INT64_MAX / 1000 || now_us < INT64_MIN + ms * 1000)
            return ps_errmsg_set(em, PS_ERR_INVALID, "'%s' is too long ago", s);
        *out_us = now_us - ms * 1000;
        return PS_OK;
    }
    return parse_date_time(s, out_us, em);
}
