//! A small, realistic and **deliberately weak** JSON API that Portcullis protects in the demo and
//! in tests. Never deploy it.
//!
//! Its weaknesses are the classic API ones: it trusts the caller for ownership (BOLA), accepts
//! any field on create (mass assignment), returns password hashes and emails (excessive data
//! exposure), builds SQL by string concatenation (`/search`), answers errors with a stack trace
//! and identifying headers, and does not check roles on the admin-only delete. Its login issues
//! real EdDSA JWTs and serves their JWKS, so the gateway can validate them.
//!
//! The spec is `examples/demo-openapi.yaml`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod handlers;
pub mod pki;
pub mod signers;
mod store;
mod tokens;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use tokens::DemoKeys;

/// The demo API's users: `(username, password, roles)`.
pub const USERS: [(&str, &str, &str); 3] = [
    ("alice", "alice-password", "user"),
    ("bob", "bob-password", "user"),
    ("admin", "admin-password", "admin"),
];

/// Shared state of the demo API.
pub struct DemoState {
    store: store::Store,
    keys: DemoKeys,
    issuer: String,
}

/// A running demo API.
pub struct DemoApi {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its serving task.
    pub task: JoinHandle<()>,
}

/// The demo's router (for embedding).
pub fn router(state: Arc<DemoState>) -> Router {
    Router::new()
        .route("/health", get(handlers::health))
        .route("/login", post(handlers::login))
        .route("/.well-known/jwks.json", get(handlers::jwks))
        .route("/users", get(handlers::list_users))
        .route("/users/{id}", get(handlers::get_user))
        .route("/users/{id}/orders", get(handlers::user_orders))
        .route("/orders", post(handlers::create_order))
        .route(
            "/orders/{id}",
            get(handlers::get_order).delete(handlers::delete_order),
        )
        .route("/orders/{id}/refund", post(handlers::refund_order))
        .route("/search", get(handlers::search))
        .route("/debug/crash", get(handlers::crash))
        .route("/slow", get(handlers::slow))
        .route("/echo", axum::routing::any(handlers::echo))
        .route("/echo/{*rest}", axum::routing::any(handlers::echo))
        .route("/upload", post(handlers::upload))
        .with_state(state)
}

impl DemoApi {
    /// Starts the demo API on `addr` (port 0 picks a free port).
    pub async fn start(addr: SocketAddr) -> std::io::Result<Self> {
        let tcp = TcpListener::bind(addr).await?;
        let addr = tcp.local_addr()?;
        let state = Arc::new(DemoState {
            store: store::Store::seeded().map_err(std::io::Error::other)?,
            keys: DemoKeys::generate().map_err(std::io::Error::other)?,
            issuer: format!("http://{addr}"),
        });
        let app = router(state);
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(tcp, app).await {
                tracing::error!(error = %e, "demo API stopped");
            }
        });
        Ok(Self { addr, task })
    }
}
