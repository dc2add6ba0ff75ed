/* ps_platform: everything that differs between Linux and Windows.
 *
 * Files, permissions, randomness, clocks, default paths, threads, sockets, text
 * encodings, stop/reload requests and terminal input live here so that the rest of
 * common/ and service/ is portable C11 (scripts/check-platform.py enforces it).
 * posix/ps_plat_*_posix.c build on Linux, win32/ps_plat_*_win32.c on Windows
 * (docs/windows.md says where they differ). */
#ifndef PS_PLATFORM_H
#define PS_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "ps_error.h"

#ifdef _WIN32
#define PS_PATH_SEP '\\'
#else
#define PS_PATH_SEP '/'
#endif

/* Reads a whole file into a new NUL-terminated buffer (*buf, caller frees; *len
 * excludes the NUL). Fails with PS_ERR_RANGE when the file exceeds max_bytes. */
ps_err ps_plat_read_file(const char *path, size_t max_bytes, char **buf, size_t *len,
                         ps_errmsg *em);

/* Replaces `path` atomically: writes a temporary file beside it with `mode`,
 * fsyncs it, keeps the previous file as `path.bak` when `backup` is set, then
 * renames. Readers see the old or the new file, never a torn one. On POSIX the new
 * file keeps the owner and group of the one it replaces when the caller may give
 * it away (root), so an admin's edit as root does not take it from the service. */
ps_err ps_plat_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode,
                                 bool backup, ps_errmsg *em);

/* Creates a new file with O_EXCL and `mode` and writes `data`. PS_ERR_EXISTS when
 * the file exists. */
ps_err ps_plat_create_exclusive(const char *path, const void *data, size_t len, unsigned mode,
                                ps_errmsg *em);

/* PS_OK when the file at `path` can be read by its owner only (no group or other
 * bits; on Windows, an ACL that lets nobody read it but SYSTEM, Administrators,
 * NT SERVICE\podstream, the owner and this process's user). PS_ERR_PERM with the
 * reason, naming the mode (or who could read it), otherwise. On Windows `mode`
 * arguments of the calls here stand for the ACLs of docs/windows.md. */
ps_err ps_plat_check_private(const char *path, ps_errmsg *em);

/* Fills buf with cryptographically secure random bytes. */
ps_err ps_plat_random(void *buf, size_t len);

/* Zeroes memory in a way the compiler may not remove. Accepts NULL. */
void ps_plat_wipe(void *p, size_t len);

/* Lists regular files in `dir` whose names end in one of the NULL-terminated
 * `suffixes`, sorted by name. *names is a new array of new strings (free with
 * ps_plat_free_list). A missing directory gives PS_ERR_NOTFOUND. */
ps_err ps_plat_list_dir(const char *dir, const char *const *suffixes, char ***names, size_t *count,
                        ps_errmsg *em);

/* Told of an entry of `dir` with a listed suffix that ps_plat_list_dir leaves out
 * because it is not a regular file: `name` (borrowed) and `why`, a phrase such as
 * "not a regular file (a FIFO)", "a dangling symbolic link" or "a symbolic link loop"
 * (borrowed, valid during the call). */
typedef void (*ps_plat_skipped_fn)(void *ctx, const char *name, const char *why);

/* ps_plat_list_dir that calls `skipped` (may be NULL) for each entry it leaves out,
 * so that a configuration file turned into a FIFO or a dangling link is an error
 * and not a file that silently went away. */
ps_err ps_plat_list_dir_checked(const char *dir, const char *const *suffixes,
                                ps_plat_skipped_fn skipped, void *ctx, char ***names, size_t *count,
                                ps_errmsg *em);
void ps_plat_free_list(char **names, size_t count);

/* Returns a new string "a/b" (caller frees), or NULL on allocation failure. When
 * `b` is absolute it is returned as is. */
char *ps_plat_path_join(const char *a, const char *b);
bool ps_plat_path_is_absolute(const char *p);
/* The directory part of `path` as a new string ("." when there is none), or NULL on
 * allocation failure. */
char *ps_plat_dir_name(const char *path);
bool ps_plat_file_exists(const char *path);
/* Returns a new absolute spelling of `p` (caller frees): `p` itself when absolute,
 * else joined to the current directory. Symbolic links are not resolved. NULL on
 * allocation failure or when the current directory cannot be read. */
char *ps_plat_path_absolute(const char *p);
/* True when `path` exists and is a directory. */
bool ps_plat_is_dir(const char *path);

/* Gives `to` the owner and group of `from` (and its permission bits too when
 * `with_mode`), so that a file an admin rewrites as root, such as the database
 * `repair` rebuilds, stays the service account's. Does nothing when they already
 * match. PS_ERR_PERM when the owner cannot be changed (only root can give a file
 * away). On Windows a no-op: files inherit their folder's ACL. */
ps_err ps_plat_copy_owner(const char *from, const char *to, bool with_mode, ps_errmsg *em);

/* Creates `dir` and its parents with `mode` where missing. */
ps_err ps_plat_mkdirs(const char *dir, unsigned mode, ps_errmsg *em);

/* Gives the existing directory `dir` the access of `mode` (0750: the service and the
 * admins), whoever created it: chmod on Linux; on Windows the protected ACL of
 * ps_plat_mkdirs, which files in it (and those made later) inherit, so that a device
 * file an admin saves there is not readable by every user as %ProgramData% is. */
ps_err ps_plat_protect_dir(const char *dir, unsigned mode, ps_errmsg *em);

/* A value that changes whenever the file's size or modification time changes;
 * 0 when the file does not exist. */
uint64_t ps_plat_file_stamp(const char *path);

/* A lock held by ps_plat_lock: a file descriptor on POSIX, a HANDLE on Windows, in an
 * integer wide enough for either. PS_PLAT_LOCK_NONE is "no lock held". */
typedef intptr_t ps_plat_lockh;
#define PS_PLAT_LOCK_NONE ((ps_plat_lockh)-1)

/* Takes an exclusive lock on `path` (created 0640 when missing) for the life of the
 * process, so two services never write one database. The lock is on the file that is
 * at `path` once it is held (one unlinked meanwhile is let go and the new one taken).
 * It does not conflict with SQLite's own locks, so `path` may be the database itself;
 * then release it only after the last connection to it is closed. PS_ERR_CONFLICT
 * when another process holds it. *handle is released by ps_plat_unlock. */
ps_err ps_plat_lock(const char *path, ps_plat_lockh *handle, ps_errmsg *em);
void ps_plat_unlock(ps_plat_lockh handle); /* accepts PS_PLAT_LOCK_NONE */
/* Whether another process holds the lock ps_plat_lock takes on `path`: 1 yes, 0 no,
 * -1 cannot tell (no such file, no access). Creates nothing; when the lock is free
 * it holds it shared for an instant (ps_plat_lock waits out such an instant). */
int ps_plat_lock_probe(const char *path);

/* A file opened for appending: every write lands at its end, even when another
 * handle has written meanwhile. */
typedef struct ps_file ps_file;

/* One piece of a gathered write. */
typedef struct ps_iovec {
    const void *base;
    size_t len;
} ps_iovec;

/* Opens `path` for appending, creating it with `mode` when missing. *out belongs to
 * the caller until ps_plat_file_close. */
ps_err ps_plat_file_open_append(const char *path, unsigned mode, ps_file **out, ps_errmsg *em);
/* Writes every byte of iov[0..cnt) in order, resuming after short writes. Up to 1024
 * pieces go in one system call (POSIX writev), which the kernel keeps whole if the
 * process dies; power loss can still tear it. */
ps_err ps_plat_file_writev(ps_file *f, const ps_iovec *iov, size_t cnt, ps_errmsg *em);
/* Waits until what was written is on the disk (fsync). */
ps_err ps_plat_file_sync(ps_file *f, ps_errmsg *em);
void ps_plat_file_close(ps_file *f); /* accepts NULL */

/* The size of the file at `path` in bytes; PS_ERR_NOTFOUND when there is none. */
ps_err ps_plat_file_size(const char *path, uint64_t *out);

/* Deletes the file at `path`. PS_ERR_NOTFOUND when there is none. */
ps_err ps_plat_remove(const char *path, ps_errmsg *em);

/* Moves `from` to `to` in one step, replacing nothing: PS_ERR_EXISTS when `to`
 * exists. Both in one directory (one file system). */
ps_err ps_plat_rename_new(const char *from, const char *to, ps_errmsg *em);

/* Which file is at a path: device and inode (on Windows, volume serial and file
 * index), so that a file removed or replaced under its name is noticed. */
typedef struct ps_file_id {
    uint64_t dev, ino;
} ps_file_id;

/* Fills *out for the file at `path`; false when there is none. */
bool ps_plat_file_id(const char *path, ps_file_id *out);

/* Platform default locations, as static strings:
 * Linux /etc/podstream and /var/lib/podstream; Windows %ProgramData%\podstream and
 * %ProgramData%\podstream\data. */
const char *ps_plat_default_config_dir(void);
const char *ps_plat_default_state_dir(void);

/* The operating system and its version for a User-Agent, into buf (caller-owned,
 * always NUL-terminated): "Linux 6.1.0-27-amd64" from uname on POSIX, "Windows
 * 10.0.19045" from RtlGetVersion; "unknown" when it cannot be told. */
void ps_plat_os_name(char *buf, size_t len);

/* Wall clock in microseconds since the Unix epoch; monotonic clock in ms. */
int64_t ps_plat_now_us(void);
int64_t ps_plat_mono_ms(void);

/* Lowers the calling thread's CPU priority one notch (nice +5 on Linux; below
 * normal on Windows); other threads keep theirs. The streaming core has one
 * serial stage, the database writer: when the cores are busy it must not wait
 * behind the stages that feed it, or they only fill the queue in front of it. */
void ps_plat_thread_background(void);

/* Lowers the calling thread's CPU priority to the lowest there is, below the
 * stages ps_plat_thread_background lowers (nice 19 on Linux; lowest on Windows),
 * for work that may wait while ingest has a backlog: an output's delivery, whose
 * events stay in the store until it catches up. Other threads keep theirs. PS_OK,
 * doing nothing, where threads have no priority of their own (POSIX but Linux);
 * otherwise the OS call's failure, with detail in em (may be NULL). */
ps_err ps_plat_thread_lowest(ps_errmsg *em);

/* Keeps secrets in this process's memory (tokens, the shared key, redaction keys,
 * and the mail data read from the database) out of core dumps and away from other
 * processes of the same user: Linux PR_SET_DUMPABLE 0, which also stops ptrace
 * attach and /proc/<pid>/mem reads by non-root users. Skipped when the environment
 * variable PODSTREAM_ALLOW_CORE_DUMPS is "1" (debugging). Call first thing, before
 * any secret is read. True when dumps are now off; false when skipped, failed or
 * not supported (best effort: the caller goes on either way). */
bool ps_plat_secure_process(void);

/* Returns the allocator's free memory to the system where it can (glibc:
 * malloc_trim). Walks every heap: for after rare large allocations, not per event. */
void ps_plat_heap_trim(void);

/* Threads, mutexes and condition variables. The types are opaque so that no
 * pthread or Win32 type appears outside the platform layer; each is allocated by
 * its _create and released by its _destroy (or, for a thread, by its join). */
typedef struct ps_thread ps_thread;
typedef struct ps_mutex ps_mutex;
typedef struct ps_cond ps_cond;
typedef void *(*ps_thread_fn)(void *arg);

/* Starts `fn(arg)` on a new thread named `name` (at most 15 bytes are kept; the
 * name shows in top -H and debuggers). *out is owned by the caller until joined. */
ps_err ps_plat_thread_create(ps_thread **out, const char *name, ps_thread_fn fn, void *arg);
/* Waits for the thread to end, frees it and returns what its function returned.
 * Accepts NULL (returns NULL). */
void *ps_plat_thread_join(ps_thread *t);

/* A non-recursive mutex. */
ps_err ps_plat_mutex_create(ps_mutex **out);
void ps_plat_mutex_destroy(ps_mutex *m); /* accepts NULL; must be unlocked */
void ps_plat_mutex_lock(ps_mutex *m);
void ps_plat_mutex_unlock(ps_mutex *m);

/* A condition variable whose timed waits run on the monotonic clock
 * (ps_plat_mono_ms). A deadline read from one clock and waited on with another is
 * either long past (the wait turns into a busy loop) or far off, so every timed
 * wait in podstream takes a deadline from ps_plat_mono_ms. */
ps_err ps_plat_cond_create(ps_cond **out);
void ps_plat_cond_destroy(ps_cond *c); /* accepts NULL; no thread may be waiting */
/* Releases `m` (held by the caller) while waiting and holds it again on return. */
void ps_plat_cond_wait(ps_cond *c, ps_mutex *m);
/* As ps_plat_cond_wait, until ps_plat_mono_ms() reaches deadline_ms at the latest.
 * False when the deadline passed; wake-ups may be spurious either way. */
bool ps_plat_cond_wait_until(ps_cond *c, ps_mutex *m, int64_t deadline_ms);
void ps_plat_cond_signal(ps_cond *c);
void ps_plat_cond_broadcast(ps_cond *c);

/* A socket as the OS names it: a file descriptor on POSIX, a SOCKET on Windows.
 * Both are what libcurl's curl_socket_t is on that system. */
#ifdef _WIN32
typedef uintptr_t ps_socket;
#else
typedef int ps_socket;
#endif

/* Waits until `sock` is readable (want_read) or writable (want_write), for at most
 * timeout_ms (negative: no limit). PS_OK when it is ready, has failed or was hung up
 * (the next read or write says which), and when the wait was interrupted (callers
 * loop on their own deadline); PS_ERR_AGAIN when the time ran out. */
ps_err ps_plat_socket_wait(ps_socket sock, bool want_read, bool want_write, int timeout_ms);

/* Outputs' sockets (#16). Connects to host:port (a name or an address; each
 * address the name resolves to is tried) over TCP, or for `udp` makes a connected
 * UDP socket, within timeout_ms. The socket is non-blocking; *out belongs to the
 * caller until ps_plat_socket_close. PS_ERR_NET with the host and reason in em. */
ps_err ps_plat_socket_connect(const char *host, int port, bool udp, int timeout_ms, ps_socket *out,
                              ps_errmsg *em);
/* Sends up to len bytes; *sent says how many went (0 when the socket is full:
 * PS_ERR_AGAIN). PS_ERR_NET when the connection failed or was closed. */
ps_err ps_plat_socket_send(ps_socket sock, const void *buf, size_t len, size_t *sent,
                           ps_errmsg *em);
/* Reads up to len bytes into buf; *got 0 with PS_ERR_CLOSED at the peer's end,
 * PS_ERR_AGAIN when nothing is there yet. */
ps_err ps_plat_socket_recv(ps_socket sock, void *buf, size_t len, size_t *got, ps_errmsg *em);
void ps_plat_socket_close(ps_socket sock);
/* Bytes sent on a TCP socket that the peer has not acknowledged yet (Linux
 * SIOCOUTQ), so that a batch counts as delivered only once the receiver has it.
 * PS_ERR_UNSUPPORTED where the system cannot tell. */
ps_err ps_plat_socket_unacked(ps_socket sock, size_t *bytes);

/* Converts `len` bytes of text in `charset` (an IANA name such as "ISO-2022-JP")
 * to UTF-8 in a new NUL-terminated buffer (*out, caller frees; *outlen excludes
 * the NUL). PS_ERR_UNSUPPORTED when the system does not know the charset,
 * PS_ERR_PARSE when the bytes are not text in it, PS_ERR_NOMEM. On failure *out is
 * NULL. */
ps_err ps_plat_charset_to_utf8(const char *charset, const char *in, size_t len, char **out,
                               size_t *outlen);

/* The first occurrence of needle[0..nlen) in hay[0..hlen), or NULL (a pointer into
 * hay; hay itself when nlen is 0): glibc's memmem (a two-way search) on Linux, which
 * Windows' C runtime lacks. */
const void *ps_plat_memmem(const void *hay, size_t hlen, const void *needle, size_t nlen);

/* Requests from outside to stop or to reload: SIGTERM, SIGINT and SIGHUP on POSIX;
 * on Windows the console's Ctrl+C, Ctrl+Break and close, and the service control
 * manager's requests through ps_plat_signal_post. */
typedef enum ps_signal {
    PS_SIGNAL_NONE = 0, /* nothing arrived in time */
    PS_SIGNAL_STOP,     /* finish what is in hand and exit */
    PS_SIGNAL_RELOAD    /* read the configuration again */
} ps_signal;

/* Turns stop and reload requests from events that interrupt (and by default end)
 * the process into ones that wait for ps_plat_signal_wait. Call once from the main
 * thread before starting any other thread: threads inherit the setting. */
void ps_plat_signals_block(void);

/* Waits up to timeout_ms (negative: no limit) for a request blocked by
 * ps_plat_signals_block. *what (may be NULL) names its source, a static string such
 * as "SIGTERM", for the log; "" with PS_SIGNAL_NONE. */
ps_signal ps_plat_signal_wait(int timeout_ms, const char **what);

/* Delivers `sig` to this process as if it came from outside (POSIX: SIGTERM or
 * SIGHUP to itself), for a service control handler or a test. */
void ps_plat_signal_post(ps_signal sig);

/* Makes a write to a closed socket or pipe fail with an error instead of ending the
 * process (SIGPIPE on POSIX; nothing to do on Windows). */
void ps_plat_ignore_broken_pipe(void);

/* Reads one line from the terminal with echo off (prompt on stderr), or from stdin
 * when it is not a terminal. The trailing newline is removed. PS_ERR_RANGE when the
 * line does not fit in len-1 bytes. */
ps_err ps_plat_read_secret_line(const char *prompt, char *buf, size_t len, ps_errmsg *em);

/* True when standard input is a terminal (a person typing), false for a pipe or file. */
bool ps_plat_stdin_is_terminal(void);

/* Columns of the terminal that `stream` writes to; 0 when it is not a terminal. */
int ps_plat_terminal_columns(FILE *stream);

/* Local broken-down time (honours TZ) of Unix seconds, thread-safe. False when the
 * time cannot be represented. */
bool ps_plat_localtime(int64_t unix_s, struct tm *out);
/* UTC broken-down time of Unix seconds, thread-safe (gmtime_r; arithmetic on Windows,
 * whose runtime refuses times before 1970).
 * False when the time cannot be represented. */
bool ps_plat_gmtime(int64_t unix_s, struct tm *out);

/* Sleeps for ms milliseconds (nothing when ms <= 0); a signal may end it early. */
void ps_plat_sleep_ms(int64_t ms);

/* Service status reporting to the service manager that started the process:
 * systemd's notify protocol on Linux (no libsystemd needed), the service control
 * manager on Windows later. When no manager listens (a terminal, a test) every
 * call does nothing and returns false. Callable from any thread. */
typedef enum ps_svc_state {
    PS_SVC_STATUS,    /* only the status text changes */
    PS_SVC_READY,     /* started (the devices run), or a reload finished */
    PS_SVC_RELOADING, /* reading the configuration again; PS_SVC_READY follows */
    PS_SVC_STOPPING,  /* draining before the exit */
    PS_SVC_WATCHDOG   /* alive and making progress (see ps_plat_svc_watchdog_ms) */
} ps_svc_state;

/* Reports `state` with `status` (may be NULL; borrowed), a one-line summary that
 * `systemctl status` shows (newlines become spaces; cut at 200 bytes). True when
 * the manager was told. */
bool ps_plat_svc_notify(ps_svc_state state, const char *status);

/* The interval within which the manager wants a PS_SVC_WATCHDOG report, in ms
 * (systemd's WatchdogSec=, from $WATCHDOG_USEC); 0 when it wants none. Report at
 * half of it, and only while the work it guards makes progress: a ping from a
 * healthy thread beside a stuck one would keep a broken service alive. */
int64_t ps_plat_svc_watchdog_ms(void);

/* True when `stream` is the journal that the service manager connected to the
 * process ($JOURNAL_STREAM names its device and inode), so log lines should carry
 * <N> syslog priority prefixes instead of timestamps. */
bool ps_plat_stream_is_journal(FILE *stream);

/* Windows services. The service control manager (SCM) starts `podstream run` as a
 * service; on POSIX systemd runs it as an ordinary process, so these are no-ops or
 * PS_ERR_UNSUPPORTED there (packages and systemctl install and control the unit). */
typedef int (*ps_plat_svc_main_fn)(int argc, char **argv);

/* When the SCM started this process, runs fn(argc, argv) as the service `name`
 * (everything borrowed for the call): its stop, shutdown and preshutdown requests
 * become PS_SIGNAL_STOP and its parameter-change request PS_SIGNAL_RELOAD (through
 * ps_plat_signal_post), ps_plat_svc_notify reports to it (start pending with wait
 * hints, running, stop pending with checkpoints), and fn's return value becomes the
 * service's exit code. Returns true with *rc set once the service has stopped;
 * false at once when no SCM started the process (a console; always on POSIX): the
 * caller then calls fn itself. Call from the main thread before starting threads. */
bool ps_plat_svc_run(const char *name, ps_plat_svc_main_fn fn, int argc, char **argv, int *rc);

/* The directory for the service's own rotating log files, a static string:
 * %ProgramData%\podstream\logs while running under ps_plat_svc_run on Windows, where
 * no terminal or journal takes stderr; NULL otherwise. */
const char *ps_plat_svc_log_dir(void);

/* Records `text` (borrowed) in the system's event log as event `kind` (a
 * ps_log_event, ps_log.h) at `level` (a ps_log_level): on Windows the Application
 * log, source "podstream", while running under ps_plat_svc_run. False when nothing
 * was recorded (a console run, POSIX, where the journal has every line already). */
bool ps_plat_eventlog(int kind, int level, const char *text);

/* What `podstream service install` registers. All strings borrowed. */
typedef struct ps_plat_svc_spec {
    const char *name;         /* the service name: "podstream" */
    const char *display_name; /* what services.msc lists */
    const char *description;
    const char *config_dir; /* given to the service as `run -c DIR` */
} ps_plat_svc_spec;

/* Registers this program as a service that runs `run -c DIR` with delayed
 * automatic start, restart on failure (10 s, 60 s, 5 min; the count resets after a
 * day), a preshutdown drain, an unrestricted service SID, the account
 * NT SERVICE\<name> (LocalService when the system refuses virtual accounts), and an
 * Event Log source whose messages are in this program. *out (caller-owned) says what
 * was done. PS_ERR_EXISTS when the service exists, PS_ERR_PERM without
 * administrator rights; on failure nothing stays installed. */
typedef struct ps_plat_svc_installed {
    const char *account; /* static: the account the service runs as */
    char skipped[256];   /* settings this system does not know, "a, b"; "" when none */
} ps_plat_svc_installed;
ps_err ps_plat_svc_install(const ps_plat_svc_spec *spec, ps_plat_svc_installed *out, ps_errmsg *em);
/* Stops the service `name` (waiting up to timeout_ms), deletes it and its Event Log
 * source. PS_ERR_NOTFOUND when it is not installed. */
ps_err ps_plat_svc_uninstall(const char *name, int timeout_ms, ps_errmsg *em);
/* Starts or stops `name` and waits up to timeout_ms until it runs or has stopped:
 * PS_OK when it did (or already was), PS_ERR_TIMEOUT when still pending, PS_ERR_IO when
 * it stopped instead of starting (its exit code in em). */
ps_err ps_plat_svc_start(const char *name, int timeout_ms, ps_errmsg *em);
ps_err ps_plat_svc_stop(const char *name, int timeout_ms, ps_errmsg *em);
/* Asks the running service `name` to read its configuration again (the SCM's
 * PARAMCHANGE, which the service takes as PS_SIGNAL_RELOAD). PS_ERR_IO when it is
 * not running. */
ps_err ps_plat_svc_reload(const char *name, ps_errmsg *em);

/* What the SCM says about a service, for `podstream service status`. */
typedef struct ps_plat_svc_info {
    const char *state;  /* static: "stopped", "start pending", "running", ... */
    unsigned long pid;  /* 0 when not running */
    long exit_code;     /* the last exit: the service's own code or a Win32 error */
    char start[32];     /* "auto (delayed)", "auto", "manual", "disabled" */
    char account[160];  /* UTF-8 */
    char command[1024]; /* the binary path and its arguments, UTF-8 */
} ps_plat_svc_info;

/* Fills *out for `name` (caller-owned). PS_ERR_NOTFOUND when it is not installed. */
ps_err ps_plat_svc_query(const char *name, ps_plat_svc_info *out, ps_errmsg *em);

#endif
