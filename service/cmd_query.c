/* podstream query: find stored events by device, type, time, address, subject,
 * disposition, queue id, message-id or words, and print them as a table, as the
 * original JSON or as CSV; --follow keeps printing new ones as they are stored. */
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "podstream/ps_platform.h"
#include "podstream/ps_report.h"
#include "podstream/ps_store.h"
#include "podstream/ps_time.h"

static const char *const cmd = "query";

/* How often --follow looks for new events. */
#define FOLLOW_POLL_MS 1000

static void usage(FILE *out)
{
    fprintf(out,
            "usage: podstream query [FILTERS] [--limit N] [--format table|json|csv] [--follow]\n"
            "\n"
            "Prints stored events that match every filter given, newest first.\n"
            "\n"
            "Filters:\n"
            "  --device ID|NAME      events of one device\n"
            "  --type TYPE           message or maillog\n"
            "  --since TIME          events at or after TIME\n"
            "  --until TIME          events before TIME\n"
            "                        TIME: 30s, 15m, 2h, 7d, 2w (that long ago), now, today,\n"
            "                        yesterday, 2024-05-22, \"2024-05-22 14:30\" (local time),\n"
            "                        2024-05-22T14:30:00Z or with an offset (+02:00)\n"
            "  --from ADDR           envelope sender is ADDR (case-insensitive, <> optional)\n"
            "  --to ADDR             ADDR is one of the recipients\n"
            "  --subject TEXT        the subject contains these words in this order, matched\n"
            "                        at the start of words, any case (\"invoice 20\" finds\n"
            "                        \"Your Invoice 2024\")\n"
            "  --disposition D       message disposition: accept, continue, discard,\n"
            "                        quarantine, reject ...\n"
            "  --qid QID             sendmail queue id (message and maillog events)\n"
            "  --message-id ID       Message-ID header, with or without <>\n"
            "  --search WORDS        every word appears in a text field (subject, addresses,\n"
            "                        hosts, rule, status ...) or is an id of the event;\n"
            "                        word* matches a prefix\n"
            "\n"
            "Output:\n"
            "  --limit N             at most N events (default 100; 0: all)\n"
            "  --format FORMAT       table (default): one line per event in local time,\n"
            "                        fitted to the terminal; json: the original event JSON,\n"
            "                        one per line; csv: RFC 4180 with a header, UTC times\n"
            "  --oldest-first        oldest first instead of newest first\n"
            "  --utc                 table times in UTC instead of local time\n"
            "  --width N             table width (default: the terminal's, else 120)\n"
            "  -f, --follow          print the last events (--limit, default 10), then new\n"
            "                        ones as they are stored, until interrupted\n"
            "\n"
            "Database:\n"
            "  -c, --config DIR      configuration directory whose `database` setting names\n"
            "                        the database (default: $PODSTREAM_CONFIG_DIR or %s)\n"
            "      --db PATH         read this database instead\n"
            "  -h, --help            this help\n"
            "\n"
            "Reading never blocks the running service. Exit codes: 0 success (also when\n"
            "nothing matches), 1 the database cannot be read, 2 usage error, 3 invalid\n"
            "configuration.\n",
            ps_plat_default_config_dir());
}

enum {
    OPT_DEVICE = 256,
    OPT_TYPE,
    OPT_SINCE,
    OPT_UNTIL,
    OPT_FROM,
    OPT_TO,
    OPT_SUBJECT,
    OPT_DISPOSITION,
    OPT_QID,
    OPT_MSGID,
    OPT_SEARCH,
    OPT_LIMIT,
    OPT_FORMAT,
    OPT_OLDEST,
    OPT_UTC,
    OPT_WIDTH,
    OPT_DB,
};

static const struct option options[] = {
    {"device", required_argument, NULL, OPT_DEVICE},
    {"type", required_argument, NULL, OPT_TYPE},
    {"since", required_argument, NULL, OPT_SINCE},
    {"until", required_argument, NULL, OPT_UNTIL},
    {"from", required_argument, NULL, OPT_FROM},
    {"to", required_argument, NULL, OPT_TO},
    {"subject", required_argument, NULL, OPT_SUBJECT},
    {"disposition", required_argument, NULL, OPT_DISPOSITION},
    {"qid", required_argument, NULL, OPT_QID},
    {"message-id", required_argument, NULL, OPT_MSGID},
    {"search", required_argument, NULL, OPT_SEARCH},
    {"limit", required_argument, NULL, OPT_LIMIT},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"oldest-first", no_argument, NULL, OPT_OLDEST},
    {"utc", no_argument, NULL, OPT_UTC},
    {"width", required_argument, NULL, OPT_WIDTH},
    {"follow", no_argument, NULL, 'f'},
    {"config", required_argument, NULL, 'c'},
    {"db", required_argument, NULL, OPT_DB},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Device names from the counters the service writes, for --device NAME and the
 * DEVICE column. */
typedef struct devices {
    ps_device_counters *c;
    size_t n;
} devices;

static const char *device_name(long long id, void *ctx)
{
    const devices *d = ctx;
    for (size_t i = 0; i < d->n; i++)
        if (d->c[i].device_id == id && d->c[i].name[0])
            return d->c[i].name;
    return NULL;
}

/* --device: a number, or the name of a device the service has written counters
 * for. Prints why and returns false when neither. */
static bool resolve_device(const char *arg, const devices *d, long long *out)
{
    char *end = NULL;
    long long id = strtoll(arg, &end, 10);
    if (end != arg && *end == '\0' && id >= 0) {
        *out = id;
        return true;
    }
    for (size_t i = 0; i < d->n; i++)
        if (strcmp(d->c[i].name, arg) == 0) {
            *out = d->c[i].device_id;
            return true;
        }
    fprintf(stderr, "podstream %s: --device: no device is named '%s'", cmd, arg);
    if (d->n > 0) {
        fprintf(stderr, " (known:");
        for (size_t i = 0; i < d->n; i++)
            fprintf(stderr, " %lld %s%s", d->c[i].device_id, d->c[i].name, i + 1 < d->n ? "," : "");
        fprintf(stderr, ")");
    }
    fprintf(stderr, "\n");
    return false;
}

static bool parse_count(const char *s, long long max, long long *out)
{
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || v < 0 || v > max)
        return false;
    *out = v;
    return true;
}

typedef struct out_ctx {
    ps_report_writer *w;
    ps_err err;
    int64_t max_id;   /* rows above it belong to the next poll */
    int64_t seen_max; /* highest id printed */
} out_ctx;

static bool print_row(const ps_event_row *row, void *ctx)
{
    out_ctx *o = ctx;
    if (o->max_id > 0 && row->id > o->max_id)
        return true;
    o->err = ps_report_writer_row(o->w, row);
    if (row->id > o->seen_max)
        o->seen_max = row->id;
    return o->err == PS_OK;
}

/* --follow starts like tail -f: the newest few, oldest first. The newest-first
 * query names them; a second, oldest-first query from the oldest one's ts prints
 * them (and only them) in order. */
typedef struct id_list {
    int64_t *v;
    size_t n, cap;
    int64_t max_id;
    int64_t min_ts;
} id_list;

static bool collect_id(const ps_event_row *row, void *ctx)
{
    id_list *l = ctx;
    if (l->max_id > 0 && row->id > l->max_id)
        return true;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        int64_t *p = realloc(l->v, cap * sizeof *p);
        if (!p)
            return false;
        l->v = p;
        l->cap = cap;
    }
    if (l->n == 0 || row->ts_us < l->min_ts)
        l->min_ts = row->ts_us;
    l->v[l->n++] = row->id;
    return true;
}

static int cmp_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static bool keep_listed(const ps_event_row *row, void *ctx)
{
    void **pair = ctx;
    const id_list *l = pair[0];
    if (bsearch(&row->id, l->v, l->n, sizeof l->v[0], cmp_id))
        return print_row(row, pair[1]);
    return true;
}

int ps_cmd_query(int argc, char **argv)
{
    ps_query q;
    const char *config = NULL, *db_opt = NULL, *device = NULL, *format = "table";
    const char *since = NULL, *until = NULL;
    long long limit = -1, width = 0, dev_id = -1;
    bool follow = false, utc = false;
    ps_report_format fmt;
    ps_report_writer w;
    ps_store *st = NULL;
    devices devs = {NULL, 0};
    char *path = NULL;
    ps_errmsg em;
    ps_err err;
    int rc = PS_EXIT_OK, opt;
    int64_t now = ps_plat_now_us();
    out_ctx oc;

    ps_query_init(&q);
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":c:fh", options, NULL)) != -1) {
        switch (opt) {
        case OPT_DEVICE:
            device = optarg;
            break;
        case OPT_TYPE:
            if (strcmp(optarg, "message") == 0)
                q.type = PS_DATA_MESSAGE;
            else if (strcmp(optarg, "maillog") == 0)
                q.type = PS_DATA_MAILLOG;
            else if (strcmp(optarg, "audit") == 0)
                q.type = PS_DATA_AUDIT;
            else
                return ps_cli_usage_error(cmd, "--type: '%s' is not message or maillog", optarg);
            break;
        case OPT_SINCE:
            since = optarg;
            break;
        case OPT_UNTIL:
            until = optarg;
            break;
        case OPT_FROM:
            q.from = optarg;
            break;
        case OPT_TO:
            q.to = optarg;
            break;
        case OPT_SUBJECT:
            q.subject = optarg;
            break;
        case OPT_DISPOSITION:
            q.disposition = optarg;
            break;
        case OPT_QID:
            q.qid = optarg;
            break;
        case OPT_MSGID:
            q.message_id = optarg;
            break;
        case OPT_SEARCH:
            q.search = optarg;
            break;
        case OPT_LIMIT:
            if (!parse_count(optarg, INT_MAX, &limit))
                return ps_cli_usage_error(cmd, "--limit: '%s' is not a count (0 or more)", optarg);
            break;
        case OPT_FORMAT:
            format = optarg;
            break;
        case OPT_OLDEST:
            q.oldest_first = true;
            break;
        case OPT_UTC:
            utc = true;
            break;
        case OPT_WIDTH:
            if (!parse_count(optarg, 1000, &width) || width < 60)
                return ps_cli_usage_error(cmd, "--width: '%s' is not a width from 60 to 1000",
                                          optarg);
            break;
        case 'f':
            follow = true;
            break;
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
    if (optind < argc)
        return ps_cli_usage_error(cmd,
                                  "unexpected argument '%s' (filters are options, e.g. "
                                  "--search WORDS)",
                                  argv[optind]);
    if (ps_report_format_parse(format, &fmt) != PS_OK)
        return ps_cli_usage_error(cmd, "--format: '%s' is not table, json or csv", format);
    if (since && ps_time_parse_when(since, now, &q.since_us, &em) != PS_OK)
        return ps_cli_usage_error(cmd, "--since: %s", em.text);
    if (until && ps_time_parse_when(until, now, &q.until_us, &em) != PS_OK)
        return ps_cli_usage_error(cmd, "--until: %s", em.text);
    if (since && until && q.since_us >= q.until_us)
        return ps_cli_usage_error(cmd, "--since %s is not before --until %s", since, until);
    if (follow && q.oldest_first)
        return ps_cli_usage_error(cmd, "--follow prints oldest first already; drop "
                                       "--oldest-first");
    if (follow && until)
        return ps_cli_usage_error(cmd, "--follow waits for new events; it cannot have --until");
    q.limit = limit >= 0 ? (size_t)limit : (follow ? 10 : 100);
    q.want_raw = fmt == PS_REPORT_JSON;

    path = ps_cli_database_path(cmd, db_opt, config, &rc);
    if (!path)
        return rc;
    if (ps_store_create(path, PS_STORE_READER, &st, &em) != PS_OK) {
        fprintf(stderr, "podstream %s: %s\n", cmd, em.text);
        rc = PS_EXIT_FAILURE;
        goto out;
    }
    if (ps_store_counters_list(st, &devs.c, &devs.n, &em) != PS_OK) {
        fprintf(stderr, "podstream %s: %s\n", cmd, em.text);
        rc = PS_EXIT_FAILURE;
        goto out;
    }
    if (device) {
        if (!resolve_device(device, &devs, &dev_id)) {
            rc = PS_EXIT_USAGE;
            goto out;
        }
        q.device_id = dev_id;
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
    w.device_name = device_name;
    w.device_name_ctx = &devs;
    memset(&oc, 0, sizeof oc);
    oc.w = &w;

    if (!follow) {
        err = ps_store_query(st, &q, print_row, &oc, &em);
    } else {
        /* Start with the newest few, printed oldest first like tail -f, then every
         * event stored after them. The newest id is read first so that nothing
         * stored meanwhile is printed twice or missed. */
        id_list ids = {NULL, 0, 0, 0, 0};
        void *pair[2] = {&ids, &oc};
        int64_t last = 0;
        bool stop_follow = false;
        /* Ctrl-C ends the wait for new events and lets the output finish cleanly. */
        ps_plat_signals_block();
        setvbuf(stdout, NULL, _IOLBF, 0);
        err = ps_store_last_id(st, &last, &em);
        ids.max_id = last;
        oc.max_id = last;
        if (err == PS_OK && q.limit > 0)
            err = ps_store_query(st, &q, collect_id, &ids, &em);
        if (err == PS_OK && ids.n > 0) {
            ps_query q2 = q;
            qsort(ids.v, ids.n, sizeof ids.v[0], cmp_id);
            q2.oldest_first = true;
            q2.limit = 0;
            q2.since_us = ids.min_ts;
            err = ps_store_query(st, &q2, keep_listed, pair, &em);
        }
        free(ids.v);
        if (err == PS_OK && oc.err == PS_OK)
            err = ps_report_writer_finish(&w);
        while (err == PS_OK && oc.err == PS_OK && !stop_follow) {
            int64_t newest = 0;
            /* A hangup (RELOAD) ends it too, as it did before signals were blocked. */
            if (ps_plat_signal_wait(FOLLOW_POLL_MS, NULL) != PS_SIGNAL_NONE) {
                stop_follow = true;
                continue;
            }
            if ((err = ps_store_last_id(st, &newest, &em)) != PS_OK || newest <= last)
                continue;
            q.after_id = last;
            q.limit = 0;
            oc.max_id = newest;
            err = ps_store_query(st, &q, print_row, &oc, &em);
            last = newest;
            fflush(stdout);
        }
    }
    if (err == PS_OK && oc.err != PS_OK)
        err = oc.err;
    if (err == PS_OK)
        err = ps_report_writer_finish(&w);
    if (err == PS_ERR_IO) {
        /* The reader went away (a closed pipe): not worth a message. */
        rc = PS_EXIT_FAILURE;
    } else if (err == PS_ERR_INVALID) {
        rc = ps_cli_usage_error(cmd, "%s", em.text);
    } else if (err != PS_OK) {
        fprintf(stderr, "podstream %s: %s\n", cmd, em.text);
        rc = PS_EXIT_FAILURE;
    } else if (w.rows == 0 && !follow && fmt == PS_REPORT_TABLE) {
        fprintf(stderr, "podstream %s: no events match\n", cmd);
    }
out:
    free(devs.c);
    ps_store_destroy(st);
    free(path);
    return rc;
}
