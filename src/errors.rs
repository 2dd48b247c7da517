//! The Python exception tree, all under `spintrail.SpintrailError`, and the mapping from the
//! core's error enum. Messages keep the whole cause chain.

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyOSError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyType};
use spintrail_core::error::{AthenaFailure, CloudWatchFailure};
use spintrail_core::Error;

create_exception!(
    spintrail,
    SpintrailError,
    PyException,
    "Base class of every error spintrail raises."
);
create_exception!(
    spintrail,
    SourceError,
    SpintrailError,
    "A source (folder, file, glob) that does not exist or cannot be listed."
);
create_exception!(
    spintrail,
    LogFileError,
    SpintrailError,
    "A log file or record that is not valid CloudTrail; the message names the file (and record)."
);
create_exception!(
    spintrail,
    SqlError,
    SpintrailError,
    "SQL that does not parse or plan; the message gives the position or the name at fault."
);
create_exception!(
    spintrail,
    UnsupportedFunctionError,
    SqlError,
    "A Trino function the local engine does not provide; the message names it."
);
create_exception!(
    spintrail,
    InvalidArgumentError,
    SpintrailError,
    "An argument to a spintrail call that is not valid."
);
create_exception!(
    spintrail,
    QueryCancelledError,
    SpintrailError,
    "The query was cancelled."
);
create_exception!(
    spintrail,
    ProvisionError,
    SpintrailError,
    "A provisioning step that failed; the message names the step, what exists and how to resume."
);
create_exception!(
    spintrail,
    AthenaError,
    SpintrailError,
    "An error on the Athena engine; `query_id` names the query when there is one."
);
create_exception!(
    spintrail,
    AthenaQueryError,
    AthenaError,
    "An Athena query that FAILED; the message carries Athena's reason."
);
create_exception!(
    spintrail,
    QueryTimeoutError,
    AthenaError,
    "An Athena query that did not finish within the session's timeout (it was stopped)."
);
create_exception!(
    spintrail,
    AthenaResultError,
    AthenaError,
    "An Athena result that cannot be converted to Arrow; the message names the column and the way out."
);
create_exception!(
    spintrail,
    CostLimitError,
    SpintrailError,
    "A query refused before it started: its estimated scan is above `max_cost` / `max_bytes` (the \
     message states the estimate, the limit and what to do)."
);
create_exception!(
    spintrail,
    CloudWatchError,
    SpintrailError,
    "An error on the CloudWatch Logs engine: a Logs Insights query that failed, or a call around \
     it; `query_id` names the query when there is one."
);
create_exception!(
    spintrail,
    CloudWatchTimeoutError,
    CloudWatchError,
    "A Logs Insights query that did not finish within the session's timeout (it was stopped), or \
     that CloudWatch Logs ended at its own time limit."
);
create_exception!(
    spintrail,
    MemoryLimitError,
    SpintrailError,
    "A query that needs more memory than the session's memory_limit even spilling to disk; the \
     message names the limit, the operator, and what to do (raise memory_limit, add filters, or \
     use engine=\"athena\")."
);
create_exception!(
    spintrail,
    EngineError,
    SpintrailError,
    "An error inside the query engine that is none of the above."
);

/// `OutputError(SpintrailError, OSError)`: writing files failed. Two bases, so it is made with
/// Python's `type()` once (pyo3's `create_exception!` takes one base).
static OUTPUT_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn output_error_type(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    OUTPUT_ERROR
        .get_or_try_init(py, || {
            let namespace = PyDict::new(py);
            namespace.set_item("__module__", "spintrail")?;
            namespace.set_item(
                "__doc__",
                "Writing files failed (generator output, exports): an OSError with `errno` and \
                 `filename`, and a SpintrailError.",
            )?;
            let bases = (py.get_type::<SpintrailError>(), py.get_type::<PyOSError>());
            let made = py
                .get_type::<PyType>()
                .call1(("OutputError", bases, namespace))?;
            Ok(made.cast_into::<PyType>()?.unbind())
        })
        .map(|t| t.bind(py))
}

fn output_error(path: &std::path::Path, source: &std::io::Error, message: String) -> PyErr {
    Python::attach(|py| {
        let errno = source.raw_os_error().unwrap_or(0);
        match output_error_type(py) {
            Ok(t) => PyErr::from_type(t.clone(), (errno, message, path.display().to_string())),
            Err(err) => err,
        }
    })
}

/// The name of the Python class an error maps to. A stream's error crosses the Arrow C stream
/// interface as text only, so the reader tags its message with it (`[spintrail:Name] ...`) and
/// the Python wrapper raises that class again.
pub fn class_name(err: &Error) -> &'static str {
    match err {
        Error::Source { .. } => "SourceError",
        Error::File { .. } | Error::Record { .. } => "LogFileError",
        Error::Io { .. } => "OutputError",
        Error::Sql(_) => "SqlError",
        Error::UnsupportedFunction { .. } => "UnsupportedFunctionError",
        Error::InvalidArgument(_) => "InvalidArgumentError",
        Error::Cancelled => "QueryCancelledError",
        Error::Aws { .. } => "ProvisionError",
        Error::Engine(_) => "EngineError",
        Error::CostLimit(_) => "CostLimitError",
        Error::MemoryLimit { .. } => "MemoryLimitError",
        Error::Athena { kind, .. } => match kind {
            AthenaFailure::Call => "AthenaError",
            AthenaFailure::Failed => "AthenaQueryError",
            AthenaFailure::Cancelled => "QueryCancelledError",
            AthenaFailure::Timeout => "QueryTimeoutError",
            AthenaFailure::Result => "AthenaResultError",
        },
        Error::CloudWatch { kind, .. } => match kind {
            CloudWatchFailure::Call | CloudWatchFailure::Failed => "CloudWatchError",
            CloudWatchFailure::Cancelled => "QueryCancelledError",
            CloudWatchFailure::Timeout => "CloudWatchTimeoutError",
        },
    }
}

/// Converts a core error into the matching Python exception.
pub fn to_py(err: Error) -> PyErr {
    let message = err.to_string();
    match err {
        Error::Source { .. } => SourceError::new_err(message),
        Error::File { .. } | Error::Record { .. } => LogFileError::new_err(message),
        Error::Io { path, source } => {
            let reason = source.to_string();
            output_error(&path, &source, reason)
        }
        Error::Sql(_) => SqlError::new_err(message),
        Error::UnsupportedFunction { .. } => UnsupportedFunctionError::new_err(message),
        Error::InvalidArgument(_) => InvalidArgumentError::new_err(message),
        Error::Cancelled => QueryCancelledError::new_err(message),
        Error::Aws { .. } => ProvisionError::new_err(message),
        Error::Engine(_) => EngineError::new_err(message),
        Error::CostLimit(_) => CostLimitError::new_err(message),
        Error::MemoryLimit { limit, .. } => {
            let err = MemoryLimitError::new_err(message);
            Python::attach(|py| {
                // Best effort: the attribute is a convenience, the limit is also in the message.
                let _ = err.value(py).setattr("memory_limit", limit);
            });
            err
        }
        Error::Athena { kind, query_id, .. } => {
            let err = match kind {
                AthenaFailure::Call => AthenaError::new_err(message),
                AthenaFailure::Failed => AthenaQueryError::new_err(message),
                AthenaFailure::Cancelled => QueryCancelledError::new_err(message),
                AthenaFailure::Timeout => QueryTimeoutError::new_err(message),
                AthenaFailure::Result => AthenaResultError::new_err(message),
            };
            with_query_id(err, query_id)
        }
        Error::CloudWatch { kind, query_id, .. } => {
            let err = match kind {
                CloudWatchFailure::Call | CloudWatchFailure::Failed => {
                    CloudWatchError::new_err(message)
                }
                CloudWatchFailure::Cancelled => QueryCancelledError::new_err(message),
                CloudWatchFailure::Timeout => CloudWatchTimeoutError::new_err(message),
            };
            with_query_id(err, query_id)
        }
    }
}

/// Sets `query_id` on an engine's exception.
fn with_query_id(err: PyErr, query_id: Option<String>) -> PyErr {
    Python::attach(|py| {
        // Best effort: the attribute is a convenience, the id is also in the message.
        let _ = err.value(py).setattr("query_id", query_id);
    });
    err
}

/// Adds the exception classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("SpintrailError", py.get_type::<SpintrailError>())?;
    m.add("SourceError", py.get_type::<SourceError>())?;
    m.add("LogFileError", py.get_type::<LogFileError>())?;
    m.add("SqlError", py.get_type::<SqlError>())?;
    m.add(
        "UnsupportedFunctionError",
        py.get_type::<UnsupportedFunctionError>(),
    )?;
    m.add(
        "InvalidArgumentError",
        py.get_type::<InvalidArgumentError>(),
    )?;
    m.add("QueryCancelledError", py.get_type::<QueryCancelledError>())?;
    m.add("ProvisionError", py.get_type::<ProvisionError>())?;
    m.add("AthenaError", py.get_type::<AthenaError>())?;
    m.add("AthenaQueryError", py.get_type::<AthenaQueryError>())?;
    m.add("QueryTimeoutError", py.get_type::<QueryTimeoutError>())?;
    m.add("AthenaResultError", py.get_type::<AthenaResultError>())?;
    m.add("CostLimitError", py.get_type::<CostLimitError>())?;
    m.add("CloudWatchError", py.get_type::<CloudWatchError>())?;
    m.add(
        "CloudWatchTimeoutError",
        py.get_type::<CloudWatchTimeoutError>(),
    )?;
    m.add("MemoryLimitError", py.get_type::<MemoryLimitError>())?;
    m.add("EngineError", py.get_type::<EngineError>())?;
    m.add("OutputError", output_error_type(py)?)?;
    Ok(())
}
