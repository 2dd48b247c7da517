//! The one error type of the core. The Python binding maps each variant to a subclass of
//! `spintrail.SpintrailError`; `Display` keeps the whole cause chain so nothing is lost on the way.

use std::path::PathBuf;

/// Result alias used across the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
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
        source: std::io::Error,
    },

    /// Anything DataFusion or Arrow reports that is not one of ours.
    #[error("{0}")]
    Engine(String),
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
            source,
        }
    }
}

impl From<datafusion::error::DataFusionError> for Error {
    fn from(err: datafusion::error::DataFusionError) -> Self {
        use datafusion::error::DataFusionError as D;
        // Our own errors travel through DataFusion wrapped as External; take them back out.
        let err = match err {
            D::External(inner) => match inner.downcast::<Error>() {
                Ok(ours) => return *ours,
                Err(other) => D::External(other),
            },
            D::Context(ctx, inner) => {
                return match Error::from(*inner) {
                    Error::Engine(msg) => Error::Engine(format!("{ctx}: {msg}")),
                    ours => ours,
                }
            }
            other => other,
        };
        match err {
            D::SQL(e, _) => Error::Sql(format!("SQL syntax error: {e}")),
            D::Plan(msg) => Error::Sql(msg),
            D::SchemaError(e, _) => Error::Sql(e.to_string()),
            D::NotImplemented(msg) => {
                Error::Sql(format!("not supported by the local engine: {msg}"))
            }
            D::ExecutionJoin(e) => Error::Engine(format!("worker failed: {e}")),
            other => Error::Engine(other.strip_backtrace()),
        }
    }
}

impl From<arrow::error::ArrowError> for Error {
    fn from(err: arrow::error::ArrowError) -> Self {
        match err {
            arrow::error::ArrowError::ExternalError(inner) => match inner.downcast::<Error>() {
                Ok(ours) => *ours,
                Err(other) => Error::Engine(other.to_string()),
            },
            other => Error::Engine(other.to_string()),
        }
    }
}

impl From<Error> for datafusion::error::DataFusionError {
    fn from(err: Error) -> Self {
        datafusion::error::DataFusionError::External(Box::new(err))
    }
}
