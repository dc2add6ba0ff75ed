/* Internal to the output framework and its plugins. */
#ifndef PS_OUTPUT_INTERNAL_H
#define PS_OUTPUT_INTERNAL_H

#include <stddef.h>

#include "podstream/ps_output.h"

/* For a plugin's option table: where a field lives in its options struct, and bounds. */
#define PSO_MEMBER(T, m)  .offset = offsetof(T, m), .size = sizeof(((T *)0)->m)
#define PSO_RANGE(lo, hi) .has_min = true, .min = (lo), .has_max = true, .max = (hi)
#define PSO_TABLE(tname, fields_)                                                                  \
    {                                                                                              \
        .name = (tname), .fields = (fields_), .count = sizeof(fields_) / sizeof((fields_)[0])      \
    }

#endif
