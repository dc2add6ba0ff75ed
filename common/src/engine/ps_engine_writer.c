/* The writer: the only thread that writes the database, and the only stage that
 * cannot run in parallel, so it does nothing but SQLite. Batches carry the resume
 * state of their devices; counters once a second; retention, and the device bits of
 * events stored before schema 6, between batches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_log.h"
#include "podstream/ps_time.h"
#include "engine/ps_engine_internal.h"
#include "engine/ps_engine_wal.h"

/* Retention deletes at most this many events per step, between batches: a step
 * costs about as much as storing them, so ingest never waits long for it. */
#define RETENTION_BUDGET  250
#define RETENTION_IDLE_MS 10000
/* Chunks of 1,024 ids per step of filling chunk_devices, and how long an idle
 * writer goes on with such steps at a time. */
#define CHUNKDEV_FILL_CHUNKS  4
#define CHUNKDEV_FILL_IDLE_MS 20
/* The resume mirrors (ps_engine_mirror.c) are written this often and at the stop. */
#define MIRROR_INTERVAL_MS 60000
/* Messages above this leave the heap trimmed after they are stored. */
#define HUGE_MESSAGE (1u << 20)

ps_resume_state eng_resume_snapshot(device *d, bool clean)
{
    ps_resume_state r = d->w.resume;
    r.last_healthy_us = atomic_load(&d->last_alive_us);
    r.clean_shutdown = clean;
    ps_plat_mutex_lock(d->err_mu);
    r.repair_from_us = d->repair.win[ENG_WINDOW_REPAIR].from;
    r.repair_to_us = d->repair.win[ENG_WINDOW_REPAIR].to;
    r.trip_from_us = d->repair.win[ENG_WINDOW_TRIP].from;
    r.trip_to_us = d->repair.win[ENG_WINDOW_TRIP].to;
    ps_plat_mutex_unlock(d->err_mu);
    return r;
}

static void rate_add(writer_view *w, int64_t now_s, uint32_t n)
{
    int slot = (int)(now_s % RATE_SLOTS);
    if (w->slot_second[slot] != now_s) {
        w->slot_second[slot] = now_s;
        w->slot_count[slot] = 0;
    }
    w->slot_count[slot] += n;
}

static double rate_over(const writer_view *w, int64_t now_s, int seconds)
{
    uint64_t sum = 0;
    /* complete seconds only: the current one is still filling */
    for (int i = 1; i <= seconds; i++) {
        int64_t sec = now_s - i;
        int slot = (int)(((sec % RATE_SLOTS) + RATE_SLOTS) % RATE_SLOTS);
        if (w->slot_second[slot] == sec)
            sum += w->slot_count[slot];
    }
    return (double)sum / seconds;
}

/* Why an item is quarantined or failed: set by the worker, unless memory ran out. */
static const char *reason_of(const item *it)
{
    return it->reason ? it->reason : "(out of memory saying why)";
}

/* Stores the batch's events, quarantined messages and pipeline counts. */
static ps_err put_items(ps_engine *eng, item **items, size_t n, ps_errmsg *em)
{
    ps_err err;
    for (size_t i = 0; i < n; i++) {
        item *it = items[i];
        device *d = it->dev;
        it->duplicate = false;
        if (it->kind == ITEM_EVENT) {
            err = ps_store_put(eng->store, d->cfg->id, &it->row, it->tags ? it->tags : d->tags_json,
                               &it->duplicate, em);
            if (err != PS_OK)
                return err;
            if (!it->duplicate) {
                d->w.touched = true;
                if (it->row.ts_us > d->w.pending_ts)
                    d->w.pending_ts = it->row.ts_us;
            }
        } else if (it->kind == ITEM_QUARANTINE || it->kind == ITEM_FAILED) {
            err = ps_store_quarantine(eng->store, d->cfg->id, it->type, it->data, it->len,
                                      reason_of(it), em);
            if (err != PS_OK)
                return err;
        }
        if ((it->kind == ITEM_DROPPED || it->kind == ITEM_FAILED) && it->pipeline &&
            !it->replayed) {
            err = ps_store_pipeline_count(eng->store, d->cfg->id, it->pipeline,
                                          it->kind == ITEM_DROPPED, it->kind == ITEM_FAILED, em);
            if (err != PS_OK)
                return err;
        }
    }
    return PS_OK;
}

/* The resume state of every device with new events in the batch. */
static ps_err put_resume(ps_engine *eng, item **items, size_t n, ps_errmsg *em)
{
    ps_err err;
    for (size_t i = 0; i < n; i++) {
        device *d = items[i]->dev;
        ps_resume_state r;
        if (!d->w.touched)
            continue;
        d->w.touched = false;
        r = eng_resume_snapshot(d, false);
        if (d->w.pending_ts > r.last_event_ts_us)
            r.last_event_ts_us = d->w.pending_ts;
        err = ps_store_resume_put(eng->store, d->cfg->id, d->cfg->props.type, &r, em);
        if (err != PS_OK)
            return err;
    }
    return PS_OK;
}

/* Events stamped this far after the host's now mean its clock is behind POD's. */
#define CLOCK_BEHIND_MS (5 * 60 * 1000)

/* Says so at most once an hour per device: archive windows end at the host's now
 * (docs/reliability.md, "A host clock behind the true time"). */
static void check_clock(device *d)
{
    writer_view *w = &d->w;
    int64_t mono = ps_plat_mono_ms();
    char ahead[32];
    if (w->lag_ms >= -CLOCK_BEHIND_MS ||
        (w->clock_warned_ms && mono - w->clock_warned_ms < 3600 * 1000))
        return;
    w->clock_warned_ms = mono;
    ps_time_format_elapsed(-w->lag_ms, ahead, sizeof ahead);
    PS_LOG_W(d->cfg->id,
             "events are stamped %s after this host's clock: the clock is behind; synchronise "
             "it (NTP, timedatectl), archive windows are reckoned on it",
             ahead);
}

/* After the commit: counters, rates, lag and the newest committed ts. */
static void count_committed(item **items, size_t n, int64_t now_us)
{
    for (size_t i = 0; i < n; i++) {
        item *it = items[i];
        writer_view *w = &it->dev->w;
        switch (it->kind) {
        case ITEM_EVENT:
            if (it->duplicate) {
                /* a replayed message that was committed before the crash is not news */
                if (!it->replayed)
                    w->duplicates++;
                break;
            }
            w->events_total++;
            rate_add(w, now_us / PS_US_PER_S, 1);
            if (!w->first_ts || it->row.ts_us < w->first_ts)
                w->first_ts = it->row.ts_us;
            if (it->row.ts_us > w->resume.last_event_ts_us)
                w->resume.last_event_ts_us = it->row.ts_us;
            w->lag_ms = (now_us - it->row.ts_us) / 1000;
            check_clock(it->dev);
            break;
        case ITEM_QUARANTINE:
            if (!it->replayed)
                w->quarantined++;
            PS_LOG_W(it->dev->cfg->id, "quarantined a message: %s", reason_of(it));
            break;
        case ITEM_DROPPED:
            if (!it->replayed)
                w->dropped++;
            break;
        case ITEM_FAILED:
            if (!it->replayed)
                w->failed++;
            PS_LOG_W(it->dev->cfg->id, "pipeline failure, event kept in the quarantine: %s",
                     reason_of(it));
            break;
        }
        if (w->resume.last_event_ts_us > atomic_load(&it->dev->last_committed_ts))
            atomic_store(&it->dev->last_committed_ts, w->resume.last_event_ts_us);
    }
}

/* Writes one batch with the resume state it implies; counters change only once
 * the commit succeeded, so a retried batch is not counted twice. */
static ps_err write_batch(ps_engine *eng, item **items, size_t n, ps_errmsg *em)
{
    ps_err err = ps_store_begin(eng->store, em);
    int64_t now_us = ps_plat_now_us();

    if (err != PS_OK)
        return err;
    err = put_items(eng, items, n, em);
    if (err == PS_OK)
        err = put_resume(eng, items, n, em);
    if (err == PS_OK)
        err = ps_store_commit(eng->store, em);
    if (err != PS_OK)
        goto fail;
    count_committed(items, n, now_us);
    return PS_OK;
fail:
    ps_store_rollback(eng->store);
    for (size_t i = 0; i < n; i++) {
        items[i]->dev->w.touched = false;
        items[i]->dev->w.pending_ts = 0;
    }
    return err;
}

static void fill_counters(device *d, ps_device_counters *c, int64_t now_us)
{
    const writer_view *w = &d->w;
    int64_t now_s = now_us / PS_US_PER_S;
    memset(c, 0, sizeof *c);
    c->device_id = d->cfg->id;
    snprintf(c->name, sizeof c->name, "%s", d->cfg->name);
    c->type = d->cfg->props.type;
    c->state = (ps_device_state)atomic_load(&d->state);
    c->events_total = w->events_total;
    c->rate_10s = rate_over(w, now_s, 10);
    c->rate_1m = rate_over(w, now_s, 60);
    c->last_event_ts_us = w->resume.last_event_ts_us;
    c->lag_ms = w->lag_ms;
    c->reconnects = atomic_load(&d->reconnects);
    c->empty_frames = atomic_load(&d->empty_frames);
    c->duplicates = w->duplicates;
    c->quarantined = w->quarantined;
    c->dropped = w->dropped;
    c->failed = w->failed;
    ps_plat_mutex_lock(d->err_mu);
    snprintf(c->last_error, sizeof c->last_error, "%s", d->last_error);
    c->last_error_us = d->last_error_us;
    ps_plat_mutex_unlock(d->err_mu);
    c->updated_us = now_us;
}

/* Counters and liveness once a second, in one short transaction. */
void eng_write_tick(ps_engine *eng, bool final)
{
    ps_errmsg em;
    int64_t now = ps_plat_now_us();
    double rate = 0;

    /* No more writes after a fault: to a damaged file they could spread the damage,
     * to one removed or replaced they go through a WAL another file may take. */
    if (atomic_load(&eng->fault))
        return;
    ps_plat_mutex_lock(eng->mu);
    if (ps_store_begin(eng->store, &em) != PS_OK)
        goto fail;
    for (size_t i = 0; i < eng->ndevices; i++) {
        device *d = eng->devices[i];
        ps_device_counters c;
        if (final)
            eng_set_state(d, PS_STATE_STOPPED);
        if (ps_log_get_level() >= PS_LOG_DEBUG) {
            uint64_t inflight;
            ps_plat_mutex_lock(d->mu);
            inflight = d->next - d->base;
            ps_plat_mutex_unlock(d->mu);
            PS_LOG_D(d->cfg->id, "in flight %llu, work queue %zu, commit queue %zu",
                     (unsigned long long)inflight, ps_queue_length(d->work),
                     ps_queue_length(eng->commit));
        }
        fill_counters(d, &c, now);
        rate += c.rate_10s;
        if (ps_store_counters_put(eng->store, &c, &em) != PS_OK)
            goto fail;
        {
            /* a stop that left events uncommitted is not clean: the next start
             * replays the spool and backfills */
            ps_resume_state r = eng_resume_snapshot(d, final && !atomic_load(&eng->left_spooled) &&
                                                           !atomic_load(&eng->left_lost));
            if (ps_store_resume_put(eng->store, d->cfg->id, d->cfg->props.type, &r, &em) != PS_OK)
                goto fail;
        }
    }
    if (eng->reload_dirty && ps_store_reload_put(eng->store, &eng->reload, &em) != PS_OK)
        goto fail;
    if (ps_store_commit(eng->store, &em) != PS_OK)
        goto fail;
    eng->reload_dirty = false;
    if (final || ps_plat_mono_ms() - eng->mirror_ms >= MIRROR_INTERVAL_MS) {
        for (size_t i = 0; i < eng->ndevices; i++) {
            ps_resume_state r = eng_resume_snapshot(eng->devices[i], final);
            eng_mirror_save(eng, eng->devices[i], &r);
        }
        eng->mirror_ms = ps_plat_mono_ms();
    }
    ps_plat_mutex_unlock(eng->mu);
    eng_wal_tick(eng->store);
    atomic_store(&eng->rate_10s, rate);
    atomic_fetch_add(&eng->ticks, 1);
    return;
fail:
    ps_store_rollback(eng->store);
    ps_plat_mutex_unlock(eng->mu);
    PS_LOG_E(PS_LOG_NO_DEVICE, "cannot write live counters: %s", em.text);
}

/* One bounded retention step when it is due: right after the last step found more
 * to do, else every RETENTION_IDLE_MS. */
static void retention_step(ps_engine *eng, int64_t *next_ms)
{
    ps_retention_policy policy = {.days = atomic_load(&eng->retention_days),
                                  .max_bytes = atomic_load(&eng->retention_max_bytes)};
    ps_retention_result res;
    ps_errmsg em;

    if (ps_plat_mono_ms() < *next_ms || (policy.days == 0 && policy.max_bytes == 0) ||
        atomic_load(&eng->fault))
        return;
    if (ps_store_retention_step(eng->store, ps_plat_now_us(), &policy, RETENTION_BUDGET, &res,
                                &em) != PS_OK) {
        PS_LOG_E(PS_LOG_NO_DEVICE, "retention: %s", em.text);
        *next_ms = ps_plat_mono_ms() + RETENTION_IDLE_MS;
        return;
    }
    if (res.deleted_age || res.deleted_size)
        PS_LOG_D(PS_LOG_NO_DEVICE, "retention removed %llu event(s) by age, %llu by size",
                 (unsigned long long)res.deleted_age, (unsigned long long)res.deleted_size);
    *next_ms = res.more ? 0 : ps_plat_mono_ms() + RETENTION_IDLE_MS;
}

/* Fills chunk_devices for events stored before schema 6, a few chunks per step
 * (1-20 ms for 4,096 events, warm or cold), pausing four times as long as the steps
 * took: at most a fifth of the writer's time until it is done. With nothing queued,
 * steps follow each other for up to CHUNKDEV_FILL_IDLE_MS, so an idle writer does
 * not take minutes for what a busy one does in seconds. *next_ms < 0: nothing left;
 * *steps counts the steps. */
static void chunkdev_fill_step(ps_engine *eng, int64_t *next_ms, unsigned *steps)
{
    int64_t t0 = ps_plat_mono_ms(), now;
    bool more = false;
    ps_errmsg em;

    if (*next_ms < 0 || t0 < *next_ms || atomic_load(&eng->fault) || atomic_load(&eng->stopping))
        return;
    do {
        if (ps_store_chunkdev_fill_step(eng->store, CHUNKDEV_FILL_CHUNKS, &more, &em) != PS_OK) {
            PS_LOG_E(PS_LOG_NO_DEVICE, "filling the device bits of older events: %s", em.text);
            *next_ms = t0 + RETENTION_IDLE_MS;
            return;
        }
        ++*steps;
    } while (more && ps_queue_length(eng->commit) == 0 &&
             ps_plat_mono_ms() - t0 < CHUNKDEV_FILL_IDLE_MS);
    now = ps_plat_mono_ms();
    if (*steps > 1 && !more)
        PS_LOG_I(PS_LOG_NO_DEVICE,
                 "search: the events stored before the upgrade to schema 6 have their device "
                 "bits now (%u steps); searches skip them like newer ones",
                 *steps);
    *next_ms = more ? now + 4 * (now - t0) + 1 : -1;
}

/* True once a stop has used up the writer's share of its time. */
static bool stop_overdue(ps_engine *eng)
{
    return atomic_load(&eng->stopping) && ps_plat_mono_ms() >= atomic_load(&eng->stop_deadline_ms);
}

/* Waits before the next attempt, never past the stop's deadline. */
static void retry_pause(ps_engine *eng)
{
    int64_t pause = 500;
    if (atomic_load(&eng->stopping)) {
        int64_t left = atomic_load(&eng->stop_deadline_ms) - ps_plat_mono_ms();
        pause = left < pause ? (left > 0 ? left : 0) : pause;
    }
    ps_plat_sleep_ms(pause);
}

/* A batch that cannot be committed stays in the spool for the next start where the
 * receiver could spool it; what it could not spool is in neither place, so the
 * repair window of its device is widened over it and the loss is counted. */
static void give_up(ps_engine *eng, item **items, size_t n)
{
    size_t lost = 0;
    bool first;
    for (size_t i = 0; i < n; i++) {
        device *d = items[i]->dev;
        atomic_store(&d->keep_spool, 1);
        if (items[i]->spooled)
            continue;
        lost++;
        eng_repair_widen(d);
    }
    /* Every batch to the end of the run follows the first: the first is logged, the
     * stop sums them all up. */
    first = atomic_fetch_add(&eng->left_spooled, n - lost) == 0 && !atomic_load(&eng->left_lost);
    atomic_fetch_add(&eng->left_lost, lost);
    if (lost)
        PS_LOG_E(PS_LOG_NO_DEVICE,
                 "giving up on %zu events: %zu stay in the spool for the next start, %zu could "
                 "not be spooled either and are lost to this run",
                 n, n - lost, lost);
    else if (first)
        PS_LOG_W(PS_LOG_NO_DEVICE,
                 "giving up on %zu events: the spool keeps them for the next start; so it "
                 "goes with what follows until the stop",
                 n);
}

/* Commits the batch, retrying while the failure may clear (a busy, full or failing
 * disk) so that nothing received is lost; receivers stop reading meanwhile, since
 * nothing leaves the in-flight window. Gives the batch up (give_up) when a stop
 * runs out of time or the database is damaged, which retrying cannot mend. */
static void commit_batch(ps_engine *eng, item **items, size_t n)
{
    int failures = 0;
    ps_errmsg em;
    ps_err err;

    if (atomic_load(&eng->fault)) {
        give_up(eng, items, n);
        return;
    }
    while ((err = write_batch(eng, items, n, &em)) != PS_OK) {
        if (err == PS_ERR_CORRUPT) {
            PS_LOG_E(PS_LOG_NO_DEVICE,
                     "the database is damaged: %s; stopping ingest. Stop the service and run "
                     "'podstream repair' (docs/operations.md)",
                     em.text);
            eng_set_fault(eng, err, em.text);
            eng_dbfile_mark_damaged(eng);
            give_up(eng, items, n);
            return;
        }
        if (failures++ % 10 == 0)
            PS_LOG_E(PS_LOG_NO_DEVICE, "cannot commit %zu events, retrying: %s", n, em.text);
        if (stop_overdue(eng)) {
            give_up(eng, items, n);
            return;
        }
        retry_pause(eng);
    }
}

void *eng_writer_main(void *arg)
{
    ps_engine *eng = arg;
    item **items = malloc(PS_ENGINE_BATCH_EVENTS * sizeof *items);
    int64_t last_tick = 0;
    int64_t next_retention = 0, next_fill = 0;
    unsigned fill_steps = 0;
    bool huge = false;

    if (!items) {
        PS_LOG_E(PS_LOG_NO_DEVICE, "writer: out of memory");
        return NULL;
    }
    for (;;) {
        int closed = 0;
        size_t n = ps_queue_pop_batch(eng->commit, (void **)items, PS_ENGINE_BATCH_EVENTS, 200,
                                      PS_ENGINE_BATCH_MS, &closed);
        if (n > 0) {
            commit_batch(eng, items, n);
            /* one lock per device per batch */
            for (size_t i = 0; i < n; i++) {
                device *d = items[i]->dev;
                bool seen = false;
                for (size_t j = 0; j < i && !seen; j++)
                    seen = items[j]->dev == d;
                if (!seen)
                    eng_inflight_done(d, items, n);
            }
            for (size_t i = 0; i < n; i++) {
                huge = huge || items[i]->total_len > HUGE_MESSAGE;
                eng_item_free(items[i]);
            }
        }
        /* A huge message passed through several threads' heaps; give what it left
         * behind back to the system once it is gone, not months later. */
        if (huge && ps_queue_length(eng->commit) == 0) {
            ps_plat_heap_trim();
            huge = false;
        }
        if (ps_plat_mono_ms() - last_tick >= 1000) {
            eng_dbfile_watch(eng);
            eng_write_tick(eng, false);
            last_tick = ps_plat_mono_ms();
        }
        retention_step(eng, &next_retention);
        chunkdev_fill_step(eng, &next_fill, &fill_steps);
        if (closed)
            break;
    }
    free(items);
    return NULL;
}
