//! A Zipkin v2 span's tags sorted out in one pass: each key is looked at once to learn what the
//! Collector's mapping does with it (resource, scope, trace state, kind, status, link, endpoint
//! attribute, or a plain span attribute), so the converter never searches the tags again.
//!
//! Duplicate keys follow `pcommon.Map.PutStr`: the first occurrence keeps its position, the last
//! value wins.

use std::borrow::Cow;
use std::collections::HashMap;

use super::v2_to_otlp::RESOURCE_TAG_KEYS;
use crate::jaeger::conventions::{
    TAG_ERROR, TAG_OTEL_STATUS_CODE, TAG_OTEL_STATUS_DESCRIPTION, TAG_SPAN_KIND, TAG_W3C_TRACESTATE,
};

/// Names the resource attribute that holds the local service name, when not `service.name`.
pub(crate) const TAG_SERVICE_NAME_SOURCE: &str = "otlp.service.name.source";
pub(crate) const TAG_LIBRARY_NAME: &str = "otel.library.name";
pub(crate) const TAG_LIBRARY_VERSION: &str = "otel.library.version";
/// Links encoded as tags by the Collector's Zipkin exporter: `otlp.link.0`, `otlp.link.1`, …
const LINK_TAG_PREFIX: &str = "otlp.link.";
pub(crate) const MAX_LINK_TAGS: usize = 128;

/// The attributes the endpoints set, in [`EndpointKey`] order.
pub(crate) const ENDPOINT_KEYS: [&str; 5] = [
    "net.host.ip",
    "net.host.port",
    "peer.service",
    "net.peer.ip",
    "net.peer.port",
];

/// What the mapping does with one tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TagRole {
    /// A span attribute.
    Attribute,
    /// An attribute the endpoints may set too (`put` semantics): index into [`ENDPOINT_KEYS`].
    Endpoint(u8),
    /// A resource convention: index into [`RESOURCE_TAG_KEYS`]. Never a span attribute.
    Resource(u8),
    ServiceNameSource,
    LibraryName,
    LibraryVersion,
    TraceState,
    SpanKind,
    StatusCode,
    StatusDescription,
    Error,
    /// `otlp.link.<n>`.
    Link(u8),
    /// Consumed by the mapping: no longer an attribute.
    Consumed,
}

impl TagRole {
    /// Roles that never become span attributes, whether or not the mapping used them.
    fn is_non_span(self) -> bool {
        matches!(
            self,
            TagRole::Resource(_)
                | TagRole::ServiceNameSource
                | TagRole::LibraryName
                | TagRole::LibraryVersion
                | TagRole::Consumed
        )
    }
}

/// [`RESOURCE_TAG_KEYS`] bucketed by first byte, with their positions: a tag is compared
/// (length first) only with the few resource keys that start like it.
static RESOURCE_KEYS_BY_FIRST_BYTE: std::sync::LazyLock<Vec<Vec<(&'static str, u8)>>> =
    std::sync::LazyLock::new(|| {
        let mut buckets = vec![Vec::new(); 256];
        for (i, key) in RESOURCE_TAG_KEYS.iter().enumerate() {
            if let (Some(&first), Ok(i)) = (key.as_bytes().first(), u8::try_from(i))
                && let Some(bucket) = buckets.get_mut(usize::from(first))
            {
                bucket.push((*key, i));
            }
        }
        buckets
    });

// PERFORMANCE-CRITICAL: once per tag. A `match` on the key compiles to length and byte
// comparisons; only keys that miss every special name reach the resource buckets.
fn classify(key: &str) -> TagRole {
    match key {
        TAG_SERVICE_NAME_SOURCE => TagRole::ServiceNameSource,
        TAG_LIBRARY_NAME => TagRole::LibraryName,
        TAG_LIBRARY_VERSION => TagRole::LibraryVersion,
        TAG_W3C_TRACESTATE => TagRole::TraceState,
        TAG_SPAN_KIND => TagRole::SpanKind,
        TAG_OTEL_STATUS_CODE => TagRole::StatusCode,
        TAG_OTEL_STATUS_DESCRIPTION => TagRole::StatusDescription,
        TAG_ERROR => TagRole::Error,
        "net.host.ip" => TagRole::Endpoint(0),
        "net.host.port" => TagRole::Endpoint(1),
        "peer.service" => TagRole::Endpoint(2),
        "net.peer.ip" => TagRole::Endpoint(3),
        "net.peer.port" => TagRole::Endpoint(4),
        _ => {
            if let Some(n) = link_number(key) {
                return TagRole::Link(n);
            }
            let bucket = key
                .as_bytes()
                .first()
                .and_then(|&b| RESOURCE_KEYS_BY_FIRST_BYTE.get(usize::from(b)));
            match bucket.and_then(|b| b.iter().find(|(k, _)| *k == key)) {
                Some(&(_, i)) => TagRole::Resource(i),
                None => TagRole::Attribute,
            }
        }
    }
}

/// `n` of `otlp.link.<n>` written as the exporter writes it (decimal, no leading zero), below
/// [`MAX_LINK_TAGS`].
fn link_number(key: &str) -> Option<u8> {
    let digits = key.strip_prefix(LINK_TAG_PREFIX)?;
    if digits.is_empty()
        || digits.len() > 3
        || (digits.len() > 1 && digits.starts_with('0'))
        || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let n: usize = digits.parse().ok()?;
    if n < MAX_LINK_TAGS {
        u8::try_from(n).ok()
    } else {
        None
    }
}

/// Tags of one span, deduplicated, each with its role, plus where the special ones are.
#[derive(Debug, Default)]
pub(crate) struct SpanTags<'a> {
    pub tags: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    pub roles: Vec<TagRole>,
    /// Position of the (last) tag with each single-valued role.
    pub service_name_source: Option<usize>,
    pub library_name: Option<usize>,
    pub library_version: Option<usize>,
    pub trace_state: Option<usize>,
    pub span_kind: Option<usize>,
    pub status_code: Option<usize>,
    pub status_description: Option<usize>,
    pub error: Option<usize>,
    /// (link number, position), in tag order.
    pub links: Vec<(u8, usize)>,
}

impl<'a> SpanTags<'a> {
    /// Sorts out `tags` (in wire order, keys possibly repeated).
    pub(crate) fn new(mut tags: Vec<(Cow<'a, str>, Cow<'a, str>)>) -> SpanTags<'a> {
        dedup_keys(&mut tags);
        let mut out = SpanTags {
            roles: Vec::with_capacity(tags.len()),
            ..SpanTags::default()
        };
        for (i, (key, _)) in tags.iter().enumerate() {
            let role = classify(key);
            let slot = match role {
                TagRole::ServiceNameSource => Some(&mut out.service_name_source),
                TagRole::LibraryName => Some(&mut out.library_name),
                TagRole::LibraryVersion => Some(&mut out.library_version),
                TagRole::TraceState => Some(&mut out.trace_state),
                TagRole::SpanKind => Some(&mut out.span_kind),
                TagRole::StatusCode => Some(&mut out.status_code),
                TagRole::StatusDescription => Some(&mut out.status_description),
                TagRole::Error => Some(&mut out.error),
                TagRole::Link(n) => {
                    out.links.push((n, i));
                    None
                }
                _ => None,
            };
            if let Some(slot) = slot {
                *slot = Some(i);
            }
            out.roles.push(role);
        }
        out.tags = tags;
        out
    }

    /// The value at `position`, if any.
    pub(crate) fn value(&self, position: Option<usize>) -> Option<&str> {
        Some(self.tags.get(position?)?.1.as_ref())
    }

    /// Marks the tag at `position` consumed and hands out its value.
    pub(crate) fn consume(&mut self, position: Option<usize>) -> Option<Cow<'a, str>> {
        let i = position?;
        let role = self.roles.get_mut(i)?;
        *role = TagRole::Consumed;
        Some(std::mem::take(&mut self.tags.get_mut(i)?.1))
    }

    /// The position of link tag `n`.
    pub(crate) fn link(&self, n: usize) -> Option<usize> {
        self.links
            .iter()
            .find(|(k, _)| usize::from(*k) == n)
            .map(|&(_, i)| i)
    }

    /// The resource-convention tags as (index into [`RESOURCE_TAG_KEYS`], value), taken out,
    /// in that list's order.
    pub(crate) fn take_resource_tags(&mut self) -> Vec<(usize, Cow<'a, str>)> {
        let mut out = Vec::new();
        for (i, role) in self.roles.iter().enumerate() {
            if let TagRole::Resource(k) = *role
                && let Some(tag) = self.tags.get_mut(i)
            {
                out.push((usize::from(k), std::mem::take(&mut tag.1)));
            }
        }
        out.sort_by_key(|(k, _)| *k);
        out
    }

    /// The tags that stay span attributes, in order, with the endpoint role of each.
    pub(crate) fn into_attributes(
        self,
    ) -> impl Iterator<Item = (Cow<'a, str>, Cow<'a, str>, TagRole)> {
        self.tags
            .into_iter()
            .zip(self.roles)
            .filter(|(_, role)| !role.is_non_span())
            .map(|((k, v), role)| (k, v, role))
    }
}

/// Keys above which duplicates are found with a hash map instead of comparing hashes.
const SMALL_TAG_COUNT: usize = 64;

// PERFORMANCE-CRITICAL: once per span. The usual span has no repeated key, which comparing
// sorted 64-bit hashes of the keys proves without comparing strings.
fn dedup_keys(tags: &mut Vec<(Cow<'_, str>, Cow<'_, str>)>) {
    if tags.len() < 2 {
        return;
    }
    if tags.len() <= SMALL_TAG_COUNT {
        let mut hashes = [0u64; SMALL_TAG_COUNT];
        for (slot, (key, _)) in hashes.iter_mut().zip(tags.iter()) {
            *slot = xxhash_rust::xxh3::xxh3_64(key.as_bytes());
        }
        let hashes = &mut hashes[..tags.len()];
        hashes.sort_unstable();
        if hashes.windows(2).all(|w| w[0] != w[1]) {
            return;
        }
    }
    let mut first: HashMap<String, usize> = HashMap::with_capacity(tags.len());
    let mut kept: Vec<(Cow<'_, str>, Cow<'_, str>)> = Vec::with_capacity(tags.len());
    for (key, value) in tags.drain(..) {
        match first.get(key.as_ref()) {
            Some(&i) => {
                if let Some(slot) = kept.get_mut(i) {
                    slot.1 = value;
                }
            }
            None => {
                first.insert(key.clone().into_owned(), kept.len());
                kept.push((key, value));
            }
        }
    }
    *tags = kept;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(pairs: &[(&str, &str)]) -> Vec<(Cow<'static, str>, Cow<'static, str>)> {
        pairs
            .iter()
            .map(|(k, v)| (Cow::Owned((*k).to_owned()), Cow::Owned((*v).to_owned())))
            .collect()
    }

    #[test]
    fn repeated_keys_keep_the_first_position_and_the_last_value() {
        let mut tags = owned(&[("a", "1"), ("b", "2"), ("a", "3"), ("c", "4"), ("b", "5")]);
        dedup_keys(&mut tags);
        assert_eq!(tags, owned(&[("a", "3"), ("b", "5"), ("c", "4")]));
        let many: Vec<(Cow<'_, str>, Cow<'_, str>)> = (0..200)
            .map(|i| (format!("k{}", i % 150).into(), i.to_string().into()))
            .collect();
        let mut deduped = many.clone();
        dedup_keys(&mut deduped);
        assert_eq!(deduped.len(), 150);
        assert_eq!(deduped[0], ("k0".into(), "150".into()));
        assert_eq!(deduped[60], ("k60".into(), "60".into()));
    }

    #[test]
    fn roles() {
        assert_eq!(classify("otlp.link.0"), TagRole::Link(0));
        assert_eq!(classify("otlp.link.127"), TagRole::Link(127));
        assert_eq!(classify("otlp.link.128"), TagRole::Attribute);
        assert_eq!(classify("otlp.link.01"), TagRole::Attribute);
        assert_eq!(classify("otlp.link."), TagRole::Attribute);
        assert_eq!(classify("otlp.link.+1"), TagRole::Attribute);
        assert_eq!(classify("http.method"), TagRole::Attribute);
        assert_eq!(classify("peer.service"), TagRole::Endpoint(2));
        assert_eq!(classify(""), TagRole::Attribute);
        for (i, key) in RESOURCE_TAG_KEYS.iter().enumerate() {
            assert_eq!(classify(key), TagRole::Resource(i as u8), "{key}");
        }
    }
}
