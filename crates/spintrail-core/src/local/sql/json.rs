//! Trino JSON functions over JSON text columns: `json_extract`, `json_extract_scalar`,
//! `json_array_length`, `json_size`, `json_parse`, `json_format`, `json_array_get`,
//! `json_array_contains`, `json_query`, `json_value`.
//!
//! A small zero-copy scanner walks the JSON text along the path without building a document:
//! only the containers on the path are scanned, other values are skipped. Invalid JSON along the
//! way yields NULL (as Trino does for text input); an invalid path is an error naming it.

use std::borrow::Cow;
use std::sync::Arc;

use datafusion::arrow::array::{Array, Int64Array, StringArray, StringBuilder};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs};

use super::args::{arrays, finish, int64_array, lenient_or, literal_str, string_array};

/// One step of a JSONPath.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// Parses Trino's JSONPath subset: `$`, `.key`, `["key"]`, `['key']`, `[n]`.
pub fn parse_path(function: &str, path: &str) -> Result<Vec<Step>, String> {
    let err = || format!("{function}: invalid JSON path '{path}'");
    let b = path.trim().as_bytes();
    if b.first() != Some(&b'$') {
        return Err(err());
    }
    let mut i = 1;
    let mut steps = Vec::new();
    while i < b.len() {
        match b[i] {
            b'.' => {
                let start = i + 1;
                let mut j = start;
                while j < b.len() && !matches!(b[j], b'.' | b'[' | b']' | b' ' | b'"' | b'\'') {
                    j += 1;
                }
                if j == start || &path.trim()[start..j] == "*" {
                    return Err(err());
                }
                steps.push(Step::Key(path.trim()[start..j].to_string()));
                i = j;
            }
            b'[' => {
                let mut j = i + 1;
                match b.get(j) {
                    Some(&q @ (b'"' | b'\'')) => {
                        j += 1;
                        let mut key = String::new();
                        let text = path.trim();
                        loop {
                            let c = *b.get(j).ok_or_else(err)?;
                            if c == q {
                                break;
                            }
                            if c == b'\\' && j + 1 < b.len() {
                                j += 1;
                            }
                            let ch = text[j..].chars().next().ok_or_else(err)?;
                            key.push(ch);
                            j += ch.len_utf8();
                        }
                        if b.get(j + 1) != Some(&b']') {
                            return Err(err());
                        }
                        steps.push(Step::Key(key));
                        i = j + 2;
                    }
                    Some(c) if c.is_ascii_digit() => {
                        let start = j;
                        while j < b.len() && b[j].is_ascii_digit() {
                            j += 1;
                        }
                        if b.get(j) != Some(&b']') {
                            return Err(err());
                        }
                        let n = path.trim()[start..j].parse::<usize>().map_err(|_| err())?;
                        steps.push(Step::Index(n));
                        i = j + 1;
                    }
                    _ => return Err(err()),
                }
            }
            _ => return Err(err()),
        }
    }
    Ok(steps)
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scanner<'a> {
    fn ws(&mut self) {
        while let Some(c) = self.b.get(self.i) {
            if matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                self.i += 1;
            } else {
                break;
            }
        }
    }
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    /// At a `"`: skips the string, returns its raw content and whether it has escapes.
    fn string(&mut self) -> Option<(&'a [u8], bool)> {
        if self.peek()? != b'"' {
            return None;
        }
        let start = self.i + 1;
        let mut j = start;
        let mut escaped = false;
        loop {
            let off = memchr::memchr2(b'"', b'\\', self.b.get(j..)?)?;
            j += off;
            if self.b[j] == b'\\' {
                escaped = true;
                j += 2;
            } else {
                self.i = j + 1;
                return Some((&self.b[start..j], escaped));
            }
        }
    }
    /// Skips one value; returns its raw text.
    fn value(&mut self) -> Option<&'a [u8]> {
        self.ws();
        let start = self.i;
        match self.peek()? {
            b'"' => {
                self.string()?;
            }
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.peek()? {
                        b'"' => {
                            self.string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.i += 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                    self.i += 1;
                }
            }
            b't' => self.literal(b"true")?,
            b'f' => self.literal(b"false")?,
            b'n' => self.literal(b"null")?,
            b'-' | b'0'..=b'9' => {
                while let Some(c) = self.peek() {
                    if c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.' | b'e' | b'E') {
                        self.i += 1;
                    } else {
                        break;
                    }
                }
            }
            _ => return None,
        }
        Some(&self.b[start..self.i])
    }
    fn literal(&mut self, word: &[u8]) -> Option<()> {
        if self.b.get(self.i..self.i + word.len())? == word {
            self.i += word.len();
            Some(())
        } else {
            None
        }
    }
    /// At an object: positions after the `:` of `key`; None when absent or invalid.
    fn find_key(&mut self, key: &str) -> Option<()> {
        self.ws();
        if self.peek()? != b'{' {
            return None;
        }
        self.i += 1;
        loop {
            self.ws();
            if self.peek()? == b'}' {
                return None;
            }
            let (raw, escaped) = self.string()?;
            self.ws();
            if self.peek()? != b':' {
                return None;
            }
            self.i += 1;
            let matched = if escaped {
                let mut quoted = Vec::with_capacity(raw.len() + 2);
                quoted.push(b'"');
                quoted.extend_from_slice(raw);
                quoted.push(b'"');
                serde_json::from_slice::<String>(&quoted).ok()? == key
            } else {
                raw == key.as_bytes()
            };
            if matched {
                return Some(());
            }
            self.value()?;
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                _ => return None,
            }
        }
    }
    /// At an array: positions at element `n`.
    fn find_index(&mut self, n: usize) -> Option<()> {
        self.ws();
        if self.peek()? != b'[' {
            return None;
        }
        self.i += 1;
        self.ws();
        if self.peek()? == b']' {
            return None;
        }
        for _ in 0..n {
            self.value()?;
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                _ => return None,
            }
        }
        Some(())
    }
    /// Number of members of the container here, 0 for a scalar.
    fn size(&mut self) -> Option<i64> {
        self.ws();
        let open = self.peek()?;
        if open != b'{' && open != b'[' {
            self.value()?;
            return Some(0);
        }
        let close = if open == b'{' { b'}' } else { b']' };
        self.i += 1;
        self.ws();
        if self.peek()? == close {
            self.i += 1;
            return Some(0);
        }
        let mut n = 0;
        loop {
            if open == b'{' {
                self.ws();
                self.string()?;
                self.ws();
                if self.peek()? != b':' {
                    return None;
                }
                self.i += 1;
            }
            self.value()?;
            n += 1;
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                c if c == close => {
                    self.i += 1;
                    return Some(n);
                }
                _ => return None,
            }
        }
    }
}

/// The raw text of the value at `steps`, or None (missing or invalid JSON).
fn locate<'a>(doc: &'a str, steps: &[Step]) -> Option<&'a str> {
    let mut s = Scanner {
        b: doc.as_bytes(),
        i: 0,
    };
    for step in steps {
        match step {
            Step::Key(k) => s.find_key(k)?,
            Step::Index(n) => s.find_index(*n)?,
        }
    }
    let raw = s.value()?;
    if steps.is_empty() {
        // The whole document must be one value.
        s.ws();
        if s.i != s.b.len() {
            return None;
        }
    }
    std::str::from_utf8(raw).ok()
}

/// JSON text without insignificant whitespace (borrowed when there is none).
fn compact(raw: &str) -> Cow<'_, str> {
    let b = raw.as_bytes();
    if !b.iter().any(|c| matches!(c, b' ' | b'\n' | b'\r' | b'\t')) {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut in_string = false;
    let mut escape = false;
    for ch in raw.chars() {
        if in_string {
            out.push(ch);
            if escape {
                escape = false;
            } else if ch == '\\' {
                escape = true;
            } else if ch == '"' {
                in_string = false;
            }
        } else if ch == '"' {
            in_string = true;
            out.push(ch);
        } else if !ch.is_whitespace() {
            out.push(ch);
        }
    }
    Cow::Owned(out)
}

/// The text of a scalar JSON value (strings unquoted); None for null, objects and arrays.
fn scalar_text(raw: &str) -> Option<Cow<'_, str>> {
    match raw.as_bytes().first()? {
        b'{' | b'[' => None,
        b'n' => None,
        b'"' => {
            let inner = &raw[1..raw.len().saturating_sub(1)];
            if inner.contains('\\') {
                serde_json::from_str::<String>(raw).ok().map(Cow::Owned)
            } else {
                Some(Cow::Borrowed(inner))
            }
        }
        _ => Some(Cow::Borrowed(raw)),
    }
}

/// A path argument: parsed once when literal, cached when it varies per row.
struct PathArg<'a> {
    literal: Option<Option<Result<Vec<Step>, String>>>,
    column: &'a StringArray,
    cache: Option<(String, Result<Vec<Step>, String>)>,
    function: &'static str,
}

impl<'a> PathArg<'a> {
    fn get(&mut self, i: usize) -> Option<Result<&Vec<Step>, String>> {
        if let Some(lit) = &self.literal {
            return lit.as_ref().map(|r| r.as_ref().map_err(|e| e.clone()));
        }
        if self.column.is_null(i) {
            return None;
        }
        let p = self.column.value(i);
        if !matches!(&self.cache, Some((k, _)) if k == p) {
            self.cache = Some((p.to_string(), parse_path(self.function, p)));
        }
        self.cache
            .as_ref()
            .map(|(_, r)| r.as_ref().map_err(|e| e.clone()))
    }
}

pub fn json_extract(
    args: &ScalarFunctionArgs,
    lenient: bool,
    scalar: bool,
) -> DfResult<ColumnarValue> {
    let function = if scalar {
        "json_extract_scalar"
    } else {
        "json_extract"
    };
    let a = arrays(&args.args, args.number_rows)?;
    let docs = string_array(&a.arrays[0])?;
    let mut path = PathArg {
        literal: literal_str(&args.args[1]).map(|p| p.map(|p| parse_path(function, p))),
        column: string_array(&a.arrays[1])?,
        cache: None,
        function,
    };
    let mut out = StringBuilder::with_capacity(a.len, 0);
    for i in 0..a.len {
        let steps = match path.get(i) {
            None => {
                out.append_null();
                continue;
            }
            Some(Err(e)) => {
                lenient_or::<()>(Err(e), lenient)?;
                out.append_null();
                continue;
            }
            Some(Ok(steps)) => steps,
        };
        if docs.is_null(i) {
            out.append_null();
            continue;
        }
        let found = locate(docs.value(i), steps);
        let text = match found {
            None => None,
            Some(raw) if scalar => scalar_text(raw),
            Some(raw) => Some(compact(raw)),
        };
        match text {
            Some(t) => out.append_value(t),
            None => out.append_null(),
        }
    }
    finish(Arc::new(out.finish()), a.all_scalar)
}

pub fn json_array_length(args: &ScalarFunctionArgs) -> DfResult<ColumnarValue> {
    let a = arrays(&args.args, args.number_rows)?;
    let docs = string_array(&a.arrays[0])?;
    let out: Int64Array = docs
        .iter()
        .map(|d| {
            let d = d?;
            let mut s = Scanner {
                b: d.as_bytes(),
                i: 0,
            };
            s.ws();
            if s.peek()? != b'[' {
                return None;
            }
            let n = s.size()?;
            s.ws();
            (s.i == s.b.len()).then_some(n)
        })
        .collect();
    finish(Arc::new(out), a.all_scalar)
}

pub fn json_size(args: &ScalarFunctionArgs, lenient: bool) -> DfResult<ColumnarValue> {
    let a = arrays(&args.args, args.number_rows)?;
    let docs = string_array(&a.arrays[0])?;
    let mut path = PathArg {
        literal: literal_str(&args.args[1]).map(|p| p.map(|p| parse_path("json_size", p))),
        column: string_array(&a.arrays[1])?,
        cache: None,
        function: "json_size",
    };
    let mut out: Vec<Option<i64>> = Vec::with_capacity(a.len);
    for i in 0..a.len {
        let steps = match path.get(i) {
            None => {
                out.push(None);
                continue;
            }
            Some(Err(e)) => {
                lenient_or::<()>(Err(e), lenient)?;
                out.push(None);
                continue;
            }
            Some(Ok(steps)) => steps,
        };
        if docs.is_null(i) {
            out.push(None);
            continue;
        }
        let size = locate(docs.value(i), steps).and_then(|raw| {
            Scanner {
                b: raw.as_bytes(),
                i: 0,
            }
            .size()
        });
        out.push(size);
    }
    finish(Arc::new(Int64Array::from(out)), a.all_scalar)
}

/// Trino `json_array_get(json_array, index)`: the element as JSON text (negative index: from
/// the end); NULL when out of range, not an array or not JSON.
pub fn json_array_get(args: &ScalarFunctionArgs) -> DfResult<ColumnarValue> {
    let a = arrays(&args.args, args.number_rows)?;
    let docs = string_array(&a.arrays[0])?;
    let idx = int64_array(&a.arrays[1])?;
    let mut out = StringBuilder::with_capacity(a.len, 0);
    for i in 0..a.len {
        if docs.is_null(i) || idx.is_null(i) {
            out.append_null();
            continue;
        }
        let doc = docs.value(i);
        let n = idx.value(i);
        let found = if doc.trim_start().starts_with('[') {
            let index = if n >= 0 {
                Some(n as usize)
            } else {
                let size = Scanner {
                    b: doc.as_bytes(),
                    i: 0,
                }
                .size();
                size.and_then(|size| usize::try_from(size + n).ok())
            };
            index.and_then(|k| locate(doc, &[Step::Index(k)]))
        } else {
            None
        };
        match found {
            Some(raw) => out.append_value(compact(raw)),
            None => out.append_null(),
        }
    }
    finish(Arc::new(out.finish()), a.all_scalar)
}

/// Trino `json_array_contains(json, value)`: whether the top-level array holds an element of
/// the value's JSON type equal to it (a bigint matches integral numbers only); NULL when the text
/// is not a JSON array.
pub fn json_array_contains(args: &ScalarFunctionArgs) -> DfResult<ColumnarValue> {
    use serde_json::Value;
    let a = arrays(&args.args, args.number_rows)?;
    let docs = string_array(&a.arrays[0])?;
    let wanted = &a.arrays[1];
    let mut out: Vec<Option<bool>> = Vec::with_capacity(a.len);
    for i in 0..a.len {
        if docs.is_null(i) || wanted.is_null(i) {
            out.push(None);
            continue;
        }
        let Ok(Value::Array(items)) = serde_json::from_str::<Value>(docs.value(i)) else {
            out.push(None);
            continue;
        };
        let target = datafusion::common::ScalarValue::try_from_array(wanted, i)?;
        use datafusion::common::ScalarValue as S;
        let hit = items.iter().any(|item| match (&target, item) {
            (S::Boolean(Some(b)), Value::Bool(x)) => b == x,
            (S::Int64(Some(n)), Value::Number(x)) => x.as_i64() == Some(*n),
            (S::Float64(Some(f)), Value::Number(x)) => x.as_f64() == Some(*f),
            (S::Utf8(Some(t)), Value::String(x)) => t == x,
            _ => false,
        });
        out.push(Some(hit));
    }
    finish(
        Arc::new(datafusion::arrow::array::BooleanArray::from(out)),
        a.all_scalar,
    )
}

/// A parsed SQL/JSON path: lax mode (true) or strict, and its steps.
type SqlJsonPath = (bool, Vec<Step>);

/// A SQL/JSON path of `json_query` / `json_value`: `lax`/`strict` and member and index steps.
fn parse_sql_json_path(function: &str, path: &str) -> Result<SqlJsonPath, String> {
    let text = path.trim();
    let (lax, rest) = if let Some(r) = text.strip_prefix("strict ") {
        (false, r)
    } else if let Some(r) = text.strip_prefix("lax ") {
        (true, r)
    } else {
        (true, text)
    };
    let rest = rest.trim();
    let unsupported = [
        "*",
        "..",
        "?(",
        " to ",
        "last",
        "()",
        "@",
        "like_regex",
        "exists",
    ];
    if unsupported.iter().any(|u| rest.contains(u)) {
        return Err(format!(
            "{function}: the JSON path '{path}' is not supported by the local engine; it takes member and index steps only ('lax $.a.b', '$.a[0]')"
        ));
    }
    let steps = parse_path(function, rest)?;
    Ok((lax, steps))
}

/// The items a SQL/JSON path selects in `doc` (lax mode unwraps arrays for member steps and
/// wraps a non-array for `[0]`).
fn select<'a>(doc: &'a str, lax: bool, steps: &[Step]) -> Vec<&'a str> {
    let mut items: Vec<&'a str> = vec![doc.trim()];
    for step in steps {
        let mut next = Vec::new();
        for item in items {
            let first = item.as_bytes().first().copied();
            match step {
                Step::Key(_) if first == Some(b'{') => {
                    next.extend(locate(item, std::slice::from_ref(step)));
                }
                Step::Key(_) if first == Some(b'[') && lax => {
                    let n = Scanner {
                        b: item.as_bytes(),
                        i: 0,
                    }
                    .size()
                    .unwrap_or(0);
                    for k in 0..n as usize {
                        if let Some(element) = locate(item, &[Step::Index(k)]) {
                            if element.starts_with('{') {
                                next.extend(locate(element, std::slice::from_ref(step)));
                            }
                        }
                    }
                }
                Step::Index(_) if first == Some(b'[') => {
                    next.extend(locate(item, std::slice::from_ref(step)));
                }
                Step::Index(0) if lax => next.push(item),
                _ => {}
            }
        }
        items = next;
    }
    items
}

/// Trino `json_query(json, path)` (`value` false) and `json_value(json, path)` (`value` true) with
/// their defaults: no wrapper, NULL on empty, NULL on error. `json_query` gives the one selected
/// item as JSON text; `json_value` the one scalar as text.
pub fn json_query(
    args: &ScalarFunctionArgs,
    lenient: bool,
    value: bool,
) -> DfResult<ColumnarValue> {
    let function = if value { "json_value" } else { "json_query" };
    let a = arrays(&args.args, args.number_rows)?;
    let docs = string_array(&a.arrays[0])?;
    let paths = string_array(&a.arrays[1])?;
    let mut cache: Option<(String, Result<SqlJsonPath, String>)> = None;
    let mut out = StringBuilder::with_capacity(a.len, 0);
    for i in 0..a.len {
        if docs.is_null(i) || paths.is_null(i) {
            out.append_null();
            continue;
        }
        let p = paths.value(i);
        if !matches!(&cache, Some((k, _)) if k == p) {
            cache = Some((p.to_string(), parse_sql_json_path(function, p)));
        }
        let parsed = match cache.as_ref().map(|(_, r)| r) {
            Some(Ok(parsed)) => parsed,
            Some(Err(e)) => {
                lenient_or::<()>(Err(e.clone()), lenient)?;
                out.append_null();
                continue;
            }
            None => {
                out.append_null();
                continue;
            }
        };
        let doc = docs.value(i);
        if serde_json::from_str::<&serde_json::value::RawValue>(doc).is_err() {
            out.append_null();
            continue;
        }
        let items = select(doc, parsed.0, &parsed.1);
        let text = match items.as_slice() {
            [one] if value => scalar_text(one),
            [one] => Some(compact(one)),
            _ => None,
        };
        match text {
            Some(t) => out.append_value(t),
            None => out.append_null(),
        }
    }
    finish(Arc::new(out.finish()), a.all_scalar)
}

/// `json_parse` / `json_format`: validates the text and returns it without insignificant
/// whitespace; invalid JSON is an error (NULL inside `try`).
pub fn json_parse(
    args: &ScalarFunctionArgs,
    lenient: bool,
    function: &str,
) -> DfResult<ColumnarValue> {
    let a = arrays(&args.args, args.number_rows)?;
    let docs = string_array(&a.arrays[0])?;
    let mut out = StringBuilder::with_capacity(a.len, 0);
    for d in docs.iter() {
        let Some(d) = d else {
            out.append_null();
            continue;
        };
        let valid = serde_json::from_str::<&serde_json::value::RawValue>(d).is_ok();
        if valid {
            out.append_value(compact(d.trim()));
        } else {
            let shown: String = d.chars().take(80).collect();
            lenient_or::<()>(
                Err(format!("{function}: '{shown}' is not valid JSON")),
                lenient,
            )?;
            out.append_null();
        }
    }
    finish(Arc::new(out.finish()), a.all_scalar)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(doc: &str, path: &str) -> Option<String> {
        let steps = parse_path("t", path).ok()?;
        locate(doc, &steps).map(|s| s.to_string())
    }

    #[test]
    fn paths() {
        assert_eq!(
            parse_path("f", "$.a[2]['b.c'][\"d-e\"]"),
            Ok(vec![
                Step::Key("a".into()),
                Step::Index(2),
                Step::Key("b.c".into()),
                Step::Key("d-e".into())
            ])
        );
        assert_eq!(parse_path("f", "$"), Ok(vec![]));
        assert!(parse_path("f", "a.b").is_err());
        assert!(parse_path("f", "$.").is_err());
        assert!(parse_path("f", "$[*]").is_err());
        assert!(parse_path("f", "$[x]").is_err());
    }

    #[test]
    fn locating() {
        let doc = r#"{"a": {"b": [1, {"c": "x\"y"}, [2]]}, "k.d": true, "e\u0041": null}"#;
        assert_eq!(get(doc, "$.a.b[0]").as_deref(), Some("1"));
        assert_eq!(get(doc, "$.a.b[1].c").as_deref(), Some(r#""x\"y""#));
        assert_eq!(get(doc, "$.a.b[3]"), None);
        assert_eq!(get(doc, "$['k.d']").as_deref(), Some("true"));
        assert_eq!(get(doc, "$.eA").as_deref(), Some("null"));
        assert_eq!(get(doc, "$.zz"), None);
        assert_eq!(get("{bad", "$.a"), None);
        assert_eq!(
            compact(r#"{"a": [1, 2], "b": "x y"}"#),
            r#"{"a":[1,2],"b":"x y"}"#
        );
        assert_eq!(scalar_text(r#""x\"y""#).as_deref(), Some("x\"y"));
        assert_eq!(scalar_text("12.5").as_deref(), Some("12.5"));
        assert_eq!(scalar_text("[1]"), None);
        assert_eq!(scalar_text("null"), None);
    }
}
