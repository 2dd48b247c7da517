//! The log bucket: created or reused, Block Public Access, default encryption, optional expiry,
//! and the bucket policy CloudTrail needs (written before CreateTrail, which checks it).

use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, BucketLocationConstraint, CreateBucketConfiguration, Delete,
    ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleFilter, ObjectIdentifier,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule, Tag, Tagging,
};
use serde_json::{json, Value};

use super::aws::{code, sdk_error, status};
use super::config::Resolved;
use super::{Action, Change, Ctx};
use crate::{Error, Result};

/// Statement ids spintrail owns in a bucket policy; other statements are left as they are.
const SID_PREFIX: &str = "Spintrail";
const LIFECYCLE_RULE_ID: &str = "spintrail-expire-logs";

fn aws_error(step: &str, message: String) -> Error {
    Error::Aws {
        step: step.into(),
        message,
    }
}

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
                "the bucket's current policy is not valid JSON; fix or delete it, then apply again"
                    .into(),
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

fn tag(key: &str, value: &str) -> Result<Tag> {
    Ok(Tag::builder().key(key).value(value).build()?)
}

async fn bucket_tags(ctx: &Ctx) -> Result<Vec<(String, String)>> {
    let bucket = &ctx.want.cfg.bucket;
    match ctx
        .clients
        .s3
        .get_bucket_tagging()
        .bucket(bucket)
        .send()
        .await
    {
        Ok(out) => Ok(out
            .tag_set()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect()),
        Err(e) if code(&e).as_deref() == Some("NoSuchTagSet") => Ok(Vec::new()),
        Err(e) => Err(sdk_error("s3 bucket (GetBucketTagging)", e)),
    }
}

/// Whether the bucket exists and is the caller's; errors for another account's or region's.
async fn head(ctx: &Ctx) -> Result<bool> {
    let bucket = &ctx.want.cfg.bucket;
    match ctx.clients.s3.head_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(true),
        Err(e) => match status(&e) {
            Some(404) => Ok(false),
            Some(403) => Err(aws_error(
                "s3 bucket",
                format!(
                    "bucket {bucket:?} exists but is not accessible to this identity: it belongs \
                     to another account (bucket names are global) or access is denied. Choose \
                     another bucket name (--bucket), or use credentials of its owner"
                ),
            )),
            Some(301) => Err(aws_error(
                "s3 bucket",
                format!(
                    "bucket {bucket:?} exists in another region than {}; use that region or \
                     another bucket name",
                    ctx.want.region
                ),
            )),
            _ => Err(sdk_error("s3 bucket (HeadBucket)", e)),
        },
    }
}

pub(crate) async fn bucket(ctx: &mut Ctx) -> Result<Change> {
    const KIND: &str = "s3 bucket";
    let name = ctx.want.cfg.bucket.clone();
    if head(ctx).await? {
        ctx.bucket_exists = true;
        let tags = bucket_tags(ctx).await?;
        let note = if ctx.is_ours(tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
            "created by this stack"
        } else {
            "existing bucket reused (not created by spintrail; destroy never deletes it)"
        };
        return Ok(Change::new(KIND, name, Action::NoChange).with(vec![note.into()]));
    }
    if !ctx.apply {
        return Ok(Change::new(KIND, name, Action::Create));
    }
    let mut create = ctx.clients.s3.create_bucket().bucket(&name);
    if ctx.want.region != "us-east-1" {
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(ctx.want.region.as_str()))
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
                    "bucket name {name:?} is taken by another account (bucket names are global); \
                     choose another --bucket name"
                ),
            ))
        }
        Err(e) => return Err(sdk_error("s3 bucket (CreateBucket)", e)),
    }
    // A new bucket can take a moment to be visible everywhere.
    for _ in 0..20 {
        if head(ctx).await? {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    ctx.bucket_exists = true;
    let tags = ctx
        .managed_tags()
        .iter()
        .map(|(k, v)| tag(k, v))
        .collect::<Result<Vec<_>>>()?;
    ctx.clients
        .s3
        .put_bucket_tagging()
        .bucket(&name)
        .tagging(Tagging::builder().set_tag_set(Some(tags)).build()?)
        .send()
        .await
        .map_err(|e| sdk_error("s3 bucket (PutBucketTagging)", e))?;
    Ok(Change::new(KIND, name, Action::Create))
}

pub(crate) async fn public_access_block(ctx: &Ctx) -> Result<Change> {
    const KIND: &str = "s3 public access block";
    let name = ctx.want.cfg.bucket.clone();
    let mut details = Vec::new();
    let mut exists = false;
    if ctx.bucket_exists {
        match ctx
            .clients
            .s3
            .get_public_access_block()
            .bucket(&name)
            .send()
            .await
        {
            Ok(out) => {
                exists = true;
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
                for (flag, value) in flags {
                    if value != Some(true) {
                        details.push(format!("{flag}: {value:?} -> true"));
                    }
                }
            }
            Err(e) if code(&e).as_deref() == Some("NoSuchPublicAccessBlockConfiguration") => {}
            Err(e) => return Err(sdk_error("s3 public access block (Get)", e)),
        }
    }
    let change = Change::diff(KIND, name.clone(), exists, details);
    if ctx.apply && change.changes() {
        ctx.clients
            .s3
            .put_public_access_block()
            .bucket(&name)
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
    }
    Ok(change)
}

pub(crate) async fn encryption(ctx: &Ctx) -> Result<Change> {
    const KIND: &str = "s3 default encryption";
    let name = ctx.want.cfg.bucket.clone();
    let kms = ctx.want.cfg.kms_key.clone();
    let want_algorithm = if kms.is_some() {
        ServerSideEncryption::AwsKms
    } else {
        ServerSideEncryption::Aes256
    };
    let mut details = Vec::new();
    let mut exists = false;
    if ctx.bucket_exists {
        match ctx
            .clients
            .s3
            .get_bucket_encryption()
            .bucket(&name)
            .send()
            .await
        {
            Ok(out) => {
                exists = true;
                let by_default = out
                    .server_side_encryption_configuration()
                    .and_then(|c| c.rules().first())
                    .and_then(|r| r.apply_server_side_encryption_by_default());
                let algorithm = by_default.map(|d| d.sse_algorithm().clone());
                let key = by_default.and_then(|d| d.kms_master_key_id().map(str::to_string));
                if algorithm.as_ref() != Some(&want_algorithm) {
                    details.push(format!(
                        "algorithm: {} -> {}",
                        algorithm.as_ref().map(|a| a.as_str()).unwrap_or("none"),
                        want_algorithm.as_str()
                    ));
                }
                if kms.is_some() && key != kms {
                    details.push(format!(
                        "KMS key: {} -> {}",
                        key.as_deref().unwrap_or("none"),
                        kms.as_deref().unwrap_or("none")
                    ));
                }
            }
            Err(e)
                if code(&e).as_deref()
                    == Some("ServerSideEncryptionConfigurationNotFoundError") => {}
            Err(e) => return Err(sdk_error("s3 default encryption (GetBucketEncryption)", e)),
        }
    }
    let change = Change::diff(KIND, name.clone(), exists, details);
    if ctx.apply && change.changes() {
        let by_default = ServerSideEncryptionByDefault::builder()
            .sse_algorithm(want_algorithm)
            .set_kms_master_key_id(kms.clone())
            .build()?;
        let rule = ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(by_default)
            .bucket_key_enabled(kms.is_some())
            .build();
        ctx.clients
            .s3
            .put_bucket_encryption()
            .bucket(&name)
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder()
                    .rules(rule)
                    .build()?,
            )
            .send()
            .await
            .map_err(|e| sdk_error("s3 default encryption (PutBucketEncryption)", e))?;
    }
    Ok(change)
}

pub(crate) async fn lifecycle(ctx: &Ctx) -> Result<Change> {
    const KIND: &str = "s3 lifecycle expiry";
    let name = ctx.want.cfg.bucket.clone();
    let days = ctx.want.cfg.expire_days;
    let mut others: Vec<LifecycleRule> = Vec::new();
    let mut current: Option<i32> = None;
    if ctx.bucket_exists {
        match ctx
            .clients
            .s3
            .get_bucket_lifecycle_configuration()
            .bucket(&name)
            .send()
            .await
        {
            Ok(out) => {
                for rule in out.rules() {
                    if rule.id() == Some(LIFECYCLE_RULE_ID) {
                        current = rule.expiration().and_then(|e| e.days());
                    } else {
                        others.push(rule.clone());
                    }
                }
            }
            Err(e) if code(&e).as_deref() == Some("NoSuchLifecycleConfiguration") => {}
            Err(e) => {
                return Err(sdk_error(
                    "s3 lifecycle (GetBucketLifecycleConfiguration)",
                    e,
                ))
            }
        }
    }
    let wanted = days.map(|d| i32::try_from(d).unwrap_or(i32::MAX));
    let action = match (current, wanted) {
        (None, None) => Action::NoChange,
        (None, Some(_)) => Action::Create,
        (Some(_), None) => Action::Delete,
        (Some(a), Some(b)) if a == b => Action::NoChange,
        (Some(_), Some(_)) => Action::Update,
    };
    let detail = match (current, wanted) {
        (None, None) => "no expiry (logs kept until deleted)".to_string(),
        (a, b) => format!(
            "expire AWSLogs objects after: {} -> {} days",
            a.map(|d| d.to_string()).unwrap_or("never".into()),
            b.map(|d| d.to_string()).unwrap_or("never".into())
        ),
    };
    let change = Change::new(KIND, name.clone(), action).with(vec![detail]);
    if !ctx.apply || !change.changes() {
        return Ok(change);
    }
    let mut rules = others;
    if let Some(d) = wanted {
        rules.push(
            LifecycleRule::builder()
                .id(LIFECYCLE_RULE_ID)
                .status(ExpirationStatus::Enabled)
                .filter(
                    LifecycleRuleFilter::builder()
                        .prefix(format!("{}AWSLogs/", ctx.want.key_prefix()))
                        .build(),
                )
                .expiration(LifecycleExpiration::builder().days(d).build())
                .build()?,
        );
    }
    let step = "s3 lifecycle (PutBucketLifecycleConfiguration)";
    if rules.is_empty() {
        ctx.clients
            .s3
            .delete_bucket_lifecycle()
            .bucket(&name)
            .send()
            .await
            .map_err(|e| sdk_error(step, e))?;
    } else {
        ctx.clients
            .s3
            .put_bucket_lifecycle_configuration()
            .bucket(&name)
            .lifecycle_configuration(
                BucketLifecycleConfiguration::builder()
                    .set_rules(Some(rules))
                    .build()?,
            )
            .send()
            .await
            .map_err(|e| sdk_error(step, e))?;
    }
    Ok(change)
}

pub(crate) async fn policy(ctx: &Ctx) -> Result<Change> {
    const KIND: &str = "s3 bucket policy";
    let name = ctx.want.cfg.bucket.clone();
    let mut existing: Option<String> = None;
    if ctx.bucket_exists {
        match ctx
            .clients
            .s3
            .get_bucket_policy()
            .bucket(&name)
            .send()
            .await
        {
            Ok(out) => existing = out.policy().map(str::to_string),
            Err(e) if code(&e).as_deref() == Some("NoSuchBucketPolicy") => {}
            Err(e) => return Err(sdk_error("s3 bucket policy (GetBucketPolicy)", e)),
        }
    }
    let merged = merge_policy(existing.as_deref(), policy_statements(&ctx.want))?;
    let Some(document) = merged else {
        return Ok(Change::new(KIND, name, Action::NoChange));
    };
    let change = if existing.is_some() {
        Change::new(KIND, name.clone(), Action::Update).with(vec![
            "spintrail's statements (CloudTrail write for this trail only, deny without TLS) \
             differ; other statements are kept"
                .into(),
        ])
    } else {
        Change::new(KIND, name.clone(), Action::Create)
    };
    if ctx.apply {
        ctx.clients
            .s3
            .put_bucket_policy()
            .bucket(&name)
            .policy(document.to_string())
            .send()
            .await
            .map_err(|e| sdk_error("s3 bucket policy (PutBucketPolicy)", e))?;
    }
    Ok(change)
}

/// Keeps the bucket unless asked, and then only if this stack created it.
pub(crate) async fn destroy(ctx: &mut Ctx, delete_bucket: bool) -> Result<Change> {
    const KIND: &str = "s3 bucket";
    let name = ctx.want.cfg.bucket.clone();
    if !head(ctx).await? {
        return Ok(Change::new(KIND, name, Action::NoChange).with(vec!["does not exist".into()]));
    }
    let tags = bucket_tags(ctx).await?;
    if !ctx.is_ours(tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
        return Ok(Change::new(KIND, name, Action::Keep)
            .with(vec!["not created by this stack: left untouched".into()]));
    }
    if !delete_bucket {
        return Ok(Change::new(KIND, name, Action::Keep).with(vec![
            "the log bucket and its objects are kept (pass --delete-bucket to delete them)".into(),
        ]));
    }
    let s3 = &ctx.clients.s3;
    let step = "s3 bucket (emptying before DeleteBucket)";
    let mut deleted = 0usize;
    loop {
        let page = s3
            .list_objects_v2()
            .bucket(&name)
            .send()
            .await
            .map_err(|e| sdk_error(step, e))?;
        let ids = page
            .contents()
            .iter()
            .filter_map(|o| o.key())
            .map(|k| ObjectIdentifier::builder().key(k).build())
            .collect::<std::result::Result<Vec<_>, _>>()?;
        if ids.is_empty() {
            break;
        }
        let count = ids.len();
        let out = s3
            .delete_objects()
            .bucket(&name)
            .delete(Delete::builder().set_objects(Some(ids)).build()?)
            .send()
            .await
            .map_err(|e| sdk_error(step, e))?;
        if let Some(failed) = out.errors().first() {
            return Err(aws_error(
                step,
                format!(
                    "could not delete {}: {}; {deleted} objects were deleted, the bucket is kept",
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
        .bucket(&name)
        .send()
        .await
        .map_err(|e| sdk_error("s3 bucket (DeleteBucket)", e))?;
    Ok(Change::new(KIND, name, Action::Delete)
        .with(vec![format!("deleted with its {deleted} objects")]))
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
