//! The embedded engine: CloudTrail log files as an Athena table on Apache DataFusion.
//!
//! Layers, each depending only on those above it in this list: [`source`] (which files, and the
//! partition values their paths give), [`builders`] and [`reader`] (one file's CloudTrail JSON
//! into Arrow batches), [`table`] (the DataFusion scan: pruning, parallel reads, statistics),
//! [`sql`] (Athena's dialect on DataFusion) and [`session`].

mod builders;
pub mod fields_read;
pub mod memory;
pub mod parquet;
mod parquet_format;
pub mod reader;
pub mod remote;
pub mod session;
pub mod source;
pub mod sql;
pub mod table;
