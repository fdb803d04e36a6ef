# Sourced by the fuzz scripts: picks the toolchain and makes sure cargo-fuzz is there.
# Nightly when rustup has it; otherwise stable with RUSTC_BOOTSTRAP=1 (cargo-fuzz needs -Z flags).
if cargo +nightly --version >/dev/null 2>&1; then
    FUZZ=(cargo +nightly fuzz)
else
    export RUSTC_BOOTSTRAP=1
    FUZZ=(cargo fuzz)
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
# The targets check safe Rust on the memory store: AddressSanitizer finds nothing there and
# costs 2-3x throughput, so the default is no sanitizer. FUZZ_SANITIZER=address to override.
FUZZ_SANITIZER=${FUZZ_SANITIZER:-none}
# With AddressSanitizer: the bundled SQLite amalgamation trips a false ODR-violation report
# (two function-local statics named `aiOff`).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_odr_violation=0}
# mimalloc (the fuzz crate's default feature) hides the heap from a sanitizer: off under one.
FUZZ_FEATURES=()
[ "$FUZZ_SANITIZER" = none ] || FUZZ_FEATURES=(--no-default-features)
FUZZ_ROOT=$PWD

# Which crates a target's coverage comes from (scripts/fuzz-rustc-wrapper). `lockstep` checks the
# service, so its build instruments `auth` alone: libFuzzer then spends its time on the service's
# edges rather than on ranking the harness's and tokio's, and finds the catalogue flaws in a
# fraction of the time (README, Numbers). The other targets reach into the harness (the trace
# parser) or the HTTP stack, and instrument every crate.
fuzz_scope() {
    if [ -n "${FUZZ_SCOPE:-}" ]; then
        echo "$FUZZ_SCOPE" # an override, to compare set-ups (scripts/fuzz-time-to-flaw.sh)
        return
    fi
    case "$1" in
        lockstep) echo auth ;;
        *) echo all ;;
    esac
}

# Whether a target's build traces comparisons (`yes`/`no`): libFuzzer turns the operands of the
# instrumented code's comparisons into mutations. `lockstep` feeds its bytes to the generator,
# which is not instrumented, so the service's operands (token hashes, stored password hashes,
# timestamps) rarely mean anything as generator bytes. The tracing cost a quarter of every exec
# and did not find the catalogue flaws sooner in total (README, Numbers). The other targets parse
# their input bytes directly, where tracing pays.
fuzz_compares() {
    if [ -n "${FUZZ_TRACE_COMPARES:-}" ]; then
        echo "$FUZZ_TRACE_COMPARES" # an override, to compare set-ups
        return
    fi
    case "$1" in
        lockstep) echo no ;;
        *) echo yes ;;
    esac
}

# `fuzz_for TARGET build|run [ARGS...]`: cargo fuzz for TARGET in the build its scope and
# comparison tracing need. A build that differs from cargo-fuzz's default (every crate, compares
# traced) has a target directory of its own, named after what differs (`target-auth-nocmp`), since
# its crates are compiled differently; the scope's wrapper stands in for any RUSTC_WRAPPER of
# yours, such as sccache.
fuzz_for() {
    local target=$1 command=$2 scope compares scoped_env=() flags=() dir=target
    shift 2
    scope=$(fuzz_scope "$target")
    compares=$(fuzz_compares "$target")
    if [ "$scope" != all ]; then
        scoped_env=(FUZZ_INSTRUMENT="$scope" RUSTC_WRAPPER="$FUZZ_ROOT/scripts/fuzz-rustc-wrapper")
        dir+="-${scope// /-}"
    fi
    if [ "$compares" = no ]; then
        flags+=(--no-trace-compares)
        dir+="-nocmp"
    fi
    [ "$dir" = target ] || flags+=(--target-dir "$dir")
    (cd "$FUZZ_ROOT/fuzz" && env "${scoped_env[@]}" "${FUZZ[@]}" "$command" -O -s "$FUZZ_SANITIZER" \
        "${FUZZ_FEATURES[@]}" "${flags[@]}" "$target" "$@")
}
