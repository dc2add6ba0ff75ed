/* The rate history behind the Devices page's graph: one ring of samples a device. */
#include "ps_gui_rates.h"

#include <stdlib.h>

typedef struct series {
    long long id;
    float v[PS_GUI_RATE_SAMPLES];
    size_t next, n; /* ring position, samples held */
} series;

struct ps_gui_rates {
    series *v;
    size_t n;
    int64_t last_us;
};

ps_err ps_gui_rates_create(ps_gui_rates **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? PS_OK : PS_ERR_NOMEM;
}

void ps_gui_rates_destroy(ps_gui_rates *r)
{
    if (!r)
        return;
    free(r->v);
    free(r);
}

static series *find(const ps_gui_rates *r, long long id)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->v[i].id == id)
            return &r->v[i];
    return NULL;
}

ps_err ps_gui_rates_add(ps_gui_rates *r, const ps_gui_snapshot *s)
{
    if (r->last_us && s->taken_us - r->last_us < 500000)
        return PS_OK;
    r->last_us = s->taken_us;
    for (size_t i = 0; i < s->n; i++) {
        const ps_gui_device *d = &s->v[i];
        series *se = find(r, d->id);
        if (!se) {
            series *v = realloc(r->v, (r->n + 1) * sizeof *v);
            if (!v)
                return PS_ERR_NOMEM;
            r->v = v;
            se = &v[r->n++];
            *se = (series){.id = d->id};
        }
        se->v[se->next] = d->has_counters && !d->stale ? (float)d->c.rate_10s : 0.0f;
        se->next = (se->next + 1) % PS_GUI_RATE_SAMPLES;
        if (se->n < PS_GUI_RATE_SAMPLES)
            se->n++;
    }
    return PS_OK;
}

size_t ps_gui_rates_get(const ps_gui_rates *r, long long id, float *out, size_t max)
{
    const series *se = find(r, id);
    size_t n, first;
    if (!se)
        return 0;
    n = se->n < max ? se->n : max;
    /* The newest `n`, oldest first. */
    first = (se->next + PS_GUI_RATE_SAMPLES - n) % PS_GUI_RATE_SAMPLES;
    for (size_t i = 0; i < n; i++)
        out[i] = se->v[(first + i) % PS_GUI_RATE_SAMPLES];
    return n;
}
