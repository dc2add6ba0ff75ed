/* Whether the service took the last save: the state logic behind the line next to
 * Save. */
#include "ps_gui_reload.h"

#include <stdio.h>
#include <string.h>

#include "podstream/ps_time.h"

void ps_gui_reload_watch_init(ps_gui_reload_watch *w)
{
    memset(w, 0, sizeof *w);
}

void ps_gui_reload_watch_saved(ps_gui_reload_watch *w, int64_t now_us)
{
    w->saved_us = now_us;
    w->state = PS_GUI_RELOAD_WAITING;
    memset(&w->rec, 0, sizeof w->rec);
}

bool ps_gui_reload_watch_update(ps_gui_reload_watch *w, ps_gui_service service,
                                const ps_reload_record *rec, int64_t now_us)
{
    ps_gui_reload_watch before = *w;
    if (w->saved_us == 0)
        return false;
    if (rec && rec->at_us >= w->saved_us - PS_GUI_RELOAD_SLACK_US) {
        /* The newest load after the save decides, so a second save's answer replaces
         * the first's. */
        w->state = rec->accepted ? PS_GUI_RELOAD_ACCEPTED : PS_GUI_RELOAD_REJECTED;
        w->rec = *rec;
    } else if (service != PS_GUI_SERVICE_RUNNING) {
        w->state = PS_GUI_RELOAD_NOT_RUNNING;
    } else {
        w->state = now_us - w->saved_us > PS_GUI_RELOAD_WAIT_US ? PS_GUI_RELOAD_NO_ANSWER
                                                                : PS_GUI_RELOAD_WAITING;
    }
    return w->state != before.state || w->rec.at_us != before.rec.at_us ||
           w->rec.accepted != before.rec.accepted;
}

void ps_gui_reload_text(const ps_gui_reload_watch *w, bool utc, char *buf, size_t cap)
{
    char when[64] = "";
    /* "YYYY-MM-DD HH:MM:SS": the time of day is enough beside a save just made. */
    if (!ps_time_format_local(w->rec.at_us, utc, true, when, sizeof when) || strlen(when) < 19)
        snprintf(when, sizeof when, "%s", "?");
    switch (w->state) {
    case PS_GUI_RELOAD_NONE:
        snprintf(buf, cap, "%s", "");
        break;
    case PS_GUI_RELOAD_WAITING:
        snprintf(buf, cap, "%s", "Waiting for the service to reload the change…");
        break;
    case PS_GUI_RELOAD_ACCEPTED:
        snprintf(buf, cap, "%s at %s (configuration generation %llu)",
                 w->rec.at_start ? "Loaded by the service's start" : "Reload accepted",
                 strlen(when) >= 19 ? when + 11 : when, (unsigned long long)w->rec.generation);
        break;
    case PS_GUI_RELOAD_REJECTED:
        snprintf(buf, cap,
                 "Reload rejected: %s. The service keeps running the previous configuration.",
                 w->rec.reason[0] ? w->rec.reason : "see the service's log");
        break;
    case PS_GUI_RELOAD_NOT_RUNNING:
        snprintf(buf, cap, "%s", "Service not running: the change takes effect at the next start.");
        break;
    case PS_GUI_RELOAD_NO_ANSWER:
        snprintf(buf, cap, "%s",
                 "The service has not said whether it reloaded the change: see its log.");
        break;
    }
}
