/* ps_metrics: the Prometheus text file of the service (see ps_metrics.h). Every
 * family is written whole, HELP and TYPE first, as the format wants; counters end
 * in _total, times are Unix seconds, label values escaped (\\, \", \n). */
#include "podstream/ps_metrics.h"

#include <stdlib.h>
#include <string.h>

#include "podstream/ps_platform.h"

#define US_PER_S 1e6

struct ps_metrics_file {
    char *path;
    ps_store *st;
    int64_t interval_ms;
    int64_t start_us;
    int64_t last_ms; /* monotonic time of the last write; 0: never */
};

/* What one per-device family reads from the counters. */
typedef double (*device_value_fn)(const ps_device_counters *c);

static double v_events(const ps_device_counters *c)
{
    return (double)c->events_total;
}
static double v_duplicates(const ps_device_counters *c)
{
    return (double)c->duplicates;
}
static double v_quarantined(const ps_device_counters *c)
{
    return (double)c->quarantined;
}
static double v_dropped(const ps_device_counters *c)
{
    return (double)c->dropped;
}
static double v_failed(const ps_device_counters *c)
{
    return (double)c->failed;
}
static double v_reconnects(const ps_device_counters *c)
{
    return (double)c->reconnects;
}
static double v_empty_frames(const ps_device_counters *c)
{
    return (double)c->empty_frames;
}
static double v_lag(const ps_device_counters *c)
{
    return (double)c->lag_ms / 1e3;
}
static double v_rate(const ps_device_counters *c)
{
    return c->rate_1m;
}
static double v_last_event(const ps_device_counters *c)
{
    return (double)c->last_event_ts_us / US_PER_S;
}
static double v_updated(const ps_device_counters *c)
{
    return (double)c->updated_us / US_PER_S;
}

static const struct {
    const char *name, *type, *help;
    device_value_fn value;
} device_families[] = {
    {"podstream_device_events_total", "counter", "Events stored since the database was created.",
     v_events},
    {"podstream_device_duplicates_total", "counter", "Events received again and not stored.",
     v_duplicates},
    {"podstream_device_quarantined_total", "counter",
     "Payloads kept in the quarantine (see podstream quarantine).", v_quarantined},
    {"podstream_device_dropped_total", "counter", "Events dropped by pipelines.", v_dropped},
    {"podstream_device_failed_total", "counter", "Events that failed in pipelines.", v_failed},
    {"podstream_device_reconnects_total", "counter", "Sessions opened again after the first.",
     v_reconnects},
    {"podstream_device_empty_frames_total", "counter",
     "Empty WebSocket messages skipped (POD: no events for now).", v_empty_frames},
    {"podstream_device_lag_seconds", "gauge",
     "How far behind real time the newest event was when it arrived.", v_lag},
    {"podstream_device_events_per_second", "gauge",
     "Events stored per second over the last minute.", v_rate},
    {"podstream_device_last_event_timestamp_seconds", "gauge",
     "Event time of the newest stored event (0: none yet).", v_last_event},
    {"podstream_device_updated_timestamp_seconds", "gauge",
     "When the service last wrote this device's counters.", v_updated},
};

static ps_err put_label_value(ps_buf *out, const char *s)
{
    ps_err err = PS_OK;
    for (; *s && err == PS_OK; s++) {
        if (*s == '\\' || *s == '"')
            err = ps_buf_appendf(out, "\\%c", *s);
        else if (*s == '\n')
            err = ps_buf_appendf(out, "\\n");
        else
            err = ps_buf_putc(out, *s);
    }
    return err;
}

static ps_err put_labels(ps_buf *out, const ps_device_counters *c)
{
    ps_err err = ps_buf_appendf(out, "{device_id=\"%lld\",device=\"", c->device_id);
    if (err == PS_OK)
        err = put_label_value(out, c->name);
    if (err == PS_OK)
        err = ps_buf_appendf(out, "\",type=\"%s\"", ps_data_type_name(c->type));
    return err;
}

static ps_err put_family(ps_buf *out, const char *name, const char *type, const char *help)
{
    return ps_buf_appendf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* podstream_device_received_bytes_total, for the devices that run now. */
static ps_err put_received(const ps_device_counters *c, size_t n, const ps_metrics_info *info,
                           ps_buf *out)
{
    ps_err err = put_family(out, "podstream_device_received_bytes_total", "counter",
                            "Bytes of messages received from POD since the device started.");
    for (size_t i = 0; i < n && err == PS_OK; i++)
        for (size_t k = 0; k < info->nreceived && err == PS_OK; k++) {
            if (info->received[k].device_id != c[i].device_id)
                continue;
            err = ps_buf_appendf(out, "podstream_device_received_bytes_total");
            if (err == PS_OK)
                err = put_labels(out, &c[i]);
            if (err == PS_OK)
                err = ps_buf_appendf(out, "} %llu\n", (unsigned long long)info->received[k].bytes);
        }
    return err;
}

/* podstream_device_state: 1 for the device's state, 0 for the others, so that a
 * query can select on the label. */
static ps_err put_states(const ps_device_counters *c, size_t n, ps_buf *out)
{
    ps_err err = put_family(out, "podstream_device_state", "gauge",
                            "1 for the state the device is in: stopped, connecting, live, "
                            "backfill, backoff, unauthorised or error.");
    for (size_t i = 0; i < n && err == PS_OK; i++)
        for (int s = PS_STATE_STOPPED; s <= PS_STATE_ERROR && err == PS_OK; s++) {
            err = ps_buf_appendf(out, "podstream_device_state");
            if (err == PS_OK)
                err = put_labels(out, &c[i]);
            if (err == PS_OK)
                err =
                    ps_buf_appendf(out, ",state=\"%s\"} %d\n",
                                   ps_device_state_name((ps_device_state)s), (int)c[i].state == s);
        }
    return err;
}

static ps_err put_service(const ps_metrics_info *info, int64_t now_us, ps_buf *out)
{
    ps_err err = put_family(out, "podstream_up", "gauge",
                            "1 while the service runs; 0 in the file written as it stops.");
    if (err == PS_OK)
        err = ps_buf_appendf(out, "podstream_up %d\n", info->up ? 1 : 0);
    if (err == PS_OK)
        err = put_family(out, "podstream_build_info", "gauge", "The version of podstream.");
    if (err == PS_OK)
        err = ps_buf_appendf(out, "podstream_build_info{version=\"");
    if (err == PS_OK)
        err = put_label_value(out, info->version ? info->version : "");
    if (err == PS_OK)
        err = ps_buf_appendf(out, "\"} 1\n");
    if (err == PS_OK)
        err = put_family(out, "podstream_start_time_seconds", "gauge",
                         "When the service started, in Unix seconds.");
    if (err == PS_OK)
        err = ps_buf_appendf(out, "podstream_start_time_seconds %.3f\n",
                             (double)info->start_us / US_PER_S);
    if (err == PS_OK)
        err = put_family(out, "podstream_last_update_timestamp_seconds", "gauge",
                         "When this file was written, in Unix seconds.");
    if (err == PS_OK)
        err = ps_buf_appendf(out, "podstream_last_update_timestamp_seconds %.3f\n",
                             (double)now_us / US_PER_S);
    if (err == PS_OK)
        err = put_family(out, "podstream_database_bytes", "gauge",
                         "Size of the database file (the WAL excluded).");
    if (err == PS_OK)
        err = ps_buf_appendf(out, "podstream_database_bytes %llu\n",
                             (unsigned long long)info->database_bytes);
    return err;
}

ps_err ps_metrics_format(const ps_device_counters *c, size_t n, const ps_metrics_info *info,
                         int64_t now_us, ps_buf *out)
{
    ps_err err = put_service(info, now_us, out);
    for (size_t f = 0; f < sizeof device_families / sizeof device_families[0] && err == PS_OK;
         f++) {
        err = put_family(out, device_families[f].name, device_families[f].type,
                         device_families[f].help);
        for (size_t i = 0; i < n && err == PS_OK; i++) {
            err = ps_buf_appendf(out, "%s", device_families[f].name);
            if (err == PS_OK)
                err = put_labels(out, &c[i]);
            if (err == PS_OK)
                err = ps_buf_appendf(out, "} %.15g\n", device_families[f].value(&c[i]));
        }
    }
    if (err == PS_OK)
        err = put_received(c, n, info, out);
    return err == PS_OK ? put_states(c, n, out) : err;
}

/* ---- outputs (#16) ---------------------------------------------------------------- */

static double o_backlog(const ps_output_row *r)
{
    return (double)r->backlog;
}
static double o_delivered(const ps_output_row *r)
{
    return (double)r->delivered;
}
static double o_dropped(const ps_output_row *r)
{
    return (double)r->dropped;
}
static double o_retention(const ps_output_row *r)
{
    return (double)r->retention_dropped;
}
static double o_split(const ps_output_row *r)
{
    return (double)r->split;
}
static double o_truncated(const ps_output_row *r)
{
    return (double)r->truncated;
}
static double o_rate(const ps_output_row *r)
{
    return r->rate;
}
static double o_last(const ps_output_row *r)
{
    return (double)r->last_delivery_us / US_PER_S;
}

static const struct {
    const char *name, *type, *help;
    double (*value)(const ps_output_row *r);
} output_families[] = {
    {"podstream_output_backlog_events", "gauge",
     "Events stored after the output's cursor: not delivered yet.", o_backlog},
    {"podstream_output_delivered_events_total", "counter", "Events the destination acknowledged.",
     o_delivered},
    {"podstream_output_dropped_events_total", "counter",
     "Events not sent: dropped by the output's pipelines or skipped as oversized.", o_dropped},
    {"podstream_output_retention_dropped_events_total", "counter",
     "Events retention_max_db_size deleted before the output delivered them.", o_retention},
    {"podstream_output_split_events_total", "counter",
     "Oversized message events sent split by msgParts.", o_split},
    {"podstream_output_truncated_events_total", "counter",
     "Oversized events (or parts) sent as truncated, marked copies.", o_truncated},
    {"podstream_output_events_per_second", "gauge",
     "Events delivered per second over the last 10 s.", o_rate},
    {"podstream_output_last_delivery_timestamp_seconds", "gauge",
     "When the destination last acknowledged a batch (0: never).", o_last},
};

static ps_err put_output_labels(ps_buf *out, const char *family, const ps_output_row *r)
{
    ps_err err = ps_buf_appendf(out, "%s{output=\"", family);
    if (err == PS_OK)
        err = put_label_value(out, r->name);
    if (err == PS_OK)
        err = ps_buf_appendf(out, "\",type=\"");
    if (err == PS_OK)
        err = put_label_value(out, r->type);
    return err == PS_OK ? ps_buf_appendf(out, "\"") : err;
}

ps_err ps_metrics_format_outputs(const ps_output_row *rows, size_t n, bool up, ps_buf *out)
{
    ps_err err = PS_OK;
    for (size_t f = 0; f < sizeof output_families / sizeof output_families[0] && err == PS_OK;
         f++) {
        err = put_family(out, output_families[f].name, output_families[f].type,
                         output_families[f].help);
        for (size_t i = 0; i < n && err == PS_OK; i++) {
            err = put_output_labels(out, output_families[f].name, &rows[i]);
            if (err == PS_OK)
                err = ps_buf_appendf(out, "} %.15g\n", output_families[f].value(&rows[i]));
        }
    }
    if (err == PS_OK)
        err = put_family(out, "podstream_output_state", "gauge",
                         "1 for the state the output is in: stopped, idle, sending, retrying "
                         "or error.");
    for (size_t i = 0; i < n && err == PS_OK; i++)
        for (int s = PS_OUTPUT_STATE_STOPPED; s <= PS_OUTPUT_STATE_ERROR && err == PS_OK; s++) {
            ps_output_state st = up && rows[i].enabled ? rows[i].state : PS_OUTPUT_STATE_STOPPED;
            err = put_output_labels(out, "podstream_output_state", &rows[i]);
            if (err == PS_OK)
                err = ps_buf_appendf(out, ",state=\"%s\"} %d\n",
                                     ps_output_state_name((ps_output_state)s), (int)st == s);
        }
    return err;
}

/* ---- the file ------------------------------------------------------------------- */

ps_err ps_metrics_file_create(const char *path, const char *db_path, int64_t interval_ms,
                              int64_t start_us, ps_metrics_file **out, ps_errmsg *em)
{
    ps_metrics_file *m = calloc(1, sizeof *m);
    ps_err err;
    *out = NULL;
    if (!m || !(m->path = strdup(path))) {
        free(m);
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    }
    m->interval_ms = interval_ms;
    m->start_us = start_us;
    err = ps_store_create(db_path, PS_STORE_READER, &m->st, em);
    if (err != PS_OK) {
        ps_metrics_file_destroy(m);
        return err;
    }
    *out = m;
    return PS_OK;
}

ps_err ps_metrics_file_tick(ps_metrics_file *m, bool up, const ps_metrics_bytes *received,
                            size_t nreceived, ps_errmsg *em)
{
    int64_t mono = ps_plat_mono_ms();
    ps_metrics_info info = {PS_VERSION, m->start_us, up, 0, received, nreceived};
    ps_device_counters *c = NULL;
    ps_store_size size;
    ps_buf b;
    size_t n = 0;
    ps_err err;
    if (up && m->last_ms && mono - m->last_ms < m->interval_ms)
        return PS_OK;
    m->last_ms = mono;
    ps_buf_init(&b);
    err = ps_store_counters_list(m->st, &c, &n, em);
    if (err == PS_OK && ps_store_size_get(m->st, false, &size, NULL) == PS_OK)
        info.database_bytes = size.file_bytes;
    if (err == PS_OK && ps_metrics_format(c, n, &info, ps_plat_now_us(), &b) != PS_OK)
        err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    if (err == PS_OK) {
        ps_output_row *o = NULL;
        size_t no = 0;
        /* An older database has no outputs table yet: no output metrics, not an error. */
        if (ps_store_output_list(m->st, &o, &no, NULL) == PS_OK &&
            ps_metrics_format_outputs(o, no, up, &b) != PS_OK)
            err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
        free(o);
    }
    if (err == PS_OK)
        err = ps_plat_write_file_atomic(m->path, b.p ? b.p : "", b.len, 0644, false, em);
    free(c);
    ps_buf_deinit(&b);
    return err;
}

void ps_metrics_file_destroy(ps_metrics_file *m)
{
    if (!m)
        return;
    ps_store_destroy(m->st);
    free(m->path);
    free(m);
}
