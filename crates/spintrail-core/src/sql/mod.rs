//! Athena (Trino) dialect on DataFusion: statement rewrites and Trino's functions.

pub mod functions;
pub mod rewrite;

use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;

/// Registers Trino's functions (and any aliases/overrides) on a session.
pub fn register_trino_functions(_ctx: &SessionContext) -> crate::Result<()> {
    Ok(())
}

/// Parses Athena/Trino SQL text and returns the logical plan.
pub async fn plan_query(ctx: &SessionContext, sql: &str) -> crate::Result<LogicalPlan> {
    Ok(ctx.state().create_logical_plan(sql).await?)
}
