/* The `splunk_hec` output: Splunk's HTTP Event Collector, events batched into
 * requests of concatenated event objects under the collector's content limit, with
 * the Proofpoint add-on's sourcetypes so its dashboards work. With `ack: true` a batch
 * counts as delivered only once the indexers acknowledged every request of it
 * (indexer acknowledgement), so a crash of an indexer before it wrote the events is
 * not a loss: the cursor has not moved and the batch goes again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "output/ps_out_http.h"
#include "output/ps_output_internal.h"
#include "podstream/ps_platform.h"
#include "podstream/ps_secret.h"

/* What one event object adds around the event JSON: time, host, source,
 * sourcetype, index, with their quoting. */
#define ENVELOPE_MAX 1024
#define MAX_REQUESTS 256

typedef struct hec_options {
    char *url;
    char *token;
    char *index;
    char *host;
    char *source;
    char *sourcetype_message;
    char *sourcetype_maillog;
    char *sourcetype_audit;
    bool ack;
    int64_t ack_timeout_ms;
    uint64_t max_content_length;
    int64_t timeout_ms;
} hec_options;

typedef struct hec_inst {
    ps_out_base b; /* first */
    const hec_options *o;
    char channel[37];
    size_t limit; /* request size now: max_content_length, halved after a 413 */
    /* The requests of the batch being delivered: where each ends, its ackId. */
    size_t ends[MAX_REQUESTS];
    long long ack_ids[MAX_REQUESTS];
    bool acked[MAX_REQUESTS];
} hec_inst;

static bool check_http_url(const char *v, char *why, size_t len)
{
    if (strncmp(v, "https://", 8) == 0 || strncmp(v, "http://", 7) == 0)
        return true;
    snprintf(why, len, "must be an https:// (or http://) URL");
    return false;
}

#define HEC_STRING(fname, def_, member, text)                                                      \
    {                                                                                              \
        .name = (fname), .type = PS_SCHEMA_STRING, .group = "Splunk HEC", .def = (def_),           \
        .description = (text), PSO_MEMBER(hec_options, member)                                     \
    }

static const ps_schema_field hec_fields[] = {
    {.name = "url",
     .type = PS_SCHEMA_STRING,
     .group = "Splunk HEC",
     .required = true,
     .check = check_http_url,
     .check_doc = "an https:// URL",
     .description = "The collector's base URL, e.g. `https://splunk.example.com:8088`; "
                    "events go to `/services/collector/event`.",
     PSO_MEMBER(hec_options, url)},
    {.name = "token",
     .type = PS_SCHEMA_STRING,
     .group = "Splunk HEC",
     .required = true,
     .flags = PS_SCHEMA_F_SECRET | PS_SCHEMA_F_NONEMPTY,
     .description = "The HEC token. Write `${ENV}` or `$secret{name}` here rather than the "
                    "token itself.",
     PSO_MEMBER(hec_options, token)},
    HEC_STRING("index", NULL, index,
               "Index for the events; absent: the token's default index. Must be one the "
               "token may write."),
    HEC_STRING("host", NULL, host, "`host` of the events; absent: the collector's own."),
    HEC_STRING("source", "podstream", source, "`source` of the events."),
    HEC_STRING("sourcetype_message", "pps_messagelog", sourcetype_message,
               "Sourcetype of message events (the Proofpoint add-on's)."),
    HEC_STRING("sourcetype_maillog", "pps_maillog", sourcetype_maillog,
               "Sourcetype of maillog events (the Proofpoint add-on's)."),
    HEC_STRING("sourcetype_audit", "pps_auditlog", sourcetype_audit,
               "Sourcetype of audit events (the add-on has none; ours, see "
               "docs/outputs.md)."),
    {.name = "ack",
     .type = PS_SCHEMA_BOOL,
     .group = "Splunk HEC",
     .def = "false",
     .description = "Wait for indexer acknowledgement of each request before the batch "
                    "counts as delivered (the token must have it enabled).",
     PSO_MEMBER(hec_options, ack)},
    {.name = "ack_timeout",
     .type = PS_SCHEMA_DURATION,
     .group = "Splunk HEC",
     .def = "2m",
     PSO_RANGE(1000, 3600000),
     .description = "A request not acknowledged within this long is sent again.",
     PSO_MEMBER(hec_options, ack_timeout_ms)},
    {.name = "max_content_length",
     .type = PS_SCHEMA_SIZE,
     .group = "Splunk HEC",
     .def = "1MB",
     PSO_RANGE(16384, 838860800),
     .description = "Largest request body: the collector's `max_content_length` "
                    "(Splunk Cloud: 1 MB). A larger event gets the `oversized` treatment.",
     PSO_MEMBER(hec_options, max_content_length)},
    {.name = "timeout",
     .type = PS_SCHEMA_DURATION,
     .group = "Splunk HEC",
     .def = "60s",
     PSO_RANGE(1000, 3600000),
     .description = "Longest wait for one request.",
     PSO_MEMBER(hec_options, timeout_ms)},
};
static const ps_schema_table hec_table = PSO_TABLE("output.splunk_hec", hec_fields);

static const char *sourcetype(const hec_inst *in, ps_data_type t)
{
    switch (t) {
    case PS_DATA_MESSAGE:
        return in->o->sourcetype_message;
    case PS_DATA_MAILLOG:
        return in->o->sourcetype_maillog;
    default:
        return in->o->sourcetype_audit;
    }
}

static ps_err put_field(ps_buf *b, const char *name, const char *value)
{
    ps_err err;
    if (!value || !value[0])
        return PS_OK;
    /* Appends, not a format: four of these for every event. */
    err = ps_buf_append(b, ",\"", 2);
    if (err == PS_OK)
        err = ps_buf_append(b, name, strlen(name));
    if (err == PS_OK)
        err = ps_buf_append(b, "\":", 2);
    return err == PS_OK ? ps_out_json_string(b, value) : err;
}

/* {"time":1700000000.123456,"host":..,"source":..,"sourcetype":..,"index":..,"event":{..}} */
static ps_err render_event(void *ctx, const ps_output_event *e, ps_buf *b)
{
    const hec_inst *in = ctx;
    long long s = e->ts_us / 1000000, us = e->ts_us % 1000000;
    ps_err err;

    if (us < 0) {
        s -= 1;
        us += 1000000;
    }
    err = ps_buf_appendf(b, "{\"time\":%lld.%06lld", s, us);
    if (err == PS_OK)
        err = put_field(b, "host", in->o->host);
    if (err == PS_OK)
        err = put_field(b, "source", in->o->source);
    if (err == PS_OK)
        err = put_field(b, "sourcetype", sourcetype(in, e->type));
    if (err == PS_OK)
        err = put_field(b, "index", in->o->index);
    if (err == PS_OK)
        err = ps_buf_append(b, ",\"event\":", 9);
    if (err == PS_OK)
        err = ps_buf_append(b, e->json, e->json_len);
    return err == PS_OK ? ps_buf_putc(b, '}') : err;
}

/* POSTs in->body to `path`; the token resolved for the request only. */
static ps_err post(hec_inst *in, const char *path, int64_t deadline_ms, ps_errmsg *em)
{
    char url[1024], chan[80];
    char *auth = NULL;
    ps_err err =
        ps_out_secret_header(&in->b, "token", in->o->token, "Authorization: Splunk ", &auth, em);

    if (err == PS_OK) {
        const char *headers[] = {auth, chan, "Content-Type: application/json", NULL};
        snprintf(chan, sizeof chan, "X-Splunk-Request-Channel: %s", in->channel);
        snprintf(url, sizeof url, "%s%s", in->o->url, path);
        err = ps_out_http_post(in->b.http, url, headers, in->b.body.p, in->b.body.len, deadline_ms,
                               &in->b.resp);
        if (err != PS_OK)
            ps_errmsg_set(em, err, "out of memory");
    }
    ps_secret_free(auth);
    return err;
}

/* HEC's own code in an answer ({"text":..,"code":N}); -1 when there is none. */
static int hec_code(const ps_out_http_resp *r, long long *ack_id)
{
    cJSON *root = r->body.p ? cJSON_Parse(r->body.p) : NULL;
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(root, "code");
    const cJSON *ack = cJSON_GetObjectItemCaseSensitive(root, "ackId");
    int c = cJSON_IsNumber(code) ? code->valueint : -1;
    if (ack_id)
        *ack_id = cJSON_IsNumber(ack) ? (long long)ack->valuedouble : -1;
    cJSON_Delete(root);
    return c;
}

/* After a refused request: RETRY for what passes (503 busy, 5xx, no answer, 413 with
 * smaller requests), FAILED for what needs the admin (token, index, format). */
static void refused(hec_inst *in, const ps_output_batch *b, size_t next, ps_output_result *res)
{
    ps_out_http_fail(&in->b.resp, "splunk hec", res);
    res->delivered_id = ps_out_delivered_before(b, next);
    if (in->b.resp.status == 413 && in->limit > 16384) {
        /* The collector takes less than we were told: find its limit by halving. */
        in->limit /= 2;
        res->status = PS_OUTPUT_RETRY;
        res->retry_after_ms = 1;
        size_t len = strlen(res->message);
        snprintf(res->message + len, sizeof res->message - len,
                 " (requests now at most %zu bytes; lower max_content_length)", in->limit);
    }
}

/* Sends the batch as requests under the size limit; fills ends[]/ack_ids[] and
 * returns how many went, or -1 after setting `res`. */
static int send_requests(hec_inst *in, const ps_output_batch *b, ps_output_result *res)
{
    size_t from = 0;
    int n = 0;
    ps_errmsg em = {{0}};
    ps_err err = PS_OK;

    while (from < b->count && n < MAX_REQUESTS) {
        size_t next =
            ps_out_pack(b, from, in->limit, "", "\n", "", render_event, in, &in->b.body, &err);
        if (err == PS_OK)
            err = post(in, "/services/collector/event", ps_output_deadline(b), &em);
        else
            ps_errmsg_set(&em, err, "out of memory");
        if (err != PS_OK) {
            ps_out_result_set(res, PS_OUTPUT_RETRY, "splunk hec: %s", em.text);
            /* With acks, the requests before this one went and may be in. */
            res->nothing_sent = !(in->o->ack && n > 0);
            res->delivered_id = in->o->ack ? 0 : ps_out_delivered_before(b, from);
            return -1;
        }
        if (in->b.resp.status != 200 || hec_code(&in->b.resp, &in->ack_ids[n]) != 0) {
            /* Without acks, what went before is in; with acks it is not known yet. */
            refused(in, b, in->o->ack ? 0 : from, res);
            if (in->o->ack && n > 0)
                res->nothing_sent = false;
            return -1;
        }
        if (in->o->ack && in->ack_ids[n] < 0) {
            /* HEC took the events but will never acknowledge them: asking would time
             * out and send them again for ever. They are in; the admin must choose. */
            ps_out_result_set(res, PS_OUTPUT_FAILED,
                              "splunk hec: no ackId in the answer: indexer acknowledgement is "
                              "off for this token; turn it on, or set ack: false");
            res->delivered_id = n == 0 ? ps_out_delivered_before(b, next) : 0;
            res->nothing_sent = n == 0;
            return -1;
        }
        in->ends[n] = next;
        in->acked[n] = !in->o->ack;
        n++;
        from = next;
    }
    return n;
}

/* Asks for the acks still missing; returns how many requests are acknowledged from
 * the first on (the prefix that may be committed). */
static int poll_acks(hec_inst *in, int n, int64_t deadline_ms)
{
    char path[96];
    ps_errmsg em = {{0}};
    int prefix = 0;

    in->b.body.len = 0;
    ps_buf_append(&in->b.body, "{\"acks\":[", 9);
    for (int i = 0, first = 1; i < n; i++) {
        if (in->acked[i])
            continue;
        ps_buf_appendf(&in->b.body, "%s%lld", first ? "" : ",", in->ack_ids[i]);
        first = 0;
    }
    ps_buf_append(&in->b.body, "]}", 2);
    snprintf(path, sizeof path, "/services/collector/ack?channel=%s", in->channel);
    if (post(in, path, deadline_ms, &em) == PS_OK && in->b.resp.status == 200) {
        cJSON *root = cJSON_Parse(in->b.resp.body.p ? in->b.resp.body.p : "");
        const cJSON *acks = cJSON_GetObjectItemCaseSensitive(root, "acks");
        for (int i = 0; i < n; i++) {
            char id[32];
            snprintf(id, sizeof id, "%lld", in->ack_ids[i]);
            if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(acks, id)))
                in->acked[i] = true;
        }
        cJSON_Delete(root);
    }
    while (prefix < n && in->acked[prefix])
        prefix++;
    return prefix;
}

static void wait_acks(hec_inst *in, const ps_output_batch *b, int n, ps_output_result *res)
{
    int64_t start = ps_plat_mono_ms(), pause = 100;
    int64_t ack_until = start + in->o->ack_timeout_ms;
    int prefix = 0;

    for (;;) {
        /* The deadline moves closer when the service starts to stop. */
        int64_t deadline = ps_output_deadline(b);
        int64_t until = deadline > 0 && deadline < ack_until ? deadline : ack_until;
        if ((prefix = poll_acks(in, n, until)) == n || ps_plat_mono_ms() + pause >= until)
            break;
        ps_plat_sleep_ms(pause);
        pause = pause < 1000 ? pause * 2 : 1000;
    }
    res->delivered_id = prefix ? ps_out_delivered_before(b, in->ends[prefix - 1]) : 0;
    if (prefix == n) {
        res->status = PS_OUTPUT_DELIVERED;
        return;
    }
    ps_out_result_set(res, PS_OUTPUT_RETRY,
                      "splunk hec: %d of %d requests not acknowledged after %lld ms; sending "
                      "them again",
                      n - prefix, n, (long long)(ps_plat_mono_ms() - start));
    res->retry_after_ms = 1;
}

static void hec_deliver(void *inst, const ps_output_batch *batch, ps_output_result *res)
{
    hec_inst *in = inst;
    int n = send_requests(in, batch, res);

    if (n < 0)
        return;
    if (in->o->ack) {
        wait_acks(in, batch, n, res);
        return;
    }
    res->status = PS_OUTPUT_DELIVERED;
    res->delivered_id = ps_out_delivered_before(batch, in->ends[n - 1]);
}

static ps_err make_channel(char out[37], ps_errmsg *em)
{
    unsigned char r[16];
    ps_err err = ps_plat_random(r, sizeof r);
    if (err != PS_OK)
        return ps_errmsg_set(em, err, "no random bytes for the HEC channel");
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40); /* a version 4 UUID, as Splunk expects */
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0],
             r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13],
             r[14], r[15]);
    return PS_OK;
}

static ps_err hec_create(const ps_output_env *env, const void *options, ps_output_limits *limits,
                         void **out, ps_errmsg *em)
{
    const hec_options *o = options;
    hec_inst *in;
    ps_err err = ps_out_base_create(env, o->timeout_ms, sizeof(hec_inst), out, em);

    if (err != PS_OK)
        return err;
    in = *out;
    in->o = o;
    in->limit = (size_t)o->max_content_length;
    err = make_channel(in->channel, em);
    if (err != PS_OK) {
        ps_out_base_destroy(in);
        *out = NULL;
        return err;
    }
    limits->max_event_bytes = in->limit - ENVELOPE_MAX;
    /* A batch must fit the request table even when every request holds one event. */
    if (!limits->max_batch_bytes || limits->max_batch_bytes > in->limit * (MAX_REQUESTS / 2))
        limits->max_batch_bytes = in->limit * (MAX_REQUESTS / 2);
    if (!limits->max_batch_events || limits->max_batch_events > 100000)
        limits->max_batch_events = 100000;
    return PS_OK;
}

const ps_output_plugin ps_out_splunk_hec_plugin = {
    .name = "splunk_hec",
    .summary = "Splunk HTTP Event Collector, batched, with indexer acknowledgement when "
               "enabled.",
    .options = &hec_table,
    .options_size = sizeof(hec_options),
    .max_batch_events = 100000,
    .max_batch_bytes = 64u << 20,
    .max_event_bytes = 1000000 - ENVELOPE_MAX,
    .oversized_default = PS_OUTPUT_OVERSIZED_SPLIT,
    .check = NULL,
    .create = hec_create,
    .deliver = hec_deliver,
    .destroy = ps_out_base_destroy,
};
