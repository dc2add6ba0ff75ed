/* ps_store outputs (#16): cursors survive reopening and never move backwards; the
 * read returns events in id order with their JSON, bounded by count and bytes;
 * retention by age waits for the lowest enabled cursor, the size cap does not and
 * counts what it took from each output; a disabled output holds nothing back. */
#include "test_store_util.h"

#define DAY_US (86400LL * 1000000LL)
#define T0     1716336000000000LL /* 2024-05-22T00:00:00Z */

static ps_store *open_writer(const scratch *s)
{
    ps_store *st = NULL;
    ps_errmsg em;
    if (ps_store_create(s->db, PS_STORE_WRITER, &st, &em) != PS_OK)
        fail_msg("open: %s", em.text);
    return st;
}

/* n maillog events of device 7, one a minute from T0. */
static void fill(ps_store *st, int n)
{
    ps_errmsg em;
    char raw[512], when[40];
    assert_int_equal(ps_store_begin(st, &em), PS_OK);
    for (int i = 0; i < n; i++) {
        ps_event ev;
        bool dup = true;
        ps_time_format_iso(T0 + (int64_t)i * 60000000LL, when, sizeof when);
        snprintf(raw, sizeof raw, "{\"id\":\"e%05d\",\"ts\":\"%s\",\"sm\":{\"qid\":\"Q%d\"}}", i,
                 when, i);
        event_from(&ev, PS_DATA_MAILLOG, raw, strlen(raw));
        assert_int_equal(ps_store_insert(st, 7, &ev, raw, strlen(raw), NULL, &dup, &em), PS_OK);
        assert_false(dup);
        ps_event_deinit(&ev);
    }
    assert_int_equal(ps_store_commit(st, &em), PS_OK);
}

typedef struct seen {
    int n;
    int64_t ids[64];
    char first_json[256];
} seen;

static bool take(const ps_event_row *r, void *ctx)
{
    seen *s = ctx;
    if (s->n == 0)
        snprintf(s->first_json, sizeof s->first_json, "%.*s", (int)r->raw_len, r->raw);
    if (s->n < 64)
        s->ids[s->n] = r->id;
    s->n++;
    return true;
}

static const ps_output_row *find(const ps_output_row *rows, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(rows[i].name, name) == 0)
            return &rows[i];
    return NULL;
}

static void test_cursor_and_read(void **state)
{
    scratch s;
    ps_store *st;
    ps_errmsg em;
    seen sn;
    int64_t last = -1, cur = -1;
    const char *names[] = {"siem", "file"}, *types[] = {"syslog", "file"};
    ps_output_row c, *rows = NULL;
    size_t n = 0;
    (void)state;
    scratch_make(&s);
    st = open_writer(&s);
    fill(st, 10);
    assert_int_equal(ps_store_outputs_sync(st, names, types, 2, &em), PS_OK);
    assert_int_equal(ps_store_output_cursor(st, "siem", &cur, &em), PS_OK);
    assert_int_equal(cur, 0);
    memset(&sn, 0, sizeof sn);
    assert_int_equal(ps_store_output_read(st, 0, 4, 0, take, &sn, &last, &em), PS_OK);
    assert_int_equal(sn.n, 4);
    assert_int_equal(sn.ids[0], 1);
    assert_int_equal(sn.ids[3], 4);
    assert_int_equal(last, 4);
    assert_non_null(strstr(sn.first_json, "\"id\":\"e00000\""));
    /* A byte bound stops before the event that would pass it; the first always goes. */
    memset(&sn, 0, sizeof sn);
    assert_int_equal(ps_store_output_read(st, 4, 0, 1, take, &sn, &last, &em), PS_OK);
    assert_int_equal(sn.n, 1);
    assert_int_equal(last, 5);
    memset(&c, 0, sizeof c);
    c.delivered = 5;
    c.last_delivery_us = T0;
    assert_int_equal(ps_store_output_commit(st, "siem", 5, &c, &em), PS_OK);
    /* Never backwards: a late commit of an older batch changes nothing. */
    c.delivered = 0;
    c.last_delivery_us = 0;
    assert_int_equal(ps_store_output_commit(st, "siem", 3, &c, &em), PS_OK);
    ps_store_destroy(st);
    st = open_writer(&s);
    assert_int_equal(ps_store_output_cursor(st, "siem", &cur, &em), PS_OK);
    assert_int_equal(cur, 5);
    assert_int_equal(ps_store_output_list(st, &rows, &n, &em), PS_OK);
    assert_int_equal(n, 2);
    assert_int_equal(find(rows, n, "siem")->backlog, 5);
    assert_int_equal(find(rows, n, "siem")->delivered, 5);
    assert_int_equal(find(rows, n, "siem")->last_delivery_us, T0);
    assert_int_equal(find(rows, n, "file")->backlog, 10);
    assert_string_equal(find(rows, n, "file")->type, "file");
    free(rows);
    ps_store_destroy(st);
    scratch_remove(&s);
}

static void test_retention_waits_for_outputs(void **state)
{
    scratch s;
    ps_store *st;
    ps_errmsg em;
    ps_retention_policy p = {.days = 1, .max_bytes = 0};
    ps_retention_result r;
    const char *names[] = {"slow", "fast"}, *types[] = {"file", "file"};
    ps_output_row c, *rows = NULL;
    size_t n = 0;
    sqlite3 *db;
    (void)state;
    scratch_make(&s);
    st = open_writer(&s);
    fill(st, 20);
    assert_int_equal(ps_store_outputs_sync(st, names, types, 2, &em), PS_OK);
    memset(&c, 0, sizeof c);
    assert_int_equal(ps_store_output_commit(st, "slow", 6, &c, &em), PS_OK);
    assert_int_equal(ps_store_output_commit(st, "fast", 20, &c, &em), PS_OK);
    /* Every event is past the age limit; only those both outputs have are deleted. */
    assert_int_equal(ps_store_retention_step(st, T0 + 10 * DAY_US, &p, 100, &r, &em), PS_OK);
    assert_int_equal(r.deleted_age, 6);
    db = peek_open(s.db);
    assert_int_equal(peek_int(db, "SELECT min(id) FROM events"), 7);
    sqlite3_close(db);
    /* Disabled (removed from the configuration): it holds nothing back any more,
     * but the event with the highest id stays so that no id is handed out twice. */
    assert_int_equal(ps_store_outputs_sync(st, names + 1, types + 1, 1, &em), PS_OK);
    assert_int_equal(ps_store_retention_step(st, T0 + 10 * DAY_US, &p, 100, &r, &em), PS_OK);
    assert_int_equal(r.deleted_age, 13);
    assert_int_equal(ps_store_outputs_sync(st, names, types, 2, &em), PS_OK);
    {
        char raw[256];
        ps_event ev;
        bool dup;
        assert_int_equal(ps_store_begin(st, &em), PS_OK);
        for (int i = 0; i < 5; i++) {
            snprintf(raw, sizeof raw, "{\"id\":\"z%d\",\"ts\":\"2024-06-01T00:00:0%dZ\"}", i, i);
            event_from(&ev, PS_DATA_MAILLOG, raw, strlen(raw));
            assert_int_equal(ps_store_insert(st, 7, &ev, raw, strlen(raw), NULL, &dup, &em), PS_OK);
            ps_event_deinit(&ev);
        }
        assert_int_equal(ps_store_commit(st, &em), PS_OK);
    }
    db = peek_open(s.db);
    assert_int_equal(peek_int(db, "SELECT min(id) FROM events"), 20);
    assert_int_equal(peek_int(db, "SELECT max(id) FROM events"), 25);
    sqlite3_close(db);
    /* The size cap deletes what an enabled output still needs (oldest ts first: ids
     * 20, 21, 22), and counts it for each output whose cursor was below it. */
    p.days = 0;
    p.max_bytes = 1;
    assert_int_equal(ps_store_retention_step(st, T0, &p, 3, &r, &em), PS_OK);
    assert_int_equal(r.deleted_size, 3);
    assert_int_equal(ps_store_output_list(st, &rows, &n, &em), PS_OK);
    assert_int_equal(find(rows, n, "slow")->retention_dropped, 3);
    assert_int_equal(find(rows, n, "fast")->retention_dropped, 2);
    free(rows);
    ps_store_destroy(st);
    scratch_remove(&s);
}

/* What a row read for an output says against the event parsed again from its JSON. */
typedef struct typed_check {
    int rows, whole;
    char cut_key[64];
} typed_check;

static bool check_typed(const ps_event_row *r, void *ctx)
{
    typed_check *c = ctx;
    ps_event ev;
    c->rows++;
    if (!ps_store_row_values_whole(r)) {
        snprintf(c->cut_key, sizeof c->cut_key, "%s", r->key);
        return true;
    }
    c->whole++;
    event_from(&ev, r->type, r->raw, r->raw_len);
    for (int f = 0; f < PS_EF__COUNT; f++) {
        if (!ev.text[f] || !r->text[f])
            assert_true(!ev.text[f] == !r->text[f]);
        else
            assert_string_equal(r->text[f], ev.text[f]);
    }
    assert_int_equal(r->has_spam_score, ev.has_spam_score);
    if (ev.has_spam_score)
        assert_true(r->spam_score == ev.spam_score);
    assert_int_equal(r->has_size, ev.has_size);
    assert_int_equal(r->size_bytes, ev.size_bytes);
    ps_event_deinit(&ev);
    return true;
}

/* The ClickHouse output builds its typed columns from what the read gives instead of
 * parsing each event again: for every sample, those are what a parse gives, and a
 * value cut to its column is never taken for whole. */
static void test_read_gives_typed_columns(void **state)
{
    scratch s;
    ps_store *st;
    ps_errmsg em;
    lines msg, log;
    typed_check c;
    char subject[1600], *big;
    int64_t last = 0;
    (void)state;
    scratch_make(&s);
    st = open_writer(&s);
    lines_load(&msg, "message.jsonl");
    lines_load(&log, "maillog.jsonl");
    for (size_t i = 0; i < msg.n; i++)
        assert_false(store_one(st, 1, PS_DATA_MESSAGE, msg.v[i]));
    for (size_t i = 0; i < log.n; i++)
        assert_false(store_one(st, 2, PS_DATA_MAILLOG, log.v[i]));
    memset(subject, 'S', sizeof subject - 1);
    subject[sizeof subject - 1] = '\0';
    big = make_message("G-long-subject", "2024-05-22T12:10:03.058340Z", "Q1", "<m@x>",
                       "a@example.com", "b@example.com", subject, "reject");
    assert_false(store_one(st, 1, PS_DATA_MESSAGE, big));
    free(big);
    memset(&c, 0, sizeof c);
    assert_int_equal(ps_store_output_read(st, 0, 0, 0, check_typed, &c, &last, &em), PS_OK);
    assert_int_equal(c.rows, (int)(msg.n + log.n + 1));
    assert_int_equal(c.whole, (int)(msg.n + log.n));
    assert_string_equal(c.cut_key, "G-long-subject");
    lines_free(&msg);
    lines_free(&log);
    ps_store_destroy(st);
    scratch_remove(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cursor_and_read),
        cmocka_unit_test(test_retention_waits_for_outputs),
        cmocka_unit_test(test_read_gives_typed_columns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
