//! Fixtures shared by the integration tests: the real records under `tests/data/real` and log
//! trees laid out as CloudTrail delivers them.

// reason: each test crate includes this module and uses a part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use spintrail_core::{LocalSession, SessionOptions};

/// A file of real CloudTrail records (`tests/data/real`).
pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/real")
        .join(name)
}

/// A single-account trail: account 111111111111 in us-east-1 on 2024-07-30 (310 records) and in
/// eu-west-1 on 2024-07-31 (305 records), as (path in the tree, file of real records).
pub const SINGLE_ACCOUNT: &[(&str, &str)] = &[
    (
        "AWSLogs/111111111111/CloudTrail/us-east-1/2024/07/30/a.json.gz",
        "stratus-red-team.json.gz",
    ),
    (
        "AWSLogs/111111111111/CloudTrail/eu-west-1/2024/07/31/b.json.gz",
        "panther-analysis.json.gz",
    ),
];

/// An organization trail's file of account 222222222222 (us-east-1, 2024-08-01, 103 records) and
/// a digest file, which must not be read.
pub const ORGANIZATION_AND_DIGEST: &[(&str, &str)] = &[
    (
        "AWSLogs/o-abc/222222222222/CloudTrail/us-east-1/2024/08/01/c.json.gz",
        "otrf-security-datasets.json.gz",
    ),
    (
        "AWSLogs/111111111111/CloudTrail-Digest/us-east-1/2024/07/30/d.json.gz",
        "otrf-security-datasets.json.gz",
    ),
];

/// A temporary folder with each (path, file of real records) of `files` copied into place.
pub fn log_tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (rel, src) in files {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::copy(data(src), path).unwrap();
    }
    dir
}

/// A local session over the folder `dir`.
pub fn session(dir: &Path, options: SessionOptions) -> LocalSession {
    LocalSession::new(vec![dir.display().to_string()], options).unwrap()
}
