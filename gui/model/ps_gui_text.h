/* ps_gui_text: positions in a device file's text, shared by validation (which
 * patches a copy) and saving (which patches the file). Internal to the model. */
#ifndef PS_GUI_TEXT_H
#define PS_GUI_TEXT_H

#include <stddef.h>

#include "podstream/ps_yaml.h"

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

#endif
