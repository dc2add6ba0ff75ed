/* The receiver's hand-off: each message it reads gets a place in the in-flight
 * window, goes to the spool with its batch, and then to the workers. */
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_log.h"
#include "engine/ps_engine_internal.h"

ps_err eng_enqueue(device *d, char *data, size_t len, size_t total_len, bool binary, bool oversize,
                   ps_data_type type, const ps_spool_pos *pos, ps_ws *ws)
{
    ps_spool_pos end = {0, 0};
    ps_err err;
    item *it = calloc(1, sizeof *it);

    if (!it) {
        free(data);
        return PS_ERR_NOMEM;
    }
    it->dev = d;
    it->data = data;
    it->len = len;
    it->total_len = total_len;
    it->binary = binary;
    it->oversize = oversize;
    it->type = type;
    it->replayed = pos != NULL;
    it->archive = !pos && d->rx_archive;
    ps_event_init(&it->ev);
    ps_store_row_init(&it->row);

    /* A new message is spooled with its batch in eng_rx_flush; a replayed one is
     * already in the spool at `pos`. */
    if (pos)
        end = *pos;
    it->spooled = pos != NULL;
    err = eng_inflight_acquire(d, len, end, ws, &it->seq);
    if (err != PS_OK) {
        eng_item_free(it);
        return err;
    }
    if (!pos)
        atomic_fetch_add(&d->rx_bytes, total_len);
    d->rx_batch[d->rx_n++] = it;
    if (d->rx_n == RX_BATCH)
        eng_rx_flush(d);
    return PS_OK;
}

/* A spool that cannot be written is logged at most this often. */
#define SPOOL_ERROR_LOG_MS 60000

/* Appends the batch's new messages to the spool and records where each ends. */
static void spool_batch(device *d)
{
    ps_spool_record recs[RX_BATCH];
    ps_spool_pos ends[RX_BATCH];
    size_t nrec = 0;
    ps_errmsg em;
    bool ok;

    for (size_t i = 0; i < d->rx_n; i++) {
        const item *it = d->rx_batch[i];
        if (it->spooled)
            continue;
        recs[nrec++] = (ps_spool_record){.data = it->data,
                                         .len = it->len,
                                         .total_len = it->total_len,
                                         .type = (int)it->type,
                                         .binary = it->binary,
                                         .oversize = it->oversize};
    }
    if (nrec == 0)
        return;
    ok = ps_spool_append_many(d->spool, recs, nrec, ends, &em) == PS_OK;
    if (!ok) {
        /* Without the spool a crash could lose these messages; keep going (the
         * commit still makes them durable, the repair window covers a crash) but
         * say so loudly: once, then once a minute with the count, not per batch. */
        d->spool_failures += nrec;
        if (ps_plat_mono_ms() - d->spool_failed_log_ms >= SPOOL_ERROR_LOG_MS) {
            PS_LOG_E(d->cfg->id, "%s (%llu message(s) not spooled so far)", em.text,
                     (unsigned long long)d->spool_failures);
            d->spool_failed_log_ms = ps_plat_mono_ms();
        }
        eng_set_error(d, "%s", em.text);
        memset(ends, 0, sizeof ends);
    }
    ps_plat_mutex_lock(d->mu);
    for (size_t i = 0, r = 0; i < d->rx_n; i++) {
        item *it = d->rx_batch[i];
        if (it->spooled)
            continue;
        d->pos[it->seq % PS_ENGINE_MAX_INFLIGHT] = ends[r];
        /* the writer must know, should it give the item up, whether a next start
         * can replay it */
        it->spooled = ok;
        r++;
    }
    ps_plat_mutex_unlock(d->mu);
}

/* Called when the batch is full, when the socket has nothing more to read, before
 * waiting for room, and whenever a session ends: a message must never wait in the
 * batch for long. */
void eng_rx_flush(device *d)
{
    if (d->rx_n == 0)
        return;
    spool_batch(d);
    if (ps_queue_push_many(d->work, (void *const *)d->rx_batch, d->rx_n) != PS_OK) {
        /* Only at stop: the messages stay in the spool for the next start. */
        atomic_store(&d->keep_spool, 1);
        eng_inflight_done(d, d->rx_batch, d->rx_n);
        for (size_t i = 0; i < d->rx_n; i++)
            eng_item_free(d->rx_batch[i]);
    }
    d->rx_n = 0;
}

ps_err eng_replay_cb(void *ctx, const ps_spool_record *rec)
{
    device *d = ctx;
    char *copy = malloc(rec->len + 1);
    if (!copy)
        return PS_ERR_NOMEM;
    memcpy(copy, rec->data, rec->len);
    copy[rec->len] = '\0';
    return eng_enqueue(d, copy, rec->len, rec->total_len, rec->binary, rec->oversize,
                       (ps_data_type)rec->type, &rec->end, NULL);
}
