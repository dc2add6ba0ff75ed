/* podstream-gui: the desktop app to watch devices and find mail (docs/gui.md). */
#include "ps_gui_app.h"

int main(int argc, char **argv)
{
    AdwApplication *app = ps_gui_app_new();
    int rc;
    /* The icon the package installs into hicolor, as the .desktop file names it. */
    gtk_window_set_default_icon_name("podstream-gui");
    rc = g_application_run(G_APPLICATION(app), argc, argv);
    g_object_unref(app);
    return rc;
}
