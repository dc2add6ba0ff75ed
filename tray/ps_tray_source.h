/* ps_tray_source: the database podstream-tray.exe watches, read as the GUI reads
 * it (ps_store_counters_list on a PS_STORE_READER connection): one autocommit
 * statement per read, so no read transaction stays open between ticks and the
 * service's WAL can always be checkpointed. Plain C, no Win32. */
#ifndef PS_TRAY_SOURCE_H
#define PS_TRAY_SOURCE_H

#include <stddef.h>

#include "podstream/ps_error.h"
#include "podstream/ps_store.h"

typedef struct ps_tray_source ps_tray_source;

/* Watches `db_path` when not NULL, else the `database` setting of the configuration
 * directory `config_dir` (looked up at the first read, and again until it loads).
 * Both borrowed for the call; *out is owned by the caller. PS_ERR_NOMEM. */
ps_err ps_tray_source_create(const char *config_dir, const char *db_path, ps_tray_source **out);
/* Closes the reader and frees the source. Accepts NULL. */
void ps_tray_source_destroy(ps_tray_source *src);

/* Reads every device's counters into *out (a new array, free()) and *count. Opens
 * the reader on first use and again after a failure. On failure em says why, in a
 * line short enough for a tooltip. Blocks on SQLite for one short statement. */
ps_err ps_tray_source_read(ps_tray_source *src, ps_device_counters **out, size_t *count,
                           ps_errmsg *em);

#endif
