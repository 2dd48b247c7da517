//! More Trino functions as DataFusion UDFs: varbinary and hashes (`to_utf8`, `from_utf8`,
//! `to_hex`, `from_hex`, `md5`, `sha1`, `sha256`, `sha512`), strings (`split` with a limit,
//! `strpos` with an instance, `hamming_distance`, `format`), numbers (`sign`), collections
//! (`sequence`, `slice`, `map_from_entries`), JSON (`json_array_get`, `json_array_contains`,
//! `json_query`, `json_value`), `typeof`, `reverse` (strings, arrays, varbinary) and the zone
//! fields `timezone_hour`/`timezone_minute`.
//!
//! As in [`super::functions`], every function that can fail on data has a lenient twin
//! (`__try_<name>`) used inside `try(...)`: see [`Family`].

use std::sync::Arc;

use chrono::{Months, NaiveDate, TimeDelta};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryBuilder, Date32Array, Decimal128Array, Float64Array,
    Int64Array, Int64Builder, ListArray, ListBuilder, MapArray, PrimitiveArray, StringBuilder,
    StructArray, UInt32Array,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::compute::{cast, take};
use datafusion::arrow::datatypes::{
    DataType, Field, IntervalMonthDayNanoType, TimeUnit, TimestampMillisecondType,
};
use datafusion::common::ScalarValue;
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
};
use md5::Digest as _;

use super::args::{
    arrays, fail, finish, int64_array, is_integer, is_string, lenient_or, optional_int64,
    string_array, type_error, Family, Twin,
};
use super::json;
use super::map_aggregate::map_type;
use super::messages;
use super::pattern::Zone;

/// Which function a [`Twin<More>`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum More {
    ToUtf8,
    FromUtf8,
    ToHex,
    FromHex,
    Md5,
    Sha1,
    Sha256,
    Sha512,
    Split,
    Strpos,
    HammingDistance,
    Format,
    Sign,
    Sequence,
    Slice,
    MapFromEntries,
    JsonArrayGet,
    JsonArrayContains,
    JsonQuery,
    JsonValue,
    Typeof,
    TimezoneHour,
    TimezoneMinute,
    Reverse,
}

impl Family for More {
    const ALL: &'static [More] = &[
        More::ToUtf8,
        More::FromUtf8,
        More::ToHex,
        More::FromHex,
        More::Md5,
        More::Sha1,
        More::Sha256,
        More::Sha512,
        More::Split,
        More::Strpos,
        More::HammingDistance,
        More::Format,
        More::Sign,
        More::Sequence,
        More::Slice,
        More::MapFromEntries,
        More::JsonArrayGet,
        More::JsonArrayContains,
        More::JsonQuery,
        More::JsonValue,
        More::Typeof,
        More::TimezoneHour,
        More::TimezoneMinute,
        More::Reverse,
    ];

    fn name(self) -> &'static str {
        match self {
            More::ToUtf8 => "to_utf8",
            More::FromUtf8 => "from_utf8",
            More::ToHex => "to_hex",
            More::FromHex => "from_hex",
            More::Md5 => "md5",
            More::Sha1 => "sha1",
            More::Sha256 => "sha256",
            More::Sha512 => "sha512",
            More::Split => "split",
            More::Strpos => "strpos",
            More::HammingDistance => "hamming_distance",
            More::Format => "format",
            More::Sign => "sign",
            More::Sequence => "sequence",
            More::Slice => "slice",
            More::MapFromEntries => "map_from_entries",
            More::JsonArrayGet => "json_array_get",
            More::JsonArrayContains => "json_array_contains",
            More::JsonQuery => "json_query",
            More::JsonValue => "json_value",
            More::Typeof => "typeof",
            More::TimezoneHour => "timezone_hour",
            More::TimezoneMinute => "timezone_minute",
            More::Reverse => "reverse",
        }
    }

    fn fallible(self) -> bool {
        matches!(
            self,
            More::FromHex
                | More::Split
                | More::Strpos
                | More::HammingDistance
                | More::Format
                | More::Sequence
                | More::Slice
                | More::MapFromEntries
                | More::JsonQuery
                | More::JsonValue
        )
    }

    fn udf(self, lenient: bool) -> ScalarUDF {
        ScalarUDF::new_from_impl(Twin::new(self, lenient))
    }
}

fn is_binary(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Binary
            | DataType::LargeBinary
            | DataType::BinaryView
            | DataType::FixedSizeBinary(_)
            | DataType::Null
    )
}

fn is_interval(t: &DataType) -> bool {
    matches!(t, DataType::Interval(_) | DataType::Duration(_))
}

fn list_item(t: &DataType) -> Option<&Arc<Field>> {
    match t {
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => Some(f),
        _ => None,
    }
}

impl ScalarUDFImpl for Twin<More> {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, t: &[DataType]) -> DfResult<Vec<DataType>> {
        let name = self.kind.name();
        let utf8 = DataType::Utf8;
        let bin = DataType::Binary;
        let bad = |expected: &str| Err(type_error(name, expected, t));
        match self.kind {
            More::ToUtf8 | More::FromHex => match t {
                [a] if is_string(a) => Ok(vec![utf8]),
                _ => bad("varchar"),
            },
            More::FromUtf8 => match t {
                [a] if is_binary(a) => Ok(vec![bin]),
                [a, r] if is_binary(a) && is_string(r) => Ok(vec![bin, utf8]),
                [a, r] if is_binary(a) && is_integer(r) => Ok(vec![bin, DataType::Int64]),
                _ => bad("varbinary[, varchar replace]"),
            },
            More::ToHex | More::Md5 | More::Sha1 | More::Sha256 | More::Sha512 => match t {
                [a] if is_binary(a) => Ok(vec![bin]),
                [a] if is_string(a) => Err(fail(format!(
                    "{}; convert text with to_utf8: {name}(to_utf8(x))",
                    messages::unexpected_parameters(name, t, "varbinary")
                ))),
                _ => bad("varbinary"),
            },
            More::Split => match t {
                [s, d] if is_string(s) && is_string(d) => Ok(vec![utf8.clone(), utf8]),
                [s, d, l] if is_string(s) && is_string(d) && is_integer(l) => {
                    Ok(vec![utf8.clone(), utf8, DataType::Int64])
                }
                _ => bad("varchar, varchar delimiter[, bigint limit]"),
            },
            More::Strpos => match t {
                [s, d] if is_string(s) && is_string(d) => Ok(vec![utf8.clone(), utf8]),
                [s, d, n] if is_string(s) && is_string(d) && is_integer(n) => {
                    Ok(vec![utf8.clone(), utf8, DataType::Int64])
                }
                _ => bad("varchar, varchar substring[, bigint instance]"),
            },
            More::HammingDistance => match t {
                [a, b] if is_string(a) && is_string(b) => Ok(vec![utf8.clone(), utf8]),
                _ => bad("varchar, varchar"),
            },
            More::Format => match t {
                [f, rest @ ..] if is_string(f) => {
                    let mut out = vec![utf8];
                    out.extend(rest.iter().map(|x| match x {
                        DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
                        other => other.clone(),
                    }));
                    Ok(out)
                }
                _ => bad("varchar format, any..."),
            },
            More::Sign => match t {
                [a] if is_integer(a) => Ok(vec![DataType::Int64]),
                [DataType::Float32 | DataType::Float64] => Ok(vec![DataType::Float64]),
                [d @ DataType::Decimal128(..)] => Ok(vec![d.clone()]),
                [DataType::Decimal32(p, s) | DataType::Decimal64(p, s)] => {
                    Ok(vec![DataType::Decimal128(*p, *s)])
                }
                _ => bad("a number"),
            },
            More::Sequence => match t {
                [a, b] if is_integer(a) && is_integer(b) => {
                    Ok(vec![DataType::Int64, DataType::Int64])
                }
                [a, b, c] if is_integer(a) && is_integer(b) && is_integer(c) => {
                    Ok(vec![DataType::Int64, DataType::Int64, DataType::Int64])
                }
                [DataType::Date32, DataType::Date32] => Ok(t.to_vec()),
                [DataType::Date32, DataType::Date32, s] if is_interval(s) => Ok(t.to_vec()),
                [a @ DataType::Timestamp(..), DataType::Timestamp(..), s] if is_interval(s) => {
                    Ok(vec![a.clone(), a.clone(), s.clone()])
                }
                _ => bad("bigint, bigint[, bigint] or date, date[, interval] or timestamp, timestamp, interval"),
            },
            More::Slice => match t {
                [a, s, l] if list_item(a).is_some() && is_integer(s) && is_integer(l) => {
                    let item = list_item(a).cloned().ok_or_else(|| type_error(name, "array(E), bigint, bigint", t))?;
                    Ok(vec![DataType::List(item), DataType::Int64, DataType::Int64])
                }
                _ => bad("array(E), bigint start, bigint length"),
            },
            More::MapFromEntries => match t {
                [a] => match list_item(a).map(|f| f.data_type()) {
                    Some(DataType::Struct(fields)) if fields.len() == 2 => {
                        let item = list_item(a).cloned().ok_or_else(|| type_error(name, "array(row(K, V))", t))?;
                        Ok(vec![DataType::List(item)])
                    }
                    _ => bad("array(row(K, V))"),
                },
                _ => bad("array(row(K, V))"),
            },
            More::JsonArrayGet => match t {
                [a, i] if is_string(a) && is_integer(i) => Ok(vec![utf8, DataType::Int64]),
                _ => bad("json, bigint"),
            },
            More::JsonArrayContains => match t {
                [a, v] if is_string(a) => {
                    let v = match v {
                        DataType::Boolean => DataType::Boolean,
                        v if is_integer(v) && !matches!(v, DataType::Null) => DataType::Int64,
                        v if v.is_numeric() => DataType::Float64,
                        DataType::Null => DataType::Utf8,
                        v if is_string(v) => DataType::Utf8,
                        _ => return bad("json, boolean or bigint or double or varchar"),
                    };
                    Ok(vec![utf8, v])
                }
                _ => bad("json, boolean or bigint or double or varchar"),
            },
            More::JsonQuery | More::JsonValue => match t {
                [a, p] if is_string(a) && is_string(p) => Ok(vec![utf8.clone(), utf8]),
                _ => bad("json, varchar path"),
            },
            More::Typeof => match t {
                [_] => Ok(t.to_vec()),
                _ => bad("T"),
            },
            More::TimezoneHour | More::TimezoneMinute => match t {
                [a @ DataType::Timestamp(..)] => Ok(vec![a.clone()]),
                _ => bad("timestamp with time zone"),
            },
            More::Reverse => match t {
                [a] if is_string(a) => Ok(vec![utf8]),
                [a] if list_item(a).is_some() => {
                    let item = list_item(a)
                        .cloned()
                        .ok_or_else(|| type_error(name, "array(E)", t))?;
                    Ok(vec![DataType::List(item)])
                }
                [a] if is_binary(a) => Ok(vec![bin]),
                _ => bad("varchar or array(E) or varbinary"),
            },
        }
    }

    fn return_type(&self, t: &[DataType]) -> DfResult<DataType> {
        Ok(match self.kind {
            More::ToUtf8 | More::FromHex | More::Md5 | More::Sha1 | More::Sha256 | More::Sha512 => {
                DataType::Binary
            }
            More::FromUtf8
            | More::ToHex
            | More::Format
            | More::JsonArrayGet
            | More::JsonQuery
            | More::JsonValue
            | More::Typeof => DataType::Utf8,
            More::Split => DataType::new_list(DataType::Utf8, true),
            More::Strpos | More::HammingDistance | More::TimezoneHour | More::TimezoneMinute => {
                DataType::Int64
            }
            More::JsonArrayContains => DataType::Boolean,
            More::Sign => match t.first() {
                Some(DataType::Float64) => DataType::Float64,
                Some(d @ DataType::Decimal128(..)) => d.clone(),
                _ => DataType::Int64,
            },
            More::Sequence => match t.first() {
                Some(DataType::Date32) => DataType::new_list(DataType::Date32, true),
                Some(ts @ DataType::Timestamp(..)) => DataType::new_list(ts.clone(), true),
                _ => DataType::new_list(DataType::Int64, true),
            },
            More::Slice => t.first().cloned().unwrap_or(DataType::Null),
            More::Reverse => match t.first() {
                Some(DataType::Null) | None => DataType::Utf8,
                Some(other) => other.clone(),
            },
            More::MapFromEntries => match t.first().and_then(list_item).map(|f| f.data_type()) {
                Some(DataType::Struct(fields)) if fields.len() == 2 => {
                    map_type(fields[0].data_type(), fields[1].data_type())
                }
                _ => return Err(type_error("map_from_entries", "array(row(K, V))", t)),
            },
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let lenient = self.lenient;
        match self.kind {
            More::ToUtf8 => to_utf8(&args),
            More::FromUtf8 => from_utf8(&args),
            More::ToHex => to_hex(&args),
            More::FromHex => from_hex(&args, lenient),
            More::Md5 => digest(&args, |b| md5::Md5::digest(b).to_vec()),
            More::Sha1 => digest(&args, |b| sha1::Sha1::digest(b).to_vec()),
            More::Sha256 => digest(&args, |b| sha2::Sha256::digest(b).to_vec()),
            More::Sha512 => digest(&args, |b| sha2::Sha512::digest(b).to_vec()),
            More::Split => split(&args, lenient),
            More::Strpos => strpos(&args, lenient),
            More::HammingDistance => hamming_distance(&args, lenient),
            More::Format => format(&args, lenient),
            More::Sign => sign(&args),
            More::Sequence => sequence(&args, lenient),
            More::Slice => slice(&args, lenient),
            More::MapFromEntries => map_from_entries(&args, lenient),
            More::JsonArrayGet => json::json_array_get(&args),
            More::JsonArrayContains => json::json_array_contains(&args),
            More::JsonQuery => json::json_query(&args, lenient, false),
            More::JsonValue => json::json_query(&args, lenient, true),
            More::Typeof => {
                let t = args
                    .arg_fields
                    .first()
                    .map(|f| messages::trino_type(f.data_type()))
                    .unwrap_or_else(|| "unknown".into());
                Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(t))))
            }
            More::TimezoneHour => timezone_field(&args, true),
            More::TimezoneMinute => timezone_field(&args, false),
            More::Reverse => reverse(args),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// varbinary.

fn binary_values(array: &ArrayRef) -> DfResult<ArrayRef> {
    Ok(cast(array, &DataType::Binary)?)
}

fn to_utf8(args: &ScalarFunctionArgs) -> DfResult<ColumnarValue> {
    let a = arrays(&args.args, args.number_rows)?;
    let s = string_array(&a.arrays[0])?;
    let mut out = BinaryBuilder::new();
    for v in s.iter() {
        out.append_option(v.map(str::as_bytes));
    }
    finish(Arc::new(out.finish()), a.all_scalar)
}

/// Trino `from_utf8(binary[, replace])`: invalid UTF-8 sequences become U+FFFD (or `replace`).
fn from_utf8(args: &ScalarFunctionArgs) -> DfResult<ColumnarValue> {
    let a = arrays(&args.args, args.number_rows)?;
    let values = binary_values(&a.arrays[0])?;
    let b = values.as_binary::<i32>();
    let replacement: Option<ArrayRef> = a.arrays.get(1).cloned();
    let mut out = StringBuilder::new();
    for i in 0..a.len {
        if b.is_null(i) || replacement.as_ref().is_some_and(|r| r.is_null(i)) {
            out.append_null();
            continue;
        }
        let text = String::from_utf8_lossy(b.value(i));
        let replace_with: String = match &replacement {
            None => '\u{FFFD}'.to_string(),
            Some(r) => match r.data_type() {
                DataType::Int64 => char::from_u32(int64_array(r)?.value(i) as u32)
                    .map(String::from)
                    .ok_or_else(|| fail("from_utf8: invalid replacement code point".into()))?,
                _ => string_array(r)?.value(i).to_string(),
            },
        };
        out.append_value(text.replace('\u{FFFD}', &replace_with));
    }
    finish(Arc::new(out.finish()), a.all_scalar)
}

/// Trino `to_hex(varbinary)`: upper-case hex digits.
fn to_hex(args: &ScalarFunctionArgs) -> DfResult<ColumnarValue> {
    let a = arrays(&args.args, args.number_rows)?;
    let values = binary_values(&a.arrays[0])?;
    let b = values.as_binary::<i32>();
    let mut out = StringBuilder::new();
    let mut buf = String::new();
    for v in b.iter() {
        match v {
            None => out.append_null(),
            Some(bytes) => {
                buf.clear();
                for byte in bytes {
                    buf.push_str(&format!("{byte:02X}"));
                }
                out.append_value(&buf);
            }
        }
    }
    finish(Arc::new(out.finish()), a.all_scalar)
}

fn decode_hex(text: &str) -> Result<Vec<u8>, String> {
    if !text.len().is_multiple_of(2) {
        return Err(format!("from_hex: invalid input length {}", text.len()));
    }
    let digit = |c: u8| -> Result<u8, String> {
        (c as char)
            .to_digit(16)
            .map(|d| d as u8)
            .ok_or_else(|| format!("from_hex: invalid hex character: {}", c as char))
    };
    text.as_bytes()
        .chunks(2)
        .map(|pair| Ok(digit(pair[0])? * 16 + digit(pair[1])?))
        .collect()
}

fn from_hex(args: &ScalarFunctionArgs, lenient: bool) -> DfResult<ColumnarValue> {
    let a = arrays(&args.args, args.number_rows)?;
    let s = string_array(&a.arrays[0])?;
    let mut out = BinaryBuilder::new();
    for v in s.iter() {
        match v {
            None => out.append_null(),
            Some(text) => match lenient_or(decode_hex(text).map(Some), lenient)? {
                Some(bytes) => out.append_value(bytes),
                None => out.append_null(),
            },
        }
    }
    finish(Arc::new(out.finish()), a.all_scalar)
}

fn digest(args: &ScalarFunctionArgs, hash: fn(&[u8]) -> Vec<u8>) -> DfResult<ColumnarValue> {
    let a = arrays(&args.args, args.number_rows)?;
    let values = binary_values(&a.arrays[0])?;
    let b = values.as_binary::<i32>();
    let mut out = BinaryBuilder::new();
    for v in b.iter() {
        out.append_option(v.map(hash));
    }
    finish(Arc::new(out.finish()), a.all_scalar)
}

// ---------------------------------------------------------------------------------------------
// Strings.

/// Trino `split(string, delimiter[, limit])`: the last piece holds the rest of the text.
fn split(args: &ScalarFunctionArgs, lenient: bool) -> DfResult<ColumnarValue> {
    let a = arrays(&args.args, args.number_rows)?;
    let s = string_array(&a.arrays[0])?;
    let d = string_array(&a.arrays[1])?;
    let limit = optional_int64(&a.arrays, 2)?;
    let mut out = ListBuilder::new(StringBuilder::new());
    for i in 0..a.len {
        if s.is_null(i) || d.is_null(i) || limit.is_some_and(|l| l.is_null(i)) {
            out.append_null();
            continue;
        }
        let (text, delim) = (s.value(i), d.value(i));
        let n = limit.map(|l| l.value(i));
        let r = if delim.is_empty() {
            Err("split: the delimiter may not be the empty string".to_string())
        } else if n.is_some_and(|n| n <= 0) {
            Err("split: limit must be positive".to_string())
        } else if n.is_some_and(|n| n > i32::MAX as i64) {
            Err("split: limit is too large".to_string())
        } else {
            Ok(Some(match n {
                Some(n) => text.splitn(n as usize, delim).collect::<Vec<_>>(),
                None => text.split(delim).collect::<Vec<_>>(),
            }))
        };
        match lenient_or(r, lenient)? {
            Some(pieces) => {
                for p in pieces {
                    out.values().append_value(p);
                }
                out.append(true);
            }
            None => out.append_null(),
        }
    }
    finish(Arc::new(out.finish()), a.all_scalar)
}

/// The character position (1-based) of the `instance`-th occurrence of `needle` in `text`
/// (negative: counted from the end; occurrences may overlap), 0 when there is none.
fn position_of(text: &str, needle: &str, instance: i64) -> Result<i64, String> {
    if instance == 0 {
        return Err("strpos: 'instance' must be a positive or negative number".into());
    }
    if needle.is_empty() {
        return Ok(1);
    }
    let starts: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .filter(|&i| text[i..].starts_with(needle))
        .collect();
    let wanted = if instance > 0 {
        starts.get((instance - 1) as usize)
    } else {
        let back = (-instance - 1) as usize;
        starts
            .len()
            .checked_sub(back + 1)
            .and_then(|k| starts.get(k))
    };
    Ok(wanted.map_or(0, |&byte| text[..byte].chars().count() as i64 + 1))
}

fn strpos(args: &ScalarFunctionArgs, lenient: bool) -> DfResult<ColumnarValue> {
    let a = arrays(&args.args, args.number_rows)?;
    let s = string_array(&a.arrays[0])?;
    let sub = string_array(&a.arrays[1])?;
    let instance = optional_int64(&a.arrays, 2)?;
    let mut out = Int64Builder::with_capacity(a.len);
    for i in 0..a.len {
        if s.is_null(i) || sub.is_null(i) || instance.is_some_and(|n| n.is_null(i)) {
            out.append_null();
            continue;
        }
        let n = instance.map_or(1, |n| n.value(i));
        out.append_option(lenient_or(
            position_of(s.value(i), sub.value(i), n).map(Some),
            lenient,
        )?);
    }
    finish(Arc::new(out.finish()), a.all_scalar)
}

fn hamming_distance(args: &ScalarFunctionArgs, lenient: bool) -> DfResult<ColumnarValue> {
    let a = arrays(&args.args, args.number_rows)?;
    let x = string_array(&a.arrays[0])?;
    let y = string_array(&a.arrays[1])?;
    let mut out = Int64Builder::with_capacity(a.len);
    for i in 0..a.len {
        if x.is_null(i) || y.is_null(i) {
            out.append_null();
            continue;
        }
        let (l, r): (Vec<char>, Vec<char>) =
            (x.value(i).chars().collect(), y.value(i).chars().collect());
        let d = if l.len() != r.len() {
            Err("hamming_distance: the input strings must have the same length".to_string())
        } else {
            Ok(Some(l.iter().zip(&r).filter(|(p, q)| p != q).count() as i64))
        };
        out.append_option(lenient_or(d, lenient)?);
    }
    finish(Arc::new(out.finish()), a.all_scalar)
}

/// One `%[flags][width][.precision]conversion` of a Java format string.
struct Spec {
    flags: String,
    width: Option<usize>,
    precision: Option<usize>,
    conversion: char,
}

fn pad(text: String, spec: &Spec) -> String {
    let width = spec.width.unwrap_or(0);
    let len = text.chars().count();
    if len >= width {
        return text;
    }
    let fill = width - len;
    if spec.flags.contains('-') {
        format!("{text}{}", " ".repeat(fill))
    } else if spec.flags.contains('0') && spec.conversion != 's' {
        let (sign, digits) = match text.strip_prefix('-') {
            Some(rest) => ("-", rest.to_string()),
            None => ("", text),
        };
        format!("{sign}{}{digits}", "0".repeat(fill))
    } else {
        format!("{}{text}", " ".repeat(fill))
    }
}

fn group_thousands(digits: &str) -> String {
    let (sign, digits) = match digits.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("", digits),
    };
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    let mut out = String::new();
    for (k, c) in int.chars().enumerate() {
        if k > 0 && (int.len() - k) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{out}.{f}"),
        None => format!("{sign}{out}"),
    }
}

/// Java's `%s` text of a value.
fn java_text(v: &ScalarValue) -> String {
    match v {
        ScalarValue::Float64(Some(f)) => java_double(*f),
        ScalarValue::Float32(Some(f)) => java_double(*f as f64),
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => s.clone(),
        other if other.is_null() => "null".into(),
        other => other.to_string(),
    }
}

/// Java's `Double.toString`: `1.0`, `0.5`, `1.0E10`.
fn java_double(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let a = f.abs();
    if a == 0.0 || (1e-3..1e7).contains(&a) {
        let s = format!("{f}");
        if s.contains('.') {
            s
        } else {
            format!("{s}.0")
        }
    } else {
        let s = format!("{f:E}");
        match s.split_once('E') {
            Some((m, e)) if !m.contains('.') => format!("{m}.0E{e}"),
            _ => s,
        }
    }
}

fn format_one(spec: &Spec, v: &ScalarValue) -> Result<String, String> {
    let kind = |v: &ScalarValue| messages::trino_type(&v.data_type());
    let body = match spec.conversion {
        's' | 'S' => {
            let t = java_text(v);
            let t = match spec.precision {
                Some(p) => t.chars().take(p).collect(),
                None => t,
            };
            if spec.conversion == 'S' {
                t.to_uppercase()
            } else {
                t
            }
        }
        'b' | 'B' => match v {
            ScalarValue::Boolean(Some(b)) => b.to_string(),
            other => (!other.is_null()).to_string(),
        },
        _ if v.is_null() => "null".into(),
        'd' | 'x' | 'X' | 'o' => {
            let n = match v {
                ScalarValue::Int8(Some(n)) => *n as i64,
                ScalarValue::Int16(Some(n)) => *n as i64,
                ScalarValue::Int32(Some(n)) => *n as i64,
                ScalarValue::Int64(Some(n)) => *n,
                ScalarValue::UInt8(Some(n)) => *n as i64,
                ScalarValue::UInt16(Some(n)) => *n as i64,
                ScalarValue::UInt32(Some(n)) => *n as i64,
                ScalarValue::Decimal128(Some(n), _, 0) => *n as i64,
                other => {
                    return Err(format!(
                        "%{} needs an integer argument, got {}",
                        spec.conversion,
                        kind(other)
                    ))
                }
            };
            let t = match spec.conversion {
                'd' => {
                    let t = n.to_string();
                    let t = if spec.flags.contains(',') {
                        group_thousands(&t)
                    } else {
                        t
                    };
                    if spec.flags.contains('+') && n >= 0 {
                        format!("+{t}")
                    } else {
                        t
                    }
                }
                'x' => format!("{n:x}"),
                'X' => format!("{n:X}"),
                _ => format!("{n:o}"),
            };
            t
        }
        'f' | 'e' | 'E' => {
            let f = match v {
                ScalarValue::Float64(Some(f)) => *f,
                ScalarValue::Float32(Some(f)) => *f as f64,
                ScalarValue::Decimal128(Some(n), _, s) => *n as f64 / 10f64.powi(*s as i32),
                other => {
                    return Err(format!(
                        "%{} needs a double or decimal argument, got {}",
                        spec.conversion,
                        kind(other)
                    ))
                }
            };
            let p = spec.precision.unwrap_or(6);
            let t = match spec.conversion {
                'f' => format!("{f:.p$}"),
                c => {
                    let s = format!("{f:.p$e}");
                    let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
                    let e: i32 = e.parse().unwrap_or(0);
                    let sign = if e < 0 { '-' } else { '+' };
                    let t = format!("{m}e{sign}{:02}", e.abs());
                    if c == 'E' {
                        t.to_uppercase()
                    } else {
                        t
                    }
                }
            };
            let t = if spec.flags.contains(',') && spec.conversion == 'f' {
                group_thousands(&t)
            } else {
                t
            };
            if spec.flags.contains('+') && f >= 0.0 {
                format!("+{t}")
            } else {
                t
            }
        }
        other => return Err(format!("conversion '%{other}' is not supported")),
    };
    Ok(pad(body, spec))
}

/// Java's `String.format` as Trino's `format` uses it: `%s`, `%d`, `%x`, `%f`, `%.2f`, `%e`,
/// `%b`, `%n`, `%%`, with flags `-`, `0`, `+`, `,`, a width and a precision; `%1$s` indexes.
fn java_format(fmt: &str, values: &[ScalarValue]) -> Result<String, String> {
    let chars: Vec<char> = fmt.chars().collect();
    let mut out = String::new();
    let mut next = 0usize;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c != '%' {
            out.push(c);
            continue;
        }
        let start = i;
        let mut index: Option<usize> = None;
        let mut j = i;
        while j < chars.len() && chars[j].is_ascii_digit() {
            j += 1;
        }
        if j < chars.len() && chars[j] == '$' && j > i {
            index = chars[i..j].iter().collect::<String>().parse().ok();
            i = j + 1;
        }
        let mut flags = String::new();
        while i < chars.len() && "-0+, #".contains(chars[i]) {
            flags.push(chars[i]);
            i += 1;
        }
        let mut width = String::new();
        while i < chars.len() && chars[i].is_ascii_digit() {
            width.push(chars[i]);
            i += 1;
        }
        let mut precision = None;
        if i < chars.len() && chars[i] == '.' {
            i += 1;
            let mut p = String::new();
            while i < chars.len() && chars[i].is_ascii_digit() {
                p.push(chars[i]);
                i += 1;
            }
            precision = Some(p.parse::<usize>().map_err(|_| {
                format!(
                    "invalid format string '{fmt}' at '%{}'",
                    chars[start..i].iter().collect::<String>()
                )
            })?);
        }
        let Some(&conversion) = chars.get(i) else {
            return Err(format!("invalid format string '{fmt}': it ends in '%'"));
        };
        i += 1;
        match conversion {
            '%' => {
                out.push('%');
                continue;
            }
            'n' => {
                out.push('\n');
                continue;
            }
            _ => {}
        }
        let spec = Spec {
            flags,
            width: width.parse().ok(),
            precision,
            conversion,
        };
        let k = match index {
            Some(k) if k >= 1 => k - 1,
            Some(_) => return Err(format!("invalid format string '{fmt}': argument index 0")),
            None => {
                next += 1;
                next - 1
            }
        };
        let v = values.get(k).ok_or_else(|| {
            format!(
                "format string '{fmt}' needs more arguments than the {} given",
                values.len()
            )
        })?;
        out.push_str(
            &format_one(&spec, v).map_err(|e| format!("invalid format string '{fmt}': {e}"))?,
        );
    }
    Ok(out)
}

fn format(args: &ScalarFunctionArgs, lenient: bool) -> DfResult<ColumnarValue> {
    let a = arrays(&args.args, args.number_rows)?;
    let f = string_array(&a.arrays[0])?;
    let mut out = StringBuilder::new();
    for i in 0..a.len {
        if f.is_null(i) {
            out.append_null();
            continue;
        }
        let values = a.arrays[1..]
            .iter()
            .map(|arr| ScalarValue::try_from_array(arr, i))
            .collect::<DfResult<Vec<_>>>()?;
        let text = java_format(f.value(i), &values).map_err(|e| format!("format: {e}"));
        match lenient_or(text.map(Some), lenient)? {
            Some(t) => out.append_value(t),
            None => out.append_null(),
        }
    }
    finish(Arc::new(out.finish()), a.all_scalar)
}

/// Trino `reverse`: of a string (by code point), of an array, of a varbinary.
fn reverse(args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
    let first = args.arg_fields.first().map(|f| f.data_type().clone());
    if first.as_ref().and_then(list_item).is_some() {
        return datafusion::functions_nested::reverse::array_reverse_udf().invoke_with_args(args);
    }
    let a = arrays(&args.args, args.number_rows)?;
    if matches!(a.arrays[0].data_type(), DataType::Binary) {
        let b = a.arrays[0].as_binary::<i32>();
        let mut out = BinaryBuilder::new();
        for v in b.iter() {
            out.append_option(v.map(|bytes| bytes.iter().rev().copied().collect::<Vec<u8>>()));
        }
        return finish(Arc::new(out.finish()), a.all_scalar);
    }
    let s = string_array(&a.arrays[0])?;
    let mut out = StringBuilder::new();
    for v in s.iter() {
        out.append_option(v.map(|text| text.chars().rev().collect::<String>()));
    }
    finish(Arc::new(out.finish()), a.all_scalar)
}

// ---------------------------------------------------------------------------------------------
// Numbers.

/// Trino `sign(x)`: -1, 0 or 1 in the argument's type (NaN stays NaN for doubles).
fn sign(args: &ScalarFunctionArgs) -> DfResult<ColumnarValue> {
    let a = arrays(&args.args, args.number_rows)?;
    let x = &a.arrays[0];
    let out: ArrayRef = match x.data_type() {
        DataType::Float64 => {
            let v: &Float64Array = x.as_primitive();
            Arc::new(
                v.unary::<_, datafusion::arrow::datatypes::Float64Type>(|f| {
                    if f.is_nan() || f == 0.0 {
                        f
                    } else {
                        f.signum()
                    }
                }),
            )
        }
        DataType::Decimal128(p, s) => {
            let v: &Decimal128Array = x.as_primitive();
            let one = 10i128.pow(*s as u32);
            let r: Decimal128Array = v.unary(|n| n.signum() * one);
            Arc::new(r.with_precision_and_scale(*p, *s)?)
        }
        _ => {
            let v = int64_array(x)?;
            Arc::new(v.unary::<_, datafusion::arrow::datatypes::Int64Type>(i64::signum))
        }
    };
    finish(out, a.all_scalar)
}

// ---------------------------------------------------------------------------------------------
// Collections.

const SEQUENCE_LIMIT: usize = 10_000;

fn sequence_error(start_le_stop: bool, positive: bool) -> Option<String> {
    (start_le_stop != positive).then(|| {
        "sequence stop value should be greater than or equal to start value if step is greater than zero otherwise stop should be less than or equal to start".to_string()
    })
}

fn check_length(n: usize) -> Result<(), String> {
    if n > SEQUENCE_LIMIT {
        return Err(format!(
            "result of sequence function must not have more than {SEQUENCE_LIMIT} entries"
        ));
    }
    Ok(())
}

fn integer_sequence(start: i64, stop: i64, step: i64) -> Result<Vec<i64>, String> {
    if step == 0 {
        return Err("step must not be zero".into());
    }
    if start != stop {
        if let Some(e) = sequence_error(start <= stop, step > 0) {
            return Err(e);
        }
    }
    let n = ((stop as i128 - start as i128) / step as i128 + 1) as usize;
    check_length(n)?;
    Ok((0..n as i64).map(|k| start + k * step).collect())
}

/// An interval step as (months, milliseconds).
fn interval_step(array: &ArrayRef, i: usize) -> Result<Option<(i32, i64)>, String> {
    if array.is_null(i) {
        return Ok(None);
    }
    match array.data_type() {
        DataType::Interval(_) => {
            let v = cast(
                array,
                &DataType::Interval(datafusion::arrow::datatypes::IntervalUnit::MonthDayNano),
            )
            .map_err(|e| e.to_string())?;
            let iv = v.as_primitive::<IntervalMonthDayNanoType>().value(i);
            Ok(Some((
                iv.months,
                iv.days as i64 * 86_400_000 + iv.nanoseconds / 1_000_000,
            )))
        }
        DataType::Duration(_) => {
            let v = cast(array, &DataType::Duration(TimeUnit::Millisecond))
                .map_err(|e| e.to_string())?;
            Ok(Some((
                0,
                v.as_primitive::<datafusion::arrow::datatypes::DurationMillisecondType>()
                    .value(i),
            )))
        }
        other => Err(format!(
            "sequence: step of type {} is not an interval",
            messages::trino_type(other)
        )),
    }
}

/// Millisecond instants (or days as dates) from `start` to `stop` by `(months, ms)`.
fn stepped<T>(
    start: T,
    stop: T,
    step: (i32, i64),
    add: impl Fn(T, i64) -> Option<T>,
    le: impl Fn(&T, &T) -> bool,
) -> Result<Vec<T>, String>
where
    T: Copy + PartialEq,
{
    let (months, ms) = step;
    if months != 0 && ms != 0 {
        return Err(
            "sequence: the step must be either a year-to-month or a day-to-second interval".into(),
        );
    }
    if months == 0 && ms == 0 {
        return Err("step must not be zero".into());
    }
    let positive = months > 0 || ms > 0;
    if start != stop {
        if let Some(e) = sequence_error(le(&start, &stop), positive) {
            return Err(e);
        }
    }
    let mut out = Vec::new();
    let mut k = 0i64;
    while let Some(v) = add(start, k) {
        let within = if positive {
            le(&v, &stop)
        } else {
            le(&stop, &v)
        };
        if !within {
            break;
        }
        out.push(v);
        check_length(out.len())?;
        k += 1;
    }
    Ok(out)
}

fn sequence(args: &ScalarFunctionArgs, lenient: bool) -> DfResult<ColumnarValue> {
    let a = arrays(&args.args, args.number_rows)?;
    let first = a.arrays[0].data_type().clone();
    match &first {
        DataType::Date32 => {
            let s: &Date32Array = a.arrays[0].as_primitive();
            let e: &Date32Array = a.arrays[1].as_primitive();
            let mut out = ListBuilder::new(datafusion::arrow::array::Date32Builder::new());
            let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
            for i in 0..a.len {
                let step = match a.arrays.get(2) {
                    Some(st) => interval_step(st, i).map_err(fail)?,
                    None if !s.is_null(i) && !e.is_null(i) => Some((
                        0,
                        if s.value(i) <= e.value(i) {
                            86_400_000
                        } else {
                            -86_400_000
                        },
                    )),
                    None => None,
                };
                let (Some(step), false, false) = (step, s.is_null(i), e.is_null(i)) else {
                    out.append_null();
                    continue;
                };
                let r = if step.0 == 0 && step.1 % 86_400_000 != 0 {
                    Err(
                        "sequence step must be a day interval if start and end values are dates"
                            .to_string(),
                    )
                } else {
                    let start = s.value(i);
                    stepped(
                        start,
                        e.value(i),
                        step,
                        |d, k| {
                            if step.0 != 0 {
                                let date = epoch + TimeDelta::days(d as i64);
                                let months = step.0 as i64 * k;
                                let moved = if months >= 0 {
                                    date.checked_add_months(Months::new(months as u32))
                                } else {
                                    date.checked_sub_months(Months::new((-months) as u32))
                                }?;
                                i32::try_from((moved - epoch).num_days()).ok()
                            } else {
                                i32::try_from(d as i64 + k * (step.1 / 86_400_000)).ok()
                            }
                        },
                        |x, y| x <= y,
                    )
                    .map(Some)
                };
                match lenient_or(r, lenient)? {
                    Some(days) => {
                        for d in days {
                            out.values().append_value(d);
                        }
                        out.append(true);
                    }
                    None => out.append_null(),
                }
            }
            finish(Arc::new(out.finish()), a.all_scalar)
        }
        DataType::Timestamp(unit, tz) => {
            let as_ms = |x: &ArrayRef| cast(x, &DataType::Timestamp(TimeUnit::Millisecond, None));
            let s = as_ms(&a.arrays[0])?;
            let e = as_ms(&a.arrays[1])?;
            let s = s.as_primitive::<TimestampMillisecondType>();
            let e = e.as_primitive::<TimestampMillisecondType>();
            let mut values: Vec<Option<Vec<i64>>> = Vec::with_capacity(a.len);
            for i in 0..a.len {
                let step = interval_step(&a.arrays[2], i).map_err(fail)?;
                let (Some(step), false, false) = (step, s.is_null(i), e.is_null(i)) else {
                    values.push(None);
                    continue;
                };
                let start = s.value(i);
                let r = stepped(
                    start,
                    e.value(i),
                    step,
                    |t, k| {
                        if step.0 != 0 {
                            let dt = chrono::DateTime::from_timestamp_millis(t)?.naive_utc();
                            let months = step.0 as i64 * k;
                            let moved = if months >= 0 {
                                dt.checked_add_months(Months::new(months as u32))
                            } else {
                                dt.checked_sub_months(Months::new((-months) as u32))
                            }?;
                            Some(moved.and_utc().timestamp_millis())
                        } else {
                            t.checked_add(step.1.checked_mul(k)?)
                        }
                    },
                    |x, y| x <= y,
                );
                values.push(lenient_or(r.map(Some), lenient)?);
            }
            let mut offsets = vec![0i32];
            let mut flat: Vec<i64> = Vec::new();
            let mut valid = Vec::with_capacity(a.len);
            for v in &values {
                if let Some(v) = v {
                    flat.extend(v);
                }
                valid.push(v.is_some());
                offsets.push(flat.len() as i32);
            }
            let flat: ArrayRef = Arc::new(PrimitiveArray::<TimestampMillisecondType>::from(flat));
            let flat = cast(&flat, &DataType::Timestamp(*unit, tz.clone()))?;
            let item = Arc::new(Field::new_list_field(flat.data_type().clone(), true));
            let list = ListArray::try_new(
                item,
                OffsetBuffer::new(offsets.into()),
                flat,
                Some(valid.into()),
            )?;
            finish(Arc::new(list), a.all_scalar)
        }
        _ => {
            let s = int64_array(&a.arrays[0])?;
            let e = int64_array(&a.arrays[1])?;
            let st = optional_int64(&a.arrays, 2)?;
            let mut out = ListBuilder::new(Int64Builder::new());
            for i in 0..a.len {
                if s.is_null(i) || e.is_null(i) || st.is_some_and(|st| st.is_null(i)) {
                    out.append_null();
                    continue;
                }
                let (start, stop) = (s.value(i), e.value(i));
                let step = st.map_or(if start <= stop { 1 } else { -1 }, |st| st.value(i));
                match lenient_or(integer_sequence(start, stop, step).map(Some), lenient)? {
                    Some(v) => {
                        out.values().append_slice(&v);
                        out.append(true);
                    }
                    None => out.append_null(),
                }
            }
            finish(Arc::new(out.finish()), a.all_scalar)
        }
    }
}

/// The indexes (into the list's values) of Trino `slice(array, start, length)`.
fn slice_range(len: usize, start: i64, length: i64) -> Result<std::ops::Range<usize>, String> {
    if start == 0 {
        return Err("slice: SQL array indices start at 1".into());
    }
    if length < 0 {
        return Err(format!(
            "slice: length must be greater than or equal to 0, got {length}"
        ));
    }
    let len = len as i64;
    let from = if start > 0 { start - 1 } else { len + start };
    if from < 0 || from >= len {
        return Ok(0..0);
    }
    let to = (from + length).min(len);
    Ok(from as usize..to as usize)
}

fn slice(args: &ScalarFunctionArgs, lenient: bool) -> DfResult<ColumnarValue> {
    let a = arrays(&args.args, args.number_rows)?;
    let list = a.arrays[0].as_list::<i32>();
    let start = int64_array(&a.arrays[1])?;
    let length = int64_array(&a.arrays[2])?;
    let offsets = list.value_offsets();
    let mut indices: Vec<u32> = Vec::new();
    let mut new_offsets = vec![0i32];
    let mut valid = Vec::with_capacity(a.len);
    for i in 0..a.len {
        let null = list.is_null(i) || start.is_null(i) || length.is_null(i);
        let range = if null {
            None
        } else {
            let n = (offsets[i + 1] - offsets[i]) as usize;
            lenient_or(
                slice_range(n, start.value(i), length.value(i)).map(Some),
                lenient,
            )?
        };
        valid.push(range.is_some());
        if let Some(r) = range {
            let base = offsets[i] as usize;
            indices.extend(r.map(|k| (base + k) as u32));
        }
        new_offsets.push(indices.len() as i32);
    }
    let values = take(list.values().as_ref(), &UInt32Array::from(indices), None)?;
    let field = match list.data_type() {
        DataType::List(f) => f.clone(),
        _ => Arc::new(Field::new_list_field(values.data_type().clone(), true)),
    };
    let out = ListArray::try_new(
        field,
        OffsetBuffer::new(new_offsets.into()),
        values,
        Some(valid.into()),
    )?;
    finish(Arc::new(out), a.all_scalar)
}

/// Trino `map_from_entries(array(row(K, V)))`: NULL and duplicate keys are errors.
fn map_from_entries(args: &ScalarFunctionArgs, lenient: bool) -> DfResult<ColumnarValue> {
    let a = arrays(&args.args, args.number_rows)?;
    let list = a.arrays[0].as_list::<i32>();
    let entries: &StructArray = list
        .values()
        .as_struct_opt()
        .ok_or_else(|| fail("map_from_entries: expects array(row(K, V))".into()))?;
    let keys = entries.column(0);
    let values = entries.column(1);
    let offsets = list.value_offsets();
    let mut take_indices: Vec<u32> = Vec::new();
    let mut new_offsets = vec![0i32];
    let mut valid = Vec::with_capacity(a.len);
    for i in 0..a.len {
        if list.is_null(i) {
            valid.push(false);
            new_offsets.push(take_indices.len() as i32);
            continue;
        }
        let (from, to) = (offsets[i] as usize, offsets[i + 1] as usize);
        let mut seen: Vec<ScalarValue> = Vec::new();
        let mut problem = None;
        for j in from..to {
            if entries.is_null(j) {
                problem = Some("map_from_entries: map entry cannot be null".to_string());
                break;
            }
            if keys.is_null(j) {
                problem = Some("map_from_entries: map key cannot be null".to_string());
                break;
            }
            let key = ScalarValue::try_from_array(keys, j)?;
            if seen.contains(&key) {
                problem = Some(format!(
                    "map_from_entries: duplicate map keys ({}) are not allowed",
                    java_text(&key)
                ));
                break;
            }
            seen.push(key);
        }
        match problem {
            Some(p) => {
                lenient_or::<()>(Err(p), lenient)?;
                valid.push(false);
            }
            None => {
                take_indices.extend((from..to).map(|j| j as u32));
                valid.push(true);
            }
        }
        new_offsets.push(take_indices.len() as i32);
    }
    let idx = UInt32Array::from(take_indices);
    let keys = take(keys.as_ref(), &idx, None)?;
    let values = take(values.as_ref(), &idx, None)?;
    let DataType::Map(entries_field, _) = map_type(keys.data_type(), values.data_type()) else {
        return Err(fail("map_from_entries: internal type error".into()));
    };
    let DataType::Struct(fields) = entries_field.data_type().clone() else {
        return Err(fail("map_from_entries: internal type error".into()));
    };
    let struct_array = StructArray::try_new(fields, vec![keys, values], None)?;
    let map = MapArray::try_new(
        entries_field,
        OffsetBuffer::new(new_offsets.into()),
        struct_array,
        Some(valid.into()),
        false,
    )?;
    finish(Arc::new(map), a.all_scalar)
}

// ---------------------------------------------------------------------------------------------
// Time zone fields.

fn timezone_field(args: &ScalarFunctionArgs, hours: bool) -> DfResult<ColumnarValue> {
    let a = arrays(&args.args, args.number_rows)?;
    let x = &a.arrays[0];
    let DataType::Timestamp(_, tz) = x.data_type() else {
        return Err(fail(
            "timezone_hour: expects a timestamp with time zone".into(),
        ));
    };
    let zone = Zone::of_arrow(tz.as_deref())
        .map_err(fail)?
        .unwrap_or_else(Zone::utc);
    let ms = cast(x, &DataType::Timestamp(TimeUnit::Millisecond, None))?;
    let ms = ms.as_primitive::<TimestampMillisecondType>();
    let out: Int64Array = ms
        .iter()
        .map(|v| {
            let utc = chrono::DateTime::from_timestamp_millis(v?)?.naive_utc();
            let offset = zone.offset_at(&utc) as i64;
            // Java's division: the sign of the offset on both fields.
            Some(if hours {
                offset / 3600
            } else {
                (offset % 3600) / 60
            })
        })
        .collect();
    finish(Arc::new(out), a.all_scalar)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_formatting() {
        let v = |vals: Vec<ScalarValue>, f: &str| java_format(f, &vals);
        assert_eq!(
            v(
                vec![ScalarValue::from("a"), ScalarValue::Int64(Some(7))],
                "%s-%03d"
            ),
            Ok("a-007".into())
        );
        assert_eq!(
            v(vec![ScalarValue::Float64(Some(1.005))], "%.2f"),
            Ok("1.00".into())
        );
        assert_eq!(
            v(vec![ScalarValue::Float64(Some(2.0))], "%s"),
            Ok("2.0".into())
        );
        assert_eq!(
            v(vec![ScalarValue::Int64(Some(1234567))], "%,d"),
            Ok("1,234,567".into())
        );
        assert_eq!(v(vec![], "100%%"), Ok("100%".into()));
        assert!(v(vec![ScalarValue::from("x")], "%d").is_err());
        assert!(v(vec![], "%s").is_err());
    }

    #[test]
    fn positions_and_slices() {
        assert_eq!(position_of("abcabc", "c", 2), Ok(6));
        assert_eq!(position_of("abcabc", "c", -1), Ok(6));
        assert_eq!(position_of("abcabc", "c", -2), Ok(3));
        assert_eq!(position_of("aaa", "aa", 2), Ok(2));
        assert_eq!(position_of("abc", "x", 1), Ok(0));
        assert!(position_of("abc", "a", 0).is_err());
        assert_eq!(slice_range(4, 2, 2), Ok(1..3));
        assert_eq!(slice_range(4, -2, 5), Ok(2..4));
        assert_eq!(slice_range(4, 5, 1), Ok(0..0));
        assert!(slice_range(4, 0, 1).is_err());
        assert_eq!(integer_sequence(5, 1, -2), Ok(vec![5, 3, 1]));
        assert!(integer_sequence(1, 5, -1).is_err());
        assert!(integer_sequence(1, 20_000, 1).is_err());
        assert_eq!(decode_hex("4a6b"), Ok(vec![0x4a, 0x6b]));
        assert!(decode_hex("4").is_err());
    }
}
