/* ps_out_http: Retry-After, which answers are retried, JSON strings, gzip, request
 * packing and the delivered prefix of a batch, the error line, a peer that does not
 * answer. (TLS against a wrong CA: tests/outputs/test_plugins.py.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <zlib.h>

#include "output/ps_out_http.h"

static void test_retry_after(void **state)
{
    /* Wed, 21 Oct 2015 07:28:00 GMT = 1445412480 */
    assert_int_equal(ps_out_http_retry_after("120", 0), 120000);
    assert_int_equal(ps_out_http_retry_after(" 0 ", 0), 0);
    assert_int_equal(ps_out_http_retry_after("99999999", 0), 3600000);
    assert_int_equal(ps_out_http_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470), 10000);
    assert_int_equal(ps_out_http_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412490), 0);
    assert_int_equal(ps_out_http_retry_after("soon", 0), -1);
    assert_int_equal(ps_out_http_retry_after("12s", 0), -1);
    assert_int_equal(ps_out_http_retry_after(NULL, 0), -1);
    (void)state;
}

static void test_transient(void **state)
{
    assert_true(ps_out_http_transient(0));
    assert_true(ps_out_http_transient(429));
    assert_true(ps_out_http_transient(503));
    assert_true(ps_out_http_transient(408));
    assert_false(ps_out_http_transient(400));
    assert_false(ps_out_http_transient(401));
    assert_false(ps_out_http_transient(403));
    assert_false(ps_out_http_transient(413));
    (void)state;
}

/* No answer is retried, unless the server's certificate did not verify: that waits for
 * a new certificate or configuration, in state error. */
static void test_fail_tls_refused(void **state)
{
    ps_out_http_resp r = {.status = 0, .retry_after_ms = -1};
    ps_output_result res;
    memset(&res, 0, sizeof res);
    snprintf(r.error, sizeof r.error, "Could not connect to server");
    ps_out_http_fail(&r, "clickhouse insert", &res);
    assert_int_equal(res.status, PS_OUTPUT_RETRY);
    assert_true(res.nothing_sent);
    r.tls_refused = true;
    snprintf(r.error, sizeof r.error, "SSL certificate problem: certificate has expired");
    ps_out_http_fail(&r, "clickhouse insert", &res);
    assert_int_equal(res.status, PS_OUTPUT_FAILED);
    assert_true(res.nothing_sent);
    assert_string_equal(res.message,
                        "clickhouse insert: SSL certificate problem: certificate has expired");
    (void)state;
}

static void test_json_string(void **state)
{
    ps_buf b = {0};
    assert_int_equal(ps_out_json_string(&b, "a\"b\\c\n\x01 \xc3\xa9"), PS_OK);
    assert_string_equal(b.p, "\"a\\\"b\\\\c\\u000a\\u0001 \xc3\xa9\"");
    b.len = 0;
    assert_int_equal(ps_out_json_string(&b, ""), PS_OK);
    assert_string_equal(b.p, "\"\"");
    ps_buf_deinit(&b);
    (void)state;
}

static void test_gzip_round_trip(void **state)
{
    ps_buf z = {0};
    char text[20000], back[20001];
    uLongf backlen = sizeof back;
    z_stream s;

    for (size_t i = 0; i < sizeof text; i++)
        text[i] = "{\"guid\":\"abc\"}"[i % 14];
    assert_int_equal(ps_out_gzip(text, sizeof text, &z, NULL), PS_OK);
    assert_true(z.len < sizeof text / 10);
    assert_int_equal((unsigned char)z.p[0], 0x1f); /* gzip magic, not zlib */
    assert_int_equal((unsigned char)z.p[1], 0x8b);
    memset(&s, 0, sizeof s);
    assert_int_equal(inflateInit2(&s, 15 + 16), Z_OK);
    s.next_in = (Bytef *)z.p;
    s.avail_in = (uInt)z.len;
    s.next_out = (Bytef *)back;
    s.avail_out = (uInt)backlen;
    assert_int_equal(inflate(&s, Z_FINISH), Z_STREAM_END);
    assert_int_equal(s.total_out, sizeof text);
    assert_memory_equal(back, text, sizeof text);
    inflateEnd(&s);
    ps_buf_deinit(&z);
    (void)state;
}

static ps_err render(void *ctx, const ps_output_event *e, ps_buf *out)
{
    (void)ctx;
    return ps_buf_append(out, e->json, e->json_len);
}

/* Events 1, 2 (in two parts), 3: ids 1 2 2 3. */
static const ps_output_event evs[] = {
    {.id = 1, .json = "aaaa", .json_len = 4, .part = 1, .parts = 1},
    {.id = 2, .json = "bbbb", .json_len = 4, .part = 1, .parts = 2},
    {.id = 2, .json = "cccc", .json_len = 4, .part = 2, .parts = 2},
    {.id = 3, .json = "dddd", .json_len = 4, .part = 1, .parts = 1},
};
static const ps_output_batch batch = {.events = evs, .count = 4, .bytes = 16};

static void test_pack(void **state)
{
    ps_buf body = {0};
    ps_err err;
    /* "[aaaa,bbbb]" is 11 bytes; a third would make 16. */
    size_t next = ps_out_pack(&batch, 0, 12, "[", ",", "]", render, NULL, &body, &err);
    assert_int_equal(err, PS_OK);
    assert_int_equal(next, 2);
    assert_string_equal(body.p, "[aaaa,bbbb]");
    next = ps_out_pack(&batch, 2, 1000, "[", ",", "]", render, NULL, &body, &err);
    assert_int_equal(next, 4);
    assert_string_equal(body.p, "[cccc,dddd]");
    /* One event over the limit still goes, alone. */
    next = ps_out_pack(&batch, 0, 3, "", "\n", "", render, NULL, &body, &err);
    assert_int_equal(next, 1);
    assert_string_equal(body.p, "aaaa");
    ps_buf_deinit(&body);
    (void)state;
}

static void test_delivered_before(void **state)
{
    assert_int_equal(ps_out_delivered_before(&batch, 0), 0);
    assert_int_equal(ps_out_delivered_before(&batch, 1), 1);
    /* The first part of event 2 went, the second did not: event 2 is not delivered. */
    assert_int_equal(ps_out_delivered_before(&batch, 2), 1);
    assert_int_equal(ps_out_delivered_before(&batch, 3), 2);
    assert_int_equal(ps_out_delivered_before(&batch, 4), 3);
    (void)state;
}

static void test_nothing_taken(void **state)
{
    ps_out_http_resp r = {.sent = true, .status = 503};
    assert_true(ps_out_http_nothing_taken(&r)); /* refused: nothing of it was taken */
    r.status = 413;
    assert_true(ps_out_http_nothing_taken(&r));
    r.status = 0; /* sent, then no answer: it may have arrived */
    assert_false(ps_out_http_nothing_taken(&r));
    r.status = 204;
    assert_false(ps_out_http_nothing_taken(&r));
    r.sent = false;
    assert_true(ps_out_http_nothing_taken(&r));
    (void)state;
}

static void test_describe(void **state)
{
    ps_out_http_resp r = {.status = 403};
    ps_output_result res = {0};
    ps_buf_append(&r.body, "{\"text\":\"Invalid token\",\n\"code\":4}\n", 35);
    ps_out_http_describe(&r, "splunk hec", &res);
    assert_string_equal(res.message, "splunk hec: HTTP 403: Invalid token (code 4)");
    r.body.len = 0;
    r.status = 401;
    ps_buf_appendf(&r.body, "{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000215: "
                            "Invalid client secret provided. Ensure the secret ... Trace ID: "
                            "x\",\"error_codes\":[7000215]}");
    ps_out_http_describe(&r, "sentinel token", &res);
    assert_string_equal(res.message, "sentinel token: HTTP 401: invalid_client: AADSTS7000215: "
                                     "Invalid client secret provided.");
    r.body.len = 0;
    r.status = 413;
    ps_buf_appendf(&r.body, "{\"error\":{\"code\":\"ContentLengthLimitExceeded\",\"message\":"
                            "\"Maximum allowed content length: 1048576 bytes (1 MB).\"}}");
    ps_out_http_describe(&r, "sentinel", &res);
    assert_string_equal(res.message, "sentinel: HTTP 413: ContentLengthLimitExceeded: Maximum "
                                     "allowed content length: 1048576 bytes (1 MB).");
    r.body.len = 0;
    r.status = 500;
    ps_buf_appendf(&r.body, "Code: 60, e.displayText() = DB::Exception: Table pod.x doesn't "
                            "exist.\n");
    ps_out_http_describe(&r, "clickhouse insert", &res);
    assert_string_equal(res.message, "clickhouse insert: HTTP 500: Code: 60, e.displayText() = "
                                     "DB::Exception: Table pod.x doesn't exist.");
    r.status = 0;
    snprintf(r.error, sizeof r.error, "Connection refused");
    ps_out_http_describe(&r, "clickhouse", &res);
    assert_string_equal(res.message, "clickhouse: Connection refused");
    ps_out_http_resp_deinit(&r);
    (void)state;
}

/* Nothing listens on port 1: the exchange ends with status 0 and libcurl's reason,
 * not an error of ours. */
static void test_no_answer(void **state)
{
    ps_out_http *h = NULL;
    ps_out_http_opts o = {.connect_timeout_ms = 2000, .timeout_ms = 3000};
    ps_out_http_resp r = {0};
    const char *headers[] = {"Authorization: Splunk very-secret", NULL};

    assert_int_equal(ps_out_http_create(&o, &h, NULL), PS_OK);
    assert_int_equal(ps_out_http_post(h, "https://127.0.0.1:1/x", headers, "{}", 2, 0, &r), PS_OK);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.error, "onnect"));
    assert_false(r.sent);
    assert_true(ps_out_http_nothing_taken(&r));
    assert_null(strstr(r.error, "very-secret"));
    /* A deadline already past sends nothing. */
    assert_int_equal(ps_out_http_post(h, "https://127.0.0.1:1/x", headers, "{}", 2, 1, &r), PS_OK);
    assert_string_equal(r.error, "not sent: the output is stopping");
    ps_out_http_resp_deinit(&r);
    ps_out_http_destroy(h);
    ps_out_http_destroy(NULL);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retry_after), cmocka_unit_test(test_transient),
        cmocka_unit_test(test_json_string), cmocka_unit_test(test_gzip_round_trip),
        cmocka_unit_test(test_pack),        cmocka_unit_test(test_delivered_before),
        cmocka_unit_test(test_describe),    cmocka_unit_test(test_nothing_taken),
        cmocka_unit_test(test_no_answer),   cmocka_unit_test(test_fail_tls_refused),
    };
    int rc;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
