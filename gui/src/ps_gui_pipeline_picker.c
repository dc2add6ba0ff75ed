/* The Device editor's pipeline picker: a button beside the `pipelines` field whose
 * popover lists every pipeline the configuration defines, ticked when the device
 * uses it, with the loader's first error under a broken one. Ticking appends (the
 * list's order is the processing order), unticking removes; the field's text is
 * what is saved, so the admin may also reorder it by typing. */
#include <stdlib.h>
#include <string.h>

#include "ps_gui_window_private.h"

/* True when `name` is one of the comma-separated items of `list`. */
static gboolean listed(const char *list, const char *name)
{
    char **items = g_strsplit(list, ",", -1);
    gboolean found = FALSE;
    for (char **p = items; *p && !found; p++)
        found = strcmp(g_strstrip(*p), name) == 0;
    g_strfreev(items);
    return found;
}

static void on_toggled(GtkCheckButton *b, gpointer data)
{
    GtkEditable *entry = data;
    const char *name = g_object_get_data(G_OBJECT(b), "ps-pipeline");
    char *text;
    /* Rebuilt popovers set the state first; only a change by the admin edits. */
    if (gtk_check_button_get_active(b) == listed(gtk_editable_get_text(entry), name))
        return;
    text = ps_gui_pipelines_toggle(gtk_editable_get_text(entry), name);
    if (text)
        gtk_editable_set_text(entry, text);
    free(text);
}

/* The popover's content, made again each time it opens so that it shows the
 * field's text as it is now. */
static void fill(GtkMenuButton *button, gpointer data)
{
    PsGuiWindow *w = g_object_get_data(G_OBJECT(button), "ps-window");
    GtkEditable *entry = data;
    GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 6), *l;
    l = gtk_label_new("Ticked pipelines run in the order of the field: a new one goes last.");
    gtk_label_set_wrap(GTK_LABEL(l), TRUE);
    gtk_label_set_max_width_chars(GTK_LABEL(l), 48);
    gtk_box_append(GTK_BOX(box), l);
    for (size_t i = 0; w->pipelines && i < w->pipelines->n; i++) {
        const ps_gui_pipeline_info *p = &w->pipelines->v[i];
        char *label = g_strdup_printf("%s (%s)", p->name, p->file);
        GtkWidget *b = gtk_check_button_new_with_label(label);
        g_object_set_data_full(G_OBJECT(b), "ps-pipeline", g_strdup(p->name), g_free);
        gtk_check_button_set_active(GTK_CHECK_BUTTON(b),
                                    listed(gtk_editable_get_text(entry), p->name));
        g_signal_connect(b, "toggled", G_CALLBACK(on_toggled), entry);
        gtk_box_append(GTK_BOX(box), b);
        g_free(label);
        if (!p->error)
            continue;
        label = g_strdup_printf("%zu error%s: %s", p->errors, p->errors == 1 ? "" : "s", p->error);
        l = gtk_label_new(label);
        gtk_label_set_wrap(GTK_LABEL(l), TRUE);
        gtk_label_set_xalign(GTK_LABEL(l), 0);
        gtk_label_set_max_width_chars(GTK_LABEL(l), 48);
        gtk_widget_add_css_class(l, "error");
        gtk_box_append(GTK_BOX(box), l);
        g_free(label);
    }
    if (!w->pipelines || w->pipelines->n == 0)
        gtk_box_append(GTK_BOX(box), gtk_label_new("The configuration defines no pipeline."));
    gtk_popover_set_child(gtk_menu_button_get_popover(button), box);
}

GtkWidget *ps_gui_pipeline_picker(PsGuiWindow *w, GtkWidget *entry)
{
    GtkWidget *b = gtk_menu_button_new();
    gtk_menu_button_set_label(GTK_MENU_BUTTON(b), "Pick…");
    gtk_widget_set_valign(b, GTK_ALIGN_CENTER);
    gtk_widget_set_tooltip_text(b, "Choose from the pipelines the configuration defines");
    gtk_accessible_update_property(GTK_ACCESSIBLE(b), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                   "Pick the device's pipelines", -1);
    gtk_menu_button_set_popover(GTK_MENU_BUTTON(b), gtk_popover_new());
    g_object_set_data(G_OBJECT(b), "ps-window", w);
    gtk_menu_button_set_create_popup_func(GTK_MENU_BUTTON(b), fill, entry, NULL);
    return b;
}
