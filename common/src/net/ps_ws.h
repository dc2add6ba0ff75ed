/* ps_ws: one WebSocket client connection over libcurl's WebSocket API.
 *
 * Assembles whole messages out of frames and fragments (text or binary), enforces
 * a maximum message size without losing sync with the stream, answers pings
 * (libcurl's automatic pong), sends pings on request and reports close codes.
 * TLS verification is always on. Not thread-safe: one thread owns a connection. */
#ifndef PS_WS_H
#define PS_WS_H

#include <stdbool.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "podstream/ps_error.h"

typedef struct ps_ws ps_ws;

typedef struct ps_ws_opts {
    const char *url;            /* ws:// or wss:// with query string */
    const char *bearer_token;   /* copied into the request header, never logged */
    const char *ca_file;        /* NULL: system CA store */
    const char *proxy;          /* NULL: none (libcurl's *_proxy variables still apply) */
    const char *proxy_username; /* NULL: none */
    const char *proxy_password; /* NULL: none */
    long connect_timeout_ms;    /* TCP + TLS connect */
    long handshake_timeout_ms;  /* whole connect + upgrade */
    size_t max_message;         /* larger messages are cut and flagged oversize */
    const atomic_int *abort;    /* connect gives up soon after *abort becomes non-zero */
} ps_ws_opts;

typedef struct ps_ws_msg {
    char *data;       /* owned by the caller after a successful recv; free() it */
    size_t len;       /* bytes in data (for an oversize message: the kept prefix) */
    size_t total_len; /* the real size of the message */
    bool binary;      /* the message arrived in binary frames */
    bool oversize;    /* total_len > max_message: data holds only a prefix */
} ps_ws_msg;

/* Connects and upgrades. On success *out is a new connection (caller destroys).
 * On failure *http_status holds the HTTP status of a refused upgrade (400, 401,
 * 404, 405, 409, ...) or 0 when none arrived (DNS, TCP, TLS, timeout), and `em`
 * says why in words fit for a log line (no token). */
ps_err ps_ws_connect(const ps_ws_opts *opts, ps_ws **out, long *http_status, ps_errmsg *em);

/* Waits up to timeout_ms for one complete message.
 * PS_OK: *msg filled (caller frees msg->data).
 * PS_ERR_AGAIN: nothing complete in time (a partial message is kept for the next call).
 * PS_ERR_CLOSED: the server sent a close frame; ps_ws_close_code() has its code.
 * PS_ERR_NET: the connection broke (reset, TLS error, EOF without close frame). */
ps_err ps_ws_recv(ps_ws *ws, int timeout_ms, ps_ws_msg *msg, ps_errmsg *em);

/* Sends a ping. PS_ERR_NET when the connection is broken. */
ps_err ps_ws_ping(ps_ws *ws, ps_errmsg *em);

/* Monotonic ms of the last frame of any kind (data, ping, pong, close) received. */
int64_t ps_ws_last_activity_ms(const ps_ws *ws);

/* Close code the server sent (1000, 1011, ...), 1005 when it sent none, 1006
 * when the connection ended without a close frame. */
int ps_ws_close_code(const ps_ws *ws);

/* Sends a close frame with `code` (best effort) and frees everything. Accepts NULL. */
void ps_ws_destroy(ps_ws *ws, int code);

/* Checks once per process that the libcurl in use speaks wss. */
ps_err ps_ws_global_init(ps_errmsg *em);

#endif
