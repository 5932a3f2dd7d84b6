//! Runs N clean transactions through OWASP CRS 4 (for instruction counts under callgrind).
//!
//! `cargo run --release -p portcullis-waf --example crs_transactions -- LEVEL get|post N`

#[path = "../benches/requests.rs"]
mod requests;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let level: u8 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1);
    let kind = args.get(2).map_or("get", String::as_str);
    let n: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(100);
    let waf = requests::waf(level);
    let (head, body) = if kind == "post" {
        requests::post()
    } else {
        requests::get()
    };
    for _ in 0..n {
        requests::transaction(&waf, &head, &body);
    }
}
