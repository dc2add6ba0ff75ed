/* Path spelling, default locations and the UTF-8 <-> UTF-16 boundary on Windows.
 * podstream keeps every path in UTF-8 and converts at each Win32 call, so the rest
 * of the tree never sees a wchar_t. */
#include "platform/ps_plat_internal.h"
#include "platform/win32/ps_plat_win32.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

wchar_t *ps_w32_wide(const char *s)
{
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
    wchar_t *w;
    if (n <= 0)
        return NULL;
    w = malloc((size_t)n * sizeof *w);
    if (w && MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, w, n) != n) {
        free(w);
        w = NULL;
    }
    return w;
}

char *ps_w32_utf8(const wchar_t *w)
{
    int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
    char *s;
    if (n <= 0)
        return NULL;
    s = malloc((size_t)n);
    if (s && WideCharToMultiByte(CP_UTF8, 0, w, -1, s, n, NULL, NULL) != n) {
        free(s);
        s = NULL;
    }
    return s;
}

/* `full` (absolute, from GetFullPathNameW) with the long-path prefix. */
static wchar_t *long_prefixed(const wchar_t *full)
{
    size_t n = wcslen(full);
    bool unc = full[0] == L'\\' && full[1] == L'\\';
    /* \\?\ and \\.\ are already raw, and a device (\\.\NUL) must not change. */
    bool raw = unc && (full[2] == L'?' || full[2] == L'.') && full[3] == L'\\';
    const wchar_t *prefix = raw ? L"" : unc ? L"\\\\?\\UNC" : L"\\\\?\\";
    size_t skip = unc && !raw ? 1 : 0; /* \\server -> \\?\UNC\server */
    size_t pn = wcslen(prefix);
    wchar_t *r = malloc((pn + n + 1) * sizeof *r);
    if (!r)
        return NULL;
    wmemcpy(r, prefix, pn);
    wmemcpy(r + pn, full + skip, n - skip);
    r[pn + n - skip] = L'\0';
    return r;
}

wchar_t *ps_w32_path(const char *path)
{
    wchar_t *w = ps_w32_wide(path), *full = NULL, *r = NULL;
    DWORD n;

    if (!w)
        return NULL;
    if (wcsncmp(w, L"\\\\?\\", 4) == 0 || wcsncmp(w, L"\\\\.\\", 4) == 0)
        return w; /* already raw: \\?\ turns off the very normalisation done below */
    /* GetFullPathNameW turns '/' into '\' and resolves "." and ".." as the
     * non-prefixed calls would; with \\?\ Windows does none of that itself. */
    n = GetFullPathNameW(w, 0, NULL, NULL);
    if (n == 0)
        goto out;
    full = malloc(((size_t)n + 1) * sizeof *full);
    if (!full || GetFullPathNameW(w, n + 1, full, NULL) == 0)
        goto out;
    r = long_prefixed(full);
out:
    free(full);
    free(w);
    return r;
}

static bool is_sep(char c)
{
    return c == '/' || c == '\\';
}

/* Length of the root of `p`: "C:\" 3, "C:" 2, "\" 1, "\\server\share\" up to and
 * including the share's separator, 0 for a relative path. */
static size_t root_len(const char *p)
{
    if (((p[0] >= 'A' && p[0] <= 'Z') || (p[0] >= 'a' && p[0] <= 'z')) && p[1] == ':')
        return is_sep(p[2]) ? 3 : 2;
    if (is_sep(p[0]) && is_sep(p[1])) {
        size_t i = 2;
        for (int parts = 0; p[i] && parts < 2; i++)
            if (is_sep(p[i]))
                parts++;
        return i;
    }
    return is_sep(p[0]) ? 1 : 0;
}

char *ps_plat_dir_name(const char *path)
{
    size_t root = root_len(path), end = strlen(path);
    char *r;

    while (end > root && !is_sep(path[end - 1]))
        end--;
    while (end > root && is_sep(path[end - 1]))
        end--; /* "C:\a\\b" -> "C:\a", not "C:\a\" */
    if (end == 0)
        return _strdup(".");
    r = malloc(end + 1);
    if (r) {
        memcpy(r, path, end);
        r[end] = '\0';
    }
    return r;
}

bool ps_plat_path_is_absolute(const char *p)
{
    /* A rooted path ("\x", "/x") does not depend on the current directory's folder,
     * only on its drive: joining it to another directory would be wrong. */
    return p && (is_sep(p[0]) || (root_len(p) == 3));
}

/* The separator `a` is spelled with: "C:/conf" + "x" reads better as "C:/conf/x"
 * than "C:/conf\\x". Windows' own '\\' when `a` has none. */
static char sep_of(const char *a)
{
    const char *fwd = strrchr(a, '/'), *back = strrchr(a, '\\');
    if (!fwd)
        return PS_PATH_SEP;
    return !back || fwd > back ? '/' : PS_PATH_SEP;
}

char *ps_plat_path_join(const char *a, const char *b)
{
    size_t la;
    if (ps_plat_path_is_absolute(b) || !a || !*a)
        return _strdup(b);
    la = strlen(a);
    /* "C:" + "x" is "C:x", relative to that drive's current folder, as Windows reads it. */
    return ps_plat_join_raw(a, la, is_sep(a[la - 1]) || (la == 2 && a[1] == ':') ? '\0' : sep_of(a),
                            b);
}

char *ps_plat_path_absolute(const char *p)
{
    wchar_t *wcwd;
    char *cwd, *r;
    DWORD n;

    if (ps_plat_path_is_absolute(p))
        return _strdup(p);
    n = GetCurrentDirectoryW(0, NULL);
    wcwd = n ? malloc((size_t)n * sizeof *wcwd) : NULL;
    cwd = wcwd && GetCurrentDirectoryW(n, wcwd) < n ? ps_w32_utf8(wcwd) : NULL;
    free(wcwd);
    if (!cwd)
        return NULL;
    /* ".\conf" reads better as "C:\x\conf" than "C:\x\.\conf". */
    while (p[0] == '.' && is_sep(p[1]))
        p += 2;
    r = (p[0] == '\0' || strcmp(p, ".") == 0) ? _strdup(cwd) : ps_plat_path_join(cwd, p);
    free(cwd);
    return r;
}

static char default_config[MAX_PATH * 3];
static char default_state[MAX_PATH * 3 + 8];

static BOOL CALLBACK init_defaults(PINIT_ONCE once, PVOID param, PVOID *ctx)
{
    wchar_t wpd[MAX_PATH];
    char *pd = NULL;
    DWORD n = GetEnvironmentVariableW(L"ProgramData", wpd, MAX_PATH);

    (void)once, (void)param, (void)ctx;
    if (n > 0 && n < MAX_PATH)
        pd = ps_w32_utf8(wpd);
    /* %ProgramData% is set for services and users alike; the fallback is where
     * every Windows since Vista puts it. */
    snprintf(default_config, sizeof default_config, "%s\\podstream", pd ? pd : "C:\\ProgramData");
    snprintf(default_state, sizeof default_state, "%s\\data", default_config);
    free(pd);
    return TRUE;
}

static INIT_ONCE defaults_once = INIT_ONCE_STATIC_INIT;

const char *ps_plat_default_config_dir(void)
{
    InitOnceExecuteOnce(&defaults_once, init_defaults, NULL, NULL);
    return default_config;
}

const char *ps_plat_default_state_dir(void)
{
    InitOnceExecuteOnce(&defaults_once, init_defaults, NULL, NULL);
    return default_state;
}

/* The C library's words for the errors an admin meets most, so that messages
 * (and the documentation quoting them) read the same on Linux and Windows, and do
 * not change with the system's language. */
static const char *posix_words(DWORD err)
{
    switch (err) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
        return "No such file or directory";
    case ERROR_ACCESS_DENIED:
        return "Permission denied";
    case ERROR_FILE_EXISTS:
    case ERROR_ALREADY_EXISTS:
        return "File exists";
    case ERROR_DISK_FULL:
    case ERROR_HANDLE_DISK_FULL:
        return "No space left on device";
    case ERROR_DIRECTORY:
        return "Not a directory";
    default:
        return NULL;
    }
}

const char *ps_w32_strerror(DWORD err, char *buf, size_t len)
{
    wchar_t w[256];
    char *u = NULL;
    DWORD n;
    if (posix_words(err)) {
        snprintf(buf, len, "%s", posix_words(err));
        return buf;
    }
    n = FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, err,
                       MAKELANGID(LANG_NEUTRAL, SUBLANG_DEFAULT), w, 256, NULL);
    while (n > 0 && (w[n - 1] == L'\n' || w[n - 1] == L'\r' || w[n - 1] == L'.'))
        w[--n] = L'\0';
    if (n > 0)
        u = ps_w32_utf8(w);
    if (u)
        snprintf(buf, len, "%s (error %lu)", u, (unsigned long)err);
    else
        snprintf(buf, len, "error %lu", (unsigned long)err);
    free(u);
    return buf;
}

ps_err ps_w32_err(DWORD err)
{
    switch (err) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_INVALID_NAME:
        return PS_ERR_NOTFOUND;
    case ERROR_FILE_EXISTS:
    case ERROR_ALREADY_EXISTS:
        return PS_ERR_EXISTS;
    default:
        return PS_ERR_IO;
    }
}
