/* ps_store internals shared by ps_store*.c; not part of the public contract, so
 * nothing outside ps_store*.c includes it. */
#ifndef PS_STORE_INTERNAL_H
#define PS_STORE_INTERNAL_H

#include <sqlite3.h>
#include <stdatomic.h>
#include <zstd.h>

#include "podstream/ps_platform.h"
#include "podstream/ps_store.h"

#define PS_STORE_TYPES 3

/* ---- compression (ps_store_codec.c) ----------------------------------------------
 *
 * Raw JSON is stored as a zstd frame. Each type gets its own dictionary, trained
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
    /* reusable buffer for reading */
    char *dbuf;
    size_t dcap;
    bool training_enabled;
    bool wait_training; /* ps_store_begin waits for a running training (tests) */
    /* tunables (tests lower them) */
    unsigned train_first;   /* samples before the first dictionary */
    unsigned train_samples; /* reservoir size */
    uint64_t retrain_every; /* events between later retrainings */
} ps_store_codec;

/* A growing text buffer (the full-text document). */
typedef struct ps_store_doc {
    char *s;
    size_t len, cap;
} ps_store_doc;

/* Per-thread scratch for ps_store_prepare: one per worker, never shared. */
struct ps_store_prep {
    ps_store *st; /* borrowed; only its codec is touched, under codec.mu */
    ZSTD_CCtx *cctx;
    unsigned char *cbuf;
    size_t ccap;
    char *ebuf; /* the elided JSON */
    size_t ecap;
    char *vbuf; /* the key and the values as stored, NUL-terminated */
    size_t vlen, vcap;
    ps_store_doc doc;
};

/* ---- the store ------------------------------------------------------------------ */

typedef struct ps_hour_acc {
    long long device_id;
    int type;
    int64_t hour_us;
    uint64_t n;
} ps_hour_acc;

typedef struct ps_chunk_acc {
    int64_t id; /* event id >> PS_CHUNK_SHIFT */
    int64_t min_ts, max_ts;
} ps_chunk_acc;

typedef struct ps_dict_ref {
    int64_t dict_id;
    int64_t n;
} ps_dict_ref;

/* The values elided from an event's JSON (ps_store_elide.c), in index order:
 * the key, then the typed fields in ps_event_field order with the recipients one
 * by one. Borrowed pointers. */
#define PS_ELIDE_MAX 96
typedef struct ps_elide_list {
    const char *v[PS_ELIDE_MAX];
    size_t len[PS_ELIDE_MAX];
    unsigned n;
} ps_elide_list;

/* Word tokens of a piece of text as the full-text index sees them. */
typedef struct ps_tokens {
    char **tok;
    size_t n, cap;
} ps_tokens;

struct ps_store {
    sqlite3 *db;
    ps_store_mode mode;
    char *path;
    bool in_batch;
    /* writer statements, prepared once */
    sqlite3_stmt *st_begin, *st_commit, *st_rollback;
    sqlite3_stmt *st_ins_event, *st_ins_fts, *st_ins_quar, *st_hourly;
    sqlite3_stmt *st_resume_get, *st_resume_put, *st_counters_put, *st_pipeline;
    sqlite3_stmt *st_dict_ref;
    /* per-batch accumulators, flushed at commit */
    ps_hour_acc *hacc;
    size_t nhacc, caphacc;
    ps_dict_ref *dref;
    size_t ndref, capdref;
    /* scratch of ps_store_insert and of retention's full-text deletes */
    ps_store_prep *prep;
    ps_store_doc doc;
    /* scratch for expanding elided JSON on read */
    char *xbuf;
    size_t xcap;
    /* time bounds of the chunks the open batch touched, written at commit */
    ps_chunk_acc *cacc;
    size_t ncacc, capcacc;
    sqlite3_stmt *st_chunk, *st_chunk_raise, *st_dup;
    ps_store_codec codec;
    /* the unicode61 tokenizer of this connection, for query verification */
    void *fts_api;
    void *tokenizer;
    void *tokenizer_mod; /* fts5_tokenizer */
};

/* Sets em from the connection's last error: "<what>: <sqlite message>". */
ps_err ps_store_dberr(ps_store *st, ps_errmsg *em, const char *what);

/* Runs SQL without results. */
ps_err ps_store_exec(ps_store *st, const char *sql, ps_errmsg *em);

/* Column names of the typed fields, in ps_event_field order. Part of the schema. */
extern const char *const ps_store_field_col[PS_EF__COUNT];

/* The text the full-text index holds for one event: its typed fields plus hashed
 * exact-match tokens. Built the same way at insert and at delete, from the same
 * values, because a contentless FTS5 table can only delete what it is told. */
ps_err ps_store_fts_doc(ps_store_doc *doc, const char *key, const char *const text[PS_EF__COUNT],
                        ps_errmsg *em);

/* Hashed exact-match token ("f" sender, "t" recipient, "m" message-id, "q" qid,
 * "g" key) of an already normalised value, into buf (>= 8 bytes): the prefix and
 * 4 base32 characters, i.e. one of 2^20 buckets per kind. */
#define PS_HASH_TOKEN_LEN 5
void ps_store_hash_token(char prefix, const char *value, size_t len, char *buf);
/* The 64-bit hash behind the tokens and the natural-key index. Part of the schema. */
uint64_t ps_store_hash64(const char *s, size_t len);

/* Elision (ps_store_elide.c). */
void ps_store_elide_list(const char *key, const char *const text[PS_EF__COUNT], ps_elide_list *l);
void ps_store_elide_add(ps_elide_list *l, const char *v, size_t n);
/* Copies raw into *buf with the list's values replaced by markers; *elided says
 * whether anything was replaced. */
ps_err ps_store_elide(const char *raw, size_t len, const ps_elide_list *l, char **buf, size_t *cap,
                      size_t *out_len, bool *elided);
/* Expands markers; PS_ERR_DB for a marker that names no value. */
ps_err ps_store_unelide(const char *enc, size_t len, const ps_elide_list *l, char **buf,
                        size_t *cap, size_t *out_len);
/* True when enc expands to exactly raw[0..raw_len), without building the expansion. */
bool ps_store_unelide_equals(const char *enc, size_t len, const ps_elide_list *l, const char *raw,
                             size_t raw_len);

/* Rows per chunk of the `chunks` table: ids id >> PS_CHUNK_SHIFT share a row that
 * bounds their ts, which lets a newest-first full-text query stop early. */
#define PS_CHUNK_SHIFT 10

/* Address normalisation for matching: trims spaces, drops enclosing <>, ASCII
 * lowercase. Into buf; returns the length, or (size_t)-1 when it does not fit. */
size_t ps_store_norm_addr(const char *s, size_t len, char *buf, size_t buflen);
/* Message-id normalisation: trims spaces and enclosing <>. */
size_t ps_store_norm_msgid(const char *s, size_t len, char *buf, size_t buflen);

/* Schema creation and upgrades (ps_store_migrate.c). */
ps_err ps_store_migrate(ps_store *st, ps_errmsg *em);
ps_err ps_store_read_version(ps_store *st, int *out, ps_errmsg *em);

/* Codec (ps_store_codec.c). */
ps_err ps_store_codec_init(ps_store_codec *c);
void ps_store_codec_deinit(ps_store_codec *c);
ps_err ps_store_codec_load(ps_store *st, ps_errmsg *em);
/* Compresses with the type's current dictionary into p->cbuf; *out points into it
 * until the next call. Any thread, with its own prep. */
ps_err ps_store_codec_compress(ps_store_prep *p, ps_data_type type, const char *raw, size_t len,
                               const void **out, size_t *out_len, int64_t *dict_id, ps_errmsg *em);
/* Decompresses into c->dbuf (NUL-terminated); *out valid until the next call. */
ps_err ps_store_codec_decompress(ps_store *st, int64_t dict_id, const void *blob, size_t len,
                                 const char **out, size_t *out_len, ps_errmsg *em);

/* The JSON of a stored row: decompressed and, for fmt 1, expanded with the row's
 * own key and typed values. *out is valid until the next call on this store. */
ps_err ps_store_row_json(ps_store *st, int64_t dict_id, int fmt, const void *blob, size_t blob_len,
                         size_t raw_len, const char *key, const char *const text[PS_EF__COUNT],
                         const char **out, size_t *out_len, ps_errmsg *em);
/* Offers an event (as it will be compressed) as a training sample. Any thread. */
void ps_store_codec_sample(ps_store_codec *c, ps_data_type type, const char *raw, size_t len);
/* Writer, between batches: starts a training that is due, and installs a finished
 * one (with `wait_training`, waits for it). */
ps_err ps_store_codec_poll(ps_store *st, ps_errmsg *em);

/* Tokenizer (ps_store_query.c). */
ps_err ps_store_tokenize(ps_store *st, const char *text, size_t len, ps_tokens *out, ps_errmsg *em);
void ps_tokens_clear(ps_tokens *t);

/* Deletes events (and their full-text entries) in the current transaction:
 * the `limit` oldest by ts, among those with ts < before_us (INT64_MAX: any). */
ps_err ps_store_delete_oldest(ps_store *st, int64_t before_us, unsigned limit, uint64_t *deleted,
                              ps_errmsg *em);

#endif
