/* The receiver thread: which session comes next (live, backfill, repair), the
 * connect with its token, reading a session until it ends, and the repair windows
 * that every close of a live session widens (ps_engine_repair.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_log.h"
#include "podstream/ps_secret.h"
#include "engine/ps_engine_internal.h"
#include "net/ps_pod.h"

#define US_PER_MIN (60 * PS_US_PER_S)
/* A gap longer than this since the last healthy session means the live stream
 * will not resume where we left (POD keeps a position for one hour). */
#define RESUME_GAP_US (55 * US_PER_MIN)
/* Backfill starts this much before the newest committed event, so events whose
 * ts arrived out of order around the drop are fetched again (dedup absorbs them). */
#define BACKFILL_MARGIN_US (15 * US_PER_MIN)
/* A backfill that took longer than this left a hole the live hour may not cover. */
#define BACKFILL_REPEAT_US (25 * US_PER_MIN)
#define HEALTHY_SESSION_MS 30000
#define RECV_SLICE_MS      250
#define REPAIR_CHECK_MS    10000
/* An archive session whose newest event is this much older than what the archive
 * should hold was ended early, unless a further attempt brings nothing newer. */
#define WINDOW_CUT_SLACK_US (5 * US_PER_MIN)
/* The rest of such a window is asked for from a little before its newest event. */
#define CONTINUE_MARGIN_US (1 * US_PER_MIN)
/* How long the receiver waits for the workers to see the last archive events. */
#define DRAIN_WAIT_MS 60000

typedef enum session_mode { MODE_LIVE, MODE_BACKFILL, MODE_REPAIR } session_mode;

typedef enum session_end {
    END_STOP,   /* told to stop */
    END_RETRY,  /* reconnect with backoff */
    END_WINDOW, /* archive window complete (close 1000) */
    END_REPAIR, /* leave live to fetch a repair window that is now due */
} session_end;

/* What the receiver remembers from one session to the next. */
typedef struct rx_state {
    bool first, just_backfilled, ever_connected;
    /* Windows taken for a trip and not fetched yet (to == 0: none), and the one
     * the current repair session fetches. */
    eng_window taken[ENG_WINDOW_KINDS];
    eng_window_kind fetching;
    int64_t backfill_began;
    int attempt;
    /* An archive session the server ended (close 1000) before its window's end:
     * the rest is asked for from cont_from, for as long as each attempt gets further
     * than the one before (cont_newest). 0: none. [0] backfill, [1] repair. */
    int64_t cont_from[2], cont_newest[2];
    int64_t window_end; /* the newest ts the current archive session should reach */
    /* The token was refused and no session has opened since: the event log has the
     * first refusal, not each retry's. */
    bool unauthorised;
} rx_state;

/* Sleeps up to ms, waking early when the device is told to stop. */
static void nap(device *d, int64_t ms)
{
    int64_t until = ps_plat_mono_ms() + ms;
    while (!atomic_load(&d->stop)) {
        int64_t left = until - ps_plat_mono_ms();
        if (left <= 0)
            break;
        ps_plat_sleep_ms(left > 100 ? 100 : left);
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

/* ---- the repair windows ------------------------------------------------------ */

static void repair_add(device *d, eng_window_kind kind, int64_t from, int64_t to)
{
    ps_plat_mutex_lock(d->err_mu);
    eng_repair_add(&d->repair, kind, from, to);
    ps_plat_mutex_unlock(d->err_mu);
}

/* True when a trip took windows that are not fetched yet. */
static bool trip_pending(const rx_state *rx)
{
    return rx->taken[ENG_WINDOW_REPAIR].to || rx->taken[ENG_WINDOW_TRIP].to;
}

/* Takes the windows a trip should fetch now into rx->taken, else false. What a
 * close adds from now on is left for a later trip (repair_done). */
static bool repair_take(device *d, rx_state *rx)
{
    eng_repair_timing t = {d->svc->archive_delay_ms * 1000, d->svc->repair_trip_max_age_ms * 1000};
    bool due;
    ps_plat_mutex_lock(d->err_mu);
    due = eng_repair_take(&d->repair, ps_plat_now_us(), &t, rx->taken);
    ps_plat_mutex_unlock(d->err_mu);
    if (due && rx->taken[ENG_WINDOW_TRIP].to) {
        if (rx->taken[ENG_WINDOW_REPAIR].to)
            PS_LOG_I(d->cfg->id, "this repair trip also fetches, in a separate archive session, "
                                 "the events an earlier trip's own close left in flight");
        else
            PS_LOG_I(d->cfg->id, "no repair trip for repair_trip_max_age: fetching the events "
                                 "an earlier trip's own close left in flight");
    }
    return due;
}

/* After the taken window `kind` was fetched: clears it, or keeps only what a
 * close added since it was taken. */
static void repair_done(device *d, rx_state *rx, eng_window_kind kind)
{
    ps_plat_mutex_lock(d->err_mu);
    eng_repair_done(&d->repair, kind, rx->taken[kind]);
    ps_plat_mutex_unlock(d->err_mu);
    rx->taken[kind] = (eng_window){0, 0};
}

/* Ends a session. Closing a live session abandons what the server had already
 * written to the network, whatever the reason for the close (a drop, a stop, a
 * reload that restarts the device, a repair trip): every close of a live session
 * widens a window from the newest committed ts (minus the margin) to now, so that
 * a later trip fetches it from the archive. A trip's own close (`trip`) widens the
 * trip window, which does not make a trip of its own before repair_trip_max_age:
 * otherwise each trip would cause the next. */
static void widen(device *d, eng_window_kind kind)
{
    int64_t last = atomic_load(&d->last_committed_ts);
    if (last && d->svc->resume_policy == PS_RESUME_AUTO)
        repair_add(d, kind, last - BACKFILL_MARGIN_US, ps_plat_now_us());
}

void eng_repair_widen(device *d)
{
    widen(d, ENG_WINDOW_REPAIR);
}

static void session_close(device *d, ps_ws *ws, session_mode mode, bool trip)
{
    ps_ws_destroy(ws, 1000);
    if (mode == MODE_LIVE)
        widen(d, trip ? ENG_WINDOW_TRIP : ENG_WINDOW_REPAIR);
}

/* ---- choosing and running a session ------------------------------------------ */

/* The end of a window that starts at `from` (the newest committed ts minus the
 * margin) and ends at the host's `to`. When the host clock is behind POD's, `to`
 * comes before that newest ts, and the window would end before the events in
 * flight it is for: it ends the margin after that ts instead. Only the fetch is
 * widened; when a repair is due stays on the host's clock. */
static int64_t window_end(int64_t from, int64_t to)
{
    return to < from + BACKFILL_MARGIN_US ? from + 2 * BACKFILL_MARGIN_US : to;
}

/* The archive's sinceTime/toTime for events with ts in [from, to]. */
static void archive_window(device *d, int64_t from, int64_t to, int64_t *since, int64_t *until)
{
    if (!ps_pod_archive_window(from, to, ps_plat_now_us(), since, until))
        PS_LOG_W(d->cfg->id, "the events to fetch start more than 30 days ago, beyond the "
                             "archive; the oldest of them cannot be fetched");
}

/* Chooses the next session. For MODE_REPAIR, rx->taken[rx->fetching] is the
 * window as recorded (to clear it once fetched); since/until are what is asked of
 * the archive. The two windows of a trip are two archive sessions, never one
 * interval: a pair far apart would be a re-read of many hours. */
static session_mode decide_mode(device *d, rx_state *rx, int64_t *since, int64_t *until)
{
    const ps_service_settings *s = d->svc;
    int64_t now = ps_plat_now_us();
    int64_t last_ts = atomic_load(&d->last_committed_ts);
    int64_t alive = atomic_load(&d->last_alive_us);

    if (s->resume_policy == PS_RESUME_LIVE_ONLY || last_ts == 0)
        return MODE_LIVE;
    if (trip_pending(rx) || repair_take(d, rx)) {
        rx->fetching = rx->taken[ENG_WINDOW_REPAIR].to ? ENG_WINDOW_REPAIR : ENG_WINDOW_TRIP;
        rx->window_end = rx->taken[rx->fetching].to;
        archive_window(d, rx->cont_from[1] ? rx->cont_from[1] : rx->taken[rx->fetching].from,
                       window_end(rx->taken[rx->fetching].from, rx->taken[rx->fetching].to), since,
                       until);
        return MODE_REPAIR;
    }
    rx->window_end = now;
    if (rx->cont_from[0]) {
        archive_window(d, rx->cont_from[0], now, since, until);
        return MODE_BACKFILL;
    }
    if (rx->just_backfilled && now - rx->backfill_began <= BACKFILL_REPEAT_US)
        return MODE_LIVE;
    if (rx->just_backfilled || (rx->first && !d->resume_clean_at_start) || alive == 0 ||
        now - alive > RESUME_GAP_US) {
        archive_window(d, last_ts - BACKFILL_MARGIN_US,
                       window_end(last_ts - BACKFILL_MARGIN_US, now), since, until);
        return MODE_BACKFILL;
    }
    return MODE_LIVE;
}

/* A session ends in error: logged, recorded, reconnect. */
static session_end broke(device *d, const char *why)
{
    PS_LOG_W(d->cfg->id, "%s; reconnecting", why);
    eng_set_error(d, "%s", why);
    return END_RETRY;
}

/* An empty or whitespace-only message: Proofpoint's own Splunk add-on reads it as
 * "no events for this cluster" and goes on. It is no event, so neither stored
 * nor quarantined; counted, and logged at the 1st, 10th, 100th ... one. */
static bool skip_blank(device *d, ps_ws_msg *msg)
{
    unsigned long long n;
    for (size_t i = 0; i < msg->len; i++)
        if (msg->data[i] != ' ' && msg->data[i] != '\t' && msg->data[i] != '\r' &&
            msg->data[i] != '\n')
            return false;
    if (msg->oversize)
        return false;
    free(msg->data);
    msg->data = NULL;
    n = atomic_fetch_add(&d->empty_frames, 1) + 1;
    for (unsigned long long p = 1; p <= n; p *= 10)
        if (p == n)
            PS_LOG_I(d->cfg->id,
                     "skipped an empty frame (%llu so far): POD sends them when the cluster has "
                     "no events",
                     n);
    return true;
}

/* One message or non-message from the socket: END_* to end the session, or -1 to
 * go on. */
static int on_recv(device *d, ps_ws *ws, session_mode mode, ps_err err, ps_ws_msg *msg,
                   const ps_errmsg *em)
{
    if (err == PS_OK) {
        if (mode == MODE_LIVE)
            atomic_store(&d->last_alive_us, ps_plat_now_us());
        if (skip_blank(d, msg))
            return -1;
        err = eng_enqueue(d, msg->data, msg->len, msg->total_len, msg->binary, msg->oversize,
                          d->cfg->props.type, NULL, ws);
        if (err == PS_ERR_CLOSED)
            return END_STOP;
        if (err != PS_OK) {
            PS_LOG_E(d->cfg->id, "cannot queue a message: %s", ps_strerror(err));
            return END_RETRY;
        }
        return -1;
    }
    if (err == PS_ERR_CLOSED && mode != MODE_LIVE && ps_ws_close_code(ws) == 1000) {
        PS_LOG_I(d->cfg->id, "archive window complete (close 1000)");
        return END_WINDOW;
    }
    if (err != PS_ERR_AGAIN)
        return broke(d, em->text);
    return -1;
}

/* Timing of one session: pings, liveness, the repair check. */
typedef struct session_clock {
    int64_t started, last_ping, unblocked, last_data, last_repair_check;
} session_clock;

/* Checks the clocks after each read: END_* to end the session, or -1. */
static int on_tick(device *d, ps_ws *ws, session_mode mode, session_clock *c, int64_t now,
                   rx_state *rx)
{
    const ps_service_settings *s = d->svc;
    int64_t heard = ps_ws_last_activity_ms(ws);
    ps_errmsg em;

    if (heard < c->unblocked)
        heard = c->unblocked;
    if (now - heard < s->keepalive_ms && mode == MODE_LIVE)
        atomic_store(&d->last_alive_us, ps_plat_now_us());
    if (now - heard >= s->dead_after_ms) {
        char why[64];
        snprintf(why, sizeof why, "no frame or pong for %lld s",
                 (long long)(s->dead_after_ms / 1000));
        return broke(d, why);
    }
    /* An archive window that ends in the future stays open until then. Once the
     * server, still answering pings, has had nothing more to send for two
     * keepalive periods, it has sent all the archive holds; the live stream
     * covers the rest. */
    if (mode != MODE_LIVE && now - c->last_data >= 2 * s->keepalive_ms &&
        now - heard < s->keepalive_ms * 2) {
        PS_LOG_I(d->cfg->id, "the archive has sent all it holds for now; going live");
        return END_WINDOW;
    }
    if (mode == MODE_LIVE && now - c->last_repair_check >= REPAIR_CHECK_MS) {
        c->last_repair_check = now;
        /* Taken before the close: the trip fetches these windows, and what its
         * own close abandons goes to the trip window. */
        if (repair_take(d, rx)) {
            PS_LOG_I(d->cfg->id, "leaving the live stream briefly to fetch events that "
                                 "were in flight at an earlier drop");
            return END_REPAIR;
        }
    }
    if (now - c->last_ping >= s->keepalive_ms) {
        if (ps_ws_ping(ws, &em) != PS_OK)
            return broke(d, em.text);
        c->last_ping = now;
    }
    return -1;
}

/* Reads one session until it ends. */
static session_end run_session(device *d, ps_ws *ws, session_mode mode, bool *healthy, rx_state *rx)
{
    int64_t t0 = ps_plat_mono_ms();
    session_clock c = {t0, t0, t0, t0, t0};

    for (;;) {
        ps_ws_msg msg;
        ps_errmsg em;
        ps_err err;
        int64_t now;
        int end;

        if (atomic_load(&d->stop))
            return END_STOP;
        /* Nothing more to read without waiting: hand the batch over first. */
        err = ps_ws_recv(ws, d->rx_n ? 0 : RECV_SLICE_MS, &msg, &em);
        if (err != PS_OK && d->rx_n) {
            eng_rx_flush(d);
            if (err == PS_ERR_AGAIN)
                continue;
        }
        if (err == PS_OK)
            c.last_data = ps_plat_mono_ms();
        end = on_recv(d, ws, mode, err, &msg, &em);
        if (end >= 0)
            return (session_end)end;
        now = ps_plat_mono_ms();
        if (err == PS_OK)
            c.unblocked = now; /* time blocked on backpressure is not the server's silence */
        if (!*healthy && now - c.started >= HEALTHY_SESSION_MS)
            *healthy = true;
        end = on_tick(d, ws, mode, &c, now, rx);
        if (end >= 0)
            return (session_end)end;
    }
}

/* ---- connecting -------------------------------------------------------------- */

/* The secrets a connect needs, resolved just before it and wiped right after. */
typedef struct creds {
    char *token, *proxy_user, *proxy_pass;
} creds;

static void creds_free(creds *c)
{
    ps_secret_free(c->token);
    ps_secret_free(c->proxy_user);
    ps_secret_free(c->proxy_pass);
    memset(c, 0, sizeof *c);
}

static ps_err creds_resolve(device *d, creds *c, ps_errmsg *em)
{
    const ps_service_settings *s = d->svc;
    long long id = d->cfg->id;
    ps_secret_ctx sctx;
    ps_err err;

    memset(c, 0, sizeof *c);
    ps_secret_ctx_init(&sctx, s->secrets_dir, s->key_file);
    err = ps_secret_resolve(&sctx, d->cfg->props.token, d->cfg->props.secure, id,
                            "properties.token", &c->token, em);
    if (err == PS_OK && s->proxy_username)
        err = ps_secret_resolve(&sctx, s->proxy_username, false, id, "proxy_username",
                                &c->proxy_user, em);
    if (err == PS_OK && s->proxy_password)
        err = ps_secret_resolve(&sctx, s->proxy_password, false, id, "proxy_password",
                                &c->proxy_pass, em);
    ps_secret_ctx_deinit(&sctx);
    if (err != PS_OK)
        creds_free(c);
    return err;
}

/* A refused or failed connect: state, log and the delay before the next one
 * (-1: end the receiver). */
static int64_t connect_failed(device *d, long status, const ps_errmsg *em, rx_state *rx)
{
    const ps_service_settings *s = d->svc;
    long long id = d->cfg->id;
    int64_t delay;

    eng_set_error(d, "%s", em->text);
    switch (ps_pod_status_action(status)) {
    case PS_POD_UNAUTHORISED:
        ps_log_ev(rx->unauthorised ? PS_LOG_EV_NONE : PS_LOG_EV_UNAUTHORISED, PS_LOG_ERROR, id,
                  "unauthorised (HTTP 401): check the token, the cluster id and the Remote "
                  "Syslog licence; retrying in %lld s",
                  (long long)(s->unauthorised_retry_ms / 1000));
        rx->unauthorised = true;
        eng_set_state(d, PS_STATE_UNAUTHORISED);
        return s->unauthorised_retry_ms;
    case PS_POD_FATAL:
        PS_LOG_E(id, "%s: %s; the device stays stopped until its configuration changes", em->text,
                 ps_pod_status_hint(status));
        eng_set_state(d, PS_STATE_ERROR);
        while (!atomic_load(&d->stop))
            nap(d, 1000);
        return -1;
    case PS_POD_CONFLICT:
        delay = backoff_ms(s, rx->attempt++);
        PS_LOG_W(id, "token already in use by another session (HTTP 409); retrying in %.1f s",
                 (double)delay / 1000.0);
        break;
    default:
        delay = backoff_ms(s, rx->attempt++);
        PS_LOG_W(id, "%s; retrying in %.1f s", em->text, (double)delay / 1000.0);
        break;
    }
    eng_set_state(d, PS_STATE_BACKOFF);
    return delay;
}

/* Connects for `mode`. On failure *delay is how long to wait before the next
 * attempt, or -1 when the receiver must end (stopping, or a status that retrying
 * cannot fix, after waiting for the stop). */
static ps_err rx_connect(device *d, session_mode mode, int64_t since, int64_t to, rx_state *rx,
                         ps_ws **ws, int64_t *delay)
{
    const ps_service_settings *s = d->svc;
    long long id = d->cfg->id;
    ps_ws_opts o;
    ps_errmsg em;
    creds c;
    long status = 0;
    char *url;
    ps_err err = creds_resolve(d, &c, &em);

    if (err != PS_OK) {
        /* A config problem: retry slowly in case the secret appears (a mounted
         * credential, an environment file) and report it meanwhile. */
        PS_LOG_E(id, "%s", em.text);
        eng_set_error(d, "%s", em.text);
        eng_set_state(d, PS_STATE_ERROR);
        *delay = s->backoff_max_ms;
        return err;
    }
    url = ps_pod_stream_url(d->cfg->props.endpoint, d->cfg->props.cluster,
                            ps_data_type_name(d->cfg->props.type), since, to);
    if (!url) {
        creds_free(&c);
        eng_set_error(d, "out of memory");
        *delay = s->backoff_max_ms;
        return PS_ERR_NOMEM;
    }
    memset(&o, 0, sizeof o);
    o.url = url;
    o.bearer_token = c.token;
    o.ca_file = s->tls_ca_file;
    o.proxy = s->proxy;
    o.proxy_username = c.proxy_user;
    o.proxy_password = c.proxy_pass;
    o.connect_timeout_ms = s->connect_timeout_ms;
    o.handshake_timeout_ms = s->connect_timeout_ms;
    o.max_message = (size_t)s->max_frame_bytes;
    o.abort = &d->stop;
    if (mode != MODE_LIVE) {
        char a[PS_POD_TIME_LEN], b[PS_POD_TIME_LEN];
        ps_pod_format_time(since, a, sizeof a);
        ps_pod_format_time(to, b, sizeof b);
        PS_LOG_I(id, "%s from the archive: sinceTime=%s toTime=%s",
                 mode == MODE_BACKFILL ? "backfilling" : "repairing", a, b);
    }
    err = ps_ws_connect(&o, ws, &status, &em);
    free(url);
    creds_free(&c);
    if (err == PS_ERR_CLOSED)
        *delay = -1;
    else if (err != PS_OK)
        *delay = connect_failed(d, status, &em, rx);
    return err;
}

/* ---- the receiver thread ----------------------------------------------------- */

/* Waits until the workers and the writer are through everything received. False
 * when stopping, or after DRAIN_WAIT_MS (a stalled database). */
static bool drained(device *d)
{
    int64_t until = ps_plat_mono_ms() + DRAIN_WAIT_MS;
    bool done;
    ps_plat_mutex_lock(d->mu);
    while (!(done = d->base == d->next) && !atomic_load(&d->stop) && ps_plat_mono_ms() < until)
        (void)ps_plat_cond_wait_until(d->cv, d->mu, ps_plat_mono_ms() + 200);
    ps_plat_mutex_unlock(d->mu);
    return done;
}

/* After an archive session the server closed normally: true when it ended before
 * the window's end (its newest event well before what the archive holds) and got
 * further than the attempt before; rx->cont_from then says where the rest starts.
 * A quiet stretch at the end of a window costs one more, short, session. */
static bool window_cut_short(device *d, rx_state *rx, session_mode mode, int64_t began_us)
{
    int k = mode == MODE_REPAIR;
    int64_t end = rx->window_end, newest;
    int64_t held = began_us - d->svc->archive_delay_ms * 1000;
    char a[PS_POD_TIME_LEN], b[PS_POD_TIME_LEN];

    if (!drained(d))
        return false;
    newest = atomic_load(&d->archive_newest_ts);
    if (end > held)
        end = held;
    if (newest == 0 || newest >= end - WINDOW_CUT_SLACK_US || newest <= rx->cont_newest[k]) {
        rx->cont_from[k] = rx->cont_newest[k] = 0;
        return false;
    }
    rx->cont_newest[k] = newest;
    rx->cont_from[k] = newest - CONTINUE_MARGIN_US;
    ps_pod_format_time(newest, a, sizeof a);
    ps_pod_format_time(end, b, sizeof b);
    PS_LOG_W(d->cfg->id,
             "the archive ended the session at events of %s, before the window's end (%s): "
             "asking for the rest",
             a, b);
    return true;
}

/* One connect and session. Returns the delay before the next (0: none), or -1 when
 * the receiver ends. */
static int64_t rx_round(device *d, rx_state *rx)
{
    int64_t since = 0, to = 0, delay = 0;
    session_mode mode = decide_mode(d, rx, &since, &to);
    ps_ws *ws = NULL;
    bool healthy = false;
    session_end how;
    int64_t began = ps_plat_now_us();

    rx->first = false;
    rx->just_backfilled = false;
    if (mode == MODE_BACKFILL && !rx->cont_from[0])
        rx->backfill_began = began;
    d->rx_archive = mode != MODE_LIVE;
    atomic_store(&d->archive_newest_ts, 0);
    eng_set_state(d, PS_STATE_CONNECTING);
    if (rx_connect(d, mode, since, to, rx, &ws, &delay) != PS_OK)
        return delay;
    if (rx->ever_connected)
        atomic_fetch_add(&d->reconnects, 1);
    rx->ever_connected = true;
    PS_LOG_I(d->cfg->id, "connected (%s, %s)", ps_data_type_name(d->cfg->props.type),
             mode == MODE_LIVE ? "live" : "archive");
    eng_set_state(d, mode == MODE_LIVE ? PS_STATE_LIVE : PS_STATE_BACKFILL);
    rx->unauthorised = false;
    if (mode == MODE_LIVE)
        atomic_store(&d->last_alive_us, ps_plat_now_us());
    how = run_session(d, ws, mode, &healthy, rx);
    eng_rx_flush(d);
    session_close(d, ws, mode, how == END_REPAIR);
    switch (how) {
    case END_STOP:
        return -1;
    case END_WINDOW:
        if (window_cut_short(d, rx, mode, began)) {
            rx->attempt = 0;
            return 0;
        }
        if (mode == MODE_REPAIR)
            repair_done(d, rx, rx->fetching);
        rx->just_backfilled = mode == MODE_BACKFILL;
        rx->attempt = 0;
        return 0;
    case END_REPAIR:
        /* The windows were taken before the close widened one: fetch them next. */
        return 0;
    case END_RETRY:
        break;
    }
    if (healthy)
        rx->attempt = 0;
    eng_set_state(d, PS_STATE_BACKOFF);
    return backoff_ms(d->svc, rx->attempt++);
}

void *eng_rx_main(void *arg)
{
    device *d = arg;
    rx_state rx = {.first = true};

    ps_plat_thread_background();
    if (!d->resume_clean_at_start && atomic_load(&d->last_committed_ts) &&
        d->svc->resume_policy == PS_RESUME_AUTO) {
        /* The last run died: what it had in socket buffers is only in the archive. */
        repair_add(d, ENG_WINDOW_REPAIR, atomic_load(&d->last_committed_ts) - BACKFILL_MARGIN_US,
                   ps_plat_now_us());
        PS_LOG_W(d->cfg->id, "the last run did not stop cleanly; fetching what was missed from "
                             "the archive");
    }
    while (!atomic_load(&d->stop)) {
        int64_t delay = rx_round(d, &rx);
        if (delay < 0)
            break;
        if (delay > 0)
            nap(d, delay);
    }
    eng_set_state(d, PS_STATE_STOPPED);
    return NULL;
}
