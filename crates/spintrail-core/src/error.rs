//! The one error type of the core. The Python binding maps each variant to a subclass of
//! `spintrail.SpintrailError`; `Display` keeps the whole cause chain so nothing is lost on the way.

use std::path::PathBuf;

use crate::local::sql::messages::{self, scrub};

/// Result alias used across the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// A source path that does not exist or cannot be listed.
    #[error("source {path}: {reason}")]
    Source { path: String, reason: String },

    /// A log file that cannot be read at all (I/O, corrupt gzip, not JSON, not CloudTrail).
    #[error("{path}: {reason}")]
    File { path: PathBuf, reason: String },

    /// One record of a log file that is not a valid CloudTrail event.
    #[error("{path}: record {index}: {reason}")]
    Record {
        path: PathBuf,
        index: usize,
        reason: String,
    },

    /// SQL that does not parse, names something unknown, or uses what the local engine lacks.
    #[error("{0}")]
    Sql(String),

    /// A Trino function the local engine does not provide.
    #[error("function {name} is not supported by the local engine{hint}")]
    UnsupportedFunction { name: String, hint: String },

    /// Bad arguments to a spintrail API call (not data, not SQL).
    #[error("{0}")]
    InvalidArgument(String),

    /// The query was cancelled (Ctrl-C or a cancelled task).
    #[error("query cancelled")]
    Cancelled,

    /// Writing files (generator, exports).
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::sync::Arc<std::io::Error>,
    },

    /// A provisioning step that failed: the message says what exists now and how to resume.
    #[error("{step}: {message}")]
    Aws { step: String, message: String },

    /// An Athena query that failed, was cancelled or timed out, a result that does not convert,
    /// or an Athena / S3 call around a query. Carries the query id when there is one.
    #[error("{message}{}", query_id.as_ref().map(|id| format!(" [query id {id}]")).unwrap_or_default())]
    Athena {
        kind: AthenaFailure,
        query_id: Option<String>,
        message: String,
    },

    /// A Logs Insights query on CloudWatch Logs that failed, was cancelled or timed out, or a
    /// CloudWatch Logs call around a query. Carries the query id when there is one.
    #[error("{message}{}", query_id.as_ref().map(|id| format!(" [query id {id}]")).unwrap_or_default())]
    CloudWatch {
        kind: CloudWatchFailure,
        query_id: Option<String>,
        message: String,
    },

    /// A query refused before it started because its estimated scan is above the session's
    /// or the query's cost limit (or cannot be estimated while a limit is set).
    #[error("{0}")]
    CostLimit(String),

    /// A query that needs more memory than the session's limit even when spilling to disk (or
    /// whose spill files outgrow the disk allowance). `limit` is the session's limit in bytes
    /// (known once the session adds it), `operator` the operator that asked for more memory.
    #[error("{}", memory_limit_message(*limit, operator.as_deref(), detail))]
    MemoryLimit {
        limit: Option<u64>,
        operator: Option<String>,
        detail: String,
    },

    /// Anything DataFusion or Arrow reports that is not one of ours.
    #[error("{0}")]
    Engine(String),
}

/// What a memory error says: the limit, the operator, what to do, and DataFusion's account of
/// the largest consumers.
fn memory_limit_message(limit: Option<u64>, operator: Option<&str>, detail: &str) -> String {
    let limit = limit
        .map(|l| format!(" of {}", crate::local::memory::human_size(l)))
        .unwrap_or_default();
    let operator = operator.map(|o| format!(" (in {o})")).unwrap_or_default();
    format!(
        "the query needs more memory than the session's memory limit{limit} allows, even \
         spilling to disk{operator}. Raise the limit (connect(..., memory_limit=\"8GB\"), CLI \
         --memory-limit 8GB), add filters so less data is held (a shorter eventtime range, \
         fewer columns or groups), or run it on Athena (engine=\"athena\").\nDetail: {detail}"
    )
}

/// What went wrong on the Athena side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AthenaFailure {
    /// An Athena or S3 call failed (access, network, a missing result object).
    Call,
    /// The query ran and FAILED; the message carries Athena's reason.
    Failed,
    /// The query was CANCELLED (by the caller or someone else).
    Cancelled,
    /// The query did not finish within the session's timeout, and was stopped.
    Timeout,
    /// The result could not be converted (a value that does not parse as its column's type).
    Result,
}

/// What went wrong on the CloudWatch Logs side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloudWatchFailure {
    /// A CloudWatch Logs call failed (access, network, an unknown log group, a query that does
    /// not parse: Logs Insights refuses those when they are started).
    Call,
    /// The query ended with status Failed.
    Failed,
    /// The query was Cancelled (by the caller, or someone else stopped it).
    Cancelled,
    /// The query did not finish within the session's timeout and was stopped, or Logs
    /// Insights ended it at its own time limit (status Timeout).
    Timeout,
}

impl Error {
    pub fn file(path: impl Into<PathBuf>, reason: impl std::fmt::Display) -> Self {
        Error::File {
            path: path.into(),
            reason: reason.to_string(),
        }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source: std::sync::Arc::new(source),
        }
    }
}

/// Our own error somewhere in a chain of wrappers (DataFusion and Arrow wrap what crosses them).
fn find_ours(err: &(dyn std::error::Error + 'static)) -> Option<Error> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(ours) = e.downcast_ref::<Error>() {
            return Some(ours.clone());
        }
        current = e.source();
    }
    None
}

/// Trino's error for an integer or decimal divided by zero, with the ways to get NULL instead.
pub const DIVISION_BY_ZERO: &str = "Division by zero (as in Athena: an integer or decimal \
     divided by 0 is an error, a double gives Infinity or NaN); to get NULL instead divide by \
     nullif(divisor, 0) or wrap the expression in try(...)";

/// Classifies a DataFusion error that carries none of ours (messages in Trino's terms).
fn classify(err: &datafusion::error::DataFusionError) -> Error {
    use datafusion::error::DataFusionError as D;
    // A dot on a text column found after planning (e.g. in WHERE, by type coercion).
    if err.to_string().contains(messages::FIELD_ACCESS_FAILURE) {
        return Error::Sql(messages::FIELD_OF_TEXT.into());
    }
    match err {
        D::Diagnostic(_, inner) => classify(inner),
        D::Shared(inner) => classify(inner),
        D::Context(ctx, inner) => match classify(inner) {
            Error::Engine(msg) => Error::Engine(format!("{ctx}: {msg}")),
            other => other,
        },
        D::SQL(e, _) => Error::Sql(format!("SQL syntax error: {e}")),
        D::Plan(msg) => Error::Sql(scrub(msg)),
        D::SchemaError(e, _) => Error::Sql(scrub(&e.to_string())),
        D::NotImplemented(msg) => {
            Error::Sql(format!("not supported by the local engine: {}", scrub(msg)))
        }
        D::ResourcesExhausted(detail) => Error::MemoryLimit {
            limit: None,
            operator: crate::local::memory::operator_of(detail).map(str::to_string),
            detail: detail.clone(),
        },
        D::ExecutionJoin(e) => Error::Engine(format!("worker failed: {e}")),
        D::ArrowError(e, _) if matches!(**e, arrow::error::ArrowError::DivideByZero) => {
            Error::Sql(DIVISION_BY_ZERO.into())
        }
        other => Error::Engine(scrub(&other.message())),
    }
}

/// DataFusion's "resources exhausted" anywhere in a chain (operators wrap what their inputs
/// report, some through Arrow's external error).
fn find_exhausted(err: &(dyn std::error::Error + 'static)) -> Option<Error> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(datafusion::error::DataFusionError::ResourcesExhausted(detail)) =
            e.downcast_ref::<datafusion::error::DataFusionError>()
        {
            return Some(Error::MemoryLimit {
                limit: None,
                operator: crate::local::memory::operator_of(detail).map(str::to_string),
                detail: detail.clone(),
            });
        }
        current = e.source();
    }
    None
}

impl From<datafusion::error::DataFusionError> for Error {
    fn from(err: datafusion::error::DataFusionError) -> Self {
        find_ours(&err)
            .or_else(|| find_exhausted(&err))
            .unwrap_or_else(|| classify(&err))
    }
}

impl From<arrow::error::ArrowError> for Error {
    fn from(err: arrow::error::ArrowError) -> Self {
        find_ours(&err)
            .or_else(|| find_exhausted(&err))
            .unwrap_or_else(|| Error::Engine(err.to_string()))
    }
}

impl From<Error> for datafusion::error::DataFusionError {
    fn from(err: Error) -> Self {
        datafusion::error::DataFusionError::External(Box::new(err))
    }
}
