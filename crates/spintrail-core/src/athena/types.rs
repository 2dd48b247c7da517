//! Athena's result types and their text form, turned into typed Arrow columns.
//!
//! `GetQueryResults` and the CSV result object both carry every value as text; the column types
//! come from `ResultSetMetadata`. Each scalar type has one parser here, shared by both paths, so
//! a value converts the same way whichever path fetched it. `array`, `map` and `row` are reported
//! without element types and their text form is ambiguous (`{a=1, b=x, y}`), so they are refused
//! with a message that names the column and the two ways out (the typed `unload` fetch, or
//! `CAST(... AS JSON)`).

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float32Builder,
    Float64Builder, Int16Builder, Int32Builder, Int64Builder, Int8Builder, NullBuilder,
    StringBuilder, Time64MicrosecondBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeZone};

/// Field metadata that marks a column as JSON text (Arrow's canonical `arrow.json` extension).
const EXTENSION_NAME: &str = "ARROW:extension:name";

/// One result column as Athena describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnType {
    pub name: String,
    /// Athena's type name, lower case, without parameters (`varchar`, `decimal`, `array`, ...).
    pub type_name: String,
    pub precision: i32,
    pub scale: i32,
}

/// The Athena type names whose text form cannot be typed without element types.
fn is_nested(type_name: &str) -> bool {
    matches!(type_name, "array" | "map" | "row" | "struct")
}

impl ColumnType {
    pub fn new(name: &str, type_name: &str, precision: i32, scale: i32) -> Self {
        let lower = type_name.trim().to_ascii_lowercase();
        // Some clients report parameters in the name (`decimal(10,2)`, `varchar(5)`).
        let (base, params) = match lower.split_once('(') {
            Some((base, rest)) => (base.trim().to_string(), Some(rest.trim_end_matches(')'))),
            None => (lower.clone(), None),
        };
        let (mut precision, mut scale) = (precision, scale);
        if base == "decimal" {
            if let Some(params) = params {
                let mut parts = params.split(',').map(|p| p.trim().parse::<i32>());
                if let Some(Ok(p)) = parts.next() {
                    precision = p;
                }
                if let Some(Ok(s)) = parts.next() {
                    scale = s;
                }
            }
        }
        ColumnType {
            name: name.to_string(),
            type_name: base,
            precision,
            scale,
        }
    }

    /// Whether the column is an array, map or row (no typed text form).
    pub fn is_nested(&self) -> bool {
        is_nested(&self.type_name)
    }

    /// The Arrow type the column converts to.
    pub fn data_type(&self) -> Result<DataType, String> {
        Ok(match self.type_name.as_str() {
            "varchar" | "char" | "string" | "json" | "ipaddress" | "uuid" => DataType::Utf8,
            "interval year to month" | "interval day to second" => DataType::Utf8,
            "tinyint" => DataType::Int8,
            "smallint" => DataType::Int16,
            "integer" | "int" => DataType::Int32,
            "bigint" => DataType::Int64,
            "double" => DataType::Float64,
            "float" | "real" => DataType::Float32,
            "boolean" => DataType::Boolean,
            "date" => DataType::Date32,
            "time" => DataType::Time64(TimeUnit::Microsecond),
            "timestamp" => DataType::Timestamp(TimeUnit::Microsecond, None),
            "timestamp with time zone" => {
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
            }
            "decimal" => {
                let precision = u8::try_from(self.precision)
                    .ok()
                    .filter(|p| (1..=38).contains(p))
                    .ok_or_else(|| {
                        format!(
                            "column {}: decimal precision {} is outside 1..=38",
                            self.name, self.precision
                        )
                    })?;
                let scale = i8::try_from(self.scale)
                    .ok()
                    .filter(|s| *s >= 0 && (*s as u8) <= precision)
                    .ok_or_else(|| {
                        format!(
                            "column {}: decimal scale {} does not fit precision {precision}",
                            self.name, self.scale
                        )
                    })?;
                DataType::Decimal128(precision, scale)
            }
            "varbinary" => DataType::Binary,
            "unknown" => DataType::Null,
            nested if is_nested(nested) => {
                return Err(format!(
                    "column {:?} has type {nested}: Athena's text form of array, map and row \
                     values carries no element types, so spintrail does not guess them. Use \
                     fetch=\"unload\" (typed Parquet results, nested Arrow types; what \
                     fetch=\"auto\" does by itself for a SELECT without a final ORDER BY) or \
                     cast the column in the query: CAST({} AS JSON) returns it as JSON text",
                    self.name, self.name
                ))
            }
            other => {
                return Err(format!(
                    "column {:?} has Athena type {other:?}, which spintrail does not convert; \
                     cast it in the query (for example CAST({} AS VARCHAR))",
                    self.name, self.name
                ))
            }
        })
    }

    fn field(&self) -> Result<Field, String> {
        let field = Field::new(&self.name, self.data_type()?, true);
        Ok(if self.type_name == "json" {
            field.with_metadata([(EXTENSION_NAME.to_string(), "arrow.json".to_string())].into())
        } else {
            field
        })
    }
}

/// The Arrow schema of a result; fails on the first column that cannot be typed.
pub fn arrow_schema(columns: &[ColumnType]) -> Result<SchemaRef, String> {
    let fields = columns
        .iter()
        .map(ColumnType::field)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Arc::new(Schema::new(fields)))
}

/// Builds the columns of one batch from text values.
pub struct BatchBuilder {
    schema: SchemaRef,
    columns: Vec<ColumnBuilder>,
    rows: usize,
}

impl BatchBuilder {
    pub fn new(schema: SchemaRef, capacity: usize) -> Self {
        let columns = schema
            .fields()
            .iter()
            .map(|f| ColumnBuilder::new(f.data_type(), capacity))
            .collect();
        BatchBuilder {
            schema,
            columns,
            rows: 0,
        }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Appends one row; `values` yields one `Option<&str>` per column (None is SQL NULL).
    /// `row` is the result row number used in error messages.
    pub fn append_row<'a>(
        &mut self,
        row: u64,
        values: impl ExactSizeIterator<Item = Option<&'a str>>,
    ) -> Result<(), String> {
        if values.len() != self.columns.len() {
            return Err(format!(
                "result row {row} has {} values, the result has {} columns",
                values.len(),
                self.columns.len()
            ));
        }
        for ((builder, value), field) in self
            .columns
            .iter_mut()
            .zip(values)
            .zip(self.schema.fields())
        {
            builder.append(value).map_err(|reason| {
                format!(
                    "result row {row}, column {:?} ({}): {reason}",
                    field.name(),
                    field.data_type()
                )
            })?;
        }
        self.rows += 1;
        Ok(())
    }

    /// The rows appended so far as a batch; the builder starts over.
    pub fn finish(&mut self) -> Result<arrow::array::RecordBatch, String> {
        let arrays: Vec<ArrayRef> = self.columns.iter_mut().map(ColumnBuilder::finish).collect();
        self.rows = 0;
        let options = arrow::array::RecordBatchOptions::new()
            .with_row_count(Some(arrays.first().map_or(0, |a| a.len())));
        arrow::array::RecordBatch::try_new_with_options(self.schema.clone(), arrays, &options)
            .map_err(|e| e.to_string())
    }
}

enum ColumnBuilder {
    Utf8(StringBuilder),
    Int8(Int8Builder),
    Int16(Int16Builder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    Float32(Float32Builder),
    Float64(Float64Builder),
    Boolean(BooleanBuilder),
    Date(Date32Builder),
    Time(Time64MicrosecondBuilder),
    Timestamp(TimestampMicrosecondBuilder, bool),
    Decimal(Decimal128Builder, u8),
    Binary(BinaryBuilder),
    Null(NullBuilder),
}

impl ColumnBuilder {
    fn new(data_type: &DataType, capacity: usize) -> Self {
        match data_type {
            DataType::Int8 => ColumnBuilder::Int8(Int8Builder::with_capacity(capacity)),
            DataType::Int16 => ColumnBuilder::Int16(Int16Builder::with_capacity(capacity)),
            DataType::Int32 => ColumnBuilder::Int32(Int32Builder::with_capacity(capacity)),
            DataType::Int64 => ColumnBuilder::Int64(Int64Builder::with_capacity(capacity)),
            DataType::Float32 => ColumnBuilder::Float32(Float32Builder::with_capacity(capacity)),
            DataType::Float64 => ColumnBuilder::Float64(Float64Builder::with_capacity(capacity)),
            DataType::Boolean => ColumnBuilder::Boolean(BooleanBuilder::with_capacity(capacity)),
            DataType::Date32 => ColumnBuilder::Date(Date32Builder::with_capacity(capacity)),
            DataType::Time64(_) => {
                ColumnBuilder::Time(Time64MicrosecondBuilder::with_capacity(capacity))
            }
            DataType::Timestamp(_, tz) => {
                let builder = TimestampMicrosecondBuilder::with_capacity(capacity)
                    .with_timezone_opt(tz.clone());
                ColumnBuilder::Timestamp(builder, tz.is_some())
            }
            DataType::Decimal128(p, s) => ColumnBuilder::Decimal(
                Decimal128Builder::with_capacity(capacity)
                    .with_data_type(DataType::Decimal128(*p, *s)),
                *s as u8,
            ),
            DataType::Binary => ColumnBuilder::Binary(BinaryBuilder::with_capacity(capacity, 0)),
            DataType::Null => ColumnBuilder::Null(NullBuilder::new()),
            _ => ColumnBuilder::Utf8(StringBuilder::with_capacity(capacity, capacity * 16)),
        }
    }

    fn append(&mut self, value: Option<&str>) -> Result<(), String> {
        let Some(text) = value else {
            match self {
                ColumnBuilder::Utf8(b) => b.append_null(),
                ColumnBuilder::Int8(b) => b.append_null(),
                ColumnBuilder::Int16(b) => b.append_null(),
                ColumnBuilder::Int32(b) => b.append_null(),
                ColumnBuilder::Int64(b) => b.append_null(),
                ColumnBuilder::Float32(b) => b.append_null(),
                ColumnBuilder::Float64(b) => b.append_null(),
                ColumnBuilder::Boolean(b) => b.append_null(),
                ColumnBuilder::Date(b) => b.append_null(),
                ColumnBuilder::Time(b) => b.append_null(),
                ColumnBuilder::Timestamp(b, _) => b.append_null(),
                ColumnBuilder::Decimal(b, _) => b.append_null(),
                ColumnBuilder::Binary(b) => b.append_null(),
                ColumnBuilder::Null(b) => b.append_null(),
            }
            return Ok(());
        };
        match self {
            ColumnBuilder::Utf8(b) => b.append_value(text),
            ColumnBuilder::Int8(b) => b.append_value(parse_int(text)?),
            ColumnBuilder::Int16(b) => b.append_value(parse_int(text)?),
            ColumnBuilder::Int32(b) => b.append_value(parse_int(text)?),
            ColumnBuilder::Int64(b) => b.append_value(parse_int(text)?),
            ColumnBuilder::Float32(b) => b.append_value(parse_float::<f32>(text)?),
            ColumnBuilder::Float64(b) => b.append_value(parse_float::<f64>(text)?),
            ColumnBuilder::Boolean(b) => b.append_value(parse_bool(text)?),
            ColumnBuilder::Date(b) => b.append_value(parse_date(text)?),
            ColumnBuilder::Time(b) => b.append_value(parse_time(text)?),
            ColumnBuilder::Timestamp(b, zoned) => b.append_value(if *zoned {
                parse_timestamp_tz(text)?
            } else {
                parse_timestamp(text)?
            }),
            ColumnBuilder::Decimal(b, scale) => b.append_value(parse_decimal(text, *scale)?),
            ColumnBuilder::Binary(b) => b.append_value(parse_varbinary(text)?),
            ColumnBuilder::Null(_) => {
                return Err(format!(
                    "a value {text:?} in a column of type unknown (NULL)"
                ))
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            ColumnBuilder::Utf8(b) => Arc::new(b.finish()),
            ColumnBuilder::Int8(b) => Arc::new(b.finish()),
            ColumnBuilder::Int16(b) => Arc::new(b.finish()),
            ColumnBuilder::Int32(b) => Arc::new(b.finish()),
            ColumnBuilder::Int64(b) => Arc::new(b.finish()),
            ColumnBuilder::Float32(b) => Arc::new(b.finish()),
            ColumnBuilder::Float64(b) => Arc::new(b.finish()),
            ColumnBuilder::Boolean(b) => Arc::new(b.finish()),
            ColumnBuilder::Date(b) => Arc::new(b.finish()),
            ColumnBuilder::Time(b) => Arc::new(b.finish()),
            ColumnBuilder::Timestamp(b, _) => Arc::new(b.finish()),
            ColumnBuilder::Decimal(b, _) => Arc::new(b.finish()),
            ColumnBuilder::Binary(b) => Arc::new(b.finish()),
            ColumnBuilder::Null(b) => Arc::new(b.finish()),
        }
    }
}

fn parse_int<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("{text:?} is not an integer of this width"))
}

fn parse_float<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    // Rust's parser accepts Athena's NaN, Infinity, -Infinity and exponent forms (1.0E10).
    text.trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))
}

fn parse_bool(text: &str) -> Result<bool, String> {
    match text.trim() {
        t if t.eq_ignore_ascii_case("true") => Ok(true),
        t if t.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(format!("{text:?} is not true or false")),
    }
}

const EPOCH: NaiveDate = match NaiveDate::from_ymd_opt(1970, 1, 1) {
    Some(d) => d,
    None => panic!("1970-01-01 is a date"),
};

fn parse_date(text: &str) -> Result<i32, String> {
    let date = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| format!("{text:?} is not a date (YYYY-MM-DD)"))?;
    i32::try_from((date - EPOCH).num_days()).map_err(|_| format!("{text:?} is out of range"))
}

fn parse_time(text: &str) -> Result<i64, String> {
    let time = NaiveTime::parse_from_str(text.trim(), "%H:%M:%S%.f")
        .map_err(|_| format!("{text:?} is not a time (HH:MM:SS.fff)"))?;
    let since_midnight = time - NaiveTime::MIN;
    since_midnight
        .num_microseconds()
        .ok_or_else(|| format!("{text:?} is out of range"))
}

fn naive_timestamp(text: &str) -> Result<NaiveDateTime, String> {
    let t = text.trim();
    NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f"))
        .or_else(|_| NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M"))
        .map_err(|_| format!("{text:?} is not a timestamp (YYYY-MM-DD HH:MM:SS.fff)"))
}

fn parse_timestamp(text: &str) -> Result<i64, String> {
    Ok(naive_timestamp(text)?.and_utc().timestamp_micros())
}

/// `2024-07-30 12:00:00.000 UTC`, `... America/New_York` or `... +02:00`: stored as the UTC
/// instant (an Arrow column has one time zone; the instant is what comparisons need).
fn parse_timestamp_tz(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let Some((local, zone)) = t.rsplit_once(' ') else {
        return Err(format!("{text:?} is not a timestamp with time zone"));
    };
    let naive = naive_timestamp(local)?;
    let instant = if zone.eq_ignore_ascii_case("UTC") || zone == "Z" {
        naive.and_utc()
    } else if zone.starts_with('+') || zone.starts_with('-') {
        let offset = parse_offset(zone)
            .ok_or_else(|| format!("{text:?}: {zone:?} is not a UTC offset like +02:00"))?;
        offset
            .from_local_datetime(&naive)
            .single()
            .ok_or_else(|| format!("{text:?} is not a valid local time"))?
            .to_utc()
    } else {
        let tz: chrono_tz::Tz = zone
            .parse()
            .map_err(|_| format!("{text:?}: {zone:?} is not a known time zone"))?;
        tz.from_local_datetime(&naive)
            .earliest()
            .ok_or_else(|| format!("{text:?} does not exist in {zone}"))?
            .to_utc()
    };
    Ok(instant.timestamp_micros())
}

fn parse_offset(zone: &str) -> Option<chrono::FixedOffset> {
    let sign = if zone.starts_with('-') { -1 } else { 1 };
    let digits = zone[1..].replace(':', "");
    let (hours, minutes) = match digits.len() {
        2 => (digits.parse::<i32>().ok()?, 0),
        4 => (
            digits[..2].parse::<i32>().ok()?,
            digits[2..].parse::<i32>().ok()?,
        ),
        _ => return None,
    };
    chrono::FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

/// `-123.4500` at scale 2 is `-12345`; more fractional digits than the scale is an error
/// rather than a silent rounding.
fn parse_decimal(text: &str, scale: u8) -> Result<i128, String> {
    let t = text.trim();
    let (negative, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let bad = || format!("{text:?} is not a decimal number");
    if whole.is_empty() && fraction.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let fraction = fraction.trim_end_matches('0');
    if fraction.len() > scale as usize {
        return Err(format!(
            "{text:?} has more fractional digits than scale {scale}"
        ));
    }
    let mut value: i128 = 0;
    let padded = fraction
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(scale as usize);
    for b in whole.bytes().chain(padded) {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(i128::from(b - b'0')))
            .ok_or_else(|| format!("{text:?} does not fit a decimal(38)"))?;
    }
    Ok(if negative { -value } else { value })
}

/// Athena writes varbinary as hex byte pairs separated by spaces (`68 65 6c 6c 6f`).
fn parse_varbinary(text: &str) -> Result<Vec<u8>, String> {
    let hex: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !hex.len().is_multiple_of(2) {
        return Err(format!("{text:?} is not hex bytes"));
    }
    hex.chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|s| u8::from_str_radix(s, 16).ok())
                .ok_or_else(|| format!("{text:?} is not hex bytes"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_keep_scale_and_refuse_rounding() {
        assert_eq!(parse_decimal("-123.45", 2), Ok(-12345));
        assert_eq!(parse_decimal("7", 3), Ok(7000));
        assert_eq!(parse_decimal("0.500", 1), Ok(5));
        assert!(parse_decimal("1.234", 2).is_err());
        assert!(parse_decimal("1e3", 2).is_err());
        assert!(parse_decimal("", 2).is_err());
    }

    #[test]
    fn timestamps_with_zones_become_utc_instants() {
        let utc = parse_timestamp_tz("2024-07-30 12:00:00.000 UTC").unwrap();
        let offset = parse_timestamp_tz("2024-07-30 14:00:00.000 +02:00").unwrap();
        let named = parse_timestamp_tz("2024-07-30 08:00:00.000 America/New_York").unwrap();
        assert_eq!(utc, offset);
        assert_eq!(utc, named);
        assert!(parse_timestamp_tz("2024-07-30 12:00:00.000 Mars/Olympus").is_err());
    }

    #[test]
    fn varbinary_hex_pairs() {
        assert_eq!(parse_varbinary("68 65 6c 6c 6f").unwrap(), b"hello");
        assert_eq!(parse_varbinary("").unwrap(), b"");
        assert!(parse_varbinary("6").is_err());
    }

    #[test]
    fn nested_types_are_refused_with_the_way_out() {
        let column = ColumnType::new("resources", "array", 0, 0);
        let err = column.data_type().unwrap_err();
        assert!(err.contains("resources") && err.contains("unload") && err.contains("AS JSON"));
        let decimal = ColumnType::new("d", "decimal(10,2)", 0, 0);
        assert_eq!(decimal.data_type(), Ok(DataType::Decimal128(10, 2)));
    }
}
