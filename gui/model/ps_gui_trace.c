/* One mail's timeline from ps_store_trace, staged as `podstream trace` stages it. */
#include "ps_gui_trace.h"

#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_mem.h"

const char *ps_gui_stage_name(ps_gui_stage s)
{
    static const char *const names[] = {"filtered", "received", "sent", "deferred",
                                        "failed",   "delivery", "other"};
    return (size_t)s < sizeof names / sizeof names[0] ? names[s] : "other";
}

static const char *or_dash(const char *s)
{
    return s ? s : "-";
}

static ps_gui_stage stage_of(const ps_event_row *r)
{
    const char *dsn = r->text[PS_EF_DSN];
    if (r->type == PS_DATA_MESSAGE)
        return PS_GUI_STAGE_FILTERED;
    if (r->type != PS_DATA_MAILLOG)
        return PS_GUI_STAGE_OTHER;
    if (!r->text[PS_EF_STAT])
        return PS_GUI_STAGE_RECEIVED;
    if (dsn && dsn[0] == '2')
        return PS_GUI_STAGE_SENT;
    if (dsn && dsn[0] == '4')
        return PS_GUI_STAGE_DEFERRED;
    if (dsn && dsn[0] == '5')
        return PS_GUI_STAGE_FAILED;
    return PS_GUI_STAGE_DELIVERY;
}

static char *what_of(const ps_event_row *r, ps_gui_stage stage)
{
    const char *const *t = r->text;
    switch (stage) {
    case PS_GUI_STAGE_FILTERED:
        return g_strdup_printf("disposition %s, final action %s (module %s, rule %s)",
                               or_dash(t[PS_EF_DISPOSITION]), or_dash(t[PS_EF_ACTION]),
                               or_dash(t[PS_EF_MODULE]), or_dash(t[PS_EF_RULE]));
    case PS_GUI_STAGE_RECEIVED:
        return g_strdup_printf("from %s, queue id %s", or_dash(t[PS_EF_SENDER]),
                               or_dash(t[PS_EF_QID]));
    case PS_GUI_STAGE_OTHER:
        return g_strdup_printf("%s %s", or_dash(t[PS_EF_ACTION]), or_dash(t[PS_EF_RESOURCE]));
    default:
        return g_strdup_printf("to %s via %s: %s", or_dash(t[PS_EF_RECIPIENTS]),
                               or_dash(t[PS_EF_RELAY]), or_dash(t[PS_EF_STAT]));
    }
}

typedef struct trace_ctx {
    ps_gui_trace_step *v;
    size_t n, cap;
    ps_err err;
} trace_ctx;

static bool take_step(const ps_event_row *r, void *ctx)
{
    trace_ctx *c = ctx;
    ps_gui_trace_step *s;
    bool ok;
    if (ps_mem_grow_array((void **)&c->v, &c->cap, c->n, sizeof *c->v) != PS_OK) {
        c->err = PS_ERR_NOMEM;
        return false;
    }
    s = &c->v[c->n++];
    memset(s, 0, sizeof *s);
    s->ev.id = r->id;
    s->ev.device_id = r->device_id;
    s->ev.type = r->type;
    s->ev.ts_us = r->ts_us;
    s->ev.key = r->key ? strdup(r->key) : NULL;
    ok = !r->key || s->ev.key;
    for (size_t i = 0; i < PS_EF__COUNT; i++) {
        s->ev.text[i] = r->text[i] ? strdup(r->text[i]) : NULL;
        ok = ok && (!r->text[i] || s->ev.text[i]);
    }
    s->stage = stage_of(r);
    s->what = what_of(r, s->stage);
    if (!ok)
        c->err = PS_ERR_NOMEM;
    return ok;
}

ps_err ps_gui_trace_read(ps_store *st, const char *id, ps_gui_trace_step **out, size_t *count,
                         ps_errmsg *em)
{
    trace_ctx c = {NULL, 0, 0, PS_OK};
    ps_err err = ps_store_trace(st, id, false, 0, take_step, &c, NULL, em);
    if (err == PS_OK && c.err != PS_OK)
        err = ps_errmsg_set(em, c.err, "out of memory");
    if (err != PS_OK) {
        ps_gui_trace_free(c.v, c.n);
        *out = NULL;
        *count = 0;
        return err;
    }
    *out = c.v;
    *count = c.n;
    return PS_OK;
}

void ps_gui_trace_free(ps_gui_trace_step *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        ps_gui_event_deinit(&v[i].ev);
        g_free(v[i].what);
    }
    free(v);
}
