//! serde helpers for Zipkin JSON tag values: an object read as an ordered list of string pairs
//! borrowed from the body where they have no escapes, and scalar values (string, number,
//! boolean, null) kept as text.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

/// A JSON object of tags in document order; a repeated key appears twice (the converter keeps
/// the last value).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct TagList<'a>(pub Vec<(Cow<'a, str>, Cow<'a, str>)>);

// PERFORMANCE-CRITICAL: per tag. Keys and string values borrow from the body (no allocation)
// unless they contain escapes.
impl<'de: 'a, 'a> Deserialize<'de> for TagList<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<TagList<'a>, D::Error> {
        struct TagListVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for TagListVisitor<'a> {
            type Value = TagList<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of tags")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TagList<'a>, A::Error> {
                let mut tags = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
                while let Some((key, value)) = map.next_entry::<Text<'a>, ScalarCow<'a>>()? {
                    tags.push((key.0, value.0));
                }
                Ok(TagList(tags))
            }
        }
        deserializer.deserialize_map(TagListVisitor(std::marker::PhantomData))
    }
}

/// A JSON string, borrowed when it has no escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Text<'a>, D::Error> {
        struct TextVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(TextVisitor(std::marker::PhantomData))
    }
}

/// [`ScalarText`] borrowing strings without escapes.
struct ScalarCow<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for ScalarCow<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ScalarCow<'a>, D::Error> {
        struct ScalarVisitor<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for ScalarVisitor<'a> {
            type Value = ScalarCow<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<ScalarCow<'a>, E> {
                Ok(ScalarCow(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ScalarCow<'a>, E> {
                Ok(ScalarCow(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<ScalarCow<'a>, E> {
                Ok(ScalarCow(Cow::Owned(v)))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<ScalarCow<'a>, E> {
                Ok(ScalarCow(Cow::Borrowed(if v { "true" } else { "false" })))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ScalarCow<'a>, E> {
                Ok(ScalarCow(Cow::Owned(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ScalarCow<'a>, E> {
                Ok(ScalarCow(Cow::Owned(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ScalarCow<'a>, E> {
                Ok(ScalarCow(Cow::Owned(v.to_string())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<ScalarCow<'a>, E> {
                Ok(ScalarCow(Cow::Borrowed("")))
            }
        }
        deserializer.deserialize_any(ScalarVisitor(std::marker::PhantomData))
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
        let tags: TagList = serde_json::from_str(
            r#"{"z":"1","a":2,"m":true,"n":null,"f":1.5,"z":"3","e\u0041":"\"q"}"#,
        )
        .expect("tags");
        let expected = [
            ("z", "1"),
            ("a", "2"),
            ("m", "true"),
            ("n", ""),
            ("f", "1.5"),
            ("z", "3"),
            ("eA", "\"q"),
        ];
        let expected: Vec<(Cow<'_, str>, Cow<'_, str>)> = expected
            .iter()
            .map(|(k, v)| (Cow::Borrowed(*k), Cow::Borrowed(*v)))
            .collect();
        assert_eq!(tags.0, expected);
        assert!(matches!(tags.0[0].0, Cow::Borrowed(_)), "plain keys borrow");
    }

    #[test]
    fn nested_values_are_refused() {
        assert!(serde_json::from_str::<TagList>(r#"{"a":[1]}"#).is_err());
        assert!(serde_json::from_str::<TagList>(r#"{"a":{"b":1}}"#).is_err());
        assert!(serde_json::from_str::<TagList>(r#"["a"]"#).is_err());
    }
}
