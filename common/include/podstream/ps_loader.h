/* ps_loader: the configuration directory loaded, checked and compiled, the one way
 * the service (start and reload), `podstream validate` and the GUI do it.
 *
 * Phases: the files (podstream.yml, devices/, pipelines/, ps_config), the pipelines
 * (ps_pipeline_set_compile, which also checks the pipeline names devices use), and
 * optionally the tokens (ps_secret). Every phase runs even when an earlier one found
 * errors, on as much as loaded, so that one run reports every problem: a typo in
 * podstream.yml no longer hides the mistakes in a pipeline. */
#ifndef PS_LOADER_H
#define PS_LOADER_H

#include <stddef.h>

#include "ps_config.h"
#include "ps_diag.h"
#include "ps_error.h"
#include "ps_pipeline.h"

enum {
    /* Resolve secrets: pipeline redaction keys, and with PS_LOADER_TOKENS the tokens
     * and proxy credentials. Without it keys are checked for presence only, and the
     * set fails every event that reaches a hashing redact (validate --no-secrets). */
    PS_LOADER_RESOLVE = 1u << 0,
    /* Check device tokens and proxy credentials: a warning for a token written in
     * clear; with PS_LOADER_RESOLVE each must resolve (an error; a warning for a
     * disabled device). The service leaves this out: it resolves a token just before
     * connecting, so plaintext lives briefly and one bad token stops only its device. */
    PS_LOADER_TOKENS = 1u << 1,
    /* A reload of a running service: a missing or empty podstream.yml is an error,
     * not every setting at its default. An editor that truncates then writes, or a
     * file deleted by mistake, would otherwise move the database and every setting
     * to its default under running devices. */
    PS_LOADER_RELOAD = 1u << 2,
};

/* Loads `dir` with `flags` (PS_LOADER_*), appending every problem of every phase to
 * `diag`. Returns PS_OK with *cfg and *pipes set (caller destroys both) when no
 * phase found an error (warnings allowed). Otherwise returns PS_ERR_INVALID,
 * PS_ERR_NOTFOUND (no such directory) or PS_ERR_NOMEM, and both are NULL. */
ps_err ps_loader_load(const char *dir, unsigned flags, ps_config **cfg, ps_pipeline_set **pipes,
                      ps_diag *diag);

/* ps_loader_load on files held in memory, as ps_config_load_sources takes them (the
 * GUI checks edited files before it saves them; the fuzzer has no disk). Same
 * results. */
ps_err ps_loader_load_sources(const char *dir, const ps_config_source *sources, size_t count,
                              unsigned flags, ps_config **cfg, ps_pipeline_set **pipes,
                              ps_diag *diag);

#endif
