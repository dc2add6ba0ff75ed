/* The Device editor's pipeline picker: a button beside the `pipelines` field whose
 * popover lists every pipeline the configuration defines, those the device uses
 * first and ticked, in the order they run, with the loader's first error under a
 * broken one. Ticking appends (the list's order is the processing order), unticking
 * removes, and Up and Down move a ticked one: all by keyboard too (Tab, Space).
 * The field's text is what is saved, so the admin may also edit it by typing. */
#include <stdlib.h>
#include <string.h>

#include "ps_gui_window_private.h"

typedef struct picker {
    PsGuiWindow *w;
    GtkEditable *entry;
    GtkMenuButton *button;
} picker;

static void fill(GtkMenuButton *button, gpointer data);

/* The popover made again from the field, the focus back on `name`'s `role` control
 * ("ps-up", "ps-down", "ps-tick"); when that one can no longer be used (Up at the
 * top), on its `other`, else on the tick, so the keyboard stays on the pipeline. */
static void refill(picker *p, const char *name, const char *role, const char *other)
{
    const char *const roles[] = {role, other, "ps-tick"};
    GtkWidget *box;
    fill(p->button, p);
    box = gtk_popover_get_child(gtk_menu_button_get_popover(p->button));
    for (GtkWidget *row = gtk_widget_get_first_child(box); row;
         row = gtk_widget_get_next_sibling(row)) {
        if (g_strcmp0(g_object_get_data(G_OBJECT(row), "ps-pipeline"), name) != 0)
            continue;
        for (size_t i = 0; i < G_N_ELEMENTS(roles); i++) {
            GtkWidget *want = g_object_get_data(G_OBJECT(row), roles[i]);
            if (want && gtk_widget_get_sensitive(want) && gtk_widget_grab_focus(want))
                return;
        }
    }
}

static void on_toggled(GtkCheckButton *b, gpointer data)
{
    picker *p = data;
    const char *name = g_object_get_data(G_OBJECT(b), "ps-pipeline");
    char *text, *keep;
    /* Rebuilt popovers set the state first; only a change by the admin edits. */
    if (gtk_check_button_get_active(b) ==
        (ps_gui_pipelines_index(gtk_editable_get_text(p->entry), name) >= 0))
        return;
    text = ps_gui_pipelines_toggle(gtk_editable_get_text(p->entry), name);
    if (!text)
        return;
    gtk_editable_set_text(p->entry, text);
    free(text);
    keep = g_strdup(name);
    refill(p, keep, "ps-tick", "ps-tick");
    g_free(keep);
}

static void on_move(GtkButton *b, gpointer data)
{
    picker *p = data;
    const char *name = g_object_get_data(G_OBJECT(b), "ps-pipeline");
    int delta = GPOINTER_TO_INT(g_object_get_data(G_OBJECT(b), "ps-delta"));
    char *text = ps_gui_pipelines_move(gtk_editable_get_text(p->entry), name, delta), *keep;
    if (!text)
        return;
    gtk_editable_set_text(p->entry, text);
    free(text);
    keep = g_strdup(name);
    refill(p, keep, delta < 0 ? "ps-up" : "ps-down", delta < 0 ? "ps-down" : "ps-up");
    g_free(keep);
}

static GtkWidget *move_button(picker *p, const char *name, int delta, gboolean can)
{
    GtkWidget *b = gtk_button_new_from_icon_name(delta < 0 ? "go-up-symbolic" : "go-down-symbolic");
    char *label = g_strdup_printf("Run %s %s", name, delta < 0 ? "earlier" : "later");
    gtk_widget_set_tooltip_text(b, label);
    gtk_accessible_update_property(GTK_ACCESSIBLE(b), GTK_ACCESSIBLE_PROPERTY_LABEL, label, -1);
    gtk_widget_set_sensitive(b, can);
    gtk_widget_set_valign(b, GTK_ALIGN_CENTER);
    gtk_widget_add_css_class(b, "flat");
    g_object_set_data_full(G_OBJECT(b), "ps-pipeline", g_strdup(name), g_free);
    g_object_set_data(G_OBJECT(b), "ps-delta", GINT_TO_POINTER(delta));
    g_signal_connect(b, "clicked", G_CALLBACK(on_move), p);
    g_free(label);
    return b;
}

/* One pipeline: its tick, Up and Down, and its first error below. */
static void add_row(picker *p, GtkWidget *box, const ps_gui_pipeline_info *pi, int at, int used)
{
    GtkWidget *row = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6), *tick, *up, *down, *l;
    char *label = g_strdup_printf("%s (%s)", pi->name, pi->file);
    tick = gtk_check_button_new_with_label(label);
    gtk_widget_set_hexpand(tick, TRUE);
    g_object_set_data_full(G_OBJECT(tick), "ps-pipeline", g_strdup(pi->name), g_free);
    gtk_check_button_set_active(GTK_CHECK_BUTTON(tick), at >= 0);
    g_signal_connect(tick, "toggled", G_CALLBACK(on_toggled), p);
    up = move_button(p, pi->name, -1, at > 0);
    down = move_button(p, pi->name, 1, at >= 0 && at + 1 < used);
    gtk_box_append(GTK_BOX(row), tick);
    gtk_box_append(GTK_BOX(row), up);
    gtk_box_append(GTK_BOX(row), down);
    g_object_set_data_full(G_OBJECT(row), "ps-pipeline", g_strdup(pi->name), g_free);
    g_object_set_data(G_OBJECT(row), "ps-tick", tick);
    g_object_set_data(G_OBJECT(row), "ps-up", up);
    g_object_set_data(G_OBJECT(row), "ps-down", down);
    gtk_box_append(GTK_BOX(box), row);
    g_free(label);
    if (!pi->error)
        return;
    label = g_strdup_printf("%zu error%s: %s", pi->errors, pi->errors == 1 ? "" : "s", pi->error);
    l = gtk_label_new(label);
    gtk_label_set_wrap(GTK_LABEL(l), TRUE);
    gtk_label_set_xalign(GTK_LABEL(l), 0);
    gtk_label_set_max_width_chars(GTK_LABEL(l), 48);
    gtk_widget_add_css_class(l, "error");
    gtk_accessible_update_relation(GTK_ACCESSIBLE(tick), GTK_ACCESSIBLE_RELATION_DESCRIBED_BY, l,
                                   NULL, -1);
    gtk_box_append(GTK_BOX(box), l);
    g_free(label);
}

/* The popover's content, made again each time it opens (and after each change) so
 * that it shows the field's text as it is now: the device's pipelines first, in the
 * order they run, then the others in the order they are defined. */
static void fill(GtkMenuButton *button, gpointer data)
{
    picker *p = data;
    const ps_gui_pipelines *pl = p->w->pipelines;
    const char *text = gtk_editable_get_text(p->entry);
    GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 6), *l;
    int used = 0;
    l = gtk_label_new("Ticked pipelines run from the top down: a new one goes last; Up and "
                      "Down change the order.");
    gtk_label_set_wrap(GTK_LABEL(l), TRUE);
    gtk_label_set_max_width_chars(GTK_LABEL(l), 48);
    gtk_box_append(GTK_BOX(box), l);
    for (size_t i = 0; pl && i < pl->n; i++)
        used += ps_gui_pipelines_index(text, pl->v[i].name) >= 0;
    for (int at = 0; pl && at < used; at++)
        for (size_t i = 0; i < pl->n; i++)
            if (ps_gui_pipelines_index(text, pl->v[i].name) == at)
                add_row(p, box, &pl->v[i], at, used);
    /* A name listed twice, or not defined, leaves a hole in the places: shown last. */
    for (size_t i = 0; pl && i < pl->n; i++) {
        int at = ps_gui_pipelines_index(text, pl->v[i].name);
        if (at < 0 || at >= used)
            add_row(p, box, &pl->v[i], at, used);
    }
    if (!pl || pl->n == 0)
        gtk_box_append(GTK_BOX(box), gtk_label_new("The configuration defines no pipeline."));
    gtk_popover_set_child(gtk_menu_button_get_popover(button), box);
}

GtkWidget *ps_gui_pipeline_picker(PsGuiWindow *w, GtkWidget *entry)
{
    GtkWidget *b = gtk_menu_button_new();
    picker *p = g_new0(picker, 1);
    p->w = w;
    p->entry = GTK_EDITABLE(entry);
    p->button = GTK_MENU_BUTTON(b);
    gtk_menu_button_set_label(GTK_MENU_BUTTON(b), "_Pick…");
    gtk_menu_button_set_use_underline(GTK_MENU_BUTTON(b), TRUE);
    gtk_widget_set_valign(b, GTK_ALIGN_CENTER);
    gtk_widget_set_tooltip_text(b, "Choose and order the pipelines the configuration defines");
    gtk_accessible_update_property(GTK_ACCESSIBLE(b), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                   "Pick and order the device's pipelines", -1);
    gtk_menu_button_set_popover(GTK_MENU_BUTTON(b), gtk_popover_new());
    g_object_set_data_full(G_OBJECT(b), "ps-picker", p, g_free);
    gtk_menu_button_set_create_popup_func(GTK_MENU_BUTTON(b), fill, p, NULL);
    return b;
}
