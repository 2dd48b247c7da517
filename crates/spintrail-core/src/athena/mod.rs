//! The distributed engine: the same queries on Amazon Athena, with typed Arrow results.
//!
//! A query is started with `StartQueryExecution` (parameters through `ExecutionParameters`),
//! polled with backoff until it ends, and stopped if the caller gives up. Its result is fetched
//! one of three ways ([`Fetch`]): pages of `GetQueryResults`, the CSV result object Athena wrote
//! to S3 (parallel ranged reads, chosen automatically above a size threshold), or — for typed
//! nested values — an `UNLOAD` to Parquet. Every result carries a [`QueryInfo`]: query id, bytes
//! scanned, engine time and the cost at the price per TB scanned.

mod estimate;
mod execution;
mod object;
mod pages;
pub mod types;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::datatypes::{Schema, SchemaRef};
use futures::stream::BoxStream;
use futures::{Stream, StreamExt, TryStreamExt};

use crate::aws::ConnectOptions;
use crate::error::AthenaFailure;
use crate::parameters::{self, Param};
use crate::result::{Fetch, QueryFacts, QueryInfo, QueryResult};
use crate::{Error, Result};

pub use estimate::{human_bytes, CostLimits, Estimate, MAX_PREFIXES_KEPT};

/// Athena's price per TB (2^40 bytes) scanned in most regions, in US dollars.
pub const DEFAULT_PRICE_PER_TB: f64 = 5.0;
/// Results at least this large (the CSV object's size) are read from S3 instead of paged.
pub const DEFAULT_FAST_FETCH_BYTES: u64 = 1 << 20;

/// Where and how to run queries on Athena.
#[derive(Debug, Clone)]
pub struct AthenaOptions {
    pub database: String,
    pub table: String,
    pub catalog: String,
    pub workgroup: String,
    pub region: Option<String>,
    /// Where Athena writes results; `None` uses the workgroup's location.
    pub output_location: Option<String>,
    pub connect: ConnectOptions,
    /// Stop a query that runs longer than this.
    pub timeout: Option<Duration>,
    /// Reuse a previous identical query's result up to this age (Athena's result reuse).
    pub result_reuse_minutes: Option<i32>,
    pub fetch: Fetch,
    /// The CSV object size from which `Fetch::Auto` reads it instead of paging.
    pub fast_fetch_bytes: u64,
    pub batch_size: usize,
    pub price_per_tb: f64,
    /// The longest wait between two polls of a running query.
    pub max_poll_interval: Duration,
    /// Queries estimated above these limits are refused before they start (see
    /// [`AthenaSession::estimate`]).
    pub limits: CostLimits,
}

impl Default for AthenaOptions {
    fn default() -> Self {
        AthenaOptions {
            database: "default".into(),
            table: "cloudtrail_logs".into(),
            catalog: "AwsDataCatalog".into(),
            // What `spintrail provision` creates: results location, encryption and the
            // bytes-scanned cutoff are enforced there.
            workgroup: "spintrail".into(),
            region: None,
            output_location: None,
            // The one retry policy of every AWS path (crate::aws); Athena throttles
            // StartQueryExecution and GetQueryExecution under load.
            connect: ConnectOptions::default(),
            timeout: None,
            result_reuse_minutes: None,
            fetch: Fetch::Auto,
            fast_fetch_bytes: DEFAULT_FAST_FETCH_BYTES,
            batch_size: 65536,
            price_per_tb: DEFAULT_PRICE_PER_TB,
            max_poll_interval: Duration::from_secs(2),
            limits: CostLimits::default(),
        }
    }
}

/// A running query's state, reported on every poll.
#[derive(Debug, Clone)]
pub struct Progress {
    pub query_id: String,
    /// QUEUED, RUNNING, SUCCEEDED, FAILED or CANCELLED.
    pub state: String,
    pub elapsed: Duration,
    pub data_scanned_bytes: i64,
}

pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

impl QueryInfo {
    fn from_execution(
        query_id: &str,
        sql: &str,
        execution: &aws_sdk_athena::types::QueryExecution,
        price_per_tb: f64,
    ) -> Self {
        let stats = execution.statistics();
        let scanned = stats.and_then(|s| s.data_scanned_in_bytes()).unwrap_or(0);
        QueryInfo {
            query_id: query_id.to_string(),
            state: execution
                .status()
                .and_then(|s| s.state())
                .map(|s| s.as_str().to_string())
                .unwrap_or_else(|| "UNKNOWN".into()),
            statement_type: execution.statement_type().map(|t| t.as_str().to_string()),
            sql: sql.to_string(),
            workgroup: execution.work_group().map(str::to_string),
            output_location: execution
                .result_configuration()
                .and_then(|r| r.output_location())
                .map(str::to_string),
            data_scanned_bytes: scanned,
            engine_time_ms: stats
                .and_then(|s| s.engine_execution_time_in_millis())
                .unwrap_or(0),
            queue_time_ms: stats
                .and_then(|s| s.query_queue_time_in_millis())
                .unwrap_or(0),
            total_time_ms: stats
                .and_then(|s| s.total_execution_time_in_millis())
                .unwrap_or(0),
            reused_previous_result: stats
                .and_then(|s| s.result_reuse_information())
                .is_some_and(|r| r.reused_previous_result()),
            cost_usd: cost(scanned, price_per_tb),
            fetch: Fetch::Pages,
            fetch_note: None,
            rows: 0,
        }
    }
}

/// Athena bills bytes scanned rounded up to the next MB, with a 10 MB minimum per query.
pub fn cost(scanned_bytes: i64, price_per_tb: f64) -> f64 {
    if scanned_bytes <= 0 {
        return 0.0;
    }
    billed_bytes(scanned_bytes as u64) as f64 / (1u64 << 40) as f64 * price_per_tb
}

/// The bytes Athena bills for a scan: rounded up to the next MB, at least 10 MB; 0 for none.
pub fn billed_bytes(scanned_bytes: u64) -> u64 {
    const MB: u64 = 1 << 20;
    if scanned_bytes == 0 {
        return 0;
    }
    scanned_bytes.div_ceil(MB).max(10).saturating_mul(MB)
}

/// A session on Athena: clients and options, shared by all its queries.
pub struct AthenaSession {
    athena: aws_sdk_athena::Client,
    s3: aws_sdk_s3::Client,
    glue: aws_sdk_glue::Client,
    options: AthenaOptions,
    region: String,
}

/// A result as a stream of batches, with the query's information.
pub struct AthenaStream {
    schema: SchemaRef,
    stream: BoxStream<'static, Result<RecordBatch>>,
    info: Arc<Mutex<QueryInfo>>,
}

impl AthenaStream {
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The query's information; `rows` counts what has been read so far.
    pub fn info(&self) -> Arc<Mutex<QueryInfo>> {
        self.info.clone()
    }
}

impl Stream for AthenaStream {
    type Item = Result<RecordBatch>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.stream.poll_next_unpin(cx)
    }
}

impl AthenaSession {
    /// Loads credentials and region (failing early, with what to do, when either is missing).
    pub async fn connect(options: AthenaOptions) -> Result<Self> {
        if options.batch_size == 0 {
            return Err(Error::InvalidArgument(
                "batch_size must be at least 1".into(),
            ));
        }
        if options.workgroup.is_empty() {
            return Err(Error::InvalidArgument("workgroup must not be empty".into()));
        }
        if options
            .result_reuse_minutes
            .is_some_and(|m| !(1..=10080).contains(&m))
        {
            return Err(Error::InvalidArgument(
                "result_reuse_minutes must be between 1 and 10080 (7 days), Athena's limits".into(),
            ));
        }
        if !(options.price_per_tb.is_finite() && options.price_per_tb >= 0.0) {
            return Err(Error::InvalidArgument(
                "price_per_tb must be a non-negative number".into(),
            ));
        }
        options.limits.check()?;
        if let Some(location) = &options.output_location {
            object::parse_s3_url(location).map_err(|_| {
                Error::InvalidArgument(format!(
                    "output_location {location:?} is not an s3://bucket/prefix/ location"
                ))
            })?;
        }
        let (sdk, region) = crate::aws::load(&options.connect, options.region.as_deref())
            .await
            .map_err(|e| match e {
                Error::Aws { step, message } => {
                    execution::athena_error(AthenaFailure::Call, None, format!("{step}: {message}"))
                }
                other => other,
            })?;
        Ok(AthenaSession {
            athena: crate::aws::athena_client(&sdk),
            s3: crate::aws::s3_client(&sdk, &options.connect),
            glue: crate::aws::glue_client(&sdk),
            options,
            region,
        })
    }

    pub fn options(&self) -> &AthenaOptions {
        &self.options
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// What a query would scan and cost on Athena, found without running it: the objects
    /// under the partitions its filters select (see [`estimate`](self::estimate)).
    pub async fn estimate(&self, sql: &str, params: &[Param]) -> Result<Estimate> {
        let sql = parameters::bind(sql, params)?;
        estimate::estimate(&self.glue, &self.s3, &self.options, &sql).await
    }

    /// Refuses a query whose estimate is above `limits` (before anything starts); returns the
    /// estimate when one was made.
    pub async fn check_limits(
        &self,
        sql: &str,
        params: &[Param],
        limits: &CostLimits,
    ) -> Result<Option<Estimate>> {
        limits.check()?;
        if limits.is_empty() {
            return Ok(None);
        }
        let bound = parameters::bind(sql, params)?;
        match estimate::classify(&bound) {
            estimate::Statement::NoScan => return Ok(None),
            estimate::Statement::Unknown(kind) => {
                return Err(estimate::unknown_cost(
                    &format!("{kind} statements are not estimated"),
                    limits,
                ))
            }
            estimate::Statement::Query(_) => {}
        }
        let found = estimate::estimate(&self.glue, &self.s3, &self.options, &bound).await?;
        if let Some(err) = estimate::over_limit(&found, limits) {
            return Err(err);
        }
        if !found.complete {
            return Err(estimate::unknown_cost(&found.notes.join("; "), limits));
        }
        Ok(Some(found))
    }

    /// Runs a query and returns its whole result.
    pub async fn collect(
        &self,
        sql: &str,
        params: &[Param],
        fetch: Option<Fetch>,
        progress: Option<ProgressFn>,
    ) -> Result<QueryResult> {
        self.collect_within(sql, params, fetch, progress, &self.options.limits)
            .await
    }

    /// [`collect`](Self::collect) with this query's own cost limits instead of the session's.
    pub async fn collect_within(
        &self,
        sql: &str,
        params: &[Param],
        fetch: Option<Fetch>,
        progress: Option<ProgressFn>,
        limits: &CostLimits,
    ) -> Result<QueryResult> {
        let stream = self
            .query_within(sql, params, fetch, progress, limits)
            .await?;
        let schema = stream.schema();
        let info = stream.info();
        let batches: Vec<RecordBatch> = stream.try_collect().await?;
        let info = info
            .lock()
            .map(|i| i.clone())
            .map_err(|_| Error::Engine("query information lock poisoned".into()))?;
        Ok(QueryResult {
            schema,
            batches,
            facts: QueryFacts::Athena(info),
        })
    }

    /// Runs a query to completion on Athena and returns its result as a stream of batches.
    /// With the session's cost limits, the query is estimated first and refused above them.
    pub async fn query(
        &self,
        sql: &str,
        params: &[Param],
        fetch: Option<Fetch>,
        progress: Option<ProgressFn>,
    ) -> Result<AthenaStream> {
        self.query_within(sql, params, fetch, progress, &self.options.limits)
            .await
    }

    /// [`query`](Self::query) with this query's own cost limits instead of the session's.
    pub async fn query_within(
        &self,
        sql: &str,
        params: &[Param],
        fetch: Option<Fetch>,
        progress: Option<ProgressFn>,
        limits: &CostLimits,
    ) -> Result<AthenaStream> {
        parameters::check_count(sql, params)?;
        self.check_limits(sql, params, limits).await?;
        let literals = params
            .iter()
            .map(Param::literal)
            .collect::<Result<Vec<_>>>()?;
        let fetch = fetch.unwrap_or(self.options.fetch);
        if fetch == Fetch::Unload {
            return self.unload(sql, literals, progress).await;
        }
        let info = execution::run(
            &self.athena,
            &self.options,
            sql,
            literals.clone(),
            progress.as_ref(),
        )
        .await?;
        let first = pages::get_page(&self.athena, &info.query_id, pages::PAGE_ROWS, None).await?;
        let columns = pages::columns(&first);
        let nested: Vec<&str> = columns
            .iter()
            .filter(|c| c.is_nested())
            .map(|c| c.name.as_str())
            .collect();
        if fetch == Fetch::Auto && !nested.is_empty() && unloadable(sql).is_ok() {
            // The text result cannot carry array/map/row types; UNLOAD's Parquet can. This
            // scans again, so the note says what the first run cost.
            let note = format!(
                "ran again as UNLOAD because {} {} array/map/row, which Athena's text results \
                 cannot type; the first run ({}) scanned {} bytes, ${:.6}",
                nested.join(", "),
                if nested.len() == 1 { "is" } else { "are" },
                info.query_id,
                info.data_scanned_bytes,
                info.cost_usd
            );
            let stream = self.unload(sql, literals, progress).await?;
            if let Ok(mut typed) = stream.info.lock() {
                typed.fetch_note = Some(match typed.fetch_note.take() {
                    Some(more) => format!("{note}; {more}"),
                    None => note,
                });
            }
            return Ok(stream);
        }
        self.fetch_text(info, fetch, first, columns).await
    }

    /// The text paths: pages or the CSV result object, typed by `ResultSetMetadata`.
    async fn fetch_text(
        &self,
        mut info: QueryInfo,
        fetch: Fetch,
        first: aws_sdk_athena::operation::get_query_results::GetQueryResultsOutput,
        columns: Vec<types::ColumnType>,
    ) -> Result<AthenaStream> {
        let query_id = info.query_id.clone();
        let schema = types::arrow_schema(&columns)
            .map_err(|m| execution::athena_error(AthenaFailure::Result, Some(&query_id), m))?;
        let header = has_header_row(&info);
        let csv = match fetch {
            Fetch::Pages => None,
            Fetch::Csv => {
                let location = info.output_location.clone().ok_or_else(|| {
                    execution::athena_error(
                        AthenaFailure::Call,
                        Some(&query_id),
                        "the query has no result object in S3 (managed query results or a \
                         statement without output); use fetch=\"pages\""
                            .into(),
                    )
                })?;
                if is_csv_object(&location) {
                    let (bucket, key) = object::parse_s3_url(&location)?;
                    let size = object::object_size(&self.s3, &bucket, &key, &query_id).await?;
                    Some((bucket, key, size))
                } else {
                    // DDL and UTILITY results (SHOW, DESCRIBE, EXPLAIN...) are small plain-text
                    // files, not CSV: their pages are the only faithful form.
                    info.fetch_note = Some(format!(
                        "paged because the result of this {} statement is {location}, plain \
                         text rather than CSV",
                        info.statement_type.as_deref().unwrap_or("non-SELECT")
                    ));
                    None
                }
            }
            _ => self.auto_csv(&mut info).await,
        };
        let info = Arc::new(Mutex::new(info));
        let stream = match csv {
            Some((bucket, key, size)) => {
                if let Ok(mut info) = info.lock() {
                    info.fetch = Fetch::Csv;
                }
                object::csv_stream(
                    self.s3.clone(),
                    bucket,
                    key,
                    size,
                    schema.clone(),
                    header,
                    self.options.batch_size,
                    query_id,
                    info.clone(),
                )
            }
            None => pages::stream(
                self.athena.clone(),
                query_id,
                schema.clone(),
                first,
                header,
                info.clone(),
            ),
        };
        Ok(AthenaStream {
            schema,
            stream,
            info,
        })
    }

    /// For `Fetch::Auto`: the CSV object when it is large enough to be worth it. When it cannot
    /// be used the result is paged and `fetch_note` says why.
    async fn auto_csv(&self, info: &mut QueryInfo) -> Option<(String, String, u64)> {
        let location = info.output_location.clone()?;
        if !is_csv_object(&location) {
            return None;
        }
        let outcome = match object::parse_s3_url(&location) {
            Ok((bucket, key)) => object::object_size(&self.s3, &bucket, &key, &info.query_id)
                .await
                .map(|size| (bucket, key, size)),
            Err(e) => Err(e),
        };
        match outcome {
            Ok((bucket, key, size)) if size >= self.options.fast_fetch_bytes => {
                Some((bucket, key, size))
            }
            Ok(_) => None,
            Err(err) => {
                info.fetch_note = Some(format!(
                    "paged because the result object could not be read: {err}"
                ));
                None
            }
        }
    }

    /// The typed path: `UNLOAD` the query to Parquet under the result location, then read it.
    async fn unload(
        &self,
        sql: &str,
        literals: Vec<String>,
        progress: Option<ProgressFn>,
    ) -> Result<AthenaStream> {
        unloadable(sql)?;
        let base = match &self.options.output_location {
            Some(location) => location.clone(),
            None => execution::workgroup_output_location(&self.athena, &self.options.workgroup)
                .await?
                .ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "fetch=\"unload\" needs an S3 location to write to: pass \
                         output_location, or give workgroup {:?} a result location",
                        self.options.workgroup
                    ))
                })?,
        };
        let (bucket, prefix) = object::parse_s3_url(&base)?;
        let prefix = format!(
            "{}spintrail-unload/{}/",
            if prefix.is_empty() || prefix.ends_with('/') {
                prefix
            } else {
                format!("{prefix}/")
            },
            execution::unique_token()
        );
        let trimmed = sql.trim().trim_end_matches(';');
        let statement = format!(
            "UNLOAD ({trimmed}) TO 's3://{bucket}/{prefix}' WITH (format = 'PARQUET', \
             compression = 'SNAPPY')"
        );
        let mut info = execution::run(
            &self.athena,
            &self.options,
            &statement,
            literals,
            progress.as_ref(),
        )
        .await?;
        let (schema, batches) = object::unload_batches(
            &self.s3,
            &bucket,
            &prefix,
            self.options.batch_size,
            &info.query_id,
        )
        .await?;
        info.fetch = Fetch::Unload;
        info.rows = batches.iter().map(|b| b.num_rows() as u64).sum();
        if schema.is_none() {
            info.fetch_note = Some("UNLOAD wrote no files (an empty result has no schema)".into());
        }
        let schema = schema.unwrap_or_else(|| Arc::new(Schema::empty()));
        Ok(AthenaStream {
            schema,
            stream: futures::stream::iter(batches.into_iter().map(Ok)).boxed(),
            info: Arc::new(Mutex::new(info)),
        })
    }

    /// Athena's plan of a query (`EXPLAIN`), as text.
    pub async fn explain(&self, sql: &str, params: &[Param]) -> Result<String> {
        let statement = format!("EXPLAIN {}", sql.trim().trim_end_matches(';'));
        let result = self
            .collect(&statement, params, Some(Fetch::Pages), None)
            .await?;
        let mut lines = Vec::new();
        for batch in &result.batches {
            if batch.num_columns() == 0 {
                continue;
            }
            let column = arrow::compute::cast(batch.column(0), &arrow::datatypes::DataType::Utf8)?;
            let text = column
                .as_any()
                .downcast_ref::<arrow::array::StringArray>()
                .ok_or_else(|| Error::Engine("EXPLAIN returned no text".into()))?;
            lines.extend(text.iter().map(|l| l.unwrap_or_default().to_string()));
        }
        Ok(lines.join("\n"))
    }
}

/// Whether the result's first row is its header. Athena writes one for DML statements (SELECT)
/// only: the results of DDL and UTILITY statements (CREATE, SHOW, DESCRIBE, EXPLAIN...) start
/// with data. Decided from what Athena reports about the statement (its `StatementType`, else
/// the result file's extension: `.csv` for DML, `.txt` for the others), never from the row's
/// values, so a SELECT whose first row equals its column names keeps that row.
fn has_header_row(info: &QueryInfo) -> bool {
    match info.statement_type.as_deref() {
        Some(kind) => kind == "DML",
        None => info.output_location.as_deref().is_some_and(is_csv_object),
    }
}

/// Whether a result object is Athena's CSV (a DML result) rather than a DDL/UTILITY `.txt`.
fn is_csv_object(location: &str) -> bool {
    location.ends_with(".csv")
}

/// Whether UNLOAD can wrap the query: a SELECT whose final order does not matter.
fn unloadable(sql: &str) -> Result<()> {
    match parameters::first_keyword(sql).as_deref() {
        Some("SELECT") | Some("WITH") | Some("VALUES") => {}
        _ => {
            return Err(Error::InvalidArgument(
                "fetch=\"unload\" needs a SELECT query (UNLOAD wraps a SELECT); use \
                 fetch=\"auto\" for other statements"
                    .into(),
            ))
        }
    }
    if parameters::has_top_level_order_by(sql) {
        return Err(Error::InvalidArgument(
            "fetch=\"unload\" cannot keep ORDER BY: UNLOAD writes its files in no order. \
             Drop the ORDER BY and sort the table afterwards (table.sort_by(...)), or use \
             fetch=\"auto\""
                .into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(statement_type: Option<&str>, location: Option<&str>) -> QueryInfo {
        let execution = aws_sdk_athena::types::QueryExecution::builder()
            .set_statement_type(statement_type.map(Into::into))
            .set_result_configuration(location.map(|l| {
                aws_sdk_athena::types::ResultConfiguration::builder()
                    .output_location(l)
                    .build()
            }))
            .build();
        QueryInfo::from_execution("q", "SELECT 1", &execution, DEFAULT_PRICE_PER_TB)
    }

    #[test]
    fn only_dml_results_have_a_header_row() {
        assert!(has_header_row(&info(Some("DML"), Some("s3://b/q.csv"))));
        assert!(!has_header_row(&info(Some("DDL"), Some("s3://b/q.txt"))));
        assert!(!has_header_row(&info(
            Some("UTILITY"),
            Some("s3://b/q.txt")
        )));
        // Without a statement type, the file Athena wrote says it.
        assert!(has_header_row(&info(None, Some("s3://b/q.csv"))));
        assert!(!has_header_row(&info(None, Some("s3://b/q.txt"))));
        assert!(!has_header_row(&info(None, None)));
    }

    #[test]
    fn cost_follows_billing_rules() {
        assert_eq!(cost(0, 5.0), 0.0);
        let ten_mb = 10.0 * (1u64 << 20) as f64 / (1u64 << 40) as f64 * 5.0;
        assert_eq!(cost(1, 5.0), ten_mb);
        assert_eq!(cost(1 << 40, 5.0), 5.0);
        assert!(cost((1 << 40) + 1, 5.0) > 5.0);
    }
}
