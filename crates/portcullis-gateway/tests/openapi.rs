//! The OpenAPI positive security model through real sockets: the demo API (a real server) behind
//! the gateway, enforced by the demo's own spec (examples/demo-openapi.yaml), and a second API
//! with a small spec of its own for block mode and undocumented statuses.

mod support;

use serde_json::json;
use support::*;

/// A spec for the demo API's `/echo` endpoint: GET documents only 201 (the API answers 200),
/// POST documents a closed response the API does not match.
const ECHO_SPEC: &str = "openapi: 3.0.3
info: { title: echo, version: '1' }
paths:
  /echo/old:
    get:
      operationId: oldEcho
      deprecated: true
      x-sunset: '2020-01-01'
      responses: { '200': { description: retired } }
  /echo/retiring:
    get:
      operationId: retiringEcho
      deprecated: true
      x-sunset: '2999-12-31'
      responses: { '200': { description: still served } }
  /echo:
    get:
      operationId: echoGet
      responses:
        '201': { description: never sent by the API }
    post:
      operationId: echoPost
      requestBody:
        content:
          multipart/form-data:
            schema:
              type: object
              properties:
                name: { type: string, maxLength: 8 }
                count: { type: integer }
              required: [name]
      responses:
        '200':
          description: only the method
          content:
            application/json:
              schema:
                type: object
                properties: { method: { type: string } }
";

async fn setup() -> Env {
    let demo = demo_api().await;
    let yaml = format!(
        "{}security_events:
  path: events.log
upstreams:
  demo:
    targets: [\"http://{demo}\"]
apis:
  - name: demo
    upstream: demo
    public: true
    openapi:
      spec: demo-openapi.yaml
    pii:
      fields: [/phone]
    operations:
      login: {{ pii_masking: false }}
  - name: echo
    hosts: [echo.test]
    upstream: demo
    public: true
    openapi:
      spec: echo-spec.yaml
      responses: block
",
        listeners_yaml()
    );
    let spec = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/demo-openapi.yaml"),
    )
    .unwrap();
    Env::start_with_files(
        &yaml,
        &[("demo-openapi.yaml", &spec), ("echo-spec.yaml", ECHO_SPEC)],
    )
    .await
}

async fn send(env: &Env, method: &str, path: &str, headers: &str, body: &str) -> Response {
    send_with_body(
        env,
        method,
        path,
        &format!("Host: localhost\r\n{headers}"),
        body,
    )
    .await
}

async fn post_json(env: &Env, path: &str, body: &str) -> Response {
    send(
        env,
        "POST",
        path,
        "Content-Type: application/json\r\n",
        body,
    )
    .await
}

/// The `errors` of a 400 answer as "pointer reason" lines.
fn errors(r: &Response) -> Vec<String> {
    assert_eq!(r.status, 400, "{}", r.raw);
    assert_eq!(
        r.json()["type"],
        "https://portcullis.dev/problems/invalid-request"
    );
    r.json()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["pointer"].as_str().unwrap(),
                e["reason"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn valid_requests_pass_unchanged() {
    let env = setup().await;
    let r = get(env.http(), "/search?q=gizmo", "").await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.json()["query"], "gizmo");
    assert!(!r.json()["results"].as_array().unwrap().is_empty());
    let r = post_json(&env, "/orders", r#"{"item": "gizmo", "quantity": 2}"#).await;
    assert_eq!(r.status, 201, "{}", r.raw);
    let order = r.json();
    assert_eq!(
        (order["item"].clone(), order["quantity"].clone()),
        (json!("gizmo"), json!(2))
    );
    // HEAD where GET is documented; the body-less answer is not checked.
    let r = send(&env, "HEAD", "/health", "", "").await;
    assert_eq!(r.status, 200, "{}", r.raw);
}

#[tokio::test(flavor = "multi_thread")]
async fn each_kind_of_invalid_input_is_refused() {
    let env = setup().await;
    // Undocumented path and method.
    assert_eq!(get(env.http(), "/admin/export", "").await.status, 404);
    let r = send(&env, "PUT", "/orders/1", "", "").await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD, DELETE"));
    // Injection in a parameter stopped by its pattern; the payload is not echoed.
    let r = get(
        env.http(),
        "/search?q=%27%20UNION%20SELECT%20password_hash%20FROM%20users--",
        "",
    )
    .await;
    assert_eq!(errors(&r), ["/query/q does not match the required pattern"]);
    assert!(!r.body.contains("UNION"));
    // Path parameter type, and an undocumented query parameter.
    let r = get(env.http(), "/orders/1%20OR%201=1", "").await;
    assert_eq!(errors(&r), ["/path/id expected integer, got string"]);
    let r = get(env.http(), "/search?q=a&debug=true", "").await;
    assert_eq!(errors(&r), ["/query/debug query parameter not documented"]);
    // Bodies: type, bounds, required, not JSON, content type, no body where one is required.
    let r = post_json(&env, "/orders", r#"{"item": "gizmo", "quantity": "many"}"#).await;
    assert_eq!(errors(&r), ["/body/quantity expected integer, got string"]);
    let r = post_json(&env, "/orders", r#"{"item": "gizmo", "quantity": 1000}"#).await;
    assert_eq!(errors(&r), ["/body/quantity above the maximum 100"]);
    let r = post_json(&env, "/orders", r#"{"quantity": 1}"#).await;
    assert_eq!(errors(&r), ["/body missing required property \"item\""]);
    let r = post_json(&env, "/orders", "{\"item\": ").await;
    assert_eq!(errors(&r), ["/body not valid JSON (line 1, column 9)"]);
    let r = send(
        &env,
        "POST",
        "/orders",
        "Content-Type: text/plain\r\n",
        "item=x",
    )
    .await;
    assert_eq!(r.status, 415, "{}", r.raw);
    assert_eq!(
        r.json()["type"],
        "https://portcullis.dev/problems/unsupported-media-type"
    );
    let r = post_json(&env, "/orders", "").await;
    assert_eq!(errors(&r), ["/body request body is required"]);
    // A body sent to an operation that takes none.
    let r = send(
        &env,
        "GET",
        "/health",
        "Content-Type: application/json\r\n",
        "{}",
    )
    .await;
    assert_eq!(r.status, 415, "{}", r.raw);
    // Refusals are security events with the pointers, never the values.
    let events = events_with(&env, "/query/q").await;
    assert!(events.contains("\"event\":\"request_invalid\""), "{events}");
    assert!(
        events.contains("/query/q") && !events.contains("UNION"),
        "{events}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn mass_assignment_is_refused() {
    let env = setup().await;
    let r = post_json(
        &env,
        "/orders",
        r#"{"item": "gizmo", "quantity": 1, "price": 0.01, "status": "refunded", "owner": "bob"}"#,
    )
    .await;
    assert_eq!(
        errors(&r),
        [
            "/body/owner property not allowed by the schema",
            "/body/price property not allowed by the schema",
            "/body/status property not allowed by the schema"
        ]
    );
    // Nothing reached the API: bob still has exactly his one order.
    let r = get(env.http(), "/users/bob/orders", "").await;
    assert_eq!(r.json().as_array().unwrap().len(), 1, "{}", r.raw);
}

#[tokio::test(flavor = "multi_thread")]
async fn responses_are_stripped_and_pii_masked() {
    let env = setup().await;
    let r = get(env.http(), "/users/alice", "").await;
    assert_eq!(r.status, 200, "{}", r.raw);
    // Declared fields only; the email is masked by detection.
    assert_eq!(
        r.json(),
        json!({"id": 1, "username": "alice", "email": "a***@example.com", "role": "user"})
    );
    assert_eq!(
        r.header("content-length").map(str::to_owned),
        Some(r.body.len().to_string())
    );
    // Orders carry the card number in the API; the gateway strips it.
    let r = get(env.http(), "/users/alice/orders", "").await;
    let orders = r.json();
    assert!(
        orders
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o.get("card_number").is_none()),
        "{}",
        r.raw
    );
    // The login answer keeps its token: masking is off for that operation.
    let r = post_json(
        &env,
        "/login",
        r#"{"username": "alice", "password": "alice-password"}"#,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert!(r.json()["access_token"]
        .as_str()
        .unwrap()
        .starts_with("eyJ"));
    // Both events are written by the log's writer thread, each when its stage runs: wait for
    // both (waiting for one and reading the other raced the writer's 10 ms flushes).
    events_with(&env, "\"event\":\"data_masked\"").await;
    let events = events_with(&env, "undeclared_fields").await;
    assert!(events.contains("\"event\":\"data_masked\""), "{events}");
    assert!(events.contains("email=1"), "{events}");
    assert!(
        events.contains("\"reason\":\"undeclared_fields\""),
        "{events}"
    );
    assert!(!events.contains("alice@example.com"), "{events}");
    let metrics = admin_get(&env, "/metrics", Some(ADMIN_TOKEN)).await;
    assert!(
        metrics
            .body
            .contains("portcullis_pii_masked_values_total{api=\"demo\",kind=\"email\"}"),
        "{}",
        metrics.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn error_bodies_deprecation_and_undocumented_statuses() {
    let env = setup().await;
    // The stack-trace endpoint: a clean problem body, marked deprecated by the spec.
    let r = get(env.http(), "/debug/crash", "").await;
    assert_eq!(r.status, 500);
    assert_eq!(r.header("deprecation"), Some("true"));
    assert!(
        !r.body.contains("panicked") && r.body.contains("request_id"),
        "{}",
        r.raw
    );
    // A status the spec does not document: body replaced, status kept.
    let r = http_raw(
        env.http(),
        "GET /echo HTTP/1.1\r\nHost: echo.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(
        r.json()["type"],
        "https://portcullis.dev/problems/undocumented-response"
    );
    assert!(!r.body.contains("headers"), "{}", r.raw);
}

#[tokio::test(flavor = "multi_thread")]
async fn deprecated_operations_announce_their_sunset_and_retire_after_it() {
    let env = setup().await;
    let echo =
        |path: &str| format!("GET {path} HTTP/1.1\r\nHost: echo.test\r\nConnection: close\r\n\r\n");
    let r = http_raw(env.http(), &echo("/echo/retiring")).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.header("deprecation"), Some("true"));
    assert_eq!(r.header("sunset"), Some("Tue, 31 Dec 2999 00:00:00 GMT"));
    let r = http_raw(env.http(), &echo("/echo/old")).await;
    assert_eq!(r.status, 410, "{}", r.raw);
    assert_eq!(r.json()["type"], "https://portcullis.dev/problems/sunset");
    assert_eq!(r.header("sunset"), Some("Wed, 01 Jan 2020 00:00:00 GMT"));
}

#[tokio::test(flavor = "multi_thread")]
async fn block_mode_refuses_mismatching_responses_and_forms_are_validated() {
    let env = setup().await;
    let multipart = |name: &str| {
        let body = format!(
            "--XyZ\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n{name}\r\n--XyZ\r\nContent-Disposition: form-data; name=\"count\"\r\n\r\n3\r\n--XyZ--\r\n"
        );
        format!(
            "POST /echo HTTP/1.1\r\nHost: echo.test\r\nContent-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let r = http_raw(env.http(), &multipart("a-very-long-name")).await;
    assert_eq!(errors(&r), ["/body/name longer than 8 characters"]);
    // Valid input; the API's answer has undeclared properties: block mode refuses it.
    let r = http_raw(env.http(), &multipart("pen")).await;
    assert_eq!(r.status, 502, "{}", r.raw);
    assert_eq!(
        r.json()["type"],
        "https://portcullis.dev/problems/invalid-response"
    );
    let events = events_with(&env, "\"reason\":\"blocked\"").await;
    assert!(events.contains("\"reason\":\"blocked\""), "{events}");
}
