#!/usr/bin/env bash
# `podstream pipeline test` and `podstream pipeline list`, run as an admin would run
# them on the sample events: the recipes of docs/pipelines.md, a configuration
# directory with devices, failures, invalid pipelines and usage errors. Outputs are
# compared exactly; the redaction key must never appear in any of them.
set -euo pipefail

: "${PODSTREAM:?set PODSTREAM to the podstream binary}"
: "${PS_SAMPLES:?set PS_SAMPLES to the sample events directory}"
: "${PS_TEST_DATA:?set PS_TEST_DATA to tests/data}"
PY=/usr/bin/python3

tmp=$(mktemp -d /tmp/ps_cli_pipeline.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
out="$tmp/out"
mkdir "$out"
KEY="cli-test-redaction-key-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
unset PODSTREAM_CONFIG_DIR CREDENTIALS_DIRECTORY

secrets="$tmp/secrets"
mkdir -m 700 "$secrets"
printf '%s\n' "$KEY" >"$secrets/redact-key"
chmod 600 "$secrets/redact-key"

cfg="$tmp/cfg"
mkdir -p "$cfg/devices" "$cfg/pipelines"
cp "$PS_TEST_DATA/pipelines/recipes.yml" "$cfg/pipelines/recipes.yml"
cat >"$cfg/podstream.yml" <<YML
database: $tmp/events.db
secrets_dir: $secrets
YML
cat >"$cfg/devices/pod.yml" <<'YML'
devices:
  - id: 1
    name: pod-message
    type: proofpoint
    tags: [email, vip]
    pipelines: [drop_cron_noise, mask_recipients, tag_vip_senders]
    properties:
      cluster: example_hosted
      token: ${POD_TOKEN}
  - id: 2
    name: pod-maillog
    type: proofpoint
    pipelines: [drop_delivered_maillog]
    properties:
      cluster: example_hosted
      token: ${POD_TOKEN}
      type: maillog
YML

n=0
fails=0
fail() {
    echo "FAIL: $*" >&2
    fails=$((fails + 1))
}

# run NAME EXPECTED_RC [STDIN_FILE] -- ARGS...: runs podstream, keeps stdout/stderr.
run() {
    local name=$1 want=$2 input=$3
    shift 4
    n=$((n + 1))
    last="$out/$n-$name"
    set +e
    "$PODSTREAM" "$@" <"$input" >"$last.stdout" 2>"$last.stderr"
    rc=$?
    set -e
    if [ "$rc" -ne "$want" ]; then
        fail "$name: exit code $rc, want $want"
        sed -n '1,20s/^/    stdout: /p' "$last.stdout" >&2
        sed -n '1,20s/^/    stderr: /p' "$last.stderr" >&2
    fi
}

# expect FILE: compares FILE with the text on stdin.
expect() {
    local file=$1 want
    want=$(cat)
    if [ "$(cat "$file")" != "$want" ]; then
        fail "$(basename "$file") differs"
        diff <(echo "$want") "$file" | sed 's/^/    /' >&2 || true
    fi
}

# Pipelines here never stop reading early (no `| head`): with pipefail, a writer
# killed by SIGPIPE would end the script.

# status FILE: the lines that are not event JSON.
status() {
    grep -v '^{' "$1" || true
}

# hmac16 TEXT: the first 16 hex characters of HMAC-SHA256(KEY, TEXT), computed by
# Python, independently of podstream.
hmac16() {
    KEY="$KEY" "$PY" -c 'import hmac,hashlib,os,sys; print(hmac.new(os.environ["KEY"].encode(), sys.argv[1].encode(), hashlib.sha256).hexdigest()[:16])' "$1"
}

msgs="$PS_SAMPLES/message.jsonl"
logs="$PS_SAMPLES/maillog.jsonl"
recipes="$PS_TEST_DATA/pipelines/recipes.yml"

# ---- one pipeline from a file, events from a file ----------------------------------
run drop_cron 0 /dev/null -- pipeline test -F "$recipes" --secrets-dir "$secrets" \
    --pipeline drop_cron_noise "$msgs"
cat >"$out/want" <<'TXT'
line 1: dropped by drop_cron_noise (processor 1: drop, tag cron)
line 2: kept, unchanged
line 3: kept, unchanged
line 4: kept, unchanged
line 5: kept, unchanged
5 events: 4 kept (0 changed), 1 dropped, 0 failed
TXT
status "$last.stdout" >"$last.status"
expect "$last.status" <"$out/want"
# Unchanged events are the input bytes, exactly.
grep '^{' "$last.stdout" >"$out/kept.jsonl"
if ! cmp -s "$out/kept.jsonl" <(sed -n '2,5p' "$msgs"); then
    fail "drop_cron: kept events differ from the input lines"
fi
[ -s "$last.stderr" ] && fail "drop_cron: unexpected stderr: $(cat "$last.stderr")"

# ---- a chain, from standard input, with a redaction key from the secrets dir -----
run chain 0 "$msgs" -- pipeline test -F "$recipes" --secrets-dir "$secrets" \
    --pipeline drop_cron_noise --pipeline mask_recipients --pipeline tag_vip_senders
status "$last.stdout" >"$last.status"
expect "$last.status" <<'TXT'
line 1: dropped by drop_cron_noise (processor 1: drop, tag cron)
line 2: kept, changed, tags ["vip"]
line 3: kept, changed
line 4: kept, changed
line 5: kept, changed
5 events: 4 kept (4 changed), 1 dropped, 0 failed
TXT
# Line 2's recipient mailive@example.com: the local part is the keyed hash.
want_rcpt="$(hmac16 mailive)@example.com"
got_rcpt=$(awk '/^[{]/ {print; exit}' "$last.stdout" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["envelope"]["rcpts"][0])')
[ "$got_rcpt" = "$want_rcpt" ] || fail "chain: rcpt is $got_rcpt, want $want_rcpt"
# Line 4 has a display name around the address in msg.header.to.
got_to=$(grep '^{' "$last.stdout" | sed -n 3p | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["msg"]["header"]["to"][0])')
[ "$got_to" = "<$(hmac16 user2)@example.org>" ] || fail "chain: header to is $got_to"

# ---- -q: only the JSON Lines of kept events, for pipes ------------------------------
run quiet 0 "$msgs" -- pipeline test -q -F "$recipes" --secrets-dir "$secrets" \
    --pipeline mask_recipients -
[ "$(wc -l <"$last.stdout")" -eq 5 ] || fail "quiet: want 5 lines, got $(wc -l <"$last.stdout")"
"$PY" -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$last.stdout" ||
    fail "quiet: output is not JSON Lines"

# Every pipeline of the files is compiled, as the service would, so the secrets
# directory is given even when the pipeline under test needs no key.

# ---- maillog: drop deliveries ------------------------------------------------------
run maillog 0 /dev/null -- pipeline test -F "$recipes" --secrets-dir "$secrets" --pipeline drop_delivered_maillog \
    --type maillog "$logs"
status "$last.stdout" >"$last.status"
expect "$last.status" <<'TXT'
line 1: dropped by drop_delivered_maillog (processor 1: drop)
line 2: dropped by drop_delivered_maillog (processor 1: drop)
line 3: kept, unchanged
line 4: dropped by drop_delivered_maillog (processor 1: drop)
line 5: dropped by drop_delivered_maillog (processor 1: drop)
5 events: 1 kept (0 changed), 4 dropped, 0 failed
TXT

# ---- the configuration: devices and their chains --------------------------------
run device 0 "$msgs" -- pipeline test -c "$cfg" --device 1
status "$last.stdout" >"$last.status"
expect "$last.status" <<'TXT'
line 1: dropped by drop_cron_noise (processor 1: drop, tag cron)
line 2: kept, changed, tags ["email","vip"]
line 3: kept, changed, tags ["email","vip"]
line 4: kept, changed, tags ["email","vip"]
line 5: kept, changed, tags ["email","vip"]
5 events: 4 kept (4 changed), 1 dropped, 0 failed
TXT
run device_maillog 0 "$logs" -- pipeline test -c "$cfg" --device 2
tail -1 "$last.stdout" >"$last.summary"
expect "$last.summary" <<<"5 events: 1 kept (0 changed), 4 dropped, 0 failed"
run device_unknown 1 /dev/null -- pipeline test -c "$cfg" --device 9 "$msgs"
expect "$last.stderr" <<<"podstream pipeline: no device with id 9 in $cfg"

run list 0 /dev/null -- pipeline list -c "$cfg"
expect "$last.stdout" <<TXT
NAME                    PROCESSORS  WHERE                     DEVICES     DESCRIPTION
drop_cron_noise                  1  pipelines/recipes.yml:4   1           Outbound cron mail is noise
mask_recipients                  1  pipelines/recipes.yml:12  1           Hash the local part of recipient addresses, keep the domain
tag_vip_senders                  1  pipelines/recipes.yml:26  1           Tag mail from the people who matter most
drop_delivered_maillog           1  pipelines/recipes.yml:33  2           Successful deliveries are routine; keep every other maillog line
TXT

# ---- failures and events the service would not store -------------------------------
cat >"$tmp/strict.yml" <<'YML'
- name: strict
  processors:
    - convert: {field: sm.pri, type: int}
    - remove: {field: id}
YML
run failed 1 /dev/null -- pipeline test -F "$tmp/strict.yml" --pipeline strict --type maillog \
    "$logs"
status "$last.stdout" >"$last.status"
expect "$last.status" <<'TXT'
line 1: failed: the changed event cannot be stored: no id
line 2: failed: the changed event cannot be stored: no id
line 3: failed: pipeline strict, processor 1 (convert), field sm.pri: not found
line 4: failed: the changed event cannot be stored: no id
line 5: failed: the changed event cannot be stored: no id
5 events: 0 kept (0 changed), 0 dropped, 5 failed
TXT

run not_events 1 /dev/null -- pipeline test -F "$recipes" --secrets-dir "$secrets" --pipeline drop_delivered_maillog \
    --type maillog "$msgs"
head -1 "$last.stdout" | grep -q '^line 1: not a maillog event: .* (the service quarantines it before pipelines)$' ||
    fail "not_events: $(head -1 "$last.stdout")"
tail -1 "$last.stdout" >"$last.summary"
expect "$last.summary" <<<"5 events: 0 kept (0 changed), 0 dropped, 0 failed, 5 not maillog events"

printf '\n{"guid":"g1","ts":"2024-05-22T12:10:03Z"}\r\n   \nnot json\n' >"$tmp/mixed.jsonl"
run mixed 1 "$tmp/mixed.jsonl" -- pipeline test -F "$recipes" --secrets-dir "$secrets" --pipeline tag_vip_senders
status "$last.stdout" >"$last.status"
head -1 "$last.status" >"$last.first"
expect "$last.first" <<<"line 2: kept, unchanged"
grep -q '^line 4: not a message event: ' "$last.status" || fail "mixed: line 4 not reported"
tail -1 "$last.status" >"$last.summary"
expect "$last.summary" <<<"2 events: 1 kept (0 changed), 0 dropped, 0 failed, 1 not message events"

# ---- invalid pipelines: every problem, with file:line:col -------------------------
cat >"$tmp/bad.yml" <<'YML'
pipelines:
  - name: bad
    processors:
      - drop: {if: "filter.routeDirection = 'outbound'"}
      - sett: {field: a, value: 1}
      - redact: {field: envelope.rcpts, part: local}
YML
run invalid 3 /dev/null -- pipeline test -F "$tmp/bad.yml" --pipeline bad "$msgs"
expect "$last.stderr" <<TXT
$tmp/bad.yml:4:43: error: pipelines[0].processors[1].drop.if: invalid condition: '=' is not an operator; use '==' to compare
$tmp/bad.yml:5:9: error: pipelines[0].processors[2]: unknown processor "sett" (did you mean "set"?)
$tmp/bad.yml:6:9: error: pipelines[0].processors[3].redact: redact with mode: hash needs a key (e.g. key: "\$secret{redact}"); without one the hashes could be reversed by hashing guesses
podstream pipeline: 3 errors; fix the pipeline files first
TXT
[ -s "$last.stdout" ] && fail "invalid: unexpected stdout"

# A key that does not resolve is a configuration error, named but never shown.
run no_secret 3 /dev/null -- pipeline test -F "$recipes" --pipeline mask_recipients "$msgs"
grep -q 'pipelines\[1\].processors\[1\].redact.key: ' "$last.stderr" ||
    fail "no_secret: $(cat "$last.stderr")"

# ---- usage ---------------------------------------------------------------------------
run no_action 2 /dev/null -- pipeline
expect "$last.stderr" <<'TXT'
podstream pipeline: expected an action: test or list
Run 'podstream pipeline --help' for usage.
TXT
run both 2 /dev/null -- pipeline test -c "$cfg" --device 1 --pipeline x
grep -q 'test needs --pipeline NAME or --device ID (one of them)' "$last.stderr" ||
    fail "both: $(cat "$last.stderr")"
run unknown_pipeline 3 /dev/null -- pipeline test -c "$cfg" --pipeline nope "$msgs"
expect "$last.stderr" <<<'podstream pipeline: no pipeline is called "nope"'
run bad_type 2 /dev/null -- pipeline test -F "$recipes" --secrets-dir "$secrets" --pipeline tag_vip_senders \
    --type mail "$msgs"
grep -q "type must be message, maillog or audit, not 'mail'" "$last.stderr" ||
    fail "bad_type: $(cat "$last.stderr")"
run missing_file 1 /dev/null -- pipeline test -F "$recipes" --secrets-dir "$secrets" --pipeline tag_vip_senders \
    "$tmp/nope.jsonl"
expect "$last.stderr" <<<"podstream pipeline: cannot open $tmp/nope.jsonl: No such file or directory"
run help 0 /dev/null -- pipeline --help
grep -q '^usage: podstream pipeline test' "$last.stdout" || fail "help: no usage"

# ---- a line over max_frame_size: reported, skipped, memory bounded ----------------
cfg_small="$tmp/cfg-small"
cp -r "$cfg" "$cfg_small"
printf 'max_frame_size: 1MiB\n' >>"$cfg_small/podstream.yml"
ev='{"guid":"g1","ts":"2024-05-22T12:10:03Z"}'
{
    echo "$ev"
    head -c 2000000 /dev/zero | tr '\0' a
    printf '\n%s\n' "$ev"
} >"$tmp/long.jsonl"
run too_long 1 "$tmp/long.jsonl" -- pipeline test -c "$cfg_small" --pipeline tag_vip_senders
expect "$last.stderr" <<<"podstream pipeline: standard input, line 2: longer than max_frame_size (1MiB), the largest event the service accepts; skipped"
status "$last.stdout" >"$last.status"
expect "$last.status" <<'TXT'
line 1: kept, unchanged
line 3: kept, unchanged
3 events: 2 kept (0 changed), 0 dropped, 0 failed, 1 over max_frame_size
TXT
# maxrss ARGS...: runs podstream on 70 MB without a line end (/dev/zero as
# letters) and prints its exit code, its stderr and its peak RSS in MiB.
maxrss() {
    head -c 70000000 /dev/zero | tr '\0' a | "$PY" -c '
import resource, subprocess, sys
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
print(r.returncode)
sys.stdout.write(r.stderr.decode())
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)' "$PODSTREAM" "$@"
}
maxrss pipeline test -c "$cfg_small" --pipeline tag_vip_senders >"$out/rss_small"
head -2 "$out/rss_small" >"$out/rss_small.head"
expect "$out/rss_small.head" <<'TXT'
1
podstream pipeline: standard input, line 1: longer than max_frame_size (1MiB), the largest event the service accepts; skipped
TXT
# A 1 MiB cap needs a few MiB; reading the whole line took more than 70.
[ "$(tail -1 "$out/rss_small")" -lt 32 ] || fail "too_long: peak RSS $(tail -1 "$out/rss_small") MiB"
# Without a configuration (-F), the cap is the default.
maxrss pipeline test -F "$recipes" --secrets-dir "$secrets" --pipeline tag_vip_senders - >"$out/rss_default"
sed -n 2p "$out/rss_default" >"$out/rss_default.msg"
expect "$out/rss_default.msg" <<<"podstream pipeline: standard input, line 1: longer than max_frame_size (64MiB), the largest event the service accepts; skipped"

# ---- the key never leaves the secrets file --------------------------------------
if grep -rqF "$KEY" "$out"; then
    fail "the redaction key appears in: $(grep -rlF "$KEY" "$out" | tr '\n' ' ')"
fi

if [ "$fails" -ne 0 ]; then
    echo "test_pipeline.sh: $fails of $n checks failed" >&2
    exit 1
fi
echo "test_pipeline.sh: all $n runs passed"
