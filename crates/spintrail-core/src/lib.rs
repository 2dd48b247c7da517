//! spintrail-core: CloudTrail logs as an Athena-compatible SQL table, on two engines, and
//! Logs Insights on CloudWatch Logs as a third.
//! No PyO3 here; the Python binding lives in the root crate.
//!
//! The engines are peers over what they share at the crate root:
//! - [`local`], the embedded engine on Apache DataFusion: [`local::source`] lists log files and
//!   the partition values their paths give, [`local::reader`] decodes a file into Arrow batches,
//!   [`local::table`] is the DataFusion scan (pruning, statistics), [`local::sql`] turns Athena's
//!   SQL dialect into DataFusion plans, and [`local::session`] ties them together. Each of these
//!   depends only on the ones before it.
//! - [`athena`], the distributed engine: queries run on Amazon Athena, results come back typed.
//! - [`cloudwatch`], Logs Insights queries on CloudWatch Logs itself (where a trail also
//!   delivers there), results typed from Logs Insights' text values.
//!
//! Shared by the engines: [`schema`] (the table contract), [`timestamp`] (the one rule for
//! timestamps written as text), [`parameters`] (`?` values as
//! literals), [`result`] (what a query returns and what is known about it), [`aws`] (one AWS
//! configuration) and [`error`]. [`provision`] sets up the AWS side and [`generate`] writes
//! synthetic logs; neither runs queries. [`verify`] checks the logs against CloudTrail's signed
//! digest files.

pub mod athena;
pub mod aws;
pub mod cloudwatch;
pub mod compact;
pub mod error;
pub mod fuzzing;
pub mod generate;
pub mod local;
pub mod parameters;
pub mod provision;
pub mod result;
pub mod s3;
pub mod schema;
pub mod sync;
pub mod timestamp;
pub mod verify;

pub use error::{Error, Result};
pub use local::session::{LocalSession, QueryStream, SessionOptions, StatsHandle};
pub use local::table::OnError;
pub use result::{Fetch, InsightsInfo, Problem, QueryFacts, QueryInfo, QueryResult, ScanStats};
pub use schema::PartitionLayout;
