//! `max_attribute_bytes` (TEMPO-SPEC §6.2 step 3): truncate attribute keys and string values
//! longer than the limit, by splicing the wire bytes of an already validated request.
//!
//! What Tempo's distributor truncates, and only that: the key and the `string_value` of every
//! attribute of a resource, a scope, a span, a span event or a span link. Strings nested in
//! array or key-value-list values, span names, status messages and every other field are left
//! alone. Unlike Tempo, which cuts at the byte limit, a cut never splits a UTF-8 character: it
//! lands on the last character boundary at or below the limit, so the result stays valid UTF-8
//! and still decodes with prost.
//!
//! The rewrite is the slow path: the skim records the longest attribute key or value of a
//! request ([`super::SkimmedRequest::longest_attribute`]) and only a request over the limit is
//! rewritten, then skimmed again. The rewrite copies every byte once; unknown fields and field
//! order are kept, only the lengths on the path to a truncated string change.

use bytes::{Bytes, BytesMut};

use super::wire::{Reader, WireResult, WireType, put_varint};
use super::{Position, SkimError};

/// Attribute keys and string values truncated, by where the attribute was: the `scope` label of
/// `tempo_distributor_attributes_truncated_total`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TruncatedAttributes {
    pub resource: u64,
    pub scope: u64,
    pub span: u64,
    pub event: u64,
    pub link: u64,
}

impl TruncatedAttributes {
    /// Keys and values truncated in all.
    pub fn total(&self) -> u64 {
        self.resource + self.scope + self.span + self.event + self.link
    }

    /// `(scope label, count)` for each place an attribute can be.
    pub fn by_scope(&self) -> [(&'static str, u64); 5] {
        [
            ("resource", self.resource),
            ("scope", self.scope),
            ("span", self.span),
            ("event", self.event),
            ("link", self.link),
        ]
    }

    fn count(&mut self, owner: Owner) {
        let slot = match owner {
            Owner::Resource => &mut self.resource,
            Owner::Scope => &mut self.scope,
            Owner::Span => &mut self.span,
            Owner::Event => &mut self.event,
            Owner::Link => &mut self.link,
        };
        *slot += 1;
    }
}

/// What holds an attribute list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Owner {
    Resource,
    Scope,
    Span,
    Event,
    Link,
}

/// The messages on the way from the request to an attribute's strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Node {
    /// `ExportTraceServiceRequest` or `TracesData` (both: `resource_spans = 1`).
    Request,
    ResourceSpans,
    Resource,
    ScopeSpans,
    Scope,
    Span,
    Event,
    Link,
    /// An attribute `KeyValue` of an `Owner`.
    Attribute(Owner),
    /// The `AnyValue` of such an attribute.
    Value(Owner),
}

impl Node {
    /// The node a length-delimited `field` of `self` leads to, if it can hold attributes.
    fn child(self, field: u32) -> Option<Node> {
        Some(match (self, field) {
            (Node::Request, 1) => Node::ResourceSpans,
            (Node::ResourceSpans, 1) => Node::Resource,
            (Node::ResourceSpans, 2) => Node::ScopeSpans,
            (Node::Resource, 1) => Node::Attribute(Owner::Resource),
            (Node::ScopeSpans, 1) => Node::Scope,
            (Node::ScopeSpans, 2) => Node::Span,
            (Node::Scope, 3) => Node::Attribute(Owner::Scope),
            (Node::Span, 9) => Node::Attribute(Owner::Span),
            (Node::Span, 11) => Node::Event,
            (Node::Span, 13) => Node::Link,
            (Node::Event, 3) => Node::Attribute(Owner::Event),
            (Node::Link, 4) => Node::Attribute(Owner::Link),
            (Node::Attribute(owner), 2) => Node::Value(owner),
            _ => return None,
        })
    }

    /// The owner when `field` of `self` is a string to truncate (`KeyValue.key`,
    /// `AnyValue.string_value`).
    fn truncated_string(self, field: u32) -> Option<Owner> {
        match (self, field) {
            (Node::Attribute(owner), 1) | (Node::Value(owner), 1) => Some(owner),
            _ => None,
        }
    }
}

/// Rewrites `body`, an encoded `ExportTraceServiceRequest` (or `TracesData`) that the skim has
/// accepted, with every attribute key and string value longer than `max_bytes` cut to at most
/// `max_bytes` bytes on a UTF-8 character boundary. `max_bytes == 0` means no limit.
///
/// Returns the new body and what was cut; a body with nothing to cut comes back equal.
pub fn truncate_attributes(
    body: &[u8],
    max_bytes: usize,
) -> Result<(Bytes, TruncatedAttributes), SkimError> {
    let mut rewriter = Rewriter {
        max_bytes: if max_bytes == 0 {
            usize::MAX
        } else {
            max_bytes
        },
        truncated: TruncatedAttributes::default(),
        spare: Vec::new(),
    };
    let mut out = BytesMut::with_capacity(body.len());
    rewriter
        .rewrite(body, Node::Request, &mut out)
        .map_err(|error| SkimError::Malformed {
            at: Position::Request,
            error,
        })?;
    Ok((out.freeze(), rewriter.truncated))
}

struct Rewriter {
    max_bytes: usize,
    truncated: TruncatedAttributes,
    /// Buffers for nested messages, one per nesting level in use (reused, not reallocated).
    spare: Vec<BytesMut>,
}

impl Rewriter {
    /// Appends `input`, a message of type `node`, to `out` with its attributes truncated.
    fn rewrite(&mut self, input: &[u8], node: Node, out: &mut BytesMut) -> WireResult<()> {
        let mut r = Reader::new(input);
        while r.has_more() {
            let key_at = r.pos();
            let (field, wt) = r.key()?;
            if wt == WireType::Len {
                let key = r.slice(key_at..r.pos());
                let range = r.len_delimited(field)?;
                let value = r.slice(range);
                if let Some(owner) = node.truncated_string(field)
                    && value.len() > self.max_bytes
                {
                    let cut = &value[..char_floor(value, self.max_bytes)];
                    out.extend_from_slice(key);
                    put_varint(out, cut.len() as u64);
                    out.extend_from_slice(cut);
                    self.truncated.count(owner);
                    continue;
                }
                if let Some(child) = node.child(field) {
                    let mut inner = self.spare.pop().unwrap_or_default();
                    inner.clear();
                    self.rewrite(value, child, &mut inner)?;
                    out.extend_from_slice(key);
                    put_varint(out, inner.len() as u64);
                    out.extend_from_slice(&inner);
                    self.spare.push(inner);
                    continue;
                }
            } else {
                r.skip(field, wt, 0)?;
            }
            out.extend_from_slice(r.slice(key_at..r.pos()));
        }
        Ok(())
    }
}

/// The largest character boundary of the UTF-8 `s` at or below `max` (`max < s.len()`).
fn char_floor(s: &[u8], max: usize) -> usize {
    let mut cut = max.min(s.len());
    // A continuation byte is 0b10xx_xxxx; a boundary is any other byte (or the end).
    while cut > 0 && s.get(cut).is_some_and(|&b| b & 0xc0 == 0x80) {
        cut -= 1;
    }
    cut
}

#[cfg(test)]
mod tests;
