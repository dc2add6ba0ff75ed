/* Running a chain of compiled pipelines on one event.
 *
 * Every processor either applies completely or leaves the tree as it was (values
 * are built and checked before anything is replaced), so `on_failure` handlers and
 * ignored failures see a consistent event. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/ps_pipeline_internal.h"

void ps_pipeline_result_init(ps_pipeline_result *res)
{
    memset(res, 0, sizeof *res);
}

static void clear_tags(ps_pipeline_result *res)
{
    for (size_t i = 0; i < res->ntags; i++)
        free(res->tags[i]);
    res->ntags = 0;
}

void ps_pipeline_result_deinit(ps_pipeline_result *res)
{
    rscratch *sc;
    if (!res)
        return;
    clear_tags(res);
    free(res->tags);
    sc = res->scratch;
    if (sc) {
        ps_expr_scratch_destroy(sc->es);
        free(sc->buf.p);
        free(sc);
    }
    memset(res, 0, sizeof *res);
}

/* Records why processor `p` (NULL: the pipeline's `if`) failed: `opt` and `path`
 * name the option and field at fault, when there is one. */
int pl_fail(rctx *r, const proc *p, const char *opt, const char *path, const char *fmt, ...)
    PS_PRINTF(5, 6);

int pl_fail(rctx *r, const proc *p, const char *opt, const char *path, const char *fmt, ...)
{
    va_list ap;
    r->fail_proc = p;
    pl_pjoin(r->where, sizeof r->where, "%s%s%s", opt ? opt : "", path ? " " : "",
             path ? path : "");
    va_start(ap, fmt);
    vsnprintf(r->reason, sizeof r->reason, fmt, ap);
    va_end(ap);
    return R_FAIL;
}

int pl_nomem(rctx *r, const proc *p)
{
    r->nomem = true;
    return pl_fail(r, p, NULL, NULL, "out of memory");
}

/* Reads a field of the event, or of `_ingest` for paths that start with it. */
walk_rc pl_read_field(const rctx *r, const fpath *fp, cJSON **v, char *err, size_t elen)
{
    cJSON *parent;
    fpath rest;
    walk_rc rc;
    if (!fp->meta)
        return pl_get(r->event, fp, v, err, elen);
    if (!r->meta)
        return W_MISSING;
    rest = *fp;
    rest.segs++;
    rest.n--;
    rc = pl_walk(r->meta, &rest, rest.n, v, &parent, err, elen);
    if (rc == W_FOUND && cJSON_IsNull(*v))
        return W_MISSING;
    return rc;
}

/* Reads the field of a processor for changing it: W_MISSING (missing or null) is
 * handled by ignore_missing here. Returns R_OK with *v NULL to skip. */
int pl_field_for_update(rctx *r, const proc *p, const char *opt, const fpath *fp, cJSON **v)
{
    char err[200];
    *v = NULL;
    switch (pl_read_field(r, fp, v, err, sizeof err)) {
    case W_FOUND:
        return R_OK;
    case W_MISSING:
        *v = NULL;
        return p->ignore_missing ? R_OK : pl_fail(r, p, opt, fp->text, "not found");
    default:
        *v = NULL;
        return pl_fail(r, p, opt, fp->text, "%s", err);
    }
}

/* Puts `item` at `fp`, replacing what is there (unless it is equal, or with
 * `override` false, not null). Takes item. */
int pl_store(rctx *r, const proc *p, const fpath *fp, cJSON *item, bool override, const char *opt)
{
    char err[200];
    switch (pl_set_at(r->event, fp, item, override, true, err, sizeof err)) {
    case S_STORED:
        r->res->modified = true;
        return R_OK;
    case S_KEPT_OLD:
        cJSON_Delete(item);
        return R_OK;
    case S_NOMEM:
        cJSON_Delete(item);
        return pl_nomem(r, p);
    default:
        cJSON_Delete(item);
        return pl_fail(r, p, opt, fp->text, "%s", err);
    }
}

static int run_procs(rctx *r, const proc *ps, size_t n);

/* Runs failure handlers with `_ingest.on_failure_*` describing the failure. */
static int run_handlers(rctx *r, const proc *handlers, size_t n)
{
    cJSON *saved = r->meta;
    cJSON *meta = cJSON_CreateObject();
    const proc *fp = r->fail_proc;
    char msg[sizeof r->where + sizeof r->reason + 2];
    int rc;

    pl_pjoin(msg, sizeof msg, "%s%s%s", r->where, r->where[0] ? ": " : "", r->reason);
    if (!meta || !cJSON_AddStringToObject(meta, "pipeline", r->pl->name) ||
        !cJSON_AddStringToObject(meta, "on_failure_message", msg) ||
        !cJSON_AddStringToObject(meta, "on_failure_processor_type", fp ? fp->tname : "pipeline") ||
        !cJSON_AddStringToObject(meta, "on_failure_processor_tag", fp && fp->tag ? fp->tag : "") ||
        !cJSON_AddStringToObject(meta, "on_failure_pipeline", r->pl->name)) {
        cJSON_Delete(meta);
        r->nomem = true;
        return R_FAIL;
    }
    r->meta = meta;
    rc = run_procs(r, handlers, n);
    r->meta = saved;
    cJSON_Delete(meta);
    return rc;
}

static int run_proc(rctx *r, const proc *p)
{
    int rc;
    if (p->cond) {
        ps_expr_env env = {r->event, r->meta, r->sc->es};
        ps_errmsg em;
        bool yes;
        ps_err e = ps_expr_eval_bool(p->cond, &env, &yes, &em);
        if (e == PS_ERR_NOMEM)
            return pl_nomem(r, p);
        if (e != PS_OK)
            rc = pl_fail(r, p, "if", NULL, "%s", em.text);
        else if (!yes)
            return R_OK;
        else
            rc = p->def->run(r, p);
    } else {
        rc = p->def->run(r, p);
    }
    if (rc != R_FAIL || r->nomem)
        return rc;
    if (p->ignore_failure)
        return R_OK;
    if (p->non_failure)
        return run_handlers(r, p->on_failure, p->non_failure);
    return R_FAIL;
}

static int run_procs(rctx *r, const proc *ps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int rc = run_proc(r, &ps[i]);
        if (rc != R_OK)
            return rc;
    }
    return R_OK;
}

static int run_pipeline(rctx *r, const ps_pipeline *pl)
{
    int rc = R_OK;
    r->pl = pl;
    r->meta = pl->meta;
    if (pl->cond) {
        ps_expr_env env = {r->event, r->meta, r->sc->es};
        ps_errmsg em;
        bool yes;
        ps_err e = ps_expr_eval_bool(pl->cond, &env, &yes, &em);
        if (e == PS_ERR_NOMEM) {
            r->nomem = true;
            return pl_fail(r, NULL, NULL, NULL, "out of memory");
        }
        if (e != PS_OK)
            rc = pl_fail(r, NULL, "if", NULL, "%s", em.text);
        else if (!yes)
            return R_OK;
    }
    if (rc == R_OK)
        rc = run_procs(r, pl->procs, pl->nprocs);
    if (rc != R_FAIL || r->nomem)
        return rc;
    if (pl->non_failure)
        return run_handlers(r, pl->on_failure, pl->non_failure);
    if (pl->ignore_failure)
        return R_OK;
    return R_FAIL;
}

static void describe_proc(const proc *p, char *buf, size_t len, bool drop)
{
    if (drop)
        snprintf(buf, len, "%s: %s%s%s", p->label, p->tname, p->tag ? ", tag " : "",
                 p->tag ? p->tag : "");
    else
        snprintf(buf, len, "%s (%s%s%s)", p->label, p->tname, p->tag ? ", tag " : "",
                 p->tag ? p->tag : "");
}

ps_err ps_pipeline_chain_run(const ps_pipeline_chain *chain, cJSON *event, ps_pipeline_result *res)
{
    rctx r;
    rscratch *sc = res->scratch;
    char what[300];

    res->outcome = PS_PIPELINE_KEPT;
    res->modified = false;
    res->pipeline = NULL;
    res->message[0] = '\0';
    clear_tags(res);
    if (!chain || chain->n == 0)
        return PS_OK;
    if (!sc) {
        if (!(sc = calloc(1, sizeof *sc)) || ps_expr_scratch_create(&sc->es) != PS_OK) {
            free(sc);
            res->outcome = PS_PIPELINE_FAILED;
            pl_pjoin(res->message, sizeof res->message, "out of memory");
            return PS_ERR_NOMEM;
        }
        res->scratch = sc;
    }
    memset(&r, 0, sizeof r);
    r.res = res;
    r.sc = sc;
    r.event = event;
    for (size_t i = 0; i < chain->n; i++) {
        int rc = run_pipeline(&r, chain->p[i]);
        if (rc == R_OK)
            continue;
        res->pipeline = chain->p[i]->name;
        if (rc == R_DROP) {
            res->outcome = PS_PIPELINE_DROPPED;
            describe_proc(r.drop_proc, what, sizeof what, true);
            pl_pjoin(res->message, sizeof res->message, "dropped by %s (%s)", res->pipeline, what);
            return PS_OK;
        }
        res->outcome = PS_PIPELINE_FAILED;
        if (r.fail_proc)
            describe_proc(r.fail_proc, what, sizeof what, false);
        pl_pjoin(res->message, sizeof res->message, "pipeline %s%s%s%s%s: %s", res->pipeline,
                 r.fail_proc ? ", " : "", r.fail_proc ? what : "", r.where[0] ? ", " : "", r.where,
                 r.reason);
        return r.nomem ? PS_ERR_NOMEM : PS_OK;
    }
    return PS_OK;
}

ps_err ps_pipeline_run(const ps_pipeline_set *set, const ps_device *dev, cJSON *event,
                       ps_pipeline_result *res)
{
    return ps_pipeline_chain_run(set ? ps_pipeline_set_device_chain(set, dev->id) : NULL, event,
                                 res);
}

char *ps_pipeline_tags_json(char *const *device_tags, size_t ndevice_tags,
                            const ps_pipeline_result *res)
{
    cJSON *arr = cJSON_CreateArray();
    char *text, *out = NULL;
    bool ok = arr != NULL;

    for (size_t i = 0; ok && i < ndevice_tags; i++)
        ok = cJSON_AddItemToArray(arr, cJSON_CreateString(device_tags[i]));
    for (size_t i = 0; ok && res && i < res->ntags; i++) {
        bool dup = false;
        for (size_t j = 0; !dup && j < ndevice_tags; j++)
            dup = strcmp(device_tags[j], res->tags[i]) == 0;
        if (!dup)
            ok = cJSON_AddItemToArray(arr, cJSON_CreateString(res->tags[i]));
    }
    text = ok ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    if (text) {
        out = pl_dupstr(text);
        cJSON_free(text);
    }
    return out;
}
