//! CPU cost of validating one request body (and of filtering one response) against a compiled
//! spec: a 1 KB and a 32 KB JSON order (bench/specs/orders.yaml).
//!
//! `cargo bench -p portcullis-openapi --bench validation`

use std::path::Path;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use portcullis_openapi::{Operation, Options, ResponseMode, ResponsePlan, Spec};

/// A valid order of about `target` bytes.
pub fn order(target: usize) -> String {
    let mut items = Vec::new();
    let mut i = 0;
    loop {
        items.push(format!(
            r#"{{"sku": "ABC-{:04}", "quantity": {}, "price": {}.5, "gift": {}, "tags": ["blue", "sale"]}}"#,
            i % 10_000,
            1 + i % 99,
            1 + i % 500,
            i % 2 == 0
        ));
        i += 1;
        let body = format!(
            r#"{{"customer": {{"id": "3fa85f64-5717-4562-b3fc-2c963f66afa6", "email": "ann@example.com", "name": "Ann"}}, "note": null, "currency": "EUR", "items": [{}]}}"#,
            items.join(", ")
        );
        if body.len() >= target {
            return body;
        }
    }
}

fn operation() -> Arc<Operation> {
    let spec = Spec::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/specs/orders.yaml"),
        &Options::default(),
    )
    .expect("bench spec loads");
    spec.operations[0].clone()
}

fn bench(c: &mut Criterion) {
    let op = operation();
    // For reference: what parsing alone costs (a floor for any JSON validation).
    let mut group = c.benchmark_group("parse_only");
    for (name, size) in [("1KB", 1024), ("32KB", 32 * 1024)] {
        let body = order(size);
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| serde_json::from_slice::<serde_json::Value>(body.as_bytes()))
        });
    }
    group.finish();
    let mut group = c.benchmark_group("validate_request_body");
    for (name, size) in [("1KB", 1024), ("32KB", 32 * 1024)] {
        let body = order(size);
        assert_eq!(
            op.check_body(Some("application/json"), body.as_bytes()),
            Ok(())
        );
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| op.check_body(Some("application/json"), body.as_bytes()))
        });
    }
    group.finish();
    let mut group = c.benchmark_group("check_response_body");
    let ResponsePlan::Json(schema) = op.response_plan(200, Some("application/json")) else {
        panic!("the bench spec documents a JSON 200")
    };
    for (name, size) in [("1KB", 1024), ("32KB", 32 * 1024)] {
        let body = order(size);
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| op.check_response(schema, body.as_bytes(), ResponseMode::Strip))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
