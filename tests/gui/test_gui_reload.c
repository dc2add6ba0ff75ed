/* podstream-gui's line beside Save, without a window: what the app says after a save
 * for each thing the service can record (nothing yet, an accepted reload, a rejected
 * one, a start after the save, an old record from before it) and for a service
 * that is not running; and the devices refresh reads the record the service wrote. */
#include <glib.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gui_fixture.h"
#include "ps_gui_devices.h"
#include "ps_gui_reload.h"

#define T0 1716400000000000LL /* 2024-05-22T17:46:40Z: the save */
#define S  1000000LL

static ps_reload_record record(int64_t at_us, bool accepted, uint64_t generation,
                               const char *reason)
{
    ps_reload_record r;
    memset(&r, 0, sizeof r);
    r.at_us = at_us;
    r.accepted = accepted;
    r.generation = generation;
    r.started_us = T0 - 3600 * S;
    snprintf(r.reason, sizeof r.reason, "%s", reason ? reason : "");
    return r;
}

static void assert_text(const ps_gui_reload_watch *w, const char *want)
{
    char text[1024];
    ps_gui_reload_text(w, true, text, sizeof text);
    assert_string_equal(text, want);
}

static void test_nothing_saved_says_nothing(void **state)
{
    ps_gui_reload_watch w;
    ps_reload_record r = record(T0, true, 2, NULL);
    (void)state;
    ps_gui_reload_watch_init(&w);
    assert_false(ps_gui_reload_watch_update(&w, PS_GUI_SERVICE_RUNNING, &r, T0));
    assert_int_equal(w.state, PS_GUI_RELOAD_NONE);
    assert_text(&w, "");
}

/* Waiting while the service has not loaded it; an older record (the load before
 * the save) does not count; the accepted reload does. */
static void test_accepted(void **state)
{
    ps_gui_reload_watch w;
    ps_reload_record old = record(T0 - 5 * S, true, 1, NULL);
    ps_reload_record r = record(T0 + 2 * S, true, 2, NULL);
    (void)state;
    ps_gui_reload_watch_init(&w);
    ps_gui_reload_watch_saved(&w, T0);
    assert_text(&w, "Waiting for the service to reload the change…");
    assert_false(ps_gui_reload_watch_update(&w, PS_GUI_SERVICE_RUNNING, &old, T0 + S));
    assert_int_equal(w.state, PS_GUI_RELOAD_WAITING);
    assert_true(ps_gui_reload_watch_update(&w, PS_GUI_SERVICE_RUNNING, &r, T0 + 3 * S));
    assert_int_equal(w.state, PS_GUI_RELOAD_ACCEPTED);
    assert_text(&w, "Reload accepted at 17:46:42 (configuration generation 2)");
    /* The same record again changes nothing. */
    assert_false(ps_gui_reload_watch_update(&w, PS_GUI_SERVICE_RUNNING, &r, T0 + 4 * S));
}

/* The service may decide just before the app learns its write is done. */
static void test_decided_just_before_the_save_returned(void **state)
{
    ps_gui_reload_watch w;
    ps_reload_record r = record(T0 - PS_GUI_RELOAD_SLACK_US / 2, true, 3, NULL);
    (void)state;
    ps_gui_reload_watch_init(&w);
    ps_gui_reload_watch_saved(&w, T0);
    assert_true(ps_gui_reload_watch_update(&w, PS_GUI_SERVICE_RUNNING, &r, T0));
    assert_int_equal(w.state, PS_GUI_RELOAD_ACCEPTED);
}

static void test_rejected_then_fixed(void **state)
{
    ps_gui_reload_watch w;
    ps_reload_record bad =
        record(T0 + S, false, 2,
               "devices/10-a.yml:7:13: error: devices[0].properties.type: unknown value");
    ps_reload_record good = record(T0 + 9 * S, true, 3, NULL);
    (void)state;
    ps_gui_reload_watch_init(&w);
    ps_gui_reload_watch_saved(&w, T0);
    assert_true(ps_gui_reload_watch_update(&w, PS_GUI_SERVICE_RUNNING, &bad, T0 + 2 * S));
    assert_int_equal(w.state, PS_GUI_RELOAD_REJECTED);
    assert_text(&w, "Reload rejected: devices/10-a.yml:7:13: error: devices[0].properties.type: "
                    "unknown value. The service keeps running the previous configuration.");
    /* The admin fixes it and saves again: the newer answer replaces the old one. */
    ps_gui_reload_watch_saved(&w, T0 + 8 * S);
    assert_true(ps_gui_reload_watch_update(&w, PS_GUI_SERVICE_RUNNING, &good, T0 + 10 * S));
    assert_text(&w, "Reload accepted at 17:46:49 (configuration generation 3)");
}

/* Stopped: the change waits for the next start, which then answers for it. */
static void test_not_running_then_started(void **state)
{
    ps_gui_reload_watch w;
    ps_reload_record old = record(T0 - 600 * S, true, 4, NULL);
    ps_reload_record start = record(T0 + 30 * S, true, 1, NULL);
    (void)state;
    start.at_start = true;
    ps_gui_reload_watch_init(&w);
    ps_gui_reload_watch_saved(&w, T0);
    assert_true(ps_gui_reload_watch_update(&w, PS_GUI_SERVICE_STOPPED, &old, T0 + S));
    assert_int_equal(w.state, PS_GUI_RELOAD_NOT_RUNNING);
    assert_text(&w, "Service not running: the change takes effect at the next start.");
    /* No database at all says the same. */
    assert_false(ps_gui_reload_watch_update(&w, PS_GUI_SERVICE_NO_DATABASE, NULL, T0 + 2 * S));
    assert_true(ps_gui_reload_watch_update(&w, PS_GUI_SERVICE_RUNNING, &start, T0 + 31 * S));
    assert_text(&w, "Loaded by the service's start at 17:47:10 (configuration generation 1)");
}

/* Running, but nothing recorded for a while (an older service records nothing). */
static void test_no_answer(void **state)
{
    ps_gui_reload_watch w;
    ps_reload_record none = record(0, false, 0, NULL);
    (void)state;
    ps_gui_reload_watch_init(&w);
    ps_gui_reload_watch_saved(&w, T0);
    assert_false(ps_gui_reload_watch_update(&w, PS_GUI_SERVICE_RUNNING, &none, T0 + 5 * S));
    assert_int_equal(w.state, PS_GUI_RELOAD_WAITING);
    assert_true(ps_gui_reload_watch_update(&w, PS_GUI_SERVICE_RUNNING, &none,
                                           T0 + PS_GUI_RELOAD_WAIT_US + S));
    assert_text(&w, "The service has not said whether it reloaded the change: see its log.");
}

/* The refresh on the Devices page's worker brings the record the service wrote. */
static void test_refresh_reads_the_record(void **state)
{
    char *dir = g_dir_make_tmp("ps_gui_reload_XXXXXX", NULL);
    char *db = g_build_filename(dir, "events.db", NULL);
    char *cdir = g_build_filename(dir, "no-config", NULL);
    ps_gui_devices *d = NULL;
    ps_gui_snapshot *s = NULL;
    ps_errmsg em;
    (void)state;
    assert_true(gui_fixture_counters(db, 1, "one", 10, 0));
    assert_int_equal(ps_gui_devices_create(cdir, db, &d, &em), PS_OK);
    assert_int_equal(ps_gui_devices_refresh(d, T0, &s, &em), PS_OK);
    assert_int_equal(s->reload.at_us, 0); /* nothing recorded yet */
    ps_gui_snapshot_destroy(s);
    assert_true(gui_fixture_reload(db, 7, false, "podstream.yml: error: empty"));
    assert_int_equal(ps_gui_devices_refresh(d, T0, &s, &em), PS_OK);
    assert_int_equal(s->reload.generation, 7);
    assert_false(s->reload.accepted);
    assert_string_equal(s->reload.reason, "podstream.yml: error: empty");
    ps_gui_snapshot_destroy(s);
    ps_gui_devices_destroy(d);
    gui_fixture_remove_tree(dir);
    g_free(cdir);
    g_free(db);
    g_free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nothing_saved_says_nothing),
        cmocka_unit_test(test_accepted),
        cmocka_unit_test(test_decided_just_before_the_save_returned),
        cmocka_unit_test(test_rejected_then_fixed),
        cmocka_unit_test(test_not_running_then_started),
        cmocka_unit_test(test_no_answer),
        cmocka_unit_test(test_refresh_reads_the_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
