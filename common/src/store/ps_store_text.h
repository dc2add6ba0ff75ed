/* ps_store text: the column names of the typed fields, values cut to their
 * columns, address and id normalisation, hashed exact-match tokens and the
 * full-text entry of an event. Pure functions, no SQLite: includes no other store
 * header. Everything here is part of the schema (what the index holds). */
#ifndef PS_STORE_TEXT_H
#define PS_STORE_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "podstream/ps_event.h"
#include "podstream/ps_mem.h"

/* Column names of the typed fields, in ps_event_field order. */
extern const char *const ps_store_field_col[PS_EF__COUNT];

/* Address normalisation for matching: trims spaces, drops enclosing <>, ASCII
 * lowercase. Into buf; returns the length, or (size_t)-1 when it does not fit. */
size_t ps_store_norm_addr(const char *s, size_t len, char *buf, size_t buflen);
/* Message-id normalisation: trims spaces and enclosing <>. */
size_t ps_store_norm_msgid(const char *s, size_t len, char *buf, size_t buflen);

/* Hashed exact-match token ("f" sender, "t" recipient, "m" message-id, "q" qid,
 * "g" key) of an already normalised value, into buf (>= 8 bytes): the prefix and
 * 4 base32 characters, i.e. one of 2^20 buckets per kind. */
#define PS_HASH_TOKEN_LEN 5
void ps_store_hash_token(char prefix, const char *value, size_t len, char *buf);
/* The 64-bit hash behind the tokens and the natural-key index. */
uint64_t ps_store_hash64(const char *s, size_t len);

/* The full-text document: a ps_buf. Caller-owned; ps_buf_deinit frees it. */
typedef ps_buf ps_store_doc;

/* The text the full-text index holds for one event: its typed fields plus hashed
 * exact-match tokens. Built the same way at insert and at delete, from the same
 * values, because a contentless FTS5 table can only delete what it is told. */
ps_err ps_store_fts_doc(ps_store_doc *doc, const char *key, const char *const text[PS_EF__COUNT],
                        ps_errmsg *em);

#endif
