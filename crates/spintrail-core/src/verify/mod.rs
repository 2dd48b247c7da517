//! Log file integrity validation, as `aws cloudtrail validate-logs` does it: CloudTrail's hourly
//! digest files are checked with CloudTrail's public keys (SHA256withRSA over the signing string
//! of [`digest::signing_string`]), followed through their chain (each digest records the SHA-256
//! and the signature of the one before it), and each log file's SHA-256 (of its uncompressed
//! contents) is compared with the digest that lists it.
//!
//! A digest's signature lives in its S3 object metadata (`x-amz-meta-signature`), which an
//! ordinary copy to disk drops. In a local copy it is read from a sidecar file
//! `<digest>.json.gz.signature` (hex, what `spintrail generate --digests` writes); without one,
//! the next digest's `previousDigestSignature` stands in for it (that digest's own signature covers
//! it). A digest with neither is reported `unchecked`.
//!
//! Every file gets one status ([`Status`]); any failure status makes [`VerifyReport::ok`] false.

pub mod digest;
pub mod keys;
pub(crate) mod store;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, DurationRound, Utc};
use futures::StreamExt;

use crate::aws::{sdk_error, ConnectOptions};
use crate::{Error, Result};
use digest::{DigestFile, DigestName, LogName};
use keys::PublicKeys;
use store::Store;
pub use store::SIGNATURE_SUFFIX;

/// Options of [`verify`].
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Only digests and logs of hours that end after this time.
    pub start: Option<DateTime<Utc>>,
    /// Only digests and logs of hours that start at or before this time.
    pub end: Option<DateTime<Utc>>,
    /// Public key files (DER or PEM); none means: ask CloudTrail (`ListPublicKeys`).
    pub public_key_files: Vec<PathBuf>,
    /// How to reach AWS (for an `s3://` source and for `ListPublicKeys`).
    pub connect: ConnectOptions,
    /// The region of AWS calls; by default the profile's, else the digests' home region.
    pub region: Option<String>,
    /// Files read at once; 0 = twice the cores.
    pub concurrency: usize,
}

/// A digest or a log file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FileKind {
    Digest,
    Log,
}

impl FileKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Digest => "digest",
            FileKind::Log => "log",
        }
    }
}

/// The outcome for one file, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// A digest that should exist is absent: the next digest names it, or an hour with logs has
    /// none.
    MissingDigest,
    /// A log listed in a digest is absent.
    Deleted,
    /// Contents differ from what was signed (a log's hash, a digest's signature or the hash the
    /// next digest records), or a digest was moved from where it was delivered.
    Modified,
    /// A digest signed with a key that is not among the public keys.
    UnknownKey,
    /// A log file that no digest lists although digests cover its hour.
    NotInAnyDigest,
    /// Could not be checked: a digest without signature, or a log whose digest failed.
    Unchecked,
    /// A log delivered after the newest digest (CloudTrail lists it in the next one).
    Pending,
    Valid,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::MissingDigest => "missing_digest",
            Status::Deleted => "deleted",
            Status::Modified => "modified",
            Status::UnknownKey => "unknown_key",
            Status::NotInAnyDigest => "not_in_any_digest",
            Status::Unchecked => "unchecked",
            Status::Pending => "pending",
            Status::Valid => "valid",
        }
    }

    /// Whether it makes the validation fail.
    pub fn is_failure(self) -> bool {
        self < Status::Unchecked
    }

    pub const ALL: [Status; 8] = [
        Status::Valid,
        Status::Modified,
        Status::Deleted,
        Status::MissingDigest,
        Status::NotInAnyDigest,
        Status::UnknownKey,
        Status::Unchecked,
        Status::Pending,
    ];
}

/// One file's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCheck {
    pub kind: FileKind,
    /// A local path or an `s3://` URL (for a missing digest: where it should be).
    pub path: String,
    pub account: String,
    pub region: String,
    /// The hour the file belongs to: a log's delivery hour, the hour a digest covers.
    pub hour: DateTime<Utc>,
    pub status: Status,
    /// Why, for anything but `valid`.
    pub detail: String,
}

/// The outcome of one hour of one account and region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HourCheck {
    pub account: String,
    pub region: String,
    pub hour: DateTime<Utc>,
    /// The worst status of its files.
    pub status: Status,
    pub logs: usize,
    pub digests: usize,
    pub failures: usize,
}

/// What [`verify`] found.
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    pub files: Vec<FileCheck>,
    pub hours: Vec<HourCheck>,
    /// Fingerprints of the public keys that were available.
    pub public_keys: Vec<String>,
}

impl VerifyReport {
    pub fn count(&self, kind: FileKind, status: Status) -> usize {
        self.files
            .iter()
            .filter(|f| f.kind == kind && f.status == status)
            .count()
    }

    pub fn failures(&self) -> impl Iterator<Item = &FileCheck> {
        self.files.iter().filter(|f| f.status.is_failure())
    }

    /// True when nothing failed.
    pub fn ok(&self) -> bool {
        self.failures().next().is_none()
    }
}

/// A digest as read.
struct Loaded {
    key: String,
    name: DigestName,
    sha256: String,
    file: std::result::Result<DigestFile, String>,
    own_signature: Option<String>,
    signature_from_next: Option<String>,
    /// Failures found through the next digest (hash or signature it records).
    chain_problems: Vec<String>,
}

fn floor_hour(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::hours(1)).unwrap_or(t)
}

/// Validates the logs and digests of `source`: a folder holding a copy of a trail's bucket (at
/// or above `AWSLogs/`) or `s3://bucket[/prefix]`.
pub async fn verify(source: &str, options: &VerifyOptions) -> Result<VerifyReport> {
    if let (Some(s), Some(e)) = (options.start, options.end) {
        if s > e {
            return Err(Error::InvalidArgument(format!(
                "verify: start {s} is after end {e}"
            )));
        }
    }
    let mut public_keys = PublicKeys::default();
    for path in &options.public_key_files {
        public_keys.add_file(path)?;
    }
    let mut sdk: Option<aws_config::SdkConfig> = None;
    let store = if let Some(rest) = source.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(Error::Source {
                path: source.into(),
                reason: "no bucket: write s3://bucket[/prefix]".into(),
            });
        }
        let (config, _) = crate::aws::load(&options.connect, options.region.as_deref()).await?;
        let client = crate::aws::s3_client(&config, &options.connect);
        sdk = Some(config);
        Store::S3 {
            client,
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        }
    } else {
        let root = Path::new(source);
        if !root.is_dir() {
            return Err(Error::Source {
                path: source.into(),
                reason: "not a folder: verify reads a copy of the trail's bucket (the folder \
                         holding AWSLogs/ or one below it) or s3://bucket/prefix"
                    .into(),
            });
        }
        Store::Local {
            root: root.to_path_buf(),
        }
    };

    // Which objects are digests and logs, by their layout key (from `AWSLogs/` on).
    let mut digest_keys: BTreeMap<String, (String, DigestName)> = BTreeMap::new();
    let mut log_keys: BTreeMap<String, (String, LogName)> = BTreeMap::new();
    for key in store.list().await? {
        if let Some(name) = digest::parse_digest_key(&key) {
            digest_keys.insert(digest::layout_key(&key).to_string(), (key, name));
        } else if let Some(name) = digest::parse_log_key(&key) {
            log_keys.insert(digest::layout_key(&key).to_string(), (key, name));
        }
    }
    if digest_keys.is_empty() {
        return Err(Error::Source {
            path: source.into(),
            reason:
                "no CloudTrail digest files (AWSLogs/<account>/CloudTrail-Digest/<region>/...) \
                     here: turn on log file validation for the trail (EnableLogFileValidation); \
                     CloudTrail then delivers a digest every hour"
                    .into(),
        });
    }

    if public_keys.is_empty() {
        let regions: BTreeSet<String> = digest_keys
            .values()
            .map(|(_, n)| n.home_region.clone())
            .collect();
        let (config, _) = match sdk.take() {
            Some(config) => (config, String::new()),
            None => {
                let region = options.region.clone().or_else(|| regions.first().cloned());
                crate::aws::load(&options.connect, region.as_deref()).await?
            }
        };
        for region in &regions {
            list_public_keys(&config, region, options, &mut public_keys).await?;
        }
    }

    let concurrency = if options.concurrency == 0 {
        std::thread::available_parallelism().map_or(4, |n| n.get() * 2)
    } else {
        options.concurrency
    };
    let in_window = |hour_start: DateTime<Utc>| {
        options
            .start
            .is_none_or(|s| hour_start + Duration::hours(1) > s)
            && options.end.is_none_or(|e| hour_start <= e)
    };
    // Digests of the window, and those up to two hours before it (whose hash and signature the
    // first digests of the window record).
    let load_from = options.start.map(|s| s - Duration::hours(2));
    let to_load: Vec<(String, String, DigestName)> = digest_keys
        .iter()
        .filter(|(_, (_, n))| {
            load_from.is_none_or(|s| n.end > s)
                && options.end.is_none_or(|e| n.end - Duration::hours(1) <= e)
        })
        .map(|(layout, (key, name))| (layout.clone(), key.clone(), name.clone()))
        .collect();
    let store_ref = &store;
    let mut loaded: HashMap<String, Loaded> = HashMap::new();
    let mut reads = futures::stream::iter(to_load)
        .map(|(layout, key, name)| async move {
            let object = store_ref.read(&key).await;
            (layout, key, name, object)
        })
        .buffer_unordered(concurrency);
    while let Some((layout, key, name, object)) = reads.next().await {
        let Some(object) = object? else { continue };
        let (sha256, file) = match digest::gunzip(&object.bytes) {
            Ok(plain) => (
                digest::sha256(&plain),
                serde_json::from_slice::<DigestFile>(&plain)
                    .map_err(|e| format!("not a CloudTrail digest file: {e}")),
            ),
            Err(e) => (
                digest::sha256(&object.bytes),
                Err(format!("cannot be decompressed: {e}")),
            ),
        };
        loaded.insert(
            layout,
            Loaded {
                key,
                name,
                sha256,
                file,
                own_signature: object.signature,
                signature_from_next: None,
                chain_problems: Vec::new(),
            },
        );
    }
    drop(reads);

    let mut files: Vec<FileCheck> = Vec::new();
    let prefix_of = |key: &str| key[..key.len() - digest::layout_key(key).len()].to_string();

    // The chain: what each digest records about the one before it.
    let mut findings: Vec<(String, String, Option<String>, Option<String>)> = Vec::new();
    for (layout, d) in &loaded {
        let Ok(file) = &d.file else { continue };
        let Some(previous) = file.previous_digest_s3_object.as_deref() else {
            continue;
        };
        if previous.is_empty() {
            continue;
        }
        let previous_layout = digest::layout_key(previous).to_string();
        if loaded.contains_key(&previous_layout) {
            findings.push((
                previous_layout,
                layout.clone(),
                file.previous_digest_hash_value.clone(),
                file.previous_digest_signature.clone(),
            ));
        } else if !digest_keys.contains_key(&previous_layout) {
            let Some(name) = digest::parse_digest_key(&previous_layout) else {
                continue;
            };
            let hour = floor_hour(name.end - Duration::hours(1));
            if in_window(hour) {
                files.push(FileCheck {
                    kind: FileKind::Digest,
                    path: store.display(&format!("{}{previous_layout}", prefix_of(&d.key))),
                    account: name.account,
                    region: name.region,
                    hour,
                    status: Status::MissingDigest,
                    detail: format!(
                        "absent, but the next digest {} names it as previousDigestS3Object",
                        store.display(&d.key)
                    ),
                });
            }
        }
    }
    for (previous_layout, next_layout, hash, signature) in findings {
        let next_display = store.display(&loaded[&next_layout].key);
        let Some(p) = loaded.get_mut(&previous_layout) else {
            continue;
        };
        if let Some(hash) = hash {
            if !hash.eq_ignore_ascii_case(&p.sha256) {
                p.chain_problems.push(format!(
                    "its SHA-256 {} differs from previousDigestHashValue {hash} in the next \
                     digest {next_display}",
                    p.sha256
                ));
            }
        }
        match (&p.own_signature, signature) {
            (Some(own), Some(recorded)) if !own.eq_ignore_ascii_case(&recorded) => {
                p.chain_problems.push(format!(
                    "its signature differs from previousDigestSignature in the next digest \
                     {next_display}"
                ));
            }
            (None, Some(recorded)) => p.signature_from_next = Some(recorded),
            _ => {}
        }
    }

    // Each digest of the window, and the logs it lists.
    let mut covered: HashSet<String> = HashSet::new();
    let mut to_hash: Vec<(String, String, String, Status, String)> = Vec::new();
    let mut loaded_sorted: Vec<(&String, &Loaded)> = loaded.iter().collect();
    loaded_sorted.sort_by_key(|(layout, _)| layout.as_str());
    for (layout, d) in loaded_sorted {
        let start_time = d
            .file
            .as_ref()
            .ok()
            .and_then(|f| digest::parse_time(&f.digest_start_time));
        let hour = floor_hour(start_time.unwrap_or(d.name.end - Duration::hours(1)));
        let reported = in_window(hour);
        let (status, detail) = check_digest(d, layout, &store, &public_keys);
        let digest_display = store.display(&d.key);
        if let Ok(file) = &d.file {
            for entry in &file.log_files {
                let log_layout = digest::layout_key(&entry.s3_object).to_string();
                if !covered.insert(log_layout.clone()) {
                    continue;
                }
                let log_name = digest::parse_log_key(&log_layout);
                let log_hour = log_name.as_ref().map_or(hour, |n| floor_hour(n.delivered));
                if !reported || !in_window(log_hour) {
                    continue;
                }
                match log_keys.get(&log_layout) {
                    None => files.push(FileCheck {
                        kind: FileKind::Log,
                        path: store.display(&format!("{}{log_layout}", prefix_of(&d.key))),
                        account: log_name
                            .as_ref()
                            .map_or(d.name.account.clone(), |n| n.account.clone()),
                        region: log_name
                            .as_ref()
                            .map_or(d.name.region.clone(), |n| n.region.clone()),
                        hour: log_hour,
                        status: Status::Deleted,
                        detail: format!("absent, but listed in digest {digest_display}"),
                    }),
                    Some((key, _)) => {
                        if entry
                            .hash_algorithm
                            .as_deref()
                            .is_some_and(|a| a != digest::HASH_ALGORITHM)
                        {
                            files.push(FileCheck {
                                kind: FileKind::Log,
                                path: store.display(key),
                                account: d.name.account.clone(),
                                region: d.name.region.clone(),
                                hour: log_hour,
                                status: Status::Unchecked,
                                detail: format!(
                                    "digest {digest_display} uses hash algorithm {:?}, not \
                                     SHA-256",
                                    entry.hash_algorithm
                                ),
                            });
                            continue;
                        }
                        to_hash.push((
                            key.clone(),
                            entry.hash_value.clone(),
                            digest_display.clone(),
                            status,
                            log_layout,
                        ));
                    }
                }
            }
        }
        if reported {
            files.push(FileCheck {
                kind: FileKind::Digest,
                path: digest_display,
                account: d.name.account.clone(),
                region: d.name.region.clone(),
                hour,
                status,
                detail,
            });
        }
    }

    // The logs' hashes.
    let mut hashes = futures::stream::iter(to_hash)
        .map(
            |(key, expected, digest_display, digest_status, layout)| async move {
                let object = store_ref.read(&key).await;
                let actual = match object {
                    Ok(Some(object)) => tokio::task::spawn_blocking(move || {
                        digest::sha256_of_gzip(&object.bytes).map_err(|e| e.to_string())
                    })
                    .await
                    .map_err(|e| Error::Engine(format!("hashing failed: {e}")))
                    .map(Some),
                    Ok(None) => Ok(None),
                    Err(e) => Err(e),
                };
                (key, expected, digest_display, digest_status, layout, actual)
            },
        )
        .buffer_unordered(concurrency);
    while let Some((key, expected, digest_display, digest_status, layout, actual)) =
        hashes.next().await
    {
        let Some(name) = digest::parse_log_key(&layout) else {
            continue;
        };
        let (status, detail) = match actual? {
            None => (
                Status::Deleted,
                format!("absent, but listed in digest {digest_display}"),
            ),
            Some(Err(e)) => (
                Status::Modified,
                format!("cannot be decompressed ({e}); digest {digest_display} lists it"),
            ),
            Some(Ok(actual)) if !actual.eq_ignore_ascii_case(&expected) => (
                Status::Modified,
                format!(
                    "SHA-256 of its contents is {actual}, digest {digest_display} records \
                     {expected}"
                ),
            ),
            Some(Ok(_)) if digest_status == Status::Valid => (Status::Valid, String::new()),
            Some(Ok(_)) => (
                Status::Unchecked,
                format!(
                    "its hash matches digest {digest_display}, but that digest is {}",
                    digest_status.as_str()
                ),
            ),
        };
        files.push(FileCheck {
            kind: FileKind::Log,
            path: store.display(&key),
            account: name.account,
            region: name.region,
            hour: floor_hour(name.delivered),
            status,
            detail,
        });
    }
    drop(hashes);

    // Logs no digest lists: pending after the newest digest, otherwise a failure; an hour that
    // has such logs and no digest at all is a missing digest.
    let mut newest: HashMap<(String, String), DateTime<Utc>> = HashMap::new();
    let mut digest_hours: HashSet<(String, String, DateTime<Utc>)> = HashSet::new();
    for (_, name) in digest_keys.values() {
        let slot = newest
            .entry((name.account.clone(), name.region.clone()))
            .or_insert(name.end);
        *slot = (*slot).max(name.end);
        // A digest covers the hour before its end time.
        let hour = floor_hour(name.end - Duration::hours(1));
        digest_hours.insert((name.account.clone(), name.region.clone(), hour));
    }
    let mut missing_hours: BTreeSet<(String, String, DateTime<Utc>)> = files
        .iter()
        .filter(|f| f.status == Status::MissingDigest)
        .map(|f| (f.account.clone(), f.region.clone(), f.hour))
        .collect();
    for (layout, (key, name)) in &log_keys {
        let hour = floor_hour(name.delivered);
        if covered.contains(layout) || !in_window(hour) {
            continue;
        }
        let account_region = (name.account.clone(), name.region.clone());
        let pending = newest
            .get(&account_region)
            .is_none_or(|end| name.delivered >= *end);
        let listed_by_none =
            !digest_hours.contains(&(name.account.clone(), name.region.clone(), hour));
        files.push(FileCheck {
            kind: FileKind::Log,
            path: store.display(key),
            account: name.account.clone(),
            region: name.region.clone(),
            hour,
            status: if pending {
                Status::Pending
            } else {
                Status::NotInAnyDigest
            },
            detail: if pending {
                "delivered after the newest digest; the next digest will list it".into()
            } else {
                "no digest lists it".into()
            },
        });
        if !pending
            && listed_by_none
            && missing_hours.insert((name.account.clone(), name.region.clone(), hour))
        {
            let digest_folder = match layout.find("/CloudTrail/") {
                Some(i) => format!(
                    "{}{}/CloudTrail-Digest/{}/{}",
                    prefix_of(key),
                    &layout[..i],
                    name.region,
                    (hour + Duration::hours(1)).format("%Y/%m/%d/")
                ),
                None => layout.clone(),
            };
            files.push(FileCheck {
                kind: FileKind::Digest,
                path: store.display(&digest_folder),
                account: name.account.clone(),
                region: name.region.clone(),
                hour,
                status: Status::MissingDigest,
                detail: format!(
                    "no digest covers {}, an hour with logs",
                    hour.format("%Y-%m-%dT%H:00Z")
                ),
            });
        }
    }

    files.sort_by(|a, b| {
        (&a.account, &a.region, a.hour, a.kind, &a.path)
            .cmp(&(&b.account, &b.region, b.hour, b.kind, &b.path))
    });
    let mut hours: BTreeMap<(String, String, DateTime<Utc>), HourCheck> = BTreeMap::new();
    for f in &files {
        let h = hours
            .entry((f.account.clone(), f.region.clone(), f.hour))
            .or_insert_with(|| HourCheck {
                account: f.account.clone(),
                region: f.region.clone(),
                hour: f.hour,
                status: Status::Valid,
                logs: 0,
                digests: 0,
                failures: 0,
            });
        match f.kind {
            FileKind::Log => h.logs += 1,
            FileKind::Digest => h.digests += 1,
        }
        if f.status.is_failure() {
            h.failures += 1;
        }
        h.status = h.status.min(f.status);
    }
    Ok(VerifyReport {
        files,
        hours: hours.into_values().collect(),
        public_keys: public_keys.fingerprints().map(str::to_string).collect(),
    })
}

/// A digest's own status: readable, where it was delivered, signed by a known key, and
/// consistent with what the next digest records about it.
fn check_digest(
    d: &Loaded,
    layout: &str,
    store: &Store,
    public_keys: &PublicKeys,
) -> (Status, String) {
    let file = match &d.file {
        Ok(file) => file,
        Err(e) => return (Status::Modified, e.clone()),
    };
    if !d.chain_problems.is_empty() {
        return (Status::Modified, d.chain_problems.join("; "));
    }
    if let Some(algorithm) = &file.digest_signature_algorithm {
        if algorithm != digest::SIGNATURE_ALGORITHM {
            return (
                Status::Unchecked,
                format!("signature algorithm {algorithm:?} is not SHA256withRSA"),
            );
        }
    }
    if digest::layout_key(&file.digest_s3_object) != layout
        || store.bucket().is_some_and(|b| b != file.digest_s3_bucket)
    {
        return (
            Status::Modified,
            format!(
                "moved: it was delivered to s3://{}/{}",
                file.digest_s3_bucket, file.digest_s3_object
            ),
        );
    }
    let (signature, from_next) = match (&d.own_signature, &d.signature_from_next) {
        (Some(own), _) => (own, false),
        (None, Some(recorded)) => (recorded, true),
        (None, None) => {
            return (
                Status::Unchecked,
                format!(
                    "no signature: neither x-amz-meta-signature (in a local copy: a sidecar \
                     file ending {SIGNATURE_SUFFIX}) nor a later digest that records it"
                ),
            )
        }
    };
    let Some(key) = public_keys.get(&file.digest_public_key_fingerprint) else {
        return (
            Status::UnknownKey,
            format!(
                "signed with key {}, which is not among the public keys ({})",
                file.digest_public_key_fingerprint,
                public_keys.fingerprints().collect::<Vec<_>>().join(", ")
            ),
        );
    };
    let Some(signature_bytes) = keys::unhex(signature) else {
        return (Status::Modified, "its signature is not hex".into());
    };
    let message = digest::signing_string(file, &d.sha256);
    if !keys::verify_sha256_rsa(key, message.as_bytes(), &signature_bytes) {
        let source = if from_next {
            "the next digest's previousDigestSignature"
        } else {
            "its signature"
        };
        return (
            Status::Modified,
            format!(
                "{source} does not verify with key {}: the digest was changed after it was \
                 signed",
                file.digest_public_key_fingerprint
            ),
        );
    }
    if from_next {
        (
            Status::Valid,
            "signature taken from the next digest's previousDigestSignature".into(),
        )
    } else {
        (Status::Valid, String::new())
    }
}

/// CloudTrail's public keys of a region for the verified time range.
async fn list_public_keys(
    config: &aws_config::SdkConfig,
    region: &str,
    options: &VerifyOptions,
    keys: &mut PublicKeys,
) -> Result<()> {
    use aws_sdk_cloudtrail::primitives::DateTime as AwsTime;
    let conf = aws_sdk_cloudtrail::config::Builder::from(config)
        .region(aws_config::Region::new(region.to_string()))
        .build();
    let client = aws_sdk_cloudtrail::Client::from_conf(conf);
    let mut token: Option<String> = None;
    loop {
        let mut call = client.list_public_keys();
        if let Some(start) = options.start {
            call = call.start_time(AwsTime::from_secs(start.timestamp() - 3600));
        }
        if let Some(end) = options.end {
            call = call.end_time(AwsTime::from_secs(end.timestamp() + 3600));
        }
        if let Some(t) = &token {
            call = call.next_token(t);
        }
        let page = call.send().await.map_err(|e| {
            sdk_error(
                &format!(
                    "fetching CloudTrail's public keys in {region} (ListPublicKeys; pass \
                     --public-key files to verify offline)"
                ),
                e,
            )
        })?;
        for key in page.public_key_list() {
            if let (Some(fingerprint), Some(value)) = (key.fingerprint(), key.value()) {
                keys.add_listed(fingerprint, value.as_ref().to_vec());
            }
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    Ok(())
}
