/* ps_gui_pipelines: the pipelines a device may use, for the editor's picker: every
 * pipeline the configuration defines, in definition order, with the problems the
 * shared loader finds in it (compiled as `podstream validate` compiles them). */
#ifndef PS_GUI_PIPELINES_H
#define PS_GUI_PIPELINES_H

#include <stddef.h>

#include "podstream/ps_error.h"

typedef struct ps_gui_pipeline_info {
    char *name;
    char *file; /* where it is defined, relative to the configuration directory */
    size_t errors;
    char *error; /* the first error ("file:line:col: message"), or NULL */
} ps_gui_pipeline_info;

typedef struct ps_gui_pipelines {
    ps_gui_pipeline_info *v;
    size_t n;
} ps_gui_pipelines;

/* Lists the pipelines of config_dir (*out owned by the caller). A configuration with
 * errors elsewhere still lists what parsed. PS_ERR_NOTFOUND when it cannot be read. */
ps_err ps_gui_pipelines_load(const char *config_dir, ps_gui_pipelines **out);
/* Frees it. Accepts NULL. */
void ps_gui_pipelines_destroy(ps_gui_pipelines *p);

/* `list` (a device's pipelines as the form holds them, "a, b") with `name` appended
 * when absent or removed when present, in a new string (caller frees); NULL when
 * out of memory. The order of the others is kept: the order is the processing order. */
char *ps_gui_pipelines_toggle(const char *list, const char *name);

/* `list` with `name` moved `delta` places (-1: one earlier, so it runs before the one
 * it passes; +1: one later), in a new string (caller frees), the items trimmed and
 * joined by ", "; unchanged when `name` is absent or already first (last). NULL when
 * out of memory. */
char *ps_gui_pipelines_move(const char *list, const char *name, int delta);

/* The place of `name` in `list` (0 first), or -1 when it is not listed. */
int ps_gui_pipelines_index(const char *list, const char *name);

#endif
