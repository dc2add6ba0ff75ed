/* The Trace page: one mail's way as a timeline (reception, filtering, delivery),
 * read on a worker through ps_gui_trace. */
#include "ps_gui_trace.h"
#include "ps_gui_window_private.h"

typedef struct trace_job {
    char *db_path, *id;
    ps_gui_trace_step *v;
    size_t n;
} trace_job;

static void trace_job_free(gpointer p)
{
    trace_job *j = p;
    ps_gui_trace_free(j->v, j->n);
    g_free(j->db_path);
    g_free(j->id);
    g_free(j);
}

/* Its own short-lived reader: a trace is one statement now and then. */
static void trace_thread(GTask *task, gpointer src, gpointer data, GCancellable *cancel)
{
    trace_job *j = data;
    ps_store *st = NULL;
    ps_errmsg em;
    ps_err err;
    (void)src;
    (void)cancel;
    err = ps_store_create(j->db_path, PS_STORE_READER, &st, &em);
    if (err == PS_OK)
        err = ps_gui_trace_read(st, j->id, &j->v, &j->n, &em);
    ps_store_destroy(st);
    if (err == PS_OK)
        g_task_return_boolean(task, TRUE);
    else
        g_task_return_new_error(task, G_IO_ERROR,
                                err == PS_ERR_NOTFOUND ? G_IO_ERROR_NOT_FOUND : G_IO_ERROR_FAILED,
                                "%s", em.text);
}

static GtkWidget *step_row(const ps_gui_trace_step *s)
{
    GtkWidget *row = adw_action_row_new(), *when;
    char *t = ps_gui_local_time(s->ev.ts_us);
    char *sub = g_strdup_printf("%s (device %lld, %s)", s->what, s->ev.device_id,
                                ps_data_type_name(s->ev.type));
    /* Plain text: addresses are written <a@b>, which markup would swallow. */
    adw_preferences_row_set_use_markup(ADW_PREFERENCES_ROW(row), FALSE);
    adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row), ps_gui_stage_name(s->stage));
    adw_action_row_set_subtitle(ADW_ACTION_ROW(row), sub);
    when = gtk_label_new(t);
    gtk_widget_add_css_class(when, "monospace");
    adw_action_row_add_prefix(ADW_ACTION_ROW(row), when);
    if (s->stage == PS_GUI_STAGE_FAILED || s->stage == PS_GUI_STAGE_DEFERRED)
        gtk_widget_add_css_class(row, "ps-field-error");
    g_free(sub);
    g_free(t);
    return row;
}

static void trace_done(GObject *src, GAsyncResult *res, gpointer data)
{
    PsGuiWindow *w = PS_GUI_WINDOW(src);
    trace_job *j = g_task_get_task_data(G_TASK(res));
    GError *error = NULL;
    GtkWidget *c;
    char *text;
    (void)data;
    w->trace_busy = FALSE;
    while ((c = gtk_widget_get_first_child(GTK_WIDGET(w->trace_list))))
        gtk_list_box_remove(w->trace_list, c);
    if (!g_task_propagate_boolean(G_TASK(res), &error)) {
        gtk_label_set_text(w->trace_status, error->message);
        g_error_free(error);
        return;
    }
    for (size_t i = 0; i < j->n; i++)
        gtk_list_box_append(w->trace_list, step_row(&j->v[i]));
    text = g_strdup_printf(j->n == 1 ? "%zu event stored for %s, oldest first"
                                     : "%zu events stored for %s, oldest first",
                           j->n, j->id);
    gtk_label_set_text(w->trace_status, text);
    g_free(text);
}

void ps_gui_trace_page_run(PsGuiWindow *w)
{
    const char *id = gtk_editable_get_text(w->trace_id);
    const char *db = w->db_path   ? w->db_path
                     : w->devices ? ps_gui_devices_db_path(w->devices)
                                  : NULL;
    trace_job *j;
    GTask *task;
    if (w->trace_busy)
        return;
    if (!*id || !db) {
        gtk_label_set_text(w->trace_status, !*id ? "Name a mail: its queue id, Message-ID or "
                                                   "message guid."
                                                 : "No database is known yet.");
        return;
    }
    j = g_new0(trace_job, 1);
    j->db_path = g_strdup(db);
    j->id = g_strdup(id);
    w->trace_busy = TRUE;
    gtk_label_set_text(w->trace_status, "Reading…");
    task = g_task_new(w, NULL, trace_done, NULL);
    g_task_set_task_data(task, j, trace_job_free);
    g_task_run_in_thread(task, trace_thread);
    g_object_unref(task);
}

void ps_gui_trace_page_selected(PsGuiWindow *w)
{
    gpointer item = w->events_sel ? gtk_single_selection_get_selected_item(w->events_sel) : NULL;
    const ps_gui_event *e;
    const char *id;
    if (!item) {
        gtk_label_set_text(w->events_status, "Select an event to trace its mail.");
        return;
    }
    /* The queue id links the sendmail lines; a Message-ID or the key otherwise. */
    e = ps_gui_event_item_get(item);
    id = e->text[PS_EF_QID]          ? e->text[PS_EF_QID]
         : e->text[PS_EF_MESSAGE_ID] ? e->text[PS_EF_MESSAGE_ID]
                                     : e->key;
    gtk_editable_set_text(w->trace_id, id ? id : "");
    adw_view_stack_set_visible_child_name(w->stack, "trace");
    ps_gui_trace_page_run(w);
}
