/* ps_gui_form: the device editor's form, generated from the schema table.
 *
 * One field per row of ps_schema_device() (the rows of `properties` flattened as
 * "properties.endpoint" ...), each with its type, default and help text from the
 * table and the value as the admin wrote it. Validation is `podstream validate`'s
 * own: the device's mapping is written into a copy of its file at the place the
 * YAML tree recorded, and ps_loader_load_sources checks that copy beside every
 * other file of the directory with validate's flags. Each problem then goes back
 * to the field its path names, so the form shows exactly what validate prints. */
#ifndef PS_GUI_FORM_H
#define PS_GUI_FORM_H

#include <stdbool.h>
#include <stddef.h>

#include "podstream/ps_diag.h"
#include "podstream/ps_error.h"
#include "podstream/ps_mem.h"
#include "podstream/ps_schema.h"
#include "podstream/ps_yaml.h"

typedef struct ps_gui_form_field {
    const ps_schema_field *f; /* the schema row: type, def, description, flags */
    char path[64];            /* "name", "properties.endpoint" */
    char *value;              /* as written (a list: items joined by ", "); NULL: absent */
    bool plain;               /* written without quotes, so typed as YAML types it */
    char *error;              /* the first error validation found here, or NULL */
    char *warning;            /* likewise for a warning */
} ps_gui_form_field;

typedef struct ps_gui_form {
    ps_gui_form_field *v;
    size_t n;
    char **general; /* problems of the device not tied to one field ("devices[1]: ...") */
    size_t ngeneral;
    size_t errors, warnings; /* of this device, after ps_gui_form_validate */
} ps_gui_form;

/* A form with every field of the device table, all absent. *out owned by caller. */
ps_err ps_gui_form_create(ps_gui_form **out);
/* Frees it. Accepts NULL. */
void ps_gui_form_destroy(ps_gui_form *f);

/* A copy of the values of `f` (not its problems) in a new form, so that a worker
 * can validate while the admin goes on typing. *out owned by the caller. */
ps_err ps_gui_form_clone(const ps_gui_form *f, ps_gui_form **out);

/* After the app itself rewrote the device's file (the Token page writes `token` and
 * `secure`): every field the rewrite changed (its value in `before`, the device as
 * the file held it, differs from `after`, as the file holds it now) takes the file's
 * new value in `f`, so the editor shows it and its next Save neither undoes it nor
 * sees a change of its own; the admin's edits of other fields stay. *changed (may be
 * NULL) counts the fields taken. */
ps_err ps_gui_form_follow(ps_gui_form *f, const ps_gui_form *before, const ps_gui_form *after,
                          size_t *changed);

/* Fills the values from device `index` of `file` (relative to config_dir), as
 * ps_gui_form_load does. PS_ERR_NOTFOUND when the file has no such device, the
 * loader's error when it cannot be read or parsed (the reason in em). */
ps_err ps_gui_form_load_file(ps_gui_form *f, const char *config_dir, const char *file, size_t index,
                             ps_errmsg *em);

/* Forgets what the last validation found (errors, warnings, general). */
void ps_gui_form_clear_problems(ps_gui_form *f);

/* The field at `path`, or NULL. Borrowed. */
ps_gui_form_field *ps_gui_form_find(ps_gui_form *f, const char *path);

/* Fills the values from a device mapping as parsed (`map` is borrowed). A value
 * that is not a scalar (or, for a list, not a list of scalars) is left absent. */
ps_err ps_gui_form_load(ps_gui_form *f, const ps_yaml_node *map);

/* Sets the field at `path` to `text` as typed (copied; NULL or "" makes it absent,
 * so its default applies). Text of string and path fields is written quoted;
 * other types are written plain, as an admin would type them in the file.
 * PS_ERR_NOTFOUND for an unknown path. */
ps_err ps_gui_form_set(ps_gui_form *f, const char *path, const char *text);

/* The device as a YAML block mapping, every line indented by `indent` spaces, in
 * a new string (caller frees). */
char *ps_gui_form_yaml(const ps_gui_form *f, int indent);

/* Appends the value of `ff` (not absent) to `b` as YAML: a scalar plain or quoted as
 * ps_gui_form_set decided; a list as a flow sequence, or, with block_indent >= 0, as
 * block items "- x\n", the first at the current column and the others indented by
 * block_indent spaces. */
ps_err ps_gui_form_put_value(ps_buf *b, const ps_gui_form_field *ff, int block_indent);

/* Validates the device as `podstream validate` would, with the loader `flags`
 * (validate uses PS_LOADER_TOKENS | PS_LOADER_RESOLVE): it stands in for device
 * `index` of `file` ("devices/pod.yml", relative to config_dir), or, with file
 * NULL, is added as a new file. Every problem of the whole directory is appended
 * to `all`; the device's own go to its fields (error, warning) and `general`.
 * PS_ERR_INVALID when the device's file cannot be patched (a flow mapping). */
ps_err ps_gui_form_validate(ps_gui_form *f, const char *config_dir, const char *file, size_t index,
                            unsigned flags, ps_diag *all);

#endif
