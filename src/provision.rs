//! `Stack`: provisioning the AWS side (plan / apply / destroy) from Python. Options arrive as a
//! JSON object (and an optional TOML document) and are checked by the core's one definition;
//! results leave as JSON, which the typed wrapper in `spintrail.provision` turns into dataclasses.

use std::sync::Arc;
use std::time::Duration;

use pyo3::prelude::*;
use spintrail_core::provision::{ConnectOptions, Stack as CoreStack, StackConfig};

use crate::aws_options::connect_options;
use crate::errors::{to_py, EngineError, InvalidArgumentError};
use crate::runtime::wait_for;

#[pyclass(module = "spintrail._internal", frozen)]
pub struct Stack {
    inner: Arc<CoreStack>,
}

fn report_json(report: &spintrail_core::provision::Report) -> PyResult<String> {
    serde_json::to_string(report)
        .map_err(|e| EngineError::new_err(format!("internal error: cannot encode the report: {e}")))
}

#[pymethods]
impl Stack {
    #[new]
    #[pyo3(signature = (options_json, *, config_toml = None, endpoint_url = None, profile = None, max_attempts = None, connect_timeout = 5.0))]
    fn new(
        options_json: &str,
        config_toml: Option<&str>,
        endpoint_url: Option<String>,
        profile: Option<String>,
        max_attempts: Option<u32>,
        connect_timeout: f64,
    ) -> PyResult<Self> {
        let overrides: serde_json::Value = serde_json::from_str(options_json)
            .map_err(|e| InvalidArgumentError::new_err(format!("options: {e}")))?;
        let config = StackConfig::from_sources(config_toml, &overrides).map_err(to_py)?;
        if !(connect_timeout.is_finite() && connect_timeout > 0.0) {
            return Err(InvalidArgumentError::new_err(
                "connect_timeout must be a positive number of seconds",
            ));
        }
        let connect = ConnectOptions {
            connect_timeout: Duration::from_secs_f64(connect_timeout),
            ..connect_options(endpoint_url, profile, max_attempts)
        };
        let inner = CoreStack::new(config, connect).map_err(to_py)?;
        Ok(Stack {
            inner: Arc::new(inner),
        })
    }

    /// The resolved desired state, as JSON (defaults filled in).
    fn config_json(&self) -> PyResult<String> {
        serde_json::to_string(&self.inner.config).map_err(|e| {
            EngineError::new_err(format!("internal error: cannot encode the options: {e}"))
        })
    }

    /// Reads what exists and returns, as JSON, what `apply` would change. Changes nothing.
    fn plan(&self, py: Python<'_>) -> PyResult<String> {
        let stack = self.inner.clone();
        let report = wait_for(py, async move { stack.plan().await })?;
        report_json(&report)
    }

    /// Makes AWS match the desired state; returns the report as JSON.
    fn apply(&self, py: Python<'_>) -> PyResult<String> {
        let stack = self.inner.clone();
        let report = wait_for(py, async move { stack.apply().await })?;
        report_json(&report)
    }

    /// Removes what this stack created; keeps the log bucket unless `delete_bucket`.
    #[pyo3(signature = (*, delete_bucket = false))]
    fn destroy(&self, py: Python<'_>, delete_bucket: bool) -> PyResult<String> {
        let stack = self.inner.clone();
        let report = wait_for(py, async move { stack.destroy(delete_bucket).await })?;
        report_json(&report)
    }

    /// Checks the live set-up (reads only); returns the findings as JSON.
    fn doctor(&self, py: Python<'_>) -> PyResult<String> {
        let stack = self.inner.clone();
        let diagnosis = wait_for(py, async move { stack.doctor().await })?;
        serde_json::to_string(&diagnosis).map_err(|e| {
            EngineError::new_err(format!("internal error: cannot encode the findings: {e}"))
        })
    }

    /// The equivalent `CREATE EXTERNAL TABLE` statement.
    fn ddl(&self, py: Python<'_>) -> PyResult<String> {
        let stack = self.inner.clone();
        wait_for(py, async move { stack.ddl().await })
    }
}
