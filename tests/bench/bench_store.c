/* bench_store: the store's figures at scale, in one run.
 *
 *   bench_store [-n EVENTS] [-m MESSAGE_SHARE] [-d DB] [-p PODSTREAM] [-D] [-M]
 *
 *   -n  events to store (default 1000000)
 *   -m  share of `message` events, the rest are `maillog` (default 0.33: sendmail
 *       writes about two log lines per message)
 *   -d  database path (default ./bench_store.db; replaced, and kept afterwards so
 *       it can be queried by hand)
 *   -p  the podstream binary, for the whole-process figure (default: $PODSTREAM,
 *       else ../../service/podstream next to this program)
 *   -D  devices that diverge: the maillog device's timestamps pull ahead of the
 *       message device's until they lead by an hour, and an archive fill stores an
 *       hour from three hours back (5% of the events) from three quarters of the
 *       run on; the words searched come from the message device, the one behind
 *   -M  keep SQLite's memory statistics on, as podstream did before
 *       ps_store_process_init: the figures from before, in the same build
 *
 * Prints: the raw batched insert rate of the schema (events/s through the store's
 * whole insert path on one thread, ps_store_prepare and ps_store_begin/put/commit
 * in batches of 1,000; event generation and parsing are not timed), and apart the
 * SQLite part alone (begin/put/commit: what the service's writer thread runs while
 * its workers prepare rows in parallel), the database bytes per event against
 * the raw JSON (every table and index included), the latency of indexed filters
 * and full-text search through ps_store_query (median, p95 and max of 50 random
 * lookups, limit 100), `podstream query` as a whole process, filling chunk_devices
 * as for a database upgraded from before schema 6, and the insert rate while a
 * reader queries the same database without pause.
 *
 * Events come from podsim_gen (the simulator's generator) when it is linked in;
 * otherwise they are variants of tests/data/samples with unique ids, addresses and
 * subjects (say so when quoting figures). */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "podstream/ps_event.h"
#include "podstream/ps_platform.h"
#include "podstream/ps_store.h"

#ifdef PS_HAVE_PODSIM_GEN
#include "podsim_gen.h"
#endif

extern char **environ;

#define BATCH     1000
#define PICKS     200
#define RUNS      50
#define ORIGIN_US 1716400000000000LL /* 2024-05-22T17:46:40Z */

static void die(const char *what, ps_err err, const ps_errmsg *em)
{
    fprintf(stderr, "bench_store: %s: %s%s%s\n", what, ps_strerror(err), em ? ": " : "",
            em ? em->text : "");
    exit(1);
}

/* ---- event source ---------------------------------------------------------------- */

typedef struct source {
    double message_share;
    uint64_t next[2]; /* per type index */
#ifdef PS_HAVE_PODSIM_GEN
    psim_timeline tl[2];
    psim_buf buf;
    /* -D: an archive fill of an old hour, stored from event arch_at on */
    psim_timeline arch;
    uint64_t arch_at, arch_n, arch_next;
#else
    char *samples[2][8];
    size_t nsamples[2];
    char *buf;
    size_t cap;
#endif
} source;

#ifndef PS_HAVE_PODSIM_GEN
static char *read_text(const char *path)
{
    char *buf = NULL;
    size_t len = 0;
    ps_errmsg em;
    ps_err err = ps_plat_read_file(path, 1 << 24, &buf, &len, &em);
    if (err != PS_OK)
        die("reading samples (set PS_SAMPLES)", err, &em);
    return buf;
}

static void load_samples(source *s)
{
    const char *dir = getenv("PS_SAMPLES") ? getenv("PS_SAMPLES") : "tests/data/samples";
    static const char *const files[2] = {"message.jsonl", "maillog.jsonl"};
    for (int t = 0; t < 2; t++) {
        char *path = ps_plat_path_join(dir, files[t]);
        char *text = read_text(path);
        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line && s->nsamples[t] < 8;
             line = strtok_r(NULL, "\n", &save))
            if (*line)
                s->samples[t][s->nsamples[t]++] = strdup(line);
        free(text);
        free(path);
    }
}

static uint64_t mix(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static void set_str(cJSON *obj, const char *key, const char *v)
{
    if (obj && cJSON_GetObjectItemCaseSensitive(obj, key))
        cJSON_ReplaceItemInObjectCaseSensitive(obj, key, cJSON_CreateString(v));
}

/* A sample with its ids, time, addresses and subject made unique to event i. */
static size_t variant(source *s, int type, uint64_t i, int64_t ts_us, char **out)
{
    static const char *const words[] = {"invoice",  "meeting", "report", "shipment", "password",
                                        "contract", "payroll", "update", "review",   "welcome"};
    uint64_t h = mix(i * 2 + (uint64_t)type);
    cJSON *root = cJSON_Parse(s->samples[type][i % s->nsamples[type]]);
    char v[160], ts[40];
    char *text;
    int64_t secs = ts_us / 1000000;
    snprintf(ts, sizeof ts, "2024-05-22T%02d:%02d:%02d.%06dZ", (int)(secs / 3600 % 24),
             (int)(secs / 60 % 60), (int)(secs % 60), (int)(ts_us % 1000000));
    set_str(root, "ts", ts);
    if (type == 0) {
        cJSON *env = cJSON_GetObjectItemCaseSensitive(root, "envelope");
        cJSON *filter = cJSON_GetObjectItemCaseSensitive(root, "filter");
        cJSON *hdr = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "msg"),
                                                      "header");
        cJSON *rcpts;
        snprintf(v, sizeof v, "g%015llx%016llx", (unsigned long long)i, (unsigned long long)h);
        set_str(root, "guid", v);
        snprintf(v, sizeof v, "user%llu@sender%llu.example.net", (unsigned long long)(h % 5000),
                 (unsigned long long)(h >> 20) % 300);
        set_str(env, "from", v);
        rcpts = cJSON_CreateArray();
        snprintf(v, sizeof v, "mailbox%llu@example.com", (unsigned long long)(h >> 8) % 50000);
        cJSON_AddItemToArray(rcpts, cJSON_CreateString(v));
        cJSON_ReplaceItemInObjectCaseSensitive(env, "rcpts", rcpts);
        snprintf(v, sizeof v, "Q%013llx", (unsigned long long)(h & 0xFFFFFFFFFFFFFULL));
        set_str(filter, "qid", v);
        if (hdr) {
            cJSON *subj = cJSON_CreateArray();
            cJSON *mid = cJSON_CreateArray();
            snprintf(v, sizeof v, "%s %s #%llu", words[h % 10], words[(h >> 4) % 10],
                     (unsigned long long)(h >> 12) % 100000);
            cJSON_AddItemToArray(subj, cJSON_CreateString(v));
            cJSON_ReplaceItemInObjectCaseSensitive(hdr, "subject", subj);
            snprintf(v, sizeof v, "<%llx.%llu@mail.example.net>", (unsigned long long)h,
                     (unsigned long long)i);
            cJSON_AddItemToArray(mid, cJSON_CreateString(v));
            cJSON_ReplaceItemInObjectCaseSensitive(hdr, "message-id", mid);
        }
    } else {
        cJSON *sm = cJSON_GetObjectItemCaseSensitive(root, "sm");
        cJSON *to = cJSON_CreateArray();
        snprintf(v, sizeof v, "i%021llx", (unsigned long long)h);
        set_str(root, "id", v);
        snprintf(v, sizeof v, "Q%013llx", (unsigned long long)(h & 0xFFFFFFFFFFFFFULL));
        set_str(sm, "qid", v);
        snprintf(v, sizeof v, "<mailbox%llu@example.com>", (unsigned long long)(h >> 8) % 50000);
        cJSON_AddItemToArray(to, cJSON_CreateString(v));
        if (sm && cJSON_GetObjectItemCaseSensitive(sm, "to"))
            cJSON_ReplaceItemInObjectCaseSensitive(sm, "to", to);
        else
            cJSON_Delete(to);
    }
    text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    *out = text;
    return strlen(text);
}
#endif

/* total > 0: the -D mode. The maillog device's clock runs fast, so its timestamps
 * pull ahead of the message device's until they lead by an hour at the end (two
 * devices catching up a backlog at different speeds), and from three quarters of
 * the run on, an archive fill stores an hour from three hours before the start. */
static void source_init(source *s, double share, uint64_t total)
{
    memset(s, 0, sizeof *s);
    s->message_share = share;
#ifdef PS_HAVE_PODSIM_GEN
    int64_t span = (int64_t)total * 2000 + 3600LL * 1000000LL;
    /* Both streams advance through the same stretch of time, at the mix asked. */
    psim_timeline_init(&s->tl[0], 7, "pphosted_bench", PSIM_MESSAGE, ORIGIN_US,
                       (int64_t)(2000.0 / share));
    psim_timeline_init(&s->tl[1], 7, "pphosted_bench", PSIM_MAILLOG, ORIGIN_US,
                       total ? (int64_t)((double)span / ((double)total * (1.0 - share)))
                             : (int64_t)(2000.0 / (1.0 - share)));
    if (total) {
        s->arch_at = total / 4 * 3;
        s->arch_n = total / 20;
        psim_timeline_init(&s->arch, 11, "pphosted_bench", PSIM_MAILLOG,
                           ORIGIN_US - 3 * 3600LL * 1000000LL,
                           (int64_t)(3600e6 / (double)s->arch_n));
    }
    for (int t = 0; t < 2; t++) {
        s->tl[t].disorder = 0.02; /* some events arrive late, as POD's do */
        s->tl[t].disorder_max_us = 120LL * 1000000LL;
    }
    psim_buf_init(&s->buf);
#else
    if (total) {
        fprintf(stderr, "bench_store: -D needs podsim_gen\n");
        exit(2);
    }
    load_samples(s);
#endif
}

static void source_deinit(source *s)
{
#ifdef PS_HAVE_PODSIM_GEN
    psim_buf_deinit(&s->buf);
#else
    for (int t = 0; t < 2; t++)
        for (size_t i = 0; i < s->nsamples[t]; i++)
            free(s->samples[t][i]);
    free(s->buf);
#endif
}

/* The next event, as frame bytes (valid until the next call). */
static const char *source_next(source *s, uint64_t n, int *type, size_t *len)
{
    /* Interleave by time so that the store sees what a service with two devices
     * (message and maillog of one cluster) would write. */
    double want_msg = (double)(n + 1 - s->arch_next) * s->message_share;
    int t = (double)s->next[0] < want_msg ? 0 : 1;
    uint64_t i;
#ifdef PS_HAVE_PODSIM_GEN
    psim_timeline *tl = &s->tl[t];
    if (s->arch_n && n >= s->arch_at && s->arch_next < s->arch_n) {
        tl = &s->arch;
        t = 1;
        i = s->arch_next++;
    } else {
        i = s->next[t]++;
    }
    *type = t;
    s->buf.len = 0;
    if (!psim_gen_event(tl, i, 0, &s->buf, NULL))
        die("generating an event", PS_ERR_NOMEM, NULL);
    *len = s->buf.len;
    return s->buf.data;
#else
    i = s->next[t]++;
    *type = t;
    free(s->buf);
    *len = variant(s, t, i, ORIGIN_US + (int64_t)n * 2000, &s->buf);
    return s->buf;
#endif
}

/* ---- picks for the query figures ------------------------------------------------- */

typedef struct picks {
    char *v[PICKS];
    size_t n;
    uint64_t seen;
} picks;

static uint64_t rng_state = 88172645463325252ULL;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void pick(picks *p, const char *v)
{
    uint64_t j;
    if (!v || !*v)
        return;
    p->seen++;
    if (p->n < PICKS) {
        p->v[p->n++] = strdup(v);
        return;
    }
    j = rnd() % p->seen;
    if (j < PICKS) {
        free(p->v[j]);
        p->v[j] = strdup(v);
    }
}

static double now_us_precise(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* CPU time of the calling thread: the writer's cost without waiting for a core
 * that other processes hold. */
static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct figures {
    double v[RUNS];
    double cpu[RUNS]; /* the same queries' CPU time: what other load does not change */
    int n;
    uint64_t rows;
} figures;

static void print_fig(const char *name, figures *f)
{
    int p95 = (f->n * 95) / 100 < f->n ? (f->n * 95) / 100 : f->n - 1;
    qsort(f->v, (size_t)f->n, sizeof f->v[0], cmp_double);
    qsort(f->cpu, (size_t)f->n, sizeof f->cpu[0], cmp_double);
    printf("  %-34s median %7.2f ms   p95 %7.2f ms   max %7.2f ms", name, f->v[f->n / 2], f->v[p95],
           f->v[f->n - 1]);
    if (f->cpu[f->n - 1] > 0)
        printf("   cpu p95 %6.2f ms", f->cpu[p95]);
    /* A child process's rows are not seen here. */
    if (f->rows > 0)
        printf("   (%.1f rows each)", (double)f->rows / f->n);
    printf("\n");
}

static bool count_row(const ps_event_row *row, void *ctx)
{
    (void)row;
    (*(uint64_t *)ctx)++;
    return true;
}

static void run_query(ps_store *rd, const ps_query *q, figures *f)
{
    ps_errmsg em;
    uint64_t rows = 0;
    double t0 = now_us_precise(), c0 = thread_cpu_s();
    ps_err err = ps_store_query(rd, q, count_row, &rows, &em);
    if (err != PS_OK)
        die("query", err, &em);
    f->cpu[f->n] = (thread_cpu_s() - c0) * 1000.0;
    f->v[f->n++] = (now_us_precise() - t0) / 1000.0;
    f->rows += rows;
}

/* ---- an upgraded database ------------------------------------------------------------ */

static double sorted_at(double *v, int n, double q)
{
    qsort(v, (size_t)n, sizeof v[0], cmp_double);
    return v[(int)(q * (n - 1))];
}

/* chunk_devices emptied as a database from before schema 6 has it, then filled by the
 * steps the service's writer runs between batches (4 chunks each), and compared with
 * what the writer had written. */
static void fill_phase(ps_store *st, const char *path, uint64_t events)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    ps_errmsg em;
    ps_err err;
    bool more = true;
    int n = 0, cap = 1024;
    double *wall = malloc((size_t)cap * sizeof *wall), *cpu = malloc((size_t)cap * sizeof *cpu);
    double cpu_all = 0, wall_all = 0;
    long long differ = -1;
    if (!wall || !cpu)
        die("filling chunk_devices", PS_ERR_NOMEM, NULL);
    if (sqlite3_open(path, &db) != SQLITE_OK ||
        sqlite3_exec(db,
                     "CREATE TEMP TABLE cd_before AS SELECT * FROM chunk_devices;"
                     "DELETE FROM chunk_devices; DELETE FROM meta WHERE k = 'chunkdev_fill_below'",
                     NULL, NULL, NULL) != SQLITE_OK) {
        printf("\nfilling chunk_devices: %s; skipped\n", sqlite3_errmsg(db));
        sqlite3_close(db);
        free(wall);
        free(cpu);
        return;
    }
    while (more) {
        double t0 = now_us_precise(), c0 = thread_cpu_s();
        if ((err = ps_store_chunkdev_fill_step(st, 4, &more, &em)) != PS_OK)
            die("filling chunk_devices", err, &em);
        if (n == cap) {
            double *w2 = realloc(wall, (size_t)cap * 2 * sizeof *wall);
            double *c2 = w2 ? realloc(cpu, (size_t)cap * 2 * sizeof *cpu) : NULL;
            if (!w2 || !c2)
                die("filling chunk_devices", PS_ERR_NOMEM, NULL);
            wall = w2;
            cpu = c2;
            cap *= 2;
        }
        cpu[n] = (thread_cpu_s() - c0) * 1000.0;
        wall[n++] = (now_us_precise() - t0) / 1000.0;
        cpu_all += cpu[n - 1];
        wall_all += wall[n - 1];
    }
    if (sqlite3_prepare_v2(db,
                           "SELECT (SELECT count(*) FROM (SELECT * FROM cd_before EXCEPT SELECT * "
                           "FROM chunk_devices)) + (SELECT count(*) FROM (SELECT * FROM "
                           "chunk_devices EXCEPT SELECT * FROM cd_before))",
                           -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        differ = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    printf("\nfilling chunk_devices of an upgraded database (4 chunks of 1,024 ids per step):\n");
    printf("  %d steps, %.2f s in all (%.2f s CPU, %.2f us/event); per step median %.2f ms   "
           "p95 %.2f ms   max %.2f ms   cpu p95 %.2f ms\n",
           n, wall_all / 1000.0, cpu_all / 1000.0, cpu_all * 1000.0 / (double)events,
           sorted_at(wall, n, 0.5), sorted_at(wall, n, 0.95), sorted_at(wall, n, 1.0),
           sorted_at(cpu, n, 0.95));
    printf("  rows that differ from the writer's: %lld\n", differ);
    free(wall);
    free(cpu);
}

/* ---- ingest ------------------------------------------------------------------------ */

typedef struct ingest_stats {
    uint64_t events, dups;
    uint64_t raw_bytes[2], count[2];
    double store_s;     /* prepare + begin/put/commit */
    double store_cpu_s; /* CPU time of this thread in the store calls */
    double sqlite_s;    /* begin/put/commit alone */
    int64_t min_ts, max_ts;
} ingest_stats;

static picks p_from, p_to, p_qid, p_mid, p_word;

static void pick_words(const char *subject)
{
    char w[64];
    size_t n = 0;
    for (const char *c = subject;; c++) {
        bool alpha = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z');
        if (alpha && n + 1 < sizeof w) {
            w[n++] = (char)(*c | 0x20);
        } else {
            if (n >= 5) {
                w[n] = '\0';
                pick(&p_word, w);
            }
            n = 0;
        }
        if (!*c)
            break;
    }
}

static void ingest(ps_store *st, source *src, uint64_t total, uint64_t first, ingest_stats *is,
                   bool with_picks, bool progress)
{
    static ps_event *evs;
    static ps_store_row *rows;
    static char *raws[BATCH];
    static size_t lens[BATCH];
    ps_store_prep *prep = NULL;
    ps_errmsg em;
    ps_err err;
    uint64_t done = 0;
    if (!evs && !(evs = calloc(BATCH, sizeof *evs)))
        die("allocating a batch", PS_ERR_NOMEM, NULL);
    if (!rows && !(rows = calloc(BATCH, sizeof *rows)))
        die("allocating a batch", PS_ERR_NOMEM, NULL);
    if ((err = ps_store_prep_create(st, &prep, &em)) != PS_OK)
        die("preparing", err, &em);
    while (done < total) {
        size_t nb = total - done < BATCH ? (size_t)(total - done) : BATCH;
        double t0, t1, c0;
        for (size_t k = 0; k < nb; k++) {
            int type;
            size_t len;
            const char *raw = source_next(src, first + done + k, &type, &len);
            ps_event_init(&evs[k]);
            raws[k] = malloc(len + 1);
            if (!raws[k])
                die("copying an event", PS_ERR_NOMEM, NULL);
            memcpy(raws[k], raw, len);
            lens[k] = len;
            if ((err = ps_event_parse(&evs[k], (ps_data_type)type, raws[k], len, &em)) != PS_OK ||
                (err = ps_event_extract(&evs[k], &em)) != PS_OK)
                die("parsing a generated event", err, &em);
            is->raw_bytes[type] += len;
            is->count[type]++;
            if (is->min_ts == 0 || evs[k].ts_us < is->min_ts)
                is->min_ts = evs[k].ts_us;
            if (evs[k].ts_us > is->max_ts)
                is->max_ts = evs[k].ts_us;
            if (with_picks && type == 0) {
                const char *rc = evs[k].text[PS_EF_RECIPIENTS];
                pick(&p_from, evs[k].text[PS_EF_SENDER]);
                pick(&p_qid, evs[k].text[PS_EF_QID]);
                pick(&p_mid, evs[k].text[PS_EF_MESSAGE_ID]);
                if (rc) {
                    char one[256];
                    size_t n = strcspn(rc, ",");
                    snprintf(one, sizeof one, "%.*s", (int)(n < 255 ? n : 255), rc);
                    pick(&p_to, one);
                }
                if (evs[k].text[PS_EF_SUBJECT])
                    pick_words(evs[k].text[PS_EF_SUBJECT]);
            }
        }
        /* The same calls as ps_store_insert, in two timed steps. */
        t0 = now_us_precise();
        c0 = thread_cpu_s();
        for (size_t k = 0; k < nb; k++)
            if ((err = ps_store_prepare(prep, &evs[k], raws[k], lens[k], &rows[k], &em)) != PS_OK)
                die("prepare", err, &em);
        t1 = now_us_precise();
        if ((err = ps_store_begin(st, &em)) != PS_OK)
            die("begin", err, &em);
        for (size_t k = 0; k < nb; k++) {
            bool dup = false;
            if ((err = ps_store_put(st, evs[k].type == PS_DATA_MESSAGE ? 1 : 2, &rows[k],
                                    "[\"bench\"]", &dup, &em)) != PS_OK)
                die("insert", err, &em);
            is->dups += dup;
        }
        if ((err = ps_store_commit(st, &em)) != PS_OK)
            die("commit", err, &em);
        is->store_s += (now_us_precise() - t0) / 1e6;
        is->sqlite_s += (now_us_precise() - t1) / 1e6;
        is->store_cpu_s += thread_cpu_s() - c0;
        for (size_t k = 0; k < nb; k++) {
            ps_store_row_deinit(&rows[k]);
            ps_event_deinit(&evs[k]);
            free(raws[k]);
        }
        done += nb;
        is->events += nb;
        if (progress && done % 100000 == 0) {
            printf("  %8llu events stored, %.0f events/s so far\n", (unsigned long long)done,
                   (double)is->events / is->store_s);
            fflush(stdout);
        }
    }
    ps_store_prep_destroy(prep);
}

/* ---- concurrent reader ------------------------------------------------------------ */

typedef struct reader_ctx {
    const char *path;
    atomic_bool stop;
    uint64_t queries;
    double max_ms;
    ps_err err;
    ps_errmsg em;
} reader_ctx;

static void *reader_main(void *arg)
{
    reader_ctx *rc = arg;
    ps_store *rd = NULL;
    rc->err = ps_store_create(rc->path, PS_STORE_READER, &rd, &rc->em);
    while (rc->err == PS_OK && !atomic_load(&rc->stop)) {
        ps_query q;
        uint64_t rows = 0;
        double t0 = now_us_precise(), ms;
        ps_query_init(&q);
        q.from = p_from.v[rnd() % p_from.n];
        q.limit = 100;
        rc->err = ps_store_query(rd, &q, count_row, &rows, &rc->em);
        ms = (now_us_precise() - t0) / 1000.0;
        if (ms > rc->max_ms)
            rc->max_ms = ms;
        rc->queries++;
    }
    ps_store_destroy(rd);
    return NULL;
}

static double wal_mb(const char *path)
{
    char wal[1024];
    struct stat sb;
    snprintf(wal, sizeof wal, "%s-wal", path);
    return stat(wal, &sb) == 0 ? (double)sb.st_size / 1e6 : 0.0;
}

static void reader_start(reader_ctx *rc, ps_thread **th, const char *path)
{
    memset(rc, 0, sizeof *rc);
    rc->path = path;
    atomic_init(&rc->stop, false);
    if (ps_plat_thread_create(th, "reader", reader_main, rc) != PS_OK)
        die("the concurrent reader", PS_ERR_INTERNAL, NULL);
}

static void reader_stop(reader_ctx *rc, ps_thread *th, uint64_t *queries, double *max_ms)
{
    atomic_store(&rc->stop, true);
    (void)ps_plat_thread_join(th);
    if (rc->err != PS_OK)
        die("the concurrent reader", rc->err, &rc->em);
    *queries += rc->queries;
    if (rc->max_ms > *max_ms)
        *max_ms = rc->max_ms;
}

static void stats_add(ingest_stats *sum, const ingest_stats *one)
{
    sum->events += one->events;
    sum->store_s += one->store_s;
    sum->store_cpu_s += one->store_cpu_s;
}

/* `more` events without a reader and as many with one querying without pause, in
 * four stretches ordered alone, reader, reader, alone. The writer's cost per event
 * drifts as the database grows (four stretches with no reader at all took 12.9,
 * 16.1, 15.9 and 16.2 us an event), and this order gives both sides the same
 * drift, which a plain "alone, then reader" charged to the reader. The writer's
 * CPU time per event says whether the reader makes the writer's work dearer (a
 * lock they share, checkpoints it blocks, a WAL that grows) or only takes its
 * core. */
static void reader_phase(ps_store *st, source *src, const char *path, uint64_t first, uint64_t more)
{
    static const bool with_reader[4] = {false, true, true, false};
    ingest_stats alone, beside;
    uint64_t part = more / 2, each = part * 2, queries = 0, at = first;
    double max_ms = 0;
    memset(&alone, 0, sizeof alone);
    memset(&beside, 0, sizeof beside);
    printf("\nwriting while a reader queries without pause (%llu events each, in stretches "
           "alone, reader, reader, alone):\n",
           (unsigned long long)each);
    for (int i = 0; i < 4; i++) {
        reader_ctx rc;
        ps_thread *th = NULL;
        ingest_stats one;
        memset(&one, 0, sizeof one);
        if (with_reader[i])
            reader_start(&rc, &th, path);
        ingest(st, src, part, at, &one, false, false);
        at += part;
        if (with_reader[i])
            reader_stop(&rc, th, &queries, &max_ms);
        stats_add(with_reader[i] ? &beside : &alone, &one);
        printf("  stretch %d, %-7s insert rate %.0f events/s, writer CPU %.1f us/event, WAL file "
               "%.1f MB\n",
               i + 1, with_reader[i] ? "reader:" : "alone:", (double)one.events / one.store_s,
               one.store_cpu_s / (double)one.events * 1e6, wal_mb(path));
    }
    printf("  alone:       insert rate %.0f events/s, writer CPU %.1f us/event\n",
           (double)alone.events / alone.store_s, alone.store_cpu_s / (double)alone.events * 1e6);
    printf("  with reader: insert rate %.0f events/s, writer CPU %.1f us/event (%.0f%% of the "
           "rate alone)\n",
           (double)beside.events / beside.store_s, beside.store_cpu_s / (double)beside.events * 1e6,
           100.0 * ((double)beside.events / beside.store_s) /
               ((double)alone.events / alone.store_s));
    printf("  writer CPU per event with the reader: %.0f%% of the rate alone, when the reader "
           "has a core of its own\n",
           100.0 * (alone.store_cpu_s / (double)alone.events) /
               (beside.store_cpu_s / (double)beside.events));
    printf("  the reader ran %llu queries, the slowest %.1f ms\n", (unsigned long long)queries,
           max_ms);
}

/* ---- whole process --------------------------------------------------------------- */

static double run_podstream(const char *bin, char *const argv[])
{
    pid_t pid;
    int status = 0;
    double t0 = now_us_precise();
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (posix_spawn(&pid, bin, &fa, NULL, argv, environ) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return -1;
    }
    posix_spawn_file_actions_destroy(&fa);
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1;
    return (now_us_precise() - t0) / 1000.0;
}

static char *default_podstream(const char *argv0)
{
    const char *env = getenv("PODSTREAM");
    const char *slash = strrchr(argv0, '/');
    char dir[4096];
    if (env && *env)
        return strdup(env);
    if (slash)
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - argv0), argv0);
    else
        snprintf(dir, sizeof dir, ".");
    return ps_plat_path_join(dir, "../../service/podstream");
}

/* ---- main ---------------------------------------------------------------------- */

static void print_tables(const char *path)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return;
    if (sqlite3_prepare_v2(db,
                           "SELECT CASE WHEN name LIKE 'events_fts%' THEN 'events_fts (all "
                           "shadow tables)' ELSE name END AS n, sum(pgsize) FROM dbstat "
                           "GROUP BY n ORDER BY 2 DESC",
                           -1, &s, NULL) == SQLITE_OK) {
        while (sqlite3_step(s) == SQLITE_ROW)
            printf("    %-34s %10.1f MB\n", (const char *)sqlite3_column_text(s, 0),
                   (double)sqlite3_column_int64(s, 1) / 1e6);
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
}

int main(int argc, char **argv)
{
    uint64_t total = 1000000;
    double share = 0.33;
    const char *path = "bench_store.db";
    char *podstream = NULL;
    int opt;
    bool diverge = false, memstatus = false;
    ps_store *st = NULL, *rd = NULL;
    ps_errmsg em;
    ps_err err;
    source src;
    ingest_stats is;
    ps_store_size sz;
    memset(&is, 0, sizeof is);
    while ((opt = getopt(argc, argv, "n:m:d:p:DM")) != -1) {
        switch (opt) {
        case 'D':
            diverge = true;
            break;
        case 'M':
            memstatus = true;
            break;
        case 'n':
            total = strtoull(optarg, NULL, 10);
            break;
        case 'm':
            share = strtod(optarg, NULL);
            break;
        case 'd':
            path = optarg;
            break;
        case 'p':
            free(podstream);
            podstream = strdup(optarg);
            break;
        default:
            fprintf(stderr,
                    "usage: bench_store [-n EVENTS] [-m MESSAGE_SHARE] [-d DB] [-p PODSTREAM] [-D] "
                    "[-M]\n");
            free(podstream);
            return 2;
        }
    }
    if (share <= 0.0 || share >= 1.0 || total < BATCH) {
        fprintf(stderr, "bench_store: -m must be in (0, 1) and -n at least %d\n", BATCH);
        free(podstream);
        return 2;
    }
    /* As the service does, since the reader below shares this process. */
    if (!memstatus)
        ps_store_process_init();
    printf("SQLite's memory statistics: %s\n",
           memstatus ? "on (-M, as before ps_store_process_init)" : "off, as in the service");
    if (!podstream)
        podstream = default_podstream(argv[0]);
    signal(SIGPIPE, SIG_IGN);
    source_init(&src, share, diverge ? total : 0);
#ifdef PS_HAVE_PODSIM_GEN
    printf("bench_store: %llu events from podsim_gen, %.0f%% message, SQLite %s%s\n",
           (unsigned long long)total, share * 100, sqlite3_libversion(),
           diverge ? "; devices diverge by up to 1 h, archive fill of an old hour" : "");
#else
    printf("bench_store: %llu events varied from the shared samples, %.0f%% message, SQLite %s\n",
           (unsigned long long)total, share * 100, sqlite3_libversion());
#endif
    {
        char side[1024];
        remove(path);
        snprintf(side, sizeof side, "%s-wal", path);
        remove(side);
        snprintf(side, sizeof side, "%s-shm", path);
        remove(side);
    }
    if ((err = ps_store_create(path, PS_STORE_WRITER, &st, &em)) != PS_OK)
        die("opening the database", err, &em);

    printf("\ningest (batches of %d, the store's work only):\n", BATCH);
    ingest(st, &src, total, 0, &is, true, true);
    printf("  raw insert rate: %.0f events/s (%llu events in %.1f s of store time, %llu "
           "duplicates)\n",
           (double)is.events / is.store_s, (unsigned long long)is.events, is.store_s,
           (unsigned long long)is.dups);
    printf("  writer CPU: %.1f us/event, i.e. %.0f events/s on one free core\n",
           is.store_cpu_s / (double)is.events * 1e6, (double)is.events / is.store_cpu_s);
    printf("  SQLite alone (begin/put/commit of prepared rows): %.0f events/s; preparing took "
           "%.1f us/event\n",
           (double)is.events / is.sqlite_s, (is.store_s - is.sqlite_s) / (double)is.events * 1e6);
    ps_store_destroy(st); /* checkpoints the WAL, so the file holds everything */
    if ((err = ps_store_create(path, PS_STORE_WRITER, &st, &em)) != PS_OK)
        die("reopening the database", err, &em);

    if ((err = ps_store_size_get(st, true, &sz, &em)) != PS_OK)
        die("measuring", err, &em);
    {
        double raw = (double)(is.raw_bytes[0] + is.raw_bytes[1]);
        printf("\nsize:\n");
        printf("  raw JSON: %.1f MB (message avg %.0f B, maillog avg %.0f B)\n", raw / 1e6,
               (double)is.raw_bytes[0] / (double)(is.count[0] ? is.count[0] : 1),
               (double)is.raw_bytes[1] / (double)(is.count[1] ? is.count[1] : 1));
        printf("  database: %.1f MB = %.0f B/event = %.3f x raw JSON (indexes and full text "
               "included)\n",
               (double)sz.used_bytes / 1e6, (double)sz.used_bytes / (double)sz.events,
               (double)sz.used_bytes / raw);
        printf("  compressed JSON alone: %.0f B/event = %.3f x raw\n",
               (double)sz.stored_bytes / (double)sz.events, (double)sz.stored_bytes / raw);
        print_tables(path);
    }

    if ((err = ps_store_create(path, PS_STORE_READER, &rd, &em)) != PS_OK)
        die("opening a reader", err, &em);
    printf("\nqueries on %llu events (ps_store_query, limit 100, %d random lookups each):\n",
           (unsigned long long)sz.events, RUNS);
    {
        figures f_from = {0}, f_to = {0}, f_qid = {0}, f_mid = {0}, f_range = {0}, f_fts = {0},
                f_fts2 = {0}, f_disp = {0};
        int64_t span = is.max_ts - is.min_ts;
        for (int i = 0; i < RUNS; i++) {
            ps_query q;
            ps_query_init(&q);
            q.limit = 100;
            q.from = p_from.v[rnd() % p_from.n];
            run_query(rd, &q, &f_from);
            ps_query_init(&q);
            q.limit = 100;
            q.to = p_to.v[rnd() % p_to.n];
            run_query(rd, &q, &f_to);
            ps_query_init(&q);
            q.limit = 100;
            q.qid = p_qid.v[rnd() % p_qid.n];
            run_query(rd, &q, &f_qid);
            ps_query_init(&q);
            q.limit = 100;
            q.message_id = p_mid.v[rnd() % p_mid.n];
            run_query(rd, &q, &f_mid);
            ps_query_init(&q);
            q.limit = 100;
            q.since_us = is.min_ts + (int64_t)(rnd() % (uint64_t)(span > 0 ? span : 1));
            q.until_us = q.since_us + 3600LL * 1000000LL;
            run_query(rd, &q, &f_range);
            ps_query_init(&q);
            q.limit = 100;
            q.search = p_word.v[rnd() % p_word.n];
            run_query(rd, &q, &f_fts);
            {
                char two[160];
                ps_query_init(&q);
                q.limit = 100;
                snprintf(two, sizeof two, "%s %s", p_word.v[rnd() % p_word.n],
                         p_word.v[rnd() % p_word.n]);
                q.search = two;
                run_query(rd, &q, &f_fts2);
            }
            ps_query_init(&q);
            q.limit = 100;
            q.disposition = "discard";
            q.since_us = is.max_ts - 3600LL * 1000000LL;
            run_query(rd, &q, &f_disp);
        }
        print_fig("--from (sender)", &f_from);
        print_fig("--to (recipient)", &f_to);
        print_fig("--qid", &f_qid);
        print_fig("--message-id", &f_mid);
        print_fig("--since/--until (1 h window)", &f_range);
        print_fig("--search (one word)", &f_fts);
        print_fig("--search (two words)", &f_fts2);
        print_fig("--disposition discard --since 1h", &f_disp);
    }

    if (access(podstream, X_OK) == 0) {
        figures f_proc = {0};
        for (int i = 0; i < RUNS / 2; i++) {
            char *args[] = {(char *)"podstream", (char *)"query",  (char *)"--db",
                            (char *)path,        (char *)"--from", p_from.v[rnd() % p_from.n],
                            (char *)"--limit",   (char *)"20",     NULL};
            double ms = run_podstream(podstream, args);
            if (ms < 0) {
                printf("  %s query failed; whole-process figure skipped\n", podstream);
                break;
            }
            f_proc.v[f_proc.n++] = ms;
        }
        if (f_proc.n == RUNS / 2) {
            printf("\nwhole process (%s query --db DB --from ADDR --limit 20):\n", podstream);
            print_fig("podstream query", &f_proc);
        }
    } else {
        printf("\nwhole process: %s not found (pass -p); skipped\n", podstream);
    }

    fill_phase(st, path, sz.events);
    reader_phase(st, &src, path, is.events, total / 10 < 100000 ? total / 10 : 100000);
    {
        /* Retention as the writer runs it between batches: expire the oldest hour,
         * 1,000 events per step. */
        ps_retention_policy pol = {1, 0};
        ps_retention_result res;
        figures f_ret = {0};
        int64_t now = is.min_ts + 86400LL * 1000000LL + 3600LL * 1000000LL;
        for (int i = 0; i < 10; i++) {
            double t0 = now_us_precise();
            if ((err = ps_store_retention_step(st, now, &pol, 1000, &res, &em)) != PS_OK)
                die("retention", err, &em);
            f_ret.v[f_ret.n++] = (now_us_precise() - t0) / 1000.0;
            f_ret.rows += res.deleted_age;
            if (!res.more)
                break;
        }
        printf("\nretention by age, budget 1,000 events per step:\n");
        print_fig("retention step", &f_ret);
    }
    ps_store_destroy(rd);
    ps_store_destroy(st);
    source_deinit(&src);
    {
        picks *all[] = {&p_from, &p_to, &p_qid, &p_mid, &p_word};
        for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
            for (size_t i = 0; i < all[k]->n; i++)
                free(all[k]->v[i]);
    }
    free(podstream);
    return 0;
}
