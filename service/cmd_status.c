/* podstream status: what the service is doing, from the counters it writes to the
 * database about once a second, and how many events each device stored per hour
 * over the last day (a gap in the hours is a gap in the data). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "podstream/ps_event.h"
#include "podstream/ps_platform.h"
#include "podstream/ps_report.h"
#include "podstream/ps_store.h"
#include "podstream/ps_time.h"

static const char *const cmd = "status";

#define HOUR_US (3600LL * 1000000LL)
/* The service writes counters about every second: older than this, it is not
 * running (or not writing). */
#define STALE_US (15LL * 1000000LL)

typedef struct status_opts {
    const char *format;
    bool utc;
    const char *config, *db;
} status_opts;

static const ps_opt options[] = {
    {"format", 0, PS_OPT_STRING, "FORMAT", offsetof(status_opts, format), "table (default) or json",
     NULL, 0, 0, NULL},
    {"utc", 0, PS_OPT_FLAG, NULL, offsetof(status_opts, utc), "times in UTC instead of local time",
     NULL, 0, 0, NULL},
    PS_CLI_DATABASE_OPTIONS(status_opts, NULL),
};

const ps_opt_cmd ps_cmd_status_opts = {
    "status",
    "show per-device counters and hourly event counts",
    "[-c DIR | --db PATH] [--format table|json] [--utc]",
    "Shows, per device, the live counters the service keeps in the database\n"
    "(state, events per second over 10 s and 1 min, events stored, lag behind the\n"
    "newest event, reconnects, duplicates, quarantined, dropped and failed in\n"
    "pipelines, last error) and the events stored per hour over the last 24 hours.",
    options,
    sizeof options / sizeof options[0],
    "Exit codes: 0 success, 1 the database cannot be read, 2 usage error,\n"
    "3 invalid configuration.",
    0,
};

static const char *type_name(ps_data_type t)
{
    return t == PS_DATA_MESSAGE ? "message" : t == PS_DATA_MAILLOG ? "maillog" : "audit";
}

/* One column of the hourly table: a (device, type) pair. */
typedef struct series {
    long long device_id;
    ps_data_type type;
    char title[160];
    uint64_t n[24];
} series;

static series *find_series(series *s, size_t n, long long id, ps_data_type type)
{
    for (size_t i = 0; i < n; i++)
        if (s[i].device_id == id && s[i].type == type)
            return &s[i];
    return NULL;
}

static series *build_series(const ps_device_counters *c, size_t nc, const ps_hourly_count *h,
                            size_t nh, int64_t first_hour, size_t *out_n)
{
    series *s = calloc(nc + nh + 1, sizeof *s);
    size_t n = 0;
    if (!s)
        return NULL;
    for (size_t i = 0; i < nc; i++) {
        series *x = &s[n++];
        x->device_id = c[i].device_id;
        x->type = c[i].type;
        snprintf(x->title, sizeof x->title, "%lld %s", c[i].device_id, c[i].name);
    }
    for (size_t i = 0; i < nh; i++) {
        series *x = find_series(s, n, h[i].device_id, h[i].type);
        int64_t slot = (h[i].hour_us - first_hour) / HOUR_US;
        if (!x) {
            x = &s[n++];
            x->device_id = h[i].device_id;
            x->type = h[i].type;
            snprintf(x->title, sizeof x->title, "%lld %s", h[i].device_id, type_name(h[i].type));
        }
        if (slot >= 0 && slot < 24)
            x->n[slot] += h[i].events;
    }
    *out_n = n;
    return s;
}

/* The device table: one line per device, as the rows of `podstream query` are. */
static const ps_report_col device_cols[] = {
    {"DEVICE", 20, false, true},  {"TYPE", 8, false, false},     {"STATE", 12, false, false},
    {"RATE 10s", 9, true, false}, {"RATE 1m", 9, true, false},   {"STORED", 12, true, false},
    {"LAG", 8, true, false},      {"RECONN", 7, true, false},    {"DUPS", 8, true, false},
    {"QUAR", 7, true, false},     {"DROP/FAIL", 9, true, false},
};
#define NDEVICE_COLS ((int)(sizeof device_cols / sizeof device_cols[0]))

static void print_devices(const ps_device_counters *c, size_t nc, int64_t now)
{
    ps_report_table t;
    ps_report_table_init(&t, stdout, device_cols, NDEVICE_COLS);
    ps_report_table_header(&t);
    for (size_t i = 0; i < nc; i++) {
        const ps_device_counters *d = &c[i];
        char dev[160], state[40], r10[32], r1m[32], stored[32], lag[32], rec[32], dups[32],
            quar[32], df[48];
        const char *cells[NDEVICE_COLS] = {
            dev, type_name(d->type), state, r10, r1m, stored, lag, rec, dups, quar, df};
        snprintf(dev, sizeof dev, "%lld %s", d->device_id, d->name);
        snprintf(state, sizeof state, "%s%s", ps_device_state_name(d->state),
                 now - d->updated_us > STALE_US ? "*" : "");
        snprintf(r10, sizeof r10, "%.1f", d->rate_10s);
        snprintf(r1m, sizeof r1m, "%.1f", d->rate_1m);
        snprintf(stored, sizeof stored, "%llu", (unsigned long long)d->events_total);
        if (d->last_event_ts_us)
            ps_time_format_elapsed(d->lag_ms, lag, sizeof lag);
        else
            snprintf(lag, sizeof lag, "-");
        snprintf(rec, sizeof rec, "%llu", (unsigned long long)d->reconnects);
        snprintf(dups, sizeof dups, "%llu", (unsigned long long)d->duplicates);
        snprintf(quar, sizeof quar, "%llu", (unsigned long long)d->quarantined);
        snprintf(df, sizeof df, "%llu/%llu", (unsigned long long)d->dropped,
                 (unsigned long long)d->failed);
        ps_report_table_row(&t, cells);
    }
}

static void print_notes(const ps_device_counters *c, size_t nc, int64_t now, bool utc)
{
    bool any_error = false;
    char when[64];
    for (size_t i = 0; i < nc; i++) {
        char ago[32];
        if (c[i].last_error[0])
            any_error = true;
        if (now - c[i].updated_us <= STALE_US)
            continue;
        ps_time_format_elapsed((now - c[i].updated_us) / 1000, ago, sizeof ago);
        ps_time_format_local(c[i].updated_us, utc, true, when, sizeof when);
        printf("* %lld %s: counters last written %s ago (%s): the service is not running, "
               "or no longer streams this device\n",
               c[i].device_id, c[i].name, ago, when);
    }
    printf("\n");
    if (!any_error) {
        printf("Last errors: none recorded.\n");
        return;
    }
    printf("Last errors:\n");
    for (size_t i = 0; i < nc; i++) {
        if (!c[i].last_error[0])
            continue;
        ps_time_format_local(c[i].last_error_us, utc, true, when, sizeof when);
        printf("  %lld %s  %s  %s\n", c[i].device_id, c[i].name, c[i].last_error_us ? when : "",
               c[i].last_error);
    }
}

/* The hourly table: one column per (device, type), through the same table writer. */
static void print_hourly(const series *s, size_t ns, int64_t first_hour, bool utc)
{
    ps_report_col *cols = calloc(ns + 1, sizeof *cols);
    const char **cells = calloc(ns + 1, sizeof *cells);
    char(*num)[32] = calloc(ns + 1, sizeof *num);
    char zone[80], when[64];
    ps_report_table t;
    if (!cols || !cells || !num) {
        fprintf(stderr, "podstream %s: out of memory\n", cmd);
        goto out;
    }
    cols[0] = (ps_report_col){"HOUR", 17, false, false};
    for (size_t k = 0; k < ns; k++) {
        cols[k + 1] = (ps_report_col){s[k].title, 14, true, true};
        cells[k + 1] = num[k + 1];
    }
    ps_report_table_init(&t, stdout, cols, (int)ns + 1);
    ps_report_zone_label(utc, zone, sizeof zone);
    printf("\nEvents stored per hour of event time (%s), last 24 hours:\n", zone);
    ps_report_table_header(&t);
    for (int h = 0; h < 24; h++) {
        ps_time_format_local(first_hour + h * HOUR_US, utc, false, when, sizeof when);
        cells[0] = when;
        for (size_t k = 0; k < ns; k++)
            snprintf(num[k + 1], sizeof num[k + 1], "%llu", (unsigned long long)s[k].n[h]);
        ps_report_table_row(&t, cells);
    }
out:
    free(num);
    free(cells);
    free(cols);
}

static void print_table(const ps_device_counters *c, size_t nc, const series *s, size_t ns,
                        int64_t now, int64_t first_hour, bool utc, const char *path,
                        const ps_store_size *size)
{
    printf("Database: %s (%.1f MB)\n\n", path, (double)size->file_bytes / 1e6);
    if (nc == 0) {
        printf("No device has reported yet: the service has not run on this database.\n");
    } else {
        print_devices(c, nc, now);
        print_notes(c, nc, now, utc);
    }
    if (ns > 0)
        print_hourly(s, ns, first_hour, utc);
}

static char *iso(int64_t us, char *buf)
{
    ps_time_format_iso(us, buf, 40);
    return buf;
}

static int print_json(const ps_device_counters *c, size_t nc, const ps_hourly_count *h, size_t nh,
                      int64_t now, const char *path, const ps_store_size *size)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *devs = cJSON_AddArrayToObject(root, "devices");
    cJSON *hours = cJSON_AddArrayToObject(root, "hourly");
    char buf[40];
    char *text;
    cJSON_AddStringToObject(root, "generated", iso(now, buf));
    cJSON_AddStringToObject(root, "database", path);
    cJSON_AddNumberToObject(root, "database_bytes", (double)size->file_bytes);
    for (size_t i = 0; i < nc; i++) {
        const ps_device_counters *d = &c[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "id", (double)d->device_id);
        cJSON_AddStringToObject(o, "name", d->name);
        cJSON_AddStringToObject(o, "type", type_name(d->type));
        cJSON_AddStringToObject(o, "state", ps_device_state_name(d->state));
        cJSON_AddBoolToObject(o, "stale", now - d->updated_us > STALE_US);
        cJSON_AddNumberToObject(o, "rate_10s", d->rate_10s);
        cJSON_AddNumberToObject(o, "rate_1m", d->rate_1m);
        cJSON_AddNumberToObject(o, "events_total", (double)d->events_total);
        if (d->last_event_ts_us)
            cJSON_AddStringToObject(o, "last_event", iso(d->last_event_ts_us, buf));
        else
            cJSON_AddNullToObject(o, "last_event");
        cJSON_AddNumberToObject(o, "lag_ms", (double)d->lag_ms);
        cJSON_AddNumberToObject(o, "reconnects", (double)d->reconnects);
        cJSON_AddNumberToObject(o, "duplicates", (double)d->duplicates);
        cJSON_AddNumberToObject(o, "quarantined", (double)d->quarantined);
        cJSON_AddNumberToObject(o, "dropped", (double)d->dropped);
        cJSON_AddNumberToObject(o, "failed", (double)d->failed);
        if (d->last_error[0]) {
            cJSON_AddStringToObject(o, "last_error", d->last_error);
            if (d->last_error_us)
                cJSON_AddStringToObject(o, "last_error_at", iso(d->last_error_us, buf));
            else
                cJSON_AddNullToObject(o, "last_error_at");
        } else {
            cJSON_AddNullToObject(o, "last_error");
            cJSON_AddNullToObject(o, "last_error_at");
        }
        cJSON_AddStringToObject(o, "updated", iso(d->updated_us, buf));
        cJSON_AddItemToArray(devs, o);
    }
    for (size_t i = 0; i < nh; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "device_id", (double)h[i].device_id);
        cJSON_AddStringToObject(o, "type", type_name(h[i].type));
        cJSON_AddStringToObject(o, "hour", iso(h[i].hour_us, buf));
        cJSON_AddNumberToObject(o, "events", (double)h[i].events);
        cJSON_AddItemToArray(hours, o);
    }
    text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) {
        fprintf(stderr, "podstream %s: out of memory\n", cmd);
        return PS_EXIT_FAILURE;
    }
    printf("%s\n", text);
    cJSON_free(text);
    return PS_EXIT_OK;
}

int ps_cmd_status(int argc, char **argv)
{
    status_opts o = {"table", false, NULL, NULL};
    ps_opt_list args = {NULL, 0};
    int rc = ps_cli_parse(&ps_cmd_status_opts, argc, argv, &o, &args);
    ps_store *st = NULL;
    ps_device_counters *c = NULL;
    ps_hourly_count *h = NULL;
    series *s = NULL;
    size_t nc = 0, nh = 0, ns = 0;
    ps_store_size size;
    char *path = NULL;
    ps_errmsg em;
    int64_t now = ps_plat_now_us();
    int64_t first_hour = (now / HOUR_US - 23) * HOUR_US;

    if (rc == PS_CLI_RUN && args.n)
        rc = ps_cli_usage_error(cmd, "unexpected argument '%s'", args.v[0]);
    ps_opt_list_free(&args);
    if (rc != PS_CLI_RUN)
        return rc;
    if (strcmp(o.format, "table") != 0 && strcmp(o.format, "json") != 0)
        return ps_cli_usage_error(cmd, "--format: '%s' is not table or json", o.format);

    rc = PS_EXIT_OK;
    path = ps_cli_database_path(cmd, o.db, o.config, &rc);
    if (!path)
        return rc;
    if (ps_store_create(path, PS_STORE_READER, &st, &em) != PS_OK ||
        ps_store_counters_list(st, &c, &nc, &em) != PS_OK ||
        ps_store_hourly_list(st, first_hour, &h, &nh, &em) != PS_OK ||
        ps_store_size_get(st, false, &size, &em) != PS_OK) {
        fprintf(stderr, "podstream %s: %s\n", cmd, em.text);
        rc = PS_EXIT_FAILURE;
        goto out;
    }
    if (strcmp(o.format, "json") == 0) {
        rc = print_json(c, nc, h, nh, now, path, &size);
        goto out;
    }
    s = build_series(c, nc, h, nh, first_hour, &ns);
    if (!s) {
        fprintf(stderr, "podstream %s: out of memory\n", cmd);
        rc = PS_EXIT_FAILURE;
        goto out;
    }
    print_table(c, nc, s, ns, now, first_hour, o.utc, path, &size);
    if (fflush(stdout) != 0)
        rc = PS_EXIT_FAILURE;
out:
    free(s);
    free(h);
    free(c);
    ps_store_destroy(st);
    free(path);
    return rc;
}
