//! `AthenaSession`: the distributed engine as a Python class, with the methods of
//! `LocalSession`. Waiting for Athena happens without the GIL; Ctrl-C or a cancelled task stops
//! the query on Athena. Each result carries its own query's facts.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3_arrow::PyRecordBatchReader;
use spintrail_core::athena::{
    AthenaOptions, AthenaSession as CoreSession, CostLimits, Progress, ProgressFn,
};
use spintrail_core::parameters::Param;
use spintrail_core::{Fetch, QueryInfo as CoreInfo, QueryResult as CoreResult};

use crate::aws_options::connect_options;
use crate::errors::{to_py, EngineError, InvalidArgumentError};
use crate::estimate::Estimate;
use crate::latest::Latest;
use crate::parameters::to_params;
use crate::query_info::QueryInfo;
use crate::result::QueryResult;
use crate::runtime::wait_for;
use crate::stream::BlockingReader;

#[pyclass(module = "spintrail._internal", frozen)]
pub struct AthenaSession {
    inner: Arc<CoreSession>,
    /// The most recent query; a stream updates its row count as it is read.
    last: Latest<Arc<Mutex<CoreInfo>>>,
}

/// The arguments every query method takes, checked and owned (they move into the query's task).
fn request(
    query: &str,
    params: Option<Vec<Bound<'_, PyAny>>>,
    fetch: Option<&str>,
) -> PyResult<(String, Vec<Param>, Option<Fetch>)> {
    let fetch = fetch.map(|v| Fetch::parse(v).map_err(to_py)).transpose()?;
    Ok((query.to_string(), to_params(params)?, fetch))
}

/// A query's own limits `(max_cost, max_bytes)` when given, else the session's.
fn limits_of(session: &CoreSession, given: Option<(Option<f64>, Option<u64>)>) -> CostLimits {
    match given {
        Some((max_cost_usd, max_bytes)) => CostLimits {
            max_cost_usd,
            max_bytes,
        },
        None => session.options().limits,
    }
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
                d.set_item("state", &p.state)?;
                d.set_item("elapsed", p.elapsed.as_secs_f64())?;
                d.set_item("data_scanned_bytes", p.data_scanned_bytes)?;
                callback.call1(py, (d,))?;
                Ok(())
            };
            if let Err(err) = report() {
                err.write_unraisable(py, Some(callback.bind(py)));
            }
        })
    }))
}

/// A positive number of seconds, or an error naming the argument.
pub(crate) fn seconds(name: &str, value: f64) -> PyResult<Duration> {
    if value.is_finite() && value > 0.0 {
        Ok(Duration::from_secs_f64(value))
    } else {
        Err(InvalidArgumentError::new_err(format!(
            "{name} must be a positive number of seconds, not {value}"
        )))
    }
}

/// Records a finished query's information as the session's most recent.
fn remember(last: Latest<Arc<Mutex<CoreInfo>>>) -> impl FnOnce(&CoreResult) + Send + 'static {
    move |result| {
        if let Some(info) = result.info() {
            last.set(Arc::new(Mutex::new(info.clone())));
        }
    }
}

#[pymethods]
impl AthenaSession {
    /// Arguments left as None take the engine's defaults (`AthenaOptions::default()`).
    #[new]
    #[pyo3(signature = (
        *, database = None, table = None, workgroup = None, region = None,
        output_location = None, endpoint_url = None, profile = None, catalog = None,
        timeout = None, result_reuse_minutes = None, fetch = None, fast_fetch_bytes = None,
        batch_size = None, price_per_tb = None, max_poll_interval = None, max_attempts = None,
        max_cost = None, max_bytes = None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        database: Option<String>,
        table: Option<String>,
        workgroup: Option<String>,
        region: Option<String>,
        output_location: Option<String>,
        endpoint_url: Option<String>,
        profile: Option<String>,
        catalog: Option<String>,
        timeout: Option<f64>,
        result_reuse_minutes: Option<i32>,
        fetch: Option<&str>,
        fast_fetch_bytes: Option<u64>,
        batch_size: Option<usize>,
        price_per_tb: Option<f64>,
        max_poll_interval: Option<f64>,
        max_attempts: Option<u32>,
        max_cost: Option<f64>,
        max_bytes: Option<u64>,
    ) -> PyResult<Self> {
        let d = AthenaOptions::default();
        let options = AthenaOptions {
            database: database.unwrap_or(d.database),
            table: table.unwrap_or(d.table),
            catalog: catalog.unwrap_or(d.catalog),
            workgroup: workgroup.unwrap_or(d.workgroup),
            region,
            output_location,
            connect: connect_options(endpoint_url, profile, max_attempts),
            timeout: timeout.map(|t| seconds("timeout", t)).transpose()?,
            result_reuse_minutes,
            fetch: fetch
                .map(Fetch::parse)
                .transpose()
                .map_err(to_py)?
                .unwrap_or(d.fetch),
            fast_fetch_bytes: fast_fetch_bytes.unwrap_or(d.fast_fetch_bytes),
            batch_size: batch_size.unwrap_or(d.batch_size),
            price_per_tb: price_per_tb.unwrap_or(d.price_per_tb),
            max_poll_interval: max_poll_interval
                .map(|t| seconds("max_poll_interval", t))
                .transpose()?
                .unwrap_or(d.max_poll_interval),
            limits: CostLimits {
                max_cost_usd: max_cost,
                max_bytes,
            },
        };
        let inner = wait_for(py, CoreSession::connect(options))?;
        Ok(AthenaSession {
            inner: Arc::new(inner),
            last: Latest::new(),
        })
    }

    /// Runs a query on Athena and returns its whole result with the query's facts.
    /// `limits` `(max_cost, max_bytes)` replace the session's for this query.
    #[pyo3(signature = (query, params = None, *, fetch = None, progress = None, limits = None))]
    fn sql(
        &self,
        py: Python<'_>,
        query: &str,
        params: Option<Vec<Bound<'_, PyAny>>>,
        fetch: Option<&str>,
        progress: Option<Py<PyAny>>,
        limits: Option<(Option<f64>, Option<u64>)>,
    ) -> PyResult<QueryResult> {
        let (query, params, fetch) = request(query, params, fetch)?;
        let inner = self.inner.clone();
        let progress = progress_fn(progress);
        let limits = limits_of(&inner, limits);
        let work = async move {
            inner
                .collect_within(&query, &params, fetch, progress, &limits)
                .await
        };
        QueryResult::run(py, work, remember(self.last.handle()))
    }

    /// Like `sql`, as an awaitable; cancelling the task stops the query on Athena.
    #[pyo3(signature = (query, params = None, *, fetch = None, limits = None))]
    fn sql_async<'py>(
        &self,
        py: Python<'py>,
        query: &str,
        params: Option<Vec<Bound<'py, PyAny>>>,
        fetch: Option<&str>,
        limits: Option<(Option<f64>, Option<u64>)>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (query, params, fetch) = request(query, params, fetch)?;
        let inner = self.inner.clone();
        let limits = limits_of(&inner, limits);
        let work = async move {
            inner
                .collect_within(&query, &params, fetch, None, &limits)
                .await
        };
        QueryResult::run_async(py, work, remember(self.last.handle()))
    }

    /// Runs a query and returns a reader over its result, batch by batch (page by page, or as
    /// the result object's ranges arrive).
    #[pyo3(signature = (query, params = None, *, fetch = None, progress = None, limits = None))]
    fn sql_stream(
        &self,
        py: Python<'_>,
        query: &str,
        params: Option<Vec<Bound<'_, PyAny>>>,
        fetch: Option<&str>,
        progress: Option<Py<PyAny>>,
        limits: Option<(Option<f64>, Option<u64>)>,
    ) -> PyResult<PyRecordBatchReader> {
        let (query, params, fetch) = request(query, params, fetch)?;
        let inner = self.inner.clone();
        let progress = progress_fn(progress);
        let limits = limits_of(&inner, limits);
        let stream = wait_for(py, async move {
            inner
                .query_within(&query, &params, fetch, progress, &limits)
                .await
        })?;
        self.last.set(stream.info());
        Ok(BlockingReader::into_python(stream.schema(), stream.boxed()))
    }

    /// What a query would scan and cost, found without running it.
    #[pyo3(signature = (query, params = None))]
    fn estimate(
        &self,
        py: Python<'_>,
        query: &str,
        params: Option<Vec<Bound<'_, PyAny>>>,
    ) -> PyResult<Estimate> {
        let (query, params, _) = request(query, params, None)?;
        let inner = self.inner.clone();
        let found = wait_for(py, async move { inner.estimate(&query, &params).await })?;
        Ok(Estimate(found))
    }

    /// The session's cost limits `(max_cost, max_bytes)`.
    #[getter]
    fn limits(&self) -> (Option<f64>, Option<u64>) {
        let l = self.inner.options().limits;
        (l.max_cost_usd, l.max_bytes)
    }

    #[getter]
    fn price_per_tb(&self) -> f64 {
        self.inner.options().price_per_tb
    }

    /// Athena's plan of a query (`EXPLAIN`), as text.
    #[pyo3(signature = (query, params = None))]
    fn explain(
        &self,
        py: Python<'_>,
        query: &str,
        params: Option<Vec<Bound<'_, PyAny>>>,
    ) -> PyResult<String> {
        let (query, params, _) = request(query, params, None)?;
        let inner = self.inner.clone();
        wait_for(py, async move { inner.explain(&query, &params).await })
    }

    /// Query id, bytes scanned, times, cost and fetch method of the most recent query.
    fn last_query(&self) -> PyResult<Option<QueryInfo>> {
        let Some(info) = self.last.get()? else {
            return Ok(None);
        };
        let info = info
            .lock()
            .map_err(|_| EngineError::new_err("internal error: query information lock poisoned"))?
            .clone();
        Ok(Some(QueryInfo(info)))
    }

    #[getter]
    fn database(&self) -> String {
        self.inner.options().database.clone()
    }

    #[getter]
    fn table(&self) -> String {
        self.inner.options().table.clone()
    }

    #[getter]
    fn workgroup(&self) -> String {
        self.inner.options().workgroup.clone()
    }

    #[getter]
    fn region(&self) -> String {
        self.inner.region().to_string()
    }

    #[getter]
    fn output_location(&self) -> Option<String> {
        self.inner.options().output_location.clone()
    }
}
