//! Athena (Trino) dialect on DataFusion: statement rewrites and Trino's functions.
//!
//! [`plan_query`] tokenises the SQL text, lower-cases every identifier (quoted or not, as Trino
//! does), parses exactly one statement, rewrites the Trino constructs that DataFusion plans
//! differently (see [`rewrite`]) and hands the result to DataFusion's planner. Planner errors about
//! unknown functions become [`Error::UnsupportedFunction`].
//!
//! [`register_trino_functions`] registers the Trino functions DataFusion lacks or has with other
//! semantics (see [`functions`]).

pub mod functions;
pub mod json;
mod percentile;
pub mod rewrite;
pub mod time;

use datafusion::error::DataFusionError;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

use crate::{Error, Result};

/// Registers Trino's functions (and any aliases/overrides) on a session.
pub fn register_trino_functions(ctx: &SessionContext) -> Result<()> {
    use datafusion::execution::FunctionRegistry;
    use datafusion::logical_expr::AggregateUDF;
    functions::register(ctx)?;
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

/// Parses Athena/Trino SQL text (exactly one statement; a trailing `;` is fine), rewrites it into
/// what DataFusion plans with Trino's meaning, and returns the logical plan.
pub async fn plan_query(ctx: &SessionContext, sql: &str) -> Result<LogicalPlan> {
    let statement = parse_one(sql)?;
    let mut query = match statement {
        Statement::Query(query) => query,
        other => return Err(refuse_statement(&other)),
    };
    rewrite::rewrite_query(ctx, &mut query).await?;
    let statement =
        datafusion::sql::parser::Statement::Statement(Box::new(Statement::Query(query)));
    let state = ctx.state();
    state
        .statement_to_plan(statement)
        .await
        .map_err(map_planner_error)
}

/// Tokenises `sql`, lower-cases every identifier and parses exactly one statement.
pub(crate) fn parse_one(sql: &str) -> Result<Statement> {
    let dialect = GenericDialect {};
    let mut tokens = Tokenizer::new(&dialect, sql)
        .tokenize_with_location()
        .map_err(|e| Error::Sql(format!("SQL syntax error: {e}")))?;
    for token in &mut tokens {
        if let Token::Word(word) = &mut token.token {
            // Trino identifiers are case-insensitive, quoted or not: they are lower-cased.
            if word.value.chars().any(|c| c.is_uppercase()) {
                word.value = word.value.to_lowercase();
            }
        }
    }
    let mut statements = Parser::new(&dialect)
        .with_tokens_with_locations(tokens)
        .parse_statements()
        .map_err(|e| Error::Sql(format!("SQL syntax error: {e}")))?;
    match statements.len() {
        0 => Err(Error::Sql("SQL syntax error: no statement given".into())),
        1 => Ok(statements.remove(0)),
        n => Err(Error::Sql(format!(
            "expected exactly one SQL statement, got {n}"
        ))),
    }
}

fn refuse_statement(statement: &Statement) -> Error {
    let text = statement.to_string();
    let kind: String = text
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    Error::Sql(format!(
        "only SELECT/WITH queries are supported by the local engine, not `{kind} ...`"
    ))
}

/// Maps DataFusion planner errors: unknown functions become [`Error::UnsupportedFunction`].
pub(crate) fn map_planner_error(err: DataFusionError) -> Error {
    let message = err.find_root().to_string();
    if let Some(name) = invalid_function_name(&message) {
        return unsupported_function(&name, &message);
    }
    Error::from(err)
}

fn invalid_function_name(message: &str) -> Option<String> {
    let start = message.find("Invalid function '")? + "Invalid function '".len();
    let rest = &message[start..];
    let end = rest.find('\'')?;
    Some(rest[..end].to_string())
}

pub(crate) fn unsupported_function(name: &str, message: &str) -> Error {
    let name = name.strip_prefix(functions::TRY_PREFIX).unwrap_or(name);
    let mut hint = String::new();
    if let Some(known) = functions::trino_hint(name) {
        hint = format!(" ({known})");
    } else if let Some(pos) = message.find("Did you mean '") {
        let rest = &message[pos + "Did you mean '".len()..];
        if let Some(end) = rest.find('\'') {
            let suggestion = &rest[..end];
            if !suggestion.starts_with(functions::TRY_PREFIX) {
                hint = format!(" (did you mean {suggestion}?)");
            }
        }
    }
    Error::UnsupportedFunction {
        name: name.to_string(),
        hint,
    }
}
