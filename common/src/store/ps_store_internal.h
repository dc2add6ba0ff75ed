/* ps_store internals shared by ps_store*.c; not part of the public contract, so
 * nothing outside common/src/store includes it.
 *
 * The store is built in layers, and a file only uses the layers below its own,
 * so no two files depend on each other:
 *
 *   ps_store_sql.h      the connection, SQL errors, exec, prepare, step
 *   ps_store_text.h     column names, normalisation, hashed tokens, full-text entry
 *   ps_store_elide.h    typed values out of the JSON and back
 *   ps_store_codec.h    zstd and its dictionaries        (uses sql, elide)
 *   ps_store_chunkdev.h the devices of each id chunk     (uses sql)
 *   ps_store_migrate.h  the schema and its upgrades      (uses sql, text, codec)
 *   ps_store_internal.h struct ps_store, and what the files on top share:
 *       ps_store_write.c      batches, prepare/put, quarantine      (codec, text, elide)
 *       ps_store_match.c      full-text plans, confirming rows      (text)
 *       ps_store_query.c      queries and small reads               (match, codec)
 *       ps_store_trace.c      one mail across events                (query)
 *       ps_store_retention.c  deleting by age and size, and filling
 *                             chunk_devices, between batches        (text, chunkdev)
 *       ps_store_health.c     quick_check, the WAL watch, reload record (sql)
 *       ps_store_output.c     outputs' cursors, counters and reads  (codec)
 *       ps_store_recover.c    rebuilding a damaged file              (write, query)
 *       ps_store.c            open and close, resume, counters      (migrate, codec, write)
 *
 * The pieces below this header take a ps_store_db (and their own state), never a
 * ps_store, so they cannot reach up; this header includes them, not the reverse. */
#ifndef PS_STORE_INTERNAL_H
#define PS_STORE_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>

#include "podstream/ps_store.h"
#include "store/ps_store_codec.h"
#include "store/ps_store_chunkdev.h"
#include "store/ps_store_elide.h"
#include "store/ps_store_sql.h"
#include "store/ps_store_text.h"

/* Per-thread scratch for ps_store_prepare: one per worker, never shared. */
struct ps_store_prep {
    ps_store_codec *codec; /* borrowed from the store; touched under codec->mu only */
    ps_store_cscratch z;
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

/* Word tokens of a piece of text as the full-text index sees them. */
typedef struct ps_tokens {
    char **tok;
    size_t n, cap;
} ps_tokens;

struct ps_store {
    ps_store_db conn;
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
    /* time bounds of the chunks the open batch touched, written at commit */
    ps_chunk_acc *cacc;
    size_t ncacc, capcacc;
    sqlite3_stmt *st_chunk, *st_chunk_raise, *st_dup;
    /* which ids of those chunks each device stored (ps_store_chunkdev.h) */
    ps_chunkdev cdev;
    ps_store_codec codec;
    /* the unicode61 tokenizer of this connection, for query verification */
    void *fts_api;
    void *tokenizer;
    void *tokenizer_mod; /* fts5_tokenizer */
    /* the WAL watch (ps_store_health.c) */
    uint64_t wal_warn_recorded;   /* the threshold written to meta by this open; 0: none */
    int64_t wal_blocked_since_us; /* the blocked episode under way; 0: none */
    /* the writer's wait for a lock: when the current one began, and a deadline that
     * another thread may set (ps_store_set_deadline) */
    int64_t busy_since_ms;
    _Atomic int64_t deadline_ms;
};

/* How long the writer's connection waits for a lock before SQLITE_BUSY. */
#define PS_STORE_WRITER_BUSY_MS 10000

/* Rows per chunk of the `chunks` table: ids id >> PS_CHUNK_SHIFT share a row that
 * bounds their ts, which lets a newest-first full-text query stop early. */
#define PS_CHUNK_SHIFT 10

/* ---- write path (ps_store_write.c) -------------------------------------------------- */

/* Typed values are for listing and filtering; the full event is kept in `raw`.
 * A subject can be many kilobytes of spam: keep the part a person reads. */
#define PS_STORE_SUBJECT_MAX 1000
#define PS_STORE_FIELD_MAX   4000

/* Prepares the writer's statements, once, after the schema is in place. */
ps_err ps_store_write_prepare(ps_store *st, ps_errmsg *em);
/* Finalizes them and frees the batch accumulators. */
void ps_store_write_close(ps_store *st);

/* ---- full text (ps_store_match.c) ---------------------------------------------------- */

/* Splits text into words as events_fts does (the same tokenizer and options). */
ps_err ps_store_tokenize(ps_store *st, const char *text, size_t len, ps_tokens *out, ps_errmsg *em);
void ps_tokens_clear(ps_tokens *t);
/* Frees the tokenizer of this connection. */
void ps_store_tokenizer_close(ps_store *st);

/* One word of --search or the --subject text: a run of tokens that must appear in
 * sequence in one field; the last may be a prefix. */
typedef struct ps_phrase {
    ps_tokens toks;
    bool prefix;
    char *word; /* the word as typed, for the id alternatives of --search */
} ps_phrase;

/* A query's full-text part: the FTS5 expression, and what confirms a candidate. */
typedef struct ps_plan {
    char *match; /* FTS5 expression, NULL: no full-text part */
    size_t mlen, mcap;
    ps_phrase *search;
    size_t nsearch;
    ps_phrase subject;
    bool has_subject;
    char from[512], to[512], msgid[1024];
    ps_tokens rowtoks; /* scratch for confirming rows */
} ps_plan;

/* Builds the plan of q into a zeroed *p; PS_ERR_INVALID naming the filter. */
ps_err ps_plan_compile(ps_store *st, const ps_query *q, ps_plan *p, ps_errmsg *em);
/* ANDs the words of q's typed filters that the full-text entry holds (the
 * disposition) into p's match, so that they yield candidates too; a value without
 * words adds nothing. The candidates still need the typed column's comparison
 * (the query's SQL has it), which ps_plan_confirm does not do. */
ps_err ps_plan_add_typed(ps_store *st, const ps_query *q, ps_plan *p, ps_errmsg *em);
/* *ok when row r meets every filter of the plan exactly. */
ps_err ps_plan_confirm(ps_store *st, const ps_query *q, ps_plan *p, const ps_event_row *r, bool *ok,
                       ps_errmsg *em);
void ps_plan_free(ps_plan *p);

/* ---- rows kept beyond a step (ps_store_query.c) ---------------------------------------- */

typedef struct ps_row_copy {
    ps_event_row r;
    char *strings;    /* one allocation holding key, tags and the typed values */
    int64_t key_hash; /* the listing's last sort key (ts, device, key_hash); 0 in trace */
} ps_row_copy;

/* Copies r's strings (not its raw JSON) into dst. PS_ERR_NOMEM. */
ps_err ps_row_copy_make(ps_row_copy *dst, const ps_event_row *r);
/* Delivers owned rows in order, fetching the JSON of each when asked; a row
 * deleted meanwhile is skipped. *delivered (may be NULL) counts the rows. */
ps_err ps_row_copy_deliver(ps_store *st, ps_row_copy *rows, size_t n, bool want_raw,
                           ps_store_row_fn fn, void *ctx, size_t *delivered, ps_errmsg *em);

/* ---- retention (ps_store_retention.c) ------------------------------------------------- */

/* Deletes events (and their full-text entries) in the current transaction:
 * the `limit` oldest by ts, among those with ts < before_us (INT64_MAX: any) and
 * id <= max_id (INT64_MAX: any). An event above an enabled output's cursor is
 * counted as dropped for that output (retention_dropped). */
ps_err ps_store_delete_oldest(ps_store *st, int64_t before_us, int64_t max_id, unsigned limit,
                              uint64_t *deleted, ps_errmsg *em);

#endif
