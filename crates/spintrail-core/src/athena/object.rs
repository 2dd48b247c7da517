//! Fast fetch: read what Athena wrote to S3 instead of paging through `GetQueryResults`.
//!
//! Objects are read with parallel ranged GETs, in order. The CSV result object (`<id>.csv`, the
//! result of a DML statement) is parsed incrementally as its ranges arrive, with the column types
//! from `ResultSetMetadata`; Athena writes RFC 4180 CSV that quotes every value (embedded quotes
//! doubled, newlines kept inside quotes) and writes NULL as an empty unquoted field, so NULL and
//! the empty string stay apart. A record, or a multi-byte character, may span ranges. UNLOAD
//! results are Parquet files under a prefix (several, or none for an empty result), read with
//! their own (nested) types.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};

use super::execution::{athena_error, call_error, patiently, Shared};
use super::types::BatchBuilder;
use super::{AthenaFailure, QueryInfo};
use crate::Result;

/// GETs in flight per object.
const CONCURRENCY: usize = 8;
const MIN_RANGE: u64 = 1 << 20;
const MAX_RANGE: u64 = 16 << 20;
/// Overrides the size of each ranged GET (bytes, at least [`SMALLEST_RANGE`]): a tuning knob, and
/// how the tests make records and characters straddle many range boundaries.
pub const RANGE_BYTES_VARIABLE: &str = "SPINTRAIL_S3_RANGE_BYTES";
const SMALLEST_RANGE: u64 = 1024;

/// The size of each ranged GET of an object of `size` bytes.
fn range_bytes(size: u64) -> Result<u64> {
    match std::env::var(RANGE_BYTES_VARIABLE) {
        Ok(text) => match text.trim().parse::<u64>() {
            Ok(n) if n >= SMALLEST_RANGE => Ok(n),
            _ => Err(crate::Error::InvalidArgument(format!(
                "{RANGE_BYTES_VARIABLE}={text:?} is not a whole number of bytes of at least \
                 {SMALLEST_RANGE}; unset it to let spintrail choose"
            ))),
        },
        Err(_) => Ok((size / CONCURRENCY as u64).clamp(MIN_RANGE, MAX_RANGE)),
    }
}

/// Splits `s3://bucket/key` into its parts.
pub(super) fn parse_s3_url(url: &str) -> Result<(String, String)> {
    let rest = url.strip_prefix("s3://").ok_or_else(|| {
        athena_error(
            AthenaFailure::Call,
            None,
            format!("{url:?} is not an s3:// location"),
        )
    })?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(athena_error(
            AthenaFailure::Call,
            None,
            format!("{url:?} names no bucket"),
        ));
    }
    Ok((bucket.to_string(), key.to_string()))
}

/// The size of an object.
pub(super) async fn object_size(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    query_id: &str,
) -> Result<u64> {
    let head = patiently(s3.config().retry_config(), || {
        s3.head_object().bucket(bucket).key(key).send()
    })
    .await
    .map_err(|e| {
        call_error(
            &format!("s3:HeadObject s3://{bucket}/{key}"),
            Some(query_id),
            e,
        )
    })?;
    Ok(head.content_length().unwrap_or(0).max(0) as u64)
}

/// The object's bytes as ordered chunks, fetched by up to [`CONCURRENCY`] ranged GETs at once.
pub(super) fn ranged_chunks(
    s3: aws_sdk_s3::Client,
    bucket: String,
    key: String,
    size: u64,
    query_id: String,
) -> BoxStream<'static, Result<Bytes>> {
    let range = match range_bytes(size) {
        Ok(range) => range,
        Err(err) => return futures::stream::once(async move { Err(err) }).boxed(),
    };
    let starts: Vec<u64> = (0..size).step_by(range as usize).collect();
    futures::stream::iter(starts)
        .map(move |start| {
            let end = (start + range).min(size) - 1;
            let request = s3
                .get_object()
                .bucket(&bucket)
                .key(&key)
                .range(format!("bytes={start}-{end}"));
            let step = format!("s3:GetObject s3://{bucket}/{key} bytes {start}-{end}");
            let query_id = query_id.clone();
            let retry = s3.config().retry_config().cloned();
            async move {
                // A body cut off mid-stream surfaces after the SDK's retries: read it again
                // under the same retry policy.
                let mut cut_off = 0;
                let bytes = loop {
                    let answer = patiently(retry.as_ref(), || request.clone().send())
                        .await
                        .map_err(|e| call_error(&step, Some(&query_id), e))?;
                    match answer.body.collect().await {
                        Ok(body) => break body.into_bytes(),
                        Err(_) if cut_off + 1 < crate::aws::DEFAULT_MAX_ATTEMPTS => {
                            cut_off += 1;
                            crate::aws::backoff(cut_off).await;
                        }
                        Err(e) => {
                            return Err(athena_error(
                                AthenaFailure::Call,
                                Some(&query_id),
                                format!(
                                    "{step}: reading the body: {} (after {} attempts)",
                                    crate::aws::error_chain(&e),
                                    cut_off + 1
                                ),
                            ))
                        }
                    }
                };
                if bytes.len() as u64 != end - start + 1 {
                    return Err(athena_error(
                        AthenaFailure::Call,
                        Some(&query_id),
                        format!(
                            "{step}: got {} bytes instead of {} (the object changed while it \
                             was read?)",
                            bytes.len(),
                            end - start + 1
                        ),
                    ));
                }
                Ok(bytes)
            }
        })
        .buffered(CONCURRENCY)
        .boxed()
}

/// Called with each record's field ends (and whether each was quoted) and its bytes.
pub(super) type OnRecord<'a> = dyn FnMut(&[(usize, bool)], &[u8]) -> Result<(), String> + 'a;

/// A CSV tokenizer fed chunk by chunk; a record may span chunks.
#[derive(Default)]
pub(super) struct CsvTokenizer {
    state: CsvState,
    /// The current record's field bytes, back to back.
    buffer: Vec<u8>,
    /// End offset in `buffer` and whether it was quoted, per finished field.
    fields: Vec<(usize, bool)>,
    field_quoted: bool,
}

#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum CsvState {
    #[default]
    FieldStart,
    Unquoted,
    Quoted,
    QuoteInQuoted,
}

impl CsvTokenizer {
    /// Tokenizes `chunk`, calling `record` for every record that ends in it.
    pub fn feed(&mut self, chunk: &[u8], record: &mut OnRecord<'_>) -> Result<(), String> {
        for &b in chunk {
            match (self.state, b) {
                (CsvState::FieldStart, b'"') => {
                    self.state = CsvState::Quoted;
                    self.field_quoted = true;
                }
                (CsvState::Quoted, b'"') => self.state = CsvState::QuoteInQuoted,
                (CsvState::Quoted, _) => self.buffer.push(b),
                (CsvState::QuoteInQuoted, b'"') => {
                    self.buffer.push(b'"');
                    self.state = CsvState::Quoted;
                }
                (_, b',') => self.end_field(),
                (_, b'\n') => {
                    self.end_field();
                    record(&self.fields, &self.buffer)?;
                    self.fields.clear();
                    self.buffer.clear();
                }
                (_, b'\r') => {}
                // A stray quote inside a quoted value (a writer that does not double quotes):
                // keep it as text rather than failing.
                (CsvState::QuoteInQuoted, _) => {
                    self.buffer.push(b'"');
                    self.buffer.push(b);
                    self.state = CsvState::Quoted;
                }
                (_, _) => {
                    self.buffer.push(b);
                    self.state = CsvState::Unquoted;
                }
            }
        }
        Ok(())
    }

    fn end_field(&mut self) {
        self.fields.push((self.buffer.len(), self.field_quoted));
        self.field_quoted = false;
        self.state = CsvState::FieldStart;
    }

    /// Ends the input; a last record without a newline is still a record.
    pub fn finish(&mut self, record: &mut OnRecord<'_>) -> Result<(), String> {
        if self.state == CsvState::Quoted {
            return Err("the CSV result ends inside a quoted value (truncated object?)".into());
        }
        if !self.fields.is_empty() || !self.buffer.is_empty() || self.state != CsvState::FieldStart
        {
            self.end_field();
            record(&self.fields, &self.buffer)?;
            self.fields.clear();
            self.buffer.clear();
        }
        Ok(())
    }
}

/// The values of one tokenized record: an empty unquoted field is NULL.
pub(super) fn record_values<'a>(
    fields: &'a [(usize, bool)],
    buffer: &'a [u8],
) -> Result<Vec<Option<&'a str>>, String> {
    let mut start = 0;
    fields
        .iter()
        .map(|&(end, quoted)| {
            let bytes = &buffer[start..end];
            start = end;
            if bytes.is_empty() && !quoted {
                return Ok(None);
            }
            std::str::from_utf8(bytes)
                .map(Some)
                .map_err(|_| "a value is not valid UTF-8".to_string())
        })
        .collect()
}

/// The CSV result object as batches of `batch_size` rows, parsed while its ranges arrive.
#[allow(clippy::too_many_arguments)]
pub(super) fn csv_stream(
    s3: aws_sdk_s3::Client,
    bucket: String,
    key: String,
    size: u64,
    schema: SchemaRef,
    header_row: bool,
    batch_size: usize,
    query_id: String,
    info: Shared<QueryInfo>,
) -> BoxStream<'static, Result<RecordBatch>> {
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<RecordBatch>>(2);
    let failed = {
        let query_id = query_id.clone();
        move |m: String| athena_error(AthenaFailure::Result, Some(&query_id), m)
    };
    tokio::spawn(async move {
        let mut chunks = ranged_chunks(s3, bucket.clone(), key.clone(), size, query_id);
        let mut tokenizer = CsvTokenizer::default();
        let mut sink = CsvSink {
            builder: BatchBuilder::new(schema, batch_size),
            ready: Vec::new(),
            row: 0,
            first: true,
            header_row,
            batch_size,
        };
        let where_ = format!("s3://{bucket}/{key}");
        loop {
            let next = chunks.next().await;
            let done = next.is_none();
            let outcome = match next {
                Some(Ok(chunk)) => tokenizer
                    .feed(&chunk, &mut |f, b| sink.record(f, b))
                    .map_err(|m| failed(format!("{where_}: {m}"))),
                Some(Err(err)) => Err(err),
                None => tokenizer
                    .finish(&mut |f, b| sink.record(f, b))
                    .and_then(|()| sink.flush())
                    .map_err(|m| failed(format!("{where_}: {m}"))),
            };
            if let Err(err) = outcome {
                let _ = sender.send(Err(err)).await;
                return;
            }
            for batch in sink.ready.drain(..) {
                if let Ok(mut info) = info.lock() {
                    info.rows += batch.num_rows() as u64;
                }
                if sender.send(Ok(batch)).await.is_err() {
                    return; // the consumer is gone
                }
            }
            if done {
                return;
            }
        }
    });
    futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    })
    .boxed()
}

/// Turns CSV records into batches.
struct CsvSink {
    builder: BatchBuilder,
    ready: Vec<RecordBatch>,
    row: u64,
    first: bool,
    /// Whether the first record is the header (DML results only).
    header_row: bool,
    batch_size: usize,
}

impl CsvSink {
    fn record(&mut self, fields: &[(usize, bool)], buffer: &[u8]) -> Result<(), String> {
        if std::mem::take(&mut self.first) && self.header_row {
            return Ok(());
        }
        let values = record_values(fields, buffer)?;
        self.row += 1;
        self.builder.append_row(self.row, values.into_iter())?;
        if self.builder.rows() >= self.batch_size {
            self.ready.push(self.builder.finish()?);
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), String> {
        if self.builder.rows() > 0 {
            self.ready.push(self.builder.finish()?);
        }
        Ok(())
    }
}

/// The Parquet files an UNLOAD wrote under `prefix`, read in parallel, in key order.
pub(super) async fn unload_batches(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    batch_size: usize,
    query_id: &str,
) -> Result<(Option<SchemaRef>, Vec<RecordBatch>)> {
    let listing = crate::s3::list::objects(s3, bucket, prefix, false, None, |e| {
        call_error(
            &format!("s3:ListObjectsV2 s3://{bucket}/{prefix}"),
            Some(query_id),
            e,
        )
    })
    .await?;
    // UNLOAD writes only data files; skip folder markers and empty objects.
    let mut objects: Vec<(String, u64)> = listing
        .objects
        .into_iter()
        .filter(|o| o.size > 0 && !o.key.ends_with('/'))
        .map(|o| (o.key, o.size))
        .collect();
    objects.sort();
    let files = futures::stream::iter(objects)
        .map(|(key, size)| async move {
            let chunks: Vec<Bytes> = ranged_chunks(
                s3.clone(),
                bucket.to_string(),
                key.clone(),
                size,
                query_id.to_string(),
            )
            .try_collect()
            .await?;
            let mut whole = Vec::with_capacity(size as usize);
            for chunk in chunks {
                whole.extend_from_slice(&chunk);
            }
            read_parquet(Bytes::from(whole), batch_size).map_err(|m| {
                athena_error(
                    AthenaFailure::Result,
                    Some(query_id),
                    format!("s3://{bucket}/{key}: {m}"),
                )
            })
        })
        .buffered(CONCURRENCY)
        .try_collect::<Vec<_>>()
        .await?;
    let mut schema: Option<SchemaRef> = None;
    let mut batches = Vec::new();
    for (file_schema, file_batches) in files {
        match &schema {
            None => schema = Some(file_schema),
            Some(first) if first.fields() != file_schema.fields() => {
                return Err(athena_error(
                    AthenaFailure::Result,
                    Some(query_id),
                    format!("the UNLOAD files under s3://{bucket}/{prefix} have different schemas"),
                ))
            }
            Some(_) => {}
        }
        batches.extend(file_batches);
    }
    Ok((schema, batches))
}

fn read_parquet(data: Bytes, batch_size: usize) -> Result<(SchemaRef, Vec<RecordBatch>), String> {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let builder = ParquetRecordBatchReaderBuilder::try_new(data)
        .map_err(|e| format!("not a readable Parquet file: {e}"))?;
    let schema: SchemaRef = Arc::clone(builder.schema());
    let reader = builder
        .with_batch_size(batch_size)
        .build()
        .map_err(|e| e.to_string())?;
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    Ok((schema, batches))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokenize(chunks: &[&[u8]]) -> Vec<Vec<Option<String>>> {
        let mut out = Vec::new();
        let mut tokenizer = CsvTokenizer::default();
        let mut on_record = |fields: &[(usize, bool)], buffer: &[u8]| -> Result<(), String> {
            let values = record_values(fields, buffer)?;
            out.push(values.into_iter().map(|v| v.map(str::to_string)).collect());
            Ok(())
        };
        for chunk in chunks {
            tokenizer.feed(chunk, &mut on_record).unwrap();
        }
        tokenizer.finish(&mut on_record).unwrap();
        out
    }

    #[test]
    fn null_empty_quotes_and_newlines_across_chunks() {
        let rows = tokenize(&[
            b"\"a\",\"b\"\n\"x\"\"y\",",
            b"\n\"\",\"line\nbreak\"\n\"la",
            b"st\",\"1\"",
        ]);
        assert_eq!(
            rows,
            vec![
                vec![Some("a".into()), Some("b".into())],
                vec![Some("x\"y".into()), None],
                vec![Some("".into()), Some("line\nbreak".into())],
                vec![Some("last".into()), Some("1".into())],
            ]
        );
    }

    #[test]
    fn multi_byte_characters_split_between_chunks() {
        let text = "\"é€\",\"𝄞 \"\"q\"\"\"\n".as_bytes();
        // Every split point, including those inside a character's bytes.
        for cut in 1..text.len() {
            let rows = tokenize(&[&text[..cut], &text[cut..]]);
            assert_eq!(
                rows,
                vec![vec![Some("é€".into()), Some("𝄞 \"q\"".into())]],
                "split at byte {cut}"
            );
        }
    }

    #[test]
    fn truncated_quoted_value_is_an_error() {
        let mut tokenizer = CsvTokenizer::default();
        let mut sink = |_: &[(usize, bool)], _: &[u8]| -> Result<(), String> { Ok(()) };
        tokenizer.feed(b"\"open", &mut sink).unwrap();
        assert!(tokenizer.finish(&mut sink).is_err());
    }

    #[test]
    fn s3_urls() {
        assert_eq!(
            parse_s3_url("s3://b/k/x.csv").unwrap(),
            ("b".to_string(), "k/x.csv".to_string())
        );
        assert!(parse_s3_url("https://b/k").is_err());
        assert!(parse_s3_url("s3:///k").is_err());
    }
}
