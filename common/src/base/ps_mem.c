#include "podstream/ps_mem.h"

#include <stdlib.h>

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
