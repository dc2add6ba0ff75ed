/* Unit tests for podsim_gen: the timeline arithmetic the server's resume and archive
 * logic relies on, the time parser, that the shape pool reproduces direct generation
 * byte for byte (the server sends pool output, --dump prints direct), and that
 * maillog lines belong to the message stream's mails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "podsim_gen.h"

#define T0 1736512496000000LL /* 2025-01-10T12:34:56Z */

static void test_parse_iso(void **state)
{
    (void)state;
    int64_t us = 0;
    assert_true(psim_parse_iso("2025-01-10T12:34:56Z", &us));
    assert_int_equal(us, T0);
    assert_true(psim_parse_iso("2025-01-10T05:34:56.000-0700", &us));
    assert_int_equal(us, T0);
    assert_true(psim_parse_iso("2025-01-10T14:34:56.5+02:00", &us));
    assert_int_equal(us, T0 + 500000);
    assert_true(psim_parse_iso("2025-01-10T12:34:56.123456789Z", &us));
    assert_int_equal(us, T0 + 123456);
    assert_true(psim_parse_iso("2025-01-10T12:34", &us));
    assert_int_equal(us, T0 - 56000000);
    /* An unencoded '+' that became a space, and other malformed input. */
    assert_false(psim_parse_iso("2025-01-10T12:34:56.000 0000", &us));
    assert_false(psim_parse_iso("2025-02-29T00:00:00Z", &us));
    assert_false(psim_parse_iso("2025-01-10 12:34:56Z", &us));
    assert_false(psim_parse_iso("2025-01-10T24:00:00Z", &us));
    assert_false(psim_parse_iso("2025-01-10T12:34:56.Z", &us));
    assert_false(psim_parse_iso("", &us));
    assert_false(psim_parse_iso(NULL, &us));
    char buf[40];
    psim_format_utc(T0 + 7, buf, sizeof buf);
    assert_string_equal(buf, "2025-01-10T12:34:56.000007Z");
}

static void test_timeline_index_math(void **state)
{
    (void)state;
    psim_timeline tl;
    psim_timeline_init(&tl, 1, "c", PSIM_MESSAGE, T0, 500000);
    tl.disorder = 0.3;
    tl.disorder_max_us = 90000000;
    int64_t prev = INT64_MIN;
    for (uint64_t i = 0; i < 20000; i++) {
        int64_t occ = psim_occurs_us(&tl, i);
        assert_true(occ > prev);
        assert_true(occ >= T0 + (int64_t)i * 500000);
        assert_true(occ < T0 + (int64_t)(i + 1) * 500000);
        int64_t ts = psim_ts_us(&tl, i);
        assert_true(ts <= occ && ts >= occ - 90000000);
        /* psim_index_at(t) is the first event occurring at or after t. */
        assert_int_equal(psim_index_at(&tl, occ), i);
        assert_int_equal(psim_index_at(&tl, occ + 1), i + 1);
        prev = occ;
    }
    assert_int_equal(psim_index_at(&tl, T0 - 1000000), 0);
    tl.count = 10;
    assert_int_equal(psim_index_at(&tl, T0 + 3600000000LL), 10);
}

static void test_keys_unique_and_stable(void **state)
{
    (void)state;
    psim_timeline tl;
    psim_timeline_init(&tl, 42, "clusterA", PSIM_MAILLOG, T0, 1000);
    psim_event_info a;
    psim_event_info b;
    psim_event_key(&tl, 77, &a);
    psim_event_key(&tl, 77, &b);
    assert_string_equal(a.key, b.key);
    assert_string_equal(a.ts, b.ts);
    assert_int_equal(strlen(a.key), 22);
    psim_timeline other;
    psim_timeline_init(&other, 42, "clusterB", PSIM_MAILLOG, T0, 1000);
    psim_event_key(&other, 77, &b);
    assert_string_not_equal(a.key, b.key);
    int64_t parsed = 0;
    assert_true(psim_parse_iso(a.ts, &parsed));
    assert_int_equal(parsed, a.ts_us);
}

/* Pool output must equal direct output for every type, with and without large parts,
 * and every event must be one JSON object carrying its key and ts. */
static void test_pool_equals_direct(void **state)
{
    (void)state;
    for (int t = 0; t < PSIM_TYPES; t++) {
        psim_timeline tl;
        psim_timeline_init(&tl, 5, "pphosted_test_hosted", (psim_type)t, T0, 250000);
        tl.big_share = 0.01;
        tl.big_bytes = 1100000;
        tl.disorder = 0.1;
        tl.disorder_max_us = 60000000;
        psim_pool *pool = psim_pool_create(&tl);
        assert_non_null(pool);
        psim_buf direct;
        psim_buf pooled;
        psim_buf_init(&direct);
        psim_buf_init(&pooled);
        for (uint64_t i = 0; i < 12000; i++) {
            psim_event_info di;
            psim_event_info pi;
            direct.len = 0;
            pooled.len = 0;
            assert_true(psim_gen_event(&tl, i, 0, &direct, &di));
            assert_true(psim_pool_event(pool, i, 0, &pooled, &pi));
            assert_int_equal(direct.len, pooled.len);
            assert_memory_equal(direct.data, pooled.data, direct.len);
            assert_string_equal(di.key, pi.key);
            if (i % 97 == 0) {
                cJSON *root = cJSON_ParseWithLength(direct.data, direct.len);
                assert_non_null(root);
                const char *kname = t == PSIM_MAILLOG ? "id" : "guid";
                assert_string_equal(cJSON_GetObjectItem(root, kname)->valuestring, di.key);
                assert_string_equal(cJSON_GetObjectItem(root, "ts")->valuestring, di.ts);
                cJSON_Delete(root);
            }
        }
        /* Padding (the oversize fault) keeps the key and reaches the size asked for. */
        direct.len = 0;
        psim_event_info di;
        assert_true(psim_pool_event(pool, 3, 2000000, &direct, &di));
        assert_true(direct.len >= 2000000);
        cJSON *root = cJSON_ParseWithLength(direct.data, direct.len);
        assert_non_null(root);
        cJSON_Delete(root);
        psim_buf_deinit(&direct);
        psim_buf_deinit(&pooled);
        psim_pool_destroy(pool);
    }
    psim_pool_destroy(NULL);
    psim_buf_deinit(NULL);
}

/* What a maillog line must agree with: its message event's fields. */
typedef struct mail_facts {
    char qid[32];
    char msgid[96];
    char from[160];
    char size[24];
    int nrcpt;
    int64_t ts_us;
    int from_lines;
} mail_facts;

static const char *json_str(const cJSON *v)
{
    assert_true(cJSON_IsString(v));
    return v->valuestring;
}

/* Every maillog line belongs to a mail of the message timeline with the same seed,
 * cluster and time base: the message event with the line's queue id exists, has the
 * same message-id, sender, size and recipient count, and occurred a few slots before
 * the line (without disorder). Checked through the pool, which the server uses. */
static void check_maillog_mails(uint64_t seed, const char *cluster, int64_t interval,
                                double disorder)
{
    enum { N = 800 };
    const int64_t group = PSIM_MAILLOG_GROUP;
    psim_timeline mt;
    psim_timeline lt;
    psim_timeline_init(&mt, seed, cluster, PSIM_MESSAGE, T0, interval);
    psim_timeline_init(&lt, seed, cluster, PSIM_MAILLOG, T0, interval);
    mt.disorder = lt.disorder = disorder;
    mt.disorder_max_us = lt.disorder_max_us = 60000000;
    mail_facts *mails = calloc(N, sizeof *mails);
    assert_non_null(mails);
    psim_buf buf;
    psim_buf_init(&buf);
    psim_event_info info;
    /* A line's message is never later in its timeline than the line itself. */
    for (uint64_t n = 0; n < N; n++) {
        buf.len = 0;
        assert_true(psim_gen_event(&mt, n, 0, &buf, &info));
        cJSON *root = cJSON_ParseWithLength(buf.data, buf.len);
        assert_non_null(root);
        mail_facts *f = &mails[n];
        const cJSON *msg = cJSON_GetObjectItem(root, "msg");
        const cJSON *env = cJSON_GetObjectItem(root, "envelope");
        snprintf(f->qid, sizeof f->qid, "%s",
                 json_str(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "filter"), "qid")));
        snprintf(f->msgid, sizeof f->msgid, "%s",
                 json_str(cJSON_GetArrayItem(
                     cJSON_GetObjectItem(cJSON_GetObjectItem(msg, "header"), "message-id"), 0)));
        snprintf(f->from, sizeof f->from, "<%s>", json_str(cJSON_GetObjectItem(env, "from")));
        f->nrcpt = cJSON_GetArraySize(cJSON_GetObjectItem(env, "rcpts"));
        f->ts_us = info.ts_us;
        snprintf(f->size, sizeof f->size, "%d", cJSON_GetObjectItem(msg, "sizeBytes")->valueint);
        cJSON_Delete(root);
    }
    psim_pool *pool = psim_pool_create(&lt);
    assert_non_null(pool);
    int deliveries = 0;
    for (uint64_t i = 0; i < N; i++) {
        buf.len = 0;
        assert_true(psim_pool_event(pool, i, 0, &buf, &info));
        cJSON *root = cJSON_ParseWithLength(buf.data, buf.len);
        assert_non_null(root);
        const cJSON *sm = cJSON_GetObjectItem(root, "sm");
        const char *qid = json_str(cJSON_GetObjectItem(sm, "qid"));
        mail_facts *f = NULL;
        for (int n = 0; n < N && f == NULL; n++) {
            if (strcmp(mails[n].qid, qid) == 0) {
                f = &mails[n];
            }
        }
        if (f == NULL) {
            fail_msg("maillog line %llu: no message event with qid %s", (unsigned long long)i, qid);
        }
        if (disorder == 0 && (int64_t)i >= group) {
            assert_true(info.ts_us > f->ts_us);
            assert_true(info.ts_us - f->ts_us < 2 * group * interval);
        }
        const cJSON *msgid = cJSON_GetObjectItem(sm, "msgid");
        if (msgid != NULL) {
            assert_string_equal(json_str(msgid), f->msgid);
            assert_string_equal(json_str(cJSON_GetObjectItem(sm, "from")), f->from);
            assert_string_equal(json_str(cJSON_GetObjectItem(sm, "sizeBytes")), f->size);
            char nr[8];
            snprintf(nr, sizeof nr, "%d", f->nrcpt);
            assert_string_equal(json_str(cJSON_GetObjectItem(sm, "nrcpts")), nr);
            assert_null(cJSON_GetObjectItem(sm, "stat"));
            f->from_lines++;
            assert_int_equal(f->from_lines, 1); /* one reception per mail */
        } else {
            /* A delivery follows its mail's reception. */
            assert_int_equal(f->from_lines, 1);
            assert_non_null(cJSON_GetObjectItem(sm, "stat"));
            assert_non_null(cJSON_GetObjectItem(sm, "dsn"));
            deliveries++;
        }
        cJSON_Delete(root);
    }
    assert_true(deliveries > N / 3);
    psim_pool_destroy(pool);
    psim_buf_deinit(&buf);
    free(mails);
}

static void test_maillog_follows_messages(void **state)
{
    (void)state;
    check_maillog_mails(1, "pphosted_demo_hosted", 500000, 0);
    check_maillog_mails(42, "clusterB", 1000, 0);
    check_maillog_mails(7, "clusterC", 250000, 0.2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_iso),
        cmocka_unit_test(test_timeline_index_math),
        cmocka_unit_test(test_keys_unique_and_stable),
        cmocka_unit_test(test_pool_equals_direct),
        cmocka_unit_test(test_maillog_follows_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
