/* `podstream status`: each output's state, backlog, rate, counts, last delivery and
 * last error, from the rows its runner writes in the database. */
#include "status_outputs.h"

#include <stdio.h>

#include "podstream/ps_report.h"
#include "podstream/ps_time.h"

static const ps_report_col output_cols[] = {
    {"OUTPUT", 16, false, true},         {"TYPE", 10, false, false},
    {"STATE", 9, false, false},          {"BACKLOG", 9, true, false},
    {"RATE 10s", 9, true, false},        {"DELIVERED", 11, true, false},
    {"DROPPED", 8, true, false},         {"SPLIT/TRUNC", 11, true, false},
    {"LAST DELIVERY", 19, false, false},
};
#define NOUTPUT_COLS ((int)(sizeof output_cols / sizeof output_cols[0]))

static const char *state_of(const ps_output_row *r, bool running)
{
    if (!r->enabled)
        return "disabled";
    return running ? ps_output_state_name(r->state) : "stopped";
}

void ps_status_outputs_print(const ps_output_row *rows, size_t n, int64_t now, bool running,
                             bool utc)
{
    ps_report_table t;
    (void)now;
    if (n == 0)
        return;
    printf("\nOutputs:\n");
    ps_report_table_init(&t, stdout, output_cols, NOUTPUT_COLS);
    ps_report_table_header(&t);
    for (size_t i = 0; i < n; i++) {
        const ps_output_row *r = &rows[i];
        char backlog[32], rate[32] = "-", deliv[32], drop[32], st[48], last[64] = "never";
        const char *cells[NOUTPUT_COLS] = {
            r->name, r->type, state_of(r, running), backlog, rate, deliv, drop, st, last};
        snprintf(backlog, sizeof backlog, "%llu", (unsigned long long)r->backlog);
        if (running && r->enabled)
            snprintf(rate, sizeof rate, "%.1f", r->rate);
        snprintf(deliv, sizeof deliv, "%llu", (unsigned long long)r->delivered);
        snprintf(drop, sizeof drop, "%llu",
                 (unsigned long long)r->dropped + (unsigned long long)r->retention_dropped);
        snprintf(st, sizeof st, "%llu/%llu", (unsigned long long)r->split,
                 (unsigned long long)r->truncated);
        if (r->last_delivery_us)
            ps_time_format_local(r->last_delivery_us, utc, true, last, sizeof last);
        ps_report_table_row(&t, cells);
    }
    for (size_t i = 0; i < n; i++) {
        char when[64];
        if (rows[i].retention_dropped)
            printf("  %s: %llu events deleted by retention_max_db_size before it delivered them\n",
                   rows[i].name, (unsigned long long)rows[i].retention_dropped);
        if (!rows[i].last_error[0] || !rows[i].enabled)
            continue;
        ps_time_format_local(rows[i].last_error_us, utc, true, when, sizeof when);
        printf("  %s: last error at %s: %s\n", rows[i].name, when, rows[i].last_error);
    }
}

static void add_time(cJSON *o, const char *key, int64_t us)
{
    char buf[40];
    if (!us) {
        cJSON_AddNullToObject(o, key);
        return;
    }
    ps_time_format_iso(us, buf, sizeof buf);
    cJSON_AddStringToObject(o, key, buf);
}

cJSON *ps_status_outputs_json(const ps_output_row *rows, size_t n, bool running)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < n; i++) {
        const ps_output_row *r = &rows[i];
        cJSON *o = cJSON_CreateObject();
        if (!o)
            break;
        cJSON_AddStringToObject(o, "name", r->name);
        cJSON_AddStringToObject(o, "type", r->type);
        cJSON_AddBoolToObject(o, "enabled", r->enabled);
        cJSON_AddStringToObject(o, "state", state_of(r, running));
        cJSON_AddNumberToObject(o, "cursor", (double)r->last_id);
        cJSON_AddNumberToObject(o, "backlog", (double)r->backlog);
        if (running && r->enabled)
            cJSON_AddNumberToObject(o, "rate_10s", r->rate);
        else
            cJSON_AddNullToObject(o, "rate_10s");
        cJSON_AddNumberToObject(o, "delivered", (double)r->delivered);
        cJSON_AddNumberToObject(o, "dropped", (double)r->dropped);
        cJSON_AddNumberToObject(o, "retention_dropped", (double)r->retention_dropped);
        cJSON_AddNumberToObject(o, "split", (double)r->split);
        cJSON_AddNumberToObject(o, "truncated", (double)r->truncated);
        cJSON_AddNumberToObject(o, "duplicates", (double)r->duplicates);
        add_time(o, "last_delivery", r->last_delivery_us);
        if (r->last_error[0])
            cJSON_AddStringToObject(o, "last_error", r->last_error);
        else
            cJSON_AddNullToObject(o, "last_error");
        add_time(o, "last_error_at", r->last_error_us);
        add_time(o, "updated", r->updated_us);
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}
