/* Randomness, clocks, scheduling, crash dumps, the heap and local time on Windows. */
#include "platform/win32/ps_plat_win32.h"

#include <bcrypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

ps_err ps_plat_random(void *buf, size_t len)
{
    unsigned char *p = buf;
    while (len > 0) {
        ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (BCryptGenRandom(NULL, p, n, BCRYPT_USE_SYSTEM_PREFERRED_RNG) < 0)
            return PS_ERR_IO;
        p += n;
        len -= n;
    }
    return PS_OK;
}

void ps_plat_wipe(void *p, size_t len)
{
    if (p)
        SecureZeroMemory(p, len);
}

/* 100 ns ticks between 1601-01-01 (FILETIME's epoch) and 1970-01-01. */
#define EPOCH_DIFF_100NS 116444736000000000LL

int64_t ps_plat_now_us(void)
{
    FILETIME ft;
    GetSystemTimePreciseAsFileTime(&ft);
    return (((int64_t)ft.dwHighDateTime << 32 | ft.dwLowDateTime) - EPOCH_DIFF_100NS) / 10;
}

int64_t ps_plat_mono_ms(void)
{
    static LARGE_INTEGER freq;
    LARGE_INTEGER now;
    /* The frequency is fixed at boot; a race only writes the same value twice. */
    if (freq.QuadPart == 0 && !QueryPerformanceFrequency(&freq))
        return (int64_t)GetTickCount64();
    QueryPerformanceCounter(&now);
    return (int64_t)(now.QuadPart / freq.QuadPart * 1000 +
                     now.QuadPart % freq.QuadPart * 1000 / freq.QuadPart);
}

void ps_plat_thread_background(void)
{
    /* Best effort: a failure only costs throughput. */
    (void)SetThreadPriority(GetCurrentThread(), THREAD_PRIORITY_BELOW_NORMAL);
}

ps_err ps_plat_thread_lowest(ps_errmsg *em)
{
    /* One below ps_plat_thread_background's BELOW_NORMAL. */
    char why[256];
    DWORD rc;
    if (SetThreadPriority(GetCurrentThread(), THREAD_PRIORITY_LOWEST))
        return PS_OK;
    rc = GetLastError();
    return ps_errmsg_set(em, ps_w32_err(rc), "cannot lower the thread's priority: %s",
                         ps_w32_strerror(rc, why, sizeof why));
}

/* werapi.h of MinGW-w64 does not compile on its own; the one flag needed. */
#define PS_WER_FAULT_REPORTING_FLAG_NOHEAP 1
typedef HRESULT(WINAPI *wer_set_flags_fn)(DWORD);

bool ps_plat_secure_process(void)
{
    const char *allow = getenv("PODSTREAM_ALLOW_CORE_DUMPS");
    HMODULE k32 = GetModuleHandleW(L"kernel32.dll");
    FARPROC p = k32 ? GetProcAddress(k32, "WerSetFlags") : NULL;
    wer_set_flags_fn set_flags;

    if (allow && strcmp(allow, "1") == 0)
        return false;
    /* No crash dialog: a service has nobody to click it, and it would hold the
     * process (and its secrets) in memory until someone does. */
    SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX | SEM_NOOPENFILEERRORBOX);
    /* Windows Error Reporting then collects no heap, where the token, the key and
     * mail data live, into its crash reports. Looked up: absent on some wine builds.
     * Other processes of the same user can still open this one; the service runs as
     * its own virtual account, which no person logs on as. */
    if (!p)
        return false;
    memcpy(&set_flags, &p, sizeof set_flags); /* FARPROC to its real type */
    return set_flags(PS_WER_FAULT_REPORTING_FLAG_NOHEAP) >= 0;
}

void ps_plat_heap_trim(void)
{
    /* The Windows heap decommits free pages itself; there is no malloc_trim. */
}

/* Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm): the C
 * runtime's _gmtime64_s refuses times before 1970, which POSIX's gmtime_r takes. */
static void civil_from_days(int64_t z, struct tm *out)
{
    int64_t era, doe, yoe, y, doy, mp;
    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    out->tm_mday = (int)(doy - (153 * mp + 2) / 5 + 1);
    out->tm_mon = (int)(mp < 10 ? mp + 2 : mp - 10);
    out->tm_year = (int)(y + (out->tm_mon <= 1) - 1900);
}

bool ps_plat_gmtime(int64_t unix_s, struct tm *out)
{
    static const int before[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
    int64_t days = unix_s / 86400, secs = unix_s % 86400;
    int year;

    /* struct tm holds the year in an int: about +-2^31 years is far beyond this. */
    if (unix_s < -(int64_t)1e15 || unix_s > (int64_t)1e15)
        return false;
    if (secs < 0) {
        secs += 86400;
        days--;
    }
    memset(out, 0, sizeof *out);
    civil_from_days(days, out);
    out->tm_hour = (int)(secs / 3600);
    out->tm_min = (int)(secs / 60 % 60);
    out->tm_sec = (int)(secs % 60);
    out->tm_wday = (int)((days % 7 + 11) % 7); /* 1970-01-01 was a Thursday */
    year = out->tm_year + 1900;
    out->tm_yday = before[out->tm_mon] + out->tm_mday - 1 +
                   (out->tm_mon > 1 && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0));
    return true;
}

bool ps_plat_localtime(int64_t unix_s, struct tm *out)
{
    __time64_t t = (__time64_t)unix_s;
    /* The runtime honours TZ (in its "EST5EDT" form) and Windows' zone, but not
     * before 1970: there the standard offset is all that is known. */
    if (unix_s >= 0)
        return _localtime64_s(out, &t) == 0;
    _tzset();
    /* _timezone: msvcrt.dll, which MinGW links, has no _get_timezone. */
    if (!ps_plat_gmtime(unix_s - _timezone, out))
        return false;
    out->tm_isdst = 0;
    return true;
}

void ps_plat_sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    Sleep(ms >= (int64_t)INFINITE ? INFINITE - 1 : (DWORD)ms);
}

typedef LONG(WINAPI *rtl_get_version_fn)(OSVERSIONINFOW *);

void ps_plat_os_name(char *buf, size_t len)
{
    /* GetVersionEx lies (it reports 6.2 to programs without a manifest); ntdll's
     * RtlGetVersion tells the truth. */
    HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
    FARPROC p = ntdll ? GetProcAddress(ntdll, "RtlGetVersion") : NULL;
    OSVERSIONINFOW vi;
    rtl_get_version_fn get;

    if (len == 0)
        return;
    memset(&vi, 0, sizeof vi);
    vi.dwOSVersionInfoSize = sizeof vi;
    if (p) {
        memcpy(&get, &p, sizeof get);
        if (get(&vi) == 0) {
            snprintf(buf, len, "Windows %lu.%lu.%lu", (unsigned long)vi.dwMajorVersion,
                     (unsigned long)vi.dwMinorVersion, (unsigned long)vi.dwBuildNumber);
            return;
        }
    }
    snprintf(buf, len, "unknown");
}
