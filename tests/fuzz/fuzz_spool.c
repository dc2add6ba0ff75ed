/* libFuzzer target for spool replay: the input becomes the spool segment(s) that a
 * crashed service left behind, and is replayed through ps_spool_create and
 * ps_spool_replay as the next start does; each record then goes to
 * ps_event_parse with the type it carries, as the workers take it.
 *
 * The first byte steers: bit 0 set fixes the CRC of every record whose header
 * and length fit (else random bytes never pass the CRC and the fuzzer only sees
 * the torn-tail path); bit 1 set cuts the rest in two segments at a point chosen
 * by the second byte. Seeds (corpus/spool/) are records with a zero CRC and bit 0
 * set. Besides memory errors the contract is checked: every record lies inside
 * its segment, positions only grow, and destroy(all_committed) leaves no segment. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "engine/ps_spool.h"
#include "podstream/ps_event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Two segments of a few records reach every path; the cap keeps a run fast. */
#define FUZZ_MAX_INPUT (1u << 20)
#define HDR            24u
#define MAGIC          0x31465350u

static char dir[64];

typedef struct replay_state {
    uint32_t last_segment;
    uint64_t last_offset;
    size_t total; /* bytes of all segments */
    size_t records;
} replay_state;

static void check(bool ok)
{
    if (!ok)
        abort();
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Gives every well-formed record of buf the CRC of its payload. */
static void fix_crcs(unsigned char *buf, size_t len)
{
    size_t off = 0;
    while (len - off >= HDR && get32(buf + off) == MAGIC) {
        uint32_t plen = get32(buf + off + 4);
        if (len - off - HDR < plen)
            break;
        put32(buf + off + 8, (uint32_t)crc32(crc32(0L, Z_NULL, 0), buf + off + HDR, plen));
        off += HDR + plen;
    }
}

static void write_segment(uint32_t seg, unsigned char *p, size_t n, bool fix)
{
    char path[128];
    FILE *f;
    if (fix)
        fix_crcs(p, n);
    snprintf(path, sizeof path, "%s/fz.%08u.spool", dir, seg);
    f = fopen(path, "wb");
    check(f != NULL);
    check(fwrite(p, 1, n, f) == n);
    check(fclose(f) == 0);
}

static ps_err on_record(void *ctx, const ps_spool_record *rec)
{
    replay_state *st = ctx;
    ps_event ev;
    ps_errmsg em;

    check(rec->data != NULL && rec->len <= st->total);
    check(rec->end.segment > st->last_segment ||
          (rec->end.segment == st->last_segment && rec->end.offset > st->last_offset));
    check(rec->end.offset >= HDR + rec->len);
    st->last_segment = rec->end.segment;
    st->last_offset = rec->end.offset;
    st->records++;
    /* The worker's first step on a replayed record. */
    ps_event_init(&ev);
    if (!rec->oversize)
        (void)ps_event_parse(&ev, (ps_data_type)rec->type, rec->data, rec->len, &em);
    ps_event_deinit(&ev);
    return PS_OK;
}

/* True when dir holds no file. */
static bool dir_empty(void)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    bool empty = true;
    check(d != NULL);
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            empty = false;
    closedir(d);
    return empty;
}

static void remove_dir(void)
{
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    replay_state st = {0};
    unsigned char *buf;
    size_t n, cut, torn = 0;
    ps_spool *sp = NULL;
    ps_errmsg em;
    bool fix, two;

    if (size < 1 || size > FUZZ_MAX_INPUT)
        return 0;
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/ps_fuzz_spool.XXXXXX");
        check(mkdtemp(dir) != NULL);
        atexit(remove_dir);
    }
    fix = data[0] & 1;
    two = (data[0] & 2) && size >= 2;
    n = size - 1 - (two ? 1 : 0);
    buf = malloc(n ? n : 1);
    check(buf != NULL);
    memcpy(buf, data + 1 + (two ? 1 : 0), n);
    cut = two ? n * data[1] / 255 : n;
    /* Segment numbers as a long-running service reaches them. */
    write_segment(41, buf, cut, fix);
    if (two)
        write_segment(42, buf + cut, n - cut, fix);
    st.total = n;
    st.last_segment = 0;

    check(ps_spool_create(dir, "fz", &sp, &em) == PS_OK);
    check(ps_spool_replay(sp, on_record, &st, &torn, &em) == PS_OK);
    check(torn <= (two ? 2u : 1u));
    check(st.records * HDR <= n);
    ps_spool_destroy(sp, true);
    check(dir_empty());
    free(buf);
    return 0;
}
