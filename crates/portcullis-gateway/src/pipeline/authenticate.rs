//! Authentication stage: turns the request's credential into a principal, or answers 401.
//!
//! - Client-sent headers named like the identity headers are removed on every route of the API,
//!   anonymous ones included: an upstream never sees a spoofed identity.
//! - The first allowed provider whose credential is present decides; an invalid credential is a
//!   401 with an RFC 6750 `WWW-Authenticate` and never falls through to another provider.
//! - Failures count towards lockout per client IP and per claimed identity; a locked source gets
//!   429 with `Retry-After` before any verification work is done.
//! - On success the identity headers are set, and the credential is removed unless the API
//!   forwards tokens.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use http::header;

use super::{Answer, Exchange, Flow, Stage, StageContext, Step};
use crate::auth::{ApiAuth, ClientCert, Failure, Presented, Principal, Provider};
use crate::config::model::RuleConfig;
use crate::problem::Refusal;
use crate::security_events::{EventKind, SecurityEvent, SecurityEvents};
use crate::state::lockout::{FailureOutcome, Lockout};

/// The authentication stage of one route.
pub struct Authenticate {
    auth: Arc<ApiAuth>,
    allowed: Vec<usize>,
    jwt_by_issuer: bool,
    anonymous: bool,
    route: Arc<str>,
    events: Arc<SecurityEvents>,
    lockout_ips: Arc<Lockout<IpAddr>>,
    lockout_identities: Arc<Lockout<String>>,
    limiter: Arc<crate::state::limiter::Limiter>,
}

/// A credential copied out of the request, for verification that has to wait.
enum Owned {
    Bearer(String),
    ApiKey(String),
    Basic(String, String),
    Cert(Arc<ClientCert>),
}

impl Owned {
    fn from(p: &Presented<'_>) -> Self {
        match p {
            Presented::Bearer(t) => Self::Bearer((*t).to_owned()),
            Presented::ApiKey(k) => Self::ApiKey(k.clone()),
            Presented::Basic(u, pw) => Self::Basic(u.clone(), pw.clone()),
            Presented::Cert(c) => Self::Cert((*c).clone()),
        }
    }

    fn presented(&self) -> Presented<'_> {
        match self {
            Self::Bearer(t) => Presented::Bearer(t),
            Self::ApiKey(k) => Presented::ApiKey(k.clone()),
            Self::Basic(u, pw) => Presented::Basic(u.clone(), pw.clone()),
            Self::Cert(c) => Presented::Cert(c),
        }
    }
}

impl Authenticate {
    /// The stage for a route with `rule`; unknown provider names are errors.
    pub fn new(
        auth: &Arc<ApiAuth>,
        rule: &RuleConfig,
        ctx: &StageContext<'_>,
    ) -> Result<Self, String> {
        let mut allowed = Vec::new();
        for (i, p) in auth.providers.iter().enumerate() {
            if rule.providers.is_empty() || rule.providers.iter().any(|n| **n == **p.name()) {
                allowed.push(i);
            }
        }
        if let Some(unknown) = rule
            .providers
            .iter()
            .find(|n| !auth.providers.iter().any(|p| **p.name() == ***n))
        {
            let known: Vec<&str> = auth.providers.iter().map(|p| &**p.name()).collect();
            return Err(format!(
                "unknown provider {unknown:?} (this API has: {})",
                known.join(", ")
            ));
        }
        let jwt_providers = allowed
            .iter()
            .filter(|&&i| matches!(auth.providers[i], Provider::Jwt(_)))
            .count();
        Ok(Self {
            auth: auth.clone(),
            allowed,
            jwt_by_issuer: jwt_providers > 1,
            anonymous: rule.anonymous,
            route: ctx.route.clone(),
            events: ctx.services.events.clone(),
            lockout_ips: ctx.services.lockout_ips.clone(),
            lockout_identities: ctx.services.lockout_identities.clone(),
            limiter: ctx.services.limiter.clone(),
        })
    }

    fn event(
        &self,
        ex: &Exchange<'_>,
        kind: EventKind,
        reason: &'static str,
        provider: Option<&str>,
        principal: Option<&str>,
    ) {
        self.events.emit(&SecurityEvent {
            kind,
            reason,
            api: &self.auth.api,
            route: &self.route,
            client_ip: ex.client_ip,
            request_id: ex.request_id,
            provider,
            principal,
            detail: None,
            waf: None,
        });
    }

    fn locked_out(&self, left: Duration) -> Flow {
        let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
        Flow::Respond(
            Answer::from(Refusal::LockedOut).with_header(header::RETRY_AFTER, &secs.to_string()),
        )
    }

    /// 401 with one challenge per allowed provider (`error` only for the one that failed).
    fn unauthenticated(&self, failed: Option<(&Provider, &'static str)>) -> Flow {
        let mut answer = Answer::from(Refusal::Unauthenticated);
        match failed {
            Some((p, error)) => {
                answer = answer.with_header(
                    header::WWW_AUTHENTICATE,
                    &p.challenge(&self.auth.api, Some(error)),
                );
            }
            None => {
                for &i in &self.allowed {
                    let c = self.auth.providers[i].challenge(&self.auth.api, None);
                    answer = answer.with_header(header::WWW_AUTHENTICATE, &c);
                }
            }
        }
        Flow::Respond(answer)
    }

    /// Applies a verification result.
    fn conclude(
        &self,
        ex: &mut Exchange<'_>,
        provider: &Provider,
        claimed: Option<String>,
        result: Result<Arc<Principal>, Failure>,
    ) -> Flow {
        match result {
            Ok(principal) => {
                if let Some(c) = &claimed {
                    self.lockout_identities.succeed(c);
                }
                self.forward_identity(ex, provider, &principal);
                ex.principal = Some(principal);
                Flow::Continue
            }
            Err(f) => {
                let name = provider.name();
                if f.counts {
                    let policy = &self.auth.lockout;
                    self.limiter.share_failure(
                        &self.lockout_ips,
                        ex.client_ip,
                        format!("ip:{}", ex.client_ip),
                        *policy,
                    );
                    if let Some(c) = &claimed {
                        self.limiter.share_failure(
                            &self.lockout_identities,
                            c.clone(),
                            format!("id:{c}"),
                            *policy,
                        );
                    }
                    if let FailureOutcome::LockedOut(_) =
                        self.lockout_ips.fail(&ex.client_ip, policy)
                    {
                        self.event(
                            ex,
                            EventKind::LockedOut,
                            "ip_locked",
                            Some(name),
                            claimed.as_deref(),
                        );
                    }
                    if let Some(c) = &claimed {
                        if let FailureOutcome::LockedOut(_) =
                            self.lockout_identities.fail(c, policy)
                        {
                            self.event(
                                ex,
                                EventKind::LockedOut,
                                "identity_locked",
                                Some(name),
                                Some(c),
                            );
                        }
                    }
                }
                self.event(
                    ex,
                    EventKind::AuthenticationFailed,
                    f.reason,
                    Some(name),
                    claimed.as_deref(),
                );
                self.unauthenticated(Some((provider, "invalid_token")))
            }
        }
    }

    fn forward_identity(&self, ex: &mut Exchange<'_>, provider: &Provider, p: &Principal) {
        let headers = &mut ex.request.headers;
        if !self.auth.forward_token {
            if let Some(h) = provider.credential_header() {
                headers.remove(h);
            }
        }
        let ids = &self.auth.identity_headers;
        let values = p.identity_values();
        for (name, value) in [
            (&ids.subject, &values.subject),
            (&ids.provider, &values.provider),
            (&ids.roles, &values.roles),
            (&ids.scopes, &values.scopes),
        ] {
            if let (Some(name), Some(value)) = (name, value) {
                headers.insert(name.clone(), value.clone());
            }
        }
    }
}

impl Stage for Authenticate {
    fn name(&self) -> &'static str {
        "authenticate"
    }

    fn on_request<'a>(&'a self, ex: &'a mut Exchange<'_>) -> Step<'a> {
        for name in self.auth.identity_headers.names() {
            ex.request.headers.remove(name);
        }
        if self.anonymous {
            return Step::Done(Flow::Continue);
        }
        if let Some(left) = self.lockout_ips.locked(&ex.client_ip) {
            self.event(ex, EventKind::LockedOut, "ip_locked", None, None);
            return Step::Done(self.locked_out(left));
        }
        let found = self.allowed.iter().find_map(|&i| {
            let p = &self.auth.providers[i];
            p.presented(ex.request, ex.client_cert, self.jwt_by_issuer)
                .map(|c| (p, c))
        });
        let Some((provider, presented)) = found else {
            self.event(
                ex,
                EventKind::AuthenticationFailed,
                "missing_credential",
                None,
                None,
            );
            return Step::Done(self.unauthenticated(None));
        };
        let claimed = provider.claimed_identity(&presented);
        if let Some(c) = &claimed {
            if let Some(left) = self.lockout_identities.locked(c) {
                self.event(
                    ex,
                    EventKind::LockedOut,
                    "identity_locked",
                    Some(provider.name()),
                    Some(c),
                );
                return Step::Done(self.locked_out(left));
            }
        }
        if let Some(result) = provider.verify_now(&presented) {
            return Step::Done(self.conclude(ex, provider, claimed, result));
        }
        let owned = Owned::from(&presented);
        Step::Wait(Box::pin(async move {
            let result = provider.verify(&owned.presented()).await;
            self.conclude(ex, provider, claimed, result)
        }))
    }
}
