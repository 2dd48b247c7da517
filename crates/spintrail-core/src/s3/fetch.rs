//! Objects: one GET with the retry policy of [`crate::aws`] (throttling and transient
//! errors), and a body cut off while streaming fetched again with the same backoff; and
//! [`prefetch`], objects fetched in parallel, in order, with a bounded number ahead of the reader.

use std::collections::HashMap;
use std::sync::Arc;

use futures::StreamExt;
use tokio::sync::mpsc;

use crate::aws::{self, DEFAULT_MAX_ATTEMPTS};
use crate::error::{Error, Result};
use crate::s3::progress::Progress;
use crate::s3::{S3Access, S3Url};

/// An object's bytes and its user metadata (`x-amz-meta-*`, without the prefix).
#[derive(Debug, Clone)]
pub struct Fetched {
    pub bytes: Vec<u8>,
    pub metadata: HashMap<String, String>,
    pub etag: String,
}

/// Fetches one object whole.
pub async fn get(access: &S3Access, bucket: &str, key: &str) -> Result<Fetched> {
    let name = S3Url::name(bucket, key);
    fetch(access, bucket, key, false)
        .await
        .map_err(|e| unreadable(&name, e))?
        .ok_or_else(|| Error::file(&name, "cannot read: no such object"))
}

/// Fetches one object whole, or `None` when there is no such key; a failure is an AWS error
/// naming the `s3:GetObject` step.
pub async fn get_if_exists(access: &S3Access, bucket: &str, key: &str) -> Result<Option<Fetched>> {
    fetch(access, bucket, key, true).await
}

/// One GET (a body cut off is fetched again with the shared backoff); with `missing_ok`, no
/// such key is `None`.
async fn fetch(
    access: &S3Access,
    bucket: &str,
    key: &str,
    missing_ok: bool,
) -> Result<Option<Fetched>> {
    let name = S3Url::name(bucket, key);
    let client = access.client(bucket).await?;
    let mut failures = 0u32;
    loop {
        let answer = match client.get_object().bucket(bucket).key(key).send().await {
            Ok(answer) => answer,
            Err(err) => {
                let missing = err.as_service_error().is_some_and(|e| e.is_no_such_key())
                    || aws::status(&err) == Some(404);
                if missing_ok && missing {
                    return Ok(None);
                }
                return Err(aws::sdk_error(&format!("s3:GetObject {name}"), err));
            }
        };
        let metadata = answer.metadata().cloned().unwrap_or_default();
        let etag = answer.e_tag().unwrap_or_default().to_string();
        match answer.body.collect().await {
            Ok(body) => {
                return Ok(Some(Fetched {
                    bytes: body.into_bytes().to_vec(),
                    metadata,
                    etag,
                }))
            }
            Err(e) if failures + 1 < DEFAULT_MAX_ATTEMPTS => {
                failures += 1;
                let _ = e;
                aws::backoff(failures).await;
            }
            Err(e) => {
                return Err(Error::file(
                    &name,
                    format!(
                        "cannot read: the download was cut off {} times: {}",
                        failures + 1,
                        aws::error_chain(&e)
                    ),
                ))
            }
        }
    }
}

/// Puts `bytes` under `key` (one PutObject: the object appears whole or not at all).
pub async fn put(access: &S3Access, bucket: &str, key: &str, bytes: Vec<u8>) -> Result<()> {
    access
        .client(bucket)
        .await?
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(bytes.into())
        .send()
        .await
        .map_err(|e| aws::sdk_error(&format!("s3:PutObject {}", S3Url::name(bucket, key)), e))?;
    Ok(())
}

/// Deletes the object `key` (S3 answers a missing key with success too).
pub async fn delete(access: &S3Access, bucket: &str, key: &str) -> Result<()> {
    access
        .client(bucket)
        .await?
        .delete_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| aws::sdk_error(&format!("s3:DeleteObject {}", S3Url::name(bucket, key)), e))?;
    Ok(())
}

/// An object that cannot be fetched, as a file that cannot be read.
fn unreadable(name: &str, err: Error) -> Error {
    match err {
        Error::Aws { message, .. } => Error::file(name, format!("cannot read: {message}")),
        other => other,
    }
}

/// Fetches `objects` (bucket, key) in parallel, `ahead` at most in flight or waiting, and hands
/// their bytes over in the given order; at most `ahead` + 1 objects' bytes are held besides the
/// one being read. Stops when the receiver is dropped.
pub fn prefetch(
    access: Arc<S3Access>,
    objects: Vec<(String, String)>,
    ahead: usize,
    progress: Option<Arc<Progress>>,
) -> mpsc::Receiver<Result<Vec<u8>>> {
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        // Each fetch is a task of its own, so downloads go on while the reader is busy and the
        // hand-over waits; `buffered` starts at most `ahead` of them.
        let mut fetches = futures::stream::iter(objects)
            .map(|(bucket, key)| {
                let access = access.clone();
                let progress = progress.clone();
                let name = S3Url::name(&bucket, &key);
                let task = tokio::spawn(async move {
                    let fetched = get(&access, &bucket, &key).await.map(|f| f.bytes);
                    if let (Some(p), Ok(bytes)) = (&progress, &fetched) {
                        p.done(bytes.len() as u64);
                    }
                    fetched
                });
                async move {
                    task.await.unwrap_or_else(|e| {
                        Err(Error::file(
                            &name,
                            format!("cannot read: the download failed: {e}"),
                        ))
                    })
                }
            })
            .buffered(ahead.max(1));
        while let Some(item) = fetches.next().await {
            let failed = item.is_err();
            if tx.send(item).await.is_err() || failed {
                return;
            }
        }
    });
    rx
}
