//! Routing, proxy semantics and baseline protection, through real sockets with the demo API as
//! the upstream.

mod support;

use std::time::Duration;

use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn env() -> Env {
    let api = demo_api().await;
    Env::start(&config(api, DEMO_ROUTES, "")).await
}

#[tokio::test]
async fn proxies_a_request_and_adds_security_headers() {
    let env = env().await;
    let r = env
        .https_raw("GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.json()["status"], "ok");
    assert_eq!(
        r.header("strict-transport-security"),
        Some("max-age=31536000; includeSubDomains")
    );
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(
        r.header("content-security-policy"),
        Some("frame-ancestors 'none'")
    );
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("x-request-id").map(str::len), Some(32));
}

#[tokio::test]
async fn hsts_is_only_sent_over_tls() {
    let env = env().await;
    let r = get(env.http(), "/health", "").await;
    assert_eq!(r.status, 200);
    assert!(r.header("strict-transport-security").is_none());
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
}

#[tokio::test]
async fn server_and_powered_by_headers_are_stripped() {
    let env = env().await;
    // The demo's echo endpoint sends `Server: DemoServer/1.0` and `X-Powered-By: PHP/5.4`.
    let direct = get(env.http(), "/echo/x", "").await;
    assert_eq!(direct.status, 200);
    assert!(direct.header("server").is_none(), "{}", direct.raw);
    assert!(direct.header("x-powered-by").is_none(), "{}", direct.raw);
}

#[tokio::test]
async fn unknown_path_is_404_problem_json() {
    let env = env().await;
    let r = get(env.http(), "/.env", "").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    let body = r.json();
    assert_eq!(body["type"], "https://portcullis.dev/problems/not-found");
    assert_eq!(body["status"], 404);
    assert_eq!(body["request_id"].as_str(), r.header("x-request-id"));
}

#[tokio::test]
async fn wrong_method_is_405_with_allow() {
    let env = env().await;
    let r = http_raw(
        env.http(),
        "PATCH /orders/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, DELETE, HEAD"));
    assert_eq!(
        r.json()["type"],
        "https://portcullis.dev/problems/method-not-allowed"
    );
}

#[tokio::test]
async fn trace_connect_and_unknown_methods_are_refused_unless_named() {
    let env = env().await;
    for method in ["TRACE", "FOO"] {
        let r = http_raw(
            env.http(),
            &format!("{method} /users HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        )
        .await;
        assert_eq!(r.status, 405, "{method}: {}", r.raw);
    }
    let r = http_raw(
        env.http(),
        "CONNECT localhost:443 HTTP/1.1\r\nHost: localhost:443\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(
        r.status == 400 || r.status == 404 || r.status == 405,
        "{}",
        r.raw
    );
    // A route that names TRACE gets it (the demo answers 404 itself: the path is unknown there).
    let r = http_raw(
        env.http(),
        "TRACE /echo-trace HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_ne!(r.status, 405, "{}", r.raw);
}

#[tokio::test]
async fn body_over_the_route_limit_is_413() {
    let env = env().await;
    let body = "x".repeat(2000);
    let r = http_raw(
        env.http(),
        &format!("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()),
    )
    .await;
    assert_eq!(r.status, 413, "{}", r.raw);
    assert_eq!(
        r.json()["type"],
        "https://portcullis.dev/problems/payload-too-large"
    );
    let ok = http_raw(
        env.http(),
        "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.raw);
    assert_eq!(ok.json()["received_bytes"], 5);
}

#[tokio::test]
async fn chunked_body_over_the_limit_is_413_while_streaming() {
    let env = env().await;
    let chunk = "x".repeat(600);
    let req = format!(
        "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n258\r\n{chunk}\r\n258\r\n{chunk}\r\n0\r\n\r\n"
    );
    let r = http_raw(env.http(), &req).await;
    assert_eq!(r.status, 413, "{}", r.raw);
}

#[tokio::test]
async fn long_uri_is_414() {
    let env = env().await;
    let r = get(env.http(), &format!("/users/{}", "a".repeat(9000)), "").await;
    assert_eq!(r.status, 414, "{}", r.raw);
}

#[tokio::test]
async fn too_many_headers_are_431() {
    let env = env().await;
    let headers: String = (0..150).map(|i| format!("X-H{i}: v\r\n")).collect();
    let r = get(env.http(), "/health", &headers).await;
    assert_eq!(r.status, 431, "{}", r.raw);
    let huge = format!("X-Big: {}\r\n", "a".repeat(20_000));
    let r = get(env.http(), "/health", &huge).await;
    assert_eq!(r.status, 431, "{}", r.raw);
}

#[tokio::test]
async fn smuggling_attempts_get_400() {
    let env = env().await;
    let attempts = [
        // CL.TE
        "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG",
        // TE.CL with an obfuscated Transfer-Encoding
        "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\nContent-Length: 4\r\n\r\n5c\r\n",
        // Two different Content-Length values
        "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde",
        // obs-fold
        "GET /health HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n",
        // Invalid byte in a header name and in a value
        "GET /health HTTP/1.1\r\nHost: x\r\nX Bad: a\r\n\r\n",
        "GET /health HTTP/1.1\r\nHost: x\r\nX-Bad: a\x01b\r\n\r\n",
        // Space before the colon
        "GET /health HTTP/1.1\r\nHost: x\r\nContent-Length : 0\r\n\r\n",
        // Two Host headers
        "GET /health HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
        // Encoded dot-segments
        "GET /users/%2e%2e/admin HTTP/1.1\r\nHost: x\r\n\r\n",
    ];
    for req in attempts {
        let r = http_raw(env.http(), req).await;
        assert_eq!(r.status, 400, "request {req:?} got: {}", r.raw);
    }
}

#[tokio::test]
async fn hop_by_hop_headers_do_not_reach_the_upstream() {
    let env = env().await;
    let r = get(
        env.http(),
        "/echo/hops",
        "Connection: X-Private, close\r\nX-Private: secret\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nUpgrade: h2c\r\nProxy-Authorization: Basic Zm9v\r\nX-Kept: yes\r\n",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let seen = &r.json()["headers"];
    for h in [
        "x-private",
        "keep-alive",
        "te",
        "upgrade",
        "proxy-authorization",
    ] {
        assert!(seen.get(h).is_none(), "{h} reached the upstream: {seen}");
    }
    assert_eq!(seen["x-kept"], "yes");
}

#[tokio::test]
async fn forwarding_headers_are_set_and_client_ones_replaced() {
    let env = env().await;
    let r = get(
        env.http(),
        "/echo/fwd",
        "X-Forwarded-For: 6.6.6.6\r\nForwarded: for=6.6.6.6\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: evil\r\n",
    )
    .await;
    let seen = &r.json()["headers"];
    assert_eq!(seen["x-forwarded-for"], "127.0.0.1");
    assert_eq!(seen["x-forwarded-proto"], "http");
    assert_eq!(seen["x-forwarded-host"], "localhost");
    assert_eq!(
        seen["forwarded"],
        "for=127.0.0.1;proto=http;host=\"localhost\""
    );
    let tls = env
        .https_raw("GET /echo/fwd HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await;
    assert_eq!(tls.json()["headers"]["x-forwarded-proto"], "https");
}

#[tokio::test]
async fn trusted_proxies_keep_the_chain() {
    let api = demo_api().await;
    let env = Env::start(&config(
        api,
        DEMO_ROUTES,
        "trusted_proxies: [127.0.0.1/32]\n",
    ))
    .await;
    let r = get(env.http(), "/echo/fwd", "X-Forwarded-For: 203.0.113.5\r\n").await;
    let seen = &r.json()["headers"];
    assert_eq!(seen["x-forwarded-for"], "203.0.113.5, 127.0.0.1");
    let log = env.access_log().await;
    assert!(log.contains("\"client_ip\":\"203.0.113.5\""), "{log}");
}

#[tokio::test]
async fn request_id_is_propagated_when_valid_and_replaced_when_not() {
    let env = env().await;
    let r = get(env.http(), "/echo/id", "X-Request-Id: trace-abc.123\r\n").await;
    assert_eq!(r.header("x-request-id"), Some("trace-abc.123"));
    assert_eq!(r.json()["headers"]["x-request-id"], "trace-abc.123");
    let r = get(env.http(), "/echo/id", "X-Request-Id: <script>\r\n").await;
    let id = r.header("x-request-id").unwrap().to_owned();
    assert_ne!(id, "<script>");
    assert_eq!(r.json()["headers"]["x-request-id"], id.as_str());
}

#[tokio::test]
async fn upstream_5xx_body_is_masked_with_the_request_id() {
    let env = env().await;
    let r = get(env.http(), "/debug/crash", "").await;
    assert_eq!(r.status, 500);
    assert!(!r.body.contains("panicked"), "{}", r.raw);
    assert!(!r.body.contains("db-internal"), "{}", r.raw);
    assert!(r.header("server").is_none());
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    let body = r.json();
    assert_eq!(
        body["type"],
        "https://portcullis.dev/problems/upstream-error"
    );
    assert_eq!(body["request_id"].as_str(), r.header("x-request-id"));
}

#[tokio::test]
async fn a_route_can_opt_out_of_error_masking() {
    let api = demo_api().await;
    let routes = "      - { path: /debug/crash, methods: [GET], expose_upstream_errors: true }\n";
    let env = Env::start(&config(api, routes, "")).await;
    let r = get(env.http(), "/debug/crash", "").await;
    assert_eq!(r.status, 500);
    assert!(r.body.contains("panicked"), "{}", r.raw);
}

#[tokio::test]
async fn non_public_api_without_auth_is_denied() {
    let api = demo_api().await;
    let yaml = config(api, DEMO_ROUTES, "").replace("public: true", "public: false");
    let env = Env::start(&yaml).await;
    let r = get(env.http(), "/health", "").await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json()["type"],
        "https://portcullis.dev/problems/access-denied"
    );
}

#[tokio::test]
async fn host_routing_and_strip_prefix() {
    let api = demo_api().await;
    let yaml = format!(
        "{}upstreams:
  main: {{ targets: [\"http://{api}\"] }}
apis:
  - name: internal
    hosts: [internal.example.com]
    upstream: main
    public: true
    routes:
      - {{ path: /health, methods: [GET] }}
  - name: v1
    hosts: ['*.example.com']
    base_path: /v1
    upstream: main
    public: true
    routes:
      - {{ path: /echo/*, methods: [GET], strip_prefix: /v1 }}
",
        listeners_yaml()
    );
    let env = Env::start(&yaml).await;
    let host =
        |h: &str, p: &str| format!("GET {p} HTTP/1.1\r\nHost: {h}\r\nConnection: close\r\n\r\n");
    assert_eq!(
        http_raw(env.http(), &host("internal.example.com", "/health"))
            .await
            .status,
        200
    );
    assert_eq!(
        http_raw(env.http(), &host("other.example.com", "/health"))
            .await
            .status,
        404
    );
    let r = http_raw(env.http(), &host("a.example.com", "/v1/echo/z?q=1")).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.json()["path"], "/echo/z");
    assert_eq!(r.json()["query"], "q=1");
    assert_eq!(
        http_raw(env.http(), &host("example.com", "/v1/echo/z"))
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn slow_request_headers_time_out() {
    let api = demo_api().await;
    let env = Env::start(&config(
        api,
        DEMO_ROUTES,
        "limits: { header_read_timeout: 500ms }\n",
    ))
    .await;
    let mut tcp = tokio::net::TcpStream::connect(env.http()).await.unwrap();
    tcp.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut buf = Vec::new();
    // Keep dribbling a header byte every 200ms; the server must still close at ~500ms.
    let dribble = async {
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if tcp.write_all(b"X-Slow: a\r\n").await.is_err() {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(8), dribble).await;
    let _ = tokio::time::timeout(Duration::from_secs(2), tcp.read_to_end(&mut buf)).await;
    let closed = tcp.write_all(b"X-More: a\r\n\r\n").await.is_err()
        || tcp
            .read(&mut [0u8; 1])
            .await
            .map(|n| n == 0)
            .unwrap_or(true);
    assert!(
        closed,
        "connection still open after {:?}",
        started.elapsed()
    );
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed() {
    let api = demo_api().await;
    let env = Env::start(&config(
        api,
        DEMO_ROUTES,
        "limits: { idle_timeout: 300ms }\n",
    ))
    .await;
    let mut tcp = tokio::net::TcpStream::connect(env.http()).await.unwrap();
    tcp.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tcp.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    // Then nothing: the server closes the connection.
    let r = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf)).await;
    assert!(
        matches!(r, Ok(Ok(0)) | Ok(Err(_))),
        "connection was not closed: {r:?}"
    );
}

#[tokio::test]
async fn slow_request_body_gets_408() {
    let api = demo_api().await;
    let env = Env::start(&config(
        api,
        DEMO_ROUTES,
        "limits: { request_timeout: 500ms }\n",
    ))
    .await;
    let mut tcp = tokio::net::TcpStream::connect(env.http()).await.unwrap();
    tcp.write_all(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut buf)).await;
    let r = parse(&buf);
    assert_eq!(r.status, 408, "{}", r.raw);
}

#[tokio::test]
async fn per_ip_connection_limit_closes_excess_connections() {
    let api = demo_api().await;
    let env = Env::start(&config(
        api,
        DEMO_ROUTES,
        "limits: { max_connections_per_ip: 2 }\n",
    ))
    .await;
    let _a = tokio::net::TcpStream::connect(env.http()).await.unwrap();
    let _b = tokio::net::TcpStream::connect(env.http()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let r = get(env.http(), "/health", "").await;
    assert_eq!(r.status, 0, "third connection was served: {}", r.raw);
    drop((_a, _b));
    let ok = eventually(Duration::from_secs(3), || async {
        get(env.http(), "/health", "").await.status == 200
    })
    .await;
    assert!(ok, "connections were not released");
}

#[tokio::test]
async fn access_log_has_one_line_per_request_and_no_secrets() {
    let env = env().await;
    let r = get(
        env.http(),
        "/echo/log?api_key=sekrit-query",
        "Authorization: Bearer sekrit-token\r\nCookie: session=sekrit-cookie\r\nX-Api-Key: sekrit-key\r\n",
    )
    .await;
    assert_eq!(r.status, 200);
    get(env.http(), "/nope", "").await;
    let log = env.access_log().await;
    assert!(!log.contains("sekrit"), "a secret reached the log: {log}");
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{log}");
    let first = &lines[0];
    for key in [
        "time",
        "request_id",
        "client_ip",
        "method",
        "path",
        "status",
        "bytes_sent",
        "duration_ms",
        "route",
        "upstream",
        "decision",
    ] {
        assert!(first.get(key).is_some(), "missing {key}: {first}");
    }
    assert_eq!(first["path"], "/echo/log");
    assert_eq!(first["decision"], "allow");
    assert_eq!(first["route"], "echo");
    assert!(first["bytes_sent"].as_u64().unwrap() > 0);
    assert_eq!(first["completed"], true, "{first}");
    assert_eq!(lines[1]["completed"], true, "{}", lines[1]);
    assert_eq!(lines[1]["status"], 404);
    assert_eq!(lines[1]["decision"], "not-found");
}

#[tokio::test]
async fn redirect_listener_sends_308_keeping_path_and_query() {
    let env = env().await;
    let addr = env.gw().listener_addr("redirect").unwrap();
    let r = http_raw(addr, "GET /search?q=a%20b&x=1 HTTP/1.1\r\nHost: api.example.com:8080\r\nConnection: close\r\n\r\n").await;
    assert_eq!(r.status, 308, "{}", r.raw);
    assert_eq!(
        r.header("location"),
        Some("https://api.example.com:8443/search?q=a%20b&x=1")
    );
    let bad = http_raw(
        addr,
        "GET / HTTP/1.1\r\nHost: evil.com/@x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.raw);
}
