/* podstream pipeline: try pipelines on events before deploying them, and list them.
 *
 *   podstream pipeline test --pipeline NAME [EVENTS] events from a JSONL file or stdin
 *   podstream pipeline list                          what is defined, and who uses it
 *
 * `test` does to each event what a worker of the service does: parse the frame
 * (ps_event), run the pipelines, and check that the result can still be stored. It
 * prints one status line per event, the resulting JSON under it for kept events (the
 * exact bytes the service would store), and a summary. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "podstream/ps_config.h"
#include "podstream/ps_diag.h"
#include "podstream/ps_event.h"
#include "podstream/ps_mem.h"
#include "podstream/ps_pipeline.h"
#include "podstream/ps_platform.h"
#include "podstream/ps_schema.h"
#include "podstream/ps_secret.h"
#include "podstream/ps_yaml.h"

static const char *const cmd = "pipeline";

typedef struct pipeline_opts {
    ps_opt_list pipelines;
    const char *device;
    const char *config;
    ps_opt_list files;
    int type; /* index in `types`, or -1 for the device's (else message) */
    const char *secrets_dir;
    bool quiet;
} pipeline_opts;

static const ps_data_type types[] = {PS_DATA_MESSAGE, PS_DATA_MAILLOG, PS_DATA_AUDIT};

/* -F, not -f, for the file: -f is --follow in every command that has a letter
 * for it. */
static const ps_opt options[] = {
    {"pipeline", 0, PS_OPT_LIST, "NAME", offsetof(pipeline_opts, pipelines),
     "pipeline to run; repeat to chain several, in order", NULL, 0, 0, NULL},
    {"device", 0, PS_OPT_STRING, "ID", offsetof(pipeline_opts, device),
     "run the pipelines of this device, as configured", NULL, 0, 0, NULL},
    {"config", 'c', PS_OPT_STRING, "DIR", offsetof(pipeline_opts, config),
     "configuration directory (default:\n$PODSTREAM_CONFIG_DIR, else {config_dir})", NULL, 0, 0,
     NULL},
    {"file", 'F', PS_OPT_LIST, "FILE", offsetof(pipeline_opts, files),
     "read pipelines from this YAML file instead of the\n"
     "configuration (repeatable); for a pipeline not\n"
     "deployed yet",
     NULL, 0, 0, NULL},
    {"type", 0, PS_OPT_CHOICE, "TYPE", offsetof(pipeline_opts, type),
     "message, maillog or audit (default: the device's type,\nelse message)", NULL, 0, 0,
     "message|maillog|audit"},
    {"secrets-dir", 0, PS_OPT_STRING, "DIR", offsetof(pipeline_opts, secrets_dir),
     "where $secret{name} redaction keys live when using -F", NULL, 0, 0, NULL},
    {"quiet", 'q', PS_OPT_FLAG, NULL, offsetof(pipeline_opts, quiet),
     "print only the JSON of kept events (JSON Lines), no\nstatus or summary", NULL, 0, 0, NULL},
};

const ps_opt_cmd ps_cmd_pipeline_opts = {
    "pipeline",
    "try pipelines on sample events, or list them",
    "test (--pipeline NAME... | --device ID)\n"
    "      [-c DIR | -F FILE...] [--type TYPE]\n"
    "      [--secrets-dir DIR] [-q] [EVENTS]\n"
    "list [-c DIR | -F FILE...]",
    "test  runs pipelines on events, one JSON object per line, read from the file\n"
    "      EVENTS or from standard input, exactly as the service would before storing\n"
    "      them. For each event it prints a status line (kept, dropped and by which\n"
    "      processor, or failed and why) and, for kept events, the JSON the service\n"
    "      would store. A summary line ends the output.\n"
    "list  prints every pipeline with its processor count, where it is defined and\n"
    "      which devices use it.",
    options,
    sizeof options / sizeof options[0],
    "A line longer than max_frame_size is reported and skipped.\n"
    "Exit codes: 0 every event kept or dropped, 1 some event failed, was not a\n"
    "valid event or was too long, 2 usage error, 3 invalid pipelines or\n"
    "configuration.",
    0,
};

/* Pipelines and, with a configuration, devices. */
typedef struct loaded {
    ps_config *cfg;
    ps_yaml_doc **docs;
    ps_config_pipeline_file *files;
    size_t nfiles;
    ps_pipeline_set *set;
} loaded;

static void loaded_free(loaded *l)
{
    ps_pipeline_set_destroy(l->set);
    for (size_t i = 0; i < l->nfiles; i++)
        ps_yaml_doc_destroy(l->docs[i]);
    free(l->docs);
    free(l->files);
    ps_config_destroy(l->cfg);
    memset(l, 0, sizeof *l);
}

/* Loads and compiles; prints the diagnostics. Returns an exit code. */
static int load(loaded *l, const char *dir, const char *const *files, size_t nfiles,
                const char *secrets_dir)
{
    ps_diag diag;
    ps_err err = PS_OK;
    int rc = PS_EXIT_OK;

    memset(l, 0, sizeof *l);
    ps_diag_init(&diag);
    if (nfiles) {
        ps_secret_ctx sctx;
        l->docs = calloc(nfiles, sizeof(ps_yaml_doc *));
        l->files = calloc(nfiles, sizeof(ps_config_pipeline_file));
        if (!l->docs || !l->files) {
            fprintf(stderr, "podstream %s: out of memory\n", cmd);
            ps_diag_deinit(&diag);
            loaded_free(l);
            return PS_EXIT_FAILURE;
        }
        for (size_t i = 0; i < nfiles; i++) {
            ps_yaml_doc *doc = NULL;
            if (ps_yaml_load_file(files[i], NULL, &doc, &diag) != PS_OK || !doc)
                continue;
            l->docs[l->nfiles] = doc;
            l->files[l->nfiles].doc = doc;
            l->files[l->nfiles].list = ps_yaml_doc_root(doc);
            l->nfiles++;
        }
        if (!ps_diag_has_errors(&diag)) {
            ps_pipeline_set *set = NULL;
            ps_secret_ctx_init(&sctx, secrets_dir, NULL);
            err = ps_pipeline_set_compile(l->files, l->nfiles, NULL, 0, &sctx, &set, &diag);
            ps_secret_ctx_deinit(&sctx);
            l->set = set;
        }
    } else {
        err = ps_config_load(dir, &l->cfg, &diag);
        if (err == PS_OK)
            err = ps_pipeline_set_create(l->cfg, &l->set, &diag);
    }
    ps_diag_sort(&diag);
    ps_diag_print(&diag, stderr);
    if (err == PS_ERR_NOMEM) {
        rc = PS_EXIT_FAILURE;
    } else if (ps_diag_has_errors(&diag) || !l->set) {
        fprintf(stderr, "podstream %s: %zu error%s; fix the %s first\n", cmd, diag.errors,
                diag.errors == 1 ? "" : "s", nfiles ? "pipeline files" : "configuration");
        rc = PS_EXIT_CONFIG;
    }
    ps_diag_deinit(&diag);
    if (rc != PS_EXIT_OK)
        loaded_free(l);
    return rc;
}

/* ---- list ---------------------------------------------------------------------- */

static int cmd_list(const loaded *l)
{
    size_t n = ps_pipeline_set_count(l->set);
    int wname = 4, wwhere = 5;
    char where[600];

    if (n == 0) {
        printf("no pipelines are defined\n");
        return PS_EXIT_OK;
    }
    for (size_t i = 0; i < n; i++) {
        const ps_pipeline *p = ps_pipeline_set_at(l->set, i);
        ps_config_pos pos = ps_pipeline_pos(p);
        int w = snprintf(where, sizeof where, "%s:%d", pos.file, pos.line);
        if ((int)strlen(ps_pipeline_name(p)) > wname)
            wname = (int)strlen(ps_pipeline_name(p));
        if (w > wwhere)
            wwhere = w;
    }
    printf("%-*s  %10s  %-*s  %-10s  %s\n", wname, "NAME", "PROCESSORS", wwhere, "WHERE", "DEVICES",
           "DESCRIPTION");
    for (size_t i = 0; i < n; i++) {
        const ps_pipeline *p = ps_pipeline_set_at(l->set, i);
        ps_config_pos pos = ps_pipeline_pos(p);
        char devs[256] = "-";
        size_t o = 0;
        for (size_t d = 0; l->cfg && d < l->cfg->ndevices; d++) {
            const ps_device *dev = &l->cfg->devices[d];
            bool uses = false;
            for (size_t k = 0; !uses && k < dev->npipelines; k++)
                uses = strcmp(dev->pipelines[k], ps_pipeline_name(p)) == 0;
            if (uses && o < sizeof devs - 24)
                o += (size_t)snprintf(devs + o, sizeof devs - o, "%s%lld", o ? "," : "", dev->id);
        }
        snprintf(where, sizeof where, "%s:%d", pos.file, pos.line);
        printf("%-*s  %10zu  %-*s  %-10s  %s\n", wname, ps_pipeline_name(p),
               ps_pipeline_processor_count(p), wwhere, where, devs,
               ps_pipeline_description(p) ? ps_pipeline_description(p) : "");
    }
    return PS_EXIT_OK;
}

/* ---- test ---------------------------------------------------------------------- */

typedef struct counts {
    size_t events, kept, changed, dropped, failed, invalid, too_long;
} counts;

typedef struct tester {
    const ps_pipeline_chain *chain;
    const ps_device *dev; /* NULL with --pipeline */
    ps_data_type type;
    bool quiet;
    ps_pipeline_result res;
    counts n;
} tester;

static void status(const tester *t, size_t line, const char *fmt, ...) PS_PRINTF(3, 4);

static void status(const tester *t, size_t line, const char *fmt, ...)
{
    va_list ap;
    if (t->quiet)
        return;
    printf("line %zu: ", line);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

/* One input line. Returns false only when out of memory. */
static bool test_one(tester *t, size_t line, const char *data, size_t len)
{
    ps_event ev;
    ps_errmsg em;
    ps_err err;
    char *out = NULL, *tags = NULL;
    const char *stored = data;
    bool ok = true;

    t->n.events++;
    ps_event_init(&ev);
    err = ps_event_parse(&ev, t->type, data, len, &em);
    if (err == PS_OK)
        err = ps_event_extract(&ev, &em);
    if (err != PS_OK) {
        t->n.invalid++;
        status(t, line, "not a %s event: %s (the service quarantines it before pipelines)",
               ps_data_type_name(t->type), em.text);
        goto done;
    }
    err = ps_pipeline_chain_run(t->chain, ev.root, &t->res);
    if (err == PS_ERR_NOMEM) {
        ok = false;
        goto done;
    }
    if (t->res.outcome == PS_PIPELINE_DROPPED) {
        t->n.dropped++;
        status(t, line, "%s", t->res.message);
        goto done;
    }
    if (t->res.outcome == PS_PIPELINE_FAILED) {
        t->n.failed++;
        status(t, line, "failed: %s", t->res.message);
        goto done;
    }
    if (t->res.modified) {
        if (!(out = cJSON_PrintUnformatted(ev.root))) {
            ok = false;
            goto done;
        }
        stored = out;
        len = strlen(out);
        err = ps_event_extract(&ev, &em);
        if (err != PS_OK) {
            t->n.failed++;
            status(t, line, "failed: the changed event cannot be stored: %s", em.text);
            if (!t->quiet)
                printf("%s\n", stored);
            goto done;
        }
    }
    t->n.kept++;
    t->n.changed += t->res.modified;
    if (t->res.ntags || (t->dev && t->dev->ntags)) {
        tags = ps_pipeline_tags_json(t->dev ? t->dev->tags : NULL, t->dev ? t->dev->ntags : 0,
                                     &t->res);
        if (!tags) {
            ok = false;
            goto done;
        }
    }
    status(t, line, "kept, %s%s%s", t->res.modified ? "changed" : "unchanged",
           tags ? ", tags " : "", tags ? tags : "");
    fwrite(stored, 1, len, stdout);
    putchar('\n');
done:
    fflush(stdout);
    cJSON_free(out);
    free(tags);
    ps_event_deinit(&ev);
    return ok;
}

typedef enum line_rc { LINE_OK, LINE_END, LINE_TOO_LONG, LINE_NOMEM } line_rc;

/* Reads one line, without its end, into b. Only the first cap + 1 bytes are kept
 * and the rest of a longer line is read and thrown away, so that an input without
 * line ends (/dev/zero) costs at most about cap bytes of memory, not its size. */
static line_rc read_line(FILE *in, size_t cap, ps_buf *b)
{
    int c;
    bool any = false, over = false;

    b->len = 0;
    while ((c = getc(in)) != EOF) {
        any = true;
        if (c == '\n')
            break;
        if (b->len > cap) {
            over = true;
            continue;
        }
        if (ps_buf_putc(b, (char)c) != PS_OK)
            return LINE_NOMEM;
    }
    if (!any)
        return LINE_END;
    while (b->len && b->p[b->len - 1] == '\r')
        b->len--;
    return over || b->len > cap ? LINE_TOO_LONG : LINE_OK;
}

/* "64MiB", "1536KiB" or "1000000 bytes": a size as podstream.yml would say it. */
static void size_text(uint64_t n, char *out, size_t len)
{
    if (n && n % (1024 * 1024) == 0)
        snprintf(out, len, "%lluMiB", (unsigned long long)(n / (1024 * 1024)));
    else if (n && n % 1024 == 0)
        snprintf(out, len, "%lluKiB", (unsigned long long)(n / 1024));
    else
        snprintf(out, len, "%llu bytes", (unsigned long long)n);
}

static void print_summary(const tester *t)
{
    printf("%zu event%s: %zu kept (%zu changed), %zu dropped, %zu failed", t->n.events,
           t->n.events == 1 ? "" : "s", t->n.kept, t->n.changed, t->n.dropped, t->n.failed);
    if (t->n.invalid)
        printf(", %zu not %s events", t->n.invalid, ps_data_type_name(t->type));
    if (t->n.too_long)
        printf(", %zu over max_frame_size", t->n.too_long);
    putchar('\n');
}

/* A line over the cap is reported and skipped, and the next line is tested: the
 * command is for finding every problem in a sample in one run. */
static int run_tests(tester *t, FILE *in, const char *name, size_t cap)
{
    ps_buf buf;
    size_t line = 0;
    line_rc got;
    char captext[32];
    int rc = PS_EXIT_OK;

    ps_buf_init(&buf);
    size_text(cap, captext, sizeof captext);
    while ((got = read_line(in, cap, &buf)) != LINE_END) {
        size_t len = buf.len, sp = 0;
        line++;
        if (got == LINE_TOO_LONG) {
            t->n.events++;
            t->n.too_long++;
            fflush(stdout);
            fprintf(stderr,
                    "podstream %s: %s, line %zu: longer than max_frame_size (%s), the largest "
                    "event the service accepts; skipped\n",
                    cmd, name, line, captext);
            continue;
        }
        while (sp < len && (buf.p[sp] == ' ' || buf.p[sp] == '\t'))
            sp++;
        if (got == LINE_NOMEM || (sp < len && !test_one(t, line, buf.p, len))) {
            fprintf(stderr, "podstream %s: out of memory at line %zu\n", cmd, line);
            ps_buf_deinit(&buf);
            return PS_EXIT_FAILURE;
        }
    }
    if (ferror(in)) {
        fprintf(stderr, "podstream %s: reading %s: %s\n", cmd, name, strerror(errno));
        rc = PS_EXIT_FAILURE;
    }
    ps_buf_deinit(&buf);
    if (!t->quiet)
        print_summary(t);
    if (rc == PS_EXIT_OK && (t->n.failed || t->n.invalid || t->n.too_long))
        rc = PS_EXIT_FAILURE;
    return rc;
}

/* The largest line `test` reads: max_frame_size as configured, else its default.
 * 0 when out of memory. */
static size_t frame_cap(const loaded *l)
{
    ps_service_settings s;
    ps_diag diag;
    ps_schema_ctx ctx = {&diag, "", NULL, NULL};
    size_t cap = 0;

    if (l->cfg)
        return (size_t)l->cfg->service.max_frame_bytes;
    memset(&s, 0, sizeof s);
    ps_diag_init(&diag);
    if (ps_schema_defaults(ps_schema_service(), &s, &ctx) == PS_OK)
        cap = (size_t)s.max_frame_bytes;
    ps_schema_free(ps_schema_service(), &s);
    ps_diag_deinit(&diag);
    return cap;
}

static int cmd_test(const loaded *l, const pipeline_opts *o, const char *input)
{
    tester t;
    ps_pipeline_chain *own = NULL;
    FILE *in = stdin;
    ps_errmsg em;
    long long id, min, max;
    size_t cap;
    int rc;

    memset(&t, 0, sizeof t);
    t.quiet = o->quiet;
    t.type = PS_DATA_MESSAGE;
    if (o->device) {
        (void)ps_cli_device_id(o->device, &id, &min, &max);        /* checked when parsed */
        t.dev = l->cfg ? ps_config_find_device(l->cfg, id) : NULL; /* -F: no devices */
        if (!t.dev) {
            fprintf(stderr, "podstream %s: no device with id %lld in %s\n", cmd, id,
                    l->cfg ? l->cfg->dir : "the pipeline files");
            return PS_EXIT_FAILURE;
        }
        t.type = t.dev->props.type;
        t.chain = ps_pipeline_set_device_chain(l->set, id);
        if (!t.chain && !o->quiet)
            printf("device %lld (%s) has no pipelines: events are stored as they are\n", id,
                   t.dev->name);
    } else {
        if (ps_pipeline_chain_create(l->set, o->pipelines.v, o->pipelines.n, &own, &em) != PS_OK) {
            fprintf(stderr, "podstream %s: %s\n", cmd, em.text);
            return PS_EXIT_CONFIG;
        }
        t.chain = own;
    }
    if (o->type >= 0)
        t.type = types[o->type];
    if (input && strcmp(input, "-") != 0 && !(in = fopen(input, "r"))) {
        fprintf(stderr, "podstream %s: cannot open %s: %s\n", cmd, input, strerror(errno));
        ps_pipeline_chain_destroy(own);
        return PS_EXIT_FAILURE;
    }
    ps_pipeline_result_init(&t.res);
    if (!(cap = frame_cap(l))) {
        fprintf(stderr, "podstream %s: out of memory\n", cmd);
        rc = PS_EXIT_FAILURE;
    } else {
        rc = run_tests(&t, in, input && in != stdin ? input : "standard input", cap);
    }
    ps_pipeline_result_deinit(&t.res);
    if (in != stdin)
        fclose(in);
    ps_pipeline_chain_destroy(own);
    return rc;
}

/* What the table cannot say: which options go together. Returns PS_CLI_RUN, or
 * the exit code of a usage error (printed). */
static int check_options(bool list, const pipeline_opts *o, const ps_opt_list *args)
{
    long long id, min, max;
    if (list && (args->n || o->pipelines.n || o->device || o->type >= 0 || o->quiet))
        return ps_cli_usage_error(cmd, "list takes only -c DIR or -F FILE");
    if (!list && (o->pipelines.n > 0) == (o->device != NULL))
        return ps_cli_usage_error(cmd, "test needs --pipeline NAME or --device ID (one of them)");
    if (!list && args->n > 1)
        return ps_cli_usage_error(cmd, "test reads one events file; unexpected '%s'", args->v[1]);
    if (o->files.n && o->config)
        return ps_cli_usage_error(cmd, "use -c DIR or -F FILE, not both");
    if (o->files.n && o->device)
        return ps_cli_usage_error(cmd, "--device needs the configuration (-c DIR), not -F");
    if (o->secrets_dir && !o->files.n)
        return ps_cli_usage_error(cmd, "--secrets-dir is for -F; with -c the configuration's "
                                       "secrets_dir is used");
    if (o->device && !ps_cli_device_id(o->device, &id, &min, &max))
        return ps_cli_usage_error(cmd,
                                  "--device: '%s' is not a device id (a whole number from "
                                  "%lld to %lld)",
                                  o->device, min, max);
    return PS_CLI_RUN;
}

int ps_cmd_pipeline(int argc, char **argv)
{
    pipeline_opts o;
    ps_opt_list args = {NULL, 0};
    /* The action comes first; without one, options are still parsed so that
     * --help and --version work. */
    bool has_action = argc >= 2 && argv[1][0] != '-';
    const char *action = has_action ? argv[1] : NULL;
    bool list = action && strcmp(action, "list") == 0;
    loaded l;
    int rc;

    memset(&o, 0, sizeof o);
    o.type = -1;
    if (has_action && strcmp(action, "test") != 0 && strcmp(action, "list") != 0)
        return ps_cli_usage_error(cmd, "unknown action '%s'; expected test or list", action);
    rc = ps_cli_parse(&ps_cmd_pipeline_opts, argc - has_action, argv + has_action, &o, &args);
    if (rc == PS_CLI_RUN && !action)
        rc = ps_cli_usage_error(cmd, "expected an action: test or list");
    else if (rc == PS_CLI_RUN)
        rc = check_options(list, &o, &args);
    if (rc != PS_CLI_RUN)
        goto out;
    rc = load(&l, ps_cli_config_dir(o.config), o.files.v, o.files.n, o.secrets_dir);
    if (rc != PS_EXIT_OK)
        goto out;
    if (list)
        rc = cmd_list(&l);
    else
        rc = cmd_test(&l, &o, args.n ? args.v[0] : NULL);
    loaded_free(&l);
out:
    ps_opt_free(&ps_cmd_pipeline_opts, &o);
    ps_opt_list_free(&args);
    return rc;
}
