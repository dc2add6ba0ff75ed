/* The Devices page: every configured device with its live counts, read from the
 * store on a worker once a second, and its rate over the last minutes as a small
 * graph; a plain notice when the service is not running. The same refresh brings
 * the service's record of its last reload, said next to Save. */
#include <inttypes.h>
#include <string.h>

#include "podstream/ps_platform.h"
#include "ps_gui_window_private.h"

/* ---- one row ----------------------------------------------------------------------- */

#define PS_GUI_TYPE_DEVICE_ROW (ps_gui_device_row_get_type())
G_DECLARE_FINAL_TYPE(PsGuiDeviceRow, ps_gui_device_row, PS_GUI, DEVICE_ROW, GObject)

struct _PsGuiDeviceRow {
    GObject parent;
    ps_gui_device d;
    float spark[PS_GUI_RATE_SAMPLES]; /* events/s, oldest first */
    size_t nspark;
};

G_DEFINE_FINAL_TYPE(PsGuiDeviceRow, ps_gui_device_row, G_TYPE_OBJECT)

static void ps_gui_device_row_class_init(PsGuiDeviceRowClass *k)
{
    (void)k;
}

static void ps_gui_device_row_init(PsGuiDeviceRow *r)
{
    (void)r;
}

enum {
    COL_DEVICE,
    COL_STATE,
    COL_RATE,
    COL_TOTAL,
    COL_LAST,
    COL_LAG,
    COL_RECONNECTS,
    COL_EMPTY,
    COL_DUPLICATES,
    COL_QUARANTINED,
    COL_ERROR
};

/* What the device is doing, in the words of `podstream status`; stale counters
 * say "not running" rather than the last state the service wrote. */
static const char *state_text(const ps_gui_device *d)
{
    if (!d->has_counters)
        return d->enabled ? "never started" : "disabled";
    if (d->stale)
        return d->in_config && !d->enabled ? "disabled" : "not running";
    return ps_device_state_name(d->c.state);
}

/* Live figures only from live counters: old rates would look like traffic. */
static char *live_only(const ps_gui_device *d, guint col)
{
    if (!d->has_counters || d->stale)
        return g_strdup("—");
    if (col == COL_RATE)
        return g_strdup_printf("%.1f", d->c.rate_10s);
    return d->c.lag_ms < 1000 ? g_strdup_printf("%" PRId64 " ms", d->c.lag_ms)
                              : g_strdup_printf("%.1f s", (double)d->c.lag_ms / 1000.0);
}

static char *device_cell(gpointer item, guint col)
{
    const ps_gui_device *d = &PS_GUI_DEVICE_ROW(item)->d;
    const ps_device_counters *c = &d->c;
    switch (col) {
    case COL_DEVICE:
        return g_strdup_printf("%lld %s", d->id, d->name);
    case COL_STATE:
        return g_strdup(state_text(d));
    case COL_RATE:
    case COL_LAG:
        return live_only(d, col);
    case COL_TOTAL:
        return d->has_counters ? g_strdup_printf("%" PRIu64, c->events_total) : g_strdup("0");
    case COL_LAST:
        return ps_gui_local_time(d->has_counters ? c->last_event_ts_us : 0);
    case COL_RECONNECTS:
        return g_strdup_printf("%" PRIu64, c->reconnects);
    case COL_EMPTY:
        return g_strdup_printf("%" PRIu64, c->empty_frames);
    case COL_DUPLICATES:
        return g_strdup_printf("%" PRIu64, c->duplicates);
    case COL_QUARANTINED:
        return g_strdup_printf("%" PRIu64, c->quarantined);
    case COL_ERROR:
        return g_strdup(c->last_error);
    default:
        return NULL;
    }
}

/* ---- the rate graph ------------------------------------------------------------------ */

/* The samples right-aligned (newest at the right edge), scaled to the highest. */
static void draw_spark(GtkDrawingArea *a, cairo_t *cr, int width, int height, gpointer data)
{
    const PsGuiDeviceRow *r = data;
    GdkRGBA fg;
    float max = 0;
    double step = (double)width / (PS_GUI_RATE_SAMPLES - 1);
    gtk_style_context_get_color(gtk_widget_get_style_context(GTK_WIDGET(a)), &fg);
    for (size_t i = 0; i < r->nspark; i++)
        max = r->spark[i] > max ? r->spark[i] : max;
    cairo_set_source_rgba(cr, fg.red, fg.green, fg.blue, max > 0 ? 0.9 : 0.3);
    cairo_set_line_width(cr, 1.5);
    for (size_t i = 0; i < r->nspark; i++) {
        double x = width - (double)(r->nspark - 1 - i) * step;
        double y = height - 1.5 - (max > 0 ? (height - 3.0) * r->spark[i] / max : 0);
        if (i == 0)
            cairo_move_to(cr, x, y);
        else
            cairo_line_to(cr, x, y);
    }
    cairo_stroke(cr);
}

static void spark_setup(GtkSignalListItemFactory *f, GtkListItem *li, gpointer data)
{
    GtkWidget *a = gtk_drawing_area_new();
    (void)f;
    (void)data;
    gtk_drawing_area_set_content_width(GTK_DRAWING_AREA(a), 120);
    gtk_drawing_area_set_content_height(GTK_DRAWING_AREA(a), 20);
    gtk_widget_set_valign(a, GTK_ALIGN_CENTER);
    gtk_list_item_set_child(li, a);
}

static void spark_bind(GtkSignalListItemFactory *f, GtkListItem *li, gpointer data)
{
    PsGuiDeviceRow *r = gtk_list_item_get_item(li);
    GtkWidget *a = gtk_list_item_get_child(li);
    float max = 0;
    char *label;
    (void)f;
    (void)data;
    for (size_t i = 0; i < r->nspark; i++)
        max = r->spark[i] > max ? r->spark[i] : max;
    label = g_strdup_printf("events per second over the last %d minutes: highest %.1f",
                            PS_GUI_RATE_SAMPLES / 60, max);
    gtk_accessible_update_property(GTK_ACCESSIBLE(a), GTK_ACCESSIBLE_PROPERTY_LABEL, label, -1);
    gtk_widget_set_tooltip_text(a, label);
    gtk_drawing_area_set_draw_func(GTK_DRAWING_AREA(a), draw_spark, g_object_ref(r),
                                   g_object_unref);
    g_free(label);
}

static void add_spark_column(PsGuiWindow *w)
{
    GtkListItemFactory *f = gtk_signal_list_item_factory_new();
    GtkColumnViewColumn *col;
    g_signal_connect(f, "setup", G_CALLBACK(spark_setup), NULL);
    g_signal_connect(f, "bind", G_CALLBACK(spark_bind), NULL);
    col = gtk_column_view_column_new("Last 5 min", f);
    gtk_column_view_append_column(w->devices_view, col);
    g_object_unref(col);
}

/* ---- the hourly chart ------------------------------------------------------------------ */

#define HOUR_ROW     26
#define HOUR_LABEL_W 200
#define HOUR_TOTAL_W 90

/* One row of 24 bars for one device, scaled to its own busiest hour; an hour with
 * nothing stored is a faint stub, so a gap in the day stands out. */
static void draw_hours(GtkWidget *wd, cairo_t *cr, const ps_gui_device *d, double y, int width)
{
    GdkRGBA fg;
    uint64_t max = 0, total = 0;
    double x0 = HOUR_LABEL_W, span = width - HOUR_LABEL_W - HOUR_TOTAL_W;
    double bw = span / PS_GUI_HOURS;
    char *text = g_strdup_printf("%lld %s", d->id, d->name);
    PangoLayout *l = gtk_widget_create_pango_layout(wd, text);
    gtk_style_context_get_color(gtk_widget_get_style_context(wd), &fg);
    for (int h = 0; h < PS_GUI_HOURS; h++) {
        max = d->hourly[h] > max ? d->hourly[h] : max;
        total += d->hourly[h];
    }
    gdk_cairo_set_source_rgba(cr, &fg);
    pango_layout_set_width(l, (HOUR_LABEL_W - 8) * PANGO_SCALE);
    pango_layout_set_ellipsize(l, PANGO_ELLIPSIZE_END);
    cairo_move_to(cr, 0, y + 4);
    pango_cairo_show_layout(cr, l);
    g_free(text);
    text = g_strdup_printf("%" PRIu64, total);
    pango_layout_set_text(l, text, -1);
    cairo_move_to(cr, x0 + span + 8, y + 4);
    pango_cairo_show_layout(cr, l);
    for (int h = 0; h < PS_GUI_HOURS; h++) {
        double bh = max ? (HOUR_ROW - 6) * (double)d->hourly[h] / (double)max : 0;
        cairo_set_source_rgba(cr, fg.red, fg.green, fg.blue, d->hourly[h] ? 0.75 : 0.2);
        bh = bh < 2 ? 2 : bh;
        cairo_rectangle(cr, x0 + h * bw + 1, y + HOUR_ROW - 2 - bh, bw - 2, bh);
        cairo_fill(cr);
    }
    g_object_unref(l);
    g_free(text);
}

static void draw_hourly(GtkDrawingArea *a, cairo_t *cr, int width, int height, gpointer data)
{
    GListModel *m = G_LIST_MODEL(data);
    (void)height;
    for (guint i = 0; i < g_list_model_get_n_items(m); i++) {
        PsGuiDeviceRow *r = g_list_model_get_item(m, i);
        draw_hours(GTK_WIDGET(a), cr, &r->d, (double)i * HOUR_ROW, width);
        g_object_unref(r);
    }
}

/* Sized to the devices, redrawn, and said in words for screen readers. */
static void update_hourly(PsGuiWindow *w, const ps_gui_snapshot *s)
{
    GString *said = g_string_new("Events stored per hour, the last 24 hours:");
    for (size_t i = 0; i < s->n; i++) {
        uint64_t total = 0;
        int empty = 0;
        for (int h = 0; h < PS_GUI_HOURS; h++) {
            total += s->v[i].hourly[h];
            empty += s->v[i].hourly[h] == 0;
        }
        g_string_append_printf(said, " %lld %s: %" PRIu64 " events, %d hours with none;",
                               s->v[i].id, s->v[i].name, total, empty);
    }
    gtk_accessible_update_property(GTK_ACCESSIBLE(w->hourly_chart), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                   said->str, -1);
    gtk_drawing_area_set_content_height(w->hourly_chart, (int)(s->n ? s->n : 1) * HOUR_ROW);
    gtk_widget_queue_draw(GTK_WIDGET(w->hourly_chart));
    g_string_free(said, TRUE);
}

/* ---- whether the service took the last save ------------------------------------------ */

/* A status line under `status` (the editor's or the Token page's), said by screen
 * readers when it changes. */
static GtkWidget *add_reload_note(GtkWidget *status)
{
    GtkWidget *l = g_object_new(GTK_TYPE_LABEL, "accessible-role", GTK_ACCESSIBLE_ROLE_STATUS,
                                "xalign", 0.0f, "wrap", TRUE, NULL);
    gtk_widget_set_visible(l, FALSE);
    gtk_widget_insert_after(l, gtk_widget_get_parent(status), status);
    return l;
}

static void show_reload(PsGuiWindow *w)
{
    static const char *const classes[] = {"success", "error", "warning", "dim-label"};
    const char *cls = w->reload.state == PS_GUI_RELOAD_ACCEPTED   ? "success"
                      : w->reload.state == PS_GUI_RELOAD_REJECTED ? "error"
                      : w->reload.state == PS_GUI_RELOAD_WAITING  ? "dim-label"
                                                                  : "warning";
    char text[1024];
    ps_gui_reload_text(&w->reload, false, text, sizeof text);
    for (size_t i = 0; i < G_N_ELEMENTS(w->reload_note); i++) {
        GtkWidget *l = w->reload_note[i];
        if (!l)
            continue;
        for (size_t k = 0; k < G_N_ELEMENTS(classes); k++)
            gtk_widget_remove_css_class(l, classes[k]);
        gtk_widget_add_css_class(l, cls);
        gtk_label_set_text(GTK_LABEL(l), text);
        gtk_widget_set_visible(l, text[0] != '\0');
    }
}

void ps_gui_devices_page_saved(PsGuiWindow *w)
{
    ps_gui_reload_watch_saved(&w->reload, ps_plat_now_us());
    show_reload(w);
    ps_gui_devices_page_refresh(w); /* a stopped service is said at once */
}

void ps_gui_devices_page_init(PsGuiWindow *w)
{
    static const char *const titles[] = {"Device",     "State",       "Events/s",   "Total",
                                         "Last event", "Lag",         "Reconnects", "Empty frames",
                                         "Duplicates", "Quarantined", "Last error"};
    GtkNoSelection *sel;
    w->device_rows = g_list_store_new(PS_GUI_TYPE_DEVICE_ROW);
    sel = gtk_no_selection_new(G_LIST_MODEL(g_object_ref(w->device_rows)));
    gtk_column_view_set_model(w->devices_view, GTK_SELECTION_MODEL(sel));
    g_object_unref(sel);
    for (guint i = 0; i < G_N_ELEMENTS(titles); i++) {
        ps_gui_add_column(w->devices_view, titles[i], i, device_cell,
                          i == COL_DEVICE || i == COL_ERROR, i == COL_LAST ? 19 : -1);
        if (i == COL_RATE)
            add_spark_column(w);
    }
    gtk_drawing_area_set_draw_func(w->hourly_chart, draw_hourly, g_object_ref(w->device_rows),
                                   g_object_unref);
    if (ps_gui_rates_create(&w->rates) != PS_OK)
        w->rates = NULL; /* no graph, the rest works */
    ps_gui_outputs_view_init(w);
    ps_gui_reload_watch_init(&w->reload);
    w->reload_note[0] = add_reload_note(GTK_WIDGET(w->editor_status));
    w->reload_note[1] = add_reload_note(GTK_WIDGET(w->token_status));
    ps_gui_devices_page_refresh(w);
}

gboolean ps_gui_devices_page_find(PsGuiWindow *w, const char *name, long long *id)
{
    GListModel *m = G_LIST_MODEL(w->device_rows);
    gboolean found = FALSE;
    for (guint i = 0; !found && i < g_list_model_get_n_items(m); i++) {
        PsGuiDeviceRow *r = g_list_model_get_item(m, i);
        if (strcmp(r->d.name, name) == 0) {
            *id = r->d.id;
            found = TRUE;
        }
        g_object_unref(r);
    }
    return found;
}

/* ---- the refresh -------------------------------------------------------------------- */

typedef struct refresh_job {
    char *config_dir, *db_path;
    ps_gui_devices *devices; /* the window's, or made here on the first refresh */
    gboolean created;
    ps_gui_snapshot *snap;
    ps_errmsg em;
} refresh_job;

static void refresh_job_free(gpointer p)
{
    refresh_job *j = p;
    if (j->created)
        ps_gui_devices_destroy(j->devices); /* not handed over (window gone) */
    ps_gui_snapshot_destroy(j->snap);
    g_free(j->config_dir);
    g_free(j->db_path);
    g_free(j);
}

static void refresh_thread(GTask *task, gpointer src, gpointer data, GCancellable *cancel)
{
    refresh_job *j = data;
    (void)src;
    (void)cancel;
    if (!j->devices) {
        if (ps_gui_devices_create(j->config_dir, j->db_path, &j->devices, &j->em) != PS_OK) {
            g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_FAILED, "%s", j->em.text);
            return;
        }
        j->created = TRUE;
    }
    if (ps_gui_devices_refresh(j->devices, ps_plat_now_us(), &j->snap, &j->em) != PS_OK) {
        g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_FAILED, "%s", j->em.text);
        return;
    }
    g_task_return_boolean(task, TRUE);
}

static void show_config_problems(PsGuiWindow *w)
{
    const ps_diag *d = ps_gui_devices_diag(w->devices);
    char *text;
    if (d->errors == 0) {
        gtk_widget_set_visible(w->config_problems, FALSE);
        return;
    }
    text = g_strdup_printf("The configuration in %s has %zu error%s: the devices shown are "
                           "those that loaded. Run 'podstream validate -c %s' for every detail.",
                           w->config_dir, d->errors, d->errors == 1 ? "" : "s", w->config_dir);
    gtk_label_set_text(GTK_LABEL(w->config_problems), text);
    gtk_widget_set_visible(w->config_problems, TRUE);
    g_free(text);
}

/* The notice above the list: nothing while the service runs. */
static void show_service(PsGuiWindow *w, const ps_gui_snapshot *s)
{
    char *text = NULL, *when;
    int64_t newest = 0;
    gboolean nodb = s->service == PS_GUI_SERVICE_NO_DATABASE;
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].has_counters && s->v[i].c.updated_us > newest)
            newest = s->v[i].c.updated_us;
    when = ps_gui_local_time(newest);
    if (nodb)
        text =
            g_strdup_printf("%s\n%s\nThe service creates it when it first starts.",
                            ps_gui_devices_db_path(w->devices) ? ps_gui_devices_db_path(w->devices)
                                                               : "(no database configured)",
                            s->error);
    else if (s->service == PS_GUI_SERVICE_STOPPED && newest)
        text = g_strdup_printf("The podstream service is not running: it last wrote its counts "
                               "at %s. Totals are what it stored; rates and lag are not shown.",
                               when);
    else if (s->service == PS_GUI_SERVICE_STOPPED)
        text = g_strdup("The podstream service is not running: it has not written any counts "
                        "to this database yet.");
    if (nodb)
        adw_status_page_set_description(ADW_STATUS_PAGE(w->no_database), text);
    else if (text)
        gtk_label_set_text(GTK_LABEL(w->banner_label), text);
    gtk_widget_set_visible(w->no_database, nodb);
    gtk_widget_set_visible(w->banner, !nodb && text != NULL);
    g_free(text);
    g_free(when);
}

static void refresh_done(GObject *src, GAsyncResult *res, gpointer data)
{
    PsGuiWindow *w = PS_GUI_WINDOW(src);
    refresh_job *j = g_task_get_task_data(G_TASK(res));
    GError *error = NULL;
    GPtrArray *rows;
    (void)data;
    w->devices_busy = FALSE;
    if (j->created) {
        w->devices = j->devices;
        j->created = FALSE;
        show_config_problems(w);
    }
    if (!g_task_propagate_boolean(G_TASK(res), &error)) {
        gtk_label_set_text(GTK_LABEL(w->banner_label), error->message);
        gtk_widget_set_visible(w->banner, TRUE);
        g_error_free(error);
        w->shown_once = TRUE;
        return;
    }
    show_service(w, j->snap);
    if (ps_gui_reload_watch_update(&w->reload, j->snap->service, &j->snap->reload,
                                   j->snap->taken_us))
        show_reload(w);
    if (w->rates)
        ps_gui_rates_add(w->rates, j->snap);
    rows = g_ptr_array_new_with_free_func(g_object_unref);
    for (size_t i = 0; i < j->snap->n; i++) {
        PsGuiDeviceRow *r = g_object_new(PS_GUI_TYPE_DEVICE_ROW, NULL);
        r->d = j->snap->v[i];
        if (w->rates)
            r->nspark = ps_gui_rates_get(w->rates, r->d.id, r->spark, PS_GUI_RATE_SAMPLES);
        g_ptr_array_add(rows, r);
    }
    g_list_store_splice(w->device_rows, 0, g_list_model_get_n_items(G_LIST_MODEL(w->device_rows)),
                        rows->pdata, rows->len);
    g_ptr_array_unref(rows);
    update_hourly(w, j->snap);
    ps_gui_outputs_view_update(w, j->snap);
    w->shown_once = TRUE;
}

void ps_gui_devices_page_refresh(PsGuiWindow *w)
{
    refresh_job *j;
    GTask *task;
    if (w->devices_busy)
        return; /* a slow disk: skip a beat rather than queue reads */
    j = g_new0(refresh_job, 1);
    j->devices = w->devices;
    if (!j->devices) {
        j->config_dir = g_strdup(w->config_dir);
        j->db_path = g_strdup(w->db_path);
    }
    w->devices_busy = TRUE;
    task = g_task_new(w, NULL, refresh_done, NULL);
    g_task_set_task_data(task, j, refresh_job_free);
    g_task_run_in_thread(task, refresh_thread);
    g_object_unref(task);
}
