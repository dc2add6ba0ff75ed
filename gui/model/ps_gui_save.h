/* ps_gui_save: the device editor's changes written back into the configuration.
 *
 * An edit changes only the values the admin changed: each is replaced in the file's
 * text at the place the YAML tree recorded (a new key is added at the end of its
 * mapping, a cleared one loses its line), so comments, key order and formatting of
 * everything else stay byte for byte. The result is validated as `podstream
 * validate` would before it is written, atomically, the previous file kept as
 * `<file>.bak`. A file that changed on disk since the form was loaded is not
 * overwritten unless the caller says so.
 *
 * Saving refuses what the running service's reload would refuse; a token reference
 * that does not resolve in the app's own environment (the service's ${VAR} or
 * $secret{} the desktop user lacks) does not stop it. */
#ifndef PS_GUI_SAVE_H
#define PS_GUI_SAVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "podstream/ps_diag.h"
#include "podstream/ps_error.h"
#include "ps_gui_form.h"

/* What a file was when it was read: compared before writing over it. */
typedef struct ps_gui_stamp {
    bool exists;
    uint64_t size;
    uint64_t hash; /* FNV-1a of the bytes */
} ps_gui_stamp;

/* Stamps `file` (relative to config_dir) as it is now; exists is false when it cannot
 * be read. */
void ps_gui_stamp_take(const char *config_dir, const char *file, ps_gui_stamp *out);

/* True when both stamps name the same content. */
bool ps_gui_stamp_equal(const ps_gui_stamp *a, const ps_gui_stamp *b);

/* `text` (len bytes, a device file named `name`) with device `index` changed to
 * the values of `f` where they differ from the file's; every other byte as it was.
 * *out is a new NUL-terminated string owned by the caller. PS_ERR_UNSUPPORTED (the
 * reason and the field in em) when a changed value is written in a form that is not
 * patched in place (a block scalar, an anchor, a flow mapping); PS_ERR_NOTFOUND when
 * the file has no such device. */
ps_err ps_gui_save_patch(const ps_gui_form *f, const char *name, const char *text, size_t len,
                         size_t index, char **out, ps_errmsg *em);

/* The same text without device `index` (its lines, from its "-" to its last value).
 * PS_ERR_UNSUPPORTED when it is the only device of its list, or not a block item. */
ps_err ps_gui_save_cut(const char *name, const char *text, size_t len, size_t index, char **out,
                       ps_errmsg *em);

/* Validates the device (ps_gui_form_validate with the reload's flags and token
 * checks without resolving, problems on `f` and in `all`) and, when it has no
 * error, writes it into device `index` of `file`.
 * With `loaded` (may be NULL) the file must still be what was stamped then, or
 * PS_ERR_CONFLICT and nothing is written. PS_ERR_INVALID when the device has errors
 * (the count in em). The previous file is kept as `<file>.bak`. */
ps_err ps_gui_save_device(ps_gui_form *f, const char *config_dir, const char *file, size_t index,
                          const ps_gui_stamp *loaded, ps_diag *all, ps_errmsg *em);

/* Validates `f` as a new device and writes it as a file of its own, `file`
 * ("devices/<name>.yml", relative to config_dir), never over an existing one
 * (PS_ERR_EXISTS). */
ps_err ps_gui_save_new(ps_gui_form *f, const char *config_dir, const char *file, ps_diag *all,
                       ps_errmsg *em);

/* Removes device `index` from `file`, the previous file kept as `<file>.bak`; the
 * last device of a file that holds nothing else takes the file with it (renamed to
 * `<file>.bak`). PS_ERR_CONFLICT as for ps_gui_save_device. */
ps_err ps_gui_save_delete(const char *config_dir, const char *file, size_t index,
                          const ps_gui_stamp *loaded, ps_errmsg *em);

/* One more than the highest device id of the configuration (1 when it has none). */
long long ps_gui_save_next_id(const char *config_dir);

#endif
