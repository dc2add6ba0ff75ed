/* ps_gui_window: podstream-gui's main window, a view stack of the Devices, Events,
 * Trace, Device editor and Token pages (composite template gui/ui/window.ui).
 *
 * Actions (also for tests and keyboard shortcuts): win.page('devices'|'events'|
 * 'trace'|'editor'|'token') shows a page; win.apply-token writes the Token page's
 * pasted token into its device, win.create-key creates the missing shared key;
 * win.search runs the Events page's filters;
 * win.trace traces the mail named on the Trace page, win.trace-selected the
 * event selected on the Events page; win.export('csv'|'json') asks for a file and
 * writes the Events page's whole result to it, win.export-to(('csv', PATH)) writes
 * it to PATH without asking (for scripts and tests);
 * win.check-device validates the device in the editor, win.save-device saves it
 * (asking first when its file changed on disk), win.new-device and
 * win.duplicate-device open a new device (blank, or a copy) that Save writes to a
 * file of its own, win.delete-device removes it (asking first), and
 * win.toggle-device enables or disables it and saves; win.refresh reads the
 * counters now instead of at the next second. */
#ifndef PS_GUI_WINDOW_H
#define PS_GUI_WINDOW_H

#include <adwaita.h>

G_BEGIN_DECLS

#define PS_GUI_TYPE_WINDOW (ps_gui_window_get_type())
/* cppcheck: GObject macros come from a system header, which it does not read. */
// cppcheck-suppress unknownMacro
G_DECLARE_FINAL_TYPE(PsGuiWindow, ps_gui_window, PS_GUI, WINDOW, AdwApplicationWindow)

/* A new window of `app` on the configuration directory `config_dir` and the
 * database `db_path` (NULL: the configuration's `database`); both copied. The
 * configuration is read on a worker; the window shows as soon as it is built. */
PsGuiWindow *ps_gui_window_new(AdwApplication *app, const char *config_dir, const char *db_path);

/* Test hook: the text of every label, entry and text view now mapped in the
 * window, one per line, in widget order ("Total" header, then each cell ...), in
 * a new string (g_free). What a screen reader would read on the visible page. */
char *ps_gui_window_describe(PsGuiWindow *w);

/* Test hook: TRUE once the first counters refresh has been shown and no worker
 * of the window is busy (counters, events page, config). */
gboolean ps_gui_window_is_idle(PsGuiWindow *w);

G_END_DECLS

#endif
