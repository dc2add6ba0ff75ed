/* The database lock on Windows: LockFileEx on one byte far past any data.
 *
 * Windows byte-range locks are mandatory: a locked byte cannot be read or written
 * through another handle, even one of this process. SQLite locks bytes from 1 GiB
 * (its PENDING_BYTE) upwards and reads the pages below; the byte taken here lies at
 * 2^63 - 2^32, beyond both, so the lock keeps a second podstream out and nothing
 * else, as flock() does on POSIX. */
#include "platform/win32/ps_plat_win32.h"

#include <stdlib.h>
#include <string.h>

#define LOCK_OFFSET_HIGH 0x7FFFFFFFu

static bool lock_range(HANDLE h, DWORD flags)
{
    OVERLAPPED ov;
    memset(&ov, 0, sizeof ov);
    ov.OffsetHigh = LOCK_OFFSET_HIGH;
    return LockFileEx(h, flags | LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ov) != 0;
}

static void unlock_range(HANDLE h)
{
    OVERLAPPED ov;
    memset(&ov, 0, sizeof ov);
    ov.OffsetHigh = LOCK_OFFSET_HIGH;
    (void)UnlockFileEx(h, 0, 1, 0, &ov);
}

/* True when `h` is still the file at `w`: the handle shares delete access (the
 * database may be renamed by `repair`), so the file could have been replaced. */
static bool lock_is_at_path(HANDLE h, const wchar_t *w)
{
    BY_HANDLE_FILE_INFORMATION held, named;
    if (!GetFileInformationByHandle(h, &held) || !ps_w32_file_info(w, &named))
        return false;
    return held.dwVolumeSerialNumber == named.dwVolumeSerialNumber &&
           held.nFileIndexHigh == named.nFileIndexHigh && held.nFileIndexLow == named.nFileIndexLow;
}

/* The exclusive lock without waiting for another holder of it, but waiting out the
 * instant of a ps_plat_lock_probe. False with GetLastError set. */
static bool lock_ex_soon(HANDLE h)
{
    for (int i = 0;; i++) {
        if (lock_range(h, LOCKFILE_EXCLUSIVE_LOCK))
            return true;
        if (GetLastError() != ERROR_LOCK_VIOLATION || i == 20)
            return false;
        Sleep(10);
    }
}

static HANDLE open_lock_file(const wchar_t *w, DWORD disposition, SECURITY_ATTRIBUTES *sa)
{
    /* Read access is enough for a lock, and the file may be the database. */
    return CreateFileW(w, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, sa,
                       disposition, FILE_ATTRIBUTE_NORMAL, NULL);
}

static ps_err lock_loop(const char *path, const wchar_t *w, SECURITY_ATTRIBUTES *sa,
                        ps_plat_lockh *handle, ps_errmsg *em)
{
    char why[160];
    for (int attempt = 0; attempt < 8; attempt++) {
        HANDLE h = open_lock_file(w, OPEN_ALWAYS, sa);
        DWORD rc;
        if (h == INVALID_HANDLE_VALUE) {
            rc = GetLastError();
            return ps_errmsg_set(em, PS_ERR_IO, "cannot open lock file %s: %s", path,
                                 ps_w32_strerror(rc, why, sizeof why));
        }
        if (!lock_ex_soon(h)) {
            rc = GetLastError();
            CloseHandle(h);
            if (rc == ERROR_LOCK_VIOLATION)
                return ps_errmsg_set(em, PS_ERR_CONFLICT,
                                     "another podstream is already running on this database "
                                     "(%s is locked)",
                                     path);
            return ps_errmsg_set(em, PS_ERR_IO, "cannot lock %s: %s", path,
                                 ps_w32_strerror(rc, why, sizeof why));
        }
        if (lock_is_at_path(h, w)) {
            *handle = (ps_plat_lockh)h;
            return PS_OK;
        }
        CloseHandle(h);
    }
    return ps_errmsg_set(em, PS_ERR_IO, "cannot lock %s: it keeps being replaced", path);
}

ps_err ps_plat_lock(const char *path, ps_plat_lockh *handle, ps_errmsg *em)
{
    SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, FALSE};
    PSECURITY_DESCRIPTOR sd = NULL;
    wchar_t *w = ps_w32_path(path);
    ps_err err;

    *handle = PS_PLAT_LOCK_NONE;
    if (!w)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    if (ps_w32_mode_sd(0640, false, &sd) != PS_OK) {
        free(w);
        return ps_errmsg_set(em, PS_ERR_INTERNAL, "cannot build the access list for %s", path);
    }
    sa.lpSecurityDescriptor = sd;
    err = lock_loop(path, w, &sa, handle, em);
    LocalFree(sd);
    free(w);
    return err;
}

int ps_plat_lock_probe(const char *path)
{
    wchar_t *w = ps_w32_path(path);
    HANDLE h = w ? open_lock_file(w, OPEN_EXISTING, NULL) : INVALID_HANDLE_VALUE;
    int held;

    free(w);
    if (h == INVALID_HANDLE_VALUE)
        return -1;
    if (lock_range(h, 0)) {
        held = 0;
        unlock_range(h);
    } else {
        held = GetLastError() == ERROR_LOCK_VIOLATION ? 1 : -1;
    }
    CloseHandle(h);
    return held;
}

void ps_plat_unlock(ps_plat_lockh handle)
{
    /* Closing the handle lets go of its locks. */
    if (handle != PS_PLAT_LOCK_NONE)
        // NOLINTNEXTLINE(performance-no-int-to-ptr): a HANDLE kept as an integer
        CloseHandle((HANDLE)handle);
}
