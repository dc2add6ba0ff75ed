/* ps_store outputs: each output's cursor and counters (the `outputs` table, schema
 * version 4), and the read its runner makes (issue #16).
 *
 * A runner uses its own connection, so a cursor commit is a transaction of its own
 * beside the writer's batches: a few rows, milliseconds under the write lock. The
 * read is one statement over an id range (the rowid B-tree), so no read transaction
 * outlives a batch and the WAL can always be checkpointed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/ps_store_internal.h"

const char *ps_output_state_name(ps_output_state s)
{
    static const char *const names[] = {"stopped", "idle", "sending", "retrying", "error"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "unknown";
}

static ps_err run(ps_store *st, sqlite3_stmt *s, const char *what, ps_errmsg *em)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return ps_store_dberr(&st->conn, em, what);
    return PS_OK;
}

static ps_err prep(ps_store *st, sqlite3_stmt **s, const char *sql, ps_errmsg *em)
{
    if (sqlite3_prepare_v2(st->conn.db, sql, -1, s, NULL) != SQLITE_OK)
        return ps_store_dberr(&st->conn, em, "preparing an output statement");
    return PS_OK;
}

ps_err ps_store_outputs_sync(ps_store *st, const char *const *names, const char *const *types,
                             size_t n, ps_errmsg *em)
{
    sqlite3_stmt *up = NULL;
    ps_err err;
    if ((err = ps_store_exec(&st->conn, "BEGIN IMMEDIATE", em)) != PS_OK)
        return err;
    if ((err = ps_store_exec(&st->conn, "UPDATE outputs SET enabled = 0", em)) != PS_OK ||
        (err = prep(st, &up,
                    "INSERT INTO outputs(name, type, enabled) VALUES(?, ?, 1) "
                    "ON CONFLICT(name) DO UPDATE SET enabled = 1, type = excluded.type",
                    em)) != PS_OK)
        goto out;
    for (size_t i = 0; i < n && err == PS_OK; i++) {
        sqlite3_bind_text(up, 1, names[i], -1, SQLITE_STATIC);
        sqlite3_bind_text(up, 2, types[i] ? types[i] : "", -1, SQLITE_STATIC);
        err = run(st, up, "recording an output", em);
    }
    if (err == PS_OK)
        err = ps_store_exec(&st->conn, "COMMIT", em);
out:
    sqlite3_finalize(up);
    if (err != PS_OK)
        (void)sqlite3_exec(st->conn.db, "ROLLBACK", NULL, NULL, NULL);
    return err;
}

ps_err ps_store_output_cursor(ps_store *st, const char *name, int64_t *last_id, ps_errmsg *em)
{
    sqlite3_stmt *s = NULL;
    ps_err err = prep(st, &s, "SELECT last_id FROM outputs WHERE name = ?", em);
    *last_id = 0;
    if (err != PS_OK)
        return err;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *last_id = sqlite3_column_int64(s, 0);
    else if (rc != SQLITE_DONE)
        err = ps_store_dberr(&st->conn, em, "reading an output's cursor");
    sqlite3_finalize(s);
    return err;
}

ps_err ps_store_output_commit(ps_store *st, const char *name, int64_t last_id,
                              const ps_output_row *c, ps_errmsg *em)
{
    sqlite3_stmt *s = NULL;
    ps_err err = prep(st, &s,
                      "UPDATE outputs SET last_id = max(last_id, ?2),"
                      " delivered = delivered + ?3, dropped = dropped + ?4, split = split + ?5,"
                      " truncated = truncated + ?6, duplicates = duplicates + ?7,"
                      " last_delivery_us = CASE WHEN ?8 > 0 THEN ?8 ELSE last_delivery_us END"
                      " WHERE name = ?1",
                      em);
    if (err != PS_OK)
        return err;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, last_id);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)c->delivered);
    sqlite3_bind_int64(s, 4, (sqlite3_int64)c->dropped);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)c->split);
    sqlite3_bind_int64(s, 6, (sqlite3_int64)c->truncated);
    sqlite3_bind_int64(s, 7, (sqlite3_int64)c->duplicates);
    sqlite3_bind_int64(s, 8, c->last_delivery_us);
    err = run(st, s, "committing an output's cursor", em);
    sqlite3_finalize(s);
    return err;
}

static void inflight_key(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "output.inflight.%s", name);
}

ps_err ps_store_output_inflight(ps_store *st, const char *name, int64_t *id, ps_errmsg *em)
{
    sqlite3_stmt *s = NULL;
    char k[200];
    ps_err err = prep(st, &s, "SELECT v FROM meta WHERE k = ?", em);
    *id = 0;
    if (err != PS_OK)
        return err;
    inflight_key(k, sizeof k, name);
    sqlite3_bind_text(s, 1, k, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *id = sqlite3_column_int64(s, 0);
    else if (rc != SQLITE_DONE)
        err = ps_store_dberr(&st->conn, em, "reading an output's batch in flight");
    sqlite3_finalize(s);
    return err;
}

ps_err ps_store_output_inflight_put(ps_store *st, const char *name, int64_t id, ps_errmsg *em)
{
    sqlite3_stmt *s = NULL;
    char k[200];
    ps_err err = prep(st, &s, "INSERT OR REPLACE INTO meta(k, v) VALUES (?, ?)", em);
    if (err != PS_OK)
        return err;
    inflight_key(k, sizeof k, name);
    sqlite3_bind_text(s, 1, k, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, id);
    err = run(st, s, "recording an output's batch in flight", em);
    sqlite3_finalize(s);
    return err;
}

ps_err ps_store_output_state_put(ps_store *st, const ps_output_row *r, ps_errmsg *em)
{
    sqlite3_stmt *s = NULL;
    ps_err err = prep(st, &s,
                      "UPDATE outputs SET state = ?2, rate = ?3, last_error = ?4,"
                      " last_error_us = ?5, updated_us = ?6 WHERE name = ?1",
                      em);
    if (err != PS_OK)
        return err;
    sqlite3_bind_text(s, 1, r->name, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, (int)r->state);
    sqlite3_bind_double(s, 3, r->rate);
    sqlite3_bind_text(s, 4, r->last_error, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, r->last_error_us);
    sqlite3_bind_int64(s, 6, r->updated_us);
    err = run(st, s, "writing an output's state", em);
    sqlite3_finalize(s);
    return err;
}

static void copy_text(char *dst, size_t cap, const unsigned char *src)
{
    snprintf(dst, cap, "%s", src ? (const char *)src : "");
}

static void fill_output_row(sqlite3_stmt *s, int64_t max_id, ps_output_row *r)
{
    memset(r, 0, sizeof *r);
    copy_text(r->name, sizeof r->name, sqlite3_column_text(s, 0));
    copy_text(r->type, sizeof r->type, sqlite3_column_text(s, 1));
    r->enabled = sqlite3_column_int(s, 2) != 0;
    r->last_id = sqlite3_column_int64(s, 3);
    r->backlog = max_id > r->last_id ? (uint64_t)(max_id - r->last_id) : 0;
    r->state = (ps_output_state)sqlite3_column_int(s, 4);
    r->rate = sqlite3_column_double(s, 5);
    copy_text(r->last_error, sizeof r->last_error, sqlite3_column_text(s, 6));
    r->last_error_us = sqlite3_column_int64(s, 7);
    r->last_delivery_us = sqlite3_column_int64(s, 8);
    r->delivered = (uint64_t)sqlite3_column_int64(s, 9);
    r->dropped = (uint64_t)sqlite3_column_int64(s, 10);
    r->split = (uint64_t)sqlite3_column_int64(s, 11);
    r->truncated = (uint64_t)sqlite3_column_int64(s, 12);
    r->duplicates = (uint64_t)sqlite3_column_int64(s, 13);
    r->retention_dropped = (uint64_t)sqlite3_column_int64(s, 14);
    r->updated_us = sqlite3_column_int64(s, 15);
}

ps_err ps_store_output_list(ps_store *st, ps_output_row **out, size_t *count, ps_errmsg *em)
{
    sqlite3_stmt *s = NULL;
    ps_output_row *rows = NULL;
    size_t n = 0, cap = 0;
    int64_t max_id = 0;
    int rc;
    ps_err err;
    *out = NULL;
    *count = 0;
    if ((err = ps_store_last_id(st, &max_id, em)) != PS_OK ||
        (err = prep(st, &s,
                    "SELECT name, type, enabled, last_id, state, rate, last_error, last_error_us,"
                    " last_delivery_us, delivered, dropped, split, truncated, duplicates,"
                    " retention_dropped, updated_us FROM outputs ORDER BY name",
                    em)) != PS_OK)
        return err;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 8;
            ps_output_row *nr = realloc(rows, nc * sizeof *nr);
            if (!nr) {
                err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
                goto out;
            }
            rows = nr;
            cap = nc;
        }
        fill_output_row(s, max_id, &rows[n++]);
    }
    if (rc != SQLITE_DONE)
        err = ps_store_dberr(&st->conn, em, "listing outputs");
out:
    sqlite3_finalize(s);
    if (err != PS_OK) {
        free(rows);
        return err;
    }
    *out = rows;
    *count = n;
    return PS_OK;
}

ps_err ps_store_output_read(ps_store *st, int64_t after_id, size_t limit, size_t max_bytes,
                            ps_store_row_fn fn, void *ctx, int64_t *last_id, ps_errmsg *em)
{
    char sql[1024];
    size_t n, got = 0, bytes = 0;
    sqlite3_stmt *s = NULL;
    ps_err err = PS_OK;
    int rc;
    *last_id = after_id;
    n = (size_t)snprintf(sql, sizeof sql,
                         "SELECT id, device_id, type, ts_us, key, dict_id, fmt,"
                         " raw_len, raw");
    for (int i = 0; i < PS_EF__COUNT; i++)
        n += (size_t)snprintf(sql + n, sizeof sql - n, ", %s", ps_store_field_col[i]);
    snprintf(sql + n, sizeof sql - n,
             ", spam_score, size_bytes FROM events WHERE id > ? ORDER BY id LIMIT ?");
    if ((err = prep(st, &s, sql, em)) != PS_OK)
        return err;
    sqlite3_bind_int64(s, 1, after_id);
    sqlite3_bind_int64(s, 2, limit ? (sqlite3_int64)limit : -1);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        ps_event_row r;
        memset(&r, 0, sizeof r);
        r.id = sqlite3_column_int64(s, 0);
        r.device_id = sqlite3_column_int64(s, 1);
        r.type = (ps_data_type)sqlite3_column_int(s, 2);
        r.ts_us = sqlite3_column_int64(s, 3);
        r.key = (const char *)sqlite3_column_text(s, 4);
        for (int i = 0; i < PS_EF__COUNT; i++)
            r.text[i] = (const char *)sqlite3_column_text(s, 9 + i);
        r.has_spam_score = sqlite3_column_type(s, 9 + PS_EF__COUNT) != SQLITE_NULL;
        r.spam_score = sqlite3_column_double(s, 9 + PS_EF__COUNT);
        r.has_size = sqlite3_column_type(s, 10 + PS_EF__COUNT) != SQLITE_NULL;
        r.size_bytes = sqlite3_column_int64(s, 10 + PS_EF__COUNT);
        err = ps_store_row_json(
            &st->codec, &st->conn, sqlite3_column_int64(s, 5), sqlite3_column_int(s, 6),
            sqlite3_column_blob(s, 8), (size_t)sqlite3_column_bytes(s, 8),
            (size_t)sqlite3_column_int64(s, 7), r.key, r.text, &r.raw, &r.raw_len, em);
        if (err != PS_OK)
            break;
        if (got > 0 && max_bytes && bytes + r.raw_len > max_bytes)
            break;
        got++;
        bytes += r.raw_len;
        *last_id = r.id;
        if (!fn(&r, ctx))
            break;
    }
    if (err == PS_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
        err = ps_store_dberr(&st->conn, em, "reading events for an output");
    sqlite3_finalize(s);
    return err;
}

bool ps_store_row_values_whole(const ps_event_row *row)
{
    for (int i = 0; i < PS_EF__COUNT; i++) {
        size_t max = i == PS_EF_SUBJECT ? PS_STORE_SUBJECT_MAX : PS_STORE_FIELD_MAX;
        /* A cut ends on a UTF-8 boundary, up to 3 bytes short of the limit. */
        if (row->text[i] && strlen(row->text[i]) + 3 >= max)
            return false;
    }
    return true;
}
