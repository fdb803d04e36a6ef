#![no_main]
// See authcheck::fuzzing::trace_parse for what this target checks.
libfuzzer_sys::fuzz_target!(|data: &[u8]| authcheck::fuzzing::trace_parse(data));
