/* The Device editor page: a form generated from the schema table for one device
 * of the configuration, checked by the shared loader as `podstream validate`
 * checks it, each problem shown on its field. Saving and the device actions are in
 * ps_gui_editor_save.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_loader.h"
#include "ps_gui_window_private.h"

void ps_gui_editor_page_free(PsGuiWindow *w)
{
    for (size_t i = 0; i < w->neditable; i++) {
        g_free(w->editable[i].label);
        g_free(w->editable[i].file);
    }
    g_free(w->editable);
    w->editable = NULL;
    w->neditable = 0;
    ps_gui_form_destroy(w->form);
    w->form = NULL;
    ps_gui_pipelines_destroy(w->pipelines);
    w->pipelines = NULL;
    if (w->form_rows)
        g_ptr_array_unref(w->form_rows);
    w->form_rows = NULL;
}

/* ---- the list of devices (worker) --------------------------------------------------- */

typedef struct list_job {
    char *config_dir;
    ps_gui_editable *v;
    size_t n;
    char *select_file; /* the device to open once listed (NULL: the first) */
    size_t select_index;
} list_job;

static void list_job_free(gpointer p)
{
    list_job *j = p;
    for (size_t i = 0; i < j->n; i++) {
        g_free(j->v[i].label);
        g_free(j->v[i].file);
    }
    g_free(j->v);
    g_free(j->config_dir);
    g_free(j->select_file);
    g_free(j);
}

static void list_thread(GTask *task, gpointer src, gpointer data, GCancellable *cancel)
{
    list_job *j = data;
    ps_config *cfg = NULL;
    ps_diag d;
    (void)src;
    (void)cancel;
    ps_diag_init(&d);
    ps_config_load_partial(j->config_dir, &cfg, &d);
    if (cfg && cfg->ndevices) {
        j->v = g_new0(ps_gui_editable, cfg->ndevices);
        for (size_t i = 0; i < cfg->ndevices; i++) {
            const ps_device *dev = &cfg->devices[i];
            unsigned long idx = 0;
            if (!dev->pos.file || !dev->path || sscanf(dev->path, "devices[%lu]", &idx) != 1)
                continue;
            j->v[j->n].label = g_strdup_printf("%lld %s (%s)", dev->id, dev->name ? dev->name : "?",
                                               dev->pos.file);
            j->v[j->n].file = g_strdup(dev->pos.file);
            j->v[j->n].index = idx;
            j->n++;
        }
    }
    ps_config_destroy(cfg);
    ps_diag_deinit(&d);
    g_task_return_boolean(task, TRUE);
}

static void load_form(PsGuiWindow *w, guint pos);

static void list_done(GObject *src, GAsyncResult *res, gpointer data)
{
    PsGuiWindow *w = PS_GUI_WINDOW(src);
    list_job *j = g_task_get_task_data(G_TASK(res));
    GtkStringList *labels = gtk_string_list_new(NULL);
    guint pos = 0;
    (void)data;
    ps_gui_editor_page_free(w);
    w->editable = j->v;
    w->neditable = j->n;
    j->v = NULL;
    j->n = 0;
    for (size_t i = 0; i < w->neditable; i++) {
        gtk_string_list_append(labels, w->editable[i].label);
        if (j->select_file && strcmp(w->editable[i].file, j->select_file) == 0 &&
            w->editable[i].index == j->select_index)
            pos = (guint)i;
    }
    /* Still busy: the drop-down's own notify must not open another device. */
    gtk_drop_down_set_model(w->editor_device, G_LIST_MODEL(labels));
    gtk_drop_down_set_model(w->token_device, G_LIST_MODEL(labels));
    gtk_drop_down_set_selected(w->editor_device, pos);
    g_object_unref(labels);
    w->config_busy = FALSE;
    if (w->neditable == 0)
        gtk_label_set_text(w->editor_status, "The configuration has no device to edit.");
    else
        load_form(w, pos);
}

/* ---- the form ----------------------------------------------------------------------- */

static void entry_changed(GtkEditable *e, gpointer data)
{
    PsGuiWindow *w = data;
    const char *path = g_object_get_data(G_OBJECT(e), "ps-path");
    if (w->form)
        ps_gui_form_set(w->form, path, gtk_editable_get_text(e));
}

static GtkWidget *field_row(PsGuiWindow *w, const ps_gui_form_field *ff)
{
    GtkWidget *row = adw_action_row_new(), *entry;
    gboolean secret = (ff->f->flags & PS_SCHEMA_F_SECRET) != 0;
    char *sub = g_strdup_printf("%s%s%s", ff->f->description, ff->f->def ? " Default: " : "",
                                ff->f->def ? ff->f->def : "");
    /* Plain text: help and messages may hold < and &, which markup would take. */
    adw_preferences_row_set_use_markup(ADW_PREFERENCES_ROW(row), FALSE);
    adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row), ff->path);
    adw_action_row_set_subtitle(ADW_ACTION_ROW(row), sub);
    g_object_set_data_full(G_OBJECT(row), "ps-help", sub, g_free);
    /* A token is never shown: the entry stays empty and the stored value is kept. */
    entry = secret ? gtk_password_entry_new() : gtk_entry_new();
    gtk_widget_set_valign(entry, GTK_ALIGN_CENTER);
    gtk_editable_set_width_chars(GTK_EDITABLE(entry), 32);
    if (secret) {
        gtk_widget_set_sensitive(entry, FALSE);
        g_object_set(entry, "placeholder-text", ff->value ? "stored, not shown" : "not set", NULL);
    } else {
        gtk_editable_set_text(GTK_EDITABLE(entry), ff->value ? ff->value : "");
        if (ff->f->def)
            gtk_entry_set_placeholder_text(GTK_ENTRY(entry), ff->f->def);
        g_object_set_data(G_OBJECT(entry), "ps-path", (gpointer)ff->path);
        g_signal_connect(entry, "changed", G_CALLBACK(entry_changed), w);
    }
    /* Named by its path, and the help a sighted admin reads under it read out too. */
    gtk_accessible_update_property(GTK_ACCESSIBLE(entry), GTK_ACCESSIBLE_PROPERTY_LABEL, ff->path,
                                   GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, sub, -1);
    g_object_set_data(G_OBJECT(row), "ps-entry", entry);
    adw_action_row_add_suffix(ADW_ACTION_ROW(row), entry);
    if (!secret)
        adw_action_row_set_activatable_widget(ADW_ACTION_ROW(row), entry);
    if (strcmp(ff->path, "pipelines") == 0)
        adw_action_row_add_suffix(ADW_ACTION_ROW(row), ps_gui_pipeline_picker(w, entry));
    return row;
}

/* One preferences group per schema group ("Device", "Connection" ...). */
static void build_form(PsGuiWindow *w)
{
    GtkWidget *group = NULL, *c;
    const char *current = NULL;
    while ((c = gtk_widget_get_first_child(GTK_WIDGET(w->editor_form))))
        gtk_box_remove(w->editor_form, c);
    if (w->form_rows)
        g_ptr_array_unref(w->form_rows);
    w->form_rows = g_ptr_array_new();
    for (size_t i = 0; i < w->form->n; i++) {
        const ps_gui_form_field *ff = &w->form->v[i];
        GtkWidget *row = field_row(w, ff);
        if (!group || g_strcmp0(current, ff->f->group) != 0) {
            current = ff->f->group;
            group = adw_preferences_group_new();
            adw_preferences_group_set_title(ADW_PREFERENCES_GROUP(group),
                                            current ? current : "Device");
            gtk_box_append(w->editor_form, group);
        }
        adw_preferences_group_add(ADW_PREFERENCES_GROUP(group), row);
        g_ptr_array_add(w->form_rows, row);
    }
}

typedef struct form_job {
    char *config_dir, *file;
    size_t index;
    ps_gui_stamp stamp;
    ps_gui_pipelines *pipes;
    ps_gui_form *form;
    ps_diag all;
    ps_errmsg em;
} form_job;

static void form_job_free(gpointer p)
{
    form_job *j = p;
    ps_gui_pipelines_destroy(j->pipes);
    ps_gui_form_destroy(j->form);
    ps_diag_deinit(&j->all);
    g_free(j->config_dir);
    g_free(j->file);
    g_free(j);
}

static void form_thread(GTask *task, gpointer src, gpointer data, GCancellable *cancel)
{
    form_job *j = data;
    (void)src;
    (void)cancel;
    /* Before reading: a change in between then shows as a conflict, never lost. */
    ps_gui_stamp_take(j->config_dir, j->file, &j->stamp);
    /* The picker's list; without it the field is still typed by hand. */
    if (ps_gui_pipelines_load(j->config_dir, &j->pipes) != PS_OK)
        j->pipes = NULL;
    if (ps_gui_form_create(&j->form) != PS_OK ||
        ps_gui_form_load_file(j->form, j->config_dir, j->file, j->index, &j->em) != PS_OK) {
        g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_FAILED, "%s", j->em.text);
        return;
    }
    g_task_return_boolean(task, TRUE);
}

static void form_done(GObject *src, GAsyncResult *res, gpointer data)
{
    PsGuiWindow *w = PS_GUI_WINDOW(src);
    form_job *j = g_task_get_task_data(G_TASK(res));
    GError *error = NULL;
    char *text;
    (void)data;
    w->config_busy = FALSE;
    if (!g_task_propagate_boolean(G_TASK(res), &error)) {
        gtk_label_set_text(w->editor_status, error->message);
        g_error_free(error);
        return;
    }
    w->stamp = j->stamp;
    w->is_new = FALSE;
    ps_gui_pipelines_destroy(w->pipelines);
    w->pipelines = j->pipes;
    j->pipes = NULL;
    text = g_strdup_printf("From %s. Check validates it as 'podstream validate' does; Save "
                           "writes it there, and the service reloads it.",
                           j->file);
    ps_gui_editor_page_show_form(w, j->form, text);
    j->form = NULL;
    g_free(text);
    /* What a save that listed the devices again has to say. */
    if (g_object_get_data(G_OBJECT(w), "ps-saved")) {
        gtk_label_set_text(w->editor_status, g_object_get_data(G_OBJECT(w), "ps-saved"));
        g_object_set_data(G_OBJECT(w), "ps-saved", NULL);
    }
}

void ps_gui_editor_page_show_form(PsGuiWindow *w, ps_gui_form *form, const char *status)
{
    ps_gui_form_destroy(w->form);
    w->form = form;
    build_form(w);
    gtk_label_set_text(w->editor_status, status);
}

void ps_gui_editor_page_follow(PsGuiWindow *w, const char *file, size_t index,
                               const ps_gui_stamp *before, const ps_gui_stamp *after,
                               const ps_gui_form *was, const ps_gui_form *now)
{
    guint pos = gtk_drop_down_get_selected(w->editor_device);
    size_t changed = 0;
    /* A file someone else changed too keeps its old stamp: Save asks about that. */
    if (!w->form || w->is_new || w->config_busy || pos >= w->neditable ||
        strcmp(w->editable[pos].file, file) != 0 || !ps_gui_stamp_equal(&w->stamp, before))
        return;
    w->stamp = *after;
    if (w->editable[pos].index != index || !was || !now)
        return;
    /* The rows are made again from the form, which holds the admin's typing too. */
    if (ps_gui_form_follow(w->form, was, now, &changed) == PS_OK && changed)
        build_form(w);
}

static void load_form(PsGuiWindow *w, guint pos)
{
    form_job *j;
    GTask *task;
    if (pos >= w->neditable || w->config_busy)
        return;
    j = g_new0(form_job, 1);
    ps_diag_init(&j->all);
    j->config_dir = g_strdup(w->config_dir);
    j->file = g_strdup(w->editable[pos].file);
    j->index = w->editable[pos].index;
    w->config_busy = TRUE;
    task = g_task_new(w, NULL, form_done, NULL);
    g_task_set_task_data(task, j, form_job_free);
    g_task_run_in_thread(task, form_thread);
    g_object_unref(task);
}

static void on_device(GObject *o, GParamSpec *ps, gpointer data)
{
    (void)ps;
    load_form(data, gtk_drop_down_get_selected(GTK_DROP_DOWN(o)));
}

void ps_gui_editor_page_init(PsGuiWindow *w)
{
    g_signal_connect(w->editor_device, "notify::selected", G_CALLBACK(on_device), w);
    ps_gui_editor_page_reload(w, NULL, 0);
}

void ps_gui_editor_page_reload(PsGuiWindow *w, const char *file, size_t index)
{
    list_job *j = g_new0(list_job, 1);
    GTask *task;
    j->config_dir = g_strdup(w->config_dir);
    j->select_file = g_strdup(file);
    j->select_index = index;
    w->config_busy = TRUE;
    task = g_task_new(w, NULL, list_done, NULL);
    g_task_set_task_data(task, j, list_job_free);
    g_task_run_in_thread(task, list_thread);
    g_object_unref(task);
}

/* ---- checking ------------------------------------------------------------------------ */

static void check_thread(GTask *task, gpointer src, gpointer data, GCancellable *cancel)
{
    form_job *j = data;
    (void)src;
    (void)cancel;
    /* validate's own flags: tokens checked and resolved. */
    ps_gui_form_validate(j->form, j->config_dir, j->file, j->index,
                         PS_LOADER_TOKENS | PS_LOADER_RESOLVE, &j->all);
    g_task_return_boolean(task, TRUE);
}

/* Brings the first field with a problem into view, where the admin fixes it. */
static void scroll_to(PsGuiWindow *w, GtkWidget *row)
{
    GtkWidget *sw = gtk_widget_get_ancestor(GTK_WIDGET(w->editor_form), GTK_TYPE_SCROLLED_WINDOW);
    double x = 0, y = 0;
    if (sw && gtk_widget_translate_coordinates(row, GTK_WIDGET(w->editor_form), 0, 0, &x, &y))
        gtk_adjustment_set_value(gtk_scrolled_window_get_vadjustment(GTK_SCROLLED_WINDOW(sw)),
                                 y > 48 ? y - 48 : 0);
}

static void show_problems(PsGuiWindow *w, const ps_gui_form *checked)
{
    gboolean scrolled = FALSE;
    for (size_t i = 0; i < checked->n && i < w->form_rows->len; i++) {
        GtkWidget *row = g_ptr_array_index(w->form_rows, i);
        const ps_gui_form_field *ff = &checked->v[i];
        const char *msg = ff->error ? ff->error : ff->warning;
        char *sub = msg ? g_strdup_printf("%s: %s", ff->error ? "Error" : "Warning", msg)
                        : g_strdup(g_object_get_data(G_OBJECT(row), "ps-help"));
        adw_action_row_set_subtitle(ADW_ACTION_ROW(row), sub);
        /* A screen reader hears the problem on the field, as it is shown there. */
        gtk_accessible_update_property(GTK_ACCESSIBLE(g_object_get_data(G_OBJECT(row), "ps-entry")),
                                       GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, sub, -1);
        gtk_accessible_update_state(
            GTK_ACCESSIBLE(g_object_get_data(G_OBJECT(row), "ps-entry")),
            GTK_ACCESSIBLE_STATE_INVALID,
            ff->error ? GTK_ACCESSIBLE_INVALID_TRUE : GTK_ACCESSIBLE_INVALID_FALSE, -1);
        if (msg && !scrolled) {
            scroll_to(w, row);
            scrolled = TRUE;
        }
        if (msg)
            gtk_widget_add_css_class(row, "ps-field-error");
        else
            gtk_widget_remove_css_class(row, "ps-field-error");
        g_free(sub);
    }
}

void ps_gui_editor_page_verdict(PsGuiWindow *w, const ps_gui_form *checked, const ps_diag *all)
{
    GString *s = g_string_new(NULL);
    if (w->form_rows)
        show_problems(w, checked);
    g_string_append_printf(s, "%zu error%s, %zu warning%s in this device", checked->errors,
                           checked->errors == 1 ? "" : "s", checked->warnings,
                           checked->warnings == 1 ? "" : "s");
    for (size_t i = 0; i < checked->ngeneral; i++)
        g_string_append_printf(s, "\n%s", checked->general[i]);
    if (all->errors > checked->errors)
        g_string_append_printf(s, "\n%zu more error%s elsewhere in the configuration",
                               all->errors - checked->errors,
                               all->errors - checked->errors == 1 ? "" : "s");
    gtk_label_set_text(w->editor_status, s->str);
    g_string_free(s, TRUE);
}

static void check_done(GObject *src, GAsyncResult *res, gpointer data)
{
    PsGuiWindow *w = PS_GUI_WINDOW(src);
    form_job *j = g_task_get_task_data(G_TASK(res));
    (void)data;
    w->check_busy = FALSE;
    g_task_propagate_boolean(G_TASK(res), NULL);
    ps_gui_editor_page_verdict(w, j->form, &j->all);
}

void ps_gui_editor_page_check(PsGuiWindow *w)
{
    guint pos = gtk_drop_down_get_selected(w->editor_device);
    form_job *j;
    GTask *task;
    if (!w->form || w->check_busy || (pos >= w->neditable && !w->is_new))
        return;
    j = g_new0(form_job, 1);
    ps_diag_init(&j->all);
    if (ps_gui_form_clone(w->form, &j->form) != PS_OK) {
        form_job_free(j);
        return;
    }
    j->config_dir = g_strdup(w->config_dir);
    /* A new device is checked as a file of its own. */
    j->file = w->is_new ? NULL : g_strdup(w->editable[pos].file);
    j->index = pos < w->neditable ? w->editable[pos].index : 0;
    w->check_busy = TRUE;
    gtk_label_set_text(w->editor_status, "Checking…");
    task = g_task_new(w, NULL, check_done, NULL);
    g_task_set_task_data(task, j, form_job_free);
    g_task_run_in_thread(task, check_thread);
    g_object_unref(task);
}
