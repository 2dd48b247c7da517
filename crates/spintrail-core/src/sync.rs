//! `spintrail sync s3://bucket/prefix ./logs`: a local copy of a trail's logs kept in step.
//!
//! - Keys are mirrored under the destination relative to the prefix (as `aws s3 sync` does), so
//!   the copy is a valid local source in CloudTrail's layout.
//! - Only new or changed objects are copied: an object is skipped when the state file
//!   ([`STATE_FILE`], one JSON line per copied object: key, size, ETag) records the same size and
//!   ETag and the local file still has that size. A local file has no ETag, hence the state file.
//! - Objects are fetched in parallel; each is written to `<name>.part` and renamed when complete,
//!   so no partial file is ever visible under its final name. A state line is appended after the
//!   rename, so an interrupted run resumes where it stopped; its leftover `.part` files are
//!   removed at the next run (and never listed as logs: they do not end in `.json.gz`).
//! - `since` prunes the listing to the day prefixes from that day on; digest
//!   (`CloudTrail-Digest/`) and Insights (`CloudTrail-Insight/`) folders are left out unless asked
//!   for. A digest's `x-amz-meta-signature` is written beside it as the sidecar
//!   `<digest>.json.gz.signature` that `verify` reads in a local copy.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use chrono::{Duration, NaiveDate, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use crate::aws::ConnectOptions;
use crate::error::{Error, Result};
use crate::s3::fetch::get;
use crate::s3::progress::Progress;
use crate::s3::{source_error, S3Access, S3Url, Selection};
use crate::verify::store::SIGNATURE_SUFFIX;

/// The state file in the destination folder.
pub const STATE_FILE: &str = ".spintrail-sync.jsonl";
/// The suffix of a file being written.
pub const PART_SUFFIX: &str = ".part";

/// What to copy and how to reach S3.
#[derive(Debug, Clone, Default)]
pub struct SyncOptions {
    /// Only day folders from this day on (`7d`, `12h`, `2w` before today, or `yyyy-MM-dd`).
    pub since: Option<String>,
    /// Copy digest files (with their signature sidecars) too.
    pub digests: bool,
    /// Copy Insights files too.
    pub insights: bool,
    /// Objects fetched at once (0: the default, 16).
    pub concurrency: usize,
    pub connect: ConnectOptions,
    pub region: Option<String>,
}

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncSummary {
    /// Log objects found in the (pruned) listing.
    pub listed: usize,
    pub copied: usize,
    pub skipped: usize,
    /// Bytes copied.
    pub bytes: u64,
    pub failed: usize,
    /// `s3://` name and reason of each failure.
    pub failures: Vec<(String, String)>,
    /// Partial files of an interrupted run removed.
    pub removed_partials: usize,
}

/// The first day folder `since` asks for, relative to `today` (UTC).
pub fn parse_since(text: &str, today: NaiveDate) -> Result<NaiveDate> {
    let bad = || {
        Error::InvalidArgument(format!(
            "since {text:?} is not a duration or a date: write 7d, 12h, 2w or 2024-07-30"
        ))
    };
    let text = text.trim();
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(day);
    }
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let n: i64 = number.parse().map_err(|_| bad())?;
    if n < 0 {
        return Err(bad());
    }
    let back = match unit {
        "d" => Duration::days(n),
        "w" => Duration::weeks(n),
        "h" => Duration::hours(n),
        _ => return Err(bad()),
    };
    let now = today.and_hms_opt(23, 59, 59).ok_or_else(bad)?;
    Ok(if unit == "h" {
        (Utc::now().naive_utc() - back).date()
    } else {
        (now - back).date()
    })
}

/// Day folders from `first` on.
struct Since {
    first: NaiveDate,
    last: NaiveDate,
}

impl Selection for Since {
    fn keep(&self, _: &str, _: &str, day: Option<&str>) -> bool {
        day.is_none_or(|d| {
            NaiveDate::parse_from_str(d, "%Y/%m/%d").map_or(true, |d| d >= self.first)
        })
    }
    fn days(&self) -> Option<(NaiveDate, NaiveDate)> {
        Some((self.first, self.last))
    }
    fn by_day(&self) -> bool {
        true
    }
}

/// One line of the state file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Copied {
    key: String,
    size: u64,
    etag: String,
}

fn read_state(path: &Path) -> HashMap<String, Copied> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return HashMap::new();
    };
    // A line cut off by an interruption is ignored: its object is copied again.
    text.lines()
        .filter_map(|l| serde_json::from_str::<Copied>(l).ok())
        .map(|c| (c.key.clone(), c))
        .collect()
}

/// The local path of a key below the prefix; `None` for a key that would leave the folder.
fn local_path(dest: &Path, relative: &str) -> Option<PathBuf> {
    let rel = Path::new(relative);
    let safe = !relative.is_empty() && rel.components().all(|c| matches!(c, Component::Normal(_)));
    safe.then(|| dest.join(rel))
}

/// Removes the `.part` files of an interrupted run below `dest`; returns how many.
fn remove_partials(dest: &Path) -> Result<usize> {
    let mut removed = 0;
    let mut stack = vec![dest.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                stack.push(path);
                continue;
            }
            let name = entry.file_name().to_string_lossy().to_ascii_lowercase();
            let ours = name.strip_suffix(PART_SUFFIX).is_some_and(|n| {
                n.ends_with(".json.gz") || n.ends_with(".json") || n.ends_with(SIGNATURE_SUFFIX)
            });
            if ours {
                std::fs::remove_file(&path).map_err(|e| {
                    Error::file(&path, format!("cannot remove a partial file: {e}"))
                })?;
                removed += 1;
            }
        }
    }
    Ok(removed)
}

/// Writes `bytes` to `path` through `path.part` and a rename.
fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut part = path.as_os_str().to_owned();
    part.push(PART_SUFFIX);
    let part = PathBuf::from(part);
    {
        let mut f = std::fs::File::create(&part)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&part, path)
}

/// Copies one object (and a digest's signature sidecar); returns its state line.
async fn copy_one(
    access: &S3Access,
    bucket: &str,
    key: &str,
    relative: &str,
    path: &Path,
    listed_etag: &str,
) -> Result<Copied> {
    let fetched = get(access, bucket, key).await?;
    let name = S3Url::name(bucket, key);
    let is_digest = key.split('/').any(|s| s == "CloudTrail-Digest");
    let write_error = |e: std::io::Error| Error::file(path, format!("cannot write {name}: {e}"));
    if is_digest {
        if let Some(signature) = fetched.metadata.get("signature") {
            let mut sidecar = path.as_os_str().to_owned();
            sidecar.push(SIGNATURE_SUFFIX);
            write_whole(Path::new(&sidecar), signature.as_bytes()).map_err(write_error)?;
        }
    }
    write_whole(path, &fetched.bytes).map_err(write_error)?;
    Ok(Copied {
        key: relative.to_string(),
        size: fetched.bytes.len() as u64,
        etag: if fetched.etag.is_empty() {
            listed_etag.to_string()
        } else {
            fetched.etag
        },
    })
}

/// Copies the new and changed log objects under `source` (`s3://bucket/prefix`) into `dest`.
pub async fn sync(source: &str, dest: &Path, options: &SyncOptions) -> Result<SyncSummary> {
    let url = S3Url::parse(source)?;
    url.folder_only("sync copies")?;
    let today = Utc::now().date_naive();
    let since = options
        .since
        .as_deref()
        .map(|s| parse_since(s, today))
        .transpose()?;
    std::fs::create_dir_all(dest).map_err(|e| Error::Source {
        path: dest.display().to_string(),
        reason: format!("cannot create the destination folder: {e}"),
    })?;
    let access = S3Access::connect(&options.connect, options.region.as_deref())
        .await
        .map_err(|e| source_error(source, e))?;
    let mut services = vec!["CloudTrail"];
    if options.digests {
        services.push("CloudTrail-Digest");
    }
    if options.insights {
        services.push("CloudTrail-Insight");
    }
    let walk = match since {
        Some(first) => {
            let selection = Since {
                first,
                last: today + Duration::days(2),
            };
            crate::s3::list(&access, &url, &services, &selection).await?
        }
        None => crate::s3::list(&access, &url, &services, &crate::s3::list::Everything).await?,
    };
    let mut summary = SyncSummary {
        listed: walk.objects.len(),
        removed_partials: remove_partials(dest)?,
        ..SyncSummary::default()
    };
    let state_path = dest.join(STATE_FILE);
    let state = read_state(&state_path);
    let mut todo = Vec::new();
    for object in walk.objects {
        let relative = object
            .key
            .strip_prefix(url.prefix.as_str())
            .unwrap_or(&object.key)
            .to_string();
        let Some(path) = local_path(dest, &relative) else {
            summary.failed += 1;
            summary.failures.push((
                S3Url::name(&url.bucket, &object.key),
                "the key has an empty, `.` or `..` segment and cannot be copied into a folder"
                    .into(),
            ));
            continue;
        };
        let unchanged = state
            .get(&relative)
            .is_some_and(|c| c.size == object.size && c.etag == object.etag)
            && std::fs::metadata(&path).is_ok_and(|m| m.len() == object.size);
        if unchanged {
            summary.skipped += 1;
        } else {
            todo.push((object, relative, path));
        }
    }
    let progress = Arc::new(Progress::new(
        "sync",
        todo.len() as u64,
        todo.iter().map(|(o, _, _)| o.size).sum(),
    ));
    let mut state_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&state_path)
        .map_err(|e| Error::file(&state_path, format!("cannot write the sync state: {e}")))?;
    let concurrency = if options.concurrency == 0 {
        16
    } else {
        options.concurrency
    };
    let bucket = url.bucket.as_str();
    let access = &access;
    let mut copies = futures::stream::iter(todo)
        .map(|(object, relative, path)| {
            let progress = progress.clone();
            async move {
                let result =
                    copy_one(access, bucket, &object.key, &relative, &path, &object.etag).await;
                if let Ok(c) = &result {
                    progress.done(c.size);
                }
                (S3Url::name(bucket, &object.key), result)
            }
        })
        .buffer_unordered(concurrency);
    while let Some((name, result)) = copies.next().await {
        match result {
            Ok(copied) => {
                summary.copied += 1;
                summary.bytes += copied.size;
                let line = serde_json::to_string(&copied).unwrap_or_default();
                writeln!(state_file, "{line}").map_err(|e| {
                    Error::file(&state_path, format!("cannot write the sync state: {e}"))
                })?;
            }
            Err(err) => {
                summary.failed += 1;
                summary.failures.push((name, err.to_string()));
            }
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn since_reads_durations_and_dates() {
        let today = date(2024, 8, 10);
        assert_eq!(parse_since("7d", today).unwrap(), date(2024, 8, 3));
        assert_eq!(parse_since("2w", today).unwrap(), date(2024, 7, 27));
        assert_eq!(parse_since("0d", today).unwrap(), today);
        assert_eq!(parse_since("2024-07-01", today).unwrap(), date(2024, 7, 1));
        for bad in ["", "7", "d", "-1d", "7y", "yesterday"] {
            assert!(parse_since(bad, today).is_err(), "{bad}");
        }
    }

    #[test]
    fn keys_that_would_leave_the_folder_are_refused() {
        let dest = Path::new("dest");
        assert_eq!(
            local_path(dest, "AWSLogs/1/x.json.gz"),
            Some(dest.join("AWSLogs/1/x.json.gz"))
        );
        assert_eq!(local_path(dest, "../x.json.gz"), None);
        assert_eq!(local_path(dest, "/etc/x.json.gz"), None);
        assert_eq!(local_path(dest, ""), None);
    }

    #[test]
    fn the_state_keeps_the_last_line_of_a_key_and_ignores_a_cut_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STATE_FILE);
        std::fs::write(
            &path,
            "{\"key\":\"a\",\"size\":1,\"etag\":\"x\"}\n{\"key\":\"a\",\"size\":2,\"etag\":\"y\"}\n{\"key\":\"b\",\"si",
        )
        .unwrap();
        let state = read_state(&path);
        assert_eq!(state.len(), 1);
        assert_eq!(state["a"].etag, "y");
    }

    #[test]
    fn partial_files_of_an_interrupted_run_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("AWSLogs/1");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join("x.json.gz.part"), b"x").unwrap();
        std::fs::write(sub.join("x.json.gz"), b"x").unwrap();
        std::fs::write(sub.join("notes.part"), b"x").unwrap();
        assert_eq!(remove_partials(dir.path()).unwrap(), 1);
        assert!(sub.join("x.json.gz").exists());
        assert!(sub.join("notes.part").exists());
    }
}
