/* ps_store reading: queries, the JSON of one event, the newest id, hourly counts.
 *
 * A query has two shapes. With a filter the full-text index can answer (an
 * address, an id, words), the index yields candidate rows and each one is
 * confirmed against its typed columns in C, so exact filters stay exact although
 * the index only holds hashes and words. A typed value that is words of the entry
 * (the disposition) is such a filter too for a newest-first listing with a limit.
 * Without one, the natural-key index (ts first) walks the time range in order and
 * stops at the limit. */
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_mem.h"
#include "podstream/ps_platform.h"
#include "store/ps_store_internal.h"

void ps_query_init(ps_query *q)
{
    memset(q, 0, sizeof *q);
    q->device_id = -1;
    q->type = -1;
    q->since_us = INT64_MIN;
    q->until_us = INT64_MAX;
}

/* ---- running a query ---------------------------------------------------------------- */

#define COL_ID     0
#define COL_DEVICE 1
#define COL_TYPE   2
#define COL_TS     3
#define COL_KEY    4
#define COL_TEXT   5
#define COL_SPAM   (COL_TEXT + PS_EF__COUNT)
#define COL_SIZE   (COL_SPAM + 1)
#define COL_TAGS   (COL_SIZE + 1)
#define COL_DICT   (COL_TAGS + 1)
#define COL_FMT    (COL_DICT + 1)
#define COL_RAWLEN (COL_FMT + 1)
#define COL_RAW    (COL_RAWLEN + 1)

static size_t select_list(char *buf, size_t cap, bool raw)
{
    size_t n = (size_t)snprintf(buf, cap, "e.id, e.device_id, e.type, e.ts_us, e.key");
    for (int i = 0; i < PS_EF__COUNT; i++)
        n += (size_t)snprintf(buf + n, cap - n, ", e.%s", ps_store_field_col[i]);
    n += (size_t)snprintf(buf + n, cap - n,
                          ", e.spam_score, e.size_bytes, e.tags, e.dict_id, e.fmt, e.raw_len, %s",
                          raw ? "e.raw" : "NULL");
    return n;
}

static ps_err fill_row(ps_store *st, sqlite3_stmt *s, bool want_raw, ps_event_row *r, ps_errmsg *em)
{
    memset(r, 0, sizeof *r);
    r->id = sqlite3_column_int64(s, COL_ID);
    r->device_id = sqlite3_column_int64(s, COL_DEVICE);
    r->type = (ps_data_type)sqlite3_column_int(s, COL_TYPE);
    r->ts_us = sqlite3_column_int64(s, COL_TS);
    r->key = (const char *)sqlite3_column_text(s, COL_KEY);
    for (int i = 0; i < PS_EF__COUNT; i++)
        r->text[i] = (const char *)sqlite3_column_text(s, COL_TEXT + i);
    if (sqlite3_column_type(s, COL_SPAM) != SQLITE_NULL) {
        r->has_spam_score = true;
        r->spam_score = sqlite3_column_double(s, COL_SPAM);
    }
    if (sqlite3_column_type(s, COL_SIZE) != SQLITE_NULL) {
        r->has_size = true;
        r->size_bytes = sqlite3_column_int64(s, COL_SIZE);
    }
    r->tags = (const char *)sqlite3_column_text(s, COL_TAGS);
    if (want_raw)
        return ps_store_row_json(&st->codec, &st->conn, sqlite3_column_int64(s, COL_DICT),
                                 sqlite3_column_int(s, COL_FMT), sqlite3_column_blob(s, COL_RAW),
                                 (size_t)sqlite3_column_bytes(s, COL_RAW),
                                 (size_t)sqlite3_column_int64(s, COL_RAWLEN), r->key, r->text,
                                 &r->raw, &r->raw_len, em);
    return PS_OK;
}

/* ---- owned row copies (newest-first heap, trace) --------------------------------- */

ps_err ps_row_copy_make(ps_row_copy *dst, const ps_event_row *r)
{
    const char *src[PS_EF__COUNT + 2];
    size_t total = 0;
    char *p;
    src[0] = r->key;
    src[1] = r->tags;
    for (int i = 0; i < PS_EF__COUNT; i++)
        src[2 + i] = r->text[i];
    for (size_t i = 0; i < sizeof src / sizeof src[0]; i++)
        total += src[i] ? strlen(src[i]) + 1 : 0;
    p = malloc(total ? total : 1);
    if (!p)
        return PS_ERR_NOMEM;
    dst->r = *r;
    dst->r.raw = NULL;
    dst->r.raw_len = 0;
    dst->strings = p;
    for (size_t i = 0; i < sizeof src / sizeof src[0]; i++) {
        const char *copy = NULL;
        if (src[i]) {
            size_t n = strlen(src[i]) + 1;
            memcpy(p, src[i], n);
            copy = p;
            p += n;
        }
        if (i == 0)
            dst->r.key = copy;
        else if (i == 1)
            dst->r.tags = copy;
        else
            dst->r.text[i - 2] = copy;
    }
    return PS_OK;
}

/* The order of a listing: ts, then device, then key_hash, as the natural-key index
 * orders the listing without a search (key_hash is unique per ts and device). */
static int rank_order(int64_t ts_x, int64_t dev_x, int64_t kh_x, int64_t ts_y, int64_t dev_y,
                      int64_t kh_y)
{
    if (ts_x != ts_y)
        return ts_x < ts_y ? -1 : 1;
    if (dev_x != dev_y)
        return dev_x < dev_y ? -1 : 1;
    return kh_x < kh_y ? -1 : kh_x > kh_y;
}

static int row_order(const ps_row_copy *x, const ps_row_copy *y)
{
    return rank_order(x->r.ts_us, x->r.device_id, x->key_hash, y->r.ts_us, y->r.device_id,
                      y->key_hash);
}

static int ps_row_copy_desc(const void *a, const void *b)
{
    return row_order((const ps_row_copy *)b, (const ps_row_copy *)a);
}

/* Delivers owned rows in order, fetching the JSON of each when asked. */
ps_err ps_row_copy_deliver(ps_store *st, ps_row_copy *rows, size_t n, bool want_raw,
                           ps_store_row_fn fn, void *ctx, size_t *delivered, ps_errmsg *em)
{
    for (size_t i = 0; i < n; i++) {
        ps_event_row *r = &rows[i].r;
        char *raw = NULL;
        bool more;
        if (want_raw) {
            ps_err err = ps_store_event_raw(st, r->id, &raw, &r->raw_len, em);
            if (err == PS_ERR_NOTFOUND)
                continue; /* deleted by retention since we listed it */
            if (err != PS_OK)
                return err;
            r->raw = raw;
        }
        if (delivered)
            (*delivered)++;
        more = fn(r, ctx);
        free(raw);
        r->raw = NULL;
        if (!more)
            break;
    }
    return PS_OK;
}

/* ---- running a query ---------------------------------------------------------------- */

/* The id range whose rows can hold ts in [since, until): *empty when none can. */
static ps_err id_bounds(ps_store *st, const ps_query *q, int64_t *lo, int64_t *hi, bool *empty,
                        ps_errmsg *em)
{
    bool found;
    int64_t c;
    ps_err err;
    *lo = 0;
    *hi = INT64_MAX;
    *empty = false;
    if (q->until_us != INT64_MAX) {
        err = ps_store_int_query(&st->conn, "SELECT max(id) FROM chunks WHERE min_ts < ?",
                                 &q->until_us, &found, &c, "reading time bounds", em);
        if (err != PS_OK)
            return err;
        if (!found) {
            *empty = true;
            return PS_OK;
        }
        *hi = ((c + 1) << PS_CHUNK_SHIFT) - 1;
    }
    if (q->since_us != INT64_MIN) {
        /* pmax never decreases with the chunk id: the first chunk that reaches
         * `since` starts the range. */
        err = ps_store_int_query(&st->conn, "SELECT min(id) FROM chunks WHERE pmax >= ?",
                                 &q->since_us, &found, &c, "reading time bounds", em);
        if (err != PS_OK)
            return err;
        if (!found) {
            *empty = true;
            return PS_OK;
        }
        *lo = c << PS_CHUNK_SHIFT;
    }
    return PS_OK;
}

static size_t where_filters(char *sql, size_t cap, const ps_query *q)
{
    size_t n = 0;
    if (q->since_us != INT64_MIN)
        n += (size_t)snprintf(sql + n, cap - n, " AND e.ts_us >= ?");
    if (q->until_us != INT64_MAX)
        n += (size_t)snprintf(sql + n, cap - n, " AND e.ts_us < ?");
    if (q->device_id >= 0)
        n += (size_t)snprintf(sql + n, cap - n, " AND e.device_id = ?");
    if (q->type >= 0)
        n += (size_t)snprintf(sql + n, cap - n, " AND e.type = ?");
    if (q->disposition && *q->disposition)
        n += (size_t)snprintf(sql + n, cap - n, " AND e.disposition = ? COLLATE NOCASE");
    return n;
}

static void bind_filters(sqlite3_stmt *s, int *bi, const ps_query *q)
{
    if (q->since_us != INT64_MIN)
        sqlite3_bind_int64(s, (*bi)++, q->since_us);
    if (q->until_us != INT64_MAX)
        sqlite3_bind_int64(s, (*bi)++, q->until_us);
    if (q->device_id >= 0)
        sqlite3_bind_int64(s, (*bi)++, q->device_id);
    if (q->type >= 0)
        sqlite3_bind_int(s, (*bi)++, q->type);
    if (q->disposition && *q->disposition)
        sqlite3_bind_text(s, (*bi)++, q->disposition, -1, SQLITE_STATIC);
}

/* Min-heap of the best `limit` rows so far, the oldest on top. */
typedef struct heap {
    ps_row_copy *v;
    size_t n, cap;
} heap;

static void heap_down(heap *h, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && row_order(&h->v[l], &h->v[m]) < 0)
            m = l;
        if (r < h->n && row_order(&h->v[r], &h->v[m]) < 0)
            m = r;
        if (m == i)
            return;
        ps_row_copy t = h->v[i];
        h->v[i] = h->v[m];
        h->v[m] = t;
        i = m;
    }
}

/* Whether a row ranked (ts, device, key_hash) would enter the heap: the walk asks
 * before it reads the row. */
static bool heap_wants(const heap *h, int64_t ts, int64_t dev, int64_t kh)
{
    const ps_row_copy *top = &h->v[0];
    return h->n < h->cap ||
           rank_order(ts, dev, kh, top->r.ts_us, top->r.device_id, top->key_hash) > 0;
}

/* Offers a row that heap_wants. */
static ps_err heap_offer(heap *h, const ps_event_row *r, int64_t key_hash)
{
    ps_err err;
    if (h->n < h->cap) {
        size_t i = h->n;
        if ((err = ps_row_copy_make(&h->v[h->n++], r)) != PS_OK) {
            h->n--;
            return err;
        }
        h->v[i].key_hash = key_hash;
        while (i > 0 && row_order(&h->v[i], &h->v[(i - 1) / 2]) < 0) {
            ps_row_copy t = h->v[i];
            h->v[i] = h->v[(i - 1) / 2];
            h->v[(i - 1) / 2] = t;
            i = (i - 1) / 2;
        }
        return PS_OK;
    }
    free(h->v[0].strings);
    if ((err = ps_row_copy_make(&h->v[0], r)) != PS_OK) {
        h->v[0] = h->v[--h->n];
        return err;
    }
    h->v[0].key_hash = key_hash;
    heap_down(h, 0);
    return PS_OK;
}

/* Reads row `id` through `one` (the select list by id), confirms it against the
 * plan and offers it to the heap. */
static ps_err newest_consider(ps_store *st, const ps_query *q, ps_plan *plan, sqlite3_stmt *one,
                              int64_t id, int64_t key_hash, heap *h, ps_errmsg *em)
{
    ps_event_row row;
    bool ok = false;
    ps_err err = PS_OK;
    int rc;
    sqlite3_bind_int64(one, 1, id);
    rc = sqlite3_step(one);
    if (rc == SQLITE_ROW) {
        if ((err = fill_row(st, one, false, &row, em)) == PS_OK &&
            (err = ps_plan_confirm(st, q, plan, &row, &ok, em)) == PS_OK && ok &&
            heap_offer(h, &row, key_hash) != PS_OK)
            err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    } else if (rc != SQLITE_DONE) {
        err = ps_store_dberr(&st->conn, em, "running the query");
    }
    sqlite3_reset(one);
    return err;
}

_Static_assert(PS_CHUNK_SHIFT == PS_CHUNKDEV_SHIFT, "chunks and chunk_devices share their ids");

/* The statements of a newest-first walk: the candidates (f), the pmax of a chunk
 * (pm), a candidate's rank through the query's filters (rank) and its row (one). */
typedef struct walk {
    sqlite3_stmt *f, *pm, *rank, *one;
    ps_chunkdev_view cdv;
    int64_t chunk, pmax;
} walk;

static ps_err walk_prepare(ps_store *st, const ps_query *q, const ps_plan *plan, int64_t lo,
                           int64_t hi, walk *w, ps_errmsg *em)
{
    char sql[4096];
    size_t n;
    int bi = 2;
    if (sqlite3_prepare_v2(st->conn.db,
                           "SELECT rowid FROM events_fts WHERE events_fts MATCH ?"
                           " AND rowid >= ? AND rowid <= ? ORDER BY rowid DESC",
                           -1, &w->f, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(st->conn.db, "SELECT pmax FROM chunks WHERE id = ?", -1, &w->pm, NULL) !=
            SQLITE_OK)
        return ps_store_dberr(&st->conn, em, "preparing the query");
    n = (size_t)snprintf(sql, sizeof sql,
                         "SELECT e.ts_us, e.device_id, e.key_hash FROM events e WHERE e.id = ?");
    where_filters(sql + n, sizeof sql - n, q);
    if (sqlite3_prepare_v2(st->conn.db, sql, -1, &w->rank, NULL) != SQLITE_OK)
        return ps_store_dberr(&st->conn, em, "preparing the query");
    n = (size_t)snprintf(sql, sizeof sql, "SELECT ");
    n += select_list(sql + n, sizeof sql - n, false);
    snprintf(sql + n, sizeof sql - n, " FROM events e WHERE e.id = ?");
    if (sqlite3_prepare_v2(st->conn.db, sql, -1, &w->one, NULL) != SQLITE_OK)
        return ps_store_dberr(&st->conn, em, "preparing the query");
    sqlite3_bind_text(w->f, 1, plan->match, (int)plan->mlen, SQLITE_STATIC);
    sqlite3_bind_int64(w->f, 2, lo);
    sqlite3_bind_int64(w->f, 3, hi);
    bind_filters(w->rank, &bi, q);
    return ps_chunkdev_view_init(&w->cdv, &st->conn, em);
}

static void walk_finish(walk *w)
{
    sqlite3_finalize(w->f);
    sqlite3_finalize(w->pm);
    sqlite3_finalize(w->rank);
    sqlite3_finalize(w->one);
    ps_chunkdev_view_deinit(&w->cdv);
}

/* Moves the walk to the chunk of `id`: its pmax and its devices. */
static ps_err walk_chunk(ps_store *st, walk *w, int64_t id, ps_errmsg *em)
{
    if ((id >> PS_CHUNK_SHIFT) == w->chunk)
        return PS_OK;
    w->chunk = id >> PS_CHUNK_SHIFT;
    w->pmax = INT64_MAX; /* no bound known: keep going */
    sqlite3_bind_int64(w->pm, 1, w->chunk);
    if (sqlite3_step(w->pm) == SQLITE_ROW)
        w->pmax = sqlite3_column_int64(w->pm, 0);
    sqlite3_reset(w->pm);
    return ps_chunkdev_view_load(&w->cdv, &st->conn, w->chunk, em);
}

/* Reads the rank of candidate `id` and, when it would be kept, the row itself. */
static ps_err walk_candidate(ps_store *st, const ps_query *q, ps_plan *plan, walk *w, int64_t id,
                             heap *h, ps_errmsg *em)
{
    ps_err err = PS_OK;
    int rc;
    sqlite3_bind_int64(w->rank, 1, id);
    rc = sqlite3_step(w->rank);
    if (rc == SQLITE_ROW) {
        int64_t ts = sqlite3_column_int64(w->rank, 0), kh = sqlite3_column_int64(w->rank, 2);
        if (heap_wants(h, ts, sqlite3_column_int64(w->rank, 1), kh))
            err = newest_consider(st, q, plan, w->one, id, kh, h, em);
    } else if (rc != SQLITE_DONE) {
        err = ps_store_dberr(&st->conn, em, "running the query");
    }
    sqlite3_reset(w->rank);
    return err;
}

/* Newest first through the full-text index: walk candidates from the highest id
 * down, keep the best `limit`, and stop when no older id can hold a newer ts than
 * the oldest kept (chunks.pmax). Ids follow arrival, and POD delivers in roughly
 * ts order, so this reads a little more than `limit` candidates, however many
 * events match in all. When the devices' times diverge (one catching up far
 * behind another) or an archive fill lies among newer events, pmax stays high and
 * the walk goes on down to where it falls; there chunk_devices tells each
 * candidate's device, and a candidate whose device has nothing new enough in its
 * chunk (or is not the device asked for) is passed over unread; "new enough" is
 * --since until the heap is full. The others have
 * their rank (ts, device, key_hash) read, and their row only when it would be
 * kept. */
static ps_err query_newest(ps_store *st, const ps_query *q, ps_plan *plan, int64_t lo, int64_t hi,
                           ps_store_row_fn fn, void *ctx, ps_errmsg *em)
{
    walk w = {.chunk = -1, .pmax = INT64_MAX};
    heap h = {0};
    ps_err err;
    int rc;
    h.cap = q->limit;
    h.v = calloc(h.cap, sizeof *h.v);
    if (!h.v)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    if ((err = walk_prepare(st, q, plan, lo, hi, &w, em)) != PS_OK)
        goto out;
    while ((rc = sqlite3_step(w.f)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(w.f, 0);
        bool full = h.n == h.cap;
        if ((err = walk_chunk(st, &w, id, em)) != PS_OK)
            goto out;
        if (full && w.pmax < h.v[0].r.ts_us)
            break;
        /* Until the heap is full, --since bounds what a device's chunk must hold. */
        if (ps_chunkdev_view_excludes(&w.cdv, id, q->device_id >= 0 ? q->device_id : -1,
                                      full ? h.v[0].r.ts_us : q->since_us))
            continue;
        if ((err = walk_candidate(st, q, plan, &w, id, &h, em)) != PS_OK)
            goto out;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        err = ps_store_dberr(&st->conn, em, "running the query");
        goto out;
    }
    sqlite3_finalize(w.f);
    w.f = NULL;
    qsort(h.v, h.n, sizeof *h.v, ps_row_copy_desc);
    err = ps_row_copy_deliver(st, h.v, h.n, q->want_raw, fn, ctx, NULL, em);
out:
    walk_finish(&w);
    for (size_t i = 0; i < h.n; i++)
        free(h.v[i].strings);
    free(h.v);
    return err;
}

#define NEWEST_HEAP_MAX 10000

/* The SQL of a query that is not a newest-first walk: the full-text candidates in
 * [lo, hi] (plan->match) or the natural-key index, in the listing's order. */
static ps_err query_prepare(ps_store *st, const ps_query *q, const ps_plan *plan, int64_t lo,
                            int64_t hi, sqlite3_stmt **s, ps_errmsg *em)
{
    char sql[4096];
    size_t n;
    int bi = 1;
    const char *dir = q->oldest_first ? "ASC" : "DESC";
    n = (size_t)snprintf(sql, sizeof sql, "SELECT ");
    n += select_list(sql + n, sizeof sql - n, q->want_raw);
    if (plan->match)
        n += (size_t)snprintf(sql + n, sizeof sql - n,
                              " FROM events_fts f CROSS JOIN events e ON e.id = f.rowid"
                              " WHERE events_fts MATCH ? AND f.rowid >= ? AND f.rowid <= ?");
    else
        n += (size_t)snprintf(sql + n, sizeof sql - n, " FROM events e WHERE 1%s",
                              q->after_id > 0 ? " AND e.id > ?" : "");
    n += where_filters(sql + n, sizeof sql - n, q);
    if (q->after_id > 0)
        snprintf(sql + n, sizeof sql - n, " ORDER BY e.id");
    else
        snprintf(sql + n, sizeof sql - n, " ORDER BY e.ts_us %s, e.device_id %s, e.key_hash %s",
                 dir, dir, dir);
    if (sqlite3_prepare_v2(st->conn.db, sql, -1, s, NULL) != SQLITE_OK)
        return ps_store_dberr(&st->conn, em, "preparing the query");
    if (plan->match) {
        sqlite3_bind_text(*s, bi++, plan->match, (int)plan->mlen, SQLITE_STATIC);
        sqlite3_bind_int64(*s, bi++, lo);
        sqlite3_bind_int64(*s, bi++, hi);
    } else if (q->after_id > 0) {
        sqlite3_bind_int64(*s, bi++, q->after_id);
    }
    bind_filters(*s, &bi, q);
    return PS_OK;
}

ps_err ps_store_query(ps_store *st, const ps_query *q, ps_store_row_fn fn, void *ctx, ps_errmsg *em)
{
    ps_plan plan;
    sqlite3_stmt *s = NULL;
    ps_err err;
    int rc;
    size_t delivered = 0;
    int64_t lo = 0, hi = INT64_MAX;
    bool empty = false;
    bool newest =
        !q->oldest_first && q->after_id <= 0 && q->limit > 0 && q->limit <= NEWEST_HEAP_MAX;
    memset(&plan, 0, sizeof plan);
    if (q->since_us >= q->until_us)
        return PS_OK; /* an empty range: nothing, not an error */
    if ((err = ps_plan_compile(st, q, &plan, em)) != PS_OK)
        goto out;
    /* A typed filter alone takes its candidates from the full-text index only for
     * the newest-first walk, which stops early; sorting all of them oldest first, or
     * for a listing without limit, costs more than the natural-key index's walk. */
    if ((plan.match || newest) && (err = ps_plan_add_typed(st, q, &plan, em)) != PS_OK)
        goto out;
    if (plan.match) {
        if ((err = id_bounds(st, q, &lo, &hi, &empty, em)) != PS_OK || empty)
            goto out;
        if (q->after_id > 0 && q->after_id >= lo)
            lo = q->after_id + 1;
        if (newest) {
            err = query_newest(st, q, &plan, lo, hi, fn, ctx, em);
            goto out;
        }
    }
    if ((err = query_prepare(st, q, &plan, lo, hi, &s, em)) != PS_OK)
        goto out;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        ps_event_row row;
        bool ok = true;
        /* Confirm on the typed columns first, decompress only what is delivered. */
        if ((err = fill_row(st, s, false, &row, em)) != PS_OK)
            goto out;
        if (plan.match && (err = ps_plan_confirm(st, q, &plan, &row, &ok, em)) != PS_OK)
            goto out;
        if (!ok)
            continue;
        if (q->want_raw && (err = fill_row(st, s, true, &row, em)) != PS_OK)
            goto out;
        delivered++;
        if (!fn(&row, ctx))
            break;
        if (q->limit && delivered >= q->limit)
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        err = ps_store_dberr(&st->conn, em, "running the query");
out:
    sqlite3_finalize(s);
    ps_plan_free(&plan);
    return err;
}

/* ---- small reads ----------------------------------------------------------------- */

ps_err ps_store_last_id(ps_store *st, int64_t *out, ps_errmsg *em)
{
    sqlite3_stmt *s = NULL;
    ps_err err = PS_OK;
    *out = 0;
    if (sqlite3_prepare_v2(st->conn.db, "SELECT max(id) FROM events", -1, &s, NULL) != SQLITE_OK)
        return ps_store_dberr(&st->conn, em, "reading the newest event id");
    if (sqlite3_step(s) == SQLITE_ROW)
        *out = sqlite3_column_int64(s, 0);
    else
        err = ps_store_dberr(&st->conn, em, "reading the newest event id");
    sqlite3_finalize(s);
    return err;
}

ps_err ps_store_event_raw(ps_store *st, int64_t id, char **raw, size_t *len, ps_errmsg *em)
{
    char sql[1024];
    sqlite3_stmt *s = NULL;
    ps_err err = PS_OK;
    int rc;
    *raw = NULL;
    *len = 0;
    snprintf(sql, sizeof sql, "SELECT ");
    select_list(sql + strlen(sql), sizeof sql - strlen(sql), true);
    snprintf(sql + strlen(sql), sizeof sql - strlen(sql), " FROM events e WHERE e.id = ?");
    if (sqlite3_prepare_v2(st->conn.db, sql, -1, &s, NULL) != SQLITE_OK)
        return ps_store_dberr(&st->conn, em, "reading an event");
    sqlite3_bind_int64(s, 1, id);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        ps_event_row row;
        err = fill_row(st, s, true, &row, em);
        if (err == PS_OK) {
            *raw = malloc(row.raw_len + 1);
            if (!*raw) {
                err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
            } else {
                memcpy(*raw, row.raw, row.raw_len);
                (*raw)[row.raw_len] = '\0';
                *len = row.raw_len;
            }
        }
    } else if (rc == SQLITE_DONE) {
        err = ps_errmsg_set(em, PS_ERR_NOTFOUND, "event %lld is not stored (any more)",
                            (long long)id);
    } else {
        err = ps_store_dberr(&st->conn, em, "reading an event");
    }
    sqlite3_finalize(s);
    return err;
}

ps_err ps_store_hourly_list(ps_store *st, int64_t since_us, ps_hourly_count **out, size_t *count,
                            ps_errmsg *em)
{
    sqlite3_stmt *s = NULL;
    ps_hourly_count *arr = NULL;
    size_t n = 0, cap = 0;
    ps_err err = PS_OK;
    int rc;
    *out = NULL;
    *count = 0;
    if (sqlite3_prepare_v2(st->conn.db,
                           "SELECT device_id, type, hour_us, events FROM hourly WHERE hour_us >= "
                           "? ORDER BY device_id, type, hour_us",
                           -1, &s, NULL) != SQLITE_OK)
        return ps_store_dberr(&st->conn, em, "reading hourly counts");
    sqlite3_bind_int64(s, 1, since_us);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (ps_mem_grow_array((void **)&arr, &cap, n, sizeof *arr) != PS_OK) {
            err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
            goto out;
        }
        arr[n].device_id = sqlite3_column_int64(s, 0);
        arr[n].type = (ps_data_type)sqlite3_column_int(s, 1);
        arr[n].hour_us = sqlite3_column_int64(s, 2);
        arr[n].events = (uint64_t)sqlite3_column_int64(s, 3);
        n++;
    }
    if (rc != SQLITE_DONE)
        err = ps_store_dberr(&st->conn, em, "reading hourly counts");
out:
    sqlite3_finalize(s);
    if (err != PS_OK) {
        free(arr);
        return err;
    }
    *out = arr;
    *count = n;
    return PS_OK;
}
