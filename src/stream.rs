//! A running query as an Arrow `RecordBatchReader`, so Python consumes it through the Arrow C
//! stream interface batch by batch, with bounded memory.

use arrow::array::{RecordBatch, RecordBatchReader};
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use futures::StreamExt;
use spintrail_core::QueryStream;

use crate::runtime::runtime;

/// Pulls the next batch by blocking on the shared runtime (the consumer is a plain C stream).
pub struct BlockingReader {
    schema: SchemaRef,
    stream: Option<QueryStream>,
}

impl BlockingReader {
    pub fn new(stream: QueryStream) -> Self {
        BlockingReader {
            schema: stream.schema(),
            stream: Some(stream),
        }
    }
}

impl Iterator for BlockingReader {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        let stream = self.stream.as_mut()?;
        match runtime().block_on(stream.next()) {
            Some(Ok(batch)) => Some(Ok(batch)),
            Some(Err(err)) => {
                self.stream = None;
                Some(Err(ArrowError::ExternalError(Box::new(err))))
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
