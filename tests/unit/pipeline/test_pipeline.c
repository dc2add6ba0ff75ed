/* ps_pipeline: every processor (with missing fields and type mismatches), field
 * paths, templates, failure handling, validation messages with file:line:col, device
 * chains, the real samples, and concurrent runs of one compiled set. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "podstream/ps_pipeline.h"
#include "podstream/ps_platform.h"
#include "podstream/ps_yaml.h"

#define TEST_KEY "test-redaction-key-0123456789"

/* Where $secret{} redaction keys are looked up; made by make_secrets(). */
static char secrets_dir[64];

/* ---- helpers ------------------------------------------------------------------ */

/* The diagnostics as ps_diag_print writes them, one per line. */
static char *diag_text(ps_diag *d)
{
    static char text[8192];
    size_t o = 0;
    ps_diag_sort(d);
    text[0] = '\0';
    for (size_t i = 0; i < d->count; i++) {
        char line[2048];
        ps_diag_format(&d->items[i], line, sizeof line);
        o += (size_t)snprintf(text + o, sizeof text - o, "%s\n", line);
    }
    return text;
}

/* Ends the file list of compile_files: a pointer, as varargs need. */
#define END ((const char *)NULL)

/* Compiles one or more YAML files ("name", "text", ..., END) with optional devices. */
static ps_err compile_files(ps_pipeline_set **out, ps_diag *diag, const ps_device *devs,
                            size_t ndevs, bool secrets, ...)
{
    ps_yaml_doc *docs[8];
    ps_config_pipeline_file files[8];
    size_t n = 0;
    ps_secret_ctx sctx;
    ps_err rc;
    va_list ap;
    const char *name;

    va_start(ap, secrets);
    while ((name = va_arg(ap, const char *)) != NULL) {
        const char *text = va_arg(ap, const char *);
        assert_true(n < 8);
        if (ps_yaml_load_buffer(name, text, strlen(text), &docs[n], diag) != PS_OK)
            fail_msg("YAML of %s does not parse:\n%s", name, diag_text(diag));
        files[n].doc = docs[n];
        files[n].list = ps_yaml_doc_root(docs[n]);
        n++;
    }
    va_end(ap);
    ps_secret_ctx_init(&sctx, secrets_dir[0] ? secrets_dir : NULL, NULL);
    rc = ps_pipeline_set_compile(files, n, devs, ndevs, secrets ? &sctx : NULL, out, diag);
    ps_secret_ctx_deinit(&sctx);
    /* The set keeps nothing of the YAML. */
    for (size_t i = 0; i < n; i++)
        ps_yaml_doc_destroy(docs[i]);
    return rc;
}

static ps_pipeline_set *build(const char *yaml)
{
    ps_pipeline_set *set = NULL;
    ps_diag diag;
    ps_diag_init(&diag);
    if (compile_files(&set, &diag, NULL, 0, true, "pipelines/test.yml", yaml, END) != PS_OK)
        fail_msg("pipelines do not compile:\n%s", diag_text(&diag));
    if (diag.count)
        fail_msg("unexpected diagnostics:\n%s", diag_text(&diag));
    ps_diag_deinit(&diag);
    return set;
}

/* Compiling must fail with exactly `want` (sorted diagnostics, one per line). */
static void expect_invalid(const char *yaml, const char *want)
{
    ps_pipeline_set *set = (ps_pipeline_set *)&set;
    ps_diag diag;
    ps_diag_init(&diag);
    assert_int_equal(compile_files(&set, &diag, NULL, 0, true, "pipelines/test.yml", yaml, END),
                     PS_ERR_INVALID);
    assert_null(set);
    const char *got = diag_text(&diag);
    if (strcmp(got, want) != 0) {
        /* cmocka truncates long messages: print the whole of both. */
        fprintf(stderr, "diagnostics differ\n--- got:\n%s--- want:\n%s", got, want);
        fail();
    }
    ps_diag_deinit(&diag);
}

typedef struct outcome {
    ps_pipeline_outcome outcome;
    bool modified;
    char json[8192];
    char message[512];
    char tags[256];
} outcome;

/* Runs the pipelines `names` (comma-separated) of `set` on the event `in`. */
static void run(ps_pipeline_set *set, const char *names, const char *in, outcome *o)
{
    char buf[256], *save = NULL, *tok;
    const char *list[8];
    size_t n = 0;
    ps_pipeline_chain *chain = NULL;
    ps_pipeline_result res;
    ps_errmsg em;
    cJSON *ev = cJSON_Parse(in);
    char *text, *tags;

    if (!ev)
        fail_msg("test input is not JSON: %s", in);
    snprintf(buf, sizeof buf, "%s", names);
    for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        list[n++] = tok;
    if (ps_pipeline_chain_create(set, list, n, &chain, &em) != PS_OK)
        fail_msg("chain %s: %s", names, em.text);
    ps_pipeline_result_init(&res);
    assert_int_equal(ps_pipeline_chain_run(chain, ev, &res), PS_OK);
    memset(o, 0, sizeof *o);
    o->outcome = res.outcome;
    o->modified = res.modified;
    snprintf(o->message, sizeof o->message, "%s", res.message);
    text = cJSON_PrintUnformatted(ev);
    snprintf(o->json, sizeof o->json, "%s", text);
    cJSON_free(text);
    tags = ps_pipeline_tags_json(NULL, 0, &res);
    snprintf(o->tags, sizeof o->tags, "%s", tags);
    free(tags);
    /* The deciding pipeline is the one the message names. */
    if (res.outcome == PS_PIPELINE_KEPT) {
        assert_null(res.pipeline);
    } else {
        char by[200];
        snprintf(by, sizeof by,
                 res.outcome == PS_PIPELINE_DROPPED ? "dropped by %s " : "pipeline %s",
                 res.pipeline);
        assert_true(strncmp(res.message, by, strlen(by)) == 0);
    }
    ps_pipeline_result_deinit(&res);
    ps_pipeline_chain_destroy(chain);
    cJSON_Delete(ev);
}

static void expect_kept(ps_pipeline_set *set, const char *names, const char *in, const char *want)
{
    outcome o;
    cJSON *w = cJSON_Parse(want);
    char *wtext;
    if (!w)
        fail_msg("expected output is not JSON: %s", want);
    wtext = cJSON_PrintUnformatted(w); /* the same escaping as the output */
    run(set, names, in, &o);
    if (o.outcome != PS_PIPELINE_KEPT)
        fail_msg("%s on %s: not kept: %s", names, in, o.message);
    if (strcmp(o.json, wtext) != 0)
        fail_msg("%s on %s:\n got  %s\n want %s", names, in, o.json, wtext);
    cJSON_free(wtext);
    cJSON_Delete(w);
    /* The flag must say exactly whether the tree changed. */
    cJSON *a = cJSON_Parse(in), *b = cJSON_Parse(o.json);
    char *ta = cJSON_PrintUnformatted(a);
    if (o.modified != (strcmp(ta, o.json) != 0))
        fail_msg("%s on %s: modified is %d but the JSON %s", names, in, o.modified,
                 o.modified ? "did not change" : "changed");
    cJSON_free(ta);
    cJSON_Delete(a);
    cJSON_Delete(b);
    assert_string_equal(o.message, "");
}

static void expect_failed(ps_pipeline_set *set, const char *names, const char *in, const char *want)
{
    outcome o;
    run(set, names, in, &o);
    if (o.outcome != PS_PIPELINE_FAILED)
        fail_msg("%s on %s: not failed (outcome %d, %s)", names, in, (int)o.outcome, o.json);
    if (strcmp(o.message, want) != 0)
        fail_msg("%s on %s:\n got  %s\n want %s", names, in, o.message, want);
}

static void expect_dropped(ps_pipeline_set *set, const char *names, const char *in,
                           const char *want)
{
    outcome o;
    run(set, names, in, &o);
    if (o.outcome != PS_PIPELINE_DROPPED)
        fail_msg("%s on %s: not dropped (outcome %d: %s)", names, in, (int)o.outcome,
                 o.outcome == PS_PIPELINE_FAILED ? o.message : o.json);
    assert_string_equal(o.message, want);
}

/* ---- processors ----------------------------------------------------------------- */

static void test_set(void **state)
{
    ps_pipeline_set *set =
        build("pipelines:\n"
              "  - name: values\n"
              "    processors:\n"
              "      - set: {field: a.b.c, value: 1}\n"
              "      - set: {field: s, value: \"x-{{n}}-{{missing}}-{{o}}-{{f}}-{{t}}\"}\n"
              "      - set: {field: q, value: '5'}\n"
              "      - set: {field: b, value: true}\n"
              "      - set: {field: nl, value: null}\n"
              "      - set: {field: obj, value: {k: [1, \"{{ n }}\", \"{{{o.k}}}\"]}}\n"
              "      - set: {field: 'arr[1]', value: X}\n"
              "      - set: {field: 'arr[-1]', value: \"{{{arr[0]}}}\"}\n"
              "  - name: keep\n"
              "    processors:\n"
              "      - set: {field: n, value: 99, override: false}\n"
              "      - set: {field: z, value: 7, override: false}\n"
              "      - set: {field: e, value: \"{{missing}}\", ignore_empty_value: true}\n"
              "      - set: {field: e2, value: null, ignore_empty_value: true}\n"
              "      - set: {field: c, copy_from: o}\n"
              "      - set: {field: d, copy_from: missing, ignore_missing: true}\n"
              "  - name: same\n"
              "    processors:\n"
              "      - set: {field: n, value: 42}\n"
              "      - set: {field: o, value: {k: v}}\n"
              "  - name: bad\n"
              "    processors:\n"
              "      - set: {field: n.x, value: 1}\n"
              "  - name: bad_index\n"
              "    processors:\n"
              "      - set: {field: 'arr[5]', value: 1}\n"
              "  - name: bad_create\n"
              "    processors:\n"
              "      - set: {field: 'new.list[0]', value: 1}\n"
              "  - name: bad_copy\n"
              "    processors:\n"
              "      - set: {field: c, copy_from: missing}\n");
    const char *in = "{\"n\":42,\"f\":2.5,\"t\":true,\"o\":{\"k\":\"v\"},\"z\":null,\"arr\":[1,2]}";
    (void)state;
    expect_kept(
        set, "values", in,
        "{\"n\":42,\"f\":2.5,\"t\":true,\"o\":{\"k\":\"v\"},\"z\":null,\"arr\":[1,\"1\"],"
        "\"a\":{\"b\":{\"c\":1}},\"s\":\"x-42--{\\\"k\\\":\\\"v\\\"}-2.5-true\",\"q\":\"5\","
        "\"b\":true,\"nl\":null,\"obj\":{\"k\":[1,\"42\",\"v\"]}}");
    expect_kept(set, "keep", in,
                "{\"n\":42,\"f\":2.5,\"t\":true,\"o\":{\"k\":\"v\"},\"z\":7,\"arr\":[1,2],"
                "\"c\":{\"k\":\"v\"}}");
    expect_kept(set, "same", in, in);
    expect_failed(set, "bad", in,
                  "pipeline bad, processor 1 (set), field n.x: n is a number, not a mapping");
    expect_failed(set, "bad_index", in,
                  "pipeline bad_index, processor 1 (set), field arr[5]: index 5 is out of range: "
                  "arr has 2 elements");
    expect_failed(set, "bad_create", in,
                  "pipeline bad_create, processor 1 (set), field new.list[0]: new.list does not "
                  "exist, so new.list[0] cannot be set");
    expect_failed(set, "bad_copy", in,
                  "pipeline bad_copy, processor 1 (set), copy_from missing: not found");
    ps_pipeline_set_destroy(set);
}

static void test_remove(void **state)
{
    ps_pipeline_set *set = build("- name: rm\n"
                                 "  processors:\n"
                                 "    - remove: {field: [a, 'b.c', 'arr[0]', 'o[\"x.y\"]']}\n"
                                 "- name: rm_missing\n"
                                 "  processors:\n"
                                 "    - remove: {field: [a, nope]}\n"
                                 "- name: rm_ignore\n"
                                 "  processors:\n"
                                 "    - remove: {field: [a, nope, z], ignore_missing: true}\n"
                                 "- name: rm_nested\n"
                                 "  processors:\n"
                                 "    - remove: {field: [b, b.c]}\n"
                                 "- name: rm_bad\n"
                                 "  processors:\n"
                                 "    - remove: {field: a.x}\n");
    const char *in = "{\"a\":1,\"b\":{\"c\":2,\"d\":3},\"arr\":[1,2],\"o\":{\"x.y\":1,\"x\":2},"
                     "\"z\":null}";
    (void)state;
    expect_kept(set, "rm", in, "{\"b\":{\"d\":3},\"arr\":[2],\"o\":{\"x\":2},\"z\":null}");
    /* A missing field fails the processor before anything is removed. */
    expect_failed(set, "rm_missing", in,
                  "pipeline rm_missing, processor 1 (remove), field nope: "
                  "not found");
    expect_kept(set, "rm_ignore", in,
                "{\"b\":{\"c\":2,\"d\":3},\"arr\":[1,2],\"o\":{\"x.y\":1,\"x\":2}}");
    expect_kept(set, "rm_nested", in,
                "{\"a\":1,\"arr\":[1,2],\"o\":{\"x.y\":1,\"x\":2},\"z\":null}");
    expect_failed(set, "rm_bad", in,
                  "pipeline rm_bad, processor 1 (remove), field a.x: a is a number, not a "
                  "mapping");
    expect_kept(set, "rm_ignore", "{\"q\":1}", "{\"q\":1}");
    ps_pipeline_set_destroy(set);
}

static void test_rename_copy(void **state)
{
    ps_pipeline_set *set =
        build("- name: mv\n"
              "  processors:\n"
              "    - rename: {field: a, target_field: x.y}\n"
              "- name: mv_over\n"
              "  processors:\n"
              "    - rename: {field: a, target_field: b, override: true}\n"
              "- name: mv_up\n"
              "  processors:\n"
              "    - rename: {field: 'o.k', target_field: o, override: true}\n"
              "- name: mv_exists\n"
              "  processors:\n"
              "    - rename: {field: a, target_field: b}\n"
              "- name: mv_missing\n"
              "  processors:\n"
              "    - rename: {field: nope, target_field: b}\n"
              "- name: mv_ignore\n"
              "  processors:\n"
              "    - rename: {field: nope, target_field: b, ignore_missing: true}\n"
              "- name: mv_bad_target\n"
              "  processors:\n"
              "    - rename: {field: a, target_field: b.c}\n"
              "- name: cp\n"
              "  processors:\n"
              "    - copy: {field: o, target_field: o2}\n"
              "    - copy: {field: o, target_field: o.inner}\n"
              "- name: cp_exists\n"
              "  processors:\n"
              "    - copy: {field: a, target_field: b}\n"
              "- name: cp_over\n"
              "  processors:\n"
              "    - copy: {field: a, target_field: b, override: true}\n");
    const char *in = "{\"a\":1,\"b\":2,\"o\":{\"k\":\"v\"}}";
    (void)state;
    expect_kept(set, "mv", in, "{\"b\":2,\"o\":{\"k\":\"v\"},\"x\":{\"y\":1}}");
    expect_kept(set, "mv_over", in, "{\"b\":1,\"o\":{\"k\":\"v\"}}");
    expect_kept(set, "mv_up", in, "{\"a\":1,\"b\":2,\"o\":\"v\"}");
    expect_failed(set, "mv_exists", in,
                  "pipeline mv_exists, processor 1 (rename), target_field b: already exists (set "
                  "override: true to replace it)");
    expect_failed(set, "mv_missing", in,
                  "pipeline mv_missing, processor 1 (rename), field nope: not found");
    expect_kept(set, "mv_ignore", in, in);
    /* Checked before the source is detached: the event is untouched. */
    expect_failed(set, "mv_bad_target", in,
                  "pipeline mv_bad_target, processor 1 (rename), target_field b.c: b is a "
                  "number, not a mapping");
    expect_kept(
        set, "cp", in,
        "{\"a\":1,\"b\":2,\"o\":{\"k\":\"v\",\"inner\":{\"k\":\"v\"}},\"o2\":{\"k\":\"v\"}}");
    expect_failed(set, "cp_exists", in,
                  "pipeline cp_exists, processor 1 (copy), target_field b: already exists (set "
                  "override: true to replace it)");
    expect_kept(set, "cp_over", in, "{\"a\":1,\"b\":1,\"o\":{\"k\":\"v\"}}");
    ps_pipeline_set_destroy(set);
}

static void test_append(void **state)
{
    ps_pipeline_set *set =
        build("- name: ap\n"
              "  processors:\n"
              "    - append: {field: l, value: [b, \"{{n}}\"]}\n"
              "    - append: {field: s, value: two}\n"
              "    - append: {field: new, value: 1}\n"
              "- name: ap_unique\n"
              "  processors:\n"
              "    - append: {field: l, value: [a, c, c], allow_duplicates: false}\n"
              "    - append: {field: s, value: one, allow_duplicates: false}\n"
              "- name: ap_bad\n"
              "  processors:\n"
              "    - append: {field: s.x, value: 1}\n");
    const char *in = "{\"n\":3,\"l\":[\"a\"],\"s\":\"one\"}";
    (void)state;
    expect_kept(set, "ap", in,
                "{\"n\":3,\"l\":[\"a\",\"b\",\"3\"],\"s\":[\"one\",\"two\"],\"new\":[1]}");
    expect_kept(set, "ap_unique", in, "{\"n\":3,\"l\":[\"a\",\"c\"],\"s\":[\"one\"]}");
    expect_failed(set, "ap_bad", in,
                  "pipeline ap_bad, processor 1 (append), field s.x: s is a string, not a "
                  "mapping");
    ps_pipeline_set_destroy(set);
}

static void test_text(void **state)
{
    ps_pipeline_set *set = build("- name: lc\n"
                                 "  processors:\n"
                                 "    - lowercase: {field: s}\n"
                                 "    - uppercase: {field: l}\n"
                                 "    - trim: {field: p}\n"
                                 "- name: to_target\n"
                                 "  processors:\n"
                                 "    - lowercase: {field: s, target_field: s_lower}\n"
                                 "    - trim: {field: l, target_field: t.l}\n"
                                 "- name: lc_num\n"
                                 "  processors:\n"
                                 "    - lowercase: {field: n}\n"
                                 "- name: lc_list\n"
                                 "  processors:\n"
                                 "    - uppercase: {field: mixed}\n"
                                 "- name: lc_missing\n"
                                 "  processors:\n"
                                 "    - trim: {field: nope}\n"
                                 "- name: lc_ignore\n"
                                 "  processors:\n"
                                 "    - trim: {field: nope, ignore_missing: true}\n"
                                 "    - trim: {field: z, ignore_missing: true}\n");
    const char *in = "{\"s\":\"MiXeD \\u00c9\",\"l\":[\" a \",\"b\"],\"p\":\"\\t pad \\n\",\"n\":1,"
                     "\"mixed\":[\"a\",2],\"z\":null}";
    (void)state;
    expect_kept(set, "lc", in,
                "{\"s\":\"mixed \xc3\x89\",\"l\":[\" A \",\"B\"],\"p\":\"pad\",\"n\":1,\"mixed\":"
                "[\"a\",2],\"z\":null}");
    expect_kept(set, "to_target", in,
                "{\"s\":\"MiXeD \xc3\x89\",\"l\":[\" a \",\"b\"],\"p\":\"\\t pad \\n\",\"n\":1,"
                "\"mixed\":[\"a\",2],\"z\":null,\"s_lower\":\"mixed \xc3\x89\",\"t\":{\"l\":"
                "[\"a\",\"b\"]}}");
    expect_failed(set, "lc_num", in,
                  "pipeline lc_num, processor 1 (lowercase), field n: is a number, not a string");
    expect_failed(set, "lc_list", in,
                  "pipeline lc_list, processor 1 (uppercase), field mixed: element 1 is a "
                  "number, not a string");
    expect_failed(set, "lc_missing", in,
                  "pipeline lc_missing, processor 1 (trim), field nope: not found");
    expect_kept(set, "lc_ignore", in, in);
    /* Already lower case: nothing changes, so the original bytes would be stored. */
    expect_kept(set, "lc", "{\"s\":\"low\",\"l\":[\"UP\"],\"p\":\"x\"}",
                "{\"s\":\"low\",\"l\":[\"UP\"],\"p\":\"x\"}");
    ps_pipeline_set_destroy(set);
}

static void test_convert(void **state)
{
    ps_pipeline_set *set = build("- name: conv\n"
                                 "  processors:\n"
                                 "    - convert: {field: pri, type: int}\n"
                                 "    - convert: {field: score, type: float}\n"
                                 "    - convert: {field: flag, type: boolean}\n"
                                 "    - convert: {field: n, type: string}\n"
                                 "    - convert: {field: fr, type: string}\n"
                                 "    - convert: {field: b, type: string}\n"
                                 "    - convert: {field: list, type: long}\n"
                                 "    - convert: {field: already, type: integer}\n"
                                 "    - convert: {field: d, type: double, target_field: d2}\n"
                                 "    - convert: {field: nope, type: int, ignore_missing: true}\n"
                                 "- name: bad_int\n"
                                 "  processors:\n"
                                 "    - convert: {field: word, type: int}\n"
                                 "- name: bad_frac\n"
                                 "  processors:\n"
                                 "    - convert: {field: fr, type: int}\n"
                                 "- name: bad_bool\n"
                                 "  processors:\n"
                                 "    - convert: {field: n, type: bool}\n"
                                 "- name: bad_obj\n"
                                 "  processors:\n"
                                 "    - convert: {field: o, type: string}\n"
                                 "- name: bad_elem\n"
                                 "  processors:\n"
                                 "    - convert: {field: mixed, type: int}\n"
                                 "- name: bad_float\n"
                                 "  processors:\n"
                                 "    - convert: {field: inf, type: float}\n");
    const char *in = "{\"pri\":\"120812\",\"score\":\"-2.5e1\",\"flag\":\"TRUE\",\"n\":42,"
                     "\"fr\":0.5,\"b\":false,\"list\":[\"1\",2],\"already\":7,\"d\":\"3\","
                     "\"word\":\"12a\",\"o\":{},\"mixed\":[\"1\",\"x\"],\"inf\":\"inf\"}";
    (void)state;
    expect_kept(set, "conv", in,
                "{\"pri\":120812,\"score\":-25,\"flag\":true,\"n\":\"42\",\"fr\":\"0.5\","
                "\"b\":\"false\",\"list\":[1,2],\"already\":7,\"d\":\"3\",\"word\":\"12a\","
                "\"o\":{},\"mixed\":[\"1\",\"x\"],\"inf\":\"inf\",\"d2\":3}");
    expect_failed(set, "bad_int", in,
                  "pipeline bad_int, processor 1 (convert), field word: cannot convert a string "
                  "to int: the string is not a whole number");
    expect_failed(set, "bad_frac", in,
                  "pipeline bad_frac, processor 1 (convert), field fr: cannot convert a number "
                  "to int: a number with a fraction is not a whole number");
    expect_failed(set, "bad_bool", in,
                  "pipeline bad_bool, processor 1 (convert), field n: cannot convert a number to "
                  "bool: this type cannot be converted");
    expect_failed(set, "bad_obj", in,
                  "pipeline bad_obj, processor 1 (convert), field o: cannot convert a mapping to "
                  "string: lists and mappings cannot be converted");
    expect_failed(set, "bad_elem", in,
                  "pipeline bad_elem, processor 1 (convert), field mixed: cannot convert element "
                  "1 (a string) to int: the string is not a whole number");
    expect_failed(set, "bad_float", in,
                  "pipeline bad_float, processor 1 (convert), field inf: cannot convert a string "
                  "to float: the string is not a number");
    ps_pipeline_set_destroy(set);
}

static void test_drop(void **state)
{
    ps_pipeline_set *set = build(
        "- name: cron\n"
        "  processors:\n"
        "    - drop:\n"
        "        if: \"filter.routeDirection == 'outbound' && msg.header.subject[0] startsWith "
        "'Cron'\"\n"
        "        tag: cron_noise\n"
        "    - set: {field: seen, value: true}\n"
        "- name: always\n"
        "  processors:\n"
        "    - drop:\n"
        "- name: after\n"
        "  processors:\n"
        "    - set: {field: after, value: 1}\n");
    const char *cron = "{\"filter\":{\"routeDirection\":\"outbound\"},\"msg\":{\"header\":"
                       "{\"subject\":[\"Cron <x> job\"]}}}";
    const char *other = "{\"filter\":{\"routeDirection\":\"inbound\"},\"msg\":{\"header\":"
                        "{\"subject\":[\"Cron <x> job\"]}}}";
    (void)state;
    expect_dropped(set, "cron", cron, "dropped by cron (processor 1: drop, tag cron_noise)");
    expect_kept(set, "cron", other,
                "{\"filter\":{\"routeDirection\":\"inbound\"},\"msg\":{\"header\":{\"subject\":"
                "[\"Cron <x> job\"]}},\"seen\":true}");
    /* A drop ends the chain: later pipelines do not run. */
    expect_dropped(set, "always,after", "{}", "dropped by always (processor 1: drop)");
    expect_kept(set, "after,cron", other,
                "{\"filter\":{\"routeDirection\":\"inbound\"},\"msg\":{\"header\":{\"subject\":"
                "[\"Cron <x> job\"]}},\"after\":1,\"seen\":true}");
    /* Without ?., a condition that reads through a missing field fails the event. */
    expect_failed(set, "cron", "{\"sm\":{}}",
                  "pipeline cron, processor 1 (drop, tag cron_noise), if: filter is nil, so "
                  ".routeDirection cannot be read (write filter?.routeDirection if it may be "
                  "missing)");
    ps_pipeline_set_destroy(set);
}

static void test_redact(void **state)
{
    ps_pipeline_set *set;
    (void)state;
    setenv("PS_TEST_REDACT_KEY", TEST_KEY, 1);
    set = build("- name: local\n"
                "  processors:\n"
                "    - redact:\n"
                "        field: [envelope.from, envelope.rcpts, msg.header.from, note]\n"
                "        part: local\n"
                "        key: ${PS_TEST_REDACT_KEY}\n"
                "- name: all\n"
                "  processors:\n"
                "    - redact: {field: envelope.from, key: '${PS_TEST_REDACT_KEY}', length: 8}\n"
                "- name: domain\n"
                "  processors:\n"
                "    - redact: {field: envelope.rcpts, part: domain, key: "
                "'${PS_TEST_REDACT_KEY}', length: 64}\n"
                "- name: mask\n"
                "  processors:\n"
                "    - redact: {field: envelope.rcpts, mode: mask, part: local}\n"
                "    - redact: {field: note, mode: mask, replacement: '[redacted]'}\n"
                "- name: bad\n"
                "  processors:\n"
                "    - redact: {field: n, mode: mask}\n");
    const char *in = "{\"envelope\":{\"from\":\"Mailive@Example.com\",\"rcpts\":"
                     "[\"jack@example.com\",\"pps@m0000123.ppops.net\"]},\"msg\":{\"header\":"
                     "{\"from\":[\"\\\"(Cron Daemon)\\\" <pps@m0000123.ppops.net>\"]}},"
                     "\"note\":\"no address here, not a@, nor @b\",\"n\":1}";
    /* Expected hashes: HMAC-SHA256 with TEST_KEY, computed independently (Python hmac). */
    expect_kept(set, "local", in,
                "{\"envelope\":{\"from\":\"d67f5d0c618d39cb@Example.com\",\"rcpts\":"
                "[\"55c2b2ee61893e65@example.com\",\"4894e2ab7ef33830@m0000123.ppops.net\"]},"
                "\"msg\":{\"header\":{\"from\":[\"\\\"(Cron Daemon)\\\" "
                "<4894e2ab7ef33830@m0000123.ppops.net>\"]}},\"note\":\"no address here, not a@, "
                "nor @b\",\"n\":1}");
    expect_kept(set, "all", in,
                "{\"envelope\":{\"from\":\"eee863ac\",\"rcpts\":[\"jack@example.com\","
                "\"pps@m0000123.ppops.net\"]},\"msg\":{\"header\":{\"from\":[\"\\\"(Cron "
                "Daemon)\\\" <pps@m0000123.ppops.net>\"]}},\"note\":\"no address here, not a@, "
                "nor @b\",\"n\":1}");
    expect_kept(set, "domain", "{\"envelope\":{\"rcpts\":[\"jack@EXAMPLE.com.\"]}}",
                "{\"envelope\":{\"rcpts\":[\"jack@"
                "6fdf74ac33e48abf2a9a09dd237479ab824dcfe84b87408da2c9a848eddac354.\"]}}");
    expect_kept(set, "mask", in,
                "{\"envelope\":{\"from\":\"Mailive@Example.com\",\"rcpts\":[\"***@example.com\","
                "\"***@m0000123.ppops.net\"]},\"msg\":{\"header\":{\"from\":[\"\\\"(Cron "
                "Daemon)\\\" <pps@m0000123.ppops.net>\"]}},\"note\":\"[redacted]\",\"n\":1}");
    expect_failed(set, "bad", in,
                  "pipeline bad, processor 1 (redact), field n: is a number, not a string");
    ps_pipeline_set_destroy(set);
    unsetenv("PS_TEST_REDACT_KEY");
}

static void test_redact_keys(void **state)
{
    ps_pipeline_set *set = NULL;
    ps_diag diag;
    const char *yaml = "- name: r\n"
                       "  processors:\n"
                       "    - redact: {field: a, key: '${PS_TEST_REDACT_KEY}'}\n";
    (void)state;
    unsetenv("PS_TEST_REDACT_KEY");
    expect_invalid("- name: r\n"
                   "  processors:\n"
                   "    - redact: {field: a}\n"
                   "    - redact: {field: a, key: short-key}\n"
                   "    - redact: {field: a, key: 'enc:v1:AAAA'}\n"
                   "    - redact: {field: a, key: '${PS_TEST_REDACT_KEY}'}\n"
                   "    - redact: {field: a, mode: mask, key: '0123456789abcdef'}\n"
                   "    - redact: {field: a, mode: hash, replacement: x, key: "
                   "'0123456789abcdef'}\n"
                   "    - redact: {field: a, mode: crypt, part: user, length: 4}\n",
                   "pipelines/test.yml:3:7: error: pipelines[0].processors[1].redact: redact "
                   "with mode: hash needs a key (e.g. key: \"$secret{redact}\"); without one the "
                   "hashes could be reversed by hashing guesses\n"
                   "pipelines/test.yml:4:31: error: pipelines[0].processors[2].redact.key: the "
                   "key must be at least 16 bytes long\n"
                   "pipelines/test.yml:5:31: error: pipelines[0].processors[3].redact.key: "
                   "encrypted (enc:v1:) keys are not supported here; use $secret{name} or "
                   "${VAR}\n"
                   "pipelines/test.yml:6:31: error: pipelines[0].processors[4].redact.key: "
                   "environment variable PS_TEST_REDACT_KEY is not set\n"
                   "pipelines/test.yml:7:43: error: pipelines[0].processors[5].redact.key: key is "
                   "only used with mode: hash\n"
                   "pipelines/test.yml:8:51: error: pipelines[0].processors[6].redact.replacement: "
                   "replacement is only used with mode: mask\n"
                   "pipelines/test.yml:8:59: warning: pipelines[0].processors[6].redact.key: the "
                   "key is written in the file; keep it out of the configuration with "
                   "$secret{name} or ${VAR}\n"
                   "pipelines/test.yml:9:32: error: pipelines[0].processors[7].redact.mode: "
                   "unknown value \"crypt\"; expected one of: hash, mask\n");

    /* A key written in the file works but is warned about. */
    ps_diag_init(&diag);
    assert_int_equal(compile_files(&set, &diag, NULL, 0, true, "pipelines/test.yml",
                                   "- name: r\n"
                                   "  processors:\n"
                                   "    - redact: {field: a, key: 0123456789abcdef}\n",
                                   END),
                     PS_OK);
    assert_string_equal(diag_text(&diag),
                        "pipelines/test.yml:3:31: warning: pipelines[0].processors[1].redact.key: "
                        "the key is written in the file; keep it out of the configuration with "
                        "$secret{name} or ${VAR}\n");
    ps_pipeline_set_destroy(set);
    ps_diag_deinit(&diag);

    /* Without secrets (validate --no-secrets) the key is not resolved, so the set
     * refuses to hash rather than hash with something else. */
    ps_diag_init(&diag);
    assert_int_equal(compile_files(&set, &diag, NULL, 0, false, "pipelines/test.yml", yaml, END),
                     PS_OK);
    assert_int_equal(diag.count, 0);
    expect_failed(set, "r", "{\"a\":\"x@y.z\"}",
                  "pipeline r, processor 1 (redact): the key was not resolved (pipelines "
                  "compiled without secrets)");
    ps_pipeline_set_destroy(set);
    ps_diag_deinit(&diag);
}

static void test_tag(void **state)
{
    ps_pipeline_set *set =
        build("- name: vip\n"
              "  processors:\n"
              "    - tag:\n"
              "        if: \"lower(envelope.from) in ['ceo@example.com', 'cfo@example.com']\"\n"
              "        tags: [vip, \"dir-{{filter.routeDirection}}\", \"{{missing}}\", email]\n"
              "    - tag: {tags: vip}\n");
    outcome o;
    ps_pipeline_result res;
    char *dev_tags[] = {"email", "pod"}, *json;
    (void)state;
    run(set, "vip",
        "{\"envelope\":{\"from\":\"CEO@example.com\"},\"filter\":{\"routeDirection\":"
        "\"inbound\"}}",
        &o);
    assert_int_equal(o.outcome, PS_PIPELINE_KEPT);
    assert_false(o.modified); /* tags travel beside the event, not in it */
    assert_string_equal(o.tags, "[\"vip\",\"dir-inbound\",\"email\"]");
    run(set, "vip", "{\"envelope\":{\"from\":\"x@example.com\"}}", &o);
    assert_string_equal(o.tags, "[\"vip\"]");

    /* Merged with the device tags, without repeating them. */
    ps_pipeline_result_init(&res);
    json = ps_pipeline_tags_json(dev_tags, 2, &res);
    assert_string_equal(json, "[\"email\",\"pod\"]");
    free(json);
    res.tags = dev_tags; /* borrowed for this check only */
    res.ntags = 2;
    char *extra[] = {"pod", "vip"};
    res.tags = extra;
    json = ps_pipeline_tags_json(dev_tags, 2, &res);
    assert_string_equal(json, "[\"email\",\"pod\",\"vip\"]");
    free(json);
    json = ps_pipeline_tags_json(NULL, 0, NULL);
    assert_string_equal(json, "[]");
    free(json);
    ps_pipeline_set_destroy(set);
}

static void test_fail(void **state)
{
    ps_pipeline_set *set = build("- name: guard\n"
                                 "  processors:\n"
                                 "    - fail:\n"
                                 "        if: \"sm?.stat == nil\"\n"
                                 "        message: \"no status in {{id}} ({{sm.qid}})\"\n"
                                 "        tag: need_status\n");
    (void)state;
    expect_failed(set, "guard", "{\"id\":\"abc\",\"sm\":{\"qid\":\"Q1\"}}",
                  "pipeline guard, processor 1 (fail, tag need_status): no status in abc (Q1)");
    expect_kept(set, "guard", "{\"sm\":{\"stat\":\"Sent\"}}", "{\"sm\":{\"stat\":\"Sent\"}}");
    ps_pipeline_set_destroy(set);
}

/* ---- failures ---------------------------------------------------------------------- */

static void test_on_failure(void **state)
{
    ps_pipeline_set *set =
        build("- name: handled\n"
              "  processors:\n"
              "    - convert:\n"
              "        field: pri\n"
              "        type: int\n"
              "        tag: pri_to_int\n"
              "        on_failure:\n"
              "          - set: {field: error.message, value: \"{{_ingest.on_failure_message}}\"}\n"
              "          - set: {field: error.where, value: \"{{_ingest.on_failure_pipeline}}/"
              "{{_ingest.on_failure_processor_type}}/{{_ingest.on_failure_processor_tag}}\"}\n"
              "          - tag:\n"
              "              if: \"_ingest.on_failure_processor_type == 'convert'\"\n"
              "              tags: [bad_pri]\n"
              "    - set: {field: after, value: \"{{_ingest.pipeline}}\"}\n"
              "- name: ignored\n"
              "  processors:\n"
              "    - convert: {field: pri, type: int, ignore_failure: true}\n"
              "    - set: {field: after, value: 1}\n"
              "- name: pipeline_handler\n"
              "  on_failure:\n"
              "    - set: {field: failed_in, value: \"{{_ingest.on_failure_processor_type}}: "
              "{{_ingest.on_failure_message}}\"}\n"
              "  processors:\n"
              "    - set: {field: before, value: 1}\n"
              "    - convert: {field: pri, type: int}\n"
              "    - set: {field: skipped, value: 1}\n"
              "- name: pipeline_ignore\n"
              "  ignore_failure: true\n"
              "  processors:\n"
              "    - set: {field: before, value: 1}\n"
              "    - fail: {message: stop}\n"
              "    - set: {field: skipped, value: 1}\n"
              "- name: next\n"
              "  processors:\n"
              "    - set: {field: next, value: 1}\n"
              "- name: handler_fails\n"
              "  processors:\n"
              "    - convert:\n"
              "        field: pri\n"
              "        type: int\n"
              "        on_failure:\n"
              "          - rename: {field: nope, target_field: x}\n"
              "- name: handler_drops\n"
              "  processors:\n"
              "    - fail:\n"
              "        message: x\n"
              "        on_failure:\n"
              "          - drop: {}\n"
              "- name: nested\n"
              "  on_failure:\n"
              "    - set: {field: caught, copy_from: _ingest.on_failure_message}\n"
              "  processors:\n"
              "    - convert:\n"
              "        field: pri\n"
              "        type: int\n"
              "        on_failure:\n"
              "          - rename: {field: nope, target_field: x}\n"
              "- name: gated\n"
              "  if: \"sm != nil\"\n"
              "  processors:\n"
              "    - set: {field: gated, value: 1}\n"
              "- name: gate_error\n"
              "  if: \"sm.stat == 'x'\"\n"
              "  processors:\n"
              "    - set: {field: gated, value: 1}\n");
    const char *in = "{\"pri\":\"12x\"}";
    outcome o;
    (void)state;
    expect_kept(set, "handled", in,
                "{\"pri\":\"12x\",\"error\":{\"message\":\"field pri: cannot convert a string to "
                "int: the string is not a whole number\",\"where\":\"handled/convert/"
                "pri_to_int\"},\"after\":\"handled\"}");
    run(set, "handled", in, &o);
    assert_string_equal(o.tags, "[\"bad_pri\"]");
    expect_kept(set, "ignored", in, "{\"pri\":\"12x\",\"after\":1}");
    /* A pipeline-level handler ends the pipeline; the event is kept. */
    expect_kept(set, "pipeline_handler,next", in,
                "{\"pri\":\"12x\",\"before\":1,\"failed_in\":\"convert: field pri: cannot convert "
                "a string to int: the string is not a whole number\",\"next\":1}");
    expect_kept(set, "pipeline_ignore,next", in, "{\"pri\":\"12x\",\"before\":1,\"next\":1}");
    expect_failed(set, "handler_fails", in,
                  "pipeline handler_fails, processor 1.on_failure[1] (rename), field nope: not "
                  "found");
    expect_dropped(set, "handler_drops", in,
                   "dropped by handler_drops (processor 1.on_failure[1]: drop)");
    /* A failing processor handler is a failure of its processor: the pipeline's
     * handler sees the handler's failure. */
    expect_kept(set, "nested", in, "{\"pri\":\"12x\",\"caught\":\"field nope: not found\"}");
    expect_kept(set, "gated", in, in);
    expect_kept(set, "gated", "{\"sm\":{}}", "{\"sm\":{},\"gated\":1}");
    expect_failed(set, "gate_error", in,
                  "pipeline gate_error, if: sm is nil, so .stat cannot be read (write sm?.stat if "
                  "it may be missing)");
    /* A failure in an earlier pipeline stops the chain. */
    expect_failed(set, "handler_fails,next", in,
                  "pipeline handler_fails, processor 1.on_failure[1] (rename), field nope: not "
                  "found");
    ps_pipeline_set_destroy(set);
}

/* ---- paths and templates ----------------------------------------------------------- */

static void test_paths(void **state)
{
    ps_pipeline_set *set =
        build("- name: p\n"
              "  processors:\n"
              "    - set: {field: 'msg.header[\"x-seen\"]', value: "
              "\"{{msg.header[\\\"message-id\\\"][0]}}\"}\n"
              "    - set: {field: \"o['a b']['c.d']\", value: \"{{list[-1]}}{{list[9]}}\"}\n"
              "    - set: {field: msg.header.message-id, value: [\"{{o['k.k']}}\"]}\n"
              "    - set: {field: '@timestamp', value: \"{{ts}}\"}\n"
              "    - set: {field: 'list[0]', value: \"{{{list.0}}}{{s.x}}\"}\n");
    (void)state;
    expect_kept(
        set, "p",
        "{\"msg\":{\"header\":{\"message-id\":[\"<m@x>\"]}},\"o\":{\"k.k\":\"K\"},"
        "\"list\":[1,2],\"ts\":\"T\",\"s\":\"str\"}",
        "{\"msg\":{\"header\":{\"message-id\":[\"K\"],\"x-seen\":\"<m@x>\"}},\"o\":{\"k.k\":"
        "\"K\",\"a b\":{\"c.d\":\"2\"}},\"list\":[\"\",2],\"ts\":\"T\",\"s\":\"str\","
        "\"@timestamp\":\"T\"}");
    ps_pipeline_set_destroy(set);
}

/* ---- validation ----------------------------------------------------------------------- */

static void test_validation(void **state)
{
    (void)state;
    expect_invalid(
        /* 1 */ "pipelines:\n"
                /* 2 */ "  - name: bad\n"
                /* 3 */ "    procesors: []\n"
                /* 4 */ "    processors:\n"
                /* 5 */ "      - sett: {field: a, value: 1}\n"
                /* 6 */ "      - set: {field: a, vaule: 1}\n"
                /* 7 */ "      - set: {value: 1}\n"
                /* 8 */ "      - set: {field: a, value: 1}\n"
                /* 9 */ "        drop: {}\n"
                /* 10 */ "      - drop: {if: \"a ==\"}\n"
                /* 11 */ "      - drop: {if: \"filter.x = 'y'\"}\n"
                /* 12 */ "      - set: {field: 'a..b', value: 1}\n"
                /* 13 */ "      - set: {field: a, value: \"{{b\"}\n"
                /* 14 */ "      - convert: {field: a, type: number}\n"
                /* 15 */ "      - set: {field: a, value: 1, override: maybe}\n"
                /* 16 */ "      - remove: {field: [a, 'b c']}\n"
                /* 17 */ "      - rename: {field: a, target_field: a.b}\n"
                /* 18 */ "      - set: {field: _ingest.x, value: 1}\n"
                /* 19 */ "      - tag: {tags: []}\n"
                /* 20 */ "      - fail: {}\n"
                /* 21 */ "      - drop: {on_failure: {set: {}}}\n"
                /* 22 */ "      - drop: [x]\n"
                /* 23 */ "      - plain\n"
                /* 24 */ "      - set: {field: a, value: \"{{#list}}x{{/list}}\"}\n"
                /* 25 */ "      - set: {field: a, value: 1, copy_from: b}\n"
                /* 26 */ "  - name: bad\n"
                /* 27 */ "    processors: []\n"
                /* 28 */ "  - name: 'no spaces'\n"
                /* 29 */ "    processors: []\n"
                /* 30 */ "  - processors: []\n"
                /* 31 */ "  - name: x\n"
                /* 32 */ "    if: \"(\"\n",
        "pipelines/test.yml:3:5: error: pipelines[0].procesors: unknown pipeline option "
        "\"procesors\" (did you mean \"processors\"?)\n"
        "pipelines/test.yml:5:9: error: pipelines[0].processors[1]: unknown processor \"sett\" "
        "(did you mean \"set\"?)\n"
        "pipelines/test.yml:6:9: error: pipelines[0].processors[2].set: set needs the option "
        "value (or copy_from)\n"
        "pipelines/test.yml:6:25: error: pipelines[0].processors[2].set.vaule: unknown option "
        "\"vaule\" for set (did you mean \"value\"?)\n"
        "pipelines/test.yml:7:9: error: pipelines[0].processors[3].set: set needs the option "
        "field\n"
        "pipelines/test.yml:8:9: error: pipelines[0].processors[4]: a processor is a mapping with "
        "one key, the processor type, but this one has 2 (set, drop); indent the options under "
        "the type\n"
        "pipelines/test.yml:10:25: error: pipelines[0].processors[5].drop.if: invalid condition: "
        "unexpected end of condition; expected a value\n"
        "pipelines/test.yml:11:30: error: pipelines[0].processors[6].drop.if: invalid condition: "
        "'=' is not an operator; use '==' to compare\n"
        "pipelines/test.yml:12:25: error: pipelines[0].processors[7].set.field: invalid field "
        "path: empty field name before '.'\n"
        "pipelines/test.yml:13:33: error: pipelines[0].processors[8].set.value: invalid "
        "template: {{ without a closing }}\n"
        "pipelines/test.yml:14:35: error: pipelines[0].processors[9].convert.type: unknown value "
        "\"number\"; expected one of: string, int, integer, long, float, double, boolean, bool\n"
        "pipelines/test.yml:15:45: error: pipelines[0].processors[10].set.override: expected true "
        "or false, found string\n"
        "pipelines/test.yml:16:31: error: pipelines[0].processors[11].remove.field[1]: invalid "
        "field path: unexpected space; quote keys with spaces like a[\"k k\"]\n"
        "pipelines/test.yml:17:42: error: pipelines[0].processors[12].rename.target_field: "
        "target_field lies inside field, which rename removes\n"
        "pipelines/test.yml:18:22: error: pipelines[0].processors[13].set.field: _ingest fields "
        "are read-only\n"
        "pipelines/test.yml:19:21: error: pipelines[0].processors[14].tag.tags: expected a tag or "
        "a list of tags, found an empty list\n"
        "pipelines/test.yml:20:9: error: pipelines[0].processors[15].fail: fail needs the option "
        "message\n"
        "pipelines/test.yml:21:28: error: pipelines[0].processors[16].drop.on_failure: expected a "
        "list of processors, found mapping\n"
        "pipelines/test.yml:22:15: error: pipelines[0].processors[17].drop: expected the options "
        "of drop as a mapping, found list\n"
        "pipelines/test.yml:23:9: error: pipelines[0].processors[18]: expected a processor (a "
        "mapping such as `set: {field: a, value: b}`), found string\n"
        "pipelines/test.yml:24:35: error: pipelines[0].processors[19].set.value: invalid "
        "template: mustache sections and partials are not supported; write {{field.path}}\n"
        "pipelines/test.yml:25:46: error: pipelines[0].processors[20].set: set takes value or "
        "copy_from, not both\n"
        "pipelines/test.yml:26:11: error: duplicate pipeline name \"bad\" (first defined at "
        "pipelines/test.yml:2:11)\n"
        "pipelines/test.yml:28:11: error: pipelines[2].name: invalid pipeline name \"no spaces\": "
        "use 1 to 128 letters, digits, '_', '-' or '.'\n"
        "pipelines/test.yml:30:5: error: pipelines[3]: a pipeline needs a name\n"
        "pipelines/test.yml:31:5: error: pipelines[4]: pipeline \"x\" needs processors\n"
        "pipelines/test.yml:32:11: error: pipelines[4].if: invalid condition: unexpected end of "
        "condition; expected a value\n");
}

static void test_validation_shapes(void **state)
{
    (void)state;
    /* A lone mapping is one pipeline; paths then start at its name. */
    expect_invalid("name: lone\n"
                   "processors:\n"
                   "  - uppercase: {field: a, target: b}\n",
                   "pipelines/test.yml:3:27: error: pipeline.processors[1].uppercase.target: "
                   "unknown option \"target\" for uppercase (did you mean \"target_field\"?)\n");
    expect_invalid("just text\n", "pipelines/test.yml:1:1: error: expected a list of pipelines or "
                                  "one pipeline, found string\n");
    expect_invalid("- 42\n", "pipelines/test.yml:1:3: error: pipelines[0]: expected a pipeline (a "
                             "mapping with name and processors), found number\n");
    /* Multi-line conditions: reported at the scalar, with the character offset. */
    expect_invalid("- name: m\n"
                   "  processors:\n"
                   "    - drop:\n"
                   "        if: |\n"
                   "          a == 1 &&\n"
                   "          b ==\n",
                   "pipelines/test.yml:4:13: error: pipelines[0].processors[1].drop.if: invalid "
                   "condition: unexpected end of condition; expected a value (at character 16)\n");
    /* Options that do not belong to the processor are named with the valid ones. */
    expect_invalid("- name: o\n"
                   "  processors:\n"
                   "    - drop: {zzz: 1}\n",
                   "pipelines/test.yml:3:14: error: pipelines[0].processors[1].drop.zzz: unknown "
                   "option \"zzz\" for drop; options are: if, ignore_failure, on_failure, tag, "
                   "description\n");
}

/* The processor tables are what the compiler checks options against, and what the
 * reference (docs/processors.md) is generated from: every documented option is
 * accepted, anything else is not, and typed options are checked from the table. */
static void test_processor_tables(void **state)
{
    const ps_processor_doc *d;
    const ps_schema_table *common = ps_pipeline_common_options();
    size_t n = 0;
    (void)state;
    assert_non_null(common);
    assert_non_null(ps_schema_find(common, "on_failure"));
    assert_non_null(ps_schema_find(ps_pipeline_options(), "processors"));
    for (size_t i = 0; (d = ps_pipeline_processor_doc(i)); i++, n++) {
        assert_non_null(d->options);
        assert_true(d->summary && *d->summary);
        assert_string_equal(d->options->name, d->name);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(ps_pipeline_processor_doc(j)->name, d->name);
        for (size_t k = 0; k <= d->options->count; k++) {
            const char *opt = k < d->options->count ? d->options->fields[k].name : "no_such";
            char yaml[256];
            ps_pipeline_set *set = NULL;
            ps_diag diag;
            if (k < d->options->count)
                assert_non_null(d->options->fields[k].description);
            snprintf(yaml, sizeof yaml, "- name: t\n  processors:\n    - %s: {%s: x}\n", d->name,
                     opt);
            ps_diag_init(&diag);
            compile_files(&set, &diag, NULL, 0, false, "pipelines/test.yml", yaml, END);
            if ((strstr(diag_text(&diag), "unknown option") != NULL) != (k == d->options->count))
                fail_msg("%s.%s:\n%s", d->name, opt, diag_text(&diag));
            ps_pipeline_set_destroy(set);
            ps_diag_deinit(&diag);
        }
    }
    assert_int_equal(n, 13);
    assert_null(ps_pipeline_processor_doc(n));
    /* Bounds, enums and booleans come from the table, with its defaults. */
    expect_invalid("- name: r\n"
                   "  processors:\n"
                   "    - redact: {field: a, key: '${PS_TEST_NO_SUCH_KEY}', length: 4}\n"
                   "    - redact: {field: a, mode: mask, part: user}\n"
                   "    - append: {field: a, value: 1, allow_duplicates: 2}\n",
                   "pipelines/test.yml:3:31: error: pipelines[0].processors[1].redact.key: "
                   "environment variable PS_TEST_NO_SUCH_KEY is not set\n"
                   "pipelines/test.yml:3:65: error: pipelines[0].processors[1].redact.length: "
                   "expected a whole number from 8 to 64\n"
                   "pipelines/test.yml:4:44: error: pipelines[0].processors[2].redact.part: "
                   "unknown value \"user\"; expected one of: all, local, domain\n"
                   "pipelines/test.yml:5:54: error: pipelines[0].processors[3].append."
                   "allow_duplicates: expected true or false, found number\n");
}

static void test_devices(void **state)
{
    ps_device devs[2];
    char *p1[] = {"normalize", "enrichh"}, *p2[] = {"enrich", "normalize"};
    ps_config_pos pos1[] = {{"devices/a.yml", 7, 9}, {"devices/a.yml", 8, 9}};
    ps_config_pos pos2[] = {{"devices/b.yml", 3, 15}, {"devices/b.yml", 3, 23}};
    ps_pipeline_set *set = (ps_pipeline_set *)&set;
    ps_diag diag;
    ps_pipeline_result res;
    cJSON *ev;
    (void)state;

    memset(devs, 0, sizeof devs);
    devs[0].id = 1;
    devs[0].path = "devices[0]";
    devs[0].pipelines = p1;
    devs[0].npipelines = 2;
    devs[0].pipeline_pos = pos1;
    devs[1].id = 2;
    devs[1].path = "devices[1]";
    devs[1].pipelines = p2;
    devs[1].npipelines = 2;
    devs[1].pipeline_pos = pos2;

    const char *a = "- name: normalize\n"
                    "  processors:\n"
                    "    - lowercase: {field: s}\n";
    const char *b = "pipelines:\n"
                    "  - name: enrich\n"
                    "    processors:\n"
                    "      - set: {field: site, value: hq}\n"
                    "  - name: normalize\n"
                    "    processors: []\n";
    ps_diag_init(&diag);
    assert_int_equal(
        compile_files(&set, &diag, devs, 2, true, "pipelines/a.yml", a, "pipelines/b.yml", b, END),
        PS_ERR_INVALID);
    assert_null(set);
    assert_string_equal(diag_text(&diag),
                        "devices/a.yml:8:9: error: devices[0].pipelines[1]: unknown pipeline "
                        "\"enrichh\" (did you mean \"enrich\"?)\n"
                        "pipelines/b.yml:5:11: error: duplicate pipeline name \"normalize\" "
                        "(first defined at pipelines/a.yml:1:9)\n");
    ps_diag_deinit(&diag);

    /* Fixed: the chains run in the order the device lists them. */
    p1[1] = "enrich";
    b = "pipelines:\n"
        "  - name: enrich\n"
        "    processors:\n"
        "      - set: {field: site, value: \"hq-{{s}}\"}\n";
    ps_diag_init(&diag);
    assert_int_equal(
        compile_files(&set, &diag, devs, 2, true, "pipelines/a.yml", a, "pipelines/b.yml", b, END),
        PS_OK);
    assert_int_equal(ps_pipeline_set_count(set), 2);
    assert_string_equal(ps_pipeline_name(ps_pipeline_set_at(set, 0)), "normalize");
    assert_null(ps_pipeline_set_at(set, 2));
    assert_int_equal(ps_pipeline_processor_count(ps_pipeline_set_find(set, "enrich")), 1);
    assert_null(ps_pipeline_description(ps_pipeline_set_find(set, "enrich")));
    assert_string_equal(ps_pipeline_pos(ps_pipeline_set_find(set, "enrich")).file,
                        "pipelines/b.yml");
    assert_int_equal(ps_pipeline_pos(ps_pipeline_set_find(set, "enrich")).line, 2);
    assert_null(ps_pipeline_set_find(set, "nope"));
    assert_null(ps_pipeline_set_device_chain(set, 99));

    ps_pipeline_result_init(&res);
    ev = cJSON_Parse("{\"s\":\"ABC\"}");
    assert_int_equal(ps_pipeline_run(set, &devs[0], ev, &res), PS_OK);
    char *text = cJSON_PrintUnformatted(ev);
    assert_string_equal(text, "{\"s\":\"abc\",\"site\":\"hq-abc\"}");
    cJSON_free(text);
    cJSON_Delete(ev);
    ev = cJSON_Parse("{\"s\":\"ABC\"}");
    assert_int_equal(ps_pipeline_run(set, &devs[1], ev, &res), PS_OK);
    text = cJSON_PrintUnformatted(ev);
    assert_string_equal(text, "{\"s\":\"abc\",\"site\":\"hq-ABC\"}");
    cJSON_free(text);
    cJSON_Delete(ev);
    ps_pipeline_result_deinit(&res);
    ps_pipeline_result_deinit(&res); /* safe twice */

    ps_pipeline_chain *chain = NULL;
    ps_errmsg em;
    const char *names[] = {"enrich", "missing"};
    assert_int_equal(ps_pipeline_chain_create(set, names, 2, &chain, &em), PS_ERR_NOTFOUND);
    assert_string_equal(em.text, "no pipeline is called \"missing\"");
    assert_null(chain);
    ps_pipeline_set_destroy(set);
    ps_diag_deinit(&diag);

    /* No pipelines defined at all. */
    ps_diag_init(&diag);
    assert_int_equal(compile_files(&set, &diag, devs, 1, true, END), PS_ERR_INVALID);
    assert_string_equal(diag_text(&diag),
                        "devices/a.yml:7:9: error: devices[0].pipelines[0]: unknown pipeline "
                        "\"normalize\"; no pipelines are defined (put them in pipelines/*.yml)\n"
                        "devices/a.yml:8:9: error: devices[0].pipelines[1]: unknown pipeline "
                        "\"enrich\"; no pipelines are defined (put them in pipelines/*.yml)\n");
    ps_diag_deinit(&diag);
}

/* ---- behaviour on the real samples ------------------------------------------------ */

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;
    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static size_t sample_lines(const char *file, char **lines, size_t max)
{
    const char *dir = getenv("PS_SAMPLES");
    char path[512];
    char *all, *save = NULL, *tok;
    size_t n = 0;
    snprintf(path, sizeof path, "%s/%s", dir ? dir : "../shared/samples", file);
    all = read_all(path);
    for (tok = strtok_r(all, "\n", &save); tok && n < max; tok = strtok_r(NULL, "\n", &save))
        lines[n++] = strdup(tok);
    free(all);
    return n;
}

/* A secrets directory holding the redaction key of recipes.yml, mode 0600 as
 * ps_secret requires. */
static int make_secrets(void **state)
{
    char path[128];
    FILE *f;
    (void)state;
    snprintf(secrets_dir, sizeof secrets_dir, "/tmp/ps_test_pipeline.XXXXXX");
    if (!mkdtemp(secrets_dir))
        return -1;
    snprintf(path, sizeof path, "%s/redact-key", secrets_dir);
    f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "%s\n", TEST_KEY);
    fclose(f);
    return chmod(path, 0600);
}

static int remove_secrets(void **state)
{
    char path[128];
    (void)state;
    snprintf(path, sizeof path, "%s/redact-key", secrets_dir);
    unlink(path);
    rmdir(secrets_dir);
    secrets_dir[0] = '\0';
    return 0;
}

static void test_samples(void **state)
{
    const char *dir = getenv("PS_TEST_DATA");
    char path[512], *yaml, *msgs[8], *logs[8];
    size_t nm, nl;
    ps_pipeline_set *set;
    const char *want_msg[] = {"dropped", "kept", "kept", "kept", "kept"};
    (void)state;
    snprintf(path, sizeof path, "%s/pipelines/recipes.yml", dir ? dir : "tests/data");
    yaml = read_all(path);
    set = build(yaml);
    free(yaml);
    nm = sample_lines("message.jsonl", msgs, 8);
    nl = sample_lines("maillog.jsonl", logs, 8);
    assert_int_equal(nm, 5);
    assert_int_equal(nl, 5);

    for (size_t i = 0; i < nm; i++) {
        outcome o;
        run(set, "drop_cron_noise,mask_recipients,tag_vip_senders", msgs[i], &o);
        if (strcmp(want_msg[i], o.outcome == PS_PIPELINE_DROPPED ? "dropped" : "kept") != 0 ||
            o.outcome == PS_PIPELINE_FAILED)
            fail_msg("message line %zu: %s", i + 1, o.message[0] ? o.message : "kept");
        if (o.outcome == PS_PIPELINE_KEPT) {
            /* Every recipient is masked, the domain kept. */
            cJSON *ev = cJSON_Parse(o.json), *it;
            cJSON_ArrayForEach(it,
                               cJSON_GetObjectItem(cJSON_GetObjectItem(ev, "envelope"), "rcpts"))
            {
                const char *at = strchr(it->valuestring, '@');
                assert_non_null(at);
                assert_int_equal(at - it->valuestring, 16);
            }
            cJSON_Delete(ev);
        }
    }
    /* Line 2 is the Mailive test message from mailive@example.com: a VIP here. */
    outcome o;
    run(set, "tag_vip_senders", msgs[1], &o);
    assert_string_equal(o.tags, "[\"vip\"]");
    run(set, "tag_vip_senders", msgs[2], &o);
    assert_string_equal(o.tags, "[]");

    size_t dropped = 0;
    for (size_t i = 0; i < nl; i++) {
        run(set, "drop_delivered_maillog", logs[i], &o);
        assert_int_not_equal(o.outcome, PS_PIPELINE_FAILED);
        dropped += o.outcome == PS_PIPELINE_DROPPED;
        if (o.outcome == PS_PIPELINE_KEPT)
            assert_false(o.modified);
    }
    /* Lines 1, 2, 4 and 5 are "Sent" deliveries; line 3 is a from= line. */
    assert_int_equal(dropped, 4);
    for (size_t i = 0; i < nm; i++)
        free(msgs[i]);
    for (size_t i = 0; i < nl; i++)
        free(logs[i]);
    ps_pipeline_set_destroy(set);
}

/* ---- threads ------------------------------------------------------------------------- */

typedef struct job {
    const ps_pipeline_chain *chain;
    char **lines;
    size_t n;
    char *want[8];
    int mismatches;
} job;

static char *run_line(const ps_pipeline_chain *chain, ps_pipeline_result *res, const char *line)
{
    cJSON *ev = cJSON_Parse(line);
    char *out, buf[1024];
    ps_pipeline_chain_run(chain, ev, res);
    out = cJSON_PrintUnformatted(ev);
    snprintf(buf, sizeof buf, "%d|%d|%s|", (int)res->outcome, res->modified, res->message);
    size_t len = strlen(buf) + strlen(out) + 1;
    char *joined = malloc(len);
    assert_non_null(joined);
    snprintf(joined, len, "%s%s", buf, out);
    cJSON_free(out);
    cJSON_Delete(ev);
    return joined;
}

static void *worker(void *arg)
{
    job *j = arg;
    ps_pipeline_result res;
    ps_pipeline_result_init(&res);
    for (int round = 0; round < 200; round++)
        for (size_t i = 0; i < j->n; i++) {
            char *got = run_line(j->chain, &res, j->lines[i]);
            if (strcmp(got, j->want[i]) != 0)
                j->mismatches++;
            free(got);
        }
    ps_pipeline_result_deinit(&res);
    return NULL;
}

static void test_threads(void **state)
{
    const char *dir = getenv("PS_TEST_DATA");
    char path[512], *yaml, *lines[8];
    ps_pipeline_set *set;
    ps_pipeline_chain *chain = NULL;
    ps_pipeline_result res;
    const char *names[] = {"drop_cron_noise", "mask_recipients", "tag_vip_senders"};
    ps_thread *th[4];
    job jobs[4];
    ps_errmsg em;
    (void)state;
    snprintf(path, sizeof path, "%s/pipelines/recipes.yml", dir ? dir : "tests/data");
    yaml = read_all(path);
    set = build(yaml);
    free(yaml);
    assert_int_equal(ps_pipeline_chain_create(set, names, 3, &chain, &em), PS_OK);
    size_t n = sample_lines("message.jsonl", lines, 8);
    ps_pipeline_result_init(&res);
    for (int t = 0; t < 4; t++) {
        jobs[t].chain = chain;
        jobs[t].lines = lines;
        jobs[t].n = n;
        jobs[t].mismatches = 0;
        for (size_t i = 0; i < n; i++)
            jobs[t].want[i] = run_line(chain, &res, lines[i]);
    }
    ps_pipeline_result_deinit(&res);
    for (int t = 0; t < 4; t++)
        assert_int_equal(ps_plat_thread_create(&th[t], "worker", worker, &jobs[t]), PS_OK);
    for (int t = 0; t < 4; t++) {
        (void)ps_plat_thread_join(th[t]);
        assert_int_equal(jobs[t].mismatches, 0);
        for (size_t i = 0; i < n; i++)
            free(jobs[t].want[i]);
    }
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    ps_pipeline_chain_destroy(chain);
    ps_pipeline_set_destroy(set);
}

static void test_empty_chain(void **state)
{
    ps_pipeline_result res;
    cJSON *ev = cJSON_Parse("{\"a\":1}");
    (void)state;
    ps_pipeline_result_init(&res);
    assert_int_equal(ps_pipeline_chain_run(NULL, ev, &res), PS_OK);
    assert_int_equal(res.outcome, PS_PIPELINE_KEPT);
    assert_false(res.modified);
    ps_pipeline_result_deinit(&res);
    cJSON_Delete(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set),
        cmocka_unit_test(test_remove),
        cmocka_unit_test(test_rename_copy),
        cmocka_unit_test(test_append),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_convert),
        cmocka_unit_test(test_drop),
        cmocka_unit_test(test_redact),
        cmocka_unit_test(test_redact_keys),
        cmocka_unit_test(test_tag),
        cmocka_unit_test(test_fail),
        cmocka_unit_test(test_on_failure),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_validation_shapes),
        cmocka_unit_test(test_processor_tables),
        cmocka_unit_test(test_devices),
        cmocka_unit_test(test_samples),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_empty_chain),
    };
    return cmocka_run_group_tests(tests, make_secrets, remove_secrets);
}
