/* podstream status: what the service is doing, from the counters it writes to the
 * database about once a second, and how many events each device stored per hour
 * (a gap in the hours is a gap in the data). When no counter was written lately the
 * service is not running, and the rates are not shown. `--check` is the same
 * reading as one line and an exit code for monitoring systems (status_check). */
#include <stdarg.h>
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
#include "status_outputs.h"

static const char *const cmd = "status";

#define HOUR_US (3600LL * 1000000LL)
/* The service writes counters about every second: older than this, it is not
 * running (or not writing). */
#define STALE_US  (15LL * 1000000LL)
#define MAX_HOURS 720

/* Monitoring plugin exit codes (the Nagios / monitoring-plugins convention). */
enum { CHECK_OK = 0, CHECK_WARNING = 1, CHECK_CRITICAL = 2, CHECK_UNKNOWN = 3 };

typedef struct status_opts {
    const char *format;
    bool utc;
    long long hours;
    bool check;
    const char *warn_lag, *crit_lag, *warn_silence, *crit_silence;
    const char *warn_states, *crit_states;
    const char *config, *db;
} status_opts;

static const ps_opt options[] = {
    {"format", 0, PS_OPT_STRING, "FORMAT", offsetof(status_opts, format), "table (default) or json",
     "Output", 0, 0, NULL},
    {"utc", 0, PS_OPT_FLAG, NULL, offsetof(status_opts, utc), "times in UTC instead of local time",
     NULL, 0, 0, NULL},
    {"hours", 0, PS_OPT_INT, "N", offsetof(status_opts, hours),
     "the hourly table covers the last N hours (default 24)", NULL, 1, MAX_HOURS, NULL},
    {"check", 0, PS_OPT_FLAG, NULL, offsetof(status_opts, check),
     "one line and exit code 0 OK, 1 WARNING, 2 CRITICAL or\n3 UNKNOWN, for Nagios, Icinga "
     "and other monitoring",
     "Check (--check)", 0, 0, NULL},
    {"warn-lag", 0, PS_OPT_STRING, "D", offsetof(status_opts, warn_lag),
     "WARNING when a device lags more\n(default 5m; 0: never)", NULL, 0, 0, NULL},
    {"crit-lag", 0, PS_OPT_STRING, "D", offsetof(status_opts, crit_lag),
     "CRITICAL when a device lags more\n(default 15m; 0: never)", NULL, 0, 0, NULL},
    {"warn-silence", 0, PS_OPT_STRING, "D", offsetof(status_opts, warn_silence),
     "WARNING when a device's newest event is older\n(default 1h; 0: never)", NULL, 0, 0, NULL},
    {"crit-silence", 0, PS_OPT_STRING, "D", offsetof(status_opts, crit_silence),
     "CRITICAL when a device's newest event is older\n(default 4h; 0: never)", NULL, 0, 0, NULL},
    {"warn-state", 0, PS_OPT_STRING, "S", offsetof(status_opts, warn_states),
     "device states that are a WARNING, comma-separated\n(default connecting,backoff)", NULL, 0, 0,
     NULL},
    {"crit-state", 0, PS_OPT_STRING, "S", offsetof(status_opts, crit_states),
     "device states that are CRITICAL (default\nerror,unauthorised)", NULL, 0, 0, NULL},
    PS_CLI_DATABASE_OPTIONS(status_opts, "Database"),
};

const ps_opt_cmd ps_cmd_status_opts = {
    "status",
    "show per-device counters and hourly event counts",
    "[-c DIR | --db PATH] [--format table|json] [--utc]\n"
    " [--hours N] [--check [--warn-lag D] [--crit-lag D]\n"
    "  [--warn-silence D] [--crit-silence D]\n"
    "  [--warn-state S,...] [--crit-state S,...]]",
    "Shows, per device, the live counters the service keeps in the database\n"
    "(state, events per second over 10 s and 1 min, events stored, lag behind the\n"
    "newest event, reconnects, empty messages skipped, duplicates, quarantined,\n"
    "dropped and failed in pipelines, last error) and the events stored per hour\n"
    "over the last 24 hours.\n"
    "When the service has written no counters for 15 s it is not running: status\n"
    "says since when, and shows no rates.\n"
    "\n"
    "--check prints one line, PODSTREAM OK|WARNING|CRITICAL|UNKNOWN - what is\n"
    "wrong | performance data, for monitoring systems. CRITICAL: the service is not\n"
    "running, or a device is in a --crit-state, or over --crit-lag or\n"
    "--crit-silence; WARNING likewise with the --warn- thresholds or when a device\n"
    "has stored no event yet. UNKNOWN: the database cannot be read, no device has\n"
    "reported, or a bad command line. Lag is how far behind real time the newest\n"
    "event was when it arrived; silence is the age of the newest event now.",
    options,
    sizeof options / sizeof options[0],
    "Exit codes: 0 success, 1 the database cannot be read, 2 usage error,\n"
    "3 invalid configuration. With --check: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.",
    0,
};

static const char *type_name(ps_data_type t)
{
    return t == PS_DATA_MESSAGE ? "message" : t == PS_DATA_MAILLOG ? "maillog" : "audit";
}

/* Whether the service runs, from the counters: the newest write of any device is
 * recent and not the final one of a stop (which marks every device stopped). */
typedef struct service_view {
    bool running;
    bool stalled;    /* running (it holds the database lock) but writes no counters */
    int64_t last_us; /* the newest counters write; 0 when none */
} service_view;

static bool is_stale(const ps_device_counters *d, int64_t now)
{
    return now - d->updated_us > STALE_US;
}

/* The counters say whether the service writes; the lock it holds on the database
 * (`<db>.lock`) says whether it runs at all, which tells a service that cannot write
 * the database (a full disk) from one that stopped or was refused at start. */
static service_view service_of(const ps_device_counters *c, size_t nc, int64_t now, const char *db)
{
    service_view v = {false, false, 0};
    char *lock = ps_cli_lock_path(db);
    int held = -1;

    for (size_t i = 0; i < nc; i++) {
        if (c[i].updated_us > v.last_us)
            v.last_us = c[i].updated_us;
        if (!is_stale(&c[i], now) && c[i].state != PS_STATE_STOPPED)
            v.running = true;
    }
    if (lock) {
        held = ps_plat_lock_probe(lock);
        free(lock);
    }
    if (held == 0)
        v.running = false;
    else if (held == 1 && !v.running)
        v.running = v.stalled = true;
    return v;
}

/* One column of the hourly table: a (device, type) pair. */
typedef struct series {
    long long device_id;
    ps_data_type type;
    char title[160];
    uint64_t n[MAX_HOURS];
} series;

static series *find_series(series *s, size_t n, long long id, ps_data_type type)
{
    for (size_t i = 0; i < n; i++)
        if (s[i].device_id == id && s[i].type == type)
            return &s[i];
    return NULL;
}

static series *build_series(const ps_device_counters *c, size_t nc, const ps_hourly_count *h,
                            size_t nh, int64_t first_hour, int hours, size_t *out_n)
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
        if (slot >= 0 && slot < hours)
            x->n[slot] += h[i].events;
    }
    *out_n = n;
    return s;
}

/* The device table: one line per device, as the rows of `podstream query` are. */
static const ps_report_col device_cols[] = {
    {"DEVICE", 20, false, true},  {"TYPE", 8, false, false},   {"STATE", 12, false, false},
    {"RATE 10s", 9, true, false}, {"RATE 1m", 9, true, false}, {"STORED", 12, true, false},
    {"LAG", 8, true, false},      {"RECONN", 7, true, false},  {"EMPTY", 7, true, false},
    {"DUPS", 8, true, false},     {"QUAR", 7, true, false},    {"DROP/FAIL", 9, true, false},
};
#define NDEVICE_COLS ((int)(sizeof device_cols / sizeof device_cols[0]))

/* Rates and lag written long ago are history, not news: "-". */
static void print_devices(const ps_device_counters *c, size_t nc, int64_t now, bool running)
{
    ps_report_table t;
    ps_report_table_init(&t, stdout, device_cols, NDEVICE_COLS);
    ps_report_table_header(&t);
    for (size_t i = 0; i < nc; i++) {
        const ps_device_counters *d = &c[i];
        char dev[160], state[40], r10[32] = "-", r1m[32] = "-", stored[32], lag[32] = "-", rec[32],
                                  empty[32], dups[32], quar[32], df[48];
        const char *cells[NDEVICE_COLS] = {
            dev, type_name(d->type), state, r10, r1m, stored, lag, rec, empty, dups, quar, df};
        snprintf(dev, sizeof dev, "%lld %s", d->device_id, d->name);
        snprintf(state, sizeof state, "%s%s", ps_device_state_name(d->state),
                 is_stale(d, now) ? "*" : "");
        if (running && !is_stale(d, now)) {
            snprintf(r10, sizeof r10, "%.1f", d->rate_10s);
            snprintf(r1m, sizeof r1m, "%.1f", d->rate_1m);
            if (d->last_event_ts_us)
                ps_time_format_elapsed(d->lag_ms, lag, sizeof lag);
        }
        snprintf(stored, sizeof stored, "%llu", (unsigned long long)d->events_total);
        snprintf(rec, sizeof rec, "%llu", (unsigned long long)d->reconnects);
        snprintf(empty, sizeof empty, "%llu", (unsigned long long)d->empty_frames);
        snprintf(dups, sizeof dups, "%llu", (unsigned long long)d->duplicates);
        snprintf(quar, sizeof quar, "%llu", (unsigned long long)d->quarantined);
        snprintf(df, sizeof df, "%llu/%llu", (unsigned long long)d->dropped,
                 (unsigned long long)d->failed);
        ps_report_table_row(&t, cells);
    }
}

static void print_service(service_view v, int64_t now, bool utc)
{
    char ago[32], when[64];
    ps_time_format_elapsed((now - v.last_us) / 1000, ago, sizeof ago);
    ps_time_format_local(v.last_us, utc, true, when, sizeof when);
    if (v.stalled)
        printf("Service:  running, but it has written nothing to the database since %s (%s "
               "ago): it cannot write it (a full disk? see its log)\n\n",
               when, ago);
    else if (v.running)
        printf("Service:  running (counters written %s ago)\n\n", ago);
    else
        printf("Service:  not running since %s (%s ago); rates and lag not shown\n\n", when, ago);
}

static void print_notes(const ps_device_counters *c, size_t nc, int64_t now, bool utc, bool running)
{
    bool any_error = false;
    char when[64];
    for (size_t i = 0; i < nc; i++) {
        char ago[32];
        if (c[i].last_error[0])
            any_error = true;
        /* Not running: the service line says it once for all. */
        if (!is_stale(&c[i], now) || !running)
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
static void print_hourly(const series *s, size_t ns, int64_t first_hour, int hours, bool utc)
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
    printf("\nEvents stored per hour of event time (%s), last %d hour%s:\n", zone, hours,
           hours == 1 ? "" : "s");
    ps_report_table_header(&t);
    for (int h = 0; h < hours; h++) {
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

/* What was read from the database, for every output. */
typedef struct status_data {
    ps_device_counters *c;
    size_t nc;
    ps_hourly_count *h;
    size_t nh;
    ps_store_size size;
    ps_store_wal wal;
    ps_reload_record reload;
    const char *path;
    int64_t now, first_hour;
    int hours;
    service_view svc;
    ps_output_row *outs; /* #16 */
    size_t nouts;
} status_data;

static double mib(uint64_t bytes)
{
    return (double)bytes / (1024.0 * 1024.0);
}

/* Over the threshold the running service warns at (it records it in the database). */
static bool wal_over(const ps_store_wal *w, bool running)
{
    return running && w->warn_bytes > 0 && w->wal_bytes > w->warn_bytes;
}

/* The WAL's size, and when it is over the threshold, why and what happens next. */
static void print_wal(const ps_store_wal *w, bool running, bool utc)
{
    char when[64];
    printf("WAL:      %.1f MiB", mib(w->wal_bytes));
    if (running && w->blocked_since_us) {
        ps_time_format_local(w->blocked_since_us, utc, true, when, sizeof when);
        printf("  ! over %.1f MiB since %s: a reader blocks checkpoints; truncated once it is gone",
               mib(w->warn_bytes), when);
    } else if (wal_over(w, running)) {
        printf("  ! over %.1f MiB: the service truncates it at its next check", mib(w->warn_bytes));
    }
    printf("\n");
}

/* What the service did with its configuration the last time it loaded it. */
static void print_reload(const ps_reload_record *r, bool utc)
{
    char when[64];
    if (!r->at_us)
        return;
    ps_time_format_local(r->at_us, utc, true, when, sizeof when);
    if (!r->accepted)
        printf("Config:   generation %llu; the reload at %s was rejected: %s\n",
               (unsigned long long)r->generation, when, r->reason);
    else
        printf("Config:   generation %llu, %s at %s\n", (unsigned long long)r->generation,
               r->at_start ? "loaded at the start" : "reload accepted", when);
}

static int print_table(const status_data *d, bool utc)
{
    size_t ns = 0;
    series *s = build_series(d->c, d->nc, d->h, d->nh, d->first_hour, d->hours, &ns);
    if (!s) {
        fprintf(stderr, "podstream %s: out of memory\n", cmd);
        return PS_EXIT_FAILURE;
    }
    printf("Database: %s (%.1f MB)\n", d->path, (double)d->size.file_bytes / 1e6);
    print_wal(&d->wal, d->svc.running, utc);
    print_reload(&d->reload, utc);
    if (d->nc == 0) {
        printf("\nNo device has reported yet: the service has not run on this database.\n");
    } else {
        print_service(d->svc, d->now, utc);
        print_devices(d->c, d->nc, d->now, d->svc.running);
        print_notes(d->c, d->nc, d->now, utc, d->svc.running);
    }
    ps_status_outputs_print(d->outs, d->nouts, d->now, d->svc.running, utc);
    if (ns > 0)
        print_hourly(s, ns, d->first_hour, d->hours, utc);
    free(s);
    return fflush(stdout) == 0 ? PS_EXIT_OK : PS_EXIT_FAILURE;
}

static char *iso(int64_t us, char *buf)
{
    ps_time_format_iso(us, buf, 40);
    return buf;
}

static void add_time_or_null(cJSON *o, const char *key, int64_t us)
{
    char buf[40];
    if (us)
        cJSON_AddStringToObject(o, key, iso(us, buf));
    else
        cJSON_AddNullToObject(o, key);
}

/* Rates of a device whose counters are stale are null: they are not rates now. */
static cJSON *json_device(const ps_device_counters *d, int64_t now)
{
    cJSON *o = cJSON_CreateObject();
    bool stale = is_stale(d, now);
    char buf[40];
    cJSON_AddNumberToObject(o, "id", (double)d->device_id);
    cJSON_AddStringToObject(o, "name", d->name);
    cJSON_AddStringToObject(o, "type", type_name(d->type));
    cJSON_AddStringToObject(o, "state", ps_device_state_name(d->state));
    cJSON_AddBoolToObject(o, "stale", stale);
    if (stale) {
        cJSON_AddNullToObject(o, "rate_10s");
        cJSON_AddNullToObject(o, "rate_1m");
    } else {
        cJSON_AddNumberToObject(o, "rate_10s", d->rate_10s);
        cJSON_AddNumberToObject(o, "rate_1m", d->rate_1m);
    }
    cJSON_AddNumberToObject(o, "events_total", (double)d->events_total);
    add_time_or_null(o, "last_event", d->last_event_ts_us);
    cJSON_AddNumberToObject(o, "lag_ms", (double)d->lag_ms);
    cJSON_AddNumberToObject(o, "reconnects", (double)d->reconnects);
    cJSON_AddNumberToObject(o, "empty_frames", (double)d->empty_frames);
    cJSON_AddNumberToObject(o, "duplicates", (double)d->duplicates);
    cJSON_AddNumberToObject(o, "quarantined", (double)d->quarantined);
    cJSON_AddNumberToObject(o, "dropped", (double)d->dropped);
    cJSON_AddNumberToObject(o, "failed", (double)d->failed);
    if (d->last_error[0]) {
        cJSON_AddStringToObject(o, "last_error", d->last_error);
        add_time_or_null(o, "last_error_at", d->last_error_us);
    } else {
        cJSON_AddNullToObject(o, "last_error");
        cJSON_AddNullToObject(o, "last_error_at");
    }
    cJSON_AddStringToObject(o, "updated", iso(d->updated_us, buf));
    return o;
}

static int print_json(const status_data *d)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *svc = cJSON_AddObjectToObject(root, "service");
    cJSON *devs, *hours;
    char buf[40];
    char *text;
    cJSON_AddStringToObject(root, "generated", iso(d->now, buf));
    cJSON_AddStringToObject(root, "database", d->path);
    cJSON_AddNumberToObject(root, "database_bytes", (double)d->size.file_bytes);
    cJSON_AddNumberToObject(root, "wal_bytes", (double)d->wal.wal_bytes);
    cJSON_AddNumberToObject(root, "wal_warn_bytes", (double)d->wal.warn_bytes);
    add_time_or_null(root, "wal_blocked_since", d->svc.running ? d->wal.blocked_since_us : 0);
    cJSON_AddBoolToObject(svc, "running", d->svc.running);
    cJSON_AddBoolToObject(svc, "writing", d->svc.running && !d->svc.stalled);
    add_time_or_null(svc, "last_update", d->svc.last_us);
    if (d->reload.at_us) {
        cJSON *rl = cJSON_AddObjectToObject(root, "config");
        cJSON_AddNumberToObject(rl, "generation", (double)d->reload.generation);
        add_time_or_null(rl, "loaded", d->reload.at_us);
        cJSON_AddBoolToObject(rl, "accepted", d->reload.accepted);
        cJSON_AddBoolToObject(rl, "at_start", d->reload.at_start);
        if (d->reload.accepted)
            cJSON_AddNullToObject(rl, "reason");
        else
            cJSON_AddStringToObject(rl, "reason", d->reload.reason);
        add_time_or_null(rl, "service_started", d->reload.started_us);
    }
    cJSON_AddItemToObject(root, "outputs",
                          ps_status_outputs_json(d->outs, d->nouts, d->svc.running));
    devs = cJSON_AddArrayToObject(root, "devices");
    hours = cJSON_AddArrayToObject(root, "hourly");
    for (size_t i = 0; i < d->nc; i++)
        cJSON_AddItemToArray(devs, json_device(&d->c[i], d->now));
    for (size_t i = 0; i < d->nh; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "device_id", (double)d->h[i].device_id);
        cJSON_AddStringToObject(o, "type", type_name(d->h[i].type));
        cJSON_AddStringToObject(o, "hour", iso(d->h[i].hour_us, buf));
        cJSON_AddNumberToObject(o, "events", (double)d->h[i].events);
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

/* ---- --check ------------------------------------------------------------------ */

typedef struct thresholds {
    int64_t warn_lag, crit_lag, warn_silence, crit_silence; /* ms; 0: off */
    unsigned warn_states, crit_states;                      /* bit per ps_device_state */
} thresholds;

static bool parse_states(const char *list, unsigned *out)
{
    char buf[256];
    *out = 0;
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
        int s = PS_STATE_STOPPED;
        while (s <= PS_STATE_ERROR && strcmp(ps_device_state_name((ps_device_state)s), w) != 0)
            s++;
        if (s > PS_STATE_ERROR)
            return false;
        *out |= 1u << s;
    }
    return true;
}

/* Reads the thresholds; a usage error message on stderr and false when one is bad. */
static bool parse_thresholds(const status_opts *o, thresholds *t)
{
    const struct {
        const char *name, *value;
        int64_t *out;
    } d[] = {{"--warn-lag", o->warn_lag, &t->warn_lag},
             {"--crit-lag", o->crit_lag, &t->crit_lag},
             {"--warn-silence", o->warn_silence, &t->warn_silence},
             {"--crit-silence", o->crit_silence, &t->crit_silence}};
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++)
        if (ps_time_parse_duration(d[i].value, d[i].out) != PS_OK || *d[i].out < 0) {
            ps_cli_usage_error(cmd, "%s: '%s' is not a duration (30s, 5m, 1h, 0: never)", d[i].name,
                               d[i].value);
            return false;
        }
    if (!parse_states(o->warn_states, &t->warn_states) ||
        !parse_states(o->crit_states, &t->crit_states)) {
        ps_cli_usage_error(cmd, "--warn-state/--crit-state: use states among stopped, "
                                "connecting, live, backfill, backoff, unauthorised, error");
        return false;
    }
    return true;
}

/* The check's verdict so far: the worst level and what made it so. */
typedef struct verdict {
    int level;
    char why[512];
    size_t len;
} verdict;

static void verdict_add(verdict *v, int level, const char *fmt, ...) PS_PRINTF(3, 4);

static void verdict_add(verdict *v, int level, const char *fmt, ...)
{
    va_list ap;
    int n;
    if (level > v->level)
        v->level = level;
    if (v->len + 3 >= sizeof v->why)
        return;
    if (v->len)
        v->len += (size_t)snprintf(v->why + v->len, sizeof v->why - v->len, "; ");
    va_start(ap, fmt);
    n = vsnprintf(v->why + v->len, sizeof v->why - v->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        v->len = v->len + (size_t)n < sizeof v->why ? v->len + (size_t)n : sizeof v->why - 1;
}

/* Compares `value` (ms) with a pair of thresholds. */
static void check_limit(verdict *v, const ps_device_counters *d, const char *what, int64_t value,
                        int64_t warn, int64_t crit)
{
    char got[32], lim[32];
    int level = crit && value > crit ? CHECK_CRITICAL : warn && value > warn ? CHECK_WARNING : 0;
    if (!level)
        return;
    ps_time_format_elapsed(value, got, sizeof got);
    ps_time_format_duration(level == CHECK_CRITICAL ? crit : warn, lim, sizeof lim);
    verdict_add(v, level, "%lld %s: %s %s > %s", d->device_id, d->name, what, got, lim);
}

static void check_device(verdict *v, const ps_device_counters *d, const thresholds *t, int64_t now)
{
    unsigned bit = 1u << d->state;
    if (t->crit_states & bit)
        verdict_add(v, CHECK_CRITICAL, "%lld %s: %s", d->device_id, d->name,
                    ps_device_state_name(d->state));
    else if (t->warn_states & bit)
        verdict_add(v, CHECK_WARNING, "%lld %s: %s", d->device_id, d->name,
                    ps_device_state_name(d->state));
    if (!d->last_event_ts_us) {
        verdict_add(v, CHECK_WARNING, "%lld %s: no event stored yet", d->device_id, d->name);
        return;
    }
    check_limit(v, d, "lag", d->lag_ms, t->warn_lag, t->crit_lag);
    check_limit(v, d, "silence", (now - d->last_event_ts_us) / 1000, t->warn_silence,
                t->crit_silence);
}

/* Performance data: per device, lag and silence in seconds with their thresholds,
 * events stored (a counter) and the 1-minute rate. */
static void print_perfdata(const status_data *d, const thresholds *t)
{
    printf(" |");
    for (size_t i = 0; i < d->nc; i++) {
        const ps_device_counters *c = &d->c[i];
        long long id = c->device_id;
        double silence = c->last_event_ts_us ? (double)(d->now - c->last_event_ts_us) / 1e6 : 0;
        if (d->svc.running && is_stale(c, d->now))
            continue;
        printf(" 'lag_%lld'=%.3fs;%g;%g;0 'silence_%lld'=%.0fs;%g;%g;0 'events_%lld'=%lluc "
               "'rate_%lld'=%.2f;;;0",
               id, (double)c->lag_ms / 1e3, (double)t->warn_lag / 1e3, (double)t->crit_lag / 1e3,
               id, silence, (double)t->warn_silence / 1e3, (double)t->crit_silence / 1e3, id,
               (unsigned long long)c->events_total, id, d->svc.running ? c->rate_1m : 0.0);
    }
    printf("\n");
}

static int print_check(const status_data *d, const thresholds *t)
{
    static const char *const names[] = {"OK", "WARNING", "CRITICAL", "UNKNOWN"};
    verdict v = {CHECK_OK, "", 0};
    size_t checked = 0;
    char when[64];
    if (d->nc == 0) {
        printf("PODSTREAM UNKNOWN - no device has reported: the service never ran on %s\n",
               d->path);
        return CHECK_UNKNOWN;
    }
    if (!d->svc.running || d->svc.stalled) {
        ps_time_format_iso(d->svc.last_us, when, sizeof when);
        verdict_add(&v, CHECK_CRITICAL,
                    d->svc.stalled ? "service running but not writing the database since %s"
                                   : "service not running since %s",
                    when);
    } else {
        for (size_t i = 0; i < d->nc; i++) {
            /* A device whose counters stopped while others go on was removed or
             * disabled: not a problem of the running service. */
            if (is_stale(&d->c[i], d->now))
                continue;
            check_device(&v, &d->c[i], t, d->now);
            checked++;
        }
        if (wal_over(&d->wal, true))
            verdict_add(&v, CHECK_WARNING, "WAL %.1f MiB, over %.1f MiB%s", mib(d->wal.wal_bytes),
                        mib(d->wal.warn_bytes),
                        d->wal.blocked_since_us ? ": a reader blocks checkpoints" : "");
    }
    printf("PODSTREAM %s - ", names[v.level]);
    if (v.len)
        printf("%s", v.why);
    else
        printf("%zu device%s streaming", checked, checked == 1 ? "" : "s");
    print_perfdata(d, t);
    return fflush(stdout) == 0 ? v.level : CHECK_UNKNOWN;
}

/* ---- the command -------------------------------------------------------------- */

static int read_data(ps_store *st, status_data *d)
{
    ps_errmsg em;
    if (ps_store_counters_list(st, &d->c, &d->nc, &em) != PS_OK ||
        ps_store_hourly_list(st, d->first_hour, &d->h, &d->nh, &em) != PS_OK ||
        ps_store_size_get(st, false, &d->size, &em) != PS_OK ||
        ps_store_wal_info(st, &d->wal, &em) != PS_OK ||
        ps_store_reload_get(st, &d->reload, &em) != PS_OK ||
        ps_store_output_list(st, &d->outs, &d->nouts, &em) != PS_OK) {
        fprintf(stderr, "podstream %s: %s\n", cmd, em.text);
        return PS_EXIT_FAILURE;
    }
    d->svc = service_of(d->c, d->nc, d->now, d->path);
    return PS_EXIT_OK;
}

/* A bad command line with --check is UNKNOWN, as monitoring plugins report it. */
static bool wants_check(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--check") == 0)
            return true;
    return false;
}

static int check_args(status_opts *o, ps_opt_list *args, thresholds *t)
{
    if (args->n)
        return ps_cli_usage_error(cmd, "unexpected argument '%s'", args->v[0]);
    if (strcmp(o->format, "table") != 0 && strcmp(o->format, "json") != 0)
        return ps_cli_usage_error(cmd, "--format: '%s' is not table or json", o->format);
    if (!parse_thresholds(o, t))
        return PS_EXIT_USAGE;
    return PS_CLI_RUN;
}

int ps_cmd_status(int argc, char **argv)
{
    status_opts o = {"table",
                     false,
                     24,
                     false,
                     "5m",
                     "15m",
                     "1h",
                     "4h",
                     "connecting,backoff",
                     "error,unauthorised",
                     NULL,
                     NULL};
    ps_opt_list args = {NULL, 0};
    int rc = ps_cli_parse(&ps_cmd_status_opts, argc, argv, &o, &args);
    bool check = wants_check(argc, argv);
    ps_store *st = NULL;
    status_data d;
    thresholds t = {0, 0, 0, 0, 0, 0};
    ps_errmsg em;
    char *path = NULL;

    memset(&d, 0, sizeof d);
    if (rc == PS_CLI_RUN)
        rc = check_args(&o, &args, &t);
    ps_opt_list_free(&args);
    if (rc != PS_CLI_RUN && check && rc != PS_EXIT_OK) {
        printf("PODSTREAM UNKNOWN - bad command line (see stderr)\n");
        return CHECK_UNKNOWN;
    }
    if (rc != PS_CLI_RUN)
        return rc;
    d.now = ps_plat_now_us();
    d.hours = (int)o.hours;
    d.first_hour = (d.now / HOUR_US - (d.hours - 1)) * HOUR_US;

    rc = PS_EXIT_OK;
    path = ps_cli_database_path(cmd, o.db, o.config, &rc);
    d.path = path;
    if (!path)
        rc = PS_EXIT_FAILURE;
    else if (ps_store_create(path, PS_STORE_READER, &st, &em) != PS_OK) {
        fprintf(stderr, "podstream %s: %s\n", cmd, em.text);
        rc = PS_EXIT_FAILURE;
    } else {
        rc = read_data(st, &d);
    }
    if (rc == PS_EXIT_OK) {
        rc = o.check                         ? print_check(&d, &t)
             : strcmp(o.format, "json") == 0 ? print_json(&d)
                                             : print_table(&d, o.utc);
    } else if (o.check) {
        printf("PODSTREAM UNKNOWN - %s (see stderr)\n",
               path ? "the database cannot be read" : "no database to read");
        rc = CHECK_UNKNOWN;
    }
    free(d.h);
    free(d.c);
    free(d.outs);
    ps_store_destroy(st);
    free(path);
    return rc;
}
