//! libFuzzer target: one SQL text through the Athena dialect layer and DataFusion, run on tiny
//! tables (see `spintrail_core::fuzzing::run_sql`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    spintrail_core::fuzzing::run_sql(data);
});
