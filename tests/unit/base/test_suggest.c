/* ps_suggest: the distance and when a candidate is named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "podstream/ps_suggest.h"

static void test_distance(void **state)
{
    char long_a[80], long_b[70];
    (void)state;
    assert_int_equal(ps_suggest_distance("", ""), 0);
    assert_int_equal(ps_suggest_distance("abc", ""), 3);
    assert_int_equal(ps_suggest_distance("", "abcd"), 4);
    assert_int_equal(ps_suggest_distance("propertes", "properties"), 1);
    assert_int_equal(ps_suggest_distance("tyep", "type"), 1); /* a swap counts once */
    assert_int_equal(ps_suggest_distance("vaule", "value"), 1);
    assert_int_equal(ps_suggest_distance("TYPE", "type"), 0);
    assert_int_equal(ps_suggest_distance("kitten", "sitting"), 3);
    assert_int_equal(ps_suggest_distance("ca", "abc"), 3); /* OSA, not Damerau */
    memset(long_a, 'a', sizeof long_a - 1);
    long_a[sizeof long_a - 1] = '\0';
    memset(long_b, 'a', sizeof long_b - 1);
    long_b[sizeof long_b - 1] = '\0';
    assert_int_equal(ps_suggest_distance(long_a, "a"), strlen(long_a)); /* too long */
    assert_int_equal(ps_suggest_distance("a", long_b), strlen(long_b));
    long_a[64] = '\0';
    assert_int_equal(ps_suggest_distance(long_a, "aaaa"), 60); /* 64 is still compared */
}

static void test_suggest(void **state)
{
    static const char *const keys[] = {"properties", "pipelines", "type", "id", NULL};
    static const char *const types[] = {"message", "maillog", "audit", NULL};
    static const char *const procs[] = {"set", "remove", "rename", "drop", NULL};
    static const char *const opts[] = {"field", "target_field", "ignore_missing", NULL};
    static const char *const none[] = {NULL};
    (void)state;
    assert_string_equal(ps_suggest("propertes", keys), "properties");
    assert_string_equal(ps_suggest("pipeline", keys), "pipelines");
    assert_string_equal(ps_suggest("tyep", keys), "type");
    assert_string_equal(ps_suggest("Type", keys), "type");
    assert_string_equal(ps_suggest("mesage", types), "message");
    assert_string_equal(ps_suggest("maillogs", types), "maillog");
    assert_string_equal(ps_suggest("propert", keys), "properties"); /* a prefix */
    assert_string_equal(ps_suggest("messages-all", types), "message");
    assert_string_equal(ps_suggest("sett", procs), "set");
    assert_string_equal(ps_suggest("target", opts), "target_field");
    assert_string_equal(ps_suggest("Ignore_Missing", opts), "ignore_missing");
    assert_null(ps_suggest("cluster", keys));
    assert_null(ps_suggest("x", keys)); /* one letter is no evidence */
    assert_null(ps_suggest("tags", keys));
    assert_null(ps_suggest("zzz", procs));
    assert_null(ps_suggest("set", none));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_distance),
        cmocka_unit_test(test_suggest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
