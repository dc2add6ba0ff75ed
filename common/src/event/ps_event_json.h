/* JSON helpers of ps_event: the parser the workers use, why a payload is not JSON,
 * and JSON's whitespace. Internal to common/src/event. */
#ifndef PS_EVENT_JSON_H
#define PS_EVENT_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "podstream/ps_error.h"

/* Parses s[0..len) into the tree cJSON_ParseWithLengthOpts(s, len, end, 0) would
 * build, or NULL where it fails (a bad text or no memory). The caller owns the tree
 * (cJSON_Delete, or ps_event_tree_free); its blocks come from the thread's arena
 * inside ps_event_arena_parse_begin/end. *end (if not NULL) is set past the value
 * on success, trailing whitespace not skipped. */
cJSON *ps_event_json_parse(const char *s, size_t len, const char **end);

/* True for the four whitespace bytes of RFC 8259. */
bool ps_event_json_ws(char c);

/* Explains why cJSON refused raw[skip..len) (skip: a byte order mark) and returns
 * the code: PS_ERR_PARSE with "empty payload", "JSON truncated at byte N", "JSON
 * nested deeper than <CJSON_NESTING_LIMIT> levels at byte N" or "not valid JSON near byte N" in em
 * (offsets count from raw), or PS_ERR_NOMEM when the text is valid JSON after all.
 * Call it only after a failed parse: it scans the whole payload again. */
ps_err ps_event_json_failure(const char *raw, size_t len, size_t skip, ps_errmsg *em);

#endif
