/* ps_event: frame validation, ts handling, natural keys, typed fields and RFC 2047
 * subjects, checked against the shared POD fixtures and hand-made edge cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "podstream/ps_event.h"
#include "podstream/ps_platform.h"

#ifdef PS_HAVE_PODSIM_GEN
#include "podsim_gen.h"
#endif

/* ---- helpers ------------------------------------------------------------------ */

static char *read_fixture(const char *env, const char *name, size_t *len)
{
    const char *dir = getenv(env);
    char path[1024];
    char *buf = NULL;
    ps_errmsg em = {{0}};

    if (!dir)
        fail_msg("%s is not set (run the test through ctest)", env);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (ps_plat_read_file(path, 16u << 20, &buf, len, &em) != PS_OK)
        fail_msg("cannot read %s: %s", path, em.text);
    return buf;
}

/* Line `n` (1-based) of a JSONL file, as a new string without the newline. */
static char *fixture_line(const char *env, const char *name, int n)
{
    size_t len;
    char *all = read_fixture(env, name, &len);
    char *p = all, *line = NULL;

    for (int i = 1; p && p < all + len; i++) {
        char *nl = memchr(p, '\n', (size_t)(all + len - p));
        size_t l = nl ? (size_t)(nl - p) : (size_t)(all + len - p);
        if (i == n) {
            line = strndup(p, l);
            break;
        }
        p = nl ? nl + 1 : NULL;
    }
    free(all);
    if (!line)
        fail_msg("%s has no line %d", name, n);
    return line;
}

static void parse_ok(ps_event *ev, ps_data_type type, const char *raw, size_t len)
{
    ps_errmsg em = {{0}};
    ps_err err = ps_event_parse(ev, type, raw, len, &em);
    if (err != PS_OK)
        fail_msg("parse failed (%s): %s", ps_strerror(err), em.text);
    err = ps_event_extract(ev, &em);
    if (err != PS_OK)
        fail_msg("extract failed (%s): %s", ps_strerror(err), em.text);
}

/* Expects the parse to fail with PS_ERR_PARSE and exactly `reason`. */
static void parse_fails(ps_data_type type, const char *raw, size_t len, const char *reason)
{
    ps_event ev;
    ps_errmsg em = {{0}};

    ps_event_init(&ev);
    assert_int_equal(ps_event_parse(&ev, type, raw, len, &em), PS_ERR_PARSE);
    assert_string_equal(em.text, reason);
    assert_null(ev.root);
    assert_null(ev.key);
    ps_event_deinit(&ev);
}

static void parse_fails_str(ps_data_type type, const char *raw, const char *reason)
{
    parse_fails(type, raw, strlen(raw), reason);
}

static void assert_ts(int64_t us, const char *utc)
{
    char buf[40];
    ps_event_format_ts(us, buf, sizeof buf);
    assert_string_equal(buf, utc);
}

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

/* A minimal message tree: guid, ts and whatever the test adds. */
static cJSON *base_message(void)
{
    cJSON *root = cJSON_CreateObject();
    assert_non_null(root);
    cJSON_AddStringToObject(root, "guid", "guid-0001");
    cJSON_AddStringToObject(root, "ts", "2024-05-22T12:10:03.058340-0700");
    return root;
}

/* Puts `root` into ev (which takes it) and extracts. */
static void extract_tree(ps_event *ev, ps_data_type type, cJSON *root)
{
    ps_errmsg em = {{0}};
    ps_event_init(ev);
    ev->type = type;
    ev->root = root;
    ps_err err = ps_event_extract(ev, &em);
    if (err != PS_OK)
        fail_msg("extract failed (%s): %s", ps_strerror(err), em.text);
}

/* The subject extracted from a message whose msg.header.subject[0] is `raw`. */
static char *subject_of(const char *raw)
{
    cJSON *root = base_message();
    cJSON *msg = cJSON_AddObjectToObject(root, "msg");
    cJSON *hdr = cJSON_AddObjectToObject(msg, "header");
    cJSON *arr = cJSON_AddArrayToObject(hdr, "subject");
    ps_event ev;
    char *out;

    cJSON_AddItemToArray(arr, cJSON_CreateString(raw));
    extract_tree(&ev, PS_DATA_MESSAGE, root);
    assert_non_null(ev.text[PS_EF_SUBJECT]);
    assert_true(ps_event_utf8_valid(ev.text[PS_EF_SUBJECT], strlen(ev.text[PS_EF_SUBJECT]), NULL));
    out = strdup(ev.text[PS_EF_SUBJECT]);
    ps_event_deinit(&ev);
    return out;
}

static void assert_subject(const char *raw, const char *decoded)
{
    char *got = subject_of(raw);
    bool same = strcmp(got, decoded) == 0;
    if (!same)
        fprintf(stderr, "subject %s\n  expected: %s\n  got:      %s\n", raw, decoded, got);
    free(got);
    assert_true(same);
}

/* Sample line 1 of message.jsonl with one member replaced: `path` is a dotted
 * object path whose last step is replaced by `value` (which the tree takes). */
static cJSON *message_with(const char *path, cJSON *value)
{
    char *line = fixture_line("PS_SAMPLES", "message.jsonl", 1);
    cJSON *root = cJSON_Parse(line);
    char buf[256];
    char *save = NULL, *step, *next;
    cJSON *node = root;

    free(line);
    assert_non_null(root);
    snprintf(buf, sizeof buf, "%s", path);
    step = strtok_r(buf, ".", &save);
    while ((next = strtok_r(NULL, ".", &save)) != NULL) {
        cJSON *child = cJSON_GetObjectItemCaseSensitive(node, step);
        if (!child)
            child = cJSON_AddObjectToObject(node, step);
        node = child;
        step = next;
    }
    if (value) {
        if (cJSON_GetObjectItemCaseSensitive(node, step))
            cJSON_ReplaceItemInObjectCaseSensitive(node, step, value);
        else
            cJSON_AddItemToObject(node, step, value);
    } else {
        cJSON_DeleteItemFromObjectCaseSensitive(node, step);
    }
    return root;
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

static void check_samples(const char *file, ps_data_type type, const expected *x, int count)
{
    size_t len;
    char *all = read_fixture("PS_SAMPLES", file, &len);
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
    check_samples("message.jsonl", PS_DATA_MESSAGE, message_samples,
                  (int)(sizeof message_samples / sizeof message_samples[0]));
}

static void test_maillog_samples(void **state)
{
    (void)state;
    check_samples("maillog.jsonl", PS_DATA_MAILLOG, maillog_samples,
                  (int)(sizeof maillog_samples / sizeof maillog_samples[0]));
}

/* Sample line 4 with its redacted subject put back as a real phishing subject would
 * arrive: three folded ISO-2022-JP words (tests/data/events/README.md). */
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

/* ---- frame validation -------------------------------------------------------------- */

static void test_utf8_validator(void **state)
{
    static const struct {
        const char *s;
        size_t len;
        bool ok;
        size_t bad;
    } cases[] = {
        {"", 0, true, 0},
        {"plain ascii", 11, true, 0},
        {"\xC3\xA9", 2, true, 0},          /* é */
        {"\xE6\x97\xA5", 3, true, 0},      /* 日 */
        {"\xF0\x9F\x98\x80", 4, true, 0},  /* U+1F600 */
        {"\xF4\x8F\xBF\xBF", 4, true, 0},  /* U+10FFFF, the last code point */
        {"\xEF\xBF\xBF", 3, true, 0},      /* U+FFFF is a noncharacter, still valid */
        {"\xED\x9F\xBF", 3, true, 0},      /* U+D7FF, just below the surrogates */
        {"a\0b", 3, true, 0},              /* NUL is valid UTF-8 */
        {"ab\x80", 3, false, 2},           /* stray continuation */
        {"\xC0\xAF", 2, false, 0},         /* overlong '/' */
        {"\xC1\xBF", 2, false, 0},         /* overlong */
        {"\xE0\x80\xAF", 3, false, 0},     /* overlong three-byte */
        {"\xE0\x9F\xBF", 3, false, 0},     /* overlong three-byte, upper edge */
        {"\xF0\x8F\xBF\xBF", 4, false, 0}, /* overlong four-byte */
        {"\xED\xA0\x80", 3, false, 0},     /* U+D800 surrogate */
        {"\xED\xBF\xBF", 3, false, 0},     /* U+DFFF surrogate */
        {"\xF4\x90\x80\x80", 4, false, 0}, /* U+110000 */
        {"\xF5\x80\x80\x80", 4, false, 0}, /* lead byte beyond the range */
        {"\xFF", 1, false, 0},
        {"xy\xC3", 3, false, 2},           /* cut off at the end */
        {"xy\xE6\x97", 4, false, 2},       /* cut off at the end */
        {"\xC3\x28", 2, false, 0},         /* lead without continuation */
        {"\xE6\x97\x28", 3, false, 0},     /* bad third byte */
        {"\xF0\x9F\x98\x28", 4, false, 0}, /* bad fourth byte */
    };
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t bad = 999;
        bool ok = ps_event_utf8_valid(cases[i].s, cases[i].len, &bad);
        if (ok != cases[i].ok || (!ok && bad != cases[i].bad))
            fail_msg("case %zu: ok %d bad %zu", i, ok, bad);
        assert_int_equal(ps_event_utf8_valid(cases[i].s, cases[i].len, NULL), cases[i].ok);
    }

    /* Exercise the 16-byte ASCII stride: a bad byte at every offset of a long run. */
    char buf[200];
    for (size_t pos = 0; pos < 100; pos++) {
        size_t bad = 0;
        memset(buf, 'a', sizeof buf);
        buf[pos] = (char)0xBF;
        assert_false(ps_event_utf8_valid(buf, sizeof buf, &bad));
        assert_int_equal(bad, pos);
        buf[pos] = (char)0xE2; /* € there instead: valid */
        buf[pos + 1] = (char)0x82;
        buf[pos + 2] = (char)0xAC;
        assert_true(ps_event_utf8_valid(buf, sizeof buf, &bad));
    }
}

static void test_invalid_utf8_frames(void **state)
{
    static const struct {
        const char *raw;
        const char *reason;
    } cases[] = {
        {"{\"guid\":\"\xC3\"}", "invalid UTF-8 at byte 9"},
        {"{\"guid\":\"\xC0\xAF\"}", "invalid UTF-8 at byte 9"},
        {"{\"guid\":\"\xE0\x80\xAF\"}", "invalid UTF-8 at byte 9"},
        {"{\"guid\":\"ok\xED\xA0\x80\"}", "invalid UTF-8 at byte 11"},
        {"{\"guid\":\"\xF4\x90\x80\x80\"}", "invalid UTF-8 at byte 9"},
        {"{\"g\xFF\":1}", "invalid UTF-8 at byte 3"},
        {"\x80{}", "invalid UTF-8 at byte 0"},
        {"{\"subject\":\"Caf\xE9\"}", "invalid UTF-8 at byte 15"}, /* Latin-1 é, raw */
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        parse_fails_str(PS_DATA_MESSAGE, cases[i].raw, cases[i].reason);
    /* Truncated inside a multi-byte character at the very end of the frame. */
    parse_fails(PS_DATA_MESSAGE, "{\"a\":\"\xE6\x97", 8, "invalid UTF-8 at byte 6");
}

static void test_bad_json(void **state)
{
    static const struct {
        const char *raw;
        const char *reason;
    } cases[] = {
        {"", "empty payload"},
        {" \r\n\t", "empty payload"},
        {"[1,2]", "not a JSON object"},
        {"\"just a string\"", "not a JSON object"},
        {"42", "not a JSON object"},
        {"null", "not a JSON object"},
        {"{\"a\":1,}", "not valid JSON near byte 7"},
        {"{\"a\" 1}", "not valid JSON near byte 5"},
        {"{'a':1}", "not valid JSON near byte 1"},
        {"{\"a\":tru}", "not valid JSON near byte 5"},
        {"{\"a\":01x}", "not valid JSON near byte 6"}, /* strict: no leading zeros */
        {"{\"a\":\"\\x\"}", "not valid JSON near byte 6"},
        {"{\"a\":\"\\ud800\"}", "not valid JSON near byte 6"}, /* lone surrogate escape */
        {"{\"a\":\"\\udc00\"}", "not valid JSON near byte 6"},
        {"{\"a\":1} x", "not valid JSON near byte 8"},
        {"{\"a\":1}{}", "not valid JSON near byte 7"},
        {"{\"a\":[1 2]}", "not valid JSON near byte 8"},
        {"{\"a\":-}", "not valid JSON near byte 6"},
        {"{\"a\":.5}", "not valid JSON near byte 5"},
        {"{\"a\":1", "JSON truncated at byte 6"},
        {"{\"a\":\"abc", "JSON truncated at byte 9"},
        {"{\"a\":tr", "JSON truncated at byte 7"},
        {"{\"a\":[1,2", "JSON truncated at byte 9"},
        {"{\"a\":\"\\u00", "JSON truncated at byte 10"},
        {"{\"a\":\"\\ud83d", "JSON truncated at byte 12"},
        {"{\"a\":1.", "JSON truncated at byte 7"},
        {"{\"a\":{\"b\":", "JSON truncated at byte 10"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        parse_fails_str(PS_DATA_MESSAGE, cases[i].raw, cases[i].reason);

    /* A NUL byte: valid UTF-8, never valid JSON (cJSON would silently cut there). */
    parse_fails(PS_DATA_MESSAGE, "{\"guid\":\"a\0b\"}", 14, "not valid JSON near byte 10");

    /* Every real sample cut short anywhere is refused as truncated, never accepted. */
    char *line = fixture_line("PS_SAMPLES", "message.jsonl", 1);
    size_t len = strlen(line);
    for (size_t cut = 1; cut < len; cut += 7) {
        ps_event ev;
        ps_errmsg em = {{0}};
        char expect[64];
        ps_event_init(&ev);
        assert_int_equal(ps_event_parse(&ev, PS_DATA_MESSAGE, line, cut, &em), PS_ERR_PARSE);
        snprintf(expect, sizeof expect, "JSON truncated at byte %zu", cut);
        assert_string_equal(em.text, expect);
        ps_event_deinit(&ev);
    }
    free(line);

    /* A leading byte order mark is ignored. */
    ps_event ev;
    const char *bom = "\xEF\xBB\xBF{\"guid\":\"g\",\"ts\":\"2024-01-01T00:00:00Z\"}";
    ps_event_init(&ev);
    parse_ok(&ev, PS_DATA_MESSAGE, bom, strlen(bom));
    assert_string_equal(ev.key, "g");
    ps_event_deinit(&ev);
}

static char *nested(size_t depth, bool closed)
{
    /* {"a": + depth-1 arrays: `depth` containers in all. */
    size_t n = 5 + 2 * depth + 64;
    char *s = malloc(n), *w = s;
    assert_non_null(s);
    w += sprintf(w, "{\"a\":");
    memset(w, '[', depth - 1);
    w += depth - 1;
    if (closed) {
        memset(w, ']', depth - 1);
        w += depth - 1;
        w += sprintf(w, ",\"guid\":\"g\",\"ts\":\"2024-01-01T00:00:00Z\"}");
    }
    *w = '\0';
    return s;
}

static void test_deep_nesting(void **state)
{
    char *s;
    ps_event ev;
    (void)state;

    /* 1000 levels is cJSON's limit and still an event. */
    s = nested(1000, true);
    ps_event_init(&ev);
    parse_ok(&ev, PS_DATA_MESSAGE, s, strlen(s));
    assert_string_equal(ev.key, "g");
    ps_event_deinit(&ev);
    free(s);

    /* One more, closed properly: refused where the 1001st container opens. */
    s = nested(1001, true);
    parse_fails_str(PS_DATA_MESSAGE, s, "JSON nested deeper than 1000 levels at byte 1004");
    free(s);

    /* A hostile frame of a million brackets: refused, no stack overflow. */
    s = nested(1000000, false);
    parse_fails_str(PS_DATA_MESSAGE, s, "JSON nested deeper than 1000 levels at byte 1004");
    free(s);
}

/* Random damage to real frames must end in PS_OK or PS_ERR_PARSE with a reason,
 * never in a crash, a false "out of memory" (cJSON failed where the strict scanner
 * saw valid JSON) or an event without key and time. */
static void test_mutated_frames(void **state)
{
    static const char bytes[] = "{}[]\":,\\0x1-e. \x80\xC3\xED\xF4\n";
    uint64_t rng = 0x9E3779B97F4A7C15ULL;
    (void)state;

    for (int line = 1; line <= 5; line++) {
        char *orig = fixture_line("PS_SAMPLES", "message.jsonl", line);
        size_t len = strlen(orig);
        char *buf = malloc(len + 1);
        assert_non_null(buf);
        for (int round = 0; round < 2000; round++) {
            memcpy(buf, orig, len + 1);
            size_t n = len;
            int edits = 1 + (int)(rng % 3);
            for (int e = 0; e < edits && n > 1; e++) {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                size_t at = (size_t)(rng % n);
                switch ((rng >> 32) % 3) {
                case 0:
                    buf[at] = bytes[(rng >> 40) % (sizeof bytes - 1)];
                    break;
                case 1: /* delete one byte */
                    memmove(buf + at, buf + at + 1, n - at - 1);
                    n--;
                    break;
                default:
                    n = at + 1; /* cut */
                    break;
                }
            }
            ps_event ev;
            ps_errmsg em = {{0}};
            ps_event_init(&ev);
            ps_err err = ps_event_parse(&ev, PS_DATA_MESSAGE, buf, n, &em);
            if (err == PS_OK) {
                assert_non_null(ev.key);
                assert_int_equal(ps_event_extract(&ev, &em), PS_OK);
            } else if (err != PS_ERR_PARSE) {
                fail_msg("line %d round %d: %s: %s", line, round, ps_strerror(err), em.text);
            } else {
                assert_true(em.text[0] != '\0');
            }
            ps_event_deinit(&ev);
        }
        free(buf);
        free(orig);
    }
}

/* ---- time ----------------------------------------------------------------------- */

static void test_parse_ts(void **state)
{
    static const struct {
        const char *in;
        const char *utc;
    } good[] = {
        {"2024-05-22T12:10:03.058340-0700", "2024-05-22T19:10:03.058340Z"},
        {"2024-05-22T12:10:03.058340-07:00", "2024-05-22T19:10:03.058340Z"},
        {"2024-05-22T19:10:03.058340Z", "2024-05-22T19:10:03.058340Z"},
        {"2024-05-22T19:10:03.058340z", "2024-05-22T19:10:03.058340Z"},
        {"2024-05-22t19:10:03Z", "2024-05-22T19:10:03.000000Z"},
        {"2024-05-22 19:10:03Z", "2024-05-22T19:10:03.000000Z"},
        {"2025-01-02T03:00:00.000-0000", "2025-01-02T03:00:00.000000Z"},
        {"2024-05-22T19:10:03.5+00:00", "2024-05-22T19:10:03.500000Z"},
        {"2024-05-22T19:10:03.123456789Z", "2024-05-22T19:10:03.123456Z"}, /* truncated */
        {"2024-05-22T19:10:03.999999999Z", "2024-05-22T19:10:03.999999Z"},
        {"2024-01-01T03:00:00+0530", "2023-12-31T21:30:00.000000Z"},
        {"2023-12-31T23:30:00-0100", "2024-01-01T00:30:00.000000Z"},
        {"2024-02-29T23:59:59.999999-1200", "2024-03-01T11:59:59.999999Z"},
        {"2000-02-29T00:00:00Z", "2000-02-29T00:00:00.000000Z"},
        {"1970-01-01T00:00:00Z", "1970-01-01T00:00:00.000000Z"},
        {"1969-12-31T23:59:59.5Z", "1969-12-31T23:59:59.500000Z"},
        {"1900-03-01T00:00:00Z", "1900-03-01T00:00:00.000000Z"},
        {"0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000000Z"},
        {"9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999999Z"},
        {"2016-12-31T23:59:60Z", "2017-01-01T00:00:00.000000Z"}, /* leap second */
    };
    static const char *const bad[] = {
        "",
        "2024",
        "2024-05-22",
        "2024-05-22T19:10Z",
        "2024-05-22T19:10:03",             /* no offset */
        "2024-05-22T19:10:03.Z",           /* a dot without digits */
        "2024-05-22T19:10:03.1234567890Z", /* ten fraction digits */
        "2024-05-22T19:10:03+07",
        "2024-05-22T19:10:03+7:00",
        "2024-05-22T19:10:03+07:0",
        "2024-05-22T19:10:03 0700", /* '+' that became a space in a URL */
        "2024-05-22T19:10:03Z ",
        "2024-05-22T19:10:03ZZ",
        "2024-05-22X19:10:03Z",
        "2024/05/22T19:10:03Z",
        "2024-13-01T00:00:00Z",
        "2024-00-01T00:00:00Z",
        "2023-02-29T00:00:00Z",
        "1900-02-29T00:00:00Z",
        "2024-04-31T00:00:00Z",
        "2024-05-00T00:00:00Z",
        "2024-05-22T24:00:00Z",
        "2024-05-22T23:60:00Z",
        "2024-05-22T23:59:61Z",
        "2024-05-22T19:10:03+2400",
        "2024-05-22T19:10:03+0060",
        "-024-05-22T19:10:03Z",
        "2024-5-22T19:10:03Z",
        "yesterday",
    };
    int64_t us = 0;
    (void)state;

    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (ps_event_parse_ts(good[i].in, &us) != PS_OK)
            fail_msg("refused %s", good[i].in);
        assert_ts(us, good[i].utc);
    }
    assert_int_equal(ps_event_parse_ts("2024-05-22T12:10:03.058340-0700", &us), PS_OK);
    assert_int_equal(us, 1716405003058340);
    assert_int_equal(ps_event_parse_ts("1969-12-31T23:59:59.5Z", &us), PS_OK);
    assert_int_equal(us, -500000);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        us = 42;
        if (ps_event_parse_ts(bad[i], &us) != PS_ERR_PARSE)
            fail_msg("accepted %s", bad[i]);
        assert_int_equal(us, 42);
    }
    assert_int_equal(ps_event_parse_ts(NULL, &us), PS_ERR_PARSE);
}

static void test_format_ts(void **state)
{
    char buf[40];
    uint64_t rng = 12345;
    (void)state;

    assert_ts(0, "1970-01-01T00:00:00.000000Z");
    assert_ts(-1, "1969-12-31T23:59:59.999999Z");
    assert_ts(951782400000000, "2000-02-29T00:00:00.000000Z");
    /* Too small a buffer: cut, still terminated. */
    ps_event_format_ts(0, buf, 11);
    assert_string_equal(buf, "1970-01-01");
    ps_event_format_ts(0, NULL, 0); /* no crash */

    /* format -> parse is the identity over years 1..9999. */
    for (int i = 0; i < 20000; i++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        int64_t lo = -62135596800000000LL, hi = 253402300799999999LL; /* 0001 .. 9999 */
        int64_t t = lo + (int64_t)(rng % (uint64_t)(hi - lo));
        int64_t back = 0;
        ps_event_format_ts(t, buf, sizeof buf);
        assert_int_equal(strlen(buf), 27);
        assert_int_equal(ps_event_parse_ts(buf, &back), PS_OK);
        assert_int_equal(back, t);
    }
}

static void test_ts_reasons(void **state)
{
    (void)state;
    parse_fails_str(PS_DATA_MESSAGE, "{\"guid\":\"g\"}", "no ts");
    parse_fails_str(PS_DATA_MESSAGE, "{\"guid\":\"g\",\"ts\":null}", "no ts");
    parse_fails_str(PS_DATA_MESSAGE, "{\"guid\":\"g\",\"ts\":1716405003}", "ts is not a string");
    parse_fails_str(PS_DATA_MESSAGE, "{\"guid\":\"g\",\"ts\":\"yesterday\"}",
                    "ts is not ISO 8601: \"yesterday\"");
    parse_fails_str(PS_DATA_MESSAGE, "{\"guid\":\"g\",\"ts\":\"\"}", "ts is not ISO 8601: \"\"");
    parse_fails_str(PS_DATA_MESSAGE,
                    "{\"guid\":\"g\",\"ts\":\"2024-05-22T19:10:03.058340Z and a lot of trailing "
                    "text\"}",
                    "ts is not ISO 8601: \"2024-05-22T19:10:03.058340Z and a lot of...\"");
    parse_fails_str(PS_DATA_MESSAGE, "{\"guid\":\"g\",\"ts\":\"line\\nbreak\\u0007\"}",
                    "ts is not ISO 8601: \"line?break?\"");
    /* 40 characters, not 40 bytes: Japanese text is cut on character boundaries. */
    parse_fails_str(
        PS_DATA_MESSAGE,
        "{\"guid\":\"g\",\"ts\":\"日本語日本語日本語日本語日本語日本語日本語日本語日本語"
        "日本語日本語日本語日本語日本語日本語\"}",
        "ts is not ISO 8601: \"日本語日本語日本語日本語日本語日本語日本語日本語日本語"
        "日本語日本語日本語日本語日...\"");
    /* ts is checked before the key. */
    parse_fails_str(PS_DATA_MESSAGE, "{}", "no ts");
}

/* ---- RFC 2047 ------------------------------------------------------------------------ */

static void test_rfc2047_basic(void **state)
{
    (void)state;
    assert_subject("plain subject", "plain subject");
    assert_subject("=?UTF-8?B?w6lsw6h2ZQ==?=", "élève");
    assert_subject("=?utf-8?b?w6lsw6h2ZQ==?=", "élève");
    assert_subject("=?UTF-8?B?w6lsw6h2ZQ?=", "élève"); /* padding omitted */
    assert_subject("=?UTF-8?Q?caf=C3=A9_au_lait?=", "café au lait");
    assert_subject("=?utf-8?q?na=c3=afve?=", "naïve");
    assert_subject("=?UTF-8*fr?Q?=C3=A9t=C3=A9?=", "été"); /* RFC 2231 language */
    assert_subject("=?US-ASCII?Q?Hello?=", "Hello");
    assert_subject("=?UTF-8?B?"
                   "?=",
                   ""); /* split: "??=" is a trigraph */
    assert_subject("Re: =?UTF-8?Q?caf=C3=A9?= ok", "Re: café ok");
    assert_subject("=?UTF-8?Q?a?= b", "a b");
    assert_subject("a =?UTF-8?Q?b?=", "a b");
    assert_subject("=?UTF-8?Q?a?=  ", "a  ");
    /* Already-UTF-8 text next to encoded words passes through. */
    assert_subject("日本 =?UTF-8?B?6Kqe?=", "日本 語");
}

static void test_rfc2047_multiple_words(void **state)
{
    (void)state;
    /* Whitespace between adjacent encoded words disappears (RFC 2047 6.2). */
    assert_subject("=?UTF-8?Q?a?= =?UTF-8?Q?b?=", "ab");
    assert_subject("=?UTF-8?Q?a?=   \t =?UTF-8?Q?b?=", "ab");
    assert_subject("=?UTF-8?Q?a_?= =?UTF-8?Q?b?=", "a b");
    /* Folded: CRLF + TAB, CRLF + space, and a bare LF. */
    assert_subject("=?UTF-8?B?5pel5pys?=\r\n\t=?UTF-8?B?6Kqe?=", "日本語");
    assert_subject("=?UTF-8?B?5pel5pys?=\r\n =?UTF-8?B?6Kqe?=", "日本語");
    assert_subject("=?UTF-8?B?5pel5pys?=\n\t=?UTF-8?B?6Kqe?=", "日本語");
    assert_subject("Hello\r\n World", "Hello World");
    assert_subject("Hello\r\n\tWorld", "Hello\tWorld");
    /* A character split across two words (mailers do it; RFC 2047 forbids it). */
    assert_subject("=?UTF-8?B?5pel5g==?= =?UTF-8?B?nKzoqp4=?=", "日本語");
    assert_subject("=?UTF-8?Q?=C3?= =?UTF-8?Q?=A9?=", "é");
    /* Different charsets side by side. */
    assert_subject("=?ISO-8859-1?Q?=E9?= =?UTF-8?Q?=C3=A9?=", "éé");
    /* Words glued to text without a space are still decoded. */
    assert_subject("[ext]=?UTF-8?Q?caf=C3=A9?=!", "[ext]café!");
}

static void test_rfc2047_charsets(void **state)
{
    (void)state;
    assert_subject("=?ISO-8859-1?Q?Gr=FC=DFe?=", "Grüße");
    assert_subject("=?iso-8859-1?b?R3L832U=?=", "Grüße");
    assert_subject("=?latin1?Q?=E9?=", "é");
    /* Windows quotes in mail labelled ISO-8859-1 are read as Windows-1252. */
    assert_subject("=?ISO-8859-1?Q?=93hi=94_=80?=", "\u201chi\u201d \u20ac");
    assert_subject("=?windows-1252?Q?=85?=", "\u2026");
    /* Japanese: ISO-2022-JP (stateful) and Shift_JIS. */
    assert_subject("=?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=", "テスト");
    assert_subject("=?iso-2022-jp?B?GyRCRnxLXDhsJE43b0w+GyhC?=", "日本語の件名");
    assert_subject("=?Shift_JIS?B?k/qWe4zq?=", "日本語");
    assert_subject("=?SJIS?B?k/qWe4zq?=", "日本語");
    assert_subject("=?cp932?B?k/qWe4zq?=", "日本語");
    /* Others through iconv. */
    assert_subject("=?KOI8-R?B?8NLJ18XU?=", "Привет");
    assert_subject("=?GB2312?B?1tDOxA==?=", "中文");
    assert_subject("=?windows-1251?Q?=CF=F0=E8=E2=E5=F2?=", "Привет");
    assert_subject("=?UTF-16BE?B?MOYw2TDI?=", "ユベト");
}

static void test_rfc2047_invalid_left_alone(void **state)
{
    static const char *const unchanged[] = {
        "=?UTF-8?B?***?=",             /* not base64 */
        "=?UTF-8?B?w6lsw6h2Z?=",       /* impossible length */
        "=?UTF-8?B?w6==bHM=?=",        /* data after padding */
        "=?UTF-8?Q?=ZZ?=",             /* bad hex */
        "=?UTF-8?Q?trail=?=",          /* '=' without two hex digits */
        "=?UTF-8?Q?=FF?=",             /* not UTF-8 */
        "=?UTF-8?Q?=ED=A0=80?=",       /* surrogate in UTF-8 */
        "=?US-ASCII?Q?=E9?=",          /* not ASCII (nor UTF-8) */
        "=?UTF-8?Q?a=00b?=",           /* NUL */
        "=?X-NO-SUCH-CHARSET?Q?abc?=", /* unknown charset */
        "=?ISO-2022-JP?B?GyRCJQ==?=",  /* ISO-2022-JP cut inside a character */
        "=?UTF-8?X?abc?=",             /* unknown encoding */
        "=?UTF-8?Q?abc",               /* unterminated */
        "=?UTF-8?Q?a b?=",             /* space inside */
        "=??Q?abc?=",                  /* empty charset */
        "=?UTF-8/../x?Q?abc?=",        /* not a charset name */
        "=?UTF-8//TRANSLIT?Q?abc?=",   /* no iconv options */
        "=?UTF-8?Q?abc?",
        "=?",
        "?=",
        "==?=?",
    };
    (void)state;
    for (size_t i = 0; i < sizeof unchanged / sizeof unchanged[0]; i++)
        assert_subject(unchanged[i], unchanged[i]);

    /* A bad word keeps its neighbours decoded, and the spaces next to it. */
    assert_subject("=?UTF-8?Q?ok?= =?UTF-8?Q?=FF?=", "ok =?UTF-8?Q?=FF?=");
    assert_subject("=?UTF-8?Q?=FF?= =?UTF-8?Q?ok?=", "=?UTF-8?Q?=FF?= ok");
    assert_subject("=?UTF-8?Q?a?= =?UTF-8?Q?=FF?= =?UTF-8?Q?b?=", "a =?UTF-8?Q?=FF?= b");
    assert_subject("=?X-BAD?Q?x?= =?UTF-8?Q?ok?=", "=?X-BAD?Q?x?= ok");
    assert_subject("=?UTF-8?Q?ok?= =?X-BAD?Q?x?=", "ok =?X-BAD?Q?x?=");
    assert_subject("=?UTF-8?B?***?= =?UTF-8?Q?ok?=", "=?UTF-8?B?***?= ok");
    assert_subject("=?UTF-8?Q?ok?= =?UTF-8?B?***?=", "ok =?UTF-8?B?***?=");
}

static void test_rfc2047_result_is_utf8(void **state)
{
    ps_event ev;
    (void)state;
    /* A pipeline may have written raw bytes into the tree: the column still gets
     * valid UTF-8, with U+FFFD for each bad byte. */
    cJSON *root = message_with("msg.header.subject", cJSON_CreateString("bad \xFF\xC3 end"));
    extract_tree(&ev, PS_DATA_MESSAGE, root);
    assert_string_equal(ev.text[PS_EF_SUBJECT], "bad \xEF\xBF\xBD\xEF\xBF\xBD end");
    ps_event_deinit(&ev);
    /* Normalized header fallback is decoded too. */
    root = message_with("msg.header.subject", NULL);
    cJSON *norm = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "msg"),
                                                   "normalizedHeader");
    cJSON_ReplaceItemInObjectCaseSensitive(norm, "subject",
                                           cJSON_Parse("[\"=?UTF-8?Q?caf=C3=A9?=\"]"));
    extract_tree(&ev, PS_DATA_MESSAGE, root);
    assert_string_equal(ev.text[PS_EF_SUBJECT], "café");
    ps_event_deinit(&ev);
}

/* Random mixes of encoded-word pieces: the decoder must never crash, and what it
 * returns must be valid UTF-8 (the store relies on that). */
static void test_rfc2047_random(void **state)
{
    static const char *const pieces[] = {
        "=?",  "?=",  "UTF-8", "utf-8",  "ISO-2022-JP", "Shift_JIS", "ISO-8859-1", "X-BAD",
        "?B?", "?Q?", "?b?",   "?q?",    "=C3",         "=A9",       "=1B",        "=FF",
        "=00", "_",   "GyRC",  "JUY",    "5pel",        "w6k=",      "==",         "=",
        "?",   " ",   "\t",    "\r\n\t", "\n ",         "abc",       "\xC3\xA9",   "\xE6\x97\xA5",
        "*ja",
    };
    uint64_t rng = 0xD1B54A32D192ED03ULL;
    char raw[256];
    (void)state;

    for (int round = 0; round < 20000; round++) {
        size_t n = 0;
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        int count = 1 + (int)(rng % 24);
        for (int k = 0; k < count; k++) {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            const char *piece = pieces[rng % (sizeof pieces / sizeof pieces[0])];
            size_t pl = strlen(piece);
            if (n + pl >= sizeof raw)
                break;
            memcpy(raw + n, piece, pl + 1);
            n += pl;
        }
        raw[n] = '\0';
        char *got = subject_of(raw); /* asserts valid UTF-8 */
        free(got);
    }
}

/* ---- field names ------------------------------------------------------------------- */

static void test_field_names(void **state)
{
    static const char *const names[PS_EF__COUNT] = {
        "sender",  "recipients", "subject", "disposition", "action",    "module",
        "rule",    "direction",  "qid",     "message_id",  "client_ip", "client_host",
        "country", "stat",       "dsn",     "relay"};
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
        cmocka_unit_test(test_utf8_validator),
        cmocka_unit_test(test_invalid_utf8_frames),
        cmocka_unit_test(test_bad_json),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_mutated_frames),
        cmocka_unit_test(test_parse_ts),
        cmocka_unit_test(test_format_ts),
        cmocka_unit_test(test_ts_reasons),
        cmocka_unit_test(test_rfc2047_basic),
        cmocka_unit_test(test_rfc2047_multiple_words),
        cmocka_unit_test(test_rfc2047_charsets),
        cmocka_unit_test(test_rfc2047_invalid_left_alone),
        cmocka_unit_test(test_rfc2047_result_is_utf8),
        cmocka_unit_test(test_rfc2047_random),
        cmocka_unit_test(test_field_names),
#ifdef PS_HAVE_PODSIM_GEN
        cmocka_unit_test(test_generated_events),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
