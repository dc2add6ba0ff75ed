/* The `sentinel` output: Microsoft Sentinel through the Azure Monitor Logs Ingestion
 * API (a Data Collection Endpoint, a Data Collection Rule's immutable id and one of
 * its streams), authenticated by an Entra ID app's client-credentials token, which
 * is cached until shortly before it expires. Requests stay under the API's 1 MB
 * (uncompressed) limit, may be gzip-compressed, and a 429 or 503 waits as long as
 * Retry-After says. The retired HTTP Data Collector API is not used. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "output/ps_out_http.h"
#include "output/ps_output_internal.h"
#include "podstream/ps_platform.h"
#include "podstream/ps_secret.h"
#include "podstream/ps_time.h"

/* The API's limit on one call, compressed or not. */
#define API_LIMIT 1048576
/* What one record adds around the event JSON. */
#define ENVELOPE_MAX 1024

typedef struct az_options {
    char *endpoint;
    char *dcr_id;
    char *stream;
    char *tenant_id;
    char *client_id;
    char *client_secret;
    char *authority;
    char *scope;
    bool gzip;
    int64_t timeout_ms;
} az_options;

typedef struct az_inst {
    ps_out_base b; /* first */
    const az_options *o;
    char *token;         /* the bearer token, wiped when replaced */
    int64_t token_until; /* ps_plat_mono_ms after which it is fetched again */
    ps_buf zbody;
} az_inst;

static bool check_https_url(const char *v, char *why, size_t len)
{
    if (strncmp(v, "https://", 8) == 0)
        return true;
    snprintf(why, len, "must be an https:// URL");
    return false;
}

#define AZ_STRING(fname, def_, req, member, text)                                                  \
    {                                                                                              \
        .name = (fname), .type = PS_SCHEMA_STRING, .group = "Sentinel", .def = (def_),             \
        .required = (req), .flags = PS_SCHEMA_F_NONEMPTY, .description = (text),                   \
        PSO_MEMBER(az_options, member)                                                             \
    }

static const ps_schema_field az_fields[] = {
    {.name = "endpoint",
     .type = PS_SCHEMA_STRING,
     .group = "Sentinel",
     .required = true,
     .check = check_https_url,
     .check_doc = "an https:// URL",
     .description = "The Data Collection Endpoint's logs ingestion URL, e.g. "
                    "`https://pod-dce-a1b2.westeurope-1.ingest.monitor.azure.com`.",
     PSO_MEMBER(az_options, endpoint)},
    AZ_STRING("dcr_id", NULL, true, dcr_id,
              "The Data Collection Rule's immutable id (`dcr-` and 32 hex digits)."),
    AZ_STRING("stream", "Custom-ProofpointPOD", false, stream,
              "The DCR's input stream the records are declared in."),
    AZ_STRING("tenant_id", NULL, true, tenant_id, "The Entra ID tenant (directory) id."),
    AZ_STRING("client_id", NULL, true, client_id, "The app registration's client id."),
    {.name = "client_secret",
     .type = PS_SCHEMA_STRING,
     .group = "Sentinel",
     .required = true,
     .flags = PS_SCHEMA_F_SECRET | PS_SCHEMA_F_NONEMPTY,
     .description = "The app's client secret. Write `${ENV}` or `$secret{name}` here rather "
                    "than the secret itself.",
     PSO_MEMBER(az_options, client_secret)},
    {.name = "authority",
     .type = PS_SCHEMA_STRING,
     .group = "Sentinel",
     .def = "https://login.microsoftonline.com",
     .check = check_https_url,
     .check_doc = "an https:// URL",
     .description = "Entra ID's token service (other clouds: e.g. "
                    "`https://login.microsoftonline.us`).",
     PSO_MEMBER(az_options, authority)},
    AZ_STRING("scope", "https://monitor.azure.com//.default", false, scope,
              "The token's scope (other clouds: e.g. `https://monitor.azure.us//.default`)."),
    {.name = "gzip",
     .type = PS_SCHEMA_BOOL,
     .group = "Sentinel",
     .def = "true",
     .description = "Compress requests (`Content-Encoding: gzip`). The 1 MB limit still "
                    "applies to the uncompressed data.",
     PSO_MEMBER(az_options, gzip)},
    {.name = "timeout",
     .type = PS_SCHEMA_DURATION,
     .group = "Sentinel",
     .def = "60s",
     PSO_RANGE(1000, 3600000),
     .description = "Longest wait for one request.",
     PSO_MEMBER(az_options, timeout_ms)},
};
static const ps_schema_table az_table = PSO_TABLE("output.sentinel", az_fields);

static void drop_token(az_inst *in)
{
    ps_secret_free(in->token);
    in->token = NULL;
    in->token_until = 0;
}

/* Appends name=value, URL-encoded, to the form. */
static ps_err form_put(CURL *c, ps_buf *b, const char *name, const char *value)
{
    char *esc = curl_easy_escape(c, value, 0);
    ps_err err;
    if (!esc)
        return PS_ERR_NOMEM;
    err = ps_buf_appendf(b, "%s%s=%s", b->len ? "&" : "", name, esc);
    /* The secret's encoded copy is wiped too. */
    memset(esc, 0, strlen(esc));
    curl_free(esc);
    return err;
}

static ps_err token_form(az_inst *in, ps_buf *form, ps_errmsg *em)
{
    char *secret = NULL;
    CURL *c = curl_easy_init();
    ps_err err = ps_out_secret(in->b.secrets, in->b.s->name, "client_secret", in->o->client_secret,
                               &secret, em);

    if (err == PS_OK && !c)
        err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    if (err == PS_OK)
        err = form_put(c, form, "grant_type", "client_credentials");
    if (err == PS_OK)
        err = form_put(c, form, "client_id", in->o->client_id);
    if (err == PS_OK)
        err = form_put(c, form, "client_secret", secret ? secret : "");
    if (err == PS_OK)
        err = form_put(c, form, "scope", in->o->scope);
    if (err == PS_ERR_NOMEM)
        ps_errmsg_set(em, err, "out of memory");
    ps_secret_free(secret);
    if (c)
        curl_easy_cleanup(c);
    return err;
}

/* Keeps the answer's token; a token is used until 5 minutes (or a tenth of its life,
 * if shorter) before it expires, so a request never goes with one about to lapse. */
static bool take_token(az_inst *in)
{
    cJSON *root = cJSON_Parse(in->b.resp.body.p ? in->b.resp.body.p : "");
    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(root, "access_token");
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(root, "expires_in");
    double life = cJSON_IsNumber(exp) ? exp->valuedouble : 3599;
    bool ok = cJSON_IsString(tok) && tok->valuestring[0];

    if (ok) {
        int64_t margin = life > 3000 ? 300 : (int64_t)(life / 10);
        in->token = strdup(tok->valuestring);
        in->token_until = ps_plat_mono_ms() + ((int64_t)life - margin) * 1000;
        ok = in->token != NULL;
        memset(tok->valuestring, 0, strlen(tok->valuestring));
    }
    /* The answer's copy of the token goes too. */
    if (in->b.resp.body.p)
        memset(in->b.resp.body.p, 0, in->b.resp.body.len);
    cJSON_Delete(root);
    return ok;
}

/* Makes sure in->token is valid; false after setting `res`. */
static bool get_token(az_inst *in, int64_t deadline_ms, ps_output_result *res)
{
    ps_buf form = {0};
    char url[1024];
    ps_errmsg em = {{0}};
    ps_err err;
    const char *headers[] = {"Content-Type: application/x-www-form-urlencoded", NULL};

    if (in->token && ps_plat_mono_ms() < in->token_until)
        return true;
    drop_token(in);
    err = token_form(in, &form, &em);
    snprintf(url, sizeof url, "%s/%s/oauth2/v2.0/token", in->o->authority, in->o->tenant_id);
    if (err == PS_OK && ps_out_http_post(in->b.http, url, headers, form.p, form.len, deadline_ms,
                                         &in->b.resp) != PS_OK)
        err = ps_errmsg_set(&em, PS_ERR_NOMEM, "out of memory");
    if (form.p)
        memset(form.p, 0, form.len);
    ps_buf_deinit(&form);
    if (err != PS_OK) {
        ps_out_result_set(res, PS_OUTPUT_FAILED, "sentinel token: %s", em.text);
        res->nothing_sent = true;
        return false;
    }
    if (in->b.resp.status == 200 && take_token(in))
        return true;
    ps_out_http_fail(&in->b.resp, "sentinel token", res);
    return false;
}

/* {"TimeGenerated":"..Z","DeviceId":1,"Device":"..","EventType":"message",
 *  "EventKey":"..","EventId":7,"Part":1,"Parts":1,"Truncated":false,"Event":{..}} */
static ps_err render_record(void *ctx, const ps_output_event *e, ps_buf *b)
{
    char ts[40];
    ps_err err;

    (void)ctx;
    ps_time_format_iso(e->ts_us, ts, sizeof ts);
    err = ps_buf_appendf(b, "{\"TimeGenerated\":\"%s\",\"DeviceId\":%lld,\"Device\":", ts,
                         e->device_id);
    if (err == PS_OK)
        err = ps_out_json_string(b, e->device_name ? e->device_name : "");
    if (err == PS_OK)
        err = ps_buf_appendf(b, ",\"EventType\":\"%s\",\"EventKey\":", ps_data_type_name(e->type));
    if (err == PS_OK)
        err = ps_out_json_string(b, e->key);
    if (err == PS_OK)
        err = ps_buf_appendf(b,
                             ",\"EventId\":%lld,\"Part\":%u,\"Parts\":%u,\"Truncated\":%s,"
                             "\"Event\":",
                             (long long)e->id, e->part, e->parts, e->truncated ? "true" : "false");
    if (err == PS_OK)
        err = ps_buf_append(b, e->json, e->json_len);
    return err == PS_OK ? ps_buf_putc(b, '}') : err;
}

/* POSTs in->body (compressed when configured) with the bearer token. */
static ps_err post_records(az_inst *in, int64_t deadline_ms, ps_errmsg *em)
{
    char url[1400];
    char *auth;
    size_t n = strlen("Authorization: Bearer ") + strlen(in->token) + 1;
    const void *data = in->b.body.p;
    size_t len = in->b.body.len;
    ps_err err = PS_OK;

    if (in->o->gzip) {
        in->zbody.len = 0;
        err = ps_out_gzip(in->b.body.p, in->b.body.len, &in->zbody, em);
        data = in->zbody.p;
        len = in->zbody.len;
    }
    auth = err == PS_OK ? malloc(n) : NULL;
    if (err == PS_OK && !auth)
        err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    if (err == PS_OK) {
        const char *headers[] = {auth, "Content-Type: application/json",
                                 in->o->gzip ? "Content-Encoding: gzip" : NULL, NULL};
        snprintf(auth, n, "Authorization: Bearer %s", in->token);
        snprintf(url, sizeof url, "%s/dataCollectionRules/%s/streams/%s?api-version=2023-01-01",
                 in->o->endpoint, in->o->dcr_id, in->o->stream);
        if (ps_out_http_post(in->b.http, url, headers, data, len, deadline_ms, &in->b.resp) !=
            PS_OK)
            err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    }
    ps_secret_free(auth);
    return err;
}

/* Sends events [from, next) packed in in->body; a 401 (token revoked or expired
 * early) fetches a new token once. True when the API took them. */
static bool send_one(az_inst *in, const ps_output_batch *b, size_t from, ps_output_result *res)
{
    ps_errmsg em = {{0}};

    for (int attempt = 0; attempt < 2; attempt++) {
        if (!get_token(in, ps_output_deadline(b), res)) {
            res->nothing_sent = true; /* only the token request went out */
            break;
        }
        if (post_records(in, ps_output_deadline(b), &em) != PS_OK) {
            ps_out_result_set(res, PS_OUTPUT_RETRY, "sentinel: %s", em.text);
            res->nothing_sent = true;
            break;
        }
        if (in->b.resp.status == 204 || in->b.resp.status == 200)
            return true;
        ps_out_http_fail(&in->b.resp, "sentinel", res);
        if (in->b.resp.status != 401)
            break;
        drop_token(in);
    }
    res->delivered_id = ps_out_delivered_before(b, from);
    return false;
}

static void az_deliver(void *inst, const ps_output_batch *batch, ps_output_result *res)
{
    az_inst *in = inst;
    size_t from = 0;
    ps_err err = PS_OK;

    while (from < batch->count) {
        size_t next = ps_out_pack(batch, from, API_LIMIT, "[", ",", "]", render_record, in,
                                  &in->b.body, &err);
        if (err != PS_OK) {
            ps_out_result_set(res, PS_OUTPUT_RETRY, "sentinel: out of memory");
            res->nothing_sent = true;
            res->delivered_id = ps_out_delivered_before(batch, from);
            return;
        }
        if (!send_one(in, batch, from, res))
            return;
        from = next;
    }
    res->status = PS_OUTPUT_DELIVERED;
    res->delivered_id = batch->events[batch->count - 1].id;
}

static ps_err az_create(const ps_output_env *env, const void *options, ps_output_limits *limits,
                        void **out, ps_errmsg *em)
{
    const az_options *o = options;
    ps_err err = ps_out_base_create(env, o->timeout_ms, sizeof(az_inst), out, em);

    if (err != PS_OK)
        return err;
    ((az_inst *)*out)->o = o;
    limits->max_event_bytes = API_LIMIT - ENVELOPE_MAX;
    return PS_OK;
}

static void az_destroy(void *inst)
{
    az_inst *in = inst;
    if (!in)
        return;
    drop_token(in);
    ps_buf_deinit(&in->zbody);
    ps_out_base_destroy(in);
}

const ps_output_plugin ps_out_sentinel_plugin = {
    .name = "sentinel",
    .summary = "Microsoft Sentinel through the Azure Monitor Logs Ingestion API (DCE, DCR "
               "and stream, Entra ID client credentials).",
    .options = &az_table,
    .options_size = sizeof(az_options),
    .max_batch_events = 50000,
    .max_batch_bytes = 16u << 20,
    .max_event_bytes = API_LIMIT - ENVELOPE_MAX,
    .oversized_default = PS_OUTPUT_OVERSIZED_SPLIT,
    .check = NULL,
    .create = az_create,
    .deliver = az_deliver,
    .destroy = az_destroy,
};
