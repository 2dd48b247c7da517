//! Athena (Trino) dialect on DataFusion: statement rewrites and Trino's functions.

pub mod functions;
pub mod rewrite;
