//! See `labrun::fuzz::scenario` for the properties checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| labrun::fuzz::scenario(data));
