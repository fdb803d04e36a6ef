#!/usr/bin/env bash
# A bad-deploy drill for `authcheck probe`: a correct auth-server with the probe watching it at
# --interval SECONDS; after two rounds the server is replaced, over the same database and
# address, by a flaws build with FLAW (default logout-keeps-refresh). Prints how long after the
# deploy the probe's first DIVERGENCE line came, and the probe's rounds.
#
#   scripts/probe-deploy-drill.sh [SECONDS] [FLAW]
set -euo pipefail
interval=${1:-10}
flaw=${2:-logout-keeps-refresh}
cd "$(dirname "$0")/.."
cargo build -q --release --features flaws -p authcheck -p auth
bin=target/release/auth-server
dir=$(mktemp -d)
port=$((20000 + RANDOM % 20000))
flags=(--listen "127.0.0.1:$port" --db "$dir/auth.db" --argon2-memory-kib 64 --argon2-iterations 1)
"$bin" "${flags[@]}" >/dev/null 2>&1 &
server=$!
sleep 0.5
AUTHCHECK_PROBE_USERNAME=authcheck-probe-drill AUTHCHECK_PROBE_PASSWORD='drill password 1234' \
    target/release/authcheck probe --target "http://127.0.0.1:$port" --interval "$interval" \
    --rounds 8 --out-dir "$dir/failures" >"$dir/probe.log" 2>/dev/null &
probe=$!
trap 'kill $probe $server 2>/dev/null || true' EXIT
sleep $((interval * 2 + 3))
kill "$server"; wait "$server" 2>/dev/null || true
deployed=$(date +%s.%N)
"$bin" "${flags[@]}" --flaw "$flaw" >/dev/null 2>&1 &
server=$!
until grep -q DIVERGENCE "$dir/probe.log"; do sleep 0.05; done
flagged=$(date +%s.%N)
echo "interval $interval s, flaw $flaw: first divergence $(echo "$flagged - $deployed" | bc) s after the deploy"
cat "$dir/probe.log"
