/* Sockets on Windows: readiness waits with WSAPoll, the poll(2) of Winsock. */
#include <winsock2.h>

#include "platform/win32/ps_plat_win32.h"

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
