//! Rate limits through real sockets, on both backends: the embedded one and a real
//! redis-server started by the test.

mod support;

use std::time::Duration;

use portcullis_gateway::state::gcra::Policy;
use portcullis_gateway::state::limiter::Limiter;
use portcullis_gateway::state::memory_limiter::MemoryLimiter;
use portcullis_gateway::state::redis_limiter::RedisLimiter;
use support::redis::RedisServer;
use support::*;

/// The same behaviour asked of every backend.
async fn conformance(limiter: &Limiter, tag: &str) {
    let policy = Policy {
        rate: 10,
        period: Duration::from_secs(1),
        burst: 3,
    };
    let key = format!("conf-{tag}-a");
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let d = limiter.check(&key, &policy).await.unwrap();
        assert!(d.allowed, "{tag}: burst allowed");
        remaining.push(d.remaining);
    }
    assert_eq!(remaining, [2, 1, 0], "{tag}");
    let denied = limiter.check(&key, &policy).await.unwrap();
    assert!(!denied.allowed, "{tag}: over the burst");
    assert!(
        (1..=100_000).contains(&denied.retry_after_us),
        "{tag}: retry within one interval, got {}",
        denied.retry_after_us
    );
    let other = limiter
        .check(&format!("conf-{tag}-b"), &policy)
        .await
        .unwrap();
    assert!(other.allowed, "{tag}: keys are independent");
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert!(
        limiter.check(&key, &policy).await.unwrap().allowed,
        "{tag}: one slot back after an interval"
    );
    assert!(
        !limiter.check(&key, &policy).await.unwrap().allowed,
        "{tag}: and only one"
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    let d = limiter.check(&key, &policy).await.unwrap();
    assert!(d.allowed && d.remaining == 2, "{tag}: replenished: {d:?}");
}

#[tokio::test]
async fn both_backends_pass_the_same_conformance_suite() {
    conformance(&Limiter::Memory(MemoryLimiter::new(1000)), "embedded").await;
    let redis = RedisServer::start();
    let limiter = RedisLimiter::new(&redis.url(), "test", Duration::from_millis(500)).unwrap();
    conformance(&Limiter::Redis(limiter), "redis").await;
}

#[test]
fn many_distinct_keys_do_not_grow_memory_without_bound() {
    let limiter = MemoryLimiter::new(1000);
    let policy = Policy {
        rate: 1,
        period: Duration::from_secs(3600),
        burst: 1,
    };
    for i in 0..50_000 {
        limiter.check(&format!("client-{i}"), &policy);
    }
    assert!(limiter.len() <= 1000 + 16, "{} keys kept", limiter.len());
}

fn limited_config(upstream: std::net::SocketAddr, state: &str) -> String {
    format!(
        "{listeners}{state}
upstreams:
  main: {{ targets: [\"http://{upstream}\"] }}
apis:
  - name: test
    upstream: main
    public: true
    routes:
      - name: edge
        path: /echo/edge/*
        rate_limits: [{{ name: per-ip, key: [ip], rate: 3/s, burst: 3 }}]
      - name: shared
        path: /echo/shared/*
        rate_limits: [{{ name: shared, key: [route], rate: 50/s, burst: 5, fail: closed }}]
      - name: lenient
        path: /echo/lenient/*
        rate_limits: [{{ name: lenient, key: [ip], rate: 1000/s, fail: open }}]
      - name: throttled
        path: /echo/throttled/*
        rate_limits: [{{ name: throttled, key: [ip], rate: 5/s, burst: 1, delay: 1s, queue: 2 }}]
      - name: tenant
        path: /echo/tenant/*
        rate_limits: [{{ name: tenant, key: ['header:x-tenant'], rate: 1/m, burst: 1 }}]
",
        listeners = listeners_yaml()
    )
}

#[tokio::test]
async fn headers_are_right_at_the_edges_and_429_says_when_to_retry() {
    let api = demo_api().await;
    let env = Env::start(&limited_config(api, "")).await;
    let mut seen = Vec::new();
    for _ in 0..3 {
        let r = get(env.http(), "/echo/edge/x", "").await;
        assert_eq!(r.status, 200, "{}", r.raw);
        seen.push(r.header("ratelimit").unwrap().to_owned());
        assert_eq!(r.header("ratelimit-policy"), Some("\"per-ip\";q=3;w=1"));
        assert_eq!(r.header("x-ratelimit-limit"), Some("3"));
    }
    assert_eq!(
        seen,
        [
            "\"per-ip\";r=2;t=1",
            "\"per-ip\";r=1;t=1",
            "\"per-ip\";r=0;t=1"
        ]
    );
    let r = get(env.http(), "/echo/edge/x", "").await;
    assert_eq!(r.status, 429, "{}", r.raw);
    assert_eq!(
        r.json()["type"],
        "https://portcullis.dev/problems/rate-limited"
    );
    assert_eq!(r.header("retry-after"), Some("1"));
    assert_eq!(r.header("x-ratelimit-remaining"), Some("0"));
    assert_eq!(r.header("ratelimit"), Some("\"per-ip\";r=0;t=1"));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        get(env.http(), "/echo/edge/x", "").await.status,
        200,
        "replenished"
    );

    // A header key: each tenant has its own budget.
    assert_eq!(
        get(env.http(), "/echo/tenant/x", "X-Tenant: a\r\n")
            .await
            .status,
        200
    );
    assert_eq!(
        get(env.http(), "/echo/tenant/x", "X-Tenant: a\r\n")
            .await
            .status,
        429
    );
    assert_eq!(
        get(env.http(), "/echo/tenant/x", "X-Tenant: b\r\n")
            .await
            .status,
        200
    );
}

/// Sends requests to `addrs` in turn from `tasks` concurrent clients for `dur`; counts 200s.
async fn hammer(addrs: Vec<std::net::SocketAddr>, path: &'static str, dur: Duration) -> (u64, u64) {
    let deadline = tokio::time::Instant::now() + dur;
    let mut handles = Vec::new();
    for (i, addr) in addrs.into_iter().cycle().take(8).enumerate() {
        handles.push(tokio::spawn(async move {
            let (mut ok, mut limited) = (0u64, 0u64);
            let _ = i;
            while tokio::time::Instant::now() < deadline {
                match get(addr, path, "").await.status {
                    200 => ok += 1,
                    429 => limited += 1,
                    s => panic!("unexpected {s}"),
                }
            }
            (ok, limited)
        }));
    }
    let mut total = (0, 0);
    for h in handles {
        let (o, l) = h.await.unwrap();
        total.0 += o;
        total.1 += l;
    }
    total
}

#[tokio::test]
async fn two_gateways_sharing_redis_enforce_one_limit_and_outages_follow_fail_mode() {
    let mut redis = RedisServer::start();
    let api = demo_api().await;
    let state = format!(
        "state: {{ backend: redis, redis: {{ url: \"{}\", timeout: 200ms, prefix: t{} }} }}\n",
        redis.url(),
        redis.port
    );
    let a = Env::start(&limited_config(api, &state)).await;
    let b = Env::start(&limited_config(api, &state)).await;
    // 50/s with a burst of 5, shared by both gateways, over 2 s: 105 allowed.
    let (ok, limited) = hammer(
        vec![a.http(), b.http()],
        "/echo/shared/x",
        Duration::from_secs(2),
    )
    .await;
    assert!(
        limited > ok,
        "the clients asked for more than the budget ({ok} ok, {limited} limited)"
    );
    let budget = 5.0 + 50.0 * 2.0;
    let error = (ok as f64 - budget).abs() / budget;
    assert!(
        error <= 0.05,
        "{ok} allowed across two gateways, budget {budget}"
    );

    redis.stop();
    let closed = get(a.http(), "/echo/shared/x", "").await;
    assert_eq!(
        closed.status, 503,
        "fail: closed during the outage: {}",
        closed.raw
    );
    assert_eq!(
        closed.json()["type"],
        "https://portcullis.dev/problems/rate-limit-unavailable"
    );
    let open = get(b.http(), "/echo/lenient/x", "").await;
    assert_eq!(
        open.status, 200,
        "fail: open during the outage: {}",
        open.raw
    );
    let metrics = admin_get(&a, "/metrics", Some(ADMIN_TOKEN)).await.body;
    assert!(
        metrics.contains(
            "portcullis_rate_limit_backend_failures_total{backend=\"redis\",fail=\"closed\"}"
        ),
        "{metrics}"
    );

    redis.restart();
    let recovered = eventually(Duration::from_secs(10), || async {
        get(a.http(), "/echo/shared/x", "").await.status == 200
    })
    .await;
    assert!(recovered, "limiting recovers when Redis returns");
    let mut statuses = Vec::new();
    for _ in 0..10 {
        statuses.push(get(b.http(), "/echo/shared/x", "").await.status);
    }
    assert!(statuses.contains(&429), "limits apply again: {statuses:?}");
}

#[tokio::test]
async fn throttled_requests_are_delayed_and_then_served() {
    let api = demo_api().await;
    let env = Env::start(&limited_config(api, "")).await;
    assert_eq!(get(env.http(), "/echo/throttled/x", "").await.status, 200);
    // Over the limit: instead of a 429 the request waits for its turn (one interval, 200 ms).
    let started = std::time::Instant::now();
    let r = get(env.http(), "/echo/throttled/x", "").await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "served without waiting: {:?}",
        started.elapsed()
    );
    // A crowd beyond the queue (2 waiters) gets 429 at once.
    let mut crowd = Vec::new();
    for _ in 0..8 {
        let addr = env.http();
        crowd.push(tokio::spawn(async move {
            get(addr, "/echo/throttled/x", "").await.status
        }));
    }
    let mut statuses = Vec::new();
    for c in crowd {
        statuses.push(c.await.unwrap());
    }
    assert!(statuses.contains(&429), "queue bounded: {statuses:?}");
    assert!(statuses.contains(&200), "queued ones served: {statuses:?}");
}

#[tokio::test]
async fn clients_that_keep_exceeding_limits_are_banned_escalating_and_operators_can_ban() {
    let api = demo_api().await;
    let bans = "bans: { after: 3, window: 1m, ban: 1s, max_ban: 10s }\n";
    let env = Env::start(&limited_config(api, bans)).await;
    let tenant = |t: &str| format!("X-Tenant: {t}\r\n");
    // 1/m per tenant: the first passes, the next three are refused; the third refusal bans.
    assert_eq!(
        get(env.http(), "/echo/tenant/x", &tenant("a")).await.status,
        200
    );
    for _ in 0..3 {
        assert_eq!(
            get(env.http(), "/echo/tenant/x", &tenant("a")).await.status,
            429
        );
    }
    let r = get(env.http(), "/echo/edge/x", "").await;
    assert_eq!(r.status, 403, "banned on every route: {}", r.raw);
    assert_eq!(r.json()["type"], "https://portcullis.dev/problems/banned");
    assert_eq!(r.header("retry-after"), Some("1"));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        get(env.http(), "/echo/edge/x", "").await.status,
        200,
        "first ban over"
    );
    for _ in 0..3 {
        get(env.http(), "/echo/tenant/x", &tenant("a")).await;
    }
    let r = get(env.http(), "/echo/edge/x", "").await;
    assert_eq!(r.status, 403);
    assert_eq!(r.header("retry-after"), Some("2"), "second ban doubles");
    tokio::time::sleep(Duration::from_millis(150)).await;
    let events = std::fs::read_to_string(env.path("access.log")).unwrap_or_default();
    assert!(events.contains("\"decision\":\"banned\""), "{events}");

    // Operators: list, lift, and ban by hand.
    let admin = |method: &str, path: &str, body: &str| {
        let addr = env.admin();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        async move { http_raw(addr, &req).await }
    };
    let list = admin("GET", "/bans", "").await;
    assert!(list.body.contains("\"ip\":\"127.0.0.1\""), "{}", list.raw);
    let lifted = admin("DELETE", "/bans/127.0.0.1", "").await;
    assert_eq!(lifted.json()["was_banned"], true);
    assert_eq!(
        get(env.http(), "/echo/edge/x", "").await.status,
        200,
        "unbanned"
    );
    let banned = admin("POST", "/bans", r#"{"ip": "127.0.0.1", "duration": "1h"}"#).await;
    assert_eq!(banned.status, 201, "{}", banned.raw);
    let r = get(env.http(), "/echo/edge/x", "").await;
    assert_eq!(r.status, 403);
    assert!(r.header("retry-after").unwrap().parse::<u64>().unwrap() > 3500);
    assert_eq!(
        admin("POST", "/bans", r#"{"ip": "nope", "duration": "1h"}"#)
            .await
            .status,
        400
    );
    admin("DELETE", "/bans/127.0.0.1", "").await;
    assert_eq!(get(env.http(), "/echo/edge/x", "").await.status, 200);
}

#[tokio::test]
async fn concurrency_caps_answer_503_and_free_their_slot_when_the_response_ends() {
    let api = demo_api().await;
    let yaml = format!(
        "{}upstreams:
  main: {{ targets: [\"http://{api}\"] }}
  capped: {{ targets: [\"http://{api}\"], max_in_flight: 1 }}
apis:
  - name: test
    upstream: main
    public: true
    routes:
      - {{ name: route-cap, path: /slow, methods: [GET], concurrency: {{ max: 1 }} }}
      - {{ name: ip-cap, path: /ipcap/slow, methods: [GET], strip_prefix: /ipcap, concurrency: {{ per_ip: 1 }} }}
      - {{ name: up-a, path: /capped/slow, methods: [GET], strip_prefix: /capped, upstream: capped }}
      - {{ name: up-b, path: /capped/health, methods: [GET], strip_prefix: /capped, upstream: capped }}
",
        listeners_yaml()
    );
    let env = Env::start(&yaml).await;
    for (busy, other, what) in [
        ("/slow?ms=600", "/slow?ms=1", "route cap"),
        ("/ipcap/slow?ms=600", "/ipcap/slow?ms=1", "per-IP cap"),
        (
            "/capped/slow?ms=600",
            "/capped/health",
            "upstream cap shared by its routes",
        ),
    ] {
        let addr = env.http();
        let slow = tokio::spawn(async move { get(addr, busy, "").await.status });
        // Give the first request time to reach the upstream (it holds its slot for 1.5 s).
        tokio::time::sleep(Duration::from_millis(400)).await;
        let r = get(env.http(), other, "").await;
        assert_eq!(r.status, 503, "{what}: {}", r.raw);
        assert_eq!(
            r.json()["type"],
            "https://portcullis.dev/problems/overloaded"
        );
        assert_eq!(r.header("retry-after"), Some("1"));
        assert_eq!(slow.await.unwrap(), 200, "{what}: the first one is served");
        assert_eq!(
            get(env.http(), other, "").await.status,
            200,
            "{what}: slot freed"
        );
    }
}

#[tokio::test]
async fn quotas_and_bans_survive_a_restart_and_quotas_count_alike_on_both_backends() {
    use portcullis_gateway::state::quota_store::QuotaStore;
    // The same quota behaviour on both backends.
    let redis = RedisServer::start();
    let store = QuotaStore::in_memory();
    let end = 4_000_000_000i64;
    for limiter in [
        Limiter::Memory(MemoryLimiter::new(10)),
        Limiter::Redis(RedisLimiter::new(&redis.url(), "q", Duration::from_millis(500)).unwrap()),
    ] {
        let mut seen = Vec::new();
        for _ in 0..4 {
            seen.push(
                limiter
                    .take_quota(&store, "k|2026-11", 3, end)
                    .await
                    .unwrap(),
            );
        }
        assert_eq!(
            seen,
            [(true, 1), (true, 2), (true, 3), (false, 3)],
            "{}",
            limiter.backend()
        );
        assert!(limiter.reset_quota(&store, "k|2026-11").await.unwrap());
        assert_eq!(
            limiter
                .take_quota(&store, "k|2026-11", 3, end)
                .await
                .unwrap(),
            (true, 1)
        );
    }

    // Through the gateway, embedded and persisted in the state file.
    let api = demo_api().await;
    let yaml = format!(
        "{}state: {{ path: state.redb }}
upstreams:
  main: {{ targets: [\"http://{api}\"] }}
apis:
  - name: test
    upstream: main
    public: true
    routes:
      - name: metered
        path: /echo/*
        quotas: [{{ name: daily, key: ['header:x-client'], limit: 3, per: day }}]
",
        listeners_yaml()
    );
    let mut env = Env::start(&yaml).await;
    let client = "X-Client: acme\r\n";
    for _ in 0..3 {
        assert_eq!(get(env.http(), "/echo/x", client).await.status, 200);
    }
    let r = get(env.http(), "/echo/x", client).await;
    assert_eq!(r.status, 429, "{}", r.raw);
    assert_eq!(
        r.json()["type"],
        "https://portcullis.dev/problems/quota-exceeded"
    );
    let wait: i64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=86_400).contains(&wait), "{wait}");
    assert_eq!(
        get(env.http(), "/echo/x", "X-Client: other\r\n")
            .await
            .status,
        200
    );
    let list = admin_get(&env, "/quotas", Some(ADMIN_TOKEN)).await;
    assert!(list.body.contains("\"used\":3"), "{}", list.raw);
    let key = list.json()["quotas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["key"].as_str().unwrap().contains("acme"))
        .unwrap()["key"]
        .as_str()
        .unwrap()
        .to_owned();

    let body = format!("{{\"key\": {}}}", serde_json::Value::from(key.clone()));
    let usage = http_raw(
        env.admin(),
        &format!(
            "POST /quotas/usage HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
    .await;
    assert_eq!(usage.json()["used"], 3, "{}", usage.raw);

    // An operator bans another client (a documentation address; it never connects).
    let body = r#"{"ip": "192.0.2.7", "duration": "1h"}"#;
    let banned = http_raw(
        env.admin(),
        &format!(
            "POST /bans HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
    .await;
    assert_eq!(banned.status, 201, "{}", banned.raw);

    // Restart: the quota is still used up and the ban still stands.
    env.gateway.take().unwrap().shutdown().await;
    // The old instance's tasks release the state file as they wind down (a real restart is a
    // new process).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let gateway = loop {
        let loaded = portcullis_gateway::config::load_file(&env.config_path).unwrap();
        match portcullis_gateway::Gateway::start(loaded, true).await {
            Ok(g) => break g,
            Err(e) if std::time::Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("restart failed: {e}"),
        }
    };
    env.gateway = Some(gateway);
    assert_eq!(
        get(env.http(), "/echo/x", client).await.status,
        429,
        "survives a restart"
    );

    // An operator resets it.
    let body = format!("{{\"key\": {}}}", serde_json::Value::from(key));
    let reset = http_raw(
        env.admin(),
        &format!(
            "POST /quotas/reset HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
    .await;
    assert_eq!(reset.json()["was_set"], true, "{}", reset.raw);
    assert_eq!(get(env.http(), "/echo/x", client).await.status, 200);
}

#[tokio::test]
async fn lockouts_are_shared_by_replicas_through_redis() {
    use portcullis_gateway::auth::api_key;
    let redis = RedisServer::start();
    let api = demo_api().await;
    let pepper = "shared-lockout-pepper-0123";
    let (prefix, key) = api_key::generate();
    // A failure whose Redis call misses its deadline is not recorded (by design, with a
    // warning); the default 100 ms deadline can pass on a loaded CI machine, and this test is
    // about sharing, so it gives Redis time.
    let yaml = format!(
        "{listeners}state: {{ backend: redis, redis: {{ url: \"{url}\", timeout: 2s, prefix: l{port} }} }}
upstreams:
  main: {{ targets: [\"http://{api}\"] }}
apis:
  - name: test
    upstream: main
    auth:
      lockout: {{ max_failures: 4, window: 1m, lockout: 30s }}
      providers:
        keys:
          api_key:
            pepper: ${{file:pepper}}
            keys: [{{ prefix: {prefix}, hash: {hash}, owner: acme }}]
    routes:
      - {{ path: /echo/*, methods: [GET] }}
",
        listeners = listeners_yaml(),
        url = redis.url(),
        port = redis.port,
        hash = api_key::hash(pepper.as_bytes(), &key),
    );
    let a = Env::start_with_files(&yaml, &[("pepper", pepper)]).await;
    let b = Env::start_with_files(&yaml, &[("pepper", pepper)]).await;
    let bad = format!("X-Api-Key: pck_{}_{}\r\n", "z".repeat(12), "x".repeat(32));
    // Two failures on each replica: neither alone reaches the threshold of 4. Each replica
    // records a failure in Redis in the background; the test waits until Redis has counted it,
    // so that the 4th failure is B's (otherwise A's slower record could come last).
    let count_key = format!("l{}:lockout:ip:127.0.0.1:n", redis.port);
    for (n, env) in [&a, &b, &a].into_iter().enumerate() {
        assert_eq!(get(env.http(), "/echo/x", &bad).await.status, 401);
        let expected = (n + 1).to_string();
        let counted = eventually(Duration::from_secs(5), || async {
            redis.get(&count_key).await.as_deref() == Some(expected.as_str())
        })
        .await;
        assert!(counted, "Redis counted failure {expected}");
    }
    assert_eq!(get(b.http(), "/echo/x", &bad).await.status, 401);
    let good = format!("X-Api-Key: {key}\r\n");
    // B recorded the 4th failure: Redis locks the client, and B refuses it at once.
    let locked_on_b = eventually(Duration::from_secs(5), || async {
        get(b.http(), "/echo/x", &good).await.status == 429
    })
    .await;
    assert!(locked_on_b, "the shared count (4) locked the client out");
    // A has seen only 2 failures itself; its next failure is answered from the shared lock, so
    // A learns it (one more guess per replica at most, and successes never call Redis).
    assert_eq!(get(a.http(), "/echo/x", &bad).await.status, 401);
    let locked = eventually(Duration::from_secs(5), || async {
        get(a.http(), "/echo/x", &good).await.status == 429
    })
    .await;
    assert!(locked, "replica A refuses the locked client too");
    // Replica A learnt the lock from Redis; it answers without asking again.
    assert_eq!(get(a.http(), "/echo/x", &good).await.status, 429);
}
