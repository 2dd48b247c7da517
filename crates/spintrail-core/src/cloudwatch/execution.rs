//! One Logs Insights query: `StartQuery`, `GetQueryResults` polled with backoff until the query
//! ends (its answer is both the status and, once Complete, the rows), and `StopQuery` when the
//! caller gives up — Ctrl-C, a cancelled task or the timeout — so no query keeps scanning, and
//! billing, behind the caller's back.

use std::time::{Duration, Instant};

use aws_sdk_cloudwatchlogs::operation::get_query_results::GetQueryResultsOutput;
use aws_sdk_cloudwatchlogs::types::QueryStatus;

use super::{CloudWatchOptions, Progress, ProgressFn, TimeRange};
use crate::aws::sdk_error;
use crate::error::CloudWatchFailure;
use crate::result::InsightsInfo;
use crate::{Error, Result};

/// Stops the query when dropped while armed: dropping the future that waits for the query
/// (Ctrl-C in the binding's wait, a cancelled asyncio task) must not leave it running.
struct StopOnDrop {
    client: aws_sdk_cloudwatchlogs::Client,
    query_id: String,
    armed: bool,
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let request = self.client.stop_query().query_id(&self.query_id);
            // Best effort, on the process-wide runtime: the caller has already been told the
            // query was cancelled when this completes.
            runtime.spawn(async move {
                let _ = request.send().await;
            });
        }
    }
}

pub(super) fn cloudwatch_error(
    kind: CloudWatchFailure,
    query_id: Option<&str>,
    message: String,
) -> Error {
    Error::CloudWatch {
        kind,
        query_id: query_id.map(str::to_string),
        message,
    }
}

/// A failed CloudWatch Logs call, naming the call.
fn call_error<E, R>(
    step: &str,
    query_id: Option<&str>,
    err: aws_sdk_cloudwatchlogs::error::SdkError<E, R>,
) -> Error
where
    E: aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: crate::aws::HttpStatus + std::fmt::Debug + 'static,
{
    let message = match sdk_error(step, err) {
        Error::Aws { step, message } => format!("{step}: {message}"),
        other => other.to_string(),
    };
    cloudwatch_error(CloudWatchFailure::Call, query_id, message)
}

/// Logs Insights' statistics are doubles; they count records and bytes.
fn count(value: f64) -> u64 {
    if value.is_finite() && value > 0.0 {
        value.round() as u64
    } else {
        0
    }
}

/// Starts the query; a log group given as an ARN makes the request use log group identifiers
/// (which also reach log groups of source accounts from a monitoring account).
async fn start(
    client: &aws_sdk_cloudwatchlogs::Client,
    options: &CloudWatchOptions,
    query: &str,
    range: TimeRange,
) -> Result<String> {
    let mut request = client
        .start_query()
        .query_string(query)
        .start_time(range.start)
        .end_time(range.end);
    request = if options.log_groups.iter().any(|g| g.starts_with("arn:")) {
        request.set_log_group_identifiers(Some(options.log_groups.clone()))
    } else {
        request.set_log_group_names(Some(options.log_groups.clone()))
    };
    // Logs Insights refuses queries beyond the account's concurrency quota with
    // LimitExceededException (not a throttling error the SDK retries): wait for a slot.
    let started = crate::aws::retry_on(&["LimitExceededException"], || request.clone().send())
        .await
        .map_err(|e| {
            let code = crate::aws::code(&e);
            let hint = match code.as_deref() {
                Some("ResourceNotFoundException") => format!(
                    " (log group {}: check the name and the region, or create it with \
                     `spintrail provision apply --log-group ...`)",
                    options
                        .log_groups
                        .iter()
                        .map(|g| format!("{g:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Some("MalformedQueryException") => {
                    " (the query is not valid Logs Insights syntax)".to_string()
                }
                _ => String::new(),
            };
            match call_error("logs:StartQuery", None, e) {
                Error::CloudWatch {
                    kind,
                    query_id,
                    message,
                } => Error::CloudWatch {
                    kind,
                    query_id,
                    message: format!("{message}{hint}"),
                },
                other => other,
            }
        })?;
    started.query_id().map(str::to_string).ok_or_else(|| {
        cloudwatch_error(
            CloudWatchFailure::Call,
            None,
            "logs:StartQuery answered without a query id".into(),
        )
    })
}

async fn get_results(
    client: &aws_sdk_cloudwatchlogs::Client,
    query_id: &str,
    token: Option<String>,
) -> Result<GetQueryResultsOutput> {
    client
        .get_query_results()
        .query_id(query_id)
        .set_next_token(token)
        .send()
        .await
        .map_err(|e| call_error("logs:GetQueryResults", Some(query_id), e))
}

/// The rows of one answer as `(field, value)` pairs.
fn rows_of(answer: &GetQueryResultsOutput) -> Vec<Vec<(String, Option<String>)>> {
    answer
        .results()
        .iter()
        .map(|row| {
            row.iter()
                .filter_map(|f| Some((f.field()?.to_string(), f.value().map(str::to_string))))
                .collect()
        })
        .collect()
}

/// Runs the query until it has ended; returns its facts and its rows (all pages).
pub(super) async fn run(
    client: &aws_sdk_cloudwatchlogs::Client,
    options: &CloudWatchOptions,
    query: &str,
    range: TimeRange,
    progress: Option<&ProgressFn>,
) -> Result<(InsightsInfo, Vec<Vec<(String, Option<String>)>>)> {
    let query_id = start(client, options, query, range).await?;
    let mut guard = StopOnDrop {
        client: client.clone(),
        query_id: query_id.clone(),
        armed: true,
    };
    let mut info = InsightsInfo {
        query_id: query_id.clone(),
        status: "Scheduled".into(),
        query: query.to_string(),
        log_groups: options.log_groups.clone(),
        start_time: range.start,
        end_time: range.end,
        records_matched: 0,
        records_scanned: 0,
        bytes_scanned: 0,
        rows: 0,
    };
    let began = Instant::now();
    let mut delay = Duration::from_millis(100);
    loop {
        let answer = get_results(client, &query_id, None).await?;
        let status = answer
            .status()
            .cloned()
            .unwrap_or(QueryStatus::UnknownValue);
        info.status = status.as_str().to_string();
        if let Some(stats) = answer.statistics() {
            info.records_matched = count(stats.records_matched());
            info.records_scanned = count(stats.records_scanned());
            info.bytes_scanned = count(stats.bytes_scanned());
        }
        if let Some(report) = progress {
            report(&Progress {
                query_id: query_id.clone(),
                status: info.status.clone(),
                elapsed: began.elapsed(),
                records_matched: info.records_matched,
                records_scanned: info.records_scanned,
                bytes_scanned: info.bytes_scanned,
            });
        }
        match status {
            QueryStatus::Complete => {
                guard.armed = false;
                let mut rows = rows_of(&answer);
                let mut token = answer.next_token().map(str::to_string);
                while let Some(next) = token {
                    let page = get_results(client, &query_id, Some(next)).await?;
                    rows.extend(rows_of(&page));
                    token = page.next_token().map(str::to_string);
                }
                info.rows = rows.len() as u64;
                return Ok((info, rows));
            }
            QueryStatus::Failed => {
                guard.armed = false;
                return Err(cloudwatch_error(
                    CloudWatchFailure::Failed,
                    Some(&query_id),
                    "Logs Insights query failed (CloudWatch Logs gives no reason; check the \
                     query in the console's Logs Insights history)"
                        .into(),
                ));
            }
            QueryStatus::Cancelled => {
                guard.armed = false;
                return Err(cloudwatch_error(
                    CloudWatchFailure::Cancelled,
                    Some(&query_id),
                    "Logs Insights query was cancelled (StopQuery)".into(),
                ));
            }
            QueryStatus::Timeout => {
                guard.armed = false;
                return Err(cloudwatch_error(
                    CloudWatchFailure::Timeout,
                    Some(&query_id),
                    "Logs Insights ended the query at its own time limit (status Timeout); \
                     narrow the time range or the log groups"
                        .into(),
                ));
            }
            _ => {}
        }
        if let Some(limit) = options.timeout {
            if began.elapsed() >= limit {
                // Stop it now and wait for the answer, so the error can say it was stopped.
                guard.armed = false;
                let stopped = client.stop_query().query_id(&query_id).send().await;
                let outcome = match stopped {
                    Ok(_) => "it was stopped".to_string(),
                    Err(e) => format!(
                        "stopping it failed ({}); stop it in the console",
                        crate::aws::error_chain(&e)
                    ),
                };
                return Err(cloudwatch_error(
                    CloudWatchFailure::Timeout,
                    Some(&query_id),
                    format!(
                        "Logs Insights query did not finish within {:.1} s (status {}); \
                         {outcome}. Raise timeout= or narrow the time range",
                        limit.as_secs_f64(),
                        info.status
                    ),
                ));
            }
        }
        let wait = match options.timeout {
            Some(limit) => delay.min(limit.saturating_sub(began.elapsed())),
            None => delay,
        };
        tokio::time::sleep(wait).await;
        delay = delay.mul_f64(1.5).min(options.max_poll_interval);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_become_counts() {
        assert_eq!(count(12.0), 12);
        assert_eq!(count(-1.0), 0);
        assert_eq!(count(f64::NAN), 0);
        assert_eq!(count(2.6), 3);
    }
}
