/* Stop and reload requests on Windows. The console's Ctrl+C, Ctrl+Break and close
 * events, and the service control manager's stop and parameter-change requests
 * (ps_plat_svc_win32.c, through ps_plat_signal_post), all become pending requests
 * that ps_plat_signal_wait takes, as the blocked signals are on POSIX: no handler
 * does any work itself, it only records the request and wakes the waiter. */
#include "platform/win32/ps_plat_win32.h"

/* One pending flag per request, as a blocked signal is pending once however often
 * it arrives. */
static SRWLOCK req_lock = SRWLOCK_INIT;
static CONDITION_VARIABLE req_cv = CONDITION_VARIABLE_INIT;
static const char *stop_what, *reload_what; /* NULL: not pending */

static void request(ps_signal sig, const char *what)
{
    AcquireSRWLockExclusive(&req_lock);
    if (sig == PS_SIGNAL_STOP)
        stop_what = what;
    else if (sig == PS_SIGNAL_RELOAD)
        reload_what = what;
    ReleaseSRWLockExclusive(&req_lock);
    WakeAllConditionVariable(&req_cv);
}

static BOOL WINAPI console_handler(DWORD type)
{
    switch (type) {
    case CTRL_C_EVENT:
        request(PS_SIGNAL_STOP, "Ctrl+C");
        return TRUE;
    case CTRL_BREAK_EVENT:
        request(PS_SIGNAL_STOP, "Ctrl+Break");
        return TRUE;
    case CTRL_LOGOFF_EVENT:
        /* Only services get it, whenever any user logs off: not a reason to stop. */
        return TRUE;
    case CTRL_CLOSE_EVENT:
    case CTRL_SHUTDOWN_EVENT:
        request(PS_SIGNAL_STOP, type == CTRL_CLOSE_EVENT ? "console closed" : "shutdown");
        /* Windows ends the process as soon as this handler returns (or after 5 s
         * for a close): waiting here gives the drain that time. main() returning
         * ends the process, and this thread with it, earlier when it is done. */
        Sleep(10000);
        return TRUE;
    default:
        return FALSE;
    }
}

void ps_plat_signals_block(void)
{
    /* From now on Ctrl+C no longer ends the process: it becomes a request. */
    (void)SetConsoleCtrlHandler(console_handler, TRUE);
}

/* Takes a pending request, reload first as POSIX delivers SIGHUP before SIGTERM.
 * Called with req_lock held. */
static ps_signal take(const char **what)
{
    if (reload_what) {
        if (what)
            *what = reload_what;
        reload_what = NULL;
        return PS_SIGNAL_RELOAD;
    }
    if (stop_what) {
        if (what)
            *what = stop_what;
        stop_what = NULL;
        return PS_SIGNAL_STOP;
    }
    return PS_SIGNAL_NONE;
}

ps_signal ps_plat_signal_wait(int timeout_ms, const char **what)
{
    int64_t deadline = ps_plat_mono_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
    ps_signal got;

    if (what)
        *what = "";
    AcquireSRWLockExclusive(&req_lock);
    while ((got = take(what)) == PS_SIGNAL_NONE) {
        int64_t left = deadline - ps_plat_mono_ms();
        DWORD ms = timeout_ms < 0 ? INFINITE : left <= 0 ? 0 : (DWORD)left;
        if (ms == 0 || !SleepConditionVariableSRW(&req_cv, &req_lock, ms, 0)) {
            if (ms == 0 || GetLastError() == ERROR_TIMEOUT) {
                got = take(what);
                break;
            }
        }
    }
    ReleaseSRWLockExclusive(&req_lock);
    return got;
}

void ps_plat_signal_post(ps_signal sig)
{
    /* The service control manager's stop and parameter-change requests come this
     * way; the log says "stop request received". */
    request(sig, sig == PS_SIGNAL_STOP ? "stop request" : "reload request");
}

void ps_plat_ignore_broken_pipe(void)
{
    /* Windows has no SIGPIPE: a send on a closed socket fails with an error. */
}
