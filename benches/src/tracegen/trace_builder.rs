//! Builds one trace: walks the simulated shop from an entry point, planning each handler's child
//! work (downstream calls, database queries, publishes, internal steps) to use up an exact span
//! budget, then groups the spans by service instance and instrumentation scope.

use rand::Rng;
use rand::rngs::SmallRng;
use tracecore_proto::otlp::{Event, Link, Span, SpanKind, Status, StatusCode, any_value::Value};

use super::catalog::{self, Database, Language, REGIONS, SERVICES, USER_AGENTS};
use super::values::{
    alnum, db_call, expand_route, kv, kv_bool, kv_f64, kv_int, kv_str, kvlist, pick, public_ip,
    query_string, random_hex, stack_trace, string_array, user_agent, uuid,
};
use super::{Instance, NS_PER_MS, SpanId, TraceId, random_id};

/// Which instrumentation produced a span: decides its `ScopeSpans`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum ScopeKind {
    Http,
    Db,
    Messaging,
    Manual,
}

pub(super) struct PendingSpan {
    pub(super) service: usize,
    pub(super) instance: usize,
    pub(super) scope: ScopeKind,
    pub(super) span: Span,
}

/// Where a service call runs.
#[derive(Clone, Copy)]
struct Site {
    service: usize,
    instance: usize,
}

/// The time window of a span.
#[derive(Clone, Copy)]
struct Window {
    start: u64,
    end: u64,
}

impl Window {
    fn dur(self) -> u64 {
        self.end - self.start
    }
}

/// What a handler reports to its caller.
struct Outcome {
    http_status: i64,
    failed: bool,
}

/// Kinds of child work a handler plans before timing them.
enum Child {
    Call {
        callee: usize,
        share: usize,
    },
    External,
    Db {
        db: usize,
    },
    Publish {
        topic: &'static str,
        consumer: Option<(usize, usize)>,
    },
    Internal {
        with_db: bool,
    },
}

pub(super) struct TraceBuilder<'a> {
    pub(super) rng: &'a mut SmallRng,
    pub(super) instances: &'a [Vec<Instance>],
    pub(super) trace_id: TraceId,
    pub(super) spans: Vec<PendingSpan>,
}

fn service_index(name: &str) -> usize {
    SERVICES.iter().position(|s| s.name == name).unwrap_or(0)
}

impl TraceBuilder<'_> {
    pub(super) fn build(&mut self, target: usize, start: u64) {
        let roll = self.rng.random_range(0..100);
        // Log-uniform root duration between 4 ms and ~2.5 s.
        let dur_ms = (self.rng.random_range(1.4f64..7.8)).exp();
        let window = Window {
            start,
            end: start + (dur_ms * NS_PER_MS as f64) as u64,
        };
        if roll < 8 {
            // A scheduled job: an internal root span in a backend service.
            let job_service = *pick(self.rng, &["inventory", "checkout", "audit"]);
            let service = service_index(job_service);
            let site = self.site(service);
            let root = self.new_span_id();
            let name = format!("job {}", pick(self.rng, SERVICES[service].internal_ops));
            let outcome = self.children(site, root, window, target - 1);
            let mut span = self.span(root, None, name, SpanKind::Internal, window);
            span.attributes.push(kv_str("job.schedule", "*/5 * * * *"));
            span.attributes
                .push(kv_int("job.run", self.rng.random_range(1..500_000)));
            if outcome.failed {
                self.set_error(&mut span, site, "job failed");
            }
            self.push(site, ScopeKind::Manual, span);
        } else {
            let entry = if roll < 85 { "frontend" } else { "api-gateway" };
            let site = self.site(service_index(entry));
            let request = self.request_to(site.service, true);
            let caller_ip = public_ip(self.rng);
            let ua = user_agent(self.rng, USER_AGENTS);
            self.server(site, None, &request, window, target, &caller_ip, &ua);
        }
    }

    fn site(&mut self, service: usize) -> Site {
        Site {
            service,
            instance: self.rng.random_range(0..self.instances[service].len()),
        }
    }

    fn new_span_id(&mut self) -> SpanId {
        random_id::<8>(self.rng)
    }

    fn span(
        &mut self,
        id: SpanId,
        parent: Option<SpanId>,
        name: String,
        kind: SpanKind,
        w: Window,
    ) -> Span {
        let remote_parent = matches!(kind, SpanKind::Server | SpanKind::Consumer);
        Span {
            trace_id: self.trace_id.to_vec(),
            span_id: id.to_vec(),
            trace_state: if self.rng.random_bool(0.08) {
                format!("rojo={},congo=t61rcWkgMzE", random_hex(self.rng, 8))
            } else {
                String::new()
            },
            parent_span_id: parent.map(|p| p.to_vec()).unwrap_or_default(),
            flags: if remote_parent && parent.is_some() {
                0x301
            } else {
                0x101
            },
            name,
            kind: kind as i32,
            start_time_unix_nano: w.start,
            end_time_unix_nano: w.end,
            attributes: Vec::new(),
            dropped_attributes_count: 0,
            events: Vec::new(),
            dropped_events_count: 0,
            links: Vec::new(),
            dropped_links_count: 0,
            status: None,
        }
    }

    fn push(&mut self, site: Site, scope: ScopeKind, span: Span) {
        self.spans.push(PendingSpan {
            service: site.service,
            instance: site.instance,
            scope,
            span,
        });
    }

    /// Marks a span failed and attaches an exception event.
    fn set_error(&mut self, span: &mut Span, site: Site, message: &str) {
        let lang = SERVICES[site.service].language;
        let exception = *pick(self.rng, lang.exceptions());
        let detail = format!("{message}: {}", pick(self.rng, catalog::ERROR_MESSAGES));
        let at = span.start_time_unix_nano
            + self
                .rng
                .random_range(0..=(span.end_time_unix_nano - span.start_time_unix_nano));
        span.events.push(Event {
            time_unix_nano: at,
            name: "exception".to_owned(),
            attributes: vec![
                kv_str("exception.type", exception),
                kv_str("exception.message", detail.clone()),
                kv_str(
                    "exception.stacktrace",
                    stack_trace(self.rng, lang, exception, &detail),
                ),
                kv_bool("exception.escaped", self.rng.random_bool(0.3)),
            ],
            dropped_attributes_count: 0,
        });
        span.status = Some(Status {
            message: detail,
            code: StatusCode::Error as i32,
        });
    }

    /// A request to one of `service`'s routes.
    fn request_to(&mut self, service: usize, public: bool) -> HttpRequest {
        let svc = &SERVICES[service];
        let route = pick(self.rng, svc.routes);
        let path = expand_route(self.rng, route.template);
        let query = query_string(self.rng, route.method, route.template);
        let (host, port, scheme) = if public {
            ("shop.example.com".to_owned(), 443, "https")
        } else {
            (format!("{}.shop.svc.cluster.local", svc.name), 8080, "http")
        };
        HttpRequest {
            method: route.method,
            route: route.template,
            path,
            query,
            host,
            port,
            scheme,
        }
    }

    /// A server span for `request` in `site`, and its subtree of `budget` spans in total.
    #[allow(clippy::too_many_arguments)]
    fn server(
        &mut self,
        site: Site,
        parent: Option<SpanId>,
        request: &HttpRequest,
        window: Window,
        budget: usize,
        caller_ip: &str,
        user_agent: &str,
    ) -> Outcome {
        let id = self.new_span_id();
        let downstream = self.children(site, id, window, budget.saturating_sub(1));
        let own_failure = self.rng.random_bool(0.02);
        let failed = own_failure || (downstream.failed && self.rng.random_bool(0.7));
        let http_status = if failed {
            *pick(self.rng, &[500, 500, 502, 503, 504])
        } else {
            match self.rng.random_range(0..100) {
                0..=2 if request.method == "GET" => 404,
                3 => 400,
                4 => 401,
                5 if request.method != "GET" => 409,
                _ => match request.method {
                    "POST" => 201,
                    "DELETE" => 204,
                    _ => 200,
                },
            }
        };
        let lang = SERVICES[site.service].language;
        let name = format!("{} {}", request.method, request.route);
        let mut span = self.span(id, parent, name, SpanKind::Server, window);
        let a = &mut span.attributes;
        if lang.legacy_http_semconv() {
            a.push(kv_str("http.method", request.method));
            a.push(kv_str("http.url", request.url()));
            a.push(kv_int("http.status_code", http_status));
            a.push(kv_str("http.target", request.target()));
            a.push(kv_str("net.host.name", request.host.clone()));
        } else {
            a.push(kv_str("http.request.method", request.method));
            a.push(kv_str("url.path", request.path.clone()));
            if let Some(q) = &request.query {
                a.push(kv_str("url.query", q.clone()));
            }
            a.push(kv_str("url.scheme", request.scheme));
            a.push(kv_int("http.response.status_code", http_status));
            a.push(kv_str("server.address", request.host.clone()));
            a.push(kv_int("server.port", request.port));
            a.push(kv_str(
                "network.protocol.version",
                if parent.is_none() { "2" } else { "1.1" },
            ));
        }
        a.push(kv_str("http.route", request.route));
        a.push(kv_str("client.address", caller_ip.to_owned()));
        a.push(kv_str("user_agent.original", user_agent.to_owned()));
        if request.method != "GET" {
            a.push(kv_int(
                "http.request.body.size",
                self.rng.random_range(40..20_000),
            ));
        }
        a.push(kv_int(
            "http.response.body.size",
            self.rng.random_range(0..250_000),
        ));
        if parent.is_none() {
            a.push(kv_str(
                "enduser.id",
                self.rng.random_range(100_000..99_999_999).to_string(),
            ));
        }
        if failed {
            if own_failure || self.rng.random_bool(0.5) {
                self.set_error(&mut span, site, "request failed");
            } else {
                span.status = Some(Status {
                    message: String::new(),
                    code: StatusCode::Error as i32,
                });
            }
        }
        if self.rng.random_bool(0.05) {
            span.events.push(Event {
                time_unix_nano: window.start + window.dur() / 3,
                name: "cache miss".to_owned(),
                attributes: vec![kv_str(
                    "cache.key",
                    format!("{}:{}", request.route, alnum(self.rng, 8)),
                )],
                dropped_attributes_count: 0,
            });
        }
        self.push(site, ScopeKind::Http, span);
        Outcome {
            http_status,
            failed,
        }
    }

    /// Plans and generates exactly `budget` spans of child work under `parent` inside `window`.
    fn children(&mut self, site: Site, parent: SpanId, window: Window, budget: usize) -> Outcome {
        let svc = &SERVICES[site.service];
        let mut plan = Vec::new();
        let mut remaining = budget;
        while remaining > 0 {
            let roll = self.rng.random_range(0..100);
            let child = if roll < 40 && !svc.callees.is_empty() && remaining >= 2 {
                let callee_name = *pick(self.rng, svc.callees);
                let callee = service_index(callee_name);
                let max = (remaining * 2 / 3).max(2).min(remaining);
                Child::Call {
                    callee,
                    share: self.rng.random_range(2..=max),
                }
            } else if roll < 65 && !svc.databases.is_empty() {
                Child::Db {
                    db: self.rng.random_range(0..svc.databases.len()),
                }
            } else if roll < 72 && !svc.external.is_empty() {
                Child::External
            } else if roll < 80 && !svc.produces.is_empty() {
                let topic = *pick(self.rng, svc.produces);
                let consumer = SERVICES
                    .iter()
                    .position(|s| s.consumes.contains(&topic))
                    .filter(|_| remaining >= 2)
                    .map(|c| {
                        (
                            c,
                            self.rng
                                .random_range(1..=remaining.saturating_sub(1).min(3)),
                        )
                    });
                Child::Publish { topic, consumer }
            } else {
                Child::Internal {
                    with_db: remaining >= 2
                        && !svc.databases.is_empty()
                        && self.rng.random_bool(0.4),
                }
            };
            remaining -= match &child {
                Child::Call { share, .. } => *share,
                Child::Publish { consumer, .. } => 1 + consumer.map_or(0, |(_, n)| n),
                Child::Internal { with_db: true } => 2,
                _ => 1,
            };
            plan.push(child);
        }
        let mut failed = false;
        if plan.is_empty() {
            return Outcome {
                http_status: 0,
                failed,
            };
        }
        // Sequential slots inside the parent, with small gaps.
        let inner_start = window.start + window.dur() / 50;
        let slot = window.dur() * 94 / 100 / plan.len() as u64;
        for (i, child) in plan.into_iter().enumerate() {
            let slot_start = inner_start + i as u64 * slot;
            let offset = self.rng.random_range(0..=slot / 10);
            let dur = ((slot as f64) * self.rng.random_range(0.45..0.88)) as u64;
            let w = Window {
                start: slot_start + offset,
                end: slot_start + offset + dur,
            };
            failed |= match child {
                Child::Call { callee, share } => self.call(site, parent, callee, w, share),
                Child::External => self.external(site, parent, w),
                Child::Db { db } => self.db(site, parent, &svc.databases[db], w),
                Child::Publish { topic, consumer } => {
                    self.publish(site, parent, topic, consumer, w)
                }
                Child::Internal { with_db } => self.internal(site, parent, w, with_db),
            };
        }
        Outcome {
            http_status: 0,
            failed,
        }
    }

    /// Client span in `site` plus the callee's server subtree; `share` spans in total.
    fn call(&mut self, site: Site, parent: SpanId, callee: usize, w: Window, share: usize) -> bool {
        let id = self.new_span_id();
        let request = self.request_to(callee, false);
        let callee_site = self.site(callee);
        let latency = w.dur() / 20;
        let server_window = Window {
            start: w.start + self.rng.random_range(0..=latency),
            end: w.end - self.rng.random_range(0..=latency),
        };
        let caller_ip = self.instances[site.service][site.instance].ip.clone();
        let ua = user_agent(self.rng, catalog::CLIENT_USER_AGENTS);
        let outcome = self.server(
            callee_site,
            Some(id),
            &request,
            server_window,
            share - 1,
            &caller_ip,
            &ua,
        );
        let lang = SERVICES[site.service].language;
        let name = if lang.legacy_http_semconv() {
            format!("HTTP {}", request.method)
        } else {
            request.method.to_owned()
        };
        let mut span = self.span(id, Some(parent), name, SpanKind::Client, w);
        self.client_http_attrs(&mut span, lang, &request, outcome.http_status);
        if outcome.http_status >= 400 {
            span.status = Some(Status {
                message: String::new(),
                code: StatusCode::Error as i32,
            });
        }
        self.push(site, ScopeKind::Http, span);
        outcome.http_status >= 500
    }

    fn client_http_attrs(
        &mut self,
        span: &mut Span,
        lang: Language,
        request: &HttpRequest,
        status: i64,
    ) {
        let a = &mut span.attributes;
        if lang.legacy_http_semconv() {
            a.push(kv_str("http.method", request.method));
            a.push(kv_str("http.url", request.url()));
            a.push(kv_int("http.status_code", status));
            a.push(kv_str("net.peer.name", request.host.clone()));
        } else {
            a.push(kv_str("http.request.method", request.method));
            a.push(kv_str("url.full", request.url()));
            a.push(kv_int("http.response.status_code", status));
            a.push(kv_str("server.address", request.host.clone()));
            a.push(kv_int("server.port", request.port));
        }
        if self.rng.random_bool(0.1) {
            a.push(kv_int(
                "http.request.resend_count",
                self.rng.random_range(1..3),
            ));
        }
    }

    /// A call to a third-party API (no server span on the other side).
    fn external(&mut self, site: Site, parent: SpanId, w: Window) -> bool {
        let host = *pick(self.rng, SERVICES[site.service].external);
        let request = HttpRequest {
            method: if self.rng.random_bool(0.5) {
                "POST"
            } else {
                "GET"
            },
            route: "",
            path: format!(
                "/{}/{}/{}",
                pick(self.rng, &["v1", "v2", "api/v3"]),
                pick(
                    self.rng,
                    &[
                        "payment_intents",
                        "rates",
                        "messages",
                        "scores",
                        "shipments"
                    ]
                ),
                alnum(self.rng, 14)
            ),
            query: None,
            host: host.to_owned(),
            port: 443,
            scheme: "https",
        };
        let timeout = self.rng.random_bool(0.02);
        let status = if timeout {
            0
        } else {
            *pick(
                self.rng,
                &[200, 200, 200, 200, 200, 201, 202, 402, 429, 503],
            )
        };
        let lang = SERVICES[site.service].language;
        let id = self.new_span_id();
        let mut span = self.span(
            id,
            Some(parent),
            request.method.to_owned(),
            SpanKind::Client,
            w,
        );
        self.client_http_attrs(&mut span, lang, &request, status);
        if timeout {
            span.attributes.retain(|kv| !kv.key.contains("status_code"));
            span.attributes.push(kv_str("error.type", "timeout"));
            self.set_error(&mut span, site, "external call timed out");
        } else if status >= 400 {
            span.attributes
                .push(kv_str("error.type", status.to_string()));
            span.status = Some(Status {
                message: String::new(),
                code: StatusCode::Error as i32,
            });
        }
        self.push(site, ScopeKind::Http, span);
        timeout || status >= 500
    }

    fn db(&mut self, site: Site, parent: SpanId, db: &Database, w: Window) -> bool {
        let (name, operation, table, statement) = db_call(self.rng, db);
        let id = self.new_span_id();
        let mut span = self.span(id, Some(parent), name, SpanKind::Client, w);
        let a = &mut span.attributes;
        a.push(kv_str("db.system", db.kind.system()));
        a.push(kv_str("db.name", db.name));
        a.push(kv_str("db.statement", statement));
        a.push(kv_str("db.operation", operation));
        if matches!(db.kind, catalog::DbKind::Postgres | catalog::DbKind::MySql) {
            a.push(kv_str("db.sql.table", table));
            a.push(kv_str("db.user", format!("{}_rw", db.name)));
        } else if db.kind == catalog::DbKind::Mongo {
            a.push(kv_str("db.mongodb.collection", table));
        }
        a.push(kv_str("server.address", db.host));
        a.push(kv_int("server.port", db.kind.port()));
        if self.rng.random_bool(0.3) {
            a.push(kv_int(
                "db.response.returned_rows",
                self.rng.random_range(0..500),
            ));
        }
        let failed = self.rng.random_bool(0.015);
        if failed {
            self.set_error(&mut span, site, "query failed");
        }
        self.push(site, ScopeKind::Db, span);
        failed
    }

    fn publish(
        &mut self,
        site: Site,
        parent: SpanId,
        topic: &'static str,
        consumer: Option<(usize, usize)>,
        w: Window,
    ) -> bool {
        let id = self.new_span_id();
        let message_id = uuid(self.rng);
        let partition = self.rng.random_range(0..12);
        let w = Window {
            start: w.start,
            end: w.start + (w.dur() / 8).max(w.dur().min(50_000)),
        };
        let mut span = self.span(
            id,
            Some(parent),
            format!("{topic} publish"),
            SpanKind::Producer,
            w,
        );
        span.attributes.extend([
            kv_str("messaging.system", "kafka"),
            kv_str("messaging.destination.name", topic),
            kv_str("messaging.operation", "publish"),
            kv_str("messaging.message.id", message_id.clone()),
            kv_int("messaging.kafka.destination.partition", partition),
            kv_str(
                "messaging.client_id",
                format!(
                    "{}-producer-{}",
                    SERVICES[site.service].name,
                    self.rng.random_range(1..9)
                ),
            ),
        ]);
        self.push(site, ScopeKind::Messaging, span);
        if let Some((consumer, share)) = consumer {
            self.consume(consumer, id, topic, &message_id, partition, w.end, share);
        }
        false
    }

    #[allow(clippy::too_many_arguments)]
    fn consume(
        &mut self,
        service: usize,
        producer: SpanId,
        topic: &str,
        message_id: &str,
        partition: i64,
        produced_at: u64,
        share: usize,
    ) {
        let site = self.site(service);
        let id = self.new_span_id();
        let start = produced_at + self.rng.random_range(NS_PER_MS..150 * NS_PER_MS);
        let w = Window {
            start,
            end: start + self.rng.random_range(NS_PER_MS..80 * NS_PER_MS),
        };
        let mut span = self.span(
            id,
            Some(producer),
            format!("{topic} process"),
            SpanKind::Consumer,
            w,
        );
        span.attributes.extend([
            kv_str("messaging.system", "kafka"),
            kv_str("messaging.destination.name", topic.to_owned()),
            kv_str("messaging.operation", "process"),
            kv_str("messaging.message.id", message_id.to_owned()),
            kv_int("messaging.kafka.destination.partition", partition),
            kv_int(
                "messaging.kafka.message.offset",
                self.rng.random_range(1_000..90_000_000),
            ),
            kv_str(
                "messaging.kafka.consumer.group",
                format!("{}-workers", SERVICES[service].name),
            ),
        ]);
        if self.rng.random_bool(0.5) {
            span.links.push(Link {
                trace_id: self.trace_id.to_vec(),
                span_id: producer.to_vec(),
                trace_state: String::new(),
                attributes: vec![kv_str("messaging.operation", "publish")],
                dropped_attributes_count: 0,
                flags: 0x101,
            });
        }
        if self.rng.random_bool(0.2) {
            // A batch consumer also links an unrelated trace.
            let other: TraceId = random_id(self.rng);
            let other_span: SpanId = random_id(self.rng);
            span.links.push(Link {
                trace_id: other.to_vec(),
                span_id: other_span.to_vec(),
                trace_state: String::new(),
                attributes: vec![kv_int(
                    "messaging.batch.message_count",
                    self.rng.random_range(2..64),
                )],
                dropped_attributes_count: 0,
                flags: 0x101,
            });
        }
        let outcome = self.children(site, id, w, share - 1);
        if outcome.failed {
            self.set_error(&mut span, site, "message processing failed");
        }
        self.push(site, ScopeKind::Messaging, span);
    }

    fn internal(&mut self, site: Site, parent: SpanId, w: Window, with_db: bool) -> bool {
        let svc = &SERVICES[site.service];
        let id = self.new_span_id();
        let name = pick(self.rng, svc.internal_ops).to_string();
        let mut span = self.span(id, Some(parent), name, SpanKind::Internal, w);
        let mut attrs = vec![kv_str(
            "code.function",
            format!("{}.{}", svc.name.replace('-', "_"), alnum(self.rng, 6)),
        )];
        match self.rng.random_range(0..6) {
            0 => attrs.push(kv_int("app.items.count", self.rng.random_range(1..40))),
            1 => attrs.push(kv_f64(
                "app.order.total",
                (self.rng.random_range(0.5f64..2500.0) * 100.0).round() / 100.0,
            )),
            2 => attrs.push(kv_bool(
                "app.feature.new_pricing",
                self.rng.random_bool(0.5),
            )),
            3 => attrs.push(kv(
                "app.product.tags",
                string_array(
                    (0..self.rng.random_range(1..5))
                        .map(|_| pick(self.rng, catalog::SEARCH_WORDS).to_string()),
                ),
            )),
            4 if self.rng.random_bool(0.3) => attrs.push(kv(
                "app.request.context",
                kvlist(vec![
                    kv_str("region", *pick(self.rng, REGIONS)),
                    kv_int("retries", self.rng.random_range(0..4)),
                ]),
            )),
            5 if self.rng.random_bool(0.3) => {
                let mut digest = vec![0u8; 12];
                self.rng.fill(&mut digest[..]);
                attrs.push(kv("app.payload.digest", Value::BytesValue(digest)));
            }
            _ => attrs.push(kv_str(
                "app.user.tier",
                *pick(self.rng, &["free", "plus", "business"]),
            )),
        }
        span.attributes = attrs;
        let failed = if with_db && !svc.databases.is_empty() {
            let db = &svc.databases[self.rng.random_range(0..svc.databases.len())];
            let inner = Window {
                start: w.start + w.dur() / 5,
                end: w.start + w.dur() * 4 / 5,
            };
            self.db(site, id, db, inner)
        } else {
            false
        };
        if failed && self.rng.random_bool(0.5) {
            self.set_error(&mut span, site, "operation failed");
        }
        self.push(site, ScopeKind::Manual, span);
        failed
    }
}

struct HttpRequest {
    method: &'static str,
    route: &'static str,
    path: String,
    query: Option<String>,
    host: String,
    port: i64,
    scheme: &'static str,
}

impl HttpRequest {
    fn target(&self) -> String {
        match &self.query {
            Some(q) => format!("{}?{q}", self.path),
            None => self.path.clone(),
        }
    }

    fn url(&self) -> String {
        let default_port = matches!((self.scheme, self.port), ("https", 443) | ("http", 80));
        if default_port {
            format!("{}://{}{}", self.scheme, self.host, self.target())
        } else {
            format!(
                "{}://{}:{}{}",
                self.scheme,
                self.host,
                self.port,
                self.target()
            )
        }
    }
}
