/* The platform calls whose behaviour is defined by podstream rather than by the
 * system, so that one test holds on Linux and (under wine) on Windows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "podstream/ps_platform.h"

static void test_memmem(void **state)
{
    const char hay[] = "ab\0abcabcd";
    assert_ptr_equal(ps_plat_memmem(hay, 10, "abcd", 4), hay + 6);
    assert_ptr_equal(ps_plat_memmem(hay, 10, "\0a", 2), hay + 2);
    assert_ptr_equal(ps_plat_memmem(hay, 10, "", 0), hay);
    assert_null(ps_plat_memmem(hay, 9, "abcd", 4)); /* the last byte is out of reach */
    assert_null(ps_plat_memmem(hay, 2, "abc", 3));
    assert_null(ps_plat_memmem(hay, 10, "x", 1));
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memmem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
