/* ps_tray_state (icon, tooltip, balloons of podstream-tray.exe) and ps_tray_source
 * (the counters read from a real database). Runs on Linux and under wine. */
#include "test_store_util.h"

#include "podstream/ps_utf8.h"
#include "ps_tray_source.h"
#include "ps_tray_state.h"

#define S_US 1000000LL
#define T0   (1700000000LL * S_US)

static ps_device_counters dev(long long id, const char *name, ps_device_state st, double rate,
                              int64_t updated_us)
{
    ps_device_counters c;
    memset(&c, 0, sizeof c);
    c.device_id = id;
    snprintf(c.name, sizeof c.name, "%s", name);
    c.state = st;
    c.rate_10s = rate;
    c.updated_us = updated_us;
    return c;
}

static ps_tray_view tick(ps_tray_state *s, ps_tray_service svc, const ps_device_counters *d,
                         size_t n, int64_t now)
{
    ps_tray_input in = {svc, true, NULL, d, n, now};
    ps_tray_view v;
    assert_int_equal(ps_tray_state_update(s, &in, &v), PS_OK);
    return v;
}

static ps_tray_state *new_state(void)
{
    ps_tray_state *s = NULL;
    assert_int_equal(ps_tray_state_create(&s), PS_OK);
    return s;
}

static void test_scm_states(void **state)
{
    (void)state;
    assert_int_equal(ps_tray_service_from_scm(NULL, PS_ERR_NOTFOUND), PS_TRAY_SVC_NOT_INSTALLED);
    assert_int_equal(ps_tray_service_from_scm(NULL, PS_ERR_UNSUPPORTED), PS_TRAY_SVC_UNKNOWN);
    assert_int_equal(ps_tray_service_from_scm("stopped", PS_OK), PS_TRAY_SVC_STOPPED);
    assert_int_equal(ps_tray_service_from_scm("start pending", PS_OK), PS_TRAY_SVC_START_PENDING);
    assert_int_equal(ps_tray_service_from_scm("stop pending", PS_OK), PS_TRAY_SVC_STOP_PENDING);
    assert_int_equal(ps_tray_service_from_scm("running", PS_OK), PS_TRAY_SVC_RUNNING);
    assert_int_equal(ps_tray_service_from_scm("paused", PS_OK), PS_TRAY_SVC_RUNNING);
    assert_string_equal(ps_tray_icon_name(PS_TRAY_ICON_BACKOFF), "backoff");
}

static void test_icons(void **state)
{
    ps_tray_state *s = new_state();
    ps_device_counters d[2] = {dev(1, "eu", PS_STATE_LIVE, 12.25, T0),
                               dev(2, "us", PS_STATE_BACKFILL, 30, T0 - S_US)};
    ps_tray_view v;
    (void)state;
    v = tick(s, PS_TRAY_SVC_RUNNING, d, 2, T0);
    assert_int_equal(v.icon, PS_TRAY_ICON_LIVE);
    assert_string_equal(v.tooltip, "podstream: live, 42 events/s");
    d[1].state = PS_STATE_BACKOFF;
    assert_int_equal(tick(s, PS_TRAY_SVC_RUNNING, d, 2, T0).icon, PS_TRAY_ICON_BACKOFF);
    d[1].state = PS_STATE_UNAUTHORISED;
    assert_int_equal(tick(s, PS_TRAY_SVC_RUNNING, d, 2, T0).icon, PS_TRAY_ICON_ERROR);
    /* A stale row (a device removed from the configuration) does not count. */
    d[1].updated_us = T0 - 60 * S_US;
    assert_int_equal(tick(s, PS_TRAY_SVC_RUNNING, d, 2, T0).icon, PS_TRAY_ICON_LIVE);
    v = tick(s, PS_TRAY_SVC_START_PENDING, d, 2, T0);
    assert_int_equal(v.icon, PS_TRAY_ICON_BACKOFF);
    assert_string_equal(v.tooltip, "podstream: starting");
    v = tick(s, PS_TRAY_SVC_STOPPED, d, 2, T0 + 10 * S_US);
    assert_int_equal(v.icon, PS_TRAY_ICON_STOPPED);
    assert_string_equal(v.tooltip, "podstream: stopped");
    assert_true(v.events_per_s == 0);
    v = tick(s, PS_TRAY_SVC_NOT_INSTALLED, NULL, 0, T0);
    assert_int_equal(v.icon, PS_TRAY_ICON_STOPPED);
    assert_string_equal(v.tooltip, "podstream: service not installed");
    ps_tray_state_destroy(s);
}

/* No service, yet fresh counters: `podstream run` in a console. */
static void test_console_run(void **state)
{
    ps_tray_state *s = new_state();
    ps_device_counters d = dev(1, "eu", PS_STATE_LIVE, 7, T0);
    ps_tray_view v;
    (void)state;
    v = tick(s, PS_TRAY_SVC_NOT_INSTALLED, &d, 1, T0);
    assert_int_equal(v.icon, PS_TRAY_ICON_LIVE);
    assert_string_equal(v.tooltip, "podstream: live, 7 events/s");
    d.updated_us = T0 + S_US;
    v = tick(s, PS_TRAY_SVC_STOPPED, &d, 1, T0 + 2 * S_US);
    assert_int_equal(v.icon, PS_TRAY_ICON_LIVE);
    v = tick(s, PS_TRAY_SVC_NOT_INSTALLED, &d, 1, T0 + 10 * S_US);
    assert_int_equal(v.icon, PS_TRAY_ICON_STOPPED);
    assert_true(v.balloon);
    ps_tray_state_destroy(s);
}

/* Running by the SCM, yet no fresh counter: hung, or a full disk. */
static void test_running_not_writing(void **state)
{
    ps_tray_state *s = new_state();
    ps_device_counters d = dev(1, "eu", PS_STATE_LIVE, 5, T0 - 30 * S_US);
    ps_tray_view v;
    (void)state;
    v = tick(s, PS_TRAY_SVC_RUNNING, &d, 1, T0);
    assert_int_equal(v.icon, PS_TRAY_ICON_ERROR);
    assert_string_equal(v.tooltip, "podstream: not writing its database, 0 events/s");
    v = tick(s, PS_TRAY_SVC_RUNNING, NULL, 0, T0);
    assert_int_equal(v.icon, PS_TRAY_ICON_BACKOFF);
    /* Without the SCM (Linux, or no access) the counters say whether it runs. */
    v = tick(s, PS_TRAY_SVC_UNKNOWN, &d, 1, T0);
    assert_int_equal(v.icon, PS_TRAY_ICON_STOPPED);
    assert_string_equal(v.tooltip, "podstream: not running");
    ps_tray_state_destroy(s);
}

static void test_tooltip_last_error(void **state)
{
    ps_tray_state *s = new_state();
    ps_device_counters d[2] = {dev(1, "eu", PS_STATE_LIVE, 1, T0),
                               dev(2, "us", PS_STATE_LIVE, 2, T0)};
    ps_tray_input in = {PS_TRAY_SVC_RUNNING, false, "database is locked", d, 0, T0};
    ps_tray_view v;
    (void)state;
    snprintf(d[0].last_error, sizeof d[0].last_error, "old failure");
    d[0].last_error_us = T0 - 100 * S_US;
    snprintf(d[1].last_error, sizeof d[1].last_error, "HTTP 503");
    d[1].last_error_us = T0 - 10 * S_US;
    v = tick(s, PS_TRAY_SVC_RUNNING, d, 2, T0);
    assert_string_equal(v.tooltip, "podstream: live, 3 events/s\nus: HTTP 503");
    assert_int_equal(ps_tray_state_update(s, &in, &v), PS_OK);
    assert_int_equal(v.icon, PS_TRAY_ICON_ERROR);
    assert_string_equal(v.tooltip, "podstream: database unreadable\ndatabase is locked");
    ps_tray_state_destroy(s);
}

/* 127 bytes at most, never cut inside a UTF-8 sequence. */
static void test_tooltip_cut(void **state)
{
    ps_tray_state *s = new_state();
    ps_device_counters d = dev(1, "eu", PS_STATE_ERROR, 0, T0);
    ps_tray_view v;
    size_t len;
    (void)state;
    for (size_t i = 0; i + 2 < sizeof d.last_error; i += 2)
        memcpy(d.last_error + i, "\xc3\xa9", 2); /* é */
    d.last_error_us = T0;
    v = tick(s, PS_TRAY_SVC_RUNNING, &d, 1, T0);
    len = strlen(v.tooltip);
    assert_true(len <= 127);
    assert_true(len >= 120);
    assert_true(ps_utf8_valid(v.tooltip, len, NULL));
    assert_int_equal(v.icon, PS_TRAY_ICON_ERROR);
    ps_tray_state_destroy(s);
}

static void test_balloon_service_stopped(void **state)
{
    ps_tray_state *s = new_state();
    ps_device_counters d = dev(1, "eu", PS_STATE_LIVE, 1, T0);
    ps_tray_view v;
    (void)state;
    /* Started beside a stopped service: quiet. */
    assert_false(tick(s, PS_TRAY_SVC_STOPPED, NULL, 0, T0).balloon);
    assert_false(tick(s, PS_TRAY_SVC_RUNNING, &d, 1, T0).balloon);
    v = tick(s, PS_TRAY_SVC_STOPPED, &d, 1, T0 + 2 * S_US);
    assert_true(v.balloon);
    assert_string_equal(v.b.title, "podstream stopped");
    assert_non_null(strstr(v.b.text, "is stopped"));
    assert_false(tick(s, PS_TRAY_SVC_STOPPED, &d, 1, T0 + 4 * S_US).balloon);
    assert_false(tick(s, PS_TRAY_SVC_NOT_INSTALLED, NULL, 0, T0 + 6 * S_US).balloon);
    /* Without the SCM: the counters going stale is the stop. */
    d.updated_us = T0 + 8 * S_US;
    assert_false(tick(s, PS_TRAY_SVC_UNKNOWN, &d, 1, T0 + 8 * S_US).balloon);
    assert_true(tick(s, PS_TRAY_SVC_UNKNOWN, &d, 1, T0 + 30 * S_US).balloon);
    ps_tray_state_destroy(s);
}

static void test_balloon_unauthorised(void **state)
{
    ps_tray_state *s = new_state();
    ps_device_counters d[2] = {dev(1, "eu", PS_STATE_UNAUTHORISED, 0, T0),
                               dev(2, "us", PS_STATE_LIVE, 0, T0)};
    ps_tray_view v;
    int64_t t = T0;
    (void)state;
    assert_false(tick(s, PS_TRAY_SVC_RUNNING, d, 2, t).balloon);
    t += 30 * S_US, d[0].updated_us = d[1].updated_us = t;
    assert_false(tick(s, PS_TRAY_SVC_RUNNING, d, 2, t).balloon);
    t += 30 * S_US, d[0].updated_us = d[1].updated_us = t;
    v = tick(s, PS_TRAY_SVC_RUNNING, d, 2, t);
    assert_true(v.balloon);
    assert_string_equal(v.b.title, "podstream: device unauthorised");
    assert_string_equal(v.b.text, "eu: POD refuses its token. Check it in the configuration.");
    t += 2 * S_US, d[0].updated_us = d[1].updated_us = t;
    assert_false(tick(s, PS_TRAY_SVC_RUNNING, d, 2, t).balloon);
    /* Authorised in between: a new episode, told again after its own minute. */
    d[0].state = PS_STATE_LIVE;
    assert_false(tick(s, PS_TRAY_SVC_RUNNING, d, 2, t).balloon);
    d[0].state = d[1].state = PS_STATE_UNAUTHORISED;
    assert_false(tick(s, PS_TRAY_SVC_RUNNING, d, 2, t).balloon);
    t += 61 * S_US, d[0].updated_us = d[1].updated_us = t;
    v = tick(s, PS_TRAY_SVC_RUNNING, d, 2, t);
    assert_true(v.balloon);
    assert_string_equal(v.b.title, "podstream: devices unauthorised");
    assert_non_null(strstr(v.b.text, "eu, us: POD refuses their tokens."));
    ps_tray_state_destroy(s);
}

static void test_source(void **state)
{
    scratch sc;
    ps_store *st = NULL;
    ps_tray_source *src = NULL;
    ps_device_counters c = dev(7, "eu", PS_STATE_LIVE, 3, T0), *out = NULL;
    size_t n = 0;
    ps_errmsg em;
    char missing[300];
    (void)state;
    scratch_make(&sc);
    assert_int_equal(ps_tray_source_create(NULL, sc.db, &src), PS_OK);
    /* No database yet: an error, then the same source reads it once it exists. */
    assert_int_not_equal(ps_tray_source_read(src, &out, &n, &em), PS_OK);
    assert_int_equal(ps_store_create(sc.db, PS_STORE_WRITER, &st, &em), PS_OK);
    assert_int_equal(ps_store_counters_put(st, &c, &em), PS_OK);
    assert_int_equal(ps_tray_source_read(src, &out, &n, &em), PS_OK);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].device_id, 7);
    assert_string_equal(out[0].name, "eu");
    free(out);
    ps_tray_source_destroy(src);
    ps_store_destroy(st);
    /* A configuration directory that does not exist says so. */
    snprintf(missing, sizeof missing, "%s/nowhere", sc.dir);
    assert_int_equal(ps_tray_source_create(missing, NULL, &src), PS_OK);
    assert_int_not_equal(ps_tray_source_read(src, &out, &n, &em), PS_OK);
    assert_non_null(strstr(em.text, "configuration"));
    ps_tray_source_destroy(src);
    ps_tray_source_destroy(NULL);
    ps_tray_state_destroy(NULL);
    scratch_remove(&sc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scm_states),
        cmocka_unit_test(test_icons),
        cmocka_unit_test(test_running_not_writing),
        cmocka_unit_test(test_console_run),
        cmocka_unit_test(test_tooltip_last_error),
        cmocka_unit_test(test_tooltip_cut),
        cmocka_unit_test(test_balloon_service_stopped),
        cmocka_unit_test(test_balloon_unauthorised),
        cmocka_unit_test(test_source),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
