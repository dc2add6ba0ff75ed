/* ps_time: civil dates, ISO 8601 both ways, durations, local time, and times as an
 * admin writes them (--since, --until): one calendar for all of them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "podstream/ps_time.h"

#define SEC 1000000LL

static void set_tz(const char *tz)
{
    setenv("TZ", tz, 1);
    tzset();
}

static void test_parse_time(void **state)
{
    const int64_t now = 1716387005123456LL; /* 2024-05-22T14:10:05.123456Z */
    int64_t t = 0;
    ps_errmsg em;
    (void)state;
    set_tz("UTC");
    assert_int_equal(ps_time_parse_when("2h", now, &t, &em), PS_OK);
    assert_int_equal(t, now - 7200 * SEC);
    assert_int_equal(ps_time_parse_when("90m", now, &t, &em), PS_OK);
    assert_int_equal(t, now - 5400 * SEC);
    assert_int_equal(ps_time_parse_when("7d", now, &t, &em), PS_OK);
    assert_int_equal(t, now - 7 * 86400 * SEC);
    assert_int_equal(ps_time_parse_when("2w", now, &t, &em), PS_OK);
    assert_int_equal(t, now - 14 * 86400 * SEC);
    assert_int_equal(ps_time_parse_when("30s", now, &t, &em), PS_OK);
    assert_int_equal(t, now - 30 * SEC);
    assert_int_equal(ps_time_parse_when("now", now, &t, &em), PS_OK);
    assert_int_equal(t, now);
    assert_int_equal(ps_time_parse_when("today", now, &t, &em), PS_OK);
    assert_int_equal(t, 1716336000LL * SEC);
    assert_int_equal(ps_time_parse_when("yesterday", now, &t, &em), PS_OK);
    assert_int_equal(t, (1716336000LL - 86400) * SEC);
    assert_int_equal(ps_time_parse_when("2024-05-22", now, &t, &em), PS_OK);
    assert_int_equal(t, 1716336000LL * SEC);
    assert_int_equal(ps_time_parse_when("2024-05-22 14:30", now, &t, &em), PS_OK);
    assert_int_equal(t, (1716336000LL + 14 * 3600 + 1800) * SEC);
    assert_int_equal(ps_time_parse_when("2024-05-22T14:30:05.25Z", now, &t, &em), PS_OK);
    assert_int_equal(t, (1716336000LL + 14 * 3600 + 1805) * SEC + 250000);
    assert_int_equal(ps_time_parse_when("2024-05-22T14:30:05+02:00", now, &t, &em), PS_OK);
    assert_int_equal(t, (1716336000LL + 12 * 3600 + 1805) * SEC);
    assert_int_equal(ps_time_parse_when("2024-05-22T14:30:05-0700", now, &t, &em), PS_OK);
    assert_int_equal(t, (1716336000LL + 21 * 3600 + 1805) * SEC);
    /* Local time follows TZ, summer time included. */
    set_tz("CET-1CEST,M3.5.0,M10.5.0/3");
    assert_int_equal(ps_time_parse_when("2024-05-22 14:30", now, &t, &em), PS_OK);
    assert_int_equal(t, (1716336000LL + 12 * 3600 + 1800) * SEC);
    assert_int_equal(ps_time_parse_when("2024-01-22 14:30", now, &t, &em), PS_OK);
    assert_int_equal(t, (1705881600LL + 13 * 3600 + 1800) * SEC);
    assert_int_equal(ps_time_parse_when("today", now, &t, &em), PS_OK);
    assert_int_equal(t, (1716336000LL - 2 * 3600) * SEC);
    set_tz("UTC");
    assert_int_equal(ps_time_parse_when("2 hours", now, &t, &em), PS_ERR_INVALID);
    assert_string_equal(em.text,
                        "'2 hours' is not a time: use a duration before now (30s, 15m, 2h, 7d, "
                        "2w), now, today, yesterday, or a date and time such as 2024-05-22, "
                        "\"2024-05-22 14:30\" or 2024-05-22T14:30:05Z");
    assert_int_equal(ps_time_parse_when("2024-13-01", now, &t, &em), PS_ERR_INVALID);
    assert_int_equal(ps_time_parse_when("2024-05-22T25:00", now, &t, &em), PS_ERR_INVALID);
    assert_int_equal(ps_time_parse_when("2024-05-22T10:00+5", now, &t, &em), PS_ERR_INVALID);
    assert_int_equal(ps_time_parse_when("", now, &t, &em), PS_ERR_INVALID);
    assert_int_equal(ps_time_parse_when("5y", now, &t, &em), PS_ERR_INVALID);
}

/* Days the month does not have are refused and named, not rolled over into the
 * next month as mktime would. */
static void test_parse_when_calendar(void **state)
{
    const int64_t now = 1716387005123456LL;
    int64_t t = 0;
    ps_errmsg em;
    (void)state;
    set_tz("UTC");
    assert_int_equal(ps_time_parse_when("2024-02-31", now, &t, &em), PS_ERR_INVALID);
    assert_string_equal(em.text, "'2024-02-31' is not a date: February 2024 has 29 days");
    assert_int_equal(ps_time_parse_when("2024-02-29", now, &t, &em), PS_OK);
    assert_int_equal(t, 1709164800LL * SEC);
    assert_int_equal(ps_time_parse_when("2023-02-29", now, &t, &em), PS_ERR_INVALID);
    assert_string_equal(em.text, "'2023-02-29' is not a date: February 2023 has 28 days");
    assert_int_equal(ps_time_parse_when("2024-04-31T10:00Z", now, &t, &em), PS_ERR_INVALID);
    assert_string_equal(em.text, "'2024-04-31T10:00Z' is not a date: April 2024 has 30 days");
    assert_int_equal(ps_time_parse_when("2000-02-29", now, &t, &em), PS_OK);
    assert_int_equal(ps_time_parse_when("1900-02-29", now, &t, &em), PS_ERR_INVALID);
    assert_int_equal(ps_time_parse_when("2024-12-31T23:59:59Z", now, &t, &em), PS_OK);
    assert_int_equal(t, 1735689599LL * SEC);
    /* Local time too: not 2 March. */
    set_tz("CET-1CEST,M3.5.0,M10.5.0/3");
    assert_int_equal(ps_time_parse_when("2024-02-31 10:00", now, &t, &em), PS_ERR_INVALID);
    set_tz("UTC");
}

/* --since takes every duration the configuration takes (and weeks), but not a
 * bare number, which could be a year as well as seconds. */
static void test_parse_when_durations(void **state)
{
    const int64_t now = 1716387005123456LL;
    int64_t t = 0;
    ps_errmsg em;
    (void)state;
    assert_int_equal(ps_time_parse_when("1h30m", now, &t, &em), PS_OK);
    assert_int_equal(t, now - 90 * 60 * SEC);
    assert_int_equal(ps_time_parse_when("1d12h", now, &t, &em), PS_OK);
    assert_int_equal(t, now - 36 * 3600 * SEC);
    assert_int_equal(ps_time_parse_when("1w2d", now, &t, &em), PS_OK);
    assert_int_equal(t, now - 9 * 86400 * SEC);
    assert_int_equal(ps_time_parse_when("500ms", now, &t, &em), PS_OK);
    assert_int_equal(t, now - 500000);
    assert_int_equal(ps_time_parse_when("90", now, &t, &em), PS_ERR_INVALID);
    assert_int_equal(ps_time_parse_when("2024", now, &t, &em), PS_ERR_INVALID);
    assert_int_equal(ps_time_parse_when("30m1h", now, &t, &em), PS_ERR_INVALID);
    assert_int_equal(ps_time_parse_when("9223372036854775807w", now, &t, &em), PS_ERR_INVALID);
    assert_int_equal(ps_time_parse_when("9223372036854775s", now, &t, &em), PS_ERR_INVALID);
}

static void test_civil(void **state)
{
    int64_t y;
    int m, d;
    (void)state;
    assert_int_equal(ps_time_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(ps_time_days_from_civil(2024, 5, 22), 19865);
    assert_int_equal(ps_time_days_from_civil(1969, 12, 31), -1);
    for (int64_t day = -800000; day <= 800000; day += 997) {
        ps_time_civil_from_days(day, &y, &m, &d);
        assert_true(d >= 1 && d <= ps_time_days_in_month(y, m));
        assert_int_equal(ps_time_days_from_civil(y, m, d), day);
    }
    assert_int_equal(ps_time_days_in_month(2024, 2), 29);
    assert_int_equal(ps_time_days_in_month(2100, 2), 28);
    assert_int_equal(ps_time_days_in_month(2000, 2), 29);
    assert_int_equal(ps_time_days_in_month(2024, 13), 0);
    assert_true(ps_time_is_leap(2000));
    assert_false(ps_time_is_leap(1900));
}

static void test_iso(void **state)
{
    static const char *const bad[] = {
        "2024-05-22",
        "2024-05-22T10:00Z",
        "2024-05-22T10:00:00",
        "2024-02-30T10:00:00Z",
        "2023-02-29T00:00:00Z",
        "2024-05-22T10:00:00.Z",
        "2024-05-22T10:00:00,5Z",
        "2024-05-22T10:00:00.1234567890Z",
        "2024-05-22T10:00:00+02",
        "2024-05-22T24:00:00Z",
        "2024-05-22T10:00:00Zx",
        "2024-05-22x10:00:00Z",
    };
    char buf[40];
    int64_t us = 0;
    (void)state;
    assert_int_equal(ps_time_parse_iso("2024-05-22T19:10:03.058340Z", &us), PS_OK);
    assert_int_equal(us, 1716405003058340LL);
    assert_int_equal(ps_time_parse_iso("2024-05-22t12:10:03.058340999-07:00", &us), PS_OK);
    assert_int_equal(us, 1716405003058340LL);
    assert_int_equal(ps_time_parse_iso("2024-02-29 00:00:00+0000", &us), PS_OK);
    assert_int_equal(ps_time_parse_iso("2016-12-31T23:59:60Z", &us), PS_OK);
    assert_int_equal(us, 1483228800LL * SEC);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (ps_time_parse_iso(bad[i], &us) != PS_ERR_PARSE)
            fail_msg("accepted %s", bad[i]);
    assert_int_equal(ps_time_parse_iso(NULL, &us), PS_ERR_PARSE);
    ps_time_format_iso(1716405003058340LL, buf, sizeof buf);
    assert_string_equal(buf, "2024-05-22T19:10:03.058340Z");
    ps_time_format_iso(-500000, buf, sizeof buf);
    assert_string_equal(buf, "1969-12-31T23:59:59.500000Z");
    ps_time_format_iso(0, buf, 11);
    assert_string_equal(buf, "1970-01-01");
}

static void test_durations(void **state)
{
    char buf[32];
    int64_t ms = -5;
    (void)state;
    assert_int_equal(ps_time_parse_duration("30", &ms), PS_OK);
    assert_int_equal(ms, 30000);
    assert_int_equal(ps_time_parse_duration("1m30s500ms", &ms), PS_OK);
    assert_int_equal(ms, 90500);
    assert_int_equal(ps_time_parse_duration("2w", &ms), PS_OK);
    assert_int_equal(ms, 14LL * 86400 * 1000);
    assert_int_equal(ps_time_parse_duration("1d1w", &ms), PS_ERR_INVALID);
    assert_int_equal(ps_time_parse_duration("5 minutes", &ms), PS_ERR_INVALID);
    assert_int_equal(ps_time_parse_duration("-1s", &ms), PS_ERR_INVALID);
    assert_int_equal(ps_time_parse_duration("99999999999999999999s", &ms), PS_ERR_RANGE);
    ps_time_format_duration(0, buf, sizeof buf);
    assert_string_equal(buf, "0s");
    ps_time_format_duration(14LL * 86400 * 1000 + 5400000, buf, sizeof buf);
    assert_string_equal(buf, "14d1h30m");
    ps_time_format_elapsed(850, buf, sizeof buf);
    assert_string_equal(buf, "850ms");
    ps_time_format_elapsed(12400, buf, sizeof buf);
    assert_string_equal(buf, "12.4s");
    ps_time_format_elapsed(185000, buf, sizeof buf);
    assert_string_equal(buf, "3m05s");
    ps_time_format_elapsed(7800000, buf, sizeof buf);
    assert_string_equal(buf, "2h10m");
    ps_time_format_elapsed(4LL * 86400000 - 72000000, buf, sizeof buf);
    assert_string_equal(buf, "3d04h");
    ps_time_format_elapsed(-3, buf, sizeof buf);
    assert_string_equal(buf, "0ms");
}

static void test_format_local(void **state)
{
    char buf[40];
    (void)state;
#ifdef _WIN32
    /* The C runtime reads only "XXX[+-]h" from TZ and takes the zone's rules and names
     * from the system: a test cannot set a zone as on Linux. */
    skip();
#endif
    set_tz("Asia/Tokyo");
    assert_true(ps_time_format_local(1716405003058340LL, false, true, buf, sizeof buf));
    assert_string_equal(buf, "2024-05-23 04:10:03");
    assert_true(ps_time_format_local(1716405003058340LL, true, false, buf, sizeof buf));
    assert_string_equal(buf, "2024-05-22 19:10");
    set_tz("UTC");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_parse_when_calendar),
        cmocka_unit_test(test_parse_when_durations),
        cmocka_unit_test(test_civil),
        cmocka_unit_test(test_iso),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_format_local),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
