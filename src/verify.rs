//! `verify()`: log file integrity validation from Python; and `write_digests()`, the generator's
//! signed digest files. The report crosses as plain columns (lists) that Python turns into a
//! `pyarrow.Table`.

use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use spintrail_core::generate::digests::{write_digests as run_write_digests, DigestOptions};
use spintrail_core::verify::{verify as run_verify, Status, VerifyOptions};

use crate::aws_options::connect_options;
use crate::errors::InvalidArgumentError;
use crate::runtime::wait_for;

/// An ISO-8601 time (`Z` or an offset), a naive time (UTC) or a date (its midnight, UTC).
fn parse_bound(name: &str, text: Option<&str>) -> PyResult<Option<DateTime<Utc>>> {
    let Some(text) = text else { return Ok(None) };
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    for format in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(Some(t.and_utc()));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()));
    }
    Err(InvalidArgumentError::new_err(format!(
        "{name} {text:?} is not a time: write ISO-8601 like 2024-07-30T21:00:00Z or a date like \
         2024-07-30"
    )))
}

#[pyfunction]
#[pyo3(signature = (source, *, start = None, end = None, public_keys = None, region = None, endpoint_url = None, profile = None, max_attempts = None, concurrency = 0))]
#[allow(clippy::too_many_arguments)]
pub fn verify<'py>(
    py: Python<'py>,
    source: String,
    start: Option<&str>,
    end: Option<&str>,
    public_keys: Option<Vec<PathBuf>>,
    region: Option<String>,
    endpoint_url: Option<String>,
    profile: Option<String>,
    max_attempts: Option<u32>,
    concurrency: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let options = VerifyOptions {
        start: parse_bound("start", start)?,
        end: parse_bound("end", end)?,
        public_key_files: public_keys.unwrap_or_default(),
        connect: connect_options(endpoint_url, profile, max_attempts),
        region,
        concurrency,
    };
    let report = wait_for(py, async move { run_verify(&source, &options).await })?;

    let files = PyDict::new(py);
    let f = &report.files;
    files.set_item(
        "kind",
        f.iter().map(|r| r.kind.as_str()).collect::<Vec<_>>(),
    )?;
    files.set_item(
        "path",
        f.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(),
    )?;
    files.set_item(
        "account",
        f.iter().map(|r| r.account.as_str()).collect::<Vec<_>>(),
    )?;
    files.set_item(
        "region",
        f.iter().map(|r| r.region.as_str()).collect::<Vec<_>>(),
    )?;
    files.set_item(
        "hour",
        f.iter().map(|r| r.hour.timestamp()).collect::<Vec<_>>(),
    )?;
    files.set_item(
        "status",
        f.iter().map(|r| r.status.as_str()).collect::<Vec<_>>(),
    )?;
    files.set_item(
        "detail",
        f.iter().map(|r| r.detail.as_str()).collect::<Vec<_>>(),
    )?;

    let hours = PyDict::new(py);
    let h = &report.hours;
    hours.set_item(
        "account",
        h.iter().map(|r| r.account.as_str()).collect::<Vec<_>>(),
    )?;
    hours.set_item(
        "region",
        h.iter().map(|r| r.region.as_str()).collect::<Vec<_>>(),
    )?;
    hours.set_item(
        "hour",
        h.iter().map(|r| r.hour.timestamp()).collect::<Vec<_>>(),
    )?;
    hours.set_item(
        "status",
        h.iter().map(|r| r.status.as_str()).collect::<Vec<_>>(),
    )?;
    hours.set_item("logs", h.iter().map(|r| r.logs).collect::<Vec<_>>())?;
    hours.set_item("digests", h.iter().map(|r| r.digests).collect::<Vec<_>>())?;
    hours.set_item("failures", h.iter().map(|r| r.failures).collect::<Vec<_>>())?;

    let out = PyDict::new(py);
    out.set_item("files", files)?;
    out.set_item("hours", hours)?;
    out.set_item("public_keys", report.public_keys.clone())?;
    out.set_item(
        "failure_statuses",
        Status::ALL
            .iter()
            .filter(|s| s.is_failure())
            .map(|s| s.as_str())
            .collect::<Vec<_>>(),
    )?;
    Ok(out)
}

/// Writes signed, chained hourly digests for the logs under `out_dir`; returns how many.
#[pyfunction]
#[pyo3(signature = (out_dir, signing_key, *, bucket = None, trail = None))]
pub fn write_digests(
    py: Python<'_>,
    out_dir: PathBuf,
    signing_key: PathBuf,
    bucket: Option<String>,
    trail: Option<String>,
) -> PyResult<u64> {
    let defaults = DigestOptions::default();
    let options = DigestOptions {
        signing_key,
        bucket: bucket.unwrap_or(defaults.bucket),
        trail: trail.unwrap_or(defaults.trail),
    };
    wait_for(py, async move {
        tokio::task::spawn_blocking(move || run_write_digests(&out_dir, &options))
            .await
            .map_err(|e| spintrail_core::Error::Engine(format!("writing digests failed: {e}")))?
    })
}
