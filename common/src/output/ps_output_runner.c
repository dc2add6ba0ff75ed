/* The runner threads and their lifecycle: start, reload, stop (see ps_output.h). */
#include <stdlib.h>
#include <string.h>

#include "output/ps_output_run.h"
#include "podstream/ps_log.h"

/* A deliver call may take this long unless the service stops. */
#define DELIVER_MS 30000
/* At a stop, a deliver under way gets this long to finish its batch. */
#define STOP_GRACE_MS 3000
/* How often a runner writes its state for status, metrics and the GUI. */
#define STATE_MS 1000

struct ps_outputs {
    char *db_path;
    char *state_dir;
    pso_runner **runners;
    size_t nrunners;
    ps_output_defs **defs; /* every set loaded: runners borrow from them */
    size_t ndefs;
    const ps_pipeline_set *pipes;
};

int64_t ps_output_deadline(const ps_output_batch *batch)
{
    const pso_runner *r = batch->ctl;
    int64_t stop = r ? atomic_load(&r->stop_deadline) : 0;
    return stop > 0 && stop < batch->deadline_ms ? stop : batch->deadline_ms;
}

const char *pso_device_name(const pso_runner *r, long long id)
{
    const ps_device *d = ps_config_find_device(r->cfg, id);
    return d && d->name ? d->name : "";
}

/* Sleeps up to ms, or until the runner is told to stop. */
static void nap(pso_runner *r, int64_t ms)
{
    int64_t until = ps_plat_mono_ms() + ms;
    ps_plat_mutex_lock(r->mu);
    while (!atomic_load(&r->stop) && ps_plat_mono_ms() < until)
        ps_plat_cond_wait_until(r->cv, r->mu, until);
    ps_plat_mutex_unlock(r->mu);
}

/* The next retry delay: doubled from retry_min up to retry_max, +-25 % jitter. */
static int64_t next_backoff(pso_runner *r, int64_t hint_ms)
{
    const ps_output_settings *s = r->def->s;
    uint32_t rnd = 0;
    int64_t d;
    r->backoff_ms = r->backoff_ms ? r->backoff_ms * 2 : s->retry_min_ms;
    if (r->backoff_ms > s->retry_max_ms)
        r->backoff_ms = s->retry_max_ms;
    d = r->backoff_ms;
    (void)ps_plat_random(&rnd, sizeof rnd);
    d = d * 3 / 4 + (int64_t)(rnd % (uint32_t)(d / 2 + 1));
    return hint_ms > d ? hint_ms : d;
}

static void set_error(pso_runner *r, ps_output_state st, const char *msg)
{
    /* Once per episode, and again when the reason changes: not at every retry. */
    bool news = !r->failing || strcmp(r->state.last_error, msg) != 0;
    r->state.state = st;
    snprintf(r->state.last_error, sizeof r->state.last_error, "%s", msg);
    r->state.last_error_us = ps_plat_now_us();
    r->failing = true;
    if (news)
        ps_log(PS_LOG_WARN, PS_LOG_NO_DEVICE, "output %s: %s", r->name, msg);
}

static void count_rate(pso_runner *r, uint64_t n)
{
    int64_t sec = ps_plat_mono_ms() / 1000;
    if (sec != r->sec_now) {
        for (int64_t s = r->sec_now + 1; s <= sec && s <= r->sec_now + 10; s++)
            r->per_sec[s % 10] = 0;
        r->sec_now = sec;
    }
    r->per_sec[sec % 10] += n;
}

/* Writes the state row once a second; logs what retention took from this output. */
static void write_state(pso_runner *r, bool force)
{
    ps_errmsg em;
    ps_output_row *rows = NULL;
    size_t n = 0;
    uint64_t sum = 0;
    if (!r->st || (!force && ps_plat_mono_ms() < r->state_due_ms))
        return;
    r->state_due_ms = ps_plat_mono_ms() + STATE_MS;
    count_rate(r, 0);
    for (int i = 0; i < 10; i++)
        sum += r->per_sec[i];
    r->state.rate = (double)sum / 10.0;
    r->state.updated_us = ps_plat_now_us();
    if (ps_store_output_state_put(r->st, &r->state, &em) != PS_OK)
        ps_log(PS_LOG_WARN, PS_LOG_NO_DEVICE, "output %s: %s", r->name, em.text);
    if (ps_store_output_list(r->st, &rows, &n, &em) != PS_OK)
        return;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(rows[i].name, r->name) != 0)
            continue;
        if (rows[i].retention_dropped > r->last_retention_dropped && r->seen_retention)
            ps_log(PS_LOG_WARN, PS_LOG_NO_DEVICE,
                   "output %s: %llu events were deleted by retention_max_db_size before it "
                   "delivered them (%llu in all)",
                   r->name,
                   (unsigned long long)(rows[i].retention_dropped - r->last_retention_dropped),
                   (unsigned long long)rows[i].retention_dropped);
        r->last_retention_dropped = rows[i].retention_dropped;
        r->seen_retention = true;
    }
    free(rows);
}

/* Store connection and plugin instance, made again after a failure. */
static bool ensure_ready(pso_runner *r)
{
    ps_errmsg em;
    char msg[600];
    if (!r->st) {
        if (ps_store_create(r->db_path, PS_STORE_WRITER, &r->st, &em) != PS_OK ||
            ps_store_output_cursor(r->st, r->name, &r->cursor, &em) != PS_OK ||
            ps_store_output_inflight(r->st, r->name, &r->inflight, &em) != PS_OK) {
            ps_store_destroy(r->st);
            r->st = NULL;
            snprintf(msg, sizeof msg, "the database: %s", em.text);
            set_error(r, PS_OUTPUT_STATE_ERROR, msg);
            return false;
        }
        /* A batch was out when the last run ended (a crash): sent again, it counts. */
        if (r->inflight > r->resend_to)
            r->resend_to = r->inflight;
    }
    if (!r->inst) {
        ps_output_env env = {
            .settings = r->def->s, .secrets = &r->secrets, .state_dir = r->state_dir};
        r->limits =
            (ps_output_limits){r->def->plugin->max_batch_events, r->def->plugin->max_batch_bytes,
                               r->def->plugin->max_event_bytes};
        if (r->def->plugin->create(&env, r->def->options, &r->limits, &r->inst, &em) != PS_OK) {
            r->inst = NULL;
            set_error(r, PS_OUTPUT_STATE_ERROR, em.text);
            return false;
        }
    }
    return true;
}

/* How far the destination's answer moves the cursor, and what it delivered. */
static int64_t acked_to(const pso_runner *r, const ps_output_result *res, int64_t read_to,
                        uint64_t *delivered, uint64_t *resent)
{
    const pso_batch *b = &r->batch;
    int64_t last = b->ev[b->count - 1].e.id, to = res->delivered_id, prev = 0;
    *delivered = 0;
    *resent = 0;
    if (res->status == PS_OUTPUT_DELIVERED && to >= last)
        to = read_to; /* past the events it did not take, too */
    for (size_t i = 0; i < b->count; i++) {
        int64_t id = b->ev[i].e.id;
        if (id <= to && id != prev) {
            (*delivered)++;
            *resent += id <= r->resend_to;
        }
        prev = id;
    }
    return to > r->cursor ? to : r->cursor;
}

/* Records how far this batch goes before it leaves, so that a crash meanwhile
 * shows up as possible duplicates in the next run (one row, only when it grows). */
static void note_inflight(pso_runner *r)
{
    ps_errmsg em;
    int64_t last = r->batch.ev[r->batch.count - 1].e.id;
    if (last <= r->inflight)
        return;
    if (ps_store_output_inflight_put(r->st, r->name, last, &em) == PS_OK)
        r->inflight = last;
}

/* Nothing of the batch reached the destination (no connection, a certificate that
 * does not verify, a refusal): the record goes back to what may have, so that a reload
 * or a crash before the next try does not count the batch as possible duplicates. */
static void forget_inflight(pso_runner *r)
{
    ps_errmsg em;
    int64_t maybe = r->resend_to > r->cursor ? r->resend_to : r->cursor;
    if (maybe >= r->inflight)
        return;
    if (ps_store_output_inflight_put(r->st, r->name, maybe, &em) == PS_OK)
        r->inflight = maybe;
}

static void commit(pso_runner *r, int64_t to, uint64_t delivered, uint64_t dups, bool whole)
{
    ps_output_row c;
    ps_errmsg em;
    memset(&c, 0, sizeof c);
    c.delivered = delivered;
    c.duplicates = dups;
    if (whole) {
        c.dropped = r->acc.dropped;
        c.split = r->acc.split;
        c.truncated = r->acc.truncated;
    }
    c.last_delivery_us = delivered ? ps_plat_now_us() : 0;
    if (to <= r->cursor && !delivered)
        return;
    if (ps_store_output_commit(r->st, r->name, to, &c, &em) != PS_OK) {
        /* Not committed: the batch goes again (at least once). */
        set_error(r, PS_OUTPUT_STATE_RETRYING, em.text);
        return;
    }
    r->cursor = to > r->cursor ? to : r->cursor;
    count_rate(r, delivered);
}

static void deliver(pso_runner *r, int64_t read_to)
{
    ps_output_batch b;
    ps_output_result res;
    uint64_t delivered = 0, resent = 0;
    int64_t to;
    pso_batch *pb = &r->batch;
    if (pb->out_cap < pb->count) {
        ps_output_event *o = realloc(pb->out, pb->count * sizeof *o);
        if (!o) {
            set_error(r, PS_OUTPUT_STATE_RETRYING, "out of memory");
            nap(r, next_backoff(r, 0));
            return;
        }
        pb->out = o;
        pb->out_cap = pb->count;
    }
    for (size_t i = 0; i < pb->count; i++)
        pb->out[i] = pb->ev[i].e;
    b = (ps_output_batch){.events = pb->out,
                          .count = pb->count,
                          .bytes = pb->bytes,
                          .deadline_ms = ps_plat_mono_ms() + DELIVER_MS,
                          .ctl = r};
    memset(&res, 0, sizeof res);
    r->state.state = PS_OUTPUT_STATE_SENDING;
    note_inflight(r);
    r->def->plugin->deliver(r->inst, &b, &res);
    to = acked_to(r, &res, read_to, &delivered, &resent);
    commit(r, to, delivered, res.duplicates + resent,
           res.status == PS_OUTPUT_DELIVERED && to == read_to);
    if (res.status != PS_OUTPUT_DELIVERED && !res.nothing_sent &&
        pb->ev[pb->count - 1].e.id > r->resend_to)
        r->resend_to = pb->ev[pb->count - 1].e.id; /* part of it may have arrived */
    else if (res.status != PS_OUTPUT_DELIVERED && res.nothing_sent)
        forget_inflight(r);
    if (res.status == PS_OUTPUT_DELIVERED) {
        r->backoff_ms = 0;
        if (r->failing)
            ps_log(PS_LOG_INFO, PS_LOG_NO_DEVICE, "output %s: delivering again", r->name);
        r->failing = false;
        return;
    }
    set_error(r, res.status == PS_OUTPUT_FAILED ? PS_OUTPUT_STATE_ERROR : PS_OUTPUT_STATE_RETRYING,
              res.message[0] ? res.message : "the destination did not acknowledge");
    write_state(r, true);
    nap(r, res.status == PS_OUTPUT_FAILED ? r->def->s->retry_max_ms
                                          : next_backoff(r, res.retry_after_ms));
}

/* One turn: a batch read, delivered and committed, or a wait. */
static void turn(pso_runner *r)
{
    ps_errmsg em;
    int64_t read_to = r->cursor;
    bool full = false;
    memset(&r->acc, 0, sizeof r->acc);
    if (pso_read_batch(r, &read_to, &full, &em) != PS_OK) {
        set_error(r, PS_OUTPUT_STATE_ERROR, em.text);
        nap(r, next_backoff(r, 0));
        return;
    }
    if (r->batch.count == 0) {
        commit(r, read_to, 0, 0, true); /* events it does not take, or dropped */
        if (!full) {
            r->state.state = PS_OUTPUT_STATE_IDLE;
            write_state(r, false);
            nap(r, r->def->s->flush_interval_ms);
        }
        return;
    }
    /* A partial batch waits for more until flush_interval after the last send. */
    if (!full && !atomic_load(&r->stop) &&
        ps_plat_mono_ms() < r->last_send_ms + r->def->s->flush_interval_ms) {
        nap(r, r->last_send_ms + r->def->s->flush_interval_ms - ps_plat_mono_ms());
        return;
    }
    r->last_send_ms = ps_plat_mono_ms();
    deliver(r, read_to);
    if (r->state.state == PS_OUTPUT_STATE_SENDING && !full)
        r->state.state = PS_OUTPUT_STATE_IDLE;
    write_state(r, false);
}

static void *runner_main(void *arg)
{
    pso_runner *r = arg;
    ps_errmsg em;
    /* Below the ingest stages: during a catch-up the output takes only the CPU
     * ingest leaves, and its backlog waits in the store. Best effort. */
    if (ps_plat_thread_lowest(&em) != PS_OK)
        ps_log(PS_LOG_DEBUG, PS_LOG_NO_DEVICE, "output %s: %s", r->name, em.text);
    if (r->def->s->npipelines &&
        ps_pipeline_chain_create(r->pipes, (const char *const *)r->def->s->pipelines,
                                 r->def->s->npipelines, &r->chain, &em) != PS_OK)
        set_error(r, PS_OUTPUT_STATE_ERROR, em.text);
    while (!atomic_load(&r->stop)) {
        if ((r->def->s->npipelines && !r->chain) || !ensure_ready(r)) {
            write_state(r, true);
            nap(r, next_backoff(r, 0));
            continue;
        }
        turn(r);
    }
    r->state.state = PS_OUTPUT_STATE_STOPPED;
    write_state(r, true);
    if (r->def->plugin && r->inst)
        r->def->plugin->destroy(r->inst);
    r->inst = NULL;
    return NULL;
}

/* ---- lifecycle ------------------------------------------------------------------- */

static void runner_free(pso_runner *r)
{
    if (!r)
        return;
    ps_pipeline_chain_destroy(r->chain);
    ps_pipeline_result_deinit(&r->pres);
    pso_batch_free(&r->batch);
    ps_store_destroy(r->st);
    ps_secret_ctx_deinit(&r->secrets);
    ps_plat_cond_destroy(r->cv);
    ps_plat_mutex_destroy(r->mu);
    free(r->devices);
    free(r->db_path);
    free(r);
}

static void runner_signal_stop(pso_runner *r, int64_t deadline_ms)
{
    ps_plat_mutex_lock(r->mu);
    atomic_store(&r->stop_deadline, deadline_ms);
    atomic_store(&r->stop, true);
    ps_plat_cond_broadcast(r->cv);
    ps_plat_mutex_unlock(r->mu);
}

/* The ids of the devices an output names (by name or id). */
static ps_err resolve_devices(pso_runner *r)
{
    const ps_output_settings *s = r->def->s;
    if (s->ndevices == 0)
        return PS_OK;
    r->devices = calloc(s->ndevices, sizeof *r->devices);
    if (!r->devices)
        return PS_ERR_NOMEM;
    for (size_t i = 0; i < s->ndevices; i++) {
        char *end = NULL;
        long long id = strtoll(s->devices[i], &end, 10);
        bool numeric = end && end != s->devices[i] && *end == '\0';
        for (size_t d = 0; d < r->cfg->ndevices; d++) {
            const ps_device *dev = &r->cfg->devices[d];
            if ((dev->name && strcmp(dev->name, s->devices[i]) == 0) || (numeric && dev->id == id))
                r->devices[r->ndevices++] = dev->id;
        }
    }
    return PS_OK;
}

static ps_err runner_start(ps_outputs *o, const ps_output_def *def, const ps_config *cfg,
                           const ps_pipeline_set *pipes, pso_runner **out)
{
    pso_runner *r = calloc(1, sizeof *r);
    char tname[16];
    ps_err err;
    *out = NULL;
    if (!r)
        return PS_ERR_NOMEM;
    snprintf(r->name, sizeof r->name, "%s", def->s->name);
    r->def = def;
    r->cfg = cfg;
    r->pipes = pipes;
    r->state_dir = o->state_dir;
    snprintf(r->state.name, sizeof r->state.name, "%s", r->name);
    ps_pipeline_result_init(&r->pres);
    ps_secret_ctx_init(&r->secrets, cfg->service.secrets_dir, cfg->service.key_file);
    for (size_t i = 0; i < def->s->ntypes; i++) {
        ps_data_type t;
        if (ps_data_type_parse(def->s->types[i], &t) == PS_OK)
            r->type_mask |= 1u << t;
    }
    r->db_path = strdup(o->db_path);
    if (!r->db_path || resolve_devices(r) != PS_OK || ps_plat_mutex_create(&r->mu) != PS_OK ||
        ps_plat_cond_create(&r->cv) != PS_OK) {
        runner_free(r);
        return PS_ERR_NOMEM;
    }
    /* Thread names keep 15 bytes: "ps-out-" and the name's first 8. */
    snprintf(tname, sizeof tname, "ps-out-%.8s", r->name);
    if ((err = ps_plat_thread_create(&r->thread, tname, runner_main, r)) != PS_OK) {
        runner_free(r);
        return err;
    }
    ps_log(PS_LOG_INFO, PS_LOG_NO_DEVICE, "output %s (%s) started", r->name, def->plugin->name);
    *out = r;
    return PS_OK;
}

static void runner_stop(pso_runner *r)
{
    runner_signal_stop(r, ps_plat_mono_ms() + STOP_GRACE_MS);
    ps_plat_thread_join(r->thread);
    runner_free(r);
}

ps_err ps_outputs_create(const char *db_path, const char *state_dir, ps_outputs **out,
                         ps_errmsg *em)
{
    ps_outputs *o = calloc(1, sizeof *o);
    *out = NULL;
    if (!o || !(o->db_path = strdup(db_path)) ||
        !(o->state_dir = strdup(state_dir ? state_dir : "."))) {
        ps_outputs_destroy(o, 0);
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    }
    *out = o;
    return PS_OK;
}

static const ps_output_def *find_def(const ps_output_defs *defs, const char *name)
{
    for (size_t i = 0; i < defs->count; i++)
        if (defs->items[i].plugin && defs->items[i].s->enabled &&
            strcmp(defs->items[i].s->name, name) == 0)
            return &defs->items[i];
    return NULL;
}

/* Stops runners whose output is gone, disabled or changed. */
static void stop_changed(ps_outputs *o, const ps_output_defs *defs, const ps_pipeline_set *pipes)
{
    size_t keep = 0;
    for (size_t i = 0; i < o->nrunners; i++) {
        pso_runner *r = o->runners[i];
        const ps_output_def *d = find_def(defs, r->name);
        if (d && ps_output_def_equal(d, r->def) && (pipes == r->pipes || !d->s->npipelines)) {
            o->runners[keep++] = r;
            continue;
        }
        ps_log(PS_LOG_INFO, PS_LOG_NO_DEVICE, "output %s %s", r->name,
               d ? "changed: restarting it" : "removed or disabled: stopping it");
        runner_stop(r);
    }
    o->nrunners = keep;
}

static bool running(const ps_outputs *o, const char *name)
{
    for (size_t i = 0; i < o->nrunners; i++)
        if (strcmp(o->runners[i]->name, name) == 0)
            return true;
    return false;
}

/* Records the enabled outputs in the store, so that retention waits for them. */
static ps_err sync_store(ps_outputs *o, const ps_output_defs *defs, ps_errmsg *em)
{
    const char **names = calloc(defs->count + 1, sizeof *names);
    const char **types = calloc(defs->count + 1, sizeof *types);
    size_t n = 0;
    ps_store *st = NULL;
    ps_err err = PS_ERR_NOMEM;
    if (!names || !types)
        goto out;
    for (size_t i = 0; i < defs->count; i++)
        if (defs->items[i].plugin && defs->items[i].s->enabled) {
            names[n] = defs->items[i].s->name;
            types[n++] = defs->items[i].plugin->name;
        }
    if ((err = ps_store_create(o->db_path, PS_STORE_WRITER, &st, em)) == PS_OK)
        err = ps_store_outputs_sync(st, names, types, n, em);
out:
    ps_store_destroy(st);
    free(names);
    free(types);
    return err;
}

ps_err ps_outputs_apply(ps_outputs *o, const ps_config *cfg, const ps_pipeline_set *pipes,
                        ps_errmsg *em)
{
    ps_diag diag;
    ps_output_defs *defs = NULL, **nd;
    ps_err err;
    ps_diag_init(&diag);
    err = ps_output_defs_create(cfg, pipes, &defs, &diag);
    ps_diag_deinit(&diag);
    if (err != PS_OK)
        return ps_errmsg_set(em, err, "the outputs' configuration has errors (podstream validate)");
    nd = realloc(o->defs, (o->ndefs + 1) * sizeof *nd);
    if (!nd) {
        ps_output_defs_destroy(defs);
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    }
    o->defs = nd;
    o->defs[o->ndefs++] = defs;
    /* Before any runner starts: a new output's row exists when it reads its cursor. */
    if ((err = sync_store(o, defs, em)) != PS_OK)
        return err;
    stop_changed(o, defs, pipes);
    for (size_t i = 0; i < defs->count; i++) {
        const ps_output_def *d = &defs->items[i];
        pso_runner **nr, *r = NULL;
        if (!d->plugin || !d->s->enabled || running(o, d->s->name))
            continue;
        nr = realloc(o->runners, (o->nrunners + 1) * sizeof *nr);
        if (!nr)
            return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
        o->runners = nr;
        if ((err = runner_start(o, d, cfg, pipes, &r)) != PS_OK) {
            ps_log(PS_LOG_ERROR, PS_LOG_NO_DEVICE, "output %s: cannot start: %s", d->s->name,
                   ps_strerror(err));
            continue;
        }
        o->runners[o->nrunners++] = r;
    }
    o->pipes = pipes;
    return PS_OK;
}

void ps_outputs_destroy(ps_outputs *o, int64_t deadline_ms)
{
    if (!o)
        return;
    /* All at once, so their batches finish in parallel. */
    for (size_t i = 0; i < o->nrunners; i++)
        runner_signal_stop(o->runners[i],
                           deadline_ms ? deadline_ms : ps_plat_mono_ms() + STOP_GRACE_MS);
    for (size_t i = 0; i < o->nrunners; i++) {
        ps_plat_thread_join(o->runners[i]->thread);
        runner_free(o->runners[i]);
    }
    free(o->runners);
    for (size_t i = 0; i < o->ndefs; i++)
        ps_output_defs_destroy(o->defs[i]);
    free(o->defs);
    free(o->db_path);
    free(o->state_dir);
    free(o);
}
