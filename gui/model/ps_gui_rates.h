/* ps_gui_rates: the last minutes of each device's events per second, for the rate
 * graph on the Devices page. Fed one snapshot at a time on the main loop (cheap: a
 * few hundred floats a device); nothing is read from the database for it. */
#ifndef PS_GUI_RATES_H
#define PS_GUI_RATES_H

#include <stddef.h>

#include "ps_gui_devices.h"

/* Five minutes at one refresh a second. */
#define PS_GUI_RATE_SAMPLES 300

typedef struct ps_gui_rates ps_gui_rates;

/* An empty history; *out owned by the caller. */
ps_err ps_gui_rates_create(ps_gui_rates **out);
/* Frees it. Accepts NULL. */
void ps_gui_rates_destroy(ps_gui_rates *r);

/* Adds one sample per device of `s` (borrowed): its 10-second rate when its counters
 * are live, 0 when they are stale or missing (no traffic is known, so none is drawn).
 * A snapshot taken less than half a second after the previous one (F5) adds nothing. */
ps_err ps_gui_rates_add(ps_gui_rates *r, const ps_gui_snapshot *s);

/* Copies device `id`'s samples, oldest first, into out[0..max) and returns how many. */
size_t ps_gui_rates_get(const ps_gui_rates *r, long long id, float *out, size_t max);

#endif
