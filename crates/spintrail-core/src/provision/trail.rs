//! The CloudTrail trail: created (after the bucket policy, which CreateTrail checks), updated when
//! its settings drift, logging started; a trail of the same name that spintrail did not create is
//! never changed.

use aws_sdk_cloudtrail::types::Tag;

use super::aws::{code, retry_on, sdk_error};
use super::{Action, Change, Ctx};
use crate::{Error, Result};

const KIND: &str = "cloudtrail trail";

/// What the trail looks like (existing or wanted), for diffing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TrailSettings {
    pub bucket: String,
    pub prefix: Option<String>,
    pub multi_region: bool,
    pub organization: bool,
    pub validation: bool,
    pub log_group_arn: Option<String>,
    pub log_role_arn: Option<String>,
}

pub(crate) fn diff(have: &TrailSettings, want: &TrailSettings) -> Vec<String> {
    let mut out = Vec::new();
    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".into());
    if have.bucket != want.bucket {
        out.push(format!("bucket: {} -> {}", have.bucket, want.bucket));
    }
    if have.prefix != want.prefix {
        out.push(format!(
            "prefix: {} -> {}",
            show(&have.prefix),
            show(&want.prefix)
        ));
    }
    if have.multi_region != want.multi_region {
        out.push(format!(
            "multi-region: {} -> {}",
            have.multi_region, want.multi_region
        ));
    }
    if have.organization != want.organization {
        out.push(format!(
            "organization trail: {} -> {}",
            have.organization, want.organization
        ));
    }
    if have.validation != want.validation {
        out.push(format!(
            "log file validation: {} -> {}",
            have.validation, want.validation
        ));
    }
    if have.log_group_arn != want.log_group_arn {
        out.push(format!(
            "CloudWatch Logs group: {} -> {}",
            show(&have.log_group_arn),
            show(&want.log_group_arn)
        ));
    }
    if have.log_role_arn != want.log_role_arn {
        out.push(format!(
            "CloudWatch Logs role: {} -> {}",
            show(&have.log_role_arn),
            show(&want.log_role_arn)
        ));
    }
    out
}

fn wanted(ctx: &Ctx) -> TrailSettings {
    let w = &ctx.want;
    TrailSettings {
        bucket: w.cfg.bucket.clone(),
        prefix: w.prefix.clone(),
        multi_region: w.cfg.multi_region,
        organization: w.cfg.organization,
        validation: w.cfg.log_file_validation,
        log_group_arn: ctx.resources.get("log_group_arn").cloned(),
        log_role_arn: ctx.resources.get("log_role_arn").cloned(),
    }
}

/// The existing trail's settings and whether this stack created it.
async fn read(ctx: &Ctx) -> Result<Option<(TrailSettings, bool, String)>> {
    let name = &ctx.want.cfg.trail;
    let trail = match ctx.clients.cloudtrail.get_trail().name(name).send().await {
        Ok(out) => match out.trail() {
            Some(t) => t.clone(),
            None => return Ok(None),
        },
        Err(e) if code(&e).as_deref() == Some("TrailNotFoundException") => return Ok(None),
        Err(e) => return Err(sdk_error("cloudtrail trail (GetTrail)", e)),
    };
    let arn = trail
        .trail_arn()
        .map(str::to_string)
        .unwrap_or_else(|| ctx.want.trail_arn.clone());
    let tags = ctx
        .clients
        .cloudtrail
        .list_tags()
        .resource_id_list(&arn)
        .send()
        .await
        .map_err(|e| sdk_error("cloudtrail trail (ListTags)", e))?;
    let pairs: Vec<(String, String)> = tags
        .resource_tag_list()
        .iter()
        .flat_map(|r| r.tags_list())
        .map(|t| (t.key().to_string(), t.value().unwrap_or("").to_string()))
        .collect();
    let ours = ctx.is_ours(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let settings = TrailSettings {
        bucket: trail.s3_bucket_name().unwrap_or("").to_string(),
        prefix: trail
            .s3_key_prefix()
            .filter(|p| !p.is_empty())
            .map(str::to_string),
        multi_region: trail.is_multi_region_trail().unwrap_or(false),
        organization: trail.is_organization_trail().unwrap_or(false),
        validation: trail.log_file_validation_enabled().unwrap_or(false),
        log_group_arn: trail
            .cloud_watch_logs_log_group_arn()
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        log_role_arn: trail
            .cloud_watch_logs_role_arn()
            .filter(|s| !s.is_empty())
            .map(str::to_string),
    };
    Ok(Some((settings, ours, arn)))
}

/// CloudTrail checks the bucket policy and the log role when a trail is created or updated; both
/// may not be visible yet right after they were written (eventual consistency).
const NOT_YET_CONSISTENT: [&str; 3] = [
    "InsufficientS3BucketPolicyException",
    "InvalidCloudWatchLogsRoleArnException",
    "InsufficientEncryptionPolicyException",
];

pub(crate) async fn trail(ctx: &mut Ctx) -> Result<Change> {
    let name = ctx.want.cfg.trail.clone();
    let want = wanted(ctx);
    let existing = read(ctx).await?;
    let change = match &existing {
        None => Change::new(KIND, name.clone(), Action::Create),
        Some((have, ours, arn)) => {
            ctx.resources.insert("trail_arn".into(), arn.clone());
            let details = diff(have, &want);
            if !ours && !details.is_empty() {
                return Err(Error::Aws {
                    step: "cloudtrail trail".into(),
                    message: format!(
                        "a trail named {name:?} already exists ({arn}) and was not created by \
                         spintrail stack {:?}; it differs from the desired one ({}). spintrail \
                         never changes resources it did not create: choose another trail name \
                         (--trail), or change or delete that trail yourself",
                        ctx.want.cfg.name,
                        details.join("; ")
                    ),
                });
            }
            let mut change = Change::diff(KIND, name.clone(), true, details);
            if !ours {
                change
                    .details
                    .push("existing trail reused (not created by spintrail)".into());
            }
            change
        }
    };
    if !ctx.apply || !change.changes() {
        return Ok(change);
    }
    let ct = &ctx.clients.cloudtrail;
    if change.action == Action::Create {
        let tags = ctx
            .managed_tags()
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let out = retry_on(&NOT_YET_CONSISTENT, || {
            ct.create_trail()
                .name(&name)
                .s3_bucket_name(&want.bucket)
                .set_s3_key_prefix(want.prefix.clone())
                .is_multi_region_trail(want.multi_region)
                .is_organization_trail(want.organization)
                .enable_log_file_validation(want.validation)
                .include_global_service_events(true)
                .set_cloud_watch_logs_log_group_arn(want.log_group_arn.clone())
                .set_cloud_watch_logs_role_arn(want.log_role_arn.clone())
                .set_tags_list(Some(tags.clone()))
                .send()
        })
        .await
        .map_err(|e| sdk_error("cloudtrail trail (CreateTrail)", e))?;
        if let Some(arn) = out.trail_arn() {
            ctx.resources.insert("trail_arn".into(), arn.to_string());
        }
    } else {
        retry_on(&NOT_YET_CONSISTENT, || {
            ct.update_trail()
                .name(&name)
                .s3_bucket_name(&want.bucket)
                .s3_key_prefix(want.prefix.clone().unwrap_or_default())
                .is_multi_region_trail(want.multi_region)
                .is_organization_trail(want.organization)
                .enable_log_file_validation(want.validation)
                .cloud_watch_logs_log_group_arn(want.log_group_arn.clone().unwrap_or_default())
                .cloud_watch_logs_role_arn(want.log_role_arn.clone().unwrap_or_default())
                .send()
        })
        .await
        .map_err(|e| sdk_error("cloudtrail trail (UpdateTrail)", e))?;
    }
    Ok(change)
}

pub(crate) async fn logging(ctx: &Ctx) -> Result<Change> {
    const LOGGING: &str = "cloudtrail logging";
    let name = ctx.want.cfg.trail.clone();
    let status = match ctx
        .clients
        .cloudtrail
        .get_trail_status()
        .name(&name)
        .send()
        .await
    {
        Ok(out) => out.is_logging(),
        Err(e) if code(&e).as_deref() == Some("TrailNotFoundException") => None,
        Err(e) => return Err(sdk_error("cloudtrail logging (GetTrailStatus)", e)),
    };
    if status == Some(true) {
        return Ok(Change::new(LOGGING, name, Action::NoChange).with(vec!["logging".into()]));
    }
    let change =
        Change::new(LOGGING, name.clone(), Action::Update).with(vec!["start logging".into()]);
    if ctx.apply {
        ctx.clients
            .cloudtrail
            .start_logging()
            .name(&name)
            .send()
            .await
            .map_err(|e| sdk_error("cloudtrail logging (StartLogging)", e))?;
    }
    Ok(change)
}

pub(crate) async fn destroy(ctx: &Ctx) -> Result<Change> {
    let name = ctx.want.cfg.trail.clone();
    let Some((_, ours, _)) = read(ctx).await? else {
        return Ok(Change::new(KIND, name, Action::NoChange).with(vec!["does not exist".into()]));
    };
    if !ours {
        return Ok(Change::new(KIND, name, Action::Keep)
            .with(vec!["not created by this stack: left untouched".into()]));
    }
    let ct = &ctx.clients.cloudtrail;
    ct.stop_logging()
        .name(&name)
        .send()
        .await
        .map_err(|e| sdk_error("cloudtrail trail (StopLogging)", e))?;
    ct.delete_trail()
        .name(&name)
        .send()
        .await
        .map_err(|e| sdk_error("cloudtrail trail (DeleteTrail)", e))?;
    Ok(Change::new(KIND, name, Action::Delete))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_names_each_difference() {
        let have = TrailSettings {
            bucket: "a".into(),
            prefix: None,
            multi_region: false,
            organization: false,
            validation: true,
            log_group_arn: None,
            log_role_arn: None,
        };
        assert!(diff(&have, &have).is_empty());
        let want = TrailSettings {
            bucket: "b".into(),
            multi_region: true,
            ..have.clone()
        };
        assert_eq!(
            diff(&have, &want),
            vec!["bucket: a -> b", "multi-region: false -> true"]
        );
    }
}
