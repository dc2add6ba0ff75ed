/* ps_diag: a list of located diagnostics (file:line:col, field path, message).
 *
 * Validation never stops at the first problem: every loader appends to a ps_diag
 * and the caller prints them all, sorted by position. */
#ifndef PS_DIAG_H
#define PS_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "ps_compiler.h"
#include "ps_error.h"

typedef enum ps_diag_sev { PS_DIAG_ERROR, PS_DIAG_WARNING } ps_diag_sev;

typedef struct ps_diag_item {
    ps_diag_sev sev;
    char *file; /* may be NULL when the problem has no file (e.g. a missing directory) */
    int line;   /* 1-based; 0 when unknown */
    int col;    /* 1-based; 0 when unknown */
    char *path; /* field path such as devices[0].properties.type; may be NULL */
    char *msg;
} ps_diag_item;

typedef struct ps_diag {
    ps_diag_item *items;
    size_t count;
    size_t cap;
    size_t errors;
    bool oom; /* an item could not be recorded; report at least that */
} ps_diag;

/* Caller-owned; init before use, deinit frees every item. */
void ps_diag_init(ps_diag *d);
void ps_diag_deinit(ps_diag *d);

/* Appends a copy of file/path and the formatted message. Never fails visibly: on
 * allocation failure it sets d->oom (and still counts an error). */
void ps_diag_add(ps_diag *d, ps_diag_sev sev, const char *file, int line, int col, const char *path,
                 const char *fmt, ...) PS_PRINTF(7, 8);
void ps_diag_addv(ps_diag *d, ps_diag_sev sev, const char *file, int line, int col,
                  const char *path, const char *fmt, va_list ap) PS_PRINTF(7, 0);

/* Stable sort by file, line, column. */
void ps_diag_sort(ps_diag *d);

/* Writes one line per item: "file:line:col: error: path: message". */
void ps_diag_print(const ps_diag *d, FILE *out);

/* Formats item i into buf the way ps_diag_print does (without newline). */
void ps_diag_format(const ps_diag_item *it, char *buf, size_t len);

static inline bool ps_diag_has_errors(const ps_diag *d)
{
    return d->errors > 0 || d->oom;
}

#endif
