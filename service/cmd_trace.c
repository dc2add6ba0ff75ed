/* podstream trace: everything stored about one mail, in time order: its message
 * event (reception and filtering) and the sendmail lines of its way out. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "podstream/ps_platform.h"
#include "podstream/ps_report.h"
#include "podstream/ps_store.h"
#include "podstream/ps_time.h"

static const char *const cmd = "trace";

static void usage(FILE *out)
{
    fprintf(out,
            "usage: podstream trace [OPTIONS] ID\n"
            "\n"
            "Shows what happened to one mail: its message event and every maillog line\n"
            "of the same mail, oldest first, then a summary. ID is the message guid, a\n"
            "sendmail queue id or the Message-ID (with or without <>). Queue ids and\n"
            "message-ids found on the way are followed, so a mail that sendmail split or\n"
            "re-queued is shown whole.\n"
            "\n"
            "Options:\n"
            "  --format FORMAT    table (default), json (the original events, one per line)\n"
            "                     or csv\n"
            "  --utc              table times in UTC instead of local time\n"
            "  --width N          table width (default: the terminal's, else 120)\n"
            "  -c, --config DIR   configuration directory whose `database` setting names the\n"
            "                     database (default: $PODSTREAM_CONFIG_DIR or %s)\n"
            "      --db PATH      read this database instead\n"
            "  -h, --help         this help\n"
            "\n"
            "Exit codes: 0 found, 1 nothing stored for ID or the database cannot be read,\n"
            "2 usage error, 3 invalid configuration.\n",
            ps_plat_default_config_dir());
}

enum { OPT_FORMAT = 256, OPT_UTC, OPT_WIDTH, OPT_DB };

static const struct option options[] = {
    {"format", required_argument, NULL, OPT_FORMAT},
    {"utc", no_argument, NULL, OPT_UTC},
    {"width", required_argument, NULL, OPT_WIDTH},
    {"config", required_argument, NULL, 'c'},
    {"db", required_argument, NULL, OPT_DB},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
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

typedef struct names {
    const ps_device_counters *c;
    size_t n;
} names;

static const char *device_name(long long id, void *ctx)
{
    const names *d = ctx;
    for (size_t i = 0; i < d->n; i++)
        if (d->c[i].device_id == id && d->c[i].name[0])
            return d->c[i].name;
    return NULL;
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

int ps_cmd_trace(int argc, char **argv)
{
    const char *config = NULL, *db_opt = NULL, *format = "table", *id;
    long width = 0;
    bool utc = false;
    ps_report_format fmt;
    ps_report_writer w;
    ps_store *st = NULL;
    ps_device_counters *devs = NULL;
    size_t ndevs = 0;
    names nm;
    summary sum;
    char *path = NULL;
    ps_errmsg em;
    ps_err err;
    int rc = PS_EXIT_OK, opt;

    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":c:h", options, NULL)) != -1) {
        switch (opt) {
        case OPT_FORMAT:
            format = optarg;
            break;
        case OPT_UTC:
            utc = true;
            break;
        case OPT_WIDTH: {
            char *end = NULL;
            width = strtol(optarg, &end, 10);
            if (end == optarg || *end || width < 60 || width > 1000)
                return ps_cli_usage_error(cmd, "--width: '%s' is not a width from 60 to 1000",
                                          optarg);
            break;
        }
        case 'c':
            config = optarg;
            break;
        case OPT_DB:
            db_opt = optarg;
            break;
        case 'h':
            usage(stdout);
            return PS_EXIT_OK;
        case ':':
            return ps_cli_usage_error(cmd, "%s needs a value", argv[optind - 1]);
        default:
            return ps_cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return ps_cli_usage_error(cmd, "which mail? Give its guid, queue id or message-id");
    if (optind + 1 < argc)
        return ps_cli_usage_error(cmd, "one id at a time ('%s' is extra)", argv[optind + 1]);
    id = argv[optind];
    if (ps_report_format_parse(format, &fmt) != PS_OK)
        return ps_cli_usage_error(cmd, "--format: '%s' is not table, json or csv", format);

    path = ps_cli_database_path(cmd, db_opt, config, &rc);
    if (!path)
        return rc;
    if (ps_store_create(path, PS_STORE_READER, &st, &em) != PS_OK ||
        ps_store_counters_list(st, &devs, &ndevs, &em) != PS_OK) {
        fprintf(stderr, "podstream %s: %s\n", cmd, em.text);
        rc = PS_EXIT_FAILURE;
        goto out;
    }
    if (width == 0) {
        const char *cols = getenv("COLUMNS");
        width = ps_plat_terminal_columns(stdout);
        if (width == 0 && cols && *cols)
            width = strtol(cols, NULL, 10);
        if (width < 60)
            width = 120;
    }
    ps_report_writer_init(&w, stdout, fmt, (int)width, utc);
    nm.c = devs;
    nm.n = ndevs;
    w.device_name = device_name;
    w.device_name_ctx = &nm;
    memset(&sum, 0, sizeof sum);
    sum.w = &w;
    err = ps_store_trace(st, id, fmt == PS_REPORT_JSON, 0, on_row, &sum, NULL, &em);
    if (err == PS_OK && sum.err != PS_OK)
        err = sum.err;
    if (err == PS_OK)
        err = ps_report_writer_finish(&w);
    if (err == PS_OK) {
        if (fmt == PS_REPORT_TABLE)
            print_summary(&sum, utc);
    } else if (err == PS_ERR_NOTFOUND) {
        fprintf(stderr, "podstream %s: %s\n", cmd, em.text);
        rc = PS_EXIT_FAILURE;
    } else if (err == PS_ERR_INVALID) {
        rc = ps_cli_usage_error(cmd, "%s", em.text);
    } else if (err != PS_ERR_IO) {
        fprintf(stderr, "podstream %s: %s\n", cmd, em.text);
        rc = PS_EXIT_FAILURE;
    } else {
        rc = PS_EXIT_FAILURE;
    }
out:
    free(devs);
    ps_store_destroy(st);
    free(path);
    return rc;
}
