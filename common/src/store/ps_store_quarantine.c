/* ps_store quarantine: reading and deleting the payloads that could not become
 * events (written by ps_store_quarantine in ps_store_write.c), for `podstream
 * quarantine`. Payloads are zstd-compressed without a dictionary. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "podstream/ps_mem.h"
#include "store/ps_store_internal.h"

void ps_quarantine_filter_init(ps_quarantine_filter *f)
{
    memset(f, 0, sizeof *f);
    f->device_id = -1;
    f->since_us = INT64_MIN;
    f->until_us = INT64_MAX;
}

/* The WHERE clause every statement shares; bound by bind_filter in this order. */
#define WHERE                                                                                      \
    " WHERE (?1 <= 0 OR id = ?1) AND (?2 < 0 OR device_id = ?2) AND received_us >= ?3 AND "        \
    "received_us < ?4"

static void bind_filter(sqlite3_stmt *s, const ps_quarantine_filter *f)
{
    sqlite3_bind_int64(s, 1, f->id);
    sqlite3_bind_int64(s, 2, f->device_id);
    sqlite3_bind_int64(s, 3, f->since_us);
    sqlite3_bind_int64(s, 4, f->until_us);
}

/* Decompresses the payload of the current row into *buf (grown as needed). */
static ps_err unpack(sqlite3_stmt *s, size_t raw_len, char **buf, size_t *cap, ps_errmsg *em)
{
    const void *blob = sqlite3_column_blob(s, 6);
    size_t blen = (size_t)sqlite3_column_bytes(s, 6), n;
    void *mem = *buf;
    if (ps_mem_reserve(&mem, cap, raw_len + 1) != PS_OK || !mem)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    *buf = mem;
    n = ZSTD_decompress(*buf, raw_len, blob ? blob : "", blen);
    if (ZSTD_isError(n) || n != raw_len)
        return ps_errmsg_set(em, PS_ERR_CORRUPT, "quarantined payload %lld does not decompress",
                             (long long)sqlite3_column_int64(s, 0));
    (*buf)[raw_len] = '\0';
    return PS_OK;
}

ps_err ps_store_quarantine_list(ps_store *st, const ps_quarantine_filter *f, ps_quarantine_fn fn,
                                void *ctx, size_t *count, ps_errmsg *em)
{
    sqlite3_stmt *s = NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    ps_err err = PS_OK;
    int rc;
    if (count)
        *count = 0;
    if (sqlite3_prepare_v2(st->conn.db,
                           "SELECT id, received_us, device_id, type, reason, raw_len, raw "
                           "FROM quarantine" WHERE " ORDER BY id DESC LIMIT ?5",
                           -1, &s, NULL) != SQLITE_OK)
        return ps_store_dberr(&st->conn, em, "reading the quarantine");
    bind_filter(s, f);
    sqlite3_bind_int64(s, 5, f->limit ? (sqlite3_int64)f->limit : -1);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        ps_quarantine_row r;
        memset(&r, 0, sizeof r);
        r.id = sqlite3_column_int64(s, 0);
        r.received_us = sqlite3_column_int64(s, 1);
        r.device_id = sqlite3_column_int64(s, 2);
        r.type = (ps_data_type)sqlite3_column_int(s, 3);
        r.reason = (const char *)sqlite3_column_text(s, 4);
        r.raw_len = (size_t)sqlite3_column_int64(s, 5);
        if (f->want_raw) {
            if ((err = unpack(s, r.raw_len, &buf, &cap, em)) != PS_OK)
                goto out;
            r.raw = buf;
        }
        n++;
        if (!fn(&r, ctx))
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        err = ps_store_dberr(&st->conn, em, "reading the quarantine");
out:
    if (count)
        *count = n;
    sqlite3_finalize(s);
    free(buf);
    return err;
}

ps_err ps_store_quarantine_delete(ps_store *st, const ps_quarantine_filter *f, uint64_t *deleted,
                                  ps_errmsg *em)
{
    sqlite3_stmt *s = NULL;
    ps_err err = ps_store_need_writer(&st->conn, "ps_store_quarantine_delete", em);
    if (deleted)
        *deleted = 0;
    if (err != PS_OK)
        return err;
    if (sqlite3_prepare_v2(st->conn.db, "DELETE FROM quarantine" WHERE, -1, &s, NULL) != SQLITE_OK)
        return ps_store_dberr(&st->conn, em, "deleting from the quarantine");
    bind_filter(s, f);
    if (sqlite3_step(s) != SQLITE_DONE)
        err = ps_store_dberr(&st->conn, em, "deleting from the quarantine");
    else if (deleted)
        *deleted = (uint64_t)sqlite3_changes(st->conn.db);
    sqlite3_finalize(s);
    return err;
}
