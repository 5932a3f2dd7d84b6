//! Operations: admin API, metrics, reload (file, SIGHUP, API), graceful drain.

mod support;

use std::time::Duration;

use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn env() -> (Env, std::net::SocketAddr) {
    let api = demo_api().await;
    (Env::start(&config(api, DEMO_ROUTES, "")).await, api)
}

#[tokio::test]
async fn admin_health_is_open_and_everything_else_needs_the_token() {
    let (env, _) = env().await;
    assert_eq!(admin_get(&env, "/healthz", None).await.status, 200);
    assert_eq!(admin_get(&env, "/readyz", None).await.status, 200);
    let r = admin_get(&env, "/metrics", None).await;
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").is_some());
    assert!(!r.body.contains(ADMIN_TOKEN));
    assert_eq!(
        admin_get(&env, "/metrics", Some("wrong-token-wrong-token"))
            .await
            .status,
        401
    );
    assert_eq!(
        admin_get(&env, "/metrics", Some(&ADMIN_TOKEN[..10]))
            .await
            .status,
        401
    );
    assert_eq!(
        admin_get(&env, "/metrics", Some(ADMIN_TOKEN)).await.status,
        200
    );
    let r = http_raw(
        env.admin(),
        "POST /reload HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn metrics_count_requests_refusals_latency_and_upstream_errors() {
    let api = demo_api().await;
    let dead = dead_port().await;
    let yaml = config(api, DEMO_ROUTES, "").replace(
        "apis:\n",
        &format!("  dead:\n    targets: [\"http://{dead}\"]\n    retries: 0\napis:\n"),
    ).replace(
        "      - { name: health, path: /health, methods: [GET] }\n",
        "      - { name: health, path: /health, methods: [GET] }\n      - { name: dead, path: /dead, methods: [GET], upstream: dead }\n",
    );
    let env = Env::start(&yaml).await;
    assert_eq!(get(env.http(), "/health", "").await.status, 200);
    assert_eq!(get(env.http(), "/nope", "").await.status, 404);
    assert_eq!(get(env.http(), "/dead", "").await.status, 502);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let m = admin_get(&env, "/metrics", Some(ADMIN_TOKEN)).await.body;
    assert!(
        m.contains(r#"portcullis_requests_total{api="test",route="health",status_class="2xx"} 1"#),
        "{m}"
    );
    assert!(
        m.contains(r#"portcullis_refusals_total{reason="not-found"} 1"#),
        "{m}"
    );
    assert!(
        m.contains(r#"portcullis_refusals_total{reason="upstream-unavailable"} 1"#),
        "{m}"
    );
    assert!(
        m.contains(r#"portcullis_upstream_errors_total{upstream="dead",kind="connect"} 1"#),
        "{m}"
    );
    assert!(
        m.contains(r#"portcullis_request_duration_seconds_count{api="test",route="health"} 1"#),
        "{m}"
    );
    assert!(
        m.contains("portcullis_active_connections{listener=\"http\"}"),
        "{m}"
    );
    assert!(!m.contains(ADMIN_TOKEN));
}

#[tokio::test]
async fn config_file_change_is_applied_and_a_bad_one_is_refused() {
    let (env, api) = env().await;
    assert_eq!(get(env.http(), "/users", "").await.status, 200);
    // A good change: /users removed, /search added.
    let new_routes = DEMO_ROUTES.replace(
        "      - { name: users, path: /users, methods: [GET] }\n",
        "      - { name: search, path: /search, methods: [GET] }\n",
    );
    std::fs::write(&env.config_path, config(api, &new_routes, "")).unwrap();
    let applied = eventually(Duration::from_secs(5), || async {
        get(env.http(), "/search?q=gizmo", "").await.status == 200
    })
    .await;
    assert!(applied, "new config not applied");
    assert_eq!(get(env.http(), "/users", "").await.status, 404);

    // A bad change: refused, the previous config keeps serving.
    std::fs::write(
        &env.config_path,
        "listeners: []\napis: [{ name: x, routes: [], bogus: 1 }]\n",
    )
    .unwrap();
    let refused = eventually(Duration::from_secs(5), || async {
        admin_get(&env, "/metrics", Some(ADMIN_TOKEN))
            .await
            .body
            .contains(r#"portcullis_config_reloads_total{outcome="refused"} 1"#)
    })
    .await;
    assert!(refused, "bad config was not refused");
    assert_eq!(get(env.http(), "/search?q=gizmo", "").await.status, 200);
}

#[tokio::test]
async fn post_reload_reports_errors_with_locations() {
    let (env, api) = env().await;
    let mut bad = config(api, DEMO_ROUTES, "");
    bad = bad.replace("    upstream: main\n", "    upstream: missing\n");
    // Write atomically-ish then reload through the API before the watcher notices.
    std::fs::write(&env.config_path, &bad).unwrap();
    let r = admin_post(&env, "/reload", ADMIN_TOKEN).await;
    assert_eq!(r.status, 422, "{}", r.raw);
    let errors = r.json()["errors"].to_string();
    assert!(errors.contains("portcullis.yaml:"), "{errors}");
    assert!(errors.contains("unknown upstream"), "{errors}");
    assert_eq!(get(env.http(), "/health", "").await.status, 200);

    std::fs::write(&env.config_path, config(api, DEMO_ROUTES, "")).unwrap();
    let r = admin_post(&env, "/reload", ADMIN_TOKEN).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.json()["status"], "applied");
}

#[tokio::test]
async fn sighup_reloads_the_config() {
    let (env, api) = env().await;
    assert_eq!(get(env.http(), "/search", "").await.status, 404);
    let routes =
        format!("{DEMO_ROUTES}      - {{ name: search, path: /search, methods: [GET] }}\n");
    std::fs::write(&env.config_path, config(api, &routes, "")).unwrap();
    let status = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let applied = eventually(Duration::from_secs(5), || async {
        get(env.http(), "/search", "").await.status == 200
    })
    .await;
    assert!(applied);
}

#[tokio::test]
async fn shutdown_drains_in_flight_requests_and_stops_accepting() {
    let (mut env, _) = env().await;
    let addr = env.http();
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /slow?ms=800 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let gateway = env.gateway.take().unwrap();
    let admin = gateway.admin_addr().unwrap();
    let shutdown = tokio::spawn(gateway.shutdown());
    tokio::time::sleep(Duration::from_millis(100)).await;
    // New connections are no longer served.
    let refused = match tokio::net::TcpStream::connect(addr).await {
        Err(_) => true,
        Ok(mut s) => {
            let _ = s
                .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                .await;
            let mut b = [0u8; 64];
            matches!(
                tokio::time::timeout(Duration::from_secs(2), s.read(&mut b)).await,
                Ok(Ok(0)) | Ok(Err(_)) | Err(_)
            )
        }
    };
    assert!(refused, "a new connection was served during drain");
    let _ = admin;
    // The in-flight request completes.
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let r = parse(&buf);
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.json()["slept_ms"], 800);
    tokio::time::timeout(Duration::from_secs(5), shutdown)
        .await
        .unwrap()
        .unwrap();
}
