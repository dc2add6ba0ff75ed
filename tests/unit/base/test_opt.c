/* ps_opt: every spelling the parser accepts, every message it gives, the help. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "podstream/ps_opt.h"

typedef struct vals {
    const char *config;
    const char *qid;
    bool quiet, zap;
    long long limit;
    int format;
    ps_opt_list files;
} vals;

static const ps_opt opts[] = {
    {"config", 'c', PS_OPT_STRING, "DIR", offsetof(vals, config), "directory\n(default: {dir})",
     NULL, 0, 0, NULL},
    {"qid", 0, PS_OPT_STRING, "QID", offsetof(vals, qid), "queue id", "Filters", 0, 0, NULL},
    {"limit", 'n', PS_OPT_INT, "N", offsetof(vals, limit), "at most N", NULL, -5, 100, NULL},
    {"format", 0, PS_OPT_CHOICE, "F", offsetof(vals, format), "table, json or csv", NULL, 0, 0,
     "table|json|csv"},
    {"file", 'F', PS_OPT_LIST, "FILE", offsetof(vals, files), "a file", "Input", 0, 0, NULL},
    {"quiet", 'q', PS_OPT_FLAG, NULL, offsetof(vals, quiet), "quiet", NULL, 0, 0, NULL},
    {"zap", 'z', PS_OPT_FLAG, NULL, offsetof(vals, zap), "zap", NULL, 0, 0, NULL},
};

static const ps_opt_cmd cmd = {
    "demo",           "a demo", "[-q] ARG...\n  [--qid QID]\nother",
    "Does things.",   opts,     sizeof opts / sizeof opts[0],
    "Exit codes: 0.", 0,
};

static const ps_opt_cmd secret_cmd = {
    "secret", "a demo", "", NULL, opts, sizeof opts / sizeof opts[0], NULL, PS_OPT_CMD_SECRET_ARGS,
};

typedef struct result {
    vals v;
    ps_opt_list pos;
    ps_opt_action action;
    ps_errmsg em;
    ps_err err;
} result;

/* Parses a NULL-terminated list of arguments after the command name. */
static void parse_cmd(result *r, const ps_opt_cmd *c, ...)
{
    char *argv[32];
    int argc = 1;
    va_list ap;
    argv[0] = (char *)"demo";
    va_start(ap, c);
    for (char *a; (a = va_arg(ap, char *)) != NULL;)
        argv[argc++] = a;
    va_end(ap);
    memset(r, 0, sizeof *r);
    r->v.limit = -1;
    r->v.format = 7;
    r->err = ps_opt_parse(c, argc, argv, &r->v, &r->pos, &r->action, &r->em);
}

#define parse(r, ...) parse_cmd(r, &cmd, __VA_ARGS__, (char *)NULL)

static void done(result *r)
{
    ps_opt_free(&cmd, &r->v);
    ps_opt_list_free(&r->pos);
    assert_null(r->v.files.v);
}

static void test_spellings(void **state)
{
    result r;
    (void)state;
    parse(&r, "--config", "a", "--qid=Q1", "-n", "5", "pos1", "-F", "f1", "-Ff2", "--file=f3",
          "--format", "json", "-qz", "-", "--", "-q", "--config");
    assert_int_equal(r.err, PS_OK);
    assert_int_equal(r.action, PS_OPT_RUN);
    assert_string_equal(r.v.config, "a");
    assert_string_equal(r.v.qid, "Q1");
    assert_int_equal(r.v.limit, 5);
    assert_int_equal(r.v.format, 1);
    assert_true(r.v.quiet && r.v.zap);
    assert_int_equal(r.v.files.n, 3);
    assert_string_equal(r.v.files.v[0], "f1");
    assert_string_equal(r.v.files.v[1], "f2");
    assert_string_equal(r.v.files.v[2], "f3");
    assert_int_equal(r.pos.n, 4);
    assert_string_equal(r.pos.v[0], "pos1");
    assert_string_equal(r.pos.v[1], "-");
    assert_string_equal(r.pos.v[2], "-q"); /* after -- */
    assert_string_equal(r.pos.v[3], "--config");
    done(&r);

    parse(&r, "-cDIR", "-qn", "-5", "-3", "--limit=-2");
    assert_int_equal(r.err, PS_OK);
    assert_string_equal(r.v.config, "DIR");
    assert_int_equal(r.v.limit, -2); /* the last one wins */
    assert_int_equal(r.pos.n, 1);
    assert_string_equal(r.pos.v[0], "-3"); /* a negative number is an argument */
    done(&r);

    parse(&r, "-c", "-q"); /* a value may start with one dash */
    assert_int_equal(r.err, PS_OK);
    assert_string_equal(r.v.config, "-q");
    assert_false(r.v.quiet);
    done(&r);

    parse(&r, "--qid=--limit"); /* attached, it may start with two */
    assert_int_equal(r.err, PS_OK);
    assert_string_equal(r.v.qid, "--limit");
    done(&r);

    parse(&r, "-q"); /* defaults stay when not given */
    assert_int_equal(r.v.limit, -1);
    assert_int_equal(r.v.format, 7);
    assert_null(r.v.config);
    done(&r);
}

static void expect_error(const char *want, result *r)
{
    assert_int_equal(r->err, PS_ERR_USAGE);
    assert_string_equal(r->em.text, want);
    done(r);
}

static void test_errors(void **state)
{
    result r;
    (void)state;
    parse(&r, "--bogus");
    expect_error("unknown option '--bogus'", &r);
    parse(&r, "--bogus=secret");
    expect_error("unknown option '--bogus'", &r);
    parse(&r, "-qx");
    expect_error("unknown option '-x'", &r);
    parse(&r, "-xq");
    expect_error("unknown option '-x'", &r);
    parse(&r, "--config");
    expect_error("--config needs a value", &r);
    parse(&r, "-qc");
    expect_error("-c needs a value", &r);
    parse(&r, "--qid", "--limit", "5");
    expect_error("--qid needs a value (for a value that starts with --, write --qid=VALUE)", &r);
    parse(&r, "--qid", "");
    expect_error("--qid needs a value, not an empty string", &r);
    parse(&r, "--qid=");
    expect_error("--qid needs a value, not an empty string", &r);
    parse(&r, "-c", "");
    expect_error("-c needs a value, not an empty string", &r);
    parse(&r, "-F", "a", "--file", "");
    expect_error("--file needs a value, not an empty string", &r);
    parse(&r, "--limit", "x");
    expect_error("--limit: 'x' is not a whole number from -5 to 100", &r);
    parse(&r, "-n", "101");
    expect_error("-n: '101' is not a whole number from -5 to 100", &r);
    parse(&r, "--limit", "99999999999999999999");
    expect_error("--limit: '99999999999999999999' is not a whole number from -5 to 100", &r);
    parse(&r, "--limit", "5x");
    expect_error("--limit: '5x' is not a whole number from -5 to 100", &r);
    parse(&r, "--limit", " 5");
    expect_error("--limit: ' 5' is not a whole number from -5 to 100", &r);
    parse(&r, "--format", "xml");
    expect_error("--format must be table, json or csv, not 'xml'", &r);
    parse(&r, "--quiet=yes");
    expect_error("--quiet takes no value", &r);
}

static void test_secret_args(void **state)
{
    result r;
    (void)state;
    parse_cmd(&r, &secret_cmd, "--token=eyJhbGciOi.xyz", (char *)NULL);
    expect_error("unknown option '--token'", &r);
    parse_cmd(&r, &secret_cmd, "--eyJhbGciOi.xyz", (char *)NULL);
    expect_error("unknown option (not shown, in case it is a secret)", &r);
    parse_cmd(&r, &secret_cmd, "-eyJhbGciOi.xyz", (char *)NULL);
    expect_error("unknown option (not shown, in case it is a secret)", &r);
    parse_cmd(&r, &secret_cmd, "-x", (char *)NULL);
    expect_error("unknown option '-x'", &r);
    parse_cmd(&r, &secret_cmd, "--limit", "s3cret", (char *)NULL);
    expect_error("--limit: not a whole number from -5 to 100", &r);
    parse_cmd(&r, &secret_cmd, "--format", "s3cret", (char *)NULL);
    expect_error("--format must be table, json or csv", &r);
}

static void test_builtins(void **state)
{
    result r;
    (void)state;
    parse(&r, "-q", "--help", "--bogus");
    assert_int_equal(r.err, PS_OK);
    assert_int_equal(r.action, PS_OPT_HELP);
    done(&r);
    parse(&r, "-qh");
    assert_int_equal(r.action, PS_OPT_HELP);
    done(&r);
    parse(&r, "--version");
    assert_int_equal(r.action, PS_OPT_VERSION);
    done(&r);
    parse(&r, "-V");
    assert_int_equal(r.action, PS_OPT_VERSION);
    done(&r);
    parse(&r, "--bogus", "--help"); /* the first problem wins */
    expect_error("unknown option '--bogus'", &r);
    assert_non_null(ps_opt_find(&cmd, "help"));
    assert_ptr_equal(ps_opt_find(&cmd, "qid"), &opts[1]);
    assert_null(ps_opt_find(&cmd, "qi"));
}

static void test_help(void **state)
{
    static const ps_opt_subst subst[] = {{"{dir}", "/etc/demo"}};
    char text[2048];
    size_t len;
    FILE *out = tmpfile(); /* not open_memstream: Windows has none */
    (void)state;
    assert_non_null(out);
    ps_opt_print_help(&cmd, "prog", subst, 1, out);
    rewind(out);
    len = fread(text, 1, sizeof text - 1, out);
    text[len] = '\0';
    fclose(out);
    assert_string_equal(text, "usage: prog demo [-q] ARG...\n"
                              "                  [--qid QID]\n"
                              "       prog demo other\n"
                              "\n"
                              "Does things.\n"
                              "\n"
                              "Options:\n"
                              "  -c, --config DIR  directory\n"
                              "                    (default: /etc/demo)\n"
                              "\n"
                              "Filters:\n"
                              "      --qid QID     queue id\n"
                              "  -n, --limit N     at most N\n"
                              "      --format F    table, json or csv\n"
                              "\n"
                              "Input:\n"
                              "  -F, --file FILE   a file\n"
                              "  -q, --quiet       quiet\n"
                              "  -z, --zap         zap\n"
                              "  -h, --help        show this help\n"
                              "  -V, --version     show the version and the library versions\n"
                              "\n"
                              "Exit codes: 0.\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spellings),   cmocka_unit_test(test_errors),
        cmocka_unit_test(test_secret_args), cmocka_unit_test(test_builtins),
        cmocka_unit_test(test_help),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
