/* Running under the Windows service control manager (SCM): the dispatcher,
 * ServiceMain, the control handler and the status reports that ps_plat_svc_notify
 * maps onto the SCM's states, plus the Event Log records and the log directory of a
 * running service. Installing and controlling the service is ps_plat_svcctl_win32.c.
 *
 * The SCM calls ServiceMain on a thread of its dispatcher, which runs on the main
 * thread until the service stops; `podstream run` runs on that ServiceMain thread and
 * waits for its stop and reload requests there exactly as on a console, because the
 * control handler turns them into ps_plat_signal_post calls. */
#include "platform/win32/ps_plat_win32.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tlhelp32.h>
#include <wchar.h>

#include "podstream-msg.h"
#include "podstream/ps_log.h"

/* How long Windows should wait for the next sign of progress while devices start
 * (the configuration loads, the database opens, perhaps migrates) and while the
 * engine drains. The drain is bounded well under 5 s by the engine itself. */
#define START_WAIT_HINT_MS 30000
#define STOP_WAIT_HINT_MS  15000
/* The ticker bumps the checkpoint this often while a state is pending, and gives up
 * after PENDING_MAX_MS so that a hung start or drain is not reported as progress
 * forever: the SCM then declares the service unresponsive, as it should. */
#define TICK_MS        2000
#define PENDING_MAX_MS 120000

typedef struct svc_state {
    SRWLOCK lock;
    SERVICE_STATUS_HANDLE handle;
    SERVICE_STATUS status;
    int64_t pending_since; /* ps_plat_mono_ms when the pending state began */
    HANDLE ticker_stop;    /* manual-reset event ending the ticker */
    HANDLE event_source;   /* RegisterEventSourceW, opened on first use */
    wchar_t name[64];
    ps_plat_svc_main_fn fn;
    int argc;
    char **argv;
    int rc;
    volatile LONG active;
} svc_state;

static svc_state svc = {.lock = SRWLOCK_INIT};

/* Sets the state under the lock and reports it. A new pending state restarts the
 * checkpoint count; the same pending state again counts one more checkpoint. */
static void status_report(DWORD state, DWORD wait_hint)
{
    AcquireSRWLockExclusive(&svc.lock);
    if (svc.handle) {
        bool pending = state == SERVICE_START_PENDING || state == SERVICE_STOP_PENDING;
        if (pending && svc.status.dwCurrentState == state) {
            svc.status.dwCheckPoint++;
        } else {
            svc.status.dwCheckPoint = pending ? 1 : 0;
            svc.pending_since = ps_plat_mono_ms();
        }
        svc.status.dwCurrentState = state;
        svc.status.dwWaitHint = pending ? wait_hint : 0;
        /* Controls are refused while starting: a stop then would find no engine. */
        svc.status.dwControlsAccepted =
            state == SERVICE_RUNNING ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN |
                                           SERVICE_ACCEPT_PRESHUTDOWN | SERVICE_ACCEPT_PARAMCHANGE
                                     : 0;
        (void)SetServiceStatus(svc.handle, &svc.status);
    }
    ReleaseSRWLockExclusive(&svc.lock);
}

/* One more checkpoint of the current pending state, unless it has lasted too long. */
static void status_progress(void)
{
    DWORD state, hint;

    AcquireSRWLockShared(&svc.lock);
    state = svc.status.dwCurrentState;
    hint = svc.status.dwWaitHint;
    if (ps_plat_mono_ms() - svc.pending_since > PENDING_MAX_MS)
        state = 0;
    ReleaseSRWLockShared(&svc.lock);
    if (state == SERVICE_START_PENDING || state == SERVICE_STOP_PENDING)
        status_report(state, hint);
}

static DWORD WINAPI ticker(LPVOID arg)
{
    (void)arg;
    while (WaitForSingleObject(svc.ticker_stop, TICK_MS) == WAIT_TIMEOUT)
        status_progress();
    return 0;
}

static DWORD WINAPI control_handler(DWORD control, DWORD type, LPVOID data, LPVOID ctx)
{
    (void)type, (void)data, (void)ctx;
    switch (control) {
    case SERVICE_CONTROL_STOP:
    case SERVICE_CONTROL_SHUTDOWN:
    case SERVICE_CONTROL_PRESHUTDOWN:
        /* The same drain as SIGTERM; the main loop reports STOP_PENDING again when it
         * takes the request, which counts as the next checkpoint. */
        status_report(SERVICE_STOP_PENDING, STOP_WAIT_HINT_MS);
        ps_plat_signal_post(PS_SIGNAL_STOP);
        return NO_ERROR;
    case SERVICE_CONTROL_PARAMCHANGE:
        ps_plat_signal_post(PS_SIGNAL_RELOAD);
        return NO_ERROR;
    case SERVICE_CONTROL_INTERROGATE:
        return NO_ERROR;
    default:
        return ERROR_CALL_NOT_IMPLEMENTED;
    }
}

/* The exit code as the SCM records it: a service-specific code, so that `sc query`
 * shows podstream's own exit code (`podstream --help` lists them) and the recovery
 * actions run. */
static void report_stopped(int rc)
{
    AcquireSRWLockExclusive(&svc.lock);
    svc.status.dwWin32ExitCode = rc ? ERROR_SERVICE_SPECIFIC_ERROR : NO_ERROR;
    svc.status.dwServiceSpecificExitCode = (DWORD)rc;
    ReleaseSRWLockExclusive(&svc.lock);
    status_report(SERVICE_STOPPED, 0);
}

static void WINAPI service_main(DWORD argc, LPWSTR *argv)
{
    HANDLE tick;

    /* Start parameters (`sc start podstream X`) are ignored: the service runs with the
     * command line it was installed with, which `service status` shows. */
    (void)argc, (void)argv;
    svc.handle = RegisterServiceCtrlHandlerExW(svc.name, control_handler, NULL);
    if (!svc.handle) {
        svc.rc = 1;
        return;
    }
    svc.status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
    InterlockedExchange(&svc.active, 1);
    status_report(SERVICE_START_PENDING, START_WAIT_HINT_MS);
    svc.ticker_stop = CreateEventW(NULL, TRUE, FALSE, NULL);
    tick = svc.ticker_stop ? CreateThread(NULL, 0, ticker, NULL, 0, NULL) : NULL;
    svc.rc = svc.fn(svc.argc, svc.argv);
    if (tick) {
        SetEvent(svc.ticker_stop);
        WaitForSingleObject(tick, INFINITE);
        CloseHandle(tick);
    }
    if (svc.ticker_stop)
        CloseHandle(svc.ticker_stop);
    AcquireSRWLockExclusive(&svc.lock);
    if (svc.event_source)
        DeregisterEventSource(svc.event_source);
    svc.event_source = NULL;
    ReleaseSRWLockExclusive(&svc.lock);
    InterlockedExchange(&svc.active, 0);
    /* The last call: the SCM may end the process as soon as it sees STOPPED. */
    report_stopped(svc.rc);
}

/* Whether the SCM started this process: its parent is services.exe. Asked before
 * StartServiceCtrlDispatcherW, which on Windows fails at once from a console but
 * under wine may connect to the control pipe of another service and wait forever.
 * (Asking the SCM whether the service is start-pending with our process id does not
 * work under wine: while it starts the automatic services it may not know the
 * service it is starting.) */
static bool started_by_scm(void)
{
    HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0);
    PROCESSENTRY32W pe = {.dwSize = sizeof pe};
    DWORD me = GetCurrentProcessId(), parent = 0;
    bool found = false, ours = false;

    if (snap == INVALID_HANDLE_VALUE)
        return false;
    for (BOOL ok = Process32FirstW(snap, &pe); ok && !found; ok = Process32NextW(snap, &pe))
        if (pe.th32ProcessID == me) {
            parent = pe.th32ParentProcessID;
            found = true;
        }
    for (BOOL ok = found && Process32FirstW(snap, &pe); ok && !ours; ok = Process32NextW(snap, &pe))
        ours = pe.th32ProcessID == parent && _wcsicmp(pe.szExeFile, L"services.exe") == 0;
    CloseHandle(snap);
    return ours;
}

bool ps_plat_svc_run(const char *name, ps_plat_svc_main_fn fn, int argc, char **argv, int *rc)
{
    SERVICE_TABLE_ENTRYW table[2];

    if (MultiByteToWideChar(CP_UTF8, 0, name, -1, svc.name,
                            (int)(sizeof svc.name / sizeof svc.name[0])) <= 0 ||
        !started_by_scm())
        return false;
    svc.fn = fn;
    svc.argc = argc;
    svc.argv = argv;
    table[0] = (SERVICE_TABLE_ENTRYW){svc.name, service_main};
    table[1] = (SERVICE_TABLE_ENTRYW){NULL, NULL};
    /* Returns when the service has stopped. */
    if (!StartServiceCtrlDispatcherW(table))
        return false;
    *rc = svc.rc;
    return true;
}

bool ps_plat_svc_notify(ps_svc_state state, const char *status)
{
    (void)status; /* the SCM has no status line; the log has the same text */
    if (!InterlockedCompareExchange(&svc.active, 0, 0))
        return false;
    switch (state) {
    case PS_SVC_READY:
        status_report(SERVICE_RUNNING, 0);
        break;
    case PS_SVC_STOPPING:
        status_report(SERVICE_STOP_PENDING, STOP_WAIT_HINT_MS);
        break;
    case PS_SVC_RELOADING: /* Windows has no reloading state: the service stays running */
        break;
    case PS_SVC_STATUS:
    case PS_SVC_WATCHDOG:
        status_progress();
        break;
    }
    return true;
}

/* The SCM has no watchdog; a crash or a non-zero exit triggers the recovery actions. */
int64_t ps_plat_svc_watchdog_ms(void)
{
    return 0;
}

const char *ps_plat_svc_log_dir(void)
{
    static char dir[MAX_PATH * 3 + 8];
    static INIT_ONCE once = INIT_ONCE_STATIC_INIT;
    BOOL pending;

    if (!InterlockedCompareExchange(&svc.active, 0, 0))
        return NULL;
    if (InitOnceBeginInitialize(&once, 0, &pending, NULL) && pending) {
        snprintf(dir, sizeof dir, "%s\\logs", ps_plat_default_config_dir());
        InitOnceComplete(&once, 0, NULL);
    }
    return dir;
}

/* The message ids of installer/windows/podstream-msg.mc are the ps_log_event numbers,
 * which docs/windows.md lists as the Event IDs to filter on. */
_Static_assert(PS_MSG_START == PS_LOG_EV_START && PS_MSG_STOP == PS_LOG_EV_STOP &&
                   PS_MSG_RELOAD == PS_LOG_EV_RELOAD && PS_MSG_CONFIG == PS_LOG_EV_CONFIG &&
                   PS_MSG_UNAUTHORISED == PS_LOG_EV_UNAUTHORISED && PS_MSG_FATAL == PS_LOG_EV_FATAL,
               "podstream-msg.mc and ps_log_event disagree");

bool ps_plat_eventlog(int kind, int level, const char *text)
{
    WORD type = level == PS_LOG_ERROR  ? EVENTLOG_ERROR_TYPE
                : level == PS_LOG_WARN ? EVENTLOG_WARNING_TYPE
                                       : EVENTLOG_INFORMATION_TYPE;
    wchar_t *w;
    LPCWSTR strings[1];
    bool ok = false;

    if (!InterlockedCompareExchange(&svc.active, 0, 0))
        return false;
    w = ps_w32_wide(text);
    if (!w)
        return false;
    strings[0] = w;
    AcquireSRWLockExclusive(&svc.lock);
    if (!svc.event_source)
        svc.event_source = RegisterEventSourceW(NULL, svc.name);
    if (svc.event_source)
        ok = ReportEventW(svc.event_source, type, 0, (DWORD)kind, NULL, 1, 0, strings, NULL);
    ReleaseSRWLockExclusive(&svc.lock);
    free(w);
    return ok;
}
