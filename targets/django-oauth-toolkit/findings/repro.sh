#!/usr/bin/env bash
# Plain-curl reproductions of the findings in this directory, against DOT served by ../server.py.
#
#   findings/repro.sh 1617            # 3.4.0: a refresh token two rotations old is honored
#   findings/repro.sh revoked-in-grace   # 3.4.0: a token revoked by reuse protection is honored
#   findings/repro.sh revoked-explicitly # 3.4.0: a token revoked through RFC 7009 is honored
#   findings/repro.sh retry-after-revoke # 3.4.0: a grace retry after an access revoke forks the family
#   findings/repro.sh duplicate [N]   # 3.4.1, grace 0: two concurrent refreshes of one token both succeed
#   findings/repro.sh fork [N]        # 3.4.1, grace 10 s + reuse protection: a racing retry forks the family
#
# Each starts its own server (the DOT version and settings the finding needs) on a free
# loopback port and stops it on exit. Only curl and jq are used to talk to it; an upstream
# report would create the user with `manage.py createsuperuser` instead of POST /users.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
case="${1:?usage: repro.sh 1617|revoked-in-grace|revoked-explicitly|retry-after-revoke|duplicate|fork [attempts]}"
attempts="${2:-20}"
case "$case" in
    1617|revoked-in-grace|revoked-explicitly|retry-after-revoke) version=3.4.0; settings=(--grace=10 --reuse-protection=1) ;;
    duplicate) version=3.4.1; settings=(--grace=0 --reuse-protection=0) ;;
    fork) version=3.4.1; settings=(--grace=10 --reuse-protection=1) ;;
    *) echo "unknown case $case" >&2; exit 2 ;;
esac
"$here/setup.sh" "$version" >/dev/null
venv="$here/.venv-$version"
scratch="$(mktemp -d)"
[ -f "$venv/template.sqlite3" ] || "$venv/bin/python" "$here/server.py" --db "$venv/template.sqlite3" --make-template
coproc SERVER { exec "$venv/bin/python" "$here/server.py" --db "$scratch/db.sqlite3" \
    --template "$venv/template.sqlite3" "${settings[@]}"; }
trap 'kill "$SERVER_PID" 2>/dev/null; rm -rf "$scratch"' EXIT
read -r BASE <&"${SERVER[0]}"
echo "DOT $version at $BASE with ${settings[*]}"

token() { # grant_type=password|refresh_token, then the form fields
    curl -s "$BASE/o/token/" -d client_id=authcheck "$@"
}
login() {
    curl -s -o /dev/null "$BASE/users" -H 'content-type: application/json' \
        -d "{\"username\": \"$1\", \"password\": \"correct horse battery\"}"
    token -d grant_type=password -d username="$1" -d password="correct horse battery" | jq -r .refresh_token
}
refresh() { token -d grant_type=refresh_token -d refresh_token="$1"; }
show() { jq -c '{error, access_token: (.access_token // "" | .[0:8]), refresh_token: (.refresh_token // "" | .[0:8])}'; }

case "$case" in
1617)
    r0=$(login bob)
    r1=$(refresh "$r0" | jq -r .refresh_token)
    r2=$(refresh "$r1" | jq -r .refresh_token)
    echo "R0 → R1 → R2 within the grace period; R0 again (two rotations old) is answered:"
    refresh "$r0" | show
    echo "expected: invalid_grant, and the family (R2) revoked by reuse protection" ;;
revoked-in-grace)
    r0=$(login bob)
    r1=$(refresh "$r0" | jq -r .refresh_token)
    curl -s -o /dev/null "$BASE/__test/clock" -d '{"advance_seconds": 10}'
    echo "R0 → R1; 10 s later (the grace period is over) R0 is reused:"
    refresh "$r0" | show
    echo "reuse protection revoked the family; R1 is answered:"
    refresh "$r1" | show
    echo "expected: invalid_grant (R1 was revoked by reuse protection, not superseded)" ;;
revoked-explicitly)
    r0=$(login bob)
    curl -s -o /dev/null "$BASE/o/revoke_token/" -d client_id=authcheck -d token="$r0"
    echo "R0 revoked through RFC 7009 (/o/revoke_token/), then presented at once; it is answered:"
    refresh "$r0" | show
    echo "expected: invalid_grant (RFC 7009 2.1: the token cannot be used again after the revocation)" ;;
retry-after-revoke)
    r0=$(login bob)
    pair=$(refresh "$r0")
    a1=$(echo "$pair" | jq -r .access_token)
    r1=$(echo "$pair" | jq -r .refresh_token)
    curl -s -o /dev/null "$BASE/o/revoke_token/" -d client_id=authcheck -d token="$a1"
    echo "R0 → (A1, R1); A1 revoked through RFC 7009; R0 retried within the grace period:"
    retry=$(refresh "$r0")
    echo "$retry" | show
    echo "R1 and the retry's refresh token R2 both rotate:"
    refresh "$r1" | show
    refresh "$(echo "$retry" | jq -r .refresh_token)" | show
    echo "expected: one live branch (the retry refused, or R1 handed back), never two" ;;
duplicate|fork)
    both=0
    for i in $(seq "$attempts"); do
        r0=$(login "user$i")
        if [ "$case" = duplicate ]; then
            refresh "$r0" > "$scratch/a" & first=$!
            refresh "$r0" > "$scratch/b" & second=$!
            wait "$first" "$second"
        else
            # A retry of R0 races the client's own next rotation R0 → R1 → R2.
            refresh "$r0" > "$scratch/b" & retry=$!
            r1=$(refresh "$r0" | jq -r .refresh_token)
            refresh "$r1" > "$scratch/a"
            wait "$retry"
        fi
        a=$(jq -r '.refresh_token // empty' "$scratch/a"); b=$(jq -r '.refresh_token // empty' "$scratch/b")
        if [ "$case" = duplicate ] && [ -n "$a" ] && [ -n "$b" ]; then
            both=$((both + 1))
            echo "attempt $i: both answered with tokens: $(show < "$scratch/a") $(show < "$scratch/b")"
        fi
        # The retry may get R1 back (a grace retry) or invalid_grant (reuse): a pair of its
        # own means the session now has two live refresh tokens.
        if [ "$case" = fork ] && [ -n "$a" ] && [ -n "$b" ] && [ "$b" != "$r1" ]; then
            both=$((both + 1))
            echo "attempt $i: the family forked: R2 $(show < "$scratch/a"), the retry $(show < "$scratch/b")"
        fi
    done
    echo "$both of $attempts attempts showed it (expected: never)" ;;
esac
