//! `sync()`: a local copy of a trail's S3 logs kept in step; the summary crosses as a dict.

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use spintrail_core::sync::{sync as run_sync, SyncOptions};

use crate::aws_options::connect_options;
use crate::runtime::wait_for;

#[pyfunction]
#[pyo3(signature = (source, dest, *, since = None, digests = false, insights = false, region = None, endpoint_url = None, profile = None, max_attempts = None, concurrency = 0))]
#[allow(clippy::too_many_arguments)]
pub fn sync<'py>(
    py: Python<'py>,
    source: String,
    dest: PathBuf,
    since: Option<String>,
    digests: bool,
    insights: bool,
    region: Option<String>,
    endpoint_url: Option<String>,
    profile: Option<String>,
    max_attempts: Option<u32>,
    concurrency: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let options = SyncOptions {
        since,
        digests,
        insights,
        concurrency,
        connect: connect_options(endpoint_url, profile, max_attempts),
        region,
    };
    let summary = wait_for(py, async move { run_sync(&source, &dest, &options).await })?;
    let out = PyDict::new(py);
    out.set_item("listed", summary.listed)?;
    out.set_item("copied", summary.copied)?;
    out.set_item("skipped", summary.skipped)?;
    out.set_item("bytes", summary.bytes)?;
    out.set_item("failed", summary.failed)?;
    out.set_item("failures", summary.failures)?;
    out.set_item("removed_partials", summary.removed_partials)?;
    Ok(out)
}
