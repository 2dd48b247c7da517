//! The CloudTrail table over a compacted folder (see [`crate::compact`]): Parquet files under
//! `account=<id>/region=<r>/day=<yyyy-MM-dd>/`, read by DataFusion's listing table with partition
//! pruning and row-group / page statistics, shown with the same columns as the JSON table (`day`
//! as `yyyy/MM/dd`, or the columns of another [`PartitionLayout`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::datatypes::{DataType, SchemaRef};
use async_trait::async_trait;
use chrono::DateTime;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::stats::Precision;
use datafusion::common::DFSchema;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{FileRange, PartitionedFile};
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfig};
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::TableType;
use datafusion::error::Result as DFResult;
use datafusion::functions::expr_fn::{replace, substring};
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{col, lit, Expr, TableProviderFilterPushDown};
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;

use crate::compact::MANIFEST;
use crate::error::{Error, Result};
use crate::local::parquet_format::NamedParquetFormat;
use crate::local::table::{combined_time_bounds, holds_throughout, time_bounds, EventTimeSpan};
use crate::result::ScanStats;
use crate::schema::{record_schema, PartitionLayout};

/// The folder of a compacted copy, when the sources are exactly one such folder: it holds the
/// compaction manifest, or Parquet files under `account=` folders.
pub fn compacted_root(sources: &[String]) -> Option<PathBuf> {
    let [source] = sources else {
        return None;
    };
    let root = Path::new(source);
    if !root.is_dir() {
        return None;
    }
    if root.join(MANIFEST).is_file() {
        return Some(root.to_path_buf());
    }
    let entries = std::fs::read_dir(root).ok()?;
    let has_account_dirs = entries
        .flatten()
        .any(|e| e.file_name().to_string_lossy().starts_with("account=") && e.path().is_dir());
    (has_account_dirs && has_parquet(root, 4)).then(|| root.to_path_buf())
}

fn has_parquet(dir: &Path, depth: usize) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let path = e.path();
        if path.is_dir() {
            depth > 0 && has_parquet(&path, depth - 1)
        } else {
            path.extension().is_some_and(|x| x == "parquet")
        }
    })
}

/// The table over the compacted folder `root`, as the session's CloudTrail table.
pub fn table(
    ctx: &SessionContext,
    root: &Path,
    layout: PartitionLayout,
) -> Result<Arc<dyn TableProvider>> {
    let absolute = std::fs::canonicalize(root).map_err(|e| Error::Source {
        path: root.display().to_string(),
        reason: format!("cannot open the compacted folder: {e}"),
    })?;
    let url = format!("{}/", absolute.to_string_lossy().trim_end_matches('/'));
    let written_here = root.join(MANIFEST).is_file();
    table_at(ctx, &url, &root.display().to_string(), layout, written_here)
}

/// The table over the compacted copy at the folder URL `url` (a local path or `s3://bucket/
/// prefix/`, whose object store the context has), as the session's CloudTrail table; `name`
/// names the copy in errors. `written_here`: the copy has the manifest of `spintrail compact`,
/// so every `eventtime` in it is one the reader admitted (CloudTrail's form).
pub fn table_at(
    ctx: &SessionContext,
    url: &str,
    name: &str,
    layout: PartitionLayout,
    written_here: bool,
) -> Result<Arc<dyn TableProvider>> {
    let listing = listing(url, name)?;
    let frame = ctx.read_table(Arc::new(TimeBounded {
        inner: Arc::new(listing),
        provable: written_here,
    }))?;

    // The table's columns: the records, then the layout's partition columns computed from the
    // folder's account, region and `yyyy-MM-dd` day.
    let day = || replace(col("day"), lit("-"), lit("/"));
    let mut columns: Vec<Expr> = record_schema()
        .fields()
        .iter()
        .map(|f| col(f.name().as_str()))
        .collect();
    let part = |start: i64, len: i64| substring(col("day"), lit(start), lit(len));
    let extra: Vec<Expr> = match layout {
        // Pass-through columns stay un-aliased: DataFusion 55's push_down_leaf_projections
        // turns `account AS account` into a qualified and an unqualified `account` side by side
        // ("would be ambiguous") when a query reads a struct field in an aggregate.
        PartitionLayout::Spintrail => vec![col("account"), col("region"), day().alias("day")],
        PartitionLayout::AwsProjection => vec![day().alias("timestamp")],
        PartitionLayout::AwsManual => vec![
            col("region"),
            part(1, 4).alias("year"),
            part(6, 2).alias("month"),
            part(9, 2).alias("day"),
        ],
    };
    columns.extend(extra);
    Ok(frame.select(columns)?.into_view())
}

/// DataFusion's listing of the Parquet files under the folder URL `url`, with the partition
/// columns of compaction's folders and the files' `eventtime` order.
fn listing(url: &str, name: &str) -> Result<ListingTable> {
    let url = ListingTableUrl::parse(url).map_err(|e| Error::Source {
        path: name.to_string(),
        reason: format!("not a folder URL: {e}"),
    })?;
    let partitions: Vec<(String, DataType)> = ["account", "region", "day"]
        .iter()
        .map(|c| (c.to_string(), DataType::Utf8))
        .collect();
    // Errors about one file name it: `/` + the path for local files, `s3://bucket/` + the key.
    let store = url.object_store();
    let root = if store.as_str().starts_with("file://") {
        "/".to_string()
    } else {
        store.as_str().to_string()
    };
    let format = NamedParquetFormat::new(ParquetFormat::default(), root);
    let options = ListingOptions::new(Arc::new(format))
        .with_file_extension(".parquet")
        .with_table_partition_cols(partitions)
        .with_file_sort_order(vec![vec![col("eventtime").sort(true, false)]]);
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .with_schema(record_schema());
    Ok(ListingTable::try_new(config)?)
}

/// A table whose scans also get `eventtime` text bounds implied by the query's time filters, so
/// that `from_iso8601_timestamp(eventtime) > ...` (which no statistics can evaluate) still skips
/// row groups and pages by their `eventtime` min/max. The added filters are implied by the
/// query's own, which still decide every row.
///
/// The table evaluates the time filters itself (it declares them exact), so that it can leave
/// out those the files' `eventtime` statistics prove true for every row: a query for "since last
/// month" over a copy holding last week parses no timestamp at all. The proof needs every
/// `eventtime` between a file's min and max in CloudTrail's form, so it is made only for copies
/// `spintrail compact` wrote (of Parquet written elsewhere, a malformed `eventtime` must still
/// fail the query as it does on the JSON).
#[derive(Debug)]
struct TimeBounded {
    inner: Arc<dyn TableProvider>,
    /// Whether the files' statistics may prove time filters (see above).
    provable: bool,
}

/// A filter this table evaluates itself: a time filter on `eventtime` alone.
fn is_time_filter(filter: &Expr) -> bool {
    time_bounds(filter).is_some()
        && !filter.is_volatile()
        && filter.column_refs().iter().all(|c| c.name == "eventtime")
}

/// The time filters of `filters` (see [`is_time_filter`]), which a scan applies itself.
pub fn time_filters(filters: &[Expr]) -> Vec<Expr> {
    filters
        .iter()
        .filter(|f| is_time_filter(f))
        .cloned()
        .collect()
}

/// `inner`'s answers for `filters`, with the time filters made exact (the scan applies them).
pub fn time_filters_exact(
    filters: &[&Expr],
    inner: Vec<TableProviderFilterPushDown>,
) -> Vec<TableProviderFilterPushDown> {
    filters
        .iter()
        .zip(inner)
        .map(|(f, pushdown)| {
            if is_time_filter(f) {
                TableProviderFilterPushDown::Exact
            } else {
                pushdown
            }
        })
        .collect()
}

#[async_trait]
impl TableProvider for TimeBounded {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DFResult<Vec<TableProviderFilterPushDown>> {
        let inner = self.inner.supports_filters_pushdown(filters)?;
        Ok(time_filters_exact(filters, inner))
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        let time_filters = time_filters(filters);
        let lanes = state.config().target_partitions();
        if time_filters.is_empty() {
            let plan = self.inner.scan(state, projection, filters, limit).await?;
            return Ok(balanced(plan, lanes, MIN_RANGE));
        }
        let (wanted, read) = with_eventtime(&self.schema(), projection)?;
        let plan = balanced(
            self.inner.scan(state, Some(&read), filters, None).await?,
            lanes,
            MIN_RANGE,
        );
        let span = if self.provable {
            eventtime_span(&plan)
        } else {
            None
        };
        let needed: Vec<Expr> = match span {
            Some(span) => time_filters
                .into_iter()
                .filter(|f| !holds_throughout(f, &span))
                .collect(),
            None => time_filters,
        };
        // DataFusion 55's listing scan takes only partition filters; the others reach the
        // Parquet source through the physical filter pushdown of a FilterExec above the scan,
        // which is where the bounds go too (they also prune row groups and pages). The
        // projection back to the query's columns reaches the scan as well, so a proven filter's
        // `eventtime` is never decoded.
        let bounds = eventtime_text_bounds(&needed);
        filtered(
            state,
            plan,
            conjunction(needed.into_iter().chain(bounds)),
            wanted.len(),
        )
    }
}

/// The columns a scan applying time filters itself reads: the query's (`projection`, all when
/// `None`), then `eventtime` when the query does not read it. Returns (query's, read).
pub fn with_eventtime(
    schema: &SchemaRef,
    projection: Option<&Vec<usize>>,
) -> DFResult<(Vec<usize>, Vec<usize>)> {
    let eventtime = schema.index_of("eventtime")?;
    let wanted: Vec<usize> = match projection {
        Some(p) => p.clone(),
        None => (0..schema.fields().len()).collect(),
    };
    let mut read = wanted.clone();
    if !read.contains(&eventtime) {
        read.push(eventtime);
    }
    Ok((wanted, read))
}

/// `plan` (a scan of the columns [`with_eventtime`] chose) with `predicate` applied to its rows,
/// then projected back to the query's first `wanted` columns. The scan must have been made
/// without the query's limit: rows the predicate drops must not count towards it.
pub fn filtered(
    state: &dyn Session,
    plan: Arc<dyn ExecutionPlan>,
    predicate: Option<Expr>,
    wanted: usize,
) -> DFResult<Arc<dyn ExecutionPlan>> {
    let mut plan = plan;
    if let Some(predicate) = predicate {
        let schema = DFSchema::try_from(plan.schema().as_ref().clone())?;
        let predicate = state.create_physical_expr(predicate, &schema)?;
        plan = Arc::new(FilterExec::try_new(predicate, plan)?);
    }
    let schema = plan.schema();
    if schema.fields().len() == wanted {
        return Ok(plan);
    }
    let columns: Vec<(Arc<dyn PhysicalExpr>, String)> = (0..wanted)
        .map(|i| {
            let name = schema.field(i).name().clone();
            (
                Arc::new(Column::new(&name, i)) as Arc<dyn PhysicalExpr>,
                name,
            )
        })
        .collect();
    Ok(Arc::new(ProjectionExec::try_new(columns, plan)?))
}

/// The smallest byte range [`balanced`] makes of a file: below it, a range is not worth another
/// open of the file.
const MIN_RANGE: u64 = 8 << 20;

/// The scan with its files split into byte ranges when one partition would otherwise hold much
/// more than its share: a compacted copy's day files differ in size by orders of magnitude (a
/// busy region's day beside a quiet one's), and DataFusion groups whole files per partition when
/// there are as many files as partitions, so one core would read most of the data while the
/// other idles. Each range becomes its own partition (ranges of one sorted file stay sorted, so
/// the table's `eventtime` order holds per partition), at most a `1 / (2 * lanes)` share, so the
/// partitions, run side by side, finish together. Parquet assigns each row group to the range
/// holding its middle byte. No range is smaller than `min_range` bytes.
fn balanced(plan: Arc<dyn ExecutionPlan>, lanes: usize, min_range: u64) -> Arc<dyn ExecutionPlan> {
    let Some(exec) = plan.downcast_ref::<DataSourceExec>() else {
        return plan;
    };
    let Some(config) = exec.data_source().downcast_ref::<FileScanConfig>() else {
        return plan;
    };
    // The bytes of a file a scan reads: its range, or all of it.
    let bytes = |f: &PartitionedFile| match &f.range {
        Some(r) => (r.start.max(0) as u64, r.end.max(0) as u64),
        None => (0, f.object_meta.size),
    };
    let group_sizes: Vec<u64> = config
        .file_groups
        .iter()
        .map(|g| {
            g.files()
                .iter()
                .map(|f| {
                    let (start, end) = bytes(f);
                    end.saturating_sub(start)
                })
                .sum()
        })
        .collect();
    let total: u64 = group_sizes.iter().sum();
    let largest = group_sizes.iter().copied().max().unwrap_or(0);
    let fair = total.div_ceil(lanes.max(1) as u64);
    // Balanced enough already (or one lane): leave DataFusion's plan as it is.
    if lanes <= 1 || largest <= fair + fair / 4 {
        return plan;
    }
    let piece = total.div_ceil(2 * lanes as u64).max(min_range.max(1));
    let mut groups = Vec::new();
    for file in config.file_groups.iter().flat_map(|g| g.files()) {
        let (start, end) = bytes(file);
        let pieces = end.saturating_sub(start).div_ceil(piece).max(1);
        if pieces == 1 {
            groups.push(FileGroup::new(vec![file.clone()]));
            continue;
        }
        let step = end.saturating_sub(start).div_ceil(pieces);
        for from in (start..end).step_by(step as usize) {
            let mut part = file.clone();
            part.range = Some(FileRange {
                start: from as i64,
                end: (from + step).min(end) as i64,
            });
            groups.push(FileGroup::new(vec![part]));
        }
    }
    let mut config = config.clone();
    config.file_groups = groups;
    DataSourceExec::from_data_source(config)
}

/// The span of `eventtime` over every file a scan reads, from the files' statistics (footers);
/// `None` when any file's are missing, inexact or not CloudTrail's form, or it may hold a null.
fn eventtime_span(plan: &Arc<dyn ExecutionPlan>) -> Option<EventTimeSpan> {
    let mut span: Option<EventTimeSpan> = None;
    let mut stack = vec![plan.clone()];
    while let Some(node) = stack.pop() {
        if let Some(exec) = node.downcast_ref::<DataSourceExec>() {
            let config = exec.data_source().downcast_ref::<FileScanConfig>()?;
            let column = config.file_schema().index_of("eventtime").ok()?;
            for file in config.file_groups.iter().flat_map(|g| g.files()) {
                let stats = file.statistics.as_ref()?.column_statistics.get(column)?;
                if stats.null_count != Precision::Exact(0) {
                    return None;
                }
                let (Precision::Exact(min), Precision::Exact(max)) =
                    (&stats.min_value, &stats.max_value)
                else {
                    return None;
                };
                let file_span =
                    EventTimeSpan::new(min.try_as_str().flatten()?, max.try_as_str().flatten()?)?;
                span = Some(match span {
                    Some(s) => s.union(file_span),
                    None => file_span,
                });
            }
        }
        stack.extend(node.children().into_iter().cloned());
    }
    span
}

/// `eventtime >= 'yyyy-MM-ddTHH:mm:ss'` and `eventtime < '...'` for the instants the filters allow.
/// Every stored `eventtime` is `yyyy-MM-ddTHH:mm:ss[.f]Z`, whose first 19 characters order as
/// time does; comparing with the 19-character prefix alone keeps fractions and the `Z` out of the
/// comparison (`.` sorts before `Z`).
fn eventtime_text_bounds(filters: &[Expr]) -> Vec<Expr> {
    let second = |ms: i64| -> Option<String> {
        let t = DateTime::from_timestamp_millis(ms.div_euclid(1000).checked_mul(1000)?)?;
        let text = t.format("%Y-%m-%dT%H:%M:%S").to_string();
        (text.len() == 19).then_some(text)
    };
    let (low, high) = combined_time_bounds(filters);
    let mut bounds = Vec::new();
    if low != i64::MIN {
        if let Some(text) = second(low) {
            bounds.push(col("eventtime").gt_eq(lit(text)));
        }
    }
    if high != i64::MAX {
        // t < high: t's second is at most (high - 1 ms)'s, so its text is below the next second's.
        if let Some(text) = high
            .checked_sub(1)
            .and_then(|h| h.checked_add(1000))
            .and_then(second)
        {
            bounds.push(col("eventtime").lt(lit(text)));
        }
    }
    bounds
}

/// Sums what the Parquet scans of a plan read: bytes fetched from the files (footers, pages)
/// and rows produced.
pub fn collect_parquet_stats(plan: &Arc<dyn ExecutionPlan>) -> ScanStats {
    let mut total = ScanStats::default();
    let mut stack = vec![plan.clone()];
    while let Some(node) = stack.pop() {
        if let Some(exec) = node.downcast_ref::<DataSourceExec>() {
            if let Some(config) = exec.data_source().downcast_ref::<FileScanConfig>() {
                // A large file is split into byte ranges over several groups: count it once.
                let files: std::collections::HashSet<&str> = config
                    .file_groups
                    .iter()
                    .flat_map(|g| g.files().iter().map(|f| f.object_meta.location.as_ref()))
                    .collect();
                total.files_read += files.len();
            }
            if let Some(metrics) = node.metrics() {
                if let Some(bytes) = metrics.sum_by_name("bytes_scanned") {
                    total.bytes_read += bytes.as_usize() as u64;
                    total.rows += metrics.output_rows().unwrap_or(0) as u64;
                    total.records_read += metrics.output_rows().unwrap_or(0) as u64;
                }
            }
        }
        stack.extend(node.children().into_iter().cloned());
    }
    total
}

/// The name of the row number column of [`deduplicated`] (never shown).
const ROW_NUMBER: &str = "spintrail_dedup_rn";

/// `table` with each `eventid` once per partition (the layout's partition columns), the first by
/// `eventtime` (identical copies of a delivered event are interchangeable); rows without an
/// `eventid` are all kept. Partitioning the window by the partition columns too lets partition
/// filters on the view still reach the scan and skip files.
pub fn deduplicated(
    ctx: &SessionContext,
    table: Arc<dyn TableProvider>,
    layout: PartitionLayout,
) -> Result<Arc<dyn TableProvider>> {
    use datafusion::functions_window::expr_fn::row_number;
    use datafusion::logical_expr::ExprFunctionExt;

    let names: Vec<String> = table
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let numbered = row_number()
        .partition_by(
            std::iter::once(col("eventid"))
                .chain(layout.columns().iter().map(|c| col(*c)))
                .collect(),
        )
        .order_by(vec![col("eventtime").sort(true, false)])
        .build()?
        .alias(ROW_NUMBER);
    let frame = ctx
        .read_table(table)?
        .window(vec![numbered])?
        .filter(col(ROW_NUMBER).eq(lit(1u64)).or(col("eventid").is_null()))?
        .select(names.iter().map(|n| col(n.as_str())).collect::<Vec<_>>())?;
    Ok(frame.into_view())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::TimeUnit;
    use datafusion::common::ScalarValue;
    use datafusion::logical_expr::cast;

    fn instant(ms: i64) -> Expr {
        lit(ScalarValue::TimestampMillisecond(Some(ms), None))
    }

    fn as_time() -> Expr {
        cast(
            col("eventtime"),
            DataType::Timestamp(TimeUnit::Millisecond, None),
        )
    }

    #[test]
    fn time_filters_become_text_bounds_on_the_second() {
        // 2026-10-31T23:00:00.500Z < t < 2026-11-01T00:00:00.001Z; the upper bound allows for a
        // cast to whole seconds (time_bounds widens it by one), then rounds up to the next second.
        let low = 1_793_487_600_500;
        let filters = [
            as_time().gt(instant(low)),
            as_time().lt(instant(low + 3_599_501)),
        ];
        assert_eq!(
            eventtime_text_bounds(&filters),
            vec![
                col("eventtime").gt_eq(lit("2026-10-31T23:00:00")),
                col("eventtime").lt(lit("2026-11-01T00:00:02")),
            ]
        );
        // A text comparison bounds the second of its `yyyy-MM-ddTHH:mm:ss` start, or else the day.
        let text = [col("eventtime").gt(lit("2026-10-31T23:00:00-05:00"))];
        assert_eq!(
            eventtime_text_bounds(&text),
            vec![col("eventtime").gt_eq(lit("2026-10-31T23:00:00"))]
        );
        let date = [col("eventtime").gt(lit("2026-10-31"))];
        assert_eq!(
            eventtime_text_bounds(&date),
            vec![col("eventtime").gt_eq(lit("2026-10-31T00:00:00"))]
        );
        // No time filter, no bound; years outside four digits give none either.
        assert!(eventtime_text_bounds(&[col("eventname").eq(lit("x"))]).is_empty());
        assert!(eventtime_text_bounds(&[as_time().gt(instant(i64::MIN / 2))]).is_empty());
    }

    #[test]
    fn time_filters_proven_by_the_span_of_eventtime() {
        use crate::timestamp::{parse_timestamp, Form};
        let at = |text: &str| parse_timestamp(text, Form::EventTime).unwrap();
        // A fraction sorts before the whole second ('.' < 'Z'): with "10:00:00.250Z" the
        // smallest text, "10:00:00Z" may be in the files too, so the span starts at 10:00:00.
        let span = EventTimeSpan::new("2026-10-31T10:00:00.250Z", "2026-10-31T12:00:05Z").unwrap();
        assert_eq!(span.first_ms, at("2026-10-31T10:00:00Z"));
        assert_eq!(span.last_ms, at("2026-10-31T12:00:05.999Z"));
        let proven = |e: Expr| holds_throughout(&e, &span);

        // Instants: proven with a second to spare below (casts to whole seconds), exactly above.
        assert!(proven(as_time().gt(instant(at("2026-10-31T09:59:58Z")))));
        assert!(!proven(as_time().gt(instant(at("2026-10-31T10:00:00Z")))));
        assert!(!proven(
            as_time().gt_eq(instant(at("2026-10-31T09:59:59.500Z")))
        ));
        assert!(proven(as_time().lt(instant(at("2026-10-31T12:00:06Z")))));
        assert!(!proven(
            as_time().lt_eq(instant(at("2026-10-31T12:00:05.500Z")))
        ));
        assert!(proven(instant(at("2026-10-31T12:00:06Z")).gt(as_time())));
        assert!(proven(as_time().between(
            instant(at("2026-10-30T00:00:00Z")),
            instant(at("2026-11-01T00:00:00Z"))
        )));
        assert!(!proven(as_time().not_between(
            instant(at("2026-10-30T00:00:00Z")),
            instant(at("2026-11-01T00:00:00Z"))
        )));

        // Text against text, exactly.
        assert!(proven(col("eventtime").gt(lit("2026-10-31T10:00:00"))));
        assert!(!proven(
            col("eventtime").gt(lit("2026-10-31T10:00:00.250Z"))
        ));
        assert!(proven(
            col("eventtime").gt_eq(lit("2026-10-31T10:00:00.250Z"))
        ));
        assert!(!proven(col("eventtime").lt(lit("2026-10-31T12:00:05Z"))));
        assert!(proven(col("eventtime").lt_eq(lit("2026-10-31T12:00:05Z"))));

        // Days: the day of every event, compared with a day.
        let day = |d: i32| lit(ScalarValue::Date32(Some(d)));
        let as_day = || cast(col("eventtime"), DataType::Date32);
        let oct31 = (at("2026-10-31T00:00:00Z") / 86_400_000) as i32;
        assert!(proven(as_day().gt(day(oct31 - 1))));
        assert!(!proven(as_day().gt(day(oct31))));
        assert!(proven(as_day().lt(day(oct31 + 1))));

        // Not a bound: never proven.
        assert!(!proven(as_time().eq(instant(at("2026-10-31T11:00:00Z")))));
        assert!(!proven(
            as_time().not_eq(instant(at("2026-10-01T00:00:00Z")))
        ));
        assert!(!proven(
            as_time()
                .gt(instant(at("2026-10-01T00:00:00Z")))
                .or(col("eventname").eq(lit("x")))
        ));
        assert!(!proven(col("eventname").gt(lit("A"))));

        // Only CloudTrail's form makes a span, in order.
        assert!(EventTimeSpan::new("2026-10-31 10:00:00", "2026-10-31T12:00:05Z").is_none());
        assert!(EventTimeSpan::new("2026-10-31T12:00:05Z", "2026-10-31T10:00:00Z").is_none());
        let wider =
            span.union(EventTimeSpan::new("2026-10-30T00:00:00Z", "2026-10-30T01:00:00Z").unwrap());
        assert_eq!(wider.min_text, "2026-10-30T00:00:00Z");
        assert_eq!(wider.max_text, "2026-10-31T12:00:05Z");
        assert_eq!(wider.first_ms, at("2026-10-30T00:00:00Z"));
        assert_eq!(wider.last_ms, at("2026-10-31T12:00:05.999Z"));
    }

    /// The ranges of a scan split by `balanced` read every row of every file exactly once, and
    /// each range is its own partition (so the files' `eventtime` order holds per partition).
    #[tokio::test]
    async fn a_split_scan_reads_every_row_once() {
        use crate::compact::{compact, CompactOptions};
        use crate::generate::{generate, GenerateOptions};
        use arrow::array::{Array, StringArray};
        use chrono::{TimeZone, Utc};
        use datafusion::physical_plan::collect;

        let logs = tempfile::tempdir().unwrap();
        let copy = tempfile::tempdir().unwrap();
        generate(&GenerateOptions {
            out_dir: logs.path().to_path_buf(),
            events: 6_000,
            end: Utc.with_ymd_and_hms(2024, 7, 30, 21, 0, 0).unwrap(),
            seed: 7,
            threads: 2,
            ..GenerateOptions::default()
        })
        .unwrap();
        let options = CompactOptions {
            row_group_rows: 200,
            ..CompactOptions::default()
        };
        let dest = copy.path().display().to_string();
        compact(&logs.path().display().to_string(), &dest, &options)
            .await
            .unwrap();

        let ctx = SessionContext::new();
        let table = listing(&format!("{dest}/"), &dest).unwrap();
        let eventid = table.schema().index_of("eventid").unwrap();
        let plan = table
            .scan(&ctx.state(), Some(&vec![eventid]), &[], None)
            .await
            .unwrap();
        let groups = |plan: &Arc<dyn ExecutionPlan>| {
            let exec = plan.downcast_ref::<DataSourceExec>().unwrap();
            let config = exec.data_source().downcast_ref::<FileScanConfig>().unwrap();
            config.file_groups.clone()
        };
        let whole = groups(&plan);
        let files = whole.iter().map(|g| g.len()).sum::<usize>();

        // Two lanes, ranges of at least 1 KiB: the larger files are split.
        let split = balanced(plan.clone(), 2, 1024);
        let parts = groups(&split);
        assert!(
            parts.len() > files,
            "{} ranges of {files} files",
            parts.len()
        );
        assert!(parts.iter().all(|g| g.len() == 1));
        // Per file, the ranges follow each other from the first byte to the last.
        for file in whole.iter().flat_map(|g| g.files()) {
            let mut covered = 0;
            for part in parts.iter().flat_map(|g| g.files()) {
                if part.object_meta.location != file.object_meta.location {
                    continue;
                }
                match &part.range {
                    Some(r) => {
                        assert_eq!(r.start as u64, covered);
                        covered = r.end as u64;
                    }
                    None => covered = file.object_meta.size,
                }
            }
            assert_eq!(covered, file.object_meta.size);
        }

        let ids = |batches: Vec<arrow::record_batch::RecordBatch>| {
            let mut ids: Vec<String> = batches
                .iter()
                .flat_map(|b| {
                    let column = b.column(0).as_any().downcast_ref::<StringArray>().unwrap();
                    (0..column.len())
                        .map(|i| column.value(i).to_string())
                        .collect::<Vec<_>>()
                })
                .collect();
            ids.sort();
            ids
        };
        let expected = ids(collect(plan, ctx.task_ctx()).await.unwrap());
        let got = ids(collect(split, ctx.task_ctx()).await.unwrap());
        assert_eq!(expected.len(), 6_000);
        assert_eq!(got, expected);

        // Balanced already (one lane): the plan is left as it is.
        let plan = table.scan(&ctx.state(), None, &[], None).await.unwrap();
        assert!(Arc::ptr_eq(&balanced(plan.clone(), 1, 1024), &plan));
    }
}
