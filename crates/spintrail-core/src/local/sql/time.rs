//! Trino date/time functions: ISO-8601 parsing and printing, `date_add`, `date_diff`,
//! `date_format` / `date_parse` (MySQL-style specifiers), `format_datetime` / `parse_datetime`
//! (Joda-Time patterns, see [`pattern`]), `parse_duration`, `at_timezone`, `with_timezone`,
//! `from_unixtime`, `to_unixtime`.
//!
//! Timestamps with a time zone are UTC instants (the local engine's data is UTC) that carry their
//! zone in the Arrow type; printing functions show them in that zone; calendar arithmetic on them
//! is done in UTC.

use std::fmt::Write as _;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Months, NaiveDate, NaiveDateTime, TimeDelta, Timelike};
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Date32Array, DurationMillisecondArray, Float64Array, Int64Array,
    PrimitiveArray, StringBuilder, TimestampMillisecondArray,
};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Float64Type, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use datafusion::common::ScalarValue;
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs};

use super::args::{arrays, fail, finish, lenient_or, literal_str, string_array};
use super::pattern::{self, Piece, Zone};
use crate::timestamp::{parse_date, parse_timestamp, Form, DAY_MS as MS_PER_DAY};

pub fn from_iso8601_timestamp(args: &ScalarFunctionArgs, lenient: bool) -> DfResult<ColumnarValue> {
    let a = arrays(&args.args, args.number_rows)?;
    let s = string_array(&a.arrays[0])?;
    let mut out: Vec<Option<i64>> = Vec::with_capacity(a.len);
    for v in s.iter() {
        out.push(match v {
            None => None,
            Some(text) => lenient_or(
                parse_timestamp(text, Form::Iso8601).map(Some).map_err(|why| {
                    format!("from_iso8601_timestamp: '{text}' is not an ISO-8601 timestamp: {why} (wrap in try(...) to get NULL)")
                }),
                lenient,
            )?,
        });
    }
    let array = TimestampMillisecondArray::from(out).with_timezone("UTC");
    finish(Arc::new(array), a.all_scalar)
}

pub fn from_iso8601_date(args: &ScalarFunctionArgs, lenient: bool) -> DfResult<ColumnarValue> {
    let a = arrays(&args.args, args.number_rows)?;
    let s = string_array(&a.arrays[0])?;
    let mut out: Vec<Option<i32>> = Vec::with_capacity(a.len);
    for v in s.iter() {
        out.push(match v {
            None => None,
            Some(text) => lenient_or(
                // Days of a four-digit year fit in 32 bits.
                parse_date(text)
                    .map(|days| Some(days as i32))
                    .map_err(|why| {
                        format!("from_iso8601_date: '{text}' is not an ISO-8601 date: {why} (wrap in try(...) to get NULL)")
                    }),
                lenient,
            )?,
        });
    }
    finish(Arc::new(Date32Array::from(out)), a.all_scalar)
}

/// A timestamp/date column as (value, unit) access, normalised to a naive UTC date-time.
enum Temporal<'a> {
    Ts(&'a dyn Array, TimeUnit),
    Date(&'a Date32Array),
}

fn temporal(array: &ArrayRef) -> DfResult<Temporal<'_>> {
    match array.data_type() {
        DataType::Timestamp(unit, _) => Ok(Temporal::Ts(array.as_ref(), *unit)),
        DataType::Date32 => Ok(Temporal::Date(array.as_primitive::<Date32Type>())),
        other => Err(fail(format!("expected a timestamp or date, got {other}"))),
    }
}

fn raw_ts(array: &dyn Array, unit: TimeUnit, i: usize) -> i64 {
    match unit {
        TimeUnit::Second => array.as_primitive::<TimestampSecondType>().value(i),
        TimeUnit::Millisecond => array.as_primitive::<TimestampMillisecondType>().value(i),
        TimeUnit::Microsecond => array.as_primitive::<TimestampMicrosecondType>().value(i),
        TimeUnit::Nanosecond => array.as_primitive::<TimestampNanosecondType>().value(i),
    }
}

fn per_second(unit: TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => 1,
        TimeUnit::Millisecond => 1_000,
        TimeUnit::Microsecond => 1_000_000,
        TimeUnit::Nanosecond => 1_000_000_000,
    }
}

fn to_datetime(v: i64, unit: TimeUnit) -> Option<NaiveDateTime> {
    let p = per_second(unit);
    let secs = v.div_euclid(p);
    let nanos = (v.rem_euclid(p) * (1_000_000_000 / p)) as u32;
    DateTime::from_timestamp(secs, nanos).map(|d| d.naive_utc())
}

fn from_datetime(dt: NaiveDateTime, unit: TimeUnit) -> Option<i64> {
    let utc = dt.and_utc();
    match unit {
        TimeUnit::Second => Some(utc.timestamp()),
        TimeUnit::Millisecond => Some(utc.timestamp_millis()),
        TimeUnit::Microsecond => Some(utc.timestamp_micros()),
        TimeUnit::Nanosecond => utc.timestamp_nanos_opt(),
    }
}

impl Temporal<'_> {
    fn is_null(&self, i: usize) -> bool {
        match self {
            Temporal::Ts(a, _) => a.is_null(i),
            Temporal::Date(a) => a.is_null(i),
        }
    }
    fn datetime(&self, i: usize) -> Option<NaiveDateTime> {
        match self {
            Temporal::Ts(a, unit) => to_datetime(raw_ts(*a, *unit, i), *unit),
            Temporal::Date(a) => NaiveDate::from_num_days_from_ce_opt(a.value(i) + 719_163)
                .and_then(|d| d.and_hms_opt(0, 0, 0)),
        }
    }
}

/// Units of `date_add`/`date_diff`.
#[derive(Clone, Copy, PartialEq)]
enum Unit {
    Millisecond,
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

impl Unit {
    fn parse(function: &str, s: &str) -> Result<Unit, String> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "millisecond" => Unit::Millisecond,
            "second" => Unit::Second,
            "minute" => Unit::Minute,
            "hour" => Unit::Hour,
            "day" => Unit::Day,
            "week" => Unit::Week,
            "month" => Unit::Month,
            "quarter" => Unit::Quarter,
            "year" => Unit::Year,
            _ => return Err(format!("{function}: '{s}' is not a valid unit (millisecond, second, minute, hour, day, week, month, quarter, year)")),
        })
    }
    /// Length in milliseconds of a fixed unit; None for calendar units.
    fn fixed_ms(self) -> Option<i64> {
        Some(match self {
            Unit::Millisecond => 1,
            Unit::Second => 1_000,
            Unit::Minute => 60_000,
            Unit::Hour => 3_600_000,
            Unit::Day => MS_PER_DAY,
            Unit::Week => 7 * MS_PER_DAY,
            _ => return None,
        })
    }
    fn months(self) -> i64 {
        match self {
            Unit::Quarter => 3,
            Unit::Year => 12,
            _ => 1,
        }
    }
}

/// A unit argument: parsed once when literal, cached otherwise.
struct UnitArg<'a> {
    literal: Option<Option<Result<Unit, String>>>,
    column: Option<&'a datafusion::arrow::array::StringArray>,
}

impl<'a> UnitArg<'a> {
    fn new(function: &str, arg: &ColumnarValue, array: &'a ArrayRef) -> DfResult<Self> {
        Ok(match literal_str(arg) {
            Some(v) => UnitArg {
                literal: Some(v.map(|s| Unit::parse(function, s))),
                column: None,
            },
            None => UnitArg {
                literal: None,
                column: Some(string_array(array)?),
            },
        })
    }
    fn get(&self, function: &str, i: usize) -> Option<Result<Unit, String>> {
        match (&self.literal, self.column) {
            (Some(v), _) => v.clone(),
            (None, Some(c)) => (!c.is_null(i)).then(|| Unit::parse(function, c.value(i))),
            _ => None,
        }
    }
}

fn add_months(dt: NaiveDateTime, months: i64) -> Option<NaiveDateTime> {
    let m = Months::new(u32::try_from(months.unsigned_abs()).ok()?);
    if months >= 0 {
        dt.checked_add_months(m)
    } else {
        dt.checked_sub_months(m)
    }
}

pub fn date_add(args: &ScalarFunctionArgs, lenient: bool) -> DfResult<ColumnarValue> {
    let a = arrays(&args.args, args.number_rows)?;
    let unit = UnitArg::new("date_add", &args.args[0], &a.arrays[0])?;
    let n = a.arrays[1].as_primitive::<datafusion::arrow::datatypes::Int64Type>();
    let x = temporal(&a.arrays[2])?;
    let overflow = || "date_add: result out of range".to_string();
    let compute = |i: usize| -> Result<Option<i64>, String> {
        let Some(unit) = unit.get("date_add", i).transpose()? else {
            return Ok(None);
        };
        if n.is_null(i) || x.is_null(i) {
            return Ok(None);
        }
        let amount = n.value(i);
        match &x {
            Temporal::Ts(arr, tu) => {
                let v = raw_ts(*arr, *tu, i);
                if let Some(ms) = unit.fixed_ms() {
                    let delta = amount as i128 * ms as i128 * per_second(*tu) as i128 / 1000;
                    let r = v as i128 + delta;
                    return i64::try_from(r).map(Some).map_err(|_| overflow());
                }
                let dt = to_datetime(v, *tu).ok_or_else(overflow)?;
                let months = amount.checked_mul(unit.months()).ok_or_else(overflow)?;
                let r = add_months(dt, months).ok_or_else(overflow)?;
                from_datetime(r, *tu).map(Some).ok_or_else(overflow)
            }
            Temporal::Date(d) => {
                let days = d.value(i) as i64;
                let r = match unit {
                    Unit::Day => days.checked_add(amount),
                    Unit::Week => amount.checked_mul(7).and_then(|w| days.checked_add(w)),
                    Unit::Month | Unit::Quarter | Unit::Year => {
                        let dt = x.datetime(i).ok_or_else(overflow)?;
                        let months = amount.checked_mul(unit.months()).ok_or_else(overflow)?;
                        add_months(dt, months).map(|r| r.and_utc().timestamp().div_euclid(86_400))
                    }
                    _ => {
                        return Err(
                            "date_add: a time unit cannot be added to a date (use a timestamp)"
                                .into(),
                        )
                    }
                };
                r.ok_or_else(overflow).map(Some)
            }
        }
    };
    let mut out: Vec<Option<i64>> = Vec::with_capacity(a.len);
    for i in 0..a.len {
        out.push(lenient_or(compute(i), lenient)?);
    }
    let result: ArrayRef = match a.arrays[2].data_type() {
        DataType::Timestamp(unit, tz) => {
            let arr = Int64Array::from(out);
            let data = arr
                .into_data()
                .into_builder()
                .data_type(DataType::Timestamp(*unit, tz.clone()))
                .build()?;
            datafusion::arrow::array::make_array(data)
        }
        _ => {
            let days: Vec<Option<i32>> = out
                .into_iter()
                .map(|v| v.and_then(|d| i32::try_from(d).ok()))
                .collect();
            Arc::new(Date32Array::from(days))
        }
    };
    finish(result, a.all_scalar)
}

/// Whole `months` from `a` to `b`, truncated toward zero (Joda/Trino semantics).
fn months_between(a: NaiveDateTime, b: NaiveDateTime) -> Option<i64> {
    let mut m = (b.year() as i64 - a.year() as i64) * 12 + (b.month() as i64 - a.month() as i64);
    if m > 0 && add_months(a, m)? > b {
        m -= 1;
    } else if m < 0 && add_months(a, m)? < b {
        m += 1;
    }
    Some(m)
}

pub fn date_diff(args: &ScalarFunctionArgs, lenient: bool) -> DfResult<ColumnarValue> {
    let a = arrays(&args.args, args.number_rows)?;
    let unit = UnitArg::new("date_diff", &args.args[0], &a.arrays[0])?;
    let x = temporal(&a.arrays[1])?;
    let y = temporal(&a.arrays[2])?;
    let compute = |i: usize| -> Result<Option<i64>, String> {
        let Some(unit) = unit.get("date_diff", i).transpose()? else {
            return Ok(None);
        };
        if x.is_null(i) || y.is_null(i) {
            return Ok(None);
        }
        let range = || "date_diff: timestamp out of range".to_string();
        let (p, q) = (
            x.datetime(i).ok_or_else(range)?,
            y.datetime(i).ok_or_else(range)?,
        );
        match unit.fixed_ms() {
            Some(ms) => {
                let delta: TimeDelta = q - p;
                Ok(Some(delta.num_milliseconds() / ms))
            }
            None => Ok(Some(
                months_between(p, q).ok_or_else(range)? / unit.months(),
            )),
        }
    };
    let mut out: Vec<Option<i64>> = Vec::with_capacity(a.len);
    for i in 0..a.len {
        out.push(lenient_or(compute(i), lenient)?);
    }
    finish(Arc::new(Int64Array::from(out)), a.all_scalar)
}

/// The zone of a timestamp argument: its Arrow time zone, UTC for naive timestamps and dates.
fn zone_of(array: &ArrayRef) -> Result<Option<Zone>, String> {
    match array.data_type() {
        DataType::Timestamp(_, tz) => Zone::of_arrow(tz.as_deref()),
        _ => Ok(None),
    }
}

pub fn to_iso8601(args: &ScalarFunctionArgs, lenient: bool) -> DfResult<ColumnarValue> {
    let a = arrays(&args.args, args.number_rows)?;
    let x = temporal(&a.arrays[0])?;
    let zone = match zone_of(&a.arrays[0]) {
        Ok(z) => z,
        Err(e) => {
            return lenient_or::<()>(Err(format!("to_iso8601: {e}")), lenient)
                .map(|_| ColumnarValue::Scalar(datafusion::common::ScalarValue::Utf8(None)))
        }
    };
    let is_date = matches!(x, Temporal::Date(_));
    let mut out = StringBuilder::with_capacity(a.len, a.len * 24);
    let mut buf = String::with_capacity(32);
    for i in 0..a.len {
        if x.is_null(i) {
            out.append_null();
            continue;
        }
        let Some(dt) = x.datetime(i) else {
            lenient_or::<()>(Err("to_iso8601: timestamp out of range".into()), lenient)?;
            out.append_null();
            continue;
        };
        buf.clear();
        if is_date {
            let _ = write!(buf, "{}", dt.format("%Y-%m-%d"));
        } else {
            let local = zone.as_ref().map(|z| z.local(&dt)).unwrap_or(dt);
            let _ = write!(buf, "{}", local.format("%Y-%m-%dT%H:%M:%S%.3f"));
            if let Some(z) = &zone {
                buf.push_str(&pattern::iso_suffix(z, &dt));
            }
        }
        out.append_value(&buf);
    }
    finish(Arc::new(out.finish()), a.all_scalar)
}

/// One piece of a parsed MySQL-style format.
#[derive(Clone)]
enum FormatItem {
    Literal(String),
    Spec(char),
}

fn parse_mysql_format(fmt: &str) -> Result<Vec<FormatItem>, String> {
    let mut items = Vec::new();
    let mut literal = String::new();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            literal.push(c);
            continue;
        }
        match chars.next() {
            None => literal.push('%'),
            Some(s @ ('D' | 'U' | 'u' | 'V' | 'w' | 'X')) => {
                return Err(format!(
                    "date_format: format specifier %{s} is not supported"
                ))
            }
            Some(
                s @ ('a' | 'b' | 'c' | 'd' | 'e' | 'f' | 'H' | 'h' | 'I' | 'i' | 'j' | 'k' | 'l'
                | 'M' | 'm' | 'p' | 'r' | 'S' | 's' | 'T' | 'v' | 'W' | 'x' | 'Y' | 'y'),
            ) => {
                if !literal.is_empty() {
                    items.push(FormatItem::Literal(std::mem::take(&mut literal)));
                }
                items.push(FormatItem::Spec(s));
            }
            // `%%` and `%x` for any x not listed: the character itself (as Trino).
            Some(other) => literal.push(other),
        }
    }
    if !literal.is_empty() {
        items.push(FormatItem::Literal(literal));
    }
    Ok(items)
}

fn write_mysql(buf: &mut String, dt: &NaiveDateTime, items: &[FormatItem]) {
    for item in items {
        let _ = match item {
            FormatItem::Literal(s) => {
                buf.push_str(s);
                Ok(())
            }
            FormatItem::Spec(s) => match s {
                'a' => write!(buf, "{}", dt.format("%a")),
                'b' => write!(buf, "{}", dt.format("%b")),
                'c' => write!(buf, "{}", dt.month()),
                'd' => write!(buf, "{:02}", dt.day()),
                'e' => write!(buf, "{}", dt.day()),
                'f' => write!(buf, "{:06}", dt.nanosecond() / 1000 % 1_000_000),
                'H' => write!(buf, "{:02}", dt.hour()),
                'h' | 'I' => write!(buf, "{:02}", dt.hour12().1),
                'i' => write!(buf, "{:02}", dt.minute()),
                'j' => write!(buf, "{:03}", dt.ordinal()),
                'k' => write!(buf, "{}", dt.hour()),
                'l' => write!(buf, "{}", dt.hour12().1),
                'M' => write!(buf, "{}", dt.format("%B")),
                'm' => write!(buf, "{:02}", dt.month()),
                'p' => write!(buf, "{}", if dt.hour() < 12 { "AM" } else { "PM" }),
                'r' => write!(
                    buf,
                    "{:02}:{:02}:{:02} {}",
                    dt.hour12().1,
                    dt.minute(),
                    dt.second(),
                    if dt.hour() < 12 { "AM" } else { "PM" }
                ),
                'S' | 's' => write!(buf, "{:02}", dt.second()),
                'T' => write!(
                    buf,
                    "{:02}:{:02}:{:02}",
                    dt.hour(),
                    dt.minute(),
                    dt.second()
                ),
                'v' => write!(buf, "{:02}", dt.iso_week().week()),
                'W' => write!(buf, "{}", dt.format("%A")),
                'x' => write!(buf, "{:04}", dt.iso_week().year()),
                'Y' => write!(buf, "{:04}", dt.year()),
                'y' => write!(buf, "{:02}", dt.year().rem_euclid(100)),
                _ => Ok(()),
            },
        };
    }
}

pub fn date_format(args: &ScalarFunctionArgs, lenient: bool) -> DfResult<ColumnarValue> {
    let a = arrays(&args.args, args.number_rows)?;
    let x = temporal(&a.arrays[0])?;
    let zone = zone_of(&a.arrays[0])
        .map_err(|e| fail(format!("date_format: {e}")))?
        .unwrap_or_else(Zone::utc);
    let literal = literal_str(&args.args[1]).map(|f| f.map(parse_mysql_format));
    let formats = string_array(&a.arrays[1])?;
    let mut cached: Option<(String, Result<Vec<FormatItem>, String>)> = None;
    let mut out = StringBuilder::with_capacity(a.len, a.len * 20);
    let mut buf = String::with_capacity(32);
    for i in 0..a.len {
        if x.is_null(i) || formats.is_null(i) {
            out.append_null();
            continue;
        }
        let items: Result<&Vec<FormatItem>, String> = match &literal {
            Some(Some(r)) => r.as_ref().map_err(|e| e.clone()),
            Some(None) => {
                out.append_null();
                continue;
            }
            None => {
                let f = formats.value(i);
                if !matches!(&cached, Some((k, _)) if k == f) {
                    cached = Some((f.to_string(), parse_mysql_format(f)));
                }
                match &cached {
                    Some((_, r)) => r.as_ref().map_err(|e| e.clone()),
                    None => Err("date_format: no format".into()),
                }
            }
        };
        let items = match lenient_or(items.map(Some), lenient)? {
            Some(items) => items,
            None => {
                out.append_null();
                continue;
            }
        };
        let Some(dt) = x.datetime(i) else {
            out.append_null();
            continue;
        };
        let dt = zone.local(&dt);
        buf.clear();
        write_mysql(&mut buf, &dt, items);
        out.append_value(&buf);
    }
    finish(Arc::new(out.finish()), a.all_scalar)
}

pub fn from_unixtime(args: &ScalarFunctionArgs, lenient: bool) -> DfResult<ColumnarValue> {
    let a = arrays(&args.args, args.number_rows)?;
    let x: &PrimitiveArray<Float64Type> = a.arrays[0].as_primitive();
    let mut out: Vec<Option<i64>> = Vec::with_capacity(a.len);
    for v in x.iter() {
        out.push(match v {
            None => None,
            Some(f) => {
                let ms = (f * 1000.0).round();
                let r = if ms.is_finite() && ms.abs() < 9.0e15 {
                    Ok(Some(ms as i64))
                } else {
                    Err(format!("from_unixtime: {f} is out of range"))
                };
                lenient_or(r, lenient)?
            }
        });
    }
    let array = TimestampMillisecondArray::from(out).with_timezone("UTC");
    finish(Arc::new(array), a.all_scalar)
}

pub fn to_unixtime(args: &ScalarFunctionArgs) -> DfResult<ColumnarValue> {
    let a = arrays(&args.args, args.number_rows)?;
    let x = temporal(&a.arrays[0])?;
    let mut out: Vec<Option<f64>> = Vec::with_capacity(a.len);
    for i in 0..a.len {
        if x.is_null(i) {
            out.push(None);
            continue;
        }
        out.push(Some(match &x {
            Temporal::Ts(arr, unit) => raw_ts(*arr, *unit, i) as f64 / per_second(*unit) as f64,
            Temporal::Date(d) => d.value(i) as f64 * 86_400.0,
        }));
    }
    finish(Arc::new(Float64Array::from(out)), a.all_scalar)
}

// ---------------------------------------------------------------------------------------------
// Patterns (Joda-Time and MySQL-style parsing), durations and time zones.

/// The compiled pattern of the row at hand: compiled once while the pattern text repeats.
struct PatternCache {
    function: &'static str,
    compile: fn(&str) -> Result<Vec<Piece>, String>,
    last: Option<(String, Result<Vec<Piece>, String>)>,
}

impl PatternCache {
    fn new(function: &'static str, compile: fn(&str) -> Result<Vec<Piece>, String>) -> Self {
        PatternCache {
            function,
            compile,
            last: None,
        }
    }

    fn get(&mut self, text: &str) -> Result<&[Piece], String> {
        if !matches!(&self.last, Some((k, _)) if k == text) {
            let compiled = (self.compile)(text).map_err(|e| format!("{}: {e}", self.function));
            self.last = Some((text.to_string(), compiled));
        }
        match &self.last {
            Some((_, Ok(pieces))) => Ok(pieces),
            Some((_, Err(e))) => Err(e.clone()),
            None => Err(format!("{}: no pattern", self.function)),
        }
    }
}

/// Text parsed with a pattern into epoch milliseconds (UTC instants).
fn parse_with_pattern(
    args: &ScalarFunctionArgs,
    lenient: bool,
    function: &'static str,
    compile: fn(&str) -> Result<Vec<Piece>, String>,
) -> DfResult<(Vec<Option<i64>>, bool)> {
    let a = arrays(&args.args, args.number_rows)?;
    let texts = string_array(&a.arrays[0])?;
    let patterns = string_array(&a.arrays[1])?;
    let mut cache = PatternCache::new(function, compile);
    let utc = Zone::utc();
    let mut out = Vec::with_capacity(a.len);
    for i in 0..a.len {
        if texts.is_null(i) || patterns.is_null(i) {
            out.push(None);
            continue;
        }
        let text = texts.value(i);
        let r = cache.get(patterns.value(i)).and_then(|pieces| {
            let (instant, _) = pattern::parse(pieces, text, &utc).map_err(|e| {
                format!(
                    "{function}: {e} (format '{}'; wrap in try(...) to get NULL)",
                    patterns.value(i)
                )
            })?;
            Ok(Some(instant.and_utc().timestamp_millis()))
        });
        out.push(lenient_or(r, lenient)?);
    }
    Ok((out, a.all_scalar))
}

/// Trino `date_parse(string, format)`: MySQL-style specifiers → `timestamp(3)` (no time zone).
pub fn date_parse(args: &ScalarFunctionArgs, lenient: bool) -> DfResult<ColumnarValue> {
    let (values, all_scalar) = parse_with_pattern(
        args,
        lenient,
        "date_parse",
        pattern::compile_mysql_for_parsing,
    )?;
    finish(
        Arc::new(TimestampMillisecondArray::from(values)),
        all_scalar,
    )
}

/// Trino `parse_datetime(string, pattern)`: a Joda-Time pattern → the instant, as a UTC
/// `timestamp(3) with time zone` (the offset or zone in the text is applied, then normalised to
/// UTC, like `from_iso8601_timestamp`).
pub fn parse_datetime(args: &ScalarFunctionArgs, lenient: bool) -> DfResult<ColumnarValue> {
    let (values, all_scalar) =
        parse_with_pattern(args, lenient, "parse_datetime", pattern::compile_joda)?;
    finish(
        Arc::new(TimestampMillisecondArray::from(values).with_timezone("UTC")),
        all_scalar,
    )
}

/// Trino `format_datetime(timestamp, pattern)`: a Joda-Time pattern, in the timestamp's zone.
pub fn format_datetime(args: &ScalarFunctionArgs, lenient: bool) -> DfResult<ColumnarValue> {
    let a = arrays(&args.args, args.number_rows)?;
    let x = temporal(&a.arrays[0])?;
    let zone = zone_of(&a.arrays[0])
        .map_err(|e| fail(format!("format_datetime: {e}")))?
        .unwrap_or_else(Zone::utc);
    let patterns = string_array(&a.arrays[1])?;
    let mut cache = PatternCache::new("format_datetime", pattern::compile_joda);
    let mut out = StringBuilder::with_capacity(a.len, a.len * 24);
    let mut buf = String::with_capacity(32);
    for i in 0..a.len {
        if x.is_null(i) || patterns.is_null(i) {
            out.append_null();
            continue;
        }
        let r = x
            .datetime(i)
            .ok_or_else(|| "format_datetime: timestamp out of range".to_string())
            .and_then(|dt| Ok((dt, cache.get(patterns.value(i))?)));
        match lenient_or(r.map(Some), lenient)? {
            Some((dt, pieces)) => {
                buf.clear();
                pattern::print(&mut buf, pieces, &dt, dt.nanosecond(), &zone);
                out.append_value(&buf);
            }
            None => out.append_null(),
        }
    }
    finish(Arc::new(out.finish()), a.all_scalar)
}

/// Trino's duration text (`1d`, `3.5h`, `250 ms`) → milliseconds (rounded).
pub fn parse_duration_text(text: &str) -> Option<i64> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = (&t[..split], t[split..].trim_start());
    let valid_number = !number.is_empty()
        && !number.starts_with('.')
        && !number.ends_with('.')
        && number.matches('.').count() <= 1;
    if !valid_number {
        return None;
    }
    let value: f64 = number.parse().ok()?;
    let unit_ms = match unit {
        "ns" => 1e-6,
        "us" => 1e-3,
        "ms" => 1.0,
        "s" => 1e3,
        "m" => 60e3,
        "h" => 3_600e3,
        "d" => 86_400e3,
        _ => return None,
    };
    let ms = (value * unit_ms).round();
    (ms.is_finite() && ms < 9.0e15).then_some(ms as i64)
}

/// Trino `parse_duration(string)` → `interval day to second` (an Arrow duration in ms), so
/// `now() - parse_duration('1d')` and comparisons with timestamps work.
pub fn parse_duration(args: &ScalarFunctionArgs, lenient: bool) -> DfResult<ColumnarValue> {
    let a = arrays(&args.args, args.number_rows)?;
    let texts = string_array(&a.arrays[0])?;
    let mut out: Vec<Option<i64>> = Vec::with_capacity(a.len);
    for v in texts.iter() {
        out.push(match v {
            None => None,
            Some(text) => lenient_or(
                parse_duration_text(text).map(Some).ok_or_else(|| {
                    format!("parse_duration: '{text}' is not a duration (a number and one of the units ns, us, ms, s, m, h, d, e.g. '1d' or '3.5h'; wrap in try(...) to get NULL)")
                }),
                lenient,
            )?,
        });
    }
    finish(Arc::new(DurationMillisecondArray::from(out)), a.all_scalar)
}

/// The zone a time-zone argument names: it must be a literal, because it is part of the type.
pub fn zone_argument(function: &str, arg: Option<&ScalarValue>) -> Result<Zone, String> {
    match arg {
        Some(ScalarValue::Utf8(Some(z)) | ScalarValue::Utf8View(Some(z)) | ScalarValue::LargeUtf8(Some(z))) => {
            Zone::parse(z).ok_or_else(|| format!("{function}: '{z}' is not a time zone (use a region such as 'America/New_York', an offset such as '+05:30', or 'UTC')"))
        }
        _ => Err(format!(
            "{function}: the time zone must be a literal string in the local engine"
        )),
    }
}

/// Trino `at_timezone(timestamp, zone)`: the same instant, shown in `zone`.
pub fn at_timezone(args: &ScalarFunctionArgs) -> DfResult<ColumnarValue> {
    let target = args.return_field.data_type();
    match &args.args[0] {
        ColumnarValue::Array(a) => Ok(ColumnarValue::Array(datafusion::arrow::compute::cast(
            a, target,
        )?)),
        ColumnarValue::Scalar(s) => Ok(ColumnarValue::Scalar(s.cast_to(target)?)),
    }
}

/// Trino `with_timezone(timestamp, zone)`: the wall-clock time of `timestamp` read in `zone`.
pub fn with_timezone(args: &ScalarFunctionArgs, lenient: bool) -> DfResult<ColumnarValue> {
    let a = arrays(&args.args, args.number_rows)?;
    let (unit, target) = match args.return_field.data_type() {
        DataType::Timestamp(unit, Some(tz)) => (*unit, tz.to_string()),
        other => {
            return Err(fail(format!(
                "with_timezone: unexpected result type {other}"
            )))
        }
    };
    let zone = Zone::parse(&target)
        .ok_or_else(|| fail(format!("with_timezone: unknown time zone '{target}'")))?;
    let source_zone = zone_of(&a.arrays[0]).map_err(|e| fail(format!("with_timezone: {e}")))?;
    let x = temporal(&a.arrays[0])?;
    let mut out: Vec<Option<i64>> = Vec::with_capacity(a.len);
    for i in 0..a.len {
        if x.is_null(i) {
            out.push(None);
            continue;
        }
        let r = x
            .datetime(i)
            .map(|dt| source_zone.as_ref().map(|z| z.local(&dt)).unwrap_or(dt))
            .and_then(|local| from_datetime(zone.to_utc(&local), unit))
            .ok_or_else(|| "with_timezone: timestamp out of range".to_string());
        out.push(lenient_or(r.map(Some), lenient)?);
    }
    let data = Int64Array::from(out)
        .into_data()
        .into_builder()
        .data_type(DataType::Timestamp(unit, Some(zone.id.into())))
        .build()?;
    finish(datafusion::arrow::array::make_array(data), a.all_scalar)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mysql_format() {
        let dt = NaiveDate::from_ymd_opt(2024, 7, 5)
            .and_then(|d| d.and_hms_milli_opt(21, 3, 9, 120))
            .unwrap_or_default();
        let mut buf = String::new();
        let items = parse_mysql_format("%Y-%m-%d %H:%i:%s.%f %b %a %j %p %T %y %e %c %M %W %r %%")
            .unwrap_or_default();
        write_mysql(&mut buf, &dt, &items);
        assert_eq!(
            buf,
            "2024-07-05 21:03:09.120000 Jul Fri 187 PM 21:03:09 24 5 7 July Friday 09:03:09 PM %"
        );
        assert!(parse_mysql_format("%D").is_err());
    }

    #[test]
    fn months() {
        let d = |y, m, d| {
            NaiveDate::from_ymd_opt(y, m, d)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .unwrap_or_default()
        };
        assert_eq!(months_between(d(2024, 1, 31), d(2024, 2, 29)), Some(1));
        assert_eq!(months_between(d(2024, 1, 31), d(2024, 2, 28)), Some(0));
        assert_eq!(months_between(d(2024, 3, 31), d(2024, 1, 31)), Some(-2));
        assert_eq!(add_months(d(2024, 1, 31), 1), Some(d(2024, 2, 29)));
    }
}
