//! The one process-wide tokio runtime, and the helper every blocking call goes through: it
//! releases the GIL while the work runs and lets Ctrl-C interrupt it (the work is dropped, which
//! stops the readers).

use std::future::Future;
use std::time::Duration;

use pyo3::prelude::*;
use tokio::runtime::Runtime;

use crate::errors::to_py;

/// The runtime shared with `pyo3-async-runtimes`, so sync and async calls use the same threads.
pub fn runtime() -> &'static Runtime {
    pyo3_async_runtimes::tokio::get_runtime()
}

/// Runs `work` to completion without the GIL; a pending Ctrl-C (or other signal handler error)
/// cancels it and is raised.
pub fn wait_for<F, T>(py: Python<'_>, work: F) -> PyResult<T>
where
    F: Future<Output = spintrail_core::Result<T>> + Send,
    T: Send,
{
    py.detach(|| {
        runtime().block_on(async {
            let mut work = std::pin::pin!(work);
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    result = &mut work => return result.map_err(to_py),
                    _ = tick.tick() => {
                        Python::attach(|py| py.check_signals())?;
                    }
                }
            }
        })
    })
}
