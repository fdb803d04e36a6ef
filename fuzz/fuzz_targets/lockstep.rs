#![no_main]
mod allocator;
// See authcheck::fuzzing::lockstep for what this target checks.
libfuzzer_sys::fuzz_target!(|data: &[u8]| authcheck::fuzzing::lockstep(data));
