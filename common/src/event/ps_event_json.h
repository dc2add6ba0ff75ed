/* JSON helpers of ps_event: why a payload is not JSON, and JSON's whitespace.
 * Internal to common/src/event; depends on nothing else there. */
#ifndef PS_EVENT_JSON_H
#define PS_EVENT_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "podstream/ps_error.h"

/* True for the four whitespace bytes of RFC 8259. */
bool ps_event_json_ws(char c);

/* Explains why cJSON refused raw[skip..len) (skip: a byte order mark) and returns
 * the code: PS_ERR_PARSE with "empty payload", "JSON truncated at byte N", "JSON
 * nested deeper than <CJSON_NESTING_LIMIT> levels at byte N" or "not valid JSON near byte N" in em
 * (offsets count from raw), or PS_ERR_NOMEM when the text is valid JSON after all.
 * Call it only after a failed parse: it scans the whole payload again. */
ps_err ps_event_json_failure(const char *raw, size_t len, size_t skip, ps_errmsg *em);

#endif
