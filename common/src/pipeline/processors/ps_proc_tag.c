/* tag: adds tags to the ones stored with the event; the event itself is unchanged. */
#include <stdlib.h>
#include <string.h>

#include "pipeline/ps_pipeline_internal.h"

typedef struct tag_state {
    tmpl *tags;
    size_t ntags;
} tag_state;

static const ps_schema_field fields[] = {
    PL_OPT_LIST("tags", true, "template or list",
                "A tag or a list of tags; templates allowed. A tag that renders empty is "
                "skipped, and one already present is not added twice."),
};
static const ps_schema_table table = PL_TABLE("tag", fields);

static bool compile(cctx *c, const pl_opts *o, proc *p)
{
    tag_state *st = p->state;
    char sub[PL_DPATH];
    const ps_yaml_node *n = pl_opt(o, "tags", sub, sizeof sub);
    size_t count = n->kind == PS_YAML_SEQ ? n->count : 1;
    bool ok = true;
    if (n->kind == PS_YAML_MAP || (n->kind == PS_YAML_SEQ && n->count == 0) || ps_yaml_is_null(n)) {
        pl_cerr(c, n, sub, "expected a tag or a list of tags, found %s",
                n->kind == PS_YAML_SEQ ? "an empty list" : ps_yaml_describe(n));
        return false;
    }
    if (!(st->tags = calloc(count, sizeof *st->tags)))
        return pl_oom(c, n, sub);
    for (size_t i = 0; i < count; i++) {
        const ps_yaml_node *t = n->kind == PS_YAML_SEQ ? n->items[i] : n;
        char tp[PL_DPATH];
        const char *s;
        pl_pjoin(tp, sizeof tp, n->kind == PS_YAML_SEQ ? "%s[%zu]" : "%s", sub, i);
        st->ntags = i + 1;
        if (!pl_opt_text(c, t, tp, &s) || !pl_tmpl_compile(c, t, tp, s, &st->tags[i]))
            return false;
        if (!*s) {
            pl_cerr(c, t, tp, "a tag cannot be empty");
            ok = false;
        }
    }
    return ok;
}

static int add_tag(rctx *r, const proc *p, const char *tag)
{
    ps_pipeline_result *res = r->res;
    for (size_t i = 0; i < res->ntags; i++)
        if (strcmp(res->tags[i], tag) == 0)
            return R_OK;
    if (ps_mem_grow_array((void **)&res->tags, &res->tags_cap, res->ntags, sizeof *res->tags) !=
        PS_OK)
        return pl_nomem(r, p);
    if (!(res->tags[res->ntags] = pl_dupstr(tag)))
        return pl_nomem(r, p);
    res->ntags++;
    return R_OK;
}

static int run(rctx *r, const proc *p)
{
    const tag_state *st = p->state;
    for (size_t i = 0; i < st->ntags; i++) {
        const char *t = pl_render(r, &st->tags[i]);
        if (!t)
            return pl_nomem(r, p);
        if (*t && add_tag(r, p, t) != R_OK)
            return R_FAIL;
    }
    return R_OK;
}

static void free_state(void *state)
{
    tag_state *st = state;
    for (size_t i = 0; i < st->ntags; i++)
        pl_tmpl_free(&st->tags[i]);
    free(st->tags);
}

const ps_processor_def pl_proc_tag = {
    {"tag", "Adds tags to the event's stored tags, next to the device tags.", &table},
    sizeof(tag_state),
    NULL,
    compile,
    run,
    free_state,
};
