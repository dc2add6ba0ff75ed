/* ps_platform on Windows: the ACLs that stand for 0600/0640 and their check, long
 * paths, atomic replacement, locks, charsets, path spelling and requests. Win32
 * calls here only build or inspect the situations (a file readable by Everyone, a
 * DACL) that the platform functions must produce or refuse. Runs under wine64 in
 * the test suite. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define WIN32_LEAN_AND_MEAN
#include <winsock2.h>
#include <windows.h>

#include <aclapi.h>
#include <sddl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/win32/ps_plat_win32.h" /* ps_w32_mode_sd: what a mode asks for */
#include "podstream/ps_platform.h"

/* NT SERVICE\podstream, worked out independently (Python: SHA-1 of "PODSTREAM" in
 * UTF-16LE, five little-endian words). */
#define PODSTREAM_SERVICE_SID "S-1-5-80-1003682443-3313572901-3213192945-2852048666-1115739927"

static bool under_wine(void)
{
    HMODULE ntdll = GetModuleHandleA("ntdll.dll");
    return ntdll && GetProcAddress(ntdll, "wine_get_version") != NULL;
}

/* A new empty directory under %TEMP% (caller frees). */
static char *temp_dir(void)
{
    char base[MAX_PATH], *dir;
    unsigned char rnd[4];
    ps_errmsg em;
    assert_true(GetTempPathA(MAX_PATH, base) > 0);
    assert_int_equal(ps_plat_random(rnd, sizeof rnd), PS_OK);
    dir = malloc(MAX_PATH + 32);
    assert_non_null(dir);
    snprintf(dir, MAX_PATH + 32, "%sps-plat-%02x%02x%02x%02x", base, rnd[0], rnd[1], rnd[2],
             rnd[3]);
    assert_int_equal(ps_plat_mkdirs(dir, 0700, &em), PS_OK);
    return dir;
}

/* The DACL of `path` as SDDL (caller LocalFrees). */
static char *dacl_sddl(const char *path)
{
    PSECURITY_DESCRIPTOR sd = NULL;
    char *s = NULL;
    assert_int_equal(GetNamedSecurityInfoA(path, SE_FILE_OBJECT, DACL_SECURITY_INFORMATION, NULL,
                                           NULL, NULL, NULL, &sd),
                     ERROR_SUCCESS);
    assert_true(ConvertSecurityDescriptorToStringSecurityDescriptorA(
        sd, SDDL_REVISION_1, DACL_SECURITY_INFORMATION, &s, NULL));
    LocalFree(sd);
    return s;
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The SDDL of the descriptor that stands for `mode` (caller LocalFrees; NULL:
 * inherit). */
static char *mode_sddl(unsigned mode, bool is_dir)
{
    PSECURITY_DESCRIPTOR sd = NULL;
    char *s = NULL;
    assert_int_equal(ps_w32_mode_sd(mode, is_dir, &sd), PS_OK);
    if (!sd)
        return NULL;
    assert_true(ConvertSecurityDescriptorToStringSecurityDescriptorA(
        sd, SDDL_REVISION_1, DACL_SECURITY_INFORMATION, &s, NULL));
    LocalFree(sd);
    return s;
}

static void test_modes_become_protected_dacls(void **state)
{
    char *s = mode_sddl(0600, false);
    /* Protected (nothing inherited from the folder): SYSTEM, Administrators and the
     * service's account, full control; no group of many users. */
    assert_true(starts_with(s, "D:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FA;;;" PODSTREAM_SERVICE_SID ")"));
    assert_null(strstr(s, ";WD)"));
    assert_null(strstr(s, ";BU)"));
    assert_null(strstr(s, ";AU)"));
    LocalFree(s);
    /* A folder passes the same on to what is created in it (SQLite's -wal). */
    s = mode_sddl(0750, true);
    assert_true(starts_with(s, "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)"));
    LocalFree(s);
    /* World-readable on POSIX: the folder's inherited ACL. */
    assert_null(mode_sddl(0644, false));
    (void)state;
}

static void test_private_files_get_a_protected_dacl(void **state)
{
    char *dir = temp_dir();
    char *key = ps_plat_path_join(dir, "secret.key");
    ps_errmsg em;
    char *sddl;

    assert_int_equal(ps_plat_create_exclusive(key, "k\n", 2, 0600, &em), PS_OK);
    if (under_wine()) {
        /* wine keeps no DACL on a file (this build stores no user.wine.sd xattr): it
         * reports one made from the Unix mode, so what was asked for is checked on
         * the descriptor itself above, and the file's own DACL on Windows only. */
        assert_int_equal(ps_plat_check_private(key, &em), PS_OK);
        goto replaced;
    }
    sddl = dacl_sddl(key);
    /* Protected (nothing inherited from %TEMP%), SYSTEM, Administrators and the
     * service's account; nobody else by group. */
    assert_non_null(strstr(sddl, "D:P"));
    assert_non_null(strstr(sddl, ";;;SY)"));
    assert_non_null(strstr(sddl, ";;;BA)"));
    assert_non_null(strstr(sddl, PODSTREAM_SERVICE_SID));
    assert_null(strstr(sddl, ";;;WD)"));
    assert_null(strstr(sddl, ";;;BU)"));
    assert_null(strstr(sddl, ";;;AU)"));
    assert_null(strstr(sddl, "ID;")); /* no inherited ACE */
    LocalFree(sddl);
    assert_int_equal(ps_plat_check_private(key, &em), PS_OK);
replaced:
    assert_int_equal(ps_plat_create_exclusive(key, "x", 1, 0600, &em), PS_ERR_EXISTS);

    /* The same through an atomic replacement, which must not inherit either. */
    assert_int_equal(ps_plat_write_file_atomic(key, "k2\n", 3, 0600, false, &em), PS_OK);
    assert_int_equal(ps_plat_check_private(key, &em), PS_OK);
    assert_int_equal(ps_plat_remove(key, &em), PS_OK);
    free(key);
    free(dir);
    (void)state;
}

/* Creates `path` with the DACL in `sddl` (a file an admin left open by mistake). */
static void create_with_dacl(const char *path, const char *sddl)
{
    SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, FALSE};
    HANDLE h;
    assert_true(ConvertStringSecurityDescriptorToSecurityDescriptorA(
        sddl, SDDL_REVISION_1, &sa.lpSecurityDescriptor, NULL));
    h = CreateFileA(path, GENERIC_WRITE, 0, &sa, CREATE_NEW, FILE_ATTRIBUTE_NORMAL, NULL);
    assert_true(h != INVALID_HANDLE_VALUE);
    CloseHandle(h);
    LocalFree(sa.lpSecurityDescriptor);
}

static void test_check_private_refuses_readable_by_others(void **state)
{
    char *dir = temp_dir();
    char *open_key = ps_plat_path_join(dir, "everyone.key");
    char *users_key = ps_plat_path_join(dir, "users.key");
    char *ok_key = ps_plat_path_join(dir, "ok.key");
    ps_errmsg em;

    create_with_dacl(open_key, "D:P(A;;FA;;;SY)(A;;FR;;;WD)");
    assert_int_equal(ps_plat_check_private(open_key, &em), PS_ERR_PERM);
    assert_non_null(strstr(em.text, open_key)); /* names the file */
    assert_non_null(strstr(em.text, "other users could read it"));
    assert_non_null(strstr(em.text, "S-1-1-0")); /* and how to remove Everyone */

    /* wine turns a DACL into a Unix mode, which has no room for BUILTIN\Users. */
    create_with_dacl(users_key, "D:P(A;;FA;;;BA)(A;;0x120089;;;BU)");
    if (!under_wine()) {
        assert_int_equal(ps_plat_check_private(users_key, &em), PS_ERR_PERM);
        assert_non_null(strstr(em.text, "S-1-5-32-545"));
    }

    /* A deny ACE, or an ACE that only lets others see the attributes, is no read. */
    create_with_dacl(ok_key, "D:P(A;;FA;;;SY)(A;;FA;;;BA)(D;;FA;;;WD)(A;;0x100080;;;BU)");
    assert_int_equal(ps_plat_check_private(ok_key, &em), PS_OK);

    assert_int_equal(ps_plat_check_private(dir, &em), PS_ERR_PERM); /* not a regular file */
    free(open_key);
    free(users_key);
    free(ok_key);
    free(dir);
    (void)state;
}

static void test_long_paths(void **state)
{
    char *dir = temp_dir(), *deep = _strdup(dir), *file, *back = NULL;
    const char *const all[] = {".txt", NULL};
    char **names = NULL;
    size_t len = 0, n = 0;
    ps_errmsg em;

    /* 12 levels of 30 characters: well past MAX_PATH (260). */
    for (int i = 0; i < 12; i++) {
        char *next = ps_plat_path_join(deep, "a-folder-name-of-thirty-chars-");
        free(deep);
        deep = next;
    }
    assert_true(strlen(deep) > 300);
    assert_int_equal(ps_plat_mkdirs(deep, 0750, &em), PS_OK);
    assert_true(ps_plat_is_dir(deep));
    file = ps_plat_path_join(deep, "f.txt");
    assert_int_equal(ps_plat_write_file_atomic(file, "long", 4, 0640, false, &em), PS_OK);
    assert_true(ps_plat_file_exists(file));
    assert_int_equal(ps_plat_read_file(file, 100, &back, &len, &em), PS_OK);
    assert_string_equal(back, "long");
    assert_int_equal(ps_plat_list_dir(deep, all, &names, &n, &em), PS_OK);
    assert_int_equal(n, 1);
    assert_string_equal(names[0], "f.txt");
    ps_plat_free_list(names, n);
    /* Forward slashes and ".." are resolved before the \\?\ prefix turns that off. */
    char *odd = ps_plat_path_join(deep, "../a-folder-name-of-thirty-chars-/f.txt");
    for (char *p = odd; *p; p++)
        if (*p == '\\')
            *p = '/';
    assert_true(ps_plat_file_exists(odd));
    assert_int_equal(ps_plat_remove(file, &em), PS_OK);
    assert_int_equal(ps_plat_remove(file, &em), PS_ERR_NOTFOUND);
    free(odd);
    free(back);
    free(file);
    free(deep);
    free(dir);
    (void)state;
}

static void test_atomic_replace_keeps_backup(void **state)
{
    char *dir = temp_dir(), *path = ps_plat_path_join(dir, "d.yml"), *bak, *back = NULL;
    const char *const any[] = {"", NULL};
    char **names = NULL;
    size_t len = 0, n = 0;
    ps_file_id id1, id2;
    ps_errmsg em;

    assert_int_equal(ps_plat_write_file_atomic(path, "one", 3, 0640, true, &em), PS_OK);
    assert_true(ps_plat_file_id(path, &id1));
    uint64_t stamp1 = ps_plat_file_stamp(path);
    assert_int_equal(ps_plat_write_file_atomic(path, "second", 6, 0640, true, &em), PS_OK);
    assert_true(ps_plat_file_id(path, &id2));
    assert_true(id1.ino != id2.ino || id1.dev != id2.dev); /* a new file, not rewritten */
    assert_true(ps_plat_file_stamp(path) != stamp1);
    assert_int_equal(ps_plat_read_file(path, 100, &back, &len, &em), PS_OK);
    assert_string_equal(back, "second");
    free(back);
    bak = malloc(strlen(path) + 5);
    sprintf(bak, "%s.bak", path);
    assert_int_equal(ps_plat_read_file(bak, 100, &back, &len, &em), PS_OK);
    assert_string_equal(back, "one");
    free(back);
    /* No temporary file is left beside it. */
    assert_int_equal(ps_plat_list_dir(dir, any, &names, &n, &em), PS_OK);
    assert_int_equal(n, 2);
    assert_string_equal(names[0], "d.yml");
    assert_string_equal(names[1], "d.yml.bak");
    ps_plat_free_list(names, n);

    /* rename_new refuses to replace; moves when the name is free. */
    char *moved = ps_plat_path_join(dir, "moved.yml");
    assert_int_equal(ps_plat_rename_new(bak, path, &em), PS_ERR_EXISTS);
    assert_int_equal(ps_plat_rename_new(bak, moved, &em), PS_OK);
    assert_false(ps_plat_file_exists(bak));
    assert_true(ps_plat_file_exists(moved));
    assert_false(ps_plat_file_id(bak, &id1));
    assert_int_equal(ps_plat_file_stamp(bak), 0);
    free(moved);
    free(bak);
    free(path);
    free(dir);
    (void)state;
}

static void test_locks(void **state)
{
    char *dir = temp_dir(), *db = ps_plat_path_join(dir, "podstream.db");
    ps_plat_lockh h = PS_PLAT_LOCK_NONE, h2 = PS_PLAT_LOCK_NONE;
    char *back = NULL;
    size_t len = 0;
    ps_errmsg em;

    assert_int_equal(ps_plat_lock_probe(db), -1); /* no file: cannot tell */
    assert_int_equal(ps_plat_write_file_atomic(db, "data", 4, 0640, false, &em), PS_OK);
    assert_int_equal(ps_plat_lock_probe(db), 0);
    assert_int_equal(ps_plat_lock(db, &h, &em), PS_OK);
    assert_true(h != PS_PLAT_LOCK_NONE);
    assert_int_equal(ps_plat_lock_probe(db), 1);
    assert_int_equal(ps_plat_lock(db, &h2, &em), PS_ERR_CONFLICT);
    assert_int_equal(h2, PS_PLAT_LOCK_NONE);
    assert_non_null(strstr(em.text, "is locked"));
    /* The lock keeps nobody from the data (SQLite reads and locks its own bytes). */
    assert_int_equal(ps_plat_read_file(db, 100, &back, &len, &em), PS_OK);
    assert_string_equal(back, "data");
    free(back);
    ps_plat_unlock(h);
    ps_plat_unlock(PS_PLAT_LOCK_NONE);
    assert_int_equal(ps_plat_lock_probe(db), 0);
    assert_int_equal(ps_plat_lock(db, &h, &em), PS_OK);
    ps_plat_unlock(h);
    free(db);
    free(dir);
    (void)state;
}

static void expect_utf8(const char *charset, const char *in, size_t len, const char *want)
{
    char *out = NULL;
    size_t n = 0;
    assert_int_equal(ps_plat_charset_to_utf8(charset, in, len, &out, &n), PS_OK);
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
    free(out);
}

static void test_charsets(void **state)
{
    char *out = (char *)"untouched";
    size_t n = 0;

    expect_utf8("ISO-8859-15", "5 \xA4", 3, "5 \xE2\x82\xAC");
    expect_utf8("iso-8859-1", "caf\xE9", 4, "caf\xC3\xA9");
    expect_utf8("Windows-1252", "\x80", 1, "\xE2\x82\xAC");
    expect_utf8("cp1251", "\xCF", 1, "\xD0\x9F");
    expect_utf8("KOI8-R", "\xF0", 1, "\xD0\x9F");
    expect_utf8("KOI8-R", "", 0, "");
    expect_utf8("ISO-2022-JP", "\x1b$B$3\x1b(B", 8, "\xE3\x81\x93"); /* HIRAGANA KO */
    expect_utf8("ISO-2022-JP", "a\x1b$B4A;z\x1b(Bb", 12,
                "a\xE6\xBC\xA2\xE5\xAD\x97"
                "b");
    expect_utf8("Shift_JIS", "\x82\xb1", 2, "\xE3\x81\x93");
    expect_utf8("EUC-JP", "\xA4\xB3", 2, "\xE3\x81\x93");
    expect_utf8("GB2312", "\xC4\xE3", 2, "\xE4\xBD\xA0");
    expect_utf8("GBK", "\xC4\xE3", 2, "\xE4\xBD\xA0");
    expect_utf8("GB18030", "\xC4\xE3", 2, "\xE4\xBD\xA0");
    expect_utf8("Big5", "\xA7\x41", 2, "\xE4\xBD\xA0");
    expect_utf8("EUC-KR", "\xC7\xD1", 2, "\xED\x95\x9C");
    expect_utf8("UTF-7", "+AGkAbA-", 8, "il");
    expect_utf8("us-ascii", "plain", 5, "plain");
    /* UTF-16 and UTF-32 are no code pages for MultiByteToWideChar. */
    expect_utf8("UTF-16BE", "\x30\xE6\x30\xD9", 4, "\xE3\x83\xA6\xE3\x83\x99");
    expect_utf8("UTF-16LE", "i\0l\0", 4, "il");
    expect_utf8("UTF-16", "\xFF\xFEi\0", 4, "i"); /* a byte order mark */
    expect_utf8("UTF-16", "\0i", 2, "i");         /* none: big-endian */
    expect_utf8("UTF-16BE", "\xD8\x3D\xDE\x00", 4, "\xF0\x9F\x98\x80");
    expect_utf8("UTF-32LE", "\x00\xF6\x01\x00", 4, "\xF0\x9F\x98\x80");
    expect_utf8("UTF-32", "\0\0\0i", 4, "i");

    assert_int_equal(ps_plat_charset_to_utf8("X-NO-SUCH-CHARSET", "abc", 3, &out, &n),
                     PS_ERR_UNSUPPORTED);
    assert_null(out);
    assert_int_equal(ps_plat_charset_to_utf8("US-ASCII", "a\xFF", 2, &out, &n), PS_ERR_PARSE);
    assert_null(out);
    assert_int_equal(ps_plat_charset_to_utf8("UTF-8", "a\xC3", 2, &out, &n), PS_ERR_PARSE);
    assert_null(out);
    assert_int_equal(ps_plat_charset_to_utf8("UTF-16BE", "\xD8\x3D", 2, &out, &n), PS_ERR_PARSE);
    assert_null(out); /* a lone surrogate */
    assert_int_equal(ps_plat_charset_to_utf8("UTF-16LE", "abc", 3, &out, &n), PS_ERR_PARSE);
    assert_int_equal(ps_plat_charset_to_utf8("UTF-32BE", "\0\x11\0\0", 4, &out, &n), PS_ERR_PARSE);
    assert_int_equal(ps_plat_charset_to_utf8("ISO-2022-JP", "\x1b$Bx", 4, &out, &n), PS_ERR_PARSE);
    assert_null(out);
    (void)state;
}

static void test_paths(void **state)
{
    char *s;
    assert_true(ps_plat_path_is_absolute("C:\\x"));
    assert_true(ps_plat_path_is_absolute("c:/x"));
    assert_true(ps_plat_path_is_absolute("\\\\server\\share\\x"));
    assert_true(ps_plat_path_is_absolute("\\x"));
    assert_false(ps_plat_path_is_absolute("x\\y"));
    assert_false(ps_plat_path_is_absolute("C:x"));

    s = ps_plat_path_join("C:\\conf", "devices");
    assert_string_equal(s, "C:\\conf\\devices");
    free(s);
    s = ps_plat_path_join("C:\\conf\\", "a.yml");
    assert_string_equal(s, "C:\\conf\\a.yml");
    free(s);
    s = ps_plat_path_join("C:/conf", "a.yml"); /* the spelling of `a` goes on */
    assert_string_equal(s, "C:/conf/a.yml");
    free(s);
    s = ps_plat_path_join("/srv/conf", "devices");
    assert_string_equal(s, "/srv/conf/devices");
    free(s);
    s = ps_plat_path_join("C:\\conf", "D:\\other");
    assert_string_equal(s, "D:\\other");
    free(s);

    s = ps_plat_dir_name("C:\\conf\\a.yml");
    assert_string_equal(s, "C:\\conf");
    free(s);
    s = ps_plat_dir_name("C:\\a.yml");
    assert_string_equal(s, "C:\\");
    free(s);
    s = ps_plat_dir_name("C:/conf/a.yml");
    assert_string_equal(s, "C:/conf");
    free(s);
    s = ps_plat_dir_name("\\\\srv\\share\\a.yml");
    assert_string_equal(s, "\\\\srv\\share\\");
    free(s);
    s = ps_plat_dir_name("a.yml");
    assert_string_equal(s, ".");
    free(s);
    s = ps_plat_path_absolute(".\\rel");
    assert_true(ps_plat_path_is_absolute(s));
    assert_non_null(strstr(s, "\\rel"));
    assert_null(strstr(s, ".\\"));
    free(s);

    const char *conf = ps_plat_default_config_dir(), *st = ps_plat_default_state_dir();
    size_t lc = strlen(conf);
    assert_true(lc > 10 && strcmp(conf + lc - 10, "\\podstream") == 0);
    assert_true(strncmp(st, conf, lc) == 0 && strcmp(st + lc, "\\data") == 0);
    (void)state;
}

static void test_system(void **state)
{
    char os[64];
    struct tm tm;
    int64_t t0 = ps_plat_mono_ms(), now = ps_plat_now_us() / 1000000;

    ps_plat_os_name(os, sizeof os);
    assert_true(strncmp(os, "Windows ", 8) == 0);
    assert_true(now > 1700000000 && now < 4102444800); /* 2023..2100 */
    assert_true(ps_plat_gmtime(1717228800, &tm));
    assert_int_equal(tm.tm_year, 124);
    assert_int_equal(tm.tm_hour, 8);
    assert_int_equal(tm.tm_wday, 6); /* a Saturday */
    assert_int_equal(tm.tm_yday, 152);
    /* Before 1970, which the C runtime's _gmtime64_s refuses. */
    assert_true(ps_plat_gmtime(-1, &tm));
    assert_int_equal(tm.tm_year, 69);
    assert_int_equal(tm.tm_mon, 11);
    assert_int_equal(tm.tm_mday, 31);
    assert_int_equal(tm.tm_hour, 23);
    assert_int_equal(tm.tm_sec, 59);
    assert_int_equal(tm.tm_wday, 3);
    assert_true(ps_plat_gmtime(-2208988800LL, &tm)); /* 1900-01-01, not a leap year */
    assert_int_equal(tm.tm_year, 0);
    assert_int_equal(tm.tm_yday, 0);
    assert_true(ps_plat_gmtime(951782400, &tm)); /* 2000-02-29 */
    assert_int_equal(tm.tm_mon, 1);
    assert_int_equal(tm.tm_mday, 29);
    assert_true(ps_plat_localtime(-86400, &tm));
    assert_true(ps_plat_localtime(1717228800, &tm));
    ps_plat_sleep_ms(60);
    assert_true(ps_plat_mono_ms() - t0 >= 50);
    assert_int_equal(ps_plat_terminal_columns(NULL), 0);
    assert_false(ps_plat_stream_is_journal(stderr));
    (void)state;
}

struct waiter {
    ps_mutex *mu;
    ps_cond *cv;
    int flag;
};

static void *set_flag(void *arg)
{
    struct waiter *w = arg;
    ps_plat_sleep_ms(50);
    ps_plat_mutex_lock(w->mu);
    w->flag = 1;
    ps_plat_cond_signal(w->cv);
    ps_plat_mutex_unlock(w->mu);
    return w;
}

static void test_threads_and_requests(void **state)
{
    struct waiter w = {NULL, NULL, 0};
    ps_thread *t = NULL;
    const char *what = NULL;
    int64_t t0;

    assert_int_equal(ps_plat_mutex_create(&w.mu), PS_OK);
    assert_int_equal(ps_plat_cond_create(&w.cv), PS_OK);
    ps_plat_mutex_lock(w.mu);
    t0 = ps_plat_mono_ms();
    assert_false(ps_plat_cond_wait_until(w.cv, w.mu, t0 + 80) && w.flag);
    assert_true(ps_plat_mono_ms() - t0 >= 70);
    assert_int_equal(ps_plat_thread_create(&t, "ps-test-thread", set_flag, &w), PS_OK);
    while (!w.flag)
        (void)ps_plat_cond_wait_until(w.cv, w.mu, ps_plat_mono_ms() + 5000);
    ps_plat_mutex_unlock(w.mu);
    assert_ptr_equal(ps_plat_thread_join(t), &w);
    ps_plat_cond_destroy(w.cv);
    ps_plat_mutex_destroy(w.mu);

    ps_plat_signals_block();
    t0 = ps_plat_mono_ms();
    assert_int_equal(ps_plat_signal_wait(100, &what), PS_SIGNAL_NONE);
    assert_true(ps_plat_mono_ms() - t0 >= 90);
    assert_string_equal(what, "");
    ps_plat_signal_post(PS_SIGNAL_STOP);
    ps_plat_signal_post(PS_SIGNAL_RELOAD);
    ps_plat_signal_post(PS_SIGNAL_RELOAD); /* pending once, as a signal is */
    assert_int_equal(ps_plat_signal_wait(1000, &what), PS_SIGNAL_RELOAD);
    assert_string_equal(what, "reload request");
    assert_int_equal(ps_plat_signal_wait(1000, &what), PS_SIGNAL_STOP);
    assert_string_equal(what, "stop request");
    assert_int_equal(ps_plat_signal_wait(0, &what), PS_SIGNAL_NONE);
    (void)state;
}

static void *background_priority(void *arg)
{
    (void)arg;
    ps_plat_thread_background();
    return (void *)(intptr_t)GetThreadPriority(GetCurrentThread());
}

static void *lowest_priority(void *arg)
{
    ps_err *err = arg;
    ps_errmsg em;
    *err = ps_plat_thread_lowest(&em);
    return (void *)(intptr_t)GetThreadPriority(GetCurrentThread());
}

/* An output's thread sits below ingest's receivers and workers, and neither
 * changes the thread that started it. */
static void test_thread_priorities(void **state)
{
    ps_thread *t = NULL;
    ps_err err = PS_ERR_INTERNAL;
    int mine = GetThreadPriority(GetCurrentThread());

    assert_int_equal(ps_plat_thread_create(&t, "ps-test-bg", background_priority, NULL), PS_OK);
    assert_int_equal((intptr_t)ps_plat_thread_join(t), THREAD_PRIORITY_BELOW_NORMAL);
    assert_int_equal(ps_plat_thread_create(&t, "ps-test-lowest", lowest_priority, &err), PS_OK);
    assert_int_equal((intptr_t)ps_plat_thread_join(t), THREAD_PRIORITY_LOWEST);
    assert_int_equal(err, PS_OK);
    assert_int_equal(GetThreadPriority(GetCurrentThread()), mine);
    (void)state;
}

/* A listening TCP socket on 127.0.0.1; its port into *port. */
static SOCKET listener(int *port)
{
    struct sockaddr_in sa;
    int len = (int)sizeof sa;
    SOCKET l = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(l != INVALID_SOCKET);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(l, 1), 0);
    assert_int_equal(getsockname(l, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return l;
}

static void test_sockets(void **state)
{
    ps_socket s = 0;
    SOCKET l, peer;
    size_t n = 0;
    char buf[8];
    int port = 0;
    int64_t t0;
    ps_errmsg em;
    uint64_t size = 1;

    /* ps_plat_socket_connect starts Winsock itself (an output may be the first). */
    assert_int_equal(ps_plat_socket_connect("127.0.0.1", 1, false, 2000, &s, &em), PS_ERR_NET);
    assert_non_null(strstr(em.text, "cannot connect to 127.0.0.1:1"));
    l = listener(&port);
    assert_int_equal(ps_plat_socket_connect("localhost", port, false, 5000, &s, &em), PS_OK);
    peer = accept(l, NULL, NULL);
    assert_true(peer != INVALID_SOCKET);
    t0 = ps_plat_mono_ms();
    assert_int_equal(ps_plat_socket_wait(s, true, false, 100), PS_ERR_AGAIN);
    assert_true(ps_plat_mono_ms() - t0 >= 90);
    assert_int_equal(ps_plat_socket_recv(s, buf, sizeof buf, &n, &em), PS_ERR_AGAIN);
    assert_int_equal(ps_plat_socket_send(s, "ping", 4, &n, &em), PS_OK);
    assert_int_equal(n, 4);
    assert_int_equal(recv(peer, buf, sizeof buf, 0), 4);
    assert_int_equal(send(peer, "pong", 4, 0), 4);
    assert_int_equal(ps_plat_socket_wait(s, true, false, 5000), PS_OK);
    assert_int_equal(ps_plat_socket_recv(s, buf, sizeof buf, &n, &em), PS_OK);
    assert_int_equal(n, 4);
    closesocket(peer);
    assert_int_equal(ps_plat_socket_wait(s, true, false, 5000), PS_OK);
    assert_int_equal(ps_plat_socket_recv(s, buf, sizeof buf, &n, &em), PS_ERR_CLOSED);
    ps_plat_socket_close(s);
    closesocket(l);

    assert_int_equal(ps_plat_file_size("C:\\no\\such\\file", &size), PS_ERR_NOTFOUND);
    assert_int_equal(size, 0);
    (void)state;
}

static void test_append_files(void **state)
{
    char *dir = temp_dir(), *path = ps_plat_path_join(dir, "a.spool"), *back = NULL;
    ps_iovec iov[3] = {{"one ", 4}, {"", 0}, {"two", 3}};
    ps_file *f = NULL, *g = NULL;
    size_t len = 0;
    ps_errmsg em;

    assert_int_equal(ps_plat_file_open_append(path, 0640, &f, &em), PS_OK);
    assert_int_equal(ps_plat_file_writev(f, iov, 3, &em), PS_OK);
    /* A second handle writes at the end too, never over the first one's bytes. */
    assert_int_equal(ps_plat_file_open_append(path, 0640, &g, &em), PS_OK);
    assert_int_equal(ps_plat_file_writev(g, &(ps_iovec){"|G", 2}, 1, &em), PS_OK);
    assert_int_equal(ps_plat_file_writev(f, &(ps_iovec){"|F", 2}, 1, &em), PS_OK);
    assert_int_equal(ps_plat_file_sync(f, &em), PS_OK);
    ps_plat_file_close(g);
    ps_plat_file_close(f);
    ps_plat_file_close(NULL);
    assert_int_equal(ps_plat_read_file(path, 100, &back, &len, &em), PS_OK);
    assert_string_equal(back, "one two|G|F");
    free(back);
    assert_int_equal(ps_plat_read_file(path, 5, &back, &len, &em), PS_ERR_RANGE);
    assert_int_equal(ps_plat_file_open_append("C:\\no\\such\\dir\\x", 0640, &f, &em),
                     PS_ERR_NOTFOUND);
    assert_non_null(strstr(em.text, "No such file or directory"));
    assert_int_equal(ps_plat_remove(path, &em), PS_OK);
    free(path);
    free(dir);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_modes_become_protected_dacls),
        cmocka_unit_test(test_private_files_get_a_protected_dacl),
        cmocka_unit_test(test_check_private_refuses_readable_by_others),
        cmocka_unit_test(test_long_paths),
        cmocka_unit_test(test_atomic_replace_keeps_backup),
        cmocka_unit_test(test_locks),
        cmocka_unit_test(test_charsets),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_system),
        cmocka_unit_test(test_threads_and_requests),
        cmocka_unit_test(test_thread_priorities),
        cmocka_unit_test(test_sockets),
        cmocka_unit_test(test_append_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
