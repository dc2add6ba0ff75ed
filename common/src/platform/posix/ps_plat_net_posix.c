/* Sockets on POSIX: readiness waits with poll(2). */
#include "podstream/ps_platform.h"

#include <poll.h>

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
