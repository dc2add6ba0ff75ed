/* out_drive: runs one output plugin as the framework would (create, deliver batches
 * in id order, honour RETRY and delivered_id, destroy), on events from a file, so
 * that a plugin can be tested against its receiver without the service around it.
 *
 * Usage: out_drive CONFIG.yml EVENTS [--batch N] [--max-failures N] [--limit-events N]
 *   CONFIG.yml: `output:` the common settings (name, type, tls ...), `options:` the
 *   plugin's own.
 *   EVENTS: one event a line, "<type>\t<device id>\t<event JSON>"; ids are line numbers.
 * Prints one line per deliver call: "DELIVERED <id>", "RETRY <id> <ms> <message>",
 * "FAILED <id> <message>"; then "DONE <id>". Exits 0 when every event was delivered,
 * 3 after --max-failures consecutive failed calls (default 10), 2 on bad input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "podstream/ps_event.h"
#include "podstream/ps_output.h"
#include "podstream/ps_platform.h"
#include "podstream/ps_schema.h"
#include "podstream/ps_secret.h"
#include "podstream/ps_yaml.h"

typedef struct drive_events {
    ps_output_event *ev;
    size_t n, cap;
} drive_events;

static int load_events(const char *path, drive_events *out)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;

    if (!f)
        return -1;
    while ((len = getline(&line, &cap, f)) > 0) {
        char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        ps_event ev;
        ps_data_type type;
        ps_output_event *e;

        if (!t2)
            continue;
        *t1 = *t2 = '\0';
        if (line[len - 1] == '\n')
            line[--len] = '\0';
        if (ps_data_type_parse(line, &type) != PS_OK)
            continue;
        ps_event_init(&ev);
        if (ps_event_parse(&ev, type, t2 + 1, strlen(t2 + 1), NULL) != PS_OK) {
            ps_event_deinit(&ev);
            continue;
        }
        if (out->n == out->cap) {
            out->cap = out->cap ? out->cap * 2 : 256;
            out->ev = realloc(out->ev, out->cap * sizeof *out->ev);
        }
        e = &out->ev[out->n++];
        memset(e, 0, sizeof *e);
        e->id = (int64_t)out->n;
        e->device_id = atoll(t1 + 1);
        e->device_name = "drive";
        e->type = type;
        e->ts_us = ev.ts_us;
        e->key = strdup(ev.key);
        e->json = strdup(t2 + 1);
        e->json_len = strlen(e->json);
        e->part = e->parts = 1;
        ps_event_deinit(&ev);
    }
    free(line);
    fclose(f);
    return 0;
}

typedef struct drive_cfg {
    ps_yaml_doc *doc;
    ps_output_settings s;
    void *options;
    const ps_output_plugin *p;
} drive_cfg;

static int load_config(const char *path, drive_cfg *c)
{
    ps_diag diag;
    ps_schema_ctx ctx = {.diag = &diag, .file = path, .config_dir = ".", .state_dir = "."};
    int rc = 0;

    ps_diag_init(&diag);
    if (ps_yaml_load_file(path, path, &c->doc, &diag) != PS_OK) {
        rc = -1;
        goto cleanup;
    }
    ps_schema_parse(ps_output_common_options(), ps_yaml_map_get(ps_yaml_doc_root(c->doc), "output"),
                    &c->s, "output", &ctx);
    c->p = c->s.type ? ps_output_plugin_find(c->s.type) : NULL;
    if (!c->p) {
        fprintf(stderr, "out_drive: no plugin '%s'\n", c->s.type ? c->s.type : "");
        rc = -1;
        goto cleanup;
    }
    c->options = calloc(1, c->p->options_size);
    ps_schema_parse(c->p->options, ps_yaml_map_get(ps_yaml_doc_root(c->doc), "options"), c->options,
                    "options", &ctx);
    if (ps_diag_has_errors(&diag))
        rc = -1;
cleanup:
    ps_diag_print(&diag, stderr);
    ps_diag_deinit(&diag);
    return rc;
}

static size_t batch_end(const drive_events *evs, size_t from, const ps_output_limits *lim,
                        size_t max_events)
{
    size_t bytes = 0, i = from;
    if (lim->max_batch_events && lim->max_batch_events < max_events)
        max_events = lim->max_batch_events;
    while (i < evs->n && i - from < max_events) {
        if (i > from && lim->max_batch_bytes && bytes + evs->ev[i].json_len > lim->max_batch_bytes)
            break;
        bytes += evs->ev[i++].json_len;
    }
    return i;
}

static int drive(drive_cfg *c, drive_events *evs, size_t max_events, int max_failures)
{
    ps_secret_ctx sctx;
    ps_output_env env = {.settings = &c->s, .secrets = &sctx, .state_dir = "."};
    ps_output_limits lim = {c->p->max_batch_events, c->p->max_batch_bytes, c->p->max_event_bytes};
    void *inst = NULL;
    ps_errmsg em = {{0}};
    size_t from = 0;
    int failures = 0, rc = 0;

    ps_secret_ctx_init(&sctx, NULL, NULL);
    if (c->p->create(&env, c->options, &lim, &inst, &em) != PS_OK) {
        fprintf(stderr, "out_drive: create: %s\n", em.text);
        ps_secret_ctx_deinit(&sctx);
        return 2;
    }
    while (from < evs->n) {
        size_t end = batch_end(evs, from, &lim, max_events);
        ps_output_batch b = {.events = &evs->ev[from],
                             .count = end - from,
                             .deadline_ms = ps_plat_mono_ms() + 60000};
        ps_output_result res;
        memset(&res, 0, sizeof res);
        for (size_t i = from; i < end; i++)
            b.bytes += evs->ev[i].json_len;
        c->p->deliver(inst, &b, &res);
        if (res.delivered_id > 0)
            from = (size_t)res.delivered_id;
        if (res.status == PS_OUTPUT_DELIVERED) {
            printf("DELIVERED %lld\n", (long long)res.delivered_id);
            failures = 0;
        } else {
            printf("%s %lld %lld %s\n", res.status == PS_OUTPUT_RETRY ? "RETRY" : "FAILED",
                   (long long)res.delivered_id, (long long)res.retry_after_ms, res.message);
            if (++failures >= max_failures) {
                rc = 3;
                break;
            }
            ps_plat_sleep_ms(res.retry_after_ms > 0 ? res.retry_after_ms : 200);
        }
        fflush(stdout);
    }
    printf("DONE %zu\n", from);
    c->p->destroy(inst);
    ps_secret_ctx_deinit(&sctx);
    return rc;
}

int main(int argc, char **argv)
{
    drive_cfg c = {0};
    drive_events evs = {0};
    size_t max_events = 500;
    int max_failures = 10, rc;

    if (argc < 3) {
        fprintf(stderr, "usage: out_drive CONFIG.yml EVENTS [--batch N] [--max-failures N]\n");
        return 2;
    }
    for (int i = 3; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--batch") == 0)
            max_events = (size_t)atoll(argv[i + 1]);
        else if (strcmp(argv[i], "--max-failures") == 0)
            max_failures = atoi(argv[i + 1]);
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (load_config(argv[1], &c) != 0 || load_events(argv[2], &evs) != 0)
        rc = 2;
    else
        rc = drive(&c, &evs, max_events, max_failures);
    for (size_t i = 0; i < evs.n; i++) {
        free((char *)evs.ev[i].key);
        free((char *)evs.ev[i].json);
    }
    free(evs.ev);
    if (c.p)
        ps_schema_free(c.p->options, c.options);
    free(c.options);
    ps_schema_free(ps_output_common_options(), &c.s);
    ps_yaml_doc_destroy(c.doc);
    curl_global_cleanup();
    return rc;
}
