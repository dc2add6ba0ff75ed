/* ps_queue: order, batching, linger, close-and-drain across threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <time.h>

#include "podstream/ps_platform.h"
#include "engine/ps_queue.h"

static void test_fifo_and_batch(void **state)
{
    ps_queue *q;
    void *out[8];
    int closed = 0;
    intptr_t v[20];
    assert_int_equal(ps_queue_create(&q), PS_OK);
    /* past the initial ring to exercise growth */
    for (intptr_t i = 0; i < 20; i++) {
        v[i] = i;
        assert_int_equal(ps_queue_push(q, &v[i]), PS_OK);
    }
    assert_int_equal(ps_queue_length(q), 20);
    assert_int_equal(ps_queue_pop_batch(q, out, 8, 0, 0, &closed), 8);
    for (int i = 0; i < 8; i++)
        assert_int_equal(*(intptr_t *)out[i], i);
    assert_int_equal(ps_queue_pop_batch(q, out, 8, 0, 0, &closed), 8);
    assert_int_equal(*(intptr_t *)out[0], 8);
    assert_int_equal(ps_queue_pop_batch(q, out, 8, 0, 0, &closed), 4);
    assert_int_equal(closed, 0);
    ps_queue_destroy(q);
    (void)state;
}

static void test_timeout_returns_zero(void **state)
{
    ps_queue *q;
    void *out[1];
    int closed = 1;
    int64_t t0;
    assert_int_equal(ps_queue_create(&q), PS_OK);
    t0 = ps_plat_mono_ms();
    assert_int_equal(ps_queue_pop_batch(q, out, 1, 150, 0, &closed), 0);
    assert_true(ps_plat_mono_ms() - t0 >= 140);
    assert_int_equal(closed, 0);
    ps_queue_destroy(q);
    (void)state;
}

static void test_close_drains_then_reports(void **state)
{
    ps_queue *q;
    void *out[4];
    int closed = 0, x = 1;
    assert_int_equal(ps_queue_create(&q), PS_OK);
    assert_int_equal(ps_queue_push(q, &x), PS_OK);
    ps_queue_close(q);
    assert_int_equal(ps_queue_push(q, &x), PS_ERR_CLOSED);
    assert_int_equal(ps_queue_pop_batch(q, out, 4, 1000, 1000, &closed), 1);
    assert_int_equal(closed, 1);
    assert_int_equal(ps_queue_pop_batch(q, out, 4, 1000, 1000, &closed), 0);
    assert_int_equal(closed, 1);
    ps_queue_destroy(q);
    (void)state;
}

typedef struct producer_arg {
    ps_queue *q;
    intptr_t base;
    intptr_t vals[5000];
} producer_arg;

static void *producer(void *p)
{
    producer_arg *a = p;
    for (int i = 0; i < 5000; i++) {
        a->vals[i] = a->base + i;
        assert_int_equal(ps_queue_push(a->q, &a->vals[i]), PS_OK);
    }
    return NULL;
}

static void test_threads_lose_nothing(void **state)
{
    ps_queue *q;
    ps_thread *t[2];
    static producer_arg a[2];
    static void *out[256];
    unsigned char *seen = calloc(10000, 1);
    size_t total = 0;
    int closed = 0;

    assert_non_null(seen);
    assert_int_equal(ps_queue_create(&q), PS_OK);
    for (int i = 0; i < 2; i++) {
        a[i].q = q;
        a[i].base = i * 5000;
        assert_int_equal(ps_plat_thread_create(&t[i], "producer", producer, &a[i]), PS_OK);
    }
    while (total < 10000) {
        size_t n = ps_queue_pop_batch(q, out, 256, 1000, 5, &closed);
        assert_true(n > 0);
        for (size_t i = 0; i < n; i++) {
            intptr_t v = *(intptr_t *)out[i];
            assert_int_equal(seen[v], 0);
            seen[v] = 1;
        }
        total += n;
    }
    for (int i = 0; i < 2; i++)
        (void)ps_plat_thread_join(t[i]);
    assert_int_equal(total, 10000);
    ps_queue_destroy(q);
    free(seen);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_and_batch),
        cmocka_unit_test(test_timeout_returns_zero),
        cmocka_unit_test(test_close_drains_then_reports),
        cmocka_unit_test(test_threads_lose_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
