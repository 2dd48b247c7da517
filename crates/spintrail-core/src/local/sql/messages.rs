//! Error messages in Trino's terms: type names as Trino writes them (`varchar`, `bigint`,
//! `timestamp(3) with time zone`), a wrong call as "Unexpected parameters (...) for function f.
//! Expected: f(...)", a field access on a JSON text column with the `json_extract_scalar` form,
//! and "did you mean" only for a close, real Trino function name. No message shows engine
//! internals (`get_field(...)`, `Utf8`, DataFusion's signature notation).

use std::sync::LazyLock;

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::sql::sqlparser::ast::{AccessExpr, Expr, Query};
use regex::{Captures, Regex};

use super::trino_names::TRINO_FUNCTIONS;
use super::walk;

/// Trino's name of the type the local engine represents as `t`.
pub fn trino_type(t: &DataType) -> String {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "varchar".into(),
        DataType::Int8 | DataType::UInt8 => "tinyint".into(),
        DataType::Int16 | DataType::UInt16 => "smallint".into(),
        DataType::Int32 | DataType::UInt32 => "integer".into(),
        DataType::Int64 | DataType::UInt64 => "bigint".into(),
        DataType::Float16 | DataType::Float32 => "real".into(),
        DataType::Float64 => "double".into(),
        DataType::Boolean => "boolean".into(),
        DataType::Null => "unknown".into(),
        DataType::Date32 | DataType::Date64 => "date".into(),
        DataType::Timestamp(unit, tz) => {
            let p = precision(*unit);
            match tz {
                Some(_) => format!("timestamp({p}) with time zone"),
                None => format!("timestamp({p})"),
            }
        }
        DataType::Time32(unit) | DataType::Time64(unit) => format!("time({})", precision(*unit)),
        DataType::Duration(_) => "interval day to second".into(),
        DataType::Interval(_) => "interval".into(),
        DataType::Decimal32(p, s)
        | DataType::Decimal64(p, s)
        | DataType::Decimal128(p, s)
        | DataType::Decimal256(p, s) => format!("decimal({p},{s})"),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => "varbinary".into(),
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            format!("array({})", trino_type(f.data_type()))
        }
        DataType::Struct(fields) => {
            let inner: Vec<String> = fields
                .iter()
                .map(|f| format!("{} {}", f.name(), trino_type(f.data_type())))
                .collect();
            format!("row({})", inner.join(", "))
        }
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => format!(
                "map({}, {})",
                trino_type(kv[0].data_type()),
                trino_type(kv[1].data_type())
            ),
            _ => "map".into(),
        },
        other => other.to_string().to_lowercase(),
    }
}

fn precision(unit: TimeUnit) -> u8 {
    match unit {
        TimeUnit::Second => 0,
        TimeUnit::Millisecond => 3,
        TimeUnit::Microsecond => 6,
        TimeUnit::Nanosecond => 9,
    }
}

/// Trino's message for a call whose arguments do not fit, with the expected signature.
pub fn unexpected_parameters(function: &str, got: &[DataType], expected: &str) -> String {
    let got: Vec<String> = got.iter().map(trino_type).collect();
    format!(
        "Unexpected parameters ({}) for function {function}. Expected: {function}({expected})",
        got.join(", ")
    )
}

/// Trino signatures of DataFusion built-ins that Athena queries call, for messages.
fn builtin_signature(function: &str) -> Option<&'static str> {
    Some(match function {
        "lower" | "upper" | "trim" | "ltrim" | "rtrim" | "reverse" | "length" | "md5"
        | "sha256" | "to_hex" => "varchar",
        "strpos" | "starts_with" | "regexp_like" | "levenshtein" | "levenshtein_distance" => {
            "varchar, varchar"
        }
        "substr" | "substring" => "varchar, bigint[, bigint]",
        "replace" => "varchar, varchar[, varchar]",
        "lpad" | "rpad" => "varchar, bigint, varchar",
        "date_trunc" => "varchar unit, timestamp",
        "cardinality" => "array(T) or map(K, V)",
        "array_join" => "array(T), varchar[, varchar]",
        "string_to_array" | "split" => "varchar, varchar",
        "abs" | "round" | "floor" | "ceil" | "ceiling" | "sqrt" | "ln" | "log10" => "double",
        "sum" | "avg" => "a number",
        _ => return None,
    })
}

/// DataFusion names of functions that the SQL spells with their Trino name.
fn trino_name(function: &str) -> &str {
    match function {
        "string_to_array" => "split",
        "levenshtein" => "levenshtein_distance",
        "first_value" => "arbitrary",
        "array_has" => "contains",
        other => other,
    }
}

static NO_MATCH: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?s)No function matches the given name and argument types '([A-Za-z_0-9]+)\((.*?)\)'.*",
    )
    .ok()
});
static COERCE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?s)Failed to coerce arguments to satisfy a call to '([A-Za-z_0-9]+)' function: coercion from (.*?) to the signature .* failed.*").ok()
});
static GET_FIELD: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r#"get_field\(([^,()]+), (?:Utf8|Utf8View|LargeUtf8)\("([^"]*)"\)\)"#).ok()
});
static STRING_LITERAL: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r#"\b(?:Utf8|Utf8View|LargeUtf8)\("([^"]*)"\)"#).ok());
static TIMESTAMP: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r#"Timestamp\((Second|Millisecond|Microsecond|Nanosecond|s|ms|µs|us|ns)(?:, ?(None|Some\("[^"]*"\)|"[^"]*"))?\)"#).ok()
});
static LIST: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"\b(?:Large)?List\((?:non-null )?").ok());
static SIMPLE_TYPE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"\b(Utf8View|LargeUtf8|Utf8|Int64|Int32|Int16|Int8|UInt64|UInt32|UInt16|UInt8|Float64|Float32|Boolean|Date32|Date64|Interval\(MonthDayNano\)|Duration\((?:Second|Millisecond|Microsecond|Nanosecond|s|ms|µs|us|ns)\)|Decimal128\((\d+), ?(\d+)\))").ok()
});
static DID_YOU_MEAN: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?s)\.?\s*Did you mean '[^']*'\?").ok());

/// The Trino name of an Arrow type as DataFusion prints it (`Utf8`, `Int64`, ...).
fn simple_type_name(printed: &str, caps: &Captures) -> String {
    match printed {
        "Utf8View" | "LargeUtf8" | "Utf8" => "varchar".into(),
        "Int64" | "UInt64" => "bigint".into(),
        "Int32" | "UInt32" => "integer".into(),
        "Int16" | "UInt16" => "smallint".into(),
        "Int8" | "UInt8" => "tinyint".into(),
        "Float64" => "double".into(),
        "Float32" => "real".into(),
        "Boolean" => "boolean".into(),
        "Date32" | "Date64" => "date".into(),
        "Interval(MonthDayNano)" => "interval".into(),
        p if p.starts_with("Duration") => "interval day to second".into(),
        p if p.starts_with("Decimal128") => format!(
            "decimal({},{})",
            caps.get(2).map_or("38", |m| m.as_str()),
            caps.get(3).map_or("0", |m| m.as_str())
        ),
        other => other.to_string(),
    }
}

fn replace_all(
    re: &LazyLock<Option<Regex>>,
    text: &str,
    f: impl Fn(&Captures) -> String,
) -> String {
    match re.as_ref() {
        Some(re) => re.replace_all(text, |c: &Captures| f(c)).into_owned(),
        None => text.to_string(),
    }
}

/// Arrow type names and engine notation in `message` replaced by Trino's.
pub fn trino_types_in(message: &str) -> String {
    let m = replace_all(&GET_FIELD, message, |c| format!("{}.{}", &c[1], &c[2]));
    let m = replace_all(&STRING_LITERAL, &m, |c| format!("'{}'", &c[1]));
    let m = replace_all(&TIMESTAMP, &m, |c| {
        let p = match &c[1] {
            "Second" | "s" => 0,
            "Millisecond" | "ms" => 3,
            "Microsecond" | "µs" | "us" => 6,
            _ => 9,
        };
        if c.get(2).is_none_or(|z| z.as_str() == "None") {
            format!("timestamp({p})")
        } else {
            format!("timestamp({p}) with time zone")
        }
    });
    let m = replace_all(&LIST, &m, |_| "array(".into());
    replace_all(&SIMPLE_TYPE, &m, |c| simple_type_name(&c[1], c))
}

/// A planner message in Trino's terms (see the module docs).
pub fn scrub(message: &str) -> String {
    // Our own message, stringified by DataFusion's argument check and followed by its own.
    if let Some(start) = message.find("Unexpected parameters (") {
        let ours = &message[start..];
        let end = ours.find(". No function matches").unwrap_or(ours.len());
        return ours[..end].trim_end().to_string();
    }
    for re in [&NO_MATCH, &COERCE] {
        if let Some(c) = re.as_ref().and_then(|re| re.captures(message)) {
            let function = trino_name(&c[1]);
            let got = trino_types_in(&c[2]);
            let expected = builtin_signature(function)
                .map(|s| format!(". Expected: {function}({s})"))
                .unwrap_or_default();
            return format!("Unexpected parameters ({got}) for function {function}{expected}");
        }
    }
    let m = replace_all(&DID_YOU_MEAN, message, |_| String::new());
    trino_types_in(&m)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The Trino function `name` was probably meant to be: a name of the Trino allowlist
/// ([`TRINO_FUNCTIONS`]) at most two edits away. It is right on Athena; where the local engine
/// lacks that function, calling it is refused as not supported by the local engine.
pub fn close_trino_name(name: &str) -> Option<&'static str> {
    TRINO_FUNCTIONS
        .iter()
        .copied()
        .filter(|t| *t != name)
        .map(|t| (edit_distance(name, t), t))
        .filter(|(d, _)| *d <= 2 && *d < name.len() / 2)
        .min()
        .map(|(_, t)| t)
}

/// DataFusion's words for a field access on a column that is not a row.
pub const FIELD_ACCESS_FAILURE: &str = "Cannot access field at argument";

/// The message for a field access on a text column when the column is not known.
pub const FIELD_OF_TEXT: &str = "field access with '.' works on row (struct) columns only, and this column is varchar; for JSON text use json_extract_scalar(column, '$.key')";

/// For DataFusion's "cannot access field ... not Struct": the field access on a text column the
/// query wrote (`column.field...`, as written in `sql`), and the message Trino users need.
pub fn field_access_on_text(query: &Query, sql: &str, text_columns: &[String]) -> String {
    let mut chains: Vec<Vec<String>> = Vec::new();
    let _ = walk::exprs(query, |e| {
        match e {
            Expr::CompoundIdentifier(ids) => {
                chains.push(ids.iter().map(|i| i.value.clone()).collect());
            }
            Expr::CompoundFieldAccess { root, access_chain } => {
                let mut ids: Vec<String> = match root.as_ref() {
                    Expr::Identifier(i) => vec![i.value.clone()],
                    Expr::CompoundIdentifier(ids) => ids.iter().map(|i| i.value.clone()).collect(),
                    _ => Vec::new(),
                };
                for a in access_chain {
                    match a {
                        AccessExpr::Dot(Expr::Identifier(i)) => ids.push(i.value.clone()),
                        _ => break,
                    }
                }
                chains.push(ids);
            }
            _ => {}
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    let found = chains.iter().find_map(|ids| {
        (0..ids.len().min(2)).find_map(|start| {
            let column = &ids[start];
            (ids.len() > start + 1 && text_columns.contains(column))
                .then(|| (column.clone(), ids[start + 1..].to_vec()))
        })
    });
    let Some((column, fields)) = found else {
        return FIELD_OF_TEXT.into();
    };
    let written = format!("{column}.{}", fields.join("."));
    let path = as_written(sql, &written)
        .and_then(|w| w.split_once('.').map(|(_, p)| p.to_string()))
        .unwrap_or_else(|| fields.join("."));
    let note = if path.chars().any(|c| c.is_ascii_uppercase()) {
        ""
    } else {
        " (JSON keys are case-sensitive: spell the key as the record does, e.g. '$.bucketName')"
    };
    format!(
        "column {column} holds JSON text (varchar), not a row, so '{written}' cannot read a field of it; use json_extract_scalar({column}, '$.{path}'){note}"
    )
}

/// The text of `lowercase` in `sql` with the case the query used (identifiers are lower-cased
/// before planning), if it occurs there as one piece.
fn as_written(sql: &str, lowercase: &str) -> Option<String> {
    let lower = sql.to_lowercase();
    if lower.len() != sql.len() {
        return None;
    }
    let at = lower.find(lowercase)?;
    sql.get(at..at + lowercase.len()).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names() {
        assert_eq!(
            trino_types_in("got Utf8, Int64 and Timestamp(Millisecond, Some(\"UTC\"))"),
            "got varchar, bigint and timestamp(3) with time zone"
        );
        assert_eq!(
            trino_types_in("get_field(cloudtrail_logs.requestparameters, Utf8(\"a\"))"),
            "cloudtrail_logs.requestparameters.a"
        );
        assert_eq!(
            trino_type(&DataType::new_list(DataType::Utf8, true)),
            "array(varchar)"
        );
    }

    #[test]
    fn signature_errors() {
        let m = scrub("Error during planning: Failed to coerce arguments to satisfy a call to 'lower' function: coercion from Int64 to the signature Uniform(1, [Utf8View, Utf8, LargeUtf8]) failed No function matches");
        assert_eq!(
            m,
            "Unexpected parameters (bigint) for function lower. Expected: lower(varchar)"
        );
    }

    #[test]
    fn our_message_inside_datafusions() {
        let m = scrub("Error during planning: External error: Unexpected parameters (bigint) for function f. Expected: f(varchar). No function matches the given name and argument types 'f(Int64)'. You might need to add explicit type casts.\n\tCandidate functions:\n\tf(UserDefined)");
        assert_eq!(
            m,
            "Unexpected parameters (bigint) for function f. Expected: f(varchar)"
        );
    }

    #[test]
    fn suggestions() {
        assert_eq!(
            close_trino_name("json_extract_scalr"),
            Some("json_extract_scalar")
        );
        assert_eq!(close_trino_name("parse_duraton"), Some("parse_duration"));
        assert_eq!(close_trino_name("var_population"), None);
        assert_eq!(close_trino_name("xyz"), None);
        assert_eq!(close_trino_name("date_formt"), Some("date_format"));
        assert_eq!(close_trino_name("initcap"), None);
        // Suggestions come from the allowlist, so every one is a name the check accepts.
        for typo in [
            "json_extract_scalr",
            "parse_durations",
            "date_formt",
            "approx_distinc",
        ] {
            let close = close_trino_name(typo);
            assert!(
                close.is_some_and(super::super::trino_names::is_trino_function),
                "{typo}"
            );
        }
        assert_eq!(
            scrub("Invalid function 'foo'.\nDid you mean 'var_population'?"),
            "Invalid function 'foo'"
        );
    }

    #[test]
    fn original_case() {
        assert_eq!(
            as_written(
                "SELECT requestParameters.bucketName FROM t",
                "requestparameters.bucketname"
            ),
            Some("requestParameters.bucketName".into())
        );
    }
}
