/* The Events page's filter and keyset pager over ps_store_query. */
#include "ps_gui_events.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_mem.h"
#include "podstream/ps_time.h"

void ps_gui_filter_init(ps_gui_filter *f)
{
    memset(f, 0, sizeof *f);
    f->device_id = -1;
    f->type = -1;
}

/* The owned strings of a filter, in one place for deinit and copy. */
#define FILTER_STRINGS 9
static void filter_strings(ps_gui_filter *f, char **s[FILTER_STRINGS])
{
    s[0] = &f->since;
    s[1] = &f->until;
    s[2] = &f->from;
    s[3] = &f->to;
    s[4] = &f->subject;
    s[5] = &f->disposition;
    s[6] = &f->qid;
    s[7] = &f->message_id;
    s[8] = &f->search;
}

void ps_gui_filter_deinit(ps_gui_filter *f)
{
    char **s[FILTER_STRINGS];
    if (!f)
        return;
    filter_strings(f, s);
    for (size_t i = 0; i < FILTER_STRINGS; i++)
        free(*s[i]);
    ps_gui_filter_init(f);
}

ps_err ps_gui_filter_copy(ps_gui_filter *dst, const ps_gui_filter *src)
{
    char **d[FILTER_STRINGS];
    *dst = *src;
    filter_strings(dst, d);
    for (size_t i = 0; i < FILTER_STRINGS; i++)
        if (*d[i] && !(*d[i] = strdup(*d[i]))) {
            for (size_t j = 0; j < i; j++)
                free(*d[j]);
            for (size_t j = i; j < FILTER_STRINGS; j++)
                *d[j] = NULL;
            return PS_ERR_NOMEM;
        }
    return PS_OK;
}

/* An empty text is an unset filter, as an option not given. */
static const char *opt(const char *s)
{
    return s && *s ? s : NULL;
}

ps_err ps_gui_filter_query(const ps_gui_filter *f, int64_t now_us, ps_query *q, ps_errmsg *em)
{
    ps_errmsg tm;
    ps_query_init(q);
    q->device_id = f->device_id;
    q->type = f->type;
    q->from = opt(f->from);
    q->to = opt(f->to);
    q->subject = opt(f->subject);
    q->disposition = opt(f->disposition);
    q->qid = opt(f->qid);
    q->message_id = opt(f->message_id);
    q->search = opt(f->search);
    q->oldest_first = f->oldest_first;
    if (opt(f->since) && ps_time_parse_when(f->since, now_us, &q->since_us, &tm) != PS_OK)
        return ps_errmsg_set(em, PS_ERR_INVALID, "--since: %s", tm.text);
    if (opt(f->until) && ps_time_parse_when(f->until, now_us, &q->until_us, &tm) != PS_OK)
        return ps_errmsg_set(em, PS_ERR_INVALID, "--until: %s", tm.text);
    if (opt(f->since) && opt(f->until) && q->since_us >= q->until_us)
        return ps_errmsg_set(em, PS_ERR_INVALID, "--since %s is not before --until %s", f->since,
                             f->until);
    return PS_OK;
}

void ps_gui_event_deinit(ps_gui_event *e)
{
    if (!e)
        return;
    free(e->key);
    for (size_t i = 0; i < PS_EF__COUNT; i++)
        free(e->text[i]);
    memset(e, 0, sizeof *e);
}

void ps_gui_cursor_init(ps_gui_cursor *c)
{
    memset(c, 0, sizeof *c);
}

void ps_gui_cursor_deinit(ps_gui_cursor *c)
{
    if (!c)
        return;
    free(c->seen);
    ps_gui_cursor_init(c);
}

typedef struct page_ctx {
    const ps_gui_cursor *c;
    ps_gui_event *v;
    size_t n, cap, want;
    ps_err err;
} page_ctx;

static bool seen_before(const ps_gui_cursor *c, const ps_event_row *row)
{
    if (!c->started || row->ts_us != c->ts_us)
        return false;
    for (size_t i = 0; i < c->nseen; i++)
        if (c->seen[i] == row->id)
            return true;
    return false;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static bool take_row(const ps_event_row *row, void *ctx)
{
    page_ctx *p = ctx;
    ps_gui_event *e;
    bool ok = true;
    if (seen_before(p->c, row))
        return true;
    if (ps_mem_grow_array((void **)&p->v, &p->cap, p->n, sizeof *p->v) != PS_OK) {
        p->err = PS_ERR_NOMEM;
        return false;
    }
    e = &p->v[p->n++];
    memset(e, 0, sizeof *e);
    e->id = row->id;
    e->device_id = row->device_id;
    e->type = row->type;
    e->ts_us = row->ts_us;
    e->key = dup_or_null(row->key);
    ok = !row->key || e->key;
    for (size_t i = 0; i < PS_EF__COUNT; i++) {
        e->text[i] = dup_or_null(row->text[i]);
        ok = ok && (!row->text[i] || e->text[i]);
    }
    if (!ok)
        p->err = PS_ERR_NOMEM;
    return ok && p->n < p->want;
}

/* The cursor after a page: the last time stamp and every id delivered with it
 * (those of earlier pages too, when the page did not move past it). */
static ps_err advance(ps_gui_cursor *c, const ps_gui_event *v, size_t n)
{
    int64_t ts = v[n - 1].ts_us;
    if (!c->started || ts != c->ts_us)
        c->nseen = 0;
    c->started = true;
    c->ts_us = ts;
    for (size_t i = n; i-- > 0 && v[i].ts_us == ts;) {
        if (ps_mem_grow_array((void **)&c->seen, &c->cap, c->nseen, sizeof *c->seen) != PS_OK)
            return PS_ERR_NOMEM;
        c->seen[c->nseen++] = v[i].id;
    }
    return PS_OK;
}

ps_err ps_gui_events_page(ps_store *st, const ps_query *q, ps_gui_cursor *c, size_t n,
                          ps_gui_event **out, size_t *count, ps_errmsg *em)
{
    ps_query pq = *q;
    page_ctx p = {c, NULL, 0, 0, n, PS_OK};
    ps_err err = PS_OK;
    *out = NULL;
    *count = 0;
    if (c->done || n == 0)
        return PS_OK;
    pq.after_id = 0;
    if (c->started) {
        /* Same time stamp included: the events of it not delivered yet come first. */
        if (q->oldest_first && c->ts_us > pq.since_us)
            pq.since_us = c->ts_us;
        else if (!q->oldest_first && c->ts_us < INT64_MAX && c->ts_us + 1 < pq.until_us)
            pq.until_us = c->ts_us + 1;
    }
    pq.limit = n + c->nseen;
    err = ps_store_query(st, &pq, take_row, &p, em);
    if (err == PS_OK && p.err != PS_OK)
        err = ps_errmsg_set(em, p.err, "out of memory");
    if (err == PS_OK && p.n > 0 && advance(c, p.v, p.n) != PS_OK)
        err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    if (err != PS_OK)
        goto out;
    c->done = p.n < n;
    *out = p.v;
    *count = p.n;
    p.v = NULL;
    p.n = 0;
out:
    for (size_t i = 0; i < p.n; i++)
        ps_gui_event_deinit(&p.v[i]);
    free(p.v);
    return err;
}

/* cJSON indents with tabs and puts one after each colon; JSON strings escape
 * theirs, so every tab is one of those. */
static char *tabs_to_spaces(const char *s)
{
    size_t tabs = 0, len = strlen(s);
    char *out, *w;
    for (const char *p = s; *p; p++)
        tabs += *p == '\t';
    out = malloc(len + tabs + 1);
    if (!out)
        return NULL;
    w = out;
    for (const char *p = s; *p; p++) {
        if (*p == '\t' && p > s && p[-1] == ':') {
            *w++ = ' '; /* cJSON's "key":<tab>value */
        } else if (*p == '\t') {
            *w++ = ' ';
            *w++ = ' ';
        } else {
            *w++ = *p;
        }
    }
    *w = '\0';
    return out;
}

ps_err ps_gui_events_pretty(ps_store *st, int64_t id, char **out, ps_errmsg *em)
{
    char *raw = NULL;
    size_t len = 0;
    cJSON *j;
    ps_err err;
    *out = NULL;
    if ((err = ps_store_event_raw(st, id, &raw, &len, em)) != PS_OK)
        return err;
    j = cJSON_ParseWithLength(raw, len);
    if (j) {
        char *p = cJSON_Print(j);
        cJSON_Delete(j);
        if (p) {
            *out = tabs_to_spaces(p);
            cJSON_free(p);
        }
    } else {
        *out = strdup(raw); /* a pipeline may store what is not JSON any more: show it */
    }
    free(raw);
    return *out ? PS_OK : ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
}
