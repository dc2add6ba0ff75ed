/* The Device editor's Save, New, Duplicate, Delete and Enable/Disable. The files are
 * read and written on a worker (ps_gui_save); a file that changed on disk since the
 * form was read, and a delete, are asked about first (AdwMessageDialog). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ps_gui_window_private.h"

typedef enum op { OP_SAVE, OP_NEW, OP_DELETE, OP_NEXT_ID } op;

/* One write (or the next free id) on a worker; the form is a copy of the page's. */
typedef struct save_job {
    op op;
    ps_err err;
    gboolean use_stamp, duplicate;
    ps_gui_stamp stamp, after; /* as the form was read; as written */
    char *config_dir, *file;
    size_t index;
    long long next_id;
    ps_gui_form *form;
    ps_diag all;
    ps_errmsg em;
} save_job;

static void save_job_free(gpointer p)
{
    save_job *j = p;
    g_free(j->config_dir);
    g_free(j->file);
    ps_gui_form_destroy(j->form);
    ps_diag_deinit(&j->all);
    g_free(j);
}

static void save_thread(GTask *task, gpointer src, gpointer data, GCancellable *cancel)
{
    save_job *j = data;
    const ps_gui_stamp *st = j->use_stamp ? &j->stamp : NULL;
    (void)src;
    (void)cancel;
    memset(&j->em, 0, sizeof j->em);
    if (j->op == OP_SAVE)
        j->err = ps_gui_save_device(j->form, j->config_dir, j->file, j->index, st, &j->all, &j->em);
    else if (j->op == OP_NEW)
        j->err = ps_gui_save_new(j->form, j->config_dir, j->file, &j->all, &j->em);
    else if (j->op == OP_DELETE)
        j->err = ps_gui_save_delete(j->config_dir, j->file, j->index, st, &j->em);
    else
        j->next_id = ps_gui_save_next_id(j->config_dir);
    if (j->op == OP_SAVE && j->err == PS_OK)
        ps_gui_stamp_take(j->config_dir, j->file, &j->after);
    g_task_return_boolean(task, TRUE);
}

static void save_done(GObject *src, GAsyncResult *res, gpointer data);

/* Runs `j` (taken) on a worker. */
static void run(PsGuiWindow *w, save_job *j)
{
    GTask *task = g_task_new(w, NULL, save_done, NULL);
    w->save_busy = TRUE;
    ps_diag_init(&j->all);
    j->config_dir = g_strdup(w->config_dir);
    g_task_set_task_data(task, j, save_job_free);
    g_task_run_in_thread(task, save_thread);
    g_object_unref(task);
}

/* The device open in the form: FALSE when there is none (or it is new). */
static gboolean current(PsGuiWindow *w, const char **file, size_t *index)
{
    guint pos = gtk_drop_down_get_selected(w->editor_device);
    if (!w->form || w->is_new || pos >= w->neditable)
        return FALSE;
    *file = w->editable[pos].file;
    *index = w->editable[pos].index;
    return TRUE;
}

/* "devices/<name>.yml", the name kept to letters, digits, '.', '_' and '-'. */
static char *new_file_name(const ps_gui_form *f)
{
    const ps_gui_form_field *name = NULL;
    GString *s = g_string_new("devices/");
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->v[i].path, "name") == 0)
            name = &f->v[i];
    for (const char *p = name && name->value ? name->value : "device"; *p; p++)
        g_string_append_c(s, g_ascii_isalnum(*p) || strchr("._-", *p) ? *p : '-');
    g_string_append(s, ".yml");
    return g_string_free(s, FALSE);
}

static void start(PsGuiWindow *w, op o, gboolean use_stamp)
{
    save_job *j;
    const char *file = NULL;
    size_t index = 0;
    if (w->save_busy || w->config_busy || !w->form || (!w->is_new && !current(w, &file, &index)))
        return;
    j = g_new0(save_job, 1);
    j->op = w->is_new && o == OP_SAVE ? OP_NEW : o;
    j->file = w->is_new ? new_file_name(w->form) : g_strdup(file);
    j->index = index;
    j->use_stamp = use_stamp;
    j->stamp = w->stamp;
    if (o != OP_DELETE && ps_gui_form_clone(w->form, &j->form) != PS_OK) {
        save_job_free(j);
        return;
    }
    gtk_label_set_text(w->editor_status, o == OP_DELETE ? "Deleting…" : "Saving…");
    run(w, j);
}

static void on_conflict(AdwMessageDialog *d, const char *response, gpointer data)
{
    PsGuiWindow *w = data;
    const char *file;
    size_t index;
    op o = (op)GPOINTER_TO_INT(g_object_get_data(G_OBJECT(d), "ps-op"));
    if (strcmp(response, "overwrite") == 0)
        start(w, o, FALSE);
    else if (strcmp(response, "reload") == 0 && current(w, &file, &index))
        ps_gui_editor_page_reload(w, file, index);
}

/* The file changed since the form was read: the admin decides. */
static void ask_conflict(PsGuiWindow *w, const save_job *j)
{
    GtkWidget *d = adw_message_dialog_new(GTK_WINDOW(w), "The file changed on disk", NULL);
    adw_message_dialog_format_body(
        ADW_MESSAGE_DIALOG(d),
        "%s was changed by someone else since the editor read it. Overwrite it with this "
        "form (their change to this device is lost; the previous file is kept as %s.bak), "
        "or reload the device from the file?",
        j->file, j->file);
    adw_message_dialog_add_responses(ADW_MESSAGE_DIALOG(d), "cancel", "_Cancel", "reload",
                                     "_Reload", "overwrite", "_Overwrite", NULL);
    adw_message_dialog_set_response_appearance(ADW_MESSAGE_DIALOG(d), "overwrite",
                                               ADW_RESPONSE_DESTRUCTIVE);
    adw_message_dialog_set_default_response(ADW_MESSAGE_DIALOG(d), "cancel");
    adw_message_dialog_set_close_response(ADW_MESSAGE_DIALOG(d), "cancel");
    g_object_set_data(G_OBJECT(d), "ps-op", GINT_TO_POINTER(j->op));
    g_signal_connect(d, "response", G_CALLBACK(on_conflict), w);
    gtk_window_present(GTK_WINDOW(d));
}

/* A new form for a device not yet in any file: blank, or a copy of the open one. */
static void new_form(PsGuiWindow *w, const save_job *j)
{
    ps_gui_form *f = NULL;
    ps_gui_form_field *name;
    char id[32], *copy = NULL, *file, *status;
    if ((j->duplicate ? ps_gui_form_clone(w->form, &f) : ps_gui_form_create(&f)) != PS_OK)
        return;
    snprintf(id, sizeof id, "%lld", j->next_id);
    ps_gui_form_set(f, "id", id);
    name = ps_gui_form_find(f, "name");
    copy = j->duplicate && name->value ? g_strdup_printf("%s-copy", name->value)
                                       : g_strdup_printf("device-%s", id);
    ps_gui_form_set(f, "name", copy);
    w->is_new = TRUE;
    file = new_file_name(f);
    status = g_strdup_printf("A new device%s: Save writes it to %s (named after it).",
                             j->duplicate ? ", a copy of the one open before" : "", file);
    ps_gui_editor_page_show_form(w, f, status);
    g_free(status);
    g_free(file);
    g_free(copy);
}

static void saved(PsGuiWindow *w, const save_job *j)
{
    char *text;
    ps_gui_devices_page_saved(w);
    if (j->op == OP_DELETE)
        text = g_strdup_printf("Deleted from %s; the previous file is kept as %s.bak.", j->file,
                               j->file);
    else
        text = g_strdup_printf("Saved %s%s. The running service reloads it by itself; the line "
                               "below says whether it accepted the change.",
                               j->file,
                               j->op == OP_SAVE ? " (the previous file is kept as .bak)" : "");
    if (j->op == OP_SAVE) {
        w->stamp = j->after;
        /* The rows show what the check before the write found: none of the old errors. */
        ps_gui_editor_page_verdict(w, j->form, &j->all);
        gtk_label_set_text(w->editor_status, text);
    } else {
        /* The list changes: read it again, then open what was written (or the first). */
        w->is_new = FALSE;
        ps_gui_editor_page_reload(w, j->op == OP_NEW ? j->file : NULL, 0);
        g_object_set_data_full(G_OBJECT(w), "ps-saved", g_strdup(text), g_free);
    }
    g_free(text);
}

static void save_done(GObject *src, GAsyncResult *res, gpointer data)
{
    PsGuiWindow *w = PS_GUI_WINDOW(src);
    save_job *j = g_task_get_task_data(G_TASK(res));
    char *text;
    (void)data;
    w->save_busy = FALSE;
    g_task_propagate_boolean(G_TASK(res), NULL);
    if (j->op == OP_NEXT_ID)
        new_form(w, j);
    else if (j->err == PS_OK)
        saved(w, j);
    else if (j->err == PS_ERR_CONFLICT)
        ask_conflict(w, j);
    else if (j->err == PS_ERR_INVALID && j->form) {
        ps_gui_editor_page_verdict(w, j->form, &j->all);
        text = g_strdup_printf("Not saved. %s", gtk_label_get_text(w->editor_status));
        gtk_label_set_text(w->editor_status, text);
        g_free(text);
    } else {
        text = g_strdup_printf("Not saved: %s", j->em.text[0] ? j->em.text : ps_strerror(j->err));
        gtk_label_set_text(w->editor_status, text);
        g_free(text);
    }
}

static void act_save(GtkWidget *wd, const char *name, GVariant *param)
{
    (void)name;
    (void)param;
    start(PS_GUI_WINDOW(wd), OP_SAVE, TRUE);
}

static void act_new(GtkWidget *wd, const char *name, GVariant *param)
{
    PsGuiWindow *w = PS_GUI_WINDOW(wd);
    save_job *j;
    (void)param;
    if (w->save_busy || w->config_busy || (!w->form && strcmp(name, "win.duplicate-device") == 0))
        return;
    j = g_new0(save_job, 1);
    j->op = OP_NEXT_ID;
    j->duplicate = strcmp(name, "win.duplicate-device") == 0;
    run(w, j);
}

static void on_delete(AdwMessageDialog *d, const char *response, gpointer data)
{
    (void)d;
    if (strcmp(response, "delete") == 0)
        start(data, OP_DELETE, TRUE);
}

static void act_delete(GtkWidget *wd, const char *name, GVariant *param)
{
    PsGuiWindow *w = PS_GUI_WINDOW(wd);
    const char *file;
    size_t index;
    GtkWidget *d;
    (void)name;
    (void)param;
    if (w->save_busy || !current(w, &file, &index))
        return;
    d = adw_message_dialog_new(GTK_WINDOW(w), "Delete this device?", NULL);
    adw_message_dialog_format_body(ADW_MESSAGE_DIALOG(d),
                                   "Its lines are removed from %s (the previous file is kept as "
                                   "%s.bak); its stored events stay in the database.",
                                   file, file);
    adw_message_dialog_add_responses(ADW_MESSAGE_DIALOG(d), "cancel", "_Cancel", "delete",
                                     "_Delete", NULL);
    adw_message_dialog_set_response_appearance(ADW_MESSAGE_DIALOG(d), "delete",
                                               ADW_RESPONSE_DESTRUCTIVE);
    adw_message_dialog_set_default_response(ADW_MESSAGE_DIALOG(d), "cancel");
    adw_message_dialog_set_close_response(ADW_MESSAGE_DIALOG(d), "cancel");
    g_signal_connect(d, "response", G_CALLBACK(on_delete), w);
    gtk_window_present(GTK_WINDOW(d));
}

/* The first editable text of a form row. */
static GtkWidget *row_editable(GtkWidget *wd)
{
    if (GTK_IS_EDITABLE(wd) && !GTK_IS_TEXT(wd))
        return wd;
    for (GtkWidget *c = gtk_widget_get_first_child(wd); c; c = gtk_widget_get_next_sibling(c)) {
        GtkWidget *e = row_editable(c);
        if (e)
            return e;
    }
    return NULL;
}

/* Enable or disable: the form's status flipped, as typed into its row, then saved. */
static void act_toggle(GtkWidget *wd, const char *name, GVariant *param)
{
    PsGuiWindow *w = PS_GUI_WINDOW(wd);
    GtkWidget *e = NULL;
    (void)name;
    (void)param;
    if (!w->form || !w->form_rows || w->save_busy)
        return;
    for (size_t i = 0; i < w->form->n && i < w->form_rows->len; i++)
        if (strcmp(w->form->v[i].path, "status") == 0)
            e = row_editable(g_ptr_array_index(w->form_rows, i));
    if (!e)
        return;
    gtk_editable_set_text(GTK_EDITABLE(e),
                          strcmp(gtk_editable_get_text(GTK_EDITABLE(e)), "false") == 0 ? "true"
                                                                                       : "false");
    start(w, OP_SAVE, TRUE);
}

void ps_gui_editor_save_install(GtkWidgetClass *wc)
{
    gtk_widget_class_install_action(wc, "win.save-device", NULL, act_save);
    gtk_widget_class_install_action(wc, "win.new-device", NULL, act_new);
    gtk_widget_class_install_action(wc, "win.duplicate-device", NULL, act_new);
    gtk_widget_class_install_action(wc, "win.delete-device", NULL, act_delete);
    gtk_widget_class_install_action(wc, "win.toggle-device", NULL, act_toggle);
}
