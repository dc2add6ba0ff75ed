/* The quarantine's read and delete API: what ps_store_quarantine kept comes back
 * whole (payload, reason, device, type), filtered, newest first, and is deleted by
 * id, by device or all.
 *
 * The same program builds the databases of tests/cli/test_admin.sh:
 *   PS_ADMIN_FIXTURE=DB PS_ADMIN_DEVICES="DEV ..." test_store_quarantine
 * creates DB with three quarantined payloads (two of device 1, one of device 2) and
 * the counters of each DEV, written ID:NAME:TYPE:STATE:LAG_MS:EVENT_AGE_S:UPDATED_AGE_S
 * (EVENT_AGE_S -1: no event yet), as the service would have written them. */
#include "test_store_util.h"

static const char json_payload[] = "{\"guid\":\"q-1\",\"msg\":{\"parts\":[1,2]}}";
static const char text_payload[] = "not json at all\n";

typedef struct seen {
    size_t n;
    int64_t id[8];
    long long device[8];
    char raw[8][128];
    char reason[8][128];
} seen;

static bool collect(const ps_quarantine_row *r, void *ctx)
{
    seen *s = ctx;
    if (s->n < 8) {
        s->id[s->n] = r->id;
        s->device[s->n] = r->device_id;
        snprintf(s->raw[s->n], sizeof s->raw[0], "%.*s", (int)r->raw_len, r->raw ? r->raw : "");
        snprintf(s->reason[s->n], sizeof s->reason[0], "%s", r->reason);
    }
    s->n++;
    return true;
}

static ps_err put_three(ps_store *st, ps_errmsg *em)
{
    ps_err err = ps_store_begin(st, em);
    if (err == PS_OK)
        err = ps_store_quarantine(st, 1, PS_DATA_MESSAGE, json_payload, strlen(json_payload),
                                  "pipeline failed: strict: field msg.parts is a list", em);
    if (err == PS_OK)
        err = ps_store_quarantine(st, 1, PS_DATA_MESSAGE, text_payload, strlen(text_payload),
                                  "not JSON: unexpected character at 1:1", em);
    if (err == PS_OK)
        err = ps_store_quarantine(st, 2, PS_DATA_MAILLOG, "{}", 2, "no id", em);
    return err == PS_OK ? ps_store_commit(st, em) : err;
}

static void test_list_and_filter(void **state)
{
    scratch s;
    ps_store *st = NULL, *rd = NULL;
    ps_quarantine_filter f;
    ps_errmsg em;
    seen rows;
    size_t count = 0;
    (void)state;
    scratch_make(&s);
    assert_int_equal(ps_store_create(s.db, PS_STORE_WRITER, &st, &em), PS_OK);
    assert_int_equal(put_three(st, &em), PS_OK);
    assert_int_equal(ps_store_create(s.db, PS_STORE_READER, &rd, &em), PS_OK);

    ps_quarantine_filter_init(&f);
    memset(&rows, 0, sizeof rows);
    assert_int_equal(ps_store_quarantine_list(rd, &f, collect, &rows, &count, &em), PS_OK);
    assert_int_equal(count, 3);
    assert_true(rows.id[0] > rows.id[1] && rows.id[1] > rows.id[2]); /* newest first */
    assert_string_equal(rows.raw[0], "");                            /* not asked for */
    assert_string_equal(rows.reason[2], "pipeline failed: strict: field msg.parts is a list");

    f.want_raw = true;
    f.device_id = 1;
    memset(&rows, 0, sizeof rows);
    assert_int_equal(ps_store_quarantine_list(rd, &f, collect, &rows, &count, &em), PS_OK);
    assert_int_equal(count, 2);
    assert_string_equal(rows.raw[0], text_payload);
    assert_string_equal(rows.raw[1], json_payload);

    ps_quarantine_filter_init(&f);
    f.id = rows.id[1];
    f.want_raw = true;
    memset(&rows, 0, sizeof rows);
    assert_int_equal(ps_store_quarantine_list(rd, &f, collect, &rows, &count, &em), PS_OK);
    assert_int_equal(count, 1);
    assert_string_equal(rows.raw[0], json_payload);

    ps_quarantine_filter_init(&f);
    f.limit = 1;
    f.until_us = 0; /* received before 1970: nothing */
    assert_int_equal(ps_store_quarantine_list(rd, &f, collect, &rows, &count, &em), PS_OK);
    assert_int_equal(count, 0);
    ps_store_destroy(rd);
    ps_store_destroy(st);
    scratch_remove(&s);
}

static void test_delete(void **state)
{
    scratch s;
    ps_store *st = NULL, *rd = NULL;
    ps_quarantine_filter f;
    ps_errmsg em;
    uint64_t deleted = 0;
    size_t count = 0;
    seen rows;
    (void)state;
    scratch_make(&s);
    assert_int_equal(ps_store_create(s.db, PS_STORE_WRITER, &st, &em), PS_OK);
    assert_int_equal(put_three(st, &em), PS_OK);
    assert_int_equal(ps_store_create(s.db, PS_STORE_READER, &rd, &em), PS_OK);
    ps_quarantine_filter_init(&f);
    /* A reader may not delete. */
    assert_int_not_equal(ps_store_quarantine_delete(rd, &f, &deleted, &em), PS_OK);

    f.device_id = 2;
    assert_int_equal(ps_store_quarantine_delete(st, &f, &deleted, &em), PS_OK);
    assert_int_equal(deleted, 1);
    ps_quarantine_filter_init(&f);
    memset(&rows, 0, sizeof rows);
    assert_int_equal(ps_store_quarantine_list(rd, &f, collect, &rows, &count, &em), PS_OK);
    assert_int_equal(count, 2);
    f.id = rows.id[0];
    assert_int_equal(ps_store_quarantine_delete(st, &f, &deleted, &em), PS_OK);
    assert_int_equal(deleted, 1);
    assert_int_equal(ps_store_quarantine_delete(st, &f, &deleted, &em), PS_OK);
    assert_int_equal(deleted, 0);
    ps_quarantine_filter_init(&f);
    assert_int_equal(ps_store_quarantine_delete(st, &f, &deleted, &em), PS_OK);
    assert_int_equal(deleted, 1);
    assert_int_equal(ps_store_quarantine_list(rd, &f, collect, &rows, &count, &em), PS_OK);
    assert_int_equal(count, 0);
    ps_store_destroy(rd);
    ps_store_destroy(st);
    scratch_remove(&s);
}

/* ---- the fixture of tests/cli/test_admin.sh -------------------------------------- */

static int die(const char *what, const ps_errmsg *em)
{
    fprintf(stderr, "fixture: %s: %s\n", what, em ? em->text : "bad value");
    return 1;
}

/* ID:NAME:TYPE:STATE:LAG_MS:EVENT_AGE_S:UPDATED_AGE_S into *c, as of `now`. */
static bool parse_device(const char *spec, int64_t now, ps_device_counters *c)
{
    char name[128], type[16], state[32];
    long long id, lag, event_age, updated_age;
    int s = PS_STATE_STOPPED;
    if (sscanf(spec, "%lld:%127[^:]:%15[^:]:%31[^:]:%lld:%lld:%lld", &id, name, type, state, &lag,
               &event_age, &updated_age) != 7)
        return false;
    while (s <= PS_STATE_ERROR && strcmp(ps_device_state_name((ps_device_state)s), state) != 0)
        s++;
    if (s > PS_STATE_ERROR)
        return false;
    memset(c, 0, sizeof *c);
    c->device_id = id;
    snprintf(c->name, sizeof c->name, "%s", name);
    c->type = strcmp(type, "maillog") == 0 ? PS_DATA_MAILLOG : PS_DATA_MESSAGE;
    c->state = (ps_device_state)s;
    c->events_total = event_age < 0 ? 0 : 100;
    c->rate_10s = c->rate_1m = event_age < 0 ? 0 : 2.5;
    c->last_event_ts_us = event_age < 0 ? 0 : now - event_age * 1000000;
    c->lag_ms = lag;
    c->updated_us = now - updated_age * 1000000;
    return true;
}

static int make_fixture(const char *path, const char *devices)
{
    ps_store *st = NULL;
    ps_errmsg em;
    int64_t now = ps_plat_now_us();
    char buf[1024];
    int rc = 0;
    if (ps_store_create(path, PS_STORE_WRITER, &st, &em) != PS_OK)
        return die(path, &em);
    if (put_three(st, &em) != PS_OK)
        rc = die("quarantine", &em);
    snprintf(buf, sizeof buf, "%s", devices ? devices : "");
    for (char *save = NULL, *w = strtok_r(buf, " ", &save); w && rc == 0;
         w = strtok_r(NULL, " ", &save)) {
        ps_device_counters c;
        if (!parse_device(w, now, &c))
            rc = die(w, NULL);
        else if (ps_store_counters_put(st, &c, &em) != PS_OK)
            rc = die("counters", &em);
    }
    ps_store_destroy(st);
    return rc;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_and_filter),
        cmocka_unit_test(test_delete),
    };
    const char *fixture = getenv("PS_ADMIN_FIXTURE");
    if (fixture && *fixture)
        return make_fixture(fixture, getenv("PS_ADMIN_DEVICES"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
