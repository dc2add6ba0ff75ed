#include "podstream/ps_log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "podstream/ps_platform.h"

static atomic_int log_level = PS_LOG_INFO;
static FILE *_Atomic log_stream;
static atomic_bool log_file_on;

void ps_log_set_level(ps_log_level level)
{
    atomic_store(&log_level, (int)level);
}

ps_log_level ps_log_get_level(void)
{
    return (ps_log_level)atomic_load(&log_level);
}

ps_err ps_log_level_parse(const char *name, ps_log_level *out)
{
    static const struct {
        const char *name;
        ps_log_level level;
    } map[] = {{"error", PS_LOG_ERROR},
               {"warn", PS_LOG_WARN},
               {"warning", PS_LOG_WARN},
               {"info", PS_LOG_INFO},
               {"debug", PS_LOG_DEBUG}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (strcasecmp(name, map[i].name) == 0) {
            *out = map[i].level;
            return PS_OK;
        }
    }
    return PS_ERR_INVALID;
}

const char *ps_log_level_name(ps_log_level level)
{
    switch (level) {
    case PS_LOG_ERROR:
        return "error";
    case PS_LOG_WARN:
        return "warn";
    case PS_LOG_INFO:
        return "info";
    case PS_LOG_DEBUG:
        return "debug";
    }
    return "?";
}

void ps_log_set_stream(FILE *stream)
{
    atomic_store(&log_stream, stream);
}

/* The rotating copy of the log (ps_log_open_file). */
static struct {
    ps_mutex *mu;
    ps_file *f;
    char *path;
    long max_bytes, size;
    int keep;
} log_file;

/* The log file is readable by the admins' group, as the database is. Opened through
 * the platform layer: its path is UTF-8, which C's fopen takes as ANSI on Windows. */
#define LOG_FILE_MODE 0640

static ps_file *log_file_open(const char *path)
{
    ps_file *f = NULL;
    return ps_plat_file_open_append(path, LOG_FILE_MODE, &f, NULL) == PS_OK ? f : NULL;
}

/* "<path>.<n>" into buf; false when it does not fit. */
static bool numbered(char *buf, size_t cap, const char *path, int n)
{
    int len = snprintf(buf, cap, "%s.%d", path, n);
    return len > 0 && (size_t)len < cap;
}

/* Shifts path.1.. up by one, dropping the oldest, and starts a new file. Each
 * target is removed first: a rename that replaces is not the same on both systems. */
static void log_file_rotate(void)
{
    char from[1024], to[1024];

    ps_plat_file_close(log_file.f);
    log_file.f = NULL;
    for (int i = log_file.keep; i >= 1; i--) {
        if (!numbered(to, sizeof to, log_file.path, i))
            break;
        (void)ps_plat_remove(to, NULL);
        if (i == 1)
            snprintf(from, sizeof from, "%s", log_file.path);
        else if (!numbered(from, sizeof from, log_file.path, i - 1))
            break;
        (void)ps_plat_rename_new(from, to, NULL);
    }
    log_file.f = log_file_open(log_file.path);
    log_file.size = 0;
}

static void log_file_write(const char *line, size_t len)
{
    ps_iovec iov = {line, len};
    ps_plat_mutex_lock(log_file.mu);
    if (log_file.f && log_file.size > 0 && log_file.size + (long)len > log_file.max_bytes)
        log_file_rotate();
    if (log_file.f && ps_plat_file_writev(log_file.f, &iov, 1, NULL) == PS_OK)
        log_file.size += (long)len;
    ps_plat_mutex_unlock(log_file.mu);
}

ps_err ps_log_open_file(const char *path, long max_bytes, int keep, ps_errmsg *em)
{
    ps_err err = PS_OK;
    uint64_t size = 0;

    ps_log_close_file();
    if (max_bytes <= 0 || keep < 1)
        return ps_errmsg_set(em, PS_ERR_INVALID, "log file %s: size and count must be positive",
                             path);
    err = ps_plat_mutex_create(&log_file.mu);
    if (err != PS_OK)
        return ps_errmsg_set(em, err, "log file %s: %s", path, ps_strerror(err));
    log_file.path = strdup(path);
    log_file.f = log_file.path ? log_file_open(path) : NULL;
    if (!log_file.f) {
        err = ps_errmsg_set(em, log_file.path ? PS_ERR_IO : PS_ERR_NOMEM,
                            "cannot open the log file %s", path);
        goto fail;
    }
    (void)ps_plat_file_size(path, &size);
    log_file.size = (long)size;
    log_file.max_bytes = max_bytes;
    log_file.keep = keep;
    atomic_store(&log_file_on, true);
    return PS_OK;
fail:
    ps_log_close_file();
    return err;
}

void ps_log_close_file(void)
{
    atomic_store(&log_file_on, false);
    ps_plat_file_close(log_file.f);
    free(log_file.path);
    ps_plat_mutex_destroy(log_file.mu);
    memset(&log_file, 0, sizeof log_file);
}

/* Formats one line and writes it to the stream, the file and the event log. */
static void log_vline(ps_log_event ev, ps_log_level level, long long device_id, const char *fmt,
                      va_list ap) PS_PRINTF(4, 0);
static void log_vline(ps_log_event ev, ps_log_level level, long long device_id, const char *fmt,
                      va_list ap)
{
    /* syslog priorities for journald's <N> prefix */
    static const int prio[] = {3, 4, 6, 7};
    char msg[2048], stamp[96], jprefix[8] = "", line[2200];
    FILE *out = atomic_load(&log_stream);
    int64_t us = ps_plat_now_us();
    struct tm tm;
    char when[32];
    int n;

    if (!out)
        out = stderr;
    n = device_id >= 0 ? snprintf(msg, sizeof msg, "[device %lld] ", device_id) : 0;
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);

    if (!ps_plat_gmtime(us / 1000000, &tm))
        memset(&tm, 0, sizeof tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(stamp, sizeof stamp, "%s.%03dZ %-5s ", when, (int)(us / 1000 % 1000),
             ps_log_level_name(level));
    /* JOURNAL_STREAM alone is not enough: a child of the service inherits it with
     * stderr redirected to a file or a pipe, where <N> prefixes would be noise. */
    if (ps_plat_stream_is_journal(out))
        snprintf(jprefix, sizeof jprefix, "<%d>", prio[level]);
    /* One fprintf per line keeps lines from different threads whole. */
    fprintf(out, "%s%s\n", jprefix[0] ? jprefix : stamp, msg);
    fflush(out);
    if (atomic_load(&log_file_on)) {
        n = snprintf(line, sizeof line, "%s%s\n", stamp, msg);
        if (n > 0)
            log_file_write(line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    }
    if (ev != PS_LOG_EV_NONE)
        (void)ps_plat_eventlog((int)ev, (int)level, msg);
}

void ps_log(ps_log_level level, long long device_id, const char *fmt, ...)
{
    va_list ap;

    if ((int)level > atomic_load(&log_level))
        return;
    va_start(ap, fmt);
    log_vline(PS_LOG_EV_NONE, level, device_id, fmt, ap);
    va_end(ap);
}

void ps_log_ev(ps_log_event ev, ps_log_level level, long long device_id, const char *fmt, ...)
{
    va_list ap;

    if ((int)level > atomic_load(&log_level))
        return;
    va_start(ap, fmt);
    log_vline(ev, level, device_id, fmt, ap);
    va_end(ap);
}
