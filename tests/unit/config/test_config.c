/* ps_config: the configuration directory. Every fixture under
 * tests/data/config/invalid/ is loaded and its complete diagnostic output is
 * compared with the exact text an admin will see. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "podstream/ps_config.h"
#include "podstream/ps_platform.h"
#include "podstream/ps_schema.h"

static char data_dir[1024];

static int setup(void **state)
{
    const char *d = getenv("PS_TEST_DATA");
    (void)state;
    if (!d) {
        fprintf(stderr, "PS_TEST_DATA is not set; run through ctest\n");
        return -1;
    }
    snprintf(data_dir, sizeof data_dir, "%s/config", d);
    return 0;
}

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

static ps_err load(const char *rel, ps_config **cfg, char *msgs, size_t len)
{
    char dir[1200];
    ps_diag d;
    ps_err err;
    snprintf(dir, sizeof dir, "%s/%s", data_dir, rel);
    ps_diag_init(&d);
    err = ps_config_load(dir, cfg, &d);
    format_diag(&d, msgs, len);
    ps_diag_deinit(&d);
    return err;
}

static void expect_invalid(const char *rel, const char *want)
{
    ps_config *cfg = (ps_config *)1;
    char msgs[8192];
    assert_int_equal(load(rel, &cfg, msgs, sizeof msgs), PS_ERR_INVALID);
    assert_null(cfg);
    assert_string_equal(msgs, want);
}

/* ---- the valid tree: three file shapes, pipelines, every service setting --- */

/* Every field of the valid devices, defaults included. */
static void check_valid_devices(const ps_config *cfg)
{
    const ps_device *d = &cfg->devices[0];
    assert_string_equal(d->name, "proofpoint-message");
    assert_string_equal(d->description, "Message events");
    assert_string_equal(d->type, "proofpoint");
    assert_int_equal(d->ntags, 2);
    assert_string_equal(d->tags[0], "email");
    assert_string_equal(d->tags[1], "pod");
    assert_int_equal(d->npipelines, 2);
    assert_string_equal(d->pipelines[1], "enrich");
    assert_string_equal(d->pipeline_pos[1].file, "devices/10-director.yml");
    assert_int_equal(d->pipeline_pos[1].line, 10);
    assert_int_equal(d->pipeline_pos[1].col, 9);
    assert_true(d->status);
    assert_string_equal(d->path, "devices[0]");
    assert_string_equal(d->pos.file, "devices/10-director.yml");
    assert_int_equal(d->pos.line, 3);
    assert_int_equal(d->pos.col, 5);
    assert_string_equal(d->props.cluster, "acme_hosted");
    assert_string_equal(d->props.token, "${POD_TOKEN}"); /* as written, never resolved here */
    assert_string_equal(d->props.token_pos.file, "devices/10-director.yml");
    assert_int_equal(d->props.token_pos.line, 13);
    assert_int_equal(d->props.token_pos.col, 14);
    assert_int_equal(d->props.type, PS_DATA_MESSAGE);
    assert_string_equal(d->props.endpoint, "wss://logstream.proofpoint.com:443/v1/stream");
    assert_false(d->props.secure);
    assert_int_equal(d->props.workers, 1);
    assert_true(d->props.reuse);

    d = &cfg->devices[1];
    assert_string_equal(d->path, "devices[1]");
    assert_false(d->status);
    assert_null(d->description);
    assert_int_equal(d->ntags, 0);
    assert_null(d->tags);
    assert_int_equal(d->npipelines, 0);
    assert_string_equal(d->props.endpoint, "wss://logstream.eu.proofpoint.com/v1/stream");
    assert_string_equal(d->props.token, "$secret{pod-token}");
    assert_int_equal(d->props.type, PS_DATA_MAILLOG);
    assert_int_equal(d->props.workers, 4);
    assert_false(d->props.reuse);

    d = &cfg->devices[2];
    assert_string_equal(d->path, "devices[0]"); /* indexes count within each file */
    assert_string_equal(d->pos.file, "devices/20-list.yml");
    assert_int_equal(d->pos.line, 2);
    assert_int_equal(d->pos.col, 3);
    assert_int_equal(d->props.type, PS_DATA_AUDIT);

    d = &cfg->devices[3];
    assert_string_equal(d->pos.file, "devices/30-single.yaml");
    assert_int_equal(d->pos.line, 2);
    assert_int_equal(d->pos.col, 1);
    assert_null(d->description); /* written but empty */
    assert_true(d->props.secure);
    assert_string_equal(d->props.token, "enc:v1:AAAA");
}

/* Service settings, relative paths made absolute against the directory. */
static void check_valid_service(const ps_config *cfg)
{
    char want[2048];
    snprintf(want, sizeof want, "%s/valid/data/events.db", data_dir);
    assert_string_equal(cfg->service.database, want);
    snprintf(want, sizeof want, "%s/valid/creds", data_dir);
    assert_string_equal(cfg->service.secrets_dir, want);
    assert_string_equal(cfg->service.key_file, "/var/lib/podstream/key");
    assert_string_equal(cfg->service.tls_ca_file, "/etc/ssl/certs/ca-certificates.crt");
    assert_int_equal(cfg->service.log_level, PS_LOG_DEBUG);
    assert_int_equal(cfg->service.retention_days, 7);
    assert_int_equal(cfg->service.retention_max_bytes, 20000000000ULL);
    assert_int_equal(cfg->service.max_frame_bytes, 16u * 1024 * 1024);
    assert_int_equal(cfg->service.resume_policy, PS_RESUME_LIVE_ONLY);
    assert_string_equal(cfg->service.proxy, "http://proxy.example.net:3128");
    assert_string_equal(cfg->service.proxy_username, "${PROXY_USER}");
    assert_string_equal(cfg->service.proxy_username_pos.file, "podstream.yml");
    assert_int_equal(cfg->service.proxy_username_pos.line, 10);
    assert_int_equal(cfg->service.proxy_username_pos.col, 17);
    assert_string_equal(cfg->service.proxy_password, "$secret{proxy}");
    assert_int_equal(cfg->service.connect_timeout_ms, 10000);
    assert_int_equal(cfg->service.keepalive_ms, 20000);
    assert_int_equal(cfg->service.dead_after_ms, 60000);
    assert_int_equal(cfg->service.backoff_initial_ms, 500);
    assert_int_equal(cfg->service.backoff_max_ms, 120000);
    assert_int_equal(cfg->service.unauthorised_retry_ms, 3600000);
}

static void test_valid_tree(void **state)
{
    (void)state;
    ps_config *cfg = NULL;
    char msgs[4096], want[2048];

    assert_int_equal(load("valid", &cfg, msgs, sizeof msgs), PS_OK);
    assert_string_equal(msgs, "");
    snprintf(want, sizeof want, "%s/valid", data_dir);
    assert_string_equal(cfg->dir, want);

    /* Files in name order: the Director file, the bare list, the lone mapping. */
    assert_int_equal(cfg->ndevices, 4);
    assert_int_equal(cfg->devices[0].id, 1);
    assert_int_equal(cfg->devices[1].id, 2);
    assert_int_equal(cfg->devices[2].id, 3);
    assert_int_equal(cfg->devices[3].id, 40);

    /* Pipelines: the list beside devices:, a pipelines: file, a lone mapping. */
    assert_int_equal(cfg->npipeline_files, 3);
    assert_string_equal(ps_yaml_doc_name(cfg->pipeline_files[0].doc), "devices/10-director.yml");
    assert_int_equal(cfg->pipeline_files[0].list->kind, PS_YAML_SEQ);
    assert_string_equal(ps_yaml_map_get(cfg->pipeline_files[0].list->items[0], "name")->value,
                        "normalize");
    assert_string_equal(ps_yaml_doc_name(cfg->pipeline_files[1].doc), "pipelines/enrich.yml");
    assert_int_equal(cfg->pipeline_files[1].list->kind, PS_YAML_SEQ);
    assert_int_equal(cfg->pipeline_files[1].list->line, 2);
    assert_string_equal(ps_yaml_doc_name(cfg->pipeline_files[2].doc), "pipelines/lone.yml");
    assert_int_equal(cfg->pipeline_files[2].list->kind, PS_YAML_MAP);

    /* Every file read is listed (README.txt is not YAML and was skipped). */
    assert_int_equal(cfg->nfiles, 6);
    assert_string_equal(cfg->files[0], "podstream.yml");
    assert_string_equal(cfg->files[3], "devices/30-single.yaml");
    assert_string_equal(cfg->files[5], "pipelines/lone.yml");

    check_valid_devices(cfg);
    check_valid_service(cfg);
    assert_ptr_equal(ps_config_find_device(cfg, 40), &cfg->devices[3]);
    assert_null(ps_config_find_device(cfg, 41));
    assert_null(ps_config_find_device(NULL, 1));
    ps_config_destroy(cfg);
    ps_config_destroy(NULL);
}

static void test_reload_compares_equal(void **state)
{
    (void)state;
    ps_config *a = NULL, *b = NULL;
    char msgs[1024];
    assert_int_equal(load("valid", &a, msgs, sizeof msgs), PS_OK);
    assert_int_equal(load("valid", &b, msgs, sizeof msgs), PS_OK);
    for (size_t i = 0; i < a->ndevices; i++)
        assert_true(ps_device_equal(&a->devices[i], &b->devices[i]));
    assert_false(ps_device_equal(&a->devices[0], &b->devices[1]));
    ps_config_destroy(a);
    ps_config_destroy(b);
}

/* ---- each rule, from a fixture, with its exact output ---------------------- */

static void test_unknown_key(void **state)
{
    (void)state;
    expect_invalid("invalid/unknown-key",
                   "devices/bad.yml:5:5: error: devices[0].propertes: unknown key \"propertes\" "
                   "(did you mean \"properties\"?)");
}

static void test_workers_out_of_range(void **state)
{
    (void)state;
    expect_invalid("invalid/workers-range", "devices/bad.yml:9:16: error: "
                                            "devices[0].properties.workers: 0 is out of range "
                                            "(1..64)");
}

static void test_bad_enum(void **state)
{
    (void)state;
    expect_invalid("invalid/bad-enum",
                   "devices/bad.yml:8:13: error: devices[0].properties.type: \"mesage\" must be "
                   "one of message, maillog, audit (did you mean \"message\"?)");
}

static void test_id_not_a_number(void **state)
{
    (void)state;
    expect_invalid("invalid/id-string",
                   "devices/bad.yml:2:9: error: devices[0].id: expected a number, got a string");
}

static void test_duplicate_ids_across_files(void **state)
{
    (void)state;
    expect_invalid("invalid/duplicate-id",
                   "devices/b.yml:2:9: error: devices[0].id: duplicate id 1 (also in "
                   "devices/a.yml:2:9)\n"
                   "devices/b.yml:6:9: error: devices[1].id: duplicate id 1 (also in "
                   "devices/a.yml:2:9)");
}

static void test_endpoints(void **state)
{
    (void)state;
    expect_invalid("invalid/endpoint",
                   "devices/bad.yml:5:53: error: devices[0].properties.endpoint: must be a ws:// "
                   "or wss:// URL (write wss:// instead of https://)\n"
                   "devices/bad.yml:9:53: error: devices[1].properties.endpoint: must be a ws:// "
                   "or wss:// URL\n"
                   "devices/bad.yml:13:53: error: devices[2].properties.endpoint: must be a "
                   "ws:// or wss:// URL with a host\n"
                   "devices/bad.yml:17:53: error: devices[3].properties.endpoint: has an invalid "
                   "port (must be 1..65535)");
}

static void test_missing_required(void **state)
{
    (void)state;
    expect_invalid("invalid/missing-required",
                   "devices/bad.yml:6:7: error: devices[0].properties: missing required field "
                   "\"cluster\"\n"
                   "devices/bad.yml:11:7: error: devices[1].properties: missing required field "
                   "\"token\"\n"
                   "devices/bad.yml:12:5: error: devices[2]: missing required field \"id\"\n"
                   "devices/bad.yml:12:5: error: devices[2]: missing required field \"type\"\n"
                   "devices/bad.yml:12:5: error: devices[2]: missing required field "
                   "\"properties\"");
}

static void test_wrong_level(void **state)
{
    (void)state;
    expect_invalid("invalid/wrong-level",
                   "devices/bad.yml:4:3: error: devices[0].cluster: unknown key \"cluster\" (it "
                   "belongs under \"properties\")\n"
                   "devices/bad.yml:6:5: error: devices[0].properties: missing required field "
                   "\"cluster\"\n"
                   "devices/bad.yml:7:5: error: devices[0].properties.name: unknown key \"name\" "
                   "(it belongs one level up, beside \"properties\")");
}

static void test_every_error_at_once(void **state)
{
    (void)state;
    expect_invalid(
        "invalid/types",
        "devices/bad.yml:2:9: error: devices[0].id: 1.5 is not a whole number\n"
        "devices/bad.yml:3:10: error: devices[0].name: expected a string, got an empty value\n"
        "devices/bad.yml:4:11: error: devices[0].type: \"syslog\" must be proofpoint\n"
        "devices/bad.yml:5:11: error: devices[0].tags: expected a list of strings, got a string\n"
        "devices/bad.yml:6:28: error: devices[0].pipelines[1]: expected a string, got a mapping\n"
        "devices/bad.yml:6:44: error: devices[0].pipelines[2]: must not be empty\n"
        "devices/bad.yml:7:13: error: devices[0].status: expected true or false, got a string\n"
        "devices/bad.yml:9:16: error: devices[0].properties.cluster: expected a string, got a "
        "list\n"
        "devices/bad.yml:10:14: error: devices[0].properties.token: must not be empty\n"
        "devices/bad.yml:11:15: error: devices[0].properties.secure: expected true or false, got "
        "a number\n"
        "devices/bad.yml:12:16: error: devices[0].properties.workers: expected a number, got a "
        "string\n"
        "devices/bad.yml:14:9: error: devices[1].id: 99999999999999999999 is out of range "
        "(1..2147483647)\n"
        "devices/bad.yml:15:11: error: devices[1].name: expected a string, got a list\n"
        "devices/bad.yml:16:11: error: devices[1].type: \"proofpont\" must be proofpoint (did you "
        "mean \"proofpoint\"?)\n"
        "devices/bad.yml:17:17: error: devices[1].properties: expected a mapping, got a string\n"
        "devices/bad.yml:18:5: error: devices[2]: expected a device (a mapping), got a string");
}

static void test_yaml_syntax_error(void **state)
{
    (void)state;
    expect_invalid("invalid/syntax",
                   "devices/bad.yml:6:7: error: YAML syntax error: did not find expected ',' or "
                   "'}' while parsing a flow mapping that starts at line 5, column 17");
}

/* The three messages an admin could not act on: where a bad byte is, that a tab is
 * the problem, and the range of a whole number written like a float. */
static void test_messages_that_say_what_is_wrong(void **state)
{
    (void)state;
    expect_invalid("invalid/tab",
                   "devices/bad.yml:6:1: error: tab used for indentation; YAML allows only spaces");
    expect_invalid("invalid/utf8", "devices/bad.yml:3:13: error: not valid UTF-8 (invalid leading "
                                   "UTF-8 octet); save the file as UTF-8");
    expect_invalid("invalid/float-int", "devices/bad.yml:8:16: error: "
                                        "devices[0].properties.workers: 1e9 must be a whole "
                                        "number from 1 to 64");
}

/* What loads beside an error is kept for the later checks (ps_loader): here the
 * device and the pipeline file next to a typo in podstream.yml. */
static void test_partial_load(void **state)
{
    (void)state;
    char dir[1200], msgs[2048];
    ps_config *cfg = NULL;
    ps_diag d;
    snprintf(dir, sizeof dir, "%s/invalid/every-phase", data_dir);
    ps_diag_init(&d);
    assert_int_equal(ps_config_load_partial(dir, &cfg, &d), PS_ERR_INVALID);
    format_diag(&d, msgs, sizeof msgs);
    assert_string_equal(msgs, "podstream.yml:1:1: error: log_levle: unknown key \"log_levle\" "
                              "(did you mean \"log_level\"?)");
    assert_non_null(cfg);
    assert_int_equal(cfg->ndevices, 1);
    assert_int_equal(cfg->devices[0].npipelines, 2);
    assert_int_equal(cfg->npipeline_files, 1);
    ps_config_destroy(cfg);
    assert_int_equal(ps_config_load_partial("/nonexistent/podstream", &cfg, &d), PS_ERR_NOTFOUND);
    assert_null(cfg);
    ps_diag_deinit(&d);
}

static void test_file_shapes(void **state)
{
    (void)state;
    expect_invalid("invalid/shapes",
                   "devices/scalar.yml:1:1: error: expected a devices: list, a list of devices "
                   "or one device, got a string\n"
                   "devices/typo.yml:1:1: error: device: unknown key \"device\" (did you mean "
                   "\"devices\"?)\n"
                   "devices/wrapper.yml:2:3: error: devices: expected a list of devices, got a "
                   "mapping\n"
                   "devices/wrapper.yml:3:12: error: pipelines: expected a list of pipelines, got "
                   "a string\n"
                   "devices/wrapper.yml:4:1: error: targets: unknown key \"targets\" (a file with "
                   "a devices: or pipelines: list holds nothing else)\n"
                   "pipelines/scalar.yml:1:1: error: expected a pipelines: list, a list of "
                   "pipelines or one pipeline, got a number");
}

static void test_service_settings(void **state)
{
    (void)state;
    expect_invalid(
        "invalid/service",
        "podstream.yml:1:11: error: database: a leading ~ is not expanded; write the full path\n"
        "podstream.yml:2:12: error: log_level: \"verbose\" must be one of error, warn, info, "
        "debug\n"
        "podstream.yml:3:17: error: retention_days: 4000 is out of range (0..3650)\n"
        "podstream.yml:4:24: error: retention_max_db_size: \"20 gigs\" is not a size; write a "
        "whole number with an optional unit (B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)\n"
        "podstream.yml:5:17: error: max_frame_size: 512KiB is out of range (1MiB..1GiB)\n"
        "podstream.yml:6:16: error: resume_policy: \"Auto\" must be one of auto, live-only (did "
        "you mean \"auto\"?)\n"
        "podstream.yml:7:8: error: proxy: must be an http://, https://, socks5:// or socks5h:// "
        "URL\n"
        "podstream.yml:8:1: error: proxy_user: unknown key \"proxy_user\" (did you mean "
        "\"proxy_username\"?)\n"
        "podstream.yml:10:13: error: dead_after: 1m must be longer than keepalive (2m)\n"
        "podstream.yml:12:14: error: backoff_max: 5s must be at least backoff_initial (10m)\n"
        "podstream.yml:13:18: error: connect_timeout: \"forever\" is not a duration; write a "
        "whole number with a unit (ms, s, m, h, d, w), e.g. 30s, 5m or 1h30m\n"
        "podstream.yml:14:1: error: devices: unknown key \"devices\" (devices go in files under "
        "devices/, not in podstream.yml)");
}

static void test_service_ordering_against_defaults(void **state)
{
    (void)state;
    /* Only one of each pair is written: the message names the default it clashes
     * with, at the value that was written. */
    expect_invalid("invalid/service-order",
                   "podstream.yml:1:12: error: keepalive: 2m must be shorter than dead_after "
                   "(1m30s)\n"
                   "podstream.yml:2:18: error: backoff_initial: 10m must be at most backoff_max "
                   "(5m)\n"
                   "podstream.yml:3:17: warning: proxy_username: ignored because proxy is not "
                   "set");
}

/* A trip window alone must not make trips more often than the archive can hold
 * what they fetch. */
static void test_repair_trip_max_age_at_least_archive_delay(void **state)
{
    (void)state;
    expect_invalid("invalid/repair-trip",
                   "podstream.yml:2:22: error: repair_trip_max_age: 1h must be at least "
                   "archive_delay (2h)");
}

/* ---- warnings do not fail the load ------------------------------------------ */

static void test_duplicate_name_warns(void **state)
{
    (void)state;
    ps_config *cfg = NULL;
    char msgs[1024];
    assert_int_equal(load("warnings/duplicate-name", &cfg, msgs, sizeof msgs), PS_OK);
    assert_string_equal(msgs, "devices/pod.yml:6:9: warning: devices[1].name: duplicate name "
                              "\"pod\" (also in devices/pod.yml:2:9)");
    assert_int_equal(cfg->ndevices, 2);
    ps_config_destroy(cfg);
}

static void test_stray_top_level_file_warns(void **state)
{
    (void)state;
    ps_config *cfg = NULL;
    char msgs[1024];
    assert_int_equal(load("warnings/stray", &cfg, msgs, sizeof msgs), PS_OK);
    assert_string_equal(msgs, "devices.yml: warning: ignored: only podstream.yml is read here; "
                              "devices go in devices/ and pipelines in pipelines/");
    assert_int_equal(cfg->ndevices, 1);
    ps_config_destroy(cfg);
}

/* ---- directories made on the spot ----------------------------------------- */

static void make_temp_dir(char *buf, size_t len)
{
    snprintf(buf, len, "/tmp/ps_test_config_XXXXXX");
    assert_non_null(mkdtemp(buf));
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[1200];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void remove_tree(const char *dir)
{
    char cmd[1300];
#ifdef _WIN32
    /* cmd.exe's rmdir wants backslashes. */
    char win[1200];
    snprintf(win, sizeof win, "%s", dir);
    for (char *p = win; *p; p++)
        *p = *p == '/' ? '\\' : *p;
    snprintf(cmd, sizeof cmd, "rmdir /s /q \"%s\"", win);
#else
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
#endif
    assert_int_equal(system(cmd), 0);
}

/* Paths podstream joins use the system's separator: compare them that way. */
static void assert_same_path(const char *got, const char *want)
{
    char a[1200], b[1200];
    snprintf(a, sizeof a, "%s", got);
    snprintf(b, sizeof b, "%s", want);
    for (char *p = a; *p; p++)
        *p = *p == '\\' ? '/' : *p;
    for (char *p = b; *p; p++)
        *p = *p == '\\' ? '/' : *p;
    assert_string_equal(a, b);
}

static void test_missing_directory(void **state)
{
    (void)state;
    ps_config *cfg = (ps_config *)1;
    ps_diag d;
    char msgs[1024];
    ps_diag_init(&d);
    assert_int_equal(ps_config_load("/nonexistent/podstream", &cfg, &d), PS_ERR_NOTFOUND);
    assert_null(cfg);
    format_diag(&d, msgs, sizeof msgs);
    assert_string_equal(msgs, "error: configuration directory /nonexistent/podstream does not "
                              "exist");
    ps_diag_deinit(&d);

    ps_diag_init(&d);
    assert_int_equal(ps_config_load("/etc/hostname", &cfg, &d), PS_ERR_INVALID);
    format_diag(&d, msgs, sizeof msgs);
    assert_string_equal(msgs, "error: configuration directory /etc/hostname is not a directory");
    ps_diag_deinit(&d);
}

static void test_empty_directory_gets_defaults(void **state)
{
    (void)state;
    char dir[64], want[1200], msgs[1024];
    ps_config *cfg = NULL;
    ps_diag d;

    make_temp_dir(dir, sizeof dir);
    ps_diag_init(&d);
    assert_int_equal(ps_config_load(dir, &cfg, &d), PS_OK);
    format_diag(&d, msgs, sizeof msgs);
    snprintf(want, sizeof want, "warning: no devices configured; add a file in %s/devices", dir);
    assert_string_equal(msgs, want);
    assert_int_equal(cfg->ndevices, 0);
    assert_int_equal(cfg->npipeline_files, 0);
    assert_int_equal(cfg->nfiles, 0);
    snprintf(want, sizeof want, "%s/podstream.db", ps_plat_default_state_dir());
    assert_same_path(cfg->service.database, want);
    snprintf(want, sizeof want, "%s/podstream.key", dir);
    assert_string_equal(cfg->service.key_file, want);
    snprintf(want, sizeof want, "%s/secrets", dir);
    assert_string_equal(cfg->service.secrets_dir, want);
    ps_config_destroy(cfg);
    ps_diag_deinit(&d);

    /* An empty devices/ directory and empty files say the same. */
    snprintf(want, sizeof want, "%s/devices", dir);
    assert_int_equal(mkdir(want, 0755), 0);
    write_file(dir, "devices/empty.yml", "# nothing yet\n");
    write_file(dir, "podstream.yml", "");
    ps_diag_init(&d);
    assert_int_equal(ps_config_load(dir, &cfg, &d), PS_OK);
    assert_int_equal(d.count, 1);
    assert_int_equal(d.items[0].sev, PS_DIAG_WARNING);
    assert_int_equal(cfg->service.retention_days, 30);
    ps_config_destroy(cfg);
    ps_diag_deinit(&d);
    remove_tree(dir);
}

static void test_relative_directory_becomes_absolute(void **state)
{
    (void)state;
    char cwd[1024], want[1200], msgs[1024];
    ps_config *cfg = NULL;
    ps_diag d;
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(data_dir), 0);
    ps_diag_init(&d);
    assert_int_equal(ps_config_load("./valid/", &cfg, &d), PS_OK);
    format_diag(&d, msgs, sizeof msgs);
    assert_string_equal(msgs, "");
    snprintf(want, sizeof want, "%s/valid", data_dir);
    assert_same_path(cfg->dir, want);
    snprintf(want, sizeof want, "%s/valid/data/events.db", data_dir);
    assert_same_path(cfg->service.database, want);
    ps_config_destroy(cfg);
    ps_diag_deinit(&d);
    assert_int_equal(chdir(cwd), 0);
}

static void test_unreadable_files_are_errors(void **state)
{
    (void)state;
    char dir[64], sub[1200], msgs[2048], want[2048];
    ps_config *cfg = (ps_config *)1;
    ps_diag d;

    make_temp_dir(dir, sizeof dir);
    snprintf(sub, sizeof sub, "%s/podstream.yml", dir);
    assert_int_equal(mkdir(sub, 0755), 0); /* a directory where a file belongs */
    snprintf(sub, sizeof sub, "%s/devices", dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    write_file(dir, "devices/pod.yml",
               "id: 1\nname: pod\ntype: proofpoint\nproperties: {cluster: a, token: t}\n");
    ps_diag_init(&d);
    assert_int_equal(ps_config_load(dir, &cfg, &d), PS_ERR_INVALID);
    assert_null(cfg);
    format_diag(&d, msgs, sizeof msgs);
    snprintf(want, sizeof want, "podstream.yml: error: %s/podstream.yml is not a regular file",
             dir);
    assert_string_equal(msgs, want);
    ps_diag_deinit(&d);
    remove_tree(dir);
}

/* Each was skipped silently: `validate` said valid and a running service removed
 * the devices the file held. A symbolic link to a regular file stays fine. */
static void test_entries_that_are_not_files_are_errors(void **state)
{
    (void)state;
    static const char dev[] =
        "id: %d\nname: d%d\ntype: proofpoint\nproperties: {cluster: a, token: t}\n";
    char dir[64], p[1200], q[1200], text[128], msgs[2048];
    ps_config *cfg = NULL;
    ps_diag d;

    make_temp_dir(dir, sizeof dir);
    snprintf(p, sizeof p, "%s/devices", dir);
    snprintf(q, sizeof q, "%s/pipelines", dir);
    assert_int_equal(mkdir(p, 0755) | mkdir(q, 0755), 0);
    for (int id = 1; id <= 2; id++) {
        snprintf(text, sizeof text, dev, id, id);
        write_file(dir, id == 1 ? "devices/pod.yml" : "elsewhere.txt", text);
    }
    snprintf(p, sizeof p, "%s/devices/link.yml", dir);
    assert_int_equal(symlink("../elsewhere.txt", p), 0);
    snprintf(p, sizeof p, "%s/devices/dangling.yml", dir);
    assert_int_equal(symlink("gone.yml", p), 0);
    snprintf(p, sizeof p, "%s/devices/loop.yml", dir);
    assert_int_equal(symlink("loop.yml", p), 0);
    snprintf(p, sizeof p, "%s/devices/dir.yml", dir);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/devices/fifo.yml", dir);
    snprintf(q, sizeof q, "%s/pipelines/fifo.yaml", dir);
    assert_int_equal(mkfifo(p, 0644) | mkfifo(q, 0644), 0);
    snprintf(p, sizeof p, "%s/devices/notes.txt", dir);
    assert_int_equal(mkfifo(p, 0644), 0); /* not a YAML name: ignored as before */

    ps_diag_init(&d);
    assert_int_equal(ps_config_load_partial(dir, &cfg, &d), PS_ERR_INVALID);
    format_diag(&d, msgs, sizeof msgs);
    assert_string_equal(msgs, "devices/dangling.yml: error: a dangling symbolic link\n"
                              "devices/dir.yml: error: not a regular file (a directory)\n"
                              "devices/fifo.yml: error: not a regular file (a FIFO)\n"
                              "devices/loop.yml: error: a symbolic link loop\n"
                              "pipelines/fifo.yaml: error: not a regular file (a FIFO)");
    assert_int_equal(cfg->ndevices, 2);
    ps_config_destroy(cfg);
    ps_diag_deinit(&d);
    remove_tree(dir);
}

/* ---- in-memory sources (the GUI and the fuzzer) ----------------------------- */

static void test_load_sources(void **state)
{
    (void)state;
    static const char dev[] = "devices:\n"
                              "  - id: 5\n"
                              "    name: from-memory\n"
                              "    type: proofpoint\n"
                              "    properties: {cluster: c, token: t}\n";
    static const char svc[] = "retention_days: 1\nsecrets_dir: s\n";
    const ps_config_source src[] = {
        {"podstream.yml", svc, sizeof svc - 1},
        {"devices/mem.yml", dev, sizeof dev - 1},
        {"pipelines/p.yml", "- name: x\n", 10},
    };
    ps_config *cfg = NULL;
    ps_diag d;
    char msgs[2048];

    ps_diag_init(&d);
    assert_int_equal(ps_config_load_sources("/srv/conf/", src, 3, &cfg, &d), PS_OK);
    assert_int_equal(d.count, 0);
    assert_string_equal(cfg->dir, "/srv/conf");
    assert_string_equal(cfg->service.secrets_dir, "/srv/conf/s");
    assert_int_equal(cfg->service.retention_days, 1);
    assert_int_equal(cfg->ndevices, 1);
    assert_string_equal(cfg->devices[0].name, "from-memory");
    assert_string_equal(cfg->devices[0].pos.file, "devices/mem.yml");
    assert_int_equal(cfg->npipeline_files, 1);
    ps_config_destroy(cfg);
    ps_diag_deinit(&d);

    const ps_config_source bad[] = {
        {"podstream.yml", svc, sizeof svc - 1},
        {"podstream.yml", svc, sizeof svc - 1},
        {"targets/t.yml", "a: 1\n", 5},
        {"devices/", "", 0},
    };
    ps_diag_init(&d);
    assert_int_equal(ps_config_load_sources("/srv/conf", bad, 4, &cfg, &d), PS_ERR_INVALID);
    assert_null(cfg);
    format_diag(&d, msgs, sizeof msgs);
    assert_string_equal(msgs, "devices/: error: not a configuration file: expected podstream.yml, "
                              "devices/*.yml or pipelines/*.yml\n"
                              "podstream.yml: error: given twice\n"
                              "targets/t.yml: error: not a configuration file: expected "
                              "podstream.yml, devices/*.yml or pipelines/*.yml");
    ps_diag_deinit(&d);
}

static void test_many_devices(void **state)
{
    (void)state;
    /* 5,000 devices in one file with one repeated id at the end: the duplicate
     * check is not quadratic and still names the first use. */
    size_t cap = 5001 * 120, used = 0;
    char *text = malloc(cap), msgs[1024];
    ps_config *cfg = NULL;
    ps_diag d;
    assert_non_null(text);
    used += (size_t)snprintf(text, cap, "devices:\n");
    for (int i = 1; i <= 5000; i++)
        used += (size_t)snprintf(text + used, cap - used,
                                 "  - {id: %d, name: d%d, type: proofpoint, properties: "
                                 "{cluster: c, token: t}}\n",
                                 i == 5000 ? 17 : i, i);
    ps_config_source src = {"devices/many.yml", text, used};
    ps_diag_init(&d);
    assert_int_equal(ps_config_load_sources("/c", &src, 1, &cfg, &d), PS_ERR_INVALID);
    format_diag(&d, msgs, sizeof msgs);
    assert_string_equal(msgs, "devices/many.yml:5001:10: error: devices[4999].id: duplicate id "
                              "17 (also in devices/many.yml:18:10)");
    ps_diag_deinit(&d);
    free(text);
}

/* The shipped podstream.yml lists every setting, commented out, at its default,
 * and loads as the defaults. A setting added to the table must be added there. */
static void test_example_lists_every_setting(void **state)
{
    (void)state;
    const ps_schema_table *t = ps_schema_service();
    const char *src = getenv("PS_SOURCE_DIR");
    char path[1200], *text = NULL, msgs[1024], want[256];
    size_t len = 0;
    ps_errmsg em;
    ps_config *cfg = NULL;
    ps_diag d;

    assert_non_null(src);
    snprintf(path, sizeof path, "%s/examples/config/podstream.yml", src);
    assert_int_equal(ps_plat_read_file(path, 1 << 20, &text, &len, &em), PS_OK);
    for (size_t i = 0; i < t->count; i++) {
        const ps_schema_field *f = &t->fields[i];
        if (f->def && f->type != PS_SCHEMA_PATH)
            snprintf(want, sizeof want, "\n# %s: %s", f->name, f->def);
        else
            snprintf(want, sizeof want, "\n# %s: ", f->name);
        if (!strstr(text, want))
            fail_msg("examples/config/podstream.yml lacks \"%s\"", want + 1);
    }
    free(text);

    snprintf(path, sizeof path, "%s/examples/config", src);
    ps_diag_init(&d);
    assert_int_equal(ps_config_load(path, &cfg, &d), PS_OK);
    format_diag(&d, msgs, sizeof msgs);
    assert_string_equal(msgs, "");
    assert_int_equal(cfg->ndevices, 2);
    assert_int_equal(cfg->service.retention_days, 30);
    ps_config_destroy(cfg);
    ps_diag_deinit(&d);
}

static void test_data_type_names(void **state)
{
    (void)state;
    ps_data_type t = PS_DATA_AUDIT;
    assert_string_equal(ps_data_type_name(PS_DATA_MESSAGE), "message");
    assert_string_equal(ps_data_type_name(PS_DATA_MAILLOG), "maillog");
    assert_string_equal(ps_data_type_name(PS_DATA_AUDIT), "audit");
    assert_string_equal(ps_data_type_name((ps_data_type)7), "unknown");
    assert_int_equal(ps_data_type_parse("maillog", &t), PS_OK);
    assert_int_equal(t, PS_DATA_MAILLOG);
    assert_int_equal(ps_data_type_parse("audit", &t), PS_OK);
    assert_int_equal(t, PS_DATA_AUDIT);
    assert_int_equal(ps_data_type_parse("Message", &t), PS_ERR_INVALID);
    assert_int_equal(ps_data_type_parse(NULL, &t), PS_ERR_INVALID);
    assert_int_equal(t, PS_DATA_AUDIT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_tree),
        cmocka_unit_test(test_reload_compares_equal),
        cmocka_unit_test(test_unknown_key),
        cmocka_unit_test(test_workers_out_of_range),
        cmocka_unit_test(test_bad_enum),
        cmocka_unit_test(test_id_not_a_number),
        cmocka_unit_test(test_duplicate_ids_across_files),
        cmocka_unit_test(test_endpoints),
        cmocka_unit_test(test_missing_required),
        cmocka_unit_test(test_wrong_level),
        cmocka_unit_test(test_every_error_at_once),
        cmocka_unit_test(test_yaml_syntax_error),
        cmocka_unit_test(test_messages_that_say_what_is_wrong),
        cmocka_unit_test(test_partial_load),
        cmocka_unit_test(test_file_shapes),
        cmocka_unit_test(test_service_settings),
        cmocka_unit_test(test_service_ordering_against_defaults),
        cmocka_unit_test(test_repair_trip_max_age_at_least_archive_delay),
        cmocka_unit_test(test_duplicate_name_warns),
        cmocka_unit_test(test_stray_top_level_file_warns),
        cmocka_unit_test(test_missing_directory),
        cmocka_unit_test(test_empty_directory_gets_defaults),
        cmocka_unit_test(test_relative_directory_becomes_absolute),
        cmocka_unit_test(test_unreadable_files_are_errors),
        cmocka_unit_test(test_entries_that_are_not_files_are_errors),
        cmocka_unit_test(test_load_sources),
        cmocka_unit_test(test_many_devices),
        cmocka_unit_test(test_example_lists_every_setting),
        cmocka_unit_test(test_data_type_names),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
