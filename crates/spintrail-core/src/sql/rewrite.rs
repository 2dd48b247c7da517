//! Rewrites of Trino syntax that DataFusion does not plan as Trino means it.
