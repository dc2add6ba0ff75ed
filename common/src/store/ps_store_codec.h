/* ps_store compression (ps_store_codec.c): zstd with a dictionary per event type,
 * trained in the background. Uses the SQL helpers and elision only; takes the
 * connection and the codec state it works on, never the whole ps_store. */
#ifndef PS_STORE_CODEC_H
#define PS_STORE_CODEC_H

#include <stdatomic.h>
#include <zstd.h>

#include "podstream/ps_platform.h"
#include "store/ps_store_sql.h"

#define PS_STORE_TYPES 3

/* Raw JSON is stored as a zstd frame. Each type gets its own dictionary, trained
 * from that type's own traffic on a background thread and kept in the `dicts`
 * table; a row records the dictionary it was compressed with (0: none), so rows
 * stay readable after a retraining. */

typedef struct ps_store_ddict {
    int64_t id;
    ZSTD_DDict *ddict;
} ps_store_ddict;

/* A training job handed to the background thread. */
typedef struct ps_store_train_job {
    ps_data_type type;
    char *samples; /* concatenated sample bytes */
    size_t *sizes; /* nsamples sizes */
    unsigned nsamples;
    size_t dict_cap;
    void *old_dict; /* the dictionary in use, to compare against; NULL: none */
    size_t old_dict_len;
    /* result, valid once done is set */
    void *dict;
    size_t dict_len;
    size_t new_size, old_size; /* held-back samples compressed with each */
    char error[160];
    atomic_bool done;
} ps_store_train_job;

/* A compression dictionary ready for compressing. Workers compress with it while
 * the writer may install a newer one, so whoever drops the last reference frees it. */
typedef struct ps_store_cdict {
    ZSTD_CDict *cdict;
    int64_t id;
    atomic_uint refs;
} ps_store_cdict;

typedef struct ps_store_typecodec {
    ps_store_cdict *cur; /* the dictionary new rows use; NULL: none yet */
    uint64_t seen;       /* events of this type offered since this process started */
    uint64_t next_train; /* train when `seen` reaches this (0: never) */
    /* reservoir of samples for the next training */
    char **res;
    size_t *res_len;
    unsigned nres, res_cap;
    size_t res_bytes;
    uint64_t res_seen; /* samples offered to the reservoir since it was emptied */
    bool training;
} ps_store_typecodec;

/* Compression state of a writer store. Rows are prepared (compressed, sampled)
 * on worker threads while the writer trains and installs dictionaries, so `mu`
 * guards t[] and rng; the training job and thread belong to the writer. */
typedef struct ps_store_codec {
    ps_mutex *mu;
    bool mu_ready;
    ZSTD_DCtx *dctx;
    int level;
    ps_store_typecodec t[PS_STORE_TYPES];
    ps_store_ddict *dd;
    size_t ndd, capdd;
    uint64_t rng;
    /* training thread: at most one job at a time */
    ps_thread *thread;
    bool thread_running;
    ps_store_train_job *job;
    /* reusable buffers for reading: decompressed, and expanded (elided rows) */
    char *dbuf;
    size_t dcap;
    char *xbuf;
    size_t xcap;
    bool training_enabled;
    bool wait_training; /* ps_store_begin waits for a running training (tests) */
    /* tunables (tests lower them) */
    unsigned train_first;   /* samples before the first dictionary */
    unsigned train_samples; /* reservoir size */
    uint64_t retrain_every; /* events between later retrainings */
} ps_store_codec;

/* Compression scratch of one thread (a worker's ps_store_prep). */
typedef struct ps_store_cscratch {
    ZSTD_CCtx *cctx;
    unsigned char *cbuf;
    size_t ccap;
} ps_store_cscratch;

/* Frees what the scratch holds and empties it. */
void ps_store_cscratch_deinit(ps_store_cscratch *z);

ps_err ps_store_codec_init(ps_store_codec *c);
/* Joins a running training, then frees everything. */
void ps_store_codec_deinit(ps_store_codec *c);
/* The training tunables (see ps_store_set_training). */
void ps_store_codec_set_training(ps_store_codec *c, unsigned first, unsigned samples,
                                 uint64_t retrain_every, bool wait);
/* A writer loads the newest dictionary of each type; a reader loads them lazily. */
ps_err ps_store_codec_load(ps_store_codec *c, ps_store_db *db, ps_errmsg *em);
/* Compresses with the type's current dictionary into z->cbuf; *out points into it
 * until the next call. Any thread, with its own scratch. */
ps_err ps_store_codec_compress(ps_store_codec *c, ps_store_cscratch *z, ps_data_type type,
                               const char *raw, size_t len, const void **out, size_t *out_len,
                               int64_t *dict_id, ps_errmsg *em);
/* Decompresses into c->dbuf (NUL-terminated); *out valid until the next call. */
ps_err ps_store_codec_decompress(ps_store_codec *c, ps_store_db *db, int64_t dict_id,
                                 const void *blob, size_t len, const char **out, size_t *out_len,
                                 ps_errmsg *em);
/* The JSON of a stored row: decompressed and, for fmt 1, expanded with the row's
 * own key and typed values. *out is valid until the next call on this codec. */
ps_err ps_store_row_json(ps_store_codec *c, ps_store_db *db, int64_t dict_id, int fmt,
                         const void *blob, size_t blob_len, size_t raw_len, const char *key,
                         const char *const text[PS_EF__COUNT], const char **out, size_t *out_len,
                         ps_errmsg *em);
/* Offers an event (as it will be compressed) as a training sample. Any thread. */
void ps_store_codec_sample(ps_store_codec *c, ps_data_type type, const char *raw, size_t len);
/* Writer, between batches: starts a training that is due, and installs a finished
 * one (with `wait_training`, waits for it). */
ps_err ps_store_codec_poll(ps_store_codec *c, ps_store_db *db, ps_errmsg *em);

#endif
