/* ps_store SQL helpers (see ps_store_sql.h). */
#include "store/ps_store_sql.h"

ps_err ps_store_dberr(const ps_store_db *c, ps_errmsg *em, const char *what)
{
    int code = c && c->db ? sqlite3_extended_errcode(c->db) : SQLITE_ERROR;
    const char *msg = c && c->db ? sqlite3_errmsg(c->db) : "no connection";
    ps_err err = PS_ERR_DB;
    if ((code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED)
        err = PS_ERR_CONFLICT;
    else if ((code & 0xff) == SQLITE_NOMEM)
        err = PS_ERR_NOMEM;
    else if ((code & 0xff) == SQLITE_FULL || (code & 0xff) == SQLITE_IOERR)
        err = PS_ERR_IO;
    /* Busy, full and I/O may clear; a damaged page stays damaged, so the writer must
     * not retry it (see ps_store_quick_check and `podstream repair`). */
    else if ((code & 0xff) == SQLITE_CORRUPT || (code & 0xff) == SQLITE_NOTADB)
        err = PS_ERR_CORRUPT;
    if (c && c->path)
        return ps_errmsg_set(em, err, "%s: %s: %s", c->path, what, msg);
    return ps_errmsg_set(em, err, "%s: %s", what, msg);
}

ps_err ps_store_exec(ps_store_db *c, const char *sql, ps_errmsg *em)
{
    if (sqlite3_exec(c->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return ps_store_dberr(c, em, "SQL failed");
    return PS_OK;
}

ps_err ps_store_prepare_kept(ps_store_db *c, sqlite3_stmt **out, const char *sql, ps_errmsg *em)
{
    if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL) != SQLITE_OK)
        return ps_store_dberr(c, em, "preparing a statement");
    return PS_OK;
}

ps_err ps_store_step_done(ps_store_db *c, sqlite3_stmt *s, const char *what, ps_errmsg *em)
{
    int rc = sqlite3_step(s);
    ps_err err = PS_OK;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        err = ps_store_dberr(c, em, what);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return err;
}

ps_err ps_store_need_writer(const ps_store_db *c, const char *fn, ps_errmsg *em)
{
    if (c->mode != PS_STORE_WRITER)
        return ps_errmsg_set(em, PS_ERR_INTERNAL, "%s on a read-only store", fn);
    return PS_OK;
}

ps_err ps_store_int_query(ps_store_db *c, const char *sql, const int64_t *arg, bool *found,
                          int64_t *out, const char *what, ps_errmsg *em)
{
    sqlite3_stmt *s = NULL;
    int rc;
    *found = false;
    if (sqlite3_prepare_v2(c->db, sql, -1, &s, NULL) != SQLITE_OK)
        return ps_store_dberr(c, em, what);
    if (arg)
        sqlite3_bind_int64(s, 1, *arg);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) {
        *found = true;
        *out = sqlite3_column_int64(s, 0);
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return ps_store_dberr(c, em, what);
    return PS_OK;
}

ps_err ps_store_meta_get(ps_store_db *c, const char *k, bool *found, int64_t *v, const char *what,
                         ps_errmsg *em)
{
    sqlite3_stmt *s = NULL;
    ps_err err = PS_OK;
    int rc;
    *v = 0;
    if (found)
        *found = false;
    if (sqlite3_prepare_v2(c->db, "SELECT v FROM meta WHERE k = ?", -1, &s, NULL) != SQLITE_OK)
        return ps_store_dberr(c, em, what);
    sqlite3_bind_text(s, 1, k, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *v = sqlite3_column_int64(s, 0);
        if (found)
            *found = true;
    } else if (rc != SQLITE_DONE) {
        err = ps_store_dberr(c, em, what);
    }
    sqlite3_finalize(s);
    return err;
}

ps_err ps_store_meta_put(ps_store_db *c, const char *k, int64_t v, const char *text,
                         const char *what, ps_errmsg *em)
{
    sqlite3_stmt *s = NULL;
    ps_err err;
    if (sqlite3_prepare_v2(c->db, "INSERT OR REPLACE INTO meta(k, v) VALUES (?, ?)", -1, &s,
                           NULL) != SQLITE_OK)
        return ps_store_dberr(c, em, what);
    sqlite3_bind_text(s, 1, k, -1, SQLITE_STATIC);
    if (text)
        sqlite3_bind_text(s, 2, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_int64(s, 2, v);
    err = ps_store_step_done(c, s, what, em);
    sqlite3_finalize(s);
    return err;
}
