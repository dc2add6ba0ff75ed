/* ps_platform: threads, mutexes, timed waits and thread priority.
 *
 * A condition variable and a deadline read from different clocks turn a
 * "wait 200 ms" into a busy loop (the deadline is long past) that looked like
 * ordinary system time in every figure: these tests hold the pair to the wall
 * time it waits and the CPU time it burns. This file alone may use pthreads
 * directly, to compare with what the platform layer sets up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
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

/* The ps_cond version of the test above: a timed wait neither returns early nor
 * spins. */
static void test_cond_wait_until_sleeps(void **state)
{
    ps_mutex *mu = NULL;
    ps_cond *cv = NULL;
    int64_t t0, deadline, waited;
    double c0, burnt;
    bool woke = true;
    int wakeups = 0;

    assert_int_equal(ps_plat_mutex_create(&mu), PS_OK);
    assert_int_equal(ps_plat_cond_create(&cv), PS_OK);
    ps_plat_mutex_lock(mu);
    t0 = ps_plat_mono_ms();
    c0 = thread_cpu_ms();
    deadline = t0 + 300;
    /* Nobody signals: every true return is a spurious wake-up. */
    while (woke && wakeups < 1000000) {
        woke = ps_plat_cond_wait_until(cv, mu, deadline);
        wakeups++;
    }
    waited = ps_plat_mono_ms() - t0;
    burnt = thread_cpu_ms() - c0;
    ps_plat_mutex_unlock(mu);
    ps_plat_cond_destroy(cv);
    ps_plat_mutex_destroy(mu);
    assert_false(woke);
    assert_true(t0 + waited >= deadline); /* never reports a timeout early */
    assert_true(waited < 5000);
    assert_true(burnt < 60.0);
    assert_true(wakeups < 10);
    (void)state;
}

typedef struct shared {
    ps_mutex *mu;
    ps_cond *cv;
    int flag;
    long count;
    char name[16];
} shared;

static void *signal_later(void *arg)
{
    shared *sh = arg;
    ps_plat_mutex_lock(sh->mu);
    sh->flag = 1;
    ps_plat_cond_signal(sh->cv);
    ps_plat_mutex_unlock(sh->mu);
    return NULL;
}

static void test_cond_signal_wakes_waiter(void **state)
{
    shared sh = {0};
    ps_thread *t = NULL;
    int64_t t0;

    assert_int_equal(ps_plat_mutex_create(&sh.mu), PS_OK);
    assert_int_equal(ps_plat_cond_create(&sh.cv), PS_OK);
    ps_plat_mutex_lock(sh.mu);
    assert_int_equal(ps_plat_thread_create(&t, "ps-test-sig", signal_later, &sh), PS_OK);
    t0 = ps_plat_mono_ms();
    while (!sh.flag && ps_plat_cond_wait_until(sh.cv, sh.mu, t0 + 10000))
        ;
    ps_plat_mutex_unlock(sh.mu);
    assert_int_equal(sh.flag, 1);
    assert_true(ps_plat_mono_ms() - t0 < 5000);
    assert_null(ps_plat_thread_join(t));
    ps_plat_cond_destroy(sh.cv);
    ps_plat_mutex_destroy(sh.mu);
    (void)state;
}

static void *count_up(void *arg)
{
    shared *sh = arg;
    for (int i = 0; i < 100000; i++) {
        ps_plat_mutex_lock(sh->mu);
        sh->count++;
        ps_plat_mutex_unlock(sh->mu);
    }
    ps_plat_mutex_lock(sh->mu);
    /* The name given to ps_plat_thread_create is what top -H shows. */
    pthread_getname_np(pthread_self(), sh->name, sizeof sh->name);
    ps_plat_cond_broadcast(sh->cv);
    ps_plat_mutex_unlock(sh->mu);
    return sh;
}

static void test_threads_join_and_exclude(void **state)
{
    shared sh = {0};
    ps_thread *t[4] = {NULL};

    assert_int_equal(ps_plat_mutex_create(&sh.mu), PS_OK);
    assert_int_equal(ps_plat_cond_create(&sh.cv), PS_OK);
    for (int i = 0; i < 4; i++)
        assert_int_equal(ps_plat_thread_create(&t[i], "ps-test-a-long-thread-name", count_up, &sh),
                         PS_OK);
    for (int i = 0; i < 4; i++)
        assert_ptr_equal(ps_plat_thread_join(t[i]), &sh);
    assert_int_equal(sh.count, 400000);
    assert_string_equal(sh.name, "ps-test-a-long-");
    /* Each destroy and join accepts NULL. */
    assert_null(ps_plat_thread_join(NULL));
    ps_plat_cond_destroy(NULL);
    ps_plat_mutex_destroy(NULL);
    ps_plat_cond_destroy(sh.cv);
    ps_plat_mutex_destroy(sh.mu);
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
    ps_thread *t = NULL;
    int prio[2] = {0, 0};
    int mine = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
    assert_int_equal(ps_plat_thread_create(&t, "ps-test-nice", lowered, prio), PS_OK);
    (void)ps_plat_thread_join(t);
    /* nice is capped at 19 */
    assert_int_equal(prio[1], prio[0] + 5 > 19 ? 19 : prio[0] + 5);
    assert_int_equal(getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid)), mine);
    (void)state;
}

/* The calling thread's nice value as the kernel reports it: field 19 of
 * /proc/self/task/<tid>/stat, counted after the command name, which may hold
 * spaces and parentheses. */
static int task_nice(void)
{
    char path[64], buf[1024];
    long tid = syscall(SYS_gettid);
    FILE *f;
    size_t n;
    const char *p;
    int nice = 99;

    snprintf(path, sizeof path, "/proc/self/task/%ld/stat", tid);
    f = fopen(path, "r");
    assert_non_null(f);
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    p = strrchr(buf, ')');
    assert_non_null(p);
    for (int field = 2; field < 19; field++) {
        p = strchr(p + 1, ' ');
        assert_non_null(p);
    }
    assert_int_equal(sscanf(p + 1, "%d", &nice), 1);
    return nice;
}

struct lowest_run {
    int before, after_background, after;
    ps_err err;
};

/* As an output thread sits beside ingest's: lowered once as a receiver or
 * worker is, then ps_plat_thread_lowest in a second thread. */
static void *background_then_read(void *arg)
{
    struct lowest_run *run = arg;
    run->before = task_nice();
    ps_plat_thread_background();
    run->after_background = task_nice();
    return NULL;
}

static void *lowest_then_read(void *arg)
{
    struct lowest_run *run = arg;
    ps_errmsg em;
    run->before = task_nice();
    run->err = ps_plat_thread_lowest(&em);
    run->after = task_nice();
    return NULL;
}

static void test_lowest_is_below_background(void **state)
{
    ps_thread *t = NULL;
    struct lowest_run bg = {0, 0, 0, PS_OK}, low = {0, 0, 0, PS_ERR_INTERNAL};
    int mine = task_nice();

    assert_int_equal(ps_plat_thread_create(&t, "ps-test-bg", background_then_read, &bg), PS_OK);
    (void)ps_plat_thread_join(t);
    assert_int_equal(ps_plat_thread_create(&t, "ps-test-lowest", lowest_then_read, &low), PS_OK);
    (void)ps_plat_thread_join(t);
    assert_int_equal(low.err, PS_OK);
    /* the lowest there is, whatever the process was started at */
    assert_int_equal(low.before, mine);
    assert_int_equal(low.after, 19);
    assert_int_equal(bg.after_background, mine + 5 > 19 ? 19 : mine + 5);
    if (mine + 10 <= 19)
        assert_true(low.after > bg.after_background);
    assert_int_equal(task_nice(), mine);
    (void)state;
}

/* Core dumps would hold the clear-text token; the debug switch must keep them. */
static void test_secure_process_disables_dumps(void **state)
{
    assert_int_equal(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), 0);
    assert_int_equal(unsetenv("PODSTREAM_ALLOW_CORE_DUMPS"), 0);
    assert_true(ps_plat_secure_process());
    assert_int_equal(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);

    /* Only "1" allows them: anything else is a typo, not a decision. */
    assert_int_equal(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), 0);
    assert_int_equal(setenv("PODSTREAM_ALLOW_CORE_DUMPS", "yes", 1), 0);
    assert_true(ps_plat_secure_process());
    assert_int_equal(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);

    assert_int_equal(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), 0);
    assert_int_equal(setenv("PODSTREAM_ALLOW_CORE_DUMPS", "1", 1), 0);
    assert_false(ps_plat_secure_process());
    assert_int_equal(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 1);
    assert_int_equal(unsetenv("PODSTREAM_ALLOW_CORE_DUMPS"), 0);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cond_wait_until_sleeps),
        cmocka_unit_test(test_cond_signal_wakes_waiter),
        cmocka_unit_test(test_threads_join_and_exclude),
        cmocka_unit_test(test_background_lowers_only_the_caller),
        cmocka_unit_test(test_lowest_is_below_background),
        cmocka_unit_test(test_secure_process_disables_dumps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
