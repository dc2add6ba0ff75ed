/* The console on Windows: hidden input and its width. */
#include "platform/win32/ps_plat_win32.h"

#include <io.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The console input mode to put back when Ctrl+C ends the process at a hidden
 * prompt; the mode belongs to the console, not the process, so it would outlive
 * us and leave the admin's window without echo. */
static DWORD secret_saved_mode;

static BOOL WINAPI secret_restore(DWORD type)
{
    (void)type;
    (void)SetConsoleMode(GetStdHandle(STD_INPUT_HANDLE), secret_saved_mode);
    return FALSE; /* the next handler (the default: exit) runs as before */
}

/* Reads a line from the console as UTF-16 (so that any character typed arrives
 * intact) into buf as UTF-8. */
static ps_err read_console_line(HANDLE in, char *buf, size_t len, ps_errmsg *em)
{
    wchar_t w[1024];
    size_t n = 0;
    bool too_long = false;
    int u;

    for (;;) {
        wchar_t chunk[256];
        DWORD got = 0;
        if (!ReadConsoleW(in, chunk, 256, &got, NULL))
            return ps_errmsg_set(em, PS_ERR_IO, "cannot read the console");
        if (got == 0)
            break;
        for (DWORD i = 0; i < got; i++) {
            if (chunk[i] == L'\n')
                goto done;
            if (chunk[i] == L'\r')
                continue;
            if (n + 1 < sizeof w / sizeof w[0] && n + 1 < len)
                w[n++] = chunk[i];
            else
                too_long = true;
        }
    }
done:
    w[n] = L'\0';
    u = n ? WideCharToMultiByte(CP_UTF8, 0, w, (int)n, buf, (int)(len - 1), NULL, NULL) : 0;
    SecureZeroMemory(w, sizeof w);
    if (too_long || (n && u == 0))
        return ps_errmsg_set(em, PS_ERR_RANGE, "input longer than %zu bytes", len - 1);
    buf[u] = '\0';
    return PS_OK;
}

/* Reads bytes up to a newline from a pipe or file, one at a time so that nothing
 * after the line is consumed. */
static ps_err read_plain_line(HANDLE in, char *buf, size_t len, ps_errmsg *em)
{
    size_t n = 0;
    for (;;) {
        char c;
        DWORD got = 0;
        if (!ReadFile(in, &c, 1, &got, NULL)) {
            if (GetLastError() == ERROR_BROKEN_PIPE)
                break; /* the writer closed the pipe: end of input */
            return ps_errmsg_set(em, PS_ERR_IO, "cannot read standard input");
        }
        if (got == 0 || c == '\n')
            break;
        if (n + 1 >= len)
            return ps_errmsg_set(em, PS_ERR_RANGE, "input longer than %zu bytes", len - 1);
        buf[n++] = c;
    }
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    return PS_OK;
}

ps_err ps_plat_read_secret_line(const char *prompt, char *buf, size_t len, ps_errmsg *em)
{
    HANDLE in = GetStdHandle(STD_INPUT_HANDLE);
    DWORD mode;
    bool console = in != INVALID_HANDLE_VALUE && GetConsoleMode(in, &mode);
    ps_err err;

    buf[0] = '\0';
    if (console) {
        secret_saved_mode = mode;
        (void)SetConsoleCtrlHandler(secret_restore, TRUE);
        (void)SetConsoleMode(in, (mode & ~(DWORD)ENABLE_ECHO_INPUT) | ENABLE_LINE_INPUT |
                                     ENABLE_PROCESSED_INPUT);
        fprintf(stderr, "%s", prompt);
        fflush(stderr);
        err = read_console_line(in, buf, len, em);
        (void)SetConsoleMode(in, mode);
        (void)SetConsoleCtrlHandler(secret_restore, FALSE);
        fputc('\n', stderr);
    } else {
        err = read_plain_line(in, buf, len, em);
    }
    if (err != PS_OK)
        ps_plat_wipe(buf, len);
    return err;
}

bool ps_plat_stdin_is_terminal(void)
{
    /* Not _isatty: it says yes for NUL too, a character device but no person. */
    DWORD mode;
    HANDLE in = GetStdHandle(STD_INPUT_HANDLE);
    return in != INVALID_HANDLE_VALUE && in != NULL && GetConsoleMode(in, &mode);
}

int ps_plat_terminal_columns(FILE *stream)
{
    CONSOLE_SCREEN_BUFFER_INFO ci;
    int fd = stream ? _fileno(stream) : -1;
    intptr_t h = fd >= 0 ? _get_osfhandle(fd) : -1;
    // NOLINTNEXTLINE(performance-no-int-to-ptr): the CRT hands out HANDLEs as intptr_t
    if (h == -1 || !GetConsoleScreenBufferInfo((HANDLE)h, &ci))
        return 0;
    return ci.srWindow.Right - ci.srWindow.Left + 1;
}

bool ps_plat_stream_is_journal(FILE *stream)
{
    (void)stream;
    return false; /* no journal on Windows: the service logs to its files */
}
