#!/usr/bin/env bash
# `podstream repair` on a real database: a sound one is left alone, a running
# service (its lock held) is refused, and one with a page of events overwritten
# is rebuilt: the readable events saved, the lost ones counted, the damaged file
# kept, and the device's resume state marked for a backfill of what was lost.
#
# The database (2,000 maillog events of device 1 and its resume state) is written
# through the store API by test_store_health; the damage is done with the store
# closed, as a disk or a copy would do it.
set -euo pipefail

: "${PODSTREAM:?set PODSTREAM to the podstream binary}"
: "${PS_BINARY_DIR:?set PS_BINARY_DIR to the build directory}"
FIXTURE="$PS_BINARY_DIR/tests/unit/store/test_store_health"
[ -x "$FIXTURE" ] || { echo "FAIL: $FIXTURE is missing (build the tests)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/ps_cli_repair.XXXXXX)
holder=
cleanup() {
    [ -n "$holder" ] && kill "$holder" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
db="$tmp/pod.db"
PS_STORE_HEALTH_FIXTURE="$db" "$FIXTURE"
unset PODSTREAM_CONFIG_DIR
export TZ=UTC

# shellcheck source=tests/cli/cli_lib.sh
. "$(dirname "$0")/cli_lib.sh"

q() { sqlite3 "$db" "$1"; }

# A sound database: nothing to do, nothing moved.
run sound 0 repair --db "$db"
has_text "$last.stdout" "$db: no damage found (quick_check ok); nothing to repair"
[ -z "$(ls "$tmp" | grep corrupt || true)" ] || fail "a sound database was moved aside"

# A running service holds the lock beside the database: refused.
/usr/bin/python3 -c 'import fcntl, sys, time
f = open(sys.argv[1], "a")
fcntl.flock(f, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
time.sleep(60)' "$db.lock" "$tmp/held" &
holder=$!
for _ in $(seq 50); do [ -e "$tmp/held" ] && break; sleep 0.1; done
run locked 1 repair --db "$db"
has_text "$last.stderr" "podstream repair: another podstream is already running on this database ($db.lock is locked); stop the service first"
kill "$holder"
wait "$holder" 2>/dev/null || true
holder=

# Zeros over one leaf page of the events table, with nothing open.
page=$(q "SELECT pageno FROM dbstat WHERE name = 'events' AND pagetype = 'leaf' ORDER BY pageno LIMIT 1 OFFSET 10")
on_page=$(q "SELECT ncell FROM dbstat WHERE pageno = $page")
dd if=/dev/zero of="$db" bs="$(q 'PRAGMA page_size')" seek=$((page - 1)) count=1 conv=notrunc 2>/dev/null
[ "$(q 'PRAGMA quick_check' 2>&1)" != ok ] || fail "the damage did not take"
run query_damaged 1 query --db "$db" --limit 0 --format csv
has_text "$last.stderr" "database disk image is malformed"

run repair 0 repair --db "$db" --utc
has_text "$last.stderr" "podstream repair: $db: the database is damaged"
has_text "$last.stdout" "Rebuilding $db from what can still be read ..."
has_text "$last.stdout" "Rebuilt $db:"
has_text "$last.stdout" "  events saved:  $((2000 - on_page))"
has_text "$last.stdout" "  events lost:   $on_page, in 1 damaged stretch, with event times from 2024-05-22 12:"
has_text "$last.stdout" "  other rows:    1 saved, 0 lost (resume state, counters, quarantine)"
has_text "$last.stdout" "  devices:       1, each marked to fetch the lost time range again from the archive on the next start"
kept=$(ls "$tmp" | grep -E '^pod\.db\.corrupt-[0-9]{8}T[0-9]{6}Z$' || true)
[ -n "$kept" ] || fail "the damaged file was not kept as pod.db.corrupt-<time>"
has_text "$last.stdout" "The damaged file is kept as $tmp/$kept; delete it once the service runs well again."
[ ! -e "$db.repairing" ] || fail "the rebuild's working file is left"

# The new file is sound and holds what was saved (full text too); the resume
# state survived, unclean, with a repair window over the lost stretch.
[ "$(q 'PRAGMA quick_check')" = ok ] || fail "the rebuilt database is not sound"
[ "$(q 'SELECT count(*) FROM events')" = $((2000 - on_page)) ] || fail "events in the new file"
resume=$(q 'SELECT clean_shutdown, repair_from_us > 0, repair_to_us > repair_from_us, last_event_ts_us >= 1716381199000000 FROM resume WHERE device_id = 1')
[ "$resume" = "0|1|1|1" ] || fail "resume state after repair: $resume"
run query_after 0 query --db "$db" --limit 3 --format csv
run search_after 0 query --db "$db" --search Q001999 --format csv
has_text "$last.stdout" "id001999"
run again 0 repair --db "$db"
has_text "$last.stdout" "no damage found"

# Run as root on a database that belongs to the service's account: what repair
# writes (the rebuilt file, the lock file it may create) keeps that owner, group
# and mode, or the service could not open it afterwards.
if [ "$(id -u)" -eq 0 ] && getent passwd nobody >/dev/null && getent group nogroup >/dev/null; then
    own="$tmp/own"
    mkdir "$own"
    PS_STORE_HEALTH_FIXTURE="$own/pod.db" "$FIXTURE"
    chown nobody:nogroup "$own" "$own/pod.db"
    chmod 0640 "$own/pod.db"
    dd if=/dev/zero of="$own/pod.db" bs="$(q 'PRAGMA page_size')" seek=$((page - 1)) count=1 \
        conv=notrunc 2>/dev/null
    run repair_as_root 0 repair --db "$own/pod.db"
    has_text "$last.stdout" "Rebuilt $own/pod.db:"
    hasnt "$last.stderr" "warning"
    for f in "$own"/*; do
        [ "$(stat -c '%U:%G %a' "$f")" = "nobody:nogroup 640" ] ||
            fail "after repair as root: $(stat -c '%n %U:%G %a' "$f")"
    done
    [ -e "$own/pod.db.lock" ] || fail "no lock file beside the repaired database"
    [ "$(sqlite3 "$own/pod.db" 'PRAGMA quick_check')" = ok ] || fail "the rebuilt database (root)"
else
    echo "test_repair: not root (or no nobody:nogroup), skipping the ownership check"
fi

# No database at all.
run missing 1 repair --db "$tmp/none.db"
has_text "$last.stderr" "podstream repair: $tmp/none.db: no database there"
[ ! -e "$tmp/none.db" ] || fail "repair created a database"

finish test_repair
