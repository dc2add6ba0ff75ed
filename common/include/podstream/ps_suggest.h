/* ps_suggest: "did you mean" for misspelt keys, options, names and values.
 *
 * One edit distance and one rule for when a candidate is close enough to name in
 * a message, so that every "unknown ... (did you mean ...?)" in podstream agrees. */
#ifndef PS_SUGGEST_H
#define PS_SUGGEST_H

#include <stddef.h>

/* Levenshtein distance, ASCII case-insensitive, where a swapped pair of adjacent
 * letters ("tyep") counts as one edit. Strings longer than 64 bytes are not
 * compared: the result is then the longer length. Borrows both strings. */
size_t ps_suggest_distance(const char *a, const char *b);

/* The candidate of the NULL-terminated list `candidates` that `word` is most
 * likely a misspelling of, or NULL when none is close enough to be worth naming.
 * Close means few edits for the candidate's length (1 up to 4 letters, 2 up to 8,
 * then 3) and fewer edits than `word` has letters; failing that, a candidate that
 * shares a prefix of at least 4 letters with `word` (a shortened or lengthened
 * name). The result is borrowed from `candidates`. */
const char *ps_suggest(const char *word, const char *const *candidates);

#endif
