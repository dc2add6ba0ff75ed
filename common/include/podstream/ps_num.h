/* ps_num: reading whole numbers out of text, the one copy that sizes, durations,
 * ports and times share. */
#ifndef PS_NUM_H
#define PS_NUM_H

#include <stdint.h>

/* Reads the decimal digits at the start of `s` into *out. Returns where the digits
 * end, or NULL when there is no digit or the number overflows uint64_t (*out is
 * then unchanged). Signs and spaces are not digits. */
const char *ps_num_read_u64(const char *s, uint64_t *out);

#endif
