/* libFuzzer target for the stored-event codec (store/ps_store_codec.c,
 * ps_store_elide.c): what `query` and `trace` do with a row read from a database
 * that may be damaged. Two modes, chosen by bit 0 of the first byte:
 *
 *  0, decode: ps_store_row_json on an arbitrary row. Byte 0 also holds the row's
 *     fmt (bits 1-2) and whether it names dictionary 1 (bit 3); bytes 1-2 are its
 *     raw_len (little-endian), byte 3 how many of key and typed values follow (as
 *     NUL-terminated strings, key first), and the rest is the compressed blob.
 *  1, round trip: the rest is an event frame of type (byte 0 >> 1) % 3. When it
 *     parses, it is elided with its own key and typed values and compressed (with
 *     dictionary 1 when bit 3 is set) as ps_store_prepare does, then read back:
 *     the bytes must be exactly the frame's. Also checks that unelide and
 *     unelide_equals agree.
 *
 * Dictionary 1 is a raw-content dictionary (a sample message) in an in-memory
 * `dicts` table. With PS_FUZZ_CODEC_SEEDS=DIR set, round-trip inputs write their
 * row in decode form to DIR: that is how corpus/codec/row-* were made. */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_event.h"
#include "store/ps_store_codec.h"
#include "store/ps_store_elide.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Frames are capped by max_frame_size; far less reaches every branch. */
#define FUZZ_MAX_INPUT (256u * 1024u)
#define NSTRINGS       (1 + PS_EF__COUNT)

static const char DICT[] =
    "{\"connection\":{\"country\":\"**\",\"helo\":\"m0000123.ppops.net\",\"host\":\"localhost\","
    "\"ip\":\"127.0.0.1\",\"protocol\":\"smtp:smtp\",\"resolveStatus\":\"ok\"},\"envelope\":"
    "{\"from\":\"pps@m0000123.ppops.net\",\"rcpts\":[\"pps@m0000123.ppops.net\"]},\"filter\":"
    "{\"actions\":[{\"action\":\"accept\",\"isFinal\":true,\"module\":\"access\",\"rule\":"
    "\"system\"}],\"disposition\":\"accept\",\"routeDirection\":\"outbound\"},\"guid\":\"\","
    "\"msg\":{\"header\":{\"subject\":[\"\"]}},\"ts\":\"2024-05-22T12:10:03.058340-0700\"}";

static ps_store_db db;
/* writer: compresses with dictionary 1 for messages; plain: without; reader: reads. */
static ps_store_codec writer, plain, reader;
static ps_store_cscratch scratch;
static char *ebuf;
static size_t ecap;

static void check(bool ok)
{
    if (!ok)
        abort();
}

static void teardown(void)
{
    ps_store_codec_deinit(&writer);
    ps_store_codec_deinit(&plain);
    ps_store_codec_deinit(&reader);
    ps_store_cscratch_deinit(&scratch);
    free(ebuf);
    sqlite3_close(db.db);
}

static void setup(void)
{
    sqlite3_stmt *s = NULL;
    ps_errmsg em;

    check(sqlite3_open(":memory:", &db.db) == SQLITE_OK);
    db.path = "fuzz.db";
    db.mode = PS_STORE_WRITER;
    check(sqlite3_exec(db.db,
                       "CREATE TABLE dicts(id INTEGER PRIMARY KEY, type INTEGER NOT NULL,"
                       " dict BLOB NOT NULL)",
                       NULL, NULL, NULL) == SQLITE_OK);
    check(sqlite3_prepare_v2(db.db, "INSERT INTO dicts VALUES (1, 0, ?)", -1, &s, NULL) ==
          SQLITE_OK);
    sqlite3_bind_blob(s, 1, DICT, (int)sizeof DICT - 1, SQLITE_STATIC);
    check(sqlite3_step(s) == SQLITE_DONE);
    sqlite3_finalize(s);
    check(ps_store_codec_init(&writer) == PS_OK && ps_store_codec_init(&plain) == PS_OK &&
          ps_store_codec_init(&reader) == PS_OK);
    check(ps_store_codec_load(&writer, &db, &em) == PS_OK);
    atexit(teardown);
}

/* Up to `n` NUL-terminated strings from *p (key, then typed values); the rest stay NULL. */
static void take_strings(const char **p, const char *end, unsigned n, const char **key,
                         const char *text[PS_EF__COUNT])
{
    for (unsigned i = 0; i < n && *p < end; i++) {
        const char *nul = memchr(*p, '\0', (size_t)(end - *p));
        if (!nul)
            break;
        if (i == 0)
            *key = *p;
        else
            text[i - 1] = *p;
        *p = nul + 1;
    }
}

static void decode(const char *p, const char *end, unsigned flags, size_t raw_len, unsigned n)
{
    const char *key = NULL, *text[PS_EF__COUNT] = {0}, *out = NULL;
    size_t out_len = 0;
    ps_errmsg em;
    ps_err err;

    take_strings(&p, end, n, &key, text);
    em.text[0] = '\0';
    err = ps_store_row_json(&reader, &db, (flags & 8) ? 1 : 0, (int)((flags >> 1) & 3), p,
                            (size_t)(end - p), raw_len, key, text, &out, &out_len, &em);
    if (err == PS_OK)
        check(out != NULL && out_len == raw_len && out[out_len] == '\0');
    else
        check(em.text[0] != '\0');
}

static void write_seed(const ps_event *ev, int fmt, bool dict, const void *blob, size_t blob_len,
                       size_t raw_len)
{
    const char *dir = getenv("PS_FUZZ_CODEC_SEEDS");
    static unsigned seq;
    char path[512];
    FILE *f;
    if (!dir)
        return;
    snprintf(path, sizeof path, "%s/row-%u", dir, seq++);
    f = fopen(path, "wb");
    check(f != NULL);
    fputc((fmt << 1) | (dict ? 8 : 0), f);
    fputc((int)(raw_len & 0xff), f);
    fputc((int)((raw_len >> 8) & 0xff), f);
    fputc(NSTRINGS, f);
    fwrite(ev->key, 1, strlen(ev->key) + 1, f);
    for (int i = 0; i < PS_EF__COUNT; i++)
        fwrite(ev->text[i] ? ev->text[i] : "", 1, ev->text[i] ? strlen(ev->text[i]) + 1 : 1, f);
    fwrite(blob, 1, blob_len, f);
    check(fclose(f) == 0);
}

/* Stores the frame as ps_store_prepare does and reads it back. */
static void round_trip(const char *raw, size_t len, ps_data_type type, bool dict)
{
    ps_elide_list el;
    ps_event ev;
    ps_errmsg em;
    const void *blob = NULL;
    const char *payload = raw, *out = NULL;
    size_t payload_len = len, enc_len = 0, out_len = 0, blob_len = 0;
    bool elided = false, equal;
    int64_t dict_id = -1;

    ps_event_init(&ev);
    if (ps_event_parse(&ev, type, raw, len, &em) != PS_OK || ps_event_extract(&ev, &em) != PS_OK)
        goto cleanup;
    ps_store_elide_list(ev.key, (const char *const *)ev.text, &el);
    check(ps_store_elide(raw, len, &el, &ebuf, &ecap, &enc_len, &elided) == PS_OK);
    if (elided) {
        char *x = NULL;
        size_t xcap = 0, xlen = 0;
        equal = ps_store_unelide_equals(ebuf, enc_len, &el, raw, len);
        check(equal); /* one pass over marker-free text: markers only where values were */
        if (ps_store_unelide(ebuf, enc_len, &el, &x, &xcap, &xlen) == PS_OK)
            check(equal == (xlen == len && memcmp(x, raw, len) == 0));
        else
            check(!equal);
        free(x);
        if (equal) {
            payload = ebuf;
            payload_len = enc_len;
        } else {
            elided = false;
        }
    }
    check(ps_store_codec_compress(dict ? &writer : &plain, &scratch, type, payload, payload_len,
                                  &blob, &blob_len, &dict_id, &em) == PS_OK);
    check(dict_id == (dict && type == PS_DATA_MESSAGE ? 1 : 0));
    write_seed(&ev, elided, dict_id == 1, blob, blob_len, len);
    check(ps_store_row_json(&reader, &db, dict_id, elided ? 1 : 0, blob, blob_len, len, ev.key,
                            (const char *const *)ev.text, &out, &out_len, &em) == PS_OK);
    check(out_len == len && memcmp(out, raw, len) == 0);
cleanup:
    ps_event_deinit(&ev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    unsigned flags;

    if (size < 1 || size > FUZZ_MAX_INPUT)
        return 0;
    if (!db.db)
        setup();
    flags = data[0];
    if (flags & 1) {
        round_trip(p + 1, size - 1, (ps_data_type)((flags >> 1) % 3), (flags & 8) != 0);
        return 0;
    }
    if (size < 4)
        return 0;
    decode(p + 4, end, flags, (size_t)data[1] | (size_t)data[2] << 8, data[3] % (NSTRINGS + 1));
    return 0;
}
