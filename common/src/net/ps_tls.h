/* ps_tls: a TLS client over a connected socket (OpenSSL), for the outputs that speak
 * raw TLS (syslog, RFC 5425). Verification of the peer's certificate chain and of
 * its name (or IP address) is always on; there is no switch to turn it off.
 * One ps_tls is used by one thread at a time. */
#ifndef PS_TLS_H
#define PS_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "podstream/ps_error.h"
#include "podstream/ps_platform.h"

typedef struct ps_tls ps_tls;

typedef struct ps_tls_opts {
    const char *host;      /* the name (or address) the certificate must carry */
    const char *ca_file;   /* PEM CAs; NULL: the system store */
    const char *cert_file; /* client certificate (PEM), or NULL */
    const char *key_file;  /* its key (PEM, unencrypted), or NULL */
} ps_tls_opts;

/* Runs the handshake on `sock` (connected, non-blocking) until deadline_ms
 * (ps_plat_mono_ms clock). *out owned by the caller (ps_tls_destroy); the socket
 * stays the caller's. PS_ERR_NET/PS_ERR_TIMEOUT, or PS_ERR_AUTH when the peer's
 * certificate does not verify, with OpenSSL's reason ("certificate has expired",
 * "unable to get local issuer certificate") in em. */
ps_err ps_tls_connect(ps_socket sock, const ps_tls_opts *o, int64_t deadline_ms, ps_tls **out,
                      ps_errmsg *em);

/* Writes all len bytes by deadline_ms. */
ps_err ps_tls_write_all(ps_tls *t, const void *buf, size_t len, int64_t deadline_ms, ps_errmsg *em);

/* Reads up to len bytes, waiting until deadline_ms for the first one: PS_OK with
 * *got > 0, PS_ERR_TIMEOUT, PS_ERR_CLOSED at the peer's close_notify, PS_ERR_NET. */
ps_err ps_tls_read(ps_tls *t, void *buf, size_t len, size_t *got, int64_t deadline_ms,
                   ps_errmsg *em);

/* PS_OK while the peer has neither closed nor reset the connection (reads and drops
 * anything it sent); PS_ERR_CLOSED or PS_ERR_NET otherwise. Does not wait. */
ps_err ps_tls_check_open(ps_tls *t, ps_errmsg *em);

/* Sends close_notify (without waiting) and frees. Accepts NULL. */
void ps_tls_destroy(ps_tls *t);

#endif
