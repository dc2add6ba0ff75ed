/* What posix/ and win32/ share: portable helpers of the platform layer, so that
 * each system's files hold only what differs. Internal to common/src/platform/. */
#ifndef PS_PLAT_INTERNAL_H
#define PS_PLAT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "podstream/ps_platform.h"

/* True when `name` is longer than, and ends in, one of the NULL-terminated
 * `suffixes` (what ps_plat_list_dir keeps). */
bool ps_plat_has_suffix(const char *name, const char *const *suffixes);
/* qsort comparator for an array of char *: byte order, as strcmp. */
int ps_plat_cmp_names(const void *a, const void *b);
/* A new string (caller frees): a[0..la), then `sep` unless it is '\0', then b.
 * NULL on allocation failure. */
char *ps_plat_join_raw(const char *a, size_t la, char sep, const char *b);

struct addrinfo;
/* Tries one address: a socket connected (or, for UDP, associated) before
 * deadline_ms into *out, else PS_ERR_NET or PS_ERR_TIMEOUT with the reason in why
 * (caller-owned, whylen bytes). */
typedef ps_err (*ps_plat_connect_one_fn)(const struct addrinfo *ai, int64_t deadline_ms,
                                         ps_socket *out, char *why, size_t whylen);
/* ps_plat_socket_connect's common part: resolves host:port, tries each address with
 * `one` until one connects, sets TCP_NODELAY on a TCP socket. Messages as that
 * function's contract says. */
ps_err ps_plat_connect_any(const char *host, int port, bool udp, int timeout_ms,
                           ps_plat_connect_one_fn one, ps_socket *out, ps_errmsg *em);

#endif
