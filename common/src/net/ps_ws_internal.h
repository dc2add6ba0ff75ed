/* ps_ws_internal: message reassembly without a connection, for fuzz_ws and tests.
 * Frames come from a function that behaves like curl_ws_recv instead of libcurl. */
#ifndef PS_WS_INTERNAL_H
#define PS_WS_INTERNAL_H

#include <curl/curl.h>
#include <stddef.h>

#include "net/ps_ws.h"

/* Called where ps_ws_recv would call curl_ws_recv(curl, buf, len, got, meta). */
typedef CURLcode (*ps_ws_recv_fn)(void *ctx, void *buf, size_t len, size_t *got,
                                  const struct curl_ws_frame **meta);

/* A connection (caller destroys) that reads its frames from fn(ctx, ...) and has
 * no socket: ps_ws_recv with timeout 0 returns PS_ERR_AGAIN when fn does. Pings
 * and close frames cannot be sent on it. NULL when out of memory. */
ps_ws *ps_ws_create_detached(size_t max_message, ps_ws_recv_fn fn, void *ctx);

#endif
