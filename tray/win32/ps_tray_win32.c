/* podstream-tray.exe: the notification-area icon (issue #18). A hidden window owns
 * the icon; every 2 s a worker thread asks the service control manager and reads the
 * counters (ps_tray_source), and the window turns that into the icon, tooltip and
 * balloon (ps_tray_state). The service is started and stopped by this program run
 * again elevated (`--service start|stop|restart`, through ps_plat_svc_*), so one
 * UAC prompt covers a restart. Windows only: tray/CMakeLists.txt builds it there,
 * and scripts/check-platform.py names this folder as platform code. */
#ifndef UNICODE
#define UNICODE
#endif
#include <windows.h>

#include <shellapi.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_platform.h"
#include "ps_tray_source.h"
#include "ps_tray_state.h"

#define TRAY_CLASS   L"podstream-tray"
#define TRAY_MUTEX   L"Local\\podstream-tray"
#define SERVICE_NAME "podstream"
#define TICK_MS      2000
#define WM_TRAY      (WM_APP + 1) /* the icon's mouse and keyboard events */
#define WM_READ_DONE (WM_APP + 2) /* lParam: a tick_read the worker made */

enum { CMD_START = 1, CMD_STOP, CMD_RESTART, CMD_GUI, CMD_LOGS, CMD_EXIT };

/* What the worker read: the window owns it once posted. */
typedef struct tick_read {
    ps_tray_service service;
    ps_err db_err;
    ps_errmsg em;
    ps_device_counters *devices;
    size_t ndevices;
} tick_read;

typedef struct tray {
    HWND hwnd;
    UINT taskbar_created; /* explorer restarted: add the icon again */
    HANDLE worker;        /* the read in flight, or NULL */
    ps_tray_source *source;
    ps_tray_state *state;
    ps_tray_view view;
    bool added;
} tray;

static tray g_tray;

/* UTF-8 to a new UTF-16 string (free()); NULL when it does not convert. */
static wchar_t *wide(const char *s)
{
    int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
    wchar_t *w = n > 0 ? malloc((size_t)n * sizeof *w) : NULL;
    if (w && MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n) != n) {
        free(w);
        w = NULL;
    }
    return w;
}

/* UTF-16 to UTF-8 into a new string (free()). */
static char *narrow(const wchar_t *w)
{
    int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
    char *s = n > 0 ? malloc((size_t)n) : NULL;
    if (s && WideCharToMultiByte(CP_UTF8, 0, w, -1, s, n, NULL, NULL) != n) {
        free(s);
        s = NULL;
    }
    return s;
}

static void copy_wide(wchar_t *dst, size_t cap, const char *src)
{
    wchar_t *w = wide(src);
    dst[0] = L'\0';
    if (w) {
        wcsncpy(dst, w, cap - 1);
        dst[cap - 1] = L'\0';
        free(w);
    }
}

/* The service and the counters, as one tick sees them. Blocks on the SCM and SQLite. */
static tick_read *read_tick(ps_tray_source *src)
{
    tick_read *r = calloc(1, sizeof *r);
    ps_plat_svc_info info;
    ps_err qerr;
    if (!r)
        return NULL;
    qerr = ps_plat_svc_query(SERVICE_NAME, &info, NULL);
    r->service = ps_tray_service_from_scm(qerr == PS_OK ? info.state : NULL, qerr);
    r->db_err = ps_tray_source_read(src, &r->devices, &r->ndevices, &r->em);
    return r;
}

static void tick_read_free(tick_read *r)
{
    if (r)
        free(r->devices);
    free(r);
}

static void compute(ps_tray_state *state, const tick_read *r, ps_tray_view *view)
{
    ps_tray_input in = {r->service, r->db_err == PS_OK, r->em.text,
                        r->devices, r->ndevices,        ps_plat_now_us()};
    ps_tray_state_update(state, &in, view);
}

static DWORD WINAPI worker_main(LPVOID arg)
{
    tray *t = arg;
    tick_read *r = read_tick(t->source);
    if (r && !PostMessageW(t->hwnd, WM_READ_DONE, 0, (LPARAM)r))
        tick_read_free(r);
    return 0;
}

static void start_tick(tray *t)
{
    if (t->worker) {
        if (WaitForSingleObject(t->worker, 0) != WAIT_OBJECT_0)
            return; /* the last read still runs: skip a tick rather than pile up */
        CloseHandle(t->worker);
        t->worker = NULL;
    }
    t->worker = CreateThread(NULL, 0, worker_main, t, 0, NULL);
}

static void fill_icon(tray *t, NOTIFYICONDATAW *nid)
{
    memset(nid, 0, sizeof *nid);
    nid->cbSize = sizeof *nid;
    nid->hWnd = t->hwnd;
    nid->uID = 1;
    nid->uFlags = NIF_ICON | NIF_TIP | NIF_MESSAGE | NIF_SHOWTIP;
    nid->uCallbackMessage = WM_TRAY;
    nid->hIcon = LoadIconW(GetModuleHandleW(NULL), MAKEINTRESOURCEW(t->view.icon + 1));
    copy_wide(nid->szTip, sizeof nid->szTip / sizeof nid->szTip[0], t->view.tooltip);
}

/* Adds the icon, or updates it; with the view's balloon when it has one. The hidden
 * window's title is the tooltip too, which `--close` prints. */
static void show(tray *t)
{
    NOTIFYICONDATAW nid;
    fill_icon(t, &nid);
    SetWindowTextW(t->hwnd, nid.szTip);
    if (t->view.balloon) {
        nid.uFlags |= NIF_INFO;
        nid.dwInfoFlags = t->view.b.warning ? NIIF_WARNING : NIIF_INFO;
        copy_wide(nid.szInfoTitle, sizeof nid.szInfoTitle / sizeof nid.szInfoTitle[0],
                  t->view.b.title);
        copy_wide(nid.szInfo, sizeof nid.szInfo / sizeof nid.szInfo[0], t->view.b.text);
    }
    if (!t->added) {
        t->added = Shell_NotifyIconW(NIM_ADD, &nid) != FALSE;
        nid.uVersion = NOTIFYICON_VERSION_4;
        if (t->added)
            Shell_NotifyIconW(NIM_SETVERSION, &nid);
    } else {
        Shell_NotifyIconW(NIM_MODIFY, &nid);
    }
}

/* The directory of this program, with a trailing backslash. */
static void exe_dir(wchar_t *dir, size_t cap)
{
    DWORD n = GetModuleFileNameW(NULL, dir, (DWORD)cap);
    if (n == 0 || n >= cap)
        n = 0;
    while (n > 0 && dir[n - 1] != L'\\' && dir[n - 1] != L'/')
        n--;
    dir[n] = L'\0';
}

static bool elevated(void)
{
    HANDLE token = NULL;
    TOKEN_ELEVATION e = {0};
    DWORD len = 0;
    bool yes = false;
    if (OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token)) {
        yes = GetTokenInformation(token, TokenElevation, &e, sizeof e, &len) && e.TokenIsElevated;
        CloseHandle(token);
    }
    return yes;
}

static void message(HWND owner, const wchar_t *text, bool error)
{
    MessageBoxW(owner, text, L"podstream",
                MB_OK | MB_SETFOREGROUND | (error ? MB_ICONERROR : MB_ICONINFORMATION));
}

/* Runs this program again with `--service ACTION`, elevated when this one is not
 * (Windows asks the user); the helper reports its own failure. */
static void service_action(tray *t, const wchar_t *action)
{
    wchar_t exe[MAX_PATH], params[64];
    SHELLEXECUTEINFOW sei = {0};
    if (!GetModuleFileNameW(NULL, exe, MAX_PATH))
        return;
    swprintf(params, sizeof params / sizeof params[0], L"--service %ls", action);
    sei.cbSize = sizeof sei;
    sei.fMask = SEE_MASK_NOASYNC;
    sei.hwnd = t->hwnd;
    sei.lpVerb = elevated() ? L"open" : L"runas";
    sei.lpFile = exe;
    sei.lpParameters = params;
    sei.nShow = SW_HIDE;
    if (!ShellExecuteExW(&sei) && GetLastError() != ERROR_CANCELLED)
        message(t->hwnd, L"Could not run the service command.", true);
}

static void open_path(tray *t, const wchar_t *path, const wchar_t *what)
{
    wchar_t text[MAX_PATH + 64];
    if ((INT_PTR)ShellExecuteW(t->hwnd, L"open", path, NULL, NULL, SW_SHOWNORMAL) > 32)
        return;
    swprintf(text, sizeof text / sizeof text[0], L"Could not open %ls:\n%ls", what, path);
    message(t->hwnd, text, true);
}

/* The MSI puts the GUI's bundle (the exe beside its DLLs) in gui\bin\ next to the
 * tray; a build tree has both in one folder. */
static void open_gui(tray *t)
{
    wchar_t path[MAX_PATH + 32];
    size_t dir_len;
    exe_dir(path, MAX_PATH);
    dir_len = wcslen(path);
    wcscat(path, L"gui\\bin\\podstream-gui.exe");
    if (GetFileAttributesW(path) == INVALID_FILE_ATTRIBUTES) {
        path[dir_len] = L'\0';
        wcscat(path, L"podstream-gui.exe");
    }
    open_path(t, path, L"the podstream GUI");
}

static void open_logs(tray *t)
{
    /* Where the service writes its own logs (ps_plat_svc_log_dir while it runs). */
    char dir[MAX_PATH];
    wchar_t *w;
    snprintf(dir, sizeof dir, "%s\\logs", ps_plat_default_config_dir());
    w = wide(dir);
    if (w) {
        open_path(t, w, L"the log folder");
        free(w);
    }
}

static void show_menu(tray *t, int x, int y)
{
    HMENU m = CreatePopupMenu();
    bool runs = t->view.icon != PS_TRAY_ICON_STOPPED;
    if (!m)
        return;
    AppendMenuW(m, MF_STRING | (runs ? MF_GRAYED : 0), CMD_START, L"&Start service");
    AppendMenuW(m, MF_STRING | (runs ? 0 : MF_GRAYED), CMD_STOP, L"S&top service");
    AppendMenuW(m, MF_STRING | (runs ? 0 : MF_GRAYED), CMD_RESTART, L"&Restart service");
    AppendMenuW(m, MF_SEPARATOR, 0, NULL);
    AppendMenuW(m, MF_STRING, CMD_GUI, L"Open podstream &GUI");
    AppendMenuW(m, MF_STRING, CMD_LOGS, L"Open &log folder");
    AppendMenuW(m, MF_SEPARATOR, 0, NULL);
    AppendMenuW(m, MF_STRING, CMD_EXIT, L"E&xit");
    /* Without the foreground the menu would not close on a click elsewhere. */
    SetForegroundWindow(t->hwnd);
    TrackPopupMenu(m, TPM_RIGHTBUTTON | TPM_BOTTOMALIGN, x, y, 0, t->hwnd, NULL);
    PostMessageW(t->hwnd, WM_NULL, 0, 0);
    DestroyMenu(m);
}

static void command(tray *t, WPARAM id)
{
    switch (id) {
    case CMD_START:
        service_action(t, L"start");
        break;
    case CMD_STOP:
        service_action(t, L"stop");
        break;
    case CMD_RESTART:
        service_action(t, L"restart");
        break;
    case CMD_GUI:
        open_gui(t);
        break;
    case CMD_LOGS:
        open_logs(t);
        break;
    case CMD_EXIT:
        PostMessageW(t->hwnd, WM_CLOSE, 0, 0);
        break;
    default:
        break;
    }
}

/* A close request (the menu, `--close`, the session ending): the read in flight
 * finishes first, since it uses the source that is freed next. */
static void shut_down(tray *t)
{
    NOTIFYICONDATAW nid;
    KillTimer(t->hwnd, 1);
    if (t->worker) {
        WaitForSingleObject(t->worker, 10000);
        CloseHandle(t->worker);
        t->worker = NULL;
    }
    if (t->added) {
        fill_icon(t, &nid);
        Shell_NotifyIconW(NIM_DELETE, &nid);
        t->added = false;
    }
    DestroyWindow(t->hwnd);
}

static LRESULT CALLBACK window_proc(HWND hwnd, UINT msg, WPARAM wp, LPARAM lp)
{
    tray *t = &g_tray;
    if (msg == t->taskbar_created && msg != 0) {
        t->added = false;
        show(t);
        return 0;
    }
    switch (msg) {
    case WM_TIMER:
        start_tick(t);
        return 0;
    case WM_READ_DONE: {
        // NOLINTNEXTLINE(performance-no-int-to-ptr): a posted message carries its pointer so
        tick_read *r = (tick_read *)lp;
        compute(t->state, r, &t->view);
        tick_read_free(r);
        show(t);
        return 0;
    }
    case WM_TRAY:
        if (LOWORD(lp) == WM_CONTEXTMENU || LOWORD(lp) == WM_RBUTTONUP)
            show_menu(t, (short)LOWORD(wp), (short)HIWORD(wp));
        else if (LOWORD(lp) == WM_LBUTTONDBLCLK)
            open_gui(t);
        return 0;
    case WM_COMMAND:
        command(t, LOWORD(wp));
        return 0;
    case WM_ENDSESSION:
        if (wp) /* FALSE: the logoff was cancelled */
            shut_down(t);
        return 0;
    case WM_CLOSE:
        shut_down(t);
        return 0;
    case WM_DESTROY:
        PostQuitMessage(0);
        return 0;
    default:
        return DefWindowProcW(hwnd, msg, wp, lp);
    }
}

/* ---- the command line -------------------------------------------------------- */

typedef struct options {
    const char *config_dir;
    const char *db;
    const char *service; /* --service ACTION: the elevated helper */
    bool print_state, close, help;
} options;

static const char usage[] =
    "Usage: podstream-tray.exe [-c DIR] [--db PATH] [--print-state | --close]\n"
    "  -c, --config DIR  the configuration directory whose database to watch\n"
    "                    (default: %ProgramData%\\podstream)\n"
    "  --db PATH         watch this database instead\n"
    "  --print-state     read the service and the database once, print the icon,\n"
    "                    tooltip and balloon, and exit\n"
    "  --close           ask the running tray icon of this session to exit\n"
    "  --service start|stop|restart\n"
    "                    control the service (the menu runs this elevated)\n";

static bool parse(int argc, char **argv, options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
        if ((!strcmp(a, "-c") || !strcmp(a, "--config")) && has_value)
            o->config_dir = argv[++i];
        else if (!strcmp(a, "--db") && has_value)
            o->db = argv[++i];
        else if (!strcmp(a, "--service") && has_value)
            o->service = argv[++i];
        else if (!strcmp(a, "--print-state"))
            o->print_state = true;
        else if (!strcmp(a, "--close"))
            o->close = true;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help"))
            o->help = true;
        else
            return false;
    }
    return true;
}

/* A window program has no console: print to the one it was started from, if any. */
static void attach_console(void)
{
    HANDLE out = GetStdHandle(STD_OUTPUT_HANDLE);
    if ((out == NULL || out == INVALID_HANDLE_VALUE) && AttachConsole(ATTACH_PARENT_PROCESS)) {
        (void)freopen("CONOUT$", "w", stdout);
        (void)freopen("CONOUT$", "w", stderr);
    }
}

/* "label: text" on one line, text's line breaks written as \n. */
static void print_line(const char *label, const char *text)
{
    printf("%s: ", label);
    for (const char *p = text; *p; p++)
        if (*p == '\n')
            fputs("\\n", stdout);
        else
            putchar(*p);
    putchar('\n');
}

static void print_view(const ps_tray_view *v)
{
    printf("icon: %s\n", ps_tray_icon_name(v->icon));
    print_line("tooltip", v->tooltip);
    printf("events_per_s: %.1f\n", v->events_per_s);
    if (v->balloon)
        printf("balloon: %s: %s\n", v->b.title, v->b.text);
    fflush(stdout);
}

static int print_state(ps_tray_source *src)
{
    ps_tray_state *state = NULL;
    ps_tray_view view;
    tick_read *r = read_tick(src);
    if (!r || ps_tray_state_create(&state) != PS_OK) {
        tick_read_free(r);
        fputs("podstream-tray: out of memory\n", stderr);
        return 1;
    }
    compute(state, r, &view);
    print_view(&view);
    tick_read_free(r);
    ps_tray_state_destroy(state);
    return 0;
}

/* Prints the tooltip of the tray of this session, posts it WM_CLOSE and waits up
 * to 10 s for it to go. */
static int close_running(void)
{
    HWND w = FindWindowW(TRAY_CLASS, NULL);
    DWORD pid = 0;
    HANDLE proc;
    wchar_t tip[PS_TRAY_TIP_MAX];
    char *text;
    if (!w) {
        fputs("podstream-tray: no tray icon runs in this session\n", stderr);
        return 1;
    }
    GetWindowTextW(w, tip, PS_TRAY_TIP_MAX);
    text = narrow(tip);
    print_line("closing", text ? text : "");
    fflush(stdout);
    free(text);
    GetWindowThreadProcessId(w, &pid);
    proc = OpenProcess(SYNCHRONIZE, FALSE, pid);
    PostMessageW(w, WM_CLOSE, 0, 0);
    if (proc) {
        DWORD rc = WaitForSingleObject(proc, 10000);
        CloseHandle(proc);
        if (rc != WAIT_OBJECT_0) {
            fputs("podstream-tray: the tray icon did not exit within 10 s\n", stderr);
            return 1;
        }
    }
    return 0;
}

/* The elevated helper of the menu: start, stop or restart through the SCM. */
static int service_command(const char *action)
{
    ps_errmsg em = {{0}};
    ps_err err = PS_ERR_INVALID;
    bool restart = !strcmp(action, "restart");
    if (restart || !strcmp(action, "stop"))
        err = ps_plat_svc_stop(SERVICE_NAME, 60000, &em);
    if ((restart && err == PS_OK) || !strcmp(action, "start"))
        err = ps_plat_svc_start(SERVICE_NAME, 60000, &em);
    if (err != PS_OK) {
        wchar_t *w = wide(em.text[0] ? em.text : ps_strerror(err));
        message(NULL, w ? w : L"The service command failed.", true);
        free(w);
        return 1;
    }
    return 0;
}

static int run_tray(HINSTANCE inst, ps_tray_source *src)
{
    WNDCLASSEXW wc = {0};
    MSG msg;
    HANDLE single = CreateMutexW(NULL, FALSE, TRAY_MUTEX);
    if (single && GetLastError() == ERROR_ALREADY_EXISTS) {
        CloseHandle(single);
        return 0; /* one icon per session */
    }
    g_tray.source = src;
    if (ps_tray_state_create(&g_tray.state) != PS_OK)
        return 1;
    g_tray.view.icon = PS_TRAY_ICON_STOPPED;
    snprintf(g_tray.view.tooltip, sizeof g_tray.view.tooltip, "podstream: reading");
    g_tray.taskbar_created = RegisterWindowMessageW(L"TaskbarCreated");
    wc.cbSize = sizeof wc;
    wc.lpfnWndProc = window_proc;
    wc.hInstance = inst;
    wc.lpszClassName = TRAY_CLASS;
    /* A hidden top-level window, not a message-only one: only those hear TaskbarCreated. */
    if (!RegisterClassExW(&wc) ||
        !(g_tray.hwnd = CreateWindowExW(0, TRAY_CLASS, L"podstream", 0, 0, 0, 0, 0, NULL, NULL,
                                        inst, NULL))) {
        fprintf(stderr, "podstream-tray: cannot create its window (error %lu)\n",
                (unsigned long)GetLastError());
        return 1;
    }
    show(&g_tray);
    start_tick(&g_tray);
    SetTimer(g_tray.hwnd, 1, TICK_MS, NULL);
    while (GetMessageW(&msg, NULL, 0, 0) > 0) {
        TranslateMessage(&msg);
        DispatchMessageW(&msg);
    }
    ps_tray_state_destroy(g_tray.state);
    if (single)
        CloseHandle(single);
    return (int)msg.wParam;
}

static int tray_main(HINSTANCE inst, int argc, char **argv)
{
    options o = {0};
    ps_tray_source *src = NULL;
    int rc = 2;
    if (!parse(argc, argv, &o) || o.help) {
        attach_console();
        fputs(usage, o.help ? stdout : stderr);
        return o.help ? 0 : 2;
    }
    if (o.close || o.print_state || o.service)
        attach_console();
    if (o.close)
        return close_running();
    if (o.service)
        return service_command(o.service);
    if (ps_tray_source_create(o.config_dir ? o.config_dir : ps_plat_default_config_dir(), o.db,
                              &src) != PS_OK)
        return 1;
    rc = o.print_state ? print_state(src) : run_tray(inst, src);
    ps_tray_source_destroy(src);
    return rc;
}

int WINAPI wWinMain(HINSTANCE inst, HINSTANCE prev, PWSTR cmdline, int show_cmd)
{
    int argc = 0, rc = 1;
    wchar_t **wargv = CommandLineToArgvW(GetCommandLineW(), &argc);
    char **argv = wargv ? calloc((size_t)argc + 1, sizeof *argv) : NULL;
    (void)prev, (void)cmdline, (void)show_cmd;
    if (!argv)
        goto cleanup;
    for (int i = 0; i < argc; i++)
        if (!(argv[i] = narrow(wargv[i])))
            goto cleanup;
    rc = tray_main(inst, argc, argv);
cleanup:
    if (argv)
        for (int i = 0; i < argc; i++)
            free(argv[i]);
    free(argv);
    LocalFree(wargv);
    return rc;
}
