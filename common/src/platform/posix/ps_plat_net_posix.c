/* Sockets on POSIX: readiness waits with poll(2); the outputs' connections. */
#include "podstream/ps_platform.h"
#include "platform/ps_plat_internal.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#ifdef __linux__
#include <linux/sockios.h>
#endif
#include <unistd.h>

ps_err ps_plat_socket_wait(ps_socket sock, bool want_read, bool want_write, int timeout_ms)
{
    struct pollfd pfd = {.fd = sock, .events = 0};

    if (want_read)
        pfd.events |= POLLIN;
    if (want_write)
        pfd.events |= POLLOUT;
    /* An error (EINTR included) is not a timeout: the caller's next read reports a
     * real failure, and its own deadline bounds the loop. */
    return poll(&pfd, 1, timeout_ms < 0 ? -1 : timeout_ms) == 0 ? PS_ERR_AGAIN : PS_OK;
}

/* ---- outputs' sockets ------------------------------------------------------------ */

static ps_err connect_one(const struct addrinfo *ai, int64_t deadline_ms, int *out, char *why,
                          size_t whylen)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (fd < 0) {
        snprintf(why, whylen, "%s", strerror(errno));
        return PS_ERR_NET;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
        snprintf(why, whylen, "%s", strerror(errno));
        close(fd);
        return PS_ERR_NET;
    }
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        int64_t left = deadline_ms - ps_plat_mono_ms();
        if (left <= 0) {
            snprintf(why, whylen, "timed out");
            close(fd);
            return PS_ERR_TIMEOUT;
        }
        int rc = poll(&pfd, 1, (int)left);
        if (rc > 0)
            break;
        if (rc < 0 && errno != EINTR) {
            snprintf(why, whylen, "%s", strerror(errno));
            close(fd);
            return PS_ERR_NET;
        }
    }
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0) {
        snprintf(why, whylen, "%s", strerror(soerr ? soerr : errno));
        close(fd);
        return PS_ERR_NET;
    }
    *out = fd;
    return PS_OK;
}

ps_err ps_plat_socket_connect(const char *host, int port, bool udp, int timeout_ms, ps_socket *out,
                              ps_errmsg *em)
{
    return ps_plat_connect_any(host, port, udp, timeout_ms, connect_one, out, em);
}

ps_err ps_plat_socket_send(ps_socket sock, const void *buf, size_t len, size_t *sent, ps_errmsg *em)
{
    ssize_t n = send(sock, buf, len, MSG_NOSIGNAL);
    *sent = 0;
    if (n >= 0) {
        *sent = (size_t)n;
        return PS_OK;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return PS_ERR_AGAIN;
    return ps_errmsg_set(em, PS_ERR_NET, "sending: %s", strerror(errno));
}

ps_err ps_plat_socket_recv(ps_socket sock, void *buf, size_t len, size_t *got, ps_errmsg *em)
{
    ssize_t n = recv(sock, buf, len, 0);
    *got = 0;
    if (n > 0) {
        *got = (size_t)n;
        return PS_OK;
    }
    if (n == 0)
        return ps_errmsg_set(em, PS_ERR_CLOSED, "the connection was closed by the peer");
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return PS_ERR_AGAIN;
    return ps_errmsg_set(em, PS_ERR_NET, "receiving: %s", strerror(errno));
}

void ps_plat_socket_close(ps_socket sock)
{
    if (sock >= 0)
        close(sock);
}

ps_err ps_plat_socket_unacked(ps_socket sock, size_t *bytes)
{
#ifdef SIOCOUTQ
    int n = 0;
    *bytes = 0;
    if (ioctl(sock, SIOCOUTQ, &n) != 0)
        return PS_ERR_NET;
    *bytes = n > 0 ? (size_t)n : 0;
    return PS_OK;
#else
    (void)sock;
    *bytes = 0;
    return PS_ERR_UNSUPPORTED;
#endif
}
