/* Installing and controlling the Windows service (`podstream service ...`): the
 * service control manager's API and the Event Log source's registry key. What the
 * running service does is ps_plat_svc_win32.c. */
#include "platform/win32/ps_plat_win32.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#define EVENTLOG_KEY L"SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\"
/* How long Windows waits for the drain at shutdown before it ends the process. */
#define PRESHUTDOWN_TIMEOUT_MS 30000
/* Recovery: restart after 10 s, 60 s, then every 5 min; the count resets after a day. */
#define RESET_PERIOD_S 86400
#define POLL_MS        250

/* Fills em with what `what` failed with (GetLastError) and returns the ps_err. */
static ps_err w32_fail(ps_errmsg *em, const char *what, const char *name)
{
    DWORD e = GetLastError();
    char buf[256];
    ps_err err = e == ERROR_SERVICE_DOES_NOT_EXIST ? PS_ERR_NOTFOUND
                 : e == ERROR_SERVICE_EXISTS       ? PS_ERR_EXISTS
                                                   : ps_w32_err(e);

    ps_w32_strerror(e, buf, sizeof buf);
    if (e == ERROR_ACCESS_DENIED)
        return ps_errmsg_set(em, PS_ERR_PERM,
                             "%s %s: %s; run it from an elevated (administrator) prompt", what,
                             name, buf);
    return ps_errmsg_set(em, err, "%s %s: %s", what, name, buf);
}

/* Opens the service `name` with `access` into *s (the SCM handle is closed before
 * return). */
static ps_err open_service(const char *name, DWORD access, SC_HANDLE *s, ps_errmsg *em)
{
    SC_HANDLE scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CONNECT);
    wchar_t *wname = ps_w32_wide(name);
    ps_err err = PS_OK;

    *s = NULL;
    if (!scm)
        err = w32_fail(em, "cannot connect to the service control manager for", name);
    else if (!wname)
        err = ps_errmsg_set(em, PS_ERR_INVALID, "service name %s is not UTF-8", name);
    else if (!(*s = OpenServiceW(scm, wname, access)))
        err = w32_fail(em, "cannot open the service", name);
    if (scm)
        CloseServiceHandle(scm);
    free(wname);
    return err;
}

/* Polls until the service leaves `pending` or timeout_ms passes. */
static bool wait_leave(SC_HANDLE s, DWORD pending, int timeout_ms, SERVICE_STATUS_PROCESS *st)
{
    int64_t deadline = ps_plat_mono_ms() + timeout_ms;
    DWORD got;

    for (;;) {
        if (!QueryServiceStatusEx(s, SC_STATUS_PROCESS_INFO, (BYTE *)st, sizeof *st, &got))
            return false;
        if (st->dwCurrentState != pending || ps_plat_mono_ms() >= deadline)
            return st->dwCurrentState != pending;
        Sleep(POLL_MS);
    }
}

/* The exit code the SCM recorded: the service's own when it set one. */
static long exit_code(const SERVICE_STATUS_PROCESS *st)
{
    return st->dwWin32ExitCode == ERROR_SERVICE_SPECIFIC_ERROR ? (long)st->dwServiceSpecificExitCode
                                                               : (long)st->dwWin32ExitCode;
}

/* `"<this exe>" run -c "<dir>"`, new (caller frees). A backslash before a closing
 * quote would escape it, so trailing ones go ("C:\\" becomes "C:\\."). */
static wchar_t *service_command(const char *config_dir)
{
    wchar_t exe[32768], *dir = ps_w32_wide(config_dir), *cmd = NULL;
    DWORD n = GetModuleFileNameW(NULL, exe, 32768);
    size_t dn, cap;

    if (!dir || n == 0 || n >= 32768)
        goto out;
    dn = wcslen(dir);
    while (dn > 0 && dir[dn - 1] == L'\\')
        dir[--dn] = L'\0';
    cap = n + dn + 24;
    cmd = malloc(cap * sizeof *cmd);
    if (cmd)
        swprintf(cmd, cap, L"\"%ls\" run -c \"%ls%ls\"", exe, dir,
                 dn > 0 && dir[dn - 1] == L':' ? L"\\." : L"");
out:
    free(dir);
    return cmd;
}

/* One SetServiceConfig2 level. A level the system does not know (an old Windows,
 * wine) is skipped and named in `skipped`; anything else fails the install. */
static bool config2(SC_HANDLE s, DWORD level, void *info, const char *what, char *skipped,
                    size_t cap, ps_errmsg *em, const char *name)
{
    DWORD e;
    if (ChangeServiceConfig2W(s, level, info))
        return true;
    e = GetLastError();
    if (e == ERROR_INVALID_LEVEL || e == ERROR_CALL_NOT_IMPLEMENTED ||
        e == ERROR_INVALID_PARAMETER) {
        size_t n = strlen(skipped);
        snprintf(skipped + n, cap - n, "%s%s", n ? ", " : "", what);
        return true;
    }
    w32_fail(em, what, name);
    return false;
}

/* Description, delayed start, recovery, preshutdown and the service SID. */
static bool configure(SC_HANDLE s, const ps_plat_svc_spec *spec, char *skipped, size_t cap,
                      ps_errmsg *em)
{
    SC_ACTION actions[3] = {
        {SC_ACTION_RESTART, 10000}, {SC_ACTION_RESTART, 60000}, {SC_ACTION_RESTART, 300000}};
    SERVICE_FAILURE_ACTIONSW fa = {RESET_PERIOD_S, NULL, NULL, 3, actions};
    /* Also when the service exits with an error, not only when it crashes. */
    SERVICE_FAILURE_ACTIONS_FLAG flag = {TRUE};
    SERVICE_DELAYED_AUTO_START_INFO delayed = {TRUE};
    SERVICE_PRESHUTDOWN_INFO pre = {PRESHUTDOWN_TIMEOUT_MS};
    SERVICE_SID_INFO sid = {SERVICE_SID_TYPE_UNRESTRICTED};
    wchar_t *wdesc = ps_w32_wide(spec->description ? spec->description : "");
    SERVICE_DESCRIPTIONW desc = {wdesc};
    const char *n = spec->name;
    bool ok =
        wdesc &&
        config2(s, SERVICE_CONFIG_DESCRIPTION, &desc, "description", skipped, cap, em, n) &&
        config2(s, SERVICE_CONFIG_DELAYED_AUTO_START_INFO, &delayed, "delayed start", skipped, cap,
                em, n) &&
        config2(s, SERVICE_CONFIG_FAILURE_ACTIONS, &fa, "recovery actions", skipped, cap, em, n) &&
        config2(s, SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, &flag, "recovery on error exits", skipped,
                cap, em, n) &&
        config2(s, SERVICE_CONFIG_PRESHUTDOWN_INFO, &pre, "preshutdown timeout", skipped, cap, em,
                n) &&
        config2(s, SERVICE_CONFIG_SERVICE_SID_INFO, &sid, "service SID", skipped, cap, em, n);
    if (!wdesc)
        ps_errmsg_set(em, PS_ERR_INVALID, "the description of %s is not UTF-8", n);
    free(wdesc);
    return ok;
}

/* HKLM\...\EventLog\Application\<name>: this executable holds the messages. */
static bool eventlog_register(const wchar_t *wname, const char *name, ps_errmsg *em)
{
    wchar_t key[256], exe[32768];
    DWORD n = GetModuleFileNameW(NULL, exe, 32768),
          types = EVENTLOG_ERROR_TYPE | EVENTLOG_WARNING_TYPE | EVENTLOG_INFORMATION_TYPE;
    HKEY k;
    LSTATUS st;

    swprintf(key, 256, L"%ls%ls", EVENTLOG_KEY, wname);
    if (n == 0 || n >= 32768)
        return w32_fail(em, "cannot find the path of", name), false;
    st = RegCreateKeyExW(HKEY_LOCAL_MACHINE, key, 0, NULL, 0, KEY_SET_VALUE, NULL, &k, NULL);
    if (st == ERROR_SUCCESS) {
        st = RegSetValueExW(k, L"EventMessageFile", 0, REG_EXPAND_SZ, (const BYTE *)exe,
                            (n + 1) * sizeof(wchar_t));
        if (st == ERROR_SUCCESS)
            st = RegSetValueExW(k, L"TypesSupported", 0, REG_DWORD, (const BYTE *)&types,
                                sizeof types);
        RegCloseKey(k);
    }
    if (st != ERROR_SUCCESS) {
        SetLastError((DWORD)st);
        return w32_fail(em, "cannot register the Event Log source", name), false;
    }
    return true;
}

ps_err ps_plat_svc_install(const ps_plat_svc_spec *spec, ps_plat_svc_installed *out, ps_errmsg *em)
{
    SC_HANDLE scm = NULL, s = NULL;
    wchar_t *wname = ps_w32_wide(spec->name), *wdisp = ps_w32_wide(spec->display_name);
    wchar_t *cmd = service_command(spec->config_dir), account[128];
    ps_err err = PS_OK;

    memset(out, 0, sizeof *out);
    if (!wname || !wdisp || !cmd) {
        err = ps_errmsg_set(em, PS_ERR_INVALID, "cannot spell the service %s for Windows",
                            spec->name);
        goto out;
    }
    scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CONNECT | SC_MANAGER_CREATE_SERVICE);
    if (!scm) {
        err = w32_fail(em, "cannot connect to the service control manager to install", spec->name);
        goto out;
    }
    /* A virtual account: its own SID, no password, no rights beyond what its files
     * grant it (ps_w32_mode_sd gives NT SERVICE\podstream access to them). */
    swprintf(account, 128, L"NT SERVICE\\%ls", wname);
    out->account = "NT SERVICE\\podstream";
    s = CreateServiceW(scm, wname, wdisp, SERVICE_ALL_ACCESS, SERVICE_WIN32_OWN_PROCESS,
                       SERVICE_AUTO_START, SERVICE_ERROR_NORMAL, cmd, NULL, NULL, NULL, account,
                       NULL);
    if (!s && GetLastError() == ERROR_INVALID_SERVICE_ACCOUNT) {
        out->account = "NT AUTHORITY\\LocalService";
        s = CreateServiceW(scm, wname, wdisp, SERVICE_ALL_ACCESS, SERVICE_WIN32_OWN_PROCESS,
                           SERVICE_AUTO_START, SERVICE_ERROR_NORMAL, cmd, NULL, NULL, NULL,
                           L"NT AUTHORITY\\LocalService", L"");
    }
    if (!s) {
        err = w32_fail(em, "cannot install the service", spec->name);
        goto out;
    }
    if (!configure(s, spec, out->skipped, sizeof out->skipped, em) ||
        !eventlog_register(wname, spec->name, em)) {
        /* Half a service would start without its recovery actions: take it away. */
        err = PS_ERR_IO;
        (void)DeleteService(s);
    }
out:
    if (s)
        CloseServiceHandle(s);
    if (scm)
        CloseServiceHandle(scm);
    free(cmd);
    free(wdisp);
    free(wname);
    return err;
}

ps_err ps_plat_svc_uninstall(const char *name, int timeout_ms, ps_errmsg *em)
{
    SC_HANDLE s;
    SERVICE_STATUS_PROCESS st;
    SERVICE_STATUS ss;
    wchar_t key[256], *wname;
    ps_err err = open_service(name, SERVICE_STOP | SERVICE_QUERY_STATUS | DELETE, &s, em);

    if (err != PS_OK)
        return err;
    wname = ps_w32_wide(name);
    if (ControlService(s, SERVICE_CONTROL_STOP, &ss))
        (void)wait_leave(s, SERVICE_STOP_PENDING, timeout_ms, &st);
    if (!DeleteService(s) && GetLastError() != ERROR_SERVICE_MARKED_FOR_DELETE)
        err = w32_fail(em, "cannot delete the service", name);
    if (err == PS_OK && wname) {
        swprintf(key, 256, L"%ls%ls", EVENTLOG_KEY, wname);
        (void)RegDeleteKeyW(HKEY_LOCAL_MACHINE, key);
    }
    CloseServiceHandle(s);
    free(wname);
    return err;
}

ps_err ps_plat_svc_start(const char *name, int timeout_ms, ps_errmsg *em)
{
    SC_HANDLE s;
    SERVICE_STATUS_PROCESS st;
    ps_err err = open_service(name, SERVICE_START | SERVICE_QUERY_STATUS, &s, em);

    if (err != PS_OK)
        return err;
    /* A start the SCM itself is making (wine starts automatic services whenever its
     * service manager starts) may time this one out: the state then tells. */
    if (!StartServiceW(s, 0, NULL) && GetLastError() != ERROR_SERVICE_ALREADY_RUNNING &&
        GetLastError() != ERROR_SERVICE_REQUEST_TIMEOUT)
        err = w32_fail(em, "cannot start the service", name);
    else if (!wait_leave(s, SERVICE_START_PENDING, timeout_ms, &st))
        err = ps_errmsg_set(em, PS_ERR_TIMEOUT, "the service %s is still starting", name);
    else if (st.dwCurrentState != SERVICE_RUNNING)
        err = ps_errmsg_set(em, PS_ERR_IO,
                            "the service %s stopped instead of starting (exit code %ld); see its "
                            "log and the Application event log",
                            name, exit_code(&st));
    CloseServiceHandle(s);
    return err;
}

ps_err ps_plat_svc_stop(const char *name, int timeout_ms, ps_errmsg *em)
{
    SC_HANDLE s;
    SERVICE_STATUS_PROCESS st;
    SERVICE_STATUS ss;
    ps_err err = open_service(name, SERVICE_STOP | SERVICE_QUERY_STATUS, &s, em);

    if (err != PS_OK)
        return err;
    if (!ControlService(s, SERVICE_CONTROL_STOP, &ss) && GetLastError() != ERROR_SERVICE_NOT_ACTIVE)
        err = w32_fail(em, "cannot stop the service", name);
    else if (!wait_leave(s, SERVICE_STOP_PENDING, timeout_ms, &st))
        err = ps_errmsg_set(em, PS_ERR_TIMEOUT, "the service %s is still stopping", name);
    CloseServiceHandle(s);
    return err;
}

ps_err ps_plat_svc_reload(const char *name, ps_errmsg *em)
{
    SC_HANDLE s;
    SERVICE_STATUS ss;
    /* PARAMCHANGE needs the pause-and-continue right. */
    ps_err err = open_service(name, SERVICE_PAUSE_CONTINUE, &s, em);

    if (err != PS_OK)
        return err;
    if (!ControlService(s, SERVICE_CONTROL_PARAMCHANGE, &ss))
        err = w32_fail(em, "cannot ask for a reload of the service", name);
    CloseServiceHandle(s);
    return err;
}

static const char *state_name(DWORD state)
{
    switch (state) {
    case SERVICE_STOPPED:
        return "stopped";
    case SERVICE_START_PENDING:
        return "start pending";
    case SERVICE_STOP_PENDING:
        return "stop pending";
    case SERVICE_RUNNING:
        return "running";
    case SERVICE_CONTINUE_PENDING:
        return "continue pending";
    case SERVICE_PAUSE_PENDING:
        return "pause pending";
    case SERVICE_PAUSED:
        return "paused";
    default:
        return "unknown";
    }
}

/* The start type, the account and the command line from the SCM's configuration. */
static void query_config(SC_HANDLE s, ps_plat_svc_info *out)
{
    DWORD need = 0;
    QUERY_SERVICE_CONFIGW *qc = NULL;
    SERVICE_DELAYED_AUTO_START_INFO delayed = {FALSE};
    char *u;

    (void)QueryServiceConfigW(s, NULL, 0, &need);
    if (need)
        qc = malloc(need);
    if (!qc || !QueryServiceConfigW(s, qc, need, &need))
        goto out;
    (void)QueryServiceConfig2W(s, SERVICE_CONFIG_DELAYED_AUTO_START_INFO, (BYTE *)&delayed,
                               sizeof delayed, &need);
    snprintf(out->start, sizeof out->start, "%s",
             qc->dwStartType == SERVICE_AUTO_START
                 ? (delayed.fDelayedAutostart ? "auto (delayed)" : "auto")
             : qc->dwStartType == SERVICE_DEMAND_START ? "manual"
             : qc->dwStartType == SERVICE_DISABLED     ? "disabled"
                                                       : "boot or system");
    if (qc->lpServiceStartName && (u = ps_w32_utf8(qc->lpServiceStartName))) {
        snprintf(out->account, sizeof out->account, "%s", u);
        free(u);
    }
    if (qc->lpBinaryPathName && (u = ps_w32_utf8(qc->lpBinaryPathName))) {
        snprintf(out->command, sizeof out->command, "%s", u);
        free(u);
    }
out:
    free(qc);
}

ps_err ps_plat_svc_query(const char *name, ps_plat_svc_info *out, ps_errmsg *em)
{
    SC_HANDLE s;
    SERVICE_STATUS_PROCESS st;
    DWORD got;
    ps_err err;

    memset(out, 0, sizeof *out);
    out->state = "unknown";
    err = open_service(name, SERVICE_QUERY_STATUS | SERVICE_QUERY_CONFIG, &s, em);
    if (err != PS_OK)
        return err;
    if (!QueryServiceStatusEx(s, SC_STATUS_PROCESS_INFO, (BYTE *)&st, sizeof st, &got)) {
        err = w32_fail(em, "cannot query the service", name);
    } else {
        out->state = state_name(st.dwCurrentState);
        out->pid = st.dwProcessId;
        out->exit_code = exit_code(&st);
        query_config(s, out);
    }
    CloseServiceHandle(s);
    return err;
}
