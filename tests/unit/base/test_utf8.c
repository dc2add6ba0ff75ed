/* ps_utf8: decoding, encoding, counting and cutting agree with the validator, on
 * every edge of RFC 3629. (Validation itself is checked through ps_event in
 * test_event.c, where frames meet it.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "podstream/ps_utf8.h"

static void test_decode(void **state)
{
    static const struct {
        const char *s;
        size_t len;
        uint32_t cp;
        size_t n;
    } cases[] = {
        {"A", 1, 'A', 1},
        {"\xC3\xA9", 2, 0xE9, 2},
        {"\xE6\x97\xA5", 3, 0x65E5, 3},
        {"\xF0\x9F\x98\x80", 4, 0x1F600, 4},
        {"\xF4\x8F\xBF\xBF", 4, 0x10FFFF, 4},
        {"\xED\x9F\xBF", 3, 0xD7FF, 3},
        {"\x80", 1, 0xFFFD, 1},             /* stray continuation */
        {"\xC0\xAF", 2, 0xFFFD, 1},         /* overlong */
        {"\xE0\x9F\xBF", 3, 0xFFFD, 1},     /* overlong three-byte */
        {"\xF0\x8F\xBF\xBF", 4, 0xFFFD, 1}, /* overlong four-byte */
        {"\xED\xA0\x80", 3, 0xFFFD, 1},     /* surrogate */
        {"\xF4\x90\x80\x80", 4, 0xFFFD, 1}, /* above U+10FFFF */
        {"\xE6\x97", 2, 0xFFFD, 1},         /* cut off */
        {"\xE6\x97", 4, 0xFFFD, 1},         /* cut off by the NUL of a C string */
        {"\xC3\x28", 2, 0xFFFD, 1},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint32_t cp = 0;
        size_t n = ps_utf8_decode(cases[i].s, cases[i].len, &cp);
        if (n != cases[i].n || cp != cases[i].cp)
            fail_msg("case %zu: n %zu cp U+%04X", i, n, (unsigned)cp);
    }
}

static void test_encode_round_trip(void **state)
{
    (void)state;
    for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
        char buf[PS_UTF8_MAX];
        uint32_t back = 0;
        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue;
        size_t n = ps_utf8_encode(cp, buf);
        assert_int_equal(n, cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4);
        assert_true(ps_utf8_valid(buf, n, NULL));
        assert_int_equal(ps_utf8_count(buf, n), 1);
        assert_int_equal(ps_utf8_decode(buf, n, &back), n);
        assert_int_equal(back, cp);
    }
}

static void test_count_and_prefix(void **state)
{
    const char *s = "a\xC3\xA9\xE6\x97\xA5\xF0\x9F\x98\x80z"; /* a é 日 😀 z */
    size_t len = strlen(s);
    size_t bad = 99;
    (void)state;

    assert_int_equal(ps_utf8_count(s, len), 5);
    assert_int_equal(ps_utf8_count(s, 0), 0);
    assert_int_equal(ps_utf8_prefix(s, len, 100), len);
    assert_int_equal(ps_utf8_prefix(s, len, len), len);
    assert_int_equal(ps_utf8_prefix(s, len, 0), 0);
    assert_int_equal(ps_utf8_prefix(s, len, 1), 1);
    assert_int_equal(ps_utf8_prefix(s, len, 2), 1); /* not inside é */
    assert_int_equal(ps_utf8_prefix(s, len, 3), 3);
    assert_int_equal(ps_utf8_prefix(s, len, 5), 3); /* not inside 日 */
    assert_int_equal(ps_utf8_prefix(s, len, 9), 6); /* not inside 😀 */
    assert_int_equal(ps_utf8_prefix(s, len, 10), 10);
    for (size_t max = 0; max <= len; max++)
        assert_true(ps_utf8_valid(s, ps_utf8_prefix(s, len, max), NULL));
    assert_false(ps_utf8_valid("ok\xFF", 3, &bad));
    assert_int_equal(bad, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_encode_round_trip),
        cmocka_unit_test(test_count_and_prefix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
