//! The reader against real CloudTrail records (tests/data/real) and against broken input.

use std::io::Write;
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, ListArray, StringArray, StructArray};
use arrow::record_batch::RecordBatch;
use serde_json::Value;
use spintrail_core::local::reader::{decode, read_file, FileOutcome, Projection};
use spintrail_core::local::source::Partitions;
use spintrail_core::schema::{record_schema, table_schema, JSON_TEXT_COLUMNS};
use spintrail_core::Error;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/real")
        .join(name)
}

fn read_all(path: &Path, skip: bool) -> spintrail_core::Result<FileOutcome> {
    let projection = Projection::new(None).unwrap();
    read_file(path, &Partitions::Records, &projection, 100_000, skip)
}

fn records(path: &Path) -> Vec<Value> {
    let raw = std::fs::read(path).unwrap();
    let json = spintrail_core::local::reader::decompress(path, raw).unwrap();
    let v: Value = serde_json::from_slice(&json).unwrap();
    v["Records"].as_array().unwrap().clone()
}

/// The value of a key matched case-insensitively, as Athena's SerDe matches it.
fn get_ci<'a>(obj: &'a Value, key: &str) -> Option<&'a Value> {
    obj.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

fn one_batch(outcome: &FileOutcome) -> RecordBatch {
    assert_eq!(outcome.batches.len(), 1);
    outcome.batches[0].clone()
}

fn text(batch: &RecordBatch, name: &str) -> StringArray {
    batch
        .column_by_name(name)
        .unwrap()
        .as_string::<i32>()
        .clone()
}

/// Every record becomes a row, and every field the contract names carries the record's value.
fn check_conforming(name: &str, expected: usize) {
    let path = data(name);
    let outcome = read_all(&path, false).unwrap();
    assert_eq!(outcome.records, expected);
    assert_eq!(outcome.rows, expected);
    assert!(outcome.rejected.is_empty());
    let batch = one_batch(&outcome);
    assert_eq!(batch.num_rows(), expected);
    assert_eq!(batch.schema(), table_schema());
    let source = records(&path);
    let schema = record_schema();
    for (row, record) in source.iter().enumerate() {
        for field in schema.fields() {
            let column = batch.column_by_name(field.name()).unwrap();
            let value = get_ci(record, field.name());
            let present = value.is_some_and(|v| !v.is_null());
            assert_eq!(
                column.is_valid(row),
                present,
                "{name} row {row} column {}: present in JSON = {present}",
                field.name()
            );
            let Some(value) = value.filter(|v| !v.is_null()) else {
                continue;
            };
            if let Some(strings) = column.as_string_opt::<i32>() {
                let got = strings.value(row);
                match value {
                    Value::String(s) => assert_eq!(got, s, "{name} row {row} {}", field.name()),
                    Value::Object(_) | Value::Array(_) => {
                        let parsed: Value = serde_json::from_str(got).unwrap();
                        assert_eq!(&parsed, value, "{name} row {row} {}", field.name());
                        assert!(!got.contains('\n'), "JSON text is compact");
                    }
                    other => assert_eq!(got, other.to_string()),
                }
            }
        }
        // Nested struct members.
        let identity = batch.column_by_name("useridentity").unwrap().as_struct();
        if let Some(ui) = get_ci(record, "userIdentity").filter(|v| v.is_object()) {
            for member in [
                "type",
                "principalId",
                "arn",
                "accountId",
                "invokedBy",
                "userName",
            ] {
                let col = identity
                    .column_by_name(&member.to_lowercase())
                    .unwrap()
                    .as_string::<i32>();
                match get_ci(ui, member) {
                    Some(Value::String(s)) => assert_eq!(col.value(row), s),
                    _ => assert!(col.is_null(row), "{name} row {row} useridentity.{member}"),
                }
            }
            let issuer_arn = ui
                .pointer("/sessionContext/sessionIssuer/arn")
                .and_then(Value::as_str);
            let ctx = identity
                .column_by_name("sessioncontext")
                .unwrap()
                .as_struct();
            let issuer = ctx.column_by_name("sessionissuer").unwrap().as_struct();
            let arn = issuer.column_by_name("arn").unwrap().as_string::<i32>();
            match issuer_arn {
                Some(a) => assert_eq!(arn.value(row), a),
                None => assert!(arn.is_null(row) || issuer.is_null(row) || ctx.is_null(row)),
            }
        }
        let resources = batch
            .column_by_name("resources")
            .unwrap()
            .as_any()
            .downcast_ref::<ListArray>()
            .unwrap();
        if let Some(Value::Array(items)) = get_ci(record, "resources") {
            let list = resources.value(row);
            let list = list.as_any().downcast_ref::<StructArray>().unwrap();
            assert_eq!(list.len(), items.len());
            let arns = list.column_by_name("arn").unwrap().as_string::<i32>();
            for (i, item) in items.iter().enumerate() {
                match get_ci(item, "arn").and_then(Value::as_str) {
                    Some(a) => assert_eq!(arns.value(i), a),
                    None => assert!(arns.is_null(i)),
                }
            }
        }
    }
    // Partition columns from the records for a flat file.
    let account = text(&batch, "account");
    let recipient = text(&batch, "recipientaccountid");
    let day = text(&batch, "day");
    let time = text(&batch, "eventtime");
    for row in 0..batch.num_rows() {
        assert_eq!(account.is_valid(row), recipient.is_valid(row));
        assert_eq!(day.value(row), time.value(row)[..10].replace('-', "/"));
    }
}

#[test]
fn stratus_red_team_records_all_load() {
    check_conforming("stratus-red-team.json.gz", 310);
}

#[test]
fn panther_records_all_load() {
    check_conforming("panther-analysis.json.gz", 305);
}

#[test]
fn otrf_records_all_load() {
    check_conforming("otrf-security-datasets.json.gz", 103);
}

#[test]
fn readonly_and_numbers_keep_their_json_text() {
    let outcome = read_all(&data("stratus-red-team.json.gz"), false).unwrap();
    let batch = one_batch(&outcome);
    let readonly = text(&batch, "readonly");
    let values: std::collections::BTreeSet<&str> =
        (0..batch.num_rows()).map(|i| readonly.value(i)).collect();
    assert_eq!(values, ["false", "true"].into_iter().collect());
}

#[test]
fn nonconforming_records_are_rejected_with_reasons_when_skipping() {
    let path = data("panther-analysis.nonconforming.json.gz");
    let outcome = read_all(&path, true).unwrap();
    assert_eq!(outcome.records, 165);
    assert_eq!(
        outcome.rows + outcome.rejected.len(),
        165,
        "nothing vanishes"
    );
    // Every record whose eventTime is not ISO-8601 (or missing) is rejected, and only those.
    let source = records(&path);
    let mut expected_rejections = 0;
    for (i, r) in source.iter().enumerate() {
        let time = get_ci(r, "eventTime").and_then(Value::as_str);
        let ok_time = time.is_some_and(|t| {
            spintrail_core::timestamp::parse_timestamp(
                t,
                spintrail_core::timestamp::Form::EventTime,
            )
            .is_ok()
        });
        let has_source = get_ci(r, "eventSource").is_some_and(Value::is_string);
        let has_name = get_ci(r, "eventName").is_some_and(Value::is_string);
        let rejected = outcome.rejected.iter().find(|x| x.index == i);
        if ok_time && has_source && has_name {
            assert!(rejected.is_none(), "record {i} should load: {rejected:?}");
        } else {
            expected_rejections += 1;
            let reason = &rejected
                .unwrap_or_else(|| panic!("record {i} not rejected"))
                .reason;
            if time.is_none() {
                assert!(reason.contains("eventTime"), "{reason}");
            } else if !ok_time {
                assert!(
                    reason.contains("is not an ISO-8601 timestamp as CloudTrail writes it"),
                    "{reason}"
                );
            }
        }
    }
    assert_eq!(outcome.rejected.len(), expected_rejections);
    assert!(expected_rejections > 100);
    assert!(outcome.rows > 10);
}

#[test]
fn nonconforming_file_raises_naming_file_and_record() {
    let path = data("panther-analysis.nonconforming.json.gz");
    let err = read_all(&path, false).unwrap_err();
    match &err {
        Error::Record {
            path: p,
            index,
            reason,
        } => {
            assert_eq!(p, &path);
            assert_eq!(*index, 0);
            assert!(reason.contains("2025-01-21 17:49:47.000000000"), "{reason}");
        }
        other => panic!("unexpected {other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains("panther-analysis.nonconforming.json.gz: record 0: eventTime"));
}

fn decode_text(json: &str, skip: bool) -> spintrail_core::Result<FileOutcome> {
    let projection = Projection::new(None).unwrap();
    decode(
        json.as_bytes(),
        Path::new("test.json"),
        &Partitions::Records,
        &projection,
        1000,
        skip,
    )
}

const GOOD: &str = r#"{"eventTime":"2024-07-30T21:31:21Z","eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances","awsRegion":"us-east-1","recipientAccountId":"123456789012"}"#;

#[test]
fn wrong_types_in_struct_fields_reject_the_record_and_roll_back() {
    let json = format!(
        r#"{{"Records":[{GOOD},
        {{"eventTime":"2024-07-30T21:31:22Z","eventSource":"s3.amazonaws.com","eventName":"X","userIdentity":{{"type":"IAMUser","sessionContext":"oops"}}}},
        {{"eventTime":"2024-07-30T21:31:23Z","eventSource":"s3.amazonaws.com","eventName":"Y","resources":{{"arn":"a"}}}},
        7, "text", null, [1],
        {GOOD}]}}"#
    );
    let outcome = decode_text(&json, true).unwrap();
    assert_eq!(outcome.records, 8);
    assert_eq!(outcome.rows, 2);
    let reasons: Vec<_> = outcome
        .rejected
        .iter()
        .map(|r| (r.index, r.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        vec![
            (
                1,
                "useridentity.sessioncontext is a string, expected an object"
            ),
            (2, "resources is an object, expected an array"),
            (3, "the record is a number, not a JSON object"),
            (4, "the record is a string, not a JSON object"),
            (5, "the record is null, not a JSON object"),
            (6, "the record is an array, not a JSON object"),
        ]
    );
    let batch = one_batch(&outcome);
    assert_eq!(batch.num_rows(), 2);
    // Rolled-back rows leave no trace in nested builders.
    let identity = batch.column_by_name("useridentity").unwrap().as_struct();
    assert_eq!(identity.null_count(), 2);
    assert_eq!(text(&batch, "eventname").value(1), "DescribeInstances");
}

#[test]
fn lower_case_keys_match_like_athena() {
    let json = r#"{"Records":[{"eventtime":"2024-07-30T21:31:21Z","eventsource":"a","EVENTNAME":"B","useridentity":{"ARN":"x"}}]}"#;
    let outcome = decode_text(json, false).unwrap();
    let batch = one_batch(&outcome);
    assert_eq!(text(&batch, "eventname").value(0), "B");
    let identity = batch.column_by_name("useridentity").unwrap().as_struct();
    assert_eq!(
        identity
            .column_by_name("arn")
            .unwrap()
            .as_string::<i32>()
            .value(0),
        "x"
    );
}

#[test]
fn escapes_and_pretty_json_text() {
    let json = "{\"Records\":[{\"eventTime\":\"2024-07-30T21:31:21Z\",\"eventSource\":\"a\",\"eventName\":\"caf\\u00e9 \\\"q\\\"\",\n \"requestParameters\": {\n  \"k\": \"v w\",\n  \"n\": [1, 2]\n }}]}";
    let batch = one_batch(&decode_text(json, false).unwrap());
    assert_eq!(text(&batch, "eventname").value(0), "café \"q\"");
    assert_eq!(
        text(&batch, "requestparameters").value(0),
        r#"{"k":"v w","n":[1,2]}"#
    );
}

#[test]
fn files_that_are_not_cloudtrail_name_the_problem() {
    let cases = [
        ("[1,2]", "top level is a JSON array"),
        ("{\"foo\": 1}", "no top-level \"Records\" array"),
        ("{\"Records\": {}}", "\"Records\" is an object"),
        ("\"x\"", "top level is a string"),
        ("", "empty file"),
        ("{\"Records\":[{\"eventTime\":", "the file is truncated"),
        ("{\"Records\":[]} trailing", "invalid JSON"),
        ("{\"Records\":[} ", "invalid JSON"),
    ];
    for (json, expected) in cases {
        let err = decode_text(json, true).unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, Error::File { .. }), "{json}: {err:?}");
        assert!(message.starts_with("test.json: "), "{message}");
        assert!(message.contains(expected), "{json}: {message}");
    }
}

#[test]
fn empty_records_is_an_empty_file() {
    let outcome = decode_text("{\"Records\":[]}", false).unwrap();
    assert_eq!(outcome.rows, 0);
    assert!(outcome.batches.is_empty());
}

fn write_temp(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
    path
}

#[test]
fn corrupt_and_truncated_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read(data("otrf-security-datasets.json.gz")).unwrap();
    let truncated = write_temp(dir.path(), "truncated.json.gz", &good[..good.len() / 2]);
    let err = read_all(&truncated, true).unwrap_err().to_string();
    assert!(
        err.contains("truncated.json.gz") && err.contains("corrupt gzip"),
        "{err}"
    );

    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    for b in &mut flipped[mid..mid + 64] {
        *b ^= 0x5a;
    }
    let corrupt = write_temp(dir.path(), "corrupt.json.gz", &flipped);
    let err = read_all(&corrupt, true).unwrap_err().to_string();
    assert!(
        err.contains("corrupt.json.gz") && err.contains("corrupt gzip"),
        "{err}"
    );

    let not_gzip = write_temp(dir.path(), "plain.json.gz", b"{\"Records\":[]}");
    let err = read_all(&not_gzip, true).unwrap_err().to_string();
    assert!(err.contains("not a gzip file"), "{err}");
}

#[test]
fn multi_member_gzip_reads_every_member() {
    use flate2::write::GzEncoder;
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = Vec::new();
    for part in [
        "{\"Records\":[",
        GOOD,
        ",",
        &GOOD.replace("DescribeInstances", "Other"),
        "]}",
    ] {
        let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(part.as_bytes()).unwrap();
        bytes.extend(enc.finish().unwrap());
    }
    let path = write_temp(dir.path(), "multi.json.gz", &bytes);
    let outcome = read_all(&path, false).unwrap();
    assert_eq!(outcome.rows, 2);
}

#[test]
fn projection_builds_only_the_requested_columns() {
    let schema = table_schema();
    let idx = |n: &str| schema.index_of(n).unwrap();
    let projection = Projection::new(Some(&vec![idx("day"), idx("eventname")])).unwrap();
    let outcome = read_file(
        &data("stratus-red-team.json.gz"),
        &Partitions::Layout {
            account: "1".into(),
            region: "r".into(),
            day: "2024/07/30".into(),
        },
        &projection,
        100,
        false,
    )
    .unwrap();
    assert_eq!(outcome.rows, 310);
    assert_eq!(outcome.batches.len(), 4, "batches of at most 100 rows");
    let batch = &outcome.batches[0];
    assert_eq!(batch.num_columns(), 2);
    assert_eq!(batch.schema().field(0).name(), "day");
    assert_eq!(text(batch, "day").value(0), "2024/07/30");

    let empty = Projection::new(Some(&vec![])).unwrap();
    let outcome = read_file(
        &data("stratus-red-team.json.gz"),
        &Partitions::Records,
        &empty,
        1000,
        false,
    )
    .unwrap();
    assert_eq!(outcome.batches[0].num_rows(), 310);
    assert_eq!(outcome.batches[0].num_columns(), 0);
}

#[test]
fn json_text_columns_are_declared() {
    for name in JSON_TEXT_COLUMNS {
        assert!(record_schema().field_with_name(name).is_ok());
    }
}
