//! The CloudTrail reader: one log file (`{"Records": [...]}`, gzip or plain) into Arrow record
//! batches of the table contract, in one pass with serde, without building a JSON tree.
//!
//! Columns a query does not need are skipped without decoding. Keys match column names
//! case-insensitively (as Athena's JSON SerDe does); a JSON object or array that lands in a string
//! column is kept as compact JSON text; numbers and booleans keep their JSON text.
//!
//! What makes a record invalid (rejected with a reason, never silently dropped):
//! - it is not a JSON object;
//! - `eventTime` is missing, not a string, or not a timestamp as CloudTrail writes it
//!   (`2024-07-30T21:31:21Z`; the rule is [`crate::timestamp`]'s `Form::EventTime`, the same parser
//!   `from_iso8601_timestamp` uses, so an admitted record never fails it);
//! - `eventSource` or `eventName` is missing or not a string;
//! - a field of struct or array type holds another JSON type (e.g. `userIdentity: "x"`).
//!
//! A file is all-or-nothing at the file level: a corrupt gzip, invalid JSON or a file that is not
//! CloudTrail yields no rows and an error naming the file.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions, StringArray};
use arrow::datatypes::{DataType, SchemaRef};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::{Error, Result};
use crate::local::builders::{find_name, ColumnBuilder, StructBuilder, TextBuilder};
use crate::local::fields_read::FieldsRead;
use crate::local::source::Partitions;
use crate::schema::{record_schema, table_schema_for, PartitionLayout};
use crate::timestamp::{parse_timestamp, Form};

mod fast;

/// One record that was rejected, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub index: usize,
    pub reason: String,
}

/// What decoding one file produced.
#[derive(Debug, Default)]
pub struct FileOutcome {
    pub batches: Vec<RecordBatch>,
    /// Records in the file's `Records` array.
    pub records: usize,
    /// Rows produced (records minus rejections).
    pub rows: usize,
    pub rejected: Vec<Rejection>,
    /// Uncompressed JSON bytes.
    pub json_bytes: usize,
}

/// Which columns to produce, in output order: indexes into the table schema of a
/// [`PartitionLayout`].
#[derive(Debug, Clone)]
pub struct Projection {
    columns: Vec<usize>,
    schema: SchemaRef,
    layout: PartitionLayout,
    /// Per output column: for a struct column, the fields to decode when not all of them (the
    /// others are left null, undecoded).
    fields: Vec<Option<BTreeSet<String>>>,
}

impl Projection {
    /// Columns of the default layout's table ([`crate::schema::table_schema`]).
    pub fn new(columns: Option<&Vec<usize>>) -> Result<Self> {
        Self::for_layout(columns, PartitionLayout::default())
    }

    /// Columns of the table with `layout`'s partition columns.
    pub fn for_layout(columns: Option<&Vec<usize>>, layout: PartitionLayout) -> Result<Self> {
        let table = table_schema_for(layout);
        let columns: Vec<usize> = match columns {
            Some(c) => c.clone(),
            None => (0..table.fields().len()).collect(),
        };
        let schema = Arc::new(table.project(&columns)?);
        Ok(Projection {
            fields: vec![None; columns.len()],
            columns,
            schema,
            layout,
        })
    }

    /// Decodes only the fields of struct columns that `read` lists (see [`FieldsRead`]).
    pub fn reading(mut self, read: &FieldsRead) -> Self {
        for (i, field) in self.schema.fields().iter().enumerate() {
            if let DataType::Struct(children) = field.data_type() {
                self.fields[i] = read
                    .of(field.name())
                    .filter(|wanted| children.iter().any(|c| !wanted.contains(c.name())))
                    .cloned();
            }
        }
        self
    }

    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The output columns' names, a struct column's decoded fields in braces when not all.
    pub fn describe(&self) -> String {
        self.schema
            .fields()
            .iter()
            .zip(&self.fields)
            .map(|(f, read)| match read {
                Some(read) => {
                    let read: Vec<&str> = read.iter().map(String::as_str).collect();
                    format!("{}{{{}}}", f.name(), read.join(", "))
                }
                None => f.name().clone(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Reads a file from disk (gunzipping `.gz`) and decodes it.
pub fn read_file(
    path: &Path,
    partitions: &Partitions,
    projection: &Projection,
    batch_size: usize,
    skip_bad_records: bool,
) -> Result<FileOutcome> {
    let raw = std::fs::read(path).map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
    let json = decompress(path, raw)?;
    let mut outcome = decode(
        &json,
        path,
        partitions,
        projection,
        batch_size,
        skip_bad_records,
    )?;
    outcome.json_bytes = json.len();
    Ok(outcome)
}

/// Gunzips when the bytes are gzip (by magic number, whatever the name says).
pub fn decompress(path: &Path, raw: Vec<u8>) -> Result<Vec<u8>> {
    let is_gzip = raw.len() >= 2 && raw[0] == 0x1f && raw[1] == 0x8b;
    if !is_gzip {
        if path.extension().is_some_and(|e| e == "gz") {
            return Err(Error::file(
                path,
                "not a gzip file although its name ends in .gz (corrupt or mislabelled)",
            ));
        }
        return Ok(raw);
    }
    if raw.len() < 18 {
        return Err(Error::file(
            path,
            "corrupt gzip: the file is truncated (shorter than a gzip header and trailer)",
        ));
    }
    // The gzip trailer holds the uncompressed size mod 2^32: decompress in one call with libdeflate.
    let tail = &raw[raw.len() - 4..];
    let size = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]) as usize;
    if size > 0 && size < raw.len().saturating_mul(1100) {
        let mut out = vec![0u8; size];
        let mut inflater = libdeflater::Decompressor::new();
        if let Ok(n) = inflater.gzip_decompress(&raw, &mut out) {
            if n == size {
                return Ok(out);
            }
        }
    }
    // Multi-member, huge or damaged: the streaming decoder handles the first two and words the third.
    let mut out = Vec::with_capacity(raw.len() * 8);
    flate2::read::MultiGzDecoder::new(raw.as_slice())
        .read_to_end(&mut out)
        .map_err(|e| {
            let what = if e.kind() == std::io::ErrorKind::UnexpectedEof {
                "the file is truncated".to_string()
            } else {
                e.to_string()
            };
            Error::file(path, format!("corrupt gzip: {what}"))
        })?;
    Ok(out)
}

/// Decodes the JSON text of one CloudTrail file: with the fast path ([`fast`]) when the file is
/// well-formed and every record valid, else with serde, which words every error and rejection.
pub fn decode(
    json: &[u8],
    path: &Path,
    partitions: &Partitions,
    projection: &Projection,
    batch_size: usize,
    skip_bad_records: bool,
) -> Result<FileOutcome> {
    if json.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::file(path, "empty file: not a CloudTrail log file"));
    }
    if let Some(outcome) = decode_fast(json, partitions, projection, batch_size) {
        return Ok(outcome);
    }
    decode_with_serde(
        json,
        path,
        partitions,
        projection,
        batch_size,
        skip_bad_records,
    )
}

/// The fast path alone: `None` when it leaves the file to the serde path.
pub(crate) fn decode_fast(
    json: &[u8],
    partitions: &Partitions,
    projection: &Projection,
    batch_size: usize,
) -> Option<FileOutcome> {
    let mut dec = Decoder::new(projection, partitions, batch_size.max(1), false);
    fast::decode(json, &mut dec).ok()?;
    Some(FileOutcome {
        batches: std::mem::take(&mut dec.batches),
        records: dec.records,
        rows: dec.total_rows,
        rejected: Vec::new(),
        json_bytes: json.len(),
    })
}

/// The serde path alone (after `decode`'s check for an empty file).
pub(crate) fn decode_with_serde(
    json: &[u8],
    path: &Path,
    partitions: &Partitions,
    projection: &Projection,
    batch_size: usize,
    skip_bad_records: bool,
) -> Result<FileOutcome> {
    let mut decoder = Decoder::new(projection, partitions, batch_size.max(1), skip_bad_records);
    let mut de = serde_json::Deserializer::from_slice(json);
    let parsed = de::Deserializer::deserialize_any(&mut de, FileVisitor { dec: &mut decoder })
        .and_then(|()| de.end());
    if let Some((index, reason)) = decoder.fatal.take() {
        return Err(Error::Record {
            path: path.to_path_buf(),
            index,
            reason,
        });
    }
    if let Err(e) = parsed {
        return Err(Error::file(path, describe_json_error(&e)));
    }
    if let Some(problem) = decoder.file_problem.take() {
        return Err(Error::file(path, problem));
    }
    if !decoder.saw_records {
        return Err(Error::file(
            path,
            "not a CloudTrail log file: no top-level \"Records\" array",
        ));
    }
    decoder.flush()?;
    Ok(FileOutcome {
        batches: std::mem::take(&mut decoder.batches),
        records: decoder.records,
        rows: decoder.total_rows,
        rejected: std::mem::take(&mut decoder.rejected),
        json_bytes: json.len(),
    })
}

fn describe_json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Eof => format!("invalid JSON: the file is truncated ({e})"),
        Category::Syntax => format!("invalid JSON: {e}"),
        Category::Io => format!("cannot read: {e}"),
        Category::Data => format!("not a CloudTrail log file: {e}"),
    }
}

/// Columns the reader looks at whether or not the query projects them.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Watched {
    EventTime,
    EventSource,
    EventName,
    Region,
    Account,
}

const WATCHED: [(&str, Watched); 5] = [
    ("eventtime", Watched::EventTime),
    ("eventsource", Watched::EventSource),
    ("eventname", Watched::EventName),
    ("awsregion", Watched::Region),
    ("recipientaccountid", Watched::Account),
];

enum OutColumn {
    Record(usize),
    Partition(usize),
}

struct Decoder {
    names: Vec<Box<str>>,
    watched: Vec<Option<Watched>>,
    /// One entry per record column; `None` when the query does not need it.
    columns: Vec<Option<ColumnBuilder>>,
    out: Vec<OutColumn>,
    schema: SchemaRef,
    partitions: Partitions,
    layout: PartitionLayout,
    /// Partition values built per record (for `Partitions::Records`), by partition index.
    partition_builders: Vec<Option<TextBuilder>>,
    batch_size: usize,
    skip_bad_records: bool,
    rows: usize,
    total_rows: usize,
    records: usize,
    saw_records: bool,
    batches: Vec<RecordBatch>,
    rejected: Vec<Rejection>,
    fatal: Option<(usize, String)>,
    file_problem: Option<String>,
}

impl Decoder {
    fn new(
        projection: &Projection,
        partitions: &Partitions,
        batch_size: usize,
        skip_bad_records: bool,
    ) -> Self {
        let record = record_schema();
        let n = record.fields().len();
        let names: Vec<Box<str>> = record
            .fields()
            .iter()
            .map(|f| f.name().as_str().into())
            .collect();
        let watched = names
            .iter()
            .map(|name| {
                WATCHED
                    .iter()
                    .find(|(w, _)| **w == **name)
                    .map(|(_, kind)| *kind)
            })
            .collect();
        let mut columns: Vec<Option<ColumnBuilder>> = (0..n).map(|_| None).collect();
        let mut partition_builders: Vec<Option<TextBuilder>> =
            projection.layout.columns().iter().map(|_| None).collect();
        let mut out = Vec::with_capacity(projection.columns.len());
        for (&c, fields) in projection.columns.iter().zip(&projection.fields) {
            if c < n {
                columns[c] = Some(ColumnBuilder::reading(
                    record.field(c).data_type(),
                    fields.as_ref(),
                ));
                out.push(OutColumn::Record(c));
            } else {
                let p = c - n;
                if *partitions == Partitions::Records {
                    partition_builders[p] = Some(TextBuilder::new());
                }
                out.push(OutColumn::Partition(p));
            }
        }
        Decoder {
            names,
            watched,
            columns,
            out,
            schema: projection.schema(),
            partitions: partitions.clone(),
            layout: projection.layout,
            partition_builders,
            batch_size,
            skip_bad_records,
            rows: 0,
            total_rows: 0,
            records: 0,
            saw_records: false,
            batches: Vec::new(),
            rejected: Vec::new(),
            fatal: None,
            file_problem: None,
        }
    }

    /// The partition values of a valid record read from its fields (for `Partitions::Records`),
    /// given the raw JSON text of `recipientAccountId`, `awsRegion` and `eventTime`.
    fn push_partitions(
        &mut self,
        account: Option<&str>,
        region: Option<&str>,
        event_time: Option<&str>,
    ) {
        if self.partitions != Partitions::Records {
            return;
        }
        let account = account.and_then(string_value);
        let region = region.and_then(string_value);
        // Validated: the first ten characters are yyyy-MM-dd.
        let day: Option<Cow<str>> = event_time
            .and_then(string_value)
            .map(|t| Cow::Owned(t[..10].replace('-', "/")));
        let layout = self.layout;
        for (p, builder) in self.partition_builders.iter_mut().enumerate() {
            if let Some(b) = builder {
                let value = layout.value(p, account.as_deref(), region.as_deref(), day.as_deref());
                match value {
                    Some(v) => b.push(v),
                    None => b.push_null(),
                }
            }
        }
    }

    fn truncate(&mut self, rows: usize) {
        for b in self.columns.iter_mut().flatten() {
            b.truncate(rows);
        }
        for b in self.partition_builders.iter_mut().flatten() {
            b.truncate(rows);
        }
    }

    fn flush(&mut self) -> Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        let rows = self.rows;
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.out.len());
        for col in &self.out {
            let array: ArrayRef = match *col {
                OutColumn::Record(c) => match self.columns[c].as_mut() {
                    Some(b) => b.finish()?,
                    None => return Err(Error::Engine("projected column has no builder".into())),
                },
                OutColumn::Partition(p) => {
                    match (&self.partitions, &mut self.partition_builders[p]) {
                        (_, Some(b)) => Arc::new(b.finish()?),
                        (
                            Partitions::Layout {
                                account,
                                region,
                                day,
                            },
                            None,
                        ) => {
                            let value =
                                self.layout.value(p, Some(account), Some(region), Some(day));
                            Arc::new(StringArray::from_iter(std::iter::repeat_n(value, rows)))
                        }
                        (Partitions::Records, None) => {
                            return Err(Error::Engine("partition column has no builder".into()))
                        }
                    }
                }
            };
            arrays.push(array);
        }
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        let batch = RecordBatch::try_new_with_options(self.schema.clone(), arrays, &options)?;
        self.batches.push(batch);
        self.total_rows += rows;
        self.rows = 0;
        Ok(())
    }

    /// After a record was parsed: keep it, or roll it back and account for it.
    fn finish_record<E: de::Error>(
        &mut self,
        index: usize,
        defect: Option<String>,
    ) -> Result<(), E> {
        self.records += 1;
        match defect {
            None => {
                self.rows += 1;
                if self.rows >= self.batch_size {
                    self.flush().map_err(E::custom)?;
                }
                Ok(())
            }
            Some(reason) => {
                self.truncate(self.rows);
                if self.skip_bad_records {
                    self.rejected.push(Rejection { index, reason });
                    Ok(())
                } else {
                    self.fatal = Some((index, reason));
                    Err(E::custom("record rejected"))
                }
            }
        }
    }
}

/// The scalar `visit_*` methods of a visitor that expects a container: each reports what it
/// found through the visitor's `wrong(self, found)`.
macro_rules! scalars_are_wrong {
    () => {
        fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
            self.wrong("a string");
            Ok(())
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
            self.wrong("a boolean");
            Ok(())
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
            self.wrong("a number");
            Ok(())
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
            self.wrong("a number");
            Ok(())
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
            self.wrong("a number");
            Ok(())
        }
    };
}

/// The top level of a file: `{"Records": [...]}`.
struct FileVisitor<'a> {
    dec: &'a mut Decoder,
}

impl<'de> Visitor<'de> for FileVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a CloudTrail log file: {\"Records\": [...]}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if key == "Records" && !self.dec.saw_records {
                self.dec.saw_records = true;
                map.next_value_seed(RecordsSeed {
                    dec: &mut *self.dec,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.dec.file_problem = Some(
            "not a CloudTrail log file: the top level is a JSON array; CloudTrail files hold {\"Records\": [...]}"
                .into(),
        );
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }

    scalars_are_wrong!();

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.wrong("null");
        Ok(())
    }
}

impl FileVisitor<'_> {
    fn wrong(self, what: &str) {
        self.dec.file_problem = Some(format!(
            "not a CloudTrail log file: the top level is {what}, not {{\"Records\": [...]}}"
        ));
    }
}

struct RecordsSeed<'a> {
    dec: &'a mut Decoder,
}

impl<'de> DeserializeSeed<'de> for RecordsSeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RecordsSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of CloudTrail records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0usize;
        loop {
            let mut defect = None;
            let more = seq.next_element_seed(RecordSeed {
                dec: &mut *self.dec,
                defect: &mut defect,
            })?;
            if more.is_none() {
                return Ok(());
            }
            self.dec.finish_record(index, defect)?;
            index += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.dec.file_problem =
            Some("not a CloudTrail log file: \"Records\" is an object, not an array".into());
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        // `"Records": null` holds no events; treat it as an empty file rather than an error.
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.dec.file_problem =
            Some("not a CloudTrail log file: \"Records\" is a string, not an array".into());
        Ok(())
    }
}

/// Names a JSON value's type for messages.
fn json_kind(raw: &str) -> &'static str {
    match raw.as_bytes().first() {
        Some(b'"') => "a string",
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b't') | Some(b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

/// The field path of a value, for messages; only formatted when something is wrong.
struct FieldPath<'a> {
    name: &'a str,
    parent: Option<&'a FieldPath<'a>>,
}

impl fmt::Display for FieldPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if let Some(parent) = self.parent {
            write!(f, "{parent}.")?;
        }
        f.write_str(self.name)
    }
}

/// One record: a JSON object whose keys are the table's columns.
struct RecordSeed<'a> {
    dec: &'a mut Decoder,
    defect: &'a mut Option<String>,
}

impl<'de> DeserializeSeed<'de> for RecordSeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl RecordSeed<'_> {
    fn wrong(self, what: &str) {
        *self.defect = Some(format!("the record is {what}, not a JSON object"));
    }
}

impl<'de> Visitor<'de> for RecordSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a CloudTrail record (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let dec = self.dec;
        let mut event_time: Option<&'de RawValue> = None;
        let mut event_source: Option<&'de RawValue> = None;
        let mut event_name: Option<&'de RawValue> = None;
        let mut region: Option<&'de RawValue> = None;
        let mut account: Option<&'de RawValue> = None;
        let seen = visit_named_entries(&mut map, &dec.names, |map, i| {
            if let Some(kind) = dec.watched[i] {
                let raw: &'de RawValue = map.next_value()?;
                match kind {
                    Watched::EventTime => event_time = Some(raw),
                    Watched::EventSource => event_source = Some(raw),
                    Watched::EventName => event_name = Some(raw),
                    Watched::Region => region = Some(raw),
                    Watched::Account => account = Some(raw),
                }
                if let Some(ColumnBuilder::Text(b)) = dec.columns[i].as_mut() {
                    push_json_as_text(b, raw.get());
                }
            } else if let Some(builder) = dec.columns[i].as_mut() {
                let path = FieldPath {
                    name: &dec.names[i],
                    parent: None,
                };
                map.next_value_seed(ValueSeed {
                    builder,
                    defect: &mut *self.defect,
                    path: &path,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
            Ok(())
        })?;
        for b in unseen(&mut dec.columns, seen).flatten() {
            b.push_null();
        }
        let raw = |r: Option<&'de RawValue>| r.map(RawValue::get);
        if let Some(problem) = validate(raw(event_time), raw(event_source), raw(event_name)) {
            *self.defect = Some(match self.defect.take() {
                Some(type_problem) => format!("{problem}; {type_problem}"),
                None => problem,
            });
        }
        if self.defect.is_none() {
            dec.push_partitions(raw(account), raw(region), raw(event_time));
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        self.wrong("an array");
        Ok(())
    }

    scalars_are_wrong!();

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.wrong("null");
        Ok(())
    }
}

/// The required fields of a CloudTrail event.
/// (The arguments are the raw JSON text of the fields.)
fn validate(
    event_time: Option<&str>,
    event_source: Option<&str>,
    event_name: Option<&str>,
) -> Option<String> {
    let required = |raw: Option<&str>, name: &str| -> Option<String> {
        match raw {
            None => Some(format!("missing required field {name}")),
            Some("null") => Some(format!("missing required field {name} (null)")),
            Some(r) if !r.starts_with('"') => {
                Some(format!("{name} is {}, expected a string", json_kind(r)))
            }
            Some(_) => None,
        }
    };
    if let Some(problem) = required(event_time, "eventTime") {
        return Some(problem);
    }
    if let Some(time) = event_time.and_then(string_value) {
        if let Err(why) = parse_timestamp(&time, Form::EventTime) {
            return Some(format!(
                "eventTime '{time}' is not an ISO-8601 timestamp as CloudTrail writes it \
                 (yyyy-MM-ddTHH:mm:ssZ, like 2024-07-30T21:31:21Z): {why}"
            ));
        }
    }
    required(event_source, "eventSource").or_else(|| required(event_name, "eventName"))
}

/// The text of a JSON string value, unescaped; `None` for non-strings.
fn string_value(raw: &str) -> Option<Cow<'_, str>> {
    if !raw.starts_with('"') || raw.len() < 2 {
        return None;
    }
    let inner = &raw[1..raw.len() - 1];
    if memchr::memchr(b'\\', inner.as_bytes()).is_none() {
        Some(Cow::Borrowed(inner))
    } else {
        serde_json::from_str::<String>(raw).ok().map(Cow::Owned)
    }
}

/// Appends any JSON value to a string column, as Athena's SerDe reads it into a STRING.
fn push_json_as_text(b: &mut TextBuilder, raw: &str) {
    match raw.as_bytes().first() {
        Some(b'"') => match string_value(raw) {
            Some(s) => b.push(&s),
            None => b.push_null(),
        },
        Some(b'n') => b.push_null(),
        Some(b'{') | Some(b'[') => {
            minify_into(raw, b.data_mut());
            b.close_value(true);
        }
        _ => b.push(raw),
    }
}

/// Copies JSON text without the white space between tokens.
fn minify_into(raw: &str, out: &mut Vec<u8>) {
    let bytes = raw.as_bytes();
    if !bytes
        .iter()
        .any(|&c| c == b' ' || c == b'\n' || c == b'\t' || c == b'\r')
    {
        out.extend_from_slice(bytes);
        return;
    }
    let mut in_string = false;
    let mut escaped = false;
    for &c in bytes {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_string = false;
            }
        } else if c == b'"' {
            in_string = true;
            out.push(c);
        } else if !c.is_ascii_whitespace() {
            out.push(c);
        }
    }
}

/// A key of a JSON object, resolved to a child index without allocating.
struct KeySeed<'a> {
    names: &'a [Box<str>],
    hint: usize,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<usize>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Option<usize>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E: de::Error>(self, key: &str) -> Result<Option<usize>, E> {
        Ok(find_name(self.names, key, self.hint))
    }
}

/// Visits the entries of a JSON object whose keys name one of `names` (see [`find_name`]) with
/// `value`, which reads the value of `names[i]`; skips the values of other keys and of repeated
/// ones (the first occurrence counts). Returns the set of names seen, bit `i` for `names[i]`
/// (records and their structs have fewer than 64 fields).
fn visit_named_entries<'de, A: MapAccess<'de>>(
    map: &mut A,
    names: &[Box<str>],
    mut value: impl FnMut(&mut A, usize) -> Result<(), A::Error>,
) -> Result<u64, A::Error> {
    debug_assert!(names.len() <= 64);
    let mut seen: u64 = 0;
    let mut hint = 0usize;
    while let Some(found) = map.next_key_seed(KeySeed { names, hint })? {
        match found.filter(|&i| seen & (1u64 << i) == 0) {
            Some(i) => {
                seen |= 1u64 << i;
                hint = i + 1;
                value(map, i)?;
            }
            None => {
                map.next_value::<IgnoredAny>()?;
            }
        }
    }
    Ok(seen)
}

/// The items whose bit is not in `seen` (the fields a JSON object lacked), to be filled with null.
fn unseen<T>(items: &mut [T], seen: u64) -> impl Iterator<Item = &mut T> {
    items
        .iter_mut()
        .enumerate()
        .filter(move |(i, _)| seen & (1u64 << i) == 0)
        .map(|(_, item)| item)
}

/// Any value into the builder of its column.
struct ValueSeed<'a, 'p> {
    builder: &'a mut ColumnBuilder,
    defect: &'a mut Option<String>,
    path: &'p FieldPath<'p>,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        match self.builder {
            ColumnBuilder::Text(b) => {
                let raw = <&'de RawValue>::deserialize(d)?;
                push_json_as_text(b, raw.get());
                Ok(())
            }
            ColumnBuilder::Struct(b) => d.deserialize_any(StructVisitor {
                builder: b,
                defect: self.defect,
                path: self.path,
            }),
            ColumnBuilder::Unread(b) => {
                IgnoredAny::deserialize(d)?;
                b.push_null();
                Ok(())
            }
            ColumnBuilder::List(_) | ColumnBuilder::Map(_) => d.deserialize_any(ContainerVisitor {
                builder: self.builder,
                defect: self.defect,
                path: self.path,
            }),
        }
    }
}

/// Records a type mismatch and keeps the builders aligned with a null.
fn mismatch(
    defect: &mut Option<String>,
    path: &FieldPath,
    expected: &str,
    found: &str,
    builder: &mut ColumnBuilder,
) {
    if defect.is_none() {
        *defect = Some(format!("{path} is {found}, expected {expected}"));
    }
    builder.push_null();
}

struct StructVisitor<'a, 'p> {
    builder: &'a mut StructBuilder,
    defect: &'a mut Option<String>,
    path: &'p FieldPath<'p>,
}

impl StructVisitor<'_, '_> {
    fn wrong(self, found: &str) {
        if self.defect.is_none() {
            *self.defect = Some(format!("{} is {found}, expected an object", self.path));
        }
        self.builder.push_null();
    }
}

impl<'de> Visitor<'de> for StructVisitor<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let b = self.builder;
        let seen = visit_named_entries(&mut map, &b.names, |map, i| {
            let path = FieldPath {
                name: &b.names[i],
                parent: Some(self.path),
            };
            map.next_value_seed(ValueSeed {
                builder: &mut b.children[i],
                defect: &mut *self.defect,
                path: &path,
            })
        })?;
        for child in unseen(&mut b.children, seen) {
            child.push_null();
        }
        b.close_row();
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.builder.push_null();
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        self.wrong("an array");
        Ok(())
    }
    scalars_are_wrong!();
}

/// Arrays (list columns) and string maps.
struct ContainerVisitor<'a, 'p> {
    builder: &'a mut ColumnBuilder,
    defect: &'a mut Option<String>,
    path: &'p FieldPath<'p>,
}

impl ContainerVisitor<'_, '_> {
    fn expected(&self) -> &'static str {
        match self.builder {
            ColumnBuilder::Map(_) => "an object",
            _ => "an array",
        }
    }
    fn wrong(self, found: &str) {
        let expected = self.expected();
        mismatch(self.defect, self.path, expected, found, self.builder);
    }
}

impl<'de> Visitor<'de> for ContainerVisitor<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.expected())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let ColumnBuilder::List(list) = self.builder else {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            self.wrong("an array");
            return Ok(());
        };
        let item_path = FieldPath {
            name: "[]",
            parent: Some(self.path),
        };
        while seq
            .next_element_seed(ValueSeed {
                builder: &mut list.child,
                defect: &mut *self.defect,
                path: &item_path,
            })?
            .is_some()
        {}
        list.close_row();
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let ColumnBuilder::Map(m) = self.builder else {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            self.wrong("an object");
            return Ok(());
        };
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            let value: &'de RawValue = map.next_value()?;
            m.keys.push(&key);
            push_json_as_text(&mut m.values, value.get());
        }
        m.close_row();
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.builder.push_null();
        Ok(())
    }
    scalars_are_wrong!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};

    #[test]
    fn first_of_repeated_keys_counts_and_missing_fields_are_null() {
        let json = r#"{"Records":[{"eventTime":"2024-07-30T21:31:21Z","eventSource":"a",
            "eventName":"First","EVENTNAME":"Second",
            "userIdentity":{"type":"Root","Type":"IAMUser","arn":"x"}}]}"#;
        let projection = Projection::new(None).unwrap();
        let outcome = decode(
            json.as_bytes(),
            Path::new("test.json"),
            &Partitions::Records,
            &projection,
            10,
            false,
        )
        .unwrap();
        let batch = &outcome.batches[0];
        let text = |column: &dyn Array, row| column.as_string::<i32>().value(row).to_string();
        let column = |name| batch.column_by_name(name).unwrap();
        assert_eq!(text(column("eventname").as_ref(), 0), "First");
        let identity = column("useridentity").as_struct();
        assert_eq!(
            text(identity.column_by_name("type").unwrap().as_ref(), 0),
            "Root"
        );
        assert_eq!(
            text(identity.column_by_name("arn").unwrap().as_ref(), 0),
            "x"
        );
        assert!(identity.column_by_name("principalid").unwrap().is_null(0));
        assert!(column("awsregion").is_null(0));
    }

    /// Both paths, every projection shape: the fast path decodes well-formed files to the very
    /// batches the serde path makes, and leaves the rest to it.
    #[test]
    fn fast_path_decodes_as_the_serde_path_does() {
        let json = r#" {"Other": [1, {"x": null}], "Records" : [
            {"eventVersion": "1.09", "userIdentity": {"type": "AssumedRole", "ARN": "a\"b",
              "sessionContext": {"attributes": {"mfaAuthenticated": "false"},
              "sessionIssuer": null}, "unknown": [true, false, -1.5e+3, 0, {}]},
             "eventTime": "2024-07-30T21:31:21Z", "eventSource": "s3.amazonaws.com",
             "eventName": "GetObject", "awsRegion": "us-east-1", "recipientAccountId": "1",
             "requestParameters": {"bucketName": "b", "n": 12, "deep": {"a": [1, 2, "\u00e9"]}},
             "responseElements": null, "resources": [{"ARN": "r", "type": "t"}, {"arn": "q"}],
             "additionalEventData": {"x": 1}, "readOnly": true, "errorCode": "Ünïcode ✓",
             "eventname": "ignored repeat", "tlsDetails": {"tlsVersion": "TLSv1.3"}},
            {"eventTime": "2024-07-30T21:31:22Z", "eventSource": "a", "eventName": "B",
             "userIdentity": null, "resources": null, "sharedEventID": 7},
            {"eventName": "C", "eventSource": "a", "eventTime": "2024-07-31T00:00:00Z",
             "userIdentity": {}, "resources": [], "requestParameters": "text"}
        ], "Records": 5}
        "#;
        let table_width = crate::schema::table_schema().fields().len();
        let projections = [
            None,
            Some(vec![0, 1]),
            Some((0..table_width).rev().step_by(3).collect()),
            Some(Vec::new()),
        ];
        let layout = Partitions::Layout {
            account: "1".into(),
            region: "r".into(),
            day: "2024/07/30".into(),
        };
        for columns in &projections {
            let projection = Projection::new(columns.as_ref()).unwrap();
            for partitions in [&Partitions::Records, &layout] {
                for batch_size in [1, 2, 8192] {
                    let path = Path::new("x.json");
                    let fast = decode_fast(json.as_bytes(), partitions, &projection, batch_size)
                        .expect("the fast path decodes a well-formed file");
                    let slow = decode_with_serde(
                        json.as_bytes(),
                        path,
                        partitions,
                        &projection,
                        batch_size,
                        false,
                    )
                    .unwrap();
                    assert_eq!(fast.batches, slow.batches, "{columns:?} {batch_size}");
                    assert_eq!((fast.records, fast.rows), (3, 3));
                    assert_eq!((slow.records, slow.rows), (3, 3));
                }
            }
        }
        let projection = Projection::new(None).unwrap();
        let record = r#"{"eventTime":"2024-07-30T21:31:21Z","eventSource":"a","eventName":"b"}"#;
        let left_to_serde = [
            // An escape in a key, a non-ASCII key, a bad record, invalid JSON of several kinds.
            r#"{"Records":[{"event\u0054ime":"2024-07-30T21:31:21Z","eventSource":"a","eventName":"b"}]}"#.to_string(),
            r#"{"Records":[{"é":1,"eventTime":"2024-07-30T21:31:21Z","eventSource":"a","eventName":"b"}]}"#.to_string(),
            r#"{"Records":[{"eventSource":"a","eventName":"b"}]}"#.to_string(),
            r#"{"Records":[5]}"#.to_string(),
            format!(r#"{{"Records":[{record},]}}"#),
            format!(r#"{{"Records":[{record}]}} x"#),
            format!(r#"{{"Records":[{record}], "n": 01}}"#),
            format!("{{\"Records\":[{record}], \"n\": \"\u{1}\"}}"),
            format!(r#"{{"Records":[{record}], "n": "\q"}}"#),
            format!(r#"{{"Records":[{record}], "n": 1.}}"#),
            format!(r#"{{"Records":[{record}], "n": {}}}"#, "[".repeat(200) + &"]".repeat(200)),
            format!(r#"{{"Records":[{record}]"#),
            r#"{"records":[]}"#.to_string(),
            r#"{"Records":{}}"#.to_string(),
        ];
        for json in &left_to_serde {
            assert!(
                decode_fast(json.as_bytes(), &Partitions::Records, &projection, 10).is_none(),
                "{json}"
            );
        }
    }

    #[test]
    fn an_event_time_from_iso8601_timestamp_would_reject_is_rejected_by_name() {
        let json = r#"{"Records":[
            {"eventTime":"2024-07-30T21:31:21Z","eventSource":"a","eventName":"Good"},
            {"eventTime":"2024-02-30T00:00:00Z","eventSource":"a","eventName":"NoSuchDay"},
            {"eventTime":"2024-12-31T23:59:60Z","eventSource":"a","eventName":"LeapSecond"},
            {"eventTime":"2024-07-30T21:31:21","eventSource":"a","eventName":"NoZone"}]}"#;
        let projection = Projection::new(None).unwrap();
        let run = |skip| {
            decode(
                json.as_bytes(),
                Path::new("logs/x.json"),
                &Partitions::Records,
                &projection,
                10,
                skip,
            )
        };
        let outcome = run(true).unwrap();
        assert_eq!((outcome.records, outcome.rows), (4, 1));
        let reasons: Vec<_> = outcome
            .rejected
            .iter()
            .map(|r| (r.index, r.reason.as_str()))
            .collect();
        assert_eq!(reasons.len(), 3);
        assert!(reasons[0].0 == 1 && reasons[0].1.contains("eventTime '2024-02-30T00:00:00Z'"));
        assert!(
            reasons[0].1.contains("day 30 does not exist"),
            "{}",
            reasons[0].1
        );
        assert!(reasons[1].0 == 2 && reasons[1].1.contains("leap second"));
        assert!(reasons[2].0 == 3 && reasons[2].1.contains("no time zone"));
        let err = run(false).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("logs/x.json: record 1: {}", reasons[0].1)
        );
    }
}
