/* ps_schema: the tables themselves, value syntax (sizes, durations, URLs), and every
 * rule of the generic parser, each with its exact message and position. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "podstream/ps_config.h"
#include "podstream/ps_schema.h"
#include "podstream/ps_time.h"
#include "podstream/ps_suggest.h"

#define CONFIG_DIR "/etc/podstream"
#define STATE_DIR  "/var/lib/podstream"

/* Parses `text` against `t` into `target` and returns the diagnostics, one per
 * line, in the order the parser found them. */
static ps_err parse_into(const ps_schema_table *t, const char *text, void *target, const char *path,
                         char *msgs, size_t len)
{
    ps_diag d;
    ps_yaml_doc *doc = NULL;
    ps_schema_ctx ctx;
    ps_err err;
    size_t used = 0;

    ps_diag_init(&d);
    if (ps_yaml_load_buffer("t.yml", text, strlen(text), &doc, &d) != PS_OK)
        fail_msg("test YAML does not parse: %s", d.count ? d.items[0].msg : "?");
    ctx = (ps_schema_ctx){&d, "t.yml", CONFIG_DIR, STATE_DIR};
    err = ps_schema_parse(t, ps_yaml_doc_root(doc), target, path, &ctx);
    msgs[0] = '\0';
    for (size_t i = 0; i < d.count && used < len; i++) {
        char line[1024];
        ps_diag_format(&d.items[i], line, sizeof line);
        used += (size_t)snprintf(msgs + used, len - used, "%s%s", i ? "\n" : "", line);
    }
    ps_diag_deinit(&d);
    ps_yaml_doc_destroy(doc);
    return err;
}

/* Service settings: path "" so messages read "key: ...". */
static void expect_service(const char *text, const char *want)
{
    ps_service_settings s;
    char msgs[4096];
    memset(&s, 0, sizeof s);
    assert_int_equal(parse_into(ps_schema_service(), text, &s, "", msgs, sizeof msgs),
                     *want ? PS_ERR_INVALID : PS_OK);
    assert_string_equal(msgs, want);
    ps_schema_free(ps_schema_service(), &s);
}

static void expect_device(const char *text, const char *want)
{
    ps_device d;
    char msgs[4096];
    memset(&d, 0, sizeof d);
    assert_int_equal(parse_into(ps_schema_device(), text, &d, "devices[0]", msgs, sizeof msgs),
                     *want ? PS_ERR_INVALID : PS_OK);
    assert_string_equal(msgs, want);
    ps_schema_free(ps_schema_device(), &d);
}

#define DEVICE_OK "id: 1\nname: pod\ntype: proofpoint\n"

/* ---- the tables ----------------------------------------------------------- */

static void check_table(const ps_schema_table *t)
{
    assert_true(t->count > 0 && t->count <= 64);
    for (size_t i = 0; i < t->count; i++) {
        const ps_schema_field *f = &t->fields[i];
        for (size_t j = i + 1; j < t->count; j++)
            if (strcmp(f->name, t->fields[j].name) == 0)
                fail_msg("%s.%s is listed twice", t->name, f->name);
        if (!f->description || strlen(f->description) < 10 || !f->group)
            fail_msg("%s.%s needs a description and a group", t->name, f->name);
        if (f->required && f->def)
            fail_msg("%s.%s is required and has a default", t->name, f->name);
        if ((f->type == PS_SCHEMA_ENUM) != (f->enum_values != NULL))
            fail_msg("%s.%s: enum values go with enum fields", t->name, f->name);
        if ((f->type == PS_SCHEMA_OBJECT) != (f->object != NULL))
            fail_msg("%s.%s: nested tables go with object fields", t->name, f->name);
        if (f->check && !f->check_doc)
            fail_msg("%s.%s: a check needs check_doc for the reference", t->name, f->name);
        if (f->type == PS_SCHEMA_OBJECT)
            check_table(f->object);
    }
}

static void test_tables_are_well_formed(void **state)
{
    (void)state;
    check_table(ps_schema_device());
    check_table(ps_schema_service());
    assert_ptr_equal(ps_schema_find(ps_schema_device(), "properties")->object,
                     ps_schema_properties());
}

static void test_device_schema_is_the_seed(void **state)
{
    (void)state;
    /* The seed's schema, field for field, in its order. */
    static const char *const device[] = {"id",   "name",      "description", "type",
                                         "tags", "pipelines", "status",      "properties"};
    static const char *const props[] = {"endpoint", "cluster", "token", "type",
                                        "secure",   "workers", "reuse"};
    const ps_schema_table *t = ps_schema_device(), *p = ps_schema_properties();
    assert_int_equal(t->count, 8);
    for (size_t i = 0; i < 8; i++)
        assert_string_equal(t->fields[i].name, device[i]);
    assert_int_equal(p->count, 7);
    for (size_t i = 0; i < 7; i++)
        assert_string_equal(p->fields[i].name, props[i]);
    assert_true(ps_schema_find(t, "id")->required);
    assert_true(ps_schema_find(t, "name")->required);
    assert_true(ps_schema_find(t, "type")->required);
    assert_false(ps_schema_find(t, "tags")->required);
    assert_string_equal(ps_schema_find(t, "status")->def, "true");
    assert_true(ps_schema_find(p, "cluster")->required);
    assert_true(ps_schema_find(p, "token")->required);
    assert_true(ps_schema_find(p, "token")->flags & PS_SCHEMA_F_SECRET);
    assert_string_equal(ps_schema_find(p, "endpoint")->def,
                        "wss://logstream.proofpoint.com:443/v1/stream");
    assert_string_equal(ps_schema_find(p, "type")->def, "message");
    assert_string_equal(ps_schema_find(p, "secure")->def, "false");
    assert_string_equal(ps_schema_find(p, "workers")->def, "1");
    assert_string_equal(ps_schema_find(p, "reuse")->def, "true");
    assert_string_equal(ps_schema_find(p, "workers")->group, "Performance");
    assert_string_equal(ps_schema_find(p, "cluster")->group, "Connection");
    assert_null(ps_schema_find(p, "nope"));
}

static void test_every_default_is_valid(void **state)
{
    (void)state;
    ps_diag d;
    ps_service_settings s;
    ps_device_props p;
    ps_schema_ctx ctx;

    ps_diag_init(&d);
    ctx = (ps_schema_ctx){&d, NULL, CONFIG_DIR, STATE_DIR};
    memset(&s, 0, sizeof s);
    memset(&p, 0, sizeof p);
    assert_int_equal(ps_schema_defaults(ps_schema_service(), &s, &ctx), PS_OK);
    assert_int_equal(ps_schema_defaults(ps_schema_properties(), &p, &ctx), PS_OK);
    assert_int_equal(d.count, 0);

    assert_string_equal(s.database, STATE_DIR "/podstream.db");
    assert_string_equal(s.key_file, CONFIG_DIR "/podstream.key");
    assert_string_equal(s.secrets_dir, CONFIG_DIR "/secrets");
    assert_int_equal(s.log_level, PS_LOG_INFO);
    assert_null(s.tls_ca_file);
    assert_null(s.proxy);
    assert_null(s.proxy_username);
    assert_null(s.proxy_password);
    assert_int_equal(s.retention_days, 30);
    assert_int_equal(s.retention_max_bytes, 0);
    assert_int_equal(s.resume_policy, PS_RESUME_AUTO);
    assert_int_equal(s.max_frame_bytes, 64u * 1024 * 1024);
    assert_int_equal(s.keepalive_ms, 30000);
    assert_int_equal(s.dead_after_ms, 90000);
    assert_int_equal(s.backoff_initial_ms, 1000);
    assert_int_equal(s.backoff_max_ms, 300000);
    assert_int_equal(s.unauthorised_retry_ms, 300000);
    assert_int_equal(s.connect_timeout_ms, 30000);

    assert_string_equal(p.endpoint, "wss://logstream.proofpoint.com:443/v1/stream");
    assert_null(p.cluster);
    assert_null(p.token);
    assert_int_equal(p.type, PS_DATA_MESSAGE);
    assert_false(p.secure);
    assert_int_equal(p.workers, 1);
    assert_true(p.reuse);

    ps_schema_free(ps_schema_service(), &s);
    ps_schema_free(ps_schema_properties(), &p);
    assert_null(s.database);
    assert_null(p.endpoint);
    ps_schema_free(ps_schema_service(), NULL);
    ps_diag_deinit(&d);
}

static void test_type_names_and_bounds(void **state)
{
    (void)state;
    char b[64];
    assert_string_equal(ps_schema_type_name(PS_SCHEMA_INT), "integer");
    assert_string_equal(ps_schema_type_name(PS_SCHEMA_STRLIST), "list of strings");
    assert_string_equal(ps_schema_type_name(PS_SCHEMA_DURATION), "duration");
    assert_string_equal(ps_schema_type_name(PS_SCHEMA_ENUM), "enum");
    ps_schema_format_bounds(ps_schema_find(ps_schema_properties(), "workers"), b, sizeof b);
    assert_string_equal(b, "1..64");
    ps_schema_format_bounds(ps_schema_find(ps_schema_service(), "max_frame_size"), b, sizeof b);
    assert_string_equal(b, "1MiB..1GiB");
    ps_schema_format_bounds(ps_schema_find(ps_schema_service(), "retention_max_db_size"), b,
                            sizeof b);
    assert_string_equal(b, ">= 0");
    ps_schema_format_bounds(ps_schema_find(ps_schema_service(), "backoff_initial"), b, sizeof b);
    assert_string_equal(b, "100ms..10m");
    ps_schema_format_bounds(ps_schema_find(ps_schema_device(), "name"), b, sizeof b);
    assert_string_equal(b, "");
}

/* ---- value syntax --------------------------------------------------------- */

static void test_sizes(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        ps_err err;
        uint64_t bytes;
    } cases[] = {
        {"0", PS_OK, 0},
        {"512", PS_OK, 512},
        {"512B", PS_OK, 512},
        {"64KiB", PS_OK, 65536},
        {"64k", PS_OK, 65536},
        {"64KB", PS_OK, 64000},
        {"64MiB", PS_OK, 67108864},
        {"64 MiB", PS_OK, 67108864},
        {"64mib", PS_OK, 67108864},
        {"20GB", PS_OK, 20000000000ULL},
        {"1GiB", PS_OK, 1073741824ULL},
        {"2TiB", PS_OK, 2199023255552ULL},
        {"1TB", PS_OK, 1000000000000ULL},
        {"18446744073709551615", PS_OK, UINT64_MAX},
        {"18446744073709551616", PS_ERR_RANGE, 0},
        {"17179869184GiB", PS_ERR_RANGE, 0},
        {"1.5GiB", PS_ERR_INVALID, 0},
        {"MiB", PS_ERR_INVALID, 0},
        {"-1", PS_ERR_INVALID, 0},
        {"10 gigs", PS_ERR_INVALID, 0},
        {"", PS_ERR_INVALID, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t v = 12345;
        ps_err e = ps_schema_parse_size(cases[i].text, &v);
        if (e != cases[i].err)
            fail_msg("\"%s\": got %s", cases[i].text, ps_strerror(e));
        if (e == PS_OK && v != cases[i].bytes)
            fail_msg("\"%s\": got %llu", cases[i].text, (unsigned long long)v);
    }

    char buf[32];
    ps_schema_format_size(0, buf, sizeof buf);
    assert_string_equal(buf, "0");
    ps_schema_format_size(67108864, buf, sizeof buf);
    assert_string_equal(buf, "64MiB");
    ps_schema_format_size(20000000000ULL, buf, sizeof buf);
    assert_string_equal(buf, "20GB");
    ps_schema_format_size(1536, buf, sizeof buf); /* 1.5KiB: no exact unit, stays in bytes */
    assert_string_equal(buf, "1536B");
    ps_schema_format_size(1500, buf, sizeof buf);
    assert_string_equal(buf, "1500B");
    ps_schema_format_size(3000, buf, sizeof buf);
    assert_string_equal(buf, "3KB");
}

static void test_durations(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        ps_err err;
        int64_t ms;
    } cases[] = {
        {"0", PS_OK, 0},
        {"30", PS_OK, 30000}, /* bare number: seconds */
        {"500ms", PS_OK, 500},
        {"30s", PS_OK, 30000},
        {"5m", PS_OK, 300000},
        {"2h", PS_OK, 7200000},
        {"1d", PS_OK, 86400000},
        {"1h30m", PS_OK, 5400000},
        {"1m30s500ms", PS_OK, 90500},
        {"30m1h", PS_ERR_INVALID, 0}, /* largest unit first */
        {"1m1m", PS_ERR_INVALID, 0},
        {"5 minutes", PS_ERR_INVALID, 0},
        {"5M", PS_ERR_INVALID, 0},
        {"1.5s", PS_ERR_INVALID, 0},
        {"s", PS_ERR_INVALID, 0},
        {"-1s", PS_ERR_INVALID, 0},
        {"5x", PS_ERR_INVALID, 0},
        {"9223372036854775807d", PS_ERR_RANGE, 0},
        {"99999999999999999999s", PS_ERR_RANGE, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t v = -5;
        ps_err e = ps_time_parse_duration(cases[i].text, &v);
        if (e != cases[i].err)
            fail_msg("\"%s\": got %s", cases[i].text, ps_strerror(e));
        if (e == PS_OK && v != cases[i].ms)
            fail_msg("\"%s\": got %lld", cases[i].text, (long long)v);
    }

    char buf[32];
    ps_time_format_duration(0, buf, sizeof buf);
    assert_string_equal(buf, "0s");
    ps_time_format_duration(500, buf, sizeof buf);
    assert_string_equal(buf, "500ms");
    ps_time_format_duration(90000, buf, sizeof buf);
    assert_string_equal(buf, "1m30s");
    ps_time_format_duration(86400000 + 1, buf, sizeof buf);
    assert_string_equal(buf, "1d1ms");
}

/* The schema's suggestions come from ps_suggest since it replaced the schema's own
 * edit distance; these are the cases the schema relied on. */
static void test_did_you_mean(void **state)
{
    (void)state;
    static const char *const keys[] = {"properties", "pipelines", "type", "id", NULL};
    static const char *const types[] = {"message", "maillog", "audit", NULL};

    assert_int_equal(ps_suggest_distance("", ""), 0);
    assert_int_equal(ps_suggest_distance("abc", ""), 3);
    assert_int_equal(ps_suggest_distance("propertes", "properties"), 1);
    assert_int_equal(ps_suggest_distance("tyep", "type"), 1); /* a swap counts once */
    assert_int_equal(ps_suggest_distance("TYPE", "type"), 0);
    assert_int_equal(ps_suggest_distance("kitten", "sitting"), 3);

    assert_string_equal(ps_suggest("propertes", keys), "properties");
    assert_string_equal(ps_suggest("pipeline", keys), "pipelines");
    assert_string_equal(ps_suggest("tyep", keys), "type");
    assert_string_equal(ps_suggest("Type", keys), "type");
    assert_string_equal(ps_suggest("mesage", types), "message");
    assert_string_equal(ps_suggest("maillogs", types), "maillog");
    assert_string_equal(ps_suggest("propert", keys), "properties"); /* a prefix */
    assert_string_equal(ps_suggest("messages-all", types), "message");
    assert_null(ps_suggest("cluster", keys));
    assert_null(ps_suggest("x", keys)); /* one letter is no evidence */
    assert_null(ps_suggest("tags", keys));
}

static void test_url_checks(void **state)
{
    (void)state;
    static const struct {
        const char *url;
        const char *why; /* NULL: accepted */
    } ws[] = {
        {"wss://logstream.proofpoint.com:443/v1/stream", NULL},
        {"ws://127.0.0.1:8080/v1/stream", NULL},
        {"WSS://host", NULL},
        {"wss://[::1]:9443/v1/stream", NULL},
        {"wss://host?x=1", NULL},
        {"https://logstream.proofpoint.com/v1/stream",
         "must be a ws:// or wss:// URL (write wss:// instead of https://)"},
        {"http://host/", "must be a ws:// or wss:// URL (write ws:// instead of http://)"},
        {"logstream.proofpoint.com", "must be a ws:// or wss:// URL"},
        {"wss://", "must be a ws:// or wss:// URL with a host"},
        {"wss:///v1/stream", "must be a ws:// or wss:// URL with a host"},
        {"wss://[]/x", "must be a ws:// or wss:// URL with a host"},
        {"wss://host:0/x", "has an invalid port (must be 1..65535)"},
        {"wss://host:65536", "has an invalid port (must be 1..65535)"},
        {"wss://host:44a3/x", "has an invalid port (must be 1..65535)"},
        {"wss://host:", "has an invalid port (must be 1..65535)"},
        {"wss://user:pw@host/x", "must not contain a user name or password"},
        {"wss://host/a b", "must not contain spaces or control characters"},
    };
    static const struct {
        const char *url;
        const char *why;
    } proxy[] = {
        {"http://proxy.example.net:3128", NULL},
        {"https://proxy", NULL},
        {"socks5://127.0.0.1:1080", NULL},
        {"socks5h://proxy:1080/", NULL},
        {"ftp://proxy", "must be an http://, https://, socks5:// or socks5h:// URL"},
        {"proxy:3128", "must be an http://, https://, socks5:// or socks5h:// URL"},
        {"http://bob:secret@proxy:3128", "must not contain a user name or password; use "
                                         "proxy_username and proxy_password"},
        {"http://proxy:3128/path", "must be an http://, https://, socks5:// or socks5h:// URL "
                                   "without a path"},
        {"http://:3128", "must be an http://, https://, socks5:// or socks5h:// URL with a "
                         "host"},
    };
    char why[256];
    for (size_t i = 0; i < sizeof ws / sizeof ws[0]; i++) {
        why[0] = '\0';
        bool ok = ps_schema_check_ws_url(ws[i].url, why, sizeof why);
        if (ok != (ws[i].why == NULL) || (!ok && strcmp(why, ws[i].why) != 0))
            fail_msg("%s: ok=%d why=\"%s\"", ws[i].url, ok, why);
    }
    for (size_t i = 0; i < sizeof proxy / sizeof proxy[0]; i++) {
        why[0] = '\0';
        bool ok = ps_schema_check_proxy_url(proxy[i].url, why, sizeof why);
        if (ok != (proxy[i].why == NULL) || (!ok && strcmp(why, proxy[i].why) != 0))
            fail_msg("%s: ok=%d why=\"%s\"", proxy[i].url, ok, why);
    }
}

/* ---- the generic parser: one rule per test -------------------------------- */

static void test_valid_device(void **state)
{
    (void)state;
    ps_device d;
    char msgs[1024];
    memset(&d, 0, sizeof d);
    assert_int_equal(parse_into(ps_schema_device(),
                                "id: 7\n"
                                "name: pod\n"
                                "description: test\n"
                                "type: proofpoint\n"
                                "tags: [a, b]\n"
                                "pipelines:\n"
                                "  - one\n"
                                "  - two\n"
                                "status: off\n"
                                "properties:\n"
                                "  cluster: acme\n"
                                "  token: ${POD_TOKEN}\n"
                                "  type: maillog\n"
                                "  secure: yes\n"
                                "  workers: 8\n"
                                "  reuse: false\n",
                                &d, "devices[0]", msgs, sizeof msgs),
                     PS_OK);
    assert_string_equal(msgs, "");
    assert_int_equal(d.id, 7);
    assert_string_equal(d.name, "pod");
    assert_string_equal(d.description, "test");
    assert_string_equal(d.type, "proofpoint");
    assert_int_equal(d.ntags, 2);
    assert_string_equal(d.tags[1], "b");
    assert_int_equal(d.npipelines, 2);
    assert_string_equal(d.pipelines[0], "one");
    assert_string_equal(d.pipeline_pos[1].file, "t.yml");
    assert_int_equal(d.pipeline_pos[1].line, 8);
    assert_int_equal(d.pipeline_pos[1].col, 5);
    assert_false(d.status);
    assert_string_equal(d.props.cluster, "acme");
    assert_string_equal(d.props.token, "${POD_TOKEN}");
    assert_int_equal(d.props.token_pos.line, 12);
    assert_int_equal(d.props.token_pos.col, 10);
    assert_int_equal(d.props.type, PS_DATA_MAILLOG);
    assert_true(d.props.secure);
    assert_int_equal(d.props.workers, 8);
    assert_false(d.props.reuse);
    assert_string_equal(d.props.endpoint, "wss://logstream.proofpoint.com:443/v1/stream");
    ps_schema_free(ps_schema_device(), &d);
    assert_null(d.name);
    assert_null(d.tags);
    assert_int_equal(d.ntags, 0);
    assert_null(d.pipeline_pos);
    assert_null(d.props.token);
}

static void test_unknown_keys(void **state)
{
    (void)state;
    expect_device(DEVICE_OK "propertes:\n  cluster: a\n  token: t\n",
                  "t.yml:4:1: error: devices[0].propertes: unknown key \"propertes\" (did you "
                  "mean \"properties\"?)");
    expect_device(DEVICE_OK "properties: {cluster: a, token: t, tpye: message, colour: red}\n",
                  "t.yml:4:36: error: devices[0].properties.tpye: unknown key \"tpye\" (did you "
                  "mean \"type\"?)\n"
                  "t.yml:4:51: error: devices[0].properties.colour: unknown key \"colour\"");
    expect_device(DEVICE_OK "token: t\nproperties: {cluster: a}\n",
                  "t.yml:4:1: error: devices[0].token: unknown key \"token\" (it belongs under "
                  "\"properties\")\n"
                  "t.yml:5:13: error: devices[0].properties: missing required field \"token\"");
    expect_device(DEVICE_OK "properties: {cluster: a, token: t, status: true}\n",
                  "t.yml:4:36: error: devices[0].properties.status: unknown key \"status\" (it "
                  "belongs one level up, beside \"properties\")");
    expect_service("devices: []\nlog_levle: info\npipeline: x\n",
                   "t.yml:1:1: error: devices: unknown key \"devices\" (devices go in files "
                   "under devices/, not in podstream.yml)\n"
                   "t.yml:2:1: error: log_levle: unknown key \"log_levle\" (did you mean "
                   "\"log_level\"?)\n"
                   "t.yml:3:1: error: pipeline: unknown key \"pipeline\" (pipelines go in files "
                   "under pipelines/, not in podstream.yml)");
}

static void test_wrong_types(void **state)
{
    (void)state;
    expect_device("id: abc\nname: pod\ntype: proofpoint\nproperties: {cluster: a, token: t}\n",
                  "t.yml:1:5: error: devices[0].id: expected a number, got a string");
    expect_device("id: \"1\"\nname: pod\ntype: proofpoint\nproperties: {cluster: a, token: t}\n",
                  "t.yml:1:5: error: devices[0].id: expected a number, got a string");
    expect_device("id: 2.5\nname: pod\ntype: proofpoint\nproperties: {cluster: a, token: t}\n",
                  "t.yml:1:5: error: devices[0].id: 2.5 is not a whole number");
    expect_device("id: [1]\nname: {a: b}\ntype: proofpoint\nstatus: 1\ntags: a\n"
                  "properties: [cluster]\n",
                  "t.yml:1:5: error: devices[0].id: expected a number, got a list\n"
                  "t.yml:2:7: error: devices[0].name: expected a string, got a mapping\n"
                  "t.yml:4:9: error: devices[0].status: expected true or false, got a number\n"
                  "t.yml:5:7: error: devices[0].tags: expected a list of strings, got a string\n"
                  "t.yml:6:13: error: devices[0].properties: expected a mapping, got a list");
    expect_device(DEVICE_OK "tags: [ok, [nested], ~, \"\"]\nproperties: {cluster: a, token: t}\n",
                  "t.yml:4:12: error: devices[0].tags[1]: expected a string, got a list\n"
                  "t.yml:4:22: error: devices[0].tags[2]: expected a string, got an empty "
                  "value\n"
                  "t.yml:4:25: error: devices[0].tags[3]: must not be empty");
    expect_service("max_frame_size: [1]\nkeepalive: {a: 1}\nretention_days: yes\n",
                   "t.yml:1:17: error: max_frame_size: expected a size such as 64MiB, got a "
                   "list\n"
                   "t.yml:2:12: error: keepalive: expected a duration such as 30s, got a "
                   "mapping\n"
                   "t.yml:3:17: error: retention_days: expected a number, got a boolean");
}

static void test_bounds(void **state)
{
    (void)state;
    expect_device(DEVICE_OK "properties: {cluster: a, token: t, workers: 0}\n",
                  "t.yml:4:45: error: devices[0].properties.workers: 0 is out of range (1..64)");
    expect_device(DEVICE_OK "properties: {cluster: a, token: t, workers: 65}\n",
                  "t.yml:4:45: error: devices[0].properties.workers: 65 is out of range "
                  "(1..64)");
    expect_device("id: 0\nname: pod\ntype: proofpoint\nproperties: {cluster: a, token: t}\n",
                  "t.yml:1:5: error: devices[0].id: 0 is out of range (1..2147483647)");
    expect_device("id: -3\nname: pod\ntype: proofpoint\nproperties: {cluster: a, token: t}\n",
                  "t.yml:1:5: error: devices[0].id: -3 is out of range (1..2147483647)");
    expect_device("id: 99999999999999999999\nname: pod\ntype: proofpoint\n"
                  "properties: {cluster: a, token: t}\n",
                  "t.yml:1:5: error: devices[0].id: 99999999999999999999 is out of range "
                  "(1..2147483647)");
    /* A whole number in float syntax gets the range, not "is not a whole number". */
    expect_device(DEVICE_OK "properties: {cluster: a, token: t, workers: 1e9}\n",
                  "t.yml:4:45: error: devices[0].properties.workers: 1e9 must be a whole number "
                  "from 1 to 64");
    expect_device(DEVICE_OK "properties: {cluster: a, token: t, workers: 2.0}\n",
                  "t.yml:4:45: error: devices[0].properties.workers: 2.0 must be a whole number "
                  "from 1 to 64");
    expect_device("id: 1e30\nname: pod\ntype: proofpoint\nproperties: {cluster: a, token: t}\n",
                  "t.yml:1:5: error: devices[0].id: 1e30 must be a whole number from 1 to "
                  "2147483647");
    expect_service("retention_days: -1.0e2\n",
                   "t.yml:1:17: error: retention_days: -1.0e2 must be a whole number from 0 to "
                   "3650");
    expect_service("retention_days: 3651\nmax_frame_size: 2GiB\nbackoff_initial: 50ms\n"
                   "retention_max_db_size: 99999999999999999999\nkeepalive: 1d\n",
                   "t.yml:1:17: error: retention_days: 3651 is out of range (0..3650)\n"
                   "t.yml:2:17: error: max_frame_size: 2GiB is out of range (1MiB..1GiB)\n"
                   "t.yml:3:18: error: backoff_initial: 50ms is out of range (100ms..10m)\n"
                   "t.yml:4:24: error: retention_max_db_size: 99999999999999999999 is out of "
                   "range (>= 0)\n"
                   "t.yml:5:12: error: keepalive: 1d is out of range (1s..10m)");
    /* The edges are inside. */
    expect_service("retention_days: 0\nmax_frame_size: 1MiB\nbackoff_initial: 100ms\n"
                   "keepalive: 10m\ndead_after: 1h\n",
                   "");
}

static void test_enums(void **state)
{
    (void)state;
    expect_device(DEVICE_OK "properties: {cluster: a, token: t, type: mesage}\n",
                  "t.yml:4:42: error: devices[0].properties.type: \"mesage\" must be one of "
                  "message, maillog, audit (did you mean \"message\"?)");
    expect_device(DEVICE_OK "properties: {cluster: a, token: t, type: events}\n",
                  "t.yml:4:42: error: devices[0].properties.type: \"events\" must be one of "
                  "message, maillog, audit");
    expect_device(DEVICE_OK "properties: {cluster: a, token: t, type: Message}\n",
                  "t.yml:4:42: error: devices[0].properties.type: \"Message\" must be one of "
                  "message, maillog, audit (did you mean \"message\"?)");
    expect_device("id: 1\nname: pod\ntype: syslog\nproperties: {cluster: a, token: t}\n",
                  "t.yml:3:7: error: devices[0].type: \"syslog\" must be proofpoint");
    expect_service("log_level: warning\nresume_policy: live\n",
                   "t.yml:1:12: error: log_level: \"warning\" must be one of error, warn, info, "
                   "debug (did you mean \"warn\"?)\n"
                   "t.yml:2:16: error: resume_policy: \"live\" must be one of auto, live-only "
                   "(did you mean \"live-only\"?)");

    ps_device d;
    char msgs[256];
    memset(&d, 0, sizeof d);
    assert_int_equal(parse_into(ps_schema_device(),
                                DEVICE_OK "properties: {cluster: a, token: t, type: audit}\n", &d,
                                "devices[0]", msgs, sizeof msgs),
                     PS_OK);
    assert_int_equal(d.props.type, PS_DATA_AUDIT);
    ps_schema_free(ps_schema_device(), &d);
    /* The Splunk add-on's name for the maillog stream (#15). */
    memset(&d, 0, sizeof d);
    assert_int_equal(parse_into(ps_schema_device(),
                                DEVICE_OK "properties: {cluster: a, token: t, type: sendmail}\n",
                                &d, "devices[0]", msgs, sizeof msgs),
                     PS_OK);
    assert_int_equal(d.props.type, PS_DATA_MAILLOG);
    ps_schema_free(ps_schema_device(), &d);
}

static void test_required_and_empty(void **state)
{
    (void)state;
    expect_device("name: pod\n",
                  "t.yml:1:1: error: devices[0]: missing required field \"id\"\n"
                  "t.yml:1:1: error: devices[0]: missing required field \"type\"\n"
                  "t.yml:1:1: error: devices[0]: missing required field \"properties\"");
    expect_device(DEVICE_OK "properties:\n  type: maillog\n",
                  "t.yml:5:3: error: devices[0].properties: missing required field \"cluster\"\n"
                  "t.yml:5:3: error: devices[0].properties: missing required field \"token\"");
    /* An empty value is "not set" for optional fields, an error for required ones. */
    expect_device("id: 1\nname:\ntype: proofpoint\ndescription:\ntags:\n"
                  "properties:\n  cluster: ~\n  token: \"\"\n  workers:\n",
                  "t.yml:2:6: error: devices[0].name: expected a string, got an empty value\n"
                  "t.yml:7:12: error: devices[0].properties.cluster: expected a string, got an "
                  "empty value\n"
                  "t.yml:8:10: error: devices[0].properties.token: must not be empty");
    expect_device(DEVICE_OK "properties:\n",
                  "t.yml:4:12: error: devices[0].properties: expected a mapping, got an empty "
                  "value");
    expect_device(DEVICE_OK "properties: {cluster: a, token: t, endpoint: \"\"}\n",
                  "t.yml:4:46: error: devices[0].properties.endpoint: must not be empty");

    ps_device d;
    char msgs[256];
    memset(&d, 0, sizeof d);
    assert_int_equal(parse_into(ps_schema_device(),
                                DEVICE_OK "description:\nstatus:\n"
                                          "properties: {cluster: a, token: t, workers: ~}\n",
                                &d, "devices[0]", msgs, sizeof msgs),
                     PS_OK);
    assert_null(d.description);
    assert_true(d.status);
    assert_int_equal(d.props.workers, 1);
    ps_schema_free(ps_schema_device(), &d);
}

static void test_service_values(void **state)
{
    (void)state;
    ps_service_settings s;
    char msgs[1024];
    memset(&s, 0, sizeof s);
    assert_int_equal(parse_into(ps_schema_service(),
                                "database: data/events.db\n"
                                "key_file: /srv/key\n"
                                "secrets_dir: ../creds\n"
                                "tls_ca_file: ca.pem\n"
                                "log_level: debug\n"
                                "retention_days: 0\n"
                                "retention_max_db_size: 20GB\n"
                                "max_frame_size: 128MiB\n"
                                "resume_policy: live-only\n"
                                "proxy: socks5h://127.0.0.1:1080\n"
                                "proxy_username: ${U}\n"
                                "proxy_password: $secret{p}\n"
                                "keepalive: 45s\n"
                                "dead_after: 3m\n"
                                "backoff_initial: 250ms\n"
                                "backoff_max: 1h\n"
                                "unauthorised_retry: 30m\n"
                                "connect_timeout: 5s\n",
                                &s, "", msgs, sizeof msgs),
                     PS_OK);
    assert_string_equal(msgs, "");
    /* Relative paths are relative to the configuration directory. */
    assert_string_equal(s.database, CONFIG_DIR "/data/events.db");
    assert_string_equal(s.key_file, "/srv/key");
    assert_string_equal(s.secrets_dir, CONFIG_DIR "/../creds");
    assert_string_equal(s.tls_ca_file, CONFIG_DIR "/ca.pem");
    assert_int_equal(s.log_level, PS_LOG_DEBUG);
    assert_int_equal(s.retention_days, 0);
    assert_int_equal(s.retention_max_bytes, 20000000000ULL);
    assert_int_equal(s.max_frame_bytes, 128u * 1024 * 1024);
    assert_int_equal(s.resume_policy, PS_RESUME_LIVE_ONLY);
    assert_string_equal(s.proxy, "socks5h://127.0.0.1:1080");
    assert_string_equal(s.proxy_username, "${U}");
    assert_int_equal(s.proxy_username_pos.line, 11);
    assert_int_equal(s.proxy_username_pos.col, 17);
    assert_string_equal(s.proxy_password, "$secret{p}");
    assert_int_equal(s.proxy_password_pos.line, 12);
    assert_int_equal(s.keepalive_ms, 45000);
    assert_int_equal(s.dead_after_ms, 180000);
    assert_int_equal(s.backoff_initial_ms, 250);
    assert_int_equal(s.backoff_max_ms, 3600000);
    assert_int_equal(s.unauthorised_retry_ms, 1800000);
    assert_int_equal(s.connect_timeout_ms, 5000);
    ps_schema_free(ps_schema_service(), &s);
    assert_null(s.proxy_password);

    expect_service("database: \"\"\nkey_file: ~/podstream.key\n",
                   "t.yml:1:11: error: database: must not be empty\n"
                   "t.yml:2:11: error: key_file: a leading ~ is not expanded; write the full "
                   "path");
    expect_service("proxy: https://bob:pw@proxy:8080\n",
                   "t.yml:1:8: error: proxy: must not contain a user name or password; use "
                   "proxy_username and proxy_password");
    expect_service("retention_max_db_size: 20 gigs\nconnect_timeout: 5 minutes\n",
                   "t.yml:1:24: error: retention_max_db_size: \"20 gigs\" is not a size; write a "
                   "whole number with an optional unit (B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)\n"
                   "t.yml:2:18: error: connect_timeout: \"5 minutes\" is not a duration; write "
                   "a whole number with a unit (ms, s, m, h, d, w), e.g. 30s, 5m or 1h30m");
    /* A list where a mapping belongs. */
    expect_service("- database: x\n", "t.yml:1:1: error: expected a mapping, got a list");
}

static void test_nul_in_string(void **state)
{
    (void)state;
    /* A NUL would silently cut the value short in C: refuse it, and do not echo a
     * secret while doing so. */
    expect_device(DEVICE_OK "properties: {cluster: \"ac\\0me\", token: \"se\\0cret\"}\n",
                  "t.yml:4:23: error: devices[0].properties.cluster: contains a NUL character\n"
                  "t.yml:4:40: error: devices[0].properties.token: contains a NUL character");
}

static void test_secrets_never_echoed(void **state)
{
    (void)state;
    ps_device d;
    char msgs[2048];
    memset(&d, 0, sizeof d);
    assert_int_equal(parse_into(ps_schema_device(),
                                DEVICE_OK "properties: {cluster: a, token: [hunter2-token]}\n", &d,
                                "devices[0]", msgs, sizeof msgs),
                     PS_ERR_INVALID);
    assert_null(strstr(msgs, "hunter2"));
    assert_string_equal(msgs, "t.yml:4:33: error: devices[0].properties.token: expected a "
                              "string, got a list");
    ps_schema_free(ps_schema_device(), &d);
}

static void test_equal_and_free(void **state)
{
    (void)state;
    static const char *const base = "id: 1\n"
                                    "name: pod\n"
                                    "type: proofpoint\n"
                                    "tags: [a]\n"
                                    "pipelines: [p]\n"
                                    "properties: {cluster: a, token: t}\n";
    /* Same device written elsewhere in a file: positions differ, nothing else. */
    static const char *const moved = "\n\nid: 1\n"
                                     "type: proofpoint\n"
                                     "name: pod\n"
                                     "pipelines:\n  - p\n"
                                     "tags: [a]\n"
                                     "properties:\n  token: t\n  cluster: a\n";
    static const char *const changed[] = {
        "id: 2\nname: pod\ntype: proofpoint\ntags: [a]\npipelines: [p]\n"
        "properties: {cluster: a, token: t}\n",
        "id: 1\nname: pod2\ntype: proofpoint\ntags: [a]\npipelines: [p]\n"
        "properties: {cluster: a, token: t}\n",
        "id: 1\nname: pod\ndescription: d\ntype: proofpoint\ntags: [a]\npipelines: [p]\n"
        "properties: {cluster: a, token: t}\n",
        "id: 1\nname: pod\ntype: proofpoint\ntags: [a, b]\npipelines: [p]\n"
        "properties: {cluster: a, token: t}\n",
        "id: 1\nname: pod\ntype: proofpoint\ntags: [a]\npipelines: [q]\n"
        "properties: {cluster: a, token: t}\n",
        "id: 1\nname: pod\ntype: proofpoint\ntags: [a]\npipelines: [p]\nstatus: false\n"
        "properties: {cluster: a, token: t}\n",
        "id: 1\nname: pod\ntype: proofpoint\ntags: [a]\npipelines: [p]\n"
        "properties: {cluster: b, token: t}\n",
        "id: 1\nname: pod\ntype: proofpoint\ntags: [a]\npipelines: [p]\n"
        "properties: {cluster: a, token: u}\n",
        "id: 1\nname: pod\ntype: proofpoint\ntags: [a]\npipelines: [p]\n"
        "properties: {cluster: a, token: t, type: maillog}\n",
        "id: 1\nname: pod\ntype: proofpoint\ntags: [a]\npipelines: [p]\n"
        "properties: {cluster: a, token: t, secure: true}\n",
        "id: 1\nname: pod\ntype: proofpoint\ntags: [a]\npipelines: [p]\n"
        "properties: {cluster: a, token: t, workers: 2}\n",
        "id: 1\nname: pod\ntype: proofpoint\ntags: [a]\npipelines: [p]\n"
        "properties: {cluster: a, token: t, reuse: false}\n",
        "id: 1\nname: pod\ntype: proofpoint\ntags: [a]\npipelines: [p]\n"
        "properties: {cluster: a, token: t, endpoint: \"ws://127.0.0.1:1/v1/stream\"}\n",
    };
    ps_device a, b;
    char msgs[1024];
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    assert_int_equal(parse_into(ps_schema_device(), base, &a, "d", msgs, sizeof msgs), PS_OK);
    assert_int_equal(parse_into(ps_schema_device(), moved, &b, "d", msgs, sizeof msgs), PS_OK);
    assert_true(ps_schema_equal(ps_schema_device(), &a, &b));
    assert_true(ps_device_equal(&a, &b));
    ps_schema_free(ps_schema_device(), &b);
    for (size_t i = 0; i < sizeof changed / sizeof changed[0]; i++) {
        memset(&b, 0, sizeof b);
        assert_int_equal(parse_into(ps_schema_device(), changed[i], &b, "d", msgs, sizeof msgs),
                         PS_OK);
        if (ps_device_equal(&a, &b))
            fail_msg("change %zu not noticed", i);
        ps_schema_free(ps_schema_device(), &b);
    }
    ps_schema_free(ps_schema_device(), &a);
}

static void test_empty_document_is_an_empty_mapping(void **state)
{
    (void)state;
    ps_service_settings s;
    ps_diag d;
    ps_schema_ctx ctx;
    memset(&s, 0, sizeof s);
    ps_diag_init(&d);
    ctx = (ps_schema_ctx){&d, "podstream.yml", CONFIG_DIR, STATE_DIR};
    assert_int_equal(ps_schema_parse(ps_schema_service(), NULL, &s, "", &ctx), PS_OK);
    assert_int_equal(d.count, 0);
    assert_int_equal(s.retention_days, 30);
    ps_schema_free(ps_schema_service(), &s);
    ps_diag_deinit(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tables_are_well_formed),
        cmocka_unit_test(test_device_schema_is_the_seed),
        cmocka_unit_test(test_every_default_is_valid),
        cmocka_unit_test(test_type_names_and_bounds),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_did_you_mean),
        cmocka_unit_test(test_url_checks),
        cmocka_unit_test(test_valid_device),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_enums),
        cmocka_unit_test(test_required_and_empty),
        cmocka_unit_test(test_service_values),
        cmocka_unit_test(test_nul_in_string),
        cmocka_unit_test(test_secrets_never_echoed),
        cmocka_unit_test(test_equal_and_free),
        cmocka_unit_test(test_empty_document_is_an_empty_mapping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
