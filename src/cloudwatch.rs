//! `CloudWatchSession`: Logs Insights on CloudWatch Logs as a Python class. Waiting for the
//! query happens without the GIL; Ctrl-C or a cancelled task stops it (StopQuery). Each result
//! carries its own query's facts.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use spintrail_core::cloudwatch::{
    CloudWatchOptions, CloudWatchSession as CoreSession, Progress, ProgressFn,
};
use spintrail_core::{InsightsInfo as CoreInfo, QueryResult as CoreResult};

use crate::athena::seconds;
use crate::aws_options::connect_options;
use crate::errors::InvalidArgumentError;
use crate::insights_info::InsightsInfo;
use crate::latest::Latest;
use crate::result::QueryResult;
use crate::runtime::wait_for;

#[pyclass(module = "spintrail._internal", frozen)]
pub struct CloudWatchSession {
    inner: Arc<CoreSession>,
    last: Latest<CoreInfo>,
}

/// A time bound given as seconds since the epoch (the Python wrapper converts datetimes and
/// ISO text), or an error naming the argument.
fn instant(name: &str, value: Option<f64>) -> PyResult<Option<DateTime<Utc>>> {
    let Some(value) = value else {
        return Ok(None);
    };
    let micros = value * 1e6;
    if !micros.is_finite() || micros.abs() >= i64::MAX as f64 {
        return Err(InvalidArgumentError::new_err(format!(
            "{name} must be a time (seconds since the epoch), not {value}"
        )));
    }
    DateTime::from_timestamp_micros(micros.round() as i64)
        .map(Some)
        .ok_or_else(|| InvalidArgumentError::new_err(format!("{name} {value} is out of range")))
}

/// A Python callable as the progress callback; it receives a dict per poll. An exception it
/// raises is reported as unraisable (it must not abort the query).
fn progress_fn(callback: Option<Py<PyAny>>) -> Option<ProgressFn> {
    let callback = callback?;
    Some(Arc::new(move |p: &Progress| {
        Python::attach(|py| {
            let report = || -> PyResult<()> {
                let d = PyDict::new(py);
                d.set_item("query_id", &p.query_id)?;
                d.set_item("status", &p.status)?;
                d.set_item("elapsed", p.elapsed.as_secs_f64())?;
                d.set_item("records_matched", p.records_matched)?;
                d.set_item("records_scanned", p.records_scanned)?;
                d.set_item("bytes_scanned", p.bytes_scanned)?;
                callback.call1(py, (d,))?;
                Ok(())
            };
            if let Err(err) = report() {
                err.write_unraisable(py, Some(callback.bind(py)));
            }
        })
    }))
}

/// Records a finished query's information as the session's most recent.
fn remember(last: Latest<CoreInfo>) -> impl FnOnce(&CoreResult) + Send + 'static {
    move |result| {
        if let Some(info) = result.insights() {
            last.set(info.clone());
        }
    }
}

#[pymethods]
impl CloudWatchSession {
    /// Arguments left as None take the engine's defaults (`CloudWatchOptions::default()`).
    #[new]
    #[pyo3(signature = (
        log_groups, *, region = None, endpoint_url = None, profile = None, timeout = None,
        max_poll_interval = None, max_attempts = None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        log_groups: Vec<String>,
        region: Option<String>,
        endpoint_url: Option<String>,
        profile: Option<String>,
        timeout: Option<f64>,
        max_poll_interval: Option<f64>,
        max_attempts: Option<u32>,
    ) -> PyResult<Self> {
        let d = CloudWatchOptions::default();
        let options = CloudWatchOptions {
            log_groups,
            region,
            connect: connect_options(endpoint_url, profile, max_attempts),
            timeout: timeout.map(|t| seconds("timeout", t)).transpose()?,
            max_poll_interval: max_poll_interval
                .map(|t| seconds("max_poll_interval", t))
                .transpose()?
                .unwrap_or(d.max_poll_interval),
        };
        let inner = wait_for(py, CoreSession::connect(options))?;
        Ok(CloudWatchSession {
            inner: Arc::new(inner),
            last: Latest::new(),
        })
    }

    /// Runs a Logs Insights query over `start..=end` (seconds since the epoch; end defaults to
    /// now, start to an hour before end) and returns its typed result with the query's facts.
    #[pyo3(signature = (query, start = None, end = None, *, progress = None))]
    fn insights(
        &self,
        py: Python<'_>,
        query: String,
        start: Option<f64>,
        end: Option<f64>,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<QueryResult> {
        let (start, end) = (instant("start", start)?, instant("end", end)?);
        let inner = self.inner.clone();
        let progress = progress_fn(progress);
        let work = async move { inner.insights(&query, start, end, progress).await };
        QueryResult::run(py, work, remember(self.last.handle()))
    }

    /// Like `insights`, as an awaitable; cancelling the task stops the query.
    #[pyo3(signature = (query, start = None, end = None, *, progress = None))]
    fn insights_async<'py>(
        &self,
        py: Python<'py>,
        query: String,
        start: Option<f64>,
        end: Option<f64>,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (start, end) = (instant("start", start)?, instant("end", end)?);
        let inner = self.inner.clone();
        let progress = progress_fn(progress);
        let work = async move { inner.insights(&query, start, end, progress).await };
        QueryResult::run_async(py, work, remember(self.last.handle()))
    }

    /// Query id, status and statistics of the most recent query.
    fn last_query(&self) -> PyResult<Option<InsightsInfo>> {
        Ok(self.last.get()?.map(InsightsInfo))
    }

    #[getter]
    fn log_groups(&self) -> Vec<String> {
        self.inner.options().log_groups.clone()
    }

    #[getter]
    fn region(&self) -> String {
        self.inner.region().to_string()
    }

    #[getter]
    fn timeout(&self) -> Option<f64> {
        self.inner.options().timeout.map(|t| t.as_secs_f64())
    }
}
