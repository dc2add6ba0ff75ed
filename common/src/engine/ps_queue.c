#include "engine/ps_queue.h"

#include <stdbool.h>
#include <stdlib.h>

#include "podstream/ps_platform.h"

struct ps_queue {
    ps_mutex *mu;
    ps_cond *cv;
    void **ring;
    size_t cap, head, len;
    bool closed;
    /* Wake-ups are the cost of a queue: a popper waiting for a first item is woken
     * by the next push; one gathering a batch only when the batch is full. */
    size_t waiting_first;
    size_t linger_want; /* largest batch a lingering popper still waits for; 0: none */
};

ps_err ps_queue_create(ps_queue **out)
{
    ps_queue *q = calloc(1, sizeof *q);
    *out = NULL;
    if (!q)
        return PS_ERR_NOMEM;
    q->cap = 1024;
    q->ring = malloc(q->cap * sizeof *q->ring);
    if (!q->ring) {
        free(q);
        return PS_ERR_NOMEM;
    }
    if (ps_plat_mutex_create(&q->mu) != PS_OK || ps_plat_cond_create(&q->cv) != PS_OK) {
        ps_queue_destroy(q);
        return PS_ERR_NOMEM;
    }
    *out = q;
    return PS_OK;
}

void ps_queue_destroy(ps_queue *q)
{
    if (!q)
        return;
    ps_plat_mutex_destroy(q->mu);
    ps_plat_cond_destroy(q->cv);
    free(q->ring);
    free(q);
}

ps_err ps_queue_push_many(ps_queue *q, void *const *items, size_t n)
{
    ps_err err = PS_OK;
    ps_plat_mutex_lock(q->mu);
    if (q->closed) {
        err = PS_ERR_CLOSED;
        goto out;
    }
    if (q->len + n > q->cap) {
        size_t ncap = q->cap;
        void **ring;
        while (ncap < q->len + n)
            ncap *= 2;
        ring = malloc(ncap * sizeof *ring);
        if (!ring) {
            err = PS_ERR_NOMEM;
            goto out;
        }
        for (size_t i = 0; i < q->len; i++)
            ring[i] = q->ring[(q->head + i) % q->cap];
        free(q->ring);
        q->ring = ring;
        q->cap = ncap;
        q->head = 0;
    }
    for (size_t i = 0; i < n; i++)
        q->ring[(q->head + q->len + i) % q->cap] = items[i];
    q->len += n;
    if (q->waiting_first > 0 || (q->linger_want > 0 && q->len >= q->linger_want))
        ps_plat_cond_signal(q->cv);
out:
    ps_plat_mutex_unlock(q->mu);
    return err;
}

ps_err ps_queue_push(ps_queue *q, void *item)
{
    return ps_queue_push_many(q, &item, 1);
}

static size_t take(ps_queue *q, void **items, size_t n, size_t max)
{
    while (q->len > 0 && n < max) {
        items[n++] = q->ring[q->head];
        q->head = (q->head + 1) % q->cap;
        q->len--;
    }
    return n;
}

size_t ps_queue_pop_batch(ps_queue *q, void **items, size_t max, int first_ms, int linger_ms,
                          int *closed)
{
    int64_t first = ps_plat_mono_ms() + first_ms;
    size_t n = 0;

    *closed = 0;
    ps_plat_mutex_lock(q->mu);
    while (q->len == 0 && !q->closed) {
        bool in_time;
        q->waiting_first++;
        in_time = ps_plat_cond_wait_until(q->cv, q->mu, first);
        q->waiting_first--;
        if (!in_time)
            break;
    }
    if (q->len > 0) {
        n = take(q, items, n, max);
        if (n < max && linger_ms > 0 && !q->closed) {
            int64_t linger = ps_plat_mono_ms() + linger_ms;
            while (n < max && !q->closed) {
                bool in_time;
                q->linger_want = max - n;
                in_time = ps_plat_cond_wait_until(q->cv, q->mu, linger);
                q->linger_want = 0;
                n = take(q, items, n, max);
                if (!in_time)
                    break;
            }
        }
    }
    if (q->closed && q->len == 0)
        *closed = 1;
    /* Another popper may be waiting for what this one left. */
    if (q->len > 0 && q->waiting_first > 0)
        ps_plat_cond_signal(q->cv);
    ps_plat_mutex_unlock(q->mu);
    return n;
}

void ps_queue_close(ps_queue *q)
{
    ps_plat_mutex_lock(q->mu);
    q->closed = true;
    ps_plat_cond_broadcast(q->cv);
    ps_plat_mutex_unlock(q->mu);
}

size_t ps_queue_length(ps_queue *q)
{
    size_t n;
    ps_plat_mutex_lock(q->mu);
    n = q->len;
    ps_plat_mutex_unlock(q->mu);
    return n;
}
