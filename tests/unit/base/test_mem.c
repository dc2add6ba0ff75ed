/* ps_mem: the growable byte buffer stays NUL-terminated, grows by doubling and
 * hands its bytes over intact; the scratch buffer and the doubling array keep
 * their contracts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "podstream/ps_mem.h"

static void test_buf_empty(void **state)
{
    ps_buf b = {0};
    size_t len = 99;
    char *s;
    (void)state;
    ps_buf_init(&b);
    assert_null(b.p);
    assert_int_equal(b.len, 0);
    ps_buf_deinit(&b); /* an empty buffer */
    ps_buf_deinit(&b); /* and a deinited one */
    s = ps_buf_take(&b, &len);
    assert_non_null(s);
    assert_string_equal(s, "");
    assert_int_equal(len, 0);
    free(s);
    assert_int_equal(ps_buf_append(&b, NULL, 0), PS_OK);
    assert_non_null(b.p); /* even an empty append leaves a C string */
    assert_string_equal(b.p, "");
    ps_buf_deinit(&b);
    assert_null(b.p);
    assert_int_equal(b.cap, 0);
}

static void test_buf_append(void **state)
{
    ps_buf b;
    (void)state;
    ps_buf_init(&b);
    assert_int_equal(ps_buf_append(&b, "abc", 3), PS_OK);
    assert_int_equal(b.len, 3);
    assert_string_equal(b.p, "abc");
    assert_int_equal(ps_buf_putc(&b, 'd'), PS_OK);
    assert_string_equal(b.p, "abcd");
    assert_int_equal(ps_buf_append(&b, "e\0f", 3), PS_OK); /* bytes, not strings */
    assert_int_equal(b.len, 7);
    assert_memory_equal(b.p, "abcde\0f", 8);
    ps_buf_deinit(&b);
}

/* Capacity doubles: 100,000 one-byte appends cost about log2 reallocations. */
static void test_buf_doubles(void **state)
{
    ps_buf b;
    size_t grows = 0, last = 0;
    (void)state;
    ps_buf_init(&b);
    for (size_t i = 0; i < 100000; i++) {
        assert_int_equal(ps_buf_putc(&b, (char)('a' + i % 26)), PS_OK);
        assert_int_equal(b.p[b.len], '\0');
        if (b.cap != last) {
            assert_true(last == 0 || b.cap == last * 2);
            last = b.cap;
            grows++;
        }
    }
    assert_int_equal(b.len, 100000);
    assert_true(grows <= 12);
    assert_int_equal(b.p[99999], 'a' + 99999 % 26);
    ps_buf_deinit(&b);
}

static void test_buf_reserve(void **state)
{
    ps_buf b;
    char *p;
    size_t cap;
    (void)state;
    ps_buf_init(&b);
    assert_int_equal(ps_buf_reserve(&b, 1000), PS_OK);
    assert_true(b.cap > 1000);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.p, "");
    assert_int_equal(ps_buf_append(&b, "xy", 2), PS_OK);
    p = b.p;
    cap = b.cap;
    /* An impossible size fails and leaves every field as it was. */
    assert_int_equal(ps_buf_reserve(&b, SIZE_MAX), PS_ERR_NOMEM);
    assert_int_equal(ps_buf_reserve(&b, SIZE_MAX - 2), PS_ERR_NOMEM);
    assert_ptr_equal(b.p, p);
    assert_int_equal(b.cap, cap);
    assert_int_equal(b.len, 2);
    assert_string_equal(b.p, "xy");
    ps_buf_deinit(&b);
}

static void test_buf_appendf(void **state)
{
    ps_buf b;
    char big[1000];
    char *s;
    size_t len = 0;
    (void)state;
    memset(big, 'q', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ps_buf_init(&b);
    assert_int_equal(ps_buf_appendf(&b, "%d-%s", 42, "x"), PS_OK);
    assert_string_equal(b.p, "42-x");
    /* Longer than the stack probe, then longer than the spare room. */
    assert_int_equal(ps_buf_appendf(&b, "[%s]", big), PS_OK);
    assert_int_equal(b.len, 4 + 2 + 999);
    assert_int_equal(ps_buf_appendf(&b, "%s%s", big, big), PS_OK);
    assert_int_equal(b.len, 4 + 2 + 999 * 3);
    /* Fits in the spare room directly. */
    assert_int_equal(ps_buf_appendf(&b, "%zu", (size_t)7), PS_OK);
    assert_int_equal(ps_buf_appendf(&b, "%s", ""), PS_OK);
    assert_memory_equal(b.p, "42-x[qq", 7);
    assert_int_equal(b.p[4 + 1 + 999], ']');
    assert_string_equal(b.p + b.len - 3, "qq7");
    s = ps_buf_take(&b, &len);
    assert_int_equal(len, 4 + 2 + 999 * 3 + 1);
    assert_int_equal(strlen(s), len);
    assert_null(b.p);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    free(s);
    /* A taken buffer is reusable. */
    assert_int_equal(ps_buf_appendf(&b, "%c", 'k'), PS_OK);
    assert_string_equal(b.p, "k");
    ps_buf_deinit(&b);
}

static void test_reserve_and_grow_array(void **state)
{
    void *buf = NULL, *arr = NULL;
    size_t cap = 0, acap = 0;
    (void)state;
    assert_int_equal(ps_mem_reserve(&buf, &cap, 10), PS_OK);
    assert_int_equal(cap, 10);
    assert_int_equal(ps_mem_reserve(&buf, &cap, 5), PS_OK);
    assert_int_equal(cap, 10);
    for (size_t i = 0; i < 20; i++) {
        assert_int_equal(ps_mem_grow_array(&arr, &acap, i, sizeof(int)), PS_OK);
        ((int *)arr)[i] = (int)i;
    }
    assert_int_equal(acap, 32);
    assert_int_equal(((int *)arr)[19], 19);
    free(buf);
    free(arr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_empty),   cmocka_unit_test(test_buf_append),
        cmocka_unit_test(test_buf_doubles), cmocka_unit_test(test_buf_reserve),
        cmocka_unit_test(test_buf_appendf), cmocka_unit_test(test_reserve_and_grow_array),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
