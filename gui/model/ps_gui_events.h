/* ps_gui_events: the Events page's filter and its pager, without a widget.
 *
 * The filter holds the texts of `podstream query`'s filters and turns them into a
 * ps_query exactly as the CLI does (times through ps_time_parse_when). The pager
 * reads the result a page at a time through ps_store_query, in the same order as
 * `podstream query` (newest first, or oldest first), without an OFFSET: each page
 * starts at the previous page's last time stamp and steps over the events of that
 * time stamp already delivered, so a page costs the same at row 10 and at row
 * 1,000,000 and nothing but the pages asked for is ever in memory. */
#ifndef PS_GUI_EVENTS_H
#define PS_GUI_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "podstream/ps_error.h"
#include "podstream/ps_store.h"

/* The filters of `podstream query`, as typed. Every string is owned (or NULL for
 * unset); ps_gui_filter_deinit frees them. */
typedef struct ps_gui_filter {
    long long device_id; /* < 0: every device */
    int type;            /* a ps_data_type, or -1 */
    char *since, *until; /* --since/--until syntax: 2h, today, 2024-05-22 14:30 ... */
    char *from, *to, *subject, *disposition, *qid, *message_id, *search;
    bool oldest_first;
} ps_gui_filter;

/* Everything unset (no allocation). */
void ps_gui_filter_init(ps_gui_filter *f);
/* Frees the strings and unsets them. Accepts NULL. */
void ps_gui_filter_deinit(ps_gui_filter *f);
/* A deep copy into `dst` (which is overwritten, not freed). */
ps_err ps_gui_filter_copy(ps_gui_filter *dst, const ps_gui_filter *src);

/* Fills `q` (ps_query_init'ed here) from `f` at time `now_us`; q borrows f's
 * strings. PS_ERR_INVALID with the CLI's message ("--since: ...") when a time
 * cannot be read or since is not before until. */
ps_err ps_gui_filter_query(const ps_gui_filter *f, int64_t now_us, ps_query *q, ps_errmsg *em);

/* One event of a page; owns its strings. */
typedef struct ps_gui_event {
    int64_t id;
    long long device_id;
    ps_data_type type;
    int64_t ts_us;
    char *key;
    char *text[PS_EF__COUNT]; /* NULL when absent */
} ps_gui_event;

/* Frees what the event owns. Accepts NULL. */
void ps_gui_event_deinit(ps_gui_event *e);

/* Where the next page starts; caller-owned (init/deinit). */
typedef struct ps_gui_cursor {
    bool started;
    bool done;     /* the last page was the end of the result */
    int64_t ts_us; /* the time stamp of the last event delivered */
    int64_t *seen; /* ids delivered with that time stamp */
    size_t nseen, cap;
} ps_gui_cursor;

void ps_gui_cursor_init(ps_gui_cursor *c);
void ps_gui_cursor_deinit(ps_gui_cursor *c);

/* Reads the next page of at most `n` events of `q` (its limit and after_id are
 * ignored) after cursor `c` into a new array *out of *count events (caller frees
 * each with ps_gui_event_deinit, then the array), and moves the cursor. *count < n
 * means the end was reached (c->done). Blocks on SQLite: call it on a worker. */
ps_err ps_gui_events_page(ps_store *st, const ps_query *q, ps_gui_cursor *c, size_t n,
                          ps_gui_event **out, size_t *count, ps_errmsg *em);

/* The event's JSON, pretty-printed with two-space indents, in a new string
 * (caller frees). PS_ERR_NOTFOUND when it is gone. Blocks on SQLite. */
ps_err ps_gui_events_pretty(ps_store *st, int64_t id, char **out, ps_errmsg *em);

#endif
