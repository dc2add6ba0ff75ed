/* Directories on Windows: listings (with what is left out and why) and creation
 * with the ACL that stands for a POSIX mode. */
#include "platform/ps_plat_internal.h"
#include "platform/win32/ps_plat_win32.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "podstream/ps_mem.h"

/* Why the entry `name` of `dir`, with the attributes the listing gave, is not a
 * regular file; NULL when it is one (a link to a file counts, as stat() follows
 * links on POSIX) or went away meanwhile. */
static const char *why_skipped(const char *dir, const char *name, DWORD attrs, char *buf,
                               size_t len)
{
    BY_HANDLE_FILE_INFORMATION fi;
    char *full;
    wchar_t *w;
    DWORD rc = ERROR_SUCCESS;
    bool ok;

    if (!(attrs & FILE_ATTRIBUTE_REPARSE_POINT))
        return (attrs & FILE_ATTRIBUTE_DIRECTORY) ? "not a regular file (a directory)" : NULL;
    full = ps_plat_path_join(dir, name);
    w = full ? ps_w32_path(full) : NULL;
    ok = w && ps_w32_file_info(w, &fi);
    if (!ok)
        rc = GetLastError();
    free(w);
    free(full);
    if (ok)
        return (fi.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) ? "not a regular file (a directory)"
                                                                : NULL;
    if (rc == ERROR_CANT_RESOLVE_FILENAME)
        return "a symbolic link loop";
    if (rc == ERROR_FILE_NOT_FOUND || rc == ERROR_PATH_NOT_FOUND)
        return "a dangling symbolic link";
    snprintf(buf, len, "cannot be examined: ");
    ps_w32_strerror(rc, buf + strlen(buf), len - strlen(buf));
    return buf;
}

ps_err ps_plat_list_dir(const char *dir, const char *const *suffixes, char ***names, size_t *count,
                        ps_errmsg *em)
{
    return ps_plat_list_dir_checked(dir, suffixes, NULL, NULL, names, count, em);
}

/* Opens the listing of `dir`; INVALID_HANDLE_VALUE with GetLastError set on failure. */
static HANDLE find_first(const char *dir, WIN32_FIND_DATAW *fd)
{
    char *pattern = ps_plat_path_join(dir, "*");
    wchar_t *w = pattern ? ps_w32_path(pattern) : NULL;
    HANDLE h = INVALID_HANDLE_VALUE;
    if (w)
        h = FindFirstFileExW(w, FindExInfoBasic, fd, FindExSearchNameMatch, NULL,
                             FIND_FIRST_EX_LARGE_FETCH);
    else
        SetLastError(ERROR_NOT_ENOUGH_MEMORY);
    free(w);
    free(pattern);
    return h;
}

ps_err ps_plat_list_dir_checked(const char *dir, const char *const *suffixes,
                                ps_plat_skipped_fn skipped, void *ctx, char ***names, size_t *count,
                                ps_errmsg *em)
{
    WIN32_FIND_DATAW fd;
    HANDLE h = find_first(dir, &fd);
    char **list = NULL;
    size_t n = 0, cap = 0;
    ps_err err = PS_OK;

    *names = NULL;
    *count = 0;
    if (h == INVALID_HANDLE_VALUE) {
        DWORD rc = GetLastError();
        char why[160];
        return ps_errmsg_set(em, ps_w32_err(rc) == PS_ERR_NOTFOUND ? PS_ERR_NOTFOUND : PS_ERR_IO,
                             "cannot open directory %s: %s", dir,
                             ps_w32_strerror(rc, why, sizeof why));
    }
    do {
        char buf[200];
        char *name = ps_w32_utf8(fd.cFileName);
        const char *why = NULL;
        if (!name) {
            err = PS_ERR_NOMEM;
            break;
        }
        if (name[0] != '.' && ps_plat_has_suffix(name, suffixes))
            why = why_skipped(dir, name, fd.dwFileAttributes, buf, sizeof buf);
        else
            why = ""; /* not asked for: left out without a word */
        if (why) {
            if (skipped && *why)
                skipped(ctx, name, why);
            free(name);
            continue;
        }
        if ((err = ps_mem_grow_array((void **)&list, &cap, n, sizeof *list)) != PS_OK) {
            free(name);
            break;
        }
        list[n++] = name;
    } while (FindNextFileW(h, &fd));
    FindClose(h);
    if (err != PS_OK) {
        ps_plat_free_list(list, n);
        return ps_errmsg_set(em, err, "out of memory listing %s", dir);
    }
    if (n)
        qsort(list, n, sizeof *list, ps_plat_cmp_names);
    *names = list;
    *count = n;
    return PS_OK;
}

/* Where the first component after the root of the \\?\ path `w` starts. */
static size_t after_root(const wchar_t *w)
{
    size_t i = 4; /* \\?\ */
    if (wcsncmp(w + 4, L"UNC\\", 4) == 0) {
        i = 8; /* \\?\UNC\server\share\ */
        for (int parts = 0; w[i] && parts < 2; i++)
            if (w[i] == L'\\')
                parts++;
        return i;
    }
    while (w[i] && w[i] != L'\\')
        i++; /* "C:" or a volume name */
    return w[i] ? i + 1 : i;
}

ps_err ps_plat_mkdirs(const char *dir, unsigned mode, ps_errmsg *em)
{
    SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, FALSE};
    PSECURITY_DESCRIPTOR sd = NULL;
    wchar_t *w = ps_w32_path(dir);
    ps_err err = PS_OK;
    size_t i;

    if (!w)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    if (ps_w32_mode_sd(mode, true, &sd) != PS_OK) {
        free(w);
        return ps_errmsg_set(em, PS_ERR_INTERNAL, "cannot build the access list for %s", dir);
    }
    sa.lpSecurityDescriptor = sd; /* on the folders made here only, as mkdir's mode */
    for (i = after_root(w);; i++) {
        if (w[i] == L'\\' || w[i] == L'\0') {
            wchar_t c = w[i];
            DWORD a;
            w[i] = L'\0';
            /* An existing folder can also answer "access denied" (a drive's root, a
             * share): what counts is that it is a folder now. */
            DWORD rc = i > 0 && w[i - 1] != L'\\' && !CreateDirectoryW(w, &sa) ? GetLastError()
                                                                               : ERROR_SUCCESS;
            if (rc != ERROR_SUCCESS && ((a = GetFileAttributesW(w)) == INVALID_FILE_ATTRIBUTES ||
                                        !(a & FILE_ATTRIBUTE_DIRECTORY))) {
                char *shown = ps_w32_utf8(w + 4);
                char why[160];
                err = ps_errmsg_set(em, PS_ERR_IO, "cannot create directory %s: %s",
                                    shown ? shown : dir, ps_w32_strerror(rc, why, sizeof why));
                free(shown);
                break;
            }
            w[i] = c;
            if (c == L'\0')
                break;
        }
    }
    LocalFree(sd);
    free(w);
    return err;
}
