//! End to end: generated logs with signed digests, then each kind of tampering.

use std::path::{Path, PathBuf};

use super::*;
use crate::generate::digests::{write_digests, DigestOptions};
use crate::generate::{generate, GenerateOptions};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data")
        .join(name)
}

/// Three hours of one account and region, with digests.
fn trail(dir: &Path) {
    generate(&GenerateOptions {
        out_dir: dir.to_path_buf(),
        events: 3000,
        end: "2024-07-30T03:00:00Z".parse().unwrap(),
        days: 1,
        accounts: vec!["111111111111".into()],
        regions: vec!["us-east-1".into()],
        events_per_file: 400,
        threads: 1,
        ..GenerateOptions::default()
    })
    .unwrap();
    let written = write_digests(
        dir,
        &DigestOptions {
            signing_key: data("digest-test-key.pk8"),
            ..DigestOptions::default()
        },
    )
    .unwrap();
    assert!(written >= 24, "{written}");
}

fn run(dir: &Path, keys: &[&str]) -> Result<VerifyReport> {
    let options = VerifyOptions {
        public_key_files: keys.iter().map(|k| data(k)).collect(),
        concurrency: 2,
        ..VerifyOptions::default()
    };
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(verify(&dir.display().to_string(), &options))
}

fn files_under(dir: &Path, part: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = store::list_local(dir)
        .unwrap()
        .into_iter()
        .filter(|k| k.contains(part) && k.ends_with(".json.gz"))
        .map(|k| dir.join(k))
        .collect();
    out.sort();
    out
}

fn statuses(report: &VerifyReport, status: Status) -> Vec<&FileCheck> {
    report.files.iter().filter(|f| f.status == status).collect()
}

#[test]
fn untouched_logs_are_valid() {
    let dir = tempfile::tempdir().unwrap();
    trail(dir.path());
    let report = run(dir.path(), &["digest-test-key.pub.der"]).unwrap();
    assert!(report.ok(), "{:?}", report.failures().collect::<Vec<_>>());
    let logs = files_under(dir.path(), "/CloudTrail/").len();
    assert_eq!(report.count(FileKind::Log, Status::Valid), logs);
    assert_eq!(
        report.count(FileKind::Digest, Status::Valid),
        files_under(dir.path(), "/CloudTrail-Digest/").len()
    );
    assert!(report.hours.iter().all(|h| h.status == Status::Valid));
}

#[test]
fn a_changed_log_is_modified_and_named() {
    let dir = tempfile::tempdir().unwrap();
    trail(dir.path());
    let log = &files_under(dir.path(), "/CloudTrail/")[3];
    // Same JSON, one byte changed inside, recompressed: only the hash can tell.
    let plain = digest::gunzip(&std::fs::read(log).unwrap()).unwrap();
    let mut changed = plain;
    let at = changed.iter().position(|&b| b == b'1').unwrap();
    changed[at] = b'2';
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &changed).unwrap();
    std::fs::write(log, gz.finish().unwrap()).unwrap();
    let report = run(dir.path(), &["digest-test-key.pub.der"]).unwrap();
    let bad = statuses(&report, Status::Modified);
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert_eq!(bad[0].path, log.display().to_string());
    assert!(!report.ok());
}

#[test]
fn a_removed_log_is_deleted() {
    let dir = tempfile::tempdir().unwrap();
    trail(dir.path());
    let log = files_under(dir.path(), "/CloudTrail/")[0].clone();
    std::fs::remove_file(&log).unwrap();
    let report = run(dir.path(), &["digest-test-key.pub.der"]).unwrap();
    let gone = statuses(&report, Status::Deleted);
    assert_eq!(gone.len(), 1, "{gone:?}");
    assert_eq!(gone[0].path, log.display().to_string());
}

#[test]
fn a_removed_digest_is_missing_and_its_logs_are_in_no_digest() {
    let dir = tempfile::tempdir().unwrap();
    trail(dir.path());
    let digests = files_under(dir.path(), "/CloudTrail-Digest/");
    let removed = &digests[digests.len() / 2];
    std::fs::remove_file(removed).unwrap();
    let report = run(dir.path(), &["digest-test-key.pub.der"]).unwrap();
    let missing = statuses(&report, Status::MissingDigest);
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert_eq!(missing[0].path, removed.display().to_string());
    assert!(!report.ok());
}

#[test]
fn a_changed_digest_breaks_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    trail(dir.path());
    let digests = files_under(dir.path(), "/CloudTrail-Digest/");
    let target = &digests[2];
    let plain = digest::gunzip(&std::fs::read(target).unwrap()).unwrap();
    let text = String::from_utf8(plain)
        .unwrap()
        .replace("\"newestEventTime\":null", "\"newestEventTime\":\"x\"");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, text.as_bytes()).unwrap();
    std::fs::write(target, gz.finish().unwrap()).unwrap();
    let report = run(dir.path(), &["digest-test-key.pub.der"]).unwrap();
    let bad = statuses(&report, Status::Modified);
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert_eq!(bad[0].path, target.display().to_string());
    assert!(
        bad[0].detail.contains("previousDigestHashValue"),
        "{}",
        bad[0].detail
    );
}

#[test]
fn without_sidecars_the_next_digest_vouches_and_the_newest_is_unchecked() {
    let dir = tempfile::tempdir().unwrap();
    trail(dir.path());
    for key in store::list_local(dir.path()).unwrap() {
        if key.ends_with(SIGNATURE_SUFFIX) {
            std::fs::remove_file(dir.path().join(key)).unwrap();
        }
    }
    let report = run(dir.path(), &["digest-test-key.pub.der"]).unwrap();
    assert!(report.ok(), "{:?}", report.failures().collect::<Vec<_>>());
    let unchecked: Vec<_> = report
        .files
        .iter()
        .filter(|f| f.kind == FileKind::Digest && f.status == Status::Unchecked)
        .collect();
    assert_eq!(unchecked.len(), 1, "{unchecked:?}");
    let newest = files_under(dir.path(), "/CloudTrail-Digest/")
        .pop()
        .unwrap();
    assert_eq!(unchecked[0].path, newest.display().to_string());
}

#[test]
fn a_tampered_signature_and_an_unknown_key_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    trail(dir.path());
    let newest = files_under(dir.path(), "/CloudTrail-Digest/")
        .pop()
        .unwrap();
    let mut sidecar = newest.clone().into_os_string();
    sidecar.push(SIGNATURE_SUFFIX);
    let mut sig = std::fs::read_to_string(&sidecar).unwrap();
    let flipped = if sig.starts_with('0') { "1" } else { "0" };
    sig.replace_range(0..1, flipped);
    std::fs::write(&sidecar, sig).unwrap();
    let report = run(dir.path(), &["digest-test-key.pub.der"]).unwrap();
    let bad = statuses(&report, Status::Modified);
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert_eq!(bad[0].path, newest.display().to_string());

    let report = run(dir.path(), &["digest-other-key.pub.der"]).unwrap();
    assert_eq!(
        report.count(FileKind::Digest, Status::UnknownKey),
        files_under(dir.path(), "/CloudTrail-Digest/").len()
    );
}

#[test]
fn a_source_without_digests_says_how_to_get_them() {
    let dir = tempfile::tempdir().unwrap();
    let err = run(dir.path(), &["digest-test-key.pub.der"]).unwrap_err();
    assert!(err.to_string().contains("EnableLogFileValidation"), "{err}");
}
