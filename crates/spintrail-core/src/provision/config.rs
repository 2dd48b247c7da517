//! The desired state: one definition of every option, read from TOML, JSON (Python keyword
//! arguments, CLI flags) or both (file first, explicit options over it).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::schema::PartitionLayout;
use crate::{Error, Result};

/// Bytes-scanned cutoff per Athena query by default: 10 GiB (about 0.05 USD per query).
pub const DEFAULT_BYTES_SCANNED_CUTOFF: u64 = 10 * 1024 * 1024 * 1024;

/// Regions the table projects over for a multi-region trail when none are given.
pub const MULTI_REGION_DEFAULTS: [&str; 17] = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-north-1",
    "ap-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
    "sa-east-1",
];

/// The desired state of a stack. Unknown keys are errors; everything but `bucket` has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StackConfig {
    /// Stack name, written into the `spintrail:stack` tag.
    pub name: String,
    /// AWS region of the trail, bucket, workgroup and table (default: the standard chain's).
    pub region: Option<String>,
    /// The log bucket: created when absent, reused when it is the caller's.
    pub bucket: String,
    /// Key prefix of the log files inside the bucket.
    pub prefix: Option<String>,
    pub trail: String,
    pub multi_region: bool,
    pub organization: bool,
    /// The organization id (`o-...`), required for an organization trail (log layout and policy).
    pub org_id: Option<String>,
    pub log_file_validation: bool,
    pub database: String,
    pub table: String,
    pub workgroup: String,
    /// Athena query result location (default `s3://<bucket>/[<prefix>/]athena-results/`).
    pub results: Option<String>,
    pub bytes_scanned_cutoff: u64,
    /// First day of the `day` partition projection, `yyyy/MM/dd`.
    pub projection_start: String,
    /// The table's partition columns: `"spintrail"` (`account`, `region`, `day`),
    /// `"aws-projection"` (`timestamp`, one account and region) or `"aws-manual"` (`region`,
    /// `year`, `month`, `day`, one account); see [`PartitionLayout`].
    pub partitions: String,
    /// Accounts of the `account` projection (default: the caller's account).
    pub accounts: Vec<String>,
    /// Regions of the `region` projection (default: the region, or common regions if multi-region).
    pub regions: Vec<String>,
    /// SSE-KMS key (id, ARN or alias) for the bucket and Athena results; SSE-S3 when absent.
    pub kms_key: Option<String>,
    /// Expire log objects after this many days (no expiry when absent).
    pub expire_days: Option<u32>,
    /// CloudWatch Logs delivery: the log group (no delivery when absent).
    pub log_group: Option<String>,
    /// The IAM role CloudTrail assumes to write to the log group (default `<trail>-cloudwatch-logs`).
    pub log_role: Option<String>,
    /// Extra tags for everything spintrail creates.
    pub tags: BTreeMap<String, String>,
    /// Where `spintrail compact` writes the Parquet copy (`s3://bucket/prefix/`): with it, a
    /// second Glue table over that copy (none when absent).
    pub parquet_location: Option<String>,
    /// The name of the Parquet table.
    pub parquet_table: String,
    /// Also an Athena view `<table>_dedup` with each `eventid` once per partition.
    pub dedup_view: bool,
}

impl Default for StackConfig {
    fn default() -> Self {
        StackConfig {
            name: "spintrail".into(),
            region: None,
            bucket: String::new(),
            prefix: None,
            trail: "spintrail".into(),
            multi_region: true,
            organization: false,
            org_id: None,
            log_file_validation: true,
            database: "default".into(),
            table: "cloudtrail_logs".into(),
            workgroup: "spintrail".into(),
            results: None,
            bytes_scanned_cutoff: DEFAULT_BYTES_SCANNED_CUTOFF,
            projection_start: "2024/01/01".into(),
            partitions: PartitionLayout::default().name().into(),
            accounts: Vec::new(),
            regions: Vec::new(),
            kms_key: None,
            expire_days: None,
            log_group: None,
            log_role: None,
            tags: BTreeMap::new(),
            parquet_location: None,
            parquet_table: "cloudtrail_parquet".into(),
            dedup_view: false,
        }
    }
}

fn invalid(message: String) -> Error {
    Error::InvalidArgument(message)
}

/// S3 bucket naming rules (general purpose buckets).
fn check_bucket(name: &str) -> Result<()> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    let ends_ok = name
        .chars()
        .next()
        .zip(name.chars().last())
        .is_some_and(|(a, b)| a.is_ascii_alphanumeric() && b.is_ascii_alphanumeric());
    let ip_like = name.split('.').count() == 4
        && name
            .split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    if name.is_empty() {
        return Err(invalid(
            "bucket: a log bucket name is required (bucket = \"...\", --bucket)".into(),
        ));
    }
    if !(3..=63).contains(&name.len())
        || !ok_chars
        || !ends_ok
        || name.contains("..")
        || ip_like
        || name.starts_with("xn--")
    {
        return Err(invalid(format!(
            "bucket: {name:?} is not a valid S3 bucket name (3-63 characters: lower-case letters, \
             digits, '-' and '.', starting and ending with a letter or digit)"
        )));
    }
    Ok(())
}

fn check_trail(name: &str) -> Result<()> {
    let chars_ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    let ends_ok = name
        .chars()
        .next()
        .zip(name.chars().last())
        .is_some_and(|(a, b)| a.is_ascii_alphanumeric() && b.is_ascii_alphanumeric());
    let adjacent = ["..", "._", ".-", "_.", "__", "_-", "-.", "-_", "--"]
        .iter()
        .any(|p| name.contains(p));
    if !(3..=128).contains(&name.len()) || !chars_ok || !ends_ok || adjacent {
        return Err(invalid(format!(
            "trail: {name:?} is not a valid trail name (3-128 letters, digits, '.', '_' or '-', \
             starting and ending with a letter or digit, no two punctuation marks in a row)"
        )));
    }
    Ok(())
}

/// Athena database and table names: lower-case letters, digits and underscores.
fn check_athena_name(what: &str, name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > 255
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(invalid(format!(
            "{what}: {name:?} is not a valid Athena name (1-255 lower-case letters, digits or '_')"
        )));
    }
    Ok(())
}

fn check_simple(what: &str, name: &str, max: usize, extra: &[char]) -> Result<()> {
    if name.is_empty()
        || name.len() > max
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || extra.contains(&c))
    {
        let extra: String = extra.iter().collect();
        return Err(invalid(format!(
            "{what}: {name:?} is not a valid name (1-{max} letters, digits or any of {extra:?})"
        )));
    }
    Ok(())
}

use crate::aws::check_region;

fn check_day(day: &str) -> Result<()> {
    let parsed = chrono::NaiveDate::parse_from_str(day, "%Y/%m/%d");
    if parsed.is_err() || day.len() != 10 {
        return Err(invalid(format!(
            "projection_start: {day:?} is not a date in the form yyyy/MM/dd"
        )));
    }
    Ok(())
}

impl StackConfig {
    /// The partition layout (validated when the configuration was read).
    pub fn layout(&self) -> PartitionLayout {
        PartitionLayout::parse(&self.partitions).unwrap_or_default()
    }

    /// Reads a TOML document, then applies `overrides` (a JSON object of the same keys; `null`
    /// values are ignored) over it.
    pub fn from_sources(toml_text: Option<&str>, overrides: &serde_json::Value) -> Result<Self> {
        let mut merged = match toml_text {
            Some(text) => toml::from_str::<serde_json::Value>(text)
                .map_err(|e| invalid(format!("configuration file: {e}")))?,
            None => serde_json::Value::Object(Default::default()),
        };
        let serde_json::Value::Object(base) = &mut merged else {
            return Err(invalid(
                "configuration file: expected a table of options".into(),
            ));
        };
        if let serde_json::Value::Object(over) = overrides {
            for (k, v) in over {
                if !v.is_null() {
                    base.insert(k.clone(), v.clone());
                }
            }
        } else if !overrides.is_null() {
            return Err(invalid("options: expected an object".into()));
        }
        let config: StackConfig = serde_json::from_value(merged)
            .map_err(|e| invalid(format!("provision options: {e}")))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks names and values before anything is sent to AWS.
    pub fn validate(&self) -> Result<()> {
        check_simple("name", &self.name, 128, &['-', '_', '.'])?;
        check_bucket(&self.bucket)?;
        check_trail(&self.trail)?;
        check_athena_name("database", &self.database)?;
        check_athena_name("table", &self.table)?;
        check_athena_name("parquet_table", &self.parquet_table)?;
        if let Some(location) = &self.parquet_location {
            if !location.starts_with("s3://") || location.len() <= "s3://".len() {
                return Err(invalid(format!(
                    "parquet_location: {location:?} is not an S3 location: give \
                     s3://bucket/prefix/ (where spintrail compact writes)"
                )));
            }
            if self.parquet_table == self.table {
                return Err(invalid(format!(
                    "parquet_table: {:?} is also the JSON table's name: choose another",
                    self.parquet_table
                )));
            }
        }
        check_simple("workgroup", &self.workgroup, 128, &['-', '_', '.'])?;
        if let Some(region) = &self.region {
            check_region(region)?;
        }
        for region in &self.regions {
            check_region(region)?;
        }
        for account in &self.accounts {
            if account.len() != 12 || !account.chars().all(|c| c.is_ascii_digit()) {
                return Err(invalid(format!(
                    "accounts: {account:?} is not a 12-digit AWS account id"
                )));
            }
        }
        if let Some(prefix) = &self.prefix {
            if prefix.trim_matches('/').is_empty()
                || prefix.len() > 200
                || prefix.chars().any(|c| c.is_control() || c == '\\')
            {
                return Err(invalid(format!(
                    "prefix: {prefix:?} is not a usable key prefix (non-empty, at most 200 \
                     characters, no control characters)"
                )));
            }
        }
        match (&self.org_id, self.organization) {
            (None, true) => {
                return Err(invalid(
                    "org_id: an organization trail needs the organization id (o-...), which is \
                     part of its log layout"
                        .into(),
                ))
            }
            (Some(org), _) => {
                let ok = org.starts_with("o-")
                    && (12..=34).contains(&org.len())
                    && org[2..]
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
                if !ok {
                    return Err(invalid(format!(
                        "org_id: {org:?} is not an organization id like o-a1b2c3d4e5"
                    )));
                }
            }
            _ => {}
        }
        if let Some(results) = &self.results {
            if !results.starts_with("s3://") || results.len() <= 5 {
                return Err(invalid(format!(
                    "results: {results:?} is not an s3:// location"
                )));
            }
        }
        if self.bytes_scanned_cutoff < 10_000_000 {
            return Err(invalid(format!(
                "bytes_scanned_cutoff: {} is below Athena's minimum of 10000000 bytes (10 MB)",
                self.bytes_scanned_cutoff
            )));
        }
        check_day(&self.projection_start)?;
        PartitionLayout::parse(&self.partitions)
            .map_err(|e| invalid(format!("partitions: {e}")))?;
        if self.expire_days == Some(0) {
            return Err(invalid("expire_days: must be at least 1".into()));
        }
        if let Some(group) = &self.log_group {
            check_simple("log_group", group, 512, &['.', '-', '_', '/', '#'])?;
        }
        if let Some(role) = &self.log_role {
            check_simple("log_role", role, 64, &['+', '=', ',', '.', '@', '-', '_'])?;
        }
        if let Some(key) = &self.kms_key {
            if key.is_empty() || key.chars().any(char::is_whitespace) {
                return Err(invalid(format!("kms_key: {key:?} is not a KMS key id")));
            }
        }
        for (k, v) in &self.tags {
            if k.is_empty() || k.len() > 127 || v.len() > 255 || k.starts_with("aws:") {
                return Err(invalid(format!(
                    "tags: {k:?}={v:?} is not a valid tag (key 1-127 characters, not aws:, value \
                     up to 255)"
                )));
            }
            if k == super::MANAGED_TAG || k == super::STACK_TAG {
                return Err(invalid(format!("tags: {k:?} is set by spintrail itself")));
            }
        }
        Ok(())
    }
}

/// The desired state with everything derived: account, region, ARNs, locations.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub cfg: StackConfig,
    pub region: String,
    pub account: String,
    pub partition: &'static str,
    pub prefix: Option<String>,
    pub trail_arn: String,
    pub results: String,
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
}

impl Resolved {
    pub fn new(cfg: StackConfig, region: String, account: String) -> Result<Self> {
        check_region(&region)?;
        let partition = if region.starts_with("cn-") {
            "aws-cn"
        } else if region.starts_with("us-gov-") {
            "aws-us-gov"
        } else {
            "aws"
        };
        let prefix = cfg.prefix.as_ref().map(|p| p.trim_matches('/').to_string());
        let trail_arn = format!(
            "arn:{partition}:cloudtrail:{region}:{account}:trail/{}",
            cfg.trail
        );
        let results = match &cfg.results {
            Some(r) if r.ends_with('/') => r.clone(),
            Some(r) => format!("{r}/"),
            None => format!(
                "s3://{}/{}athena-results/",
                cfg.bucket,
                prefix.as_ref().map(|p| format!("{p}/")).unwrap_or_default()
            ),
        };
        let accounts = if cfg.accounts.is_empty() {
            vec![account.clone()]
        } else {
            cfg.accounts.clone()
        };
        let one_region = cfg.layout() == PartitionLayout::AwsProjection;
        let regions = if !cfg.regions.is_empty() {
            cfg.regions.clone()
        } else if cfg.multi_region && !one_region {
            let mut all: Vec<String> = MULTI_REGION_DEFAULTS
                .iter()
                .map(|r| r.to_string())
                .collect();
            if !all.contains(&region) {
                all.push(region.clone());
            }
            all
        } else {
            vec![region.clone()]
        };
        Ok(Resolved {
            cfg,
            region,
            account,
            partition,
            prefix,
            trail_arn,
            results,
            accounts,
            regions,
        })
    }

    /// `[prefix/]` for keys.
    pub fn key_prefix(&self) -> String {
        self.prefix
            .as_ref()
            .map(|p| format!("{p}/"))
            .unwrap_or_default()
    }

    /// `s3://bucket/[prefix/]AWSLogs/[org-id/]`: where the table's data lives.
    pub fn table_location(&self) -> String {
        let org = match (&self.cfg.org_id, self.cfg.organization) {
            (Some(org), true) => format!("{org}/"),
            _ => String::new(),
        };
        format!(
            "s3://{}/{}AWSLogs/{org}",
            self.cfg.bucket,
            self.key_prefix()
        )
    }

    pub fn workgroup_arn(&self) -> String {
        format!(
            "arn:{}:athena:{}:{}:workgroup/{}",
            self.partition, self.region, self.account, self.cfg.workgroup
        )
    }

    pub fn log_role(&self) -> String {
        self.cfg
            .log_role
            .clone()
            .unwrap_or_else(|| format!("{}-cloudwatch-logs", self.cfg.trail))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(json: serde_json::Value) -> Result<StackConfig> {
        StackConfig::from_sources(None, &json)
    }

    #[test]
    fn defaults_are_secure_and_complete() {
        let c = cfg(serde_json::json!({"bucket": "my-logs"})).unwrap();
        assert!(c.log_file_validation);
        assert!(c.multi_region);
        assert_eq!(c.bytes_scanned_cutoff, DEFAULT_BYTES_SCANNED_CUTOFF);
        let r = Resolved::new(c, "eu-west-1".into(), "123456789012".into()).unwrap();
        assert_eq!(r.results, "s3://my-logs/athena-results/");
        assert_eq!(
            r.trail_arn,
            "arn:aws:cloudtrail:eu-west-1:123456789012:trail/spintrail"
        );
        assert_eq!(r.accounts, vec!["123456789012"]);
        assert!(r.regions.contains(&"eu-west-1".to_string()));
    }

    #[test]
    fn toml_then_overrides() {
        let text = "bucket = \"from-file\"\ntrail = \"trail-one\"\nmulti_region = false\n\
                    [tags]\nteam = \"sec\"\n";
        let c = StackConfig::from_sources(
            Some(text),
            &serde_json::json!({"trail": "trail-two", "prefix": null}),
        )
        .unwrap();
        assert_eq!(c.bucket, "from-file");
        assert_eq!(c.trail, "trail-two");
        assert!(!c.multi_region);
        assert_eq!(c.tags.get("team").map(String::as_str), Some("sec"));
        let r = Resolved::new(c, "us-east-1".into(), "111111111111".into()).unwrap();
        assert_eq!(r.regions, vec!["us-east-1"]);
    }

    #[test]
    fn rejects_bad_names_and_unknown_keys() {
        for bad in [
            serde_json::json!({"bucket": "Bad_Bucket"}),
            serde_json::json!({"bucket": "ab"}),
            serde_json::json!({"bucket": "192.168.1.1"}),
            serde_json::json!({"bucket": "ok-bucket", "trail": "a--b"}),
            serde_json::json!({"bucket": "ok-bucket", "table": "Cloud-Trail"}),
            serde_json::json!({"bucket": "ok-bucket", "accounts": ["12345"]}),
            serde_json::json!({"bucket": "ok-bucket", "projection_start": "2024-01-01"}),
            serde_json::json!({"bucket": "ok-bucket", "bytes_scanned_cutoff": 5}),
            serde_json::json!({"bucket": "ok-bucket", "organization": true}),
            serde_json::json!({"bucket": "ok-bucket", "colour": "blue"}),
            serde_json::json!({"bucket": "ok-bucket", "tags": {"spintrail:stack": "x"}}),
            serde_json::json!({}),
        ] {
            let err = cfg(bad.clone()).expect_err(&bad.to_string());
            assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
        }
    }

    #[test]
    fn organization_location() {
        let c = cfg(serde_json::json!({
            "bucket": "org-logs", "prefix": "/ct/", "organization": true, "org_id": "o-abc123def4"
        }))
        .unwrap();
        let r = Resolved::new(c, "us-east-1".into(), "111111111111".into()).unwrap();
        assert_eq!(r.table_location(), "s3://org-logs/ct/AWSLogs/o-abc123def4/");
        assert_eq!(r.results, "s3://org-logs/ct/athena-results/");
    }
}
