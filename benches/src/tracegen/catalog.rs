//! The simulated shop: services, their endpoints and dependencies, and the word lists values are
//! drawn from. Pure data; the generator in `tracegen.rs` walks it.

/// Which telemetry SDK a service uses; decides scope names, semconv flavour and stack traces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Language {
    Go,
    Java,
    NodeJs,
    Python,
    DotNet,
    Rust,
}

impl Language {
    pub(crate) fn sdk_language(self) -> &'static str {
        match self {
            Language::Go => "go",
            Language::Java => "java",
            Language::NodeJs => "nodejs",
            Language::Python => "python",
            Language::DotNet => "dotnet",
            Language::Rust => "rust",
        }
    }

    pub(crate) fn sdk_version(self) -> &'static str {
        match self {
            Language::Go => "1.28.0",
            Language::Java => "1.40.0",
            Language::NodeJs => "1.25.1",
            Language::Python => "1.26.0",
            Language::DotNet => "1.9.0",
            Language::Rust => "0.24.0",
        }
    }

    pub(crate) fn runtime(self) -> (&'static str, &'static str) {
        match self {
            Language::Go => ("go", "go1.22.5"),
            Language::Java => ("OpenJDK Runtime Environment", "21.0.3+9-LTS"),
            Language::NodeJs => ("nodejs", "20.15.1"),
            Language::Python => ("cpython", "3.12.4"),
            Language::DotNet => (".NET", "8.0.7"),
            Language::Rust => ("rustc", "1.80.0"),
        }
    }

    /// (name, version) of the HTTP instrumentation scope.
    pub(crate) fn http_scope(self) -> (&'static str, &'static str) {
        match self {
            Language::Go => (
                "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp",
                "0.53.0",
            ),
            Language::Java => ("io.opentelemetry.spring-webmvc-6.0", "2.6.0-alpha"),
            Language::NodeJs => ("@opentelemetry/instrumentation-http", "0.52.1"),
            Language::Python => ("opentelemetry.instrumentation.flask", "0.47b0"),
            Language::DotNet => ("OpenTelemetry.Instrumentation.AspNetCore", "1.9.0"),
            Language::Rust => ("tower-http", "0.5.2"),
        }
    }

    /// (name, version) of the database / cache client instrumentation scope.
    pub(crate) fn db_scope(self) -> (&'static str, &'static str) {
        match self {
            Language::Go => ("github.com/XSAM/otelsql", "0.32.0"),
            Language::Java => ("io.opentelemetry.jdbc", "2.6.0-alpha"),
            Language::NodeJs => ("@opentelemetry/instrumentation-pg", "0.43.0"),
            Language::Python => ("opentelemetry.instrumentation.psycopg2", "0.47b0"),
            Language::DotNet => (
                "OpenTelemetry.Instrumentation.StackExchangeRedis",
                "1.0.0-rc9.15",
            ),
            Language::Rust => ("sqlx", "0.8.0"),
        }
    }

    /// (name, version) of the messaging client instrumentation scope.
    pub(crate) fn messaging_scope(self) -> (&'static str, &'static str) {
        match self {
            Language::Go => ("github.com/IBM/sarama/otelsarama", "0.53.0"),
            Language::Java => ("io.opentelemetry.kafka-clients-2.6", "2.6.0-alpha"),
            Language::NodeJs => ("@opentelemetry/instrumentation-kafkajs", "0.2.0"),
            Language::Python => ("opentelemetry.instrumentation.confluent_kafka", "0.47b0"),
            Language::DotNet => ("Confluent.Kafka.Extensions.OpenTelemetry", "0.4.0"),
            Language::Rust => ("rdkafka-otel", "0.3.1"),
        }
    }

    /// Old SDKs still emit the pre-1.20 HTTP semantic conventions (`http.method`, `http.url`,
    /// `http.status_code`), which Tempo stores in dedicated columns: we want both flavours.
    pub(crate) fn legacy_http_semconv(self) -> bool {
        matches!(self, Language::Python | Language::DotNet)
    }

    pub(crate) fn exceptions(self) -> &'static [&'static str] {
        match self {
            Language::Go => &[
                "*net.OpError",
                "*errors.errorString",
                "context.deadlineExceededError",
            ],
            Language::Java => &[
                "java.lang.IllegalStateException",
                "java.sql.SQLTransientConnectionException",
                "org.springframework.web.client.HttpServerErrorException",
            ],
            Language::NodeJs => &["TypeError", "FetchError", "Error"],
            Language::Python => &[
                "psycopg2.OperationalError",
                "KeyError",
                "requests.exceptions.ReadTimeout",
            ],
            Language::DotNet => &[
                "System.TimeoutException",
                "System.InvalidOperationException",
            ],
            Language::Rust => &["sqlx::Error", "hyper::Error"],
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DbKind {
    Postgres,
    MySql,
    Redis,
    Mongo,
}

impl DbKind {
    pub(crate) fn system(self) -> &'static str {
        match self {
            DbKind::Postgres => "postgresql",
            DbKind::MySql => "mysql",
            DbKind::Redis => "redis",
            DbKind::Mongo => "mongodb",
        }
    }

    pub(crate) fn port(self) -> i64 {
        match self {
            DbKind::Postgres => 5432,
            DbKind::MySql => 3306,
            DbKind::Redis => 6379,
            DbKind::Mongo => 27017,
        }
    }
}

/// A database a service talks to.
pub(crate) struct Database {
    pub(crate) kind: DbKind,
    pub(crate) name: &'static str,
    pub(crate) host: &'static str,
    pub(crate) tables: &'static [&'static str],
}

/// One HTTP route a service serves.
pub(crate) struct Route {
    pub(crate) method: &'static str,
    /// Template with `{placeholders}` replaced by generated values in `url.path`.
    pub(crate) template: &'static str,
}

pub(crate) struct ServiceProfile {
    pub(crate) name: &'static str,
    pub(crate) version: &'static str,
    pub(crate) language: Language,
    pub(crate) routes: &'static [Route],
    pub(crate) databases: &'static [Database],
    /// Services this one calls over HTTP (indices resolved by name).
    pub(crate) callees: &'static [&'static str],
    /// Third-party hosts called without a server span on the other side.
    pub(crate) external: &'static [&'static str],
    /// Topics this service publishes to.
    pub(crate) produces: &'static [&'static str],
    /// Topics this service consumes.
    pub(crate) consumes: &'static [&'static str],
    /// Names of internal (manually instrumented) operations.
    pub(crate) internal_ops: &'static [&'static str],
}

const fn route(method: &'static str, template: &'static str) -> Route {
    Route { method, template }
}

pub(crate) const SERVICES: &[ServiceProfile] = &[
    ServiceProfile {
        name: "frontend",
        version: "2.14.3",
        language: Language::NodeJs,
        routes: &[
            route("GET", "/"),
            route("GET", "/product/{productId}"),
            route("GET", "/cart"),
            route("POST", "/cart/checkout"),
            route("GET", "/search"),
            route("GET", "/account/orders/{orderId}"),
        ],
        databases: &[],
        callees: &["api-gateway"],
        external: &[],
        produces: &[],
        consumes: &[],
        internal_ops: &["render template", "resolve session", "load feature flags"],
    },
    ServiceProfile {
        name: "api-gateway",
        version: "1.31.0",
        language: Language::Go,
        routes: &[
            route("GET", "/api/v1/products/{productId}"),
            route("GET", "/api/v1/carts/{userId}"),
            route("POST", "/api/v1/checkout"),
            route("GET", "/api/v1/orders/{orderId}"),
            route("GET", "/api/v1/recommendations"),
        ],
        databases: &[],
        callees: &["auth", "catalog", "cart", "checkout", "recommendation"],
        external: &[],
        produces: &[],
        consumes: &[],
        internal_ops: &["rate limit check", "route match"],
    },
    ServiceProfile {
        name: "auth",
        version: "0.9.12",
        language: Language::Go,
        routes: &[
            route("POST", "/v1/tokens/verify"),
            route("GET", "/v1/sessions/{sessionId}"),
        ],
        databases: &[Database {
            kind: DbKind::Redis,
            name: "0",
            host: "redis-sessions.shop.svc.cluster.local",
            tables: &["session", "jwks"],
        }],
        callees: &[],
        external: &[],
        produces: &[],
        consumes: &[],
        internal_ops: &["verify jwt signature"],
    },
    ServiceProfile {
        name: "catalog",
        version: "3.2.0",
        language: Language::Python,
        routes: &[
            route("GET", "/api/v2/products/{productId}"),
            route("GET", "/api/v2/products"),
            route("GET", "/api/v2/categories/{category}/products"),
        ],
        databases: &[
            Database {
                kind: DbKind::Postgres,
                name: "catalog",
                host: "pg-catalog.shop.svc.cluster.local",
                tables: &["products", "prices", "categories", "product_images"],
            },
            Database {
                kind: DbKind::Mongo,
                name: "catalog_content",
                host: "mongo-0.mongo.shop.svc.cluster.local",
                tables: &["descriptions", "reviews"],
            },
        ],
        callees: &[],
        external: &[],
        produces: &[],
        consumes: &[],
        internal_ops: &["apply currency conversion", "serialize product"],
    },
    ServiceProfile {
        name: "cart",
        version: "5.0.1",
        language: Language::DotNet,
        routes: &[
            route("GET", "/api/v1/carts/{userId}"),
            route("POST", "/api/v1/carts/{userId}/items"),
            route("DELETE", "/api/v1/carts/{userId}/items/{productId}"),
        ],
        databases: &[Database {
            kind: DbKind::Redis,
            name: "1",
            host: "redis-cart.shop.svc.cluster.local",
            tables: &["cart", "cart-lock"],
        }],
        callees: &["catalog"],
        external: &[],
        produces: &[],
        consumes: &[],
        internal_ops: &["merge anonymous cart"],
    },
    ServiceProfile {
        name: "checkout",
        version: "4.7.2",
        language: Language::Java,
        routes: &[
            route("POST", "/api/v1/checkout"),
            route("GET", "/api/v1/orders/{orderId}"),
        ],
        databases: &[Database {
            kind: DbKind::Postgres,
            name: "orders",
            host: "pg-orders.shop.svc.cluster.local",
            tables: &["orders", "order_items", "order_events"],
        }],
        callees: &["cart", "payment", "inventory", "shipping"],
        external: &[],
        produces: &["orders.created", "orders.audit"],
        consumes: &[],
        internal_ops: &["validate order", "compute totals", "apply promotions"],
    },
    ServiceProfile {
        name: "payment",
        version: "2.3.9",
        language: Language::Go,
        routes: &[
            route("POST", "/v1/charges"),
            route("GET", "/v1/charges/{chargeId}"),
        ],
        databases: &[Database {
            kind: DbKind::MySql,
            name: "payments",
            host: "mysql-payments.shop.svc.cluster.local",
            tables: &["charges", "refunds", "idempotency_keys"],
        }],
        callees: &[],
        external: &["api.stripe.com", "fraud.sift.example.net"],
        produces: &[],
        consumes: &[],
        internal_ops: &["fraud score", "tokenize card"],
    },
    ServiceProfile {
        name: "inventory",
        version: "1.12.4",
        language: Language::Rust,
        routes: &[
            route("POST", "/v1/reservations"),
            route("GET", "/v1/stock/{sku}"),
        ],
        databases: &[Database {
            kind: DbKind::Postgres,
            name: "inventory",
            host: "pg-inventory.shop.svc.cluster.local",
            tables: &["stock", "reservations", "warehouses"],
        }],
        callees: &[],
        external: &[],
        produces: &["inventory.reserved"],
        consumes: &[],
        internal_ops: &["pick warehouse", "reconcile stock"],
    },
    ServiceProfile {
        name: "shipping",
        version: "0.18.0",
        language: Language::Java,
        routes: &[route("POST", "/api/shipments"), route("GET", "/api/quotes")],
        databases: &[Database {
            kind: DbKind::Postgres,
            name: "shipping",
            host: "pg-shipping.shop.svc.cluster.local",
            tables: &["shipments", "carriers"],
        }],
        callees: &[],
        external: &["api.dhl.example.com", "onlinetools.ups.example.com"],
        produces: &[],
        consumes: &[],
        internal_ops: &["compute parcel dimensions"],
    },
    ServiceProfile {
        name: "recommendation",
        version: "7.1.0",
        language: Language::Python,
        routes: &[route("GET", "/v1/recommendations")],
        databases: &[Database {
            kind: DbKind::Redis,
            name: "2",
            host: "redis-reco.shop.svc.cluster.local",
            tables: &["reco", "user-embedding"],
        }],
        callees: &["catalog"],
        external: &[],
        produces: &[],
        consumes: &[],
        internal_ops: &["model.predict", "rank candidates"],
    },
    ServiceProfile {
        name: "notification",
        version: "1.4.6",
        language: Language::Python,
        routes: &[route("POST", "/v1/notify")],
        databases: &[Database {
            kind: DbKind::Mongo,
            name: "notifications",
            host: "mongo-notify.shop.svc.cluster.local",
            tables: &["outbox", "templates"],
        }],
        callees: &[],
        external: &["smtp-relay.mail.example.org"],
        produces: &[],
        consumes: &["orders.created"],
        internal_ops: &["render email", "dedupe notification"],
    },
    ServiceProfile {
        name: "audit",
        version: "0.3.2",
        language: Language::Go,
        routes: &[route("GET", "/v1/audit/{orderId}")],
        databases: &[Database {
            kind: DbKind::MySql,
            name: "audit",
            host: "mysql-audit.shop.svc.cluster.local",
            tables: &["audit_log"],
        }],
        callees: &[],
        external: &[],
        produces: &[],
        consumes: &["orders.audit", "inventory.reserved"],
        internal_ops: &["hash record"],
    },
];

pub(crate) const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.{v} Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_{v} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "ShopApp/{v}.2 (Android 14; Pixel 8)",
    "curl/8.{v}.0",
];

pub(crate) const CLIENT_USER_AGENTS: &[&str] = &[
    "Go-http-client/1.1",
    "okhttp/4.12.0",
    "python-requests/2.32.3",
    "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
    "reqwest/0.12",
];

pub(crate) const SEARCH_WORDS: &[&str] = &[
    "shoes",
    "running",
    "jacket",
    "waterproof",
    "kettle",
    "espresso",
    "headphones",
    "wireless",
    "desk",
    "lamp",
    "backpack",
    "yoga",
    "mat",
    "coffee",
    "grinder",
    "socks",
    "wool",
    "tent",
];

pub(crate) const CATEGORIES: &[&str] = &[
    "outdoor",
    "kitchen",
    "electronics",
    "apparel",
    "home-office",
    "sports",
    "books",
];

pub(crate) const CURRENCIES: &[&str] = &["EUR", "USD", "GBP", "CHF", "SEK", "JPY"];

pub(crate) const ERROR_MESSAGES: &[&str] = &[
    "connection reset by peer",
    "context deadline exceeded",
    "upstream request timeout",
    "deadlock detected",
    "too many connections",
    "unexpected EOF",
    "no healthy upstream",
    "lock wait timeout exceeded; try restarting transaction",
];

pub(crate) const REGIONS: &[&str] = &["eu-west-1", "eu-central-1", "us-east-2"];
