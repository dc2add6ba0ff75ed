/* podsim_server: one epoll loop serving ws://, wss:// and the control endpoint.
 *
 * Single-threaded on purpose: sessions, positions, the simulated clock and the
 * counters are shared state that scenarios change at any moment, and one thread
 * makes every change atomic without locks. Throughput comes from batching: events
 * are templated into a per-connection buffer and written in large chunks. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ZLIB_CONST /* next_in is const: the event is only read */
#include <zlib.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "podsim.h"

#define OUT_HIGH             (256 * 1024) /* stop templating events beyond this backlog */
#define CLOSE_WAIT_MS        5000         /* how long a sent close frame waits for the echo */
#define HANDSHAKE_TIMEOUT_MS 30000        /* for TLS and the HTTP request */
#define MAX_CLIENT_FRAME     (1 << 20)    /* clients only send control frames */
#define PSIM_MAX_INPUT       (4 << 20)
#define HOUR_US              (3600 * PSIM_US_PER_S)

static volatile sig_atomic_t g_stop;
static int tag_ws;
static int tag_wss;
static int tag_ctl;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * PSIM_US_PER_S + ts.tv_nsec / 1000;
}

int64_t psim_mono_ms(void)
{
    return mono_us() / 1000;
}

int64_t psim_sim_now(const psim_server *s)
{
    return s->sim_base_us + (int64_t)((double)(mono_us() - s->mono_base_us) * s->speed);
}

void psim_clock_set(psim_server *s, int64_t sim_us, double speed)
{
    s->sim_base_us = sim_us;
    s->mono_base_us = mono_us();
    s->speed = speed;
}

void psim_log(const psim_server *s, int level, const char *fmt, ...)
{
    if (level > s->cfg->verbose) {
        return;
    }
    char ts[40];
    psim_format_utc(psim_sim_now(s), ts, sizeof ts);
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "podsim [%s]: %s\n", ts, msg);
}

static uint64_t mix64(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

psim_slot *psim_slot_of(psim_server *s, size_t token_idx, psim_type type)
{
    return &s->slots[token_idx * PSIM_TYPES + (size_t)type];
}

const psim_timeline *psim_timeline_of(const psim_server *s, size_t token_idx, psim_type type)
{
    return &s->tls[token_idx * PSIM_TYPES + (size_t)type];
}

const psim_timeline *psim_timeline_by_cluster(const psim_server *s, const char *cid, psim_type type)
{
    for (size_t t = 0; t < s->cfg->ntokens; t++) {
        if (strcmp(s->cfg->tokens[t].cluster, cid) == 0) {
            return psim_timeline_of(s, t, type);
        }
    }
    return NULL;
}

bool psim_token_matches(const psim_token *t, const char *value)
{
    size_t n = strlen(value);
    return strlen(t->value) == n && CRYPTO_memcmp(t->value, value, n) == 0;
}

/* ---- connection I/O ----------------------------------------------------------- */

/* >0: bytes read, 0: would block, -1: the peer is gone or the stream is broken. */
static long conn_read(psim_conn *c, void *buf, size_t n)
{
    if (c->ssl != NULL) {
        ERR_clear_error();
        int r = SSL_read(c->ssl, buf, (int)(n > INT_MAX ? INT_MAX : n));
        if (r > 0) {
            return r;
        }
        int e = SSL_get_error(c->ssl, r);
        return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
    }
    ssize_t r = read(c->fd, buf, n);
    if (r > 0) {
        return (long)r;
    }
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
        return 0;
    }
    return -1;
}

static long conn_write(psim_conn *c, const void *buf, size_t n)
{
    if (c->ssl != NULL) {
        ERR_clear_error();
        int r = SSL_write(c->ssl, buf, (int)(n > (1 << 20) ? (1 << 20) : n));
        if (r > 0) {
            return r;
        }
        int e = SSL_get_error(c->ssl, r);
        return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
    }
    ssize_t r = send(c->fd, buf, n, MSG_NOSIGNAL);
    if (r >= 0) {
        return (long)r;
    }
    return errno == EAGAIN || errno == EINTR ? 0 : -1;
}

void psim_conn_queue(psim_conn *c, const void *p, size_t n)
{
    if (!psim_buf_append(&c->out, p, n)) {
        /* Out of memory: the connection cannot continue meaningfully. */
        c->state = CS_DONE;
        return;
    }
    c->queued_total += n;
}

/* Queues the header of a frame whose n payload bytes the caller queues next; rsv1
 * marks the first frame of a compressed message. */
static void ws_header_rsv(psim_conn *c, unsigned opcode, bool fin, bool rsv1, size_t n)
{
    unsigned char h[10];
    size_t hl = 2;
    h[0] = (unsigned char)((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | (opcode & 0x0f));
    if (n < 126) {
        h[1] = (unsigned char)n;
    } else if (n < 65536) {
        h[1] = 126;
        h[2] = (unsigned char)(n >> 8);
        h[3] = (unsigned char)n;
        hl = 4;
    } else {
        h[1] = 127;
        for (int k = 0; k < 8; k++) {
            h[2 + k] = (unsigned char)((uint64_t)n >> (56 - 8 * k));
        }
        hl = 10;
    }
    if (!psim_buf_reserve(&c->out, hl + n)) {
        c->state = CS_DONE;
        return;
    }
    psim_conn_queue(c, h, hl);
}

static void ws_header(psim_conn *c, unsigned opcode, bool fin, size_t n)
{
    ws_header_rsv(c, opcode, fin, false, n);
}

void psim_ws_frame(psim_conn *c, unsigned opcode, bool fin, const void *payload, size_t n)
{
    ws_header(c, opcode, fin, n);
    if (c->state != CS_DONE) {
        psim_conn_queue(c, payload, n);
    }
}

static void set_want_out(psim_server *s, psim_conn *c, bool want)
{
    if (c->want_out == want || c->fd < 0) {
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0) {
        c->want_out = want;
    }
}

/* ---- sent-log and positions --------------------------------------------------- */

static void retire_written(psim_server *s, psim_conn *c)
{
    while (c->pend_len > 0) {
        psim_pending *p = &c->pend[c->pend_head];
        if (p->end_off > c->written_total) {
            break;
        }
        if (s->sent_log != NULL) {
            fputs(psim_type_name(c->type), s->sent_log);
            fputc('\t', s->sent_log);
            fputs(p->info.key, s->sent_log);
            fputc('\t', s->sent_log);
            fputs(p->info.ts, s->sent_log);
            fputc('\n', s->sent_log);
            s->sent_log_dirty = true;
        }
        s->ctr.sent[c->type]++;
        c->events_written++;
        if (p->dup) {
            s->ctr.dups[c->type]++;
            c->dups_written++;
        } else if (p->index + 1 > c->written_next) {
            c->written_next = p->index + 1;
        }
        c->pend_head = (c->pend_head + 1) % c->pend_cap;
        c->pend_len--;
    }
}

static bool pend_push(psim_conn *c, const psim_pending *p)
{
    if (c->pend_len == c->pend_cap) {
        size_t cap = c->pend_cap ? c->pend_cap * 2 : 256;
        psim_pending *n = malloc(cap * sizeof *n);
        if (n == NULL) {
            return false;
        }
        for (size_t k = 0; k < c->pend_len; k++) {
            n[k] = c->pend[(c->pend_head + k) % c->pend_cap];
        }
        free(c->pend);
        c->pend = n;
        c->pend_cap = cap;
        c->pend_head = 0;
    }
    c->pend[(c->pend_head + c->pend_len) % c->pend_cap] = *p;
    c->pend_len++;
    return true;
}

/* Ends the session part of a connection once: frees the slot, and for a live
 * session stores where it stopped so that a reconnect can resume there. */
static void session_end(psim_server *s, psim_conn *c, int64_t hold_ms, const char *why)
{
    if (!c->session) {
        return;
    }
    c->session = false;
    retire_written(s, c);
    psim_slot *slot = psim_slot_of(s, c->token_idx, c->type);
    if (slot->active > 0) {
        slot->active--;
    }
    int64_t now_ms = psim_mono_ms();
    if (hold_ms > 0 && now_ms + hold_ms > slot->hold_until_ms) {
        slot->hold_until_ms = now_ms + hold_ms;
    }
    if (!c->archive) {
        slot->has_position = true;
        slot->next = c->written_next;
        slot->drop_sim_us = psim_sim_now(s);
    }
    psim_log(s, 1,
             "session %u ended (%s): %s %s token #%zu, %llu events written (%llu duplicates), "
             "next index %llu%s",
             c->id, why, c->archive ? "archive" : "live", psim_type_name(c->type), c->token_idx + 1,
             (unsigned long long)c->events_written, (unsigned long long)c->dups_written,
             (unsigned long long)c->written_next, hold_ms > 0 ? ", slot held" : "");
}

/* Closes the socket now. Unwritten bytes are dropped. */
static void conn_close_now(psim_server *s, psim_conn *c, bool reset)
{
    if (c->fd < 0) {
        return;
    }
    if (reset) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    } else if (c->ssl != NULL && c->state != CS_TLS) {
        ERR_clear_error();
        SSL_shutdown(c->ssl);
    }
    epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    c->state = CS_DONE;
}

void psim_conn_abort(psim_server *s, psim_conn *c, bool reset, int64_t hold_ms, const char *why)
{
    session_end(s, c, hold_ms, why);
    conn_close_now(s, c, reset);
}

/* Where writing stops: the end of `out`, or under the close-drop fault the first
 * byte of the newest events it holds back (they stay queued, as if still in the
 * network, until the client closes). */
static size_t flush_end(const psim_conn *c)
{
    if (c->close_drop == 0 || c->pend_len == 0) {
        return c->out.len;
    }
    size_t first = c->pend_len > c->close_drop ? c->pend_len - c->close_drop : 0;
    uint64_t start = c->pend[(c->pend_head + first) % c->pend_cap].start_off;
    if (start <= c->written_total) {
        return c->out_off;
    }
    uint64_t end = c->out_off + (start - c->written_total);
    return end < c->out.len ? (size_t)end : c->out.len;
}

/* The close-drop fault at the client's close: every event still queued counts as
 * written (sent-log, live position), and its frames are dropped, as a server
 * does with what it had handed to the network when the client went away. */
static void drop_queued(psim_server *s, psim_conn *c)
{
    size_t n = c->pend_len;
    c->written_total += c->out.len - c->out_off;
    c->out.len = 0;
    c->out_off = 0;
    c->close_drop = 0;
    retire_written(s, c);
    psim_log(s, 1, "session %u: close-drop: %zu queued event(s) dropped at the client's close",
             c->id, n);
}

static void conn_flush(psim_server *s, psim_conn *c)
{
    size_t end = flush_end(c);
    while (c->fd >= 0 && c->out_off < end) {
        long w = conn_write(c, c->out.data + c->out_off, end - c->out_off);
        if (w > 0) {
            c->out_off += (size_t)w;
            c->written_total += (uint64_t)w;
            s->ctr.bytes += (uint64_t)w;
            c->last_io_ms = psim_mono_ms();
            continue;
        }
        if (w < 0) {
            retire_written(s, c);
            psim_conn_abort(s, c, false, s->cfg->hold_ms, "write failed: the client is gone");
            return;
        }
        break;
    }
    retire_written(s, c);
    if (c->out_off == c->out.len) {
        c->out_off = 0;
        c->out.len = 0;
    } else if (c->out_off >= OUT_HIGH) {
        memmove(c->out.data, c->out.data + c->out_off, c->out.len - c->out_off);
        c->out.len -= c->out_off;
        c->out_off = 0;
    }
    if (c->fd < 0) {
        return;
    }
    set_want_out(s, c, flush_end(c) > c->out_off);
    if (c->out.len == 0 && c->close_after_flush) {
        session_end(s, c, 0, "closed");
        conn_close_now(s, c, false);
    }
}

/* ---- HTTP responses ----------------------------------------------------------- */

static void count_status(psim_server *s, int status)
{
    static const int codes[6] = {101, 400, 401, 404, 405, 409};
    for (int k = 0; k < 6; k++) {
        if (codes[k] == status) {
            s->ctr.status[k]++;
            return;
        }
    }
    s->ctr.status_other++;
}

static void http_error(psim_server *s, psim_conn *c, int status, const char *extra,
                       const char *body)
{
    char head[512];
    size_t blen = strlen(body) + 1;
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n%s\r\n",
                     status, psim_http_reason(status), blen, extra ? extra : "");
    psim_conn_queue(c, head, (size_t)n);
    psim_conn_queue(c, body, blen - 1);
    psim_conn_queue(c, "\n", 1);
    c->close_after_flush = true;
    if (c->kind == CK_WS) {
        count_status(s, status);
        psim_log(s, 1, "connection %u from %s refused: %d %s", c->id, c->peer, status, body);
    }
}

/* ---- WebSocket session -------------------------------------------------------- */

static int64_t floor_hour(int64_t t)
{
    int64_t r = t % HOUR_US;
    return r < 0 ? t - r - HOUR_US : t - r;
}

static int64_t ceil_hour(int64_t t)
{
    int64_t f = floor_hour(t);
    return f == t ? t : f + HOUR_US;
}

static void queue_event_frames(psim_conn *c, unsigned op, size_t frag, const char *data, size_t n,
                               bool rsv1)
{
    for (size_t off = 0; off == 0 || off < n; off += frag) {
        size_t chunk = frag == 0 || n - off < frag ? n - off : frag;
        ws_header_rsv(c, off == 0 ? op : 0, off + chunk >= n, rsv1 && off == 0, chunk);
        if (c->state != CS_DONE) {
            psim_conn_queue(c, data + off, chunk);
        }
        if (frag == 0) {
            break;
        }
    }
}

/* permessage-deflate with no context takeover: each message is a raw DEFLATE
 * stream of its own, flushed, without the final 00 00 FF FF (RFC 7692 7.2.1). */
static bool deflate_message(psim_conn *c, const char *data, size_t n)
{
    z_stream *z = c->zs;
    if (deflateReset(z) != Z_OK) {
        return false;
    }
    c->zbuf.len = 0;
    if (!psim_buf_reserve(&c->zbuf, deflateBound(z, (uLong)n) + 16)) {
        return false;
    }
    z->next_in = (const Bytef *)data;
    z->avail_in = (uInt)n;
    z->next_out = (Bytef *)c->zbuf.data;
    z->avail_out = (uInt)(c->zbuf.cap);
    if (deflate(z, Z_SYNC_FLUSH) != Z_OK || z->avail_in != 0) {
        return false;
    }
    c->zbuf.len = c->zbuf.cap - z->avail_out;
    if (c->zbuf.len >= 4) {
        c->zbuf.len -= 4;
    }
    return true;
}

static bool emit_event(psim_server *s, psim_conn *c, uint64_t idx, bool dup)
{
    psim_pending p;
    size_t pad = c->pad_next;
    c->pad_next = 0;
    unsigned op = s->cfg->binary ? 2 : 1;
    size_t frag = s->cfg->fragment;
    size_t known = pad || c->zs ? 0 : psim_pool_cached_len(c->pool, idx);
    p.start_off = c->queued_total;
    if (known > 0 && (frag == 0 || known <= frag)) {
        /* The hot path: the size is known, so the event goes straight behind its
         * header instead of through the scratch buffer. */
        ws_header(c, op, true, known);
        size_t before = c->out.len;
        if (c->state == CS_DONE || !psim_pool_event(c->pool, idx, 0, &c->out, &p.info)) {
            psim_conn_abort(s, c, false, 0, "out of memory");
            return false;
        }
        c->queued_total += c->out.len - before;
    } else {
        c->scratch.len = 0;
        if (!psim_pool_event(c->pool, idx, pad, &c->scratch, &p.info)) {
            psim_conn_abort(s, c, false, 0, "out of memory");
            return false;
        }
        if (c->zs == NULL) {
            queue_event_frames(c, op, frag, c->scratch.data, c->scratch.len, false);
        } else if (deflate_message(c, c->scratch.data, c->scratch.len)) {
            queue_event_frames(c, op, frag, c->zbuf.data, c->zbuf.len, true);
        } else {
            psim_conn_abort(s, c, false, 0, "out of memory compressing an event");
            return false;
        }
    }
    p.end_off = c->queued_total;
    p.index = idx;
    p.dup = dup;
    if (!pend_push(c, &p)) {
        psim_conn_abort(s, c, false, 0, "out of memory");
        return false;
    }
    return true;
}

void psim_ws_close(psim_server *s, psim_conn *c, unsigned code, const char *reason)
{
    if (c->sent_close || c->state != CS_STREAM) {
        return;
    }
    unsigned char payload[125];
    size_t rl = strlen(reason);
    if (rl > sizeof payload - 2) {
        rl = sizeof payload - 2;
    }
    payload[0] = (unsigned char)(code >> 8);
    payload[1] = (unsigned char)code;
    memcpy(payload + 2, reason, rl); // NOLINT(bugprone-not-null-terminated-result): not a C string
    psim_ws_frame(c, 8, true, payload, rl + 2);
    c->sent_close = true;
    c->state = CS_CLOSING;
    c->deadline_ms = psim_mono_ms() + CLOSE_WAIT_MS;
}

static void session_fill(psim_server *s, psim_conn *c, int64_t now_ms, int64_t sim_now)
{
    if (c->state != CS_STREAM || !c->session || c->idle_until_ms > now_ms) {
        return;
    }
    const psim_config *cfg = s->cfg;
    int64_t limit = c->archive ? sim_now - cfg->archive_stale_us : sim_now;
    bool paced = c->archive || !cfg->rate_max;
    for (int scanned = 0; c->out.len - c->out_off < OUT_HIGH && scanned < 65536; scanned++) {
        if (c->next >= c->end) {
            if (c->archive && c->has_to) {
                s->ctr.archive_done++;
                psim_ws_close(s, c, 1000, "archive window complete");
            }
            return;
        }
        if (paced && psim_occurs_us(c->tl, c->next) > limit) {
            return;
        }
        uint64_t i = c->next++;
        if (c->archive) {
            int64_t ts = psim_ts_us(c->tl, i);
            if (ts < c->since_us || (c->has_to && ts >= c->to_us)) {
                continue;
            }
        }
        if (!emit_event(s, c, i, false)) {
            return;
        }
        if (!c->archive && cfg->dup_rate > 0) {
            uint64_t h = mix64(c->tl->stream_hash ^ mix64(i ^ 0xd0b1ca7eULL));
            if ((double)(h >> 11) * 0x1.0p-53 < cfg->dup_rate) {
                /* Re-send this event or one of the few before it, as the feed does. */
                uint64_t back = (h >> 3) % 4;
                if (back > i - c->start_index) {
                    back = i - c->start_index;
                }
                if (!emit_event(s, c, i - back, true)) {
                    return;
                }
            }
        }
    }
}

/* Real milliseconds until the session has something new to send; -1 for never. */
static int64_t session_wait_ms(const psim_server *s, const psim_conn *c, int64_t now_ms,
                               int64_t sim_now)
{
    if (c->state != CS_STREAM || !c->session) {
        return -1;
    }
    if (c->idle_until_ms > now_ms) {
        return c->idle_until_ms - now_ms;
    }
    if (c->next >= c->end || c->out.len - c->out_off >= OUT_HIGH) {
        return -1;
    }
    if (!c->archive && s->cfg->rate_max) {
        return 0;
    }
    int64_t due = psim_occurs_us(c->tl, c->next) + (c->archive ? s->cfg->archive_stale_us : 0);
    if (s->speed <= 0) {
        return -1;
    }
    double real_us = (double)(due - sim_now) / s->speed;
    if (real_us <= 0) {
        return 0;
    }
    return real_us > 3.6e9 ? 3600000 : (int64_t)(real_us / 1000) + 1;
}

static bool valid_ws_key(const char *key)
{
    unsigned char raw[32];
    size_t n = strlen(key);
    if (n != 24) {
        return false;
    }
    int len = EVP_DecodeBlock(raw, (const unsigned char *)key, 24);
    return len == 18 && key[22] == '=' && key[23] == '=';
}

static void ws_accept_key(const char *key, char *out)
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    char cat[128];
    snprintf(cat, sizeof cat, "%s%s", key, guid);
    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)cat, strlen(cat), md);
    EVP_EncodeBlock((unsigned char *)out, md, SHA_DIGEST_LENGTH);
}

/* Keeps client-supplied text printable before it goes into a response or a log. */
static void sanitize(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    for (; *in && o + 1 < cap; in++) {
        unsigned char ch = (unsigned char)*in;
        out[o++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    out[o] = '\0';
}

/* Checks the upgrade request in the order the doc's table implies: request shape
 * (405, 404), parameters (400), credentials (401), session limit (409). */

/* The time forms peers send (#15). Nobody knows what the real server accepts, so
 * podsim takes a stand and docs/podsim.md says which: ISO 8601 with Z or an offset
 * (what podstream sends), with no zone (read as UTC) and a date alone (its
 * midnight UTC) are accepted; an offset whose '+' was not encoded arrives as a
 * space (form decoding) and is refused like any other bad time. NULL when `v` is
 * accepted. */
static const char *time_param_error(const char *name, const char *v, int64_t *us)
{
    static char why[160];
    char day[32];
    if (strlen(v) == 10 && v[4] == '-' && v[7] == '-') {
        snprintf(day, sizeof day, "%sT00:00:00Z", v);
        v = day;
    }
    if (!psim_parse_iso(v, us)) {
        snprintf(why, sizeof why, "%s is not an ISO 8601 time", name);
        return why;
    }
    return NULL;
}

static void ws_handshake(psim_server *s, psim_conn *c)
{
    psim_http_req req;
    size_t used = 0;
    int r = psim_http_parse(c->in.data, c->in.len, &req, &used);
    if (r == 0) {
        return;
    }
    if (r < 0) {
        c->in.len = 0;
        http_error(s, c, 400, NULL, "malformed HTTP request");
        return;
    }
    const psim_config *cfg = s->cfg;
    char h[8192]; /* room for any JWT a client may send */
    char v[512];
    if (strcmp(req.method, "GET") != 0) {
        http_error(s, c, 405, "Allow: GET\r\n", "method not allowed: the stream needs GET");
        return;
    }
    if (strcmp(req.path, "/v1/stream") != 0) {
        http_error(s, c, 404, NULL, "not found: the stream is at /v1/stream");
        return;
    }
    bool upgrade =
        psim_http_header(&req, "Upgrade", h, sizeof h) && psim_header_has_token(h, "websocket") &&
        psim_http_header(&req, "Connection", v, sizeof v) && psim_header_has_token(v, "upgrade");
    if (!upgrade) {
        http_error(s, c, 404, NULL, "not found: not a WebSocket upgrade (use ws:// or wss://)");
        return;
    }
    if (!psim_http_header(&req, "Sec-WebSocket-Version", h, sizeof h) || strcmp(h, "13") != 0) {
        http_error(s, c, 426, "Sec-WebSocket-Version: 13\r\n",
                   "unsupported WebSocket version: 13 required");
        return;
    }
    char key[64];
    if (!psim_http_header(&req, "Sec-WebSocket-Key", key, sizeof key) || !valid_ws_key(key)) {
        http_error(s, c, 400, NULL, "missing or invalid Sec-WebSocket-Key");
        return;
    }
    char cid[256];
    char type_s[64];
    char since_s[128];
    char to_s[128];
    if (!psim_query_get(req.query, "cid", cid, sizeof cid) || cid[0] == '\0') {
        http_error(s, c, 400, NULL, "missing or empty cid");
        return;
    }
    if (!psim_query_get(req.query, "type", type_s, sizeof type_s) || type_s[0] == '\0') {
        http_error(s, c, 400, NULL, "missing or empty type");
        return;
    }
    psim_type type;
    if (!psim_type_parse(type_s, &type)) {
        char clean[64];
        char msg[160];
        sanitize(type_s, clean, sizeof clean);
        snprintf(msg, sizeof msg, "invalid type \"%s\": use message, maillog or audit", clean);
        http_error(s, c, 400, NULL, msg);
        return;
    }
    bool has_since = psim_query_get(req.query, "sinceTime", since_s, sizeof since_s);
    bool has_to = psim_query_get(req.query, "toTime", to_s, sizeof to_s);
    int64_t since_us = 0;
    int64_t to_us = 0;
    const char *why = NULL;
    if (has_since && (why = time_param_error("sinceTime", since_s, &since_us)) != NULL) {
        http_error(s, c, 400, NULL, why);
        return;
    }
    if (has_to && (why = time_param_error("toTime", to_s, &to_us)) != NULL) {
        http_error(s, c, 400, NULL, why);
        return;
    }
    if (has_to && !has_since) {
        http_error(s, c, 400, NULL, "toTime needs sinceTime");
        return;
    }
    if (has_to && to_us <= since_us) {
        http_error(s, c, 400, NULL, "toTime must be later than sinceTime");
        return;
    }
    if (!psim_http_header(&req, "Authorization", h, sizeof h) ||
        strncasecmp(h, "Bearer ", 7) != 0 || h[7] == '\0') {
        http_error(s, c, 401, NULL, "missing bearer token");
        return;
    }
    /* A token may be configured for several clusters: prefer the entry for cid. */
    long t = -1;
    bool known = false;
    for (size_t k = 0; k < cfg->ntokens; k++) {
        if (psim_token_matches(&cfg->tokens[k], h + 7) && !cfg->tokens[k].revoked) {
            known = true;
            if (t < 0 || strcmp(cfg->tokens[k].cluster, cid) == 0) {
                t = (long)k;
            }
        }
    }
    OPENSSL_cleanse(h, sizeof h);
    if (!known) {
        http_error(s, c, 401, NULL, "invalid or expired token");
        return;
    }
    if (strcmp(cfg->tokens[t].cluster, cid) != 0) {
        http_error(s, c, 401, NULL, "invalid cluster id for this token");
        return;
    }
    psim_slot *slot = psim_slot_of(s, (size_t)t, type);
    int64_t now_ms = psim_mono_ms();
    int busy = slot->active + (slot->hold_until_ms > now_ms ? 1 : 0);
    if (busy >= cfg->max_sessions) {
        http_error(s, c, 409, NULL, "Exceeded maximum number of sessions per token");
        return;
    }

    size_t pi = (size_t)t * PSIM_TYPES + (size_t)type;
    if (s->pools[pi] == NULL) {
        s->pools[pi] = psim_pool_create(psim_timeline_of(s, (size_t)t, type));
        if (s->pools[pi] == NULL) {
            http_error(s, c, 503, NULL, "podsim is out of memory");
            return;
        }
    }

    char accept[64];
    ws_accept_key(key, accept);
    if (!psim_http_header(&req, "User-Agent", c->user_agent, sizeof c->user_agent)) {
        c->user_agent[0] = '\0';
    }
    if (!psim_http_header(&req, "Sec-WebSocket-Extensions", c->extensions, sizeof c->extensions)) {
        c->extensions[0] = '\0';
    }
    const char *agreed = "";
    if (cfg->compress && strstr(c->extensions, "permessage-deflate") != NULL) {
        z_stream *z = calloc(1, sizeof *z);
        if (z != NULL &&
            deflateInit2(z, Z_BEST_SPEED, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK) {
            c->zs = z;
            agreed = "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; "
                     "client_no_context_takeover\r\n";
        } else {
            free(z);
        }
    }
    char resp[384];
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s\r\n",
                     accept, agreed);
    psim_conn_queue(c, resp, (size_t)n);
    count_status(s, 101);
    memmove(c->in.data, c->in.data + used, c->in.len - used);
    c->in.len -= used;

    c->session = true;
    c->state = CS_STREAM;
    c->token_idx = (size_t)t;
    c->type = type;
    c->tl = psim_timeline_of(s, (size_t)t, type);
    c->pool = s->pools[(size_t)t * PSIM_TYPES + (size_t)type];
    c->archive = has_since;
    c->has_to = has_to;
    slot->active++;
    int64_t sim = psim_sim_now(s);
    const char *how = "new";
    uint64_t lost = 0;
    if (!c->archive) {
        s->ctr.sessions_live++;
        uint64_t start;
        if (slot->has_position && sim - slot->drop_sim_us <= cfg->resume_window_us) {
            start = slot->next;
            how = "resumed";
            s->ctr.resumed++;
        } else if (slot->has_position) {
            uint64_t cut = psim_index_at(c->tl, sim - cfg->resume_window_us);
            start = cut > slot->next ? cut : slot->next;
            lost = start - slot->next;
            s->ctr.gap_events += lost;
            how = "after a gap longer than the resume window";
        } else {
            start = psim_index_at(c->tl, sim - cfg->initial_backlog_us);
        }
        c->next = start;
        c->end = c->tl->count;
    } else {
        s->ctr.sessions_archive++;
        how = "window rounded to whole hours";
        int64_t earliest = ceil_hour(sim - cfg->archive_reach_us);
        c->since_us = floor_hour(since_us);
        if (c->since_us < earliest) {
            c->since_us = earliest;
        }
        c->next = psim_index_at(c->tl, c->since_us);
        c->end = c->tl->count;
        if (has_to) {
            c->to_us = ceil_hour(to_us);
            uint64_t e = psim_index_at(c->tl, c->to_us + c->tl->disorder_max_us + 1);
            c->end = e < c->end ? e : c->end;
        }
    }
    c->start_index = c->next;
    c->written_next = c->next;
    char since_txt[40] = "";
    char to_txt[40] = "";
    if (c->archive) {
        psim_format_utc(c->since_us, since_txt, sizeof since_txt);
        if (has_to) {
            psim_format_utc(c->to_us, to_txt, sizeof to_txt);
        }
    }
    psim_log(s, 1, "session %u opened from %s: %s %s cid=%s token #%ld%s%s%s%s, %s, index %llu%s",
             c->id, c->peer, c->archive ? "archive" : "live", psim_type_name(type), cid, t + 1,
             c->archive ? " since " : "", since_txt, has_to ? " to " : "", to_txt, how,
             (unsigned long long)c->next, lost ? " (older events lost)" : "");
}

/* Parses the client's frames: pings, pongs, close. Clients must mask (RFC 6455 5.1). */
static void ws_read_frames(psim_server *s, psim_conn *c)
{
    size_t off = 0;
    int64_t now_ms = psim_mono_ms();
    while (c->fd >= 0 && c->in.len - off >= 2) {
        unsigned char *p = (unsigned char *)c->in.data + off;
        size_t avail = c->in.len - off;
        bool fin = (p[0] & 0x80) != 0;
        unsigned rsv = p[0] & 0x70;
        unsigned op = p[0] & 0x0f;
        bool masked = (p[1] & 0x80) != 0;
        uint64_t len = p[1] & 0x7f;
        size_t hl = 2;
        if (len == 126) {
            if (avail < 4) {
                break;
            }
            len = (uint64_t)p[2] << 8 | p[3];
            hl = 4;
        } else if (len == 127) {
            if (avail < 10) {
                break;
            }
            len = 0;
            for (int k = 0; k < 8; k++) {
                len = len << 8 | p[2 + k];
            }
            hl = 10;
        }
        if (rsv != 0 || !masked || (op >= 8 && (len > 125 || !fin)) ||
            (op > 2 && op != 8 && op != 9 && op != 10)) {
            psim_ws_close(s, c, 1002, "protocol error");
            c->in.len = 0;
            return;
        }
        if (len > MAX_CLIENT_FRAME) {
            psim_ws_close(s, c, 1009, "frame too big");
            c->in.len = 0;
            return;
        }
        if (avail < hl + 4 + len) {
            break;
        }
        unsigned char *mask = p + hl;
        unsigned char *pl = mask + 4;
        for (uint64_t k = 0; k < len; k++) {
            pl[k] ^= mask[k & 3];
        }
        off += hl + 4 + (size_t)len;
        if (op == 9) {
            s->ctr.pings++;
            if (c->idle_until_ms <= now_ms || c->idle_pongs) {
                psim_ws_frame(c, 10, true, pl, (size_t)len);
            }
        } else if (op == 8) {
            unsigned code = len >= 2 ? (unsigned)pl[0] << 8 | pl[1] : 1005;
            if (c->close_drop > 0) {
                drop_queued(s, c);
            }
            if (!c->sent_close) {
                psim_ws_frame(c, 8, true, pl, len >= 2 ? 2 : 0);
                c->sent_close = true;
            }
            char why[64];
            snprintf(why, sizeof why, "client closed with %u", code);
            session_end(s, c, 0, why);
            c->state = CS_CLOSING;
            c->close_after_flush = true;
            c->in.len = 0;
            return;
        }
    }
    memmove(c->in.data, c->in.data + off, c->in.len - off);
    c->in.len -= off;
}

static void ctl_request(psim_server *s, psim_conn *c)
{
    psim_http_req req;
    size_t used = 0;
    int r = psim_http_parse(c->in.data, c->in.len, &req, &used);
    if (r == 0) {
        return;
    }
    c->in.len = 0;
    if (r < 0) {
        http_error(s, c, 400, NULL, "malformed HTTP request");
        return;
    }
    psim_control_handle(s, c, req.method, req.path, req.query);
    c->close_after_flush = true;
    /* A script that reads the sent-log after an answer (say, to a drop) must find
     * every event the change retired. */
    if (s->sent_log_dirty) {
        fflush(s->sent_log);
        s->sent_log_dirty = false;
    }
}

static void conn_on_readable(psim_server *s, psim_conn *c)
{
    if (c->state == CS_TLS) {
        ERR_clear_error();
        int r = SSL_accept(c->ssl);
        if (r != 1) {
            int e = SSL_get_error(c->ssl, r);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
                psim_log(s, 2, "connection %u: TLS handshake failed", c->id);
                conn_close_now(s, c, false);
            }
            return;
        }
        c->state = CS_HTTP;
    }
    char buf[65536];
    for (;;) {
        long r = conn_read(c, buf, sizeof buf);
        if (r == 0) {
            break;
        }
        if (r < 0) {
            if (c->state == CS_STREAM && c->in.len > 0) {
                /* A client that closes sends its close frame and hangs up at once:
                 * the frame arrives with the end of the stream. */
                ws_read_frames(s, c);
            }
            if (c->state == CS_STREAM) {
                psim_conn_abort(s, c, false, s->cfg->hold_ms,
                                "client vanished without a close frame");
            } else {
                psim_conn_abort(s, c, false, 0, "connection closed");
            }
            return;
        }
        c->last_io_ms = psim_mono_ms();
        if (c->in.len + (size_t)r > PSIM_MAX_INPUT || !psim_buf_append(&c->in, buf, (size_t)r)) {
            psim_conn_abort(s, c, false, 0, "too much input");
            return;
        }
    }
    if (c->state == CS_HTTP && !c->close_after_flush) {
        if (c->kind == CK_CTL) {
            ctl_request(s, c);
        } else {
            ws_handshake(s, c);
        }
    }
    if (c->state == CS_STREAM || c->state == CS_CLOSING) {
        ws_read_frames(s, c);
    } else if (c->close_after_flush) {
        c->in.len = 0;
    }
    conn_flush(s, c);
}

/* ---- listeners ---------------------------------------------------------------- */

static int listen_on(int port, int *bound)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 128) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    *bound = ntohs(a.sin_port);
    return fd;
}

static void accept_all(psim_server *s, int lfd, psim_conn_kind kind, bool tls)
{
    for (;;) {
        struct sockaddr_in a;
        memset(&a, 0, sizeof a);
        socklen_t al = sizeof a;
        int fd = accept4(lfd, (struct sockaddr *)&a, &al, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            return;
        }
        psim_conn *c = calloc(1, sizeof *c);
        if (c == NULL) {
            close(fd);
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->fd = fd;
        c->id = ++s->next_id;
        c->kind = kind;
        c->state = CS_HTTP;
        c->last_io_ms = psim_mono_ms();
        snprintf(c->peer, sizeof c->peer, "127.0.0.1:%u", ntohs(a.sin_port));
        psim_buf_init(&c->in);
        psim_buf_init(&c->out);
        psim_buf_init(&c->scratch);
        if (tls) {
            c->ssl = SSL_new(s->ssl_ctx);
            if (c->ssl == NULL || SSL_set_fd(c->ssl, fd) != 1) {
                SSL_free(c->ssl);
                free(c);
                close(fd);
                continue;
            }
            c->state = CS_TLS;
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev);
        c->next_conn = s->conns;
        s->conns = c;
    }
}

static void conn_free(psim_conn *c)
{
    if (c->zs != NULL) {
        deflateEnd(c->zs);
        free(c->zs);
    }
    psim_buf_deinit(&c->zbuf);
    SSL_free(c->ssl);
    psim_buf_deinit(&c->in);
    psim_buf_deinit(&c->out);
    psim_buf_deinit(&c->scratch);
    free(c->pend);
    free(c);
}

static bool write_port_file(const psim_server *s, const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL) {
        return false;
    }
    fprintf(f, "{\"ws\": %d, \"wss\": %d, \"control\": %d, \"pid\": %d}\n", s->ws_port, s->wss_port,
            s->ctl_port, (int)getpid());
    bool ok = fclose(f) == 0;
    return ok && rename(tmp, path) == 0;
}

/* ---- main loop ---------------------------------------------------------------- */

static int setup(psim_server *s, psim_config *cfg)
{
    char err[512];
    s->cfg = cfg;
    s->ws_fd = s->wss_fd = s->ctl_fd = -1;
    s->ws_port = s->wss_port = s->ctl_port = -1;
    psim_clock_set(s, cfg->start_us, cfg->speed);
    size_t n = cfg->ntokens * PSIM_TYPES;
    s->tls = calloc(n, sizeof *s->tls);
    s->slots = calloc(n, sizeof *s->slots);
    s->pools = calloc(n, sizeof(psim_pool *));
    if (s->tls == NULL || s->slots == NULL || s->pools == NULL) {
        fprintf(stderr, "podsim: out of memory\n");
        return 1;
    }
    int64_t interval = cfg->rate_max ? 1000 : (int64_t)(1e6 / cfg->rate);
    for (size_t t = 0; t < cfg->ntokens; t++) {
        for (int ty = 0; ty < PSIM_TYPES; ty++) {
            psim_timeline *tl = &s->tls[t * PSIM_TYPES + (size_t)ty];
            psim_timeline_init(tl, cfg->seed, cfg->tokens[t].cluster, (psim_type)ty,
                               cfg->start_us - cfg->history_us, interval);
            tl->count = cfg->count;
            tl->disorder = cfg->disorder;
            tl->disorder_max_us = cfg->disorder_max_us;
            tl->big_share = cfg->big_share;
            tl->big_bytes = cfg->big_bytes;
        }
    }
    if (cfg->sent_log != NULL) {
        s->sent_log = fopen(cfg->sent_log, "a");
        if (s->sent_log == NULL) {
            fprintf(stderr, "podsim: cannot open --sent-log %s: %s\n", cfg->sent_log,
                    strerror(errno));
            return 1;
        }
        setvbuf(s->sent_log, NULL, _IOFBF, 1 << 20);
    }
    if (cfg->wss_port >= 0) {
        s->ssl_ctx = psim_tls_server_ctx(cfg, err, sizeof err);
        if (s->ssl_ctx == NULL) {
            fprintf(stderr, "podsim: %s\n", err);
            return 1;
        }
    }
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    struct {
        int port;
        int *fd;
        int *bound;
        int *tag;
        const char *what;
    } ls[3] = {{cfg->ws_port, &s->ws_fd, &s->ws_port, &tag_ws, "--port"},
               {cfg->wss_port, &s->wss_fd, &s->wss_port, &tag_wss, "--tls-port"},
               {cfg->ctl_port, &s->ctl_fd, &s->ctl_port, &tag_ctl, "--control-port"}};
    for (int k = 0; k < 3; k++) {
        if (ls[k].port < 0) {
            continue;
        }
        *ls[k].fd = listen_on(ls[k].port, ls[k].bound);
        if (*ls[k].fd < 0) {
            fprintf(stderr, "podsim: cannot listen on 127.0.0.1:%d (%s): %s\n", ls[k].port,
                    ls[k].what, strerror(errno));
            return 1;
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = ls[k].tag};
        epoll_ctl(s->epfd, EPOLL_CTL_ADD, *ls[k].fd, &ev);
    }
    if (cfg->port_file != NULL && !write_port_file(s, cfg->port_file)) {
        fprintf(stderr, "podsim: cannot write --port-file %s: %s\n", cfg->port_file,
                strerror(errno));
        return 1;
    }
    return 0;
}

static void teardown(psim_server *s)
{
    /* Gives a pending answer (say, to /shutdown) its chance to leave. */
    for (psim_conn *c = s->conns; c != NULL; c = c->next_conn) {
        if (c->fd >= 0 && c->out.len > c->out_off) {
            conn_flush(s, c);
        }
    }
    while (s->conns != NULL) {
        psim_conn *c = s->conns;
        s->conns = c->next_conn;
        if (c->fd >= 0) {
            psim_conn_abort(s, c, false, 0, "podsim is shutting down");
        }
        conn_free(c);
    }
    if (s->sent_log != NULL) {
        fclose(s->sent_log);
    }
    int fds[] = {s->ws_fd, s->wss_fd, s->ctl_fd, s->epfd};
    for (size_t k = 0; k < sizeof fds / sizeof fds[0]; k++) {
        if (fds[k] >= 0) {
            close(fds[k]);
        }
    }
    SSL_CTX_free(s->ssl_ctx);
    for (size_t k = 0; s->pools != NULL && k < s->cfg->ntokens * PSIM_TYPES; k++) {
        psim_pool_destroy(s->pools[k]);
    }
    free(s->pools);
    free(s->tls);
    free(s->slots);
}

/* Timers, then events for every streaming session; returns the epoll timeout. */
static int service_conns(psim_server *s)
{
    int64_t now_ms = psim_mono_ms();
    int64_t sim = psim_sim_now(s);
    int64_t timeout = 1000;
    const psim_config *cfg = s->cfg;
    for (psim_conn *c = s->conns; c != NULL; c = c->next_conn) {
        if (c->state == CS_DONE) {
            continue;
        }
        if (c->state == CS_STREAM && cfg->idle_timeout_ms > 0 &&
            now_ms - c->last_io_ms >= cfg->idle_timeout_ms) {
            s->ctr.idle_drops++;
            /* What the real service does to a quiet connection: no close frame. */
            psim_conn_abort(s, c, false, 0, "idle timeout");
            continue;
        }
        if (c->state == CS_CLOSING && now_ms >= c->deadline_ms && c->deadline_ms > 0) {
            psim_conn_abort(s, c, false, 0, "no close frame from the client");
            continue;
        }
        if ((c->state == CS_TLS || c->state == CS_HTTP) &&
            now_ms - c->last_io_ms >= HANDSHAKE_TIMEOUT_MS) {
            psim_conn_abort(s, c, false, 0, "handshake timeout");
            continue;
        }
        session_fill(s, c, now_ms, sim);
        if (c->out.len > c->out_off) {
            conn_flush(s, c);
        }
        if (c->state == CS_DONE) {
            continue;
        }
        int64_t w = session_wait_ms(s, c, now_ms, sim);
        if (w >= 0 && w < timeout) {
            timeout = w;
        }
        if (c->state == CS_STREAM && cfg->idle_timeout_ms > 0) {
            int64_t left = c->last_io_ms + cfg->idle_timeout_ms - now_ms;
            if (left < timeout) {
                timeout = left < 0 ? 0 : left;
            }
        }
        if (c->state == CS_CLOSING && c->deadline_ms - now_ms < timeout) {
            timeout = c->deadline_ms > now_ms ? c->deadline_ms - now_ms : 0;
        }
    }
    for (psim_conn **pp = &s->conns; *pp != NULL;) {
        psim_conn *c = *pp;
        if (c->state == CS_DONE) {
            if (c->fd >= 0) {
                psim_conn_abort(s, c, false, 0, "closed");
            }
            *pp = c->next_conn;
            conn_free(c);
        } else {
            pp = &c->next_conn;
        }
    }
    return (int)timeout;
}

int psim_run(psim_config *cfg)
{
    psim_server s;
    memset(&s, 0, sizeof s);
    int rc = setup(&s, cfg);
    if (rc != 0) {
        teardown(&s);
        return rc;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    char now_txt[40];
    psim_format_utc(psim_sim_now(&s), now_txt, sizeof now_txt);
    printf("podsim ready: ws=%d wss=%d control=%d clock=%s\n", s.ws_port, s.wss_port, s.ctl_port,
           now_txt);
    fflush(stdout);
    psim_log(&s, 1, "listening on 127.0.0.1: ws %d, wss %d, control %d; %zu token(s)", s.ws_port,
             s.wss_port, s.ctl_port, cfg->ntokens);

    struct epoll_event evs[64];
    while (!s.stop && !g_stop) {
        int timeout = service_conns(&s);
        if (s.sent_log_dirty) {
            fflush(s.sent_log);
            s.sent_log_dirty = false;
        }
        int n = epoll_wait(s.epfd, evs, 64, timeout);
        for (int k = 0; k < n; k++) {
            void *tag = evs[k].data.ptr;
            if (tag == &tag_ws) {
                accept_all(&s, s.ws_fd, CK_WS, false);
            } else if (tag == &tag_wss) {
                accept_all(&s, s.wss_fd, CK_WS, true);
            } else if (tag == &tag_ctl) {
                accept_all(&s, s.ctl_fd, CK_CTL, false);
            } else {
                psim_conn *c = tag;
                if (c->state == CS_DONE) {
                    continue;
                }
                if (evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                    conn_on_readable(&s, c);
                }
                if (c->state != CS_DONE && (evs[k].events & EPOLLOUT)) {
                    conn_flush(&s, c);
                }
            }
        }
    }
    psim_log(&s, 1, "shutting down");
    teardown(&s);
    return 0;
}
