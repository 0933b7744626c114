//! Small builders for attribute values: identifiers, URLs, SQL, stack traces, OTLP `KeyValue`s.
//! Everything draws from the caller's RNG so a seed reproduces the same values.

use rand::Rng;
use rand::rngs::SmallRng;
use tracecore_proto::otlp::{AnyValue, ArrayValue, KeyValue, KeyValueList, any_value::Value};

use super::catalog::{CATEGORIES, CURRENCIES, Database, DbKind, Language, SEARCH_WORDS};

/// A uniformly chosen element of a non-empty constant slice.
pub(crate) fn pick<'a, T>(rng: &mut SmallRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

pub(crate) fn kv_str(key: &str, value: impl Into<String>) -> KeyValue {
    kv(key, Value::StringValue(value.into()))
}

pub(crate) fn kv_int(key: &str, value: i64) -> KeyValue {
    kv(key, Value::IntValue(value))
}

pub(crate) fn kv_f64(key: &str, value: f64) -> KeyValue {
    kv(key, Value::DoubleValue(value))
}

pub(crate) fn kv_bool(key: &str, value: bool) -> KeyValue {
    kv(key, Value::BoolValue(value))
}

pub(crate) fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
    }
}

pub(crate) fn string_array(values: impl IntoIterator<Item = String>) -> Value {
    Value::ArrayValue(ArrayValue {
        values: values
            .into_iter()
            .map(|s| AnyValue {
                value: Some(Value::StringValue(s)),
            })
            .collect(),
    })
}

pub(crate) fn kvlist(values: Vec<KeyValue>) -> Value {
    Value::KvlistValue(KeyValueList { values })
}

pub(crate) fn random_hex(rng: &mut SmallRng, bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rng.fill(&mut buf[..]);
    hex::encode(buf)
}

pub(crate) fn uuid(rng: &mut SmallRng) -> String {
    let mut b = [0u8; 16];
    rng.fill(&mut b[..]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

pub(crate) fn alnum(rng: &mut SmallRng, len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    (0..len).map(|_| char::from(*pick(rng, ALPHABET))).collect()
}

pub(crate) fn pod_ip(rng: &mut SmallRng) -> String {
    format!(
        "10.{}.{}.{}",
        rng.random_range(0..4),
        rng.random_range(0..=255),
        rng.random_range(1..=254)
    )
}

pub(crate) fn public_ip(rng: &mut SmallRng) -> String {
    if rng.random_bool(0.2) {
        format!(
            "2a02:{:x}:{:x}::{:x}",
            rng.random_range(0x100..0xffff),
            rng.random_range(0x1..0xffff),
            rng.random_range(0x1..0xffff)
        )
    } else {
        format!(
            "{}.{}.{}.{}",
            rng.random_range(11..=223),
            rng.random_range(0..=255),
            rng.random_range(0..=255),
            rng.random_range(1..=254)
        )
    }
}

/// A value for one `{placeholder}` of a route template.
fn placeholder_value(rng: &mut SmallRng, name: &str) -> String {
    match name {
        "productId" | "sku" => format!("SKU-{:05}", rng.random_range(1..60_000)),
        "orderId" => format!(
            "ORD-{}-{:07}",
            rng.random_range(2023..=2025),
            rng.random_range(0..10_000_000)
        ),
        "userId" => rng.random_range(100_000..99_999_999).to_string(),
        "sessionId" => random_hex(rng, 16),
        "chargeId" => format!("ch_3P{}", alnum(rng, 22)),
        "category" => pick(rng, CATEGORIES).to_string(),
        _ => alnum(rng, 10),
    }
}

/// Expands a route template (`/api/v1/orders/{orderId}`) into a concrete path.
pub(crate) fn expand_route(rng: &mut SmallRng, template: &str) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find('}').unwrap_or(after.len());
        out.push_str(&placeholder_value(rng, &after[..close]));
        rest = after.get(close + 1..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

/// An optional query string fitting the route (no leading `?`).
pub(crate) fn query_string(rng: &mut SmallRng, method: &str, template: &str) -> Option<String> {
    if method != "GET" || !rng.random_bool(0.45) {
        return None;
    }
    let mut params = Vec::new();
    if template.contains("search") || template.ends_with("/products") {
        params.push(format!(
            "q={}+{}",
            pick(rng, SEARCH_WORDS),
            pick(rng, SEARCH_WORDS)
        ));
    }
    if rng.random_bool(0.5) {
        params.push(format!("page={}", rng.random_range(1..40)));
        params.push(format!("limit={}", pick(rng, &[10, 20, 25, 50, 100])));
    }
    if rng.random_bool(0.3) {
        params.push(format!("currency={}", pick(rng, CURRENCIES)));
    }
    if rng.random_bool(0.2) {
        params.push(format!(
            "utm_source={}",
            pick(rng, &["newsletter", "google", "instagram", "partner"])
        ));
    }
    if params.is_empty() {
        params.push(format!(
            "ts={}",
            rng.random_range(1_700_000_000u64..1_800_000_000)
        ));
    }
    Some(params.join("&"))
}

pub(crate) fn user_agent(rng: &mut SmallRng, templates: &[&str]) -> String {
    pick(rng, templates).replace("{v}", &rng.random_range(4..128).to_string())
}

/// A database call: (span name, operation, table, statement).
pub(crate) fn db_call(
    rng: &mut SmallRng,
    db: &Database,
) -> (String, &'static str, &'static str, String) {
    let table = *pick(rng, db.tables);
    match db.kind {
        DbKind::Postgres | DbKind::MySql => {
            let id = rng.random_range(1..5_000_000);
            let (op, stmt) = match rng.random_range(0..10) {
                0..=5 => (
                    "SELECT",
                    format!(
                        "SELECT id, status, updated_at, payload FROM {table} WHERE id = {id}{} LIMIT {}",
                        if rng.random_bool(0.4) {
                            format!(" AND tenant_id = '{}'", alnum(rng, 6))
                        } else {
                            String::new()
                        },
                        pick(rng, &[1, 10, 50, 100])
                    ),
                ),
                6..=7 => (
                    "UPDATE",
                    format!(
                        "UPDATE {table} SET status = '{}', version = version + 1, updated_at = now() WHERE id = {id} AND version = {}",
                        pick(
                            rng,
                            &["pending", "reserved", "paid", "shipped", "cancelled"]
                        ),
                        rng.random_range(1..40)
                    ),
                ),
                8 => (
                    "INSERT",
                    format!(
                        "INSERT INTO {table} (id, ref, amount_cents, currency, created_at) VALUES ({id}, '{}', {}, '{}', now())",
                        uuid(rng),
                        rng.random_range(99..250_000),
                        pick(rng, CURRENCIES)
                    ),
                ),
                _ => (
                    "DELETE",
                    format!(
                        "DELETE FROM {table} WHERE expires_at < now() - interval '{} minutes'",
                        rng.random_range(5..1440)
                    ),
                ),
            };
            (format!("{op} {}.{table}", db.name), op, table, stmt)
        }
        DbKind::Redis => {
            let key = format!("{table}:{}", rng.random_range(10_000..9_999_999));
            let (op, stmt) = match rng.random_range(0..6) {
                0..=2 => ("GET", format!("GET {key}")),
                3 => ("HGETALL", format!("HGETALL {key}")),
                4 => (
                    "SET",
                    format!("SET {key} ? EX {}", pick(rng, &[60, 300, 900, 3600])),
                ),
                _ => (
                    "EXPIRE",
                    format!("EXPIRE {key} {}", rng.random_range(30..7200)),
                ),
            };
            (op.to_owned(), op, table, stmt)
        }
        DbKind::Mongo => {
            let (op, stmt) = if rng.random_bool(0.7) {
                (
                    "find",
                    format!(
                        "{{\"find\":\"{table}\",\"filter\":{{\"productId\":\"SKU-{:05}\",\"lang\":\"{}\"}},\"limit\":{}}}",
                        rng.random_range(1..60_000),
                        pick(rng, &["en", "de", "fr", "sv", "ja"]),
                        rng.random_range(1..50)
                    ),
                )
            } else {
                (
                    "insert",
                    format!(
                        "{{\"insert\":\"{table}\",\"documents\":[{{\"_id\":\"{}\",\"ts\":{}}}]}}",
                        random_hex(rng, 12),
                        rng.random_range(1_700_000_000u64..1_800_000_000)
                    ),
                )
            };
            (format!("{op} {}.{table}", db.name), op, table, stmt)
        }
    }
}

/// A plausible stack trace for `language`, with varying frames and line numbers.
pub(crate) fn stack_trace(
    rng: &mut SmallRng,
    language: Language,
    exception: &str,
    message: &str,
) -> String {
    let frames = rng.random_range(3..9);
    let mut out = String::new();
    match language {
        Language::Java => {
            out.push_str(&format!("{exception}: {message}\n"));
            for _ in 0..frames {
                let class = pick(
                    rng,
                    &[
                        "OrderService",
                        "CheckoutController",
                        "JdbcTemplate",
                        "HikariPool",
                        "RestTemplate",
                    ],
                );
                out.push_str(&format!(
                    "\tat com.shop.{}.{class}.{}({class}.java:{})\n",
                    pick(rng, &["checkout", "core", "infra"]),
                    pick(
                        rng,
                        &["execute", "handle", "doFilter", "invoke", "getConnection"]
                    ),
                    rng.random_range(20..900)
                ));
            }
        }
        Language::Python => {
            out.push_str("Traceback (most recent call last):\n");
            for _ in 0..frames {
                out.push_str(&format!(
                    "  File \"/app/{}.py\", line {}, in {}\n",
                    pick(
                        rng,
                        &["views", "models", "db/session", "clients/http", "tasks"]
                    ),
                    rng.random_range(10..700),
                    pick(rng, &["get", "dispatch", "execute", "_request", "handle"])
                ));
            }
            out.push_str(&format!("{exception}: {message}"));
        }
        Language::Go | Language::Rust => {
            out.push_str(&format!(
                "{message}\n\ngoroutine {} [running]:\n",
                rng.random_range(1..5000)
            ));
            for _ in 0..frames {
                out.push_str(&format!(
                    "github.com/shop/{}.{}(...)\n\t/src/{}.go:{} +0x{:x}\n",
                    pick(
                        rng,
                        &["payment/internal/charge", "gateway/proxy", "auth/session"]
                    ),
                    pick(rng, &["Handle", "Do", "roundTrip", "Query"]),
                    pick(rng, &["handler", "client", "store"]),
                    rng.random_range(10..600),
                    rng.random_range(0x10..0x400)
                ));
            }
        }
        Language::NodeJs | Language::DotNet => {
            out.push_str(&format!("{exception}: {message}\n"));
            for _ in 0..frames {
                out.push_str(&format!(
                    "    at {} ({}:{}:{})\n",
                    pick(
                        rng,
                        &[
                            "processTicksAndRejections",
                            "Router.handle",
                            "CartController.Get",
                            "fetchJson"
                        ]
                    ),
                    pick(
                        rng,
                        &[
                            "/app/dist/server.js",
                            "/app/src/api.ts",
                            "/src/Cart/Controllers.cs"
                        ]
                    ),
                    rng.random_range(1..2000),
                    rng.random_range(1..80)
                ));
            }
        }
    }
    out
}
