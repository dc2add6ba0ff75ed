#include "podstream/ps_platform.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

ps_err ps_plat_read_file(const char *path, size_t max_bytes, char **buf, size_t *len, ps_errmsg *em)
{
    ps_err err = PS_OK;
    struct stat st;
    char *data = NULL;
    size_t used = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    *buf = NULL;
    *len = 0;
    if (fd < 0)
        return ps_errmsg_set(em, errno == ENOENT ? PS_ERR_NOTFOUND : PS_ERR_IO,
                             "cannot open %s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        err = ps_errmsg_set(em, PS_ERR_IO, "%s is not a regular file", path);
        goto out;
    }
    if ((size_t)st.st_size > max_bytes) {
        err = ps_errmsg_set(em, PS_ERR_RANGE, "%s is larger than %zu bytes", path, max_bytes);
        goto out;
    }
    data = malloc((size_t)st.st_size + 1);
    if (!data) {
        err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory reading %s", path);
        goto out;
    }
    while (used < (size_t)st.st_size) {
        ssize_t n = read(fd, data + used, (size_t)st.st_size - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err = ps_errmsg_set(em, PS_ERR_IO, "cannot read %s: %s", path, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        used += (size_t)n;
    }
    data[used] = '\0';
    *buf = data;
    *len = used;
    data = NULL;
out:
    free(data);
    close(fd);
    return err;
}

static ps_err write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return PS_ERR_IO;
        p += n;
        len -= (size_t)n;
    }
    return PS_OK;
}

static void fsync_dir_of(const char *path)
{
    char *dir = ps_plat_dir_name(path);
    int fd;
    if (!dir)
        return;
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

ps_err ps_plat_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode,
                                 bool backup, ps_errmsg *em)
{
    ps_err err = PS_OK;
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    char *bak = malloc(plen + 8);
    int fd = -1;

    if (!tmp || !bak) {
        err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
        goto out;
    }
    snprintf(tmp, plen + 16, "%s.tmpXXXXXX", path);
    snprintf(bak, plen + 8, "%s.bak", path);
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        err = ps_errmsg_set(em, PS_ERR_IO, "cannot create a temporary file beside %s: %s", path,
                            strerror(errno));
        goto out;
    }
    if (fchmod(fd, (mode_t)mode) != 0 || write_all(fd, data, len) != PS_OK || fsync(fd) != 0) {
        err = ps_errmsg_set(em, PS_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
        goto out;
    }
    close(fd);
    fd = -1;
    if (backup && access(path, F_OK) == 0) {
        /* A hard link keeps the old content as .bak without a window where `path`
         * is missing; rename() below then swaps in the new file. */
        (void)unlink(bak);
        if (link(path, bak) != 0) {
            err = ps_errmsg_set(em, PS_ERR_IO, "cannot keep a backup %s: %s", bak, strerror(errno));
            goto out;
        }
    }
    if (rename(tmp, path) != 0) {
        err = ps_errmsg_set(em, PS_ERR_IO, "cannot replace %s: %s", path, strerror(errno));
        goto out;
    }
    fsync_dir_of(path);
out:
    if (fd >= 0)
        close(fd);
    if (err != PS_OK && tmp)
        (void)unlink(tmp);
    free(tmp);
    free(bak);
    return err;
}

ps_err ps_plat_create_exclusive(const char *path, const void *data, size_t len, unsigned mode,
                                ps_errmsg *em)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, (mode_t)mode);
    if (fd < 0)
        return ps_errmsg_set(em, errno == EEXIST ? PS_ERR_EXISTS : PS_ERR_IO,
                             "cannot create %s: %s", path, strerror(errno));
    /* The umask may have removed bits we asked for; set exactly `mode`. */
    if (fchmod(fd, (mode_t)mode) != 0 || write_all(fd, data, len) != PS_OK || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        (void)unlink(path);
        return ps_errmsg_set(em, PS_ERR_IO, "cannot write %s: %s", path, strerror(e));
    }
    close(fd);
    fsync_dir_of(path);
    return PS_OK;
}

ps_err ps_plat_check_private(const char *path, ps_errmsg *em)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return ps_errmsg_set(em, errno == ENOENT ? PS_ERR_NOTFOUND : PS_ERR_IO,
                             "cannot stat %s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return ps_errmsg_set(em, PS_ERR_PERM, "%s is not a regular file", path);
    if (st.st_mode & (S_IRWXG | S_IRWXO))
        return ps_errmsg_set(em, PS_ERR_PERM,
                             "%s has mode %04o: other users could read it; run 'chmod 600 %s'",
                             path, (unsigned)(st.st_mode & 07777), path);
    return PS_OK;
}

ps_err ps_plat_random(void *buf, size_t len)
{
    char *p = buf;
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return PS_ERR_IO;
        p += n;
        len -= (size_t)n;
    }
    return PS_OK;
}

void ps_plat_wipe(void *p, size_t len)
{
    if (p)
        explicit_bzero(p, len);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool has_suffix(const char *name, const char *const *suffixes)
{
    size_t n = strlen(name);
    for (; *suffixes; suffixes++) {
        size_t s = strlen(*suffixes);
        if (n > s && strcmp(name + n - s, *suffixes) == 0)
            return true;
    }
    return false;
}

ps_err ps_plat_list_dir(const char *dir, const char *const *suffixes, char ***names, size_t *count,
                        ps_errmsg *em)
{
    ps_err err = PS_OK;
    DIR *d = opendir(dir);
    char **list = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;

    *names = NULL;
    *count = 0;
    if (!d)
        return ps_errmsg_set(em, errno == ENOENT ? PS_ERR_NOTFOUND : PS_ERR_IO,
                             "cannot open directory %s: %s", dir, strerror(errno));
    while ((de = readdir(d)) != NULL) {
        char *full;
        struct stat st;
        if (de->d_name[0] == '.' || !has_suffix(de->d_name, suffixes))
            continue;
        full = ps_plat_path_join(dir, de->d_name);
        if (!full || stat(full, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(full);
            continue;
        }
        free(full);
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **l = realloc(list, ncap * sizeof *l);
            if (!l) {
                err = PS_ERR_NOMEM;
                goto out;
            }
            list = l;
            cap = ncap;
        }
        list[n] = strdup(de->d_name);
        if (!list[n]) {
            err = PS_ERR_NOMEM;
            goto out;
        }
        n++;
    }
    if (n)
        qsort(list, n, sizeof *list, cmp_names);
out:
    closedir(d);
    if (err != PS_OK) {
        ps_plat_free_list(list, n);
        return ps_errmsg_set(em, err, "out of memory listing %s", dir);
    }
    *names = list;
    *count = n;
    return PS_OK;
}

void ps_plat_free_list(char **names, size_t count)
{
    if (!names)
        return;
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

char *ps_plat_dir_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

bool ps_plat_path_is_absolute(const char *p)
{
    return p && p[0] == '/';
}

char *ps_plat_path_join(const char *a, const char *b)
{
    size_t la, lb;
    char *r;
    if (ps_plat_path_is_absolute(b) || !a || !*a)
        return strdup(b);
    la = strlen(a);
    lb = strlen(b);
    r = malloc(la + lb + 2);
    if (!r)
        return NULL;
    memcpy(r, a, la);
    if (la && a[la - 1] != '/')
        r[la++] = '/';
    memcpy(r + la, b, lb + 1);
    return r;
}

bool ps_plat_file_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

char *ps_plat_path_absolute(const char *p)
{
    char *cwd, *r;
    if (ps_plat_path_is_absolute(p))
        return strdup(p);
    cwd = getcwd(NULL, 0);
    if (!cwd)
        return NULL;
    /* "./conf" reads better as "/home/x/conf" than "/home/x/./conf". */
    while (p[0] == '.' && p[1] == '/')
        p += 2;
    r = (p[0] == '\0' || strcmp(p, ".") == 0) ? strdup(cwd) : ps_plat_path_join(cwd, p);
    free(cwd);
    return r;
}

bool ps_plat_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

ps_err ps_plat_mkdirs(const char *dir, unsigned mode, ps_errmsg *em)
{
    char *p = strdup(dir);
    ps_err err = PS_OK;
    if (!p)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, (mode_t)mode) != 0 && errno != EEXIST) {
                err = ps_errmsg_set(em, PS_ERR_IO, "cannot create directory %s: %s", p,
                                    strerror(errno));
                break;
            }
            *s = c;
            if (c == '\0')
                break;
        }
    }
    free(p);
    return err;
}

uint64_t ps_plat_file_stamp(const char *path)
{
    struct stat st;
    uint64_t h = 1469598103934665603ull;
    if (stat(path, &st) != 0)
        return 0;
    h = (h ^ (uint64_t)st.st_size) * 1099511628211ull;
    h = (h ^ (uint64_t)st.st_mtim.tv_sec) * 1099511628211ull;
    h = (h ^ (uint64_t)st.st_mtim.tv_nsec) * 1099511628211ull;
    h = (h ^ (uint64_t)st.st_ino) * 1099511628211ull;
    return h ? h : 1;
}

ps_err ps_plat_lock(const char *path, int *handle, ps_errmsg *em)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    *handle = -1;
    if (fd < 0)
        return ps_errmsg_set(em, PS_ERR_IO, "cannot open lock file %s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK)
            return ps_errmsg_set(em, PS_ERR_CONFLICT,
                                 "another podstream is already running on this database (%s is "
                                 "locked)",
                                 path);
        return ps_errmsg_set(em, PS_ERR_IO, "cannot lock %s: %s", path, strerror(e));
    }
    *handle = fd;
    return PS_OK;
}

void ps_plat_unlock(int handle)
{
    if (handle >= 0)
        close(handle);
}

const char *ps_plat_default_config_dir(void)
{
    return "/etc/podstream";
}

const char *ps_plat_default_state_dir(void)
{
    return "/var/lib/podstream";
}

int64_t ps_plat_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t ps_plat_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ps_plat_thread_background(void)
{
#ifdef __linux__
    /* Linux applies a thread id's nice value to that thread alone. Best effort: a
     * failure only costs throughput. */
    errno = 0;
    int now = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
    if (errno == 0)
        (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), now + 5);
#endif
}

void ps_plat_heap_trim(void)
{
#ifdef __GLIBC__
    (void)malloc_trim(0);
#endif
}

void ps_plat_cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &ca);
    pthread_condattr_destroy(&ca);
}

void ps_plat_deadline_ms(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Terminal settings to put back when a signal ends the process at a hidden prompt;
 * otherwise Ctrl-C would leave the admin's terminal with echo off. */
static struct termios secret_tty_saved;
static const int secret_tty_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
#define SECRET_TTY_NSIG (sizeof secret_tty_signals / sizeof secret_tty_signals[0])

static void secret_tty_restore_and_reraise(int sig)
{
    /* SA_RESETHAND restored the default action; the re-raised signal is delivered
     * once this handler returns. Both calls are async-signal-safe. */
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &secret_tty_saved);
    raise(sig);
}

ps_err ps_plat_read_secret_line(const char *prompt, char *buf, size_t len, ps_errmsg *em)
{
    struct termios old, quiet;
    struct sigaction prev[SECRET_TTY_NSIG];
    bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
    ps_err err = PS_OK;
    size_t n = 0;

    if (tty) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = secret_tty_restore_and_reraise;
        sa.sa_flags = SA_RESETHAND;
        sigemptyset(&sa.sa_mask);
        secret_tty_saved = old;
        for (size_t i = 0; i < SECRET_TTY_NSIG; i++)
            sigaction(secret_tty_signals[i], &sa, &prev[i]);
        /* Echo off before the prompt, as getpass() does: TCSAFLUSH discards typeahead,
         * so input sent as soon as the prompt shows would otherwise be lost. */
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
        quiet.c_lflag |= ICANON;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
        fprintf(stderr, "%s", prompt);
        fflush(stderr);
    }
    for (;;) {
        char c;
        ssize_t r = read(STDIN_FILENO, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            err = ps_errmsg_set(em, PS_ERR_IO, "cannot read standard input: %s", strerror(errno));
            break;
        }
        if (r == 0 || c == '\n')
            break;
        if (n + 1 >= len) {
            err = ps_errmsg_set(em, PS_ERR_RANGE, "input longer than %zu bytes", len - 1);
            break;
        }
        buf[n++] = c;
    }
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        for (size_t i = 0; i < SECRET_TTY_NSIG; i++)
            sigaction(secret_tty_signals[i], &prev[i], NULL);
        fputc('\n', stderr);
    }
    if (err != PS_OK)
        ps_plat_wipe(buf, len);
    return err;
}

bool ps_plat_stdin_is_terminal(void)
{
    return isatty(STDIN_FILENO) == 1;
}

int ps_plat_terminal_columns(FILE *stream)
{
    struct winsize ws;
    int fd = stream ? fileno(stream) : -1;
    if (fd < 0 || !isatty(fd) || ioctl(fd, TIOCGWINSZ, &ws) != 0)
        return 0;
    return ws.ws_col;
}

bool ps_plat_localtime(int64_t unix_s, struct tm *out)
{
    time_t t = (time_t)unix_s;
    if ((int64_t)t != unix_s)
        return false;
    return localtime_r(&t, out) != NULL;
}
