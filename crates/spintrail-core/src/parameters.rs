//! Query parameters (`?` placeholders) and the little SQL lexing both engines need.
//!
//! Athena binds `?` server-side from `ExecutionParameters`, each a SQL literal; the embedded
//! engine substitutes the same literals at the placeholders this lexer finds (never inside string
//! literals, quoted identifiers or comments). Both engines therefore accept the same values and
//! reject a wrong count before anything runs.

use chrono::{NaiveDate, NaiveDateTime};

use crate::{Error, Result};

/// One parameter value.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    /// A decimal number as text (kept exact).
    Decimal(String),
    Date(NaiveDate),
    Timestamp(NaiveDateTime),
    Bytes(Vec<u8>),
}

impl Param {
    /// The value as an Athena (Trino) SQL literal.
    pub fn literal(&self) -> Result<String> {
        Ok(match self {
            Param::Null => "NULL".to_string(),
            Param::Bool(b) => b.to_string(),
            Param::Int(i) => i.to_string(),
            Param::Float(f) if f.is_nan() => "nan()".to_string(),
            Param::Float(f) if f.is_infinite() => if *f > 0.0 {
                "infinity()"
            } else {
                "-infinity()"
            }
            .to_string(),
            // Always with an exponent: Trino reads `0.25` as a DECIMAL literal, `2.5E-1` as a
            // DOUBLE (and DataFusion reads both as a double).
            Param::Float(f) => format!("{f:E}"),
            Param::Text(s) => format!("'{}'", s.replace('\'', "''")),
            Param::Decimal(d) => {
                if !is_decimal(d) {
                    return Err(Error::InvalidArgument(format!(
                        "parameter {d:?} is not a decimal number"
                    )));
                }
                format!("DECIMAL '{d}'")
            }
            Param::Date(d) => format!("DATE '{}'", d.format("%Y-%m-%d")),
            Param::Timestamp(t) => format!("TIMESTAMP '{}'", t.format("%Y-%m-%d %H:%M:%S%.6f")),
            Param::Bytes(b) => {
                let hex: String = b.iter().map(|byte| format!("{byte:02X}")).collect();
                format!("X'{hex}'")
            }
        })
    }
}

fn is_decimal(text: &str) -> bool {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (whole, fraction) = body.split_once('.').unwrap_or((body, ""));
    !(whole.is_empty() && fraction.is_empty())
        && whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
}

/// What the lexer found in a statement.
#[derive(Debug, Default)]
pub struct Lexed {
    /// Byte offsets of `?` placeholders.
    pub placeholders: Vec<usize>,
    /// Upper-cased words outside parentheses, literals and comments, in order.
    pub top_level_words: Vec<String>,
}

/// Lexes just enough SQL to find placeholders and top-level keywords.
pub fn lex(sql: &str) -> Lexed {
    let bytes = sql.as_bytes();
    let mut out = Lexed::default();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' | b'"' | b'`' => {
                let quote = bytes[i];
                i += 1;
                while i < bytes.len() {
                    if bytes[i] == quote {
                        // A doubled quote is an escaped quote inside the literal.
                        if bytes.get(i + 1) == Some(&quote) {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < bytes.len() && !(bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i += 2;
            }
            b'(' => {
                depth += 1;
                i += 1;
            }
            b')' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b'?' => {
                out.placeholders.push(i);
                i += 1;
            }
            b if b.is_ascii_alphabetic() || b == b'_' => {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                if depth == 0 {
                    out.top_level_words.push(sql[start..i].to_ascii_uppercase());
                }
            }
            _ => i += 1,
        }
    }
    out
}

/// Fails unless `params` has exactly one value per `?` in `sql`.
pub fn check_count(sql: &str, params: &[Param]) -> Result<()> {
    let wanted = lex(sql).placeholders.len();
    if wanted != params.len() {
        return Err(Error::InvalidArgument(format!(
            "the query has {wanted} parameter placeholder(s) (?) but {} value(s) were given",
            params.len()
        )));
    }
    Ok(())
}

/// The statement with each `?` replaced by its parameter's literal (for the embedded engine).
pub fn bind(sql: &str, params: &[Param]) -> Result<String> {
    check_count(sql, params)?;
    let mut out = String::with_capacity(sql.len() + params.len() * 8);
    let mut last = 0;
    for (offset, param) in lex(sql).placeholders.into_iter().zip(params) {
        out.push_str(&sql[last..offset]);
        out.push_str(&param.literal()?);
        last = offset + 1;
    }
    out.push_str(&sql[last..]);
    Ok(out)
}

/// Whether the statement sorts its final result (`ORDER BY` outside any parentheses).
pub fn has_top_level_order_by(sql: &str) -> bool {
    lex(sql)
        .top_level_words
        .windows(2)
        .any(|w| w[0] == "ORDER" && w[1] == "BY")
}

/// The first keyword of the statement (`SELECT`, `WITH`, `SHOW`, ...), upper-cased.
pub fn first_keyword(sql: &str) -> Option<String> {
    lex(sql).top_level_words.into_iter().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_skip_literals_identifiers_and_comments() {
        let sql = "SELECT '?', \"a?\" -- ?\n FROM t /* ? */ WHERE x = ? AND y = 'it''s ?' OR z = ?";
        assert_eq!(lex(sql).placeholders.len(), 2);
        let bound = bind(sql, &[Param::Text("o'brien".into()), Param::Int(3)]).unwrap();
        assert!(
            bound.ends_with("x = 'o''brien' AND y = 'it''s ?' OR z = 3"),
            "{bound}"
        );
        assert!(check_count(sql, &[Param::Null]).is_err());
    }

    #[test]
    fn literals() {
        assert_eq!(Param::Float(1.0).literal().unwrap(), "1E0");
        assert_eq!(Param::Float(0.25).literal().unwrap(), "2.5E-1");
        assert_eq!(Param::Float(1e300).literal().unwrap(), "1E300");
        assert_eq!(Param::Float(f64::NAN).literal().unwrap(), "nan()");
        assert_eq!(Param::Bytes(vec![0xab, 1]).literal().unwrap(), "X'AB01'");
        assert_eq!(
            Param::Decimal("-1.50".into()).literal().unwrap(),
            "DECIMAL '-1.50'"
        );
        assert!(Param::Decimal("1.5; DROP".into()).literal().is_err());
        assert!(Param::Decimal(".".into()).literal().is_err());
    }

    #[test]
    fn order_by_only_at_the_top() {
        assert!(has_top_level_order_by("select * from t order by x"));
        assert!(!has_top_level_order_by(
            "select row_number() over (order by x) from t"
        ));
        assert!(!has_top_level_order_by("select 'order by' from t"));
        assert_eq!(
            first_keyword("  -- hi\n with a as (select 1) select * from a").as_deref(),
            Some("WITH")
        );
    }
}
