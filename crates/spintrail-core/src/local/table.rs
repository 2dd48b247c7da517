//! The `cloudtrail_logs` table for DataFusion: lists the log files at each query, prunes them by
//! the partition filters (`account`, `region`, `day`, or the columns of another
//! [`PartitionLayout`]) and by `eventtime` ranges, and reads the rest in parallel with bounded
//! memory. Each scan keeps statistics of what it read and rejected.

use std::fmt;
use std::sync::{Arc, Mutex};

use arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, DFSchema, ScalarValue};
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result as DFResult};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{BinaryExpr, Expr, Operator, TableProviderFilterPushDown};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
};

use crate::error::Error;
use crate::local::reader::{read_file, Projection};
use crate::local::source::{list, LogFile, Partitions};
use crate::result::{Problem, ScanStats};
use crate::schema::{table_schema_for, PartitionLayout};

/// What to do with a file or record that is not valid CloudTrail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnError {
    /// Fail the query with an error naming the file (and record).
    #[default]
    Raise,
    /// Leave it out and report it in the scan statistics.
    Skip,
}

impl OnError {
    /// Parses the option's text (`"raise"` or `"skip"`), as every layer spells it.
    pub fn parse(text: &str) -> crate::Result<Self> {
        match text {
            "raise" => Ok(OnError::Raise),
            "skip" => Ok(OnError::Skip),
            other => Err(Error::InvalidArgument(format!(
                "on_error must be \"raise\" or \"skip\", not {other:?}"
            ))),
        }
    }
}

/// Settings of a CloudTrail table.
#[derive(Debug, Clone)]
pub struct TableOptions {
    pub sources: Vec<String>,
    pub on_error: OnError,
    pub batch_size: usize,
    /// The partition columns the table shows.
    pub partitions: PartitionLayout,
}

/// CloudTrail log files as a table.
#[derive(Debug)]
pub struct CloudTrailTable {
    options: TableOptions,
}

impl CloudTrailTable {
    pub fn new(options: TableOptions) -> crate::Result<Self> {
        crate::local::source::check_sources(&options.sources)?;
        Ok(CloudTrailTable { options })
    }
}

#[async_trait]
impl TableProvider for CloudTrailTable {
    fn schema(&self) -> SchemaRef {
        table_schema_for(self.options.partitions)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DFResult<Vec<TableProviderFilterPushDown>> {
        // Inexact: pruning works on whole files; DataFusion still applies each filter to rows.
        let layout = self.options.partitions;
        Ok(filters
            .iter()
            .map(|f| {
                if is_partition_filter(f, layout) || time_bounds(f).is_some() {
                    TableProviderFilterPushDown::Inexact
                } else {
                    TableProviderFilterPushDown::Unsupported
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        let sources = self.options.sources.clone();
        let listing = tokio::task::spawn_blocking(move || list(&sources))
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))??;
        let mut stats = ScanStats {
            files_listed: listing.files.len(),
            files_excluded: listing.excluded,
            ..ScanStats::default()
        };
        let layout = self.options.partitions;
        let files = prune(state, listing.files, filters, layout)?;
        stats.files_pruned = stats.files_listed - files.len();
        let projection = Projection::for_layout(projection, layout)?;
        let partitions = state.config().target_partitions().max(1);
        let batch_size = self.options.batch_size.max(1);
        Ok(Arc::new(CloudTrailScanExec::new(
            files,
            projection,
            ScanSettings {
                on_error: self.options.on_error,
                batch_size,
                limit,
            },
            partitions,
            stats,
        )))
    }
}

fn strip_qualifiers(expr: &Expr) -> DFResult<Expr> {
    expr.clone()
        .transform(|e| {
            Ok(match e {
                Expr::Column(c) if c.relation.is_some() => {
                    Transformed::yes(Expr::Column(Column::new_unqualified(c.name)))
                }
                other => Transformed::no(other),
            })
        })
        .map(|t| t.data)
}

/// A filter that only looks at partition columns (and constants).
fn is_partition_filter(expr: &Expr, layout: PartitionLayout) -> bool {
    let columns = expr.column_refs();
    !columns.is_empty()
        && !expr.is_volatile()
        && columns
            .iter()
            .all(|c| layout.columns().contains(&c.name.as_str()))
}

const DAY_MS: i64 = 86_400_000;

/// Lower and upper bounds (ms since the epoch) that a filter puts on `eventtime`, if any.
fn time_bounds(expr: &Expr) -> Option<(Option<i64>, Option<i64>)> {
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            let (op, value) = if refers_to_eventtime(left) {
                (*op, literal_ms(right)?)
            } else if refers_to_eventtime(right) {
                (op.swap()?, literal_ms(left)?)
            } else {
                return None;
            };
            match op {
                Operator::Gt | Operator::GtEq => Some((Some(value), None)),
                Operator::Lt | Operator::LtEq => Some((None, Some(value))),
                Operator::Eq => Some((Some(value), Some(value))),
                _ => None,
            }
        }
        Expr::Between(b) if !b.negated && refers_to_eventtime(&b.expr) => {
            Some((Some(literal_ms(&b.low)?), Some(literal_ms(&b.high)?)))
        }
        _ => None,
    }
}

/// `eventtime` itself or `from_iso8601_timestamp(eventtime)`, possibly under casts.
fn refers_to_eventtime(expr: &Expr) -> bool {
    match expr {
        Expr::Column(c) => c.name == "eventtime",
        Expr::Cast(c) => refers_to_eventtime(&c.expr),
        Expr::TryCast(c) => refers_to_eventtime(&c.expr),
        Expr::ScalarFunction(f) => {
            f.func.name() == "from_iso8601_timestamp"
                && f.args.len() == 1
                && matches!(&f.args[0], Expr::Column(c) if c.name == "eventtime")
        }
        _ => false,
    }
}

/// A constant instant: a timestamp literal or an ISO-8601 string literal (or its date prefix).
fn literal_ms(expr: &Expr) -> Option<i64> {
    let scalar = match expr {
        Expr::Literal(value, _) => value,
        Expr::Cast(c) => return literal_ms(&c.expr),
        Expr::TryCast(c) => return literal_ms(&c.expr),
        _ => return None,
    };
    match scalar {
        ScalarValue::TimestampSecond(Some(v), _) => v.checked_mul(1000),
        ScalarValue::TimestampMillisecond(Some(v), _) => Some(*v),
        ScalarValue::TimestampMicrosecond(Some(v), _) => Some(v.div_euclid(1000)),
        ScalarValue::TimestampNanosecond(Some(v), _) => Some(v.div_euclid(1_000_000)),
        ScalarValue::Date32(Some(d)) => Some(*d as i64 * DAY_MS),
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => {
            if let Ok(t) = DateTime::parse_from_rfc3339(s) {
                Some(t.timestamp_millis())
            } else {
                // A string compared with eventtime compares as text: its date prefix bounds it.
                let day = NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()?;
                Some(day.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
            }
        }
        _ => None,
    }
}

fn day_start_ms(day: &str) -> Option<i64> {
    let d = NaiveDate::parse_from_str(day, "%Y/%m/%d").ok()?;
    Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
}

/// Keeps the files whose partition can hold rows that pass the filters.
fn prune(
    state: &dyn Session,
    files: Vec<LogFile>,
    filters: &[Expr],
    layout: PartitionLayout,
) -> DFResult<Vec<LogFile>> {
    let (mut low, mut high) = (i64::MIN, i64::MAX);
    for f in filters {
        if let Some((lo, hi)) = time_bounds(f) {
            low = low.max(lo.unwrap_or(i64::MIN));
            high = high.min(hi.unwrap_or(i64::MAX));
        }
    }
    let partition_filters: Vec<Expr> = filters
        .iter()
        .filter(|f| is_partition_filter(f, layout))
        .map(strip_qualifiers)
        .collect::<DFResult<_>>()?;

    let laid_out: Vec<usize> = files
        .iter()
        .enumerate()
        .filter(|(_, f)| matches!(f.partitions, Partitions::Layout { .. }))
        .map(|(i, _)| i)
        .collect();
    let mut keep = vec![true; files.len()];

    if low != i64::MIN || high != i64::MAX {
        for &i in &laid_out {
            if let Partitions::Layout { day, .. } = &files[i].partitions {
                if let Some(start) = day_start_ms(day) {
                    // A file in folder D holds events of day D, or of late D-1 delivered after midnight.
                    if start + DAY_MS <= low || start - DAY_MS > high {
                        keep[i] = false;
                    }
                }
            }
        }
    }

    if !partition_filters.is_empty() && !laid_out.is_empty() {
        let schema = Arc::new(Schema::new(
            layout
                .columns()
                .iter()
                .map(|n| Field::new(*n, DataType::Utf8, true))
                .collect::<Vec<_>>(),
        ));
        let column = |index: usize| -> ArrayRef {
            let values: StringArray = laid_out
                .iter()
                .map(|&i| match &files[i].partitions {
                    Partitions::Layout {
                        account,
                        region,
                        day,
                    } => layout.value(index, Some(account), Some(region), Some(day)),
                    Partitions::Records => None,
                })
                .collect();
            Arc::new(values)
        };
        let batch = RecordBatch::try_new(
            schema.clone(),
            (0..layout.columns().len()).map(column).collect(),
        )?;
        let df_schema = DFSchema::try_from(schema.as_ref().clone())?;
        for filter in &partition_filters {
            let physical: Arc<dyn PhysicalExpr> =
                state.create_physical_expr(filter.clone(), &df_schema)?;
            let result = physical.evaluate(&batch)?.into_array(batch.num_rows())?;
            let Some(mask) = result.as_any().downcast_ref::<BooleanArray>() else {
                continue;
            };
            for (row, &i) in laid_out.iter().enumerate() {
                if !(mask.is_valid(row) && mask.value(row)) {
                    keep[i] = false;
                }
            }
        }
    }
    Ok(files
        .into_iter()
        .zip(keep)
        .filter_map(|(f, k)| k.then_some(f))
        .collect())
}

#[derive(Debug, Clone, Copy)]
struct ScanSettings {
    on_error: OnError,
    batch_size: usize,
    limit: Option<usize>,
}

/// Reads the files of one scan; partition `i` reads its share of the files on a blocking thread.
#[derive(Debug)]
pub struct CloudTrailScanExec {
    /// Files per output partition, balanced by size.
    assignments: Vec<Vec<LogFile>>,
    projection: Projection,
    settings: ScanSettings,
    properties: Arc<PlanProperties>,
    stats: Arc<Mutex<ScanStats>>,
}

impl CloudTrailScanExec {
    fn new(
        mut files: Vec<LogFile>,
        projection: Projection,
        settings: ScanSettings,
        partitions: usize,
        stats: ScanStats,
    ) -> Self {
        let n = partitions.min(files.len()).max(1);
        // Largest first onto the least-loaded partition keeps the partitions even.
        files.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.path.cmp(&b.path)));
        let mut assignments: Vec<Vec<LogFile>> = vec![Vec::new(); n];
        let mut loads = vec![0u64; n];
        for f in files {
            let target = (0..n).min_by_key(|&i| loads[i]).unwrap_or(0);
            loads[target] += f.size.max(1);
            assignments[target].push(f);
        }
        for a in &mut assignments {
            a.sort_by(|x, y| x.path.cmp(&y.path));
        }
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(projection.schema()),
            Partitioning::UnknownPartitioning(n),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        CloudTrailScanExec {
            assignments,
            projection,
            settings,
            properties,
            stats: Arc::new(Mutex::new(stats)),
        }
    }

    /// What this scan has read so far (complete once its streams are exhausted).
    pub fn stats(&self) -> ScanStats {
        self.stats.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl DisplayAs for CloudTrailScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let files: usize = self.assignments.iter().map(Vec::len).sum();
        write!(
            f,
            "CloudTrailScanExec: files={files}, partitions={}, columns=[{}]",
            self.assignments.len(),
            self.projection
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

impl ExecutionPlan for CloudTrailScanExec {
    fn name(&self) -> &str {
        "CloudTrailScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        Vec::new()
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DFResult<TreeNodeRecursion>,
    ) -> DFResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        if children.is_empty() {
            Ok(self)
        } else {
            Err(DataFusionError::Internal(
                "CloudTrailScanExec has no children".into(),
            ))
        }
    }

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> DFResult<SendableRecordBatchStream> {
        let files = self.assignments.get(partition).cloned().ok_or_else(|| {
            DataFusionError::Internal(format!("CloudTrailScanExec has no partition {partition}"))
        })?;
        let schema = self.projection.schema();
        // Two batches in flight per partition: the reader stays ahead without piling up memory.
        let (tx, rx) = tokio::sync::mpsc::channel::<DFResult<RecordBatch>>(2);
        let projection = self.projection.clone();
        let settings = self.settings;
        let stats = self.stats.clone();
        tokio::task::spawn_blocking(move || read_partition(files, projection, settings, stats, tx));
        let stream = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}

fn read_partition(
    files: Vec<LogFile>,
    projection: Projection,
    settings: ScanSettings,
    stats: Arc<Mutex<ScanStats>>,
    tx: tokio::sync::mpsc::Sender<DFResult<RecordBatch>>,
) {
    let skip = settings.on_error == OnError::Skip;
    let mut emitted = 0usize;
    for file in files {
        if tx.is_closed() || settings.limit.is_some_and(|l| emitted >= l) {
            return;
        }
        let result = read_file(
            &file.path,
            &file.partitions,
            &projection,
            settings.batch_size,
            skip,
        );
        let outcome = match result {
            Ok(outcome) => outcome,
            Err(err @ Error::File { .. }) if skip => {
                if let Ok(mut s) = stats.lock() {
                    s.files_skipped += 1;
                    s.add_problem(Problem {
                        path: file.path.clone(),
                        record: None,
                        reason: match &err {
                            Error::File { reason, .. } => reason.clone(),
                            other => other.to_string(),
                        },
                    });
                }
                continue;
            }
            Err(err) => {
                let _ = tx.blocking_send(Err(err.into()));
                return;
            }
        };
        if let Ok(mut s) = stats.lock() {
            s.files_read += 1;
            s.bytes_read += file.size;
            s.json_bytes += outcome.json_bytes as u64;
            s.records_read += outcome.records as u64;
            s.rows += outcome.rows as u64;
            s.records_rejected += outcome.rejected.len() as u64;
            for r in &outcome.rejected {
                s.add_problem(Problem {
                    path: file.path.clone(),
                    record: Some(r.index),
                    reason: r.reason.clone(),
                });
            }
        }
        for batch in outcome.batches {
            emitted += batch.num_rows();
            if tx.blocking_send(Ok(batch)).is_err() {
                return;
            }
        }
    }
}

/// Sums the statistics of every CloudTrail scan in a physical plan.
pub fn collect_scan_stats(plan: &Arc<dyn ExecutionPlan>) -> ScanStats {
    let mut total = ScanStats::default();
    let mut stack = vec![plan.clone()];
    while let Some(node) = stack.pop() {
        if let Some(scan) = node.downcast_ref::<CloudTrailScanExec>() {
            total.merge(&scan.stats());
        }
        stack.extend(node.children().into_iter().cloned());
    }
    total
}
