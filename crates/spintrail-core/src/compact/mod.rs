//! Compaction: CloudTrail logs rewritten as the table contract in Parquet (zstd), one file per
//! account, region and day, rows sorted by `eventtime`, so that both engines read a fraction of
//! the bytes of the JSON.
//!
//! Layout (Hive-style, which DataFusion's listing reads as partitions and Athena's partition
//! projection addresses with `storage.location.template`):
//! `DEST/account=<id>/region=<region>/day=<yyyy-MM-dd>/part-0.parquet`. The record columns are
//! stored; the partition values are in the path only.
//!
//! Incremental: `DEST/_spintrail_manifest.json` records, per day partition, the source files (name,
//! size, modification time or ETag) that went into it. A run rewrites only the days that are new or
//! whose inputs changed; each file is written under a temporary name and renamed (on S3, one
//! PutObject), so a half-written file is never visible. Days whose source files are gone (log
//! retention) are kept.
//!
//! The source is read through the embedded engine ([`LocalSession`]) with the files of one day as
//! its sources, so any source the engine reads can be compacted: a folder, or an `s3://` prefix
//! (listed once; each day is read through its folder prefix, and an object's ETag stands for a
//! file's modification time in the manifest).

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, AsArray, BooleanArray, RecordBatch};
use arrow::datatypes::DataType;
use futures::StreamExt;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use serde::{Deserialize, Serialize};

use crate::aws::ConnectOptions;
use crate::error::{Error, Result};
use crate::local::session::{LocalSession, SessionOptions};
use crate::local::source::{list, Partitions};
use crate::local::table::OnError;
use crate::s3::{fetch, list::Everything, S3Access, S3Url};
use crate::schema::record_schema;

/// The manifest's name in the destination (DataFusion's listing and Athena skip `_` files).
pub const MANIFEST: &str = "_spintrail_manifest.json";
/// The manifest format this version writes.
const MANIFEST_VERSION: u32 = 1;
/// Rows per row group: small enough that `eventtime` ranges skip most of a day's file.
pub const DEFAULT_ROW_GROUP_ROWS: usize = 65_536;
/// The data file of a day partition.
const PART: &str = "part-0.parquet";

/// Settings of a compaction.
#[derive(Debug, Clone)]
pub struct CompactOptions {
    /// Drop events whose `eventid` was already written for the same day partition, keeping the
    /// first by `eventtime`.
    pub dedup: bool,
    /// Rows per Parquet row group.
    pub row_group_rows: usize,
    /// Skip unreadable files and invalid records (they are counted) instead of stopping.
    pub on_error: OnError,
    /// Parallel readers; 0 means one per core.
    pub threads: usize,
    /// How to reach S3, for an `s3://` source or destination.
    pub connect: ConnectOptions,
    /// The S3 client's region (else the profile's or the environment's).
    pub region: Option<String>,
}

impl Default for CompactOptions {
    fn default() -> Self {
        CompactOptions {
            dedup: false,
            row_group_rows: DEFAULT_ROW_GROUP_ROWS,
            on_error: OnError::Raise,
            threads: 0,
            connect: ConnectOptions::default(),
            region: None,
        }
    }
}

/// What a compaction did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompactReport {
    /// Day partitions (account, region, day) in the source.
    pub days: usize,
    /// Day partitions written (new or changed) by this run.
    pub days_written: usize,
    /// Day partitions already up to date.
    pub days_unchanged: usize,
    /// Source files read.
    pub files_read: usize,
    /// Rows written.
    pub rows_written: u64,
    /// Duplicate events left out (with `dedup`).
    pub duplicates_dropped: u64,
    /// Bytes of Parquet written.
    pub bytes_written: u64,
    /// Files of the source that are not log files of the table (digests, Insights).
    pub files_excluded: usize,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Manifest {
    version: u32,
    dedup: bool,
    /// Keyed by the partition's folder, `account=…/region=…/day=…`.
    days: BTreeMap<String, DayEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct DayEntry {
    inputs: Vec<Input>,
    rows: u64,
    bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
struct Input {
    name: String,
    size: u64,
    /// Modification time (seconds since the epoch) of a local file, or an S3 object's ETag.
    stamp: String,
}

/// One day partition of the source: its folder in the destination and its files.
struct Day {
    folder: String,
    paths: Vec<String>,
    inputs: Vec<Input>,
}

/// Where compacted files go.
enum Dest {
    Local(PathBuf),
    S3 {
        access: Arc<S3Access>,
        bucket: String,
        prefix: String,
    },
}

/// An I/O result on `path` with a missing file as `None`.
fn unless_missing<T>(path: &Path, result: std::io::Result<T>) -> Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

impl Dest {
    async fn open(dest: &str, options: &CompactOptions) -> Result<Dest> {
        if dest.starts_with("s3://") {
            let url = S3Url::parse(dest)?;
            url.folder_only("compact writes into")?;
            let access = S3Access::connect(&options.connect, options.region.as_deref()).await?;
            Ok(Dest::S3 {
                access,
                bucket: url.bucket,
                prefix: url.prefix.trim_end_matches('/').to_string(),
            })
        } else {
            // The folder comes with its first file (see `temp_path`): a run that fails before
            // writing anything leaves nothing behind.
            Ok(Dest::Local(PathBuf::from(dest)))
        }
    }

    fn key(prefix: &str, name: &str) -> String {
        if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}/{name}")
        }
    }

    async fn read_manifest(&self) -> Result<Option<Vec<u8>>> {
        match self {
            Dest::Local(root) => {
                let path = root.join(MANIFEST);
                unless_missing(&path, std::fs::read(&path))
            }
            Dest::S3 {
                access,
                bucket,
                prefix,
            } => Ok(
                fetch::get_if_exists(access, bucket, &Dest::key(prefix, MANIFEST))
                    .await?
                    .map(|f| f.bytes),
            ),
        }
    }

    /// Puts the file at `local` under `name`, atomically.
    async fn put(&self, name: &str, local: &Path) -> Result<()> {
        match self {
            Dest::Local(root) => {
                let target = root.join(name);
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
                }
                std::fs::rename(local, &target).map_err(|e| Error::io(&target, e))
            }
            Dest::S3 {
                access,
                bucket,
                prefix,
            } => {
                let bytes = std::fs::read(local).map_err(|e| Error::io(local, e))?;
                let _ = std::fs::remove_file(local);
                fetch::put(access, bucket, &Dest::key(prefix, name), bytes).await
            }
        }
    }

    /// Removes the object or file `name`, if there is one.
    async fn remove(&self, name: &str) -> Result<()> {
        match self {
            Dest::Local(root) => {
                let target = root.join(name);
                unless_missing(&target, std::fs::remove_file(&target)).map(drop)
            }
            Dest::S3 {
                access,
                bucket,
                prefix,
            } => fetch::delete(access, bucket, &Dest::key(prefix, name)).await,
        }
    }

    /// A temporary file for a file that will be put under `name`: beside its final place on
    /// disk (so the rename is atomic), in the system's temporary folder for S3.
    fn temp_path(&self, name: &str) -> Result<PathBuf> {
        let unique = format!(".{}.{}.tmp", name.replace('/', "_"), std::process::id());
        match self {
            Dest::Local(root) => {
                let target = root.join(name);
                let parent = target.parent().unwrap_or(root).to_path_buf();
                std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
                Ok(parent.join(unique))
            }
            Dest::S3 { .. } => Ok(std::env::temp_dir().join(format!("spintrail-compact{unique}"))),
        }
    }
}

/// The folder of a day partition: `account=<id>/region=<r>/day=<yyyy-MM-dd>`.
pub fn day_folder(account: &str, region: &str, day: &str) -> String {
    format!(
        "account={account}/region={region}/day={}",
        day.replace('/', "-")
    )
}

/// Day partitions as the source's files are found: grouped by folder, in folder order.
#[derive(Default)]
struct Days(BTreeMap<String, Day>);

impl Days {
    /// Adds `input`, read through `path` (a path already there is not repeated), to the day of
    /// `partitions`; a file outside CloudTrail's layout is an error naming `name()`.
    fn add(
        &mut self,
        partitions: &Partitions,
        path: String,
        input: Input,
        name: impl FnOnce() -> String,
    ) -> Result<()> {
        let Partitions::Layout {
            account,
            region,
            day,
        } = partitions
        else {
            return Err(outside_layout(&name()));
        };
        let folder = day_folder(account, region, day);
        let entry = self.0.entry(folder.clone()).or_insert_with(|| Day {
            folder,
            paths: Vec::new(),
            inputs: Vec::new(),
        });
        if !entry.paths.contains(&path) {
            entry.paths.push(path);
        }
        entry.inputs.push(input);
        Ok(())
    }

    /// The days, each with its inputs sorted (the manifest compares them as they are).
    fn into_sorted(self) -> Vec<Day> {
        let mut days: Vec<Day> = self.0.into_values().collect();
        for d in &mut days {
            d.inputs.sort();
        }
        days
    }
}

/// Groups the source's log files into day partitions.
async fn inventory(source: &str, options: &CompactOptions) -> Result<(Vec<Day>, usize)> {
    if source.starts_with("s3://") {
        return inventory_s3(source, options).await;
    }
    let listing = list(&[source.to_string()])?;
    let root = Path::new(source);
    let mut days = Days::default();
    for file in listing.files {
        let stamp = std::fs::metadata(&file.path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs().to_string())
            .unwrap_or_default();
        let name = file
            .path
            .strip_prefix(root)
            .unwrap_or(&file.path)
            .to_string_lossy()
            .replace('\\', "/");
        let input = Input {
            name,
            size: file.size,
            stamp,
        };
        let path = file.path.to_string_lossy().into_owned();
        days.add(&file.partitions, path, input, || {
            file.path.display().to_string()
        })?;
    }
    Ok((days.into_sorted(), listing.excluded))
}

/// Groups the log objects under an `s3://` source into day partitions; a day is read through
/// its folder prefix(es), and an object's ETag stands for its modification time.
async fn inventory_s3(source: &str, options: &CompactOptions) -> Result<(Vec<Day>, usize)> {
    let url = S3Url::parse(source)?;
    url.folder_only("compact reads")?;
    let access = S3Access::connect(&options.connect, options.region.as_deref()).await?;
    let walk = crate::s3::list(&access, &url, &["CloudTrail"], &Everything)
        .await
        .map_err(|e| crate::s3::source_error(source, e))?;
    let mut days = Days::default();
    for found in walk.objects {
        let parent = found.key.rsplit_once('/').map_or("", |(p, _)| p);
        let prefix = format!("s3://{}/{parent}/", url.bucket);
        let input = Input {
            name: found
                .key
                .strip_prefix(&url.prefix)
                .unwrap_or(&found.key)
                .to_string(),
            size: found.size,
            stamp: found.etag,
        };
        days.add(&found.partitions, prefix, input, || {
            S3Url::name(&url.bucket, &found.key)
        })?;
    }
    Ok((days.into_sorted(), walk.excluded))
}

/// The error for a log file outside CloudTrail's folder layout.
fn outside_layout(name: &str) -> Error {
    Error::Source {
        path: name.to_string(),
        reason: "compaction needs CloudTrail's folder layout \
                 (AWSLogs/<account>/CloudTrail/<region>/<yyyy>/<MM>/<dd>/), which gives \
                 each file its partition; this file is outside it: copy the logs with \
                 their keys (spintrail sync or aws s3 sync)"
            .into(),
    }
}

/// Compacts the CloudTrail logs of `source` into Parquet under `dest` (a folder or `s3://`).
pub async fn compact(source: &str, dest: &str, options: &CompactOptions) -> Result<CompactReport> {
    if options.row_group_rows == 0 {
        return Err(Error::InvalidArgument(
            "row_group_rows must be at least 1".into(),
        ));
    }
    // The destination and its manifest first: a wrong one fails before any source is read.
    let dest = Dest::open(dest, options).await?;
    let mut manifest = match dest.read_manifest().await? {
        None => Manifest::default(),
        Some(bytes) => serde_json::from_slice::<Manifest>(&bytes).map_err(|e| {
            Error::InvalidArgument(format!(
                "{MANIFEST} in the destination is not a spintrail manifest ({e}): compact into \
                 an empty folder, or delete the destination to start over"
            ))
        })?,
    };
    if manifest.version > MANIFEST_VERSION {
        return Err(Error::InvalidArgument(format!(
            "{MANIFEST} was written by a newer spintrail (version {}): upgrade spintrail",
            manifest.version
        )));
    }
    // A change of the dedup setting changes every day's contents.
    if manifest.dedup != options.dedup {
        manifest.days.clear();
    }
    manifest.version = MANIFEST_VERSION;
    manifest.dedup = options.dedup;
    let (days, excluded) = inventory(source, options).await?;

    let mut report = CompactReport {
        days: days.len(),
        files_excluded: excluded,
        ..CompactReport::default()
    };
    for day in days {
        let current = manifest.days.get(&day.folder);
        if current.is_some_and(|c| c.inputs == day.inputs) {
            report.days_unchanged += 1;
            continue;
        }
        let name = format!("{}/{PART}", day.folder);
        let temp = dest.temp_path(&name)?;
        let written = write_day(&day, &temp, options).await;
        let (rows, dropped) = match written {
            Ok(counts) => counts,
            Err(e) => {
                let _ = std::fs::remove_file(&temp);
                return Err(e);
            }
        };
        let bytes = std::fs::metadata(&temp).map(|m| m.len()).unwrap_or(0);
        if rows == 0 {
            let _ = std::fs::remove_file(&temp);
            dest.remove(&name).await?;
        } else {
            dest.put(&name, &temp).await?;
        }
        report.days_written += 1;
        report.files_read += day.inputs.len();
        report.rows_written += rows;
        report.duplicates_dropped += dropped;
        report.bytes_written += if rows == 0 { 0 } else { bytes };
        manifest.days.insert(
            day.folder.clone(),
            DayEntry {
                inputs: day.inputs,
                rows,
                bytes,
            },
        );
        save_manifest(&dest, &manifest).await?;
    }
    if report.days_written == 0 && dest.read_manifest().await?.is_none() {
        save_manifest(&dest, &manifest).await?;
    }
    Ok(report)
}

async fn save_manifest(dest: &Dest, manifest: &Manifest) -> Result<()> {
    let temp = dest.temp_path(MANIFEST)?;
    let text = serde_json::to_vec_pretty(manifest)
        .map_err(|e| Error::Engine(format!("writing the manifest: {e}")))?;
    std::fs::write(&temp, text).map_err(|e| Error::io(&temp, e))?;
    dest.put(MANIFEST, &temp).await
}

/// Writer settings: zstd, statistics per page, row groups of `row_group_rows`.
fn writer_properties(options: &CompactOptions) -> Result<WriterProperties> {
    let level = ZstdLevel::try_new(3).map_err(|e| Error::Engine(format!("zstd level: {e}")))?;
    Ok(WriterProperties::builder()
        .set_compression(Compression::ZSTD(level))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(options.row_group_rows))
        .set_created_by(format!("spintrail {}", env!("CARGO_PKG_VERSION")))
        .build())
}

/// Reads one day's files through the engine, sorted by `eventtime`, and writes them to `temp`.
/// Returns the rows written and the duplicates dropped.
async fn write_day(day: &Day, temp: &Path, options: &CompactOptions) -> Result<(u64, u64)> {
    let session = LocalSession::new(
        day.paths.clone(),
        SessionOptions {
            on_error: options.on_error,
            target_partitions: options.threads,
            connect: options.connect.clone(),
            region: options.region.clone(),
            ..SessionOptions::default()
        },
    )?;
    let schema = record_schema();
    let columns: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let sql = format!(
        "SELECT {} FROM cloudtrail_logs ORDER BY eventtime",
        columns.join(", ")
    );
    let eventid = schema
        .index_of("eventid")
        .map_err(|e| Error::Engine(e.to_string()))?;
    let mut stream = session.query(&sql).await?;
    let file = std::fs::File::create(temp).map_err(|e| Error::io(temp, e))?;
    let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(writer_properties(options)?))
        .map_err(|e| Error::file(temp, format!("cannot write Parquet: {e}")))?;
    let mut seen: HashSet<String> = HashSet::new();
    let (mut rows, mut dropped) = (0u64, 0u64);
    while let Some(batch) = stream.next().await {
        let batch = RecordBatch::try_new(schema.clone(), batch?.columns().to_vec())?;
        let batch = if options.dedup {
            let ids = arrow::compute::cast(batch.column(eventid), &DataType::Utf8)?;
            let ids = ids.as_string::<i32>();
            let keep: BooleanArray = (0..ids.len())
                .map(|i| Some(ids.is_null(i) || seen.insert(ids.value(i).to_string())))
                .collect();
            let kept = arrow::compute::filter_record_batch(&batch, &keep)?;
            dropped += (batch.num_rows() - kept.num_rows()) as u64;
            kept
        } else {
            batch
        };
        rows += batch.num_rows() as u64;
        writer
            .write(&batch)
            .map_err(|e| Error::file(temp, format!("cannot write Parquet: {e}")))?;
    }
    writer
        .close()
        .map_err(|e| Error::file(temp, format!("cannot write Parquet: {e}")))?;
    Ok((rows, dropped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_folders() {
        assert_eq!(
            day_folder("123456789012", "us-east-1", "2024/07/30"),
            "account=123456789012/region=us-east-1/day=2024-07-30"
        );
    }
}
