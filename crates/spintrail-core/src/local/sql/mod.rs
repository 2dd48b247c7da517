//! Athena (Trino) dialect on DataFusion: statement rewrites and Trino's functions.
//!
//! [`plan_query`] tokenises the SQL text, lower-cases every identifier (quoted or not, as Trino
//! does), parses exactly one statement, rewrites the Trino constructs that DataFusion plans
//! differently (see [`rewrite`]) and hands the result to DataFusion's planner. A call of a function
//! Athena does not know is refused first (see [`trino_names`]); planner errors about unknown
//! functions become [`Error::UnsupportedFunction`].
//!
//! [`register_trino_functions`] registers the Trino functions DataFusion lacks or has with other
//! semantics (see [`functions`]).

mod args;
pub mod functions;
pub mod json;
mod map_aggregate;
pub mod messages;
mod more_functions;
mod parse;
pub mod pattern;
mod percentile;
pub mod rewrite;
pub mod rules;
pub mod time;
pub mod trino_names;
mod url;
mod walk;

use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{DescribeAlias, Statement};

use self::parse::{map_planner_error, parse_one};
use crate::{Error, Result};

/// Registers Trino's functions (and any aliases/overrides) on a session.
pub fn register_trino_functions(ctx: &SessionContext) -> Result<()> {
    use datafusion::execution::FunctionRegistry;
    use datafusion::logical_expr::AggregateUDF;
    args::register::<functions::Kind>(ctx);
    args::register::<more_functions::More>(ctx);
    for kind in [
        map_aggregate::MapKind::MapAgg,
        map_aggregate::MapKind::Histogram,
    ] {
        ctx.register_udaf(AggregateUDF::new_from_impl(
            map_aggregate::MapAggregate::new(kind),
        ));
    }
    for (name, inner) in [
        ("trino_approx_percentile", "approx_percentile_cont"),
        (
            "trino_approx_percentile_weighted",
            "approx_percentile_cont_with_weight",
        ),
    ] {
        let inner = ctx.udaf(inner)?;
        ctx.register_udaf(AggregateUDF::new_from_impl(
            percentile::TrinoPercentile::new(name, inner),
        ));
    }
    Ok(())
}

/// A planned query and the column names its result shows.
pub struct PlannedQuery {
    pub plan: LogicalPlan,
    /// The result's column names when they differ from the plan's (Trino allows duplicate
    /// names, DataFusion's plan needs unique ones); `None` when the plan's names are right.
    pub output_names: Option<Vec<String>>,
    /// `Some(analyze)` when the text was `EXPLAIN [ANALYZE] <query>`: `plan` is the inner query's,
    /// and the answer is its plan (after running it, with `ANALYZE`).
    pub explain: Option<bool>,
}

/// Parses Athena/Trino SQL text (exactly one statement; a trailing `;` is fine), rewrites it into
/// what DataFusion plans with Trino's meaning, and returns the logical plan (of the inner query,
/// for `EXPLAIN [ANALYZE] <query>`).
pub async fn plan_query(ctx: &SessionContext, sql: &str) -> Result<LogicalPlan> {
    Ok(plan_statement(ctx, sql).await?.plan)
}

/// [`plan_query`] with the result's column names (see [`PlannedQuery::output_names`]). Applies
/// Trino's rules where DataFusion is looser or different (see [`rules`]).
pub async fn plan_statement(ctx: &SessionContext, sql: &str) -> Result<PlannedQuery> {
    let (statement, explain) = match parse_one(sql)? {
        Statement::Explain {
            describe_alias: DescribeAlias::Explain,
            analyze,
            statement,
            ..
        } if matches!(*statement, Statement::Query(_)) => (*statement, Some(analyze)),
        other => (other, None),
    };
    let mut query = match statement {
        Statement::Query(query) => query,
        other => return Err(refuse_statement(&other)),
    };
    // As written, before our rewrites introduce DataFusion's own functions.
    trino_names::refuse_foreign_functions(&query)?;
    rules::refuse_having_aliases(ctx, &query).await?;
    rules::keep_exponent_literals_double(&mut query)?;
    rewrite::rewrite_query(ctx, &mut query).await?;
    let written = query.clone();
    let renamed = rules::unique_output_names(ctx, &mut query).await?;
    let statement =
        datafusion::sql::parser::Statement::Statement(Box::new(Statement::Query(query)));
    let state = ctx.state();
    let plan = state.statement_to_plan(statement).await.map_err(|e| {
        // A dot on a text column: DataFusion's message names neither column nor fix.
        if e.find_root()
            .to_string()
            .contains("Cannot access field at argument")
        {
            let text_columns: Vec<String> = crate::schema::table_schema()
                .fields()
                .iter()
                .filter(|f| f.data_type() == &datafusion::arrow::datatypes::DataType::Utf8)
                .map(|f| f.name().clone())
                .collect();
            return Error::Sql(messages::field_access_on_text(&written, sql, &text_columns));
        }
        map_planner_error(e)
    })?;
    rules::refuse_text_time_comparisons(&plan)?;
    let plan = rules::trino_decimal_types(plan)?;
    let output_names = rules::output_names(&plan, &renamed);
    Ok(PlannedQuery {
        plan,
        output_names,
        explain,
    })
}

fn refuse_statement(statement: &Statement) -> Error {
    let text = statement.to_string();
    let kind: String = text
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    Error::Sql(format!(
        "only SELECT/WITH queries (and EXPLAIN [ANALYZE] of one) are supported by the local \
         engine, not `{kind} ...`"
    ))
}
