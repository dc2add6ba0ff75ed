/* For the service to save what it stored when the file under the database's name
 * was removed or replaced while it ran: empty the WAL, whose name the new file
 * shares, and copy the whole database. */
#include <sqlite3.h>

#include "podstream/ps_platform.h"
#include "store/ps_store_internal.h"

ps_err ps_store_copy_to(ps_store *st, const char *dest, ps_errmsg *em)
{
    sqlite3_stmt *s = NULL;
    ps_err err = PS_OK;

    /* VACUUM INTO takes an empty file: made first, it gets the database's mode and
     * cannot replace anything. */
    err = ps_plat_create_exclusive(dest, "", 0, 0640, em);
    if (err != PS_OK)
        return err;
    if (sqlite3_prepare_v2(st->conn.db, "VACUUM INTO ?", -1, &s, NULL) != SQLITE_OK ||
        sqlite3_bind_text(s, 1, dest, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_step(s) != SQLITE_DONE)
        err = ps_store_dberr(&st->conn, em, "copying the database");
    sqlite3_finalize(s);
    if (err != PS_OK)
        (void)ps_plat_remove(dest, NULL);
    return err;
}

ps_err ps_store_wal_empty(ps_store *st, ps_errmsg *em)
{
    return ps_store_exec(&st->conn, "PRAGMA wal_checkpoint(TRUNCATE)", em);
}
