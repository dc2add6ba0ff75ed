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

bool ps_plat_localtime(int64_t unix_s, struct tm *out)
{
    __time64_t t = (__time64_t)unix_s;
    return _localtime64_s(out, &t) == 0;
}

bool ps_plat_gmtime(int64_t unix_s, struct tm *out)
{
    __time64_t t = (__time64_t)unix_s;
    return _gmtime64_s(out, &t) == 0;
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
