/* ps_store write path: the writer's statements, batches, preparing rows on worker
 * threads and putting them in the writer, quarantine, commit and rollback. */
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_mem.h"
#include "podstream/ps_platform.h"
#include "podstream/ps_utf8.h"
#include "store/ps_store_internal.h"

static ps_err prepare(ps_store *st, sqlite3_stmt **out, const char *sql, ps_errmsg *em)
{
    return ps_store_prepare_kept(&st->conn, out, sql, em);
}

/* The statements of the batch itself and of the events in it. */
static ps_err prepare_event_statements(ps_store *st, ps_errmsg *em)
{
    char sql[2048];
    size_t n;
    ps_err err;
    if ((err = prepare(st, &st->st_begin, "BEGIN IMMEDIATE", em)) != PS_OK ||
        (err = prepare(st, &st->st_commit, "COMMIT", em)) != PS_OK ||
        (err = prepare(st, &st->st_rollback, "ROLLBACK", em)) != PS_OK)
        return err;
    n = (size_t)snprintf(sql, sizeof sql,
                         "INSERT INTO events(ts_us, device_id, type, key, key_hash");
    for (int i = 0; i < PS_EF__COUNT; i++)
        n += (size_t)snprintf(sql + n, sizeof sql - n, ", %s", ps_store_field_col[i]);
    n += (size_t)snprintf(sql + n, sizeof sql - n,
                          ", spam_score, size_bytes, tags, dict_id, fmt, raw_len, raw) "
                          "VALUES(?,?,?,?,?");
    for (int i = 0; i < PS_EF__COUNT; i++)
        n += (size_t)snprintf(sql + n, sizeof sql - n, ",?");
    snprintf(sql + n, sizeof sql - n,
             ",?,?,?,?,?,?,?) ON CONFLICT(ts_us, device_id, key_hash) DO NOTHING");
    if ((err = prepare(st, &st->st_ins_event, sql, em)) != PS_OK ||
        (err = prepare(st, &st->st_ins_fts, "INSERT INTO events_fts(rowid, doc) VALUES(?, ?)",
                       em)) != PS_OK ||
        (err = prepare(st, &st->st_dup,
                       "SELECT key FROM events WHERE ts_us = ? AND device_id = ? AND key_hash = ?",
                       em)) != PS_OK)
        return err;
    return prepare(st, &st->st_ins_quar,
                   "INSERT INTO quarantine(received_us, device_id, type, reason, raw_len, "
                   "raw) VALUES(?,?,?,?,?,?)",
                   em);
}

/* The statements of what a batch also writes: counts, state, time bounds. */
static ps_err prepare_side_statements(ps_store *st, ps_errmsg *em)
{
    const struct {
        sqlite3_stmt **stmt;
        const char *sql;
    } side[] = {
        {&st->st_hourly, "INSERT INTO hourly(device_id, type, hour_us, events) VALUES(?,?,?,?) "
                         "ON CONFLICT(device_id, type, hour_us) DO UPDATE SET "
                         "events = events + excluded.events"},
        {&st->st_resume_put,
         "INSERT INTO resume(device_id, type, last_event_ts_us, last_healthy_us, "
         "clean_shutdown, repair_from_us, repair_to_us, trip_from_us, trip_to_us) "
         "VALUES(?,?,?,?,?,?,?,?,?) "
         "ON CONFLICT(device_id, type) DO "
         "UPDATE SET last_event_ts_us = excluded.last_event_ts_us, "
         "last_healthy_us = excluded.last_healthy_us, "
         "clean_shutdown = excluded.clean_shutdown, "
         "repair_from_us = excluded.repair_from_us, "
         "repair_to_us = excluded.repair_to_us, "
         "trip_from_us = excluded.trip_from_us, "
         "trip_to_us = excluded.trip_to_us"},
        {&st->st_counters_put,
         "INSERT OR REPLACE INTO counters(device_id, name, type, state, "
         "events_total, rate_10s, rate_1m, last_event_ts_us, lag_ms, reconnects, "
         "duplicates, quarantined, dropped, failed, last_error, last_error_us, "
         "updated_us, empty_frames) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"},
        {&st->st_pipeline,
         "INSERT INTO pipeline_counters(device_id, pipeline, dropped, failed) "
         "VALUES(?,?,?,?) ON CONFLICT(device_id, pipeline) DO UPDATE SET "
         "dropped = dropped + excluded.dropped, failed = failed + excluded.failed"},
        {&st->st_chunk, "INSERT INTO chunks(id, min_ts, max_ts, pmax) VALUES(?1, ?2, ?3, "
                        "max(?3, coalesce((SELECT pmax FROM chunks WHERE id < ?1 ORDER BY id "
                        "DESC LIMIT 1), ?3))) ON CONFLICT(id) DO UPDATE SET "
                        "min_ts = min(min_ts, excluded.min_ts), "
                        "max_ts = max(max_ts, excluded.max_ts), pmax = max(pmax, excluded.pmax)"},
        /* Normally no row: new ids land in the newest chunk. After every event was
         * deleted SQLite reuses small ids, and later chunks must still bound them. */
        {&st->st_chunk_raise, "UPDATE chunks SET pmax = ?2 WHERE id > ?1 AND pmax < ?2"},
        {&st->st_dict_ref, "UPDATE dicts SET refs = refs + ? WHERE id = ?"},
    };
    ps_err err = PS_OK;
    for (size_t i = 0; i < sizeof side / sizeof side[0] && err == PS_OK; i++)
        err = prepare(st, side[i].stmt, side[i].sql, em);
    return err;
}

ps_err ps_store_write_prepare(ps_store *st, ps_errmsg *em)
{
    ps_err err = prepare_event_statements(st, em);
    if (err == PS_OK)
        err = prepare_side_statements(st, em);
    if (err == PS_OK)
        err = ps_chunkdev_prepare(&st->cdev, &st->conn, em);
    return err;
}

void ps_store_write_close(ps_store *st)
{
    sqlite3_stmt **stmts[] = {&st->st_begin,        &st->st_commit,     &st->st_rollback,
                              &st->st_ins_event,    &st->st_ins_fts,    &st->st_ins_quar,
                              &st->st_hourly,       &st->st_resume_get, &st->st_resume_put,
                              &st->st_counters_put, &st->st_pipeline,   &st->st_dict_ref,
                              &st->st_dup,          &st->st_chunk,      &st->st_chunk_raise};
    for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++) {
        sqlite3_finalize(*stmts[i]);
        *stmts[i] = NULL;
    }
    ps_chunkdev_deinit(&st->cdev);
    free(st->hacc);
    free(st->cacc);
    free(st->dref);
    st->hacc = NULL;
    st->cacc = NULL;
    st->dref = NULL;
}

/* ---- batches ----------------------------------------------------------------------- */

ps_err ps_store_begin(ps_store *st, ps_errmsg *em)
{
    ps_err err = ps_store_need_writer(&st->conn, "ps_store_begin", em);
    if (err != PS_OK)
        return err;
    if (st->in_batch)
        return ps_errmsg_set(em, PS_ERR_INTERNAL, "ps_store_begin: a batch is already open");
    /* A finished dictionary is stored in its own transaction first: if it rode in
     * the batch and the batch rolled back, later rows would name a missing
     * dictionary. */
    if ((err = ps_store_codec_poll(&st->codec, &st->conn, em)) != PS_OK)
        return err;
    if ((err = ps_store_step_done(&st->conn, st->st_begin, "starting a batch", em)) != PS_OK)
        return err;
    st->in_batch = true;
    st->nhacc = 0;
    st->ndref = 0;
    st->ncacc = 0;
    ps_chunkdev_reset(&st->cdev);
    return PS_OK;
}

/* Writes the time bounds of the chunks the batch touched. At commit only: any
 * other write statement in the middle of a batch makes the full-text index flush
 * what it has gathered so far into a segment of its own (statement savepoints),
 * and many small segments cost merges later. */
static ps_err chunk_flush(ps_store *st, ps_errmsg *em)
{
    ps_err err = PS_OK;
    for (size_t i = 0; i < st->ncacc && err == PS_OK; i++) {
        const ps_chunk_acc *c = &st->cacc[i];
        sqlite3_bind_int64(st->st_chunk, 1, c->id);
        sqlite3_bind_int64(st->st_chunk, 2, c->min_ts);
        sqlite3_bind_int64(st->st_chunk, 3, c->max_ts);
        if ((err = ps_store_step_done(&st->conn, st->st_chunk, "recording time bounds", em)) !=
            PS_OK)
            break;
        sqlite3_bind_int64(st->st_chunk_raise, 1, c->id);
        sqlite3_bind_int64(st->st_chunk_raise, 2, c->max_ts);
        err = ps_store_step_done(&st->conn, st->st_chunk_raise, "recording time bounds", em);
    }
    return err;
}

/* Ids grow, so the chunk of a new event is the last one noted or a new one. */
static ps_err chunk_note(ps_store *st, int64_t id, int64_t ts)
{
    int64_t c = id >> PS_CHUNK_SHIFT;
    ps_chunk_acc *last = st->cacc && st->ncacc ? &st->cacc[st->ncacc - 1] : NULL;
    if (last && last->id == c) {
        if (ts < last->min_ts)
            last->min_ts = ts;
        if (ts > last->max_ts)
            last->max_ts = ts;
        return PS_OK;
    }
    if (ps_mem_grow_array((void **)&st->cacc, &st->capcacc, st->ncacc, sizeof *st->cacc) != PS_OK)
        return PS_ERR_NOMEM;
    st->cacc[st->ncacc++] = (ps_chunk_acc){c, ts, ts};
    return PS_OK;
}

static ps_err count_hour(ps_store *st, long long device_id, int type, int64_t ts_us)
{
    const int64_t hour = 3600LL * 1000000LL;
    int64_t h = ts_us >= 0 ? ts_us / hour * hour : -((-ts_us + hour - 1) / hour) * hour;
    for (size_t i = st->nhacc; i-- > 0;) {
        ps_hour_acc *a = &st->hacc[i];
        if (a->hour_us == h && a->device_id == device_id && a->type == type) {
            a->n++;
            return PS_OK;
        }
    }
    if (ps_mem_grow_array((void **)&st->hacc, &st->caphacc, st->nhacc, sizeof *st->hacc) != PS_OK)
        return PS_ERR_NOMEM;
    st->hacc[st->nhacc++] = (ps_hour_acc){device_id, type, h, 1};
    return PS_OK;
}

static ps_err count_dict(ps_store *st, int64_t dict_id)
{
    if (dict_id == 0)
        return PS_OK;
    for (size_t i = 0; i < st->ndref; i++)
        if (st->dref[i].dict_id == dict_id) {
            st->dref[i].n++;
            return PS_OK;
        }
    if (ps_mem_grow_array((void **)&st->dref, &st->capdref, st->ndref, sizeof *st->dref) != PS_OK)
        return PS_ERR_NOMEM;
    st->dref[st->ndref++] = (ps_dict_ref){dict_id, 1};
    return PS_OK;
}

/* Inserts the row with key_hash h; *taken when (ts, device, h) is already used. */
static ps_err insert_row(ps_store *st, long long device_id, const ps_store_row *row, int64_t h,
                         const char *tags, bool *taken, ps_errmsg *em)
{
    sqlite3_stmt *s = st->st_ins_event;
    int col = 1;
    int rc;
    sqlite3_bind_int64(s, col++, row->ts_us);
    sqlite3_bind_int64(s, col++, device_id);
    sqlite3_bind_int(s, col++, (int)row->type);
    sqlite3_bind_text(s, col++, row->key, (int)row->key_len, SQLITE_STATIC);
    sqlite3_bind_int64(s, col++, h);
    for (int i = 0; i < PS_EF__COUNT; i++, col++)
        if (row->vals[i])
            sqlite3_bind_text(s, col, row->vals[i], (int)row->val_len[i], SQLITE_STATIC);
    if (row->has_spam_score)
        sqlite3_bind_double(s, col, row->spam_score);
    col++;
    if (row->has_size)
        sqlite3_bind_int64(s, col, row->size_bytes);
    col++;
    if (tags && *tags && strcmp(tags, "[]") != 0)
        sqlite3_bind_text(s, col, tags, -1, SQLITE_STATIC);
    col++;
    sqlite3_bind_int64(s, col++, row->dict_id);
    sqlite3_bind_int(s, col++, row->fmt);
    sqlite3_bind_int64(s, col++, (sqlite3_int64)row->raw_len);
    sqlite3_bind_blob(s, col, row->blob, (int)row->blob_len, SQLITE_STATIC);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE)
        return ps_store_dberr(&st->conn, em, "storing an event");
    *taken = sqlite3_changes(st->conn.db) == 0;
    return PS_OK;
}

/* True when the row holding (ts, device, h) has exactly this key. */
static ps_err same_key(ps_store *st, long long device_id, const ps_store_row *row, int64_t h,
                       bool *same, ps_errmsg *em)
{
    sqlite3_stmt *s = st->st_dup;
    int rc;
    *same = false;
    sqlite3_bind_int64(s, 1, row->ts_us);
    sqlite3_bind_int64(s, 2, device_id);
    sqlite3_bind_int64(s, 3, h);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(s, 0);
        *same = k && strcmp(k, row->key) == 0;
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return ps_store_dberr(&st->conn, em, "checking for a duplicate");
    return PS_OK;
}

ps_err ps_store_prep_create(ps_store *st, ps_store_prep **out, ps_errmsg *em)
{
    ps_store_prep *p;
    ps_err err = ps_store_need_writer(&st->conn, "ps_store_prep_create", em);
    *out = NULL;
    if (err != PS_OK)
        return err;
    p = calloc(1, sizeof *p);
    if (!p)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    p->codec = &st->codec;
    *out = p;
    return PS_OK;
}

void ps_store_prep_destroy(ps_store_prep *p)
{
    if (!p)
        return;
    ps_store_cscratch_deinit(&p->z);
    free(p->ebuf);
    free(p->vbuf);
    ps_buf_deinit(&p->doc);
    free(p);
}

void ps_store_row_init(ps_store_row *row)
{
    memset(row, 0, sizeof *row);
}

void ps_store_row_deinit(ps_store_row *row)
{
    if (!row)
        return;
    free(row->mem);
    ps_store_row_init(row);
}

/* After a huge event, gives the scratch buffers back rather than keep one set of
 * that size per worker for good. */
static void prep_shrink(ps_store_prep *p)
{
    const size_t big = 1u << 20;
    char **bufs[] = {(char **)&p->z.cbuf, &p->ebuf, &p->vbuf, &p->doc.p};
    size_t *caps[] = {&p->z.ccap, &p->ecap, &p->vcap, &p->doc.cap};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (*caps[i] > big) {
            free(*bufs[i]);
            *bufs[i] = NULL;
            *caps[i] = 0;
        }
}

/* Copies the key and the typed values, cut to their columns, into p->vbuf as
 * NUL-terminated strings: the values as they will be stored. */
static ps_err stage_values(ps_store_prep *p, const ps_event *ev, const char **key,
                           const char *vals[PS_EF__COUNT], size_t lens[PS_EF__COUNT])
{
    size_t key_len = strlen(ev->key), need = key_len + 1, off;
    for (int i = 0; i < PS_EF__COUNT; i++) {
        size_t max = i == PS_EF_SUBJECT ? PS_STORE_SUBJECT_MAX : PS_STORE_FIELD_MAX;
        lens[i] = ev->text[i] ? ps_utf8_prefix(ev->text[i], strlen(ev->text[i]), max) : 0;
        need += ev->text[i] ? lens[i] + 1 : 0;
    }
    if (ps_mem_reserve((void **)&p->vbuf, &p->vcap, need) != PS_OK)
        return PS_ERR_NOMEM;
    memcpy(p->vbuf, ev->key, key_len + 1);
    *key = p->vbuf;
    off = key_len + 1;
    for (int i = 0; i < PS_EF__COUNT; i++) {
        vals[i] = NULL;
        if (!ev->text[i])
            continue;
        memcpy(p->vbuf + off, ev->text[i], lens[i]);
        p->vbuf[off + lens[i]] = '\0';
        vals[i] = p->vbuf + off;
        off += lens[i] + 1;
    }
    p->vlen = off;
    return PS_OK;
}

ps_err ps_store_prepare(ps_store_prep *p, const ps_event *ev, const char *raw, size_t raw_len,
                        ps_store_row *row, ps_errmsg *em)
{
    const void *blob = NULL;
    size_t blob_len = 0, enc_len = 0;
    const char *key = NULL, *vals[PS_EF__COUNT];
    size_t lens[PS_EF__COUNT];
    ps_elide_list el;
    bool elided = false;
    const char *payload = raw;
    size_t payload_len = raw_len;
    int64_t dict_id = 0;
    char *mem;
    ps_err err = PS_OK;

    ps_store_row_deinit(row);
    if (!ev || !ev->key || !*ev->key)
        return ps_errmsg_set(em, PS_ERR_INVALID, "event without a natural key");
    if ((unsigned)ev->type >= PS_STORE_TYPES)
        return ps_errmsg_set(em, PS_ERR_INVALID, "event of unknown type %d", (int)ev->type);
    if (!raw)
        return ps_errmsg_set(em, PS_ERR_INVALID, "event without its JSON");
    if (stage_values(p, ev, &key, vals, lens) != PS_OK)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory preparing an event");
    /* Elide with the values as stored, since those are what a reader expands the
     * markers with. */
    ps_store_elide_list(key, vals, &el);
    if (ps_store_elide(raw, raw_len, &el, &p->ebuf, &p->ecap, &enc_len, &elided) != PS_OK)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory preparing an event");
    /* Cheap insurance: the stored form must give back the exact bytes. */
    if (elided && ps_store_unelide_equals(p->ebuf, enc_len, &el, raw, raw_len)) {
        payload = p->ebuf;
        payload_len = enc_len;
    } else {
        elided = false;
    }
    ps_store_codec_sample(p->codec, ev->type, payload, payload_len);
    err = ps_store_codec_compress(p->codec, &p->z, ev->type, payload, payload_len, &blob, &blob_len,
                                  &dict_id, em);
    if (err != PS_OK)
        return err;
    /* Built from the stored values, as retention rebuilds it to delete it. */
    if ((err = ps_store_fts_doc(&p->doc, key, vals, em)) != PS_OK)
        return err;

    /* One exact-size block: prepared rows wait in the writer's queue, and the
     * writer frees what it stored. */
    mem = malloc(p->vlen + blob_len + p->doc.len + 1);
    if (!mem)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory preparing an event");
    memcpy(mem, p->vbuf, p->vlen);
    row->mem = mem;
    row->key = mem;
    row->key_len = strlen(key);
    for (int i = 0; i < PS_EF__COUNT; i++) {
        row->vals[i] = vals[i] ? mem + (vals[i] - p->vbuf) : NULL;
        row->val_len[i] = lens[i];
    }
    row->blob = memcpy(mem + p->vlen, blob, blob_len);
    row->blob_len = blob_len;
    row->doc = memcpy(mem + p->vlen + blob_len, p->doc.p, p->doc.len + 1);
    row->doc_len = p->doc.len;
    row->key_hash = (int64_t)ps_store_hash64(row->key, row->key_len);
    row->type = ev->type;
    row->ts_us = ev->ts_us;
    row->spam_score = ev->spam_score;
    row->has_spam_score = ev->has_spam_score;
    row->size_bytes = ev->size_bytes;
    row->has_size = ev->has_size;
    row->raw_len = raw_len;
    row->dict_id = dict_id;
    row->fmt = elided ? 1 : 0;
    prep_shrink(p);
    return PS_OK;
}

/* What ps_store_put and ps_store_insert check first. */
static ps_err need_batch(ps_store *st, const char *fn, bool *duplicate, ps_errmsg *em)
{
    ps_err err = ps_store_need_writer(&st->conn, fn, em);
    if (duplicate)
        *duplicate = false;
    if (err != PS_OK)
        return err;
    if (!st->in_batch)
        return ps_errmsg_set(em, PS_ERR_INTERNAL, "%s outside a batch", fn);
    return PS_OK;
}

ps_err ps_store_put(ps_store *st, long long device_id, const ps_store_row *row, const char *tags,
                    bool *duplicate, ps_errmsg *em)
{
    int64_t h = row->key_hash, id;
    bool taken = true, same = false;
    ps_err err = need_batch(st, "ps_store_put", duplicate, em);
    if (err != PS_OK)
        return err;
    if (!row->mem)
        return ps_errmsg_set(em, PS_ERR_INTERNAL, "ps_store_put of a row not prepared");
    /* A taken (ts, device, hash) is a duplicate only when the key is the same;
     * otherwise another key got that hash first and this one takes the next. */
    for (int probe = 0; probe < 16; probe++, h = (int64_t)((uint64_t)h + 1)) {
        same = false;
        err = insert_row(st, device_id, row, h, tags, &taken, em);
        if (err != PS_OK || !taken)
            break;
        if ((err = same_key(st, device_id, row, h, &same, em)) != PS_OK)
            break;
        if (same)
            break;
    }
    if (err == PS_OK && taken && !same)
        err = ps_errmsg_set(em, PS_ERR_INTERNAL, "no free natural-key slot for event %s", row->key);
    if (err != PS_OK)
        return err;
    if (taken) {
        if (duplicate)
            *duplicate = true;
        return PS_OK;
    }
    id = sqlite3_last_insert_rowid(st->conn.db);
    sqlite3_bind_int64(st->st_ins_fts, 1, id);
    sqlite3_bind_text(st->st_ins_fts, 2, row->doc, (int)row->doc_len, SQLITE_STATIC);
    if ((err = ps_store_step_done(&st->conn, st->st_ins_fts, "indexing an event", em)) != PS_OK)
        return err;
    if (chunk_note(st, id, row->ts_us) != PS_OK ||
        ps_chunkdev_note(&st->cdev, id, device_id, row->ts_us) != PS_OK ||
        count_hour(st, device_id, (int)row->type, row->ts_us) != PS_OK ||
        count_dict(st, row->dict_id) != PS_OK)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    return PS_OK;
}

ps_err ps_store_insert(ps_store *st, long long device_id, const ps_event *ev, const char *raw,
                       size_t raw_len, const char *tags, bool *duplicate, ps_errmsg *em)
{
    ps_store_row row;
    ps_err err = need_batch(st, "ps_store_insert", duplicate, em);
    if (err != PS_OK)
        return err;
    if (!st->prep && (err = ps_store_prep_create(st, &st->prep, em)) != PS_OK)
        return err;
    if (!st->prep)
        return PS_ERR_NOMEM; /* not reached; for the analyzer */
    ps_store_row_init(&row);
    err = ps_store_prepare(st->prep, ev, raw, raw_len, &row, em);
    if (err == PS_OK)
        err = ps_store_put(st, device_id, &row, tags, duplicate, em);
    ps_store_row_deinit(&row);
    return err;
}

ps_err ps_store_quarantine(ps_store *st, long long device_id, ps_data_type type, const char *raw,
                           size_t raw_len, const char *reason, ps_errmsg *em)
{
    sqlite3_stmt *s = st->st_ins_quar;
    size_t bound = ZSTD_compressBound(raw_len);
    void *buf = NULL;
    size_t n;
    ps_err err = ps_store_need_writer(&st->conn, "ps_store_quarantine", em);
    if (err != PS_OK)
        return err;
    buf = malloc(bound ? bound : 1);
    if (!buf)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    /* No dictionary: what lands here is by definition not like the usual traffic. */
    n = ZSTD_compress(buf, bound, raw ? raw : "", raw ? raw_len : 0, 3);
    if (ZSTD_isError(n)) {
        free(buf);
        return ps_errmsg_set(em, PS_ERR_INTERNAL, "compressing a quarantined payload: %s",
                             ZSTD_getErrorName(n));
    }
    sqlite3_bind_int64(s, 1, ps_plat_now_us());
    sqlite3_bind_int64(s, 2, device_id);
    sqlite3_bind_int(s, 3, (int)type);
    sqlite3_bind_text(s, 4, reason ? reason : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)raw_len);
    sqlite3_bind_blob(s, 6, buf, (int)n, SQLITE_STATIC);
    err = ps_store_step_done(&st->conn, s, "storing a quarantined payload", em);
    free(buf);
    return err;
}

ps_err ps_store_commit(ps_store *st, ps_errmsg *em)
{
    ps_err err = ps_store_need_writer(&st->conn, "ps_store_commit", em);
    if (err != PS_OK)
        return err;
    if (!st->in_batch)
        return ps_errmsg_set(em, PS_ERR_INTERNAL, "ps_store_commit without a batch");
    err = chunk_flush(st, em);
    if (err == PS_OK)
        err = ps_chunkdev_flush(&st->cdev, &st->conn, em);
    for (size_t i = 0; i < st->nhacc && err == PS_OK; i++) {
        const ps_hour_acc *a = &st->hacc[i];
        sqlite3_bind_int64(st->st_hourly, 1, a->device_id);
        sqlite3_bind_int(st->st_hourly, 2, a->type);
        sqlite3_bind_int64(st->st_hourly, 3, a->hour_us);
        sqlite3_bind_int64(st->st_hourly, 4, (sqlite3_int64)a->n);
        err = ps_store_step_done(&st->conn, st->st_hourly, "counting events per hour", em);
    }
    for (size_t i = 0; i < st->ndref && err == PS_OK; i++) {
        sqlite3_bind_int64(st->st_dict_ref, 1, st->dref[i].n);
        sqlite3_bind_int64(st->st_dict_ref, 2, st->dref[i].dict_id);
        err = ps_store_step_done(&st->conn, st->st_dict_ref, "counting dictionary users", em);
    }
    if (err == PS_OK)
        err = ps_store_step_done(&st->conn, st->st_commit, "committing a batch", em);
    if (err != PS_OK) {
        /* A failed COMMIT (disk full, I/O) leaves the transaction open: end it so
         * the next batch can start, and let the caller retry the events. */
        (void)ps_store_rollback(st);
        return err;
    }
    st->in_batch = false;
    st->nhacc = 0;
    st->ndref = 0;
    ps_chunkdev_reset(&st->cdev);
    return PS_OK;
}

ps_err ps_store_rollback(ps_store *st)
{
    ps_err err = PS_OK;
    if (st->conn.mode != PS_STORE_WRITER)
        return PS_ERR_INTERNAL;
    if (!sqlite3_get_autocommit(st->conn.db)) {
        int rc = sqlite3_step(st->st_rollback);
        sqlite3_reset(st->st_rollback);
        if (rc != SQLITE_DONE)
            err = PS_ERR_DB;
    }
    st->in_batch = false;
    st->nhacc = 0;
    st->ndref = 0;
    st->ncacc = 0;
    ps_chunkdev_reset(&st->cdev);
    return err;
}
