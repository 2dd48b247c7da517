//! Trino's rules where DataFusion is looser or different, so that a query that runs locally runs
//! on Athena with the same answer, and one that Athena refuses is refused here too:
//!
//! - two output columns may share a name (`SELECT useridentity.username, x AS username`):
//!   DataFusion needs unique names, so duplicates get internal aliases ([`unique_output_names`])
//!   and the result schema gets the names back ([`output_names`]);
//! - `1.0` is a DECIMAL, `1e3` a DOUBLE: the session parses decimal literals as decimals
//!   ([`apply_trino_options`]), exponent literals stay doubles ([`keep_exponent_literals_double`]),
//!   and decimal `+ - * / %` and `round` get Trino's result precision and scale
//!   ([`trino_decimal_types`]);
//! - varchar compared with a timestamp or date is an error ([`refuse_text_time_comparisons`]);
//! - HAVING may not name a SELECT alias ([`refuse_having_aliases`]).

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DFSchema, DFSchemaRef, ScalarValue};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::expr::{Between, InList};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::{BinaryExpr, Cast, Expr, ExprSchemable, LogicalPlan, Operator};
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::sql::sqlparser::ast::{
    self as ast, Ident, Query, Select, SelectItem, SetExpr, Value, Visitor, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;

use super::walk;
use crate::{Error, Result};

/// Session settings Trino's semantics need: `1.0` is a DECIMAL literal, not a DOUBLE.
pub fn apply_trino_options(config: &mut SessionConfig) {
    config.options_mut().sql_parser.parse_float_as_decimal = true;
}

// ---------------------------------------------------------------------------------------------
// Literals.

/// `1e3`, `2.5E-1`: Trino reads a literal with an exponent as DOUBLE (DataFusion, parsing
/// decimals, would make it a decimal with a negative scale).
pub fn keep_exponent_literals_double(query: &mut Query) -> Result<()> {
    let flow = walk::exprs_mut(query, |expr| {
        if let ast::Expr::Value(v) = expr {
            if let Value::Number(text, _) = &v.value {
                if text.contains(['e', 'E']) {
                    match parse_expr(&format!("CAST('{text}' AS DOUBLE)")) {
                        Ok(cast) => *expr = cast,
                        Err(e) => return ControlFlow::Break(e),
                    }
                }
            }
        }
        ControlFlow::Continue(())
    });
    match flow {
        ControlFlow::Break(e) => Err(e),
        ControlFlow::Continue(()) => Ok(()),
    }
}

fn parse_expr(sql: &str) -> Result<ast::Expr> {
    Parser::new(&GenericDialect {})
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| Error::Sql(format!("internal rewrite error in `{sql}`: {e}")))
}

// ---------------------------------------------------------------------------------------------
// Planning a probe: the columns a FROM clause (or a wildcard) gives.

/// The output column names of `sql` (a SELECT ... LIMIT 0), planned as any query is; `None`
/// when it does not plan (the real query then reports the real error).
async fn probe_names(ctx: &SessionContext, sql: &str, rewrite: bool) -> Option<Vec<String>> {
    let statement = super::parse::parse_one(sql).ok()?;
    let ast::Statement::Query(mut query) = statement else {
        return None;
    };
    if rewrite {
        super::rewrite::rewrite_query(ctx, &mut query).await.ok()?;
    }
    let statement =
        datafusion::sql::parser::Statement::Statement(Box::new(ast::Statement::Query(query)));
    let plan = ctx.state().statement_to_plan(statement).await.ok()?;
    Some(
        plan.schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect(),
    )
}

fn from_sql(with: Option<&ast::With>, select: &Select, items: &str) -> String {
    let with = with.map(|w| format!("{w} ")).unwrap_or_default();
    let from = select
        .from
        .iter()
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    format!("{with}SELECT {items} FROM {from} LIMIT 0")
}

/// The top-level SELECTs of a query body (the branches of a set operation).
fn top_selects(body: &SetExpr) -> Vec<&Select> {
    match body {
        SetExpr::Select(s) => vec![s.as_ref()],
        SetExpr::SetOperation { left, right, .. } => {
            let mut out = top_selects(left);
            out.extend(top_selects(right));
            out
        }
        _ => Vec::new(),
    }
}

fn top_selects_mut(body: &mut SetExpr) -> Vec<&mut Select> {
    match body {
        SetExpr::Select(s) => vec![s.as_mut()],
        SetExpr::SetOperation { left, right, .. } => {
            let mut out = top_selects_mut(left);
            out.extend(top_selects_mut(right));
            out
        }
        _ => Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// HAVING may not name a SELECT alias.

/// A HAVING clause that names a SELECT alias, to be checked against the FROM columns.
struct AliasInHaving {
    probe: String,
    alias: String,
    fixed: String,
}

/// Trino resolves HAVING against the FROM clause only: `HAVING n > 10` for `count(*) AS n`
/// fails on Athena with "Column 'n' cannot be resolved" (DataFusion would accept it).
pub async fn refuse_having_aliases(ctx: &SessionContext, query: &Query) -> Result<()> {
    struct Finder<'a> {
        with: Option<&'a ast::With>,
        found: Vec<AliasInHaving>,
    }
    impl Visitor for Finder<'_> {
        type Break = ();
        fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
            for select in top_selects(&query.body) {
                if let Some(found) = alias_in_having(self.with, select) {
                    self.found.push(found);
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut finder = Finder {
        with: query.with.as_ref(),
        found: Vec::new(),
    };
    let _ = walk::walk(query, &mut finder);
    for found in finder.found {
        let Some(columns) = probe_names(ctx, &found.probe, true).await else {
            continue;
        };
        if !columns.contains(&found.alias) {
            let alias = &found.alias;
            return Err(Error::Sql(format!(
                "HAVING refers to {alias}, an alias defined in the SELECT list: Athena (Trino) \
                 resolves HAVING against the FROM columns only and fails with \"Column \
                 '{alias}' cannot be resolved\". Repeat the expression instead: HAVING {}",
                found.fixed
            )));
        }
    }
    Ok(())
}

fn alias_in_having(with: Option<&ast::With>, select: &Select) -> Option<AliasInHaving> {
    let having = select.having.as_ref()?;
    let aliases: HashMap<&str, &ast::Expr> = select
        .projection
        .iter()
        .filter_map(|item| match item {
            SelectItem::ExprWithAlias { expr, alias } => match expr {
                ast::Expr::Identifier(id) if id.value == alias.value => None,
                _ => Some((alias.value.as_str(), expr)),
            },
            _ => None,
        })
        .collect();
    let mut used: Option<String> = None;
    let _ = walk::exprs(having, |e| {
        if let ast::Expr::Identifier(id) = e {
            if aliases.contains_key(id.value.as_str()) {
                used = Some(id.value.clone());
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    });
    let alias = used?;
    let mut fixed = having.clone();
    let _ = walk::exprs_mut(&mut fixed, |e| {
        if let ast::Expr::Identifier(id) = e {
            if let Some(expr) = aliases.get(id.value.as_str()) {
                *e = (*expr).clone();
            }
        }
        ControlFlow::<()>::Continue(())
    });
    Some(AliasInHaving {
        probe: from_sql(with, select, "*"),
        alias,
        fixed: fixed.to_string(),
    })
}

// ---------------------------------------------------------------------------------------------
// Duplicate output names.

/// An internal alias given to a duplicate output column, and the name Trino shows.
pub type Renamed = Vec<(String, String)>;

const INTERNAL_PREFIX: &str = "__spintrail_output_";

/// Gives the second and later select items of the same name unique internal aliases (in every
/// SELECT of the query); a wildcard's columns count in the outermost SELECT. Returns the aliases
/// with the names they stand for.
pub async fn unique_output_names(ctx: &SessionContext, query: &mut Query) -> Result<Renamed> {
    let mut renamed = Renamed::new();
    // The outermost SELECT: a wildcard beside named items is expanded by planning it alone.
    let with = query.with.clone();
    if let SetExpr::Select(select) = query.body.as_mut() {
        let wildcards: Vec<String> = select
            .projection
            .iter()
            .filter(|i| is_wildcard(i))
            .map(|i| i.to_string())
            .collect();
        if !wildcards.is_empty() && wildcards.len() < select.projection.len() {
            let probe = from_sql(with.as_ref(), select, &wildcards.join(", "));
            if let Some(names) = probe_names(ctx, &probe, false).await {
                dedupe_select(select, names.into_iter().collect(), &mut renamed);
            }
        }
    }
    struct Deduper<'a>(&'a mut Renamed);
    impl VisitorMut for Deduper<'_> {
        type Break = ();
        fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
            for select in top_selects_mut(&mut query.body) {
                dedupe_select(select, HashSet::new(), self.0);
            }
            ControlFlow::Continue(())
        }
    }
    let _ = walk::walk_mut(query, &mut Deduper(&mut renamed));
    Ok(renamed)
}

fn is_wildcard(item: &SelectItem) -> bool {
    matches!(
        item,
        SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)
    )
}

fn item_name(item: &SelectItem) -> Option<String> {
    match item {
        SelectItem::UnnamedExpr(ast::Expr::Identifier(id)) => Some(id.value.clone()),
        SelectItem::UnnamedExpr(ast::Expr::CompoundIdentifier(parts)) => {
            parts.last().map(|p| p.value.clone())
        }
        SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.clone()),
        _ => None,
    }
}

fn dedupe_select(select: &mut Select, mut seen: HashSet<String>, renamed: &mut Renamed) {
    for item in select.projection.iter_mut() {
        let Some(name) = item_name(item) else {
            continue;
        };
        if seen.insert(name.clone()) {
            continue;
        }
        let internal = format!("{INTERNAL_PREFIX}{}", renamed.len());
        let expr = match item {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => e.clone(),
            _ => continue,
        };
        *item = SelectItem::ExprWithAlias {
            expr,
            alias: Ident::new(&internal),
        };
        renamed.push((internal, name));
    }
}

/// The result's column names when some were renamed internally; `None` when none were.
pub fn output_names(plan: &LogicalPlan, renamed: &Renamed) -> Option<Vec<String>> {
    let lookup: HashMap<&str, &str> = renamed
        .iter()
        .map(|(internal, name)| (internal.as_str(), name.as_str()))
        .collect();
    let mut any = false;
    let names = plan
        .schema()
        .fields()
        .iter()
        .map(|f| match lookup.get(f.name().as_str()) {
            Some(name) => {
                any = true;
                name.to_string()
            }
            None => f.name().clone(),
        })
        .collect();
    any.then_some(names)
}

// ---------------------------------------------------------------------------------------------
// Walking the expressions of a plan with the schema they are evaluated against.

/// The schema a node's expressions refer to: its inputs' (merged for a join).
fn input_schema(node: &LogicalPlan) -> DFSchemaRef {
    let inputs = node.inputs();
    match inputs.as_slice() {
        [] => node.schema().clone(),
        [one] => one.schema().clone(),
        many => {
            let mut merged = DFSchema::empty();
            for input in many {
                merged.merge(input.schema());
            }
            Arc::new(merged)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// varchar compared with a timestamp or a date.

fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

fn is_time(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Timestamp(..) | DataType::Date32 | DataType::Date64
    )
}

fn trino_type_name(t: &DataType) -> String {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "varchar".into(),
        DataType::Timestamp(_, Some(_)) => "timestamp with time zone".into(),
        DataType::Timestamp(_, None) => "timestamp".into(),
        DataType::Date32 | DataType::Date64 => "date".into(),
        other => other.to_string().to_lowercase(),
    }
}

fn operator_text(op: &Operator) -> String {
    match op {
        Operator::IsDistinctFrom => "IS DISTINCT FROM".into(),
        Operator::IsNotDistinctFrom => "IS NOT DISTINCT FROM".into(),
        other => other.to_string(),
    }
}

/// How the text side of a refused comparison reads in the message, and the fix for it.
fn text_side_fix(expr: &Expr) -> String {
    match expr {
        Expr::Column(c) => format!(
            "{name} is text (ISO-8601 for eventtime): compare from_iso8601_timestamp({name}) \
             instead",
            name = c.name
        ),
        Expr::Literal(ScalarValue::Utf8(Some(s)), _) => format!(
            "'{s}' is a varchar literal: write a timestamp literal (TIMESTAMP '2024-01-01 \
             00:00:00'), from_iso8601_timestamp('{s}') or a DATE '...' literal instead"
        ),
        _ => "convert the text with from_iso8601_timestamp(...) (or parse_datetime / \
              date_parse) before comparing"
            .into(),
    }
}

fn text_time_error(left: &Expr, op: &str, right: &Expr, lt: &DataType, rt: &DataType) -> Error {
    let text_side = if is_text(lt) { left } else { right };
    Error::Sql(format!(
        "Athena (Trino) does not compare {} with {}: the query fails there with \"Cannot apply \
         operator: {} {op} {}\". {}",
        trino_type_name(lt),
        trino_type_name(rt),
        trino_type_name(lt),
        trino_type_name(rt),
        text_side_fix(text_side)
    ))
}

fn check_pair(
    left: &Expr,
    op: &str,
    right: &Expr,
    schema: &DFSchema,
) -> std::result::Result<(), DataFusionError> {
    let (Ok(lt), Ok(rt)) = (left.get_type(schema), right.get_type(schema)) else {
        return Ok(());
    };
    if (is_text(&lt) && is_time(&rt)) || (is_time(&lt) && is_text(&rt)) {
        return Err(text_time_error(left, op, right, &lt, &rt).into());
    }
    Ok(())
}

fn check_comparison(expr: &Expr, schema: &DFSchema) -> std::result::Result<(), DataFusionError> {
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) if is_comparison(op) => {
            check_pair(left, &operator_text(op), right, schema)
        }
        Expr::Between(Between {
            expr, low, high, ..
        }) => {
            check_pair(expr, "BETWEEN", low, schema)?;
            check_pair(expr, "BETWEEN", high, schema)
        }
        Expr::InList(InList { expr, list, .. }) => list
            .iter()
            .try_for_each(|item| check_pair(expr, "IN", item, schema)),
        _ => Ok(()),
    }
}

fn is_comparison(op: &Operator) -> bool {
    matches!(
        op,
        Operator::Eq
            | Operator::NotEq
            | Operator::Lt
            | Operator::LtEq
            | Operator::Gt
            | Operator::GtEq
            | Operator::IsDistinctFrom
            | Operator::IsNotDistinctFrom
    )
}

/// Trino has no implicit cast between varchar and timestamp or date: `eventtime >= now() -
/// interval '1' day` is a type error on Athena (DataFusion would cast the text). Refused here
/// with the fix.
pub fn refuse_text_time_comparisons(plan: &LogicalPlan) -> Result<()> {
    plan.apply_with_subqueries(|node| {
        let schema = input_schema(node);
        node.apply_expressions(|expr| {
            expr.apply(|e| {
                check_comparison(e, &schema)?;
                Ok(TreeNodeRecursion::Continue)
            })
        })?;
        Ok(TreeNodeRecursion::Continue)
    })
    .map_err(Error::from)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Decimal arithmetic with Trino's result types.

const MAX_PRECISION: u8 = 38;

/// A decimal operand's precision and scale as Trino types it (integers as the decimals that
/// hold them: bigint is decimal(19, 0)); `None` for other types.
fn decimal_of(t: &DataType) -> Option<(u8, i8)> {
    Some(match t {
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) => (*p, *s),
        DataType::Int8 | DataType::UInt8 => (3, 0),
        DataType::Int16 | DataType::UInt16 => (5, 0),
        DataType::Int32 | DataType::UInt32 => (10, 0),
        DataType::Int64 => (19, 0),
        DataType::UInt64 => (20, 0),
        _ => return None,
    })
}

/// An operand's Trino type: an integer literal that fits 32 bits is an INTEGER in Trino (a
/// BIGINT in DataFusion).
fn operand_type(expr: &Expr, schema: &DFSchema) -> Option<DataType> {
    match expr {
        Expr::Literal(ScalarValue::Int64(Some(v)), _) if i32::try_from(*v).is_ok() => {
            Some(DataType::Int32)
        }
        _ => expr.get_type(schema).ok(),
    }
}

fn is_decimal(t: &DataType) -> bool {
    matches!(t, DataType::Decimal128(..) | DataType::Decimal256(..))
}

/// Trino's result type of `left op right` for decimal operands (at least one a decimal, the
/// other a decimal or an integer); see Trino's decimal operators.
fn trino_decimal_result(op: &Operator, left: &DataType, right: &DataType) -> Option<DataType> {
    if !(is_decimal(left) || is_decimal(right)) {
        return None;
    }
    let ((p1, s1), (p2, s2)) = (decimal_of(left)?, decimal_of(right)?);
    let (p1, s1, p2, s2) = (p1 as i32, s1 as i32, p2 as i32, s2 as i32);
    if s1 < 0 || s2 < 0 {
        return None;
    }
    let (precision, scale) = match op {
        Operator::Plus | Operator::Minus => {
            let scale = s1.max(s2);
            ((p1 - s1).max(p2 - s2) + scale + 1, scale)
        }
        Operator::Multiply => (p1 + p2, s1 + s2),
        Operator::Divide => (p1 + s2 + (s2 - s1).max(0), s1.max(s2)),
        Operator::Modulo => ((p2 - s2).min(p1 - s1) + s1.max(s2), s1.max(s2)),
        _ => return None,
    };
    let precision = precision.min(MAX_PRECISION as i32);
    if scale > precision {
        return None;
    }
    Some(DataType::Decimal128(precision as u8, scale as i8))
}

/// Trino's result type of `round(x[, n])` for a decimal `x`: decimal(p + 1, s) with digits,
/// decimal(p - s + min(s, 1), 0) without.
fn trino_round_result(args: &[Expr], schema: &DFSchema) -> Option<DataType> {
    let (p, s) = match args.first()?.get_type(schema).ok()? {
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) if s >= 0 => (p, s),
        _ => return None,
    };
    Some(match args.len() {
        1 => DataType::Decimal128((p as i8 - s + s.min(1)).max(1) as u8, 0),
        2 => DataType::Decimal128((p + 1).min(MAX_PRECISION), s),
        _ => return None,
    })
}

/// The Trino type `expr` should have, when it is decimal arithmetic or rounding typed otherwise.
fn trino_decimal_target(expr: &Expr, schema: &DFSchema) -> Option<DataType> {
    let wanted = match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            let lt = operand_type(left, schema)?;
            let rt = operand_type(right, schema)?;
            trino_decimal_result(op, &lt, &rt)?
        }
        Expr::ScalarFunction(f) if f.func.name() == "round" => trino_round_result(&f.args, schema)?,
        _ => return None,
    };
    let actual = expr.get_type(schema).ok()?;
    (actual != wanted && is_decimal(&actual)).then_some(wanted)
}

fn needs_decimal_types(plan: &LogicalPlan) -> bool {
    let mut found = false;
    let _ = plan.apply_with_subqueries(|node| {
        let schema = input_schema(node);
        node.apply_expressions(|expr| {
            expr.apply(|e| {
                if trino_decimal_target(e, &schema).is_some() {
                    found = true;
                    return Ok(TreeNodeRecursion::Stop);
                }
                Ok(TreeNodeRecursion::Continue)
            })
        })
    });
    found
}

/// Casts decimal arithmetic and `round` to Trino's result precision and scale (DataFusion's
/// differ: a decimal quotient keeps at least 6 fraction digits, `round(x, 1)` lowers the scale).
/// Values are computed at DataFusion's (wider) type and rounded half up to Trino's scale, which
/// is how Trino rounds a quotient. Aggregates (`sum`, `avg`) keep DataFusion's types.
pub fn trino_decimal_types(plan: LogicalPlan) -> Result<LogicalPlan> {
    if !needs_decimal_types(&plan) {
        return Ok(plan);
    }
    let transformed = plan
        .transform_up_with_subqueries(|node| {
            let schema = input_schema(&node);
            let names = NamePreserver::new(&node);
            let node = node.map_expressions(|expr| {
                let saved = names.save(&expr);
                let rewritten = expr.transform_up(|e| {
                    Ok(match trino_decimal_target(&e, &schema) {
                        Some(wanted) => {
                            Transformed::yes(Expr::Cast(Cast::new(Box::new(e), wanted)))
                        }
                        None => Transformed::no(e),
                    })
                })?;
                Ok(rewritten.update_data(|e| saved.restore(e)))
            })?;
            // Always: a node whose input's types changed needs its schema again.
            node.map_data(|n| n.recompute_schema())
                .map(|t| Transformed::yes(t.data))
        })
        .map_err(Error::from)?;
    Ok(transformed.data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trino_decimal_result_types() {
        let d = DataType::Decimal128;
        // count(*) * 100.0: bigint is decimal(19, 0).
        assert_eq!(
            trino_decimal_result(&Operator::Multiply, &DataType::Int64, &d(4, 1)),
            Some(d(23, 1))
        );
        // ... / total keeps the scale of the dividend.
        assert_eq!(
            trino_decimal_result(&Operator::Divide, &d(23, 1), &DataType::Int64),
            Some(d(23, 1))
        );
        assert_eq!(
            trino_decimal_result(&Operator::Divide, &d(2, 1), &d(4, 3)),
            Some(d(7, 3))
        );
        assert_eq!(
            trino_decimal_result(&Operator::Plus, &d(2, 1), &d(4, 3)),
            Some(d(5, 3))
        );
        assert_eq!(
            trino_decimal_result(&Operator::Plus, &d(38, 0), &d(38, 0)),
            Some(d(38, 0))
        );
        assert_eq!(
            trino_decimal_result(&Operator::Multiply, &DataType::Float64, &d(2, 1)),
            None
        );
        assert_eq!(
            trino_decimal_result(&Operator::Divide, &DataType::Int64, &DataType::Int64),
            None
        );
    }
}
