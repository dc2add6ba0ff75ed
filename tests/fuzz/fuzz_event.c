/* libFuzzer target for event frames: bytes -> ps_event_parse as each data type,
 * then ps_event_extract (natural key, ts, typed fields with the RFC 2047 subject),
 * as a worker does with every frame it receives. The same bytes also go straight
 * to the RFC 2047 decoder, as one header value.
 *
 * Besides memory errors, the contract is checked: a parse either fails with a
 * reason or gives an object with a key; every typed field is valid UTF-8 (they go
 * into SQLite and the full-text index); the decoder always gives valid UTF-8. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event/ps_event_rfc2047.h"
#include "podstream/ps_event.h"
#include "podstream/ps_utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Frames are capped by max_frame_size; far less reaches every branch. */
#define FUZZ_MAX_INPUT (256u * 1024u)

static void check(bool ok)
{
    if (!ok)
        abort();
}

static void check_text(const char *s)
{
    if (s)
        check(ps_utf8_valid(s, strlen(s), NULL));
}

static void run_type(ps_data_type type, const char *raw, size_t len)
{
    ps_event ev;
    ps_errmsg em;
    ps_err err;

    ps_event_init(&ev);
    em.text[0] = '\0';
    err = ps_event_parse(&ev, type, raw, len, &em);
    check(err == PS_OK || err == PS_ERR_PARSE || err == PS_ERR_NOMEM);
    if (err != PS_OK) {
        check(em.text[0] != '\0' && ev.root == NULL);
        ps_event_deinit(&ev);
        return;
    }
    check(cJSON_IsObject(ev.root) && ev.key && *ev.key);
    err = ps_event_extract(&ev, &em);
    check(err == PS_OK || err == PS_ERR_NOMEM);
    if (err == PS_OK) {
        check(ev.key != NULL);
        check_text(ev.key);
        for (int f = 0; f < PS_EF__COUNT; f++)
            check_text(ev.text[f]);
    }
    ps_event_deinit(&ev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *raw = (const char *)data;
    char *decoded;

    if (size > FUZZ_MAX_INPUT)
        return 0;
    run_type(PS_DATA_MESSAGE, raw, size);
    run_type(PS_DATA_MAILLOG, raw, size);
    run_type(PS_DATA_AUDIT, raw, size);

    decoded = ps_event_rfc2047_decode(raw, size);
    check(decoded != NULL);
    check_text(decoded);
    free(decoded);
    return 0;
}
