/* ps_store compression: the first events of a type go without a dictionary, a
 * dictionary trained from them is stored and used from then on, old rows stay
 * readable, a restart keeps using it, and damage is reported, not hidden. */
#include "test_store_util.h"

#include <time.h>

#include "engine/ps_queue.h"
#include "store/ps_store_elide.h"

#define T0 1716336000000000LL

/* Event i of a type, into raw (1024 bytes). */
static void make_raw(int i, ps_data_type type, char *raw, size_t cap)
{
    char when[40];
    ps_time_format_iso(T0 + (int64_t)i * 1000000, when, sizeof when);
    if (type == PS_DATA_MAILLOG)
        snprintf(raw, cap,
                 "{\"data\":\"sendmail[%d]: Q%07d: to=<user%d@corp.example>, delay=00:00:0%d,"
                 " mailer=esmtp, relay=mx%d.corp.example. [192.0.2.%d], dsn=2.0.0, stat=Sent "
                 "(Ok: queued as %X)\",\"id\":\"id%07d\",\"metadata\":{\"customerId\":"
                 "\"c82abcde-5678-42dd-1234-1234563f9cff\"},\"sm\":{\"dsn\":\"2.0.0\","
                 "\"mailer\":\"esmtp\",\"qid\":\"Q%07d\",\"relay\":\"mx%d.corp.example. "
                 "[192.0.2.%d]\",\"stat\":\"Sent (Ok: queued as %X)\",\"to\":[\"<user%d@corp."
                 "example>\"]},\"ts\":\"%s\"}",
                 1000 + i % 97, i, i % 40, i % 10, i % 5, i % 250, (unsigned)i * 2654435761u, i, i,
                 i % 5, i % 250, (unsigned)i * 2654435761u, i % 40, when);
    else
        snprintf(raw, cap,
                 "{\"guid\":\"g%07d\",\"ts\":\"%s\",\"envelope\":{\"from\":\"s%d@example.com\","
                 "\"rcpts\":[\"r%d@corp.example\"]},\"filter\":{\"qid\":\"Q%07d\","
                 "\"disposition\":\"accept\",\"actions\":[{\"module\":\"access\",\"rule\":"
                 "\"system\",\"action\":\"accept\",\"isFinal\":true}]},\"msg\":{\"header\":{"
                 "\"subject\":[\"status report %d\"]}}}",
                 i, when, i % 30, i % 40, i, i);
}

static void add(ps_store *st, int from, int to, ps_data_type type)
{
    ps_errmsg em;
    char raw[1024];
    assert_int_equal(ps_store_begin(st, &em), PS_OK);
    for (int i = from; i < to; i++) {
        ps_event ev;
        bool dup = true;
        make_raw(i, type, raw, sizeof raw);
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

/* ---- preparing on worker threads while the writer changes dictionaries ---- */

#define PAR_THREADS 4
#define PAR_EVENTS  3000

typedef struct par_item {
    ps_event ev;
    ps_store_row row;
    int i;
} par_item;

typedef struct par_ctx {
    ps_store *st;
    ps_queue *out;
    int first;
} par_ctx;

static ps_data_type par_type(int i)
{
    return i % 3 == 0 ? PS_DATA_MESSAGE : PS_DATA_MAILLOG;
}

/* A worker: prepares events first, first + PAR_THREADS, ... and hands them over. */
static void *par_worker(void *arg)
{
    par_ctx *c = arg;
    ps_store_prep *prep = NULL;
    ps_errmsg em;
    char raw[1024];
    if (ps_store_prep_create(c->st, &prep, &em) != PS_OK)
        return NULL;
    for (int i = c->first; i < PAR_EVENTS; i += PAR_THREADS) {
        par_item *it = calloc(1, sizeof *it);
        if (!it)
            break;
        it->i = i;
        make_raw(i, par_type(i), raw, sizeof raw);
        ps_event_init(&it->ev);
        ps_store_row_init(&it->row);
        if (ps_event_parse(&it->ev, par_type(i), raw, strlen(raw), &em) != PS_OK ||
            ps_event_extract(&it->ev, &em) != PS_OK ||
            ps_store_prepare(prep, &it->ev, raw, strlen(raw), &it->row, &em) != PS_OK) {
            ps_event_deinit(&it->ev);
            free(it);
            break; /* the writer then finds events missing */
        }
        /* The row needs nothing of the event or the JSON any more. */
        ps_event_deinit(&it->ev);
        memset(raw, 'x', sizeof raw - 1);
        ps_queue_push(c->out, it);
        /* Stay a few batches ahead of the writer, as the engine's window does, so
         * that dictionaries are installed while rows are being prepared. */
        while (ps_queue_length(c->out) > 200) {
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
        }
    }
    ps_store_prep_destroy(prep);
    return NULL;
}

static void test_parallel_prepare_while_dictionaries_change(void **state)
{
    scratch s;
    ps_store *st = NULL, *rd = NULL;
    ps_queue *q = NULL;
    ps_thread *th[PAR_THREADS];
    par_ctx ctx[PAR_THREADS];
    ps_errmsg em;
    sqlite3 *db;
    int stored = 0;
    (void)state;
    scratch_make(&s);
    assert_int_equal(ps_store_create(s.db, PS_STORE_WRITER, &st, &em), PS_OK);
    /* Train early and often. The writer waits for each training, so when the
     * dictionaries change is known; the workers go on preparing meanwhile, so
     * they change under the workers' feet. */
    ps_store_set_training(st, 100, 200, 300, true);
    assert_int_equal(ps_queue_create(&q), PS_OK);
    for (int t = 0; t < PAR_THREADS; t++) {
        ctx[t] = (par_ctx){st, q, t};
        assert_int_equal(ps_plat_thread_create(&th[t], "par_worker", par_worker, &ctx[t]), PS_OK);
    }
    while (stored < PAR_EVENTS) {
        void *batch[50];
        int closed = 0;
        size_t n = ps_queue_pop_batch(q, batch, 50, 5000, 0, &closed);
        if (n == 0)
            fail_msg("workers stalled after %d events", stored);
        assert_int_equal(ps_store_begin(st, &em), PS_OK);
        for (size_t k = 0; k < n; k++) {
            par_item *it = batch[k];
            bool dup = true;
            if (ps_store_put(st, 1, &it->row, NULL, &dup, &em) != PS_OK)
                fail_msg("put: %s", em.text);
            assert_false(dup);
        }
        assert_int_equal(ps_store_commit(st, &em), PS_OK);
        for (size_t k = 0; k < n; k++) {
            par_item *it = batch[k];
            ps_store_row_deinit(&it->row);
            free(it);
        }
        stored += (int)n;
    }
    for (int t = 0; t < PAR_THREADS; t++)
        (void)ps_plat_thread_join(th[t]);
    ps_queue_destroy(q);
    ps_store_destroy(st);

    db = peek_open(s.db);
    assert_int_equal(peek_int(db, "SELECT count(*) FROM events"), PAR_EVENTS);
    /* Both types got a dictionary while rows were being prepared. */
    assert_true(peek_int(db, "SELECT count(DISTINCT type) FROM dicts") == 2);
    assert_true(peek_int(db, "SELECT count(*) FROM events WHERE dict_id = 0") > 0);
    assert_true(peek_int(db, "SELECT count(*) FROM events WHERE dict_id <> 0") > PAR_EVENTS / 2);
    assert_int_equal(peek_int(db, "SELECT sum(refs) FROM dicts"),
                     peek_int(db, "SELECT count(*) FROM events WHERE dict_id <> 0"));
    sqlite3_close(db);
    /* Every row gives back exactly the JSON it was prepared from. */
    assert_int_equal(ps_store_create(s.db, PS_STORE_READER, &rd, &em), PS_OK);
    for (int64_t id = 1; id <= PAR_EVENTS; id++) {
        char *json = NULL, want[1024];
        size_t len = 0;
        if (ps_store_event_raw(rd, id, &json, &len, &em) != PS_OK)
            fail_msg("event %lld: %s", (long long)id, em.text);
        /* which event: its key is in the JSON; find i from the id or guid */
        {
            const char *k = strstr(json, "\"guid\":\"g");
            int i = -1;
            if (k)
                i = atoi(k + 9);
            else if ((k = strstr(json, "\"id\":\"id")))
                i = atoi(k + 8);
            assert_true(i >= 0 && i < PAR_EVENTS);
            make_raw(i, par_type(i), want, sizeof want);
            assert_int_equal(len, strlen(want));
            assert_memory_equal(json, want, len);
        }
        free(json);
    }
    ps_store_destroy(rd);
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

/* A damaged frame header that claims a huge event must not make a reader allocate
 * it (found by fuzz_codec: 800 MB for one row). */
static void test_damaged_size_is_not_allocated(void **state)
{
    scratch s;
    ps_store *st = NULL, *rd = NULL;
    ps_errmsg em;
    sqlite3 *db;
    char *raw = NULL;
    size_t len = 0;
    char expect[600];
    long long raw_len;
    (void)state;
    scratch_make(&s);
    assert_int_equal(ps_store_create(s.db, PS_STORE_WRITER, &st, &em), PS_OK);
    add(st, 0, 10, PS_DATA_MAILLOG);
    ps_store_destroy(st);
    db = peek_open(s.db);
    raw_len = peek_int(db, "SELECT raw_len FROM events WHERE id = 5");
    /* Magic, a single-segment header with a 4-byte content size of 1 GiB, no blocks. */
    assert_int_equal(sqlite3_exec(db, "UPDATE events SET raw = x'28b52ffda000000040' WHERE id = 5",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(ps_store_create(s.db, PS_STORE_READER, &rd, &em), PS_OK);
    assert_int_equal(ps_store_event_raw(rd, 5, &raw, &len, &em), PS_ERR_DB);
    snprintf(expect, sizeof expect,
             "%s: a stored event is damaged (1073741824 bytes instead of at most %lld)", s.db,
             raw_len);
    assert_string_equal(em.text, expect);
    assert_null(raw);
    ps_store_destroy(rd);
    scratch_remove(&s);
}

/* Elides text with a list and checks the markers: `want` writes a marker as "<i>". */
static void elide_case(const char *raw, const char *const *vals, unsigned n, const char *want)
{
    ps_elide_list l = {.n = 0};
    char *buf = NULL, *back = NULL, shown[512];
    size_t cap = 0, bcap = 0, len = 0, blen = 0, w = 0;
    bool elided = false;
    for (unsigned i = 0; i < n; i++)
        ps_store_elide_add(&l, vals[i], strlen(vals[i]));
    assert_int_equal(ps_store_elide(raw, strlen(raw), &l, &buf, &cap, &len, &elided), PS_OK);
    for (size_t i = 0; i < len && w + 8 < sizeof shown; i++) {
        if (elided && buf[i] == 0x01)
            w += (size_t)snprintf(shown + w, sizeof shown - w, "<%d>", buf[++i] - 0x20);
        else
            shown[w++] = buf[i];
    }
    shown[w] = '\0';
    assert_string_equal(shown, want);
    assert_int_equal(elided, strcmp(raw, want) != 0); /* else stored as it is */
    if (elided) {
        assert_true(ps_store_unelide_equals(buf, len, &l, raw, strlen(raw)));
        assert_int_equal(ps_store_unelide(buf, len, &l, &back, &bcap, &blen), PS_OK);
        assert_int_equal(blen, strlen(raw));
        assert_memory_equal(back, raw, blen);
    } else {
        assert_int_equal(len, strlen(raw));
        assert_memory_equal(buf, raw, len);
    }
    free(buf);
    free(back);
}

/* The one-pass elision: every occurrence of every value of six bytes or more, the
 * longest where two start at the same byte, at the very start and end, next to each
 * other; short values, values with a marker byte and text with one are left alone. */
static void test_elide_one_pass(void **state)
{
    static const char *const v1[] = {"QID12345", "bob@example.com", "<m.bob@example.com>"};
    static const char *const v2[] = {"abcdef", "abcdefgh", "xyz", "ghijkl"};
    static const char *const v3[] = {"\x01"
                                     "abcdef",
                                     "longvalue"};
    (void)state;
    elide_case("{\"qid\":\"QID12345\",\"from\":\"bob@example.com\",\"msgid\":"
               "\"<m.bob@example.com>\",\"data\":\"QID12345: from=<bob@example.com>\"}",
               v1, 3,
               "{\"qid\":\"<0>\",\"from\":\"<1>\",\"msgid\":\"<2>\",\"data\":\"<0>: from=<<1>>\"}");
    elide_case("abcdefghabcdefabcdefgh xyz ghijklabcdef", v2, 4, "<1><0><1> xyz <3><0>");
    elide_case("abcdeabcdeabcde", v2, 4, "abcdeabcdeabcde");
    elide_case("", v2, 4, "");
    elide_case("abcdef", v2, 4, "<0>");
    elide_case("a longvalue", v3, 2, "a <1>");
    elide_case("a longvalue \x01 and more", v3, 2, "a longvalue \x01 and more");
    elide_case("nothing to find here", v3, 0, "nothing to find here");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_elide_one_pass),
        cmocka_unit_test(test_bootstrap_and_restart),
        cmocka_unit_test(test_no_training_when_disabled),
        cmocka_unit_test(test_parallel_prepare_while_dictionaries_change),
        cmocka_unit_test(test_damage_is_reported),
        cmocka_unit_test(test_damaged_size_is_not_allocated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
