//! `InsightsInfo`: what one Logs Insights query on CloudWatch Logs did, as a frozen class with
//! typed getters (the public dataclass in `spintrail.cloudwatch` is built from it).

use pyo3::prelude::*;
use spintrail_core::InsightsInfo as CoreInfo;

#[pyclass(module = "spintrail._internal", frozen, name = "InsightsInfo")]
pub struct InsightsInfo(pub CoreInfo);

#[pymethods]
impl InsightsInfo {
    #[getter]
    fn query_id(&self) -> &str {
        &self.0.query_id
    }
    #[getter]
    fn status(&self) -> &str {
        &self.0.status
    }
    #[getter]
    fn query(&self) -> &str {
        &self.0.query
    }
    #[getter]
    fn log_groups(&self) -> Vec<String> {
        self.0.log_groups.clone()
    }
    /// Seconds since the epoch, as sent to StartQuery.
    #[getter]
    fn start_time(&self) -> i64 {
        self.0.start_time
    }
    #[getter]
    fn end_time(&self) -> i64 {
        self.0.end_time
    }
    #[getter]
    fn records_matched(&self) -> u64 {
        self.0.records_matched
    }
    #[getter]
    fn records_scanned(&self) -> u64 {
        self.0.records_scanned
    }
    #[getter]
    fn bytes_scanned(&self) -> u64 {
        self.0.bytes_scanned
    }
    #[getter]
    fn rows(&self) -> u64 {
        self.0.rows
    }
}
