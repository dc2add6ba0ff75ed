/* The platform layer's portable helpers, built on every system (see
 * ps_plat_internal.h). Name resolution is the one place that needs a system
 * header: the same getaddrinfo(3) is in <netdb.h> on POSIX and <ws2tcpip.h> on
 * Windows. */
#include "platform/ps_plat_internal.h"

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool ps_plat_has_suffix(const char *name, const char *const *suffixes)
{
    size_t n = strlen(name);
    for (; *suffixes; suffixes++) {
        size_t s = strlen(*suffixes);
        if (n > s && strcmp(name + n - s, *suffixes) == 0)
            return true;
    }
    return false;
}

void ps_plat_free_list(char **names, size_t count)
{
    if (!names)
        return;
    for (size_t i = 0; i < count; i++)
        free(names[i]);
    free(names);
}

int ps_plat_cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char *ps_plat_join_raw(const char *a, size_t la, char sep, const char *b)
{
    size_t lb = strlen(b);
    char *r = malloc(la + lb + 2);
    if (!r)
        return NULL;
    memcpy(r, a, la);
    if (sep)
        r[la++] = sep;
    memcpy(r + la, b, lb + 1);
    return r;
}

ps_err ps_plat_connect_any(const char *host, int port, bool udp, int timeout_ms,
                           ps_plat_connect_one_fn one, ps_socket *out, ps_errmsg *em)
{
    struct addrinfo hints, *res = NULL;
    char svc[16], why[256] = "no address";
    int64_t deadline = ps_plat_mono_ms() + timeout_ms;
    ps_err err = PS_ERR_NET;
    int rc;

    *out = (ps_socket)-1; /* -1 on POSIX, INVALID_SOCKET on Windows */
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = udp ? SOCK_DGRAM : SOCK_STREAM;
    snprintf(svc, sizeof svc, "%d", port);
    if ((rc = getaddrinfo(host, svc, &hints, &res)) != 0)
        return ps_errmsg_set(em, PS_ERR_NET, "%s: cannot resolve: %s", host, gai_strerror(rc));
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        ps_socket s = (ps_socket)-1;
        if ((err = one(ai, deadline, &s, why, sizeof why)) == PS_OK) {
            if (!udp) {
                int on = 1; /* Winsock's BOOL is an int too */
                (void)setsockopt(s, IPPROTO_TCP, TCP_NODELAY, (const char *)&on, sizeof on);
            }
            *out = s;
            break;
        }
    }
    freeaddrinfo(res);
    if (err != PS_OK)
        return ps_errmsg_set(em, err, "cannot connect to %s:%d: %s", host, port, why);
    return PS_OK;
}
