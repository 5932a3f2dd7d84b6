//! Admin API for bans (behind the admin token):
//!
//! - `GET /bans` lists banned client IPs with the seconds left;
//! - `POST /bans` `{"ip": "203.0.113.7", "duration": "1h"}` bans an IP now;
//! - `DELETE /bans/{ip}` lifts a ban (automatic or manual) and forgets the IP's history.

use std::net::IpAddr;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use crate::admin::AdminState;

/// Longest manual ban.
pub const MAX_BAN: Duration = Duration::from_secs(365 * 24 * 3600);

/// Body of a ban request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BanRequest {
    ip: String,
    duration: String,
}

fn bad(detail: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"status": 400, "detail": detail})),
    )
        .into_response()
}

/// `GET /bans`.
pub async fn list(State(state): State<AdminState>) -> Response {
    let mut bans: Vec<_> = state
        .reloader
        .services()
        .bans
        .locked_sources()
        .into_iter()
        .map(|(ip, left)| json!({"ip": ip.to_string(), "seconds_left": left.as_secs().max(1)}))
        .collect();
    bans.sort_by(|a, b| a["ip"].as_str().cmp(&b["ip"].as_str()));
    Json(json!({"bans": bans})).into_response()
}

/// `POST /bans`.
pub async fn ban(State(state): State<AdminState>, Json(body): Json<BanRequest>) -> Response {
    let Ok(ip) = body.ip.trim().parse::<IpAddr>() else {
        return bad(format!("{:?} is not an IP address", body.ip));
    };
    let duration = match humantime::parse_duration(&body.duration) {
        Ok(d) if !d.is_zero() && d <= MAX_BAN => d,
        _ => {
            return bad(format!(
                "{:?} is not a duration between 1s and 365d",
                body.duration
            ))
        }
    };
    let services = state.reloader.services();
    services.bans.ban(&ip, duration);
    if let Some(written) =
        crate::state::ban_store::persist_ban(services.ban_store.as_ref(), ip, duration)
    {
        let _ = written.await;
    }
    tracing::warn!(event = "manual_ban", ip = %ip, seconds = duration.as_secs(), "client IP banned by an operator");
    (
        StatusCode::CREATED,
        Json(json!({"ip": ip.to_string(), "seconds_left": duration.as_secs()})),
    )
        .into_response()
}

/// `DELETE /bans/{ip}`.
pub async fn unban(State(state): State<AdminState>, Path(ip): Path<String>) -> Response {
    let Ok(ip) = ip.parse::<IpAddr>() else {
        return bad(format!("{ip:?} is not an IP address"));
    };
    let services = state.reloader.services();
    let was_banned = services.bans.unban(&ip);
    if let Some(store) = services.ban_store.clone() {
        let _ = tokio::task::spawn_blocking(move || {
            if let Err(e) = store.remove(ip) {
                tracing::warn!(event = "ban_not_removed", "{e}");
            }
        })
        .await;
    }
    tracing::warn!(event = "manual_unban", ip = %ip, was_banned, "ban lifted by an operator");
    Json(json!({"ip": ip.to_string(), "was_banned": was_banned})).into_response()
}
