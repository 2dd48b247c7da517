//! libFuzzer target: one CloudTrail log file's bytes through the reader (see
//! `spintrail_core::fuzzing::read_log_bytes`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    spintrail_core::fuzzing::read_log_bytes(data);
});
