/* ps_report without a database: terminal cells, aligned tables (as status prints
 * them), the zone label. Event rows are tested with the store's fixture in
 * test_store_query.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "podstream/ps_report.h"

static void test_text_width(void **state)
{
    char buf[128];
    (void)state;
    assert_int_equal(ps_report_text_width("abc"), 3);
    assert_int_equal(ps_report_text_width("\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E"), 6); /* 日本語 */
    assert_int_equal(ps_report_text_width("e\xCC\x81"), 1);        /* e + ◌́ */
    assert_int_equal(ps_report_text_width("\xF0\x9F\x8E\x89"), 2); /* 🎉 */
    assert_int_equal(ps_report_text_width("a\tb"), 3);
    assert_int_equal(ps_report_text_width("\xFF"), 1);
    assert_string_equal(ps_report_text_fit("abcdef", 4, false, buf, sizeof buf), "abc\xE2\x80\xA6");
    assert_string_equal(ps_report_text_fit("abc", 5, true, buf, sizeof buf), "abc  ");
    assert_string_equal(ps_report_text_fit("abc", 3, true, buf, sizeof buf), "abc");
    /* A wide character that does not fit whole is left out, never split. */
    assert_string_equal(ps_report_text_fit("\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE6\x96\x87", 6,
                                           true, buf, sizeof buf),
                        "\xE6\x97\xA5\xE6\x9C\xAC\xE2\x80\xA6 ");
    assert_string_equal(ps_report_text_fit("a\tb\nc", 10, false, buf, sizeof buf), "a?b?c");
    assert_string_equal(ps_report_text_fit("x\xFFy", 10, false, buf, sizeof buf), "x?y");
    assert_string_equal(ps_report_text_fit(NULL, 2, true, buf, sizeof buf), "  ");
}

static char *table_text(const ps_report_col *cols, int ncols, const char *const *rows, int nrows)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    ps_report_table t;
    assert_non_null(out);
    ps_report_table_init(&t, out, cols, ncols);
    ps_report_table_header(&t);
    for (int r = 0; r < nrows; r++)
        ps_report_table_row(&t, rows + (size_t)r * (size_t)ncols);
    fclose(out);
    return buf;
}

/* Left and right alignment, clipping by cells, overflow for columns that do not
 * clip, hidden columns, and no blanks after a left-aligned last column. */
static void test_table(void **state)
{
    static const ps_report_col cols[] = {
        {"NAME", 6, false, true}, {"HIDDEN", 0, false, false}, {"STATE", 5, false, false},
        {"N", 4, true, false},    {"NOTE", 8, false, true},
    };
    static const char *const rows[] = {
        "1 alpha-long",  "x",     "live", "7", "ok", "2 \xE6\x97\xA5\xE6\x9C\xAC", "x",
        "unauthorised*", "12345", NULL,
    };
    char *s = table_text(cols, 5, rows, 2);
    (void)state;
    assert_string_equal(s, "NAME   STATE    N NOTE\n"
                           "1 alp\xE2\x80\xA6 live     7 ok\n"
                           "2 \xE6\x97\xA5\xE6\x9C\xAC unauthorised* 12345 \n");
    free(s);
}

static void test_table_right_last(void **state)
{
    static const ps_report_col cols[] = {
        {"HOUR", 17, false, false},
        {"1 pod-message-long-name", 14, true, true},
    };
    static const char *const rows[] = {"2024-05-22 14:00", "3"};
    char *s = table_text(cols, 2, rows, 1);
    (void)state;
    assert_string_equal(s, "HOUR              1 pod-message\xE2\x80\xA6\n"
                           "2024-05-22 14:00               3\n");
    free(s);
}

static void test_zone_and_formats(void **state)
{
    char buf[80];
    ps_report_format f = PS_REPORT_TABLE;
    (void)state;
#ifdef _WIN32
    /* The C runtime reads only "XXX[+-]h" from TZ and takes the zone's rules and names
     * from the system: a test cannot set a zone as on Linux. */
    skip();
#endif
    ps_report_zone_label(true, buf, sizeof buf);
    assert_string_equal(buf, "UTC");
    setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3", 1);
    tzset();
    ps_report_zone_label(false, buf, sizeof buf);
    assert_string_equal(buf, "CET/CEST");
    assert_int_equal(ps_report_format_parse("csv", &f), PS_OK);
    assert_int_equal(f, PS_REPORT_CSV);
    assert_int_equal(ps_report_format_parse("xml", &f), PS_ERR_INVALID);
    assert_int_equal(ps_report_format_parse(NULL, &f), PS_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_width),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_table_right_last),
        cmocka_unit_test(test_zone_and_formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
