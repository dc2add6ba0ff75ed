/* ps_log: <N> syslog priority prefixes when the stream is the journal that
 * JOURNAL_STREAM names (device:inode), timestamps otherwise; the rotating log file
 * of a Windows service; event-log records are ordinary lines too. */
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
#include "podstream/ps_platform.h"

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
#ifdef _WIN32
    /* No journald: ps_plat_stream_is_journal is always false there. */
    fclose(f);
    skip();
#endif
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

/* A fresh directory in the current one (the build tree under ctest). */
static void scratch_dir(char *dir, size_t cap)
{
    unsigned char r[6];
    assert_int_equal(ps_plat_random(r, sizeof r), PS_OK);
    snprintf(dir, cap, "test_log.%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4], r[5]);
    assert_int_equal(ps_plat_mkdirs(dir, 0700, NULL), PS_OK);
}

static long file_size(const char *path)
{
    FILE *f = fopen(path, "rb");
    long n;
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fclose(f);
    return n;
}

/* The service's log file: every line (with its timestamp, even when the stream is
 * the journal, which only Linux has) in podstream.log, a new file before one would
 * pass the size, the older ones shifted to .1 and .2 and the oldest dropped; the
 * level filter applies. */
static void test_file_rotates(void **state)
{
    FILE *journal = tmpfile();
    char dir[64], path[128], p1[140], p2[140], p3[140], buf[4096];
    FILE *f;
    (void)state;
    assert_non_null(journal);
    point_journal_at(journal);
    ps_log_set_stream(journal);
    ps_log_set_level(PS_LOG_INFO);
    scratch_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/podstream.log", dir);
    snprintf(p1, sizeof p1, "%s.1", path);
    snprintf(p2, sizeof p2, "%s.2", path);
    snprintf(p3, sizeof p3, "%s.3", path);
    assert_int_equal(ps_log_open_file(path, 300, 2, NULL), PS_OK);
    ps_log(PS_LOG_DEBUG, PS_LOG_NO_DEVICE, "filtered out");
    for (int i = 0; i < 20; i++)
        ps_log(PS_LOG_INFO, 7, "line %02d of the rotating log", i);
    ps_log_close_file();
    ps_log(PS_LOG_INFO, PS_LOG_NO_DEVICE, "after the close");

    assert_true(file_size(path) > 0 && file_size(path) <= 300);
    assert_true(file_size(p1) > 0 && file_size(p1) <= 300);
    assert_true(file_size(p2) > 0);
    assert_int_equal(file_size(p3), -1);
    f = fopen(path, "r");
    assert_non_null(f);
    buf[fread(buf, 1, sizeof buf - 1, f)] = '\0';
    fclose(f);
    /* 2026-12-06T21:50:01.123Z info  [device 7] line 19 of the rotating log */
    assert_int_equal(buf[10], 'T');
    assert_non_null(strstr(buf, "Z info  [device 7] line 19 of the rotating log\n"));
    assert_null(strstr(buf, "after the close"));
    f = fopen(p2, "r");
    assert_non_null(f);
    buf[fread(buf, 1, sizeof buf - 1, f)] = '\0';
    fclose(f);
    assert_null(strstr(buf, "line 00 ")); /* dropped with the oldest file */
    assert_null(strstr(buf, "filtered out"));
    read_back(journal, buf, sizeof buf);
    assert_non_null(strstr(buf, ps_plat_stream_is_journal(journal)
                                    ? "<6>[device 7] line 19 of the rotating log\n"
                                    : "Z info  [device 7] line 19 of the rotating log\n"));

    ps_log_set_stream(NULL);
    fclose(journal);
    unsetenv("JOURNAL_STREAM");
    remove(path), remove(p1), remove(p2);
    remove(dir);
}

/* A record meant for the event log is an ordinary line too (and only that on Linux);
 * the level filter applies to it as to any line. */
static void test_event_record_is_a_line(void **state)
{
    FILE *f = tmpfile();
    char buf[1024];
    (void)state;
    assert_non_null(f);
    ps_log_set_stream(f);
    ps_log_set_level(PS_LOG_INFO);
    ps_log_ev(PS_LOG_EV_UNAUTHORISED, PS_LOG_ERROR, 3, "unauthorised (HTTP %d)", 401);
    ps_log_ev(PS_LOG_EV_RELOAD, PS_LOG_DEBUG, PS_LOG_NO_DEVICE, "not shown");
    read_back(f, buf, sizeof buf);
    assert_non_null(strstr(buf, "Z error [device 3] unauthorised (HTTP 401)\n"));
    assert_null(strstr(buf, "not shown"));
    assert_false(ps_plat_eventlog(PS_LOG_EV_START, PS_LOG_INFO, "no service here"));
    ps_log_set_stream(NULL);
    fclose(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_journal_prefixes),
        cmocka_unit_test(test_other_stream_plain),
        cmocka_unit_test(test_file_rotates),
        cmocka_unit_test(test_event_record_is_a_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
