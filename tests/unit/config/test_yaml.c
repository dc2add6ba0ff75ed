/* ps_yaml: positions, scalar typing, aliases, and the limits that protect the
 * loader from hostile files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "podstream/ps_yaml.h"

/* Parses `text`; on success returns the document, else NULL with the
 * diagnostics (sorted, one per line) in `msgs`. */
static ps_yaml_doc *parse(const char *text, ps_err *err, char *msgs, size_t len)
{
    ps_diag d;
    ps_yaml_doc *doc = NULL;
    size_t used = 0;
    ps_diag_init(&d);
    *err = ps_yaml_load_buffer("t.yml", text, strlen(text), &doc, &d);
    msgs[0] = '\0';
    for (size_t i = 0; i < d.count && used < len; i++) {
        char line[1024];
        ps_diag_format(&d.items[i], line, sizeof line);
        used += (size_t)snprintf(msgs + used, len - used, "%s%s", i ? "\n" : "", line);
    }
    ps_diag_deinit(&d);
    return doc;
}

static ps_yaml_doc *parse_ok(const char *text)
{
    char msgs[2048];
    ps_err err;
    ps_yaml_doc *doc = parse(text, &err, msgs, sizeof msgs);
    if (err != PS_OK)
        fail_msg("unexpected YAML error: %s", msgs);
    assert_non_null(doc);
    return doc;
}

static void expect_error(const char *text, ps_err want, const char *msg)
{
    char msgs[2048];
    ps_err err;
    ps_yaml_doc *doc = parse(text, &err, msgs, sizeof msgs);
    assert_null(doc);
    assert_int_equal(err, want);
    assert_string_equal(msgs, msg);
}

static void test_positions_and_kinds(void **state)
{
    (void)state;
    ps_yaml_doc *doc = parse_ok("# comment\n"
                                "name: pod\n"
                                "list:\n"
                                "  - a\n"
                                "  -   b\n"
                                "map: {x: 1, y: [2]}\n");
    const ps_yaml_node *root = ps_yaml_doc_root(doc), *n;

    assert_string_equal(ps_yaml_doc_name(doc), "t.yml");
    assert_int_equal(root->kind, PS_YAML_MAP);
    assert_int_equal(root->count, 3);
    assert_int_equal(root->line, 2);
    assert_int_equal(root->col, 1);
    assert_string_equal(root->keys[0]->value, "name");
    assert_string_equal(root->keys[2]->value, "map");

    n = ps_yaml_map_get(root, "name");
    assert_int_equal(n->kind, PS_YAML_SCALAR);
    assert_string_equal(n->value, "pod");
    assert_int_equal(n->len, 3);
    assert_int_equal(n->line, 2);
    assert_int_equal(n->col, 7);

    n = ps_yaml_map_get(root, "list");
    assert_int_equal(n->kind, PS_YAML_SEQ);
    assert_int_equal(n->count, 2);
    assert_int_equal(n->items[1]->line, 5);
    assert_int_equal(n->items[1]->col, 7);
    assert_string_equal(n->items[1]->value, "b");

    n = ps_yaml_map_get(root, "map");
    assert_int_equal(n->kind, PS_YAML_MAP);
    assert_int_equal(n->line, 6);
    assert_int_equal(n->col, 6);
    assert_int_equal(ps_yaml_map_get(n, "y")->kind, PS_YAML_SEQ);
    assert_int_equal(ps_yaml_map_get(n, "y")->items[0]->col, 17);

    assert_null(ps_yaml_map_get(root, "missing"));
    assert_null(ps_yaml_map_get(ps_yaml_map_get(root, "list"), "a"));
    assert_null(ps_yaml_map_get(NULL, "a"));
    ps_yaml_doc_destroy(doc);
}

static void test_empty_documents(void **state)
{
    (void)state;
    const char *texts[] = {"", "# only a comment\n", "\n\n"};
    ps_yaml_doc *doc;
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        doc = parse_ok(texts[i]);
        assert_null(ps_yaml_doc_root(doc));
        ps_yaml_doc_destroy(doc);
    }
    /* An explicit document with nothing in it holds one null scalar. */
    doc = parse_ok("---\n");
    assert_true(ps_yaml_is_null(ps_yaml_doc_root(doc)));
    ps_yaml_doc_destroy(doc);
    ps_yaml_doc_destroy(NULL);
    assert_null(ps_yaml_doc_root(NULL));
    assert_null(ps_yaml_doc_name(NULL));
}

static void test_quoted_and_plain(void **state)
{
    (void)state;
    ps_yaml_doc *doc = parse_ok("a: 5\n"
                                "b: \"5\"\n"
                                "c: '5'\n"
                                "d: !!str 5\n"
                                "e: |\n"
                                "  5\n"
                                "f: \"nul\\0inside\"\n"
                                "g: \"\"\n");
    const ps_yaml_node *r = ps_yaml_doc_root(doc);
    long long v = 0;

    assert_true(ps_yaml_map_get(r, "a")->plain);
    assert_false(ps_yaml_map_get(r, "b")->plain);
    assert_false(ps_yaml_map_get(r, "c")->plain);
    assert_false(ps_yaml_map_get(r, "d")->plain);
    assert_false(ps_yaml_map_get(r, "e")->plain);
    assert_string_equal(ps_yaml_map_get(r, "e")->value, "5\n");

    /* Only plain scalars are typed: a quoted 5 is a string. */
    assert_int_equal(ps_yaml_to_int(ps_yaml_map_get(r, "a"), &v), PS_OK);
    assert_int_equal(v, 5);
    assert_int_equal(ps_yaml_to_int(ps_yaml_map_get(r, "b"), &v), PS_ERR_INVALID);
    assert_int_equal(ps_yaml_to_int(ps_yaml_map_get(r, "d"), &v), PS_ERR_INVALID);
    assert_string_equal(ps_yaml_describe(ps_yaml_map_get(r, "a")), "number");
    assert_string_equal(ps_yaml_describe(ps_yaml_map_get(r, "b")), "string");

    /* An escaped NUL is kept: len tells the truth, strlen does not. */
    assert_int_equal(ps_yaml_map_get(r, "f")->len, 10);
    assert_int_equal(strlen(ps_yaml_map_get(r, "f")->value), 3);

    /* A quoted empty string is a string, not null. */
    assert_false(ps_yaml_is_null(ps_yaml_map_get(r, "g")));
    assert_string_equal(ps_yaml_describe(ps_yaml_map_get(r, "g")), "string");
    ps_yaml_doc_destroy(doc);
}

static void test_typed_scalars(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        ps_err err;
        long long value;
    } ints[] = {
        {"0", PS_OK, 0},
        {"42", PS_OK, 42},
        {"-7", PS_OK, -7},
        {"+7", PS_OK, 7},
        {"010", PS_OK, 10}, /* YAML 1.2: decimal, not octal */
        {"0x1F", PS_OK, 31},
        {"0o17", PS_OK, 15},
        {"9223372036854775807", PS_OK, 9223372036854775807LL},
        {"9223372036854775808", PS_ERR_RANGE, 0},
        {"1.5", PS_ERR_INVALID, 0},
        {"5x", PS_ERR_INVALID, 0},
        {"0x", PS_ERR_INVALID, 0},
        {"0o8", PS_ERR_INVALID, 0},
        {"-0x5", PS_ERR_INVALID, 0},
        {"0x-5", PS_ERR_INVALID, 0},
        {"--5", PS_ERR_INVALID, 0},
        {"abc", PS_ERR_INVALID, 0},
    };
    char text[128];

    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        snprintf(text, sizeof text, "v: %s\n", ints[i].text);
        ps_yaml_doc *doc = parse_ok(text);
        long long v = -1;
        ps_err e = ps_yaml_to_int(ps_yaml_map_get(ps_yaml_doc_root(doc), "v"), &v);
        if (e != ints[i].err)
            fail_msg("%s: got %s, want %s", ints[i].text, ps_strerror(e), ps_strerror(ints[i].err));
        if (e == PS_OK)
            assert_int_equal(v, ints[i].value);
        ps_yaml_doc_destroy(doc);
    }

    ps_yaml_doc *doc = parse_ok("t1: true\nt2: Yes\nt3: ON\nf1: false\nf2: no\nf3: Off\n"
                                "q: \"true\"\nm: maybe\nd: 2.5\nn1: ~\nn2: null\nn3:\n"
                                "n4: NULL\nn5: \"null\"\nx: nan\n");
    const ps_yaml_node *r = ps_yaml_doc_root(doc);
    bool b;
    double d;
    const char *yes[] = {"t1", "t2", "t3"}, *no[] = {"f1", "f2", "f3"};
    for (size_t i = 0; i < 3; i++) {
        b = false;
        assert_int_equal(ps_yaml_to_bool(ps_yaml_map_get(r, yes[i]), &b), PS_OK);
        assert_true(b);
        assert_int_equal(ps_yaml_to_bool(ps_yaml_map_get(r, no[i]), &b), PS_OK);
        assert_false(b);
    }
    assert_int_equal(ps_yaml_to_bool(ps_yaml_map_get(r, "q"), &b), PS_ERR_INVALID);
    assert_int_equal(ps_yaml_to_bool(ps_yaml_map_get(r, "m"), &b), PS_ERR_INVALID);
    assert_int_equal(ps_yaml_to_double(ps_yaml_map_get(r, "d"), &d), PS_OK);
    assert_true(d == 2.5);
    assert_int_equal(ps_yaml_to_double(ps_yaml_map_get(r, "x"), &d), PS_ERR_INVALID);
    assert_int_equal(ps_yaml_to_double(ps_yaml_map_get(r, "m"), &d), PS_ERR_INVALID);
    assert_true(ps_yaml_is_null(ps_yaml_map_get(r, "n1")));
    assert_true(ps_yaml_is_null(ps_yaml_map_get(r, "n2")));
    assert_true(ps_yaml_is_null(ps_yaml_map_get(r, "n3")));
    assert_true(ps_yaml_is_null(ps_yaml_map_get(r, "n4")));
    assert_false(ps_yaml_is_null(ps_yaml_map_get(r, "n5")));
    assert_false(ps_yaml_is_null(NULL));
    assert_string_equal(ps_yaml_describe(ps_yaml_map_get(r, "t2")), "boolean");
    assert_string_equal(ps_yaml_describe(ps_yaml_map_get(r, "d")), "number");
    assert_string_equal(ps_yaml_describe(ps_yaml_map_get(r, "n3")), "null");
    assert_string_equal(ps_yaml_describe(ps_yaml_map_get(r, "m")), "string");
    assert_string_equal(ps_yaml_describe(r), "mapping");
    assert_string_equal(ps_yaml_describe(NULL), "nothing");
    /* Typed readers refuse collections. */
    assert_int_equal(ps_yaml_to_int(r, &(long long){0}), PS_ERR_INVALID);
    assert_int_equal(ps_yaml_to_bool(r, &b), PS_ERR_INVALID);
    ps_yaml_doc_destroy(doc);
}

static void test_aliases_share_nodes(void **state)
{
    (void)state;
    ps_yaml_doc *doc = parse_ok("base: &b {cluster: acme, type: message}\n"
                                "one: *b\n"
                                "name: &n pod\n"
                                "again: *n\n"
                                "shadow: &b other\n"
                                "later: *b\n");
    const ps_yaml_node *r = ps_yaml_doc_root(doc);
    assert_ptr_equal(ps_yaml_map_get(r, "base"), ps_yaml_map_get(r, "one"));
    assert_string_equal(ps_yaml_map_get(ps_yaml_map_get(r, "one"), "cluster")->value, "acme");
    assert_ptr_equal(ps_yaml_map_get(r, "name"), ps_yaml_map_get(r, "again"));
    /* A later anchor of the same name wins, as YAML says. */
    assert_string_equal(ps_yaml_map_get(r, "later")->value, "other");
    ps_yaml_doc_destroy(doc);
}

static void test_alias_errors(void **state)
{
    (void)state;
    expect_error("a: *nowhere\n", PS_ERR_PARSE,
                 "t.yml:1:4: error: alias *nowhere refers to no anchor");
    /* An alias to a collection inside itself is not yet defined: no cycles. */
    expect_error("a: &x [1, *x]\n", PS_ERR_PARSE,
                 "t.yml:1:11: error: alias *x refers to no anchor");
}

static void test_alias_bomb(void **state)
{
    (void)state;
    /* "Billion laughs": 10 levels of 10 aliases expand to 10^10 nodes. */
    char text[4096];
    size_t used = (size_t)snprintf(text, sizeof text, "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
    for (int i = 1; i < 10; i++)
        used += (size_t)snprintf(text + used, sizeof text - used,
                                 "l%d: &l%d [*l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, "
                                 "*l%d, *l%d]\n",
                                 i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1,
                                 i - 1, i - 1);
    char msgs[2048];
    ps_err err;
    ps_yaml_doc *doc = parse(text, &err, msgs, sizeof msgs);
    assert_null(doc);
    assert_int_equal(err, PS_ERR_RANGE);
    assert_non_null(strstr(msgs, "error: document too large (aliases expand past 1,000,000 "
                                 "nodes)"));
    /* The limit counts expansions, not text: lines 1-5 weigh 123,460 nodes and
     * each *l4 adds 111,111, so the 8th alias of line 6 crosses it. */
    assert_string_equal(msgs, "t.yml:6:45: error: document too large (aliases expand past "
                              "1,000,000 nodes)");

    /* Below the limit, aliases are fine. */
    ps_yaml_doc_destroy(parse_ok("a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                                 "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                                 "c: [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"));
}

static void test_depth_limit(void **state)
{
    (void)state;
    char text[512];
    size_t n = 0;
    for (int i = 0; i < 65; i++)
        text[n++] = '[';
    for (int i = 0; i < 65; i++)
        text[n++] = ']';
    text[n] = '\0';
    expect_error(text, PS_ERR_RANGE, "t.yml:1:65: error: nesting deeper than 64 levels");
    /* 64 levels are allowed. */
    text[64] = ']';
    memset(text + 64, ']', 64);
    text[128] = '\0';
    ps_yaml_doc_destroy(parse_ok(text));
}

static void test_duplicate_keys(void **state)
{
    (void)state;
    expect_error("devices:\n"
                 "  - id: 1\n"
                 "    name: a\n"
                 "    id: 2\n",
                 PS_ERR_PARSE, "t.yml:4:5: error: duplicate key \"id\" (first at line 2)");
    expect_error("{a: 1, a: 2}\n", PS_ERR_PARSE,
                 "t.yml:1:8: error: duplicate key \"a\" (first at line 1)");
}

static void test_multi_document_refused(void **state)
{
    (void)state;
    expect_error("a: 1\n---\nb: 2\n", PS_ERR_PARSE,
                 "t.yml:2:1: error: more than one YAML document (---) in one file; split "
                 "them into files");
}

static void test_syntax_errors(void **state)
{
    (void)state;
    expect_error("a: \"unterminated\nb: 2\n", PS_ERR_PARSE,
                 "t.yml:3:1: error: YAML syntax error: found unexpected end of stream while "
                 "scanning a quoted scalar that starts at line 1, column 4");
    expect_error("a: 1\n b: 2\n", PS_ERR_PARSE,
                 "t.yml:2:3: error: YAML syntax error: mapping values are not allowed in "
                 "this context");
    expect_error("a: [1, 2\n", PS_ERR_PARSE,
                 "t.yml:2:1: error: YAML syntax error: did not find expected ',' or ']' while "
                 "parsing a flow sequence that starts at line 1, column 4");
    expect_error("a:\n\tb: 1\n", PS_ERR_PARSE,
                 "t.yml:2:1: error: tab used for indentation; YAML allows only spaces");
}

/* libyaml's words for a tab in the indentation do not say "tab"; ours do, at the tab. */
static void test_tab_indentation(void **state)
{
    (void)state;
    expect_error("devices:\n  - id: 1\n    properties:\n  \t  cluster: c\n", PS_ERR_PARSE,
                 "t.yml:4:3: error: tab used for indentation; YAML allows only spaces");
    expect_error("devices:\n\t- id: 1\n", PS_ERR_PARSE,
                 "t.yml:2:1: error: tab used for indentation; YAML allows only spaces");
    expect_error("a:\r\n\tb: 1\r\n", PS_ERR_PARSE,
                 "t.yml:2:1: error: tab used for indentation; YAML allows only spaces");
    /* A tab between a key and its value is a separator, not indentation. */
    ps_yaml_doc_destroy(parse_ok("a:\t1\nb: \t2\n"));
}

/* libyaml reports a bad byte by its offset alone; the error names its line and column
 * (in characters, so "é" before it counts once). */
static void test_invalid_utf8_position(void **state)
{
    (void)state;
    expect_error("a: 1\nname: \"caf\xe9\"\n", PS_ERR_PARSE,
                 "t.yml:2:11: error: not valid UTF-8 (invalid trailing UTF-8 octet); save the "
                 "file as UTF-8");
    expect_error("a: 1\nb: 2\n  # caf\xc3\xa9 \xff\n", PS_ERR_PARSE,
                 "t.yml:3:10: error: not valid UTF-8 (invalid leading UTF-8 octet); save the "
                 "file as UTF-8");
    expect_error("a: x\xe2\x82", PS_ERR_PARSE,
                 "t.yml:1:5: error: not valid UTF-8 (incomplete UTF-8 octet sequence); save "
                 "the file as UTF-8");
    expect_error("a: 1\nb: \x01\n", PS_ERR_PARSE,
                 "t.yml:2:4: error: YAML syntax error: control characters are not allowed");
}

static void test_collection_keys_refused(void **state)
{
    (void)state;
    expect_error("? [a, b]\n: 1\n", PS_ERR_PARSE,
                 "t.yml:1:3: error: mapping keys must be plain strings, not lists or mappings");
}

static void test_key_count_limit(void **state)
{
    (void)state;
    size_t cap = 10001 * 16, used = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    for (int i = 0; i < 10001; i++)
        used += (size_t)snprintf(text + used, cap - used, "k%d: 1\n", i);
    expect_error(text, PS_ERR_RANGE, "t.yml:10001:1: error: mapping has more than 10,000 keys");
    free(text);
}

static void test_size_limit(void **state)
{
    (void)state;
    size_t len = PS_YAML_MAX_FILE_BYTES + 1;
    char *big = malloc(len + 1);
    ps_diag d;
    ps_yaml_doc *doc = (ps_yaml_doc *)1;
    char line[256];
    assert_non_null(big);
    memset(big, '#', len);
    big[len] = '\0';
    ps_diag_init(&d);
    assert_int_equal(ps_yaml_load_buffer("big.yml", big, len, &doc, &d), PS_ERR_RANGE);
    assert_null(doc);
    assert_int_equal(d.count, 1);
    ps_diag_format(&d.items[0], line, sizeof line);
    assert_string_equal(line, "big.yml: error: file is larger than 16 MiB; refusing to parse it");
    ps_diag_deinit(&d);
    free(big);
}

static void test_load_file(void **state)
{
    (void)state;
    char path[] = "/tmp/ps_test_yaml_XXXXXX";
    int fd = mkstemp(path);
    ps_yaml_doc *doc = NULL;
    ps_diag d;
    char line[512], want[512];
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "k: v\n", 5), 5);
    close(fd);

    ps_diag_init(&d);
    assert_int_equal(ps_yaml_load_file(path, "shown.yml", &doc, &d), PS_OK);
    assert_string_equal(ps_yaml_doc_name(doc), "shown.yml");
    assert_string_equal(ps_yaml_map_get(ps_yaml_doc_root(doc), "k")->value, "v");
    ps_yaml_doc_destroy(doc);
    assert_int_equal(ps_yaml_load_file(path, NULL, &doc, &d), PS_OK);
    assert_string_equal(ps_yaml_doc_name(doc), path);
    ps_yaml_doc_destroy(doc);
    assert_int_equal(d.count, 0);
    unlink(path);

    assert_int_equal(ps_yaml_load_file(path, "gone.yml", &doc, &d), PS_ERR_NOTFOUND);
    assert_null(doc);
    assert_int_equal(d.count, 1);
    ps_diag_format(&d.items[0], line, sizeof line);
    snprintf(want, sizeof want, "gone.yml: error: cannot open %s: No such file or directory", path);
    assert_string_equal(line, want);
    ps_diag_deinit(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_positions_and_kinds),
        cmocka_unit_test(test_empty_documents),
        cmocka_unit_test(test_quoted_and_plain),
        cmocka_unit_test(test_typed_scalars),
        cmocka_unit_test(test_aliases_share_nodes),
        cmocka_unit_test(test_alias_errors),
        cmocka_unit_test(test_alias_bomb),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_multi_document_refused),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_collection_keys_refused),
        cmocka_unit_test(test_key_count_limit),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_tab_indentation),
        cmocka_unit_test(test_invalid_utf8_position),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
