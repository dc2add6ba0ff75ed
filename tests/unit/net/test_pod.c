/* ps_pod: the POD Log API's URL, time format, status actions and archive windows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "net/ps_pod.h"

#define HOUR PS_POD_US_PER_HOUR
/* 2025-01-02T03:04:05Z */
#define T0 (INT64_C(1735787045) * 1000000)

static void test_time_format(void **state)
{
    char buf[PS_POD_TIME_LEN];
    ps_pod_format_time(T0 + 999999, buf, sizeof buf);
    assert_string_equal(buf, "2025-01-02T03:04:05.000-0000");
    ps_pod_format_time(0, buf, sizeof buf);
    assert_string_equal(buf, "1970-01-01T00:00:00.000-0000");
    ps_pod_format_time(-1, buf, sizeof buf);
    assert_string_equal(buf, "1969-12-31T23:59:59.000-0000");
    (void)state;
}

static void test_live_url(void **state)
{
    char *url = ps_pod_stream_url("wss://logstream.proofpoint.com/v1/stream", "acme_hosted",
                                  "message", 0, 0);
    assert_non_null(url);
    assert_string_equal(url,
                        "wss://logstream.proofpoint.com/v1/stream?cid=acme_hosted&type=message");
    free(url);
    /* an endpoint with a query of its own gets '&'; values are percent-encoded */
    url = ps_pod_stream_url("wss://h/v1/stream?x=1", "a b&c", "maillog", 0, 0);
    assert_string_equal(url, "wss://h/v1/stream?x=1&cid=a%20b%26c&type=maillog");
    free(url);
    (void)state;
}

static void test_archive_url(void **state)
{
    char *url = ps_pod_stream_url("wss://h/v1/stream", "c", "audit", ps_pod_hour_floor(T0),
                                  ps_pod_hour_ceil(T0));
    assert_string_equal(url, "wss://h/v1/stream?cid=c&type=audit"
                             "&sinceTime=2025-01-02T03%3A00%3A00.000-0000"
                             "&toTime=2025-01-02T04%3A00%3A00.000-0000");
    free(url);
    (void)state;
}

static void test_status_actions(void **state)
{
    assert_int_equal(ps_pod_status_action(401), PS_POD_UNAUTHORISED);
    assert_int_equal(ps_pod_status_action(400), PS_POD_FATAL);
    assert_int_equal(ps_pod_status_action(404), PS_POD_FATAL);
    assert_int_equal(ps_pod_status_action(405), PS_POD_FATAL);
    assert_int_equal(ps_pod_status_action(409), PS_POD_CONFLICT);
    assert_int_equal(ps_pod_status_action(0), PS_POD_BACKOFF);
    assert_int_equal(ps_pod_status_action(426), PS_POD_BACKOFF);
    assert_int_equal(ps_pod_status_action(503), PS_POD_BACKOFF);
    assert_string_equal(ps_pod_status_hint(404), "wrong endpoint URL");
    assert_non_null(ps_pod_status_hint(400));
    assert_non_null(ps_pod_status_hint(405));
    assert_null(ps_pod_status_hint(401));
    assert_null(ps_pod_status_hint(503));
    (void)state;
}

static void test_hours(void **state)
{
    int64_t h = ps_pod_hour_floor(T0);
    assert_true(h == T0 - (4 * 60 + 5) * INT64_C(1000000));
    assert_true(ps_pod_hour_floor(h) == h);
    assert_true(ps_pod_hour_ceil(h) == h);
    assert_true(ps_pod_hour_ceil(T0) == h + HOUR);
    assert_true(ps_pod_hour_floor(-1) == -HOUR);
    (void)state;
}

static void test_archive_window(void **state)
{
    int64_t since, until;
    int64_t h = ps_pod_hour_floor(T0);
    /* rounded out to whole hours */
    assert_true(ps_pod_archive_window(T0 - 15 * 60 * INT64_C(1000000), T0, T0, &since, &until));
    assert_true(since == h - HOUR);
    assert_true(until == h + HOUR);
    /* an empty or reversed window still asks for one hour */
    assert_true(ps_pod_archive_window(h, h, T0, &since, &until));
    assert_true(since == h && until == h + HOUR);
    assert_true(ps_pod_archive_window(T0 + HOUR, T0, T0, &since, &until));
    assert_true(since == h + HOUR && until == h + 2 * HOUR);
    /* beyond the archive's reach: moved up to the first whole hour inside it */
    assert_false(ps_pod_archive_window(T0 - 40 * 24 * HOUR, T0, T0, &since, &until));
    assert_true(since == h + HOUR - PS_POD_ARCHIVE_REACH_US);
    assert_true(until == h + HOUR);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_format), cmocka_unit_test(test_live_url),
        cmocka_unit_test(test_archive_url), cmocka_unit_test(test_status_actions),
        cmocka_unit_test(test_hours),       cmocka_unit_test(test_archive_window),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
