/* ps_schema tables: every device field and service setting, described once (see
 * ps_schema.h). The engine that reads them is ps_schema.c; value syntax (sizes,
 * durations, URLs) is ps_schema_values.c. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "podstream/ps_config.h"
#include "podstream/ps_schema.h"

/* Enums are stored through an int pointer. */
_Static_assert(sizeof(ps_data_type) == sizeof(int), "ps_data_type must be int-sized");
_Static_assert(sizeof(ps_log_level) == sizeof(int), "ps_log_level must be int-sized");
_Static_assert(sizeof(ps_resume_policy) == sizeof(int), "ps_resume_policy must be int-sized");

#define MEMBER(T, m)  .offset = offsetof(T, m), .size = sizeof(((T *)0)->m)
#define RANGE(lo, hi) .has_min = true, .min = (lo), .has_max = true, .max = (hi)
#define AT_LEAST(lo)  .has_min = true, .min = (lo)

static const char *const device_types[] = {"proofpoint", NULL};
static const char *const data_types[] = {"message", "maillog", "audit", NULL};
/* Proofpoint's Splunk add-on treats `sendmail` as the maillog stream. */
static const char *const data_type_aliases[] = {"sendmail", "maillog", NULL};
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
     .enum_aliases = data_type_aliases,
     .description = "Data type to stream: `message` (one event per processed message), "
                    "`maillog` (MTA log lines) or `audit` (admin audit events). Use one "
                    "device per type. `sendmail`, the name Proofpoint's Splunk add-on also "
                    "accepts, means `maillog` and is stored as such.",
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
     RANGE(1, 64),
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
     RANGE(1, INT32_MAX),
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
#define MS_D (24 * MS_H)
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
     RANGE(0, 3650),
     .description = "Events older than this many days are deleted; 0 keeps them forever.",
     MEMBER(ps_service_settings, retention_days)},
    {.name = "retention_max_db_size",
     .type = PS_SCHEMA_SIZE,
     .group = "Storage",
     .def = "0",
     AT_LEAST(0),
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
    {.name = "metrics_file",
     .type = PS_SCHEMA_PATH,
     .group = "Monitoring",
     .description = "Prometheus text file of per-device and service metrics, replaced "
                    "atomically every `metrics_interval` (for node_exporter's textfile "
                    "collector, which reads `*.prom` files); absent: none is written.",
     MEMBER(ps_service_settings, metrics_file)},
    {.name = "metrics_interval",
     .type = PS_SCHEMA_DURATION,
     .group = "Monitoring",
     .def = "5s",
     RANGE(1 * MS_S, 1 * MS_H),
     .description = "How often the metrics file is written.",
     MEMBER(ps_service_settings, metrics_interval_ms)},
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
     RANGE(1 * MS_S, 10 * MS_M),
     .description = "Time allowed for TCP, TLS and the WebSocket upgrade.",
     MEMBER(ps_service_settings, connect_timeout_ms)},
    {.name = "keepalive",
     .type = PS_SCHEMA_DURATION,
     .group = "Network",
     .def = "30s",
     RANGE(1 * MS_S, 10 * MS_M),
     .description = "Interval of WebSocket pings; POD closes connections idle for about "
                    "5 minutes.",
     MEMBER(ps_service_settings, keepalive_ms)},
    {.name = "dead_after",
     .type = PS_SCHEMA_DURATION,
     .group = "Network",
     .def = "90s",
     RANGE(2 * MS_S, 1 * MS_H),
     .description = "A connection with no frame and no pong for this long is dropped and "
                    "reconnected. Must be longer than `keepalive`.",
     MEMBER(ps_service_settings, dead_after_ms)},
    {.name = "backoff_initial",
     .type = PS_SCHEMA_DURATION,
     .group = "Network",
     .def = "1s",
     RANGE(100, 10 * MS_M),
     .description = "Delay before reconnecting after a failure. It doubles with each "
                    "further failure up to `backoff_max`; the actual wait is random below it, "
                    "so that devices do not reconnect in step.",
     MEMBER(ps_service_settings, backoff_initial_ms)},
    {.name = "backoff_max",
     .type = PS_SCHEMA_DURATION,
     .group = "Network",
     .def = "5m",
     RANGE(1 * MS_S, 24 * MS_H),
     .description = "Longest delay between reconnection attempts. Must not be shorter than "
                    "`backoff_initial`.",
     MEMBER(ps_service_settings, backoff_max_ms)},
    {.name = "unauthorised_retry",
     .type = PS_SCHEMA_DURATION,
     .group = "Network",
     .def = "5m",
     RANGE(1 * MS_S, 24 * MS_H),
     .description = "Delay before retrying a device whose token was refused (HTTP 401).",
     MEMBER(ps_service_settings, unauthorised_retry_ms)},
    {.name = "max_frame_size",
     .type = PS_SCHEMA_SIZE,
     .group = "Network",
     .def = "64MiB",
     RANGE(1 * MIB, 1024 * MIB),
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
     RANGE(1 * MS_S, 24 * MS_H),
     .description = "How long the POD archive takes to hold an event (POD documents at "
                    "least 30 minutes). After a crash or a dropped connection, events that "
                    "were in flight are fetched again from the archive this long after the "
                    "drop (with `resume_policy: auto`).",
     MEMBER(ps_service_settings, archive_delay_ms)},
    {.name = "repair_trip_max_age",
     .type = PS_SCHEMA_DURATION,
     .group = "Streaming",
     .def = "7d",
     RANGE(1 * MS_S, 29 * MS_D),
     .description = "Events in flight when a repair trip itself leaves the live stream are "
                    "fetched by the next trip (made for a later drop, stop or restart); "
                    "when no such trip came for this long, a trip is made for them alone. "
                    "At least `archive_delay`, at most 29 days (the archive reaches back "
                    "30).",
     MEMBER(ps_service_settings, repair_trip_max_age_ms)},
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
