/* ps_event_arena: where ps_event_parse builds its JSON tree on a thread that asked
 * for an arena (ps_event_use_arena). cJSON allocates a block per value and per
 * string, so a 2 KB event costs about a hundred malloc/free pairs; in the arena
 * they are a pointer bump, and freeing them is a range check. */
#ifndef PS_EVENT_ARENA_H
#define PS_EVENT_ARENA_H

#include <stdbool.h>
#include <stddef.h>

/* Routes cJSON's allocations on the calling thread to its arena while `on`, when
 * the thread enabled one; returns whether it did, for ps_event_arena_parse_end. */
bool ps_event_arena_parse_begin(void);
void ps_event_arena_parse_end(void);

/* A block as cJSON's hooks allocate it: from the arena inside a parse on an arena
 * thread, else malloc. Freed by cJSON_free (or with its tree). */
void *ps_event_arena_malloc(size_t n);

#endif
