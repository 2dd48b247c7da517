//! The CloudTrail digest file: where digests and logs live in the bucket, what a digest holds,
//! and the string its signature covers (per the CloudTrail user guide, "CloudTrail digest file
//! structure" and "Custom implementations of CloudTrail log file integrity validation").

use std::io::Read;
use std::sync::LazyLock;

use aws_lc_rs::digest::{Context, SHA256};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use regex::Regex;
use serde::Deserialize;

/// The only signature algorithm CloudTrail uses.
pub const SIGNATURE_ALGORITHM: &str = "SHA256withRSA";
/// The only hash algorithm of log files and previous digests.
pub const HASH_ALGORITHM: &str = "SHA-256";
/// How digest times are written: UTC, extended format, whole seconds.
pub const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

/// `[prefix/]AWSLogs/[o-id/]<account>/CloudTrail-Digest/<region>/yyyy/MM/dd/
/// <account>_CloudTrail-Digest_<region>_<trail>_<home region>_<yyyyMMddTHHmmssZ>[_backfill].json.gz`
static DIGEST_KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:^|/)AWSLogs/(?:o-[a-z0-9]+/)?(\d{12})/CloudTrail-Digest/([a-z0-9-]+)/\d{4}/\d{2}/\d{2}/\d{12}_CloudTrail-Digest_[a-z0-9-]+_.+_([a-z0-9-]+)_(\d{8}T\d{6}Z)(?:_backfill)?\.json\.gz$",
    )
    .expect("valid regex")
});

/// `[prefix/]AWSLogs/[o-id/]<account>/CloudTrail/<region>/yyyy/MM/dd/
/// <account>_CloudTrail_<region>_<yyyyMMddTHHmmZ>_<unique>.json.gz`
static LOG_KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:^|/)AWSLogs/(?:o-[a-z0-9]+/)?(\d{12})/CloudTrail/([a-z0-9-]+)/\d{4}/\d{2}/\d{2}/\d{12}_CloudTrail_[a-z0-9-]+_(\d{8}T\d{4}Z)_[A-Za-z0-9]+\.json\.gz$",
    )
    .expect("valid regex")
});

/// What a digest's key says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestName {
    pub account: String,
    pub region: String,
    pub home_region: String,
    pub end: DateTime<Utc>,
}

/// What a log file's key says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogName {
    pub account: String,
    pub region: String,
    /// When CloudTrail delivered it (minute precision).
    pub delivered: DateTime<Utc>,
}

pub fn parse_digest_key(key: &str) -> Option<DigestName> {
    let caps = DIGEST_KEY.captures(key)?;
    let end = NaiveDateTime::parse_from_str(&caps[4], "%Y%m%dT%H%M%SZ").ok()?;
    Some(DigestName {
        account: caps[1].to_string(),
        region: caps[2].to_string(),
        home_region: caps[3].to_string(),
        end: Utc.from_utc_datetime(&end),
    })
}

pub fn parse_log_key(key: &str) -> Option<LogName> {
    let caps = LOG_KEY.captures(key)?;
    let delivered = NaiveDateTime::parse_from_str(&caps[3], "%Y%m%dT%H%MZ").ok()?;
    Some(LogName {
        account: caps[1].to_string(),
        region: caps[2].to_string(),
        delivered: Utc.from_utc_datetime(&delivered),
    })
}

/// The part of a key from `AWSLogs/` on: the same object in the bucket and in any local copy,
/// whatever prefix or folder is above it.
pub fn layout_key(key: &str) -> &str {
    if key.starts_with("AWSLogs/") {
        return key;
    }
    match key.find("/AWSLogs/") {
        Some(i) => &key[i + 1..],
        None => key,
    }
}

/// The fields of a digest file that validation reads.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DigestFile {
    pub digest_start_time: String,
    pub digest_end_time: String,
    pub digest_s3_bucket: String,
    pub digest_s3_object: String,
    pub digest_public_key_fingerprint: String,
    #[serde(default)]
    pub digest_signature_algorithm: Option<String>,
    #[serde(default)]
    pub previous_digest_s3_object: Option<String>,
    #[serde(default)]
    pub previous_digest_hash_value: Option<String>,
    #[serde(default)]
    pub previous_digest_signature: Option<String>,
    #[serde(default)]
    pub log_files: Vec<LogEntry>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    pub s3_object: String,
    pub hash_value: String,
    #[serde(default)]
    pub hash_algorithm: Option<String>,
}

/// The string CloudTrail signs: end time, `bucket/key`, hex SHA-256 of the uncompressed digest,
/// and the previous digest's signature (`null` for the first digest of a chain), one per line.
pub fn signing_string(digest: &DigestFile, uncompressed_sha256: &str) -> String {
    format!(
        "{}\n{}/{}\n{}\n{}",
        digest.digest_end_time,
        digest.digest_s3_bucket,
        digest.digest_s3_object,
        uncompressed_sha256,
        digest
            .previous_digest_signature
            .as_deref()
            .unwrap_or("null")
    )
}

pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Gunzips (all members) and returns the contents.
pub fn gunzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len() * 8);
    flate2::read::MultiGzDecoder::new(bytes).read_to_end(&mut out)?;
    Ok(out)
}

/// Hex SHA-256 of the uncompressed contents of a gzip file, streamed.
pub fn sha256_of_gzip(bytes: &[u8]) -> std::io::Result<String> {
    let mut reader = flate2::read::MultiGzDecoder::new(bytes);
    let mut ctx = Context::new(&SHA256);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
    }
    Ok(super::keys::hex(ctx.finish().as_ref()))
}

pub fn sha256(bytes: &[u8]) -> String {
    super::keys::hex(aws_lc_rs::digest::digest(&SHA256, bytes).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_the_layout_parse() {
        let d = parse_digest_key(
            "p/AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_my_trail_us-east-2_20150817T150131Z.json.gz",
        )
        .unwrap();
        assert_eq!(d.account, "111122223333");
        assert_eq!(d.home_region, "us-east-2");
        assert_eq!(d.end.to_rfc3339(), "2015-08-17T15:01:31+00:00");
        let l = parse_log_key(
            "AWSLogs/o-abc123/111122223333/CloudTrail/eu-west-1/2024/07/30/111122223333_CloudTrail_eu-west-1_20240730T2155Z_a1B2c3.json.gz",
        )
        .unwrap();
        assert_eq!(l.region, "eu-west-1");
        assert_eq!(l.delivered.to_rfc3339(), "2024-07-30T21:55:00+00:00");
        assert!(parse_log_key("AWSLogs/1/CloudTrail/x.json.gz").is_none());
        assert_eq!(layout_key("a/b/AWSLogs/1/x"), "AWSLogs/1/x");
        assert_eq!(layout_key("AWSLogs/1/x"), "AWSLogs/1/x");
    }

    #[test]
    fn the_signing_string_follows_the_user_guide() {
        let digest: DigestFile = serde_json::from_str(
            r#"{"digestStartTime":"2015-08-17T14:01:31Z","digestEndTime":"2015-08-17T15:01:31Z",
            "digestS3Bucket":"b","digestS3Object":"AWSLogs/k.json.gz",
            "digestPublicKeyFingerprint":"ab","previousDigestSignature":null,"logFiles":[]}"#,
        )
        .unwrap();
        assert_eq!(
            signing_string(&digest, "00ff"),
            "2015-08-17T15:01:31Z\nb/AWSLogs/k.json.gz\n00ff\nnull"
        );
    }
}
