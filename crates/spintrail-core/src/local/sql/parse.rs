//! Parsing Athena SQL text into one statement, and the planner's errors in our terms. Depends on
//! `functions` only for the names it reports; `rewrite` and the planner entry point use it.

use datafusion::error::DataFusionError;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

use super::{functions, messages};
use crate::{Error, Result};

/// Tokenises `sql`, lower-cases every identifier and parses exactly one statement.
pub fn parse_one(sql: &str) -> Result<Statement> {
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

/// Maps DataFusion planner errors: unknown functions become [`Error::UnsupportedFunction`].
pub fn map_planner_error(err: DataFusionError) -> Error {
    let message = err.find_root().to_string();
    if let Some(name) = invalid_function_name(&message) {
        return unsupported_function(&name);
    }
    Error::from(err)
}

fn invalid_function_name(message: &str) -> Option<String> {
    let start = message.find("Invalid function '")? + "Invalid function '".len();
    let rest = &message[start..];
    let end = rest.find('\'')?;
    Some(rest[..end].to_string())
}

pub fn unsupported_function(name: &str) -> Error {
    let name = name.strip_prefix(functions::TRY_PREFIX).unwrap_or(name);
    // DataFusion's own suggestion may name an unrelated engine function: only a close, real
    // Trino name is suggested.
    let hint = match (
        functions::trino_hint(name),
        messages::close_trino_name(name),
    ) {
        (Some(known), _) => format!(" ({known})"),
        (None, Some(close)) => format!(" (did you mean {close}?)"),
        (None, None) => String::new(),
    };
    Error::UnsupportedFunction {
        name: name.to_string(),
        hint,
    }
}
