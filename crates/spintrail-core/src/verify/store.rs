//! Where the logs and digests are: a local copy of a trail's bucket (any folder above `AWSLogs/`)
//! or the bucket itself (`s3://bucket/prefix`). Keys are `/`-separated paths below the folder or
//! the bucket; a digest's signature comes from the `x-amz-meta-signature` object metadata on S3
//! and from a sidecar file `<digest>.signature` (hex) in a local copy.

use std::path::PathBuf;

use crate::aws::{sdk_error, tolerate};
use crate::{Error, Result};

/// The sidecar beside a local digest that keeps its `x-amz-meta-signature` (hex).
pub const SIGNATURE_SUFFIX: &str = ".signature";

pub(crate) enum Store {
    Local {
        root: PathBuf,
    },
    S3 {
        client: aws_sdk_s3::Client,
        bucket: String,
        prefix: String,
    },
}

/// An object's contents and, for a digest, its signature.
pub(crate) struct Object {
    pub bytes: Vec<u8>,
    pub signature: Option<String>,
}

impl Store {
    /// How a key is shown in the report: a local path or an `s3://` URL.
    pub fn display(&self, key: &str) -> String {
        match self {
            Store::Local { root } => root.join(key).display().to_string(),
            Store::S3 { bucket, .. } => format!("s3://{bucket}/{key}"),
        }
    }

    pub fn bucket(&self) -> Option<&str> {
        match self {
            Store::Local { .. } => None,
            Store::S3 { bucket, .. } => Some(bucket),
        }
    }

    /// Every key under the store (sidecar signatures included, for a local copy).
    pub async fn list(&self) -> Result<Vec<String>> {
        match self {
            Store::Local { root } => {
                let root = root.clone();
                tokio::task::spawn_blocking(move || list_local(&root))
                    .await
                    .map_err(|e| Error::Engine(format!("listing failed: {e}")))?
            }
            Store::S3 {
                client,
                bucket,
                prefix,
            } => {
                let listing = crate::s3::list::objects(client, bucket, prefix, false, None, |e| {
                    sdk_error(
                        &format!("listing s3://{bucket}/{prefix} (ListObjectsV2)"),
                        e,
                    )
                })
                .await?;
                Ok(listing.objects.into_iter().map(|o| o.key).collect())
            }
        }
    }

    /// An object's bytes and signature; `None` when it does not exist.
    pub async fn read(&self, key: &str) -> Result<Option<Object>> {
        match self {
            Store::Local { root } => {
                let path = root.join(key);
                tokio::task::spawn_blocking(move || read_local(path))
                    .await
                    .map_err(|e| Error::Engine(format!("reading failed: {e}")))?
            }
            Store::S3 { client, bucket, .. } => {
                let step = format!("reading s3://{bucket}/{key} (GetObject)");
                let answer = client.get_object().bucket(bucket).key(key).send().await;
                let Some(answer) = tolerate("NoSuchKey", &step, answer)? else {
                    return Ok(None);
                };
                let signature = answer
                    .metadata()
                    .and_then(|m| m.get("signature"))
                    .map(|s| s.trim().to_string());
                let body = answer
                    .body
                    .collect()
                    .await
                    .map_err(|e| crate::aws::aws_error(step, e.to_string()))?;
                Ok(Some(Object {
                    bytes: body.into_bytes().to_vec(),
                    signature,
                }))
            }
        }
    }
}

pub(crate) fn list_local(root: &std::path::Path) -> Result<Vec<String>> {
    let mut keys = Vec::new();
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
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(rel) = path.strip_prefix(root) {
                let key: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                keys.push(key.join("/"));
            }
        }
    }
    keys.sort();
    Ok(keys)
}

fn read_local(path: PathBuf) -> Result<Option<Object>> {
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let mut sidecar = path.into_os_string();
    sidecar.push(SIGNATURE_SUFFIX);
    let sidecar = PathBuf::from(sidecar);
    let signature = match std::fs::read_to_string(&sidecar) {
        Ok(text) => Some(text.trim().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::io(&sidecar, e)),
    };
    Ok(Some(Object { bytes, signature }))
}
