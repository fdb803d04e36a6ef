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
