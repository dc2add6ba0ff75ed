/* The Outputs section of the Devices page: one row per output the service knows,
 * with the figures `podstream status` shows (state, backlog, rate, counts, last
 * delivery, last error), from the Devices page's once-a-second refresh. Hidden
 * while no output is configured. */
#include <inttypes.h>

#include "ps_gui_outputs.h"
#include "ps_gui_window_private.h"

/* The columns, in order. */
enum {
    COL_OUTPUT,
    COL_TYPE,
    COL_STATE,
    COL_BACKLOG,
    COL_RATE,
    COL_DELIVERED,
    COL_DROPPED,
    COL_SPLIT,
    COL_LAST,
    COL_ERROR
};

#define PS_GUI_TYPE_OUTPUT_ROW (ps_gui_output_row_get_type())
G_DECLARE_FINAL_TYPE(PsGuiOutputRow, ps_gui_output_row, PS_GUI, OUTPUT_ROW, GObject)

struct _PsGuiOutputRow {
    GObject parent;
    ps_output_row r;
    gboolean live;     /* its state and rate are current (ps_gui_output_live) */
    const char *state; /* static text */
};

G_DEFINE_FINAL_TYPE(PsGuiOutputRow, ps_gui_output_row, G_TYPE_OBJECT)

static void ps_gui_output_row_class_init(PsGuiOutputRowClass *k)
{
    (void)k;
}

static void ps_gui_output_row_init(PsGuiOutputRow *r)
{
    (void)r;
}

/* The last error with its time; none shown for a disabled output, as in status. */
static char *error_text(const ps_output_row *r)
{
    char *when, *text;
    if (!r->last_error[0] || !r->enabled)
        return g_strdup("");
    when = ps_gui_local_time(r->last_error_us);
    text = g_strdup_printf("%s: %s", when, r->last_error);
    g_free(when);
    return text;
}

static char *output_cell(gpointer item, guint col)
{
    const PsGuiOutputRow *o = PS_GUI_OUTPUT_ROW(item);
    const ps_output_row *r = &o->r;
    switch (col) {
    case COL_OUTPUT:
        return g_strdup(r->name);
    case COL_TYPE:
        return g_strdup(r->type);
    case COL_STATE:
        return g_strdup(o->state);
    case COL_BACKLOG:
        return g_strdup_printf("%" PRIu64, r->backlog);
    case COL_RATE:
        /* Old rates would look like traffic. */
        return o->live ? g_strdup_printf("%.1f", r->rate) : g_strdup("—");
    case COL_DELIVERED:
        return g_strdup_printf("%" PRIu64, r->delivered);
    case COL_DROPPED:
        return g_strdup_printf("%" PRIu64, r->dropped + r->retention_dropped);
    case COL_SPLIT:
        return g_strdup_printf("%" PRIu64 "/%" PRIu64, r->split, r->truncated);
    case COL_LAST:
        return ps_gui_local_time(r->last_delivery_us);
    case COL_ERROR:
        return error_text(r);
    default:
        return NULL;
    }
}

void ps_gui_outputs_view_init(PsGuiWindow *w)
{
    static const char *const titles[] = {"Output",        "Type",      "State",   "Backlog",
                                         "Events/s",      "Delivered", "Dropped", "Split/truncated",
                                         "Last delivery", "Last error"};
    GtkWidget *heading = gtk_label_new("Outputs");
    GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 6);
    GtkNoSelection *sel;
    w->output_rows = g_list_store_new(PS_GUI_TYPE_OUTPUT_ROW);
    w->outputs_view = GTK_COLUMN_VIEW(gtk_column_view_new(NULL));
    gtk_column_view_set_show_row_separators(w->outputs_view, TRUE);
    gtk_accessible_update_property(GTK_ACCESSIBLE(w->outputs_view), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                   "Outputs and their deliveries", -1);
    sel = gtk_no_selection_new(G_LIST_MODEL(g_object_ref(w->output_rows)));
    gtk_column_view_set_model(w->outputs_view, GTK_SELECTION_MODEL(sel));
    g_object_unref(sel);
    for (guint i = 0; i < G_N_ELEMENTS(titles); i++)
        ps_gui_add_column(w->outputs_view, titles[i], i, output_cell,
                          i == COL_OUTPUT || i == COL_ERROR, i == COL_LAST ? 19 : -1);
    gtk_label_set_xalign(GTK_LABEL(heading), 0);
    gtk_widget_add_css_class(heading, "heading");
    gtk_box_append(GTK_BOX(box), heading);
    gtk_box_append(GTK_BOX(box), GTK_WIDGET(w->outputs_view));
    gtk_widget_set_visible(box, FALSE);
    gtk_widget_insert_after(box, gtk_widget_get_parent(w->devices_scroll), w->devices_scroll);
    w->outputs_box = box;
}

void ps_gui_outputs_view_update(PsGuiWindow *w, const ps_gui_snapshot *s)
{
    GPtrArray *rows = g_ptr_array_new_with_free_func(g_object_unref);
    for (size_t i = 0; i < s->nouts; i++) {
        PsGuiOutputRow *o = g_object_new(PS_GUI_TYPE_OUTPUT_ROW, NULL);
        o->r = s->outs[i];
        o->live = ps_gui_output_live(s, &s->outs[i]);
        o->state = ps_gui_output_state_text(s, &s->outs[i]);
        g_ptr_array_add(rows, o);
    }
    g_list_store_splice(w->output_rows, 0, g_list_model_get_n_items(G_LIST_MODEL(w->output_rows)),
                        rows->pdata, rows->len);
    gtk_widget_set_visible(w->outputs_box, s->nouts > 0);
    g_ptr_array_unref(rows);
}
