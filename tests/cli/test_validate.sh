#!/usr/bin/env bash
# `podstream validate`, run as an admin would run it: the shipped example, every
# kind of broken file, each token form (environment, secret file, encrypted), the
# option and environment precedence, and exit codes. Outputs are compared exactly;
# every output is kept and checked at the end for the token values.
set -euo pipefail

: "${PODSTREAM:?set PODSTREAM to the podstream binary}"
: "${PS_SOURCE_DIR:?set PS_SOURCE_DIR to the source tree}"
data="$PS_SOURCE_DIR/tests/data/config"

tmp=$(mktemp -d /tmp/ps_cli_validate.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
out="$tmp/out"
mkdir "$out"
unset PODSTREAM_CONFIG_DIR CREDENTIALS_DIRECTORY POD_TOKEN PS_VALIDATE_UNSET_TOKEN
TOKEN="eyJhbGciOiJIUzUxMiJ9.dmFsaWRhdGU.$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"

n=0
fails=0
fail() {
    echo "FAIL: $*" >&2
    fails=$((fails + 1))
}

# run NAME EXPECTED_RC ARGS...: runs podstream with no input, keeps stdout/stderr.
run() {
    local name=$1 want=$2
    shift 2
    n=$((n + 1))
    last="$out/$n-$name"
    set +e
    "$PODSTREAM" "$@" </dev/null >"$last.stdout" 2>"$last.stderr"
    rc=$?
    set -e
    if [ "$rc" -ne "$want" ]; then
        fail "$name: exit code $rc, expected $want"
        sed 's/^/  stdout: /' "$last.stdout" >&2
        sed 's/^/  stderr: /' "$last.stderr" >&2
    fi
}

stdout() { cat "$last.stdout"; }
stderr() { cat "$last.stderr"; }

expect_eq() { # NAME ACTUAL EXPECTED
    if [ "$2" != "$3" ]; then
        fail "$1"
        diff <(printf '%s\n' "$3") <(printf '%s\n' "$2") | sed 's/^/  /' >&2 || true
    fi
}

expect_contains() { # NAME HAYSTACK NEEDLE
    case "$2" in
    *"$3"*) ;;
    *)
        fail "$1: output does not contain: $3"
        printf '%s\n' "$2" | sed 's/^/  got: /' >&2
        ;;
    esac
}

# A config directory of our own: podstream.yml keeps the database out of /var.
newcfg() { # DIR
    mkdir -p "$1/devices"
    printf 'database: state/podstream.db\n' >"$1/podstream.yml"
}

# ---- help, version, usage errors ------------------------------------------------
run help 0 validate --help
expect_contains "help" "$(stdout)" "usage: podstream validate [-c DIR] [--no-secrets] [-q]"
expect_contains "help names the default" "$(stdout)" "else /etc/podstream)"
run help-short 0 validate -h
expect_contains "-h" "$(stdout)" "usage: podstream validate"
run version 0 validate --version
expect_contains "version" "$(stdout)" "podstream "
run bad-option 2 validate --frobnicate
expect_eq "bad option" "$(stderr)" "podstream validate: unknown option '--frobnicate'
Run 'podstream validate --help' for usage."
run missing-value 2 validate -c
expect_eq "missing value" "$(stderr)" "podstream validate: -c needs a value
Run 'podstream validate --help' for usage."
run stray-argument 2 validate "$data/valid"
expect_contains "stray argument" "$(stderr)" \
    "podstream validate: unexpected argument '$data/valid' (use -c DIR for the directory)"

# ---- the shipped example --------------------------------------------------------
ex="$PS_SOURCE_DIR/examples/config"
run example-no-token 3 validate -c "$ex"
expect_eq "example without POD_TOKEN" "$(stderr)" \
    "devices/proofpoint.yml:13:14: error: devices[0].properties.token: environment variable POD_TOKEN is not set
devices/proofpoint.yml:22:14: error: devices[1].properties.token: environment variable POD_TOKEN is not set
podstream validate: 2 errors; the configuration in $ex is not valid"
expect_eq "nothing on stdout when invalid" "$(stdout)" ""

export POD_TOKEN="$TOKEN"
run example 0 validate -c "$ex"
expect_eq "example summary" "$(stdout)" "$ex: the configuration is valid

Devices: 2 (2 enabled)
  ID  NAME                STATUS    TYPE     CLUSTER          TOKEN         ENDPOINT
  1   proofpoint-message  enabled   message  your-cluster-id  \${POD_TOKEN}  wss://logstream.proofpoint.com:443/v1/stream
  2   proofpoint-maillog  enabled   maillog  your-cluster-id  \${POD_TOKEN}  wss://logstream.proofpoint.com:443/v1/stream

Pipelines:      0 in 0 files
Database:       /var/lib/podstream/podstream.db
Retention:      30 days, no size limit
Key file:       $ex/podstream.key
Secrets dir:    $ex/secrets
Log level:      info
Proxy:          none
Tokens:         all resolve"
expect_eq "example: no diagnostics" "$(stderr)" ""

run example-quiet 0 validate -q -c "$ex"
expect_eq "quiet prints nothing" "$(stdout)$(stderr)" ""
unset POD_TOKEN

run example-no-secrets 0 validate --no-secrets -c "$ex"
expect_contains "--no-secrets" "$(stdout)" "Tokens:         not checked (--no-secrets)"

# ---- where the directory comes from: -c, else $PODSTREAM_CONFIG_DIR -------------
PODSTREAM_CONFIG_DIR="$ex" run env-dir 0 validate --no-secrets
expect_contains "PODSTREAM_CONFIG_DIR" "$(stdout)" "$ex: the configuration is valid"
# The token is checked too although the device has an error: every phase reports.
PODSTREAM_CONFIG_DIR="$ex" run option-wins 3 validate --config "$data/invalid/workers-range"
expect_eq "-c wins over the environment" "$(stderr)" \
    "devices/bad.yml:7:14: error: devices[0].properties.token: environment variable POD_TOKEN is not set
devices/bad.yml:9:16: error: devices[0].properties.workers: 0 is out of range (1..64)
podstream validate: 2 errors; the configuration in $data/invalid/workers-range is not valid"
run missing-dir 3 validate -c "$tmp/nowhere"
expect_eq "missing directory" "$(stderr)" "error: configuration directory $tmp/nowhere does not exist
podstream validate: 1 error; the configuration in $tmp/nowhere is not valid"

# ---- broken files: every problem at once, sorted, exact ---------------------------
run unknown-key 3 validate --no-secrets -c "$data/invalid/unknown-key"
expect_eq "unknown key" "$(stderr)" \
    "devices/bad.yml:5:5: error: devices[0].propertes: unknown key \"propertes\" (did you mean \"properties\"?)
podstream validate: 1 error; the configuration in $data/invalid/unknown-key is not valid"

run duplicate-id 3 validate --no-secrets -c "$data/invalid/duplicate-id"
expect_eq "duplicate ids" "$(stderr)" \
    "devices/b.yml:2:9: error: devices[0].id: duplicate id 1 (also in devices/a.yml:2:9)
devices/b.yml:6:9: error: devices[1].id: duplicate id 1 (also in devices/a.yml:2:9)
podstream validate: 2 errors; the configuration in $data/invalid/duplicate-id is not valid"

# Sixteen from the files, and the pipeline phase's unknown "normalize" on line 6.
run types 3 validate --no-secrets -c "$data/invalid/types"
expect_eq "seventeen errors in one run" "$(grep -c ': error: ' "$last.stderr")" "17"
expect_eq "errors sorted by line" "$(grep -o '^devices/bad.yml:[0-9]*' "$last.stderr" | cut -d: -f2 | tr '\n' ' ')" \
    "2 3 4 5 6 6 6 7 9 10 11 12 14 15 16 17 18 "
expect_contains "types summary" "$(stderr)" \
    "podstream validate: 17 errors; the configuration in $data/invalid/types is not valid"

run service 3 validate --no-secrets -c "$data/invalid/service"
expect_contains "service settings" "$(stderr)" \
    "podstream.yml:5:17: error: max_frame_size: 512KiB is out of range (1MiB..1GiB)"
expect_contains "service settings count" "$(stderr)" "podstream validate: 12 errors;"

# A value that does not parse is not also compared with its partner setting.
run duration-overflow 3 validate --no-secrets -c "$data/invalid/duration-overflow"
expect_eq "one error for a bad duration" "$(stderr)" \
    "podstream.yml:3:14: error: backoff_max: \"1e400s\" is not a duration; write a whole number with a unit (ms, s, m, h, d, w), e.g. 30s, 5m or 1h30m
podstream validate: 1 error; the configuration in $data/invalid/duration-overflow is not valid"

# A typo in podstream.yml does not hide the pipelines' mistakes or a token that does
# not resolve: every phase reports (the example of docs/pipelines.md).
run every-phase 3 validate -c "$data/invalid/every-phase"
expect_eq "every phase at once" "$(stderr)" \
    "devices/pod.yml:5:34: error: devices[0].pipelines[1]: unknown pipeline \"drop_delivered_mailog\" (did you mean \"drop_delivered_maillog\"?)
devices/pod.yml:8:14: error: devices[0].properties.token: environment variable PS_VALIDATE_UNSET_TOKEN is not set
pipelines/new.yml:5:35: error: pipelines[0].processors[1].tag.if: invalid condition: '=' is not an operator; use '==' to compare
pipelines/new.yml:7:9: error: pipelines[0].processors[2].set: set needs the option value (or copy_from)
pipelines/new.yml:9:11: error: pipelines[0].processors[2].set.vaule: unknown option \"vaule\" for set (did you mean \"value\"?)
pipelines/new.yml:10:46: error: pipelines[0].processors[3].lowercase.field: invalid field path: expected ']'
pipelines/new.yml:11:40: error: pipelines[0].processors[4].convert.type: unknown value \"number\"; expected one of: string, int, integer, long, float, double, boolean, bool
podstream.yml:1:1: error: log_levle: unknown key \"log_levle\" (did you mean \"log_level\"?)
podstream validate: 8 errors; the configuration in $data/invalid/every-phase is not valid"
run every-phase-no-secrets 3 validate --no-secrets -c "$data/invalid/every-phase"
expect_contains "every phase without tokens" "$(stderr)" \
    "podstream validate: 7 errors; the configuration in $data/invalid/every-phase is not valid"

run tab 3 validate --no-secrets -c "$data/invalid/tab"
expect_eq "a tab in the indentation" "$(stderr)" \
    "devices/bad.yml:6:1: error: tab used for indentation; YAML allows only spaces
podstream validate: 1 error; the configuration in $data/invalid/tab is not valid"

run utf8 3 validate --no-secrets -c "$data/invalid/utf8"
expect_eq "invalid UTF-8 at its line and column" "$(stderr)" \
    "devices/bad.yml:3:13: error: not valid UTF-8 (invalid leading UTF-8 octet); save the file as UTF-8
podstream validate: 1 error; the configuration in $data/invalid/utf8 is not valid"

run float-int 3 validate --no-secrets -c "$data/invalid/float-int"
expect_eq "a whole number in float syntax" "$(stderr)" \
    "devices/bad.yml:8:16: error: devices[0].properties.workers: 1e9 must be a whole number from 1 to 64
podstream validate: 1 error; the configuration in $data/invalid/float-int is not valid"

# ---- tokens: each form resolves, or fails at the token's position ---------------
cfg="$tmp/tokens"
newcfg "$cfg"
mkdir -m 700 "$cfg/secrets"
cat >"$cfg/devices/pod.yml" <<'YML'
devices:
  - id: 1
    name: from-env
    type: proofpoint
    properties:
      cluster: acme
      token: ${POD_TOKEN}
  - id: 2
    name: from-secret
    type: proofpoint
    properties:
      cluster: acme
      token: $secret{pod-token}
      type: maillog
YML
run secret-missing 3 validate -c "$cfg"
expect_eq "missing env and secret" "$(stderr)" \
    "devices/pod.yml:7:14: error: devices[0].properties.token: environment variable POD_TOKEN is not set
devices/pod.yml:13:14: error: devices[1].properties.token: secret \"pod-token\" not found (looked in $cfg/secrets/pod-token)
podstream validate: 2 errors; the configuration in $cfg is not valid"

printf '%s\n' "$TOKEN" >"$cfg/secrets/pod-token"
chmod 600 "$cfg/secrets/pod-token"
POD_TOKEN="$TOKEN" run secret-ok 0 validate -c "$cfg"
expect_contains "both forms resolve" "$(stdout)" "Tokens:         all resolve"
expect_contains "secret shown by name" "$(stdout)" "\$secret{pod-token}"

# An encrypted token: keygen, encrypt for device 3, then tamper with it.
"$PODSTREAM" keygen -c "$cfg" >"$out/keygen.stdout" 2>&1
enc=$(printf '%s\n' "$TOKEN" | "$PODSTREAM" encrypt -c "$cfg" --device 2 2>"$out/encrypt.stderr")
cat >"$cfg/devices/secure.yml" <<YML
id: 3
name: encrypted
type: proofpoint
properties:
  cluster: acme
  type: audit
  secure: true
  token: $enc
YML
POD_TOKEN="$TOKEN" run encrypted-wrong-device 3 validate -c "$cfg"
expect_contains "bound to another device" "$(stderr)" \
    "devices/secure.yml:8:10: error: devices[0].properties.token: "
expect_eq "one error" "$(grep -c ': error: ' "$last.stderr")" "1"
enc=$(printf '%s\n' "$TOKEN" | "$PODSTREAM" encrypt -c "$cfg" --no-config --device 3 2>"$out/encrypt.stderr")
sed -i "s|token: enc:v1:.*|token: $enc|" "$cfg/devices/secure.yml"
POD_TOKEN="$TOKEN" run encrypted-ok 0 validate -c "$cfg"
expect_contains "encrypted resolves" "$(stdout)" \
    "  3   encrypted    enabled   audit    acme     encrypted"
chmod 644 "$cfg/podstream.key"
POD_TOKEN="$TOKEN" run loose-key 3 validate -c "$cfg"
expect_contains "loose key refused" "$(stderr)" \
    "devices/secure.yml:8:10: error: devices[0].properties.token: "
expect_contains "loose key: names the mode" "$(stderr)" "0644"
POD_TOKEN="$TOKEN" run loose-key-no-secrets 0 validate --no-secrets -c "$cfg"
chmod 600 "$cfg/podstream.key"

# A disabled device may keep a token that does not resolve: a warning, exit 0.
cfg="$tmp/disabled"
newcfg "$cfg"
cat >"$cfg/devices/pod.yml" <<'YML'
- id: 9
  name: parked
  type: proofpoint
  status: false
  properties: {cluster: acme, token: "${PARKED_TOKEN}"}
YML
run disabled 0 validate -c "$cfg"
expect_eq "disabled device warns" "$(stderr)" \
    "devices/pod.yml:5:38: warning: devices[0].properties.token: environment variable PARKED_TOKEN is not set (the device is disabled)"
expect_contains "disabled in the summary" "$(stdout)" "  9   parked  disabled  message  acme     \${PARKED_TOKEN}"
expect_contains "enabled count" "$(stdout)" "Devices: 1 (0 enabled)"

# A token written in clear is accepted with a warning, and never printed.
cfg="$tmp/plain"
newcfg "$cfg"
printf -- '- id: 4\n  name: plain\n  type: proofpoint\n  properties: {cluster: acme, token: %s}\n' \
    "$TOKEN" >"$cfg/devices/pod.yml"
run plain-token 0 validate -c "$cfg"
expect_eq "plain token warns" "$(stderr)" \
    "devices/pod.yml:4:38: warning: devices[0].properties.token: the token is written in clear text; use \${ENV_VAR}, \$secret{name} or secure: true (see docs/security.md)"
expect_contains "plain token summary" "$(stdout)" "in the file"

# Proxy credentials resolve like tokens.
cfg="$tmp/proxy"
newcfg "$cfg"
cat >>"$cfg/podstream.yml" <<'YML'
proxy: http://proxy.example.net:3128
proxy_username: ${PROXY_USER}
YML
printf -- '- {id: 1, name: p, type: proofpoint, properties: {cluster: a, token: "${POD_TOKEN}"}}\n' \
    >"$cfg/devices/pod.yml"
POD_TOKEN="$TOKEN" run proxy-user 3 validate -c "$cfg"
expect_eq "proxy user unresolved" "$(stderr)" \
    "podstream.yml:3:17: error: proxy_username: environment variable PROXY_USER is not set
podstream validate: 1 error; the configuration in $cfg is not valid"
POD_TOKEN="$TOKEN" PROXY_USER=bob run proxy-ok 0 validate -c "$cfg"
expect_contains "proxy in summary" "$(stdout)" "Proxy:          http://proxy.example.net:3128"

# ---- an empty directory is valid but says so --------------------------------------
mkdir "$tmp/empty"
run empty 0 validate -c "$tmp/empty"
expect_eq "no devices" "$(stderr)" "warning: no devices configured; add a file in $tmp/empty/devices"
expect_contains "empty summary" "$(stdout)" "Devices: 0"

# ---- a devices entry that is not a regular file is an error, not a silent skip ----
cfg="$tmp/notfile"
newcfg "$cfg"
printf -- '- {id: 1, name: p, type: proofpoint, properties: {cluster: a, token: "${POD_TOKEN}"}}\n' \
    >"$cfg/devices/pod.yml"
ln -s gone.yml "$cfg/devices/old.yml"
mkfifo "$cfg/devices/pipe.yml"
POD_TOKEN="$TOKEN" run not-a-file 3 validate -c "$cfg"
expect_eq "dangling link and FIFO" "$(stderr)" \
    "devices/old.yml: error: a dangling symbolic link
devices/pipe.yml: error: not a regular file (a FIFO)
podstream validate: 2 errors; the configuration in $cfg is not valid"

# ---- nothing secret in any output --------------------------------------------------
if grep -rlF -- "$TOKEN" "$out" >/dev/null; then
    fail "the token appears in: $(grep -rlF -- "$TOKEN" "$out" | tr '\n' ' ')"
fi

if [ "$fails" -ne 0 ]; then
    echo "test_validate: $fails failure(s) in $n runs" >&2
    exit 1
fi
echo "test_validate: all checks passed ($n runs)"
