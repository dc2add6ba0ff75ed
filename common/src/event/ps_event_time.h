/* The `ts` member of an event; the ISO 8601 grammar itself is ps_time's
 * (ps_time_parse_iso). Internal to common/src/event; depends on nothing else there. */
#ifndef PS_EVENT_TIME_H
#define PS_EVENT_TIME_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "podstream/ps_error.h"

/* Reads root's "ts" (borrowed, only read) into *ts as UTC microseconds. On failure
 * returns PS_ERR_PARSE with the quarantine reason in em ("no ts", "ts is not a
 * string", or "ts is not ISO 8601: \"...\"" quoting the start of the value) and
 * leaves *ts alone. */
ps_err ps_event_extract_ts(const cJSON *root, int64_t *ts, ps_errmsg *em);

#endif
