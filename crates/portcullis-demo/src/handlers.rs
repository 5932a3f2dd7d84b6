//! The demo's endpoints, weaknesses included on purpose (each one says which).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::store::weak_hash;
use crate::DemoState;

type Shared = State<Arc<DemoState>>;

fn db_error(e: rusqlite::Error) -> Response {
    // Weakness: database errors (with the SQL) go straight to the client.
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("database error: {e}"),
    )
        .into_response()
}

/// `GET /health`.
pub async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Login request.
#[derive(Deserialize)]
pub struct Login {
    username: String,
    password: String,
    /// A one-time code; any 6 digits count as a second factor in the demo.
    #[serde(default)]
    otp: Option<String>,
}

/// `POST /login`: issues a JWT for a demo user.
pub async fn login(State(s): Shared, Json(body): Json<Login>) -> Response {
    let rows = match s.store.rows(
        "SELECT username, role, password_hash FROM users WHERE username = ?1",
        &[&body.username],
    ) {
        Ok(r) => r,
        Err(e) => return db_error(e),
    };
    let Some(user) = rows.first() else {
        // Weakness: tells an attacker which usernames exist.
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "no such user"})),
        )
            .into_response();
    };
    if user["password_hash"] != weak_hash(&body.password) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "wrong password"})),
        )
            .into_response();
    }
    let mut amr = vec!["pwd"];
    if body
        .otp
        .as_deref()
        .is_some_and(|o| o.len() == 6 && o.bytes().all(|b| b.is_ascii_digit()))
    {
        amr.push("otp");
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let role = user["role"].as_str().unwrap_or("user");
    let scope = if role == "admin" {
        "orders:read orders:write admin"
    } else {
        "orders:read orders:write"
    };
    let claims = json!({
        "iss": s.issuer,
        "aud": "portcullis-demo",
        "sub": body.username,
        "iat": now,
        "nbf": now,
        "exp": now + 900,
        "roles": [role],
        "scope": scope,
        "amr": amr,
    });
    match s.keys.sign(&claims) {
        Ok(token) => {
            Json(json!({"access_token": token, "token_type": "Bearer", "expires_in": 900}))
                .into_response()
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// `GET /.well-known/jwks.json`.
pub async fn jwks(State(s): Shared) -> Json<Value> {
    Json(s.keys.jwks())
}

/// `GET /users`. Weakness: returns password hashes, emails, SSNs and phones of everyone.
pub async fn list_users(State(s): Shared) -> Response {
    match s.store.rows("SELECT * FROM users ORDER BY id", &[]) {
        Ok(rows) => Json(rows).into_response(),
        Err(e) => db_error(e),
    }
}

/// `GET /users/{id}` (id or username). Weakness: full record, no ownership check.
pub async fn get_user(State(s): Shared, Path(id): Path<String>) -> Response {
    match s.store.rows(
        "SELECT * FROM users WHERE CAST(id AS TEXT) = ?1 OR username = ?1",
        &[&id],
    ) {
        Ok(rows) => match rows.into_iter().next() {
            Some(u) => Json(u).into_response(),
            None => (StatusCode::NOT_FOUND, Json(json!({"error": "not found"}))).into_response(),
        },
        Err(e) => db_error(e),
    }
}

/// `GET /users/{id}/orders`. Weakness: anyone's orders.
pub async fn user_orders(State(s): Shared, Path(id): Path<String>) -> Response {
    match s
        .store
        .rows("SELECT * FROM orders WHERE owner = ?1 ORDER BY id", &[&id])
    {
        Ok(rows) => Json(rows).into_response(),
        Err(e) => db_error(e),
    }
}

/// `GET /orders/{id}`. Weakness: no check that the caller owns the order (BOLA).
pub async fn get_order(State(s): Shared, Path(id): Path<i64>) -> Response {
    match s.store.rows("SELECT * FROM orders WHERE id = ?1", &[&id]) {
        Ok(rows) => match rows.into_iter().next() {
            Some(o) => Json(o).into_response(),
            None => (StatusCode::NOT_FOUND, Json(json!({"error": "not found"}))).into_response(),
        },
        Err(e) => db_error(e),
    }
}

/// `POST /orders`. Weakness: takes `owner`, `price` and `status` from the client (mass
/// assignment); the owner defaults to the `X-User` header, trusted blindly.
pub async fn create_order(
    State(s): Shared,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let owner = body["owner"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| {
            headers
                .get("x-user")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "anonymous".into());
    let item = body["item"].as_str().unwrap_or("unknown").to_owned();
    let quantity = body["quantity"].as_i64().unwrap_or(1);
    let price = body["price"].as_f64().unwrap_or(10.0 * quantity as f64);
    let status = body["status"].as_str().unwrap_or("placed").to_owned();
    match s.store.execute(
        "INSERT INTO orders (owner, item, quantity, price, status, card_number) VALUES (?1, ?2, ?3, ?4, ?5, '4111111111111111')",
        &[&owner, &item, &quantity, &price, &status],
    ) {
        Ok((_, id)) => (
            StatusCode::CREATED,
            Json(json!({"id": id, "owner": owner, "item": item, "quantity": quantity, "price": price, "status": status})),
        )
            .into_response(),
        Err(e) => db_error(e),
    }
}

/// `DELETE /orders/{id}`. Meant to be admin-only; the demo checks nothing.
pub async fn delete_order(State(s): Shared, Path(id): Path<i64>) -> Response {
    match s.store.execute("DELETE FROM orders WHERE id = ?1", &[&id]) {
        Ok((0, _)) => (StatusCode::NOT_FOUND, Json(json!({"error": "not found"}))).into_response(),
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => db_error(e),
    }
}

/// `POST /orders/{id}/refund`: the "sensitive" operation (should need MFA).
pub async fn refund_order(State(s): Shared, Path(id): Path<i64>) -> Response {
    match s.store.execute(
        "UPDATE orders SET status = 'refunded' WHERE id = ?1",
        &[&id],
    ) {
        Ok((0, _)) => (StatusCode::NOT_FOUND, Json(json!({"error": "not found"}))).into_response(),
        Ok(_) => Json(json!({"id": id, "status": "refunded"})).into_response(),
        Err(e) => db_error(e),
    }
}

/// `GET /search?q=`. Weakness: SQL built by string concatenation (SQL injection), e.g.
/// `q=' UNION SELECT id, username, password_hash, 0 FROM users --`.
pub async fn search(State(s): Shared, Query(q): Query<BTreeMap<String, String>>) -> Response {
    let term = q.get("q").cloned().unwrap_or_default();
    let sql = format!(
        "SELECT id, name, description, price FROM products WHERE name LIKE '%{term}%' ORDER BY id"
    );
    match s.store.rows(&sql, &[]) {
        Ok(rows) => Json(json!({"query": term, "results": rows})).into_response(),
        Err(e) => db_error(e),
    }
}

/// `GET /debug/crash`: a 500 with a stack trace and identifying headers.
pub async fn crash() -> Response {
    let trace = "thread 'main' panicked at src/orders.rs:42:17:\n\
                 called `Option::unwrap()` on a `None` value\n\
                 stack backtrace:\n   0: demo::orders::load at /srv/demo/src/orders.rs:42\n   \
                 1: demo::db::connect(host=db-internal.corp:5432, user=svc_orders)\n";
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [
            ("server", "DemoServer/1.0 (Debian)"),
            ("x-powered-by", "Express 4.17"),
            ("content-type", "text/plain"),
        ],
        trace,
    )
        .into_response()
}

/// `GET /slow?ms=N`: answers after N milliseconds (at most 60 s).
pub async fn slow(Query(q): Query<BTreeMap<String, String>>) -> Json<Value> {
    let ms: u64 = q
        .get("ms")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
        .min(60_000);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Json(json!({"slept_ms": ms}))
}

/// `ANY /echo[/...]`: returns what it received (method, path, query, headers, body size).
pub async fn echo(method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let mut h = serde_json::Map::new();
    for (name, value) in &headers {
        let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match h.get_mut(name.as_str()) {
            Some(Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(&v);
            }
            _ => {
                h.insert(name.as_str().to_owned(), Value::String(v));
            }
        }
    }
    (
        [("server", "DemoServer/1.0"), ("x-powered-by", "PHP/5.4")],
        Json(json!({
            "method": method.as_str(),
            "path": uri.path(),
            "query": uri.query(),
            "headers": h,
            "body_bytes": body.len(),
        })),
    )
        .into_response()
}

/// `POST /upload`: accepts any body and returns its size.
pub async fn upload(body: Bytes) -> Json<Value> {
    Json(json!({"received_bytes": body.len()}))
}
