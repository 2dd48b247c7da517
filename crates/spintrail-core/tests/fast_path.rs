//! The reader's fast path (a byte scanner for well-formed files) against its serde path: on real
//! CloudTrail files and on an edge-case file, in every projection, layout, batch size and error
//! mode the fuzz target explores, whenever the fast path decodes a file the serde path decodes it
//! to the same batches (`read_log_bytes` panics otherwise).

use std::path::Path;

use spintrail_core::fuzzing::{read_log_bytes, MAX_INPUT};

const EDGE_CASES: &str = r#" {"Other": [1, {"x": null}], "Records" : [
    {"eventVersion": "1.09", "userIdentity": {"type": "AssumedRole", "ARN": "a\"b",
      "sessionContext": {"attributes": {"mfaAuthenticated": "false"},
      "sessionIssuer": null}, "unknown": [true, false, -1.5e+3, 0, {}]},
     "eventTime": "2024-07-30T21:31:21Z", "eventSource": "s3.amazonaws.com",
     "eventName": "GetObject", "awsRegion": "us-east-1", "recipientAccountId": "1",
     "requestParameters": {"bucketName": "b", "n": 12, "deep": {"a": [1, 2, "\u00e9"]}},
     "responseElements": null, "resources": [{"ARN": "r", "type": "t"}, {"arn": "q"}],
     "additionalEventData": {"x": 1}, "readOnly": true, "errorCode": "Ünïcode ✓",
     "eventname": "ignored repeat", "tlsDetails": {"tlsVersion": "TLSv1.3"}},
    {"eventTime": "2024-07-30T21:31:22Z", "eventSource": "a", "eventName": "B",
     "userIdentity": null, "resources": null, "sharedEventID": 7},
    {"eventName": "C", "eventSource": "a", "eventTime": "2024-07-31T00:00:00Z",
     "userIdentity": {}, "resources": [], "requestParameters": "text"}
], "Records": 5}
"#;

/// Every option byte of the fuzz target whose lowest bit says `plain` (or gzip).
fn all_options(data: &[u8], plain: bool) {
    for options in 0..=255u8 {
        if (options & 1 == 1) != plain {
            continue;
        }
        let mut input = vec![options];
        input.extend_from_slice(data);
        read_log_bytes(&input);
    }
}

#[test]
fn both_paths_agree_on_real_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/real");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).expect("tests/data/real") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_some_and(|e| e == "gz") {
            let data = std::fs::read(&path).expect("a real log file");
            assert!(data.len() < MAX_INPUT, "{} is too big", path.display());
            all_options(&data, false);
            checked += 1;
        }
    }
    assert!(checked >= 3, "real files checked: {checked}");
}

#[test]
fn both_paths_agree_on_edge_cases() {
    all_options(EDGE_CASES.as_bytes(), true);
    // Variants the fast path leaves to serde: each still agrees (or is left).
    for variant in [
        EDGE_CASES.replace("\"eventSource\": \"a\",", ""),
        EDGE_CASES.replace("\"Other\"", "\"Oth\\u0065r\""),
        EDGE_CASES.replace("-1.5e+3", "-01"),
        EDGE_CASES.replace("\"B\"", "\"B\\u0000\""),
        EDGE_CASES.replace("\"userIdentity\": null", "\"userIdentity\": 5"),
    ] {
        all_options(variant.as_bytes(), true);
    }
}
