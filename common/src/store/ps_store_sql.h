/* ps_store SQL helpers: the connection and what every piece does with it (errors
 * with the database named, statements run, prepared and stepped). The lowest
 * piece of the store: it includes no other store header. */
#ifndef PS_STORE_SQL_H
#define PS_STORE_SQL_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "podstream/ps_store.h"

/* One SQLite connection and what its errors name. Owned by the ps_store. */
typedef struct ps_store_db {
    sqlite3 *db;
    char *path;
    ps_store_mode mode;
} ps_store_db;

/* Sets em from the connection's last error: "<path>: <what>: <sqlite message>", and
 * returns the matching ps_err (busy: PS_ERR_CONFLICT, full or I/O: PS_ERR_IO, a damaged
 * file or not a database: PS_ERR_CORRUPT). */
ps_err ps_store_dberr(const ps_store_db *c, ps_errmsg *em, const char *what);

/* Runs SQL without results. */
ps_err ps_store_exec(ps_store_db *c, const char *sql, ps_errmsg *em);

/* Prepares a statement kept for the life of the connection (*out owned by the
 * caller, sqlite3_finalize). */
ps_err ps_store_prepare_kept(ps_store_db *c, sqlite3_stmt **out, const char *sql, ps_errmsg *em);

/* Steps a prepared statement once, then resets it and clears its bindings. */
ps_err ps_store_step_done(ps_store_db *c, sqlite3_stmt *s, const char *what, ps_errmsg *em);

/* The integer in the first column of a one-row query, bound to *arg when arg is not
 * NULL. *found is false when there is no row or its value is NULL (*out is then left
 * as it was); `what` names the read in an error. */
ps_err ps_store_int_query(ps_store_db *c, const char *sql, const int64_t *arg, bool *found,
                          int64_t *out, const char *what, ps_errmsg *em);

/* The meta table's integer under key k: *v (0 when there is none; *found, which may be
 * NULL, says whether there is one). */
ps_err ps_store_meta_get(ps_store_db *c, const char *k, bool *found, int64_t *v, const char *what,
                         ps_errmsg *em);

/* Sets the meta table's value under key k: `text` when it is not NULL, else v. */
ps_err ps_store_meta_put(ps_store_db *c, const char *k, int64_t v, const char *text,
                         const char *what, ps_errmsg *em);

/* PS_ERR_INTERNAL naming `fn` on a read-only store. */
ps_err ps_store_need_writer(const ps_store_db *c, const char *fn, ps_errmsg *em);

#endif
