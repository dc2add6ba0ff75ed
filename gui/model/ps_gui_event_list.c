/* The lazy GListModel of events over ps_gui_events_page, read on GTask workers. */
#include "ps_gui_event_list.h"

#include <stdlib.h>

#include "podstream/ps_platform.h"

/* ---- the item ---------------------------------------------------------------- */

struct _PsGuiEventItem {
    GObject parent;
    ps_gui_event ev;
};

G_DEFINE_FINAL_TYPE(PsGuiEventItem, ps_gui_event_item, G_TYPE_OBJECT)

static void ps_gui_event_item_finalize(GObject *o)
{
    ps_gui_event_deinit(&PS_GUI_EVENT_ITEM(o)->ev);
    G_OBJECT_CLASS(ps_gui_event_item_parent_class)->finalize(o);
}

static void ps_gui_event_item_class_init(PsGuiEventItemClass *k)
{
    G_OBJECT_CLASS(k)->finalize = ps_gui_event_item_finalize;
}

static void ps_gui_event_item_init(PsGuiEventItem *i)
{
    (void)i;
}

const ps_gui_event *ps_gui_event_item_get(PsGuiEventItem *item)
{
    return &item->ev;
}

/* ---- state shared with the workers ------------------------------------------------ */

/* The reader connection: workers of every query take turns on it. */
typedef struct shared {
    GMutex lock;
    char *db_path;
    ps_store *st;
} shared;

static void shared_clear(gpointer p)
{
    shared *s = p;
    ps_store_destroy(s->st);
    g_free(s->db_path);
    g_mutex_clear(&s->lock);
}

/* One query: its filter, the ps_query borrowing from it, and where the next page
 * starts. A new filter makes a new one; a worker of the old one finishes harmlessly. */
typedef struct qstate {
    ps_gui_filter f;
    ps_query q;
    int64_t now_us; /* what relative times ("2h") were counted from */
    ps_gui_cursor cur;
} qstate;

static void qstate_clear(gpointer p)
{
    qstate *s = p;
    ps_gui_cursor_deinit(&s->cur);
    ps_gui_filter_deinit(&s->f);
}

struct _PsGuiEventList {
    GObject parent;
    GPtrArray *items;
    shared *sh; /* rc box */
    qstate *qs; /* rc box, NULL before the first filter */
    guint page;
    gboolean loading, done;
    /* items[0..replace) are the previous result's, still shown until the first page
     * of the new one takes their place (and their objects: see take_first_page) */
    guint replace;
    guint idle;
    char *error;
};

enum { PROP_0, PROP_LOADING, N_PROPS };
static GParamSpec *props[N_PROPS];

static GType list_item_type(GListModel *m)
{
    (void)m;
    return PS_GUI_TYPE_EVENT_ITEM;
}

static guint list_n_items(GListModel *m)
{
    return PS_GUI_EVENT_LIST(m)->items->len;
}

static gboolean load_more_idle(gpointer data)
{
    PsGuiEventList *l = data;
    l->idle = 0;
    ps_gui_event_list_load_more(l);
    return G_SOURCE_REMOVE;
}

static gpointer list_get_item(GListModel *m, guint pos)
{
    PsGuiEventList *l = PS_GUI_EVENT_LIST(m);
    if (pos >= l->items->len)
        return NULL;
    /* The view reached the last half page: read the next one. Not from here, where
     * items-changed would run inside the view's own walk over the items. */
    if (!l->done && !l->loading && !l->idle && pos + l->page / 2 >= l->items->len)
        l->idle = g_idle_add(load_more_idle, l);
    return g_object_ref(g_ptr_array_index(l->items, pos));
}

static void list_model_init(GListModelInterface *iface)
{
    iface->get_item_type = list_item_type;
    iface->get_n_items = list_n_items;
    iface->get_item = list_get_item;
}

G_DEFINE_FINAL_TYPE_WITH_CODE(PsGuiEventList, ps_gui_event_list, G_TYPE_OBJECT,
                              G_IMPLEMENT_INTERFACE(G_TYPE_LIST_MODEL, list_model_init))

static void list_get_property(GObject *o, guint id, GValue *v, GParamSpec *ps)
{
    if (id == PROP_LOADING)
        g_value_set_boolean(v, PS_GUI_EVENT_LIST(o)->loading);
    else
        G_OBJECT_WARN_INVALID_PROPERTY_ID(o, id, ps);
}

static void list_dispose(GObject *o)
{
    PsGuiEventList *l = PS_GUI_EVENT_LIST(o);
    if (l->idle)
        g_source_remove(l->idle);
    l->idle = 0;
    G_OBJECT_CLASS(ps_gui_event_list_parent_class)->dispose(o);
}

static void list_finalize(GObject *o)
{
    PsGuiEventList *l = PS_GUI_EVENT_LIST(o);
    g_ptr_array_unref(l->items);
    if (l->qs)
        g_rc_box_release_full(l->qs, qstate_clear);
    g_rc_box_release_full(l->sh, shared_clear);
    g_free(l->error);
    G_OBJECT_CLASS(ps_gui_event_list_parent_class)->finalize(o);
}

static void ps_gui_event_list_class_init(PsGuiEventListClass *k)
{
    GObjectClass *oc = G_OBJECT_CLASS(k);
    oc->get_property = list_get_property;
    oc->dispose = list_dispose;
    oc->finalize = list_finalize;
    props[PROP_LOADING] = g_param_spec_boolean("loading", NULL, NULL, FALSE,
                                               G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
    g_object_class_install_properties(oc, N_PROPS, props);
}

static void ps_gui_event_list_init(PsGuiEventList *l)
{
    l->items = g_ptr_array_new_with_free_func(g_object_unref);
    l->done = TRUE;
}

PsGuiEventList *ps_gui_event_list_new(const char *db_path, guint page)
{
    PsGuiEventList *l = g_object_new(PS_GUI_TYPE_EVENT_LIST, NULL);
    l->sh = g_rc_box_new0(shared);
    g_mutex_init(&l->sh->lock);
    l->sh->db_path = g_strdup(db_path);
    l->page = page ? page : 200;
    return l;
}

static void set_loading(PsGuiEventList *l, gboolean on)
{
    if (l->loading == on)
        return;
    l->loading = on;
    g_object_notify_by_pspec(G_OBJECT(l), props[PROP_LOADING]);
}

gboolean ps_gui_event_list_set_filter(PsGuiEventList *l, const ps_gui_filter *f, ps_errmsg *em)
{
    qstate *qs = g_rc_box_new0(qstate);
    guint old = l->items->len;
    gboolean ok = FALSE;
    ps_gui_filter_init(&qs->f);
    ps_gui_cursor_init(&qs->cur);
    if (l->qs)
        g_rc_box_release_full(l->qs, qstate_clear);
    l->qs = NULL;
    g_clear_pointer(&l->error, g_free);
    l->done = TRUE;
    set_loading(l, FALSE); /* a worker of the old query may still run: its result is dropped */
    if (ps_gui_filter_copy(&qs->f, f) != PS_OK) {
        ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
        g_rc_box_release_full(qs, qstate_clear);
    } else if (ps_gui_filter_query(&qs->f, qs->now_us = ps_plat_now_us(), &qs->q, em) != PS_OK) {
        g_rc_box_release_full(qs, qstate_clear);
    } else {
        l->qs = qs;
        l->done = FALSE;
        ok = TRUE;
    }
    /* Accepted: the rows stay until the first page replaces them in one change, so
     * the view keeps its row widgets and rebinds them (no empty frame between). */
    l->replace = ok ? old : 0;
    if (!ok) {
        g_ptr_array_set_size(l->items, 0);
        if (old)
            g_list_model_items_changed(G_LIST_MODEL(l), 0, old, 0);
    }
    if (ok)
        ps_gui_event_list_load_more(l);
    return ok;
}

/* ---- the workers ------------------------------------------------------------------ */

typedef struct page_job {
    shared *sh; /* references held for the worker */
    qstate *qs;
    guint n;
    gint64 id; /* the pretty job's event */
    ps_gui_event *rows;
    size_t count;
} page_job;

static void page_job_free(gpointer p)
{
    page_job *j = p;
    for (size_t i = 0; i < j->count; i++)
        ps_gui_event_deinit(&j->rows[i]);
    free(j->rows);
    if (j->qs)
        g_rc_box_release_full(j->qs, qstate_clear);
    g_rc_box_release_full(j->sh, shared_clear);
    g_free(j);
}

/* Opens the reader on first use and after a failure; with sh->lock held. */
static ps_err open_reader(shared *sh, ps_errmsg *em)
{
    if (sh->st)
        return PS_OK;
    if (!sh->db_path)
        return ps_errmsg_set(em, PS_ERR_NOTFOUND, "no database is configured");
    return ps_store_create(sh->db_path, PS_STORE_READER, &sh->st, em);
}

static void fail_task(GTask *task, ps_err err, const ps_errmsg *em)
{
    g_task_return_new_error(task, G_IO_ERROR,
                            err == PS_ERR_NOTFOUND ? G_IO_ERROR_NOT_FOUND : G_IO_ERROR_FAILED, "%s",
                            em->text);
}

static void page_thread(GTask *task, gpointer src, gpointer data, GCancellable *cancel)
{
    page_job *j = data;
    ps_errmsg em;
    ps_err err;
    (void)src;
    (void)cancel;
    g_mutex_lock(&j->sh->lock);
    err = open_reader(j->sh, &em);
    if (err == PS_OK)
        err = ps_gui_events_page(j->sh->st, &j->qs->q, &j->qs->cur, j->n, &j->rows, &j->count, &em);
    if (err != PS_OK && err != PS_ERR_INVALID) {
        ps_store_destroy(j->sh->st); /* replaced or damaged: reopen next time */
        j->sh->st = NULL;
    }
    g_mutex_unlock(&j->sh->lock);
    if (err != PS_OK)
        fail_task(task, err, &em);
    else
        g_task_return_boolean(task, TRUE);
}

/* The page's rows into the list from position `at` on: into the item objects that
 * are there (the previous result's, whose widgets GtkColumnView then reuses, since it
 * recycles a row's widgets for the same object), then into new ones. */
static void take_rows(PsGuiEventList *l, guint at, page_job *j)
{
    for (size_t i = 0; i < j->count; i++) {
        PsGuiEventItem *it;
        if (at + i < l->items->len) {
            it = g_ptr_array_index(l->items, at + i);
            ps_gui_event_deinit(&it->ev);
        } else {
            it = g_object_new(PS_GUI_TYPE_EVENT_ITEM, NULL);
            g_ptr_array_add(l->items, it);
        }
        it->ev = j->rows[i]; /* the item takes the strings */
    }
    j->count = 0;
}

static void page_done(GObject *src, GAsyncResult *res, gpointer data)
{
    PsGuiEventList *l = PS_GUI_EVENT_LIST(src);
    page_job *j = g_task_get_task_data(G_TASK(res));
    GError *error = NULL;
    guint removed = l->replace, at = removed ? 0 : l->items->len, added;
    gboolean ok;
    (void)data;
    if (j->qs != l->qs)
        return; /* the filter changed meanwhile */
    l->replace = 0;
    ok = g_task_propagate_boolean(G_TASK(res), &error);
    if (!ok) {
        g_free(l->error);
        l->error = g_strdup(error->message);
        l->done = TRUE;
        g_error_free(error);
    } else {
        l->done = j->qs->cur.done;
        added = (guint)j->count;
        take_rows(l, at, j);
        if (added < removed) /* a shorter result: what the previous one had beyond it */
            g_ptr_array_remove_range(l->items, added, removed - added);
    }
    if (!ok && removed)
        g_ptr_array_set_size(l->items, 0); /* the first page failed: nothing to show */
    set_loading(l, FALSE);
    added = l->items->len - at;
    if (removed || added)
        g_list_model_items_changed(G_LIST_MODEL(l), at, removed, added);
}

void ps_gui_event_list_load_more(PsGuiEventList *l)
{
    GTask *task;
    page_job *j;
    if (l->loading || l->done || !l->qs)
        return;
    j = g_new0(page_job, 1);
    j->sh = g_rc_box_acquire(l->sh);
    j->qs = g_rc_box_acquire(l->qs);
    j->n = l->page;
    set_loading(l, TRUE);
    task = g_task_new(l, NULL, page_done, NULL);
    g_task_set_task_data(task, j, page_job_free);
    g_task_run_in_thread(task, page_thread);
    g_object_unref(task);
}

gboolean ps_gui_event_list_current(PsGuiEventList *l, ps_gui_filter *f, int64_t *now_us)
{
    if (!l->qs || ps_gui_filter_copy(f, &l->qs->f) != PS_OK)
        return FALSE;
    *now_us = l->qs->now_us;
    return TRUE;
}

gboolean ps_gui_event_list_is_loading(PsGuiEventList *l)
{
    return l->loading;
}

gboolean ps_gui_event_list_is_searching(PsGuiEventList *l)
{
    return l->replace > 0;
}

gboolean ps_gui_event_list_is_done(PsGuiEventList *l)
{
    return l->done;
}

const char *ps_gui_event_list_error(PsGuiEventList *l)
{
    return l->error;
}

static void pretty_thread(GTask *task, gpointer src, gpointer data, GCancellable *cancel)
{
    page_job *j = data;
    char *text = NULL;
    ps_errmsg em;
    ps_err err;
    (void)src;
    (void)cancel;
    g_mutex_lock(&j->sh->lock);
    err = open_reader(j->sh, &em);
    if (err == PS_OK)
        err = ps_gui_events_pretty(j->sh->st, j->id, &text, &em);
    g_mutex_unlock(&j->sh->lock);
    if (err != PS_OK) {
        fail_task(task, err, &em);
        return;
    }
    g_task_return_pointer(task, g_strdup(text), g_free);
    free(text);
}

void ps_gui_event_list_pretty_async(PsGuiEventList *l, gint64 id, GCancellable *cancel,
                                    GAsyncReadyCallback cb, gpointer data)
{
    GTask *task = g_task_new(l, cancel, cb, data);
    page_job *j = g_new0(page_job, 1);
    j->sh = g_rc_box_acquire(l->sh);
    j->id = id;
    g_task_set_task_data(task, j, page_job_free);
    g_task_run_in_thread(task, pretty_thread);
    g_object_unref(task);
}

char *ps_gui_event_list_pretty_finish(PsGuiEventList *l, GAsyncResult *res, GError **error)
{
    g_return_val_if_fail(g_task_is_valid(res, l), NULL);
    return g_task_propagate_pointer(G_TASK(res), error);
}
