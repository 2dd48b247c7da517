//! The CloudTrail trail: created (after the bucket policy, which CreateTrail checks), updated when
//! its settings drift, logging started; a trail of the same name that spintrail did not create is
//! never changed.

use aws_sdk_cloudtrail::types::Tag;

use super::aws::{retry_on, sdk_error, tolerate};
use super::resource::{Diff, Found, Removable, Removal, Resource};
use super::{Action, Change, Ctx};
use crate::Result;

const NOT_FOUND: &str = "TrailNotFoundException";

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
    Diff::default()
        .field("bucket", &have.bucket, &want.bucket)
        .field("prefix", &have.prefix, &want.prefix)
        .field("multi-region", &have.multi_region, &want.multi_region)
        .field("organization trail", &have.organization, &want.organization)
        .field("log file validation", &have.validation, &want.validation)
        .field(
            "CloudWatch Logs group",
            &have.log_group_arn,
            &want.log_group_arn,
        )
        .field(
            "CloudWatch Logs role",
            &have.log_role_arn,
            &want.log_role_arn,
        )
        .lines()
}

/// CloudTrail checks the bucket policy and the log role when a trail is created or updated; both
/// may not be visible yet right after they were written (eventual consistency).
const NOT_YET_CONSISTENT: [&str; 3] = [
    "InsufficientS3BucketPolicyException",
    "InvalidCloudWatchLogsRoleArnException",
    "InsufficientEncryptionPolicyException",
];

/// The trail; one of the same name that spintrail did not create is reused only as it is.
pub(crate) struct Trail {
    name: String,
    want: TrailSettings,
}

/// An existing trail: its settings and ARN.
pub(crate) struct ExistingTrail {
    settings: TrailSettings,
    arn: String,
}

impl Resource for Trail {
    type State = ExistingTrail;
    const KIND: &'static str = "cloudtrail trail";

    /// The CloudWatch Logs ARNs come from the log group and role steps before this one.
    fn desired(ctx: &Ctx) -> Result<Self> {
        let w = &ctx.want;
        Ok(Trail {
            name: w.cfg.trail.clone(),
            want: TrailSettings {
                bucket: w.cfg.bucket.clone(),
                prefix: w.prefix.clone(),
                multi_region: w.cfg.multi_region,
                organization: w.cfg.organization,
                validation: w.cfg.log_file_validation,
                log_group_arn: ctx.resources.get("log_group_arn").cloned(),
                log_role_arn: ctx.resources.get("log_role_arn").cloned(),
            },
        })
    }

    fn name(&self) -> &str {
        &self.name
    }

    async fn read(&self, ctx: &Ctx) -> Result<Option<Found<ExistingTrail>>> {
        let ct = &ctx.clients.cloudtrail;
        let answer = ct.get_trail().name(&self.name).send().await;
        let Some(trail) = tolerate(NOT_FOUND, "cloudtrail trail (GetTrail)", answer)?
            .and_then(|out| out.trail().cloned())
        else {
            return Ok(None);
        };
        let arn = trail
            .trail_arn()
            .map(str::to_string)
            .unwrap_or_else(|| ctx.want.trail_arn.clone());
        let tags = ct
            .list_tags()
            .resource_id_list(&arn)
            .send()
            .await
            .map_err(|e| sdk_error("cloudtrail trail (ListTags)", e))?;
        let ours = ctx.is_ours(
            tags.resource_tag_list()
                .iter()
                .flat_map(|r| r.tags_list())
                .map(|t| (t.key(), t.value().unwrap_or(""))),
        );
        let present = |v: Option<&str>| v.filter(|s| !s.is_empty()).map(str::to_string);
        let settings = TrailSettings {
            bucket: trail.s3_bucket_name().unwrap_or("").to_string(),
            prefix: present(trail.s3_key_prefix()),
            multi_region: trail.is_multi_region_trail().unwrap_or(false),
            organization: trail.is_organization_trail().unwrap_or(false),
            validation: trail.log_file_validation_enabled().unwrap_or(false),
            log_group_arn: present(trail.cloud_watch_logs_log_group_arn()),
            log_role_arn: present(trail.cloud_watch_logs_role_arn()),
        };
        Ok(Some(Found {
            state: ExistingTrail { settings, arn },
            ours,
        }))
    }

    fn diff(&self, have: &ExistingTrail) -> Result<Vec<String>> {
        Ok(diff(&have.settings, &self.want))
    }

    fn note(&self, ours: bool) -> Option<&'static str> {
        (!ours).then_some("existing trail reused (not created by spintrail)")
    }

    fn remedy(&self) -> &'static str {
        "choose another trail name (--trail), or change or delete that trail yourself"
    }

    fn observe(&self, ctx: &mut Ctx, found: Option<&Found<ExistingTrail>>) {
        if let Some(found) = found {
            ctx.resources
                .insert("trail_arn".into(), found.state.arn.clone());
        }
    }

    async fn create(&self, ctx: &mut Ctx) -> Result<()> {
        let want = &self.want;
        let tags = ctx
            .managed_tags()
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let ct = &ctx.clients.cloudtrail;
        let out = retry_on(&NOT_YET_CONSISTENT, || {
            ct.create_trail()
                .name(&self.name)
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
        Ok(())
    }

    async fn update(&self, ctx: &mut Ctx, _have: &ExistingTrail) -> Result<()> {
        let want = &self.want;
        let ct = &ctx.clients.cloudtrail;
        retry_on(&NOT_YET_CONSISTENT, || {
            ct.update_trail()
                .name(&self.name)
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
        Ok(())
    }
}

impl Removable for Trail {
    async fn delete(&self, ctx: &Ctx, _have: &ExistingTrail) -> Result<Removal> {
        let ct = &ctx.clients.cloudtrail;
        ct.stop_logging()
            .name(&self.name)
            .send()
            .await
            .map_err(|e| sdk_error("cloudtrail trail (StopLogging)", e))?;
        ct.delete_trail()
            .name(&self.name)
            .send()
            .await
            .map_err(|e| sdk_error("cloudtrail trail (DeleteTrail)", e))?;
        Ok(Removal::Deleted(Vec::new()))
    }
}

/// Whether the trail is logging; started when it is not.
pub(crate) struct Logging {
    trail: String,
}

impl Resource for Logging {
    /// Whether the trail is logging.
    type State = bool;
    const KIND: &'static str = "cloudtrail logging";

    fn desired(ctx: &Ctx) -> Result<Self> {
        Ok(Logging {
            trail: ctx.want.cfg.trail.clone(),
        })
    }

    fn name(&self) -> &str {
        &self.trail
    }

    async fn read(&self, ctx: &Ctx) -> Result<Option<Found<bool>>> {
        let answer = ctx
            .clients
            .cloudtrail
            .get_trail_status()
            .name(&self.trail)
            .send()
            .await;
        let status = tolerate(NOT_FOUND, "cloudtrail logging (GetTrailStatus)", answer)?;
        Ok(status.map(|out| Found::ours(out.is_logging() == Some(true))))
    }

    /// Logging is either on, or to be started (also for a trail still to be created).
    fn plan(&self, _ctx: &Ctx, found: Option<&Found<bool>>) -> Result<Change> {
        let name = self.trail.clone();
        Ok(if found.is_some_and(|f| f.state) {
            Change::new(Self::KIND, name, Action::NoChange).with(vec!["logging".into()])
        } else {
            Change::new(Self::KIND, name, Action::Update).with(vec!["start logging".into()])
        })
    }

    async fn create(&self, ctx: &mut Ctx) -> Result<()> {
        ctx.clients
            .cloudtrail
            .start_logging()
            .name(&self.trail)
            .send()
            .await
            .map_err(|e| sdk_error("cloudtrail logging (StartLogging)", e))?;
        Ok(())
    }
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
