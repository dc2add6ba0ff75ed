/* ps_gui_reload: after a save, whether the running service took the change, without a
 * widget.
 *
 * The service records each configuration it loads (ps_reload_record, written with
 * its live counters) and reloads by itself within about two seconds of a changed
 * file. The Devices page's refresh reads that record once a second on its worker;
 * this model compares it with the time of the app's last save and says what to
 * show next to the save. */
#ifndef PS_GUI_RELOAD_H
#define PS_GUI_RELOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ps_gui_devices.h"

/* A record up to this long before the save finished counts as the save's reload:
 * the service may decide before the app's main loop learns that the write is done. */
#define PS_GUI_RELOAD_SLACK_US (1000000LL)
/* With the service running, no record for this long after a save means it did not
 * reload (or is an older podstream that records nothing): the log says more. */
#define PS_GUI_RELOAD_WAIT_US (10 * 1000000LL)

typedef enum ps_gui_reload_state {
    PS_GUI_RELOAD_NONE,        /* nothing saved since the app started */
    PS_GUI_RELOAD_WAITING,     /* saved; the running service has not loaded it yet */
    PS_GUI_RELOAD_ACCEPTED,    /* the service loaded it (a reload, or a start since) */
    PS_GUI_RELOAD_REJECTED,    /* the service refused it; the old configuration runs */
    PS_GUI_RELOAD_NOT_RUNNING, /* the service is not running: it loads it at its start */
    PS_GUI_RELOAD_NO_ANSWER    /* running, but nothing recorded PS_GUI_RELOAD_WAIT_US on */
} ps_gui_reload_state;

/* Caller-owned; zero it (or ps_gui_reload_watch_init) before use. */
typedef struct ps_gui_reload_watch {
    int64_t saved_us; /* when the last save finished; 0: none */
    ps_gui_reload_state state;
    ps_reload_record rec; /* the record that decided ACCEPTED or REJECTED */
} ps_gui_reload_watch;

void ps_gui_reload_watch_init(ps_gui_reload_watch *w);

/* A save finished at `now_us` (wall clock): watch for the service's answer. */
void ps_gui_reload_watch_saved(ps_gui_reload_watch *w, int64_t now_us);

/* Takes one refresh: the service's state and its last record (`rec` may be NULL when
 * the database could not be read). Returns true when the state or its text changed. */
bool ps_gui_reload_watch_update(ps_gui_reload_watch *w, ps_gui_service service,
                                const ps_reload_record *rec, int64_t now_us);

/* What to show next to the save, in `buf` (cap bytes; "" for NONE): "Reload accepted
 * at 14:02:07", "Reload rejected: <reason>", "Service not running: the change takes
 * effect at the next start", ... Times in local time, or UTC with `utc` (tests). */
void ps_gui_reload_text(const ps_gui_reload_watch *w, bool utc, char *buf, size_t cap);

#endif
