/* The Token page: a pasted token written into a device's file, encrypted with the
 * shared key or as a reference (ps_gui_token), on a worker. The entry is emptied as
 * soon as its text is taken, and the one copy the page makes is wiped when the job
 * ends; the token never reaches a label, a log or the window's text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_platform.h"
#include "ps_gui_token.h"
#include "ps_gui_window_private.h"

typedef enum token_op { OP_CHECK, OP_KEYGEN, OP_APPLY } token_op;

typedef struct token_job {
    token_op op;
    ps_gui_token_how how;
    char *config_dir, *file, *name, *label;
    char *token; /* the pasted text (wiped when freed) */
    size_t token_len, index;
    ps_err err, key;            /* the operation's, and the key's state after it */
    ps_gui_stamp before, after; /* the device's file before and after Apply */
    ps_gui_form *was, *now;     /* the device as the file held it then, and now */
    ps_errmsg em, key_em;
    ps_diag all;
} token_job;

static void token_job_free(gpointer p)
{
    token_job *j = p;
    if (j->token)
        ps_plat_wipe(j->token, j->token_len);
    g_free(j->token);
    g_free(j->config_dir);
    g_free(j->file);
    g_free(j->name);
    g_free(j->label);
    ps_gui_form_destroy(j->was);
    ps_gui_form_destroy(j->now);
    ps_diag_deinit(&j->all);
    g_free(j);
}

/* Device `index` of `file` as the file holds it now, or NULL. */
static ps_gui_form *read_device(const token_job *j)
{
    ps_gui_form *f = NULL;
    ps_errmsg em;
    if (ps_gui_form_create(&f) == PS_OK &&
        ps_gui_form_load_file(f, j->config_dir, j->file, j->index, &em) == PS_OK)
        return f;
    ps_gui_form_destroy(f);
    return NULL;
}

/* Apply, with what the file was and became: the editor follows a change the app made
 * itself instead of taking it for someone else's. */
static void apply(token_job *j)
{
    ps_gui_stamp_take(j->config_dir, j->file, &j->before);
    j->was = read_device(j);
    j->err = ps_gui_token_apply(j->how, j->config_dir, j->file, j->index, &j->before, j->token,
                                j->name, &j->all, &j->em);
    if (j->err != PS_OK)
        return;
    ps_gui_stamp_take(j->config_dir, j->file, &j->after);
    j->now = read_device(j);
}

static void token_thread(GTask *task, gpointer src, gpointer data, GCancellable *cancel)
{
    token_job *j = data;
    char *key_file = NULL, *secrets_dir = NULL;
    (void)src;
    (void)cancel;
    j->key = ps_gui_token_paths(j->config_dir, &key_file, &secrets_dir, &j->key_em);
    if (j->op == OP_KEYGEN && j->key == PS_OK)
        j->err = ps_gui_token_keygen(key_file, &j->em);
    else if (j->op == OP_APPLY)
        apply(j);
    if (j->key == PS_OK)
        j->key = ps_gui_token_key_check(key_file, &j->key_em);
    free(key_file);
    free(secrets_dir);
    g_task_return_boolean(task, TRUE);
}

static const char *const how_text[] = {"encrypted with the shared key (secure: true)",
                                       "a reference to the service's environment",
                                       "a reference to a secret file"};

static void token_done(GObject *src, GAsyncResult *res, gpointer data)
{
    PsGuiWindow *w = PS_GUI_WINDOW(src);
    token_job *j = g_task_get_task_data(G_TASK(res));
    GString *s = g_string_new(NULL);
    (void)data;
    w->token_busy = FALSE;
    g_task_propagate_boolean(G_TASK(res), NULL);
    if (j->op == OP_APPLY && j->err == PS_OK) {
        g_string_append_printf(s, "Saved the token of %s, %s. The service reloads it.", j->label,
                               how_text[j->how]);
        ps_gui_editor_page_follow(w, j->file, j->index, &j->before, &j->after, j->was, j->now);
        ps_gui_devices_page_saved(w);
    } else if (j->op == OP_APPLY)
        g_string_append_printf(s, "Not saved: %s",
                               j->em.text[0] ? j->em.text : ps_strerror(j->err));
    else if (j->op == OP_KEYGEN && j->err == PS_OK)
        g_string_append(s, "Created the shared key (mode 0600). Keep a copy somewhere safe: "
                           "without it, encrypted tokens cannot be decrypted.");
    else if (j->op == OP_KEYGEN)
        g_string_append_printf(s, "The key was not created: %s", j->em.text);
    /* The key's state, always: it decides what Encrypt can do. */
    g_string_append_printf(s, "%s%s", s->len ? "\n" : "",
                           j->key == PS_OK ? "The shared key is ready for encrypting."
                                           : j->key_em.text);
    gtk_widget_set_visible(w->token_keygen, j->key == PS_ERR_NOTFOUND);
    gtk_label_set_text(w->token_status, s->str);
    g_string_free(s, TRUE);
}

static void run(PsGuiWindow *w, token_job *j)
{
    GTask *task = g_task_new(w, NULL, token_done, NULL);
    ps_diag_init(&j->all);
    j->config_dir = g_strdup(w->config_dir);
    w->token_busy = TRUE;
    g_task_set_task_data(task, j, token_job_free);
    g_task_run_in_thread(task, token_thread);
    g_object_unref(task);
}

void ps_gui_token_page_init(PsGuiWindow *w)
{
    run(w, g_new0(token_job, 1));
}

static void act_create_key(GtkWidget *wd, const char *name, GVariant *param)
{
    PsGuiWindow *w = PS_GUI_WINDOW(wd);
    token_job *j;
    (void)name;
    (void)param;
    if (w->token_busy)
        return;
    j = g_new0(token_job, 1);
    j->op = OP_KEYGEN;
    run(w, j);
}

static void act_apply(GtkWidget *wd, const char *name, GVariant *param)
{
    PsGuiWindow *w = PS_GUI_WINDOW(wd);
    guint pos = gtk_drop_down_get_selected(w->token_device);
    const char *text;
    token_job *j;
    (void)name;
    (void)param;
    if (w->token_busy || pos >= w->neditable)
        return;
    j = g_new0(token_job, 1);
    j->op = OP_APPLY;
    j->how = (ps_gui_token_how)MIN(gtk_drop_down_get_selected(w->token_how), 2u);
    j->file = g_strdup(w->editable[pos].file);
    j->index = w->editable[pos].index;
    j->label = g_strdup(w->editable[pos].label);
    j->name = g_strdup(gtk_editable_get_text(w->token_name));
    /* One copy, for the worker; the entry (a password buffer GTK wipes) is emptied now. */
    text = gtk_editable_get_text(w->token_entry);
    j->token_len = strlen(text) + 1;
    j->token = g_strdup(text);
    gtk_editable_set_text(w->token_entry, "");
    gtk_label_set_text(w->token_status, "Saving…");
    run(w, j);
}

void ps_gui_token_page_install(GtkWidgetClass *wc)
{
    gtk_widget_class_install_action(wc, "win.apply-token", NULL, act_apply);
    gtk_widget_class_install_action(wc, "win.create-key", NULL, act_create_key);
}
