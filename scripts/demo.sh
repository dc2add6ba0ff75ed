#!/usr/bin/env bash
# The demo: installs dependencies, builds podstream, starts podsim (the POD Log API
# simulator) on loopback wss:// with a throw-away test CA, streams a message and a
# maillog device into a fresh database for a few seconds, then shows what an admin
# sees: `podstream status`, the stored events, and one mail traced end to end.
# Everything it starts is stopped on exit; the work directory is removed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

if [ -z "${PODSTREAM_DEMO_SKIP_DEPS:-}" ]; then
    bash scripts/install-deps.sh
fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target podstream podsim >/dev/null

work=$(mktemp -d /tmp/podstream-demo.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

podstream=$root/build/service/podstream
podsim=$root/build/tests/podsim/podsim
token=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')

bash tests/podsim/gen-certs.sh "$work/certs" >/dev/null
"$podsim" --port off --tls-port 0 --control-port 0 --port-file "$work/ports.json" \
    --cert "$work/certs/server.pem" --key "$work/certs/server.key" \
    --token "pphosted_demo_hosted:$token" --rate 40 --history 0 \
    -q >"$work/podsim.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/ports.json" ] && break; sleep 0.1; done
wss_port=$(sed -n 's/.*"wss": *\([0-9]*\).*/\1/p' "$work/ports.json")

mkdir -p "$work/config/devices"
cat >"$work/config/podstream.yml" <<YML
database: $work/state/podstream.db
tls_ca_file: $work/certs/ca.pem
YML
cat >"$work/config/devices/pod.yml" <<YML
devices:
  - id: 1
    name: pod-message
    type: proofpoint
    properties:
      endpoint: wss://127.0.0.1:$wss_port/v1/stream
      cluster: pphosted_demo_hosted
      token: "\${POD_TOKEN}"
      type: message
  - id: 2
    name: pod-maillog
    type: proofpoint
    properties:
      endpoint: wss://127.0.0.1:$wss_port/v1/stream
      cluster: pphosted_demo_hosted
      token: "\${POD_TOKEN}"
      type: maillog
YML

echo "== podstream validate"
POD_TOKEN=$token "$podstream" validate -c "$work/config"
echo
echo "== podstream run (10 seconds against podsim on wss://127.0.0.1:$wss_port)"
POD_TOKEN=$token "$podstream" run -c "$work/config" >"$work/run.log" 2>&1 &
run_pid=$!
pids+=($run_pid)
sleep 10
sed 's/^/   /' "$work/run.log"
echo
echo "== podstream status"
"$podstream" status -c "$work/config"
echo
echo "== podstream query --limit 8 (newest first)"
"$podstream" query -c "$work/config" --limit 8
# A mail that has both its message event and its delivery line: trace it.
qid=$("$podstream" query -c "$work/config" --type maillog --search Sent --limit 1 \
          --format json | sed -n 's/.*"qid":"\([^"]*\)".*/\1/p')
if [ -n "$qid" ]; then
    echo
    echo "== podstream trace $qid"
    "$podstream" trace -c "$work/config" "$qid"
fi
echo
echo "== stopping the service (SIGTERM)"
kill -TERM "$run_pid"
wait "$run_pid" 2>/dev/null || true
tail -n 2 "$work/run.log" | sed 's/^/   /'
echo
echo "demo: done (the database, the certificates and the simulator are removed on exit)"
