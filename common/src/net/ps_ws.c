#include "net/ps_ws.h"
#include "net/ps_ws_internal.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_platform.h"

/* Bytes of an oversize message kept for the quarantine table. */
#define OVERSIZE_PREFIX (64u * 1024u)
/* Room for a control frame (at most 125 bytes) written at the end of the buffer. */
#define CONTROL_ROOM 128u
/* SO_RCVBUF of a plain ws:// socket (Linux doubles it for its bookkeeping): below
 * libcurl's 64 KiB read chunk, see plain_sockopt_cb. */
#define PS_WS_PLAIN_RCVBUF (16 * 1024)

struct ps_ws {
    CURL *curl;
    curl_socket_t sock;
    size_t max_message;
    int64_t last_activity_ms;
    int close_code;
    /* message being assembled */
    char *buf;
    size_t len, cap;
    size_t total;     /* bytes of the message seen so far, kept or not */
    size_t frame_end; /* len at which the frame being read ends, when known; else 0 */
    bool in_message;
    bool binary;
    bool oversize;
    char errbuf[CURL_ERROR_SIZE];
    /* Detached (fuzz_ws): where frames come from instead of curl_ws_recv. */
    ps_ws_recv_fn recv_fn;
    void *recv_ctx;
};

ps_err ps_ws_global_init(ps_errmsg *em)
{
    const curl_version_info_data *vi;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return ps_errmsg_set(em, PS_ERR_INTERNAL, "libcurl failed to initialise");
    vi = curl_version_info(CURLVERSION_NOW);
    for (const char *const *p = vi->protocols; p && *p; p++)
        if (strcmp(*p, "wss") == 0)
            return PS_OK;
    return ps_errmsg_set(em, PS_ERR_UNSUPPORTED,
                         "libcurl %s has no wss support; install libcurl >= 8.12 built with "
                         "WebSockets (on Debian 12: from bookworm-backports)",
                         vi->version);
}

/* Lets a stop request interrupt a connect that would otherwise wait for its timeout. */
static int progress_cb(void *clientp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    const atomic_int *abort_flag = clientp;
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return abort_flag && atomic_load(abort_flag) ? 1 : 0;
}

/* Caps the kernel's receive buffer of a plain ws:// socket. libcurl (8.14) refills
 * its empty WebSocket buffer with a loop that keeps reading 64 KiB chunks for as
 * long as each read fills one, and its buffer has no hard limit. Over TLS every read
 * is one record (at most 16 KiB), so the loop stops at once; on a plain socket with a
 * backlog the server refills the socket as fast as libcurl empties it, and one
 * curl_ws_recv read hundreds of MB. A socket that never holds 64 KiB makes every read
 * short. The cost is a receive window of about 32 KiB: ample on loopback and a LAN,
 * about 500 events/s at 50 ms of round trip (wss has no such limit). Set before the
 * connect, so the window scale agrees. curl.h declares setsockopt on both systems. */
static int plain_sockopt_cb(void *clientp, curl_socket_t fd, curlsocktype purpose)
{
    int bytes = PS_WS_PLAIN_RCVBUF;
    (void)clientp;
    if (purpose == CURLSOCKTYPE_IPCXN)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, (const void *)&bytes, sizeof bytes);
    return CURL_SOCKOPT_OK;
}

static bool is_plain_ws(const char *url)
{
    return strncasecmp(url, "ws://", 5) == 0;
}

/* Grows the buffer to at least `need` bytes: by doubling, or to exactly `need`
 * when that is the final size (a large frame then costs its size, not the next
 * power of two). Not ps_buf: libcurl writes straight into the room and the
 * exact-size mode has no ps_buf counterpart. */
static bool reserve(ps_ws *ws, size_t need, bool exact)
{
    size_t ncap;
    char *n;
    if (need <= ws->cap)
        return true;
    ncap = ws->cap ? ws->cap : 16384;
    while (ncap < need)
        ncap *= 2;
    if (exact)
        ncap = need;
    n = realloc(ws->buf, ncap);
    if (!n)
        return false;
    ws->buf = n;
    ws->cap = ncap;
    return true;
}

/* Scrubs the Authorization header copy we own before the list is freed. */
static void free_headers(struct curl_slist *h)
{
    for (struct curl_slist *p = h; p; p = p->next)
        if (p->data)
            ps_plat_wipe(p->data, strlen(p->data));
    curl_slist_free_all(h);
}

/* Every option of the upgrade request: TLS always verified, timeouts, the proxy
 * tunnel and the abort hook. */
static void set_options(ps_ws *ws, const ps_ws_opts *o, struct curl_slist *headers)
{
    curl_easy_setopt(ws->curl, CURLOPT_URL, o->url);
    curl_easy_setopt(ws->curl, CURLOPT_CONNECT_ONLY, 2L); /* 2: WebSocket upgrade, then hand over */
    curl_easy_setopt(ws->curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(ws->curl, CURLOPT_ERRORBUFFER, ws->errbuf);
    curl_easy_setopt(ws->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(ws->curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(ws->curl, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(ws->curl, CURLOPT_PROTOCOLS_STR, "ws,wss");
    /* "podstream/1.2.0 (Linux 6.1.0-27-amd64)": lets Proofpoint support tell clients
     * and their platforms apart (peers' connectors send theirs). libcurl copies it. */
    char ua[160], os[120];
    ps_plat_os_name(os, sizeof os);
    snprintf(ua, sizeof ua, "podstream/%s (%s)", PS_VERSION, os);
    curl_easy_setopt(ws->curl, CURLOPT_USERAGENT, ua);
    curl_easy_setopt(ws->curl, CURLOPT_CONNECTTIMEOUT_MS,
                     o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 15000L);
    curl_easy_setopt(ws->curl, CURLOPT_TIMEOUT_MS,
                     o->handshake_timeout_ms > 0 ? o->handshake_timeout_ms : 30000L);
    curl_easy_setopt(ws->curl, CURLOPT_TCP_KEEPALIVE, 1L);
    if (is_plain_ws(o->url))
        curl_easy_setopt(ws->curl, CURLOPT_SOCKOPTFUNCTION, plain_sockopt_cb);
    if (o->abort) {
        curl_easy_setopt(ws->curl, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(ws->curl, CURLOPT_XFERINFOFUNCTION, progress_cb);
        curl_easy_setopt(ws->curl, CURLOPT_XFERINFODATA, (void *)o->abort);
    }
    if (o->ca_file)
        curl_easy_setopt(ws->curl, CURLOPT_CAINFO, o->ca_file);
    if (o->proxy) {
        curl_easy_setopt(ws->curl, CURLOPT_PROXY, o->proxy);
        /* A WebSocket must be tunnelled: a proxy cannot forward the upgrade itself. */
        curl_easy_setopt(ws->curl, CURLOPT_HTTPPROXYTUNNEL, 1L);
        if (o->ca_file)
            curl_easy_setopt(ws->curl, CURLOPT_PROXY_CAINFO, o->ca_file);
        if (o->proxy_username)
            curl_easy_setopt(ws->curl, CURLOPT_PROXYUSERNAME, o->proxy_username);
        if (o->proxy_password)
            curl_easy_setopt(ws->curl, CURLOPT_PROXYPASSWORD, o->proxy_password);
    }
}

/* Why curl_easy_perform failed, in words fit for a log line; *http_status gets the
 * status of a refused upgrade. */
static ps_err perform_error(ps_ws *ws, CURLcode rc, long *http_status, ps_errmsg *em)
{
    long code = 0, proxy_code = 0;
    curl_easy_getinfo(ws->curl, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(ws->curl, CURLINFO_HTTP_CONNECTCODE, &proxy_code);
    if (proxy_code >= 300)
        return ps_errmsg_set(em, PS_ERR_NET, "proxy refused the tunnel with HTTP %ld", proxy_code);
    if (code >= 300) {
        *http_status = code;
        return ps_errmsg_set(em, PS_ERR_NET, "server refused the WebSocket upgrade with HTTP %ld",
                             code);
    }
    if (rc == CURLE_ABORTED_BY_CALLBACK)
        return ps_errmsg_set(em, PS_ERR_CLOSED, "connect abandoned: stopping");
    return ps_errmsg_set(em, rc == CURLE_OPERATION_TIMEDOUT ? PS_ERR_TIMEOUT : PS_ERR_NET, "%s",
                         ws->errbuf[0] ? ws->errbuf : curl_easy_strerror(rc));
}

ps_err ps_ws_connect(const ps_ws_opts *o, ps_ws **out, long *http_status, ps_errmsg *em)
{
    ps_err err = PS_OK;
    ps_ws *ws = NULL;
    struct curl_slist *headers = NULL;
    char *auth = NULL;
    size_t auth_len = 0;
    CURLcode rc;

    *out = NULL;
    *http_status = 0;
    ws = calloc(1, sizeof *ws);
    if (!ws)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    ws->max_message = o->max_message ? o->max_message : (64u << 20);
    ws->close_code = 1006;
    ws->curl = curl_easy_init();
    if (!ws->curl) {
        err = ps_errmsg_set(em, PS_ERR_NOMEM, "cannot create a libcurl handle");
        goto out;
    }
    auth_len = strlen(o->bearer_token) + sizeof "Authorization: Bearer ";
    auth = malloc(auth_len);
    if (!auth) {
        err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
        goto out;
    }
    snprintf(auth, auth_len, "Authorization: Bearer %s", o->bearer_token);
    headers = curl_slist_append(NULL, auth);
    if (!headers) {
        err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
        goto out;
    }

    set_options(ws, o, headers);
    rc = curl_easy_perform(ws->curl);
    if (rc != CURLE_OK) {
        err = perform_error(ws, rc, http_status, em);
        goto out;
    }
    /* The transfer timeout must not cut the long-lived session that follows. */
    curl_easy_setopt(ws->curl, CURLOPT_TIMEOUT_MS, 0L);
    if (curl_easy_getinfo(ws->curl, CURLINFO_ACTIVESOCKET, &ws->sock) != CURLE_OK ||
        ws->sock == CURL_SOCKET_BAD) {
        err = ps_errmsg_set(em, PS_ERR_NET, "no socket after the WebSocket upgrade");
        goto out;
    }
    curl_easy_getinfo(ws->curl, CURLINFO_RESPONSE_CODE, http_status);
    ws->last_activity_ms = ps_plat_mono_ms();
out:
    if (auth) {
        ps_plat_wipe(auth, auth_len);
        free(auth);
    }
    /* libcurl keeps its own copy of the headers only during perform; after it we may
     * free ours. */
    if (ws && ws->curl)
        curl_easy_setopt(ws->curl, CURLOPT_HTTPHEADER, NULL);
    free_headers(headers);
    if (err != PS_OK) {
        ps_ws_destroy(ws, 0);
        return err;
    }
    *out = ws;
    return PS_OK;
}

ps_ws *ps_ws_create_detached(size_t max_message, ps_ws_recv_fn fn, void *ctx)
{
    ps_ws *ws = calloc(1, sizeof *ws);
    if (!ws)
        return NULL;
    ws->max_message = max_message;
    ws->close_code = 1006;
    ws->sock = CURL_SOCKET_BAD;
    ws->recv_fn = fn;
    ws->recv_ctx = ctx;
    return ws;
}

static void reset_message(ps_ws *ws)
{
    ws->len = 0;
    ws->total = 0;
    ws->frame_end = 0;
    ws->in_message = false;
    ws->binary = false;
    ws->oversize = false;
}

/* Hands the assembled message to the caller in a buffer of its own size. The
 * receive buffer stays for the next message: queued messages must not each pin a
 * buffer sized for reading, or a backlog of small events costs ten times its bytes.
 * A huge message's buffer is handed over instead, so it is never held twice. */
static ps_err deliver(ps_ws *ws, ps_ws_msg *msg, ps_errmsg *em)
{
    char *data;
    if (ws->cap > (1u << 20)) {
        /* Not ps_mem: a shrink to the exact size, in place or moved. */
        data = realloc(ws->buf, ws->len + 1);
        if (!data)
            data = ws->buf;
        ws->buf = NULL;
        ws->cap = 0;
    } else {
        data = malloc(ws->len + 1);
        if (!data)
            return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
        memcpy(data, ws->buf, ws->len);
    }
    data[ws->len] = '\0';
    msg->data = data;
    msg->len = ws->len;
    msg->total_len = ws->total;
    msg->binary = ws->binary;
    msg->oversize = ws->oversize;
    reset_message(ws);
    return PS_OK;
}

/* Where the next read goes. Data of an oversize message is kept only up to the
 * prefix; the rest is read into scratch so the stream stays in sync. False when
 * out of memory. */
static bool read_target(ps_ws *ws, char *scratch, size_t scratch_len, char **dst, size_t *room)
{
    size_t want = ws->len + CONTROL_ROOM + 16384;
    if (ws->oversize && ws->len >= OVERSIZE_PREFIX) {
        *dst = scratch;
        *room = scratch_len;
        return true;
    }
    /* The rest of a frame of known size is all the room it needs. */
    if (ws->frame_end > ws->len && ws->frame_end + CONTROL_ROOM + 1 < want)
        want = ws->frame_end + CONTROL_ROOM + 1;
    if (!reserve(ws, want, false))
        return false;
    *dst = ws->buf + ws->len;
    *room = ws->cap - ws->len - 1;
    if (ws->oversize && *room > OVERSIZE_PREFIX - ws->len)
        *room = OVERSIZE_PREFIX - ws->len;
    return true;
}

/* Accounts `got` bytes of a data frame read into the message (kept == false: into
 * scratch). False when out of memory. */
static bool add_data(ps_ws *ws, const struct curl_ws_frame *meta, size_t got, bool kept)
{
    if (!ws->in_message) {
        ws->in_message = true;
        ws->binary = (meta->flags & CURLWS_BINARY) != 0;
    }
    ws->total += got;
    if (ws->oversize) {
        if (kept)
            ws->len += got; /* still filling the kept prefix */
    } else {
        size_t expect = ws->len + got + (size_t)meta->bytesleft;
        if (expect > ws->max_message) {
            /* Keep a prefix for the quarantine table, discard the rest. */
            ws->oversize = true;
            ws->len += got;
            if (ws->len > OVERSIZE_PREFIX)
                ws->len = OVERSIZE_PREFIX;
        } else {
            ws->len += got;
            ws->frame_end = meta->bytesleft > 0 ? expect : 0;
            if (meta->bytesleft > 0 && !reserve(ws, expect + CONTROL_ROOM + 1, true))
                return false;
        }
    }
    return true;
}

ps_err ps_ws_recv(ps_ws *ws, int timeout_ms, ps_ws_msg *msg, ps_errmsg *em)
{
    int64_t deadline = ps_plat_mono_ms() + timeout_ms;
    char scratch[16384];

    memset(msg, 0, sizeof *msg);
    for (;;) {
        const struct curl_ws_frame *meta = NULL;
        size_t got = 0;
        char *dst;
        size_t room;
        CURLcode rc;

        if (!read_target(ws, scratch, sizeof scratch, &dst, &room))
            return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
        rc = ws->recv_fn ? ws->recv_fn(ws->recv_ctx, dst, room, &got, &meta)
                         : curl_ws_recv(ws->curl, dst, room, &got, &meta);
        if (rc == CURLE_AGAIN) {
            int64_t left = deadline - ps_plat_mono_ms();
            if (left <= 0)
                return PS_ERR_AGAIN;
            if (ps_plat_socket_wait(ws->sock, true, false, (int)left) == PS_ERR_AGAIN)
                return PS_ERR_AGAIN;
            continue;
        }
        if (rc == CURLE_GOT_NOTHING) {
            ws->close_code = 1006;
            return ps_errmsg_set(em, PS_ERR_NET, "connection closed without a close frame (1006)");
        }
        if (rc != CURLE_OK) {
            ws->close_code = 1006;
            return ps_errmsg_set(em, PS_ERR_NET, "connection lost: %s (1006)",
                                 curl_easy_strerror(rc));
        }
        ws->last_activity_ms = ps_plat_mono_ms();
        if (!meta)
            continue;
        if (meta->flags & CURLWS_CLOSE) {
            const unsigned char *p = (const unsigned char *)dst;
            ws->close_code = got >= 2 ? (p[0] << 8 | p[1]) : 1005;
            return ps_errmsg_set(em, PS_ERR_CLOSED, "server closed the connection with code %d",
                                 ws->close_code);
        }
        if (meta->flags & (CURLWS_PING | CURLWS_PONG))
            continue; /* libcurl answers pings itself; both count as activity */
        if (!(meta->flags & (CURLWS_TEXT | CURLWS_BINARY)))
            continue;

        if (!add_data(ws, meta, got, dst != scratch))
            return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
        if (meta->bytesleft == 0 && !(meta->flags & CURLWS_CONT)) {
            if (!ws->buf && !reserve(ws, 1, false))
                return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
            return deliver(ws, msg, em);
        }
    }
}

ps_err ps_ws_ping(ps_ws *ws, ps_errmsg *em)
{
    size_t sent = 0;
    CURLcode rc = curl_ws_send(ws->curl, "", 0, &sent, 0, CURLWS_PING);
    if (rc != CURLE_OK && rc != CURLE_AGAIN)
        return ps_errmsg_set(em, PS_ERR_NET, "cannot send ping: %s", curl_easy_strerror(rc));
    return PS_OK;
}

int64_t ps_ws_last_activity_ms(const ps_ws *ws)
{
    return ws->last_activity_ms;
}

int ps_ws_close_code(const ps_ws *ws)
{
    return ws->close_code;
}

void ps_ws_destroy(ps_ws *ws, int code)
{
    if (!ws)
        return;
    if (ws->curl && code > 0 && ws->sock != CURL_SOCKET_BAD && ws->sock != 0) {
        unsigned char payload[2] = {(unsigned char)(code >> 8), (unsigned char)code};
        size_t sent = 0;
        (void)curl_ws_send(ws->curl, payload, sizeof payload, &sent, 0, CURLWS_CLOSE);
    }
    if (ws->curl)
        curl_easy_cleanup(ws->curl);
    free(ws->buf);
    free(ws);
}
