//! The Athena workgroup: enforces its configuration, writes encrypted results to the result
//! location, publishes metrics, and cancels queries that would scan more than the cutoff.

use aws_sdk_athena::types::{
    EncryptionConfiguration, EncryptionOption, ResultConfiguration, ResultConfigurationUpdates,
    Tag, WorkGroupConfiguration, WorkGroupConfigurationUpdates,
};

use super::aws::{sdk_error, tolerate};
use super::resource::{Diff, Found, Removable, Removal, Resource};
use super::Ctx;
use crate::Result;

/// Athena's answer for a missing workgroup (moto's also for the tags of one without tags).
const NOT_FOUND: &str = "InvalidRequestException";

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

fn diff(have: &WorkgroupSettings, want: &WorkgroupSettings) -> Vec<String> {
    let encryption = |s: &WorkgroupSettings| (s.encryption.clone(), s.kms_key.clone());
    Diff::default()
        .field("enforce configuration", &have.enforce, &want.enforce)
        .field("result location", &have.output, &want.output)
        .field("result encryption", &encryption(have), &encryption(want))
        .field("bytes scanned cutoff per query", &have.cutoff, &want.cutoff)
        .field("publish CloudWatch metrics", &have.metrics, &want.metrics)
        .lines()
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

/// The configuration spintrail enforces, built for CreateWorkGroup (`WorkGroupConfiguration`) or
/// UpdateWorkGroup (`WorkGroupConfigurationUpdates`): two SDK types with the same setters.
macro_rules! enforced {
    ($config:ident, $set_result:ident($result:ident), $want:expr) => {
        $config::builder()
            .enforce_work_group_configuration(true)
            .publish_cloud_watch_metrics_enabled(true)
            .set_bytes_scanned_cutoff_per_query($want.cutoff)
            .$set_result(
                $result::builder()
                    .set_output_location($want.output.clone())
                    .encryption_configuration(encryption_of($want)?)
                    .build(),
            )
            .build()
    };
}

/// The workgroup the stack's queries run in.
pub(crate) struct Workgroup {
    name: String,
    want: WorkgroupSettings,
}

impl Resource for Workgroup {
    type State = WorkgroupSettings;
    const KIND: &'static str = "athena workgroup";

    fn desired(ctx: &Ctx) -> Result<Self> {
        let kms = ctx.want.cfg.kms_key.clone();
        Ok(Workgroup {
            name: ctx.want.cfg.workgroup.clone(),
            want: WorkgroupSettings {
                enforce: true,
                output: Some(ctx.want.results.clone()),
                encryption: Some(if kms.is_some() { "SSE_KMS" } else { "SSE_S3" }.into()),
                kms_key: kms,
                cutoff: Some(i64::try_from(ctx.want.cfg.bytes_scanned_cutoff).unwrap_or(i64::MAX)),
                metrics: true,
            },
        })
    }

    fn name(&self) -> &str {
        &self.name
    }

    async fn read(&self, ctx: &Ctx) -> Result<Option<Found<WorkgroupSettings>>> {
        let athena = &ctx.clients.athena;
        let answer = athena.get_work_group().work_group(&self.name).send().await;
        // moto answers an unknown workgroup with a null one rather than an error
        let Some(group) = tolerate(NOT_FOUND, "athena workgroup (GetWorkGroup)", answer)?
            .and_then(|out| out.work_group().cloned())
        else {
            return Ok(None);
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
        let answer = athena
            .list_tags_for_resource()
            .resource_arn(ctx.want.workgroup_arn())
            .send()
            .await;
        let tags = tolerate(NOT_FOUND, "athena workgroup (ListTagsForResource)", answer)?;
        let ours = tags.is_some_and(|out| {
            ctx.is_ours(
                out.tags()
                    .iter()
                    .map(|t| (t.key().unwrap_or(""), t.value().unwrap_or(""))),
            )
        });
        Ok(Some(Found {
            state: settings,
            ours,
        }))
    }

    fn diff(&self, have: &WorkgroupSettings) -> Result<Vec<String>> {
        Ok(diff(have, &self.want))
    }

    fn remedy(&self) -> &'static str {
        "choose another workgroup name (--workgroup)"
    }

    async fn create(&self, ctx: &mut Ctx) -> Result<()> {
        let want = &self.want;
        let tags: Vec<Tag> = ctx
            .managed_tags()
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        let config = enforced!(
            WorkGroupConfiguration,
            result_configuration(ResultConfiguration),
            want
        );
        ctx.clients
            .athena
            .create_work_group()
            .name(&self.name)
            .description(format!(
                "CloudTrail queries (spintrail stack {})",
                ctx.want.cfg.name
            ))
            .configuration(config)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| sdk_error("athena workgroup (CreateWorkGroup)", e))?;
        Ok(())
    }

    async fn update(&self, ctx: &mut Ctx, _have: &WorkgroupSettings) -> Result<()> {
        let want = &self.want;
        let updates = enforced!(
            WorkGroupConfigurationUpdates,
            result_configuration_updates(ResultConfigurationUpdates),
            want
        );
        ctx.clients
            .athena
            .update_work_group()
            .work_group(&self.name)
            .configuration_updates(updates)
            .send()
            .await
            .map_err(|e| sdk_error("athena workgroup (UpdateWorkGroup)", e))?;
        Ok(())
    }
}

impl Removable for Workgroup {
    async fn delete(&self, ctx: &Ctx, _have: &WorkgroupSettings) -> Result<Removal> {
        ctx.clients
            .athena
            .delete_work_group()
            .work_group(&self.name)
            .recursive_delete_option(true)
            .send()
            .await
            .map_err(|e| sdk_error("athena workgroup (DeleteWorkGroup)", e))?;
        Ok(Removal::Deleted(Vec::new()))
    }
}
