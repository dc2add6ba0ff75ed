/* The application object: options like the CLI's, and the window. */
#include "ps_gui_app.h"

#include <stdio.h>

#include "podstream/ps_platform.h"

/* Made by glib-compile-resources --manual-register --c-name ps_gui. */
void ps_gui_register_resource(void);

/* The options, kept on the application between handle-local-options and activate. */
typedef struct app_opts {
    char *config_dir;
    char *db_path;
} app_opts;

static void app_opts_free(gpointer p)
{
    app_opts *o = p;
    g_free(o->config_dir);
    g_free(o->db_path);
    g_free(o);
}

/* -c DIR, then $PODSTREAM_CONFIG_DIR, then the platform default: as the CLI. */
static const char *config_dir_of(const char *option)
{
    const char *env = g_getenv("PODSTREAM_CONFIG_DIR");
    if (option && *option)
        return option;
    return env && *env ? env : ps_plat_default_config_dir();
}

static int on_local_options(GApplication *app, GVariantDict *opts, gpointer data)
{
    app_opts *o = g_new0(app_opts, 1);
    const char *dir = NULL, *db = NULL;
    (void)data;
    if (g_variant_dict_contains(opts, "version")) {
        printf("podstream-gui %s\n", PS_VERSION);
        g_free(o);
        return 0;
    }
    g_variant_dict_lookup(opts, "config", "&s", &dir);
    g_variant_dict_lookup(opts, "db", "&s", &db);
    o->config_dir = g_strdup(config_dir_of(dir));
    o->db_path = db && *db ? g_strdup(db) : NULL;
    g_object_set_data_full(G_OBJECT(app), "ps-opts", o, app_opts_free);
    return -1; /* go on: activate */
}

static void on_activate(GApplication *app, gpointer data)
{
    app_opts *o = g_object_get_data(G_OBJECT(app), "ps-opts");
    PsGuiWindow *w = ps_gui_app_window(ADW_APPLICATION(app));
    GtkCssProvider *css;
    (void)data;
    if (w) {
        gtk_window_present(GTK_WINDOW(w));
        return;
    }
    css = gtk_css_provider_new();
    gtk_css_provider_load_from_resource(css, "/com/podstream/Gui/style.css");
    gtk_style_context_add_provider_for_display(gdk_display_get_default(), GTK_STYLE_PROVIDER(css),
                                               GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
    g_object_unref(css);
    w = ps_gui_window_new(ADW_APPLICATION(app), o ? o->config_dir : config_dir_of(NULL),
                          o ? o->db_path : NULL);
    g_object_set_data(G_OBJECT(app), "ps-window", w);
    gtk_window_present(GTK_WINDOW(w));
}

AdwApplication *ps_gui_app_new(void)
{
    const GOptionEntry entries[] = {
        {"config", 'c', 0, G_OPTION_ARG_STRING, NULL,
         "configuration directory (default: $PODSTREAM_CONFIG_DIR, else the platform's)", "DIR"},
        {"db", 0, 0, G_OPTION_ARG_STRING, NULL,
         "the database to read (default: the configuration's `database` setting)", "PATH"},
        {"version", 'V', 0, G_OPTION_ARG_NONE, NULL, "print the version and exit", NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    static gsize registered;
    AdwApplication *app;
    if (g_once_init_enter(&registered)) {
        ps_gui_register_resource();
        g_once_init_leave(&registered, 1);
    }
    app = adw_application_new("com.podstream.Gui", G_APPLICATION_NON_UNIQUE);
    g_application_add_main_option_entries(G_APPLICATION(app), entries);
    g_application_set_option_context_summary(
        G_APPLICATION(app), "Configure podstream devices, watch their live counts and find mail.");
    g_signal_connect(app, "handle-local-options", G_CALLBACK(on_local_options), NULL);
    g_signal_connect(app, "activate", G_CALLBACK(on_activate), NULL);
    return app;
}

PsGuiWindow *ps_gui_app_window(AdwApplication *app)
{
    return g_object_get_data(G_OBJECT(app), "ps-window");
}
