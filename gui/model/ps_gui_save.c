/* Saving the device editor's work: validated first, written atomically with the
 * previous file kept as .bak, never over a file that changed since it was read. */
#include "ps_gui_save.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_config.h"
#include "podstream/ps_loader.h"
#include "podstream/ps_platform.h"

/* What the service's reload checks, and the tokens' form: not whether a token
 * resolves here, since the service's environment and secrets are not the app's
 * (Check shows validate's verdict on that). */
#define SAVE_FLAGS (PS_LOADER_RELOAD | PS_LOADER_TOKENS)

static uint64_t fnv1a(const char *p, size_t n)
{
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static void stamp_of(const char *data, size_t len, ps_gui_stamp *out)
{
    *out = (ps_gui_stamp){true, len, fnv1a(data, len)};
}

void ps_gui_stamp_take(const char *config_dir, const char *file, ps_gui_stamp *out)
{
    char path[4096], *data = NULL;
    size_t len = 0;
    ps_errmsg em;
    snprintf(path, sizeof path, "%s/%s", config_dir, file);
    memset(out, 0, sizeof *out);
    if (ps_plat_read_file(path, PS_YAML_MAX_FILE_BYTES, &data, &len, &em) == PS_OK)
        stamp_of(data, len, out);
    free(data);
}

bool ps_gui_stamp_equal(const ps_gui_stamp *a, const ps_gui_stamp *b)
{
    return a->exists == b->exists && a->size == b->size && a->hash == b->hash;
}

/* Reads `file` and checks it against `loaded`. *data owned by the caller. */
static ps_err read_current(const char *path, const char *file, const ps_gui_stamp *loaded,
                           char **data, size_t *len, ps_errmsg *em)
{
    ps_gui_stamp now;
    ps_err err = ps_plat_read_file(path, PS_YAML_MAX_FILE_BYTES, data, len, em);
    if (err != PS_OK)
        return err;
    stamp_of(*data, *len, &now);
    if (loaded && !ps_gui_stamp_equal(loaded, &now))
        return ps_errmsg_set(em, PS_ERR_CONFLICT, "%s changed on disk since the editor read it",
                             file);
    return PS_OK;
}

/* The device's errors after validation, PS_ERR_INVALID with their count when any. */
static ps_err verdict(ps_gui_form *f, const char *config_dir, const char *file, size_t index,
                      ps_diag *all, ps_errmsg *em)
{
    ps_err err = ps_gui_form_validate(f, config_dir, file, index, SAVE_FLAGS, all);
    if (err != PS_OK)
        return ps_errmsg_set(em, err, "the device cannot be checked: %s", ps_strerror(err));
    if (f->errors > 0)
        return ps_errmsg_set(em, PS_ERR_INVALID, "not saved: the device has %zu error%s", f->errors,
                             f->errors == 1 ? "" : "s");
    return PS_OK;
}

ps_err ps_gui_save_device(ps_gui_form *f, const char *config_dir, const char *file, size_t index,
                          const ps_gui_stamp *loaded, ps_diag *all, ps_errmsg *em)
{
    char path[4096], *data = NULL, *text = NULL;
    size_t len = 0;
    ps_err err;
    snprintf(path, sizeof path, "%s/%s", config_dir, file);
    /* The conflict first: validating a file that is not the one to be written is moot. */
    if ((err = read_current(path, file, loaded, &data, &len, em)) != PS_OK ||
        (err = verdict(f, config_dir, file, index, all, em)) != PS_OK ||
        (err = ps_gui_save_patch(f, file, data, len, index, &text, em)) != PS_OK)
        goto out;
    err = ps_plat_write_file_atomic(path, text, strlen(text), 0640, true, em);
out:
    free(data);
    free(text);
    return err;
}

ps_err ps_gui_save_new(ps_gui_form *f, const char *config_dir, const char *file, ps_diag *all,
                       ps_errmsg *em)
{
    char path[4096], *yaml = NULL, *text = NULL;
    ps_err err;
    snprintf(path, sizeof path, "%s/%s", config_dir, file);
    if (ps_plat_file_exists(path))
        return ps_errmsg_set(em, PS_ERR_EXISTS, "%s exists: choose another name", file);
    if ((err = verdict(f, config_dir, NULL, 0, all, em)) != PS_OK)
        goto out;
    if (!(yaml = ps_gui_form_yaml(f, 4)) || !(text = malloc(strlen(yaml) + sizeof "devices:\n"))) {
        err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
        goto out;
    }
    yaml[2] = '-'; /* the first line's indent "    " becomes the item's "  - " */
    sprintf(text, "devices:\n%s", yaml);
    err = ps_plat_create_exclusive(path, text, strlen(text), 0640, em);
    if (err == PS_OK) {
        /* Made as root, a file root's own group cannot be read by the service: it
         * gets the owner and group of its folder instead (root:podstream), as a
         * replaced file keeps its own (ps_plat_write_file_atomic). Best effort. */
        char *dir = ps_plat_dir_name(path);
        if (dir)
            (void)ps_plat_copy_owner(dir, path, false, NULL);
        free(dir);
    }
out:
    free(yaml);
    free(text);
    return err;
}

/* The file holds this one device and nothing else. */
static bool only_device(const char *file, const char *data, size_t len)
{
    ps_yaml_doc *doc = NULL;
    ps_diag d;
    const ps_yaml_node *root, *seq;
    bool only = false;
    ps_diag_init(&d);
    if (ps_yaml_load_buffer(file, data, len, &doc, &d) == PS_OK && (root = ps_yaml_doc_root(doc))) {
        seq = root->kind == PS_YAML_MAP ? ps_yaml_map_get(root, "devices") : root;
        if (!seq)
            only = true; /* the single-device shape */
        else
            only = seq->kind == PS_YAML_SEQ && seq->count == 1 && (root == seq || root->count == 1);
    }
    ps_yaml_doc_destroy(doc);
    ps_diag_deinit(&d);
    return only;
}

ps_err ps_gui_save_delete(const char *config_dir, const char *file, size_t index,
                          const ps_gui_stamp *loaded, ps_errmsg *em)
{
    char path[4096], bak[4200], *data = NULL, *text = NULL;
    size_t len = 0;
    ps_err err;
    snprintf(path, sizeof path, "%s/%s", config_dir, file);
    if ((err = read_current(path, file, loaded, &data, &len, em)) != PS_OK)
        goto out;
    if (index == 0 && only_device(file, data, len)) {
        /* The file goes with its last device, kept as .bak like any other save. */
        snprintf(bak, sizeof bak, "%s.bak", path);
        if (ps_plat_file_exists(bak) && (err = ps_plat_remove(bak, em)) != PS_OK)
            goto out;
        err = ps_plat_rename_new(path, bak, em);
        goto out;
    }
    if ((err = ps_gui_save_cut(file, data, len, index, &text, em)) == PS_OK)
        err = ps_plat_write_file_atomic(path, text, strlen(text), 0640, true, em);
out:
    free(data);
    free(text);
    return err;
}

long long ps_gui_save_next_id(const char *config_dir)
{
    ps_config *cfg = NULL;
    ps_diag d;
    long long max = 0;
    ps_diag_init(&d);
    if (ps_config_load_partial(config_dir, &cfg, &d) != PS_ERR_NOMEM && cfg)
        for (size_t i = 0; i < cfg->ndevices; i++)
            if (cfg->devices[i].id > max)
                max = cfg->devices[i].id;
    ps_config_destroy(cfg);
    ps_diag_deinit(&d);
    return max + 1;
}
