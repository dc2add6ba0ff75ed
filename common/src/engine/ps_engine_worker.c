/* The workers: parsing, pipelines, field extraction and everything of storing an
 * event that is not SQLite, in parallel, so that the writer has only SQLite left. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_log.h"
#include "podstream/ps_pipeline.h"
#include "engine/ps_engine_internal.h"

/* Why a message goes to the quarantine (or failed a pipeline), at most this long. */
#define REASON_MAX 512

static void set_reason(item *it, item_kind kind, const char *fmt, ...) PS_PRINTF(3, 4);

static void set_reason(item *it, item_kind kind, const char *fmt, ...)
{
    char why[REASON_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    it->kind = kind;
    free(it->reason);
    it->reason = strdup(why);
}

/* How far the archive session got: the receiver tells a window the server ended
 * early from one it sent whole. */
static void note_archive(const item *it)
{
    device *dev = it->dev;
    long long seen = atomic_load(&dev->archive_newest_ts);
    while (it->row.ts_us > seen &&
           !atomic_compare_exchange_weak(&dev->archive_newest_ts, &seen, it->row.ts_us))
        ;
}

/* Parses, runs the device's pipelines, extracts the indexed fields and prepares
 * the row, so that the writer only has SQLite left to run. */
static void process(item *it, ps_pipeline_result *res, ps_store_prep *prep)
{
    const device *d = it->dev;
    const ps_pipeline_set *set = atomic_load(&it->dev->pipes);
    const ps_pipeline_chain *chain = set ? ps_pipeline_set_device_chain(set, d->cfg->id) : NULL;
    ps_errmsg em;

    if (it->oversize) {
        set_reason(it, ITEM_QUARANTINE,
                   "message of %zu bytes exceeds max_frame_size; first %zu bytes kept",
                   it->total_len, it->len);
        return;
    }
    if (ps_event_parse(&it->ev, it->type, it->data, it->len, &em) != PS_OK) {
        set_reason(it, ITEM_QUARANTINE, "%s", em.text);
        return;
    }
    if (chain) {
        ps_pipeline_chain_run(chain, it->ev.root, res);
        it->pipeline = res->pipeline;
        if (res->outcome == PS_PIPELINE_DROPPED) {
            it->kind = ITEM_DROPPED;
            goto done;
        }
        if (res->outcome == PS_PIPELINE_FAILED) {
            /* The original bytes go to the quarantine: nothing is lost. */
            set_reason(it, ITEM_FAILED, "%s", res->message);
            goto done;
        }
        if (res->ntags > 0)
            it->tags = ps_pipeline_tags_json(d->cfg->tags, d->cfg->ntags, res);
        if (res->modified) {
            it->out = cJSON_PrintUnformatted(it->ev.root);
            if (!it->out) {
                set_reason(it, ITEM_QUARANTINE,
                           "out of memory serialising the event after pipelines");
                goto done;
            }
            it->out_len = strlen(it->out);
        }
    }
    const bool changed = chain && res->modified;
    if ((changed ? ps_event_extract(&it->ev, &em) : ps_event_extract_typed(&it->ev, &em)) !=
        PS_OK) {
        set_reason(it, ITEM_QUARANTINE, "%s%.400s", changed ? "after pipelines: " : "", em.text);
        goto done;
    }
    /* Storing needs the extracted fields and the bytes, not the tree: free it
     * first, so that a huge event is not held in three forms at once. */
    ps_event_tree_free(it->ev.root);
    it->ev.root = NULL;
    if (ps_store_prepare(prep, &it->ev, it->out ? it->out : it->data,
                         it->out ? it->out_len : it->len, &it->row, &em) != PS_OK) {
        set_reason(it, ITEM_QUARANTINE, "%s", em.text);
        goto done;
    }
    it->kind = ITEM_EVENT;
    if (it->archive)
        note_archive(it);
    /* The row holds all the writer needs in one block, compressed: a few hundred
     * bytes. The frame stays in the spool until the commit, so a queued event
     * costs far less than it did on the wire, and the writer frees two blocks. */
    free(it->data);
    it->data = NULL;
    free(it->out);
    it->out = NULL;
    ps_event_deinit(&it->ev);
done:
    /* The tree is not needed any more: free it here so that queued items cost
     * little more than their bytes. */
    ps_event_tree_free(it->ev.root);
    it->ev.root = NULL;
}

void *eng_worker_main(void *arg)
{
    device *d = arg;
    void *batch[64];
    ps_pipeline_result res;
    ps_store_prep *prep = NULL;
    ps_errmsg em;

    ps_plat_thread_background();
    /* process() deletes every tree it parses, on this thread */
    ps_event_use_arena(true);
    if (ps_store_prep_create(d->eng->store, &prep, &em) != PS_OK) {
        /* Only out of memory: the receiver's window fills and it stops reading,
         * and what was received stays in the spool. */
        PS_LOG_E(d->cfg->id, "worker cannot start: %s", em.text);
        eng_set_error(d, "worker cannot start: %s", em.text);
        ps_event_use_arena(false);
        return NULL;
    }
    ps_pipeline_result_init(&res);
    for (;;) {
        int closed = 0;
        size_t n = ps_queue_pop_batch(d->work, batch, 64, 500, 0, &closed);
        for (size_t i = 0; i < n; i++)
            process(batch[i], &res, prep);
        /* One hand-over per batch keeps the writer's queue lock cold. */
        if (n > 0 && ps_queue_push_many(d->eng->commit, batch, n) != PS_OK) {
            eng_inflight_done(d, (item **)batch, n);
            for (size_t i = 0; i < n; i++)
                eng_item_free(batch[i]);
        }
        if (closed)
            break;
    }
    ps_pipeline_result_deinit(&res);
    ps_store_prep_destroy(prep);
    ps_event_use_arena(false);
    return NULL;
}
