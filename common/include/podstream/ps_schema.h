/* ps_schema: configuration fields described once, as tables.
 *
 * Each table lists the keys of one YAML mapping: name, type, default, whether it is
 * required, bounds, allowed values, description, the group it is shown in, and where
 * the parsed value goes in a C struct. One generic routine parses a mapping against a
 * table (type checks, bounds, defaults, unknown keys with a did-you-mean); the same
 * tables free and compare the structs, generate docs/configuration.md and drive the
 * GUI form, so a field added here is parsed, checked, documented and editable.
 * (The model is Fluent Bit's config maps.) */
#ifndef PS_SCHEMA_H
#define PS_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ps_diag.h"
#include "ps_error.h"
#include "ps_yaml.h"

typedef enum ps_schema_type {
    PS_SCHEMA_INT,      /* whole number in an int or a long long (see `size`) */
    PS_SCHEMA_BOOL,     /* bool; true/false (also yes/no, on/off) */
    PS_SCHEMA_STRING,   /* char *, owned by the struct */
    PS_SCHEMA_STRLIST,  /* char ** plus a size_t count at count_offset */
    PS_SCHEMA_ENUM,     /* one of enum_values: an int index, or a char * copy (F_ENUM_STRING) */
    PS_SCHEMA_OBJECT,   /* a nested mapping described by `object`, embedded at `offset` */
    PS_SCHEMA_PATH,     /* char *, made absolute against the configuration directory */
    PS_SCHEMA_SIZE,     /* uint64_t bytes, written 512, 64KiB, 20GB */
    PS_SCHEMA_DURATION, /* int64_t milliseconds, written 500ms, 30s, 5m, 1h30m, 2d */
} ps_schema_type;

enum {
    PS_SCHEMA_F_SECRET = 1u << 0,        /* a credential: never echoed, masked in the GUI */
    PS_SCHEMA_F_NONEMPTY = 1u << 1,      /* an empty string (or list item) is an error */
    PS_SCHEMA_F_ENUM_STRING = 1u << 2,   /* ENUM stored as a char * copy of the value */
    PS_SCHEMA_F_STATE_DEFAULT = 1u << 3, /* PATH: a relative default lives in the state dir */
    PS_SCHEMA_F_POS = 1u << 4,           /* record where the value was, at pos_offset */
    PS_SCHEMA_F_ITEMS_POS = 1u << 5,     /* STRLIST: a ps_config_pos array at items_pos_offset */
};

/* A custom check of a string value (after the type check). Returns false and puts
 * the complete message in `why` (e.g. "must be a ws:// or wss:// URL") when the
 * value is refused. The message must not contain the value of a F_SECRET field. */
typedef bool (*ps_schema_check_fn)(const char *value, char *why, size_t whylen);

typedef struct ps_schema_table ps_schema_table;

typedef struct ps_schema_field {
    const char *name;   /* YAML key */
    const char *group;  /* heading it is documented under: "Device", "Connection", ... */
    const char *def;    /* default, written as in YAML; NULL when there is none */
    long long min, max; /* INT value; SIZE bytes; DURATION milliseconds */
    const char *const *enum_values; /* ENUM: NULL-terminated, index = stored value */
    /* ENUM: NULL-terminated pairs {alias, value}: an alias is accepted and stored
     * as its value (documented in `description`); NULL: none. */
    const char *const *enum_aliases;
    const ps_schema_table *object; /* OBJECT */
    ps_schema_check_fn check;      /* STRING: extra validation, or NULL */
    const char *check_doc;         /* what `check` accepts, for the reference */
    const char *description;       /* one or two sentences for admins */
    /* Storage in the target struct. */
    size_t offset;
    size_t size;             /* sizeof the stored value */
    size_t count_offset;     /* STRLIST: size_t item count */
    size_t pos_offset;       /* F_POS: ps_config_pos */
    size_t items_pos_offset; /* F_ITEMS_POS: ps_config_pos *, one per item */
    ps_schema_type type;
    unsigned flags; /* PS_SCHEMA_F_* */
    bool required;
    bool has_min, has_max;
} ps_schema_field;

struct ps_schema_table {
    const char *name; /* "device", "properties", "service" */
    const ps_schema_field *fields;
    size_t count;
    /* Extra advice for an unknown key that is not a misspelling (e.g. "devices"
     * in podstream.yml), or NULL. Returns static text or NULL. */
    const char *(*unknown_hint)(const char *key);
};

/* The tables. Static data, never NULL. */
const ps_schema_table *ps_schema_device(void);     /* one entry of devices: */
const ps_schema_table *ps_schema_properties(void); /* devices[].properties */
const ps_schema_table *ps_schema_service(void);    /* podstream.yml */

/* Where the parser reports and how it resolves paths. Caller-owned; all strings
 * borrowed. `file` is also stored in recorded positions, so it must outlive the
 * target struct. */
typedef struct ps_schema_ctx {
    ps_diag *diag;
    const char *file;       /* name shown in diagnostics, e.g. "devices/pod.yml" */
    const char *config_dir; /* relative PATH values are resolved against it */
    const char *state_dir;  /* relative defaults of F_STATE_DEFAULT paths */
} ps_schema_ctx;

/* Parses the mapping `map` against `t` into `target`, which the caller zeroed.
 * Absent fields get their defaults; every problem is added to ctx->diag at its
 * file:line:col with `path` (e.g. "devices[0]") as the field path prefix. Returns
 * PS_OK when nothing was wrong, PS_ERR_INVALID when errors were reported (the
 * target then holds what could be parsed), PS_ERR_NOMEM. Free the target with
 * ps_schema_free in every case. */
ps_err ps_schema_parse(const ps_schema_table *t, const ps_yaml_node *map, void *target,
                       const char *path, ps_schema_ctx *ctx);

/* Fills every field of a zeroed `target` with its default, as for an empty
 * mapping but without complaining about required fields. */
ps_err ps_schema_defaults(const ps_schema_table *t, void *target, ps_schema_ctx *ctx);

/* Frees what the table's fields own in `target` (strings, lists, positions) and
 * zeroes those fields. Accepts NULL target. */
void ps_schema_free(const ps_schema_table *t, void *target);

/* True when every field of `t` is equal in a and b (positions are not compared:
 * moving a device within its file changes nothing about how it streams). */
bool ps_schema_equal(const ps_schema_table *t, const void *a, const void *b);

/* The field called `name`, or NULL. */
const ps_schema_field *ps_schema_find(const ps_schema_table *t, const char *name);

/* "integer", "boolean", "string", "list of strings", "enum", "mapping", "path",
 * "size", "duration": the type column of the reference. Static text. */
const char *ps_schema_type_name(ps_schema_type type);

/* What a node is, with an article, for "expected ..., got <this>": "a string",
 * "a number", "a boolean", "a list", "a mapping", "an empty value". Static text. */
const char *ps_schema_describe(const ps_yaml_node *n);

/* Writes the field's bounds ("1..64", "1MiB..1GiB", ">= 0", "" for none) into buf. */
void ps_schema_format_bounds(const ps_schema_field *f, char *buf, size_t len);

/* ---- value syntax, shared with the CLI and the GUI ------------------------- */

/* "512", "512B", "64KiB", "64K" (= KiB), "20GB" (powers of 1000), "1TiB" -> bytes.
 * Units are case-insensitive; a space may separate number and unit.
 * PS_ERR_INVALID for other text, PS_ERR_RANGE past UINT64_MAX. */
ps_err ps_schema_parse_size(const char *text, uint64_t *out);

/* The shortest exact spelling, binary units first: 67108864 -> "64MiB",
 * 20000000000 -> "20GB", 1500 -> "1500B", 0 -> "0". */
void ps_schema_format_size(uint64_t bytes, char *buf, size_t len);

/* Checks used by the tables, exposed for the GUI and the CLI. */
bool ps_schema_check_ws_url(const char *value, char *why, size_t whylen);
bool ps_schema_check_proxy_url(const char *value, char *why, size_t whylen);

#endif
