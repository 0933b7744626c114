//! Tag names and values (TEMPO-SPEC §1.6, §1.7, §4.7): `/api/search/tags`,
//! `/api/v2/search/tags`, `/api/search/tag/<tag>/values`, `/api/v2/search/tag/<tag>/values`.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};
use tracecore_engine::scan::{RowValue, TagLookup, TagScope, TagValues};
use tracecore_traceql::{
    Attribute, AttributeScope, FieldExpr, Intrinsic, QueryBody, SpansetExpr, Stage,
    format_duration, format_float,
};

use super::search::{now_seconds, parse_range};
use super::search_json::{kind_name, status_name};
use super::trace_by_id::tenant;
use super::{ApiError, ApiState};
use crate::query::search::SearchError;
use crate::query::tags::{TagQuery, tag_names, tag_values};
use crate::tempo_json::{write_str, write_u64};

/// The tenant's `read.max_bytes_per_tag_values_query` (0: unlimited).
fn tag_budget(state: &ApiState, headers: &HeaderMap) -> Result<usize, ApiError> {
    let tenant = tenant(state, headers)?;
    let bytes = state
        .overrides
        .limits_for(tenant.as_str())
        .max_bytes_per_tag_values_query;
    Ok(match usize::try_from(bytes) {
        Ok(0) | Err(_) => usize::MAX,
        Ok(b) => b,
    })
}

/// The fixed intrinsic list of `/api/v2/search/tags` (TEMPO-SPEC §1.6.2).
pub const INTRINSIC_TAGS: [&str; 25] = [
    "duration",
    "name",
    "status",
    "statusMessage",
    "kind",
    "rootServiceName",
    "rootName",
    "traceDuration",
    "event:name",
    "event:timeSinceStart",
    "link:spanID",
    "link:traceID",
    "instrumentation:name",
    "instrumentation:version",
    "trace:id",
    "span:id",
    "span:parentID",
    "span:status",
    "span:statusMessage",
    "span:duration",
    "span:name",
    "span:kind",
    "trace:rootName",
    "trace:rootService",
    "trace:duration",
];

type Params = HashMap<String, String>;

enum ScopeParam {
    /// Empty or `none`: every attribute scope (+ intrinsics on v2).
    All,
    Intrinsic,
    One(TagScope),
}

fn scope_param(params: &Params) -> Result<ScopeParam, ApiError> {
    match params.get("scope").map(String::as_str).unwrap_or("") {
        "" | "none" => Ok(ScopeParam::All),
        "intrinsic" => Ok(ScopeParam::Intrinsic),
        s => TagScope::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .map(ScopeParam::One)
            .ok_or_else(|| ApiError::bad_request(format!("invalid scope: {s}"))),
    }
}

fn count_param(params: &Params, name: &str) -> Result<usize, ApiError> {
    match params.get(name).map(String::as_str) {
        None | Some("") => Ok(0),
        Some(v) => v.parse::<usize>().map_err(|_| {
            ApiError::bad_request(format!(
                "invalid {name}: strconv.Atoi: parsing {v:?}: invalid syntax"
            ))
        }),
    }
}

/// The spanset filter of `q`, leniently: anything that is not one valid `{ ... }` is ignored.
fn filter_param(params: &Params) -> Option<FieldExpr> {
    let q = params.get("q").filter(|q| !q.trim().is_empty())?;
    let query = tracecore_traceql::parse_and_validate(q).ok()?;
    match query.body {
        QueryBody::Search(p) => match p.stages.as_slice() {
            [Stage::Spanset(SpansetExpr::Filter(f))] => Some(f.expr.clone()),
            _ => None,
        },
        QueryBody::Metrics(_) => None,
    }
}

fn internal(e: SearchError) -> ApiError {
    tracing::error!(error = %e, "tag lookup failed");
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

fn json(body: Vec<u8>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

fn write_metrics(out: &mut Vec<u8>, inspected: u64) {
    out.extend_from_slice(b"\"metrics\":{");
    if inspected > 0 {
        out.extend_from_slice(b"\"inspectedBytes\":\"");
        write_u64(out, inspected);
        out.push(b'"');
    }
    out.push(b'}');
}

/// Names within the byte budget and the count limit (0 = none), sorted.
fn capped<'a>(
    names: impl Iterator<Item = &'a String>,
    limit: usize,
    budget: &mut usize,
) -> Vec<&'a str> {
    let mut out = Vec::new();
    for n in names {
        if (limit > 0 && out.len() >= limit) || n.len() > *budget {
            break;
        }
        *budget -= n.len();
        out.push(n.as_str());
    }
    out
}

async fn names(
    state: &ApiState,
    params: &Params,
    headers: &HeaderMap,
    scopes: &[TagScope],
    filter: Option<FieldExpr>,
) -> Result<(std::collections::BTreeMap<TagScope, BTreeSet<String>>, u64), ApiError> {
    let tenant = tenant(state, headers)?;
    if scopes.is_empty() {
        return Ok((Default::default(), 0));
    }
    let range = parse_range(params, now_seconds())?;
    let shards = state.shards()?;
    let lookup =
        TagLookup::names(filter, scopes).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let q = TagQuery {
        shards,
        catalog: &state.catalog,
        tenant: &tenant,
        range_seconds: range,
    };
    let (names, inspected) = tag_names(&q, &lookup).await.map_err(internal)?;
    Ok((names.scopes, inspected))
}

/// `GET /api/search/tags`: span and resource names (or the intrinsic list), sorted.
pub async fn v1_names(
    State(state): State<Arc<ApiState>>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let run = async {
        let scope = scope_param(&params)?;
        let limit = count_param(&params, "limit")?;
        count_param(&params, "maxStaleValues")?;
        let (merged, inspected): (BTreeSet<String>, u64) = match scope {
            ScopeParam::Intrinsic => (INTRINSIC_TAGS.iter().map(|s| (*s).to_owned()).collect(), 0),
            ScopeParam::All => {
                let (scopes, inspected) = names(
                    &state,
                    &params,
                    &headers,
                    &[TagScope::Resource, TagScope::Span],
                    None,
                )
                .await?;
                (scopes.into_values().flatten().collect(), inspected)
            }
            ScopeParam::One(s) => {
                let (scopes, inspected) = names(&state, &params, &headers, &[s], None).await?;
                (scopes.into_values().flatten().collect(), inspected)
            }
        };
        let mut budget = tag_budget(&state, &headers)?;
        let mut out = b"{\"tagNames\":[".to_vec();
        for (i, n) in capped(merged.iter(), limit, &mut budget)
            .into_iter()
            .enumerate()
        {
            if i > 0 {
                out.push(b',');
            }
            write_str(&mut out, n);
        }
        out.extend_from_slice(b"],");
        write_metrics(&mut out, inspected);
        out.push(b'}');
        Ok::<_, ApiError>(out)
    };
    match run.await {
        Ok(body) => json(body),
        Err(e) => e.into_response(),
    }
}

/// `GET /api/v2/search/tags`: names grouped by scope, `intrinsic` added for empty/intrinsic scope.
pub async fn v2_names(
    State(state): State<Arc<ApiState>>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let run = async {
        let scope = scope_param(&params)?;
        let limit = count_param(&params, "limit")?;
        count_param(&params, "maxStaleValues")?;
        let filter = filter_param(&params);
        let (scopes, with_intrinsics): (Vec<TagScope>, bool) = match scope {
            ScopeParam::All => (TagScope::ALL.to_vec(), true),
            ScopeParam::Intrinsic => (Vec::new(), true),
            ScopeParam::One(s) => (vec![s], false),
        };
        let (found, inspected) = names(&state, &params, &headers, &scopes, filter).await?;
        let mut budget = tag_budget(&state, &headers)?;
        let mut out = b"{\"scopes\":[".to_vec();
        let mut first = true;
        for s in &scopes {
            let Some(set) = found.get(s).filter(|set| !set.is_empty()) else {
                continue;
            };
            if !first {
                out.push(b',');
            }
            first = false;
            write_scope(&mut out, s.as_str(), capped(set.iter(), limit, &mut budget));
        }
        if with_intrinsics {
            if !first {
                out.push(b',');
            }
            let mut intrinsics: Vec<&str> = INTRINSIC_TAGS.to_vec();
            intrinsics.sort_unstable();
            write_scope(&mut out, "intrinsic", intrinsics);
        }
        out.extend_from_slice(b"],");
        write_metrics(&mut out, inspected);
        out.push(b'}');
        Ok::<_, ApiError>(out)
    };
    match run.await {
        Ok(body) => json(body),
        Err(e) => e.into_response(),
    }
}

fn write_scope(out: &mut Vec<u8>, name: &str, tags: Vec<&str>) {
    out.extend_from_slice(b"{\"name\":");
    write_str(out, name);
    out.extend_from_slice(b",\"tags\":[");
    for (i, t) in tags.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, t);
    }
    out.extend_from_slice(b"]}");
}

async fn values(
    state: &ApiState,
    params: &Params,
    headers: &HeaderMap,
    targets: Vec<FieldExpr>,
    filter: Option<FieldExpr>,
) -> Result<(Vec<RowValue>, u64), ApiError> {
    let tenant = tenant(state, headers)?;
    let range = parse_range(params, now_seconds())?;
    let limit = count_param(params, "limit")?;
    let stale = count_param(params, "maxStaleValues")?;
    let shards = state.shards()?;
    let lookup =
        TagLookup::values(filter, targets).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let q = TagQuery {
        shards,
        catalog: &state.catalog,
        tenant: &tenant,
        range_seconds: range,
    };
    let budget = state
        .overrides
        .limits_for(tenant.as_str())
        .max_bytes_per_tag_values_query;
    let budget = match usize::try_from(budget) {
        Ok(0) | Err(_) => usize::MAX,
        Ok(b) => b,
    };
    let (found, inspected) = tag_values(&q, &lookup, TagValues::new(budget, limit, stale))
        .await
        .map_err(internal)?;
    Ok((found.values, inspected))
}

/// A value as Tempo's v2 `{type, value}` pair.
fn typed(v: &RowValue) -> (&'static str, String) {
    match v {
        RowValue::Str(s) => ("string", s.clone()),
        RowValue::Int(i) => ("int", i.to_string()),
        RowValue::Float(f) => ("float", format_float(*f)),
        RowValue::Bool(b) => ("bool", b.to_string()),
        RowValue::Duration(d) => ("duration", format_duration(*d)),
        RowValue::Status(s) => ("keyword", status_name(*s).to_owned()),
        RowValue::Kind(k) => ("keyword", kind_name(*k).to_owned()),
        RowValue::Bytes(b) => ("string", hex::encode(b)),
    }
}

/// `GET /api/search/tag/<tag>/values`: values of a span or resource attribute, sorted.
pub async fn v1_values(
    State(state): State<Arc<ApiState>>,
    Path(tag): Path<String>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let run = async {
        let targets = vec![
            FieldExpr::Attribute(Attribute::new(AttributeScope::Span, tag.clone())),
            FieldExpr::Attribute(Attribute::new(AttributeScope::Resource, tag.clone())),
        ];
        let (found, inspected) = values(&state, &params, &headers, targets, None).await?;
        let mut set: BTreeSet<String> = found.iter().map(|v| typed(v).1).collect();
        match tag.as_str() {
            "status.code" => set.extend(["unset", "ok", "error"].map(str::to_owned)),
            "error" => {
                set.insert("true".to_owned());
            }
            _ => {}
        }
        let mut out = b"{\"tagValues\":[".to_vec();
        for (i, v) in set.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(&mut out, v);
        }
        out.extend_from_slice(b"],");
        write_metrics(&mut out, inspected);
        out.push(b'}');
        Ok::<_, ApiError>(out)
    };
    match run.await {
        Ok(body) => json(body),
        Err(e) => e.into_response(),
    }
}

/// The tag of a v2 values request as a field (TEMPO-SPEC §1.7.2).
fn parse_tag(tag: &str) -> Result<FieldExpr, ApiError> {
    let invalid = |detail: String| {
        ApiError::bad_request(format!(
            "please provide a valid tagName: failed to parse identifier {tag}: {detail}"
        ))
    };
    let query =
        tracecore_traceql::parse(&format!("{{ {tag} }}")).map_err(|e| invalid(e.to_string()))?;
    match query.body {
        QueryBody::Search(p) => match p.stages.as_slice() {
            [Stage::Spanset(SpansetExpr::Filter(f))]
                if matches!(f.expr, FieldExpr::Attribute(_) | FieldExpr::Intrinsic(_)) =>
            {
                Ok(f.expr.clone())
            }
            _ => Err(invalid("not an attribute or intrinsic".into())),
        },
        QueryBody::Metrics(_) => Err(invalid("not an attribute or intrinsic".into())),
    }
}

/// `GET /api/v2/search/tag/<tag>/values`: typed values, unsorted (first seen first).
pub async fn v2_values(
    State(state): State<Arc<ApiState>>,
    Path(tag): Path<String>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let run = async {
        let field = parse_tag(&tag)?;
        let keywords: Option<&[&str]> = match field {
            FieldExpr::Intrinsic(Intrinsic::Status) => Some(&["ok", "error", "unset"]),
            FieldExpr::Intrinsic(Intrinsic::Kind) => Some(&[
                "client",
                "server",
                "producer",
                "consumer",
                "internal",
                "unspecified",
            ]),
            FieldExpr::Intrinsic(
                Intrinsic::Duration | Intrinsic::TraceDuration | Intrinsic::EventTimeSinceStart,
            ) => Some(&[]),
            _ => None,
        };
        let (pairs, inspected): (Vec<(&str, String)>, u64) = match keywords {
            Some(words) => {
                tenant(&state, &headers)?;
                (
                    words.iter().map(|w| ("keyword", (*w).to_owned())).collect(),
                    0,
                )
            }
            None => {
                let filter = filter_param(&params);
                let (found, inspected) =
                    values(&state, &params, &headers, vec![field], filter).await?;
                (found.iter().map(typed).collect(), inspected)
            }
        };
        let mut out = b"{\"tagValues\":[".to_vec();
        for (i, (ty, v)) in pairs.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"type\":");
            write_str(&mut out, ty);
            out.extend_from_slice(b",\"value\":");
            write_str(&mut out, v);
            out.push(b'}');
        }
        out.extend_from_slice(b"],");
        write_metrics(&mut out, inspected);
        out.push(b'}');
        Ok::<_, ApiError>(out)
    };
    match run.await {
        Ok(body) => json(body),
        Err(e) => e.into_response(),
    }
}
