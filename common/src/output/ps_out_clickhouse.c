/* The `clickhouse` output: batches inserted over ClickHouse's HTTP interface as
 * `INSERT INTO db.table FORMAT JSONEachRow`, one insert per batch, into a typed
 * table (docs/outputs.md has its DDL). The table is a ReplacingMergeTree ordered by
 * the natural key, so a batch sent again after a crash or a lost answer collapses
 * into the rows already there (at merge time, or at once with FINAL). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output/ps_out_http.h"
#include "output/ps_output_internal.h"
#include "podstream/ps_event.h"
#include "podstream/ps_secret.h"
#include "podstream/ps_store.h"

typedef struct ch_options {
    char *url;
    char *database;
    char *table;
    char *user;
    char *password;
    bool create_table;
    int64_t timeout_ms;
} ch_options;

typedef struct ch_inst {
    ps_out_base b; /* first */
    const ch_options *o;
    bool table_ready; /* created (or not ours to create) */
} ch_inst;

static bool check_http_url(const char *v, char *why, size_t len)
{
    if (strncmp(v, "http://", 7) == 0 || strncmp(v, "https://", 8) == 0)
        return true;
    snprintf(why, len, "must be an http:// or https:// URL");
    return false;
}

/* Names go into SQL unquoted: only what needs no quoting. */
static bool check_identifier(const char *v, char *why, size_t len)
{
    bool ok = (*v >= 'A' && *v <= 'Z') || (*v >= 'a' && *v <= 'z') || *v == '_';
    for (const char *p = v; ok && *p; p++)
        ok = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
             *p == '_';
    if (!ok)
        snprintf(why, len, "must be letters, digits and _, not starting with a digit");
    return ok;
}

/* The user name goes into a request header as it is. */
static bool check_user(const char *v, char *why, size_t len)
{
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            snprintf(why, len, "must not contain control characters");
            return false;
        }
    }
    return true;
}

static const ps_schema_field ch_fields[] = {
    {.name = "url",
     .type = PS_SCHEMA_STRING,
     .group = "ClickHouse",
     .required = true,
     .check = check_http_url,
     .check_doc = "an http:// or https:// URL",
     .description = "ClickHouse's HTTP interface, e.g. `https://ch1.example.com:8443` "
                    "(8123 for plain HTTP).",
     PSO_MEMBER(ch_options, url)},
    {.name = "database",
     .type = PS_SCHEMA_STRING,
     .group = "ClickHouse",
     .def = "podstream",
     .check = check_identifier,
     .check_doc = "letters, digits and _",
     .description = "Database of the table.",
     PSO_MEMBER(ch_options, database)},
    {.name = "table",
     .type = PS_SCHEMA_STRING,
     .group = "ClickHouse",
     .def = "events",
     .check = check_identifier,
     .check_doc = "letters, digits and _",
     .description = "Table the events are inserted into (its columns: docs/outputs.md).",
     PSO_MEMBER(ch_options, table)},
    {.name = "user",
     .type = PS_SCHEMA_STRING,
     .group = "ClickHouse",
     .def = "default",
     .check = check_user,
     .check_doc = "no control characters",
     .description = "ClickHouse user (needs INSERT on the table; CREATE with "
                    "`create_table`).",
     PSO_MEMBER(ch_options, user)},
    {.name = "password",
     .type = PS_SCHEMA_STRING,
     .group = "ClickHouse",
     .flags = PS_SCHEMA_F_SECRET,
     .description = "Its password. Write `${ENV}` or `$secret{name}` here rather than the "
                    "password itself.",
     PSO_MEMBER(ch_options, password)},
    {.name = "create_table",
     .type = PS_SCHEMA_BOOL,
     .group = "ClickHouse",
     .def = "false",
     .description = "Create the database and table on first use when they do not exist "
                    "(single server; on a cluster create them yourself).",
     PSO_MEMBER(ch_options, create_table)},
    {.name = "timeout",
     .type = PS_SCHEMA_DURATION,
     .group = "ClickHouse",
     .def = "60s",
     PSO_RANGE(1000, 3600000),
     .description = "Longest wait for one insert.",
     PSO_MEMBER(ch_options, timeout_ms)},
};
static const ps_schema_table ch_table = PSO_TABLE("output.clickhouse", ch_fields);

/* ClickHouse error codes that no retry fixes as such: unknown table or database,
 * unknown column, authentication, access. Other errors (too many parts, memory,
 * a replica away) pass. */
static bool permanent_code(const char *body)
{
    static const int codes[] = {16, 60, 81, 192, 193, 194, 195, 497, 516};
    const char *p = body ? strstr(body, "Code: ") : NULL;
    int code;
    if (!p || sscanf(p + 6, "%d", &code) != 1)
        return false;
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (codes[i] == code)
            return true;
    return false;
}

/* The column list of the table podstream creates; rows carry the same names. */
static ps_err append_ddl(ps_buf *b, const ch_options *o)
{
    ps_err err = ps_buf_appendf(
        b,
        "CREATE TABLE IF NOT EXISTS %s.%s (ts DateTime, ts_us UInt64, device_id UInt64, "
        "device String, type Enum8('message' = 0, 'maillog' = 1, 'audit' = 2), key String, "
        "part UInt16, parts UInt16, event_id UInt64, truncated UInt8",
        o->database, o->table);
    for (int f = 0; err == PS_OK && f < PS_EF__COUNT; f++)
        err = ps_buf_appendf(b, ", %s String", ps_event_field_name((ps_event_field)f));
    if (err == PS_OK)
        err = ps_buf_appendf(b, ", spam_score Nullable(Float64), size_bytes Nullable(Int64), "
                                "raw String) ENGINE = ReplacingMergeTree "
                                "PARTITION BY toYYYYMM(ts) "
                                "ORDER BY (device_id, type, ts_us, key, part)");
    return err;
}

/* One POST of in->b.body to `url` with the credentials; fills in->b.resp. */
static ps_err post(ch_inst *in, const char *url, int64_t deadline_ms, ps_errmsg *em)
{
    char user_h[300];
    char *key_h = NULL;
    ps_err err =
        ps_out_secret_header(&in->b, "password", in->o->password, "X-ClickHouse-Key: ", &key_h, em);
    const char *headers[] = {user_h, key_h, "Content-Type: text/plain; charset=UTF-8", NULL};

    snprintf(user_h, sizeof user_h, "X-ClickHouse-User: %s", in->o->user);
    if (err == PS_OK) {
        err = ps_out_http_post(in->b.http, url, headers, in->b.body.p, in->b.body.len, deadline_ms,
                               &in->b.resp);
        if (err != PS_OK)
            ps_errmsg_set(em, err, "out of memory");
    }
    ps_secret_free(key_h);
    return err;
}

/* Sets `res` from a failed answer; `what` names the step. */
static void failed(ch_inst *in, const char *what, ps_output_result *res)
{
    ps_out_http_fail(&in->b.resp, what, res);
    if (permanent_code(in->b.resp.body.p))
        res->status = PS_OUTPUT_FAILED;
}

static bool ensure_table(ch_inst *in, int64_t deadline_ms, ps_output_result *res)
{
    char url[1024];
    ps_errmsg em = {{0}};
    const char *steps[] = {"create database", "create table"};

    if (in->table_ready)
        return true;
    for (int step = 0; step < 2; step++) {
        in->b.body.len = 0;
        ps_err err = step == 0 ? ps_buf_appendf(&in->b.body, "CREATE DATABASE IF NOT EXISTS %s",
                                                in->o->database)
                               : append_ddl(&in->b.body, in->o);
        snprintf(url, sizeof url, "%s/", in->o->url);
        if (err == PS_OK)
            err = post(in, url, deadline_ms, &em);
        if (err != PS_OK) {
            ps_out_result_set(res, PS_OUTPUT_RETRY, "clickhouse: %s", em.text);
            res->nothing_sent = true;
            return false;
        }
        if (in->b.resp.status != 200) {
            char what[64];
            snprintf(what, sizeof what, "clickhouse %s", steps[step]);
            failed(in, what, res);
            res->nothing_sent = true; /* the batch waits for its table */
            return false;
        }
    }
    in->table_ready = true;
    return true;
}

/* The typed columns of a row: the text fields present, spam_score, size_bytes. */
static ps_err append_typed(ps_buf *b, const char *const *text, bool has_spam, double spam,
                           bool has_size, int64_t size)
{
    ps_err err = PS_OK;
    for (int f = 0; err == PS_OK && f < PS_EF__COUNT; f++) {
        if (!text[f])
            continue;
        const char *name = ps_event_field_name((ps_event_field)f);
        /* Appends, not a format: this runs for every field of every event. */
        err = ps_buf_append(b, ",\"", 2);
        if (err == PS_OK)
            err = ps_buf_append(b, name, strlen(name));
        if (err == PS_OK)
            err = ps_buf_append(b, "\":", 2);
        if (err == PS_OK)
            err = ps_out_json_string(b, text[f]);
    }
    if (err == PS_OK && has_spam)
        err = ps_buf_appendf(b, ",\"spam_score\":%.17g", spam);
    if (err == PS_OK && has_size)
        err = ps_buf_appendf(b, ",\"size_bytes\":%lld", (long long)size);
    return err;
}

/* The typed columns from the event JSON sent, when the store's are not those: a
 * pipeline's output or a truncated copy may not parse as an event any more, and
 * then goes with its key, time and raw JSON only. */
static ps_err append_parsed(ps_buf *b, const ps_output_event *e)
{
    ps_event ev;
    ps_errmsg em;
    ps_err err = PS_OK;

    ps_event_init(&ev);
    if (ps_event_parse(&ev, e->type, e->json, e->json_len, &em) == PS_OK &&
        ps_event_extract(&ev, &em) == PS_OK)
        err = append_typed(b, (const char *const *)ev.text, ev.has_spam_score, ev.spam_score,
                           ev.has_size, ev.size_bytes);
    ps_event_deinit(&ev);
    return err;
}

/* One JSONEachRow line: the store's columns and the typed fields of the JSON sent
 * (after the output's pipelines). When that JSON is the stored one, the store
 * extracted those fields already: parsing it again was most of this output's CPU. */
static ps_err render_row(void *ctx, const ps_output_event *e, ps_buf *b)
{
    int64_t s = e->ts_us >= 0 ? e->ts_us / 1000000 : -((-e->ts_us + 999999) / 1000000);
    const ps_event_row *st = e->stored;
    ps_err err;

    (void)ctx;
    err = ps_buf_appendf(
        b, "{\"ts\":%lld,\"ts_us\":%lld,\"device_id\":%lld,\"device\":", (long long)(s < 0 ? 0 : s),
        (long long)(e->ts_us < 0 ? 0 : e->ts_us), e->device_id);
    if (err == PS_OK)
        err = ps_out_json_string(b, e->device_name ? e->device_name : "");
    if (err == PS_OK)
        err = ps_buf_appendf(b, ",\"type\":\"%s\",\"key\":", ps_data_type_name(e->type));
    if (err == PS_OK)
        err = ps_out_json_string(b, e->key);
    if (err == PS_OK)
        err = ps_buf_appendf(b, ",\"part\":%u,\"parts\":%u,\"event_id\":%lld,\"truncated\":%d",
                             e->part, e->parts, (long long)e->id, e->truncated ? 1 : 0);
    if (err == PS_OK)
        err = st ? append_typed(b, st->text, st->has_spam_score, st->spam_score, st->has_size,
                                st->size_bytes)
                 : append_parsed(b, e);
    if (err == PS_OK)
        err = ps_buf_append(b, ",\"raw\":", 7);
    if (err == PS_OK)
        err = ps_out_json_string(b, e->json);
    if (err == PS_OK)
        err = ps_buf_putc(b, '}');
    return err;
}

static void ch_deliver(void *inst, const ps_output_batch *batch, ps_output_result *res)
{
    ch_inst *in = inst;
    char url[1024];
    ps_errmsg em = {{0}};
    ps_err err = PS_OK;

    if (in->o->create_table && !ensure_table(in, ps_output_deadline(batch), res))
        return;
    /* One insert per batch: ClickHouse writes a block of up to a million rows
     * atomically, so a batch is in the table whole or not at all. */
    ps_out_pack(batch, 0, SIZE_MAX, "", "\n", "\n", render_row, in, &in->b.body, &err);
    snprintf(url, sizeof url,
             "%s/?query=INSERT%%20INTO%%20%s.%s%%20FORMAT%%20JSONEachRow"
             "&input_format_skip_unknown_fields=1",
             in->o->url, in->o->database, in->o->table);
    if (err == PS_OK)
        err = post(in, url, ps_output_deadline(batch), &em);
    else
        ps_errmsg_set(&em, err, "out of memory");
    if (err != PS_OK) {
        ps_out_result_set(res, PS_OUTPUT_RETRY, "clickhouse: %s", em.text);
        res->nothing_sent = true;
        return;
    }
    if (in->b.resp.status != 200) {
        failed(in, "clickhouse insert", res);
        return;
    }
    res->status = PS_OUTPUT_DELIVERED;
    res->delivered_id = batch->events[batch->count - 1].id;
}

static ps_err ch_create(const ps_output_env *env, const void *options, ps_output_limits *limits,
                        void **out, ps_errmsg *em)
{
    const ch_options *o = options;
    ps_err err = ps_out_base_create(env, o->timeout_ms, sizeof(ch_inst), out, em);

    if (err != PS_OK)
        return err;
    ((ch_inst *)*out)->o = o;
    /* A block of more than a million rows would be split by the server and could be
     * half written; stay well below. */
    if (!limits->max_batch_events || limits->max_batch_events > 100000)
        limits->max_batch_events = 100000;
    return PS_OK;
}

const ps_output_plugin ps_out_clickhouse_plugin = {
    .name = "clickhouse",
    .summary = "ClickHouse over its HTTP interface, into a typed ReplacingMergeTree table.",
    .options = &ch_table,
    .options_size = sizeof(ch_options),
    .max_batch_events = 100000,
    .max_batch_bytes = 256u << 20,
    .max_event_bytes = 0,
    .oversized_default = PS_OUTPUT_OVERSIZED_TRUNCATE,
    .check = NULL,
    .create = ch_create,
    .deliver = ch_deliver,
    .destroy = ps_out_base_destroy,
};
