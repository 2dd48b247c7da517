//! A local query session: the CloudTrail table registered in a DataFusion context with Trino's
//! functions, queries planned from Athena-dialect SQL, results streamed with scan statistics.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};

use arrow::array::{RecordBatch, RecordBatchOptions, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{MemorySchemaProvider, TableProvider};
use datafusion::common::TableReference;
use datafusion::datasource::MemTable;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::display::DisplayableExecutionPlan;
use datafusion::physical_plan::memory::MemoryStream;
use datafusion::physical_plan::EmptyRecordBatchStream;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::{Stream, StreamExt};

use crate::error::{Error, Result};
use crate::local::fields_read::FieldsRead;
use crate::local::memory;
use crate::local::remote::{single_s3_source, S3SourceTable};
use crate::local::sql::PlannedQuery;
use crate::local::table::{
    collect_scan_stats, CloudTrailTable, OnError, TableOptions, DEFAULT_LATE_DELIVERY_DAYS,
};
use crate::result::{QueryFacts, QueryResult, ScanStats};
use crate::schema::PartitionLayout;

/// The catalog name Athena uses; `awsdatacatalog."default".cloudtrail_logs` resolves as on Athena.
pub const CATALOG: &str = "awsdatacatalog";

/// Settings of a local session.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    pub database: String,
    pub table: String,
    pub on_error: OnError,
    /// Rows per Arrow batch (the reader's and DataFusion's).
    pub batch_size: usize,
    /// Parallel readers; 0 means one per core.
    pub target_partitions: usize,
    /// How many days late CloudTrail may deliver an event, for `eventtime` pruning.
    pub late_delivery_days: u32,
    /// The partition columns the table shows (spintrail's, or those of an AWS example table).
    pub partitions: PartitionLayout,
    /// Bytes the session's operators may hold (hash tables, sorts, windows) before they spill
    /// to disk; `None` is [`memory::default_memory_limit`] (half the machine's memory).
    pub memory_limit: Option<u64>,
    /// Where spill files go; `None` is the system's temporary folder.
    pub spill_dir: Option<PathBuf>,
    /// How to reach S3 for `s3://` sources.
    pub connect: crate::aws::ConnectOptions,
    /// The S3 client's region (else the profile's or the environment's).
    pub region: Option<String>,
    /// Each `eventid` once per partition (CloudTrail delivers at least once): the first by
    /// `eventtime`.
    pub dedup: bool,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            database: "default".into(),
            table: "cloudtrail_logs".into(),
            on_error: OnError::Raise,
            batch_size: 8192,
            target_partitions: 0,
            late_delivery_days: DEFAULT_LATE_DELIVERY_DAYS,
            partitions: PartitionLayout::default(),
            memory_limit: None,
            spill_dir: None,
            connect: crate::aws::ConnectOptions::default(),
            region: None,
            dedup: false,
        }
    }
}

/// CloudTrail log files queryable with Athena SQL on the embedded engine.
pub struct LocalSession {
    ctx: SessionContext,
    options: SessionOptions,
    sources: Vec<String>,
    /// The memory limit in force, in bytes (the option's, or the default).
    memory_limit: u64,
}

fn check_identifier(kind: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "{kind} name {name:?} is not valid: use letters, digits and underscores (like Athena)"
        )))
    }
}

impl LocalSession {
    pub fn new(sources: Vec<String>, options: SessionOptions) -> Result<Self> {
        if options.batch_size == 0 {
            return Err(Error::InvalidArgument(
                "batch_size must be at least 1".into(),
            ));
        }
        check_identifier("database", &options.database)?;
        check_identifier("table", &options.table)?;
        let database = options.database.to_lowercase();
        let table = options.table.to_lowercase();
        let mut config = SessionConfig::new()
            .with_default_catalog_and_schema(CATALOG, &database)
            .with_create_default_catalog_and_schema(true)
            .with_information_schema(true)
            .with_batch_size(options.batch_size);
        if options.target_partitions > 0 {
            config = config.with_target_partitions(options.target_partitions);
        }
        // Trino evaluates times in UTC for our purposes; DataFusion's default is UTC too, made explicit.
        config.options_mut().execution.time_zone = Some("+00:00".into());
        // A compacted copy's filters run while its Parquet is decoded: a filter's columns are
        // read first (of a struct only the field compared, e.g. `useridentity.arn`), the other
        // columns only for the rows it keeps.
        let parquet = &mut config.options_mut().execution.parquet;
        parquet.pushdown_filters = true;
        parquet.reorder_filters = true;
        crate::local::sql::rules::apply_trino_options(&mut config);
        let memory_limit = match options.memory_limit {
            Some(limit) => memory::check_memory_limit(limit)?,
            None => memory::default_memory_limit(),
        };
        memory::apply_memory_options(&mut config, memory_limit);
        let runtime = memory::runtime(memory_limit, options.spill_dir.as_ref())?;
        let ctx = SessionContext::new_with_config_rt(config, runtime);
        if database != "default" {
            if let Some(catalog) = ctx.catalog(CATALOG) {
                catalog
                    .register_schema(&database, Arc::new(MemorySchemaProvider::new()))
                    .map_err(Error::from)?;
            }
        }
        crate::local::sql::register_trino_functions(&ctx)?;
        let table_options = TableOptions {
            sources: sources.clone(),
            on_error: options.on_error,
            batch_size: options.batch_size,
            late_delivery_days: options.late_delivery_days,
            partitions: options.partitions,
            connect: options.connect.clone(),
            region: options.region.clone(),
        };
        // A compacted folder is read as Parquet; a single `s3://` prefix as Parquet when it
        // holds a compacted copy (decided at the first query), else as JSON like other sources.
        let provider: Arc<dyn TableProvider> =
            if let Some(root) = crate::local::parquet::compacted_root(&sources) {
                crate::local::parquet::table(&ctx, &root, options.partitions)?
            } else if single_s3_source(&sources).is_some() {
                Arc::new(S3SourceTable::new(&ctx, table_options)?)
            } else {
                Arc::new(CloudTrailTable::new(table_options)?)
            };
        let provider = if options.dedup {
            crate::local::parquet::deduplicated(&ctx, provider, options.partitions)?
        } else {
            provider
        };
        ctx.register_table(
            TableReference::full(CATALOG, database.as_str(), table.as_str()),
            provider,
        )?;
        Ok(LocalSession {
            ctx,
            options,
            sources,
            memory_limit,
        })
    }

    pub fn options(&self) -> &SessionOptions {
        &self.options
    }

    pub fn sources(&self) -> &[String] {
        &self.sources
    }

    /// The memory limit in force, in bytes.
    pub fn memory_limit(&self) -> u64 {
        self.memory_limit
    }

    /// The folder spill files go to (inside it, a temporary folder of this session's).
    pub fn spill_dir(&self) -> PathBuf {
        self.options
            .spill_dir
            .clone()
            .unwrap_or_else(std::env::temp_dir)
    }

    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// The name `name` resolves to in this session's database.
    fn reference(&self, name: &str) -> Result<TableReference> {
        check_identifier("table", name)?;
        let name = name.to_lowercase();
        if name == self.options.table.to_lowercase() {
            return Err(Error::InvalidArgument(format!(
                "{name:?} is this session's CloudTrail table: register the data under another name"
            )));
        }
        Ok(TableReference::full(
            CATALOG,
            self.options.database.to_lowercase(),
            name,
        ))
    }

    /// Makes Arrow data queryable as a table of this session, beside the CloudTrail table (to
    /// join events with a lookup table, or to query an earlier result again without reading the
    /// logs). A table registered earlier under the same name is replaced. The batches are spread
    /// over the session's partitions so queries on them run on every core.
    pub fn register_batches(
        &self,
        name: &str,
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
    ) -> Result<()> {
        let reference = self.reference(name)?;
        // Schema-level metadata describes where the data came from (an earlier query's
        // `spintrail.*` facts, pandas' index): not the new queries' results, which carry their own.
        let schema = Arc::new(arrow::datatypes::Schema::new(schema.fields().clone()));
        let batches = batches
            .into_iter()
            .map(|batch| RecordBatch::try_new(schema.clone(), batch.columns().to_vec()))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let lanes = self.ctx.copied_config().target_partitions().max(1);
        let mut partitions: Vec<Vec<RecordBatch>> =
            vec![Vec::new(); lanes.min(batches.len().max(1))];
        let count = partitions.len();
        for (i, batch) in batches.into_iter().enumerate() {
            partitions[i % count].push(batch);
        }
        let table = MemTable::try_new(schema, partitions)?;
        self.ctx.deregister_table(reference.clone())?;
        self.ctx.register_table(reference, Arc::new(table))?;
        Ok(())
    }

    /// Removes a table added by [`LocalSession::register_batches`]; false if there was none.
    pub fn unregister(&self, name: &str) -> Result<bool> {
        let reference = self.reference(name)?;
        Ok(self.ctx.deregister_table(reference)?.is_some())
    }

    /// Plans a statement down to its physical plan (of the inner query, for `EXPLAIN`), with
    /// errors in the session's terms.
    async fn physical_plan(&self, sql: &str) -> Result<Planned> {
        physical_plan(&self.ctx, sql, self.options.partitions, self.memory_limit).await
    }

    /// Plans and starts a query; rows arrive as the stream is polled. `EXPLAIN [ANALYZE] <query>`
    /// answers with the plan (after running the query, with `ANALYZE`), a line a row.
    ///
    /// A hash join whose build side does not fit the memory limit cannot spill; when that happens
    /// before the first row is out, the query is planned again with sort-merge joins (whose sorts
    /// and buffers spill) and run again.
    pub async fn query(&self, sql: &str) -> Result<QueryStream> {
        let limit = self.memory_limit;
        let Planned {
            query: planned,
            plan: physical,
            task,
        } = self.physical_plan(sql).await?;
        if let Some(analyze) = planned.explain {
            return self.plan_answer(physical, task, analyze).await;
        }
        let stream = datafusion::physical_plan::execute_stream(physical.clone(), task)
            .map_err(|e| with_limit(e.into(), limit))?;
        // Trino's names, duplicates included (Arrow allows them; DataFusion's plan does not).
        let renamed = planned
            .output_names
            .map(|names| renamed_schema(&stream.schema(), &names))
            .transpose()?;
        let fallback = has_hash_join(&physical).then(|| Fallback {
            reserved_before: self.ctx.runtime_env().memory_pool.reserved(),
            ctx: self.ctx.clone(),
            plan: planned.plan,
        });
        Ok(QueryStream {
            schema: renamed.clone().unwrap_or_else(|| stream.schema()),
            renamed,
            stream,
            running: Running::shared(physical),
            memory_limit: limit,
            fallback,
            replanning: None,
            started: false,
        })
    }

    /// The answer to `EXPLAIN [ANALYZE]`: the plan's lines in Athena's `Query Plan` column.
    async fn plan_answer(
        &self,
        physical: Arc<dyn ExecutionPlan>,
        task: Arc<TaskContext>,
        analyze: bool,
    ) -> Result<QueryStream> {
        let limit = self.memory_limit;
        let shown = if analyze {
            let mut run = datafusion::physical_plan::execute_stream(physical.clone(), task)
                .map_err(|e| with_limit(e.into(), limit))?;
            while let Some(batch) = run.next().await {
                batch.map_err(|e| with_limit(e.into(), limit))?;
            }
            DisplayableExecutionPlan::with_metrics(physical.as_ref())
        } else {
            DisplayableExecutionPlan::new(physical.as_ref())
        };
        let text = shown.indent(true).to_string();
        let schema = Arc::new(Schema::new(vec![Field::new(
            "Query Plan",
            DataType::Utf8,
            false,
        )]));
        let lines: StringArray = text.lines().map(Some).collect();
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(lines)])?;
        let stream = MemoryStream::try_new(vec![batch], schema.clone(), None)?;
        Ok(QueryStream {
            schema,
            renamed: None,
            stream: Box::pin(stream),
            running: Running::shared(physical),
            memory_limit: limit,
            fallback: None,
            replanning: None,
            started: false,
        })
    }

    /// Runs a query to completion.
    pub async fn collect(&self, sql: &str) -> Result<QueryResult> {
        let mut stream = self.query(sql).await?;
        let mut batches = Vec::new();
        while let Some(batch) = stream.next().await {
            batches.push(batch?);
        }
        Ok(QueryResult {
            schema: stream.schema(),
            batches,
            facts: QueryFacts::Local(stream.stats()),
        })
    }

    /// The physical plan of a query, as text (what `EXPLAIN <query>` answers, in one string).
    pub async fn explain(&self, sql: &str) -> Result<String> {
        let physical = self.physical_plan(sql).await?.plan;
        let text = DisplayableExecutionPlan::new(physical.as_ref())
            .indent(true)
            .to_string();
        Ok(text)
    }
}

/// How long a rerun waits for the failed run to release its memory.
const RELEASE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// The batch size of a plan with sort-merge joins (at most; DataFusion's default is 8192 rows).
const SORT_MERGE_BATCH_ROWS: usize = 2048;

/// How equi-joins are planned: hash joins (fast; the build side must fit in memory) or
/// sort-merge joins (both inputs sorted; sorts and buffered rows spill to disk).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Joins {
    Hash,
    SortMerge,
}

/// Plans `sql` in `ctx` down to a physical plan, errors in the session's terms.
async fn physical_plan(
    ctx: &SessionContext,
    sql: &str,
    partitions: PartitionLayout,
    limit: u64,
) -> Result<Planned> {
    let planned = crate::local::sql::plan_statement(ctx, sql)
        .await
        .map_err(|e| with_limit(partition_hint(e, partitions), limit))?;
    let (plan, task) = execution_plan(ctx, &planned.plan, limit, Joins::Hash).await?;
    Ok(Planned {
        query: planned,
        plan,
        task,
    })
}

/// The physical plan of a logical one, with the context to run it in (its settings: how joins
/// are planned, the batch size).
async fn execution_plan(
    ctx: &SessionContext,
    logical: &LogicalPlan,
    limit: u64,
    joins: Joins,
) -> Result<(Arc<dyn ExecutionPlan>, Arc<TaskContext>)> {
    let mut state = ctx.state();
    let config = state.config_mut();
    // The scans decode only the struct fields the plan reads.
    config.set_extension(Arc::new(FieldsRead::of_plan(logical)));
    config.options_mut().optimizer.prefer_hash_join = joins == Joins::Hash;
    if joins == Joins::SortMerge {
        // Smaller batches out of the sorts: a merge of spilled runs holds a batch or two of each
        // run, and each side of each partition merges at once.
        let rows = config.batch_size().min(SORT_MERGE_BATCH_ROWS);
        config.options_mut().execution.batch_size =
            datafusion::config::ConfigNonZeroUsize::try_new(rows)?;
    }
    let physical = state
        .create_physical_plan(logical)
        .await
        .map_err(|e| with_limit(e.into(), limit))?;
    // Run with the settings it was planned with (the batch size of a sort-merge plan).
    let task = Arc::new(TaskContext::from(&state));
    Ok((physical, task))
}

/// A statement planned to run: its logical side, the physical plan and the context to run it in.
struct Planned {
    query: PlannedQuery,
    plan: Arc<dyn ExecutionPlan>,
    task: Arc<TaskContext>,
}

/// Whether a plan has a hash join (which cannot spill).
fn has_hash_join(plan: &Arc<dyn ExecutionPlan>) -> bool {
    plan.downcast_ref::<datafusion::physical_plan::joins::HashJoinExec>()
        .is_some()
        || plan.children().into_iter().any(has_hash_join)
}

/// A memory error raised by a hash join's build side.
fn is_hash_join_memory_error(err: &Error) -> bool {
    matches!(err, Error::MemoryLimit { operator: Some(op), .. } if op.starts_with("HashJoin"))
}

/// An unknown column that is a partition column of another layout: the query was written for
/// that table, and the message says which option exposes it.
fn partition_hint(err: Error, layout: PartitionLayout) -> Error {
    let Error::Sql(message) = &err else {
        return err;
    };
    for other in PartitionLayout::ALL {
        for column in other.columns() {
            let unknown = [
                format!("No field named {column}."),
                format!("No field named \"{column}\"."),
            ];
            if !layout.columns().contains(column) && unknown.iter().any(|u| message.contains(u)) {
                return Error::Sql(format!(
                    "{message}\n{column} is a partition column of the table in the {:?} layout \
                     ({}), not of this session's {:?} layout ({}): connect with partitions=\"{}\" \
                     (CLI: --partitions {}) to query that table's columns",
                    other.name(),
                    other.columns().join(", "),
                    layout.name(),
                    layout.columns().join(", "),
                    other.name(),
                    other.name()
                ));
            }
        }
    }
    err
}

/// A memory error with the session's limit in its message.
fn with_limit(err: Error, limit: u64) -> Error {
    match err {
        Error::MemoryLimit {
            limit: None,
            operator,
            detail,
        } => Error::MemoryLimit {
            limit: Some(limit),
            operator,
            detail,
        },
        other => other,
    }
}

/// The scan statistics of a plan (JSON and Parquet scans), with what its operators spilled to disk.
fn plan_stats(plan: &Arc<dyn ExecutionPlan>) -> ScanStats {
    let mut stats = collect_scan_stats(plan);
    stats.merge(&crate::local::parquet::collect_parquet_stats(plan));
    let (files, bytes) = memory::spill_metrics(plan);
    stats.spill_files += files;
    stats.spilled_bytes += bytes;
    stats
}

/// `schema` with its fields named `names`, in order.
fn renamed_schema(schema: &SchemaRef, names: &[String]) -> Result<SchemaRef> {
    if names.len() != schema.fields().len() {
        return Err(Error::Engine(format!(
            "the plan has {} output columns but {} names",
            schema.fields().len(),
            names.len()
        )));
    }
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .zip(names)
        .map(|(f, name)| f.as_ref().clone().with_name(name))
        .collect();
    Ok(Arc::new(Schema::new_with_metadata(
        fields,
        schema.metadata().clone(),
    )))
}

/// A running query.
pub struct QueryStream {
    schema: SchemaRef,
    /// The schema with Trino's output names, when they differ from the plan's.
    renamed: Option<SchemaRef>,
    stream: SendableRecordBatchStream,
    /// The plan running (it changes once if the query is run again with sort-merge joins).
    running: Arc<Mutex<Running>>,
    /// The session's memory limit, for the message of a memory error.
    memory_limit: u64,
    /// How to plan the query again with sort-merge joins, if its hash joins run out of memory.
    fallback: Option<Fallback>,
    replanning: Option<Replanning>,
    /// Whether a batch has been handed out (after that, the query cannot start over).
    started: bool,
}

/// What planning the query again needs: only its physical planning differs.
struct Fallback {
    /// Memory the session's pool held before the query ran (other queries' share).
    reserved_before: usize,
    ctx: SessionContext,
    plan: LogicalPlan,
}

type Replanning = Pin<
    Box<dyn Future<Output = Result<(SendableRecordBatchStream, Arc<dyn ExecutionPlan>)>> + Send>,
>;

impl Fallback {
    fn replan(self, limit: u64) -> Replanning {
        Box::pin(async move {
            // The failed run's tasks are aborted, not yet dropped: wait (briefly) until they
            // have given back the memory they held, or the new run starts short of it.
            let pool = self.ctx.runtime_env().memory_pool.clone();
            let deadline = std::time::Instant::now() + RELEASE_WAIT;
            while pool.reserved() > self.reserved_before && std::time::Instant::now() < deadline {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            let (plan, task) =
                execution_plan(&self.ctx, &self.plan, limit, Joins::SortMerge).await?;
            let stream = datafusion::physical_plan::execute_stream(plan.clone(), task)?;
            Ok((stream, plan))
        })
    }
}

/// The plan a query runs, and how often it started over.
struct Running {
    plan: Arc<dyn ExecutionPlan>,
    reruns: u64,
}

impl Running {
    fn shared(plan: Arc<dyn ExecutionPlan>) -> Arc<Mutex<Running>> {
        Arc::new(Mutex::new(Running { plan, reruns: 0 }))
    }

    /// The statistics of the run so far, with the reruns before it.
    fn stats(running: &Mutex<Running>) -> ScanStats {
        // A poisoned lock still holds a plan to read statistics from.
        let guard = running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut stats = plan_stats(&guard.plan);
        stats.reruns = guard.reruns;
        stats
    }

    fn replace(running: &Mutex<Running>, plan: Arc<dyn ExecutionPlan>) {
        let mut guard = running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        guard.plan = plan;
        guard.reruns += 1;
    }
}

impl QueryStream {
    /// The schema of the batches, as executed (what every batch carries).
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Statistics of the scans so far; complete when the stream is exhausted.
    pub fn stats(&self) -> ScanStats {
        Running::stats(&self.running)
    }

    /// A handle that reads the statistics after the stream has been handed elsewhere.
    pub fn stats_handle(&self) -> StatsHandle {
        StatsHandle(self.running.clone())
    }

    fn renamed(&self, batch: RecordBatch) -> Result<RecordBatch> {
        match &self.renamed {
            None => Ok(batch),
            Some(schema) => {
                let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
                Ok(RecordBatch::try_new_with_options(
                    schema.clone(),
                    batch.columns().to_vec(),
                    &options,
                )?)
            }
        }
    }
}

/// Reads the scan statistics of a query while or after it runs.
#[derive(Clone)]
pub struct StatsHandle(Arc<Mutex<Running>>);

impl StatsHandle {
    pub fn stats(&self) -> ScanStats {
        Running::stats(&self.0)
    }
}

impl Stream for QueryStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let limit = self.memory_limit;
        loop {
            if let Some(replanning) = self.replanning.as_mut() {
                let (stream, plan) = match ready!(replanning.as_mut().poll(cx)) {
                    Ok(next) => next,
                    Err(e) => {
                        self.replanning = None;
                        return Poll::Ready(Some(Err(with_limit(e, limit))));
                    }
                };
                self.replanning = None;
                self.stream = stream;
                Running::replace(&self.running, plan);
            }
            let item = match ready!(self.stream.poll_next_unpin(cx)) {
                None => return Poll::Ready(None),
                Some(item) => item.map_err(|e| with_limit(Error::from(e), limit)),
            };
            match item {
                Err(e) if !self.started && is_hash_join_memory_error(&e) => {
                    let Some(fallback) = self.fallback.take() else {
                        return Poll::Ready(Some(Err(e)));
                    };
                    // Drop the failed run (and the memory it holds) before the new one starts.
                    self.stream = Box::pin(EmptyRecordBatchStream::new(self.stream.schema()));
                    self.replanning = Some(fallback.replan(limit));
                }
                Err(e) => return Poll::Ready(Some(Err(e))),
                Ok(batch) => {
                    self.started = true;
                    return Poll::Ready(Some(self.renamed(batch)));
                }
            }
        }
    }
}
