/* The Token page's logic: the value a pasted token becomes, and the device saved
 * with it. The key is loaded and used as `podstream encrypt` does, then wiped. */
#include "ps_gui_token.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_config.h"
#include "podstream/ps_platform.h"
#include "podstream/ps_secret.h"
#include "ps_gui_form.h"
#include "ps_gui_save.h"

#define TOKEN_FIELD "properties.token"
#define LETTERS     "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
#define DIGITS      "0123456789"

ps_err ps_gui_token_paths(const char *config_dir, char **key_file, char **secrets_dir,
                          ps_errmsg *em)
{
    ps_config *cfg = NULL;
    ps_diag d;
    ps_err err = PS_OK;
    ps_diag_init(&d);
    *key_file = *secrets_dir = NULL;
    if (ps_config_load_partial(config_dir, &cfg, &d) == PS_ERR_NOMEM || !cfg) {
        err = ps_errmsg_set(em, PS_ERR_NOTFOUND, "the configuration in %s cannot be read",
                            config_dir);
        goto out;
    }
    *key_file = strdup(cfg->service.key_file);
    *secrets_dir = strdup(cfg->service.secrets_dir);
    if (!*key_file || !*secrets_dir) {
        free(*key_file);
        free(*secrets_dir);
        *key_file = *secrets_dir = NULL;
        err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    }
out:
    ps_config_destroy(cfg);
    ps_diag_deinit(&d);
    return err;
}

ps_err ps_gui_token_key_check(const char *path, ps_errmsg *em)
{
    unsigned char key[PS_SECRET_KEY_BYTES];
    ps_errmsg why;
    ps_err err = ps_secret_key_load(path, key, &why);
    ps_plat_wipe(key, sizeof key);
    if (err == PS_ERR_NOTFOUND)
        return ps_errmsg_set(em, err,
                             "There is no shared key yet (%s). Create it here, or with "
                             "'podstream keygen' as the service's user.",
                             path);
    if (err == PS_ERR_PERM)
        return ps_errmsg_set(em, err,
                             "%s. Make it readable by its owner only (chmod 600 %s, owned by "
                             "the service's user), or run the app as that user.",
                             why.text, path);
    if (err != PS_OK)
        return ps_errmsg_set(em, err,
                             "%s. Restore the key from your copy: a new key would not decrypt "
                             "the tokens encrypted so far.",
                             why.text);
    return PS_OK;
}

ps_err ps_gui_token_keygen(const char *path, ps_errmsg *em)
{
    ps_err err = ps_secret_key_generate(path, false, em);
    if (err == PS_ERR_EXISTS)
        return ps_errmsg_set(em, err,
                             "%s exists already: not replaced, since the tokens encrypted under "
                             "it would stop working",
                             path);
    return err;
}

static bool one_line(const char *s)
{
    return *s && !strpbrk(s, "\r\n");
}

/* The token into the secrets directory as file `name`, mode 0600 (the service refuses
 * a looser one). */
static ps_err store_secret(const char *dir, const char *name, const char *token,
                           const char *key_file, ps_errmsg *em)
{
    char path[4096];
    bool existed;
    ps_err err = ps_plat_mkdirs(dir, 0700, em);
    if (err != PS_OK)
        return err;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    existed = ps_plat_file_exists(path);
    err = ps_plat_write_file_atomic(path, token, strlen(token), 0600, false, em);
    /* A replaced file keeps its owner. A new one made as root would be root's alone,
     * which the service could not read: it gets the owner of the shared key, the
     * other owner-only file the service reads (podstream:podstream where the package
     * made it). Best effort, as for a new device file. */
    if (err == PS_OK && !existed && ps_plat_file_exists(key_file))
        (void)ps_plat_copy_owner(key_file, path, false, NULL);
    return err;
}

static ps_err reference(ps_gui_token_how how, const char *secrets_dir, const char *key_file,
                        const char *token, const char *name, char **value, ps_errmsg *em)
{
    size_t n = strlen(name);
    char path[4096];
    ps_err err;
    if (how == PS_GUI_TOKEN_ENV &&
        (!n || strspn(name, LETTERS DIGITS "_") != n || strchr(DIGITS, name[0])))
        return ps_errmsg_set(em, PS_ERR_INVALID,
                             "an environment variable name: letters, digits and '_', not "
                             "starting with a digit");
    if (how == PS_GUI_TOKEN_SECRET &&
        (!n || strspn(name, LETTERS DIGITS "._-") != n || strspn(name, ".") == n))
        return ps_errmsg_set(em, PS_ERR_INVALID,
                             "a secret name: letters, digits, '.', '_' and '-' (it becomes a "
                             "file name in %s)",
                             secrets_dir);
    if (how == PS_GUI_TOKEN_SECRET && *token) {
        if (!one_line(token))
            return ps_errmsg_set(em, PS_ERR_INVALID, "the token must be one line");
        if ((err = store_secret(secrets_dir, name, token, key_file, em)) != PS_OK)
            return err;
    }
    snprintf(path, sizeof path, "%s/%s", secrets_dir, name);
    if (how == PS_GUI_TOKEN_SECRET && !ps_plat_file_exists(path))
        return ps_errmsg_set(em, PS_ERR_NOTFOUND,
                             "there is no secret %s in %s yet: paste the token to store it there",
                             name, secrets_dir);
    if (!(*value = malloc(n + sizeof "$secret{}")))
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    sprintf(*value, how == PS_GUI_TOKEN_ENV ? "${%s}" : "$secret{%s}", name);
    return PS_OK;
}

ps_err ps_gui_token_value(ps_gui_token_how how, const char *config_dir, long long device_id,
                          const char *token, const char *name, char **value, bool *secure,
                          ps_errmsg *em)
{
    unsigned char key[PS_SECRET_KEY_BYTES];
    char *key_file = NULL, *secrets_dir = NULL;
    ps_err err;
    *value = NULL;
    *secure = how == PS_GUI_TOKEN_ENCRYPT;
    if ((err = ps_gui_token_paths(config_dir, &key_file, &secrets_dir, em)) != PS_OK)
        goto out;
    if (how != PS_GUI_TOKEN_ENCRYPT) {
        err = reference(how, secrets_dir, key_file, token, name, value, em);
        goto out;
    }
    if (!one_line(token)) {
        err = ps_errmsg_set(em, PS_ERR_INVALID, "paste the token: one line, not empty");
        goto out;
    }
    if ((err = ps_gui_token_key_check(key_file, em)) != PS_OK ||
        (err = ps_secret_key_load(key_file, key, em)) != PS_OK)
        goto out;
    err = ps_secret_encrypt(key, device_id, TOKEN_FIELD, token, value, em);
    ps_plat_wipe(key, sizeof key);
out:
    free(key_file);
    free(secrets_dir);
    return err;
}

ps_err ps_gui_token_apply(ps_gui_token_how how, const char *config_dir, const char *file,
                          size_t index, const ps_gui_stamp *loaded, const char *token,
                          const char *name, ps_diag *all, ps_errmsg *em)
{
    ps_gui_form *f = NULL;
    ps_gui_form_field *id;
    char *value = NULL;
    bool secure = false;
    ps_err err;
    if ((err = ps_gui_form_create(&f)) != PS_OK ||
        (err = ps_gui_form_load_file(f, config_dir, file, index, em)) != PS_OK)
        goto out;
    id = ps_gui_form_find(f, "id");
    if (!id->value) {
        err = ps_errmsg_set(em, PS_ERR_INVALID, "the device has no id: set it in the editor first");
        goto out;
    }
    if ((err = ps_gui_token_value(how, config_dir, strtoll(id->value, NULL, 10), token, name,
                                  &value, &secure, em)) != PS_OK)
        goto out;
    /* secure: absent when false, so that a device that never had it is not touched. */
    if ((err = ps_gui_form_set(f, TOKEN_FIELD, value)) != PS_OK ||
        (err = ps_gui_form_set(f, "properties.secure", secure ? "true" : NULL)) != PS_OK) {
        ps_errmsg_set(em, err, "out of memory");
        goto out;
    }
    err = ps_gui_save_device(f, config_dir, file, index, loaded, all, em);
out:
    ps_secret_free(value);
    ps_gui_form_destroy(f);
    return err;
}
