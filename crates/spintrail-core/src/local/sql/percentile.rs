//! Trino's `approx_percentile` keeps its input's type (bigint in, bigint out; real in, real out);
//! DataFusion's `approx_percentile_cont[_with_weight]` always answers double. This aggregate wraps
//! DataFusion's and converts its answer to the type Trino returns.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{plan_err, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility,
};
use datafusion::physical_expr::expressions::CastExpr;
use datafusion::physical_expr::PhysicalExpr;

/// `approx_percentile` (name given) over DataFusion's `inner`, answering in Trino's type.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(super) struct TrinoPercentile {
    name: String,
    inner: Arc<AggregateUDF>,
    signature: Signature,
}

impl TrinoPercentile {
    pub(super) fn new(name: &str, inner: Arc<AggregateUDF>) -> Self {
        TrinoPercentile {
            name: name.to_string(),
            inner,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// The type Trino's approx_percentile returns for a value of `input`.
fn trino_type(input: &DataType) -> DataType {
    if input.is_integer() {
        DataType::Int64
    } else if *input == DataType::Float32 {
        DataType::Float32
    } else {
        DataType::Float64
    }
}

impl AggregateUDFImpl for TrinoPercentile {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        // The value keeps its own integer or float type (DataFusion's digest reads any of them)
        // so the answer can be given in it; percentages and weights are doubles.
        arg_types
            .iter()
            .enumerate()
            .map(|(i, t)| match (i, t) {
                (0, t) if t.is_integer() || t.is_floating() => Ok(t.clone()),
                (0, t) if t.is_numeric() || t.is_null() => Ok(DataType::Float64),
                (0, t) => plan_err!("approx_percentile needs a number to rank, not {t}"),
                _ => Ok(DataType::Float64),
            })
            .collect()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(trino_type(arg_types.first().unwrap_or(&DataType::Float64)))
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let target = args.return_field.data_type().clone();
        // DataFusion's digest takes doubles: show it the value as one, and convert each batch.
        let exprs: Vec<Arc<dyn PhysicalExpr>> = args
            .exprs
            .iter()
            .enumerate()
            .map(|(i, e)| -> Arc<dyn PhysicalExpr> {
                if i == 0 {
                    Arc::new(CastExpr::new(Arc::clone(e), DataType::Float64, None))
                } else {
                    Arc::clone(e)
                }
            })
            .collect();
        let fields = as_double_input(args.expr_fields);
        let inner_field = self.inner_return(&fields, args.name)?;
        let inner = self.inner.accumulator(AccumulatorArgs {
            return_field: inner_field,
            exprs: &exprs,
            expr_fields: &fields,
            ..args
        })?;
        Ok(Box::new(Converting { inner, target }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let fields = as_double_input(args.input_fields);
        let inner_field = self.inner_return(&fields, args.name)?;
        self.inner.state_fields(StateFieldsArgs {
            return_field: inner_field,
            input_fields: &fields,
            ..args
        })
    }
}

impl TrinoPercentile {
    fn inner_return(&self, fields: &[FieldRef], name: &str) -> Result<FieldRef> {
        let types: Vec<DataType> = fields.iter().map(|f| f.data_type().clone()).collect();
        Ok(Arc::new(Field::new(
            name,
            self.inner.return_type(&types)?,
            true,
        )))
    }
}

/// The argument fields with the value as a double.
fn as_double_input(fields: &[FieldRef]) -> Vec<FieldRef> {
    fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            if i == 0 {
                Arc::new(f.as_ref().clone().with_data_type(DataType::Float64))
            } else {
                Arc::clone(f)
            }
        })
        .collect()
}

/// DataFusion's accumulator, with its double answer rounded and cast to `target`.
#[derive(Debug)]
struct Converting {
    inner: Box<dyn Accumulator>,
    target: DataType,
}

impl Accumulator for Converting {
    fn update_batch(&mut self, values: &[arrow::array::ArrayRef]) -> Result<()> {
        let mut values = values.to_vec();
        if let Some(first) = values.first_mut() {
            *first = arrow::compute::cast(first, &DataType::Float64)?;
        }
        self.inner.update_batch(&values)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let value = self.inner.evaluate()?;
        let value = match (&value, self.target.is_integer()) {
            // The digest interpolates; Trino answers a value of the input's type.
            (ScalarValue::Float64(Some(v)), true) => ScalarValue::Float64(Some(v.round())),
            _ => value,
        };
        value.cast_to(&self.target)
    }

    fn size(&self) -> usize {
        self.inner.size() + std::mem::size_of::<DataType>()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.inner.state()
    }

    fn merge_batch(&mut self, states: &[arrow::array::ArrayRef]) -> Result<()> {
        self.inner.merge_batch(states)
    }
}
