//! `tempo_request_duration_seconds{method, route, status_code, ws}` for every server.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::telemetry::{RequestLabels, RpcMetrics};

/// axum middleware: times the request and labels it with dskit's route name.
pub async fn record_http_request(
    State(metrics): State<RpcMetrics>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| route_name(p.as_str()))
        .unwrap_or_else(|| "other".to_string());
    let method = request.method().to_string();
    let response = next.run(request).await;
    observe(
        &metrics,
        method,
        route,
        response.status().as_u16().to_string(),
        started,
    );
    response
}

/// Records one request.
pub fn observe(
    metrics: &RpcMetrics,
    method: String,
    route: String,
    status_code: String,
    started: Instant,
) {
    metrics
        .request_duration
        .get_or_create(&RequestLabels {
            method,
            route,
            status_code,
            ws: "false".to_string(),
        })
        .observe(started.elapsed().as_secs_f64());
}

/// dskit's route naming: the path template with non-alphanumerics turned into `_`.
pub fn route_name(template: &str) -> String {
    let mut name = String::with_capacity(template.len());
    for c in template.trim_start_matches('/').chars() {
        match c {
            '{' | '}' => {}
            c if c.is_ascii_alphanumeric() => name.push(c.to_ascii_lowercase()),
            _ => name.push('_'),
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::route_name;

    #[test]
    fn route_names_follow_dskit() {
        assert_eq!(route_name("/api/traces/{traceID}"), "api_traces_traceid");
        assert_eq!(route_name("/api/v2/search/tags"), "api_v2_search_tags");
        assert_eq!(route_name("/v1/traces"), "v1_traces");
        assert_eq!(route_name("/ready"), "ready");
    }
}
