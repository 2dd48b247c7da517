//! The `cloudtrail_logs` table for DataFusion: lists the log files at each query, prunes them by
//! the partition filters (`account`, `region`, `day`, or the columns of another
//! [`PartitionLayout`]) and by `eventtime` ranges, and reads the rest in parallel with bounded
//! memory. Each scan keeps statistics of what it read and rejected.
//!
//! Pruning never changes an answer: partition filters are evaluated on the partition values
//! exactly as on the rows, and `eventtime` bounds skip a day folder only when none of the events
//! it can hold (its day and the late-delivery margin before it) can pass them.

use std::fmt;
use std::sync::{Arc, Mutex};

use arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use async_trait::async_trait;
use chrono::NaiveDate;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, DFSchema, ScalarValue};
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result as DFResult};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{BinaryExpr, Expr, Operator, TableProviderFilterPushDown};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{
    BaselineMetrics, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet, Time,
};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
};
use futures::StreamExt;

use crate::aws::ConnectOptions;
use crate::error::Error;
use crate::local::fields_read::FieldsRead;
use crate::local::reader::{decode, decompress, read_file, FileOutcome, Projection};
use crate::local::source::{list, Location, LogFile, Partitions};
use crate::result::{Problem, ScanStats};
use crate::s3::fetch::prefetch;
use crate::s3::progress::Progress;
use crate::s3::store::LazyAccess;
use crate::s3::{S3Access, S3Url, Selection};
use crate::schema::{table_schema_for, PartitionLayout};
use crate::timestamp::{parse_date, parse_timestamp, Form, DAY_MS};

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

/// How many days after an event CloudTrail may deliver it, by default: AWS retries delivery to
/// an unreachable bucket for 30 days ("Getting and viewing your CloudTrail log files", CloudTrail
/// user guide), so a later file cannot hold an event Athena would return.
pub const DEFAULT_LATE_DELIVERY_DAYS: u32 = 30;

/// Settings of a CloudTrail table.
#[derive(Debug, Clone)]
pub struct TableOptions {
    pub sources: Vec<String>,
    pub on_error: OnError,
    pub batch_size: usize,
    /// The late-delivery margin of `eventtime` pruning: a day folder is read for events up to
    /// this many days before its day (see [`DEFAULT_LATE_DELIVERY_DAYS`]).
    pub late_delivery_days: u32,
    /// The partition columns the table shows.
    pub partitions: PartitionLayout,
    /// How to reach S3 for `s3://` sources (profile, endpoint, retries).
    pub connect: ConnectOptions,
    /// The region of the S3 client (else the profile's or the environment's).
    pub region: Option<String>,
}

/// CloudTrail log files as a table.
#[derive(Debug)]
pub struct CloudTrailTable {
    options: TableOptions,
    /// The S3 client, made at the first scan of an `s3://` source.
    s3: Arc<LazyAccess>,
}

/// Objects fetched ahead of the readers, in all (see [`prefetch`]).
const S3_FETCHES_AHEAD: usize = 32;

impl CloudTrailTable {
    pub fn new(options: TableOptions) -> crate::Result<Self> {
        let s3 = LazyAccess::new(options.connect.clone(), options.region.clone());
        Self::with_access(options, s3)
    }

    /// The table with an S3 client shared with others (made at the first use of any).
    pub fn with_access(options: TableOptions, s3: Arc<LazyAccess>) -> crate::Result<Self> {
        crate::local::source::check_sources(&options.sources)?;
        Ok(CloudTrailTable { options, s3 })
    }

    /// Lists the `s3://` sources: only the day prefixes that `selection` keeps.
    async fn list_s3(&self, selection: &dyn Selection) -> crate::Result<S3Listing> {
        let urls: Vec<S3Url> = self
            .options
            .sources
            .iter()
            .filter(|s| s.starts_with("s3://"))
            .map(|s| S3Url::parse(s))
            .collect::<crate::Result<_>>()?;
        let mut listing = S3Listing::default();
        if urls.is_empty() {
            return Ok(listing);
        }
        let access = self.s3.get(&urls[0].source()).await?;
        for url in &urls {
            let walk = crate::s3::list(&access, url, &["CloudTrail"], selection).await?;
            listing.excluded += walk.excluded;
            listing.pruned += walk.pruned;
            listing
                .files
                .extend(walk.objects.into_iter().map(|o| LogFile {
                    path: S3Url::name(&url.bucket, &o.key).into(),
                    size: o.size,
                    partitions: o.partitions,
                    location: Location::S3 {
                        bucket: url.bucket.clone(),
                        key: o.key,
                    },
                }));
        }
        listing.files.sort_by(|a, b| a.path.cmp(&b.path));
        listing.files.dedup_by(|a, b| a.path == b.path);
        listing.access = Some(access);
        Ok(listing)
    }
}

/// The `s3://` part of a scan's files.
#[derive(Default)]
struct S3Listing {
    access: Option<Arc<S3Access>>,
    files: Vec<LogFile>,
    /// Objects of services the table does not read (digests, Insights, ...).
    excluded: usize,
    /// Objects listed (in a day prefix the filters select) but outside the filters.
    pruned: usize,
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
        let mut listing = tokio::task::spawn_blocking(move || list(&sources))
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))??;
        let layout = self.options.partitions;
        let selection =
            ListingSelection::new(state, filters, layout, self.options.late_delivery_days)?;
        let remote = self.list_s3(&selection).await?;
        listing.files.extend(remote.files);
        listing.excluded += remote.excluded;
        let s3 = remote.access;
        // Listed: what the local walk and the S3 listings returned; pruning filters the rest.
        let mut stats = ScanStats {
            files_listed: listing.files.len() + remote.pruned,
            files_excluded: listing.excluded,
            ..ScanStats::default()
        };
        let files = prune(
            state,
            listing.files,
            filters,
            layout,
            self.options.late_delivery_days,
        )?;
        stats.files_pruned = stats.files_listed - files.len();
        let mut projection = Projection::for_layout(projection, layout)?;
        if let Some(read) = state.config().get_extension::<FieldsRead>() {
            projection = projection.reading(&read);
        }
        let partitions = state.config().target_partitions().max(1);
        // The session's batch size, lowered for a plan that needs smaller batches.
        let batch_size = state
            .config()
            .batch_size()
            .min(self.options.batch_size)
            .max(1);
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
            s3,
        )))
    }
}

/// The scan's filters as a [`Selection`] of S3 prefixes: the same `eventtime` bounds (with the
/// late-delivery margin) and partition filters as [`prune`], decided before listing.
struct ListingSelection {
    low: i64,
    high: i64,
    late_ms: i64,
    layout: PartitionLayout,
    /// Every partition filter, for a day folder.
    all: PartitionFilters,
    /// The partition filters that do not need the day's columns, above the day folders.
    dayless: PartitionFilters,
}

impl ListingSelection {
    fn new(
        state: &dyn Session,
        filters: &[Expr],
        layout: PartitionLayout,
        late_delivery_days: u32,
    ) -> DFResult<Self> {
        let (low, high) = combined_time_bounds(filters);
        let mut all = Vec::new();
        let mut dayless = Vec::new();
        for f in filters.iter().filter(|f| is_partition_filter(f, layout)) {
            let expr = strip_qualifiers(f)?;
            let needs_day = expr.column_refs().iter().any(|c| {
                layout
                    .columns()
                    .iter()
                    .position(|n| *n == c.name)
                    .is_some_and(|i| layout.value(i, Some("a"), Some("r"), None).is_none())
            });
            if !needs_day {
                dayless.push(expr.clone());
            }
            all.push(expr);
        }
        Ok(ListingSelection {
            low,
            high,
            late_ms: i64::from(late_delivery_days) * DAY_MS,
            layout,
            all: PartitionFilters::new(state, layout.columns(), &all)?,
            dayless: PartitionFilters::new(state, layout.columns(), &dayless)?,
        })
    }
}

impl Selection for ListingSelection {
    fn keep(&self, account: &str, region: &str, day: Option<&str>) -> bool {
        if let Some(start) = day.and_then(day_start_ms) {
            if start + DAY_MS <= self.low || start - self.late_ms >= self.high {
                return false;
            }
        }
        let filters = if day.is_some() {
            &self.all
        } else {
            &self.dayless
        };
        filters
            .keep_unless_known(1, |_, i| {
                self.layout.value(i, Some(account), Some(region), day)
            })
            .iter()
            .all(|&k| k)
    }

    fn days(&self) -> Option<(NaiveDate, NaiveDate)> {
        if self.low == i64::MIN || self.high == i64::MAX {
            return None;
        }
        let day = |ms: i64| {
            chrono::DateTime::from_timestamp_millis(ms.div_euclid(DAY_MS) * DAY_MS)
                .map(|t| t.date_naive())
        };
        let first = day(self.low.checked_sub(DAY_MS)?)?;
        let last = day(self.high.checked_add(self.late_ms)?.checked_add(DAY_MS)?)?;
        Some((first, last))
    }

    fn by_day(&self) -> bool {
        self.low != i64::MIN || self.high != i64::MAX || self.all.len() > self.dayless.len()
    }
}

/// The `eventtime` bounds of all filters together: `low <= t < high`.
pub(crate) fn combined_time_bounds(filters: &[Expr]) -> (i64, i64) {
    let (mut low, mut high) = (i64::MIN, i64::MAX);
    for f in filters {
        if let Some((lo, hi)) = time_bounds(f) {
            low = low.max(lo.unwrap_or(i64::MIN));
            high = high.min(hi.unwrap_or(i64::MAX));
        }
    }
    (low, high)
}

/// Partition filters compiled against text partition columns (one `Utf8` column a name): the one
/// evaluator of the embedded engine's file pruning ([`prune`]), its S3 listing
/// ([`ListingSelection`]) and Athena's projected partitions ([`crate::athena`]'s estimate).
pub(crate) struct PartitionFilters {
    schema: SchemaRef,
    filters: Vec<Arc<dyn PhysicalExpr>>,
}

impl PartitionFilters {
    /// `filters` refer only to `columns`, unqualified (see [`strip_qualifiers`]).
    pub(crate) fn new<S: AsRef<str>>(
        state: &dyn Session,
        columns: &[S],
        filters: &[Expr],
    ) -> DFResult<Self> {
        let schema = Arc::new(Schema::new(
            columns
                .iter()
                .map(|n| Field::new(n.as_ref(), DataType::Utf8, true))
                .collect::<Vec<_>>(),
        ));
        let df_schema = DFSchema::try_from(schema.as_ref().clone())?;
        let filters = filters
            .iter()
            .map(|f| state.create_physical_expr(f.clone(), &df_schema))
            .collect::<DFResult<_>>()?;
        Ok(PartitionFilters { schema, filters })
    }

    pub(crate) fn len(&self) -> usize {
        self.filters.len()
    }

    /// Whether each of `rows` rows passes every filter; `value(row, column)` is a row's value of
    /// a column (`None`: the partition has none). A filter false or null on a row drops it; a
    /// filter whose answer is not boolean drops nothing. A filter that fails to evaluate fails
    /// the call.
    pub(crate) fn keep<'a>(
        &self,
        rows: usize,
        value: impl Fn(usize, usize) -> Option<&'a str>,
    ) -> DFResult<Vec<bool>> {
        self.evaluate(rows, value, true)
    }

    /// As [`Self::keep`], but a filter that cannot be evaluated is unknown and keeps every row.
    pub(crate) fn keep_unless_known<'a>(
        &self,
        rows: usize,
        value: impl Fn(usize, usize) -> Option<&'a str>,
    ) -> Vec<bool> {
        self.evaluate(rows, value, false)
            .unwrap_or_else(|_| vec![true; rows])
    }

    fn evaluate<'a>(
        &self,
        rows: usize,
        value: impl Fn(usize, usize) -> Option<&'a str>,
        strict: bool,
    ) -> DFResult<Vec<bool>> {
        let mut keep = vec![true; rows];
        if self.filters.is_empty() {
            return Ok(keep);
        }
        let columns = (0..self.schema.fields().len())
            .map(|column| {
                let values: StringArray = (0..rows).map(|row| value(row, column)).collect();
                Arc::new(values) as ArrayRef
            })
            .collect();
        let batch = RecordBatch::try_new(self.schema.clone(), columns)?;
        for filter in &self.filters {
            let result = match filter.evaluate(&batch).and_then(|v| v.into_array(rows)) {
                Ok(result) => result,
                Err(e) if strict => return Err(e),
                Err(_) => continue,
            };
            let Some(mask) = result.as_any().downcast_ref::<BooleanArray>() else {
                continue;
            };
            for (row, k) in keep.iter_mut().enumerate() {
                if !(mask.is_valid(row) && mask.value(row)) {
                    *k = false;
                }
            }
        }
        Ok(keep)
    }
}

pub(crate) fn strip_qualifiers(expr: &Expr) -> DFResult<Expr> {
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
pub(crate) fn is_partition_filter(expr: &Expr, layout: PartitionLayout) -> bool {
    let columns = expr.column_refs();
    !columns.is_empty()
        && !expr.is_volatile()
        && columns
            .iter()
            .all(|c| layout.columns().contains(&c.name.as_str()))
}

/// How the `eventtime` side of a comparison relates to the event's instant `t` (ms, UTC): the
/// compared quantity `q` satisfies `q <= t < q + width`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Measure {
    /// The instant itself (`from_iso8601_timestamp(eventtime)`, a cast to a timestamp); a second
    /// of width covers a cast to a coarser unit.
    Instant,
    /// The day of the event (a cast to a date), compared with the start of a day.
    Day,
    /// The text of `eventtime`, compared as text. Every admitted `eventtime` is
    /// `yyyy-MM-ddTHH:mm:ss[.f]Z` (see [`crate::timestamp`]), so text order agrees with time order
    /// on that fixed-width prefix: `text >= L` implies `text[..19] >= L[..19]`, and so on. A text
    /// comparison therefore bounds the second when the literal starts with such a prefix, else
    /// only the day of its `yyyy-MM-dd` start, whatever offset or fraction it carries.
    Text,
}

impl Measure {
    fn width(self) -> i64 {
        match self {
            Measure::Instant => 1000,
            Measure::Day | Measure::Text => DAY_MS,
        }
    }
}

/// A bound's instant and width: `value <= t < value + width` for the instants it stands for.
type Bound = (i64, i64);

/// Bounds (ms since the epoch) that a filter puts on the instant `t` of `eventtime`, if any:
/// `low <= t` and `t < high`. Bounds are never tighter than the filter: strict comparisons count as
/// non-strict, and a literal that cannot be read exactly gives no bound.
pub(crate) fn time_bounds(expr: &Expr) -> Option<(Option<i64>, Option<i64>)> {
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            let (op, (value, width)) = if let Some(m) = eventtime_measure(left) {
                (*op, literal_bound(m, right)?)
            } else if let Some(m) = eventtime_measure(right) {
                (op.swap()?, literal_bound(m, left)?)
            } else {
                return None;
            };
            let high = value.checked_add(width)?;
            match op {
                Operator::Gt | Operator::GtEq => Some((Some(value), None)),
                Operator::Lt | Operator::LtEq => Some((None, Some(high))),
                Operator::Eq => Some((Some(value), Some(high))),
                _ => None,
            }
        }
        Expr::Between(b) if !b.negated => {
            let measure = eventtime_measure(&b.expr)?;
            let (low, _) = literal_bound(measure, &b.low)?;
            let (high, width) = literal_bound(measure, &b.high)?;
            let high = high.checked_add(width)?;
            Some((Some(low), Some(high)))
        }
        _ => None,
    }
}

/// What is known of every `eventtime` in some files: the smallest and largest text (all
/// `yyyy-MM-ddTHH:mm:ss[.f]Z`, none null), and the instants of their seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EventTimeSpan {
    pub(crate) min_text: String,
    pub(crate) max_text: String,
    /// The start of the smallest text's second: no event is earlier.
    pub(crate) first_ms: i64,
    /// The end of the largest text's second (its last millisecond): no event is later.
    pub(crate) last_ms: i64,
}

impl EventTimeSpan {
    /// The span of texts from `min` to `max`, if both are `eventtime`s as CloudTrail writes them.
    /// A text's 19-character second orders as the text does, so every text in between lies in the
    /// seconds from `min`'s to `max`'s, whatever fractions they carry.
    pub(crate) fn new(min: &str, max: &str) -> Option<Self> {
        let second = |text: &str| -> Option<i64> {
            let ms = parse_timestamp(text, Form::EventTime).ok()?;
            Some(ms.div_euclid(1000) * 1000)
        };
        let (first_ms, last_ms) = (second(min)?, second(max)?.checked_add(999)?);
        (min <= max).then(|| EventTimeSpan {
            min_text: min.to_string(),
            max_text: max.to_string(),
            first_ms,
            last_ms,
        })
    }

    /// The span covering both.
    pub(crate) fn union(self, other: Self) -> Self {
        EventTimeSpan {
            min_text: self.min_text.min(other.min_text),
            max_text: self.max_text.max(other.max_text),
            first_ms: self.first_ms.min(other.first_ms),
            last_ms: self.last_ms.max(other.last_ms),
        }
    }
}

/// Whether a time filter (one [`time_bounds`] reads) is true for every event in `span`, so that
/// evaluating it row by row would drop nothing. Only lower and upper bounds are proven, and
/// always with room to spare: a bound is proven when the span lies strictly beyond it (by a whole
/// millisecond for instants, a day for days), so rounding of literals and casts never matters.
pub(crate) fn holds_throughout(expr: &Expr, span: &EventTimeSpan) -> bool {
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            if let Some(m) = eventtime_measure(left) {
                bound_holds(m, *op, right, span)
            } else if let Some(m) = eventtime_measure(right) {
                op.swap().is_some_and(|op| bound_holds(m, op, left, span))
            } else {
                false
            }
        }
        Expr::Between(b) if !b.negated => eventtime_measure(&b.expr).is_some_and(|m| {
            bound_holds(m, Operator::GtEq, &b.low, span)
                && bound_holds(m, Operator::LtEq, &b.high, span)
        }),
        _ => false,
    }
}

/// Whether `measure(eventtime) op literal` holds for every event in `span`.
fn bound_holds(measure: Measure, op: Operator, literal: &Expr, span: &EventTimeSpan) -> bool {
    let lower = match op {
        Operator::Gt | Operator::GtEq => true,
        Operator::Lt | Operator::LtEq => false,
        _ => return false,
    };
    if measure == Measure::Text {
        // Text against text: the column's own order, exact at both ends.
        let Some(text) = literal_text(literal) else {
            return false;
        };
        return match op {
            Operator::Gt => span.min_text.as_str() > text,
            Operator::GtEq => span.min_text.as_str() >= text,
            Operator::Lt => span.max_text.as_str() < text,
            _ => span.max_text.as_str() <= text,
        };
    }
    let Some((value, _)) = literal_bound(measure, literal) else {
        return false;
    };
    // The compared quantity's range: the instant itself, or the start of its day.
    let (least, most) = match measure {
        Measure::Day => (
            span.first_ms.div_euclid(DAY_MS) * DAY_MS,
            span.last_ms.div_euclid(DAY_MS) * DAY_MS,
        ),
        // A cast to a coarser unit can round an instant down by up to a second.
        _ => (span.first_ms.saturating_sub(999), span.last_ms),
    };
    if lower {
        least > value
    } else {
        most < value
    }
}

/// What a comparison compares when one side is `eventtime`, as text or converted.
fn eventtime_measure(expr: &Expr) -> Option<Measure> {
    match expr {
        Expr::Column(c) if c.name == "eventtime" => Some(Measure::Text),
        Expr::Cast(c) => cast_measure(&c.expr, c.field.data_type()),
        Expr::TryCast(c) => cast_measure(&c.expr, c.field.data_type()),
        Expr::ScalarFunction(f)
            if f.func.name() == "from_iso8601_timestamp" && f.args.len() == 1 =>
        {
            (eventtime_measure(&f.args[0])? == Measure::Text).then_some(Measure::Instant)
        }
        _ => None,
    }
}

fn cast_measure(inner: &Expr, to: &DataType) -> Option<Measure> {
    let inner = eventtime_measure(inner)?;
    match (inner, to) {
        (Measure::Text, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) => {
            Some(Measure::Text)
        }
        (Measure::Day, DataType::Timestamp(..) | DataType::Date32 | DataType::Date64) => {
            Some(Measure::Day)
        }
        (_, DataType::Timestamp(..)) => Some(Measure::Instant),
        (_, DataType::Date32 | DataType::Date64) => Some(Measure::Day),
        _ => None,
    }
}

/// The text of a string literal (of any string type), `None` for anything else or a null.
pub fn literal_text(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::Literal(value, _) => value.try_as_str().flatten(),
        _ => None,
    }
}

/// The instants a constant stands for, as compared with a measure of `eventtime`: for text, the
/// second its `yyyy-MM-ddTHH:mm:ss` prefix names, or else the day its `yyyy-MM-dd` prefix names;
/// otherwise the timestamp or date it is, or the ISO-8601 text it holds read as
/// `from_iso8601_timestamp` reads it.
fn literal_bound(measure: Measure, expr: &Expr) -> Option<Bound> {
    let scalar = match expr {
        Expr::Literal(value, _) => value,
        Expr::Cast(c) => return literal_bound(measure, &c.expr),
        Expr::TryCast(c) => return literal_bound(measure, &c.expr),
        _ => return None,
    };
    let width = measure.width();
    if let Some(s) = scalar.try_as_str().flatten() {
        if measure != Measure::Text {
            return Some((parse_timestamp(s, Form::Iso8601).ok()?, width));
        }
        if let Some(second) = text_second_ms(s) {
            return Some((second, 1000));
        }
        let day = s
            .get(..10)
            .filter(|d| d.as_bytes()[4] == b'-' && d.as_bytes()[7] == b'-')?;
        return Some((parse_date(day).ok()?.checked_mul(DAY_MS)?, DAY_MS));
    }
    match scalar {
        _ if measure == Measure::Text => None,
        ScalarValue::TimestampSecond(Some(v), _) => Some((v.checked_mul(1000)?, width)),
        ScalarValue::TimestampMillisecond(Some(v), _) => Some((*v, width)),
        ScalarValue::TimestampMicrosecond(Some(v), _) => Some((v.div_euclid(1000), width)),
        ScalarValue::TimestampNanosecond(Some(v), _) => Some((v.div_euclid(1_000_000), width)),
        ScalarValue::Date32(Some(d)) => Some((*d as i64 * DAY_MS, width)),
        ScalarValue::Date64(Some(ms)) => Some((*ms, width)),
        _ => None,
    }
}

/// The second a text starting `yyyy-MM-ddTHH:mm:ss` names (in UTC, as `eventtime` is written).
fn text_second_ms(text: &str) -> Option<i64> {
    let prefix = text.get(..19)?;
    let shape = prefix.bytes().enumerate().all(|(i, b)| match i {
        4 | 7 => b == b'-',
        10 => b == b'T',
        13 | 16 => b == b':',
        _ => b.is_ascii_digit(),
    });
    if !shape {
        return None;
    }
    let t = chrono::NaiveDateTime::parse_from_str(prefix, "%Y-%m-%dT%H:%M:%S").ok()?;
    Some(t.and_utc().timestamp_millis())
}

fn day_start_ms(day: &str) -> Option<i64> {
    let d = NaiveDate::parse_from_str(day, "%Y/%m/%d").ok()?;
    Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
}

/// Keeps the files whose partition can hold rows that pass the filters. A file in day folder D
/// (the day CloudTrail delivered it, UTC) holds events from the start of day
/// D − `late_delivery_days` up to the end of day D: an event is never delivered before it happens,
/// and is assumed delivered at most that many days late. Within a day, a file CloudTrail named
/// holds events from before its delivery minute ([`LogFile::written_before_ms`]).
fn prune(
    state: &dyn Session,
    files: Vec<LogFile>,
    filters: &[Expr],
    layout: PartitionLayout,
    late_delivery_days: u32,
) -> DFResult<Vec<LogFile>> {
    let (low, high) = combined_time_bounds(filters);
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

    // A delivery named for minute M holds only records written before M (+ margins): a query for
    // later events skips it, in any layout.
    if low != i64::MIN {
        for (k, f) in keep.iter_mut().zip(&files) {
            if f.written_before_ms().is_some_and(|before| before <= low) {
                *k = false;
            }
        }
    }

    if low != i64::MIN || high != i64::MAX {
        for &i in &laid_out {
            if let Partitions::Layout { day, .. } = &files[i].partitions {
                if let Some(start) = day_start_ms(day) {
                    let earliest = start - i64::from(late_delivery_days) * DAY_MS;
                    if start + DAY_MS <= low || earliest >= high {
                        keep[i] = false;
                    }
                }
            }
        }
    }

    if !partition_filters.is_empty() && !laid_out.is_empty() {
        let filters = PartitionFilters::new(state, layout.columns(), &partition_filters)?;
        let kept = filters.keep(laid_out.len(), |row, column| {
            match &files[laid_out[row]].partitions {
                Partitions::Layout {
                    account,
                    region,
                    day,
                } => layout.value(column, Some(account), Some(region), Some(day)),
                Partitions::Records => None,
            }
        })?;
        for (&i, k) in laid_out.iter().zip(kept) {
            keep[i] &= k;
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
    /// The client of the `s3://` files, and their progress on a terminal.
    s3: Option<Arc<S3Access>>,
    progress: Option<Arc<Progress>>,
    /// Rows out and time spent reading (gunzip and decode), per partition, for EXPLAIN ANALYZE.
    metrics: ExecutionPlanMetricsSet,
}

impl CloudTrailScanExec {
    fn new(
        mut files: Vec<LogFile>,
        projection: Projection,
        settings: ScanSettings,
        partitions: usize,
        stats: ScanStats,
        s3: Option<Arc<S3Access>>,
    ) -> Self {
        let remote: Vec<&LogFile> = files
            .iter()
            .filter(|f| matches!(f.location, Location::S3 { .. }))
            .collect();
        let progress = (!remote.is_empty()).then(|| {
            Arc::new(Progress::new(
                "s3",
                remote.len() as u64,
                remote.iter().map(|f| f.size).sum(),
            ))
        });
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
            s3,
            progress,
            metrics: ExecutionPlanMetricsSet::new(),
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
            self.projection.describe()
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

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
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
        let objects: Vec<(String, String)> = files
            .iter()
            .filter_map(|f| match &f.location {
                Location::S3 { bucket, key } => Some((bucket.clone(), key.clone())),
                Location::Local => None,
            })
            .collect();
        let fetched = match (&self.s3, objects.is_empty()) {
            (Some(access), false) => {
                let ahead = (S3_FETCHES_AHEAD / self.assignments.len().max(1)).max(2);
                Some(prefetch(
                    access.clone(),
                    objects,
                    ahead,
                    self.progress.clone(),
                ))
            }
            _ => None,
        };
        let read_time = MetricBuilder::new(&self.metrics).subset_time("read_time", partition);
        tokio::task::spawn_blocking(move || {
            read_partition(files, projection, settings, stats, tx, fetched, read_time)
        });
        let baseline = BaselineMetrics::new(&self.metrics, partition);
        let stream = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        })
        .inspect(move |item| {
            if let Ok(batch) = item {
                baseline.record_output(batch.num_rows());
            }
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
    mut fetched: Option<tokio::sync::mpsc::Receiver<crate::Result<Vec<u8>>>>,
    read_time: Time,
) {
    let skip = settings.on_error == OnError::Skip;
    let mut emitted = 0usize;
    for file in files {
        if tx.is_closed() || settings.limit.is_some_and(|l| emitted >= l) {
            return;
        }
        let result = match &file.location {
            Location::Local => {
                let _timer = read_time.timer();
                read_file(
                    &file.path,
                    &file.partitions,
                    &projection,
                    settings.batch_size,
                    skip,
                )
            }
            Location::S3 { .. } => {
                // The wait for the download is not read time.
                let raw = fetched.as_mut().and_then(|rx| rx.blocking_recv());
                let _timer = read_time.timer();
                match raw {
                    Some(Ok(raw)) => read_bytes(&file, raw, &projection, settings.batch_size, skip),
                    Some(Err(err)) => Err(err),
                    None => Err(Error::file(
                        &file.path,
                        "the download stopped before this object (the query was cancelled)",
                    )),
                }
            }
        };
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

/// Decodes a fetched object as [`read_file`] decodes a file.
fn read_bytes(
    file: &LogFile,
    raw: Vec<u8>,
    projection: &Projection,
    batch_size: usize,
    skip_bad_records: bool,
) -> crate::Result<FileOutcome> {
    let json = decompress(&file.path, raw)?;
    let mut outcome = decode(
        &json,
        &file.path,
        &file.partitions,
        projection,
        batch_size,
        skip_bad_records,
    )?;
    outcome.json_bytes = json.len();
    Ok(outcome)
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
