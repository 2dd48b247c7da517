//! Rewrites of Trino syntax that DataFusion does not plan as Trino means it.
//!
//! Two passes over the parsed query:
//!
//! 1. Expressions ([`rewrite_expressions`]): `try(...)`, `if(...)`, `count_if`, `arbitrary`,
//!    `approx_percentile`, `max_by`/`min_by` (also with n), two-argument `replace`, `every`,
//!    `variance`, `is_nan`, `mod`, `from_unixtime(x, zone)`, bigint results (`approx_distinct`,
//!    `cardinality`, `length`, `strpos`), `year(...)` and friends, `date(...)`, `listagg`,
//!    `last_day_of_month`, `localtimestamp`/`localtime`/`current_timezone()`, Trino's meaning of
//!    `repeat`, `array_remove`, `array_position`, `array_sort`, `greatest`/`least`, and a dot after
//!    a subscript (`resources[1].arn` → `resources[1]['arn']`).
//! 2. Row expansion ([`rewrite_unnest`]): `<rel> CROSS JOIN UNNEST(<array>) AS t(c1, ...)`, the comma
//!    form and `CROSS JOIN LATERAL UNNEST(...)` become a derived table that uses DataFusion's
//!    `unnest` in its select list (DataFusion cannot execute the lateral join it would otherwise
//!    plan).
//!
//! ## What `try(expr)` covers
//!
//! Inside `try(...)`: `CAST` (and `::`) become `TRY_CAST`; the divisor of `/` and `%` becomes
//! `nullif(divisor, 0)` so division by zero yields NULL (also for doubles, where Trino would give
//! Infinity/NaN); and every fallible function of ours (ISO-8601 parsing, `date_add`/`date_diff`/
//! `date_format`, JSON functions, `regexp_*`, `split_part`, `element_at` on maps, ...) is replaced by
//! its lenient twin (`__try_<name>`) which yields NULL instead of an error. Errors raised by other
//! DataFusion built-ins inside `try` (rare: DataFusion functions mostly return NULL on bad data)
//! are not caught.

use std::ops::ControlFlow;

use datafusion::arrow::datatypes::DataType;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{
    AccessExpr, BinaryOperator, CastKind, Expr, Function, FunctionArg, FunctionArgExpr,
    FunctionArguments, Ident, JoinConstraint, JoinOperator, ObjectNamePart, Query, Select,
    SelectItem, SetExpr, Subscript, TableFactor, TableWithJoins, Value, With,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;
use futures::future::BoxFuture;

use super::functions::{is_fallible, TRY_PREFIX};
use super::walk;
use crate::{Error, Result};

/// Applies all rewrites to `query`.
pub async fn rewrite_query(ctx: &SessionContext, query: &mut Query) -> Result<()> {
    name_columns(query);
    rewrite_expressions(query)?;
    rewrite_unnest(ctx, query, None).await
}

// ---------------------------------------------------------------------------------------------
// Helpers to build AST fragments from SQL templates.

/// Parses `template` as an expression and replaces the identifiers `__0`, `__1`, ... by `args`.
fn template(template: &str, args: &[Expr]) -> Result<Expr> {
    let dialect = GenericDialect {};
    let mut expr = Parser::new(&dialect)
        .try_with_sql(template)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| Error::Sql(format!("internal rewrite error in `{template}`: {e}")))?;
    let _ = walk::exprs_mut(&mut expr, |e| {
        if let Expr::Identifier(id) = e {
            if let Some(index) = id.value.strip_prefix("__") {
                if let Ok(i) = index.parse::<usize>() {
                    if let Some(arg) = args.get(i) {
                        *e = arg.clone();
                    }
                }
            }
        }
        ControlFlow::<()>::Continue(())
    });
    Ok(expr)
}

fn string_literal(s: &str) -> Expr {
    Expr::Value(Value::SingleQuotedString(s.to_string()).into())
}

/// The single-part, lower-case name of a function call.
fn simple_name(f: &Function) -> Option<String> {
    match f.name.0.as_slice() {
        [ObjectNamePart::Identifier(id)] => Some(id.value.to_lowercase()),
        _ => None,
    }
}

/// The plain positional arguments of a call (no DISTINCT, ORDER BY, named args or wildcards).
fn plain_args(f: &Function) -> Option<Vec<Expr>> {
    match &f.args {
        FunctionArguments::List(list)
            if list.duplicate_treatment.is_none() && list.clauses.is_empty() =>
        {
            list.args
                .iter()
                .map(|a| match a {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e.clone()),
                    _ => None,
                })
                .collect()
        }
        FunctionArguments::None => Some(Vec::new()),
        _ => None,
    }
}

fn set_args(f: &mut Function, args: Vec<Expr>) {
    if let FunctionArguments::List(list) = &mut f.args {
        list.args = args
            .into_iter()
            .map(|e| FunctionArg::Unnamed(FunctionArgExpr::Expr(e)))
            .collect();
    }
}

fn rename(f: &mut Function, name: &str) {
    f.name.0 = vec![ObjectNamePart::Identifier(Ident::new(name))];
}

fn is_plain_call(f: &Function) -> bool {
    f.over.is_none() && f.filter.is_none() && f.within_group.is_empty()
}

// ---------------------------------------------------------------------------------------------
// Output column names as Trino gives them.

/// Names unaliased select items as Trino does: a column keeps its name, a field access
/// (`useridentity.arn`, `t.c`) is named after its last field, anything else is `_col<i>`.
/// (This also avoids DataFusion's duplicate-name errors for repeated expressions.)
fn name_columns(query: &mut Query) {
    struct Namer;
    impl datafusion::sql::sqlparser::ast::VisitorMut for Namer {
        type Break = ();
        fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
            name_set_expr(&mut query.body);
            ControlFlow::Continue(())
        }
    }
    let _ = walk::walk_mut(query, &mut Namer);
}

fn name_set_expr(body: &mut SetExpr) {
    match body {
        SetExpr::Select(select) => {
            for (i, item) in select.projection.iter_mut().enumerate() {
                if let SelectItem::UnnamedExpr(expr) = item {
                    let name = match expr {
                        Expr::Identifier(_) => continue,
                        Expr::CompoundIdentifier(parts) => match parts.last() {
                            Some(last) => last.value.clone(),
                            None => continue,
                        },
                        Expr::CompoundFieldAccess { access_chain, .. } => {
                            match access_chain.last() {
                                Some(AccessExpr::Dot(Expr::Identifier(id))) => id.value.clone(),
                                _ => format!("_col{i}"),
                            }
                        }
                        _ => format!("_col{i}"),
                    };
                    *item = SelectItem::ExprWithAlias {
                        expr: expr.clone(),
                        alias: Ident::new(name),
                    };
                }
            }
        }
        SetExpr::Query(q) => name_set_expr(&mut q.body),
        SetExpr::SetOperation { left, right, .. } => {
            name_set_expr(left);
            name_set_expr(right);
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Pass 1: expressions.

/// Rewrites Trino expressions in the whole query (including subqueries).
pub fn rewrite_expressions(query: &mut Query) -> Result<()> {
    let flow = walk::exprs_mut(query, |expr| match rewrite_expr(expr) {
        Ok(()) => ControlFlow::Continue(()),
        Err(e) => ControlFlow::Break(e),
    });
    match flow {
        ControlFlow::Break(e) => Err(e),
        ControlFlow::Continue(()) => Ok(()),
    }
}

/// `part(x)` functions of Trino mapped to a bigint expression over DataFusion's `date_part`.
fn date_part_template(name: &str) -> Option<&'static str> {
    Some(match name {
        "year" => "CAST(date_part('year', __0) AS BIGINT)",
        "quarter" => "CAST(date_part('quarter', __0) AS BIGINT)",
        "month" => "CAST(date_part('month', __0) AS BIGINT)",
        "week" | "week_of_year" => "CAST(date_part('week', __0) AS BIGINT)",
        "day" | "day_of_month" => "CAST(date_part('day', __0) AS BIGINT)",
        "day_of_week" | "dow" => "CAST((date_part('dow', __0) + 6) % 7 + 1 AS BIGINT)",
        "day_of_year" | "doy" => "CAST(date_part('doy', __0) AS BIGINT)",
        "hour" => "CAST(date_part('hour', __0) AS BIGINT)",
        "minute" => "CAST(date_part('minute', __0) AS BIGINT)",
        "second" => "CAST(date_part('second', __0) AS BIGINT) % 60",
        "millisecond" => "CAST(date_part('millisecond', __0) AS BIGINT) % 1000",
        "year_of_week" | "yow" => "CAST(date_part('isoyear', __0) AS BIGINT)",
        _ => return None,
    })
}

fn arity_error(name: &str, expected: &str, got: usize) -> Error {
    Error::Sql(format!(
        "function {name} expects {expected} argument(s), got {got}"
    ))
}

fn rewrite_expr(expr: &mut Expr) -> Result<()> {
    match expr {
        Expr::CompoundFieldAccess { root, access_chain } => {
            let after_value = !matches!(
                root.as_ref(),
                Expr::Identifier(_) | Expr::CompoundIdentifier(_)
            );
            fix_dot_after_subscript(access_chain, after_value);
            Ok(())
        }
        Expr::Function(f) => {
            let Some(name) = simple_name(f) else {
                return Ok(());
            };
            rewrite_function(expr, &name)
        }
        Expr::TypedString(typed) => {
            type_decimal_literal(typed);
            Ok(())
        }
        Expr::Substring {
            expr: source,
            substring_from: Some(from),
            substring_for,
            ..
        } => {
            let trino = trino_substring(source, from, substring_for.as_deref())?;
            *expr = trino;
            Ok(())
        }
        _ => Ok(()),
    }
}

/// `substr(s, start[, length])` with Trino's positions: a negative start counts from the end of
/// the string, and a start of 0 or before the string's first character gives `''`. DataFusion
/// follows the SQL standard instead (a window that begins before position 1), so
/// `substr('Quadratically', -5)` would be the whole string rather than `'cally'`.
fn trino_substring(source: &Expr, from: &Expr, length: Option<&Expr>) -> Result<Expr> {
    let window = |start: Expr| Expr::Substring {
        expr: Box::new(source.clone()),
        substring_from: Some(Box::new(start)),
        substring_for: length.map(|l| Box::new(l.clone())),
        special: true,
        shorthand: true,
    };
    let from_end = template(
        "char_length(__0) + __1 + 1",
        &[source.clone(), from.clone()],
    )?;
    let any_null = match length {
        Some(l) => template(
            "__0 IS NULL OR __1 IS NULL OR __2 IS NULL",
            &[source.clone(), from.clone(), l.clone()],
        )?,
        None => template(
            "__0 IS NULL OR __1 IS NULL",
            &[source.clone(), from.clone()],
        )?,
    };
    template(
        "CASE WHEN __0 > 0 THEN __1 \
         WHEN __0 < 0 AND -(__0) <= char_length(__2) THEN __3 \
         WHEN __4 THEN NULL ELSE '' END",
        &[
            from.clone(),
            window(from.clone()),
            source.clone(),
            window(from_end),
            any_null,
        ],
    )
}

/// `DECIMAL '1.50'` → `DECIMAL(3,2) '1.50'`: Trino types a decimal literal by its digits (as a
/// `Decimal` query parameter arrives), where DataFusion would make it DECIMAL(38,10) and change
/// the value's scale.
fn type_decimal_literal(typed: &mut datafusion::sql::sqlparser::ast::TypedString) {
    use datafusion::sql::sqlparser::ast::{DataType as SqlType, ExactNumberInfo};
    if !matches!(typed.data_type, SqlType::Decimal(ExactNumberInfo::None)) {
        return;
    }
    let Value::SingleQuotedString(text) = &typed.value.value else {
        return;
    };
    let body = text.trim();
    let body = body.strip_prefix(['-', '+']).unwrap_or(body);
    let (whole, fraction) = body.split_once('.').unwrap_or((body, ""));
    if !whole
        .bytes()
        .chain(fraction.bytes())
        .all(|b| b.is_ascii_digit())
        || whole.len() + fraction.len() == 0
    {
        return; // not a decimal number: left for the engine to refuse
    }
    let integer_digits = whole.trim_start_matches('0').len();
    let precision = (integer_digits + fraction.len()).max(1);
    if precision <= 38 {
        typed.data_type = SqlType::Decimal(ExactNumberInfo::PrecisionAndScale(
            precision as u64,
            fraction.len() as i64,
        ));
    }
}

/// `a[1].b.c` → `a[1]['b']['c']` (DataFusion does not accept a dot after a subscript).
fn fix_dot_after_subscript(chain: &mut Vec<AccessExpr>, after_value: bool) {
    let mut seen_subscript = after_value;
    let mut out = Vec::with_capacity(chain.len());
    for access in chain.drain(..) {
        match access {
            AccessExpr::Subscript(s) => {
                seen_subscript = true;
                out.push(AccessExpr::Subscript(s));
            }
            AccessExpr::Dot(inner) if seen_subscript => match inner {
                Expr::Identifier(id) => out.push(AccessExpr::Subscript(Subscript::Index {
                    index: string_literal(&id.value),
                })),
                Expr::CompoundIdentifier(ids) => {
                    for id in ids {
                        out.push(AccessExpr::Subscript(Subscript::Index {
                            index: string_literal(&id.value),
                        }))
                    }
                }
                other => out.push(AccessExpr::Dot(other)),
            },
            other => out.push(other),
        }
    }
    *chain = out;
}

fn rewrite_function(expr: &mut Expr, name: &str) -> Result<()> {
    let Expr::Function(f) = expr else {
        return Ok(());
    };
    match name {
        "try" => {
            let args = plain_args(f).unwrap_or_default();
            if args.len() != 1 || !is_plain_call(f) {
                return Err(arity_error("try", "1", args.len()));
            }
            let mut inner = args
                .into_iter()
                .next()
                .unwrap_or(Expr::Value(Value::Null.into()));
            make_lenient(&mut inner)?;
            *expr = Expr::Nested(Box::new(inner));
        }
        "if" => {
            let args = plain_args(f).unwrap_or_default();
            *expr = match args.len() {
                2 => template("CASE WHEN __0 THEN __1 END", &args)?,
                3 => template("CASE WHEN __0 THEN __1 ELSE __2 END", &args)?,
                n => return Err(arity_error("if", "2 or 3", n)),
            };
        }
        "count_if" => {
            let args = plain_args(f).unwrap_or_default();
            if args.len() != 1 {
                return Err(arity_error("count_if", "1", args.len()));
            }
            let case = template("CASE WHEN __0 THEN 1 END", &args)?;
            rename(f, "count");
            set_args(f, vec![case]);
        }
        "arbitrary" | "any_value" => rename(f, "first_value"),
        "approx_percentile" => {
            let args = plain_args(f).unwrap_or_default();
            let (func, fixed): (&str, Vec<Expr>) = match args.len() {
                2 => ("trino_approx_percentile", vec![args[0].clone()]),
                3 => (
                    "trino_approx_percentile_weighted",
                    vec![args[0].clone(), args[1].clone()],
                ),
                n => return Err(arity_error("approx_percentile", "2 or 3", n)),
            };
            let percentiles = args[args.len() - 1].clone();
            match percentiles {
                Expr::Array(array) => {
                    let mut items = Vec::with_capacity(array.elem.len());
                    for p in array.elem {
                        let mut call = f.clone();
                        rename(&mut call, func);
                        let mut a = fixed.clone();
                        a.push(p);
                        set_args(&mut call, a);
                        items.push(Expr::Function(call));
                    }
                    let placeholders: Vec<String> =
                        (0..items.len()).map(|i| format!("__{i}")).collect();
                    *expr = template(&format!("make_array({})", placeholders.join(", ")), &items)?;
                }
                p => {
                    rename(f, func);
                    let mut a = fixed;
                    a.push(p);
                    set_args(f, a);
                }
            }
        }
        "max_by" | "min_by" => {
            let args = plain_args(f).unwrap_or_default();
            if !(2..=3).contains(&args.len()) || f.over.is_some() {
                return Err(Error::Sql(format!(
                    "{name} is supported by the local engine only as an aggregate with 2 or 3 arguments: {name}(x, y) or {name}(x, y, n)"
                )));
            }
            let order = if name == "max_by" { "DESC" } else { "ASC" };
            // Rows whose key is NULL do not take part (Trino); the n form is an array of the
            // values of the n largest (smallest) keys, in key order.
            let text = if args.len() == 2 {
                format!("first_value(__0 ORDER BY __1 {order} NULLS LAST) FILTER (WHERE __1 IS NOT NULL)")
            } else {
                format!("array_slice(array_agg(__0 ORDER BY __1 {order}) FILTER (WHERE __1 IS NOT NULL), 1, __2)")
            };
            let mut call = template(&text, &args)?;
            let user_filter = f.filter.take();
            let target = match &mut call {
                Expr::Function(outer) if args.len() == 3 => match &mut outer.args {
                    FunctionArguments::List(list) => match list.args.first_mut() {
                        Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Function(
                            inner,
                        )))) => Some(inner),
                        _ => None,
                    },
                    _ => None,
                },
                Expr::Function(outer) => Some(outer),
                _ => None,
            };
            if let (Some(target), Some(user)) = (target, user_filter) {
                if let Some(own) = target.filter.take() {
                    target.filter = Some(Box::new(template("(__0) AND (__1)", &[*user, *own])?));
                }
            }
            *expr = call;
        }
        "replace" => {
            // Trino's two-argument form deletes every occurrence.
            let args = plain_args(f).unwrap_or_default();
            if args.len() == 2 {
                let mut with_empty = args;
                with_empty.push(string_literal(""));
                set_args(f, with_empty);
            }
        }
        "every" => rename(f, "bool_and"),
        "variance" => rename(f, "var_samp"),
        "is_nan" => rename(f, "isnan"),
        "mod" => {
            let args = plain_args(f).unwrap_or_default();
            if args.len() != 2 {
                return Err(arity_error("mod", "2", args.len()));
            }
            *expr = template("(__0 % __1)", &args)?;
        }
        "from_unixtime" => {
            // from_unixtime(unixtime, zone): the instant shown in `zone`.
            let args = plain_args(f).unwrap_or_default();
            if args.len() == 2 {
                *expr = template("at_timezone(from_unixtime(__0), __1)", &args)?;
            }
        }
        "approx_distinct"
        | "cardinality"
        | "length"
        | "strpos"
        | "levenshtein_distance"
        | "json_array_length" => {
            if name == "levenshtein_distance" {
                rename(f, "levenshtein");
            }
            let inner = expr.clone();
            *expr = template("CAST(__0 AS BIGINT)", &[inner])?;
        }
        "date" => {
            let args = plain_args(f).unwrap_or_default();
            if args.len() != 1 || !is_plain_call(f) {
                return Err(arity_error("date", "1", args.len()));
            }
            *expr = template("CAST(__0 AS DATE)", &args)?;
        }
        "ceiling" => rename(f, "ceil"),
        "truncate" => rename(f, "trunc"),
        "rand" => rename(f, "random"),
        // Trino's repeat builds an array; DataFusion's repeats a string.
        "repeat" => rename(f, "array_repeat"),
        // Trino removes every occurrence.
        "array_remove" => rename(f, "array_remove_all"),
        "array_position" => {
            // Trino gives 0 when the element is absent (DataFusion: NULL).
            let args = plain_args(f).unwrap_or_default();
            if args.len() != 2 {
                return Err(arity_error("array_position", "2", args.len()));
            }
            *expr = template(
                "CASE WHEN __0 IS NULL THEN CAST(NULL AS BIGINT) ELSE coalesce(CAST(array_position(__0, __1) AS BIGINT), 0) END",
                &args,
            )?;
        }
        "array_sort" => {
            // Trino sorts NULLs last.
            let args = plain_args(f).unwrap_or_default();
            if args.len() == 1 {
                *expr = template("array_sort(__0, 'ASC', 'NULLS LAST')", &args)?;
            }
        }
        "greatest" | "least" => {
            // Trino: NULL when any argument is NULL (DataFusion skips NULLs).
            let args = plain_args(f).unwrap_or_default();
            if !args.is_empty() {
                let any_null: Vec<String> =
                    (0..args.len()).map(|i| format!("__{i} IS NULL")).collect();
                let all: Vec<String> = (0..args.len()).map(|i| format!("__{i}")).collect();
                *expr = template(
                    &format!(
                        "CASE WHEN {} THEN NULL ELSE {name}({}) END",
                        any_null.join(" OR "),
                        all.join(", ")
                    ),
                    &args,
                )?;
            }
        }
        "log" => {
            let args = plain_args(f).unwrap_or_default();
            if args.len() != 2 {
                return Err(Error::Sql(format!(
                    "function log expects 2 arguments (base, x), got {}; use ln(x) or log10(x)",
                    args.len()
                )));
            }
        }
        "row" => rename(f, "struct"),
        "version" => {
            return Err(Error::UnsupportedFunction {
                name: "version".into(),
                hint: " (it would name the embedded engine, not Athena's)".into(),
            })
        }
        "last_day_of_month" => {
            let mut args = plain_args(f).unwrap_or_default();
            if args.len() != 1 {
                return Err(arity_error(name, "1", args.len()));
            }
            if matches!(&args[0], Expr::Value(v) if v.value == Value::Null) {
                args[0] = template("CAST(NULL AS DATE)", &[])?;
            }
            *expr = template(
                "CAST(date_trunc('month', __0) + INTERVAL '1' MONTH - INTERVAL '1' DAY AS DATE)",
                &args,
            )?;
        }
        "localtimestamp" if matches!(f.args, FunctionArguments::None) => {
            // The session time zone is UTC: the wall clock of now() in UTC, timestamp(3).
            *expr = template("arrow_cast(now(), 'Timestamp(Millisecond, None)')", &[])?;
        }
        "localtime" if matches!(f.args, FunctionArguments::None) => {
            *expr = template(
                "arrow_cast(CAST(arrow_cast(now(), 'Timestamp(Millisecond, None)') AS TIME), 'Time32(Millisecond)')",
                &[],
            )?;
        }
        "current_timezone" => {
            let args = plain_args(f).unwrap_or_default();
            if !args.is_empty() {
                return Err(arity_error(name, "0", args.len()));
            }
            *expr = string_literal("UTC");
        }
        "listagg" => *expr = listagg(f)?,
        _ => {
            if let Some(t) = date_part_template(name) {
                let mut args = plain_args(f).unwrap_or_default();
                if args.len() != 1 || !is_plain_call(f) {
                    return Err(arity_error(name, "1", args.len()));
                }
                // A bare NULL has no type DataFusion's date_part accepts; Trino answers NULL.
                if matches!(&args[0], Expr::Value(v) if v.value == Value::Null) {
                    args[0] = template("CAST(NULL AS TIMESTAMP)", &[])?;
                }
                *expr = template(t, &args)?;
            }
        }
    }
    Ok(())
}

/// Trino `listagg(x, separator) WITHIN GROUP (ORDER BY ...)` as
/// `array_join(array_agg(x ORDER BY ...), separator)` (NULL values are skipped, as in Trino).
fn listagg(f: &Function) -> Result<Expr> {
    let FunctionArguments::List(list) = &f.args else {
        return Err(arity_error("listagg", "1 or 2", 0));
    };
    if !list.clauses.is_empty() || f.over.is_some() {
        return Err(Error::Sql(
            "listagg with ON OVERFLOW or OVER (...) is not supported by the local engine; use array_join(array_agg(x ORDER BY y), ',')".into(),
        ));
    }
    let mut args: Vec<Expr> = Vec::new();
    for a in &list.args {
        match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => args.push(e.clone()),
            _ => return Err(arity_error("listagg", "1 or 2", list.args.len())),
        }
    }
    let separator = match args.len() {
        1 => string_literal(""),
        2 => args.remove(1),
        n => return Err(arity_error("listagg", "1 or 2", n)),
    };
    let mut agg = f.clone();
    rename(&mut agg, "array_agg");
    agg.within_group = Vec::new();
    if let FunctionArguments::List(agg_list) = &mut agg.args {
        agg_list.args.truncate(1);
        if !f.within_group.is_empty() {
            agg_list.clauses.push(
                datafusion::sql::sqlparser::ast::FunctionArgumentClause::OrderBy(
                    f.within_group.clone(),
                ),
            );
        }
    }
    template("array_join(__0, __1)", &[Expr::Function(agg), separator])
}

/// Turns the errors that can occur while evaluating `expr` into NULLs (see the module docs).
fn make_lenient(expr: &mut Expr) -> Result<()> {
    let zero = Expr::Value(Value::Number("0".into(), false).into());
    let _ = walk::exprs_mut(expr, |e| {
        match e {
            Expr::Cast { kind, .. } => {
                if matches!(kind, CastKind::Cast | CastKind::DoubleColon) {
                    *kind = CastKind::TryCast;
                }
            }
            Expr::BinaryOp {
                op: BinaryOperator::Divide | BinaryOperator::Modulo,
                right,
                ..
            } => {
                let divisor = std::mem::replace(right.as_mut(), Expr::Value(Value::Null.into()));
                let mut call = match template("nullif(__0, __1)", &[divisor, zero.clone()]) {
                    Ok(c) => c,
                    Err(err) => return ControlFlow::Break(err),
                };
                std::mem::swap(right.as_mut(), &mut call);
            }
            Expr::Function(f) => {
                if let Some(name) = simple_name(f) {
                    if is_fallible(&name) {
                        rename(f, &format!("{TRY_PREFIX}{name}"));
                    }
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    });
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Pass 2: UNNEST row expansion.

/// An `UNNEST(...)` relation on the right of a cross join.
struct UnnestSpec {
    exprs: Vec<Expr>,
    alias: Option<Ident>,
    columns: Vec<Ident>,
}

fn unsupported(construct: &str) -> Error {
    Error::Sql(format!("{construct} is not supported by the local engine"))
}

/// Recognises `UNNEST(...)` and `LATERAL UNNEST(...)` table factors.
fn as_unnest(factor: &TableFactor) -> Result<Option<UnnestSpec>> {
    let (exprs, alias, ordinality) = match factor {
        TableFactor::UNNEST {
            alias,
            array_exprs,
            with_offset,
            with_ordinality,
            ..
        } => (
            array_exprs.clone(),
            alias.clone(),
            *with_offset || *with_ordinality,
        ),
        TableFactor::Function {
            name,
            args,
            with_ordinality,
            alias,
            ..
        } if matches!(name.0.as_slice(), [ObjectNamePart::Identifier(id)] if id.value.eq_ignore_ascii_case("unnest")) =>
        {
            let mut exprs = Vec::new();
            for a in args {
                match a {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => exprs.push(e.clone()),
                    _ => return Err(unsupported("this UNNEST argument form")),
                }
            }
            (exprs, alias.clone(), *with_ordinality)
        }
        _ => return Ok(None),
    };
    if ordinality {
        return Err(unsupported("UNNEST ... WITH ORDINALITY"));
    }
    if exprs.is_empty() {
        return Err(Error::Sql("UNNEST needs at least one array".into()));
    }
    let (alias, columns) = match alias {
        Some(a) => (
            Some(a.name.clone()),
            a.columns.into_iter().map(|c| c.name).collect(),
        ),
        None => (None, Vec::new()),
    };
    Ok(Some(UnnestSpec {
        exprs,
        alias,
        columns,
    }))
}

/// Replaces `UNNEST` cross joins in `query` and its subqueries (FROM clauses and CTEs).
/// `outer_with` holds the CTEs visible to `query` from enclosing queries.
pub fn rewrite_unnest<'a>(
    ctx: &'a SessionContext,
    query: &'a mut Query,
    outer_with: Option<&'a With>,
) -> BoxFuture<'a, Result<()>> {
    Box::pin(async move {
        // CTEs first; each sees the ones before it.
        let mut visible: Option<With> = outer_with.cloned();
        if let Some(with) = &mut query.with {
            let mut done = Vec::new();
            for cte in with.cte_tables.iter_mut() {
                let mut scope = visible.clone().unwrap_or_else(|| With {
                    with_token: with.with_token.clone(),
                    recursive: with.recursive,
                    cte_tables: Vec::new(),
                });
                scope.cte_tables.extend(done.iter().cloned());
                rewrite_unnest(ctx, &mut cte.query, Some(&scope)).await?;
                done.push(cte.clone());
            }
            let mut scope = visible.take().unwrap_or_else(|| With {
                with_token: with.with_token.clone(),
                recursive: with.recursive,
                cte_tables: Vec::new(),
            });
            scope.cte_tables.extend(done);
            visible = Some(scope);
        }
        let mut renames = Vec::new();
        rewrite_set_expr(ctx, &mut query.body, visible.as_ref(), &mut renames).await?;
        if !renames.is_empty() {
            apply_renames(query, &renames);
        }
        Ok(())
    })
}

fn rewrite_set_expr<'a>(
    ctx: &'a SessionContext,
    body: &'a mut SetExpr,
    with: Option<&'a With>,
    renames: &'a mut Vec<(String, Ident)>,
) -> BoxFuture<'a, Result<()>> {
    Box::pin(async move {
        match body {
            SetExpr::Select(select) => rewrite_select(ctx, select, with, renames).await,
            SetExpr::Query(q) => rewrite_unnest(ctx, q, with).await,
            SetExpr::SetOperation { left, right, .. } => {
                rewrite_set_expr(ctx, left, with, renames).await?;
                rewrite_set_expr(ctx, right, with, renames).await
            }
            _ => Ok(()),
        }
    })
}

/// Recurses into the subqueries of a table factor.
fn rewrite_factor_subqueries<'a>(
    ctx: &'a SessionContext,
    factor: &'a mut TableFactor,
    with: Option<&'a With>,
) -> BoxFuture<'a, Result<()>> {
    Box::pin(async move {
        match factor {
            TableFactor::Derived { subquery, .. } => rewrite_unnest(ctx, subquery, with).await,
            TableFactor::NestedJoin {
                table_with_joins, ..
            } => {
                let mut renames = Vec::new();
                let twj = std::mem::replace(
                    table_with_joins.as_mut(),
                    TableWithJoins {
                        relation: TableFactor::Table {
                            name: Vec::<Ident>::new().into(),
                            alias: None,
                            args: None,
                            with_hints: Vec::new(),
                            version: None,
                            with_ordinality: false,
                            partitions: Vec::new(),
                            json_path: None,
                            sample: None,
                            index_hints: Vec::new(),
                        },
                        joins: Vec::new(),
                    },
                );
                let mut from = rewrite_from(ctx, vec![twj], with, &mut renames).await?;
                if let Some(twj) = from.pop() {
                    **table_with_joins = twj;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    })
}

async fn rewrite_select(
    ctx: &SessionContext,
    select: &mut Select,
    with: Option<&With>,
    renames: &mut Vec<(String, Ident)>,
) -> Result<()> {
    let from = std::mem::take(&mut select.from);
    select.from = rewrite_from(ctx, from, with, renames).await?;
    Ok(())
}

fn is_cross(op: &JoinOperator) -> bool {
    match op {
        JoinOperator::CrossJoin(JoinConstraint::None) => true,
        JoinOperator::Join(JoinConstraint::On(e)) | JoinOperator::Inner(JoinConstraint::On(e)) => {
            matches!(e, Expr::Value(v) if matches!(v.value, Value::Boolean(true)))
        }
        JoinOperator::CrossJoin(JoinConstraint::On(e)) => {
            matches!(e, Expr::Value(v) if matches!(v.value, Value::Boolean(true)))
        }
        _ => false,
    }
}

async fn rewrite_from(
    ctx: &SessionContext,
    from: Vec<TableWithJoins>,
    with: Option<&With>,
    renames: &mut Vec<(String, Ident)>,
) -> Result<Vec<TableWithJoins>> {
    let mut out: Vec<TableWithJoins> = Vec::with_capacity(from.len());
    for mut twj in from {
        rewrite_factor_subqueries(ctx, &mut twj.relation, with).await?;
        for join in twj.joins.iter_mut() {
            rewrite_factor_subqueries(ctx, &mut join.relation, with).await?;
        }
        // Comma form: `FROM a, UNNEST(...) AS t(...)`.
        let mut joins = std::mem::take(&mut twj.joins);
        let mut relation = twj.relation;
        let mut kept = Vec::new();
        if let (Some(spec), Some(prev)) = (as_unnest(&relation)?, out.last_mut()) {
            if !prev.joins.is_empty() {
                return Err(unsupported("UNNEST after a join of several relations"));
            }
            let left = std::mem::replace(&mut prev.relation, placeholder_factor());
            prev.relation = expand(ctx, left, spec, with, renames).await?;
            kept.append(&mut prev.joins);
            relation = std::mem::replace(&mut prev.relation, placeholder_factor());
            out.pop();
        }
        for join in joins.drain(..) {
            match as_unnest(&join.relation)? {
                Some(spec) => {
                    if !is_cross(&join.join_operator) {
                        return Err(unsupported(
                            "UNNEST in a join other than CROSS JOIN (e.g. LEFT JOIN UNNEST)",
                        ));
                    }
                    if !kept.is_empty() {
                        return Err(unsupported("UNNEST after a join of several relations"));
                    }
                    relation = expand(ctx, relation, spec, with, renames).await?;
                }
                None => kept.push(join),
            }
        }
        out.push(TableWithJoins {
            relation,
            joins: kept,
        });
    }
    Ok(out)
}

fn placeholder_factor() -> TableFactor {
    TableFactor::Table {
        name: Vec::<Ident>::new().into(),
        alias: None,
        args: None,
        with_hints: Vec::new(),
        version: None,
        with_ordinality: false,
        partitions: Vec::new(),
        json_path: None,
        sample: None,
        index_hints: Vec::new(),
    }
}

fn factor_alias(factor: &TableFactor) -> Option<Ident> {
    match factor {
        TableFactor::Table { alias, .. }
        | TableFactor::Derived { alias, .. }
        | TableFactor::NestedJoin { alias, .. }
        | TableFactor::Function { alias, .. }
        | TableFactor::UNNEST { alias, .. } => alias.as_ref().map(|a| a.name.clone()),
        _ => None,
    }
}

fn rename_in_expr(expr: &mut Expr, renames: &[(String, Ident)]) {
    let _ = walk::exprs_mut(expr, |e| {
        rename_one(e, renames);
        ControlFlow::<()>::Continue(())
    });
}

fn rename_one(e: &mut Expr, renames: &[(String, Ident)]) {
    if let Expr::CompoundFieldAccess { root, .. } = e {
        match root.as_mut() {
            Expr::Identifier(id) => {
                if let Some((_, to)) = renames.iter().find(|(from, _)| *from == id.value) {
                    *id = to.clone();
                }
            }
            other => rename_one(other, renames),
        }
        return;
    }
    if let Expr::CompoundIdentifier(parts) = e {
        if parts.len() >= 2 {
            if let Some((_, to)) = renames.iter().find(|(from, _)| *from == parts[0].value) {
                parts[0] = to.clone();
            }
        }
    }
}

fn apply_renames(query: &mut Query, renames: &[(String, Ident)]) {
    let _ = walk::exprs_mut(query, |e| {
        rename_one(e, renames);
        ControlFlow::<()>::Continue(())
    });
}

/// The text of an identifier for generated SQL (always quoted: it is already lower-case).
fn quoted(id: &str) -> String {
    format!("\"{}\"", id.replace('"', "\"\""))
}

/// Replaces `left CROSS JOIN UNNEST(...) AS t(c...)` by a derived table aliased like `left`.
async fn expand(
    ctx: &SessionContext,
    left: TableFactor,
    mut spec: UnnestSpec,
    with: Option<&With>,
    renames: &mut Vec<(String, Ident)>,
) -> Result<TableFactor> {
    let alias = match (&left, factor_alias(&left)) {
        (_, Some(a)) => a,
        (TableFactor::Table { name, .. }, None) => match name.0.last() {
            Some(ObjectNamePart::Identifier(id)) => id.clone(),
            _ => Ident::new("__unnest_left"),
        },
        _ => Ident::new("__unnest_left"),
    };
    let left_sql = if factor_alias(&left).is_some() {
        left.to_string()
    } else {
        format!("{left} AS {}", quoted(&alias.value))
    };
    for e in spec.exprs.iter_mut() {
        rename_in_expr(e, renames);
    }
    let a = quoted(&alias.value);
    let with_sql = with
        .filter(|w| !w.cte_tables.is_empty())
        .map(|w| format!("{w} "))
        .unwrap_or_default();

    // Element types, from planning the array expressions against the left relation.
    let probe_list: Vec<String> = spec.exprs.iter().map(|e| e.to_string()).collect();
    let probe = format!(
        "{with_sql}SELECT {} FROM {left_sql} LIMIT 0",
        probe_list.join(", ")
    );
    let probe_stmt = super::parse::parse_one(&probe)?;
    let plan = ctx
        .state()
        .statement_to_plan(datafusion::sql::parser::Statement::Statement(Box::new(
            probe_stmt,
        )))
        .await
        .map_err(super::parse::map_planner_error)?;
    let mut elements = Vec::with_capacity(spec.exprs.len());
    for (field, e) in plan.schema().fields().iter().zip(&spec.exprs) {
        let element = match field.data_type() {
            DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
                f.data_type().clone()
            }
            DataType::Map(..) => return Err(unsupported("UNNEST of a map")),
            DataType::Null => DataType::Null,
            other => {
                return Err(Error::Sql(format!(
                    "UNNEST needs an array, but {e} is {other}"
                )))
            }
        };
        elements.push(element);
    }

    let mut select_items = vec![format!("{a}.*")];
    let mut inner_items = vec![format!("{a}.*")];
    let mut needs_outer = false;
    let columns = std::mem::take(&mut spec.columns);
    if spec.exprs.len() == 1 {
        let e = &probe_list[0];
        let struct_fields = match &elements[0] {
            DataType::Struct(fields) => Some(fields.clone()),
            _ => None,
        };
        match (columns.len(), struct_fields) {
            (1, _) => select_items.push(format!("unnest({e}) AS {}", quoted(&columns[0].value))),
            (0, None) => {
                let name = spec
                    .alias
                    .as_ref()
                    .map(|a| a.value.clone())
                    .unwrap_or_else(|| "unnest".into());
                select_items.push(format!("unnest({e}) AS {}", quoted(&name)));
            }
            (k, Some(fields)) if k == 0 || k == fields.len() => {
                needs_outer = true;
                inner_items.push(format!("unnest({e}) AS \"__unnest_row\""));
                select_items = vec![format!("{a}.* EXCLUDE (\"__unnest_row\")")];
                for (i, field) in fields.iter().enumerate() {
                    let name = columns
                        .get(i)
                        .map(|c| c.value.clone())
                        .unwrap_or_else(|| field.name().to_lowercase());
                    select_items.push(format!(
                        "{a}.\"__unnest_row\"['{}'] AS {}",
                        field.name().replace('\'', "''"),
                        quoted(&name)
                    ));
                }
            }
            (k, Some(fields)) => {
                return Err(Error::Sql(format!(
                    "UNNEST({e}) yields rows of {} fields, but {k} column aliases are given",
                    fields.len()
                )))
            }
            (k, None) => {
                return Err(Error::Sql(format!(
                    "UNNEST({e}) yields one column, but {k} column aliases are given"
                )))
            }
        }
    } else {
        if columns.len() != spec.exprs.len() {
            return Err(unsupported(
                "UNNEST of several arrays without exactly one column alias per array",
            ));
        }
        for (e, c) in probe_list.iter().zip(&columns) {
            select_items.push(format!("unnest({e}) AS {}", quoted(&c.value)));
        }
    }
    let sql = if needs_outer {
        format!(
            "(SELECT {} FROM (SELECT {} FROM {left_sql}) AS {a}) AS {a}",
            select_items.join(", "),
            inner_items.join(", ")
        )
    } else {
        format!(
            "(SELECT {} FROM {left_sql}) AS {a}",
            select_items.join(", ")
        )
    };
    let dialect = GenericDialect {};
    let factor = Parser::new(&dialect)
        .try_with_sql(&sql)
        .and_then(|mut p| p.parse_table_factor())
        .map_err(|e| Error::Sql(format!("internal UNNEST rewrite error: {e} in {sql}")))?;
    if let Some(t) = spec.alias {
        renames.push((t.value, alias));
    }
    Ok(factor)
}
