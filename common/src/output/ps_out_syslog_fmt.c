/* The Syslog output's messages: RFC 5424 header, podstream's structured data, and
 * the event as JSON, CEF or LEEF (see ps_out_syslog_fmt.h). */
#include <stdio.h>
#include <string.h>

#include "output/ps_out_syslog_fmt.h"
#include "podstream/ps_time.h"

/* The documentation enterprise number (RFC 5612) for our SD-ID. */
#define SD_ID "podstream@32473"

static ps_err put(ps_buf *b, const char *s)
{
    return ps_buf_append(b, s, strlen(s));
}

/* PRINTUSASCII without spaces, at most `max` bytes; "-" when nothing is left. */
static ps_err put_token(ps_buf *b, const char *s, size_t max)
{
    size_t n = 0;
    ps_err err = PS_OK;
    for (; s && *s && n < max && err == PS_OK; s++) {
        unsigned char c = (unsigned char)*s;
        char ch = c >= 33 && c <= 126 ? (char)c : '_';
        err = ps_buf_append(b, &ch, 1);
        n++;
    }
    return err == PS_OK && n == 0 ? put(b, "-") : err;
}

/* An SD-PARAM value: ", \ and ] escaped with a backslash (RFC 5424 6.3.3). */
static ps_err put_sd_value(ps_buf *b, const char *s)
{
    ps_err err = PS_OK;
    for (; *s && err == PS_OK; s++) {
        if (*s == '"' || *s == '\\' || *s == ']')
            err = ps_buf_append(b, "\\", 1);
        if (err == PS_OK)
            err = ps_buf_append(b, s, 1);
    }
    return err;
}

static ps_err put_param(ps_buf *b, const char *name, const char *value)
{
    ps_err err = ps_buf_append(b, " ", 1);
    if (err == PS_OK)
        err = put(b, name);
    if (err == PS_OK)
        err = put(b, "=\"");
    if (err == PS_OK)
        err = put_sd_value(b, value);
    return err == PS_OK ? put(b, "\"") : err;
}

static ps_err put_sd(ps_buf *b, const ps_output_event *e)
{
    char num[32];
    ps_err err = put(b, "[" SD_ID);
    snprintf(num, sizeof num, "%lld", e->device_id);
    if (err == PS_OK)
        err = put_param(b, "device", e->device_name ? e->device_name : "");
    if (err == PS_OK)
        err = put_param(b, "deviceId", num);
    snprintf(num, sizeof num, "%lld", (long long)e->id);
    if (err == PS_OK)
        err = put_param(b, "id", num);
    if (err == PS_OK)
        err = put_param(b, "key", e->key ? e->key : "");
    if (err == PS_OK && e->parts > 1) {
        snprintf(num, sizeof num, "%u/%u", e->part, e->parts);
        err = put_param(b, "part", num);
    }
    if (err == PS_OK && e->truncated)
        err = put_param(b, "truncated", "true");
    return err == PS_OK ? put(b, "] ") : err;
}

/* CEF header fields escape | and \; extension values escape \ and = and newlines. */
static ps_err put_cef(ps_buf *b, const char *s, bool ext)
{
    ps_err err = PS_OK;
    for (; *s && err == PS_OK; s++) {
        if (*s == '\\' || (!ext && *s == '|') || (ext && *s == '='))
            err = ps_buf_append(b, "\\", 1);
        if (err == PS_OK && ext && (*s == '\n' || *s == '\r'))
            err = put(b, *s == '\n' ? "\\n" : "\\r");
        else if (err == PS_OK)
            err = ps_buf_append(b, s, 1);
    }
    return err;
}

static ps_err render_cef(const ps_output_event *e, ps_buf *b)
{
    const char *type = ps_data_type_name(e->type);
    char head[128];
    ps_err err;
    snprintf(head, sizeof head,
             "CEF:0|Proofpoint|POD|1.0|%s|POD %s event|3|rt=%lld externalId=", type, type,
             (long long)(e->ts_us / 1000));
    err = put(b, head);
    if (err == PS_OK)
        err = put_cef(b, e->key ? e->key : "", true);
    if (err == PS_OK)
        err = put(b, " cs1Label=device cs1=");
    if (err == PS_OK)
        err = put_cef(b, e->device_name ? e->device_name : "", true);
    if (err == PS_OK)
        err = put(b, " msg=");
    return err == PS_OK ? put_cef(b, e->json, true) : err;
}

/* LEEF 2.0 with a tab between attributes: the JSON has no raw tab (JSON escapes it). */
static ps_err render_leef(const ps_output_event *e, ps_buf *b)
{
    char head[160];
    ps_err err;
    snprintf(head, sizeof head,
             "LEEF:2.0|Proofpoint|POD|1.0|%s|x09|devTime=%lld\tdevTimeFormat=epoch_ms\t"
             "externalId=",
             ps_data_type_name(e->type), (long long)(e->ts_us / 1000));
    err = put(b, head);
    if (err == PS_OK)
        err = put_token(b, e->key, 256);
    if (err == PS_OK)
        err = put(b, "\tdeviceName=");
    if (err == PS_OK)
        err = put_token(b, e->device_name, 256);
    if (err == PS_OK)
        err = put(b, "\tmsg=");
    return err == PS_OK ? ps_buf_append(b, e->json, e->json_len) : err;
}

ps_err pso_syslog_render(const syslog_opts *o, const ps_output_event *e, ps_buf *b)
{
    char head[96], ts[40];
    ps_err err;
    ps_time_format_iso(e->ts_us, ts, sizeof ts);
    snprintf(head, sizeof head, "<%lld>1 %s ", o->facility * 8 + o->severity, ts);
    err = put(b, head);
    if (err == PS_OK)
        err = put_token(b, o->hostname ? o->hostname : e->device_name, 255);
    if (err == PS_OK)
        err = put(b, " ");
    if (err == PS_OK)
        err = put_token(b, o->app_name, 48);
    if (err == PS_OK)
        err = put(b, " - ");
    if (err == PS_OK)
        err = put_token(b, ps_data_type_name(e->type), 32);
    if (err == PS_OK)
        err = put(b, " ");
    if (err == PS_OK)
        err = put_sd(b, e);
    if (err != PS_OK)
        return err;
    if (o->format == SYSLOG_CEF)
        return render_cef(e, b);
    if (o->format == SYSLOG_LEEF)
        return render_leef(e, b);
    return ps_buf_append(b, e->json, e->json_len);
}

/* ---- options ------------------------------------------------------------------ */

static const char *const transports[] = {"tls", "tcp", "udp", "relp", NULL};
static const char *const formats[] = {"json", "cef", "leef", NULL};

static const ps_schema_field syslog_fields[] = {
    {.name = "host",
     .type = PS_SCHEMA_STRING,
     .group = "Syslog",
     .required = true,
     .flags = PS_SCHEMA_F_NONEMPTY,
     .description = "The receiver's name or address; over TLS its certificate must carry it.",
     PSO_MEMBER(syslog_opts, host)},
    {.name = "port",
     .type = PS_SCHEMA_INT,
     .group = "Syslog",
     .def = "0",
     PSO_RANGE(0, 65535),
     .description = "The receiver's port; 0: 6514 for tls, 514 for tcp and udp, 2514 for relp.",
     PSO_MEMBER(syslog_opts, port)},
    {.name = "transport",
     .type = PS_SCHEMA_ENUM,
     .group = "Syslog",
     .def = "tls",
     .enum_values = transports,
     .description = "`tls` (RFC 5425, certificate verified against `tls.ca_file`), `tcp` "
                    "(octet-counting framing, RFC 6587), `udp` (RFC 5426; no delivery "
                    "guarantee) or `relp` (rsyslog's RELP: each message acknowledged by the "
                    "receiver; over TLS when `tls` names a CA file or client certificate).",
     PSO_MEMBER(syslog_opts, transport)},
    {.name = "format",
     .type = PS_SCHEMA_ENUM,
     .group = "Syslog",
     .def = "json",
     .enum_values = formats,
     .description = "The message: the event `json` as stored, or a `cef` (ArcSight) or `leef` "
                    "(QRadar) line carrying the event JSON in msg.",
     PSO_MEMBER(syslog_opts, format)},
    {.name = "app_name",
     .type = PS_SCHEMA_STRING,
     .group = "Syslog",
     .def = "podstream",
     .flags = PS_SCHEMA_F_NONEMPTY,
     .description = "APP-NAME of each message.",
     PSO_MEMBER(syslog_opts, app_name)},
    {.name = "hostname",
     .type = PS_SCHEMA_STRING,
     .group = "Syslog",
     .description = "HOSTNAME of each message; absent: the device's name, so a receiver can "
                    "file each device apart.",
     PSO_MEMBER(syslog_opts, hostname)},
    {.name = "facility",
     .type = PS_SCHEMA_INT,
     .group = "Syslog",
     .def = "16",
     PSO_RANGE(0, 23),
     .description = "Facility number (16: local0).",
     PSO_MEMBER(syslog_opts, facility)},
    {.name = "severity",
     .type = PS_SCHEMA_INT,
     .group = "Syslog",
     .def = "6",
     PSO_RANGE(0, 7),
     .description = "Severity number (6: informational).",
     PSO_MEMBER(syslog_opts, severity)},
    {.name = "max_message_size",
     .type = PS_SCHEMA_SIZE,
     .group = "Syslog",
     .def = "64KiB",
     PSO_RANGE(2048, 1LL << 30),
     .description = "The largest message the receiver takes (rsyslog: `maxMessageSize`, "
                    "`MaxFrameSize` of imtcp, `maxDataSize` of imrelp). A larger event is split or "
                    "truncated as "
                    "`oversized` says, never cut by the receiver.",
     PSO_MEMBER(syslog_opts, max_message_bytes)},
    {.name = "connect_timeout",
     .type = PS_SCHEMA_DURATION,
     .group = "Syslog",
     .def = "10s",
     PSO_RANGE(100, 300000),
     .description = "How long a connection (and TLS handshake) may take.",
     PSO_MEMBER(syslog_opts, connect_timeout_ms)},
};

const ps_schema_table pso_syslog_table = PSO_TABLE("output.syslog", syslog_fields);
