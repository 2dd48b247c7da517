//! The CloudTrail table over a compacted folder (see [`crate::compact`]): Parquet files under
//! `account=<id>/region=<r>/day=<yyyy-MM-dd>/`, read by DataFusion's listing table with partition
//! pruning and row-group / page statistics, shown with the same columns as the JSON table (`day`
//! as `yyyy/MM/dd`, or the columns of another [`PartitionLayout`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion::catalog::TableProvider;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::datasource::physical_plan::FileScanConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::functions::expr_fn::{replace, substring};
use datafusion::logical_expr::{col, lit, Expr};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;

use crate::compact::MANIFEST;
use crate::error::{Error, Result};
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
    let url = ListingTableUrl::parse(&url).map_err(|e| Error::Source {
        path: root.display().to_string(),
        reason: format!("not a folder URL: {e}"),
    })?;
    let partitions: Vec<(String, DataType)> = ["account", "region", "day"]
        .iter()
        .map(|c| (c.to_string(), DataType::Utf8))
        .collect();
    let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(".parquet")
        .with_table_partition_cols(partitions)
        .with_file_sort_order(vec![vec![col("eventtime").sort(true, false)]]);
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .with_schema(record_schema());
    let listing = ListingTable::try_new(config)?;
    let frame = ctx.read_table(Arc::new(listing))?;

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
