//! One query execution on Athena: start it, poll with backoff until it ends, and stop it when the
//! caller gives up (Ctrl-C, a cancelled task, a timeout) so no query keeps running, and billing,
//! behind the caller's back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_athena::types::{
    QueryExecution, QueryExecutionContext, QueryExecutionState, ResultConfiguration,
    ResultReuseByAgeConfiguration, ResultReuseConfiguration,
};

use super::{AthenaFailure, AthenaOptions, Progress, ProgressFn, QueryInfo};
use crate::aws::{backoff, patient_calls, sdk_error, HttpStatus, RetryConfig};
use crate::{Error, Result};

/// Error codes of an answer refused for load: the call did not happen and can be repeated.
const THROTTLED: &[&str] = &[
    "ThrottlingException",
    "TooManyRequestsException",
    "Throttling",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "RequestLimitExceeded",
    "SlowDown",
    "ProvisionedThroughputExceededException",
];

/// Whether a failed call was refused for load or failed on the server's side (5xx): a read
/// that can simply be made again.
pub(super) fn is_transient<E, R>(err: &aws_sdk_s3::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_s3::error::ProvideErrorMetadata,
    R: HttpStatus,
{
    crate::aws::code(err).is_some_and(|c| THROTTLED.contains(&c.as_str()))
        || crate::aws::status(err).is_some_and(|s| s == 429 || s >= 500)
}

/// Makes an idempotent read (a status poll, a result page, a ranged GET) again while it fails
/// transiently, after the SDK's own attempts are spent: a throttled poll says nothing about the
/// query, so it must not end the wait for it (or lose a result that is already there). The one
/// retry policy of [`crate::aws`] bounds it: calls until the policy's attempts are made in all
/// ([`patient_calls`], from the client's `retry` configuration), with the policy's backoff.
pub(super) async fn patiently<T, E, R, F, Fut>(
    retry: Option<&RetryConfig>,
    mut call: F,
) -> std::result::Result<T, aws_sdk_s3::error::SdkError<E, R>>
where
    E: aws_sdk_s3::error::ProvideErrorMetadata,
    R: HttpStatus,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, aws_sdk_s3::error::SdkError<E, R>>>,
{
    let (calls, per_call) = patient_calls(retry);
    let mut made = 1;
    loop {
        match call().await {
            Err(err) if made < calls && is_transient(&err) => {
                backoff(made * per_call).await;
                made += 1;
            }
            other => return other,
        }
    }
}

/// Stops the query when dropped while armed: dropping the future that waits for a query (Ctrl-C
/// in `wait_for`, a cancelled asyncio task) must not leave it running on Athena.
struct StopOnDrop {
    client: aws_sdk_athena::Client,
    query_id: String,
    armed: bool,
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let request = self
                .client
                .stop_query_execution()
                .query_execution_id(&self.query_id);
            // Best effort: the runtime is process-wide, so the request completes after the
            // caller has already been told the query was cancelled.
            handle.spawn(async move {
                let _ = request.send().await;
            });
        }
    }
}

pub(super) fn athena_error(kind: AthenaFailure, query_id: Option<&str>, message: String) -> Error {
    Error::Athena {
        kind,
        query_id: query_id.map(str::to_string),
        message,
    }
}

/// An SDK error of an Athena or S3 call, naming the call.
pub(super) fn call_error<E, R>(
    step: &str,
    query_id: Option<&str>,
    err: aws_sdk_s3::error::SdkError<E, R>,
) -> Error
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: crate::aws::HttpStatus + std::fmt::Debug + 'static,
{
    // "step: message", as the AWS error displays itself.
    athena_error(
        AthenaFailure::Call,
        query_id,
        sdk_error(step, err).to_string(),
    )
}

/// Starts `sql` and waits until it has ended; returns the finished execution.
pub(super) async fn run(
    client: &aws_sdk_athena::Client,
    options: &AthenaOptions,
    sql: &str,
    parameters: Vec<String>,
    progress: Option<&ProgressFn>,
) -> Result<QueryInfo> {
    let mut request = client
        .start_query_execution()
        .query_string(sql)
        .work_group(&options.workgroup)
        .query_execution_context(
            QueryExecutionContext::builder()
                .catalog(&options.catalog)
                .database(&options.database)
                .build(),
        );
    if let Some(location) = &options.output_location {
        request = request.result_configuration(
            ResultConfiguration::builder()
                .output_location(location)
                .build(),
        );
    }
    if !parameters.is_empty() {
        request = request.set_execution_parameters(Some(parameters));
    }
    if let Some(minutes) = options.result_reuse_minutes {
        request = request.result_reuse_configuration(
            ResultReuseConfiguration::builder()
                .result_reuse_by_age_configuration(
                    ResultReuseByAgeConfiguration::builder()
                        .enabled(true)
                        .max_age_in_minutes(minutes)
                        .build(),
                )
                .build(),
        );
    }
    let started = request.send().await.map_err(|e| {
        let missing_workgroup = e
            .as_service_error()
            .and_then(|s| aws_sdk_s3::error::ProvideErrorMetadata::message(s))
            .is_some_and(|m| m.contains("WorkGroup") || m.contains("workgroup"));
        match call_error("athena:StartQueryExecution", None, e) {
            Error::Athena {
                kind,
                query_id,
                message,
            } if missing_workgroup => Error::Athena {
                kind,
                query_id,
                message: format!(
                    "{message} (workgroup {:?}: `spintrail provision apply` creates it, or \
                         pass workgroup=\"primary\")",
                    options.workgroup
                ),
            },
            other => other,
        }
    })?;
    let query_id = started
        .query_execution_id()
        .ok_or_else(|| {
            athena_error(
                AthenaFailure::Call,
                None,
                "athena:StartQueryExecution answered without a query id".into(),
            )
        })?
        .to_string();
    let mut guard = StopOnDrop {
        client: client.clone(),
        query_id: query_id.clone(),
        armed: true,
    };
    let began = Instant::now();
    let mut delay = Duration::from_millis(100);
    loop {
        let answer = patiently(client.config().retry_config(), || {
            client
                .get_query_execution()
                .query_execution_id(&query_id)
                .send()
        })
        .await
        .map_err(|e| call_error("athena:GetQueryExecution", Some(&query_id), e))?;
        let Some(execution) = answer.query_execution() else {
            return Err(athena_error(
                AthenaFailure::Call,
                Some(&query_id),
                "athena:GetQueryExecution answered without the execution".into(),
            ));
        };
        let info = QueryInfo::from_execution(&query_id, sql, execution, options.price_per_tb);
        if let Some(report) = progress {
            report(&Progress {
                query_id: query_id.clone(),
                state: info.state.clone(),
                elapsed: began.elapsed(),
                data_scanned_bytes: info.data_scanned_bytes,
            });
        }
        match execution.status().and_then(|s| s.state()) {
            Some(QueryExecutionState::Succeeded) => {
                guard.armed = false;
                return Ok(info);
            }
            Some(QueryExecutionState::Failed) => {
                guard.armed = false;
                return Err(athena_error(
                    AthenaFailure::Failed,
                    Some(&query_id),
                    format!("Athena query failed: {}", failure_reason(execution)),
                ));
            }
            Some(QueryExecutionState::Cancelled) => {
                guard.armed = false;
                return Err(athena_error(
                    AthenaFailure::Cancelled,
                    Some(&query_id),
                    format!(
                        "Athena query was cancelled{}",
                        execution
                            .status()
                            .and_then(|s| s.state_change_reason())
                            .map(|r| format!(": {r}"))
                            .unwrap_or_default()
                    ),
                ));
            }
            _ => {}
        }
        if let Some(limit) = options.timeout {
            if began.elapsed() >= limit {
                // Stop it now and wait for the answer, so the error can say it was stopped.
                guard.armed = false;
                let stopped = client
                    .stop_query_execution()
                    .query_execution_id(&query_id)
                    .send()
                    .await;
                let outcome = match stopped {
                    Ok(_) => "it was stopped".to_string(),
                    Err(e) => format!(
                        "stopping it failed ({}); stop it in the console",
                        crate::aws::error_chain(&e)
                    ),
                };
                return Err(athena_error(
                    AthenaFailure::Timeout,
                    Some(&query_id),
                    format!(
                        "Athena query did not finish within {:.1} s (state {}); {outcome}. \
                         Raise timeout= or narrow the query (a partition filter on day/region)",
                        limit.as_secs_f64(),
                        info.state
                    ),
                ));
            }
        }
        let wait = match options.timeout {
            Some(limit) => delay.min(limit.saturating_sub(began.elapsed())),
            None => delay,
        };
        tokio::time::sleep(wait).await;
        delay = (delay.mul_f64(1.5)).min(options.max_poll_interval);
    }
}

fn failure_reason(execution: &QueryExecution) -> String {
    let status = execution.status();
    let reason = status
        .and_then(|s| s.state_change_reason())
        .unwrap_or("no reason given");
    match status.and_then(|s| s.athena_error()) {
        Some(error) => {
            let category = match error.error_category() {
                Some(1) => "system error",
                Some(2) => "user error",
                Some(3) => "other error",
                _ => "error",
            };
            let mut text = format!("{reason} ({category}");
            if let Some(kind) = error.error_type() {
                text.push_str(&format!(", error type {kind}"));
            }
            if error.retryable() {
                text.push_str(", retryable");
            }
            text.push(')');
            text
        }
        None => reason.to_string(),
    }
}

/// The workgroup's result location, when the session was not given one.
pub(super) async fn workgroup_output_location(
    client: &aws_sdk_athena::Client,
    workgroup: &str,
) -> Result<Option<String>> {
    let answer = client
        .get_work_group()
        .work_group(workgroup)
        .send()
        .await
        .map_err(|e| call_error("athena:GetWorkGroup", None, e))?;
    Ok(answer
        .work_group()
        .and_then(|w| w.configuration())
        .and_then(|c| c.result_configuration())
        .and_then(|r| r.output_location())
        .map(str::to_string))
}

/// A unique token for names spintrail makes up (UNLOAD prefixes).
pub(super) fn unique_token() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{nanos:x}-{:x}-{:x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

pub(super) type Shared<T> = Arc<std::sync::Mutex<T>>;
