/* ps_store schema creation and upgrades (ps_store_migrate.c). Uses the SQL
 * helpers only. */
#ifndef PS_STORE_MIGRATE_H
#define PS_STORE_MIGRATE_H

#include "store/ps_store_sql.h"

/* Brings a writer's database to PS_STORE_SCHEMA_VERSION, step by step, each step
 * in its own transaction; refuses a newer one. */
ps_err ps_store_migrate(ps_store_db *db, ps_errmsg *em);
/* PRAGMA user_version (0: a new, empty file). */
ps_err ps_store_read_version(ps_store_db *db, int *out, ps_errmsg *em);

#endif
