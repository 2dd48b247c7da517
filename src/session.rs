//! `LocalSession`: the embedded engine as a Python class. Queries run without the GIL; results
//! cross into Python as Arrow C streams (zero-copy), each with its own scan statistics.

use std::path::PathBuf;
use std::sync::Arc;

use futures::StreamExt;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyInt, PyString};
use pyo3_arrow::PyRecordBatchReader;
use spintrail_core::local::memory;
use spintrail_core::{
    LocalSession as CoreSession, OnError, PartitionLayout, QueryResult as CoreResult,
    SessionOptions, StatsHandle,
};

use crate::aws_options::connect_options;
use crate::errors::to_py;
use crate::latest::Latest;
use crate::parameters::to_params;
use crate::result::QueryResult;
use crate::runtime::wait_for;
use crate::stats::ScanStats;
use crate::stream::BlockingReader;

/// What the last query's statistics come from: finished numbers, or a running stream's handle.
#[derive(Clone)]
enum LastStats {
    Done(spintrail_core::ScanStats),
    Running(StatsHandle),
}

#[pyclass(module = "spintrail._internal", frozen)]
pub struct LocalSession {
    inner: Arc<CoreSession>,
    last: Latest<LastStats>,
}

/// The query with its `?` placeholders bound to literals (the embedded engine has no server-side
/// binding; the literals are the ones Athena's `ExecutionParameters` take).
fn bound(query: &str, params: Option<Vec<Bound<'_, PyAny>>>) -> PyResult<String> {
    if params.is_none() {
        return Ok(query.to_string());
    }
    spintrail_core::parameters::bind(query, &to_params(params)?).map_err(to_py)
}

/// `memory_limit=`: bytes as an int, or a size as text ("2GB", "512MiB", "25%").
fn memory_limit(value: &Bound<'_, PyAny>) -> PyResult<u64> {
    let invalid = |message: String| to_py(spintrail_core::Error::InvalidArgument(message));
    if value.is_instance_of::<PyBool>() {
        return Err(invalid(
            "memory_limit must be a number of bytes or a size such as \"2GB\", not a bool".into(),
        ));
    }
    if value.is_instance_of::<PyInt>() {
        let bytes: i128 = value.extract()?;
        let bytes = u64::try_from(bytes).map_err(|_| {
            invalid(format!(
                "memory_limit must be a positive number of bytes (or a size such as \"2GB\"), \
                 not {bytes}"
            ))
        })?;
        return memory::check_memory_limit(bytes).map_err(to_py);
    }
    if let Ok(text) = value.cast::<PyString>() {
        return memory::parse_memory_size(&text.to_cow()?).map_err(to_py);
    }
    Err(invalid(format!(
        "memory_limit must be a number of bytes or a size such as \"2GB\", not {}",
        value.get_type().name()?
    )))
}

/// Records a finished query's statistics as the session's most recent.
fn remember(last: Latest<LastStats>) -> impl FnOnce(&CoreResult) + Send + 'static {
    move |result| {
        if let Some(stats) = result.stats() {
            last.set(LastStats::Done(stats.clone()));
        }
    }
}

#[pymethods]
impl LocalSession {
    /// `batch_size=None`, `threads=0` and `late_delivery_days=None` take the engine's defaults.
    // The Python keyword arguments, one per session option.
    #[allow(clippy::too_many_arguments)]
    #[new]
    #[pyo3(signature = (sources, *, database = None, table = None, on_error = None, batch_size = None, threads = 0, late_delivery_days = None, partitions = None, memory_limit = None, spill_dir = None, region = None, endpoint_url = None, profile = None, max_attempts = None, dedup = false))]
    fn new(
        sources: Vec<String>,
        database: Option<String>,
        table: Option<String>,
        on_error: Option<&str>,
        batch_size: Option<usize>,
        threads: usize,
        late_delivery_days: Option<i64>,
        partitions: Option<&str>,
        memory_limit: Option<Bound<'_, PyAny>>,
        spill_dir: Option<PathBuf>,
        region: Option<String>,
        endpoint_url: Option<String>,
        profile: Option<String>,
        max_attempts: Option<u32>,
        dedup: bool,
    ) -> PyResult<Self> {
        let defaults = SessionOptions::default();
        let options = SessionOptions {
            database: database.unwrap_or(defaults.database),
            table: table.unwrap_or(defaults.table),
            on_error: on_error
                .map(OnError::parse)
                .transpose()
                .map_err(to_py)?
                .unwrap_or(defaults.on_error),
            batch_size: batch_size.unwrap_or(defaults.batch_size),
            target_partitions: threads,
            late_delivery_days: match late_delivery_days {
                None => defaults.late_delivery_days,
                Some(days) => u32::try_from(days).map_err(|_| {
                    to_py(spintrail_core::Error::InvalidArgument(format!(
                        "late_delivery_days must be a whole number of days from 0 up, not {days}"
                    )))
                })?,
            },
            partitions: partitions
                .map(PartitionLayout::parse)
                .transpose()
                .map_err(to_py)?
                .unwrap_or(defaults.partitions),
            memory_limit: memory_limit
                .map(|value| self::memory_limit(&value))
                .transpose()?,
            spill_dir,
            connect: connect_options(endpoint_url, profile, max_attempts),
            region,
            dedup,
        };
        let inner = CoreSession::new(sources, options).map_err(to_py)?;
        Ok(LocalSession {
            inner: Arc::new(inner),
            last: Latest::new(),
        })
    }

    /// Runs a query to completion; returns its table and statistics.
    #[pyo3(signature = (query, params = None))]
    fn sql(
        &self,
        py: Python<'_>,
        query: &str,
        params: Option<Vec<Bound<'_, PyAny>>>,
    ) -> PyResult<QueryResult> {
        let inner = self.inner.clone();
        let query = bound(query, params)?;
        let last = self.last.handle();
        QueryResult::run(
            py,
            async move { inner.collect(&query).await },
            remember(last),
        )
    }

    /// Like `sql`, as an awaitable; cancelling the task stops the query.
    #[pyo3(signature = (query, params = None))]
    fn sql_async<'py>(
        &self,
        py: Python<'py>,
        query: &str,
        params: Option<Vec<Bound<'py, PyAny>>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let inner = self.inner.clone();
        let query = bound(query, params)?;
        let last = self.last.handle();
        QueryResult::run_async(
            py,
            async move { inner.collect(&query).await },
            remember(last),
        )
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
        self.last.set(LastStats::Running(stream.stats_handle()));
        Ok(BlockingReader::into_python(stream.schema(), stream.boxed()))
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

    /// Makes Arrow data (anything with `__arrow_c_stream__`) queryable as table `name`.
    fn register(&self, name: &str, data: PyRecordBatchReader) -> PyResult<()> {
        let reader = data.into_reader()?;
        let schema = reader.schema();
        let batches = reader
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| to_py(spintrail_core::Error::from(err)))?;
        self.inner
            .register_batches(name, schema, batches)
            .map_err(to_py)
    }

    /// Removes a table added by `register`; False if there was none.
    fn unregister(&self, name: &str) -> PyResult<bool> {
        self.inner.unregister(name).map_err(to_py)
    }

    /// Scan statistics of the most recent query (for a stream: as far as it has been read).
    fn last_stats(&self) -> PyResult<Option<ScanStats>> {
        Ok(self.last.get()?.map(|last| match last {
            LastStats::Done(s) => ScanStats(s),
            LastStats::Running(h) => ScanStats(h.stats()),
        }))
    }

    #[getter]
    fn table(&self) -> String {
        self.inner.options().table.to_lowercase()
    }

    #[getter]
    fn database(&self) -> String {
        self.inner.options().database.to_lowercase()
    }

    /// The partition layout's name (`"spintrail"`, `"aws-projection"` or `"aws-manual"`).
    #[getter]
    fn partitions(&self) -> &'static str {
        self.inner.options().partitions.name()
    }

    /// The memory limit in force, in bytes.
    #[getter]
    fn memory_limit(&self) -> u64 {
        self.inner.memory_limit()
    }

    /// The folder spill files go to.
    #[getter]
    fn spill_dir(&self) -> String {
        self.inner.spill_dir().display().to_string()
    }

    #[getter]
    fn sources(&self) -> Vec<String> {
        self.inner.sources().to_vec()
    }
}
