/* Stop and reload requests on POSIX: SIGTERM, SIGINT and SIGHUP, blocked in every
 * thread and taken synchronously with sigtimedwait(2), so that no handler runs in
 * the middle of a library call. */
#include "podstream/ps_platform.h"

#include <signal.h>
#include <time.h>
#include <unistd.h>

static void request_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
}

void ps_plat_signals_block(void)
{
    sigset_t set;

    request_set(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

ps_signal ps_plat_signal_wait(int timeout_ms, const char **what)
{
    sigset_t set;
    int got;

    if (what)
        *what = "";
    request_set(&set);
    if (timeout_ms < 0) {
        got = sigwaitinfo(&set, NULL);
    } else {
        struct timespec ts = {.tv_sec = timeout_ms / 1000,
                              .tv_nsec = (long)(timeout_ms % 1000) * 1000000L};
        got = sigtimedwait(&set, NULL, &ts);
    }
    switch (got) {
    case SIGTERM:
        if (what)
            *what = "SIGTERM";
        return PS_SIGNAL_STOP;
    case SIGINT:
        if (what)
            *what = "SIGINT";
        return PS_SIGNAL_STOP;
    case SIGHUP:
        if (what)
            *what = "SIGHUP";
        return PS_SIGNAL_RELOAD;
    default:
        return PS_SIGNAL_NONE; /* timeout, or EINTR from another signal */
    }
}

void ps_plat_signal_post(ps_signal sig)
{
    /* To the process, not the calling thread: the waiting thread takes it. */
    if (sig == PS_SIGNAL_STOP)
        (void)kill(getpid(), SIGTERM);
    else if (sig == PS_SIGNAL_RELOAD)
        (void)kill(getpid(), SIGHUP);
}

void ps_plat_ignore_broken_pipe(void)
{
    signal(SIGPIPE, SIG_IGN);
}
