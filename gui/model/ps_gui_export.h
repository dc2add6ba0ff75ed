/* ps_gui_export: the Events page's result written to a file, without a widget.
 *
 * Every event the query selects, not only the pages on screen, in the bytes
 * `podstream query --format csv|json --limit 0` prints for the same filter (the
 * same ps_report writer). Written to a temporary file beside the target and
 * renamed over it at the end, so a failed export leaves no half-written file. */
#ifndef PS_GUI_EXPORT_H
#define PS_GUI_EXPORT_H

#include <stdint.h>

#include "podstream/ps_report.h"
#include "podstream/ps_store.h"

/* Writes the events of `q` (its limit and want_raw are set here: all of them) as
 * `fmt` (PS_REPORT_CSV or PS_REPORT_JSON) to `path` (UTF-8, replaced when it
 * exists). *rows (may be NULL) is how many. Blocks on SQLite and the file: call it
 * on a worker. */
ps_err ps_gui_export(ps_store *st, const ps_query *q, ps_report_format fmt, const char *path,
                     uint64_t *rows, ps_errmsg *em);

#endif
