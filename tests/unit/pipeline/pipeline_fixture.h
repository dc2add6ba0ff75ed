/* Helpers shared by the pipeline tests (pipeline_fixture.c). */
#ifndef PIPELINE_FIXTURE_H
#define PIPELINE_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>

#include "podstream/ps_diag.h"
#include "podstream/ps_pipeline.h"

#define TEST_KEY "test-redaction-key-0123456789"

/* Ends the file list of compile_files: a pointer, as varargs need. */
#define END ((const char *)NULL)

/* Where $secret{} redaction keys are looked up; made by make_secrets(). */
extern char secrets_dir[64];

typedef struct outcome {
    ps_pipeline_outcome outcome;
    bool modified;
    char json[8192];
    char message[512];
    char tags[256];
} outcome;

/* The diagnostics as ps_diag_print writes them, one per line (a static buffer). */
char *diag_text(ps_diag *d);
/* Compiles one or more YAML files ("name", "text", ..., END) with optional devices. */
ps_err compile_files(ps_pipeline_set **out, ps_diag *diag, const ps_device *devs, size_t ndevs,
                     bool secrets, ...);
/* Compiles one file that must compile without a diagnostic. */
ps_pipeline_set *build(const char *yaml);
/* Compiling must fail with exactly `want` (sorted diagnostics, one per line). */
void expect_invalid(const char *yaml, const char *want);
/* Runs the pipelines `names` (comma-separated) of `set` on the event `in`. */
void run(ps_pipeline_set *set, const char *names, const char *in, outcome *o);
void expect_kept(ps_pipeline_set *set, const char *names, const char *in, const char *want);
void expect_failed(ps_pipeline_set *set, const char *names, const char *in, const char *want);
void expect_dropped(ps_pipeline_set *set, const char *names, const char *in, const char *want);
/* Group setup and teardown: a secrets directory holding the redaction key. */
int make_secrets(void **state);
int remove_secrets(void **state);

#endif
