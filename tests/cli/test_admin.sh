#!/usr/bin/env bash
# The admin tooling of issue #13 against real databases and configurations:
# `status` when the service is not running, `--hours`, every exit code of
# `status --check`; `quarantine list|show|export|delete`; `validate --format json`
# and `config show` (defaults filled in, tokens masked).
#
# Databases are written through the store API by test_store_quarantine (three
# quarantined payloads and the counters of the devices named in PS_ADMIN_DEVICES,
# ID:NAME:TYPE:STATE:LAG_MS:EVENT_AGE_S:UPDATED_AGE_S), as the service writes them.
set -euo pipefail

: "${PODSTREAM:?set PODSTREAM to the podstream binary}"
: "${PS_BINARY_DIR:?set PS_BINARY_DIR to the build directory}"
: "${PS_TEST_DATA:?set PS_TEST_DATA to tests/data}"
FIXTURE="$PS_BINARY_DIR/tests/unit/store/test_store_quarantine"
[ -x "$FIXTURE" ] || { echo "FAIL: $FIXTURE is missing (build the tests)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/ps_cli_admin.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
unset PODSTREAM_CONFIG_DIR COLUMNS
export TZ=UTC

# shellcheck source=tests/cli/cli_lib.sh
. "$(dirname "$0")/cli_lib.sh"
# db NAME DEVICES...: a database with these device counters.
db() {
    local f="$tmp/$1.db"
    shift
    PS_ADMIN_FIXTURE="$f" PS_ADMIN_DEVICES="$*" "$FIXTURE"
    echo "$f"
}

healthy=$(db healthy 1:pod-message:message:live:2000:60:1 2:pod-maillog:maillog:live:1000:30:1)
stopped=$(db stopped 1:pod-message:message:stopped:2000:600:300 2:pod-maillog:maillog:stopped:1000:600:300)
killed=$(db killed 1:pod-message:message:live:2000:600:300)
lagging=$(db lagging 1:pod-message:message:live:600000:60:1 2:pod-maillog:maillog:live:1000:30:1)
badlag=$(db badlag 1:pod-message:message:live:3600000:60:1)
silent=$(db silent 1:pod-message:message:live:1000:20000:1)
unauth=$(db unauth 1:pod-message:message:unauthorised:1000:60:1)
backoff=$(db backoff 1:pod-message:message:backoff:1000:60:1)
fresh=$(db fresh 1:pod-message:message:live:0:-1:1)
empty=$(db empty)

# ---- status: running or not ------------------------------------------------------

run status_running 0 status --db "$healthy"
has "$last.stdout" '^Service:  running \(counters written [0-9.]+m?s ago\)$'
has "$last.stdout" '^1 pod-message +message +live +2\.5 +2\.5 +100 +2\.0s '
run status_stopped 0 status --db "$stopped"
has "$last.stdout" '^Service:  not running since [0-9-]+ [0-9:]+ \(5m0[0-9]s ago\); rates and lag not shown$'
has "$last.stdout" '^1 pod-message +message +stopped\* +- +- +100 +- '
hasnt "$last.stdout" 'counters last written'
run status_killed 0 status --db "$killed" --format json
/usr/bin/python3 - "$last.stdout" <<'PY' || fail "status json of a dead service: see above"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["service"]["running"] is False, d["service"]
assert d["service"]["last_update"].endswith("Z")
dev = d["devices"][0]
assert dev["stale"] is True and dev["rate_10s"] is None and dev["rate_1m"] is None, dev
PY
run status_hours 0 status --db "$healthy" --hours 3
has "$last.stdout" '^Events stored per hour of event time \(UTC\), last 3 hours:$'
[ "$(sed -n '/^HOUR/,$p' "$last.stdout" | tail -n +2 | wc -l)" -eq 3 ] ||
    fail "status --hours 3: not 3 rows"
run status_hours_bad 2 status --db "$healthy" --hours 0

# ---- status --check: one line, every exit code ----------------------------------------

check() { # check NAME RC DB ARGS...: runs --check and checks the line's shape
    local name=$1 want=$2 database=$3
    shift 3
    run "check_$name" "$want" status --db "$database" --check "$@"
    local word
    case $want in 0) word=OK ;; 1) word=WARNING ;; 2) word=CRITICAL ;; *) word=UNKNOWN ;; esac
    [ "$(wc -l <"$last.stdout")" -eq 1 ] || fail "check_$name: not one line"
    has "$last.stdout" "^PODSTREAM $word - "
}
check ok 0 "$healthy"
has "$last.stdout" "^PODSTREAM OK - 2 devices streaming \| 'lag_1'=2\.000s;300;900;0 'silence_1'=6[0-9]s;3600;14400;0 'events_1'=100c 'rate_1'=2\.50;;;0 'lag_2'="
check lag_warning 1 "$lagging"
has "$last.stdout" ' - 1 pod-message: lag 10m00s > 5m \|'
check lag_critical 2 "$badlag"
has "$last.stdout" ' - 1 pod-message: lag 1h00m > 15m \|'
check lag_raised 0 "$lagging" --warn-lag 20m --crit-lag 1h
check silence_critical 2 "$silent"
has "$last.stdout" 'silence 5h33m > 4h'
check silence_off 0 "$silent" --warn-silence 0 --crit-silence 0
check unauthorised 2 "$unauth"
has "$last.stdout" ' - 1 pod-message: unauthorised \|'
check backoff 1 "$backoff"
check backoff_ok 0 "$backoff" --warn-state connecting
check no_event 1 "$fresh"
has "$last.stdout" 'no event stored yet'
check stopped 2 "$stopped"
has "$last.stdout" ' - service not running since [0-9T:.-]+Z'
check killed 2 "$killed"
# Counters stale but the database lock held (flock(1) takes the lock `run` takes): the
# service runs but cannot write the database (a full disk), not "not running".
flock "$killed.lock" "$PODSTREAM" status --db "$killed" >"$tmp/stalled.out" 2>&1 ||
    fail "status with the lock held: exit $?"
has "$tmp/stalled.out" '^Service:  running, but it has written nothing to the database since .*: it cannot write it'
rc=0
flock "$killed.lock" "$PODSTREAM" status --db "$killed" --check >"$tmp/stalled.check" 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "status --check with the lock held: exit $rc, expected 2"
has "$tmp/stalled.check" ' - service running but not writing the database since [0-9T:.-]+Z'
# Fresh counters but no service holding the lock (a start that was refused, a crash
# in the last seconds): not running, at once.
: >"$healthy.lock"
run fresh_unlocked 0 status --db "$healthy"
has "$last.stdout" '^Service:  not running since '
rm -f "$healthy.lock"
check never_ran 3 "$empty"
check no_database 3 "$tmp/missing/none.db"
check bad_threshold 3 "$healthy" --warn-lag soon
check bad_state 3 "$healthy" --crit-state sleeping

# ---- quarantine ----------------------------------------------------------------------

run q_list 0 quarantine list --db "$healthy"
has "$last.stdout" '^ +ID RECEIVED +DEVICE +TYPE +BYTES REASON$'
has "$last.stdout" '^ +1 [0-9-]+ [0-9:]+ 1 pod-message +message +36 pipeline failed: strict: field msg\.parts is a list$'
has "$last.stdout" '^ +3 [0-9-]+ [0-9:]+ 2 pod-maillog +maillog +2 no id$'
run q_list_dev 0 quarantine list --db "$healthy" --device 2 --format json
[ "$(wc -l <"$last.stdout")" -eq 1 ] || fail "quarantine list --device 2: not one row"
has "$last.stdout" '^\{"id":3,"received":"[0-9T:.-]+Z","device_id":2,"type":"maillog","reason":"no id","size":2\}$'
run q_show 0 quarantine show 1 --db "$healthy"
has "$last.stdout" '^Reason:    pipeline failed: strict: field msg\.parts is a list$'
has "$last.stdout" '^Payload \(JSON, indented\):$'
has "$last.stdout" '"parts":'
run q_show_text 0 quarantine show 2 --db "$healthy"
has "$last.stdout" '^Payload \(not JSON, as text\):$'
run q_show_raw 0 quarantine show 1 --db "$healthy" --raw
[ "$(cat "$last.stdout")" = '{"guid":"q-1","msg":{"parts":[1,2]}}' ] || fail "show --raw: not the payload"
run q_show_missing 1 quarantine show 99 --db "$healthy"
has "$last.stderr" 'no quarantined payload has id 99'
run q_export 0 quarantine export --db "$healthy" -o "$tmp/q.jsonl"
[ "$(stat -c %a "$tmp/q.jsonl")" = 600 ] || fail "quarantine export -o: mode $(stat -c %a "$tmp/q.jsonl"), not 600"
/usr/bin/python3 - "$tmp/q.jsonl" <<'PY' || fail "quarantine export: see above"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["id"] for r in rows] == [3, 2, 1], rows
assert rows[2]["payload"] == '{"guid":"q-1","msg":{"parts":[1,2]}}' and rows[2]["device"] == "pod-message"
assert rows[1]["payload"] == "not json at all\n"
PY
run q_delete_unconfirmed 2 quarantine delete --all --db "$healthy"
has "$last.stderr" 'would delete 3 quarantined payloads; add --yes'
run q_delete_one 0 quarantine delete 2 --yes --db "$healthy"
has "$last.stdout" '^deleted 1 quarantined payload$'
run q_delete_missing 1 quarantine delete 2 --yes --db "$healthy"
run q_delete_all 0 quarantine delete --all --device 1 --yes --db "$healthy"
has "$last.stdout" '^deleted 1 quarantined payload$'
run q_list_left 0 quarantine list --db "$healthy" --format json
[ "$(wc -l <"$last.stdout")" -eq 1 ] || fail "quarantine: not one payload left"
run q_no_action 2 quarantine --db "$healthy"
run q_both 2 quarantine delete 1 --all --yes --db "$healthy"

# ---- validate --format json, config show -----------------------------------------------

valid="$PS_TEST_DATA/config/valid"
run validate_json 0 validate -c "$valid" --no-secrets --format json
/usr/bin/python3 - "$last.stdout" <<'PY' || fail "validate json: see above"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["valid"] is True and d["errors"] == 0 and d["tokens_checked"] is False, d
dev = {x["id"]: x for x in d["devices"]}
assert dev[1]["token"] == "${POD_TOKEN}" and dev[1]["enabled"] is True, dev[1]
PY
[ ! -s "$last.stderr" ] || fail "validate --format json wrote to stderr"
bad=$(ls -d "$PS_TEST_DATA"/config/invalid/*/ | sed -n 1p)
run validate_json_invalid 3 validate -c "$bad" --no-secrets --format json
/usr/bin/python3 - "$last.stdout" <<'PY' || fail "validate json (invalid): see above"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["valid"] is False and d["errors"] >= 1, d
e = [x for x in d["diagnostics"] if x["severity"] == "error"][0]
assert set(e) == {"severity", "file", "line", "column", "path", "message"}, e
assert "devices" not in d
PY

# A token written in the file is never shown; defaults are filled in.
mkdir -p "$tmp/conf/devices"
cat >"$tmp/conf/devices/pod.yml" <<'YML'
devices:
  - id: 7
    name: literal-token
    type: proofpoint
    properties:
      cluster: acme
      token: s3cr3t-token-value
      type: message
YML
printf 'proxy: http://proxy.example:3128\nproxy_password: hunter2-password\n' >"$tmp/conf/podstream.yml"
run config_show 0 config show -c "$tmp/conf"
hasnt "$last.stdout" 's3cr3t|hunter2'
has "$last.stdout" '^  keepalive: "30s"$'
has "$last.stdout" '^      token: in the file$'
run config_json 0 config show -c "$tmp/conf" --format json
hasnt "$last.stdout" 's3cr3t|hunter2'
/usr/bin/python3 - "$last.stdout" <<'PY' || fail "config show json: see above"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["service"]["retention_days"] is not None and d["service"]["proxy_password"] == "in the file"
dev = d["devices"][0]
assert dev["id"] == 7 and dev["status"] is True and dev["properties"]["workers"] >= 1, dev
PY
run config_invalid 3 config show -c "$bad"
run config_no_action 2 config -c "$tmp/conf"

finish test_admin
