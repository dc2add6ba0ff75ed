/* ps_store's checkpointer: below the hard limit the committing thread leaves the
 * checkpoints to the "ps-ckpt" thread (it never restarts the WAL by itself while the
 * thread is held), past it the committing thread checkpoints itself so the WAL stays
 * bounded with the thread stopped, the WAL watch is not refused by the thread's
 * passes, and a close still leaves no WAL behind. */
#include "test_store_util.h"

/* A threshold small enough for a few dozen batches to pass it several times. */
#define PAGES 40

/* Stores n maillog events of device 1 in one batch, as the service's writer does:
 * each prepared first (ps_store_prepare), then put. Event i is one second after
 * event i - 1, from 2024-05-22T00:00:00Z on. */
static void put_batch(ps_store *st, int first, int n)
{
    ps_store_prep *prep = NULL;
    ps_store_row row;
    ps_errmsg em;
    assert_int_equal(ps_store_prep_create(st, &prep, &em), PS_OK);
    ps_store_row_init(&row);
    assert_int_equal(ps_store_begin(st, &em), PS_OK);
    for (int i = first; i < first + n; i++) {
        char raw[512];
        ps_event ev;
        bool dup = true;
        int len = snprintf(
            raw, sizeof raw,
            "{\"data\":\"sendmail: Q%07d: to=<bob%d@example.org>, stat=Sent\","
            "\"id\":\"ckpt%07d\",\"sm\":{\"qid\":\"Q%07d\",\"stat\":\"Sent\","
            "\"to\":[\"bob%d@example.org\"]},\"ts\":\"2024-05-22T%02d:%02d:%02d.000000Z\"}",
            i, i, i, i, i, (i / 3600) % 24, (i / 60) % 60, i % 60);
        event_from(&ev, PS_DATA_MAILLOG, raw, (size_t)len);
        if (ps_store_prepare(prep, &ev, raw, (size_t)len, &row, &em) != PS_OK ||
            ps_store_put(st, 1, &row, NULL, &dup, &em) != PS_OK)
            fail_msg("storing event %d: %s", i, em.text);
        assert_false(dup);
        ps_event_deinit(&ev);
    }
    assert_int_equal(ps_store_commit(st, &em), PS_OK);
    ps_store_row_deinit(&row);
    ps_store_prep_destroy(prep);
}

static ps_store *open_with_checkpointer(const scratch *s)
{
    ps_store *st = NULL;
    ps_errmsg em;
    if (ps_store_create(s->db, PS_STORE_WRITER, &st, &em) != PS_OK)
        fail_msg("open: %s", em.text);
    if (ps_store_checkpointer_start(st, PAGES, &em) != PS_OK)
        fail_msg("checkpointer: %s", em.text);
    return st;
}

static long long file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
}

/* Thread held, as a starved one would be: the WAL grows past the threshold without
 * a restart (the writer does not checkpoint below the hard limit), and past the hard
 * limit the writer checkpoints itself, so the WAL file stays bounded. */
static void test_held_thread_writer_checkpoints_past_hard_limit_only(void **state)
{
    scratch s;
    ps_store *st;
    ps_store_ckpt_stats cs;
    uint64_t prev = 0, written = 0, drops = 0, batch_max = 0;
    long long page_size, wal_max = 0;
    sqlite3 *h;
    char wal[320];
    (void)state;
    scratch_make(&s);
    snprintf(wal, sizeof wal, "%s-wal", s.db);
    st = open_with_checkpointer(&s);
    ps_store_checkpointer_hold(st, true);
    ps_store_checkpointer_stats(st, &cs);
    assert_int_equal(cs.pages, PAGES);
    assert_int_equal(cs.hard_pages, 4 * PAGES);
    for (int b = 0; b < 5000 && written < 4 * cs.hard_pages; b++) {
        put_batch(st, b * 20, 20);
        ps_store_checkpointer_stats(st, &cs);
        if (cs.wal_pages < prev) {
            /* Only the writer's own checkpoint past the hard limit restarts it. */
            if (prev < cs.hard_pages)
                fail_msg("the WAL restarted at %llu pages, below the hard limit %u",
                         (unsigned long long)prev, cs.hard_pages);
            drops++;
            written += cs.wal_pages;
        } else {
            written += cs.wal_pages - prev;
            if (cs.wal_pages - prev > batch_max)
                batch_max = cs.wal_pages - prev;
        }
        prev = cs.wal_pages;
        if (file_size(wal) > wal_max)
            wal_max = file_size(wal);
    }
    assert_true(drops >= 2);
    assert_true(cs.writer_runs >= drops);
    assert_int_equal(cs.thread_runs, 0);
    assert_true(cs.max_wal_pages < cs.hard_pages + batch_max + 1);
    h = peek_open(s.db);
    page_size = peek_int(h, "PRAGMA page_size");
    sqlite3_close(h);
    /* 32 bytes of header, 24 per frame. */
    assert_true(wal_max <= 32 + (long long)(cs.hard_pages + batch_max) * (page_size + 24));
    ps_store_destroy(st);
    scratch_remove(&s);
}

/* Waits up to 10 s for the thread to finish a pass after `runs`. */
static void wait_thread(ps_store *st, uint64_t runs)
{
    ps_store_ckpt_stats cs;
    for (int i = 0; i < 10000; i++) {
        ps_store_checkpointer_stats(st, &cs);
        if (cs.thread_runs > runs)
            return;
        ps_plat_sleep_ms(1);
    }
    fail_msg("the checkpoint thread did not run");
}

/* Thread running: it does the checkpoints, the WAL restarts after them, and the
 * writer never checkpoints by itself. */
static void test_thread_checkpoints_and_writer_never_does(void **state)
{
    scratch s;
    ps_store *st;
    ps_store_ckpt_stats cs;
    uint64_t prev = 0, restarts = 0;
    (void)state;
    scratch_make(&s);
    st = open_with_checkpointer(&s);
    for (int b = 0; b < 5000 && restarts < 3; b++) {
        ps_store_checkpointer_stats(st, &cs);
        put_batch(st, b * 20, 20);
        {
            ps_store_ckpt_stats now;
            ps_store_checkpointer_stats(st, &now);
            if (now.wal_pages < prev)
                restarts++;
            prev = now.wal_pages;
            if (now.wal_pages >= PAGES)
                wait_thread(st, cs.thread_runs);
        }
    }
    ps_store_checkpointer_stats(st, &cs);
    assert_int_equal(restarts, 3);
    assert_true(cs.thread_runs >= 3);
    assert_int_equal(cs.writer_runs, 0);
    assert_true(cs.max_wal_pages < cs.hard_pages);
    ps_store_destroy(st);
    scratch_remove(&s);
}

/* The WAL watch's checkpoint waits for the thread's pass instead of being refused
 * as busy, which it would report as a reader blocking the WAL. */
static void test_wal_watch_is_not_blocked_by_the_thread(void **state)
{
    scratch s;
    ps_store *st;
    ps_store_wal w;
    ps_errmsg em;
    (void)state;
    scratch_make(&s);
    st = open_with_checkpointer(&s);
    for (int b = 0; b < 200; b++) {
        put_batch(st, b * 20, 20);
        assert_int_equal(ps_store_wal_check(st, 1, ps_plat_now_us(), &w, &em), PS_OK);
        assert_false(w.blocked);
    }
    ps_store_destroy(st);
    scratch_remove(&s);
}

/* A close with the thread running ends it and still checkpoints and removes the
 * WAL; stopping it gives the store its own checkpoints back. */
static void test_close_and_stop(void **state)
{
    scratch s;
    ps_store *st;
    ps_store_ckpt_stats cs;
    char wal[320];
    (void)state;
    scratch_make(&s);
    snprintf(wal, sizeof wal, "%s-wal", s.db);
    st = open_with_checkpointer(&s);
    put_batch(st, 0, 50);
    ps_store_checkpointer_stop(st);
    ps_store_checkpointer_stats(st, &cs);
    assert_int_equal(cs.hard_pages, 0);
    ps_store_checkpointer_stop(st); /* nothing to stop */
    {
        ps_errmsg em;
        assert_int_equal(ps_store_checkpointer_start(st, 0, &em), PS_OK);
        ps_store_checkpointer_stats(st, &cs);
        assert_int_equal(cs.pages, 1000);
    }
    put_batch(st, 50, 50);
    assert_true(file_size(wal) > 0);
    ps_store_destroy(st);
    assert_int_equal(file_size(wal), -1);
    {
        sqlite3 *h = peek_open(s.db);
        assert_int_equal(peek_int(h, "SELECT count(*) FROM events"), 100);
        sqlite3_close(h);
    }
    scratch_remove(&s);
}

/* A reader store has no checkpointer. */
static void test_reader_refused(void **state)
{
    scratch s;
    ps_store *st = NULL, *rd = NULL;
    ps_errmsg em;
    (void)state;
    scratch_make(&s);
    assert_int_equal(ps_store_create(s.db, PS_STORE_WRITER, &st, &em), PS_OK);
    put_batch(st, 0, 5);
    assert_int_equal(ps_store_create(s.db, PS_STORE_READER, &rd, &em), PS_OK);
    assert_int_equal(ps_store_checkpointer_start(rd, 0, &em), PS_ERR_INTERNAL);
    ps_store_destroy(rd);
    ps_store_destroy(st);
    scratch_remove(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_held_thread_writer_checkpoints_past_hard_limit_only),
        cmocka_unit_test(test_thread_checkpoints_and_writer_never_does),
        cmocka_unit_test(test_wal_watch_is_not_blocked_by_the_thread),
        cmocka_unit_test(test_close_and_stop),
        cmocka_unit_test(test_reader_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
