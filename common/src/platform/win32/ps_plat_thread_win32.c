/* Threads, mutexes and monotonic condition variables on Win32: SRWLOCK and
 * CONDITION_VARIABLE, whose timed waits take a relative time, measured here from
 * the same clock as ps_plat_mono_ms. */
#include "platform/win32/ps_plat_win32.h"

#include <process.h>
#include <stdlib.h>
#include <string.h>

struct ps_thread {
    HANDLE h;
    ps_thread_fn fn;
    void *arg;
    void *ret;
    wchar_t name[16];
};

struct ps_mutex {
    SRWLOCK lock;
};

struct ps_cond {
    CONDITION_VARIABLE cv;
};

typedef HRESULT(WINAPI *set_description_fn)(HANDLE, PCWSTR);

/* SetThreadDescription is Windows 10 1607 and later: looked up, not linked, so the
 * program still starts on older systems (and on wine versions without it). */
static void name_thread(const wchar_t *name)
{
    HMODULE k32 = GetModuleHandleW(L"kernel32.dll");
    FARPROC p = k32 ? GetProcAddress(k32, "SetThreadDescription") : NULL;
    set_description_fn set;
    if (!p || !name[0])
        return;
    memcpy(&set, &p, sizeof set); /* FARPROC to its real type, without a cast warning */
    (void)set(GetCurrentThread(), name);
}

static unsigned __stdcall thread_start(void *p)
{
    ps_thread *t = p;
    name_thread(t->name);
    t->ret = t->fn(t->arg);
    return 0;
}

ps_err ps_plat_thread_create(ps_thread **out, const char *name, ps_thread_fn fn, void *arg)
{
    ps_thread *t = calloc(1, sizeof *t);
    uintptr_t h;

    *out = NULL;
    if (!t)
        return PS_ERR_NOMEM;
    t->fn = fn;
    t->arg = arg;
    if (name) {
        /* At most 15 bytes, as on Linux; names are ASCII ("ps-writer"). */
        int n = MultiByteToWideChar(CP_UTF8, 0, name, (int)strnlen(name, 15), t->name, 15);
        t->name[n > 0 ? n : 0] = L'\0';
    }
    /* _beginthreadex, not CreateThread: the C runtime sets up its per-thread state. */
    h = _beginthreadex(NULL, 0, thread_start, t, 0, NULL);
    if (h == 0) {
        free(t);
        return PS_ERR_INTERNAL;
    }
    t->h = (HANDLE)h; // NOLINT(performance-no-int-to-ptr): _beginthreadex returns a HANDLE so
    *out = t;
    return PS_OK;
}

void *ps_plat_thread_join(ps_thread *t)
{
    void *ret;
    if (!t)
        return NULL;
    WaitForSingleObject(t->h, INFINITE);
    CloseHandle(t->h);
    ret = t->ret;
    free(t);
    return ret;
}

ps_err ps_plat_mutex_create(ps_mutex **out)
{
    ps_mutex *m = calloc(1, sizeof *m);
    *out = NULL;
    if (!m)
        return PS_ERR_NOMEM;
    InitializeSRWLock(&m->lock);
    *out = m;
    return PS_OK;
}

void ps_plat_mutex_destroy(ps_mutex *m)
{
    free(m); /* an SRWLOCK needs no teardown */
}

void ps_plat_mutex_lock(ps_mutex *m)
{
    AcquireSRWLockExclusive(&m->lock);
}

void ps_plat_mutex_unlock(ps_mutex *m)
{
    ReleaseSRWLockExclusive(&m->lock);
}

ps_err ps_plat_cond_create(ps_cond **out)
{
    ps_cond *c = calloc(1, sizeof *c);
    *out = NULL;
    if (!c)
        return PS_ERR_NOMEM;
    InitializeConditionVariable(&c->cv);
    *out = c;
    return PS_OK;
}

void ps_plat_cond_destroy(ps_cond *c)
{
    free(c);
}

void ps_plat_cond_wait(ps_cond *c, ps_mutex *m)
{
    (void)SleepConditionVariableSRW(&c->cv, &m->lock, INFINITE, 0);
}

bool ps_plat_cond_wait_until(ps_cond *c, ps_mutex *m, int64_t deadline_ms)
{
    int64_t left = deadline_ms - ps_plat_mono_ms();
    if (left <= 0)
        return false;
    /* INFINITE is 0xFFFFFFFF: a longer wait is cut short, which callers allow
     * (wake-ups may be spurious). */
    if (left >= (int64_t)INFINITE)
        left = (int64_t)INFINITE - 1;
    return SleepConditionVariableSRW(&c->cv, &m->lock, (DWORD)left, 0) != 0;
}

void ps_plat_cond_signal(ps_cond *c)
{
    WakeConditionVariable(&c->cv);
}

void ps_plat_cond_broadcast(ps_cond *c)
{
    WakeAllConditionVariable(&c->cv);
}
