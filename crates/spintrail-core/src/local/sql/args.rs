//! Argument and result helpers shared by the function implementations (`functions`, `json`,
//! `time`). A leaf: it depends on nothing else in `sql/`.

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, StringArray};
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::ColumnarValue;

use crate::Error;

/// An error of one of our functions, carried through DataFusion as our own [`Error::Sql`].
pub(crate) fn fail(message: String) -> DataFusionError {
    Error::Sql(message).into()
}

/// The arguments as arrays of one common length (1 when all are scalars).
pub struct Arrays {
    pub arrays: Vec<ArrayRef>,
    pub all_scalar: bool,
    pub len: usize,
}

pub fn arrays(args: &[ColumnarValue], number_rows: usize) -> DfResult<Arrays> {
    let all_scalar = args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
    let len = if all_scalar { 1 } else { number_rows };
    let arrays = args
        .iter()
        .map(|a| a.to_array(len))
        .collect::<DfResult<Vec<_>>>()?;
    Ok(Arrays {
        arrays,
        all_scalar,
        len,
    })
}

/// Wraps a result array: a scalar when all inputs were scalars.
pub fn finish(array: ArrayRef, all_scalar: bool) -> DfResult<ColumnarValue> {
    if all_scalar {
        Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
            &array, 0,
        )?))
    } else {
        Ok(ColumnarValue::Array(array))
    }
}

/// A literal string argument (Some(None) for a NULL literal); None when it varies per row.
pub fn literal_str(arg: &ColumnarValue) -> Option<Option<&str>> {
    match arg {
        ColumnarValue::Scalar(
            ScalarValue::Utf8(v) | ScalarValue::LargeUtf8(v) | ScalarValue::Utf8View(v),
        ) => Some(v.as_deref()),
        ColumnarValue::Scalar(ScalarValue::Null) => Some(None),
        _ => None,
    }
}

pub fn string_array(array: &ArrayRef) -> DfResult<&StringArray> {
    array
        .as_string_opt::<i32>()
        .ok_or_else(|| fail(format!("expected varchar, got {}", array.data_type())))
}

pub fn int64_array(array: &ArrayRef) -> DfResult<&Int64Array> {
    array
        .as_primitive_opt()
        .ok_or_else(|| fail(format!("expected bigint, got {}", array.data_type())))
}

/// Either the value or, in lenient mode, NULL; otherwise the error.
pub fn lenient_or<T>(
    r: std::result::Result<Option<T>, String>,
    lenient: bool,
) -> DfResult<Option<T>> {
    match r {
        Ok(v) => Ok(v),
        Err(_) if lenient => Ok(None),
        Err(msg) => Err(fail(msg)),
    }
}
