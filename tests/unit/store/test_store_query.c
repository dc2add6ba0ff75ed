/* ps_store, read side: every filter (exactness, case, <>, word starts, phrases,
 * ids through --search), ordering and limits (also when ts disagrees with arrival
 * order), trace, hourly counts, output formats and a reader that
 * queries while a writer writes. */
#include <time.h>

#include "podstream/ps_report.h"
#include "test_store_util.h"

#define T0  1716372000000000LL /* 2024-05-22T10:00:00Z */
#define SEC 1000000LL

typedef store_pair fixture;

/* Three mails. M1 and its two sendmail lines on device 2; M3 looks like M1 in
 * every way an inexact match would confuse (address prefix, qid case, subject). */
static void add_mails(ps_store *st)
{
    char *m1 = make_message("g-one", "2024-05-22T10:00:00Z", "4AbCd0001", "<m1@example.com>",
                            "Alice@Example.com", "bob@corp.example",
                            "Your Invoice 2024-05 is ready", "accept");
    char *l1a = make_maillog("ml-1a", "2024-05-22T10:00:01Z", "4AbCd0001", "<alice@example.com>",
                             NULL, "<m1@example.com>", NULL, NULL, NULL);
    char *l1b =
        make_maillog("ml-1b", "2024-05-22T10:00:02Z", "4AbCd0001", NULL, "<bob@corp.example>", NULL,
                     "Sent (Ok: queued as 123)", "2.0.0", "mx.corp.example. [192.0.2.5]");
    char *m2 =
        make_message("g-two", "2024-05-22T11:00:00Z", "4AbCd0002", "<m2@example.com>",
                     "carol@spam.example", "bob@corp.example", "WIN a PRIZE now", "quarantine");
    char *m3 = make_message("g-three", "2024-05-22T12:00:00Z", "4abcd0001", "m3@example.com",
                            "alice@example.com.evil", "dave@corp.example\",\"bob@corp.example.au",
                            "Re: invoice", "accept");
    assert_false(store_one(st, 1, PS_DATA_MESSAGE, m1));
    assert_false(store_one(st, 2, PS_DATA_MAILLOG, l1a));
    assert_false(store_one(st, 2, PS_DATA_MAILLOG, l1b));
    assert_false(store_one(st, 1, PS_DATA_MESSAGE, m2));
    assert_false(store_one(st, 1, PS_DATA_MESSAGE, m3));
    free(m1);
    free(l1a);
    free(l1b);
    free(m2);
    free(m3);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    ps_errmsg em;
    scratch_make(&f->s);
    if (ps_store_create(f->s.db, PS_STORE_WRITER, &f->st, &em) != PS_OK)
        fail_msg("%s", em.text);
    add_mails(f->st);
    if (ps_store_create(f->s.db, PS_STORE_READER, &f->rd, &em) != PS_OK)
        fail_msg("%s", em.text);
    *state = f;
    return 0;
}

/* Runs q and returns the keys, in order, joined with spaces. */
static const char *keys(fixture *f, const ps_query *q)
{
    static char out[2048];
    got g;
    ps_errmsg em;
    size_t n = 0;
    memset(&g, 0, sizeof g);
    if (ps_store_query(f->rd, q, got_row, &g, &em) != PS_OK)
        fail_msg("query: %s", em.text);
    out[0] = '\0';
    for (size_t i = 0; i < g.n; i++)
        n += (size_t)snprintf(out + n, sizeof out - n, "%s%s", i ? " " : "", g.key[i]);
    return out;
}

#define Q(field, value)                                                                            \
    do {                                                                                           \
        ps_query_init(&q);                                                                         \
        q.field = value;                                                                           \
    } while (0)

static void test_address_filters(void **state)
{
    fixture *f = *state;
    ps_query q;
    /* Case-insensitive, <> ignored, exact: not alice@example.com.evil. */
    Q(from, "alice@example.com");
    assert_string_equal(keys(f, &q), "ml-1a g-one");
    Q(from, "<ALICE@EXAMPLE.COM>");
    assert_string_equal(keys(f, &q), "ml-1a g-one");
    Q(from, "alice@example.com.evil");
    assert_string_equal(keys(f, &q), "g-three");
    /* One of several recipients; not bob@corp.example.au. */
    Q(to, "bob@corp.example");
    assert_string_equal(keys(f, &q), "g-two ml-1b g-one");
    Q(to, "bob@corp.example.au");
    assert_string_equal(keys(f, &q), "g-three");
    Q(to, "nobody@corp.example");
    assert_string_equal(keys(f, &q), "");
}

static void test_id_filters(void **state)
{
    fixture *f = *state;
    ps_query q;
    /* Queue ids are case-sensitive: 4abcd0001 is another mail. */
    Q(qid, "4AbCd0001");
    assert_string_equal(keys(f, &q), "ml-1b ml-1a g-one");
    Q(qid, "4abcd0001");
    assert_string_equal(keys(f, &q), "g-three");
    Q(message_id, "m1@example.com");
    assert_string_equal(keys(f, &q), "ml-1a g-one");
    Q(message_id, "<m1@example.com>");
    assert_string_equal(keys(f, &q), "ml-1a g-one");
    Q(message_id, "<m3@example.com>");
    assert_string_equal(keys(f, &q), "g-three");
    Q(key, "g-two");
    assert_string_equal(keys(f, &q), "g-two");
}

static void test_subject_filter(void **state)
{
    fixture *f = *state;
    ps_query q;
    Q(subject, "invoice");
    assert_string_equal(keys(f, &q), "g-three g-one");
    /* Words in order, the last one a prefix. */
    Q(subject, "INVOICE 20");
    assert_string_equal(keys(f, &q), "g-one");
    /* Matches start at word starts. */
    Q(subject, "voice");
    assert_string_equal(keys(f, &q), "");
    Q(subject, "ready invoice");
    assert_string_equal(keys(f, &q), "");
    /* A trailing space asks for the whole word. */
    Q(subject, "invoic ");
    assert_string_equal(keys(f, &q), "");
    Q(subject, "win a prize");
    assert_string_equal(keys(f, &q), "g-two");
}

static void test_search(void **state)
{
    fixture *f = *state;
    ps_query q;
    Q(search, "prize");
    assert_string_equal(keys(f, &q), "g-two");
    Q(search, "priz*");
    assert_string_equal(keys(f, &q), "g-two");
    Q(search, "priz");
    assert_string_equal(keys(f, &q), "");
    /* A word with punctuation is a phrase within one field. */
    Q(search, "corp.example");
    assert_string_equal(keys(f, &q), "g-three g-two ml-1b g-one");
    Q(search, "mx.corp.example sent");
    assert_string_equal(keys(f, &q), "ml-1b");
    /* Ids and exact addresses are found although the index holds them hashed. */
    Q(search, "g-two");
    assert_string_equal(keys(f, &q), "g-two");
    Q(search, "4AbCd0002");
    assert_string_equal(keys(f, &q), "g-two");
    Q(search, "<m2@example.com>");
    assert_string_equal(keys(f, &q), "g-two");
    Q(search, "carol@spam.example quarantine");
    assert_string_equal(keys(f, &q), "g-two");
    /* Module, rule and direction are searchable words. */
    Q(search, "inbound_spam");
    assert_string_equal(keys(f, &q), "g-three g-two g-one");
}

static void test_other_filters_and_order(void **state)
{
    fixture *f = *state;
    ps_query q;
    got g;
    ps_errmsg em;
    int64_t last = 0;
    Q(disposition, "QUARANTINE");
    assert_string_equal(keys(f, &q), "g-two");
    Q(type, PS_DATA_MAILLOG);
    assert_string_equal(keys(f, &q), "ml-1b ml-1a");
    Q(device_id, 1);
    assert_string_equal(keys(f, &q), "g-three g-two g-one");
    ps_query_init(&q);
    q.since_us = T0 + 1800 * SEC;
    q.until_us = T0 + 5400 * SEC;
    assert_string_equal(keys(f, &q), "g-two");
    ps_query_init(&q);
    q.since_us = T0 + 1800 * SEC;
    q.until_us = T0 + 1800 * SEC;
    assert_string_equal(keys(f, &q), "");
    Q(limit, 2);
    assert_string_equal(keys(f, &q), "g-three g-two");
    ps_query_init(&q);
    q.limit = 2;
    q.oldest_first = true;
    assert_string_equal(keys(f, &q), "g-one ml-1a");
    /* The full-text path with a limit keeps the newest. */
    Q(to, "bob@corp.example");
    q.limit = 1;
    assert_string_equal(keys(f, &q), "g-two");
    Q(to, "bob@corp.example");
    q.oldest_first = true;
    assert_string_equal(keys(f, &q), "g-one ml-1b g-two");
    Q(to, "bob@corp.example");
    q.since_us = T0 + 1 * SEC;
    q.until_us = T0 + 3600 * SEC;
    assert_string_equal(keys(f, &q), "ml-1b");
    /* Storage order after an id, for --follow. */
    assert_int_equal(ps_store_last_id(f->rd, &last, &em), PS_OK);
    assert_int_equal(last, 5);
    ps_query_init(&q);
    q.after_id = 3;
    assert_string_equal(keys(f, &q), "g-two g-three");
    Q(qid, "4AbCd0001");
    q.after_id = 1;
    assert_string_equal(keys(f, &q), "ml-1a ml-1b");
    /* Rows carry their typed values; raw only when asked. */
    memset(&g, 0, sizeof g);
    ps_query_init(&q);
    q.key = "g-two";
    assert_int_equal(ps_store_query(f->rd, &q, got_row, &g, &em), PS_OK);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.ts[0], T0 + 3600 * SEC);
}

static bool check_row(const ps_event_row *r, void *ctx)
{
    int *calls = ctx;
    (*calls)++;
    assert_int_equal(r->device_id, 1);
    assert_int_equal(r->type, PS_DATA_MESSAGE);
    assert_string_equal(r->text[PS_EF_SENDER], "carol@spam.example");
    assert_string_equal(r->text[PS_EF_RECIPIENTS], "bob@corp.example");
    assert_string_equal(r->text[PS_EF_SUBJECT], "WIN a PRIZE now");
    assert_string_equal(r->text[PS_EF_DISPOSITION], "quarantine");
    assert_string_equal(r->text[PS_EF_ACTION], "quarantine");
    assert_string_equal(r->text[PS_EF_MODULE], "spam");
    assert_string_equal(r->text[PS_EF_RULE], "inbound_spam");
    assert_string_equal(r->text[PS_EF_DIRECTION], "inbound");
    assert_string_equal(r->text[PS_EF_QID], "4AbCd0002");
    assert_string_equal(r->text[PS_EF_MESSAGE_ID], "<m2@example.com>");
    assert_string_equal(r->text[PS_EF_CLIENT_IP], "192.0.2.10");
    assert_string_equal(r->text[PS_EF_CLIENT_HOST], "mx.sender.example");
    assert_string_equal(r->text[PS_EF_COUNTRY], "de");
    assert_null(r->text[PS_EF_STAT]);
    assert_true(r->has_spam_score);
    assert_true(r->spam_score == 87.0);
    assert_true(r->has_size);
    assert_int_equal(r->size_bytes, 2048);
    assert_string_equal(r->tags, "[\"test\"]");
    assert_non_null(r->raw);
    assert_non_null(strstr(r->raw, "\"guid\":\"g-two\""));
    assert_int_equal(r->raw_len, strlen(r->raw));
    return true;
}

static void test_row_contents(void **state)
{
    fixture *f = *state;
    ps_query q;
    ps_errmsg em;
    int calls = 0;
    ps_query_init(&q);
    q.from = "carol@spam.example";
    q.want_raw = true;
    assert_int_equal(ps_store_query(f->rd, &q, check_row, &calls, &em), PS_OK);
    ps_query_init(&q);
    q.disposition = "quarantine";
    q.want_raw = true;
    assert_int_equal(ps_store_query(f->rd, &q, check_row, &calls, &em), PS_OK);
    assert_int_equal(calls, 2);
}

static void test_filter_errors(void **state)
{
    fixture *f = *state;
    ps_query q;
    ps_errmsg em;
    got g;
    memset(&g, 0, sizeof g);
    Q(search, "@@@ prize");
    assert_int_equal(ps_store_query(f->rd, &q, got_row, &g, &em), PS_ERR_INVALID);
    assert_string_equal(em.text, "--search: '@@@' has no letters or digits to look for");
    Q(search, "   ");
    assert_int_equal(ps_store_query(f->rd, &q, got_row, &g, &em), PS_ERR_INVALID);
    assert_string_equal(em.text, "--search: no words given");
    Q(subject, "!!");
    assert_int_equal(ps_store_query(f->rd, &q, got_row, &g, &em), PS_ERR_INVALID);
    assert_string_equal(em.text, "--subject: '!!' has no letters or digits to look for");
    Q(from, "<>");
    assert_int_equal(ps_store_query(f->rd, &q, got_row, &g, &em), PS_ERR_INVALID);
    assert_string_equal(em.text, "--from: '<>' is not an address");
    Q(message_id, " < > ");
    assert_int_equal(ps_store_query(f->rd, &q, got_row, &g, &em), PS_ERR_INVALID);
    assert_string_equal(em.text, "--message-id: ' < > ' is not a message-id");
    assert_int_equal(g.n, 0);
}

static void test_trace(void **state)
{
    fixture *f = *state;
    ps_errmsg em;
    got g;
    size_t n = 0;
    static const char *const ids[] = {"g-one", "4AbCd0001", "<m1@example.com>", "m1@example.com",
                                      "ml-1b"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        memset(&g, 0, sizeof g);
        assert_int_equal(ps_store_trace(f->rd, ids[i], false, 0, got_row, &g, &n, &em), PS_OK);
        assert_int_equal(n, 3);
        assert_int_equal(g.n, 3);
        assert_string_equal(g.key[0], "g-one");
        assert_string_equal(g.key[1], "ml-1a");
        assert_string_equal(g.key[2], "ml-1b");
    }
    memset(&g, 0, sizeof g);
    assert_int_equal(ps_store_trace(f->rd, "nope-42", false, 0, got_row, &g, &n, &em),
                     PS_ERR_NOTFOUND);
    assert_string_equal(em.text, "no event has nope-42 as its guid, queue id or message-id");
    assert_int_equal(ps_store_trace(f->rd, "", false, 0, got_row, &g, &n, &em), PS_ERR_INVALID);
    assert_string_equal(em.text, "trace: no id given");
}

/* sendmail re-queues a mail under a new queue id: the message-id links them. */
static void test_trace_follows_requeue(void **state)
{
    fixture *f = *state;
    ps_errmsg em;
    got g;
    size_t n = 0;
    char *m = make_message("g-rq", "2024-05-22T13:00:00Z", "QIN00001", "<rq@example.com>",
                           "erin@example.com", "frank@corp.example", "Requeued", "accept");
    char *a = make_maillog("rq-a", "2024-05-22T13:00:01Z", "QIN00001", "<erin@example.com>", NULL,
                           "<rq@example.com>", NULL, NULL, NULL);
    char *b = make_maillog("rq-b", "2024-05-22T13:00:02Z", "QOUT0001", "<erin@example.com>", NULL,
                           "<rq@example.com>", NULL, NULL, NULL);
    char *c = make_maillog("rq-c", "2024-05-22T13:05:00Z", "QOUT0001", NULL, "<frank@corp.example>",
                           NULL, "Deferred: Connection timed out", "4.4.1", "mx.corp.example.");
    char *d = make_maillog("rq-d", "2024-05-22T13:35:00Z", "QOUT0001", NULL, "<frank@corp.example>",
                           NULL, "Sent (ok)", "2.0.0", "mx.corp.example.");
    assert_false(store_one(f->st, 2, PS_DATA_MAILLOG, d)); /* arrival order is not ts order */
    assert_false(store_one(f->st, 1, PS_DATA_MESSAGE, m));
    assert_false(store_one(f->st, 2, PS_DATA_MAILLOG, c));
    assert_false(store_one(f->st, 2, PS_DATA_MAILLOG, a));
    assert_false(store_one(f->st, 2, PS_DATA_MAILLOG, b));
    memset(&g, 0, sizeof g);
    assert_int_equal(ps_store_trace(f->rd, "g-rq", false, 0, got_row, &g, &n, &em), PS_OK);
    assert_int_equal(n, 5);
    assert_string_equal(g.key[0], "g-rq");
    assert_string_equal(g.key[1], "rq-a");
    assert_string_equal(g.key[2], "rq-b");
    assert_string_equal(g.key[3], "rq-c");
    assert_string_equal(g.key[4], "rq-d");
    /* A limit caps the rows delivered. */
    memset(&g, 0, sizeof g);
    assert_int_equal(ps_store_trace(f->rd, "QOUT0001", false, 2, got_row, &g, &n, &em), PS_OK);
    assert_int_equal(n, 2);
    free(m);
    free(a);
    free(b);
    free(c);
    free(d);
}

/* When ts disagrees with arrival (late events, an early event from the future),
 * the newest-first full-text path must still give exactly the newest by ts. */
static void test_newest_first_out_of_order(void **state)
{
    fixture *f = *state;
    ps_errmsg em;
    got a, b;
    ps_query q;
    char raw[512];
    const int n = 3000;
    assert_int_equal(ps_store_begin(f->st, &em), PS_OK);
    for (int i = 0; i < n; i++) {
        ps_event ev;
        bool dup;
        int64_t ts = T0 + 86400 * SEC + (int64_t)i * SEC;
        char when[40];
        if (i % 7 == 0)
            ts = T0 + 86400 * SEC - (int64_t)i * SEC; /* arrived late */
        if (i == 5)
            ts = T0 + 3 * 86400 * SEC; /* early id, newest ts */
        ps_time_format_iso(ts, when, sizeof when);
        snprintf(raw, sizeof raw,
                 "{\"id\":\"bulk-%04d\",\"ts\":\"%s\",\"sm\":{\"qid\":\"QB%06d\",\"from\":"
                 "\"<bulk@x.example>\"}}",
                 i, when, i);
        event_from(&ev, PS_DATA_MAILLOG, raw, strlen(raw));
        assert_int_equal(ps_store_insert(f->st, 3, &ev, raw, strlen(raw), NULL, &dup, &em), PS_OK);
        ps_event_deinit(&ev);
        if (i % 500 == 499) {
            assert_int_equal(ps_store_commit(f->st, &em), PS_OK);
            assert_int_equal(ps_store_begin(f->st, &em), PS_OK);
        }
    }
    assert_int_equal(ps_store_commit(f->st, &em), PS_OK);
    for (size_t limit = 1; limit <= 200; limit += 199) {
        memset(&a, 0, sizeof a);
        memset(&b, 0, sizeof b);
        ps_query_init(&q);
        q.from = "bulk@x.example";
        q.limit = limit;
        assert_int_equal(ps_store_query(f->rd, &q, got_row, &a, &em), PS_OK);
        /* The same through the sorting path: everything oldest first, reversed. */
        ps_query_init(&q);
        q.from = "bulk@x.example";
        q.oldest_first = true;
        assert_int_equal(ps_store_query(f->rd, &q, got_row, &b, &em), PS_OK);
        assert_int_equal(a.n, limit);
        assert_int_equal(b.n, 256); /* got keeps the first 256 */
        assert_string_equal(a.key[0], "bulk-0005");
        for (size_t i = 1; i < a.n; i++)
            assert_true(a.ts[i - 1] >= a.ts[i]);
        /* the second newest is the last one stored */
        if (limit > 1)
            assert_string_equal(a.key[1], "bulk-2999");
    }
    /* With a time window that excludes the newest ones. */
    memset(&a, 0, sizeof a);
    ps_query_init(&q);
    q.from = "bulk@x.example";
    q.until_us = T0 + 86400 * SEC;
    q.limit = 3;
    assert_int_equal(ps_store_query(f->rd, &q, got_row, &a, &em), PS_OK);
    /* until is exclusive: bulk-0000 sits exactly on it */
    assert_int_equal(a.n, 3);
    assert_string_equal(a.key[0], "bulk-0007");
    assert_string_equal(a.key[1], "bulk-0014");
    assert_string_equal(a.key[2], "bulk-0021");
}

/* Stores one maillog line from <from> at ts on device dev, with key "<prefix>-<i>". */
static void put_line(fixture *f, long long dev, const char *prefix, int i, const char *from,
                     int64_t ts)
{
    ps_errmsg em;
    ps_event ev;
    bool dup;
    char raw[512], when[40];
    ps_time_format_iso(ts, when, sizeof when);
    snprintf(raw, sizeof raw,
             "{\"id\":\"%s-%04d\",\"ts\":\"%s\",\"sm\":{\"qid\":\"QX%06d\",\"from\":"
             "\"<%s>\"}}",
             prefix, i, when, i, from);
    event_from(&ev, PS_DATA_MAILLOG, raw, strlen(raw));
    assert_int_equal(ps_store_insert(f->st, dev, &ev, raw, strlen(raw), NULL, &dup, &em), PS_OK);
    assert_false(dup);
    ps_event_deinit(&ev);
}

/* Asserts that the full-text path (from, newest first, limit) lists exactly what the
 * natural-key path lists for [since, until) on `dev` (-1: any). */
static void assert_same_listing(fixture *f, const char *from, long long dev, int64_t since,
                                int64_t until, size_t limit)
{
    ps_errmsg em;
    got a, b;
    ps_query q;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    ps_query_init(&q);
    q.from = from;
    q.limit = limit;
    assert_int_equal(ps_store_query(f->rd, &q, got_row, &a, &em), PS_OK);
    ps_query_init(&q);
    q.since_us = since;
    q.until_us = until;
    q.device_id = dev;
    q.limit = limit;
    assert_int_equal(ps_store_query(f->rd, &q, got_row, &b, &em), PS_OK);
    assert_int_equal(a.n, b.n);
    for (size_t i = 0; i < a.n; i++)
        assert_string_equal(a.key[i], b.key[i]);
}

/* Rows that share a ts are listed in one order whichever path lists them: ts,
 * device, then key_hash, as the natural-key index orders them. */
static void test_equal_ts_same_order_with_search(void **state)
{
    fixture *f = *state;
    ps_errmsg em;
    const int64_t ts = T0 + 5 * 86400 * SEC;
    assert_int_equal(ps_store_begin(f->st, &em), PS_OK);
    for (int i = 0; i < 40; i++)
        put_line(f, 4 + i % 2, "same", i, "same@x.example", ts);
    assert_int_equal(ps_store_commit(f->st, &em), PS_OK);
    for (size_t limit = 5; limit <= 40; limit += 35)
        assert_same_listing(f, "same@x.example", -1, ts, ts + 1, limit);
}

/* Two devices catching up at different speeds (one an hour ahead of the other),
 * and an archive fill of an old hour in between: newest first through the
 * full-text index still gives exactly the newest, for words of either device. */
static void test_newest_first_devices_diverge(void **state)
{
    fixture *f = *state;
    ps_errmsg em;
    const int64_t base = T0 + 10 * 86400 * SEC, hour = 3600 * SEC;
    assert_int_equal(ps_store_begin(f->st, &em), PS_OK);
    for (int i = 0; i < 3000; i++) {
        int64_t lead = hour * i / 3000;
        put_line(f, 6, "ahead", i, "ahead@x.example", base + i * SEC + lead);
        put_line(f, 7, "behind", i, "behind@x.example", base + i * SEC);
        if (i == 1500)
            for (int k = 0; k < 400; k++)
                put_line(f, 7, "fill", k, "behind@x.example", base - 3 * hour + k * 9 * SEC);
        if (i % 500 == 499) {
            assert_int_equal(ps_store_commit(f->st, &em), PS_OK);
            assert_int_equal(ps_store_begin(f->st, &em), PS_OK);
        }
    }
    assert_int_equal(ps_store_commit(f->st, &em), PS_OK);
    for (size_t limit = 1; limit <= 201; limit += 100) {
        assert_same_listing(f, "behind@x.example", 7, base - 4 * hour, base + 4 * hour, limit);
        assert_same_listing(f, "ahead@x.example", 6, base - 4 * hour, base + 4 * hour, limit);
    }
}

static void test_hourly(void **state)
{
    fixture *f = *state;
    ps_hourly_count *h = NULL;
    size_t n = 0;
    ps_errmsg em;
    assert_int_equal(ps_store_hourly_list(f->rd, T0, &h, &n, &em), PS_OK);
    /* device 1: 10:00, 11:00, 12:00 one each; device 2: 10:00 two. */
    assert_int_equal(n, 4);
    assert_int_equal(h[0].device_id, 1);
    assert_int_equal(h[0].type, PS_DATA_MESSAGE);
    assert_int_equal(h[0].hour_us, T0);
    assert_int_equal(h[0].events, 1);
    assert_int_equal(h[2].hour_us, T0 + 7200 * SEC);
    assert_int_equal(h[3].device_id, 2);
    assert_int_equal(h[3].type, PS_DATA_MAILLOG);
    assert_int_equal(h[3].events, 2);
    free(h);
    assert_int_equal(ps_store_hourly_list(f->rd, T0 + 3 * 3600 * SEC, &h, &n, &em), PS_OK);
    assert_int_equal(n, 0);
    assert_null(h);
}

static void set_tz(const char *tz)
{
    setenv("TZ", tz, 1);
    tzset();
}

/* ---- output formats ---------------------------------------------------------------- */

typedef struct writer_ctx {
    ps_report_writer *w;
} writer_ctx;

static bool write_row(const ps_event_row *r, void *ctx)
{
    writer_ctx *c = ctx;
    assert_int_equal(ps_report_writer_row(c->w, r), PS_OK);
    return true;
}

static char *format_rows(fixture *f, ps_report_format fmt, int width, ps_query *q)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    ps_report_writer w;
    writer_ctx c = {&w};
    ps_errmsg em;
    assert_non_null(out);
    ps_report_writer_init(&w, out, fmt, width, false);
    q->want_raw = fmt == PS_REPORT_JSON;
    assert_int_equal(ps_store_query(f->rd, q, write_row, &c, &em), PS_OK);
    assert_int_equal(ps_report_writer_finish(&w), PS_OK);
    fclose(out);
    return buf;
}

static void test_table_format(void **state)
{
    fixture *f = *state;
    ps_query q;
    char *s;
#ifdef _WIN32
    /* The C runtime reads only "XXX[+-]h" from TZ and takes the zone's rules and names
     * from the system: a test cannot set a zone as on Linux. */
    skip();
#endif
    set_tz("UTC");
    ps_query_init(&q);
    q.since_us = T0;
    s = format_rows(f, PS_REPORT_TABLE, 80, &q);
    /* 80 cells exactly: time 19, type 4, status 10, and the rest shared 3:3:4. */
    assert_string_equal(
        s, "TIME (UTC)          TYPE FROM         TO           STATUS     SUBJECT / DETAIL\n"
           "2024-05-22 12:00:00 msg  alice@examp\xE2\x80\xA6 dave@corp.e\xE2\x80\xA6 accept     "
           "Re: invoice\n"
           "2024-05-22 11:00:00 msg  carol@spam.\xE2\x80\xA6 bob@corp.ex\xE2\x80\xA6 quarantine "
           "WIN a PRIZE now\n"
           "2024-05-22 10:00:02 log               <bob@corp.e\xE2\x80\xA6 Sent       "
           "dsn=2.0.0 Sent (O\xE2\x80\xA6\n"
           "2024-05-22 10:00:01 log  <alice@exam\xE2\x80\xA6              received   "
           "msgid=<m1@example\xE2\x80\xA6\n"
           "2024-05-22 10:00:00 msg  Alice@Examp\xE2\x80\xA6 bob@corp.ex\xE2\x80\xA6 accept     "
           "Your Invoice 2024\xE2\x80\xA6\n");
    for (char *line = s; *line;) {
        char *nl = strchr(line, '\n');
        *nl = '\0';
        assert_true(ps_report_text_width(line) <= 80);
        line = nl + 1;
    }
    free(s);
    /* Wider: the queue id appears; local time follows TZ. */
    set_tz("CET-1CEST,M3.5.0,M10.5.0/3");
    ps_query_init(&q);
    q.key = "g-two";
    s = format_rows(f, PS_REPORT_TABLE, 120, &q);
    assert_string_equal(s, "TIME (CET/CEST)     TYPE QID            FROM                 TO     "
                           "              STATUS     SUBJECT / DETAIL\n"
                           "2024-05-22 13:00:00 msg  4AbCd0002      carol@spam.example   "
                           "bob@corp.example     quarantine WIN a PRIZE now\n");
    free(s);
    set_tz("UTC");
    /* No rows: the header alone. */
    ps_query_init(&q);
    q.key = "absent";
    s = format_rows(f, PS_REPORT_TABLE, 80, &q);
    assert_string_equal(
        s, "TIME (UTC)          TYPE FROM         TO           STATUS     SUBJECT / DETAIL\n");
    free(s);
}

static void test_csv_and_json_formats(void **state)
{
    fixture *f = *state;
    ps_query q;
    char *s;
    char *m = make_message("g-csv", "2024-05-22T09:00:00.5Z", "QCSV0001", "<c@example.com>",
                           "x@example.com", "y@example.com", "a, \\\"quoted\\\" subject", "accept");
    assert_false(store_one(f->st, 1, PS_DATA_MESSAGE, m));
    ps_query_init(&q);
    q.key = "g-csv";
    s = format_rows(f, PS_REPORT_CSV, 80, &q);
    assert_string_equal(
        s, "time,device_id,type,key,sender,recipients,subject,disposition,action,module,rule,"
           "direction,qid,message_id,client_ip,client_host,country,stat,dsn,relay,spam_score,"
           "size_bytes,tags\r\n"
           "2024-05-22T09:00:00.500000Z,1,message,g-csv,x@example.com,y@example.com,"
           "\"a, \"\"quoted\"\" subject\",accept,accept,spam,inbound_spam,inbound,QCSV0001,"
           "<c@example.com>,192.0.2.10,mx.sender.example,de,,,,87,2048,\"[\"\"test\"\"]\"\r\n");
    free(s);
    s = format_rows(f, PS_REPORT_JSON, 80, &q);
    assert_int_equal(strlen(s), strlen(m) + 1);
    assert_memory_equal(s, m, strlen(m));
    assert_int_equal(s[strlen(m)], '\n');
    free(s);
    /* CSV without rows: the header only. */
    q.key = "absent";
    s = format_rows(f, PS_REPORT_CSV, 80, &q);
    assert_int_equal(strncmp(s, "time,device_id,", 15), 0);
    assert_non_null(strstr(s, "tags\r\n"));
    assert_int_equal(strlen(strstr(s, "tags\r\n")), 6);
    free(s);
    free(m);
}

/* ---- a reader while the writer writes --------------------------------------------- */

typedef struct writer_job {
    const char *path;
    int batches;
    ps_err err;
    char msg[512];
} writer_job;

static void *writer_main(void *arg)
{
    writer_job *j = arg;
    ps_store *st = NULL;
    ps_errmsg em;
    char raw[512];
    j->err = ps_store_create(j->path, PS_STORE_WRITER, &st, &em);
    for (int b = 0; b < j->batches && j->err == PS_OK; b++) {
        j->err = ps_store_begin(st, &em);
        for (int i = 0; i < 300 && j->err == PS_OK; i++) {
            ps_event ev;
            bool dup;
            char when[40];
            int n = b * 300 + i;
            ps_time_format_iso(T0 + 172800 * SEC + (int64_t)n * 1000, when, sizeof when);
            snprintf(raw, sizeof raw,
                     "{\"id\":\"live-%06d\",\"ts\":\"%s\",\"sm\":{\"qid\":\"QL%06d\",\"to\":[\"<"
                     "live%d@corp.example>\"],\"stat\":\"Sent\"}}",
                     n, when, n, n % 10);
            ps_event_init(&ev);
            if ((j->err = ps_event_parse(&ev, PS_DATA_MAILLOG, raw, strlen(raw), &em)) == PS_OK &&
                (j->err = ps_event_extract(&ev, &em)) == PS_OK)
                j->err = ps_store_insert(st, 9, &ev, raw, strlen(raw), NULL, &dup, &em);
            ps_event_deinit(&ev);
        }
        if (j->err == PS_OK)
            j->err = ps_store_commit(st, &em);
    }
    if (j->err != PS_OK)
        snprintf(j->msg, sizeof j->msg, "%s", em.text);
    ps_store_destroy(st);
    return NULL;
}

static void test_reader_while_writing(void **state)
{
    fixture *f = *state;
    writer_job j = {f->s.db, 40, PS_OK, ""};
    ps_thread *th = NULL;
    int queries = 0;
    size_t last_n = 0;
    ps_errmsg em;
    /* Our own writer must let go: one writer at a time. */
    ps_store_destroy(f->st);
    f->st = NULL;
    assert_int_equal(ps_plat_thread_create(&th, "writer", writer_main, &j), PS_OK);
    for (int i = 0; i < 400; i++) {
        ps_query q;
        got g;
        memset(&g, 0, sizeof g);
        ps_query_init(&q);
        q.to = "live3@corp.example";
        q.limit = 256;
        /* Every query succeeds while batches commit; what it sees only grows. */
        if (ps_store_query(f->rd, &q, got_row, &g, &em) != PS_OK)
            fail_msg("query during writes: %s", em.text);
        assert_true(g.n >= last_n || g.n == 256);
        last_n = g.n;
        queries++;
    }
    (void)ps_plat_thread_join(th);
    if (j.err != PS_OK)
        fail_msg("writer: %s", j.msg);
    assert_int_equal(queries, 400);
    {
        ps_query q;
        got g;
        memset(&g, 0, sizeof g);
        ps_query_init(&q);
        q.device_id = 9;
        q.limit = 0;
        assert_int_equal(ps_store_query(f->rd, &q, got_row, &g, &em), PS_OK);
        assert_int_equal(g.n, 256); /* got keeps 256 of the 12,000 */
    }
    if (ps_store_create(f->s.db, PS_STORE_WRITER, &f->st, &em) != PS_OK)
        fail_msg("%s", em.text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_address_filters, setup, store_pair_teardown),
        cmocka_unit_test_setup_teardown(test_id_filters, setup, store_pair_teardown),
        cmocka_unit_test_setup_teardown(test_subject_filter, setup, store_pair_teardown),
        cmocka_unit_test_setup_teardown(test_search, setup, store_pair_teardown),
        cmocka_unit_test_setup_teardown(test_other_filters_and_order, setup, store_pair_teardown),
        cmocka_unit_test_setup_teardown(test_row_contents, setup, store_pair_teardown),
        cmocka_unit_test_setup_teardown(test_filter_errors, setup, store_pair_teardown),
        cmocka_unit_test_setup_teardown(test_trace, setup, store_pair_teardown),
        cmocka_unit_test_setup_teardown(test_trace_follows_requeue, setup, store_pair_teardown),
        cmocka_unit_test_setup_teardown(test_newest_first_out_of_order, setup, store_pair_teardown),
        cmocka_unit_test_setup_teardown(test_equal_ts_same_order_with_search, setup,
                                        store_pair_teardown),
        cmocka_unit_test_setup_teardown(test_newest_first_devices_diverge, setup,
                                        store_pair_teardown),
        cmocka_unit_test_setup_teardown(test_hourly, setup, store_pair_teardown),
        cmocka_unit_test_setup_teardown(test_table_format, setup, store_pair_teardown),
        cmocka_unit_test_setup_teardown(test_csv_and_json_formats, setup, store_pair_teardown),
        cmocka_unit_test_setup_teardown(test_reader_while_writing, setup, store_pair_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
