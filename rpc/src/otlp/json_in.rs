//! OTLP/JSON request bodies (`POST /v1/traces` with `Content-Type: application/json`) into an
//! `ExportTraceServiceRequest`.
//!
//! Follows the OTLP/JSON mapping: lowerCamelCase field names (the proto's snake_case names are
//! accepted too), trace and span IDs as hex strings (any case; empty means absent), enums as
//! integers or names (`SPAN_KIND_SERVER`), 64-bit integers as JSON strings or numbers, 32-bit
//! integers as numbers or strings, `bytesValue` as base64 (standard or URL-safe, padding
//! optional), `doubleValue` also as `"NaN"`, `"Infinity"`, `"-Infinity"`. Unknown fields and
//! `null` values are ignored. `AnyValue` nesting is bounded, and serde_json's own recursion
//! limit bounds the document depth before conversion starts.
//!
//! Not a hot path: the body is parsed into a `serde_json::Value` first; the caller then encodes
//! the result with prost and skims it like a protobuf body, so ID-length rules are checked there.

use std::fmt;

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Map, Value};
use tracecore_proto::otlp::{
    AnyValue, ArrayValue, Event, ExportTraceServiceRequest, InstrumentationScope, KeyValue,
    KeyValueList, Link, Resource, ResourceSpans, ScopeSpans, Span, SpanKind, Status, StatusCode,
    any_value,
};

/// Why an OTLP/JSON body was rejected (HTTP 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    /// Not JSON at all, or nested beyond serde_json's recursion limit.
    #[error("invalid otlp json: {0}")]
    Syntax(String),
    /// Valid JSON with a field that does not fit the OTLP/JSON mapping.
    #[error("invalid otlp json at {path}: {problem}")]
    Field {
        /// Where, e.g. `resourceSpans[0].scopeSpans[1].spans[2].traceId`.
        path: String,
        /// What is wrong.
        problem: FieldProblem,
    },
}

/// What is wrong with one JSON field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldProblem {
    /// Not 32 hex characters.
    #[error("invalid trace id {0:?}: must be 32 hex characters")]
    TraceId(String),
    /// Not 16 hex characters.
    #[error("invalid span id {0:?}: must be 16 hex characters")]
    SpanId(String),
    /// The JSON type does not fit the field.
    #[error("expected {expected}, found {found}")]
    WrongType {
        /// What the field needs.
        expected: &'static str,
        /// An excerpt of what was there.
        found: String,
    },
    /// An integer that does not fit the field or is not an integer.
    #[error("invalid {kind} {value}")]
    Integer {
        /// `uint32`, `int64`, ….
        kind: &'static str,
        /// An excerpt of the value.
        value: String,
    },
    /// A string that is not a number.
    #[error("invalid double {0}")]
    Double(String),
    /// An enum name that does not exist.
    #[error("unknown {enum_name} value {value}")]
    UnknownEnum {
        /// The enum's name.
        enum_name: &'static str,
        /// An excerpt of the value.
        value: String,
    },
    /// Not base64.
    #[error("invalid base64 {0}")]
    Base64(String),
    /// An `AnyValue` with more than one of its `*Value` fields set.
    #[error("more than one value set: {0}")]
    MultipleValues(String),
    /// `AnyValue`s nested deeper than the limit.
    #[error("attribute values nested deeper than {limit} levels")]
    TooDeep {
        /// The limit.
        limit: u32,
    },
}

/// Parses an OTLP/JSON `ExportTraceServiceRequest`.
///
/// `max_nesting_depth` bounds `AnyValue` nesting like `SkimLimits::max_nesting_depth`.
pub fn parse_export_request_json(
    body: &[u8],
    max_nesting_depth: u32,
) -> Result<ExportTraceServiceRequest, JsonError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| JsonError::Syntax(e.to_string()))?;
    let conv = Converter { max_nesting_depth };
    let root = ROOT;
    let obj = object(&value, &root)?;
    Ok(ExportTraceServiceRequest {
        resource_spans: conv.list(obj, "resourceSpans", "resource_spans", &root, |v, p| {
            conv.resource_spans(v, p)
        })?,
    })
}

/// A JSON path, built on the stack and rendered only for errors.
#[derive(Clone, Copy)]
struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    seg: Seg,
}

#[derive(Clone, Copy)]
enum Seg {
    Root,
    Key(&'static str),
    Index(usize),
}

const ROOT: Path<'static> = Path {
    parent: None,
    seg: Seg::Root,
};

impl<'a> Path<'a> {
    fn key(&'a self, key: &'static str) -> Path<'a> {
        Path {
            parent: Some(self),
            seg: Seg::Key(key),
        }
    }

    fn index(&'a self, index: usize) -> Path<'a> {
        Path {
            parent: Some(self),
            seg: Seg::Index(index),
        }
    }

    fn error(&self, problem: FieldProblem) -> JsonError {
        JsonError::Field {
            path: self.to_string(),
            problem,
        }
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(parent) = self.parent {
            write!(f, "{parent}")?;
        }
        match self.seg {
            Seg::Root => f.write_str("$"),
            Seg::Key(k) => write!(f, ".{k}"),
            Seg::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// A short excerpt of a JSON value for error messages.
fn excerpt(value: &Value) -> String {
    let text = value.to_string();
    let mut end = text.len().min(64);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    if end < text.len() {
        format!("{}…", &text[..end])
    } else {
        text
    }
}

fn wrong_type(path: &Path<'_>, expected: &'static str, found: &Value) -> JsonError {
    path.error(FieldProblem::WrongType {
        expected,
        found: excerpt(found),
    })
}

fn object<'v>(value: &'v Value, path: &Path<'_>) -> Result<&'v Map<String, Value>, JsonError> {
    value
        .as_object()
        .ok_or_else(|| wrong_type(path, "an object", value))
}

/// The value of `camel` (or its proto name `snake`), treating `null` as absent.
fn get<'v>(obj: &'v Map<String, Value>, camel: &str, snake: &str) -> Option<&'v Value> {
    obj.get(camel)
        .or_else(|| obj.get(snake))
        .filter(|v| !v.is_null())
}

fn string(
    obj: &Map<String, Value>,
    camel: &'static str,
    snake: &str,
    path: &Path<'_>,
) -> Result<String, JsonError> {
    match get(obj, camel, snake) {
        None => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(wrong_type(&path.key(camel), "a string", other)),
    }
}

fn uint32(
    obj: &Map<String, Value>,
    camel: &'static str,
    snake: &str,
    path: &Path<'_>,
) -> Result<u32, JsonError> {
    let Some(v) = get(obj, camel, snake) else {
        return Ok(0);
    };
    let parsed = match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse::<u64>().ok(),
        _ => return Err(wrong_type(&path.key(camel), "an integer", v)),
    };
    parsed.and_then(|n| u32::try_from(n).ok()).ok_or_else(|| {
        path.key(camel).error(FieldProblem::Integer {
            kind: "uint32",
            value: excerpt(v),
        })
    })
}

fn uint64(
    obj: &Map<String, Value>,
    camel: &'static str,
    snake: &str,
    path: &Path<'_>,
) -> Result<u64, JsonError> {
    let Some(v) = get(obj, camel, snake) else {
        return Ok(0);
    };
    let parsed = match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse::<u64>().ok(),
        _ => {
            return Err(wrong_type(
                &path.key(camel),
                "an integer or a decimal string",
                v,
            ));
        }
    };
    parsed.ok_or_else(|| {
        path.key(camel).error(FieldProblem::Integer {
            kind: "uint64",
            value: excerpt(v),
        })
    })
}

fn int64(v: &Value, path: &Path<'_>) -> Result<i64, JsonError> {
    let parsed = match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse::<i64>().ok(),
        _ => return Err(wrong_type(path, "an integer or a decimal string", v)),
    };
    parsed.ok_or_else(|| {
        path.error(FieldProblem::Integer {
            kind: "int64",
            value: excerpt(v),
        })
    })
}

fn double(v: &Value, path: &Path<'_>) -> Result<f64, JsonError> {
    match v {
        Value::Number(n) => n
            .as_f64()
            .ok_or_else(|| path.error(FieldProblem::Double(excerpt(v)))),
        Value::String(s) => match s.as_str() {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            _ => s
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .ok_or_else(|| path.error(FieldProblem::Double(excerpt(v)))),
        },
        _ => Err(wrong_type(path, "a number", v)),
    }
}

/// An enum given by number (any `i32`, like prost keeps it) or by its proto name.
fn enumeration(
    obj: &Map<String, Value>,
    camel: &'static str,
    snake: &str,
    path: &Path<'_>,
    enum_name: &'static str,
    names: &[(&str, i32)],
) -> Result<i32, JsonError> {
    let Some(v) = get(obj, camel, snake) else {
        return Ok(0);
    };
    let found = match v {
        Value::Number(n) => n.as_i64().and_then(|n| i32::try_from(n).ok()),
        Value::String(s) => names.iter().find(|(name, _)| name == s).map(|&(_, n)| n),
        _ => return Err(wrong_type(&path.key(camel), "an enum name or integer", v)),
    };
    found.ok_or_else(|| {
        path.key(camel).error(FieldProblem::UnknownEnum {
            enum_name,
            value: excerpt(v),
        })
    })
}

fn span_kind_names() -> [(&'static str, i32); 6] {
    [
        SpanKind::Unspecified,
        SpanKind::Internal,
        SpanKind::Server,
        SpanKind::Client,
        SpanKind::Producer,
        SpanKind::Consumer,
    ]
    .map(|k| (k.proto_name(), k as i32))
}

fn status_code_names() -> [(&'static str, i32); 3] {
    [StatusCode::Unset, StatusCode::Ok, StatusCode::Error].map(|c| (c.proto_name(), c as i32))
}

/// Which ID a hex string is.
#[derive(Clone, Copy)]
enum IdKind {
    Trace,
    Span,
}

/// A hex ID: empty (absent) or exactly 16 (trace) / 8 (span) bytes.
fn id(
    obj: &Map<String, Value>,
    camel: &'static str,
    snake: &str,
    path: &Path<'_>,
    kind: IdKind,
) -> Result<Vec<u8>, JsonError> {
    let Some(v) = get(obj, camel, snake) else {
        return Ok(Vec::new());
    };
    let path = path.key(camel);
    let Value::String(s) = v else {
        return Err(wrong_type(&path, "a hex string", v));
    };
    if s.is_empty() {
        return Ok(Vec::new());
    }
    let (want, problem): (usize, fn(String) -> FieldProblem) = match kind {
        IdKind::Trace => (16, FieldProblem::TraceId),
        IdKind::Span => (8, FieldProblem::SpanId),
    };
    match hex::decode(s) {
        Ok(bytes) if bytes.len() == want => Ok(bytes),
        _ => {
            let mut shown = s.clone();
            if shown.len() > 64 {
                let mut end = 64;
                while !shown.is_char_boundary(end) {
                    end -= 1;
                }
                shown.truncate(end);
                shown.push('…');
            }
            Err(path.error(problem(shown)))
        }
    }
}

/// Base64 decoding that accepts standard and URL-safe alphabets, padded or not.
fn base64_bytes(v: &Value, path: &Path<'_>) -> Result<Vec<u8>, JsonError> {
    const CONFIG: GeneralPurposeConfig =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    const STANDARD: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, CONFIG);
    const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, CONFIG);
    let Value::String(s) = v else {
        return Err(wrong_type(path, "a base64 string", v));
    };
    let engine = if s.contains(['-', '_']) {
        &URL_SAFE
    } else {
        &STANDARD
    };
    engine
        .decode(s)
        .map_err(|_| path.error(FieldProblem::Base64(excerpt(v))))
}

struct Converter {
    max_nesting_depth: u32,
}

impl Converter {
    /// The array at `camel`/`snake` converted element-wise; absent or `null` is empty.
    fn list<T>(
        &self,
        obj: &Map<String, Value>,
        camel: &'static str,
        snake: &str,
        path: &Path<'_>,
        mut convert: impl FnMut(&Value, &Path<'_>) -> Result<T, JsonError>,
    ) -> Result<Vec<T>, JsonError> {
        let Some(v) = get(obj, camel, snake) else {
            return Ok(Vec::new());
        };
        let path = path.key(camel);
        let Value::Array(items) = v else {
            return Err(wrong_type(&path, "an array", v));
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| convert(item, &path.index(i)))
            .collect()
    }

    /// The object at `camel`/`snake` converted, if present.
    fn optional<T>(
        &self,
        obj: &Map<String, Value>,
        camel: &'static str,
        snake: &str,
        path: &Path<'_>,
        convert: impl FnOnce(&Map<String, Value>, &Path<'_>) -> Result<T, JsonError>,
    ) -> Result<Option<T>, JsonError> {
        let Some(v) = get(obj, camel, snake) else {
            return Ok(None);
        };
        let path = path.key(camel);
        convert(object(v, &path)?, &path).map(Some)
    }

    fn resource_spans(&self, v: &Value, path: &Path<'_>) -> Result<ResourceSpans, JsonError> {
        let obj = object(v, path)?;
        Ok(ResourceSpans {
            resource: self.optional(obj, "resource", "resource", path, |o, p| {
                Ok(Resource {
                    attributes: self.attributes(o, p)?,
                    dropped_attributes_count: uint32(
                        o,
                        "droppedAttributesCount",
                        "dropped_attributes_count",
                        p,
                    )?,
                })
            })?,
            scope_spans: self.list(obj, "scopeSpans", "scope_spans", path, |v, p| {
                self.scope_spans(v, p)
            })?,
            schema_url: string(obj, "schemaUrl", "schema_url", path)?,
        })
    }

    fn scope_spans(&self, v: &Value, path: &Path<'_>) -> Result<ScopeSpans, JsonError> {
        let obj = object(v, path)?;
        Ok(ScopeSpans {
            scope: self.optional(obj, "scope", "scope", path, |o, p| {
                Ok(InstrumentationScope {
                    name: string(o, "name", "name", p)?,
                    version: string(o, "version", "version", p)?,
                    attributes: self.attributes(o, p)?,
                    dropped_attributes_count: uint32(
                        o,
                        "droppedAttributesCount",
                        "dropped_attributes_count",
                        p,
                    )?,
                })
            })?,
            spans: self.list(obj, "spans", "spans", path, |v, p| self.span(v, p))?,
            schema_url: string(obj, "schemaUrl", "schema_url", path)?,
        })
    }

    fn span(&self, v: &Value, path: &Path<'_>) -> Result<Span, JsonError> {
        let o = object(v, path)?;
        let p = path;
        Ok(Span {
            trace_id: id(o, "traceId", "trace_id", p, IdKind::Trace)?,
            span_id: id(o, "spanId", "span_id", p, IdKind::Span)?,
            trace_state: string(o, "traceState", "trace_state", p)?,
            parent_span_id: id(o, "parentSpanId", "parent_span_id", p, IdKind::Span)?,
            flags: uint32(o, "flags", "flags", p)?,
            name: string(o, "name", "name", p)?,
            kind: enumeration(o, "kind", "kind", p, "SpanKind", &span_kind_names())?,
            start_time_unix_nano: uint64(o, "startTimeUnixNano", "start_time_unix_nano", p)?,
            end_time_unix_nano: uint64(o, "endTimeUnixNano", "end_time_unix_nano", p)?,
            attributes: self.attributes(o, p)?,
            dropped_attributes_count: uint32(
                o,
                "droppedAttributesCount",
                "dropped_attributes_count",
                p,
            )?,
            events: self.list(o, "events", "events", p, |v, p| {
                let o = object(v, p)?;
                Ok(Event {
                    time_unix_nano: uint64(o, "timeUnixNano", "time_unix_nano", p)?,
                    name: string(o, "name", "name", p)?,
                    attributes: self.attributes(o, p)?,
                    dropped_attributes_count: uint32(
                        o,
                        "droppedAttributesCount",
                        "dropped_attributes_count",
                        p,
                    )?,
                })
            })?,
            dropped_events_count: uint32(o, "droppedEventsCount", "dropped_events_count", p)?,
            links: self.list(o, "links", "links", p, |v, p| {
                let o = object(v, p)?;
                Ok(Link {
                    trace_id: id(o, "traceId", "trace_id", p, IdKind::Trace)?,
                    span_id: id(o, "spanId", "span_id", p, IdKind::Span)?,
                    trace_state: string(o, "traceState", "trace_state", p)?,
                    attributes: self.attributes(o, p)?,
                    dropped_attributes_count: uint32(
                        o,
                        "droppedAttributesCount",
                        "dropped_attributes_count",
                        p,
                    )?,
                    flags: uint32(o, "flags", "flags", p)?,
                })
            })?,
            dropped_links_count: uint32(o, "droppedLinksCount", "dropped_links_count", p)?,
            status: self.optional(o, "status", "status", p, |o, p| {
                Ok(Status {
                    message: string(o, "message", "message", p)?,
                    code: enumeration(o, "code", "code", p, "StatusCode", &status_code_names())?,
                })
            })?,
        })
    }

    fn attributes(
        &self,
        obj: &Map<String, Value>,
        path: &Path<'_>,
    ) -> Result<Vec<KeyValue>, JsonError> {
        self.list(obj, "attributes", "attributes", path, |v, p| {
            self.key_value(v, p, 1)
        })
    }

    /// A `KeyValue` whose value sits at nesting `depth`.
    fn key_value(&self, v: &Value, path: &Path<'_>, depth: u32) -> Result<KeyValue, JsonError> {
        let obj = object(v, path)?;
        Ok(KeyValue {
            key: string(obj, "key", "key", path)?,
            value: self.optional(obj, "value", "value", path, |o, p| {
                self.any_value(o, p, depth)
            })?,
        })
    }

    fn any_value(
        &self,
        obj: &Map<String, Value>,
        path: &Path<'_>,
        depth: u32,
    ) -> Result<AnyValue, JsonError> {
        if depth > self.max_nesting_depth {
            return Err(path.error(FieldProblem::TooDeep {
                limit: self.max_nesting_depth,
            }));
        }
        const KEYS: [(&str, &str); 7] = [
            ("stringValue", "string_value"),
            ("boolValue", "bool_value"),
            ("intValue", "int_value"),
            ("doubleValue", "double_value"),
            ("arrayValue", "array_value"),
            ("kvlistValue", "kvlist_value"),
            ("bytesValue", "bytes_value"),
        ];
        let mut set = KEYS
            .iter()
            .filter_map(|&(camel, snake)| get(obj, camel, snake).map(|v| (camel, v)));
        let Some((key, v)) = set.next() else {
            return Ok(AnyValue { value: None });
        };
        if let Some((other, _)) = set.next() {
            return Err(path.error(FieldProblem::MultipleValues(format!("{key} and {other}"))));
        }
        let p = path.key(key);
        let value = match key {
            "stringValue" => match v {
                Value::String(s) => any_value::Value::StringValue(s.clone()),
                _ => return Err(wrong_type(&p, "a string", v)),
            },
            "boolValue" => match v {
                Value::Bool(b) => any_value::Value::BoolValue(*b),
                _ => return Err(wrong_type(&p, "a boolean", v)),
            },
            "intValue" => any_value::Value::IntValue(int64(v, &p)?),
            "doubleValue" => any_value::Value::DoubleValue(double(v, &p)?),
            "arrayValue" => {
                let o = object(v, &p)?;
                any_value::Value::ArrayValue(ArrayValue {
                    values: self.list(o, "values", "values", &p, |v, p| {
                        self.any_value(object(v, p)?, p, depth + 1)
                    })?,
                })
            }
            "kvlistValue" => {
                let o = object(v, &p)?;
                any_value::Value::KvlistValue(KeyValueList {
                    values: self.list(o, "values", "values", &p, |v, p| {
                        self.key_value(v, p, depth + 1)
                    })?,
                })
            }
            _ => any_value::Value::BytesValue(base64_bytes(v, &p)?),
        };
        Ok(AnyValue { value: Some(value) })
    }
}

#[cfg(test)]
mod tests;
