/* The Events page: `podstream query`'s filters, the lazy column view, and the
 * selected event pretty-printed beside it. */
#include "ps_gui_window_private.h"

enum { EC_TIME, EC_DEVICE, EC_TYPE, EC_FROM, EC_TO, EC_SUBJECT, EC_DISPOSITION, EC_QID };

static char *event_cell(gpointer item, guint col)
{
    const ps_gui_event *e = ps_gui_event_item_get(PS_GUI_EVENT_ITEM(item));
    static const int field[] = {[EC_FROM] = PS_EF_SENDER,
                                [EC_TO] = PS_EF_RECIPIENTS,
                                [EC_SUBJECT] = PS_EF_SUBJECT,
                                [EC_DISPOSITION] = PS_EF_DISPOSITION,
                                [EC_QID] = PS_EF_QID};
    switch (col) {
    case EC_TIME:
        return ps_gui_local_time(e->ts_us);
    case EC_DEVICE:
        return g_strdup_printf("%lld", e->device_id);
    case EC_TYPE:
        return g_strdup(ps_data_type_name(e->type));
    default:
        return g_strdup(e->text[field[col]]);
    }
}

/* The grid of filters: label (with a mnemonic), then its entry, four to a row. */
typedef struct filter_def {
    const char *label;
    const char *hint;
} filter_def;

static const filter_def defs[PS_GUI_F__COUNT] = {
    [PS_GUI_F_SEARCH] = {"_Words:", "every word in a text field; word* for a prefix"},
    [PS_GUI_F_SINCE] = {"S_ince:", "2h, today, 2024-05-22 14:30 ..."},
    [PS_GUI_F_UNTIL] = {"_Until:", "now, yesterday, 2024-05-22 ..."},
    [PS_GUI_F_DEVICE] = {"De_vice:", "id or name; all devices"},
    [PS_GUI_F_FROM] = {"_From:", "sender address"},
    [PS_GUI_F_TO] = {"_To:", "one of the recipients"},
    [PS_GUI_F_SUBJECT] = {"Su_bject:", "words of the subject, in order"},
    [PS_GUI_F_DISPOSITION] = {"_Disposition:", "accept, reject, quarantine ..."},
    [PS_GUI_F_QID] = {"_Queue id:", "sendmail queue id"},
    [PS_GUI_F_MESSAGE_ID] = {"_Message-ID:", "with or without <>"},
};

static void entry_activate(GtkEntry *e, gpointer data)
{
    (void)e;
    ps_gui_events_page_search(data);
}

static GtkWidget *labelled(PsGuiWindow *w, const char *label, GtkWidget *widget, int col, int row)
{
    GtkWidget *l = gtk_label_new_with_mnemonic(label);
    gtk_label_set_xalign(GTK_LABEL(l), 1);
    gtk_label_set_mnemonic_widget(GTK_LABEL(l), widget);
    gtk_grid_attach(w->filter_grid, l, col * 2, row, 1, 1);
    gtk_grid_attach(w->filter_grid, widget, col * 2 + 1, row, 1, 1);
    return widget;
}

static void build_filters(PsGuiWindow *w)
{
    static const char *const types[] = {"all types", "message", "maillog", "audit", NULL};
    for (int i = 0; i < PS_GUI_F__COUNT; i++) {
        GtkWidget *e = gtk_entry_new();
        gtk_entry_set_placeholder_text(GTK_ENTRY(e), defs[i].hint);
        gtk_widget_set_hexpand(e, TRUE);
        g_signal_connect(e, "activate", G_CALLBACK(entry_activate), w);
        /* Words take a whole row; the others four to a row. */
        if (i == PS_GUI_F_SEARCH) {
            GtkWidget *l = gtk_label_new_with_mnemonic(defs[i].label);
            gtk_label_set_xalign(GTK_LABEL(l), 1);
            gtk_label_set_mnemonic_widget(GTK_LABEL(l), e);
            gtk_grid_attach(w->filter_grid, l, 0, 0, 1, 1);
            gtk_grid_attach(w->filter_grid, e, 1, 0, 7, 1);
        } else {
            labelled(w, defs[i].label, e, (i - 1) % 4, 1 + (i - 1) / 4);
        }
        w->filters[i] = e;
    }
    w->type_filter = GTK_DROP_DOWN(gtk_drop_down_new_from_strings(types));
    labelled(w, "T_ype:", GTK_WIDGET(w->type_filter), 2, 3);
    w->oldest_first = GTK_CHECK_BUTTON(gtk_check_button_new_with_mnemonic("_Oldest first"));
    gtk_grid_attach(w->filter_grid, GTK_WIDGET(w->oldest_first), 7, 3, 1, 1);
}

static void update_status(PsGuiWindow *w)
{
    guint n = g_list_model_get_n_items(G_LIST_MODEL(w->events));
    const char *err = ps_gui_event_list_error(w->events);
    char *text;
    if (err)
        text = g_strdup(err);
    else if (ps_gui_event_list_is_searching(w->events))
        text = g_strdup("Searching…"); /* the rows are the previous result's until then */
    else if (ps_gui_event_list_is_loading(w->events))
        text = g_strdup_printf("%u events, reading more…", n);
    else if (ps_gui_event_list_is_done(w->events))
        text = g_strdup_printf(n == 1 ? "%u event" : "%u events", n);
    else
        text = g_strdup_printf("%u events so far; scroll down for more", n);
    gtk_label_set_text(w->events_status, text);
    g_free(text);
}

static void on_items_changed(GListModel *m, guint pos, guint removed, guint added, gpointer data)
{
    (void)m;
    (void)pos;
    (void)removed;
    (void)added;
    update_status(data);
}

static void on_loading(GObject *o, GParamSpec *ps, gpointer data)
{
    (void)o;
    (void)ps;
    update_status(data);
}

static void pretty_done(GObject *src, GAsyncResult *res, gpointer data)
{
    GError *error = NULL;
    char *text = ps_gui_event_list_pretty_finish(PS_GUI_EVENT_LIST(src), res, &error);
    PsGuiWindow *w;
    if (!text && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        g_error_free(error);
        return; /* another event was selected, or the window closed */
    }
    w = PS_GUI_WINDOW(data);
    gtk_text_buffer_set_text(gtk_text_view_get_buffer(w->detail), text ? text : error->message, -1);
    g_free(text);
    g_clear_error(&error);
    g_object_unref(w);
}

static void on_selected(GObject *o, GParamSpec *ps, gpointer data)
{
    PsGuiWindow *w = data;
    gpointer item = gtk_single_selection_get_selected_item(GTK_SINGLE_SELECTION(o));
    (void)ps;
    if (w->detail_cancel)
        g_cancellable_cancel(w->detail_cancel);
    g_clear_object(&w->detail_cancel);
    gtk_text_buffer_set_text(gtk_text_view_get_buffer(w->detail), "", -1);
    if (!item)
        return;
    w->detail_cancel = g_cancellable_new();
    ps_gui_event_list_pretty_async(w->events, ps_gui_event_item_get(item)->id, w->detail_cancel,
                                   pretty_done, g_object_ref(w));
}

void ps_gui_events_page_init(PsGuiWindow *w)
{
    static const char *const titles[] = {"Time",       "Device",  "Type",        "Sender",
                                         "Recipients", "Subject", "Disposition", "Queue id"};
    build_filters(w);
    for (guint i = 0; i < G_N_ELEMENTS(titles); i++)
        ps_gui_add_column(w->events_view, titles[i], i, event_cell, i == EC_SUBJECT || i == EC_TO,
                          i == EC_TIME ? 19 : -1);
    gtk_label_set_text(w->events_status, "Set filters (or none) and press Search.");
}

/* The list is made at the first search: the database path comes from the
 * configuration, which a worker reads after the window is shown. */
static gboolean ensure_list(PsGuiWindow *w)
{
    const char *db = w->db_path;
    if (w->events)
        return TRUE;
    if (!db && w->devices)
        db = ps_gui_devices_db_path(w->devices);
    if (!db) {
        gtk_label_set_text(w->events_status,
                           w->devices ? "No database is configured: start with --db PATH."
                                      : "Still reading the configuration; try again.");
        return FALSE;
    }
    w->events = ps_gui_event_list_new(db, 200);
    w->events_sel = gtk_single_selection_new(G_LIST_MODEL(g_object_ref(w->events)));
    gtk_single_selection_set_autoselect(w->events_sel, FALSE);
    gtk_single_selection_set_can_unselect(w->events_sel, TRUE);
    gtk_column_view_set_model(w->events_view, GTK_SELECTION_MODEL(w->events_sel));
    g_signal_connect(w->events, "items-changed", G_CALLBACK(on_items_changed), w);
    g_signal_connect(w->events, "notify::loading", G_CALLBACK(on_loading), w);
    g_signal_connect(w->events_sel, "notify::selected-item", G_CALLBACK(on_selected), w);
    return TRUE;
}

static char *text_of(PsGuiWindow *w, int i)
{
    const char *t = gtk_editable_get_text(GTK_EDITABLE(w->filters[i]));
    return *t ? g_strdup(t) : NULL;
}

/* The filter as typed; FALSE (with the reason shown) for a device id that is not one. */
static gboolean read_filter(PsGuiWindow *w, ps_gui_filter *f)
{
    const char *dev = gtk_editable_get_text(GTK_EDITABLE(w->filters[PS_GUI_F_DEVICE]));
    guint type = gtk_drop_down_get_selected(w->type_filter);
    char *end = NULL;
    ps_gui_filter_init(f);
    /* A number, or a device's name, as --device takes them. */
    if (*dev) {
        f->device_id = g_ascii_strtoll(dev, &end, 10);
        if ((!end || *end || f->device_id < 0) &&
            !ps_gui_devices_page_find(w, dev, &f->device_id)) {
            char *msg = g_strdup_printf("Device: no device is named '%s'.", dev);
            gtk_label_set_text(w->events_status, msg);
            g_free(msg);
            return FALSE;
        }
    }
    f->type = type == 0 || type == GTK_INVALID_LIST_POSITION ? -1 : (int)type - 1;
    f->search = text_of(w, PS_GUI_F_SEARCH);
    f->since = text_of(w, PS_GUI_F_SINCE);
    f->until = text_of(w, PS_GUI_F_UNTIL);
    f->from = text_of(w, PS_GUI_F_FROM);
    f->to = text_of(w, PS_GUI_F_TO);
    f->subject = text_of(w, PS_GUI_F_SUBJECT);
    f->disposition = text_of(w, PS_GUI_F_DISPOSITION);
    f->qid = text_of(w, PS_GUI_F_QID);
    f->message_id = text_of(w, PS_GUI_F_MESSAGE_ID);
    f->oldest_first = gtk_check_button_get_active(w->oldest_first);
    return TRUE;
}

void ps_gui_events_page_search(PsGuiWindow *w)
{
    ps_gui_filter f;
    ps_errmsg em;
    if (!ensure_list(w) || !read_filter(w, &f))
        return;
    /* The item objects get the new result's events: no old selection may stay on one. */
    gtk_single_selection_set_selected(w->events_sel, GTK_INVALID_LIST_POSITION);
    if (ps_gui_event_list_set_filter(w->events, &f, &em))
        update_status(w);
    else
        gtk_label_set_text(w->events_status, em.text);
    ps_gui_filter_deinit(&f);
}
