/* ps_gui_event_list: the Events page's GListModel, paged lazily from SQLite.
 *
 * Holds only the pages the view has asked for: asking for an item near the end of
 * what is loaded schedules the next page (ps_gui_events_page) on a GTask worker,
 * and the rows come back to the main loop as one items-changed. The database is
 * opened read-only on the worker and each page is one statement, so no read
 * transaction is held between pages. No widget here: tests drive it with a main
 * context of their own. */
#ifndef PS_GUI_EVENT_LIST_H
#define PS_GUI_EVENT_LIST_H

#include <gio/gio.h>

#include "ps_gui_events.h"

G_BEGIN_DECLS

#define PS_GUI_TYPE_EVENT_ITEM (ps_gui_event_item_get_type())
/* cppcheck: GObject macros come from a system header, which it does not read. */
// cppcheck-suppress unknownMacro
G_DECLARE_FINAL_TYPE(PsGuiEventItem, ps_gui_event_item, PS_GUI, EVENT_ITEM, GObject)

/* The event the item holds (borrowed, as long as the item lives and is in the list's
 * current result: the first page of a new filter reuses the item objects of the
 * previous result for its events, with one items-changed). */
const ps_gui_event *ps_gui_event_item_get(PsGuiEventItem *item);

#define PS_GUI_TYPE_EVENT_LIST (ps_gui_event_list_get_type())
// cppcheck-suppress unknownMacro
G_DECLARE_FINAL_TYPE(PsGuiEventList, ps_gui_event_list, PS_GUI, EVENT_LIST, GObject)

/* A new, empty list over the database at `db_path` (copied) that loads `page`
 * events at a time. Property "loading" says a page is being read. Full reference
 * owned by the caller. */
PsGuiEventList *ps_gui_event_list_new(const char *db_path, guint page);

/* Starts reading the first page of `f` (copied). The previous result's items stay
 * in the list until that page replaces them, in place and in one items-changed
 * (0, old count, new count), so that a view rebinds its row widgets instead of
 * building new ones; a failed first page empties the list. FALSE with the reason in
 * em (the CLI's words: "--since: ...") when the filter is refused; the list is then
 * empty at once. */
gboolean ps_gui_event_list_set_filter(PsGuiEventList *l, const ps_gui_filter *f, ps_errmsg *em);

/* The filter of the list's current result (a deep copy into *f: deinit it) and
 * the time its relative times were counted from, so that an export selects the
 * very events shown. FALSE before the first filter. */
gboolean ps_gui_event_list_current(PsGuiEventList *l, ps_gui_filter *f, int64_t *now_us);

/* Reads the next page unless one is being read or the end was reached. */
void ps_gui_event_list_load_more(PsGuiEventList *l);

gboolean ps_gui_event_list_is_loading(PsGuiEventList *l);
/* TRUE while the rows are still the previous result's, the new one's first page being
 * read (ps_gui_event_list_set_filter). */
gboolean ps_gui_event_list_is_searching(PsGuiEventList *l);
/* TRUE when every matching event is in the list. */
gboolean ps_gui_event_list_is_done(PsGuiEventList *l);
/* Why the last page failed (borrowed), or NULL. */
const char *ps_gui_event_list_error(PsGuiEventList *l);

/* Reads event `id`'s JSON, pretty-printed, on a worker. */
void ps_gui_event_list_pretty_async(PsGuiEventList *l, gint64 id, GCancellable *cancel,
                                    GAsyncReadyCallback cb, gpointer data);
/* The text (caller g_free()s), or NULL with *error set. */
char *ps_gui_event_list_pretty_finish(PsGuiEventList *l, GAsyncResult *res, GError **error);

G_END_DECLS

#endif
