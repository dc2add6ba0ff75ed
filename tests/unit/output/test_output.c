/* The output framework (#16): oversized events split by msgParts (each part with
 * the shared keys) or truncated to valid, marked JSON; outputs parsed from
 * podstream.yml and outputs/ against the common table merged with the plugin's,
 * with file:line:col and field paths in every error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <cjson/cJSON.h>

#include "output/ps_out_syslog_fmt.h"
#include "output/ps_output_internal.h"

static const char three_parts[] =
    "{\"guid\":\"G1\",\"ts\":\"2024-05-22T12:00:00Z\",\"envelope\":{\"from\":\"a@example.com\"},"
    "\"msgParts\":[{\"detectedName\":\"text.txt\",\"content\":"
    "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"},"
    "{\"detectedName\":\"b.pdf\",\"content\":\"BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB\"},"
    "{\"detectedName\":\"c.zip\",\"content\":\"CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC\"}]}";

static void test_split_by_msgparts(void **state)
{
    pso_parts p;
    (void)state;
    assert_int_equal(pso_split(three_parts, strlen(three_parts), 400, &p), PS_OK);
    assert_int_equal(p.count, 3);
    assert_false(p.truncated);
    for (size_t i = 0; i < 3; i++) {
        cJSON *j = cJSON_Parse(p.json[i]);
        cJSON *parts = cJSON_GetObjectItem(j, "msgParts");
        cJSON *mark = cJSON_GetObjectItem(j, "podstreamPart");
        char want[8];
        assert_non_null(j);
        assert_true(strlen(p.json[i]) <= 400);
        assert_string_equal(cJSON_GetObjectItem(j, "guid")->valuestring, "G1");
        assert_string_equal(
            cJSON_GetObjectItem(cJSON_GetObjectItem(j, "envelope"), "from")->valuestring,
            "a@example.com");
        assert_int_equal(cJSON_GetArraySize(parts), 1);
        snprintf(want, sizeof want, "%c", "ABC"[i]);
        assert_non_null(strstr(
            cJSON_GetObjectItem(cJSON_GetArrayItem(parts, 0), "content")->valuestring, want));
        assert_int_equal(cJSON_GetObjectItem(mark, "index")->valueint, (int)i + 1);
        assert_int_equal(cJSON_GetObjectItem(mark, "count")->valueint, 3);
        cJSON_Delete(j);
    }
    pso_parts_free(&p);
    /* Fewer than two parts: nothing to split by. */
    assert_int_equal(pso_split("{\"guid\":\"G\",\"msgParts\":[{}]}", 26, 10, &p),
                     PS_ERR_UNSUPPORTED);
}

static void test_truncate_is_valid_marked_json(void **state)
{
    char *out = NULL;
    cJSON *j;
    (void)state;
    assert_int_equal(pso_truncate(three_parts, strlen(three_parts), 200, &out), PS_OK);
    assert_true(strlen(out) <= 200);
    j = cJSON_Parse(out);
    assert_non_null(j);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "podstreamTruncated")));
    assert_int_equal(cJSON_GetObjectItem(j, "podstreamOriginalBytes")->valueint,
                     (int)strlen(three_parts));
    /* The small keys stay: the bulk gives way first. */
    assert_string_equal(cJSON_GetObjectItem(j, "guid")->valuestring, "G1");
    cJSON_Delete(j);
    free(out);
    /* Not even the skeleton fits: the markers alone, still JSON. */
    assert_int_equal(pso_truncate(three_parts, strlen(three_parts), 20, &out), PS_OK);
    j = cJSON_Parse(out);
    assert_non_null(j);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "podstreamTruncated")));
    cJSON_Delete(j);
    free(out);
}

static const char devices_yml[] = "devices:\n"
                                  "  - id: 1\n"
                                  "    name: pod\n"
                                  "    type: proofpoint\n"
                                  "    properties: {cluster: c, token: \"${T}\"}\n";

static ps_err load(const char *main_yml, const char *out_yml, ps_output_defs **defs, ps_diag *diag)
{
    ps_config_source src[3] = {{"podstream.yml", main_yml, strlen(main_yml)},
                               {"devices/pod.yml", devices_yml, sizeof devices_yml - 1},
                               {"outputs/out.yml", out_yml, strlen(out_yml)}};
    ps_config *cfg = NULL;
    ps_err err = ps_config_load_sources("/etc/podstream", src, 3, &cfg, diag);
    *defs = NULL;
    if (err == PS_OK)
        err = ps_output_defs_create(cfg, NULL, defs, diag);
    ps_config_destroy(cfg);
    return err;
}

static void test_outputs_from_both_places(void **state)
{
    ps_diag diag;
    ps_output_defs *defs = NULL;
    (void)state;
    ps_diag_init(&diag);
    assert_int_equal(load("database: /tmp/x.db\n"
                          "outputs:\n"
                          "  - {name: f, type: file, path: out/e.jsonl, devices: [pod]}\n",
                          "name: s\ntype: syslog\nhost: siem.example\noversized: truncate\n"
                          "tls: {ca_file: ca.pem}\n",
                          &defs, &diag),
                     PS_OK);
    assert_int_equal(diag.errors, 0);
    if (!defs) {
        fail_msg("no outputs loaded");
        return;
    }
    assert_int_equal(defs->count, 2);
    assert_string_equal(defs->items[0].s->name, "f");
    assert_string_equal(defs->items[0].plugin->name, "file");
    assert_int_equal(defs->items[0].s->oversized, PS_OUTPUT_OVERSIZED_SPLIT); /* the plugin's */
    assert_int_equal(defs->items[0].s->batch_events, 500);
    assert_string_equal(*(char **)defs->items[0].options, "/etc/podstream/out/e.jsonl");
    assert_string_equal(defs->items[1].plugin->name, "syslog");
    assert_int_equal(defs->items[1].s->oversized, PS_OUTPUT_OVERSIZED_TRUNCATE);
    assert_string_equal(defs->items[1].s->tls.ca_file, "/etc/podstream/ca.pem");
    assert_true(ps_output_def_equal(&defs->items[1], &defs->items[1]));
    assert_false(ps_output_def_equal(&defs->items[0], &defs->items[1]));
    ps_output_defs_destroy(defs);
    ps_diag_deinit(&diag);
}

static void test_errors_name_file_line_and_field(void **state)
{
    ps_diag diag;
    ps_output_defs *defs = NULL;
    char buf[4096] = "";
    (void)state;
    ps_diag_init(&diag);
    assert_int_equal(load("{}\n",
                          "- {name: a, type: syslgo, host: h}\n"
                          "- name: a\n"
                          "  type: file\n"
                          "  path: /x\n"
                          "  keep: -1\n"
                          "  types: [mesage]\n"
                          "  retry_min: 10s\n"
                          "  retry_max: 1s\n"
                          "  hosst: x\n",
                          &defs, &diag),
                     PS_ERR_INVALID);
    assert_null(defs);
    for (size_t i = 0, len = 0; i < diag.count && len < sizeof buf; i++) {
        char line[600];
        ps_diag_format(&diag.items[i], line, sizeof line);
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s\n", line);
    }
    assert_non_null(strstr(buf, "outputs/out.yml:1:19: error: outputs[0].type: unknown output "
                                "type \"syslgo\" (did you mean \"syslog\"?)"));
    assert_non_null(strstr(buf, "outputs/out.yml:5:9: error: outputs[1].keep:"));
    assert_non_null(strstr(buf, "outputs/out.yml:6:11: error: outputs[1].types[0]: unknown data "
                                "type \"mesage\""));
    assert_non_null(strstr(buf, "outputs[1]: retry_min is longer than retry_max"));
    assert_non_null(strstr(buf, "outputs/out.yml:9:3: error: outputs[1].hosst: unknown key"));
    ps_diag_deinit(&diag);
}

static void render(int format, const char *hostname, const ps_output_event *e, char *out,
                   size_t len)
{
    syslog_opts o = {.host = "h",
                     .app_name = "podstream",
                     .hostname = (char *)hostname,
                     .facility = 16,
                     .severity = 6,
                     .format = format};
    ps_buf b;
    ps_buf_init(&b);
    assert_int_equal(pso_syslog_render(&o, e, &b), PS_OK);
    snprintf(out, len, "%.*s", (int)b.len, b.p);
    ps_buf_deinit(&b);
}

static void test_syslog_messages(void **state)
{
    const char *json = "{\"guid\":\"G1\",\"x\":\"a=b|c\\\\d\"}";
    ps_output_event e = {.id = 42,
                         .device_id = 7,
                         .device_name = "pod eu]\"x",
                         .type = PS_DATA_MESSAGE,
                         .ts_us = 1716379203058340LL,
                         .key = "G1",
                         .json = json,
                         .json_len = strlen(json),
                         .part = 2,
                         .parts = 3};
    char m[1024];
    (void)state;
    render(0, NULL, &e, m, sizeof m);
    /* HOSTNAME is the device name with the space made printable; SD values escape
     * ", \ and ]; the message is the JSON as it is. */
    assert_string_equal(m, "<134>1 2024-05-22T12:00:03.058340Z pod_eu]\"x podstream - message "
                           "[podstream@32473 device=\"pod eu\\]\\\"x\" deviceId=\"7\" "
                           "id=\"42\" key=\"G1\" part=\"2/3\"] "
                           "{\"guid\":\"G1\",\"x\":\"a=b|c\\\\d\"}");
    e.parts = 1;
    e.device_name = "pod";
    render(1, "collector1", &e, m, sizeof m);
    assert_non_null(strstr(m, " collector1 podstream - message "));
    assert_non_null(strstr(m, "] CEF:0|Proofpoint|POD|1.0|message|POD message event|3|"
                              "rt=1716379203058 externalId=G1 cs1Label=device cs1=pod "
                              "msg={\"guid\":\"G1\",\"x\":\"a\\=b|c\\\\\\\\d\"}"));
    render(2, NULL, &e, m, sizeof m);
    assert_non_null(strstr(m, "] LEEF:2.0|Proofpoint|POD|1.0|message|x09|devTime=1716379203058\t"
                              "devTimeFormat=epoch_ms\texternalId=G1\tdeviceName=pod\tmsg={"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_by_msgparts),
        cmocka_unit_test(test_truncate_is_valid_marked_json),
        cmocka_unit_test(test_outputs_from_both_places),
        cmocka_unit_test(test_errors_name_file_line_and_field),
        cmocka_unit_test(test_syslog_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
