/* ps_yaml: a read-only YAML document tree that remembers where every node was.
 *
 * libyaml gives events; configuration needs a tree with line and column on each
 * node so that validation can point at the exact spot. Aliases share the anchored
 * node (no copy); the whole tree lives in one arena freed by ps_yaml_doc_destroy. */
#ifndef PS_YAML_H
#define PS_YAML_H

#include <stdbool.h>
#include <stddef.h>

#include "ps_diag.h"
#include "ps_error.h"

typedef enum ps_yaml_kind { PS_YAML_SCALAR, PS_YAML_SEQ, PS_YAML_MAP } ps_yaml_kind;

typedef struct ps_yaml_node ps_yaml_node;
struct ps_yaml_node {
    ps_yaml_kind kind;
    int line;             /* 1-based */
    int col;              /* 1-based */
    bool plain;           /* scalar written without quotes (only plain scalars are typed) */
    const char *value;    /* scalar text, NUL-terminated */
    size_t len;           /* scalar byte length */
    size_t count;         /* sequence items or mapping pairs */
    ps_yaml_node **items; /* sequence items, or mapping values */
    ps_yaml_node **keys;  /* mapping keys (always scalars) */
};

typedef struct ps_yaml_doc ps_yaml_doc;

/* Limits that keep hostile files from exhausting memory. */
#define PS_YAML_MAX_FILE_BYTES (16u * 1024u * 1024u)
#define PS_YAML_MAX_DEPTH      64
#define PS_YAML_MAX_WEIGHT     1000000u /* nodes counted with every alias expanded */

/* Parses `len` bytes. `name` is the file name used in diagnostics and is copied.
 * On success *out is a new document owned by the caller (root may be NULL for an
 * empty file). On failure returns PS_ERR_PARSE (or NOMEM/RANGE) with every problem
 * appended to `diag`, and *out is NULL. */
ps_err ps_yaml_load_buffer(const char *name, const char *buf, size_t len, ps_yaml_doc **out,
                           ps_diag *diag);

/* Reads and parses a file; `name` (NULL = path) is what diagnostics show. */
ps_err ps_yaml_load_file(const char *path, const char *name, ps_yaml_doc **out, ps_diag *diag);

/* Frees the document and every node in it. Accepts NULL. */
void ps_yaml_doc_destroy(ps_yaml_doc *doc);

/* Borrowed pointers, valid until the document is destroyed. */
const ps_yaml_node *ps_yaml_doc_root(const ps_yaml_doc *doc);
const char *ps_yaml_doc_name(const ps_yaml_doc *doc);

/* The value of `key` in a mapping, or NULL (also NULL when `map` is not a mapping). */
const ps_yaml_node *ps_yaml_map_get(const ps_yaml_node *map, const char *key);

/* True for a plain empty scalar, `~` or null/Null/NULL. */
bool ps_yaml_is_null(const ps_yaml_node *n);

/* Typed readers of plain scalars. Quoted scalars are strings and fail with
 * PS_ERR_INVALID, as does text that is not the type. */
ps_err ps_yaml_to_int(const ps_yaml_node *n, long long *out);
ps_err ps_yaml_to_double(const ps_yaml_node *n, double *out);
ps_err ps_yaml_to_bool(const ps_yaml_node *n, bool *out);

/* What a node looks like, for messages: "string", "number", "boolean", "null",
 * "list" or "mapping". */
const char *ps_yaml_describe(const ps_yaml_node *n);

#endif
