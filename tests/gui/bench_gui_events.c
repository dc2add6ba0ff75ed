/* bench_gui_events: what the Events page costs on a big database (figures, not a
 * pass/fail test; docs/gui.md records them). Reads, read-only, the database DB
 * (bench_store -n 1000000 -d DB makes one) through the GUI's own pager:
 *
 *   bench_gui_events DB [PAGE]
 *
 * prints the time to open it, the first page (PAGE events, default 200) for a few
 * filters, the 1st and 50th page of an unfiltered walk (a page must cost the same
 * deep down), and the resident memory at the end (Linux: /proc/self/status). */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_platform.h"
#include "ps_gui_events.h"

static double ms_since(gint64 t0)
{
    return (double)(g_get_monotonic_time() - t0) / 1000.0;
}

/* One page of `f` from the start; prints its time and returns the first event's copy. */
static void first_page(ps_store *st, const char *what, const ps_gui_filter *f, size_t page,
                       ps_gui_event *first)
{
    ps_gui_cursor c;
    ps_gui_event *v = NULL;
    size_t n = 0;
    ps_query q;
    ps_errmsg em;
    gint64 t0 = g_get_monotonic_time();
    ps_gui_cursor_init(&c);
    if (ps_gui_filter_query(f, ps_plat_now_us(), &q, &em) != PS_OK ||
        ps_gui_events_page(st, &q, &c, page, &v, &n, &em) != PS_OK) {
        printf("%-34s failed: %s\n", what, em.text);
        return;
    }
    printf("%-34s %8.1f ms  (%zu events)\n", what, ms_since(t0), n);
    for (size_t i = 0; i < n; i++) {
        if (i == 0 && first)
            *first = v[i];
        else
            ps_gui_event_deinit(&v[i]);
    }
    free(v);
    ps_gui_cursor_deinit(&c);
}

static void walk(ps_store *st, size_t page, int pages)
{
    ps_gui_filter f;
    ps_gui_cursor c;
    ps_query q;
    ps_errmsg em;
    ps_gui_filter_init(&f);
    ps_gui_cursor_init(&c);
    ps_gui_filter_query(&f, ps_plat_now_us(), &q, &em);
    for (int p = 1; p <= pages && !c.done; p++) {
        ps_gui_event *v = NULL;
        size_t n = 0;
        gint64 t0 = g_get_monotonic_time();
        if (ps_gui_events_page(st, &q, &c, page, &v, &n, &em) != PS_OK) {
            printf("page %d failed: %s\n", p, em.text);
            break;
        }
        if (p == 1 || p == pages)
            printf("unfiltered walk, page %-3d          %8.1f ms  (%zu events)\n", p, ms_since(t0),
                   n);
        for (size_t i = 0; i < n; i++)
            ps_gui_event_deinit(&v[i]);
        free(v);
    }
    ps_gui_cursor_deinit(&c);
}

static void print_rss(void)
{
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            printf("resident memory                    %s", line + 6 + strspn(line + 6, " \t"));
    if (f)
        fclose(f);
    else
        printf("resident memory                    (not known on this system)\n");
}

int main(int argc, char **argv)
{
    size_t page = argc > 2 ? (size_t)atoi(argv[2]) : 200;
    ps_gui_event first;
    ps_gui_filter f;
    ps_store *st = NULL;
    ps_errmsg em;
    gint64 t0;
    if (argc < 2 || page == 0) {
        fprintf(stderr, "usage: bench_gui_events DB [PAGE]\n");
        return 2;
    }
    t0 = g_get_monotonic_time();
    if (ps_store_create(argv[1], PS_STORE_READER, &st, &em) != PS_OK) {
        fprintf(stderr, "bench_gui_events: %s\n", em.text);
        return 1;
    }
    printf("open (read-only)                   %8.1f ms\n", ms_since(t0));
    memset(&first, 0, sizeof first);
    ps_gui_filter_init(&f);
    first_page(st, "first page, no filter", &f, page, &first);
    f.oldest_first = true;
    first_page(st, "first page, oldest first", &f, page, NULL);
    f.oldest_first = false;
    f.from = first.text[PS_EF_SENDER] ? g_strdup(first.text[PS_EF_SENDER]) : NULL;
    first_page(st, "first page, --from (newest's)", &f, page, NULL);
    g_free(f.from);
    f.from = NULL;
    f.search = first.text[PS_EF_SENDER] ? g_strdup(first.text[PS_EF_SENDER]) : NULL;
    first_page(st, "first page, --search (its sender)", &f, page, NULL);
    g_free(f.search);
    f.search = NULL;
    f.since = g_strdup("2000-01-01");
    f.until = g_strdup("2100-01-01");
    first_page(st, "first page, --since/--until", &f, page, NULL);
    ps_gui_filter_deinit(&f);
    ps_gui_event_deinit(&first);
    walk(st, page, 50);
    ps_store_destroy(st);
    print_rss();
    return 0;
}
