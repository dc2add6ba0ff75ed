#include "podstream/ps_mem.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ps_err ps_mem_reserve(void **buf, size_t *cap, size_t need)
{
    void *p;
    if (*buf && *cap >= need)
        return PS_OK;
    p = realloc(*buf, need ? need : 1);
    if (!p)
        return PS_ERR_NOMEM;
    *buf = p;
    *cap = need;
    return PS_OK;
}

ps_err ps_mem_grow_array(void **arr, size_t *cap, size_t used, size_t size)
{
    void *p;
    size_t ncap;
    if (*arr && used < *cap)
        return PS_OK;
    ncap = *cap ? *cap * 2 : 8;
    p = realloc(*arr, ncap * size);
    if (!p)
        return PS_ERR_NOMEM;
    *arr = p;
    *cap = ncap;
    return PS_OK;
}

void ps_buf_init(ps_buf *b)
{
    b->p = NULL;
    b->len = 0;
    b->cap = 0;
}

void ps_buf_deinit(ps_buf *b)
{
    free(b->p);
    ps_buf_init(b);
}

ps_err ps_buf_reserve(ps_buf *b, size_t extra)
{
    size_t ncap = b->cap ? b->cap : 64;
    char *p;
    if (b->cap - b->len > extra)
        return PS_OK;
    if (extra >= SIZE_MAX - b->len)
        return PS_ERR_NOMEM;
    while (ncap - b->len <= extra) {
        if (ncap > SIZE_MAX / 2)
            return PS_ERR_NOMEM;
        ncap *= 2;
    }
    p = realloc(b->p, ncap);
    if (!p)
        return PS_ERR_NOMEM;
    if (!b->p)
        p[0] = '\0'; /* a fresh block holds the empty string, as the contract says */
    b->p = p;
    b->cap = ncap;
    return PS_OK;
}

ps_err ps_buf_appendf(ps_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    ps_err err;
    char probe[256];

    /* One vsnprintf into spare room (or a stack probe) usually suffices. */
    va_start(ap, fmt);
    if (b->cap - b->len > sizeof probe)
        n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    else
        n = vsnprintf(probe, sizeof probe, fmt, ap);
    va_end(ap);
    if (n < 0) {
        if (b->p)
            b->p[b->len] = '\0';
        return PS_ERR_INTERNAL; /* an encoding error: no text to append */
    }
    if (b->cap - b->len > (size_t)n) {
        if (b->cap - b->len <= sizeof probe)
            memcpy(b->p + b->len, probe, (size_t)n + 1);
        b->len += (size_t)n;
        return PS_OK;
    }
    err = ps_buf_reserve(b, (size_t)n);
    if (err != PS_OK) {
        if (b->p)
            b->p[b->len] = '\0'; /* a too-short vsnprintf may have written past len */
        return err;
    }
    va_start(ap, fmt);
    (void)vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return PS_OK;
}

char *ps_buf_take(ps_buf *b, size_t *len)
{
    char *p;
    if (!b->p && ps_buf_reserve(b, 0) != PS_OK)
        return NULL;
    p = b->p;
    if (len)
        *len = b->len;
    ps_buf_init(b);
    return p;
}
