//! Trino's aggregates that build a map: `map_agg(key, value)` (one entry per distinct key, the
//! first value seen for it; NULL keys are skipped) and `histogram(x)` (each distinct non-NULL
//! value and how many times it occurs). Both give NULL for a group without entries.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, MapArray, StructArray};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{DataType, Field, FieldRef, Fields};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, Signature, Volatility};

use super::args::fail;
use super::messages::unexpected_parameters;

/// Which map-building aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MapKind {
    MapAgg,
    Histogram,
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct MapAggregate {
    kind: MapKind,
    signature: Signature,
}

impl MapAggregate {
    pub(super) fn new(kind: MapKind) -> Self {
        MapAggregate {
            kind,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }

    fn function(&self) -> &'static str {
        match self.kind {
            MapKind::MapAgg => "map_agg",
            MapKind::Histogram => "histogram",
        }
    }

    /// (key type, value type) for the argument types.
    fn entry_types(&self, args: &[DataType]) -> (DataType, DataType) {
        let key = args.first().cloned().unwrap_or(DataType::Utf8);
        let value = match self.kind {
            MapKind::MapAgg => args.get(1).cloned().unwrap_or(DataType::Utf8),
            MapKind::Histogram => DataType::Int64,
        };
        (key, value)
    }
}

fn entries_field(key: &DataType, value: &DataType) -> FieldRef {
    Arc::new(Field::new(
        "entries",
        DataType::Struct(Fields::from(vec![
            Field::new("key", key.clone(), false),
            Field::new("value", value.clone(), true),
        ])),
        false,
    ))
}

pub fn map_type(key: &DataType, value: &DataType) -> DataType {
    DataType::Map(entries_field(key, value), false)
}

fn not_null(t: &DataType) -> DataType {
    match t {
        DataType::Null => DataType::Utf8,
        other => other.clone(),
    }
}

impl AggregateUDFImpl for MapAggregate {
    fn name(&self) -> &str {
        self.function()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let expected = match self.kind {
            MapKind::MapAgg => 2,
            MapKind::Histogram => 1,
        };
        if arg_types.len() != expected {
            let signature = match self.kind {
                MapKind::MapAgg => "K key, V value",
                MapKind::Histogram => "T value",
            };
            return Err(fail(unexpected_parameters(
                self.function(),
                arg_types,
                signature,
            )));
        }
        Ok(arg_types.iter().map(not_null).collect())
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        let (k, v) = self.entry_types(arg_types);
        Ok(map_type(&k, &v))
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let types: Vec<DataType> = args
            .expr_fields
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        let (key, value) = self.entry_types(&types);
        Ok(Box::new(MapAccumulator {
            kind: self.kind,
            key,
            value,
            entries: Vec::new(),
            index: HashMap::new(),
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let types: Vec<DataType> = args
            .input_fields
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        let (key, value) = self.entry_types(&types);
        Ok(vec![
            Arc::new(Field::new(
                format!("{}_keys", args.name),
                DataType::new_list(key, true),
                true,
            )),
            Arc::new(Field::new(
                format!("{}_values", args.name),
                DataType::new_list(value, true),
                true,
            )),
        ])
    }
}

#[derive(Debug)]
struct MapAccumulator {
    kind: MapKind,
    key: DataType,
    value: DataType,
    entries: Vec<(ScalarValue, ScalarValue)>,
    index: HashMap<ScalarValue, usize>,
}

impl MapAccumulator {
    fn add(&mut self, key: ScalarValue, value: ScalarValue) {
        match self.index.get(&key) {
            Some(&i) => {
                if self.kind == MapKind::Histogram {
                    let (ScalarValue::Int64(Some(old)), ScalarValue::Int64(Some(more))) =
                        (&self.entries[i].1, &value)
                    else {
                        return;
                    };
                    let sum = old + more;
                    self.entries[i].1 = ScalarValue::Int64(Some(sum));
                }
            }
            None => {
                self.index.insert(key.clone(), self.entries.len());
                self.entries.push((key, value));
            }
        }
    }

    fn list(values: Vec<ScalarValue>, t: &DataType) -> ScalarValue {
        ScalarValue::List(ScalarValue::new_list_nullable(&values, t))
    }
}

impl Accumulator for MapAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some(keys) = values.first() else {
            return Ok(());
        };
        for i in 0..keys.len() {
            if keys.is_null(i) {
                continue;
            }
            let key = ScalarValue::try_from_array(keys, i)?;
            let value = match self.kind {
                MapKind::Histogram => ScalarValue::Int64(Some(1)),
                MapKind::MapAgg => match values.get(1) {
                    Some(v) => ScalarValue::try_from_array(v, i)?,
                    None => ScalarValue::Null,
                },
            };
            self.add(key, value);
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let (Some(keys), Some(values)) = (states.first(), states.get(1)) else {
            return Ok(());
        };
        let (keys, values) = (keys.as_list::<i32>(), values.as_list::<i32>());
        for row in 0..keys.len() {
            if keys.is_null(row) || values.is_null(row) {
                continue;
            }
            let (k, v) = (keys.value(row), values.value(row));
            for j in 0..k.len() {
                self.add(
                    ScalarValue::try_from_array(&k, j)?,
                    ScalarValue::try_from_array(&v, j)?,
                );
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let (keys, values): (Vec<_>, Vec<_>) = self.entries.iter().cloned().unzip();
        Ok(vec![
            Self::list(keys, &self.key),
            Self::list(values, &self.value),
        ])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let data_type = map_type(&self.key, &self.value);
        if self.entries.is_empty() {
            return ScalarValue::try_from(&data_type);
        }
        let (keys, values): (Vec<_>, Vec<_>) = self.entries.iter().cloned().unzip();
        let keys = ScalarValue::iter_to_array(keys)?;
        let values = if values.iter().all(ScalarValue::is_null) {
            arrow::array::new_null_array(&self.value, values.len())
        } else {
            ScalarValue::iter_to_array(values)?
        };
        let field = entries_field(&self.key, &self.value);
        let DataType::Struct(fields) = field.data_type() else {
            return Err(fail("map entries are not a struct".into()));
        };
        let entries = StructArray::try_new(fields.clone(), vec![keys, values], None)?;
        let map = MapArray::try_new(
            field,
            OffsetBuffer::from_lengths([self.entries.len()]),
            entries,
            None,
            false,
        )?;
        Ok(ScalarValue::Map(Arc::new(map)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self
                .entries
                .iter()
                .map(|(k, v)| k.size() + v.size() + 16)
                .sum::<usize>()
    }
}
