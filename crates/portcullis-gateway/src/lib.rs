//! Portcullis gateway: the data plane and its control.
//!
//! A request goes: accept (TCP, TLS) → HTTP/1.1 or HTTP/2 → hygiene ([`request_guard`]) →
//! route ([`route`]) → the route's stages ([`pipeline`]) → upstream ([`upstream`]) → response
//! stages → security headers → metrics and access log. Config ([`config`]) is compiled into an
//! immutable [`runtime::Runtime`] that reload swaps atomically.
//!
//! Posture: unknown config keys are errors; an API with no authentication and no `public: true`
//! refuses everything; every refusal is RFC 9457 problem+json ([`problem`]); TLS 1.2+ only;
//! secrets never reach logs, errors or metrics.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod access_log;
pub mod admin;
pub mod admin_bans;
pub mod admin_keys;
pub mod admin_quotas;
pub mod auth;
pub mod body;
pub mod bounded_map;
pub mod condition;
pub mod config;
pub mod contract;
pub mod forwarding;
pub mod framing_sniffer;
pub mod gateway;
pub mod inventory;
pub mod json_line;
pub mod line_sink;
pub mod listener;
pub mod metrics;
pub mod outbound;
pub mod pipeline;
pub mod problem;
pub mod proxy;
pub mod request_guard;
pub mod route;
pub mod runtime;
pub mod security_events;
pub mod services;
pub mod state;
pub mod tls;
pub mod upstream;
pub mod waf;

pub use gateway::{Gateway, StartError};
