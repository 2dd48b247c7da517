//! The log bucket: created or reused, Block Public Access, default encryption, optional expiry,
//! and the bucket policy CloudTrail needs (written before CreateTrail, which checks it).

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, BucketLocationConstraint, CreateBucketConfiguration, Delete,
    ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleFilter, ObjectIdentifier,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, Tag, Tagging,
};
use serde_json::{json, Value};
use std::future::Future;

use super::aws::{aws_error, code, sdk_error, status, tolerate};
use super::config::Resolved;
use super::resource::{Found, Removable, Removal, Resource};
use super::{Action, Change, Ctx};
use crate::{Error, Result};

/// Statement ids spintrail owns in a bucket policy; other statements are left as they are.
pub(crate) const SID_PREFIX: &str = "Spintrail";
const LIFECYCLE_RULE_ID: &str = "spintrail-expire-logs";

/// The bucket policy statements spintrail manages: CloudTrail may check the ACL and write only
/// for this trail (`aws:SourceArn`) with `bucket-owner-full-control`; requests without TLS are
/// denied.
pub(crate) fn policy_statements(want: &Resolved) -> Vec<Value> {
    let bucket_arn = format!("arn:{}:s3:::{}", want.partition, want.cfg.bucket);
    let logs = format!("{bucket_arn}/{}AWSLogs", want.key_prefix());
    let mut write: Vec<String> = vec![format!("{logs}/{}/*", want.account)];
    if let (true, Some(org)) = (want.cfg.organization, &want.cfg.org_id) {
        write.push(format!("{logs}/{org}/*"));
    }
    let write_resource = if write.len() == 1 {
        json!(write[0])
    } else {
        json!(write)
    };
    vec![
        json!({
            "Sid": "SpintrailCloudTrailAclCheck",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:GetBucketAcl",
            "Resource": bucket_arn,
            "Condition": {"StringEquals": {"aws:SourceArn": want.trail_arn}},
        }),
        json!({
            "Sid": "SpintrailCloudTrailWrite",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": write_resource,
            "Condition": {"StringEquals": {
                "s3:x-amz-acl": "bucket-owner-full-control",
                "aws:SourceArn": want.trail_arn,
            }},
        }),
        json!({
            "Sid": "SpintrailDenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn.clone(), format!("{bucket_arn}/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }),
    ]
}

fn is_ours(statement: &Value) -> bool {
    statement
        .get("Sid")
        .and_then(Value::as_str)
        .is_some_and(|sid| sid.starts_with(SID_PREFIX))
}

/// The policy to write: the existing document's other statements, then spintrail's.
/// `None` when the existing policy already holds exactly spintrail's statements.
pub(crate) fn merge_policy(existing: Option<&str>, ours: Vec<Value>) -> Result<Option<Value>> {
    let existing: Option<Value> = match existing {
        None => None,
        Some(text) => Some(super::aws::parse_policy(text).ok_or_else(|| {
            aws_error(
                "s3 bucket policy",
                "the bucket's current policy is not valid JSON; fix or delete it, then apply again",
            )
        })?),
    };
    let statements: Vec<Value> = match existing.as_ref().and_then(|p| p.get("Statement")) {
        Some(Value::Array(list)) => list.clone(),
        Some(single @ Value::Object(_)) => vec![single.clone()],
        _ => Vec::new(),
    };
    let current_ours: Vec<&Value> = statements.iter().filter(|s| is_ours(s)).collect();
    if current_ours.len() == ours.len() && current_ours.iter().zip(&ours).all(|(a, b)| *a == b) {
        return Ok(None);
    }
    let mut merged: Vec<Value> = statements.into_iter().filter(|s| !is_ours(s)).collect();
    merged.extend(ours);
    let mut doc = existing.unwrap_or_else(|| json!({}));
    if let Value::Object(map) = &mut doc {
        map.insert("Version".into(), json!("2012-10-17"));
        map.insert("Statement".into(), Value::Array(merged));
    }
    Ok(Some(doc))
}

/// Reads a setting of the log bucket with `get`, once the bucket exists (a plan before it does
/// reads nothing); `None` when S3 answers `missing`: the bucket has no such setting.
async fn read_setting<'a, T, E, R, F>(
    ctx: &'a Ctx,
    step: &str,
    missing: &str,
    get: impl FnOnce(&'a aws_sdk_s3::Client, &'a str) -> F,
) -> Result<Option<T>>
where
    F: Future<Output = std::result::Result<T, SdkError<E, R>>>,
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: crate::aws::HttpStatus + std::fmt::Debug + 'static,
{
    if !ctx.bucket_exists {
        return Ok(None);
    }
    let answer = get(&ctx.clients.s3, &ctx.want.cfg.bucket).await;
    tolerate(missing, step, answer)
}

/// The log bucket, created when absent and reused when it is the caller's.
pub(crate) struct LogBucket {
    name: String,
    region: String,
    /// Destroy deletes the bucket and its objects only when asked.
    delete_data: bool,
}

impl LogBucket {
    /// Whether the bucket exists and is the caller's; errors for another account's or region's.
    async fn exists(&self, ctx: &Ctx) -> Result<bool> {
        let bucket = &self.name;
        match ctx.clients.s3.head_bucket().bucket(bucket).send().await {
            Ok(_) => Ok(true),
            Err(e) => match status(&e) {
                Some(404) => Ok(false),
                Some(403) => Err(aws_error(
                    Self::KIND,
                    format!(
                        "bucket {bucket:?} exists but is not accessible to this identity: it \
                         belongs to another account (bucket names are global) or access is \
                         denied. Choose another bucket name (--bucket), or use credentials of its \
                         owner"
                    ),
                )),
                Some(301) => Err(aws_error(
                    Self::KIND,
                    format!(
                        "bucket {bucket:?} exists in another region than {}; use that region or \
                         another bucket name",
                        self.region
                    ),
                )),
                _ => Err(sdk_error(&format!("s3 bucket {bucket:?} (HeadBucket)"), e)),
            },
        }
    }

    /// Deletes every object, then the bucket; returns how many objects there were.
    async fn delete_with_objects(&self, ctx: &Ctx) -> Result<usize> {
        let s3 = &ctx.clients.s3;
        let name = &self.name;
        let step = "s3 bucket (emptying before DeleteBucket)";
        let mut deleted = 0usize;
        loop {
            // The first page only: its objects are deleted before the next listing.
            let page =
                crate::s3::list::objects(s3, name, "", false, Some(1), |e| sdk_error(step, e))
                    .await?;
            let ids = page
                .objects
                .iter()
                .map(|o| ObjectIdentifier::builder().key(&o.key).build())
                .collect::<std::result::Result<Vec<_>, _>>()?;
            if ids.is_empty() {
                break;
            }
            let count = ids.len();
            let out = s3
                .delete_objects()
                .bucket(name)
                .delete(Delete::builder().set_objects(Some(ids)).build()?)
                .send()
                .await
                .map_err(|e| sdk_error(step, e))?;
            if let Some(failed) = out.errors().first() {
                return Err(aws_error(
                    step,
                    format!(
                        "could not delete {}: {}; {deleted} objects were deleted, the bucket is \
                         kept",
                        failed.key().unwrap_or("an object"),
                        failed.message().unwrap_or("no reason given")
                    ),
                ));
            }
            if out.deleted().is_empty() {
                return Err(aws_error(
                    step,
                    format!("DeleteObjects deleted none of {count} objects; the bucket is kept"),
                ));
            }
            deleted += out.deleted().len();
        }
        s3.delete_bucket()
            .bucket(name)
            .send()
            .await
            .map_err(|e| sdk_error("s3 bucket (DeleteBucket)", e))?;
        Ok(deleted)
    }
}

impl Resource for LogBucket {
    type State = ();
    const KIND: &'static str = "s3 bucket";

    fn desired(ctx: &Ctx) -> Result<Self> {
        Ok(LogBucket {
            name: ctx.want.cfg.bucket.clone(),
            region: ctx.want.region.clone(),
            delete_data: ctx.delete_data,
        })
    }

    fn name(&self) -> &str {
        &self.name
    }

    async fn read(&self, ctx: &Ctx) -> Result<Option<Found<()>>> {
        if !self.exists(ctx).await? {
            return Ok(None);
        }
        let answer = ctx
            .clients
            .s3
            .get_bucket_tagging()
            .bucket(&self.name)
            .send()
            .await;
        let tags = tolerate("NoSuchTagSet", "s3 bucket (GetBucketTagging)", answer)?;
        let ours =
            tags.is_some_and(|out| ctx.is_ours(out.tag_set().iter().map(|t| (t.key(), t.value()))));
        Ok(Some(Found { state: (), ours }))
    }

    fn note(&self, ours: bool) -> Option<&'static str> {
        Some(if ours {
            "created by this stack"
        } else {
            "existing bucket reused (not created by spintrail; destroy never deletes it)"
        })
    }

    /// The bucket's settings are read only once it exists (plan mode skips a missing one).
    fn observe(&self, ctx: &mut Ctx, found: Option<&Found<()>>) {
        ctx.bucket_exists = found.is_some();
    }

    async fn create(&self, ctx: &mut Ctx) -> Result<()> {
        let name = &self.name;
        let mut create = ctx.clients.s3.create_bucket().bucket(name);
        if self.region != "us-east-1" {
            create = create.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(self.region.as_str()))
                    .build(),
            );
        }
        match create.send().await {
            Ok(_) => {}
            Err(e) if code(&e).as_deref() == Some("BucketAlreadyOwnedByYou") => {}
            Err(e) if code(&e).as_deref() == Some("BucketAlreadyExists") => {
                return Err(aws_error(
                    "s3 bucket (CreateBucket)",
                    format!(
                        "bucket name {name:?} is taken by another account (bucket names are \
                         global); choose another --bucket name"
                    ),
                ))
            }
            Err(e) => return Err(sdk_error("s3 bucket (CreateBucket)", e)),
        }
        // A new bucket can take a moment to be visible everywhere.
        for _ in 0..20 {
            if self.exists(ctx).await? {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        ctx.bucket_exists = true;
        let tags = ctx
            .managed_tags()
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect::<std::result::Result<Vec<_>, _>>()?;
        ctx.clients
            .s3
            .put_bucket_tagging()
            .bucket(name)
            .tagging(Tagging::builder().set_tag_set(Some(tags)).build()?)
            .send()
            .await
            .map_err(|e| match sdk_error("s3 bucket (PutBucketTagging)", e) {
                // S3 cannot create a bucket and its tags in one call: say what is left.
                Error::Aws { step, message } => aws_error(
                    step,
                    format!(
                        "{message}. Bucket {name:?} was created but is not tagged as this \
                         stack's: the next apply reuses it as a bucket spintrail did not create \
                         (destroy never deletes it). To make it this stack's, tag it {}=true \
                         and {}={} first",
                        super::MANAGED_TAG,
                        super::STACK_TAG,
                        ctx.want.cfg.name
                    ),
                ),
                other => other,
            })?;
        Ok(())
    }
}

impl Removable for LogBucket {
    async fn delete(&self, ctx: &Ctx, _have: &()) -> Result<Removal> {
        if !self.delete_data {
            return Ok(Removal::Kept(
                "the log bucket and its objects are kept (pass --delete-bucket to delete them)",
            ));
        }
        let deleted = self.delete_with_objects(ctx).await?;
        Ok(Removal::Deleted(vec![format!(
            "deleted with its {deleted} objects"
        )]))
    }
}

/// Block Public Access: all four flags on.
pub(crate) struct PublicAccessBlock {
    bucket: String,
}

impl Resource for PublicAccessBlock {
    /// The four flags: BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy,
    /// RestrictPublicBuckets.
    type State = [(&'static str, Option<bool>); 4];
    const KIND: &'static str = "s3 public access block";

    fn desired(ctx: &Ctx) -> Result<Self> {
        Ok(PublicAccessBlock {
            bucket: ctx.want.cfg.bucket.clone(),
        })
    }

    fn name(&self) -> &str {
        &self.bucket
    }

    async fn read(&self, ctx: &Ctx) -> Result<Option<Found<Self::State>>> {
        let found = read_setting(
            ctx,
            "s3 public access block (Get)",
            "NoSuchPublicAccessBlockConfiguration",
            |s3, b| s3.get_public_access_block().bucket(b).send(),
        )
        .await?;
        Ok(found.map(|out| {
            let c = out.public_access_block_configuration();
            Found::ours([
                ("BlockPublicAcls", c.and_then(|c| c.block_public_acls())),
                ("IgnorePublicAcls", c.and_then(|c| c.ignore_public_acls())),
                ("BlockPublicPolicy", c.and_then(|c| c.block_public_policy())),
                (
                    "RestrictPublicBuckets",
                    c.and_then(|c| c.restrict_public_buckets()),
                ),
            ])
        }))
    }

    fn diff(&self, have: &Self::State) -> Result<Vec<String>> {
        Ok(have
            .iter()
            .filter(|(_, value)| *value != Some(true))
            .map(|(flag, value)| format!("{flag}: {value:?} -> true"))
            .collect())
    }

    async fn create(&self, ctx: &mut Ctx) -> Result<()> {
        ctx.clients
            .s3
            .put_public_access_block()
            .bucket(&self.bucket)
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .ignore_public_acls(true)
                    .block_public_policy(true)
                    .restrict_public_buckets(true)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| sdk_error("s3 public access block (PutPublicAccessBlock)", e))?;
        Ok(())
    }
}

/// Default encryption: SSE-KMS with the configured key, else SSE-S3.
pub(crate) struct Encryption {
    bucket: String,
    kms_key: Option<String>,
}

impl Encryption {
    fn algorithm(&self) -> ServerSideEncryption {
        if self.kms_key.is_some() {
            ServerSideEncryption::AwsKms
        } else {
            ServerSideEncryption::Aes256
        }
    }
}

impl Resource for Encryption {
    /// The default algorithm and KMS key.
    type State = (Option<ServerSideEncryption>, Option<String>);
    const KIND: &'static str = "s3 default encryption";

    fn desired(ctx: &Ctx) -> Result<Self> {
        Ok(Encryption {
            bucket: ctx.want.cfg.bucket.clone(),
            kms_key: ctx.want.cfg.kms_key.clone(),
        })
    }

    fn name(&self) -> &str {
        &self.bucket
    }

    async fn read(&self, ctx: &Ctx) -> Result<Option<Found<Self::State>>> {
        let found = read_setting(
            ctx,
            "s3 default encryption (GetBucketEncryption)",
            "ServerSideEncryptionConfigurationNotFoundError",
            |s3, b| s3.get_bucket_encryption().bucket(b).send(),
        )
        .await?;
        Ok(found.map(|out| {
            let by_default = out
                .server_side_encryption_configuration()
                .and_then(|c| c.rules().first())
                .and_then(|r| r.apply_server_side_encryption_by_default());
            Found::ours((
                by_default.map(|d| d.sse_algorithm().clone()),
                by_default.and_then(|d| d.kms_master_key_id().map(str::to_string)),
            ))
        }))
    }

    fn diff(&self, (algorithm, key): &Self::State) -> Result<Vec<String>> {
        let want = self.algorithm();
        let mut details = Vec::new();
        if algorithm.as_ref() != Some(&want) {
            details.push(format!(
                "algorithm: {} -> {}",
                algorithm.as_ref().map(|a| a.as_str()).unwrap_or("none"),
                want.as_str()
            ));
        }
        if self.kms_key.is_some() && *key != self.kms_key {
            details.push(format!(
                "KMS key: {} -> {}",
                key.as_deref().unwrap_or("none"),
                self.kms_key.as_deref().unwrap_or("none")
            ));
        }
        Ok(details)
    }

    async fn create(&self, ctx: &mut Ctx) -> Result<()> {
        let by_default = ServerSideEncryptionByDefault::builder()
            .sse_algorithm(self.algorithm())
            .set_kms_master_key_id(self.kms_key.clone())
            .build()?;
        let rule = ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(by_default)
            .bucket_key_enabled(self.kms_key.is_some())
            .build();
        ctx.clients
            .s3
            .put_bucket_encryption()
            .bucket(&self.bucket)
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder()
                    .rules(rule)
                    .build()?,
            )
            .send()
            .await
            .map_err(|e| sdk_error("s3 default encryption (PutBucketEncryption)", e))?;
        Ok(())
    }
}

/// The optional expiry of log objects: one lifecycle rule of spintrail's beside any others.
pub(crate) struct Lifecycle {
    bucket: String,
    days: Option<i32>,
    /// The rule's filter: `[prefix/]AWSLogs/`.
    logs_prefix: String,
}

/// The bucket's lifecycle rules: the expiry of spintrail's rule, and the others, kept as they are.
pub(crate) struct LifecycleRules {
    days: Option<i32>,
    others: Vec<LifecycleRule>,
}

impl Lifecycle {
    /// Writes the other rules and spintrail's (or removes the configuration when none remain).
    async fn write(&self, ctx: &Ctx, others: &[LifecycleRule]) -> Result<()> {
        let mut rules = others.to_vec();
        if let Some(days) = self.days {
            rules.push(
                LifecycleRule::builder()
                    .id(LIFECYCLE_RULE_ID)
                    .status(ExpirationStatus::Enabled)
                    .filter(
                        LifecycleRuleFilter::builder()
                            .prefix(&self.logs_prefix)
                            .build(),
                    )
                    .expiration(LifecycleExpiration::builder().days(days).build())
                    .build()?,
            );
        }
        let step = "s3 lifecycle (PutBucketLifecycleConfiguration)";
        let s3 = &ctx.clients.s3;
        if rules.is_empty() {
            s3.delete_bucket_lifecycle()
                .bucket(&self.bucket)
                .send()
                .await
                .map_err(|e| sdk_error(step, e))?;
        } else {
            s3.put_bucket_lifecycle_configuration()
                .bucket(&self.bucket)
                .lifecycle_configuration(
                    BucketLifecycleConfiguration::builder()
                        .set_rules(Some(rules))
                        .build()?,
                )
                .send()
                .await
                .map_err(|e| sdk_error(step, e))?;
        }
        Ok(())
    }
}

impl Resource for Lifecycle {
    type State = LifecycleRules;
    const KIND: &'static str = "s3 lifecycle expiry";

    fn desired(ctx: &Ctx) -> Result<Self> {
        Ok(Lifecycle {
            bucket: ctx.want.cfg.bucket.clone(),
            days: ctx
                .want
                .cfg
                .expire_days
                .map(|d| i32::try_from(d).unwrap_or(i32::MAX)),
            logs_prefix: format!("{}AWSLogs/", ctx.want.key_prefix()),
        })
    }

    fn name(&self) -> &str {
        &self.bucket
    }

    async fn read(&self, ctx: &Ctx) -> Result<Option<Found<LifecycleRules>>> {
        let found = read_setting(
            ctx,
            "s3 lifecycle (GetBucketLifecycleConfiguration)",
            "NoSuchLifecycleConfiguration",
            |s3, b| s3.get_bucket_lifecycle_configuration().bucket(b).send(),
        )
        .await?;
        Ok(found.map(|out| {
            let (ours, others): (Vec<&LifecycleRule>, Vec<&LifecycleRule>) = out
                .rules()
                .iter()
                .partition(|r| r.id() == Some(LIFECYCLE_RULE_ID));
            Found::ours(LifecycleRules {
                days: ours
                    .last()
                    .and_then(|r| r.expiration())
                    .and_then(|e| e.days()),
                others: others.into_iter().cloned().collect(),
            })
        }))
    }

    /// Expiry can be added, changed or removed, and the line always says what it is.
    fn plan(&self, _ctx: &Ctx, found: Option<&Found<LifecycleRules>>) -> Result<Change> {
        let current = found.and_then(|f| f.state.days);
        let action = match (current, self.days) {
            (None, None) => Action::NoChange,
            (None, Some(_)) => Action::Create,
            (Some(_), None) => Action::Delete,
            (Some(a), Some(b)) if a == b => Action::NoChange,
            (Some(_), Some(_)) => Action::Update,
        };
        let detail = match (current, self.days) {
            (None, None) => "no expiry (logs kept until deleted)".to_string(),
            (a, b) => format!(
                "expire AWSLogs objects after: {} -> {} days",
                a.map(|d| d.to_string()).unwrap_or("never".into()),
                b.map(|d| d.to_string()).unwrap_or("never".into())
            ),
        };
        Ok(Change::new(Self::KIND, self.bucket.clone(), action).with(vec![detail]))
    }

    async fn create(&self, ctx: &mut Ctx) -> Result<()> {
        self.write(ctx, &[]).await
    }

    async fn update(&self, ctx: &mut Ctx, have: &LifecycleRules) -> Result<()> {
        self.write(ctx, &have.others).await
    }
}

/// spintrail's statements in the bucket policy (written before CreateTrail, which checks them).
pub(crate) struct BucketPolicy {
    bucket: String,
    statements: Vec<Value>,
}

impl BucketPolicy {
    /// Writes the policy merged from `existing` and spintrail's statements, if that differs.
    async fn write(&self, ctx: &Ctx, existing: Option<&str>) -> Result<()> {
        let Some(document) = merge_policy(existing, self.statements.clone())? else {
            return Ok(());
        };
        ctx.clients
            .s3
            .put_bucket_policy()
            .bucket(&self.bucket)
            .policy(document.to_string())
            .send()
            .await
            .map_err(|e| sdk_error("s3 bucket policy (PutBucketPolicy)", e))?;
        Ok(())
    }
}

impl Resource for BucketPolicy {
    /// The policy document as the bucket has it.
    type State = String;
    const KIND: &'static str = "s3 bucket policy";

    fn desired(ctx: &Ctx) -> Result<Self> {
        Ok(BucketPolicy {
            bucket: ctx.want.cfg.bucket.clone(),
            statements: policy_statements(&ctx.want),
        })
    }

    fn name(&self) -> &str {
        &self.bucket
    }

    async fn read(&self, ctx: &Ctx) -> Result<Option<Found<String>>> {
        let found = read_setting(
            ctx,
            "s3 bucket policy (GetBucketPolicy)",
            "NoSuchBucketPolicy",
            |s3, b| s3.get_bucket_policy().bucket(b).send(),
        )
        .await?;
        Ok(found
            .and_then(|out| out.policy().map(str::to_string))
            .map(Found::ours))
    }

    fn diff(&self, have: &String) -> Result<Vec<String>> {
        let merged = merge_policy(Some(have), self.statements.clone())?;
        Ok(merged
            .map(|_| {
                "spintrail's statements (CloudTrail write for this trail only, deny without TLS) \
                 differ; other statements are kept"
                    .to_string()
            })
            .into_iter()
            .collect())
    }

    async fn create(&self, ctx: &mut Ctx) -> Result<()> {
        self.write(ctx, None).await
    }

    async fn update(&self, ctx: &mut Ctx, have: &String) -> Result<()> {
        self.write(ctx, Some(have)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provision::StackConfig;

    fn want(org: bool) -> Resolved {
        let mut cfg = StackConfig {
            bucket: "logs-bucket".into(),
            prefix: Some("ct".into()),
            ..StackConfig::default()
        };
        if org {
            cfg.organization = true;
            cfg.org_id = Some("o-abcdefghij".into());
        }
        Resolved::new(cfg, "us-west-2".into(), "111122223333".into()).unwrap()
    }

    #[test]
    fn policy_limits_writes_to_this_trail() {
        let s = policy_statements(&want(false));
        let arn = "arn:aws:cloudtrail:us-west-2:111122223333:trail/spintrail";
        assert_eq!(s[0]["Condition"]["StringEquals"]["aws:SourceArn"], arn);
        assert_eq!(
            s[1]["Resource"],
            "arn:aws:s3:::logs-bucket/ct/AWSLogs/111122223333/*"
        );
        assert_eq!(
            s[1]["Condition"]["StringEquals"]["s3:x-amz-acl"],
            "bucket-owner-full-control"
        );
        assert_eq!(s[2]["Effect"], "Deny");
        assert_eq!(s[2]["Condition"]["Bool"]["aws:SecureTransport"], "false");
        let org = policy_statements(&want(true));
        assert_eq!(
            org[1]["Resource"][1],
            "arn:aws:s3:::logs-bucket/ct/AWSLogs/o-abcdefghij/*"
        );
    }

    #[test]
    fn merge_keeps_foreign_statements_and_is_idempotent() {
        let ours = policy_statements(&want(false));
        let foreign = json!({"Version": "2012-10-17", "Statement": [
            {"Sid": "Theirs", "Effect": "Allow", "Principal": {"AWS": "x"}, "Action": "s3:GetObject",
             "Resource": "arn:aws:s3:::logs-bucket/*"}
        ]});
        let merged = merge_policy(Some(&foreign.to_string()), ours.clone())
            .unwrap()
            .unwrap();
        let list = merged["Statement"].as_array().unwrap();
        assert_eq!(list.len(), 4);
        assert_eq!(list[0]["Sid"], "Theirs");
        assert_eq!(
            merge_policy(Some(&merged.to_string()), ours.clone()).unwrap(),
            None
        );
        assert!(merge_policy(None, ours).unwrap().is_some());
        assert!(merge_policy(Some("{not json"), vec![]).is_err());
    }
}
