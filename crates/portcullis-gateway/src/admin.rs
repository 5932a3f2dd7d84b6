//! The admin listener (axum, never on the data path): `/healthz` and `/readyz` for load
//! balancers, and behind a bearer token `/metrics` (Prometheus), `POST /reload` and the API key
//! endpoints ([`crate::admin_keys`]), bans ([`crate::admin_bans`]) and quotas
//! ([`crate::admin_quotas`]).
//!
//! The token is compared in constant time; a missing or wrong token gets 401 with no hint of
//! which. Reload errors are returned to the (authenticated) caller with their locations.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Secret;
use crate::gateway::Reloader;
use crate::metrics::Metrics;

/// What admin handlers share.
#[derive(Clone)]
pub struct AdminState {
    /// The bearer token.
    pub token: Arc<Secret>,
    /// Process metrics.
    pub metrics: Arc<Metrics>,
    /// Config and certificate reload.
    pub reloader: Arc<Reloader>,
    /// True once shutdown started (readyz turns 503).
    pub draining: Arc<AtomicBool>,
}

/// Serves the admin API until shutdown.
pub async fn serve(tcp: TcpListener, state: AdminState, mut shutdown: watch::Receiver<bool>) {
    let protected = Router::new()
        .route("/metrics", get(metrics))
        .route("/reload", post(reload))
        .route(
            "/keys/{api}/{provider}",
            get(crate::admin_keys::list).post(crate::admin_keys::create),
        )
        .route(
            "/keys/{api}/{provider}/{prefix}/revoke",
            post(crate::admin_keys::revoke),
        )
        .route(
            "/keys/{api}/{provider}/{prefix}/rotate",
            post(crate::admin_keys::rotate),
        )
        .route(
            "/bans",
            get(crate::admin_bans::list).post(crate::admin_bans::ban),
        )
        .route(
            "/bans/{ip}",
            axum::routing::delete(crate::admin_bans::unban),
        )
        .route("/quotas", get(crate::admin_quotas::list))
        .route("/quotas/usage", post(crate::admin_quotas::usage))
        .route("/quotas/reset", post(crate::admin_quotas::reset))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(protected)
        .with_state(state);
    let result = axum::serve(tcp, app)
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|s| *s).await;
        })
        .await;
    if let Err(e) = result {
        tracing::error!(error = %e, "admin listener failed");
    }
}

async fn require_token(State(state): State<AdminState>, req: Request, next: Next) -> Response {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
        .unwrap_or_default();
    if !presented.is_empty() && state.token.matches(presented) {
        return next.run(req).await;
    }
    tracing::warn!(
        event = "admin_auth_failed",
        "admin request without a valid token"
    );
    let mut resp = (
        StatusCode::UNAUTHORIZED,
        [(header::CONTENT_TYPE, "application/problem+json")],
        json!({
            "type": "https://portcullis.dev/problems/admin-unauthorized",
            "title": "Admin token required",
            "status": 401
        })
        .to_string(),
    )
        .into_response();
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"portcullis-admin\""),
    );
    resp
}

async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

async fn readyz(State(state): State<AdminState>) -> Response {
    if state.draining.load(Ordering::SeqCst) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "draining"})),
        )
            .into_response();
    }
    Json(json!({"status": "ready"})).into_response()
}

async fn metrics(State(state): State<AdminState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
        .into_response()
}

async fn reload(State(state): State<AdminState>) -> Response {
    let reloader = state.reloader.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let r = reloader.reload_config();
        reloader.reload_certs(true);
        r
    })
    .await;
    match outcome {
        Ok(Ok(())) => Json(json!({"status": "applied"})).into_response(),
        Ok(Err(e)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({
                "status": "refused",
                "errors": e.diagnostics.iter().map(ToString::to_string).collect::<Vec<_>>(),
            })),
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
