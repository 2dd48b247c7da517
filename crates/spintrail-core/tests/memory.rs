//! The session's memory limit: queries that hold state spill to disk and give the same answers,
//! a query that cannot fit fails with a memory error naming the limit, bad limits are refused.

use std::path::Path;

use arrow::array::AsArray;
use arrow::datatypes::Int64Type;
use chrono::{TimeZone, Utc};
use spintrail_core::generate::{generate, GenerateOptions};
use spintrail_core::{Error, LocalSession, SessionOptions};

const EVENTS: u64 = 100_000;

fn logs(dir: &Path) {
    generate(&GenerateOptions {
        out_dir: dir.to_path_buf(),
        events: EVENTS,
        end: Utc.with_ymd_and_hms(2024, 7, 30, 21, 31, 21).unwrap(),
        days: 1,
        seed: 11,
        threads: 2,
        ..GenerateOptions::default()
    })
    .unwrap();
}

fn session(dir: &Path, memory_limit: Option<u64>, spill: Option<&Path>) -> LocalSession {
    LocalSession::new(
        vec![dir.display().to_string()],
        SessionOptions {
            memory_limit,
            spill_dir: spill.map(Path::to_path_buf),
            target_partitions: 2,
            ..SessionOptions::default()
        },
    )
    .unwrap()
}

/// The query's single row of BIGINTs, and the bytes it spilled.
async fn row(s: &LocalSession, sql: &str) -> (Vec<i64>, u64) {
    let result = s.collect(sql).await.unwrap();
    let batch = result.batches.iter().find(|b| b.num_rows() > 0).unwrap();
    let values = batch
        .columns()
        .iter()
        .map(|c| c.as_primitive::<Int64Type>().value(0))
        .collect();
    (values, result.stats().unwrap().spilled_bytes)
}

fn spill_files(dir: &Path) -> usize {
    walk(dir).len()
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

const DISTINCT: &str = "SELECT count(DISTINCT eventid) FROM cloudtrail_logs";
const WINDOW: &str =
    "SELECT count(*), sum(CASE WHEN rn % 7 = 0 THEN 1 ELSE 0 END), CAST(max(rn) AS BIGINT) FROM \
     (SELECT row_number() OVER (ORDER BY eventtime, eventid) AS rn FROM cloudtrail_logs)";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stateful_queries_spill_within_a_small_limit_and_agree() {
    let data = tempfile::tempdir().unwrap();
    logs(data.path());
    let spill = tempfile::tempdir().unwrap();
    let free = session(data.path(), None, None);
    // Each limit is below what the query holds over 100k events, so it spills (a sort's merge
    // needs a few batches per partition, hence the larger limit for the window).
    for (sql, limit) in [(DISTINCT, 8 << 20), (WINDOW, 64 << 20)] {
        let tight = session(data.path(), Some(limit), Some(spill.path()));
        assert_eq!(tight.memory_limit(), limit);
        let (expected, free_spilled) = row(&free, sql).await;
        let (got, spilled) = row(&tight, sql).await;
        assert_eq!(got, expected, "{sql}");
        assert_eq!(free_spilled, 0, "{sql}: spilled without a tight limit");
        assert!(spilled > 0, "{sql}: did not spill within {limit} bytes");
        assert_eq!(
            spill_files(spill.path()),
            0,
            "{sql}: spill files left behind"
        );
    }
    assert_eq!(row(&free, DISTINCT).await.0, vec![EVENTS as i64]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_that_cannot_fit_names_the_limit() {
    let data = tempfile::tempdir().unwrap();
    logs(data.path());
    let s = session(data.path(), Some(64 << 10), None);
    let err = s
        .collect("SELECT count(DISTINCT eventid), count(DISTINCT requestid) FROM cloudtrail_logs")
        .await
        .unwrap_err();
    let Error::MemoryLimit { limit, .. } = &err else {
        panic!("not a memory error: {err}");
    };
    assert_eq!(*limit, Some(64 << 10));
    let message = err.to_string();
    for part in ["64.0 KiB", "memory_limit", "athena", "filters"] {
        assert!(message.contains(part), "{part} missing from: {message}");
    }
}

#[test]
fn bad_limits_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = LocalSession::new(
        vec![dir.path().display().to_string()],
        SessionOptions {
            memory_limit: Some(0),
            ..SessionOptions::default()
        },
    )
    .err()
    .unwrap();
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    let err = LocalSession::new(
        vec![dir.path().display().to_string()],
        SessionOptions {
            spill_dir: Some(dir.path().join("missing")),
            ..SessionOptions::default()
        },
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("spill_dir"), "{err}");
}
