/* ps_out_http: what the HTTP outputs (ClickHouse, Splunk HEC, Sentinel) share.
 *
 * One libcurl easy handle per output instance, reused for every request so the
 * connection (and its TLS session) stays open between batches. TLS comes from the
 * output's `tls:` settings and is always verified (certificate and name); there is no
 * way to turn that off. Every request is bounded by its own timeout and by the
 * batch's deadline. Nothing here logs: headers (Authorization, keys) and bodies never
 * leave the process except to the destination, and error texts carry libcurl's
 * reason and the URL's host, never a header.
 *
 * Used from one output's runner thread only (ps_output.h); libcurl must have been
 * initialised (curl_global_init) by the program. */
#ifndef PS_OUT_HTTP_H
#define PS_OUT_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "podstream/ps_compiler.h"
#include "podstream/ps_error.h"
#include "podstream/ps_mem.h"
#include "podstream/ps_output.h"

typedef struct ps_out_http ps_out_http;

typedef struct ps_out_http_opts {
    const ps_output_tls *tls;   /* borrowed for the instance's life; NULL: system CAs */
    int64_t connect_timeout_ms; /* 0: 10 s */
    int64_t timeout_ms;         /* one whole request; 0: 60 s */
} ps_out_http_opts;

/* One answer. Caller-owned: zero it (or ps_out_http_resp_deinit it) before reuse. */
typedef struct ps_out_http_resp {
    long status;            /* HTTP status; 0 when no answer came (see `error`) */
    bool sent;              /* the request (or part of it) went out: it may have arrived */
    bool tls_refused;       /* no answer: the server's certificate did not verify, or our
                               CA file or client certificate is unusable */
    int64_t retry_after_ms; /* from Retry-After (seconds or HTTP date); -1: none */
    ps_buf body;            /* the answer's body, NUL-terminated */
    char error[256];        /* status 0: why (libcurl's reason); never a header */
} ps_out_http_resp;

/* Makes the instance's handle. *out owned by the caller (ps_out_http_destroy). No
 * connection yet. PS_ERR_NOMEM, PS_ERR_INTERNAL (libcurl refused an option). */
ps_err ps_out_http_create(const ps_out_http_opts *o, ps_out_http **out, ps_errmsg *em);

/* Closes the connection and frees. Accepts NULL. */
void ps_out_http_destroy(ps_out_http *h);

/* POSTs `len` bytes of `body` to `url` with `headers` (NULL-terminated "Name: value"
 * strings, borrowed; may be NULL), and waits at most until `deadline_ms`
 * (ps_plat_mono_ms clock; 0: the timeout only). Fills *resp (its body buffer
 * reused). PS_OK whenever the exchange ended, answer or not (resp->status 0 with
 * resp->error for a refused connection, a TLS failure, a timeout); PS_ERR_NOMEM. */
ps_err ps_out_http_post(ps_out_http *h, const char *url, const char *const *headers,
                        const void *body, size_t len, int64_t deadline_ms, ps_out_http_resp *resp);

/* Frees the answer's body. Accepts a zeroed struct; safe twice. */
void ps_out_http_resp_deinit(ps_out_http_resp *resp);

/* A Retry-After value in milliseconds from now: delta-seconds ("120") or an HTTP
 * date ("Wed, 21 Oct 2026 07:28:00 GMT", compared with `now_s`, Unix seconds; a date
 * in the past is 0). -1 for NULL or text that is neither. Capped at one hour. */
int64_t ps_out_http_retry_after(const char *value, int64_t now_s);

/* Whether an HTTP status (0: no answer) is worth retrying as it is: no answer, 408,
 * 429, 5xx. Anything else is the request's or the credentials' fault. */
bool ps_out_http_transient(long status);

/* Writes into res->message a one-line error for a failed request: "<what>: HTTP 403:
 * <reason>", the reason taken from a JSON error answer (Entra ID's error and the first
 * sentence of its description, Azure's code and message, Splunk's text and code) or
 * else the first 160 bytes of the answer; "<what>: <libcurl's reason>" when no answer
 * came. The answer comes from the destination, so it holds no secret of ours. */
void ps_out_http_describe(const ps_out_http_resp *resp, const char *what, ps_output_result *res);

/* Sets res->status and res->message (printf-style, cut to fit). */
void ps_out_result_set(ps_output_result *res, ps_output_status status, const char *fmt, ...)
    PS_PRINTF(3, 4);

/* Appends `s` as a JSON string (quoted, escaped; invalid UTF-8 is the caller's
 * business: event text was checked when stored). PS_ERR_NOMEM. */
ps_err ps_out_json_string(ps_buf *b, const char *s);

/* Appends the gzip (RFC 1952) compression of `len` bytes at `data` to *out.
 * PS_ERR_NOMEM, PS_ERR_INTERNAL (zlib failed). */
ps_err ps_out_gzip(const void *data, size_t len, ps_buf *out, ps_errmsg *em);

/* Renders one event of a batch into a request body (appending to `out`). */
typedef ps_err (*ps_out_render_fn)(void *ctx, const ps_output_event *ev, ps_buf *out);

/* Fills `body` (emptied first) with `open`, events from index `from` rendered by `fn`
 * and separated by `sep`, then `close`, stopping before an event that would take the
 * body past `limit` bytes (but always taking at least one). Returns the index after
 * the last event taken; on failure returns `from` with *err set (PS_ERR_NOMEM). */
size_t ps_out_pack(const ps_output_batch *b, size_t from, size_t limit, const char *open,
                   const char *sep, const char *close, ps_out_render_fn fn, void *ctx, ps_buf *body,
                   ps_err *err);

/* The delivered_id for a batch whose events [0, next) reached the destination: the
 * last one's id when next is the count, else the largest id all of whose parts are
 * before `next` (a split event is whole or not delivered); 0 when there is none. */
int64_t ps_out_delivered_before(const ps_output_batch *b, size_t next);

/* What every HTTP output instance holds: its settings and secrets (the framework's,
 * valid until destroy), the reused client, the request body being built and the last
 * answer. The first member of each plugin's instance struct. */
typedef struct ps_out_base {
    const ps_output_settings *s;
    ps_secret_ctx *secrets;
    ps_out_http *http;
    ps_buf body;
    ps_out_http_resp resp;
} ps_out_base;

/* Allocates a zeroed instance of `size` bytes that starts with a ps_out_base and sets
 * that up for `env`, each request bounded by `timeout_ms`. *out owned by the caller
 * (ps_out_base_destroy). PS_ERR_NOMEM, or ps_out_http_create's errors. */
ps_err ps_out_base_create(const ps_output_env *env, int64_t timeout_ms, size_t size, void **out,
                          ps_errmsg *em);

/* Frees what ps_out_base_create set up, then the instance. Accepts NULL. */
void ps_out_base_destroy(void *inst);

/* Whether the destination took nothing of the request: it never went out (no
 * connection, TLS refused) or was answered with a refusal (not 2xx). Only a request
 * sent and then not answered (a timeout, a reset) may have arrived. */
bool ps_out_http_nothing_taken(const ps_out_http_resp *resp);

/* Sets `res` after a request the destination refused or did not answer: the message of
 * ps_out_http_describe, RETRY when ps_out_http_transient (after the answer's
 * Retry-After, if any), else FAILED (also for resp->tls_refused: only a new certificate
 * or configuration helps); nothing_sent from ps_out_http_nothing_taken (a plugin that
 * sent earlier requests of the batch clears it). */
void ps_out_http_fail(const ps_out_http_resp *resp, const char *what, ps_output_result *res);

/* Builds the header "<prefix><value of secret option `option`>" (e.g. prefix
 * "Authorization: Splunk "), the secret resolved by ps_out_secret for this request
 * only. *out owned by the caller, who wipes and frees it with ps_secret_free. */
ps_err ps_out_secret_header(const ps_out_base *b, const char *option, const char *raw,
                            const char *prefix, char **out, ps_errmsg *em);

/* Resolves a secret option of output `output` (`${ENV}`, `$secret{}`, or `enc:v1:`
 * bound to device 0 and field "outputs.<output>.<option>") into *plain, owned by the
 * caller and wiped with ps_secret_free. NULL or "" raw gives NULL *plain and PS_OK.
 * Errors name the option, never the value. */
ps_err ps_out_secret(ps_secret_ctx *secrets, const char *output, const char *option,
                     const char *raw, char **plain, ps_errmsg *em);

#endif
