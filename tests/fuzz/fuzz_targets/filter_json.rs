#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| parley::fuzzing::filter_json(data));
