/* ps_store compression: zstd with a dictionary per event type.
 *
 * A POD event is 1-2 KB of JSON whose keys and much of whose values repeat from
 * one event to the next; zstd alone cannot see that within one small frame, a
 * dictionary trained on the same traffic can. Bootstrapping: the first events of a
 * type are stored with plain zstd (dict id 0) while their copies fill a sample
 * reservoir; then a background thread trains a dictionary, the writer stores it in
 * `dicts` between two batches, and the rows prepared from then on use it. Later
 * retrainings (after 50,000 events, then every `retrain_every`) are adopted only
 * when they compress a held back sample better than the dictionary in use.
 *
 * Rows are compressed on the service's worker threads (ps_store_prepare) while the
 * writer trains and installs; see ps_store_codec in ps_store_internal.h for what
 * the mutex guards. */
#include <stdlib.h>
#include <string.h>
/* For ZDICT_optimizeTrainFromBuffer_fastCover, to bound the trainer's memory; the
 * shared libzstd exports it. */
#define ZDICT_STATIC_LINKING_ONLY
#include <zdict.h>

#include "podstream/ps_log.h"
#include "podstream/ps_mem.h"
#include "podstream/ps_platform.h"
#include "store/ps_store_codec.h"
#include "store/ps_store_elide.h"

/* Level 1 against 3: 1.4-1.8 us less CPU per event for 7 more bytes of it (117
 * against 110), the database 0.348 instead of 0.342 x raw JSON at 200k events,
 * within the 0.35 x bound (docs/performance.md). */
#define CODEC_LEVEL               1
#define CODEC_DICT_MAX            (64u * 1024u)
#define CODEC_DICT_MIN            (4u * 1024u)
#define CODEC_SAMPLE_MAX          (64u * 1024u) /* bigger events are not typical traffic */
#define CODEC_RESERVOIR_BYTES     (2u << 20)    /* cap of one type's reservoir */
#define CODEC_SECOND_TRAIN_FACTOR 25u           /* the second training: 50,000 events by default */
/* log2 of the trainer's frequency table, which costs 6 * 2^f bytes. zstd's default
 * of 20 (6 MB) suits much larger samples than our 2 MB reservoir, and the training
 * was the service's largest moment of memory; 17 trains as good a dictionary here
 * (docs/performance.md). */
#define CODEC_TRAIN_F 17u

ps_err ps_store_codec_init(ps_store_codec *c)
{
    memset(c, 0, sizeof *c);
    c->level = CODEC_LEVEL;
    c->rng = 0x9E3779B97F4A7C15ULL;
    c->train_first = 2000;
    c->train_samples = 5000;
    c->retrain_every = 2000000;
    if (ps_plat_mutex_create(&c->mu) != PS_OK)
        return PS_ERR_NOMEM;
    c->mu_ready = true;
    return PS_OK;
}

static ps_store_cdict *cdict_create(const void *dict, size_t len, int64_t id, int level)
{
    ps_store_cdict *cd = calloc(1, sizeof *cd);
    if (!cd)
        return NULL;
    cd->cdict = ZSTD_createCDict(dict, len, level);
    if (!cd->cdict) {
        free(cd);
        return NULL;
    }
    cd->id = id;
    atomic_init(&cd->refs, 1);
    return cd;
}

static void cdict_release(ps_store_cdict *cd)
{
    if (cd && atomic_fetch_sub(&cd->refs, 1) == 1) {
        ZSTD_freeCDict(cd->cdict);
        free(cd);
    }
}

/* The type's current dictionary with a reference for the caller (NULL: none). */
static ps_store_cdict *cdict_current(ps_store_codec *c, int type)
{
    ps_store_cdict *cd;
    ps_plat_mutex_lock(c->mu);
    cd = c->t[type].cur;
    if (cd)
        atomic_fetch_add(&cd->refs, 1);
    ps_plat_mutex_unlock(c->mu);
    return cd;
}

static void free_job(ps_store_train_job *job)
{
    if (!job)
        return;
    free(job->samples);
    free(job->sizes);
    free(job->dict);
    free(job->old_dict);
    free(job);
}

static void reservoir_clear(ps_store_typecodec *t)
{
    for (unsigned i = 0; i < t->nres; i++)
        free(t->res[i]);
    t->nres = 0;
    t->res_bytes = 0;
    t->res_seen = 0;
}

void ps_store_codec_deinit(ps_store_codec *c)
{
    if (c->thread_running) {
        (void)ps_plat_thread_join(c->thread);
        c->thread_running = false;
    }
    free_job(c->job);
    c->job = NULL;
    for (int i = 0; i < PS_STORE_TYPES; i++) {
        ps_store_typecodec *t = &c->t[i];
        cdict_release(t->cur);
        reservoir_clear(t);
        free(t->res);
        free(t->res_len);
    }
    for (size_t i = 0; i < c->ndd; i++)
        ZSTD_freeDDict(c->dd[i].ddict);
    free(c->dd);
    ZSTD_freeDCtx(c->dctx);
    free(c->dbuf);
    free(c->xbuf);
    if (c->mu_ready)
        ps_plat_mutex_destroy(c->mu);
    memset(c, 0, sizeof *c);
}

void ps_store_codec_set_training(ps_store_codec *c, unsigned first, unsigned samples,
                                 uint64_t retrain_every, bool wait)
{
    ps_plat_mutex_lock(c->mu);
    c->train_first = first;
    c->train_samples = samples < 8 ? 8 : samples;
    c->retrain_every = retrain_every;
    c->wait_training = wait;
    for (int i = 0; i < PS_STORE_TYPES; i++) {
        ps_store_typecodec *t = &c->t[i];
        if (!t->cur)
            t->next_train = first;
        else
            t->next_train = retrain_every ? t->seen + retrain_every : 0;
    }
    ps_plat_mutex_unlock(c->mu);
}

void ps_store_cscratch_deinit(ps_store_cscratch *z)
{
    ZSTD_freeCCtx(z->cctx);
    free(z->cbuf);
    memset(z, 0, sizeof *z);
}

static ps_err ensure_cctx(ps_store_cscratch *p, int level)
{
    if (p->cctx)
        return PS_OK;
    p->cctx = ZSTD_createCCtx();
    if (!p->cctx)
        return PS_ERR_NOMEM;
    /* A row knows its dictionary, so the frame need not name it, nor carry a
     * checksum (SQLite pages are what could rot, and the JSON parse on read would
     * notice). A few bytes per event add up. The content size stays: it sizes
     * the buffer on read. */
    ZSTD_CCtx_setParameter(p->cctx, ZSTD_c_compressionLevel, level);
    ZSTD_CCtx_setParameter(p->cctx, ZSTD_c_contentSizeFlag, 1);
    ZSTD_CCtx_setParameter(p->cctx, ZSTD_c_checksumFlag, 0);
    ZSTD_CCtx_setParameter(p->cctx, ZSTD_c_dictIDFlag, 0);
    return PS_OK;
}

static ps_err load_latest(ps_store_codec *c, ps_store_db *db, int type, ps_errmsg *em)
{
    ps_store_typecodec *t = &c->t[type];
    sqlite3_stmt *s = NULL;
    ps_err err = PS_OK;
    int rc;
    if (sqlite3_prepare_v2(db->db,
                           "SELECT id, dict FROM dicts WHERE type = ? ORDER BY id DESC LIMIT 1", -1,
                           &s, NULL) != SQLITE_OK)
        return ps_store_dberr(db, em, "reading compression dictionaries");
    sqlite3_bind_int(s, 1, type);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const void *d = sqlite3_column_blob(s, 1);
        size_t n = (size_t)sqlite3_column_bytes(s, 1);
        int64_t id = sqlite3_column_int64(s, 0);
        cdict_release(t->cur);
        t->cur = cdict_create(d, n, id, c->level);
        if (!t->cur)
            err = ps_errmsg_set(em, PS_ERR_NOMEM, "loading compression dictionary %lld",
                                (long long)id);
    } else if (rc != SQLITE_DONE) {
        err = ps_store_dberr(db, em, "reading compression dictionaries");
    }
    sqlite3_finalize(s);
    return err;
}

ps_err ps_store_codec_load(ps_store_codec *c, ps_store_db *db, ps_errmsg *em)
{
    if (db->mode != PS_STORE_WRITER)
        return PS_OK; /* readers load dictionaries when a row needs one */
    for (int i = 0; i < PS_STORE_TYPES; i++) {
        ps_err err = load_latest(c, db, i, em);
        if (err != PS_OK)
            return err;
        c->t[i].next_train = c->t[i].cur ? c->retrain_every : c->train_first;
    }
    return PS_OK;
}

ps_err ps_store_codec_compress(ps_store_codec *c, ps_store_cscratch *p, ps_data_type type,
                               const char *raw, size_t len, const void **out, size_t *out_len,
                               int64_t *dict_id, ps_errmsg *em)
{
    size_t bound = ZSTD_compressBound(len);
    ps_store_cdict *cd;
    size_t n;
    if (ensure_cctx(p, c->level) != PS_OK ||
        ps_mem_reserve((void **)&p->cbuf, &p->ccap, bound < 64 ? 64 : bound) != PS_OK)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory compressing an event");
    cd = cdict_current(c, (int)type);
    ZSTD_CCtx_reset(p->cctx, ZSTD_reset_session_only);
    ZSTD_CCtx_refCDict(p->cctx, cd ? cd->cdict : NULL);
    n = ZSTD_compress2(p->cctx, p->cbuf, p->ccap, raw, len);
    /* The context must not keep pointing at a dictionary it may outlive. */
    ZSTD_CCtx_refCDict(p->cctx, NULL);
    *dict_id = cd ? cd->id : 0;
    cdict_release(cd);
    if (ZSTD_isError(n))
        return ps_errmsg_set(em, PS_ERR_INTERNAL, "compressing an event: %s", ZSTD_getErrorName(n));
    *out = p->cbuf;
    *out_len = n;
    return PS_OK;
}

static ZSTD_DDict *find_ddict(ps_store_codec *c, ps_store_db *db, int64_t id, ps_errmsg *em,
                              ps_err *err)
{
    sqlite3_stmt *s = NULL;
    ZSTD_DDict *dd = NULL;
    *err = PS_OK;
    for (size_t i = 0; i < c->ndd; i++)
        if (c->dd[i].id == id)
            return c->dd[i].ddict;
    if (sqlite3_prepare_v2(db->db, "SELECT dict FROM dicts WHERE id = ?", -1, &s, NULL) !=
        SQLITE_OK) {
        *err = ps_store_dberr(db, em, "reading a compression dictionary");
        return NULL;
    }
    sqlite3_bind_int64(s, 1, id);
    if (sqlite3_step(s) == SQLITE_ROW) {
        dd = ZSTD_createDDict(sqlite3_column_blob(s, 0), (size_t)sqlite3_column_bytes(s, 0));
        if (!dd)
            *err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory loading a dictionary");
    } else {
        *err = ps_errmsg_set(em, PS_ERR_DB,
                             "%s: compression dictionary %lld is missing; the database is "
                             "damaged",
                             db->path, (long long)id);
    }
    sqlite3_finalize(s);
    if (!dd)
        return NULL;
    if (ps_mem_grow_array((void **)&c->dd, &c->capdd, c->ndd, sizeof *c->dd) != PS_OK) {
        ZSTD_freeDDict(dd);
        *err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory loading a dictionary");
        return NULL;
    }
    c->dd[c->ndd++] = (ps_store_ddict){id, dd};
    return dd;
}

ps_err ps_store_codec_decompress(ps_store_codec *c, ps_store_db *db, int64_t dict_id,
                                 const void *blob, size_t len, const char **out, size_t *out_len,
                                 ps_errmsg *em)
{
    ZSTD_DDict *dd = NULL;
    ps_err err = PS_OK;
    unsigned long long size = ZSTD_getFrameContentSize(blob, len);
    size_t n;
    if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN ||
        size > (unsigned long long)INT32_MAX)
        return ps_errmsg_set(em, PS_ERR_DB, "%s: a stored event is damaged (no zstd frame)",
                             db->path);
    if (dict_id != 0) {
        dd = find_ddict(c, db, dict_id, em, &err);
        if (!dd)
            return err;
    }
    if (!c->dctx && !(c->dctx = ZSTD_createDCtx()))
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory decompressing an event");
    if (ps_mem_reserve((void **)&c->dbuf, &c->dcap, (size_t)size + 1) != PS_OK)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory decompressing an event");
    n = ZSTD_decompress_usingDDict(c->dctx, c->dbuf, (size_t)size, blob, len, dd);
    if (ZSTD_isError(n) || n != size)
        return ps_errmsg_set(em, PS_ERR_DB, "%s: a stored event does not decompress (%s)", db->path,
                             ZSTD_isError(n) ? ZSTD_getErrorName(n) : "wrong length");
    c->dbuf[n] = '\0';
    *out = c->dbuf;
    *out_len = n;
    return PS_OK;
}

ps_err ps_store_row_json(ps_store_codec *c, ps_store_db *db, int64_t dict_id, int fmt,
                         const void *blob, size_t blob_len, size_t raw_len, const char *key,
                         const char *const text[PS_EF__COUNT], const char **out, size_t *out_len,
                         ps_errmsg *em)
{
    const char *plain = NULL;
    size_t plain_len = 0;
    ps_elide_list el;
    unsigned long long size = ZSTD_getFrameContentSize(blob, blob_len);
    ps_err err;
    /* The stored form is never longer than the event (elision only shortens it), so
     * a damaged frame header must not make a reader allocate what it claims. */
    if (size != ZSTD_CONTENTSIZE_ERROR && size != ZSTD_CONTENTSIZE_UNKNOWN && size > raw_len)
        return ps_errmsg_set(em, PS_ERR_DB,
                             "%s: a stored event is damaged (%llu bytes instead of at most %zu)",
                             db->path, size, raw_len);
    err = ps_store_codec_decompress(c, db, dict_id, blob, blob_len, &plain, &plain_len, em);
    if (err != PS_OK)
        return err;
    if (fmt == 0) {
        *out = plain;
        *out_len = plain_len;
    } else if (fmt == 1) {
        ps_store_elide_list(key, text, &el);
        err = ps_store_unelide(plain, plain_len, &el, &c->xbuf, &c->xcap, out_len);
        if (err == PS_ERR_NOMEM)
            return ps_errmsg_set(em, err, "out of memory reading an event");
        if (err != PS_OK)
            return ps_errmsg_set(em, err, "%s: a stored event is damaged (bad marker)", db->path);
        *out = c->xbuf;
    } else {
        return ps_errmsg_set(em, PS_ERR_UNSUPPORTED,
                             "%s: a stored event has format %d, which this podstream does not "
                             "know",
                             db->path, fmt);
    }
    if (*out_len != raw_len)
        return ps_errmsg_set(em, PS_ERR_DB,
                             "%s: a stored event is damaged (%zu bytes instead of %zu)", db->path,
                             *out_len, raw_len);
    return PS_OK;
}

/* ---- training ----------------------------------------------------------------------- */

static uint64_t rng_next(ps_store_codec *c)
{
    c->rng ^= c->rng << 13;
    c->rng ^= c->rng >> 7;
    c->rng ^= c->rng << 17;
    return c->rng;
}

/* Total compressed size of the samples with a dictionary (NULL: none). */
static size_t measure(const ps_store_train_job *job, const void *dict, size_t dict_len, size_t from)
{
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    ZSTD_CDict *cd = dict ? ZSTD_createCDict(dict, dict_len, CODEC_LEVEL) : NULL;
    size_t total = 0, off = 0, cap = 0;
    void *buf = NULL;
    if (!cc || (dict && !cd))
        goto out;
    for (unsigned i = 0; i < job->nsamples; i++) {
        size_t bound = ZSTD_compressBound(job->sizes[i]);
        if (i >= from) {
            size_t n;
            if (ps_mem_reserve(&buf, &cap, bound) != PS_OK) {
                total = SIZE_MAX;
                goto out;
            }
            n = cd ? ZSTD_compress_usingCDict(cc, buf, cap, job->samples + off, job->sizes[i], cd)
                   : ZSTD_compressCCtx(cc, buf, cap, job->samples + off, job->sizes[i],
                                       CODEC_LEVEL);
            total += ZSTD_isError(n) ? job->sizes[i] : n;
        }
        off += job->sizes[i];
    }
out:
    free(buf);
    ZSTD_freeCDict(cd);
    ZSTD_freeCCtx(cc);
    return total;
}

static void *train_main(void *arg)
{
    ps_store_train_job *job = arg;
    /* Train on the first 7/8, judge on the rest: a dictionary must help events it
     * has not seen. */
    unsigned ntrain = job->nsamples - job->nsamples / 8;
    size_t train_bytes = 0;
    size_t n;
    for (unsigned i = 0; i < ntrain; i++)
        train_bytes += job->sizes[i];
    job->dict = malloc(job->dict_cap);
    if (!job->dict) {
        snprintf(job->error, sizeof job->error, "out of memory");
        goto out;
    }
    {
        /* What ZDICT_trainFromBuffer does, but with a smaller frequency table. */
        ZDICT_fastCover_params_t prm;
        memset(&prm, 0, sizeof prm);
        prm.d = 8;
        prm.steps = 4;
        prm.f = CODEC_TRAIN_F;
        prm.nbThreads = 1;
        prm.zParams.compressionLevel = CODEC_LEVEL;
        n = ZDICT_optimizeTrainFromBuffer_fastCover(job->dict, job->dict_cap, job->samples,
                                                    job->sizes, ntrain, &prm);
    }
    if (ZDICT_isError(n)) {
        snprintf(job->error, sizeof job->error, "%s (%u samples, %zu bytes)", ZDICT_getErrorName(n),
                 ntrain, train_bytes);
        free(job->dict);
        job->dict = NULL;
        goto out;
    }
    job->dict_len = n;
    job->new_size = measure(job, job->dict, job->dict_len, ntrain);
    job->old_size = measure(job, job->old_dict, job->old_dict_len, ntrain);
out:
    atomic_store(&job->done, true);
    return NULL;
}

/* Writer, with c->mu held: hands the reservoir of `type` to a training thread. */
static void start_training(ps_store_codec *c, ps_store_db *db, int type)
{
    ps_store_typecodec *t = &c->t[type];
    ps_store_train_job *job;
    size_t off = 0;
    if (c->job || c->thread_running)
        return; /* one at a time; this type asks again at its next event */
    job = calloc(1, sizeof *job);
    if (!job)
        return;
    job->type = (ps_data_type)type;
    job->nsamples = t->nres;
    job->samples = malloc(t->res_bytes ? t->res_bytes : 1);
    job->sizes = malloc(t->nres * sizeof *job->sizes);
    /* ~1/20 of the sample bytes, within zstd's useful range for small records. */
    job->dict_cap = t->res_bytes / 20;
    if (job->dict_cap > CODEC_DICT_MAX)
        job->dict_cap = CODEC_DICT_MAX;
    if (job->dict_cap < CODEC_DICT_MIN)
        job->dict_cap = CODEC_DICT_MIN;
    if (t->cur) {
        sqlite3_stmt *s = NULL;
        if (sqlite3_prepare_v2(db->db, "SELECT dict FROM dicts WHERE id = ?", -1, &s, NULL) ==
            SQLITE_OK) {
            sqlite3_bind_int64(s, 1, t->cur->id);
            if (sqlite3_step(s) == SQLITE_ROW) {
                job->old_dict_len = (size_t)sqlite3_column_bytes(s, 0);
                job->old_dict = malloc(job->old_dict_len ? job->old_dict_len : 1);
                if (job->old_dict)
                    memcpy(job->old_dict, sqlite3_column_blob(s, 0), job->old_dict_len);
            }
            sqlite3_finalize(s);
        }
        if (!job->old_dict) {
            free_job(job);
            return;
        }
    }
    if (!job->samples || !job->sizes) {
        free_job(job);
        return;
    }
    for (unsigned i = 0; i < t->nres; i++) {
        memcpy(job->samples + off, t->res[i], t->res_len[i]);
        job->sizes[i] = t->res_len[i];
        off += t->res_len[i];
    }
    atomic_init(&job->done, false);
    if (ps_plat_thread_create(&c->thread, "ps-dict-train", train_main, job) != PS_OK) {
        free_job(job);
        return;
    }
    c->thread_running = true;
    c->job = job;
    t->training = true;
    reservoir_clear(t);
}

static bool reservoir_add(ps_store_codec *c, ps_store_typecodec *t, const char *raw, size_t len)
{
    unsigned slot;
    char *copy;
    if (!t->res) {
        t->res = calloc(c->train_samples, sizeof *t->res);
        t->res_len = calloc(c->train_samples, sizeof *t->res_len);
        t->res_cap = c->train_samples;
        if (!t->res || !t->res_len) {
            free(t->res);
            free(t->res_len);
            t->res = NULL;
            t->res_len = NULL;
            return false;
        }
    }
    t->res_seen++;
    if (t->nres < t->res_cap && t->res_bytes + len <= CODEC_RESERVOIR_BYTES) {
        slot = t->nres;
    } else {
        /* Algorithm R: every event seen so far has the same chance to be kept. */
        uint64_t j = rng_next(c) % t->res_seen;
        if (j >= t->nres)
            return true;
        slot = (unsigned)j;
        if (t->res_bytes - t->res_len[slot] + len > CODEC_RESERVOIR_BYTES)
            return true;
    }
    copy = malloc(len);
    if (!copy)
        return false;
    memcpy(copy, raw, len);
    if (slot < t->nres) {
        t->res_bytes -= t->res_len[slot];
        free(t->res[slot]);
    } else {
        t->nres++;
    }
    t->res[slot] = copy;
    t->res_len[slot] = len;
    t->res_bytes += len;
    return true;
}

void ps_store_codec_sample(ps_store_codec *c, ps_data_type type, const char *raw, size_t len)
{
    ps_store_typecodec *t = &c->t[type];
    if (!c->training_enabled)
        return;
    ps_plat_mutex_lock(c->mu);
    t->seen++;
    if (t->next_train != 0 && !t->training && len >= 16 && len <= CODEC_SAMPLE_MAX)
        (void)reservoir_add(c, t, raw, len);
    ps_plat_mutex_unlock(c->mu);
}

/* Writer: starts the training of the first type that is due, if none runs. */
static void maybe_train(ps_store_codec *c, ps_store_db *db)
{
    if (c->job || c->thread_running)
        return;
    ps_plat_mutex_lock(c->mu);
    for (int i = 0; i < PS_STORE_TYPES && !c->job; i++) {
        ps_store_typecodec *t = &c->t[i];
        if (t->next_train != 0 && !t->training && t->seen >= t->next_train && t->nres >= 8)
            start_training(c, db, i);
    }
    ps_plat_mutex_unlock(c->mu);
}

static ps_err install(ps_store_codec *c, ps_store_db *db, ps_store_train_job *job, ps_errmsg *em)
{
    ps_store_typecodec *t = &c->t[job->type];
    sqlite3_stmt *s = NULL;
    ps_store_cdict *cd, *old;
    ps_err err = PS_OK;
    /* The id is set once the row exists; until then nobody else sees cd. */
    cd = cdict_create(job->dict, job->dict_len, 0, c->level);
    if (!cd)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory loading a new dictionary");
    if (sqlite3_prepare_v2(db->db,
                           "INSERT INTO dicts(type, created_us, samples, refs, dict) "
                           "VALUES(?, ?, ?, 0, ?)",
                           -1, &s, NULL) != SQLITE_OK) {
        cdict_release(cd);
        return ps_store_dberr(db, em, "storing a compression dictionary");
    }
    sqlite3_bind_int(s, 1, (int)job->type);
    sqlite3_bind_int64(s, 2, ps_plat_now_us());
    sqlite3_bind_int64(s, 3, job->nsamples);
    sqlite3_bind_blob(s, 4, job->dict, (int)job->dict_len, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE) {
        err = ps_store_dberr(db, em, "storing a compression dictionary");
        sqlite3_finalize(s);
        cdict_release(cd);
        return err;
    }
    sqlite3_finalize(s);
    cd->id = sqlite3_last_insert_rowid(db->db);
    /* Workers that took the old one finish with it; the last of them frees it. */
    old = t->cur;
    t->cur = cd;
    cdict_release(old);
    return PS_OK;
}

ps_err ps_store_codec_poll(ps_store_codec *c, ps_store_db *db, ps_errmsg *em)
{
    ps_store_train_job *job;
    ps_store_typecodec *t;
    ps_err err = PS_OK;
    maybe_train(c, db);
    job = c->job;
    if (!job)
        return PS_OK;
    if (!c->wait_training && !atomic_load(&job->done))
        return PS_OK;
    (void)ps_plat_thread_join(c->thread);
    c->thread_running = false;
    c->job = NULL;
    ps_plat_mutex_lock(c->mu);
    t = &c->t[job->type];
    t->training = false;
    if (!job->dict) {
        /* Too few or too uniform samples: try again after as many events again. */
        PS_LOG_W(PS_LOG_NO_DEVICE,
                 "store: training a %s compression dictionary failed: %s; retrying later",
                 job->type == PS_DATA_MESSAGE   ? "message"
                 : job->type == PS_DATA_MAILLOG ? "maillog"
                                                : "audit",
                 job->error);
        t->next_train = t->seen + (c->train_first ? c->train_first : 1000);
    } else if (t->cur && job->new_size >= job->old_size) {
        t->next_train = c->retrain_every ? t->seen + c->retrain_every : 0;
    } else {
        err = install(c, db, job, em);
        if (err == PS_OK) {
            uint64_t second = (uint64_t)c->train_first * CODEC_SECOND_TRAIN_FACTOR;
            /* The first dictionary comes from the first minutes of traffic; a second
             * one from a wider sample is usually better. */
            if (t->seen < second && c->retrain_every)
                t->next_train = second;
            else
                t->next_train = c->retrain_every ? t->seen + c->retrain_every : 0;
        }
    }
    ps_plat_mutex_unlock(c->mu);
    free_job(job);
    return err;
}
