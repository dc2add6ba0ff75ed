/* The HTTP outputs' shared client: one reused libcurl handle, verified TLS, bounded
 * waits, Retry-After, and the small encoders they all need. */
#include "output/ps_out_http.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
/* next_in as a pointer to const: the input is the caller's. */
#define ZLIB_CONST
#include <zlib.h>

#include "podstream/ps_platform.h"
#include "podstream/ps_secret.h"

/* An answer body is read for its error text; nothing we send to needs more. */
#define BODY_MAX          (64 * 1024)
#define RETRY_AFTER_MAXMS (3600LL * 1000)

struct ps_out_http {
    CURL *curl;
    ps_out_http_opts opts;
    ps_out_http_resp *resp; /* the answer being read */
    char errbuf[CURL_ERROR_SIZE];
};

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    ps_out_http *h = ud;
    size_t len = size * n;
    size_t room = h->resp->body.len < BODY_MAX ? BODY_MAX - h->resp->body.len : 0;
    if (room && ps_buf_append(&h->resp->body, data, len < room ? len : room) != PS_OK)
        return 0; /* out of memory: libcurl ends the transfer with a write error */
    return len;
}

static ps_err set_tls(ps_out_http *h, ps_errmsg *em)
{
    const ps_output_tls *t = h->opts.tls;
    CURLcode rc = CURLE_OK;

    /* Verification is not a setting: a destination with a certificate we cannot
     * check gets nothing. */
    curl_easy_setopt(h->curl, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h->curl, CURLOPT_SSL_VERIFYHOST, 2L);
    if (t && t->ca_file)
        rc = curl_easy_setopt(h->curl, CURLOPT_CAINFO, t->ca_file);
    if (rc == CURLE_OK && t && t->cert_file)
        rc = curl_easy_setopt(h->curl, CURLOPT_SSLCERT, t->cert_file);
    if (rc == CURLE_OK && t && t->key_file)
        rc = curl_easy_setopt(h->curl, CURLOPT_SSLKEY, t->key_file);
    if (rc != CURLE_OK)
        return ps_errmsg_set(em, PS_ERR_INTERNAL, "libcurl refused the TLS settings: %s",
                             curl_easy_strerror(rc));
    return PS_OK;
}

ps_err ps_out_http_create(const ps_out_http_opts *o, ps_out_http **out, ps_errmsg *em)
{
    ps_out_http *h = calloc(1, sizeof *h);
    char ua[160], os[120];
    ps_err err = PS_OK;

    *out = NULL;
    if (!h)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    h->opts = *o;
    if (h->opts.connect_timeout_ms <= 0)
        h->opts.connect_timeout_ms = 10000;
    if (h->opts.timeout_ms <= 0)
        h->opts.timeout_ms = 60000;
    h->curl = curl_easy_init();
    if (!h->curl) {
        err = ps_errmsg_set(em, PS_ERR_NOMEM, "libcurl could not make a handle");
        goto cleanup;
    }
    curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h->curl, CURLOPT_ERRORBUFFER, h->errbuf);
    curl_easy_setopt(h->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)h->opts.connect_timeout_ms);
    curl_easy_setopt(h->curl, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, h);
    ps_plat_os_name(os, sizeof os);
    snprintf(ua, sizeof ua, "podstream/%s (%s)", PS_VERSION, os);
    curl_easy_setopt(h->curl, CURLOPT_USERAGENT, ua);
    err = set_tls(h, em);
cleanup:
    if (err != PS_OK) {
        ps_out_http_destroy(h);
        return err;
    }
    *out = h;
    return PS_OK;
}

void ps_out_http_destroy(ps_out_http *h)
{
    if (!h)
        return;
    if (h->curl)
        curl_easy_cleanup(h->curl);
    free(h);
}

void ps_out_http_resp_deinit(ps_out_http_resp *resp)
{
    if (resp)
        ps_buf_deinit(&resp->body);
}

/* Header strings may carry credentials: wiped before libcurl frees its copies. */
static void free_headers(struct curl_slist *list)
{
    for (struct curl_slist *l = list; l; l = l->next) {
        volatile char *p = l->data;
        while (*p)
            *p++ = 0;
    }
    curl_slist_free_all(list);
}

static int64_t request_timeout(const ps_out_http *h, int64_t deadline_ms)
{
    int64_t t = h->opts.timeout_ms;
    if (deadline_ms > 0) {
        int64_t left = deadline_ms - ps_plat_mono_ms();
        if (left < t)
            t = left;
    }
    return t;
}

static void read_answer(ps_out_http *h, CURLcode rc, ps_out_http_resp *resp)
{
    struct curl_header *hdr = NULL;
    long request_bytes = 0;

    /* Bytes of request headers written: 0 when it never left (no connection, TLS). */
    if (curl_easy_getinfo(h->curl, CURLINFO_REQUEST_SIZE, &request_bytes) == CURLE_OK)
        resp->sent = request_bytes > 0;
    if (rc != CURLE_OK) {
        snprintf(resp->error, sizeof resp->error, "%s",
                 h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc));
        resp->tls_refused = rc == CURLE_PEER_FAILED_VERIFICATION ||
                            rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_SSL_CERTPROBLEM;
        return;
    }
    curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &resp->status);
    if (curl_easy_header(h->curl, "Retry-After", 0, CURLH_HEADER, -1, &hdr) == CURLHE_OK)
        resp->retry_after_ms = ps_out_http_retry_after(hdr->value, (int64_t)time(NULL));
}

ps_err ps_out_http_post(ps_out_http *h, const char *url, const char *const *headers,
                        const void *body, size_t len, int64_t deadline_ms, ps_out_http_resp *resp)
{
    struct curl_slist *list = NULL;
    int64_t timeout = request_timeout(h, deadline_ms);
    ps_err err = PS_OK;
    CURLcode rc;

    resp->status = 0;
    resp->sent = false;
    resp->tls_refused = false;
    resp->retry_after_ms = -1;
    resp->error[0] = '\0';
    resp->body.len = 0;
    if (resp->body.p)
        resp->body.p[0] = '\0';
    if (timeout < 1) {
        snprintf(resp->error, sizeof resp->error, "not sent: the output is stopping");
        return PS_OK;
    }
    /* libcurl would wait for "100 Continue" before a large body: a round trip per
     * batch for nothing, as every destination here reads what it is sent. */
    list = curl_slist_append(list, "Expect:");
    for (size_t i = 0; list && headers && headers[i]; i++) {
        struct curl_slist *next = curl_slist_append(list, headers[i]);
        if (!next) {
            free_headers(list);
            list = NULL;
            break;
        }
        list = next;
    }
    if (!list) {
        err = PS_ERR_NOMEM;
        goto cleanup;
    }
    h->errbuf[0] = '\0';
    h->resp = resp;
    curl_easy_setopt(h->curl, CURLOPT_URL, url);
    curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, (long)timeout);
    rc = curl_easy_perform(h->curl);
    read_answer(h, rc, resp);
    if (rc == CURLE_WRITE_ERROR && !resp->body.p)
        err = PS_ERR_NOMEM;
cleanup:
    /* The handle keeps no pointer to the headers or body once this returns. */
    if (h->curl) {
        curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, NULL);
        curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, NULL);
    }
    free_headers(list);
    h->resp = NULL;
    return err;
}

int64_t ps_out_http_retry_after(const char *value, int64_t now_s)
{
    int64_t ms;

    if (!value)
        return -1;
    while (*value == ' ' || *value == '\t')
        value++;
    if (isdigit((unsigned char)*value)) {
        char *end;
        unsigned long long s = strtoull(value, &end, 10);
        while (*end == ' ' || *end == '\t')
            end++;
        if (*end)
            return -1;
        ms = s > (unsigned long long)(RETRY_AFTER_MAXMS / 1000) ? RETRY_AFTER_MAXMS
                                                                : (int64_t)s * 1000;
        return ms;
    }
    {
        time_t at = curl_getdate(value, NULL);
        if (at == (time_t)-1)
            return -1;
        ms = ((int64_t)at - now_s) * 1000;
    }
    if (ms < 0)
        return 0;
    return ms > RETRY_AFTER_MAXMS ? RETRY_AFTER_MAXMS : ms;
}

bool ps_out_http_transient(long status)
{
    return status == 0 || status == 408 || status == 429 || status >= 500;
}

/* The reason in an error answer of the shapes our destinations use: Entra ID's
 * {"error": "invalid_client", "error_description": "AADSTS...: ...."}, Azure's
 * {"error": {"code": .., "message": ..}}, Splunk's {"text": .., "code": N}. Only
 * the first sentence of a description: the rest is trace ids and advice. */
static bool json_reason(const char *body, char *out, size_t len)
{
    cJSON *root = body ? cJSON_Parse(body) : NULL;
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "error");
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(root, "text");
    const cJSON *a = NULL, *b = NULL;
    bool ok = false;

    if (cJSON_IsString(err)) {
        a = err;
        b = cJSON_GetObjectItemCaseSensitive(root, "error_description");
    } else if (cJSON_IsObject(err)) {
        a = cJSON_GetObjectItemCaseSensitive(err, "code");
        b = cJSON_GetObjectItemCaseSensitive(err, "message");
    }
    if (a && cJSON_IsString(a)) {
        const char *d = b && cJSON_IsString(b) ? b->valuestring : "";
        const char *stop = strstr(d, ". ");
        int dn = stop ? (int)(stop - d + 1) : (int)strlen(d);
        snprintf(out, len, "%s%s%.*s", a->valuestring, dn ? ": " : "", dn, d);
        ok = true;
    } else if (text && cJSON_IsString(text)) {
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(root, "code");
        if (code && cJSON_IsNumber(code))
            snprintf(out, len, "%s (code %d)", text->valuestring, code->valueint);
        else
            snprintf(out, len, "%s", text->valuestring);
        ok = true;
    }
    cJSON_Delete(root);
    return ok;
}

void ps_out_http_describe(const ps_out_http_resp *resp, const char *what, ps_output_result *res)
{
    char text[200];
    size_t n = 0;

    if (resp->status == 0) {
        ps_out_result_set(res, res->status, "%s: %s", what,
                          resp->error[0] ? resp->error : "no answer");
        return;
    }
    if (json_reason(resp->body.p, text, sizeof text)) {
        n = strlen(text);
    } else {
        for (const char *p = resp->body.p; p && *p && n < 160; p++)
            text[n++] = (unsigned char)*p < 0x20 ? ' ' : *p;
        text[n] = '\0';
    }
    for (size_t i = 0; i < n; i++)
        text[i] = (unsigned char)text[i] < 0x20 ? ' ' : text[i];
    while (n && text[n - 1] == ' ')
        n--;
    text[n] = '\0';
    ps_out_result_set(res, res->status, "%s: HTTP %ld%s%s", what, resp->status, n ? ": " : "",
                      text);
}

void ps_out_result_set(ps_output_result *res, ps_output_status status, const char *fmt, ...)
{
    va_list ap;
    res->status = status;
    va_start(ap, fmt);
    vsnprintf(res->message, sizeof res->message, fmt, ap);
    va_end(ap);
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "ps_out_json_string reads 8 bytes as a little-endian word"
#endif

/* Which of the 8 bytes at p (a little-endian word) needs escaping: a control
 * character, '"' or '\\'; 8 when none. The bit tricks of "Bit Twiddling Hacks": a
 * byte below n sets its high bit in x - n; a wrong flag only follows a right one. */
static unsigned first_escape(const unsigned char *p)
{
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    uint64_t w, q, bs, m;
    memcpy(&w, p, 8);
    q = w ^ (ones * '"');
    bs = w ^ (ones * '\\');
    m = ((w - ones * 0x20) | (q - ones) | (bs - ones)) & ~w & highs;
    return m ? (unsigned)__builtin_ctzll(m) / 8 : 8;
}

static size_t escaped_len(unsigned char c)
{
    return c < 0x20 ? 6 : c == '"' || c == '\\' ? 2 : 1;
}

static char *put_escaped(char *o, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    if (c >= 0x20) {
        *o++ = '\\';
        *o++ = (char)c;
        return o;
    }
    o[0] = '\\';
    o[1] = 'u';
    o[2] = '0';
    o[3] = '0';
    o[4] = hex[c >> 4];
    o[5] = hex[c & 15];
    return o + 6;
}

ps_err ps_out_json_string(ps_buf *b, const char *s)
{
    const unsigned char *in = (const unsigned char *)s;
    size_t n = strlen(s), need = 2, i = 0;
    unsigned k;
    char *o;

    /* Sized first, then written a word at a time up to the next character to escape:
     * the `raw` column escapes every event whole, and byte by byte that was most of
     * the ClickHouse output's CPU. */
    while (i + 8 <= n) {
        k = first_escape(in + i);
        need += k == 8 ? 8 : k + escaped_len(in[i + k]);
        i += k == 8 ? 8 : k + 1;
    }
    for (; i < n; i++)
        need += escaped_len(in[i]);
    if (ps_buf_reserve(b, need) != PS_OK)
        return PS_ERR_NOMEM;
    o = b->p + b->len;
    *o++ = '"';
    for (i = 0; i + 8 <= n;) {
        /* 8 bytes fit: at least 8 more input bytes and the closing quote remain. */
        k = first_escape(in + i);
        memcpy(o, in + i, 8);
        o += k;
        if (k < 8)
            o = put_escaped(o, in[i + k]);
        i += k == 8 ? 8 : k + 1;
    }
    for (; i < n; i++)
        o = escaped_len(in[i]) == 1 ? (*o = (char)in[i], o + 1) : put_escaped(o, in[i]);
    *o++ = '"';
    b->len = (size_t)(o - b->p);
    b->p[b->len] = '\0';
    return PS_OK;
}

ps_err ps_out_gzip(const void *data, size_t len, ps_buf *out, ps_errmsg *em)
{
    z_stream z;
    int zr;
    size_t bound;
    ps_err err = PS_OK;

    memset(&z, 0, sizeof z);
    /* Level 1: JSON still shrinks several times over, at a fraction of the CPU. */
    if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return ps_errmsg_set(em, PS_ERR_INTERNAL, "zlib could not start");
    bound = deflateBound(&z, (uLong)len) + 32;
    if (ps_buf_reserve(out, bound) != PS_OK) {
        err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    z.next_in = (const Bytef *)data;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)out->p + out->len;
    z.avail_out = (uInt)(out->cap - out->len - 1);
    zr = deflate(&z, Z_FINISH);
    if (zr != Z_STREAM_END) {
        err = ps_errmsg_set(em, PS_ERR_INTERNAL, "zlib failed to compress (%d)", zr);
        goto cleanup;
    }
    out->len += z.total_out;
    out->p[out->len] = '\0';
cleanup:
    deflateEnd(&z);
    return err;
}

size_t ps_out_pack(const ps_output_batch *b, size_t from, size_t limit, const char *open,
                   const char *sep, const char *close, ps_out_render_fn fn, void *ctx, ps_buf *body,
                   ps_err *err)
{
    size_t i = from, tail = strlen(close), seplen = strlen(sep);

    body->len = 0;
    *err = ps_buf_append(body, open, strlen(open));
    for (; *err == PS_OK && i < b->count; i++) {
        size_t before = body->len;
        if (i > from)
            *err = ps_buf_append(body, sep, seplen);
        if (*err == PS_OK)
            *err = fn(ctx, &b->events[i], body);
        if (*err == PS_OK && i > from && body->len + tail > limit) {
            body->len = before; /* this one starts the next request */
            break;
        }
    }
    if (*err == PS_OK)
        *err = ps_buf_append(body, close, tail);
    return *err == PS_OK ? i : from;
}

int64_t ps_out_delivered_before(const ps_output_batch *b, size_t next)
{
    if (next == 0)
        return 0;
    if (next >= b->count)
        return b->events[b->count - 1].id;
    /* Parts of one event share its id: only ids wholly before `next` count. */
    for (size_t i = next; i-- > 0;) {
        if (b->events[i].id != b->events[next].id)
            return b->events[i].id;
    }
    return 0;
}

ps_err ps_out_secret(ps_secret_ctx *secrets, const char *output, const char *option,
                     const char *raw, char **plain, ps_errmsg *em)
{
    char field[192];

    *plain = NULL;
    if (!raw || !raw[0])
        return PS_OK;
    snprintf(field, sizeof field, "outputs.%s.%s", output, option);
    return ps_secret_resolve(secrets, raw, strncmp(raw, PS_SECRET_PREFIX, 7) == 0, 0, field, plain,
                             em);
}

ps_err ps_out_base_create(const ps_output_env *env, int64_t timeout_ms, size_t size, void **out,
                          ps_errmsg *em)
{
    ps_out_base *b = calloc(1, size);
    ps_out_http_opts ho = {.tls = &env->settings->tls, .timeout_ms = timeout_ms};
    ps_err err;

    *out = NULL;
    if (!b)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    b->s = env->settings;
    b->secrets = env->secrets;
    err = ps_out_http_create(&ho, &b->http, em);
    if (err != PS_OK) {
        free(b);
        return err;
    }
    *out = b;
    return PS_OK;
}

void ps_out_base_destroy(void *inst)
{
    ps_out_base *b = inst;
    if (!b)
        return;
    ps_out_http_destroy(b->http);
    ps_buf_deinit(&b->body);
    ps_out_http_resp_deinit(&b->resp);
    free(b);
}

bool ps_out_http_nothing_taken(const ps_out_http_resp *resp)
{
    return !resp->sent || (resp->status != 0 && (resp->status < 200 || resp->status > 299));
}

void ps_out_http_fail(const ps_out_http_resp *resp, const char *what, ps_output_result *res)
{
    ps_out_http_describe(resp, what, res);
    res->nothing_sent = ps_out_http_nothing_taken(resp);
    /* A certificate that does not verify is not a passing outage: state error, as
     * the Syslog output's TLS failures, and retried every retry_max or on a reload. */
    res->status = ps_out_http_transient(resp->status) && !resp->tls_refused ? PS_OUTPUT_RETRY
                                                                            : PS_OUTPUT_FAILED;
    res->retry_after_ms = resp->retry_after_ms > 0 ? resp->retry_after_ms : 0;
}

ps_err ps_out_secret_header(const ps_out_base *b, const char *option, const char *raw,
                            const char *prefix, char **out, ps_errmsg *em)
{
    char *plain = NULL;
    ps_err err = ps_out_secret(b->secrets, b->s->name, option, raw, &plain, em);
    size_t n;

    *out = NULL;
    if (err != PS_OK)
        return err;
    n = strlen(prefix) + (plain ? strlen(plain) : 0) + 1;
    *out = malloc(n);
    if (*out)
        snprintf(*out, n, "%s%s", prefix, plain ? plain : "");
    ps_secret_free(plain);
    return *out ? PS_OK : ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
}
