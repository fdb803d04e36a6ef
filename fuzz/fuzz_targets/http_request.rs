#![no_main]
// See authcheck::fuzzing::http_request for what this target checks.
libfuzzer_sys::fuzz_target!(|data: &[u8]| authcheck::fuzzing::http_request(data));
