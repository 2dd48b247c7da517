//! Entry points for fuzzing: the bodies of the fuzz targets under `fuzz/`, as plain functions so
//! the regression test (`tests/fuzz_regressions.rs`) replays saved inputs through exactly the code
//! the fuzzer ran.
//!
//! The property each checks is "no panic, no hang, bounded memory": an `Err` is a fine outcome
//! for bad input, a panic is a bug. The functions return nothing so a target cannot pass by
//! accident on a result it ignored.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use arrow::array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMillisecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};

use crate::local::reader::{decode, decode_fast, decode_with_serde, decompress, Projection};
use crate::local::session::{LocalSession, SessionOptions};
use crate::local::source::Partitions;
use crate::schema::PartitionLayout;
use crate::timestamp::{parse_timestamp, Form};

/// Largest input a target looks at: bigger inputs only slow the fuzzer down.
pub const MAX_INPUT: usize = 256 * 1024;

/// The log reader on one file's bytes: gzip detection and inflation, the JSON decoder and the
/// mapping of records into Arrow columns, in several projections, batch sizes and layouts; and
/// the timestamp rule on the same bytes as text.
///
/// The first byte chooses the options so one corpus explores them all; the rest is the file.
pub fn read_log_bytes(data: &[u8]) {
    if data.len() > MAX_INPUT {
        return;
    }
    let (options, file) = match data.split_first() {
        Some((first, rest)) => (*first, rest),
        None => (0, data),
    };
    if let Ok(text) = std::str::from_utf8(file) {
        if text.len() <= 64 {
            let _ = parse_timestamp(text, Form::EventTime);
            let _ = parse_timestamp(text, Form::Iso8601);
        }
    }
    let name = if options & 1 == 0 {
        "fuzz.json.gz"
    } else {
        "fuzz.json"
    };
    let path = Path::new(name);
    let Ok(json) = decompress(path, file.to_vec()) else {
        return;
    };
    // Inflated size is bounded by the gzip format (≈1032:1), and by MAX_INPUT before that.
    let layout = PartitionLayout::ALL[usize::from(options >> 1) % PartitionLayout::ALL.len()];
    let partitions = if options & 8 == 0 {
        Partitions::Records
    } else {
        Partitions::Layout {
            account: "123456789012".into(),
            region: "us-east-1".into(),
            day: "2024/07/30".into(),
        }
    };
    let table_width = crate::schema::table_schema_for(layout).fields().len();
    let columns: Option<Vec<usize>> = match (options >> 4) & 3 {
        0 => None,
        1 => Some(vec![0, 1]),
        2 => Some((0..table_width).rev().step_by(3).collect()),
        _ => Some(Vec::new()),
    };
    let Ok(projection) = Projection::for_layout(columns.as_ref(), layout) else {
        return;
    };
    let batch_size = if options & 64 == 0 { 8192 } else { 1 };
    let skip_bad = options & 128 != 0;
    let _ = decode(&json, path, &partitions, &projection, batch_size, skip_bad);
    same_outcome_on_both_paths(&json, &partitions, &projection, batch_size);
}

/// Whenever the reader's fast path decodes a file, the serde path decodes it to the same batches;
/// panics otherwise (the fuzzer's failure signal).
fn same_outcome_on_both_paths(
    json: &[u8],
    partitions: &Partitions,
    projection: &Projection,
    batch_size: usize,
) {
    let Some(fast) = decode_fast(json, partitions, projection, batch_size) else {
        return;
    };
    let slow = decode_with_serde(
        json,
        Path::new("x"),
        partitions,
        projection,
        batch_size,
        false,
    );
    match slow {
        Ok(slow) => {
            assert_eq!(fast.batches, slow.batches, "fast and serde paths differ");
            assert_eq!((fast.records, fast.rows), (slow.records, slow.rows));
        }
        Err(e) => panic!("the fast path read a file the serde path rejects: {e}"),
    }
}

/// SQL text that asks for a lot of work on purpose (a billion-row series, a gigabyte string):
/// the fuzzer is after crashes, not after queries that are slow because they were asked to be.
fn asks_for_unbounded_work(sql: &str) -> bool {
    const GENERATORS: [&str; 8] = [
        "generate_series",
        "range",
        "sequence",
        "repeat",
        "lpad",
        "rpad",
        "overlay",
        "recursive",
    ];
    let lower = sql.to_ascii_lowercase();
    if GENERATORS.iter().any(|g| lower.contains(g)) {
        return true;
    }
    // Long digit runs are the sizes and counts of such work; so are many tables joined (5^n rows).
    let mut run = 0;
    for b in lower.bytes() {
        run = if b.is_ascii_digit() { run + 1 } else { 0 };
        if run > 5 {
            return true;
        }
    }
    lower.matches("from").count() + lower.matches("join").count() + lower.matches(',').count() > 24
}

struct SqlHarness {
    runtime: tokio::runtime::Runtime,
    session: LocalSession,
}

/// A tiny CloudTrail file (two records) the `cloudtrail_logs` table reads.
const TINY_LOG: &str = r#"{"Records":[
{"eventVersion":"1.08","eventTime":"2024-07-30T21:31:21Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.7","userAgent":"aws-cli/2","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::123456789012:assumed-role/deploy/x","accountId":"123456789012","sessionContext":{"attributes":{"creationDate":"2024-07-30T20:00:00Z","mfaAuthenticated":"false"}}},"requestParameters":{"bucketName":"b","key":"k/1"},"responseElements":null,"eventID":"e1","readOnly":true,"eventType":"AwsApiCall","recipientAccountId":"123456789012","resources":[{"ARN":"arn:aws:s3:::b","accountId":"123456789012","type":"AWS::S3::Bucket"}],"tlsDetails":{"tlsVersion":"TLSv1.3"}},
{"eventVersion":"1.08","eventTime":"2024-07-31T00:00:00.123Z","eventSource":"iam.amazonaws.com","eventName":"CreateUser","awsRegion":"eu-west-1","errorCode":"AccessDenied","errorMessage":"denied","userIdentity":{"type":"IAMUser","userName":"alice"},"requestParameters":{"userName":"bob","tags":[{"key":"a","value":"b"}]},"eventID":"e2","readOnly":false,"eventType":"AwsApiCall","recipientAccountId":"210987654321","additionalEventData":{"x":1.5e3}}
]}"#;

fn tiny_table() -> Option<(Arc<Schema>, Vec<RecordBatch>)> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("i", DataType::Int64, true),
        Field::new("d", DataType::Float64, true),
        Field::new("s", DataType::Utf8, true),
        Field::new("b", DataType::Boolean, true),
        Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![
            Some(0),
            Some(-1),
            Some(i64::MAX),
            Some(i64::MIN),
            None,
        ])),
        Arc::new(Float64Array::from(vec![
            Some(0.5),
            Some(f64::NAN),
            Some(f64::INFINITY),
            Some(-0.0),
            None,
        ])),
        Arc::new(StringArray::from(vec![
            Some(""),
            Some("{\"a\":[1,2,{\"b\":null}]}"),
            Some("2024-02-30T24:00:60Z"),
            Some("ünï©ødé ✓ \u{1F600}"),
            None,
        ])),
        Arc::new(BooleanArray::from(vec![
            Some(true),
            Some(false),
            None,
            Some(true),
            None,
        ])),
        Arc::new(TimestampMillisecondArray::from(vec![
            Some(0),
            Some(1_722_375_081_000),
            Some(-62_135_596_800_000),
            Some(253_402_300_799_999),
            None,
        ])),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns).ok()?;
    Some((schema, vec![batch]))
}

fn harness() -> Option<&'static SqlHarness> {
    static HARNESS: OnceLock<Option<SqlHarness>> = OnceLock::new();
    HARNESS
        .get_or_init(|| {
            let dir: PathBuf =
                std::env::temp_dir().join(format!("spintrail-fuzz-{}", std::process::id()));
            std::fs::create_dir_all(&dir).ok()?;
            std::fs::write(dir.join("tiny.json"), TINY_LOG).ok()?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            let options = SessionOptions {
                target_partitions: 1,
                batch_size: 64,
                ..SessionOptions::default()
            };
            let session =
                LocalSession::new(vec![dir.to_string_lossy().into_owned()], options).ok()?;
            let (schema, batches) = tiny_table()?;
            session.register_batches("t", schema, batches).ok()?;
            Some(SqlHarness { runtime, session })
        })
        .as_ref()
}

/// The Athena dialect layer on one SQL text: parsing, the Trino rewrites and rules, planning, and
/// running the query to completion against a two-row CloudTrail table (`cloudtrail_logs`) and a
/// five-row table `t(i bigint, d double, s varchar, b boolean, ts timestamp)` holding edge values,
/// so Trino functions execute on odd arguments.
pub fn run_sql(data: &[u8]) {
    if data.len() > 4096 {
        return;
    }
    let Ok(sql) = std::str::from_utf8(data) else {
        return;
    };
    if asks_for_unbounded_work(sql) {
        return;
    }
    let Some(h) = harness() else {
        panic!("the fuzz harness could not set up its session");
    };
    let _ = h.runtime.block_on(h.session.collect(sql));
}
