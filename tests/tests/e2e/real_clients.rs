//! Real, independent client libraries in, trace by ID out.
//!
//! One logical trace (`tests/python/logical_trace.json`: five spans of every kind, typed
//! attributes, an array, events with and without attributes, a link, an OK and an ERROR status)
//! is replayed by Python scripts through the OpenTelemetry Python SDK's OTLP (gRPC, HTTP,
//! gzip), Zipkin (JSON, protobuf) and Jaeger (Thrift agent UDP, Thrift HTTP, protobuf gRPC)
//! exporters and through the OpenTracing `jaeger-client`, then read back with
//! `GET /api/traces/<id>` from the real binary. Each read-back is checked against the spec
//! under that client's documented mapping (what the library puts on the wire, then the
//! OpenTelemetry Collector's Jaeger/Zipkin → OTLP translation Tempo uses), strictly: every
//! expected attribute with its type, and no attribute, resource key, event or link that the
//! mapping does not explain. The same trace over every protocol must then agree on what all
//! of them carry ([`Common`]), before and after the head block is flushed to Parquet.
//!
//! The clients live in venvs made by `scripts/setup-python-e2e.sh` (run by
//! `./scripts/test.sh` and `.ci/run`) under `$TRACECORE_E2E_VENV` (default `.venv-e2e`).
//! Without them these tests fail and say how to install them; `TRACECORE_SKIP_PYTHON=1` skips
//! them instead.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value as Json;
use tracecore_proto::otlp::{ResourceSpans, SpanKind, StatusCode};
use tracecore_tests::normalize::{NormSpan, Val, normalize};
use tracecore_tests::readback::{Form, read_trace};
use tracecore_tests::server::spawn_supervised;
use tracecore_tests::{Server, ServerOptions, compare_spans};

// ---- the Python side ----

/// The venvs `scripts/setup-python-e2e.sh` creates.
const VENVS: [&str; 3] = ["otel", "zipkin-proto", "jaeger"];
/// How long one client script may take (interpreter start, imports, export, flush).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a UDP-sent trace may take to become readable (no acknowledgement to wait for).
const UDP_WAIT: Duration = Duration::from_secs(20);

fn workspace() -> PathBuf {
    let tests_crate = Path::new(env!("CARGO_MANIFEST_DIR"));
    tests_crate.parent().unwrap_or(tests_crate).to_owned()
}

fn python_dir() -> PathBuf {
    workspace().join("tests").join("python")
}

/// Where the venvs are; `None` when `TRACECORE_SKIP_PYTHON=1` (the caller returns early).
/// Panics, saying how to install them, when they are missing.
fn venvs() -> Option<PathBuf> {
    if std::env::var("TRACECORE_SKIP_PYTHON").as_deref() == Ok("1") {
        eprintln!("TRACECORE_SKIP_PYTHON=1: real-client test skipped");
        return None;
    }
    let root = std::env::var_os("TRACECORE_E2E_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join(".venv-e2e"));
    let missing: Vec<String> = VENVS
        .iter()
        .map(|v| root.join(v).join("bin").join("python"))
        .filter(|p| !p.is_file())
        .map(|p| p.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "the Python client libraries these tests send with are not installed (missing: {}). \
         Run the README's test command, ./scripts/test.sh, which installs them \
         (or scripts/setup-python-e2e.sh alone), then run the tests again. \
         TRACECORE_E2E_VENV points at another venv directory; TRACECORE_SKIP_PYTHON=1 skips \
         these tests.",
        missing.join(", ")
    );
    Some(root)
}

/// Which documented mapping a client's spans read back under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    /// OTel SDK 1.45, OTLP: everything as sent.
    Otlp,
    /// OTel SDK 1.21 Jaeger Thrift exporter (agent UDP compact or collector HTTP).
    JaegerThrift,
    /// OTel SDK 1.21 Jaeger protobuf gRPC exporter.
    JaegerProto,
    /// OTel SDK 1.45 Zipkin exporters (JSON or protobuf v2).
    Zipkin,
    /// `jaeger-client` 4.8 (OpenTracing), agent UDP compact.
    JaegerClient,
}

/// One client library and protocol.
#[derive(Clone, Copy, Debug)]
struct Sender {
    /// The exporter name `emit_otel.py` takes, or `jaeger-client`.
    name: &'static str,
    venv: &'static str,
    family: Family,
    /// Sent over UDP: nothing acknowledges it, so reading back polls.
    udp: bool,
}

const fn sender(name: &'static str, venv: &'static str, family: Family, udp: bool) -> Sender {
    Sender {
        name,
        venv,
        family,
        udp,
    }
}

const OTLP_GRPC: Sender = sender("otlp-grpc", "otel", Family::Otlp, false);
const OTLP_GRPC_GZIP: Sender = sender("otlp-grpc-gzip", "otel", Family::Otlp, false);
const OTLP_HTTP: Sender = sender("otlp-http", "otel", Family::Otlp, false);
const OTLP_HTTP_GZIP: Sender = sender("otlp-http-gzip", "otel", Family::Otlp, false);
const ZIPKIN_JSON: Sender = sender("zipkin-json", "otel", Family::Zipkin, false);
const ZIPKIN_PROTO: Sender = sender("zipkin-proto", "zipkin-proto", Family::Zipkin, false);
const JAEGER_AGENT: Sender = sender("jaeger-thrift-agent", "jaeger", Family::JaegerThrift, true);
const JAEGER_HTTP: Sender = sender("jaeger-thrift-http", "jaeger", Family::JaegerThrift, false);
const JAEGER_GRPC: Sender = sender("jaeger-proto-grpc", "jaeger", Family::JaegerProto, false);
const JAEGER_CLIENT: Sender = sender("jaeger-client", "jaeger", Family::JaegerClient, true);

/// The script's arguments for `sender` aimed at `server`.
fn script_args(sender: Sender, server: &Server) -> Vec<String> {
    let p = server.ports();
    let (script, flag, endpoint) = match sender.name {
        "otlp-grpc" | "otlp-grpc-gzip" => (
            "emit_otel.py",
            "--endpoint",
            format!("127.0.0.1:{}", p.otlp_grpc),
        ),
        "otlp-http" | "otlp-http-gzip" => (
            "emit_otel.py",
            "--endpoint",
            format!("http://127.0.0.1:{}/v1/traces", p.otlp_http),
        ),
        "zipkin-json" | "zipkin-proto" => (
            "emit_otel.py",
            "--endpoint",
            format!("http://127.0.0.1:{}/api/v2/spans", p.zipkin),
        ),
        "jaeger-thrift-agent" => (
            "emit_otel.py",
            "--endpoint",
            format!("127.0.0.1:{}", p.jaeger_compact),
        ),
        "jaeger-thrift-http" => (
            "emit_otel.py",
            "--endpoint",
            format!("http://127.0.0.1:{}/api/traces", p.jaeger_thrift_http),
        ),
        "jaeger-proto-grpc" => (
            "emit_otel.py",
            "--endpoint",
            format!("127.0.0.1:{}", p.jaeger_grpc),
        ),
        "jaeger-client" => (
            "emit_jaeger_client.py",
            "--agent",
            format!("127.0.0.1:{}", p.jaeger_compact),
        ),
        other => panic!("no such sender {other}"),
    };
    let mut args = vec![python_dir().join(script).display().to_string()];
    if script == "emit_otel.py" {
        args.extend(["--exporter".to_owned(), sender.name.to_owned()]);
    }
    args.extend([flag.to_owned(), endpoint]);
    args
}

/// Kills (and reaps) the script if the test gives up on it.
struct Reaped(Option<Child>);

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs the client script for `sender`: the spec's trace with `trace_id` starting at `base_ns`.
/// Returns the JSON line the script printed; panics with its output when it fails.
async fn send(venvs: &Path, sender: Sender, server: &Server, trace_id: &str, base_ns: u64) -> Json {
    let python = venvs.join(sender.venv).join("bin").join("python");
    let out = tempfile::tempdir().unwrap();
    let stdout_path = out.path().join("stdout");
    let stderr_path = out.path().join("stderr");
    let mut command = Command::new(&python);
    command
        .args(script_args(sender, server))
        .args(["--trace-id", trace_id])
        .args(["--base-time-ns", &base_ns.to_string()])
        .arg("--spec")
        .arg(python_dir().join("logical_trace.json"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONWARNINGS", "ignore::DeprecationWarning")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .stdin(Stdio::null())
        .stdout(File::create(&stdout_path).unwrap())
        .stderr(File::create(&stderr_path).unwrap());
    // Nothing from the developer's environment may steer the SDK or route loopback traffic.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("OTEL_")
            || key.starts_with("JAEGER_")
            || key.to_ascii_lowercase().ends_with("_proxy") && !key.eq_ignore_ascii_case("no_proxy")
        {
            command.env_remove(&key);
        }
    }
    let mut child =
        Reaped(Some(spawn_supervised(command).unwrap_or_else(|e| {
            panic!("starting {}: {e}", python.display())
        })));
    let started = Instant::now();
    let status = loop {
        let running = child.0.as_mut().unwrap();
        if let Some(status) = running.try_wait().unwrap() {
            child.0 = None;
            break status;
        }
        assert!(
            started.elapsed() < SCRIPT_TIMEOUT,
            "{}: the client script did not finish within {SCRIPT_TIMEOUT:?}\nstderr:\n{}",
            sender.name,
            std::fs::read_to_string(&stderr_path).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let stdout = std::fs::read_to_string(&stdout_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    assert!(
        status.success(),
        "{}: the client script failed ({status})\nstdout:\n{stdout}\nstderr:\n{stderr}",
        sender.name
    );
    let line = stdout.lines().last().unwrap_or_default();
    let report: Json = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("{}: no JSON report ({e}) in:\n{stdout}", sender.name));
    assert_eq!(report["trace_id"], trace_id, "{}: {report}", sender.name);
    report
}

// ---- the logical trace ----

#[derive(Clone, Debug)]
enum Typed {
    Str(String),
    Int(i64),
    Bool(bool),
    Double(f64),
    StrArray(Vec<String>),
}

type TypedAttrs = Vec<(String, Typed)>;

#[derive(Clone, Debug)]
struct SpecEvent {
    name: String,
    at_us: u64,
    attributes: TypedAttrs,
}

#[derive(Clone, Debug)]
struct SpecSpan {
    span_id: String,
    parent: String,
    name: String,
    kind: SpanKind,
    start_us: u64,
    end_us: u64,
    attributes: TypedAttrs,
    events: Vec<SpecEvent>,
    /// (span ID in the same trace, attributes).
    links: Vec<(String, TypedAttrs)>,
    status: StatusCode,
    status_message: String,
}

#[derive(Clone, Debug)]
struct Spec {
    service: String,
    resource: TypedAttrs,
    scope: (String, String),
    spans: Vec<SpecSpan>,
}

fn s(v: &Json) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

fn typed_attrs(v: &Json) -> TypedAttrs {
    v.as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|a| {
            let value = &a["value"];
            let typed = match a["type"].as_str().unwrap_or_default() {
                "string" => Typed::Str(s(value)),
                "int" => Typed::Int(value.as_i64().unwrap()),
                "bool" => Typed::Bool(value.as_bool().unwrap()),
                "double" => Typed::Double(value.as_f64().unwrap()),
                "string_array" => {
                    Typed::StrArray(value.as_array().unwrap().iter().map(s).collect())
                }
                other => panic!("logical_trace.json: unknown attribute type {other}"),
            };
            (s(&a["key"]), typed)
        })
        .collect()
}

fn spec() -> Spec {
    let path = python_dir().join("logical_trace.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let v: Json = serde_json::from_str(&text).unwrap();
    let spans = v["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|sp| SpecSpan {
            span_id: s(&sp["span_id"]),
            parent: s(&sp["parent"]),
            name: s(&sp["name"]),
            kind: match sp["kind"].as_str().unwrap_or_default() {
                "server" => SpanKind::Server,
                "client" => SpanKind::Client,
                "producer" => SpanKind::Producer,
                "consumer" => SpanKind::Consumer,
                "internal" => SpanKind::Internal,
                other => panic!("logical_trace.json: unknown kind {other}"),
            },
            start_us: sp["start_us"].as_u64().unwrap(),
            end_us: sp["end_us"].as_u64().unwrap(),
            attributes: typed_attrs(&sp["attributes"]),
            events: sp["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| SpecEvent {
                    name: s(&e["name"]),
                    at_us: e["at_us"].as_u64().unwrap(),
                    attributes: typed_attrs(&e["attributes"]),
                })
                .collect(),
            links: sp["links"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| (s(&l["span_id"]), typed_attrs(&l["attributes"])))
                .collect(),
            status: match sp["status"]["code"].as_str().unwrap_or_default() {
                "ok" => StatusCode::Ok,
                "error" => StatusCode::Error,
                _ => StatusCode::Unset,
            },
            status_message: s(&sp["status"]["message"]),
        })
        .collect();
    Spec {
        service: s(&v["service"]),
        resource: typed_attrs(&v["resource"]),
        scope: (s(&v["scope"]["name"]), s(&v["scope"]["version"])),
        spans,
    }
}

/// Python's `repr(float)` for the values the spec uses (shortest round-trip, with a `.0`).
fn py_float(f: f64) -> String {
    format!("{f:?}")
}

/// `json.dumps(value)` with Python's default separators.
fn py_json(v: &Typed) -> String {
    match v {
        Typed::Str(s) => serde_json::to_string(s).unwrap(),
        Typed::Int(i) => i.to_string(),
        Typed::Bool(b) => b.to_string(),
        Typed::Double(f) => py_float(*f),
        Typed::StrArray(a) => format!(
            "[{}]",
            a.iter()
                .map(|s| serde_json::to_string(s).unwrap())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// OTLP's typed value.
fn otlp_val(v: &Typed) -> Val {
    match v {
        Typed::Str(s) => Val::Str(s.clone()),
        Typed::Int(i) => Val::Int(*i),
        Typed::Bool(b) => Val::Bool(*b),
        Typed::Double(f) => Val::Double(f.to_bits()),
        Typed::StrArray(a) => Val::Array(a.iter().map(|s| Val::Str(s.clone())).collect()),
    }
}

/// The Python Jaeger clients (OTel exporter and jaeger-client) keep scalars typed and send a
/// tuple as its `str()`: `('book', 'pen')`.
fn jaeger_val(v: &Typed) -> Val {
    match v {
        Typed::StrArray(a) => Val::Str(format!(
            "({})",
            a.iter()
                .map(|s| format!("'{s}'"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        other => otlp_val(other),
    }
}

/// The OTel SDK's Zipkin encoder: every tag a string; bools lower case; sequences as compact
/// JSON.
fn zipkin_val(v: &Typed) -> Val {
    Val::Str(match v {
        Typed::Str(s) => s.clone(),
        Typed::Int(i) => i.to_string(),
        Typed::Bool(b) => b.to_string(),
        Typed::Double(f) => py_float(*f),
        Typed::StrArray(a) => serde_json::to_string(a).unwrap(),
    })
}

/// The OTel SDK's Zipkin encoder writes an event as an annotation whose value is
/// `json.dumps({name: attributes}, sort_keys=True)`; the Collector keeps that text as the name.
fn zipkin_event_name(name: &str, attributes: &TypedAttrs) -> String {
    let mut sorted: Vec<&(String, Typed)> = attributes.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let inner = sorted
        .iter()
        .map(|(k, v)| format!("{}: {}", serde_json::to_string(k).unwrap(), py_json(v)))
        .collect::<Vec<_>>()
        .join(", ");
    format!("{{{}: {{{inner}}}}}", serde_json::to_string(name).unwrap())
}

// ---- what each client's spans must read back as ----

type Map = BTreeMap<String, Val>;

struct ExpectedEvent {
    time_ns: u64,
    name: String,
    attributes: Map,
}

struct ExpectedSpan {
    span_id: String,
    parent: String,
    name: String,
    kind: i32,
    start_ns: u64,
    end_ns: u64,
    status: (i32, String),
    attributes: Map,
    /// Extra attribute keys allowed with any value (a key ending in `.` is a prefix).
    attributes_any: &'static [&'static str],
    events: Vec<ExpectedEvent>,
    /// (trace ID hex, span ID hex, attributes).
    links: Vec<(String, String, Map)>,
    resource: Map,
    resource_any: &'static [&'static str],
    scope: (String, String),
    /// Allowed clock error: the Jaeger gRPC exporter goes through float seconds, jaeger-client
    /// takes float seconds.
    tolerance_ns: u64,
}

fn map(entries: impl IntoIterator<Item = (String, Val)>) -> Map {
    entries.into_iter().collect()
}

fn typed_map(attrs: &TypedAttrs, f: fn(&Typed) -> Val) -> Map {
    map(attrs.iter().map(|(k, v)| (k.clone(), f(v))))
}

fn str_val(s: &str) -> Val {
    Val::Str(s.to_owned())
}

/// The spans `family` must read back as, for the spec sent with `trace_id` from `base_ns`.
fn expected(spec: &Spec, family: Family, trace_id: &str, base_ns: u64) -> Vec<ExpectedSpan> {
    let (scope_name, scope_version) = &spec.scope;
    let scope = spec.scope.clone();
    let no_scope = (String::new(), String::new());
    let service = || ("service.name".to_owned(), str_val(&spec.service));
    let sdk = || {
        [
            ("telemetry.sdk.language".to_owned(), str_val("python")),
            ("telemetry.sdk.name".to_owned(), str_val("opentelemetry")),
        ]
    };
    let library_tags = || {
        [
            ("otel.library.name".to_owned(), str_val(scope_name)),
            ("otel.library.version".to_owned(), str_val(scope_version)),
        ]
    };
    let scope_tags = || {
        [
            ("otel.scope.name".to_owned(), str_val(scope_name)),
            ("otel.scope.version".to_owned(), str_val(scope_version)),
        ]
    };
    let follows_from = || map([("opentracing.ref_type".to_owned(), str_val("follows_from"))]);

    spec.spans
        .iter()
        .enumerate()
        .map(|(i, sp)| {
            let at = |us: u64| base_ns + us * 1_000;
            let error = sp.status == StatusCode::Error;
            let status_code_only = if error {
                (StatusCode::Error as i32, String::new())
            } else {
                (StatusCode::Unset as i32, String::new())
            };
            let full_status = match sp.status {
                StatusCode::Error => (StatusCode::Error as i32, sp.status_message.clone()),
                other => (other as i32, String::new()),
            };
            let kind_without_internal = if sp.kind == SpanKind::Internal {
                SpanKind::Unspecified as i32
            } else {
                sp.kind as i32
            };
            let mut e = ExpectedSpan {
                span_id: sp.span_id.clone(),
                parent: sp.parent.clone(),
                name: sp.name.clone(),
                kind: sp.kind as i32,
                start_ns: at(sp.start_us),
                end_ns: at(sp.end_us),
                status: full_status,
                attributes: Map::new(),
                attributes_any: &[],
                events: Vec::new(),
                links: Vec::new(),
                resource: Map::new(),
                resource_any: &[],
                scope: no_scope.clone(),
                tolerance_ns: 0,
            };
            let typed_events = |f: fn(&Typed) -> Val| -> Vec<ExpectedEvent> {
                sp.events
                    .iter()
                    .map(|ev| ExpectedEvent {
                        time_ns: at(ev.at_us),
                        name: ev.name.clone(),
                        attributes: typed_map(&ev.attributes, f),
                    })
                    .collect()
            };
            // The OTel Jaeger exporters put the event name in a `message` field; the Collector
            // names events only from an `event` field, so the name stays an attribute.
            let message_events = || -> Vec<ExpectedEvent> {
                sp.events
                    .iter()
                    .map(|ev| {
                        let mut attributes = typed_map(&ev.attributes, jaeger_val);
                        attributes.insert("message".to_owned(), str_val(&ev.name));
                        ExpectedEvent {
                            time_ns: at(ev.at_us),
                            name: String::new(),
                            attributes,
                        }
                    })
                    .collect()
            };
            let jaeger_links = || -> Vec<(String, String, Map)> {
                sp.links
                    .iter()
                    .map(|(span, _)| (trace_id.to_owned(), span.clone(), follows_from()))
                    .collect()
            };
            let spec_resource = |f: fn(&Typed) -> Val| typed_map(&spec.resource, f);
            match family {
                Family::Otlp => {
                    e.attributes = typed_map(&sp.attributes, otlp_val);
                    e.events = typed_events(otlp_val);
                    e.links = sp
                        .links
                        .iter()
                        .map(|(span, attrs)| {
                            (
                                trace_id.to_owned(),
                                span.clone(),
                                typed_map(attrs, otlp_val),
                            )
                        })
                        .collect();
                    e.resource = spec_resource(otlp_val);
                    e.resource.extend([service()]);
                    e.resource.extend(sdk());
                    e.resource_any = &["telemetry.sdk.version", "service.instance.id"];
                    e.scope = scope.clone();
                }
                Family::JaegerThrift | Family::JaegerProto => {
                    // The exporter repeats the resource as span tags and adds the scope as tags;
                    // the process carries the service (Thrift) or the whole resource (proto,
                    // where the Collector also lifts `otel.scope.*` into the scope).
                    e.attributes = typed_map(&sp.attributes, jaeger_val);
                    e.attributes.extend(spec_resource(jaeger_val));
                    e.attributes.extend([service()]);
                    e.attributes.extend(sdk());
                    e.attributes.extend(library_tags());
                    e.attributes_any = &["telemetry.sdk.version"];
                    e.events = message_events();
                    e.links = jaeger_links();
                    e.resource = map([service()]);
                    if family == Family::JaegerProto {
                        e.resource.extend(spec_resource(jaeger_val));
                        e.resource.extend(sdk());
                        e.resource_any = &["telemetry.sdk.version"];
                        e.scope = scope.clone();
                        e.tolerance_ns = 1_000;
                    } else {
                        e.attributes.extend(scope_tags());
                    }
                }
                Family::Zipkin => {
                    // Tags are strings; the resource travels in the tags and the Collector moves
                    // the semantic-convention keys back; `otel.status_code=OK` is not a name the
                    // Collector knows (unset), `error=<description>` fails the span and stays.
                    e.kind = kind_without_internal;
                    e.status = status_code_only;
                    e.attributes = typed_map(&sp.attributes, zipkin_val);
                    e.attributes.extend(scope_tags());
                    if error {
                        e.attributes
                            .insert("error".to_owned(), str_val(&sp.status_message));
                    }
                    e.events = sp
                        .events
                        .iter()
                        .map(|ev| ExpectedEvent {
                            time_ns: at(ev.at_us),
                            name: zipkin_event_name(&ev.name, &ev.attributes),
                            attributes: Map::new(),
                        })
                        .collect();
                    e.resource = spec_resource(zipkin_val);
                    e.resource.extend([service()]);
                    e.resource.extend(sdk());
                    e.resource_any = &["telemetry.sdk.version", "service.instance.id"];
                    e.scope = scope.clone();
                }
                Family::JaegerClient => {
                    // OpenTracing: no internal kind, no OK status, no status message, no scope.
                    e.kind = kind_without_internal;
                    e.status = status_code_only;
                    e.attributes = typed_map(&sp.attributes, jaeger_val);
                    if i == 0 {
                        e.attributes.extend([
                            ("sampler.type".to_owned(), str_val("const")),
                            ("sampler.param".to_owned(), Val::Bool(true)),
                        ]);
                    }
                    e.events = typed_events(jaeger_val);
                    e.links = jaeger_links();
                    e.resource = spec_resource(jaeger_val);
                    e.resource.extend([
                        service(),
                        (
                            "opencensus.exporterversion".to_owned(),
                            str_val("Jaeger-Python-4.8.0"),
                        ),
                    ]);
                    e.resource_any = &["ip", "host.name"];
                    // The client truncates float seconds to microseconds separately for the
                    // start and the duration: the end can be 2 µs off.
                    e.tolerance_ns = 2_000;
                }
            }
            e
        })
        .collect()
}

fn allowed(key: &str, any: &[&str]) -> bool {
    any.iter()
        .any(|a| key == *a || a.ends_with('.') && key.starts_with(a))
}

/// Every expected entry with its exact typed value; extras only when `any` allows them.
fn check_map(what: &str, expected: &Map, any: &[&str], actual: &[(String, Val)]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen = BTreeMap::new();
    for (k, v) in actual {
        if seen.insert(k.clone(), v.clone()).is_some() {
            problems.push(format!("{what}: key {k:?} appears twice"));
        }
    }
    for (k, v) in expected {
        match seen.get(k) {
            None => problems.push(format!("{what}: {k:?} missing (expected {v:?})")),
            Some(got) if got != v => {
                problems.push(format!("{what}: {k:?} is {got:?}, expected {v:?}"))
            }
            Some(_) => {}
        }
    }
    for (k, v) in &seen {
        if !expected.contains_key(k) && !allowed(k, any) {
            problems.push(format!("{what}: unexpected {k:?} = {v:?}"));
        }
    }
    problems
}

fn near(a: u64, b: u64, tolerance: u64) -> bool {
    a.abs_diff(b) <= tolerance
}

/// Checks one read-back trace span for span; the error lists every difference.
fn check_spans(
    expected: &[ExpectedSpan],
    actual: &[NormSpan],
    trace_id: &str,
) -> Result<(), String> {
    let mut problems = Vec::new();
    if actual.len() != expected.len() {
        problems.push(format!(
            "{} spans read back, {} sent: {:?}",
            actual.len(),
            expected.len(),
            actual
                .iter()
                .map(|s| (&s.span_id, &s.name))
                .collect::<Vec<_>>()
        ));
    }
    for e in expected {
        let matching: Vec<&NormSpan> = actual.iter().filter(|a| a.span_id == e.span_id).collect();
        let [a] = matching.as_slice() else {
            problems.push(format!(
                "span {} ({:?}) read back {} times",
                e.span_id,
                e.name,
                matching.len()
            ));
            continue;
        };
        let mut p = Vec::new();
        let tol = e.tolerance_ns;
        if a.trace_id != trace_id {
            p.push(format!("trace ID {}", a.trace_id));
        }
        if a.parent_span_id != e.parent {
            p.push(format!(
                "parent {:?}, expected {:?}",
                a.parent_span_id, e.parent
            ));
        }
        if a.name != e.name {
            p.push(format!("name {:?}", a.name));
        }
        if a.kind != e.kind {
            p.push(format!("kind {}, expected {}", a.kind, e.kind));
        }
        if !near(a.start_time_unix_nano, e.start_ns, tol)
            || !near(a.end_time_unix_nano, e.end_ns, tol)
        {
            p.push(format!(
                "times {}..{}, expected {}..{} (±{tol} ns)",
                a.start_time_unix_nano, a.end_time_unix_nano, e.start_ns, e.end_ns
            ));
        }
        if (a.status_code, &a.status_message) != (e.status.0, &e.status.1) {
            p.push(format!(
                "status ({}, {:?}), expected ({}, {:?})",
                a.status_code, a.status_message, e.status.0, e.status.1
            ));
        }
        p.extend(check_map(
            "attribute",
            &e.attributes,
            e.attributes_any,
            &a.attributes,
        ));
        p.extend(check_map(
            "resource",
            &e.resource,
            e.resource_any,
            &a.resource,
        ));
        if (a.scope_name.as_str(), a.scope_version.as_str())
            != (e.scope.0.as_str(), e.scope.1.as_str())
        {
            p.push(format!(
                "scope ({:?}, {:?}), expected {:?}",
                a.scope_name, a.scope_version, e.scope
            ));
        }
        let mut events: Vec<_> = a.events.iter().collect();
        events.sort_by_key(|ev| ev.time_unix_nano);
        if events.len() != e.events.len() {
            p.push(format!(
                "{} events, expected {}: {events:?}",
                events.len(),
                e.events.len()
            ));
        } else {
            for (got, want) in events.iter().zip(&e.events) {
                if !near(got.time_unix_nano, want.time_ns, tol) || got.name != want.name {
                    p.push(format!(
                        "event ({}, {:?}), expected ({}, {:?})",
                        got.time_unix_nano, got.name, want.time_ns, want.name
                    ));
                }
                p.extend(check_map(
                    &format!("event {:?} attribute", want.name),
                    &want.attributes,
                    &[],
                    &got.attributes,
                ));
            }
        }
        let links: Vec<(String, String, Map)> = a
            .links
            .iter()
            .map(|l| {
                (
                    l.trace_id.clone(),
                    l.span_id.clone(),
                    map(l.attributes.iter().cloned()),
                )
            })
            .collect();
        if links != e.links {
            p.push(format!("links {links:?}, expected {:?}", e.links));
        }
        if !p.is_empty() {
            problems.push(format!(
                "span {} ({:?}):\n    {}",
                e.span_id,
                e.name,
                p.join("\n    ")
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n  "))
    }
}

// ---- what every protocol carries ----

/// The part of a span every client and protocol here carries, with each protocol's documented
/// mapping undone: kind (internal as unspecified), failed or not, times to the millisecond
/// (the spec's unit; some clients round through float seconds), the service, the spec's scalar
/// attributes as text, events with their names and scalar attributes as text.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Common {
    span_id: String,
    parent: String,
    name: String,
    kind: i32,
    start_ms: u64,
    end_ms: u64,
    failed: bool,
    service: String,
    attributes: BTreeMap<String, String>,
    events: Vec<(u64, String, BTreeMap<String, String>)>,
}

fn text(v: &Val) -> String {
    match v {
        Val::Str(s) => s.clone(),
        Val::Int(i) => i.to_string(),
        Val::Bool(b) => b.to_string(),
        Val::Double(bits) => py_float(f64::from_bits(*bits)),
        other => format!("{other:?}"),
    }
}

fn json_text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Number(n) if n.is_f64() => py_float(n.as_f64().unwrap_or_default()),
        other => other.to_string(),
    }
}

fn ms(ns: u64) -> u64 {
    (ns + 500_000) / 1_000_000
}

fn common(spec: &Spec, family: Family, spans: &[NormSpan]) -> Vec<Common> {
    let mut out: Vec<Common> = spans
        .iter()
        .map(|a| {
            let scalar_keys: Vec<&String> = spec
                .spans
                .iter()
                .find(|s| s.span_id == a.span_id)
                .map(|s| {
                    s.attributes
                        .iter()
                        .filter(|(_, v)| !matches!(v, Typed::StrArray(_)))
                        .map(|(k, _)| k)
                        .collect()
                })
                .unwrap_or_default();
            let attributes = a
                .attributes
                .iter()
                .filter(|(k, _)| scalar_keys.contains(&k))
                .map(|(k, v)| (k.clone(), text(v)))
                .collect();
            let mut events: Vec<(u64, String, BTreeMap<String, String>)> = a
                .events
                .iter()
                .map(|ev| {
                    let mut attrs: BTreeMap<String, String> = ev
                        .attributes
                        .iter()
                        .map(|(k, v)| (k.clone(), text(v)))
                        .collect();
                    let mut name = ev.name.clone();
                    match family {
                        Family::JaegerThrift | Family::JaegerProto => {
                            name = attrs.remove("message").unwrap_or_default();
                        }
                        Family::Zipkin => {
                            if let Ok(Json::Object(o)) = serde_json::from_str::<Json>(&ev.name)
                                && let [(n, Json::Object(inner))] =
                                    o.iter().collect::<Vec<_>>().as_slice()
                            {
                                name = (*n).clone();
                                attrs = inner
                                    .iter()
                                    .map(|(k, v)| (k.clone(), json_text(v)))
                                    .collect();
                            }
                        }
                        Family::Otlp | Family::JaegerClient => {}
                    }
                    (ms(ev.time_unix_nano), name, attrs)
                })
                .collect();
            events.sort();
            Common {
                span_id: a.span_id.clone(),
                parent: a.parent_span_id.clone(),
                name: a.name.clone(),
                kind: if a.kind == SpanKind::Internal as i32 {
                    SpanKind::Unspecified as i32
                } else {
                    a.kind
                },
                start_ms: ms(a.start_time_unix_nano),
                end_ms: ms(a.end_time_unix_nano),
                failed: a.status_code == StatusCode::Error as i32,
                service: a
                    .resource
                    .iter()
                    .find(|(k, _)| k == "service.name")
                    .map(|(_, v)| text(v))
                    .unwrap_or_default(),
                attributes,
                events,
            }
        })
        .collect();
    out.sort();
    out
}

// ---- reading back ----

fn span_count(rs: &[ResourceSpans]) -> usize {
    rs.iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum()
}

/// `GET /api/traces/<id>` (v1 JSON, what Grafana reads), polling up to `wait` for `spans`
/// spans; then the other three forms (v1 protobuf, v2 JSON and protobuf) must say the same.
async fn read_back(server: &Server, id: &str, spans: usize, wait: Duration) -> Vec<ResourceSpans> {
    let client = server.client();
    let started = Instant::now();
    let got = loop {
        let got = read_trace(&client, id, Form::V1Json)
            .await
            .unwrap_or_else(|e| panic!("trace {id}: {e:#}"))
            .unwrap_or_default();
        if span_count(&got) >= spans || started.elapsed() >= wait {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(!got.is_empty(), "trace {id} not found (waited {wait:?})");
    for form in [Form::V1Protobuf, Form::V2Json, Form::V2Protobuf] {
        let other = read_trace(&client, id, form)
            .await
            .unwrap_or_else(|e| panic!("trace {id} as {form:?}: {e:#}"))
            .unwrap_or_else(|| panic!("trace {id}: found as v1 JSON, not as {form:?}"));
        if let Err(diff) = compare_spans(&got, &other) {
            panic!("trace {id}: {form:?} differs from v1 JSON: {diff}");
        }
    }
    got
}

fn options() -> ServerOptions {
    ServerOptions {
        jaeger_zipkin: true,
        ..ServerOptions::default()
    }
}

/// Now, to the millisecond (the spec's times are whole milliseconds from here).
fn base_time_ns() -> u64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    u64::try_from(now.as_millis()).unwrap() * 1_000_000
}

/// A distinct 128-bit trace ID per sender.
fn trace_id_for(index: u64) -> String {
    format!(
        "7e57c11e{:08x}{:016x}",
        index,
        0x5eed_0000_0000_0000_u64 | index
    )
}

/// Sends the spec through `sender` and checks what reads back; returns the normalized spans.
async fn round_trip(
    venvs: &Path,
    server: &Server,
    spec: &Spec,
    sender: Sender,
    trace_id: &str,
    base: u64,
) -> Vec<NormSpan> {
    send(venvs, sender, server, trace_id, base).await;
    // An acknowledged export is durable and readable at once; UDP has no acknowledgement.
    let wait = if sender.udp { UDP_WAIT } else { Duration::ZERO };
    let got = normalize(&read_back(server, trace_id, spec.spans.len(), wait).await);
    let want = expected(spec, sender.family, trace_id, base);
    if let Err(report) = check_spans(&want, &got, trace_id) {
        panic!(
            "{} ({:?} mapping): trace {trace_id} does not read back as sent:\n  {report}",
            sender.name, sender.family
        );
    }
    got
}

async fn round_trips(senders: &[Sender], first_index: u64) {
    let Some(venvs) = venvs() else { return };
    let spec = spec();
    let server = Server::start(options()).await.unwrap();
    for (i, sender) in (first_index..).zip(senders) {
        let id = trace_id_for(i);
        round_trip(&venvs, &server, &spec, *sender, &id, base_time_ns()).await;
    }
}

// ---- tests ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otel_sdk_otlp_exporters_read_back_as_sent() {
    round_trips(&[OTLP_GRPC, OTLP_GRPC_GZIP, OTLP_HTTP, OTLP_HTTP_GZIP], 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otel_sdk_zipkin_exporters_read_back_under_the_collector_mapping() {
    round_trips(&[ZIPKIN_JSON, ZIPKIN_PROTO], 11).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otel_sdk_jaeger_exporters_read_back_under_the_collector_mapping() {
    round_trips(&[JAEGER_AGENT, JAEGER_HTTP, JAEGER_GRPC], 21).await;
}

/// jaeger-client's default 64-bit trace IDs are widened (high half zero) and found by the
/// 16-digit ID too; its 128-bit mode reads back as well.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jaeger_client_udp_compact_reads_back_with_widened_ids() {
    let Some(venvs) = venvs() else { return };
    let spec = spec();
    let server = Server::start(options()).await.unwrap();
    let short = "6a61656765720064";
    let wide = format!("{:016x}{short}", 0);
    let got = round_trip(&venvs, &server, &spec, JAEGER_CLIENT, &wide, base_time_ns()).await;
    let by_short = normalize(&read_back(&server, short, spec.spans.len(), Duration::ZERO).await);
    assert_eq!(by_short, got, "the 16-digit ID finds the same trace");
    let id = trace_id_for(31);
    round_trip(&venvs, &server, &spec, JAEGER_CLIENT, &id, base_time_ns()).await;
}

/// The same logical trace through every client family reads back the same in everything all
/// of them carry, and still does once the head block has been flushed to a Parquet block.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_trace_over_otlp_jaeger_and_zipkin_clients_reads_back_equivalent() {
    let Some(venvs) = venvs() else { return };
    let spec = spec();
    let server = Server::start(options()).await.unwrap();
    let senders = [
        OTLP_GRPC,
        JAEGER_HTTP,
        JAEGER_AGENT,
        JAEGER_GRPC,
        ZIPKIN_JSON,
        ZIPKIN_PROTO,
        JAEGER_CLIENT,
    ];
    // One start time for all: the traces differ only in their IDs.
    let base = base_time_ns();
    let mut reads = Vec::new();
    for (i, sender) in (41..).zip(senders) {
        let id = trace_id_for(i);
        let got = round_trip(&venvs, &server, &spec, sender, &id, base).await;
        reads.push((sender, id, got));
    }
    let views: Vec<Vec<Common>> = reads
        .iter()
        .map(|(sender, _, got)| common(&spec, sender.family, got))
        .collect();
    assert_eq!(views[0].len(), spec.spans.len());
    for ((sender, _, _), view) in reads.iter().zip(&views).skip(1) {
        for (otlp, other) in views[0].iter().zip(view) {
            assert_eq!(
                otlp, other,
                "{} reads back differently from OTLP in what both carry",
                sender.name
            );
        }
        assert_eq!(view.len(), views[0].len(), "{}", sender.name);
    }

    let flushed = server.client().flush().await.unwrap();
    assert!(
        (200..300).contains(&flushed.status),
        "POST /flush: {}",
        flushed.status
    );
    for (sender, id, before) in &reads {
        let after = normalize(&read_back(&server, id, spec.spans.len(), Duration::ZERO).await);
        assert_eq!(
            &after, before,
            "{}: trace {id} reads back differently after the flush to Parquet",
            sender.name
        );
    }
}
