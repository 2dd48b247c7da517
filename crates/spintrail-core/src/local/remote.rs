//! The table of a single `s3://bucket/prefix/` source: a compacted copy (the prefix holds
//! [`MANIFEST`]) is read as Parquet through DataFusion's listing table over [`S3Store`], with the
//! same columns, partition pruning and `eventtime` row-group pruning as a local compacted
//! folder; any other prefix is read as CloudTrail JSON logs ([`CloudTrailTable`]), unchanged.
//!
//! Which one is decided at the first scan, with one HeadObject of the manifest: a session is
//! created without any AWS call (as for the JSON logs), so credentials, a missing bucket or an
//! unreachable endpoint are reported by the first query, with the JSON source's messages.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::error::Result as DFResult;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;
use tokio::sync::OnceCell;

use crate::compact::MANIFEST;
use crate::error::{Error, Result};
use crate::local::parquet;
use crate::local::table::{CloudTrailTable, TableOptions};
use crate::s3::store::{LazyAccess, S3Store};
use crate::s3::S3Url;

/// The single `s3://` source of `sources`, when that is all there is.
pub fn single_s3_source(sources: &[String]) -> Option<&str> {
    match sources {
        [source] if source.starts_with("s3://") => Some(source.as_str()),
        _ => None,
    }
}

/// The JSON logs or the compacted copy under one S3 prefix.
#[derive(Debug)]
pub struct S3SourceTable {
    url: S3Url,
    store: Arc<S3Store>,
    json: Arc<CloudTrailTable>,
    parquet: Arc<dyn TableProvider>,
    /// Whether the prefix is a compacted copy, once known.
    compacted: OnceCell<bool>,
}

impl S3SourceTable {
    /// The table over `options.sources` (one `s3://` prefix); registers the bucket's object
    /// store in `ctx` for the Parquet reads.
    pub fn new(ctx: &SessionContext, options: TableOptions) -> Result<Self> {
        let [source] = options.sources.as_slice() else {
            return Err(Error::InvalidArgument(
                "an S3 compacted copy is read as the only source".into(),
            ));
        };
        let url = S3Url::parse(source)?;
        let layout = options.partitions;
        let access = LazyAccess::new(options.connect.clone(), options.region.clone());
        let bucket_url = format!("s3://{}", url.bucket);
        let bucket = ObjectStoreUrl::parse(&bucket_url).map_err(|e| Error::Source {
            path: bucket_url.clone(),
            reason: format!("not a bucket URL: {e}"),
        })?;
        let store = Arc::new(S3Store::new(&url.bucket, access.clone()));
        ctx.register_object_store(bucket.as_ref(), store.clone());
        let folder = S3Url::name(&url.bucket, &url.prefix);
        // Read only once the prefix holds compaction's manifest (see `compacted`).
        let parquet = parquet::table_at(ctx, &folder, &folder, layout, true)?;
        let json = Arc::new(CloudTrailTable::with_access(options, access.clone())?);
        Ok(S3SourceTable {
            url,
            store,
            json,
            parquet,
            compacted: OnceCell::new(),
        })
    }

    /// Whether the prefix holds the compaction manifest (see [`S3Store::has_object`]).
    async fn compacted(&self) -> Result<bool> {
        if self.url.object.is_some() {
            return Ok(false); // one log object, named
        }
        let name = S3Url::name(&self.url.bucket, &self.url.prefix);
        let key = format!("{}{MANIFEST}", self.url.prefix);
        self.compacted
            .get_or_try_init(|| self.store.has_object(&key, &name))
            .await
            .copied()
    }
}

#[async_trait]
impl TableProvider for S3SourceTable {
    fn schema(&self) -> SchemaRef {
        self.json.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DFResult<Vec<TableProviderFilterPushDown>> {
        // Decided before the first scan knows which table it is. Time filters on `eventtime`
        // are applied by the scan either way (the compacted table leaves out those its files'
        // statistics prove true, so `eventtime` may go unread); the others get the JSON table's
        // answer (its partition filters, inexact), which the Parquet table prunes with too, and
        // are applied to the rows above the scan.
        let json = self.json.supports_filters_pushdown(filters)?;
        Ok(parquet::time_filters_exact(filters, json))
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        if self.compacted().await? {
            return self.parquet.scan(state, projection, filters, limit).await;
        }
        let time_filters = parquet::time_filters(filters);
        if time_filters.is_empty() {
            return self.json.scan(state, projection, filters, limit).await;
        }
        // The JSON table prunes files with the time filters; their rows are filtered here.
        let (wanted, read) = parquet::with_eventtime(&self.schema(), projection)?;
        let plan = self.json.scan(state, Some(&read), filters, None).await?;
        parquet::filtered(state, plan, conjunction(time_filters), wanted.len())
    }
}
