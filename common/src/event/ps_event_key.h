/* The natural key of an event: message guid, maillog id, audit id or a hash.
 * Internal to common/src/event; uses ps_event_fields for number text. */
#ifndef PS_EVENT_KEY_H
#define PS_EVENT_KEY_H

#include <stddef.h>

#include "podstream/ps_error.h"
#include "podstream/ps_event.h"

/* Computes the natural key of ev (ev->type and ev->root are read, ev->key is
 * read for audit events re-extracted after a pipeline) into *out, a new string the
 * caller frees. `raw` is the frame payload, or NULL after a pipeline. On failure
 * *out is unchanged and em names the reason ("no guid", "id is empty", ...). */
ps_err ps_event_extract_key(const ps_event *ev, const char *raw, size_t len, char **out,
                            ps_errmsg *em);

#endif
