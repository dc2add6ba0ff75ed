/* ps_event internals shared between ps_event.c and ps_event_rfc2047.c; not part of
 * the public contract, so nothing outside ps_event_*.c includes it. */
#ifndef PS_EVENT_INTERNAL_H
#define PS_EVENT_INTERNAL_H

#include <stddef.h>

/* Decodes the RFC 2047 encoded words of a header value s[0..len) (unfolding CRLF
 * + WSP first) into a new NUL-terminated UTF-8 string that the caller frees.
 * Encoded words that cannot be decoded stay as written; the result is always
 * valid UTF-8. NULL only when memory runs out. */
char *ps_event_rfc2047_decode(const char *s, size_t len);

#endif
