#!/usr/bin/env bash
# Generates a throw-away test CA and a server certificate for 127.0.0.1 and localhost,
# for podsim's wss:// endpoint in tests and the demo. Key material is created fresh
# each time and must never be committed.
#
# Usage: gen-certs.sh DIR [DAYS]
# Writes DIR/ca.pem, DIR/ca.key, DIR/server.pem, DIR/server.key (keys mode 0600).
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 DIR [DAYS]" >&2
    exit 2
fi
dir=$1
days=${2:-30}
case $days in
    ''|*[!0-9]*) echo "$0: DAYS must be a number of days, got '$days'" >&2; exit 2 ;;
esac
mkdir -p "$dir"
umask 077
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$dir/ca.key" -out "$dir/ca.pem" -days "$days" \
    -subj "/CN=podsim test CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>"$work/log" || { cat "$work/log" >&2; exit 1; }

openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$dir/server.key" -out "$work/server.csr" \
    -subj "/CN=localhost" 2>"$work/log" || { cat "$work/log" >&2; exit 1; }

cat > "$work/ext.cnf" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost
EXT
openssl x509 -req -in "$work/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
    -CAcreateserial -CAserial "$work/ca.srl" -days "$days" -sha256 \
    -extfile "$work/ext.cnf" -out "$dir/server.pem" 2>"$work/log" || { cat "$work/log" >&2; exit 1; }

chmod 0644 "$dir/ca.pem" "$dir/server.pem"
echo "gen-certs: wrote $dir/ca.pem, $dir/server.pem and their keys (valid $days days)"
