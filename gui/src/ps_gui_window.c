/* The main window: template, actions, the shared column helper, the test hooks. */
#include "ps_gui_window.h"

#include "ps_gui_window_private.h"

G_DEFINE_FINAL_TYPE(PsGuiWindow, ps_gui_window, ADW_TYPE_APPLICATION_WINDOW)

char *ps_gui_local_time(int64_t us)
{
    GDateTime *t = us > 0 ? g_date_time_new_from_unix_local(us / G_USEC_PER_SEC) : NULL;
    char *s = t ? g_date_time_format(t, "%Y-%m-%d %H:%M:%S") : g_strdup("—");
    if (t)
        g_date_time_unref(t);
    return s;
}

/* ---- columns ------------------------------------------------------------------ */

typedef struct column {
    ps_gui_cell_fn fn;
    guint index;
    int width_chars;
} column;

static void cell_setup(GtkSignalListItemFactory *f, GtkListItem *li, gpointer data)
{
    const column *c = data;
    GtkWidget *l = gtk_label_new(NULL);
    (void)f;
    gtk_label_set_xalign(GTK_LABEL(l), 0);
    gtk_label_set_width_chars(GTK_LABEL(l), c->width_chars);
    gtk_label_set_ellipsize(GTK_LABEL(l), PANGO_ELLIPSIZE_END);
    gtk_list_item_set_child(li, l);
}

static void cell_bind(GtkSignalListItemFactory *f, GtkListItem *li, gpointer data)
{
    const column *c = data;
    char *text = c->fn(gtk_list_item_get_item(li), c->index);
    (void)f;
    gtk_label_set_text(GTK_LABEL(gtk_list_item_get_child(li)), text ? text : "");
    g_free(text);
}

void ps_gui_add_column(GtkColumnView *view, const char *title, guint index, ps_gui_cell_fn fn,
                       gboolean expand, int width_chars)
{
    GtkListItemFactory *f = gtk_signal_list_item_factory_new();
    GtkColumnViewColumn *col;
    column *c = g_new0(column, 1);
    c->fn = fn;
    c->index = index;
    c->width_chars = width_chars;
    g_signal_connect(f, "setup", G_CALLBACK(cell_setup), c);
    g_signal_connect_data(f, "bind", G_CALLBACK(cell_bind), c,
                          (GClosureNotify)(void (*)(void))g_free, 0);
    col = gtk_column_view_column_new(title, f);
    gtk_column_view_column_set_expand(col, expand);
    gtk_column_view_column_set_resizable(col, TRUE);
    gtk_column_view_append_column(view, col);
    g_object_unref(col);
}

/* ---- actions -------------------------------------------------------------------- */

static void act_page(GtkWidget *wd, const char *name, GVariant *param)
{
    PsGuiWindow *w = PS_GUI_WINDOW(wd);
    const char *page = g_variant_get_string(param, NULL);
    (void)name;
    if (adw_view_stack_get_child_by_name(w->stack, page))
        adw_view_stack_set_visible_child_name(w->stack, page);
}

static void act_search(GtkWidget *wd, const char *name, GVariant *param)
{
    (void)name;
    (void)param;
    ps_gui_events_page_search(PS_GUI_WINDOW(wd));
}

static void act_check(GtkWidget *wd, const char *name, GVariant *param)
{
    (void)name;
    (void)param;
    ps_gui_editor_page_check(PS_GUI_WINDOW(wd));
}

static void act_trace(GtkWidget *wd, const char *name, GVariant *param)
{
    (void)name;
    (void)param;
    ps_gui_trace_page_run(PS_GUI_WINDOW(wd));
}

static void act_trace_selected(GtkWidget *wd, const char *name, GVariant *param)
{
    (void)name;
    (void)param;
    ps_gui_trace_page_selected(PS_GUI_WINDOW(wd));
}

static void act_export(GtkWidget *wd, const char *name, GVariant *param)
{
    (void)name;
    ps_gui_events_page_export(PS_GUI_WINDOW(wd), g_variant_get_string(param, NULL));
}

static void act_export_to(GtkWidget *wd, const char *name, GVariant *param)
{
    const char *format = NULL, *path = NULL;
    (void)name;
    g_variant_get(param, "(&s&s)", &format, &path);
    ps_gui_events_page_export_to(PS_GUI_WINDOW(wd), format, path);
}

static void act_refresh(GtkWidget *wd, const char *name, GVariant *param)
{
    (void)name;
    (void)param;
    ps_gui_devices_page_refresh(PS_GUI_WINDOW(wd));
}

/* ---- life ----------------------------------------------------------------------- */

static gboolean tick(gpointer data)
{
    ps_gui_devices_page_refresh(data);
    return G_SOURCE_CONTINUE;
}

static void ps_gui_window_dispose(GObject *o)
{
    PsGuiWindow *w = PS_GUI_WINDOW(o);
    if (w->timer)
        g_source_remove(w->timer);
    w->timer = 0;
    if (w->detail_cancel)
        g_cancellable_cancel(w->detail_cancel);
    g_clear_object(&w->detail_cancel);
    g_clear_object(&w->events_sel);
    g_clear_object(&w->events);
    g_clear_object(&w->device_rows);
    g_clear_object(&w->output_rows);
    gtk_widget_dispose_template(GTK_WIDGET(o), PS_GUI_TYPE_WINDOW);
    G_OBJECT_CLASS(ps_gui_window_parent_class)->dispose(o);
}

static void ps_gui_window_finalize(GObject *o)
{
    PsGuiWindow *w = PS_GUI_WINDOW(o);
    ps_gui_devices_destroy(w->devices);
    ps_gui_rates_destroy(w->rates);
    ps_gui_editor_page_free(w);
    g_free(w->config_dir);
    g_free(w->db_path);
    G_OBJECT_CLASS(ps_gui_window_parent_class)->finalize(o);
}

#define CHILD(name) gtk_widget_class_bind_template_child(wc, PsGuiWindow, name)

static void ps_gui_window_class_init(PsGuiWindowClass *k)
{
    GtkWidgetClass *wc = GTK_WIDGET_CLASS(k);
    G_OBJECT_CLASS(k)->dispose = ps_gui_window_dispose;
    G_OBJECT_CLASS(k)->finalize = ps_gui_window_finalize;
    gtk_widget_class_set_template_from_resource(wc, "/com/podstream/Gui/window.ui");
    CHILD(stack);
    CHILD(banner);
    CHILD(banner_label);
    CHILD(no_database);
    CHILD(devices_scroll);
    CHILD(config_problems);
    CHILD(devices_view);
    CHILD(hourly_chart);
    CHILD(events_view);
    CHILD(filter_grid);
    CHILD(events_status);
    CHILD(editor_status);
    CHILD(detail);
    CHILD(editor_device);
    CHILD(editor_form);
    CHILD(trace_id);
    CHILD(trace_status);
    CHILD(trace_list);
    CHILD(token_device);
    CHILD(token_how);
    CHILD(token_entry);
    CHILD(token_name);
    CHILD(token_status);
    CHILD(token_keygen);
    gtk_widget_class_install_action(wc, "win.page", "s", act_page);
    gtk_widget_class_install_action(wc, "win.search", NULL, act_search);
    gtk_widget_class_install_action(wc, "win.check-device", NULL, act_check);
    gtk_widget_class_install_action(wc, "win.refresh", NULL, act_refresh);
    gtk_widget_class_install_action(wc, "win.trace", NULL, act_trace);
    gtk_widget_class_install_action(wc, "win.export", "s", act_export);
    gtk_widget_class_install_action(wc, "win.export-to", "(ss)", act_export_to);
    gtk_widget_class_install_action(wc, "win.trace-selected", NULL, act_trace_selected);
    ps_gui_editor_save_install(wc);
    ps_gui_token_page_install(wc);
    gtk_widget_class_add_binding_action(wc, GDK_KEY_1, GDK_ALT_MASK, "win.page", "s", "devices");
    gtk_widget_class_add_binding_action(wc, GDK_KEY_2, GDK_ALT_MASK, "win.page", "s", "events");
    gtk_widget_class_add_binding_action(wc, GDK_KEY_3, GDK_ALT_MASK, "win.page", "s", "trace");
    gtk_widget_class_add_binding_action(wc, GDK_KEY_4, GDK_ALT_MASK, "win.page", "s", "editor");
    gtk_widget_class_add_binding_action(wc, GDK_KEY_5, GDK_ALT_MASK, "win.page", "s", "token");
    gtk_widget_class_add_binding_action(wc, GDK_KEY_F5, 0, "win.refresh", NULL);
}

#undef CHILD

static void ps_gui_window_init(PsGuiWindow *w)
{
    gtk_widget_init_template(GTK_WIDGET(w));
}

PsGuiWindow *ps_gui_window_new(AdwApplication *app, const char *config_dir, const char *db_path)
{
    PsGuiWindow *w = g_object_new(PS_GUI_TYPE_WINDOW, "application", app, NULL);
    w->config_dir = g_strdup(config_dir);
    w->db_path = g_strdup(db_path);
    ps_gui_devices_page_init(w);
    ps_gui_events_page_init(w);
    ps_gui_editor_page_init(w);
    ps_gui_token_page_init(w);
    g_signal_connect_swapped(w->trace_id, "activate", G_CALLBACK(ps_gui_trace_page_run), w);
    w->timer = g_timeout_add_seconds(1, tick, w);
    return w;
}

/* ---- test hooks ------------------------------------------------------------------- */

static void describe(GtkWidget *wd, GString *out)
{
    if (!gtk_widget_get_mapped(wd))
        return;
    if (GTK_IS_LABEL(wd)) {
        g_string_append_printf(out, "%s\n", gtk_label_get_text(GTK_LABEL(wd)));
    } else if (GTK_IS_EDITABLE(wd) && !GTK_IS_PASSWORD_ENTRY(wd)) {
        g_string_append_printf(out, "%s\n", gtk_editable_get_text(GTK_EDITABLE(wd)));
        return;
    } else if (GTK_IS_TEXT_VIEW(wd)) {
        GtkTextBuffer *b = gtk_text_view_get_buffer(GTK_TEXT_VIEW(wd));
        GtkTextIter s, e;
        char *t;
        gtk_text_buffer_get_bounds(b, &s, &e);
        t = gtk_text_buffer_get_text(b, &s, &e, FALSE);
        g_string_append_printf(out, "%s\n", t);
        g_free(t);
    }
    for (GtkWidget *c = gtk_widget_get_first_child(wd); c; c = gtk_widget_get_next_sibling(c))
        describe(c, out);
}

char *ps_gui_window_describe(PsGuiWindow *w)
{
    GString *out = g_string_new(NULL);
    describe(GTK_WIDGET(w), out);
    return g_string_free(out, FALSE);
}

gboolean ps_gui_window_is_idle(PsGuiWindow *w)
{
    return w->shown_once && !w->devices_busy && !w->config_busy && !w->check_busy &&
           !w->save_busy && !w->token_busy && !w->trace_busy && !w->export_busy &&
           !(w->events && ps_gui_event_list_is_loading(w->events));
}
