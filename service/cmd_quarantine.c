/* podstream quarantine: what the service could not store as an event, and why,
 * without SQL.
 *
 *   podstream quarantine list [FILTERS]        one line per payload, newest first
 *   podstream quarantine show ID [--raw]       one payload, pretty when it is JSON
 *   podstream quarantine export [FILTERS]      JSON Lines, payload included
 *   podstream quarantine delete (ID... | --all [FILTERS]) --yes
 *
 * Reading opens the database read-only, beside the running service; delete opens it
 * as a second writer for one short transaction. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "podstream/ps_event.h"
#include "podstream/ps_mem.h"
#include "podstream/ps_platform.h"
#include "podstream/ps_report.h"
#include "podstream/ps_store.h"
#include "podstream/ps_time.h"
#include "podstream/ps_utf8.h"

static const char *const cmd = "quarantine";

typedef struct quarantine_opts {
    const char *device, *since, *until;
    long long limit;
    int format; /* 0 table, 1 json */
    bool utc, raw, all, yes;
    const char *output;
    const char *config, *db;
} quarantine_opts;

static const ps_opt options[] = {
    {"device", 0, PS_OPT_STRING, "ID", offsetof(quarantine_opts, device),
     "payloads of this device only", "Filters (list, export, delete --all)", 0, 0, NULL},
    {"since", 0, PS_OPT_STRING, "TIME", offsetof(quarantine_opts, since),
     "received at or after TIME (30m, 2d, today, 2024-05-22 ...)", NULL, 0, 0, NULL},
    {"until", 0, PS_OPT_STRING, "TIME", offsetof(quarantine_opts, until), "received before TIME",
     NULL, 0, 0, NULL},
    {"limit", 0, PS_OPT_INT, "N", offsetof(quarantine_opts, limit),
     "list: at most N payloads (default 100; 0: all)", "Output", 0, 1000000000, NULL},
    {"format", 0, PS_OPT_CHOICE, "FORMAT", offsetof(quarantine_opts, format),
     "list: table (default) or json (JSON Lines, no payload)", NULL, 0, 0, "table|json"},
    {"utc", 0, PS_OPT_FLAG, NULL, offsetof(quarantine_opts, utc),
     "times in UTC instead of local time", NULL, 0, 0, NULL},
    {"raw", 0, PS_OPT_FLAG, NULL, offsetof(quarantine_opts, raw),
     "show: the payload's exact bytes only", NULL, 0, 0, NULL},
    {"output", 'o', PS_OPT_STRING, "FILE", offsetof(quarantine_opts, output),
     "export: write to FILE (mode 0600) instead of standard\noutput", NULL, 0, 0, NULL},
    {"all", 0, PS_OPT_FLAG, NULL, offsetof(quarantine_opts, all),
     "delete: every payload the filters select", "Delete", 0, 0, NULL},
    {"yes", 0, PS_OPT_FLAG, NULL, offsetof(quarantine_opts, yes),
     "delete: really delete (without it, only say how many)", NULL, 0, 0, NULL},
    PS_CLI_DATABASE_OPTIONS(quarantine_opts, "Database"),
};

const ps_opt_cmd ps_cmd_quarantine_opts = {
    "quarantine",
    "list, show, export or delete payloads that could not be stored",
    "list [--device ID] [--since TIME] [--until TIME] [--limit N]\n"
    "      [--format table|json]\n"
    "show ID [--raw]\n"
    "export [--device ID] [--since TIME] [--until TIME] [-o FILE]\n"
    "delete (ID... | --all [--device ID] [--since TIME] [--until TIME]) --yes",
    "What the service received but could not store as an event (not JSON, no key,\n"
    "a pipeline failure), kept with the reason in the database's quarantine.\n"
    "\n"
    "list    one line per payload, newest first: id, when it was received, device,\n"
    "        type, size and reason.\n"
    "show    one payload with its details; JSON is printed indented, other text with\n"
    "        control characters and bytes that are not UTF-8 escaped (\\xNN).\n"
    "export  JSON Lines, one object per payload: id, received (UTC), device_id,\n"
    "        device, type, reason, size and payload (a string; payload_hex instead\n"
    "        when it is not UTF-8).\n"
    "delete  the payloads named by id, or with --all those the filters select;\n"
    "        without --yes it only says how many it would delete.",
    options,
    sizeof options / sizeof options[0],
    "Exit codes: 0 success, 1 the database cannot be read or written, or no payload\n"
    "has that id, 2 usage error (also delete without --yes), 3 invalid configuration.",
    0,
};

typedef enum action { ACT_LIST, ACT_SHOW, ACT_EXPORT, ACT_DELETE } action;
static const char *const action_names[] = {"list", "show", "export", "delete"};

static const char *type_name(ps_data_type t)
{
    return t == PS_DATA_MESSAGE ? "message" : t == PS_DATA_MAILLOG ? "maillog" : "audit";
}

/* What every action shares while it runs. */
typedef struct qctx {
    const quarantine_opts *o;
    ps_cli_devices devs;
    ps_report_table table;
    FILE *out;
    ps_buf *file; /* export -o: the lines go here, then to the file (0600) */
    bool failed;
} qctx;

/* One line of JSON Lines, to the file being built or to q->out. */
static void put_line(qctx *q, const char *text)
{
    if (!text)
        q->failed = true;
    else if (q->file)
        q->failed = q->failed || ps_buf_appendf(q->file, "%s\n", text) != PS_OK;
    else
        q->failed = q->failed || fprintf(q->out, "%s\n", text) < 0;
}

static const char *device_label(qctx *q, long long id, char *buf, size_t len)
{
    const char *name = ps_cli_device_name(id, &q->devs);
    snprintf(buf, len, "%lld%s%s", id, name ? " " : "", name ? name : "");
    return buf;
}

/* ---- list -------------------------------------------------------------------- */

static const ps_report_col list_cols[] = {
    {"ID", 6, true, false},    {"RECEIVED", 19, false, false}, {"DEVICE", 18, false, true},
    {"TYPE", 7, false, false}, {"BYTES", 8, true, false},      {"REASON", 60, false, true},
};

static bool list_row(const ps_quarantine_row *r, void *ctx)
{
    qctx *q = ctx;
    char id[32], when[64], dev[160], size[32];
    const char *cells[6] = {id, when, dev, type_name(r->type), size, r->reason};
    if (q->o->format == 1) {
        cJSON *j = cJSON_CreateObject();
        char *text;
        ps_time_format_iso(r->received_us, when, sizeof when);
        cJSON_AddNumberToObject(j, "id", (double)r->id);
        cJSON_AddStringToObject(j, "received", when);
        cJSON_AddNumberToObject(j, "device_id", (double)r->device_id);
        cJSON_AddStringToObject(j, "type", type_name(r->type));
        cJSON_AddStringToObject(j, "reason", r->reason);
        cJSON_AddNumberToObject(j, "size", (double)r->raw_len);
        text = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        put_line(q, text);
        cJSON_free(text);
        return !q->failed;
    }
    snprintf(id, sizeof id, "%lld", (long long)r->id);
    ps_time_format_local(r->received_us, q->o->utc, true, when, sizeof when);
    device_label(q, r->device_id, dev, sizeof dev);
    snprintf(size, sizeof size, "%zu", r->raw_len);
    ps_report_table_row(&q->table, cells);
    return true;
}

/* ---- show -------------------------------------------------------------------- */

/* Text as it can be read on a terminal: control characters and bytes that are not
 * UTF-8 as \xNN, newlines and tabs kept. */
static void print_escaped(FILE *out, const char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        size_t n = c >= 0x80 ? ps_utf8_prefix(s + i, len - i, 4) : 1;
        if (c >= 0x80 && n > 0 && ps_utf8_valid(s + i, n, NULL)) {
            fwrite(s + i, 1, n, out);
            i += n;
            continue;
        }
        if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f || c >= 0x80)
            fprintf(out, "\\x%02X", c);
        else
            fputc(c, out);
        i++;
    }
}

static bool show_row(const ps_quarantine_row *r, void *ctx)
{
    qctx *q = ctx;
    char when[64], zone[80], dev[160];
    cJSON *json;
    if (q->o->raw) {
        q->failed = fwrite(r->raw, 1, r->raw_len, q->out) != r->raw_len;
        return false;
    }
    ps_time_format_local(r->received_us, q->o->utc, true, when, sizeof when);
    ps_report_zone_label(q->o->utc, zone, sizeof zone);
    fprintf(q->out, "Quarantined payload %lld\nReceived:  %s (%s)\nDevice:    %s\n",
            (long long)r->id, when, zone, device_label(q, r->device_id, dev, sizeof dev));
    fprintf(q->out, "Type:      %s\nSize:      %zu bytes\nReason:    %s\n\n", type_name(r->type),
            r->raw_len, r->reason);
    json = cJSON_ParseWithLength(r->raw, r->raw_len);
    if (json) {
        char *text = cJSON_Print(json);
        fprintf(q->out, "Payload (JSON, indented):\n%s\n", text ? text : "");
        cJSON_free(text);
        cJSON_Delete(json);
    } else {
        fprintf(q->out, "Payload (not JSON, as text):\n");
        print_escaped(q->out, r->raw, r->raw_len);
        if (r->raw_len == 0 || r->raw[r->raw_len - 1] != '\n')
            fputc('\n', q->out);
    }
    return false;
}

/* ---- export ------------------------------------------------------------------ */

static bool export_row(const ps_quarantine_row *r, void *ctx)
{
    qctx *q = ctx;
    cJSON *j = cJSON_CreateObject();
    char when[64], *text;
    const char *name = ps_cli_device_name(r->device_id, &q->devs);
    ps_time_format_iso(r->received_us, when, sizeof when);
    cJSON_AddNumberToObject(j, "id", (double)r->id);
    cJSON_AddStringToObject(j, "received", when);
    cJSON_AddNumberToObject(j, "device_id", (double)r->device_id);
    if (name)
        cJSON_AddStringToObject(j, "device", name);
    else
        cJSON_AddNullToObject(j, "device");
    cJSON_AddStringToObject(j, "type", type_name(r->type));
    cJSON_AddStringToObject(j, "reason", r->reason);
    cJSON_AddNumberToObject(j, "size", (double)r->raw_len);
    if (ps_utf8_valid(r->raw, r->raw_len, NULL) && !memchr(r->raw, '\0', r->raw_len)) {
        cJSON_AddStringToObject(j, "payload", r->raw);
    } else {
        char *hex = malloc(r->raw_len * 2 + 1);
        for (size_t i = 0; hex && i < r->raw_len; i++)
            snprintf(hex + 2 * i, 3, "%02x", (unsigned char)r->raw[i]);
        if (hex)
            hex[r->raw_len * 2] = '\0';
        cJSON_AddStringToObject(j, "payload_hex", hex ? hex : "");
        free(hex);
    }
    text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    put_line(q, text);
    cJSON_free(text);
    return !q->failed;
}

/* ---- the command ------------------------------------------------------------- */

static bool count_row(const ps_quarantine_row *r, void *ctx)
{
    (void)r;
    (void)ctx;
    return true;
}

/* Reads --device, --since and --until into f; a usage error otherwise. */
static int make_filter(const quarantine_opts *o, ps_quarantine_filter *f)
{
    int64_t now = ps_plat_now_us();
    long long min, max;
    ps_errmsg em;
    ps_quarantine_filter_init(f);
    if (o->device && !ps_cli_device_id(o->device, &f->device_id, &min, &max))
        return ps_cli_usage_error(cmd, "--device: '%s' is not a device id (%lld to %lld)",
                                  o->device, min, max);
    if (o->since && ps_time_parse_when(o->since, now, &f->since_us, &em) != PS_OK)
        return ps_cli_usage_error(cmd, "--since: %s", em.text);
    if (o->until && ps_time_parse_when(o->until, now, &f->until_us, &em) != PS_OK)
        return ps_cli_usage_error(cmd, "--until: %s", em.text);
    return PS_CLI_RUN;
}

/* A payload id as typed: a whole number above 0. */
static bool parse_id(const char *s, int64_t *out)
{
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || v <= 0)
        return false;
    *out = v;
    return true;
}

static int check_args(action a, const quarantine_opts *o, const ps_opt_list *args)
{
    int64_t id;
    size_t want = a == ACT_SHOW ? 1 : 0;
    if (a == ACT_DELETE && o->all == (args->n > 0))
        return ps_cli_usage_error(cmd, "delete: give payload ids or --all, one of the two");
    if (a != ACT_DELETE && args->n != want)
        return args->n ? ps_cli_usage_error(cmd, "%s: unexpected argument '%s'", action_names[a],
                                            args->v[want])
                       : ps_cli_usage_error(cmd, "show: which payload? Give its id "
                                                 "(podstream quarantine list)");
    for (size_t i = 0; i < args->n; i++)
        if (!parse_id(args->v[i], &id))
            return ps_cli_usage_error(cmd,
                                      "'%s' is not a payload id (a whole number from "
                                      "podstream quarantine list)",
                                      args->v[i]);
    if (o->output && a != ACT_EXPORT)
        return ps_cli_usage_error(cmd, "-o/--output is for export");
    return PS_CLI_RUN;
}

/* Runs one read action over f; for show, PS_ERR_NOTFOUND when the id is not there. */
static int run_read(action a, ps_store *st, qctx *q, ps_quarantine_filter *f)
{
    ps_quarantine_fn fn = a == ACT_SHOW ? show_row : a == ACT_EXPORT ? export_row : list_row;
    size_t n = 0;
    ps_errmsg em;
    f->want_raw = a != ACT_LIST;
    if (a == ACT_LIST && q->o->format == 0) {
        ps_report_table_init(&q->table, q->out, list_cols, 6);
        ps_report_table_header(&q->table);
    }
    if (ps_store_quarantine_list(st, f, fn, q, &n, &em) != PS_OK) {
        fprintf(stderr, "podstream %s: %s\n", cmd, em.text);
        return PS_EXIT_FAILURE;
    }
    if (a == ACT_SHOW && n == 0) {
        fprintf(stderr, "podstream %s: no quarantined payload has id %lld\n", cmd,
                (long long)f->id);
        return PS_EXIT_FAILURE;
    }
    if (a == ACT_LIST && q->o->format == 0 && n == 0)
        fprintf(q->out, "(nothing quarantined%s)\n",
                f->device_id >= 0 || q->o->since || q->o->until ? " that matches" : "");
    return q->failed || fflush(q->out) != 0 ? PS_EXIT_FAILURE : PS_EXIT_OK;
}

/* Counts what would go; with --yes deletes it through a writer connection. */
static int run_delete(const char *path, ps_store *rd, const quarantine_opts *o,
                      const ps_opt_list *ids, ps_quarantine_filter *f)
{
    ps_store *st = NULL;
    uint64_t total = 0, gone = 0, n = 0;
    size_t count = 0;
    ps_errmsg em;
    int rc = PS_EXIT_OK;
    for (size_t i = 0; i < (ids->n ? ids->n : 1) && rc == PS_EXIT_OK; i++) {
        if (ids->n)
            (void)parse_id(ids->v[i], &f->id);
        if (ps_store_quarantine_list(rd, f, count_row, NULL, &count, &em) != PS_OK)
            return fprintf(stderr, "podstream %s: %s\n", cmd, em.text), PS_EXIT_FAILURE;
        if (ids->n && count == 0)
            return fprintf(stderr, "podstream %s: no quarantined payload has id %s\n", cmd,
                           ids->v[i]),
                   PS_EXIT_FAILURE;
        total += count;
    }
    if (!o->yes) {
        fprintf(stderr,
                "podstream %s: would delete %llu quarantined payload%s; add --yes to "
                "delete\n",
                cmd, (unsigned long long)total, total == 1 ? "" : "s");
        return PS_EXIT_USAGE;
    }
    if (ps_store_create(path, PS_STORE_WRITER, &st, &em) != PS_OK) {
        fprintf(stderr, "podstream %s: %s\n", cmd, em.text);
        return PS_EXIT_FAILURE;
    }
    for (size_t i = 0; i < (ids->n ? ids->n : 1) && rc == PS_EXIT_OK; i++) {
        if (ids->n)
            (void)parse_id(ids->v[i], &f->id);
        if (ps_store_quarantine_delete(st, f, &n, &em) != PS_OK) {
            fprintf(stderr, "podstream %s: %s\n", cmd, em.text);
            rc = PS_EXIT_FAILURE;
        }
        gone += n;
    }
    printf("deleted %llu quarantined payload%s\n", (unsigned long long)gone, gone == 1 ? "" : "s");
    ps_store_destroy(st);
    return rc;
}

static int parse_action(int argc, char **argv, action *a)
{
    for (int i = 0; i < 4; i++)
        if (argc >= 2 && strcmp(argv[1], action_names[i]) == 0) {
            *a = (action)i;
            return PS_CLI_RUN;
        }
    if (argc >= 2 && argv[1][0] != '-')
        return ps_cli_usage_error(cmd,
                                  "unknown action '%s'; expected list, show, export or "
                                  "delete",
                                  argv[1]);
    return PS_EXIT_USAGE;
}

/* Opens what the action reads and runs it. */
static int run(action a, quarantine_opts *o, const ps_opt_list *args, ps_quarantine_filter *f)
{
    qctx q;
    ps_buf file;
    ps_store *st = NULL;
    ps_errmsg em;
    int rc = PS_EXIT_OK;
    char *path = ps_cli_database_path(cmd, o->db, o->config, &rc);
    ps_buf_init(&file);
    memset(&q, 0, sizeof q);
    q.o = o;
    q.out = stdout;
    q.file = a == ACT_EXPORT && o->output ? &file : NULL;
    if (!path)
        return rc;
    if (ps_store_create(path, PS_STORE_READER, &st, &em) != PS_OK ||
        ps_store_counters_list(st, &q.devs.c, &q.devs.n, &em) != PS_OK) {
        fprintf(stderr, "podstream %s: %s\n", cmd, em.text);
        rc = PS_EXIT_FAILURE;
    } else if (a == ACT_DELETE) {
        rc = run_delete(path, st, o, args, f);
    } else {
        if (a == ACT_SHOW)
            (void)parse_id(args->v[0], &f->id);
        f->limit = a == ACT_LIST ? (size_t)o->limit : 0;
        rc = run_read(a, st, &q, f);
    }
    /* Payloads are mail data: the file is the owner's only, as the database is. */
    if (rc == PS_EXIT_OK && q.file &&
        ps_plat_write_file_atomic(o->output, file.p ? file.p : "", file.len, 0600, false, &em) !=
            PS_OK) {
        fprintf(stderr, "podstream %s: %s\n", cmd, em.text);
        rc = PS_EXIT_FAILURE;
    }
    ps_buf_deinit(&file);
    free(q.devs.c);
    ps_store_destroy(st);
    free(path);
    return rc;
}

int ps_cmd_quarantine(int argc, char **argv)
{
    quarantine_opts o;
    ps_opt_list args = {NULL, 0};
    ps_quarantine_filter f;
    action a = ACT_LIST;
    int rc = parse_action(argc, argv, &a);
    bool has_action = rc == PS_CLI_RUN;

    memset(&o, 0, sizeof o);
    o.limit = 100;
    /* Without an action, options are still parsed so that --help and --version work. */
    if (rc == PS_CLI_RUN || (argc < 2 || argv[1][0] == '-'))
        rc = ps_cli_parse(&ps_cmd_quarantine_opts, argc - has_action, argv + has_action, &o, &args);
    if (rc == PS_CLI_RUN && !has_action)
        rc = ps_cli_usage_error(cmd, "expected an action: list, show, export or delete");
    if (rc == PS_CLI_RUN)
        rc = check_args(a, &o, &args);
    if (rc == PS_CLI_RUN)
        rc = make_filter(&o, &f);
    if (rc == PS_CLI_RUN)
        rc = run(a, &o, &args, &f);
    ps_opt_list_free(&args);
    return rc;
}
