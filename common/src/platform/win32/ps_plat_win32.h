/* Helpers shared by the Win32 files of the platform layer: UTF-8 <-> UTF-16 at the
 * API boundary, Win32 error text, and the security descriptors that stand in for
 * POSIX modes. Internal to common/src/platform/win32/. */
#ifndef PS_PLAT_WIN32_H
#define PS_PLAT_WIN32_H

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include "podstream/ps_platform.h"

/* A new UTF-16 copy of UTF-8 `s` (caller frees), or NULL when `s` is not UTF-8 or
 * memory ran out. */
wchar_t *ps_w32_wide(const char *s);
/* A new UTF-8 copy of UTF-16 `w` (caller frees), or NULL. */
char *ps_w32_utf8(const wchar_t *w);
/* A new UTF-16 path for Win32 calls (caller frees): made absolute against the current
 * directory, '/' turned into '\', "." and ".." resolved, and given the \\?\ prefix
 * (\\?\UNC\ for a share) so that paths longer than MAX_PATH work. Device paths
 * (\\.\, NUL, CON) are left as they are. NULL when `path` is not UTF-8 or memory
 * ran out. */
wchar_t *ps_w32_path(const char *path);

/* Formats `err` (a GetLastError value) into buf (caller-owned, always terminated):
 * the system's English-ish text without its trailing newline, and the number. */
const char *ps_w32_strerror(DWORD err, char *buf, size_t len);
/* PS_ERR_NOTFOUND, PS_ERR_EXISTS or PS_ERR_IO for a Win32 error, as POSIX's ENOENT,
 * EEXIST and the rest map. */
ps_err ps_w32_err(DWORD err);

/* The protective security descriptor that stands for POSIX `mode` on a new file
 * (is_dir false) or directory (true): a protected DACL granting SYSTEM and
 * Administrators full control, the creating user when it is neither SYSTEM nor
 * elevated, the service's own account (NT SERVICE\podstream), and with group read
 * (0040) the local group "podstream readers" read access when it exists. NULL
 * (inherit from the parent) when `mode` lets others read (0004): such files are
 * meant to be public. *out is LocalFree'd by the caller; PS_OK with *out NULL means
 * "inherit". */
ps_err ps_w32_mode_sd(unsigned mode, bool is_dir, PSECURITY_DESCRIPTOR *out);

/* The SID of NT SERVICE\<name> (S-1-5-80-...), computed as Windows does from the
 * SHA-1 of the upper-cased name, into `sid` (caller-owned, at least
 * SECURITY_MAX_SID_SIZE bytes). False when hashing failed. */
bool ps_w32_service_sid(const wchar_t *name, PSID sid);

/* Volume, index, size and times of the file (or directory) at `w`, following links.
 * False, with GetLastError set, when it cannot be opened. */
bool ps_w32_file_info(const wchar_t *w, BY_HANDLE_FILE_INFORMATION *out);

/* The name of the service whose account protected files are shared with. */
#define PS_W32_SERVICE_NAME L"podstream"
/* The local group given read access to 0640 files when it exists. */
#define PS_W32_READERS_GROUP L"podstream readers"

#endif
