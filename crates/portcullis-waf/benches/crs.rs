//! CPU time per transaction through OWASP CRS 4 at paranoia levels 1 and 4: a GET with a query
//! string and a 1 KB JSON POST, both clean (the common case: every rule runs, none stops it);
//! and the gateway benchmark's exchange, response included.
//!
//! CRS is not in the repository: set `PORTCULLIS_CRS` to a CRS 4 directory (with `rules/` and
//! `crs-setup.conf.example`), or place it in `../shared/crs`.
//!
//! `cargo bench -p portcullis-waf --bench crs`

mod requests;

use criterion::{criterion_group, criterion_main, Criterion};

/// The gateway's allocator (see docs/architecture.md), so that the figures are the gateway's.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn bench(c: &mut Criterion) {
    let (get, _) = requests::get();
    let (post, body) = requests::post();
    for level in [1, 4] {
        let waf = requests::waf(level);
        if level == 1 {
            assert_eq!(
                requests::transaction(&waf, &get, b""),
                0,
                "the GET is clean at PL1"
            );
            assert_eq!(
                requests::transaction(&waf, &post, &body),
                0,
                "the POST is clean at PL1"
            );
        }
        c.bench_function(&format!("CRS PL{level} GET with query"), |b| {
            b.iter(|| requests::transaction(&waf, &get, b""))
        });
        c.bench_function(&format!("CRS PL{level} 1KB JSON POST"), |b| {
            b.iter(|| requests::transaction(&waf, &post, &body))
        });
    }
}

/// The gateway benchmark's exchange (wrk's bare GET, a 1 KB JSON response) through CRS PL1 as
/// the gateway loads it.
fn proxied(c: &mut Criterion) {
    let waf = requests::gateway_waf();
    let response = requests::proxied_response();
    c.bench_function("CRS PL1 proxied GET and 1KB JSON response", |b| {
        b.iter(|| requests::proxied_exchange(&waf, &response))
    });
}

criterion_group!(benches, bench, proxied);
criterion_main!(benches);
