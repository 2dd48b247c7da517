//! Replays every input the fuzzers once crashed or hung on (`fuzz/regressions/<target>/*`)
//! through the same functions the fuzz targets call, so a fixed crash stays fixed. A panic fails
//! the test; an `Err` inside is the right answer to bad input and is not checked here.

use std::path::{Path, PathBuf};

use spintrail_core::fuzzing::{read_log_bytes, run_sql};

fn regressions(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/regressions")
        .join(target);
    // No directory yet: nothing was found for this target.
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.is_file() && path.extension().is_none_or(|e| e != "md"))
        .collect();
    files.sort();
    files
}

fn replay(target: &str, run: fn(&[u8])) -> usize {
    let files = regressions(target);
    for path in &files {
        let data = std::fs::read(path).expect("a regression input");
        eprintln!("replaying {}", path.display());
        run(&data);
    }
    files.len()
}

#[test]
fn reader_regressions_do_not_panic() {
    replay("read_log", read_log_bytes);
}

#[test]
fn sql_regressions_do_not_panic() {
    replay("sql", run_sql);
}

#[test]
fn the_targets_accept_their_seed_shapes() {
    // A gzip file behind the options byte, a plain one, an empty input, and a query on each table.
    let log = br#"{"Records":[{"eventTime":"2024-07-30T21:31:21Z","eventSource":"s3.amazonaws.com","eventName":"GetObject"}]}"#;
    read_log_bytes(&[]);
    read_log_bytes(&[&[0x01u8][..], &log[..]].concat());
    read_log_bytes(&[0xFFu8; 3]);
    run_sql(b"SELECT count(*) FROM cloudtrail_logs");
    run_sql(b"SELECT from_iso8601_timestamp(s), i / 0 FROM t");
    run_sql(&[0xFF, 0xFE]);
}
