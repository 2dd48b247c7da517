//! `doctor`: checks a live set-up and says, per check, whether it is right and how to fix it.
//!
//! It reads (never changes) the trail and its status, the log bucket (policy, Block Public
//! Access, encryption, and the `AWSLogs/` folders actually in it), the Glue table (location,
//! format, partition projection compared with those folders and today's date), the Athena
//! workgroup, and whether the caller can read a log file. A check that cannot be made (a call
//! denied or failed, nothing to compare with) says so: it is never reported as passing.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Timelike, Utc};
use regex::Regex;
use serde::Serialize;
use serde_json::Value;

use super::aws::{code, sdk_error, status, tolerate, Clients};
use super::bucket::SID_PREFIX;
use super::config::Resolved;
use super::ddl::{table_definition, INPUT_FORMAT, SERDE};
use super::Stack;
use crate::aws::HttpStatus;
use crate::Result;

/// How long a logging trail may go without delivering before doctor warns.
pub const STALE_DELIVERY_SECS: i64 = 3600;

/// The older SerDe of the CloudTrail console's tables; it misses fields added since 2023.
const CLOUDTRAIL_SERDE: &str = "com.amazon.emr.hive.serde.CloudTrailSerde";

const APPLY: &str = "run `spintrail provision apply` with this stack's options";

/// How a finding stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Ok,
    /// Could not be checked (a call failed or was denied, or nothing to compare with yet).
    Unchecked,
    /// Works, but weaker than it should be, or about to stop working.
    Warning,
    /// Broken: logs are not written, cannot be read or are not found by queries, or others can
    /// write into the log bucket.
    Error,
}

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Which check, e.g. `trail.logging`, `bucket.policy.scope`, `table.projection.range`.
    pub check: String,
    /// What was checked (a name, ARN or `s3://` location).
    pub subject: String,
    pub severity: Severity,
    pub message: String,
    /// How to fix it (absent when nothing is to be fixed).
    pub fix: Option<String>,
}

impl Finding {
    fn new(
        check: &str,
        subject: impl Into<String>,
        severity: Severity,
        message: impl Into<String>,
    ) -> Self {
        Finding {
            check: check.to_string(),
            subject: subject.into(),
            severity,
            message: message.into(),
            fix: None,
        }
    }

    fn ok(check: &str, subject: impl Into<String>, message: impl Into<String>) -> Self {
        Finding::new(check, subject, Severity::Ok, message)
    }

    fn unchecked(check: &str, subject: impl Into<String>, why: impl Display) -> Self {
        Finding::new(
            check,
            subject,
            Severity::Unchecked,
            format!("could not check: {why}"),
        )
    }

    fn warning(check: &str, subject: impl Into<String>, message: impl Into<String>) -> Self {
        Finding::new(check, subject, Severity::Warning, message)
    }

    fn error(check: &str, subject: impl Into<String>, message: impl Into<String>) -> Self {
        Finding::new(check, subject, Severity::Error, message)
    }

    fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

/// Everything doctor found about one stack.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnosis {
    pub stack: String,
    pub region: String,
    pub account: String,
    /// The identity the checks ran as (an ARN; never a key).
    pub caller: String,
    /// When the checks ran (UTC, ISO-8601).
    pub checked_at: String,
    pub findings: Vec<Finding>,
}

impl Stack {
    /// Checks the live set-up this stack describes; changes nothing. Fails only when AWS cannot
    /// be reached at all (no credentials, region or endpoint); every other problem is a finding.
    pub async fn doctor(&self) -> Result<Diagnosis> {
        let clients = Clients::connect(&self.connect, self.config.region.as_deref()).await?;
        const STEP: &str = "sts:GetCallerIdentity (who am I)";
        let who = clients
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| sdk_error(STEP, e))?;
        let account = who
            .account()
            .map(str::to_string)
            .ok_or_else(|| super::aws::aws_error(STEP, "the answer names no account"))?;
        let caller = who.arn().unwrap_or("the caller").to_string();
        let want = Resolved::new(self.config.clone(), clients.region.clone(), account.clone())?;
        let now = Utc::now();
        let mut doctor = Doctor {
            clients,
            want,
            caller: caller.clone(),
            now,
            findings: Vec::new(),
        };
        doctor.trail().await;
        let logs = doctor.bucket().await;
        doctor.table(&logs).await;
        doctor.workgroup().await;
        doctor.read(&logs).await;
        Ok(Diagnosis {
            stack: doctor.want.cfg.name.clone(),
            region: doctor.want.region.clone(),
            account,
            caller,
            checked_at: now.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            findings: doctor.findings,
        })
    }
}

/// A failed call: whether it was denied, and the message naming the step.
struct Failure {
    denied: bool,
    message: String,
}

impl Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

fn failure<E, R>(step: &str, err: SdkError<E, R>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: HttpStatus + std::fmt::Debug + 'static,
{
    // A 403 for a bad signature, key or token is a credentials problem, not a missing grant.
    let denied = match code(&err) {
        Some(c) => c.contains("AccessDenied") || c.contains("Unauthorized") || c == "Forbidden",
        None => status(&err) == Some(403),
    };
    Failure {
        denied,
        message: sdk_error(step, err).to_string(),
    }
}

/// The finding of a bucket setting that S3 reports with one call (`operation`): a warning with
/// the fix when S3 answers `absent` (its error code, and the message), unchecked when the call
/// fails otherwise, else `judge`'s verdict on the answer.
fn bucket_setting<T, E, R>(
    check: &str,
    url: &str,
    operation: &str,
    answer: std::result::Result<T, SdkError<E, R>>,
    (absent_code, absent): (&str, &str),
    judge: impl FnOnce(T) -> Finding,
) -> Finding
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: HttpStatus + std::fmt::Debug + 'static,
{
    match answer {
        Err(e) if code(&e).as_deref() == Some(absent_code) => {
            Finding::warning(check, url, absent).fix(APPLY)
        }
        Err(e) => Finding::unchecked(check, url, failure(operation, e)),
        Ok(out) => judge(out),
    }
}

/// The newest log folder of one account and region, as found in the bucket.
#[derive(Debug, Clone)]
struct LogFolder {
    account: String,
    region: String,
    /// `yyyy/MM/dd`.
    day: String,
    /// The newest `.json.gz` object in that day's folder.
    newest_key: Option<String>,
}

/// What the bucket's `AWSLogs/` holds, or why it could not be listed.
enum Logs {
    /// The bucket does not exist or cannot be used (already reported).
    NoBucket(String),
    Unlisted(Failure),
    Found(Vec<LogFolder>),
}

impl Logs {
    fn folders(&self) -> &[LogFolder] {
        match self {
            Logs::Found(folders) => folders,
            _ => &[],
        }
    }

    /// The newest log file of all.
    fn newest(&self) -> Option<(&LogFolder, &str)> {
        self.folders()
            .iter()
            .filter_map(|f| f.newest_key.as_deref().map(|k| (f, k)))
            .max_by(|a, b| (&a.0.day, a.1).cmp(&(&b.0.day, b.1)))
    }
}

struct Doctor {
    clients: Clients,
    want: Resolved,
    caller: String,
    now: DateTime<Utc>,
    findings: Vec<Finding>,
}

/// At most this many accounts and regions are walked in the bucket (and pages per listing).
const MAX_ACCOUNTS: usize = 50;
const MAX_REGIONS: usize = 40;
const MAX_PAGES: usize = 20;

impl Doctor {
    fn push(&mut self, finding: Finding) {
        self.findings.push(finding);
    }

    fn bucket_url(&self) -> String {
        format!("s3://{}/", self.want.cfg.bucket)
    }

    fn logs_url(&self) -> String {
        format!(
            "s3://{}/{}AWSLogs/",
            self.want.cfg.bucket,
            self.want.key_prefix()
        )
    }

    // ----- trail -------------------------------------------------------------------------

    async fn trail(&mut self) {
        let name = self.want.cfg.trail.clone();
        let arn = self.want.trail_arn.clone();
        let ct = &self.clients.cloudtrail;
        let answer = ct.get_trail().name(&name).send().await;
        let trail = match tolerate("TrailNotFoundException", "cloudtrail (GetTrail)", answer) {
            Err(e) => {
                self.push(Finding::unchecked("trail", &arn, e));
                self.push(Finding::unchecked(
                    "trail.logging",
                    &arn,
                    "the trail could not be read",
                ));
                return;
            }
            Ok(found) => found.and_then(|out| out.trail().cloned()),
        };
        let Some(trail) = trail else {
            self.push(
                Finding::error(
                    "trail",
                    &arn,
                    format!(
                        "trail {name:?} does not exist (region {}): nothing is being logged",
                        self.want.region
                    ),
                )
                .fix(APPLY),
            );
            self.push(Finding::unchecked(
                "trail.logging",
                &arn,
                "the trail does not exist",
            ));
            return;
        };
        let prefix = trail
            .s3_key_prefix()
            .map(|p| p.trim_matches('/'))
            .filter(|p| !p.is_empty());
        let bucket = trail.s3_bucket_name().unwrap_or("");
        let delivers = format!(
            "s3://{bucket}/{}AWSLogs/",
            prefix.map(|p| format!("{p}/")).unwrap_or_default()
        );
        let finding = if delivers != self.logs_url() {
            Finding::error(
                "trail",
                &arn,
                format!(
                    "trail {name:?} delivers to {delivers}, but this stack's table and checks use \
                     {}",
                    self.logs_url()
                ),
            )
            .fix(format!(
                "{APPLY} (it points the trail at the stack's bucket), or give doctor the trail's \
                 --bucket and --prefix"
            ))
        } else if self.want.cfg.log_file_validation
            && trail.log_file_validation_enabled() != Some(true)
        {
            Finding::warning(
                "trail",
                &arn,
                format!(
                    "trail {name:?} delivers to {delivers}, but log file validation is off: \
                     changed or deleted log files cannot be detected"
                ),
            )
            .fix(APPLY)
        } else {
            let scope = if trail.is_multi_region_trail() == Some(true) {
                "all regions"
            } else {
                "one region"
            };
            Finding::ok(
                "trail",
                &arn,
                format!("trail {name:?} ({scope}) delivers to {delivers}"),
            )
        };
        self.push(finding);

        let answer = self
            .clients
            .cloudtrail
            .get_trail_status()
            .name(&name)
            .send()
            .await;
        let finding = match answer {
            Err(e) => Finding::unchecked(
                "trail.logging",
                &arn,
                failure("cloudtrail (GetTrailStatus)", e),
            ),
            Ok(out) => delivery_finding(
                &name,
                &arn,
                &Delivery {
                    logging: out.is_logging() == Some(true),
                    latest: out.latest_delivery_time().map(|t| t.secs()),
                    error: out.latest_delivery_error().map(str::to_string),
                    stopped: out.stop_logging_time().map(|t| t.secs()),
                },
                self.now.timestamp(),
            ),
        };
        self.push(finding);
    }

    // ----- bucket ------------------------------------------------------------------------

    async fn bucket(&mut self) -> Logs {
        let bucket = self.want.cfg.bucket.clone();
        let url = self.bucket_url();
        let s3 = &self.clients.s3;
        let head = s3.head_bucket().bucket(&bucket).send().await;
        let missing = match head {
            Ok(_) => None,
            Err(e) => {
                let code = status(&e);
                let f = failure("s3 (HeadBucket)", e);
                Some(match code {
                    Some(404) => Finding::error(
                        "bucket",
                        &url,
                        format!("bucket {bucket:?} does not exist: the trail has nowhere to write"),
                    )
                    .fix(APPLY),
                    Some(403) => Finding::error(
                        "bucket",
                        &url,
                        format!(
                            "bucket {bucket:?} exists but {} may not use it (HeadBucket denied): \
                             it belongs to another account, or IAM denies s3:ListBucket",
                            self.caller
                        ),
                    )
                    .fix(format!(
                        "grant {} s3:ListBucket on arn:{}:s3:::{bucket}, or use the bucket \
                         owner's credentials",
                        self.caller, self.want.partition
                    )),
                    Some(301) => Finding::error(
                        "bucket",
                        &url,
                        format!(
                            "bucket {bucket:?} is in another region than {}",
                            self.want.region
                        ),
                    )
                    .fix("run doctor with the bucket's region (--region)"),
                    _ => Finding::unchecked("bucket", &url, f),
                })
            }
        };
        if let Some(finding) = missing {
            let why = format!("bucket {bucket:?} cannot be used");
            self.push(finding);
            for check in [
                "bucket.policy.write",
                "bucket.policy.scope",
                "bucket.policy.tls",
                "bucket.public_access_block",
                "bucket.encryption",
                "bucket.logs",
            ] {
                self.push(Finding::unchecked(check, &url, &why));
            }
            return Logs::NoBucket(why);
        }
        self.push(Finding::ok(
            "bucket",
            &url,
            format!("bucket {bucket:?} exists"),
        ));
        self.policy().await;
        self.public_access_block().await;
        self.encryption().await;
        let logs = self.walk_logs().await;
        let finding = self.logs_finding(&logs);
        self.push(finding);
        logs
    }

    async fn policy(&mut self) {
        let url = self.bucket_url();
        let answer = self
            .clients
            .s3
            .get_bucket_policy()
            .bucket(&self.want.cfg.bucket)
            .send()
            .await;
        let text = match answer {
            Ok(out) => out.policy().map(str::to_string),
            Err(e) if code(&e).as_deref() == Some("NoSuchBucketPolicy") => None,
            Err(e) => {
                let why = failure("s3 (GetBucketPolicy)", e);
                for check in [
                    "bucket.policy.write",
                    "bucket.policy.scope",
                    "bucket.policy.tls",
                ] {
                    self.push(Finding::unchecked(check, &url, &why));
                }
                return;
            }
        };
        let expect = PolicyExpectation::of(&self.want);
        let doc = match text.as_deref().map(super::aws::parse_policy) {
            None => None,
            Some(Some(doc)) => Some(doc),
            Some(None) => {
                self.push(
                    Finding::error(
                        "bucket.policy.write",
                        &url,
                        "the bucket policy is not valid JSON",
                    )
                    .fix(APPLY),
                );
                for check in ["bucket.policy.scope", "bucket.policy.tls"] {
                    self.push(Finding::unchecked(
                        check,
                        &url,
                        "the bucket policy is not valid JSON",
                    ));
                }
                return;
            }
        };
        let findings = analyse_policy(doc.as_ref(), &expect, &url);
        self.findings.extend(findings);
    }

    async fn public_access_block(&mut self) {
        let url = self.bucket_url();
        let answer = self
            .clients
            .s3
            .get_public_access_block()
            .bucket(&self.want.cfg.bucket)
            .send()
            .await;
        const CHECK: &str = "bucket.public_access_block";
        let absent = (
            "NoSuchPublicAccessBlockConfiguration",
            "the bucket has no Block Public Access configuration: a bucket policy or ACL could \
             make the logs public (unless the account blocks public access)",
        );
        let finding = bucket_setting(
            CHECK,
            &url,
            "s3 (GetPublicAccessBlock)",
            answer,
            absent,
            |out| {
                let c = out.public_access_block_configuration();
                let flags = [
                    ("BlockPublicAcls", c.and_then(|c| c.block_public_acls())),
                    ("IgnorePublicAcls", c.and_then(|c| c.ignore_public_acls())),
                    ("BlockPublicPolicy", c.and_then(|c| c.block_public_policy())),
                    (
                        "RestrictPublicBuckets",
                        c.and_then(|c| c.restrict_public_buckets()),
                    ),
                ];
                let off: Vec<&str> = flags
                    .iter()
                    .filter(|(_, on)| *on != Some(true))
                    .map(|(name, _)| *name)
                    .collect();
                if off.is_empty() {
                    Finding::ok(CHECK, &url, "Block Public Access: all four settings on")
                } else {
                    Finding::warning(
                        CHECK,
                        &url,
                        format!(
                            "Block Public Access is partly off ({}): a bucket policy or ACL could \
                             make the logs public",
                            off.join(", ")
                        ),
                    )
                    .fix(APPLY)
                }
            },
        );
        self.push(finding);
    }

    async fn encryption(&mut self) {
        let url = self.bucket_url();
        let answer = self
            .clients
            .s3
            .get_bucket_encryption()
            .bucket(&self.want.cfg.bucket)
            .send()
            .await;
        const CHECK: &str = "bucket.encryption";
        const NONE: &str = "the bucket has no default encryption";
        let absent = ("ServerSideEncryptionConfigurationNotFoundError", NONE);
        let finding = bucket_setting(
            CHECK,
            &url,
            "s3 (GetBucketEncryption)",
            answer,
            absent,
            |out| {
                let by_default = out
                    .server_side_encryption_configuration()
                    .and_then(|c| c.rules().first())
                    .and_then(|r| r.apply_server_side_encryption_by_default());
                let algorithm = by_default.map(|d| d.sse_algorithm().as_str().to_string());
                let key = by_default.and_then(|d| d.kms_master_key_id().map(str::to_string));
                match (&algorithm, &self.want.cfg.kms_key) {
                    (None, _) => Finding::warning(CHECK, &url, NONE).fix(APPLY),
                    (Some(_), Some(want)) if key.as_deref() != Some(want.as_str()) => {
                        Finding::warning(
                            CHECK,
                            &url,
                            format!(
                                "default encryption uses {} (key {}), not the configured KMS key \
                                 {want}",
                                algorithm.as_deref().unwrap_or("none"),
                                key.as_deref().unwrap_or("none")
                            ),
                        )
                        .fix(APPLY)
                    }
                    (Some(a), _) => Finding::ok(
                        CHECK,
                        &url,
                        match &key {
                            Some(k) => format!("default encryption {a} with key {k}"),
                            None => format!("default encryption {a}"),
                        },
                    ),
                }
            },
        );
        self.push(finding);
    }

    // ----- what is in the bucket ---------------------------------------------------------

    /// One listing under `prefix`: the child folder names (with `delimiter`) and the objects.
    async fn list(
        &self,
        prefix: &str,
        delimiter: bool,
    ) -> std::result::Result<(Vec<String>, Vec<String>), Failure> {
        let listing = crate::s3::list::objects(
            &self.clients.s3,
            &self.want.cfg.bucket,
            prefix,
            delimiter,
            Some(MAX_PAGES),
            |e| failure("s3 (ListObjectsV2)", e),
        )
        .await?;
        let folders = listing
            .folders
            .iter()
            .filter_map(|p| {
                p.strip_prefix(prefix)
                    .map(|p| p.trim_end_matches('/').to_string())
            })
            .collect();
        let keys = listing.objects.into_iter().map(|o| o.key).collect();
        Ok((folders, keys))
    }

    async fn folders(&self, prefix: &str) -> std::result::Result<Vec<String>, Failure> {
        Ok(self.list(prefix, true).await?.0)
    }

    /// The newest child folder whose name is `digits` digits long.
    async fn newest_numbered(
        &self,
        prefix: &str,
        digits: usize,
    ) -> std::result::Result<Option<String>, Failure> {
        Ok(self
            .folders(prefix)
            .await?
            .into_iter()
            .filter(|n| n.len() == digits && n.chars().all(|c| c.is_ascii_digit()))
            .max())
    }

    /// Walks `AWSLogs/[<org-id>/]<account>/CloudTrail/<region>/` down to each region's newest
    /// day and its newest log file.
    async fn walk_logs(&self) -> Logs {
        match self.walk_logs_inner().await {
            Ok(found) => Logs::Found(found),
            Err(f) => Logs::Unlisted(f),
        }
    }

    async fn walk_logs_inner(&self) -> std::result::Result<Vec<LogFolder>, Failure> {
        let root = format!("{}AWSLogs/", self.want.key_prefix());
        let is_account = |n: &str| n.len() == 12 && n.chars().all(|c| c.is_ascii_digit());
        let mut accounts: Vec<(String, String)> = Vec::new();
        for child in self.folders(&root).await? {
            if is_account(&child) {
                accounts.push((child.clone(), format!("{root}{child}/")));
            } else if child.starts_with("o-") {
                let org = format!("{root}{child}/");
                for account in self.folders(&org).await? {
                    if is_account(&account) {
                        accounts.push((account.clone(), format!("{org}{account}/")));
                    }
                }
            }
        }
        let mut found = Vec::new();
        for (account, base) in accounts.into_iter().take(MAX_ACCOUNTS) {
            let trail_root = format!("{base}CloudTrail/");
            for region in self
                .folders(&trail_root)
                .await?
                .into_iter()
                .take(MAX_REGIONS)
            {
                let mut folder = format!("{trail_root}{region}/");
                let mut day = Vec::new();
                for digits in [4, 2, 2] {
                    match self.newest_numbered(&folder, digits).await? {
                        Some(part) => {
                            folder.push_str(&part);
                            folder.push('/');
                            day.push(part);
                        }
                        None => break,
                    }
                }
                if day.len() != 3 {
                    continue;
                }
                let (_, keys) = self.list(&folder, true).await?;
                let newest_key = keys.into_iter().filter(|k| k.ends_with(".json.gz")).max();
                found.push(LogFolder {
                    account: account.clone(),
                    region,
                    day: day.join("/"),
                    newest_key,
                });
            }
        }
        Ok(found)
    }

    fn logs_finding(&self, logs: &Logs) -> Finding {
        const CHECK: &str = "bucket.logs";
        let url = self.logs_url();
        match logs {
            Logs::NoBucket(why) => Finding::unchecked(CHECK, &url, why),
            Logs::Unlisted(f) if f.denied => Finding::error(
                CHECK,
                &url,
                format!("{} may not list the log files: {f}", self.caller),
            )
            .fix(self.read_grant()),
            Logs::Unlisted(f) => Finding::unchecked(CHECK, &url, f),
            Logs::Found(folders) if folders.is_empty() => Finding::warning(
                CHECK,
                &url,
                format!("no CloudTrail log files under {url} yet"),
            )
            .fix(
                "CloudTrail delivers within about 15 minutes of StartLogging; if the trail has \
                 logged longer, see trail.logging and bucket.policy.write",
            ),
            Logs::Found(folders) => {
                let accounts: BTreeSet<&str> = folders.iter().map(|f| f.account.as_str()).collect();
                let regions: BTreeSet<&str> = folders.iter().map(|f| f.region.as_str()).collect();
                let newest = folders.iter().map(|f| f.day.as_str()).max().unwrap_or("");
                let summary = format!(
                    "log files of {} account(s) ({}) in {} region(s) ({}); newest day {newest}",
                    accounts.len(),
                    join_capped(&accounts, 5),
                    regions.len(),
                    join_capped(&regions, 8),
                );
                let yesterday = (self.now - Duration::days(1))
                    .format("%Y/%m/%d")
                    .to_string();
                if newest < yesterday.as_str() {
                    Finding::warning(
                        CHECK,
                        &url,
                        format!("{summary}: nothing delivered since that day"),
                    )
                    .fix("see trail.logging: the trail may be stopped or unable to write")
                } else {
                    Finding::ok(CHECK, &url, summary)
                }
            }
        }
    }

    fn read_grant(&self) -> String {
        format!(
            "grant {} s3:ListBucket on arn:{p}:s3:::{b} and s3:GetObject on \
             arn:{p}:s3:::{b}/{k}AWSLogs/* (and kms:Decrypt on the bucket's KMS key if it uses \
             SSE-KMS)",
            self.caller,
            p = self.want.partition,
            b = self.want.cfg.bucket,
            k = self.want.key_prefix()
        )
    }

    // ----- table -------------------------------------------------------------------------

    async fn table(&mut self, logs: &Logs) {
        let database = self.want.cfg.database.clone();
        let name = self.want.cfg.table.clone();
        let subject = format!("{database}.{name}");
        let answer = self
            .clients
            .glue
            .get_table()
            .database_name(&database)
            .name(&name)
            .send()
            .await;
        let checks = [
            "table.format",
            "table.location",
            "table.projection.template",
            "table.projection.range",
        ];
        let table = match answer {
            Ok(out) => out.table().cloned(),
            Err(e) if code(&e).as_deref() == Some("EntityNotFoundException") => None,
            Err(e) => {
                let why = failure("glue (GetTable)", e);
                self.push(Finding::unchecked("table", &subject, &why));
                for check in checks {
                    self.push(Finding::unchecked(
                        check,
                        &subject,
                        "the table could not be read",
                    ));
                }
                return;
            }
        };
        let Some(table) = table else {
            self.push(
                Finding::error(
                    "table",
                    &subject,
                    format!(
                        "Glue table {subject} does not exist (or its database): queries have \
                         nothing to read"
                    ),
                )
                .fix(APPLY),
            );
            for check in checks {
                self.push(Finding::unchecked(
                    check,
                    &subject,
                    "the table does not exist",
                ));
            }
            return;
        };
        self.push(Finding::ok(
            "table",
            &subject,
            format!("Glue table {subject} exists"),
        ));
        let sd = table.storage_descriptor();
        let input = sd.and_then(|s| s.input_format()).unwrap_or("none");
        let serde = sd
            .and_then(|s| s.serde_info())
            .and_then(|s| s.serialization_library())
            .unwrap_or("none");
        self.push(format_finding(&subject, input, serde));

        let location = sd.and_then(|s| s.location()).unwrap_or("").to_string();
        let desired = table_definition(&self.want).ok();
        let finding = self.location_finding(&subject, &location, logs, desired.as_ref());
        self.push(finding);

        let params: BTreeMap<String, String> = table
            .parameters()
            .map(|p| p.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let keys: Vec<String> = table
            .partition_keys()
            .iter()
            .map(|c| c.name().to_string())
            .collect();
        let projection = Projection::read(&keys, &params);
        let files: Vec<String> = logs
            .folders()
            .iter()
            .filter_map(|f| f.newest_key.as_ref())
            .map(|k| format!("s3://{}/{k}", self.want.cfg.bucket))
            .collect();
        let desired_template = desired
            .as_ref()
            .and_then(|d| d.parameters.get("storage.location.template").cloned());
        self.push(template_finding(
            &subject,
            &projection,
            &files,
            desired_template.as_deref(),
            self.now.naive_utc(),
        ));
        self.push(range_finding(&subject, &projection, self.now.naive_utc()));
    }

    fn location_finding(
        &self,
        subject: &str,
        location: &str,
        logs: &Logs,
        desired: Option<&super::ddl::TableDefinition>,
    ) -> Finding {
        const CHECK: &str = "table.location";
        let folder = if location.ends_with('/') {
            location.to_string()
        } else {
            format!("{location}/")
        };
        let files: Vec<String> = logs
            .folders()
            .iter()
            .filter_map(|f| f.newest_key.as_ref())
            .map(|k| format!("s3://{}/{k}", self.want.cfg.bucket))
            .collect();
        if location.is_empty() {
            return Finding::error(CHECK, subject, "the table has no location").fix(APPLY);
        }
        if files.is_empty() {
            return match desired {
                Some(d) if d.location != location => Finding::warning(
                    CHECK,
                    subject,
                    format!(
                        "location {location} differs from this stack's {} (no log files yet to \
                         compare with)",
                        d.location
                    ),
                )
                .fix(APPLY),
                _ => Finding::unchecked(
                    CHECK,
                    subject,
                    format!("no log files yet to compare location {location} with"),
                ),
            };
        }
        let outside: Vec<&String> = files.iter().filter(|f| !f.starts_with(&folder)).collect();
        if outside.is_empty() {
            Finding::ok(
                CHECK,
                subject,
                format!("location {location} holds the log files"),
            )
        } else {
            Finding::error(
                CHECK,
                subject,
                format!(
                    "location {location} does not hold the log files (e.g. {})",
                    outside[0]
                ),
            )
            .fix(APPLY)
        }
    }

    // ----- workgroup ---------------------------------------------------------------------

    async fn workgroup(&mut self) {
        let name = self.want.cfg.workgroup.clone();
        const CHECK: &str = "workgroup";
        let answer = self
            .clients
            .athena
            .get_work_group()
            .work_group(&name)
            .send()
            .await;
        let group = match answer {
            Ok(out) => out.work_group().cloned(),
            // Athena's answer for a missing workgroup
            Err(e) if code(&e).as_deref() == Some("InvalidRequestException") => None,
            Err(e) => {
                let f = failure("athena (GetWorkGroup)", e);
                self.push(Finding::unchecked(CHECK, &name, f));
                return;
            }
        };
        let Some(group) = group else {
            self.push(
                Finding::error(
                    CHECK,
                    &name,
                    format!("Athena workgroup {name:?} does not exist"),
                )
                .fix(APPLY),
            );
            return;
        };
        let config = group.configuration();
        let output = config
            .and_then(|c| c.result_configuration())
            .and_then(|r| r.output_location())
            .filter(|o| !o.is_empty());
        let enforced = config
            .and_then(|c| c.enforce_work_group_configuration())
            .unwrap_or(false);
        let disabled = group
            .state()
            .is_some_and(|s| *s == aws_sdk_athena::types::WorkGroupState::Disabled);
        let finding = if disabled {
            Finding::error(CHECK, &name, format!("workgroup {name:?} is disabled")).fix(format!(
                "aws athena update-work-group --work-group {name} --state ENABLED"
            ))
        } else {
            match output {
                None => Finding::error(
                    CHECK,
                    &name,
                    format!(
                        "workgroup {name:?} has no query result location: every query fails \
                         unless it names one"
                    ),
                )
                .fix(format!(
                    "{APPLY} (it sets {} and enforces it), or pass --output-location to every \
                     query",
                    self.want.results
                )),
                Some(out) => Finding::ok(
                    CHECK,
                    &name,
                    if enforced {
                        format!("results go to {out} (enforced)")
                    } else {
                        format!("results go to {out} (not enforced: a query may write elsewhere)")
                    },
                ),
            }
        };
        self.push(finding);
    }

    // ----- can the caller read the logs --------------------------------------------------

    async fn read(&mut self, logs: &Logs) {
        const CHECK: &str = "read";
        let subject = self.caller.clone();
        let finding = match logs {
            Logs::NoBucket(why) => Finding::unchecked(CHECK, &subject, why),
            Logs::Unlisted(f) if f.denied => Finding::error(
                CHECK,
                &subject,
                format!("{} cannot read the logs: {f}", self.caller),
            )
            .fix(self.read_grant()),
            Logs::Unlisted(f) => Finding::unchecked(CHECK, &subject, f),
            Logs::Found(_) => match logs.newest() {
                None => {
                    Finding::unchecked(CHECK, &subject, "no log file in the bucket to read yet")
                }
                Some((_, key)) => self.read_one(key).await,
            },
        };
        self.push(finding);
    }

    async fn read_one(&self, key: &str) -> Finding {
        const CHECK: &str = "read";
        let url = format!("s3://{}/{key}", self.want.cfg.bucket);
        let answer = self
            .clients
            .s3
            .get_object()
            .bucket(&self.want.cfg.bucket)
            .key(key)
            .range("bytes=0-1")
            .send()
            .await;
        let out = match answer {
            Ok(out) => out,
            Err(e) => {
                let f = failure("s3 (GetObject)", e);
                return if f.denied {
                    Finding::error(
                        CHECK,
                        &self.caller,
                        format!("{} cannot read the log file {url}: {f}", self.caller),
                    )
                    .fix(self.read_grant())
                } else {
                    Finding::unchecked(CHECK, &self.caller, f)
                };
            }
        };
        match out.body.collect().await.map(|b| b.into_bytes()) {
            Err(e) => Finding::unchecked(
                CHECK,
                &self.caller,
                format!("reading {url} failed: {}", crate::aws::error_chain(&e)),
            ),
            Ok(bytes) if bytes.starts_with(&[0x1f, 0x8b]) => Finding::ok(
                CHECK,
                &self.caller,
                format!("read the newest log file, {url}"),
            ),
            Ok(_) => Finding::warning(
                CHECK,
                &self.caller,
                format!("{url} is readable but not gzip-compressed: not a CloudTrail log file"),
            )
            .fix("remove files that are not CloudTrail's from the AWSLogs/ folders"),
        }
    }
}

fn join_capped(items: &BTreeSet<&str>, cap: usize) -> String {
    let mut shown: Vec<&str> = items.iter().take(cap).copied().collect();
    if items.len() > cap {
        shown.push("...");
    }
    shown.join(", ")
}

// ----- trail status ----------------------------------------------------------------------

/// What GetTrailStatus says about delivery (times in seconds since the epoch).
struct Delivery {
    logging: bool,
    latest: Option<i64>,
    error: Option<String>,
    stopped: Option<i64>,
}

fn when(secs: i64, now: i64) -> String {
    let at = DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%SZ").to_string())
        .unwrap_or_else(|| secs.to_string());
    let ago = (now - secs).max(0);
    let span = if ago < 120 {
        format!("{ago} s")
    } else if ago < 7200 {
        format!("{} min", ago / 60)
    } else if ago < 172_800 {
        format!("{} h", ago / 3600)
    } else {
        format!("{} days", ago / 86_400)
    };
    format!("{at} ({span} ago)")
}

fn delivery_finding(name: &str, arn: &str, d: &Delivery, now: i64) -> Finding {
    const CHECK: &str = "trail.logging";
    if !d.logging {
        let since = d
            .stopped
            .map(|t| format!(" since {}", when(t, now)))
            .unwrap_or_default();
        return Finding::error(
            CHECK,
            arn,
            format!("trail {name:?} is not logging{since}: no API activity is being recorded"),
        )
        .fix(format!(
            "{APPLY} (it starts logging), or `aws cloudtrail start-logging --name {name}`"
        ));
    }
    if let Some(error) = d.error.as_deref().filter(|e| !e.is_empty()) {
        return Finding::error(
            CHECK,
            arn,
            format!("trail {name:?} is logging, but its last delivery to S3 failed: {error}"),
        )
        .fix(format!(
            "{APPLY}: it writes the bucket policy CloudTrail needs (for SSE-KMS, the key policy \
             must also let cloudtrail.amazonaws.com use the key)"
        ));
    }
    match d.latest {
        None => Finding::warning(
            CHECK,
            arn,
            format!(
                "trail {name:?} is logging but has not delivered a log file yet (the first \
                 arrives within about 15 minutes)"
            ),
        )
        .fix("wait a quarter of an hour and run doctor again; then see bucket.policy.write"),
        Some(latest) if now - latest > STALE_DELIVERY_SECS => Finding::warning(
            CHECK,
            arn,
            format!(
                "trail {name:?} is logging, but its last delivery was at {}: CloudTrail delivers \
                 about every 5 minutes while there is activity",
                when(latest, now)
            ),
        )
        .fix(format!(
            "check LatestDeliveryError in `aws cloudtrail get-trail-status --name {name}`; an \
             idle account has nothing to deliver"
        )),
        Some(latest) => Finding::ok(
            CHECK,
            arn,
            format!(
                "trail {name:?} is logging; last delivery at {}",
                when(latest, now)
            ),
        ),
    }
}

// ----- bucket policy ---------------------------------------------------------------------

/// What the bucket policy must allow: CloudTrail checking the bucket ACL and writing a log file
/// of this trail (sample object ARNs under each place it writes).
struct PolicyExpectation {
    bucket_arn: String,
    log_objects: Vec<String>,
    trail_arn: String,
    account: String,
    /// Where the logs go, for messages: `arn:aws:s3:::bucket/[prefix/]AWSLogs/<account>/`.
    logs_arn: String,
}

impl PolicyExpectation {
    fn of(want: &Resolved) -> Self {
        let bucket_arn = format!("arn:{}:s3:::{}", want.partition, want.cfg.bucket);
        let logs = format!("{bucket_arn}/{}AWSLogs", want.key_prefix());
        let file = format!(
            "CloudTrail/{r}/2024/01/01/{a}_CloudTrail_{r}_20240101T0000Z_doctor.json.gz",
            r = want.region,
            a = want.account
        );
        let mut log_objects = vec![format!("{logs}/{}/{file}", want.account)];
        if let (true, Some(org)) = (want.cfg.organization, &want.cfg.org_id) {
            log_objects = vec![format!("{logs}/{org}/{}/{file}", want.account)];
        }
        PolicyExpectation {
            logs_arn: format!("{logs}/{}/", want.account),
            bucket_arn,
            log_objects,
            trail_arn: want.trail_arn.clone(),
            account: want.account.clone(),
        }
    }
}

/// IAM-style wildcard match: `*` any run of characters, `?` one character.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // matched[j]: the pattern so far matches text[..j]
    let mut matched = vec![false; t.len() + 1];
    matched[0] = true;
    for &pc in &p {
        let mut next = vec![false; t.len() + 1];
        if pc == '*' {
            let mut any = false;
            for j in 0..=t.len() {
                any |= matched[j];
                next[j] = any;
            }
        } else {
            for j in 0..t.len() {
                next[j + 1] = matched[j] && (pc == '?' || pc == t[j]);
            }
        }
        matched = next;
    }
    matched[t.len()]
}

fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        Some(Value::Bool(b)) => vec![b.to_string()],
        _ => Vec::new(),
    }
}

/// One statement of a policy, as doctor reads it.
struct Statement<'a> {
    sid: String,
    allow: bool,
    /// `Principal: "*"` or `{"AWS": "*"}`.
    anyone: bool,
    cloudtrail: bool,
    actions: Vec<String>,
    resources: Vec<String>,
    condition: Option<&'a serde_json::Map<String, Value>>,
}

impl<'a> Statement<'a> {
    fn read(index: usize, s: &'a Value) -> Self {
        let principal = s.get("Principal");
        let anyone = principal.is_some_and(|p| {
            p.as_str() == Some("*") || strings(p.get("AWS")).iter().any(|a| a == "*")
        });
        let cloudtrail = principal.is_some_and(|p| {
            strings(p.get("Service"))
                .iter()
                .any(|s| s == "cloudtrail.amazonaws.com")
        });
        Statement {
            sid: s
                .get("Sid")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| format!("#{}", index + 1)),
            allow: s.get("Effect").and_then(Value::as_str) == Some("Allow"),
            anyone,
            cloudtrail,
            actions: strings(s.get("Action")),
            resources: strings(s.get("Resource")),
            condition: s.get("Condition").and_then(Value::as_object),
        }
    }

    fn covers(&self, action: &str, resource: &str) -> bool {
        self.actions
            .iter()
            .any(|a| glob(&a.to_ascii_lowercase(), &action.to_ascii_lowercase()))
            && self.resources.iter().any(|r| glob(r, resource))
    }

    /// The values of every condition on `key`, with their operator (`StringEquals`, ...).
    fn conditions_on(&self, key: &str) -> Vec<(String, Vec<String>)> {
        let Some(condition) = self.condition else {
            return Vec::new();
        };
        condition
            .iter()
            .filter_map(|(operator, block)| {
                let block = block.as_object()?;
                let values = block
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(key))
                    .map(|(_, v)| strings(Some(v)))?;
                Some((operator.clone(), values))
            })
            .collect()
    }

    /// Whether the conditions on `key` (if any) admit `actual`.
    fn admits(&self, key: &str, actual: &str) -> bool {
        self.conditions_on(key)
            .iter()
            .all(|(operator, values)| condition_admits(operator, values, actual))
    }
}

fn condition_admits(operator: &str, values: &[String], actual: &str) -> bool {
    let op = operator
        .trim_start_matches("ForAnyValue:")
        .trim_start_matches("ForAllValues:")
        .trim_end_matches("IfExists");
    match op {
        "StringEquals" | "ArnEquals" => values.iter().any(|v| v == actual),
        "StringEqualsIgnoreCase" => values.iter().any(|v| v.eq_ignore_ascii_case(actual)),
        "StringLike" | "ArnLike" => values.iter().any(|v| glob(v, actual)),
        "StringNotEquals" | "ArnNotEquals" => values.iter().all(|v| v != actual),
        "StringNotLike" | "ArnNotLike" => values.iter().all(|v| !glob(v, actual)),
        // An operator doctor does not evaluate: not counted as admitting.
        _ => false,
    }
}

/// The three policy findings: CloudTrail may write this trail's logs; only this trail may;
/// requests without TLS are denied.
fn analyse_policy(doc: Option<&Value>, expect: &PolicyExpectation, url: &str) -> Vec<Finding> {
    let Some(doc) = doc else {
        return vec![
            Finding::error(
                "bucket.policy.write",
                url,
                "the bucket has no policy: CloudTrail may not write into it",
            )
            .fix(APPLY),
            Finding::ok(
                "bucket.policy.scope",
                url,
                "no policy statement lets anyone else write",
            ),
            Finding::warning(
                "bucket.policy.tls",
                url,
                "no policy statement denies requests without TLS",
            )
            .fix(APPLY),
        ];
    };
    let list: Vec<&Value> = match doc.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(single @ Value::Object(_)) => vec![single],
        _ => Vec::new(),
    };
    let statements: Vec<Statement> = list
        .iter()
        .enumerate()
        .map(|(i, s)| Statement::read(i, s))
        .collect();

    // May CloudTrail write a log file of this trail, and check the bucket ACL?
    let for_this_trail = |s: &Statement| {
        s.admits("aws:SourceArn", &expect.trail_arn)
            && s.admits("aws:SourceAccount", &expect.account)
    };
    let grants = |action: &str, resource: &str| {
        let allowed = statements
            .iter()
            .any(|s| s.allow && s.cloudtrail && s.covers(action, resource) && for_this_trail(s));
        let denied = statements
            .iter()
            .any(|s| !s.allow && s.condition.is_none() && s.covers(action, resource));
        allowed && !denied
    };
    let mut missing = Vec::new();
    if !grants("s3:GetBucketAcl", &expect.bucket_arn) {
        missing.push(format!("s3:GetBucketAcl on {}", expect.bucket_arn));
    }
    if !expect.log_objects.iter().all(|o| grants("s3:PutObject", o)) {
        missing.push(format!("s3:PutObject on {}*", expect.logs_arn));
    }
    let write = if missing.is_empty() {
        Finding::ok(
            "bucket.policy.write",
            url,
            format!(
                "CloudTrail may write the logs of {} to {}",
                expect.trail_arn, expect.logs_arn
            ),
        )
    } else {
        Finding::error(
            "bucket.policy.write",
            url,
            format!(
                "the bucket policy does not let CloudTrail (cloudtrail.amazonaws.com, for {}) \
                 do {}: deliveries fail",
                expect.trail_arn,
                missing.join(" and ")
            ),
        )
        .fix(APPLY)
    };

    // Who else may write into the bucket?
    let mut worst = Severity::Ok;
    let mut problems = Vec::new();
    let mut foreign = false;
    for s in &statements {
        if !s.allow || !(s.cloudtrail || s.anyone) {
            continue;
        }
        let writes = s
            .actions
            .iter()
            .any(|a| glob(&a.to_ascii_lowercase(), "s3:putobject"))
            && s.resources.iter().any(|r| {
                glob(r, &format!("{}/x", expect.bucket_arn)) || r.starts_with(&expect.bucket_arn)
            });
        if !writes {
            continue;
        }
        let who = if s.anyone { "anyone" } else { "CloudTrail" };
        let arns = s.conditions_on("aws:SourceArn");
        let accounts = s.conditions_on("aws:SourceAccount");
        let exact_arn = !arns.is_empty()
            && arns
                .iter()
                .all(|(op, _)| op.starts_with("StringEquals") || op.starts_with("ArnEquals"))
            && arns
                .iter()
                .all(|(_, values)| values.iter().all(|v| v == &expect.trail_arn));
        let (severity, problem) = if exact_arn {
            continue;
        } else if !arns.is_empty() {
            let values: Vec<String> = arns.iter().flat_map(|(_, v)| v.clone()).collect();
            (
                Severity::Warning,
                format!(
                    "statement {} lets {who} write for other trails too (aws:SourceArn {})",
                    s.sid,
                    values.join(", ")
                ),
            )
        } else if !accounts.is_empty() {
            let values: Vec<String> = accounts.iter().flat_map(|(_, v)| v.clone()).collect();
            (
                Severity::Warning,
                format!(
                    "statement {} lets {who} write for any trail of account {} (no \
                     aws:SourceArn condition; AWS recommends one)",
                    s.sid,
                    values.join(", ")
                ),
            )
        } else {
            (
                Severity::Error,
                format!(
                    "statement {} lets {who} write into the bucket for any trail of any account \
                     (no aws:SourceArn or aws:SourceAccount condition): others' logs could be \
                     mixed with yours",
                    s.sid
                ),
            )
        };
        foreign |= !s.sid.starts_with(SID_PREFIX);
        worst = worst.max(severity);
        problems.push(problem);
    }
    let scope = if problems.is_empty() {
        Finding::ok(
            "bucket.policy.scope",
            url,
            format!("only {} may write logs into the bucket", expect.trail_arn),
        )
    } else {
        let fix = if foreign {
            format!(
                "remove those statements, or add \"Condition\": {{\"StringEquals\": \
                 {{\"aws:SourceArn\": \"{}\"}}}} to them; `spintrail provision apply` writes \
                 its own scoped statements but keeps statements it did not write",
                expect.trail_arn
            )
        } else {
            APPLY.to_string()
        };
        Finding::new("bucket.policy.scope", url, worst, problems.join("; ")).fix(fix)
    };

    // Are requests without TLS denied?
    let object = expect.log_objects[0].clone();
    let denies_plain = statements.iter().any(|s| {
        !s.allow
            && s.covers("s3:GetObject", &object)
            && s.conditions_on("aws:SecureTransport")
                .iter()
                .any(|(op, values)| op == "Bool" && values.iter().any(|v| v == "false"))
    });
    let tls = if denies_plain {
        Finding::ok("bucket.policy.tls", url, "requests without TLS are denied")
    } else {
        Finding::warning(
            "bucket.policy.tls",
            url,
            "no policy statement denies requests without TLS (aws:SecureTransport = false)",
        )
        .fix(APPLY)
    };
    vec![write, scope, tls]
}

// ----- table -----------------------------------------------------------------------------

fn format_finding(subject: &str, input: &str, serde: &str) -> Finding {
    const CHECK: &str = "table.format";
    let readable_serde = serde == SERDE || serde == CLOUDTRAIL_SERDE;
    if input != INPUT_FORMAT || !readable_serde {
        Finding::error(
            CHECK,
            subject,
            format!(
                "input format {input} with SerDe {serde} cannot read CloudTrail's files (they \
                 need {INPUT_FORMAT}, which unwraps the Records array, and {SERDE})"
            ),
        )
        .fix(APPLY)
    } else if serde == CLOUDTRAIL_SERDE {
        Finding::warning(
            CHECK,
            subject,
            format!(
                "SerDe {CLOUDTRAIL_SERDE} (the CloudTrail console's) does not read fields added \
                 since 2023; the Athena user guide now uses {SERDE}"
            ),
        )
        .fix(APPLY)
    } else {
        Finding::ok(CHECK, subject, format!("{INPUT_FORMAT} with {SERDE}"))
    }
}

/// A Java date format of a `date` projection (`yyyy/MM/dd`), as a pattern and a parser.
#[derive(Debug, Clone)]
struct DateFormat {
    /// The format as given.
    text: String,
    /// Anchored pattern of a whole value.
    pattern: String,
    /// Per capture group, its field letter (`y`, `M`, `d`, `H`, `m`, `s`).
    fields: Vec<char>,
}

impl DateFormat {
    /// Only numeric fields are understood; anything else is `None` (reported as unchecked).
    fn parse(format: &str) -> Option<Self> {
        let chars: Vec<char> = format.chars().collect();
        let mut pattern = String::new();
        let mut fields = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let mut run = 1;
            while i + run < chars.len() && chars[i + run] == c {
                run += 1;
            }
            if c.is_ascii_alphabetic() {
                // MMM and longer are month names, not numbers.
                if !matches!(c, 'y' | 'M' | 'd' | 'H' | 'm' | 's') || (c == 'M' && run > 2) {
                    return None;
                }
                pattern.push_str(&format!("(\\d{{{run}}})"));
                fields.push(c);
            } else if c == '\'' {
                return None;
            } else {
                pattern.push_str(&regex::escape(&c.to_string().repeat(run)));
            }
            i += run;
        }
        Some(DateFormat {
            text: format.to_string(),
            pattern,
            fields,
        })
    }

    fn value(&self, text: &str) -> Option<NaiveDateTime> {
        let re = Regex::new(&format!("^{}$", self.pattern)).ok()?;
        let caps = re.captures(text)?;
        let (mut y, mut mo, mut d, mut h, mut mi, mut s) = (1970, 1, 1, 0, 0, 0);
        for (i, field) in self.fields.iter().enumerate() {
            let n: u32 = caps.get(i + 1)?.as_str().parse().ok()?;
            match field {
                'y' => y = i32::try_from(n).ok()?,
                'M' => mo = n,
                'd' => d = n,
                'H' => h = n,
                'm' => mi = n,
                _ => s = n,
            }
        }
        NaiveDate::from_ymd_opt(y, mo, d)?.and_hms_opt(h, mi, s)
    }

    /// `at`, cut to the format's precision (today's partition of a `yyyy/MM/dd` column is
    /// today's midnight).
    fn truncate(&self, at: NaiveDateTime) -> Option<NaiveDateTime> {
        let has = |c| self.fields.contains(&c);
        let date = NaiveDate::from_ymd_opt(
            at.year(),
            if has('M') { at.month() } else { 1 },
            if has('d') { at.day() } else { 1 },
        )?;
        date.and_hms_opt(
            if has('H') { at.hour() } else { 0 },
            if has('m') { at.minute() } else { 0 },
            if has('s') { at.second() } else { 0 },
        )
    }

    fn show(&self, at: NaiveDateTime) -> String {
        let mut out = self.text.clone();
        for (letters, value) in [
            ("yyyy", format!("{:04}", at.year())),
            ("MM", format!("{:02}", at.month())),
            ("dd", format!("{:02}", at.day())),
            ("HH", format!("{:02}", at.hour())),
            ("mm", format!("{:02}", at.minute())),
            ("ss", format!("{:02}", at.second())),
        ] {
            out = out.replace(letters, &value);
        }
        out
    }

    /// One end of a range: a formatted date, `NOW`, or `NOW±<n><unit>`.
    fn bound(&self, text: &str, now: NaiveDateTime) -> Option<NaiveDateTime> {
        let text = text.trim();
        let relative = Regex::new(
            r"(?i)^NOW\s*(?:([+-])\s*(\d+)\s*(YEAR|MONTH|WEEK|DAY|HOUR|MINUTE|SECOND)S?)?$",
        )
        .ok()?;
        let Some(caps) = relative.captures(text) else {
            return self.value(text);
        };
        let mut at = now;
        if let (Some(sign), Some(n), Some(unit)) = (caps.get(1), caps.get(2), caps.get(3)) {
            let n: i64 = n.as_str().parse().ok()?;
            let n = if sign.as_str() == "-" { -n } else { n };
            at = match unit.as_str().to_ascii_uppercase().as_str() {
                "YEAR" => at.with_year(at.year() + i32::try_from(n).ok()?)?,
                "MONTH" => {
                    let months = i64::from(at.year()) * 12 + i64::from(at.month0()) + n;
                    let year = i32::try_from(months.div_euclid(12)).ok()?;
                    let month = u32::try_from(months.rem_euclid(12)).ok()? + 1;
                    NaiveDate::from_ymd_opt(year, month, at.day().min(28))?.and_time(at.time())
                }
                "WEEK" => at + Duration::weeks(n),
                "DAY" => at + Duration::days(n),
                "HOUR" => at + Duration::hours(n),
                "MINUTE" => at + Duration::minutes(n),
                _ => at + Duration::seconds(n),
            };
        }
        self.truncate(at)
    }
}

/// How one partition column is projected.
#[derive(Debug, Clone)]
enum Projected {
    Enum(Vec<String>),
    Date {
        format: Option<DateFormat>,
        range: String,
    },
    Integer(Option<(i64, i64)>),
    Injected,
    /// A type doctor does not evaluate, or none given.
    Other,
}

/// A table's partition projection, read from its parameters.
#[derive(Debug, Clone)]
struct Projection {
    keys: Vec<String>,
    enabled: bool,
    columns: BTreeMap<String, Projected>,
    template: Option<String>,
}

impl Projection {
    fn read(keys: &[String], params: &BTreeMap<String, String>) -> Self {
        let get = |k: String| params.get(&k).cloned();
        let columns = keys
            .iter()
            .map(|key| {
                let setting = |s: &str| get(format!("projection.{key}.{s}"));
                let projected = match setting("type").as_deref() {
                    Some("enum") => Projected::Enum(
                        setting("values")
                            .unwrap_or_default()
                            .split(',')
                            .map(|v| v.trim().to_string())
                            .filter(|v| !v.is_empty())
                            .collect(),
                    ),
                    Some("date") => Projected::Date {
                        format: setting("format").and_then(|f| DateFormat::parse(&f)),
                        range: setting("range").unwrap_or_default(),
                    },
                    Some("integer") => Projected::Integer(setting("range").and_then(|r| {
                        let (a, b) = r.split_once(',')?;
                        Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
                    })),
                    Some("injected") => Projected::Injected,
                    _ => Projected::Other,
                };
                (key.clone(), projected)
            })
            .collect();
        Projection {
            keys: keys.to_vec(),
            enabled: params
                .get("projection.enabled")
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
            columns,
            template: get("storage.location.template".into()),
        }
    }

    /// The template as an anchored pattern, with the column of each capture group.
    fn template_pattern(&self) -> Option<(Regex, Vec<String>)> {
        let template = self.template.as_ref()?;
        let var = Regex::new(r"\$\{([^}]+)\}").ok()?;
        let mut pattern = String::from("^");
        let mut names = Vec::new();
        let mut last = 0;
        for caps in var.captures_iter(template) {
            let whole = caps.get(0)?;
            let name = caps.get(1)?.as_str().to_string();
            pattern.push_str(&regex::escape(&template[last..whole.start()]));
            let part = match self.columns.get(&name) {
                Some(Projected::Date {
                    format: Some(f), ..
                }) => f.pattern.clone(),
                _ => "([^/]+)".to_string(),
            };
            // Date formats have groups per field: wrap the whole value in one outer group.
            pattern.push_str(&format!("(?P<v{}>{})", names.len(), part));
            names.push(name);
            last = whole.end();
        }
        pattern.push_str(&regex::escape(&template[last..]));
        Some((Regex::new(&pattern).ok()?, names))
    }

    /// Why `value` of `column` is outside the projection (`None`: inside).
    fn outside(&self, column: &str, value: &str, now: NaiveDateTime) -> Option<String> {
        match self.columns.get(column)? {
            Projected::Enum(values) => (!values.iter().any(|v| v == value))
                .then(|| format!("{column} {value} is not in projection.{column}.values")),
            Projected::Date {
                format: Some(f),
                range,
            } => {
                let at = f.value(value)?;
                let (start, end) = range.split_once(',')?;
                let (start, end) = (f.bound(start, now)?, f.bound(end, now)?);
                (at < start || at > end).then(|| {
                    format!("{column} {value} is outside projection.{column}.range ({range})")
                })
            }
            Projected::Integer(Some((low, high))) => {
                let n: i64 = value.parse().ok()?;
                (n < *low || n > *high).then(|| {
                    format!("{column} {value} is outside projection.{column}.range ({low},{high})")
                })
            }
            _ => None,
        }
    }
}

fn template_finding(
    subject: &str,
    projection: &Projection,
    files: &[String],
    desired: Option<&str>,
    now: NaiveDateTime,
) -> Finding {
    const CHECK: &str = "table.projection.template";
    if projection.keys.is_empty() {
        return Finding::ok(
            CHECK,
            subject,
            "the table is not partitioned: every query reads every file under its location",
        );
    }
    if !projection.enabled {
        return Finding::unchecked(
            CHECK,
            subject,
            "partition projection is off (partitions are registered one by one); doctor does \
             not list registered partitions",
        );
    }
    let Some(template) = projection.template.as_deref() else {
        return Finding::error(
            CHECK,
            subject,
            "partition projection without storage.location.template: Athena looks for \
             key=value/ folders, which CloudTrail does not write",
        )
        .fix(APPLY);
    };
    if files.is_empty() {
        return match desired {
            Some(d) if d != template => Finding::warning(
                CHECK,
                subject,
                format!(
                    "storage.location.template {template} differs from this stack's {d} (no log \
                     files yet to compare with)"
                ),
            )
            .fix(APPLY),
            _ => Finding::unchecked(
                CHECK,
                subject,
                format!("no log files yet to compare storage.location.template {template} with"),
            ),
        };
    }
    let Some((pattern, names)) = projection.template_pattern() else {
        return Finding::unchecked(
            CHECK,
            subject,
            format!("storage.location.template {template} could not be read"),
        );
    };
    let mut problems = Vec::new();
    for file in files {
        let folder = file.rsplit_once('/').map(|(f, _)| f).unwrap_or(file);
        let Some(caps) = pattern.captures(file) else {
            problems.push(format!("{folder}/ does not match the template"));
            continue;
        };
        let end = caps.get(0).map_or(0, |m| m.end());
        let rest = &file[end..];
        if !(rest.starts_with('/') || template.ends_with('/')) {
            problems.push(format!("{folder}/ does not match the template"));
            continue;
        }
        for (i, name) in names.iter().enumerate() {
            let Some(value) = caps.name(&format!("v{i}")) else {
                continue;
            };
            if let Some(why) = projection.outside(name, value.as_str(), now) {
                problems.push(format!("{why} (files in {folder}/)"));
            }
        }
    }
    if problems.is_empty() {
        Finding::ok(
            CHECK,
            subject,
            format!(
                "storage.location.template {template} points at the log files ({} folder(s) \
                 checked, each inside the projection)",
                files.len()
            ),
        )
    } else {
        let total = problems.len();
        problems.truncate(4);
        if total > 4 {
            problems.push(format!("and {} more", total - 4));
        }
        Finding::error(
            CHECK,
            subject,
            format!(
                "queries miss log files: storage.location.template {template}: {}",
                problems.join("; ")
            ),
        )
        .fix(format!(
            "{APPLY}; for accounts or regions not projected, add them with --account / \
             --projection-region"
        ))
    }
}

/// Whether today's partition is inside every date projection's range.
fn range_finding(subject: &str, projection: &Projection, now: NaiveDateTime) -> Finding {
    const CHECK: &str = "table.projection.range";
    if !projection.enabled {
        return Finding::unchecked(CHECK, subject, "partition projection is off");
    }
    let dates: Vec<(&String, &Option<DateFormat>, &String)> = projection
        .columns
        .iter()
        .filter_map(|(k, p)| match p {
            Projected::Date { format, range } => Some((k, format, range)),
            _ => None,
        })
        .collect();
    if dates.is_empty() {
        return Finding::unchecked(CHECK, subject, "the table has no date partition");
    }
    let mut problems = Vec::new();
    let mut fine = Vec::new();
    for (column, format, range) in dates {
        let Some(format) = format else {
            return Finding::unchecked(
                CHECK,
                subject,
                format!("projection.{column}.format is not a numeric date format"),
            );
        };
        let bounds = range
            .split_once(',')
            .and_then(|(a, b)| Some((format.bound(a, now)?, format.bound(b, now)?)));
        let Some((start, end)) = bounds else {
            return Finding::unchecked(
                CHECK,
                subject,
                format!("projection.{column}.range {range:?} could not be read"),
            );
        };
        let Some(today) = format.truncate(now) else {
            continue;
        };
        let shown = format.show(today);
        if today > end {
            problems.push(format!(
                "projection.{column}.range ({range}) ends at {}, before today ({shown}): queries \
                 for newer days find nothing",
                format.show(end)
            ));
        } else if today < start {
            problems.push(format!(
                "projection.{column}.range ({range}) starts at {}, after today ({shown})",
                format.show(start)
            ));
        } else {
            fine.push(format!("{column} {range}"));
        }
    }
    if problems.is_empty() {
        Finding::ok(
            CHECK,
            subject,
            format!(
                "today's partition is inside the projection ({})",
                fine.join(", ")
            ),
        )
    } else {
        Finding::error(CHECK, subject, problems.join("; "))
            .fix(format!("{APPLY} (it projects up to NOW)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provision::StackConfig;
    use serde_json::json;

    fn want() -> Resolved {
        let cfg = StackConfig {
            bucket: "logs-bucket".into(),
            ..StackConfig::default()
        };
        Resolved::new(cfg, "eu-west-1".into(), "111122223333".into()).unwrap()
    }

    fn by_check(findings: &[Finding]) -> BTreeMap<&str, &Finding> {
        findings.iter().map(|f| (f.check.as_str(), f)).collect()
    }

    #[test]
    fn glob_matches_like_iam() {
        assert!(glob("arn:aws:s3:::b/*", "arn:aws:s3:::b/AWSLogs/1/x"));
        assert!(glob("s3:*", "s3:putobject"));
        assert!(glob("*", ""));
        assert!(glob("a?c", "abc"));
        assert!(!glob(
            "arn:aws:s3:::b/AWSLogs/2/*",
            "arn:aws:s3:::b/AWSLogs/1/x"
        ));
        assert!(!glob("abc", "abcd"));
    }

    #[test]
    fn spintrails_own_policy_passes() {
        let want = want();
        let doc = json!({"Version": "2012-10-17", "Statement": super::super::bucket::policy_statements(&want)});
        let findings = analyse_policy(Some(&doc), &PolicyExpectation::of(&want), "s3://b/");
        assert!(
            findings.iter().all(|f| f.severity == Severity::Ok),
            "{findings:?}"
        );
    }

    #[test]
    fn any_trail_and_other_trail_policies_are_reported() {
        let want = want();
        let expect = PolicyExpectation::of(&want);
        let open = json!({"Statement": [
            {"Sid": "AWSCloudTrailAclCheck", "Effect": "Allow",
             "Principal": {"Service": "cloudtrail.amazonaws.com"},
             "Action": "s3:GetBucketAcl", "Resource": "arn:aws:s3:::logs-bucket"},
            {"Sid": "AWSCloudTrailWrite", "Effect": "Allow",
             "Principal": {"Service": ["cloudtrail.amazonaws.com"]},
             "Action": "s3:PutObject", "Resource": "arn:aws:s3:::logs-bucket/*"}
        ]});
        let f = analyse_policy(Some(&open), &expect, "s3://b/");
        let f = by_check(&f);
        assert_eq!(f["bucket.policy.write"].severity, Severity::Ok);
        assert_eq!(f["bucket.policy.scope"].severity, Severity::Error);
        assert!(f["bucket.policy.scope"]
            .message
            .contains("AWSCloudTrailWrite"));
        assert!(f["bucket.policy.scope"]
            .fix
            .as_deref()
            .unwrap()
            .contains("remove"));
        assert_eq!(f["bucket.policy.tls"].severity, Severity::Warning);

        let other = json!({"Statement": [
            {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
             "Action": ["s3:PutObject", "s3:GetBucketAcl"],
             "Resource": ["arn:aws:s3:::logs-bucket", "arn:aws:s3:::logs-bucket/*"],
             "Condition": {"StringEquals": {
                 "aws:SourceArn": "arn:aws:cloudtrail:eu-west-1:111122223333:trail/other"}}}
        ]});
        let f = analyse_policy(Some(&other), &expect, "s3://b/");
        let f = by_check(&f);
        assert_eq!(f["bucket.policy.write"].severity, Severity::Error);
        assert!(f["bucket.policy.write"].message.contains("s3:PutObject"));
        assert_eq!(f["bucket.policy.scope"].severity, Severity::Warning);

        let account_only = json!({"Statement": [
            {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
             "Action": ["s3:PutObject", "s3:GetBucketAcl"],
             "Resource": ["arn:aws:s3:::logs-bucket", "arn:aws:s3:::logs-bucket/AWSLogs/111122223333/*"],
             "Condition": {"StringEquals": {"aws:SourceAccount": "111122223333"}}}
        ]});
        let f = analyse_policy(Some(&account_only), &expect, "s3://b/");
        let f = by_check(&f);
        assert_eq!(f["bucket.policy.write"].severity, Severity::Ok);
        assert_eq!(f["bucket.policy.scope"].severity, Severity::Warning);

        let none = analyse_policy(None, &expect, "s3://b/");
        assert_eq!(
            by_check(&none)["bucket.policy.write"].severity,
            Severity::Error
        );
    }

    #[test]
    fn delivery_states() {
        let now = 1_800_000_000;
        let d = |logging, latest, error: Option<&str>| Delivery {
            logging,
            latest,
            error: error.map(str::to_string),
            stopped: None,
        };
        let sev = |d: Delivery| delivery_finding("t", "arn", &d, now).severity;
        assert_eq!(sev(d(true, Some(now - 300), None)), Severity::Ok);
        assert_eq!(sev(d(true, Some(now - 7200), None)), Severity::Warning);
        assert_eq!(sev(d(true, None, None)), Severity::Warning);
        assert_eq!(sev(d(false, Some(now - 10), None)), Severity::Error);
        assert_eq!(
            sev(d(true, Some(now - 10), Some("AccessDenied"))),
            Severity::Error
        );
    }

    fn projection(range: &str) -> Projection {
        let want = want();
        let mut def = table_definition(&want).unwrap();
        def.parameters
            .insert("projection.day.range".into(), range.into());
        let keys: Vec<String> = def.partition_keys.iter().map(|(k, _)| k.clone()).collect();
        Projection::read(&keys, &def.parameters)
    }

    #[test]
    fn template_matches_files_and_checks_projection() {
        let p = projection("2024/01/01,NOW");
        let now = Utc::now().naive_utc();
        let today = Utc::now().format("%Y/%m/%d");
        let file =
            format!("s3://logs-bucket/AWSLogs/111122223333/CloudTrail/eu-west-1/{today}/x.json.gz");
        let ok = template_finding("t", &p, std::slice::from_ref(&file), None, now);
        assert_eq!(ok.severity, Severity::Ok, "{ok:?}");
        let stranger =
            format!("s3://logs-bucket/AWSLogs/999999999999/CloudTrail/eu-west-1/{today}/x.json.gz");
        let bad = template_finding("t", &p, &[stranger], None, now);
        assert_eq!(bad.severity, Severity::Error);
        assert!(bad.message.contains("account 999999999999"), "{bad:?}");
        let elsewhere = "s3://other/AWSLogs/111122223333/CloudTrail/eu-west-1/2024/01/02/x.json.gz";
        let bad = template_finding("t", &p, &[elsewhere.to_string()], None, now);
        assert!(bad.message.contains("does not match"), "{bad:?}");

        assert_eq!(range_finding("t", &p, now).severity, Severity::Ok);
        let ended = projection("2024/01/01,2024/06/30");
        let f = range_finding("t", &ended, now);
        assert_eq!(f.severity, Severity::Error);
        assert!(f.message.contains("before today"), "{f:?}");
        let f = template_finding("t", &ended, &[file], None, now);
        assert!(f.message.contains("outside projection.day.range"), "{f:?}");
        let relative = projection("NOW-30DAYS,NOW+1DAYS");
        assert_eq!(range_finding("t", &relative, now).severity, Severity::Ok);
    }

    #[test]
    fn date_formats() {
        let f = DateFormat::parse("yyyy/MM/dd").unwrap();
        let at = f.value("2026/12/02").unwrap();
        assert_eq!(f.show(at), "2026/12/02");
        let y = DateFormat::parse("yyyy").unwrap();
        assert_eq!(y.value("2026").unwrap().month(), 1);
        assert!(DateFormat::parse("yyyy-MMM").is_none());
        let now = f.value("2026/03/31").unwrap();
        assert_eq!(f.show(f.bound("NOW-1MONTHS", now).unwrap()), "2026/02/28");
    }
}
