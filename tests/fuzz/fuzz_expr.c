/* libFuzzer target for the condition language: bytes -> ps_expr_compile, and every
 * expression that compiles is evaluated against a message-like event (with nested
 * lists for any(), keys with dots, a string long enough for the regex limits and
 * an `_ingest` object), both as a condition and as a value.
 *
 * Besides memory errors (build with -DPS_SANITIZE=ON), the compiler's contract is
 * checked: a failure names an offset inside the input and leaves *out NULL, a
 * success never leaves an error message, and evaluation gives OK or INVALID only. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_expr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const EVENT =
    "{\"guid\":\"g\",\"ts\":\"2024-05-22T12:10:03.058340-0700\","
    "\"filter\":{\"routeDirection\":\"outbound\",\"disposition\":\"accept\","
    "\"actions\":[{\"module\":\"access\",\"rule\":\"system\",\"isFinal\":true},"
    "{\"module\":\"spam\",\"isFinal\":false}],\"modules\":{\"spam\":{\"scores\":"
    "{\"overall\":42,\"classifiers\":{\"phish\":0.5}}}},\"msgSizeBytes\":1127},"
    "\"envelope\":{\"from\":\"Pps@Example.com\",\"rcpts\":[\"a@x.com\",\"B@Y.COM\"]},"
    "\"msg\":{\"header\":{\"subject\":[\"Cron <pps@m0000123> job\"],"
    "\"message-id\":[\"<id@x>\"],\"x.dotted\":[\"\"]},\"sizeBytes\":1151},"
    "\"sm\":{\"pri\":\"120812\",\"stat\":\"Sent (Ok: queued)\",\"to\":[]},"
    "\"nested\":[[1,2],[3,[4,[5]]],[]],\"n\":null,\"t\":true,\"f\":-2.5e3,"
    "\"long\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!\","
    "\"u\":\"caf\\u00e9 \\u65e5\\u672c\"}";

static cJSON *event, *meta;
static ps_expr_scratch *scratch;

static void check(bool ok)
{
    if (!ok)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ps_expr *e = (ps_expr *)&e;
    ps_expr_error err;
    ps_err rc;

    if (!event) {
        event = cJSON_Parse(EVENT);
        meta = cJSON_Parse("{\"pipeline\":\"p\",\"on_failure_message\":\"m\"}");
        check(event && meta && ps_expr_scratch_create(&scratch) == PS_OK);
    }
    rc = ps_expr_compile((const char *)data, size, &e, &err);
    if (rc != PS_OK) {
        check(e == NULL);
        check(rc == PS_ERR_PARSE || rc == PS_ERR_RANGE || rc == PS_ERR_NOMEM);
        check(err.offset <= size && err.msg[0] != '\0');
        return 0;
    }
    check(e != NULL && err.msg[0] == '\0');
    check(strlen(ps_expr_source(e)) <= size);

    /* With the thread's scratch and without one: both paths must agree. */
    for (int pass = 0; pass < 2; pass++) {
        ps_expr_env env = {event, meta, pass ? scratch : NULL};
        ps_errmsg em;
        bool b = false;
        cJSON *out = NULL;
        rc = ps_expr_eval_bool(e, &env, &b, &em);
        check(rc == PS_OK || rc == PS_ERR_INVALID);
        rc = ps_expr_eval_json(e, &env, &out, &em);
        check(rc == PS_OK || rc == PS_ERR_INVALID);
        check((rc == PS_OK) == (out != NULL));
        if (out) {
            char *text = cJSON_PrintUnformatted(out);
            check(text != NULL);
            cJSON_free(text);
        }
        cJSON_Delete(out);
    }
    ps_expr_destroy(e);
    return 0;
}
