#![no_main]
// See authcheck::fuzzing::token_decode for what this target checks.
libfuzzer_sys::fuzz_target!(|data: &[u8]| authcheck::fuzzing::token_decode(data));
