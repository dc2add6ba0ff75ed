/* ps_queue: a blocking FIFO of pointers shared by threads.
 *
 * It does not bound itself: the engine bounds what is in flight per device before
 * anything is queued, so a push never blocks and memory stays bounded upstream. */
#ifndef PS_QUEUE_H
#define PS_QUEUE_H

#include <stddef.h>

#include "podstream/ps_error.h"

typedef struct ps_queue ps_queue;

/* New empty queue; caller destroys. */
ps_err ps_queue_create(ps_queue **out);

/* Destroys the queue (not the items still in it). Accepts NULL. */
void ps_queue_destroy(ps_queue *q);

/* Appends; ownership of `item` passes to whoever pops it. PS_ERR_CLOSED after
 * close (the item stays the caller's). */
ps_err ps_queue_push(ps_queue *q, void *item);

/* Appends items[0..n) in order with one lock and at most one wake-up. On
 * PS_ERR_CLOSED none was queued. */
ps_err ps_queue_push_many(ps_queue *q, void *const *items, size_t n);

/* Waits up to first_ms for a first item, then gathers more until `max` items or
 * linger_ms after the first, whichever comes first. Returns the count (0 on
 * timeout); *closed is set when the queue is closed and now empty. */
size_t ps_queue_pop_batch(ps_queue *q, void **items, size_t max, int first_ms, int linger_ms,
                          int *closed);

/* No more pushes; poppers drain what is left, then see *closed. */
void ps_queue_close(ps_queue *q);

size_t ps_queue_length(ps_queue *q);

#endif
