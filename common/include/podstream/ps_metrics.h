/* ps_metrics: the service's metrics as a Prometheus text file (text exposition
 * format 0.0.4), for node_exporter's textfile collector or anything else that reads
 * that format. Per device: events, duplicates, quarantined, dropped, failed,
 * reconnects, empty messages skipped, lag, newest event time, rate, state and bytes
 * received; for the service: up, build info with the version, start time, the time
 * of this write and the database size.
 *
 * The numbers are the live counters the engine's writer stores in the database
 * every second (ps_store_counters_list): the file says what `podstream status`
 * says, read the same way. */
#ifndef PS_METRICS_H
#define PS_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ps_error.h"
#include "ps_mem.h"
#include "ps_store.h"

/* Bytes a device received from POD since it started (ps_engine_bytes_get). */
typedef struct ps_metrics_bytes {
    long long device_id;
    uint64_t bytes;
} ps_metrics_bytes;

/* What the file says about the service itself. Borrowed. */
typedef struct ps_metrics_info {
    const char *version;              /* podstream_build_info{version=...} */
    int64_t start_us;                 /* when the service started (UTC) */
    bool up;                          /* false in the file written as the service stops */
    uint64_t database_bytes;          /* the database file's size */
    const ps_metrics_bytes *received; /* per running device; NULL: none */
    size_t nreceived;
} ps_metrics_info;

/* Appends the metrics of the `n` devices in `c` and of the service, as of `now_us`,
 * to `out` (caller-owned). PS_ERR_NOMEM. */
ps_err ps_metrics_format(const ps_device_counters *c, size_t n, const ps_metrics_info *info,
                         int64_t now_us, ps_buf *out);

/* Appends each output's metrics (podstream_output_*{output=,type=}: backlog,
 * delivered, dropped, split, truncated, rate, last delivery, state) to `out`;
 * states read "stopped" unless `up`. PS_ERR_NOMEM. */
ps_err ps_metrics_format_outputs(const ps_output_row *rows, size_t n, bool up, ps_buf *out);

/* The file the service keeps: it reads the counters through its own read-only
 * connection to the database at `db_path` and replaces `path` atomically (temporary
 * file beside it, then rename; mode 0644) so a reader never sees half a file.
 * Strings are copied. *out is destroyed by the caller. */
typedef struct ps_metrics_file ps_metrics_file;

ps_err ps_metrics_file_create(const char *path, const char *db_path, int64_t interval_ms,
                              int64_t start_us, ps_metrics_file **out, ps_errmsg *em);

/* Writes the file when `interval_ms` has passed since the last write (monotonic
 * clock), and always when `up` is false (the last write, at a stop). `received`
 * (borrowed, may be NULL) gives the bytes of the running devices. */
ps_err ps_metrics_file_tick(ps_metrics_file *m, bool up, const ps_metrics_bytes *received,
                            size_t nreceived, ps_errmsg *em);

/* Closes the connection and frees everything; the file stays. Accepts NULL. */
void ps_metrics_file_destroy(ps_metrics_file *m);

#endif
