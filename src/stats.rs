//! Scan statistics handed to Python as a plain dict (the typed dataclass lives in Python).

use pyo3::prelude::*;
use pyo3::types::PyDict;
use spintrail_core::ScanStats;

pub fn to_dict<'py>(py: Python<'py>, stats: &ScanStats) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("files_listed", stats.files_listed)?;
    d.set_item("files_pruned", stats.files_pruned)?;
    d.set_item("files_read", stats.files_read)?;
    d.set_item("files_skipped", stats.files_skipped)?;
    d.set_item("files_excluded", stats.files_excluded)?;
    d.set_item("bytes_read", stats.bytes_read)?;
    d.set_item("json_bytes", stats.json_bytes)?;
    d.set_item("records_read", stats.records_read)?;
    d.set_item("records_rejected", stats.records_rejected)?;
    d.set_item("rows", stats.rows)?;
    let problems = stats
        .problems
        .iter()
        .map(|p| {
            (
                p.path.display().to_string(),
                p.record.map(|r| r as i64),
                p.reason.clone(),
            )
        })
        .collect::<Vec<_>>();
    d.set_item("problems", problems)?;
    Ok(d)
}
