/* The Events page's export: where to (a save dialog), then the whole current result
 * written by ps_gui_export on a worker. */
#include "ps_gui_export.h"
#include "ps_gui_window_private.h"

typedef struct export_job {
    char *db_path, *path;
    ps_gui_filter f;
    int64_t now_us;
    ps_report_format fmt;
    uint64_t rows;
} export_job;

static void export_job_free(gpointer p)
{
    export_job *j = p;
    ps_gui_filter_deinit(&j->f);
    g_free(j->db_path);
    g_free(j->path);
    g_free(j);
}

static void export_thread(GTask *task, gpointer src, gpointer data, GCancellable *cancel)
{
    export_job *j = data;
    ps_store *st = NULL;
    ps_query q;
    ps_errmsg em;
    ps_err err;
    (void)src;
    (void)cancel;
    err = ps_gui_filter_query(&j->f, j->now_us, &q, &em);
    if (err == PS_OK)
        err = ps_store_create(j->db_path, PS_STORE_READER, &st, &em);
    if (err == PS_OK)
        err = ps_gui_export(st, &q, j->fmt, j->path, &j->rows, &em);
    ps_store_destroy(st);
    if (err == PS_OK)
        g_task_return_boolean(task, TRUE);
    else
        g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_FAILED, "%s", em.text);
}

static void export_done(GObject *src, GAsyncResult *res, gpointer data)
{
    PsGuiWindow *w = PS_GUI_WINDOW(src);
    export_job *j = g_task_get_task_data(G_TASK(res));
    GError *error = NULL;
    char *text;
    (void)data;
    w->export_busy = FALSE;
    if (g_task_propagate_boolean(G_TASK(res), &error)) {
        text = g_strdup_printf(j->rows == 1 ? "Exported %" G_GUINT64_FORMAT " event to %s"
                                            : "Exported %" G_GUINT64_FORMAT " events to %s",
                               (guint64)j->rows, j->path);
    } else {
        text = g_strdup_printf("Export failed: %s", error->message);
        g_error_free(error);
    }
    gtk_label_set_text(w->events_status, text);
    g_free(text);
}

void ps_gui_events_page_export_to(PsGuiWindow *w, const char *format, const char *path)
{
    export_job *j;
    GTask *task;
    if (w->export_busy)
        return;
    j = g_new0(export_job, 1);
    ps_gui_filter_init(&j->f);
    if (!w->events || !ps_gui_event_list_current(w->events, &j->f, &j->now_us)) {
        gtk_label_set_text(w->events_status, "Search first: the export writes the events found.");
        export_job_free(j);
        return;
    }
    j->fmt = g_strcmp0(format, "json") == 0 ? PS_REPORT_JSON : PS_REPORT_CSV;
    j->db_path = g_strdup(w->db_path ? w->db_path : ps_gui_devices_db_path(w->devices));
    j->path = g_strdup(path);
    w->export_busy = TRUE;
    gtk_label_set_text(w->events_status, "Exporting…");
    task = g_task_new(w, NULL, export_done, NULL);
    g_task_set_task_data(task, j, export_job_free);
    g_task_run_in_thread(task, export_thread);
    g_object_unref(task);
}

static void on_response(GtkNativeDialog *d, int response, gpointer data)
{
    PsGuiWindow *w = data;
    const char *format = g_object_get_data(G_OBJECT(d), "ps-format");
    if (response == GTK_RESPONSE_ACCEPT) {
        GFile *file = gtk_file_chooser_get_file(GTK_FILE_CHOOSER(d));
        char *path = file ? g_file_get_path(file) : NULL;
        if (path)
            ps_gui_events_page_export_to(w, format, path);
        g_free(path);
        if (file)
            g_object_unref(file);
    }
    g_object_unref(d);
}

void ps_gui_events_page_export(PsGuiWindow *w, const char *format)
{
    gboolean json = g_strcmp0(format, "json") == 0;
    GtkFileChooserNative *d;
    if (!w->events || g_list_model_get_n_items(G_LIST_MODEL(w->events)) == 0) {
        gtk_label_set_text(w->events_status, "Search first: the export writes the events found.");
        return;
    }
    /* The platform's own dialog (a portal, or Windows'); GtkFileDialog is GTK 4.10. */
    d = gtk_file_chooser_native_new(json ? "Export as JSON Lines" : "Export as CSV", GTK_WINDOW(w),
                                    GTK_FILE_CHOOSER_ACTION_SAVE, "_Export", "_Cancel");
    gtk_native_dialog_set_modal(GTK_NATIVE_DIALOG(d), TRUE);
    gtk_file_chooser_set_current_name(GTK_FILE_CHOOSER(d),
                                      json ? "podstream-events.jsonl" : "podstream-events.csv");
    g_object_set_data_full(G_OBJECT(d), "ps-format", g_strdup(json ? "json" : "csv"), g_free);
    g_signal_connect(d, "response", G_CALLBACK(on_response), w);
    gtk_native_dialog_show(GTK_NATIVE_DIALOG(d));
}
