/* The output plugins, and the options every output has. A new plugin is a file in
 * this folder, its name in the extern line and one row in `plugins`. */
#include <string.h>

#include "output/ps_output_internal.h"

/* Enums are stored through an int. */
_Static_assert(sizeof(ps_output_oversized) == sizeof(int), "enum must be int-sized");

extern const ps_output_plugin ps_out_clickhouse_plugin, ps_out_splunk_hec_plugin,
    ps_out_sentinel_plugin;

extern const ps_output_plugin ps_out_file_plugin, ps_out_syslog_plugin;

static const ps_output_plugin *const plugins[] = {
    &ps_out_file_plugin,       &ps_out_syslog_plugin,
    &ps_out_clickhouse_plugin, &ps_out_splunk_hec_plugin,
    &ps_out_sentinel_plugin,   NULL, /* keeps the array non-empty; the end */
};

const ps_output_plugin *ps_output_plugin_at(size_t i)
{
    return i < sizeof plugins / sizeof plugins[0] ? plugins[i] : NULL;
}

const ps_output_plugin *ps_output_plugin_find(const char *name)
{
    for (size_t i = 0; name && plugins[i]; i++) {
        if (strcmp(plugins[i]->name, name) == 0)
            return plugins[i];
    }
    return NULL;
}

static const char *const oversized_names[] = {"split", "truncate", "skip", NULL};

const char *ps_output_oversized_name(ps_output_oversized o)
{
    return (unsigned)o < 3 ? oversized_names[o] : "?";
}

#define MS_S 1000LL
#define MS_H (3600LL * MS_S)

static const ps_schema_field tls_fields[] = {
    {.name = "ca_file",
     .type = PS_SCHEMA_PATH,
     .group = "TLS",
     .description = "PEM file of the CA certificates that may sign the destination's "
                    "certificate; absent: the system's CA store. The certificate and its "
                    "name are always verified.",
     PSO_MEMBER(ps_output_tls, ca_file)},
    {.name = "cert_file",
     .type = PS_SCHEMA_PATH,
     .group = "TLS",
     .description = "PEM client certificate, for a destination that asks for one "
                    "(needs `key_file`).",
     PSO_MEMBER(ps_output_tls, cert_file)},
    {.name = "key_file",
     .type = PS_SCHEMA_PATH,
     .group = "TLS",
     .description = "PEM private key of `cert_file` (unencrypted; keep it mode 0600).",
     PSO_MEMBER(ps_output_tls, key_file)},
};
static const ps_schema_table tls_table = PSO_TABLE("output.tls", tls_fields);

static const ps_schema_field common_fields[] = {
    {.name = "name",
     .type = PS_SCHEMA_STRING,
     .group = "Output",
     .required = true,
     .flags = PS_SCHEMA_F_NONEMPTY,
     .description = "Unique name of the output; its delivery cursor is kept under it, so "
                    "renaming an output starts it again from the oldest stored event.",
     PSO_MEMBER(ps_output_settings, name)},
    {.name = "type",
     .type = PS_SCHEMA_STRING,
     .group = "Output",
     .required = true,
     .flags = PS_SCHEMA_F_NONEMPTY,
     .description = "The plugin: `file`, `syslog`, `clickhouse`, `splunk_hec` or `sentinel` "
                    "(docs/outputs.md); its own options sit beside these.",
     PSO_MEMBER(ps_output_settings, type)},
    {.name = "enabled",
     .type = PS_SCHEMA_BOOL,
     .group = "Output",
     .def = "true",
     .description = "`false` keeps the output configured but not delivering; retention "
                    "then no longer waits for it.",
     PSO_MEMBER(ps_output_settings, enabled)},
    {.name = "devices",
     .type = PS_SCHEMA_STRLIST,
     .group = "Output",
     .flags = PS_SCHEMA_F_NONEMPTY | PS_SCHEMA_F_ITEMS_POS,
     .description = "Devices (names or ids) whose events it takes; absent: every device.",
     PSO_MEMBER(ps_output_settings, devices),
     .count_offset = offsetof(ps_output_settings, ndevices),
     .items_pos_offset = offsetof(ps_output_settings, devices_pos)},
    {.name = "types",
     .type = PS_SCHEMA_STRLIST,
     .group = "Output",
     .flags = PS_SCHEMA_F_NONEMPTY | PS_SCHEMA_F_ITEMS_POS,
     .description = "Data types it takes (`message`, `maillog`, `audit`); absent: all.",
     PSO_MEMBER(ps_output_settings, types),
     .count_offset = offsetof(ps_output_settings, ntypes),
     .items_pos_offset = offsetof(ps_output_settings, types_pos)},
    {.name = "pipelines",
     .type = PS_SCHEMA_STRLIST,
     .group = "Output",
     .flags = PS_SCHEMA_F_NONEMPTY | PS_SCHEMA_F_ITEMS_POS,
     .description = "Pipelines run, in order, on each event before it is delivered (the "
                    "stored event is not changed). An event a pipeline drops is not sent.",
     PSO_MEMBER(ps_output_settings, pipelines),
     .count_offset = offsetof(ps_output_settings, npipelines),
     .items_pos_offset = offsetof(ps_output_settings, pipelines_pos)},
    {.name = "batch_events",
     .type = PS_SCHEMA_INT,
     .group = "Batching",
     .def = "500",
     PSO_RANGE(1, 100000),
     .description = "At most this many events per batch (the plugin may take fewer).",
     PSO_MEMBER(ps_output_settings, batch_events)},
    {.name = "batch_bytes",
     .type = PS_SCHEMA_SIZE,
     .group = "Batching",
     .def = "4MiB",
     PSO_RANGE(1024, 1LL << 30),
     .description = "At most this much event JSON per batch (one larger event goes alone).",
     PSO_MEMBER(ps_output_settings, batch_bytes)},
    {.name = "flush_interval",
     .type = PS_SCHEMA_DURATION,
     .group = "Batching",
     .def = "1s",
     PSO_RANGE(10, 1 * MS_H),
     .description = "When no full batch is waiting, what is there is sent after this long.",
     PSO_MEMBER(ps_output_settings, flush_interval_ms)},
    {.name = "retry_min",
     .type = PS_SCHEMA_DURATION,
     .group = "Batching",
     .def = "1s",
     PSO_RANGE(10, 1 * MS_H),
     .description = "First delay after a failed delivery; doubled after each further "
                    "failure up to `retry_max`, each delay jittered by up to 25%.",
     PSO_MEMBER(ps_output_settings, retry_min_ms)},
    {.name = "retry_max",
     .type = PS_SCHEMA_DURATION,
     .group = "Batching",
     .def = "5m",
     PSO_RANGE(10, 24 * MS_H),
     .description = "Longest delay between retries.",
     PSO_MEMBER(ps_output_settings, retry_max_ms)},
    {.name = "oversized",
     .type = PS_SCHEMA_ENUM,
     .group = "Batching",
     .enum_values = oversized_names,
     .description = "An event larger than the destination takes: `split` (a message event "
                    "by its msgParts, each part with the shared keys; others are "
                    "truncated), `truncate` (a copy cut to fit, marked "
                    "`podstreamTruncated`) or `skip` (not sent, counted as dropped). "
                    "Each is counted. Default: the plugin's (docs/outputs.md).",
     PSO_MEMBER(ps_output_settings, oversized)},
    {.name = "tls",
     .type = PS_SCHEMA_OBJECT,
     .group = "TLS",
     .object = &tls_table,
     .description = "Certificates for TLS destinations; see below.",
     PSO_MEMBER(ps_output_settings, tls)},
};
static const ps_schema_table common_table = PSO_TABLE("output", common_fields);

const ps_schema_table *ps_output_common_options(void)
{
    return &common_table;
}

const ps_schema_table *ps_output_tls_options(void)
{
    return &tls_table;
}
