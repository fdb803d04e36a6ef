#!/usr/bin/env bash
# How fast the `lockstep` fuzz target finds catalogue flaws: for each FLAW, a fuzz run from an
# empty corpus against the service with that flaw switched on (`--features flaws`,
# AUTHCHECK_FUZZ_FLAW), and the seconds to its first crash (shrinking included), or a miss after
# LIMIT seconds. Compares fuzzing set-ups on the same flaws, e.g. the nightly build against
# FUZZ_SCOPE=all (every crate instrumented) or FUZZ_TRACE_COMPARES=yes (comparisons traced).
#
#   scripts/fuzz-time-to-flaw.sh LIMIT SEED FLAW...
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 LIMIT SEED FLAW..." >&2
    exit 2
fi
limit=$1 seed=$2
shift 2
cd "$(dirname "$0")/.."
source scripts/fuzz-env.sh
fuzz_for lockstep build --features flaws
echo "scope: $(fuzz_scope lockstep); compares traced: $(fuzz_compares lockstep); seed $seed; limit ${limit}s"
for flaw in "$@"; do
    work=$(mktemp -d)
    mkdir "$work/corpus"
    start=$(date +%s.%N)
    set +e
    AUTHCHECK_FUZZ_FLAW=$flaw fuzz_for lockstep run --features flaws "$work/corpus" -- \
        -seed="$seed" -max_total_time="$limit" -artifact_prefix="$work/" >"$work/log" 2>&1
    set -e
    end=$(date +%s.%N)
    if compgen -G "$work/crash-*" >/dev/null; then
        printf '%-34s found in %6.1f s (%s execs)\n' "$flaw" "$(awk "BEGIN { print $end - $start }")" \
            "$(grep -oE '^#[0-9]+' "$work/log" | tail -1 | tr -d '#')"
    else
        printf '%-34s missed in %s s\n' "$flaw" "$limit"
    fi
    rm -rf "$work"
done
