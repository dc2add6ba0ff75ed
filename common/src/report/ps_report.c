/* ps_report: aligned tables, and events as a table, as JSON lines or as CSV.
 *
 * The event table streams (for --follow), so its column widths come from the
 * terminal width alone, never from the data; text is cut by terminal cells, not
 * bytes, so that a Japanese subject does not push the columns after it out of
 * line. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "podstream/ps_platform.h"
#include "podstream/ps_utf8.h"
#include "podstream/ps_report.h"
#include "podstream/ps_time.h"

ps_err ps_report_format_parse(const char *name, ps_report_format *out)
{
    if (name && strcmp(name, "table") == 0)
        *out = PS_REPORT_TABLE;
    else if (name && strcmp(name, "json") == 0)
        *out = PS_REPORT_JSON;
    else if (name && strcmp(name, "csv") == 0)
        *out = PS_REPORT_CSV;
    else
        return PS_ERR_INVALID;
    return PS_OK;
}

/* ---- terminal cells ---------------------------------------------------------------- */

static int cp_width(uint32_t cp)
{
    static const uint32_t zero[][2] = {
        {0x0300, 0x036F}, {0x0483, 0x0489}, {0x0591, 0x05BD},  {0x0610, 0x061A}, {0x064B, 0x065F},
        {0x200B, 0x200F}, {0x2028, 0x202E}, {0x2060, 0x2064},  {0x20D0, 0x20FF}, {0xFE00, 0xFE0F},
        {0xFE20, 0xFE2F}, {0xFEFF, 0xFEFF}, {0xE0100, 0xE01EF}};
    static const uint32_t wide[][2] = {
        {0x1100, 0x115F},   {0x231A, 0x231B},   {0x2329, 0x232A},   {0x23E9, 0x23EC},
        {0x25FD, 0x25FE},   {0x2614, 0x2615},   {0x2648, 0x2653},   {0x26AA, 0x26AB},
        {0x26BD, 0x26BE},   {0x26C4, 0x26C5},   {0x2705, 0x2705},   {0x270A, 0x270B},
        {0x2E80, 0x303E},   {0x3041, 0x33FF},   {0x3400, 0x4DBF},   {0x4E00, 0x9FFF},
        {0xA000, 0xA4CF},   {0xA960, 0xA97F},   {0xAC00, 0xD7A3},   {0xF900, 0xFAFF},
        {0xFE10, 0xFE19},   {0xFE30, 0xFE6F},   {0xFF00, 0xFF60},   {0xFFE0, 0xFFE6},
        {0x1F004, 0x1F004}, {0x1F0CF, 0x1F0CF}, {0x1F18E, 0x1F18E}, {0x1F191, 0x1F19A},
        {0x1F200, 0x1F251}, {0x1F300, 0x1F64F}, {0x1F680, 0x1F6FF}, {0x1F900, 0x1F9FF},
        {0x1FA70, 0x1FAFF}, {0x20000, 0x2FFFD}, {0x30000, 0x3FFFD}};
    if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0))
        return 1; /* shown as '?' */
    for (size_t i = 0; i < sizeof zero / sizeof zero[0]; i++)
        if (cp >= zero[i][0] && cp <= zero[i][1])
            return 0;
    for (size_t i = 0; i < sizeof wide / sizeof wide[0]; i++)
        if (cp >= wide[i][0] && cp <= wide[i][1])
            return 2;
    return 1;
}

size_t ps_report_text_width(const char *s)
{
    size_t w = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (p && *p) {
        uint32_t cp;
        p += ps_utf8_decode((const char *)p, PS_UTF8_MAX, &cp);
        w += (size_t)cp_width(cp);
    }
    return w;
}

char *ps_report_text_fit(const char *s, size_t cells, bool pad, char *buf, size_t buflen)
{
    static const char ell[] = "\xE2\x80\xA6"; /* U+2026 */
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t total = ps_report_text_width((const char *)p);
    size_t limit = total <= cells ? cells : (cells > 0 ? cells - 1 : 0);
    size_t w = 0, o = 0;
    if (buflen == 0)
        return buf;
    while (*p) {
        uint32_t cp;
        size_t n = ps_utf8_decode((const char *)p, PS_UTF8_MAX, &cp);
        int cw = cp_width(cp);
        bool ctrl = cp < 0x20 || (cp >= 0x7F && cp < 0xA0) || cp == 0xFFFD;
        size_t outn = ctrl ? 1 : n;
        if (w + (size_t)cw > limit || o + outn + 4 >= buflen)
            break;
        if (ctrl)
            buf[o++] = '?';
        else {
            memcpy(buf + o, p, n);
            o += n;
        }
        w += (size_t)cw;
        p += n;
    }
    if (total > cells && cells > 0 && o + 3 < buflen) {
        memcpy(buf + o, ell, 3);
        o += 3;
        w++;
    }
    while (pad && w < cells && o + 1 < buflen) {
        buf[o++] = ' ';
        w++;
    }
    buf[o] = '\0';
    return buf;
}

/* ---- zone ----------------------------------------------------------------------- */

void ps_report_zone_label(bool utc, char *buf, size_t len)
{
    struct tm now, jan, jul;
    char a[32] = "", b[32] = "";
    int64_t year_start;
    if (utc) {
        snprintf(buf, len, "UTC");
        return;
    }
    if (!ps_plat_localtime(ps_plat_now_us() / 1000000, &now)) {
        snprintf(buf, len, "local");
        return;
    }
    /* Any instant in January and in July of this year. */
    year_start = ps_plat_now_us() / 1000000 - (int64_t)now.tm_yday * 86400;
    if (!ps_plat_localtime(year_start + 14 * 86400, &jan) ||
        !ps_plat_localtime(year_start + 195 * 86400, &jul) ||
        strftime(a, sizeof a, "%Z", &jan) == 0 || strftime(b, sizeof b, "%Z", &jul) == 0) {
        snprintf(buf, len, "local");
        return;
    }
    if (strcmp(a, b) == 0)
        snprintf(buf, len, "%s", a);
    else if (jan.tm_isdst > 0)
        snprintf(buf, len, "%s/%s", b, a); /* southern hemisphere: standard time in July */
    else
        snprintf(buf, len, "%s/%s", a, b);
}

/* ---- aligned tables --------------------------------------------------------------- */

void ps_report_table_init(ps_report_table *t, FILE *out, const ps_report_col *cols, int ncols)
{
    t->out = out;
    t->cols = cols;
    t->ncols = ncols;
}

static void pad(FILE *out, size_t n)
{
    while (n-- > 0)
        fputc(' ', out);
}

/* One cell: fitted when the column clips, padded to the width unless it is the
 * last one and left-aligned (no trailing blanks in the output). */
static void table_cell(FILE *out, const ps_report_col *c, const char *v, bool last)
{
    char buf[1024];
    size_t width = (size_t)c->width, w;
    if (!v)
        v = "";
    if (c->clip)
        v = ps_report_text_fit(v, width, false, buf, sizeof buf);
    w = ps_report_text_width(v);
    if (c->right && w < width)
        pad(out, width - w);
    fputs(v, out);
    if (!c->right && !last && w < width)
        pad(out, width - w);
}

void ps_report_table_row(const ps_report_table *t, const char *const *cells)
{
    bool first = true;
    int last = t->ncols - 1;
    while (last > 0 && t->cols[last].width == 0)
        last--;
    for (int i = 0; i < t->ncols; i++) {
        if (t->cols[i].width == 0)
            continue;
        if (!first)
            fputc(' ', t->out);
        first = false;
        table_cell(t->out, &t->cols[i], cells[i], i == last);
    }
    fputc('\n', t->out);
}

void ps_report_table_header(const ps_report_table *t)
{
    const char *titles[64];
    int n = t->ncols < 64 ? t->ncols : 64;
    for (int i = 0; i < n; i++)
        titles[i] = t->cols[i].title;
    ps_report_table cut = *t;
    cut.ncols = n;
    ps_report_table_row(&cut, titles);
}

/* ---- events ------------------------------------------------------------------------ */

enum { C_TIME, C_DEVICE, C_TYPE, C_QID, C_FROM, C_TO, C_STATUS, C_DETAIL, C__COUNT };

static const char *const col_title[C__COUNT] = {"TIME", "DEVICE", "TYPE",   "QID",
                                                "FROM", "TO",     "STATUS", "SUBJECT / DETAIL"};

void ps_report_writer_init(ps_report_writer *w, FILE *out, ps_report_format format, int width,
                           bool utc)
{
    int flex, fixed = 0, gaps = -1;
    int *cw[C__COUNT];
    memset(w, 0, sizeof *w);
    w->out = out;
    w->format = format;
    w->utc = utc;
    w->width = width < 60 ? 60 : width;
    for (int i = 0; i < C__COUNT; i++) {
        w->cols[i].title = col_title[i];
        w->cols[i].clip = true;
        cw[i] = &w->cols[i].width;
    }
    *cw[C_TIME] = 19;
    *cw[C_TYPE] = 4;
    *cw[C_STATUS] = 10;
    *cw[C_QID] = w->width >= 100 ? 14 : 0;
    *cw[C_DEVICE] = w->width >= 140 ? 12 : 0;
    for (int i = 0; i < C__COUNT; i++)
        if (*cw[i] > 0 || i == C_FROM || i == C_TO || i == C_DETAIL) {
            fixed += *cw[i];
            gaps++;
        }
    flex = w->width - fixed - gaps;
    *cw[C_FROM] = flex * 3 / 10;
    *cw[C_TO] = flex * 3 / 10;
    *cw[C_DETAIL] = flex - *cw[C_FROM] - *cw[C_TO];
}

static ps_err io_check(ps_report_writer *w)
{
    return ferror(w->out) ? PS_ERR_IO : PS_OK;
}

static void table_header(ps_report_writer *w)
{
    ps_report_table t;
    char tz[80];
    ps_report_zone_label(w->utc, tz, sizeof tz);
    snprintf(w->time_title, sizeof w->time_title, "TIME (%s)", tz);
    w->cols[C_TIME].title = w->time_title;
    ps_report_table_init(&t, w->out, w->cols, C__COUNT);
    ps_report_table_header(&t);
}

static const char *type_label(ps_data_type t)
{
    switch (t) {
    case PS_DATA_MESSAGE:
        return "msg";
    case PS_DATA_MAILLOG:
        return "log";
    case PS_DATA_AUDIT:
        return "aud";
    }
    return "?";
}

static void table_row(ps_report_writer *w, const ps_event_row *r)
{
    const char *cells[C__COUNT];
    char when[40], dev[160], status[64], detail[1200];
    const char *const *t = r->text;
    ps_report_table tab;
    ps_time_format_local(r->ts_us, w->utc, true, when, sizeof when);
    if (w->device_name && w->device_name(r->device_id, w->device_name_ctx))
        snprintf(dev, sizeof dev, "%s", w->device_name(r->device_id, w->device_name_ctx));
    else
        snprintf(dev, sizeof dev, "%lld", r->device_id);
    cells[C_TIME] = when;
    cells[C_DEVICE] = dev;
    cells[C_TYPE] = type_label(r->type);
    cells[C_QID] = t[PS_EF_QID] ? t[PS_EF_QID] : "";
    cells[C_FROM] = t[PS_EF_SENDER] ? t[PS_EF_SENDER] : "";
    cells[C_TO] = t[PS_EF_RECIPIENTS] ? t[PS_EF_RECIPIENTS] : "";
    if (r->type == PS_DATA_MAILLOG) {
        /* sendmail: `from=` lines (reception) have no stat; `to=` lines say what
         * happened to the delivery, and to whom it was relayed. */
        const char *stat = t[PS_EF_STAT];
        if (stat) {
            size_t n = strcspn(stat, " (:");
            snprintf(status, sizeof status, "%.*s", (int)(n < 60 ? n : 60), stat);
            snprintf(detail, sizeof detail, "%s%s%s%s", t[PS_EF_DSN] ? "dsn=" : "",
                     t[PS_EF_DSN] ? t[PS_EF_DSN] : "", t[PS_EF_DSN] ? " " : "", stat);
            if (t[PS_EF_RELAY]) {
                size_t used = strlen(detail);
                snprintf(detail + used, sizeof detail - used, " relay=%s", t[PS_EF_RELAY]);
            }
        } else {
            snprintf(status, sizeof status, "%s", t[PS_EF_SENDER] ? "received" : "");
            snprintf(detail, sizeof detail, "%s%s", t[PS_EF_MESSAGE_ID] ? "msgid=" : "",
                     t[PS_EF_MESSAGE_ID] ? t[PS_EF_MESSAGE_ID] : "");
        }
    } else if (r->type == PS_DATA_AUDIT) {
        /* Who did what to which resource, from where, and whether it worked. */
        cells[C_FROM] = t[PS_EF_ACTOR] ? t[PS_EF_ACTOR] : "";
        cells[C_TO] = t[PS_EF_RESOURCE] ? t[PS_EF_RESOURCE] : "";
        snprintf(status, sizeof status, "%s", t[PS_EF_RESULT] ? t[PS_EF_RESULT] : "");
        snprintf(detail, sizeof detail, "%s%s%s", t[PS_EF_ACTION] ? t[PS_EF_ACTION] : "",
                 t[PS_EF_CLIENT_IP] ? " from " : "", t[PS_EF_CLIENT_IP] ? t[PS_EF_CLIENT_IP] : "");
    } else {
        snprintf(status, sizeof status, "%s", t[PS_EF_DISPOSITION] ? t[PS_EF_DISPOSITION] : "");
        snprintf(detail, sizeof detail, "%s", t[PS_EF_SUBJECT] ? t[PS_EF_SUBJECT] : "");
    }
    cells[C_STATUS] = status;
    cells[C_DETAIL] = detail;
    ps_report_table_init(&tab, w->out, w->cols, C__COUNT);
    ps_report_table_row(&tab, cells);
}

static void csv_field(FILE *out, const char *v, bool last)
{
    if (v && v[strcspn(v, ",\"\r\n")] != '\0') {
        fputc('"', out);
        for (const char *p = v; *p; p++) {
            if (*p == '"')
                fputc('"', out);
            fputc(*p, out);
        }
        fputc('"', out);
    } else if (v) {
        fputs(v, out);
    }
    fputs(last ? "\r\n" : ",", out);
}

/* The typed fields a CSV row has: those of message and maillog, and the audit
 * ones after them only when asked (scripts read the columns by position). */
static int csv_fields(const ps_report_writer *w)
{
    return w->audit_columns ? PS_EF__COUNT : PS_EF_RELAY + 1;
}

/* CSV columns: time first, then what identifies the event, then the typed fields
 * in schema order. */
static void csv_header(ps_report_writer *w)
{
    fputs("time,device_id,type,key", w->out);
    for (int i = 0; i < csv_fields(w); i++)
        fprintf(w->out, ",%s", ps_event_field_name((ps_event_field)i));
    fputs(",spam_score,size_bytes,tags\r\n", w->out);
}

static void csv_row(ps_report_writer *w, const ps_event_row *r)
{
    char buf[64];
    ps_time_format_iso(r->ts_us, buf, sizeof buf);
    csv_field(w->out, buf, false);
    snprintf(buf, sizeof buf, "%lld", r->device_id);
    csv_field(w->out, buf, false);
    csv_field(w->out,
              r->type == PS_DATA_MESSAGE   ? "message"
              : r->type == PS_DATA_MAILLOG ? "maillog"
                                           : "audit",
              false);
    csv_field(w->out, r->key, false);
    for (int i = 0; i < csv_fields(w); i++)
        csv_field(w->out, r->text[i], false);
    if (r->has_spam_score) {
        snprintf(buf, sizeof buf, "%.15g", r->spam_score);
        csv_field(w->out, buf, false);
    } else {
        csv_field(w->out, NULL, false);
    }
    if (r->has_size) {
        snprintf(buf, sizeof buf, "%lld", (long long)r->size_bytes);
        csv_field(w->out, buf, false);
    } else {
        csv_field(w->out, NULL, false);
    }
    csv_field(w->out, r->tags, true);
}

ps_err ps_report_writer_row(ps_report_writer *w, const ps_event_row *row)
{
    switch (w->format) {
    case PS_REPORT_TABLE:
        if (!w->header_done)
            table_header(w);
        w->header_done = true;
        table_row(w, row);
        break;
    case PS_REPORT_CSV:
        if (!w->header_done)
            csv_header(w);
        w->header_done = true;
        csv_row(w, row);
        break;
    case PS_REPORT_JSON:
        if (!row->raw)
            return PS_ERR_INTERNAL;
        fwrite(row->raw, 1, row->raw_len, w->out);
        fputc('\n', w->out);
        break;
    }
    w->rows++;
    return io_check(w);
}

ps_err ps_report_writer_finish(ps_report_writer *w)
{
    if (!w->header_done && w->format == PS_REPORT_TABLE)
        table_header(w);
    else if (!w->header_done && w->format == PS_REPORT_CSV)
        csv_header(w);
    w->header_done = true;
    if (fflush(w->out) != 0)
        return PS_ERR_IO;
    return io_check(w);
}
