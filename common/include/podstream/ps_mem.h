/* ps_mem: growing caller-owned buffers and arrays.
 *
 * The three ways podstream grows memory, written once: a scratch buffer that is
 * reused and only ever grows to the size asked, an array that doubles as
 * elements are appended, and a byte buffer (ps_buf) that text is built in. On
 * failure nothing changes and the old block is kept. */
#ifndef PS_MEM_H
#define PS_MEM_H

#include <stddef.h>
#include <string.h>

#include "ps_compiler.h"
#include "ps_error.h"

/* Makes *buf (capacity *cap bytes, may be NULL) hold at least `need` bytes,
 * reallocating to exactly `need` when it is smaller. The caller owns *buf.
 * PS_ERR_NOMEM when that fails. */
ps_err ps_mem_reserve(void **buf, size_t *cap, size_t need);

/* Makes room for element `used` of an array of `size`-byte elements (*arr may be
 * NULL), doubling the capacity (*cap elements, 8 at first). The caller owns *arr.
 * PS_ERR_NOMEM when that fails. */
ps_err ps_mem_grow_array(void **arr, size_t *cap, size_t used, size_t size);

/* A growable byte buffer, caller-owned (the struct lives where the caller puts
 * it; the bytes at p belong to the buffer until ps_buf_take or ps_buf_deinit).
 * p is NULL until the first append; after any successful append p[len] == '\0'.
 * Capacity doubles (64 bytes at first), so appends are amortised O(1). Every
 * function that fails returns PS_ERR_NOMEM and leaves the buffer unchanged. */
typedef struct ps_buf {
    char *p;
    size_t len, cap;
} ps_buf;

/* Makes *b empty without allocating. A zeroed ps_buf is already initialised. */
void ps_buf_init(ps_buf *b);

/* Frees the bytes *b owns and makes it empty; accepts an initialised, zeroed or
 * already deinitialised buffer. *b itself stays the caller's. */
void ps_buf_deinit(ps_buf *b);

/* Makes room for `extra` more bytes plus the terminating NUL, so that
 * b->p + b->len may be written up to b->cap - b->len - 1 bytes. Does not change
 * len. */
ps_err ps_buf_reserve(ps_buf *b, size_t extra);

/* Appends n bytes copied from data (may be NULL when n is 0). */
static inline ps_err ps_buf_append(ps_buf *b, const void *data, size_t n)
{
    /* Fast path without a call: the room is there, as it nearly always is. */
    if (!b->p || b->cap - b->len <= n) {
        ps_err err = ps_buf_reserve(b, n);
        if (err != PS_OK)
            return err;
    }
    if (n)
        memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return PS_OK;
}

/* Appends one byte. */
static inline ps_err ps_buf_putc(ps_buf *b, char c)
{
    if (!b->p || b->cap - b->len <= 1) {
        ps_err err = ps_buf_reserve(b, 1);
        if (err != PS_OK)
            return err;
    }
    b->p[b->len++] = c;
    b->p[b->len] = '\0';
    return PS_OK;
}

/* Appends printf-style formatted text. PS_ERR_INTERNAL (buffer unchanged) when
 * vsnprintf cannot render the format. */
ps_err ps_buf_appendf(ps_buf *b, const char *fmt, ...) PS_PRINTF(2, 3);

/* Hands the bytes to the caller, who frees them with free(): a NUL-terminated
 * block of b->len bytes (an empty string when nothing was appended), its length
 * in *len when len is not NULL. *b is then empty and may be reused. NULL (and *b
 * unchanged) only when an empty buffer cannot allocate its one byte. */
char *ps_buf_take(ps_buf *b, size_t *len);

#endif
