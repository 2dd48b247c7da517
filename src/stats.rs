//! `ScanStats`: what one query on the embedded engine read and rejected, as a frozen class with
//! typed getters (the public dataclass in `spintrail.session` is built from it).

use pyo3::prelude::*;
use spintrail_core::ScanStats as CoreStats;

#[pyclass(module = "spintrail._internal", frozen, name = "ScanStats")]
pub struct ScanStats(pub CoreStats);

#[pymethods]
impl ScanStats {
    #[getter]
    fn files_listed(&self) -> usize {
        self.0.files_listed
    }
    #[getter]
    fn files_pruned(&self) -> usize {
        self.0.files_pruned
    }
    #[getter]
    fn files_read(&self) -> usize {
        self.0.files_read
    }
    #[getter]
    fn files_skipped(&self) -> usize {
        self.0.files_skipped
    }
    #[getter]
    fn files_excluded(&self) -> usize {
        self.0.files_excluded
    }
    #[getter]
    fn bytes_read(&self) -> u64 {
        self.0.bytes_read
    }
    /// The bytes Athena would bill for the same scan (compressed sizes, 10 MB minimum).
    #[getter]
    fn athena_billed_bytes(&self) -> u64 {
        self.0.athena_billed_bytes()
    }
    /// What the same scan would cost on Athena at the default price per TB.
    #[getter]
    fn athena_cost_usd(&self) -> f64 {
        self.0
            .athena_cost_usd(spintrail_core::athena::DEFAULT_PRICE_PER_TB)
    }
    #[getter]
    fn json_bytes(&self) -> u64 {
        self.0.json_bytes
    }
    #[getter]
    fn records_read(&self) -> u64 {
        self.0.records_read
    }
    #[getter]
    fn records_rejected(&self) -> u64 {
        self.0.records_rejected
    }
    #[getter]
    fn rows(&self) -> u64 {
        self.0.rows
    }
    #[getter]
    fn spill_files(&self) -> u64 {
        self.0.spill_files
    }
    #[getter]
    fn spilled_bytes(&self) -> u64 {
        self.0.spilled_bytes
    }
    #[getter]
    fn reruns(&self) -> u64 {
        self.0.reruns
    }
    /// Each problem as (path, record index or None for a whole file, reason).
    #[getter]
    fn problems(&self) -> Vec<(String, Option<usize>, String)> {
        self.0
            .problems
            .iter()
            .map(|p| (p.path.display().to_string(), p.record, p.reason.clone()))
            .collect()
    }
}
