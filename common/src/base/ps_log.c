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

void ps_log(ps_log_level level, long long device_id, const char *fmt, ...)
{
    /* syslog priorities for journald's <N> prefix */
    static const int prio[] = {3, 4, 6, 7};
    char msg[2048], prefix[96], dev[40] = "";
    FILE *out = atomic_load(&log_stream);
    va_list ap;

    if ((int)level > atomic_load(&log_level))
        return;
    if (!out)
        out = stderr;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (device_id >= 0)
        snprintf(dev, sizeof dev, "[device %lld] ", device_id);

    /* JOURNAL_STREAM alone is not enough: a child of the service inherits it with
     * stderr redirected to a file or a pipe, where <N> prefixes would be noise. */
    if (ps_plat_stream_is_journal(out)) {
        snprintf(prefix, sizeof prefix, "<%d>", prio[level]);
    } else {
        int64_t us = ps_plat_now_us();
        int64_t secs = us / 1000000;
        struct tm tm;
        char when[32];
        if (!ps_plat_gmtime(secs, &tm))
            memset(&tm, 0, sizeof tm);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(prefix, sizeof prefix, "%s.%03dZ %-5s ", when, (int)(us / 1000 % 1000),
                 ps_log_level_name(level));
    }
    /* One fprintf per line keeps lines from different threads whole. */
    fprintf(out, "%s%s%s\n", prefix, dev, msg);
    fflush(out);
}
