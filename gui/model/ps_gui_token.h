/* ps_gui_token: the Token page without a window.
 *
 * A pasted token goes into a device's `properties.token` in one of three ways:
 * encrypted with the service's shared key (`secure: true`, the code of `podstream
 * encrypt`), as a reference `${VAR}` to the service's environment, or as
 * `$secret{name}`, a file in the secrets directory (written here, mode 0600, when a
 * token is given). The device's file is then saved as the editor saves it. The
 * token is never logged nor kept: the caller owns and wipes its buffer, and every
 * copy made here is wiped before it is freed. */
#ifndef PS_GUI_TOKEN_H
#define PS_GUI_TOKEN_H

#include <stdbool.h>

#include "podstream/ps_diag.h"
#include "podstream/ps_error.h"
#include "ps_gui_save.h"

typedef enum ps_gui_token_how {
    PS_GUI_TOKEN_ENCRYPT, /* enc:v1: under the shared key, secure: true */
    PS_GUI_TOKEN_ENV,     /* ${name} */
    PS_GUI_TOKEN_SECRET,  /* $secret{name} */
} ps_gui_token_how;

/* Where the configuration in config_dir keeps the shared key and the secrets (its
 * key_file and secrets_dir, absolute), as new strings the caller frees. PS_ERR_NOTFOUND
 * when the configuration cannot be read at all. */
ps_err ps_gui_token_paths(const char *config_dir, char **key_file, char **secrets_dir,
                          ps_errmsg *em);

/* Whether the key at `path` can be used to encrypt, as the service will load it:
 * PS_OK, or PS_ERR_NOTFOUND (missing), PS_ERR_PERM (group or others may read it, or it
 * cannot be read), PS_ERR_PARSE (not a key file), with what is wrong and what to do in
 * em. */
ps_err ps_gui_token_key_check(const char *path, ps_errmsg *em);

/* Creates a new key at `path` as `podstream keygen` does (mode 0600), never over an
 * existing one (PS_ERR_EXISTS). */
ps_err ps_gui_token_keygen(const char *path, ps_errmsg *em);

/* The token's value for `how` into device `index` of `file`: the device's id is read
 * from the file (the encrypted value is bound to it). `token` (borrowed; may be
 * empty for ENV, and for SECRET when the secret file exists already) and `name` (the
 * variable or secret). *value (caller frees with ps_secret_free) and *secure. */
ps_err ps_gui_token_value(ps_gui_token_how how, const char *config_dir, long long device_id,
                          const char *token, const char *name, char **value, bool *secure,
                          ps_errmsg *em);

/* Writes the token into device `index` of `file` (relative to config_dir) and saves
 * the file as ps_gui_save_device does (problems in `all`). With `loaded` (may be
 * NULL) the file must still be what was stamped then, or PS_ERR_CONFLICT and nothing
 * is written: the caller that stamped it (and the editor holding that stamp) then
 * knows exactly what the file changed from. */
ps_err ps_gui_token_apply(ps_gui_token_how how, const char *config_dir, const char *file,
                          size_t index, const ps_gui_stamp *loaded, const char *token,
                          const char *name, ps_diag *all, ps_errmsg *em);

#endif
