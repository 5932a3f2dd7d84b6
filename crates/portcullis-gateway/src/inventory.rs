//! The API inventory `portcullis check` prints: every route (spec operations included) with its
//! method and path, who may call it, its limits, and whether it is deprecated. As a table for
//! people and as JSON for tools.

use http::Method;
use serde::Serialize;

use crate::config::model::{ApiConfig, RateLimitConfig, RouteConfig};
use crate::contract::Contract;

/// One route of the inventory.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// API name.
    pub api: String,
    /// Route name (the operationId for spec operations).
    pub operation: String,
    /// Methods served (HEAD implied by GET is left out).
    pub methods: Vec<String>,
    /// Full path template.
    pub path: String,
    /// Who may call it: `public`, `deny`, `anonymous`, or providers with their requirements.
    pub auth: String,
    /// Rate limits and quotas that apply (route, API and global).
    pub limits: Vec<String>,
    /// Validated against an OpenAPI spec.
    pub validated: bool,
    /// Marked deprecated in the spec.
    pub deprecated: bool,
    /// Sunset time (RFC 3339), if any.
    pub sunset: Option<String>,
}

impl Entry {
    /// The entry of route `rc` of `api`.
    pub fn new(
        api: &ApiConfig,
        rc: &RouteConfig,
        full_path: &str,
        methods: &[Method],
        contract: Option<&Contract>,
        global_limits: &[RateLimitConfig],
    ) -> Self {
        let auth = match (&api.auth, api.public) {
            (_, true) => "public".to_owned(),
            (None, false) => "deny (no auth configured)".to_owned(),
            (Some(a), false) => {
                let rule = rc.auth.as_ref().unwrap_or(&a.default);
                if rule.anonymous {
                    "anonymous".to_owned()
                } else {
                    let mut parts = vec![if rule.providers.is_empty() {
                        "any provider".to_owned()
                    } else {
                        rule.providers.join("|")
                    }];
                    if !rule.roles.is_empty() {
                        parts.push(format!("roles={}", rule.roles.join(",")));
                    }
                    if !rule.scopes.is_empty() {
                        parts.push(format!("scopes={}", rule.scopes.join(",")));
                    }
                    if rule.condition.is_some() {
                        parts.push("condition".to_owned());
                    }
                    if rule.require_mfa {
                        parts.push("mfa".to_owned());
                    }
                    parts.join(" ")
                }
            }
        };
        let limit = |l: &RateLimitConfig| {
            format!(
                "{} {}",
                l.name.clone().unwrap_or_else(|| l.key.join("+")),
                l.rate
            )
        };
        let mut limits: Vec<String> = rc
            .rate_limits
            .iter()
            .chain(&api.rate_limits)
            .chain(global_limits)
            .map(limit)
            .collect();
        limits.extend(
            rc.quotas
                .iter()
                .chain(&api.quotas)
                .map(|q| format!("quota {}/{:?}", q.limit, q.per).to_lowercase()),
        );
        Self {
            api: api.name.clone(),
            operation: rc.name.clone().unwrap_or_else(|| rc.path.clone()),
            methods: methods
                .iter()
                .filter(|m| **m != Method::HEAD || !methods.contains(&Method::GET))
                .map(|m| m.to_string())
                .collect(),
            path: full_path.to_owned(),
            auth,
            limits,
            validated: contract.is_some(),
            deprecated: contract.is_some_and(|c| c.operation.deprecated),
            sunset: contract.and_then(|c| c.sunset).map(|t| t.to_string()),
        }
    }
}

/// The inventory as an aligned text table.
pub fn table(entries: &[Entry]) -> String {
    let header = [
        "API",
        "OPERATION",
        "METHOD",
        "PATH",
        "AUTH",
        "LIMITS",
        "SPEC",
        "DEPRECATED",
    ];
    let rows: Vec<[String; 8]> = entries
        .iter()
        .map(|e| {
            [
                e.api.clone(),
                e.operation.clone(),
                e.methods.join(","),
                e.path.clone(),
                e.auth.clone(),
                if e.limits.is_empty() {
                    "-".to_owned()
                } else {
                    e.limits.join("; ")
                },
                if e.validated { "yes" } else { "-" }.to_owned(),
                match (&e.sunset, e.deprecated) {
                    (Some(s), _) => format!("sunset {s}"),
                    (None, true) => "yes".to_owned(),
                    (None, false) => "-".to_owned(),
                },
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<w$}  "));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for row in &rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}
