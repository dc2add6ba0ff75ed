/* podstream query: find stored events by device, type, time, address, subject,
 * disposition, queue id, message-id or words, and print them as a table, as the
 * original JSON or as CSV; --follow keeps printing new ones as they are stored. */
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "podstream/ps_mem.h"
#include "podstream/ps_platform.h"
#include "podstream/ps_report.h"
#include "podstream/ps_store.h"
#include "podstream/ps_time.h"

static const char *const cmd = "query";

/* How often --follow looks for new events. */
#define FOLLOW_POLL_MS 1000

typedef struct query_opts {
    const char *device;
    int type; /* index in `types`, or -1 for all */
    const char *since, *until, *from, *to, *subject, *disposition, *qid, *message_id, *search;
    long long limit, width;
    const char *format;
    bool oldest_first, utc, follow;
    const char *config, *db;
} query_opts;

static const ps_data_type types[] = {PS_DATA_MESSAGE, PS_DATA_MAILLOG, PS_DATA_AUDIT};

#define Q(field) offsetof(query_opts, field)

static const ps_opt options[] = {
    {"device", 0, PS_OPT_STRING, "ID|NAME", Q(device), "events of one device", "Filters", 0, 0,
     NULL},
    {"type", 0, PS_OPT_CHOICE, "TYPE", Q(type), "message, maillog or audit", NULL, 0, 0,
     "message|maillog|audit"},
    {"since", 0, PS_OPT_STRING, "TIME", Q(since), "events at or after TIME", NULL, 0, 0, NULL},
    {"until", 0, PS_OPT_STRING, "TIME", Q(until),
     "events before TIME\n"
     "TIME: 30s, 15m, 2h, 7d, 2w (that long ago), now, today,\n"
     "yesterday, 2024-05-22, \"2024-05-22 14:30\" (local time),\n"
     "2024-05-22T14:30:00Z or with an offset (+02:00)",
     NULL, 0, 0, NULL},
    {"from", 0, PS_OPT_STRING, "ADDR", Q(from),
     "envelope sender is ADDR (case-insensitive, <> optional)", NULL, 0, 0, NULL},
    {"to", 0, PS_OPT_STRING, "ADDR", Q(to), "ADDR is one of the recipients", NULL, 0, 0, NULL},
    {"subject", 0, PS_OPT_STRING, "TEXT", Q(subject),
     "the subject contains these words in this order, matched\n"
     "at the start of words, any case (\"invoice 20\" finds\n"
     "\"Your Invoice 2024\")",
     NULL, 0, 0, NULL},
    {"disposition", 0, PS_OPT_STRING, "D", Q(disposition),
     "message disposition: accept, continue, discard,\nquarantine, reject ...", NULL, 0, 0, NULL},
    {"qid", 0, PS_OPT_STRING, "QID", Q(qid), "sendmail queue id (message and maillog events)", NULL,
     0, 0, NULL},
    {"message-id", 0, PS_OPT_STRING, "ID", Q(message_id), "Message-ID header, with or without <>",
     NULL, 0, 0, NULL},
    {"search", 0, PS_OPT_STRING, "WORDS", Q(search),
     "every word appears in a text field (subject, addresses,\n"
     "hosts, rule, status ...) or is an id of the event;\n"
     "word* matches a prefix",
     NULL, 0, 0, NULL},
    {"limit", 0, PS_OPT_INT, "N", Q(limit), "at most N events (default 100; 0: all)", "Output", 0,
     INT_MAX, NULL},
    {"format", 0, PS_OPT_STRING, "FORMAT", Q(format),
     "table (default): one line per event in local time,\n"
     "fitted to the terminal; json: the original event JSON,\n"
     "one per line; csv: RFC 4180 with a header, UTC times",
     NULL, 0, 0, NULL},
    {"oldest-first", 0, PS_OPT_FLAG, NULL, Q(oldest_first), "oldest first instead of newest first",
     NULL, 0, 0, NULL},
    {"utc", 0, PS_OPT_FLAG, NULL, Q(utc), "table times in UTC instead of local time", NULL, 0, 0,
     NULL},
    {"width", 0, PS_OPT_INT, "N", Q(width), "table width (default: the terminal's, else 120)", NULL,
     60, 1000, NULL},
    {"follow", 'f', PS_OPT_FLAG, NULL, Q(follow),
     "print the last events (--limit, default 10), then new\n"
     "ones as they are stored, until interrupted",
     NULL, 0, 0, NULL},
    PS_CLI_DATABASE_OPTIONS(query_opts, "Database"),
};

#undef Q

const ps_opt_cmd ps_cmd_query_opts = {
    "query",
    "find stored events by sender, recipient, subject, id, time or words",
    "[FILTERS] [--limit N] [--format table|json|csv]\n [--follow]",
    "Prints stored events that match every filter given, newest first.",
    options,
    sizeof options / sizeof options[0],
    "Reading never blocks the running service. Exit codes: 0 success (also when\n"
    "nothing matches), 1 the database cannot be read, 2 usage error, 3 invalid\n"
    "configuration.",
    0,
};

/* --device given as a number must be a device id the configuration accepts;
 * anything else is a name. */
static int check_device(const char *arg)
{
    long long id, min, max;
    size_t digits = strspn(arg + (arg[0] == '-'), "0123456789");
    if (digits == 0 || arg[(arg[0] == '-') + digits] != '\0' ||
        ps_cli_device_id(arg, &id, &min, &max))
        return PS_CLI_RUN;
    return ps_cli_usage_error(cmd,
                              "--device: '%s' is out of range: a device id is a whole number "
                              "from %lld to %lld",
                              arg, min, max);
}

/* --device: a number, or the name of a device the service has written counters
 * for. Prints why and returns false when neither. */
static bool resolve_device(const char *arg, const ps_cli_devices *d, long long *out)
{
    long long min, max;
    if (ps_cli_device_id(arg, out, &min, &max))
        return true;
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
    if (ps_mem_grow_array((void **)&l->v, &l->cap, l->n, sizeof *l->v) != PS_OK)
        return false;
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

/* Turns the options into a query. Returns PS_CLI_RUN, or the exit code of a
 * usage error (printed). */
static int build_query(const query_opts *o, ps_query *q, ps_report_format *fmt)
{
    int64_t now = ps_plat_now_us();
    ps_errmsg em;

    if (o->type >= 0)
        q->type = types[o->type];
    q->from = o->from;
    q->to = o->to;
    q->subject = o->subject;
    q->disposition = o->disposition;
    q->qid = o->qid;
    q->message_id = o->message_id;
    q->search = o->search;
    q->oldest_first = o->oldest_first;
    if (ps_report_format_parse(o->format, fmt) != PS_OK)
        return ps_cli_usage_error(cmd, "--format: '%s' is not table, json or csv", o->format);
    if (o->since && ps_time_parse_when(o->since, now, &q->since_us, &em) != PS_OK)
        return ps_cli_usage_error(cmd, "--since: %s", em.text);
    if (o->until && ps_time_parse_when(o->until, now, &q->until_us, &em) != PS_OK)
        return ps_cli_usage_error(cmd, "--until: %s", em.text);
    if (o->since && o->until && q->since_us >= q->until_us)
        return ps_cli_usage_error(cmd, "--since %s is not before --until %s", o->since, o->until);
    if (o->follow && o->oldest_first)
        return ps_cli_usage_error(cmd, "--follow prints oldest first already; drop "
                                       "--oldest-first");
    if (o->follow && o->until)
        return ps_cli_usage_error(cmd, "--follow waits for new events; it cannot have --until");
    q->limit = o->limit >= 0 ? (size_t)o->limit : (o->follow ? 10 : 100);
    q->want_raw = *fmt == PS_REPORT_JSON;
    return o->device ? check_device(o->device) : PS_CLI_RUN;
}

/* --follow: the newest few, printed oldest first like tail -f, then every event
 * stored after them, until interrupted. The newest id is read first so that
 * nothing stored meanwhile is printed twice or missed. */
static ps_err follow(ps_store *st, ps_query *q, out_ctx *oc, ps_errmsg *em)
{
    id_list ids = {NULL, 0, 0, 0, 0};
    void *pair[2] = {&ids, oc};
    int64_t last = 0;
    ps_err err;

    /* Ctrl-C ends the wait for new events and lets the output finish cleanly. */
    ps_plat_signals_block();
    setvbuf(stdout, NULL, _IOLBF, 0);
    err = ps_store_last_id(st, &last, em);
    ids.max_id = last;
    oc->max_id = last;
    if (err == PS_OK && q->limit > 0)
        err = ps_store_query(st, q, collect_id, &ids, em);
    if (err == PS_OK && ids.n > 0) {
        ps_query q2 = *q;
        qsort(ids.v, ids.n, sizeof ids.v[0], cmp_id);
        q2.oldest_first = true;
        q2.limit = 0;
        q2.since_us = ids.min_ts;
        err = ps_store_query(st, &q2, keep_listed, pair, em);
    }
    free(ids.v);
    if (err == PS_OK && oc->err == PS_OK)
        err = ps_report_writer_finish(oc->w);
    while (err == PS_OK && oc->err == PS_OK) {
        int64_t newest = 0;
        /* A hangup (RELOAD) ends it too, as it did before signals were blocked. */
        if (ps_plat_signal_wait(FOLLOW_POLL_MS, NULL) != PS_SIGNAL_NONE)
            break;
        if ((err = ps_store_last_id(st, &newest, em)) != PS_OK || newest <= last)
            continue;
        q->after_id = last;
        q->limit = 0;
        oc->max_id = newest;
        err = ps_store_query(st, q, print_row, oc, em);
        last = newest;
        fflush(stdout);
    }
    return err;
}

/* Runs the query on `st` and prints the events; returns the exit code. */
static int print_events(ps_store *st, const query_opts *o, ps_query *q, ps_report_format fmt)
{
    ps_cli_devices devs = {NULL, 0};
    ps_report_writer w;
    ps_errmsg em;
    ps_err err;
    out_ctx oc;
    int rc = PS_EXIT_OK;

    if (ps_store_counters_list(st, &devs.c, &devs.n, &em) != PS_OK) {
        fprintf(stderr, "podstream %s: %s\n", cmd, em.text);
        return PS_EXIT_FAILURE;
    }
    if (o->device && !resolve_device(o->device, &devs, &q->device_id)) {
        free(devs.c);
        return PS_EXIT_USAGE;
    }
    ps_report_writer_init(&w, stdout, fmt, ps_cli_table_width(o->width), o->utc);
    w.audit_columns = o->type >= 0 && types[o->type] == PS_DATA_AUDIT;
    w.device_name = ps_cli_device_name;
    w.device_name_ctx = &devs;
    memset(&oc, 0, sizeof oc);
    oc.w = &w;
    err = o->follow ? follow(st, q, &oc, &em) : ps_store_query(st, q, print_row, &oc, &em);
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
    } else if (w.rows == 0 && !o->follow && fmt == PS_REPORT_TABLE) {
        fprintf(stderr, "podstream %s: no events match\n", cmd);
    }
    free(devs.c);
    return rc;
}

int ps_cmd_query(int argc, char **argv)
{
    query_opts o;
    ps_opt_list args = {NULL, 0};
    ps_report_format fmt;
    ps_query q;
    ps_store *st = NULL;
    int rc;

    memset(&o, 0, sizeof o);
    o.type = -1;
    o.limit = -1;
    o.format = "table";
    ps_query_init(&q);
    rc = ps_cli_parse(&ps_cmd_query_opts, argc, argv, &o, &args);
    if (rc == PS_CLI_RUN && args.n)
        rc = ps_cli_usage_error(cmd,
                                "unexpected argument '%s' (filters are options, e.g. "
                                "--search WORDS)",
                                args.v[0]);
    ps_opt_list_free(&args);
    if (rc == PS_CLI_RUN)
        rc = build_query(&o, &q, &fmt);
    if (rc != PS_CLI_RUN)
        return rc;

    rc = ps_cli_open_reader(cmd, o.db, o.config, &st);
    if (rc == PS_EXIT_OK)
        rc = print_events(st, &o, &q, fmt);
    ps_store_destroy(st);
    return rc;
}
