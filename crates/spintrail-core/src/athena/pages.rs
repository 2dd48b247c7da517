//! The result through `GetQueryResults`: pages of up to 1,000 rows, each converted to one Arrow
//! batch by the column types of `ResultSetMetadata`. The first page starts with a header row for
//! DML statements (SELECT) only, as the caller says; a `Datum` without a value is SQL NULL (an
//! empty string stays an empty string).

use aws_sdk_athena::operation::get_query_results::GetQueryResultsOutput;
use aws_sdk_athena::types::Row;
use futures::stream::BoxStream;
use futures::StreamExt;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

use super::execution::{athena_error, call_error, patiently, Shared};
use super::types::{BatchBuilder, ColumnType};
use super::{AthenaFailure, QueryInfo};
use crate::Result;

/// The most rows one `GetQueryResults` call returns.
pub(super) const PAGE_ROWS: i32 = 1000;

pub(super) async fn get_page(
    client: &aws_sdk_athena::Client,
    query_id: &str,
    max_results: i32,
    token: Option<String>,
) -> Result<GetQueryResultsOutput> {
    patiently(client.config().retry_config(), || {
        client
            .get_query_results()
            .query_execution_id(query_id)
            .max_results(max_results)
            .set_next_token(token.clone())
            .send()
    })
    .await
    .map_err(|e| call_error("athena:GetQueryResults", Some(query_id), e))
}

/// The result's columns as Athena reports them.
pub(super) fn columns(page: &GetQueryResultsOutput) -> Vec<ColumnType> {
    page.result_set()
        .and_then(|r| r.result_set_metadata())
        .map(|m| {
            m.column_info()
                .iter()
                .map(|c| ColumnType::new(c.name(), c.r#type(), c.precision(), c.scale()))
                .collect()
        })
        .unwrap_or_default()
}

fn values(row: &Row) -> impl ExactSizeIterator<Item = Option<&str>> {
    row.data().iter().map(|d| d.var_char_value())
}

/// The rows of all pages as batches, starting with `first` (already fetched for the metadata);
/// `header_row` drops the first row of the first page.
pub(super) fn stream(
    client: aws_sdk_athena::Client,
    query_id: String,
    schema: SchemaRef,
    first: GetQueryResultsOutput,
    header_row: bool,
    info: Shared<QueryInfo>,
) -> BoxStream<'static, Result<RecordBatch>> {
    struct State {
        client: aws_sdk_athena::Client,
        query_id: String,
        page: Option<GetQueryResultsOutput>,
        next: Option<String>,
        first: bool,
        row: u64,
    }
    let state = State {
        client,
        query_id,
        next: first.next_token().map(str::to_string),
        page: Some(first),
        first: true,
        row: 0,
    };
    futures::stream::try_unfold(state, move |mut state| {
        let schema = schema.clone();
        let info = info.clone();
        async move {
            let page = match state.page.take() {
                Some(page) => page,
                None => match state.next.take() {
                    Some(token) => {
                        let page = get_page(&state.client, &state.query_id, PAGE_ROWS, Some(token))
                            .await?;
                        state.next = page.next_token().map(str::to_string);
                        page
                    }
                    None => return Ok(None),
                },
            };
            let rows = page.result_set().map(|r| r.rows()).unwrap_or_default();
            let skip = usize::from(std::mem::take(&mut state.first) && header_row);
            let mut builder = BatchBuilder::new(schema, rows.len());
            for row in &rows[skip.min(rows.len())..] {
                state.row += 1;
                builder
                    .append_row(state.row, values(row))
                    .map_err(|m| athena_error(AthenaFailure::Result, Some(&state.query_id), m))?;
            }
            let batch = builder
                .finish()
                .map_err(|m| athena_error(AthenaFailure::Result, Some(&state.query_id), m))?;
            if let Ok(mut info) = info.lock() {
                info.rows += batch.num_rows() as u64;
            }
            Ok(Some((batch, state)))
        }
    })
    .boxed()
}
