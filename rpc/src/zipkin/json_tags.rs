//! serde helpers for Zipkin JSON tag values: an object read as an ordered list of string pairs,
//! and scalar values (string, number, boolean, null) kept as text.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

/// A JSON object of tags in document order; a repeated key appears twice (the converter keeps
/// the last value).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct TagList(pub Vec<(String, String)>);

impl<'de> Deserialize<'de> for TagList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<TagList, D::Error> {
        struct TagListVisitor;
        impl<'de> Visitor<'de> for TagListVisitor {
            type Value = TagList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of tags")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TagList, A::Error> {
                let mut tags = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
                while let Some((key, value)) = map.next_entry::<String, ScalarText>()? {
                    tags.push((key, value.0));
                }
                Ok(TagList(tags))
            }
        }
        deserializer.deserialize_map(TagListVisitor)
    }
}

/// A scalar JSON value as text: strings as they are, numbers and booleans as written, `null`
/// as the empty string. Arrays and objects are refused.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct ScalarText(pub String);

impl<'de> Deserialize<'de> for ScalarText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ScalarText, D::Error> {
        struct ScalarVisitor;
        impl Visitor<'_> for ScalarVisitor {
            type Value = ScalarText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<ScalarText, E> {
                Ok(ScalarText(v))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<ScalarText, E> {
                Ok(ScalarText::default())
            }
        }
        deserializer.deserialize_any(ScalarVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_keep_order_and_stringify_scalars() {
        let tags: TagList =
            serde_json::from_str(r#"{"z":"1","a":2,"m":true,"n":null,"f":1.5,"z":"3"}"#)
                .expect("tags");
        let expected = [
            ("z", "1"),
            ("a", "2"),
            ("m", "true"),
            ("n", ""),
            ("f", "1.5"),
            ("z", "3"),
        ];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        assert_eq!(tags.0, expected);
    }

    #[test]
    fn nested_values_are_refused() {
        assert!(serde_json::from_str::<TagList>(r#"{"a":[1]}"#).is_err());
        assert!(serde_json::from_str::<TagList>(r#"{"a":{"b":1}}"#).is_err());
        assert!(serde_json::from_str::<TagList>(r#"["a"]"#).is_err());
    }
}
