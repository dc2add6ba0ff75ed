/* ps_event: natural keys and typed fields, checked against the shared POD fixtures
 * and hand-made edge cases (frames that are not events, ts and RFC 2047 subjects
 * are in test_event_frames.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "event_fixture.h"
#include "podstream/ps_event.h"

#ifdef PS_HAVE_PODSIM_GEN
#include "podsim_gen.h"
#endif

typedef struct expected {
    const char *ts_utc;
    int64_t ts_us;
    const char *key;
    double score;
    int64_t size;
    const char *text[PS_EF__COUNT];
    bool has_score;
    bool has_size;
} expected;

static void assert_event(const ps_event *ev, const expected *x)
{
    assert_int_equal(ev->ts_us, x->ts_us);
    assert_ts(ev->ts_us, x->ts_utc);
    assert_string_equal(ev->key, x->key);
    for (int f = 0; f < PS_EF__COUNT; f++) {
        if (!x->text[f]) {
            if (ev->text[f])
                fail_msg("%s: expected NULL, got \"%s\"", ps_event_field_name(f), ev->text[f]);
        } else if (!ev->text[f]) {
            fail_msg("%s: expected \"%s\", got NULL", ps_event_field_name(f), x->text[f]);
        } else if (strcmp(ev->text[f], x->text[f]) != 0) {
            fail_msg("%s: expected \"%s\", got \"%s\"", ps_event_field_name(f), x->text[f],
                     ev->text[f]);
        }
    }
    assert_int_equal(ev->has_spam_score, x->has_score);
    if (x->has_score)
        assert_true(ev->spam_score == x->score);
    assert_int_equal(ev->has_size, x->has_size);
    if (x->has_size)
        assert_int_equal(ev->size_bytes, x->size);
}

/* ---- fixtures: every shared sample, every field -------------------------------- */

static const expected message_samples[] = {
    {.ts_utc = "2024-05-22T19:10:03.058340Z",
     .ts_us = 1716405003058340,
     .key = "vRq4ZIFWHXbuABCDEFghij0U4VvIc71x",
     .text = {[PS_EF_SENDER] = "pps@m0000123.ppops.net",
              [PS_EF_RECIPIENTS] = "pps@m0000123.ppops.net",
              [PS_EF_SUBJECT] = "Cron <pps@m0000123> /opt/proofpoint/resttimer.pl",
              [PS_EF_DISPOSITION] = "accept",
              [PS_EF_ACTION] = "accept",
              [PS_EF_MODULE] = "access",
              [PS_EF_RULE] = "system",
              [PS_EF_DIRECTION] = "outbound",
              [PS_EF_QID] = "44ABCDm0000123",
              [PS_EF_MESSAGE_ID] = "<212345678910.44ACDE123370@m0000123.ppops.net>",
              [PS_EF_CLIENT_IP] = "127.0.0.1",
              [PS_EF_CLIENT_HOST] = "localhost",
              [PS_EF_COUNTRY] = "**"},
     .has_size = true,
     .size = 1151},
    {.ts_utc = "2024-05-22T19:16:36.732104Z",
     .ts_us = 1716405396732104,
     .key = "KPeRGjtKOIb4_ABCDEIh61234567Eb0u",
     .text = {[PS_EF_SENDER] = "mailive@example.com",
              [PS_EF_RECIPIENTS] = "mailive@example.com",
              [PS_EF_SUBJECT] = "Mailive! Test - [FSMAILID:gmExdGNwNzQ5NTABCDEFGHIJKkZDABCDFn]",
              [PS_EF_DISPOSITION] = "accept",
              [PS_EF_ACTION] = "accept",
              [PS_EF_MODULE] = "access",
              [PS_EF_RULE] = "pod-maillive",
              [PS_EF_DIRECTION] = "outbound",
              [PS_EF_QID] = "44MJBiAY027516",
              [PS_EF_MESSAGE_ID] =
                  "<1716405396317943545.61253.6388564123456789748@test.example.net>",
              [PS_EF_CLIENT_IP] = "89.160.20.112",
              [PS_EF_CLIENT_HOST] = "test.example.net",
              [PS_EF_COUNTRY] = "us"},
     .has_size = true,
     .size = 833},
    {.ts_utc = "2022-08-26T00:25:21.071953Z",
     .ts_us = 1661473521071953,
     .key = "rkuzwIede_tYDQ-P7qUoNlwm6Hz3u1R5",
     .text = {[PS_EF_SENDER] = "kpereira@cloudadminuidemo.com",
              [PS_EF_RECIPIENTS] = "amartinez@thopedia.com",
              [PS_EF_SUBJECT] = "[wmoms] ctts",
              [PS_EF_DISPOSITION] = "continue",
              [PS_EF_ACTION] = "continue",
              [PS_EF_MODULE] = "av",
              [PS_EF_RULE] = "clean",
              [PS_EF_DIRECTION] = "outbound",
              [PS_EF_QID] = "27Q0O7ss000303",
              [PS_EF_MESSAGE_ID] = "<1C30CBDA666538428B33679A1FB67AFDBA380B@bumail.bradley.edu>",
              [PS_EF_CLIENT_IP] = "66.218.66.103",
              [PS_EF_CLIENT_HOST] = "n35.grp.scd.yahoo.com",
              [PS_EF_COUNTRY] = "us"},
     .has_score = true,
     .score = 0,
     .has_size = true,
     .size = 4275},
    {.ts_utc = "2022-09-12T01:28:19.902627Z",
     .ts_us = 1662946099902627,
     .key = "5PVdahx3PMGFONShVUQ19uni34-uVQRm",
     .text = {[PS_EF_SENDER] = "user1@example.net",
              [PS_EF_RECIPIENTS] = "ceo@exec.vogon.science",
              [PS_EF_SUBJECT] = "REDACTED",
              [PS_EF_DISPOSITION] = "discard",
              [PS_EF_ACTION] = "discard",
              [PS_EF_MODULE] = "spam",
              [PS_EF_RULE] = "phish",
              [PS_EF_DIRECTION] = "internal",
              [PS_EF_QID] = "3jgptm9dux-1",
              [PS_EF_MESSAGE_ID] = "<20220912092800466772@example.net>",
              [PS_EF_CLIENT_IP] = "5.6.7.8",
              [PS_EF_CLIENT_HOST] = "1-2-3-4.example.com",
              [PS_EF_COUNTRY] = "us"},
     .has_score = true,
     .score = 100,
     .has_size = true,
     .size = 33366},
    {.ts_utc = "2022-09-23T00:06:53.370514Z",
     .ts_us = 1663891613370514,
     .key = "xjin0zM1KZbSWy8mUJvOxTV7WqFRrbd1",
     .text = {[PS_EF_SENDER] = "user3@example.org",
              [PS_EF_RECIPIENTS] = "user2@example.net",
              [PS_EF_SUBJECT] = "",
              [PS_EF_DISPOSITION] = "continue",
              [PS_EF_ACTION] = "continue",
              [PS_EF_MODULE] = "av",
              [PS_EF_RULE] = "clean",
              [PS_EF_DIRECTION] = "outbound",
              [PS_EF_QID] = "28MNsFLm006936",
              [PS_EF_MESSAGE_ID] = "<user11@example.net>",
              [PS_EF_CLIENT_IP] = "127.0.0.1",
              [PS_EF_CLIENT_HOST] = "hostname",
              [PS_EF_COUNTRY] = "**"},
     .has_score = true,
     .score = 40,
     .has_size = true,
     .size = 203},
};

static const expected maillog_samples[] = {
    {.ts_utc = "2023-08-17T21:54:12.949180Z",
     .ts_us = 1692309252949180,
     .key = "ZeYABCDefghN0123456OyA",
     .text = {[PS_EF_RECIPIENTS] = "jack@example.com",
              [PS_EF_QID] = "ABcDqYbx123123",
              [PS_EF_STAT] = "Sent",
              [PS_EF_DSN] = "2.0.0"}},
    {.ts_utc = "2024-02-15T12:25:41.855197Z",
     .ts_us = 1707999941855197,
     .key = "usCZNabcdefghijm3/1234",
     .text = {[PS_EF_RECIPIENTS] = "<mailive@example.com>",
              [PS_EF_QID] = "45JCABCD123123",
              [PS_EF_STAT] = "Sent (Ok: queued)",
              [PS_EF_DSN] = "2.0.0",
              [PS_EF_RELAY] = "abcd.example.net. [IPv6:2a02:cf40::]"}},
    {.ts_utc = "2024-06-25T12:28:32.325542Z",
     .ts_us = 1719318512325542,
     .key = "OWIsabCDeFgH/h1234n1Cw",
     .text = {[PS_EF_SENDER] = "<mailive@example.com>",
              [PS_EF_QID] = "45ABSW12341234",
              [PS_EF_MESSAGE_ID] = "<171012345678974.123456.3315712345678901186@test.example.net>",
              [PS_EF_RELAY] = "m0000123.ppops.net [127.0.0.1]"},
     .has_size = true,
     .size = 1557},
    {.ts_utc = "2024-03-19T12:28:32.533564Z",
     .ts_us = 1710851312533564,
     .key = "NABCDefGH0/I1234slqccQ",
     .text = {[PS_EF_RECIPIENTS] = "<mailive@example.com>",
              [PS_EF_QID] = "45ABSW12341234",
              [PS_EF_STAT] = "Sent (Ok: queued)",
              [PS_EF_DSN] = "2.0.0",
              [PS_EF_RELAY] = "test4.example.net. [216.160.83.56]"}},
    {.ts_utc = "2022-08-26T00:06:21.935763Z",
     .ts_us = 1661472381935763,
     .key = "41K7tSNsqcyiZCuOX1wmnQ",
     .text = {[PS_EF_RECIPIENTS] = "/dev/null",
              [PS_EF_QID] = "27PNO8ta032355",
              [PS_EF_STAT] = "Sent",
              [PS_EF_DSN] = "2.0.0"}},
};

static void check_samples(const char *env, const char *file, ps_data_type type, const expected *x,
                          int count)
{
    size_t len;
    char *all = read_fixture(env, file, &len);
    char *p = all;
    int n = 0;

    while (p < all + len) {
        char *nl = memchr(p, '\n', (size_t)(all + len - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(all + len - p);
        if (l > 0) {
            ps_event ev;
            ps_event_init(&ev);
            if (n >= count)
                fail_msg("%s has more lines than the test expects", file);
            parse_ok(&ev, type, p, l);
            assert_int_equal(ev.type, type);
            assert_event(&ev, &x[n]);
            ps_event_deinit(&ev);
            n++;
        }
        p += l + 1;
    }
    assert_int_equal(n, count);
    free(all);
}

static void test_message_samples(void **state)
{
    (void)state;
    check_samples("PS_SAMPLES", "message.jsonl", PS_DATA_MESSAGE, message_samples,
                  (int)(sizeof message_samples / sizeof message_samples[0]));
}

static void test_maillog_samples(void **state)
{
    (void)state;
    check_samples("PS_SAMPLES", "maillog.jsonl", PS_DATA_MAILLOG, maillog_samples,
                  (int)(sizeof maillog_samples / sizeof maillog_samples[0]));
}

/* Sample line 4 with its redacted subject put back as a real phishing subject would
 * arrive: three folded ISO-2022-JP words (tests/data/events/README.md). */
/* Audit events: keyed on guid; who, what, on which resource, from where, and the
 * outcome read from the <action>.<eventSubCategory> tag. */
static const expected audit_samples[] = {
    {"2025-03-04T08:15:42.118204Z", 1741076142118204, "c0a8e3f1-2b4d-4e6f-9a1b-3c5d7e9f1a2b",
     .text = {[PS_EF_ACTION] = "login",
              [PS_EF_CLIENT_IP] = "203.0.113.24",
              [PS_EF_ACTOR] = "ops.lead@example.com",
              [PS_EF_RESOURCE] = "authorization",
              [PS_EF_RESULT] = "success"}},
    {"2025-03-04T08:16:03.551020Z", 1741076163551020, "7e1f0c2d-8a3b-4c5d-9e6f-0a1b2c3d4e5f",
     .text = {[PS_EF_ACTION] = "create",
              [PS_EF_CLIENT_IP] = "203.0.113.24",
              [PS_EF_ACTOR] = "ops.lead@example.com",
              [PS_EF_RESOURCE] = "config: siem-export",
              [PS_EF_RESULT] = "success"}},
    {"2025-03-04T09:02:11.000917Z", 1741078931000917, "2f4e6a8c-0b1d-4f3a-8c5e-7a9b1c3d5e7f",
     .text = {[PS_EF_ACTION] = "edit",
              [PS_EF_CLIENT_IP] = "2001:db8::17",
              [PS_EF_ACTOR] = "Tanaka.K@example.co.jp",
              [PS_EF_RESOURCE] = "spam_module: Inbound strict",
              [PS_EF_RESULT] = "failure"}},
    {"2025-03-04T09:30:00.250000Z", 1741080600250000, "4b6d8f0a-2c4e-4a6b-8d0f-1a3c5e7b9d1f",
     .text = {[PS_EF_ACTION] = "execute",
              [PS_EF_CLIENT_IP] = "198.51.100.200",
              [PS_EF_ACTOR] = "analyst@example.org",
              [PS_EF_RESOURCE] = "smart_search",
              [PS_EF_RESULT] = "success"}},
    {"2025-03-04T09:45:59.999999Z", 1741081559999999, "6d8f0b2c-4e6a-4c8d-8f1b-3c5e7a9d1b3f",
     .text = {[PS_EF_ACTION] = "logout",
              [PS_EF_ACTOR] = "analyst@example.org",
              [PS_EF_RESOURCE] = "authorization"}},
};

static void test_audit_samples(void **state)
{
    (void)state;
    check_samples("PS_TEST_DATA", "events/audit.jsonl", PS_DATA_AUDIT, audit_samples,
                  (int)(sizeof audit_samples / sizeof audit_samples[0]));
}

static void test_japanese_fixture(void **state)
{
    size_t len;
    char *raw = read_fixture("PS_TEST_DATA", "events/message-japanese.json", &len);
    ps_event ev;
    expected x = message_samples[3];

    (void)state;
    x.text[PS_EF_SUBJECT] =
        "Amazon.co.jp にご登録のアカウント（名前、パスワード、その他個人情報）の確認";
    ps_event_init(&ev);
    parse_ok(&ev, PS_DATA_MESSAGE, raw, len);
    assert_event(&ev, &x);
    ps_event_deinit(&ev);
    free(raw);
}

static void test_quirks_fixtures(void **state)
{
    size_t len;
    char *raw = read_fixture("PS_TEST_DATA", "events/message-quirks.json", &len);
    ps_event ev;
    const expected m = {
        .ts_utc = "2024-11-02T20:00:00.123000Z",
        .ts_us = 1730577600123000,
        .key = "q1-quirks-0001",
        .text = {[PS_EF_SENDER] = "sender@example.org",
                 [PS_EF_RECIPIENTS] = "a@example.com, b@example.com, c@example.com",
                 [PS_EF_SUBJECT] = "Fallback subject", /* header subject is [] */
                 [PS_EF_DISPOSITION] = "quarantine",
                 [PS_EF_ACTION] = "quarantine", /* isFinal "true", after an isFinal false */
                 [PS_EF_MODULE] = "spam",
                 [PS_EF_RULE] = "bulk",
                 [PS_EF_DIRECTION] = "inbound",
                 [PS_EF_QID] = "4ABC123",
                 [PS_EF_MESSAGE_ID] = "<quirk-1@example.org>", /* header key "Message-ID" */
                 [PS_EF_CLIENT_IP] = "203.0.113.9",
                 [PS_EF_CLIENT_HOST] = "mx.example.org",
                 [PS_EF_COUNTRY] = "de"},
        .has_score = true,
        .score = 87.5, /* "87.5" */
        .has_size = true,
        .size = 2048, /* msg.sizeBytes "2048" wins over filter.msgSizeBytes */
    };
    const expected l = {
        .ts_utc = "2024-01-01T00:00:00.000000Z",
        .ts_us = 1704067200000000,
        .key = "ml-quirk-1",
        .text = {[PS_EF_SENDER] = "<s@example.com>",
                 [PS_EF_RECIPIENTS] = "<single@example.com>", /* sm.to as a string */
                 [PS_EF_QID] = "4XYZ01234567",
                 [PS_EF_MESSAGE_ID] = "<m@example.com>",
                 [PS_EF_STAT] = "Deferred: Connection timed out with mx.example.com.",
                 [PS_EF_DSN] = "4.4.1",
                 [PS_EF_RELAY] = "mx.example.com. [198.51.100.7]"},
        .has_size = true,
        .size = 4096, /* a number here, a string in the samples */
    };

    (void)state;
    ps_event_init(&ev);
    parse_ok(&ev, PS_DATA_MESSAGE, raw, len);
    assert_event(&ev, &m);
    free(raw);
    raw = read_fixture("PS_TEST_DATA", "events/maillog-quirks.json", &len);
    parse_ok(&ev, PS_DATA_MAILLOG, raw, len); /* reuses ev: parse must reset it */
    assert_event(&ev, &l);
    ps_event_deinit(&ev);
    ps_event_deinit(&ev); /* safe twice */
    free(raw);
}

/* ---- extraction rules ------------------------------------------------------------- */

static void test_missing_everything(void **state)
{
    ps_event ev;
    (void)state;
    extract_tree(&ev, PS_DATA_MESSAGE, base_message());
    assert_string_equal(ev.key, "guid-0001");
    for (int f = 0; f < PS_EF__COUNT; f++)
        assert_null(ev.text[f]);
    assert_false(ev.has_spam_score);
    assert_false(ev.has_size);
    ps_event_deinit(&ev);

    cJSON *root = cJSON_Parse("{\"id\":\"x\",\"ts\":\"2024-01-01T00:00:00Z\"}");
    extract_tree(&ev, PS_DATA_MAILLOG, root);
    for (int f = 0; f < PS_EF__COUNT; f++)
        assert_null(ev.text[f]);
    assert_false(ev.has_size);
    ps_event_deinit(&ev);
}

static void test_empty_objects_and_arrays(void **state)
{
    const char *raw = "{\"guid\":\"g\",\"ts\":\"2024-01-01T00:00:00Z\",\"envelope\":{\"rcpts\":[],"
                      "\"from\":{}},\"filter\":{\"actions\":[],\"modules\":{},\"qid\":[]},"
                      "\"msg\":{\"header\":{\"subject\":[],\"message-id\":[]},"
                      "\"normalizedHeader\":{}},\"connection\":{},\"msgParts\":[]}";
    ps_event ev;
    (void)state;
    ps_event_init(&ev);
    parse_ok(&ev, PS_DATA_MESSAGE, raw, strlen(raw));
    for (int f = 0; f < PS_EF__COUNT; f++)
        assert_null(ev.text[f]);
    assert_false(ev.has_spam_score);
    assert_false(ev.has_size);
    ps_event_deinit(&ev);
}

static void test_numbers_as_strings(void **state)
{
    static const struct {
        const char *path;
        const char *json; /* NULL deletes the member */
        bool has;
        int64_t size;
    } sizes[] = {
        {"msg.sizeBytes", "\"2048\"", true, 2048},
        {"msg.sizeBytes", "2048", true, 2048},
        {"msg.sizeBytes", "\"2048.0\"", true, 2048},
        {"msg.sizeBytes", "\" 77 \"", true, 77},
        {"msg.sizeBytes", "\"1e3\"", true, 1000},
        {"msg.sizeBytes", "\"0\"", true, 0},
        {"msg.sizeBytes", "\"abc\"", true, 1127},  /* falls back to filter.msgSizeBytes */
        {"msg.sizeBytes", "\"-5\"", true, 1127},   /* no negative sizes */
        {"msg.sizeBytes", "1.5", true, 1127},      /* no fractions of a byte */
        {"msg.sizeBytes", "\"0x10\"", true, 1127}, /* not a JSON number */
        {"msg.sizeBytes", "\"\"", true, 1127},
        {"msg.sizeBytes", "null", true, 1127},
        {"msg.sizeBytes", NULL, true, 1127},
        {"filter.msgSizeBytes", "\"1127\"", true, 1151}, /* msg.sizeBytes still wins */
    };
    static const struct {
        const char *json;
        bool has;
        double score;
    } scores[] = {
        {"40", true, 40},         {"\"40\"", true, 40},
        {"\"40.5\"", true, 40.5}, {"-1", true, -1},
        {"\"inf\"", false, 0},    {"\"NaN\"", false, 0},
        {"\"1,5\"", false, 0},    {"\"\"", false, 0},
        {"true", false, 0},       {"[40]", false, 0},
        {"{}", false, 0},         {"\"4e1\"", true, 40},
        {"\"12abc\"", false, 0},  {"\"99999999999999999999\"", true, 1e20},
    };
    ps_event ev;
    (void)state;

    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        cJSON *v = sizes[i].json ? cJSON_Parse(sizes[i].json) : NULL;
        assert_true(v || !sizes[i].json);
        extract_tree(&ev, PS_DATA_MESSAGE, message_with(sizes[i].path, v));
        if (ev.has_size != sizes[i].has || ev.size_bytes != sizes[i].size)
            fail_msg("%s = %s: has_size %d size %lld", sizes[i].path,
                     sizes[i].json ? sizes[i].json : "(deleted)", ev.has_size,
                     (long long)ev.size_bytes);
        ps_event_deinit(&ev);
    }
    for (size_t i = 0; i < sizeof scores / sizeof scores[0]; i++) {
        cJSON *v = cJSON_Parse(scores[i].json);
        assert_non_null(v);
        extract_tree(&ev, PS_DATA_MESSAGE, message_with("filter.modules.spam.scores.overall", v));
        if (ev.has_spam_score != scores[i].has || ev.spam_score != scores[i].score)
            fail_msg("overall = %s: has %d score %g", scores[i].json, ev.has_spam_score,
                     ev.spam_score);
        ps_event_deinit(&ev);
    }

    /* Identifiers sent as numbers become their plain decimal text. */
    extract_tree(&ev, PS_DATA_MESSAGE,
                 message_with("filter.qid", cJSON_CreateNumber(4412345678.0)));
    assert_string_equal(ev.text[PS_EF_QID], "4412345678");
    ps_event_deinit(&ev);
    extract_tree(&ev, PS_DATA_MESSAGE, message_with("guid", cJSON_CreateNumber(123456789)));
    assert_string_equal(ev.key, "123456789");
    ps_event_deinit(&ev);
    extract_tree(&ev, PS_DATA_MESSAGE, message_with("connection.country", cJSON_CreateNumber(0.5)));
    assert_string_equal(ev.text[PS_EF_COUNTRY], "0.5");
    ps_event_deinit(&ev);

    /* maillog sm.sizeBytes is a string in the samples; a number must work too. */
    cJSON *ml = cJSON_Parse("{\"id\":\"x\",\"ts\":\"2024-01-01T00:00:00Z\",\"sm\":{\"sizeBytes\":"
                            "\"123456789012\"}}");
    extract_tree(&ev, PS_DATA_MAILLOG, ml);
    assert_true(ev.has_size);
    assert_int_equal(ev.size_bytes, 123456789012LL);
    ps_event_deinit(&ev);

    /* A name given twice: the first counts, as cJSON's lookup by name has it; the
     * members are read in one walk, whatever their order. */
    ml = cJSON_Parse("{\"id\":\"x\",\"ts\":\"2024-01-01T00:00:00Z\",\"sm\":{\"relay\":\"r\","
                     "\"qid\":\"Q1\",\"sizeBytes\":7,\"qid\":\"Q2\",\"to\":[\"a@x\",\"b@x\"],"
                     "\"sizeBytes\":8,\"from\":\"f@x\"}}");
    extract_tree(&ev, PS_DATA_MAILLOG, ml);
    assert_string_equal(ev.text[PS_EF_QID], "Q1");
    assert_string_equal(ev.text[PS_EF_RELAY], "r");
    assert_string_equal(ev.text[PS_EF_RECIPIENTS], "a@x, b@x");
    assert_string_equal(ev.text[PS_EF_SENDER], "f@x");
    assert_null(ev.text[PS_EF_MESSAGE_ID]);
    assert_int_equal(ev.size_bytes, 7);
    ps_event_deinit(&ev);
    /* sm that is not an object: nothing from it */
    ml = cJSON_Parse("{\"id\":\"x\",\"ts\":\"2024-01-01T00:00:00Z\",\"sm\":[{\"qid\":\"Q\"}]}");
    extract_tree(&ev, PS_DATA_MAILLOG, ml);
    assert_null(ev.text[PS_EF_QID]);
    assert_false(ev.has_size);
    ps_event_deinit(&ev);
}

static void test_final_action(void **state)
{
    static const struct {
        const char *actions;
        const char *action, *module, *rule;
    } cases[] = {
        {"[{\"action\":\"a1\",\"module\":\"m1\",\"rule\":\"r1\"},"
         "{\"action\":\"a2\",\"module\":\"m2\",\"rule\":\"r2\",\"isFinal\":true}]",
         "a2", "m2", "r2"},
        {"[{\"isFinal\":\"true\",\"rule\":\"r1\",\"module\":\"m1\",\"action\":\"a1\"}]", "a1", "m1",
         "r1"},
        {"[{\"isFinal\":\"TRUE\",\"action\":\"a1\"}]", "a1", NULL, NULL},
        {"[{\"isFinal\":false,\"action\":\"a1\"},{\"isFinal\":\"false\",\"action\":\"a2\"}]", NULL,
         NULL, NULL},
        {"[{\"action\":\"a1\"}]", NULL, NULL, NULL},
        {"[]", NULL, NULL, NULL},
        {"{\"isFinal\":true,\"action\":\"a1\"}", NULL, NULL, NULL}, /* not an array */
        {"[{\"isFinal\":true,\"action\":\"first\"},{\"isFinal\":true,\"action\":\"second\"}]",
         "first", NULL, NULL},
        {"[1,\"x\",null,{\"isFinal\":true,\"action\":\"a\",\"rule\":7}]", "a", NULL, "7"},
    };
    ps_event ev;
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *v = cJSON_Parse(cases[i].actions);
        assert_non_null(v);
        extract_tree(&ev, PS_DATA_MESSAGE, message_with("filter.actions", v));
        const char *want[3] = {cases[i].action, cases[i].module, cases[i].rule};
        const ps_event_field fields[3] = {PS_EF_ACTION, PS_EF_MODULE, PS_EF_RULE};
        for (int k = 0; k < 3; k++) {
            if (!want[k] && ev.text[fields[k]])
                fail_msg("case %zu: %s should be NULL, is %s", i, ps_event_field_name(fields[k]),
                         ev.text[fields[k]]);
            if (want[k] && (!ev.text[fields[k]] || strcmp(ev.text[fields[k]], want[k]) != 0))
                fail_msg("case %zu: %s should be %s", i, ps_event_field_name(fields[k]), want[k]);
        }
        ps_event_deinit(&ev);
    }
}

static void test_header_keys(void **state)
{
    ps_event ev;
    cJSON *hdr = cJSON_Parse("{\"x-ms-exchange.organization.authas\":[\"Internal\"],"
                             "\"x.y\":[\"dots\"],\"Subject\":[\"Mixed case\"],"
                             "\"MESSAGE-ID\":[\"<upper@example.com>\"]}");
    (void)state;

    extract_tree(&ev, PS_DATA_MESSAGE, message_with("msg.header", hdr));
    assert_string_equal(ev.text[PS_EF_SUBJECT], "Mixed case");
    assert_string_equal(ev.text[PS_EF_MESSAGE_ID], "<upper@example.com>");
    ps_event_deinit(&ev);

    /* Exact lower-case names win over a differently-cased duplicate. */
    hdr = cJSON_Parse("{\"Subject\":[\"wrong\"],\"subject\":[\"right\"]}");
    extract_tree(&ev, PS_DATA_MESSAGE, message_with("msg.header", hdr));
    assert_string_equal(ev.text[PS_EF_SUBJECT], "right");
    ps_event_deinit(&ev);

    /* No raw header map at all: the normalized one is used, for both fields. */
    extract_tree(&ev, PS_DATA_MESSAGE, message_with("msg.header", NULL));
    assert_string_equal(ev.text[PS_EF_SUBJECT], "Cron <pps@m0000123> /opt/proofpoint/resttimer.pl");
    assert_string_equal(ev.text[PS_EF_MESSAGE_ID], "212345678910.44BCDE1231370@m0000123.ppops.net");
    ps_event_deinit(&ev);

    /* A header value as a bare string rather than a list. */
    extract_tree(&ev, PS_DATA_MESSAGE,
                 message_with("msg.header.subject", cJSON_CreateString("bare string")));
    assert_string_equal(ev.text[PS_EF_SUBJECT], "bare string");
    ps_event_deinit(&ev);
}

static void test_recipients_join(void **state)
{
    ps_event ev;
    (void)state;

    extract_tree(&ev, PS_DATA_MESSAGE,
                 message_with("envelope.rcpts", cJSON_Parse("[\"a@x\",{},null,\"b@x\",42]")));
    assert_string_equal(ev.text[PS_EF_RECIPIENTS], "a@x, b@x, 42");
    ps_event_deinit(&ev);
    extract_tree(&ev, PS_DATA_MESSAGE, message_with("envelope.rcpts", cJSON_Parse("[\"\"]")));
    assert_string_equal(ev.text[PS_EF_RECIPIENTS], "");
    ps_event_deinit(&ev);
    extract_tree(&ev, PS_DATA_MESSAGE, message_with("envelope.rcpts", cJSON_Parse("[{},[]]")));
    assert_null(ev.text[PS_EF_RECIPIENTS]);
    ps_event_deinit(&ev);
    extract_tree(&ev, PS_DATA_MESSAGE, message_with("envelope.from", cJSON_Parse("[\"s@x\"]")));
    assert_string_equal(ev.text[PS_EF_SENDER], "s@x");
    ps_event_deinit(&ev);
}

/* Reverses the member order of every object (arrays keep their order: it means
 * something there). */
static void reverse_objects(cJSON *node)
{
    cJSON *c, *prev = NULL, *next;
    for (c = node->child; c; c = c->next)
        reverse_objects(c);
    if (!cJSON_IsObject(node) || !node->child)
        return;
    for (c = node->child; c; c = next) {
        next = c->next;
        c->next = prev;
        c->prev = next; /* cJSON: head->prev is the tail, fixed below */
        prev = c;
    }
    node->child = prev;
    cJSON *tail = prev;
    while (tail->next)
        tail = tail->next;
    prev->prev = tail;
}

static void test_key_order_and_tree_untouched(void **state)
{
    (void)state;
    for (int line = 1; line <= 5; line++) {
        char *raw = fixture_line("PS_SAMPLES", "message.jsonl", line);
        ps_event a, b;
        ps_event_init(&a);
        parse_ok(&a, PS_DATA_MESSAGE, raw, strlen(raw));

        char *before = cJSON_PrintUnformatted(a.root);
        assert_int_equal(ps_event_extract(&a, NULL), PS_OK);
        char *after = cJSON_PrintUnformatted(a.root);
        assert_string_equal(before, after);

        cJSON *rev = cJSON_Duplicate(a.root, 1);
        reverse_objects(rev);
        char *rev_text = cJSON_PrintUnformatted(rev);
        assert_string_not_equal(rev_text, before);
        extract_tree(&b, PS_DATA_MESSAGE, rev);
        assert_string_equal(a.key, b.key);
        assert_int_equal(a.ts_us, b.ts_us);
        for (int f = 0; f < PS_EF__COUNT; f++) {
            if (!a.text[f] || !b.text[f])
                assert_ptr_equal(a.text[f], b.text[f]);
            else
                assert_string_equal(a.text[f], b.text[f]);
        }
        assert_int_equal(a.has_spam_score, b.has_spam_score);
        assert_true(a.spam_score == b.spam_score);
        assert_int_equal(a.size_bytes, b.size_bytes);
        free(before);
        free(after);
        free(rev_text);
        free(raw);
        ps_event_deinit(&a);
        ps_event_deinit(&b);
    }
}

/* A failed re-extract (a pipeline deleted ts) leaves the earlier values alone. */
static void test_extract_failure_keeps_values(void **state)
{
    char *raw = fixture_line("PS_SAMPLES", "message.jsonl", 1);
    ps_event ev;
    ps_errmsg em = {{0}};
    (void)state;

    ps_event_init(&ev);
    parse_ok(&ev, PS_DATA_MESSAGE, raw, strlen(raw));
    cJSON_DeleteItemFromObjectCaseSensitive(ev.root, "ts");
    assert_int_equal(ps_event_extract(&ev, &em), PS_ERR_PARSE);
    assert_string_equal(em.text, "no ts");
    assert_string_equal(ev.key, "vRq4ZIFWHXbuABCDEFghij0U4VvIc71x");
    assert_int_equal(ev.ts_us, 1716405003058340);
    assert_string_equal(ev.text[PS_EF_QID], "44ABCDm0000123");

    /* A pipeline changed a field: extract picks the new value up. */
    cJSON_AddStringToObject(ev.root, "ts", "2024-05-22T19:10:03Z");
    cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(ev.root, "filter"),
                                           "qid", cJSON_CreateString("CHANGED"));
    assert_int_equal(ps_event_extract(&ev, &em), PS_OK);
    assert_string_equal(ev.text[PS_EF_QID], "CHANGED");
    assert_int_equal(ev.ts_us, 1716405003000000);
    ps_event_deinit(&ev);
    free(raw);
}

static void test_long_strings(void **state)
{
    size_t n = 1u << 20;
    char *big = malloc(n + 1);
    ps_event ev;
    (void)state;

    assert_non_null(big);
    memset(big, 'a', n);
    big[n] = '\0';
    extract_tree(&ev, PS_DATA_MESSAGE, message_with("msg.header.subject", cJSON_CreateString(big)));
    assert_int_equal(strlen(ev.text[PS_EF_SUBJECT]), n);
    ps_event_deinit(&ev);

    /* A 4 MiB base64 part inside msgParts, as large frames carry, parses normally. */
    cJSON *root = message_with("msg.sizeBytes", cJSON_CreateNumber(4 << 20));
    cJSON *parts = cJSON_GetObjectItemCaseSensitive(root, "msgParts");
    cJSON *part = cJSON_CreateObject();
    char *b64 = malloc((4u << 20) + 1);
    assert_non_null(b64);
    memset(b64, 'Q', 4u << 20);
    b64[4u << 20] = '\0';
    cJSON_AddStringToObject(part, "dataBase64", b64);
    cJSON_AddItemToArray(parts, part);
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    ps_event_init(&ev);
    parse_ok(&ev, PS_DATA_MESSAGE, text, strlen(text));
    assert_int_equal(ev.size_bytes, 4 << 20);
    ps_event_deinit(&ev);
    free(text);
    free(b64);
    free(big);
}

/* ---- keys ------------------------------------------------------------------------ */

static void test_keys(void **state)
{
    char long_guid[600];
    char raw[800];
    (void)state;

    parse_fails_str(PS_DATA_MESSAGE, "{\"ts\":\"2024-01-01T00:00:00Z\"}", "no guid");
    parse_fails_str(PS_DATA_MESSAGE, "{\"ts\":\"2024-01-01T00:00:00Z\",\"guid\":null}", "no guid");
    parse_fails_str(PS_DATA_MESSAGE, "{\"ts\":\"2024-01-01T00:00:00Z\",\"id\":\"x\"}", "no guid");
    parse_fails_str(PS_DATA_MAILLOG, "{\"ts\":\"2024-01-01T00:00:00Z\",\"guid\":\"x\"}", "no id");
    parse_fails_str(PS_DATA_MESSAGE, "{\"ts\":\"2024-01-01T00:00:00Z\",\"guid\":\"\"}",
                    "guid is empty");
    parse_fails_str(PS_DATA_MESSAGE, "{\"ts\":\"2024-01-01T00:00:00Z\",\"guid\":{\"a\":1}}",
                    "guid is not a string");
    parse_fails_str(PS_DATA_MAILLOG, "{\"ts\":\"2024-01-01T00:00:00Z\",\"id\":1.5}",
                    "id is not a string");
    parse_fails_str(PS_DATA_MAILLOG, "{\"ts\":\"2024-01-01T00:00:00Z\",\"id\":[\"x\"]}",
                    "id is not a string");
    memset(long_guid, 'g', 513);
    long_guid[513] = '\0';
    snprintf(raw, sizeof raw, "{\"ts\":\"2024-01-01T00:00:00Z\",\"guid\":\"%s\"}", long_guid);
    parse_fails_str(PS_DATA_MESSAGE, raw, "guid is longer than 512 bytes");
    long_guid[512] = '\0';
    snprintf(raw, sizeof raw, "{\"ts\":\"2024-01-01T00:00:00Z\",\"guid\":\"%s\"}", long_guid);
    ps_event ev;
    ps_event_init(&ev);
    assert_int_equal(ps_event_parse(&ev, PS_DATA_MESSAGE, raw, strlen(raw), NULL), PS_OK);
    assert_string_equal(ev.key, long_guid);
    assert_null(ev.text[PS_EF_SENDER]); /* parse does not fill typed fields */
    ps_event_deinit(&ev);

    /* Unknown data type. */
    ps_errmsg em = {{0}};
    assert_int_equal(ps_event_parse(&ev, (ps_data_type)7, "{}", 2, &em), PS_ERR_INVALID);
    assert_string_equal(em.text, "unknown data type 7");
    ps_event_deinit(&ev);
}

static void test_audit_keys(void **state)
{
    /* sha256sum of exactly these bytes */
    static const char raw[] = "{\"action\":\"login\",\"user\":\"admin@example.com\",\"ts\":\"2024-"
                              "05-22T12:10:03.058340-0700\"}";
    static const char hash[] = "3597d468246ef551fac5f0976f17e38eced9eda3df84fad879b2bb07740d5902";
    ps_event ev;
    ps_errmsg em = {{0}};
    (void)state;

    ps_event_init(&ev);
    parse_ok(&ev, PS_DATA_AUDIT, raw, strlen(raw));
    assert_string_equal(ev.key, hash);
    assert_int_equal(ev.ts_us, 1716405003058340);
    for (int f = 0; f < PS_EF__COUNT; f++)
        assert_null(ev.text[f]);
    /* A pipeline edits the event: the key still names the frame that arrived. */
    cJSON_AddStringToObject(ev.root, "added", "by a pipeline");
    assert_int_equal(ps_event_extract(&ev, &em), PS_OK);
    assert_string_equal(ev.key, hash);
    ps_event_deinit(&ev);

    const char *with_id = "{\"guid\":\"g-1\",\"id\":\"id-1\",\"ts\":\"2024-01-01T00:00:00Z\"}";
    parse_ok(&ev, PS_DATA_AUDIT, with_id, strlen(with_id));
    assert_string_equal(ev.key, "g-1"); /* POD's key is the guid (#15) */
    ps_event_deinit(&ev);
    const char *only_id = "{\"id\":\"id-1\",\"ts\":\"2024-01-01T00:00:00Z\"}";
    parse_ok(&ev, PS_DATA_AUDIT, only_id, strlen(only_id));
    assert_string_equal(ev.key, "id-1");
    ps_event_deinit(&ev);
    const char *with_guid = "{\"guid\":\"g-1\",\"id\":\"\",\"ts\":\"2024-01-01T00:00:00Z\"}";
    parse_ok(&ev, PS_DATA_AUDIT, with_guid, strlen(with_guid));
    assert_string_equal(ev.key, "g-1");
    ps_event_deinit(&ev);
    parse_fails_str(PS_DATA_AUDIT, "{\"id\":\"a\"}", "no ts");

    /* Never parsed (built by a test or a tool): the hash of its canonical text. */
    extract_tree(&ev, PS_DATA_AUDIT, cJSON_Parse(raw));
    assert_string_equal(ev.key, hash); /* raw is already canonical */
    ps_event_deinit(&ev);
}

/* ---- the workers' arena -------------------------------------------------------------- */

/* What a tree parsed in the arena gives is what a tree parsed with malloc gives;
 * a pipeline's malloc'd values sit beside arena blocks and are freed with them;
 * the arena starts over when its last block is freed and is returned when the
 * thread stops using it. */
static void test_arena(void **state)
{
    static const char raw[] =
        "{\"ts\":\"2024-01-01T00:00:00Z\",\"guid\":\"g1\",\"msg\":{\"header\":{\"subject\":"
        "[\"Hello\"],\"from\":[\"<a@example.com>\"]}},\"filter\":{\"disposition\":\"accept\"}}";
    ps_event plain, ev;
    ps_errmsg em;
    (void)state;

    ps_event_init(&plain);
    ps_event_init(&ev);
    assert_int_equal(ps_event_parse(&plain, PS_DATA_MESSAGE, raw, strlen(raw), &em), PS_OK);
    assert_int_equal(ps_event_extract(&plain, &em), PS_OK);
    assert_int_equal(ps_event_arena_live(), 0);

    ps_event_use_arena(true);
    for (int round = 0; round < 3; round++) {
        assert_int_equal(ps_event_parse(&ev, PS_DATA_MESSAGE, raw, strlen(raw), &em), PS_OK);
        size_t live = ps_event_arena_live();
        assert_true(live > 10);
        assert_true(ps_event_arena_kept() >= 1024);
        /* as a pipeline would: a value allocated outside the parse, one replaced */
        assert_non_null(cJSON_AddStringToObject(ev.root, "added", "by a pipeline"));
        cJSON_DeleteItemFromObject(ev.root, "filter");
        assert_true(ps_event_arena_live() < live);
        assert_int_equal(ps_event_extract(&ev, &em), PS_OK);
        assert_string_equal(ev.key, plain.key);
        assert_int_equal(ev.ts_us, plain.ts_us);
        assert_string_equal(ev.text[PS_EF_SUBJECT], plain.text[PS_EF_SUBJECT]);
        char *out = cJSON_PrintUnformatted(ev.root);
        assert_non_null(out);
        assert_non_null(strstr(out, "\"added\":\"by a pipeline\""));
        cJSON_free(out);
        ps_event_deinit(&ev);
        assert_int_equal(ps_event_arena_live(), 0);
    }
    /* a frame that is not JSON frees what cJSON built of it */
    assert_int_not_equal(ps_event_parse(&ev, PS_DATA_MESSAGE, "{\"ts\":[1,2", 10, &em), PS_OK);
    assert_int_equal(ps_event_arena_live(), 0);
    ps_event_use_arena(false);
    assert_int_equal(ps_event_arena_kept(), 0);
    ps_event_deinit(&ev);
    ps_event_deinit(&plain);
}

/* ps_event_tree_free empties the arena at once only for the arena's one tree, and
 * only when no value was malloc'd since its parse: a pipeline's value in the tree
 * would leak (ASan's build fails then), and a second tree would be overwritten by
 * the next parse. ps_event_extract_typed fills what ps_event_extract does. */
static void test_arena_tree_free(void **state)
{
    static const char raw[] =
        "{\"ts\":\"2024-01-01T00:00:00Z\",\"guid\":\"g1\",\"msg\":{\"header\":{\"subject\":"
        "[\"Hello\"]}},\"filter\":{\"disposition\":\"accept\"}}";
    static const char raw2[] =
        "{\"ts\":\"2024-01-01T00:00:01Z\",\"guid\":\"g2\",\"msg\":{\"header\":{\"subject\":"
        "[\"Second\"]}},\"filter\":{\"disposition\":\"discard\"}}";
    ps_event a, b, full;
    ps_errmsg em;
    (void)state;

    ps_event_init(&a);
    ps_event_init(&b);
    ps_event_init(&full);
    ps_event_use_arena(true);
    /* the worker's path: parse, typed fields only, free the tree */
    assert_int_equal(ps_event_parse(&a, PS_DATA_MESSAGE, raw, strlen(raw), &em), PS_OK);
    assert_int_equal(ps_event_extract_typed(&a, &em), PS_OK);
    assert_int_equal(ps_event_parse(&full, PS_DATA_MESSAGE, raw2, strlen(raw2), &em), PS_OK);
    ps_event_deinit(&full);
    ps_event_init(&full);
    assert_string_equal(a.key, "g1");
    assert_string_equal(a.text[PS_EF_SUBJECT], "Hello");
    assert_string_equal(a.text[PS_EF_DISPOSITION], "accept");
    assert_true(ps_event_arena_live() > 10);
    ps_event_tree_free(a.root);
    a.root = NULL;
    assert_int_equal(ps_event_arena_live(), 0);
    assert_true(ps_event_arena_kept() >= 1024);

    /* a pipeline's value in the tree: walked, so nothing leaks */
    assert_int_equal(ps_event_parse(&b, PS_DATA_MESSAGE, raw, strlen(raw), &em), PS_OK);
    assert_non_null(cJSON_AddStringToObject(b.root, "added", "by a pipeline"));
    ps_event_tree_free(b.root);
    b.root = NULL;
    assert_int_equal(ps_event_arena_live(), 0);

    /* two trees: freeing one keeps the other intact through the next parse */
    assert_int_equal(ps_event_parse(&b, PS_DATA_MESSAGE, raw2, strlen(raw2), &em), PS_OK);
    assert_int_equal(ps_event_parse(&full, PS_DATA_MESSAGE, raw, strlen(raw), &em), PS_OK);
    ps_event_tree_free(full.root);
    full.root = NULL;
    assert_true(ps_event_arena_live() > 10);
    assert_int_equal(ps_event_parse(&full, PS_DATA_MESSAGE, raw, strlen(raw), &em), PS_OK);
    assert_int_equal(ps_event_extract(&b, &em), PS_OK);
    assert_string_equal(b.text[PS_EF_SUBJECT], "Second");
    assert_string_equal(b.text[PS_EF_DISPOSITION], "discard");
    ps_event_deinit(&full);
    ps_event_deinit(&b);
    assert_int_equal(ps_event_arena_live(), 0);

    /* a tree parsed without the arena is freed as cJSON_Delete would */
    ps_event_use_arena(false);
    assert_int_equal(ps_event_parse(&full, PS_DATA_MESSAGE, raw, strlen(raw), &em), PS_OK);
    ps_event_tree_free(full.root);
    full.root = NULL;
    ps_event_deinit(&full);
    ps_event_deinit(&a);
}

/* ---- field names ------------------------------------------------------------------- */

static void test_field_names(void **state)
{
    static const char *const names[PS_EF__COUNT] = {
        "sender",    "recipients", "subject",    "disposition", "action",      "module",  "rule",
        "direction", "qid",        "message_id", "client_ip",   "client_host", "country", "stat",
        "dsn",       "relay",      "actor",      "resource",    "result"};
    (void)state;
    for (int f = 0; f < PS_EF__COUNT; f++)
        assert_string_equal(ps_event_field_name((ps_event_field)f), names[f]);
    assert_null(ps_event_field_name(PS_EF__COUNT));
    assert_null(ps_event_field_name((ps_event_field)-1));
}

/* ---- generated events ---------------------------------------------------------------- */

#ifdef PS_HAVE_PODSIM_GEN
static void check_generated(psim_type ptype, ps_data_type type, uint64_t count)
{
    psim_timeline tl;
    psim_buf buf;
    psim_event_info info;

    psim_timeline_init(&tl, 20240522, "pphosted_test_hosted", ptype, 1716405003058340, 250000);
    tl.disorder = 0.05;
    tl.disorder_max_us = 3600000000LL;
    psim_buf_init(&buf);
    for (uint64_t i = 0; i < count; i++) {
        ps_event ev;
        ps_errmsg em = {{0}};
        buf.len = 0;
        assert_true(psim_gen_event(&tl, i, 0, &buf, &info));
        ps_event_init(&ev);
        ps_err err = ps_event_parse(&ev, type, buf.data, buf.len, &em);
        if (err == PS_OK)
            err = ps_event_extract(&ev, &em);
        if (err != PS_OK)
            fail_msg("generated %s event %llu: %s\n%.*s", psim_type_name(ptype),
                     (unsigned long long)i, em.text, (int)buf.len, buf.data);
        assert_string_equal(ev.key, info.key);
        assert_int_equal(ev.ts_us, info.ts_us);
        if (type == PS_DATA_MESSAGE) {
            assert_non_null(ev.text[PS_EF_SENDER]);
            assert_non_null(ev.text[PS_EF_QID]);
        } else if (type == PS_DATA_MAILLOG) {
            assert_non_null(ev.text[PS_EF_QID]);
        }
        ps_event_deinit(&ev);
    }
    psim_buf_deinit(&buf);
}

static void test_generated_events(void **state)
{
    (void)state;
    check_generated(PSIM_MESSAGE, PS_DATA_MESSAGE, 3000);
    check_generated(PSIM_MAILLOG, PS_DATA_MAILLOG, 3000);
    check_generated(PSIM_AUDIT, PS_DATA_AUDIT, 500);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_message_samples),
        cmocka_unit_test(test_maillog_samples),
        cmocka_unit_test(test_audit_samples),
        cmocka_unit_test(test_japanese_fixture),
        cmocka_unit_test(test_quirks_fixtures),
        cmocka_unit_test(test_missing_everything),
        cmocka_unit_test(test_empty_objects_and_arrays),
        cmocka_unit_test(test_numbers_as_strings),
        cmocka_unit_test(test_final_action),
        cmocka_unit_test(test_header_keys),
        cmocka_unit_test(test_recipients_join),
        cmocka_unit_test(test_key_order_and_tree_untouched),
        cmocka_unit_test(test_extract_failure_keeps_values),
        cmocka_unit_test(test_long_strings),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_audit_keys),
        cmocka_unit_test(test_field_names),
        cmocka_unit_test(test_arena),
        cmocka_unit_test(test_arena_tree_free),
#ifdef PS_HAVE_PODSIM_GEN
        cmocka_unit_test(test_generated_events),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
