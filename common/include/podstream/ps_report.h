/* ps_report: output for people and for other programs, shared by the CLI (query,
 * trace, status) and the GUI (export): aligned tables fitted to terminal cells,
 * stored events as a table, JSON Lines or CSV, and the time zone label.
 *
 * Nothing here reads the database: rows come from ps_store_query/ps_store_trace. */
#ifndef PS_REPORT_H
#define PS_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "podstream/ps_error.h"
#include "podstream/ps_store.h"

/* ---- terminal text -------------------------------------------------------------- */

/* Terminal-cell width of UTF-8 text (wide East Asian characters count two,
 * combining marks zero, control characters one as they are shown as '?'). */
size_t ps_report_text_width(const char *s);

/* Copies `s` into buf so that it takes at most `cells` terminal cells, ending in
 * "…" when cut, with control characters shown as '?', and pads with spaces to
 * exactly `cells` when `pad`. Never splits a UTF-8 sequence. Returns buf. */
char *ps_report_text_fit(const char *s, size_t cells, bool pad, char *buf, size_t buflen);

/* The time zone times are shown in: "UTC" with `utc`, else the local zone's
 * abbreviation, both when it has summer time ("CET/CEST"), or "local". */
void ps_report_zone_label(bool utc, char *buf, size_t len);

/* ---- aligned tables --------------------------------------------------------------- */

typedef struct ps_report_col {
    const char *title; /* borrowed */
    int width;         /* terminal cells; 0: the column is hidden */
    bool right;        /* right-aligned (numbers) */
    bool clip;         /* longer text is cut with "…"; otherwise it overflows */
} ps_report_col;

/* One line per row, columns separated by one space, no trailing blanks.
 * Caller-owned, nothing to free; `cols` is borrowed and may change between rows
 * (a hidden column stays hidden only if it stays 0). */
typedef struct ps_report_table {
    FILE *out;
    const ps_report_col *cols;
    int ncols;
} ps_report_table;

/* Sets up `t` to write to `out` (borrowed, not closed). */
void ps_report_table_init(ps_report_table *t, FILE *out, const ps_report_col *cols, int ncols);

/* Writes the column titles as a row. */
void ps_report_table_header(const ps_report_table *t);

/* Writes one row: cells[i] for column i (NULL: empty), ncols of them. */
void ps_report_table_row(const ps_report_table *t, const char *const *cells);

/* ---- stored events -------------------------------------------------------------- */

typedef enum ps_report_format {
    PS_REPORT_TABLE = 0, /* aligned columns in local time, fitted to a width */
    PS_REPORT_JSON,      /* the original event JSON, one per line (JSON Lines) */
    PS_REPORT_CSV        /* RFC 4180: header, CRLF, quoted where needed, UTC times */
} ps_report_format;

/* "table", "json", "csv". PS_ERR_INVALID otherwise. */
ps_err ps_report_format_parse(const char *name, ps_report_format *out);

#define PS_REPORT_EVENT_COLS 8

/* Writes events one by one as they arrive (so --follow can stream). Caller-owned;
 * ps_report_writer_init sets it up; nothing to free. */
typedef struct ps_report_writer {
    FILE *out;
    ps_report_format format;
    int width; /* table: total columns to fit (>= 60) */
    bool utc;  /* table: show UTC instead of local time */
    bool header_done;
    ps_report_col cols[PS_REPORT_EVENT_COLS]; /* table: computed columns */
    char time_title[96];                      /* table: "TIME (zone)" */
    uint64_t rows;
    /* csv: add the audit columns (actor, resource, result). Set it when only audit
     * events are written, so that message and maillog CSV keeps its columns. */
    bool audit_columns;
    /* Device names for the table, by id; borrowed, may be NULL. */
    const char *(*device_name)(long long device_id, void *ctx);
    void *device_name_ctx;
} ps_report_writer;

/* Sets up `w` to write to `out` (borrowed, not closed). Table columns are fitted to
 * `width` (60 at least), the queue id shown from 100 columns, the device from 140. */
void ps_report_writer_init(ps_report_writer *w, FILE *out, ps_report_format format, int width,
                           bool utc);

/* Writes one event (the header first when needed). JSON needs row->raw.
 * PS_ERR_IO when the stream fails (e.g. a closed pipe). */
ps_err ps_report_writer_row(ps_report_writer *w, const ps_event_row *row);

/* Writes the header even when there were no rows (table and csv), and flushes. */
ps_err ps_report_writer_finish(ps_report_writer *w);

#endif
