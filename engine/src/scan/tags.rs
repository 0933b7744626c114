//! Tag names and tag values of span batches (TEMPO-SPEC §1.6–1.7), optionally only over the
//! spans matching a spanset filter (`q`, §1.7.3).
//!
//! Names come from the attribute key column (one pass over the flattened keys), resources and
//! scopes once per dictionary value, events and links from their encoded attribute lists.
//! Values are loaded with the same field loaders as searches and read only on filtered rows.

use std::collections::{BTreeSet, HashSet};

use arrow::array::{Array, AsArray, BooleanArray};
use prost::Message as _;
use tracecore_proto::otlp::KeyValueList;
use tracecore_traceql::{AttributeScope, FieldExpr, Intrinsic};

use super::batch::SpanBatch;
use super::error::ScanError;
use super::eval::{self, Regexes};
use super::plan::{BASE_COLUMNS, columns_for};
use super::row_value::RowValue;
use crate::block::dedicated::{self, DEDICATED};
use crate::block::schema::{attr, col, dedicated_column, event, link};
use crate::block::tag_index::{BlockTagIndex, IndexedValues};

/// Attribute scopes of tag names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TagScope {
    Resource,
    Span,
    Event,
    Link,
    Instrumentation,
}

impl TagScope {
    pub const ALL: [TagScope; 5] = [
        TagScope::Resource,
        TagScope::Span,
        TagScope::Event,
        TagScope::Link,
        TagScope::Instrumentation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TagScope::Resource => "resource",
            TagScope::Span => "span",
            TagScope::Event => "event",
            TagScope::Link => "link",
            TagScope::Instrumentation => "instrumentation",
        }
    }

    fn column(self) -> usize {
        match self {
            TagScope::Resource => col::RESOURCE,
            TagScope::Span => col::ATTRIBUTES,
            TagScope::Event => col::EVENTS,
            TagScope::Link => col::LINKS,
            TagScope::Instrumentation => col::SCOPE,
        }
    }
}

/// A compiled tag lookup: an optional span filter and what to collect.
#[derive(Debug)]
pub struct TagLookup {
    filter: Option<FieldExpr>,
    regexes: Regexes,
    targets: Vec<FieldExpr>,
    scopes: Vec<TagScope>,
    columns: Vec<usize>,
}

impl TagLookup {
    fn new(
        filter: Option<FieldExpr>,
        targets: Vec<FieldExpr>,
        scopes: Vec<TagScope>,
    ) -> Result<Self, ScanError> {
        let mut regexes = Regexes::default();
        let mut columns = BASE_COLUMNS.to_vec();
        if let Some(f) = &filter {
            regexes.collect(f)?;
            columns_for(f, &mut columns);
        }
        for t in &targets {
            columns_for(t, &mut columns);
        }
        columns.extend(scopes.iter().map(|s| s.column()));
        if scopes.contains(&TagScope::Span) {
            columns.extend((0..dedicated::COUNT).map(dedicated_column));
        }
        columns.sort_unstable();
        columns.dedup();
        Ok(TagLookup {
            filter,
            regexes,
            targets,
            scopes,
            columns,
        })
    }

    /// Collects attribute names of `scopes` on spans matching `filter` (all spans when `None`).
    pub fn names(filter: Option<FieldExpr>, scopes: &[TagScope]) -> Result<Self, ScanError> {
        Self::new(filter, Vec::new(), scopes.to_vec())
    }

    /// Collects the values of `targets` (attributes or intrinsics) on matching spans.
    pub fn values(filter: Option<FieldExpr>, targets: Vec<FieldExpr>) -> Result<Self, ScanError> {
        Self::new(filter, targets, Vec::new())
    }

    /// Adds the block's names from its tag index; `false` when the index cannot answer (a
    /// filter needs the spans).
    pub fn names_from_index(&self, index: &BlockTagIndex, out: &mut TagNames) -> bool {
        if self.filter.is_some() {
            return false;
        }
        for &scope in &self.scopes {
            let names = out.scopes.entry(scope).or_default();
            if let Some(keys) = index.scopes.get(scope.as_str()) {
                names.extend(keys.keys().cloned());
            }
        }
        true
    }

    /// Adds the block's values from its tag index; `false` when the index cannot answer (a
    /// filter, a field it does not index, or values it dropped).
    pub fn values_from_index(&self, index: &BlockTagIndex, out: &mut TagValues) -> bool {
        if self.filter.is_some() {
            return false;
        }
        let mut lists: Vec<&IndexedValues> = Vec::new();
        for target in &self.targets {
            let Some(places) = indexed_places(target) else {
                return false;
            };
            for (scope, name) in places {
                match index.values(scope, name) {
                    Some(v) if !v.complete => return false,
                    Some(v) => lists.push(v),
                    None => {}
                }
            }
        }
        for v in lists {
            for s in &v.strings {
                out.insert(RowValue::Str(s.clone()));
            }
            for i in &v.ints {
                out.insert(RowValue::Int(*i));
            }
            for f in &v.floats {
                out.insert(RowValue::Float(*f));
            }
            for b in &v.bools {
                out.insert(RowValue::Bool(*b));
            }
        }
        true
    }

    /// Top-level columns to read.
    pub fn columns(&self) -> &[usize] {
        &self.columns
    }

    fn mask(&self, batch: &SpanBatch) -> Result<Option<BooleanArray>, ScanError> {
        self.filter
            .as_ref()
            .map(|f| eval::filter_mask(batch, f, &self.regexes))
            .transpose()
    }

    /// Adds the batch's names per scope to `out`.
    pub fn collect_names(&self, batch: &SpanBatch, out: &mut TagNames) -> Result<(), ScanError> {
        let mask = self.mask(batch)?;
        let selected = |row: usize| mask.as_ref().is_none_or(|m| m.value(row));
        for &scope in &self.scopes {
            let names = out.scopes.entry(scope).or_default();
            match scope {
                TagScope::Span => span_keys(batch, &selected, names)?,
                TagScope::Resource => {
                    let resources = batch.resource_attributes()?;
                    let keys = batch.dictionary_keys(col::RESOURCE)?;
                    let used = used_dictionary_values(keys, resources.len(), &selected);
                    for (attrs, used) in resources.iter().zip(used) {
                        if used {
                            names.extend(attrs.iter().map(|kv| kv.key.clone()));
                        }
                    }
                }
                TagScope::Instrumentation => {
                    let scopes = batch.scopes()?;
                    let keys = batch.dictionary_keys(col::SCOPE)?;
                    let used = used_dictionary_values(keys, scopes.len(), &selected);
                    for (s, used) in scopes.iter().zip(used) {
                        if used {
                            names.extend(s.attributes.iter().map(|kv| kv.key.clone()));
                        }
                    }
                }
                TagScope::Event | TagScope::Link => {
                    let (column, child) = if scope == TagScope::Event {
                        (col::EVENTS, event::ATTRIBUTES)
                    } else {
                        (col::LINKS, link::ATTRIBUTES)
                    };
                    list_attribute_keys(batch, column, child, &selected, names)?;
                }
            }
        }
        Ok(())
    }

    /// Adds the batch's distinct values of the targets to `out`.
    pub fn collect_values(&self, batch: &SpanBatch, out: &mut TagValues) -> Result<(), ScanError> {
        let mask = self.mask(batch)?;
        for target in &self.targets {
            let values = eval::evaluate(batch, target, &self.regexes)?;
            for row in 0..batch.rows() {
                if mask.as_ref().is_some_and(|m| !m.value(row)) {
                    continue;
                }
                if let Some(v) = values.get_for_span(row) {
                    out.insert(v);
                }
            }
        }
        Ok(())
    }
}

/// Where the tag index keeps the values of `field` (scope, name); `None` if it does not.
pub(crate) fn indexed_places(field: &FieldExpr) -> Option<Vec<(&'static str, &str)>> {
    match field {
        FieldExpr::Attribute(a) if !a.parent => match a.scope {
            AttributeScope::Span => Some(vec![("span", a.name.as_str())]),
            AttributeScope::Resource => Some(vec![("resource", a.name.as_str())]),
            AttributeScope::Unscoped => Some(vec![
                ("span", a.name.as_str()),
                ("resource", a.name.as_str()),
            ]),
            AttributeScope::Instrumentation => Some(vec![("instrumentation", a.name.as_str())]),
            AttributeScope::Event | AttributeScope::Link => None,
        },
        FieldExpr::Intrinsic(Intrinsic::Name) => Some(vec![("intrinsic", "name")]),
        _ => None,
    }
}

fn used_dictionary_values(
    keys: &arrow::array::Int32Array,
    len: usize,
    selected: &impl Fn(usize) -> bool,
) -> Vec<bool> {
    let mut used = vec![false; len];
    for row in 0..keys.len() {
        if keys.is_valid(row)
            && selected(row)
            && let Some(u) = used.get_mut(keys.value(row) as usize)
        {
            *u = true;
        }
    }
    used
}

// PERFORMANCE-CRITICAL: one pass over the flattened keys; a set probe per key.
fn span_keys(
    batch: &SpanBatch,
    selected: &impl Fn(usize) -> bool,
    names: &mut BTreeSet<String>,
) -> Result<(), ScanError> {
    let list = batch
        .column(col::ATTRIBUTES)?
        .as_list_opt::<i32>()
        .ok_or(ScanError::Internal("attributes is not a list"))?;
    let items = list
        .values()
        .as_struct_opt()
        .ok_or(ScanError::Internal("attribute items are not structs"))?;
    // Dedicated attributes (`tc2`): a key is there when any selected row has a value.
    for (s, d) in DEDICATED.iter().enumerate() {
        if names.contains(d.key) {
            continue;
        }
        if let Ok(column) = batch.column(dedicated_column(s))
            && (0..column.len()).any(|row| column.is_valid(row) && selected(row))
        {
            names.insert(d.key.to_owned());
        }
    }
    let keys = items.column(attr::KEY).as_string::<i32>();
    let offsets = list.value_offsets();
    let mut seen: HashSet<&str> = HashSet::new();
    for row in 0..list.len() {
        if !selected(row) {
            continue;
        }
        for i in offsets[row] as usize..offsets[row + 1] as usize {
            let key = keys.value(i);
            if seen.insert(key) && !names.contains(key) {
                names.insert(key.to_owned());
            }
        }
    }
    Ok(())
}

fn list_attribute_keys(
    batch: &SpanBatch,
    column: usize,
    child: usize,
    selected: &impl Fn(usize) -> bool,
    names: &mut BTreeSet<String>,
) -> Result<(), ScanError> {
    let list = batch
        .column(column)?
        .as_list_opt::<i32>()
        .ok_or(ScanError::Internal("expected a list column"))?;
    let items = list
        .values()
        .as_struct_opt()
        .ok_or(ScanError::Internal("list items are not structs"))?;
    let encoded = items.column(child).as_binary::<i32>();
    let offsets = list.value_offsets();
    for row in 0..list.len() {
        if !selected(row) {
            continue;
        }
        for i in offsets[row] as usize..offsets[row + 1] as usize {
            let kvs = KeyValueList::decode(encoded.value(i)).map_err(ScanError::Decode)?;
            names.extend(kvs.values.into_iter().map(|kv| kv.key));
        }
    }
    Ok(())
}

/// Attribute names per scope, sorted.
#[derive(Debug, Default)]
pub struct TagNames {
    pub scopes: std::collections::BTreeMap<TagScope, BTreeSet<String>>,
}

/// Distinct values in first-seen order, with a byte budget (Tempo's
/// `max_bytes_per_tag_values_query`) and a count limit.
#[derive(Debug)]
pub struct TagValues {
    seen: HashSet<String>,
    pub values: Vec<RowValue>,
    bytes: usize,
    max_bytes: usize,
    max_values: usize,
    /// Stop after this many consecutive already-seen values (0: never).
    max_stale: usize,
    stale: usize,
    /// The byte budget, value limit or staleness limit was reached.
    pub full: bool,
}

impl TagValues {
    pub fn new(max_bytes: usize, max_values: usize, max_stale: usize) -> TagValues {
        TagValues {
            seen: HashSet::new(),
            values: Vec::new(),
            bytes: 0,
            max_bytes,
            max_values,
            max_stale,
            stale: 0,
            full: false,
        }
    }

    /// Adds one value (ignored once full).
    pub fn insert(&mut self, v: RowValue) {
        if self.full {
            return;
        }
        let key = v.group_key();
        if self.seen.contains(&key) {
            self.stale += 1;
            if self.max_stale > 0 && self.stale >= self.max_stale {
                self.full = true;
            }
            return;
        }
        self.stale = 0;
        let size = key.len();
        if self.max_bytes > 0 && self.bytes + size > self.max_bytes {
            self.full = true;
            return;
        }
        self.bytes += size;
        self.seen.insert(key);
        self.values.push(v);
        if self.max_values > 0 && self.values.len() >= self.max_values {
            self.full = true;
        }
    }
}
