//! An insertion-ordered attribute map with the OpenTelemetry Collector's `pcommon.Map`
//! semantics, used while converting Jaeger and Zipkin spans to OTLP.
//!
//! `put` replaces the value of an existing key in place (the first occurrence keeps its
//! position) and appends new keys; `remove` drops a key, and a later `put` of the same key
//! appends it again. Lookups are linear for the few tags a span usually has and switch to a hash
//! index past [`INDEX_THRESHOLD`] entries, so a span with 100,000 distinct tags costs O(n), not
//! O(n²).

use std::collections::HashMap;

use tracecore_proto::otlp::{AnyValue, KeyValue, any_value::Value};

/// Entries above which key lookups go through a hash index. A linear scan compares lengths
/// first and is cheaper than hashing (and cloning every key into the index) for the few dozen
/// tags a span with resource tags copied onto it carries (Zipkin); the index only has to keep
/// hostile spans with thousands of tags linear.
const INDEX_THRESHOLD: usize = 64;

/// Ordered attributes under construction; see the module docs.
#[derive(Debug, Default)]
pub(crate) struct AttributeMap {
    /// `None` marks a removed entry; `into_vec` skips it.
    entries: Vec<Option<KeyValue>>,
    /// Key → position in `entries`, built once the map grows past [`INDEX_THRESHOLD`].
    index: Option<HashMap<String, usize>>,
}

impl AttributeMap {
    pub(crate) fn with_capacity(capacity: usize) -> AttributeMap {
        AttributeMap {
            entries: Vec::with_capacity(capacity.min(64)),
            index: None,
        }
    }

    fn position(&self, key: &str) -> Option<usize> {
        match &self.index {
            Some(index) => index.get(key).copied(),
            None => self
                .entries
                .iter()
                .position(|e| e.as_ref().is_some_and(|kv| kv.key == key)),
        }
    }

    /// Sets `key` to `value`: in place when the key exists, appended otherwise.
    pub(crate) fn put(&mut self, key: String, value: Value) {
        let value = Some(AnyValue { value: Some(value) });
        if let Some(i) = self.position(&key) {
            if let Some(kv) = self.entries.get_mut(i).and_then(Option::as_mut) {
                kv.value = value;
            }
            return;
        }
        let at = self.entries.len();
        if let Some(index) = &mut self.index {
            index.insert(key.clone(), at);
        }
        self.entries.push(Some(KeyValue { key, value }));
        if self.index.is_none() && self.entries.len() > INDEX_THRESHOLD {
            let index = self
                .entries
                .iter()
                .enumerate()
                .filter_map(|(i, e)| e.as_ref().map(|kv| (kv.key.clone(), i)))
                .collect();
            self.index = Some(index);
        }
    }

    pub(crate) fn put_str(&mut self, key: &str, value: impl Into<String>) {
        self.put(key.to_owned(), Value::StringValue(value.into()));
    }

    /// The value of `key`, if present.
    pub(crate) fn get(&self, key: &str) -> Option<&Value> {
        let i = self.position(key)?;
        self.entries
            .get(i)?
            .as_ref()?
            .value
            .as_ref()?
            .value
            .as_ref()
    }

    /// Whether `key` is present.
    pub(crate) fn contains(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// Removes `key` and returns its value.
    pub(crate) fn remove(&mut self, key: &str) -> Option<Value> {
        let i = self.position(key)?;
        if let Some(index) = &mut self.index {
            index.remove(key);
        }
        let kv = self.entries.get_mut(i)?.take()?;
        kv.value?.value
    }

    /// The attributes in order.
    pub(crate) fn into_vec(self) -> Vec<KeyValue> {
        self.entries.into_iter().flatten().collect()
    }
}

/// pdata's `Value.Str()`: the string of a string value, `""` for every other type.
pub(crate) fn str_or_empty(value: &Value) -> &str {
    match value {
        Value::StringValue(s) => s,
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(map: AttributeMap) -> Vec<(String, Option<Value>)> {
        map.into_vec()
            .into_iter()
            .map(|kv| (kv.key, kv.value.and_then(|v| v.value)))
            .collect()
    }

    #[test]
    fn put_replaces_in_place_and_remove_then_put_appends() {
        let mut m = AttributeMap::default();
        m.put_str("a", "1");
        m.put_str("b", "2");
        m.put_str("a", "3");
        assert_eq!(m.get("a"), Some(&Value::StringValue("3".into())));
        assert_eq!(m.remove("a"), Some(Value::StringValue("3".into())));
        assert!(!m.contains("a"));
        m.put_str("a", "4");
        assert_eq!(
            keys(m),
            vec![
                ("b".into(), Some(Value::StringValue("2".into()))),
                ("a".into(), Some(Value::StringValue("4".into()))),
            ]
        );
    }

    #[test]
    fn indexed_map_behaves_like_the_linear_one() {
        let mut m = AttributeMap::default();
        for i in 0..100 {
            m.put(format!("k{i}"), Value::IntValue(i));
        }
        m.put("k3".into(), Value::IntValue(-3));
        assert_eq!(m.remove("k50"), Some(Value::IntValue(50)));
        assert_eq!(m.remove("k50"), None);
        m.put("k50".into(), Value::IntValue(500));
        assert_eq!(m.get("k3"), Some(&Value::IntValue(-3)));
        let all = keys(m);
        assert_eq!(all.len(), 100);
        assert_eq!(all[3], ("k3".into(), Some(Value::IntValue(-3))));
        assert_eq!(all[99], ("k50".into(), Some(Value::IntValue(500))));
    }

    #[test]
    fn str_or_empty_is_empty_for_non_strings() {
        assert_eq!(str_or_empty(&Value::IntValue(1)), "");
        assert_eq!(str_or_empty(&Value::StringValue("x".into())), "x");
    }
}
