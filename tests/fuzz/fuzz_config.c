/* libFuzzer target for the configuration loader: YAML text -> ps_config and the
 * compiled pipelines, through ps_loader as the service and validate load it (every
 * phase runs on what loaded, also when an earlier one found errors).
 *
 * The input is cut at each line "%%" into up to four in-memory files, in this
 * order: devices/a.yml, podstream.yml, devices/b.yml, pipelines/p.yml. One part is
 * a devices file (most seeds); more parts reach the service settings and the checks
 * across files (duplicate ids and names). Besides memory errors (run it with
 * -DPS_SANITIZE=ON), the loader's contract is checked: the result agrees with the
 * diagnostics, and every loaded device holds values the schema allows. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_config.h"
#include "podstream/ps_loader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PARTS 4

static void check(bool ok)
{
    if (!ok)
        abort();
}

static void check_device(const ps_device *d)
{
    check(d->id >= 1 && d->id <= INT32_MAX);
    check(d->name && *d->name);
    check(d->type && strcmp(d->type, "proofpoint") == 0);
    check(d->path && strncmp(d->path, "devices[", 8) == 0);
    check(d->pos.file && d->pos.line >= 1 && d->pos.col >= 1);
    check(d->props.cluster && *d->props.cluster);
    check(d->props.token && *d->props.token);
    check(d->props.token_pos.file && d->props.token_pos.line >= 1);
    check(d->props.endpoint &&
          (strncmp(d->props.endpoint, "ws", 2) == 0 || strncmp(d->props.endpoint, "WS", 2) == 0));
    check(d->props.type <= PS_DATA_AUDIT);
    check(d->props.workers >= 1 && d->props.workers <= 64);
    check((d->ntags == 0) == (d->tags == NULL));
    check((d->npipelines == 0) == (d->pipelines == NULL));
    for (size_t i = 0; i < d->npipelines; i++)
        check(d->pipelines[i] && d->pipeline_pos[i].line >= 1);
    check(ps_device_equal(d, d));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[MAX_PARTS] = {"devices/a.yml", "podstream.yml", "devices/b.yml",
                                                 "pipelines/p.yml"};
    ps_config_source src[MAX_PARTS];
    const char *p = (const char *)data, *end = p + size;
    size_t n = 0;
    ps_config *cfg = NULL;
    ps_pipeline_set *pipes = NULL;
    ps_diag diag;
    ps_err err;

    while (n < MAX_PARTS) {
        const char *cut = NULL;
        for (const char *q = p; q + 4 <= end; q++) {
            if (memcmp(q, "\n%%\n", 4) == 0) {
                cut = q;
                break;
            }
        }
        if (!cut || n == MAX_PARTS - 1)
            cut = end;
        src[n] = (ps_config_source){names[n], p, (size_t)(cut - p) + (cut < end)};
        n++;
        if (cut == end)
            break;
        p = cut + 4;
    }

    ps_diag_init(&diag);
    /* Tokens are checked but not resolved: a fuzzer has no environment to trust. */
    err = ps_loader_load_sources("/etc/podstream", src, n, PS_LOADER_TOKENS, &cfg, &pipes, &diag);
    check(err == PS_OK || err == PS_ERR_INVALID || err == PS_ERR_NOMEM);
    check((err == PS_OK) == (cfg != NULL));
    check((err == PS_OK) == (pipes != NULL));
    check((err == PS_OK) == !ps_diag_has_errors(&diag));
    if (cfg) {
        check(cfg->service.database && cfg->service.key_file && cfg->service.secrets_dir);
        check(cfg->service.max_frame_bytes >= 1024 * 1024);
        check(cfg->service.dead_after_ms > cfg->service.keepalive_ms);
        check(cfg->service.backoff_max_ms >= cfg->service.backoff_initial_ms);
        for (size_t i = 0; i < cfg->ndevices; i++) {
            check_device(&cfg->devices[i]);
            check(ps_config_find_device(cfg, cfg->devices[i].id) == &cfg->devices[i]);
        }
        for (size_t i = 0; i < cfg->npipeline_files; i++)
            check(cfg->pipeline_files[i].doc && cfg->pipeline_files[i].list);
    }
    /* Every message must format (positions, paths, text) without trouble. */
    ps_diag_sort(&diag);
    for (size_t i = 0; i < diag.count; i++) {
        char line[2048];
        ps_diag_format(&diag.items[i], line, sizeof line);
        check(line[0] != '\0');
    }
    ps_pipeline_set_destroy(pipes);
    ps_config_destroy(cfg);
    ps_diag_deinit(&diag);
    return 0;
}
