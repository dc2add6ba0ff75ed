/* ps_engine_repair: which window a close widens, when a trip is due, what it
 * takes, and that a trip's own close does not make the next trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine/ps_engine_repair.h"

#define MIN (INT64_C(60) * 1000000)
#define DAY (24 * 60 * MIN)

static const eng_repair_timing timing = {35 * MIN, 7 * DAY};

static void assert_window(eng_window w, int64_t from, int64_t to)
{
    assert_int_equal(w.from, from);
    assert_int_equal(w.to, to);
}

/* A trip made at `now` and fetched in full, its own close adding to the trip
 * window meanwhile as the engine's does. */
static void trip_with_own_close(eng_repair *r, int64_t now, eng_window out[ENG_WINDOW_KINDS])
{
    assert_true(eng_repair_take(r, now, &timing, out));
    eng_repair_add(r, ENG_WINDOW_TRIP, now - 15 * MIN, now);
    for (int k = 0; k < ENG_WINDOW_KINDS; k++)
        if (out[k].to)
            eng_repair_done(r, (eng_window_kind)k, out[k]);
}

static void test_add_merges(void **state)
{
    eng_repair r = {0};
    (void)state;
    eng_repair_add(&r, ENG_WINDOW_REPAIR, 100 * MIN, 120 * MIN);
    eng_repair_add(&r, ENG_WINDOW_REPAIR, 90 * MIN, 110 * MIN);
    eng_repair_add(&r, ENG_WINDOW_REPAIR, 130 * MIN, 140 * MIN);
    assert_window(r.win[ENG_WINDOW_REPAIR], 90 * MIN, 140 * MIN);
    assert_window(r.win[ENG_WINDOW_TRIP], 0, 0);
}

static void test_repair_due_after_archive_delay(void **state)
{
    eng_repair r = {0};
    eng_window out[ENG_WINDOW_KINDS];
    (void)state;
    assert_false(eng_repair_take(&r, 1000 * MIN, &timing, out));
    eng_repair_add(&r, ENG_WINDOW_REPAIR, 85 * MIN, 100 * MIN);
    assert_false(eng_repair_take(&r, 134 * MIN, &timing, out));
    assert_true(eng_repair_take(&r, 135 * MIN, &timing, out));
    assert_window(out[ENG_WINDOW_REPAIR], 85 * MIN, 100 * MIN);
    assert_window(out[ENG_WINDOW_TRIP], 0, 0);
    eng_repair_done(&r, ENG_WINDOW_REPAIR, out[ENG_WINDOW_REPAIR]);
    assert_window(r.win[ENG_WINDOW_REPAIR], 0, 0);
}

/* The bug this module fixes: each trip's close opened a window that made the
 * next trip, forever. Now a day without incidents after one trip has no trip. */
static void test_trips_do_not_chain(void **state)
{
    eng_repair r = {0};
    eng_window out[ENG_WINDOW_KINDS];
    (void)state;
    eng_repair_add(&r, ENG_WINDOW_REPAIR, 85 * MIN, 100 * MIN);
    trip_with_own_close(&r, 135 * MIN, out);
    assert_window(r.win[ENG_WINDOW_REPAIR], 0, 0);
    assert_window(r.win[ENG_WINDOW_TRIP], 120 * MIN, 135 * MIN);
    for (int64_t now = 136 * MIN; now < 135 * MIN + timing.trip_max_age_us; now += 10 * MIN)
        assert_false(eng_repair_take(&r, now, &timing, out));
}

/* The next real incident's trip also takes the trip window, apart. */
static void test_next_trip_takes_both_windows(void **state)
{
    eng_repair r = {0};
    eng_window out[ENG_WINDOW_KINDS];
    (void)state;
    eng_repair_add(&r, ENG_WINDOW_REPAIR, 85 * MIN, 100 * MIN);
    trip_with_own_close(&r, 135 * MIN, out);
    eng_repair_add(&r, ENG_WINDOW_REPAIR, 585 * MIN, 600 * MIN);
    assert_true(eng_repair_take(&r, 635 * MIN, &timing, out));
    assert_window(out[ENG_WINDOW_REPAIR], 585 * MIN, 600 * MIN);
    assert_window(out[ENG_WINDOW_TRIP], 120 * MIN, 135 * MIN);
    /* This trip's own close widens the trip window it took: only that is kept. */
    eng_repair_add(&r, ENG_WINDOW_TRIP, 620 * MIN, 635 * MIN);
    eng_repair_done(&r, ENG_WINDOW_REPAIR, out[ENG_WINDOW_REPAIR]);
    eng_repair_done(&r, ENG_WINDOW_TRIP, out[ENG_WINDOW_TRIP]);
    assert_window(r.win[ENG_WINDOW_REPAIR], 0, 0);
    assert_window(r.win[ENG_WINDOW_TRIP], 620 * MIN, 635 * MIN);
}

/* A trip window the archive does not hold yet stays for a later trip, and one
 * more trip close merges into it. */
static void test_young_trip_window_waits(void **state)
{
    eng_repair r = {0};
    eng_window out[ENG_WINDOW_KINDS];
    (void)state;
    eng_repair_add(&r, ENG_WINDOW_TRIP, 150 * MIN, 165 * MIN);
    eng_repair_add(&r, ENG_WINDOW_REPAIR, 125 * MIN, 140 * MIN);
    trip_with_own_close(&r, 175 * MIN, out);
    assert_window(out[ENG_WINDOW_TRIP], 0, 0);
    assert_window(r.win[ENG_WINDOW_TRIP], 150 * MIN, 175 * MIN);
    assert_window(r.win[ENG_WINDOW_REPAIR], 0, 0);
}

/* With no incident at all, the trip window alone makes a trip once max_age old:
 * at most one trip per max_age. */
static void test_trip_window_alone_after_max_age(void **state)
{
    eng_repair r = {0};
    eng_window out[ENG_WINDOW_KINDS];
    int64_t end = 135 * MIN;
    (void)state;
    eng_repair_add(&r, ENG_WINDOW_TRIP, end - 15 * MIN, end);
    assert_false(eng_repair_take(&r, end + timing.trip_max_age_us - 1, &timing, out));
    trip_with_own_close(&r, end + timing.trip_max_age_us, out);
    assert_window(out[ENG_WINDOW_REPAIR], 0, 0);
    assert_window(out[ENG_WINDOW_TRIP], end - 15 * MIN, end);
    end += timing.trip_max_age_us;
    assert_window(r.win[ENG_WINDOW_TRIP], end - 15 * MIN, end);
    assert_false(eng_repair_take(&r, end + timing.trip_max_age_us - 1, &timing, out));
}

/* A close while the trip runs (the repair window was taken) is kept for later. */
static void test_close_during_trip_kept(void **state)
{
    eng_repair r = {0};
    eng_window out[ENG_WINDOW_KINDS];
    (void)state;
    eng_repair_add(&r, ENG_WINDOW_REPAIR, 85 * MIN, 100 * MIN);
    assert_true(eng_repair_take(&r, 135 * MIN, &timing, out));
    eng_repair_add(&r, ENG_WINDOW_REPAIR, 125 * MIN, 136 * MIN);
    eng_repair_done(&r, ENG_WINDOW_REPAIR, out[ENG_WINDOW_REPAIR]);
    assert_window(r.win[ENG_WINDOW_REPAIR], 125 * MIN, 136 * MIN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_merges),
        cmocka_unit_test(test_repair_due_after_archive_delay),
        cmocka_unit_test(test_trips_do_not_chain),
        cmocka_unit_test(test_next_trip_takes_both_windows),
        cmocka_unit_test(test_young_trip_window_waits),
        cmocka_unit_test(test_trip_window_alone_after_max_age),
        cmocka_unit_test(test_close_during_trip_kept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
