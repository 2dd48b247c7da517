//! AWS clients from the standard credential chain (env, profile, SSO, instance role), with an
//! optional endpoint for AWS-compatible servers, bounded retries and connect timeouts; and the
//! conversion of SDK errors into messages that name the step.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_s3::error::{BuildError, DisplayErrorContext, ProvideErrorMetadata, SdkError};

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

pub(crate) struct Clients {
    pub region: String,
    pub sts: aws_sdk_sts::Client,
    pub s3: aws_sdk_s3::Client,
    pub cloudtrail: aws_sdk_cloudtrail::Client,
    pub athena: aws_sdk_athena::Client,
    pub glue: aws_sdk_glue::Client,
    pub iam: aws_sdk_iam::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
}

impl Clients {
    pub async fn connect(options: &ConnectOptions, region: Option<&str>) -> Result<Self> {
        let retry = RetryConfig::standard().with_max_attempts(options.max_attempts.max(1));
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(options.connect_timeout)
            .operation_attempt_timeout(options.attempt_timeout)
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(retry)
            .timeout_config(timeouts);
        if let Some(profile) = &options.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = region {
            loader = loader.region(Region::new(region.to_string()));
        }
        if let Some(endpoint) = &options.endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        let sdk = loader.load().await;
        let Some(region) = sdk.region().map(|r| r.to_string()) else {
            return Err(Error::Aws {
                step: "configuration".into(),
                message: "no AWS region: pass region (--region) or set AWS_REGION / a profile \
                          region"
                    .into(),
            });
        };
        super::config::check_region(&region)?;
        check_credentials(&sdk, options.profile.as_deref()).await?;
        let mut s3 = aws_sdk_s3::config::Builder::from(&sdk);
        if options.endpoint_url.is_some() {
            s3 = s3.force_path_style(true);
        }
        Ok(Clients {
            region,
            sts: aws_sdk_sts::Client::new(&sdk),
            s3: aws_sdk_s3::Client::from_conf(s3.build()),
            cloudtrail: aws_sdk_cloudtrail::Client::new(&sdk),
            athena: aws_sdk_athena::Client::new(&sdk),
            glue: aws_sdk_glue::Client::new(&sdk),
            iam: aws_sdk_iam::Client::new(&sdk),
            logs: aws_sdk_cloudwatchlogs::Client::new(&sdk),
        })
    }

    /// The caller's account, from STS GetCallerIdentity.
    pub async fn account_id(&self) -> Result<String> {
        let answer = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| sdk_error("sts:GetCallerIdentity (who am I)", e))?;
        answer
            .account()
            .map(str::to_string)
            .ok_or_else(|| Error::Aws {
                step: "sts:GetCallerIdentity (who am I)".into(),
                message: "the answer names no account".into(),
            })
    }
}

async fn check_credentials(sdk: &aws_config::SdkConfig, profile: Option<&str>) -> Result<()> {
    use aws_sdk_s3::config::ProvideCredentials;
    let missing = |detail: String| Error::Aws {
        step: "credentials".into(),
        message: format!(
            "no AWS credentials found{}: {detail}. Set AWS_ACCESS_KEY_ID and \
             AWS_SECRET_ACCESS_KEY, pass --profile, run `aws sso login`, or use an instance role",
            profile
                .map(|p| format!(" for profile {p:?}"))
                .unwrap_or_default()
        ),
    };
    let Some(provider) = sdk.credentials_provider() else {
        return Err(missing("no credentials provider is configured".into()));
    };
    provider
        .provide_credentials()
        .await
        .map(|_| ())
        .map_err(|e| missing(DisplayErrorContext(&e).to_string()))
}

impl From<BuildError> for Error {
    fn from(err: BuildError) -> Self {
        Error::Aws {
            step: "building a request".into(),
            message: err.to_string(),
        }
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
    R: std::fmt::Debug,
{
    let message = match &err {
        SdkError::ServiceError(ctx) => {
            let code = ctx.err().code().unwrap_or("error");
            let text = ctx.err().message().unwrap_or("");
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
            DisplayErrorContext(&err)
        ),
        _ => DisplayErrorContext(&err).to_string(),
    };
    Error::Aws {
        step: step.to_string(),
        message,
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

/// Decodes `%XX` escapes (IAM returns policy documents URL-encoded).
pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(b) = hex {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses a JSON policy document that may be URL-encoded.
pub(crate) fn parse_policy(text: &str) -> Option<serde_json::Value> {
    serde_json::from_str(text)
        .ok()
        .or_else(|| serde_json::from_str(&percent_decode(text)).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_url_encoded_policies() {
        assert_eq!(percent_decode("%7B%22a%22%3A1%7D"), "{\"a\":1}");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(
            parse_policy("%7B%22a%22%3A1%7D"),
            Some(serde_json::json!({"a": 1}))
        );
    }
}
