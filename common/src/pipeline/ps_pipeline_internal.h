/* Internal to the pipeline subsystem: field paths, templates, compiled processors
 * and the processor table (struct ps_processor_def).
 *
 * A processor is one file in processors/ with one ps_processor_def: its name, its
 * options as a ps_schema table, and compile, run and free functions. The compiler
 * checks the options against the table (unknown names, booleans, whole numbers and
 * enums, defaults, required options) and then calls `compile` for what only the
 * processor knows (paths, templates, keys, combinations). Adding a processor is
 * one file and one row in the registry (ps_processors.c). */
#ifndef PS_PIPELINE_INTERNAL_H
#define PS_PIPELINE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "podstream/ps_diag.h"
#include "podstream/ps_expr.h"
#include "podstream/ps_mem.h"
#include "podstream/ps_pipeline.h"
#include "podstream/ps_schema.h"
#include "podstream/ps_secret.h"
#include "podstream/ps_yaml.h"

#define PL_DPATH 512 /* diagnostic field paths */

/* ---- field paths (ps_field_path.c) ------------------------------------------ */

typedef struct fseg {
    char *key; /* NULL for an index */
    long long index;
    size_t text_end; /* the path text up to and including this segment */
} fseg;

typedef struct fpath {
    fseg *segs;
    size_t n;
    char *text;
    bool meta; /* starts with _ingest: read-only metadata */
} fpath;

typedef enum walk_rc { W_FOUND, W_MISSING, W_ERROR } walk_rc;
typedef enum set_rc { S_STORED, S_KEPT_OLD, S_ERROR, S_NOMEM } set_rc;

/* Parses s[0..len): a.b.c, a["key.with.dots"], a['k'], arr[0], arr[-1]. On failure
 * *eoff is the byte offset of the problem and emsg says what it is. */
bool pl_fpath_parse(const char *s, size_t len, fpath *p, size_t *eoff, char *emsg, size_t elen);
/* Frees what *p owns and zeroes it. */
void pl_fpath_free(fpath *p);
/* Frees n paths and the array. Accepts NULL. */
void pl_fpaths_free(fpath *list, size_t n);
/* "string", "number", "boolean", "list", "mapping", "null". Static text. */
const char *pl_json_kind(const cJSON *j);
/* Walks the first `nsegs` segments of `p` from `root` (see ps_field_path.c). */
walk_rc pl_walk(cJSON *root, const fpath *p, size_t nsegs, cJSON **found, cJSON **parent, char *err,
                size_t elen);
/* The value at `p` for reading; null counts as missing. */
walk_rc pl_get(cJSON *root, const fpath *p, cJSON **found, char *err, size_t elen);
/* Whether `p` can be set; see ps_field_path.c. */
bool pl_check_set(cJSON *root, const fpath *p, cJSON **parent, char *err, size_t elen);
/* Stores `item` at `p`; on S_STORED the tree owns it, otherwise the caller does. */
set_rc pl_set_at(cJSON *root, const fpath *p, cJSON *item, bool override, bool skip_equal,
                 char *err, size_t elen);
/* True when path a is b or lies inside b. */
bool pl_path_within(const fpath *a, const fpath *b);

/* ---- text and templates (ps_template.c) ------------------------------------- */

typedef ps_buf sbuf;

bool pl_sb_put(sbuf *b, const char *s, size_t n);
bool pl_sb_str(sbuf *b, const char *s);

typedef struct tpart {
    char *lit; /* NULL for a field */
    size_t len;
    fpath path;
} tpart;

typedef struct tmpl {
    tpart *parts;
    size_t n;
} tmpl;

/* A `value` option: a constant, or a structure with templated strings in it. */
typedef enum vkind { VT_CONST, VT_TMPL, VT_ARRAY, VT_OBJECT } vkind;
typedef struct vtree vtree;
struct vtree {
    vkind kind;
    cJSON *constant;
    tmpl t;
    vtree *items;
    char **keys;
    size_t n;
};

void pl_tmpl_free(tmpl *t);
void pl_vtree_free(vtree *v);

/* ---- compiled pipelines ------------------------------------------------------ */

typedef struct ps_processor_def ps_processor_def;
typedef struct proc proc;

/* One compiled processor: what every processor has, and its own `state`. */
struct proc {
    const ps_processor_def *def;
    const char *tname; /* def's name */
    char *label;       /* "processor 2", "processor 2.on_failure[1]", "on_failure[1]" */
    char *tag;
    char *description;
    ps_expr *cond;
    bool ignore_failure, ignore_missing;
    proc *on_failure;
    size_t non_failure;
    void *state; /* def->state_size bytes, owned */
};

struct ps_pipeline {
    char *name;
    char *description;
    const char *file;
    int line, col;
    ps_expr *cond;
    bool ignore_failure;
    proc *procs;
    size_t nprocs;
    proc *on_failure;
    size_t non_failure;
    cJSON *meta; /* {"pipeline": name}: `_ingest` outside failure handlers */
};

struct ps_pipeline_chain {
    const ps_pipeline **p;
    size_t n;
};

typedef struct dev_chain {
    long long id;
    ps_pipeline_chain chain;
} dev_chain;

struct ps_pipeline_set {
    ps_pipeline **pipes;
    size_t n, cap;
    char **files;
    size_t nfiles, files_cap;
    dev_chain *devs;
    size_t ndevs;
};

void pl_procs_free(proc *ps, size_t n);
void pl_pipeline_free(ps_pipeline *pl);

/* ---- compiling (ps_pipeline_options.c) -------------------------------------- */

typedef struct cctx {
    ps_diag *diag;
    const char *file;
    ps_secret_ctx *secrets;
} cctx;

/* The options of one processor being compiled. */
typedef struct pl_opts {
    const ps_yaml_node *m;  /* the options mapping; NULL when there are none */
    const ps_yaml_node *at; /* the processor's type key, for "needs the option" */
    const char *ppath;      /* "pipelines[0].processors[1].set" */
    unsigned long bad;      /* bit i: option i of the table had a wrong value */
} pl_opts;

void pl_cerr(cctx *c, const ps_yaml_node *n, const char *path, const char *fmt, ...)
    PS_PRINTF(4, 5);
void pl_cwarn(cctx *c, const ps_yaml_node *n, const char *path, const char *fmt, ...)
    PS_PRINTF(4, 5);
/* Reports a problem at byte `off` inside scalar `n` (a condition, a path, a template). */
void pl_cerr_in(cctx *c, const ps_yaml_node *n, size_t off, const char *path, const char *what,
                const char *msg);
/* snprintf for diagnostic paths; a path too long is cut, which only shortens a message. */
void pl_pjoin(char *dst, size_t len, const char *fmt, ...) PS_PRINTF(3, 4);
/* "a, b, c" from the NULL-terminated lists a and then b (either may be NULL). */
void pl_join_words(char *buf, size_t len, const char *const *a, const char *const *b);
/* A malloc'ed copy, or NULL. */
char *pl_dupstr(const char *s);
/* Reports "out of memory" and returns false. */
bool pl_oom(cctx *c, const ps_yaml_node *n, const char *path);

/* The option `name` of `o` (NULL when absent), with its diagnostic path in sub. */
const ps_yaml_node *pl_opt(const pl_opts *o, const char *name, char *sub, size_t sublen);
/* True when the table-checked option `name` of `t` had a wrong value. */
bool pl_opt_bad(const pl_opts *o, const ps_schema_table *t, const char *name);
/* Typed option values; each reports its own error and returns false. */
bool pl_opt_text(cctx *c, const ps_yaml_node *n, const char *path, const char **out);
bool pl_opt_bool(cctx *c, const ps_yaml_node *n, const char *path, bool *out);
bool pl_opt_path(cctx *c, const ps_yaml_node *n, const char *path, bool writable, fpath *out);
bool pl_opt_cond(cctx *c, const ps_yaml_node *n, const char *path, ps_expr **out);
/* One field path or a list of them, into *fields (malloc'ed) and *nf. */
bool pl_opt_fields(cctx *c, const ps_yaml_node *n, const char *path, fpath **fields, size_t *nf);
/* Checks the options of `m` that `t` types (booleans, whole numbers, enums) into
 * `target` at their offsets, after filling in their defaults; the others are left
 * to the processor. Wrong values are reported and flagged in *bad. When the option
 * `gate` (may be NULL) is wrong nothing else is checked: the rest depends on it. */
bool pl_opts_typed(cctx *c, const ps_schema_table *t, const ps_yaml_node *m, const char *ppath,
                   const char *gate, void *target, unsigned long *bad);

bool pl_tmpl_compile(cctx *c, const ps_yaml_node *n, const char *path, const char *s, tmpl *t);
bool pl_vtree_compile(cctx *c, const ps_yaml_node *n, const char *path, vtree *v);

/* ---- running (ps_pipeline_run.c) -------------------------------------------- */

enum { R_OK, R_DROP, R_FAIL };

typedef struct rscratch {
    ps_expr_scratch *es;
    sbuf buf;
} rscratch;

typedef struct rctx {
    ps_pipeline_result *res;
    rscratch *sc;
    cJSON *event;
    const ps_pipeline *pl;
    cJSON *meta;           /* `_ingest` for the running processor; only read */
    const proc *fail_proc; /* NULL: the pipeline's own `if` failed */
    const proc *drop_proc;
    char where[200]; /* "field a.b", "target_field x", "if", or empty */
    char reason[400];
    bool nomem;
} rctx;

/* Records why processor `p` (NULL: the pipeline's `if`) failed; returns R_FAIL. */
int pl_fail(rctx *r, const proc *p, const char *opt, const char *path, const char *fmt, ...)
    PS_PRINTF(5, 6);
/* Records running out of memory; returns R_FAIL. */
int pl_nomem(rctx *r, const proc *p);
/* Reads a field of the event, or of `_ingest` for paths that start with it. */
walk_rc pl_read_field(const rctx *r, const fpath *fp, cJSON **v, char *err, size_t elen);
/* Reads the field of a processor for changing it; missing with ignore_missing is
 * R_OK with *v NULL (skip). */
int pl_field_for_update(rctx *r, const proc *p, const char *opt, const fpath *fp, cJSON **v);
/* Puts `item` at `fp` (takes it), replacing what is there unless equal, or with
 * `override` false, not null. */
int pl_store(rctx *r, const proc *p, const fpath *fp, cJSON *item, bool override, const char *opt);
/* Renders a template into the scratch buffer, valid until the next render; NULL
 * when out of memory. */
const char *pl_render(rctx *r, const tmpl *t);
/* A new JSON value from a compiled `value`; NULL when out of memory. */
cJSON *pl_vtree_render(rctx *r, const vtree *v);

/* ---- the processor table (ps_processors.c, processors/ps_proc_*.c) ---------- */

struct ps_processor_def {
    ps_processor_doc doc; /* name, summary, options table */
    size_t state_size;    /* zeroed, then the typed options are stored at their offsets */
    const char *gate;     /* an option the others depend on (see pl_opts_typed), or NULL */
    /* Compiles what the table does not type. Reports every problem; false on any. */
    bool (*compile)(cctx *c, const pl_opts *o, proc *p);
    /* R_OK, R_DROP or R_FAIL (through pl_fail/pl_nomem). */
    int (*run)(rctx *r, const proc *p);
    /* Frees what compile put in p->state (not the state itself). NULL: nothing. */
    void (*free)(void *state);
};

/* Table rows for processor options. `kind` documents what a string option holds
 * (a field path, a template, ...): the type column of the reference. */
#define PL_OPT_BOOL(nm, st, member, dflt, desc)                                                    \
    {                                                                                              \
        .name = (nm), .def = (dflt), .description = (desc), .offset = offsetof(st, member),        \
        .size = sizeof(bool), .type = PS_SCHEMA_BOOL                                               \
    }
#define PL_OPT_TEXT(nm, req, kind, dflt, desc)                                                     \
    {                                                                                              \
        .name = (nm), .def = (dflt), .check_doc = (kind), .description = (desc),                   \
        .type = PS_SCHEMA_STRING, .required = (req)                                                \
    }
#define PL_OPT_LIST(nm, req, kind, desc)                                                           \
    {                                                                                              \
        .name = (nm), .check_doc = (kind), .description = (desc), .type = PS_SCHEMA_STRLIST,       \
        .required = (req)                                                                          \
    }
#define PL_OPT_ENUM(nm, req, st, member, values, dflt, desc)                                       \
    {                                                                                              \
        .name = (nm), .def = (dflt), .enum_values = (values), .description = (desc),               \
        .offset = offsetof(st, member), .size = sizeof(int), .type = PS_SCHEMA_ENUM,               \
        .required = (req)                                                                          \
    }
#define PL_OPT_INT(nm, st, member, lo, hi, dflt, desc)                                             \
    {                                                                                              \
        .name = (nm), .def = (dflt), .min = (lo), .max = (hi), .description = (desc),              \
        .offset = offsetof(st, member), .size = sizeof(int), .type = PS_SCHEMA_INT,                \
        .has_min = true, .has_max = true                                                           \
    }
#define PL_TABLE(nm, fields)                                                                       \
    {                                                                                              \
        (nm), (fields), sizeof(fields) / sizeof((fields)[0]), NULL                                 \
    }

#define PL_KIND_PATH  "field path"
#define PL_KIND_PATHS "field path or list"
#define PL_KIND_TMPL  "template"
#define PL_KIND_VALUE "any value"

/* The registry, in the order of the reference. */
extern const ps_processor_def *const pl_processors[];
extern const size_t pl_nprocessors;
/* The options every processor takes (targets struct proc). */
const ps_schema_table *pl_common_options(void);

/* Shared by rename and copy (ps_proc_move.c) and by lowercase, uppercase and trim
 * (ps_proc_text.c); each processor still has its own file and table. */
typedef struct move_state {
    fpath field, target;
    bool override, ignore_missing;
} move_state;
bool pl_move_compile(cctx *c, const pl_opts *o, proc *p, bool rename);
int pl_move_run(rctx *r, const proc *p, bool rename);
void pl_move_free(void *state);

typedef enum text_op { TEXT_LOWER, TEXT_UPPER, TEXT_TRIM } text_op;
typedef struct text_state {
    fpath field, target;
    bool has_target, ignore_missing;
} text_state;
#define PL_TEXT_NFIELDS 3
extern const ps_schema_field
    pl_text_fields[PL_TEXT_NFIELDS]; /* field, target_field, ignore_missing */
bool pl_text_compile(cctx *c, const pl_opts *o, proc *p);
int pl_text_run(rctx *r, const proc *p, text_op op);
void pl_text_free(void *state);
bool pl_is_space(char ch);

#endif
