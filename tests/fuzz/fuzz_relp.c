/* libFuzzer target for what a RELP receiver sends (output/ps_out_relp.c): the frame
 * parser, response status lines, and the session's handling of answers.
 *
 * Input: byte 0, the most bytes one read hands over (+ 1); byte 1, how many
 * messages the session sends (0..255); the rest, the receiver's byte stream.
 *
 * 1. The stream is fed to the parser in pieces of that size. Each frame must be
 *    within the protocol's bounds (TXNR at most 9 digits, COMMAND 1..32 letters,
 *    DATA within PSO_RELP_MAX_RSP and followed by the trailer), its data inside
 *    what was fed, and serializing it again must give back the same frame. An
 *    rsp's status text must lie within its data.
 * 2. The stream answers an open session that sends that many messages (the open
 *    answered by a fixed 200 first): the call must end (the stream running out
 *    is a timeout), and the acknowledged prefix must not exceed what was sent. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "output/ps_out_relp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_INPUT (64u * 1024u)

static void check_frame(const pso_relp_frame *f, const char *fed, size_t fed_len)
{
    size_t cl = strlen(f->cmd);
    int code = 0;
    const char *text = NULL;
    size_t tl = 0;
    pso_relp_rx rx = {0};
    pso_relp_frame g;
    ps_buf b = {0};
    ps_errmsg em;
    if (f->txnr > PSO_RELP_TXNR_MAX || cl == 0 || cl > PSO_RELP_MAX_CMD ||
        f->len > PSO_RELP_MAX_RSP || f->data < fed || f->data + f->len >= fed + fed_len ||
        f->data[f->len] != '\n')
        abort();
    if (strcmp(f->cmd, "rsp") == 0 && pso_relp_rsp_status(f, &code, &text, &tl) == PS_OK &&
        (code < 100 || code > 999 || text < f->data || text + tl > f->data + f->len))
        abort();
    if (pso_relp_frame_put(&b, f->txnr, f->cmd, f->data, f->len) != PS_OK)
        abort();
    if (pso_relp_rx_feed(&rx, b.p, b.len) != PS_OK || pso_relp_rx_next(&rx, &g, &em) != PS_OK ||
        g.txnr != f->txnr || strcmp(g.cmd, f->cmd) != 0 || g.len != f->len ||
        memcmp(g.data, f->data, f->len) != 0 || rx.used != b.len)
        abort();
    pso_relp_rx_deinit(&rx);
    ps_buf_deinit(&b);
}

static void parse(const char *in, size_t n, size_t chunk)
{
    pso_relp_rx rx = {0};
    ps_errmsg em;
    ps_err err = PS_OK;
    for (size_t at = 0; at < n && err != PS_ERR_PARSE; at += chunk) {
        size_t k = n - at < chunk ? n - at : chunk;
        if (pso_relp_rx_feed(&rx, in + at, k) != PS_OK)
            abort();
        pso_relp_frame f;
        while ((err = pso_relp_rx_next(&rx, &f, &em)) == PS_OK)
            check_frame(&f, rx.in.p, rx.in.len);
        if (err != PS_ERR_AGAIN && err != PS_ERR_PARSE)
            abort();
    }
    pso_relp_rx_deinit(&rx);
}

/* The receiver: the open answer, then the fuzz input in pieces; what is sent is dropped. */
typedef struct feed {
    const char *p;
    size_t n, at, chunk;
    bool opened;
} feed;

static ps_err feed_send(void *ctx, const char *p, size_t len, int64_t deadline, ps_errmsg *em)
{
    (void)ctx, (void)p, (void)len, (void)deadline, (void)em;
    return PS_OK;
}

static ps_err feed_recv(void *ctx, char *buf, size_t cap, size_t *got, int64_t deadline,
                        ps_errmsg *em)
{
    static const char open_rsp[] = "1 rsp 37 200 OK\nrelp_version=0\ncommands=syslog\n";
    feed *fd = ctx;
    size_t k;
    (void)deadline;
    if (!fd->opened) {
        fd->opened = true;
        memcpy(buf, open_rsp, sizeof open_rsp - 1 < cap ? sizeof open_rsp - 1 : cap);
        *got = sizeof open_rsp - 1 < cap ? sizeof open_rsp - 1 : cap;
        return PS_OK;
    }
    if (fd->at == fd->n)
        return ps_errmsg_set(em, PS_ERR_TIMEOUT, "no more input");
    k = fd->n - fd->at < fd->chunk ? fd->n - fd->at : fd->chunk;
    k = k < cap ? k : cap;
    memcpy(buf, fd->p + fd->at, k);
    fd->at += k;
    *got = k;
    return PS_OK;
}

static ps_err render(void *ctx, size_t i, ps_buf *out)
{
    (void)ctx, (void)i;
    return ps_buf_append(out, "<134>1 - h a - - - m", 20);
}

static void session(const char *in, size_t n, size_t chunk, size_t messages)
{
    feed fd = {.p = in, .n = n, .chunk = chunk};
    pso_relp r;
    ps_errmsg em;
    size_t acked = 0;
    pso_relp_init(&r, &(pso_relp_io){.ctx = &fd, .send = feed_send, .recv = feed_recv});
    if (pso_relp_open(&r, 0, &em) != PS_OK)
        abort();
    (void)pso_relp_send(&r, messages, render, NULL, &acked, 0, &em);
    if (acked > messages)
        abort();
    pso_relp_deinit(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > FUZZ_MAX_INPUT)
        return 0;
    size_t chunk = (size_t)data[0] + 1;
    size_t messages = data[1];
    const char *in = (const char *)data + 2;
    parse(in, size - 2, chunk);
    session(in, size - 2, chunk, messages);
    return 0;
}
