/* ps_gui_text_verify: the last check before an edited device file is written. The
 * patch works on positions; this reads the result back as YAML and compares it with
 * the file as it was, so that a form of the text the positions do not tell about (an
 * anchor shared with another device, a value whose end was misjudged) can never
 * reach the disk: the edit is refused instead. */
#include <stdio.h>
#include <string.h>

#include "ps_gui_text.h"

/* The same YAML: kinds, scalars (text and quoting), items and keys in order. */
static bool same(const ps_yaml_node *a, const ps_yaml_node *b)
{
    if (!a || !b)
        return a == b;
    if (a->kind != b->kind || a->count != b->count)
        return false;
    if (a->kind == PS_YAML_SCALAR)
        return a->plain == b->plain && a->len == b->len && memcmp(a->value, b->value, a->len) == 0;
    for (size_t i = 0; i < a->count; i++)
        if ((a->kind == PS_YAML_MAP && !same(a->keys[i], b->keys[i])) ||
            !same(a->items[i], b->items[i]))
            return false;
    return true;
}

/* Whether `key` under `prefix` ("" or "properties.") is a field of the form (the
 * form checks those), or a mapping of fields (*object). */
static bool is_field(const ps_gui_form *f, const char *prefix, const char *key, bool *object)
{
    size_t pl = strlen(prefix), kl = strlen(key);
    *object = false;
    for (size_t i = 0; i < f->n; i++) {
        const char *p = f->v[i].path;
        if (strncmp(p, prefix, pl) != 0 || strncmp(p + pl, key, kl) != 0)
            continue;
        if (p[pl + kl] == '\0')
            return true;
        if (p[pl + kl] == '.')
            *object = true;
    }
    return *object;
}

/* No mapping, or an empty one: "properties:" whose last field was cleared. */
static bool no_keys(const ps_yaml_node *n)
{
    return !n || (n->kind == PS_YAML_SCALAR && ps_yaml_is_null(n)) ||
           (n->kind == PS_YAML_MAP && n->count == 0);
}

/* Counts the keys of `m` that are not form fields; on the `first` pass each must be
 * in `other` alike, and a mapping of fields is compared in depth (on the second,
 * only one `other` lacks). */
static bool others(const ps_gui_form *f, const char *prefix, const ps_yaml_node *m,
                   const ps_yaml_node *other, bool first, size_t *n);

/* The keys of the device mapping that are not form fields are the same in both. */
static bool same_others(const ps_gui_form *f, const char *prefix, const ps_yaml_node *a,
                        const ps_yaml_node *b)
{
    size_t na = 0, nb = 0;
    if ((!no_keys(a) && a->kind != PS_YAML_MAP) || (!no_keys(b) && b->kind != PS_YAML_MAP))
        return same(a, b);
    return others(f, prefix, a, b, true, &na) && others(f, prefix, b, a, false, &nb) && na == nb;
}

static bool others(const ps_gui_form *f, const char *prefix, const ps_yaml_node *m,
                   const ps_yaml_node *other, bool first, size_t *n)
{
    bool object;
    for (size_t i = 0; m && m->kind == PS_YAML_MAP && i < m->count; i++) {
        const char *k = m->keys[i]->value;
        const ps_yaml_node *o =
            other && other->kind == PS_YAML_MAP ? ps_yaml_map_get(other, k) : NULL;
        char sub[64];
        if (!is_field(f, prefix, k, &object)) {
            (*n)++;
            if (first && !same(m->items[i], o))
                return false;
        } else if (object && (first || !o)) {
            snprintf(sub, sizeof sub, "%s%s.", prefix, k);
            if (!same_others(f, sub, m->items[i], o))
                return false;
        }
    }
    return true;
}

/* The device in `after` holds the form's values and the rest of `before`'s. */
static bool same_device(const ps_gui_form *f, const ps_yaml_node *b, const ps_yaml_node *a)
{
    ps_gui_form *now = NULL;
    bool ok = a && a->kind == PS_YAML_MAP && same_others(f, "", b, a) &&
              ps_gui_form_create(&now) == PS_OK && ps_gui_form_load(now, a) == PS_OK;
    for (size_t i = 0; ok && i < f->n; i++)
        ok = ps_gui_text_same_field(&f->v[i], &now->v[i]);
    ps_gui_form_destroy(now);
    return ok;
}

/* Two sequences of devices: the same but for item `index`. */
static bool same_list(const ps_gui_form *f, const ps_yaml_node *b, const ps_yaml_node *a,
                      size_t index)
{
    if (!a || !b || a->kind != PS_YAML_SEQ || b->kind != PS_YAML_SEQ || a->count != b->count ||
        index >= a->count)
        return false;
    for (size_t i = 0; i < a->count; i++)
        if (i == index ? !same_device(f, b->items[i], a->items[i])
                       : !same(b->items[i], a->items[i]))
            return false;
    return true;
}

bool ps_gui_text_verify(const char *name, const ps_yaml_node *before, const char *after,
                        size_t index, const ps_gui_form *f)
{
    ps_yaml_doc *doc = NULL;
    const ps_yaml_node *a;
    ps_diag d;
    bool ok = false;
    ps_diag_init(&d);
    if (before && ps_yaml_load_buffer(name, after, strlen(after), &doc, &d) == PS_OK &&
        (a = ps_yaml_doc_root(doc)) && a->kind == before->kind) {
        const ps_yaml_node *list = ps_yaml_map_get(before, "devices");
        if (before->kind == PS_YAML_SEQ) {
            ok = same_list(f, before, a, index);
        } else if (!list) {
            ok = index == 0 && same_device(f, before, a); /* the single-device shape */
        } else {
            ok = a->count == before->count;
            for (size_t i = 0; ok && i < before->count; i++)
                ok = same(before->keys[i], a->keys[i]) &&
                     (strcmp(before->keys[i]->value, "devices") == 0
                          ? same_list(f, before->items[i], a->items[i], index)
                          : same(before->items[i], a->items[i]));
        }
    }
    ps_yaml_doc_destroy(doc);
    ps_diag_deinit(&d);
    return ok;
}
