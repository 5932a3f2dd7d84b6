//! Admin API for stored API keys (behind the admin token):
//!
//! - `GET  /keys/{api}/{provider}` lists keys (never their hashes);
//! - `POST /keys/{api}/{provider}` `{"owner", "scopes", "roles", "expires_in"}` creates one and
//!   returns the full key, the only time it is ever shown;
//! - `POST /keys/{api}/{provider}/{prefix}/revoke`;
//! - `POST /keys/{api}/{provider}/{prefix}/rotate` `{"overlap": "24h"}` issues a replacement;
//!   the old key stays valid for the overlap.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use crate::admin::AdminState;
use crate::auth::api_key::{ApiKeyProvider, IssuedKey, KeyGrant};
use crate::runtime::Runtime;
use crate::state::key_store::{KeyRecord, StoreError};

/// Body of a create request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    owner: String,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    expires_in: Option<String>,
}

/// Body of a rotate request.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateKey {
    #[serde(default)]
    overlap: Option<String>,
}

/// Default time an old key stays valid after a rotation.
pub const DEFAULT_OVERLAP: Duration = Duration::from_secs(24 * 3600);

/// A record as shown to operators: everything but the hash.
pub fn view(r: &KeyRecord) -> serde_json::Value {
    json!({
        "prefix": r.prefix,
        "owner": r.owner,
        "scopes": r.scopes,
        "roles": r.roles,
        "created": r.created,
        "expires": r.expires,
        "revoked": r.revoked,
        "last_used": r.last_used,
        "rotated_to": r.rotated_to,
    })
}

fn issued_view(i: &IssuedKey) -> serde_json::Value {
    json!({"key": i.key, "record": view(&i.record)})
}

fn problem(status: StatusCode, detail: String) -> Response {
    (
        status,
        Json(json!({"status": status.as_u16(), "detail": detail})),
    )
        .into_response()
}

/// An error answer before it is rendered.
type Refused = (StatusCode, String);

fn refused((status, detail): Refused) -> Response {
    problem(status, detail)
}

fn store_error(e: StoreError) -> Refused {
    let status = match e {
        StoreError::NotFound(_) => StatusCode::NOT_FOUND,
        StoreError::NoStore(_) | StoreError::Revoked(_) => StatusCode::CONFLICT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (status, e.to_string())
}

/// Runs `f` on the blocking pool with the named provider of the current runtime.
async fn with_provider<T: Send + 'static>(
    state: &AdminState,
    api: String,
    provider: String,
    f: impl FnOnce(&ApiKeyProvider) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, Refused> {
    let rt: Arc<Runtime> = state.reloader.runtime();
    tokio::task::spawn_blocking(move || match rt.api_key_provider(&api, &provider) {
        Some(p) => f(p).map_err(store_error),
        None => Err((
            StatusCode::NOT_FOUND,
            format!("API {api:?} has no api_key provider {provider:?}"),
        )),
    })
    .await
    .map_err(|_| {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "key operation failed".to_owned(),
        )
    })?
}

fn duration(text: Option<&str>, default: Option<Duration>) -> Result<Option<Duration>, Refused> {
    match text {
        None => Ok(default),
        Some(t) => humantime::parse_duration(t).map(Some).map_err(|_| {
            (
                StatusCode::BAD_REQUEST,
                format!("{t:?} is not a duration (e.g. 30d, 12h)"),
            )
        }),
    }
}

/// `GET /keys/{api}/{provider}`.
pub async fn list(
    State(state): State<AdminState>,
    Path((api, provider)): Path<(String, String)>,
) -> Response {
    match with_provider(&state, api, provider, |p| p.list()).await {
        Ok(records) => {
            Json(json!({"keys": records.iter().map(view).collect::<Vec<_>>()})).into_response()
        }
        Err(r) => refused(r),
    }
}

/// `POST /keys/{api}/{provider}`.
pub async fn create(
    State(state): State<AdminState>,
    Path((api, provider)): Path<(String, String)>,
    Json(body): Json<CreateKey>,
) -> Response {
    if body.owner.trim().is_empty() {
        return problem(StatusCode::BAD_REQUEST, "owner must not be empty".into());
    }
    let ttl = match duration(body.expires_in.as_deref(), None) {
        Ok(t) => t,
        Err(r) => return refused(r),
    };
    let grant = KeyGrant {
        owner: body.owner,
        scopes: body.scopes,
        roles: body.roles,
        ttl,
    };
    match with_provider(&state, api, provider, move |p| p.create(&grant)).await {
        Ok(issued) => (StatusCode::CREATED, Json(issued_view(&issued))).into_response(),
        Err(r) => refused(r),
    }
}

/// `POST /keys/{api}/{provider}/{prefix}/revoke`.
pub async fn revoke(
    State(state): State<AdminState>,
    Path((api, provider, prefix)): Path<(String, String, String)>,
) -> Response {
    match with_provider(&state, api, provider, move |p| p.revoke(&prefix)).await {
        Ok(record) => Json(view(&record)).into_response(),
        Err(r) => refused(r),
    }
}

/// `POST /keys/{api}/{provider}/{prefix}/rotate`.
pub async fn rotate(
    State(state): State<AdminState>,
    Path((api, provider, prefix)): Path<(String, String, String)>,
    body: Option<Json<RotateKey>>,
) -> Response {
    let body = body.map(|Json(b)| b).unwrap_or_default();
    let overlap = match duration(body.overlap.as_deref(), Some(DEFAULT_OVERLAP)) {
        Ok(o) => o.unwrap_or(DEFAULT_OVERLAP),
        Err(r) => return refused(r),
    };
    match with_provider(&state, api, provider, move |p| p.rotate(&prefix, overlap)).await {
        Ok((issued, old)) => {
            Json(json!({"new": issued_view(&issued), "old": view(&old)})).into_response()
        }
        Err(r) => refused(r),
    }
}
