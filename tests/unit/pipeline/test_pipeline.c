/* ps_pipeline: field paths, templates, validation messages with file:line:col, the
 * processor tables, device chains, the real samples, and concurrent runs of one
 * compiled set. The processors themselves: test_processors.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline_fixture.h"
#include "podstream/ps_pipeline.h"
#include "podstream/ps_platform.h"
#include "podstream/ps_yaml.h"

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
    snprintf(path, sizeof path, "%s/%s", dir ? dir : "tests/data/samples", file);
    all = read_all(path);
    for (tok = strtok_r(all, "\n", &save); tok && n < max; tok = strtok_r(NULL, "\n", &save))
        lines[n++] = strdup(tok);
    free(all);
    return n;
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
