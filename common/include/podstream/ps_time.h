/* ps_time: civil dates, ISO 8601, durations and local time, the one copy that
 * events, queries, status, trace and the configuration share.
 *
 * Times are UTC microseconds since 1970-01-01 (int64_t). Calendar arithmetic is
 * proleptic Gregorian and never reads the time zone; only the functions that say
 * "local" do, through ps_plat_localtime (TZ honoured). Nothing here allocates. */
#ifndef PS_TIME_H
#define PS_TIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "podstream/ps_error.h"

#define PS_TIME_US_PER_S   1000000LL
#define PS_TIME_US_PER_DAY (86400LL * PS_TIME_US_PER_S)

/* ---- civil dates ------------------------------------------------------------------ */

/* True for a Gregorian leap year. */
bool ps_time_is_leap(int64_t year);

/* Days in month `month` (1..12) of `year`; 0 for a month out of range. */
int ps_time_days_in_month(int64_t year, int month);

/* Days since 1970-01-01 of a valid date (negative before). Exact for every year. */
int64_t ps_time_days_from_civil(int64_t year, int month, int day);

/* The date of day `days` since 1970-01-01. */
void ps_time_civil_from_days(int64_t days, int64_t *year, int *month, int *day);

/* ---- ISO 8601 --------------------------------------------------------------------- */

/* The strict form events carry: "2024-05-22T19:10:03.058340Z", 'T', 't' or ' '
 * between date and time, seconds required (60 is a leap second), an optional
 * fraction of 1 to 9 digits (beyond microseconds truncated) and a required offset
 * "Z", "+hhmm" or "+hh:mm". PS_ERR_PARSE otherwise, also for a day the month does
 * not have. */
ps_err ps_time_parse_iso(const char *s, int64_t *out_us);

/* Formats UTC as "2024-05-22T19:10:03.058340Z" into buf (28 bytes needed; cut to
 * len otherwise). Times before 1970 round down, as a clock does. */
void ps_time_format_iso(int64_t us, char *buf, size_t len);

/* ---- durations -------------------------------------------------------------------- */

/* A duration as the configuration and the command line write it: whole numbers
 * with units, largest unit first, each unit at most once: "500ms", "30s", "5m",
 * "1h30m", "2d", "2w" (w d h m s ms). A bare number is seconds. PS_ERR_INVALID
 * when it is not a duration, PS_ERR_RANGE when it overflows int64_t ms. */
ps_err ps_time_parse_duration(const char *s, int64_t *out_ms);

/* The exact inverse for ms >= 0, largest units first, no weeks: "0s", "500ms",
 * "1m30s", "1d1ms". Negative values as "-5ms". */
void ps_time_format_duration(int64_t ms, char *buf, size_t len);

/* A duration rounded for people reading a status line: "850ms", "12.4s",
 * "3m05s", "2h10m", "3d04h". Negative counts as 0. */
void ps_time_format_elapsed(int64_t ms, char *buf, size_t len);

/* ---- local time ------------------------------------------------------------------- */

/* "2024-05-22 14:03:11" (with `seconds`) or "2024-05-22 14:03", in the local time
 * zone, or in UTC with `utc`. False when the local time zone cannot represent the
 * time: buf then holds the UTC text. */
bool ps_time_format_local(int64_t us, bool utc, bool seconds, char *buf, size_t len);

/* A time as an admin writes it on the command line or in the GUI, relative to
 * now_us:
 *   "30s", "15m", "2h", "1h30m", "7d", "2w"  that long before now (a duration as
 *                                            ps_time_parse_duration reads it, but
 *                                            a bare number is refused)
 *   "now", "today", "yesterday"              local midnight for the last two
 *   "2024-05-22", "2024-05-22 14:30", "2024-05-22T14:30:05.123"  local time
 *   the same followed by "Z", "+02:00", "-0700"                 that offset
 * PS_ERR_INVALID with the reason in `em` otherwise; a day the month does not have
 * is named ("'2024-02-31' is not a date: February 2024 has 29 days"). */
ps_err ps_time_parse_when(const char *s, int64_t now_us, int64_t *out_us, ps_errmsg *em);

#endif
