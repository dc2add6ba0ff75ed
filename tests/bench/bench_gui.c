/* bench_gui: podstream-gui's figures on a database of a million events (issue #12).
 *
 *   bench_gui [-n EVENTS] [-d DB] [-c CONFIG_DIR]
 *
 *   -n  events in the fixture database (default 1000000; 33% message, the rest maillog)
 *   -d  the fixture database (default ./bench_gui.db). It is made once through the
 *       store's write API from podsim_gen's events and kept: DB.fixture records what
 *       it holds, and a later run with the same -n and schema reuses it
 *   -c  the configuration the app is started on (default the tests' valid fixture)
 *
 * Prints, on a display (run it under tests/gui/run_under_xvfb.sh; ctest does):
 *   - the Events page's first page (200 events, no filter) through the app's own pager
 *     (ps_gui_events_page) on a fresh read-only connection, and again warm;
 *   - the real app started as its own process (`bench_gui --window`, the code of
 *     podstream-gui) on that database: the time from the exec to its first frame,
 *     to the Devices page filled, and from Search on the Events page to the frame that
 *     shows its first page (five Searches: wall time, and the main thread's CPU time, which
 *     says what it costs whatever else the cores ran); then its resident memory
 *     (VmRSS, the peak VmHWM, and how much of it is anonymous or mapped files) and
 *     the CPU time of each of its threads (/proc/self/task/STAR/stat). Twice: as it
 *     starts on this display, and with GDK's GL turned off, which tells the app's
 *     own memory from the GL driver's;
 *   - the machine's load average, since the figures mean little on a busy machine.
 * The targets of the issue: first page under 100 ms, RSS under 120 MB. Nothing is
 * asserted (a benchmark, not a timed test): it fails only when it cannot measure. */
#include <glib.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "podsim_gen.h"
#include "podstream/ps_event.h"
#include "podstream/ps_platform.h"
#include "podstream/ps_store.h"
#include "ps_gui_app.h"
#include "ps_gui_event_list.h"
#include "ps_gui_events.h"

#define BATCH             1000
#define PAGE              200
#define ORIGIN_US         1716400000000000LL /* 2024-05-22T17:46:40Z, as bench_store */
#define WINDOW_TIMEOUT_US (120 * G_USEC_PER_SEC)
#define SEARCHES          5 /* Search pressed this often on the Events page */

static double ms_between(gint64 a, gint64 b)
{
    return (double)(b - a) / 1000.0;
}

/* CPU time of the calling thread: what a step cost, whatever else the cores ran. */
static double thread_cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void fail(const char *what, const char *why)
{
    fprintf(stderr, "bench_gui: %s: %s\n", what, why);
    exit(1);
}

/* ---- the fixture database ------------------------------------------------------------ */

static char *marker_text(uint64_t n)
{
    return g_strdup_printf("events=%llu schema=%d\n", (unsigned long long)n,
                           PS_STORE_SCHEMA_VERSION);
}

static gboolean fixture_ok(const char *db, uint64_t n)
{
    char *marker = g_strconcat(db, ".fixture", NULL), *want = marker_text(n), *have = NULL;
    gboolean ok = g_file_test(db, G_FILE_TEST_EXISTS) &&
                  g_file_get_contents(marker, &have, NULL, NULL) && strcmp(have, want) == 0;
    g_free(marker);
    g_free(want);
    g_free(have);
    return ok;
}

/* One batch of generated events, parsed and stored as the service's writer stores them. */
static void store_batch(ps_store *st, psim_timeline tl[2], uint64_t next[2], uint64_t *stored,
                        size_t nb, psim_buf *buf)
{
    ps_errmsg em;
    if (ps_store_begin(st, &em) != PS_OK)
        fail("begin", em.text);
    for (size_t k = 0; k < nb; k++) {
        /* One message for two maillog lines, interleaved as one cluster sends them. */
        int t = (*stored + k) % 3 == 0 ? 0 : 1;
        bool dup = false;
        ps_event ev;
        ps_event_init(&ev);
        buf->len = 0;
        if (!psim_gen_event(&tl[t], next[t]++, 0, buf, NULL) || !psim_buf_append(buf, "", 1))
            fail("generating an event", "out of memory");
        if (ps_event_parse(&ev, t == 0 ? PS_DATA_MESSAGE : PS_DATA_MAILLOG, buf->data, buf->len - 1,
                           &em) != PS_OK ||
            ps_event_extract(&ev, &em) != PS_OK ||
            ps_store_insert(st, t + 1, &ev, buf->data, buf->len - 1, "[\"bench\"]", &dup, &em) !=
                PS_OK)
            fail("storing an event", em.text);
        ps_event_deinit(&ev);
    }
    if (ps_store_commit(st, &em) != PS_OK)
        fail("commit", em.text);
    *stored += nb;
}

/* Counters as a service that stopped after storing them, so the Devices page has rows. */
static void store_counters(ps_store *st, const uint64_t next[2])
{
    static const char *const names[] = {"bench-message", "bench-maillog"};
    ps_errmsg em;
    for (int t = 0; t < 2; t++) {
        ps_device_counters c;
        memset(&c, 0, sizeof c);
        c.device_id = t + 1;
        snprintf(c.name, sizeof c.name, "%s", names[t]);
        c.type = t == 0 ? PS_DATA_MESSAGE : PS_DATA_MAILLOG;
        c.state = PS_STATE_STOPPED;
        c.events_total = next[t];
        c.updated_us = ps_plat_now_us();
        if (ps_store_counters_put(st, &c, &em) != PS_OK)
            fail("counters", em.text);
    }
}

static void make_fixture(const char *db, uint64_t n)
{
    char *marker = g_strconcat(db, ".fixture", NULL), *text = marker_text(n);
    char *wal = g_strconcat(db, "-wal", NULL), *shm = g_strconcat(db, "-shm", NULL);
    psim_timeline tl[2];
    uint64_t next[2] = {0, 0}, stored = 0;
    psim_buf buf;
    ps_store *st = NULL;
    ps_errmsg em;
    gint64 t0 = g_get_monotonic_time();
    remove(marker);
    remove(db);
    remove(wal);
    remove(shm);
    /* Both streams over the same stretch of time: 2 ms between messages, 1 ms between
     * maillog lines, as bench_store's default mix. */
    psim_timeline_init(&tl[0], 7, "pphosted_bench", PSIM_MESSAGE, ORIGIN_US, 3000);
    psim_timeline_init(&tl[1], 7, "pphosted_bench", PSIM_MAILLOG, ORIGIN_US, 1500);
    psim_buf_init(&buf);
    if (ps_store_create(db, PS_STORE_WRITER, &st, &em) != PS_OK)
        fail(db, em.text);
    printf("making the fixture: %llu events into %s (once; reused while %s.fixture says so)\n",
           (unsigned long long)n, db, db);
    fflush(stdout);
    while (stored < n)
        store_batch(st, tl, next, &stored, n - stored < BATCH ? (size_t)(n - stored) : BATCH, &buf);
    store_counters(st, next);
    ps_store_destroy(st);
    psim_buf_deinit(&buf);
    if (!g_file_set_contents(marker, text, -1, NULL))
        fail(marker, "cannot be written");
    printf("fixture made in %.1f s\n", ms_between(t0, g_get_monotonic_time()) / 1000.0);
    g_free(marker);
    g_free(text);
    g_free(wal);
    g_free(shm);
}

/* ---- figures of this process and the machine ------------------------------------------ */

/* The process's own total, which keeps the time of threads that have ended (the
 * GTask workers come and go). */
static void print_process_cpu(long hz)
{
    char *text = NULL;
    const char *close_p;
    unsigned long long utime = 0, stime = 0;
    if (g_file_get_contents("/proc/self/stat", &text, NULL, NULL) &&
        (close_p = strrchr(text, ')')) &&
        sscanf(close_p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
               &stime) == 2)
        printf("  %-18s %7.2f s (user %.2f s)\n", "whole process",
               (double)(utime + stime) / (double)hz, (double)utime / (double)hz);
    g_free(text);
}

/* CPU time (user + system) of each thread of this process, by thread name, and the
 * sum. */
static void print_cpu(const char *who)
{
    GDir *d = g_dir_open("/proc/self/task", 0, NULL);
    const char *tid;
    long hz = sysconf(_SC_CLK_TCK);
    double total = 0;
    if (!d || hz <= 0) {
        printf("%s CPU time: not known on this system\n", who);
        if (d)
            g_dir_close(d);
        return;
    }
    printf("%s CPU time by thread (user + system):\n", who);
    while ((tid = g_dir_read_name(d)) != NULL) {
        char *path = g_strdup_printf("/proc/self/task/%s/stat", tid), *text = NULL;
        const char *open_p, *close_p;
        unsigned long long utime = 0, stime = 0;
        if (g_file_get_contents(path, &text, NULL, NULL) && (open_p = strchr(text, '(')) &&
            (close_p = strrchr(text, ')')) &&
            sscanf(close_p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
                   &stime) == 2) {
            double s = (double)(utime + stime) / (double)hz;
            total += s;
            if (s > 0)
                printf("  %-18.*s %7.2f s\n", (int)(close_p - open_p - 1), open_p + 1, s);
        }
        g_free(text);
        g_free(path);
    }
    g_dir_close(d);
    printf("  %-18s %7.2f s\n", "threads running", total);
    print_process_cpu(hz);
}

static void print_memory(void)
{
    char *text = NULL;
    if (!g_file_get_contents("/proc/self/status", &text, NULL, NULL)) {
        printf("resident memory: not known on this system\n");
        return;
    }
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"))
        if (g_str_has_prefix(line, "VmRSS:") || g_str_has_prefix(line, "VmHWM:") ||
            g_str_has_prefix(line, "RssAnon:") || g_str_has_prefix(line, "RssFile:") ||
            g_str_has_prefix(line, "RssShmem:")) {
            char *colon = strchr(line, ':');
            *colon = '\0';
            printf("  %-9s %12s%s\n", line, g_strstrip(colon + 1),
                   strcmp(line, "VmRSS") == 0   ? " (target: under 120 MB)"
                   : strcmp(line, "VmHWM") == 0 ? " (peak)"
                                                : "");
        }
    g_free(text);
    /* Of the anonymous part, what SQLite holds: the readers' page caches. */
    printf("  SQLite    %9lld kB now, %lld kB at most\n", (long long)sqlite3_memory_used() / 1024,
           (long long)sqlite3_memory_highwater(0) / 1024);
}

static void print_load(void)
{
    char *text = NULL;
    if (g_file_get_contents("/proc/loadavg", &text, NULL, NULL))
        printf("machine: %ld cores, load average %s", sysconf(_SC_NPROCESSORS_ONLN), text);
    g_free(text);
}

/* ---- the pager alone -------------------------------------------------------------------- */

static double first_page_ms(ps_store *st)
{
    ps_gui_filter f;
    ps_gui_cursor c;
    ps_gui_event *v = NULL;
    size_t n = 0;
    ps_query q;
    ps_errmsg em;
    gint64 t0 = g_get_monotonic_time();
    double ms;
    ps_gui_filter_init(&f);
    ps_gui_cursor_init(&c);
    if (ps_gui_filter_query(&f, ps_plat_now_us(), &q, &em) != PS_OK ||
        ps_gui_events_page(st, &q, &c, PAGE, &v, &n, &em) != PS_OK)
        fail("first page", em.text);
    ms = ms_between(t0, g_get_monotonic_time());
    for (size_t i = 0; i < n; i++)
        ps_gui_event_deinit(&v[i]);
    free(v);
    ps_gui_cursor_deinit(&c);
    ps_gui_filter_deinit(&f);
    if (n != PAGE)
        fail("first page", "fewer events than a page");
    return ms;
}

static void pager_figures(const char *db)
{
    ps_store *st = NULL;
    ps_errmsg em;
    double cold, warm = 1e9;
    if (ps_store_create(db, PS_STORE_READER, &st, &em) != PS_OK)
        fail(db, em.text);
    cold = first_page_ms(st);
    for (int i = 0; i < 5; i++) {
        double ms = first_page_ms(st);
        warm = ms < warm ? ms : warm;
    }
    ps_store_destroy(st);
    printf("Events first page, pager alone: %.1f ms on a new connection, %.1f ms warm "
           "(target: under 100 ms)\n",
           cold, warm);
}

/* ---- the app, in its own process (--window) ------------------------------------------ */

typedef struct win_run {
    AdwApplication *app;
    PsGuiWindow *w;
    PsGuiEventList *list; /* found once: walking the widgets every poll would cost */
    gint64 exec_us, first_frame_us, devices_us, search_us, settle_until;
    double page_ms[SEARCHES];     /* Search to first page shown, each time */
    double page_cpu_ms[SEARCHES]; /* the main thread's CPU time meanwhile */
    double search_cpu_ms;
    int searches;
    gboolean in_model; /* this Search's first page is in the list: wait for its frame */
    gboolean painted;  /* and that frame was painted: the figure is taken */
    int state;
    int failed;
} win_run;

/* The Events page's list, found from its column view. */
static PsGuiEventList *event_list(GtkWidget *wd)
{
    if (GTK_IS_COLUMN_VIEW(wd)) {
        GtkSelectionModel *m = gtk_column_view_get_model(GTK_COLUMN_VIEW(wd));
        GListModel *inner = GTK_IS_SINGLE_SELECTION(m)
                                ? gtk_single_selection_get_model(GTK_SINGLE_SELECTION(m))
                                : NULL;
        if (inner && PS_GUI_IS_EVENT_LIST(inner))
            return PS_GUI_EVENT_LIST(inner);
    }
    for (GtkWidget *c = gtk_widget_get_first_child(wd); c; c = gtk_widget_get_next_sibling(c)) {
        PsGuiEventList *l = event_list(c);
        if (l)
            return l;
    }
    return NULL;
}

static void on_after_paint(GdkFrameClock *clock, gpointer data)
{
    win_run *r = data;
    if (!r->first_frame_us)
        r->first_frame_us = g_get_monotonic_time();
    g_signal_handlers_disconnect_by_func(clock, on_after_paint, data);
}

static void watch_first_frame(GtkWidget *wd, gpointer data)
{
    g_signal_connect(gtk_widget_get_frame_clock(wd), "after-paint", G_CALLBACK(on_after_paint),
                     data);
}

static void on_activated(GApplication *app, gpointer data)
{
    win_run *r = data;
    r->w = ps_gui_app_window(ADW_APPLICATION(app));
    if (!r->w)
        return;
    if (gtk_widget_get_realized(GTK_WIDGET(r->w)))
        watch_first_frame(GTK_WIDGET(r->w), r);
    else
        g_signal_connect(r->w, "realize", G_CALLBACK(watch_first_frame), r);
}

/* The frame after a Search's first page reached the list: what it cost, up to the
 * screen (the rows' widgets are rebound or built in the list's change, laid out and
 * drawn in this frame). */
static void on_search_painted(GdkFrameClock *clock, gpointer data)
{
    win_run *r = data;
    (void)clock;
    if (!r->in_model)
        return;
    r->in_model = FALSE;
    r->painted = TRUE;
    r->page_cpu_ms[r->searches] = thread_cpu_ms() - r->search_cpu_ms;
    r->page_ms[r->searches++] = ms_between(r->search_us, g_get_monotonic_time());
}

static void search(win_run *r)
{
    r->search_us = g_get_monotonic_time();
    r->search_cpu_ms = thread_cpu_ms();
    gtk_widget_activate_action(GTK_WIDGET(r->w), "win.search", NULL);
}

/* Devices filled, then Search on Events, its first page shown, a second to settle. */
static gboolean step(gpointer data)
{
    win_run *r = data;
    gint64 now = g_get_monotonic_time();
    PsGuiEventList *l;
    if (now - r->exec_us > WINDOW_TIMEOUT_US) {
        fprintf(stderr, "bench_gui: the window did not get there in time (step %d)\n", r->state);
        r->failed = 1;
        g_application_quit(G_APPLICATION(r->app));
        return G_SOURCE_REMOVE;
    }
    if (!r->w || !r->first_frame_us || !ps_gui_window_is_idle(r->w))
        return G_SOURCE_CONTINUE;
    if (r->state == 0) {
        r->devices_us = now;
        gtk_widget_activate_action(GTK_WIDGET(r->w), "win.page", "s", "events");
        g_signal_connect(gtk_widget_get_frame_clock(GTK_WIDGET(r->w)), "after-paint",
                         G_CALLBACK(on_search_painted), r);
        search(r);
        r->state = 1;
    } else if (r->state == 1) {
        if (r->in_model)
            return G_SOURCE_CONTINUE; /* the figure is taken when its frame is painted */
        if (!r->painted) {
            l = r->list = r->list ? r->list : event_list(GTK_WIDGET(r->w));
            if (!l || ps_gui_event_list_is_loading(l) ||
                g_list_model_get_n_items(G_LIST_MODEL(l)) == 0)
                return G_SOURCE_CONTINUE;
            r->in_model = TRUE;
            gtk_widget_queue_draw(GTK_WIDGET(r->w));
            return G_SOURCE_CONTINUE;
        }
        r->painted = FALSE;
        if (r->searches < SEARCHES) {
            /* Again: a new query each time (set_filter); the rows' widgets rebound. */
            search(r);
            return G_SOURCE_CONTINUE;
        }
        r->settle_until = now + G_USEC_PER_SEC;
        r->state = 2;
    } else if (now >= r->settle_until) {
        g_application_quit(G_APPLICATION(r->app));
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

static int window_main(const char *exec_us, const char *db, const char *config)
{
    char *argv[] = {"podstream-gui", "-c", (char *)config, "--db", (char *)db, NULL};
    win_run r;
    memset(&r, 0, sizeof r);
    r.exec_us = g_ascii_strtoll(exec_us, NULL, 10);
    r.app = ps_gui_app_new();
    g_signal_connect_after(r.app, "activate", G_CALLBACK(on_activated), &r);
    g_timeout_add(2, step, &r);
    g_application_run(G_APPLICATION(r.app), 5, argv);
    if (!r.failed) {
        printf("the app (its own process, renderer %s):\n",
               g_getenv("GSK_RENDERER") ? g_getenv("GSK_RENDERER") : "default renderer");
        printf("  start to first frame        %8.1f ms\n", ms_between(r.exec_us, r.first_frame_us));
        printf("  start to Devices filled     %8.1f ms\n", ms_between(r.exec_us, r.devices_us));
        printf("  Search to the frame showing its first page, wall (main thread's CPU) in ms, %d "
               "times:\n   ",
               SEARCHES);
        for (int k = 0; k < SEARCHES; k++)
            printf(" %.1f (%.1f)", r.page_ms[k], r.page_cpu_ms[k]);
        printf("\n    (target: under 100 ms)\n");
        printf("memory of the app with the database open and the first page shown:\n");
        print_memory();
        print_cpu("the app's");
    }
    g_object_unref(r.app);
    return r.failed;
}

/* ---- main ------------------------------------------------------------------------------ */

/* Starts the app's process; `no_gl` runs it with GDK's GL turned off, to tell the
 * app's own memory from the GL driver's (Mesa's llvmpipe under Xvfb is most of it). */
static int run_window(const char *self, const char *db, const char *config, gboolean no_gl)
{
    char *exec_us = g_strdup_printf("%" G_GINT64_FORMAT, g_get_monotonic_time());
    char *argv[] = {(char *)self, "--window", exec_us, (char *)db, (char *)config, NULL};
    char **env = g_get_environ();
    GError *error = NULL;
    int status = 0;
    if (no_gl)
        env = g_environ_setenv(env, "GDK_DEBUG", "gl-disable", TRUE);
    printf("\n%s\n", no_gl ? "-- the app with GL turned off (GDK_DEBUG=gl-disable):"
                           : "-- the app as it starts here:");
    fflush(stdout);
    if (!g_spawn_sync(NULL, argv, env, G_SPAWN_CHILD_INHERITS_STDIN, NULL, NULL, NULL, NULL,
                      &status, &error))
        fail("starting the app", error->message);
    g_strfreev(env);
    g_free(exec_us);
    return g_spawn_check_wait_status(status, NULL) ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *db = "bench_gui.db", *config = BENCH_GUI_CONFIG;
    uint64_t n = 1000000;
    char *self;
    int rc;
    if (argc == 5 && strcmp(argv[1], "--window") == 0)
        return window_main(argv[2], argv[3], argv[4]);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
            n = g_ascii_strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "-d") == 0 && i + 1 < argc)
            db = argv[++i];
        else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
            config = argv[++i];
        else {
            fprintf(stderr, "usage: bench_gui [-n EVENTS] [-d DB] [-c CONFIG_DIR]\n");
            return 2;
        }
    }
    if (n < PAGE) {
        fprintf(stderr, "bench_gui: -n must be at least %d\n", PAGE);
        return 2;
    }
    print_load();
    if (!fixture_ok(db, n))
        make_fixture(db, n);
    else
        printf("fixture: %s, %llu events (reused)\n", db, (unsigned long long)n);
    pager_figures(db);
    print_cpu("bench_gui's (fixture and pager)");
    if (!g_getenv("DISPLAY") && !g_getenv("WAYLAND_DISPLAY")) {
        printf("no display: the window figures need one (tests/gui/run_under_xvfb.sh)\n");
        return 77;
    }
    self = g_file_read_link("/proc/self/exe", NULL);
    rc = run_window(self ? self : argv[0], db, config, FALSE);
    if (rc == 0)
        rc = run_window(self ? self : argv[0], db, config, TRUE);
    g_free(self);
    print_load();
    return rc;
}
