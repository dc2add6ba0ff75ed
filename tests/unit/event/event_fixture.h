/* Helpers shared by the ps_event tests (test_event.c, test_event_frames.c). Each
 * fails the running cmocka test when what it expects does not hold. */
#ifndef EVENT_FIXTURE_H
#define EVENT_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "podstream/ps_event.h"
#include "podstream/ps_time.h"

/* The file `name` in the directory named by environment variable `env`, as a new
 * buffer the caller frees; *len is its size. */
char *read_fixture(const char *env, const char *name, size_t *len);

/* Line `n` (1-based) of a JSONL file, as a new string without the newline. */
char *fixture_line(const char *env, const char *name, int n);

/* Parses and extracts raw into ev (initialised or deinitialised by the caller). */
void parse_ok(ps_event *ev, ps_data_type type, const char *raw, size_t len);

/* Expects the parse to fail with PS_ERR_PARSE and exactly `reason`. */
void parse_fails(ps_data_type type, const char *raw, size_t len, const char *reason);
void parse_fails_str(ps_data_type type, const char *raw, const char *reason);

/* Expects ps_time_format_iso(us) to be `utc`. */
void assert_ts(int64_t us, const char *utc);

/* A minimal message tree: guid, ts and whatever the test adds. */
cJSON *base_message(void);

/* Puts `root` into ev (which takes it) and extracts. */
void extract_tree(ps_event *ev, ps_data_type type, cJSON *root);

/* Sample line 1 of message.jsonl with one member replaced: `path` is a dotted
 * object path whose last step is replaced by `value` (which the tree takes), or
 * removed when value is NULL. */
cJSON *message_with(const char *path, cJSON *value);

#endif
