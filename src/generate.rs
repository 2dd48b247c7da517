//! `generate()`: synthetic Spinnaker CloudTrail logs from Python.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use spintrail_core::generate::{generate as run, GenerateOptions};

use crate::errors::InvalidArgumentError;
use crate::runtime::wait_for;

#[pyfunction]
#[pyo3(signature = (out_dir, *, events = 100_000, days = 1, seed = 42, end = None, accounts = None, regions = None, prefix = None, org_id = None, role = "SpinnakerManagedCA", events_per_file = 2000, threads = 0))]
#[allow(clippy::too_many_arguments)]
pub fn generate<'py>(
    py: Python<'py>,
    out_dir: PathBuf,
    events: u64,
    days: u32,
    seed: u64,
    end: Option<&str>,
    accounts: Option<Vec<String>>,
    regions: Option<Vec<String>>,
    prefix: Option<String>,
    org_id: Option<String>,
    role: &str,
    events_per_file: usize,
    threads: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let defaults = GenerateOptions::default();
    let end = match end {
        None => Utc::now(),
        Some(text) => DateTime::parse_from_rfc3339(text)
            .map_err(|e| {
                InvalidArgumentError::new_err(format!(
                    "end {text:?} is not an ISO-8601 time like 2024-07-30T21:00:00Z: {e}"
                ))
            })?
            .with_timezone(&Utc),
    };
    let options = GenerateOptions {
        out_dir,
        events,
        end,
        days,
        seed,
        accounts: accounts.unwrap_or(defaults.accounts),
        regions: regions.unwrap_or(defaults.regions),
        prefix,
        org_id,
        spinnaker_role: role.to_string(),
        events_per_file,
        threads,
    };
    let summary = wait_for(py, async move {
        tokio::task::spawn_blocking(move || run(&options))
            .await
            .map_err(|e| spintrail_core::Error::Engine(format!("generator failed: {e}")))?
    })?;
    let d = PyDict::new(py);
    d.set_item("files", summary.files)?;
    d.set_item("events", summary.events)?;
    d.set_item("bytes_uncompressed", summary.bytes_uncompressed)?;
    d.set_item("bytes_written", summary.bytes_written)?;
    d.set_item("spinnaker_events", summary.spinnaker_events)?;
    d.set_item("throttled_events", summary.throttled_events)?;
    Ok(d)
}
