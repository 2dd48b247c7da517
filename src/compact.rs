//! `compact()`: CloudTrail logs rewritten as partitioned Parquet, from Python.

use pyo3::prelude::*;
use pyo3::types::PyDict;
use spintrail_core::compact::{compact as run, CompactOptions};
use spintrail_core::OnError;

use crate::aws_options::connect_options;
use crate::errors::to_py;
use crate::runtime::wait_for;

#[pyfunction]
#[pyo3(signature = (source, dest, *, dedup = false, row_group_rows = None, on_error = None, threads = 0, region = None, endpoint_url = None, profile = None, max_attempts = None))]
#[allow(clippy::too_many_arguments)]
pub fn compact<'py>(
    py: Python<'py>,
    source: String,
    dest: String,
    dedup: bool,
    row_group_rows: Option<usize>,
    on_error: Option<&str>,
    threads: usize,
    region: Option<String>,
    endpoint_url: Option<String>,
    profile: Option<String>,
    max_attempts: Option<u32>,
) -> PyResult<Bound<'py, PyDict>> {
    let defaults = CompactOptions::default();
    let options = CompactOptions {
        dedup,
        row_group_rows: row_group_rows.unwrap_or(defaults.row_group_rows),
        on_error: on_error
            .map(OnError::parse)
            .transpose()
            .map_err(to_py)?
            .unwrap_or(defaults.on_error),
        threads,
        connect: connect_options(endpoint_url, profile, max_attempts),
        region,
    };
    let report = wait_for(py, async move { run(&source, &dest, &options).await })?;
    let d = PyDict::new(py);
    d.set_item("days", report.days)?;
    d.set_item("days_written", report.days_written)?;
    d.set_item("days_unchanged", report.days_unchanged)?;
    d.set_item("files_read", report.files_read)?;
    d.set_item("files_excluded", report.files_excluded)?;
    d.set_item("rows_written", report.rows_written)?;
    d.set_item("duplicates_dropped", report.duplicates_dropped)?;
    d.set_item("bytes_written", report.bytes_written)?;
    Ok(d)
}
