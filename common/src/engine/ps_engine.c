#include "podstream/ps_engine.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "podstream/ps_event.h"
#include "podstream/ps_log.h"
#include "podstream/ps_pipeline.h"
#include "podstream/ps_platform.h"
#include "engine/ps_queue.h"
#include "podstream/ps_secret.h"
#include "engine/ps_spool.h"
#include "podstream/ps_store.h"
#include "net/ps_ws.h"

#define US_PER_S    INT64_C(1000000)
#define US_PER_MIN  (60 * US_PER_S)
#define US_PER_HOUR (60 * US_PER_MIN)
#define US_PER_DAY  (24 * US_PER_HOUR)
/* A gap longer than this since the last healthy session means the live stream
 * will not resume where we left (POD keeps a position for one hour). */
#define RESUME_GAP_US (55 * US_PER_MIN)
/* Backfill starts this much before the newest committed event, so events whose
 * ts arrived out of order around the drop are fetched again (dedup absorbs them). */
#define BACKFILL_MARGIN_US (15 * US_PER_MIN)
#define ARCHIVE_REACH_US   (30 * US_PER_DAY)
/* A backfill that took longer than this left a hole the live hour may not cover. */
#define BACKFILL_REPEAT_US (25 * US_PER_MIN)
#define HEALTHY_SESSION_MS 30000
#define RECV_SLICE_MS      250
#define RATE_SLOTS         60
/* Retention deletes at most this many events per step, between batches: a step
 * costs about as much as storing them, so ingest never waits long for it. */
#define RETENTION_BUDGET  250
#define RETENTION_IDLE_MS 10000
/* Messages a receiver hands to the workers at once: one lock and one wake-up per
 * batch instead of per message. */
#define RX_BATCH 64
/* Messages above this leave the heap trimmed after they are stored. */
#define HUGE_MESSAGE (1u << 20)

typedef struct device device;

typedef enum item_kind { ITEM_EVENT, ITEM_QUARANTINE, ITEM_DROPPED, ITEM_FAILED } item_kind;

/* One received message on its way from the socket to the database. */
typedef struct item {
    device *dev;
    uint64_t seq;
    ps_data_type type;
    char *data; /* the frame payload (or its prefix when oversize) */
    size_t len;
    size_t total_len;
    bool binary;
    bool oversize;
    bool replayed; /* came from the spool after a restart */
    /* filled by a worker */
    item_kind kind;
    ps_event ev;
    ps_store_row row; /* EVENT: ready for the writer; data, out and ev are freed then */
    char *out;        /* re-serialised JSON when a pipeline changed the event; NULL: data */
    size_t out_len;
    char reason[512];
    const char *pipeline; /* DROPPED/FAILED: the deciding pipeline (sets live as long as
                           * the engine) */
    char *tags;           /* tags JSON when pipelines added some; NULL: the device's */
    bool duplicate;       /* set by the writer inside the batch */
    bool spooled;         /* already in the spool (replayed) */
} item;

/* Writer-thread view of a device: touched only by the writer. */
typedef struct writer_view {
    ps_resume_state resume;
    uint64_t events_total;
    uint64_t duplicates, quarantined, dropped, failed;
    int64_t lag_ms;
    int64_t slot_second[RATE_SLOTS];
    uint32_t slot_count[RATE_SLOTS];
    bool touched;       /* has new events in the open batch */
    int64_t pending_ts; /* newest ts in the open batch */
} writer_view;

struct device {
    ps_engine *eng;
    const ps_device *cfg;           /* borrowed from a config generation the engine keeps */
    const ps_service_settings *svc; /* likewise; fixed for the device's lifetime */
    /* Swapped on reload when only pipeline definitions changed; every set lives
     * until the engine is destroyed, so a worker may finish a batch with the old. */
    const ps_pipeline_set *_Atomic pipes;
    char *tags_json;
    ps_spool *spool;
    ps_queue *work;
    pthread_t rx;
    pthread_t *workers;
    int nworkers;
    bool started;
    atomic_int stop;

    /* in-flight tracking: seq -> done flag, spool position, bytes */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool rx_waiting;                 /* the receiver waits for room */
    struct item *rx_batch[RX_BATCH]; /* receiver-local: messages not yet queued */
    size_t rx_n;
    atomic_int keep_spool; /* something was not committed: never delete the spool */
    uint64_t base, next;
    unsigned char done[PS_ENGINE_MAX_INFLIGHT];
    ps_spool_pos pos[PS_ENGINE_MAX_INFLIGHT];
    size_t bytes[PS_ENGINE_MAX_INFLIGHT];
    size_t inflight_bytes;

    /* shared with the writer (atomics) */
    atomic_int state;
    atomic_llong last_alive_us;     /* wall time a live session was last seen alive */
    atomic_llong last_committed_ts; /* newest committed event ts */
    atomic_ullong reconnects;
    pthread_mutex_t err_mu;
    char last_error[256];
    int64_t last_error_us;

    /* Events in flight when a session broke (socket buffers, the network) are gone
     * from the live stream; the archive holds them archive_delay later. This window
     * is fetched again then. Guarded by err_mu. */
    int64_t repair_from_us, repair_to_us;
    /* The smallest start added since the receiver took the window for a trip
     * (0: none): what the trip leaves to fetch later. */
    int64_t repair_added_from_us;

    writer_view w;
    bool resume_clean_at_start;
};

struct ps_engine {
    ps_config *cfg;
    ps_pipeline_set *pipes;
    ps_config **generations; /* every config loaded; devices borrow from them */
    ps_pipeline_set **pipe_generations;
    size_t ngenerations;
    ps_store *store;
    ps_queue *commit;
    pthread_t writer;
    bool writer_started;
    pthread_mutex_t mu; /* devices array */
    device **devices;
    size_t ndevices;
    char *spool_dir;
    atomic_int stopping;
    atomic_uint ticks; /* counter ticks written, so reload can wait for one */
    /* read by the writer, changed by reload */
    atomic_int retention_days;
    atomic_ullong retention_max_bytes;
};

/* ---- small helpers --------------------------------------------------------- */

static void set_error(device *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(device *d, const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&d->err_mu);
    va_start(ap, fmt);
    vsnprintf(d->last_error, sizeof d->last_error, fmt, ap);
    va_end(ap);
    d->last_error_us = ps_plat_now_us();
    pthread_mutex_unlock(&d->err_mu);
}

static void set_state(device *d, ps_device_state s)
{
    atomic_store(&d->state, (int)s);
}

/* Sleeps up to ms, waking early when the device is told to stop. */
static void nap(device *d, int64_t ms)
{
    int64_t until = ps_plat_mono_ms() + ms;
    while (!atomic_load(&d->stop)) {
        int64_t left = until - ps_plat_mono_ms();
        struct timespec ts;
        if (left <= 0)
            break;
        if (left > 100)
            left = 100;
        ts.tv_sec = 0;
        ts.tv_nsec = (long)left * 1000000L;
        nanosleep(&ts, NULL);
    }
}

/* Full jitter: uniform in [0, min(cap, initial * 2^attempt)]. */
static int64_t backoff_ms(const ps_service_settings *s, int attempt)
{
    int64_t ceiling = s->backoff_initial_ms;
    uint32_t r = 0;
    for (int i = 0; i < attempt && ceiling < s->backoff_max_ms; i++)
        ceiling *= 2;
    if (ceiling > s->backoff_max_ms)
        ceiling = s->backoff_max_ms;
    (void)ps_plat_random(&r, sizeof r);
    return (int64_t)((double)r / 4294967295.0 * (double)ceiling);
}

/* "2025-01-02T03:00:00.000-0000": the form POD's peers send. */
static void format_api_time(int64_t us, char *buf, size_t len)
{
    time_t secs = (time_t)(us / US_PER_S);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%S.000-0000", &tm);
}

static int64_t floor_hour(int64_t us)
{
    return us - (us % US_PER_HOUR + US_PER_HOUR) % US_PER_HOUR;
}

static int64_t ceil_hour(int64_t us)
{
    int64_t f = floor_hour(us);
    return f == us ? us : f + US_PER_HOUR;
}

/* endpoint?cid=..&type=..[&sinceTime=..&toTime=..], values percent-encoded. */
static char *build_url(const ps_device *dev, int64_t since_us, int64_t to_us)
{
    char since[40] = "", to[40] = "";
    char *cid = curl_easy_escape(NULL, dev->props.cluster, 0);
    char *type = curl_easy_escape(NULL, ps_data_type_name(dev->props.type), 0);
    char *esince = NULL, *eto = NULL, *url = NULL;
    size_t n;

    if (!cid || !type)
        goto out;
    if (since_us) {
        format_api_time(since_us, since, sizeof since);
        format_api_time(to_us, to, sizeof to);
        esince = curl_easy_escape(NULL, since, 0);
        eto = curl_easy_escape(NULL, to, 0);
        if (!esince || !eto)
            goto out;
    }
    n = strlen(dev->props.endpoint) + strlen(cid) + strlen(type) + 128;
    url = malloc(n);
    if (!url)
        goto out;
    snprintf(url, n, "%s%ccid=%s&type=%s%s%s%s%s", dev->props.endpoint,
             strchr(dev->props.endpoint, '?') ? '&' : '?', cid, type, since_us ? "&sinceTime=" : "",
             since_us ? esince : "", since_us ? "&toTime=" : "", since_us ? eto : "");
out:
    curl_free(cid);
    curl_free(type);
    curl_free(esince);
    curl_free(eto);
    return url;
}

static void item_free(item *it)
{
    if (!it)
        return;
    ps_store_row_deinit(&it->row);
    ps_event_deinit(&it->ev);
    free(it->data);
    free(it->out);
    free(it->tags);
    free(it);
}

/* ---- in-flight accounting -------------------------------------------------- */

/* Reserves a sequence number for a message of `bytes` that ends at spool
 * position `pos`. Blocks while the device has too much in flight, sending
 * keepalive pings meanwhile so the server does not see a dead peer.
 * PS_ERR_CLOSED when the device is stopping. */
static bool inflight_full(const device *d, size_t bytes)
{
    return d->next - d->base >= PS_ENGINE_MAX_INFLIGHT ||
           (d->next > d->base && d->inflight_bytes + bytes > PS_ENGINE_MAX_INFLIGHT_BYTES);
}

static void rx_flush(device *d);

static ps_err inflight_acquire(device *d, size_t bytes, ps_spool_pos pos, ps_ws *ws, uint64_t *seq)
{
    const ps_service_settings *s = d->svc;
    int64_t last_ping = ps_plat_mono_ms();
    size_t slot;

    pthread_mutex_lock(&d->mu);
    if (inflight_full(d, bytes) && d->rx_n > 0) {
        /* The window frees only as queued messages commit: hand ours over first. */
        pthread_mutex_unlock(&d->mu);
        rx_flush(d);
        pthread_mutex_lock(&d->mu);
    }
    while (inflight_full(d, bytes)) {
        struct timespec ts;
        if (atomic_load(&d->stop)) {
            pthread_mutex_unlock(&d->mu);
            return PS_ERR_CLOSED;
        }
        ps_plat_deadline_ms(&ts, 200);
        d->rx_waiting = true;
        pthread_cond_timedwait(&d->cv, &d->mu, &ts);
        d->rx_waiting = false;
        if (ws && ps_plat_mono_ms() - last_ping >= s->keepalive_ms) {
            pthread_mutex_unlock(&d->mu);
            (void)ps_ws_ping(ws, NULL);
            last_ping = ps_plat_mono_ms();
            pthread_mutex_lock(&d->mu);
        }
    }
    *seq = d->next++;
    slot = *seq % PS_ENGINE_MAX_INFLIGHT;
    d->done[slot] = 0;
    d->bytes[slot] = bytes;
    d->pos[slot] = pos;
    d->inflight_bytes += bytes;
    pthread_mutex_unlock(&d->mu);
    return PS_OK;
}

/* Marks the committed messages items[0..n) of device d (one lock for all) and
 * frees spool segments below the new watermark. */
static void inflight_done(device *d, item **items, size_t n)
{
    bool advanced = false;
    ps_spool_pos mark = {0, 0};

    pthread_mutex_lock(&d->mu);
    for (size_t i = 0; i < n; i++)
        if (items[i]->dev == d)
            d->done[items[i]->seq % PS_ENGINE_MAX_INFLIGHT] = 1;
    while (d->base < d->next && d->done[d->base % PS_ENGINE_MAX_INFLIGHT]) {
        size_t slot = d->base % PS_ENGINE_MAX_INFLIGHT;
        d->inflight_bytes -= d->bytes[slot];
        mark = d->pos[slot];
        d->base++;
        advanced = true;
    }
    /* The writer calls this once per batch and device, so a wake-up here is cheap:
     * wake a waiting receiver whenever room appeared, and device_stop when
     * everything is done. */
    if ((d->rx_waiting && advanced) || d->base == d->next)
        pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    if (advanced && d->spool && !atomic_load(&d->keep_spool))
        ps_spool_release(d->spool, mark);
}

/* ---- receiving ------------------------------------------------------------- */

/* Takes ownership of data; spools (unless replayed from the spool) and queues the
 * message. */
static ps_err enqueue(device *d, char *data, size_t len, size_t total_len, bool binary,
                      bool oversize, ps_data_type type, bool replayed, const ps_spool_pos *pos,
                      ps_ws *ws)
{
    ps_spool_pos end = {0, 0};
    ps_err err;
    item *it = calloc(1, sizeof *it);

    if (!it) {
        free(data);
        return PS_ERR_NOMEM;
    }
    it->dev = d;
    it->data = data;
    it->len = len;
    it->total_len = total_len;
    it->binary = binary;
    it->oversize = oversize;
    it->type = type;
    it->replayed = replayed;
    ps_event_init(&it->ev);
    ps_store_row_init(&it->row);

    /* A new message is spooled with its batch in rx_flush; a replayed one is
     * already in the spool at `pos`. */
    if (pos)
        end = *pos;
    it->spooled = pos != NULL;
    err = inflight_acquire(d, len, end, ws, &it->seq);
    if (err != PS_OK) {
        item_free(it);
        return err;
    }
    d->rx_batch[d->rx_n++] = it;
    if (d->rx_n == RX_BATCH)
        rx_flush(d);
    return PS_OK;
}

/* Queues the receiver's pending messages for the workers. Called when the batch is
 * full, when the socket has nothing more to read, before waiting for room, and
 * whenever a session ends: a message must never wait in the batch for long. */
static void rx_flush(device *d)
{
    ps_spool_record recs[RX_BATCH];
    ps_spool_pos ends[RX_BATCH];
    size_t nrec = 0;
    ps_errmsg em;

    if (d->rx_n == 0)
        return;
    for (size_t i = 0; i < d->rx_n; i++) {
        const item *it = d->rx_batch[i];
        if (it->spooled)
            continue;
        recs[nrec++] = (ps_spool_record){.data = it->data,
                                         .len = it->len,
                                         .total_len = it->total_len,
                                         .type = (int)it->type,
                                         .binary = it->binary,
                                         .oversize = it->oversize};
    }
    if (nrec > 0) {
        if (ps_spool_append_many(d->spool, recs, nrec, ends, &em) != PS_OK) {
            /* Without the spool a crash could lose these messages; keep going (the
             * commit still makes them durable, the repair window covers a crash)
             * but say so loudly. */
            PS_LOG_E(d->cfg->id, "%s", em.text);
            set_error(d, "%s", em.text);
            memset(ends, 0, sizeof ends);
        }
        pthread_mutex_lock(&d->mu);
        for (size_t i = 0, r = 0; i < d->rx_n; i++)
            if (!d->rx_batch[i]->spooled)
                d->pos[d->rx_batch[i]->seq % PS_ENGINE_MAX_INFLIGHT] = ends[r++];
        pthread_mutex_unlock(&d->mu);
    }
    if (ps_queue_push_many(d->work, (void *const *)d->rx_batch, d->rx_n) != PS_OK) {
        /* Only at stop: the messages stay in the spool for the next start. */
        atomic_store(&d->keep_spool, 1);
        inflight_done(d, d->rx_batch, d->rx_n);
        for (size_t i = 0; i < d->rx_n; i++)
            item_free(d->rx_batch[i]);
    }
    d->rx_n = 0;
}

static ps_err replay_cb(void *ctx, const ps_spool_record *rec)
{
    device *d = ctx;
    char *copy = malloc(rec->len + 1);
    if (!copy)
        return PS_ERR_NOMEM;
    memcpy(copy, rec->data, rec->len);
    copy[rec->len] = '\0';
    return enqueue(d, copy, rec->len, rec->total_len, rec->binary, rec->oversize,
                   (ps_data_type)rec->type, true, &rec->end, NULL);
}

typedef enum session_mode { MODE_LIVE, MODE_BACKFILL, MODE_REPAIR } session_mode;

/* Widens the repair window to cover [from, to]. */
static void repair_add(device *d, int64_t from, int64_t to)
{
    pthread_mutex_lock(&d->err_mu);
    if (!d->repair_to_us || from < d->repair_from_us)
        d->repair_from_us = from;
    if (to > d->repair_to_us)
        d->repair_to_us = to;
    if (!d->repair_added_from_us || from < d->repair_added_from_us)
        d->repair_added_from_us = from;
    pthread_mutex_unlock(&d->err_mu);
}

/* Takes the repair window for a trip when the archive should hold all of it by
 * now, else false. What a close adds from now on is left for a later trip
 * (repair_done). */
static bool repair_take(device *d, int64_t now, int64_t *from, int64_t *to)
{
    bool due;
    pthread_mutex_lock(&d->err_mu);
    due = d->repair_to_us && now >= d->repair_to_us + d->svc->archive_delay_ms * 1000;
    if (due) {
        *from = d->repair_from_us;
        *to = d->repair_to_us;
        d->repair_added_from_us = 0;
    }
    pthread_mutex_unlock(&d->err_mu);
    return due;
}

/* The resume state to write: what the writer committed, plus the receiver's
 * liveness and repair window. */
static ps_resume_state resume_snapshot(device *d, bool clean)
{
    ps_resume_state r = d->w.resume;
    r.last_healthy_us = atomic_load(&d->last_alive_us);
    r.clean_shutdown = clean;
    pthread_mutex_lock(&d->err_mu);
    r.repair_from_us = d->repair_from_us;
    r.repair_to_us = d->repair_to_us;
    pthread_mutex_unlock(&d->err_mu);
    return r;
}

/* After [from, to] was fetched: clears the window, or when a close widened it
 * meanwhile (the trip's own close does), keeps only what was added since. */
static void repair_done(device *d, int64_t from, int64_t to)
{
    pthread_mutex_lock(&d->err_mu);
    if (d->repair_from_us == from && d->repair_to_us == to)
        d->repair_from_us = d->repair_to_us = 0;
    else if (d->repair_added_from_us > d->repair_from_us)
        d->repair_from_us = d->repair_added_from_us;
    d->repair_added_from_us = 0;
    pthread_mutex_unlock(&d->err_mu);
}

/* Archive windows round to the hour (start down, end up) and reach back 30 days. */
static void archive_window(device *d, int64_t from, int64_t to, int64_t *since, int64_t *until)
{
    int64_t now = ps_plat_now_us();
    *since = floor_hour(from);
    if (*since < ceil_hour(now - ARCHIVE_REACH_US)) {
        PS_LOG_W(d->cfg->id, "the events to fetch start more than 30 days ago, beyond the "
                             "archive; the oldest of them cannot be fetched");
        *since = ceil_hour(now - ARCHIVE_REACH_US);
    }
    *until = ceil_hour(to);
    if (*until <= *since)
        *until = *since + US_PER_HOUR;
}

/* Chooses the next session. For MODE_REPAIR, rfrom and rto get the repair window as
 * recorded (to clear it once fetched); since/until are what is asked of the archive. */
static session_mode decide_mode(device *d, bool first, bool just_backfilled,
                                int64_t backfill_began_us, bool repair_taken, int64_t *since,
                                int64_t *until, int64_t *rfrom, int64_t *rto)
{
    const ps_service_settings *s = d->svc;
    int64_t now = ps_plat_now_us();
    int64_t last_ts = atomic_load(&d->last_committed_ts);
    int64_t alive = atomic_load(&d->last_alive_us);

    if (s->resume_policy == PS_RESUME_LIVE_ONLY || last_ts == 0)
        return MODE_LIVE;
    if (repair_taken || repair_take(d, now, rfrom, rto)) {
        archive_window(d, *rfrom, *rto, since, until);
        return MODE_REPAIR;
    }
    if (just_backfilled && now - backfill_began_us <= BACKFILL_REPEAT_US)
        return MODE_LIVE;
    if (just_backfilled || (first && !d->resume_clean_at_start) || alive == 0 ||
        now - alive > RESUME_GAP_US) {
        archive_window(d, last_ts - BACKFILL_MARGIN_US, now, since, until);
        return MODE_BACKFILL;
    }
    return MODE_LIVE;
}

typedef enum session_end {
    END_STOP,   /* told to stop */
    END_RETRY,  /* reconnect with backoff */
    END_WINDOW, /* archive window complete (close 1000) */
    END_REPAIR, /* leave live to fetch a repair window that is now due */
} session_end;

/* Reads one session until it ends. */
static session_end run_session(device *d, ps_ws *ws, session_mode mode, bool *healthy,
                               int64_t *rfrom, int64_t *rto)
{
    const ps_service_settings *s = d->svc;
    int64_t started = ps_plat_mono_ms();
    int64_t last_ping = started;
    int64_t unblocked = started; /* end of the last wait on backpressure */
    int64_t last_data = started;
    int64_t last_repair_check = started;
    long long id = d->cfg->id;

    for (;;) {
        ps_ws_msg msg;
        ps_errmsg em;
        ps_err err;
        int64_t now;

        if (atomic_load(&d->stop))
            return END_STOP;
        /* Nothing more to read without waiting: hand the batch over first. */
        err = ps_ws_recv(ws, d->rx_n ? 0 : RECV_SLICE_MS, &msg, &em);
        if (err != PS_OK && d->rx_n) {
            rx_flush(d);
            if (err == PS_ERR_AGAIN)
                continue;
        }
        now = ps_plat_mono_ms();
        if (err == PS_OK) {
            last_data = now;
            if (mode == MODE_LIVE)
                atomic_store(&d->last_alive_us, ps_plat_now_us());
            err = enqueue(d, msg.data, msg.len, msg.total_len, msg.binary, msg.oversize,
                          d->cfg->props.type, false, NULL, ws);
            if (err == PS_ERR_CLOSED)
                return END_STOP;
            if (err != PS_OK) {
                PS_LOG_E(id, "cannot queue a message: %s", ps_strerror(err));
                return END_RETRY;
            }
            /* Time spent blocked on backpressure is not the server's silence. */
            unblocked = ps_plat_mono_ms();
            now = unblocked;
        } else if (err == PS_ERR_CLOSED) {
            int code = ps_ws_close_code(ws);
            if (mode != MODE_LIVE && code == 1000) {
                PS_LOG_I(id, "archive window complete (close 1000)");
                return END_WINDOW;
            }
            PS_LOG_W(id, "%s; reconnecting", em.text);
            set_error(d, "%s", em.text);
            return END_RETRY;
        } else if (err != PS_ERR_AGAIN) {
            PS_LOG_W(id, "%s; reconnecting", em.text);
            set_error(d, "%s", em.text);
            return END_RETRY;
        }
        if (!*healthy && now - started >= HEALTHY_SESSION_MS)
            *healthy = true;
        int64_t heard = ps_ws_last_activity_ms(ws);
        if (heard < unblocked)
            heard = unblocked;
        if (now - heard < s->keepalive_ms && mode == MODE_LIVE)
            atomic_store(&d->last_alive_us, ps_plat_now_us());
        if (now - heard >= s->dead_after_ms) {
            PS_LOG_W(id, "no frame or pong for %lld s; reconnecting",
                     (long long)(s->dead_after_ms / 1000));
            set_error(d, "no frame or pong for %lld s", (long long)(s->dead_after_ms / 1000));
            return END_RETRY;
        }
        /* An archive window that ends in the future stays open until then. Once
         * the server, still answering pings, has had nothing more to send for two
         * keepalive periods, it has sent all the archive holds; the live stream
         * covers the rest. */
        if (mode != MODE_LIVE && now - last_data >= 2 * s->keepalive_ms &&
            now - heard < s->keepalive_ms * 2) {
            PS_LOG_I(id, "the archive has sent all it holds for now; going live");
            return END_WINDOW;
        }
        if (mode == MODE_LIVE && now - last_repair_check >= 10000) {
            last_repair_check = now;
            /* Taken before the close: the trip fetches this window, and what its
             * own close abandons is left for the next one. */
            if (repair_take(d, ps_plat_now_us(), rfrom, rto)) {
                PS_LOG_I(id, "leaving the live stream briefly to fetch events that were in "
                             "flight at an earlier drop");
                return END_REPAIR;
            }
        }
        if (now - last_ping >= s->keepalive_ms) {
            if (ps_ws_ping(ws, &em) != PS_OK) {
                PS_LOG_W(id, "%s; reconnecting", em.text);
                set_error(d, "%s", em.text);
                return END_RETRY;
            }
            last_ping = now;
        }
    }
}

/* Thread names show in `top -H` and in crash dumps: "ps-rx-7", "ps-work-7",
 * "ps-writer" (15 characters at most). */
static void name_thread(const char *role, long long id)
{
    char name[40];
    if (id >= 0)
        snprintf(name, sizeof name, "ps-%s-%lld", role, id);
    else
        snprintf(name, sizeof name, "ps-%s", role);
    name[15] = '\0'; /* the kernel keeps 15 characters */
    pthread_setname_np(pthread_self(), name);
}

/* Ends a session. Closing a live session abandons what the server had already
 * written to the network, whatever the reason for the close (a drop, a stop, a
 * reload that restarts the device, a repair trip): every close of a live session
 * widens the repair window from the newest committed ts (minus the margin) to now,
 * so that a later trip fetches it from the archive. */
static void session_close(device *d, ps_ws *ws, session_mode mode)
{
    int64_t last = atomic_load(&d->last_committed_ts);
    ps_ws_destroy(ws, 1000);
    if (mode == MODE_LIVE && last && d->svc->resume_policy == PS_RESUME_AUTO)
        repair_add(d, last - BACKFILL_MARGIN_US, ps_plat_now_us());
}

static void *rx_main(void *arg)
{
    device *d = arg;
    const ps_service_settings *s = d->svc;
    long long id = d->cfg->id;
    bool first = true, just_backfilled = false, ever_connected = false, repair_taken = false;
    int64_t backfill_began = 0, rfrom = 0, rto = 0;
    int attempt = 0;

    name_thread("rx", id);
    ps_plat_thread_background();
    if (!d->resume_clean_at_start && atomic_load(&d->last_committed_ts) &&
        s->resume_policy == PS_RESUME_AUTO) {
        /* The last run died: what it had in socket buffers is only in the archive. */
        repair_add(d, atomic_load(&d->last_committed_ts) - BACKFILL_MARGIN_US, ps_plat_now_us());
        PS_LOG_W(id, "the last run did not stop cleanly; fetching what was missed from the "
                     "archive");
    }
    while (!atomic_load(&d->stop)) {
        int64_t since = 0, to = 0, delay = 0;
        session_mode mode = decide_mode(d, first, just_backfilled, backfill_began, repair_taken,
                                        &since, &to, &rfrom, &rto);
        ps_secret_ctx sctx;
        ps_ws_opts o;
        ps_errmsg em;
        ps_ws *ws = NULL;
        char *token = NULL, *proxy_user = NULL, *proxy_pass = NULL, *url = NULL;
        long status = 0;
        bool healthy = false;
        ps_err err;

        first = false;
        just_backfilled = false;
        if (mode == MODE_BACKFILL)
            backfill_began = ps_plat_now_us();
        set_state(d, PS_STATE_CONNECTING);

        ps_secret_ctx_init(&sctx, s->secrets_dir, s->key_file);
        err = ps_secret_resolve(&sctx, d->cfg->props.token, d->cfg->props.secure, id,
                                "properties.token", &token, &em);
        if (err == PS_OK && s->proxy_username)
            err = ps_secret_resolve(&sctx, s->proxy_username, false, id, "proxy_username",
                                    &proxy_user, &em);
        if (err == PS_OK && s->proxy_password)
            err = ps_secret_resolve(&sctx, s->proxy_password, false, id, "proxy_password",
                                    &proxy_pass, &em);
        ps_secret_ctx_deinit(&sctx);
        if (err != PS_OK) {
            /* A config problem: retry slowly in case the secret appears (a mounted
             * credential, an environment file) and report it meanwhile. */
            PS_LOG_E(id, "%s", em.text);
            set_error(d, "%s", em.text);
            set_state(d, PS_STATE_ERROR);
            delay = s->backoff_max_ms;
            goto next;
        }
        url = build_url(d->cfg, since, to);
        if (!url) {
            set_error(d, "out of memory");
            delay = s->backoff_max_ms;
            goto next;
        }
        memset(&o, 0, sizeof o);
        o.url = url;
        o.bearer_token = token;
        o.ca_file = s->tls_ca_file;
        o.proxy = s->proxy;
        o.proxy_username = proxy_user;
        o.proxy_password = proxy_pass;
        o.connect_timeout_ms = s->connect_timeout_ms;
        o.handshake_timeout_ms = s->connect_timeout_ms;
        o.max_message = (size_t)s->max_frame_bytes;
        o.abort = &d->stop;
        if (mode != MODE_LIVE) {
            char a[40], b[40];
            format_api_time(since, a, sizeof a);
            format_api_time(to, b, sizeof b);
            PS_LOG_I(id, "%s from the archive: sinceTime=%s toTime=%s",
                     mode == MODE_BACKFILL ? "backfilling" : "repairing", a, b);
        }
        err = ps_ws_connect(&o, &ws, &status, &em);
        free(url);
        url = NULL;
        ps_secret_free(token);
        ps_secret_free(proxy_user);
        ps_secret_free(proxy_pass);
        token = proxy_user = proxy_pass = NULL;
        if (err != PS_OK) {
            if (err == PS_ERR_CLOSED)
                break;
            set_error(d, "%s", em.text);
            if (status == 401) {
                PS_LOG_E(id,
                         "unauthorised (HTTP 401): check the token, the cluster id and the "
                         "Remote Syslog licence; retrying in %lld s",
                         (long long)(s->unauthorised_retry_ms / 1000));
                set_state(d, PS_STATE_UNAUTHORISED);
                delay = s->unauthorised_retry_ms;
            } else if (status == 400 || status == 404 || status == 405) {
                PS_LOG_E(id, "%s: %s; the device stays stopped until its configuration changes",
                         em.text,
                         status == 400   ? "bad cluster, type or time parameters"
                         : status == 404 ? "wrong endpoint URL"
                                         : "method not allowed");
                set_state(d, PS_STATE_ERROR);
                while (!atomic_load(&d->stop))
                    nap(d, 1000);
                break;
            } else {
                delay = backoff_ms(s, attempt++);
                if (status == 409)
                    PS_LOG_W(id,
                             "token already in use by another session (HTTP 409); retrying "
                             "in %.1f s",
                             (double)delay / 1000.0);
                else
                    PS_LOG_W(id, "%s; retrying in %.1f s", em.text, (double)delay / 1000.0);
                set_state(d, PS_STATE_BACKOFF);
            }
            goto next;
        }
        if (ever_connected)
            atomic_fetch_add(&d->reconnects, 1);
        ever_connected = true;
        PS_LOG_I(id, "connected (%s, %s)", ps_data_type_name(d->cfg->props.type),
                 mode == MODE_LIVE ? "live" : "archive");
        set_state(d, mode == MODE_LIVE ? PS_STATE_LIVE : PS_STATE_BACKFILL);
        if (mode == MODE_LIVE)
            atomic_store(&d->last_alive_us, ps_plat_now_us());
        session_end how = run_session(d, ws, mode, &healthy, &rfrom, &rto);
        rx_flush(d);
        session_close(d, ws, mode);
        ws = NULL;
        switch (how) {
        case END_STOP:
            goto done;
        case END_WINDOW:
            if (mode == MODE_REPAIR)
                repair_done(d, rfrom, rto);
            repair_taken = false;
            just_backfilled = mode == MODE_BACKFILL;
            attempt = 0;
            break;
        case END_REPAIR:
            /* Fetch the window taken now, even though the close just widened it. */
            repair_taken = true;
            break;
        case END_RETRY:
            if (healthy)
                attempt = 0;
            delay = backoff_ms(s, attempt++);
            set_state(d, PS_STATE_BACKOFF);
            break;
        }
    next:
        free(url);
        url = NULL;
        if (delay > 0)
            nap(d, delay);
    }
done:
    set_state(d, PS_STATE_STOPPED);
    return NULL;
}

/* ---- workers --------------------------------------------------------------- */

static void quarantine(item *it, const char *why)
{
    it->kind = ITEM_QUARANTINE;
    snprintf(it->reason, sizeof it->reason, "%s", why);
}

/* Parses, runs the device's pipelines, extracts the indexed fields and prepares
 * the row, so that the writer only has SQLite left to run. */
static void process(item *it, ps_pipeline_result *res, ps_store_prep *prep)
{
    const device *d = it->dev;
    const ps_pipeline_set *set = atomic_load(&it->dev->pipes);
    const ps_pipeline_chain *chain = set ? ps_pipeline_set_device_chain(set, d->cfg->id) : NULL;
    ps_errmsg em;

    if (it->oversize) {
        it->kind = ITEM_QUARANTINE;
        snprintf(it->reason, sizeof it->reason,
                 "message of %zu bytes exceeds max_frame_size; first %zu bytes kept", it->total_len,
                 it->len);
        return;
    }
    if (ps_event_parse(&it->ev, it->type, it->data, it->len, &em) != PS_OK) {
        quarantine(it, em.text);
        return;
    }
    if (chain) {
        ps_pipeline_chain_run(chain, it->ev.root, res);
        it->pipeline = res->pipeline;
        if (res->outcome == PS_PIPELINE_DROPPED) {
            it->kind = ITEM_DROPPED;
            goto done;
        }
        if (res->outcome == PS_PIPELINE_FAILED) {
            /* The original bytes go to the quarantine: nothing is lost. */
            it->kind = ITEM_FAILED;
            snprintf(it->reason, sizeof it->reason, "%s", res->message);
            goto done;
        }
        if (res->ntags > 0)
            it->tags = ps_pipeline_tags_json(d->cfg->tags, d->cfg->ntags, res);
        if (res->modified) {
            it->out = cJSON_PrintUnformatted(it->ev.root);
            if (!it->out) {
                quarantine(it, "out of memory serialising the event after pipelines");
                goto done;
            }
            it->out_len = strlen(it->out);
        }
    }
    if (ps_event_extract(&it->ev, &em) != PS_OK) {
        char why[sizeof it->reason];
        snprintf(why, sizeof why, "%s%.400s", chain && res->modified ? "after pipelines: " : "",
                 em.text);
        quarantine(it, why);
        goto done;
    }
    /* Storing needs the extracted fields and the bytes, not the tree: free it
     * first, so that a huge event is not held in three forms at once. */
    cJSON_Delete(it->ev.root);
    it->ev.root = NULL;
    if (ps_store_prepare(prep, &it->ev, it->out ? it->out : it->data,
                         it->out ? it->out_len : it->len, &it->row, &em) != PS_OK) {
        quarantine(it, em.text);
        goto done;
    }
    it->kind = ITEM_EVENT;
    /* The row holds all the writer needs in one block, compressed: a few hundred
     * bytes. The frame stays in the spool until the commit, so a queued event
     * costs far less than it did on the wire, and the writer frees two blocks. */
    free(it->data);
    it->data = NULL;
    free(it->out);
    it->out = NULL;
    ps_event_deinit(&it->ev);
done:
    /* The tree is not needed any more: free it here so that queued items cost
     * little more than their bytes. */
    cJSON_Delete(it->ev.root);
    it->ev.root = NULL;
}

static void *worker_main(void *arg)
{
    device *d = arg;
    void *batch[64];
    ps_pipeline_result res;
    ps_store_prep *prep = NULL;
    ps_errmsg em;

    name_thread("work", d->cfg->id);
    ps_plat_thread_background();
    if (ps_store_prep_create(d->eng->store, &prep, &em) != PS_OK) {
        /* Only out of memory: the receiver's window fills and it stops reading,
         * and what was received stays in the spool. */
        PS_LOG_E(d->cfg->id, "worker cannot start: %s", em.text);
        set_error(d, "worker cannot start: %s", em.text);
        return NULL;
    }
    ps_pipeline_result_init(&res);
    for (;;) {
        int closed = 0;
        size_t n = ps_queue_pop_batch(d->work, batch, 64, 500, 0, &closed);
        for (size_t i = 0; i < n; i++)
            process(batch[i], &res, prep);
        /* One hand-over per batch keeps the writer's queue lock cold. */
        if (n > 0 && ps_queue_push_many(d->eng->commit, batch, n) != PS_OK) {
            inflight_done(d, (item **)batch, n);
            for (size_t i = 0; i < n; i++)
                item_free(batch[i]);
        }
        if (closed)
            break;
    }
    ps_pipeline_result_deinit(&res);
    ps_store_prep_destroy(prep);
    return NULL;
}

/* ---- writer ---------------------------------------------------------------- */

static void rate_add(writer_view *w, int64_t now_s, uint32_t n)
{
    int slot = (int)(now_s % RATE_SLOTS);
    if (w->slot_second[slot] != now_s) {
        w->slot_second[slot] = now_s;
        w->slot_count[slot] = 0;
    }
    w->slot_count[slot] += n;
}

static double rate_over(const writer_view *w, int64_t now_s, int seconds)
{
    uint64_t sum = 0;
    /* complete seconds only: the current one is still filling */
    for (int i = 1; i <= seconds; i++) {
        int64_t sec = now_s - i;
        int slot = (int)(((sec % RATE_SLOTS) + RATE_SLOTS) % RATE_SLOTS);
        if (w->slot_second[slot] == sec)
            sum += w->slot_count[slot];
    }
    return (double)sum / seconds;
}

/* Writes one batch with the resume state it implies; counters change only once
 * the commit succeeded, so a retried batch is not counted twice. */
static ps_err write_batch(ps_engine *eng, item **items, size_t n, ps_errmsg *em)
{
    ps_err err = ps_store_begin(eng->store, em);
    int64_t now_us = ps_plat_now_us();

    if (err != PS_OK)
        return err;
    for (size_t i = 0; i < n; i++) {
        item *it = items[i];
        device *d = it->dev;
        it->duplicate = false;
        if (it->kind == ITEM_EVENT) {
            err = ps_store_put(eng->store, d->cfg->id, &it->row, it->tags ? it->tags : d->tags_json,
                               &it->duplicate, em);
            if (err != PS_OK)
                goto fail;
            if (!it->duplicate) {
                d->w.touched = true;
                if (it->row.ts_us > d->w.pending_ts)
                    d->w.pending_ts = it->row.ts_us;
            }
        } else if (it->kind == ITEM_QUARANTINE || it->kind == ITEM_FAILED) {
            err = ps_store_quarantine(eng->store, d->cfg->id, it->type, it->data, it->len,
                                      it->reason, em);
            if (err != PS_OK)
                goto fail;
        }
        if ((it->kind == ITEM_DROPPED || it->kind == ITEM_FAILED) && it->pipeline &&
            !it->replayed) {
            err = ps_store_pipeline_count(eng->store, d->cfg->id, it->pipeline,
                                          it->kind == ITEM_DROPPED, it->kind == ITEM_FAILED, em);
            if (err != PS_OK)
                goto fail;
        }
    }
    for (size_t i = 0; i < n; i++) {
        device *d = items[i]->dev;
        ps_resume_state r;
        if (!d->w.touched)
            continue;
        d->w.touched = false;
        r = resume_snapshot(d, false);
        if (d->w.pending_ts > r.last_event_ts_us)
            r.last_event_ts_us = d->w.pending_ts;
        err = ps_store_resume_put(eng->store, d->cfg->id, d->cfg->props.type, &r, em);
        if (err != PS_OK)
            goto fail;
    }
    err = ps_store_commit(eng->store, em);
    if (err != PS_OK)
        goto fail;

    for (size_t i = 0; i < n; i++) {
        item *it = items[i];
        writer_view *w = &it->dev->w;
        switch (it->kind) {
        case ITEM_EVENT:
            if (it->duplicate) {
                /* a replayed message that was committed before the crash is not news */
                if (!it->replayed)
                    w->duplicates++;
                break;
            }
            w->events_total++;
            rate_add(w, now_us / US_PER_S, 1);
            if (it->row.ts_us > w->resume.last_event_ts_us)
                w->resume.last_event_ts_us = it->row.ts_us;
            w->lag_ms = (now_us - it->row.ts_us) / 1000;
            break;
        case ITEM_QUARANTINE:
            if (!it->replayed)
                w->quarantined++;
            PS_LOG_W(it->dev->cfg->id, "quarantined a message: %s", it->reason);
            break;
        case ITEM_DROPPED:
            if (!it->replayed)
                w->dropped++;
            break;
        case ITEM_FAILED:
            if (!it->replayed)
                w->failed++;
            PS_LOG_W(it->dev->cfg->id, "pipeline failure, event kept in the quarantine: %s",
                     it->reason);
            break;
        }
        if (w->resume.last_event_ts_us > atomic_load(&it->dev->last_committed_ts))
            atomic_store(&it->dev->last_committed_ts, w->resume.last_event_ts_us);
    }
    return PS_OK;
fail:
    ps_store_rollback(eng->store);
    for (size_t i = 0; i < n; i++) {
        items[i]->dev->w.touched = false;
        items[i]->dev->w.pending_ts = 0;
    }
    return err;
}

static void fill_counters(device *d, ps_device_counters *c, int64_t now_us)
{
    const writer_view *w = &d->w;
    int64_t now_s = now_us / US_PER_S;
    memset(c, 0, sizeof *c);
    c->device_id = d->cfg->id;
    snprintf(c->name, sizeof c->name, "%s", d->cfg->name);
    c->type = d->cfg->props.type;
    c->state = (ps_device_state)atomic_load(&d->state);
    c->events_total = w->events_total;
    c->rate_10s = rate_over(w, now_s, 10);
    c->rate_1m = rate_over(w, now_s, 60);
    c->last_event_ts_us = w->resume.last_event_ts_us;
    c->lag_ms = w->lag_ms;
    c->reconnects = atomic_load(&d->reconnects);
    c->duplicates = w->duplicates;
    c->quarantined = w->quarantined;
    c->dropped = w->dropped;
    c->failed = w->failed;
    pthread_mutex_lock(&d->err_mu);
    snprintf(c->last_error, sizeof c->last_error, "%s", d->last_error);
    c->last_error_us = d->last_error_us;
    pthread_mutex_unlock(&d->err_mu);
    c->updated_us = now_us;
}

/* Counters and liveness once a second, in one short transaction. */
static void write_tick(ps_engine *eng, bool final)
{
    ps_errmsg em;
    int64_t now = ps_plat_now_us();

    pthread_mutex_lock(&eng->mu);
    if (ps_store_begin(eng->store, &em) != PS_OK)
        goto fail;
    for (size_t i = 0; i < eng->ndevices; i++) {
        device *d = eng->devices[i];
        ps_device_counters c;
        if (final)
            set_state(d, PS_STATE_STOPPED);
        if (ps_log_get_level() >= PS_LOG_DEBUG) {
            uint64_t inflight;
            pthread_mutex_lock(&d->mu);
            inflight = d->next - d->base;
            pthread_mutex_unlock(&d->mu);
            PS_LOG_D(d->cfg->id, "in flight %llu, work queue %zu, commit queue %zu",
                     (unsigned long long)inflight, ps_queue_length(d->work),
                     ps_queue_length(eng->commit));
        }
        fill_counters(d, &c, now);
        if (ps_store_counters_put(eng->store, &c, &em) != PS_OK)
            goto fail;
        {
            ps_resume_state r = resume_snapshot(d, final);
            if (ps_store_resume_put(eng->store, d->cfg->id, d->cfg->props.type, &r, &em) != PS_OK)
                goto fail;
        }
    }
    if (ps_store_commit(eng->store, &em) != PS_OK)
        goto fail;
    pthread_mutex_unlock(&eng->mu);
    atomic_fetch_add(&eng->ticks, 1);
    return;
fail:
    ps_store_rollback(eng->store);
    pthread_mutex_unlock(&eng->mu);
    PS_LOG_E(PS_LOG_NO_DEVICE, "cannot write live counters: %s", em.text);
}

/* One bounded retention step when it is due: right after the last step found more
 * to do, else every RETENTION_IDLE_MS. */
static void retention_step(ps_engine *eng, int64_t *next_ms)
{
    ps_retention_policy policy = {.days = atomic_load(&eng->retention_days),
                                  .max_bytes = atomic_load(&eng->retention_max_bytes)};
    ps_retention_result res;
    ps_errmsg em;

    if (ps_plat_mono_ms() < *next_ms || (policy.days == 0 && policy.max_bytes == 0))
        return;
    if (ps_store_retention_step(eng->store, ps_plat_now_us(), &policy, RETENTION_BUDGET, &res,
                                &em) != PS_OK) {
        PS_LOG_E(PS_LOG_NO_DEVICE, "retention: %s", em.text);
        *next_ms = ps_plat_mono_ms() + RETENTION_IDLE_MS;
        return;
    }
    if (res.deleted_age || res.deleted_size)
        PS_LOG_D(PS_LOG_NO_DEVICE, "retention removed %llu event(s) by age, %llu by size",
                 (unsigned long long)res.deleted_age, (unsigned long long)res.deleted_size);
    *next_ms = res.more ? 0 : ps_plat_mono_ms() + RETENTION_IDLE_MS;
}

static void *writer_main(void *arg)
{
    ps_engine *eng = arg;
    item **items = malloc(PS_ENGINE_BATCH_EVENTS * sizeof *items);
    int64_t last_tick = 0;
    int64_t next_retention = 0;
    int failures = 0;
    bool huge = false;

    name_thread("writer", -1);
    if (!items) {
        PS_LOG_E(PS_LOG_NO_DEVICE, "writer: out of memory");
        return NULL;
    }
    for (;;) {
        int closed = 0;
        size_t n = ps_queue_pop_batch(eng->commit, (void **)items, PS_ENGINE_BATCH_EVENTS, 200,
                                      PS_ENGINE_BATCH_MS, &closed);
        if (n > 0) {
            ps_errmsg em;
            /* A failing database (disk full, locked file) must not lose what we
             * hold: retry until it works. Receivers stop reading meanwhile, since
             * nothing leaves the in-flight window. */
            while (write_batch(eng, items, n, &em) != PS_OK) {
                if (failures++ % 10 == 0)
                    PS_LOG_E(PS_LOG_NO_DEVICE, "cannot commit %zu events, retrying: %s", n,
                             em.text);
                if (atomic_load(&eng->stopping) && failures > 6) {
                    /* Leave them in the spool: the next start replays them. */
                    PS_LOG_E(PS_LOG_NO_DEVICE,
                             "giving up at shutdown; the spool keeps the "
                             "%zu events for the next start",
                             n);
                    for (size_t i = 0; i < n; i++)
                        atomic_store(&items[i]->dev->keep_spool, 1);
                    break;
                }
                struct timespec ts = {0, 500 * 1000000L};
                nanosleep(&ts, NULL);
            }
            failures = 0;
            /* one lock per device per batch */
            for (size_t i = 0; i < n; i++) {
                device *d = items[i]->dev;
                bool seen = false;
                for (size_t j = 0; j < i && !seen; j++)
                    seen = items[j]->dev == d;
                if (!seen)
                    inflight_done(d, items, n);
            }
            for (size_t i = 0; i < n; i++) {
                huge = huge || items[i]->total_len > HUGE_MESSAGE;
                item_free(items[i]);
            }
        }
        /* A huge message passed through several threads' heaps; give what it left
         * behind back to the system once it is gone, not months later. */
        if (huge && ps_queue_length(eng->commit) == 0) {
            ps_plat_heap_trim();
            huge = false;
        }
        if (ps_plat_mono_ms() - last_tick >= 1000) {
            write_tick(eng, false);
            last_tick = ps_plat_mono_ms();
        }
        retention_step(eng, &next_retention);
        if (closed)
            break;
    }
    free(items);
    return NULL;
}

/* ---- devices --------------------------------------------------------------- */

static void device_free(device *d)
{
    if (!d)
        return;
    ps_queue_destroy(d->work);
    free(d->workers);
    free(d->tags_json);
    pthread_mutex_destroy(&d->mu);
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->err_mu);
    free(d);
}

static ps_err device_create(ps_engine *eng, const ps_device *cfg, const ps_service_settings *svc,
                            const ps_pipeline_set *pipes, device **out, ps_errmsg *em)
{
    device *d = calloc(1, sizeof *d);
    ps_store *rd = NULL;
    ps_device_counters *rows = NULL;
    size_t nrows = 0;
    char name[64];
    ps_err err;

    *out = NULL;
    if (!d)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    d->eng = eng;
    d->cfg = cfg;
    d->svc = svc;
    atomic_store(&d->pipes, pipes);
    pthread_mutex_init(&d->mu, NULL);
    ps_plat_cond_init(&d->cv);
    pthread_mutex_init(&d->err_mu, NULL);
    /* NULL (stored as no tags) when the device has none; pipeline tags are merged
     * per event by the workers. */
    d->tags_json = cfg->ntags ? ps_pipeline_tags_json(cfg->tags, cfg->ntags, NULL) : NULL;
    d->nworkers = cfg->props.reuse ? cfg->props.workers : 1;
    if (d->nworkers < 1)
        d->nworkers = 1;
    d->workers = calloc((size_t)d->nworkers, sizeof *d->workers);
    err = ps_queue_create(&d->work);
    if (err != PS_OK || !d->workers) {
        err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
        goto out;
    }
    /* The writer thread owns eng->store; a device started on reload reads its
     * state through a connection of its own. */
    err = ps_store_create(svc->database, PS_STORE_READER, &rd, em);
    if (err != PS_OK)
        goto out;
    err = ps_store_resume_get(rd, cfg->id, cfg->props.type, &d->w.resume, em);
    if (err != PS_OK)
        goto out;
    d->resume_clean_at_start = d->w.resume.clean_shutdown;
    d->repair_from_us = d->w.resume.repair_from_us;
    d->repair_to_us = d->w.resume.repair_to_us;
    atomic_store(&d->last_committed_ts, d->w.resume.last_event_ts_us);
    atomic_store(&d->last_alive_us, d->w.resume.last_healthy_us);
    /* Totals continue across restarts. */
    err = ps_store_counters_list(rd, &rows, &nrows, em);
    if (err != PS_OK)
        goto out;
    for (size_t i = 0; i < nrows; i++) {
        if (rows[i].device_id == cfg->id) {
            d->w.events_total = rows[i].events_total;
            d->w.duplicates = rows[i].duplicates;
            d->w.quarantined = rows[i].quarantined;
            d->w.dropped = rows[i].dropped;
            d->w.failed = rows[i].failed;
            atomic_store(&d->reconnects, rows[i].reconnects);
        }
    }
    free(rows);
    snprintf(name, sizeof name, "device-%lld", cfg->id);
    err = ps_spool_create(eng->spool_dir, name, &d->spool, em);
out:
    ps_store_destroy(rd);
    if (err != PS_OK) {
        device_free(d);
        return err;
    }
    *out = d;
    return PS_OK;
}

static ps_err device_start(device *d, ps_errmsg *em)
{
    size_t torn = 0;
    int started_workers = 0;
    ps_err err;

    for (int i = 0; i < d->nworkers; i++) {
        if (pthread_create(&d->workers[i], NULL, worker_main, d) != 0)
            break;
        started_workers++;
    }
    if (started_workers < d->nworkers) {
        d->nworkers = started_workers;
        if (started_workers == 0)
            return ps_errmsg_set(em, PS_ERR_NOMEM, "cannot start worker threads");
    }
    /* Whatever the last run received but did not commit goes first. */
    err = ps_spool_replay(d->spool, replay_cb, d, &torn, em);
    rx_flush(d);
    if (err != PS_OK)
        PS_LOG_E(d->cfg->id, "spool replay stopped: %s", ps_strerror(err));
    if (torn)
        PS_LOG_W(d->cfg->id, "spool had %zu torn record(s) at its end (power loss?)", torn);
    if (d->next > 0)
        PS_LOG_I(d->cfg->id, "replayed %llu message(s) received before the last stop",
                 (unsigned long long)d->next);
    if (pthread_create(&d->rx, NULL, rx_main, d) != 0)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "cannot start the receiver thread");
    d->started = true;
    return PS_OK;
}

/* Stops the receiver, drains the workers and waits for the writer to commit
 * everything the device had in flight. */
static void device_stop(device *d)
{
    atomic_store(&d->stop, 1);
    if (d->started)
        pthread_join(d->rx, NULL);
    ps_queue_close(d->work);
    for (int i = 0; i < d->nworkers; i++)
        pthread_join(d->workers[i], NULL);
    d->nworkers = 0;
    pthread_mutex_lock(&d->mu);
    while (d->base < d->next && d->eng->writer_started) {
        struct timespec ts;
        ps_plat_deadline_ms(&ts, 1000);
        pthread_cond_timedwait(&d->cv, &d->mu, &ts);
    }
    pthread_mutex_unlock(&d->mu);
    d->started = false;
}

/* ---- engine ---------------------------------------------------------------- */

/* Keeps cfg and pipes alive until the engine goes: devices and workers borrow from
 * them. Reloads are rare (an admin edits a file), so the cost is small. On failure
 * both are destroyed. */
static ps_err keep_generation(ps_engine *eng, ps_config *cfg, ps_pipeline_set *pipes)
{
    size_t n = eng->ngenerations + 1;
    ps_config **g = realloc(eng->generations, n * sizeof *g);
    ps_pipeline_set **p;
    if (g)
        eng->generations = g;
    p = g ? realloc(eng->pipe_generations, n * sizeof *p) : NULL;
    if (p)
        eng->pipe_generations = p;
    if (!g || !p) {
        ps_pipeline_set_destroy(pipes);
        ps_config_destroy(cfg);
        return PS_ERR_NOMEM;
    }
    eng->generations[eng->ngenerations] = cfg;
    eng->pipe_generations[eng->ngenerations] = pipes;
    eng->ngenerations = n;
    return PS_OK;
}

ps_err ps_engine_create(ps_config *cfg, ps_pipeline_set *pipes, ps_engine **out, ps_errmsg *em)
{
    ps_err err;
    ps_engine *eng = calloc(1, sizeof *eng);
    char *state_dir = NULL;

    *out = NULL;
    if (!eng) {
        ps_pipeline_set_destroy(pipes);
        ps_config_destroy(cfg);
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    }
    pthread_mutex_init(&eng->mu, NULL);
    err = keep_generation(eng, cfg, pipes);
    if (err != PS_OK) {
        err = ps_errmsg_set(em, err, "out of memory");
        goto out;
    }
    eng->cfg = cfg;
    eng->pipes = pipes;
    atomic_store(&eng->retention_days, cfg->service.retention_days);
    atomic_store(&eng->retention_max_bytes, cfg->service.retention_max_bytes);
    err = ps_ws_global_init(em);
    if (err != PS_OK)
        goto out;
    state_dir = ps_plat_dir_name(cfg->service.database);
    if (!state_dir) {
        err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
        goto out;
    }
    err = ps_plat_mkdirs(state_dir, 0750, em);
    if (err != PS_OK)
        goto out;
    eng->spool_dir = ps_plat_path_join(state_dir, "spool");
    if (!eng->spool_dir) {
        err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
        goto out;
    }
    err = ps_store_create(cfg->service.database, PS_STORE_WRITER, &eng->store, em);
    if (err != PS_OK)
        goto out;
    err = ps_queue_create(&eng->commit);
    if (err != PS_OK) {
        err = ps_errmsg_set(em, err, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < cfg->ndevices; i++) {
        device *d;
        device **arr;
        if (!cfg->devices[i].status)
            continue;
        err = device_create(eng, &cfg->devices[i], &cfg->service, pipes, &d, em);
        if (err != PS_OK)
            goto out;
        arr = realloc(eng->devices, (eng->ndevices + 1) * sizeof *arr);
        if (!arr) {
            device_free(d);
            err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
            goto out;
        }
        eng->devices = arr;
        eng->devices[eng->ndevices++] = d;
    }
out:
    free(state_dir);
    if (err != PS_OK) {
        ps_engine_destroy(eng);
        return err;
    }
    *out = eng;
    return PS_OK;
}

ps_err ps_engine_start(ps_engine *eng, ps_errmsg *em)
{
    if (pthread_create(&eng->writer, NULL, writer_main, eng) != 0)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "cannot start the writer thread");
    eng->writer_started = true;
    for (size_t i = 0; i < eng->ndevices; i++) {
        ps_err err = device_start(eng->devices[i], em);
        if (err != PS_OK)
            return err;
        PS_LOG_I(eng->devices[i]->cfg->id, "started \"%s\" (%s, cluster %s, %d worker%s)",
                 eng->devices[i]->cfg->name, ps_data_type_name(eng->devices[i]->cfg->props.type),
                 eng->devices[i]->cfg->props.cluster, eng->devices[i]->nworkers,
                 eng->devices[i]->nworkers == 1 ? "" : "s");
    }
    return PS_OK;
}

/* Settings that shape a running session; a change restarts every device. */
static bool session_settings_equal(const ps_service_settings *a, const ps_service_settings *b)
{
#define SAME_STR(f) ((a->f == NULL) == (b->f == NULL) && (!a->f || strcmp(a->f, b->f) == 0))
    return SAME_STR(tls_ca_file) && SAME_STR(proxy) && SAME_STR(proxy_username) &&
           SAME_STR(proxy_password) && SAME_STR(secrets_dir) && SAME_STR(key_file) &&
           a->max_frame_bytes == b->max_frame_bytes && a->resume_policy == b->resume_policy &&
           a->keepalive_ms == b->keepalive_ms && a->dead_after_ms == b->dead_after_ms &&
           a->backoff_initial_ms == b->backoff_initial_ms &&
           a->backoff_max_ms == b->backoff_max_ms &&
           a->unauthorised_retry_ms == b->unauthorised_retry_ms &&
           a->connect_timeout_ms == b->connect_timeout_ms;
#undef SAME_STR
}

ps_err ps_engine_reload(ps_engine *eng, ps_config *cfg, ps_pipeline_set *pipes, ps_errmsg *em)
{
    bool all = false;
    bool any_removed = false;
    ps_err err = keep_generation(eng, cfg, pipes);
    if (err != PS_OK)
        return ps_errmsg_set(em, err, "out of memory");
    if (strcmp(cfg->service.database, eng->cfg->service.database) != 0)
        PS_LOG_W(PS_LOG_NO_DEVICE, "database path changed; restart the service to use it");
    if (!session_settings_equal(&cfg->service, &eng->cfg->service)) {
        PS_LOG_I(PS_LOG_NO_DEVICE, "connection settings changed; restarting every device");
        all = true;
    }
    ps_log_set_level(cfg->service.log_level);

    /* Stop devices that were removed, disabled or changed: signal all, then wait
     * for each, so the stops overlap. */
    for (size_t i = 0; i < eng->ndevices; i++) {
        device *d = eng->devices[i];
        const ps_device *nd = ps_config_find_device(cfg, d->cfg->id);
        if (!all && nd && nd->status && ps_device_equal(nd, d->cfg)) {
            /* Same device: keep its session, use the newly compiled pipelines. */
            atomic_store(&d->pipes, pipes);
            continue;
        }
        PS_LOG_I(d->cfg->id, "%s; stopping it",
                 !nd           ? "removed from the configuration"
                 : !nd->status ? "disabled"
                               : "configuration changed");
        atomic_store(&d->stop, 1);
        any_removed = true;
    }
    if (any_removed) {
        unsigned t0;
        for (size_t i = 0; i < eng->ndevices; i++)
            if (atomic_load(&eng->devices[i]->stop))
                device_stop(eng->devices[i]);
        /* Let the writer record their final state before they leave its list. */
        t0 = atomic_load(&eng->ticks);
        for (int waited = 0; atomic_load(&eng->ticks) < t0 + 2 && waited < 30; waited++) {
            struct timespec ts = {0, 100 * 1000000L};
            nanosleep(&ts, NULL);
        }
        pthread_mutex_lock(&eng->mu);
        for (size_t i = eng->ndevices; i > 0; i--) {
            device *d = eng->devices[i - 1];
            if (!atomic_load(&d->stop))
                continue;
            memmove(&eng->devices[i - 1], &eng->devices[i],
                    (eng->ndevices - i) * sizeof *eng->devices);
            eng->ndevices--;
            ps_spool_destroy(d->spool, !atomic_load(&d->keep_spool));
            device_free(d);
        }
        pthread_mutex_unlock(&eng->mu);
    }
    eng->cfg = cfg;
    eng->pipes = pipes;
    atomic_store(&eng->retention_days, cfg->service.retention_days);
    atomic_store(&eng->retention_max_bytes, cfg->service.retention_max_bytes);
    /* Start the ones that are new or changed. */
    for (size_t i = 0; i < cfg->ndevices; i++) {
        const ps_device *nd = &cfg->devices[i];
        device *d;
        device **arr;
        bool running = false;
        if (!nd->status)
            continue;
        for (size_t j = 0; j < eng->ndevices; j++)
            running = running || eng->devices[j]->cfg->id == nd->id;
        if (running)
            continue;
        err = device_create(eng, nd, &cfg->service, pipes, &d, em);
        if (err != PS_OK) {
            PS_LOG_E(nd->id, "cannot start: %s", em ? em->text : ps_strerror(err));
            continue;
        }
        pthread_mutex_lock(&eng->mu);
        arr = realloc(eng->devices, (eng->ndevices + 1) * sizeof *arr);
        if (arr) {
            eng->devices = arr;
            eng->devices[eng->ndevices++] = d;
        }
        pthread_mutex_unlock(&eng->mu);
        if (!arr) {
            device_free(d);
            continue;
        }
        if (device_start(d, em) != PS_OK)
            PS_LOG_E(nd->id, "cannot start: %s", em ? em->text : "");
        else
            PS_LOG_I(nd->id, "started \"%s\"", nd->name);
    }
    return PS_OK;
}

void ps_engine_stop(ps_engine *eng)
{
    if (!eng || atomic_exchange(&eng->stopping, 1))
        return;
    /* Receivers first (all at once, so the 5 s budget is shared), then workers. */
    for (size_t i = 0; i < eng->ndevices; i++)
        atomic_store(&eng->devices[i]->stop, 1);
    for (size_t i = 0; i < eng->ndevices; i++)
        device_stop(eng->devices[i]);
    if (eng->writer_started) {
        ps_queue_close(eng->commit);
        pthread_join(eng->writer, NULL);
        eng->writer_started = false;
        write_tick(eng, true);
    }
    for (size_t i = 0; i < eng->ndevices; i++) {
        device *d = eng->devices[i];
        bool all = d->base == d->next && !atomic_load(&d->keep_spool);
        ps_spool_destroy(d->spool, all);
        d->spool = NULL;
    }
}

void ps_engine_destroy(ps_engine *eng)
{
    if (!eng)
        return;
    ps_engine_stop(eng);
    for (size_t i = 0; i < eng->ndevices; i++) {
        ps_spool_destroy(eng->devices[i]->spool, false);
        device_free(eng->devices[i]);
    }
    free(eng->devices);
    ps_queue_destroy(eng->commit);
    ps_store_destroy(eng->store);
    for (size_t i = 0; i < eng->ngenerations; i++) {
        ps_pipeline_set_destroy(eng->pipe_generations[i]);
        ps_config_destroy(eng->generations[i]);
    }
    free(eng->generations);
    free(eng->pipe_generations);
    free(eng->spool_dir);
    pthread_mutex_destroy(&eng->mu);
    free(eng);
}
