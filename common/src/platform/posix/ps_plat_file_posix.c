/* Files and directories on POSIX: whole-file reads and atomic replacement,
 * permission checks, listings, locks, and append-only files. */
#include "podstream/ps_platform.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "platform/ps_plat_internal.h"
#include "podstream/ps_mem.h"

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

/* The replacement gets the owner and group of the file it replaces: root editing
 * the service account's file (a device file, the shared key) must not leave it
 * one the service cannot read. Best effort, as editors do: only root can give a
 * file away, and another user writing here keeps the file as before this. */
static void keep_owner_of(const char *path, int fd)
{
    struct stat old, now;
    int rc;
    if (stat(path, &old) != 0 || fstat(fd, &now) != 0 ||
        (old.st_uid == now.st_uid && old.st_gid == now.st_gid))
        return;
    rc = fchown(fd, old.st_uid, old.st_gid);
    (void)rc; /* EPERM when not root: the file stays the writer's */
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
    keep_owner_of(path, fd);
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

/* Why `full`, which stat() refused or found not regular, is left out; NULL when it
 * went away between readdir and stat (nothing to report). */
static const char *why_skipped(const char *full, int stat_rc, int stat_errno, mode_t mode,
                               char *buf, size_t len)
{
    struct stat lst;
    if (stat_rc == 0) {
        if (S_ISDIR(mode))
            return "not a regular file (a directory)";
        if (S_ISFIFO(mode))
            return "not a regular file (a FIFO)";
        if (S_ISCHR(mode) || S_ISBLK(mode))
            return "not a regular file (a device node)";
        if (S_ISSOCK(mode))
            return "not a regular file (a socket)";
        return "not a regular file";
    }
    if (stat_errno == ELOOP)
        return "a symbolic link loop";
    if (stat_errno == ENOENT)
        return lstat(full, &lst) == 0 && S_ISLNK(lst.st_mode) ? "a dangling symbolic link" : NULL;
    snprintf(buf, len, "cannot be examined: %s", strerror(stat_errno));
    return buf;
}

ps_err ps_plat_list_dir(const char *dir, const char *const *suffixes, char ***names, size_t *count,
                        ps_errmsg *em)
{
    return ps_plat_list_dir_checked(dir, suffixes, NULL, NULL, names, count, em);
}

ps_err ps_plat_list_dir_checked(const char *dir, const char *const *suffixes,
                                ps_plat_skipped_fn skipped, void *ctx, char ***names, size_t *count,
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
        int rc;
        if (de->d_name[0] == '.' || !ps_plat_has_suffix(de->d_name, suffixes))
            continue;
        full = ps_plat_path_join(dir, de->d_name);
        if (!full) {
            err = PS_ERR_NOMEM;
            goto out;
        }
        rc = stat(full, &st);
        if (rc != 0 || !S_ISREG(st.st_mode)) {
            char buf[160];
            const char *why =
                why_skipped(full, rc, errno, rc == 0 ? st.st_mode : 0, buf, sizeof buf);
            if (skipped && why)
                skipped(ctx, de->d_name, why);
            free(full);
            continue;
        }
        free(full);
        if ((err = ps_mem_grow_array((void **)&list, &cap, n, sizeof *list)) != PS_OK)
            goto out;
        list[n] = strdup(de->d_name);
        if (!list[n]) {
            err = PS_ERR_NOMEM;
            goto out;
        }
        n++;
    }
    if (n)
        qsort(list, n, sizeof *list, ps_plat_cmp_names);
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

bool ps_plat_file_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

bool ps_plat_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

ps_err ps_plat_protect_dir(const char *dir, unsigned mode, ps_errmsg *em)
{
    if (chmod(dir, (mode_t)mode) != 0)
        return ps_errmsg_set(em, errno == ENOENT ? PS_ERR_NOTFOUND : PS_ERR_IO,
                             "cannot change the mode of %s: %s", dir, strerror(errno));
    return PS_OK;
}

static ps_err stat_error(const char *path, ps_errmsg *em)
{
    int e = errno;
    return ps_errmsg_set(em, e == ENOENT ? PS_ERR_NOTFOUND : PS_ERR_IO, "cannot stat %s: %s", path,
                         strerror(e));
}

ps_err ps_plat_copy_owner(const char *from, const char *to, bool with_mode, ps_errmsg *em)
{
    struct stat src, dst;
    if (stat(from, &src) != 0)
        return stat_error(from, em);
    if (stat(to, &dst) != 0)
        return stat_error(to, em);
    if ((src.st_uid != dst.st_uid || src.st_gid != dst.st_gid) &&
        chown(to, src.st_uid, src.st_gid) != 0) {
        int e = errno;
        return ps_errmsg_set(em, e == EPERM ? PS_ERR_PERM : PS_ERR_IO,
                             "cannot give %s the owner of %s (uid %u, gid %u): %s", to, from,
                             (unsigned)src.st_uid, (unsigned)src.st_gid, strerror(e));
    }
    /* After chown, which clears set-id bits. */
    if (with_mode && (src.st_mode & 07777) != (dst.st_mode & 07777) &&
        chmod(to, src.st_mode & 07777) != 0)
        return ps_errmsg_set(em, PS_ERR_IO, "cannot change the mode of %s: %s", to,
                             strerror(errno));
    return PS_OK;
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

/* True when `fd` is still the file at `path`: a lock on a file unlinked (or
 * replaced) meanwhile keeps nobody away. */
static bool lock_is_at_path(int fd, const char *path)
{
    struct stat held, named;
    if (fstat(fd, &held) != 0 || stat(path, &named) != 0)
        return false;
    return held.st_dev == named.st_dev && held.st_ino == named.st_ino;
}

/* LOCK_EX without waiting for another holder of the exclusive lock, but waiting out
 * the instant of a ps_plat_lock_probe (a monitoring check may run at any time). */
static int flock_ex_soon(int fd)
{
    for (int i = 0;; i++) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            return 0;
        if (errno != EWOULDBLOCK || i == 20)
            return -1;
        ps_plat_sleep_ms(10);
    }
}

ps_err ps_plat_lock(const char *path, ps_plat_lockh *handle, ps_errmsg *em)
{
    *handle = PS_PLAT_LOCK_NONE;
    /* Another process may unlink the file between our open and our lock; the
     * retries end as soon as the file we hold is the one at the path. */
    for (int attempt = 0; attempt < 8; attempt++) {
        /* Read-only: flock needs no write access, and the file may be the database. */
        int fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0640);
        if (fd < 0)
            return ps_errmsg_set(em, PS_ERR_IO, "cannot open lock file %s: %s", path,
                                 strerror(errno));
        if (flock_ex_soon(fd) != 0) {
            int e = errno;
            close(fd);
            if (e == EWOULDBLOCK)
                return ps_errmsg_set(em, PS_ERR_CONFLICT,
                                     "another podstream is already running on this database "
                                     "(%s is locked)",
                                     path);
            return ps_errmsg_set(em, PS_ERR_IO, "cannot lock %s: %s", path, strerror(e));
        }
        if (lock_is_at_path(fd, path)) {
            *handle = (ps_plat_lockh)fd;
            return PS_OK;
        }
        close(fd);
    }
    return ps_errmsg_set(em, PS_ERR_IO, "cannot lock %s: it keeps being replaced", path);
}

int ps_plat_lock_probe(const char *path)
{
    int held;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
        held = 0;
        (void)flock(fd, LOCK_UN);
    } else {
        held = errno == EWOULDBLOCK ? 1 : -1;
    }
    close(fd);
    return held;
}

void ps_plat_unlock(ps_plat_lockh handle)
{
    if (handle >= 0)
        close((int)handle);
}

struct ps_file {
    int fd;
    char *path; /* for messages */
};

ps_err ps_plat_file_open_append(const char *path, unsigned mode, ps_file **out, ps_errmsg *em)
{
    ps_file *f = calloc(1, sizeof *f);

    *out = NULL;
    if (!f || !(f->path = strdup(path))) {
        free(f);
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    }
    f->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, (mode_t)mode);
    if (f->fd < 0) {
        ps_err e = ps_errmsg_set(em, errno == ENOENT ? PS_ERR_NOTFOUND : PS_ERR_IO,
                                 "cannot create %s: %s", path, strerror(errno));
        free(f->path);
        free(f);
        return e;
    }
    *out = f;
    return PS_OK;
}

/* Copies what is left of iov[0..cnt), the first `skip` bytes already written, into
 * at most `max` struct iovec. Returns how many it filled. */
static int iov_fill(struct iovec *v, int max, const ps_iovec *iov, size_t cnt, size_t skip)
{
    int n = 0;

    for (size_t i = 0; i < cnt && n < max; i++) {
        if (skip >= iov[i].len) {
            skip -= iov[i].len;
            continue;
        }
        v[n].iov_base = (char *)iov[i].base + skip; /* writev's prototype; not written */
        v[n].iov_len = iov[i].len - skip;
        skip = 0;
        n++;
    }
    return n;
}

ps_err ps_plat_file_writev(ps_file *f, const ps_iovec *iov, size_t cnt, ps_errmsg *em)
{
    /* IOV_MAX pieces per call: the spool writes up to 128, and one writev per batch is
     * what keeps a batch whole when the process dies. */
    struct iovec v[IOV_MAX < 1024 ? IOV_MAX : 1024];
    size_t total = 0, done = 0;

    for (size_t i = 0; i < cnt; i++)
        total += iov[i].len;
    while (done < total) {
        int n = iov_fill(v, (int)(sizeof v / sizeof v[0]), iov, cnt, done);
        ssize_t w = writev(f->fd, v, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return ps_errmsg_set(em, PS_ERR_IO, "cannot write %s: %s", f->path, strerror(errno));
        done += (size_t)w;
    }
    return PS_OK;
}

ps_err ps_plat_file_sync(ps_file *f, ps_errmsg *em)
{
    if (fsync(f->fd) != 0)
        return ps_errmsg_set(em, PS_ERR_IO, "cannot flush %s to disk: %s", f->path,
                             strerror(errno));
    return PS_OK;
}

void ps_plat_file_close(ps_file *f)
{
    if (!f)
        return;
    close(f->fd);
    free(f->path);
    free(f);
}

ps_err ps_plat_remove(const char *path, ps_errmsg *em)
{
    if (unlink(path) != 0)
        return ps_errmsg_set(em, errno == ENOENT ? PS_ERR_NOTFOUND : PS_ERR_IO,
                             "cannot remove %s: %s", path, strerror(errno));
    return PS_OK;
}

ps_err ps_plat_rename_new(const char *from, const char *to, ps_errmsg *em)
{
    /* link + unlink: rename(2) would replace a file that appeared at `to` */
    if (link(from, to) != 0)
        return ps_errmsg_set(em, errno == EEXIST ? PS_ERR_EXISTS : PS_ERR_IO,
                             "cannot move %s to %s: %s", from, to, strerror(errno));
    (void)unlink(from);
    return PS_OK;
}

bool ps_plat_file_id(const char *path, ps_file_id *out)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return false;
    out->dev = (uint64_t)st.st_dev;
    out->ino = (uint64_t)st.st_ino;
    return true;
}

ps_err ps_plat_file_size(const char *path, uint64_t *out)
{
    struct stat sb;
    *out = 0;
    if (stat(path, &sb) != 0)
        return errno == ENOENT ? PS_ERR_NOTFOUND : PS_ERR_IO;
    *out = (uint64_t)sb.st_size;
    return PS_OK;
}
