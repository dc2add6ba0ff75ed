/* ps_platform: append-only files, socket waits, charset conversion and stop/reload
 * requests. POSIX calls here only build the situations (a socket pair, a signal
 * from outside) that the platform functions must handle. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "podstream/ps_platform.h"

static char *temp_path(const char *leaf)
{
    char tmpl[] = "/tmp/ps-plat-XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    return ps_plat_path_join(dir, leaf);
}

static void test_append_file_gathers_and_appends(void **state)
{
    enum { PIECES = 2500 }; /* more than one writev can take */
    static ps_iovec iov[PIECES];
    static char digits[PIECES];
    char *path = temp_path("a.log");
    ps_file *f = NULL, *g = NULL;
    ps_errmsg em;
    char *back = NULL;
    size_t len = 0;

    for (int i = 0; i < PIECES; i++) {
        digits[i] = (char)('0' + i % 10);
        iov[i].base = &digits[i];
        iov[i].len = i % 7 == 3 ? 0 : 1; /* empty pieces are skipped */
    }
    assert_int_equal(ps_plat_file_open_append(path, 0640, &f, &em), PS_OK);
    assert_int_equal(ps_plat_file_writev(f, iov, PIECES, &em), PS_OK);
    /* A second handle writes at the end too, never over the first one's bytes. */
    assert_int_equal(ps_plat_file_open_append(path, 0640, &g, &em), PS_OK);
    assert_int_equal(ps_plat_file_writev(g, &(ps_iovec){"|G", 2}, 1, &em), PS_OK);
    assert_int_equal(ps_plat_file_writev(f, &(ps_iovec){"|F", 2}, 1, &em), PS_OK);
    assert_int_equal(ps_plat_file_sync(f, &em), PS_OK);
    ps_plat_file_close(g);
    ps_plat_file_close(f);
    ps_plat_file_close(NULL);

    assert_int_equal(ps_plat_read_file(path, 1 << 20, &back, &len, &em), PS_OK);
    size_t at = 0;
    for (int i = 0; i < PIECES; i++)
        if (iov[i].len)
            assert_int_equal(back[at++], digits[i]);
    assert_int_equal(len, at + 4);
    assert_string_equal(back + at, "|G|F");
    free(back);

    assert_int_equal(ps_plat_remove(path, &em), PS_OK);
    assert_false(ps_plat_file_exists(path));
    assert_int_equal(ps_plat_remove(path, &em), PS_ERR_NOTFOUND);
    free(path);
    (void)state;
}

static void test_append_file_reports_failure(void **state)
{
    ps_file *f = NULL;
    ps_errmsg em;
    assert_int_not_equal(ps_plat_file_open_append("/nonexistent-dir/x/y", 0640, &f, &em), PS_OK);
    assert_null(f);
    assert_non_null(strstr(em.text, "cannot create /nonexistent-dir/x/y"));
    (void)state;
}

static void test_copy_owner(void **state)
{
    char *from = temp_path("from"), *to = NULL, *dir = ps_plat_dir_name(from);
    struct stat st;
    ps_errmsg em;
    to = ps_plat_path_join(dir, "to");
    assert_int_equal(ps_plat_create_exclusive(from, "a", 1, 0640, &em), PS_OK);
    assert_int_equal(ps_plat_create_exclusive(to, "b", 1, 0600, &em), PS_OK);
    /* Same owner: nothing to change but, when asked, the mode. */
    assert_int_equal(ps_plat_copy_owner(from, to, false, &em), PS_OK);
    assert_int_equal(stat(to, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(ps_plat_copy_owner(from, to, true, &em), PS_OK);
    assert_int_equal(stat(to, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    if (geteuid() == 0) {
        /* Root gives the file away, as `repair` does to the service's account. */
        assert_int_equal(chown(from, 65534, 65534), 0);
        assert_int_equal(ps_plat_copy_owner(from, to, true, &em), PS_OK);
        assert_int_equal(stat(to, &st), 0);
        assert_int_equal(st.st_uid, 65534);
        assert_int_equal(st.st_gid, 65534);
        assert_int_equal(st.st_mode & 07777, 0640);
    }
    assert_int_equal(ps_plat_copy_owner("/nonexistent-dir/x", to, true, &em), PS_ERR_NOTFOUND);
    assert_non_null(strstr(em.text, "cannot stat /nonexistent-dir/x"));
    (void)ps_plat_remove(from, NULL);
    (void)ps_plat_remove(to, NULL);
    (void)rmdir(dir);
    free(from);
    free(to);
    free(dir);
    (void)state;
}

static void test_socket_wait(void **state)
{
    int sv[2];
    int64_t t0;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);

    t0 = ps_plat_mono_ms();
    assert_int_equal(ps_plat_socket_wait(sv[0], true, false, 150), PS_ERR_AGAIN);
    assert_true(ps_plat_mono_ms() - t0 >= 140);
    /* An empty socket is writable at once. */
    assert_int_equal(ps_plat_socket_wait(sv[0], false, true, 5000), PS_OK);
    assert_int_equal(write(sv[1], "x", 1), 1);
    t0 = ps_plat_mono_ms();
    assert_int_equal(ps_plat_socket_wait(sv[0], true, false, 5000), PS_OK);
    assert_true(ps_plat_mono_ms() - t0 < 1000);
    /* A hang-up is ready too: the next read reports it. */
    char c;
    assert_int_equal(read(sv[0], &c, 1), 1);
    close(sv[1]);
    assert_int_equal(ps_plat_socket_wait(sv[0], true, false, -1), PS_OK);
    close(sv[0]);
    (void)state;
}

static void test_charset_to_utf8(void **state)
{
    char *out = NULL;
    size_t len = 99;

    /* ISO-8859-15 has the euro sign where Latin-1 has the currency sign. */
    assert_int_equal(ps_plat_charset_to_utf8("ISO-8859-15", "5 \xA4", 3, &out, &len), PS_OK);
    assert_string_equal(out, "5 \xE2\x82\xAC");
    assert_int_equal(len, 5);
    free(out);

    /* ISO-2022-JP shifts in and out with escapes; the state is flushed at the end. */
    assert_int_equal(ps_plat_charset_to_utf8("ISO-2022-JP", "\x1b$B$3\x1b(B", 8, &out, &len),
                     PS_OK);
    assert_string_equal(out, "\xE3\x81\x93"); /* HIRAGANA LETTER KO */
    free(out);

    assert_int_equal(ps_plat_charset_to_utf8("KOI8-R", "", 0, &out, &len), PS_OK);
    assert_string_equal(out, "");
    assert_int_equal(len, 0);
    free(out);

    out = (char *)"untouched";
    assert_int_equal(ps_plat_charset_to_utf8("X-NO-SUCH-CHARSET", "abc", 3, &out, &len),
                     PS_ERR_UNSUPPORTED);
    assert_null(out);
    assert_int_equal(ps_plat_charset_to_utf8("US-ASCII", "a\xFF", 2, &out, &len), PS_ERR_PARSE);
    assert_null(out);
    (void)state;
}

static void test_gmtime_and_sleep(void **state)
{
    struct tm tm;
    int64_t t0;

    assert_true(ps_plat_gmtime(1717228800, &tm)); /* 2024-06-01 08:00:00 UTC */
    assert_int_equal(tm.tm_year, 124);
    assert_int_equal(tm.tm_mon, 5);
    assert_int_equal(tm.tm_mday, 1);
    assert_int_equal(tm.tm_hour, 8);
    t0 = ps_plat_mono_ms();
    ps_plat_sleep_ms(120);
    assert_true(ps_plat_mono_ms() - t0 >= 110);
    t0 = ps_plat_mono_ms();
    ps_plat_sleep_ms(-5);
    assert_true(ps_plat_mono_ms() - t0 < 100);
    (void)state;
}

static void test_signal_wait(void **state)
{
    const char *what = NULL;
    int64_t t0;

    ps_plat_signals_block();
    t0 = ps_plat_mono_ms();
    assert_int_equal(ps_plat_signal_wait(120, &what), PS_SIGNAL_NONE);
    assert_true(ps_plat_mono_ms() - t0 >= 110);
    assert_string_equal(what, "");

    ps_plat_signal_post(PS_SIGNAL_RELOAD);
    assert_int_equal(ps_plat_signal_wait(5000, &what), PS_SIGNAL_RELOAD);
    assert_string_equal(what, "SIGHUP");
    ps_plat_signal_post(PS_SIGNAL_STOP);
    assert_int_equal(ps_plat_signal_wait(5000, &what), PS_SIGNAL_STOP);
    assert_string_equal(what, "SIGTERM");
    /* Ctrl-C from the terminal: blocked, so it waits instead of ending the test. */
    assert_int_equal(kill(getpid(), SIGINT), 0);
    assert_int_equal(ps_plat_signal_wait(5000, NULL), PS_SIGNAL_STOP);
    (void)state;
}

static void test_broken_pipe_is_an_error(void **state)
{
    int sv[2];
    ps_plat_ignore_broken_pipe();
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    close(sv[1]);
    /* Without it SIGPIPE would end the test here. */
    assert_int_equal(write(sv[0], "x", 1), -1);
    close(sv[0]);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_file_gathers_and_appends),
        cmocka_unit_test(test_append_file_reports_failure),
        cmocka_unit_test(test_copy_owner),
        cmocka_unit_test(test_socket_wait),
        cmocka_unit_test(test_charset_to_utf8),
        cmocka_unit_test(test_gmtime_and_sleep),
        cmocka_unit_test(test_signal_wait),
        cmocka_unit_test(test_broken_pipe_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
