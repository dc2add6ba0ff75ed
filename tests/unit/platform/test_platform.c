/* ps_platform: timed waits and thread priority.
 *
 * A condition variable and a deadline read from different clocks turn a
 * "wait 200 ms" into a busy loop (the deadline is long past) that looked like
 * ordinary system time in every figure: these tests hold the pair to the wall
 * time it waits and the CPU time it burns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "podstream/ps_platform.h"

static double thread_cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void test_timed_wait_sleeps(void **state)
{
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv;
    int64_t t0, waited;
    double c0, burnt;
    int rc = 0, wakeups = 0;
    struct timespec deadline;
    ps_plat_cond_init(&cv);
    pthread_mutex_lock(&mu);
    t0 = ps_plat_mono_ms();
    c0 = thread_cpu_ms();
    ps_plat_deadline_ms(&deadline, 300);
    /* Nobody signals: every return before the deadline would be a spurious one. */
    while (rc != ETIMEDOUT && wakeups < 1000000) {
        rc = pthread_cond_timedwait(&cv, &mu, &deadline);
        wakeups++;
    }
    waited = ps_plat_mono_ms() - t0;
    burnt = thread_cpu_ms() - c0;
    pthread_mutex_unlock(&mu);
    pthread_cond_destroy(&cv);
    assert_int_equal(rc, ETIMEDOUT);
    assert_true(waited >= 290);
    assert_true(waited < 5000);
    /* A sleeping wait costs microseconds; a spinning one the whole 300 ms. */
    assert_true(burnt < 60.0);
    assert_true(wakeups < 10);
    (void)state;
}

static void test_deadline_carries_nanoseconds(void **state)
{
    struct timespec now, ts;
    for (int64_t ms = 0; ms < 2500; ms += 97) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        ps_plat_deadline_ms(&ts, ms);
        assert_true(ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000L);
        int64_t diff =
            ((int64_t)ts.tv_sec - now.tv_sec) * 1000 + (ts.tv_nsec - now.tv_nsec) / 1000000;
        assert_true(diff >= ms - 1 && diff <= ms + 50);
    }
    (void)state;
}

static void *lowered(void *arg)
{
    int *out = arg;
    errno = 0;
    int before = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
    ps_plat_thread_background();
    out[0] = before;
    out[1] = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
    return NULL;
}

static void test_background_lowers_only_the_caller(void **state)
{
    pthread_t t;
    int prio[2] = {0, 0};
    int mine = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
    assert_int_equal(pthread_create(&t, NULL, lowered, prio), 0);
    pthread_join(t, NULL);
    /* nice is capped at 19 */
    assert_int_equal(prio[1], prio[0] + 5 > 19 ? 19 : prio[0] + 5);
    assert_int_equal(getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid)), mine);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timed_wait_sleeps),
        cmocka_unit_test(test_deadline_carries_nanoseconds),
        cmocka_unit_test(test_background_lowers_only_the_caller),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
