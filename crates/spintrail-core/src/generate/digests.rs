//! Digest files for generated logs, as CloudTrail writes them when log file validation is on:
//! one per hour per account and region, listing the SHA-256 of each log file delivered in that
//! hour (of its uncompressed contents), chained to the previous digest by its hash and signature,
//! and signed (SHA256withRSA) with a test key. The signature, which CloudTrail keeps in the
//! object's `x-amz-meta-signature` metadata, goes to a sidecar file `<digest>.signature` (hex).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde_json::json;

use crate::verify::digest::{self, HASH_ALGORITHM, SIGNATURE_ALGORITHM, TIME_FORMAT};
use crate::verify::keys::{self, SigningKey};
use crate::verify::SIGNATURE_SUFFIX;
use crate::{Error, Result};

/// Options of [`write_digests`].
#[derive(Debug, Clone)]
pub struct DigestOptions {
    /// RSA private key in PKCS#8 (DER or PEM) that signs the digests.
    pub signing_key: PathBuf,
    /// The bucket the digests say they were delivered to.
    pub bucket: String,
    /// The trail name in digest file names.
    pub trail: String,
}

impl Default for DigestOptions {
    fn default() -> Self {
        DigestOptions {
            signing_key: PathBuf::new(),
            bucket: "spintrail-generated-trail".into(),
            trail: "spintrail".into(),
        }
    }
}

/// Writes hourly, chained, signed digests for the log files under `out_dir`, from the first to
/// the last hour with logs of each account and region (hours without logs get a digest with no
/// log files, as CloudTrail's do). Returns the number of digests written.
pub fn write_digests(out_dir: &Path, options: &DigestOptions) -> Result<u64> {
    let signer = SigningKey::from_file(&options.signing_key)?;
    let fingerprint = keys::fingerprint(&signer.public_pkcs1());
    // (key up to the account, e.g. `prefix/AWSLogs/o-x/123`, region) => hour => log keys.
    type Hours = BTreeMap<DateTime<Utc>, Vec<String>>;
    let mut groups: BTreeMap<(String, String, String), Hours> = BTreeMap::new();
    for key in crate::verify::store::list_local(out_dir)? {
        let Some(name) = digest::parse_log_key(&key) else {
            continue;
        };
        let Some(i) = key.find("/CloudTrail/") else {
            continue;
        };
        let hour = floor_hour(name.delivered);
        groups
            .entry((key[..i].to_string(), name.account, name.region))
            .or_default()
            .entry(hour)
            .or_default()
            .push(key);
    }
    let mut written = 0u64;
    for ((base, account, region), hours) in groups {
        let (Some(first), Some(last)) = (hours.keys().next(), hours.keys().last()) else {
            continue;
        };
        let (first, last) = (*first, *last);
        let mut previous: Option<(String, String, String)> = None;
        let mut hour = first;
        while hour <= last {
            let end = hour + Duration::hours(1);
            let mut log_files = Vec::new();
            for log_key in hours.get(&hour).into_iter().flatten() {
                let path = out_dir.join(log_key);
                let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
                let hash = digest::sha256_of_gzip(&bytes).map_err(|e| Error::file(&path, e))?;
                log_files.push(json!({
                    "s3Bucket": options.bucket,
                    "s3Object": log_key,
                    "hashValue": hash,
                    "hashAlgorithm": HASH_ALGORITHM,
                }));
            }
            let key = format!(
                "{base}/CloudTrail-Digest/{region}/{}/{account}_CloudTrail-Digest_{region}_{}_{region}_{}.json.gz",
                end.format("%Y/%m/%d"),
                options.trail,
                end.format("%Y%m%dT%H%M%SZ"),
            );
            let (previous_key, previous_hash, previous_signature) = match &previous {
                Some((k, h, s)) => (json!(k), json!(h), json!(s)),
                None => (json!(null), json!(null), json!(null)),
            };
            let body = json!({
                "awsAccountId": account,
                "digestStartTime": hour.format(TIME_FORMAT).to_string(),
                "digestEndTime": end.format(TIME_FORMAT).to_string(),
                "digestS3Bucket": options.bucket,
                "digestS3Object": key,
                "digestPublicKeyFingerprint": fingerprint,
                "digestSignatureAlgorithm": SIGNATURE_ALGORITHM,
                "newestEventTime": null,
                "oldestEventTime": null,
                "previousDigestS3Bucket": if previous.is_some() { json!(options.bucket) } else { json!(null) },
                "previousDigestS3Object": previous_key,
                "previousDigestHashValue": previous_hash,
                "previousDigestHashAlgorithm": if previous.is_some() { json!(HASH_ALGORITHM) } else { json!(null) },
                "previousDigestSignature": previous_signature,
                "logFiles": log_files,
            });
            let plain = serde_json::to_vec(&body)
                .map_err(|e| Error::Engine(format!("digest JSON: {e}")))?;
            let sha256 = digest::sha256(&plain);
            let parsed: digest::DigestFile = serde_json::from_slice(&plain)
                .map_err(|e| Error::Engine(format!("digest JSON: {e}")))?;
            let signature =
                keys::hex(&signer.sign(digest::signing_string(&parsed, &sha256).as_bytes())?);
            let path = out_dir.join(&key);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            }
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(&plain).map_err(|e| Error::io(&path, e))?;
            let compressed = gz.finish().map_err(|e| Error::io(&path, e))?;
            std::fs::write(&path, compressed).map_err(|e| Error::io(&path, e))?;
            let mut sidecar = path.clone().into_os_string();
            sidecar.push(SIGNATURE_SUFFIX);
            std::fs::write(&sidecar, &signature).map_err(|e| Error::io(&sidecar, e))?;
            written += 1;
            previous = Some((key, sha256, signature));
            hour = end;
        }
    }
    Ok(written)
}

fn floor_hour(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::hours(1)).unwrap_or(t)
}
