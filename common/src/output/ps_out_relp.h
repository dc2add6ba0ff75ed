/* RELP, rsyslog's Reliable Event Logging Protocol, for the Syslog output's
 * `transport: relp`: the frame serializer, the parser of what the receiver sends,
 * and the client session (open, syslog within a window of unacknowledged
 * transactions, close). The receiver answers each message with `rsp 200` once it
 * has taken it, so the output commits only what was answered; plain TCP can only
 * say that the bytes reached the receiver's kernel.
 *
 * A frame is "TXNR SP COMMAND SP DATALEN [SP DATA] LF"; TXNR 1..999999999 (0 for
 * the receiver's `serverclose`), COMMAND lower-case letters, DATALEN the decimal
 * byte count of DATA (no DATA and no SP before LF when it is 0).
 *
 * The session does no I/O of its own: it goes through pso_relp_io, which the
 * Syslog output backs with its socket or TLS connection and the unit tests with a
 * scripted receiver. */
#ifndef PS_OUT_RELP_H
#define PS_OUT_RELP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "podstream/ps_error.h"
#include "podstream/ps_mem.h"

#define PSO_RELP_TXNR_MAX     999999999u
#define PSO_RELP_WINDOW       128u         /* unacknowledged messages at most (librelp's default) */
#define PSO_RELP_MAX_RSP      (64u * 1024) /* the largest DATA accepted from a receiver */
#define PSO_RELP_MAX_CMD      32u
#define PSO_RELP_DEFAULT_PORT 2514

/* One frame received. `data` points into the parser's buffer: valid until the next
 * feed or next call. */
typedef struct pso_relp_frame {
    uint32_t txnr;
    char cmd[PSO_RELP_MAX_CMD + 1];
    const char *data;
    size_t len;
} pso_relp_frame;

/* Appends the frame to `out`. PS_ERR_RANGE when txnr or len is out of the protocol's
 * bounds, PS_ERR_NOMEM. */
ps_err pso_relp_frame_put(ps_buf *out, uint32_t txnr, const char *cmd, const void *data,
                          size_t len);

/* The parser of the receiver's byte stream, caller-owned; zeroed is initialised. */
typedef struct pso_relp_rx {
    ps_buf in;
    size_t used; /* bytes of `in` already parsed */
} pso_relp_rx;

/* Appends received bytes (copied). */
ps_err pso_relp_rx_feed(pso_relp_rx *rx, const void *p, size_t n);
/* The next complete frame of what was fed: PS_OK with *f; PS_ERR_AGAIN when it is
 * not complete yet; PS_ERR_PARSE (the stream cannot be trusted any more: drop the
 * connection) with the reason in em. */
ps_err pso_relp_rx_next(pso_relp_rx *rx, pso_relp_frame *f, ps_errmsg *em);
/* Forgets everything fed (a new connection). */
void pso_relp_rx_reset(pso_relp_rx *rx);
void pso_relp_rx_deinit(pso_relp_rx *rx);

/* The status of an `rsp` frame ("200 OK" then optionally LF and more): *code, and
 * the text after it up to the first LF (borrowed from f). PS_ERR_PARSE when DATA
 * does not start with three digits followed by SP, LF or its end. */
ps_err pso_relp_rsp_status(const pso_relp_frame *f, int *code, const char **text, size_t *text_len);

/* How the session reaches the receiver. send: every byte by the deadline (the
 * ps_plat_mono_ms clock); recv: up to cap bytes, waiting until the deadline for the
 * first one (PS_OK with *got > 0, PS_ERR_TIMEOUT, PS_ERR_CLOSED, PS_ERR_NET). */
typedef struct pso_relp_io {
    void *ctx;
    ps_err (*send)(void *ctx, const char *p, size_t len, int64_t deadline_ms, ps_errmsg *em);
    ps_err (*recv)(void *ctx, char *buf, size_t cap, size_t *got, int64_t deadline_ms,
                   ps_errmsg *em);
} pso_relp_io;

/* Appends message i of a batch (without framing) to out. */
typedef ps_err (*pso_relp_render_fn)(void *ctx, size_t i, ps_buf *out);

/* A session, caller-owned (pso_relp_init/pso_relp_deinit); one thread at a time. */
typedef struct pso_relp {
    pso_relp_io io;
    pso_relp_rx rx;
    ps_buf out, msg;
    uint32_t next_txnr;
    bool *acked;
    size_t acked_cap;
    char software[80]; /* the receiver's relp_software, for the log */
} pso_relp;

/* io is copied. */
void pso_relp_init(pso_relp *r, const pso_relp_io *io);
/* Frees the buffers (no I/O). Accepts NULL. */
void pso_relp_deinit(pso_relp *r);

/* The open handshake on a new connection: offers relp_version 0 and the syslog
 * command, and needs `rsp 200` offering syslog back. PS_ERR_UNSUPPORTED when the
 * receiver does not take syslog, PS_ERR_AUTH when it refuses the session (a
 * non-200 answer), otherwise the I/O's or parser's errors. */
ps_err pso_relp_open(pso_relp *r, int64_t deadline_ms, ps_errmsg *em);

/* Sends messages 0..n-1 (rendered by render(ctx, i, ...)) as `syslog` commands,
 * at most PSO_RELP_WINDOW of them unanswered at a time, and waits for every
 * answer. *acked: how many from the first were answered 200, without a gap (also
 * when an error is returned). PS_ERR_CLOSED on `serverclose`, PS_ERR_NET when a
 * message is answered with another code than 200 (code and text in em),
 * PS_ERR_PARSE on a malformed or unexpected frame, PS_ERR_TIMEOUT past the
 * deadline. After an error the connection must be dropped. */
ps_err pso_relp_send(pso_relp *r, size_t n, pso_relp_render_fn render, void *ctx, size_t *acked,
                     int64_t deadline_ms, ps_errmsg *em);

/* Sends `close` and waits for its answer until the deadline (best effort: the
 * connection is dropped afterwards either way). */
void pso_relp_close(pso_relp *r, int64_t deadline_ms);

#endif
