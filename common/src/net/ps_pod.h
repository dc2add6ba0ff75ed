/* ps_pod: what is particular to Proofpoint's POD Log API, kept out of the engine:
 * the stream URL and its query, the time format of sinceTime/toTime, what an HTTP
 * status of a refused upgrade means, and how the archive rounds its windows.
 * Pure functions: no I/O, no state, thread-safe. */
#ifndef PS_POD_H
#define PS_POD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PS_POD_US_PER_HOUR (INT64_C(3600) * 1000000)
/* The archive answers at most this far back. */
#define PS_POD_ARCHIVE_REACH_US (30 * 24 * PS_POD_US_PER_HOUR)
/* Room for a formatted time ("2025-01-02T03:00:00.000-0000" and its NUL). */
#define PS_POD_TIME_LEN 40

/* What to do when the server refused the WebSocket upgrade with a status. */
typedef enum ps_pod_action {
    PS_POD_BACKOFF,      /* anything else, or no status (network, TLS, 5xx): back off */
    PS_POD_CONFLICT,     /* 409: the token has a session already; back off */
    PS_POD_UNAUTHORISED, /* 401: token, cluster or licence; retry slowly */
    PS_POD_FATAL,        /* 400, 404, 405: retrying cannot help until the config changes */
} ps_pod_action;

ps_pod_action ps_pod_status_action(long http_status);

/* For a PS_POD_FATAL status, what the admin should look at, as a static string;
 * NULL for the others. */
const char *ps_pod_status_hint(long http_status);

/* "2025-01-02T03:00:00.000-0000" (UTC, whole seconds): the form POD's peers send,
 * into buf (PS_POD_TIME_LEN bytes are enough). */
void ps_pod_format_time(int64_t us, char *buf, size_t len);

/* endpoint?cid=..&type=..[&sinceTime=..&toTime=..] with the values percent-encoded
 * ('&' instead of '?' when the endpoint has a query already). The time parameters
 * are added when since_us is not 0. A new string the caller frees; NULL when out
 * of memory. */
char *ps_pod_stream_url(const char *endpoint, const char *cluster, const char *type,
                        int64_t since_us, int64_t to_us);

/* The start of the hour that holds us, and the first hour boundary at or after it. */
int64_t ps_pod_hour_floor(int64_t us);
int64_t ps_pod_hour_ceil(int64_t us);

/* The sinceTime/toTime to ask for events with ts in [from_us, to_us] at now_us:
 * the archive rounds to whole hours (start down, end up), reaches back
 * PS_POD_ARCHIVE_REACH_US, and needs toTime after sinceTime. Returns false when
 * the start had to be moved up to the archive's reach (the oldest events cannot be
 * fetched). */
bool ps_pod_archive_window(int64_t from_us, int64_t to_us, int64_t now_us, int64_t *since_us,
                           int64_t *until_us);

#endif
