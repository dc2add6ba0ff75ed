/* Service status reporting on POSIX: systemd's notify protocol, written directly
 * so that podstream needs no libsystemd (one datagram of KEY=VALUE lines to the
 * socket named by $NOTIFY_SOCKET), and the check that standard error is the
 * journal ($JOURNAL_STREAM). */
#include "podstream/ps_platform.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* systemd truncates STATUS= in `systemctl status` long before this. */
#define STATUS_MAX 200

/* Sends `msg` as one datagram to $NOTIFY_SOCKET: a path, or with a leading '@' an
 * abstract socket name. */
static bool notify_send(const char *msg)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa;
    size_t plen;
    socklen_t salen;
    ssize_t sent;
    int fd;

    if (!path || (path[0] != '/' && path[0] != '@'))
        return false;
    plen = strlen(path);
    if (plen >= sizeof sa.sun_path)
        return false;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, plen);
    if (path[0] == '@')
        sa.sun_path[0] = '\0'; /* abstract: the length, not a NUL, ends the name */
    else
        plen++;
    salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    do
        sent = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (const struct sockaddr *)&sa, salen);
    while (sent < 0 && errno == EINTR);
    close(fd);
    return sent == (ssize_t)strlen(msg);
}

/* Appends "STATUS=<text>\n" with the text cut to one line of at most STATUS_MAX. */
static void append_status(char *buf, size_t size, const char *status)
{
    size_t n = strlen(buf);
    if (!status || n + 8 >= size)
        return;
    n += (size_t)snprintf(buf + n, size - n, "STATUS=");
    for (size_t i = 0; i < STATUS_MAX && status[i] && n + 2 < size; i++)
        buf[n++] = (status[i] == '\n' || status[i] == '\r') ? ' ' : status[i];
    buf[n++] = '\n';
    buf[n] = '\0';
}

bool ps_plat_svc_notify(ps_svc_state state, const char *status)
{
    char msg[STATUS_MAX + 128] = "";
    struct timespec ts;

    switch (state) {
    case PS_SVC_STATUS:
        break;
    case PS_SVC_READY:
        snprintf(msg, sizeof msg, "READY=1\n");
        break;
    case PS_SVC_RELOADING:
        /* systemd 253 and later match a reload by this timestamp; older ones ignore it. */
        clock_gettime(CLOCK_MONOTONIC, &ts);
        snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%lld\n",
                 (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
        break;
    case PS_SVC_STOPPING:
        snprintf(msg, sizeof msg, "STOPPING=1\n");
        break;
    case PS_SVC_WATCHDOG:
        snprintf(msg, sizeof msg, "WATCHDOG=1\n");
        break;
    }
    append_status(msg, sizeof msg, status);
    return msg[0] && notify_send(msg);
}

int64_t ps_plat_svc_watchdog_ms(void)
{
    const char *usec = getenv("WATCHDOG_USEC");
    const char *pid = getenv("WATCHDOG_PID");
    char *end;
    unsigned long long v;

    if (!usec || !*usec || !getenv("NOTIFY_SOCKET"))
        return 0;
    /* A watchdog meant for another process (our parent's) is not ours to feed. */
    if (pid && *pid && strtoll(pid, NULL, 10) != (long long)getpid())
        return 0;
    errno = 0;
    v = strtoull(usec, &end, 10);
    if (errno || *end || v == 0)
        return 0;
    return v < 1000 ? 1 : (int64_t)(v / 1000);
}

bool ps_plat_stream_is_journal(FILE *stream)
{
    const char *js = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    int fd;

    if (!js || !stream || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
        return false;
    fd = fileno(stream);
    if (fd < 0 || fstat(fd, &st) != 0)
        return false;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}
