/* gen_config_doc: writes docs/configuration.md from docs/configuration.md.in and the
 * schema tables, so that the reference can never disagree with the parser.
 *
 *   gen_config_doc --source-dir DIR [--output FILE]   write (stdout by default)
 *   gen_config_doc --source-dir DIR --check FILE [--build-dir B]
 *                                                     exit 1 when FILE is stale
 *
 * Directives in the template, each alone on a line:
 *   @@TABLE <table> [<group>]@@   a Markdown table of the fields (of one group)
 *   @@GROUPS <table>@@            one "### <group>" section and table per group
 *   @@INCLUDE <path>@@            a file of the source tree, verbatim
 * Tables: device, properties, service. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_output.h"
#include "podstream/ps_pipeline.h"
#include "podstream/ps_platform.h"
#include "podstream/ps_schema.h"

/* A growing output buffer: the check mode compares it with the file. */
typedef struct out_buf {
    char *data;
    size_t len, cap;
    bool oom;
} out_buf;

static void put(out_buf *o, const char *s, size_t n)
{
    if (o->oom)
        return;
    if (o->len + n + 1 > o->cap) {
        size_t ncap = o->cap ? o->cap * 2 : 16384;
        char *d;
        while (ncap < o->len + n + 1)
            ncap *= 2;
        d = realloc(o->data, ncap);
        if (!d) {
            o->oom = true;
            return;
        }
        o->data = d;
        o->cap = ncap;
    }
    memcpy(o->data + o->len, s, n);
    o->len += n;
    o->data[o->len] = '\0';
}

static void puts_(out_buf *o, const char *s)
{
    put(o, s, strlen(s));
}

static void printf_(out_buf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void printf_(out_buf *o, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0)
        put(o, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

static const ps_schema_table *table_named(const char *name)
{
    if (strcmp(name, "device") == 0)
        return ps_schema_device();
    if (strcmp(name, "properties") == 0)
        return ps_schema_properties();
    if (strcmp(name, "service") == 0)
        return ps_schema_service();
    /* Outputs (#16): the options every output has, its tls: mapping, and each
     * plugin's own ("output.syslog"). */
    if (strcmp(name, "output") == 0)
        return ps_output_common_options();
    if (strcmp(name, "output.tls") == 0)
        return ps_output_tls_options();
    if (strncmp(name, "output.", 7) == 0) {
        const ps_output_plugin *pl = ps_output_plugin_find(name + 7);
        return pl ? pl->options : NULL;
    }
    return NULL;
}

static void default_cell(out_buf *o, const ps_schema_field *f)
{
    if (f->type == PS_SCHEMA_OBJECT || !f->def) {
        puts_(o, "-");
        return;
    }
    if (f->type == PS_SCHEMA_PATH)
        printf_(o, "`<%s dir>/%s`", (f->flags & PS_SCHEMA_F_STATE_DEFAULT) ? "state" : "config",
                f->def);
    else
        printf_(o, "`%s`", f->def);
}

static void values_cell(out_buf *o, const ps_schema_field *f)
{
    char bounds[64];
    bool any = false;
    if (f->enum_values) {
        for (size_t i = 0; f->enum_values[i]; i++)
            printf_(o, "%s`%s`", i ? ", " : "", f->enum_values[i]);
        any = true;
    }
    ps_schema_format_bounds(f, bounds, sizeof bounds);
    if (*bounds) {
        printf_(o, "%s%s", any ? "; " : "", bounds);
        any = true;
    }
    if (f->check_doc) {
        printf_(o, "%s%s", any ? "; " : "", f->check_doc);
        any = true;
    }
    if (f->flags & PS_SCHEMA_F_NONEMPTY) {
        printf_(o, "%snot empty", any ? "; " : "");
        any = true;
    }
    if (!any)
        puts_(o, "-");
}

static bool write_table(out_buf *o, const ps_schema_table *t, const char *group)
{
    size_t rows = 0;
    puts_(o, "| Field | Type | Required | Default | Values | Description |\n"
             "|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < t->count; i++) {
        const ps_schema_field *f = &t->fields[i];
        if (group && strcmp(f->group, group) != 0)
            continue;
        if (strchr(f->description, '|')) {
            fprintf(stderr, "gen_config_doc: the description of %s.%s contains '|'\n", t->name,
                    f->name);
            return false;
        }
        printf_(o, "| `%s` | %s | %s | ", f->name, ps_schema_type_name(f->type),
                f->required ? "yes" : "no");
        default_cell(o, f);
        puts_(o, " | ");
        values_cell(o, f);
        printf_(o, " | %s |\n", f->description);
        rows++;
    }
    if (rows == 0) {
        fprintf(stderr, "gen_config_doc: table %s has no group \"%s\"\n", t->name,
                group ? group : "");
        return false;
    }
    return true;
}

static bool write_groups(out_buf *o, const ps_schema_table *t)
{
    const char *done[32];
    size_t ndone = 0;
    for (size_t i = 0; i < t->count; i++) {
        const char *g = t->fields[i].group;
        bool seen = false;
        for (size_t j = 0; j < ndone; j++)
            seen = seen || strcmp(done[j], g) == 0;
        if (seen || ndone == sizeof done / sizeof done[0])
            continue;
        done[ndone++] = g;
        printf_(o, "%s### %s\n\n", ndone > 1 ? "\n" : "", g);
        if (!write_table(o, t, g))
            return false;
    }
    return true;
}

static bool include_file(out_buf *o, const char *src_dir, const char *rel)
{
    char *path = ps_plat_path_join(src_dir, rel), *buf = NULL;
    size_t len = 0;
    ps_errmsg em;
    if (!path || ps_plat_read_file(path, 1 << 20, &buf, &len, &em) != PS_OK) {
        fprintf(stderr, "gen_config_doc: cannot include %s: %s\n", rel,
                path ? em.text : "out of memory");
        free(path);
        return false;
    }
    put(o, buf, len);
    free(buf);
    free(path);
    return true;
}

/* Expands one directive line (without its newline). */
static bool directive(out_buf *o, const char *src_dir, const char *line, size_t lineno)
{
    char verb[16] = "", arg1[256] = "", arg2[64] = "";
    const ps_schema_table *t;
    int n = sscanf(line, "@@%15s %255s %63[^@]@@", verb, arg1, arg2);
    char *at = strstr(arg1, "@@");
    if (at)
        *at = '\0';
    if (n < 2) {
        fprintf(stderr, "configuration.md.in:%zu: malformed directive\n", lineno);
        return false;
    }
    if (strcmp(verb, "INCLUDE") == 0)
        return include_file(o, src_dir, arg1);
    t = table_named(arg1);
    if (!t) {
        fprintf(stderr, "configuration.md.in:%zu: no table \"%s\"\n", lineno, arg1);
        return false;
    }
    if (strcmp(verb, "TABLE") == 0)
        return write_table(o, t, n == 3 ? arg2 : NULL);
    if (strcmp(verb, "GROUPS") == 0)
        return write_groups(o, t);
    fprintf(stderr, "configuration.md.in:%zu: unknown directive @@%s\n", lineno, verb);
    return false;
}

static bool generate(out_buf *o, const char *src_dir)
{
    char *tpl_path = ps_plat_path_join(src_dir, "docs/configuration.md.in"), *tpl = NULL;
    size_t len = 0, lineno = 0;
    ps_errmsg em;
    bool ok = true;

    if (!tpl_path || ps_plat_read_file(tpl_path, 1 << 20, &tpl, &len, &em) != PS_OK) {
        fprintf(stderr, "gen_config_doc: %s\n", tpl_path ? em.text : "out of memory");
        free(tpl_path);
        return false;
    }
    puts_(o, "<!-- Generated from docs/configuration.md.in and the schema tables in "
             "common/src/config/ps_schema_tables.c\n"
             "     by docs/gen_config_doc.c. Do not edit: edit those, then run\n"
             "     cmake --build <build dir> --target config-doc -->\n");
    for (char *p = tpl; ok && *p;) {
        char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        lineno++;
        if (n > 4 && strncmp(p, "@@", 2) == 0 && strncmp(p + n - 2, "@@", 2) == 0) {
            char line[512];
            snprintf(line, sizeof line, "%.*s", (int)n, p);
            ok = directive(o, src_dir, line, lineno);
        } else {
            put(o, p, n);
            puts_(o, "\n");
        }
        p += n + (nl ? 1 : 0);
    }
    free(tpl);
    free(tpl_path);
    if (o->oom) {
        fprintf(stderr, "gen_config_doc: out of memory\n");
        return false;
    }
    return ok;
}

static int check(const out_buf *o, const char *file, const char *build_dir)
{
    char *cur = NULL;
    size_t len = 0, line = 1;
    ps_errmsg em;
    if (ps_plat_read_file(file, 1 << 22, &cur, &len, &em) != PS_OK) {
        fprintf(stderr, "gen_config_doc: %s\n", em.text);
        return 1;
    }
    if (len == o->len && memcmp(cur, o->data, len) == 0) {
        printf("%s is up to date with the schema\n", file);
        free(cur);
        return 0;
    }
    for (size_t i = 0; i < len && i < o->len && cur[i] == o->data[i]; i++)
        line += cur[i] == '\n';
    fprintf(stderr,
            "%s is out of date with the schema tables or docs/configuration.md.in (first "
            "difference at line %zu).\n"
            "Regenerate it with:\n"
            "  cmake --build %s --target config-doc\n",
            file, line, build_dir ? build_dir : "<build dir>");
    free(cur);
    return 1;
}

/* ---- docs/processors.md: the pipeline processor reference ---------------------------
 * Written instead of configuration.md when the output (or checked) file is called
 * processors.md: every processor's options from the tables the pipeline compiler
 * checks options against (ps_pipeline_processor_doc). */

static void processor_row(out_buf *o, const ps_schema_field *f)
{
    char bounds[64];
    printf_(o, "| `%s` | ", f->name);
    if (f->enum_values) {
        puts_(o, "one of ");
        for (size_t i = 0; f->enum_values[i]; i++)
            printf_(o, "%s`%s`", i ? ", " : "", f->enum_values[i]);
    } else {
        puts_(o, f->check_doc ? f->check_doc : ps_schema_type_name(f->type));
    }
    ps_schema_format_bounds(f, bounds, sizeof bounds);
    if (*bounds)
        printf_(o, ", %s", bounds);
    printf_(o, " | %s | %s%s%s | %s |\n", f->required ? "yes" : "no", f->def ? "`" : "",
            f->def ? f->def : "-", f->def ? "`" : "", f->description);
}

static bool processor_table(out_buf *o, const ps_schema_table *t)
{
    if (t->count == 0) {
        puts_(o, "No options of its own.\n");
        return true;
    }
    puts_(o, "| Option | Type | Required | Default | Description |\n|---|---|---|---|---|\n");
    for (size_t i = 0; i < t->count; i++) {
        if (strchr(t->fields[i].description, '|')) {
            fprintf(stderr, "gen_config_doc: the description of %s.%s contains '|'\n", t->name,
                    t->fields[i].name);
            return false;
        }
        processor_row(o, &t->fields[i]);
    }
    return true;
}

static bool write_processors(out_buf *o)
{
    const ps_processor_doc *d;
    bool ok;
    puts_(o, "<!-- Generated from the processor tables (common/src/pipeline/processors/*.c,\n"
             "     common/src/pipeline/ps_processors.c) by docs/gen_config_doc.c. Do not edit:\n"
             "     edit those, then run cmake --build <build dir> --target config-doc -->\n"
             "# Processor reference\n\n"
             "Every option of every pipeline processor, from the tables the pipeline compiler\n"
             "checks options against. [Pipelines](pipelines.md) explains how pipelines run,\n"
             "field paths, templates, conditions and failures.\n\n"
             "## Pipeline options\n\n");
    ok = processor_table(o, ps_pipeline_options());
    puts_(o, "\n## Options every processor takes\n\n");
    ok = ok && processor_table(o, ps_pipeline_common_options());
    for (size_t i = 0; ok && (d = ps_pipeline_processor_doc(i)); i++) {
        printf_(o, "\n## %s\n\n%s\n\n", d->name, d->summary);
        ok = processor_table(o, d->options);
    }
    return ok && !o->oom;
}

static bool wants_processors(const char *output, const char *check_file)
{
    const char *f = output ? output : check_file;
    size_t n = f ? strlen(f) : 0;
    return n >= 13 && strcmp(f + n - 13, "processors.md") == 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: gen_config_doc --source-dir DIR [--output FILE | --check FILE "
                    "[--build-dir DIR]]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *src_dir = NULL, *output = NULL, *check_file = NULL, *build_dir = NULL;
    out_buf o = {NULL, 0, 0, false};
    int rc = 0;

    for (int i = 1; i < argc; i++) {
        const char **slot = NULL;
        if (strcmp(argv[i], "--source-dir") == 0)
            slot = &src_dir;
        else if (strcmp(argv[i], "--output") == 0)
            slot = &output;
        else if (strcmp(argv[i], "--check") == 0)
            slot = &check_file;
        else if (strcmp(argv[i], "--build-dir") == 0)
            slot = &build_dir;
        if (!slot || i + 1 >= argc)
            return usage();
        *slot = argv[++i];
    }
    if (!src_dir || (output && check_file))
        return usage();
    if (!(wants_processors(output, check_file) ? write_processors(&o) : generate(&o, src_dir))) {
        free(o.data);
        return 1;
    }
    if (check_file) {
        rc = check(&o, check_file, build_dir);
    } else if (output) {
        ps_errmsg em;
        if (ps_plat_write_file_atomic(output, o.data, o.len, 0644, false, &em) != PS_OK) {
            fprintf(stderr, "gen_config_doc: %s\n", em.text);
            rc = 1;
        }
    } else if (fwrite(o.data, 1, o.len, stdout) != o.len) {
        rc = 1;
    }
    free(o.data);
    return rc;
}
