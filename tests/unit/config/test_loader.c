/* ps_loader: one call loads the files, compiles the pipelines and checks tokens,
 * and every phase reports even when an earlier one found errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "podstream/ps_loader.h"

#define UNSET_VAR "PS_TEST_LOADER_UNSET"

/* The mistakes of docs/pipelines.md, a typo in podstream.yml and a token that does
 * not resolve: four phases, each with its own errors. */
static const char svc_typo[] = "log_levle: debug\n";
static const char devices[] = "devices:\n"
                              "  - id: 1\n"
                              "    name: pod\n"
                              "    type: proofpoint\n"
                              "    pipelines: [quarantine_tags, drop_delivered_mailog]\n"
                              "    properties:\n"
                              "      cluster: acme\n"
                              "      token: ${" UNSET_VAR "}\n";
static const char pipelines[] = "pipelines:\n"
                                "  - name: quarantine_tags\n"
                                "    processors:\n"
                                "      - tag:\n"
                                "          if: \"filter.disposition = 'discard'\"\n"
                                "          tags: [discarded]\n"
                                "      - set:\n"
                                "          field: event.category\n"
                                "          vaule: email\n"
                                "      - lowercase: {field: 'msg.header.from[0'}\n"
                                "      - convert: {field: sm.pri, type: number}\n"
                                "  - name: drop_delivered_maillog\n"
                                "    processors:\n"
                                "      - drop: {if: \"true\"}\n";

/* Sorted diagnostics, one per line. */
static void format_diag(ps_diag *d, char *out, size_t len)
{
    size_t used = 0;
    ps_diag_sort(d);
    out[0] = '\0';
    for (size_t i = 0; i < d->count && used < len; i++) {
        char line[2048];
        ps_diag_format(&d->items[i], line, sizeof line);
        used += (size_t)snprintf(out + used, len - used, "%s%s", i ? "\n" : "", line);
    }
}

static ps_err load(const ps_config_source *src, size_t n, unsigned flags, char *msgs, size_t len)
{
    ps_config *cfg = (ps_config *)1;
    ps_pipeline_set *set = (ps_pipeline_set *)1;
    ps_diag d;
    ps_err err;
    ps_diag_init(&d);
    err = ps_loader_load_sources("/srv/conf", src, n, flags, &cfg, &set, &d);
    format_diag(&d, msgs, len);
    if (err == PS_OK) {
        assert_non_null(cfg);
        assert_non_null(set);
    } else {
        assert_null(cfg);
        assert_null(set);
    }
    ps_pipeline_set_destroy(set);
    ps_config_destroy(cfg);
    ps_diag_deinit(&d);
    return err;
}

static void test_every_phase_reports(void **state)
{
    (void)state;
    const ps_config_source src[] = {
        {"podstream.yml", svc_typo, sizeof svc_typo - 1},
        {"devices/pod.yml", devices, sizeof devices - 1},
        {"pipelines/new.yml", pipelines, sizeof pipelines - 1},
    };
    char msgs[8192];
    unsetenv(UNSET_VAR);
    assert_int_equal(load(src, 3, PS_LOADER_TOKENS | PS_LOADER_RESOLVE, msgs, sizeof msgs),
                     PS_ERR_INVALID);
    assert_string_equal(
        msgs,
        "devices/pod.yml:5:34: error: devices[0].pipelines[1]: unknown pipeline "
        "\"drop_delivered_mailog\" (did you mean \"drop_delivered_maillog\"?)\n"
        "devices/pod.yml:8:14: error: devices[0].properties.token: environment variable " UNSET_VAR
        " is not set\n"
        "pipelines/new.yml:5:35: error: pipelines[0].processors[1].tag.if: invalid condition: '=' "
        "is not an operator; use '==' to compare\n"
        "pipelines/new.yml:7:9: error: pipelines[0].processors[2].set: set needs the option value "
        "(or copy_from)\n"
        "pipelines/new.yml:9:11: error: pipelines[0].processors[2].set.vaule: unknown option "
        "\"vaule\" for set (did you mean \"value\"?)\n"
        "pipelines/new.yml:10:46: error: pipelines[0].processors[3].lowercase.field: invalid "
        "field path: expected ']'\n"
        "pipelines/new.yml:11:40: error: pipelines[0].processors[4].convert.type: unknown value "
        "\"number\"; expected one of: string, int, integer, long, float, double, boolean, bool\n"
        "podstream.yml:1:1: error: log_levle: unknown key \"log_levle\" (did you mean "
        "\"log_level\"?)");
}

/* The service loads without the token phase: a token is resolved when its device
 * connects, and one that does not resolve stops only that device. */
static void test_tokens_only_when_asked(void **state)
{
    (void)state;
    static const char one[] = "- {id: 1, name: a, type: proofpoint, properties: "
                              "{cluster: c, token: \"${" UNSET_VAR "}\"}}\n"
                              "- {id: 2, name: b, type: proofpoint, properties: "
                              "{cluster: c, token: in-clear}}\n";
    const ps_config_source src[] = {{"devices/d.yml", one, sizeof one - 1}};
    char msgs[4096];
    unsetenv(UNSET_VAR);
    assert_int_equal(load(src, 1, PS_LOADER_RESOLVE, msgs, sizeof msgs), PS_OK);
    assert_string_equal(msgs, "");
    /* --no-secrets: clear text is still worth a warning. */
    assert_int_equal(load(src, 1, PS_LOADER_TOKENS, msgs, sizeof msgs), PS_OK);
    assert_string_equal(msgs, "devices/d.yml:2:70: warning: devices[1].properties.token: the "
                              "token is written in clear text; use ${ENV_VAR}, $secret{name} or "
                              "secure: true (see docs/security.md)");
    assert_int_equal(load(src, 1, PS_LOADER_TOKENS | PS_LOADER_RESOLVE, msgs, sizeof msgs),
                     PS_ERR_INVALID);
    assert_string_equal(msgs, "devices/d.yml:1:70: error: devices[0].properties.token: "
                              "environment variable " UNSET_VAR " is not set\n"
                              "devices/d.yml:2:70: warning: devices[1].properties.token: the "
                              "token is written in clear text; use ${ENV_VAR}, $secret{name} or "
                              "secure: true (see docs/security.md)");
}

/* A refused secrets_dir is reported once, not again by every $secret{} token. A
 * device whose token was refused is not checked again either. */
static void test_no_cascade(void **state)
{
    (void)state;
    static const char svc[] = "secrets_dir: \"\"\n";
    static const char dev[] = "- {id: 1, name: a, type: proofpoint, properties: "
                              "{cluster: c, token: \"$secret{pod}\"}}\n"
                              "- {id: 2, name: b, type: proofpoint, properties: "
                              "{cluster: c, token: \"\"}}\n";
    const ps_config_source src[] = {{"podstream.yml", svc, sizeof svc - 1},
                                    {"devices/d.yml", dev, sizeof dev - 1}};
    char msgs[4096];
    assert_int_equal(load(src, 2, PS_LOADER_TOKENS | PS_LOADER_RESOLVE, msgs, sizeof msgs),
                     PS_ERR_INVALID);
    assert_string_equal(msgs, "devices/d.yml:2:70: error: devices[1].properties.token: must not "
                              "be empty\n"
                              "podstream.yml:1:14: error: secrets_dir: must not be empty");
}

static void test_valid_and_missing(void **state)
{
    (void)state;
    static const char dev[] = "id: 3\nname: c\ntype: proofpoint\npipelines: [p]\n"
                              "properties: {cluster: c, token: \"$secret{x}\"}\n";
    static const char pipe[] = "- name: p\n  processors:\n    - tag: {tags: [a]}\n";
    const ps_config_source src[] = {{"devices/d.yml", dev, sizeof dev - 1},
                                    {"pipelines/p.yml", pipe, sizeof pipe - 1}};
    ps_config *cfg = NULL;
    ps_pipeline_set *set = NULL;
    char msgs[4096];
    ps_diag d;

    assert_int_equal(load(src, 2, PS_LOADER_TOKENS, msgs, sizeof msgs), PS_OK);
    assert_string_equal(msgs, "");
    ps_diag_init(&d);
    assert_int_equal(ps_loader_load_sources("/c", src, 2, 0, &cfg, &set, &d), PS_OK);
    assert_int_equal(ps_pipeline_set_count(set), 1);
    assert_non_null(ps_pipeline_set_device_chain(set, 3));
    ps_pipeline_set_destroy(set);
    ps_config_destroy(cfg);
    assert_int_equal(ps_loader_load("/nonexistent/podstream", 0, &cfg, &set, &d), PS_ERR_NOTFOUND);
    assert_null(cfg);
    assert_null(set);
    ps_diag_deinit(&d);
}

/* At a first start a missing podstream.yml means every default; on a reload it,
 * or one emptied by an editor mid-write, keeps the running configuration. `{}`
 * stays the way to ask for every default. */
static void test_reload_refuses_missing_or_empty_main_file(void **state)
{
    (void)state;
    static const char dev[] = "id: 3\nname: c\ntype: proofpoint\n"
                              "properties: {cluster: c, token: \"$secret{x}\"}\n";
    static const char comments[] = "  # being edited\n\n";
    static const char braces[] = "{}\n";
    ps_config_source src[] = {{"devices/d.yml", dev, sizeof dev - 1}, {"podstream.yml", "", 0}};
    char msgs[4096];

    assert_int_equal(load(src, 1, 0, msgs, sizeof msgs), PS_OK);
    assert_int_equal(load(src, 1, PS_LOADER_RELOAD, msgs, sizeof msgs), PS_ERR_INVALID);
    assert_string_equal(msgs, "podstream.yml: error: missing; a reload does not take a missing "
                              "podstream.yml for every setting at its default (restart the "
                              "service for that)");
    assert_int_equal(load(src, 2, 0, msgs, sizeof msgs), PS_OK);
    assert_int_equal(load(src, 2, PS_LOADER_RELOAD, msgs, sizeof msgs), PS_ERR_INVALID);
    assert_string_equal(msgs, "podstream.yml: error: empty (nothing but blanks and comments); a "
                              "reload does not take an empty podstream.yml for every setting at "
                              "its default (write `{}` for that)");
    src[1].data = comments;
    src[1].len = sizeof comments - 1;
    assert_int_equal(load(src, 2, PS_LOADER_RELOAD, msgs, sizeof msgs), PS_ERR_INVALID);
    src[1].data = braces;
    src[1].len = sizeof braces - 1;
    assert_int_equal(load(src, 2, PS_LOADER_RELOAD, msgs, sizeof msgs), PS_OK);
    assert_string_equal(msgs, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_phase_reports),
        cmocka_unit_test(test_tokens_only_when_asked),
        cmocka_unit_test(test_no_cascade),
        cmocka_unit_test(test_valid_and_missing),
        cmocka_unit_test(test_reload_refuses_missing_or_empty_main_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
