/* ps_expr: every operator, function and literal of the condition language, with
 * missing fields, nil and type mismatches, the exact text of compile and runtime
 * errors, limits, and concurrent evaluation of one compiled expression. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_expr.h"
#include "podstream/ps_platform.h"

static const char *const EVENT_JSON =
    "{\"s\":\"Hello World\",\"e\":\"\",\"n\":42,\"f\":2.5,\"neg\":-3,\"t\":true,\"fl\":false,"
    "\"z\":null,\"ns\":\"120812\",\"fs\":\"2.5e1\",\"arr\":[\"a@x.com\",\"B@Y.COM\"],"
    "\"nums\":[1,2,3],\"empty\":[],\"nested\":[[1,2],[3]],"
    "\"objs\":[{\"module\":\"spam\",\"isFinal\":false},{\"module\":\"access\",\"isFinal\":true}],"
    "\"o\":{\"k\":\"v\",\"dotted.key\":1,\"dash-key\":\"d\",\"sp ace\":\"s\",\"and\":\"kw\"},"
    "\"filter\":{\"routeDirection\":\"outbound\"},"
    "\"msg\":{\"header\":{\"subject\":[\"Cron <pps@x> job\"],\"message-id\":[\"<id@x>\"]}},"
    "\"u\":\"caf\\u00e9 \\u65e5\\u672c\"}";

static cJSON *event;

static int setup(void **state)
{
    (void)state;
    event = cJSON_Parse(EVENT_JSON);
    return event ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    cJSON_Delete(event);
    return 0;
}

static ps_expr *compile_ok(const char *src)
{
    ps_expr *e = NULL;
    ps_expr_error err;
    ps_err rc = ps_expr_compile(src, strlen(src), &e, &err);
    if (rc != PS_OK)
        fail_msg("compile %s: %s at offset %zu", src, err.msg, err.offset);
    return e;
}

/* The value of `src` as compact JSON. */
static void expect_json(const char *src, const char *want)
{
    ps_expr *e = compile_ok(src);
    ps_expr_env env = {event, NULL, NULL};
    ps_errmsg em;
    cJSON *out = NULL;
    char *got;
    if (ps_expr_eval_json(e, &env, &out, &em) != PS_OK)
        fail_msg("eval %s: %s", src, em.text);
    got = cJSON_PrintUnformatted(out);
    if (strcmp(got, want) != 0)
        fail_msg("%s: got %s, want %s", src, got, want);
    cJSON_free(got);
    cJSON_Delete(out);
    ps_expr_destroy(e);
}

static void expect_bool(const char *src, bool want)
{
    ps_expr *e = compile_ok(src);
    ps_expr_env env = {event, NULL, NULL};
    ps_errmsg em;
    bool got = !want;
    if (ps_expr_eval_bool(e, &env, &got, &em) != PS_OK)
        fail_msg("eval %s: %s", src, em.text);
    if (got != want)
        fail_msg("%s: got %s, want %s", src, got ? "true" : "false", want ? "true" : "false");
    ps_expr_destroy(e);
}

#define T(src) expect_bool(src, true)
#define F(src) expect_bool(src, false)

static void expect_runtime_error(const char *src, const char *want)
{
    ps_expr *e = compile_ok(src);
    ps_expr_env env = {event, NULL, NULL};
    ps_errmsg em;
    bool got;
    ps_err rc = ps_expr_eval_bool(e, &env, &got, &em);
    if (rc != PS_ERR_INVALID)
        fail_msg("%s: evaluated without the expected error (rc %d)", src, (int)rc);
    if (strcmp(em.text, want) != 0)
        fail_msg("%s:\n got  %s\n want %s", src, em.text, want);
    ps_expr_destroy(e);
}

static void expect_compile_error(const char *src, ps_err want_rc, size_t offset, const char *want)
{
    ps_expr *e = (ps_expr *)&e; /* must be reset to NULL on failure */
    ps_expr_error err;
    ps_err rc = ps_expr_compile(src, strlen(src), &e, &err);
    if (rc != want_rc)
        fail_msg("%s: rc %d, want %d (%s)", src, (int)rc, (int)want_rc, err.msg);
    assert_null(e);
    if (strcmp(err.msg, want) != 0 || err.offset != offset)
        fail_msg("%s:\n got  %zu: %s\n want %zu: %s", src, err.offset, err.msg, offset, want);
}

/* ---- literals ------------------------------------------------------------------ */

static void test_literals(void **state)
{
    (void)state;
    expect_json("42", "42");
    expect_json("-3", "-3");
    expect_json("2.5", "2.5");
    expect_json("1e3", "1000");
    expect_json("1_000_000", "1000000");
    expect_json("'single'", "\"single\"");
    expect_json("\"double\"", "\"double\"");
    expect_json("`raw \\d+`", "\"raw \\\\d+\"");
    expect_json("'tab\\tquote\\' \\\"dq\\\" back\\\\'", "\"tab\\tquote' \\\"dq\\\" back\\\\\"");
    expect_json("'\\u00e9\\x41\\U0001F600'", "\"\xc3\xa9"
                                             "A\xf0\x9f\x98\x80\"");
    expect_json("'\\ud83d\\ude00'", "\"\xf0\x9f\x98\x80\"");
    expect_json("true", "true");
    expect_json("false", "false");
    expect_json("nil", "null");
    expect_json("null", "null");
    expect_json("[1, 'a', [true], nil]", "[1,\"a\",[true],null]");
    expect_json("[]", "[]");
    expect_json("[n, s]", "[42,\"Hello World\"]");
    expect_json("[1, 2,]", "[1,2]");
}

/* ---- field access ----------------------------------------------------------------- */

static void test_fields(void **state)
{
    (void)state;
    expect_json("s", "\"Hello World\"");
    expect_json("msg.header.subject[0]", "\"Cron <pps@x> job\"");
    expect_json("msg.header[\"message-id\"][0]", "\"<id@x>\"");
    expect_json("msg.header['message-id'][-1]", "\"<id@x>\"");
    expect_json("o[\"dotted.key\"]", "1");
    expect_json("o['dash-key']", "\"d\"");
    expect_json("o['sp ace']", "\"s\"");
    expect_json("o.and", "\"kw\""); /* keywords are fine after a dot */
    expect_json("nums[-1]", "3");
    expect_json("objs[1].module", "\"access\"");
    expect_json("missing", "null");
    expect_json("o.missing", "null");
    expect_json("z", "null");
    expect_json("o", "{\"k\":\"v\",\"dotted.key\":1,\"dash-key\":\"d\",\"sp ace\":\"s\",\"and\":"
                     "\"kw\"}");
    /* Optional chaining turns reads of nil into nil. */
    expect_json("missing?.x", "null");
    expect_json("missing?.x?.y", "null");
    expect_json("z?.x", "null");
    expect_json("missing?.[0]", "null");
    expect_json("nums?.[7]", "null");
    expect_json("filter?.routeDirection", "\"outbound\"");
    T("filter?.routeDirection != nil");
    F("maillog?.sm?.stat != nil");
    /* Without it, reading through nil is an error that says what to write. */
    expect_runtime_error("missing.x",
                         "missing is nil, so .x cannot be read (write missing?.x if it may be "
                         "missing)");
    expect_runtime_error("o.missing.deeper", "o.missing is nil, so .deeper cannot be read (write "
                                             "o.missing?.deeper if it may be missing)");
    expect_runtime_error("missing[0]", "missing is nil, so [0] cannot be read (write "
                                       "missing?.[0] if it may be missing)");
    expect_runtime_error("nums[3]", "index 3 is out of range: nums has 3 elements");
    expect_runtime_error("empty[0]", "index 0 is out of range: empty has 0 elements");
    expect_runtime_error("nums[-4]", "index -4 is out of range: nums has 3 elements");
    expect_runtime_error("objs.module", "objs is a list; read .module of one element ([0]) or "
                                        "test them all with any()");
    expect_runtime_error("s.length", "s is a string, not a mapping, so .length cannot be read");
    expect_runtime_error("s[0]", "s is a string and cannot be indexed");
    expect_runtime_error("nums['a']", "a list is indexed by a whole number; 'a' is a string");
    expect_runtime_error("nums[1.5]", "a list is indexed by a whole number; 1.5 is a fraction");
    expect_runtime_error("o[1]", "a mapping is indexed by a string; 1 is a number");
}

/* ---- comparisons --------------------------------------------------------------------- */

static void test_equality(void **state)
{
    (void)state;
    T("n == 42");
    T("n == 42.0");
    T("f == 2.5");
    T("s == 'Hello World'");
    T("s != 'hello world'");
    T("t == true");
    T("fl == false");
    T("z == nil");
    T("missing == nil");
    T("missing == null");
    T("nil == nil");
    F("n == '42'"); /* different types are never equal, and that is not an error */
    T("n != '42'");
    F("ns == 120812");
    F("t == 1");
    F("e == nil");
    T("nums == [1, 2, 3]");
    F("nums == [1, 2]");
    T("[1, 2] == [1, 2]");
    T("objs[0] == objs[0]");
    F("objs[0] == objs[1]");
    T("o != nil");
    T("neg == -3");
}

static void test_ordering(void **state)
{
    (void)state;
    T("n > 41");
    F("n > 42");
    T("n >= 42");
    T("n < 42.5");
    T("n <= 42");
    F("n < 42");
    T("neg < 0");
    T("f >= 2.5");
    T("'abc' < 'abd'");
    T("'ab' < 'abc'");
    T("'b' > 'abc'");
    T("s >= 'Hello'");
    T("'' < 'a'");
    /* nil orders with nothing: false rather than an error, so ?. chains stay simple. */
    F("missing > 1");
    F("missing < 1");
    F("missing >= 1");
    F("z <= 'a'");
    F("1 > nil");
    expect_runtime_error("ns > 100000", "cannot order a string (ns) and a number (100000) "
                                        "(convert with int() or float())");
    expect_runtime_error("n < 'x'", "cannot order a number (n) and a string ('x') (convert "
                                    "with int() or float())");
    expect_runtime_error("t > fl", "cannot order a boolean (t) and a boolean (fl)");
    expect_runtime_error("nums < [1]", "cannot order a list (nums) and a list ([1])");
    T("int(ns) > 100000");
}

/* ---- logic --------------------------------------------------------------------------- */

static void test_logic(void **state)
{
    (void)state;
    T("t && !fl");
    T("t and not fl");
    T("fl || t");
    T("fl or t");
    F("fl or fl or fl");
    T("fl or fl or t");
    F("t and t and fl");
    T("!(n > 50)");
    T("not (n > 50)");
    T("!!t");
    T("(fl || t) && (n == 42)");
    F("fl || t && fl"); /* && binds tighter than || */
    T("t || fl && fl");
    /* Short-circuit: the right side is not evaluated, so it cannot fail. */
    F("missing != nil && missing.x == 1");
    T("missing == nil || missing.x == 1");
    /* nil is false in a boolean context. */
    F("missing");
    F("missing && t");
    T("!missing");
    T("missing || t");
    expect_runtime_error("s && t", "s is a string, not a boolean");
    expect_runtime_error("t && n", "n is a number, not a boolean");
    expect_runtime_error("!nums", "nums is a list, not a boolean");
    /* `not` binds tighter than comparisons, as in expr: (not s) == ... */
    expect_runtime_error("not s == 'x'", "s is a string, not a boolean");
}

static void test_membership(void **state)
{
    (void)state;
    T("n in [1, 42, 3]");
    F("n in [1, 2]");
    T("'a@x.com' in arr");
    F("'A@X.COM' in arr");
    T("lower('B@Y.COM') in ['b@y.com']");
    T("'k' in o");
    T("'dotted.key' in o");
    F("'nope' in o");
    F("1 in missing"); /* nothing is in nil */
    F("missing in [1]");
    T("missing in [1, nil]");
    T("n not in [1, 2]");
    F("n not in [42]");
    T("[1, 2] in nested");
    T("'x' not in o");
    expect_runtime_error("'a' in s", "in needs a list or a mapping on its right; s is a string "
                                     "(use contains to search text)");
    expect_runtime_error("1 in n", "in needs a list or a mapping on its right; n is a number");
    expect_runtime_error("1 in o", "a mapping holds string keys; 1 is a number");
}

static void test_text_operators(void **state)
{
    (void)state;
    T("s contains 'lo Wo'");
    F("s contains 'hello'");
    T("s contains ''");
    T("arr contains 'a@x.com'"); /* lists too: membership */
    F("arr contains 'a@x'");
    T("s not contains 'xyz'");
    T("s startsWith 'Hello'");
    F("s startsWith 'World'");
    T("s endsWith 'World'");
    F("s endsWith 'Hello'");
    T("s not startsWith 'x'");
    T("s not endsWith 'x'");
    T("msg.header.subject[0] startsWith 'Cron'");
    T("e startsWith ''");
    F("e endsWith 'x'");
    /* nil never contains, starts or ends with anything (and is not an error). */
    F("missing contains 'x'");
    F("missing startsWith 'x'");
    F("missing endsWith 'x'");
    F("s contains missing");
    F("missing?.x startsWith 'a'");
    expect_runtime_error("n contains '4'", "contains needs a string or a list on its left; n is "
                                           "a number");
    expect_runtime_error("s startsWith 1", "startsWith needs a string on its right; 1 is a "
                                           "number");
    expect_runtime_error("nums endsWith 'x'", "endsWith needs a string on its left; nums is a "
                                              "list");
    expect_runtime_error("o contains 'k'", "contains needs a string or a list on its left; o is "
                                           "a mapping");
}

static void test_matches(void **state)
{
    (void)state;
    T("s matches '^Hello'");
    F("s matches '^World'");
    T("s matches 'o W'");
    T("s matches '(?i)^hello world$'");
    T("ns matches `^\\d+$`");
    T("ns matches '^\\\\d{6}$'");
    F("fs matches `^\\d+$`");
    T("s not matches '^x'");
    T("u matches '^caf\xc3\xa9'");
    T("msg.header.subject[0] matches '^Cron <[^>]+> '");
    F("missing matches '.*'");
    expect_runtime_error("n matches '4'", "matches needs a string on its left; n is a number");
    expect_runtime_error("'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!' matches '(a|aa)+$'",
                         "the regular expression '(a|aa)+$' backtracks too much on this value");
}

static void test_coalesce(void **state)
{
    (void)state;
    expect_json("missing ?? 'dflt'", "\"dflt\"");
    expect_json("s ?? 'dflt'", "\"Hello World\"");
    expect_json("z ?? missing ?? 3", "3");
    expect_json("fl ?? true", "false"); /* only nil is replaced */
    T("(filter?.routeDirection ?? '') == 'outbound'");
    T("(maillog?.x ?? '') == ''");
}

/* ---- functions and methods ----------------------------------------------------------- */

static void test_functions(void **state)
{
    (void)state;
    expect_json("lower(s)", "\"hello world\"");
    expect_json("upper(s)", "\"HELLO WORLD\"");
    expect_json("lower(u)", "\"caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac\""); /* ASCII only */
    expect_json("trim('  a b \\t\\n')", "\"a b\"");
    expect_json("lower(missing)", "null");
    expect_json("upper(nil)", "null");
    expect_json("len(s)", "11");
    expect_json("len(u)", "7"); /* characters, not bytes */
    expect_json("len(nums)", "3");
    expect_json("len(empty)", "0");
    expect_json("len(o)", "5");
    expect_json("len(missing)", "0");
    expect_json("len([1, 2])", "2");
    expect_json("int(ns)", "120812");
    expect_json("int('-7')", "-7");
    expect_json("int(f)", "2");
    expect_json("int(missing)", "null");
    expect_json("float(fs)", "25");
    expect_json("float('0.1')", "0.1");
    expect_json("float(n)", "42");
    expect_json("string(n)", "\"42\"");
    expect_json("string(f)", "\"2.5\"");
    expect_json("string(0.1)", "\"0.1\"");
    expect_json("string(t)", "\"true\"");
    expect_json("string(nums)", "\"[1,2,3]\"");
    expect_json("string([1, 'a'])", "\"[1,\\\"a\\\"]\"");
    expect_json("string(o.k)", "\"v\"");
    expect_json("string(missing)", "null");
    expect_runtime_error("lower(n)", "lower() needs a string; n is a number");
    expect_runtime_error("upper(nums)", "upper() needs a string; nums is a list");
    expect_runtime_error("trim(t)", "trim() needs a string; t is a boolean");
    expect_runtime_error("len(n)", "len() needs a string, a list or a mapping; n is a number");
    expect_runtime_error("int(s) > 1", "int(): s is a string that is not a whole number");
    expect_runtime_error("int('1.5') > 1", "int(): '1.5' is a string that is not a whole "
                                           "number");
    expect_runtime_error("float('inf') > 1", "float(): 'inf' is a string that is not a number");
    expect_runtime_error("float(' 1') > 1", "float(): ' 1' is a string that is not a number");
    expect_runtime_error("int(t) > 1", "int(): t is a boolean, not a number or a string");
    expect_runtime_error("float(o) > 1", "float(): o is a mapping, not a number or a string");
}

static void test_predicates(void **state)
{
    (void)state;
    T("any(objs, #.module == 'spam')");
    T("any(objs, .module == 'access' && .isFinal)");
    F("any(objs, .module == 'av')");
    T("all(objs, .module != nil)");
    F("all(objs, .isFinal)");
    T("none(objs, .module == 'av')");
    F("none(objs, .module == 'spam')");
    T("any(arr, lower(#) endsWith '@y.com')");
    T("all(nums, # > 0)");
    T("any([1, 2, 3], # == 2)");
    T("any(nested, any(#, # == 3))"); /* # is the innermost element */
    T("all(nested, len(#) > 0)");
    /* nil is an empty list; an empty list has no element that matches. */
    F("any(missing, # == 1)");
    T("all(missing, # == 1)");
    T("none(missing, # == 1)");
    F("any(empty, true)");
    T("all(empty, false)");
    expect_runtime_error("any(s, # == 1)", "any() needs a list; s is a string");
    expect_runtime_error("all(objs, .module)", ".module is a string, not a boolean");
    expect_runtime_error("any(nums, #.x == 1)",
                         "# is a number, not a mapping, so .x cannot be read");
    expect_runtime_error("any(nums, .x == 1)",
                         "# is a number, not a mapping, so .x cannot be read");
}

static void test_methods(void **state)
{
    (void)state;
    T("['outbound', 'internal'].contains(filter.routeDirection)");
    F("['inbound'].contains(filter.routeDirection)");
    T("arr.contains('B@Y.COM')");
    T("s.contains('World')");
    F("missing.contains('x') == true || false");
    T("o.containsKey('k')");
    T("o.containsKey('dotted.key')");
    F("o.containsKey('x')");
    F("missing?.containsKey('x')");
    T("filter.containsKey('routeDirection')");
    T("s.startsWith('Hell')");
    T("s.endsWith('rld')");
    expect_json("s.lower()", "\"hello world\"");
    expect_json("s.upper()", "\"HELLO WORLD\"");
    expect_json("' x '.trim()", "\"x\"");
    T("msg.header.subject[0].lower().startsWith('cron')");
    expect_runtime_error("nums.containsKey('a')", "containsKey() needs a mapping; nums is a list");
    expect_runtime_error("o.containsKey(1)", "containsKey() needs a string key; 1 is a number");
    expect_runtime_error("n.contains(4)", "contains needs a string or a list on its left; n is a "
                                          "number");
}

static void test_condition_result(void **state)
{
    ps_expr *e = compile_ok("s");
    ps_expr_env env = {event, NULL, NULL};
    ps_errmsg em;
    bool got = true;
    (void)state;
    assert_int_equal(ps_expr_eval_bool(e, &env, &got, &em), PS_ERR_INVALID);
    assert_string_equal(em.text,
                        "the condition gives a string, not true or false; compare it, e.g. s "
                        "!= nil");
    assert_false(got);
    ps_expr_destroy(e);
    F("z"); /* nil: false */
}

static void test_meta_and_root(void **state)
{
    cJSON *meta = cJSON_Parse("{\"on_failure_message\":\"boom\",\"pipeline\":\"p\"}");
    cJSON *notobj = cJSON_CreateString("x");
    ps_expr *e = compile_ok("_ingest.on_failure_message == 'boom' && _ingest.pipeline == 'p'");
    ps_expr *m = compile_ok("_ingest?.pipeline == nil && s == nil");
    ps_expr_env env = {event, meta, NULL};
    ps_errmsg em;
    bool got = false;
    (void)state;
    assert_int_equal(ps_expr_eval_bool(e, &env, &got, &em), PS_OK);
    assert_true(got);
    env.meta = NULL;
    env.root = notobj; /* a root that is not a mapping has no fields */
    assert_int_equal(ps_expr_eval_bool(m, &env, &got, &em), PS_OK);
    assert_true(got);
    ps_expr_destroy(e);
    ps_expr_destroy(m);
    cJSON_Delete(meta);
    cJSON_Delete(notobj);
}

/* ---- compile errors ---------------------------------------------------------------- */

static void test_syntax_errors(void **state)
{
    (void)state;
    expect_compile_error("", PS_ERR_PARSE, 0, "the condition is empty");
    expect_compile_error("   ", PS_ERR_PARSE, 0, "the condition is empty");
    expect_compile_error("a ==", PS_ERR_PARSE, 4, "unexpected end of condition; expected a value");
    expect_compile_error("a = 1", PS_ERR_PARSE, 2, "'=' is not an operator; use '==' to compare");
    expect_compile_error("a & b", PS_ERR_PARSE, 2, "'&' is not an operator; use '&&' or 'and'");
    expect_compile_error("a | b", PS_ERR_PARSE, 2, "'|' is not an operator; use '||' or 'or'");
    expect_compile_error("n + 1 > 2", PS_ERR_PARSE, 2,
                         "arithmetic ('+') is not supported in conditions");
    expect_compile_error("n - 1", PS_ERR_PARSE, 2,
                         "unexpected '-'; expected an operator or the "
                         "end");
    expect_compile_error("-n", PS_ERR_PARSE, 0, "arithmetic ('-') is not supported in conditions");
    expect_compile_error("a ? b : c", PS_ERR_PARSE, 2,
                         "the ?: operator is not supported; use && and ||");
    expect_compile_error("(a == 1", PS_ERR_PARSE, 7, "expected ')', found end of condition");
    expect_compile_error("a == 1)", PS_ERR_PARSE, 6,
                         "unexpected ')'; expected an operator or the end");
    expect_compile_error("a b", PS_ERR_PARSE, 2, "unexpected 'b'; expected an operator or the end");
    expect_compile_error("'abc", PS_ERR_PARSE, 0, "unterminated string (no closing ')");
    expect_compile_error("a == \"x", PS_ERR_PARSE, 5, "unterminated string (no closing \")");
    expect_compile_error("s matches '\\d'", PS_ERR_PARSE, 11,
                         "invalid escape \\d in string; write \\\\d for a backslash, or use a "
                         "`raw string`");
    expect_compile_error("'\\u12'", PS_ERR_PARSE, 1,
                         "invalid escape \\u in string; write \\\\u for a backslash, or use a "
                         "`raw string`");
    expect_compile_error("'\\udc00'", PS_ERR_PARSE, 1,
                         "\\u escape is not a valid Unicode code point");
    expect_compile_error("12abc", PS_ERR_PARSE, 0, "invalid number");
    expect_compile_error("1.2.3", PS_ERR_PARSE, 0, "invalid number");
    expect_compile_error("99999999999999999999", PS_ERR_PARSE, 0, "integer is larger than 2^53");
    expect_compile_error("1e999", PS_ERR_PARSE, 0, "number is out of range");
    expect_compile_error("a.", PS_ERR_PARSE, 2,
                         "expected a field name after '.', found end of condition; quote other "
                         "keys like this: a[\"k\"]");
    expect_compile_error("a.0", PS_ERR_PARSE, 2,
                         "expected a field name after '.', found '0'; quote other keys like "
                         "this: a[\"k\"]");
    expect_compile_error("a[0", PS_ERR_PARSE, 3, "expected ']', found end of condition");
    expect_compile_error("a[1:2]", PS_ERR_PARSE, 3, "slices ([a:b]) are not supported");
    expect_compile_error("a..b", PS_ERR_PARSE, 1, "ranges (..) are not supported");
    expect_compile_error("[1, 2", PS_ERR_PARSE, 5,
                         "expected ',' or ']' in list, found end of "
                         "condition");
    expect_compile_error("{'a': 1}", PS_ERR_PARSE, 0, "mapping literals ({...}) are not supported");
    expect_compile_error("# > 1", PS_ERR_PARSE, 0,
                         "'#' (the current element) is only allowed inside any(), all() or "
                         "none()");
    expect_compile_error(".x == 1", PS_ERR_PARSE, 0, "unexpected '.'; expected a value");
    expect_compile_error("foo(1)", PS_ERR_PARSE, 0,
                         "unknown function foo(); functions are lower, upper, trim, len, int, "
                         "float, string, any, all, none");
    expect_compile_error("s.foo()", PS_ERR_PARSE, 2,
                         "unknown method .foo(); methods are contains, containsKey, startsWith, "
                         "endsWith, lower, upper, trim");
    expect_compile_error("contains(s, 'x')", PS_ERR_PARSE, 0,
                         "unexpected 'contains'; expected a value (quote a key with that name "
                         "like this: [\"contains\"])");
    expect_compile_error("lower(a, b)", PS_ERR_PARSE, 0, "lower() takes 1 argument, not 2");
    expect_compile_error("any(a)", PS_ERR_PARSE, 0, "any() takes 2 arguments, not 1");
    expect_compile_error("s.contains()", PS_ERR_PARSE, 2, ".contains() takes 1 argument, not 0");
    expect_compile_error("lower(a,)", PS_ERR_PARSE, 8, "unexpected ')'; expected a value");
    expect_compile_error("s matches x", PS_ERR_PARSE, 10,
                         "matches needs a quoted regular expression on its right, e.g. matches "
                         "'^Cron'");
    expect_compile_error("s matches '(ab'", PS_ERR_PARSE, 10,
                         "invalid regular expression: missing closing parenthesis (at pattern "
                         "offset 3)");
    expect_compile_error("a not b", PS_ERR_PARSE, 2,
                         "unexpected 'not'; expected an operator or the end");
    expect_compile_error("a == \x01", PS_ERR_PARSE, 5, "unexpected control character 0x01");
    expect_compile_error("a == \xc3\xa9", PS_ERR_PARSE, 5,
                         "unexpected non-ASCII character; quote keys like this: a[\"k\"]");
    expect_compile_error("a == @", PS_ERR_PARSE, 5, "unexpected character '@'");
}

static void test_limits(void **state)
{
    char *big = malloc(PS_EXPR_MAX_LEN + 2);
    char deep[600];
    size_t o = 0;
    ps_expr *e = NULL;
    ps_expr_error err;
    (void)state;
    assert_non_null(big);
    memset(big, ' ', PS_EXPR_MAX_LEN + 1);
    big[0] = 't';
    big[PS_EXPR_MAX_LEN + 1] = '\0';
    assert_int_equal(ps_expr_compile(big, PS_EXPR_MAX_LEN + 1, &e, &err), PS_ERR_RANGE);
    assert_string_equal(err.msg, "condition is longer than 16384 bytes");
    free(big);

    for (int i = 0; i < 200; i++)
        deep[o++] = '(';
    deep[o++] = 't';
    for (int i = 0; i < 200; i++)
        deep[o++] = ')';
    deep[o] = '\0';
    assert_int_equal(ps_expr_compile(deep, o, &e, &err), PS_ERR_RANGE);
    assert_string_equal(err.msg, "condition nests too deeply (more than 64 levels)");
    assert_null(e);

    /* A long flat chain is not deep: && and || are n-ary. */
    char chain[4000];
    o = 0;
    for (int i = 0; i < 300; i++)
        o += (size_t)snprintf(chain + o, sizeof chain - o, "%sn == %d", i ? " || " : "", i);
    expect_bool(chain, true);
}

/* ---- numbers as text, and scratch ------------------------------------------------------ */

static void test_format_number(void **state)
{
    char buf[32];
    (void)state;
    ps_expr_format_number(42, buf, sizeof buf);
    assert_string_equal(buf, "42");
    ps_expr_format_number(-0.0, buf, sizeof buf);
    assert_string_equal(buf, "0");
    ps_expr_format_number(0.1, buf, sizeof buf);
    assert_string_equal(buf, "0.1");
    ps_expr_format_number(1.0 / 3.0, buf, sizeof buf);
    assert_string_equal(buf, "0.3333333333333333");
    ps_expr_format_number(1e20, buf, sizeof buf);
    assert_string_equal(buf, "1e+20");
    ps_expr_format_number(123456789012345.0, buf, sizeof buf);
    assert_string_equal(buf, "123456789012345");
}

static void test_scratch_reuse(void **state)
{
    /* Strings made by lower() beyond the first scratch block, many times over. */
    char *long_s = malloc(20001);
    cJSON *ev;
    ps_expr *e = compile_ok("lower(big) == lower(upper(big)) && len(upper(big)) == 20000");
    ps_expr_scratch *sc = NULL;
    ps_errmsg em;
    (void)state;
    assert_non_null(long_s);
    memset(long_s, 'A', 20000);
    long_s[20000] = '\0';
    ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "big", long_s);
    assert_int_equal(ps_expr_scratch_create(&sc), PS_OK);
    for (int i = 0; i < 50; i++) {
        ps_expr_env env = {ev, NULL, sc};
        bool got = false;
        assert_int_equal(ps_expr_eval_bool(e, &env, &got, &em), PS_OK);
        assert_true(got);
    }
    ps_expr_scratch_destroy(sc);
    ps_expr_destroy(e);
    cJSON_Delete(ev);
    free(long_s);
    e = compile_ok("  a == 'x'  ");
    assert_string_equal(ps_expr_source(e), "  a == 'x'  ");
    ps_expr_destroy(e);
}

/* ---- the real samples --------------------------------------------------------------- */

static cJSON *sample(const char *file, int line)
{
    const char *dir = getenv("PS_SAMPLES");
    char path[512], *buf = NULL;
    size_t cap = 0;
    FILE *f;
    cJSON *out = NULL;
    snprintf(path, sizeof path, "%s/%s", dir ? dir : "tests/data/samples", file);
    f = fopen(path, "r");
    if (!f)
        fail_msg("cannot open %s (set PS_SAMPLES)", path);
    for (int i = 1; getline(&buf, &cap, f) > 0; i++)
        if (i == line) {
            out = cJSON_Parse(buf);
            break;
        }
    free(buf);
    fclose(f);
    if (!out)
        fail_msg("%s line %d is missing or not JSON", path, line);
    return out;
}

static bool eval_on(const char *src, cJSON *ev)
{
    ps_expr *e = compile_ok(src);
    ps_expr_env env = {ev, NULL, NULL};
    ps_errmsg em;
    bool got = false;
    if (ps_expr_eval_bool(e, &env, &got, &em) != PS_OK)
        fail_msg("%s: %s", src, em.text);
    ps_expr_destroy(e);
    return got;
}

static void test_samples(void **state)
{
    const char *cron = "filter.routeDirection == 'outbound' && msg.header.subject[0] startsWith "
                       "'Cron'";
    cJSON *m1 = sample("message.jsonl", 1), *m2 = sample("message.jsonl", 2);
    cJSON *m3 = sample("message.jsonl", 3), *l2 = sample("maillog.jsonl", 2);
    (void)state;
    assert_true(eval_on(cron, m1));
    assert_false(eval_on(cron, m2));
    assert_true(eval_on("any(filter.actions, .module == 'access' && .isFinal)", m1));
    assert_true(eval_on("msg.header[\"message-id\"][0] endsWith '@m0000123.ppops.net>'", m1));
    assert_true(eval_on("filter.modules.spam.scores.overall >= 0", m3));
    assert_true(eval_on("any(msgParts, any(.urls ?? [], .url startsWith 'mailto:'))", m3));
    assert_false(eval_on("any(msgParts, any(.urls ?? [], .url contains 'example.com'))", m3));
    assert_false(eval_on("any(msgParts, any(.urls ?? [], .url contains 'http'))", m1));
    assert_true(eval_on("sm.stat startsWith 'Sent'", l2));
    assert_true(eval_on("int(sm.pri) > 100000", l2));
    assert_true(eval_on("any(sm.to, # matches '(?i)@example\\\\.com>?$')", l2));
    assert_false(eval_on("filter?.routeDirection != nil", l2));
    cJSON_Delete(m1);
    cJSON_Delete(m2);
    cJSON_Delete(m3);
    cJSON_Delete(l2);
}

/* ---- threads ---------------------------------------------------------------------------- */

typedef struct job {
    const ps_expr *e;
    int ok;
} job;

static void *worker(void *arg)
{
    job *j = arg;
    ps_expr_scratch *sc = NULL;
    if (ps_expr_scratch_create(&sc) != PS_OK)
        return NULL;
    for (int i = 0; i < 2000; i++) {
        ps_expr_env env = {event, NULL, i % 2 ? sc : NULL};
        ps_errmsg em;
        bool got = false;
        if (ps_expr_eval_bool(j->e, &env, &got, &em) == PS_OK && got)
            j->ok++;
    }
    ps_expr_scratch_destroy(sc);
    return NULL;
}

static void test_threads(void **state)
{
    ps_expr *e = compile_ok("any(arr, lower(#) matches '@y\\\\.com$') && s matches '(?i)world' && "
                            "upper(s) == 'HELLO WORLD'");
    ps_thread *th[4];
    job jobs[4];
    (void)state;
    for (int i = 0; i < 4; i++) {
        jobs[i].e = e;
        jobs[i].ok = 0;
        assert_int_equal(ps_plat_thread_create(&th[i], "worker", worker, &jobs[i]), PS_OK);
    }
    for (int i = 0; i < 4; i++) {
        (void)ps_plat_thread_join(th[i]);
        assert_int_equal(jobs[i].ok, 2000);
    }
    ps_expr_destroy(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literals),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_equality),
        cmocka_unit_test(test_ordering),
        cmocka_unit_test(test_logic),
        cmocka_unit_test(test_membership),
        cmocka_unit_test(test_text_operators),
        cmocka_unit_test(test_matches),
        cmocka_unit_test(test_coalesce),
        cmocka_unit_test(test_functions),
        cmocka_unit_test(test_predicates),
        cmocka_unit_test(test_methods),
        cmocka_unit_test(test_condition_result),
        cmocka_unit_test(test_meta_and_root),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_format_number),
        cmocka_unit_test(test_scratch_reuse),
        cmocka_unit_test(test_samples),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
