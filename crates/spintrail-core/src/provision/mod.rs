//! Provisioning: the AWS side of spintrail (log bucket, trail, Athena workgroup, Glue table and
//! optional CloudWatch Logs delivery) as plan / apply / destroy through the official AWS SDK.
//!
//! Desired state is a [`StackConfig`] (from TOML, JSON or Python keyword arguments). Every step
//! reads what exists, compares it with what is wanted, and — when applying — makes it so, so
//! `plan` and `apply` share one code path and a second `apply` changes nothing. Each resource
//! implements that shape once (`resource.rs`: the `Resource` trait and the one driver). What
//! spintrail creates carries the tags (or Glue parameters) `spintrail:managed=true` and
//! `spintrail:stack=<name>`; `destroy` removes only what carries them.

mod athena;
mod aws;
mod bucket;
mod config;
mod ddl;
mod doctor;
mod glue;
mod logs;
mod resource;
mod trail;

use std::collections::BTreeMap;

use serde::Serialize;

pub use crate::aws::ConnectOptions;
pub use config::StackConfig;
pub use doctor::{Diagnosis, Finding, Severity};

use resource::Driver;

use crate::Result;

/// The tag key that marks a resource spintrail created.
pub const MANAGED_TAG: &str = "spintrail:managed";
/// The tag key that names the stack a resource belongs to.
pub const STACK_TAG: &str = "spintrail:stack";

/// What a step does (or would do) to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    NoChange,
    Delete,
    /// Left in place on purpose (destroy keeps the log bucket; resources spintrail did not create).
    Keep,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::NoChange => "no change",
            Action::Delete => "delete",
            Action::Keep => "keep",
        }
    }
}

/// One resource in a plan or in the outcome of apply / destroy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// Resource kind, e.g. `s3 bucket`, `cloudtrail trail`, `glue table`.
    pub kind: String,
    /// Its name (or ARN when that is what identifies it).
    pub name: String,
    pub action: Action,
    /// What differs (for updates), or why it is kept.
    pub details: Vec<String>,
}

impl Change {
    fn new(kind: &str, name: impl Into<String>, action: Action) -> Self {
        Change {
            kind: kind.to_string(),
            name: name.into(),
            action,
            details: Vec::new(),
        }
    }

    fn with(mut self, details: Vec<String>) -> Self {
        self.details = details;
        self
    }

    /// An existing resource compared with the desired state: update when something differs.
    fn compared(kind: &str, name: impl Into<String>, details: Vec<String>) -> Self {
        let action = if details.is_empty() {
            Action::NoChange
        } else {
            Action::Update
        };
        Change::new(kind, name, action).with(details)
    }

    fn changes(&self) -> bool {
        !matches!(self.action, Action::NoChange | Action::Keep)
    }
}

/// The result of `plan`, `apply` or `destroy`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `plan`, `apply` or `destroy`.
    pub operation: String,
    pub stack: String,
    pub region: String,
    pub account: String,
    /// Per resource, in the order the steps run.
    pub changes: Vec<Change>,
    /// Names and ARNs of the stack's resources (bucket, trail_arn, workgroup, table, ...).
    pub resources: BTreeMap<String, String>,
}

/// Everything the steps share: clients, the resolved desired state, and progress so far.
pub(crate) struct Ctx {
    pub clients: aws::Clients,
    pub want: config::Resolved,
    /// Make changes (apply / destroy) or only read (plan).
    pub apply: bool,
    /// Destroy: delete the log bucket, the log group and their data too.
    pub delete_data: bool,
    /// Whether the log bucket exists (in plan mode, steps after a missing bucket do not read it).
    pub bucket_exists: bool,
    /// Resource names and ARNs for the report.
    pub resources: BTreeMap<String, String>,
}

impl Ctx {
    fn managed_tags(&self) -> Vec<(String, String)> {
        let mut tags: Vec<(String, String)> = self
            .want
            .cfg
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        tags.push((MANAGED_TAG.to_string(), "true".to_string()));
        tags.push((STACK_TAG.to_string(), self.want.cfg.name.clone()));
        tags
    }

    /// Whether a tag set marks a resource of this stack.
    fn is_ours<'a>(&self, tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> bool {
        let mut managed = false;
        let mut stack = false;
        for (k, v) in tags {
            managed |= k == MANAGED_TAG && v == "true";
            stack |= k == STACK_TAG && v == self.want.cfg.name;
        }
        managed && stack
    }
}

/// An error before the first step (credentials, STS): says that nothing was changed.
fn nothing_changed(err: crate::Error) -> crate::Error {
    match err {
        crate::Error::Aws { step, message } => crate::Error::Aws {
            step,
            message: format!("{message}\nNothing was changed."),
        },
        other => other,
    }
}

/// A provisioned stack: desired state plus how to reach AWS.
pub struct Stack {
    pub config: StackConfig,
    pub connect: ConnectOptions,
}

impl Stack {
    pub fn new(config: StackConfig, connect: ConnectOptions) -> Result<Self> {
        config.validate()?;
        Ok(Stack { config, connect })
    }

    async fn context(&self, apply: bool, delete_data: bool) -> Result<Ctx> {
        let clients = aws::Clients::connect(&self.connect, self.config.region.as_deref()).await?;
        let account = clients.account_id().await?;
        let want = config::Resolved::new(self.config.clone(), clients.region.clone(), account)?;
        let mut resources = BTreeMap::new();
        resources.insert("bucket".into(), want.cfg.bucket.clone());
        resources.insert("trail".into(), want.cfg.trail.clone());
        resources.insert("trail_arn".into(), want.trail_arn.clone());
        resources.insert("workgroup".into(), want.cfg.workgroup.clone());
        resources.insert("workgroup_arn".into(), want.workgroup_arn());
        resources.insert("database".into(), want.cfg.database.clone());
        resources.insert("table".into(), want.cfg.table.clone());
        resources.insert("results".into(), want.results.clone());
        resources.insert("location".into(), want.table_location());
        if let Some(location) = &want.cfg.parquet_location {
            resources.insert("parquet_table".into(), want.cfg.parquet_table.clone());
            resources.insert("parquet_location".into(), location.clone());
        }
        if want.cfg.dedup_view {
            resources.insert("dedup_view".into(), format!("{}_dedup", want.cfg.table));
        }
        if let Some(group) = &want.cfg.log_group {
            resources.insert("log_group".into(), group.clone());
            resources.insert("log_role".into(), want.log_role());
        }
        Ok(Ctx {
            clients,
            want,
            apply,
            delete_data,
            bucket_exists: false,
            resources,
        })
    }

    fn report(&self, ctx: Ctx, operation: &str, changes: Vec<Change>) -> Report {
        Report {
            operation: operation.to_string(),
            stack: ctx.want.cfg.name.clone(),
            region: ctx.want.region.clone(),
            account: ctx.want.account.clone(),
            changes,
            resources: ctx.resources,
        }
    }

    /// Reads what exists and reports, per resource, create / update / no change. Changes nothing.
    pub async fn plan(&self) -> Result<Report> {
        self.converge("plan").await
    }

    /// Makes AWS match the desired state, in a working order, and starts logging.
    pub async fn apply(&self) -> Result<Report> {
        self.converge("apply").await
    }

    async fn converge(&self, operation: &'static str) -> Result<Report> {
        let mut ctx = self
            .context(operation == "apply", false)
            .await
            .map_err(nothing_changed)?;
        let mut run = Driver::new(operation);
        run.converge::<bucket::LogBucket>(&mut ctx).await?;
        run.converge::<bucket::PublicAccessBlock>(&mut ctx).await?;
        run.converge::<bucket::Encryption>(&mut ctx).await?;
        run.converge::<bucket::Lifecycle>(&mut ctx).await?;
        // The policy before CreateTrail: CreateTrail checks that CloudTrail may write.
        run.converge::<bucket::BucketPolicy>(&mut ctx).await?;
        if ctx.want.cfg.log_group.is_some() {
            run.converge::<logs::LogGroup>(&mut ctx).await?;
            run.converge::<logs::LogRole>(&mut ctx).await?;
        }
        run.converge::<trail::Trail>(&mut ctx).await?;
        run.converge::<trail::Logging>(&mut ctx).await?;
        run.converge::<athena::Workgroup>(&mut ctx).await?;
        run.converge::<glue::Database>(&mut ctx).await?;
        run.converge::<glue::Table>(&mut ctx).await?;
        if ctx.want.cfg.dedup_view {
            run.converge::<glue::DedupView>(&mut ctx).await?;
        }
        if ctx.want.cfg.parquet_location.is_some() {
            run.converge::<glue::ParquetTable>(&mut ctx).await?;
        }
        Ok(self.report(ctx, operation, run.changes))
    }

    /// Removes what this stack created, in reverse order. The log bucket (and the CloudWatch log
    /// group) and their data stay unless `delete_bucket` is true.
    pub async fn destroy(&self, delete_bucket: bool) -> Result<Report> {
        let ctx = self
            .context(true, delete_bucket)
            .await
            .map_err(nothing_changed)?;
        let mut run = Driver::new("destroy");
        if ctx.want.cfg.parquet_location.is_some() {
            run.destroy::<glue::ParquetTable>(&ctx).await?;
        }
        if ctx.want.cfg.dedup_view {
            run.destroy::<glue::DedupView>(&ctx).await?;
        }
        run.destroy::<glue::Table>(&ctx).await?;
        run.destroy::<glue::Database>(&ctx).await?;
        run.destroy::<athena::Workgroup>(&ctx).await?;
        run.destroy::<trail::Trail>(&ctx).await?;
        if ctx.want.cfg.log_group.is_some() {
            run.destroy::<logs::LogRole>(&ctx).await?;
            run.destroy::<logs::LogGroup>(&ctx).await?;
        }
        run.destroy::<bucket::LogBucket>(&ctx).await?;
        Ok(self.report(ctx, "destroy", run.changes))
    }

    /// The `CREATE EXTERNAL TABLE` statement equivalent to the Glue table `apply` creates.
    /// Reads the caller's account only when `accounts` is not given.
    pub async fn ddl(&self) -> Result<String> {
        let want = if self.config.accounts.is_empty() || self.config.region.is_none() {
            let clients =
                aws::Clients::connect(&self.connect, self.config.region.as_deref()).await?;
            let account = if self.config.accounts.is_empty() {
                clients.account_id().await?
            } else {
                self.config.accounts[0].clone()
            };
            config::Resolved::new(self.config.clone(), clients.region.clone(), account)?
        } else {
            let region = self.config.region.clone().unwrap_or_default();
            let account = self.config.accounts[0].clone();
            config::Resolved::new(self.config.clone(), region, account)?
        };
        ddl::create_table(&want)
    }
}
