/* The device editor's patch on the YAML forms beyond plain and quoted scalars: block
 * scalars (| and >) are replaced whole, a value inside a { } flow mapping and a flow
 * list in place, each byte for byte outside the edited value; anchors, aliases, tags,
 * keys added to or removed from a flow mapping, and a device that is itself a flow
 * mapping are refused with a message that names the field and says to edit the file,
 * and a refused edit hands out no text at all (the file is never written). */
#include <glib.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ps_gui_form.h"
#include "ps_gui_save.h"
#include "ps_gui_text.h"

#define NAME "devices/forms.yml"

/* The form of device `index` of `text`, as the editor reads it. */
static ps_gui_form *form_of(const char *text, size_t index)
{
    ps_yaml_doc *doc = NULL;
    ps_gui_form *f = NULL;
    ps_diag d;
    ps_diag_init(&d);
    assert_int_equal(ps_yaml_load_buffer(NAME, text, strlen(text), &doc, &d), PS_OK);
    assert_int_equal(ps_gui_form_create(&f), PS_OK);
    assert_int_equal(ps_gui_form_load(f, ps_gui_text_device(ps_yaml_doc_root(doc), index)), PS_OK);
    ps_yaml_doc_destroy(doc);
    ps_diag_deinit(&d);
    return f;
}

/* Sets `path` to `value` on device `index` of `text` and patches: the result must be
 * `want` byte for byte. */
static void patched(const char *text, size_t index, const char *path, const char *value,
                    const char *want)
{
    ps_gui_form *f = form_of(text, index);
    ps_errmsg em;
    char *out = NULL;
    assert_int_equal(ps_gui_form_set(f, path, value), PS_OK);
    assert_int_equal(ps_gui_save_patch(f, NAME, text, strlen(text), index, &out, &em), PS_OK);
    assert_string_equal(out, want);
    free(out);
    ps_gui_form_destroy(f);
}

/* The same edit refused: no text, and a message naming the field (or the device) and
 * `why`. */
static void refused(const char *text, size_t index, const char *path, const char *value,
                    const char *why)
{
    ps_gui_form *f = form_of(text, index);
    ps_errmsg em;
    char *out = (char *)"untouched";
    memset(&em, 0, sizeof em);
    assert_int_equal(ps_gui_form_set(f, path, value), PS_OK);
    assert_int_equal(ps_gui_save_patch(f, NAME, text, strlen(text), index, &out, &em),
                     PS_ERR_UNSUPPORTED);
    assert_null(out);
    if (!strstr(em.text, why) || !strstr(em.text, "cannot change safely") ||
        !strstr(em.text, "edit the file"))
        fail_msg("refusing %s: \"%s\" does not say \"%s\"", path, em.text, why);
    ps_gui_form_destroy(f);
}

static const char block[] = "devices:\n"
                            "  - id: 1\n"
                            "    name: office   # kept\n"
                            "    description: |   # what it is\n"
                            "      Message events of the office,\n"
                            "      on two lines.\n"
                            "\n"
                            "    # the connection\n"
                            "    properties:\n"
                            "      cluster: acme\n"
                            "      token: >-\n"
                            "        ${POD_TOKEN}\n"
                            "      type: message\n";

static void test_block_scalars(void **state)
{
    GString *want = g_string_new(block);
    (void)state;
    /* Replaced by a one-line value; its comment, the blank line and the next comment
     * stay. */
    g_string_replace(want,
                     "description: |   # what it is\n"
                     "      Message events of the office,\n"
                     "      on two lines.\n",
                     "description: \"Office messages\"   # what it is\n", 1);
    patched(block, 0, "description", "Office messages", want->str);
    /* Cleared: its key and every line of it go. */
    g_string_assign(want, block);
    g_string_replace(want, "      token: >-\n        ${POD_TOKEN}\n", "", 1);
    patched(block, 0, "properties.token", "", want->str);
    /* A '>' value replaced; the '|' one beside it, untouched, stays byte for byte. */
    g_string_assign(want, block);
    g_string_replace(want, "      token: >-\n        ${POD_TOKEN}\n", "      token: \"${T2}\"\n",
                     1);
    g_string_replace(want, "cluster: acme\n", "cluster: \"acme_eu\"\n", 1);
    {
        ps_gui_form *f = form_of(block, 0);
        ps_errmsg em;
        char *out = NULL;
        assert_int_equal(ps_gui_form_set(f, "properties.token", "${T2}"), PS_OK);
        assert_int_equal(ps_gui_form_set(f, "properties.cluster", "acme_eu"), PS_OK);
        assert_int_equal(ps_gui_save_patch(f, NAME, block, strlen(block), 0, &out, &em), PS_OK);
        assert_string_equal(out, want->str);
        free(out);
        ps_gui_form_destroy(f);
    }
    g_string_free(want, TRUE);
}

static const char anchors[] = "devices:\n"
                              "  - id: 1\n"
                              "    name: first\n"
                              "    properties:\n"
                              "      cluster: &cl acme_hosted   # shared\n"
                              "      token: !!str ${POD_TOKEN}\n"
                              "  - id: 2\n"
                              "    name: second\n"
                              "    properties:\n"
                              "      cluster: *cl\n"
                              "      workers: 4\n";

static void test_anchors_aliases_tags(void **state)
{
    GString *want = g_string_new(anchors);
    (void)state;
    /* The anchored value would change the other device too; the alias would cut it
     * loose from what it names: both refused, as is a tag. */
    refused(anchors, 0, "properties.cluster", "acme_eu", "properties.cluster");
    refused(anchors, 0, "properties.cluster", "acme_eu", "an anchor or alias");
    refused(anchors, 1, "properties.cluster", "acme_eu", "an anchor or alias");
    refused(anchors, 1, "properties.cluster", "", "an anchor or alias");
    refused(anchors, 0, "properties.token", "${T2}", "an explicit tag");
    /* The rest of such a device is edited as ever. */
    g_string_replace(want, "      workers: 4\n", "      workers: 6\n", 1);
    patched(anchors, 1, "properties.workers", "6", want->str);
    g_string_free(want, TRUE);
}

/* A device mapping shared by an alias: any edit of it would edit both devices. */
static void test_anchored_device(void **state)
{
    static const char shared[] = "devices:\n"
                                 "  - &dev\n"
                                 "    id: 1\n"
                                 "    name: first\n"
                                 "  - *dev\n";
    (void)state;
    refused(shared, 0, "name", "renamed", "device 0 of devices/forms.yml");
    refused(shared, 0, "name", "renamed", "would change more than its values");
}

static const char flow[] = "devices:\n"
                           "  - id: 1\n"
                           "    name: office\n"
                           "    tags: [email, pod]   # flow list\n"
                           "    properties: {cluster: acme, token: \"${POD_TOKEN}\", type: "
                           "message}   # one line\n"
                           "  - {id: 2, name: flowdev, properties: {cluster: acme}}\n";

static void test_flow_forms(void **state)
{
    GString *want = g_string_new(flow);
    (void)state;
    /* A value inside the { } mapping, plain or quoted, in place. */
    g_string_replace(want, "{cluster: acme, ", "{cluster: \"acme_eu\", ", 1);
    patched(flow, 0, "properties.cluster", "acme_eu", want->str);
    g_string_assign(want, flow);
    g_string_replace(want, "token: \"${POD_TOKEN}\"", "token: \"${T2}\"", 1);
    patched(flow, 0, "properties.token", "${T2}", want->str);
    g_string_assign(want, flow);
    g_string_replace(want, "type: message}", "type: maillog}", 1);
    patched(flow, 0, "properties.type", "maillog", want->str);
    /* A flow list rewritten as a flow list, its comment kept. */
    g_string_assign(want, flow);
    g_string_replace(want, "[email, pod]   #", "[\"pod\", \"email\", \"lab\"]   #", 1);
    patched(flow, 0, "tags", "pod, email, lab", want->str);
    g_string_free(want, TRUE);
    /* A key added to or removed from the { } mapping, and a device written as one. */
    refused(flow, 0, "properties.workers", "6", "a { } flow mapping");
    refused(flow, 0, "properties.type", "", "a { } flow mapping");
    refused(flow, 1, "name", "renamed", "not a block mapping");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_scalars),
        cmocka_unit_test(test_anchors_aliases_tags),
        cmocka_unit_test(test_anchored_device),
        cmocka_unit_test(test_flow_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
