#include "podstream/ps_diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_mem.h"

void ps_diag_init(ps_diag *d)
{
    memset(d, 0, sizeof *d);
}

void ps_diag_deinit(ps_diag *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->count; i++) {
        free(d->items[i].file);
        free(d->items[i].path);
        free(d->items[i].msg);
    }
    free(d->items);
    memset(d, 0, sizeof *d);
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

void ps_diag_addv(ps_diag *d, ps_diag_sev sev, const char *file, int line, int col,
                  const char *path, const char *fmt, va_list ap)
{
    char msg[1024];
    ps_diag_item *it;

    if (sev == PS_DIAG_ERROR)
        d->errors++;
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (ps_mem_grow_array((void **)&d->items, &d->cap, d->count, sizeof *d->items) != PS_OK) {
        d->oom = true;
        return;
    }
    it = &d->items[d->count];
    it->sev = sev;
    it->line = line;
    it->col = col;
    it->file = dup_or_null(file);
    it->path = dup_or_null(path);
    it->msg = strdup(msg);
    if ((file && !it->file) || (path && !it->path) || !it->msg) {
        free(it->file);
        free(it->path);
        free(it->msg);
        d->oom = true;
        return;
    }
    d->count++;
}

void ps_diag_add(ps_diag *d, ps_diag_sev sev, const char *file, int line, int col, const char *path,
                 const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ps_diag_addv(d, sev, file, line, col, path, fmt, ap);
    va_end(ap);
}

static int cmp_item(const ps_diag_item *a, const ps_diag_item *b)
{
    int c = strcmp(a->file ? a->file : "", b->file ? b->file : "");
    if (c)
        return c;
    if (a->line != b->line)
        return a->line < b->line ? -1 : 1;
    if (a->col != b->col)
        return a->col < b->col ? -1 : 1;
    return 0;
}

void ps_diag_sort(ps_diag *d)
{
    /* Insertion sort: stable, and diagnostic lists are short. */
    for (size_t i = 1; i < d->count; i++) {
        ps_diag_item key = d->items[i];
        size_t j = i;
        while (j > 0 && cmp_item(&d->items[j - 1], &key) > 0) {
            d->items[j] = d->items[j - 1];
            j--;
        }
        d->items[j] = key;
    }
}

void ps_diag_format(const ps_diag_item *it, char *buf, size_t len)
{
    const char *sev = it->sev == PS_DIAG_ERROR ? "error" : "warning";
    char where[600] = "";

    if (it->file && it->line > 0)
        snprintf(where, sizeof where, "%s:%d:%d: ", it->file, it->line, it->col);
    else if (it->file)
        snprintf(where, sizeof where, "%s: ", it->file);
    if (it->path && *it->path)
        snprintf(buf, len, "%s%s: %s: %s", where, sev, it->path, it->msg);
    else
        snprintf(buf, len, "%s%s: %s", where, sev, it->msg);
}

void ps_diag_print(const ps_diag *d, FILE *out)
{
    char line[2048];
    for (size_t i = 0; i < d->count; i++) {
        ps_diag_format(&d->items[i], line, sizeof line);
        fprintf(out, "%s\n", line);
    }
    if (d->oom)
        fprintf(out, "error: out of memory while collecting diagnostics; some were lost\n");
}
