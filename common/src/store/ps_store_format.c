/* ps_store output: events as an aligned table, as JSON lines or as CSV.
 *
 * The table streams (for --follow), so its column widths come from the terminal
 * width alone, never from the data; text is cut by terminal cells, not bytes, so
 * that a Japanese subject does not push the columns after it out of line. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "podstream/ps_platform.h"
#include "store/ps_store_internal.h"

enum { C_TIME, C_DEVICE, C_TYPE, C_QID, C_FROM, C_TO, C_STATUS, C_DETAIL, C__COUNT };

static const char *const col_title[C__COUNT] = {"TIME", "DEVICE", "TYPE",   "QID",
                                                "FROM", "TO",     "STATUS", "SUBJECT / DETAIL"};

ps_err ps_row_format_parse(const char *name, ps_row_format *out)
{
    if (name && strcmp(name, "table") == 0)
        *out = PS_ROW_TABLE;
    else if (name && strcmp(name, "json") == 0)
        *out = PS_ROW_JSON;
    else if (name && strcmp(name, "csv") == 0)
        *out = PS_ROW_CSV;
    else
        return PS_ERR_INVALID;
    return PS_OK;
}

/* ---- terminal cells ---------------------------------------------------------------- */

/* Decodes one UTF-8 sequence; *cp = 0xFFFD and length 1 for a bad byte. */
static size_t utf8_next(const unsigned char *s, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t v;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        v = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        v = c & 0x07;
    } else {
        *cp = 0xFFFD;
        return 1;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = 0xFFFD;
            return 1;
        }
        v = (v << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && v < 0x800) || (n == 4 && (v < 0x10000 || v > 0x10FFFF)) ||
        (v >= 0xD800 && v <= 0xDFFF)) {
        *cp = 0xFFFD;
        return 1;
    }
    *cp = v;
    return n;
}

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

size_t ps_text_width(const char *s)
{
    size_t w = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (p && *p) {
        uint32_t cp;
        p += utf8_next(p, &cp);
        w += (size_t)cp_width(cp);
    }
    return w;
}

char *ps_text_fit(const char *s, size_t cells, bool pad, char *buf, size_t buflen)
{
    static const char ell[] = "\xE2\x80\xA6"; /* U+2026 */
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t total = ps_text_width((const char *)p);
    size_t limit = total <= cells ? cells : (cells > 0 ? cells - 1 : 0);
    size_t w = 0, o = 0;
    if (buflen == 0)
        return buf;
    while (*p) {
        uint32_t cp;
        size_t n = utf8_next(p, &cp);
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

/* ---- times ---------------------------------------------------------------------- */

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    int64_t era, doe, yoe, doy, mp;
    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static void format_utc(int64_t us, char *buf, size_t len)
{
    int64_t secs = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
    int64_t frac = us - secs * 1000000;
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t rem = secs - days * 86400;
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", y, m, d, (int)(rem / 3600),
             (int)(rem / 60 % 60), (int)(rem % 60), (int)frac);
}

static void format_table_time(const ps_row_writer *w, int64_t us, char *buf, size_t len)
{
    struct tm tm;
    int64_t secs = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
    if (w->utc || !ps_plat_localtime(secs, &tm)) {
        char iso[40];
        format_utc(us, iso, sizeof iso);
        iso[10] = ' ';
        iso[19] = '\0';
        snprintf(buf, len, "%s", iso);
        return;
    }
    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

/* ---- writer ---------------------------------------------------------------------- */

void ps_row_writer_init(ps_row_writer *w, FILE *out, ps_row_format format, int width, bool utc)
{
    int flex, fixed = 0, gaps = -1;
    memset(w, 0, sizeof *w);
    w->out = out;
    w->format = format;
    w->utc = utc;
    w->width = width < 60 ? 60 : width;
    w->col_w[C_TIME] = 19;
    w->col_w[C_TYPE] = 4;
    w->col_w[C_STATUS] = 10;
    w->col_w[C_QID] = w->width >= 100 ? 14 : 0;
    w->col_w[C_DEVICE] = w->width >= 140 ? 12 : 0;
    for (int i = 0; i < C__COUNT; i++)
        if (w->col_w[i] > 0 || i == C_FROM || i == C_TO || i == C_DETAIL) {
            fixed += w->col_w[i];
            gaps++;
        }
    flex = w->width - fixed - gaps;
    w->col_w[C_FROM] = flex * 3 / 10;
    w->col_w[C_TO] = flex * 3 / 10;
    w->col_w[C_DETAIL] = flex - w->col_w[C_FROM] - w->col_w[C_TO];
}

static ps_err io_check(ps_row_writer *w)
{
    return ferror(w->out) ? PS_ERR_IO : PS_OK;
}

static void table_cells(ps_row_writer *w, const char *const cells[C__COUNT])
{
    char buf[1024];
    bool first = true;
    int last = C__COUNT - 1;
    while (last > 0 && w->col_w[last] == 0)
        last--;
    for (int i = 0; i < C__COUNT; i++) {
        if (w->col_w[i] == 0)
            continue;
        if (!first)
            fputc(' ', w->out);
        first = false;
        /* No padding after the last column: no trailing blanks in the output. */
        fputs(ps_text_fit(cells[i], (size_t)w->col_w[i], i != last, buf, sizeof buf), w->out);
    }
    fputc('\n', w->out);
}

void ps_row_zone_label(bool utc, char *buf, size_t len)
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

static void table_header(ps_row_writer *w)
{
    const char *cells[C__COUNT];
    char tz[80];
    char time_title[96];
    ps_row_zone_label(w->utc, tz, sizeof tz);
    snprintf(time_title, sizeof time_title, "TIME (%s)", tz);
    for (int i = 0; i < C__COUNT; i++)
        cells[i] = col_title[i];
    cells[C_TIME] = time_title;
    table_cells(w, cells);
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

static void table_row(ps_row_writer *w, const ps_event_row *r)
{
    const char *cells[C__COUNT];
    char when[40], dev[160], status[64], detail[1200];
    const char *const *t = r->text;
    format_table_time(w, r->ts_us, when, sizeof when);
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
    } else {
        snprintf(status, sizeof status, "%s", t[PS_EF_DISPOSITION] ? t[PS_EF_DISPOSITION] : "");
        snprintf(detail, sizeof detail, "%s", t[PS_EF_SUBJECT] ? t[PS_EF_SUBJECT] : "");
    }
    cells[C_STATUS] = status;
    cells[C_DETAIL] = detail;
    table_cells(w, cells);
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

/* CSV columns: time first, then what identifies the event, then the typed fields
 * in schema order. */
static void csv_header(ps_row_writer *w)
{
    fputs("time,device_id,type,key", w->out);
    for (int i = 0; i < PS_EF__COUNT; i++)
        fprintf(w->out, ",%s", ps_store_field_col[i]);
    fputs(",spam_score,size_bytes,tags\r\n", w->out);
}

static void csv_row(ps_row_writer *w, const ps_event_row *r)
{
    char buf[64];
    format_utc(r->ts_us, buf, sizeof buf);
    csv_field(w->out, buf, false);
    snprintf(buf, sizeof buf, "%lld", r->device_id);
    csv_field(w->out, buf, false);
    csv_field(w->out,
              r->type == PS_DATA_MESSAGE   ? "message"
              : r->type == PS_DATA_MAILLOG ? "maillog"
                                           : "audit",
              false);
    csv_field(w->out, r->key, false);
    for (int i = 0; i < PS_EF__COUNT; i++)
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

ps_err ps_row_writer_row(ps_row_writer *w, const ps_event_row *row)
{
    switch (w->format) {
    case PS_ROW_TABLE:
        if (!w->header_done)
            table_header(w);
        w->header_done = true;
        table_row(w, row);
        break;
    case PS_ROW_CSV:
        if (!w->header_done)
            csv_header(w);
        w->header_done = true;
        csv_row(w, row);
        break;
    case PS_ROW_JSON:
        if (!row->raw)
            return PS_ERR_INTERNAL;
        fwrite(row->raw, 1, row->raw_len, w->out);
        fputc('\n', w->out);
        break;
    }
    w->rows++;
    return io_check(w);
}

ps_err ps_row_writer_finish(ps_row_writer *w)
{
    if (!w->header_done && w->format == PS_ROW_TABLE)
        table_header(w);
    else if (!w->header_done && w->format == PS_ROW_CSV)
        csv_header(w);
    w->header_done = true;
    if (fflush(w->out) != 0)
        return PS_ERR_IO;
    return io_check(w);
}
