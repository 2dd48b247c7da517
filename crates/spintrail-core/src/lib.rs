//! spintrail-core: CloudTrail logs as an Athena-compatible SQL table on Apache DataFusion.
//! No PyO3 here; the Python binding lives in the root crate.

pub mod error;
pub mod generate;
pub mod schema;
pub mod sql;

pub use error::{Error, Result};
