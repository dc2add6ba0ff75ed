/* ps_event_json_parse, the workers' JSON parser, against cJSON 1.7 itself: the same
 * tree, the same end, and failure on the same inputs, for the leniencies and edge
 * cases cJSON has (fuzz_event compares the two on random inputs too). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "event/ps_event_json.h"

/* Parses text with both; asserts they agree and returns whether it parsed. */
static int agree(const char *text, size_t len)
{
    const char *end_ours = NULL, *end_cjson = NULL;
    cJSON *ours = ps_event_json_parse(text, len, &end_ours);
    cJSON *theirs = cJSON_ParseWithLengthOpts(text, len, &end_cjson, 0);
    int parsed = ours != NULL;

    if ((ours == NULL) != (theirs == NULL))
        fail_msg("%s: ours %s, cJSON %s", text, ours ? "parsed" : "failed",
                 theirs ? "parsed" : "failed");
    if (ours) {
        char *a = cJSON_PrintUnformatted(ours), *b = cJSON_PrintUnformatted(theirs);
        assert_non_null(a);
        assert_non_null(b);
        assert_string_equal(a, b);
        assert_ptr_equal(end_ours, end_cjson);
        cJSON_free(a);
        cJSON_free(b);
    }
    cJSON_Delete(ours);
    cJSON_Delete(theirs);
    return parsed;
}

static void test_same_as_cjson(void **state)
{
    static const char *const ok[] = {
        "{}",
        "[]",
        " \t\r\n{\"a\":1}",
        "\x01\x1f{\"a\":\x02 1}",                 /* any byte up to 0x20 is whitespace */
        "{\"a\":1} trailing",                     /* the end is reported, not refused */
        "\xEF\xBB\xBF{\"a\":1}",                  /* a byte order mark */
        "{\"s\":\"tab\there\x01\"}",              /* control bytes inside strings */
        "{\"e\":\"\\b\\f\\n\\r\\t\\\"\\\\\\/\"}", /* every short escape */
        "{\"u\":\"\\u00e9\\u20ac\\ud83d\\ude00\"}",
        "{\"bad\":\"x\\uZZZZy\"}", /* reads as U+0000 */
        "{\"n\":[0,-0,7,-12,007,123456789012345,1234567890123456789,1.5,-2.25e-3,1E5,1e400]}",
        "{\"i\":[2147483647,2147483648,-2147483648,-2147483649]}",
        "{\"l\":[true,false,null,{\"k\":[[],{}]}]}",
        "{\"dup\":1,\"dup\":2}",
        "{\"k\\u0041\":\"v\"}",
        "\"just a string\"",
        "42",
    };
    static const char *const bad[] = {
        "",
        "   ",
        "{",
        "{\"a\"",
        "{\"a\":}",
        "{\"a\":1,}",
        "[1,]",
        "{a:1}",
        "{\"a\":nul}",
        "{\"a\":tru}",
        "{\"a\":-}",
        "{\"a\":+1}",
        "{\"a\":1.2.3}",
        "{\"a\":\"\\x\"}",
        "{\"a\":\"\\udc00\"}",        /* a lone low surrogate */
        "{\"a\":\"\\ud800\"}",        /* a high one without its pair */
        "{\"a\":\"\\ud800\\u0041\"}", /* paired with no low surrogate */
        "{\"a\":\"\\u12\"}",
        "{\"a\":\"unterminated}",
        "{\"a\":\"ends in a backslash\\",
        "[1 2]",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (!agree(ok[i], strlen(ok[i])))
            fail_msg("expected to parse: %s", ok[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (agree(bad[i], strlen(bad[i])))
            fail_msg("expected to fail: %s", bad[i]);
}

static void test_values(void **state)
{
    const char *text = "{\"z\":-0,\"big\":3e10,\"neg\":-3e10,\"t\":true,\"nul\":\"a\\u0000b\","
                       "\"last\":[1,2,3]}";
    cJSON *root = ps_event_json_parse(text, strlen(text), NULL);
    const cJSON *z, *arr;
    (void)state;

    assert_non_null(root);
    z = cJSON_GetObjectItemCaseSensitive(root, "z");
    assert_true(cJSON_IsNumber(z) && z->valuedouble == 0 && signbit(z->valuedouble));
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(root, "big")->valueint, 2147483647);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(root, "neg")->valueint, -2147483647 - 1);
    assert_int_equal(cJSON_GetObjectItemCaseSensitive(root, "t")->valueint, 1);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(root, "nul")->valuestring, "a");
    /* cJSON appends to a list through its first member's prev */
    arr = cJSON_GetObjectItemCaseSensitive(root, "last");
    assert_int_equal(arr->child->prev->valueint, 3);
    assert_null(arr->child->prev->next);
    assert_string_equal(root->child->prev->string, "last");
    cJSON_AddItemToArray((cJSON *)arr, cJSON_CreateNumber(4));
    assert_int_equal(cJSON_GetArraySize(arr), 4);
    cJSON_Delete(root);
}

/* A text nested n containers deep. */
static char *nested(int n)
{
    char *s = malloc((size_t)n * 2 + 1);
    assert_non_null(s);
    for (int i = 0; i < n; i++) {
        s[i] = '[';
        s[2 * n - 1 - i] = ']';
    }
    s[2 * n] = '\0';
    return s;
}

static void test_nesting_limit(void **state)
{
    char *at = nested(CJSON_NESTING_LIMIT), *over = nested(CJSON_NESTING_LIMIT + 1);
    (void)state;
    assert_true(agree(at, strlen(at)));
    assert_false(agree(over, strlen(over)));
    free(at);
    free(over);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_as_cjson),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_nesting_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
