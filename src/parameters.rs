//! Python values as query parameters (`?`): the conversion both engines share.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDate, PyDateTime, PyDict, PyFloat, PyInt, PyString};
use spintrail_core::parameters::Param;

use crate::errors::InvalidArgumentError;

/// Converts a sequence of Python values; the message names the position and type of a bad one.
pub fn to_params(values: Option<Vec<Bound<'_, PyAny>>>) -> PyResult<Vec<Param>> {
    let Some(values) = values else {
        return Ok(Vec::new());
    };
    values
        .iter()
        .enumerate()
        .map(|(index, value)| {
            to_param(value).map_err(|err| {
                let reason = err.value(value.py()).to_string();
                InvalidArgumentError::new_err(format!("parameter {}: {reason}", index + 1))
            })
        })
        .collect()
}

fn to_param(value: &Bound<'_, PyAny>) -> PyResult<Param> {
    if value.is_none() {
        return Ok(Param::Null);
    }
    // bool before int: Python's bool is an int.
    if value.is_instance_of::<PyBool>() {
        return Ok(Param::Bool(value.extract()?));
    }
    if value.is_instance_of::<PyInt>() {
        return match value.extract::<i64>() {
            Ok(i) => Ok(Param::Int(i)),
            // Beyond bigint: keep it exact as a decimal literal.
            Err(_) => Ok(Param::Decimal(value.str()?.to_string())),
        };
    }
    if value.is_instance_of::<PyFloat>() {
        return Ok(Param::Float(value.extract()?));
    }
    if value.is_instance_of::<PyString>() {
        return Ok(Param::Text(value.extract()?));
    }
    if value.is_instance_of::<PyBytes>() {
        return Ok(Param::Bytes(value.extract()?));
    }
    // datetime before date: a datetime is a date.
    if value.is_instance_of::<PyDateTime>() {
        let py = value.py();
        let wall = if value.getattr("tzinfo")?.is_none() {
            value.clone()
        } else {
            // An aware datetime becomes its UTC wall time (Athena's TIMESTAMP has no zone).
            let utc = py.import("datetime")?.getattr("timezone")?.getattr("utc")?;
            let kwargs = PyDict::new(py);
            kwargs.set_item("tzinfo", py.None())?;
            value
                .call_method1("astimezone", (utc,))?
                .call_method("replace", (), Some(&kwargs))?
        };
        let text: String = wall.call_method1("isoformat", (" ",))?.extract()?;
        // isoformat() leaves out the fraction when it is zero.
        let parsed = chrono::NaiveDateTime::parse_from_str(&text, "%Y-%m-%d %H:%M:%S%.f")
            .or_else(|_| chrono::NaiveDateTime::parse_from_str(&text, "%Y-%m-%d %H:%M:%S"))
            .map_err(|e| PyTypeError::new_err(format!("datetime {text:?}: {e}")))?;
        return Ok(Param::Timestamp(parsed));
    }
    if value.is_instance_of::<PyDate>() {
        let text: String = value.call_method0("isoformat")?.extract()?;
        let parsed = chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d")
            .map_err(|e| PyTypeError::new_err(format!("date {text:?}: {e}")))?;
        return Ok(Param::Date(parsed));
    }
    let type_name = value.get_type().name()?.to_string();
    if type_name == "Decimal" {
        return Ok(Param::Decimal(value.str()?.to_string()));
    }
    Err(PyTypeError::new_err(format!(
        "a {type_name} cannot be a query parameter (use None, bool, int, float, str, bytes, \
         decimal.Decimal, datetime.date or datetime.datetime)"
    )))
}
