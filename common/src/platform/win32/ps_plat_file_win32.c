/* Files on Windows: whole-file reads and atomic replacement, exclusive creation,
 * append-only files, removal and renames. Every handle podstream opens shares
 * read, write and delete, so that a file being read can still be replaced or
 * removed, as on POSIX. */
#include "platform/win32/ps_plat_win32.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHARE_ALL (FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE)

bool ps_w32_file_info(const wchar_t *w, BY_HANDLE_FILE_INFORMATION *out)
{
    /* Backup semantics: a directory opens too. */
    HANDLE h = CreateFileW(w, FILE_READ_ATTRIBUTES, SHARE_ALL, NULL, OPEN_EXISTING,
                           FILE_FLAG_BACKUP_SEMANTICS, NULL);
    bool ok;
    if (h == INVALID_HANDLE_VALUE)
        return false;
    ok = GetFileInformationByHandle(h, out) != 0;
    CloseHandle(h);
    return ok;
}

/* Sets em from GetLastError: "<what> <path>: <system text>". */
static ps_err last_error(ps_errmsg *em, const char *what, const char *path)
{
    DWORD rc = GetLastError();
    char why[160];
    return ps_errmsg_set(em, ps_w32_err(rc), "%s %s: %s", what, path,
                         ps_w32_strerror(rc, why, sizeof why));
}

static ps_err read_all(HANDLE h, char *data, size_t size, size_t *used)
{
    *used = 0;
    while (*used < size) {
        DWORD want = size - *used > 0x40000000 ? 0x40000000 : (DWORD)(size - *used), got = 0;
        if (!ReadFile(h, data + *used, want, &got, NULL))
            return PS_ERR_IO;
        if (got == 0)
            break;
        *used += got;
    }
    return PS_OK;
}

ps_err ps_plat_read_file(const char *path, size_t max_bytes, char **buf, size_t *len, ps_errmsg *em)
{
    wchar_t *w = ps_w32_path(path);
    HANDLE h = INVALID_HANDLE_VALUE;
    LARGE_INTEGER size;
    char *data = NULL;
    size_t used = 0;
    ps_err err = PS_OK;
    DWORD attrs;

    *buf = NULL;
    *len = 0;
    if (!w)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory reading %s", path);
    attrs = GetFileAttributesW(w);
    if (attrs != INVALID_FILE_ATTRIBUTES && (attrs & FILE_ATTRIBUTE_DIRECTORY)) {
        err = ps_errmsg_set(em, PS_ERR_IO, "%s is not a regular file", path);
        goto out;
    }
    h = CreateFileW(w, GENERIC_READ, SHARE_ALL, NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
    if (h == INVALID_HANDLE_VALUE) {
        err = last_error(em, "cannot open", path);
        goto out;
    }
    if (GetFileType(h) != FILE_TYPE_DISK || !GetFileSizeEx(h, &size)) {
        err = ps_errmsg_set(em, PS_ERR_IO, "%s is not a regular file", path);
        goto out;
    }
    if ((unsigned long long)size.QuadPart > max_bytes) {
        err = ps_errmsg_set(em, PS_ERR_RANGE, "%s is larger than %zu bytes", path, max_bytes);
        goto out;
    }
    data = malloc((size_t)size.QuadPart + 1);
    if (!data) {
        err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory reading %s", path);
        goto out;
    }
    if (read_all(h, data, (size_t)size.QuadPart, &used) != PS_OK) {
        err = last_error(em, "cannot read", path);
        goto out;
    }
    data[used] = '\0';
    *buf = data;
    *len = used;
    data = NULL;
out:
    free(data);
    if (h != INVALID_HANDLE_VALUE)
        CloseHandle(h);
    free(w);
    return err;
}

static bool write_all(HANDLE h, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        DWORD n = len > 0x40000000 ? 0x40000000 : (DWORD)len, done = 0;
        if (!WriteFile(h, p, n, &done, NULL))
            return false;
        p += done;
        len -= done;
    }
    return true;
}

/* Creates `w` (CREATE_NEW) with the ACL standing for `mode`, writes `data` and
 * flushes it to the disk. Deletes what it created on failure. */
static ps_err create_with(const wchar_t *w, const char *path, const void *data, size_t len,
                          unsigned mode, ps_errmsg *em)
{
    SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, FALSE};
    PSECURITY_DESCRIPTOR sd = NULL;
    HANDLE h;
    ps_err err = PS_OK;

    if (ps_w32_mode_sd(mode, false, &sd) != PS_OK)
        return ps_errmsg_set(em, PS_ERR_INTERNAL, "cannot build the access list for %s", path);
    sa.lpSecurityDescriptor = sd;
    h = CreateFileW(w, GENERIC_WRITE | DELETE, FILE_SHARE_READ | FILE_SHARE_DELETE, &sa, CREATE_NEW,
                    FILE_ATTRIBUTE_NORMAL, NULL);
    if (h == INVALID_HANDLE_VALUE) {
        err = last_error(em, "cannot create", path);
        goto out;
    }
    if (!write_all(h, data, len) || !FlushFileBuffers(h)) {
        err = last_error(em, "cannot write", path);
        CloseHandle(h);
        (void)DeleteFileW(w);
        goto out;
    }
    CloseHandle(h);
out:
    LocalFree(sd);
    return err;
}

/* MoveFileExW, retried for a second while another program (a virus scanner, an
 * editor) holds the target open without sharing delete access. */
static bool move_retrying(const wchar_t *from, const wchar_t *to, DWORD flags)
{
    for (int i = 0;; i++) {
        DWORD rc;
        if (MoveFileExW(from, to, flags))
            return true;
        rc = GetLastError();
        if ((rc != ERROR_ACCESS_DENIED && rc != ERROR_SHARING_VIOLATION) || i == 20)
            return false;
        Sleep(50);
    }
}

/* Keeps the file at `w` as `wbak`: a hard link where the volume has them (no copy,
 * and `path` is never missing), else a copy. */
static bool keep_backup(const wchar_t *w, const wchar_t *wbak)
{
    (void)DeleteFileW(wbak);
    return CreateHardLinkW(wbak, w, NULL) || CopyFileW(w, wbak, FALSE);
}

ps_err ps_plat_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode,
                                 bool backup, ps_errmsg *em)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 24), *bak = malloc(plen + 8);
    wchar_t *w = ps_w32_path(path), *wtmp = NULL, *wbak = NULL;
    unsigned char rnd[6];
    ps_err err = PS_OK;
    bool made = false;

    if (!tmp || !bak || !w || ps_plat_random(rnd, sizeof rnd) != PS_OK) {
        err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
        goto out;
    }
    snprintf(tmp, plen + 24, "%s.tmp%02x%02x%02x%02x%02x%02x", path, rnd[0], rnd[1], rnd[2], rnd[3],
             rnd[4], rnd[5]);
    snprintf(bak, plen + 8, "%s.bak", path);
    wtmp = ps_w32_path(tmp);
    wbak = ps_w32_path(bak);
    if (!wtmp || !wbak) {
        err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((err = create_with(wtmp, tmp, data, len, mode, em)) != PS_OK)
        goto out;
    made = true;
    if (backup && GetFileAttributesW(w) != INVALID_FILE_ATTRIBUTES && !keep_backup(w, wbak)) {
        err = last_error(em, "cannot keep a backup", bak);
        goto out;
    }
    /* WRITE_THROUGH: the rename is on the disk when the call returns, as the
     * directory fsync makes it on POSIX. */
    if (!move_retrying(wtmp, w, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)) {
        err = last_error(em, "cannot replace", path);
        goto out;
    }
    made = false;
out:
    if (made)
        (void)DeleteFileW(wtmp);
    free(tmp);
    free(bak);
    free(w);
    free(wtmp);
    free(wbak);
    return err;
}

ps_err ps_plat_create_exclusive(const char *path, const void *data, size_t len, unsigned mode,
                                ps_errmsg *em)
{
    wchar_t *w = ps_w32_path(path);
    ps_err err;
    if (!w)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    err = create_with(w, path, data, len, mode, em);
    free(w);
    return err;
}

bool ps_plat_file_exists(const char *path)
{
    wchar_t *w = ps_w32_path(path);
    bool r = w && GetFileAttributesW(w) != INVALID_FILE_ATTRIBUTES;
    free(w);
    return r;
}

bool ps_plat_is_dir(const char *path)
{
    wchar_t *w = ps_w32_path(path);
    DWORD a = w ? GetFileAttributesW(w) : INVALID_FILE_ATTRIBUTES;
    free(w);
    return a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_DIRECTORY);
}

static bool info_of(const char *path, BY_HANDLE_FILE_INFORMATION *fi)
{
    wchar_t *w = ps_w32_path(path);
    bool ok = w && ps_w32_file_info(w, fi);
    free(w);
    return ok;
}

uint64_t ps_plat_file_stamp(const char *path)
{
    BY_HANDLE_FILE_INFORMATION fi;
    uint64_t h = 1469598103934665603ull;
    if (!info_of(path, &fi))
        return 0;
    h = (h ^ ((uint64_t)fi.nFileSizeHigh << 32 | fi.nFileSizeLow)) * 1099511628211ull;
    h = (h ^
         ((uint64_t)fi.ftLastWriteTime.dwHighDateTime << 32 | fi.ftLastWriteTime.dwLowDateTime)) *
        1099511628211ull;
    h = (h ^ ((uint64_t)fi.nFileIndexHigh << 32 | fi.nFileIndexLow)) * 1099511628211ull;
    return h ? h : 1;
}

bool ps_plat_file_id(const char *path, ps_file_id *out)
{
    BY_HANDLE_FILE_INFORMATION fi;
    if (!info_of(path, &fi))
        return false;
    out->dev = fi.dwVolumeSerialNumber;
    out->ino = (uint64_t)fi.nFileIndexHigh << 32 | fi.nFileIndexLow;
    return true;
}

struct ps_file {
    HANDLE h;
    char *path; /* for messages */
};

ps_err ps_plat_file_open_append(const char *path, unsigned mode, ps_file **out, ps_errmsg *em)
{
    SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, FALSE};
    PSECURITY_DESCRIPTOR sd = NULL;
    ps_file *f = calloc(1, sizeof *f);
    wchar_t *w = ps_w32_path(path);
    ps_err err = PS_OK;

    *out = NULL;
    if (!f || !w || !(f->path = _strdup(path))) {
        err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (ps_w32_mode_sd(mode, false, &sd) != PS_OK) {
        err = ps_errmsg_set(em, PS_ERR_INTERNAL, "cannot build the access list for %s", path);
        goto out;
    }
    sa.lpSecurityDescriptor = sd; /* only used when the file is created */
    f->h = CreateFileW(w, GENERIC_WRITE, SHARE_ALL, &sa, OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
    if (f->h == INVALID_HANDLE_VALUE) {
        err = last_error(em, "cannot create", path);
        goto out;
    }
    *out = f;
    f = NULL;
out:
    if (f)
        free(f->path);
    free(f);
    free(w);
    LocalFree(sd);
    return err;
}

/* One WriteFile at the end of the file, whatever another handle wrote meanwhile:
 * offset 0xFFFFFFFF:0xFFFFFFFF is Win32's O_APPEND. */
static bool append_once(HANDLE h, const char *p, DWORD n, DWORD *done)
{
    OVERLAPPED ov;
    memset(&ov, 0, sizeof ov);
    ov.Offset = ov.OffsetHigh = 0xFFFFFFFF;
    return WriteFile(h, p, n, done, &ov) != 0;
}

static ps_err append_all(ps_file *f, const char *p, size_t len, ps_errmsg *em)
{
    while (len > 0) {
        DWORD n = len > 0x40000000 ? 0x40000000 : (DWORD)len, done = 0;
        if (!append_once(f->h, p, n, &done))
            return last_error(em, "cannot write", f->path);
        p += done;
        len -= done;
    }
    return PS_OK;
}

ps_err ps_plat_file_writev(ps_file *f, const ps_iovec *iov, size_t cnt, ps_errmsg *em)
{
    size_t total = 0, at = 0;
    char *joined;
    ps_err err = PS_OK;

    for (size_t i = 0; i < cnt; i++)
        total += iov[i].len;
    if (total == 0)
        return PS_OK;
    /* Windows has no writev for ordinary (buffered) files: one buffer, one WriteFile,
     * keeps a batch whole when the process dies, as writev does on POSIX. */
    joined = malloc(total);
    if (!joined) {
        for (size_t i = 0; i < cnt && err == PS_OK; i++)
            err = append_all(f, iov[i].base, iov[i].len, em);
        return err;
    }
    for (size_t i = 0; i < cnt; i++) {
        if (iov[i].len)
            memcpy(joined + at, iov[i].base, iov[i].len);
        at += iov[i].len;
    }
    err = append_all(f, joined, total, em);
    free(joined);
    return err;
}

ps_err ps_plat_file_sync(ps_file *f, ps_errmsg *em)
{
    if (!FlushFileBuffers(f->h))
        return last_error(em, "cannot flush to disk", f->path);
    return PS_OK;
}

void ps_plat_file_close(ps_file *f)
{
    if (!f)
        return;
    CloseHandle(f->h);
    free(f->path);
    free(f);
}

ps_err ps_plat_remove(const char *path, ps_errmsg *em)
{
    wchar_t *w = ps_w32_path(path);
    ps_err err = PS_OK;
    if (!w)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    if (!DeleteFileW(w))
        err = last_error(em, "cannot remove", path);
    free(w);
    return err;
}

ps_err ps_plat_rename_new(const char *from, const char *to, ps_errmsg *em)
{
    wchar_t *wf = ps_w32_path(from), *wt = ps_w32_path(to);
    ps_err err = PS_OK;
    char why[160];

    if (!wf || !wt) {
        err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    } else if (!MoveFileExW(wf, wt, MOVEFILE_WRITE_THROUGH)) {
        /* Without MOVEFILE_REPLACE_EXISTING a file at `to` is refused, atomically. */
        DWORD rc = GetLastError();
        err = ps_errmsg_set(em, ps_w32_err(rc), "cannot move %s to %s: %s", from, to,
                            ps_w32_strerror(rc, why, sizeof why));
    }
    free(wf);
    free(wt);
    return err;
}

ps_err ps_plat_file_size(const char *path, uint64_t *out)
{
    WIN32_FILE_ATTRIBUTE_DATA fa;
    wchar_t *w = ps_w32_path(path);
    ps_err err = PS_OK;

    *out = 0;
    if (!w)
        return PS_ERR_NOMEM;
    if (GetFileAttributesExW(w, GetFileExInfoStandard, &fa))
        *out = (uint64_t)fa.nFileSizeHigh << 32 | fa.nFileSizeLow;
    else
        err = ps_w32_err(GetLastError());
    free(w);
    return err;
}
