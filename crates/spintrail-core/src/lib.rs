//! spintrail-core: CloudTrail logs as an Athena-compatible SQL table on Apache DataFusion.
//! No PyO3 here; the Python binding lives in the root crate.
//!
//! Data flows one way: [`source`] (files) → [`reader`] (CloudTrail JSON → Arrow batches) →
//! [`table`] (DataFusion scan with pruning) → [`session`] (Athena SQL via [`sql`]) → Arrow stream.

pub mod athena;
pub mod aws;
mod builders;
pub mod error;
pub mod generate;
pub mod parameters;
pub mod provision;
pub mod reader;
pub mod schema;
pub mod session;
pub mod source;
pub mod sql;
pub mod table;

pub use error::{Error, Result};
pub use session::{LocalSession, QueryResult, QueryStream, SessionOptions, StatsHandle};
pub use table::{OnError, Problem, ScanStats};
