/* ps_log: leveled, thread-safe log lines tagged with the device they concern.
 *
 * Lines go to stderr by default (journald and the Windows event bridge pick them up
 * there). When the stream is the journal (JOURNAL_STREAM names its device and
 * inode) lines carry <N> syslog priority prefixes instead of timestamps. Never pass
 * a token or key to these functions: messages name fields, not values. */
#ifndef PS_LOG_H
#define PS_LOG_H

#include <stdio.h>

#include "ps_compiler.h"
#include "ps_error.h"

typedef enum ps_log_level {
    PS_LOG_ERROR = 0,
    PS_LOG_WARN = 1,
    PS_LOG_INFO = 2,
    PS_LOG_DEBUG = 3
} ps_log_level;

#define PS_LOG_NO_DEVICE (-1LL)

void ps_log_set_level(ps_log_level level);
ps_log_level ps_log_get_level(void);

/* "error", "warn"/"warning", "info", "debug" -> level. PS_ERR_INVALID otherwise. */
ps_err ps_log_level_parse(const char *name, ps_log_level *out);
const char *ps_log_level_name(ps_log_level level);

/* Redirects output (NULL restores stderr). The stream stays owned by the caller. */
void ps_log_set_stream(FILE *stream);

/* Writes one line. `device_id` < 0 means the line is not about one device. */
void ps_log(ps_log_level level, long long device_id, const char *fmt, ...) PS_PRINTF(3, 4);

#define PS_LOG_E(dev, ...) ps_log(PS_LOG_ERROR, (dev), __VA_ARGS__)
#define PS_LOG_W(dev, ...) ps_log(PS_LOG_WARN, (dev), __VA_ARGS__)
#define PS_LOG_I(dev, ...) ps_log(PS_LOG_INFO, (dev), __VA_ARGS__)
#define PS_LOG_D(dev, ...) ps_log(PS_LOG_DEBUG, (dev), __VA_ARGS__)

#endif
