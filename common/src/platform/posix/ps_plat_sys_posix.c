/* Randomness, clocks, scheduling, core dumps, the heap and local time on POSIX. */
#include "podstream/ps_platform.h"

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

ps_err ps_plat_random(void *buf, size_t len)
{
    char *p = buf;
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return PS_ERR_IO;
        p += n;
        len -= (size_t)n;
    }
    return PS_OK;
}

void ps_plat_wipe(void *p, size_t len)
{
    if (p)
        explicit_bzero(p, len);
}

int64_t ps_plat_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t ps_plat_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ps_plat_thread_background(void)
{
#ifdef __linux__
    /* Linux applies a thread id's nice value to that thread alone. Best effort: a
     * failure only costs throughput. */
    errno = 0;
    int now = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
    if (errno == 0)
        (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), now + 5);
#endif
}

ps_err ps_plat_thread_lowest(ps_errmsg *em)
{
#ifdef __linux__
    /* 19, not a step below the others: CFS shares busy cores by weight. In a
     * catch-up (writer 1024, six receivers and workers at +5, 335 each) an output
     * at +10 (110) would take about 3.5% of them, at 19 (15) 0.5%; when ingest is
     * idle, which at live rates is nearly always, it gets every cycle either way. */
    id_t tid = (id_t)syscall(SYS_gettid);
    if (setpriority(PRIO_PROCESS, tid, 19) != 0)
        return ps_errmsg_set(em, PS_ERR_IO, "cannot lower the thread's priority: %s",
                             strerror(errno));
#else
    (void)em;
#endif
    return PS_OK;
}

bool ps_plat_secure_process(void)
{
#ifdef __linux__
    const char *allow = getenv("PODSTREAM_ALLOW_CORE_DUMPS");
    if (allow && strcmp(allow, "1") == 0)
        return false;
    /* Whole process rather than MADV_DONTDUMP on the secret buffers: the token is
     * copied where podstream does not control the memory (libcurl's header list,
     * OpenSSL, cJSON trees), so marking our own buffers would leave copies. */
    return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0;
#else
    return false;
#endif
}

void ps_plat_heap_trim(void)
{
#ifdef __GLIBC__
    (void)malloc_trim(0);
#endif
}

bool ps_plat_localtime(int64_t unix_s, struct tm *out)
{
    time_t t = (time_t)unix_s;
    if ((int64_t)t != unix_s)
        return false;
    return localtime_r(&t, out) != NULL;
}

bool ps_plat_gmtime(int64_t unix_s, struct tm *out)
{
    time_t t = (time_t)unix_s;
    if ((int64_t)t != unix_s)
        return false;
    return gmtime_r(&t, out) != NULL;
}

void ps_plat_sleep_ms(int64_t ms)
{
    struct timespec ts;
    if (ms <= 0)
        return;
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    (void)nanosleep(&ts, NULL);
}

void ps_plat_os_name(char *buf, size_t len)
{
    struct utsname u;
    if (len == 0)
        return;
    if (uname(&u) == 0)
        snprintf(buf, len, "%s %s", u.sysname, u.release);
    else
        snprintf(buf, len, "unknown");
}
