//! `LocalSession`: the embedded engine as a Python class. Queries run without the GIL; results
//! cross into Python as Arrow C streams (zero-copy).

use std::sync::{Arc, Mutex};

use futures::StreamExt;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3_arrow::{PyRecordBatchReader, PyTable};
use spintrail_core::{
    LocalSession as CoreSession, OnError, ScanStats, SessionOptions, StatsHandle,
};

use crate::errors::{to_py, InvalidArgumentError};
use crate::parameters::to_params;
use crate::runtime::wait_for;
use crate::stats::to_dict;
use crate::stream::BlockingReader;

/// What the last query's statistics come from: finished numbers, or a running stream's handle.
enum LastStats {
    Done(ScanStats),
    Running(StatsHandle),
}

#[pyclass(module = "spintrail._internal", frozen)]
pub struct LocalSession {
    inner: Arc<CoreSession>,
    last: Arc<Mutex<Option<LastStats>>>,
}

fn parse_on_error(value: &str) -> PyResult<OnError> {
    match value {
        "raise" => Ok(OnError::Raise),
        "skip" => Ok(OnError::Skip),
        other => Err(InvalidArgumentError::new_err(format!(
            "on_error must be \"raise\" or \"skip\", not {other:?}"
        ))),
    }
}

/// The query with its `?` placeholders bound to literals (the embedded engine has no server-side
/// binding; the literals are the ones Athena's `ExecutionParameters` take).
fn bound(query: &str, params: Option<Vec<Bound<'_, PyAny>>>) -> PyResult<String> {
    if params.is_none() {
        return Ok(query.to_string());
    }
    spintrail_core::parameters::bind(query, &to_params(params)?).map_err(to_py)
}

#[pymethods]
impl LocalSession {
    #[new]
    #[pyo3(signature = (sources, *, database = "default", table = "cloudtrail_logs", on_error = "raise", batch_size = 8192, threads = 0))]
    fn new(
        sources: Vec<String>,
        database: &str,
        table: &str,
        on_error: &str,
        batch_size: usize,
        threads: usize,
    ) -> PyResult<Self> {
        if batch_size == 0 {
            return Err(InvalidArgumentError::new_err(
                "batch_size must be at least 1",
            ));
        }
        let options = SessionOptions {
            database: database.to_string(),
            table: table.to_string(),
            on_error: parse_on_error(on_error)?,
            batch_size,
            target_partitions: threads,
        };
        let inner = CoreSession::new(sources, options).map_err(to_py)?;
        Ok(LocalSession {
            inner: Arc::new(inner),
            last: Arc::new(Mutex::new(None)),
        })
    }

    /// Runs a query to completion; returns an Arrow table (C stream exporter).
    #[pyo3(signature = (query, params = None))]
    fn sql(
        &self,
        py: Python<'_>,
        query: &str,
        params: Option<Vec<Bound<'_, PyAny>>>,
    ) -> PyResult<PyTable> {
        let inner = self.inner.clone();
        let query = bound(query, params)?;
        let result = wait_for(py, async move { inner.collect(&query).await })?;
        self.set_last(LastStats::Done(result.stats));
        PyTable::try_new(result.batches, result.schema)
    }

    /// Like `sql`, as an awaitable; cancelling the task stops the query.
    #[pyo3(signature = (query, params = None))]
    fn sql_async<'py>(
        &self,
        py: Python<'py>,
        query: &str,
        params: Option<Vec<Bound<'py, PyAny>>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let query = bound(query, params)?;
        let inner = self.inner.clone();
        let last = self.last.clone();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            let result = inner.collect(&query).await.map_err(to_py)?;
            if let Ok(mut slot) = last.lock() {
                *slot = Some(LastStats::Done(result.stats));
            }
            PyTable::try_new(result.batches, result.schema)
        })
    }

    /// Starts a query and returns a reader that yields batches as they are produced.
    #[pyo3(signature = (query, params = None))]
    fn sql_stream(
        &self,
        py: Python<'_>,
        query: &str,
        params: Option<Vec<Bound<'_, PyAny>>>,
    ) -> PyResult<PyRecordBatchReader> {
        let inner = self.inner.clone();
        let query = bound(query, params)?;
        let stream = wait_for(py, async move { inner.query(&query).await })?;
        self.set_last(LastStats::Running(stream.stats_handle()));
        Ok(PyRecordBatchReader::new(Box::new(BlockingReader::new(
            stream.schema(),
            stream.boxed(),
        ))))
    }

    /// The physical plan of a query as text.
    #[pyo3(signature = (query, params = None))]
    fn explain(
        &self,
        py: Python<'_>,
        query: &str,
        params: Option<Vec<Bound<'_, PyAny>>>,
    ) -> PyResult<String> {
        let inner = self.inner.clone();
        let query = bound(query, params)?;
        wait_for(py, async move { inner.explain(&query).await })
    }

    /// Scan statistics of the last query (for a stream: as far as it has been read).
    fn last_stats<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let guard = self
            .last
            .lock()
            .map_err(|_| InvalidArgumentError::new_err("statistics lock poisoned"))?;
        match guard.as_ref() {
            None => Ok(None),
            Some(LastStats::Done(s)) => to_dict(py, s).map(Some),
            Some(LastStats::Running(h)) => to_dict(py, &h.stats()).map(Some),
        }
    }

    #[getter]
    fn table(&self) -> String {
        self.inner.options().table.to_lowercase()
    }

    #[getter]
    fn database(&self) -> String {
        self.inner.options().database.to_lowercase()
    }

    #[getter]
    fn sources(&self) -> Vec<String> {
        self.inner.sources().to_vec()
    }
}

impl LocalSession {
    fn set_last(&self, value: LastStats) {
        if let Ok(mut slot) = self.last.lock() {
            *slot = Some(value);
        }
    }
}
