//! Trino's rules on a local session (duplicate names, decimal literals, refused comparisons and
//! HAVING aliases) and the partition layouts of AWS's documented tables.

mod common;

use std::path::Path;

use arrow::array::AsArray;
use arrow::datatypes::{DataType, Int64Type};
use futures::StreamExt;
use spintrail_core::{Error, LocalSession, PartitionLayout, SessionOptions};

fn session(dir: &Path, partitions: PartitionLayout) -> LocalSession {
    common::session(
        dir,
        SessionOptions {
            partitions,
            ..SessionOptions::default()
        },
    )
}

async fn sql_error(s: &LocalSession, sql: &str) -> String {
    match s.collect(sql).await {
        Err(Error::Sql(message)) => message,
        Err(other) => panic!("expected an SQL error for {sql}, got {other:?}"),
        Ok(_) => panic!("expected an SQL error for {sql}"),
    }
}

#[tokio::test]
async fn duplicate_output_names_reach_the_result_and_the_stream() {
    let dir = common::log_tree(common::SINGLE_ACCOUNT);
    let s = session(dir.path(), PartitionLayout::Spintrail);
    let sql = "SELECT eventname AS name, eventsource AS name FROM cloudtrail_logs LIMIT 2";
    let result = s.collect(sql).await.unwrap();
    let names: Vec<&str> = result
        .schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    assert_eq!(names, ["name", "name"]);
    let mut stream = s.query(sql).await.unwrap();
    let batch = stream.next().await.unwrap().unwrap();
    assert_eq!(batch.schema(), stream.schema());
    assert_eq!(batch.schema().field(1).name(), "name");
}

#[tokio::test]
async fn decimal_literals_have_trino_types() {
    let dir = common::log_tree(common::SINGLE_ACCOUNT);
    let s = session(dir.path(), PartitionLayout::Spintrail);
    let result = s
        .collect("SELECT 1.0, count(*) * 100.0 / 7, 1e3 FROM cloudtrail_logs")
        .await
        .unwrap();
    let types: Vec<&DataType> = result
        .schema
        .fields()
        .iter()
        .map(|f| f.data_type())
        .collect();
    assert_eq!(
        types,
        [
            &DataType::Decimal128(2, 1),
            &DataType::Decimal128(23, 1),
            &DataType::Float64
        ]
    );
    let message = sql_error(&s, "SELECT count(*) * 1.0 / 0 FROM cloudtrail_logs").await;
    assert!(message.starts_with("Division by zero"), "{message}");
}

#[tokio::test]
async fn what_athena_refuses_is_refused() {
    let dir = common::log_tree(common::SINGLE_ACCOUNT);
    let s = session(dir.path(), PartitionLayout::Spintrail);
    let message = sql_error(
        &s,
        "SELECT count(*) FROM cloudtrail_logs WHERE eventtime >= current_timestamp - interval '1' day",
    )
    .await;
    assert!(
        message.contains("Cannot apply operator: varchar >= timestamp with time zone"),
        "{message}"
    );
    assert!(
        message.contains("from_iso8601_timestamp(eventtime)"),
        "{message}"
    );
    let message = sql_error(
        &s,
        "SELECT eventname, count(*) AS n FROM cloudtrail_logs GROUP BY 1 HAVING n > 1",
    )
    .await;
    assert!(message.contains("HAVING count(*) > 1"), "{message}");
}

#[tokio::test]
async fn aws_layouts_prune_on_their_columns() {
    let dir = common::log_tree(common::SINGLE_ACCOUNT);
    let pp = session(dir.path(), PartitionLayout::AwsProjection);
    let result = pp
        .collect("SELECT count(*) FROM cloudtrail_logs WHERE \"timestamp\" = '2024/07/31'")
        .await
        .unwrap();
    assert_eq!(
        result.batches[0]
            .column(0)
            .as_primitive::<Int64Type>()
            .value(0),
        305
    );
    let stats = result.stats().unwrap();
    assert_eq!((stats.files_read, stats.files_pruned), (1, 1));
    let manual = session(dir.path(), PartitionLayout::AwsManual);
    let result = manual
        .collect("SELECT count(*) FROM cloudtrail_logs WHERE year = '2024' AND day = '30'")
        .await
        .unwrap();
    assert_eq!(
        result.batches[0]
            .column(0)
            .as_primitive::<Int64Type>()
            .value(0),
        310
    );
    assert_eq!(result.stats().unwrap().files_read, 1);
    let default = session(dir.path(), PartitionLayout::Spintrail);
    let message = sql_error(
        &default,
        "SELECT count(*) FROM cloudtrail_logs WHERE year = '2024'",
    )
    .await;
    assert!(message.contains("partitions=\"aws-manual\""), "{message}");
}
