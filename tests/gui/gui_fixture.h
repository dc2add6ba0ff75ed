/* Fixture databases for the GUI tests, written through the store's write API as
 * the service writes them. */
#ifndef GUI_FIXTURE_H
#define GUI_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

/* Stores `n` message events of `device` in the database at `db` (created when
 * missing): event i has ts 2024-05-22T10:00:00Z plus (first + i) / per_second
 * seconds (so per_second events share each time stamp), sender alice@ or bob@,
 * subject "Invoice <first + i>", disposition accept or reject. Returns false with
 * the reason on stderr. */
bool gui_fixture_events(const char *db, long long device, int first, int n, int per_second);

/* Stores the sendmail lines of message event `i` (as gui_fixture_events made it
 * with `per_second`) on `device`: its reception (from=, 1 s after the message
 * event) and its delivery to carol@corp.example (stat Sent, dsn 2.0.0, 2 s after). */
bool gui_fixture_maillog(const char *db, long long device, int i, int per_second);

/* Writes the live counters of `device` as the service's writer does: state live,
 * events_total `total`, written `age_s` seconds ago. */
bool gui_fixture_counters(const char *db, long long device, const char *name, uint64_t total,
                          int age_s);

/* Writes, as the output runners do, two outputs: "siem" (syslog, enabled) with
 * its cursor at event id `cursor`, 40 delivered, 1 dropped, 2 split, last delivered
 * a minute ago, state sending at 7.5 events/s with last error "connection reset by
 * peer", its live part written `age_s` seconds ago; and "old-hec" (splunk_hec),
 * no longer configured. */
bool gui_fixture_outputs(const char *db, int64_t cursor, int age_s);
/* Rewrites the live part of "siem" as gui_fixture_outputs does, `age_s` seconds ago
 * (its runner's once-a-second write). */
bool gui_fixture_output_state(const char *db, int age_s);

/* Records, as the service's writer does after a reload, configuration `generation`
 * loaded now: accepted, or rejected for `reason` (may be NULL). */
bool gui_fixture_reload(const char *db, uint64_t generation, bool accepted, const char *reason);

/* Removes `dir` and everything below it (a test's scratch directory). */
void gui_fixture_remove_tree(const char *dir);

#endif
