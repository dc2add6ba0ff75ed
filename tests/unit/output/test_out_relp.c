/* ps_out_relp: the frame serializer, the parser of the receiver's frames (whole,
 * byte by byte, malformed, partial), response status lines, and the session
 * against a scripted receiver: the open handshake, the window of unanswered
 * messages, answers out of order, a refused message, serverclose and a receiver
 * that stops answering, each with the gap-free acknowledged prefix. (A real
 * rsyslog imrelp: tests/integration/test_outputs.py, RelpTests.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output/ps_out_relp.h"

static void test_frame_put(void **state)
{
    ps_buf b = {0};
    assert_int_equal(pso_relp_frame_put(&b, 7, "syslog", "hello", 5), PS_OK);
    assert_int_equal(pso_relp_frame_put(&b, 8, "close", NULL, 0), PS_OK);
    assert_int_equal(b.len, strlen("7 syslog 5 hello\n8 close 0\n"));
    assert_memory_equal(b.p, "7 syslog 5 hello\n8 close 0\n", b.len);
    assert_int_equal(pso_relp_frame_put(&b, PSO_RELP_TXNR_MAX + 1, "syslog", "x", 1), PS_ERR_RANGE);
    assert_int_equal(pso_relp_frame_put(&b, 1, "averyveryveryveryveryverylongcommand", NULL, 0),
                     PS_ERR_RANGE);
    ps_buf_deinit(&b);
    (void)state;
}

/* Feeds `in` in pieces of `chunk` bytes and parses every frame; returns how many,
 * and the last non-AGAIN error in *err. */
static size_t parse_all(const char *in, size_t n, size_t chunk, pso_relp_frame *out, size_t max,
                        char (*data)[128], ps_err *err)
{
    pso_relp_rx rx = {0};
    ps_errmsg em;
    size_t got = 0;
    *err = PS_OK;
    for (size_t at = 0; at < n && *err == PS_OK && got < max; at += chunk) {
        size_t k = n - at < chunk ? n - at : chunk;
        assert_int_equal(pso_relp_rx_feed(&rx, in + at, k), PS_OK);
        for (;;) {
            ps_err e = pso_relp_rx_next(&rx, &out[got], &em);
            if (e == PS_ERR_AGAIN)
                break;
            if (e != PS_OK) {
                *err = e;
                break;
            }
            snprintf(data[got], 128, "%.*s", (int)out[got].len, out[got].data);
            if (++got == max)
                break;
        }
    }
    pso_relp_rx_deinit(&rx);
    return got;
}

static void test_parse_whole_and_byte_by_byte(void **state)
{
    static const char in[] = "1 rsp 93 200 OK\nrelp_version=0\nrelp_software=librelp,1.11.0,"
                             "http://librelp.adiscon.com\ncommands=syslog\n"
                             "2 rsp 6 200 OK\n3 rsp 0\n0 serverclose 0\n12 rsp 0 \n";
    pso_relp_frame f[8];
    char data[8][128];
    ps_err err;
    for (size_t chunk = 1; chunk <= sizeof in; chunk += 7) {
        size_t n = parse_all(in, sizeof in - 1, chunk, f, 8, data, &err);
        assert_int_equal(err, PS_OK);
        assert_int_equal(n, 5);
        assert_int_equal(f[0].txnr, 1);
        assert_string_equal(f[0].cmd, "rsp");
        assert_int_equal(strlen(data[0]), 93);
        assert_int_equal(f[1].txnr, 2);
        assert_string_equal(data[1], "200 OK");
        assert_int_equal(f[2].txnr, 3);
        assert_int_equal(f[2].len, 0);
        assert_int_equal(f[3].txnr, 0);
        assert_string_equal(f[3].cmd, "serverclose");
        assert_int_equal(f[4].txnr, 12);
    }
    (void)state;
}

static void test_parse_malformed_and_partial(void **state)
{
    static const char *const bad[] = {
        "x rsp 0\n",  "1234567890 rsp 0\n", "1 r5p 0\n",
        "1  rsp 0\n", "1 rsp 6 200 OKX",    "1 rsp 2\n",
        "1 rsp -1\n", "1 rsp 70000 ",       "1 rsp 6\n200 OK\n",
        "\n",         "1 rsp 1234567890 ",  "1 averyveryveryveryveryverylongcommand 0\n"};
    static const char *const partial[] = {"1",       "12 rs",         "1 rsp",
                                          "1 rsp 6", "1 rsp 6 200 O", "1 rsp 6 200 OK"};
    pso_relp_frame f[2];
    char data[2][128];
    ps_err err;
    pso_relp_rx fresh = {0};
    ps_errmsg em;
    assert_int_equal(pso_relp_rx_next(&fresh, &f[0], &em), PS_ERR_AGAIN); /* nothing fed yet */
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n = parse_all(bad[i], strlen(bad[i]), 64, f, 2, data, &err);
        if (err != PS_ERR_PARSE)
            fail_msg("\"%s\": %d frames, error %d", bad[i], (int)n, (int)err);
    }
    for (size_t i = 0; i < sizeof partial / sizeof partial[0]; i++) {
        assert_int_equal(parse_all(partial[i], strlen(partial[i]), 64, f, 2, data, &err), 0);
        assert_int_equal(err, PS_OK);
    }
    (void)state;
}

static void test_rsp_status(void **state)
{
    pso_relp_frame f = {.txnr = 1, .cmd = "rsp", .data = "200 OK\nrelp_version=0", .len = 21};
    int code = 0;
    const char *text = NULL;
    size_t tl = 0;
    assert_int_equal(pso_relp_rsp_status(&f, &code, &text, &tl), PS_OK);
    assert_int_equal(code, 200);
    assert_int_equal(tl, 2);
    assert_memory_equal(text, "OK", 2);
    f.data = "500 queue full";
    f.len = strlen(f.data);
    assert_int_equal(pso_relp_rsp_status(&f, &code, &text, &tl), PS_OK);
    assert_int_equal(code, 500);
    assert_memory_equal(text, "queue full", tl);
    f.data = "200";
    f.len = 3;
    assert_int_equal(pso_relp_rsp_status(&f, &code, &text, &tl), PS_OK);
    assert_int_equal(tl, 0);
    f.data = "20x OK";
    f.len = 6;
    assert_int_equal(pso_relp_rsp_status(&f, &code, &text, &tl), PS_ERR_PARSE);
    f.data = "2000 OK";
    f.len = 7;
    assert_int_equal(pso_relp_rsp_status(&f, &code, &text, &tl), PS_ERR_PARSE);
    f.len = 0;
    assert_int_equal(pso_relp_rsp_status(&f, &code, &text, &tl), PS_ERR_PARSE);
    (void)state;
}

/* ---- a scripted receiver --------------------------------------------------- */

typedef struct receiver {
    pso_relp_rx rx; /* what the client sent */
    ps_buf held;    /* answers not yet readable, one per line group */
    uint32_t held_txnr[1024];
    int held_code[1024];
    size_t nheld;
    ps_buf out; /* readable by the client */
    size_t out_at;
    size_t chunk;     /* the most one recv gives */
    bool reverse;     /* answer each group of held messages last first */
    size_t refuse_at; /* message (0-based) answered 500; SIZE_MAX: none */
    size_t close_at;  /* serverclose instead of answering this message */
    size_t stop_at;   /* no answer from this message on */
    const char *open_answer;
    size_t messages, outstanding, max_outstanding;
    char last[64];
} receiver;

static void answer(receiver *rv, uint32_t txnr, const char *text)
{
    assert_int_equal(pso_relp_frame_put(&rv->out, txnr, "rsp", text, strlen(text)), PS_OK);
}

static ps_err rv_send(void *ctx, const char *p, size_t len, int64_t deadline, ps_errmsg *em)
{
    receiver *rv = ctx;
    pso_relp_frame f;
    (void)deadline;
    assert_int_equal(pso_relp_rx_feed(&rv->rx, p, len), PS_OK);
    while (pso_relp_rx_next(&rv->rx, &f, em) == PS_OK) {
        if (strcmp(f.cmd, "open") == 0) {
            char offers[256];
            snprintf(offers, sizeof offers, "%.*s", (int)f.len, f.data);
            assert_non_null(strstr(offers, "\ncommands=syslog"));
            answer(rv, f.txnr, rv->open_answer);
        } else if (strcmp(f.cmd, "close") == 0) {
            assert_int_equal(pso_relp_frame_put(&rv->out, f.txnr, "rsp", NULL, 0), PS_OK);
        } else {
            assert_string_equal(f.cmd, "syslog");
            snprintf(rv->last, sizeof rv->last, "%.*s", (int)f.len, f.data);
            size_t i = rv->messages++;
            if (++rv->outstanding > rv->max_outstanding)
                rv->max_outstanding = rv->outstanding;
            if (i >= rv->stop_at)
                continue;
            assert_true(rv->nheld < 1024);
            rv->held_txnr[rv->nheld] = f.txnr;
            rv->held_code[rv->nheld++] = i == rv->close_at ? 0 : i == rv->refuse_at ? 500 : 200;
        }
    }
    return PS_OK;
}

/* Makes the held answers readable (last first when `reverse`). */
static void release(receiver *rv)
{
    for (size_t k = 0; k < rv->nheld; k++) {
        size_t j = rv->reverse ? rv->nheld - 1 - k : k;
        rv->outstanding--;
        if (rv->held_code[j] == 0)
            assert_int_equal(pso_relp_frame_put(&rv->out, 0, "serverclose", NULL, 0), PS_OK);
        else
            answer(rv, rv->held_txnr[j], rv->held_code[j] == 200 ? "200 OK" : "500 queue full");
    }
    rv->nheld = 0;
}

static ps_err rv_recv(void *ctx, char *buf, size_t cap, size_t *got, int64_t deadline,
                      ps_errmsg *em)
{
    receiver *rv = ctx;
    size_t n;
    (void)deadline;
    if (rv->out_at == rv->out.len)
        release(rv);
    if (rv->out_at == rv->out.len)
        return ps_errmsg_set(em, PS_ERR_TIMEOUT, "no answer");
    n = rv->out.len - rv->out_at;
    n = n < rv->chunk ? n : rv->chunk;
    n = n < cap ? n : cap;
    memcpy(buf, rv->out.p + rv->out_at, n);
    rv->out_at += n;
    *got = n;
    return PS_OK;
}

static ps_err render(void *ctx, size_t i, ps_buf *out)
{
    char m[64];
    int n = snprintf(m, sizeof m, "<134>1 - h app - - - message %zu", i);
    (void)ctx;
    return ps_buf_append(out, m, (size_t)n);
}

static void rv_init(receiver *rv, size_t chunk)
{
    memset(rv, 0, sizeof *rv);
    rv->chunk = chunk;
    rv->refuse_at = rv->close_at = rv->stop_at = SIZE_MAX;
    rv->open_answer = "200 OK\nrelp_version=0\nrelp_software=librelp,1.11.0,http://x\n"
                      "commands=syslog";
}

static void rv_deinit(receiver *rv)
{
    pso_relp_rx_deinit(&rv->rx);
    ps_buf_deinit(&rv->out);
    ps_buf_deinit(&rv->held);
}

/* Opens a session and sends n messages; the error, *acked. */
static ps_err run(receiver *rv, size_t n, size_t *acked)
{
    pso_relp r;
    ps_errmsg em;
    ps_err err;
    pso_relp_init(&r, &(pso_relp_io){.ctx = rv, .send = rv_send, .recv = rv_recv});
    err = pso_relp_open(&r, 0, &em);
    if (err == PS_OK)
        err = pso_relp_send(&r, n, render, NULL, acked, 0, &em);
    if (err == PS_OK)
        assert_string_equal(r.software, strstr(rv->open_answer, "librelp") ? "librelp" : "");
    if (err == PS_OK) /* a second batch on the same session goes on with the txnrs */
        err = pso_relp_send(&r, 3, render, NULL, acked, 0, &em);
    if (err == PS_OK)
        pso_relp_close(&r, 0);
    pso_relp_deinit(&r);
    return err;
}

static void test_session_window_and_order(void **state)
{
    receiver rv;
    size_t acked = 0;
    for (size_t chunk = 1; chunk <= 4096; chunk *= 8) {
        for (int rev = 0; rev < 2; rev++) {
            rv_init(&rv, chunk);
            rv.reverse = rev;
            assert_int_equal(run(&rv, 300, &acked), PS_OK);
            assert_int_equal(acked, 3);
            assert_int_equal(rv.messages, 303);
            assert_int_equal(rv.max_outstanding, PSO_RELP_WINDOW);
            assert_string_equal(rv.last, "<134>1 - h app - - - message 2");
            rv_deinit(&rv);
        }
    }
    (void)state;
}

static void test_session_failures_keep_the_acked_prefix(void **state)
{
    receiver rv;
    size_t acked = 99;
    rv_init(&rv, 5);
    rv.refuse_at = 140;
    assert_int_equal(run(&rv, 300, &acked), PS_ERR_NET);
    assert_int_equal(acked, 140);
    rv_deinit(&rv);

    rv_init(&rv, 5);
    rv.close_at = 7;
    assert_int_equal(run(&rv, 300, &acked), PS_ERR_CLOSED);
    assert_int_equal(acked, 7);
    rv_deinit(&rv);

    rv_init(&rv, 5);
    rv.stop_at = 200;
    assert_int_equal(run(&rv, 300, &acked), PS_ERR_TIMEOUT);
    assert_int_equal(acked, 200);
    rv_deinit(&rv);

    /* out of order with a hole: only what precedes the hole counts */
    rv_init(&rv, 5);
    rv.reverse = true;
    rv.stop_at = 50;
    assert_int_equal(run(&rv, 100, &acked), PS_ERR_TIMEOUT);
    assert_int_equal(acked, 50);
    rv_deinit(&rv);
    (void)state;
}

static void test_open_refused_or_without_syslog(void **state)
{
    receiver rv;
    size_t acked = 0;
    rv_init(&rv, 64);
    rv.open_answer = "500 not allowed";
    assert_int_equal(run(&rv, 1, &acked), PS_ERR_AUTH);
    rv_deinit(&rv);
    rv_init(&rv, 64);
    rv.open_answer = "200 OK\nrelp_version=0\ncommands=other,syslogx";
    assert_int_equal(run(&rv, 1, &acked), PS_ERR_UNSUPPORTED);
    rv_deinit(&rv);
    rv_init(&rv, 64);
    rv.open_answer = "200 OK\nrelp_version=0\ncommands=other,syslog";
    assert_int_equal(run(&rv, 1, &acked), PS_OK);
    rv_deinit(&rv);
    rv_init(&rv, 64);
    rv.open_answer = "OK";
    assert_int_equal(run(&rv, 1, &acked), PS_ERR_PARSE);
    rv_deinit(&rv);
    (void)state;
}

static void test_answer_to_unknown_txnr(void **state)
{
    pso_relp r;
    receiver rv;
    ps_errmsg em;
    size_t acked = 0;
    rv_init(&rv, 64);
    pso_relp_init(&r, &(pso_relp_io){.ctx = &rv, .send = rv_send, .recv = rv_recv});
    assert_int_equal(pso_relp_open(&r, 0, &em), PS_OK);
    answer(&rv, 77, "200 OK");
    assert_int_equal(pso_relp_send(&r, 2, render, NULL, &acked, 0, &em), PS_ERR_PARSE);
    assert_non_null(strstr(em.text, "transaction 77"));
    assert_int_equal(acked, 0);
    pso_relp_deinit(&r);
    rv_deinit(&rv);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_put),
        cmocka_unit_test(test_parse_whole_and_byte_by_byte),
        cmocka_unit_test(test_parse_malformed_and_partial),
        cmocka_unit_test(test_rsp_status),
        cmocka_unit_test(test_session_window_and_order),
        cmocka_unit_test(test_session_failures_keep_the_acked_prefix),
        cmocka_unit_test(test_open_refused_or_without_syslog),
        cmocka_unit_test(test_answer_to_unknown_txnr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
