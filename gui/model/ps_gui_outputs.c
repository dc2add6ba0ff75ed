/* The Outputs section's model: the rows the output runners write, as status reads them. */
#include "ps_gui_outputs.h"

#include <stdlib.h>

ps_err ps_gui_outputs_read(ps_store *st, ps_gui_snapshot *s, ps_errmsg *em)
{
    ps_output_row *rows = NULL;
    size_t n = 0;
    ps_err err;
    free(s->outs);
    s->outs = NULL;
    s->nouts = 0;
    if (!st)
        return PS_OK;
    err = ps_store_output_list(st, &rows, &n, em);
    if (err != PS_OK)
        return err;
    s->outs = rows;
    s->nouts = n;
    return PS_OK;
}

bool ps_gui_output_live(const ps_gui_snapshot *s, const ps_output_row *r)
{
    return r->enabled && s->service == PS_GUI_SERVICE_RUNNING &&
           s->taken_us - r->updated_us <= PS_GUI_STALE_US;
}

const char *ps_gui_output_state_text(const ps_gui_snapshot *s, const ps_output_row *r)
{
    if (!r->enabled)
        return "disabled";
    if (!ps_gui_output_live(s, r))
        return "not running";
    return ps_output_state_name(r->state);
}
