//! The Parquet format of a compacted copy's listing, with errors that name the file. DataFusion
//! reads every file's footer when it plans a scan (for the statistics the pruning and the time
//! proofs use), and its Parquet errors ("Invalid Parquet file. Corrupt footer") do not say which
//! of the copy's files is at fault; a copy can hold hundreds.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::{DataFusionError, Statistics};
use datafusion::datasource::file_format::file_compression_type::FileCompressionType;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::file_format::{FileFormat, FileMeta};
use datafusion::datasource::physical_plan::{FileScanConfig, FileSource};
use datafusion::datasource::table_schema::TableSchema;
use datafusion::error::Result as DFResult;
use datafusion::physical_expr::LexOrdering;
use datafusion::physical_plan::ExecutionPlan;
use object_store::{ObjectMeta, ObjectStore};

use crate::error::Error;

/// [`ParquetFormat`] whose errors about one file name it, as `root` (`/` for local files,
/// `s3://bucket/` for a bucket) followed by the object's path.
#[derive(Debug)]
pub struct NamedParquetFormat {
    inner: ParquetFormat,
    root: String,
}

impl NamedParquetFormat {
    pub fn new(inner: ParquetFormat, root: String) -> Self {
        NamedParquetFormat { inner, root }
    }

    /// `err` as an error of the file `object`, with what to do.
    fn of_file(&self, object: &ObjectMeta, err: DataFusionError) -> DataFusionError {
        let path = format!("{}{}", self.root, object.location);
        Error::File {
            path: path.into(),
            reason: format!(
                "not a readable Parquet file ({}); a compacted copy holds only the Parquet \
                 files `spintrail compact` writes: remove this one, or compact the logs into a \
                 new folder",
                err.message()
            ),
        }
        .into()
    }
}

#[async_trait]
impl FileFormat for NamedParquetFormat {
    fn get_ext(&self) -> String {
        self.inner.get_ext()
    }

    fn get_ext_with_compression(&self, compression: &FileCompressionType) -> DFResult<String> {
        self.inner.get_ext_with_compression(compression)
    }

    fn compression_type(&self) -> Option<FileCompressionType> {
        self.inner.compression_type()
    }

    async fn infer_schema(
        &self,
        state: &dyn Session,
        store: &Arc<dyn ObjectStore>,
        objects: &[ObjectMeta],
    ) -> DFResult<SchemaRef> {
        // The table's schema is given (the table contract); this is not called for it.
        self.inner.infer_schema(state, store, objects).await
    }

    async fn infer_stats(
        &self,
        state: &dyn Session,
        store: &Arc<dyn ObjectStore>,
        table_schema: SchemaRef,
        object: &ObjectMeta,
    ) -> DFResult<Statistics> {
        self.inner
            .infer_stats(state, store, table_schema, object)
            .await
            .map_err(|e| self.of_file(object, e))
    }

    async fn infer_ordering(
        &self,
        state: &dyn Session,
        store: &Arc<dyn ObjectStore>,
        table_schema: SchemaRef,
        object: &ObjectMeta,
    ) -> DFResult<Option<LexOrdering>> {
        self.inner
            .infer_ordering(state, store, table_schema, object)
            .await
            .map_err(|e| self.of_file(object, e))
    }

    async fn infer_stats_and_ordering(
        &self,
        state: &dyn Session,
        store: &Arc<dyn ObjectStore>,
        table_schema: SchemaRef,
        object: &ObjectMeta,
    ) -> DFResult<FileMeta> {
        self.inner
            .infer_stats_and_ordering(state, store, table_schema, object)
            .await
            .map_err(|e| self.of_file(object, e))
    }

    async fn create_physical_plan(
        &self,
        state: &dyn Session,
        conf: FileScanConfig,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        self.inner.create_physical_plan(state, conf).await
    }

    fn file_source(&self, table_schema: TableSchema) -> Arc<dyn FileSource> {
        self.inner.file_source(table_schema)
    }
}
