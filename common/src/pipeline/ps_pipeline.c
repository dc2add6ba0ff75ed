/* ps_pipeline: the compiled set, its pipelines and the chains devices run. The
 * compiler is ps_pipeline_compile.c, the run loop ps_pipeline_run.c, the processors
 * processors/ps_proc_*.c. */
#include "podstream/ps_pipeline.h"

#include <stdlib.h>
#include <string.h>

#include "pipeline/ps_pipeline_internal.h"

ps_err ps_pipeline_set_create(const ps_config *cfg, ps_pipeline_set **out, ps_diag *diag)
{
    ps_secret_ctx secrets;
    ps_err rc;
    ps_secret_ctx_init(&secrets, cfg->service.secrets_dir, cfg->service.key_file);
    rc = ps_pipeline_set_compile(cfg->pipeline_files, cfg->npipeline_files, cfg->devices,
                                 cfg->ndevices, &secrets, out, diag);
    ps_secret_ctx_deinit(&secrets);
    return rc;
}

void ps_pipeline_set_destroy(ps_pipeline_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->n; i++)
        pl_pipeline_free(set->pipes[i]);
    free(set->pipes);
    for (size_t i = 0; i < set->nfiles; i++)
        free(set->files[i]);
    free(set->files);
    for (size_t i = 0; i < set->ndevs; i++)
        free(set->devs[i].chain.p);
    free(set->devs);
    free(set);
}

size_t ps_pipeline_set_count(const ps_pipeline_set *set)
{
    return set->n;
}

const ps_pipeline *ps_pipeline_set_at(const ps_pipeline_set *set, size_t i)
{
    return i < set->n ? set->pipes[i] : NULL;
}

const ps_pipeline *ps_pipeline_set_find(const ps_pipeline_set *set, const char *name)
{
    for (size_t i = 0; i < set->n; i++)
        if (strcmp(set->pipes[i]->name, name) == 0)
            return set->pipes[i];
    return NULL;
}

const char *ps_pipeline_name(const ps_pipeline *p)
{
    return p->name;
}

const char *ps_pipeline_description(const ps_pipeline *p)
{
    return p->description;
}

size_t ps_pipeline_processor_count(const ps_pipeline *p)
{
    return p->nprocs;
}

ps_config_pos ps_pipeline_pos(const ps_pipeline *p)
{
    ps_config_pos pos = {p->file, p->line, p->col};
    return pos;
}

const ps_pipeline_chain *ps_pipeline_set_device_chain(const ps_pipeline_set *set,
                                                      long long device_id)
{
    for (size_t i = 0; i < set->ndevs; i++)
        if (set->devs[i].id == device_id)
            return &set->devs[i].chain;
    return NULL;
}

ps_err ps_pipeline_chain_create(const ps_pipeline_set *set, const char *const *names, size_t n,
                                ps_pipeline_chain **out, ps_errmsg *em)
{
    ps_pipeline_chain *ch = calloc(1, sizeof *ch);
    *out = NULL;
    if (!ch || !(ch->p = calloc(n ? n : 1, sizeof(const ps_pipeline *)))) {
        free(ch);
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        if (!(ch->p[i] = ps_pipeline_set_find(set, names[i]))) {
            ps_pipeline_chain_destroy(ch);
            return ps_errmsg_set(em, PS_ERR_NOTFOUND, "no pipeline is called \"%.100s\"", names[i]);
        }
    }
    ch->n = n;
    *out = ch;
    return PS_OK;
}

void ps_pipeline_chain_destroy(ps_pipeline_chain *chain)
{
    if (!chain)
        return;
    free(chain->p);
    free(chain);
}
