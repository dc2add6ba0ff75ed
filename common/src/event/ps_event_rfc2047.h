/* RFC 2047 encoded words in header values (the message subject). Internal to
 * common/src/event; depends on nothing else there. */
#ifndef PS_EVENT_RFC2047_H
#define PS_EVENT_RFC2047_H

#include <stddef.h>

/* Decodes the RFC 2047 encoded words of a header value s[0..len) (unfolding CRLF
 * + WSP first) into a new NUL-terminated UTF-8 string that the caller frees.
 * Encoded words that cannot be decoded stay as written; the result is always
 * valid UTF-8. NULL only when memory runs out. */
char *ps_event_rfc2047_decode(const char *s, size_t len);

#endif
