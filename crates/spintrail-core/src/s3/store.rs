//! A read-only [`ObjectStore`] over one bucket through the project's S3 client ([`S3Access`]:
//! the profile, region, endpoint and retry policy of [`crate::aws`]), so that DataFusion's
//! listing table reads a compacted copy on S3 (Parquet footers and column chunks by ranged GET,
//! partitions by delimiter listings). Writing is not supported. Failures carry the project's
//! own error naming the `s3://` object, so the message the user sees says what to do.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::stream::{self, BoxStream, StreamExt};
use object_store::path::Path;
use object_store::{
    Attributes, CopyOptions, GetOptions, GetRange, GetResult, GetResultPayload, ListResult,
    MultipartUpload, ObjectMeta, ObjectStore, PutMultipartOptions, PutOptions, PutPayload,
    PutResult,
};
use tokio::sync::OnceCell;

use crate::aws::{self, ConnectOptions, DEFAULT_MAX_ATTEMPTS};
use crate::error::Error;
use crate::s3::list::{objects, Listed};
use crate::s3::{source_error, S3Access, S3Url};

/// The name object_store errors give the store.
const STORE: &str = "S3";

/// The S3 client of a session, made at its first use (connecting loads credentials, which a
/// session does not do until it reads): shared by the table and its object store.
#[derive(Debug)]
pub struct LazyAccess {
    connect: ConnectOptions,
    region: Option<String>,
    access: OnceCell<Arc<S3Access>>,
}

impl LazyAccess {
    pub fn new(connect: ConnectOptions, region: Option<String>) -> Arc<Self> {
        Arc::new(LazyAccess {
            connect,
            region,
            access: OnceCell::new(),
        })
    }

    /// The client; a failure to connect is a source error naming `name`.
    pub async fn get(&self, name: &str) -> crate::Result<Arc<S3Access>> {
        self.access
            .get_or_try_init(|| async {
                S3Access::connect(&self.connect, self.region.as_deref())
                    .await
                    .map_err(|e| source_error(name, e))
            })
            .await
            .cloned()
    }
}

/// The objects of one bucket, read-only.
#[derive(Debug)]
pub struct S3Store {
    bucket: String,
    access: Arc<LazyAccess>,
}

impl S3Store {
    pub fn new(bucket: impl Into<String>, access: Arc<LazyAccess>) -> Self {
        S3Store {
            bucket: bucket.into(),
            access,
        }
    }

    fn name(&self, key: &str) -> String {
        S3Url::name(&self.bucket, key)
    }

    /// The client of the bucket (in its region); a failure is a source error naming `key`.
    async fn client(&self, key: &str) -> crate::Result<aws_sdk_s3::Client> {
        self.client_for(&self.name(key)).await
    }

    /// The bucket's client, with `source` naming what is read in errors.
    async fn client_for(&self, source: &str) -> crate::Result<aws_sdk_s3::Client> {
        let access = self.access.get(source).await?;
        access
            .client(&self.bucket)
            .await
            .map_err(|e| source_error(source, e))
    }

    /// HeadObject of `key`, as the SDK answers it.
    async fn head_request(
        &self,
        client: &aws_sdk_s3::Client,
        key: &str,
    ) -> Result<
        aws_sdk_s3::operation::head_object::HeadObjectOutput,
        aws_sdk_s3::error::SdkError<
            aws_sdk_s3::operation::head_object::HeadObjectError,
            aws_sdk_s3::config::http::HttpResponse,
        >,
    > {
        client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
    }

    async fn head_object(&self, location: &Path) -> object_store::Result<ObjectMeta> {
        let key = location.as_ref();
        let client = self.client(key).await.map_err(generic)?;
        match self.head_request(&client, key).await {
            Ok(head) => Ok(ObjectMeta {
                location: location.clone(),
                last_modified: modified(head.last_modified()),
                size: head.content_length().unwrap_or(0).max(0) as u64,
                e_tag: head.e_tag().map(str::to_string),
                version: head.version_id().map(str::to_string),
            }),
            Err(err) if aws::status(&err) == Some(404) => Err(not_found(&self.name(key))),
            Err(err) => Err(self.failed("s3:HeadObject", key, err)),
        }
    }

    /// Whether `key` answers a HeadObject. Any answer but success (no such key or bucket, access
    /// denied) is `false`: the caller reads the prefix another way, whose listing
    /// then explains any problem. No answer at all (no credentials, no endpoint) is the error,
    /// named after `source`.
    pub async fn has_object(&self, key: &str, source: &str) -> crate::Result<bool> {
        let client = self.client_for(source).await?;
        match self.head_request(&client, key).await {
            Ok(_) => Ok(true),
            Err(err) if aws::status(&err).is_some() => Ok(false),
            Err(err) => Err(source_error(
                source,
                aws::sdk_error(&format!("s3:HeadObject {}", self.name(key)), err),
            )),
        }
    }

    /// An SDK failure about `key` as an object_store error holding the project's error.
    fn failed<E, R>(
        &self,
        step: &str,
        key: &str,
        err: aws_sdk_s3::error::SdkError<E, R>,
    ) -> object_store::Error
    where
        E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
        R: aws::HttpStatus + fmt::Debug + 'static,
    {
        let name = self.name(key);
        generic(source_error(
            &name,
            aws::sdk_error(&format!("{step} {name}"), err),
        ))
    }

    /// A listed object's metadata; `None` for a key that is no path (`a//b`, `./x`), which no
    /// table's file can be, and for a folder marker.
    fn meta(listed: Listed) -> Option<ObjectMeta> {
        if listed.key.ends_with('/') {
            return None;
        }
        let location = Path::parse(&listed.key).ok()?;
        Some(ObjectMeta {
            location,
            last_modified: listed.modified.unwrap_or_default(),
            size: listed.size,
            e_tag: (!listed.etag.is_empty()).then_some(listed.etag),
            version: None,
        })
    }

    async fn listing(
        &self,
        prefix: Option<&Path>,
        delimiter: bool,
    ) -> object_store::Result<crate::s3::list::Listing> {
        let prefix = folder(prefix);
        let client = self.client(&prefix).await.map_err(generic)?;
        let name = self.name(&prefix);
        objects(&client, &self.bucket, &prefix, delimiter, None, |e| {
            generic(source_error(&name, aws::sdk_error("listing", e)))
        })
        .await
    }
}

/// `prefix` as an S3 key prefix: a folder, ending in `/` (empty for the whole bucket).
fn folder(prefix: Option<&Path>) -> String {
    match prefix.map(|p| p.as_ref()).filter(|p| !p.is_empty()) {
        Some(p) => format!("{}/", p.trim_end_matches('/')),
        None => String::new(),
    }
}

/// The HTTP `Range` header of a ranged GET.
pub(crate) fn range_header(range: &GetRange) -> object_store::Result<String> {
    match range {
        GetRange::Bounded(r) if r.end > r.start => Ok(format!("bytes={}-{}", r.start, r.end - 1)),
        GetRange::Bounded(r) => Err(generic(Error::InvalidArgument(format!(
            "an empty byte range {}..{} was asked for",
            r.start, r.end
        )))),
        GetRange::Offset(start) => Ok(format!("bytes={start}-")),
        GetRange::Suffix(n) => Ok(format!("bytes=-{n}")),
    }
}

/// The byte range and the object size of a GET's answer: from its `Content-Range`
/// (`bytes a-b/size`) for a ranged GET, else the whole object of `length` bytes.
pub(crate) fn answered_range(
    content_range: Option<&str>,
    length: u64,
) -> Option<(Range<u64>, u64)> {
    let Some(text) = content_range else {
        return Some((0..length, length));
    };
    let (span, size) = text.trim().strip_prefix("bytes ")?.split_once('/')?;
    let (first, last) = span.split_once('-')?;
    let (first, last): (u64, u64) = (first.parse().ok()?, last.parse().ok()?);
    let size = if size == "*" {
        last + 1
    } else {
        size.parse().ok()?
    };
    (last >= first).then_some((first..last + 1, size))
}

fn modified(time: Option<&aws_sdk_s3::primitives::DateTime>) -> DateTime<Utc> {
    time.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
        .unwrap_or_default()
}

fn generic(err: Error) -> object_store::Error {
    object_store::Error::Generic {
        store: STORE,
        source: Box::new(err),
    }
}

fn not_found(name: &str) -> object_store::Error {
    object_store::Error::NotFound {
        path: name.to_string(),
        source: Box::new(Error::Source {
            path: name.to_string(),
            reason: "no such object (was the compacted copy changed while it was read? \
                     connect again)"
                .into(),
        }),
    }
}

fn read_only(what: &str) -> object_store::Error {
    object_store::Error::NotSupported {
        source: Box::new(Error::InvalidArgument(format!(
            "{what}: the S3 object store of the embedded engine only reads"
        ))),
    }
}

impl fmt::Display for S3Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "S3Store(s3://{})", self.bucket)
    }
}

#[async_trait]
impl ObjectStore for S3Store {
    async fn put_opts(
        &self,
        _location: &Path,
        _payload: PutPayload,
        _opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        Err(read_only("put"))
    }

    async fn put_multipart_opts(
        &self,
        _location: &Path,
        _opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        Err(read_only("multipart upload"))
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        if options.head {
            let meta = self.head_object(location).await?;
            return Ok(GetResult {
                payload: GetResultPayload::Stream(stream::empty().boxed()),
                range: 0..0,
                meta,
                attributes: Attributes::default(),
            });
        }
        let key = location.as_ref();
        let name = self.name(key);
        let client = self.client(key).await.map_err(generic)?;
        let range = options.range.as_ref().map(range_header).transpose()?;
        let mut failures = 0u32;
        loop {
            let answer = client
                .get_object()
                .bucket(&self.bucket)
                .key(key)
                .set_range(range.clone())
                .set_if_match(options.if_match.clone())
                .set_if_none_match(options.if_none_match.clone())
                .set_version_id(options.version.clone())
                .send()
                .await;
            let answer = match answer {
                Ok(answer) => answer,
                Err(err) if aws::status(&err) == Some(404) => return Err(not_found(&name)),
                Err(err) => return Err(self.failed("s3:GetObject", key, err)),
            };
            let length = answer.content_length().unwrap_or(0).max(0) as u64;
            let Some((span, size)) = answered_range(answer.content_range(), length) else {
                return Err(generic(Error::file(
                    &name,
                    format!(
                        "cannot read: S3 answered with an unexpected Content-Range {:?}",
                        answer.content_range()
                    ),
                )));
            };
            let meta = ObjectMeta {
                location: location.clone(),
                last_modified: modified(answer.last_modified()),
                size,
                e_tag: answer.e_tag().map(str::to_string),
                version: answer.version_id().map(str::to_string),
            };
            match answer.body.collect().await {
                Ok(body) => {
                    let bytes: Bytes = body.into_bytes();
                    // A body shorter than its range would be a cut-off download.
                    let span = span.start..span.start + bytes.len() as u64;
                    return Ok(GetResult {
                        payload: GetResultPayload::Stream(
                            stream::once(async move { Ok(bytes) }).boxed(),
                        ),
                        meta,
                        range: span,
                        attributes: Attributes::default(),
                    });
                }
                // A body cut off while streaming is fetched again with the shared backoff.
                Err(_) if failures + 1 < DEFAULT_MAX_ATTEMPTS => {
                    failures += 1;
                    aws::backoff(failures).await;
                }
                Err(e) => {
                    return Err(generic(Error::file(
                        &name,
                        format!(
                            "cannot read: the download was cut off {} times: {}",
                            failures + 1,
                            aws::error_chain(&e)
                        ),
                    )))
                }
            }
        }
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        locations.map(|_| Err(read_only("delete"))).boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let store = S3Store {
            bucket: self.bucket.clone(),
            access: self.access.clone(),
        };
        let prefix = prefix.cloned();
        stream::once(async move {
            let listing = store.listing(prefix.as_ref(), false).await?;
            let metas: Vec<object_store::Result<ObjectMeta>> = listing
                .objects
                .into_iter()
                .filter_map(S3Store::meta)
                .map(Ok)
                .collect();
            Ok::<_, object_store::Error>(stream::iter(metas))
        })
        .map(|page| match page {
            Ok(metas) => metas.boxed(),
            Err(e) => stream::once(async move { Err(e) }).boxed(),
        })
        .flatten()
        .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        let listing = self.listing(prefix, true).await?;
        let common_prefixes = listing
            .folders
            .iter()
            .filter_map(|f| Path::parse(f.trim_end_matches('/')).ok())
            .collect();
        let objects = listing
            .objects
            .into_iter()
            .filter_map(S3Store::meta)
            .collect();
        Ok(ListResult {
            common_prefixes,
            objects,
        })
    }

    async fn copy_opts(
        &self,
        _from: &Path,
        _to: &Path,
        _options: CopyOptions,
    ) -> object_store::Result<()> {
        Err(read_only("copy"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_map_to_http_range_headers() {
        assert_eq!(
            range_header(&GetRange::Bounded(10..20)).unwrap(),
            "bytes=10-19"
        );
        assert_eq!(range_header(&GetRange::Offset(7)).unwrap(), "bytes=7-");
        assert_eq!(range_header(&GetRange::Suffix(8)).unwrap(), "bytes=-8");
        assert!(range_header(&GetRange::Bounded(5..5)).is_err());
    }

    #[test]
    fn content_ranges_give_the_span_and_the_object_size() {
        assert_eq!(
            answered_range(Some("bytes 10-19/100"), 10),
            Some((10..20, 100))
        );
        assert_eq!(
            answered_range(Some("bytes 92-99/100"), 8),
            Some((92..100, 100))
        );
        assert_eq!(answered_range(None, 42), Some((0..42, 42)));
        assert_eq!(answered_range(Some("bytes 0-9/*"), 10), Some((0..10, 10)));
        assert_eq!(answered_range(Some("nonsense"), 10), None);
    }

    #[test]
    fn prefixes_are_folders() {
        assert_eq!(folder(None), "");
        assert_eq!(folder(Some(&Path::from("compacted"))), "compacted/");
        assert_eq!(
            folder(Some(&Path::parse("c/account=1").unwrap())),
            "c/account=1/"
        );
    }
}
