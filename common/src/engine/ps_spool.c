#include "engine/ps_spool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libdeflate.h>

#include "podstream/ps_platform.h"

#define SPOOL_MAGIC   0x31465350u /* "PSF1" little-endian */
#define HDR_BYTES     24u
#define FLAG_BINARY   1u
#define FLAG_OVERSIZE 2u
#define MAX_RECORD    (1u << 30)

struct ps_spool {
    ps_mutex *mu;
    char *dir;
    char *name;
    uint32_t first_old, end_old; /* segments [first_old, end_old) predate this run */
    uint32_t oldest;             /* oldest segment not yet deleted */
    uint32_t cur;                /* segment receiving appends */
    ps_file *f;
    uint64_t cur_size;
};

/* CRC-32 (IEEE 802.3, as zlib and gzip compute it): part of the record format.
 * test_spool checks the values zlib gives. */
static uint32_t crc32_of(const void *data, size_t len)
{
    return libdeflate_crc32(0, data, len);
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static char *segment_path(const ps_spool *sp, uint32_t seg)
{
    size_t n = strlen(sp->dir) + strlen(sp->name) + 32;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s.%08u.spool", sp->dir, sp->name, seg);
    return p;
}

/* Finds the range of existing segment numbers of this spool. */
static ps_err scan_segments(ps_spool *sp, ps_errmsg *em)
{
    static const char *const suffixes[] = {".spool", NULL};
    char **names = NULL;
    size_t count = 0, nlen = strlen(sp->name);
    bool any = false;
    uint32_t lo = 0, hi = 0;
    ps_err err = ps_plat_list_dir(sp->dir, suffixes, &names, &count, em);

    if (err != PS_OK)
        return err;
    for (size_t i = 0; i < count; i++) {
        const char *fname = names[i];
        unsigned seg;
        char tail[16];
        if (strncmp(fname, sp->name, nlen) != 0 || fname[nlen] != '.')
            continue;
        if (sscanf(fname + nlen + 1, "%8u%15s", &seg, tail) != 2 || strcmp(tail, ".spool") != 0)
            continue;
        if (!any || seg < lo)
            lo = seg;
        if (!any || seg + 1 > hi)
            hi = seg + 1;
        any = true;
    }
    ps_plat_free_list(names, count);
    sp->first_old = lo;
    sp->end_old = hi;
    sp->oldest = any ? lo : 0;
    sp->cur = hi;
    return PS_OK;
}

static ps_err open_segment(ps_spool *sp, ps_errmsg *em)
{
    char *path = segment_path(sp, sp->cur);
    if (!path)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    ps_err err = ps_plat_file_open_append(path, 0640, &sp->f, em);
    free(path);
    if (err != PS_OK)
        return err;
    sp->cur_size = 0;
    return PS_OK;
}

ps_err ps_spool_create(const char *dir, const char *name, ps_spool **out, ps_errmsg *em)
{
    ps_err err;
    ps_spool *sp = calloc(1, sizeof *sp);

    *out = NULL;
    if (!sp)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    if (ps_plat_mutex_create(&sp->mu) != PS_OK) {
        free(sp);
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    }
    sp->dir = strdup(dir);
    sp->name = strdup(name);
    if (!sp->dir || !sp->name) {
        err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
        goto out;
    }
    err = ps_plat_mkdirs(dir, 0750, em);
    if (err != PS_OK)
        goto out;
    err = scan_segments(sp, em);
    if (err != PS_OK)
        goto out;
    err = open_segment(sp, em);
out:
    if (err != PS_OK) {
        ps_spool_destroy(sp, false);
        return err;
    }
    *out = sp;
    return PS_OK;
}

static ps_err replay_segment(ps_spool *sp, uint32_t seg, ps_spool_replay_fn fn, void *ctx,
                             size_t *torn, ps_errmsg *em)
{
    char *path = segment_path(sp, seg);
    char *buf = NULL;
    size_t len = 0, off = 0;
    ps_err err;

    if (!path)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    err = ps_plat_read_file(path, (size_t)PS_SPOOL_SEGMENT_BYTES + MAX_RECORD + HDR_BYTES, &buf,
                            &len, em);
    free(path);
    if (err == PS_ERR_NOTFOUND)
        return PS_OK;
    if (err != PS_OK)
        return err;
    while (off < len) {
        const unsigned char *h = (const unsigned char *)buf + off;
        ps_spool_record rec;
        uint32_t plen;
        if (len - off < HDR_BYTES || get32(h) != SPOOL_MAGIC) {
            (*torn)++;
            break;
        }
        plen = get32(h + 4);
        if (plen > MAX_RECORD || len - off - HDR_BYTES < plen ||
            crc32_of(h + HDR_BYTES, plen) != get32(h + 8)) {
            (*torn)++;
            break;
        }
        memset(&rec, 0, sizeof rec);
        rec.data = (const char *)h + HDR_BYTES;
        rec.len = plen;
        rec.type = h[12];
        rec.binary = (h[13] & FLAG_BINARY) != 0;
        rec.oversize = (h[13] & FLAG_OVERSIZE) != 0;
        rec.total_len = (size_t)get32(h + 16) | (size_t)get32(h + 20) << 32;
        off += HDR_BYTES + plen;
        rec.end.segment = seg;
        rec.end.offset = off;
        err = fn(ctx, &rec);
        if (err != PS_OK)
            break;
    }
    free(buf);
    return err;
}

ps_err ps_spool_replay(ps_spool *sp, ps_spool_replay_fn fn, void *ctx, size_t *torn, ps_errmsg *em)
{
    size_t dummy = 0;
    if (!torn)
        torn = &dummy;
    *torn = 0;
    for (uint32_t seg = sp->first_old; seg < sp->end_old; seg++) {
        ps_err err = replay_segment(sp, seg, fn, ctx, torn, em);
        if (err != PS_OK)
            return err;
    }
    return PS_OK;
}

static void fill_header(unsigned char *h, const ps_spool_record *rec)
{
    put32(h, SPOOL_MAGIC);
    put32(h + 4, (uint32_t)rec->len);
    put32(h + 8, crc32_of(rec->data, rec->len));
    h[12] = (unsigned char)rec->type;
    h[13] = (unsigned char)((rec->binary ? FLAG_BINARY : 0) | (rec->oversize ? FLAG_OVERSIZE : 0));
    h[14] = h[15] = 0;
    put32(h + 16, (uint32_t)rec->total_len);
    put32(h + 20, (uint32_t)((uint64_t)rec->total_len >> 32));
}

#define APPEND_CHUNK 64

ps_err ps_spool_append_many(ps_spool *sp, const ps_spool_record *recs, size_t n, ps_spool_pos *ends,
                            ps_errmsg *em)
{
    unsigned char hdr[APPEND_CHUNK][HDR_BYTES];
    ps_iovec iov[2 * APPEND_CHUNK];
    ps_err err = PS_OK;

    for (size_t i = 0; i < n; i++)
        if (recs[i].len > MAX_RECORD)
            return ps_errmsg_set(em, PS_ERR_RANGE, "record of %zu bytes is too large to spool",
                                 recs[i].len);
    ps_plat_mutex_lock(sp->mu);
    for (size_t base = 0; base < n && err == PS_OK; base += APPEND_CHUNK) {
        size_t m = n - base < APPEND_CHUNK ? n - base : APPEND_CHUNK;
        uint64_t want = 0;
        for (size_t i = 0; i < m; i++)
            want += HDR_BYTES + recs[base + i].len;
        if (sp->cur_size > 0 && sp->cur_size + want > PS_SPOOL_SEGMENT_BYTES) {
            ps_plat_file_close(sp->f);
            sp->f = NULL;
            sp->cur++;
            err = open_segment(sp, em);
            if (err != PS_OK)
                break;
        }
        for (size_t i = 0; i < m; i++) {
            const ps_spool_record *r = &recs[base + i];
            fill_header(hdr[i], r);
            iov[2 * i].base = hdr[i];
            iov[2 * i].len = HDR_BYTES;
            iov[2 * i + 1].base = r->data;
            iov[2 * i + 1].len = r->len;
            sp->cur_size += HDR_BYTES + r->len;
            ends[base + i].segment = sp->cur;
            ends[base + i].offset = sp->cur_size;
        }
        /* One writev per chunk: the kernel keeps it whole if the process dies. */
        err = ps_plat_file_writev(sp->f, iov, 2 * m, em);
    }
    ps_plat_mutex_unlock(sp->mu);
    return err;
}

ps_err ps_spool_append(ps_spool *sp, const ps_spool_record *rec, ps_spool_pos *end, ps_errmsg *em)
{
    return ps_spool_append_many(sp, rec, 1, end, em);
}

static void unlink_segment(const ps_spool *sp, uint32_t seg)
{
    char *path = segment_path(sp, seg);
    if (path) {
        (void)ps_plat_remove(path, NULL);
        free(path);
    }
}

void ps_spool_release(ps_spool *sp, ps_spool_pos upto)
{
    ps_plat_mutex_lock(sp->mu);
    /* Segments before upto's are complete and committed. The current segment also
     * goes once everything in it is committed and it is full enough to rotate. */
    while (sp->oldest < upto.segment && sp->oldest < sp->cur) {
        unlink_segment(sp, sp->oldest);
        sp->oldest++;
    }
    ps_plat_mutex_unlock(sp->mu);
}

void ps_spool_destroy(ps_spool *sp, bool all_committed)
{
    if (!sp)
        return;
    ps_plat_file_close(sp->f);
    if (all_committed && sp->dir && sp->name) {
        for (uint32_t seg = sp->oldest; seg <= sp->cur; seg++)
            unlink_segment(sp, seg);
    }
    ps_plat_mutex_destroy(sp->mu);
    free(sp->dir);
    free(sp->name);
    free(sp);
}
