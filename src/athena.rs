//! `AthenaSession`: the distributed engine as a Python class, with the methods of
//! `LocalSession`. Waiting for Athena happens without the GIL; Ctrl-C or a cancelled task stops
//! the query on Athena.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3_arrow::{PyRecordBatchReader, PyTable};
use spintrail_core::athena::{
    AthenaOptions, AthenaSession as CoreSession, Fetch, Progress, ProgressFn, QueryInfo,
};
use spintrail_core::aws::ConnectOptions;
use spintrail_core::parameters::Param;

use crate::errors::{to_py, InvalidArgumentError};
use crate::parameters::to_params;
use crate::runtime::wait_for;
use crate::stream::BlockingReader;

#[pyclass(module = "spintrail._internal", frozen)]
pub struct AthenaSession {
    inner: Arc<CoreSession>,
    last: LastQuery,
}

type LastQuery = Arc<Mutex<Option<Arc<Mutex<QueryInfo>>>>>;

/// The arguments every query method takes, checked and owned (they move into the query's task).
fn request(
    query: &str,
    params: Option<Vec<Bound<'_, PyAny>>>,
    fetch: Option<&str>,
) -> PyResult<(String, Vec<Param>, Option<Fetch>)> {
    let fetch = fetch.map(|v| Fetch::parse(v).map_err(to_py)).transpose()?;
    Ok((query.to_string(), to_params(params)?, fetch))
}

/// Makes `info` what `last_query` reports.
fn remember(last: &LastQuery, info: Arc<Mutex<QueryInfo>>) {
    if let Ok(mut slot) = last.lock() {
        *slot = Some(info);
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

pub fn info_dict<'py>(py: Python<'py>, info: &QueryInfo) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("query_id", &info.query_id)?;
    d.set_item("state", &info.state)?;
    d.set_item("statement_type", &info.statement_type)?;
    d.set_item("sql", &info.sql)?;
    d.set_item("workgroup", &info.workgroup)?;
    d.set_item("output_location", &info.output_location)?;
    d.set_item("data_scanned_bytes", info.data_scanned_bytes)?;
    d.set_item("engine_time_ms", info.engine_time_ms)?;
    d.set_item("queue_time_ms", info.queue_time_ms)?;
    d.set_item("total_time_ms", info.total_time_ms)?;
    d.set_item("reused_previous_result", info.reused_previous_result)?;
    d.set_item("cost_usd", info.cost_usd)?;
    d.set_item("fetch", info.fetch.as_str())?;
    d.set_item("fetch_note", &info.fetch_note)?;
    d.set_item("rows", info.rows)?;
    Ok(d)
}

#[pymethods]
impl AthenaSession {
    #[new]
    #[pyo3(signature = (
        *, database = "default", table = "cloudtrail_logs", workgroup = "spintrail",
        region = None, output_location = None, endpoint_url = None, profile = None,
        catalog = "AwsDataCatalog", timeout = None, result_reuse_minutes = None, fetch = "auto",
        fast_fetch_bytes = 1_048_576, batch_size = 65536, price_per_tb = 5.0,
        max_poll_interval = 2.0, max_attempts = 8
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        database: &str,
        table: &str,
        workgroup: &str,
        region: Option<String>,
        output_location: Option<String>,
        endpoint_url: Option<String>,
        profile: Option<String>,
        catalog: &str,
        timeout: Option<f64>,
        result_reuse_minutes: Option<i32>,
        fetch: &str,
        fast_fetch_bytes: u64,
        batch_size: usize,
        price_per_tb: f64,
        max_poll_interval: f64,
        max_attempts: u32,
    ) -> PyResult<Self> {
        let seconds = |name: &str, value: f64| {
            if value.is_finite() && value > 0.0 {
                Ok(Duration::from_secs_f64(value))
            } else {
                Err(InvalidArgumentError::new_err(format!(
                    "{name} must be a positive number of seconds, not {value}"
                )))
            }
        };
        if result_reuse_minutes.is_some_and(|m| !(1..=10080).contains(&m)) {
            return Err(InvalidArgumentError::new_err(
                "result_reuse_minutes must be between 1 and 10080 (7 days), Athena's limits",
            ));
        }
        if !(price_per_tb.is_finite() && price_per_tb >= 0.0) {
            return Err(InvalidArgumentError::new_err(
                "price_per_tb must be a non-negative number",
            ));
        }
        let options = AthenaOptions {
            database: database.to_string(),
            table: table.to_string(),
            catalog: catalog.to_string(),
            workgroup: workgroup.to_string(),
            region,
            output_location,
            connect: ConnectOptions {
                endpoint_url,
                profile,
                max_attempts,
                ..AthenaOptions::default().connect
            },
            timeout: timeout.map(|t| seconds("timeout", t)).transpose()?,
            result_reuse_minutes,
            fetch: Fetch::parse(fetch).map_err(to_py)?,
            fast_fetch_bytes,
            batch_size,
            price_per_tb,
            max_poll_interval: seconds("max_poll_interval", max_poll_interval)?,
        };
        let inner = wait_for(py, CoreSession::connect(options))?;
        Ok(AthenaSession {
            inner: Arc::new(inner),
            last: Arc::new(Mutex::new(None)),
        })
    }

    /// Runs a query on Athena and returns the whole result as an Arrow table.
    #[pyo3(signature = (query, params = None, *, fetch = None, progress = None))]
    fn sql(
        &self,
        py: Python<'_>,
        query: &str,
        params: Option<Vec<Bound<'_, PyAny>>>,
        fetch: Option<&str>,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<PyTable> {
        let (query, params, fetch) = request(query, params, fetch)?;
        let inner = self.inner.clone();
        let progress = progress_fn(progress);
        let result = wait_for(py, async move {
            inner.collect(&query, &params, fetch, progress).await
        })?;
        remember(&self.last, Arc::new(Mutex::new(result.info)));
        PyTable::try_new(result.batches, result.schema)
    }

    /// Like `sql`, as an awaitable; cancelling the task stops the query on Athena.
    #[pyo3(signature = (query, params = None, *, fetch = None))]
    fn sql_async<'py>(
        &self,
        py: Python<'py>,
        query: &str,
        params: Option<Vec<Bound<'py, PyAny>>>,
        fetch: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (query, params, fetch) = request(query, params, fetch)?;
        let inner = self.inner.clone();
        let last = self.last.clone();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            let result = inner
                .collect(&query, &params, fetch, None)
                .await
                .map_err(to_py)?;
            remember(&last, Arc::new(Mutex::new(result.info)));
            PyTable::try_new(result.batches, result.schema)
        })
    }

    /// Runs a query and returns a reader over its result, batch by batch (page by page, or as
    /// the result object's ranges arrive).
    #[pyo3(signature = (query, params = None, *, fetch = None, progress = None))]
    fn sql_stream(
        &self,
        py: Python<'_>,
        query: &str,
        params: Option<Vec<Bound<'_, PyAny>>>,
        fetch: Option<&str>,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<PyRecordBatchReader> {
        let (query, params, fetch) = request(query, params, fetch)?;
        let inner = self.inner.clone();
        let progress = progress_fn(progress);
        let stream = wait_for(py, async move {
            inner.query(&query, &params, fetch, progress).await
        })?;
        remember(&self.last, stream.info());
        Ok(PyRecordBatchReader::new(Box::new(BlockingReader::new(
            stream.schema(),
            stream.boxed(),
        ))))
    }

    /// Athena's plan of a query (`EXPLAIN`), as text.
    #[pyo3(signature = (query, params = None))]
    fn explain(
        &self,
        py: Python<'_>,
        query: &str,
        params: Option<Vec<Bound<'_, PyAny>>>,
    ) -> PyResult<String> {
        let params = to_params(params)?;
        let inner = self.inner.clone();
        let query = query.to_string();
        wait_for(py, async move { inner.explain(&query, &params).await })
    }

    /// Query id, bytes scanned, times, cost and fetch method of the last query.
    fn last_query<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let slot = self
            .last
            .lock()
            .map_err(|_| InvalidArgumentError::new_err("query information lock poisoned"))?;
        match slot.as_ref() {
            None => Ok(None),
            Some(info) => {
                let info = info
                    .lock()
                    .map_err(|_| InvalidArgumentError::new_err("query information lock poisoned"))?
                    .clone();
                info_dict(py, &info).map(Some)
            }
        }
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
