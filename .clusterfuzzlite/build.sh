#!/bin/bash -eu
# Builds every cargo-fuzz target into $OUT with its seed corpus, as ClusterFuzzLite / OSS-Fuzz
# expect. Those services set SRC, OUT, SANITIZER, FUZZING_ENGINE and ARCHITECTURE. By hand:
#   SRC=/tmp OUT=/tmp/cfl-out SANITIZER=address FUZZING_ENGINE=libfuzzer ARCHITECTURE=x86_64 \
#     bash .clusterfuzzlite/build.sh
project="${SRC:?}/authcheck"
[ -d "$project" ] || project="$(cd "$(dirname "$0")/.." && pwd)"
cd "$project"
mkdir -p "${OUT:?}"

case "${SANITIZER:-address}" in
    address) sanitizer=address ;;
    memory) sanitizer=memory ;;
    *) sanitizer=none ;; # undefined, coverage, none: no Rust sanitizer applies
esac
if [ "${FUZZING_ENGINE:-libfuzzer}" != libfuzzer ]; then
    echo "only libFuzzer is supported (FUZZING_ENGINE=${FUZZING_ENGINE})" >&2
    exit 1
fi
target_triple="${ARCHITECTURE:-x86_64}-unknown-linux-gnu"
[ "${ARCHITECTURE:-x86_64}" = i386 ] && target_triple=i686-unknown-linux-gnu

FUZZ_SANITIZER=$sanitizer
source scripts/fuzz-env.sh
(cd fuzz && "${FUZZ[@]}" build -O -s "$sanitizer" "${FUZZ_FEATURES[@]}" --target "$target_triple")
for t in $(cd fuzz && "${FUZZ[@]}" list); do
    cp "fuzz/target/$target_triple/release/$t" "$OUT/"
    # The bundled SQLite amalgamation has two function-local statics named `aiOff`; ASan's ODR
    # check reports them as one global defined twice (a false positive), so that check is off.
    printf '[asan]\ndetect_odr_violation = 0\n' >"$OUT/$t.options"
    python3 - "$OUT/${t}_seed_corpus.zip" "fuzz/corpus/$t" <<'PY'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z:
    for name in sorted(os.listdir(sys.argv[2])):
        z.write(os.path.join(sys.argv[2], name), name)
PY
done
ls -l "$OUT"
