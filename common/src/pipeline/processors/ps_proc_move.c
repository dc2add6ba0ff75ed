/* What rename and copy share: both move a value to target_field; rename takes it
 * away from field, copy leaves it. */
#include "pipeline/ps_pipeline_internal.h"

bool pl_move_compile(cctx *c, const pl_opts *o, proc *p, bool rename)
{
    move_state *st = p->state;
    char sub[PL_DPATH], tsub[PL_DPATH];
    const ps_yaml_node *tn = pl_opt(o, "target_field", tsub, sizeof tsub);
    bool ok = pl_opt_path(c, pl_opt(o, "field", sub, sizeof sub), sub, rename, &st->field);

    if (!pl_opt_path(c, tn, tsub, true, &st->target))
        return false;
    if (ok && pl_path_within(&st->target, &st->field) && st->target.n == st->field.n) {
        pl_cerr(c, tn, tsub, "target_field is the same as field");
        ok = false;
    } else if (ok && rename && pl_path_within(&st->target, &st->field)) {
        pl_cerr(c, tn, tsub, "target_field lies inside field, which rename removes");
        ok = false;
    }
    return ok;
}

int pl_move_run(rctx *r, const proc *p, bool rename)
{
    const move_state *st = p->state;
    cJSON *src, *dst, *item, *parent;
    char err[200];
    int rc = pl_field_for_update(r, p, "field", &st->field, &src);

    if (rc != R_OK || !src)
        return rc;
    switch (pl_get(r->event, &st->target, &dst, err, sizeof err)) {
    case W_FOUND:
        if (!st->override)
            return pl_fail(r, p, "target_field", st->target.text,
                           "already exists (set override: true to replace it)");
        break;
    case W_ERROR:
        return pl_fail(r, p, "target_field", st->target.text, "%s", err);
    default:
        break;
    }
    if (!pl_check_set(r->event, &st->target, &parent, err, sizeof err))
        return pl_fail(r, p, "target_field", st->target.text, "%s", err);
    if (!rename) {
        if (!(item = cJSON_Duplicate(src, true)))
            return pl_nomem(r, p);
    } else {
        if (pl_walk(r->event, &st->field, st->field.n, &src, &parent, err, sizeof err) != W_FOUND)
            return pl_fail(r, p, "field", st->field.text, "not found");
        item = cJSON_DetachItemViaPointer(parent, src);
        r->res->modified = true;
    }
    return pl_store(r, p, &st->target, item, true, "target_field");
}

void pl_move_free(void *state)
{
    move_state *st = state;
    pl_fpath_free(&st->field);
    pl_fpath_free(&st->target);
}
