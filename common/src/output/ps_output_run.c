/* Running outputs: one runner thread per enabled output (see ps_output.h).
 *
 * A runner owns its store connection, its plugin instance and its batch. Each turn
 * it reads the events above its cursor (one short statement), keeps those of its
 * devices and types, runs its pipelines, applies `oversized`, hands the batch to
 * the plugin and commits the cursor to what the destination acknowledged. Nothing
 * is held across turns but the instance; the engine's writer never waits for it
 * beyond a cursor commit, a few rows. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "output/ps_output_run.h"
#include "podstream/ps_log.h"
#include "podstream/ps_platform.h"
#include "podstream/ps_store.h"

/* A deliver call may take this long (the plugin bounds its waits by it). */
#define DELIVER_MS 10000
/* How often a runner writes its state for status, metrics and the GUI. */
#define STATE_MS 1000

void pso_batch_clear(pso_batch *b)
{
    for (size_t i = 0; i < b->count; i++) {
        free(b->ev[i].owned_json);
        free(b->ev[i].owned_key);
    }
    b->count = 0;
    b->bytes = 0;
}

void pso_batch_free(pso_batch *b)
{
    pso_batch_clear(b);
    free(b->ev);
    free(b->out);
    memset(b, 0, sizeof *b);
}

/* The key, and with `values` the typed values, into one block that it->stored
 * points into. */
static ps_err copy_row(pso_item *it, const ps_event_row *r, bool values)
{
    const char *key = r->key ? r->key : "";
    size_t len[PS_EF__COUNT], need = strlen(key) + 1, off;
    for (int i = 0; i < PS_EF__COUNT; i++) {
        len[i] = values && r->text[i] ? strlen(r->text[i]) + 1 : 0;
        need += len[i];
    }
    it->owned_key = malloc(need);
    if (!it->owned_key)
        return PS_ERR_NOMEM;
    off = strlen(key) + 1;
    memcpy(it->owned_key, key, off);
    if (!values)
        return PS_OK;
    it->stored = *r;
    it->stored.key = it->owned_key;
    it->stored.raw = NULL;
    it->stored.raw_len = 0;
    it->stored.tags = NULL;
    for (int i = 0; i < PS_EF__COUNT; i++) {
        it->stored.text[i] = len[i] ? memcpy(it->owned_key + off, r->text[i], len[i]) : NULL;
        off += len[i];
    }
    return PS_OK;
}

/* Makes room for one more item; e.stored follows its item when the array moves. */
static ps_err batch_grow(pso_batch *b)
{
    size_t nc = b->cap ? b->cap * 2 : 64;
    pso_item *ne;
    if (b->count < b->cap)
        return PS_OK;
    ne = realloc(b->ev, nc * sizeof *ne);
    if (!ne)
        return PS_ERR_NOMEM;
    for (size_t i = 0; i < b->count; i++)
        if (ne[i].e.stored)
            ne[i].e.stored = &ne[i].stored;
    b->ev = ne;
    b->cap = nc;
    return PS_OK;
}

/* Adds one event (json taken over); `whole`: json is the stored JSON as it is, and
 * the row's typed values go with it when none was cut. */
static ps_err batch_add(pso_batch *b, const ps_event_row *r, const char *dev, char *json,
                        size_t len, unsigned part, unsigned parts, bool truncated, bool whole)
{
    pso_item *it;
    bool values = whole && ps_store_row_values_whole(r);
    if (batch_grow(b) != PS_OK) {
        free(json);
        return PS_ERR_NOMEM;
    }
    it = &b->ev[b->count];
    memset(it, 0, sizeof *it);
    it->owned_json = json;
    if (copy_row(it, r, values) != PS_OK) {
        free(json);
        return PS_ERR_NOMEM;
    }
    it->e = (ps_output_event){.id = r->id,
                              .device_id = r->device_id,
                              .device_name = dev,
                              .type = r->type,
                              .ts_us = r->ts_us,
                              .key = it->owned_key,
                              .json = json,
                              .json_len = len,
                              .part = part,
                              .parts = parts,
                              .truncated = truncated,
                              .stored = values ? &it->stored : NULL};
    b->count++;
    b->bytes += len;
    return PS_OK;
}

static char *dup_bytes(const char *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

/* The output's pipelines on one event. *json NULL: dropped; *as_stored: *json is
 * `raw` as it is. */
static ps_err run_pipelines(pso_runner *r, const char *raw, size_t len, char **json,
                            size_t *out_len, bool *as_stored)
{
    cJSON *tree;
    ps_err err = PS_OK;
    *json = NULL;
    *as_stored = true;
    if (!r->chain) {
        *json = dup_bytes(raw, len);
        *out_len = len;
        return *json ? PS_OK : PS_ERR_NOMEM;
    }
    tree = cJSON_ParseWithLength(raw, len);
    if (tree)
        err = ps_pipeline_chain_run(r->chain, tree, &r->pres);
    if (!tree || err != PS_OK || r->pres.outcome == PS_PIPELINE_FAILED) {
        /* Sent as stored: a pipeline problem must not lose the event downstream. */
        if (r->pres.outcome == PS_PIPELINE_FAILED)
            ps_log(PS_LOG_WARN, PS_LOG_NO_DEVICE, "output %s: %s; sent as stored", r->name,
                   r->pres.message);
        cJSON_Delete(tree);
        *json = dup_bytes(raw, len);
        *out_len = len;
        return *json ? PS_OK : PS_ERR_NOMEM;
    }
    if (r->pres.outcome == PS_PIPELINE_DROPPED) {
        cJSON_Delete(tree);
        r->acc.dropped++;
        return PS_OK;
    }
    *as_stored = !r->pres.modified;
    *json = r->pres.modified ? cJSON_PrintUnformatted(tree) : dup_bytes(raw, len);
    cJSON_Delete(tree);
    if (!*json)
        return PS_ERR_NOMEM;
    *out_len = strlen(*json);
    return PS_OK;
}

/* An event over the destination's limit, as `oversized` says. */
static ps_err add_oversized(pso_runner *r, const ps_event_row *row, const char *dev, char *json,
                            size_t len)
{
    size_t max = r->limits.max_event_bytes;
    char *cut = NULL;
    ps_err err;
    if (r->def->s->oversized == PS_OUTPUT_OVERSIZED_SKIP) {
        ps_log(PS_LOG_WARN, row->device_id,
               "output %s: event %lld (%zu bytes) is over %zu: skipped", r->name,
               (long long)row->id, len, max);
        free(json);
        r->acc.dropped++;
        return PS_OK;
    }
    if (r->def->s->oversized == PS_OUTPUT_OVERSIZED_SPLIT && row->type == PS_DATA_MESSAGE) {
        pso_parts parts;
        err = pso_split(json, len, max, &parts);
        if (err == PS_OK) {
            free(json);
            for (size_t i = 0; i < parts.count && err == PS_OK; i++) {
                err = batch_add(&r->batch, row, dev, parts.json[i], strlen(parts.json[i]),
                                (unsigned)i + 1, (unsigned)parts.count, parts.truncated, false);
                parts.json[i] = NULL;
            }
            r->acc.split++;
            if (parts.truncated)
                r->acc.truncated++;
            pso_parts_free(&parts);
            return err;
        }
        if (err != PS_ERR_UNSUPPORTED) {
            free(json);
            return err;
        }
    }
    err = pso_truncate(json, len, max, &cut);
    free(json);
    if (err != PS_OK)
        return err;
    r->acc.truncated++;
    return batch_add(&r->batch, row, dev, cut, strlen(cut), 1, 1, true, false);
}

static bool wants(const pso_runner *r, const ps_event_row *row)
{
    bool dev = r->ndevices == 0;
    for (size_t i = 0; i < r->ndevices && !dev; i++)
        dev = r->devices[i] == row->device_id;
    return dev && (r->type_mask == 0 || (r->type_mask & (1u << row->type)));
}

static bool take_row(const ps_event_row *row, void *ctx)
{
    pso_runner *r = ctx;
    char *json = NULL;
    size_t len = 0;
    const char *dev;
    bool as_stored;
    r->rows_seen++;
    if (!wants(r, row))
        return true;
    if ((r->read_err = run_pipelines(r, row->raw, row->raw_len, &json, &len, &as_stored)) !=
            PS_OK ||
        !json)
        return r->read_err == PS_OK;
    dev = pso_device_name(r, row->device_id);
    if (r->limits.max_event_bytes && len > r->limits.max_event_bytes)
        r->read_err = add_oversized(r, row, dev, json, len);
    else
        r->read_err = batch_add(&r->batch, row, dev, json, len, 1, 1, false, as_stored);
    return r->read_err == PS_OK;
}

ps_err pso_read_batch(pso_runner *r, int64_t *read_to, bool *full, ps_errmsg *em)
{
    size_t limit = (size_t)r->def->s->batch_events, bytes = (size_t)r->def->s->batch_bytes;
    ps_err err;
    if (r->limits.max_batch_events && r->limits.max_batch_events < limit)
        limit = r->limits.max_batch_events;
    if (r->limits.max_batch_bytes && r->limits.max_batch_bytes < bytes)
        bytes = r->limits.max_batch_bytes;
    pso_batch_clear(&r->batch);
    r->read_err = PS_OK;
    r->rows_seen = 0;
    err = ps_store_output_read(r->st, r->cursor, limit, bytes, take_row, r, read_to, em);
    if (err == PS_OK && r->read_err != PS_OK)
        err = ps_errmsg_set(em, r->read_err, "preparing a batch: %s", ps_strerror(r->read_err));
    *full = r->rows_seen >= limit || r->batch.bytes >= bytes;
    return err;
}
