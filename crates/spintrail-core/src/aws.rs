//! AWS access shared by provisioning and the Athena engine: clients from the standard credential
//! chain (env, profile, SSO, instance role) with an optional endpoint for AWS-compatible servers,
//! bounded retries and timeouts; and SDK errors turned into messages that name the step.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::error::{BuildError, ProvideErrorMetadata, SdkError};

use crate::{Error, Result};

/// How to reach AWS (not part of the desired state).
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// An AWS-compatible endpoint (e.g. a moto server); all services go there.
    pub endpoint_url: Option<String>,
    /// A named profile of the shared config files.
    pub profile: Option<String>,
    /// Attempts per request, including the first (standard retry mode).
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
            max_attempts: 3,
            connect_timeout: Duration::from_secs(5),
            attempt_timeout: Duration::from_secs(60),
        }
    }
}

/// Loads the shared SDK configuration; fails early, naming what is missing, when there is no
/// region or no credentials.
pub(crate) async fn load(
    options: &ConnectOptions,
    region: Option<&str>,
) -> Result<(SdkConfig, String)> {
    let retry = RetryConfig::standard().with_max_attempts(options.max_attempts.max(1));
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
    if let Some(endpoint) = &options.endpoint_url {
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

/// An S3 client; AWS-compatible endpoints get path-style addressing (no bucket DNS names).
pub(crate) fn s3_client(sdk: &SdkConfig, options: &ConnectOptions) -> aws_sdk_s3::Client {
    let mut s3 = aws_sdk_s3::config::Builder::from(sdk);
    if options.endpoint_url.is_some() {
        s3 = s3.force_path_style(true);
    }
    aws_sdk_s3::Client::from_conf(s3.build())
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

/// An SDK error as a message naming the step; access denial and unreachable endpoints get a hint.
pub(crate) fn sdk_error<E, R>(step: &str, err: SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: HttpStatus + std::fmt::Debug + 'static,
{
    let message = match &err {
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().code();
            // A HEAD request's error (or a bare 503) has no body: name the status instead.
            let code = match ctx.err().code() {
                Some(code) => code.to_string(),
                None => format!("HTTP {status}"),
            };
            let code = code.as_str();
            let text = match ctx.err().message() {
                Some(text) if !text.is_empty() => text.to_string(),
                _ => bodiless(status),
            };
            if code.contains("AccessDenied")
                || code == "UnauthorizedOperation"
                || code == "AuthorizationError"
                || code.contains("NotAuthorized")
            {
                format!(
                    "access denied ({code}): {text}. The identity in use needs permission for this \
                     step"
                )
            } else {
                format!("{code}: {text}")
            }
        }
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => format!(
            "cannot reach the AWS endpoint (check the network, the region and --endpoint-url): {}",
            error_chain(&err)
        ),
        _ => error_chain(&err),
    };
    aws_error(step, message)
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
