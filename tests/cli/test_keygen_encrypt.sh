#!/usr/bin/env bash
# `podstream keygen` and `podstream encrypt`, run as an admin would run them.
# Every enc:v1: value printed is decrypted independently with Python's
# `cryptography` (python3-cryptography), so the format matches docs/security.md and
# not just podstream's own decryption. Every output is kept and checked at the end
# for the token and the key.
set -euo pipefail

: "${PODSTREAM:?set PODSTREAM to the podstream binary}"
PY=/usr/bin/python3
"$PY" -c 'import cryptography' 2>/dev/null || {
    echo "FAIL: $PY cannot import cryptography; run scripts/install-deps.sh" >&2
    exit 1
}

tmp=$(mktemp -d /tmp/ps_cli_keygen.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
out="$tmp/out"
mkdir "$out"
cfg="$tmp/cfg"
mkdir -p "$cfg/devices"
cat >"$cfg/devices/pod.yml" <<'YML'
devices:
  - id: 7
    name: pod-message
    type: proofpoint
    properties:
      cluster: example_hosted
      token: ${POD_TOKEN}
  - id: 8
    name: pod-maillog
    type: proofpoint
    properties:
      cluster: example_hosted
      type: maillog
      secure: true
      token: enc:v1:placeholder
YML
key="$cfg/podstream.key"
TOKEN="eyJhbGciOiJIUzUxMiJ9.Y2xpLXRlc3Q.$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
unset PODSTREAM_CONFIG_DIR CREDENTIALS_DIRECTORY

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
        fail "$name: exit code $rc, expected $want"
        sed 's/^/  stderr: /' "$last.stderr" >&2
    fi
}

stdout() { cat "$last.stdout"; }
stderr() { cat "$last.stderr"; }

expect_eq() { # NAME ACTUAL EXPECTED
    if [ "$2" != "$3" ]; then
        fail "$1"
        printf '  got:      %s\n  expected: %s\n' "$2" "$3" >&2
    fi
}

expect_contains() { # NAME HAYSTACK NEEDLE
    case "$2" in
    *"$3"*) ;;
    *)
        fail "$1: output does not contain: $3"
        printf '  got: %s\n' "$2" >&2
        ;;
    esac
}

mode() { stat -c %a "$1"; }

# decrypt VALUE KEYFILE DEVICE FIELD: the plaintext, decrypted per docs/security.md.
decrypt() {
    "$PY" - "$1" "$2" "$3" "$4" <<'PY'
import base64, sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
value, keyfile, device, field = sys.argv[1:]
line = open(keyfile).read()
assert line.startswith("podstream-key-v1:") and line.endswith("\n"), "key file format"
key = base64.b64decode(line[len("podstream-key-v1:"):-1], validate=True)
assert len(key) == 32
assert value.startswith("enc:v1:")
blob = base64.b64decode(value[len("enc:v1:"):], validate=True)
aad = ("podstream:v1:device=%s:field=%s" % (device, field)).encode()
sys.stdout.write(AESGCM(key).decrypt(blob[:12], blob[12:], aad).decode())
PY
}

printf '%s\n' "$TOKEN" >"$tmp/token"
printf '%s\r\n' "$TOKEN" >"$tmp/token-crlf"
: >"$tmp/empty"
printf '%s\nsecond line\n' "$TOKEN" >"$tmp/two-lines"
printf 'abc\0def\n' >"$tmp/nul"
head -c 70000 /dev/zero | tr '\0' 'a' >"$tmp/huge"

# ---- help and version ---------------------------------------------------------
for c in keygen encrypt; do
    run "$c-help" 0 /dev/null -- "$c" --help
    expect_contains "$c --help" "$(stdout)" "usage: podstream $c"
    run "$c-version" 0 /dev/null -- "$c" --version
    expect_contains "$c --version" "$(stdout)" "podstream 0."
done
run encrypt-help 0 /dev/null -- encrypt -h
case "$(stdout)" in *--token*) fail "encrypt --help offers a --token option" ;; esac

# ---- keygen -----------------------------------------------------------------------
run keygen 0 /dev/null -- keygen -c "$cfg"
expect_eq "keygen output" "$(stdout)" "wrote a new shared key to $key (mode 0600)
keep a copy of the key somewhere safe: without it, secure tokens cannot be decrypted"
expect_eq "keygen mode" "$(mode "$key")" 600
grep -Eqx 'podstream-key-v1:[A-Za-z0-9+/]{43}=' "$key" || fail "key file format"
expect_eq "key file is one line" "$(wc -l <"$key")" 1
cp "$key" "$tmp/key-1"

run keygen-again 1 /dev/null -- keygen -c "$cfg"
expect_eq "keygen refuses overwrite" "$(stderr)" "podstream keygen: $key already exists; not replacing it, because tokens encrypted under the old key would stop working.
To rotate the key: podstream keygen --force (keeps the old key as $key.bak), then encrypt every \"secure: true\" token again with 'podstream encrypt'."
cmp -s "$key" "$tmp/key-1" || fail "keygen without --force changed the key"

chmod 644 "$key" # even a loose old key gets a private backup
run keygen-force 0 /dev/null -- keygen -c "$cfg" --force
expect_eq "keygen --force output" "$(stdout)" "replaced the shared key in $key (mode 0600)
the previous key is in $key.bak (mode 0600)
encrypt every \"secure: true\" token again with 'podstream encrypt': values made with the previous key no longer decrypt
keep a copy of the key somewhere safe: without it, secure tokens cannot be decrypted"
expect_eq "new key mode" "$(mode "$key")" 600
expect_eq "backup mode" "$(mode "$key.bak")" 600
cmp -s "$key.bak" "$tmp/key-1" || fail "the backup is not the previous key"
cmp -s "$key" "$tmp/key-1" && fail "--force did not change the key"

run keygen-force-again 0 /dev/null -- keygen -c "$cfg" --force
expect_contains "second --force mentions the replaced backup" "$(stdout)" \
    "the previous key is in $key.bak (mode 0600); it replaced an older backup"

# Rotated as root, a key that belongs to the service's account stays its own, and
# so does the backup: the service reads the key as that account.
if [ "$(id -u)" -eq 0 ] && getent passwd nobody >/dev/null && getent group nogroup >/dev/null; then
    chown nobody:nogroup "$key"
    run keygen-force-root 0 /dev/null -- keygen -c "$cfg" --force
    expect_eq "rotated key owner" "$(stat -c '%U:%G %a' "$key")" "nobody:nogroup 600"
    expect_eq "backup owner" "$(stat -c '%U:%G %a' "$key.bak")" "nobody:nogroup 600"
else
    echo "test_keygen_encrypt: not root (or no nobody:nogroup), skipping the ownership check"
fi

# A restrictive or permissive umask does not change the mode.
(umask 000 && "$PODSTREAM" keygen --key-file "$tmp/umask.key" >"$out/umask.stdout" 2>&1)
expect_eq "keygen under umask 000" "$(mode "$tmp/umask.key")" 600

# key_file from podstream.yml, relative to the configuration directory.
cfg2="$tmp/cfg2"
mkdir -p "$cfg2/devices" "$cfg2/keys"
cp "$cfg/devices/pod.yml" "$cfg2/devices/"
printf 'key_file: keys/pod.key\n' >"$cfg2/podstream.yml"
run keygen-key-file-setting 0 /dev/null -- keygen -c "$cfg2"
expect_contains "keygen follows key_file" "$(stdout)" "wrote a new shared key to $cfg2/keys/pod.key (mode 0600)"
expect_eq "key_file mode" "$(mode "$cfg2/keys/pod.key")" 600

# PODSTREAM_CONFIG_DIR is the default for -c.
cfg3="$tmp/cfg3"
mkdir -p "$cfg3/devices"
cp "$cfg/devices/pod.yml" "$cfg3/devices/"
PODSTREAM_CONFIG_DIR="$cfg3" run keygen-env-dir 0 /dev/null -- keygen
[ -f "$cfg3/podstream.key" ] || fail "keygen ignored PODSTREAM_CONFIG_DIR"

run keygen-missing-dir 1 /dev/null -- keygen -c "$tmp/nowhere"
expect_eq "keygen in a missing directory" "$(stderr)" \
    "podstream keygen: configuration directory $tmp/nowhere does not exist; create it or pass --key-file PATH"

bad="$tmp/bad"
mkdir -p "$bad/devices"
printf 'devices:\n  - id: seven\n' >"$bad/devices/pod.yml"
run keygen-bad-config 3 /dev/null -- keygen -c "$bad"
expect_contains "keygen with an invalid configuration" "$(stderr)" \
    "podstream keygen: the configuration in $bad has errors, so its key_file setting cannot be trusted"
[ -e "$bad/podstream.key" ] && fail "keygen wrote a key next to an invalid configuration"

run keygen-unknown-option 2 /dev/null -- keygen --frce
expect_eq "keygen unknown option" "$(stderr)" "podstream keygen: unknown option '--frce'
Run 'podstream keygen --help' for usage."
run keygen-missing-value 2 /dev/null -- keygen --key-file
expect_contains "keygen --key-file without a value" "$(stderr)" "podstream keygen: --key-file needs a value"

# ---- encrypt ----------------------------------------------------------------------
run encrypt 0 "$tmp/token" -- encrypt -c "$cfg" --device 7
value=$(stdout)
expect_eq "encrypt prints one line" "$(wc -l <"$last.stdout")" 1
[[ $value =~ ^enc:v1:[A-Za-z0-9+/]+={0,2}$ ]] || fail "encrypt output format: $value"
expect_eq "encrypt hint" "$(stderr)" "podstream encrypt: paste it as the token of device 7 with \"secure: true\"
podstream encrypt: device 7 (pod-message) has \"secure: false\" in devices/pod.yml; set it to true when you paste the value"
expect_eq "encrypt round trip" "$(decrypt "$value" "$key" 7 properties.token)" "$TOKEN"
# Bound to the device: the same value does not decrypt as device 8's.
if decrypt "$value" "$key" 8 properties.token >/dev/null 2>&1; then
    fail "a value for device 7 decrypts for device 8"
fi

run encrypt-secure-device 0 "$tmp/token" -- encrypt -c "$cfg" --device 8
expect_eq "no secure hint for a secure device" "$(stderr)" \
    "podstream encrypt: paste it as the token of device 8 with \"secure: true\""
expect_eq "device 8 round trip" "$(decrypt "$(stdout)" "$key" 8 properties.token)" "$TOKEN"

run encrypt-again 0 "$tmp/token" -- encrypt -c "$cfg" --device 7
[ "$(stdout)" != "$value" ] || fail "two encryptions of the same token are equal (nonce reuse)"

run encrypt-crlf 0 "$tmp/token-crlf" -- encrypt -c "$cfg" --device 7
expect_eq "CRLF input round trip" "$(decrypt "$(stdout)" "$key" 7 properties.token)" "$TOKEN"

# What the docs show: command substitution gets exactly the value.
sub=$("$PODSTREAM" encrypt -c "$cfg" --device 7 <"$tmp/token" 2>"$out/subst.stderr")
expect_eq "command substitution" "$(decrypt "$sub" "$key" 7 properties.token)" "$TOKEN"

run encrypt-no-config 0 "$tmp/token" -- encrypt --no-config --key-file "$tmp/umask.key" --device 99
expect_eq "--no-config round trip" "$(decrypt "$(stdout)" "$tmp/umask.key" 99 properties.token)" "$TOKEN"
# --no-config without --key-file: DIR/podstream.key.
run encrypt-no-config-dir 0 "$tmp/token" -- encrypt --no-config -c "$cfg" --device 12345
expect_eq "--no-config -c round trip" "$(decrypt "$(stdout)" "$key" 12345 properties.token)" "$TOKEN"

run encrypt-field 0 "$tmp/token" -- encrypt -c "$cfg" --device 7 --field proxy_password
expect_eq "--field round trip" "$(decrypt "$(stdout)" "$key" 7 proxy_password)" "$TOKEN"
expect_eq "--field hint" "$(stderr)" "podstream encrypt: paste it as proxy_password of device 7; note that this version of podstream decrypts only properties.token"
if decrypt "$(stdout)" "$key" 7 properties.token >/dev/null 2>&1; then
    fail "a proxy_password value decrypts as properties.token"
fi

run encrypt-key-file-setting 0 "$tmp/token" -- encrypt -c "$cfg2" --device 7
expect_eq "encrypt uses key_file" "$(decrypt "$(stdout)" "$cfg2/keys/pod.key" 7 properties.token)" "$TOKEN"

run encrypt-unknown-device 1 "$tmp/token" -- encrypt -c "$cfg" --device 9
expect_eq "unknown device" "$(stderr)" "podstream encrypt: device 9 is not defined in $cfg (devices: 7, 8)
podstream encrypt: check the id, or pass --no-config to encrypt for a device that is not added yet"
expect_eq "nothing on stdout after a failure" "$(stdout)" ""

run encrypt-bad-config 3 "$tmp/token" -- encrypt -c "$bad" --device 7
expect_contains "encrypt with an invalid configuration" "$(stderr)" \
    "podstream encrypt: the configuration in $bad has errors; fix them (see 'podstream validate'), or pass --no-config"

for m in 644 640 604; do
    chmod "$m" "$key"
    run "encrypt-key-$m" 4 "$tmp/token" -- encrypt -c "$cfg" --device 7
    expect_eq "key mode 0$m refused" "$(stderr)" "podstream encrypt: refusing the shared key file (whoever can read it can decrypt every secure token): $key has mode 0$m: other users could read it; run 'chmod 600 $key'"
    expect_eq "no value with a loose key" "$(stdout)" ""
done
chmod 600 "$key"

run encrypt-missing-key 4 "$tmp/token" -- encrypt -c "$cfg" --device 7 --key-file "$tmp/none.key"
expect_eq "missing key" "$(stderr)" \
    "podstream encrypt: the shared key file $tmp/none.key does not exist; create it with 'podstream keygen'"

printf 'not a key\n' >"$tmp/garbage.key"
chmod 600 "$tmp/garbage.key"
run encrypt-garbage-key 4 "$tmp/token" -- encrypt -c "$cfg" --device 7 --key-file "$tmp/garbage.key"
expect_eq "garbage key" "$(stderr)" \
    "podstream encrypt: $tmp/garbage.key is not a podstream key file: it does not start with \"podstream-key-v1:\""

run encrypt-empty 1 "$tmp/empty" -- encrypt -c "$cfg" --device 7
expect_eq "empty token" "$(stderr)" "podstream encrypt: no token on standard input"
run encrypt-two-lines 1 "$tmp/two-lines" -- encrypt -c "$cfg" --device 7
expect_eq "two lines" "$(stderr)" \
    "podstream encrypt: standard input has more than one line; give the token alone on one line"
run encrypt-nul 1 "$tmp/nul" -- encrypt -c "$cfg" --device 7
expect_eq "NUL byte" "$(stderr)" "podstream encrypt: the token on standard input contains a NUL byte"
run encrypt-huge 1 "$tmp/huge" -- encrypt -c "$cfg" --device 7
expect_eq "huge token" "$(stderr)" "podstream encrypt: the token on standard input is longer than 65536 bytes"

# The token is never accepted on the command line, and never repeated back.
run encrypt-token-option 2 /dev/null -- encrypt -c "$cfg" --device 7 "--token=$TOKEN"
expect_eq "--token refused" "$(stderr)" "podstream encrypt: there is no --token option: a token on the command line is visible to every local user and stays in the shell history; pipe it on standard input or type it at the prompt
Run 'podstream encrypt --help' for usage."
run encrypt-token-option-2 2 /dev/null -- encrypt -c "$cfg" --device 7 --token "$TOKEN"
run encrypt-positional 2 /dev/null -- encrypt -c "$cfg" --device 7 "$TOKEN"
expect_eq "positional token refused" "$(stderr)" "podstream encrypt: unexpected argument (not shown, in case it is a token); the token is read from standard input
Run 'podstream encrypt --help' for usage."
run encrypt-no-device 2 "$tmp/token" -- encrypt -c "$cfg"
expect_contains "--device required" "$(stderr)" "podstream encrypt: --device ID (or --output NAME) is required"
# An output's secret: bound to the output and its option, not to a device.
run encrypt-output-and-device 2 "$tmp/token" -- encrypt -c "$cfg" --device 7 --output splunk --field token
expect_contains "--output with --device" "$(stderr)" "podstream encrypt: --device and --output exclude each other"
run encrypt-output-no-field 2 "$tmp/token" -- encrypt -c "$cfg" --output splunk
expect_contains "--output needs --field" "$(stderr)" "podstream encrypt: --output needs --field OPTION"
run encrypt-output-bad-name 2 "$tmp/token" -- encrypt -c "$cfg" --output 'a.b' --field token
expect_contains "bad output name" "$(stderr)" "podstream encrypt: --output: 'a.b' is not an output name"
run encrypt-bad-device 2 "$tmp/token" -- encrypt -c "$cfg" --device 7x
expect_contains "bad device id" "$(stderr)" \
    "podstream encrypt: --device: '7x' is not a device id (a whole number from 1 to 2147483647)"
run encrypt-bad-field 2 "$tmp/token" -- encrypt -c "$cfg" --device 7 --field 'properties token'
expect_contains "bad field" "$(stderr)" "podstream encrypt: --field: 'properties token' is not a field path"

# ---- the hidden prompt on a terminal -------------------------------------------------
# A pseudo-terminal stands in for the admin: the token is typed only after the
# prompt appears (echo is off by then) and must not come back on the terminal.
"$PY" - "$PODSTREAM" "$cfg" "$TOKEN" >"$out/tty.transcript" <<'PY' || fail "terminal prompt"
import os, pty, signal, sys, time
binary, cfg, token = sys.argv[1:]
signal.alarm(60)  # a hung child fails the test instead of hanging it
pid, fd = pty.fork()
if pid == 0:
    os.execv(binary, [binary, "encrypt", "-c", cfg, "--device", "7"])
buf = b""
deadline = time.time() + 20
while b"(typing is not shown): " not in buf:
    if time.time() > deadline:
        sys.exit("no prompt: %r" % buf)
    buf += os.read(fd, 1024)
os.write(fd, token.encode() + b"\n")
while True:
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        break
    if not chunk:
        break
    buf += chunk
_, status = os.waitpid(pid, 0)
sys.stdout.write(buf.decode(errors="replace"))
if os.waitstatus_to_exitcode(status) != 0:
    sys.exit("exit status %d" % os.waitstatus_to_exitcode(status))
PY
transcript=$(tr -d '\r' <"$out/tty.transcript")
expect_contains "terminal prompt" "$transcript" "Token for device 7 (typing is not shown): "
tty_value=$(printf '%s\n' "$transcript" | grep -Eo 'enc:v1:[A-Za-z0-9+/]+={0,2}' | head -n1 || true)
expect_eq "terminal round trip" "$(decrypt "$tty_value" "$key" 7 properties.token)" "$TOKEN"

# Interrupted at the prompt, the terminal gets its echo back.
"$PY" - "$PODSTREAM" "$cfg" <<'PY' || fail "terminal echo after an interrupt at the prompt"
import os, pty, signal, subprocess, sys, termios, time
binary, cfg = sys.argv[1:]
signal.alarm(60)
master, slave = pty.openpty()
p = subprocess.Popen([binary, "encrypt", "-c", cfg, "--device", "7"],
                     stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
buf = b""
while b"(typing is not shown): " not in buf:
    buf += os.read(master, 1024)
if termios.tcgetattr(slave)[3] & termios.ECHO:
    sys.exit("echo is on at the prompt")
p.send_signal(signal.SIGINT)
if p.wait() != -signal.SIGINT:
    sys.exit("exit status %d, expected death by SIGINT" % p.returncode)
if not termios.tcgetattr(slave)[3] & termios.ECHO:
    sys.exit("echo is still off after SIGINT")
PY

# ---- nothing secret in any output --------------------------------------------------
if grep -rlF -- "$TOKEN" "$out" >/dev/null; then
    fail "the token appears in: $(grep -rlF -- "$TOKEN" "$out" | tr '\n' ' ')"
fi
for k in "$key" "$key.bak" "$tmp/key-1" "$cfg2/keys/pod.key"; do
    body=$(cut -d: -f2 "$k")
    if grep -rlF -- "$body" "$out" >/dev/null; then
        fail "key material of $k appears in the output"
    fi
done

if [ "$fails" -ne 0 ]; then
    echo "test_keygen_encrypt: $fails failure(s) in $n runs" >&2
    exit 1
fi
echo "test_keygen_encrypt: all checks passed ($n runs)"
