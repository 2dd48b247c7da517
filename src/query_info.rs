//! `QueryInfo`: what one Athena query did and cost, as a frozen class with typed getters (the
//! public dataclass in `spintrail.athena` is built from it).

use pyo3::prelude::*;
use spintrail_core::QueryInfo as CoreInfo;

#[pyclass(module = "spintrail._internal", frozen, name = "QueryInfo")]
pub struct QueryInfo(pub CoreInfo);

#[pymethods]
impl QueryInfo {
    #[getter]
    fn query_id(&self) -> &str {
        &self.0.query_id
    }
    #[getter]
    fn state(&self) -> &str {
        &self.0.state
    }
    #[getter]
    fn statement_type(&self) -> Option<&str> {
        self.0.statement_type.as_deref()
    }
    #[getter]
    fn sql(&self) -> &str {
        &self.0.sql
    }
    #[getter]
    fn workgroup(&self) -> Option<&str> {
        self.0.workgroup.as_deref()
    }
    #[getter]
    fn output_location(&self) -> Option<&str> {
        self.0.output_location.as_deref()
    }
    #[getter]
    fn data_scanned_bytes(&self) -> i64 {
        self.0.data_scanned_bytes
    }
    #[getter]
    fn engine_time_ms(&self) -> i64 {
        self.0.engine_time_ms
    }
    #[getter]
    fn queue_time_ms(&self) -> i64 {
        self.0.queue_time_ms
    }
    #[getter]
    fn total_time_ms(&self) -> i64 {
        self.0.total_time_ms
    }
    #[getter]
    fn reused_previous_result(&self) -> bool {
        self.0.reused_previous_result
    }
    #[getter]
    fn cost_usd(&self) -> f64 {
        self.0.cost_usd
    }
    #[getter]
    fn fetch(&self) -> &'static str {
        self.0.fetch.as_str()
    }
    #[getter]
    fn fetch_note(&self) -> Option<&str> {
        self.0.fetch_note.as_deref()
    }
    #[getter]
    fn rows(&self) -> u64 {
        self.0.rows
    }
}
