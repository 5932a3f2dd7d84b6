//! Admin API for quotas (behind the admin token):
//!
//! - `GET /quotas` lists the counters of unfinished periods (embedded backend): key, used, end;
//! - `POST /quotas/usage` `{"key": "..."}` shows one counter (both backends);
//! - `POST /quotas/reset` `{"key": "..."}` resets one counter (both backends).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use crate::admin::AdminState;

/// Body of a usage or reset request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    key: String,
}

/// `GET /quotas`.
pub async fn list(State(state): State<AdminState>) -> Response {
    let services = state.reloader.services();
    if services.limiter.backend() == "redis" {
        return (
            StatusCode::NOT_IMPLEMENTED,
            Json(json!({"status": 501, "detail": "listing quotas needs the embedded backend; on Redis, POST /quotas/usage and /quotas/reset work by key"})),
        )
            .into_response();
    }
    let now = crate::state::key_store::unix_now() as i64;
    let quotas: Vec<_> = services
        .quotas
        .list(now)
        .into_iter()
        .map(|(key, used, end)| json!({"key": key, "used": used, "resets_at": end}))
        .collect();
    Json(json!({"quotas": quotas})).into_response()
}

/// `POST /quotas/usage`.
pub async fn usage(State(state): State<AdminState>, Json(body): Json<ResetRequest>) -> Response {
    let services = state.reloader.services();
    match services
        .limiter
        .quota_usage(&services.quotas, &body.key)
        .await
    {
        Ok(Some((used, end))) => {
            Json(json!({"key": body.key, "used": used, "resets_at": end})).into_response()
        }
        Ok(None) => (
            StatusCode::NOT_FOUND,
            Json(
                json!({"status": 404, "detail": "no counter with this key in the current period"}),
            ),
        )
            .into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": 503, "detail": e.to_string()})),
        )
            .into_response(),
    }
}

/// `POST /quotas/reset`.
pub async fn reset(State(state): State<AdminState>, Json(body): Json<ResetRequest>) -> Response {
    let services = state.reloader.services();
    match services
        .limiter
        .reset_quota(&services.quotas, &body.key)
        .await
    {
        Ok(found) => {
            tracing::warn!(
                event = "quota_reset",
                found,
                "quota counter reset by an operator"
            );
            Json(json!({"key": body.key, "was_set": found})).into_response()
        }
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": 503, "detail": e.to_string()})),
        )
            .into_response(),
    }
}
