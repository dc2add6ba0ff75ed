/* ps_mem: growing caller-owned buffers and arrays.
 *
 * The two ways podstream grows memory, written once: a scratch buffer that is
 * reused and only ever grows to the size asked, and an array that doubles as
 * elements are appended. On failure nothing changes and the old block is kept. */
#ifndef PS_MEM_H
#define PS_MEM_H

#include <stddef.h>

#include "ps_error.h"

/* Makes *buf (capacity *cap bytes, may be NULL) hold at least `need` bytes,
 * reallocating to exactly `need` when it is smaller. The caller owns *buf.
 * PS_ERR_NOMEM when that fails. */
ps_err ps_mem_reserve(void **buf, size_t *cap, size_t need);

/* Makes room for element `used` of an array of `size`-byte elements (*arr may be
 * NULL), doubling the capacity (*cap elements, 8 at first). The caller owns *arr.
 * PS_ERR_NOMEM when that fails. */
ps_err ps_mem_grow_array(void **arr, size_t *cap, size_t used, size_t size);

#endif
