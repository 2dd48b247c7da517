//! Logs Insights on CloudWatch Logs itself: where a trail also delivers to a log group
//! (`spintrail provision --log-group`), the same Logs Insights text runs there.
//!
//! The query text goes to CloudWatch Logs as written (no translation): `StartQuery` over the
//! session's log groups and a time range, `GetQueryResults` polled with backoff until the query
//! ends, `StopQuery` when the caller gives up. Logs Insights returns every value as text; the
//! result is typed by the rules of [`types`]. Every result carries an
//! [`InsightsInfo`](crate::InsightsInfo): query id, status, records matched and scanned, bytes
//! scanned.

mod execution;
pub mod types;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::aws::ConnectOptions;
use crate::error::CloudWatchFailure;
use crate::result::{QueryFacts, QueryResult};
use crate::{Error, Result};

/// The time range of a query without a start: this long before its end.
pub const DEFAULT_RANGE: Duration = Duration::from_secs(3600);
/// The most log groups one StartQuery takes.
pub const MAX_LOG_GROUPS: usize = 50;

/// Which log groups to query and how.
#[derive(Debug, Clone)]
pub struct CloudWatchOptions {
    /// Log group names, or ARNs (for log groups of source accounts seen from a monitoring
    /// account).
    pub log_groups: Vec<String>,
    pub region: Option<String>,
    pub connect: ConnectOptions,
    /// Stop a query that runs longer than this.
    pub timeout: Option<Duration>,
    /// The longest wait between two polls of a running query.
    pub max_poll_interval: Duration,
}

impl Default for CloudWatchOptions {
    fn default() -> Self {
        CloudWatchOptions {
            log_groups: Vec::new(),
            region: None,
            // The one retry policy of every AWS path (crate::aws); GetQueryResults is
            // throttled at a few calls per second per account.
            connect: ConnectOptions::default(),
            timeout: None,
            max_poll_interval: Duration::from_secs(2),
        }
    }
}

/// A query's time range as StartQuery takes it: whole seconds since the epoch, both ends
/// included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub start: i64,
    pub end: i64,
}

impl TimeRange {
    /// The range from optional bounds: `end` defaults to `now`, `start` to [`DEFAULT_RANGE`]
    /// before `end`. StartQuery takes whole seconds, so `start` is rounded down and `end` up:
    /// the range sent always covers the range asked for.
    pub fn resolve(
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Self> {
        let end_given = end.is_some();
        let end = end.unwrap_or(now);
        let start = match start {
            Some(start) => start,
            None => {
                end - chrono::Duration::from_std(DEFAULT_RANGE)
                    .map_err(|e| Error::InvalidArgument(format!("default time range: {e}")))?
            }
        };
        if start > end {
            return Err(Error::InvalidArgument(format!(
                "start ({}) is after end ({}{}): Logs Insights needs start <= end",
                start.to_rfc3339(),
                end.to_rfc3339(),
                if end_given { "" } else { ", now" }
            )));
        }
        let round_up = i64::from(end.timestamp_subsec_nanos() > 0);
        Ok(TimeRange {
            start: start.timestamp(),
            end: end.timestamp() + round_up,
        })
    }
}

/// A running query's state, reported on every poll.
#[derive(Debug, Clone)]
pub struct Progress {
    pub query_id: String,
    /// Scheduled, Running, Complete, Failed, Cancelled or Timeout.
    pub status: String,
    pub elapsed: Duration,
    pub records_matched: u64,
    pub records_scanned: u64,
    pub bytes_scanned: u64,
}

pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// A session on CloudWatch Logs: a client and options, shared by all its queries.
pub struct CloudWatchSession {
    client: aws_sdk_cloudwatchlogs::Client,
    options: CloudWatchOptions,
    region: String,
}

impl CloudWatchSession {
    /// Checks the options and loads credentials and region (failing early, with what to do,
    /// when either is missing).
    pub async fn connect(options: CloudWatchOptions) -> Result<Self> {
        if options.log_groups.is_empty() {
            return Err(Error::InvalidArgument(
                "no log group given: pass log_group (the log group the trail delivers to, e.g. \
                 the one `spintrail provision --log-group` set up)"
                    .into(),
            ));
        }
        if options.log_groups.len() > MAX_LOG_GROUPS {
            return Err(Error::InvalidArgument(format!(
                "{} log groups given; one Logs Insights query reads at most {MAX_LOG_GROUPS}",
                options.log_groups.len()
            )));
        }
        if let Some(bad) = options
            .log_groups
            .iter()
            .find(|g| g.trim().is_empty() || g.trim() != g.as_str())
        {
            return Err(Error::InvalidArgument(format!(
                "log group {bad:?} is not a log group name or ARN"
            )));
        }
        let (sdk, region) = crate::aws::load(&options.connect, options.region.as_deref())
            .await
            .map_err(|e| match e {
                Error::Aws { step, message } => Error::CloudWatch {
                    kind: CloudWatchFailure::Call,
                    query_id: None,
                    message: format!("{step}: {message}"),
                },
                other => other,
            })?;
        Ok(CloudWatchSession {
            client: crate::aws::logs_client(&sdk),
            options,
            region,
        })
    }

    pub fn options(&self) -> &CloudWatchOptions {
        &self.options
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// Runs a Logs Insights query over `start..=end` (defaults in [`TimeRange::resolve`]) and
    /// returns its typed result with the query's facts.
    pub async fn insights(
        &self,
        query: &str,
        start: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
        progress: Option<ProgressFn>,
    ) -> Result<QueryResult> {
        if query.trim().is_empty() {
            return Err(Error::InvalidArgument(
                "the Logs Insights query is empty; e.g. \"fields @timestamp, eventName | sort \
                 @timestamp desc | limit 20\""
                    .into(),
            ));
        }
        let range = TimeRange::resolve(start, end, Utc::now())?;
        let (info, rows) =
            execution::run(&self.client, &self.options, query, range, progress.as_ref()).await?;
        let arranged = types::arrange(rows);
        let (schema, batch) = types::to_batch(&arranged).map_err(|e| {
            execution::cloudwatch_error(
                CloudWatchFailure::Call,
                Some(&info.query_id),
                format!("converting the result: {e}"),
            )
        })?;
        Ok(QueryResult {
            schema,
            batches: vec![batch],
            facts: QueryFacts::CloudWatch(info),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(seconds: i64, millis: u32) -> DateTime<Utc> {
        Utc.timestamp_opt(seconds, millis * 1_000_000)
            .single()
            .expect("valid time")
    }

    #[test]
    fn range_defaults_to_the_hour_before_now() {
        let now = at(1_722_300_000, 250);
        let range = TimeRange::resolve(None, None, now).expect("range");
        assert_eq!(
            range,
            TimeRange {
                start: 1_722_296_400,
                end: 1_722_300_001
            }
        );
        let range = TimeRange::resolve(None, Some(at(1_000_000, 0)), now).expect("range");
        assert_eq!(
            range,
            TimeRange {
                start: 1_000_000 - 3600,
                end: 1_000_000
            }
        );
    }

    #[test]
    fn range_covers_what_was_asked() {
        let range =
            TimeRange::resolve(Some(at(100, 900)), Some(at(200, 1)), at(0, 0)).expect("range");
        assert_eq!(
            range,
            TimeRange {
                start: 100,
                end: 201
            }
        );
    }

    #[test]
    fn start_after_end_is_refused() {
        let err = TimeRange::resolve(Some(at(200, 0)), Some(at(100, 0)), at(0, 0));
        assert!(matches!(err, Err(Error::InvalidArgument(m)) if m.contains("after end")));
    }
}
