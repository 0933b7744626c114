//! `GET /api/search` (TEMPO-SPEC §1.5): TraceQL mode (`q`) and legacy tag mode (`tags`,
//! `minDuration`, `maxDuration`), with Tempo's defaults, limits and error texts.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};
use tracecore_engine::TenantId;
use tracecore_engine::scan::SearchPlan;
use tracecore_traceql::lexer::parse_duration;

use super::legacy_tags;
use super::search_json::search_response_json;
use super::trace_by_id::tenant;
use super::{ApiError, ApiState};
use crate::query::search::{Progress, SearchError, SearchOutcome, SearchRequest, search};

/// `search.default_result_limit`.
pub const DEFAULT_LIMIT: usize = 20;
/// `search.max_result_limit`.
pub const MAX_LIMIT: usize = 262_144;
/// `search.default_spans_per_span_set`.
pub const DEFAULT_SPSS: usize = 3;
/// `search.max_spans_per_span_set`.
pub const MAX_SPSS: usize = 100;
/// `search.max_duration` (168h).
pub const MAX_RANGE_SECONDS: u64 = 168 * 3600;

/// Query parameters that are never legacy tags.
const RESERVED: &[&str] = &[
    "q",
    "tags",
    "minDuration",
    "maxDuration",
    "limit",
    "spss",
    "start",
    "end",
    "since",
    "skip_ast_transformations",
    "mode",
    "blockStart",
    "blockEnd",
];

pub async fn handler(
    State(state): State<Arc<ApiState>>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    match run(&state, &params, &headers).await {
        Ok(body) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

async fn run(
    state: &ApiState,
    params: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<Vec<u8>, ApiError> {
    let tenant = tenant(state, headers)?;
    let outcome = execute(state, tenant, params).await?;
    Ok(search_response_json(&outcome.traces, &outcome.metrics))
}

/// Validates `params` and runs the search for `tenant` (shared by HTTP and gRPC streaming).
pub(crate) async fn execute(
    state: &ApiState,
    tenant: TenantId,
    params: &HashMap<String, String>,
) -> Result<SearchOutcome, ApiError> {
    execute_with_progress(state, tenant, params, None).await
}

/// [`execute`], reporting traces as they are found (gRPC streaming).
pub(crate) async fn execute_with_progress(
    state: &ApiState,
    tenant: TenantId,
    params: &HashMap<String, String>,
    progress: Option<Progress<'_>>,
) -> Result<SearchOutcome, ApiError> {
    let max_range = state
        .overrides
        .limits_for(tenant.as_str())
        .max_search_duration
        .as_secs();
    let max_range = if max_range == 0 {
        MAX_RANGE_SECONDS
    } else {
        max_range
    };
    let request = parse_request(params, now_seconds(), max_range)?;
    let shards = state.shards()?;
    let plan = SearchPlan::new(&request.query).map_err(|e| {
        if e.is_client_error() {
            ApiError::bad_request(format!("invalid TraceQL query: {e}"))
        } else {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
        }
    })?;
    search(
        shards,
        &state.catalog,
        &state.memory,
        SearchRequest {
            tenant,
            plan: Arc::new(plan),
            limit: request.limit,
            spans_per_spanset: request.spss,
            range_seconds: request.range,
        },
        progress,
    )
    .await
    .map_err(|e| match e {
        SearchError::Scan(s) if s.is_client_error() => {
            ApiError::bad_request(format!("invalid TraceQL query: {s}"))
        }
        other => {
            tracing::error!(error = %other, "search failed");
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, other.to_string())
        }
    })
}

pub(crate) fn now_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A validated search request.
#[derive(Debug)]
pub struct ParsedSearch {
    pub query: tracecore_traceql::Query,
    pub limit: usize,
    pub spss: usize,
    pub range: Option<(u64, u64)>,
}

fn parse_positive(params: &HashMap<String, String>, name: &str) -> Result<Option<usize>, ApiError> {
    match params.get(name).map(String::as_str) {
        None | Some("") => Ok(None),
        Some(v) => v
            .parse::<i64>()
            .map(|n| Some(n.max(0) as usize))
            .map_err(|_| {
                ApiError::bad_request(format!(
                    "invalid {name}: strconv.Atoi: parsing {v:?}: invalid syntax"
                ))
            }),
    }
}

/// Parses and validates the parameters (TEMPO-SPEC §1.5 "Common parameters").
pub fn parse_request(
    params: &HashMap<String, String>,
    now: u64,
    max_range_seconds: u64,
) -> Result<ParsedSearch, ApiError> {
    let q = params.get("q").filter(|q| !q.is_empty());
    let tags = params.get("tags").filter(|t| !t.is_empty());
    if q.is_some() && tags.is_some() {
        return Err(ApiError::bad_request(
            "invalid request: can't specify tags and q in the same query",
        ));
    }
    let limit = match parse_positive(params, "limit")? {
        None => DEFAULT_LIMIT,
        Some(0) => {
            return Err(ApiError::bad_request(
                "invalid limit: must be a positive number",
            ));
        }
        Some(n) if n > MAX_LIMIT => {
            return Err(ApiError::bad_request(format!(
                "limit {n} exceeds max limit {MAX_LIMIT}"
            )));
        }
        Some(n) => n,
    };
    let spss = match parse_positive(params, "spss")? {
        None | Some(0) => DEFAULT_SPSS,
        Some(n) if n > MAX_SPSS => {
            return Err(ApiError::bad_request(format!(
                "spans per span set exceeds {MAX_SPSS}. received {n}"
            )));
        }
        Some(n) => n,
    };
    let range = parse_range(params, now)?;
    check_range_length(params, range, max_range_seconds)?;
    let query = match q {
        Some(q) => tracecore_traceql::parse_and_validate(q)
            .map_err(|e| ApiError::bad_request(e.to_string()))?,
        None => {
            let mut pairs = match tags {
                Some(t) => legacy_tags::parse_logfmt(t).map_err(ApiError::bad_request)?,
                None => Vec::new(),
            };
            // Ancient clients: any other parameter is a tag when nothing else is given.
            if tags.is_none() && !params.contains_key("start") && !params.contains_key("end") {
                let mut extra: Vec<_> = params
                    .iter()
                    .filter(|(k, _)| !RESERVED.contains(&k.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                extra.sort();
                pairs.extend(extra);
            }
            let min = parse_go_duration(params, "minDuration")?;
            let max = parse_go_duration(params, "maxDuration")?;
            if min > 0 && max > 0 && max < min {
                return Err(ApiError::bad_request(
                    "invalid maxDuration: must be greater than minDuration",
                ));
            }
            legacy_tags::to_query(&pairs, min, max)
        }
    };
    Ok(ParsedSearch {
        query,
        limit,
        spss,
        range,
    })
}

/// Go duration parameter rounded down to whole milliseconds (Tempo converts to ms), in ns.
fn parse_go_duration(params: &HashMap<String, String>, name: &str) -> Result<i64, ApiError> {
    match params.get(name).map(String::as_str) {
        None | Some("") => Ok(0),
        Some(v) => parse_duration(v)
            .map(|ns| ns / 1_000_000 * 1_000_000)
            .ok_or_else(|| {
                ApiError::bad_request(format!("invalid {name}: time: invalid duration {v:?}"))
            }),
    }
}

pub(crate) fn parse_range(
    params: &HashMap<String, String>,
    now: u64,
) -> Result<Option<(u64, u64)>, ApiError> {
    let seconds = |name: &str| -> Result<Option<u64>, ApiError> {
        match params.get(name).map(String::as_str) {
            None | Some("") | Some("0") => Ok(None),
            Some(v) => v.parse::<u64>().map(Some).map_err(|_| {
                ApiError::bad_request(format!(
                    "invalid {name}: strconv.ParseInt: parsing {v:?}: invalid syntax"
                ))
            }),
        }
    };
    let range = match (seconds("start")?, seconds("end")?) {
        (Some(start), Some(end)) => Some((start, end)),
        (None, None) => match params.get("since").filter(|s| !s.is_empty()) {
            Some(since) => {
                let ns = parse_duration(since).ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "invalid since: time: invalid duration {since:?}"
                    ))
                })?;
                let secs = u64::try_from(ns / 1_000_000_000).unwrap_or(0);
                Some((now.saturating_sub(secs), now))
            }
            None => None,
        },
        (Some(start), None) => Some((start, now)),
        (None, Some(end)) => Some((0, end)),
    };
    if let Some((start, end)) = range
        && end < start
    {
        return Err(ApiError::bad_request(format!(
            "http parameter start must be before end. received start={start} end={end}"
        )));
    }
    Ok(range)
}

/// `start`..`end` longer than the tenant's `read.max_search_duration` (default 168h) is refused.
fn check_range_length(
    params: &HashMap<String, String>,
    range: Option<(u64, u64)>,
    max_seconds: u64,
) -> Result<(), ApiError> {
    if let Some((start, end)) = range
        && params.contains_key("start")
        && end - start > max_seconds
    {
        let limit = tracecore_traceql::format_duration(
            i64::try_from(max_seconds.saturating_mul(1_000_000_000)).unwrap_or(i64::MAX),
        );
        return Err(ApiError::bad_request(format!(
            "range specified by start and end exceeds {limit}. received start={start} end={end}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn error(pairs: &[(&str, &str)]) -> String {
        parse_request(&params(pairs), 1_000_000, MAX_RANGE_SECONDS)
            .expect_err("invalid")
            .message
    }

    #[test]
    fn defaults_and_limits() {
        let p = parse_request(&params(&[("q", "{}")]), 0, MAX_RANGE_SECONDS).expect("valid");
        assert_eq!((p.limit, p.spss, p.range), (20, 3, None));
        let p = parse_request(
            &params(&[("q", "{}"), ("spss", "0"), ("limit", "5")]),
            0,
            MAX_RANGE_SECONDS,
        )
        .expect("valid");
        assert_eq!((p.limit, p.spss), (5, 3));
        assert_eq!(
            error(&[("limit", "0")]),
            "invalid limit: must be a positive number"
        );
        assert_eq!(
            error(&[("limit", "300000")]),
            "limit 300000 exceeds max limit 262144"
        );
        assert_eq!(
            error(&[("spss", "101")]),
            "spans per span set exceeds 100. received 101"
        );
        assert_eq!(
            error(&[("q", "{}"), ("tags", "a=b")]),
            "invalid request: can't specify tags and q in the same query"
        );
        assert_eq!(
            error(&[("start", "20"), ("end", "10")]),
            "http parameter start must be before end. received start=20 end=10"
        );
        assert_eq!(
            error(&[("start", "1"), ("end", "700000")]),
            "range specified by start and end exceeds 168h0m0s. received start=1 end=700000"
        );
        assert!(
            error(&[("q", "{ .a = }")]).starts_with("invalid TraceQL query: parse error at line 1")
        );
        assert_eq!(
            error(&[("minDuration", "2s"), ("maxDuration", "1s")]),
            "invalid maxDuration: must be greater than minDuration"
        );
    }

    #[test]
    fn oversized_query_is_refused_before_parsing() {
        // Larger than an HTTP client can put in a URI, so tested here rather than end to end.
        let huge = format!("{{ .{} = 1 }}", "a".repeat(131_072));
        assert!(
            error(&[("q", &huge)]).starts_with(
                "TraceQL expression exceeds the configured maximum size of 131072 bytes"
            )
        );
    }

    #[test]
    fn since_and_legacy_parameters() {
        let p = parse_request(
            &params(&[("q", "{}"), ("since", "1h")]),
            10_000,
            MAX_RANGE_SECONDS,
        )
        .expect("valid");
        assert_eq!(p.range, Some((6_400, 10_000)));
        let p = parse_request(&params(&[("service.name", "cart")]), 0, MAX_RANGE_SECONDS)
            .expect("valid");
        assert_eq!(p.query.to_string(), "{ .service.name =~ `.*cart.*` }");
    }
}
