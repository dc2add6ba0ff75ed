/* ps_engine_repair: which window a close widens, when a trip is due and what it
 * takes. See ps_engine_repair.h. */
#include "engine/ps_engine_repair.h"

void eng_repair_add(eng_repair *r, eng_window_kind kind, int64_t from, int64_t to)
{
    eng_window *w = &r->win[kind];
    if (!w->to || from < w->from)
        w->from = from;
    if (to > w->to)
        w->to = to;
    if (!r->added_from[kind] || from < r->added_from[kind])
        r->added_from[kind] = from;
}

/* True when window w ended at least `age` before now. */
static bool older_than(const eng_window *w, int64_t now, int64_t age)
{
    return w->to && now >= w->to + age;
}

bool eng_repair_take(eng_repair *r, int64_t now, const eng_repair_timing *t,
                     eng_window out[ENG_WINDOW_KINDS])
{
    const eng_window *rep = &r->win[ENG_WINDOW_REPAIR];
    const eng_window *trip = &r->win[ENG_WINDOW_TRIP];
    bool repair_due = older_than(rep, now, t->archive_delay_us);
    /* The trip window never makes a trip of its own before max_age: a trip's
     * close would open another, and trips would chain. A trip made for the repair
     * window takes it along once the archive holds it. */
    bool trip_due = repair_due ? older_than(trip, now, t->archive_delay_us)
                               : older_than(trip, now, t->trip_max_age_us);

    out[ENG_WINDOW_REPAIR] = repair_due ? *rep : (eng_window){0, 0};
    out[ENG_WINDOW_TRIP] = trip_due ? *trip : (eng_window){0, 0};
    for (int k = 0; k < ENG_WINDOW_KINDS; k++)
        if (out[k].to)
            r->added_from[k] = 0;
    return repair_due || trip_due;
}

void eng_repair_done(eng_repair *r, eng_window_kind kind, eng_window taken)
{
    eng_window *w = &r->win[kind];
    if (w->from == taken.from && w->to == taken.to)
        w->from = w->to = 0;
    else if (r->added_from[kind] > w->from)
        w->from = r->added_from[kind];
    r->added_from[kind] = 0;
}
