/* Sockets on Windows: readiness waits with WSAPoll, the poll(2) of Winsock, and the
 * outputs' connections. */
#include <winsock2.h>
#include <ws2tcpip.h>

#include "platform/ps_plat_internal.h"
#include "platform/win32/ps_plat_win32.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

ps_err ps_plat_socket_wait(ps_socket sock, bool want_read, bool want_write, int timeout_ms)
{
    WSAPOLLFD pfd = {.fd = (SOCKET)sock, .events = 0, .revents = 0};

    if (want_read)
        pfd.events |= POLLRDNORM;
    if (want_write)
        pfd.events |= POLLWRNORM;
    /* An error is not a timeout: the caller's next read or write reports a real
     * failure, and its own deadline bounds the loop. */
    return WSAPoll(&pfd, 1, timeout_ms < 0 ? -1 : timeout_ms) == 0 ? PS_ERR_AGAIN : PS_OK;
}

static BOOL CALLBACK winsock_init(PINIT_ONCE once, PVOID param, PVOID *ctx)
{
    WSADATA wd;
    (void)once, (void)param, (void)ctx;
    /* Counted by Winsock: libcurl's own WSAStartup does not conflict. Never undone,
     * as the process keeps using sockets until it exits. */
    return WSAStartup(MAKEWORD(2, 2), &wd) == 0;
}

static INIT_ONCE winsock_once = INIT_ONCE_STATIC_INIT;

/* The text of Winsock error `e` into why. */
static void wsa_why(int e, char *why, size_t len)
{
    ps_w32_strerror((DWORD)e, why, len);
}

/* Waits until the non-blocking connect on `s` finished or the deadline passed. */
static ps_err connect_wait(SOCKET s, int64_t deadline_ms, char *why, size_t whylen)
{
    int soerr = 0, sl = (int)sizeof soerr;
    for (;;) {
        WSAPOLLFD pfd = {.fd = s, .events = POLLWRNORM, .revents = 0};
        int64_t left = deadline_ms - ps_plat_mono_ms();
        int rc;
        if (left <= 0) {
            snprintf(why, whylen, "timed out");
            return PS_ERR_TIMEOUT;
        }
        rc = WSAPoll(&pfd, 1, (int)left);
        if (rc > 0)
            break;
        if (rc < 0) {
            wsa_why(WSAGetLastError(), why, whylen);
            return PS_ERR_NET;
        }
    }
    /* A refused connect shows as POLLERR/POLLHUP; SO_ERROR says why. */
    if (getsockopt(s, SOL_SOCKET, SO_ERROR, (char *)&soerr, &sl) != 0 || soerr != 0) {
        wsa_why(soerr ? soerr : WSAGetLastError(), why, whylen);
        return PS_ERR_NET;
    }
    return PS_OK;
}

static ps_err connect_one(const struct addrinfo *ai, int64_t deadline_ms, SOCKET *out, char *why,
                          size_t whylen)
{
    SOCKET s = WSASocketW(ai->ai_family, ai->ai_socktype, ai->ai_protocol, NULL, 0,
                          WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
    u_long nonblocking = 1;
    ps_err err;

    if (s == INVALID_SOCKET) {
        wsa_why(WSAGetLastError(), why, whylen);
        return PS_ERR_NET;
    }
    if (ioctlsocket(s, (long)FIONBIO, &nonblocking) != 0 ||
        (connect(s, ai->ai_addr, (int)ai->ai_addrlen) != 0 &&
         WSAGetLastError() != WSAEWOULDBLOCK)) {
        wsa_why(WSAGetLastError(), why, whylen);
        closesocket(s);
        return PS_ERR_NET;
    }
    if ((err = connect_wait(s, deadline_ms, why, whylen)) != PS_OK) {
        closesocket(s);
        return err;
    }
    *out = s;
    return PS_OK;
}

/* ps_plat_connect_one_fn: ps_socket is Winsock's SOCKET in an integer. */
static ps_err connect_one_sock(const struct addrinfo *ai, int64_t deadline_ms, ps_socket *out,
                               char *why, size_t whylen)
{
    SOCKET s = INVALID_SOCKET;
    ps_err err = connect_one(ai, deadline_ms, &s, why, whylen);
    *out = (ps_socket)s;
    return err;
}

ps_err ps_plat_socket_connect(const char *host, int port, bool udp, int timeout_ms, ps_socket *out,
                              ps_errmsg *em)
{
    *out = (ps_socket)INVALID_SOCKET;
    if (!InitOnceExecuteOnce(&winsock_once, winsock_init, NULL, NULL))
        return ps_errmsg_set(em, PS_ERR_NET, "cannot start Winsock");
    return ps_plat_connect_any(host, port, udp, timeout_ms, connect_one_sock, out, em);
}

ps_err ps_plat_socket_send(ps_socket sock, const void *buf, size_t len, size_t *sent, ps_errmsg *em)
{
    /* No SIGPIPE on Windows: a closed connection is an error here. */
    int n = send((SOCKET)sock, buf, len > INT_MAX ? INT_MAX : (int)len, 0);
    char why[160];
    *sent = 0;
    if (n >= 0) {
        *sent = (size_t)n;
        return PS_OK;
    }
    if (WSAGetLastError() == WSAEWOULDBLOCK || WSAGetLastError() == WSAEINTR)
        return PS_ERR_AGAIN;
    wsa_why(WSAGetLastError(), why, sizeof why);
    return ps_errmsg_set(em, PS_ERR_NET, "sending: %s", why);
}

ps_err ps_plat_socket_recv(ps_socket sock, void *buf, size_t len, size_t *got, ps_errmsg *em)
{
    int n = recv((SOCKET)sock, buf, len > INT_MAX ? INT_MAX : (int)len, 0);
    char why[160];
    *got = 0;
    if (n > 0) {
        *got = (size_t)n;
        return PS_OK;
    }
    if (n == 0)
        return ps_errmsg_set(em, PS_ERR_CLOSED, "the connection was closed by the peer");
    if (WSAGetLastError() == WSAEWOULDBLOCK || WSAGetLastError() == WSAEINTR)
        return PS_ERR_AGAIN;
    wsa_why(WSAGetLastError(), why, sizeof why);
    return ps_errmsg_set(em, PS_ERR_NET, "receiving: %s", why);
}

void ps_plat_socket_close(ps_socket sock)
{
    if ((SOCKET)sock != INVALID_SOCKET)
        closesocket((SOCKET)sock);
}

ps_err ps_plat_socket_unacked(ps_socket sock, size_t *bytes)
{
    /* Winsock has no SIOCOUTQ: SIO_TCP_INFO's BytesInFlight leaves out what still
     * waits in the send buffer, so it would call a batch delivered too early. The
     * contract's "cannot tell" is the honest answer. */
    (void)sock;
    *bytes = 0;
    return PS_ERR_UNSUPPORTED;
}
