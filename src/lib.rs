//! The Python binding of spintrail: registers the classes, functions and exceptions of
//! `spintrail._internal`. Each class lives in its own file; the engine is `spintrail-core`.

mod athena;
mod aws_options;
mod cloudwatch;
mod compact;
mod errors;
mod estimate;
mod generate;
mod insights_info;
mod latest;
mod parameters;
mod provision;
mod query_info;
mod result;
mod runtime;
mod session;
mod stats;
mod stream;
mod sync;
mod verify;

use pyo3::prelude::*;

#[pymodule]
fn _internal(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    m.add_class::<session::LocalSession>()?;
    m.add_class::<athena::AthenaSession>()?;
    m.add_class::<cloudwatch::CloudWatchSession>()?;
    m.add_class::<provision::Stack>()?;
    m.add_class::<result::QueryResult>()?;
    m.add_class::<stats::ScanStats>()?;
    m.add_class::<query_info::QueryInfo>()?;
    m.add_class::<estimate::Estimate>()?;
    m.add_class::<insights_info::InsightsInfo>()?;
    m.add_function(wrap_pyfunction!(generate::generate, m)?)?;
    m.add_function(wrap_pyfunction!(compact::compact, m)?)?;
    m.add_function(wrap_pyfunction!(verify::verify, m)?)?;
    m.add_function(wrap_pyfunction!(sync::sync, m)?)?;
    m.add_function(wrap_pyfunction!(verify::write_digests, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
