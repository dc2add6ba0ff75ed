/* libFuzzer target for WebSocket message reassembly (net/ps_ws.c): ps_ws_recv on
 * a detached connection whose frames come from a stand-in for curl_ws_recv that
 * keeps libcurl's contract (a frame handed over in pieces that fit the buffer,
 * with offset and bytesleft; continuation frames carry their message's type and
 * CURLWS_CONT until the last; control frames between fragments).
 *
 * Input: bytes 0-1, the maximum message size (x 16, + 1); then 5 bytes a frame:
 *   op     bits 0-2: 0 text, 1 binary, 2 continuation, 3 ping, 4 pong, 5 close;
 *          bit 3 set: not the last fragment; bit 4 set: the length is x 16
 *   len    2 bytes, little-endian: the payload length
 *   chunk  the most bytes one read hands over, x 64 (0: as many as fit)
 *   fill   payload byte i is fill + i (a pattern that shows a shifted byte)
 * A frame that breaks the protocol (a continuation with no message, a new message
 * inside one, a fragmented or long control frame) makes the stand-in fail like
 * libcurl; at the end it says CURLE_AGAIN. Generated payloads are capped at 1 MiB
 * a run.
 *
 * The same frames are reassembled by a plain model here, and every message that
 * ps_ws_recv delivers must match it: bytes (or the 64 KiB prefix of an oversize
 * message), total length, binary flag and oversize flag; and then nothing more. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/ps_ws_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_INPUT (64u * 1024u)
#define PAYLOAD_CAP    (1u << 20)
#define PREFIX         (64u * 1024u) /* OVERSIZE_PREFIX of ps_ws.c */

typedef struct frame {
    int kind; /* 0 text, 1 binary, 2 continuation, 3 ping, 4 pong, 5 close */
    bool more;
    size_t len, chunk;
    unsigned char fill;
} frame;

typedef struct feed {
    const frame *f;
    size_t n, i, off; /* frame i, bytes of it already handed over */
    int msg_flags;    /* CURLWS_TEXT/BINARY of the fragmented message going on; 0: none */
    struct curl_ws_frame meta;
} feed;

/* What the model expects ps_ws_recv to deliver. */
typedef struct expect {
    unsigned char *data;
    size_t len, cap, total;
    bool binary, oversize;
} expect;

static void check(bool ok)
{
    if (!ok)
        abort();
}

static bool protocol_error(const feed *fd, const frame *f)
{
    if (f->kind > 5)
        return true;
    if (f->kind >= 3)
        return f->more || f->len > 125;
    return (f->kind == 2) != (fd->msg_flags != 0);
}

/* Stand-in for curl_ws_recv. */
static CURLcode fake_recv(void *ctx, void *buf, size_t room, size_t *got,
                          const struct curl_ws_frame **meta)
{
    static const int kinds[] = {CURLWS_TEXT, CURLWS_BINARY, 0,
                                CURLWS_PING, CURLWS_PONG,   CURLWS_CLOSE};
    feed *fd = ctx;
    const frame *f;
    size_t n;

    *got = 0;
    *meta = NULL;
    if (fd->i == fd->n)
        return CURLE_AGAIN;
    f = &fd->f[fd->i];
    if (fd->off == 0 && protocol_error(fd, f))
        return CURLE_RECV_ERROR;
    n = f->len - fd->off;
    if (f->chunk && n > f->chunk)
        n = f->chunk;
    if (n > room)
        n = room;
    /* A reader that offers no room for a frame with bytes left never moves on. */
    check(n > 0 || f->len == fd->off);
    for (size_t i = 0; i < n; i++)
        ((unsigned char *)buf)[i] = (unsigned char)(f->fill + fd->off + i);
    memset(&fd->meta, 0, sizeof fd->meta);
    fd->meta.age = 0;
    fd->meta.flags = f->kind == 2 ? fd->msg_flags : kinds[f->kind];
    if (f->kind <= 2 && f->more)
        fd->meta.flags |= CURLWS_CONT;
    fd->meta.offset = (curl_off_t)fd->off;
    fd->meta.bytesleft = (curl_off_t)(f->len - fd->off - n);
    fd->meta.len = n;
    fd->off += n;
    *got = n;
    *meta = &fd->meta;
    if (fd->off == f->len) {
        if (f->kind <= 2)
            fd->msg_flags = f->more ? (fd->meta.flags & (CURLWS_TEXT | CURLWS_BINARY)) : 0;
        fd->i++;
        fd->off = 0;
    }
    return CURLE_OK;
}

static void expect_add(expect *e, const frame *f)
{
    if (e->len + f->len > e->cap) {
        e->cap = e->len + f->len;
        e->data = realloc(e->data, e->cap);
        check(e->data != NULL);
    }
    for (size_t i = 0; i < f->len; i++)
        e->data[e->len + i] = (unsigned char)(f->fill + i);
    e->len += f->len;
    e->total += f->len;
}

static void check_message(const ps_ws_msg *m, const expect *e, size_t max_message)
{
    check(m->total_len == e->total);
    check(m->binary == e->binary);
    check(m->oversize == (e->total > max_message));
    check(m->data != NULL && m->data[m->len] == '\0');
    if (m->oversize)
        check(m->len == (e->total < PREFIX ? e->total : PREFIX));
    else
        check(m->len == e->total);
    check(m->len == 0 || memcmp(m->data, e->data, m->len) == 0);
}

/* Reads every message from ws and compares it with the model's run of `frames`. */
static void run(ps_ws *ws, const frame *frames, size_t n, size_t max_message)
{
    feed model = {frames, n, 0, 0, 0, {0}};
    expect e = {0};
    ps_ws_msg m;
    ps_errmsg em;
    ps_err err = PS_OK;

    for (size_t i = 0; i < n; i++) {
        const frame *f = &frames[i];
        if (protocol_error(&model, f)) {
            err = PS_ERR_NET;
            break;
        }
        if (f->kind == 5) {
            err = PS_ERR_CLOSED;
            break;
        }
        if (f->kind >= 3)
            continue;
        if (f->kind != 2) {
            e.binary = f->kind == 1;
            model.msg_flags = f->kind == 1 ? CURLWS_BINARY : CURLWS_TEXT;
        }
        expect_add(&e, f);
        if (f->more)
            continue;
        model.msg_flags = 0;
        check(ps_ws_recv(ws, 0, &m, &em) == PS_OK);
        check_message(&m, &e, max_message);
        free(m.data);
        e.len = e.total = 0;
    }
    if (err == PS_OK)
        err = PS_ERR_AGAIN;
    check(ps_ws_recv(ws, 0, &m, &em) == err && m.data == NULL);
    free(e.data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    frame *frames;
    size_t n = 0, payload = 0, max_message;
    feed fd = {0};
    ps_ws *ws;

    if (size < 2 || size > FUZZ_MAX_INPUT)
        return 0;
    max_message = ((size_t)data[0] | (size_t)data[1] << 8) * 16 + 1;
    frames = calloc(size / 5 + 1, sizeof *frames);
    check(frames != NULL);
    for (size_t off = 2; off + 5 <= size; off += 5) {
        const uint8_t *p = data + off;
        frame *f = &frames[n];
        f->kind = p[0] & 7;
        f->more = (p[0] & 8) != 0;
        f->len = ((size_t)p[1] | (size_t)p[2] << 8) * ((p[0] & 16) ? 16 : 1);
        f->chunk = (size_t)p[3] * 64;
        f->fill = p[4];
        if (payload + f->len > PAYLOAD_CAP)
            break;
        payload += f->len;
        n++;
    }
    fd.f = frames;
    fd.n = n;
    ws = ps_ws_create_detached(max_message, fake_recv, &fd);
    check(ws != NULL);
    run(ws, frames, n, max_message);
    ps_ws_destroy(ws, 0);
    free(frames);
    return 0;
}
