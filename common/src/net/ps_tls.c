/* ps_tls: see ps_tls.h. */
#include "net/ps_tls.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct ps_tls {
    SSL_CTX *ctx;
    SSL *ssl;
    ps_socket sock;
};

static ps_err ssl_err(ps_err code, ps_errmsg *em, const char *what)
{
    unsigned long e = ERR_get_error();
    char buf[256] = "";
    if (e)
        ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return ps_errmsg_set(em, code, "%s%s%s", what, buf[0] ? ": " : "", buf);
}

/* An IPv6 address, or only digits and dots: verified as an address, not a name. */
static bool is_address(const char *host)
{
    return host && (strchr(host, ':') || strspn(host, "0123456789.") == strlen(host));
}

static ps_err make_ctx(ps_tls *t, const ps_tls_opts *o, ps_errmsg *em)
{
    t->ctx = SSL_CTX_new(TLS_client_method());
    if (!t->ctx)
        return ssl_err(PS_ERR_NOMEM, em, "TLS");
    SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
    if (o->ca_file ? SSL_CTX_load_verify_locations(t->ctx, o->ca_file, NULL) != 1
                   : SSL_CTX_set_default_verify_paths(t->ctx) != 1)
        return ssl_err(PS_ERR_INVALID, em, o->ca_file ? o->ca_file : "the system CA store");
    if (o->cert_file && SSL_CTX_use_certificate_chain_file(t->ctx, o->cert_file) != 1)
        return ssl_err(PS_ERR_INVALID, em, o->cert_file);
    if (o->key_file && SSL_CTX_use_PrivateKey_file(t->ctx, o->key_file, SSL_FILETYPE_PEM) != 1)
        return ssl_err(PS_ERR_INVALID, em, o->key_file);
    t->ssl = SSL_new(t->ctx);
    if (!t->ssl || SSL_set_fd(t->ssl, (int)t->sock) != 1)
        return ssl_err(PS_ERR_NOMEM, em, "TLS");
    if (is_address(o->host)) {
        if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), o->host) != 1)
            return ssl_err(PS_ERR_INVALID, em, "TLS: the address to verify");
    } else if (SSL_set1_host(t->ssl, o->host) != 1 ||
               SSL_set_tlsext_host_name(t->ssl, o->host) != 1) {
        return ssl_err(PS_ERR_INVALID, em, "TLS: the name to verify");
    }
    return PS_OK;
}

/* Waits for what OpenSSL asked for; PS_ERR_TIMEOUT past the deadline. */
static ps_err wait_io(ps_tls *t, int rc, int64_t deadline_ms, ps_errmsg *em, const char *what)
{
    int e = SSL_get_error(t->ssl, rc);
    int64_t left = deadline_ms - ps_plat_mono_ms();
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
        if (e == SSL_ERROR_ZERO_RETURN)
            return ps_errmsg_set(em, PS_ERR_CLOSED, "%s: the peer closed the connection", what);
        return ssl_err(PS_ERR_NET, em, what);
    }
    if (left <= 0)
        return ps_errmsg_set(em, PS_ERR_TIMEOUT, "%s: timed out", what);
    (void)ps_plat_socket_wait(t->sock, e == SSL_ERROR_WANT_READ, e == SSL_ERROR_WANT_WRITE,
                              (int)left);
    return PS_OK;
}

ps_err ps_tls_connect(ps_socket sock, const ps_tls_opts *o, int64_t deadline_ms, ps_tls **out,
                      ps_errmsg *em)
{
    ps_tls *t = calloc(1, sizeof *t);
    ps_err err;
    int rc;
    *out = NULL;
    if (!t)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    t->sock = sock;
    ERR_clear_error();
    if ((err = make_ctx(t, o, em)) != PS_OK)
        goto fail;
    while ((rc = SSL_connect(t->ssl)) != 1) {
        long v = SSL_get_verify_result(t->ssl);
        if (v != X509_V_OK) {
            err = ps_errmsg_set(em, PS_ERR_AUTH, "TLS: the certificate of %s does not verify: %s",
                                o->host, X509_verify_cert_error_string(v));
            ERR_clear_error();
            goto fail;
        }
        if ((err = wait_io(t, rc, deadline_ms, em, "TLS handshake")) != PS_OK)
            goto fail;
    }
    *out = t;
    return PS_OK;
fail:
    ps_tls_destroy(t);
    return err;
}

ps_err ps_tls_write_all(ps_tls *t, const void *buf, size_t len, int64_t deadline_ms, ps_errmsg *em)
{
    const char *p = buf;
    while (len > 0) {
        size_t n = 0;
        int rc = SSL_write_ex(t->ssl, p, len, &n);
        if (rc == 1) {
            p += n;
            len -= n;
            continue;
        }
        ps_err err = wait_io(t, rc, deadline_ms, em, "TLS write");
        if (err != PS_OK)
            return err;
    }
    return PS_OK;
}

ps_err ps_tls_read(ps_tls *t, void *buf, size_t len, size_t *got, int64_t deadline_ms,
                   ps_errmsg *em)
{
    *got = 0;
    for (;;) {
        int rc = SSL_read_ex(t->ssl, buf, len, got);
        if (rc == 1)
            return PS_OK;
        ps_err err = wait_io(t, rc, deadline_ms, em, "TLS read");
        if (err != PS_OK)
            return err;
    }
}

ps_err ps_tls_check_open(ps_tls *t, ps_errmsg *em)
{
    char buf[4096];
    for (;;) {
        size_t n = 0;
        int rc = SSL_read_ex(t->ssl, buf, sizeof buf, &n);
        if (rc == 1)
            continue;
        int e = SSL_get_error(t->ssl, rc);
        ERR_clear_error();
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return PS_OK;
        if (e == SSL_ERROR_ZERO_RETURN)
            return ps_errmsg_set(em, PS_ERR_CLOSED, "the receiver closed the connection");
        return ps_errmsg_set(em, PS_ERR_NET, "the connection to the receiver failed");
    }
}

void ps_tls_destroy(ps_tls *t)
{
    if (!t)
        return;
    if (t->ssl) {
        (void)SSL_shutdown(t->ssl);
        SSL_free(t->ssl);
    }
    SSL_CTX_free(t->ctx);
    ERR_clear_error();
    free(t);
}
