/* The typed fields of an event, and the text of a JSON number. Internal to
 * common/src/event; uses ps_event_json and ps_event_rfc2047. */
#ifndef PS_EVENT_FIELDS_H
#define PS_EVENT_FIELDS_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "podstream/ps_error.h"
#include "podstream/ps_event.h"

/* 2^53: above it doubles no longer hold every integer. */
#define PS_EVENT_EXACT_INT_MAX 9007199254740992.0

/* What ps_event_extract_fields finds; the texts are owned by whoever holds it. */
typedef struct ps_event_fields {
    char *text[PS_EF__COUNT];
    double spam_score;
    bool has_spam_score;
    int64_t size_bytes;
    bool has_size;
} ps_event_fields;

/* Text of number v: integers plainly (ids and sizes come as numbers at times),
 * other values as cJSON writes them (shortest round-trip form, always with '.'
 * whatever LC_NUMERIC says). A new string the caller frees; NULL when memory runs
 * out. */
char *ps_event_number_text(const cJSON *v);

/* Fills f (zeroed by the caller) with the typed fields of a `type` event `root`
 * (borrowed, only read). Texts are new strings that the
 * caller frees, also after a failure, which is only PS_ERR_NOMEM. */
ps_err ps_event_extract_fields(ps_data_type type, const cJSON *root, ps_event_fields *f);

#endif
