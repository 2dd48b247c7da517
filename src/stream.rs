//! A running query as an Arrow `RecordBatchReader`, so Python consumes it through the Arrow C
//! stream interface batch by batch, with bounded memory. Ctrl-C while waiting for a batch stops
//! the query and ends the stream with an error tagged `KeyboardInterrupt` (the consumer is C
//! code, so it cannot raise it; the Python wrapper does). Errors carry their Python class name as
//! a tag, so the wrapper can raise the same class that `sql()` would.

use arrow::array::{RecordBatch, RecordBatchReader};
use arrow::datatypes::SchemaRef;
use std::time::Duration;

use arrow::error::ArrowError;
use futures::stream::BoxStream;
use futures::StreamExt;
use pyo3::exceptions::PyKeyboardInterrupt;
use pyo3::Python;
use pyo3_arrow::PyRecordBatchReader;

use crate::errors::class_name;
use crate::runtime::runtime;

/// Pulls the next batch by blocking on the shared runtime (the consumer is a plain C stream).
pub struct BlockingReader {
    schema: SchemaRef,
    stream: Option<BoxStream<'static, spintrail_core::Result<RecordBatch>>>,
}

impl BlockingReader {
    /// Any engine's stream as the reader Python receives (an Arrow C stream).
    pub fn into_python(
        schema: SchemaRef,
        stream: BoxStream<'static, spintrail_core::Result<RecordBatch>>,
    ) -> PyRecordBatchReader {
        PyRecordBatchReader::new(Box::new(BlockingReader {
            schema,
            stream: Some(stream),
        }))
    }
}

impl Iterator for BlockingReader {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        let stream = self.stream.as_mut()?;
        let mut interrupt = None;
        let next = runtime().block_on(async {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut next = stream.next();
            loop {
                tokio::select! {
                    item = &mut next => return item,
                    _ = tick.tick() => {
                        if let Err(err) = Python::attach(|py| py.check_signals()) {
                            interrupt = Some(err);
                            return None;
                        }
                    }
                }
            }
        });
        if let Some(err) = interrupt {
            // Dropping the stream stops the query's readers and operators.
            self.stream = None;
            let tagged = Python::attach(|py| {
                if err.is_instance_of::<PyKeyboardInterrupt>(py) {
                    "[spintrail:KeyboardInterrupt] the query was interrupted".to_string()
                } else {
                    format!("[spintrail:QueryCancelledError] query cancelled by a signal handler: {err}")
                }
            });
            return Some(Err(ArrowError::ExternalError(tagged.into())));
        }
        match next {
            Some(Ok(batch)) => Some(Ok(batch)),
            Some(Err(err)) => {
                self.stream = None;
                let tagged = format!("[spintrail:{}] {err}", class_name(&err));
                Some(Err(ArrowError::ExternalError(tagged.into())))
            }
            None => {
                self.stream = None;
                None
            }
        }
    }
}

impl RecordBatchReader for BlockingReader {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}
