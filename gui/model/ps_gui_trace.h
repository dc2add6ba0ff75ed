/* ps_gui_trace: one mail's way as a timeline, without a widget.
 *
 * The rows of ps_store_trace (the mail's message events and every sendmail line
 * of it, following queue ids and message-ids, oldest first), each with its stage
 * as `podstream trace` counts them: a message event is the filtering (disposition,
 * final action, module, rule), a sendmail line without stat the reception
 * (from=), one with stat a delivery whose DSN class says sent (2), deferred (4) or
 * failed (5). */
#ifndef PS_GUI_TRACE_H
#define PS_GUI_TRACE_H

#include <stddef.h>

#include "ps_gui_events.h"

typedef enum ps_gui_stage {
    PS_GUI_STAGE_FILTERED,
    PS_GUI_STAGE_RECEIVED,
    PS_GUI_STAGE_SENT,
    PS_GUI_STAGE_DEFERRED,
    PS_GUI_STAGE_FAILED,
    PS_GUI_STAGE_DELIVERY, /* a delivery line without a DSN */
    PS_GUI_STAGE_OTHER     /* an audit event */
} ps_gui_stage;

/* "filtered", "received", "sent", "deferred", "failed", "delivery", "other". */
const char *ps_gui_stage_name(ps_gui_stage s);

typedef struct ps_gui_trace_step {
    ps_gui_event ev;
    ps_gui_stage stage;
    char *what; /* one line for people: "disposition reject, final action reject (module
                   spam, rule inbound_spam)", "from <a@b>", "to <c@d> via relay: stat" */
} ps_gui_trace_step;

/* Reads the mail behind `id` (a message guid, queue id or Message-ID, with or
 * without <>) into a new array *out of *count steps, oldest first (caller frees
 * with ps_gui_trace_free). PS_ERR_NOTFOUND when nothing is stored for it. Blocks
 * on SQLite: call it on a worker. */
ps_err ps_gui_trace_read(ps_store *st, const char *id, ps_gui_trace_step **out, size_t *count,
                         ps_errmsg *em);

/* Frees `n` steps and the array. Accepts NULL. */
void ps_gui_trace_free(ps_gui_trace_step *v, size_t n);

#endif
