#include "ps_tray_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_mem.h"
#include "podstream/ps_utf8.h"

/* What an earlier tick saw of one device. */
typedef struct seen_device {
    long long id;
    int64_t unauth_since_us; /* 0: not unauthorised */
    bool told;               /* this episode's balloon was shown */
} seen_device;

struct ps_tray_state {
    bool was_running;     /* the service ran at the last tick */
    bool ticked;          /* a tick was seen */
    bool off;             /* the SCM says stopped or not installed */
    int64_t off_since_us; /* since when; INT64_MIN: since before the first tick */
    seen_device *dev;
    size_t ndev, cap;
    seen_device *next; /* this tick's, swapped with dev afterwards */
    size_t next_cap;
};

ps_tray_service ps_tray_service_from_scm(const char *state, ps_err query_err)
{
    if (query_err == PS_ERR_NOTFOUND)
        return PS_TRAY_SVC_NOT_INSTALLED;
    if (query_err != PS_OK || !state)
        return PS_TRAY_SVC_UNKNOWN;
    if (strcmp(state, "stopped") == 0)
        return PS_TRAY_SVC_STOPPED;
    if (strcmp(state, "start pending") == 0)
        return PS_TRAY_SVC_START_PENDING;
    if (strcmp(state, "stop pending") == 0)
        return PS_TRAY_SVC_STOP_PENDING;
    return PS_TRAY_SVC_RUNNING;
}

const char *ps_tray_icon_name(ps_tray_icon icon)
{
    static const char *const names[] = {"live", "backoff", "stopped", "error"};
    return (unsigned)icon < sizeof names / sizeof names[0] ? names[icon] : "?";
}

ps_err ps_tray_state_create(ps_tray_state **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? PS_OK : PS_ERR_NOMEM;
}

void ps_tray_state_destroy(ps_tray_state *s)
{
    if (!s)
        return;
    free(s->dev);
    free(s->next);
    free(s);
}

static bool fresh(const ps_device_counters *c, int64_t now_us)
{
    return now_us - c->updated_us <= PS_TRAY_STALE_US;
}

/* Appends "text" to buf (size cap, NUL-terminated) without cutting a UTF-8
 * sequence: the tooltip is cut, never made invalid. */
static void append(char *buf, size_t cap, const char *text)
{
    size_t used = strlen(buf);
    size_t n = ps_utf8_prefix(text, strlen(text), cap - 1 - used);
    memcpy(buf + used, text, n);
    buf[used + n] = '\0';
}

/* The counters' summary: how many fresh rows in each class, the newest error. */
typedef struct summary {
    size_t fresh, live, waiting, failing;
    double rate;
    int64_t newest_us; /* the newest fresh row's updated_us */
    const ps_device_counters *newest_error;
} summary;

static summary summarise(const ps_tray_input *in)
{
    summary m = {0};
    for (size_t i = 0; i < in->ndevices; i++) {
        const ps_device_counters *c = &in->devices[i];
        if (c->last_error[0] && c->last_error_us &&
            (!m.newest_error || c->last_error_us > m.newest_error->last_error_us))
            m.newest_error = c;
        if (!fresh(c, in->now_us))
            continue;
        m.fresh++;
        if (c->updated_us > m.newest_us)
            m.newest_us = c->updated_us;
        m.rate += c->rate_10s;
        if (c->state == PS_STATE_LIVE || c->state == PS_STATE_BACKFILL)
            m.live++;
        else if (c->state == PS_STATE_CONNECTING || c->state == PS_STATE_BACKOFF)
            m.waiting++;
        else if (c->state == PS_STATE_UNAUTHORISED || c->state == PS_STATE_ERROR)
            m.failing++;
    }
    return m;
}

/* Running as far as the tray can tell: the SCM says so, or, when it cannot be
 * asked, the service writes its counters. */
static bool running(const ps_tray_input *in, const summary *m)
{
    if (in->service == PS_TRAY_SVC_UNKNOWN)
        return in->db_ok && m->fresh > 0;
    return in->service == PS_TRAY_SVC_RUNNING;
}

/* The icon and the tooltip's first line. */
static ps_tray_icon classify(const ps_tray_input *in, const summary *m, const char **what)
{
    switch (in->service) {
    case PS_TRAY_SVC_NOT_INSTALLED:
        *what = "service not installed";
        return PS_TRAY_ICON_STOPPED;
    case PS_TRAY_SVC_STOPPED:
        *what = "stopped";
        return PS_TRAY_ICON_STOPPED;
    case PS_TRAY_SVC_STOP_PENDING:
        *what = "stopping";
        return PS_TRAY_ICON_STOPPED;
    case PS_TRAY_SVC_START_PENDING:
        *what = "starting";
        return PS_TRAY_ICON_BACKOFF;
    default:
        break;
    }
    if (!in->db_ok) {
        *what = "database unreadable";
        return PS_TRAY_ICON_ERROR;
    }
    if (m->fresh == 0) {
        bool known = in->service == PS_TRAY_SVC_RUNNING;
        *what = !known         ? "not running"
                : in->ndevices ? "not writing its database"
                               : "no device yet";
        return !known         ? PS_TRAY_ICON_STOPPED
               : in->ndevices ? PS_TRAY_ICON_ERROR
                              : PS_TRAY_ICON_BACKOFF;
    }
    if (m->failing) {
        *what = "device error";
        return PS_TRAY_ICON_ERROR;
    }
    if (m->waiting) {
        *what = "backing off";
        return PS_TRAY_ICON_BACKOFF;
    }
    *what = "live";
    return PS_TRAY_ICON_LIVE;
}

static void tooltip(const ps_tray_input *in, const summary *m, const char *what, ps_tray_view *out)
{
    char line[PS_TRAY_TIP_MAX];
    out->tooltip[0] = '\0';
    if (running(in, m) && in->db_ok)
        snprintf(line, sizeof line, "podstream: %s, %.0f events/s", what, m->rate);
    else
        snprintf(line, sizeof line, "podstream: %s", what);
    append(out->tooltip, sizeof out->tooltip, line);
    if (!in->db_ok && in->db_error && *in->db_error) {
        append(out->tooltip, sizeof out->tooltip, "\n");
        append(out->tooltip, sizeof out->tooltip, in->db_error);
    } else if (in->db_ok && m->newest_error) {
        append(out->tooltip, sizeof out->tooltip, "\n");
        append(out->tooltip, sizeof out->tooltip, m->newest_error->name);
        append(out->tooltip, sizeof out->tooltip, ": ");
        append(out->tooltip, sizeof out->tooltip, m->newest_error->last_error);
    }
}

static const seen_device *find_seen(const ps_tray_state *s, long long id)
{
    for (size_t i = 0; i < s->ndev; i++)
        if (s->dev[i].id == id)
            return &s->dev[i];
    return NULL;
}

/* Carries each unauthorised device's episode over to this tick and names, in
 * *names, those whose balloon is due now. */
static ps_err track_unauthorised(ps_tray_state *s, const ps_tray_input *in, char *names, size_t cap,
                                 size_t *due)
{
    size_t n = 0;
    *due = 0;
    for (size_t i = 0; i < in->ndevices; i++) {
        const ps_device_counters *c = &in->devices[i];
        if (c->state != PS_STATE_UNAUTHORISED || !fresh(c, in->now_us))
            continue;
        if (ps_mem_grow_array((void **)&s->next, &s->next_cap, n, sizeof *s->next) != PS_OK)
            return PS_ERR_NOMEM;
        const seen_device *was = find_seen(s, c->device_id);
        seen_device *d = &s->next[n++];
        *d = was ? *was : (seen_device){c->device_id, in->now_us, false};
        if (!d->told && in->now_us - d->unauth_since_us >= PS_TRAY_UNAUTH_US) {
            d->told = true;
            if ((*due)++)
                append(names, cap, ", ");
            append(names, cap, c->name);
        }
    }
    seen_device *t = s->dev;
    size_t tcap = s->cap;
    s->dev = s->next, s->cap = s->next_cap, s->ndev = n;
    s->next = t, s->next_cap = tcap;
    return PS_OK;
}

/* Counters written since the service stopped (or was found stopped at the first
 * tick): `podstream run` in a console (the database lock lets one writer in), so
 * the counters tell how it goes. Those the stopped service itself wrote just before
 * its stop do not count, or the stop would show as live for a few seconds. */
static ps_tray_input effective(ps_tray_state *s, const ps_tray_input *given, const summary *m)
{
    ps_tray_input in = *given;
    bool off = in.service == PS_TRAY_SVC_NOT_INSTALLED || in.service == PS_TRAY_SVC_STOPPED;
    if (off && !s->off)
        s->off_since_us = s->ticked ? in.now_us : INT64_MIN;
    s->off = off;
    s->ticked = true;
    if (off && in.db_ok && m->fresh > 0 && m->newest_us > s->off_since_us)
        in.service = PS_TRAY_SVC_UNKNOWN;
    return in;
}

ps_err ps_tray_state_update(ps_tray_state *s, const ps_tray_input *given, ps_tray_view *out)
{
    summary m = summarise(given);
    ps_tray_input eff = effective(s, given, &m);
    const ps_tray_input *in = &eff;
    const char *what = "";
    char names[sizeof out->b.text] = "";
    size_t due = 0;
    ps_err err = PS_OK;
    memset(out, 0, sizeof *out);
    out->icon = classify(in, &m, &what);
    out->events_per_s = running(in, &m) ? m.rate : 0;
    tooltip(in, &m, what, out);

    bool now_running = running(in, &m);
    if (s->was_running && !now_running) {
        out->balloon = true;
        out->b.warning = true;
        snprintf(out->b.title, sizeof out->b.title, "podstream stopped");
        snprintf(out->b.text, sizeof out->b.text,
                 "The podstream service is %s: no events "
                 "are collected until it runs again.",
                 what);
    }
    s->was_running = now_running;

    err = track_unauthorised(s, in, names, sizeof names, &due);
    if (err == PS_OK && due && !out->balloon) {
        out->balloon = true;
        out->b.warning = true;
        snprintf(out->b.title, sizeof out->b.title, "podstream: %s unauthorised",
                 due > 1 ? "devices" : "device");
        append(out->b.text, sizeof out->b.text, names);
        append(out->b.text, sizeof out->b.text,
               due > 1 ? ": POD refuses their tokens. Check them in the configuration."
                       : ": POD refuses its token. Check it in the configuration.");
    }
    return err;
}
