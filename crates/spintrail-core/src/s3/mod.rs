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

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_s3::config::Region;
use tokio::sync::OnceCell;

use crate::aws::{self, ConnectOptions};
use crate::error::{Error, Result};

pub use list::{list, Found, Selection, Walk};

/// A parsed `s3://bucket/prefix` source; the prefix is a folder (ends in `/`) or empty. A URL
/// naming one log object (`.json.gz` / `.json`, no trailing `/`) has it as `object`, and its
/// folder as the prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Url {
    pub bucket: String,
    pub prefix: String,
    pub object: Option<String>,
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
        let lower = prefix.to_ascii_lowercase();
        let object = (lower.ends_with(".json.gz") || lower.ends_with(".json")).then(|| {
            let key = prefix.clone();
            prefix.truncate(key.rfind('/').map_or(0, |slash| slash + 1));
            key
        });
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        Ok(S3Url {
            bucket: bucket.to_string(),
            prefix,
            object,
        })
    }

    /// The source's name in messages: `s3://bucket/prefix/`, or the object's.
    pub fn source(&self) -> String {
        S3Url::name(&self.bucket, self.object.as_deref().unwrap_or(&self.prefix))
    }

    /// Refuses a URL naming one object where a prefix is needed (`what` says for what).
    pub fn folder_only(&self, what: &str) -> Result<()> {
        match &self.object {
            Some(_) => Err(Error::Source {
                path: self.source(),
                reason: format!(
                    "names one object; {what} a prefix: write its folder, {}",
                    S3Url::name(&self.bucket, &self.prefix)
                ),
            }),
            None => Ok(()),
        }
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

/// The header S3 names a bucket's region in, on any answer about the bucket (also 301 and 403).
const BUCKET_REGION: &str = "x-amz-bucket-region";

/// An S3 client with the shared AWS configuration, signing for each bucket's own region.
#[derive(Debug)]
pub struct S3Access {
    client: aws_sdk_s3::Client,
    /// The client of each bucket asked for (see [`S3Access::client`]); a cell per bucket, so
    /// that requests sent at once ask for its region once.
    buckets: Mutex<HashMap<String, Arc<OnceCell<aws_sdk_s3::Client>>>>,
}

impl S3Access {
    /// Loads the configuration (credential chain or `profile`, `region`, `endpoint_url` or
    /// `AWS_ENDPOINT_URL`); fails early and says what is missing.
    pub async fn connect(options: &ConnectOptions, region: Option<&str>) -> Result<Arc<Self>> {
        let (sdk, _) = aws::load(options, region).await?;
        Ok(Arc::new(S3Access {
            client: aws::s3_client(&sdk, options),
            buckets: Mutex::default(),
        }))
    }

    /// The client for `bucket`, signing for the bucket's region. S3 refuses a request signed for
    /// another region (a 301 redirect or `AuthorizationHeaderMalformed`), which the AWS CLI
    /// follows; so does this: one HeadBucket per bucket reads the region S3 names in its answer,
    /// whatever the answer (a bucket in another region, or one the identity may not list). No
    /// answer at all (no endpoint) is the error, named after the bucket.
    pub(crate) async fn client(&self, bucket: &str) -> Result<aws_sdk_s3::Client> {
        let cell = {
            // A panic while the map was held leaves it whole (one insert): keep using it.
            let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
            buckets.entry(bucket.to_string()).or_default().clone()
        };
        cell.get_or_try_init(|| self.regional(bucket))
            .await
            .cloned()
    }

    async fn regional(&self, bucket: &str) -> Result<aws_sdk_s3::Client> {
        let region = match self.client.head_bucket().bucket(bucket).send().await {
            Ok(head) => head.bucket_region().map(str::to_string),
            Err(err) => match err.raw_response() {
                Some(raw) => raw.headers().get(BUCKET_REGION).map(str::to_string),
                None => {
                    let step = format!("s3:HeadBucket {}", S3Url::name(bucket, ""));
                    return Err(aws::sdk_error(&step, err));
                }
            },
        };
        let config = self.client.config();
        Ok(match region {
            Some(region) if config.region().map(|r| r.as_ref()) != Some(region.as_str()) => {
                let config = config.to_builder().region(Region::new(region)).build();
                aws_sdk_s3::Client::from_conf(config)
            }
            _ => self.client.clone(),
        })
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
        let one = S3Url::parse("s3://b-1/AWSLogs/1/CloudTrail/x.json.gz").unwrap();
        assert_eq!(one.prefix, "AWSLogs/1/CloudTrail/");
        assert_eq!(
            one.object.as_deref(),
            Some("AWSLogs/1/CloudTrail/x.json.gz")
        );
        assert_eq!(one.source(), "s3://b-1/AWSLogs/1/CloudTrail/x.json.gz");
        let top = S3Url::parse("s3://b-1/x.JSON").unwrap();
        assert_eq!(
            (top.prefix.as_str(), top.object.as_deref()),
            ("", Some("x.JSON"))
        );
        let err = top.folder_only("sync copies").unwrap_err().to_string();
        assert!(
            err.contains("names one object; sync copies a prefix"),
            "{err}"
        );
        assert!(S3Url::parse("s3://b-1/a.json/").unwrap().object.is_none());
        assert!(S3Url::parse("s3://").is_err());
        assert!(S3Url::parse("s3://Bad_Bucket/x").is_err());
    }
}
