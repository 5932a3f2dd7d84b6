//! Runs N clean transactions through OWASP CRS 4 and prints the time per transaction (one
//! thread, so wall time is CPU time); also the workload for instruction counts under callgrind.
//! bench/run.sh waf compares it with the same requests through libmodsecurity 3.
//!
//! `cargo run --release -p portcullis-waf --example crs_transactions -- LEVEL get|post|proxied N`
//!
//! `proxied` is the gateway benchmark's exchange (wrk's bare GET, nginx's 1 KB JSON response)
//! through CRS loaded as the gateway loads it (its prelude, PL1 whatever LEVEL says).

#[path = "../benches/requests.rs"]
mod requests;

/// The gateway's allocator (see docs/architecture.md), so that the figures are the gateway's.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// One exchange through the rule set; the number of rules that logged.
type Run = dyn Fn(&std::sync::Arc<portcullis_waf::engine::Waf>) -> usize;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let level: u8 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1);
    let kind = args.get(2).map_or("get", String::as_str);
    let n: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(100);
    let (waf, run): (_, Box<Run>) = match kind {
        "proxied" => {
            let response = requests::proxied_response();
            (
                requests::gateway_waf(),
                Box::new(move |waf| requests::proxied_exchange(waf, &response)),
            )
        }
        _ => {
            let (head, body) = if kind == "post" {
                requests::post()
            } else {
                requests::get()
            };
            (
                requests::waf(level),
                Box::new(move |waf| requests::transaction(waf, &head, &body)),
            )
        }
    };
    for _ in 0..10.min(n) {
        run(&waf);
    }
    let start = std::time::Instant::now();
    let mut logged = 0;
    for _ in 0..n {
        logged = run(&waf);
    }
    if n > 0 {
        let per = start.elapsed().as_secs_f64() / n as f64 * 1e6;
        println!(
            "{kind} {per:.1} us/transaction (PL{level}, {n} transactions, {logged} rules logged)"
        );
    }
}
