/* ps_engine: lifecycle and reload. Creates the devices of a configuration, starts
 * their threads and the writer, applies reloads device by device, and stops it all
 * in order: receivers, workers, writer. The stages live in ps_engine_*.c. */
#include "podstream/ps_engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_log.h"
#include "podstream/ps_mem.h"
#include "podstream/ps_pipeline.h"
#include "podstream/ps_platform.h"
#include "engine/ps_engine_internal.h"
#include "net/ps_ws.h"

/* ---- devices --------------------------------------------------------------- */

static void device_free(device *d)
{
    if (!d)
        return;
    ps_queue_destroy(d->work);
    free(d->workers);
    free(d->tags_json);
    ps_plat_mutex_destroy(d->mu);
    ps_plat_cond_destroy(d->cv);
    ps_plat_mutex_destroy(d->err_mu);
    free(d);
}

static ps_err device_create(ps_engine *eng, const ps_device *cfg, const ps_service_settings *svc,
                            const ps_pipeline_set *pipes, device **out, ps_errmsg *em)
{
    device *d = calloc(1, sizeof *d);
    ps_store *rd = NULL;
    ps_device_counters *rows = NULL;
    size_t nrows = 0;
    char name[64];
    ps_err err;

    *out = NULL;
    if (!d)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    d->eng = eng;
    d->cfg = cfg;
    d->svc = svc;
    atomic_store(&d->pipes, pipes);
    if (ps_plat_mutex_create(&d->mu) != PS_OK || ps_plat_cond_create(&d->cv) != PS_OK ||
        ps_plat_mutex_create(&d->err_mu) != PS_OK) {
        err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
        goto out;
    }
    /* NULL (stored as no tags) when the device has none; pipeline tags are merged
     * per event by the workers. */
    d->tags_json = cfg->ntags ? ps_pipeline_tags_json(cfg->tags, cfg->ntags, NULL) : NULL;
    d->nworkers = cfg->props.reuse ? cfg->props.workers : 1;
    if (d->nworkers < 1)
        d->nworkers = 1;
    d->workers = calloc((size_t)d->nworkers, sizeof *d->workers);
    err = ps_queue_create(&d->work);
    if (err != PS_OK || !d->workers) {
        err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
        goto out;
    }
    /* The writer thread owns eng->store; a device started on reload reads its
     * state through a connection of its own. */
    err = ps_store_create(svc->database, PS_STORE_READER, &rd, em);
    if (err != PS_OK)
        goto out;
    err = ps_store_resume_get(rd, cfg->id, cfg->props.type, &d->w.resume, em);
    if (err != PS_OK)
        goto out;
    d->repair.win[ENG_WINDOW_REPAIR] =
        (eng_window){d->w.resume.repair_from_us, d->w.resume.repair_to_us};
    d->repair.win[ENG_WINDOW_TRIP] = (eng_window){d->w.resume.trip_from_us, d->w.resume.trip_to_us};
    eng_mirror_adopt(eng, d);
    d->resume_clean_at_start = d->w.resume.clean_shutdown;
    atomic_store(&d->last_committed_ts, d->w.resume.last_event_ts_us);
    atomic_store(&d->last_alive_us, d->w.resume.last_healthy_us);
    /* Totals continue across restarts. */
    err = ps_store_counters_list(rd, &rows, &nrows, em);
    if (err != PS_OK)
        goto out;
    for (size_t i = 0; i < nrows; i++) {
        if (rows[i].device_id == cfg->id) {
            d->w.events_total = rows[i].events_total;
            d->w.duplicates = rows[i].duplicates;
            d->w.quarantined = rows[i].quarantined;
            d->w.dropped = rows[i].dropped;
            d->w.failed = rows[i].failed;
            atomic_store(&d->reconnects, rows[i].reconnects);
            atomic_store(&d->empty_frames, rows[i].empty_frames);
        }
    }
    free(rows);
    snprintf(name, sizeof name, "device-%lld", cfg->id);
    err = ps_spool_create(eng->spool_dir, name, &d->spool, em);
out:
    ps_store_destroy(rd);
    if (err != PS_OK) {
        device_free(d);
        return err;
    }
    *out = d;
    return PS_OK;
}

static ps_err device_start(device *d, ps_errmsg *em)
{
    char name[32]; /* "ps-rx-7", "ps-work-7": shown in top -H, cut to 15 bytes */
    size_t torn = 0;
    int started_workers = 0;
    ps_err err;

    snprintf(name, sizeof name, "ps-work-%lld", d->cfg->id);
    for (int i = 0; i < d->nworkers; i++) {
        if (ps_plat_thread_create(&d->workers[i], name, eng_worker_main, d) != PS_OK)
            break;
        started_workers++;
    }
    if (started_workers < d->nworkers) {
        d->nworkers = started_workers;
        if (started_workers == 0)
            return ps_errmsg_set(em, PS_ERR_NOMEM, "cannot start worker threads");
    }
    /* Whatever the last run received but did not commit goes first. */
    err = ps_spool_replay(d->spool, eng_replay_cb, d, &torn, em);
    eng_rx_flush(d);
    if (err != PS_OK)
        PS_LOG_E(d->cfg->id, "spool replay stopped: %s", ps_strerror(err));
    /* Only the last record can be torn: the crash (or power loss) interrupted its
     * write, so it was never committed. An unclean start widens the repair window,
     * so with resume_policy auto the archive returns what it held. */
    if (torn)
        PS_LOG_W(d->cfg->id,
                 "spool: ignored %zu torn record%s at its end, the trace of a crash or power "
                 "loss; nothing committed is lost%s",
                 torn, torn == 1 ? "" : "s",
                 d->svc->resume_policy == PS_RESUME_AUTO
                     ? ", and the repair of this unclean start fetches it again from the archive"
                     : "");
    if (d->next > 0)
        PS_LOG_I(d->cfg->id, "replayed %llu message(s) received before the last stop",
                 (unsigned long long)d->next);
    snprintf(name, sizeof name, "ps-rx-%lld", d->cfg->id);
    if (ps_plat_thread_create(&d->rx, name, eng_rx_main, d) != PS_OK)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "cannot start the receiver thread");
    d->started = true;
    return PS_OK;
}

/* Stops the receiver, drains the workers and waits for the writer to commit
 * everything the device had in flight. */
static void device_stop(device *d)
{
    atomic_store(&d->stop, 1);
    if (d->started)
        (void)ps_plat_thread_join(d->rx);
    d->rx = NULL;
    ps_queue_close(d->work);
    for (int i = 0; i < d->nworkers; i++) {
        (void)ps_plat_thread_join(d->workers[i]);
        d->workers[i] = NULL;
    }
    d->nworkers = 0;
    ps_plat_mutex_lock(d->mu);
    while (d->base < d->next && d->eng->writer_started)
        (void)ps_plat_cond_wait_until(d->cv, d->mu, ps_plat_mono_ms() + 1000);
    ps_plat_mutex_unlock(d->mu);
    d->started = false;
}

/* ---- engine ---------------------------------------------------------------- */

/* Keeps cfg and pipes alive until the engine goes: devices and workers borrow from
 * them. Reloads are rare (an admin edits a file), so the cost is small. On failure
 * both are destroyed. */
static ps_err keep_generation(ps_engine *eng, ps_config *cfg, ps_pipeline_set *pipes)
{
    size_t cap = eng->generations_cap;
    if (ps_mem_grow_array((void **)&eng->generations, &cap, eng->ngenerations,
                          sizeof *eng->generations) != PS_OK ||
        ps_mem_grow_array((void **)&eng->pipe_generations, &eng->generations_cap, eng->ngenerations,
                          sizeof *eng->pipe_generations) != PS_OK) {
        ps_pipeline_set_destroy(pipes);
        ps_config_destroy(cfg);
        return PS_ERR_NOMEM;
    }
    eng->generations[eng->ngenerations] = cfg;
    eng->pipe_generations[eng->ngenerations] = pipes;
    eng->ngenerations++;
    return PS_OK;
}

/* A stop that was not clean (a crash, power loss, kill -9) may have left a damaged
 * page behind; finding it now beats finding it in the middle of a batch. */
static ps_err check_after_unclean_stop(ps_engine *eng, ps_errmsg *em)
{
    bool unclean = false;
    int64_t t0 = ps_plat_mono_ms();
    ps_errmsg why;

    bool marked = eng_dbfile_marked_damaged(eng, false);

    for (size_t i = 0; i < eng->ndevices; i++)
        unclean = unclean || !eng->devices[i]->resume_clean_at_start;
    if (!unclean && !marked)
        return PS_OK;
    PS_LOG_I(PS_LOG_NO_DEVICE, "%s: checking the database",
             marked ? "the last run found the database damaged" : "the last stop was not clean");
    if (ps_store_quick_check(eng->store, &why) != PS_OK)
        return ps_errmsg_set(em, PS_ERR_CORRUPT,
                             "the database is damaged (%s); the spool keeps what was received. "
                             "Run 'podstream repair' (docs/operations.md)",
                             why.text);
    PS_LOG_I(PS_LOG_NO_DEVICE, "the database is sound (checked in %lld ms)",
             (long long)(ps_plat_mono_ms() - t0));
    (void)eng_dbfile_marked_damaged(eng, true);
    return PS_OK;
}

ps_err ps_engine_create(ps_config *cfg, ps_pipeline_set *pipes, ps_engine **out, ps_errmsg *em)
{
    ps_err err;
    ps_engine *eng = calloc(1, sizeof *eng);
    char *state_dir = NULL;

    *out = NULL;
    if (!eng) {
        ps_pipeline_set_destroy(pipes);
        ps_config_destroy(cfg);
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    }
    if (ps_plat_mutex_create(&eng->mu) != PS_OK || ps_plat_mutex_create(&eng->fault_mu) != PS_OK) {
        ps_plat_mutex_destroy(eng->mu);
        free(eng);
        ps_pipeline_set_destroy(pipes);
        ps_config_destroy(cfg);
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    }
    err = keep_generation(eng, cfg, pipes);
    if (err != PS_OK) {
        err = ps_errmsg_set(em, err, "out of memory");
        goto out;
    }
    eng->cfg = cfg;
    eng->pipes = pipes;
    atomic_store(&eng->retention_days, cfg->service.retention_days);
    atomic_store(&eng->retention_max_bytes, cfg->service.retention_max_bytes);
    err = ps_ws_global_init(em);
    if (err != PS_OK)
        goto out;
    state_dir = ps_plat_dir_name(cfg->service.database);
    if (!state_dir) {
        err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
        goto out;
    }
    err = ps_plat_mkdirs(state_dir, 0750, em);
    if (err != PS_OK)
        goto out;
    eng->spool_dir = ps_plat_path_join(state_dir, "spool");
    if (!eng->spool_dir) {
        err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
        goto out;
    }
    err = ps_store_create(cfg->service.database, PS_STORE_WRITER, &eng->store, em);
    if (err != PS_OK)
        goto out;
    eng->db_id_known = ps_plat_file_id(cfg->service.database, &eng->db_id);
    err = ps_queue_create(&eng->commit);
    if (err != PS_OK) {
        err = ps_errmsg_set(em, err, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < cfg->ndevices; i++) {
        device *d;
        if (!cfg->devices[i].status)
            continue;
        err = device_create(eng, &cfg->devices[i], &cfg->service, pipes, &d, em);
        if (err != PS_OK)
            goto out;
        if (ps_mem_grow_array((void **)&eng->devices, &eng->devices_cap, eng->ndevices,
                              sizeof *eng->devices) != PS_OK) {
            device_free(d);
            err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
            goto out;
        }
        eng->devices[eng->ndevices++] = d;
    }
    err = check_after_unclean_stop(eng, em);
out:
    free(state_dir);
    if (err != PS_OK) {
        ps_engine_destroy(eng);
        return err;
    }
    *out = eng;
    return PS_OK;
}

/* The outcome of a configuration load, for the writer's next tick. */
static void note_load(ps_engine *eng, bool accepted, const char *reason)
{
    ps_plat_mutex_lock(eng->mu);
    if (accepted)
        eng->reload.generation++;
    eng->reload.at_us = ps_plat_now_us();
    eng->reload.accepted = accepted;
    eng->reload.at_start = eng->reload.started_us == 0;
    if (eng->reload.at_start)
        eng->reload.started_us = eng->reload.at_us;
    snprintf(eng->reload.reason, sizeof eng->reload.reason, "%s", reason ? reason : "");
    eng->reload_dirty = true;
    ps_plat_mutex_unlock(eng->mu);
}

void ps_engine_reload_refused(ps_engine *eng, const char *reason)
{
    note_load(eng, false, reason);
}

ps_err ps_engine_start(ps_engine *eng, ps_errmsg *em)
{
    note_load(eng, true, NULL);
    if (ps_plat_thread_create(&eng->writer, "ps-writer", eng_writer_main, eng) != PS_OK)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "cannot start the writer thread");
    eng->writer_started = true;
    for (size_t i = 0; i < eng->ndevices; i++) {
        ps_err err = device_start(eng->devices[i], em);
        if (err != PS_OK)
            return err;
        PS_LOG_I(eng->devices[i]->cfg->id, "started \"%s\" (%s, cluster %s, %d worker%s)",
                 eng->devices[i]->cfg->name, ps_data_type_name(eng->devices[i]->cfg->props.type),
                 eng->devices[i]->cfg->props.cluster, eng->devices[i]->nworkers,
                 eng->devices[i]->nworkers == 1 ? "" : "s");
    }
    return PS_OK;
}

/* Settings that shape a running session; a change restarts every device. */
static bool session_settings_equal(const ps_service_settings *a, const ps_service_settings *b)
{
#define SAME_STR(f) ((a->f == NULL) == (b->f == NULL) && (!a->f || strcmp(a->f, b->f) == 0))
    return SAME_STR(tls_ca_file) && SAME_STR(proxy) && SAME_STR(proxy_username) &&
           SAME_STR(proxy_password) && SAME_STR(secrets_dir) && SAME_STR(key_file) &&
           a->max_frame_bytes == b->max_frame_bytes && a->resume_policy == b->resume_policy &&
           a->keepalive_ms == b->keepalive_ms && a->dead_after_ms == b->dead_after_ms &&
           a->backoff_initial_ms == b->backoff_initial_ms &&
           a->backoff_max_ms == b->backoff_max_ms &&
           a->unauthorised_retry_ms == b->unauthorised_retry_ms &&
           a->connect_timeout_ms == b->connect_timeout_ms;
#undef SAME_STR
}

/* Stops the devices that were removed, disabled or changed (all of them when
 * `all`) and leaves the others running on the new pipelines. */
static void reload_stop_changed(ps_engine *eng, ps_config *cfg, ps_pipeline_set *pipes, bool all)
{
    bool any_removed = false;

    /* Stop devices that were removed, disabled or changed: signal all, then wait
     * for each, so the stops overlap. */
    for (size_t i = 0; i < eng->ndevices; i++) {
        device *d = eng->devices[i];
        const ps_device *nd = ps_config_find_device(cfg, d->cfg->id);
        if (!all && nd && nd->status && ps_device_equal(nd, d->cfg)) {
            /* Same device: keep its session, use the newly compiled pipelines. */
            atomic_store(&d->pipes, pipes);
            continue;
        }
        PS_LOG_I(d->cfg->id, "%s; stopping it",
                 !nd           ? "removed from the configuration"
                 : !nd->status ? "disabled"
                               : "configuration changed");
        atomic_store(&d->stop, 1);
        any_removed = true;
    }
    if (any_removed) {
        unsigned t0;
        for (size_t i = 0; i < eng->ndevices; i++)
            if (atomic_load(&eng->devices[i]->stop))
                device_stop(eng->devices[i]);
        /* Let the writer record their final state before they leave its list. */
        t0 = atomic_load(&eng->ticks);
        for (int waited = 0; atomic_load(&eng->ticks) < t0 + 2 && waited < 30; waited++)
            ps_plat_sleep_ms(100);
        ps_plat_mutex_lock(eng->mu);
        for (size_t i = eng->ndevices; i > 0; i--) {
            device *d = eng->devices[i - 1];
            if (!atomic_load(&d->stop))
                continue;
            memmove(&eng->devices[i - 1], &eng->devices[i],
                    (eng->ndevices - i) * sizeof *eng->devices);
            eng->ndevices--;
            ps_spool_destroy(d->spool, !atomic_load(&d->keep_spool));
            device_free(d);
        }
        ps_plat_mutex_unlock(eng->mu);
    }
}

/* Starts the enabled devices of cfg that are not running. */
static void reload_start_new(ps_engine *eng, ps_config *cfg, ps_pipeline_set *pipes, ps_errmsg *em)
{
    ps_err err;

    /* Start the ones that are new or changed. */
    for (size_t i = 0; i < cfg->ndevices; i++) {
        const ps_device *nd = &cfg->devices[i];
        device *d;
        bool grown;
        bool running = false;
        if (!nd->status)
            continue;
        for (size_t j = 0; j < eng->ndevices && !running; j++) {
            const device *o = eng->devices[j];
            running = o && o->cfg->id == nd->id;
        }
        if (running)
            continue;
        err = device_create(eng, nd, &cfg->service, pipes, &d, em);
        if (err != PS_OK) {
            PS_LOG_E(nd->id, "cannot start: %s", em ? em->text : ps_strerror(err));
            continue;
        }
        ps_plat_mutex_lock(eng->mu);
        grown = ps_mem_grow_array((void **)&eng->devices, &eng->devices_cap, eng->ndevices,
                                  sizeof *eng->devices) == PS_OK;
        if (grown)
            eng->devices[eng->ndevices++] = d;
        ps_plat_mutex_unlock(eng->mu);
        if (!grown) {
            device_free(d);
            continue;
        }
        if (device_start(d, em) != PS_OK)
            PS_LOG_E(nd->id, "cannot start: %s", em ? em->text : "");
        else
            PS_LOG_I(nd->id, "started \"%s\"", nd->name);
    }
}

ps_err ps_engine_reload(ps_engine *eng, ps_config *cfg, ps_pipeline_set *pipes, ps_errmsg *em)
{
    bool all = false;
    ps_err err;
    /* The writer, the lock and the spool stay on the database the service started
     * with, while a restarted device would read its resume state from the new one:
     * devices would stop. Half applying it is worse than refusing it whole. */
    if (strcmp(cfg->service.database, eng->cfg->service.database) != 0) {
        err = ps_errmsg_set(em, PS_ERR_INVALID,
                            "database changed from %s to %s; a reload cannot move the "
                            "database, restart the service to use it",
                            eng->cfg->service.database, cfg->service.database);
        ps_pipeline_set_destroy(pipes);
        ps_config_destroy(cfg);
        note_load(eng, false, em ? em->text : "the database changed");
        return err;
    }
    err = keep_generation(eng, cfg, pipes);
    if (err != PS_OK) {
        note_load(eng, false, "out of memory");
        return ps_errmsg_set(em, err, "out of memory");
    }
    if (!session_settings_equal(&cfg->service, &eng->cfg->service)) {
        PS_LOG_I(PS_LOG_NO_DEVICE, "connection settings changed; restarting every device");
        all = true;
    }
    ps_log_set_level(cfg->service.log_level);

    reload_stop_changed(eng, cfg, pipes, all);
    eng->cfg = cfg;
    eng->pipes = pipes;
    atomic_store(&eng->retention_days, cfg->service.retention_days);
    atomic_store(&eng->retention_max_bytes, cfg->service.retention_max_bytes);
    reload_start_new(eng, cfg, pipes, em);
    note_load(eng, true, NULL);
    return PS_OK;
}

/* What the stop left behind, as ps_engine_stop reports it. */
static ps_err stop_result(ps_engine *eng, ps_errmsg *em)
{
    unsigned long long spooled = atomic_load(&eng->left_spooled);
    unsigned long long lost = atomic_load(&eng->left_lost);
    if (lost)
        return ps_errmsg_set(em, PS_ERR_IO,
                             "%llu received event(s) could be neither stored nor spooled, and "
                             "%llu stay in the spool for the next start; %s",
                             lost, spooled,
                             eng->cfg->service.resume_policy == PS_RESUME_AUTO
                                 ? "the next start fetches the lost ones from the archive"
                                 : "resume_policy live-only: the lost ones are not fetched "
                                   "again");
    if (spooled)
        return ps_errmsg_set(em, PS_ERR_AGAIN,
                             "%llu received event(s) were not stored; the spool keeps them for "
                             "the next start",
                             spooled);
    return PS_OK;
}

ps_err ps_engine_stop(ps_engine *eng, ps_errmsg *em)
{
    if (!eng)
        return PS_OK;
    if (atomic_load(&eng->stopping))
        return stop_result(eng, em);
    /* The deadline before the flag: a writer that sees the flag finds the deadline. */
    atomic_store(&eng->stop_deadline_ms, ps_plat_mono_ms() + PS_ENGINE_STOP_COMMIT_MS);
    atomic_store(&eng->stopping, 1);
    ps_store_set_deadline(eng->store, atomic_load(&eng->stop_deadline_ms));
    /* Receivers first (all at once, so the 5 s budget is shared), then workers. */
    for (size_t i = 0; i < eng->ndevices; i++)
        atomic_store(&eng->devices[i]->stop, 1);
    for (size_t i = 0; i < eng->ndevices; i++)
        device_stop(eng->devices[i]);
    if (eng->writer_started) {
        ps_queue_close(eng->commit);
        (void)ps_plat_thread_join(eng->writer);
        eng->writer = NULL;
        eng->writer_started = false;
        /* The final state gets a short time of its own even when the writer used
         * all of its share. */
        ps_store_set_deadline(eng->store, ps_plat_mono_ms() + PS_ENGINE_STOP_FINAL_MS);
        eng_write_tick(eng, true);
    }
    if (atomic_load(&eng->fault) == PS_ERR_NOTFOUND)
        eng_dbfile_rescue(eng);
    for (size_t i = 0; i < eng->ndevices; i++) {
        device *d = eng->devices[i];
        bool all = d->base == d->next && !atomic_load(&d->keep_spool);
        ps_spool_destroy(d->spool, all);
        d->spool = NULL;
    }
    return stop_result(eng, em);
}

ps_err ps_engine_fault(ps_engine *eng, ps_errmsg *em)
{
    int fault = atomic_load(&eng->fault);
    if (!fault)
        return PS_OK;
    return ps_errmsg_set(em, (ps_err)fault, "%s", eng->fault_text);
}

void ps_engine_health_get(ps_engine *eng, ps_engine_health *out)
{
    memset(out, 0, sizeof *out);
    out->progress = atomic_load(&eng->ticks);
    out->rate_10s = atomic_load(&eng->rate_10s);
    /* No eng->mu: the writer holds it across a database wait of up to 10 s, and
     * the device list changes only on the caller's own thread. */
    for (size_t i = 0; i < eng->ndevices; i++) {
        int s = atomic_load(&eng->devices[i]->state);
        out->devices++;
        out->live += s == PS_STATE_LIVE || s == PS_STATE_BACKFILL;
    }
}

size_t ps_engine_bytes_get(ps_engine *eng, ps_engine_bytes *out, size_t max)
{
    /* No eng->mu, for the reason ps_engine_health_get gives. */
    for (size_t i = 0; i < eng->ndevices && i < max; i++) {
        out[i].device_id = eng->devices[i]->cfg->id;
        out[i].bytes = atomic_load(&eng->devices[i]->rx_bytes);
    }
    return eng->ndevices;
}

void ps_engine_destroy(ps_engine *eng)
{
    if (!eng)
        return;
    (void)ps_engine_stop(eng, NULL);
    for (size_t i = 0; i < eng->ndevices; i++) {
        ps_spool_destroy(eng->devices[i]->spool, false);
        device_free(eng->devices[i]);
    }
    free(eng->devices);
    ps_queue_destroy(eng->commit);
    ps_store_destroy(eng->store);
    eng_dbfile_restore(eng);
    for (size_t i = 0; i < eng->ngenerations; i++) {
        ps_pipeline_set_destroy(eng->pipe_generations[i]);
        ps_config_destroy(eng->generations[i]);
    }
    free(eng->generations);
    free(eng->pipe_generations);
    free(eng->spool_dir);
    ps_plat_mutex_destroy(eng->mu);
    ps_plat_mutex_destroy(eng->fault_mu);
    free(eng);
}
