/* ps_store compression: the first events of a type go without a dictionary, a
 * dictionary trained from them is stored and used from then on, old rows stay
 * readable, a restart keeps using it, and damage is reported, not hidden. */
#include "test_store_util.h"

#define T0 1716336000000000LL

static void add(ps_store *st, int from, int to, ps_data_type type)
{
    ps_errmsg em;
    char raw[1024], when[40];
    assert_int_equal(ps_store_begin(st, &em), PS_OK);
    for (int i = from; i < to; i++) {
        ps_event ev;
        bool dup = true;
        ps_event_format_ts(T0 + (int64_t)i * 1000000, when, sizeof when);
        if (type == PS_DATA_MAILLOG)
            snprintf(raw, sizeof raw,
                     "{\"data\":\"sendmail[%d]: Q%07d: to=<user%d@corp.example>, delay=00:00:0%d,"
                     " mailer=esmtp, relay=mx%d.corp.example. [192.0.2.%d], dsn=2.0.0, stat=Sent "
                     "(Ok: queued as %X)\",\"id\":\"id%07d\",\"metadata\":{\"customerId\":"
                     "\"c82abcde-5678-42dd-1234-1234563f9cff\"},\"sm\":{\"dsn\":\"2.0.0\","
                     "\"mailer\":\"esmtp\",\"qid\":\"Q%07d\",\"relay\":\"mx%d.corp.example. "
                     "[192.0.2.%d]\",\"stat\":\"Sent (Ok: queued as %X)\",\"to\":[\"<user%d@corp."
                     "example>\"]},\"ts\":\"%s\"}",
                     1000 + i % 97, i, i % 40, i % 10, i % 5, i % 250, (unsigned)i * 2654435761u, i,
                     i, i % 5, i % 250, (unsigned)i * 2654435761u, i % 40, when);
        else
            snprintf(raw, sizeof raw,
                     "{\"guid\":\"g%07d\",\"ts\":\"%s\",\"envelope\":{\"from\":\"s%d@example.com\","
                     "\"rcpts\":[\"r%d@corp.example\"]},\"filter\":{\"qid\":\"Q%07d\","
                     "\"disposition\":\"accept\",\"actions\":[{\"module\":\"access\",\"rule\":"
                     "\"system\",\"action\":\"accept\",\"isFinal\":true}]},\"msg\":{\"header\":{"
                     "\"subject\":[\"status report %d\"]}}}",
                     i, when, i % 30, i % 40, i, i);
        event_from(&ev, type, raw, strlen(raw));
        assert_int_equal(ps_store_insert(st, 1, &ev, raw, strlen(raw), NULL, &dup, &em), PS_OK);
        assert_false(dup);
        ps_event_deinit(&ev);
    }
    assert_int_equal(ps_store_commit(st, &em), PS_OK);
}

/* Every stored event decompresses to JSON that names its own key. */
static void check_all_readable(const char *path, int n)
{
    ps_store *rd = NULL;
    ps_errmsg em;
    assert_int_equal(ps_store_create(path, PS_STORE_READER, &rd, &em), PS_OK);
    for (int64_t id = 1; id <= n; id++) {
        char *raw = NULL;
        size_t len = 0;
        if (ps_store_event_raw(rd, id, &raw, &len, &em) != PS_OK)
            fail_msg("event %lld: %s", (long long)id, em.text);
        assert_int_equal(raw[0], '{');
        assert_int_equal(raw[len - 1], '}');
        assert_int_equal(strlen(raw), len);
        free(raw);
    }
    ps_store_destroy(rd);
}

static void test_bootstrap_and_restart(void **state)
{
    scratch s;
    ps_store *st = NULL;
    ps_errmsg em;
    sqlite3 *db;
    (void)state;
    scratch_make(&s);
    assert_int_equal(ps_store_create(s.db, PS_STORE_WRITER, &st, &em), PS_OK);
    ps_store_set_training(st, 100, 300, 0, true);
    /* 99 events: not enough to train. */
    add(st, 0, 99, PS_DATA_MAILLOG);
    db = peek_open(s.db);
    assert_int_equal(peek_int(db, "SELECT count(*) FROM dicts"), 0);
    sqlite3_close(db);
    /* The 100th starts a training; the next batch installs it and uses it. */
    add(st, 99, 100, PS_DATA_MAILLOG);
    add(st, 100, 200, PS_DATA_MAILLOG);
    db = peek_open(s.db);
    assert_int_equal(peek_int(db, "SELECT count(*) FROM dicts WHERE type = 1"), 1);
    assert_int_equal(peek_int(db, "SELECT samples FROM dicts"), 100);
    assert_int_equal(peek_int(db, "SELECT count(*) FROM events WHERE dict_id = 0"), 100);
    assert_int_equal(peek_int(db, "SELECT count(*) FROM events WHERE dict_id = 1"), 100);
    assert_int_equal(peek_int(db, "SELECT refs FROM dicts WHERE id = 1"), 100);
    /* The dictionary pays: rows with it are smaller. */
    assert_true(peek_int(db, "SELECT avg(length(raw)) FROM events WHERE dict_id = 1") * 2 <
                peek_int(db, "SELECT avg(length(raw)) FROM events WHERE dict_id = 0"));
    /* The message type has its own (none yet). */
    assert_int_equal(peek_int(db, "SELECT count(*) FROM dicts WHERE type = 0"), 0);
    sqlite3_close(db);
    ps_store_destroy(st);
    /* After a restart the stored dictionary is used at once, not retrained. */
    assert_int_equal(ps_store_create(s.db, PS_STORE_WRITER, &st, &em), PS_OK);
    add(st, 200, 250, PS_DATA_MAILLOG);
    ps_store_destroy(st);
    db = peek_open(s.db);
    assert_int_equal(peek_int(db, "SELECT count(*) FROM dicts"), 1);
    assert_int_equal(peek_int(db, "SELECT count(*) FROM events WHERE id > 200 AND dict_id = 1"),
                     50);
    sqlite3_close(db);
    check_all_readable(s.db, 250);
    scratch_remove(&s);
}

static void test_no_training_when_disabled(void **state)
{
    scratch s;
    ps_store *st = NULL;
    ps_errmsg em;
    sqlite3 *db;
    (void)state;
    scratch_make(&s);
    assert_int_equal(ps_store_create(s.db, PS_STORE_WRITER, &st, &em), PS_OK);
    ps_store_set_training(st, 0, 300, 0, true);
    add(st, 0, 300, PS_DATA_MESSAGE);
    add(st, 300, 310, PS_DATA_MESSAGE);
    ps_store_destroy(st);
    db = peek_open(s.db);
    assert_int_equal(peek_int(db, "SELECT count(*) FROM dicts"), 0);
    sqlite3_close(db);
    check_all_readable(s.db, 310);
    scratch_remove(&s);
}

static void test_damage_is_reported(void **state)
{
    scratch s;
    ps_store *st = NULL, *rd = NULL;
    ps_errmsg em;
    sqlite3 *db;
    char *raw = NULL;
    size_t len = 0;
    char expect[600];
    (void)state;
    scratch_make(&s);
    assert_int_equal(ps_store_create(s.db, PS_STORE_WRITER, &st, &em), PS_OK);
    ps_store_set_training(st, 50, 100, 0, true);
    add(st, 0, 50, PS_DATA_MAILLOG);
    add(st, 50, 60, PS_DATA_MAILLOG);
    ps_store_destroy(st);
    db = peek_open(s.db);
    assert_int_equal(peek_int(db, "SELECT dict_id FROM events WHERE id = 55"), 1);
    assert_int_equal(sqlite3_exec(db,
                                  "DELETE FROM dicts; UPDATE events SET raw = x'00112233' "
                                  "WHERE id = 3",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(ps_store_create(s.db, PS_STORE_READER, &rd, &em), PS_OK);
    assert_int_equal(ps_store_event_raw(rd, 55, &raw, &len, &em), PS_ERR_DB);
    snprintf(expect, sizeof expect,
             "%s: compression dictionary 1 is missing; the database is damaged", s.db);
    assert_string_equal(em.text, expect);
    assert_null(raw);
    assert_int_equal(ps_store_event_raw(rd, 3, &raw, &len, &em), PS_ERR_DB);
    snprintf(expect, sizeof expect, "%s: a stored event is damaged (no zstd frame)", s.db);
    assert_string_equal(em.text, expect);
    assert_int_equal(ps_store_event_raw(rd, 4, &raw, &len, &em), PS_OK);
    free(raw);
    assert_int_equal(ps_store_event_raw(rd, 999, &raw, &len, &em), PS_ERR_NOTFOUND);
    assert_string_equal(em.text, "event 999 is not stored (any more)");
    ps_store_destroy(rd);
    scratch_remove(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bootstrap_and_restart),
        cmocka_unit_test(test_no_training_when_disabled),
        cmocka_unit_test(test_damage_is_reported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
