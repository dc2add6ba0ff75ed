#include "podstream/ps_schema.h"

#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "podstream/ps_config.h"
#include "podstream/ps_platform.h"

/* Enums are stored through an int pointer. */
_Static_assert(sizeof(ps_data_type) == sizeof(int), "ps_data_type must be int-sized");
_Static_assert(sizeof(ps_log_level) == sizeof(int), "ps_log_level must be int-sized");
_Static_assert(sizeof(ps_resume_policy) == sizeof(int), "ps_resume_policy must be int-sized");

/* No table has more fields than this; parse keeps a seen-flag per field. */
#define MAX_FIELDS   64
#define PATH_MAX_LEN 512

/* ---- the tables ----------------------------------------------------------- */

#define MEMBER(T, m) .offset = offsetof(T, m), .size = sizeof(((T *)0)->m)

static const char *const device_types[] = {"proofpoint", NULL};
static const char *const data_types[] = {"message", "maillog", "audit", NULL};
static const char *const log_levels[] = {"error", "warn", "info", "debug", NULL};
static const char *const resume_policies[] = {"auto", "live-only", NULL};

static const ps_schema_field properties_fields[] = {
    {.name = "endpoint",
     .type = PS_SCHEMA_STRING,
     .group = "Connection",
     .def = "wss://logstream.proofpoint.com:443/v1/stream",
     .check = ps_schema_check_ws_url,
     .check_doc = "a ws:// or wss:// URL with a host",
     .flags = PS_SCHEMA_F_NONEMPTY,
     .description = "WebSocket URL of the POD log stream. Change it only for a regional "
                    "endpoint or a test server; `cid` and `type` are added to it.",
     MEMBER(ps_device_props, endpoint)},
    {.name = "cluster",
     .type = PS_SCHEMA_STRING,
     .group = "Connection",
     .required = true,
     .flags = PS_SCHEMA_F_NONEMPTY,
     .description = "Proofpoint cluster ID (the `cid` of the stream), as shown in the "
                    "Proofpoint admin portal.",
     MEMBER(ps_device_props, cluster)},
    {.name = "token",
     .type = PS_SCHEMA_STRING,
     .group = "Connection",
     .required = true,
     .flags = PS_SCHEMA_F_NONEMPTY | PS_SCHEMA_F_SECRET | PS_SCHEMA_F_POS,
     .description = "API token of the Remote Syslog licence, sent as a Bearer token. Write "
                    "`${ENV_VAR}` or `$secret{name}` to keep it out of the file, or an "
                    "`enc:v1:` value with `secure: true`.",
     MEMBER(ps_device_props, token),
     .pos_offset = offsetof(ps_device_props, token_pos)},
    {.name = "type",
     .type = PS_SCHEMA_ENUM,
     .group = "Connection",
     .def = "message",
     .enum_values = data_types,
     .description = "Data type to stream: `message` (one event per processed message), "
                    "`maillog` (MTA log lines) or `audit` (admin audit events). Use one "
                    "device per type.",
     MEMBER(ps_device_props, type)},
    {.name = "secure",
     .type = PS_SCHEMA_BOOL,
     .group = "Connection",
     .def = "false",
     .description = "When true, the token (after `${}`/`$secret{}` expansion) is an "
                    "`enc:v1:` value decrypted with the service shared key.",
     MEMBER(ps_device_props, secure)},
    {.name = "workers",
     .type = PS_SCHEMA_INT,
     .group = "Performance",
     .def = "1",
     .has_min = true,
     .min = 1,
     .has_max = true,
     .max = 64,
     .description = "Number of threads that run this device's pipelines and parse its "
                    "events. The device always has one connection.",
     MEMBER(ps_device_props, workers)},
    {.name = "reuse",
     .type = PS_SCHEMA_BOOL,
     .group = "Performance",
     .def = "true",
     .description = "Multi-worker mode: when false, `workers` is ignored and one worker is "
                    "used.",
     MEMBER(ps_device_props, reuse)},
};

static const ps_schema_table properties_table = {
    .name = "properties",
    .fields = properties_fields,
    .count = sizeof properties_fields / sizeof properties_fields[0],
};

static const ps_schema_field device_fields[] = {
    {.name = "id",
     .type = PS_SCHEMA_INT,
     .group = "Device",
     .required = true,
     .has_min = true,
     .min = 1,
     .has_max = true,
     .max = INT32_MAX,
     .description = "Unique numeric identifier, across all device files. Stored with every "
                    "event: do not reuse the id of a removed device for another one.",
     MEMBER(ps_device, id)},
    {.name = "name",
     .type = PS_SCHEMA_STRING,
     .group = "Device",
     .required = true,
     .flags = PS_SCHEMA_F_NONEMPTY,
     .description = "Device name, shown in logs, `podstream status` and queries.",
     MEMBER(ps_device, name)},
    {.name = "description",
     .type = PS_SCHEMA_STRING,
     .group = "Device",
     .description = "Optional description.",
     MEMBER(ps_device, description)},
    {.name = "type",
     .type = PS_SCHEMA_ENUM,
     .group = "Device",
     .required = true,
     .enum_values = device_types,
     .flags = PS_SCHEMA_F_ENUM_STRING,
     .description = "Device type; must be `proofpoint`.",
     MEMBER(ps_device, type)},
    {.name = "tags",
     .type = PS_SCHEMA_STRLIST,
     .group = "Device",
     .flags = PS_SCHEMA_F_NONEMPTY,
     .description = "Labels stored with every event of this device, for filtering queries.",
     MEMBER(ps_device, tags),
     .count_offset = offsetof(ps_device, ntags)},
    {.name = "pipelines",
     .type = PS_SCHEMA_STRLIST,
     .group = "Device",
     .flags = PS_SCHEMA_F_NONEMPTY | PS_SCHEMA_F_ITEMS_POS,
     .description = "Names of pipelines (from `pipelines/*.yml`) that process each event, "
                    "in order, before it is stored.",
     MEMBER(ps_device, pipelines),
     .count_offset = offsetof(ps_device, npipelines),
     .items_pos_offset = offsetof(ps_device, pipeline_pos)},
    {.name = "status",
     .type = PS_SCHEMA_BOOL,
     .group = "Device",
     .def = "true",
     .description = "`false` keeps the device configured but not connected.",
     MEMBER(ps_device, status)},
    {.name = "properties",
     .type = PS_SCHEMA_OBJECT,
     .group = "Device",
     .required = true,
     .object = &properties_table,
     .description = "Connection and performance settings; see below.",
     MEMBER(ps_device, props)},
};

static const ps_schema_table device_table = {
    .name = "device",
    .fields = device_fields,
    .count = sizeof device_fields / sizeof device_fields[0],
};

static const char *service_hint(const char *key)
{
    if (strcmp(key, "devices") == 0 || strcmp(key, "device") == 0)
        return "devices go in files under devices/, not in podstream.yml";
    if (strcmp(key, "pipelines") == 0 || strcmp(key, "pipeline") == 0)
        return "pipelines go in files under pipelines/, not in podstream.yml";
    return NULL;
}

#define MS_S 1000LL
#define MS_M (60 * MS_S)
#define MS_H (60 * MS_M)
#define MIB  (1024LL * 1024LL)

static const ps_schema_field service_fields[] = {
    {.name = "database",
     .type = PS_SCHEMA_PATH,
     .group = "Storage",
     .def = "podstream.db",
     .flags = PS_SCHEMA_F_STATE_DEFAULT,
     .description = "SQLite database of events, resume state and counters.",
     MEMBER(ps_service_settings, database)},
    {.name = "retention_days",
     .type = PS_SCHEMA_INT,
     .group = "Storage",
     .def = "30",
     .has_min = true,
     .min = 0,
     .has_max = true,
     .max = 3650,
     .description = "Events older than this many days are deleted; 0 keeps them forever.",
     MEMBER(ps_service_settings, retention_days)},
    {.name = "retention_max_db_size",
     .type = PS_SCHEMA_SIZE,
     .group = "Storage",
     .def = "0",
     .has_min = true,
     .min = 0,
     .description = "When the database grows past this size the oldest events are deleted; "
                    "0 means no size limit.",
     MEMBER(ps_service_settings, retention_max_bytes)},
    {.name = "key_file",
     .type = PS_SCHEMA_PATH,
     .group = "Secrets",
     .def = "podstream.key",
     .description = "Shared key that decrypts `secure: true` tokens. Must be readable by "
                    "its owner only (mode 0600).",
     MEMBER(ps_service_settings, key_file)},
    {.name = "secrets_dir",
     .type = PS_SCHEMA_PATH,
     .group = "Secrets",
     .def = "secrets",
     .description = "Directory of `$secret{name}` files (one secret per file).",
     MEMBER(ps_service_settings, secrets_dir)},
    {.name = "log_level",
     .type = PS_SCHEMA_ENUM,
     .group = "Logging",
     .def = "info",
     .enum_values = log_levels,
     .description = "Least severe level that is logged.",
     MEMBER(ps_service_settings, log_level)},
    {.name = "tls_ca_file",
     .type = PS_SCHEMA_PATH,
     .group = "Network",
     .description = "PEM file of CA certificates to trust instead of the system store (for "
                    "a TLS-inspecting proxy or a test server).",
     MEMBER(ps_service_settings, tls_ca_file)},
    {.name = "proxy",
     .type = PS_SCHEMA_STRING,
     .group = "Network",
     .check = ps_schema_check_proxy_url,
     .check_doc = "an http://, https://, socks5:// or socks5h:// URL",
     .flags = PS_SCHEMA_F_NONEMPTY,
     .description = "Proxy for the connections to Proofpoint; the WebSocket is tunnelled "
                    "through it (HTTP CONNECT or SOCKS).",
     MEMBER(ps_service_settings, proxy)},
    {.name = "proxy_username",
     .type = PS_SCHEMA_STRING,
     .group = "Network",
     .flags = PS_SCHEMA_F_SECRET | PS_SCHEMA_F_POS,
     .description = "Proxy user name; may be `${ENV_VAR}` or `$secret{name}`.",
     MEMBER(ps_service_settings, proxy_username),
     .pos_offset = offsetof(ps_service_settings, proxy_username_pos)},
    {.name = "proxy_password",
     .type = PS_SCHEMA_STRING,
     .group = "Network",
     .flags = PS_SCHEMA_F_SECRET | PS_SCHEMA_F_POS,
     .description = "Proxy password; may be `${ENV_VAR}` or `$secret{name}`.",
     MEMBER(ps_service_settings, proxy_password),
     .pos_offset = offsetof(ps_service_settings, proxy_password_pos)},
    {.name = "connect_timeout",
     .type = PS_SCHEMA_DURATION,
     .group = "Network",
     .def = "30s",
     .has_min = true,
     .min = 1 * MS_S,
     .has_max = true,
     .max = 10 * MS_M,
     .description = "Time allowed for TCP, TLS and the WebSocket upgrade.",
     MEMBER(ps_service_settings, connect_timeout_ms)},
    {.name = "keepalive",
     .type = PS_SCHEMA_DURATION,
     .group = "Network",
     .def = "30s",
     .has_min = true,
     .min = 1 * MS_S,
     .has_max = true,
     .max = 10 * MS_M,
     .description = "Interval of WebSocket pings; POD closes connections idle for about "
                    "5 minutes.",
     MEMBER(ps_service_settings, keepalive_ms)},
    {.name = "dead_after",
     .type = PS_SCHEMA_DURATION,
     .group = "Network",
     .def = "90s",
     .has_min = true,
     .min = 2 * MS_S,
     .has_max = true,
     .max = 1 * MS_H,
     .description = "A connection with no frame and no pong for this long is dropped and "
                    "reconnected. Must be longer than `keepalive`.",
     MEMBER(ps_service_settings, dead_after_ms)},
    {.name = "backoff_initial",
     .type = PS_SCHEMA_DURATION,
     .group = "Network",
     .def = "1s",
     .has_min = true,
     .min = 100,
     .has_max = true,
     .max = 10 * MS_M,
     .description = "Delay before reconnecting after a failure. It doubles with each "
                    "further failure up to `backoff_max`; the actual wait is random below it, "
                    "so that devices do not reconnect in step.",
     MEMBER(ps_service_settings, backoff_initial_ms)},
    {.name = "backoff_max",
     .type = PS_SCHEMA_DURATION,
     .group = "Network",
     .def = "5m",
     .has_min = true,
     .min = 1 * MS_S,
     .has_max = true,
     .max = 24 * MS_H,
     .description = "Longest delay between reconnection attempts. Must not be shorter than "
                    "`backoff_initial`.",
     MEMBER(ps_service_settings, backoff_max_ms)},
    {.name = "unauthorised_retry",
     .type = PS_SCHEMA_DURATION,
     .group = "Network",
     .def = "5m",
     .has_min = true,
     .min = 1 * MS_S,
     .has_max = true,
     .max = 24 * MS_H,
     .description = "Delay before retrying a device whose token was refused (HTTP 401).",
     MEMBER(ps_service_settings, unauthorised_retry_ms)},
    {.name = "max_frame_size",
     .type = PS_SCHEMA_SIZE,
     .group = "Network",
     .def = "64MiB",
     .has_min = true,
     .min = 1 * MIB,
     .has_max = true,
     .max = 1024 * MIB,
     .description = "Largest event frame accepted. POD sends frames over 1 MiB for "
                    "messages with many parts; a smaller limit loses those events.",
     MEMBER(ps_service_settings, max_frame_bytes)},
    {.name = "resume_policy",
     .type = PS_SCHEMA_ENUM,
     .group = "Streaming",
     .def = "auto",
     .enum_values = resume_policies,
     .description = "`auto`: after a restart or a long outage, fetch the events missed "
                    "meanwhile from the POD archive (it reaches back 30 days). `live-only`: "
                    "always start with live events; what was missed is not fetched.",
     MEMBER(ps_service_settings, resume_policy)},
    {.name = "archive_delay",
     .type = PS_SCHEMA_DURATION,
     .group = "Streaming",
     .def = "35m",
     .has_min = true,
     .min = 1 * MS_S,
     .has_max = true,
     .max = 24 * MS_H,
     .description = "How long the POD archive takes to hold an event (POD documents at "
                    "least 30 minutes). After a crash or a dropped connection, events that "
                    "were in flight are fetched again from the archive this long after the "
                    "drop (with `resume_policy: auto`).",
     MEMBER(ps_service_settings, archive_delay_ms)},
};

static const ps_schema_table service_table = {
    .name = "service",
    .fields = service_fields,
    .count = sizeof service_fields / sizeof service_fields[0],
    .unknown_hint = service_hint,
};

const ps_schema_table *ps_schema_device(void)
{
    return &device_table;
}

const ps_schema_table *ps_schema_properties(void)
{
    return &properties_table;
}

const ps_schema_table *ps_schema_service(void)
{
    return &service_table;
}

/* ---- small helpers -------------------------------------------------------- */

const ps_schema_field *ps_schema_find(const ps_schema_table *t, const char *name)
{
    for (size_t i = 0; i < t->count; i++)
        if (strcmp(t->fields[i].name, name) == 0)
            return &t->fields[i];
    return NULL;
}

const char *ps_schema_type_name(ps_schema_type type)
{
    switch (type) {
    case PS_SCHEMA_INT:
        return "integer";
    case PS_SCHEMA_BOOL:
        return "boolean";
    case PS_SCHEMA_STRING:
        return "string";
    case PS_SCHEMA_STRLIST:
        return "list of strings";
    case PS_SCHEMA_ENUM:
        return "enum";
    case PS_SCHEMA_OBJECT:
        return "mapping";
    case PS_SCHEMA_PATH:
        return "path";
    case PS_SCHEMA_SIZE:
        return "size";
    case PS_SCHEMA_DURATION:
        return "duration";
    }
    return "?";
}

/* What the message says was expected: "expected <this>, got ...". */
static const char *expected_text(ps_schema_type type)
{
    switch (type) {
    case PS_SCHEMA_INT:
        return "a number";
    case PS_SCHEMA_BOOL:
        return "true or false";
    case PS_SCHEMA_STRING:
    case PS_SCHEMA_ENUM:
        return "a string";
    case PS_SCHEMA_PATH:
        return "a path";
    case PS_SCHEMA_STRLIST:
        return "a list of strings";
    case PS_SCHEMA_OBJECT:
        return "a mapping";
    case PS_SCHEMA_SIZE:
        return "a size such as 64MiB";
    case PS_SCHEMA_DURATION:
        return "a duration such as 30s";
    }
    return "?";
}

const char *ps_schema_describe(const ps_yaml_node *n)
{
    const char *d = ps_yaml_describe(n);
    if (strcmp(d, "null") == 0)
        return "an empty value";
    if (strcmp(d, "string") == 0)
        return "a string";
    if (strcmp(d, "number") == 0)
        return "a number";
    if (strcmp(d, "boolean") == 0)
        return "a boolean";
    if (strcmp(d, "list") == 0)
        return "a list";
    if (strcmp(d, "mapping") == 0)
        return "a mapping";
    return d;
}

static void *at(void *base, size_t off)
{
    return (char *)base + off;
}

static const void *cat(const void *base, size_t off)
{
    return (const char *)base + off;
}

/* ---- sizes and durations -------------------------------------------------- */

typedef struct unit {
    const char *name;
    uint64_t mult;
} unit;

#define KIB 1024ULL
static const unit size_units[] = {
    {"", 1},
    {"b", 1},
    {"k", KIB},
    {"kib", KIB},
    {"kb", 1000ULL},
    {"m", KIB *KIB},
    {"mib", KIB *KIB},
    {"mb", 1000000ULL},
    {"g", KIB *KIB *KIB},
    {"gib", KIB *KIB *KIB},
    {"gb", 1000000000ULL},
    {"t", KIB *KIB *KIB *KIB},
    {"tib", KIB *KIB *KIB *KIB},
    {"tb", 1000000000000ULL},
};

/* Reads decimal digits into *out. Returns the end, or NULL on overflow or when
 * there is no digit. */
static const char *read_u64(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    const char *p = s;
    while (*p >= '0' && *p <= '9') {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return NULL;
        v = v * 10 + d;
        p++;
    }
    if (p == s)
        return NULL;
    *out = v;
    return p;
}

ps_err ps_schema_parse_size(const char *text, uint64_t *out)
{
    uint64_t v;
    const char *p;
    if (!text || !(text[0] >= '0' && text[0] <= '9'))
        return PS_ERR_INVALID;
    p = read_u64(text, &v);
    if (!p)
        return PS_ERR_RANGE; /* it starts with a digit, so only overflow gets here */
    while (*p == ' ')
        p++;
    for (size_t i = 0; i < sizeof size_units / sizeof size_units[0]; i++) {
        if (strcasecmp(p, size_units[i].name) == 0) {
            if (v > UINT64_MAX / size_units[i].mult)
                return PS_ERR_RANGE;
            *out = v * size_units[i].mult;
            return PS_OK;
        }
    }
    return PS_ERR_INVALID;
}

void ps_schema_format_size(uint64_t bytes, char *buf, size_t len)
{
    static const unit order[] = {
        {"TiB", KIB * KIB * KIB * KIB},
        {"GiB", KIB * KIB * KIB},
        {"MiB", KIB * KIB},
        {"KiB", KIB},
        {"TB", 1000000000000ULL},
        {"GB", 1000000000ULL},
        {"MB", 1000000ULL},
        {"KB", 1000ULL},
    };
    const unit *best = NULL;
    if (bytes == 0) {
        snprintf(buf, len, "0");
        return;
    }
    /* The largest unit that divides exactly gives the shortest number. */
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (bytes % order[i].mult == 0 && (!best || order[i].mult > best->mult))
            best = &order[i];
    if (best)
        snprintf(buf, len, "%llu%s", (unsigned long long)(bytes / best->mult), best->name);
    else
        snprintf(buf, len, "%lluB", (unsigned long long)bytes);
}

static const unit duration_units[] = {
    {"d", 24ULL * 3600 * 1000}, {"h", 3600ULL * 1000}, {"m", 60ULL * 1000}, {"s", 1000}, {"ms", 1},
};
#define NDURATION_UNITS (sizeof duration_units / sizeof duration_units[0])

ps_err ps_schema_parse_duration(const char *text, int64_t *out_ms)
{
    const char *p = text;
    uint64_t total = 0;
    size_t next_unit = 0; /* units must come largest first, each at most once */

    if (!text || !(text[0] >= '0' && text[0] <= '9'))
        return PS_ERR_INVALID;
    while (*p) {
        uint64_t v;
        size_t u, ulen = 0;
        const char *q = read_u64(p, &v);
        if (!q)
            return (*p >= '0' && *p <= '9') ? PS_ERR_RANGE : PS_ERR_INVALID;
        if (*q == '\0' && p == text) {
            /* A bare number is seconds, like sleep(1) and most config files. */
            if (v > (uint64_t)INT64_MAX / 1000)
                return PS_ERR_RANGE;
            *out_ms = (int64_t)(v * 1000);
            return PS_OK;
        }
        while (q[ulen] >= 'a' && q[ulen] <= 'z')
            ulen++;
        for (u = next_unit; u < NDURATION_UNITS; u++)
            if (strlen(duration_units[u].name) == ulen &&
                strncmp(q, duration_units[u].name, ulen) == 0)
                break;
        if (ulen == 0 || u == NDURATION_UNITS)
            return PS_ERR_INVALID;
        if (v > ((uint64_t)INT64_MAX - total) / duration_units[u].mult)
            return PS_ERR_RANGE;
        total += v * duration_units[u].mult;
        next_unit = u + 1;
        p = q + ulen;
    }
    *out_ms = (int64_t)total;
    return PS_OK;
}

void ps_schema_format_duration(int64_t ms, char *buf, size_t len)
{
    size_t used = 0;
    uint64_t rest;
    if (ms <= 0) {
        snprintf(buf, len, ms == 0 ? "0s" : "%lldms", (long long)ms);
        return;
    }
    rest = (uint64_t)ms;
    buf[0] = '\0';
    for (size_t u = 0; u < NDURATION_UNITS && rest > 0; u++) {
        uint64_t n = rest / duration_units[u].mult;
        if (n == 0)
            continue;
        rest -= n * duration_units[u].mult;
        if (used < len) {
            int w = snprintf(buf + used, len - used, "%llu%s", (unsigned long long)n,
                             duration_units[u].name);
            if (w > 0)
                used += (size_t)w;
        }
    }
}

void ps_schema_format_bounds(const ps_schema_field *f, char *buf, size_t len)
{
    char lo[32], hi[32];
    buf[0] = '\0';
    if (!f->has_min && !f->has_max)
        return;
    switch (f->type) {
    case PS_SCHEMA_SIZE:
        ps_schema_format_size((uint64_t)f->min, lo, sizeof lo);
        ps_schema_format_size((uint64_t)f->max, hi, sizeof hi);
        break;
    case PS_SCHEMA_DURATION:
        ps_schema_format_duration(f->min, lo, sizeof lo);
        ps_schema_format_duration(f->max, hi, sizeof hi);
        break;
    default:
        snprintf(lo, sizeof lo, "%lld", f->min);
        snprintf(hi, sizeof hi, "%lld", f->max);
        break;
    }
    if (f->has_min && f->has_max)
        snprintf(buf, len, "%s..%s", lo, hi);
    else if (f->has_min)
        snprintf(buf, len, ">= %s", lo);
    else
        snprintf(buf, len, "<= %s", hi);
}

/* ---- did-you-mean --------------------------------------------------------- */

#define DIST_MAX_LEN 64

size_t ps_schema_edit_distance(const char *a, const char *b)
{
    /* Optimal string alignment: a swapped pair of letters ("tyep") counts once. */
    size_t la = strlen(a), lb = strlen(b);
    size_t d[DIST_MAX_LEN + 1][DIST_MAX_LEN + 1];
    if (la > DIST_MAX_LEN || lb > DIST_MAX_LEN)
        return la > lb ? la : lb;
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            int ca = tolower((unsigned char)a[i - 1]);
            int cb = tolower((unsigned char)b[j - 1]);
            size_t cost = ca == cb ? 0 : 1;
            size_t best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < best)
                best = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[la][lb];
}

static size_t suggest_limit(size_t len)
{
    if (len <= 4)
        return 1;
    if (len <= 8)
        return 2;
    return 3;
}

const char *ps_schema_suggest(const char *word, const char *const *candidates)
{
    const char *best = NULL, *prefix = NULL;
    size_t best_d = SIZE_MAX, prefix_len = 0, wlen = strlen(word);
    for (const char *const *c = candidates; *c; c++) {
        size_t d = ps_schema_edit_distance(word, *c), clen = strlen(*c);
        size_t common = wlen < clen ? wlen : clen;
        if (d < best_d && d <= suggest_limit(clen) && d < wlen) {
            best = *c;
            best_d = d;
        }
        /* A shortened or lengthened name ("proxy_user", "warning") is too far by
         * edits but plainly meant; the longest shared prefix wins. */
        if (common >= 4 && wlen != clen && common > prefix_len &&
            strncasecmp(word, *c, common) == 0) {
            prefix = *c;
            prefix_len = common;
        }
    }
    return best ? best : prefix;
}

static const char *suggest_field(const ps_schema_table *t, const char *word)
{
    const char *names[MAX_FIELDS + 1];
    size_t n = 0;
    for (size_t i = 0; i < t->count && n < MAX_FIELDS; i++)
        names[n++] = t->fields[i].name;
    names[n] = NULL;
    return ps_schema_suggest(word, names);
}

/* ---- URL checks ----------------------------------------------------------- */

/* Checks "host[:port][/rest]" after the scheme. */
static bool check_authority(const char *p, bool allow_path, char *why, size_t whylen,
                            const char *what)
{
    const char *host = p, *end;
    size_t hlen;
    if (memchr(p, '@', strcspn(p, "/?#"))) {
        snprintf(why, whylen, "must not contain a user name or password");
        return false;
    }
    if (*p == '[') {
        end = strchr(p, ']');
        if (!end || end == p + 1) {
            snprintf(why, whylen, "must be %s with a host", what);
            return false;
        }
        end++;
    } else {
        end = p + strcspn(p, ":/?#");
    }
    hlen = (size_t)(end - host);
    if (hlen == 0) {
        snprintf(why, whylen, "must be %s with a host", what);
        return false;
    }
    if (*end == ':') {
        uint64_t port = 0;
        const char *q = read_u64(end + 1, &port);
        if (!q || port == 0 || port > 65535 || (*q && *q != '/' && *q != '?' && *q != '#')) {
            snprintf(why, whylen, "has an invalid port (must be 1..65535)");
            return false;
        }
        end = q;
    }
    if (!allow_path && *end && strcmp(end, "/") != 0) {
        snprintf(why, whylen, "must be %s without a path", what);
        return false;
    }
    return true;
}

static bool has_space(const char *s)
{
    for (; *s; s++)
        if (isspace((unsigned char)*s) || iscntrl((unsigned char)*s))
            return true;
    return false;
}

bool ps_schema_check_ws_url(const char *value, char *why, size_t whylen)
{
    static const char what[] = "a ws:// or wss:// URL";
    const char *rest;
    if (strncasecmp(value, "wss://", 6) == 0) {
        rest = value + 6;
    } else if (strncasecmp(value, "ws://", 5) == 0) {
        rest = value + 5;
    } else {
        if (strncasecmp(value, "https://", 8) == 0)
            snprintf(why, whylen, "must be %s (write wss:// instead of https://)", what);
        else if (strncasecmp(value, "http://", 7) == 0)
            snprintf(why, whylen, "must be %s (write ws:// instead of http://)", what);
        else
            snprintf(why, whylen, "must be %s", what);
        return false;
    }
    if (has_space(value)) {
        snprintf(why, whylen, "must not contain spaces or control characters");
        return false;
    }
    return check_authority(rest, true, why, whylen, what);
}

bool ps_schema_check_proxy_url(const char *value, char *why, size_t whylen)
{
    static const char *const schemes[] = {"http://", "https://", "socks5://", "socks5h://"};
    static const char what[] = "an http://, https://, socks5:// or socks5h:// URL";
    const char *rest = NULL;
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        size_t n = strlen(schemes[i]);
        if (strncasecmp(value, schemes[i], n) == 0) {
            rest = value + n;
            break;
        }
    }
    if (!rest) {
        snprintf(why, whylen, "must be %s", what);
        return false;
    }
    if (has_space(value)) {
        snprintf(why, whylen, "must not contain spaces or control characters");
        return false;
    }
    if (strchr(rest, '@')) {
        snprintf(why, whylen,
                 "must not contain a user name or password; use proxy_username and "
                 "proxy_password");
        return false;
    }
    return check_authority(rest, false, why, whylen, what);
}

/* ---- the parser ----------------------------------------------------------- */

typedef struct walk {
    ps_schema_ctx *ctx;
    ps_err err; /* PS_ERR_NOMEM once an allocation failed */
    bool bad;   /* an error was reported */
} walk;

static void report(walk *w, int line, int col, const char *path, const char *fmt, ...)
    PS_PRINTF(5, 6);

static void report(walk *w, int line, int col, const char *path, const char *fmt, ...)
{
    va_list ap;
    w->bad = true;
    va_start(ap, fmt);
    ps_diag_addv(w->ctx->diag, PS_DIAG_ERROR, w->ctx->file, line, col, path, fmt, ap);
    va_end(ap);
}

static void nomem(walk *w)
{
    if (w->err == PS_OK) {
        w->err = PS_ERR_NOMEM;
        ps_diag_add(w->ctx->diag, PS_DIAG_ERROR, w->ctx->file, 0, 0, NULL,
                    "out of memory while reading the configuration");
    }
    w->bad = true;
}

static void child_path(char *buf, size_t len, const char *path, const char *key)
{
    if (path && *path)
        snprintf(buf, len, "%s.%.200s", path, key);
    else
        snprintf(buf, len, "%.200s", key);
}

static void store_pos(walk *w, const ps_schema_field *f, void *base, const ps_yaml_node *v)
{
    if (f->flags & PS_SCHEMA_F_POS) {
        ps_config_pos *p = at(base, f->pos_offset);
        p->file = w->ctx->file;
        p->line = v->line;
        p->col = v->col;
    }
}

static void store_int(const ps_schema_field *f, void *base, long long v)
{
    if (f->size == sizeof(int)) {
        int i = (int)v;
        memcpy(at(base, f->offset), &i, sizeof i);
    } else {
        memcpy(at(base, f->offset), &v, sizeof v);
    }
}

static long long load_int(const ps_schema_field *f, const void *base)
{
    if (f->size == sizeof(int)) {
        int i;
        memcpy(&i, cat(base, f->offset), sizeof i);
        return i;
    }
    long long v;
    memcpy(&v, cat(base, f->offset), sizeof v);
    return v;
}

static void free_string(const ps_schema_field *f, char **slot)
{
    if (*slot && (f->flags & PS_SCHEMA_F_SECRET))
        ps_plat_wipe(*slot, strlen(*slot));
    free(*slot);
    *slot = NULL;
}

static void store_string(walk *w, const ps_schema_field *f, void *base, const char *s)
{
    char **slot = at(base, f->offset);
    char *copy = strdup(s);
    if (!copy) {
        nomem(w);
        return;
    }
    free_string(f, slot);
    *slot = copy;
}

static bool in_bounds(const ps_schema_field *f, long long v)
{
    return !((f->has_min && v < f->min) || (f->has_max && v > f->max));
}

/* A scalar that is not null, or a type error. */
static bool want_scalar(walk *w, const ps_schema_field *f, const ps_yaml_node *v, const char *path)
{
    if (v->kind != PS_YAML_SCALAR || ps_yaml_is_null(v)) {
        report(w, v->line, v->col, path, "expected %s, got %s", expected_text(f->type),
               ps_schema_describe(v));
        return false;
    }
    if (strlen(v->value) != v->len) {
        report(w, v->line, v->col, path, "contains a NUL character");
        return false;
    }
    return true;
}

static void parse_int(walk *w, const ps_schema_field *f, const ps_yaml_node *v, void *base,
                      const char *path)
{
    long long n = 0;
    ps_err e;
    if (!want_scalar(w, f, v, path))
        return;
    e = ps_yaml_to_int(v, &n);
    if (e == PS_ERR_RANGE || (e == PS_OK && !in_bounds(f, n))) {
        char b[64];
        ps_schema_format_bounds(f, b, sizeof b);
        report(w, v->line, v->col, path, "%.64s is out of range (%s)", v->value, b);
        return;
    }
    if (e != PS_OK) {
        if (v->plain && strcmp(ps_yaml_describe(v), "number") == 0)
            report(w, v->line, v->col, path, "%.64s is not a whole number", v->value);
        else
            report(w, v->line, v->col, path, "expected a number, got %s", ps_schema_describe(v));
        return;
    }
    store_int(f, base, n);
}

static void parse_bool(walk *w, const ps_schema_field *f, const ps_yaml_node *v, void *base,
                       const char *path)
{
    bool b;
    if (!want_scalar(w, f, v, path))
        return;
    if (ps_yaml_to_bool(v, &b) != PS_OK) {
        report(w, v->line, v->col, path, "expected true or false, got %s", ps_schema_describe(v));
        return;
    }
    memcpy(at(base, f->offset), &b, sizeof b);
}

static void parse_string(walk *w, const ps_schema_field *f, const ps_yaml_node *v, void *base,
                         const char *path)
{
    char why[256];
    if (!want_scalar(w, f, v, path))
        return;
    if (v->len == 0 && (f->type == PS_SCHEMA_PATH || (f->flags & PS_SCHEMA_F_NONEMPTY))) {
        report(w, v->line, v->col, path, "must not be empty");
        return;
    }
    if (f->check && !f->check(v->value, why, sizeof why)) {
        report(w, v->line, v->col, path, "%s", why);
        return;
    }
    if (f->type == PS_SCHEMA_PATH) {
        char *abs;
        if (v->value[0] == '~') {
            report(w, v->line, v->col, path, "a leading ~ is not expanded; write the full path");
            return;
        }
        abs =
            w->ctx->config_dir ? ps_plat_path_join(w->ctx->config_dir, v->value) : strdup(v->value);
        if (!abs) {
            nomem(w);
            return;
        }
        free_string(f, at(base, f->offset));
        *(char **)at(base, f->offset) = abs;
    } else {
        store_string(w, f, base, v->value);
    }
    store_pos(w, f, base, v);
}

static void enum_list(const ps_schema_field *f, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; f->enum_values[i] && used < len; i++) {
        int n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", f->enum_values[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

static void parse_enum(walk *w, const ps_schema_field *f, const ps_yaml_node *v, void *base,
                       const char *path)
{
    char list[256];
    const char *guess;
    if (!want_scalar(w, f, v, path))
        return;
    for (int i = 0; f->enum_values[i]; i++) {
        if (strcmp(v->value, f->enum_values[i]) == 0) {
            if (f->flags & PS_SCHEMA_F_ENUM_STRING)
                store_string(w, f, base, f->enum_values[i]);
            else
                memcpy(at(base, f->offset), &i, sizeof i);
            return;
        }
    }
    enum_list(f, list, sizeof list);
    guess = ps_schema_suggest(v->value, f->enum_values);
    if (guess)
        report(w, v->line, v->col, path, "\"%.64s\" must be %s%s (did you mean \"%s\"?)", v->value,
               f->enum_values[1] ? "one of " : "", list, guess);
    else
        report(w, v->line, v->col, path, "\"%.64s\" must be %s%s", v->value,
               f->enum_values[1] ? "one of " : "", list);
}

static void parse_size(walk *w, const ps_schema_field *f, const ps_yaml_node *v, void *base,
                       const char *path)
{
    uint64_t n = 0;
    ps_err e;
    if (!want_scalar(w, f, v, path))
        return;
    e = ps_schema_parse_size(v->value, &n);
    if (e == PS_ERR_INVALID) {
        report(w, v->line, v->col, path,
               "\"%.64s\" is not a size; write a whole number with an optional unit "
               "(B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)",
               v->value);
        return;
    }
    if (e == PS_ERR_RANGE || n > (uint64_t)LLONG_MAX || !in_bounds(f, (long long)n)) {
        char b[64];
        ps_schema_format_bounds(f, b, sizeof b);
        report(w, v->line, v->col, path, "%.64s is out of range (%s)", v->value,
               *b ? b : "too large");
        return;
    }
    memcpy(at(base, f->offset), &n, sizeof n);
}

static void parse_duration(walk *w, const ps_schema_field *f, const ps_yaml_node *v, void *base,
                           const char *path)
{
    int64_t ms = 0;
    ps_err e;
    if (!want_scalar(w, f, v, path))
        return;
    e = ps_schema_parse_duration(v->value, &ms);
    if (e == PS_ERR_INVALID) {
        report(w, v->line, v->col, path,
               "\"%.64s\" is not a duration; write a whole number with a unit (ms, s, m, h, "
               "d), e.g. 30s, 5m or 1h30m",
               v->value);
        return;
    }
    if (e == PS_ERR_RANGE || !in_bounds(f, ms)) {
        char b[64];
        ps_schema_format_bounds(f, b, sizeof b);
        report(w, v->line, v->col, path, "%.64s is out of range (%s)", v->value,
               *b ? b : "too large");
        return;
    }
    memcpy(at(base, f->offset), &ms, sizeof ms);
}

static void parse_strlist(walk *w, const ps_schema_field *f, const ps_yaml_node *v, void *base,
                          const char *path)
{
    char **items = NULL;
    ps_config_pos *pos = NULL;
    size_t n = 0;

    if (v->kind != PS_YAML_SEQ) {
        report(w, v->line, v->col, path, "expected a list of strings, got %s",
               ps_schema_describe(v));
        return;
    }
    if (v->count) {
        items = calloc(v->count, sizeof *items);
        if (f->flags & PS_SCHEMA_F_ITEMS_POS)
            pos = calloc(v->count, sizeof *pos);
        if (!items || ((f->flags & PS_SCHEMA_F_ITEMS_POS) && !pos)) {
            free(items);
            free(pos);
            nomem(w);
            return;
        }
    }
    for (size_t i = 0; i < v->count; i++) {
        const ps_yaml_node *it = v->items[i];
        char ipath[PATH_MAX_LEN];
        snprintf(ipath, sizeof ipath, "%s[%zu]", path, i);
        if (it->kind != PS_YAML_SCALAR || ps_yaml_is_null(it)) {
            report(w, it->line, it->col, ipath, "expected a string, got %s",
                   ps_schema_describe(it));
            continue;
        }
        if (strlen(it->value) != it->len) {
            report(w, it->line, it->col, ipath, "contains a NUL character");
            continue;
        }
        if (it->len == 0 && (f->flags & PS_SCHEMA_F_NONEMPTY)) {
            report(w, it->line, it->col, ipath, "must not be empty");
            continue;
        }
        items[n] = strdup(it->value);
        if (!items[n]) {
            nomem(w);
            break;
        }
        if (pos)
            pos[n] = (ps_config_pos){w->ctx->file, it->line, it->col};
        n++;
    }
    /* Keep only what parsed; the count always matches the arrays. */
    *(char ***)at(base, f->offset) = items;
    memcpy(at(base, f->count_offset), &n, sizeof n);
    if (f->flags & PS_SCHEMA_F_ITEMS_POS)
        *(ps_config_pos **)at(base, f->items_pos_offset) = pos;
    else
        free(pos);
}

static void parse_map(walk *w, const ps_schema_table *t, const ps_schema_table *parent,
                      const ps_yaml_node *map, void *base, const char *path, bool defaults_only);

static void parse_field(walk *w, const ps_schema_table *t, const ps_schema_field *f,
                        const ps_yaml_node *v, void *base, const char *path)
{
    switch (f->type) {
    case PS_SCHEMA_INT:
        parse_int(w, f, v, base, path);
        break;
    case PS_SCHEMA_BOOL:
        parse_bool(w, f, v, base, path);
        break;
    case PS_SCHEMA_STRING:
    case PS_SCHEMA_PATH:
        parse_string(w, f, v, base, path);
        break;
    case PS_SCHEMA_ENUM:
        parse_enum(w, f, v, base, path);
        break;
    case PS_SCHEMA_SIZE:
        parse_size(w, f, v, base, path);
        break;
    case PS_SCHEMA_DURATION:
        parse_duration(w, f, v, base, path);
        break;
    case PS_SCHEMA_STRLIST:
        parse_strlist(w, f, v, base, path);
        break;
    case PS_SCHEMA_OBJECT:
        parse_map(w, f->object, t, v, at(base, f->offset), path, false);
        break;
    }
}

static void apply_default(walk *w, const ps_schema_table *t, const ps_schema_field *f, void *base,
                          const char *path)
{
    ps_yaml_node n;
    if (f->type == PS_SCHEMA_OBJECT) {
        parse_map(w, f->object, t, NULL, at(base, f->offset), path, true);
        return;
    }
    if (!f->def)
        return;
    if (f->type == PS_SCHEMA_PATH) {
        const char *dir =
            (f->flags & PS_SCHEMA_F_STATE_DEFAULT) ? w->ctx->state_dir : w->ctx->config_dir;
        char *abs = dir ? ps_plat_path_join(dir, f->def) : strdup(f->def);
        if (!abs) {
            nomem(w);
            return;
        }
        free_string(f, at(base, f->offset));
        *(char **)at(base, f->offset) = abs;
        return;
    }
    /* Defaults are written as YAML so that they go through the same checks as
     * values from a file (a unit test parses every one of them). */
    memset(&n, 0, sizeof n);
    n.kind = PS_YAML_SCALAR;
    n.plain = true;
    n.value = f->def;
    n.len = strlen(f->def);
    parse_field(w, t, f, &n, base, path);
}

/* Reports an unknown key. Returns the field it is probably a misspelling of, so
 * that the field is not also reported missing. */
static const ps_schema_field *unknown_key(walk *w, const ps_schema_table *t,
                                          const ps_schema_table *parent, const ps_yaml_node *k,
                                          const char *path)
{
    char kpath[PATH_MAX_LEN];
    const char *guess = suggest_field(t, k->value);
    const char *hint = t->unknown_hint ? t->unknown_hint(k->value) : NULL;

    child_path(kpath, sizeof kpath, path, k->value);
    if (guess) {
        report(w, k->line, k->col, kpath, "unknown key \"%.200s\" (did you mean \"%s\"?)", k->value,
               guess);
        return ps_schema_find(t, guess);
    }
    if (hint) {
        report(w, k->line, k->col, kpath, "unknown key \"%.200s\" (%s)", k->value, hint);
        return NULL;
    }
    /* A key written at the wrong level is the other common mistake. */
    for (size_t i = 0; i < t->count; i++) {
        const ps_schema_field *f = &t->fields[i];
        if (f->type == PS_SCHEMA_OBJECT && ps_schema_find(f->object, k->value)) {
            report(w, k->line, k->col, kpath, "unknown key \"%.200s\" (it belongs under \"%s\")",
                   k->value, f->name);
            return NULL;
        }
    }
    if (parent && ps_schema_find(parent, k->value)) {
        report(w, k->line, k->col, kpath,
               "unknown key \"%.200s\" (it belongs one level up, beside \"%s\")", k->value,
               t->name);
        return NULL;
    }
    report(w, k->line, k->col, kpath, "unknown key \"%.200s\"", k->value);
    return NULL;
}

static void parse_map(walk *w, const ps_schema_table *t, const ps_schema_table *parent,
                      const ps_yaml_node *map, void *base, const char *path, bool defaults_only)
{
    bool seen[MAX_FIELDS] = {false};
    bool misspelt[MAX_FIELDS] = {false};

    if (!map) {
        defaults_only = true;
    } else if (!defaults_only && map->kind != PS_YAML_MAP) {
        report(w, map->line, map->col, path, "expected a mapping, got %s", ps_schema_describe(map));
        defaults_only = true;
    }
    if (!defaults_only) {
        for (size_t i = 0; i < map->count; i++) {
            const ps_yaml_node *k = map->keys[i], *v = map->items[i];
            const ps_schema_field *f = ps_schema_find(t, k->value);
            char fpath[PATH_MAX_LEN];
            if (!f) {
                const ps_schema_field *meant = unknown_key(w, t, parent, k, path);
                if (meant)
                    misspelt[meant - t->fields] = true;
                continue;
            }
            child_path(fpath, sizeof fpath, path, f->name);
            /* An empty value means "not set" for optional fields, so that
             * `description:` left blank in a template is fine. */
            if (ps_yaml_is_null(v) && !f->required)
                continue;
            seen[f - t->fields] = true;
            if (ps_yaml_is_null(v)) {
                report(w, v->line, v->col, fpath, "expected %s, got an empty value",
                       expected_text(f->type));
                if (f->type == PS_SCHEMA_OBJECT)
                    apply_default(w, t, f, base, fpath);
                continue;
            }
            parse_field(w, t, f, v, base, fpath);
        }
    }
    for (size_t i = 0; i < t->count; i++) {
        const ps_schema_field *f = &t->fields[i];
        char fpath[PATH_MAX_LEN];
        if (seen[i])
            continue;
        child_path(fpath, sizeof fpath, path, f->name);
        if (f->required && !defaults_only && !misspelt[i])
            report(w, map->line, map->col, path && *path ? path : NULL,
                   "missing required field \"%s\"", f->name);
        apply_default(w, t, f, base, fpath);
    }
}

static ps_err finish(const walk *w)
{
    if (w->err != PS_OK)
        return w->err;
    return w->bad ? PS_ERR_INVALID : PS_OK;
}

ps_err ps_schema_parse(const ps_schema_table *t, const ps_yaml_node *map, void *target,
                       const char *path, ps_schema_ctx *ctx)
{
    walk w = {ctx, PS_OK, false};
    if (!map) {
        /* An empty document: the same as an empty mapping. */
        ps_yaml_node empty;
        memset(&empty, 0, sizeof empty);
        empty.kind = PS_YAML_MAP;
        empty.line = 1;
        empty.col = 1;
        parse_map(&w, t, NULL, &empty, target, path, false);
    } else {
        parse_map(&w, t, NULL, map, target, path, false);
    }
    return finish(&w);
}

ps_err ps_schema_defaults(const ps_schema_table *t, void *target, ps_schema_ctx *ctx)
{
    walk w = {ctx, PS_OK, false};
    parse_map(&w, t, NULL, NULL, target, "", true);
    return finish(&w);
}

/* ---- free and compare ----------------------------------------------------- */

void ps_schema_free(const ps_schema_table *t, void *target)
{
    if (!target)
        return;
    for (size_t i = 0; i < t->count; i++) {
        const ps_schema_field *f = &t->fields[i];
        switch (f->type) {
        case PS_SCHEMA_STRING:
        case PS_SCHEMA_PATH:
            free_string(f, at(target, f->offset));
            break;
        case PS_SCHEMA_ENUM:
            if (f->flags & PS_SCHEMA_F_ENUM_STRING)
                free_string(f, at(target, f->offset));
            break;
        case PS_SCHEMA_STRLIST: {
            char ***items = at(target, f->offset);
            size_t n;
            memcpy(&n, cat(target, f->count_offset), sizeof n);
            for (size_t j = 0; *items && j < n; j++)
                free((*items)[j]);
            free(*items);
            *items = NULL;
            n = 0;
            memcpy(at(target, f->count_offset), &n, sizeof n);
            if (f->flags & PS_SCHEMA_F_ITEMS_POS) {
                ps_config_pos **pos = at(target, f->items_pos_offset);
                free(*pos);
                *pos = NULL;
            }
            break;
        }
        case PS_SCHEMA_OBJECT:
            ps_schema_free(f->object, at(target, f->offset));
            break;
        default:
            break;
        }
    }
}

static bool str_eq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

bool ps_schema_equal(const ps_schema_table *t, const void *a, const void *b)
{
    for (size_t i = 0; i < t->count; i++) {
        const ps_schema_field *f = &t->fields[i];
        const void *pa = cat(a, f->offset), *pb = cat(b, f->offset);
        switch (f->type) {
        case PS_SCHEMA_INT:
            if (load_int(f, a) != load_int(f, b))
                return false;
            break;
        case PS_SCHEMA_ENUM:
            if (f->flags & PS_SCHEMA_F_ENUM_STRING) {
                if (!str_eq(*(char *const *)pa, *(char *const *)pb))
                    return false;
            } else if (memcmp(pa, pb, sizeof(int)) != 0) {
                return false;
            }
            break;
        case PS_SCHEMA_BOOL:
            if (*(const bool *)pa != *(const bool *)pb)
                return false;
            break;
        case PS_SCHEMA_SIZE:
        case PS_SCHEMA_DURATION:
            if (memcmp(pa, pb, f->size) != 0)
                return false;
            break;
        case PS_SCHEMA_STRING:
        case PS_SCHEMA_PATH:
            if (!str_eq(*(char *const *)pa, *(char *const *)pb))
                return false;
            break;
        case PS_SCHEMA_STRLIST: {
            size_t na, nb;
            char *const *la = *(char **const *)pa, *const *lb = *(char **const *)pb;
            memcpy(&na, cat(a, f->count_offset), sizeof na);
            memcpy(&nb, cat(b, f->count_offset), sizeof nb);
            if (na != nb)
                return false;
            for (size_t j = 0; j < na; j++)
                if (!str_eq(la[j], lb[j]))
                    return false;
            break;
        }
        case PS_SCHEMA_OBJECT:
            if (!ps_schema_equal(f->object, pa, pb))
                return false;
            break;
        }
    }
    return true;
}
