/* RELP frames and the client session: see ps_out_relp.h. The protocol as librelp
 * (rsyslog's imrelp) speaks it: doc/relp.html of librelp. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output/ps_out_relp.h"

#define MAX_DIGITS 9
/* Flush what is framed once it reaches this much, so a window of large messages
 * is not held twice in memory. */
#define OUT_FLUSH (256u * 1024)

ps_err pso_relp_frame_put(ps_buf *out, uint32_t txnr, const char *cmd, const void *data, size_t len)
{
    char head[64];
    int hl;
    ps_err err;
    if (txnr > PSO_RELP_TXNR_MAX || len > PSO_RELP_TXNR_MAX || strlen(cmd) > PSO_RELP_MAX_CMD)
        return PS_ERR_RANGE;
    hl = snprintf(head, sizeof head, len ? "%u %s %zu " : "%u %s %zu", (unsigned)txnr, cmd, len);
    if (hl < 0 || (size_t)hl >= sizeof head)
        return PS_ERR_RANGE;
    err = ps_buf_reserve(out, (size_t)hl + len + 1);
    if (err == PS_OK)
        err = ps_buf_append(out, head, (size_t)hl);
    if (err == PS_OK && len)
        err = ps_buf_append(out, data, len);
    return err == PS_OK ? ps_buf_append(out, "\n", 1) : err;
}

ps_err pso_relp_rx_feed(pso_relp_rx *rx, const void *p, size_t n)
{
    if (rx->used > 0) { /* drop what was parsed before growing */
        memmove(rx->in.p, rx->in.p + rx->used, rx->in.len - rx->used);
        rx->in.len -= rx->used;
        rx->used = 0;
    }
    return ps_buf_append(&rx->in, p, n);
}

void pso_relp_rx_reset(pso_relp_rx *rx)
{
    rx->in.len = 0;
    rx->used = 0;
}

void pso_relp_rx_deinit(pso_relp_rx *rx)
{
    ps_buf_deinit(&rx->in);
    rx->used = 0;
}

/* A decimal number of 1..MAX_DIGITS digits ending at one of `stops` (not
 * consumed). PS_ERR_AGAIN when the input ends first. */
static ps_err number(const char *p, size_t n, size_t *at, const char *stops, uint32_t *v,
                     ps_errmsg *em, const char *what)
{
    size_t start = *at;
    uint32_t x = 0;
    for (; *at < n && p[*at] >= '0' && p[*at] <= '9'; (*at)++) {
        if (*at - start == MAX_DIGITS)
            return ps_errmsg_set(em, PS_ERR_PARSE, "RELP: %s has more than 9 digits", what);
        x = x * 10 + (uint32_t)(p[*at] - '0');
    }
    if (*at == n)
        return PS_ERR_AGAIN;
    if (*at == start || p[*at] == '\0' || !strchr(stops, p[*at]))
        return ps_errmsg_set(em, PS_ERR_PARSE, "RELP: %s is not a number", what);
    *v = x;
    return PS_OK;
}

/* COMMAND: 1..PSO_RELP_MAX_CMD letters, then SP. */
static ps_err command(const char *p, size_t n, size_t *at, char *cmd, ps_errmsg *em)
{
    size_t k = 0;
    for (; *at < n && p[*at] != ' '; (*at)++, k++) {
        char c = p[*at];
        if (k == PSO_RELP_MAX_CMD || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
            return ps_errmsg_set(em, PS_ERR_PARSE, "RELP: a malformed command");
        cmd[k] = c;
    }
    if (*at == n)
        return PS_ERR_AGAIN;
    if (k == 0)
        return ps_errmsg_set(em, PS_ERR_PARSE, "RELP: an empty command");
    cmd[k] = '\0';
    return PS_OK;
}

ps_err pso_relp_rx_next(pso_relp_rx *rx, pso_relp_frame *f, ps_errmsg *em)
{
    const char *p;
    size_t n, at = 0;
    uint32_t len = 0;
    ps_err err;
    if (rx->used >= rx->in.len) /* also before anything was fed: no pointer yet */
        return PS_ERR_AGAIN;
    p = rx->in.p + rx->used;
    n = rx->in.len - rx->used;
    if ((err = number(p, n, &at, " ", &f->txnr, em, "TXNR")) != PS_OK)
        return err;
    at++;
    if ((err = command(p, n, &at, f->cmd, em)) != PS_OK)
        return err;
    at++;
    /* DATALEN ends with SP before DATA, or with the trailer when there is none. */
    if ((err = number(p, n, &at, " \n", &len, em, "DATALEN")) != PS_OK)
        return err;
    if (len > PSO_RELP_MAX_RSP)
        return ps_errmsg_set(em, PS_ERR_PARSE, "RELP: a frame of %u bytes (at most %u taken)",
                             (unsigned)len, PSO_RELP_MAX_RSP);
    if (p[at] == '\n' && len > 0)
        return ps_errmsg_set(em, PS_ERR_PARSE, "RELP: the frame ends before its data");
    if (p[at] == ' ')
        at++;
    if (n - at < (size_t)len + 1)
        return PS_ERR_AGAIN;
    if (p[at + len] != '\n')
        return ps_errmsg_set(em, PS_ERR_PARSE, "RELP: the frame does not end after its data");
    f->data = p + at;
    f->len = len;
    rx->used += at + len + 1;
    return PS_OK;
}

ps_err pso_relp_rsp_status(const pso_relp_frame *f, int *code, const char **text, size_t *text_len)
{
    const char *d = f->data;
    size_t i = 3;
    if (f->len < 3 || d[0] < '1' || d[0] > '9' || d[1] < '0' || d[1] > '9' || d[2] < '0' ||
        d[2] > '9' || (f->len > 3 && d[3] != ' ' && d[3] != '\n'))
        return PS_ERR_PARSE;
    *code = (d[0] - '0') * 100 + (d[1] - '0') * 10 + (d[2] - '0');
    if (i < f->len && d[i] == ' ')
        i++;
    *text = d + i;
    *text_len = 0;
    while (i + *text_len < f->len && d[i + *text_len] != '\n')
        (*text_len)++;
    return PS_OK;
}

/* ---- the session ------------------------------------------------------------ */

void pso_relp_init(pso_relp *r, const pso_relp_io *io)
{
    memset(r, 0, sizeof *r);
    r->io = *io;
    r->next_txnr = 1;
}

void pso_relp_deinit(pso_relp *r)
{
    if (!r)
        return;
    pso_relp_rx_deinit(&r->rx);
    ps_buf_deinit(&r->out);
    ps_buf_deinit(&r->msg);
    free(r->acked);
    r->acked = NULL;
    r->acked_cap = 0;
}

static uint32_t txnr_after(uint32_t t)
{
    return t >= PSO_RELP_TXNR_MAX ? 1 : t + 1;
}

/* The next frame from the receiver, reading until the deadline. */
static ps_err next_frame(pso_relp *r, pso_relp_frame *f, int64_t deadline_ms, ps_errmsg *em)
{
    char buf[4096];
    for (;;) {
        size_t got = 0;
        ps_err err = pso_relp_rx_next(&r->rx, f, em);
        if (err != PS_ERR_AGAIN)
            return err;
        if ((err = r->io.recv(r->io.ctx, buf, sizeof buf, &got, deadline_ms, em)) != PS_OK)
            return err;
        if ((err = pso_relp_rx_feed(&r->rx, buf, got)) != PS_OK)
            return ps_errmsg_set(em, err, "out of memory");
    }
}

/* The value of `key=` among the LF-separated offers of an open response. */
static bool offer_has(const char *d, size_t len, const char *key, const char *value)
{
    size_t kl = strlen(key), vl = strlen(value);
    for (size_t i = 0; i < len;) {
        size_t e = i;
        while (e < len && d[e] != '\n')
            e++;
        if (e - i > kl && memcmp(d + i, key, kl) == 0 && d[i + kl] == '=') {
            /* commands=syslog,other: a comma-separated list */
            for (size_t v = i + kl + 1; v + vl <= e;) {
                size_t ve = v;
                while (ve < e && d[ve] != ',')
                    ve++;
                if (ve - v == vl && memcmp(d + v, value, vl) == 0)
                    return true;
                v = ve + 1;
            }
            return false;
        }
        i = e + 1;
    }
    return false;
}

static void note_software(pso_relp *r, const char *d, size_t len)
{
    const char *k = "relp_software=";
    size_t kl = strlen(k);
    r->software[0] = '\0';
    for (size_t i = 0; i + kl <= len; i++) {
        if ((i == 0 || d[i - 1] == '\n') && memcmp(d + i, k, kl) == 0) {
            size_t e = i + kl;
            while (e < len && d[e] != '\n' && d[e] != ',')
                e++;
            snprintf(r->software, sizeof r->software, "%.*s", (int)(e - i - kl), d + i + kl);
            return;
        }
    }
}

ps_err pso_relp_open(pso_relp *r, int64_t deadline_ms, ps_errmsg *em)
{
    static const char offers[] = "relp_version=0\nrelp_software=podstream," PS_VERSION
                                 ",https://github.com/podstream\ncommands=syslog";
    pso_relp_frame f = {0};
    int code = 0;
    const char *text = NULL;
    size_t tl = 0;
    ps_err err;
    pso_relp_rx_reset(&r->rx);
    r->next_txnr = 1;
    r->out.len = 0;
    if ((err = pso_relp_frame_put(&r->out, 1, "open", offers, sizeof offers - 1)) != PS_OK)
        return ps_errmsg_set(em, err, "out of memory");
    if ((err = r->io.send(r->io.ctx, r->out.p, r->out.len, deadline_ms, em)) != PS_OK)
        return err;
    if ((err = next_frame(r, &f, deadline_ms, em)) != PS_OK)
        return err;
    if (f.txnr != 1 || strcmp(f.cmd, "rsp") != 0 || pso_relp_rsp_status(&f, &code, &text, &tl))
        return ps_errmsg_set(em, PS_ERR_PARSE,
                             "RELP: the receiver's answer to open is not "
                             "a response (%s)",
                             f.cmd);
    if (code != 200)
        return ps_errmsg_set(em, PS_ERR_AUTH, "RELP: the receiver refused the session: %d %.*s",
                             code, (int)(tl > 120 ? 120 : tl), text);
    if (!offer_has(f.data, f.len, "commands", "syslog"))
        return ps_errmsg_set(em, PS_ERR_UNSUPPORTED,
                             "RELP: the receiver does not offer the syslog command");
    note_software(r, f.data, f.len);
    r->next_txnr = 2;
    return PS_OK;
}

typedef struct window {
    size_t n, sent, answered, acked; /* acked: the gap-free prefix */
    uint32_t first;                  /* txnr of message 0 */
} window;

/* Takes one frame of the receiver's during a send. */
static ps_err take_answer(pso_relp *r, window *w, const pso_relp_frame *f, ps_errmsg *em)
{
    int code = 0;
    const char *text = NULL;
    size_t tl = 0, i;
    if (f->txnr == 0 && strcmp(f->cmd, "serverclose") == 0)
        return ps_errmsg_set(em, PS_ERR_CLOSED, "RELP: the receiver closed the session");
    if (strcmp(f->cmd, "rsp") != 0 || pso_relp_rsp_status(f, &code, &text, &tl) != PS_OK)
        return ps_errmsg_set(em, PS_ERR_PARSE, "RELP: an unexpected frame from the receiver");
    i = (f->txnr + PSO_RELP_TXNR_MAX - w->first) % PSO_RELP_TXNR_MAX;
    if (f->txnr == 0 || i >= w->sent || r->acked[i])
        return ps_errmsg_set(em, PS_ERR_PARSE,
                             "RELP: an answer to transaction %u, not sent "
                             "or answered already",
                             (unsigned)f->txnr);
    if (code != 200)
        return ps_errmsg_set(em, PS_ERR_NET, "RELP: the receiver answered %d %.*s", code,
                             (int)(tl > 120 ? 120 : tl), text);
    r->acked[i] = true;
    w->answered++;
    while (w->acked < w->sent && r->acked[w->acked])
        w->acked++;
    return PS_OK;
}

/* Frames and sends messages until the window is full or all are out. */
static ps_err fill_window(pso_relp *r, window *w, pso_relp_render_fn render, void *ctx,
                          int64_t deadline_ms, ps_errmsg *em)
{
    ps_err err = PS_OK;
    r->out.len = 0;
    while (err == PS_OK && w->sent < w->n && w->sent - w->answered < PSO_RELP_WINDOW) {
        r->msg.len = 0;
        if ((err = render(ctx, w->sent, &r->msg)) != PS_OK)
            return ps_errmsg_set(em, err, "rendering message %zu", w->sent);
        err = pso_relp_frame_put(&r->out, r->next_txnr, "syslog", r->msg.p, r->msg.len);
        if (err != PS_OK)
            return ps_errmsg_set(em, err, "framing message %zu", w->sent);
        r->next_txnr = txnr_after(r->next_txnr);
        w->sent++;
        if (r->out.len >= OUT_FLUSH) {
            err = r->io.send(r->io.ctx, r->out.p, r->out.len, deadline_ms, em);
            r->out.len = 0;
        }
    }
    if (err == PS_OK && r->out.len > 0)
        err = r->io.send(r->io.ctx, r->out.p, r->out.len, deadline_ms, em);
    return err;
}

ps_err pso_relp_send(pso_relp *r, size_t n, pso_relp_render_fn render, void *ctx, size_t *acked,
                     int64_t deadline_ms, ps_errmsg *em)
{
    window w = {.n = n, .first = r->next_txnr};
    ps_err err = PS_OK;
    *acked = 0;
    if (r->acked_cap < n) {
        bool *a = realloc(r->acked, n * sizeof *a);
        if (!a)
            return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
        r->acked = a;
        r->acked_cap = n;
    }
    if (n)
        memset(r->acked, 0, n * sizeof *r->acked);
    while (err == PS_OK && w.answered < n) {
        pso_relp_frame f = {0};
        if ((err = fill_window(r, &w, render, ctx, deadline_ms, em)) != PS_OK)
            break;
        /* Every frame already here, then wait for at least one more. */
        do {
            if ((err = next_frame(r, &f, deadline_ms, em)) == PS_OK)
                err = take_answer(r, &w, &f, em);
        } while (err == PS_OK && w.answered < w.sent && r->rx.used < r->rx.in.len);
    }
    ps_buf_deinit(&r->msg); /* a huge message does not pin its memory */
    *acked = w.acked;
    return err;
}

void pso_relp_close(pso_relp *r, int64_t deadline_ms)
{
    ps_errmsg em;
    pso_relp_frame f = {0};
    uint32_t t = r->next_txnr;
    r->out.len = 0;
    if (pso_relp_frame_put(&r->out, t, "close", NULL, 0) != PS_OK ||
        r->io.send(r->io.ctx, r->out.p, r->out.len, deadline_ms, &em) != PS_OK)
        return;
    r->next_txnr = txnr_after(t);
    while (next_frame(r, &f, deadline_ms, &em) == PS_OK && f.txnr != t)
        ; /* a serverclose first, or a late answer */
}
