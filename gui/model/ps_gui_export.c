/* Export of a query's events as CSV or JSON Lines through ps_report. */
#include "ps_gui_export.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <errno.h>
#include <stdio.h>

typedef struct export_ctx {
    ps_report_writer *w;
    ps_err err;
} export_ctx;

static bool write_row(const ps_event_row *row, void *ctx)
{
    export_ctx *c = ctx;
    c->err = ps_report_writer_row(c->w, row);
    return c->err == PS_OK;
}

ps_err ps_gui_export(ps_store *st, const ps_query *q, ps_report_format fmt, const char *path,
                     uint64_t *rows, ps_errmsg *em)
{
    char *tmp = g_strdup_printf("%s.partial", path);
    ps_report_writer w;
    export_ctx c = {&w, PS_OK};
    ps_query all = *q;
    ps_err err;
    /* g_fopen: a UTF-8 name on every platform. */
    FILE *f = g_fopen(tmp, "wb");
    if (!f) {
        err = ps_errmsg_set(em, PS_ERR_IO, "%s cannot be written: %s", tmp, g_strerror(errno));
        goto out;
    }
    all.limit = 0;
    all.want_raw = fmt == PS_REPORT_JSON;
    ps_report_writer_init(&w, f, fmt, 120, true);
    w.audit_columns = q->type == PS_DATA_AUDIT; /* as query does for --type audit */
    err = ps_store_query(st, &all, write_row, &c, em);
    if (err == PS_OK && c.err != PS_OK)
        err = ps_errmsg_set(em, c.err, "%s cannot be written", tmp);
    if (err == PS_OK && (err = ps_report_writer_finish(&w)) != PS_OK)
        ps_errmsg_set(em, err, "%s cannot be written", tmp);
    if (fclose(f) != 0 && err == PS_OK)
        err = ps_errmsg_set(em, PS_ERR_IO, "%s cannot be written: %s", tmp, g_strerror(errno));
    if (err == PS_OK && g_rename(tmp, path) != 0)
        err = ps_errmsg_set(em, PS_ERR_IO, "%s cannot be replaced: %s", path, g_strerror(errno));
    if (err != PS_OK)
        g_remove(tmp);
    else if (rows)
        *rows = w.rows;
out:
    g_free(tmp);
    return err;
}
