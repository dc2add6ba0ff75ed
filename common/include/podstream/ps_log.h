/* ps_log: leveled, thread-safe log lines tagged with the device they concern.
 *
 * Lines go to stderr by default (journald picks them up there). When the stream is
 * the journal (JOURNAL_STREAM names its device and inode) lines carry <N> syslog
 * priority prefixes instead of timestamps. A Windows service, which has neither,
 * also writes a rotating file (ps_log_open_file) and sends its key records to the
 * event log (ps_log_ev). Never pass a token or key to these functions: messages
 * name fields, not values. */
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

/* The records an administrator looks for first. On Windows, under the service
 * control manager, they also go to the Application event log (source podstream,
 * the event id is this number); elsewhere they are ordinary lines. */
typedef enum ps_log_event {
    PS_LOG_EV_NONE = 0,         /* an ordinary line */
    PS_LOG_EV_START = 1,        /* the service started its devices */
    PS_LOG_EV_STOP = 2,         /* the service stopped (cleanly or not) */
    PS_LOG_EV_RELOAD = 3,       /* a reload was applied or rejected */
    PS_LOG_EV_CONFIG = 4,       /* the configuration is invalid: the service cannot start */
    PS_LOG_EV_UNAUTHORISED = 5, /* a device's token was refused (HTTP 401) */
    PS_LOG_EV_FATAL = 6         /* any other reason the service cannot start or go on */
} ps_log_event;

/* ps_log for one of those records: the same line, and the event log's copy of it
 * (ps_plat_eventlog) when the level passes the filter. */
void ps_log_ev(ps_log_event ev, ps_log_level level, long long device_id, const char *fmt, ...)
    PS_PRINTF(4, 5);

/* Also writes every line to the file `path` (created when missing), starting a new
 * one when it would pass max_bytes: `path` becomes `path.1`, `path.1` becomes
 * `path.2` and so on, and the oldest beyond `keep` is deleted. For a service with no
 * terminal or journal (ps_plat_svc_log_dir). Call before other threads log. */
ps_err ps_log_open_file(const char *path, long max_bytes, int keep, ps_errmsg *em);
/* Stops writing to the file; after the last thread that logs has ended. */
void ps_log_close_file(void);

#define PS_LOG_E(dev, ...) ps_log(PS_LOG_ERROR, (dev), __VA_ARGS__)
#define PS_LOG_W(dev, ...) ps_log(PS_LOG_WARN, (dev), __VA_ARGS__)
#define PS_LOG_I(dev, ...) ps_log(PS_LOG_INFO, (dev), __VA_ARGS__)
#define PS_LOG_D(dev, ...) ps_log(PS_LOG_DEBUG, (dev), __VA_ARGS__)

#endif
