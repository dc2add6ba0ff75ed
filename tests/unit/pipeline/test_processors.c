/* ps_pipeline: every processor, with missing fields and type mismatches, and
 * failure handling (on_failure, ignore_failure). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline_fixture.h"
#include "podstream/ps_platform.h"
#include "podstream/ps_yaml.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set),         cmocka_unit_test(test_remove),
        cmocka_unit_test(test_rename_copy), cmocka_unit_test(test_append),
        cmocka_unit_test(test_text),        cmocka_unit_test(test_convert),
        cmocka_unit_test(test_drop),        cmocka_unit_test(test_redact),
        cmocka_unit_test(test_redact_keys), cmocka_unit_test(test_tag),
        cmocka_unit_test(test_fail),        cmocka_unit_test(test_on_failure),
    };
    return cmocka_run_group_tests(tests, make_secrets, remove_secrets);
}
