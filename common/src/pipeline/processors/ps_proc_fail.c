/* fail: fails the event on purpose, with a templated message. */
#include "pipeline/ps_pipeline_internal.h"

typedef struct fail_state {
    tmpl message;
} fail_state;

static const ps_schema_field fields[] = {
    PL_OPT_TEXT("message", true, PL_KIND_TMPL, NULL, "The reason; templates allowed."),
};
static const ps_schema_table table = PL_TABLE("fail", fields);

static bool compile(cctx *c, const pl_opts *o, proc *p)
{
    fail_state *st = p->state;
    char sub[PL_DPATH];
    const char *s;
    const ps_yaml_node *n = pl_opt(o, "message", sub, sizeof sub);
    return pl_opt_text(c, n, sub, &s) && pl_tmpl_compile(c, n, sub, s, &st->message);
}

static int run(rctx *r, const proc *p)
{
    const fail_state *st = p->state;
    const char *msg = pl_render(r, &st->message);
    if (!msg)
        return pl_nomem(r, p);
    return pl_fail(r, p, NULL, NULL, "%s", msg);
}

static void free_state(void *state)
{
    pl_tmpl_free(&((fail_state *)state)->message);
}

const ps_processor_def pl_proc_fail = {
    {"fail", "Fails the event on purpose, with a message.", &table},
    sizeof(fail_state),
    NULL,
    compile,
    run,
    free_state,
};
