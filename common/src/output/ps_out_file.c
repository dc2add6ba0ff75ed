/* The File output: JSON Lines for any agent to tail (Wazuh, Splunk UF, Elastic
 * Agent), rotated by size and age, a number of rotated files kept.
 *
 * A batch is one gathered write of whole lines, then an fsync before the batch is
 * acknowledged: after a crash the file holds every acknowledged event, and at most
 * the batch under way again (at least once). Rotation renames path to path.1
 * (path.1 to path.2 ...), the way logrotate does, so a tailer that follows the
 * name (tail -F, Filebeat, the UF) reads on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output/ps_output_internal.h"
#include "podstream/ps_log.h"
#include "podstream/ps_platform.h"

#define FILE_MODE 0640u

typedef struct file_opts {
    char *path;
    uint64_t rotate_bytes;
    int64_t rotate_interval_ms;
    long long keep;
    bool fsync;
} file_opts;

typedef struct file_out {
    const file_opts *o;
    ps_file *f;
    uint64_t size;
    int64_t opened_us; /* when the current file was started */
    ps_iovec *iov;
    size_t iov_cap;
} file_out;

static ps_err file_open(file_out *fo, ps_errmsg *em)
{
    char *dir = ps_plat_dir_name(fo->o->path);
    ps_err err = dir ? ps_plat_mkdirs(dir, 0750, em) : PS_ERR_NOMEM;
    free(dir);
    if (err != PS_OK)
        return err;
    if ((err = ps_plat_file_open_append(fo->o->path, FILE_MODE, &fo->f, em)) != PS_OK)
        return err;
    if (ps_plat_file_size(fo->o->path, &fo->size) != PS_OK)
        fo->size = 0;
    fo->opened_us = ps_plat_now_us();
    return PS_OK;
}

static char *numbered(const char *path, long long n)
{
    size_t len = strlen(path) + 24;
    char *p = malloc(len);
    if (p)
        snprintf(p, len, "%s.%lld", path, n);
    return p;
}

/* path -> path.1 -> ... -> path.keep; the oldest beyond keep is deleted. */
static ps_err rotate(file_out *fo, ps_errmsg *em)
{
    ps_err err = PS_OK;
    char *last = numbered(fo->o->path, fo->o->keep);
    if (!last)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    if (fo->o->fsync && (err = ps_plat_file_sync(fo->f, em)) != PS_OK) {
        free(last);
        return err;
    }
    ps_plat_file_close(fo->f);
    fo->f = NULL;
    (void)ps_plat_remove(last, NULL);
    free(last);
    for (long long i = fo->o->keep - 1; i >= 0 && err == PS_OK; i--) {
        char *from = i == 0 ? strdup(fo->o->path) : numbered(fo->o->path, i);
        char *to = numbered(fo->o->path, i + 1);
        if (!from || !to)
            err = ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
        else if (ps_plat_file_exists(from))
            err = ps_plat_rename_new(from, to, em);
        free(from);
        free(to);
    }
    if (fo->o->keep == 0)
        (void)ps_plat_remove(fo->o->path, NULL);
    if (err == PS_OK)
        err = file_open(fo, em);
    return err;
}

static bool due(const file_out *fo, size_t next)
{
    if (fo->size == 0)
        return false;
    if (fo->o->rotate_bytes && fo->size + next > fo->o->rotate_bytes)
        return true;
    return fo->o->rotate_interval_ms > 0 &&
           ps_plat_now_us() - fo->opened_us >= fo->o->rotate_interval_ms * 1000;
}

/* Writes events [from, to) as lines in one gathered write. */
static ps_err write_lines(file_out *fo, const ps_output_batch *b, size_t from, size_t to,
                          ps_errmsg *em)
{
    size_t n = 0;
    ps_err err;
    if (fo->iov_cap < 2 * (to - from)) {
        ps_iovec *v = realloc(fo->iov, 2 * (to - from) * sizeof *v);
        if (!v)
            return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
        fo->iov = v;
        fo->iov_cap = 2 * (to - from);
    }
    for (size_t i = from; i < to; i++) {
        fo->iov[n++] = (ps_iovec){b->events[i].json, b->events[i].json_len};
        fo->iov[n++] = (ps_iovec){"\n", 1};
    }
    for (size_t done = 0; done < n; done += 1024) {
        size_t cnt = n - done < 1024 ? n - done : 1024;
        if ((err = ps_plat_file_writev(fo->f, fo->iov + done, cnt, em)) != PS_OK)
            return err;
    }
    for (size_t i = from; i < to; i++)
        fo->size += b->events[i].json_len + 1;
    return PS_OK;
}

static void file_deliver(void *inst, const ps_output_batch *b, ps_output_result *res)
{
    file_out *fo = inst;
    ps_errmsg em;
    ps_err err = PS_OK;
    size_t from = 0;
    em.text[0] = '\0';
    if (!fo->f && (err = file_open(fo, &em)) != PS_OK)
        res->nothing_sent = true;
    /* Whole events only in each file: rotate between events when the next one would
     * pass the size. */
    while (err == PS_OK && from < b->count) {
        size_t to = from, bytes = 0;
        if (due(fo, b->events[from].json_len + 1) && (err = rotate(fo, &em)) != PS_OK)
            break;
        while (to < b->count &&
               (to == from || !fo->o->rotate_bytes ||
                fo->size + bytes + b->events[to].json_len + 1 <= fo->o->rotate_bytes)) {
            bytes += b->events[to].json_len + 1;
            to++;
        }
        err = write_lines(fo, b, from, to, &em);
        from = to;
    }
    if (err == PS_OK && fo->o->fsync)
        err = ps_plat_file_sync(fo->f, &em);
    if (err == PS_OK) {
        res->status = PS_OUTPUT_DELIVERED;
        res->delivered_id = b->events[b->count - 1].id;
        return;
    }
    /* Reopen next time: a full disk or a removed directory may come right. */
    ps_plat_file_close(fo->f);
    fo->f = NULL;
    res->status = PS_OUTPUT_RETRY;
    snprintf(res->message, sizeof res->message, "%.*s", (int)sizeof res->message - 1, em.text);
}

static ps_err file_create(const ps_output_env *env, const void *options, ps_output_limits *limits,
                          void **out, ps_errmsg *em)
{
    file_out *fo = calloc(1, sizeof *fo);
    (void)env;
    (void)limits;
    if (!fo)
        return ps_errmsg_set(em, PS_ERR_NOMEM, "out of memory");
    fo->o = options;
    *out = fo;
    return PS_OK;
}

static void file_destroy(void *inst)
{
    file_out *fo = inst;
    if (!fo)
        return;
    if (fo->f && fo->o->fsync)
        (void)ps_plat_file_sync(fo->f, NULL);
    ps_plat_file_close(fo->f);
    free(fo->iov);
    free(fo);
}

#define MS_H (3600LL * 1000LL)

static const ps_schema_field file_fields[] = {
    {.name = "path",
     .type = PS_SCHEMA_PATH,
     .group = "File",
     .required = true,
     .description = "The JSON Lines file, one event per line (mode 0640; its directory is "
                    "created 0750).",
     PSO_MEMBER(file_opts, path)},
    {.name = "rotate_size",
     .type = PS_SCHEMA_SIZE,
     .group = "File",
     .def = "100MiB",
     PSO_RANGE(0, 1LL << 40),
     .description = "Start a new file before this size would be passed (whole lines only); "
                    "0: never by size.",
     PSO_MEMBER(file_opts, rotate_bytes)},
    {.name = "rotate_interval",
     .type = PS_SCHEMA_DURATION,
     .group = "File",
     .def = "1d",
     PSO_RANGE(0, 366 * 24 * MS_H),
     .description = "Start a new file when the current one is this old; 0: never by age.",
     PSO_MEMBER(file_opts, rotate_interval_ms)},
    {.name = "keep",
     .type = PS_SCHEMA_INT,
     .group = "File",
     .def = "7",
     PSO_RANGE(0, 1000),
     .description = "Rotated files kept (path.1 the newest); older ones are deleted.",
     PSO_MEMBER(file_opts, keep)},
    {.name = "fsync",
     .type = PS_SCHEMA_BOOL,
     .group = "File",
     .def = "true",
     .description = "Sync each batch to the disk before it counts as delivered, and each "
                    "file before it is rotated. `false` is faster; a power cut may then lose "
                    "the last batches from the file (not from the database).",
     PSO_MEMBER(file_opts, fsync)},
};
static const ps_schema_table file_table = PSO_TABLE("output.file", file_fields);

const ps_output_plugin ps_out_file_plugin = {
    .name = "file",
    .summary = "JSON Lines in a file, rotated by size and age, for an agent to tail.",
    .options = &file_table,
    .options_size = sizeof(file_opts),
    .max_batch_events = 0,
    .max_batch_bytes = 0,
    .max_event_bytes = 0,
    .oversized_default = PS_OUTPUT_OVERSIZED_SPLIT,
    .check = NULL,
    .create = file_create,
    .deliver = file_deliver,
    .destroy = file_destroy,
};
