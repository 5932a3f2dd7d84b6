//! Whole-config checks: what `portcullis check` reports and what `serve` and reload refuse.
//!
//! Errors make the config unusable; warnings point at weaker-than-expected settings (plain
//! HTTP, secrets in clear, routes without authentication).

use std::collections::HashSet;
use std::net::SocketAddr;

use super::load::{Finding, LoadedConfig, Severity};
use crate::runtime::{Runtime, Summary};

/// The outcome of checking a config.
pub struct Report {
    /// Every error and warning.
    pub findings: Vec<Finding>,
    /// What compiled (when it did).
    pub summary: Option<Summary>,
    /// Every route with what protects it (when the config compiled).
    pub inventory: Vec<crate::inventory::Entry>,
}

impl Report {
    /// True when there is no error.
    pub fn is_ok(&self) -> bool {
        self.findings.iter().all(|f| f.severity != Severity::Error)
    }
}

/// Runs every check on a loaded config.
pub fn check(loaded: &LoadedConfig) -> Report {
    let mut findings = listener_findings(loaded);
    findings.extend(state_findings(loaded));
    findings.extend(admin_findings(loaded));
    let (summary, inventory) = match Runtime::build(loaded, &crate::services::Services::for_check())
    {
        Ok(rt) => (Some(rt.summary), rt.inventory),
        Err(errors) => {
            findings.extend(errors);
            (None, Vec::new())
        }
    };
    findings.extend(warnings(loaded));
    Report {
        findings,
        summary,
        inventory,
    }
}

/// Parses `IP:PORT`.
pub fn parse_bind(text: &str) -> Result<SocketAddr, String> {
    text.parse::<SocketAddr>()
        .map_err(|_| format!("invalid bind address {text:?}: write IP:PORT, e.g. 127.0.0.1:8443"))
}

fn listener_findings(loaded: &LoadedConfig) -> Vec<Finding> {
    let cfg = &loaded.config;
    let mut out = Vec::new();
    if cfg.listeners.is_empty() {
        out.push(Finding::error(
            "listeners",
            "at least one listener is needed",
        ));
    }
    let mut names = HashSet::new();
    let mut binds = HashSet::new();
    for (i, l) in cfg.listeners.iter().enumerate() {
        let at = format!("listeners.{i}");
        if !names.insert(l.name.as_str()) {
            out.push(Finding::error(
                format!("{at}.name"),
                format!("listener name {:?} used twice", l.name),
            ));
        }
        match parse_bind(&l.bind) {
            Ok(addr) if addr.port() != 0 && !binds.insert(addr) => out.push(Finding::error(
                format!("{at}.bind"),
                format!("{addr} is bound by another listener"),
            )),
            Ok(_) => {}
            Err(m) => out.push(Finding::error(format!("{at}.bind"), m)),
        }
        if l.tls.is_some() && l.redirect_https.is_some() {
            out.push(Finding::error(
                at.clone(),
                "a listener has either `tls` or `redirect_https`, not both",
            ));
        }
        if let Some(tls) = &l.tls {
            let cert = loaded.base_dir.join(&tls.cert);
            let key = loaded.base_dir.join(&tls.key);
            if let Err(m) = crate::tls::load_certified_key(&cert, &key) {
                out.push(Finding::error(format!("{at}.tls"), m));
            }
        }
        if let Some(tls) = &l.tls {
            if tls.client_auth == super::model::ClientAuth::Required && tls.client_ca.is_none() {
                out.push(Finding::error(
                    format!("{at}.tls.client_auth"),
                    "client_auth: required needs client_ca (the CA client certificates chain to)",
                ));
            }
        }
        if let Some(r) = &l.redirect_https {
            if r.port == 0 {
                out.push(Finding::error(
                    format!("{at}.redirect_https.port"),
                    "port must not be 0",
                ));
            }
        }
    }
    out
}

fn state_findings(loaded: &LoadedConfig) -> Vec<Finding> {
    use super::model::StateBackend;
    let state = &loaded.config.state;
    let mut out = Vec::new();
    match (state.backend, &state.redis) {
        (StateBackend::Redis, None) => out.push(Finding::error(
            "state.backend",
            "backend: redis needs state.redis with a url",
        )),
        (_, Some(r)) => {
            match r.url.resolve(&loaded.base_dir) {
                Ok(url) if redis::Client::open(url.secret_str()).is_err() => {
                    out.push(Finding::error(
                        "state.redis.url",
                        "not a redis URL (redis://host:port[/db])",
                    ))
                }
                Ok(_) => {}
                Err(e) => out.push(Finding::error("state.redis.url", e.to_string())),
            }
            if r.timeout.0.is_zero() {
                out.push(Finding::error(
                    "state.redis.timeout",
                    "timeout must be greater than 0",
                ));
            }
        }
        _ => {}
    }
    let has_quotas = loaded
        .config
        .apis
        .iter()
        .any(|a| !a.quotas.is_empty() || a.routes.iter().any(|r| !r.quotas.is_empty()));
    if has_quotas && state.backend == StateBackend::Embedded && state.path.is_none() {
        out.push(Finding::warning(
            "state.path",
            "quotas are counted in memory only: without state.path a restart resets them",
        ));
    }
    if state.max_keys == 0 {
        out.push(Finding::error(
            "state.max_keys",
            "max_keys must be at least 1",
        ));
    }
    out
}

fn admin_findings(loaded: &LoadedConfig) -> Vec<Finding> {
    let Some(admin) = &loaded.config.admin else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Err(m) = parse_bind(&admin.bind) {
        out.push(Finding::error("admin.bind", m));
    }
    match admin.token.resolve(&loaded.base_dir) {
        Ok(token) if token.secret_str().len() < 16 => out.push(Finding::error(
            "admin.token",
            "admin token is shorter than 16 characters",
        )),
        Ok(_) => {}
        Err(e) => out.push(Finding::error("admin.token", e.to_string())),
    }
    out
}

fn auth_warnings(
    ai: usize,
    api: &super::model::ApiConfig,
    auth: &super::model::AuthConfig,
    mtls_listener: bool,
) -> Vec<Finding> {
    use super::model::ProviderConfig;
    let mut out = Vec::new();
    let at = format!("apis.{ai}.auth");
    for (name, p) in &auth.providers {
        let pat = format!("{at}.providers.{name}");
        match p {
            ProviderConfig::ApiKey(k) => {
                if k.query_param.is_some() {
                    out.push(Finding::warning(
                        format!("{pat}.api_key.query_param"),
                        "API keys in the query string end up in logs, proxies and browser history; prefer the header",
                    ));
                }
                if k.pepper.is_inline() {
                    out.push(Finding::warning(
                        format!("{pat}.api_key.pepper"),
                        "the pepper is written in clear; use ${env:NAME} or ${file:PATH}",
                    ));
                }
            }
            ProviderConfig::Introspection(i) if i.client_secret.is_inline() => {
                out.push(Finding::warning(
                    format!("{pat}.introspection.client_secret"),
                    "the client secret is written in clear; use ${env:NAME} or ${file:PATH}",
                ));
            }
            ProviderConfig::Mtls(_) if !mtls_listener => out.push(Finding::warning(
                pat.clone(),
                "no TLS listener has client_ca, so no client certificate can ever be presented",
            )),
            _ => {}
        }
    }
    if auth.default.anonymous {
        out.push(Finding::warning(
            format!("{at}.default.anonymous"),
            format!(
                "routes of API {:?} without their own rule need no authentication",
                api.name
            ),
        ));
    }
    for (ri, r) in api.routes.iter().enumerate() {
        if r.auth.as_ref().is_some_and(|a| a.anonymous) {
            let name = r.name.as_deref().unwrap_or(&r.path);
            out.push(Finding::warning(
                format!("apis.{ai}.routes.{ri}.auth.anonymous"),
                format!(
                    "route {name:?} of API {:?} has no authentication (anonymous: true)",
                    api.name
                ),
            ));
        }
    }
    out
}

fn warnings(loaded: &LoadedConfig) -> Vec<Finding> {
    let cfg = &loaded.config;
    let mut out = Vec::new();
    for (i, l) in cfg.listeners.iter().enumerate() {
        if l.tls.is_none() && l.redirect_https.is_none() {
            out.push(Finding::warning(
                format!("listeners.{i}"),
                format!(
                    "listener {:?} serves plain HTTP (no tls, no redirect_https)",
                    l.name
                ),
            ));
        }
    }
    if let Some(admin) = &cfg.admin {
        if admin.token.is_inline() {
            out.push(Finding::warning(
                "admin.token",
                "admin token is written in clear; use ${env:NAME} or ${file:PATH}",
            ));
        }
        if let Ok(addr) = parse_bind(&admin.bind) {
            if !addr.ip().is_loopback() {
                out.push(Finding::warning(
                    "admin.bind",
                    format!("admin listener on {addr} is reachable beyond this host"),
                ));
            }
        }
    }
    let mtls_listener = cfg
        .listeners
        .iter()
        .any(|l| l.tls.as_ref().is_some_and(|t| t.client_ca.is_some()));
    for (ai, api) in cfg.apis.iter().enumerate() {
        if let Some(auth) = &api.auth {
            out.extend(auth_warnings(ai, api, auth, mtls_listener));
        } else if api.public {
            for (ri, r) in api.routes.iter().enumerate() {
                let name = r.name.as_deref().unwrap_or(&r.path);
                out.push(Finding::warning(
                    format!("apis.{ai}.routes.{ri}"),
                    format!(
                        "route {name:?} of API {:?} has no authentication (public: true)",
                        api.name
                    ),
                ));
            }
        } else {
            out.push(Finding::warning(
                format!("apis.{ai}"),
                format!(
                    "API {:?} has no authentication and is not `public: true`: every request is refused (403, default deny)",
                    api.name
                ),
            ));
        }
        for (ri, r) in api.routes.iter().enumerate() {
            if r.expose_upstream_errors {
                out.push(Finding::warning(
                    format!("apis.{ai}.routes.{ri}.expose_upstream_errors"),
                    "upstream error bodies (stack traces) reach clients on this route",
                ));
            }
        }
        if let Some(o) = &api.openapi {
            out.extend(openapi_warnings(ai, api, o));
        }
    }
    out
}

/// Settings that weaken an API's OpenAPI enforcement.
fn openapi_warnings(
    ai: usize,
    api: &crate::config::model::ApiConfig,
    o: &crate::config::model::OpenApiConfig,
) -> Vec<Finding> {
    use crate::config::model::{ResponseModeConfig, UndocumentedResponses, UnknownFieldsMode};
    let at = format!("apis.{ai}.openapi");
    let mut out = Vec::new();
    if api.public {
        out.push(Finding::warning(
            format!("apis.{ai}.public"),
            format!(
                "the spec operations of API {:?} have no authentication (public: true)",
                api.name
            ),
        ));
    }
    if o.unknown_fields == UnknownFieldsMode::Open {
        out.push(Finding::warning(
            format!("{at}.unknown_fields"),
            "unknown properties and query parameters are accepted: mass assignment is not blocked",
        ));
    }
    if o.responses == ResponseModeConfig::Report {
        out.push(Finding::warning(
            format!("{at}.responses"),
            "responses are only reported: undeclared data still reaches clients",
        ));
    }
    if o.undocumented_responses == UndocumentedResponses::Pass {
        out.push(Finding::warning(
            format!("{at}.undocumented_responses"),
            "bodies of undocumented statuses (error details) reach clients",
        ));
    }
    for (id, op) in &api.operations {
        if op.expose_upstream_errors {
            out.push(Finding::warning(
                format!("apis.{ai}.operations.{id}.expose_upstream_errors"),
                "upstream error bodies (stack traces) reach clients on this operation",
            ));
        }
    }
    out
}
