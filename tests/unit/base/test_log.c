/* ps_log: <N> syslog priority prefixes when the stream is the journal that
 * JOURNAL_STREAM names (device:inode), timestamps otherwise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "podstream/ps_log.h"

static void point_journal_at(FILE *f)
{
    struct stat st;
    char v[64];
    assert_int_equal(fstat(fileno(f), &st), 0);
    snprintf(v, sizeof v, "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
    setenv("JOURNAL_STREAM", v, 1);
}

/* Everything written to `f` so far, in buf. */
static void read_back(FILE *f, char *buf, size_t size)
{
    size_t n;
    rewind(f);
    n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
}

static void test_journal_prefixes(void **state)
{
    FILE *f = tmpfile();
    char buf[1024];
    (void)state;
    assert_non_null(f);
    point_journal_at(f);
    ps_log_set_stream(f);
    ps_log_set_level(PS_LOG_DEBUG);
    ps_log(PS_LOG_ERROR, 3, "broken");
    ps_log(PS_LOG_WARN, PS_LOG_NO_DEVICE, "careful");
    ps_log(PS_LOG_INFO, PS_LOG_NO_DEVICE, "fine");
    ps_log(PS_LOG_DEBUG, PS_LOG_NO_DEVICE, "detail");
    read_back(f, buf, sizeof buf);
    assert_string_equal(buf, "<3>[device 3] broken\n<4>careful\n<6>fine\n<7>detail\n");
    ps_log_set_stream(NULL);
    ps_log_set_level(PS_LOG_INFO);
    fclose(f);
    unsetenv("JOURNAL_STREAM");
}

/* A child of the service inherits JOURNAL_STREAM with its output sent elsewhere:
 * there the line keeps its timestamp. */
static void test_other_stream_plain(void **state)
{
    FILE *journal = tmpfile();
    FILE *f = tmpfile();
    char buf[1024];
    (void)state;
    assert_non_null(journal);
    assert_non_null(f);
    point_journal_at(journal);
    ps_log_set_stream(f);
    ps_log(PS_LOG_ERROR, PS_LOG_NO_DEVICE, "broken");
    setenv("JOURNAL_STREAM", "garbage", 1);
    ps_log(PS_LOG_WARN, PS_LOG_NO_DEVICE, "careful");
    unsetenv("JOURNAL_STREAM");
    ps_log(PS_LOG_INFO, PS_LOG_NO_DEVICE, "fine");
    read_back(f, buf, sizeof buf);
    assert_null(strchr(buf, '<'));
    /* 2026-12-06T21:50:01.123Z error broken */
    assert_int_equal(buf[4], '-');
    assert_int_equal(buf[10], 'T');
    assert_int_equal(buf[23], 'Z');
    assert_non_null(strstr(buf, "Z error broken\n"));
    assert_non_null(strstr(buf, "Z warn  careful\n"));
    assert_non_null(strstr(buf, "Z info  fine\n"));
    ps_log_set_stream(NULL);
    fclose(f);
    fclose(journal);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_journal_prefixes),
        cmocka_unit_test(test_other_stream_plain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
