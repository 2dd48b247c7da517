//! The embedded engine's memory: a limit per session, enforced by DataFusion's memory pool, with
//! sorts, aggregations and joins spilling to disk when they reach their share of it.
//!
//! The limit covers what operators hold (hash tables, sort buffers, window partitions); the scan
//! adds a bounded amount on top (a few batches per reading thread).

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::execution::cache::cache_manager::CacheManagerConfig;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::{FairSpillPool, TrackConsumersPool};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionConfig;

use crate::error::{Error, Result};

/// The share of the machine's physical memory a session may use when no limit is given.
pub const DEFAULT_MEMORY_FRACTION: f64 = 0.5;

/// The default limit when the machine's memory cannot be read (e.g. on Windows).
pub const FALLBACK_MEMORY_LIMIT: u64 = 4 << 30;

/// How many of the largest memory consumers a memory error names.
const CONSUMERS_NAMED: usize = 3;

/// The memory one sort sets aside up front for merging its spilled runs (DataFusion's default is
/// 10 MiB); a small limit gets a proportionally smaller reserve so that it can still spill.
const SORT_MERGE_RESERVE: u64 = 10 << 20;

/// At most this many spill files are merged at once (more go through intermediate merges):
/// DataFusion's default merges as many as memory allows, so the first sort to merge takes the
/// memory that the other sorts of a plan (a sort-merge join has two a partition) still need.
const SPILL_MERGE_FAN_IN: usize = 8;

/// Total physical memory of this machine (or of the container's memory limit on Linux), if it
/// can be read.
pub fn physical_memory() -> Option<u64> {
    physical_memory_impl()
}

#[cfg(target_os = "linux")]
fn physical_memory_impl() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let total = meminfo.lines().find_map(|line| {
        let rest = line.strip_prefix("MemTotal:")?;
        let kib: u64 = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
        Some(kib * 1024)
    })?;
    // A container's cgroup limit (v2, then v1) is what the OS enforces; "max" means none.
    let cgroup = [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .filter_map(|p| std::fs::read_to_string(p).ok())
    .find_map(|text| text.trim().parse::<u64>().ok());
    Some(cgroup.map_or(total, |limit| limit.min(total)))
}

#[cfg(target_os = "macos")]
fn physical_memory_impl() -> Option<u64> {
    let out = std::process::Command::new("sysctl")
        .args(["-n", "hw.memsize"])
        .output()
        .ok()?;
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
fn physical_memory_impl() -> Option<u64> {
    None
}

/// The limit a session gets when none is given: half the machine's physical memory, or
/// [`FALLBACK_MEMORY_LIMIT`] when that cannot be read.
pub fn default_memory_limit() -> u64 {
    physical_memory()
        .map(|total| (total as f64 * DEFAULT_MEMORY_FRACTION) as u64)
        .filter(|&limit| limit > 0)
        .unwrap_or(FALLBACK_MEMORY_LIMIT)
}

/// Parses a memory size: bytes (`"1000000"`), with a decimal unit (`"500MB"`, `"2GB"`: powers
/// of 1000), a binary one (`"512MiB"`, `"2GiB"`, or `"2G"`: powers of 1024), or a share of the
/// machine's physical memory (`"25%"`). Fractions are allowed (`"1.5GB"`); case and spaces do
/// not matter.
pub fn parse_memory_size(text: &str) -> Result<u64> {
    let bad = |why: &str| {
        Error::InvalidArgument(format!(
            "memory_limit {text:?} is not a memory size ({why}): write bytes (1000000), or a \
             number with a unit (500MB, 2GB, 512MiB, 2GiB), or a share of the machine's memory \
             (25%)"
        ))
    };
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    if number.is_empty() {
        return Err(bad("no number"));
    }
    let value: f64 = number
        .parse()
        .map_err(|_| bad("the number does not parse"))?;
    let unit = unit.trim().to_ascii_lowercase();
    let bytes = if unit == "%" {
        if value <= 0.0 || value > 100.0 {
            return Err(bad("a share must be above 0% and at most 100%"));
        }
        let total = physical_memory().ok_or_else(|| {
            Error::InvalidArgument(format!(
                "memory_limit {text:?}: this machine's physical memory cannot be read, so a \
                 share of it has no meaning here; give a size such as 4GB"
            ))
        })?;
        total as f64 * value / 100.0
    } else {
        let scale: f64 = match unit.as_str() {
            "" | "b" => 1.0,
            "kb" => 1e3,
            "mb" => 1e6,
            "gb" => 1e9,
            "tb" => 1e12,
            "k" | "kib" => 1024.0,
            "m" | "mib" => 1024.0 * 1024.0,
            "g" | "gib" => 1024.0 * 1024.0 * 1024.0,
            "t" | "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
            _ => return Err(bad(&format!("unknown unit {unit:?}"))),
        };
        value * scale
    };
    check_memory_limit(bytes.round() as u64)
}

/// A limit in bytes must be at least one byte (and fit in memory addresses).
pub fn check_memory_limit(bytes: u64) -> Result<u64> {
    if bytes == 0 {
        return Err(Error::InvalidArgument(
            "memory_limit must be above 0 bytes: give a size such as 2GB (or leave it out for \
             half the machine's memory)"
                .into(),
        ));
    }
    usize::try_from(bytes).map_err(|_| {
        Error::InvalidArgument(format!(
            "memory_limit of {bytes} bytes is larger than this machine can address"
        ))
    })?;
    Ok(bytes)
}

/// A size for people: `64.0 MiB`, `1.5 GiB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A spill folder must exist and be a folder (DataFusion makes its own temporary folder inside,
/// removed with the session).
pub fn check_spill_dir(dir: &Path) -> Result<()> {
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(Error::InvalidArgument(format!(
            "spill_dir {}: not a folder; give a folder on a disk with room for the spilled data",
            dir.display()
        ))),
        Err(err) => Err(Error::InvalidArgument(format!(
            "spill_dir {}: {err}; give an existing folder (default: the system's temporary folder)",
            dir.display()
        ))),
    }
}

/// The runtime of a session: a fair spilling memory pool of `limit` bytes (each spilling
/// operator gets an equal share, and spills when it reaches it) that names its largest
/// consumers when memory runs out, and spill files in `spill_dir` (default: the system's
/// temporary folder), deleted as soon as the operator that wrote them is done.
pub fn runtime(limit: u64, spill_dir: Option<&PathBuf>) -> Result<Arc<RuntimeEnv>> {
    let limit = usize::try_from(check_memory_limit(limit)?).unwrap_or(usize::MAX);
    let top = NonZeroUsize::new(CONSUMERS_NAMED).unwrap_or(NonZeroUsize::MIN);
    let pool = TrackConsumersPool::new(FairSpillPool::new(limit), top);
    let mode = match spill_dir {
        Some(dir) => {
            check_spill_dir(dir)?;
            DiskManagerMode::Directories(vec![dir.clone()])
        }
        None => DiskManagerMode::OsTmpDirectory,
    };
    // DataFusion keeps a table's first listing for the session's life by default: a session
    // over a compacted copy would not see days compacted into it later (the JSON table lists
    // at every query). Footers and statistics stay cached, checked against each file's size
    // and modification time.
    let caches = CacheManagerConfig::default().with_list_files_cache_limit(0);
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_pool(Arc::new(pool))
        .with_cache_manager(caches)
        .with_disk_manager_builder(
            DiskManagerBuilder::default()
                .with_mode(mode)
                .with_max_spill_merge_fan_in(SPILL_MERGE_FAN_IN),
        )
        .build_arc()?;
    Ok(runtime)
}

/// Settings that let operators spill within a small limit: a sort's up-front merge reserve is
/// at most an eighth of the limit.
pub fn apply_memory_options(config: &mut SessionConfig, limit: u64) {
    let reserve = SORT_MERGE_RESERVE.min(limit / 8).max(1);
    config.options_mut().execution.sort_spill_reservation_bytes =
        usize::try_from(reserve).unwrap_or(usize::MAX);
}

/// What the operators of a plan wrote to disk: spill files and bytes.
pub fn spill_metrics(plan: &Arc<dyn ExecutionPlan>) -> (u64, u64) {
    let mut files = 0u64;
    let mut bytes = 0u64;
    let mut stack = vec![plan.clone()];
    while let Some(node) = stack.pop() {
        if let Some(metrics) = node.metrics() {
            files += metrics.spill_count().unwrap_or(0) as u64;
            bytes += metrics.spilled_bytes().unwrap_or(0) as u64;
        }
        stack.extend(node.children().into_iter().cloned());
    }
    (files, bytes)
}

/// DataFusion's "additional allocation failed for OPERATOR with ..." names the operator that
/// asked for memory, when it does.
pub fn operator_of(detail: &str) -> Option<&str> {
    let rest = detail.split("allocation failed for ").nth(1)?;
    let end = rest.find(" with ").unwrap_or(rest.len());
    Some(rest[..end].trim()).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_memory_size("1000").unwrap(), 1000);
        assert_eq!(parse_memory_size("2GB").unwrap(), 2_000_000_000);
        assert_eq!(parse_memory_size(" 64 MiB ").unwrap(), 64 << 20);
        assert_eq!(parse_memory_size("64m").unwrap(), 64 << 20);
        assert_eq!(parse_memory_size("1.5gb").unwrap(), 1_500_000_000);
        assert_eq!(parse_memory_size("2G").unwrap(), 2 << 30);
    }

    #[test]
    fn bad_sizes_say_what_to_write() {
        for text in [
            "lots",
            "",
            "GB",
            "-1GB",
            "2 parsecs",
            "0",
            "0MB",
            "1.2.3GB",
            "150%",
        ] {
            let err = parse_memory_size(text).unwrap_err().to_string();
            assert!(err.contains("memory_limit"), "{text}: {err}");
        }
    }

    #[test]
    fn default_is_a_share_of_the_machine() {
        let limit = default_memory_limit();
        assert!(limit > 0);
        if let Some(total) = physical_memory() {
            assert!(limit <= total);
        }
    }

    #[test]
    fn operator_is_named() {
        let detail = "Additional allocation failed for ExternalSorter[0] with top memory \
                      consumers (across reservations) as: ...";
        assert_eq!(operator_of(detail), Some("ExternalSorter[0]"));
        assert_eq!(operator_of("something else"), None);
    }

    #[test]
    fn sizes_print_for_people() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(64 << 20), "64.0 MiB");
    }
}
