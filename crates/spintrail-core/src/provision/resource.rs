//! The one shape of every provisioning step: read what exists, compare it with what is wanted,
//! then create or update it (plan stops after the comparison), and on destroy delete it, but only
//! when it carries this stack's marks. The driver here writes the report lines these branches
//! share ("does not exist", "not created by this stack") and, when a step fails, says what was
//! done before it and how to resume.

use super::aws::aws_error;
use super::{Action, Change, Ctx};
use crate::{Error, Result};

/// An existing resource as read from AWS.
pub(crate) struct Found<S> {
    /// What the resource looks like now, as far as the step manages it.
    pub state: S,
    /// Whether it carries this stack's tags (Glue: parameters). Settings of the log bucket count
    /// as ours: spintrail manages them on a reused bucket too.
    pub ours: bool,
}

impl<S> Found<S> {
    pub fn ours(state: S) -> Self {
        Found { state, ours: true }
    }
}

/// What `delete` did with a resource this stack created.
pub(crate) enum Removal {
    Deleted(Vec<String>),
    /// Kept on purpose, with the reason for the report.
    Kept(&'static str),
}

/// One resource (or one setting of the log bucket) that plan / apply converge.
pub(crate) trait Resource: Sized {
    /// What [`Resource::read`] learns about an existing resource.
    type State;
    /// The kind in report lines, also the failing step in errors (`cloudtrail trail`).
    const KIND: &'static str;

    /// The desired state, from the stack's configuration and what earlier steps found.
    fn desired(ctx: &Ctx) -> Result<Self>;

    /// The name (or ARN) that identifies it in the report.
    fn name(&self) -> &str;

    /// The resource as it exists now; `None` when absent.
    async fn read(&self, ctx: &Ctx) -> Result<Option<Found<Self::State>>>;

    /// What differs from the desired state, one line each; empty when nothing does.
    fn diff(&self, _have: &Self::State) -> Result<Vec<String>> {
        Ok(Vec::new())
    }

    /// A note on an existing resource, by whether this stack created it.
    fn note(&self, _ours: bool) -> Option<&'static str> {
        None
    }

    /// What to do about a resource of the same name that is not ours and differs.
    fn remedy(&self) -> &'static str {
        "choose another name"
    }

    /// The change: create when absent, update when something differs, else no change. A
    /// resource that is not ours may be reused as it is, never changed.
    fn plan(&self, ctx: &Ctx, found: Option<&Found<Self::State>>) -> Result<Change> {
        let Some(found) = found else {
            return Ok(Change::new(Self::KIND, self.name(), Action::Create));
        };
        let details = self.diff(&found.state)?;
        if !found.ours && !details.is_empty() {
            // "workgroup", "trail", "table", "role": the kind's last word.
            let noun = Self::KIND.rsplit(' ').next().unwrap_or(Self::KIND);
            return Err(aws_error(
                Self::KIND,
                format!(
                    "{noun} {:?} exists and was not created by spintrail stack {:?}; it differs \
                     ({}). spintrail never changes resources it did not create: {}",
                    self.name(),
                    ctx.want.cfg.name,
                    details.join("; "),
                    self.remedy()
                ),
            ));
        }
        let mut change = Change::compared(Self::KIND, self.name(), details);
        change
            .details
            .extend(self.note(found.ours).map(String::from));
        Ok(change)
    }

    /// Records what later steps need to know about what was found (ARNs, existence).
    fn observe(&self, _ctx: &mut Ctx, _found: Option<&Found<Self::State>>) {}

    /// Makes the absent resource.
    async fn create(&self, ctx: &mut Ctx) -> Result<()>;

    /// Makes the existing resource match; by default the same call as creating it.
    async fn update(&self, ctx: &mut Ctx, _have: &Self::State) -> Result<()> {
        self.create(ctx).await
    }
}

/// A resource that destroy removes (the bucket's settings go with the bucket).
pub(crate) trait Removable: Resource {
    /// Removes the resource, which this stack created, or says why it stays.
    async fn delete(&self, ctx: &Ctx, have: &Self::State) -> Result<Removal>;
}

/// Runs the steps in order; a failure names the step, lists what was done, and says how to resume.
pub(crate) struct Driver {
    operation: &'static str,
    pub changes: Vec<Change>,
}

impl Driver {
    pub fn new(operation: &'static str) -> Self {
        Driver {
            operation,
            changes: Vec::new(),
        }
    }

    /// Plan (read and compare) or apply (and make it so) one resource.
    pub async fn converge<R: Resource>(&mut self, ctx: &mut Ctx) -> Result<()> {
        let step = converge(ctx, &R::desired(ctx)?).await;
        self.record(step)
    }

    /// Delete one resource if this stack created it.
    pub async fn destroy<R: Removable>(&mut self, ctx: &Ctx) -> Result<()> {
        let step = destroy(ctx, &R::desired(ctx)?).await;
        self.record(step)
    }

    fn record(&mut self, step: Result<Change>) -> Result<()> {
        match step {
            Ok(change) => {
                self.changes.push(change);
                Ok(())
            }
            Err(err) => Err(self.explain(err)),
        }
    }

    fn explain(&self, err: Error) -> Error {
        let Error::Aws { step, message } = err else {
            return err;
        };
        let done: Vec<String> = self
            .changes
            .iter()
            .map(|c| format!("{} {} ({})", c.kind, c.name, c.action.as_str()))
            .collect();
        let state = if done.is_empty() && self.operation == "plan" {
            "Nothing was changed.".to_string()
        } else if done.is_empty() {
            "Nothing was changed before this step (the failing step may have been partly done: \
             the next run finds and finishes it)."
                .to_string()
        } else if self.operation == "plan" {
            format!("Read before this step: {}.", done.join(", "))
        } else {
            format!(
                "Done before this step (kept, not rolled back): {}. The failing step may have \
                 been partly done: the next run finds and finishes it.",
                done.join(", ")
            )
        };
        aws_error(
            step,
            format!(
                "{message}\n{state}\nFix the cause and run `spintrail provision {}` again: it resumes \
                 from what exists.",
                self.operation
            ),
        )
    }
}

async fn converge<R: Resource>(ctx: &mut Ctx, resource: &R) -> Result<Change> {
    let found = resource.read(ctx).await?;
    resource.observe(ctx, found.as_ref());
    let change = resource.plan(ctx, found.as_ref())?;
    if ctx.apply && change.changes() {
        match &found {
            None => {
                if let Err(err) = resource.create(ctx).await {
                    recover_create(ctx, resource, err).await?;
                }
            }
            Some(found) => resource.update(ctx, &found.state).await?,
        }
    }
    Ok(change)
}

/// After a failed create: when the resource exists now, the create did happen (its answer was
/// lost, and the SDK's retry was told "already exists", or a call after the first one failed),
/// so finish it as an update; otherwise the create's error stands.
async fn recover_create<R: Resource>(ctx: &mut Ctx, resource: &R, err: Error) -> Result<()> {
    let Ok(Some(now)) = resource.read(ctx).await else {
        return Err(err);
    };
    resource.observe(ctx, Some(&now));
    match resource.plan(ctx, Some(&now)) {
        Ok(redo) if redo.changes() => resource.update(ctx, &now.state).await,
        Ok(_) => Ok(()),
        Err(_) => Err(err),
    }
}

async fn destroy<R: Removable>(ctx: &Ctx, resource: &R) -> Result<Change> {
    let change = |action| Change::new(R::KIND, resource.name(), action);
    let Some(found) = resource.read(ctx).await? else {
        return Ok(change(Action::NoChange).with(vec!["does not exist".into()]));
    };
    if !found.ours {
        return Ok(
            change(Action::Keep).with(vec!["not created by this stack: left untouched".into()])
        );
    }
    Ok(match resource.delete(ctx, &found.state).await? {
        Removal::Deleted(details) => change(Action::Delete).with(details),
        Removal::Kept(reason) => change(Action::Keep).with(vec![reason.into()]),
    })
}

/// A value in a diff line; absent values read `none`.
pub(crate) trait Shown: PartialEq {
    fn shown(&self) -> String;
}

impl Shown for bool {
    fn shown(&self) -> String {
        self.to_string()
    }
}

impl Shown for String {
    fn shown(&self) -> String {
        self.clone()
    }
}

impl<T: std::fmt::Display + PartialEq> Shown for Option<T> {
    fn shown(&self) -> String {
        self.as_ref()
            .map_or_else(|| "none".to_string(), ToString::to_string)
    }
}

/// Two values shown as one (`SSE_KMS key-id`).
impl<A: Shown, B: Shown> Shown for (A, B) {
    fn shown(&self) -> String {
        format!("{} {}", self.0.shown(), self.1.shown())
    }
}

/// The lines of a diff, `what: have -> want`, one for each field that differs.
#[derive(Default)]
pub(crate) struct Diff(Vec<String>);

impl Diff {
    pub fn field<T: Shown>(mut self, what: &str, have: &T, want: &T) -> Self {
        if have != want {
            self.0
                .push(format!("{what}: {} -> {}", have.shown(), want.shown()));
        }
        self
    }

    pub fn lines(self) -> Vec<String> {
        self.0
    }
}
