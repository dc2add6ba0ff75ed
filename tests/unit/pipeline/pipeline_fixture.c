/* Helpers shared by the pipeline tests: compiling YAML, running chains, comparing
 * outcomes and diagnostics, and the secrets directory for redaction keys. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipeline_fixture.h"
#include "podstream/ps_platform.h"
#include "podstream/ps_yaml.h"

/* Where $secret{} redaction keys are looked up; made by make_secrets(). */
char secrets_dir[64];

/* The diagnostics as ps_diag_print writes them, one per line. */
char *diag_text(ps_diag *d)
{
    static char text[8192];
    size_t o = 0;
    ps_diag_sort(d);
    text[0] = '\0';
    for (size_t i = 0; i < d->count; i++) {
        char line[2048];
        ps_diag_format(&d->items[i], line, sizeof line);
        o += (size_t)snprintf(text + o, sizeof text - o, "%s\n", line);
    }
    return text;
}

/* Compiles one or more YAML files ("name", "text", ..., END) with optional devices. */
ps_err compile_files(ps_pipeline_set **out, ps_diag *diag, const ps_device *devs, size_t ndevs,
                     bool secrets, ...)
{
    ps_yaml_doc *docs[8];
    ps_config_pipeline_file files[8];
    size_t n = 0;
    ps_secret_ctx sctx;
    ps_err rc;
    va_list ap;
    const char *name;

    va_start(ap, secrets);
    while ((name = va_arg(ap, const char *)) != NULL) {
        const char *text = va_arg(ap, const char *);
        assert_true(n < 8);
        if (ps_yaml_load_buffer(name, text, strlen(text), &docs[n], diag) != PS_OK)
            fail_msg("YAML of %s does not parse:\n%s", name, diag_text(diag));
        files[n].doc = docs[n];
        files[n].list = ps_yaml_doc_root(docs[n]);
        n++;
    }
    va_end(ap);
    ps_secret_ctx_init(&sctx, secrets_dir[0] ? secrets_dir : NULL, NULL);
    rc = ps_pipeline_set_compile(files, n, devs, ndevs, secrets ? &sctx : NULL, out, diag);
    ps_secret_ctx_deinit(&sctx);
    /* The set keeps nothing of the YAML. */
    for (size_t i = 0; i < n; i++)
        ps_yaml_doc_destroy(docs[i]);
    return rc;
}

ps_pipeline_set *build(const char *yaml)
{
    ps_pipeline_set *set = NULL;
    ps_diag diag;
    ps_diag_init(&diag);
    if (compile_files(&set, &diag, NULL, 0, true, "pipelines/test.yml", yaml, END) != PS_OK)
        fail_msg("pipelines do not compile:\n%s", diag_text(&diag));
    if (diag.count)
        fail_msg("unexpected diagnostics:\n%s", diag_text(&diag));
    ps_diag_deinit(&diag);
    return set;
}

/* Compiling must fail with exactly `want` (sorted diagnostics, one per line). */
void expect_invalid(const char *yaml, const char *want)
{
    ps_pipeline_set *set = (ps_pipeline_set *)&set;
    ps_diag diag;
    ps_diag_init(&diag);
    assert_int_equal(compile_files(&set, &diag, NULL, 0, true, "pipelines/test.yml", yaml, END),
                     PS_ERR_INVALID);
    assert_null(set);
    const char *got = diag_text(&diag);
    if (strcmp(got, want) != 0) {
        /* cmocka truncates long messages: print the whole of both. */
        fprintf(stderr, "diagnostics differ\n--- got:\n%s--- want:\n%s", got, want);
        fail();
    }
    ps_diag_deinit(&diag);
}

/* Runs the pipelines `names` (comma-separated) of `set` on the event `in`. */
void run(ps_pipeline_set *set, const char *names, const char *in, outcome *o)
{
    char buf[256], *save = NULL, *tok;
    const char *list[8];
    size_t n = 0;
    ps_pipeline_chain *chain = NULL;
    ps_pipeline_result res;
    ps_errmsg em;
    cJSON *ev = cJSON_Parse(in);
    char *text, *tags;

    if (!ev)
        fail_msg("test input is not JSON: %s", in);
    snprintf(buf, sizeof buf, "%s", names);
    for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        list[n++] = tok;
    if (ps_pipeline_chain_create(set, list, n, &chain, &em) != PS_OK)
        fail_msg("chain %s: %s", names, em.text);
    ps_pipeline_result_init(&res);
    assert_int_equal(ps_pipeline_chain_run(chain, ev, &res), PS_OK);
    memset(o, 0, sizeof *o);
    o->outcome = res.outcome;
    o->modified = res.modified;
    snprintf(o->message, sizeof o->message, "%s", res.message);
    text = cJSON_PrintUnformatted(ev);
    snprintf(o->json, sizeof o->json, "%s", text);
    cJSON_free(text);
    tags = ps_pipeline_tags_json(NULL, 0, &res);
    snprintf(o->tags, sizeof o->tags, "%s", tags);
    free(tags);
    /* The deciding pipeline is the one the message names. */
    if (res.outcome == PS_PIPELINE_KEPT) {
        assert_null(res.pipeline);
    } else {
        char by[200];
        snprintf(by, sizeof by,
                 res.outcome == PS_PIPELINE_DROPPED ? "dropped by %s " : "pipeline %s",
                 res.pipeline);
        assert_true(strncmp(res.message, by, strlen(by)) == 0);
    }
    ps_pipeline_result_deinit(&res);
    ps_pipeline_chain_destroy(chain);
    cJSON_Delete(ev);
}

void expect_kept(ps_pipeline_set *set, const char *names, const char *in, const char *want)
{
    outcome o;
    cJSON *w = cJSON_Parse(want);
    char *wtext;
    if (!w)
        fail_msg("expected output is not JSON: %s", want);
    wtext = cJSON_PrintUnformatted(w); /* the same escaping as the output */
    run(set, names, in, &o);
    if (o.outcome != PS_PIPELINE_KEPT)
        fail_msg("%s on %s: not kept: %s", names, in, o.message);
    if (strcmp(o.json, wtext) != 0)
        fail_msg("%s on %s:\n got  %s\n want %s", names, in, o.json, wtext);
    cJSON_free(wtext);
    cJSON_Delete(w);
    /* The flag must say exactly whether the tree changed. */
    cJSON *a = cJSON_Parse(in), *b = cJSON_Parse(o.json);
    char *ta = cJSON_PrintUnformatted(a);
    if (o.modified != (strcmp(ta, o.json) != 0))
        fail_msg("%s on %s: modified is %d but the JSON %s", names, in, o.modified,
                 o.modified ? "did not change" : "changed");
    cJSON_free(ta);
    cJSON_Delete(a);
    cJSON_Delete(b);
    assert_string_equal(o.message, "");
}

void expect_failed(ps_pipeline_set *set, const char *names, const char *in, const char *want)
{
    outcome o;
    run(set, names, in, &o);
    if (o.outcome != PS_PIPELINE_FAILED)
        fail_msg("%s on %s: not failed (outcome %d, %s)", names, in, (int)o.outcome, o.json);
    if (strcmp(o.message, want) != 0)
        fail_msg("%s on %s:\n got  %s\n want %s", names, in, o.message, want);
}

void expect_dropped(ps_pipeline_set *set, const char *names, const char *in, const char *want)
{
    outcome o;
    run(set, names, in, &o);
    if (o.outcome != PS_PIPELINE_DROPPED)
        fail_msg("%s on %s: not dropped (outcome %d: %s)", names, in, (int)o.outcome,
                 o.outcome == PS_PIPELINE_FAILED ? o.message : o.json);
    assert_string_equal(o.message, want);
}

/* A secrets directory holding the redaction key of recipes.yml, mode 0600 as
 * ps_secret requires. */
int make_secrets(void **state)
{
    char path[128];
    FILE *f;
    (void)state;
    snprintf(secrets_dir, sizeof secrets_dir, "/tmp/ps_test_pipeline.XXXXXX");
    if (!mkdtemp(secrets_dir))
        return -1;
    snprintf(path, sizeof path, "%s/redact-key", secrets_dir);
    f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "%s\n", TEST_KEY);
    fclose(f);
    return chmod(path, 0600);
}

int remove_secrets(void **state)
{
    char path[128];
    (void)state;
    snprintf(path, sizeof path, "%s/redact-key", secrets_dir);
    unlink(path);
    rmdir(secrets_dir);
    secrets_dir[0] = '\0';
    return 0;
}
