//! AWS access shared by provisioning and the Athena and CloudWatch engines: clients from the
//! standard credential chain (env, profile, SSO, instance role) with an optional endpoint for
//! AWS-compatible servers, one retry policy and timeouts for every service; and SDK errors turned
//! into messages that name the step.
//!
//! The retry policy (the SDK's standard mode, configured here once for every client):
//! - up to [`DEFAULT_MAX_ATTEMPTS`] attempts per call, with exponential backoff and full jitter
//!   starting at [`INITIAL_BACKOFF`] and capped at [`MAX_BACKOFF`]. With half of all requests
//!   faulted independently, a call fails with 0.5^14 ≈ 6e-5, so the ~40 calls of a
//!   `provision apply` all succeed with 99.76 % (and 100 calls with 99.4 %);
//! - retried: throttling (`Throttling`, `ThrottlingException`, `TooManyRequestsException`,
//!   `SlowDown`, `RequestLimitExceeded`, ... and any HTTP 429), HTTP 500 / 502 / 503 / 504, dropped
//!   connections, truncated responses and timeouts;
//! - not retried: a refused connection. Nothing listens at that address (a wrong
//!   `--endpoint-url`, a stopped local server); AWS endpoints do not refuse connections
//!   transiently, so backing off 13 times would only delay the answer by a minute;
//! - no shared retry quota across calls (the SDK's token bucket): a burst of throttling spent on
//!   one call must not make a later call fail at its first fault. Attempts per call stay bounded.
//! - an idempotent read that must not fail on a transient fault while the client allows fewer
//!   attempts (an Athena status poll or result page, a ranged GET of a result object) is called
//!   again after [`backoff`] until [`DEFAULT_MAX_ATTEMPTS`] attempts are made in all
//!   ([`patient_calls`]); a body cut off while streaming is read again the same way.

use std::cell::Cell;
use std::time::Duration;

pub(crate) use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::interceptors::{FinalizerInterceptorContextRef, InterceptorContext};
use aws_sdk_s3::config::retry::{ClassifyRetry, RetryAction, RetryPartition, TokenBucket};
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::{BuildError, ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::retries::classifiers::RetryClassifierPriority;
use aws_smithy_runtime_api::client::retries::RequestAttempts;

use crate::{Error, Result};

/// How to reach AWS (not part of the desired state).
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// An AWS-compatible endpoint (e.g. a moto server); all services go there.
    pub endpoint_url: Option<String>,
    /// A named profile of the shared config files.
    pub profile: Option<String>,
    /// Attempts per request, including the first (see the module's retry policy); an override
    /// of [`DEFAULT_MAX_ATTEMPTS`].
    pub max_attempts: u32,
    /// TCP/TLS connect timeout.
    pub connect_timeout: Duration,
    /// Timeout of one attempt of one request.
    pub attempt_timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            endpoint_url: None,
            profile: None,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            connect_timeout: Duration::from_secs(5),
            attempt_timeout: Duration::from_secs(60),
        }
    }
}

/// Attempts per call, the first included, unless [`ConnectOptions::max_attempts`] says otherwise.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 14;
/// The longest first wait before a retry (full jitter: the wait is uniform in 0..this).
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(200);
/// The longest wait between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How many calls an idempotent read makes while it fails transiently, when each call makes the
/// attempts of its client's `retry` configuration: as many as make [`DEFAULT_MAX_ATTEMPTS`]
/// attempts in all (one when a call already makes that many), and the attempts per call.
pub(crate) fn patient_calls(retry: Option<&RetryConfig>) -> (u32, u32) {
    let per_call = retry.map_or(1, RetryConfig::max_attempts).max(1);
    (DEFAULT_MAX_ATTEMPTS.div_ceil(per_call).max(1), per_call)
}

/// The retry configuration of every client: standard mode with the policy's backoff.
fn retry_config(max_attempts: u32) -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(max_attempts.max(1))
        .with_initial_backoff(INITIAL_BACKOFF)
        .with_max_backoff(MAX_BACKOFF)
}

/// Loads the shared SDK configuration; fails early, naming what is missing, when there is no
/// region or no credentials.
pub(crate) async fn load(
    options: &ConnectOptions,
    region: Option<&str>,
) -> Result<(SdkConfig, String)> {
    let retry = retry_config(options.max_attempts);
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(options.connect_timeout)
        .operation_attempt_timeout(options.attempt_timeout)
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry)
        .timeout_config(timeouts);
    if let Some(profile) = &options.profile {
        // A profile that is asked for wins over AWS_ACCESS_KEY_ID & co, as in the AWS CLI: the
        // SDK's default chain reads the environment first, which would quietly run as another
        // identity (or another account) than the one named, and hide a misspelt profile.
        let credentials = aws_config::profile::ProfileFileCredentialsProvider::builder()
            .profile_name(profile)
            .build();
        loader = loader
            .profile_name(profile)
            .credentials_provider(credentials);
    }
    if let Some(region) = region {
        loader = loader.region(Region::new(region.to_string()));
    }
    if let Some(endpoint) = endpoint_url(options) {
        loader = loader.endpoint_url(endpoint);
    }
    let sdk = loader.load().await;
    let Some(region) = sdk.region().map(|r| r.to_string()) else {
        return Err(aws_error(
            "configuration",
            "no AWS region: pass region (--region) or set AWS_REGION / a profile region",
        ));
    };
    check_region(&region)?;
    check_credentials(&sdk, options.profile.as_deref()).await?;
    Ok((sdk, region))
}

/// A service's client configuration builder with the retry policy: the classifier below, the
/// attempt counter for error messages and a retry partition of its own without a retry quota.
macro_rules! policy_builder {
    ($service:ident, $sdk:expr) => {
        $service::config::Builder::from($sdk)
            .retry_classifier(FaultClassifier)
            .interceptor(AttemptCounter)
            .retry_partition(
                RetryPartition::custom(concat!("spintrail-", stringify!($service)))
                    .token_bucket(TokenBucket::unlimited())
                    .build(),
            )
    };
}

/// The endpoint every client uses: `endpoint_url` when given, else the `AWS_ENDPOINT_URL`
/// environment variable as the AWS CLI reads it (ignored when empty).
pub fn endpoint_url(options: &ConnectOptions) -> Option<String> {
    options.endpoint_url.clone().or_else(|| {
        std::env::var("AWS_ENDPOINT_URL")
            .ok()
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    })
}

/// An S3 client; AWS-compatible endpoints (an `endpoint_url` or `AWS_ENDPOINT_URL`) get
/// path-style addressing (no bucket DNS names).
pub(crate) fn s3_client(sdk: &SdkConfig, options: &ConnectOptions) -> aws_sdk_s3::Client {
    let config = policy_builder!(aws_sdk_s3, sdk)
        .force_path_style(endpoint_url(options).is_some())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

pub(crate) fn athena_client(sdk: &SdkConfig) -> aws_sdk_athena::Client {
    aws_sdk_athena::Client::from_conf(policy_builder!(aws_sdk_athena, sdk).build())
}

pub(crate) fn logs_client(sdk: &SdkConfig) -> aws_sdk_cloudwatchlogs::Client {
    aws_sdk_cloudwatchlogs::Client::from_conf(policy_builder!(aws_sdk_cloudwatchlogs, sdk).build())
}

pub(crate) fn sts_client(sdk: &SdkConfig) -> aws_sdk_sts::Client {
    aws_sdk_sts::Client::from_conf(policy_builder!(aws_sdk_sts, sdk).build())
}

pub(crate) fn cloudtrail_client(sdk: &SdkConfig) -> aws_sdk_cloudtrail::Client {
    aws_sdk_cloudtrail::Client::from_conf(policy_builder!(aws_sdk_cloudtrail, sdk).build())
}

pub(crate) fn glue_client(sdk: &SdkConfig) -> aws_sdk_glue::Client {
    aws_sdk_glue::Client::from_conf(policy_builder!(aws_sdk_glue, sdk).build())
}

pub(crate) fn iam_client(sdk: &SdkConfig) -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::from_conf(policy_builder!(aws_sdk_iam, sdk).build())
}

/// What the SDK's own classifiers leave out of the policy: a bare HTTP 429 is throttling, and a
/// refused connection is final. Runs after them, so its verdict wins.
#[derive(Debug)]
struct FaultClassifier;

impl ClassifyRetry for FaultClassifier {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        if let Some(Err(err)) = ctx.output_or_error() {
            if let Some(connector) = err.as_connector_error() {
                if is_refused(connector) {
                    return RetryAction::RetryForbidden;
                }
            }
        }
        match ctx.response().map(|r| r.status().as_u16()) {
            Some(429) => RetryAction::throttling_error(),
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "spintrail retry policy"
    }

    fn priority(&self) -> RetryClassifierPriority {
        RetryClassifierPriority::run_after(RetryClassifierPriority::transient_error_classifier())
    }
}

/// Whether an error (or one of its causes) is a refused TCP connection.
fn is_refused(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                return true;
            }
        }
        current = e.source();
    }
    false
}

thread_local! {
    /// How many attempts the call that just finished on this thread made. The SDK's error does
    /// not carry it; the call's completion and the caller's `map_err(sdk_error)` run in the same
    /// poll of the same task, so the caller reads the count of its own call.
    static LAST_ATTEMPTS: Cell<Option<u32>> = const { Cell::new(None) };
}

/// Records the attempts of every call for [`sdk_error`].
#[derive(Debug)]
struct AttemptCounter;

impl Intercept for AttemptCounter {
    fn name(&self) -> &'static str {
        "spintrail attempt counter"
    }

    fn read_after_execution(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let attempts = cfg.load::<RequestAttempts>().map(RequestAttempts::attempts);
        LAST_ATTEMPTS.with(|last| last.set(attempts));
        Ok(())
    }
}

/// The attempts of the call that failed last on this thread, once.
fn take_attempts() -> Option<u32> {
    LAST_ATTEMPTS.with(Cell::take)
}

/// Waits before the `failures`-th retry of something the SDK does not retry itself (a response
/// body cut off while streaming): the policy's backoff with full jitter.
pub(crate) async fn backoff(failures: u32) {
    let cap = INITIAL_BACKOFF
        .saturating_mul(1u32 << failures.saturating_sub(1).min(16))
        .min(MAX_BACKOFF);
    let jitter = f64::from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
            % 1000,
    ) / 1000.0;
    tokio::time::sleep(cap.mul_f64(jitter)).await;
}

/// An error and its causes, each once, joined by ": " (the SDK's own context printer adds
/// Debug dumps of every layer, too long for a message).
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(err);
    while let Some(e) = current {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}

pub(crate) fn check_region(region: &str) -> Result<()> {
    let parts: Vec<&str> = region.split('-').collect();
    let ok = parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()));
    if !ok {
        return Err(Error::InvalidArgument(format!(
            "region: {region:?} is not an AWS region name like us-east-1"
        )));
    }
    Ok(())
}

async fn check_credentials(sdk: &aws_config::SdkConfig, profile: Option<&str>) -> Result<()> {
    use aws_sdk_s3::config::ProvideCredentials;
    let missing = |detail: String| {
        aws_error(
            "credentials",
            format!(
                "no AWS credentials found{}: {detail}. Set AWS_ACCESS_KEY_ID and \
                 AWS_SECRET_ACCESS_KEY, pass --profile, run `aws sso login`, or use an instance \
                 role",
                profile
                    .map(|p| format!(" for profile {p:?}"))
                    .unwrap_or_default()
            ),
        )
    };
    let Some(provider) = sdk.credentials_provider() else {
        return Err(missing("no credentials provider is configured".into()));
    };
    provider
        .provide_credentials()
        .await
        .map(|_| ())
        .map_err(|e| missing(error_chain(&e)))
}

impl From<BuildError> for Error {
    fn from(err: BuildError) -> Self {
        aws_error("building a request", err.to_string())
    }
}

/// The one way to build an AWS error: the step that failed and what to know about it.
pub(crate) fn aws_error(step: impl Into<String>, message: impl Into<String>) -> Error {
    Error::Aws {
        step: step.into(),
        message: message.into(),
    }
}

/// The HTTP status of a failed call, when the server answered.
pub(crate) fn status<E, R>(err: &SdkError<E, R>) -> Option<u16>
where
    R: HttpStatus,
{
    err.raw_response().map(HttpStatus::code)
}

pub(crate) trait HttpStatus {
    fn code(&self) -> u16;
}

impl HttpStatus for aws_sdk_s3::config::http::HttpResponse {
    fn code(&self) -> u16 {
        self.status().as_u16()
    }
}

/// The service error code of a failed call (`AccessDenied`, `NoSuchBucket`, ...).
pub(crate) fn code<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Option<String> {
    match err {
        SdkError::ServiceError(ctx) => ctx.err().code().map(str::to_string),
        _ => None,
    }
}

/// An SDK error as a message naming the step and, after retries, how many attempts were made;
/// access denial and unreachable endpoints get a hint. Never empty: a response without a body
/// still names its HTTP status.
pub(crate) fn sdk_error<E, R>(step: &str, err: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: HttpStatus + std::fmt::Debug + 'static,
{
    let attempts = take_attempts();
    let mut message = match &err {
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().code();
            let text = ctx.err().message().filter(|t| !t.trim().is_empty());
            match ctx.err().code().filter(|c| !c.trim().is_empty()) {
                Some(code)
                    if code.contains("AccessDenied")
                        || code == "UnauthorizedOperation"
                        || code == "AuthorizationError"
                        || code.contains("NotAuthorized") =>
                {
                    format!(
                        "access denied ({code}): {}. The identity in use needs permission for \
                         this step",
                        text.map_or_else(|| bodiless(status), str::to_string)
                    )
                }
                Some(code) => format!(
                    "{code}: {}",
                    text.map_or_else(|| bodiless(status), str::to_string)
                ),
                // A HEAD request's error (or a bare 503) has no body: name the status instead.
                None => format!("HTTP {status}{}: {}", reason(status), bodiless(status)),
            }
        }
        SdkError::DispatchFailure(failure) => {
            let refused = failure.as_connector_error().is_some_and(|c| is_refused(c));
            format!(
                "cannot reach the AWS endpoint (check the network, the region and \
                 --endpoint-url){}: {}",
                if refused {
                    " - the connection was refused: nothing listens there, so it was not retried"
                } else {
                    ""
                },
                error_chain(&err)
            )
        }
        SdkError::TimeoutError(_) => format!(
            "cannot reach the AWS endpoint (check the network, the region and --endpoint-url): \
             {}",
            error_chain(&err)
        ),
        _ => error_chain(&err),
    };
    if message.trim().is_empty() {
        message = format!("the call failed without any detail ({err:?})");
    }
    if let Some(n) = attempts.filter(|&n| n > 1) {
        message.push_str(&format!(" (after {n} attempts)"));
    }
    aws_error(step, message)
}

/// The reason phrase of an HTTP status, after a space (empty for uncommon ones).
fn reason(status: u16) -> &'static str {
    match status {
        400 => " Bad Request",
        401 => " Unauthorized",
        403 => " Forbidden",
        404 => " Not Found",
        409 => " Conflict",
        429 => " Too Many Requests",
        500 => " Internal Server Error",
        502 => " Bad Gateway",
        503 => " Service Unavailable",
        504 => " Gateway Timeout",
        _ => "",
    }
}

/// What an error response without a message most likely means, by its HTTP status.
fn bodiless(status: u16) -> String {
    let meaning = match status {
        400 => "bad request",
        401 | 403 => "access denied (by IAM or a resource policy such as a bucket policy)",
        404 => "not found",
        409 => "conflict with the resource's current state",
        429 | 503 => "throttled or unavailable; retry later",
        500..=599 => "a server error; retry later",
        _ => "an error",
    };
    format!("{meaning} (the response carried no error message)")
}

/// The answer of a call, or `None` when it failed with `expected` (an answer such as "not
/// found" or "already exists" that the caller handles); any other failure as [`sdk_error`].
pub(crate) fn tolerate<T, E, R>(
    expected: &str,
    step: &str,
    answer: Result<T, SdkError<E, R>>,
) -> Result<Option<T>>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: HttpStatus + std::fmt::Debug + 'static,
{
    match answer {
        Ok(out) => Ok(Some(out)),
        Err(e) if code(&e).as_deref() == Some(expected) => Ok(None),
        Err(e) => Err(sdk_error(step, e)),
    }
}

/// Retries `call` while it fails with one of `codes` (AWS eventual consistency), up to ~60 s.
pub(crate) async fn retry_on<T, E, R, F, Fut>(
    codes: &[&str],
    mut call: F,
) -> Result<T, SdkError<E, R>>
where
    E: ProvideErrorMetadata,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, SdkError<E, R>>>,
{
    let mut delay = Duration::from_millis(500);
    let mut waited = Duration::ZERO;
    loop {
        match call().await {
            Err(err)
                if waited < Duration::from_secs(60)
                    && code(&err).is_some_and(|c| codes.contains(&c.as_str())) =>
            {
                tokio::time::sleep(delay).await;
                waited += delay;
                delay = (delay * 2).min(Duration::from_secs(8));
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Wrapped(std::io::Error);

    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("tcp connect error")
        }
    }

    impl std::error::Error for Wrapped {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn a_refused_connection_is_found_among_the_causes() {
        let refused = Wrapped(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(is_refused(&refused));
        let reset = Wrapped(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert!(!is_refused(&reset));
    }

    #[test]
    fn a_bodiless_status_still_says_something() {
        assert_eq!(reason(503), " Service Unavailable");
        assert!(bodiless(503).contains("throttled"));
        assert!(bodiless(599).contains("server error"));
        assert!(!bodiless(418).trim().is_empty());
    }

    #[test]
    fn the_policy_rides_out_half_of_all_requests_failing() {
        // A patient read makes the policy's attempts in all, whatever its client allows per call.
        for (max_attempts, calls) in [(1, 14), (2, 7), (3, 5), (4, 4), (14, 1), (20, 1)] {
            let config = retry_config(max_attempts);
            assert_eq!(
                patient_calls(Some(&config)),
                (calls, max_attempts),
                "{max_attempts}"
            );
        }
        assert_eq!(patient_calls(None), (DEFAULT_MAX_ATTEMPTS, 1));
        // Each call fails only when all its attempts do: 0.5^attempts; ~40 calls per apply.
        let call_fails = 0.5f64.powi(DEFAULT_MAX_ATTEMPTS as i32);
        let apply_succeeds = (1.0 - call_fails).powi(40);
        assert!(apply_succeeds > 0.997, "{apply_succeeds}");
        assert!(INITIAL_BACKOFF < MAX_BACKOFF);
    }
}
