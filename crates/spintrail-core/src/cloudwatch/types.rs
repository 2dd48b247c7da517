//! Logs Insights results as a typed Arrow table.
//!
//! Logs Insights returns each row as a list of `(field, value)` pairs, every value as text, and
//! leaves a field out of a row where it has no value. The table is built by these rules:
//!
//! - `@ptr` (an opaque pointer to the log event) is dropped.
//! - Columns come in the order of the first row's fields; a field first seen in a later row is
//!   added after them. A row without a field has NULL there.
//! - A column's type is the narrowest that every non-null value in it parses as:
//!   `bigint` (Int64) for integers that fit in 64 bits, written without a sign other than `-`
//!   and without leading zeros (so account ids like `012345678901` stay text); `double`
//!   (Float64) for those integers mixed with decimal numbers (`1.5`, `-2e3`, same leading-zero
//!   rule, finite); `timestamp` (millisecond precision, UTC) for values in Logs Insights' own
//!   time form `YYYY-MM-DD HH:MM:SS.mmm` (`@timestamp`, `bin()` results); otherwise `varchar`
//!   (Utf8), which is also the type of a column with no non-null value. An empty string is a
//!   value, not NULL (and makes its column `varchar`).
//!
//! The types follow the values, so the same query can type a column differently on other data
//! (a version string such as `1.10` reads as the double 1.1 when every value in it is a number).

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Float64Builder, Int64Builder, RecordBatch, RecordBatchOptions, StringBuilder,
    TimestampMillisecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::Result;

/// The field Logs Insights adds to each row to point at its log event.
pub const POINTER_FIELD: &str = "@ptr";

/// The rows of a result, arranged in columns: names in order, and per row one value per column
/// (`None` where the row lacks the field).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Arranged {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

/// Arranges rows of `(field, value)` pairs into columns (see the module documentation). A field
/// given twice in one row keeps its first value.
pub fn arrange(rows: Vec<Vec<(String, Option<String>)>>) -> Arranged {
    let mut columns: Vec<String> = Vec::new();
    let mut arranged_rows = Vec::with_capacity(rows.len());
    for row in rows {
        let mut values: Vec<Option<String>> = vec![None; columns.len()];
        let mut seen = vec![false; columns.len()];
        for (field, value) in row {
            if field == POINTER_FIELD {
                continue;
            }
            let index = match columns.iter().position(|c| *c == field) {
                Some(i) => i,
                None => {
                    columns.push(field);
                    values.push(None);
                    seen.push(false);
                    columns.len() - 1
                }
            };
            if !seen[index] {
                seen[index] = true;
                values[index] = value;
            }
        }
        arranged_rows.push(values);
    }
    // Rows arranged before a later column appeared are shorter; pad them with NULLs.
    for values in &mut arranged_rows {
        values.resize(columns.len(), None);
    }
    Arranged {
        columns,
        rows: arranged_rows,
    }
}

/// What one text value parses as, narrowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Integer,
    Decimal,
    Timestamp,
    Text,
}

/// Digits without a leading zero (a lone `0` is fine).
fn plain_digits(text: &str) -> bool {
    !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text.len() == 1 || !text.starts_with('0'))
}

fn parse_integer(text: &str) -> Option<i64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if !plain_digits(digits) {
        return None;
    }
    text.parse().ok()
}

fn parse_decimal(text: &str) -> Option<f64> {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], Some(&unsigned[at + 1..])),
        None => (unsigned, None),
    };
    let (whole, fraction) = match mantissa.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (mantissa, None),
    };
    // A number without a fraction or an exponent is an integer, or text when it does not fit
    // in 64 bits (a double would round it).
    if fraction.is_none() && exponent.is_none() {
        return None;
    }
    let whole_ok = plain_digits(whole);
    let fraction_ok =
        fraction.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()));
    let exponent_ok = exponent.is_none_or(|e| {
        let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
    });
    if !(whole_ok && fraction_ok && exponent_ok) {
        return None;
    }
    text.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Milliseconds since the epoch of a `YYYY-MM-DD HH:MM:SS.mmm` text (UTC).
fn parse_timestamp(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    let shape_ok = bytes.len() == 23
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            10 => *b == b' ',
            13 | 16 => *b == b':',
            19 => *b == b'.',
            _ => b.is_ascii_digit(),
        });
    if !shape_ok {
        return None;
    }
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.3f")
        .ok()
        .map(|t| t.and_utc().timestamp_millis())
}

fn kind(text: &str) -> Kind {
    if parse_integer(text).is_some() {
        Kind::Integer
    } else if parse_decimal(text).is_some() {
        Kind::Decimal
    } else if parse_timestamp(text).is_some() {
        Kind::Timestamp
    } else {
        Kind::Text
    }
}

/// The type of a column from its non-null values (see the module documentation).
pub fn column_type<'a>(values: impl IntoIterator<Item = &'a str>) -> DataType {
    let mut column: Option<Kind> = None;
    for value in values {
        let this = kind(value);
        column = Some(match (column, this) {
            (None, k) => k,
            (Some(a), b) if a == b => a,
            (Some(Kind::Integer), Kind::Decimal) | (Some(Kind::Decimal), Kind::Integer) => {
                Kind::Decimal
            }
            _ => Kind::Text,
        });
        if column == Some(Kind::Text) {
            break;
        }
    }
    match column {
        Some(Kind::Integer) => DataType::Int64,
        Some(Kind::Decimal) => DataType::Float64,
        Some(Kind::Timestamp) => DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
        _ => DataType::Utf8,
    }
}

/// Builds the column of `index` as `data_type`, which every non-null value parses as.
fn build_column(rows: &[Vec<Option<String>>], index: usize, data_type: &DataType) -> ArrayRef {
    let values = rows.iter().map(|r| r[index].as_deref());
    match data_type {
        DataType::Int64 => {
            let mut b = Int64Builder::with_capacity(rows.len());
            values.for_each(|v| b.append_option(v.and_then(parse_integer)));
            Arc::new(b.finish())
        }
        DataType::Float64 => {
            let mut b = Float64Builder::with_capacity(rows.len());
            values.for_each(|v| {
                b.append_option(v.and_then(|v| {
                    parse_integer(v)
                        .map(|i| i as f64)
                        .or_else(|| parse_decimal(v))
                }))
            });
            Arc::new(b.finish())
        }
        DataType::Timestamp(_, _) => {
            let mut b = TimestampMillisecondBuilder::with_capacity(rows.len()).with_timezone("UTC");
            values.for_each(|v| b.append_option(v.and_then(parse_timestamp)));
            Arc::new(b.finish())
        }
        _ => {
            let mut b = StringBuilder::with_capacity(rows.len(), 0);
            values.for_each(|v| b.append_option(v));
            Arc::new(b.finish())
        }
    }
}

/// The arranged rows as one typed record batch. Every column is nullable (a field can be
/// missing from any row).
pub fn to_batch(arranged: &Arranged) -> Result<(SchemaRef, RecordBatch)> {
    let mut fields = Vec::with_capacity(arranged.columns.len());
    let mut arrays = Vec::with_capacity(arranged.columns.len());
    for (index, name) in arranged.columns.iter().enumerate() {
        let data_type = column_type(arranged.rows.iter().filter_map(|r| r[index].as_deref()));
        arrays.push(build_column(&arranged.rows, index, &data_type));
        fields.push(Field::new(name, data_type, true));
    }
    let schema: SchemaRef = Arc::new(Schema::new(fields));
    let options = RecordBatchOptions::new().with_row_count(Some(arranged.rows.len()));
    let batch = RecordBatch::try_new_with_options(schema.clone(), arrays, &options)?;
    Ok((schema, batch))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, Float64Array, Int64Array, StringArray, TimestampMillisecondArray};

    fn row(pairs: &[(&str, &str)]) -> Vec<(String, Option<String>)> {
        pairs
            .iter()
            .map(|(f, v)| (f.to_string(), Some(v.to_string())))
            .collect()
    }

    fn typed(values: &[&str]) -> DataType {
        column_type(values.iter().copied())
    }

    #[test]
    fn pointer_dropped_first_row_order_kept_missing_fields_null() {
        let arranged = arrange(vec![
            row(&[("b", "1"), ("@ptr", "x"), ("a", "2")]),
            row(&[("a", "3"), ("c", "4"), ("@ptr", "y")]),
            row(&[("c", "5"), ("b", "6"), ("b", "7")]),
        ]);
        assert_eq!(arranged.columns, ["b", "a", "c"]);
        let s = |v: &str| Some(v.to_string());
        assert_eq!(
            arranged.rows,
            vec![
                vec![s("1"), s("2"), None],
                vec![None, s("3"), s("4")],
                vec![s("6"), None, s("5")],
            ]
        );
    }

    #[test]
    fn integers_without_leading_zeros_are_bigint() {
        assert_eq!(typed(&["0", "-12", "9223372036854775807"]), DataType::Int64);
        assert_eq!(typed(&["012345678901", "1"]), DataType::Utf8);
        assert_eq!(typed(&["+1"]), DataType::Utf8);
        // Too large for 64 bits: text, not a double that would round it.
        assert_eq!(typed(&["9223372036854775808"]), DataType::Utf8);
    }

    #[test]
    fn integers_with_decimals_are_double() {
        assert_eq!(typed(&["1", "2.5", "-3e2", "4.0E-1"]), DataType::Float64);
        assert_eq!(typed(&["1.", "2"]), DataType::Utf8);
        assert_eq!(typed(&[".5"]), DataType::Utf8);
        assert_eq!(typed(&["00.5"]), DataType::Utf8);
        assert_eq!(typed(&["NaN"]), DataType::Utf8);
        assert_eq!(typed(&["inf"]), DataType::Utf8);
        assert_eq!(typed(&["1e999"]), DataType::Utf8);
    }

    #[test]
    fn insights_time_form_is_a_utc_timestamp() {
        let ts = DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()));
        assert_eq!(typed(&["2024-07-30 12:34:56.789"]), ts);
        assert_eq!(typed(&["2024-07-30 12:34:56"]), DataType::Utf8);
        assert_eq!(typed(&["2024-07-30T12:34:56.789Z"]), DataType::Utf8);
        assert_eq!(typed(&["2024-02-30 12:34:56.789"]), DataType::Utf8);
        assert_eq!(typed(&["2024-07-30 12:34:56.789", "5"]), DataType::Utf8);
    }

    #[test]
    fn mixed_empty_and_null_only_columns_are_varchar() {
        assert_eq!(typed(&["1", "x"]), DataType::Utf8);
        assert_eq!(typed(&["1", ""]), DataType::Utf8);
        assert_eq!(typed(&[]), DataType::Utf8);
    }

    #[test]
    fn batch_has_typed_columns_and_nulls() {
        let arranged = arrange(vec![
            row(&[
                ("@timestamp", "2024-07-30 00:00:01.500"),
                ("n", "7"),
                ("avg", "1"),
                ("name", "x"),
            ]),
            row(&[("avg", "2.5"), ("@ptr", "p")]),
        ]);
        let (schema, batch) = to_batch(&arranged).expect("batch");
        assert_eq!(schema.fields().len(), 4);
        assert_eq!(batch.num_rows(), 2);
        let ts = batch
            .column(0)
            .as_any()
            .downcast_ref::<TimestampMillisecondArray>()
            .expect("timestamp");
        assert_eq!(ts.value(0), 1_722_297_601_500);
        assert!(ts.is_null(1));
        let n = batch
            .column(1)
            .as_any()
            .downcast_ref::<Int64Array>()
            .expect("int");
        assert_eq!((n.value(0), n.is_null(1)), (7, true));
        let avg = batch
            .column(2)
            .as_any()
            .downcast_ref::<Float64Array>()
            .expect("double");
        assert_eq!((avg.value(0), avg.value(1)), (1.0, 2.5));
        let name = batch
            .column(3)
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("text");
        assert_eq!((name.value(0), name.is_null(1)), ("x", true));
    }

    #[test]
    fn empty_result_is_a_table_without_columns() {
        let (schema, batch) = to_batch(&arrange(Vec::new())).expect("batch");
        assert!(schema.fields().is_empty());
        assert_eq!(batch.num_rows(), 0);
    }
}
