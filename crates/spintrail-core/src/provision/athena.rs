//! The Athena workgroup: enforces its configuration, writes encrypted results to the result
//! location, publishes metrics, and cancels queries that would scan more than the cutoff.

use aws_sdk_athena::types::{
    EncryptionConfiguration, EncryptionOption, ResultConfiguration, ResultConfigurationUpdates,
    Tag, WorkGroupConfiguration, WorkGroupConfigurationUpdates,
};

use super::aws::{code, sdk_error};
use super::{Action, Change, Ctx};
use crate::Result;

const KIND: &str = "athena workgroup";

/// The settings spintrail manages, existing or wanted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WorkgroupSettings {
    pub enforce: bool,
    pub output: Option<String>,
    pub encryption: Option<String>,
    pub kms_key: Option<String>,
    pub cutoff: Option<i64>,
    pub metrics: bool,
}

fn wanted(ctx: &Ctx) -> WorkgroupSettings {
    let kms = ctx.want.cfg.kms_key.clone();
    WorkgroupSettings {
        enforce: true,
        output: Some(ctx.want.results.clone()),
        encryption: Some(if kms.is_some() { "SSE_KMS" } else { "SSE_S3" }.into()),
        kms_key: kms,
        cutoff: Some(i64::try_from(ctx.want.cfg.bytes_scanned_cutoff).unwrap_or(i64::MAX)),
        metrics: true,
    }
}

fn diff(have: &WorkgroupSettings, want: &WorkgroupSettings) -> Vec<String> {
    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".into());
    let mut out = Vec::new();
    if have.enforce != want.enforce {
        out.push(format!(
            "enforce configuration: {} -> {}",
            have.enforce, want.enforce
        ));
    }
    if have.output != want.output {
        out.push(format!(
            "result location: {} -> {}",
            show(&have.output),
            show(&want.output)
        ));
    }
    if have.encryption != want.encryption || have.kms_key != want.kms_key {
        out.push(format!(
            "result encryption: {} {} -> {} {}",
            show(&have.encryption),
            show(&have.kms_key),
            show(&want.encryption),
            show(&want.kms_key)
        ));
    }
    if have.cutoff != want.cutoff {
        out.push(format!(
            "bytes scanned cutoff per query: {} -> {}",
            have.cutoff.map(|c| c.to_string()).unwrap_or("none".into()),
            want.cutoff.map(|c| c.to_string()).unwrap_or("none".into())
        ));
    }
    if have.metrics != want.metrics {
        out.push(format!(
            "publish CloudWatch metrics: {} -> {}",
            have.metrics, want.metrics
        ));
    }
    out
}

/// The workgroup's settings and whether this stack created it; `None` when absent.
async fn read(ctx: &Ctx) -> Result<Option<(WorkgroupSettings, bool)>> {
    let name = &ctx.want.cfg.workgroup;
    let group = match ctx
        .clients
        .athena
        .get_work_group()
        .work_group(name)
        .send()
        .await
    {
        Ok(out) => match out.work_group() {
            Some(g) => g.clone(),
            // moto answers an unknown workgroup with a null one rather than an error
            None => return Ok(None),
        },
        Err(e) if code(&e).as_deref() == Some("InvalidRequestException") => return Ok(None),
        Err(e) => return Err(sdk_error("athena workgroup (GetWorkGroup)", e)),
    };
    let config = group.configuration();
    let result = config.and_then(|c| c.result_configuration());
    let encryption = result.and_then(|r| r.encryption_configuration());
    let settings = WorkgroupSettings {
        enforce: config
            .and_then(|c| c.enforce_work_group_configuration())
            .unwrap_or(false),
        output: result.and_then(|r| r.output_location().map(str::to_string)),
        encryption: encryption.map(|e| e.encryption_option().as_str().to_string()),
        kms_key: encryption.and_then(|e| e.kms_key().map(str::to_string)),
        cutoff: config.and_then(|c| c.bytes_scanned_cutoff_per_query()),
        metrics: config
            .and_then(|c| c.publish_cloud_watch_metrics_enabled())
            .unwrap_or(false),
    };
    let tags = ctx
        .clients
        .athena
        .list_tags_for_resource()
        .resource_arn(ctx.want.workgroup_arn())
        .send()
        .await;
    let ours = match tags {
        Ok(out) => ctx.is_ours(
            out.tags()
                .iter()
                .map(|t| (t.key().unwrap_or(""), t.value().unwrap_or(""))),
        ),
        // moto answers "does not exist" for a workgroup without tags
        Err(e) if code(&e).as_deref() == Some("InvalidRequestException") => false,
        Err(e) => return Err(sdk_error("athena workgroup (ListTagsForResource)", e)),
    };
    Ok(Some((settings, ours)))
}

fn encryption_of(want: &WorkgroupSettings) -> Result<EncryptionConfiguration> {
    let option = if want.kms_key.is_some() {
        EncryptionOption::SseKms
    } else {
        EncryptionOption::SseS3
    };
    Ok(EncryptionConfiguration::builder()
        .encryption_option(option)
        .set_kms_key(want.kms_key.clone())
        .build()?)
}

pub(crate) async fn workgroup(ctx: &Ctx) -> Result<Change> {
    let name = ctx.want.cfg.workgroup.clone();
    let want = wanted(ctx);
    let existing = read(ctx).await?;
    let change = match &existing {
        None => Change::new(KIND, name.clone(), Action::Create),
        Some((have, ours)) => {
            let details = diff(have, &want);
            if !ours && !details.is_empty() {
                return Err(super::Error::Aws {
                    step: "athena workgroup".into(),
                    message: format!(
                        "workgroup {name:?} exists and was not created by spintrail stack {:?}; \
                         it differs ({}). spintrail never changes resources it did not create: \
                         choose another workgroup name (--workgroup)",
                        ctx.want.cfg.name,
                        details.join("; ")
                    ),
                });
            }
            Change::diff(KIND, name.clone(), true, details)
        }
    };
    if !ctx.apply || !change.changes() {
        return Ok(change);
    }
    let athena = &ctx.clients.athena;
    if change.action == Action::Create {
        let tags: Vec<Tag> = ctx
            .managed_tags()
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        let config = WorkGroupConfiguration::builder()
            .enforce_work_group_configuration(true)
            .publish_cloud_watch_metrics_enabled(true)
            .set_bytes_scanned_cutoff_per_query(want.cutoff)
            .result_configuration(
                ResultConfiguration::builder()
                    .set_output_location(want.output.clone())
                    .encryption_configuration(encryption_of(&want)?)
                    .build(),
            )
            .build();
        athena
            .create_work_group()
            .name(&name)
            .description(format!(
                "CloudTrail queries (spintrail stack {})",
                ctx.want.cfg.name
            ))
            .configuration(config)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| sdk_error("athena workgroup (CreateWorkGroup)", e))?;
    } else {
        let updates = WorkGroupConfigurationUpdates::builder()
            .enforce_work_group_configuration(true)
            .publish_cloud_watch_metrics_enabled(true)
            .set_bytes_scanned_cutoff_per_query(want.cutoff)
            .result_configuration_updates(
                ResultConfigurationUpdates::builder()
                    .set_output_location(want.output.clone())
                    .encryption_configuration(encryption_of(&want)?)
                    .build(),
            )
            .build();
        athena
            .update_work_group()
            .work_group(&name)
            .configuration_updates(updates)
            .send()
            .await
            .map_err(|e| sdk_error("athena workgroup (UpdateWorkGroup)", e))?;
    }
    Ok(change)
}

pub(crate) async fn destroy(ctx: &Ctx) -> Result<Change> {
    let name = ctx.want.cfg.workgroup.clone();
    match read(ctx).await? {
        None => Ok(Change::new(KIND, name, Action::NoChange).with(vec!["does not exist".into()])),
        Some((_, false)) => Ok(Change::new(KIND, name, Action::Keep)
            .with(vec!["not created by this stack: left untouched".into()])),
        Some((_, true)) => {
            ctx.clients
                .athena
                .delete_work_group()
                .work_group(&name)
                .recursive_delete_option(true)
                .send()
                .await
                .map_err(|e| sdk_error("athena workgroup (DeleteWorkGroup)", e))?;
            Ok(Change::new(KIND, name, Action::Delete))
        }
    }
}
