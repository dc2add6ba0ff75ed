/* ps_gui_outputs: the Outputs section of the Devices page, without a widget.
 *
 * Each configured output's row as `podstream status` reads it (ps_store_output_list:
 * cursor, backlog, state, rate, counts, last error, last delivery), taken by the
 * same once-a-second refresh as the device counters, on the same read-only
 * connection and in one autocommit statement. The runner rewrites a row's live
 * part every second; a row older than PS_GUI_STALE_US, or a service that is not
 * running, means its state and rate are old news and are not shown as live. */
#ifndef PS_GUI_OUTPUTS_H
#define PS_GUI_OUTPUTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ps_gui_devices.h"

/* Reads every output row into s->outs / s->nouts (s keeps them; freed by
 * ps_gui_snapshot_destroy). `st` may be NULL (no database): no outputs then. A
 * failure leaves none and returns the error: the device counters matter more. */
ps_err ps_gui_outputs_read(ps_store *st, ps_gui_snapshot *s, ps_errmsg *em);

/* True when output `r`'s state and rate are live: it is enabled, the service runs
 * (s->service) and its runner rewrote the row within PS_GUI_STALE_US of s->taken_us. */
bool ps_gui_output_live(const ps_gui_snapshot *s, const ps_output_row *r);

/* What the output is doing, in the words of `podstream status`: "disabled" when
 * it is no longer enabled, "not running" when its row is not live, else the state
 * its runner wrote ("idle", "sending", "retrying", "error"). Static text. */
const char *ps_gui_output_state_text(const ps_gui_snapshot *s, const ps_output_row *r);

#endif
