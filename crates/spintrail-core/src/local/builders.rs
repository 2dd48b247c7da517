//! Arrow column builders for the CloudTrail schema that can roll back a partly decoded record.
//!
//! arrow-rs builders cannot truncate, and a record may turn out to be invalid halfway through its
//! fields; these small builders keep offsets and validity in plain vectors so `truncate` is cheap.

use std::sync::Arc;

use arrow::array::BooleanBufferBuilder;
use std::collections::BTreeSet;

use arrow::array::{new_null_array, ArrayRef, ListArray, MapArray, StringArray, StructArray};
use arrow::buffer::{Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{DataType, FieldRef, Fields};

use crate::error::{Error, Result};

/// Validity bits with truncation.
#[derive(Debug)]
pub(crate) struct Validity {
    bits: BooleanBufferBuilder,
    nulls: usize,
}

impl Validity {
    fn new() -> Self {
        Validity {
            bits: BooleanBufferBuilder::new(1024),
            nulls: 0,
        }
    }

    fn push(&mut self, valid: bool) {
        if !valid {
            self.nulls += 1;
        }
        self.bits.append(valid);
    }

    fn len(&self) -> usize {
        self.bits.len()
    }

    fn truncate(&mut self, len: usize) {
        if len >= self.bits.len() {
            return;
        }
        let dropped_nulls = (len..self.bits.len())
            .filter(|&i| !self.bits.get_bit(i))
            .count();
        self.nulls -= dropped_nulls;
        self.bits.truncate(len);
    }

    fn finish(&mut self) -> Option<NullBuffer> {
        let nulls = std::mem::take(&mut self.nulls);
        let buffer = self.bits.finish();
        (nulls > 0).then(|| NullBuffer::new(buffer))
    }
}

/// UTF-8 strings.
#[derive(Debug)]
pub(crate) struct TextBuilder {
    offsets: Vec<i32>,
    data: Vec<u8>,
    validity: Validity,
}

impl TextBuilder {
    pub(crate) fn new() -> Self {
        TextBuilder {
            offsets: vec![0],
            data: Vec::with_capacity(16 * 1024),
            validity: Validity::new(),
        }
    }

    pub(crate) fn push(&mut self, value: &str) {
        self.data.extend_from_slice(value.as_bytes());
        self.close_value(true);
    }

    /// Appends bytes already known to be UTF-8 piecewise (for minified JSON text).
    pub(crate) fn data_mut(&mut self) -> &mut Vec<u8> {
        &mut self.data
    }

    /// Ends a value written through `data_mut`.
    pub(crate) fn close_value(&mut self, valid: bool) {
        // Offsets beyond i32 are caught in `finish`; batches are far smaller in practice.
        self.offsets.push(self.data.len() as i32);
        self.validity.push(valid);
    }

    pub(crate) fn push_null(&mut self) {
        self.close_value(false);
    }

    pub(crate) fn len(&self) -> usize {
        self.validity.len()
    }

    pub(crate) fn truncate(&mut self, len: usize) {
        if len >= self.len() {
            return;
        }
        self.offsets.truncate(len + 1);
        self.data.truncate(self.offsets[len] as usize);
        self.validity.truncate(len);
    }

    pub(crate) fn finish(&mut self) -> Result<StringArray> {
        if self.data.len() > i32::MAX as usize {
            return Err(Error::Engine(
                "a batch holds more than 2 GiB of text in one column; lower batch_size".into(),
            ));
        }
        let offsets = std::mem::replace(&mut self.offsets, vec![0]);
        let data = std::mem::take(&mut self.data);
        let nulls = self.validity.finish();
        // SAFETY-free constructor: offsets are monotonic and data is valid UTF-8 by construction,
        // but use the checked constructor anyway; it is cheap next to decoding.
        StringArray::try_new(
            OffsetBuffer::new(ScalarBuffer::from(offsets)),
            Buffer::from_vec(data),
            nulls,
        )
        .map_err(Error::from)
    }
}

/// A builder for any column type of the CloudTrail schema.
#[derive(Debug)]
pub(crate) enum ColumnBuilder {
    Text(TextBuilder),
    Struct(StructBuilder),
    List(ListBuilder),
    Map(MapBuilder),
    /// A struct field the query does not read: skipped in the JSON, all null in the batch.
    Unread(UnreadBuilder),
}

/// A column of nulls of any type that only counts its rows.
#[derive(Debug)]
pub(crate) struct UnreadBuilder {
    data_type: DataType,
    len: usize,
}

impl UnreadBuilder {
    pub(crate) fn push_null(&mut self) {
        self.len += 1;
    }
}

impl ColumnBuilder {
    pub(crate) fn for_type(data_type: &DataType) -> Self {
        match data_type {
            DataType::Struct(fields) => ColumnBuilder::Struct(StructBuilder::new(fields.clone())),
            DataType::List(item) => ColumnBuilder::List(ListBuilder {
                item: item.clone(),
                offsets: vec![0],
                child: Box::new(ColumnBuilder::for_type(item.data_type())),
                validity: Validity::new(),
            }),
            DataType::Map(entries, _) => ColumnBuilder::Map(MapBuilder {
                entries: entries.clone(),
                offsets: vec![0],
                keys: TextBuilder::new(),
                values: TextBuilder::new(),
                validity: Validity::new(),
            }),
            // Every scalar in the table contract is a string.
            _ => ColumnBuilder::Text(TextBuilder::new()),
        }
    }

    /// As [`Self::for_type`]; of a struct, only the `fields` named are decoded (all when `None`).
    pub(crate) fn reading(data_type: &DataType, fields: Option<&BTreeSet<String>>) -> Self {
        match (data_type, fields) {
            (DataType::Struct(children), Some(read)) => {
                let mut b = StructBuilder::new(children.clone());
                for (child, field) in b.children.iter_mut().zip(children.iter()) {
                    if !read.contains(field.name()) {
                        *child = ColumnBuilder::Unread(UnreadBuilder {
                            data_type: field.data_type().clone(),
                            len: 0,
                        });
                    }
                }
                ColumnBuilder::Struct(b)
            }
            _ => ColumnBuilder::for_type(data_type),
        }
    }

    pub(crate) fn push_null(&mut self) {
        match self {
            ColumnBuilder::Text(b) => b.push_null(),
            ColumnBuilder::Struct(b) => b.push_null(),
            ColumnBuilder::List(b) => b.push_null(),
            ColumnBuilder::Map(b) => b.push_null(),
            ColumnBuilder::Unread(b) => b.push_null(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            ColumnBuilder::Text(b) => b.len(),
            ColumnBuilder::Struct(b) => b.validity.len(),
            ColumnBuilder::List(b) => b.validity.len(),
            ColumnBuilder::Map(b) => b.validity.len(),
            ColumnBuilder::Unread(b) => b.len,
        }
    }

    pub(crate) fn truncate(&mut self, len: usize) {
        match self {
            ColumnBuilder::Text(b) => b.truncate(len),
            ColumnBuilder::Struct(b) => b.truncate(len),
            ColumnBuilder::List(b) => {
                if len < b.validity.len() {
                    b.offsets.truncate(len + 1);
                    b.child.truncate(b.offsets[len] as usize);
                    b.validity.truncate(len);
                }
            }
            ColumnBuilder::Map(b) => {
                if len < b.validity.len() {
                    b.offsets.truncate(len + 1);
                    let entries = b.offsets[len] as usize;
                    b.keys.truncate(entries);
                    b.values.truncate(entries);
                    b.validity.truncate(len);
                }
            }
            ColumnBuilder::Unread(b) => b.len = b.len.min(len),
        }
    }

    pub(crate) fn finish(&mut self) -> Result<ArrayRef> {
        Ok(match self {
            ColumnBuilder::Text(b) => Arc::new(b.finish()?),
            ColumnBuilder::Struct(b) => Arc::new(b.finish()?),
            ColumnBuilder::Unread(b) => new_null_array(&b.data_type, std::mem::take(&mut b.len)),
            ColumnBuilder::List(b) => {
                let offsets = std::mem::replace(&mut b.offsets, vec![0]);
                let values = b.child.finish()?;
                Arc::new(ListArray::try_new(
                    b.item.clone(),
                    OffsetBuffer::new(ScalarBuffer::from(offsets)),
                    values,
                    b.validity.finish(),
                )?)
            }
            ColumnBuilder::Map(b) => {
                let offsets = std::mem::replace(&mut b.offsets, vec![0]);
                let DataType::Struct(fields) = b.entries.data_type() else {
                    return Err(Error::Engine("map entries must be a struct".into()));
                };
                let entries = StructArray::try_new(
                    fields.clone(),
                    vec![Arc::new(b.keys.finish()?), Arc::new(b.values.finish()?)],
                    None,
                )?;
                Arc::new(MapArray::try_new(
                    b.entries.clone(),
                    OffsetBuffer::new(ScalarBuffer::from(offsets)),
                    entries,
                    b.validity.finish(),
                    false,
                )?)
            }
        })
    }
}

/// A struct column; children are matched to JSON keys case-insensitively, as Athena's SerDe does.
#[derive(Debug)]
pub(crate) struct StructBuilder {
    fields: Fields,
    pub(crate) names: Vec<Box<str>>,
    pub(crate) children: Vec<ColumnBuilder>,
    validity: Validity,
}

impl StructBuilder {
    fn new(fields: Fields) -> Self {
        StructBuilder {
            names: fields.iter().map(|f| f.name().as_str().into()).collect(),
            children: fields
                .iter()
                .map(|f| ColumnBuilder::for_type(f.data_type()))
                .collect(),
            fields,
            validity: Validity::new(),
        }
    }

    /// Marks one row present; the caller has pushed exactly one value or null to every child.
    pub(crate) fn close_row(&mut self) {
        self.validity.push(true);
    }

    pub(crate) fn push_null(&mut self) {
        for child in &mut self.children {
            child.push_null();
        }
        self.validity.push(false);
    }

    fn truncate(&mut self, len: usize) {
        for child in &mut self.children {
            child.truncate(len);
        }
        self.validity.truncate(len);
    }

    fn finish(&mut self) -> Result<StructArray> {
        let columns = self
            .children
            .iter_mut()
            .map(ColumnBuilder::finish)
            .collect::<Result<Vec<_>>>()?;
        Ok(StructArray::try_new(
            self.fields.clone(),
            columns,
            self.validity.finish(),
        )?)
    }
}

/// Case-insensitive lookup of `key` among lower-case `names`, starting at `hint`.
pub(crate) fn find_name(names: &[Box<str>], key: &str, hint: usize) -> Option<usize> {
    let hit = |i: usize| {
        let name: &str = &names[i];
        name.len() == key.len() && name.eq_ignore_ascii_case(key)
    };
    if hint < names.len() && hit(hint) {
        return Some(hint);
    }
    (0..names.len()).find(|&i| hit(i))
}

#[derive(Debug)]
pub(crate) struct ListBuilder {
    item: FieldRef,
    offsets: Vec<i32>,
    pub(crate) child: Box<ColumnBuilder>,
    validity: Validity,
}

impl ListBuilder {
    pub(crate) fn close_row(&mut self) {
        self.offsets.push(self.child.len() as i32);
        self.validity.push(true);
    }

    fn push_null(&mut self) {
        self.offsets.push(self.child.len() as i32);
        self.validity.push(false);
    }
}

#[derive(Debug)]
pub(crate) struct MapBuilder {
    entries: FieldRef,
    offsets: Vec<i32>,
    pub(crate) keys: TextBuilder,
    pub(crate) values: TextBuilder,
    validity: Validity,
}

impl MapBuilder {
    pub(crate) fn close_row(&mut self) {
        self.offsets.push(self.keys.len() as i32);
        self.validity.push(true);
    }

    fn push_null(&mut self) {
        self.offsets.push(self.keys.len() as i32);
        self.validity.push(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Array;

    #[test]
    fn text_truncate_rolls_back_values_and_nulls() {
        let mut b = TextBuilder::new();
        b.push("a");
        b.push_null();
        b.push("bc");
        b.truncate(1);
        b.push("d");
        let arr = b.finish().unwrap();
        assert_eq!(arr.len(), 2);
        assert_eq!(arr.value(0), "a");
        assert_eq!(arr.value(1), "d");
        assert_eq!(arr.null_count(), 0);
    }

    #[test]
    fn find_name_is_case_insensitive_and_uses_hint() {
        let names: Vec<Box<str>> = vec!["eventtime".into(), "eventname".into()];
        assert_eq!(find_name(&names, "eventName", 0), Some(1));
        assert_eq!(find_name(&names, "EVENTTIME", 1), Some(0));
        assert_eq!(find_name(&names, "other", 0), None);
    }
}
