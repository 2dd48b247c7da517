//! Argument and result helpers shared by the function implementations (`functions`,
//! `more_functions`, `json`, `time`, `url`): the strict/lenient twins of a function family, argument
//! type checks, per-row argument arrays and lenient results. Depends on nothing else in `sql/` but
//! `messages` (for Trino's wording of a wrong call).

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Signature, Volatility};
use datafusion::prelude::SessionContext;

use super::messages;
use crate::Error;

/// Prefix of the lenient twins used inside `try(...)`.
pub const TRY_PREFIX: &str = "__try_";

/// A family of our Trino functions, one enum value each. Every member is registered under its
/// Trino name (errors name the function and the offending value); one that can fail on data is
/// registered once more as `__try_<name>`, the lenient twin used inside `try(...)`, which yields
/// NULL instead.
pub trait Family: Copy + 'static {
    /// Every member, in registration order.
    const ALL: &'static [Self];
    /// The Trino name.
    fn name(self) -> &'static str;
    /// Whether it can fail on data, and so has a lenient twin.
    fn fallible(self) -> bool;
    /// The UDF of the strict function or of its lenient twin.
    fn udf(self, lenient: bool) -> ScalarUDF;
}

/// Registers every member of a family, and the lenient twins of the fallible ones.
pub fn register<F: Family>(ctx: &SessionContext) {
    for member in F::ALL {
        ctx.register_udf(member.udf(false));
        if member.fallible() {
            ctx.register_udf(member.udf(true));
        }
    }
}

/// Whether `name` is a member of the family with a lenient twin.
pub fn has_lenient_twin<F: Family>(name: &str) -> bool {
    F::ALL.iter().any(|m| m.name() == name && m.fallible())
}

/// One function of a family, strict or lenient: what its `ScalarUDFImpl` reads.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Twin<F> {
    pub kind: F,
    pub lenient: bool,
    /// The registered name: the Trino name, with [`TRY_PREFIX`] for the lenient twin.
    pub name: String,
    pub signature: Signature,
}

impl<F: Family> Twin<F> {
    pub fn new(kind: F, lenient: bool) -> Self {
        let name = if lenient {
            format!("{TRY_PREFIX}{}", kind.name())
        } else {
            kind.name().to_string()
        };
        Twin {
            kind,
            lenient,
            name,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// Whether an argument of type `t` is text (or a NULL literal).
pub fn is_string(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null
    )
}

/// Whether an argument of type `t` is an integer (or a NULL literal).
pub fn is_integer(t: &DataType) -> bool {
    t.is_integer() || matches!(t, DataType::Null)
}

/// Trino's error for a call of `name` whose argument types `got` do not fit `expected`.
pub fn type_error(name: &str, expected: &str, got: &[DataType]) -> DataFusionError {
    fail(messages::unexpected_parameters(name, got, expected))
}

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

/// An optional bigint argument (a group, a limit, an instance): `None` when the call omits it.
pub fn optional_int64(arrays: &[ArrayRef], index: usize) -> DfResult<Option<&Int64Array>> {
    arrays.get(index).map(int64_array).transpose()
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
