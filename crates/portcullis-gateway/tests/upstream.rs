//! Upstreams: failures (502/504), retries, balancing, passive health, h2c and verified TLS.

mod support;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use support::*;

fn yaml_with_upstream(upstream_block: &str) -> String {
    format!(
        "{}upstreams:
  main:
{upstream_block}
apis:
  - name: test
    upstream: main
    public: true
    routes:
{DEMO_ROUTES}",
        listeners_yaml()
    )
}

async fn upstreams_seen(env: &Env) -> Vec<String> {
    let log = env.access_log().await;
    log.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["upstream"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_dead_upstream_gives_502_problem() {
    let dead = dead_port().await;
    let env = Env::start(&yaml_with_upstream(&format!(
        "    targets: [\"http://{dead}\"]"
    )))
    .await;
    let r = get(env.http(), "/health", "").await;
    assert_eq!(r.status, 502, "{}", r.raw);
    assert_eq!(
        r.json()["type"],
        "https://portcullis.dev/problems/upstream-unavailable"
    );
    assert!(
        !r.body.contains(&dead.to_string()),
        "upstream address leaked: {}",
        r.body
    );
}

#[tokio::test]
async fn a_slow_upstream_gives_504() {
    let api = demo_api().await;
    let env = Env::start(&yaml_with_upstream(&format!(
        "    targets: [\"http://{api}\"]\n    response_timeout: 300ms\n    retries: 0"
    )))
    .await;
    let r = get(env.http(), "/slow?ms=3000", "").await;
    assert_eq!(r.status, 504, "{}", r.raw);
    assert_eq!(
        r.json()["type"],
        "https://portcullis.dev/problems/upstream-timeout"
    );
    assert_eq!(get(env.http(), "/slow?ms=10", "").await.status, 200);
}

#[tokio::test]
async fn idempotent_requests_are_retried_on_another_target_and_posts_are_not() {
    let api = demo_api().await;
    let dead = dead_port().await;
    let env = Env::start(&yaml_with_upstream(&format!(
        "    targets: [\"http://{dead}\", \"http://{api}\"]\n    retries: 1\n    health: {{ max_failures: 1000 }}"
    )))
    .await;
    for _ in 0..6 {
        assert_eq!(get(env.http(), "/echo/r", "").await.status, 200);
    }
    let mut statuses = HashSet::new();
    for _ in 0..6 {
        let r = http_raw(
            env.http(),
            "POST /echo/r HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
        )
        .await;
        statuses.insert(r.status);
    }
    assert!(statuses.contains(&502), "POSTs were retried: {statuses:?}");
    assert!(statuses.contains(&200), "{statuses:?}");
}

#[tokio::test]
async fn round_robin_uses_every_target() {
    let a = demo_api().await;
    let b = demo_api().await;
    let env = Env::start(&yaml_with_upstream(&format!(
        "    targets: [\"http://{a}\", \"http://{b}\"]"
    )))
    .await;
    for _ in 0..6 {
        assert_eq!(get(env.http(), "/health", "").await.status, 200);
    }
    let seen = upstreams_seen(&env).await;
    let a_count = seen.iter().filter(|s| **s == a.to_string()).count();
    let b_count = seen.iter().filter(|s| **s == b.to_string()).count();
    assert_eq!((a_count, b_count), (3, 3), "{seen:?}");
}

#[tokio::test]
async fn least_requests_avoids_the_busy_target() {
    let a = demo_api().await;
    let b = demo_api().await;
    let env = Env::start(&yaml_with_upstream(&format!(
        "    targets: [\"http://{a}\", \"http://{b}\"]\n    balance: least_requests"
    )))
    .await;
    let http = env.http();
    let slow = tokio::spawn(async move { get(http, "/slow?ms=1200", "").await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    for _ in 0..4 {
        assert_eq!(get(env.http(), "/health", "").await.status, 200);
    }
    assert_eq!(slow.await.unwrap().status, 200);
    let seen = upstreams_seen(&env).await;
    // The four quick requests finished first and all went to the idle target.
    let quick: HashSet<_> = seen[..4].iter().collect();
    assert_eq!(quick.len(), 1, "{seen:?}");
    assert_ne!(seen[0], seen[4], "{seen:?}");
}

#[tokio::test]
async fn a_failing_target_is_ejected_then_tried_again() {
    let api = demo_api().await;
    let dead = dead_port().await;
    let env = Env::start(&yaml_with_upstream(&format!(
        "    targets: [\"http://{dead}\", \"http://{api}\"]\n    retries: 0\n    health: {{ max_failures: 2, eject_for: 1s }}"
    )))
    .await;
    let mut failures = 0;
    for _ in 0..12 {
        if get(env.http(), "/health", "").await.status == 502 {
            failures += 1;
        }
    }
    assert_eq!(
        failures, 2,
        "the dead target should fail exactly max_failures times before ejection"
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let mut after = 0;
    for _ in 0..4 {
        if get(env.http(), "/health", "").await.status == 502 {
            after += 1;
        }
    }
    assert!(after >= 1, "the ejected target was never tried again");
}

#[tokio::test]
async fn h2c_upstream_is_spoken_with_prior_knowledge() {
    let api = demo_api().await;
    let env = Env::start(&yaml_with_upstream(&format!(
        "    targets: [\"http://{api}\"]\n    protocol: h2"
    )))
    .await;
    let r = get(env.http(), "/echo/h2", "").await;
    assert_eq!(r.status, 200, "{}", r.raw);
}

/// A second gateway with TLS in front of the demo API: a real TLS upstream.
async fn tls_upstream() -> (Env, SocketAddr) {
    let api = demo_api().await;
    let env = Env::start(&config(api, DEMO_ROUTES, "")).await;
    let addr = env.https();
    (env, addr)
}

#[tokio::test]
async fn tls_upstream_is_verified_against_the_configured_ca() {
    let (inner, addr) = tls_upstream().await;
    let ca = inner.pki.ca.display().to_string();
    let env = Env::start(&yaml_with_upstream(&format!(
        "    targets: [\"https://localhost:{}\"]\n    ca: {ca}",
        addr.port()
    )))
    .await;
    let r = get(env.http(), "/echo/tls", "").await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.json()["headers"]["x-forwarded-proto"], "https");

    // Without the CA (public web roots only) the self-signed upstream is refused.
    let unverified = Env::start(&yaml_with_upstream(&format!(
        "    targets: [\"https://localhost:{}\"]",
        addr.port()
    )))
    .await;
    assert_eq!(get(unverified.http(), "/echo/tls", "").await.status, 502);
}

#[tokio::test]
async fn tls_upstream_with_h2_by_alpn() {
    let (inner, addr) = tls_upstream().await;
    let ca = inner.pki.ca.display().to_string();
    let env = Env::start(&yaml_with_upstream(&format!(
        "    targets: [\"https://localhost:{}\"]\n    ca: {ca}\n    protocol: h2",
        addr.port()
    )))
    .await;
    let r = get(env.http(), "/health", "").await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let inner_log = inner.access_log().await;
    assert!(inner_log.contains("\"protocol\":\"HTTP/2\""), "{inner_log}");
}

/// An upstream that answers 200 to everything and counts the connections it accepted.
async fn counting_upstream() -> (SocketAddr, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = std::sync::Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_req| async {
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(
                        http_body_util::Full::new(hyper::body::Bytes::from_static(
                            b"{\"ok\":true}",
                        )),
                    ))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    (addr, accepted)
}

#[tokio::test]
async fn upstream_connections_are_reused() {
    let (up, accepted) = counting_upstream().await;
    let env = Env::start(&yaml_with_upstream(&format!(
        "    targets: [\"http://{up}\"]"
    )))
    .await;
    for _ in 0..20 {
        let r = get(env.http(), "/health", "").await;
        assert_eq!(r.status, 200, "{}", r.raw);
    }
    assert_eq!(
        accepted.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "each request opened a new upstream connection"
    );
}
