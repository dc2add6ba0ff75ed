/* The in-flight window of a device: every message between receipt and commit has
 * a sequence number, its bytes and its spool position here, so that memory stays
 * bounded and the spool is released exactly up to what is committed. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine/ps_engine_internal.h"

void eng_set_error(device *d, const char *fmt, ...)
{
    va_list ap;
    ps_plat_mutex_lock(d->err_mu);
    va_start(ap, fmt);
    vsnprintf(d->last_error, sizeof d->last_error, fmt, ap);
    va_end(ap);
    d->last_error_us = ps_plat_now_us();
    ps_plat_mutex_unlock(d->err_mu);
}

void eng_set_state(device *d, ps_device_state s)
{
    atomic_store(&d->state, (int)s);
}

void eng_item_free(item *it)
{
    if (!it)
        return;
    ps_store_row_deinit(&it->row);
    ps_event_deinit(&it->ev);
    free(it->data);
    free(it->out);
    free(it->tags);
    free(it->reason);
    free(it);
}

bool eng_inflight_full(const device *d, size_t bytes)
{
    return d->next - d->base >= PS_ENGINE_MAX_INFLIGHT ||
           (d->next > d->base && d->inflight_bytes + bytes > PS_ENGINE_MAX_INFLIGHT_BYTES);
}

ps_err eng_inflight_acquire(device *d, size_t bytes, ps_spool_pos pos, ps_ws *ws, uint64_t *seq)
{
    const ps_service_settings *s = d->svc;
    int64_t last_ping = ps_plat_mono_ms();
    size_t slot;

    ps_plat_mutex_lock(d->mu);
    if (eng_inflight_full(d, bytes) && d->rx_n > 0) {
        /* The window frees only as queued messages commit: hand ours over first. */
        ps_plat_mutex_unlock(d->mu);
        eng_rx_flush(d);
        ps_plat_mutex_lock(d->mu);
    }
    while (eng_inflight_full(d, bytes)) {
        if (atomic_load(&d->stop)) {
            ps_plat_mutex_unlock(d->mu);
            return PS_ERR_CLOSED;
        }
        d->rx_waiting = true;
        (void)ps_plat_cond_wait_until(d->cv, d->mu, ps_plat_mono_ms() + 200);
        d->rx_waiting = false;
        if (ws && ps_plat_mono_ms() - last_ping >= s->keepalive_ms) {
            ps_plat_mutex_unlock(d->mu);
            (void)ps_ws_ping(ws, NULL);
            last_ping = ps_plat_mono_ms();
            ps_plat_mutex_lock(d->mu);
        }
    }
    *seq = d->next++;
    slot = *seq % PS_ENGINE_MAX_INFLIGHT;
    d->done[slot] = 0;
    d->bytes[slot] = bytes;
    d->pos[slot] = pos;
    d->inflight_bytes += bytes;
    ps_plat_mutex_unlock(d->mu);
    return PS_OK;
}

void eng_inflight_done(device *d, item **items, size_t n)
{
    bool advanced = false;
    ps_spool_pos mark = {0, 0};

    ps_plat_mutex_lock(d->mu);
    for (size_t i = 0; i < n; i++)
        if (items[i]->dev == d)
            d->done[items[i]->seq % PS_ENGINE_MAX_INFLIGHT] = 1;
    while (d->base < d->next && d->done[d->base % PS_ENGINE_MAX_INFLIGHT]) {
        size_t slot = d->base % PS_ENGINE_MAX_INFLIGHT;
        d->inflight_bytes -= d->bytes[slot];
        mark = d->pos[slot];
        d->base++;
        advanced = true;
    }
    /* The writer calls this once per batch and device, so a wake-up here is cheap:
     * wake a waiting receiver whenever room appeared, and device_stop when
     * everything is done. */
    if ((d->rx_waiting && advanced) || d->base == d->next)
        ps_plat_cond_broadcast(d->cv);
    ps_plat_mutex_unlock(d->mu);
    if (advanced && d->spool && !atomic_load(&d->keep_spool))
        ps_spool_release(d->spool, mark);
}
