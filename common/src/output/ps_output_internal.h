/* Internal to the output framework and its plugins. */
#ifndef PS_OUTPUT_INTERNAL_H
#define PS_OUTPUT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "podstream/ps_output.h"

/* For a plugin's option table: where a field lives in its options struct, and bounds. */
#define PSO_MEMBER(T, m)  .offset = offsetof(T, m), .size = sizeof(((T *)0)->m)
#define PSO_RANGE(lo, hi) .has_min = true, .min = (lo), .has_max = true, .max = (hi)
#define PSO_TABLE(tname, fields_)                                                                  \
    {                                                                                              \
        .name = (tname), .fields = (fields_), .count = sizeof(fields_) / sizeof((fields_)[0])      \
    }

/* ---- oversized events (ps_output_oversize.c) ---- */

/* A copy of the event JSON of at most `max` bytes, valid JSON, with
 * "podstreamTruncated": true and "podstreamOriginalBytes": len; the largest values
 * give way first, each replaced by a note of its size. *out: new string, free(). */
ps_err pso_truncate(const char *json, size_t len, size_t max, char **out);

/* The parts of a message event split by msgParts: part i is the event without
 * msgParts, then "msgParts": [part i] and "podstreamPart": {"index", "count"}; a
 * part still over `max` is truncated as above (and `truncated` set). */
typedef struct pso_parts {
    char **json; /* count new strings */
    size_t count;
    bool truncated;
} pso_parts;

/* PS_ERR_UNSUPPORTED when the event has fewer than two msgParts (truncate it
 * instead); PS_ERR_NOMEM. */
ps_err pso_split(const char *json, size_t len, size_t max, pso_parts *out);
void pso_parts_free(pso_parts *p);

#endif
