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

/* One block for the item: the JSON when it is the stored one as it is (`json`
 * not NULL), the key, and with `values` the typed values, which it->stored points
 * into. One allocation per event, not three. */
static ps_err copy_row(pso_item *it, const ps_event_row *r, const char *json, size_t json_len,
                       bool values)
{
    const char *key = r->key ? r->key : "";
    size_t len[PS_EF__COUNT], key_len = strlen(key) + 1, off = json ? json_len + 1 : 0;
    size_t need = off + key_len;
    for (int i = 0; i < PS_EF__COUNT; i++) {
        len[i] = values && r->text[i] ? strlen(r->text[i]) + 1 : 0;
        need += len[i];
    }
    if (!(it->owned_key = malloc(need)))
        return PS_ERR_NOMEM;
    if (json) {
        memcpy(it->owned_key, json, json_len);
        it->owned_key[json_len] = '\0';
    }
    it->e.key = memcpy(it->owned_key + off, key, key_len);
    it->e.json = json ? it->owned_key : it->owned_json;
    off += key_len;
    if (!values)
        return PS_OK;
    it->stored = *r;
    it->stored.key = it->e.key;
    it->stored.raw = NULL;
    it->stored.raw_len = 0;
    it->stored.tags = NULL;
    for (int i = 0; i < PS_EF__COUNT; i++) {
        it->stored.text[i] = len[i] ? memcpy(it->owned_key + off, r->text[i], len[i]) : NULL;
        off += len[i];
    }
    it->e.stored = &it->stored;
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

/* Adds one event: `owned` (taken over) is a JSON the runner made (a pipeline's
 * output, a part, a truncated copy); NULL: the stored JSON `raw` goes as it is, with
 * the row's typed values when none was cut. */
static ps_err batch_add(pso_batch *b, const ps_event_row *r, const char *dev, char *owned,
                        const char *raw, size_t len, unsigned part, unsigned parts, bool truncated)
{
    pso_item *it;
    if (batch_grow(b) != PS_OK) {
        free(owned);
        return PS_ERR_NOMEM;
    }
    it = &b->ev[b->count];
    memset(it, 0, sizeof *it);
    it->owned_json = owned;
    it->e = (ps_output_event){.id = r->id,
                              .device_id = r->device_id,
                              .device_name = dev,
                              .type = r->type,
                              .ts_us = r->ts_us,
                              .json_len = len,
                              .part = part,
                              .parts = parts,
                              .truncated = truncated};
    if (copy_row(it, r, owned ? NULL : raw, len, !owned && ps_store_row_values_whole(r)) != PS_OK) {
        free(owned);
        return PS_ERR_NOMEM;
    }
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

/* The output's pipelines on one event. *keep false: dropped. *json: the JSON the
 * pipelines made (a new string); NULL when the stored one goes as it is. */
static ps_err run_pipelines(pso_runner *r, const char *raw, size_t len, char **json,
                            size_t *out_len, bool *keep)
{
    cJSON *tree;
    ps_err err = PS_OK;
    *json = NULL;
    *out_len = len;
    *keep = true;
    if (!r->chain)
        return PS_OK;
    tree = cJSON_ParseWithLength(raw, len);
    if (tree)
        err = ps_pipeline_chain_run(r->chain, tree, &r->pres);
    if (!tree || err != PS_OK || r->pres.outcome == PS_PIPELINE_FAILED) {
        /* Sent as stored: a pipeline problem must not lose the event downstream. */
        if (r->pres.outcome == PS_PIPELINE_FAILED)
            ps_log(PS_LOG_WARN, PS_LOG_NO_DEVICE, "output %s: %s; sent as stored", r->name,
                   r->pres.message);
        cJSON_Delete(tree);
        return PS_OK;
    }
    if (r->pres.outcome == PS_PIPELINE_DROPPED) {
        cJSON_Delete(tree);
        r->acc.dropped++;
        *keep = false;
        return PS_OK;
    }
    if (r->pres.modified) {
        *json = cJSON_PrintUnformatted(tree);
        err = *json ? PS_OK : PS_ERR_NOMEM;
        *out_len = *json ? strlen(*json) : 0;
    }
    cJSON_Delete(tree);
    return err;
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
                err = batch_add(&r->batch, row, dev, parts.json[i], parts.json[i],
                                strlen(parts.json[i]), (unsigned)i + 1, (unsigned)parts.count,
                                parts.truncated);
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
    return batch_add(&r->batch, row, dev, cut, cut, strlen(cut), 1, 1, true);
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
    bool keep;
    r->rows_seen++;
    if (!wants(r, row))
        return true;
    r->read_err = run_pipelines(r, row->raw, row->raw_len, &json, &len, &keep);
    if (r->read_err != PS_OK || !keep)
        return r->read_err == PS_OK;
    dev = pso_device_name(r, row->device_id);
    if (r->limits.max_event_bytes && len > r->limits.max_event_bytes) {
        if (!json && !(json = dup_bytes(row->raw, len)))
            r->read_err = PS_ERR_NOMEM;
        else
            r->read_err = add_oversized(r, row, dev, json, len);
    } else {
        r->read_err =
            batch_add(&r->batch, row, dev, json, json ? json : row->raw, len, 1, 1, false);
    }
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
