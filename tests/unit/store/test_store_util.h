/* Helpers shared by the test_store*.c unit tests: scratch directories, the shared
 * sample events, synthetic events that belong to one mail, and a direct SQLite
 * handle for looking at what the store wrote. Each test program includes this
 * once; everything is static. */
#ifndef TEST_STORE_UTIL_H
#define TEST_STORE_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "podstream/ps_event.h"
#include "podstream/ps_time.h"
#include "podstream/ps_platform.h"
#include "podstream/ps_store.h"

/* A scratch directory and a database path in it. */
typedef struct scratch {
    char dir[256];
    char db[300];
} scratch;

static inline void scratch_make(scratch *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "%s/ps_store_test_XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(s->dir));
    snprintf(s->db, sizeof s->db, "%s/events.db", s->dir);
}

static inline void scratch_remove(scratch *s)
{
    static const char *const names[] = {"events.db",         "events.db-wal", "events.db-shm",
                                        "events.db-journal", "other.db",      "other.db-wal",
                                        "other.db-shm"};
    char p[400];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", s->dir, names[i]);
        unlink(p);
    }
    rmdir(s->dir);
}

/* A scratch database with the writer and a reader on it, the fixture of the query
 * tests; store_pair_teardown destroys both stores, the scratch folder and the pair. */
typedef struct store_pair {
    scratch s;
    ps_store *st; /* writer */
    ps_store *rd; /* reader */
} store_pair;

/* Opens the writer, then a reader, on the pair's scratch database. */
static inline void store_pair_open(store_pair *f)
{
    ps_errmsg em;
    if (ps_store_create(f->s.db, PS_STORE_WRITER, &f->st, &em) != PS_OK ||
        ps_store_create(f->s.db, PS_STORE_READER, &f->rd, &em) != PS_OK)
        fail_msg("%s", em.text);
}

static inline int store_pair_teardown(void **state)
{
    store_pair *f = *state;
    ps_store_destroy(f->rd);
    ps_store_destroy(f->st);
    scratch_remove(&f->s);
    free(f);
    return 0;
}

/* Lines of a shared sample file ($PS_SAMPLES/<name>), each a new string. */
typedef struct lines {
    char *v[64];
    size_t len[64];
    size_t n;
} lines;

static inline void lines_load(lines *l, const char *name)
{
    const char *dir = getenv("PS_SAMPLES");
    char *path, *buf = NULL, *p;
    size_t len = 0;
    ps_errmsg em;
    memset(l, 0, sizeof *l);
    assert_non_null(dir);
    path = ps_plat_path_join(dir, name);
    assert_int_equal(ps_plat_read_file(path, 1 << 24, &buf, &len, &em), PS_OK);
    p = buf;
    while (*p && l->n < 64) {
        char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (n > 0) {
            l->v[l->n] = malloc(n + 1);
            memcpy(l->v[l->n], p, n);
            l->v[l->n][n] = '\0';
            l->len[l->n] = n;
            l->n++;
        }
        p += n;
        if (*p == '\n')
            p++;
    }
    free(buf);
    free(path);
}

static inline void lines_free(lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    l->n = 0;
}

/* Parses and extracts a payload; fails the test when it is not an event. */
static inline void event_from(ps_event *ev, ps_data_type type, const char *raw, size_t len)
{
    ps_errmsg em;
    ps_event_init(ev);
    if (ps_event_parse(ev, type, raw, len, &em) != PS_OK || ps_event_extract(ev, &em) != PS_OK)
        fail_msg("not an event: %s", em.text);
}

/* Stores one payload in its own batch; returns whether it was a duplicate. */
static inline bool store_one(ps_store *st, long long device, ps_data_type type, const char *raw)
{
    ps_event ev;
    ps_errmsg em;
    bool dup = true;
    event_from(&ev, type, raw, strlen(raw));
    assert_int_equal(ps_store_begin(st, &em), PS_OK);
    if (ps_store_insert(st, device, &ev, raw, strlen(raw), "[\"test\"]", &dup, &em) != PS_OK)
        fail_msg("insert: %s", em.text);
    assert_int_equal(ps_store_commit(st, &em), PS_OK);
    ps_event_deinit(&ev);
    return dup;
}

/* A message event of one mail, as POD sends it. ts like "2024-05-22T12:10:03.058340Z". */
static inline char *make_message(const char *guid, const char *ts, const char *qid,
                                 const char *msgid, const char *from, const char *to,
                                 const char *subject, const char *disposition)
{
    char *s = malloc(4096);
    assert_non_null(s);
    snprintf(s, 4096,
             "{\"connection\":{\"country\":\"de\",\"host\":\"mx.sender.example\",\"ip\":"
             "\"192.0.2.10\",\"protocol\":\"smtp:esmtp\"},\"envelope\":{\"from\":\"%s\","
             "\"rcpts\":[\"%s\"]},\"filter\":{\"actions\":[{\"action\":\"%s\",\"isFinal\":true,"
             "\"module\":\"spam\",\"rule\":\"inbound_spam\"}],\"disposition\":\"%s\","
             "\"modules\":{\"spam\":{\"scores\":{\"overall\":\"87\"}}},\"qid\":\"%s\","
             "\"routeDirection\":\"inbound\"},\"guid\":\"%s\",\"msg\":{\"header\":{"
             "\"message-id\":[\"%s\"],\"subject\":[\"%s\"]},\"sizeBytes\":2048},\"ts\":\"%s\"}",
             from, to, disposition, disposition, qid, guid, msgid, subject, ts);
    return s;
}

/* A sendmail line of the same mail: a `from=` reception line when stat is NULL. */
static inline char *make_maillog(const char *id, const char *ts, const char *qid, const char *from,
                                 const char *to, const char *msgid, const char *stat,
                                 const char *dsn, const char *relay)
{
    char *s = malloc(4096);
    assert_non_null(s);
    from = from ? from : "";
    to = to ? to : "";
    msgid = msgid ? msgid : "";
    dsn = dsn ? dsn : "";
    relay = relay ? relay : "";
    if (!stat)
        snprintf(s, 4096,
                 "{\"data\":\"sendmail: %s: from=%s, size=2048, nrcpts=1, msgid=%s\",\"id\":\"%s\","
                 "\"sm\":{\"from\":\"%s\",\"msgid\":\"%s\",\"qid\":\"%s\",\"sizeBytes\":\"2048\"},"
                 "\"ts\":\"%s\"}",
                 qid, from, msgid, id, from, msgid, qid, ts);
    else
        snprintf(s, 4096,
                 "{\"data\":\"sendmail: %s: to=%s, relay=%s, dsn=%s, stat=%s\",\"id\":\"%s\","
                 "\"sm\":{\"dsn\":\"%s\",\"qid\":\"%s\",\"relay\":\"%s\",\"stat\":\"%s\",\"to\":["
                 "\"%s\"]},\"ts\":\"%s\"}",
                 qid, to, relay, dsn, stat, id, dsn, qid, relay, stat, to, ts);
    return s;
}

/* A read-only SQLite handle on the test database, to check what was written. */
static inline sqlite3 *peek_open(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    return db;
}

static inline long long peek_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s = NULL;
    long long v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    if (sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

/* Collects query results: ids and keys in delivery order. */
typedef struct got {
    int64_t id[256];
    char key[256][64];
    int64_t ts[256];
    size_t n;
} got;

static inline bool got_row(const ps_event_row *r, void *ctx)
{
    got *g = ctx;
    if (g->n < 256) {
        g->id[g->n] = r->id;
        g->ts[g->n] = r->ts_us;
        snprintf(g->key[g->n], sizeof g->key[0], "%s", r->key);
        g->n++;
    }
    return true;
}

#endif
