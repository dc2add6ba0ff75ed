/* podstream-gui's saving without a window: an edit changes the admin's commented
 * file only where a value changed (byte for byte elsewhere), is validated first,
 * written with the previous file kept as .bak, refused over a file that changed on
 * disk since it was read; and devices are added, duplicated, deleted, disabled.
 * The Token page's model: a token encrypted into a device decrypts with the key, and
 * references and secret files are written as the service reads them. */
#include <glib.h>
#include <glib/gstdio.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sys/stat.h>
#ifndef _WIN32
#include <unistd.h>
#endif

#include "gui_fixture.h"
#include "podstream/ps_loader.h"
#include "podstream/ps_secret.h"
#include "ps_gui_form.h"
#include "ps_gui_pipelines.h"
#include "ps_gui_save.h"
#include "ps_gui_token.h"

#define FILE_ "devices/10-office.yml"

static const char original[] = "# Office devices: kept by hand, and edited by podstream-gui too.\n"
                               "devices:\n"
                               "  # The main cluster.\n"
                               "  - id: 1\n"
                               "    name: office-message   # shown by status\n"
                               "    description: 'Message events, it''s the main one'\n"
                               "    type: proofpoint\n"
                               "    tags: [email, \"pod\"]   # a flow list\n"
                               "    pipelines:\n"
                               "      - normalize          # first\n"
                               "    properties:\n"
                               "      cluster: \"acme_hosted\"\n"
                               "      token: \"${POD_TOKEN}\"\n"
                               "      type: message\n"
                               "\n"
                               "  # Mail log, second.\n"
                               "  - id: 2\n"
                               "    name: office-maillog\n"
                               "    type: proofpoint\n"
                               "    properties:\n"
                               "      cluster: acme_hosted   # same cluster\n"
                               "      token: ${POD_TOKEN}\n"
                               "      type: maillog\n"
                               "      workers: 4\n"
                               "# Pipelines beside the devices.\n"
                               "pipelines:\n"
                               "  - name: normalize\n"
                               "    processors: []\n";

/* A copy of tests/data/gui/save in a new directory; *state is its path. */
static int setup(void **state)
{
    static const char *const files[] = {"podstream.yml", FILE_};
    char *dir = g_dir_make_tmp("ps_gui_save_XXXXXX", NULL);
    char *sub = g_build_filename(dir, "devices", NULL);
    assert_int_equal(g_mkdir_with_parents(sub, 0700), 0);
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char *from = g_build_filename(getenv("PS_TEST_DATA"), "gui", "save", files[i], NULL);
        char *to = g_build_filename(dir, files[i], NULL), *text = NULL;
        gsize len = 0;
        assert_true(g_file_get_contents(from, &text, &len, NULL));
        assert_true(g_file_set_contents(to, text, (gssize)len, NULL));
        g_free(text);
        g_free(from);
        g_free(to);
    }
    g_setenv("POD_TOKEN", "test-token", TRUE);
    g_free(sub);
    *state = dir;
    return 0;
}

static int teardown(void **state)
{
    gui_fixture_remove_tree(*state);
    g_free(*state);
    return 0;
}

static char *slurp(const char *dir, const char *file)
{
    char *p = g_build_filename(dir, file, NULL), *text = NULL;
    if (!g_file_get_contents(p, &text, NULL, NULL))
        text = NULL;
    g_free(p);
    return text;
}

static ps_gui_form *load(const char *dir, const char *file, size_t index)
{
    ps_gui_form *f = NULL;
    ps_errmsg em;
    assert_int_equal(ps_gui_form_create(&f), PS_OK);
    assert_int_equal(ps_gui_form_load_file(f, dir, file, index, &em), PS_OK);
    return f;
}

/* The number of errors `podstream validate` finds in dir. */
static size_t validate_errors(const char *dir)
{
    ps_diag d;
    ps_config *cfg = NULL;
    ps_pipeline_set *set = NULL;
    size_t n;
    ps_diag_init(&d);
    ps_loader_load(dir, PS_LOADER_TOKENS | PS_LOADER_RESOLVE, &cfg, &set, &d);
    n = d.errors;
    ps_config_destroy(cfg);
    ps_pipeline_set_destroy(set);
    ps_diag_deinit(&d);
    return n;
}

static void test_patch_keeps_everything_else(void **state)
{
    ps_gui_form *f = load(*state, FILE_, 0);
    ps_errmsg em;
    char *out = NULL;
    /* Unchanged: the very same bytes. */
    assert_int_equal(ps_gui_save_patch(f, FILE_, original, strlen(original), 0, &out, &em), PS_OK);
    assert_string_equal(out, original);
    free(out);
    /* Retyping a value as it was changes nothing either. */
    assert_int_equal(ps_gui_form_set(f, "name", "office-message"), PS_OK);
    assert_int_equal(ps_gui_save_patch(f, FILE_, original, strlen(original), 0, &out, &em), PS_OK);
    assert_string_equal(out, original);
    free(out);
    assert_int_equal(ps_gui_form_set(f, "name", "office-msg"), PS_OK);
    assert_int_equal(ps_gui_form_set(f, "description", ""), PS_OK);
    assert_int_equal(ps_gui_form_set(f, "tags", "email, pod, office"), PS_OK);
    assert_int_equal(ps_gui_form_set(f, "pipelines", "normalize, enrich"), PS_OK);
    assert_int_equal(ps_gui_form_set(f, "status", "false"), PS_OK);
    assert_int_equal(ps_gui_form_set(f, "properties.reuse", "false"), PS_OK);
    assert_int_equal(ps_gui_save_patch(f, FILE_, original, strlen(original), 0, &out, &em), PS_OK);
    assert_string_equal(out, "# Office devices: kept by hand, and edited by podstream-gui too.\n"
                             "devices:\n"
                             "  # The main cluster.\n"
                             "  - id: 1\n"
                             "    name: \"office-msg\"   # shown by status\n"
                             "    type: proofpoint\n"
                             "    tags: [\"email\", \"pod\", \"office\"]   # a flow list\n"
                             "    pipelines:\n"
                             "      - normalize\n"
                             "      - enrich\n"
                             "    properties:\n"
                             "      cluster: \"acme_hosted\"\n"
                             "      token: \"${POD_TOKEN}\"\n"
                             "      type: message\n"
                             "      reuse: false\n"
                             "    status: false\n"
                             "\n"
                             "  # Mail log, second.\n"
                             "  - id: 2\n"
                             "    name: office-maillog\n"
                             "    type: proofpoint\n"
                             "    properties:\n"
                             "      cluster: acme_hosted   # same cluster\n"
                             "      token: ${POD_TOKEN}\n"
                             "      type: maillog\n"
                             "      workers: 4\n"
                             "# Pipelines beside the devices.\n"
                             "pipelines:\n"
                             "  - name: normalize\n"
                             "    processors: []\n");
    free(out);
    ps_gui_form_destroy(f);
}

static void test_patch_second_device(void **state)
{
    ps_gui_form *f = load(*state, FILE_, 1);
    ps_errmsg em;
    char *out = NULL;
    GString *want = g_string_new(original);
    assert_int_equal(ps_gui_form_set(f, "properties.workers", "8"), PS_OK);
    assert_int_equal(ps_gui_form_set(f, "properties.cluster", "acme_eu"), PS_OK);
    assert_int_equal(ps_gui_form_set(f, "id", ""), PS_OK); /* the item's first key */
    assert_int_equal(ps_gui_save_patch(f, FILE_, original, strlen(original), 1, &out, &em), PS_OK);
    g_string_replace(want, "      workers: 4\n", "      workers: 8\n", 1);
    g_string_replace(want, "cluster: acme_hosted   # same", "cluster: \"acme_eu\"   # same", 1);
    g_string_replace(want, "  - id: 2\n    name: office-maillog", "  - name: office-maillog", 1);
    assert_string_equal(out, want->str);
    g_string_free(want, TRUE);
    free(out);
    ps_gui_form_destroy(f);
}

static void test_save_validates_and_keeps_bak(void **state)
{
    const char *dir = *state;
    ps_gui_form *f = load(dir, FILE_, 1);
    ps_gui_stamp st;
    ps_diag all;
    ps_errmsg em;
    char *now, *bak;
    ps_diag_init(&all);
    ps_gui_stamp_take(dir, FILE_, &st);
    assert_true(st.exists);
    /* A mistake: validate's error on the field, and the file untouched. */
    assert_int_equal(ps_gui_form_set(f, "properties.workers", "100"), PS_OK);
    assert_int_equal(ps_gui_save_device(f, dir, FILE_, 1, &st, &all, &em), PS_ERR_INVALID);
    assert_non_null(ps_gui_form_find(f, "properties.workers")->error);
    now = slurp(dir, FILE_);
    assert_string_equal(now, original);
    g_free(now);
    assert_null(slurp(dir, FILE_ ".bak"));
    /* Fixed: written, the previous file kept, and the directory valid. The token's
     * variable is the service's: unset here, it does not stop the save. */
    ps_diag_deinit(&all);
    ps_diag_init(&all);
    g_unsetenv("POD_TOKEN");
    assert_int_equal(ps_gui_form_set(f, "properties.workers", "8"), PS_OK);
    assert_int_equal(ps_gui_save_device(f, dir, FILE_, 1, &st, &all, &em), PS_OK);
    g_setenv("POD_TOKEN", "test-token", TRUE);
    now = slurp(dir, FILE_);
    bak = slurp(dir, FILE_ ".bak");
    assert_string_equal(bak, original);
    assert_non_null(strstr(now, "      workers: 8\n# Pipelines beside"));
    assert_int_equal(strlen(now), strlen(original));
    assert_int_equal(validate_errors(dir), 0);
    g_free(now);
    g_free(bak);
    /* The stamp taken before is stale now: the next save asks first. */
    assert_int_equal(ps_gui_form_set(f, "properties.workers", "6"), PS_OK);
    assert_int_equal(ps_gui_save_device(f, dir, FILE_, 1, &st, &all, &em), PS_ERR_CONFLICT);
    assert_non_null(strstr(em.text, "changed on disk"));
    now = slurp(dir, FILE_);
    assert_non_null(strstr(now, "workers: 8"));
    g_free(now);
    /* The admin said overwrite: no stamp. */
    assert_int_equal(ps_gui_save_device(f, dir, FILE_, 1, NULL, &all, &em), PS_OK);
    now = slurp(dir, FILE_);
    assert_non_null(strstr(now, "workers: 6"));
    g_free(now);
    ps_diag_deinit(&all);
    ps_gui_form_destroy(f);
}

#ifndef _WIN32 /* owners are ACLs there, inherited from the folder */
/* Owner, group and mode of dir/file as "uid:gid mode". */
static void owner_of(const char *dir, const char *file, char *out, size_t len)
{
    char *p = g_build_filename(dir, file, NULL);
    struct stat st;
    assert_int_equal(g_stat(p, &st), 0);
    snprintf(out, len, "%u:%u %o", (unsigned)st.st_uid, (unsigned)st.st_gid,
             (unsigned)(st.st_mode & 0777));
    g_free(p);
}

/* An admin saving as root: an edited file stays the service's account's, a new
 * one gets its folder's owner and group (root:podstream where the package made
 * it), so the service can still read them. */
static void test_save_as_root_keeps_owners(void **state)
{
    const char *dir = *state;
    ps_gui_form *f = NULL, *copy = NULL;
    ps_diag all;
    ps_errmsg em;
    char *file = NULL, *sub = NULL;
    char id[32], who[64];
    /* Before any allocation: skip() does not return, which the analyzer cannot see. */
    if (geteuid() != 0)
        skip();
    file = g_build_filename(dir, FILE_, NULL);
    sub = g_build_filename(dir, "devices", NULL);
    ps_diag_init(&all);
    assert_int_equal(chown(file, 65534, 65534), 0);
    assert_int_equal(chown(sub, 0, 65534), 0);
    f = load(dir, FILE_, 1);
    assert_int_equal(ps_gui_form_set(f, "properties.workers", "8"), PS_OK);
    assert_int_equal(ps_gui_save_device(f, dir, FILE_, 1, NULL, &all, &em), PS_OK);
    owner_of(dir, FILE_, who, sizeof who);
    assert_string_equal(who, "65534:65534 640");
    assert_int_equal(ps_gui_form_clone(f, &copy), PS_OK);
    snprintf(id, sizeof id, "%lld", ps_gui_save_next_id(dir));
    assert_int_equal(ps_gui_form_set(copy, "id", id), PS_OK);
    assert_int_equal(ps_gui_form_set(copy, "name", "office-copy"), PS_OK);
    assert_int_equal(ps_gui_save_new(copy, dir, "devices/office-copy.yml", &all, &em), PS_OK);
    owner_of(dir, "devices/office-copy.yml", who, sizeof who);
    assert_string_equal(who, "0:65534 640");
    ps_gui_form_destroy(copy);
    ps_gui_form_destroy(f);
    ps_diag_deinit(&all);
    g_free(file);
    g_free(sub);
}
#endif

#ifndef _WIN32
/* A secret file the app makes as root gets the shared key's owner, so the service
 * can read it; one it replaces keeps its own. */
static void test_secret_as_root_gets_key_owner(void **state)
{
    const char *dir = *state;
    char *key_file = NULL, *secrets = NULL;
    char who[64];
    ps_diag all;
    ps_errmsg em;
    if (geteuid() != 0)
        skip();
    ps_diag_init(&all);
    assert_int_equal(ps_gui_token_paths(dir, &key_file, &secrets, &em), PS_OK);
    assert_int_equal(ps_gui_token_keygen(key_file, &em), PS_OK);
    assert_int_equal(chown(key_file, 65534, 65533), 0);
    assert_int_equal(ps_gui_token_apply(PS_GUI_TOKEN_SECRET, dir, FILE_, 0, NULL, "s3cr3t-c",
                                        "pod-c", &all, &em),
                     PS_OK);
    owner_of(dir, "secrets/pod-c", who, sizeof who);
    assert_string_equal(who, "65534:65533 600");
    /* replaced: its owner stays, even when the key's has changed since */
    assert_int_equal(chown(key_file, 0, 0), 0);
    assert_int_equal(ps_gui_token_apply(PS_GUI_TOKEN_SECRET, dir, FILE_, 0, NULL, "s3cr3t-d",
                                        "pod-c", &all, &em),
                     PS_OK);
    owner_of(dir, "secrets/pod-c", who, sizeof who);
    assert_string_equal(who, "65534:65533 600");
    g_free(key_file);
    g_free(secrets);
    ps_diag_deinit(&all);
}
#endif

static void test_add_duplicate_disable_delete(void **state)
{
    const char *dir = *state;
    ps_gui_form *f = load(dir, FILE_, 0), *copy = NULL;
    ps_diag all;
    ps_errmsg em;
    char id[32], *text;
    ps_gui_stamp st;
    ps_diag_init(&all);
    /* Duplicate: the same settings under a new id and name, in a file of its own. */
    assert_int_equal(ps_gui_save_next_id(dir), 3);
    assert_int_equal(ps_gui_form_clone(f, &copy), PS_OK);
    snprintf(id, sizeof id, "%lld", ps_gui_save_next_id(dir));
    assert_int_equal(ps_gui_form_set(copy, "id", id), PS_OK);
    assert_int_equal(ps_gui_form_set(copy, "name", "office-copy"), PS_OK);
    assert_int_equal(ps_gui_save_new(copy, dir, "devices/office-copy.yml", &all, &em), PS_OK);
    assert_int_equal(ps_gui_save_next_id(dir), 4);
    assert_int_equal(validate_errors(dir), 0);
    assert_int_equal(ps_gui_save_new(copy, dir, "devices/office-copy.yml", &all, &em),
                     PS_ERR_EXISTS);
    /* A new device with the same id as another is validate's error, not saved. */
    assert_int_equal(ps_gui_form_set(copy, "name", "office-other"), PS_OK);
    assert_int_equal(ps_gui_save_new(copy, dir, "devices/other.yml", &all, &em), PS_ERR_INVALID);
    assert_null(slurp(dir, "devices/other.yml"));
    /* Disable: one line added, the rest as it was. */
    assert_int_equal(ps_gui_form_set(f, "status", "false"), PS_OK);
    assert_int_equal(ps_gui_save_device(f, dir, FILE_, 0, NULL, &all, &em), PS_OK);
    text = slurp(dir, FILE_);
    assert_non_null(strstr(text, "      type: message\n    status: false\n\n  # Mail log"));
    assert_int_equal(strlen(text), strlen(original) + strlen("    status: false\n"));
    g_free(text);
    /* Delete the second device: its lines go, the comment before it stays. */
    ps_gui_stamp_take(dir, FILE_, &st);
    assert_int_equal(ps_gui_save_delete(dir, FILE_, 1, &st, &em), PS_OK);
    text = slurp(dir, FILE_);
    assert_null(strstr(text, "office-maillog"));
    assert_non_null(strstr(text, "  # Mail log, second.\n# Pipelines beside the devices.\n"));
    g_free(text);
    assert_int_equal(validate_errors(dir), 0);
    /* The last device of a file that holds nothing else takes the file along. */
    assert_int_equal(ps_gui_save_delete(dir, "devices/office-copy.yml", 0, NULL, &em), PS_OK);
    assert_null(slurp(dir, "devices/office-copy.yml"));
    text = slurp(dir, "devices/office-copy.yml.bak");
    assert_non_null(strstr(text, "office-copy"));
    g_free(text);
    /* The only device of a file with pipelines beside it: the admin edits that file. */
    assert_int_equal(ps_gui_save_delete(dir, FILE_, 0, NULL, &em), PS_ERR_UNSUPPORTED);
    ps_diag_deinit(&all);
    ps_gui_form_destroy(copy);
    ps_gui_form_destroy(f);
}

/* The token field of device `index` as the file now says. */
static char *token_of(const char *dir, size_t index, bool *secure)
{
    ps_gui_form *f = load(dir, FILE_, index);
    char *v = g_strdup(ps_gui_form_find(f, "properties.token")->value);
    const char *s = ps_gui_form_find(f, "properties.secure")->value;
    *secure = s && strcmp(s, "true") == 0;
    ps_gui_form_destroy(f);
    return v;
}

static void test_token_encrypt(void **state)
{
    const char *dir = *state;
    char *key_file = NULL, *secrets = NULL, *value, *plain = NULL, *text;
    unsigned char key[32];
    ps_diag all;
    ps_errmsg em;
    bool secure;
    ps_diag_init(&all);
    assert_int_equal(ps_gui_token_paths(dir, &key_file, &secrets, &em), PS_OK);
    /* No key yet: said so, with what to do; then created as keygen does. */
    assert_int_equal(ps_gui_token_key_check(key_file, &em), PS_ERR_NOTFOUND);
    assert_non_null(strstr(em.text, "podstream keygen"));
    assert_int_equal(
        ps_gui_token_apply(PS_GUI_TOKEN_ENCRYPT, dir, FILE_, 1, NULL, "s3cr3t-tok", "", &all, &em),
        PS_ERR_NOTFOUND);
    assert_int_equal(ps_gui_token_keygen(key_file, &em), PS_OK);
    assert_int_equal(ps_gui_token_keygen(key_file, &em), PS_ERR_EXISTS);
    /* A key others may read is refused, with the fix. */
    assert_int_equal(chmod(key_file, 0644), 0);
    assert_int_equal(ps_gui_token_key_check(key_file, &em), PS_ERR_PERM);
    assert_non_null(strstr(em.text, "chmod 600"));
    assert_int_equal(chmod(key_file, 0600), 0);
    assert_int_equal(ps_gui_token_key_check(key_file, &em), PS_OK);
    /* Encrypted into device 2 (index 1): it decrypts with the key to the token. */
    assert_int_equal(
        ps_gui_token_apply(PS_GUI_TOKEN_ENCRYPT, dir, FILE_, 1, NULL, "s3cr3t-tok", "", &all, &em),
        PS_OK);
    value = token_of(dir, 1, &secure);
    assert_true(secure);
    assert_true(g_str_has_prefix(value, "enc:v1:"));
    assert_int_equal(ps_secret_key_load(key_file, key, &em), PS_OK);
    assert_int_equal(ps_secret_decrypt(key, 2, "properties.token", value, &plain, &em), PS_OK);
    assert_string_equal(plain, "s3cr3t-tok");
    ps_secret_free(plain);
    /* Bound to its device: not for device 1. */
    assert_int_not_equal(ps_secret_decrypt(key, 1, "properties.token", value, &plain, &em), PS_OK);
    text = slurp(dir, FILE_);
    assert_null(strstr(text, "s3cr3t"));
    assert_non_null(strstr(text, "      cluster: acme_hosted   # same cluster\n"));
    assert_non_null(strstr(text, "      secure: true\n"));
    g_free(text);
    g_free(value);
    g_free(key_file);
    g_free(secrets);
    ps_diag_deinit(&all);
}

static void test_token_references(void **state)
{
    const char *dir = *state;
    char *value, *stored, *p;
    ps_diag all;
    ps_errmsg em;
    bool secure;
    struct stat st;
    ps_diag_init(&all);
    assert_int_equal(
        ps_gui_token_apply(PS_GUI_TOKEN_ENV, dir, FILE_, 0, NULL, "", "POD_B", &all, &em), PS_OK);
    value = token_of(dir, 0, &secure);
    assert_string_equal(value, "${POD_B}");
    assert_false(secure);
    g_free(value);
    assert_int_equal(ps_gui_token_apply(PS_GUI_TOKEN_ENV, dir, FILE_, 0, NULL, "", "1X", &all, &em),
                     PS_ERR_INVALID);
    assert_int_equal(
        ps_gui_token_apply(PS_GUI_TOKEN_SECRET, dir, FILE_, 0, NULL, "", "..", &all, &em),
        PS_ERR_INVALID);
    /* No secret file and no token to store: said so. */
    assert_int_equal(
        ps_gui_token_apply(PS_GUI_TOKEN_SECRET, dir, FILE_, 0, NULL, "", "pod-b", &all, &em),
        PS_ERR_NOTFOUND);
    /* A token stored as the secret file, owner-only, and referenced. */
    assert_int_equal(ps_gui_token_apply(PS_GUI_TOKEN_SECRET, dir, FILE_, 0, NULL, "s3cr3t-b",
                                        "pod-b", &all, &em),
                     PS_OK);
    value = token_of(dir, 0, &secure);
    assert_string_equal(value, "$secret{pod-b}");
    stored = slurp(dir, "secrets/pod-b");
    assert_string_equal(stored, "s3cr3t-b");
    p = g_build_filename(dir, "secrets", "pod-b", NULL);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    g_free(p);
    g_free(stored);
    g_free(value);
    assert_int_equal(validate_errors(dir), 0);
    ps_diag_deinit(&all);
}

/* The picker lists every pipeline with the loader's first error in it, and toggles a
 * name in a device's list without reordering the others. */
static void test_pipeline_picker(void **state)
{
    const char *dir = *state;
    char *p = g_build_filename(dir, "pipelines", NULL), *t;
    ps_gui_pipelines *pl = NULL;
    assert_int_equal(g_mkdir_with_parents(p, 0700), 0);
    g_free(p);
    p = g_build_filename(dir, "pipelines", "20-bad.yml", NULL);
    assert_true(g_file_set_contents(p,
                                    "- name: tidy\n  processors:\n    - nosuch: {}\n"
                                    "- name: fine\n  processors: []\n",
                                    -1, NULL));
    g_free(p);
    assert_int_equal(ps_gui_pipelines_load(dir, &pl), PS_OK);
    assert_int_equal(pl->n, 3);
    assert_string_equal(pl->v[0].name, "normalize");
    assert_string_equal(pl->v[0].file, FILE_);
    assert_int_equal(pl->v[0].errors, 0);
    assert_string_equal(pl->v[1].name, "tidy");
    assert_true(pl->v[1].errors >= 1);
    assert_true(g_str_has_prefix(pl->v[1].error, "pipelines/20-bad.yml:3:"));
    assert_string_equal(pl->v[2].name, "fine");
    assert_null(pl->v[2].error);
    ps_gui_pipelines_destroy(pl);
    t = ps_gui_pipelines_toggle("normalize, enrich", "fine");
    assert_string_equal(t, "normalize, enrich, fine");
    free(t);
    t = ps_gui_pipelines_toggle("normalize,  fine ,enrich", "fine");
    assert_string_equal(t, "normalize, enrich");
    free(t);
    t = ps_gui_pipelines_toggle(NULL, "fine");
    assert_string_equal(t, "fine");
    free(t);
}

/* The Token page rewrites the file the editor holds: the editor follows (the new token
 * on its form, the new stamp), so its next Save keeps the token and the admin's own
 * edit, with no "changed on disk" about a change the app made itself. */
static void test_editor_follows_token_page(void **state)
{
    const char *dir = *state;
    ps_gui_form *editor = load(dir, FILE_, 1), *was = load(dir, FILE_, 1), *now;
    ps_gui_stamp stamp, before, after;
    ps_diag all;
    ps_errmsg em;
    size_t changed = 0;
    char *text;
    GString *want = g_string_new(NULL);
    ps_diag_init(&all);
    ps_gui_stamp_take(dir, FILE_, &stamp);
    assert_int_equal(ps_gui_form_set(editor, "properties.workers", "8"), PS_OK);
    /* The Token page, stamped as it reads: a file changed since is not written. */
    ps_gui_stamp_take(dir, FILE_, &before);
    assert_int_equal(
        ps_gui_token_apply(PS_GUI_TOKEN_ENV, dir, FILE_, 1, &before, "", "POD_B", &all, &em),
        PS_OK);
    assert_int_equal(
        ps_gui_token_apply(PS_GUI_TOKEN_ENV, dir, FILE_, 1, &before, "", "POD_C", &all, &em),
        PS_ERR_CONFLICT);
    ps_gui_stamp_take(dir, FILE_, &after);
    now = load(dir, FILE_, 1);
    /* Without following, the editor takes the app's own write for someone else's. */
    assert_int_equal(ps_gui_save_device(editor, dir, FILE_, 1, &stamp, &all, &em), PS_ERR_CONFLICT);
    assert_true(ps_gui_stamp_equal(&stamp, &before));
    stamp = after;
    assert_int_equal(ps_gui_form_follow(editor, was, now, &changed), PS_OK);
    assert_int_equal(changed, 1);
    assert_string_equal(ps_gui_form_find(editor, "properties.token")->value, "${POD_B}");
    assert_string_equal(ps_gui_form_find(editor, "properties.workers")->value, "8");
    text = slurp(dir, FILE_);
    g_string_assign(want, text);
    g_free(text);
    assert_int_equal(ps_gui_save_device(editor, dir, FILE_, 1, &stamp, &all, &em), PS_OK);
    g_string_replace(want, "      workers: 4\n", "      workers: 8\n", 1);
    text = slurp(dir, FILE_);
    assert_string_equal(text, want->str);
    assert_non_null(strstr(text, "      token: \"${POD_B}\"\n"));
    g_free(text);
    g_string_free(want, TRUE);
    ps_gui_form_destroy(editor);
    ps_gui_form_destroy(was);
    ps_gui_form_destroy(now);
    ps_diag_deinit(&all);
}

/* Pipelines picked and ordered: the order written is the order chosen, as a block
 * list where the file had one, everything else byte for byte. */
static void test_pipeline_order_written(void **state)
{
    ps_gui_form *f = load(*state, FILE_, 0);
    ps_errmsg em;
    char *list, *moved, *out = NULL;
    GString *want = g_string_new(original);
    list = ps_gui_pipelines_toggle("normalize", "enrich");
    moved = ps_gui_pipelines_toggle(list, "tidy");
    free(list);
    /* tidy up twice: it runs first; then enrich down past normalize. */
    list = ps_gui_pipelines_move(moved, "tidy", -2);
    free(moved);
    assert_string_equal(list, "tidy, normalize, enrich");
    moved = ps_gui_pipelines_move(list, "tidy", -1); /* already first */
    assert_string_equal(moved, list);
    free(moved);
    moved = ps_gui_pipelines_move(list, "normalize", 1);
    free(list);
    assert_string_equal(moved, "tidy, enrich, normalize");
    assert_int_equal(ps_gui_pipelines_index(moved, "normalize"), 2);
    assert_int_equal(ps_gui_pipelines_index(moved, "nosuch"), -1);
    assert_int_equal(ps_gui_form_set(f, "pipelines", moved), PS_OK);
    free(moved);
    assert_int_equal(ps_gui_save_patch(f, FILE_, original, strlen(original), 0, &out, &em), PS_OK);
    g_string_replace(want, "      - normalize          # first\n",
                     "      - tidy\n      - enrich\n      - normalize\n", 1);
    assert_string_equal(out, want->str);
    free(out);
    g_string_free(want, TRUE);
    ps_gui_form_destroy(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_patch_keeps_everything_else, setup, teardown),
        cmocka_unit_test_setup_teardown(test_patch_second_device, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_validates_and_keeps_bak, setup, teardown),
#ifndef _WIN32
        cmocka_unit_test_setup_teardown(test_save_as_root_keeps_owners, setup, teardown),
#endif
        cmocka_unit_test_setup_teardown(test_add_duplicate_disable_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_encrypt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_references, setup, teardown),
#ifndef _WIN32
        cmocka_unit_test_setup_teardown(test_secret_as_root_gets_key_owner, setup, teardown),
#endif
        cmocka_unit_test_setup_teardown(test_pipeline_picker, setup, teardown),
        cmocka_unit_test_setup_teardown(test_editor_follows_token_page, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_order_written, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
