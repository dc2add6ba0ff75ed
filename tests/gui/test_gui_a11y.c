/* podstream-gui is usable by everyone (run_under_xvfb.sh, 1366x768): on every page
 * (and in the pipeline picker's popover) each control a keyboard or a screen reader
 * reaches has an accessible name (the LABEL property or a labelled-by relation, as
 * gtk_test_accessible_* reads them); Tab reaches every control of the Devices page
 * and comes back round; the window's default and smallest sizes fit 1366x768 on
 * every page; no two mnemonics of a page share a key; a problem Check finds is the
 * field's accessible description (and state invalid); and light and dark follow the
 * desktop (AdwStyleManager's default scheme, never forced). The app runs on the
 * fixture configuration, which it only reads. */
#include <gtk/gtk.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gui_fixture.h"
#include "ps_gui_app.h"

#define STEP_TIMEOUT_S 20
#define SKIP           77

typedef struct run {
    AdwApplication *app;
    char *dir, *db;
    int step, failed;
    gint64 step_started;
} run;

static const char *const pages[] = {"devices", "events", "trace", "editor", "token"};

/* The controls the brief names: what a keyboard or a screen reader acts on. */
static gboolean is_control(GtkWidget *wd)
{
    return GTK_IS_BUTTON(wd) || GTK_IS_ENTRY(wd) || GTK_IS_PASSWORD_ENTRY(wd) || GTK_IS_TEXT(wd) ||
           GTK_IS_SWITCH(wd) || GTK_IS_CHECK_BUTTON(wd) || GTK_IS_DROP_DOWN(wd) ||
           GTK_IS_SPIN_BUTTON(wd) || GTK_IS_MENU_BUTTON(wd);
}

/* A label with text among `wd` and its descendants that the control's labelled-by
 * relation names (exactly: gtk_test_accessible_check_relation). */
static gboolean labelled_by(GtkAccessible *a, GtkWidget *wd)
{
    char *diff;
    if (GTK_IS_LABEL(wd) && *gtk_label_get_text(GTK_LABEL(wd))) {
        diff = gtk_test_accessible_check_relation(a, GTK_ACCESSIBLE_RELATION_LABELLED_BY, wd, NULL);
        g_free(diff);
        if (!diff)
            return TRUE;
    }
    for (GtkWidget *c = gtk_widget_get_first_child(wd); c; c = gtk_widget_get_next_sibling(c))
        if (labelled_by(a, c))
            return TRUE;
    return FALSE;
}

/* An accessible name: a LABEL that is not empty, or a labelled-by relation to a
 * label with text (its mnemonic label, or the label inside a button). A button's
 * relation to its icon is no name. */
static gboolean named(GtkWidget *wd)
{
    GtkAccessible *a = GTK_ACCESSIBLE(wd);
    GList *mnemonic = gtk_widget_list_mnemonic_labels(wd);
    gboolean ok = FALSE;
    char *diff;
    if (gtk_test_accessible_has_property(a, GTK_ACCESSIBLE_PROPERTY_LABEL)) {
        /* NULL when the label equals "": no name. */
        diff = gtk_test_accessible_check_property(a, GTK_ACCESSIBLE_PROPERTY_LABEL, "");
        ok = diff != NULL;
        g_free(diff);
    }
    if (!ok && gtk_test_accessible_has_relation(a, GTK_ACCESSIBLE_RELATION_LABELLED_BY)) {
        ok = labelled_by(a, wd);
        for (GList *l = mnemonic; l && !ok; l = l->next)
            ok = labelled_by(a, l->data);
    }
    g_list_free(mnemonic);
    return ok;
}

/* Appends every mapped control under `wd` without an accessible name to `bad`, and
 * every mapped control to `controls` (may be NULL). A control's own
 * parts (an entry's text, a drop-down's button) are its, not controls of their own;
 * list and column view rows are named by their cells. */
static void walk(GtkWidget *wd, GString *bad, GPtrArray *controls)
{
    if (!gtk_widget_get_mapped(wd) || GTK_IS_LIST_VIEW(wd) || GTK_IS_COLUMN_VIEW(wd))
        return;
    if (is_control(wd)) {
        if (!named(wd))
            g_string_append_printf(bad, "  %s%s%s\n", G_OBJECT_TYPE_NAME(wd),
                                   gtk_widget_get_tooltip_text(wd) ? " tooltip: " : "",
                                   gtk_widget_get_tooltip_text(wd) ? gtk_widget_get_tooltip_text(wd)
                                                                   : "");
        if (controls)
            g_ptr_array_add(controls, wd);
        if (!GTK_IS_MENU_BUTTON(wd))
            return;
    }
    for (GtkWidget *c = gtk_widget_get_first_child(wd); c; c = gtk_widget_get_next_sibling(c))
        walk(c, bad, controls);
}

/* The check itself tells a control without a name from one with. */
static void check_the_check(run *r)
{
    GtkWidget *box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 0);
    GtkWidget *bare = gtk_button_new_from_icon_name("go-up-symbolic"), *entry = gtk_entry_new();
    GtkWidget *l = gtk_label_new_with_mnemonic("_Name"), *b = gtk_button_new_with_mnemonic("_Go");
    g_object_ref_sink(box);
    gtk_box_append(GTK_BOX(box), bare);
    gtk_box_append(GTK_BOX(box), l);
    gtk_box_append(GTK_BOX(box), entry);
    gtk_box_append(GTK_BOX(box), b);
    if (named(bare) || named(entry)) {
        fprintf(stderr, "FAIL: the check takes an unnamed button or entry for named\n");
        r->failed = 1;
    }
    gtk_label_set_mnemonic_widget(GTK_LABEL(l), entry);
    printf("the check: a mnemonic label names its entry: %s; a labelled button is named: %s\n",
           named(entry) ? "yes" : "no", named(b) ? "yes" : "no");
    g_object_unref(box);
}

static void expect_named(run *r, GtkWidget *root, const char *where)
{
    GString *bad = g_string_new(NULL);
    GPtrArray *controls = g_ptr_array_new();
    walk(root, bad, controls);
    if (bad->len) {
        fprintf(stderr, "FAIL: controls without an accessible name on %s:\n%s", where, bad->str);
        r->failed = 1;
    } else {
        printf("each of the %u controls on %s has an accessible name\n", controls->len, where);
    }
    g_ptr_array_free(controls, TRUE);
    g_string_free(bad, TRUE);
}

/* The first widget of `type` under `wd` (only mapped ones when `mapped`). */
static GtkWidget *find_type(GtkWidget *wd, GType type, gboolean mapped)
{
    if (mapped && !gtk_widget_get_mapped(wd))
        return NULL;
    if (G_TYPE_CHECK_INSTANCE_TYPE(wd, type))
        return wd;
    for (GtkWidget *c = gtk_widget_get_first_child(wd); c; c = gtk_widget_get_next_sibling(c)) {
        GtkWidget *f = find_type(c, type, mapped);
        if (f)
            return f;
    }
    return NULL;
}

/* Every mapped label's mnemonic key under `wd`, counted in `keys` (keyval to count),
 * the labels' texts in `texts`. */
static void mnemonics(GtkWidget *wd, GHashTable *keys, GHashTable *texts)
{
    guint k;
    if (!gtk_widget_get_mapped(wd))
        return;
    if (GTK_IS_LABEL(wd) &&
        (k = gtk_label_get_mnemonic_keyval(GTK_LABEL(wd))) != GDK_KEY_VoidSymbol) {
        gpointer key = GUINT_TO_POINTER(gdk_keyval_to_lower(k));
        guint n = GPOINTER_TO_UINT(g_hash_table_lookup(keys, key));
        const char *was = g_hash_table_lookup(texts, key);
        g_hash_table_insert(keys, key, GUINT_TO_POINTER(n + 1));
        g_hash_table_insert(texts, key,
                            g_strdup_printf("%s%s%s", was ? was : "", was ? ", " : "",
                                            gtk_label_get_label(GTK_LABEL(wd))));
    }
    for (GtkWidget *c = gtk_widget_get_first_child(wd); c; c = gtk_widget_get_next_sibling(c))
        mnemonics(c, keys, texts);
}

/* No two mnemonics of the page shown (with the page switcher's) share a key: Alt+key
 * reaches one control, at once. */
static void expect_unique_mnemonics(run *r, PsGuiWindow *w, const char *where)
{
    GHashTable *keys = g_hash_table_new(NULL, NULL);
    GHashTable *texts = g_hash_table_new_full(NULL, NULL, NULL, g_free);
    GHashTableIter it;
    gpointer k, n;
    mnemonics(GTK_WIDGET(w), keys, texts);
    g_hash_table_iter_init(&it, keys);
    while (g_hash_table_iter_next(&it, &k, &n))
        if (GPOINTER_TO_UINT(n) > 1) {
            fprintf(stderr, "FAIL: Alt+%s is the mnemonic of %s on %s\n",
                    gdk_keyval_name(GPOINTER_TO_UINT(k)), (char *)g_hash_table_lookup(texts, k),
                    where);
            r->failed = 1;
        }
    printf("the %u mnemonics on %s are distinct\n", g_hash_table_size(keys), where);
    g_hash_table_destroy(keys);
    g_hash_table_destroy(texts);
}

/* The visible page's root widget. */
static GtkWidget *page_root(PsGuiWindow *w)
{
    GtkWidget *stack = find_type(GTK_WIDGET(w), ADW_TYPE_VIEW_STACK, FALSE);
    return stack ? adw_view_stack_get_visible_child(ADW_VIEW_STACK(stack)) : NULL;
}

/* Tab from the window's start: every control of the Devices page gets the focus, and
 * the focus comes back round to where it began. */
static void tab_order(run *r, PsGuiWindow *w)
{
    GtkWidget *root = page_root(w), *first = NULL;
    GPtrArray *controls = g_ptr_array_new();
    GString *bad = g_string_new(NULL);
    GHashTable *seen = g_hash_table_new(NULL, NULL);
    gboolean round = FALSE;
    walk(GTK_WIDGET(w), bad, controls);
    gtk_window_set_focus(GTK_WINDOW(w), NULL);
    for (int i = 0; i < 200 && !round; i++) {
        GtkWidget *f;
        if (!gtk_widget_child_focus(GTK_WIDGET(w), GTK_DIR_TAB_FORWARD))
            gtk_widget_child_focus(GTK_WIDGET(w), GTK_DIR_TAB_FORWARD); /* wrapped */
        f = gtk_window_get_focus(GTK_WINDOW(w));
        if (getenv("PS_DEBUG"))
            fprintf(stderr, "focus %d: %s %s\n", i, f ? G_OBJECT_TYPE_NAME(f) : "-",
                    f && gtk_widget_get_parent(f) ? G_OBJECT_TYPE_NAME(gtk_widget_get_parent(f))
                                                  : "");
        round = f && f == first;
        if (!first)
            first = f;
        for (GtkWidget *a = f; a; a = gtk_widget_get_parent(a))
            g_hash_table_add(seen, a);
    }
    if (!round) {
        fprintf(stderr, "FAIL: Tab does not come back round on the Devices page\n");
        r->failed = 1;
    }
    if (!root || !g_hash_table_contains(seen, root)) {
        fprintf(stderr, "FAIL: Tab never reaches the Devices page itself\n");
        r->failed = 1;
    }
    for (guint i = 0; i < controls->len; i++)
        /* The window's own minimize and close are the window manager's keys' (Alt+F4). */
        if (gtk_widget_get_sensitive(controls->pdata[i]) &&
            (gtk_widget_get_focusable(controls->pdata[i]) || GTK_IS_EDITABLE(controls->pdata[i])) &&
            !gtk_widget_get_ancestor(controls->pdata[i], GTK_TYPE_WINDOW_CONTROLS) &&
            !g_hash_table_contains(seen, controls->pdata[i])) {
            fprintf(stderr, "FAIL: Tab never reaches %s (in %s) on the Devices page\n",
                    G_OBJECT_TYPE_NAME(controls->pdata[i]),
                    G_OBJECT_TYPE_NAME(gtk_widget_get_parent(controls->pdata[i])));
            r->failed = 1;
        }
    printf("Tab reaches the %u controls of the Devices page and comes back round\n", controls->len);
    g_hash_table_destroy(seen);
    g_string_free(bad, TRUE);
    g_ptr_array_free(controls, TRUE);
}

/* The default size, and the smallest the page can be, within 1366x768. */
static void fits(run *r, PsGuiWindow *w, const char *page)
{
    int dw = 0, dh = 0, mw = 0, mh = 0;
    gtk_window_get_default_size(GTK_WINDOW(w), &dw, &dh);
    gtk_widget_measure(GTK_WIDGET(w), GTK_ORIENTATION_HORIZONTAL, -1, &mw, NULL, NULL, NULL);
    gtk_widget_measure(GTK_WIDGET(w), GTK_ORIENTATION_VERTICAL, mw, &mh, NULL, NULL, NULL);
    if (dw > 1366 || dh > 768 || mw > 1366 || mh > 768 ||
        gtk_widget_get_width(GTK_WIDGET(w)) > 1366 || gtk_widget_get_height(GTK_WIDGET(w)) > 768) {
        fprintf(stderr, "FAIL: %s: default %dx%d, smallest %dx%d, now %dx%d: not within 1366x768\n",
                page, dw, dh, mw, mh, gtk_widget_get_width(GTK_WIDGET(w)),
                gtk_widget_get_height(GTK_WIDGET(w)));
        r->failed = 1;
    }
}

/* Light and dark as the desktop says: the app leaves the scheme at its default. */
static void follows_system(run *r)
{
    AdwStyleManager *sm = adw_style_manager_get_default();
    gboolean prefer_dark = FALSE;
    g_object_get(gtk_settings_get_default(), "gtk-application-prefer-dark-theme", &prefer_dark,
                 NULL);
    if (adw_style_manager_get_color_scheme(sm) != ADW_COLOR_SCHEME_DEFAULT || prefer_dark) {
        fprintf(stderr, "FAIL: the app forces a colour scheme instead of the desktop's\n");
        r->failed = 1;
        return;
    }
    /* And the style manager does switch when the desktop prefers dark. */
    adw_style_manager_set_color_scheme(sm, ADW_COLOR_SCHEME_FORCE_DARK);
    if (!adw_style_manager_get_dark(sm)) {
        fprintf(stderr, "FAIL: the style manager does not go dark\n");
        r->failed = 1;
    }
    adw_style_manager_set_color_scheme(sm, ADW_COLOR_SCHEME_DEFAULT);
    printf("light and dark follow the desktop (AdwStyleManager, scheme default)\n");
}

/* The pipeline picker's button on the page shown. */
static GtkWidget *menu_button(GtkWidget *wd)
{
    return find_type(wd, GTK_TYPE_MENU_BUTTON, TRUE);
}

/* The entry of the editor's row for `path` (its accessible label). */
static GtkWidget *field_entry(GtkWidget *wd, const char *path)
{
    char *diff;
    if (GTK_IS_ENTRY(wd)) {
        diff = gtk_test_accessible_check_property(GTK_ACCESSIBLE(wd), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                                  path);
        g_free(diff);
        if (!diff)
            return wd;
    }
    for (GtkWidget *c = gtk_widget_get_first_child(wd); c; c = gtk_widget_get_next_sibling(c)) {
        GtkWidget *e = field_entry(c, path);
        if (e)
            return e;
    }
    return NULL;
}

static void bad_workers(run *r, PsGuiWindow *w)
{
    GtkWidget *e = field_entry(GTK_WIDGET(w), "properties.workers");
    if (!e) {
        fprintf(stderr, "FAIL: no entry named properties.workers on the editor\n");
        r->failed = 1;
        return;
    }
    gtk_editable_set_text(GTK_EDITABLE(e), "100");
    gtk_widget_activate_action(GTK_WIDGET(w), "win.check-device", NULL);
}

/* The problem Check shows on the field is what a screen reader says of it. */
static void problem_heard(run *r, PsGuiWindow *w)
{
    GtkWidget *e = field_entry(GTK_WIDGET(w), "properties.workers");
    char *invalid =
        e ? gtk_test_accessible_check_state(GTK_ACCESSIBLE(e), GTK_ACCESSIBLE_STATE_INVALID,
                                            GTK_ACCESSIBLE_INVALID_TRUE)
          : g_strdup("no entry");
    char *desc = e ? gtk_test_accessible_check_property(GTK_ACCESSIBLE(e),
                                                        GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, "")
                   : NULL;
    if (invalid || !desc || !strstr(desc, "Error: 100 is out of range")) {
        fprintf(stderr,
                "FAIL: workers' problem is not in its accessible state (%s) and "
                "description (%s)\n",
                invalid ? invalid : "invalid", desc ? desc : "none");
        r->failed = 1;
    } else {
        printf("the field's problem is its accessible description: %s\n", desc);
    }
    g_free(invalid);
    g_free(desc);
}

static gboolean drive(gpointer data)
{
    run *r = data;
    PsGuiWindow *w = ps_gui_app_window(r->app);
    if (!w || !ps_gui_window_is_idle(w)) {
        if (r->step_started &&
            g_get_monotonic_time() - r->step_started > STEP_TIMEOUT_S * G_USEC_PER_SEC) {
            fprintf(stderr, "FAIL: the window is not idle after %d s\n", STEP_TIMEOUT_S);
            r->failed = 1;
            g_application_quit(G_APPLICATION(r->app));
            return G_SOURCE_REMOVE;
        }
        if (!r->step_started)
            r->step_started = g_get_monotonic_time();
        return G_SOURCE_CONTINUE;
    }
    /* Each step checks the page shown, then shows the next one (drawn by the next tick):
     * the Devices page first, as the app opens. */
    if (r->step == 0) {
        check_the_check(r);
        follows_system(r);
        tab_order(r, w);
    }
    if (r->step < (int)G_N_ELEMENTS(pages)) {
        char *where = g_strdup_printf("the %s page", pages[r->step]);
        expect_named(r, GTK_WIDGET(w), where);
        expect_unique_mnemonics(r, w, where);
        fits(r, w, pages[r->step]);
        g_free(where);
        gtk_widget_activate_action(GTK_WIDGET(w), "win.page", "s",
                                   pages[(r->step + 1) % G_N_ELEMENTS(pages)]);
    } else if (r->step == (int)G_N_ELEMENTS(pages)) {
        gtk_widget_activate_action(GTK_WIDGET(w), "win.page", "s", "editor");
    } else if (r->step == (int)G_N_ELEMENTS(pages) + 1) {
        GtkWidget *m = menu_button(page_root(w));
        if (m)
            gtk_menu_button_popup(GTK_MENU_BUTTON(m));
        else
            r->failed = 1, fprintf(stderr, "FAIL: no pipeline picker on the editor\n");
    } else if (r->step == (int)G_N_ELEMENTS(pages) + 2) {
        expect_named(r, GTK_WIDGET(w), "the pipeline picker");
        gtk_menu_button_popdown(GTK_MENU_BUTTON(menu_button(page_root(w))));
        bad_workers(r, w);
    } else {
        problem_heard(r, w);
        g_application_quit(G_APPLICATION(r->app));
        return G_SOURCE_REMOVE;
    }
    r->step++;
    return G_SOURCE_CONTINUE;
}

static void on_activate(GApplication *app, gpointer data)
{
    (void)app;
    g_timeout_add(200, drive, data);
}

int main(void)
{
    run r;
    char *argv[] = {"podstream-gui", "-c", NULL, "--db", NULL, NULL};
    int rc;
    memset(&r, 0, sizeof r);
    /* The test accessibility backend keeps what the app sets, for gtk_test_accessible_*. */
    g_setenv("GTK_A11Y", "test", TRUE);
    if (!gtk_init_check()) {
        printf("no display server: skipped\n");
        return SKIP;
    }
    r.dir = g_dir_make_tmp("ps_gui_a11y_XXXXXX", NULL);
    r.db = g_build_filename(r.dir, "events.db", NULL);
    if (!gui_fixture_events(r.db, 1, 0, 20, 4) ||
        !gui_fixture_counters(r.db, 1, "proofpoint-message", 20, 0))
        return 1;
    argv[2] = g_build_filename(getenv("PS_TEST_DATA"), "config", "valid", NULL);
    argv[4] = r.db;
    r.app = ps_gui_app_new();
    g_signal_connect_after(r.app, "activate", G_CALLBACK(on_activate), &r);
    rc = g_application_run(G_APPLICATION(r.app), 5, argv);
    g_object_unref(r.app);
    if (r.step < (int)G_N_ELEMENTS(pages) + 3 && !r.failed) {
        fprintf(stderr, "FAIL: the app ended at step %d\n", r.step);
        r.failed = 1;
    }
    printf("%s\n", r.failed || rc ? "FAILED" : "passed");
    gui_fixture_remove_tree(r.dir);
    g_free(argv[2]);
    return r.failed || rc ? 1 : 0;
}
