/* The Devices page's Outputs section without a window: the rows `podstream status`
 * reads come with each refresh, and a stopped service or a runner that stopped
 * writing makes their state "not running" rather than the last one written. */
#include <glib.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gui_fixture.h"
#include "podstream/ps_platform.h"
#include "ps_gui_devices.h"
#include "ps_gui_outputs.h"

#define N_EVENTS 53
#define CURSOR   30

typedef struct fixture {
    char *dir, *db, *cdir;
    ps_gui_devices *d;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    ps_errmsg em;
    f->dir = g_dir_make_tmp("ps_gui_outputs_XXXXXX", NULL);
    assert_non_null(f->dir);
    f->db = g_build_filename(f->dir, "events.db", NULL);
    f->cdir = g_build_filename(getenv("PS_TEST_DATA"), "config", "valid", NULL);
    assert_true(gui_fixture_events(f->db, 1, 0, N_EVENTS, 4));
    assert_int_equal(ps_gui_devices_create(f->cdir, f->db, &f->d, &em), PS_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    ps_gui_devices_destroy(f->d);
    gui_fixture_remove_tree(f->dir);
    g_free(f->dir);
    g_free(f->db);
    g_free(f->cdir);
    free(f);
    return 0;
}

static const ps_output_row *find(const ps_gui_snapshot *s, const char *name)
{
    for (size_t i = 0; i < s->nouts; i++)
        if (strcmp(s->outs[i].name, name) == 0)
            return &s->outs[i];
    return NULL;
}

/* Service and runner alive: the figures status shows, the state live. */
static void test_outputs_running(void **state)
{
    fixture *f = *state;
    ps_gui_snapshot *s = NULL;
    ps_errmsg em;
    const ps_output_row *r;
    assert_true(gui_fixture_counters(f->db, 1, "proofpoint-message", 53, 0));
    assert_true(gui_fixture_outputs(f->db, CURSOR, 0));
    assert_int_equal(ps_gui_devices_refresh(f->d, ps_plat_now_us(), &s, &em), PS_OK);
    assert_int_equal(s->service, PS_GUI_SERVICE_RUNNING);
    assert_int_equal(s->nouts, 2);
    assert_string_equal(s->outs[0].name, "old-hec"); /* ordered by name */
    r = find(s, "siem");
    assert_non_null(r);
    assert_string_equal(r->type, "syslog");
    assert_int_equal(r->backlog, N_EVENTS - CURSOR);
    assert_int_equal(r->delivered, 40);
    assert_int_equal(r->dropped, 1);
    assert_int_equal(r->split, 2);
    assert_true(r->last_delivery_us > 0);
    assert_string_equal(r->last_error, "connection reset by peer");
    assert_true(ps_gui_output_live(s, r));
    assert_string_equal(ps_gui_output_state_text(s, r), "sending");
    assert_false(ps_gui_output_live(s, &s->outs[0]));
    assert_string_equal(ps_gui_output_state_text(s, &s->outs[0]), "disabled");
    ps_gui_snapshot_destroy(s);
}

/* The runner stopped writing while device counters are fresh (it hangs), then the
 * whole service stopped: "not running" both times, whatever state was written. */
static void test_outputs_stale(void **state)
{
    fixture *f = *state;
    ps_gui_snapshot *s = NULL;
    ps_errmsg em;
    int64_t now = ps_plat_now_us();
    assert_true(gui_fixture_counters(f->db, 1, "proofpoint-message", 53, 0));
    assert_true(gui_fixture_outputs(f->db, CURSOR, 60));
    assert_int_equal(ps_gui_devices_refresh(f->d, now, &s, &em), PS_OK);
    assert_int_equal(s->service, PS_GUI_SERVICE_RUNNING);
    assert_false(ps_gui_output_live(s, find(s, "siem")));
    assert_string_equal(ps_gui_output_state_text(s, find(s, "siem")), "not running");
    ps_gui_snapshot_destroy(s);
    assert_int_equal(ps_gui_devices_refresh(f->d, now + 60 * 1000000LL, &s, &em), PS_OK);
    assert_int_equal(s->service, PS_GUI_SERVICE_STOPPED);
    assert_string_equal(ps_gui_output_state_text(s, find(s, "siem")), "not running");
    /* Counts stay: they are what was delivered, not live figures. */
    assert_int_equal(find(s, "siem")->delivered, 40);
    ps_gui_snapshot_destroy(s);
}

/* No output configured, and no database: an empty section, no error. */
static void test_outputs_none(void **state)
{
    fixture *f = *state;
    ps_gui_snapshot *s = NULL;
    ps_gui_devices *d = NULL;
    ps_errmsg em;
    char *missing = g_build_filename(f->dir, "none.db", NULL);
    assert_int_equal(ps_gui_devices_refresh(f->d, ps_plat_now_us(), &s, &em), PS_OK);
    assert_int_equal(s->nouts, 0);
    assert_null(s->outs);
    ps_gui_snapshot_destroy(s);
    assert_int_equal(ps_gui_devices_create(f->cdir, missing, &d, &em), PS_OK);
    assert_int_equal(ps_gui_devices_refresh(d, ps_plat_now_us(), &s, &em), PS_OK);
    assert_int_equal(s->service, PS_GUI_SERVICE_NO_DATABASE);
    assert_int_equal(s->nouts, 0);
    ps_gui_snapshot_destroy(s);
    ps_gui_devices_destroy(d);
    g_free(missing);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_outputs_running, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outputs_stale, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outputs_none, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
