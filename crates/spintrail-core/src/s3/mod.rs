//! CloudTrail logs where they live: an `s3://bucket/prefix/` source for the embedded engine and
//! for `sync`. Listing knows CloudTrail's key layout (single-account
//! `AWSLogs/<account>/CloudTrail/<region>/yyyy/MM/dd/` and organization
//! `AWSLogs/<org-id>/<account>/...`): accounts and regions are discovered with delimiter listings,
//! then only the day prefixes a [`Selection`] keeps are listed. Objects are fetched in parallel
//! with bounded memory (see [`fetch`]). The client comes from [`crate::aws`]: one profile, region,
//! endpoint and retry policy for every AWS path.

pub mod fetch;
pub mod list;
pub mod progress;
pub mod store;

use std::sync::Arc;

use crate::aws::{self, ConnectOptions};
use crate::error::{Error, Result};

pub use list::{list, Found, Selection, Walk};

/// A parsed `s3://bucket/prefix` source; the prefix is a folder (ends in `/`) or empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Url {
    pub bucket: String,
    pub prefix: String,
}

impl S3Url {
    pub fn parse(url: &str) -> Result<Self> {
        let bad = |reason: &str| Error::Source {
            path: url.to_string(),
            reason: format!("{reason}: write s3://bucket/prefix/"),
        };
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| bad("not an S3 URL"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !valid_bucket {
            return Err(bad(&format!("{bucket:?} is not an S3 bucket name")));
        }
        let mut prefix = prefix.trim_start_matches('/').to_string();
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        Ok(S3Url {
            bucket: bucket.to_string(),
            prefix,
        })
    }

    /// `s3://bucket/key`, the name of an object in every message.
    pub fn name(bucket: &str, key: &str) -> String {
        format!("s3://{bucket}/{key}")
    }
}

/// An AWS failure about an `s3://` source as a source error naming it (a query's or a sync's
/// source, not a provisioning step); other errors unchanged.
pub(crate) fn source_error(name: &str, err: Error) -> Error {
    match err {
        Error::Aws { message, .. } => Error::Source {
            path: name.to_string(),
            reason: message,
        },
        other => other,
    }
}

/// An S3 client with the shared AWS configuration.
#[derive(Debug, Clone)]
pub struct S3Access {
    pub(crate) client: aws_sdk_s3::Client,
}

impl S3Access {
    /// Loads the configuration (credential chain or `profile`, `region`, `endpoint_url` or
    /// `AWS_ENDPOINT_URL`); fails early and says what is missing.
    pub async fn connect(options: &ConnectOptions, region: Option<&str>) -> Result<Arc<Self>> {
        let (sdk, _) = aws::load(options, region).await?;
        Ok(Arc::new(S3Access {
            client: aws::s3_client(&sdk, options),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_into_bucket_and_folder_prefix() {
        let u = S3Url::parse("s3://my-bucket/logs").unwrap();
        assert_eq!(u.bucket, "my-bucket");
        assert_eq!(u.prefix, "logs/");
        assert_eq!(S3Url::parse("s3://my-bucket").unwrap().prefix, "");
        assert_eq!(S3Url::parse("s3://my-bucket/").unwrap().prefix, "");
        assert_eq!(S3Url::parse("s3://my-bucket/a/b/").unwrap().prefix, "a/b/");
        assert!(S3Url::parse("s3://").is_err());
        assert!(S3Url::parse("s3://Bad_Bucket/x").is_err());
    }
}
