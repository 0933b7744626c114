//! The block's tag index (`tags.json`): every attribute name per scope and, per name, its
//! distinct values while there are few of them. Built by the encoder from the Arrow batches it
//! writes, loaded by the catalog with the bloom filter. It answers tag-name and tag-value
//! lookups without reading `data.parquet`, and lets searches skip blocks that cannot match
//! (`resource.service.name = "x"` when no span of the block has that service).
//!
//! Names are always complete. A name's values are complete only while it has at most
//! [`MAX_VALUES_PER_KEY`] distinct values and the index stays under [`MAX_VALUE_BYTES`];
//! past that the name is marked incomplete and readers fall back to scanning. Event and link
//! values are not indexed (names are).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Float64Type, Int32Type, Int64Type};
use prost::Message as _;
use serde::{Deserialize, Serialize};
use tracecore_proto::otlp::{AnyValue, KeyValue, ResourceSpans, ScopeSpans, any_value::Value};

use super::dedicated::{DEDICATED, DedicatedKind};
use super::error::BlockError;
use super::hash::SeededXxh3;
use super::schema::{attr, col, event, link};
use super::wire::{Reader, Value as WireValue};

/// Distinct values kept per attribute name.
pub const MAX_VALUES_PER_KEY: usize = 512;
/// Bytes of string values kept per block, over all names.
pub const MAX_VALUE_BYTES: usize = 512 << 10;

/// The distinct values of one attribute name in a block.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IndexedValues {
    /// False when values were dropped (too many): the lists below are then a sample.
    pub complete: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub strings: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ints: Vec<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub floats: Vec<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bools: Vec<bool>,
    /// Some value of another kind (array, map, bytes, empty) exists.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub other: bool,
}

/// A block's tag index. Scopes: `resource`, `span`, `event`, `link`, `instrumentation`, and
/// `intrinsic` (only `name`: span names).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BlockTagIndex {
    pub scopes: BTreeMap<String, BTreeMap<String, IndexedValues>>,
}

impl BlockTagIndex {
    pub fn to_json(&self) -> Result<Vec<u8>, BlockError> {
        serde_json::to_vec(self).map_err(|e| BlockError::Corrupt(format!("tag index: {e}")))
    }

    pub fn from_json(bytes: &[u8]) -> Result<Self, BlockError> {
        serde_json::from_slice(bytes).map_err(|e| BlockError::Corrupt(format!("tag index: {e}")))
    }

    /// The values of `name` in `scope`, if the name occurs.
    pub fn values(&self, scope: &str, name: &str) -> Option<&IndexedValues> {
        self.scopes.get(scope)?.get(name)
    }
}

struct KeyAcc {
    strings: HashSet<String, SeededXxh3>,
    ints: HashSet<i64, SeededXxh3>,
    floats: Vec<f64>,
    bools: [bool; 2],
    other: bool,
    complete: bool,
}

impl Default for KeyAcc {
    /// No values yet, and complete.
    fn default() -> Self {
        KeyAcc {
            strings: HashSet::default(),
            ints: HashSet::default(),
            floats: Vec::new(),
            bools: [false; 2],
            other: false,
            complete: true,
        }
    }
}

impl KeyAcc {
    fn count(&self) -> usize {
        self.strings.len()
            + self.ints.len()
            + self.floats.len()
            + usize::from(self.bools[0])
            + usize::from(self.bools[1])
    }

    fn drop_values(&mut self, budget: &mut usize) {
        let freed: usize = self.strings.iter().map(String::len).sum();
        *budget += freed;
        self.strings = HashSet::default();
        self.ints = HashSet::default();
        self.floats = Vec::new();
        self.complete = false;
    }

    fn finish(self) -> IndexedValues {
        let mut strings: Vec<String> = self.strings.into_iter().collect();
        strings.sort_unstable();
        let mut ints: Vec<i64> = self.ints.into_iter().collect();
        ints.sort_unstable();
        let mut floats = self.floats;
        floats.sort_by(f64::total_cmp);
        let bools = [false, true]
            .into_iter()
            .filter(|b| self.bools[usize::from(*b)])
            .collect();
        IndexedValues {
            complete: self.complete,
            strings,
            ints,
            floats,
            bools,
            other: self.other,
        }
    }
}

/// The accumulators of one scope, by attribute name.
type ScopeKeys = HashMap<String, KeyAcc, SeededXxh3>;

/// Accumulates the index over the batches of a block.
pub struct TagIndexBuilder {
    scopes: BTreeMap<&'static str, ScopeKeys>,
    /// String bytes still allowed.
    budget: usize,
}

impl Default for TagIndexBuilder {
    fn default() -> Self {
        TagIndexBuilder {
            scopes: BTreeMap::new(),
            budget: MAX_VALUE_BYTES,
        }
    }
}

/// One observed value, borrowed.
enum Seen<'a> {
    Str(&'a str),
    Int(i64),
    Float(f64),
    Bool(bool),
    Other,
    /// Name only (values of this scope are not indexed).
    Nothing,
}

impl TagIndexBuilder {
    fn observe(&mut self, scope: &'static str, key: &str, value: Seen<'_>) {
        let keys = self.scopes.entry(scope).or_default();
        observe_in(keys, &mut self.budget, key, value);
    }

    fn observe_any(&mut self, scope: &'static str, kv: &KeyValue) {
        let value = match kv.value.as_ref().and_then(|v: &AnyValue| v.value.as_ref()) {
            Some(Value::StringValue(s)) => Seen::Str(s),
            Some(Value::IntValue(i)) => Seen::Int(*i),
            Some(Value::DoubleValue(f)) => Seen::Float(*f),
            Some(Value::BoolValue(b)) => Seen::Bool(*b),
            _ => Seen::Other,
        };
        self.observe(scope, &kv.key, value);
    }

    /// Adds the rows of one `tc2` batch (the full schema, as the encoder builds it).
    // PERFORMANCE-CRITICAL: runs on every block built; one pass over the attribute entries,
    // a hash probe per entry, no allocation for values already seen.
    pub fn add_batch(&mut self, batch: &RecordBatch) -> Result<(), BlockError> {
        let column = |c: usize| batch.column(c);
        // Span attributes with their typed values.
        let list = column(col::ATTRIBUTES).as_list::<i32>();
        let items = list.values().as_struct();
        let keys = items.column(attr::KEY).as_string::<i32>();
        let strs = items.column(attr::STR).as_string::<i32>();
        let ints = items.column(attr::INT).as_primitive::<Int64Type>();
        let floats = items.column(attr::DOUBLE).as_primitive::<Float64Type>();
        let bools = items.column(attr::BOOL).as_boolean();
        let offsets = list.value_offsets();
        let (first, last) = (
            offsets.first().copied().unwrap_or(0) as usize,
            offsets.last().copied().unwrap_or(0) as usize,
        );
        let span_keys = self.scopes.entry("span").or_default();
        for i in first..last {
            let value = if strs.is_valid(i) {
                Seen::Str(strs.value(i))
            } else if ints.is_valid(i) {
                Seen::Int(ints.value(i))
            } else if floats.is_valid(i) {
                Seen::Float(floats.value(i))
            } else if bools.is_valid(i) {
                Seen::Bool(bools.value(i))
            } else {
                Seen::Other
            };
            observe_in(span_keys, &mut self.budget, keys.value(i), value);
        }
        // Dedicated span attributes (`tc2`): text and int values per row, labels once per
        // dictionary value used.
        for (s, d) in DEDICATED.iter().enumerate() {
            let array = column(col::DEDICATED_FIRST + s);
            match d.kind {
                DedicatedKind::Text => {
                    for v in array.as_string::<i32>().iter().flatten() {
                        self.observe("span", d.key, Seen::Str(v));
                    }
                }
                DedicatedKind::Label => {
                    let dict = array.as_dictionary::<Int32Type>();
                    let values = dict.values().as_string::<i32>();
                    for i in used_keys(dict.keys(), values.len()) {
                        self.observe("span", d.key, Seen::Str(values.value(i)));
                    }
                }
                DedicatedKind::Int => {
                    for v in array.as_primitive::<Int64Type>().iter().flatten() {
                        self.observe("span", d.key, Seen::Int(v));
                    }
                }
            }
        }
        // Span names (intrinsic `name`).
        let names = column(col::NAME).as_string::<i32>();
        for row in 0..names.len() {
            self.observe("intrinsic", "name", Seen::Str(names.value(row)));
        }
        // Resources and scopes: once per dictionary value used.
        let resources = column(col::RESOURCE).as_dictionary::<Int32Type>();
        let resource_values = resources.values().as_binary::<i32>();
        for i in used_keys(resources.keys(), resource_values.len()) {
            let rs = ResourceSpans::decode(resource_values.value(i))
                .map_err(|e| BlockError::Corrupt(format!("resource column: {e}")))?;
            for kv in rs.resource.iter().flat_map(|r| &r.attributes) {
                self.observe_any("resource", kv);
            }
        }
        let scopes = column(col::SCOPE).as_dictionary::<Int32Type>();
        let scope_values = scopes.values().as_binary::<i32>();
        for i in used_keys(scopes.keys(), scope_values.len()) {
            let ss = ScopeSpans::decode(scope_values.value(i))
                .map_err(|e| BlockError::Corrupt(format!("scope column: {e}")))?;
            for kv in ss.scope.iter().flat_map(|s| &s.attributes) {
                self.observe_any("instrumentation", kv);
            }
        }
        // Event and link attribute names.
        for (column_index, child, scope) in [
            (col::EVENTS, event::ATTRIBUTES, "event"),
            (col::LINKS, link::ATTRIBUTES, "link"),
        ] {
            let list = column(column_index).as_list::<i32>();
            let offsets = list.value_offsets();
            let (first, last) = (
                offsets.first().copied().unwrap_or(0) as usize,
                offsets.last().copied().unwrap_or(0) as usize,
            );
            if first == last {
                continue;
            }
            let encoded = list.values().as_struct().column(child).as_binary::<i32>();
            let scope_keys = self.scopes.entry(scope).or_default();
            for i in first..last {
                key_value_list_keys(encoded.value(i), |key| {
                    observe_in(scope_keys, &mut self.budget, key, Seen::Nothing)
                })
                .map_err(|e| BlockError::Corrupt(format!("{scope} attributes: {e}")))?;
            }
        }
        Ok(())
    }

    pub fn finish(self) -> BlockTagIndex {
        BlockTagIndex {
            scopes: self
                .scopes
                .into_iter()
                .map(|(scope, keys)| {
                    (
                        scope.to_owned(),
                        keys.into_iter().map(|(k, acc)| (k, acc.finish())).collect(),
                    )
                })
                .collect(),
        }
    }
}

/// Records `value` under `key` in one scope's accumulators, within the string `budget`.
// PERFORMANCE-CRITICAL: once per attribute entry of every block built; two hash probes, no
// allocation for names and values already seen.
fn observe_in(keys: &mut ScopeKeys, budget: &mut usize, key: &str, value: Seen<'_>) {
    let acc = match keys.get_mut(key) {
        Some(acc) => acc,
        None => keys.entry(key.to_owned()).or_default(),
    };
    if !acc.complete {
        return;
    }
    let (fresh, new_bytes) = match &value {
        Seen::Str(s) => {
            let fresh = !acc.strings.contains(*s);
            (fresh, if fresh { s.len() } else { 0 })
        }
        Seen::Int(i) => (!acc.ints.contains(i), 0),
        Seen::Float(f) => (!acc.floats.iter().any(|x| x.to_bits() == f.to_bits()), 0),
        Seen::Bool(b) => (!acc.bools[usize::from(*b)], 0),
        Seen::Other => {
            acc.other = true;
            (false, 0)
        }
        Seen::Nothing => {
            acc.complete = false;
            (false, 0)
        }
    };
    if !fresh {
        return;
    }
    if acc.count() >= MAX_VALUES_PER_KEY || new_bytes > *budget {
        acc.drop_values(budget);
        return;
    }
    *budget -= new_bytes;
    match value {
        Seen::Str(s) => {
            acc.strings.insert(s.to_owned());
        }
        Seen::Int(i) => {
            acc.ints.insert(i);
        }
        Seen::Float(f) => acc.floats.push(f),
        Seen::Bool(b) => acc.bools[usize::from(b)] = true,
        Seen::Other | Seen::Nothing => {}
    }
}

/// Calls `each` with the key of every `KeyValue` of an encoded `KeyValueList`, walking the
/// bytes in place (the last `key` field of an entry wins, as when decoding).
fn key_value_list_keys(encoded: &[u8], mut each: impl FnMut(&str)) -> Result<(), BlockError> {
    let mut list = Reader::new(encoded, 0..encoded.len());
    while let Some((field, value)) = list.next_field()? {
        let (1, WireValue::Len(entry)) = (field, value) else {
            continue;
        };
        let mut key: Range<usize> = 0..0;
        let mut kv = Reader::new(encoded, entry);
        while let Some((field, value)) = kv.next_field()? {
            if let (1, WireValue::Len(range)) = (field, value) {
                key = range;
            }
        }
        let key = std::str::from_utf8(&encoded[key])
            .map_err(|e| BlockError::Corrupt(format!("attribute key: {e}")))?;
        each(key);
    }
    Ok(())
}

/// Dictionary values referenced by at least one key.
fn used_keys(keys: &arrow::array::Int32Array, len: usize) -> Vec<usize> {
    let mut used = vec![false; len];
    for k in keys.iter().flatten() {
        if let Some(u) = used.get_mut(k as usize) {
            *u = true;
        }
    }
    used.iter()
        .enumerate()
        .filter_map(|(i, u)| u.then_some(i))
        .collect()
}

#[cfg(test)]
mod tests {
    use tracecore_proto::otlp::{InstrumentationScope, Resource, ScopeSpans, Span};

    use super::*;
    use crate::block::{BlockEncoder, BlockEncoderOptions};

    fn kv(key: &str, value: Value) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(value) }),
        }
    }

    fn trace(n: u32, service: &str, attributes: Vec<KeyValue>) -> ([u8; 16], Vec<ResourceSpans>) {
        let mut id = [0u8; 16];
        id[12..].copy_from_slice(&n.to_be_bytes());
        let rs = ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", Value::StringValue(service.into()))],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope::default()),
                spans: vec![Span {
                    trace_id: id.to_vec(),
                    span_id: vec![1; 8],
                    name: format!("op-{}", n % 3),
                    start_time_unix_nano: 1,
                    end_time_unix_nano: 2,
                    attributes,
                    ..Span::default()
                }],
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        };
        (id, vec![rs])
    }

    #[test]
    fn names_values_and_the_per_key_cap() {
        let mut enc = BlockEncoder::new("t", 0, BlockEncoderOptions::default()).expect("encoder");
        for n in 0..(MAX_VALUES_PER_KEY as u32 + 10) {
            let attrs = vec![
                kv("http.status_code", Value::IntValue(200 + i64::from(n % 2))),
                kv("request.id", Value::StringValue(format!("req-{n}"))),
                kv("retry", Value::BoolValue(n % 2 == 0)),
            ];
            let service = if n % 2 == 0 { "cart" } else { "shop" };
            let (id, rs) = trace(n, service, attrs);
            enc.push_trace(&id, &rs).expect("push");
        }
        let block = enc.finish().expect("finish");
        let index = BlockTagIndex::from_json(&block.tag_index).expect("json");
        let service = index
            .values("resource", "service.name")
            .expect("service.name");
        assert!(service.complete);
        assert_eq!(service.strings, vec!["cart".to_owned(), "shop".to_owned()]);
        let codes = index.values("span", "http.status_code").expect("codes");
        assert_eq!((codes.complete, codes.ints.clone()), (true, vec![200, 201]));
        assert_eq!(
            index.values("span", "retry").expect("retry").bools,
            vec![false, true]
        );
        let ids = index.values("span", "request.id").expect("request.id");
        assert!(
            !ids.complete && ids.strings.is_empty(),
            "over the cap: name kept, values dropped"
        );
        let names = index.values("intrinsic", "name").expect("names");
        assert_eq!(names.strings.len(), 3);
    }

    #[test]
    fn event_and_link_names_are_read_from_the_encoded_lists_in_place() {
        let list = tracecore_proto::otlp::KeyValueList {
            values: vec![
                kv("exception.type", Value::StringValue("E".into())),
                kv("exception.message", Value::IntValue(3)),
            ],
        };
        let mut keys = Vec::new();
        key_value_list_keys(&list.encode_to_vec(), |k| keys.push(k.to_owned())).expect("walk");
        assert_eq!(keys, ["exception.type", "exception.message"]);
        // A length running past the end and a key that is not UTF-8 are errors, not panics.
        assert!(key_value_list_keys(&[0x0a, 0x05, 0x0a], |_| {}).is_err());
        assert!(key_value_list_keys(&[0x0a, 0x03, 0x0a, 0x01, 0xff], |_| {}).is_err());
    }
}
