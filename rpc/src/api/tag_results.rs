//! Tag names and values as structured results (TEMPO-SPEC §1.6, §1.7): parameter parsing,
//! the lookups over memory and blocks, limits. Rendered as JSON by [`super::tags`] and as
//! `tempopb` messages by [`super::streaming`].

use std::collections::{BTreeMap, BTreeSet, HashMap};

use http::StatusCode;
use tracecore_engine::TenantId;
use tracecore_engine::scan::{RowValue, TagLookup, TagScope, TagValues};
use tracecore_traceql::{
    Attribute, AttributeScope, FieldExpr, Intrinsic, QueryBody, SpansetExpr, Stage,
    format_duration, format_float,
};

use super::search::{now_seconds, parse_range};
use super::search_json::{kind_name, status_name};
use super::{ApiError, ApiState};
use crate::query::search::SearchError;
use crate::query::tags::{TagQuery, tag_names, tag_values};

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

pub type Params = HashMap<String, String>;

pub(crate) enum ScopeParam {
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

/// The tenant's `read.max_bytes_per_tag_values_query` (0: unlimited).
fn tag_budget(state: &ApiState, tenant: &TenantId) -> usize {
    let bytes = state
        .overrides
        .limits_for(tenant.as_str())
        .max_bytes_per_tag_values_query;
    match usize::try_from(bytes) {
        Ok(0) | Err(_) => usize::MAX,
        Ok(b) => b,
    }
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
    tenant: &TenantId,
    params: &Params,
    scopes: &[TagScope],
    filter: Option<FieldExpr>,
) -> Result<(BTreeMap<TagScope, BTreeSet<String>>, u64), ApiError> {
    if scopes.is_empty() {
        return Ok((BTreeMap::new(), 0));
    }
    let range = parse_range(params, now_seconds())?;
    let shards = state.shards()?;
    let lookup =
        TagLookup::names(filter, scopes).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let q = TagQuery {
        shards,
        catalog: &state.catalog,
        tenant,
        memory: &state.memory,
        range_seconds: range,
    };
    let (names, inspected) = tag_names(&q, &lookup).await.map_err(internal)?;
    Ok((names.scopes, inspected))
}

/// A lookup's answer and the bytes it inspected.
pub struct TagAnswer<T> {
    pub items: T,
    pub inspected_bytes: u64,
}

/// v1 names: span and resource names (or the intrinsic list), sorted, capped.
pub async fn names_v1(
    state: &ApiState,
    tenant: &TenantId,
    params: &Params,
) -> Result<TagAnswer<Vec<String>>, ApiError> {
    let scope = scope_param(params)?;
    let limit = count_param(params, "limit")?;
    count_param(params, "maxStaleValues")?;
    let (merged, inspected): (BTreeSet<String>, u64) = match scope {
        ScopeParam::Intrinsic => (INTRINSIC_TAGS.iter().map(|s| (*s).to_owned()).collect(), 0),
        ScopeParam::All => {
            let scopes = [TagScope::Resource, TagScope::Span];
            let (found, inspected) = names(state, tenant, params, &scopes, None).await?;
            (found.into_values().flatten().collect(), inspected)
        }
        ScopeParam::One(s) => {
            let (found, inspected) = names(state, tenant, params, &[s], None).await?;
            (found.into_values().flatten().collect(), inspected)
        }
    };
    let mut budget = tag_budget(state, tenant);
    let items = capped(merged.iter(), limit, &mut budget)
        .into_iter()
        .map(str::to_owned)
        .collect();
    Ok(TagAnswer {
        items,
        inspected_bytes: inspected,
    })
}

/// v2 names: per scope (sorted names), `intrinsic` added for an empty or `intrinsic` scope.
pub async fn names_v2(
    state: &ApiState,
    tenant: &TenantId,
    params: &Params,
) -> Result<TagAnswer<Vec<(String, Vec<String>)>>, ApiError> {
    let scope = scope_param(params)?;
    let limit = count_param(params, "limit")?;
    count_param(params, "maxStaleValues")?;
    let filter = filter_param(params);
    let (scopes, with_intrinsics): (Vec<TagScope>, bool) = match scope {
        ScopeParam::All => (TagScope::ALL.to_vec(), true),
        ScopeParam::Intrinsic => (Vec::new(), true),
        ScopeParam::One(s) => (vec![s], false),
    };
    let (found, inspected) = names(state, tenant, params, &scopes, filter).await?;
    let mut budget = tag_budget(state, tenant);
    let mut items = Vec::new();
    for s in &scopes {
        if let Some(set) = found.get(s).filter(|set| !set.is_empty()) {
            let tags = capped(set.iter(), limit, &mut budget);
            items.push((
                s.as_str().to_owned(),
                tags.into_iter().map(str::to_owned).collect(),
            ));
        }
    }
    if with_intrinsics {
        let mut intrinsics: Vec<String> = INTRINSIC_TAGS.iter().map(|s| (*s).to_owned()).collect();
        intrinsics.sort_unstable();
        items.push(("intrinsic".to_owned(), intrinsics));
    }
    Ok(TagAnswer {
        items,
        inspected_bytes: inspected,
    })
}

async fn values(
    state: &ApiState,
    tenant: &TenantId,
    params: &Params,
    targets: Vec<FieldExpr>,
    filter: Option<FieldExpr>,
) -> Result<(Vec<RowValue>, u64), ApiError> {
    let range = parse_range(params, now_seconds())?;
    let limit = count_param(params, "limit")?;
    let stale = count_param(params, "maxStaleValues")?;
    let shards = state.shards()?;
    let lookup =
        TagLookup::values(filter, targets).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let q = TagQuery {
        shards,
        catalog: &state.catalog,
        tenant,
        memory: &state.memory,
        range_seconds: range,
    };
    let budget = tag_budget(state, tenant);
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

/// v1 values of a bare tag name (span and resource attributes), sorted, with Tempo's virtual
/// values for `status.code` and `error`.
pub async fn values_v1(
    state: &ApiState,
    tenant: &TenantId,
    tag: &str,
    params: &Params,
) -> Result<TagAnswer<Vec<String>>, ApiError> {
    let targets = vec![
        FieldExpr::Attribute(Attribute::new(AttributeScope::Span, tag)),
        FieldExpr::Attribute(Attribute::new(AttributeScope::Resource, tag)),
    ];
    let (found, inspected) = values(state, tenant, params, targets, None).await?;
    let mut set: BTreeSet<String> = found.iter().map(|v| typed(v).1).collect();
    match tag {
        "status.code" => set.extend(["unset", "ok", "error"].map(str::to_owned)),
        "error" => {
            set.insert("true".to_owned());
        }
        _ => {}
    }
    Ok(TagAnswer {
        items: set.into_iter().collect(),
        inspected_bytes: inspected,
    })
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

/// v2 typed values of a TraceQL identifier (first seen first), `q` filtering the spans.
pub async fn values_v2(
    state: &ApiState,
    tenant: &TenantId,
    tag: &str,
    params: &Params,
) -> Result<TagAnswer<Vec<(&'static str, String)>>, ApiError> {
    let field = parse_tag(tag)?;
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
    if let Some(words) = keywords {
        return Ok(TagAnswer {
            items: words.iter().map(|w| ("keyword", (*w).to_owned())).collect(),
            inspected_bytes: 0,
        });
    }
    let filter = filter_param(params);
    let (found, inspected) = values(state, tenant, params, vec![field], filter).await?;
    Ok(TagAnswer {
        items: found.iter().map(typed).collect(),
        inspected_bytes: inspected,
    })
}
