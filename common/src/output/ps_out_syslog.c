/* The Syslog output: RFC 5424 messages, the event JSON (or a CEF or LEEF rendering)
 * as MSG, over TLS (RFC 5425) or plain TCP with octet-counting framing
 * ("LEN SP MSG"), or over UDP (RFC 5426, one message per datagram).
 *
 * Syslog has no application acknowledgement, so a batch over TCP or TLS counts as
 * delivered once the receiver's TCP stack has acknowledged every byte of it (the
 * socket's send queue is empty) and the connection is still open: a receiver that
 * went away meanwhile makes the batch go again (a duplicate at worst). UDP has no
 * acknowledgement at all: what is sent counts as delivered.
 *
 * RELP (`transport: relp`, ps_out_relp.c) does have one: the receiver answers each
 * message once it has taken it, so a batch counts as delivered up to the last
 * event whose every part was answered, and the rest goes again on a new
 * connection (counted as possible duplicates by the framework). RELP runs over TLS
 * when `tls:` names a CA file or a client certificate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/ps_tls.h"
#include "output/ps_out_relp.h"
#include "output/ps_out_syslog_fmt.h"
#include "podstream/ps_log.h"
#include "podstream/ps_mem.h"
#include "podstream/ps_platform.h"

enum { T_TLS, T_TCP, T_UDP, T_RELP };

typedef struct syslog_out {
    const syslog_opts *o;
    const ps_output_settings *s;
    ps_socket sock;
    bool connected;
    ps_tls *tls;
    ps_buf buf;
    pso_relp relp;
    const ps_output_batch *batch; /* the one being sent over RELP */
    char host_port[300];
} syslog_out;

static bool uses_tls(const syslog_opts *o, const ps_output_settings *s)
{
    return o->transport == T_TLS ||
           (o->transport == T_RELP && (s->tls.ca_file || s->tls.cert_file));
}

static void disconnect(syslog_out *so)
{
    ps_tls_destroy(so->tls);
    so->tls = NULL;
    if (so->connected)
        ps_plat_socket_close(so->sock);
    so->connected = false;
}

static int port_of(const syslog_opts *o)
{
    if (o->port > 0)
        return (int)o->port;
    if (o->transport == T_RELP)
        return PSO_RELP_DEFAULT_PORT;
    return o->transport == T_TLS ? 6514 : 514;
}

static ps_err connect_now(syslog_out *so, int64_t deadline, ps_errmsg *em)
{
    int64_t left = deadline - ps_plat_mono_ms();
    int64_t cap = so->o->connect_timeout_ms;
    ps_err err;
    if (left > cap)
        left = cap;
    if (left <= 0)
        return ps_errmsg_set(em, PS_ERR_TIMEOUT, "no time left to connect");
    err = ps_plat_socket_connect(so->o->host, port_of(so->o), so->o->transport == T_UDP, (int)left,
                                 &so->sock, em);
    if (err != PS_OK)
        return err;
    so->connected = true;
    if (uses_tls(so->o, so->s)) {
        ps_tls_opts t = {.host = so->o->host,
                         .ca_file = so->s->tls.ca_file,
                         .cert_file = so->s->tls.cert_file,
                         .key_file = so->s->tls.key_file};
        int64_t until = ps_plat_mono_ms() + cap;
        err = ps_tls_connect(so->sock, &t, until < deadline ? until : deadline, &so->tls, em);
        if (err != PS_OK) {
            disconnect(so);
            return err;
        }
    }
    if (so->o->transport == T_RELP && (err = pso_relp_open(&so->relp, deadline, em)) != PS_OK) {
        disconnect(so);
        return err;
    }
    if (so->o->transport == T_RELP)
        ps_log(PS_LOG_INFO, PS_LOG_NO_DEVICE, "output %s: connected to %s over RELP (%s)",
               so->s->name, so->host_port, so->relp.software[0] ? so->relp.software : "?");
    else
        ps_log(PS_LOG_INFO, PS_LOG_NO_DEVICE, "output %s: connected to %s", so->s->name,
               so->host_port);
    return PS_OK;
}

/* Writes everything by the deadline, over TLS or the bare socket. */
static ps_err send_all(syslog_out *so, const char *p, size_t len, int64_t deadline, ps_errmsg *em)
{
    if (so->tls)
        return ps_tls_write_all(so->tls, p, len, deadline, em);
    while (len > 0) {
        size_t n = 0;
        int64_t left = deadline - ps_plat_mono_ms();
        ps_err err = ps_plat_socket_send(so->sock, p, len, &n, em);
        if (err == PS_ERR_AGAIN || (err == PS_OK && n == 0)) {
            if (left <= 0)
                return ps_errmsg_set(em, PS_ERR_TIMEOUT, "sending: timed out");
            (void)ps_plat_socket_wait(so->sock, false, true, (int)left);
            continue;
        }
        if (err != PS_OK)
            return err;
        p += n;
        len -= n;
    }
    return PS_OK;
}

/* Reads what has arrived, waiting until the deadline for the first byte. */
static ps_err recv_some(syslog_out *so, char *buf, size_t cap, size_t *got, int64_t deadline,
                        ps_errmsg *em)
{
    if (so->tls) {
        ps_err err = ps_tls_read(so->tls, buf, cap, got, deadline, em);
        if (err == PS_ERR_NET && em) { /* OpenSSL often gives no reason for a reset */
            char why[sizeof em->text];
            snprintf(why, sizeof why, "%s", em->text);
            return ps_errmsg_set(em, err, "the connection to %s broke (%s)", so->host_port, why);
        }
        return err;
    }
    for (;;) {
        int64_t left = deadline - ps_plat_mono_ms();
        ps_err err = ps_plat_socket_recv(so->sock, buf, cap, got, em);
        if (err == PS_ERR_CLOSED)
            return ps_errmsg_set(em, err, "%s closed the connection", so->host_port);
        if (err != PS_ERR_AGAIN)
            return err;
        if (left <= 0)
            return ps_errmsg_set(em, PS_ERR_TIMEOUT, "%s did not answer in time", so->host_port);
        (void)ps_plat_socket_wait(so->sock, true, false, (int)left);
    }
}

static ps_err relp_send_cb(void *ctx, const char *p, size_t len, int64_t deadline, ps_errmsg *em)
{
    return send_all(ctx, p, len, deadline, em);
}

static ps_err relp_recv_cb(void *ctx, char *buf, size_t cap, size_t *got, int64_t deadline,
                           ps_errmsg *em)
{
    return recv_some(ctx, buf, cap, got, deadline, em);
}

static ps_err relp_render_cb(void *ctx, size_t i, ps_buf *out)
{
    syslog_out *so = ctx;
    return pso_syslog_render(so->o, &so->batch->events[i], out);
}

/* The last id of the first `acked` events whose every part is among them. */
static int64_t acked_through(const ps_output_batch *b, size_t acked)
{
    if (acked == 0)
        return 0;
    if (acked < b->count) {
        while (acked > 0 && b->events[acked - 1].id == b->events[acked].id)
            acked--; /* a split event counts once all its parts are in */
        if (acked == 0)
            return 0;
    }
    return b->events[acked - 1].id;
}

/* Sends the batch over RELP; *through: the last id the receiver took whole. */
static ps_err relp_deliver(syslog_out *so, const ps_output_batch *b, int64_t *through,
                           ps_errmsg *em)
{
    size_t acked = 0;
    ps_err err;
    so->batch = b;
    err = pso_relp_send(&so->relp, b->count, relp_render_cb, so, &acked, ps_output_deadline(b), em);
    so->batch = NULL;
    *through = acked_through(b, acked);
    return err;
}

/* Still open: the receiver has neither closed nor reset the connection. */
static ps_err check_open(syslog_out *so, ps_errmsg *em)
{
    char b[512];
    size_t n = 0;
    ps_err err;
    if (so->tls)
        return ps_tls_check_open(so->tls, em);
    while ((err = ps_plat_socket_recv(so->sock, b, sizeof b, &n, em)) == PS_OK)
        ;
    return err == PS_ERR_AGAIN ? PS_OK : err;
}

/* Waits until the receiver's TCP has acknowledged every byte sent. */
static ps_err wait_acked(syslog_out *so, int64_t deadline, ps_errmsg *em)
{
    for (;;) {
        size_t unacked = 0;
        ps_err err = ps_plat_socket_unacked(so->sock, &unacked);
        if (err == PS_ERR_UNSUPPORTED)
            return check_open(so, em);
        if (err != PS_OK)
            return ps_errmsg_set(em, PS_ERR_NET, "the connection to %s failed", so->host_port);
        if ((err = check_open(so, em)) != PS_OK)
            return err;
        if (unacked == 0)
            return PS_OK;
        if (ps_plat_mono_ms() >= deadline)
            return ps_errmsg_set(em, PS_ERR_TIMEOUT,
                                 "%s did not take %zu bytes in time (is it blocked?)",
                                 so->host_port, unacked);
        ps_plat_sleep_ms(2);
    }
}

/* Frames and sends events [from, to) as one write (TCP, TLS), or one datagram each. */
static ps_err send_range(syslog_out *so, const ps_output_batch *b, size_t from, size_t to,
                         int64_t deadline, ps_errmsg *em)
{
    ps_err err = PS_OK;
    so->buf.len = 0;
    for (size_t i = from; i < to && err == PS_OK; i++) {
        size_t start = so->buf.len;
        if (so->o->transport != T_UDP)
            err = ps_buf_append(&so->buf, "0000000000 ", 11); /* the length, filled below */
        size_t msg = so->buf.len;
        if (err == PS_OK)
            err = pso_syslog_render(so->o, &b->events[i], &so->buf);
        if (err != PS_OK)
            return ps_errmsg_set(em, err, "rendering event %lld", (long long)b->events[i].id);
        if (so->o->transport == T_UDP) {
            err = send_all(so, so->buf.p + start, so->buf.len - start, deadline, em);
            so->buf.len = 0;
            continue;
        }
        /* Octet counting: the length in decimal, then a space, then the message. */
        char head[16];
        int hl = snprintf(head, sizeof head, "%zu ", so->buf.len - msg);
        memmove(so->buf.p + start + hl, so->buf.p + msg, so->buf.len - msg);
        memcpy(so->buf.p + start, head, (size_t)hl);
        so->buf.len = start + (size_t)hl + (so->buf.len - msg);
    }
    if (err == PS_OK && so->buf.len > 0)
        err = send_all(so, so->buf.p, so->buf.len, deadline, em);
    return err;
}

static void syslog_deliver(void *inst, const ps_output_batch *b, ps_output_result *res)
{
    syslog_out *so = inst;
    ps_errmsg em;
    ps_err err = PS_OK;
    int64_t deadline = ps_output_deadline(b);
    em.text[0] = '\0';
    if (so->connected && so->o->transport != T_UDP && check_open(so, &em) != PS_OK)
        disconnect(so); /* the receiver restarted meanwhile: a new connection */
    if (!so->connected && (err = connect_now(so, deadline, &em)) != PS_OK)
        res->nothing_sent = true;
    if (err == PS_OK && so->o->transport == T_RELP) {
        err = relp_deliver(so, b, &res->delivered_id, &em);
    }
    for (size_t from = 0; err == PS_OK && so->o->transport != T_RELP && from < b->count;
         from += 256) {
        size_t to = from + 256 < b->count ? from + 256 : b->count;
        err = send_range(so, b, from, to, ps_output_deadline(b), &em);
    }
    if (err == PS_OK && so->o->transport != T_UDP && so->o->transport != T_RELP)
        err = wait_acked(so, ps_output_deadline(b), &em);
    if (so->buf.cap > (1u << 22)) {
        ps_buf_deinit(&so->buf); /* a huge event does not pin its memory */
    }
    if (err == PS_OK) {
        res->status = PS_OUTPUT_DELIVERED;
        res->delivered_id = b->events[b->count - 1].id;
        return;
    }
    disconnect(so);
    res->status = err == PS_ERR_AUTH || err == PS_ERR_INVALID ? PS_OUTPUT_FAILED : PS_OUTPUT_RETRY;
    snprintf(res->message, sizeof res->message, "%.*s", (int)sizeof res->message - 1, em.text);
}

static ps_err syslog_create(const ps_output_env *env, const void *options, ps_output_limits *limits,
                            void **out, ps_errmsg *em)
{
    const syslog_opts *o = options;
    syslog_out *so = calloc(1, sizeof *so);
    if (!so)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    so->o = o;
    so->s = env->settings;
    snprintf(so->host_port, sizeof so->host_port, "%s:%d", o->host, port_of(o));
    pso_relp_init(&so->relp, &(pso_relp_io){.ctx = so, .send = relp_send_cb, .recv = relp_recv_cb});
    /* Room for the header and structured data around the event. */
    limits->max_event_bytes = (size_t)o->max_message_bytes > 1024
                                  ? (size_t)o->max_message_bytes - 1024
                                  : (size_t)o->max_message_bytes / 2;
    if (o->transport == T_UDP && limits->max_event_bytes > 64000)
        limits->max_event_bytes = 64000;
    *out = so;
    return PS_OK;
}

static void syslog_destroy(void *inst)
{
    syslog_out *so = inst;
    if (!so)
        return;
    if (so->connected && so->o->transport == T_RELP)
        pso_relp_close(&so->relp, ps_plat_mono_ms() + 500); /* the receiver logs no error */
    disconnect(so);
    pso_relp_deinit(&so->relp);
    ps_buf_deinit(&so->buf);
    free(so);
}

static void syslog_check(const ps_output_settings *s, const void *options, const char *path,
                         ps_diag *diag)
{
    const syslog_opts *o = options;
    if (!uses_tls(o, s) && (s->tls.ca_file || s->tls.cert_file))
        ps_diag_add(diag, PS_DIAG_WARNING, s->pos.file, s->pos.line, s->pos.col, path,
                    "tls: is ignored with transport %s", o->transport == T_TCP ? "tcp" : "udp");
}

const ps_output_plugin ps_out_syslog_plugin = {
    .name = "syslog",
    .summary = "RFC 5424 syslog over TLS (RFC 5425), TCP, UDP or RELP (acknowledged, plain or "
               "TLS): the event as JSON, CEF or LEEF.",
    .options = &pso_syslog_table,
    .options_size = sizeof(syslog_opts),
    .max_batch_events = 0,
    .max_batch_bytes = 0,
    .max_event_bytes = 0, /* from max_message_size */
    .oversized_default = PS_OUTPUT_OVERSIZED_SPLIT,
    .check = syslog_check,
    .create = syslog_create,
    .deliver = syslog_deliver,
    .destroy = syslog_destroy,
};
