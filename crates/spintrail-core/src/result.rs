//! What a query returns on any engine: its batches, and what is known about that one query
//! (scan statistics on the embedded engine; query id, bytes scanned, times, cost and fetch path
//! on Athena; query id, status and the scan statistics of Logs Insights on CloudWatch Logs). The
//! facts travel with the batches, so nothing has to be read back from a session-wide "last
//! query" slot that another query may have overwritten meanwhile.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{Schema, SchemaRef};

use crate::{Error, Result};

/// A file or record left out of a scan (with `OnError::Skip`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: PathBuf,
    /// The index in the file's `Records` array; `None` when the whole file was left out.
    pub record: Option<usize>,
    pub reason: String,
}

/// How many problems are kept with their details; the counts stay exact beyond it.
pub const MAX_PROBLEMS_KEPT: usize = 1000;

/// What a scan read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanStats {
    /// Log files found in the sources.
    pub files_listed: usize,
    /// Files not read because the filters excluded their partition.
    pub files_pruned: usize,
    /// Files read completely.
    pub files_read: usize,
    /// Files left out as unreadable (corrupt, not CloudTrail), with `on_error="skip"`.
    pub files_skipped: usize,
    /// Files left out by design: digest, Insights and other non-event folders.
    pub files_excluded: usize,
    /// Bytes of the files read, as stored (compressed).
    pub bytes_read: u64,
    /// Bytes of JSON after decompression.
    pub json_bytes: u64,
    /// Records found in the files read.
    pub records_read: u64,
    /// Records rejected as not valid CloudTrail, with `on_error="skip"`.
    pub records_rejected: u64,
    /// Rows handed to the query.
    pub rows: u64,
    /// Spill files the query's operators wrote to disk to stay within the memory limit.
    pub spill_files: u64,
    /// Bytes written to those spill files.
    pub spilled_bytes: u64,
    /// Times the query started over: a hash join's build side did not fit the memory limit, so
    /// it ran again with sort-merge joins (which spill). The other figures are the last run's.
    pub reruns: u64,
    /// Details of skipped files and rejected records (the first [`MAX_PROBLEMS_KEPT`]).
    pub problems: Vec<Problem>,
}

impl ScanStats {
    pub fn merge(&mut self, other: &ScanStats) {
        self.files_listed += other.files_listed;
        self.files_pruned += other.files_pruned;
        self.files_read += other.files_read;
        self.files_skipped += other.files_skipped;
        self.files_excluded += other.files_excluded;
        self.bytes_read += other.bytes_read;
        self.json_bytes += other.json_bytes;
        self.records_read += other.records_read;
        self.records_rejected += other.records_rejected;
        self.rows += other.rows;
        self.spill_files += other.spill_files;
        self.spilled_bytes += other.spilled_bytes;
        self.reruns += other.reruns;
        let room = MAX_PROBLEMS_KEPT.saturating_sub(self.problems.len());
        self.problems
            .extend(other.problems.iter().take(room).cloned());
    }

    /// The bytes Athena would bill for this scan: the stored (compressed) size of the files
    /// read, as Athena counts data scanned, rounded up to a MB with its 10 MB minimum.
    pub fn athena_billed_bytes(&self) -> u64 {
        crate::athena::billed_bytes(self.bytes_read)
    }

    /// What the same scan would cost on Athena at `price_per_tb` (US dollars per 2^40 bytes).
    pub fn athena_cost_usd(&self, price_per_tb: f64) -> f64 {
        self.athena_billed_bytes() as f64 / (1u64 << 40) as f64 * price_per_tb
    }

    pub(crate) fn add_problem(&mut self, problem: Problem) {
        if self.problems.len() < MAX_PROBLEMS_KEPT {
            self.problems.push(problem);
        }
    }
}

/// How a result travels from Athena to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetch {
    /// The CSV result object when it is at least the threshold, else pages.
    Auto,
    /// `GetQueryResults`, 1,000 rows per call.
    Pages,
    /// The CSV result object in S3, read with parallel ranged GETs.
    Csv,
    /// `UNLOAD ... WITH (format = 'PARQUET')`: typed results, including arrays, maps and rows.
    /// Refuses a query with a top-level ORDER BY (UNLOAD writes files in no order).
    Unload,
}

impl Fetch {
    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "auto" => Ok(Fetch::Auto),
            "pages" => Ok(Fetch::Pages),
            "csv" => Ok(Fetch::Csv),
            "unload" => Ok(Fetch::Unload),
            other => Err(Error::InvalidArgument(format!(
                "fetch must be \"auto\", \"pages\", \"csv\" or \"unload\", not {other:?}"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Fetch::Auto => "auto",
            Fetch::Pages => "pages",
            Fetch::Csv => "csv",
            Fetch::Unload => "unload",
        }
    }
}

/// What one query did and cost.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryInfo {
    pub query_id: String,
    pub state: String,
    /// DML, DDL or UTILITY.
    pub statement_type: Option<String>,
    /// The statement sent to Athena (an UNLOAD wrapper when fetch is `unload`).
    pub sql: String,
    pub workgroup: Option<String>,
    pub output_location: Option<String>,
    pub data_scanned_bytes: i64,
    pub engine_time_ms: i64,
    pub queue_time_ms: i64,
    pub total_time_ms: i64,
    pub reused_previous_result: bool,
    /// At the session's price per TB: bytes rounded up to a MB, at least 10 MB when anything
    /// was scanned (Athena's billing rule); 0 for reused results and statements that scan
    /// nothing.
    pub cost_usd: f64,
    /// How the result was fetched: pages, csv or unload.
    pub fetch: Fetch,
    /// What a user should know about how the result was fetched: why `auto` paged when it
    /// could not read the result object, that it ran the query again as UNLOAD (with the first
    /// run's id and cost), or that UNLOAD wrote no files.
    pub fetch_note: Option<String>,
    pub rows: u64,
}

/// What one Logs Insights query on CloudWatch Logs did.
#[derive(Debug, Clone, PartialEq)]
pub struct InsightsInfo {
    pub query_id: String,
    /// Logs Insights' status: Scheduled, Running, Complete, Failed, Cancelled, Timeout.
    pub status: String,
    /// The query text, as sent.
    pub query: String,
    pub log_groups: Vec<String>,
    /// The time range sent to StartQuery, in whole seconds since the epoch (both inclusive).
    pub start_time: i64,
    pub end_time: i64,
    /// Log events that matched the query (GetQueryResults' statistics).
    pub records_matched: u64,
    /// Log events scanned in the time range.
    pub records_scanned: u64,
    /// Bytes of log events scanned (what Logs Insights bills).
    pub bytes_scanned: u64,
    pub rows: u64,
}

/// What is known about one query, by engine.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryFacts {
    /// The embedded engine: what the scans read and rejected.
    Local(ScanStats),
    /// Athena: the query's id, statistics and cost.
    Athena(QueryInfo),
    /// Logs Insights on CloudWatch Logs: the query's id, status and statistics.
    CloudWatch(InsightsInfo),
}

impl QueryFacts {
    pub fn engine(&self) -> &'static str {
        match self {
            QueryFacts::Local(_) => "local",
            QueryFacts::Athena(_) => "athena",
            QueryFacts::CloudWatch(_) => "cloudwatch",
        }
    }

    /// The facts as Arrow schema metadata (`spintrail.*` keys), stamped on each result table.
    pub fn metadata(&self) -> HashMap<String, String> {
        let mut m = HashMap::new();
        let mut put = |k: &str, v: String| {
            m.insert(format!("spintrail.{k}"), v);
        };
        put("engine", self.engine().to_string());
        match self {
            QueryFacts::Local(s) => {
                put("files_read", s.files_read.to_string());
                put("files_pruned", s.files_pruned.to_string());
                put("bytes_read", s.bytes_read.to_string());
                put("json_bytes", s.json_bytes.to_string());
                put("records_read", s.records_read.to_string());
                put("records_rejected", s.records_rejected.to_string());
                put("spilled_bytes", s.spilled_bytes.to_string());
                put("reruns", s.reruns.to_string());
            }
            QueryFacts::Athena(i) => {
                put("query_id", i.query_id.clone());
                put("data_scanned_bytes", i.data_scanned_bytes.to_string());
                put("engine_time_ms", i.engine_time_ms.to_string());
                put("cost_usd", i.cost_usd.to_string());
                put("fetch", i.fetch.as_str().to_string());
            }
            QueryFacts::CloudWatch(i) => {
                put("query_id", i.query_id.clone());
                put("bytes_scanned", i.bytes_scanned.to_string());
                put("records_scanned", i.records_scanned.to_string());
                put("records_matched", i.records_matched.to_string());
            }
        }
        m
    }
}

/// A finished query: its batches and its facts.
#[derive(Debug, Clone)]
pub struct QueryResult {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    pub facts: QueryFacts,
}

impl QueryResult {
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }

    /// The scan statistics, on the embedded engine.
    pub fn stats(&self) -> Option<&ScanStats> {
        match &self.facts {
            QueryFacts::Local(s) => Some(s),
            _ => None,
        }
    }

    /// The query information, on Athena.
    pub fn info(&self) -> Option<&QueryInfo> {
        match &self.facts {
            QueryFacts::Athena(i) => Some(i),
            _ => None,
        }
    }

    /// The query information, on CloudWatch Logs.
    pub fn insights(&self) -> Option<&InsightsInfo> {
        match &self.facts {
            QueryFacts::CloudWatch(i) => Some(i),
            _ => None,
        }
    }

    /// The schema and batches with this query's facts in the schema metadata (kept metadata
    /// of the engine's own, e.g. none today, is preserved).
    pub fn stamped(&self) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        let mut metadata = self.schema.metadata().clone();
        metadata.extend(self.facts.metadata());
        let schema = Arc::new(Schema::new_with_metadata(
            self.schema.fields().clone(),
            metadata,
        ));
        let batches = self
            .batches
            .iter()
            .map(|b| b.clone().with_schema(schema.clone()))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::Engine(format!("stamping result metadata: {e}")))?;
        Ok((schema, batches))
    }
}
