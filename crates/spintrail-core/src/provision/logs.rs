//! Optional CloudWatch Logs delivery: the log group and the IAM role CloudTrail assumes to write
//! to it, with least privilege (only this trail may assume it; it may only create streams and put
//! events in this group's CloudTrail streams).

use aws_sdk_iam::types::Tag;
use serde_json::{json, Value};

use super::aws::{parse_policy, sdk_error, tolerate};
use super::config::Resolved;
use super::resource::{Found, Removable, Removal, Resource};
use super::Ctx;
use crate::Result;

const INLINE_POLICY: &str = "spintrail-cloudtrail-to-cloudwatch-logs";

pub(crate) fn log_group_arn(want: &Resolved, group: &str) -> String {
    format!(
        "arn:{}:logs:{}:{}:log-group:{group}:*",
        want.partition, want.region, want.account
    )
}

pub(crate) fn trust_policy(want: &Resolved) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "SpintrailCloudTrailAssume",
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceArn": want.trail_arn}},
        }],
    })
}

pub(crate) fn role_policy(want: &Resolved, group: &str) -> Value {
    let base = format!(
        "arn:{}:logs:{}:{}:log-group:{group}:log-stream:",
        want.partition, want.region, want.account
    );
    let mut streams = vec![format!(
        "{base}{}_CloudTrail_{}*",
        want.account, want.region
    )];
    if let (true, Some(org)) = (want.cfg.organization, &want.cfg.org_id) {
        streams.push(format!("{base}{org}_*"));
    }
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "SpintrailCloudTrailWriteLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": streams,
        }],
    })
}

/// The log group CloudTrail delivers to; kept on destroy unless its data is to go too.
pub(crate) struct LogGroup {
    name: String,
    delete_data: bool,
}

impl Resource for LogGroup {
    /// The group's ARN, as CloudTrail wants it (ending in `:*`).
    type State = String;
    const KIND: &'static str = "cloudwatch log group";

    fn desired(ctx: &Ctx) -> Result<Self> {
        Ok(LogGroup {
            name: ctx.want.cfg.log_group.clone().unwrap_or_default(),
            delete_data: ctx.delete_data,
        })
    }

    fn name(&self) -> &str {
        &self.name
    }

    async fn read(&self, ctx: &Ctx) -> Result<Option<Found<String>>> {
        let logs = &ctx.clients.logs;
        let out = logs
            .describe_log_groups()
            .log_group_name_prefix(&self.name)
            .send()
            .await
            .map_err(|e| sdk_error("cloudwatch log group (DescribeLogGroups)", e))?;
        let Some(found) = out
            .log_groups()
            .iter()
            .find(|g| g.log_group_name() == Some(self.name.as_str()))
        else {
            return Ok(None);
        };
        let arn = found
            .arn()
            .map(str::to_string)
            .unwrap_or_else(|| log_group_arn(&ctx.want, &self.name));
        let answer = logs
            .list_tags_for_resource()
            .resource_arn(arn.trim_end_matches(":*"))
            .send()
            .await;
        let tags = tolerate(
            "ResourceNotFoundException",
            "cloudwatch log group (ListTagsForResource)",
            answer,
        )?;
        let ours = tags
            .and_then(|out| {
                out.tags()
                    .map(|t| ctx.is_ours(t.iter().map(|(k, v)| (k.as_str(), v.as_str()))))
            })
            .unwrap_or(false);
        Ok(Some(Found { state: arn, ours }))
    }

    fn note(&self, ours: bool) -> Option<&'static str> {
        Some(if ours {
            "created by this stack"
        } else {
            "existing log group reused (not created by spintrail)"
        })
    }

    /// The trail step needs the group's ARN, also in a plan.
    fn observe(&self, ctx: &mut Ctx, found: Option<&Found<String>>) {
        let arn = match found {
            Some(found) => found.state.clone(),
            None => log_group_arn(&ctx.want, &self.name),
        };
        ctx.resources.insert("log_group_arn".into(), arn);
    }

    async fn create(&self, ctx: &mut Ctx) -> Result<()> {
        let mut create = ctx
            .clients
            .logs
            .create_log_group()
            .log_group_name(&self.name);
        for (k, v) in ctx.managed_tags() {
            create = create.tags(k, v);
        }
        create
            .send()
            .await
            .map_err(|e| sdk_error("cloudwatch log group (CreateLogGroup)", e))?;
        Ok(())
    }
}

impl Removable for LogGroup {
    async fn delete(&self, ctx: &Ctx, _have: &String) -> Result<Removal> {
        if !self.delete_data {
            return Ok(Removal::Kept(
                "log data kept (pass --delete-bucket to delete it)",
            ));
        }
        ctx.clients
            .logs
            .delete_log_group()
            .log_group_name(&self.name)
            .send()
            .await
            .map_err(|e| sdk_error("cloudwatch log group (DeleteLogGroup)", e))?;
        Ok(Removal::Deleted(Vec::new()))
    }
}

/// The role CloudTrail assumes to write to the log group.
pub(crate) struct LogRole {
    name: String,
    /// Its ARN when it is to be created (the real one once it is).
    arn: String,
    trust: Value,
    inline: Value,
}

/// An existing role: its ARN and policies (`None` where absent or unreadable).
pub(crate) struct ExistingRole {
    arn: String,
    trust: Option<Value>,
    inline: Option<Value>,
}

impl LogRole {
    /// Writes the inline policy (after creating the role or correcting its trust policy).
    async fn put_inline_policy(&self, ctx: &Ctx) -> Result<()> {
        ctx.clients
            .iam
            .put_role_policy()
            .role_name(&self.name)
            .policy_name(INLINE_POLICY)
            .policy_document(self.inline.to_string())
            .send()
            .await
            .map_err(|e| sdk_error("iam role (PutRolePolicy)", e))?;
        Ok(())
    }
}

impl Resource for LogRole {
    type State = ExistingRole;
    const KIND: &'static str = "iam role";

    fn desired(ctx: &Ctx) -> Result<Self> {
        let want = &ctx.want;
        let name = want.log_role();
        let group = want.cfg.log_group.clone().unwrap_or_default();
        Ok(LogRole {
            arn: format!("arn:{}:iam::{}:role/{name}", want.partition, want.account),
            name,
            trust: trust_policy(want),
            inline: role_policy(want, &group),
        })
    }

    fn name(&self) -> &str {
        &self.name
    }

    async fn read(&self, ctx: &Ctx) -> Result<Option<Found<ExistingRole>>> {
        let iam = &ctx.clients.iam;
        let answer = iam.get_role().role_name(&self.name).send().await;
        let Some(role) = tolerate("NoSuchEntity", "iam role (GetRole)", answer)?
            .and_then(|out| out.role().cloned())
        else {
            return Ok(None);
        };
        let answer = iam
            .get_role_policy()
            .role_name(&self.name)
            .policy_name(INLINE_POLICY)
            .send()
            .await;
        let inline = tolerate("NoSuchEntity", "iam role (GetRolePolicy)", answer)?;
        Ok(Some(Found {
            ours: ctx.is_ours(role.tags().iter().map(|t| (t.key(), t.value()))),
            state: ExistingRole {
                arn: role.arn().to_string(),
                trust: role.assume_role_policy_document().and_then(parse_policy),
                inline: inline.and_then(|out| parse_policy(out.policy_document())),
            },
        }))
    }

    fn diff(&self, have: &ExistingRole) -> Result<Vec<String>> {
        let mut details = Vec::new();
        if have.trust.as_ref() != Some(&self.trust) {
            details.push("trust policy: only this trail may assume the role".into());
        }
        if have.inline.as_ref() != Some(&self.inline) {
            details.push(format!(
                "inline policy {INLINE_POLICY}: write this log group's CloudTrail streams only"
            ));
        }
        Ok(details)
    }

    fn remedy(&self) -> &'static str {
        "choose another role name (--log-role)"
    }

    /// The trail step needs the role's ARN, also in a plan.
    fn observe(&self, ctx: &mut Ctx, found: Option<&Found<ExistingRole>>) {
        let arn = found.map_or_else(|| self.arn.clone(), |f| f.state.arn.clone());
        ctx.resources.insert("log_role_arn".into(), arn);
    }

    async fn create(&self, ctx: &mut Ctx) -> Result<()> {
        let tags = ctx
            .managed_tags()
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let out = ctx
            .clients
            .iam
            .create_role()
            .role_name(&self.name)
            .description("Lets CloudTrail deliver this trail's events to CloudWatch Logs")
            .assume_role_policy_document(self.trust.to_string())
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| sdk_error("iam role (CreateRole)", e))?;
        if let Some(role) = out.role() {
            ctx.resources
                .insert("log_role_arn".into(), role.arn().to_string());
        }
        self.put_inline_policy(ctx).await
    }

    async fn update(&self, ctx: &mut Ctx, _have: &ExistingRole) -> Result<()> {
        ctx.clients
            .iam
            .update_assume_role_policy()
            .role_name(&self.name)
            .policy_document(self.trust.to_string())
            .send()
            .await
            .map_err(|e| sdk_error("iam role (UpdateAssumeRolePolicy)", e))?;
        self.put_inline_policy(ctx).await
    }
}

impl Removable for LogRole {
    async fn delete(&self, ctx: &Ctx, _have: &ExistingRole) -> Result<Removal> {
        let iam = &ctx.clients.iam;
        let answer = iam
            .delete_role_policy()
            .role_name(&self.name)
            .policy_name(INLINE_POLICY)
            .send()
            .await;
        tolerate("NoSuchEntity", "iam role (DeleteRolePolicy)", answer)?;
        iam.delete_role()
            .role_name(&self.name)
            .send()
            .await
            .map_err(|e| sdk_error("iam role (DeleteRole)", e))?;
        Ok(Removal::Deleted(Vec::new()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provision::StackConfig;

    #[test]
    fn least_privilege_policies() {
        let cfg = StackConfig {
            bucket: "b-logs".into(),
            log_group: Some("ct".into()),
            ..StackConfig::default()
        };
        let want = Resolved::new(cfg, "us-east-1".into(), "123456789012".into()).unwrap();
        let trust = trust_policy(&want);
        assert_eq!(
            trust["Statement"][0]["Condition"]["StringEquals"]["aws:SourceArn"],
            "arn:aws:cloudtrail:us-east-1:123456789012:trail/spintrail"
        );
        let p = role_policy(&want, "ct");
        assert_eq!(
            p["Statement"][0]["Resource"][0],
            "arn:aws:logs:us-east-1:123456789012:log-group:ct:log-stream:123456789012_CloudTrail_us-east-1*"
        );
    }
}
