// The `lockstep` binary's allocator (see the `mimalloc` feature in fuzz/Cargo.toml); the other
// targets gained nothing from it.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
