/* gen_cli_doc: writes the man pages and the shell completions of `podstream` from
 * the tables the program itself runs on, so that they cannot disagree with it:
 *
 *   gen_cli_doc --man-dir DIR --completion-dir DIR
 *
 * writes DIR/podstream.1, one DIR/podstream-<command>.1 per command (name, summary,
 * usage, description, options by section and epilog of its ps_opt_cmd),
 * DIR/podstream.yml.5 (every field of the schema tables) and, in the completion
 * directory, podstream.bash, _podstream (zsh) and podstream.fish
 * (gen_cli_complete.c). The build runs it as the target docs-gen. */
#include "gen_cli_doc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "podstream/ps_platform.h"
#include "podstream/ps_schema.h"

const ps_opt_cmd *const gen_commands[] = {
#define PS_COMMAND(fn, spec) &spec,
#include "commands.h"
#undef PS_COMMAND
};
const size_t gen_ncommands = sizeof gen_commands / sizeof gen_commands[0];

#define MANUAL "podstream manual"

void gen_put(gen_out *o, const char *s, size_t n)
{
    if (!o->oom && ps_buf_append(&o->b, s, n) != PS_OK)
        o->oom = true;
}

void gen_puts(gen_out *o, const char *s)
{
    gen_put(o, s, strlen(s));
}

void gen_printf(gen_out *o, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    int n;
    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0)
        gen_put(o, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

size_t gen_actions(const ps_opt_cmd *c, char words[][32], size_t max)
{
    size_t n = 0;
    for (const char *p = c->usage; p && *p && n < max;) {
        size_t len = 0;
        while (p[len] >= 'a' && p[len] <= 'z' && len < 31)
            len++;
        if (len > 0 && (p[len] == ' ' || p[len] == '\n' || p[len] == '\0')) {
            memcpy(words[n], p, len);
            words[n++][len] = '\0';
        }
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    return n;
}

gen_value gen_value_of(const ps_opt *o)
{
    if (o->type == PS_OPT_FLAG)
        return GEN_VALUE_NONE;
    if (o->type == PS_OPT_CHOICE)
        return GEN_VALUE_CHOICE;
    if (o->arg && strcmp(o->arg, "DIR") == 0)
        return GEN_VALUE_DIR;
    if (o->arg && (strcmp(o->arg, "PATH") == 0 || strcmp(o->arg, "FILE") == 0))
        return GEN_VALUE_FILE;
    return GEN_VALUE_WORD;
}

void gen_summary(const ps_opt *o, const char *drop, char *buf, size_t len)
{
    const char *subst = ps_plat_default_config_dir();
    size_t n = 0;
    for (const char *p = o->help; *p && *p != '\n' && n + 1 < len; p++) {
        if (strncmp(p, "{config_dir}", 12) == 0) {
            for (const char *s = subst; *s && n + 1 < len; s++)
                buf[n++] = *s;
            p += 11;
        } else if (!strchr(drop, *p)) {
            buf[n++] = *p;
        }
    }
    buf[n] = '\0';
}

/* ---- roff ------------------------------------------------------------------ */

/* Text for a fill-mode or no-fill line: backslashes escaped, '-' at the start of a
 * word a minus sign (options can be copied), `code` in bold, {config_dir}
 * substituted, and a '.' or '\'' that would start a request made plain. */
static void roff_text(gen_out *o, const char *s, size_t n)
{
    bool bold = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i], prev = i ? s[i - 1] : ' ';
        if (i == 0 && (c == '.' || c == '\''))
            gen_puts(o, "\\&");
        if (c == '\\') {
            gen_puts(o, "\\e");
        } else if (c == '-' && strchr(" [(|-=/,", prev)) {
            gen_puts(o, "\\-");
        } else if (c == '`') {
            gen_puts(o, bold ? "\\fR" : "\\fB");
            bold = !bold;
        } else if (strncmp(s + i, "{config_dir}", 12) == 0 && i + 12 <= n) {
            roff_text(o, ps_plat_default_config_dir(), strlen(ps_plat_default_config_dir()));
            i += 11;
        } else {
            gen_put(o, &c, 1);
        }
    }
    if (bold)
        gen_puts(o, "\\fR");
}

/* A paragraph laid out in columns (a line indented, or two spaces inside a line)
 * keeps its lines; any other is filled by the formatter. */
static bool is_laid_out(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == ' ' && (i == 0 || p[i - 1] == '\n'))
            return true;
        if (i > 0 && p[i] == ' ' && p[i - 1] == ' ' && p[i + 1 < n ? i + 1 : i] != ' ')
            return true;
    }
    return false;
}

/* Writes help text: one roff input line per text line, blank lines between
 * paragraphs as .PP (or `para` when given). */
static void roff_block(gen_out *o, const char *text, const char *para)
{
    const char *p = text;
    while (p && *p) {
        const char *end = strstr(p, "\n\n");
        size_t n = end ? (size_t)(end - p) : strlen(p);
        bool nf = is_laid_out(p, n);
        if (nf)
            gen_puts(o, ".nf\n");
        for (size_t i = 0; i < n;) {
            const char *nl = memchr(p + i, '\n', n - i);
            size_t len = nl ? (size_t)(nl - (p + i)) : n - i;
            roff_text(o, p + i, len);
            gen_puts(o, "\n");
            i += len + 1;
        }
        if (nf)
            gen_puts(o, ".fi\n");
        p = end ? end + 2 : NULL;
        if (p && *p)
            gen_puts(o, para ? para : ".PP\n");
    }
}

static void roff_header(gen_out *o, const char *title, int section, const char *name,
                        const char *summary)
{
    gen_printf(o,
               ".\\\" Generated by docs/gen_cli_doc.c from the option and schema tables.\n"
               ".\\\" Do not edit: edit those, then build the target docs-gen.\n"
               ".TH %s %d \"\" \"podstream %s\" \"%s\"\n.SH NAME\n",
               title, section, PS_VERSION, MANUAL);
    roff_text(o, name, strlen(name));
    gen_puts(o, " \\- ");
    roff_text(o, summary, strlen(summary));
    gen_puts(o, "\n");
}

static void roff_option(gen_out *o, const ps_opt *opt)
{
    gen_puts(o, ".TP\n");
    if (opt->letter)
        gen_printf(o, "\\fB\\-%c\\fR, ", opt->letter);
    gen_printf(o, "\\fB\\-\\-%s\\fR", opt->name);
    if (opt->arg) {
        gen_puts(o, " \\fI");
        roff_text(o, opt->arg, strlen(opt->arg));
        gen_puts(o, "\\fR");
    }
    gen_puts(o, "\n");
    roff_block(o, opt->help, ".br\n");
}

static void roff_synopsis(gen_out *o, const ps_opt_cmd *c)
{
    gen_puts(o, ".SH SYNOPSIS\n.nf\n");
    for (const char *p = c->usage; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (*p != ' ')
            gen_printf(o, "\\fBpodstream %s\\fR ", c->name);
        roff_text(o, p, n);
        gen_puts(o, "\n");
        p = nl ? nl + 1 : NULL;
    }
    gen_puts(o, ".fi\n");
}

static void man_command(gen_out *o, const ps_opt_cmd *c)
{
    char title[64], name[64];
    snprintf(name, sizeof name, "podstream-%s", c->name);
    snprintf(title, sizeof title, "PODSTREAM\\-%s", c->name);
    for (char *t = title; *t; t++)
        *t = (char)(*t >= 'a' && *t <= 'z' ? *t - 'a' + 'A' : *t);
    roff_header(o, title, 1, name, c->summary);
    roff_synopsis(o, c);
    if (c->description) {
        gen_puts(o, ".SH DESCRIPTION\n");
        roff_block(o, c->description, NULL);
    }
    gen_puts(o, ".SH OPTIONS\n");
    for (size_t i = 0; i < c->nopts; i++) {
        if (c->opts[i].section)
            gen_printf(o, ".SS %s\n", c->opts[i].section);
        roff_option(o, &c->opts[i]);
    }
    if (c->nopts && c->opts[0].section)
        gen_puts(o, ".SS Other\n");
    for (size_t i = 0; i < sizeof ps_opt_builtins / sizeof ps_opt_builtins[0]; i++)
        roff_option(o, &ps_opt_builtins[i]);
    if (c->epilog) {
        gen_puts(o, ".SH NOTES\n");
        roff_block(o, c->epilog, NULL);
    }
    gen_puts(o, ".SH SEE ALSO\n\\fBpodstream\\fR(1), \\fBpodstream.yml\\fR(5)\n");
}

static void man_main(gen_out *o)
{
    roff_header(o, "PODSTREAM", 1, "podstream",
                "stream Proofpoint On Demand log events into a local database");
    gen_puts(o, ".SH SYNOPSIS\n.nf\n\\fBpodstream\\fR \\fIcommand\\fR [\\fIoptions\\fR]\n"
                "\\fBpodstream help\\fR [\\fIcommand\\fR]\n\\fBpodstream \\-\\-version\\fR\n"
                ".fi\n.SH DESCRIPTION\n"
                "podstream streams the events of Proofpoint On Demand's Log API over\n"
                "WebSocket, runs them through pipelines and stores them in an SQLite\n"
                "database, which the other commands read. Each command has its own page.\n"
                ".SH COMMANDS\n");
    for (size_t i = 0; i < gen_ncommands; i++) {
        gen_printf(o, ".TP\n\\fBpodstream\\-%s\\fR(1)\n", gen_commands[i]->name);
        roff_text(o, gen_commands[i]->summary, strlen(gen_commands[i]->summary));
        gen_puts(o, "\n");
    }
    gen_puts(o, ".SH ENVIRONMENT\n.TP\n\\fBPODSTREAM_CONFIG_DIR\\fR\n"
                "The configuration directory when \\fB\\-c\\fR is not given.\n.SH FILES\n");
    gen_printf(o,
               ".TP\n\\fI%s/podstream.yml\\fR\nService settings; see "
               "\\fBpodstream.yml\\fR(5).\n.TP\n\\fI%s/devices/\\fR, \\fI%s/pipelines/\\fR\n"
               "Devices and pipelines, one or more per file.\n.TP\n\\fI%s/podstream.db\\fR\n"
               "The database (the default of the \\fBdatabase\\fR setting).\n",
               ps_plat_default_config_dir(), ps_plat_default_config_dir(),
               ps_plat_default_config_dir(), ps_plat_default_state_dir());
    gen_puts(o, ".SH EXIT STATUS\nEach command's page lists its exit codes.\n.SH SEE ALSO\n");
    for (size_t i = 0; i < gen_ncommands; i++)
        gen_printf(o, "\\fBpodstream\\-%s\\fR(1), ", gen_commands[i]->name);
    gen_puts(o, "\\fBpodstream.yml\\fR(5)\n");
}

/* ---- podstream.yml(5) ------------------------------------------------------- */

static void schema_field(gen_out *o, const ps_schema_field *f)
{
    char bounds[64];
    gen_printf(o, ".TP\n\\fB%s\\fR (%s%s", f->name, ps_schema_type_name(f->type),
               f->required ? ", required" : "");
    if (f->def && f->type != PS_SCHEMA_OBJECT) {
        gen_puts(o, "; default \\fI");
        if (f->type == PS_SCHEMA_PATH)
            gen_printf(o, "<%s dir>/", (f->flags & PS_SCHEMA_F_STATE_DEFAULT) ? "state" : "config");
        roff_text(o, f->def, strlen(f->def));
        gen_puts(o, "\\fR");
    }
    gen_puts(o, ")\n");
    roff_text(o, f->description, strlen(f->description));
    gen_puts(o, "\n");
    ps_schema_format_bounds(f, bounds, sizeof bounds);
    if (f->enum_values) {
        gen_puts(o, ".br\nOne of:");
        for (size_t i = 0; f->enum_values[i]; i++)
            gen_printf(o, "%s \\fB%s\\fR", i ? "," : "", f->enum_values[i]);
        gen_puts(o, ".\n");
    }
    if (*bounds) {
        gen_puts(o, ".br\nRange: ");
        roff_text(o, bounds, strlen(bounds));
        gen_puts(o, ".\n");
    }
    if (f->check_doc) {
        gen_puts(o, ".br\nAccepts: ");
        roff_text(o, f->check_doc, strlen(f->check_doc));
        gen_puts(o, ".\n");
    }
}

/* One .SS per group of the table, in the order of each group's first field. */
static void schema_table(gen_out *o, const ps_schema_table *t)
{
    for (size_t i = 0; i < t->count; i++) {
        const char *g = t->fields[i].group;
        size_t j = 0;
        while (j < i && strcmp(t->fields[j].group, g) != 0)
            j++;
        if (j < i)
            continue; /* the group was written with its first field */
        gen_printf(o, ".SS %s\n", g);
        for (size_t k = i; k < t->count; k++)
            if (strcmp(t->fields[k].group, g) == 0)
                schema_field(o, &t->fields[k]);
    }
}

static void man_config(gen_out *o)
{
    const char *dir = ps_plat_default_config_dir();
    roff_header(o, "PODSTREAM.YML", 5, "podstream.yml", "podstream configuration");
    gen_printf(o,
               ".SH SYNOPSIS\n.nf\n\\fI%s/podstream.yml\\fR\n\\fI%s/devices/*.yml\\fR\n"
               "\\fI%s/pipelines/*.yml\\fR\n.fi\n.SH DESCRIPTION\n"
               "podstream reads one directory of YAML files: \\fBpodstream.yml\\fR holds the\n"
               "service settings, every file in \\fBdevices/\\fR a \\fBdevices:\\fR list, every\n"
               "file in \\fBpipelines/\\fR a \\fBpipelines:\\fR list. Every command takes\n"
               "\\fB\\-c\\fR \\fIDIR\\fR for another directory. Relative paths are relative to\n"
               "the configuration directory. Durations are written 500ms, 30s, 5m, 1h30m, 2d;\n"
               "sizes 512, 64KiB, 20GB. After each change run \\fBpodstream validate\\fR.\n"
               "The pipeline processors are described in /usr/share/doc/podstream.\n"
               ".SH SERVICE SETTINGS\nThe keys of \\fBpodstream.yml\\fR; each is optional.\n",
               dir, dir, dir);
    schema_table(o, ps_schema_service());
    gen_puts(o, ".SH DEVICES\nThe keys of each entry of a \\fBdevices:\\fR list.\n");
    schema_table(o, ps_schema_device());
    gen_puts(o, ".SH DEVICE PROPERTIES\nThe keys of a device's \\fBproperties\\fR.\n");
    schema_table(o, ps_schema_properties());
    gen_puts(o, ".SH SEE ALSO\n\\fBpodstream\\fR(1), \\fBpodstream\\-validate\\fR(1), "
                "\\fBpodstream\\-config\\fR(1)\n");
}

/* ---- files -------------------------------------------------------------------- */

typedef void (*writer_fn)(gen_out *o);

static bool write_out(const char *dir, const char *name, gen_out *o)
{
    char *path = ps_plat_path_join(dir, name);
    ps_errmsg em;
    bool ok =
        !o->oom && path &&
        ps_plat_write_file_atomic(path, o->b.p ? o->b.p : "", o->b.len, 0644, false, &em) == PS_OK;
    if (!ok)
        fprintf(stderr, "gen_cli_doc: %s: %s\n", name, o->oom || !path ? "out of memory" : em.text);
    free(path);
    ps_buf_deinit(&o->b);
    o->oom = false;
    return ok;
}

static bool write_man(const char *dir)
{
    gen_out o = {{NULL, 0, 0}, false};
    bool ok = true;
    char name[64];
    man_main(&o);
    ok = write_out(dir, "podstream.1", &o) && ok;
    for (size_t i = 0; i < gen_ncommands; i++) {
        man_command(&o, gen_commands[i]);
        snprintf(name, sizeof name, "podstream-%s.1", gen_commands[i]->name);
        ok = write_out(dir, name, &o) && ok;
    }
    man_config(&o);
    return write_out(dir, "podstream.yml.5", &o) && ok;
}

static bool write_completions(const char *dir)
{
    static const struct {
        const char *name;
        writer_fn fn;
    } files[] = {
        {"podstream.bash", gen_bash}, {"_podstream", gen_zsh}, {"podstream.fish", gen_fish}};
    gen_out o = {{NULL, 0, 0}, false};
    bool ok = true;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        files[i].fn(&o);
        ok = write_out(dir, files[i].name, &o) && ok;
    }
    return ok;
}

int main(int argc, char **argv)
{
    const char *man_dir = NULL, *comp_dir = NULL;
    ps_errmsg em;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--man-dir") == 0)
            man_dir = argv[i + 1];
        else if (strcmp(argv[i], "--completion-dir") == 0)
            comp_dir = argv[i + 1];
    }
    if (!man_dir || !comp_dir || argc != 5) {
        fprintf(stderr, "usage: gen_cli_doc --man-dir DIR --completion-dir DIR\n");
        return 2;
    }
    if (ps_plat_mkdirs(man_dir, 0755, &em) != PS_OK ||
        ps_plat_mkdirs(comp_dir, 0755, &em) != PS_OK) {
        fprintf(stderr, "gen_cli_doc: %s\n", em.text);
        return 1;
    }
    return write_man(man_dir) && write_completions(comp_dir) ? 0 : 1;
}
