#!/usr/bin/env bash
# A private PostgreSQL cluster for the DOT target, for as long as the caller keeps this script's
# stdin open: initdb into a fresh temporary directory, the server listening only on a Unix
# socket in that directory (no TCP port), fsync off (test data). Prints the directory (the
# socket's "host" for clients) once the server accepts connections; when stdin closes, stops
# the server and removes the directory. PostgreSQL refuses to run as root: as root, run this
# script as the `postgres` user (the Debian package creates it).
set -euo pipefail
bin="$(dirname "$(readlink -f "$(command -v initdb 2>/dev/null || ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -1)")")"
dir="$(mktemp -d)"
"$bin/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
"$bin/postgres" -D "$dir/data" -k "$dir" -c listen_addresses= -c fsync=off \
    -c synchronous_commit=off -c full_page_writes=off >"$dir/log" 2>&1 &
server=$!
for _ in $(seq 100); do
    "$bin/pg_isready" -q -h "$dir" && break
    sleep 0.1
done
echo "$dir"
cat >/dev/null || true
kill -INT "$server"
wait "$server" || true
rm -rf "$dir"
