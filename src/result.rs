//! `QueryResult`: one finished query on any engine — its Arrow table (schema metadata stamped
//! with this query's own facts) and those facts as typed objects. Nothing about a query is read
//! back from a session-wide slot, so concurrent queries cannot mix up their facts.

use std::future::Future;

use pyo3::prelude::*;
use pyo3::types::PyCapsule;
use pyo3_arrow::PyTable;
use spintrail_core::{QueryFacts, QueryResult as CoreResult};

use crate::errors::to_py;
use crate::insights_info::InsightsInfo;
use crate::query_info::QueryInfo;
use crate::runtime::wait_for;
use crate::stats::ScanStats;

#[pyclass(module = "spintrail._internal", frozen, name = "QueryResult")]
pub struct QueryResult {
    table: Py<PyTable>,
    engine: &'static str,
    rows: usize,
    stats: Option<Py<ScanStats>>,
    info: Option<Py<QueryInfo>>,
    insights: Option<Py<InsightsInfo>>,
}

impl QueryResult {
    /// Runs a query to completion without the GIL (Ctrl-C cancels it); `remember` sees the
    /// result first (the session's most-recent slot).
    pub fn run<F>(py: Python<'_>, work: F, remember: impl FnOnce(&CoreResult)) -> PyResult<Self>
    where
        F: Future<Output = spintrail_core::Result<CoreResult>> + Send,
    {
        let result = wait_for(py, work)?;
        remember(&result);
        QueryResult::new(py, result)
    }

    /// Like [`QueryResult::run`], as a Python awaitable; cancelling the task drops `work`.
    pub fn run_async<'py, F>(
        py: Python<'py>,
        work: F,
        remember: impl FnOnce(&CoreResult) + Send + 'static,
    ) -> PyResult<Bound<'py, PyAny>>
    where
        F: Future<Output = spintrail_core::Result<CoreResult>> + Send + 'static,
    {
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            let result = work.await.map_err(to_py)?;
            remember(&result);
            Python::attach(|py| QueryResult::new(py, result))
        })
    }

    fn new(py: Python<'_>, result: CoreResult) -> PyResult<Self> {
        let rows = result.num_rows();
        let (schema, batches) = result.stamped().map_err(to_py)?;
        let table = Py::new(py, PyTable::try_new(batches, schema)?)?;
        let engine = result.facts.engine();
        let (mut stats, mut info, mut insights) = (None, None, None);
        match result.facts {
            QueryFacts::Local(s) => stats = Some(Py::new(py, ScanStats(s))?),
            QueryFacts::Athena(i) => info = Some(Py::new(py, QueryInfo(i))?),
            QueryFacts::CloudWatch(i) => insights = Some(Py::new(py, InsightsInfo(i))?),
        }
        Ok(QueryResult {
            table,
            engine,
            rows,
            stats,
            info,
            insights,
        })
    }
}

#[pymethods]
impl QueryResult {
    /// "local", "athena" or "cloudwatch".
    #[getter]
    fn engine(&self) -> &'static str {
        self.engine
    }

    #[getter]
    fn num_rows(&self) -> usize {
        self.rows
    }

    /// The result as an Arrow table (exported through the Arrow C stream interface).
    #[getter]
    fn table(&self, py: Python<'_>) -> Py<PyTable> {
        self.table.clone_ref(py)
    }

    /// Scan statistics, on the embedded engine.
    #[getter]
    fn stats(&self, py: Python<'_>) -> Option<Py<ScanStats>> {
        self.stats.as_ref().map(|s| s.clone_ref(py))
    }

    /// Query id, bytes scanned, times, cost and fetch path, on Athena.
    #[getter]
    fn info(&self, py: Python<'_>) -> Option<Py<QueryInfo>> {
        self.info.as_ref().map(|i| i.clone_ref(py))
    }

    /// Query id, status and scan statistics, on CloudWatch Logs.
    #[getter]
    fn insights(&self, py: Python<'_>) -> Option<Py<InsightsInfo>> {
        self.insights.as_ref().map(|i| i.clone_ref(py))
    }

    /// The Arrow PyCapsule interface: `pyarrow.table(result)` reads it without a copy.
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyCapsule>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.table
            .bind(py)
            .call_method1("__arrow_c_stream__", (requested_schema,))
    }
}
