/* podstream trace: everything stored about one mail, in time order: its message
 * event (reception and filtering) and the sendmail lines of its way out. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "podstream/ps_platform.h"
#include "podstream/ps_report.h"
#include "podstream/ps_store.h"
#include "podstream/ps_time.h"

static const char *const cmd = "trace";

typedef struct trace_opts {
    const char *format;
    bool utc;
    long long width;
    const char *config, *db;
} trace_opts;

static const ps_opt options[] = {
    {"format", 0, PS_OPT_STRING, "FORMAT", offsetof(trace_opts, format),
     "table (default), json (the original events, one per line)\nor csv", NULL, 0, 0, NULL},
    {"utc", 0, PS_OPT_FLAG, NULL, offsetof(trace_opts, utc),
     "table times in UTC instead of local time", NULL, 0, 0, NULL},
    {"width", 0, PS_OPT_INT, "N", offsetof(trace_opts, width),
     "table width (default: the terminal's, else 120)", NULL, 60, 1000, NULL},
    PS_CLI_DATABASE_OPTIONS(trace_opts, NULL),
};

const ps_opt_cmd ps_cmd_trace_opts = {
    "trace",
    "show everything stored about one mail, in time order",
    "[OPTIONS] ID",
    "Shows what happened to one mail: its message event and every maillog line\n"
    "of the same mail, oldest first, then a summary. ID is the message guid, a\n"
    "sendmail queue id or the Message-ID (with or without <>). Queue ids and\n"
    "message-ids found on the way are followed, so a mail that sendmail split or\n"
    "re-queued is shown whole.",
    options,
    sizeof options / sizeof options[0],
    "Exit codes: 0 found, 1 nothing stored for ID or the database cannot be read,\n"
    "2 usage error, 3 invalid configuration.",
    0,
};

/* What the summary says, gathered while the rows are printed. */
typedef struct summary {
    ps_report_writer *w;
    ps_err err;
    size_t rows;
    int64_t first_us, last_us;
    char filtered[512];
    unsigned messages, received, sent, deferred, failed, other;
} summary;

static bool on_row(const ps_event_row *r, void *ctx)
{
    summary *s = ctx;
    const char *const *t = r->text;
    s->err = ps_report_writer_row(s->w, r);
    if (s->rows == 0)
        s->first_us = r->ts_us;
    s->last_us = r->ts_us;
    s->rows++;
    if (r->type == PS_DATA_MESSAGE) {
        s->messages++;
        snprintf(s->filtered, sizeof s->filtered,
                 "disposition %s, final action %s (module %s, "
                 "rule %s)",
                 t[PS_EF_DISPOSITION] ? t[PS_EF_DISPOSITION] : "-",
                 t[PS_EF_ACTION] ? t[PS_EF_ACTION] : "-", t[PS_EF_MODULE] ? t[PS_EF_MODULE] : "-",
                 t[PS_EF_RULE] ? t[PS_EF_RULE] : "-");
    } else if (r->type == PS_DATA_MAILLOG) {
        /* sendmail: a line without stat is the reception (`from=`); a delivery
         * line's DSN class says what became of it. */
        const char *dsn = t[PS_EF_DSN];
        if (!t[PS_EF_STAT])
            s->received++;
        else if (dsn && dsn[0] == '2')
            s->sent++;
        else if (dsn && dsn[0] == '4')
            s->deferred++;
        else if (dsn && dsn[0] == '5')
            s->failed++;
        else
            s->other++;
    }
    return s->err == PS_OK;
}

static void print_summary(const summary *s, bool utc)
{
    char a[40], b[40], zone[80];
    ps_time_format_local(s->first_us, utc, true, a, sizeof a);
    ps_time_format_local(s->last_us, utc, true, b, sizeof b);
    ps_report_zone_label(utc, zone, sizeof zone);
    printf("\n%zu event%s from %s to %s (%s):\n", s->rows, s->rows == 1 ? "" : "s", a, b, zone);
    if (s->messages)
        printf("  filtered:  %s%s\n", s->filtered,
               s->messages > 1 ? " (last of several message events)" : "");
    else
        printf("  filtered:  no message event stored for this mail\n");
    printf("  received:  %u sendmail reception line%s (from=)\n", s->received,
           s->received == 1 ? "" : "s");
    printf("  delivered: %u sent, %u deferred, %u failed", s->sent, s->deferred, s->failed);
    if (s->other)
        printf(", %u without a DSN", s->other);
    printf("\n");
}

/* Prints the trace of `id` from `st`; returns the exit code. */
static int show(ps_store *st, const char *id, const trace_opts *o, ps_report_format fmt)
{
    ps_cli_devices devs = {NULL, 0};
    ps_report_writer w;
    summary sum;
    ps_errmsg em;
    ps_err err;
    int rc = PS_EXIT_OK;

    if (ps_store_counters_list(st, &devs.c, &devs.n, &em) != PS_OK) {
        fprintf(stderr, "podstream %s: %s\n", cmd, em.text);
        return PS_EXIT_FAILURE;
    }
    ps_report_writer_init(&w, stdout, fmt, ps_cli_table_width(o->width), o->utc);
    w.device_name = ps_cli_device_name;
    w.device_name_ctx = &devs;
    memset(&sum, 0, sizeof sum);
    sum.w = &w;
    err = ps_store_trace(st, id, fmt == PS_REPORT_JSON, 0, on_row, &sum, NULL, &em);
    if (err == PS_OK && sum.err != PS_OK)
        err = sum.err;
    if (err == PS_OK)
        err = ps_report_writer_finish(&w);
    if (err == PS_OK) {
        if (fmt == PS_REPORT_TABLE)
            print_summary(&sum, o->utc);
    } else if (err == PS_ERR_INVALID) {
        rc = ps_cli_usage_error(cmd, "%s", em.text);
    } else {
        /* PS_ERR_IO: the reader went away (a closed pipe), not worth a message. */
        if (err != PS_ERR_IO)
            fprintf(stderr, "podstream %s: %s\n", cmd, em.text);
        rc = PS_EXIT_FAILURE;
    }
    free(devs.c);
    return rc;
}

int ps_cmd_trace(int argc, char **argv)
{
    trace_opts o = {"table", false, 0, NULL, NULL};
    ps_opt_list args = {NULL, 0};
    int rc = ps_cli_parse(&ps_cmd_trace_opts, argc, argv, &o, &args);
    const char *id = args.n ? args.v[0] : NULL;
    ps_report_format fmt = PS_REPORT_TABLE;
    ps_store *st = NULL;

    if (rc == PS_CLI_RUN && !id)
        rc = ps_cli_usage_error(cmd, "which mail? Give its guid, queue id or message-id");
    else if (rc == PS_CLI_RUN && args.n > 1)
        rc = ps_cli_usage_error(cmd, "one id at a time ('%s' is extra)", args.v[1]);
    else if (rc == PS_CLI_RUN && ps_report_format_parse(o.format, &fmt) != PS_OK)
        rc = ps_cli_usage_error(cmd, "--format: '%s' is not table, json or csv", o.format);
    ps_opt_list_free(&args); /* id stays valid: it points into argv */
    if (rc != PS_CLI_RUN)
        return rc;

    rc = ps_cli_open_reader(cmd, o.db, o.config, &st);
    if (rc == PS_EXIT_OK)
        rc = show(st, id, &o, fmt);
    ps_store_destroy(st);
    return rc;
}
