//! Queries through a local session over real records laid out as CloudTrail delivers them.

mod common;

use std::path::Path;

use arrow::array::{Array, AsArray, Int64Array};
use arrow::datatypes::Int64Type;
use spintrail_core::{Error, LocalSession, OnError, QueryResult, SessionOptions};

use common::data;

/// The real files in an S3-style tree: two accounts, two regions, three days, plus a digest file
/// and an unrelated file that must not be read.
fn layout() -> tempfile::TempDir {
    let dir = common::log_tree(&[common::SINGLE_ACCOUNT, common::ORGANIZATION_AND_DIGEST].concat());
    std::fs::write(dir.path().join("README.txt"), "not a log").unwrap();
    dir
}

fn session(dir: &Path, on_error: OnError) -> LocalSession {
    common::session(
        dir,
        SessionOptions {
            on_error,
            ..SessionOptions::default()
        },
    )
}

async fn count(s: &LocalSession, sql: &str) -> (i64, QueryResult) {
    let result = s.collect(sql).await.unwrap();
    let n = result.batches[0]
        .column(0)
        .as_primitive::<Int64Type>()
        .value(0);
    (n, result)
}

#[tokio::test]
async fn counts_every_record_and_skips_digests() {
    let dir = layout();
    let s = session(dir.path(), OnError::Raise);
    let (n, result) = count(&s, "SELECT count(*) FROM cloudtrail_logs").await;
    assert_eq!(n, 310 + 305 + 103);
    assert_eq!(result.stats().unwrap().files_listed, 3);
    assert_eq!(result.stats().unwrap().files_excluded, 1);
    assert_eq!(result.stats().unwrap().files_read, 3);
    assert_eq!(result.stats().unwrap().records_read, 718);
    assert_eq!(result.stats().unwrap().rows, 718);
}

#[tokio::test]
async fn names_resolve_as_on_athena() {
    let dir = layout();
    let s = session(dir.path(), OnError::Raise);
    for table in [
        "cloudtrail_logs",
        "\"default\".\"cloudtrail_logs\"",
        "awsdatacatalog.\"default\".cloudtrail_logs",
    ] {
        let (n, _) = count(&s, &format!("SELECT count(*) FROM {table}")).await;
        assert_eq!(n, 718, "{table}");
    }
}

#[tokio::test]
async fn partition_filters_prune_files() {
    let dir = layout();
    let s = session(dir.path(), OnError::Raise);
    let (n, result) = count(
        &s,
        "SELECT count(*) FROM cloudtrail_logs WHERE account = '111111111111' AND region = 'us-east-1'",
    )
    .await;
    assert_eq!(n, 310);
    assert_eq!(result.stats().unwrap().files_pruned, 2);
    assert_eq!(result.stats().unwrap().files_read, 1);

    let (n, result) = count(
        &s,
        "SELECT count(*) FROM cloudtrail_logs WHERE day >= '2024/07/31'",
    )
    .await;
    assert_eq!(n, 305 + 103);
    assert_eq!(result.stats().unwrap().files_read, 2);

    let (_, result) = count(
        &s,
        "SELECT count(*) FROM cloudtrail_logs WHERE day BETWEEN '2024/08/01' AND '2024/08/02' AND account = '222222222222'",
    )
    .await;
    assert_eq!(result.stats().unwrap().files_read, 1);
}

#[tokio::test]
async fn eventtime_ranges_prune_files_conservatively() {
    let dir = layout();
    let s = session(dir.path(), OnError::Raise);
    // A folder holds no event later than its own day: a lower bound skips the earlier folders.
    let (_, result) = count(
        &s,
        "SELECT count(*) FROM cloudtrail_logs WHERE eventtime >= '2024-08-01T00:00:00Z'",
    )
    .await;
    assert_eq!(result.stats().unwrap().files_read, 1);
    assert_eq!(result.stats().unwrap().files_pruned, 2);
    // It may hold events delivered up to 30 days late: an upper bound keeps the next 30 days.
    let (_, result) = count(
        &s,
        "SELECT count(*) FROM cloudtrail_logs WHERE eventtime < '2024-07-30T12:00:00Z'",
    )
    .await;
    assert_eq!(result.stats().unwrap().files_read, 3);
    let (_, result) = count(
        &s,
        "SELECT count(*) FROM cloudtrail_logs WHERE eventtime < '2024-07-01T12:00:00Z'",
    )
    .await;
    assert_eq!(
        result.stats().unwrap().files_read,
        2,
        "07/30 and 07/31 are within 30 days"
    );
    let (_, result) = count(
        &s,
        "SELECT count(*) FROM cloudtrail_logs WHERE eventtime < '2024-06-29T12:00:00Z'",
    )
    .await;
    assert_eq!(result.stats().unwrap().files_read, 0);
    // BETWEEN with the literal on both sides, and the reversed comparison.
    let (_, result) = count(
        &s,
        "SELECT count(*) FROM cloudtrail_logs WHERE '2024-06-30T23:00:00Z' > eventtime",
    )
    .await;
    assert_eq!(result.stats().unwrap().files_read, 1);
    let (_, result) = count(
        &s,
        "SELECT count(*) FROM cloudtrail_logs WHERE eventtime BETWEEN '2024-08-01T00:00:00Z' AND '2024-08-01T23:00:00Z'",
    )
    .await;
    assert_eq!(result.stats().unwrap().files_read, 1);
}

#[tokio::test]
async fn the_late_delivery_margin_is_an_option() {
    let dir = layout();
    let s = LocalSession::new(
        vec![dir.path().display().to_string()],
        SessionOptions {
            late_delivery_days: 1,
            ..SessionOptions::default()
        },
    )
    .unwrap();
    let (_, result) = count(
        &s,
        "SELECT count(*) FROM cloudtrail_logs WHERE eventtime < '2024-07-30T12:00:00Z'",
    )
    .await;
    assert_eq!(result.stats().unwrap().files_read, 2, "07/30 and 07/31");
}

#[tokio::test]
async fn a_text_bound_prunes_by_its_date_whatever_its_offset() {
    let dir = layout();
    let s = session(dir.path(), OnError::Raise);
    // As text, '2024-07-31T23:30:00Z' >= '2024-07-31T23:00:00-05:00' although it is the earlier
    // instant: the 07/31 folder must be read.
    let (_, result) = count(
        &s,
        "SELECT count(*) FROM cloudtrail_logs WHERE eventtime >= '2024-07-31T23:00:00-05:00'",
    )
    .await;
    assert_eq!(result.stats().unwrap().files_read, 2);
    // Compared as instants, the bound is exact: 04:00Z on 08/01 leaves only the 08/01 folder.
    let (_, result) = count(
        &s,
        "SELECT count(*) FROM cloudtrail_logs WHERE from_iso8601_timestamp(eventtime) >= from_iso8601_timestamp('2024-07-31T23:00:00-05:00')",
    )
    .await;
    assert_eq!(result.stats().unwrap().files_read, 1);
}

#[tokio::test]
async fn layout_partitions_come_from_the_path() {
    let dir = layout();
    let s = session(dir.path(), OnError::Raise);
    let result = s
        .collect("SELECT DISTINCT account, region, day FROM cloudtrail_logs ORDER BY day")
        .await
        .unwrap();
    let batch = arrow::compute::concat_batches(&result.schema, &result.batches).unwrap();
    let day = batch.column(2).as_string::<i32>();
    let account = batch.column(0).as_string::<i32>();
    assert_eq!(batch.num_rows(), 3);
    assert_eq!(day.value(0), "2024/07/30");
    assert_eq!(account.value(2), "222222222222", "organization layout");
}

#[tokio::test]
async fn nonconforming_file_fails_the_query_or_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        data("panther-analysis.nonconforming.json.gz"),
        dir.path().join("bad.json.gz"),
    )
    .unwrap();
    std::fs::copy(
        data("otrf-security-datasets.json.gz"),
        dir.path().join("good.json.gz"),
    )
    .unwrap();
    std::fs::write(dir.path().join("broken.json"), "{\"Records\": [").unwrap();

    let strict = session(dir.path(), OnError::Raise);
    let err = strict
        .collect("SELECT count(*) FROM cloudtrail_logs")
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Record { .. } | Error::File { .. }),
        "{err:?}"
    );

    let lenient = session(dir.path(), OnError::Skip);
    let (n, result) = count(&lenient, "SELECT count(*) FROM cloudtrail_logs").await;
    let stats = result.stats().unwrap().clone();
    assert_eq!(stats.files_skipped, 1);
    assert_eq!(stats.files_read, 2);
    assert_eq!(stats.records_read, 165 + 103);
    assert_eq!(n as u64, stats.rows);
    assert_eq!(stats.rows + stats.records_rejected, 165 + 103);
    assert_eq!(
        stats.problems.len() as u64,
        stats.records_rejected + 1,
        "each problem is listed"
    );
    assert!(stats
        .problems
        .iter()
        .any(|p| p.record.is_none() && p.path.ends_with("broken.json")));
}

#[tokio::test]
async fn missing_source_is_an_error_naming_it() {
    let err = LocalSession::new(vec!["no/such/dir".into()], SessionOptions::default())
        .err()
        .unwrap();
    assert!(matches!(err, Error::Source { .. }));
    assert!(err.to_string().contains("no/such/dir"));
}

#[tokio::test]
async fn single_file_and_glob_sources() {
    let s = LocalSession::new(
        vec![data("stratus-red-team.json.gz").display().to_string()],
        SessionOptions::default(),
    )
    .unwrap();
    let (n, _) = count(&s, "SELECT count(*) FROM cloudtrail_logs").await;
    assert_eq!(n, 310);

    let glob = data("otrf*.json.gz").display().to_string();
    let s = LocalSession::new(vec![glob], SessionOptions::default()).unwrap();
    let (n, _) = count(&s, "SELECT count(*) FROM cloudtrail_logs").await;
    assert_eq!(n, 103);
}

#[tokio::test]
async fn struct_fields_and_group_by() {
    let s = LocalSession::new(
        vec![data("stratus-red-team.json.gz").display().to_string()],
        SessionOptions::default(),
    )
    .unwrap();
    let result = s
        .collect(
            "SELECT useridentity.type AS t, count(*) AS n FROM cloudtrail_logs GROUP BY 1 ORDER BY n DESC",
        )
        .await
        .unwrap();
    let batch = arrow::compute::concat_batches(&result.schema, &result.batches).unwrap();
    let n = batch
        .column(1)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap();
    let total: i64 = n.iter().flatten().sum();
    assert_eq!(total, 310);
    assert!(batch.column(0).is_valid(0));
}

#[tokio::test]
async fn registered_results_are_queried_without_reading_the_logs_again() {
    let dir = layout();
    let s = session(dir.path(), OnError::Raise);
    let window = s
        .collect(
            "SELECT eventsource, eventname, day FROM cloudtrail_logs WHERE day >= '2024/07/31'",
        )
        .await
        .unwrap();
    let (direct, _) = count(
        &s,
        "SELECT count(*) FROM cloudtrail_logs WHERE day >= '2024/07/31' AND eventname LIKE 'Get%'",
    )
    .await;
    s.register_batches("recent", window.schema.clone(), window.batches.clone())
        .unwrap();
    let (again, result) = count(
        &s,
        "SELECT count(*) FROM recent WHERE day >= '2024/07/31' AND eventname LIKE 'Get%'",
    )
    .await;
    assert_eq!(again, direct);
    assert!(direct > 0);
    let stats = result.stats().unwrap();
    assert_eq!((stats.files_read, stats.bytes_read), (0, 0));
    // The qualified name resolves too, and registering again replaces the table.
    let (_, _) = count(&s, "SELECT count(*) FROM awsdatacatalog.\"default\".recent").await;
    s.register_batches("recent", window.schema.clone(), Vec::new())
        .unwrap();
    assert_eq!(count(&s, "SELECT count(*) FROM recent").await.0, 0);
    assert!(s.unregister("recent").unwrap());
    assert!(!s.unregister("recent").unwrap());
    assert!(s.collect("SELECT count(*) FROM recent").await.is_err());
    // The CloudTrail table itself cannot be shadowed, and names follow Athena's rules.
    let err = s
        .register_batches("cloudtrail_logs", window.schema.clone(), Vec::new())
        .unwrap_err();
    assert!(err.to_string().contains("CloudTrail table"), "{err}");
    assert!(matches!(
        s.register_batches("no-dashes", window.schema.clone(), Vec::new()),
        Err(Error::InvalidArgument(_))
    ));
}
