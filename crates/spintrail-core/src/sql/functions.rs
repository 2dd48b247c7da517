//! Trino functions as DataFusion UDFs.
