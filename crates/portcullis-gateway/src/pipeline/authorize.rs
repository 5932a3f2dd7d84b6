//! Authorization stage: what an authenticated principal may do on this route.
//!
//! Checked in this order, each with its own answer:
//! 1. roles (403 `forbidden`),
//! 2. scopes (403 `forbidden`, `WWW-Authenticate: Bearer error="insufficient_scope"`),
//! 3. the CEL condition, e.g. an object-level rule (403 `forbidden`),
//! 4. step-up: `require_mfa` and `acr` (401 `step-up-required`,
//!    `error="insufficient_user_authentication"` as in RFC 9470) — last, so a step-up is only
//!    asked for when it would actually let the request through.

use std::sync::Arc;

use http::header;

use super::path_params::PathParams;
use super::{Answer, Exchange, Flow, Stage, StageContext, Step};
use crate::auth::{ApiAuth, Principal};
use crate::condition::{Condition, RequestFacts};
use crate::config::model::{MatchMode, MatchModeAny, RuleConfig};
use crate::problem::Refusal;
use crate::security_events::{EventKind, SecurityEvent, SecurityEvents};

/// The authorization stage of one route.
pub struct Authorize {
    roles: Vec<String>,
    all_roles: bool,
    scopes: Vec<String>,
    any_scope: bool,
    condition: Option<(Condition, PathParams)>,
    require_mfa: bool,
    acr: Vec<String>,
    mfa_factors: Vec<String>,
    api: Arc<str>,
    route: Arc<str>,
    events: Arc<SecurityEvents>,
}

impl Authorize {
    /// The stage for `rule`, or `None` when the rule requires nothing beyond authentication.
    /// Errors carry the config key (relative to the route) and a message.
    pub fn new(
        auth: &Arc<ApiAuth>,
        rule: &RuleConfig,
        ctx: &StageContext<'_>,
    ) -> Result<Option<Self>, (String, String)> {
        let condition = match &rule.condition {
            Some(source) => {
                let c = Condition::compile(source).map_err(|m| ("auth.condition".to_owned(), m))?;
                Some((c, PathParams::new(ctx.path)))
            }
            None => None,
        };
        if rule.roles.is_empty()
            && rule.scopes.is_empty()
            && condition.is_none()
            && !rule.require_mfa
            && rule.acr.is_empty()
        {
            return Ok(None);
        }
        Ok(Some(Self {
            roles: rule.roles.clone(),
            all_roles: rule.roles_match == MatchModeAny::All,
            scopes: rule.scopes.clone(),
            any_scope: rule.scopes_match == MatchMode::Any,
            condition,
            require_mfa: rule.require_mfa,
            acr: rule.acr.clone(),
            mfa_factors: auth.mfa_factors.clone(),
            api: ctx.api.clone(),
            route: ctx.route.clone(),
            events: ctx.services.events.clone(),
        }))
    }

    fn check(&self, ex: &Exchange<'_>, p: &Principal) -> Result<(), (Answer, &'static str)> {
        let has = |list: &[String], item: &String| list.contains(item);
        if !self.roles.is_empty() {
            let ok = if self.all_roles {
                self.roles.iter().all(|r| has(&p.roles, r))
            } else {
                self.roles.iter().any(|r| has(&p.roles, r))
            };
            if !ok {
                return Err((Refusal::Forbidden.into(), "missing_role"));
            }
        }
        if !self.scopes.is_empty() {
            let ok = if self.any_scope {
                self.scopes.iter().any(|s| has(&p.scopes, s))
            } else {
                self.scopes.iter().all(|s| has(&p.scopes, s))
            };
            if !ok {
                let challenge = format!(
                    "Bearer realm=\"{}\", error=\"insufficient_scope\", scope=\"{}\"",
                    self.api.replace(['"', '\\'], ""),
                    self.scopes.join(" ").replace(['"', '\\'], "")
                );
                return Err((
                    Answer::from(Refusal::Forbidden)
                        .with_header(header::WWW_AUTHENTICATE, &challenge),
                    "missing_scope",
                ));
            }
        }
        if let Some((condition, params)) = &self.condition {
            let path = ex.request.uri.path();
            let path_params = params.with(path, |pairs| {
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect()
            });
            let facts = RequestFacts {
                method: ex.request.method.as_str(),
                path_params,
                url_path: path,
                query: ex.request.uri.query(),
                headers: &ex.request.headers,
                ip: ex.client_ip,
            };
            match condition.evaluate(&facts, p) {
                Ok(true) => {}
                Ok(false) => return Err((Refusal::Forbidden.into(), "condition_false")),
                Err(e) => {
                    tracing::debug!(route = %self.route, error = %e, "condition failed to evaluate");
                    return Err((Refusal::Forbidden.into(), "condition_error"));
                }
            }
        }
        let mfa_ok = !self.require_mfa || p.amr.iter().any(|m| self.mfa_factors.contains(m));
        let acr_ok = self.acr.is_empty() || p.acr.as_ref().is_some_and(|a| self.acr.contains(a));
        if !mfa_ok || !acr_ok {
            let mut challenge = format!(
                "Bearer realm=\"{}\", error=\"insufficient_user_authentication\", error_description=\"{}\"",
                self.api.replace(['"', '\\'], ""),
                if mfa_ok { "a stronger authentication context is required" } else { "multi-factor authentication is required" }
            );
            if !self.acr.is_empty() {
                challenge.push_str(&format!(
                    ", acr_values=\"{}\"",
                    self.acr.join(" ").replace(['"', '\\'], "")
                ));
            }
            return Err((
                Answer::from(Refusal::StepUpRequired)
                    .with_header(header::WWW_AUTHENTICATE, &challenge),
                if mfa_ok {
                    "acr_insufficient"
                } else {
                    "mfa_required"
                },
            ));
        }
        Ok(())
    }
}

impl Stage for Authorize {
    fn name(&self) -> &'static str {
        "authorize"
    }

    fn on_request<'a>(&'a self, ex: &'a mut Exchange<'_>) -> Step<'a> {
        let Some(principal) = ex.principal.clone() else {
            // Authentication always runs first on a non-anonymous route; be safe anyway.
            return Step::Done(Refusal::Unauthenticated.into());
        };
        match self.check(ex, &principal) {
            Ok(()) => Step::Done(Flow::Continue),
            Err((answer, reason)) => {
                self.events.emit(&SecurityEvent {
                    kind: EventKind::AuthorizationDenied,
                    reason,
                    api: &self.api,
                    route: &self.route,
                    client_ip: ex.client_ip,
                    request_id: ex.request_id,
                    provider: Some(&principal.provider),
                    principal: Some(&principal.id),
                    detail: None,
                    waf: None,
                });
                Step::Done(Flow::Respond(answer))
            }
        }
    }
}
