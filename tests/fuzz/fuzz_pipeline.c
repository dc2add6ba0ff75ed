/* libFuzzer target for the pipeline processors. Two modes:
 *
 *  - an input that starts with '{' is an event: each pipeline of PIPELINES (every
 *    processor type, with conditions, templates, on_failure handlers and paths
 *    into lists and odd keys, plus recipes of docs/pipelines.md) runs on its
 *    own copy of it, then the kept and changed tree goes through what the worker
 *    does next: printed and parsed again as an event;
 *  - any other input is a pipeline file: when it compiles (redaction keys from
 *    ${PS_FUZZ_REDACT_KEY}), each of its pipelines runs on a sample message.
 *
 * Besides memory errors the contract is checked: an outcome is one of three, a
 * dropped or failed event names its pipeline and a reason, a kept event that was
 * not modified is unchanged, and every tree a pipeline leaves prints as JSON. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_event.h"
#include "podstream/ps_pipeline.h"
#include "podstream/ps_yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_INPUT (128u * 1024u)

static const char PIPELINES[] =
    "- name: edit\n"
    "  processors:\n"
    "    - set: {field: event.provider, value: \"pod-{{guid}}-{{msg.header.subject[0]}}\"}\n"
    "    - set: {field: 'o[\"dotted.key\"].n', value: [1, {a: null}], override: false}\n"
    "    - set: {field: copy.from, copy_from: envelope.rcpts, ignore_missing: true}\n"
    "    - set: {field: ingest, copy_from: _ingest.on_failure_message, ignore_missing: true}\n"
    "    - set: {field: 'envelope.rcpts[-1]', value: last, ignore_empty_value: true,\n"
    "            ignore_failure: true}\n"
    "    - append: {field: tags, value: [a, '{{sm.qid}}', a], allow_duplicates: false}\n"
    "    - append: {field: envelope.from, value: x@y, ignore_failure: true}\n"
    "    - lowercase: {field: envelope.rcpts, ignore_missing: true, ignore_failure: true}\n"
    "    - uppercase: {field: filter.disposition, target_field: disp, ignore_missing: true,\n"
    "                  ignore_failure: true}\n"
    "    - trim: {field: 'msg.header[\"subject\"]', ignore_missing: true, ignore_failure: true}\n"
    "    - convert: {field: sm.pri, type: int, ignore_missing: true,\n"
    "                on_failure: [{set: {field: bad, value: '{{_ingest.on_failure_message}}'}}]}\n"
    "    - convert: {field: filter.msgSizeBytes, type: string, target_field: size,\n"
    "                ignore_missing: true, ignore_failure: true}\n"
    "    - convert: {field: 'filter.actions[0].isFinal', type: bool, ignore_missing: true,\n"
    "                ignore_failure: true}\n"
    "    - convert: {field: 'filter.modules.spam.scores.overall', type: float,\n"
    "                ignore_missing: true, ignore_failure: true}\n"
    "    - copy: {field: connection, target_field: connection.copy, ignore_missing: true}\n"
    "    - rename: {field: sm.to, target_field: sm.rcpt, ignore_missing: true, override: true}\n"
    "    - remove: {field: [connection.tls, 'msg.parts[0]'], ignore_missing: true}\n"
    "    - tag: {tags: ['{{filter.routeDirection}}', vip], if: \"envelope?.from != nil\"}\n"
    "- name: hash\n"
    "  processors:\n"
    "    - redact: {field: [envelope.rcpts, envelope.from, msg.header.to], part: local,\n"
    "               key: '${PS_FUZZ_REDACT_KEY}', ignore_missing: true, ignore_failure: true}\n"
    "    - redact: {field: ['msg.header[\"message-id\"]'], mode: hash, length: 8,\n"
    "               key: '${PS_FUZZ_REDACT_KEY}', ignore_missing: true, ignore_failure: true}\n"
    "    - redact: {field: [envelope.from, sm.from], part: domain, mode: mask,\n"
    "               replacement: '#', ignore_missing: true, ignore_failure: true}\n"
    "    - redact: {field: msg.header.subject, mode: mask, ignore_missing: true}\n"
    "- name: decide\n"
    "  processors:\n"
    "    - drop: {if: \"any(filter?.actions ?? [], .module == 'spam')\", tag: spam}\n"
    "    - fail: {if: \"sm?.stat == nil && guid == nil\", message: 'no status in {{id}}'}\n"
    "    - rename: {field: a, target_field: b, ignore_missing: true, ignore_failure: true}\n"
    "- name: drop_cron_noise\n"
    "  if: \"filter?.routeDirection != nil\"\n"
    "  processors:\n"
    "    - drop:\n"
    "        if: \"filter.routeDirection == 'outbound' && msg.header.subject?.[0] startsWith "
    "'Cron'\"\n"
    "        tag: cron\n"
    "- name: tag_vip_senders\n"
    "  processors:\n"
    "    - tag:\n"
    "        if: \"lower(envelope?.from) in ['mailive@example.com', 'ceo@example.com']\"\n"
    "        tags: [vip]\n"
    "- name: drop_delivered_maillog\n"
    "  processors:\n"
    "    - drop: {if: \"sm?.stat startsWith 'Sent'\"}\n";

static const char SAMPLE[] =
    "{\"guid\":\"g1\",\"ts\":\"2024-05-22T12:10:03.058340-0700\",\"envelope\":{\"from\":"
    "\"Pps@Example.com\",\"rcpts\":[\"a@x.com\",\"\\\"B\\\" <b@y.com>\"]},\"filter\":"
    "{\"routeDirection\":\"outbound\",\"actions\":[{\"module\":\"access\",\"isFinal\":true}],"
    "\"msgSizeBytes\":1127},\"msg\":{\"header\":{\"subject\":[\" Cron job \"],"
    "\"message-id\":[\"<id@x>\"]}},\"sm\":{\"pri\":\"120812\",\"qid\":\"Q1\"}}";

static ps_pipeline_set *fixed;
static ps_pipeline_result res;

static void check(bool ok)
{
    if (!ok)
        abort();
}

/* Compiles one pipeline file; NULL when it does not compile (then, with `verbose`,
 * says why on stderr). */
static ps_pipeline_set *compile(const char *name, const char *text, size_t len, bool verbose)
{
    ps_config_pipeline_file file;
    ps_pipeline_set *set = NULL;
    ps_secret_ctx sctx;
    ps_yaml_doc *doc = NULL;
    ps_diag diag;
    ps_err err;

    ps_diag_init(&diag);
    if (ps_yaml_load_buffer(name, text, len, &doc, &diag) == PS_OK) {
        file.doc = doc;
        file.list = ps_yaml_doc_root(doc);
        ps_secret_ctx_init(&sctx, NULL, NULL);
        err = ps_pipeline_set_compile(&file, 1, NULL, 0, &sctx, &set, &diag);
        ps_secret_ctx_deinit(&sctx);
        check((err == PS_OK) == (set != NULL));
        check((err == PS_OK) == !ps_diag_has_errors(&diag));
    }
    for (size_t i = 0; verbose && i < diag.count; i++) {
        char line[2048];
        ps_diag_format(&diag.items[i], line, sizeof line);
        fprintf(stderr, "%s\n", line);
    }
    ps_yaml_doc_destroy(doc);
    ps_diag_deinit(&diag);
    return set;
}

static void teardown(void)
{
    ps_pipeline_result_deinit(&res);
    ps_pipeline_set_destroy(fixed);
}

static void setup(void)
{
    check(setenv("PS_FUZZ_REDACT_KEY", "fuzz-redaction-key-0123456789", 1) == 0);
    fixed = compile("pipelines/fuzz.yml", PIPELINES, sizeof PIPELINES - 1, true);
    check(fixed != NULL);
    ps_pipeline_result_init(&res);
    atexit(teardown);
}

/* Runs pipeline `name` of `set` on a copy of `event`. */
static void run_one(const ps_pipeline_set *set, const char *name, const cJSON *event)
{
    ps_pipeline_chain *chain = NULL;
    cJSON *copy = cJSON_Duplicate(event, true);
    char *before = cJSON_PrintUnformatted(event), *text;
    ps_errmsg em;
    ps_err err;

    check(copy != NULL && before != NULL);
    check(ps_pipeline_chain_create(set, &name, 1, &chain, &em) == PS_OK);
    err = ps_pipeline_chain_run(chain, copy, &res);
    check(err == PS_OK || err == PS_ERR_NOMEM);
    check(res.outcome <= PS_PIPELINE_FAILED);
    check((res.outcome == PS_PIPELINE_KEPT) == (res.message[0] == '\0'));
    check((res.outcome == PS_PIPELINE_KEPT) == (res.pipeline == NULL));
    text = cJSON_PrintUnformatted(copy);
    check(text != NULL);
    /* Text, not cJSON_Compare: that one calls a tree with duplicate keys unequal to
     * its own copy. */
    if (res.outcome == PS_PIPELINE_KEPT && !res.modified)
        check(strcmp(text, before) == 0);
    if (res.outcome == PS_PIPELINE_KEPT && res.modified) {
        /* What the worker stores: the tree printed, parsed and extracted again. */
        ps_event ev;
        ps_event_init(&ev);
        if (ps_event_parse(&ev, PS_DATA_MESSAGE, text, strlen(text), &em) == PS_OK)
            (void)ps_event_extract(&ev, &em);
        ps_event_deinit(&ev);
    }
    {
        char *tags = ps_pipeline_tags_json(NULL, 0, &res);
        check(tags != NULL);
        free(tags);
    }
    cJSON_free(text);
    cJSON_free(before);
    ps_pipeline_chain_destroy(chain);
    cJSON_Delete(copy);
}

static void run_all(const ps_pipeline_set *set, const cJSON *event)
{
    for (size_t i = 0; i < ps_pipeline_set_count(set); i++)
        run_one(set, ps_pipeline_name(ps_pipeline_set_at(set, i)), event);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;

    if (size > FUZZ_MAX_INPUT)
        return 0;
    if (!fixed)
        setup();
    if (size > 0 && text[0] == '{') {
        cJSON *event = cJSON_ParseWithLength(text, size);
        if (event && cJSON_IsObject(event))
            run_all(fixed, event);
        cJSON_Delete(event);
    } else {
        ps_pipeline_set *set = compile("pipelines/input.yml", text, size, false);
        if (set) {
            cJSON *event = cJSON_Parse(SAMPLE);
            check(event != NULL);
            run_all(set, event);
            cJSON_Delete(event);
        }
        ps_pipeline_set_destroy(set);
    }
    return 0;
}
