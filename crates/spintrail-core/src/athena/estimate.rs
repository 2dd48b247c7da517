//! Cost before running: the S3 objects an Athena query would scan, found without running it.
//!
//! Athena bills the bytes it reads. With partition projection it computes the partitions a query
//! touches from the table's `projection.*` properties and the query's predicates on partition
//! columns, expands `storage.location.template` into S3 prefixes and reads every object under
//! them. The estimate does the same: it reads the table from Glue (GetTable), plans the SQL with
//! the embedded engine's planner against a stand-in table that records the filters pushed down
//! to each scan, keeps those that look only at partition columns (as the embedded engine's own
//! pruning does, [`crate::local::table`]), evaluates them on every projected partition, and lists
//! the selected prefixes (ListObjectsV2), summing object sizes.
//!
//! Athena prunes on partition columns only: a filter on `eventtime` reads every projected day.
//! A table without projection is counted whole (everything under its LOCATION, an upper bound);
//! a table the estimate cannot read is named in the notes and makes the estimate incomplete.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex};

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use async_trait::async_trait;
use chrono::{Days, Months, NaiveDate, Utc};
use datafusion::catalog::{CatalogProvider, SchemaProvider, Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result as DFResult};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::{StreamExt, TryStreamExt};

use super::execution::call_error;
use super::object::parse_s3_url;
use super::{billed_bytes, AthenaOptions};
use crate::local::session::CATALOG;
use crate::local::table::{is_partition_filter, strip_qualifiers, time_bounds, PartitionFilters};
use crate::parameters;
use crate::schema::{record_schema, table_schema_for, PartitionLayout};
use crate::timestamp::DAY_MS;
use crate::{Error, Result};

/// The input format of CloudTrail tables (what `spintrail provision` and AWS's examples use).
const INPUT_FORMAT: &str = "com.amazon.emr.cloudtrail.CloudTrailInputFormat";
/// One TB as Athena prices it (2^40 bytes).
const TB: f64 = (1u64 << 40) as f64;
/// Projected partitions evaluated at most; beyond, the table is counted whole.
const MAX_PARTITIONS: usize = 2_000_000;
/// Selected partitions under one parent prefix from which the parent is listed once instead.
const LIST_PARENT_FROM: usize = 40;
/// ListObjectsV2 calls in flight.
const LIST_CONCURRENCY: usize = 16;

/// Limits a query must stay within to be started (checked before StartQueryExecution).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CostLimits {
    /// The most a query may cost, in US dollars (billed: 10 MB minimum, whole MB).
    pub max_cost_usd: Option<f64>,
    /// The most bytes a query may scan.
    pub max_bytes: Option<u64>,
}

impl CostLimits {
    pub fn is_empty(&self) -> bool {
        self.max_cost_usd.is_none() && self.max_bytes.is_none()
    }

    /// Fails on a negative or NaN cost limit.
    pub fn check(&self) -> Result<()> {
        if let Some(cost) = self.max_cost_usd {
            if cost.is_nan() || cost < 0.0 {
                return Err(Error::InvalidArgument(format!(
                    "max_cost must be a non-negative number of US dollars, not {cost}"
                )));
            }
        }
        Ok(())
    }
}

/// What an Athena query would scan and cost, found before it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    /// Objects Athena would read.
    pub objects: u64,
    /// Their bytes as stored (compressed): what Athena counts as data scanned.
    pub bytes: u64,
    /// What Athena bills for `bytes`: rounded up to a whole MB, at least 10 MB (0 for nothing).
    pub billed_bytes: u64,
    /// The cost of `billed_bytes` at `price_per_tb`.
    pub cost_usd: f64,
    /// The cost of `bytes` without the billing rounding and minimum.
    pub raw_cost_usd: f64,
    pub price_per_tb: f64,
    /// The tables estimated, `database.table`, once per scan (a self-join scans twice).
    pub tables: Vec<String>,
    /// Projected partitions the query's filters select, summed over the scans.
    pub partitions: u64,
    /// S3 prefixes listed (ListObjectsV2, each possibly several pages).
    pub prefixes_listed: u64,
    /// The S3 prefixes that hold what is counted (at most [`MAX_PREFIXES_KEPT`]).
    pub prefixes: Vec<String>,
    /// False when part of the query could not be estimated (see `notes`).
    pub complete: bool,
    /// True when some table was counted whole although the query may read less of it.
    pub upper_bound: bool,
    /// What to know: filters that do not prune on Athena, tables counted whole or not at all.
    pub notes: Vec<String>,
}

/// Prefixes kept in [`Estimate::prefixes`].
pub const MAX_PREFIXES_KEPT: usize = 1000;

/// Bytes as a short human figure (decimal units, as the other summaries).
pub fn human_bytes(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1e12 {
        format!("{:.2} TB", b / 1e12)
    } else if b >= 1e9 {
        format!("{:.2} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.2} MB", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.1} kB", b / 1e3)
    } else {
        format!("{bytes} B")
    }
}

impl Estimate {
    fn new(price_per_tb: f64) -> Self {
        Estimate {
            objects: 0,
            bytes: 0,
            billed_bytes: 0,
            cost_usd: 0.0,
            raw_cost_usd: 0.0,
            price_per_tb,
            tables: Vec::new(),
            partitions: 0,
            prefixes_listed: 0,
            prefixes: Vec::new(),
            complete: true,
            upper_bound: false,
            notes: Vec::new(),
        }
    }

    fn finish(&mut self) {
        self.billed_bytes = billed_bytes(self.bytes);
        self.cost_usd = self.billed_bytes as f64 / TB * self.price_per_tb;
        self.raw_cost_usd = self.bytes as f64 / TB * self.price_per_tb;
    }

    /// One line: objects, bytes, billed cost.
    pub fn headline(&self) -> String {
        format!(
            "{} objects, {} ({} bytes), ${:.6} billed at ${:.2}/TB",
            self.objects,
            human_bytes(self.bytes),
            self.bytes,
            self.cost_usd,
            self.price_per_tb
        )
    }
}

impl fmt::Display for Estimate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut tables: Vec<&str> = self.tables.iter().map(String::as_str).collect();
        tables.dedup();
        writeln!(
            f,
            "Athena would scan {} objects, {} ({} bytes){}",
            self.objects,
            human_bytes(self.bytes),
            self.bytes,
            if tables.is_empty() {
                String::new()
            } else {
                format!(" of {}", tables.join(", "))
            }
        )?;
        let minimum = if self.bytes > 0 && self.billed_bytes > self.bytes.div_ceil(1 << 20) << 20 {
            ", Athena's 10 MB minimum"
        } else {
            ""
        };
        writeln!(
            f,
            "billed {} bytes{minimum}: ${:.6} at ${:.2}/TB (unrounded ${:.6})",
            self.billed_bytes, self.cost_usd, self.price_per_tb, self.raw_cost_usd
        )?;
        write!(
            f,
            "{} partitions selected, {} S3 prefixes listed",
            self.partitions, self.prefixes_listed
        )?;
        if !self.complete {
            write!(f, "\nincomplete: part of the query could not be estimated")?;
        } else if self.upper_bound {
            write!(f, "\nan upper bound: some table was counted whole")?;
        }
        for note in &self.notes {
            write!(f, "\nnote: {note}")?;
        }
        Ok(())
    }
}

/// A table as Glue describes it.
#[derive(Debug)]
struct GlueTable {
    /// `database.table`.
    name: String,
    location: Option<String>,
    parameters: BTreeMap<String, String>,
    partition_keys: Vec<String>,
    layout: Option<PartitionLayout>,
    cloudtrail: bool,
}

impl GlueTable {
    fn from_glue(database: &str, table: &aws_sdk_glue::types::Table) -> (Self, SchemaRef) {
        let parameters: BTreeMap<String, String> = table
            .parameters()
            .map(|p| p.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let sd = table.storage_descriptor();
        let columns: Vec<(String, String)> = sd
            .map(|s| {
                s.columns()
                    .iter()
                    .map(|c| {
                        (
                            c.name().to_lowercase(),
                            c.r#type().unwrap_or("string").to_lowercase(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let keys: Vec<(String, String)> = table
            .partition_keys()
            .iter()
            .map(|c| {
                (
                    c.name().to_lowercase(),
                    c.r#type().unwrap_or("string").to_lowercase(),
                )
            })
            .collect();
        let key_names: Vec<&str> = keys.iter().map(|(n, _)| n.as_str()).collect();
        let layout = PartitionLayout::ALL
            .into_iter()
            .find(|l| l.columns() == key_names.as_slice());
        let cloudtrail = sd.and_then(|s| s.input_format()) == Some(INPUT_FORMAT)
            || parameters.get("classification").map(String::as_str) == Some("cloudtrail")
            || (columns.iter().any(|(n, _)| n == "eventtime")
                && columns.iter().any(|(n, _)| n == "useridentity"));
        let schema = match (cloudtrail, layout) {
            (true, Some(layout)) => table_schema_for(layout),
            (true, None) => {
                let mut fields: Vec<Field> = record_schema()
                    .fields()
                    .iter()
                    .map(|f| f.as_ref().clone())
                    .collect();
                fields.extend(keys.iter().map(|(n, t)| Field::new(n, arrow_type(t), true)));
                Arc::new(Schema::new(fields))
            }
            (false, _) => Arc::new(Schema::new(
                columns
                    .iter()
                    .chain(&keys)
                    .map(|(n, t)| Field::new(n, arrow_type(t), true))
                    .collect::<Vec<_>>(),
            )),
        };
        let glue = GlueTable {
            name: format!("{database}.{}", table.name().to_lowercase()),
            location: sd.and_then(|s| s.location()).map(str::to_string),
            parameters,
            partition_keys: keys.into_iter().map(|(n, _)| n).collect(),
            // A layout's pruning is the embedded engine's: only for CloudTrail tables.
            layout: layout.filter(|_| cloudtrail),
            cloudtrail,
        };
        (glue, schema)
    }

    fn projected(&self) -> bool {
        self.parameters
            .get("projection.enabled")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    fn projection(&self, key: &str, setting: &str) -> Option<&str> {
        self.parameters
            .get(&format!("projection.{key}.{setting}"))
            .map(|v| v.trim())
    }
}

/// The Arrow type of a Hive column type, for planning only: nested types become text (their
/// fields cannot be addressed, and such a query is then estimated without its filters).
fn arrow_type(hive: &str) -> DataType {
    let base = hive.split('(').next().unwrap_or(hive).trim();
    match base {
        "boolean" => DataType::Boolean,
        "tinyint" => DataType::Int8,
        "smallint" => DataType::Int16,
        "int" | "integer" => DataType::Int32,
        "bigint" => DataType::Int64,
        "float" | "real" => DataType::Float32,
        "double" => DataType::Float64,
        "date" => DataType::Date32,
        "timestamp" => DataType::Timestamp(TimeUnit::Millisecond, None),
        "decimal" => {
            let inner = hive
                .split_once('(')
                .and_then(|(_, r)| r.strip_suffix(')'))
                .unwrap_or("10,0");
            let mut parts = inner.split(',').map(|p| p.trim().parse::<i64>().ok());
            match (parts.next().flatten(), parts.next().flatten()) {
                (Some(p), Some(s)) if (1..=38).contains(&p) && (0..=p).contains(&s) => {
                    DataType::Decimal128(p as u8, s as i8)
                }
                (Some(p), None) if (1..=38).contains(&p) => DataType::Decimal128(p as u8, 0),
                _ => DataType::Decimal128(10, 0),
            }
        }
        _ => DataType::Utf8,
    }
}

/// One scan of a table in the planned query, with the filters pushed down to it.
#[derive(Debug)]
struct Scan {
    table: Arc<GlueTable>,
    filters: Vec<Expr>,
}

/// What planning found: every table resolved, every scan with its filters.
#[derive(Debug, Default)]
struct Found {
    tables: Vec<Arc<GlueTable>>,
    scans: Vec<Scan>,
    providers: HashMap<String, Arc<dyn TableProvider>>,
}

type Shared = Arc<Mutex<Found>>;

fn locked(shared: &Shared) -> DFResult<std::sync::MutexGuard<'_, Found>> {
    shared
        .lock()
        .map_err(|_| DataFusionError::Internal("estimate state lock poisoned".into()))
}

/// A stand-in for a Glue table: the table's columns, and a scan that only records its filters.
#[derive(Debug)]
struct Recorder {
    table: Arc<GlueTable>,
    schema: SchemaRef,
    shared: Shared,
}

#[async_trait]
impl TableProvider for Recorder {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DFResult<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|f| match self.table.layout {
                Some(layout) if is_partition_filter(f, layout) || time_bounds(f).is_some() => {
                    TableProviderFilterPushDown::Inexact
                }
                _ => TableProviderFilterPushDown::Unsupported,
            })
            .collect())
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        _limit: Option<usize>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        locked(&self.shared)?.scans.push(Scan {
            table: self.table.clone(),
            filters: filters.to_vec(),
        });
        let schema = match projection {
            Some(p) => Arc::new(self.schema.project(p)?),
            None => self.schema.clone(),
        };
        Ok(Arc::new(EmptyExec::new(schema)))
    }
}

/// The Glue Data Catalog as DataFusion's catalog: any database, tables read on demand.
#[derive(Debug)]
struct GlueCatalog {
    glue: aws_sdk_glue::Client,
    shared: Shared,
}

impl CatalogProvider for GlueCatalog {
    fn schema_names(&self) -> Vec<String> {
        Vec::new()
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        Some(Arc::new(GlueDatabase {
            glue: self.glue.clone(),
            database: name.to_string(),
            shared: self.shared.clone(),
        }))
    }
}

#[derive(Debug)]
struct GlueDatabase {
    glue: aws_sdk_glue::Client,
    database: String,
    shared: Shared,
}

#[async_trait]
impl SchemaProvider for GlueDatabase {
    fn table_names(&self) -> Vec<String> {
        Vec::new()
    }

    async fn table(&self, name: &str) -> DFResult<Option<Arc<dyn TableProvider>>> {
        let full = format!("{}.{name}", self.database);
        if let Some(found) = locked(&self.shared)?.providers.get(&full) {
            return Ok(Some(found.clone()));
        }
        let answer = self
            .glue
            .get_table()
            .database_name(&self.database)
            .name(name)
            .send()
            .await;
        let table = match answer {
            Ok(out) => match out.table() {
                Some(t) => t.clone(),
                None => return Ok(None),
            },
            Err(e) if crate::aws::code(&e).as_deref() == Some("EntityNotFoundException") => {
                return Ok(None)
            }
            Err(e) => {
                let err = call_error(&format!("glue:GetTable {full}"), None, e);
                return Err(DataFusionError::External(Box::new(err)));
            }
        };
        let (glue, schema) = GlueTable::from_glue(&self.database, &table);
        let glue = Arc::new(glue);
        let provider: Arc<dyn TableProvider> = Arc::new(Recorder {
            table: glue.clone(),
            schema,
            shared: self.shared.clone(),
        });
        let mut found = locked(&self.shared)?;
        found.tables.push(glue);
        found.providers.insert(full, provider.clone());
        Ok(Some(provider))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.shared.lock().is_ok_and(|f| {
            f.providers
                .contains_key(&format!("{}.{name}", self.database))
        })
    }
}

/// What a statement is, for the cost guard.
pub(super) enum Statement {
    /// A query whose scans can be estimated (the text to estimate).
    Query(String),
    /// A statement that reads no table data (DDL, SHOW, DESCRIBE, EXPLAIN).
    NoScan,
    /// A statement that reads data the estimate does not follow (INSERT, CTAS, UNLOAD, ...).
    Unknown(String),
}

pub(super) fn classify(sql: &str) -> Statement {
    let words = parameters::lex(sql).top_level_words;
    match words.first().map(String::as_str) {
        None | Some("SELECT") | Some("WITH") | Some("VALUES") | Some("TABLE") => {
            Statement::Query(sql.to_string())
        }
        Some("EXPLAIN") => {
            if words.get(1).map(String::as_str) == Some("ANALYZE") {
                // EXPLAIN ANALYZE runs the query.
                let upper = sql.to_uppercase();
                match upper.find("ANALYZE") {
                    Some(at) => classify(&sql[at + "ANALYZE".len()..]),
                    None => Statement::Unknown("EXPLAIN ANALYZE".into()),
                }
            } else {
                Statement::NoScan
            }
        }
        Some("SHOW") | Some("DESCRIBE") | Some("DESC") | Some("DROP") | Some("ALTER")
        | Some("USE") | Some("MSCK") => Statement::NoScan,
        Some("CREATE") => {
            let ctas = words.get(1).map(String::as_str) == Some("TABLE")
                && words.iter().any(|w| w == "AS");
            if ctas {
                Statement::Unknown("CREATE TABLE AS".into())
            } else {
                Statement::NoScan
            }
        }
        Some(other) => Statement::Unknown(other.to_string()),
    }
}

/// The estimate of a query (its parameters already bound).
pub(super) async fn estimate(
    glue: &aws_sdk_glue::Client,
    s3: &aws_sdk_s3::Client,
    options: &AthenaOptions,
    sql: &str,
) -> Result<Estimate> {
    let mut out = Estimate::new(options.price_per_tb);
    let sql = match classify(sql) {
        Statement::Query(sql) => sql,
        Statement::NoScan => {
            out.notes
                .push("the statement reads no table data (DDL, SHOW, DESCRIBE, EXPLAIN)".into());
            out.finish();
            return Ok(out);
        }
        Statement::Unknown(kind) => {
            return Err(Error::InvalidArgument(format!(
                "estimate covers queries (SELECT, WITH, VALUES), not {kind} statements: \
                 estimate the SELECT inside it"
            )))
        }
    };
    if !options.catalog.eq_ignore_ascii_case("AwsDataCatalog") {
        out.complete = false;
        out.notes.push(format!(
            "catalog {:?} is not the Glue Data Catalog (AwsDataCatalog): its tables cannot \
             be read to estimate",
            options.catalog
        ));
        out.finish();
        return Ok(out);
    }
    let shared: Shared = Arc::default();
    let ctx = planning_context(glue, &options.database, shared.clone())?;
    let planned = match crate::local::sql::plan_statement(&ctx, &sql).await {
        Ok(planned) => ctx
            .state()
            .create_physical_plan(&planned.plan)
            .await
            .map(|_| ())
            .map_err(Error::from),
        Err(e) => Err(e),
    };
    let mut found = std::mem::take(&mut *shared.lock().map_err(|_| poisoned())?);
    if let Err(err) = planned {
        if matches!(err, Error::Athena { .. }) {
            return Err(err);
        }
        // A query naming a table that does not exist fails on Athena too; one the planner
        // cannot read otherwise still reads the tables it names: counted whole.
        if found.tables.is_empty() || err.to_string().contains("not found") {
            return Err(err);
        }
        out.upper_bound = true;
        out.notes.push(format!(
            "the embedded engine's planner could not read the query ({err}): {} counted \
             without filters",
            found
                .tables
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        found.scans = found
            .tables
            .iter()
            .map(|t| Scan {
                table: t.clone(),
                filters: Vec::new(),
            })
            .collect();
    }
    let state = ctx.state();
    let mut lister = Lister {
        s3,
        cache: HashMap::new(),
    };
    let mut kept_prefixes: Vec<String> = Vec::new();
    for scan in &found.scans {
        out.tables.push(scan.table.name.clone());
        let plan = plan_scan(&state, scan, &mut out)?;
        let counted = lister.count(&plan).await?;
        out.objects += counted.objects;
        out.bytes += counted.bytes;
        for p in &plan.lists {
            if kept_prefixes.len() < MAX_PREFIXES_KEPT {
                kept_prefixes.push(format!("s3://{}/{}", p.bucket, p.prefix));
            }
        }
    }
    out.prefixes_listed = lister.cache.len() as u64;
    kept_prefixes.sort();
    kept_prefixes.dedup();
    out.prefixes = kept_prefixes;
    if found.scans.is_empty() {
        out.notes
            .push("the query reads no table: Athena scans nothing".into());
    }
    out.finish();
    Ok(out)
}

fn poisoned() -> Error {
    Error::Engine("estimate state lock poisoned".into())
}

/// A DataFusion context with Trino's dialect whose catalog is Glue's.
fn planning_context(
    glue: &aws_sdk_glue::Client,
    database: &str,
    shared: Shared,
) -> Result<SessionContext> {
    let mut config = SessionConfig::new()
        .with_default_catalog_and_schema(CATALOG, database.to_lowercase())
        .with_create_default_catalog_and_schema(false)
        .with_information_schema(false);
    config.options_mut().execution.time_zone = Some("+00:00".into());
    crate::local::sql::rules::apply_trino_options(&mut config);
    let ctx = SessionContext::new_with_config(config);
    crate::local::sql::register_trino_functions(&ctx)?;
    ctx.register_catalog(
        CATALOG,
        Arc::new(GlueCatalog {
            glue: glue.clone(),
            shared,
        }),
    );
    Ok(ctx)
}

/// One ListObjectsV2 prefix, and which keys under it count (`None`: all).
#[derive(Debug, Clone)]
struct ListJob {
    bucket: String,
    prefix: String,
    /// Partition prefixes (full keys ending in `/`) a key must be under to count.
    keep: Option<Arc<HashSet<String>>>,
}

/// What to list for one scan.
#[derive(Debug, Default)]
struct ScanPlan {
    lists: Vec<ListJob>,
}

#[derive(Debug, Default)]
struct Counted {
    objects: u64,
    bytes: u64,
}

/// A listed prefix: `(bucket, prefix)`.
type Place = (String, String);
/// The objects under a prefix: `(key, size)`.
type Objects = Vec<(String, u64)>;

struct Lister<'a> {
    s3: &'a aws_sdk_s3::Client,
    cache: HashMap<Place, Arc<Objects>>,
}

impl Lister<'_> {
    async fn count(&mut self, plan: &ScanPlan) -> Result<Counted> {
        let missing: Vec<Place> = plan
            .lists
            .iter()
            .map(|j| (j.bucket.clone(), j.prefix.clone()))
            .filter(|k| !self.cache.contains_key(k))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let s3 = self.s3;
        let listed: Vec<(Place, Objects)> = futures::stream::iter(missing)
            .map(|(bucket, prefix)| async move {
                let objects = list_prefix(s3, &bucket, &prefix).await?;
                Ok::<_, Error>(((bucket, prefix), objects))
            })
            .buffer_unordered(LIST_CONCURRENCY)
            .try_collect()
            .await?;
        for (k, v) in listed {
            self.cache.insert(k, Arc::new(v));
        }
        let mut counted = Counted::default();
        for job in &plan.lists {
            let Some(objects) = self.cache.get(&(job.bucket.clone(), job.prefix.clone())) else {
                continue;
            };
            for (key, size) in objects.iter() {
                let wanted = match &job.keep {
                    None => true,
                    Some(keep) => key
                        .match_indices('/')
                        .any(|(at, _)| keep.contains(&key[..=at])),
                };
                if wanted {
                    counted.objects += 1;
                    counted.bytes += size;
                }
            }
        }
        Ok(counted)
    }
}

/// Every data object under a prefix (recursively), as Athena reads a location: not folder
/// markers, empty objects, or hidden files (names starting with `_` or `.`).
async fn list_prefix(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<(String, u64)>> {
    let listing = crate::s3::list::objects(s3, bucket, prefix, false, None, |e| {
        call_error(
            &format!("s3:ListObjectsV2 s3://{bucket}/{prefix} (estimating the scan)"),
            None,
            e,
        )
    })
    .await?;
    let mut out = Vec::new();
    for object in listing.objects {
        let name = object.key.rsplit('/').next().unwrap_or(&object.key);
        let hidden = name.is_empty()
            || name.starts_with('_')
            || name.starts_with('.')
            || object.key.ends_with("$folder$");
        if object.size > 0 && !hidden {
            out.push((object.key, object.size));
        }
    }
    Ok(out)
}

/// A location with a trailing `/` (Athena reads a location as a folder).
fn folder(location: &str) -> String {
    if location.ends_with('/') {
        location.to_string()
    } else {
        format!("{location}/")
    }
}

/// What to list for a scan, with notes and partition counts added to `out`.
fn plan_scan(state: &dyn Session, scan: &Scan, out: &mut Estimate) -> Result<ScanPlan> {
    let table = &scan.table;
    let Some(location) = table.location.as_deref() else {
        out.complete = false;
        out.notes.push(format!(
            "{} has no LOCATION in Glue: not estimated",
            table.name
        ));
        return Ok(ScanPlan::default());
    };
    let whole = |out: &mut Estimate, why: String| -> Result<ScanPlan> {
        out.upper_bound = true;
        out.notes.push(why);
        let (bucket, prefix) = parse_s3_url(&folder(location))?;
        Ok(ScanPlan {
            lists: vec![ListJob {
                bucket,
                prefix,
                keep: None,
            }],
        })
    };
    if !table.cloudtrail {
        let (bucket, prefix) = parse_s3_url(&folder(location))?;
        out.notes.push(format!(
            "{} is not a CloudTrail table: every object under {location} counted (for a \
             columnar format such as Parquet Athena reads only the columns a query needs, so \
             this is an upper bound)",
            table.name
        ));
        if !table.partition_keys.is_empty() {
            out.upper_bound = true;
        }
        return Ok(ScanPlan {
            lists: vec![ListJob {
                bucket,
                prefix,
                keep: None,
            }],
        });
    }
    if table.partition_keys.is_empty() {
        let (bucket, prefix) = parse_s3_url(&folder(location))?;
        out.notes.push(format!(
            "{} has no partitions: Athena reads every object under {location} (digest files \
             included), whatever the filters",
            table.name
        ));
        return Ok(ScanPlan {
            lists: vec![ListJob {
                bucket,
                prefix,
                keep: None,
            }],
        });
    }
    if !table.projected() {
        return whole(
            out,
            format!(
                "{} has partitions without projection: the partitions registered in Glue are \
                 not consulted, every object under {location} counted",
                table.name
            ),
        );
    }
    let mut values: Vec<Vec<String>> = Vec::new();
    for key in &table.partition_keys {
        match projected_values(table, key) {
            Ok(v) => values.push(v),
            Err(why) => {
                return whole(
                    out,
                    format!(
                        "{}: partition {key} cannot be enumerated ({why}): every object under \
                         {location} counted",
                        table.name
                    ),
                )
            }
        }
    }
    let total = values
        .iter()
        .try_fold(1usize, |n, v| n.checked_mul(v.len()))
        .unwrap_or(usize::MAX);
    if total > MAX_PARTITIONS {
        return whole(
            out,
            format!(
                "{} projects {total} partitions, too many to evaluate: every object under \
                 {location} counted",
                table.name
            ),
        );
    }
    let rows = cartesian(&values);
    let selected = match table.layout {
        Some(layout) => {
            let filters: Vec<Expr> = scan
                .filters
                .iter()
                .filter(|f| is_partition_filter(f, layout))
                .map(strip_qualifiers)
                .collect::<DFResult<_>>()?;
            let timed = scan
                .filters
                .iter()
                .filter_map(time_bounds)
                .fold((i64::MIN, i64::MAX), |(lo, hi), (l, h)| {
                    (lo.max(l.unwrap_or(i64::MIN)), hi.min(h.unwrap_or(i64::MAX)))
                });
            if timed != (i64::MIN, i64::MAX) {
                out.notes.push(eventtime_note(&table.name, layout, timed));
            }
            select(state, &table.partition_keys, &rows, &filters)?
        }
        None => {
            out.upper_bound = true;
            out.notes.push(format!(
                "{}: partition columns ({}) are not one of spintrail's layouts, so filters \
                 were not evaluated: every projected partition counted",
                table.name,
                table.partition_keys.join(", ")
            ));
            (0..rows.len()).collect()
        }
    };
    out.partitions += selected.len() as u64;
    let template = table
        .parameters
        .get("storage.location.template")
        .cloned()
        .unwrap_or_else(|| {
            // Without a template Athena uses Hive's key=value folders under the location.
            let mut t = folder(location);
            for key in &table.partition_keys {
                t.push_str(&format!("{key}=${{{key}}}/"));
            }
            t
        });
    // Partitions under one parent prefix (the template up to its first non-enum column)
    // are listed one by one when few, or through the parent once when many.
    let enum_keys: Vec<&String> = table
        .partition_keys
        .iter()
        .filter(|k| table.projection(k, "type") == Some("enum"))
        .collect();
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for &row in &selected {
        let mut prefix = template.clone();
        let mut parent = template.clone();
        for (i, key) in table.partition_keys.iter().enumerate() {
            let var = format!("${{{key}}}");
            prefix = prefix.replace(&var, &rows[row][i]);
            if enum_keys.contains(&key) {
                parent = parent.replace(&var, &rows[row][i]);
            }
        }
        let parent = match parent.find("${") {
            Some(at) => parent[..at].to_string(),
            None => folder(&parent),
        };
        groups.entry(parent).or_default().push(folder(&prefix));
    }
    let mut lists = Vec::new();
    for (parent, prefixes) in groups {
        if prefixes.len() >= LIST_PARENT_FROM {
            let (bucket, prefix) = parse_s3_url(&parent)?;
            let keep: HashSet<String> = prefixes
                .iter()
                .filter_map(|p| parse_s3_url(p).ok().map(|(_, k)| k))
                .collect();
            lists.push(ListJob {
                bucket,
                prefix,
                keep: Some(Arc::new(keep)),
            });
        } else {
            for p in prefixes {
                let (bucket, prefix) = parse_s3_url(&p)?;
                lists.push(ListJob {
                    bucket,
                    prefix,
                    keep: None,
                });
            }
        }
    }
    Ok(ScanPlan { lists })
}

/// The note for `eventtime` bounds: Athena does not prune on them; the `day` filter that would.
fn eventtime_note(table: &str, layout: PartitionLayout, (low, high): (i64, i64)) -> String {
    let day = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .map(|t| t.format("%Y/%m/%d").to_string())
            .unwrap_or_default()
    };
    let column = match layout {
        PartitionLayout::Spintrail => "day",
        PartitionLayout::AwsProjection => "timestamp",
        PartitionLayout::AwsManual => "year/month/day",
    };
    let mut suggestion = Vec::new();
    if low != i64::MIN {
        suggestion.push(format!("{column} >= '{}'", day(low)));
    }
    if high != i64::MAX {
        // Files are delivered within minutes: the next day's folder holds the last events.
        suggestion.push(format!(
            "{column} <= '{}'",
            day(high.saturating_add(DAY_MS - 1))
        ));
    }
    format!(
        "{table}: the query bounds eventtime, but Athena prunes only on partition columns \
         ({}), so eventtime does not narrow what is scanned; add {} to read only those days \
         (events delivered later than that are then missed)",
        layout.columns().join(", "),
        suggestion.join(" AND ")
    )
}

/// Every combination of the partition columns' values, in key order.
fn cartesian(values: &[Vec<String>]) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = vec![Vec::new()];
    for column in values {
        let mut next = Vec::with_capacity(rows.len() * column.len());
        for row in &rows {
            for v in column {
                let mut r = row.clone();
                r.push(v.clone());
                next.push(r);
            }
        }
        rows = next;
    }
    rows
}

/// The rows (partitions) every filter keeps, evaluated as the embedded engine prunes.
fn select(
    state: &dyn Session,
    keys: &[String],
    rows: &[Vec<String>],
    filters: &[Expr],
) -> Result<Vec<usize>> {
    let mut keep = vec![true; rows.len()];
    if !filters.is_empty() && !rows.is_empty() {
        keep = PartitionFilters::new(state, keys, filters)?
            .keep(rows.len(), |row, column| Some(rows[row][column].as_str()))?;
    }
    Ok(keep
        .iter()
        .enumerate()
        .filter_map(|(i, k)| k.then_some(i))
        .collect())
}

/// The values partition projection gives a column, from its `projection.<key>.*` settings.
fn projected_values(table: &GlueTable, key: &str) -> std::result::Result<Vec<String>, String> {
    let kind = table
        .projection(key, "type")
        .ok_or("no projection type")?
        .to_lowercase();
    match kind.as_str() {
        "enum" => Ok(table
            .projection(key, "values")
            .ok_or("an enum without values")?
            .split(',')
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect()),
        "integer" => {
            let range = table.projection(key, "range").ok_or("no range")?;
            let (a, b) = range.split_once(',').ok_or("range is not \"low,high\"")?;
            let parse = |t: &str| t.trim().parse::<i64>().map_err(|e| format!("range: {e}"));
            let (a, b) = (parse(a)?, parse(b)?);
            let step = match table.projection(key, "interval") {
                Some(i) => i.parse::<i64>().map_err(|e| format!("interval: {e}"))?,
                None => 1,
            };
            if step < 1 || b < a || (b - a) / step > MAX_PARTITIONS as i64 {
                return Err(format!("range {range} with interval {step}"));
            }
            let digits = match table.projection(key, "digits") {
                Some(d) => d.parse::<usize>().map_err(|e| format!("digits: {e}"))?,
                None => 0,
            };
            Ok((0..=(b - a) / step)
                .map(|i| format!("{:0digits$}", a + i * step))
                .collect())
        }
        "date" => date_values(table, key),
        other => Err(format!(
            "projection type {other} (values given by the query) is not estimated"
        )),
    }
}

/// A Java date pattern (`yyyy/MM/dd`, `yyyy`, `yyyy-MM`...) as chrono's, for dates only.
fn chrono_format(java: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = java;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("yyyy") {
            out.push_str("%Y");
            rest = r;
        } else if let Some(r) = rest.strip_prefix("MM") {
            out.push_str("%m");
            rest = r;
        } else if let Some(r) = rest.strip_prefix("dd") {
            out.push_str("%d");
            rest = r;
        } else {
            let c = rest.chars().next()?;
            if c.is_ascii_alphabetic() || c == '\'' {
                return None;
            }
            if c == '%' {
                out.push_str("%%");
            } else {
                out.push(c);
            }
            rest = &rest[c.len_utf8()..];
        }
    }
    Some(out)
}

/// A date in a pattern that may lack the month or day (the first one is taken).
fn parse_date_in(text: &str, format: &str) -> Option<NaiveDate> {
    let (text, format) = match (format.contains("%m"), format.contains("%d")) {
        (true, true) => (text.to_string(), format.to_string()),
        (true, false) => (format!("{text}|01"), format!("{format}|%d")),
        (false, false) => (format!("{text}|01|01"), format!("{format}|%m|%d")),
        (false, true) => return None,
    };
    NaiveDate::parse_from_str(&text, &format).ok()
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Unit {
    Days,
    Months,
    Years,
}

fn step(date: NaiveDate, unit: Unit, n: i64) -> Option<NaiveDate> {
    let forward = n >= 0;
    let n = n.unsigned_abs();
    match (unit, forward) {
        (Unit::Days, true) => date.checked_add_days(Days::new(n)),
        (Unit::Days, false) => date.checked_sub_days(Days::new(n)),
        (Unit::Months, true) => date.checked_add_months(Months::new(u32::try_from(n).ok()?)),
        (Unit::Months, false) => date.checked_sub_months(Months::new(u32::try_from(n).ok()?)),
        (Unit::Years, true) => {
            date.checked_add_months(Months::new(u32::try_from(n.checked_mul(12)?).ok()?))
        }
        (Unit::Years, false) => {
            date.checked_sub_months(Months::new(u32::try_from(n.checked_mul(12)?).ok()?))
        }
    }
}

fn parse_unit(text: &str) -> std::result::Result<Unit, String> {
    match text.trim().to_uppercase().trim_end_matches('S') {
        "DAY" => Ok(Unit::Days),
        "WEEK" => Err("weeks are not estimated".into()),
        "MONTH" => Ok(Unit::Months),
        "YEAR" => Ok(Unit::Years),
        other => Err(format!("interval unit {other} is not estimated")),
    }
}

/// A range end: a date in the pattern, or `NOW`, `NOW-3DAYS`, `NOW+1MONTHS`.
fn range_end(text: &str, format: &str, today: NaiveDate) -> std::result::Result<NaiveDate, String> {
    let text = text.trim();
    let Some(rest) = text.strip_prefix("NOW") else {
        return parse_date_in(text, format)
            .ok_or_else(|| format!("{text:?} does not match the date format"));
    };
    if rest.is_empty() {
        return Ok(today);
    }
    let (sign, rest) = match rest.split_at(1) {
        ("+", r) => (1i64, r),
        ("-", r) => (-1, r),
        _ => return Err(format!("{text:?} is not NOW±<n><unit>")),
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let n: i64 = digits.parse().map_err(|_| format!("{text:?}: no number"))?;
    let unit = parse_unit(&rest[digits.len()..])?;
    step(today, unit, sign * n).ok_or_else(|| format!("{text:?} is out of range"))
}

fn date_values(table: &GlueTable, key: &str) -> std::result::Result<Vec<String>, String> {
    let java = table.projection(key, "format").ok_or("no format")?;
    let format = chrono_format(java).ok_or_else(|| {
        format!("date format {java:?} (only yyyy, MM, dd and separators are estimated)")
    })?;
    let range = table.projection(key, "range").ok_or("no range")?;
    let (a, b) = range.split_once(',').ok_or("range is not \"start,end\"")?;
    let today = Utc::now().date_naive();
    let start = range_end(a, &format, today)?;
    // Athena projects nothing after NOW: later prefixes cannot hold logs yet.
    let end = range_end(b, &format, today)?.min(today);
    let unit = match table.projection(key, "interval.unit") {
        Some(u) => parse_unit(u)?,
        None if format.contains("%d") => Unit::Days,
        None if format.contains("%m") => Unit::Months,
        None => Unit::Years,
    };
    let interval = match table.projection(key, "interval") {
        Some(i) => i.parse::<i64>().map_err(|e| format!("interval: {e}"))?,
        None => 1,
    };
    if interval < 1 {
        return Err(format!("interval {interval}"));
    }
    let mut out = Vec::new();
    let mut at = start;
    while at <= end {
        if out.len() > MAX_PARTITIONS {
            return Err("too many dates".into());
        }
        out.push(at.format(&format).to_string());
        at = match step(at, unit, interval) {
            Some(next) => next,
            None => break,
        };
    }
    Ok(out)
}

/// The refusal of a query above a limit, with the estimate and the ways out.
pub(super) fn over_limit(estimate: &Estimate, limits: &CostLimits) -> Option<Error> {
    let mut over = Vec::new();
    if let Some(max) = limits.max_cost_usd {
        if estimate.cost_usd > max {
            over.push(format!("max_cost ${max:.6}"));
        }
    }
    if let Some(max) = limits.max_bytes {
        if estimate.bytes > max {
            over.push(format!("max_bytes {max} ({})", human_bytes(max)));
        }
    }
    if over.is_empty() {
        return None;
    }
    let notes = if estimate.notes.is_empty() {
        String::new()
    } else {
        format!(" ({})", estimate.notes.join("; "))
    };
    Some(Error::CostLimit(format!(
        "query not started: Athena would scan {}, above {}{notes}. Narrow it with filters on \
         the partition columns (day, region, account; eventtime alone does not prune on \
         Athena), or raise the limit for this query (sql(..., max_cost=...), \
         --max-cost) if the cost is intended",
        estimate.headline(),
        over.join(" and ")
    )))
}

/// The refusal of a query whose cost cannot be checked.
pub(super) fn unknown_cost(what: &str, limits: &CostLimits) -> Error {
    let limit = match (limits.max_cost_usd, limits.max_bytes) {
        (Some(c), _) => format!("max_cost ${c:.6}"),
        (None, Some(b)) => format!("max_bytes {b}"),
        (None, None) => "a limit".into(),
    };
    Error::CostLimit(format!(
        "query not started: its scan cannot be estimated ({what}), so {limit} cannot be \
         checked; run it without the limit (sql(..., max_cost=math.inf), or a session without \
         max_cost / max_bytes) if you accept its cost"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(params: &[(&str, &str)], keys: &[&str]) -> GlueTable {
        GlueTable {
            name: "default.t".into(),
            location: Some("s3://b/AWSLogs/".into()),
            parameters: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            partition_keys: keys.iter().map(|k| k.to_string()).collect(),
            layout: None,
            cloudtrail: true,
        }
    }

    #[test]
    fn date_projection_enumerates_up_to_now() {
        let t = table(
            &[
                ("projection.day.type", "date"),
                ("projection.day.format", "yyyy/MM/dd"),
                ("projection.day.range", "2024/02/27,2024/03/02"),
            ],
            &["day"],
        );
        assert_eq!(
            projected_values(&t, "day").unwrap(),
            [
                "2024/02/27",
                "2024/02/28",
                "2024/02/29",
                "2024/03/01",
                "2024/03/02"
            ]
        );
        let now = table(
            &[
                ("projection.day.type", "date"),
                ("projection.day.format", "yyyy/MM/dd"),
                ("projection.day.range", "NOW-2DAYS,NOW+5DAYS"),
                ("projection.day.interval.unit", "DAYS"),
            ],
            &["day"],
        );
        assert_eq!(projected_values(&now, "day").unwrap().len(), 3);
        let years = table(
            &[
                ("projection.year.type", "date"),
                ("projection.year.format", "yyyy"),
                ("projection.year.range", "2020,2023"),
                ("projection.year.interval.unit", "YEARS"),
            ],
            &["year"],
        );
        assert_eq!(
            projected_values(&years, "year").unwrap(),
            ["2020", "2021", "2022", "2023"]
        );
    }

    #[test]
    fn integer_and_enum_projections() {
        let t = table(
            &[
                ("projection.month.type", "integer"),
                ("projection.month.range", "1,12"),
                ("projection.month.digits", "2"),
                ("projection.region.type", "enum"),
                ("projection.region.values", "eu-west-1, us-east-1"),
                ("projection.x.type", "injected"),
            ],
            &["month", "region"],
        );
        let months = projected_values(&t, "month").unwrap();
        assert_eq!(months.len(), 12);
        assert_eq!(months[0], "01");
        assert_eq!(months[11], "12");
        assert_eq!(
            projected_values(&t, "region").unwrap(),
            ["eu-west-1", "us-east-1"]
        );
        assert!(projected_values(&t, "x").unwrap_err().contains("injected"));
    }

    #[test]
    fn statements_are_classified_for_the_guard() {
        assert!(matches!(
            classify("SELECT 1"),
            Statement::Query(q) if q == "SELECT 1"
        ));
        assert!(matches!(
            classify("WITH a AS (SELECT 1) SELECT * FROM a"),
            Statement::Query(_)
        ));
        assert!(matches!(classify("SHOW TABLES"), Statement::NoScan));
        assert!(matches!(classify("EXPLAIN SELECT 1"), Statement::NoScan));
        assert!(matches!(
            classify("explain analyze SELECT 2"),
            Statement::Query(q) if q.trim() == "SELECT 2"
        ));
        assert!(matches!(
            classify("CREATE TABLE x AS SELECT 1"),
            Statement::Unknown(_)
        ));
        assert!(matches!(
            classify("CREATE EXTERNAL TABLE x (a string) LOCATION 's3://b/'"),
            Statement::NoScan
        ));
        assert!(matches!(
            classify("INSERT INTO x SELECT 1"),
            Statement::Unknown(_)
        ));
    }

    #[test]
    fn the_refusal_states_the_estimate_and_the_limit() {
        let mut e = Estimate::new(5.0);
        e.objects = 3;
        e.bytes = 50 << 20;
        e.finish();
        let limits = CostLimits {
            max_cost_usd: Some(0.0001),
            max_bytes: None,
        };
        let err = over_limit(&e, &limits).unwrap().to_string();
        assert!(err.contains("3 objects"), "{err}");
        assert!(err.contains("52428800 bytes"), "{err}");
        assert!(err.contains("max_cost $0.000100"), "{err}");
        assert!(over_limit(
            &e,
            &CostLimits {
                max_cost_usd: Some(1.0),
                max_bytes: Some(50 << 20)
            }
        )
        .is_none());
        let small = {
            let mut s = Estimate::new(5.0);
            s.bytes = 1000;
            s.finish();
            s
        };
        assert_eq!(small.billed_bytes, 10 << 20);
        assert!(small.to_string().contains("10 MB minimum"), "{small}");
    }
}
