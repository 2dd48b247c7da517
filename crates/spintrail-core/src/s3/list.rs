//! Listing an S3 prefix in CloudTrail's layout: accounts, services and regions found with
//! delimiter listings, then only the day prefixes a [`Selection`] keeps, each listed in full.
//! Outside the layout (a flat prefix) every `.json.gz` / `.json` object is listed.

use chrono::{Duration, NaiveDate};
use futures::StreamExt;

use crate::aws;
use crate::error::{Error, Result};
use crate::local::source::{is_date, is_service, key_layout, KeyLayout, Partitions};
use crate::s3::{source_error, S3Access, S3Url};

/// Listings in flight at once.
const LIST_CONCURRENCY: usize = 16;
/// Widest day range listed day by day; a wider one is discovered folder by folder.
const MAX_DAYS_ENUMERATED: i64 = 3700;

/// Which partitions' objects are wanted: decides, before listing, which prefixes are listed.
pub trait Selection: Send + Sync {
    /// Whether objects of this account and region (in this day folder, `yyyy/MM/dd`, when
    /// known) may be wanted.
    fn keep(&self, account: &str, region: &str, day: Option<&str>) -> bool;
    /// The day folders, first and last, outside which nothing is wanted, when bounded on both
    /// sides (`keep` still decides within).
    fn days(&self) -> Option<(NaiveDate, NaiveDate)>;
    /// Whether `keep` depends on the day: the day folders are then discovered with delimiter
    /// listings and each is tested before it is listed.
    fn by_day(&self) -> bool;
}

/// Every object.
pub struct Everything;

impl Selection for Everything {
    fn keep(&self, _: &str, _: &str, _: Option<&str>) -> bool {
        true
    }
    fn days(&self) -> Option<(NaiveDate, NaiveDate)> {
        None
    }
    fn by_day(&self) -> bool {
        false
    }
}

/// A log object found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub key: String,
    pub size: u64,
    pub etag: String,
    /// From the key's layout, or `Records` outside it.
    pub partitions: Partitions,
}

/// What a listing found.
#[derive(Debug, Clone, Default)]
pub struct Walk {
    pub objects: Vec<Found>,
    /// Log objects left out on purpose: services not asked for (digests, Insights, ...).
    pub excluded: usize,
    /// Log objects listed but not kept by the selection (in a listed prefix, outside it).
    pub pruned: usize,
    /// ListObjectsV2 requests made.
    pub requests: usize,
}

/// One listing to make: with `/` as delimiter (sub-folders come back as prefixes), or of
/// everything under the prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Task {
    Folders(String),
    All(String),
}

/// What to list under a folder `prefix` (ending in `/`, or empty) found while walking.
pub(crate) fn plan(prefix: &str, services: &[&str], selection: &dyn Selection) -> Vec<Task> {
    let parts: Vec<&str> = prefix.split('/').filter(|p| !p.is_empty()).collect();
    let Some(start) = parts.iter().rposition(|p| *p == "AWSLogs") else {
        return vec![Task::Folders(prefix.to_string())];
    };
    let rest = &parts[start + 1..];
    let (account, service, tail) = match rest {
        [org, account, service, tail @ ..] if org.starts_with("o-") && is_service(service) => {
            (*account, *service, tail)
        }
        [account, service, tail @ ..] if is_service(service) => (*account, *service, tail),
        // AWSLogs/, AWSLogs/<account>/, AWSLogs/<org-id>/, AWSLogs/<org-id>/<account>/
        _ => return vec![Task::Folders(prefix.to_string())],
    };
    if !services.contains(&service) {
        return Vec::new();
    }
    match tail {
        [] => vec![Task::Folders(prefix.to_string())],
        [region] => {
            if !selection.keep(account, region, None) {
                return Vec::new();
            }
            match selection.days() {
                Some((first, last)) if (last - first).num_days() <= MAX_DAYS_ENUMERATED => {
                    let mut tasks = Vec::new();
                    let mut day = first;
                    while day <= last {
                        let text = day.format("%Y/%m/%d").to_string();
                        if selection.keep(account, region, Some(&text)) {
                            tasks.push(Task::All(format!("{prefix}{text}/")));
                        }
                        day += Duration::days(1);
                    }
                    tasks
                }
                _ if selection.by_day() => vec![Task::Folders(prefix.to_string())],
                _ => vec![Task::All(prefix.to_string())],
            }
        }
        [_, _] | [_, _, _] => vec![Task::Folders(prefix.to_string())],
        [region, yyyy, mm, dd] if is_date(yyyy, mm, dd) => {
            if selection.keep(account, region, Some(&format!("{yyyy}/{mm}/{dd}"))) {
                vec![Task::All(prefix.to_string())]
            } else {
                Vec::new()
            }
        }
        _ => vec![Task::All(prefix.to_string())],
    }
}

/// Where an object belongs: kept (with its partitions), excluded, or not a log at all.
pub(crate) enum Verdict {
    Keep(Partitions),
    Excluded,
    Pruned,
    Skip,
}

pub(crate) fn classify(key: &str, services: &[&str], selection: &dyn Selection) -> Verdict {
    let lower = key.to_ascii_lowercase();
    if !(lower.ends_with(".json.gz") || lower.ends_with(".json")) {
        return Verdict::Skip;
    }
    let parts: Vec<&str> = key.split('/').collect();
    match key_layout(&parts) {
        KeyLayout::Flat => Verdict::Keep(Partitions::Records),
        KeyLayout::Dated {
            service,
            account,
            region,
            day,
        } => {
            if !services.contains(&service) {
                Verdict::Excluded
            } else if selection.keep(account, region, Some(&day)) {
                Verdict::Keep(Partitions::Layout {
                    account: account.to_string(),
                    region: region.to_string(),
                    day,
                })
            } else {
                Verdict::Pruned
            }
        }
        KeyLayout::Undated { service } if services.contains(&service) => {
            Verdict::Keep(Partitions::Records)
        }
        KeyLayout::Undated { .. } => Verdict::Excluded,
    }
}

/// One object of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub key: String,
    /// Bytes (0 when S3 does not say).
    pub size: u64,
    /// The ETag as S3 gives it (quotes included), empty when absent.
    pub etag: String,
    /// When the object was last written, when S3 says.
    pub modified: Option<chrono::DateTime<chrono::Utc>>,
}

/// What one [`objects`] call found, page after page.
#[derive(Debug, Default)]
pub struct Listing {
    pub objects: Vec<Listed>,
    /// The common prefixes (whole, with their trailing delimiter) of a delimiter listing.
    pub folders: Vec<String>,
    /// ListObjectsV2 requests made.
    pub requests: usize,
}

/// A failed ListObjectsV2 call, for the caller to word in its own context.
pub type ListError = aws_sdk_s3::error::SdkError<
    aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Error,
    aws_sdk_s3::config::http::HttpResponse,
>;

/// Lists `bucket` under `prefix` (all of it when empty) page by page with ListObjectsV2: with
/// `delimiter`, one level (`/`) and its common prefixes; at most `max_pages` pages when given
/// (e.g. 1 for "the first page only"). A failed call is turned into the caller's error by
/// `on_error`, so each caller keeps its own wording.
pub async fn objects<E>(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    delimiter: bool,
    max_pages: Option<usize>,
    on_error: impl Fn(ListError) -> E,
) -> std::result::Result<Listing, E> {
    let mut listing = Listing::default();
    let mut token: Option<String> = None;
    while max_pages.is_none_or(|max| listing.requests < max) {
        let answer = client
            .list_objects_v2()
            .bucket(bucket)
            .set_prefix((!prefix.is_empty()).then(|| prefix.to_string()))
            .set_delimiter(delimiter.then(|| "/".to_string()))
            .set_continuation_token(token.take())
            .send()
            .await
            .map_err(&on_error)?;
        listing.requests += 1;
        listing
            .objects
            .extend(answer.contents().iter().filter_map(|object| {
                Some(Listed {
                    key: object.key()?.to_string(),
                    size: object.size().unwrap_or(0).max(0) as u64,
                    etag: object.e_tag().unwrap_or_default().to_string(),
                    modified: object
                        .last_modified()
                        .and_then(|t| chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos())),
                })
            }));
        listing.folders.extend(
            answer
                .common_prefixes()
                .iter()
                .filter_map(|p| p.prefix().map(str::to_string)),
        );
        match answer.next_continuation_token() {
            Some(next) if answer.is_truncated() == Some(true) => token = Some(next.to_string()),
            _ => break,
        }
    }
    Ok(listing)
}

async fn list_prefix(access: &S3Access, bucket: &str, task: &Task) -> Result<Listing> {
    let (prefix, delimit) = match task {
        Task::Folders(p) => (p.as_str(), true),
        Task::All(p) => (p.as_str(), false),
    };
    let name = S3Url::name(bucket, prefix);
    let client = access
        .client(bucket)
        .await
        .map_err(|e| source_error(&name, e))?;
    objects(&client, bucket, prefix, delimit, None, |e| {
        source_error(&name, aws::sdk_error("listing", e))
    })
    .await
}

/// Lists the log objects under `url` of the layout's `services` (`CloudTrail`, and for a copy
/// also `CloudTrail-Digest`, `CloudTrail-Insight`, ...) that `selection` keeps, sorted by key.
pub async fn list(
    access: &S3Access,
    url: &S3Url,
    services: &[&str],
    selection: &dyn Selection,
) -> Result<Walk> {
    let mut walk = Walk::default();
    let mut pending = match &url.object {
        // One object: the listing of its key as a prefix holds it (and keys that go on).
        Some(key) => vec![Task::All(key.clone())],
        None => plan(&url.prefix, services, selection),
    };
    while !pending.is_empty() {
        let pages: Vec<Result<Listing>> = futures::stream::iter(pending.drain(..))
            .map(|task| async move { list_prefix(access, &url.bucket, &task).await })
            .buffer_unordered(LIST_CONCURRENCY)
            .collect()
            .await;
        for page in pages {
            let page = page?;
            walk.requests += page.requests;
            for Listed {
                key, size, etag, ..
            } in page.objects
            {
                if url.object.as_ref().is_some_and(|object| *object != key) {
                    continue;
                }
                match classify(&key, services, selection) {
                    Verdict::Keep(partitions) => walk.objects.push(Found {
                        key,
                        size,
                        etag,
                        partitions,
                    }),
                    Verdict::Excluded => walk.excluded += 1,
                    Verdict::Pruned => walk.pruned += 1,
                    Verdict::Skip => {}
                }
            }
            for folder in page.folders {
                pending.extend(plan(&folder, services, selection));
            }
        }
    }
    walk.objects.sort_by(|a, b| a.key.cmp(&b.key));
    walk.objects.dedup_by(|a, b| a.key == b.key);
    if url.object.is_some() && walk.objects.is_empty() && walk.pruned == 0 {
        // Asked for by name: a missing object (or a digest's) is no empty answer.
        let reason = if walk.excluded > 0 {
            format!(
                "not a log file of {} (digest and Insights files are not read)",
                services.join(", ")
            )
        } else {
            "no such object (a folder's URL ends in /)".to_string()
        };
        return Err(Error::Source {
            path: url.source(),
            reason,
        });
    }
    Ok(walk)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Days from `first` to `last`, and only region us-east-1.
    struct Window(NaiveDate, NaiveDate);

    impl Selection for Window {
        fn keep(&self, _: &str, region: &str, day: Option<&str>) -> bool {
            region == "us-east-1"
                && day.is_none_or(|d| {
                    NaiveDate::parse_from_str(d, "%Y/%m/%d")
                        .is_ok_and(|d| d >= self.0 && d <= self.1)
                })
        }
        fn days(&self) -> Option<(NaiveDate, NaiveDate)> {
            Some((self.0, self.1))
        }
        fn by_day(&self) -> bool {
            true
        }
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn layout_folders_are_discovered_with_delimiters() {
        for p in [
            "",
            "logs/",
            "logs/AWSLogs/",
            "AWSLogs/123/",
            "AWSLogs/o-1/123/",
        ] {
            assert_eq!(
                plan(p, &["CloudTrail"], &Everything),
                vec![Task::Folders(p.into())]
            );
        }
        assert_eq!(
            plan("AWSLogs/123/CloudTrail/", &["CloudTrail"], &Everything),
            vec![Task::Folders("AWSLogs/123/CloudTrail/".into())]
        );
    }

    #[test]
    fn other_services_are_not_listed_unless_asked_for() {
        let digest = "AWSLogs/123/CloudTrail-Digest/";
        assert!(plan(digest, &["CloudTrail"], &Everything).is_empty());
        assert_eq!(
            plan(digest, &["CloudTrail", "CloudTrail-Digest"], &Everything),
            vec![Task::Folders(digest.into())]
        );
        assert!(plan(
            "AWSLogs/o-1/123/CloudTrail-Insight/",
            &["CloudTrail"],
            &Everything
        )
        .is_empty());
    }

    #[test]
    fn a_region_without_bounds_is_listed_whole() {
        let region = "p/AWSLogs/123/CloudTrail/us-east-1/";
        assert_eq!(
            plan(region, &["CloudTrail"], &Everything),
            vec![Task::All(region.into())]
        );
    }

    #[test]
    fn a_bounded_selection_lists_only_its_day_prefixes() {
        let w = Window(date(2024, 2, 28), date(2024, 3, 1));
        let region = "AWSLogs/o-1/123/CloudTrail/us-east-1/";
        assert_eq!(
            plan(region, &["CloudTrail"], &w),
            vec![
                Task::All(format!("{region}2024/02/28/")),
                Task::All(format!("{region}2024/02/29/")),
                Task::All(format!("{region}2024/03/01/")),
            ]
        );
        assert!(plan("AWSLogs/123/CloudTrail/eu-west-1/", &["CloudTrail"], &w).is_empty());
        assert!(plan(
            "AWSLogs/123/CloudTrail/us-east-1/2024/03/02/",
            &["CloudTrail"],
            &w
        )
        .is_empty());
        assert_eq!(
            plan(
                "AWSLogs/123/CloudTrail/us-east-1/2024/",
                &["CloudTrail"],
                &w
            ),
            vec![Task::Folders(
                "AWSLogs/123/CloudTrail/us-east-1/2024/".into()
            )]
        );
    }

    #[test]
    fn objects_are_classified_by_their_keys() {
        let keep = |k: &str| match classify(k, &["CloudTrail"], &Everything) {
            Verdict::Keep(p) => Some(p),
            _ => None,
        };
        assert_eq!(keep("flat/x.json.gz"), Some(Partitions::Records));
        assert_eq!(keep("flat/x.json.gz.part"), None);
        assert_eq!(keep("flat/README.txt"), None);
        assert_eq!(
            keep("AWSLogs/o-1/123/CloudTrail/us-east-1/2024/07/30/x.json.gz"),
            Some(Partitions::Layout {
                account: "123".into(),
                region: "us-east-1".into(),
                day: "2024/07/30".into()
            })
        );
        assert!(matches!(
            classify(
                "AWSLogs/123/CloudTrail-Digest/us-east-1/2024/07/30/x.json.gz",
                &["CloudTrail"],
                &Everything
            ),
            Verdict::Excluded
        ));
    }
}
