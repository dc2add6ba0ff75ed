/* ps_gui_app: the podstream-gui application: its options (-c DIR, --db PATH,
 * --version, as the CLI's), the stylesheet, and one window per activation. */
#ifndef PS_GUI_APP_H
#define PS_GUI_APP_H

#include <adwaita.h>

#include "ps_gui_window.h"

/* A new application (full reference owned by the caller). Run it with
 * g_application_run(). Not unique: every start is its own process, so that an
 * admin can look at two configurations at once. */
AdwApplication *ps_gui_app_new(void);

/* The window the application opened, or NULL before activation. Borrowed. */
PsGuiWindow *ps_gui_app_window(AdwApplication *app);

#endif
