//! Trino functions as DataFusion UDFs.
//!
//! One `ScalarUDFImpl` (for [`Twin<Kind>`]) dispatches on [`Kind`]. Every fallible function is
//! registered twice (see [`Family`]): under its Trino name (errors name the function and the
//! offending value) and as `__try_<name>`, the lenient twin used inside `try(...)`, which yields
//! NULL instead.
//! Literal arguments (units, JSON paths, formats, patterns) are parsed once per batch.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, AsArray, ListBuilder, MapArray, MapBuilder, StringBuilder, UInt32Array,
};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, TimeUnit};
use datafusion::common::ScalarValue;
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
};
use regex::Regex;

pub use super::args::TRY_PREFIX;
use super::args::{
    arrays, fail, finish, has_lenient_twin, int64_array, is_integer, is_string, lenient_or,
    optional_int64, string_array, type_error, Family, Twin,
};
use super::more_functions::More;
use super::{json, time, url};

/// The functions of ours that can fail on data and have a lenient twin.
pub fn is_fallible(name: &str) -> bool {
    has_lenient_twin::<Kind>(name) || has_lenient_twin::<More>(name)
}

/// Hints for Trino functions the local engine does not provide: what to use instead.
pub fn trino_hint(name: &str) -> Option<&'static str> {
    Some(match name {
        "transform" | "filter" | "reduce" | "any_match" | "all_match" | "none_match"
        | "transform_keys" | "transform_values" | "map_filter" | "zip_with" => {
            "lambda expressions are not supported by the local engine; UNNEST the array and aggregate instead"
        }
        "approx_set" | "merge" | "cardinality_hll" | "empty_approx_set" => {
            "HyperLogLog sketches are not supported; use approx_distinct"
        }
        "multimap_agg" => "use map_agg, or array_agg grouped by the key",
        "approx_most_frequent" => "use histogram, or count(*) with GROUP BY and ORDER BY",
        "human_readable_seconds" | "to_milliseconds" => {
            "use date_diff('millisecond', a, b) for an elapsed time"
        }
        _ => return None,
    })
}

/// Which Trino function a [`Twin<Kind>`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    FromIso8601Timestamp,
    FromIso8601Date,
    ToIso8601,
    DateAdd,
    DateDiff,
    DateFormat,
    FromUnixtime,
    ToUnixtime,
    JsonExtract,
    JsonExtractScalar,
    JsonArrayLength,
    JsonSize,
    JsonParse,
    JsonFormat,
    ElementAt,
    Contains,
    SplitPart,
    RegexpExtract,
    RegexpReplace,
    Concat,
    DateParse,
    ParseDatetime,
    FormatDatetime,
    ParseDuration,
    AtTimezone,
    WithTimezone,
    RegexpExtractAll,
    RegexpSplit,
    SplitToMap,
    UrlExtractHost,
    UrlExtractPath,
    UrlExtractPort,
    UrlExtractProtocol,
    UrlExtractQuery,
    UrlExtractFragment,
    UrlExtractParameter,
    UrlEncode,
    UrlDecode,
}

impl Family for Kind {
    const ALL: &'static [Kind] = &[
        Kind::FromIso8601Timestamp,
        Kind::FromIso8601Date,
        Kind::ToIso8601,
        Kind::DateAdd,
        Kind::DateDiff,
        Kind::DateFormat,
        Kind::FromUnixtime,
        Kind::ToUnixtime,
        Kind::JsonExtract,
        Kind::JsonExtractScalar,
        Kind::JsonArrayLength,
        Kind::JsonSize,
        Kind::JsonParse,
        Kind::JsonFormat,
        Kind::ElementAt,
        Kind::Contains,
        Kind::SplitPart,
        Kind::RegexpExtract,
        Kind::RegexpReplace,
        Kind::Concat,
        Kind::DateParse,
        Kind::ParseDatetime,
        Kind::FormatDatetime,
        Kind::ParseDuration,
        Kind::AtTimezone,
        Kind::WithTimezone,
        Kind::RegexpExtractAll,
        Kind::RegexpSplit,
        Kind::SplitToMap,
        Kind::UrlExtractHost,
        Kind::UrlExtractPath,
        Kind::UrlExtractPort,
        Kind::UrlExtractProtocol,
        Kind::UrlExtractQuery,
        Kind::UrlExtractFragment,
        Kind::UrlExtractParameter,
        Kind::UrlEncode,
        Kind::UrlDecode,
    ];

    fn name(self) -> &'static str {
        match self {
            Kind::FromIso8601Timestamp => "from_iso8601_timestamp",
            Kind::FromIso8601Date => "from_iso8601_date",
            Kind::ToIso8601 => "to_iso8601",
            Kind::DateAdd => "date_add",
            Kind::DateDiff => "date_diff",
            Kind::DateFormat => "date_format",
            Kind::FromUnixtime => "from_unixtime",
            Kind::ToUnixtime => "to_unixtime",
            Kind::JsonExtract => "json_extract",
            Kind::JsonExtractScalar => "json_extract_scalar",
            Kind::JsonArrayLength => "json_array_length",
            Kind::JsonSize => "json_size",
            Kind::JsonParse => "json_parse",
            Kind::JsonFormat => "json_format",
            Kind::ElementAt => "element_at",
            Kind::Contains => "contains",
            Kind::SplitPart => "split_part",
            Kind::RegexpExtract => "regexp_extract",
            Kind::RegexpReplace => "regexp_replace",
            Kind::Concat => "concat",
            Kind::DateParse => "date_parse",
            Kind::ParseDatetime => "parse_datetime",
            Kind::FormatDatetime => "format_datetime",
            Kind::ParseDuration => "parse_duration",
            Kind::AtTimezone => "at_timezone",
            Kind::WithTimezone => "with_timezone",
            Kind::RegexpExtractAll => "regexp_extract_all",
            Kind::RegexpSplit => "regexp_split",
            Kind::SplitToMap => "split_to_map",
            Kind::UrlExtractHost => "url_extract_host",
            Kind::UrlExtractPath => "url_extract_path",
            Kind::UrlExtractPort => "url_extract_port",
            Kind::UrlExtractProtocol => "url_extract_protocol",
            Kind::UrlExtractQuery => "url_extract_query",
            Kind::UrlExtractFragment => "url_extract_fragment",
            Kind::UrlExtractParameter => "url_extract_parameter",
            Kind::UrlEncode => "url_encode",
            Kind::UrlDecode => "url_decode",
        }
    }

    fn fallible(self) -> bool {
        !matches!(
            self,
            Kind::ToUnixtime
                | Kind::JsonArrayLength
                | Kind::Contains
                | Kind::Concat
                | Kind::AtTimezone
                | Kind::UrlExtractHost
                | Kind::UrlExtractPath
                | Kind::UrlExtractPort
                | Kind::UrlExtractProtocol
                | Kind::UrlExtractQuery
                | Kind::UrlExtractFragment
                | Kind::UrlExtractParameter
                | Kind::UrlEncode
        )
    }

    fn udf(self, lenient: bool) -> ScalarUDF {
        ScalarUDF::new_from_impl(Twin::new(self, lenient))
    }
}

fn is_temporal(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Timestamp(..) | DataType::Date32 | DataType::Null
    )
}

fn temporal(t: &DataType) -> DataType {
    match t {
        DataType::Date64 => DataType::Date32,
        DataType::Null => DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
        other => other.clone(),
    }
}

impl ScalarUDFImpl for Twin<Kind> {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, t: &[DataType]) -> DfResult<Vec<DataType>> {
        let name = self.kind.name();
        let utf8 = DataType::Utf8;
        let bad = |expected: &str| Err(type_error(name, expected, t));
        match self.kind {
            Kind::FromIso8601Timestamp | Kind::FromIso8601Date => match t {
                [a] if is_string(a) => Ok(vec![utf8]),
                _ => bad("varchar"),
            },
            Kind::JsonArrayLength | Kind::JsonParse | Kind::JsonFormat => match t {
                [a] if is_string(a) => Ok(vec![utf8]),
                _ => bad("json"),
            },
            Kind::JsonExtract | Kind::JsonExtractScalar | Kind::JsonSize => match t {
                [a, b] if is_string(a) && is_string(b) => Ok(vec![utf8.clone(), utf8]),
                _ => bad("json, varchar json_path"),
            },
            Kind::ToIso8601 | Kind::ToUnixtime => match t {
                [a] if is_temporal(a) || matches!(a, DataType::Date64) => Ok(vec![temporal(a)]),
                _ => bad("timestamp"),
            },
            Kind::FromUnixtime => match t {
                [a] if a.is_numeric() || matches!(a, DataType::Null) => Ok(vec![DataType::Float64]),
                _ => bad("double"),
            },
            Kind::DateAdd => match t {
                [u, n, x] if is_string(u) && is_integer(n) && is_temporal(x) => {
                    Ok(vec![utf8, DataType::Int64, temporal(x)])
                }
                _ => bad("varchar unit, bigint value, timestamp"),
            },
            Kind::DateDiff => match t {
                [u, a, b] if is_string(u) && is_temporal(a) && is_temporal(b) => {
                    Ok(vec![utf8, temporal(a), temporal(b)])
                }
                _ => bad("varchar unit, timestamp, timestamp"),
            },
            Kind::DateFormat => match t {
                [a, f] if is_temporal(a) && is_string(f) => Ok(vec![temporal(a), utf8]),
                _ => bad("timestamp, varchar format"),
            },
            Kind::SplitPart => match t {
                [s, d, i] if is_string(s) && is_string(d) && is_integer(i) => {
                    Ok(vec![utf8.clone(), utf8, DataType::Int64])
                }
                _ => bad("varchar, varchar delimiter, bigint index"),
            },
            Kind::RegexpExtract => match t {
                [s, p] if is_string(s) && is_string(p) => Ok(vec![utf8.clone(), utf8]),
                [s, p, g] if is_string(s) && is_string(p) && is_integer(g) => {
                    Ok(vec![utf8.clone(), utf8, DataType::Int64])
                }
                _ => bad("varchar, varchar pattern[, bigint group]"),
            },
            Kind::RegexpReplace => match t {
                [s, p] if is_string(s) && is_string(p) => Ok(vec![utf8.clone(), utf8]),
                [s, p, r] if is_string(s) && is_string(p) && is_string(r) => {
                    Ok(vec![utf8.clone(), utf8.clone(), utf8])
                }
                _ => bad("varchar, varchar pattern[, varchar replacement]"),
            },
            Kind::ElementAt => match t {
                [DataType::List(f), i] | [DataType::LargeList(f), i] if is_integer(i) => {
                    Ok(vec![DataType::List(f.clone()), DataType::Int64])
                }
                [DataType::FixedSizeList(f, _), i] if is_integer(i) => {
                    Ok(vec![DataType::List(f.clone()), DataType::Int64])
                }
                [m @ DataType::Map(entries, _), _] => {
                    let key = match entries.data_type() {
                        DataType::Struct(fields) if !fields.is_empty() => {
                            fields[0].data_type().clone()
                        }
                        _ => return bad("map(K, V), K"),
                    };
                    Ok(vec![m.clone(), key])
                }
                _ => bad("array(E), bigint or map(K, V), K"),
            },
            Kind::Contains => match t {
                [DataType::List(f), _] | [DataType::LargeList(f), _] => {
                    Ok(vec![DataType::List(f.clone()), f.data_type().clone()])
                }
                _ => bad("array(T), T"),
            },
            Kind::DateParse | Kind::ParseDatetime => match t {
                [a, b] if is_string(a) && is_string(b) => Ok(vec![utf8.clone(), utf8]),
                _ => bad("varchar, varchar format"),
            },
            Kind::FormatDatetime => match t {
                [a, f] if is_temporal(a) && is_string(f) => Ok(vec![temporal(a), utf8]),
                _ => bad("timestamp, varchar format"),
            },
            Kind::ParseDuration
            | Kind::UrlExtractHost
            | Kind::UrlExtractPath
            | Kind::UrlExtractPort
            | Kind::UrlExtractProtocol
            | Kind::UrlExtractQuery
            | Kind::UrlExtractFragment
            | Kind::UrlEncode
            | Kind::UrlDecode => match t {
                [a] if is_string(a) => Ok(vec![utf8]),
                _ => bad("varchar"),
            },
            Kind::UrlExtractParameter => match t {
                [a, b] if is_string(a) && is_string(b) => Ok(vec![utf8.clone(), utf8]),
                _ => bad("varchar url, varchar name"),
            },
            Kind::AtTimezone | Kind::WithTimezone => match t {
                [a, z] if is_temporal(a) && is_string(z) => Ok(vec![temporal(a), utf8]),
                _ => bad("timestamp, varchar zone"),
            },
            Kind::RegexpExtractAll => match t {
                [s, p] if is_string(s) && is_string(p) => Ok(vec![utf8.clone(), utf8]),
                [s, p, g] if is_string(s) && is_string(p) && is_integer(g) => {
                    Ok(vec![utf8.clone(), utf8, DataType::Int64])
                }
                _ => bad("varchar, varchar pattern[, bigint group]"),
            },
            Kind::RegexpSplit => match t {
                [s, p] if is_string(s) && is_string(p) => Ok(vec![utf8.clone(), utf8]),
                _ => bad("varchar, varchar pattern"),
            },
            Kind::SplitToMap => match t {
                [s, e, k] if is_string(s) && is_string(e) && is_string(k) => {
                    Ok(vec![utf8.clone(), utf8.clone(), utf8])
                }
                _ => bad("varchar, varchar entryDelimiter, varchar keyValueDelimiter"),
            },
            Kind::Concat => {
                if t.iter()
                    .any(|x| matches!(x, DataType::List(_) | DataType::LargeList(_)))
                {
                    Ok(t.to_vec())
                } else if t.is_empty() {
                    bad("varchar, ...")
                } else {
                    Ok(vec![utf8; t.len()])
                }
            }
        }
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> DfResult<FieldRef> {
        let types: Vec<DataType> = args
            .arg_fields
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        let data_type = match (self.kind, types.first()) {
            (Kind::AtTimezone | Kind::WithTimezone, Some(first)) => {
                let zone = time::zone_argument(
                    self.kind.name(),
                    args.scalar_arguments.get(1).copied().flatten(),
                )
                .map_err(fail)?;
                let unit = match first {
                    DataType::Timestamp(unit, _) => *unit,
                    _ => TimeUnit::Millisecond,
                };
                DataType::Timestamp(unit, Some(zone.id.into()))
            }
            _ => self.return_type(&types)?,
        };
        Ok(Arc::new(Field::new(self.name(), data_type, true)))
    }

    fn return_type(&self, t: &[DataType]) -> DfResult<DataType> {
        let ts_utc = DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()));
        Ok(match self.kind {
            Kind::FromIso8601Timestamp | Kind::FromUnixtime => ts_utc,
            Kind::FromIso8601Date => DataType::Date32,
            Kind::ToIso8601
            | Kind::DateFormat
            | Kind::JsonExtract
            | Kind::JsonExtractScalar
            | Kind::JsonParse
            | Kind::JsonFormat
            | Kind::SplitPart
            | Kind::RegexpExtract
            | Kind::RegexpReplace => DataType::Utf8,
            Kind::ToUnixtime => DataType::Float64,
            Kind::DateParse => DataType::Timestamp(TimeUnit::Millisecond, None),
            Kind::ParseDatetime => ts_utc,
            Kind::FormatDatetime
            | Kind::UrlExtractHost
            | Kind::UrlExtractPath
            | Kind::UrlExtractProtocol
            | Kind::UrlExtractQuery
            | Kind::UrlExtractFragment
            | Kind::UrlExtractParameter
            | Kind::UrlEncode
            | Kind::UrlDecode => DataType::Utf8,
            Kind::UrlExtractPort => DataType::Int64,
            Kind::ParseDuration => DataType::Duration(TimeUnit::Millisecond),
            // The zone comes from the literal argument (see `return_field_from_args`).
            Kind::AtTimezone | Kind::WithTimezone => t.first().cloned().unwrap_or(ts_utc),
            Kind::RegexpExtractAll | Kind::RegexpSplit => DataType::new_list(DataType::Utf8, true),
            Kind::SplitToMap => string_map_type(),
            Kind::DateDiff | Kind::JsonArrayLength | Kind::JsonSize => DataType::Int64,
            Kind::DateAdd => t.get(2).cloned().unwrap_or(ts_utc),
            Kind::Contains => DataType::Boolean,
            Kind::ElementAt => match t.first() {
                Some(DataType::List(f)) | Some(DataType::LargeList(f)) => f.data_type().clone(),
                Some(DataType::Map(entries, _)) => match entries.data_type() {
                    DataType::Struct(fields) if fields.len() == 2 => fields[1].data_type().clone(),
                    _ => return Err(type_error("element_at", "map(K, V), K", t)),
                },
                _ => return Err(type_error("element_at", "array(E), bigint", t)),
            },
            Kind::Concat => {
                if let Some(list) = t.iter().find(|x| matches!(x, DataType::List(_))) {
                    list.clone()
                } else {
                    DataType::Utf8
                }
            }
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let lenient = self.lenient;
        match self.kind {
            Kind::FromIso8601Timestamp => time::from_iso8601_timestamp(&args, lenient),
            Kind::FromIso8601Date => time::from_iso8601_date(&args, lenient),
            Kind::ToIso8601 => time::to_iso8601(&args, lenient),
            Kind::DateAdd => time::date_add(&args, lenient),
            Kind::DateDiff => time::date_diff(&args, lenient),
            Kind::DateFormat => time::date_format(&args, lenient),
            Kind::FromUnixtime => time::from_unixtime(&args, lenient),
            Kind::ToUnixtime => time::to_unixtime(&args),
            Kind::JsonExtract => json::json_extract(&args, lenient, false),
            Kind::JsonExtractScalar => json::json_extract(&args, lenient, true),
            Kind::JsonArrayLength => json::json_array_length(&args),
            Kind::JsonSize => json::json_size(&args, lenient),
            Kind::JsonParse => json::json_parse(&args, lenient, "json_parse"),
            Kind::JsonFormat => json::json_parse(&args, lenient, "json_format"),
            Kind::ElementAt => element_at(args, lenient),
            Kind::Contains => {
                datafusion::functions_nested::array_has::array_has_udf().invoke_with_args(args)
            }
            Kind::SplitPart => split_part(&args, lenient),
            Kind::RegexpExtract => regexp_extract(&args, lenient),
            Kind::RegexpReplace => regexp_replace(&args, lenient),
            Kind::Concat => concat(args),
            Kind::DateParse => time::date_parse(&args, lenient),
            Kind::ParseDatetime => time::parse_datetime(&args, lenient),
            Kind::FormatDatetime => time::format_datetime(&args, lenient),
            Kind::ParseDuration => time::parse_duration(&args, lenient),
            Kind::AtTimezone => time::at_timezone(&args),
            Kind::WithTimezone => time::with_timezone(&args, lenient),
            Kind::RegexpExtractAll => regexp_extract_all(&args, lenient),
            Kind::RegexpSplit => regexp_split(&args, lenient),
            Kind::SplitToMap => split_to_map(&args, lenient),
            Kind::UrlExtractHost => url::extract(&args, url::Part::Host),
            Kind::UrlExtractPath => url::extract(&args, url::Part::Path),
            Kind::UrlExtractPort => url::extract(&args, url::Part::Port),
            Kind::UrlExtractProtocol => url::extract(&args, url::Part::Protocol),
            Kind::UrlExtractQuery => url::extract(&args, url::Part::Query),
            Kind::UrlExtractFragment => url::extract(&args, url::Part::Fragment),
            Kind::UrlExtractParameter => url::extract_parameter(&args),
            Kind::UrlEncode => url::encode(&args),
            Kind::UrlDecode => url::decode(&args, lenient),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Regular expressions.

/// A compiled-pattern cache for a pattern argument that is literal or varies per row.
pub(crate) struct RegexCache {
    last: Option<(String, std::result::Result<Regex, String>)>,
    function: &'static str,
}

impl RegexCache {
    pub fn new(function: &'static str) -> Self {
        RegexCache {
            last: None,
            function,
        }
    }

    pub fn get(&mut self, pattern: &str) -> std::result::Result<&Regex, String> {
        let hit = matches!(&self.last, Some((p, _)) if p == pattern);
        if !hit {
            let compiled = Regex::new(pattern).map_err(|e| {
                format!(
                    "{}: invalid regular expression '{pattern}': {e}",
                    self.function
                )
            });
            self.last = Some((pattern.to_string(), compiled));
        }
        match &self.last {
            Some((_, Ok(re))) => Ok(re),
            Some((_, Err(e))) => Err(e.clone()),
            None => Err(format!("{}: no pattern", self.function)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// String and collection functions.

/// Trino `split_part`: 1-based field; NULL when the index is beyond the number of fields.
fn split_part(args: &ScalarFunctionArgs, lenient: bool) -> DfResult<ColumnarValue> {
    let a = arrays(&args.args, args.number_rows)?;
    let s = string_array(&a.arrays[0])?;
    let d = string_array(&a.arrays[1])?;
    let idx = int64_array(&a.arrays[2])?;
    let mut out = StringBuilder::with_capacity(a.len, 0);
    for i in 0..a.len {
        if s.is_null(i) || d.is_null(i) || idx.is_null(i) {
            out.append_null();
            continue;
        }
        let (text, delim, n) = (s.value(i), d.value(i), idx.value(i));
        let r = if n <= 0 {
            Err(format!("split_part: index {n} must be greater than zero"))
        } else if delim.is_empty() {
            Ok(text
                .char_indices()
                .nth((n - 1) as usize)
                .map(|(p, c)| &text[p..p + c.len_utf8()]))
        } else {
            Ok(text.split(delim).nth((n - 1) as usize))
        };
        match lenient_or(r, lenient)? {
            Some(v) => out.append_value(v),
            None => out.append_null(),
        }
    }
    finish(Arc::new(out.finish()), a.all_scalar)
}

/// Trino `regexp_extract(string, pattern[, group])`: NULL when there is no match.
/// Trino's error for a capture group the pattern does not have.
fn check_group(function: &str, re: &regex::Regex, pattern: &str, group: i64) -> Result<(), String> {
    let groups = re.captures_len() as i64 - 1;
    if group < 0 || group > groups {
        return Err(format!(
            "{function}: pattern '{pattern}' has {groups} groups, cannot access group {group}"
        ));
    }
    Ok(())
}

fn regexp_extract(args: &ScalarFunctionArgs, lenient: bool) -> DfResult<ColumnarValue> {
    let a = arrays(&args.args, args.number_rows)?;
    let s = string_array(&a.arrays[0])?;
    let p = string_array(&a.arrays[1])?;
    let g = optional_int64(&a.arrays, 2)?;
    let mut cache = RegexCache::new("regexp_extract");
    let mut out = StringBuilder::with_capacity(a.len, 0);
    for i in 0..a.len {
        if s.is_null(i) || p.is_null(i) || g.is_some_and(|g| g.is_null(i)) {
            out.append_null();
            continue;
        }
        let group = g.map(|g| g.value(i)).unwrap_or(0);
        let text = s.value(i);
        let r = cache.get(p.value(i)).and_then(|re| {
            check_group("regexp_extract", re, p.value(i), group)?;
            Ok(re
                .captures(text)
                .and_then(|c| c.get(group as usize))
                .map(|m| m.as_str()))
        });
        match lenient_or(r, lenient)? {
            Some(v) => out.append_value(v),
            None => out.append_null(),
        }
    }
    finish(Arc::new(out.finish()), a.all_scalar)
}

/// Trino's replacement syntax (`$1`, `${name}`, `\$`) in the `regex` crate's syntax.
fn translate_replacement(r: &str) -> String {
    let mut out = String::with_capacity(r.len() + 4);
    let mut chars = r.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('$') => out.push_str("$$"),
                Some(other) => out.push(other),
                None => out.push('\\'),
            },
            '$' => match chars.peek() {
                Some(d) if d.is_ascii_digit() => {
                    out.push_str("${");
                    while let Some(d) = chars.peek().copied().filter(|d| d.is_ascii_digit()) {
                        out.push(d);
                        chars.next();
                    }
                    out.push('}');
                }
                Some('{') => out.push('$'),
                _ => out.push_str("$$"),
            },
            other => out.push(other),
        }
    }
    out
}

/// Trino `regexp_replace(string, pattern[, replacement])`: replaces every match.
fn regexp_replace(args: &ScalarFunctionArgs, lenient: bool) -> DfResult<ColumnarValue> {
    let a = arrays(&args.args, args.number_rows)?;
    let s = string_array(&a.arrays[0])?;
    let p = string_array(&a.arrays[1])?;
    let r = a.arrays.get(2).map(string_array).transpose()?;
    let mut cache = RegexCache::new("regexp_replace");
    let mut last_replacement: Option<(String, String)> = None;
    let mut out = StringBuilder::with_capacity(a.len, 0);
    for i in 0..a.len {
        if s.is_null(i) || p.is_null(i) || r.is_some_and(|r| r.is_null(i)) {
            out.append_null();
            continue;
        }
        let raw = r.map(|r| r.value(i)).unwrap_or("");
        if !matches!(&last_replacement, Some((k, _)) if k == raw) {
            last_replacement = Some((raw.to_string(), translate_replacement(raw)));
        }
        let replacement = last_replacement
            .as_ref()
            .map(|(_, t)| t.as_str())
            .unwrap_or("");
        let res = cache
            .get(p.value(i))
            .map(|re| Some(re.replace_all(s.value(i), replacement)));
        match lenient_or(res, lenient)? {
            Some(v) => out.append_value(v),
            None => out.append_null(),
        }
    }
    finish(Arc::new(out.finish()), a.all_scalar)
}

/// Trino `concat`: NULL when any argument is NULL; arrays are concatenated.
fn concat(args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
    if args
        .arg_fields
        .iter()
        .any(|f| matches!(f.data_type(), DataType::List(_) | DataType::LargeList(_)))
    {
        return datafusion::functions_nested::concat::array_concat_udf().invoke_with_args(args);
    }
    let a = arrays(&args.args, args.number_rows)?;
    let cols = a
        .arrays
        .iter()
        .map(string_array)
        .collect::<DfResult<Vec<_>>>()?;
    let mut out = StringBuilder::with_capacity(a.len, 0);
    let mut buf = String::new();
    for i in 0..a.len {
        if cols.iter().any(|c| c.is_null(i)) {
            out.append_null();
            continue;
        }
        buf.clear();
        for c in &cols {
            buf.push_str(c.value(i));
        }
        out.append_value(&buf);
    }
    finish(Arc::new(out.finish()), a.all_scalar)
}

/// Trino `regexp_extract_all(string, pattern[, group])`: every match (or its group); an empty
/// array when nothing matches.
fn regexp_extract_all(args: &ScalarFunctionArgs, lenient: bool) -> DfResult<ColumnarValue> {
    let a = arrays(&args.args, args.number_rows)?;
    let s = string_array(&a.arrays[0])?;
    let p = string_array(&a.arrays[1])?;
    let g = optional_int64(&a.arrays, 2)?;
    let mut cache = RegexCache::new("regexp_extract_all");
    let mut out = ListBuilder::new(StringBuilder::new());
    for i in 0..a.len {
        if s.is_null(i) || p.is_null(i) || g.is_some_and(|g| g.is_null(i)) {
            out.append_null();
            continue;
        }
        let group = g.map(|g| g.value(i)).unwrap_or(0);
        let text = s.value(i);
        let r = cache.get(p.value(i)).and_then(|re| {
            check_group("regexp_extract_all", re, p.value(i), group)?;
            Ok(Some(
                re.captures_iter(text)
                    .map(|c| c.get(group as usize).map(|m| m.as_str()))
                    .collect::<Vec<_>>(),
            ))
        });
        match lenient_or(r, lenient)? {
            Some(values) => {
                for v in values {
                    out.values().append_option(v);
                }
                out.append(true);
            }
            None => out.append_null(),
        }
    }
    finish(Arc::new(out.finish()), a.all_scalar)
}

/// Trino `regexp_split(string, pattern)`: the pieces between matches (empty ones included).
fn regexp_split(args: &ScalarFunctionArgs, lenient: bool) -> DfResult<ColumnarValue> {
    let a = arrays(&args.args, args.number_rows)?;
    let s = string_array(&a.arrays[0])?;
    let p = string_array(&a.arrays[1])?;
    let mut cache = RegexCache::new("regexp_split");
    let mut out = ListBuilder::new(StringBuilder::new());
    for i in 0..a.len {
        if s.is_null(i) || p.is_null(i) {
            out.append_null();
            continue;
        }
        let r = cache
            .get(p.value(i))
            .map(|re| Some(re.split(s.value(i)).collect::<Vec<_>>()));
        match lenient_or(r, lenient)? {
            Some(pieces) => {
                for piece in pieces {
                    out.values().append_value(piece);
                }
                out.append(true);
            }
            None => out.append_null(),
        }
    }
    finish(Arc::new(out.finish()), a.all_scalar)
}

fn string_map_builder() -> MapBuilder<StringBuilder, StringBuilder> {
    MapBuilder::new(None, StringBuilder::new(), StringBuilder::new())
}

/// The type of `map(varchar, varchar)` as this module builds it.
fn string_map_type() -> DataType {
    string_map_builder().finish().data_type().clone()
}

/// The entries of one `split_to_map` input, or Trino's error.
fn split_entries<'a>(
    text: &'a str,
    entry_delim: &str,
    kv_delim: &str,
) -> std::result::Result<Vec<(&'a str, &'a str)>, String> {
    if entry_delim.is_empty() || kv_delim.is_empty() {
        return Err("split_to_map: the delimiters must not be empty".into());
    }
    if entry_delim == kv_delim {
        return Err("split_to_map: the entry and key-value delimiters must differ".into());
    }
    let mut entries: Vec<(&str, &str)> = Vec::new();
    let body = text.strip_suffix(entry_delim).unwrap_or(text);
    if body.is_empty() {
        return Ok(entries);
    }
    for entry in body.split(entry_delim) {
        let mut parts = entry.splitn(3, kv_delim);
        let (Some(k), Some(v), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!(
                "split_to_map: the key-value delimiter must appear exactly once in each entry, not in '{entry}'"
            ));
        };
        if entries.iter().any(|(key, _)| *key == k) {
            return Err(format!("split_to_map: duplicate key '{k}' in '{text}'"));
        }
        entries.push((k, v));
    }
    Ok(entries)
}

/// Trino `split_to_map(string, entryDelimiter, keyValueDelimiter)` → `map(varchar, varchar)`.
fn split_to_map(args: &ScalarFunctionArgs, lenient: bool) -> DfResult<ColumnarValue> {
    let a = arrays(&args.args, args.number_rows)?;
    let s = string_array(&a.arrays[0])?;
    let e = string_array(&a.arrays[1])?;
    let k = string_array(&a.arrays[2])?;
    let mut out = string_map_builder();
    for i in 0..a.len {
        if s.is_null(i) || e.is_null(i) || k.is_null(i) {
            out.append(false)?;
            continue;
        }
        let r = split_entries(s.value(i), e.value(i), k.value(i)).map(Some);
        match lenient_or(r, lenient)? {
            Some(entries) => {
                for (key, value) in entries {
                    out.keys().append_value(key);
                    out.values().append_value(value);
                }
                out.append(true)?;
            }
            None => out.append(false)?,
        }
    }
    finish(Arc::new(out.finish()), a.all_scalar)
}

/// Trino `element_at(array, i)` (1-based, negative from the end, out of range → NULL) and
/// `element_at(map, key)` (missing key → NULL).
fn element_at(args: ScalarFunctionArgs, lenient: bool) -> DfResult<ColumnarValue> {
    let first = args.arg_fields.first().map(|f| f.data_type().clone());
    if !matches!(first, Some(DataType::Map(..))) {
        if let ColumnarValue::Scalar(ScalarValue::Int64(Some(0))) = args
            .args
            .get(1)
            .unwrap_or(&ColumnarValue::Scalar(ScalarValue::Null))
        {
            return lenient_or::<()>(
                Err("element_at: SQL array indices start at 1".into()),
                lenient,
            )
            .and_then(|_| {
                Ok(ColumnarValue::Scalar(ScalarValue::try_from(
                    args.return_field.data_type(),
                )?))
            });
        }
        return datafusion::functions_nested::extract::array_element_udf().invoke_with_args(args);
    }
    let a = arrays(&args.args, args.number_rows)?;
    let map: &MapArray = a.arrays[0]
        .as_map_opt()
        .ok_or_else(|| fail("element_at: expects a map".into()))?;
    let keys = map.keys();
    let values = map.values();
    let wanted = &a.arrays[1];
    let offsets = map.value_offsets();
    let mut indices: Vec<Option<u32>> = Vec::with_capacity(a.len);
    let string_keys = keys.as_string_opt::<i32>();
    let string_wanted = wanted.as_string_opt::<i32>();
    for i in 0..a.len {
        if map.is_null(i) || wanted.is_null(i) {
            indices.push(None);
            continue;
        }
        let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
        let mut found = None;
        if let (Some(k), Some(w)) = (string_keys, string_wanted) {
            let target = w.value(i);
            found = (start..end).find(|&j| k.value(j) == target);
        } else {
            let target = ScalarValue::try_from_array(wanted, i)?;
            for j in start..end {
                if ScalarValue::try_from_array(keys, j)? == target {
                    found = Some(j);
                    break;
                }
            }
        }
        indices.push(found.map(|j| j as u32));
    }
    let indices = UInt32Array::from(indices);
    let result = take(values.as_ref(), &indices, None)?;
    finish(result, a.all_scalar)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacement_translation() {
        assert_eq!(translate_replacement("$1x"), "${1}x");
        assert_eq!(translate_replacement("\\$"), "$$");
        assert_eq!(translate_replacement("${name}"), "${name}");
        assert_eq!(translate_replacement("a$"), "a$$");
    }

    #[test]
    fn split_to_map_entries() {
        assert_eq!(
            split_entries("a=1&b=2&", "&", "="),
            Ok(vec![("a", "1"), ("b", "2")])
        );
        assert_eq!(split_entries("", "&", "="), Ok(vec![]));
        assert!(split_entries("a=1&a=2", "&", "=").is_err());
        assert!(split_entries("a", "&", "=").is_err());
        assert!(split_entries("a=1=2", "&", "=").is_err());
    }

    #[test]
    fn fallible_names() {
        assert!(is_fallible("from_iso8601_timestamp"));
        assert!(!is_fallible("contains"));
        assert!(!is_fallible("sum"));
        // Both families answer, through the one shared lookup.
        assert!(is_fallible("from_hex"));
        assert!(!is_fallible("to_hex"));
    }

    /// Every function of both families is registered under its Trino name, and exactly the
    /// fallible ones have a lenient twin for `try(...)`.
    #[test]
    fn both_families_register_strict_functions_and_lenient_twins() {
        let ctx = datafusion::prelude::SessionContext::new();
        super::super::register_trino_functions(&ctx).unwrap();
        fn check<F: Family>(ctx: &datafusion::prelude::SessionContext) {
            use datafusion::execution::FunctionRegistry;
            for member in F::ALL {
                let name = member.name();
                let strict = ctx.udf(name).unwrap();
                assert_eq!(strict.name(), name);
                let twin = ctx.udf(&format!("{TRY_PREFIX}{name}"));
                assert_eq!(twin.is_ok(), member.fallible(), "{name}");
                assert_eq!(is_fallible(name), member.fallible(), "{name}");
            }
        }
        check::<Kind>(&ctx);
        check::<More>(&ctx);
    }
}
