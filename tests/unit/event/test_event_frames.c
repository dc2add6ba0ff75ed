/* ps_event on frames that are not events: bad UTF-8, bad JSON, deep nesting,
 * mutations; ts parsing, formatting and reasons; RFC 2047 subjects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "event_fixture.h"
#include "podstream/ps_event.h"
#include "podstream/ps_utf8.h"
#include "podstream/ps_time.h"

/* The subject extracted from a message whose msg.header.subject[0] is `raw`. */
static char *subject_of(const char *raw)
{
    cJSON *root = base_message();
    cJSON *msg = cJSON_AddObjectToObject(root, "msg");
    cJSON *hdr = cJSON_AddObjectToObject(msg, "header");
    cJSON *arr = cJSON_AddArrayToObject(hdr, "subject");
    ps_event ev;
    char *out;

    cJSON_AddItemToArray(arr, cJSON_CreateString(raw));
    extract_tree(&ev, PS_DATA_MESSAGE, root);
    assert_non_null(ev.text[PS_EF_SUBJECT]);
    assert_true(ps_utf8_valid(ev.text[PS_EF_SUBJECT], strlen(ev.text[PS_EF_SUBJECT]), NULL));
    out = strdup(ev.text[PS_EF_SUBJECT]);
    ps_event_deinit(&ev);
    return out;
}

static void assert_subject(const char *raw, const char *decoded)
{
    char *got = subject_of(raw);
    bool same = strcmp(got, decoded) == 0;
    if (!same)
        fprintf(stderr, "subject %s\n  expected: %s\n  got:      %s\n", raw, decoded, got);
    free(got);
    assert_true(same);
}

/* ---- frame validation -------------------------------------------------------------- */

static void test_utf8_validator(void **state)
{
    static const struct {
        const char *s;
        size_t len;
        bool ok;
        size_t bad;
    } cases[] = {
        {"", 0, true, 0},
        {"plain ascii", 11, true, 0},
        {"\xC3\xA9", 2, true, 0},          /* é */
        {"\xE6\x97\xA5", 3, true, 0},      /* 日 */
        {"\xF0\x9F\x98\x80", 4, true, 0},  /* U+1F600 */
        {"\xF4\x8F\xBF\xBF", 4, true, 0},  /* U+10FFFF, the last code point */
        {"\xEF\xBF\xBF", 3, true, 0},      /* U+FFFF is a noncharacter, still valid */
        {"\xED\x9F\xBF", 3, true, 0},      /* U+D7FF, just below the surrogates */
        {"a\0b", 3, true, 0},              /* NUL is valid UTF-8 */
        {"ab\x80", 3, false, 2},           /* stray continuation */
        {"\xC0\xAF", 2, false, 0},         /* overlong '/' */
        {"\xC1\xBF", 2, false, 0},         /* overlong */
        {"\xE0\x80\xAF", 3, false, 0},     /* overlong three-byte */
        {"\xE0\x9F\xBF", 3, false, 0},     /* overlong three-byte, upper edge */
        {"\xF0\x8F\xBF\xBF", 4, false, 0}, /* overlong four-byte */
        {"\xED\xA0\x80", 3, false, 0},     /* U+D800 surrogate */
        {"\xED\xBF\xBF", 3, false, 0},     /* U+DFFF surrogate */
        {"\xF4\x90\x80\x80", 4, false, 0}, /* U+110000 */
        {"\xF5\x80\x80\x80", 4, false, 0}, /* lead byte beyond the range */
        {"\xFF", 1, false, 0},
        {"xy\xC3", 3, false, 2},           /* cut off at the end */
        {"xy\xE6\x97", 4, false, 2},       /* cut off at the end */
        {"\xC3\x28", 2, false, 0},         /* lead without continuation */
        {"\xE6\x97\x28", 3, false, 0},     /* bad third byte */
        {"\xF0\x9F\x98\x28", 4, false, 0}, /* bad fourth byte */
    };
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t bad = 999;
        bool ok = ps_utf8_valid(cases[i].s, cases[i].len, &bad);
        if (ok != cases[i].ok || (!ok && bad != cases[i].bad))
            fail_msg("case %zu: ok %d bad %zu", i, ok, bad);
        assert_int_equal(ps_utf8_valid(cases[i].s, cases[i].len, NULL), cases[i].ok);
    }

    /* Exercise the 16-byte ASCII stride: a bad byte at every offset of a long run. */
    char buf[200];
    for (size_t pos = 0; pos < 100; pos++) {
        size_t bad = 0;
        memset(buf, 'a', sizeof buf);
        buf[pos] = (char)0xBF;
        assert_false(ps_utf8_valid(buf, sizeof buf, &bad));
        assert_int_equal(bad, pos);
        buf[pos] = (char)0xE2; /* € there instead: valid */
        buf[pos + 1] = (char)0x82;
        buf[pos + 2] = (char)0xAC;
        assert_true(ps_utf8_valid(buf, sizeof buf, &bad));
    }
}

static void test_invalid_utf8_frames(void **state)
{
    static const struct {
        const char *raw;
        const char *reason;
    } cases[] = {
        {"{\"guid\":\"\xC3\"}", "invalid UTF-8 at byte 9"},
        {"{\"guid\":\"\xC0\xAF\"}", "invalid UTF-8 at byte 9"},
        {"{\"guid\":\"\xE0\x80\xAF\"}", "invalid UTF-8 at byte 9"},
        {"{\"guid\":\"ok\xED\xA0\x80\"}", "invalid UTF-8 at byte 11"},
        {"{\"guid\":\"\xF4\x90\x80\x80\"}", "invalid UTF-8 at byte 9"},
        {"{\"g\xFF\":1}", "invalid UTF-8 at byte 3"},
        {"\x80{}", "invalid UTF-8 at byte 0"},
        {"{\"subject\":\"Caf\xE9\"}", "invalid UTF-8 at byte 15"}, /* Latin-1 é, raw */
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        parse_fails_str(PS_DATA_MESSAGE, cases[i].raw, cases[i].reason);
    /* Truncated inside a multi-byte character at the very end of the frame. */
    parse_fails(PS_DATA_MESSAGE, "{\"a\":\"\xE6\x97", 8, "invalid UTF-8 at byte 6");
}

static void test_bad_json(void **state)
{
    static const struct {
        const char *raw;
        const char *reason;
    } cases[] = {
        {"", "empty payload"},
        {" \r\n\t", "empty payload"},
        {"[1,2]", "not a JSON object"},
        {"\"just a string\"", "not a JSON object"},
        {"42", "not a JSON object"},
        {"null", "not a JSON object"},
        {"{\"a\":1,}", "not valid JSON near byte 7"},
        {"{\"a\" 1}", "not valid JSON near byte 5"},
        {"{'a':1}", "not valid JSON near byte 1"},
        {"{\"a\":tru}", "not valid JSON near byte 5"},
        {"{\"a\":01x}", "not valid JSON near byte 6"}, /* strict: no leading zeros */
        {"{\"a\":\"\\x\"}", "not valid JSON near byte 6"},
        {"{\"a\":\"\\ud800\"}", "not valid JSON near byte 6"}, /* lone surrogate escape */
        {"{\"a\":\"\\udc00\"}", "not valid JSON near byte 6"},
        {"{\"a\":1} x", "not valid JSON near byte 8"},
        {"{\"a\":1}{}", "not valid JSON near byte 7"},
        {"{\"a\":[1 2]}", "not valid JSON near byte 8"},
        {"{\"a\":-}", "not valid JSON near byte 6"},
        {"{\"a\":.5}", "not valid JSON near byte 5"},
        {"{\"a\":1", "JSON truncated at byte 6"},
        {"{\"a\":\"abc", "JSON truncated at byte 9"},
        {"{\"a\":tr", "JSON truncated at byte 7"},
        {"{\"a\":[1,2", "JSON truncated at byte 9"},
        {"{\"a\":\"\\u00", "JSON truncated at byte 10"},
        {"{\"a\":\"\\ud83d", "JSON truncated at byte 12"},
        {"{\"a\":1.", "JSON truncated at byte 7"},
        {"{\"a\":{\"b\":", "JSON truncated at byte 10"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        parse_fails_str(PS_DATA_MESSAGE, cases[i].raw, cases[i].reason);

    /* A NUL byte: valid UTF-8, never valid JSON (cJSON would silently cut there). */
    parse_fails(PS_DATA_MESSAGE, "{\"guid\":\"a\0b\"}", 14, "not valid JSON near byte 10");

    /* Every real sample cut short anywhere is refused as truncated, never accepted. */
    char *line = fixture_line("PS_SAMPLES", "message.jsonl", 1);
    size_t len = strlen(line);
    for (size_t cut = 1; cut < len; cut += 7) {
        ps_event ev;
        ps_errmsg em = {{0}};
        char expect[64];
        ps_event_init(&ev);
        assert_int_equal(ps_event_parse(&ev, PS_DATA_MESSAGE, line, cut, &em), PS_ERR_PARSE);
        snprintf(expect, sizeof expect, "JSON truncated at byte %zu", cut);
        assert_string_equal(em.text, expect);
        ps_event_deinit(&ev);
    }
    free(line);

    /* A leading byte order mark is ignored. */
    ps_event ev;
    const char *bom = "\xEF\xBB\xBF{\"guid\":\"g\",\"ts\":\"2024-01-01T00:00:00Z\"}";
    ps_event_init(&ev);
    parse_ok(&ev, PS_DATA_MESSAGE, bom, strlen(bom));
    assert_string_equal(ev.key, "g");
    ps_event_deinit(&ev);
}

static char *nested(size_t depth, bool closed)
{
    /* {"a": + depth-1 arrays: `depth` containers in all. */
    size_t n = 5 + 2 * depth + 64;
    char *s = malloc(n), *w = s;
    assert_non_null(s);
    w += sprintf(w, "{\"a\":");
    memset(w, '[', depth - 1);
    w += depth - 1;
    if (closed) {
        memset(w, ']', depth - 1);
        w += depth - 1;
        w += sprintf(w, ",\"guid\":\"g\",\"ts\":\"2024-01-01T00:00:00Z\"}");
    }
    *w = '\0';
    return s;
}

static void test_deep_nesting(void **state)
{
    char *s;
    ps_event ev;
    (void)state;

    /* 1000 levels is cJSON's limit and still an event. */
    s = nested(1000, true);
    ps_event_init(&ev);
    parse_ok(&ev, PS_DATA_MESSAGE, s, strlen(s));
    assert_string_equal(ev.key, "g");
    ps_event_deinit(&ev);
    free(s);

    /* One more, closed properly: refused where the 1001st container opens. */
    s = nested(1001, true);
    parse_fails_str(PS_DATA_MESSAGE, s, "JSON nested deeper than 1000 levels at byte 1004");
    free(s);

    /* A hostile frame of a million brackets: refused, no stack overflow. */
    s = nested(1000000, false);
    parse_fails_str(PS_DATA_MESSAGE, s, "JSON nested deeper than 1000 levels at byte 1004");
    free(s);
}

/* Random damage to real frames must end in PS_OK or PS_ERR_PARSE with a reason,
 * never in a crash, a false "out of memory" (cJSON failed where the strict scanner
 * saw valid JSON) or an event without key and time. */
static void test_mutated_frames(void **state)
{
    static const char bytes[] = "{}[]\":,\\0x1-e. \x80\xC3\xED\xF4\n";
    uint64_t rng = 0x9E3779B97F4A7C15ULL;
    (void)state;

    for (int line = 1; line <= 5; line++) {
        char *orig = fixture_line("PS_SAMPLES", "message.jsonl", line);
        size_t len = strlen(orig);
        char *buf = malloc(len + 1);
        assert_non_null(buf);
        for (int round = 0; round < 2000; round++) {
            memcpy(buf, orig, len + 1);
            size_t n = len;
            int edits = 1 + (int)(rng % 3);
            for (int e = 0; e < edits && n > 1; e++) {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                size_t at = (size_t)(rng % n);
                switch ((rng >> 32) % 3) {
                case 0:
                    buf[at] = bytes[(rng >> 40) % (sizeof bytes - 1)];
                    break;
                case 1: /* delete one byte */
                    memmove(buf + at, buf + at + 1, n - at - 1);
                    n--;
                    break;
                default:
                    n = at + 1; /* cut */
                    break;
                }
            }
            ps_event ev;
            ps_errmsg em = {{0}};
            ps_event_init(&ev);
            ps_err err = ps_event_parse(&ev, PS_DATA_MESSAGE, buf, n, &em);
            if (err == PS_OK) {
                assert_non_null(ev.key);
                assert_int_equal(ps_event_extract(&ev, &em), PS_OK);
            } else if (err != PS_ERR_PARSE) {
                fail_msg("line %d round %d: %s: %s", line, round, ps_strerror(err), em.text);
            } else {
                assert_true(em.text[0] != '\0');
            }
            ps_event_deinit(&ev);
        }
        free(buf);
        free(orig);
    }
}

/* ---- time ----------------------------------------------------------------------- */

static void test_parse_ts(void **state)
{
    static const struct {
        const char *in;
        const char *utc;
    } good[] = {
        {"2024-05-22T12:10:03.058340-0700", "2024-05-22T19:10:03.058340Z"},
        {"2024-05-22T12:10:03.058340-07:00", "2024-05-22T19:10:03.058340Z"},
        {"2024-05-22T19:10:03.058340Z", "2024-05-22T19:10:03.058340Z"},
        {"2024-05-22T19:10:03.058340z", "2024-05-22T19:10:03.058340Z"},
        {"2024-05-22t19:10:03Z", "2024-05-22T19:10:03.000000Z"},
        {"2024-05-22 19:10:03Z", "2024-05-22T19:10:03.000000Z"},
        {"2025-01-02T03:00:00.000-0000", "2025-01-02T03:00:00.000000Z"},
        {"2024-05-22T19:10:03.5+00:00", "2024-05-22T19:10:03.500000Z"},
        {"2024-05-22T19:10:03.123456789Z", "2024-05-22T19:10:03.123456Z"}, /* truncated */
        {"2024-05-22T19:10:03.999999999Z", "2024-05-22T19:10:03.999999Z"},
        {"2024-01-01T03:00:00+0530", "2023-12-31T21:30:00.000000Z"},
        {"2023-12-31T23:30:00-0100", "2024-01-01T00:30:00.000000Z"},
        {"2024-02-29T23:59:59.999999-1200", "2024-03-01T11:59:59.999999Z"},
        {"2000-02-29T00:00:00Z", "2000-02-29T00:00:00.000000Z"},
        {"1970-01-01T00:00:00Z", "1970-01-01T00:00:00.000000Z"},
        {"1969-12-31T23:59:59.5Z", "1969-12-31T23:59:59.500000Z"},
        {"1900-03-01T00:00:00Z", "1900-03-01T00:00:00.000000Z"},
        {"0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000000Z"},
        {"9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999999Z"},
        {"2016-12-31T23:59:60Z", "2017-01-01T00:00:00.000000Z"}, /* leap second */
    };
    static const char *const bad[] = {
        "",
        "2024",
        "2024-05-22",
        "2024-05-22T19:10Z",
        "2024-05-22T19:10:03",             /* no offset */
        "2024-05-22T19:10:03.Z",           /* a dot without digits */
        "2024-05-22T19:10:03.1234567890Z", /* ten fraction digits */
        "2024-05-22T19:10:03+07",
        "2024-05-22T19:10:03+7:00",
        "2024-05-22T19:10:03+07:0",
        "2024-05-22T19:10:03 0700", /* '+' that became a space in a URL */
        "2024-05-22T19:10:03Z ",
        "2024-05-22T19:10:03ZZ",
        "2024-05-22X19:10:03Z",
        "2024/05/22T19:10:03Z",
        "2024-13-01T00:00:00Z",
        "2024-00-01T00:00:00Z",
        "2023-02-29T00:00:00Z",
        "1900-02-29T00:00:00Z",
        "2024-04-31T00:00:00Z",
        "2024-05-00T00:00:00Z",
        "2024-05-22T24:00:00Z",
        "2024-05-22T23:60:00Z",
        "2024-05-22T23:59:61Z",
        "2024-05-22T19:10:03+2400",
        "2024-05-22T19:10:03+0060",
        "-024-05-22T19:10:03Z",
        "2024-5-22T19:10:03Z",
        "yesterday",
    };
    int64_t us = 0;
    (void)state;

    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (ps_time_parse_iso(good[i].in, &us) != PS_OK)
            fail_msg("refused %s", good[i].in);
        assert_ts(us, good[i].utc);
    }
    assert_int_equal(ps_time_parse_iso("2024-05-22T12:10:03.058340-0700", &us), PS_OK);
    assert_int_equal(us, 1716405003058340);
    assert_int_equal(ps_time_parse_iso("1969-12-31T23:59:59.5Z", &us), PS_OK);
    assert_int_equal(us, -500000);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        us = 42;
        if (ps_time_parse_iso(bad[i], &us) != PS_ERR_PARSE)
            fail_msg("accepted %s", bad[i]);
        assert_int_equal(us, 42);
    }
    assert_int_equal(ps_time_parse_iso(NULL, &us), PS_ERR_PARSE);
}

static void test_format_ts(void **state)
{
    char buf[40];
    uint64_t rng = 12345;
    (void)state;

    assert_ts(0, "1970-01-01T00:00:00.000000Z");
    assert_ts(-1, "1969-12-31T23:59:59.999999Z");
    assert_ts(951782400000000, "2000-02-29T00:00:00.000000Z");
    /* Too small a buffer: cut, still terminated. */
    ps_time_format_iso(0, buf, 11);
    assert_string_equal(buf, "1970-01-01");
    ps_time_format_iso(0, NULL, 0); /* no crash */

    /* format -> parse is the identity over years 1..9999. */
    for (int i = 0; i < 20000; i++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        int64_t lo = -62135596800000000LL, hi = 253402300799999999LL; /* 0001 .. 9999 */
        int64_t t = lo + (int64_t)(rng % (uint64_t)(hi - lo));
        int64_t back = 0;
        ps_time_format_iso(t, buf, sizeof buf);
        assert_int_equal(strlen(buf), 27);
        assert_int_equal(ps_time_parse_iso(buf, &back), PS_OK);
        assert_int_equal(back, t);
    }
}

static void test_ts_reasons(void **state)
{
    (void)state;
    parse_fails_str(PS_DATA_MESSAGE, "{\"guid\":\"g\"}", "no ts");
    parse_fails_str(PS_DATA_MESSAGE, "{\"guid\":\"g\",\"ts\":null}", "no ts");
    parse_fails_str(PS_DATA_MESSAGE, "{\"guid\":\"g\",\"ts\":1716405003}", "ts is not a string");
    parse_fails_str(PS_DATA_MESSAGE, "{\"guid\":\"g\",\"ts\":\"yesterday\"}",
                    "ts is not ISO 8601: \"yesterday\"");
    parse_fails_str(PS_DATA_MESSAGE, "{\"guid\":\"g\",\"ts\":\"\"}", "ts is not ISO 8601: \"\"");
    parse_fails_str(PS_DATA_MESSAGE,
                    "{\"guid\":\"g\",\"ts\":\"2024-05-22T19:10:03.058340Z and a lot of trailing "
                    "text\"}",
                    "ts is not ISO 8601: \"2024-05-22T19:10:03.058340Z and a lot of...\"");
    parse_fails_str(PS_DATA_MESSAGE, "{\"guid\":\"g\",\"ts\":\"line\\nbreak\\u0007\"}",
                    "ts is not ISO 8601: \"line?break?\"");
    /* 40 characters, not 40 bytes: Japanese text is cut on character boundaries. */
    parse_fails_str(
        PS_DATA_MESSAGE,
        "{\"guid\":\"g\",\"ts\":\"日本語日本語日本語日本語日本語日本語日本語日本語日本語"
        "日本語日本語日本語日本語日本語日本語\"}",
        "ts is not ISO 8601: \"日本語日本語日本語日本語日本語日本語日本語日本語日本語"
        "日本語日本語日本語日本語日...\"");
    /* ts is checked before the key. */
    parse_fails_str(PS_DATA_MESSAGE, "{}", "no ts");
}

/* ---- RFC 2047 ------------------------------------------------------------------------ */

static void test_rfc2047_basic(void **state)
{
    (void)state;
    assert_subject("plain subject", "plain subject");
    assert_subject("=?UTF-8?B?w6lsw6h2ZQ==?=", "élève");
    assert_subject("=?utf-8?b?w6lsw6h2ZQ==?=", "élève");
    assert_subject("=?UTF-8?B?w6lsw6h2ZQ?=", "élève"); /* padding omitted */
    assert_subject("=?UTF-8?Q?caf=C3=A9_au_lait?=", "café au lait");
    assert_subject("=?utf-8?q?na=c3=afve?=", "naïve");
    assert_subject("=?UTF-8*fr?Q?=C3=A9t=C3=A9?=", "été"); /* RFC 2231 language */
    assert_subject("=?US-ASCII?Q?Hello?=", "Hello");
    assert_subject("=?UTF-8?B?"
                   "?=",
                   ""); /* split: "??=" is a trigraph */
    assert_subject("Re: =?UTF-8?Q?caf=C3=A9?= ok", "Re: café ok");
    assert_subject("=?UTF-8?Q?a?= b", "a b");
    assert_subject("a =?UTF-8?Q?b?=", "a b");
    assert_subject("=?UTF-8?Q?a?=  ", "a  ");
    /* Already-UTF-8 text next to encoded words passes through. */
    assert_subject("日本 =?UTF-8?B?6Kqe?=", "日本 語");
}

static void test_rfc2047_multiple_words(void **state)
{
    (void)state;
    /* Whitespace between adjacent encoded words disappears (RFC 2047 6.2). */
    assert_subject("=?UTF-8?Q?a?= =?UTF-8?Q?b?=", "ab");
    assert_subject("=?UTF-8?Q?a?=   \t =?UTF-8?Q?b?=", "ab");
    assert_subject("=?UTF-8?Q?a_?= =?UTF-8?Q?b?=", "a b");
    /* Folded: CRLF + TAB, CRLF + space, and a bare LF. */
    assert_subject("=?UTF-8?B?5pel5pys?=\r\n\t=?UTF-8?B?6Kqe?=", "日本語");
    assert_subject("=?UTF-8?B?5pel5pys?=\r\n =?UTF-8?B?6Kqe?=", "日本語");
    assert_subject("=?UTF-8?B?5pel5pys?=\n\t=?UTF-8?B?6Kqe?=", "日本語");
    assert_subject("Hello\r\n World", "Hello World");
    assert_subject("Hello\r\n\tWorld", "Hello\tWorld");
    /* A character split across two words (mailers do it; RFC 2047 forbids it). */
    assert_subject("=?UTF-8?B?5pel5g==?= =?UTF-8?B?nKzoqp4=?=", "日本語");
    assert_subject("=?UTF-8?Q?=C3?= =?UTF-8?Q?=A9?=", "é");
    /* Different charsets side by side. */
    assert_subject("=?ISO-8859-1?Q?=E9?= =?UTF-8?Q?=C3=A9?=", "éé");
    /* Words glued to text without a space are still decoded. */
    assert_subject("[ext]=?UTF-8?Q?caf=C3=A9?=!", "[ext]café!");
}

static void test_rfc2047_charsets(void **state)
{
    (void)state;
    assert_subject("=?ISO-8859-1?Q?Gr=FC=DFe?=", "Grüße");
    assert_subject("=?iso-8859-1?b?R3L832U=?=", "Grüße");
    assert_subject("=?latin1?Q?=E9?=", "é");
    /* Windows quotes in mail labelled ISO-8859-1 are read as Windows-1252. */
    assert_subject("=?ISO-8859-1?Q?=93hi=94_=80?=", "\u201chi\u201d \u20ac");
    assert_subject("=?windows-1252?Q?=85?=", "\u2026");
    /* Japanese: ISO-2022-JP (stateful) and Shift_JIS. */
    assert_subject("=?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=", "テスト");
    assert_subject("=?iso-2022-jp?B?GyRCRnxLXDhsJE43b0w+GyhC?=", "日本語の件名");
    assert_subject("=?Shift_JIS?B?k/qWe4zq?=", "日本語");
    assert_subject("=?SJIS?B?k/qWe4zq?=", "日本語");
    assert_subject("=?cp932?B?k/qWe4zq?=", "日本語");
    /* Others through iconv. */
    assert_subject("=?KOI8-R?B?8NLJ18XU?=", "Привет");
    assert_subject("=?GB2312?B?1tDOxA==?=", "中文");
    assert_subject("=?windows-1251?Q?=CF=F0=E8=E2=E5=F2?=", "Привет");
    assert_subject("=?UTF-16BE?B?MOYw2TDI?=", "ユベト");
}

static void test_rfc2047_invalid_left_alone(void **state)
{
    static const char *const unchanged[] = {
        "=?UTF-8?B?***?=",             /* not base64 */
        "=?UTF-8?B?w6lsw6h2Z?=",       /* impossible length */
        "=?UTF-8?B?w6==bHM=?=",        /* data after padding */
        "=?UTF-8?Q?=ZZ?=",             /* bad hex */
        "=?UTF-8?Q?trail=?=",          /* '=' without two hex digits */
        "=?UTF-8?Q?=FF?=",             /* not UTF-8 */
        "=?UTF-8?Q?=ED=A0=80?=",       /* surrogate in UTF-8 */
        "=?US-ASCII?Q?=E9?=",          /* not ASCII (nor UTF-8) */
        "=?UTF-8?Q?a=00b?=",           /* NUL */
        "=?X-NO-SUCH-CHARSET?Q?abc?=", /* unknown charset */
        "=?ISO-2022-JP?B?GyRCJQ==?=",  /* ISO-2022-JP cut inside a character */
        "=?UTF-8?X?abc?=",             /* unknown encoding */
        "=?UTF-8?Q?abc",               /* unterminated */
        "=?UTF-8?Q?a b?=",             /* space inside */
        "=??Q?abc?=",                  /* empty charset */
        "=?UTF-8/../x?Q?abc?=",        /* not a charset name */
        "=?UTF-8//TRANSLIT?Q?abc?=",   /* no iconv options */
        "=?UTF-8?Q?abc?",
        "=?",
        "?=",
        "==?=?",
    };
    (void)state;
    for (size_t i = 0; i < sizeof unchanged / sizeof unchanged[0]; i++)
        assert_subject(unchanged[i], unchanged[i]);

    /* A bad word keeps its neighbours decoded, and the spaces next to it. */
    assert_subject("=?UTF-8?Q?ok?= =?UTF-8?Q?=FF?=", "ok =?UTF-8?Q?=FF?=");
    assert_subject("=?UTF-8?Q?=FF?= =?UTF-8?Q?ok?=", "=?UTF-8?Q?=FF?= ok");
    assert_subject("=?UTF-8?Q?a?= =?UTF-8?Q?=FF?= =?UTF-8?Q?b?=", "a =?UTF-8?Q?=FF?= b");
    assert_subject("=?X-BAD?Q?x?= =?UTF-8?Q?ok?=", "=?X-BAD?Q?x?= ok");
    assert_subject("=?UTF-8?Q?ok?= =?X-BAD?Q?x?=", "ok =?X-BAD?Q?x?=");
    assert_subject("=?UTF-8?B?***?= =?UTF-8?Q?ok?=", "=?UTF-8?B?***?= ok");
    assert_subject("=?UTF-8?Q?ok?= =?UTF-8?B?***?=", "ok =?UTF-8?B?***?=");
}

static void test_rfc2047_result_is_utf8(void **state)
{
    ps_event ev;
    (void)state;
    /* A pipeline may have written raw bytes into the tree: the column still gets
     * valid UTF-8, with U+FFFD for each bad byte. */
    cJSON *root = message_with("msg.header.subject", cJSON_CreateString("bad \xFF\xC3 end"));
    extract_tree(&ev, PS_DATA_MESSAGE, root);
    assert_string_equal(ev.text[PS_EF_SUBJECT], "bad \xEF\xBF\xBD\xEF\xBF\xBD end");
    ps_event_deinit(&ev);
    /* Normalized header fallback is decoded too. */
    root = message_with("msg.header.subject", NULL);
    cJSON *norm = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "msg"),
                                                   "normalizedHeader");
    cJSON_ReplaceItemInObjectCaseSensitive(norm, "subject",
                                           cJSON_Parse("[\"=?UTF-8?Q?caf=C3=A9?=\"]"));
    extract_tree(&ev, PS_DATA_MESSAGE, root);
    assert_string_equal(ev.text[PS_EF_SUBJECT], "café");
    ps_event_deinit(&ev);
}

/* Random mixes of encoded-word pieces: the decoder must never crash, and what it
 * returns must be valid UTF-8 (the store relies on that). */
static void test_rfc2047_random(void **state)
{
    static const char *const pieces[] = {
        "=?",  "?=",  "UTF-8", "utf-8",  "ISO-2022-JP", "Shift_JIS", "ISO-8859-1", "X-BAD",
        "?B?", "?Q?", "?b?",   "?q?",    "=C3",         "=A9",       "=1B",        "=FF",
        "=00", "_",   "GyRC",  "JUY",    "5pel",        "w6k=",      "==",         "=",
        "?",   " ",   "\t",    "\r\n\t", "\n ",         "abc",       "\xC3\xA9",   "\xE6\x97\xA5",
        "*ja",
    };
    uint64_t rng = 0xD1B54A32D192ED03ULL;
    char raw[256];
    (void)state;

    for (int round = 0; round < 20000; round++) {
        size_t n = 0;
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        int count = 1 + (int)(rng % 24);
        for (int k = 0; k < count; k++) {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            const char *piece = pieces[rng % (sizeof pieces / sizeof pieces[0])];
            size_t pl = strlen(piece);
            if (n + pl >= sizeof raw)
                break;
            memcpy(raw + n, piece, pl + 1);
            n += pl;
        }
        raw[n] = '\0';
        char *got = subject_of(raw); /* asserts valid UTF-8 */
        free(got);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_validator),
        cmocka_unit_test(test_invalid_utf8_frames),
        cmocka_unit_test(test_bad_json),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_mutated_frames),
        cmocka_unit_test(test_parse_ts),
        cmocka_unit_test(test_format_ts),
        cmocka_unit_test(test_ts_reasons),
        cmocka_unit_test(test_rfc2047_basic),
        cmocka_unit_test(test_rfc2047_multiple_words),
        cmocka_unit_test(test_rfc2047_charsets),
        cmocka_unit_test(test_rfc2047_invalid_left_alone),
        cmocka_unit_test(test_rfc2047_result_is_utf8),
        cmocka_unit_test(test_rfc2047_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
