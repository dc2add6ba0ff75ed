/* ps_store elision: the typed values of an event taken out of its JSON before
 * compression and put back after decompression (see ps_store_elide.c). Pure
 * functions: includes no other store header. */
#ifndef PS_STORE_ELIDE_H
#define PS_STORE_ELIDE_H

#include <stdbool.h>
#include <stddef.h>

#include "podstream/ps_event.h"

/* The values elided from an event's JSON, in index order: the key, then the typed
 * fields in ps_event_field order with the recipients one by one. Borrowed
 * pointers. */
#define PS_ELIDE_MAX 96
typedef struct ps_elide_list {
    const char *v[PS_ELIDE_MAX];
    size_t len[PS_ELIDE_MAX];
    unsigned n;
} ps_elide_list;

void ps_store_elide_list(const char *key, const char *const text[PS_EF__COUNT], ps_elide_list *l);
void ps_store_elide_add(ps_elide_list *l, const char *v, size_t n);
/* Copies raw into *buf (grown as needed, caller frees) with the list's values
 * replaced by markers; *elided says whether anything was replaced. */
ps_err ps_store_elide(const char *raw, size_t len, const ps_elide_list *l, char **buf, size_t *cap,
                      size_t *out_len, bool *elided);
/* Expands markers into *buf; PS_ERR_DB for a marker that names no value. */
ps_err ps_store_unelide(const char *enc, size_t len, const ps_elide_list *l, char **buf,
                        size_t *cap, size_t *out_len);
/* True when enc expands to exactly raw[0..raw_len), without building the expansion. */
bool ps_store_unelide_equals(const char *enc, size_t len, const ps_elide_list *l, const char *raw,
                             size_t raw_len);

#endif
