//! Optional CloudWatch Logs delivery: the log group and the IAM role CloudTrail assumes to write
//! to it, with least privilege (only this trail may assume it; it may only create streams and put
//! events in this group's CloudTrail streams).

use aws_sdk_iam::types::Tag;
use serde_json::{json, Value};

use super::aws::{code, parse_policy, sdk_error};
use super::config::Resolved;
use super::{Action, Change, Ctx};
use crate::{Error, Result};

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

/// The log group's ARN (as CloudTrail wants it, ending in `:*`) and whether this stack made it.
async fn read_group(ctx: &Ctx, group: &str) -> Result<Option<(String, bool)>> {
    let out = ctx
        .clients
        .logs
        .describe_log_groups()
        .log_group_name_prefix(group)
        .send()
        .await
        .map_err(|e| sdk_error("cloudwatch log group (DescribeLogGroups)", e))?;
    let Some(found) = out
        .log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(group))
    else {
        return Ok(None);
    };
    let arn = found
        .arn()
        .map(str::to_string)
        .unwrap_or_else(|| log_group_arn(&ctx.want, group));
    let bare = arn.trim_end_matches(":*").to_string();
    let ours = match ctx
        .clients
        .logs
        .list_tags_for_resource()
        .resource_arn(&bare)
        .send()
        .await
    {
        Ok(tags) => tags
            .tags()
            .is_some_and(|t| ctx.is_ours(t.iter().map(|(k, v)| (k.as_str(), v.as_str())))),
        Err(e) if code(&e).as_deref() == Some("ResourceNotFoundException") => false,
        Err(e) => return Err(sdk_error("cloudwatch log group (ListTagsForResource)", e)),
    };
    Ok(Some((arn, ours)))
}

/// The role's ARN, whether this stack made it, and whether its policies are as wanted.
async fn read_role(
    ctx: &Ctx,
    role: &str,
    group: &str,
) -> Result<Option<(String, bool, Vec<String>)>> {
    let found = match ctx.clients.iam.get_role().role_name(role).send().await {
        Ok(out) => match out.role() {
            Some(r) => r.clone(),
            None => return Ok(None),
        },
        Err(e) if code(&e).as_deref() == Some("NoSuchEntity") => return Ok(None),
        Err(e) => return Err(sdk_error("iam role (GetRole)", e)),
    };
    let ours = ctx.is_ours(found.tags().iter().map(|t| (t.key(), t.value())));
    let mut details = Vec::new();
    let trust = found.assume_role_policy_document().and_then(parse_policy);
    if trust.as_ref() != Some(&trust_policy(&ctx.want)) {
        details.push("trust policy: only this trail may assume the role".into());
    }
    let inline = match ctx
        .clients
        .iam
        .get_role_policy()
        .role_name(role)
        .policy_name(INLINE_POLICY)
        .send()
        .await
    {
        Ok(out) => parse_policy(out.policy_document()),
        Err(e) if code(&e).as_deref() == Some("NoSuchEntity") => None,
        Err(e) => return Err(sdk_error("iam role (GetRolePolicy)", e)),
    };
    if inline.as_ref() != Some(&role_policy(&ctx.want, group)) {
        details.push(format!(
            "inline policy {INLINE_POLICY}: write this log group's CloudTrail streams only"
        ));
    }
    Ok(Some((found.arn().to_string(), ours, details)))
}

pub(crate) async fn apply(ctx: &mut Ctx) -> Result<Vec<Change>> {
    let Some(group) = ctx.want.cfg.log_group.clone() else {
        return Ok(Vec::new());
    };
    let role = ctx.want.log_role();
    let mut changes = Vec::new();

    // The log group.
    let group_change = match read_group(ctx, &group).await? {
        Some((arn, ours)) => {
            ctx.resources.insert("log_group_arn".into(), arn);
            let note = if ours {
                "created by this stack"
            } else {
                "existing log group reused (not created by spintrail)"
            };
            Change::new("cloudwatch log group", &group, Action::NoChange).with(vec![note.into()])
        }
        None => {
            if ctx.apply {
                let mut create = ctx.clients.logs.create_log_group().log_group_name(&group);
                for (k, v) in ctx.managed_tags() {
                    create = create.tags(k, v);
                }
                create
                    .send()
                    .await
                    .map_err(|e| sdk_error("cloudwatch log group (CreateLogGroup)", e))?;
            }
            ctx.resources
                .insert("log_group_arn".into(), log_group_arn(&ctx.want, &group));
            Change::new("cloudwatch log group", &group, Action::Create)
        }
    };
    changes.push(group_change);

    // The role.
    let trust = trust_policy(&ctx.want).to_string();
    let inline = role_policy(&ctx.want, &group).to_string();
    let role_change = match read_role(ctx, &role, &group).await? {
        Some((arn, ours, details)) => {
            ctx.resources.insert("log_role_arn".into(), arn);
            if !ours && !details.is_empty() {
                return Err(Error::Aws {
                    step: "iam role".into(),
                    message: format!(
                        "role {role:?} exists and was not created by spintrail stack {:?}; its \
                         policies differ ({}). spintrail never changes resources it did not \
                         create: choose another role name (--log-role)",
                        ctx.want.cfg.name,
                        details.join("; ")
                    ),
                });
            }
            let change = Change::diff("iam role", &role, true, details);
            if ctx.apply && change.changes() {
                ctx.clients
                    .iam
                    .update_assume_role_policy()
                    .role_name(&role)
                    .policy_document(&trust)
                    .send()
                    .await
                    .map_err(|e| sdk_error("iam role (UpdateAssumeRolePolicy)", e))?;
            }
            change
        }
        None => {
            let arn = format!(
                "arn:{}:iam::{}:role/{role}",
                ctx.want.partition, ctx.want.account
            );
            if ctx.apply {
                let tags = ctx
                    .managed_tags()
                    .iter()
                    .map(|(k, v)| Tag::builder().key(k).value(v).build())
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                let out = ctx
                    .clients
                    .iam
                    .create_role()
                    .role_name(&role)
                    .description("Lets CloudTrail deliver this trail's events to CloudWatch Logs")
                    .assume_role_policy_document(&trust)
                    .set_tags(Some(tags))
                    .send()
                    .await
                    .map_err(|e| sdk_error("iam role (CreateRole)", e))?;
                let created = out.role().map(|r| r.arn().to_string()).unwrap_or(arn);
                ctx.resources.insert("log_role_arn".into(), created);
            } else {
                ctx.resources.insert("log_role_arn".into(), arn);
            }
            Change::new("iam role", &role, Action::Create)
        }
    };
    if ctx.apply && role_change.changes() {
        ctx.clients
            .iam
            .put_role_policy()
            .role_name(&role)
            .policy_name(INLINE_POLICY)
            .policy_document(&inline)
            .send()
            .await
            .map_err(|e| sdk_error("iam role (PutRolePolicy)", e))?;
    }
    changes.push(role_change);
    Ok(changes)
}

/// Deletes the role (if this stack made it) and, when `delete_data`, the log group.
pub(crate) async fn destroy(ctx: &Ctx, delete_data: bool) -> Result<Vec<Change>> {
    let Some(group) = ctx.want.cfg.log_group.clone() else {
        return Ok(Vec::new());
    };
    let role = ctx.want.log_role();
    let mut changes = Vec::new();
    match read_role(ctx, &role, &group).await? {
        None => changes.push(
            Change::new("iam role", &role, Action::NoChange).with(vec!["does not exist".into()]),
        ),
        Some((_, false, _)) => changes.push(
            Change::new("iam role", &role, Action::Keep)
                .with(vec!["not created by this stack: left untouched".into()]),
        ),
        Some((_, true, _)) => {
            let iam = &ctx.clients.iam;
            match iam
                .delete_role_policy()
                .role_name(&role)
                .policy_name(INLINE_POLICY)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if code(&e).as_deref() == Some("NoSuchEntity") => {}
                Err(e) => return Err(sdk_error("iam role (DeleteRolePolicy)", e)),
            }
            iam.delete_role()
                .role_name(&role)
                .send()
                .await
                .map_err(|e| sdk_error("iam role (DeleteRole)", e))?;
            changes.push(Change::new("iam role", &role, Action::Delete));
        }
    }
    let kind = "cloudwatch log group";
    match read_group(ctx, &group).await? {
        None => changes
            .push(Change::new(kind, &group, Action::NoChange).with(vec!["does not exist".into()])),
        Some((_, false)) => changes.push(
            Change::new(kind, &group, Action::Keep)
                .with(vec!["not created by this stack: left untouched".into()]),
        ),
        Some((_, true)) if !delete_data => {
            changes.push(Change::new(kind, &group, Action::Keep).with(vec![
                "log data kept (pass --delete-bucket to delete it)".into(),
            ]))
        }
        Some((_, true)) => {
            ctx.clients
                .logs
                .delete_log_group()
                .log_group_name(&group)
                .send()
                .await
                .map_err(|e| sdk_error("cloudwatch log group (DeleteLogGroup)", e))?;
            changes.push(Change::new(kind, &group, Action::Delete));
        }
    }
    Ok(changes)
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
