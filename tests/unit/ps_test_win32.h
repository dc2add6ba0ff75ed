/* ps_test_win32: the few POSIX calls the unit tests and fuzz replays use to set up their
 * situations (temporary directories, environment, memory streams), for the Windows
 * build. cmake/PsHelpers.cmake force-includes it (-include) into every test and fuzz
 * target when WIN32, so the tests keep one source for both systems.
 *
 * What has no Windows meaning SKIPS the test that calls it, through cmocka's skip:
 * symbolic links and FIFOs (test_config's "not a regular file" cases), and loosening a
 * POSIX file mode (chmod/fchmod with group or other bits: Windows protects key files and
 * the database with ACLs, which test_platform_win32 covers). A skipped test shows as
 * SKIPPED in its output. */
#ifndef PS_TEST_WIN32_H
#define PS_TEST_WIN32_H
#ifdef _WIN32

#include <direct.h>
#include <errno.h>
#include <io.h>
#include <process.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

/* test_podsim_gen links no podstream library: it has no chmod to make either. */
#if __has_include("podstream/ps_platform.h")
#include "podstream/ps_platform.h"
#define PS_TEST_HAVE_PLATFORM 1
#endif

#ifndef PS_TEST_NO_CMOCKA
/* cmocka's skip(): declared here because this header comes before cmocka.h. */
void _skip(const char *const file, const int line);
#endif

static inline int ps_test_setenv(const char *name, const char *value, int overwrite)
{
    if (!overwrite && getenv(name))
        return 0;
    return _putenv_s(name, value) == 0 ? 0 : -1;
}
#define setenv(n, v, o) ps_test_setenv((n), (v), (o))
/* An empty value removes the variable on Windows. */
#define unsetenv(n) ps_test_setenv((n), "", 1)

#define mkdir(p, m) _mkdir(p)

/* Files the tests open() or fopen() without "b" are byte for byte as on POSIX: no
 * newline translation (msvcrt's default is text mode). */
#include <fcntl.h>
__attribute__((constructor)) static void ps_test_binary_mode(void)
{
    _fmode = _O_BINARY;
}

/* _mktemp names only 26 files per template and process: pick the letters here. */
static inline char *ps_test_mkdtemp(char *tmpl)
{
    static unsigned seq;
    static const char set[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    size_t n = strlen(tmpl);
    if (n < 6 || strcmp(tmpl + n - 6, "XXXXXX") != 0) {
        errno = EINVAL;
        return NULL;
    }
    for (int attempt = 0; attempt < 1000; attempt++) {
        unsigned v = (unsigned)_getpid() * 2654435761u + ++seq * 40503u + (unsigned)rand();
        for (size_t i = n - 6; i < n; i++, v /= 36)
            tmpl[i] = set[v % 36];
        if (_mkdir(tmpl) == 0)
            return tmpl;
        if (errno != EEXIST)
            return NULL;
    }
    return NULL;
}
#define mkdtemp(t) ps_test_mkdtemp(t)

static inline char *ps_test_strndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *d = malloc(len + 1);
    if (d) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}
#define strndup(s, n) ps_test_strndup((s), (n))

static inline long long ps_test_getline(char **buf, size_t *cap, FILE *f)
{
    size_t len = 0;
    int c;
    while ((c = fgetc(f)) != EOF) {
        if (!*buf || len + 2 > *cap) {
            size_t ncap = *cap ? *cap * 2 : 128;
            char *nb = realloc(*buf, ncap);
            if (!nb)
                return -1;
            *buf = nb;
            *cap = ncap;
        }
        (*buf)[len++] = (char)c;
        if (c == '\n')
            break;
    }
    if (len == 0)
        return -1;
    (*buf)[len] = '\0';
    return (long long)len;
}
#define getline(b, c, f) ps_test_getline((b), (c), (f))

/* Tests run as an ordinary user. */
#define geteuid() 1

static inline int ps_test_skip_posix(const char *file, int line)
{
#ifdef PS_TEST_NO_CMOCKA
    /* A fuzz replay has no skip: it goes on, still checking how the input is handled. */
    (void)file;
    (void)line;
    return 0;
#else
    _skip(file, line);
    return -1;
#endif
}
#define symlink(a, b) ps_test_skip_posix(__FILE__, __LINE__)
#define mkfifo(p, m)  ps_test_skip_posix(__FILE__, __LINE__)
/* Making a file private: rewritten through the platform layer with that mode, which
 * on Windows means the protected ACL the loader checks for. Loosening a mode to provoke
 * the loader's check has no chmod equivalent: skipped. */
#ifdef PS_TEST_HAVE_PLATFORM
static inline int ps_test_chmod(const char *path, int mode, const char *file, int line)
{
    FILE *f;
    char *data;
    long n;
    size_t got;
    ps_err err;
    if (mode & 077)
        return ps_test_skip_posix(file, line);
    if (!path || !(f = fopen(path, "rb")))
        return path ? -1 : 0;
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || !(data = malloc((size_t)n + 1))) {
        (fclose)(f);
        return -1;
    }
    rewind(f);
    got = fread(data, 1, (size_t)n, f);
    (fclose)(f);
    err = ps_plat_write_file_atomic(path, data, got, (unsigned)mode, false, NULL);
    free(data);
    return err == PS_OK ? 0 : -1;
}
#else
static inline int ps_test_chmod(const char *path, int mode, const char *file, int line)
{
    (void)path;
    (void)mode;
    return ps_test_skip_posix(file, line);
}
#endif
#define chmod(p, m)   ps_test_chmod((p), (m), __FILE__, __LINE__)
#define fchmod(fd, m) ps_test_chmod(NULL, (m), __FILE__, __LINE__)

/* open_memstream: a temporary file whose contents the matching fclose() copies into
 * the caller's buffer, as POSIX's would. The tests only ever have one open. */
static FILE *ps_test_ms_file;
static char **ps_test_ms_buf;
static size_t *ps_test_ms_len;

static inline FILE *ps_test_open_memstream(char **buf, size_t *len)
{
    ps_test_ms_file = tmpfile();
    ps_test_ms_buf = buf;
    ps_test_ms_len = len;
    return ps_test_ms_file;
}
#define open_memstream(b, l) ps_test_open_memstream((b), (l))

static inline int ps_test_fclose(FILE *f)
{
    if (f && f == ps_test_ms_file) {
        long n;
        ps_test_ms_file = NULL;
        if (fflush(f) != 0 || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0)
            return (fclose)(f), EOF;
        rewind(f);
        *ps_test_ms_buf = malloc((size_t)n + 1);
        if (!*ps_test_ms_buf)
            return (fclose)(f), EOF;
        *ps_test_ms_len = fread(*ps_test_ms_buf, 1, (size_t)n, f);
        (*ps_test_ms_buf)[*ps_test_ms_len] = '\0';
    }
    return (fclose)(f);
}
#define fclose(f) ps_test_fclose(f)

#endif
#endif
