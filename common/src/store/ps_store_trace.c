/* ps_store trace: everything stored about one mail. The id is tried as a guid, a
 * queue id and a message-id; the queue ids and message-ids of what is found are
 * followed in turn, so a mail that sendmail split or re-queued comes out whole. */
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_mem.h"
#include "store/ps_store_internal.h"

typedef struct trace_ctx {
    ps_row_copy *rows;
    size_t n, cap, limit;
    char **ids; /* qids and message-ids seen, "q:" / "m:" prefixed */
    size_t nids, capids;
    size_t scanned_ids;
    ps_err err;
} trace_ctx;

static bool have_row(const trace_ctx *t, int64_t id)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->rows[i].r.id == id)
            return true;
    return false;
}

static void add_id(trace_ctx *t, char kind, const char *v)
{
    char norm[1024];
    char *copy;
    size_t n;
    if (!v || !*v)
        return;
    n = ps_store_norm_msgid(v, strlen(v), norm + 2, sizeof norm - 2);
    if (n == (size_t)-1 || n == 0)
        return;
    norm[0] = kind;
    norm[1] = ':';
    for (size_t i = 0; i < t->nids; i++)
        if (strcmp(t->ids[i], norm) == 0)
            return;
    if (ps_mem_grow_array((void **)&t->ids, &t->capids, t->nids, sizeof *t->ids) != PS_OK) {
        t->err = PS_ERR_NOMEM;
        return;
    }
    copy = strdup(norm);
    if (!copy) {
        t->err = PS_ERR_NOMEM;
        return;
    }
    t->ids[t->nids++] = copy;
}

static bool trace_collect(const ps_event_row *r, void *ctx)
{
    trace_ctx *t = ctx;
    if (have_row(t, r->id))
        return true;
    if (t->n >= t->limit)
        return false;
    if (ps_mem_grow_array((void **)&t->rows, &t->cap, t->n, sizeof *t->rows) != PS_OK) {
        t->err = PS_ERR_NOMEM;
        return false;
    }
    if (ps_row_copy_make(&t->rows[t->n], r) != PS_OK) {
        t->err = PS_ERR_NOMEM;
        return false;
    }
    t->n++;
    add_id(t, 'q', r->text[PS_EF_QID]);
    add_id(t, 'm', r->text[PS_EF_MESSAGE_ID]);
    return true;
}

static int trace_cmp(const void *a, const void *b)
{
    const ps_event_row *x = &((const ps_row_copy *)a)->r;
    const ps_event_row *y = &((const ps_row_copy *)b)->r;
    if (x->ts_us != y->ts_us)
        return x->ts_us < y->ts_us ? -1 : 1;
    /* A message event and its maillog lines may share a microsecond: the message
     * (reception and filtering) comes first. */
    if (x->type != y->type)
        return x->type < y->type ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static void trace_free(trace_ctx *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->rows[i].strings);
    for (size_t i = 0; i < t->nids; i++)
        free(t->ids[i]);
    free(t->rows);
    free(t->ids);
}

ps_err ps_store_trace(ps_store *st, const char *id, bool want_raw, size_t limit, ps_store_row_fn fn,
                      void *ctx, size_t *count, ps_errmsg *em)
{
    trace_ctx t;
    ps_query q;
    ps_err err = PS_OK;
    memset(&t, 0, sizeof t);
    t.limit = limit ? limit : 10000;
    if (count)
        *count = 0;
    if (!id || !*id)
        return ps_errmsg_set(em, PS_ERR_INVALID, "trace: no id given");
    /* What the id is, is not known: try it as each. */
    for (int kind = 0; kind < 3 && err == PS_OK; kind++) {
        ps_query_init(&q);
        q.oldest_first = true;
        if (kind == 0)
            q.key = id;
        else if (kind == 1)
            q.qid = id;
        else
            q.message_id = id;
        err = ps_store_query(st, &q, trace_collect, &t, em);
        if (err == PS_ERR_INVALID)
            err = PS_OK; /* e.g. "<>" is no message-id; the other kinds may still match */
    }
    /* Follow the mail: a message-id leads to the maillog `from=` line and its
     * queue id, a queue id to every `to=` line and the message event. */
    while (err == PS_OK && t.err == PS_OK && t.scanned_ids < t.nids && t.n < t.limit) {
        char *idv = t.ids[t.scanned_ids++];
        ps_query_init(&q);
        q.oldest_first = true;
        if (idv[0] == 'q')
            q.qid = idv + 2;
        else
            q.message_id = idv + 2;
        err = ps_store_query(st, &q, trace_collect, &t, em);
        if (err == PS_ERR_INVALID)
            err = PS_OK;
    }
    if (err == PS_OK && t.err != PS_OK)
        err = ps_errmsg_set(em, t.err, "out of memory tracing %s", id);
    if (err == PS_OK && t.n == 0)
        err = ps_errmsg_set(em, PS_ERR_NOTFOUND,
                            "no event has %s as its guid, queue id or message-id", id);
    if (err == PS_OK) {
        qsort(t.rows, t.n, sizeof *t.rows, trace_cmp);
        err = ps_row_copy_deliver(st, t.rows, t.n, want_raw, fn, ctx, count, em);
    }
    trace_free(&t);
    return err;
}
