/* ps_gui_text: positions in a device file's text, shared by validation (which
 * patches a copy) and saving (which patches the file). Internal to the model. */
#ifndef PS_GUI_TEXT_H
#define PS_GUI_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "podstream/ps_yaml.h"
#include "ps_gui_form.h"

/* Byte offset of the start of line `line` (1-based), or len when past the end. */
size_t ps_gui_text_line_start(const char *t, size_t len, int line);

/* Byte offset of (line, col) as the YAML tree records them (col counts characters). */
size_t ps_gui_text_offset(const char *t, size_t len, int line, int col);

/* Where the block mapping at (line, col) ends: after the last line from `from` on
 * that is neither blank nor a comment and is indented at least col - 1. */
size_t ps_gui_text_block_end(const char *t, size_t len, size_t from, int col);

/* The device mapping `index` of a parsed device file (any of its three shapes), or
 * NULL. Borrowed from the tree. */
const ps_yaml_node *ps_gui_text_device(const ps_yaml_node *root, size_t index);

/* True when `after` (a patched copy of the file whose tree is `before`) parses and
 * reads as `before` with device `index` holding the values of `f`: each form field as
 * `f` has it, every other key of the device and everything else as it was. What
 * ps_gui_save_patch checks before it hands out a text to write. */
bool ps_gui_text_verify(const char *name, const ps_yaml_node *before, const char *after,
                        size_t index, const ps_gui_form *f);

/* Whether a form field's values are the same: the same text, typed alike (a string's
 * quoting does not count, as the form writes strings quoted). */
bool ps_gui_text_same_field(const ps_gui_form_field *a, const ps_gui_form_field *b);

#endif
