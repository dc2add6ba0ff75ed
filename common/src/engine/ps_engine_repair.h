/* ps_engine_repair: the bookkeeping of a device's two repair windows, a pure data
 * structure (the engine guards it with the device's err_mu).
 *
 * Closing a live session abandons what the server had already written to the
 * network; the archive holds it archive_delay later. Two windows keep that:
 * - the repair window: every close of a live session except a repair trip's own,
 *   and an unclean start. It makes a trip once archive_delay old.
 * - the trip window: what a trip's own close abandoned. It is fetched by the next
 *   trip that finds it archive_delay old, as a separate archive session; alone it
 *   makes a trip only once max_age old. Without it every trip would open the
 *   window of the next, and trips would follow each other forever. */
#ifndef PS_ENGINE_REPAIR_H
#define PS_ENGINE_REPAIR_H

#include <stdbool.h>
#include <stdint.h>

/* Events with ts in [from, to] (wall-clock microseconds); to == 0: empty. */
typedef struct eng_window {
    int64_t from, to;
} eng_window;

typedef enum eng_window_kind {
    ENG_WINDOW_REPAIR,
    ENG_WINDOW_TRIP,
    ENG_WINDOW_KINDS
} eng_window_kind;

/* Caller-owned; zero-initialise, then set the windows read from the resume state. */
typedef struct eng_repair {
    eng_window win[ENG_WINDOW_KINDS];
    /* The smallest start added to each window since a trip took it (0: none):
     * what that trip leaves for a later one. */
    int64_t added_from[ENG_WINDOW_KINDS];
} eng_repair;

/* When windows are due, in microseconds. */
typedef struct eng_repair_timing {
    int64_t archive_delay_us; /* the archive holds an event this long after it */
    int64_t trip_max_age_us;  /* the trip window alone makes a trip this old */
} eng_repair_timing;

/* Widens window `kind` to cover [from, to]. */
void eng_repair_add(eng_repair *r, eng_window_kind kind, int64_t from, int64_t to);

/* Takes the windows a trip fetches at `now`: the repair window once it is
 * archive_delay old, with the trip window when that is archive_delay old too; the
 * trip window alone once it is trip_max_age old. Copies them to out[] (an empty
 * window: not taken) and returns true when there is a trip to make. */
bool eng_repair_take(eng_repair *r, int64_t now, const eng_repair_timing *t,
                     eng_window out[ENG_WINDOW_KINDS]);

/* Window `kind` as taken (`taken`) was fetched: clears it, or when it was widened
 * meanwhile (a trip's own close widens the trip window), keeps only what was added
 * since it was taken. */
void eng_repair_done(eng_repair *r, eng_window_kind kind, eng_window taken);

#endif
