//! Finding CloudTrail log files: a directory in CloudTrail's S3 layout (single-account or
//! organization trail), a flat folder, a single file or a glob; and the partition values
//! (`account`, `region`, `day`) that the layout gives each file.

use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

/// Where a file's partition values come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Partitions {
    /// From the S3 key layout (`AWSLogs/<account>/CloudTrail/<region>/<yyyy>/<MM>/<dd>/`).
    Layout {
        account: String,
        region: String,
        day: String,
    },
    /// From each record: `recipientaccountid`, `awsregion`, the date of `eventtime`.
    Records,
}

/// Where a log file's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// On local disk, at the file's `path`.
    Local,
    /// An S3 object; the file's `path` is its name `s3://bucket/key`.
    S3 { bucket: String, key: String },
}

/// One log file to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFile {
    /// The local path, or `s3://bucket/key` for an object: the name in every message.
    pub path: PathBuf,
    pub size: u64,
    pub partitions: Partitions,
    pub location: Location,
}

impl LogFile {
    /// The time (ms since the epoch) before which every record of this file was written, when its
    /// name is the one CloudTrail gives a delivery
    /// (`<account>_CloudTrail_<region>_<yyyyMMddTHHmmZ>_<unique>.json.gz`): CloudTrail names a file
    /// after the minute it delivered it, and a file holds only records written before then. One
    /// minute is added for the name's precision and one for clocks; any other name gives `None`.
    pub fn written_before_ms(&self) -> Option<i64> {
        let name = self.path.file_name()?.to_str()?;
        let stem = name
            .strip_suffix(".json.gz")
            .or_else(|| name.strip_suffix(".json"))?;
        let mut parts = stem.split('_');
        let (account, kind, region, stamp, unique) = (
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
        );
        let well_formed = parts.next().is_none()
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && kind == "CloudTrail"
            && !region.is_empty()
            && region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !unique.is_empty()
            && unique.bytes().all(|b| b.is_ascii_alphanumeric());
        if !well_formed {
            return None;
        }
        let delivered = chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%MZ").ok()?;
        Some(delivered.and_utc().timestamp_millis() + 2 * 60_000)
    }
}

/// The files of one or more sources.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    pub files: Vec<LogFile>,
    /// Files left out on purpose: digest, Insights and other non-event folders of the layout.
    pub excluded: usize,
}

/// Checks that every source exists (or that a glob is well formed), without listing files.
pub fn check_sources(sources: &[String]) -> Result<()> {
    if sources.is_empty() {
        return Err(Error::InvalidArgument(
            "no source given: pass a folder, a file or a glob of CloudTrail log files".into(),
        ));
    }
    for source in sources {
        if source.starts_with("s3://") {
            crate::s3::S3Url::parse(source)?;
            continue;
        }
        if is_glob(source) {
            glob::Pattern::new(source).map_err(|e| Error::Source {
                path: source.clone(),
                reason: format!("invalid glob pattern: {e}"),
            })?;
        } else if !Path::new(source).exists() {
            return Err(Error::Source {
                path: source.clone(),
                reason: "no such file or directory".into(),
            });
        }
    }
    Ok(())
}

fn is_glob(source: &str) -> bool {
    source.contains(['*', '?', '['])
}

/// Lists the log files of the local sources (S3 sources are listed by [`crate::s3`]), sorted by
/// path, each file once.
pub fn list(sources: &[String]) -> Result<Listing> {
    check_sources(sources)?;
    let mut listing = Listing::default();
    for source in sources.iter().filter(|s| !s.starts_with("s3://")) {
        if is_glob(source) {
            let paths = glob::glob(source).map_err(|e| Error::Source {
                path: source.clone(),
                reason: format!("invalid glob pattern: {e}"),
            })?;
            let mut matched = 0usize;
            for entry in paths {
                let path = entry.map_err(|e| Error::Source {
                    path: source.clone(),
                    reason: e.to_string(),
                })?;
                matched += 1;
                if path.is_dir() {
                    walk(&path, &mut listing)?;
                } else {
                    add_file(path, true, &mut listing)?;
                }
            }
            if matched == 0 {
                return Err(Error::Source {
                    path: source.clone(),
                    reason: "the glob matches no file".into(),
                });
            }
        } else {
            let path = PathBuf::from(source);
            if path.is_dir() {
                walk(&path, &mut listing)?;
            } else {
                add_file(path, true, &mut listing)?;
            }
        }
    }
    listing.files.sort_by(|a, b| a.path.cmp(&b.path));
    listing.files.dedup_by(|a, b| a.path == b.path);
    Ok(listing)
}

fn walk(root: &Path, listing: &mut Listing) -> Result<()> {
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| Error::Source {
            path: dir.display().to_string(),
            reason: format!("cannot list folder: {e}"),
        })?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::Source {
                path: dir.display().to_string(),
                reason: format!("cannot list folder: {e}"),
            })?;
            let path = entry.path();
            let file_type = entry.file_type().map_err(|e| Error::Source {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
            if file_type.is_dir() || (file_type.is_symlink() && path.is_dir()) {
                stack.push(path);
            } else {
                add_file(path, false, listing)?;
            }
        }
    }
    Ok(())
}

/// Adds a file; `named` files were given explicitly and are read whatever their name.
fn add_file(path: PathBuf, named: bool, listing: &mut Listing) -> Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let looks_like_log = name.ends_with(".json.gz") || name.ends_with(".json");
    // Other files in a walked folder (READMEs, manifests) are not logs and never read.
    if !(named || looks_like_log) {
        return Ok(());
    }
    let partitions = match layout_partitions(&path) {
        Layout::Events(p) => p,
        Layout::NotEvents => {
            listing.excluded += 1;
            return Ok(());
        }
        Layout::Flat => Partitions::Records,
    };
    let size = std::fs::metadata(&path)
        .map_err(|e| Error::file(&path, format!("cannot read: {e}")))?
        .len();
    listing.files.push(LogFile {
        path,
        size,
        partitions,
        location: Location::Local,
    });
    Ok(())
}

enum Layout {
    Events(Partitions),
    /// Digest, Insights, network-activity and other folders that are not this table's events.
    NotEvents,
    Flat,
}

/// What the segments of a path or key say about CloudTrail's layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyLayout<'a> {
    /// No `AWSLogs/[<org-id>/]<account>/<CloudTrail service>/` in it.
    Flat,
    /// A file of a CloudTrail service folder (`CloudTrail`, `CloudTrail-Digest`, ...) at its
    /// place `<region>/<yyyy>/<MM>/<dd>/<file>`.
    Dated {
        service: &'a str,
        account: &'a str,
        region: &'a str,
        day: String,
    },
    /// Elsewhere under a service folder.
    Undated { service: &'a str },
}

/// Reads `AWSLogs/[<org-id>/]<account>/<service>/<region>/<yyyy>/<MM>/<dd>/<file>` from the
/// segments of a path or key (the last `AWSLogs` segment counts).
pub(crate) fn key_layout<'a>(parts: &[&'a str]) -> KeyLayout<'a> {
    let Some(start) = parts.iter().rposition(|p| *p == "AWSLogs") else {
        return KeyLayout::Flat;
    };
    let rest = &parts[start + 1..];
    let (account, service, tail) = match rest {
        [org, account, service, tail @ ..] if org.starts_with("o-") && is_service(service) => {
            (*account, *service, tail)
        }
        [account, service, tail @ ..] if is_service(service) => (*account, *service, tail),
        _ => return KeyLayout::Flat,
    };
    match tail {
        [region, yyyy, mm, dd, _file] if is_date(yyyy, mm, dd) => KeyLayout::Dated {
            service,
            account,
            region,
            day: format!("{yyyy}/{mm}/{dd}"),
        },
        _ => KeyLayout::Undated { service },
    }
}

/// Reads `AWSLogs/[<org-id>/]<account>/CloudTrail/<region>/<yyyy>/<MM>/<dd>/<file>`.
fn layout_partitions(path: &Path) -> Layout {
    let parts: Vec<String> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    match key_layout(&parts) {
        KeyLayout::Flat => Layout::Flat,
        KeyLayout::Dated {
            service: "CloudTrail",
            account,
            region,
            day,
        } => Layout::Events(Partitions::Layout {
            account: account.to_string(),
            region: region.to_string(),
            day,
        }),
        KeyLayout::Undated {
            service: "CloudTrail",
        } => Layout::Flat,
        KeyLayout::Dated { .. } | KeyLayout::Undated { .. } => Layout::NotEvents,
    }
}

pub(crate) fn is_service(segment: &str) -> bool {
    segment == "CloudTrail" || segment.starts_with("CloudTrail-")
}

pub(crate) fn is_date(yyyy: &str, mm: &str, dd: &str) -> bool {
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    digits(yyyy, 4) && digits(mm, 2) && digits(dd, 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partitions(p: &str) -> Option<Partitions> {
        match layout_partitions(Path::new(p)) {
            Layout::Events(p) => Some(p),
            Layout::Flat => Some(Partitions::Records),
            Layout::NotEvents => None,
        }
    }

    fn written_before(path: &str) -> Option<i64> {
        LogFile {
            path: PathBuf::from(path),
            size: 0,
            partitions: Partitions::Records,
            location: Location::Local,
        }
        .written_before_ms()
    }

    #[test]
    fn a_delivery_name_bounds_its_records_in_time() {
        // 2015-08-01T02:10Z + the minute of the name's precision + one for clocks.
        let expected = Some(1_438_395_000_000 + 2 * 60_000);
        for path in [
            "111122223333_CloudTrail_us-east-2_20150801T0210Z_Mu0KsOhtH1ar15ZZ.json.gz",
            "s3://b/AWSLogs/111122223333/CloudTrail/us-east-2/2015/08/01/111122223333_CloudTrail_us-east-2_20150801T0210Z_Mu0KsOhtH1ar15ZZ.json.gz",
            "logs/111122223333_CloudTrail_us-east-2_20150801T0210Z_x1.json",
        ] {
            assert_eq!(written_before(path), expected, "{path}");
        }
        for path in [
            "events.json.gz",
            "111122223333_CloudTrail-Digest_us-east-2_trail_us-east-2_20150801T021000Z.json.gz",
            "111122223333_CloudTrail-Insight_us-east-2_20150801T0210Z_abc.json.gz",
            "11112222333_CloudTrail_us-east-2_20150801T0210Z_abc.json.gz",
            "111122223333_CloudTrail_us-east-2_20150801T2510Z_abc.json.gz",
            "111122223333_CloudTrail_us-east-2_20150801T0210Z_abc_copy.json.gz",
            "111122223333_CloudTrail_us-east-2_20150801T0210Z_abc.json.gz.bak",
        ] {
            assert_eq!(written_before(path), None, "{path}");
        }
    }

    #[test]
    fn single_account_layout() {
        assert_eq!(
            partitions("b/prefix/AWSLogs/123456789012/CloudTrail/us-east-1/2024/07/30/x.json.gz"),
            Some(Partitions::Layout {
                account: "123456789012".into(),
                region: "us-east-1".into(),
                day: "2024/07/30".into()
            })
        );
    }

    #[test]
    fn organization_layout() {
        assert_eq!(
            partitions("AWSLogs/o-abc123/111122223333/CloudTrail/eu-west-1/2024/01/02/x.json.gz"),
            Some(Partitions::Layout {
                account: "111122223333".into(),
                region: "eu-west-1".into(),
                day: "2024/01/02".into()
            })
        );
    }

    #[test]
    fn digest_and_insight_are_not_events() {
        assert_eq!(
            partitions("AWSLogs/123456789012/CloudTrail-Digest/us-east-1/2024/07/30/x.json.gz"),
            None
        );
        assert_eq!(
            partitions(
                "AWSLogs/o-1/123456789012/CloudTrail-Insight/us-east-1/2024/07/30/x.json.gz"
            ),
            None
        );
    }

    #[test]
    fn flat_files_take_partitions_from_records() {
        assert_eq!(partitions("downloads/x.json.gz"), Some(Partitions::Records));
        assert_eq!(
            partitions("AWSLogs/123456789012/CloudTrail/x.json.gz"),
            Some(Partitions::Records)
        );
    }
}
