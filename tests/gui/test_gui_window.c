/* podstream-gui's real window under Xvfb (run_under_xvfb.sh): started on a fixture
 * configuration and database with the CLI's -c and --db options, driven through
 * its actions, it shows the counts the service writes and changes them when new
 * ones are written while it runs, says plainly when the counters go stale, finds
 * events, exports them, traces one mail, checks a device like `podstream validate`,
 * saves it (and asks first once its file changed on disk), disables, duplicates and
 * deletes a device on a copy of the configuration, says beside Save whether the
 * service (stopped, then accepting, then rejecting) took it, creates the shared key and
 * encrypts a pasted token into a device, and saves a PNG of every page into
 * $PS_BINARY_DIR/gui-screenshots/ (docs/images/ holds copies).
 *
 * The steps run one after another from a timer on the app's own main loop; each
 * waits (up to STEP_TIMEOUT_S) for the window to be idle and to show some text. */
#include <gtk/gtk.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gui_fixture.h"
#include "ps_gui_app.h"
#include "ps_gui_event_list.h"

#define STEP_TIMEOUT_S 20
#define SKIP           77

typedef struct run {
    AdwApplication *app;
    char *dir, *config, *db, *shots;
    int step;
    gint64 step_started;
    /* The service this test plays: it rewrites its counters every second while it
     * "runs", as the writer does, so a slow start of the app cannot make them stale. */
    gboolean running;
    uint64_t total;
    gint64 last_write;
    int failed;
} run;

/* Saves a PNG of the window as it is drawn now. FALSE when the window has a
 * layout pending (a widget just shown) and draws nothing yet: try on the next tick. */
static gboolean save_png(run *r, GtkWidget *win, const char *name)
{
    int w = gtk_widget_get_width(win), h = gtk_widget_get_height(win);
    GdkPaintable *p = gtk_widget_paintable_new(win);
    GtkSnapshot *s = gtk_snapshot_new();
    GskRenderNode *node;
    GdkTexture *t = NULL;
    char *path = g_build_filename(r->shots, name, NULL);
    gdk_paintable_snapshot(p, s, w, h);
    node = gtk_snapshot_free_to_node(s);
    if (node)
        t = gsk_renderer_render_texture(gtk_native_get_renderer(GTK_NATIVE(win)), node,
                                        &GRAPHENE_RECT_INIT(0, 0, (float)w, (float)h));
    if (t && !gdk_texture_save_to_png(t, path)) {
        fprintf(stderr, "FAIL: cannot write %s\n", path);
        r->failed = 1;
    } else if (t) {
        printf("screenshot: %s (%dx%d)\n", path, w, h);
    }
    if (t)
        g_object_unref(t);
    if (node)
        gsk_render_node_unref(node);
    g_object_unref(p);
    g_free(path);
    return t != NULL;
}

/* The message dialog now shown with `heading`, or NULL. */
static GtkWidget *dialog(const char *heading)
{
    GList *all = gtk_window_list_toplevels(), *l;
    GtkWidget *d = NULL;
    for (l = all; l && !d; l = l->next)
        if (ADW_IS_MESSAGE_DIALOG(l->data) && gtk_widget_get_mapped(l->data) &&
            g_strcmp0(adw_message_dialog_get_heading(l->data), heading) == 0)
            d = l->data;
    g_list_free(all);
    return d;
}

/* TRUE when the window is idle and shows `text` (NULL: anything; "dialog:H": a
 * message dialog headed H). */
static gboolean shows(PsGuiWindow *w, const char *text)
{
    char *all;
    gboolean ok;
    if (!ps_gui_window_is_idle(w))
        return FALSE;
    if (!text)
        return TRUE;
    if (g_str_has_prefix(text, "dialog:"))
        return dialog(text + 7) != NULL;
    all = ps_gui_window_describe(w);
    ok = strstr(all, text) != NULL;
    g_free(all);
    return ok;
}

static void activate(PsGuiWindow *w, const char *action, GVariant *param)
{
    gtk_widget_activate_action_variant(GTK_WIDGET(w), action, param);
}

/* The column view whose rows are events (the Events page's). */
static GtkColumnView *events_view(GtkWidget *wd)
{
    if (GTK_IS_COLUMN_VIEW(wd)) {
        GtkSelectionModel *m = gtk_column_view_get_model(GTK_COLUMN_VIEW(wd));
        if (GTK_IS_SINGLE_SELECTION(m) &&
            PS_GUI_IS_EVENT_LIST(gtk_single_selection_get_model(GTK_SINGLE_SELECTION(m))))
            return GTK_COLUMN_VIEW(wd);
    }
    for (GtkWidget *c = gtk_widget_get_first_child(wd); c; c = gtk_widget_get_next_sibling(c)) {
        GtkColumnView *v = events_view(c);
        if (v)
            return v;
    }
    return NULL;
}

/* One step: what it waits for, then what it does. */
typedef struct step {
    const char *wait_for;
    const char *shot; /* the PNG saved once it shows, before act; or NULL */
    void (*act)(run *r, PsGuiWindow *w);
    const char *what;
} step;

static void store_more(run *r, PsGuiWindow *w)
{
    /* The service stores 100 more events (and the sendmail lines of the last one, on
     * the maillog device) and writes its counters again. */
    if (!gui_fixture_events(r->db, 1, 300, 100, 4) || !gui_fixture_maillog(r->db, 2, 399, 4))
        r->failed = 1;
    r->total = 1334;
    r->last_write = 0;
    activate(w, "win.refresh", NULL);
}

static void check_outputs(run *r, PsGuiWindow *w)
{
    char *all = ps_gui_window_describe(w);
    /* The removed output says so, with no error or rate of its own. */
    if (!strstr(all, "old-hec\nsplunk_hec\ndisabled\n") ||
        !strstr(all, "connection reset by peer")) {
        fprintf(stderr, "FAIL: the Outputs section shows:\n%s\n", all);
        r->failed = 1;
    }
    g_free(all);
}

static void nothing(run *r, PsGuiWindow *w)
{
    (void)r;
    (void)w;
}

static void go_stale(run *r, PsGuiWindow *w)
{
    (void)w;
    /* The service stopped a minute ago: its counters are that old. */
    r->running = FALSE;
    if (!gui_fixture_counters(r->db, 1, "proofpoint-message", r->total, 60))
        r->failed = 1;
}

/* The Events page's filter entry whose placeholder begins with `hint`. */
static GtkWidget *filter_entry(GtkWidget *wd, const char *hint)
{
    const char *p = GTK_IS_ENTRY(wd) ? gtk_entry_get_placeholder_text(GTK_ENTRY(wd)) : NULL;
    if (p && g_str_has_prefix(p, hint))
        return wd;
    for (GtkWidget *c = gtk_widget_get_first_child(wd); c; c = gtk_widget_get_next_sibling(c)) {
        GtkWidget *e = filter_entry(c, hint);
        if (e)
            return e;
    }
    return NULL;
}

static void search_device(run *r, PsGuiWindow *w)
{
    GtkWidget *dev;
    activate(w, "win.page", g_variant_new_string("events"));
    /* A device named as --device names it: every event of the fixture is device 1's. */
    dev = filter_entry(GTK_WIDGET(w), "id or name");
    if (!dev) {
        fprintf(stderr, "FAIL: no Device filter on the Events page\n");
        r->failed = 1;
        return;
    }
    gtk_editable_set_text(GTK_EDITABLE(dev), "proofpoint-message");
    activate(w, "win.search", NULL);
}

static void select_first(run *r, PsGuiWindow *w)
{
    GtkColumnView *v = events_view(GTK_WIDGET(w));
    /* As a click would: the detail pane then reads the event on a worker. */
    if (!v) {
        fprintf(stderr, "FAIL: no column view of events in the window\n");
        r->failed = 1;
    } else if (!gtk_selection_model_select_item(gtk_column_view_get_model(v), 0, TRUE)) {
        fprintf(stderr, "FAIL: the first event cannot be selected\n");
        r->failed = 1;
    }
}

static void export_csv(run *r, PsGuiWindow *w)
{
    char *path = g_build_filename(r->dir, "export.csv", NULL);
    activate(w, "win.export-to", g_variant_new("(ss)", "csv", path));
    g_free(path);
}

static void trace_selected(run *r, PsGuiWindow *w)
{
    char *path = g_build_filename(r->dir, "export.csv", NULL), *text = NULL;
    guint lines = 0;
    /* The header and every event of the result, not only those on screen. */
    if (g_file_get_contents(path, &text, NULL, NULL))
        for (const char *p = text; *p; p++)
            lines += *p == '\n';
    if (lines != 401) {
        fprintf(stderr, "FAIL: %s has %u lines, not 401\n", path, lines);
        r->failed = 1;
    }
    g_free(text);
    g_free(path);
    activate(w, "win.trace-selected", NULL);
}

static void open_editor(run *r, PsGuiWindow *w)
{
    activate(w, "win.page", g_variant_new_string("editor"));
}

/* The entry of the form row titled `title`. */
static GtkWidget *row_entry(GtkWidget *wd, const char *title, gboolean in_row)
{
    if (in_row && GTK_IS_ENTRY(wd))
        return wd;
    if (ADW_IS_ACTION_ROW(wd))
        in_row = g_strcmp0(adw_preferences_row_get_title(ADW_PREFERENCES_ROW(wd)), title) == 0;
    for (GtkWidget *c = gtk_widget_get_first_child(wd); c; c = gtk_widget_get_next_sibling(c)) {
        GtkWidget *e = row_entry(c, title, in_row);
        if (e)
            return e;
    }
    return NULL;
}

static void check_device(run *r, PsGuiWindow *w)
{
    GtkWidget *e = row_entry(GTK_WIDGET(w), "properties.workers", FALSE);
    if (!e) {
        fprintf(stderr, "FAIL: no entry for properties.workers on the form\n");
        r->failed = 1;
        return;
    }
    /* Typed as an admin would; focus scrolls the form to it. */
    gtk_editable_set_text(GTK_EDITABLE(e), "100");
    gtk_widget_grab_focus(e);
    activate(w, "win.check-device", NULL);
}

static char *director(const run *r)
{
    char *p = g_build_filename(r->config, "devices", "10-director.yml", NULL), *text = NULL;
    if (!g_file_get_contents(p, &text, NULL, NULL))
        text = g_strdup("");
    g_free(p);
    return text;
}

/* Sets the form's workers to `v` and saves. */
static void save_workers(run *r, PsGuiWindow *w, const char *v)
{
    GtkWidget *e = row_entry(GTK_WIDGET(w), "properties.workers", FALSE);
    if (!e) {
        r->failed = 1;
        return;
    }
    gtk_editable_set_text(GTK_EDITABLE(e), v);
    activate(w, "win.save-device", NULL);
}

static void save_fixed(run *r, PsGuiWindow *w)
{
    /* The token resolves now: the device has no error left. */
    g_setenv("POD_TOKEN", "test-token", TRUE);
    save_workers(r, w, "8");
}

static void change_on_disk(run *r, PsGuiWindow *w)
{
    char *text = director(r), *p = g_build_filename(r->config, "devices", "10-director.yml", NULL);
    char *more = g_strconcat(text, "# changed by another editor\n", NULL);
    /* Saved with the comments and order as they were, and the old file kept. */
    if (!strstr(text, "      workers: 8\n") || !strstr(text, "# The Director file shape")) {
        fprintf(stderr, "FAIL: the saved file is not the edit:\n%s\n", text);
        r->failed = 1;
    }
    if (!g_file_set_contents(p, more, -1, NULL))
        r->failed = 1;
    save_workers(r, w, "6");
    g_free(more);
    g_free(text);
    g_free(p);
}

static void overwrite(run *r, PsGuiWindow *w)
{
    (void)w;
    (void)r;
    /* The dialog closes; the save runs again without the stamp. */
    adw_message_dialog_response(ADW_MESSAGE_DIALOG(dialog("The file changed on disk")),
                                "overwrite");
}

static void disable(run *r, PsGuiWindow *w)
{
    char *text = director(r);
    /* Overwritten: the other editor's line kept, this device's value changed. */
    if (!strstr(text, "workers: 6") || !strstr(text, "# changed by another editor")) {
        fprintf(stderr, "FAIL: the overwrite is not the edit:\n%s\n", text);
        r->failed = 1;
    }
    g_free(text);
    activate(w, "win.toggle-device", NULL);
}

static void duplicate(run *r, PsGuiWindow *w)
{
    char *text = director(r);
    if (!strstr(text, "    status: false\n")) {
        fprintf(stderr, "FAIL: not disabled:\n%s\n", text);
        r->failed = 1;
    }
    g_free(text);
    activate(w, "win.duplicate-device", NULL);
}

static void save_copy(run *r, PsGuiWindow *w)
{
    (void)r;
    activate(w, "win.save-device", NULL);
}

static void delete_copy(run *r, PsGuiWindow *w)
{
    (void)r;
    activate(w, "win.delete-device", NULL);
}

static void confirm_delete(run *r, PsGuiWindow *w)
{
    (void)r;
    (void)w;
    adw_message_dialog_response(ADW_MESSAGE_DIALOG(dialog("Delete this device?")), "delete");
}

static void open_token(run *r, PsGuiWindow *w)
{
    (void)r;
    activate(w, "win.page", g_variant_new_string("token"));
}

static void create_key(run *r, PsGuiWindow *w)
{
    (void)r;
    activate(w, "win.create-key", NULL);
}

/* The password entry on the page shown (the editor's token row has one too). */
static GtkWidget *password_entry(GtkWidget *wd)
{
    if (!gtk_widget_get_mapped(wd))
        return NULL;
    if (GTK_IS_PASSWORD_ENTRY(wd))
        return wd;
    for (GtkWidget *c = gtk_widget_get_first_child(wd); c; c = gtk_widget_get_next_sibling(c)) {
        GtkWidget *e = password_entry(c);
        if (e)
            return e;
    }
    return NULL;
}

static void paste_token(run *r, PsGuiWindow *w)
{
    GtkWidget *e = password_entry(GTK_WIDGET(w));
    if (!e) {
        fprintf(stderr, "FAIL: no token entry\n");
        r->failed = 1;
        return;
    }
    gtk_editable_set_text(GTK_EDITABLE(e), "s3cr3t-window-token");
    activate(w, "win.apply-token", NULL);
    /* Taken and wiped at once, before the worker even runs. */
    if (*gtk_editable_get_text(GTK_EDITABLE(e))) {
        fprintf(stderr, "FAIL: the token entry still holds text after Apply\n");
        r->failed = 1;
    }
}

static void check_token(run *r, PsGuiWindow *w)
{
    char *text = director(r), *all = ps_gui_window_describe(w);
    if (!strstr(text, "token: \"enc:v1:") || strstr(text, "s3cr3t") || strstr(all, "s3cr3t")) {
        fprintf(stderr, "FAIL: the token is not encrypted in the file:\n%s\n", text);
        r->failed = 1;
    }
    g_free(all);
    g_free(text);
}

/* The first mapped widget of `type` under `wd` whose label starts with `label` (NULL:
 * any). */
static GtkWidget *find_mapped(GtkWidget *wd, GType type, const char *label)
{
    if (!gtk_widget_get_mapped(wd))
        return NULL;
    if (G_TYPE_CHECK_INSTANCE_TYPE(wd, type)) {
        const char *l = GTK_IS_CHECK_BUTTON(wd)  ? gtk_check_button_get_label(GTK_CHECK_BUTTON(wd))
                        : GTK_IS_MENU_BUTTON(wd) ? gtk_menu_button_get_label(GTK_MENU_BUTTON(wd))
                                                 : NULL;
        if (!label || (l && g_str_has_prefix(l, label)))
            return wd;
    }
    for (GtkWidget *c = gtk_widget_get_first_child(wd); c; c = gtk_widget_get_next_sibling(c)) {
        GtkWidget *f = find_mapped(c, type, label);
        if (f)
            return f;
    }
    return NULL;
}

static void open_picker(run *r, PsGuiWindow *w)
{
    GtkWidget *b = find_mapped(GTK_WIDGET(w), GTK_TYPE_MENU_BUTTON, "_Pick");
    if (!b) {
        fprintf(stderr, "FAIL: no pipeline picker on the form\n");
        r->failed = 1;
        return;
    }
    gtk_menu_button_popup(GTK_MENU_BUTTON(b));
}

static void untick_enrich(run *r, PsGuiWindow *w)
{
    GtkWidget *b = find_mapped(GTK_WIDGET(w), GTK_TYPE_CHECK_BUTTON, "enrich (");
    GtkWidget *e = row_entry(GTK_WIDGET(w), "pipelines", FALSE);
    if (!b || !e || !gtk_check_button_get_active(GTK_CHECK_BUTTON(b))) {
        fprintf(stderr, "FAIL: no ticked 'enrich' in the picker\n");
        r->failed = 1;
        return;
    }
    gtk_check_button_set_active(GTK_CHECK_BUTTON(b), FALSE);
    if (strcmp(gtk_editable_get_text(GTK_EDITABLE(e)), "normalize") != 0) {
        fprintf(stderr, "FAIL: the pipelines field says '%s' after unticking enrich\n",
                gtk_editable_get_text(GTK_EDITABLE(e)));
        r->failed = 1;
    }
}

/* The mapped button whose tooltip is `tip`. */
static GtkWidget *tooltip_button(GtkWidget *wd, const char *tip)
{
    if (!gtk_widget_get_mapped(wd))
        return NULL;
    if (GTK_IS_BUTTON(wd) && g_strcmp0(gtk_widget_get_tooltip_text(wd), tip) == 0)
        return wd;
    for (GtkWidget *c = gtk_widget_get_first_child(wd); c; c = gtk_widget_get_next_sibling(c)) {
        GtkWidget *b = tooltip_button(c, tip);
        if (b)
            return b;
    }
    return NULL;
}

/* Ticked again (it goes last), then moved up by its button: it runs first. The
 * keyboard stays on it: Up is then unusable, so Down has the focus. */
static void order_enrich(run *r, PsGuiWindow *w)
{
    GtkWidget *b = find_mapped(GTK_WIDGET(w), GTK_TYPE_CHECK_BUTTON, "enrich ("), *up;
    GtkWidget *e = row_entry(GTK_WIDGET(w), "pipelines", FALSE);
    if (!b || !e) {
        r->failed = 1;
        return;
    }
    gtk_check_button_set_active(GTK_CHECK_BUTTON(b), TRUE);
    up = tooltip_button(GTK_WIDGET(w), "Run enrich earlier");
    if (strcmp(gtk_editable_get_text(GTK_EDITABLE(e)), "normalize, enrich") != 0 || !up ||
        !gtk_widget_get_sensitive(up)) {
        fprintf(stderr, "FAIL: enrich is not ticked last with a usable Up\n");
        r->failed = 1;
        return;
    }
    g_signal_emit_by_name(up, "clicked");
    b = tooltip_button(GTK_WIDGET(w), "Run enrich later");
    if (strcmp(gtk_editable_get_text(GTK_EDITABLE(e)), "enrich, normalize") != 0 || !b ||
        !gtk_widget_has_focus(b)) {
        fprintf(stderr, "FAIL: Up did not move enrich first (field '%s'), or lost the focus\n",
                gtk_editable_get_text(GTK_EDITABLE(e)));
        r->failed = 1;
    }
}

/* The Token page wrote this file after the editor read it: the editor followed, so
 * Save writes (no question about a change the app made itself). */
static void save_order(run *r, PsGuiWindow *w)
{
    (void)r;
    gtk_menu_button_popdown(
        GTK_MENU_BUTTON(find_mapped(GTK_WIDGET(w), GTK_TYPE_MENU_BUTTON, "_Pick")));
    activate(w, "win.save-device", NULL);
}

static void check_order(run *r, PsGuiWindow *w)
{
    char *text = director(r);
    (void)w;
    if (!strstr(text, "    pipelines:\n      - enrich\n      - normalize\n") ||
        !strstr(text, "token: \"enc:v1:")) {
        fprintf(stderr, "FAIL: the order or the token is not in the file (asked first?):\n%s\n",
                text);
        r->failed = 1;
    }
    g_free(text);
}

/* The service runs again and reloads the saved file: accepted, then (after another
 * edit, as it were) rejected. */
static void service_accepts(run *r, PsGuiWindow *w)
{
    (void)w;
    r->running = TRUE;
    r->last_write = 0;
    if (!gui_fixture_reload(r->db, 2, true, NULL))
        r->failed = 1;
}

static void service_rejects(run *r, PsGuiWindow *w)
{
    (void)w;
    if (!gui_fixture_reload(r->db, 2, false,
                            "devices/10-director.yml:15:16: error: devices[0].properties.workers: "
                            "100 is out of range (1..64)"))
        r->failed = 1;
}

static void service_stops(run *r, PsGuiWindow *w)
{
    (void)w;
    r->running = FALSE;
}

static const step steps[] = {
    {"1 proofpoint-message\nlive\n12.5\n1234\n", NULL, nothing, "the counts the service wrote"},
    /* lag, reconnects, empty frames, duplicates, quarantined */
    {"1.5 s\n1\n4\n3\n0\n", NULL, check_outputs,
     "the device's counts as podstream status has them"},
    {"siem\nsyslog\nsending\n50\n7.5\n40\n1\n2/0\n", "gui-devices.png", store_more,
     "the Outputs section: siem's state, backlog, rate and counts"},
    {"\n1334\n", NULL, go_stale, "the new total after the service wrote again"},
    {"The podstream service is not running", NULL, nothing, "the notice for stale counters"},
    /* 152 behind: the 100 events and 2 sendmail lines store_more stored since. */
    {"siem\nsyslog\nnot running\n152\n—\n", "gui-devices-stopped.png", search_device,
     "the output not running either, no rate"},
    {"400 events", NULL, select_first, "every stored event on the Events page"},
    {"\"guid\": \"gui-1-399\"", "gui-events.png", export_csv, "the newest event pretty-printed"},
    {"Exported 400 events to", NULL, trace_selected, "the whole result exported as CSV"},
    {"to <carol@corp.example> via mx.corp.example.: Sent (Ok)", "gui-trace.png", open_editor,
     "its mail traced: filtered, received, sent"},
    {"From devices/10-director.yml", NULL, check_device, "the editor's form of device 1"},
    /* The out-of-range value, and the token: $POD_TOKEN is unset here. */
    {"2 errors, 0 warnings in this device", "gui-editor.png", save_fixed, "the check's verdict"},
    {"Saved devices/10-director.yml", "gui-editor-saved.png", change_on_disk, "the device saved"},
    {"dialog:The file changed on disk", "gui-editor-conflict.png", overwrite,
     "the question before overwriting a file changed on disk"},
    {"Saved devices/10-director.yml", NULL, disable, "saved over it when told to"},
    {"Saved devices/10-director.yml", NULL, duplicate, "the device disabled and saved"},
    {"A new device, a copy", NULL, save_copy, "a copy of the device in the form"},
    {"Saved devices/proofpoint-message-copy.yml", NULL, delete_copy, "the copy in its own file"},
    {"dialog:Delete this device?", NULL, confirm_delete, "the question before deleting"},
    {"Deleted from devices/proofpoint-message-copy.yml", NULL, open_token, "the copy deleted"},
    {"There is no shared key yet", "gui-token.png", create_key, "the Token page without a key"},
    {"The shared key is ready for encrypting.", NULL, paste_token, "the key created"},
    {"Saved the token of 1 proofpoint-message", "gui-token-saved.png", check_token,
     "the token encrypted into the device's file"},
    {NULL, NULL, open_editor, "the Token page done"},
    {"normalize, enrich", NULL, open_picker, "the editor again, device 1's pipelines"},
    {"Ticked pipelines run from the top down", NULL, untick_enrich, "the pipeline picker"},
    {NULL, NULL, order_enrich, "enrich unticked"},
    {NULL, NULL, save_order, "enrich ticked and moved first"},
    {"Saved devices/10-director.yml", NULL, check_order,
     "saved after the Token page wrote the file, without a question"},
    /* Beside Save: what became of it (the counters have been stale since go_stale). */
    {"Service not running: the change takes effect at the next start.", NULL, service_accepts,
     "the note for a save while the service is stopped"},
    {"Reload accepted at ", "gui-editor-reload.png", service_rejects,
     "the reload the service accepted"},
    {"Reload rejected: devices/10-director.yml:15:16: error: ", NULL, service_stops,
     "the reload the service rejected, with its first error"},
};

/* What a step's screenshot shows: its dialog, or the window. */
static GtkWidget *shot_of(PsGuiWindow *w, const char *wait_for)
{
    if (wait_for && g_str_has_prefix(wait_for, "dialog:"))
        return dialog(wait_for + 7);
    return GTK_WIDGET(w);
}

static gboolean drive(gpointer data)
{
    run *r = data;
    PsGuiWindow *w = ps_gui_app_window(r->app);
    if (r->running && g_get_monotonic_time() - r->last_write >= G_USEC_PER_SEC) {
        r->last_write = g_get_monotonic_time();
        if (!gui_fixture_counters(r->db, 1, "proofpoint-message", r->total, 0) ||
            !gui_fixture_output_state(r->db, 0))
            r->failed = 1;
    }
    if (!w)
        return G_SOURCE_CONTINUE;
    if (r->step_started == 0)
        r->step_started = g_get_monotonic_time();
    if (shows(w, steps[r->step].wait_for) &&
        (!steps[r->step].shot ||
         save_png(r, shot_of(w, steps[r->step].wait_for), steps[r->step].shot))) {
        printf("ok %d: %s\n", r->step + 1, steps[r->step].what);
        steps[r->step].act(r, w);
        r->step++;
        r->step_started = g_get_monotonic_time();
        if (r->step < (int)G_N_ELEMENTS(steps) && !r->failed)
            return G_SOURCE_CONTINUE;
        g_application_quit(G_APPLICATION(r->app));
        return G_SOURCE_REMOVE;
    }
    if (g_get_monotonic_time() - r->step_started > STEP_TIMEOUT_S * G_USEC_PER_SEC) {
        char *all = ps_gui_window_describe(w);
        fprintf(stderr, "FAIL step %d: %s: \"%s\" not shown; the window shows:\n%s\n", r->step + 1,
                steps[r->step].what, steps[r->step].wait_for, all);
        g_free(all);
        r->failed = 1;
        g_application_quit(G_APPLICATION(r->app));
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

static void on_activate(GApplication *app, gpointer data)
{
    (void)app;
    g_timeout_add(100, drive, data);
}

static void copy_tree(const char *from, const char *to)
{
    GDir *d = g_dir_open(from, 0, NULL);
    const char *name;
    g_mkdir_with_parents(to, 0700);
    while (d && (name = g_dir_read_name(d))) {
        char *f = g_build_filename(from, name, NULL), *t = g_build_filename(to, name, NULL);
        char *text = NULL;
        gsize len = 0;
        if (g_file_test(f, G_FILE_TEST_IS_DIR))
            copy_tree(f, t);
        else if (g_file_get_contents(f, &text, &len, NULL))
            g_file_set_contents(t, text, (gssize)len, NULL);
        g_free(text);
        g_free(f);
        g_free(t);
    }
    if (d)
        g_dir_close(d);
}

/* The shared key beside the copy, not in the fixture's /var/lib/podstream. */
static void key_beside(run *r)
{
    char *p = g_build_filename(r->config, "podstream.yml", NULL), *text = NULL;
    GString *s;
    if (!g_file_get_contents(p, &text, NULL, NULL))
        r->failed = 1;
    s = g_string_new(text);
    g_string_replace(s, "key_file: /var/lib/podstream/key", "key_file: podstream.key", 1);
    if (!g_file_set_contents(p, s->str, -1, NULL))
        r->failed = 1;
    g_string_free(s, TRUE);
    g_free(text);
    g_free(p);
}

static void write_config(run *r)
{
    /* A copy of the valid fixture (the editor writes into it), and a database beside. */
    char *src = g_build_filename(getenv("PS_TEST_DATA"), "config", "valid", NULL);
    r->config = g_build_filename(r->dir, "config", NULL);
    copy_tree(src, r->config);
    g_free(src);
    key_beside(r);
    r->db = g_build_filename(r->dir, "events.db", NULL);
#ifdef G_OS_WIN32
    /* GLib on Windows parses the process's own command line, not the argv given to
     * g_application_run: the app finds the copy through PODSTREAM_CONFIG_DIR, and the
     * database through the copy's own `database: data/events.db`. */
    g_free(r->db);
    r->db = g_build_filename(r->config, "data", NULL);
    g_mkdir_with_parents(r->db, 0700);
    g_free(r->db);
    r->db = g_build_filename(r->config, "data", "events.db", NULL);
    g_setenv("PODSTREAM_CONFIG_DIR", r->config, TRUE);
#endif
}

int main(void)
{
    run r;
    char *argv[] = {"podstream-gui", "-c", NULL, "--db", NULL, NULL};
    int rc;
    memset(&r, 0, sizeof r);
    if (!gtk_init_check()) {
        printf("no display server: skipped\n");
        return SKIP;
    }
    /* Screenshots of settled pages: the page switcher's buttons fade their highlight
     * (CSS transitions, about 200 ms), and a PNG saved right after a page change caught
     * the fade, the previous page's button still highlighted (issue #18). */
    g_object_set(gtk_settings_get_default(), "gtk-enable-animations", FALSE, NULL);
    r.dir = g_dir_make_tmp("ps_gui_window_XXXXXX", NULL);
    r.shots = g_build_filename(getenv("PS_BINARY_DIR") ? getenv("PS_BINARY_DIR") : ".",
                               "gui-screenshots", NULL);
    g_mkdir_with_parents(r.shots, 0755);
    write_config(&r);
    /* An output "siem" with its cursor at event 250 (50 behind), and one removed. */
    if (!gui_fixture_events(r.db, 1, 0, 300, 4) || !gui_fixture_outputs(r.db, 250, 0))
        return 1;
    r.running = TRUE;
    r.total = 1234;
    g_unsetenv("POD_TOKEN");
    argv[2] = r.config;
    argv[4] = r.db;
    r.app = ps_gui_app_new();
    g_signal_connect_after(r.app, "activate", G_CALLBACK(on_activate), &r);
    rc = g_application_run(G_APPLICATION(r.app), 5, argv);
    g_object_unref(r.app);
    if (r.step < (int)G_N_ELEMENTS(steps) && !r.failed) {
        fprintf(stderr, "FAIL: the app ended at step %d\n", r.step + 1);
        r.failed = 1;
    }
    printf("%s\n", r.failed || rc ? "FAILED" : "passed");
    /* Kept after a failure: the configuration the editor wrote says what went wrong. */
    if (!r.failed && !rc)
        gui_fixture_remove_tree(r.dir);
    return r.failed || rc ? 1 : 0;
}
