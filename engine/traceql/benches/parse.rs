//! TraceQL parse + validate throughput over representative queries.
//! Run: `cargo bench -p tracecore-traceql --bench parse`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const QUERIES: &[&str] = &[
    r#"{ resource.service.name = "shop-backend" && span.http.status_code >= 500 }"#,
    r#"{ span.http.method = "GET" } >> { status = error } | count() > 2"#,
    r#"{ duration > 100ms && name =~ "GET /api/.*" } | by(resource.service.name) | avg(duration) > 1s"#,
    r#"{ kind = server } | select(span.http.route, resource.k8s.pod.name)"#,
    r#"{ span:status = error } | rate() by (resource.service.name) | topk(10)"#,
    r#"{} | quantile_over_time(duration, 0.5, 0.9, 0.99) by (span.http.route) with(sample=0.1)"#,
];

fn parse(c: &mut Criterion) {
    let bytes: usize = QUERIES.iter().map(|q| q.len()).sum();
    let mut group = c.benchmark_group("traceql");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("parse/mix", |b| {
        b.iter(|| {
            for q in QUERIES {
                black_box(tracecore_traceql::parse(black_box(q)).is_ok());
            }
        })
    });
    group.bench_function("parse_and_validate/mix", |b| {
        b.iter(|| {
            for q in QUERIES {
                let parsed = tracecore_traceql::parse_and_validate(black_box(q));
                black_box(parsed.is_ok());
            }
        })
    });
    let long_or: String = (0..2000)
        .map(|i| format!("trace:id = \"{i:032x}\""))
        .collect::<Vec<_>>()
        .join(" || ");
    let long_or = format!("{{ {long_or} }}");
    group.throughput(Throughput::Bytes(long_or.len() as u64));
    group.bench_function("parse_and_validate/or_chain_2000", |b| {
        b.iter(|| black_box(tracecore_traceql::parse_and_validate(black_box(&long_or)).is_ok()))
    });
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
