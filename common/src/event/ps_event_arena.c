/* ps_event_arena: a bump allocator per thread for the JSON trees of the events the
 * thread parses (see ps_event_arena.h for why).
 *
 * cJSON's hooks are global, so they are installed once for the whole process and
 * fall back to malloc and free everywhere else: an allocation goes to the arena
 * only inside ps_event_parse on a thread that enabled one, and a free that is not
 * of an arena block goes to free(). The arena counts its live blocks and starts
 * over when the last one is freed, so it needs no reset call: a tree changed by a
 * pipeline holds arena blocks and malloc blocks side by side and frees both. The
 * one rule is that a tree parsed on an arena thread is freed on that thread (the
 * engine's workers delete each tree before the row goes to the writer). */
#include "event/ps_event_arena.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "podstream/ps_event.h"

enum {
    ARENA_ALIGN = 16,
    ARENA_CHUNK = 64 * 1024,
    /* a huge event's arena is returned, like the workers' other scratch buffers */
    ARENA_KEEP_MAX = 1024 * 1024,
};

typedef struct chunk {
    struct chunk *next;
    size_t size, used;
    _Alignas(ARENA_ALIGN) unsigned char data[];
} chunk;

typedef struct arena {
    bool enabled, active;
    chunk *head; /* the chunk being filled; older ones follow */
    size_t live, total;
    unsigned trees; /* parses since the arena was last empty */
    bool foreign;   /* a cJSON block was malloc'd on this thread since the last parse */
} arena;

static _Thread_local arena ta;
static atomic_flag hooks_installed = ATOMIC_FLAG_INIT;

static bool in_arena(const void *p)
{
    for (const chunk *c = ta.head; c; c = c->next)
        if ((const unsigned char *)p >= c->data && (const unsigned char *)p < c->data + c->size)
            return true;
    return false;
}

/* With keep_one, the next tree gets one chunk as large as this one needed. */
static void release(bool keep_one)
{
    chunk *c = ta.head;
    size_t total = ta.total;

    if (keep_one && c && !c->next && c->size <= ARENA_KEEP_MAX) {
        c->used = 0;
        ta.trees = 0;
        return;
    }
    while (c) {
        chunk *next = c->next;
        free(c);
        c = next;
    }
    ta.head = NULL;
    ta.total = 0;
    ta.trees = 0;
    if (keep_one && total <= ARENA_KEEP_MAX && (c = malloc(sizeof *c + total)) != NULL) {
        *c = (chunk){.size = total};
        ta.head = c;
        ta.total = total;
    }
}

void *ps_event_arena_malloc(size_t n)
{
    size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    chunk *c = ta.head;

    if (!ta.active) {
        /* a block that a pipeline may put into the tree: ps_event_tree_free must walk it */
        ta.foreign = ta.foreign || ta.enabled;
        return malloc(n);
    }
    if (!c || c->size - c->used < need) {
        /* doubling, so that a large event needs few chunks */
        size_t size = need > ARENA_CHUNK ? need : ARENA_CHUNK;
        if (size < ta.total)
            size = ta.total;
        if (!(c = malloc(sizeof *c + size)))
            return NULL;
        c->size = size;
        c->used = 0;
        c->next = ta.head;
        ta.head = c;
        ta.total += size;
    }
    void *p = c->data + c->used;
    c->used += need;
    ta.live++;
    return p;
}

static void arena_free(void *p)
{
    if (!p)
        return;
    if (!ta.head || !in_arena(p)) {
        free(p);
        return;
    }
    if (--ta.live == 0)
        release(true);
}

void ps_event_use_arena(bool on)
{
    if (on && !atomic_flag_test_and_set(&hooks_installed)) {
        cJSON_Hooks hooks = {.malloc_fn = ps_event_arena_malloc, .free_fn = arena_free};
        cJSON_InitHooks(&hooks);
    }
    if (!on && ta.live == 0)
        release(false);
    ta.enabled = on;
}

bool ps_event_arena_parse_begin(void)
{
    ta.active = ta.enabled;
    if (ta.active) {
        ta.trees++;
        ta.foreign = false;
    }
    return ta.active;
}

void ps_event_tree_free(cJSON *root)
{
    /* Walking a 2 KB event's hundred nodes only to count them down costs more than
     * the parse's allocations did. When the tree is the arena's only one and no
     * cJSON block was malloc'd since it was parsed, every node it holds is in the
     * arena, so emptying the arena frees exactly the tree. */
    if (root && ta.head && ta.trees == 1 && !ta.foreign && in_arena(root)) {
        ta.live = 0;
        release(true);
        return;
    }
    cJSON_Delete(root);
}

void ps_event_arena_parse_end(void)
{
    ta.active = false;
}

size_t ps_event_arena_live(void)
{
    return ta.live;
}

size_t ps_event_arena_kept(void)
{
    return ta.total;
}
