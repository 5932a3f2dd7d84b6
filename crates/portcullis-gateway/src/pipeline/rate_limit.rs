//! Rate limits (GCRA) on a route: global ones, the API's and the route's own, each with its key
//! (client IP, principal, API key, route, a header, or a combination) and counter scope. Runs
//! after authentication so limits can count per principal.
//!
//! An exhausted limit is a 429 with `Retry-After`; every answer carries the rate-limit headers
//! of the API's styles (IETF `RateLimit-Policy`/`RateLimit`, and `X-RateLimit-*`) for the
//! tightest limit. When the backend (Redis) cannot answer, each limit does what its `fail` says:
//! `closed` refuses with 503, `open` lets the request through; both are counted and logged.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::header::{self, HeaderName, HeaderValue};

use super::limit_key::{self, parse_key, KeyPart};
use super::{Answer, Exchange, Flow, Stage, StageContext, Step};
use crate::config::model::{
    ApiConfig, FailMode, LimitScope, RateLimitConfig, RateLimitHeaderStyle, RouteConfig,
};
use crate::metrics::Metrics;
use crate::problem::Refusal;
use crate::security_events::{EventKind, SecurityEvent, SecurityEvents};
use crate::state::gcra::{Decision, Policy};
use crate::state::limiter::Limiter;
use crate::state::lockout::{FailureOutcome, Lockout, LockoutPolicy};
use std::net::IpAddr;

/// One compiled limit.
struct Limit {
    /// Counter namespace: scope and name.
    counter: String,
    name: String,
    key: Vec<KeyPart>,
    policy: Policy,
    fail: FailMode,
    /// Throttling: longest wait (µs) and most waiters per key.
    delay: Option<(u64, usize)>,
}

/// The rate-limit stage of one route.
pub struct RateLimit {
    limits: Vec<Limit>,
    limiter: Arc<Limiter>,
    styles: Vec<RateLimitHeaderStyle>,
    policy_header: Option<HeaderValue>,
    route: Arc<str>,
    metrics: Arc<Metrics>,
    last_warning: AtomicU64,
    epoch: Instant,
    waiting: Waiting,
    bans: Option<(Arc<Lockout<IpAddr>>, LockoutPolicy)>,
    ban_store: Option<Arc<crate::state::ban_store::BanStore>>,
    events: Arc<SecurityEvents>,
    api: Arc<str>,
}

/// Requests waiting for their turn, per key (bounded).
#[derive(Default)]
struct Waiting(Mutex<HashMap<String, usize>>);

/// A place in a key's waiting line, given back on drop.
struct Place<'a> {
    waiting: &'a Waiting,
    key: String,
}

impl Waiting {
    fn enter(&self, key: &str, max: usize) -> Option<Place<'_>> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(key.to_owned()).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(Place {
            waiting: self,
            key: key.to_owned(),
        })
    }
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        let mut map = self.waiting.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.key);
            }
        }
    }
}

/// Parses `N/s`, `N/m`, `N/h`, `N/d`.
pub fn parse_rate(text: &str) -> Result<(u64, Duration), String> {
    let err = || format!("rate {text:?}: write N/s, N/m, N/h or N/d (e.g. 10/s)");
    let (n, unit) = text.trim().split_once('/').ok_or_else(err)?;
    let n: u64 = n.trim().parse().map_err(|_| err())?;
    let period = match unit.trim() {
        "s" | "sec" | "second" => Duration::from_secs(1),
        "m" | "min" | "minute" => Duration::from_secs(60),
        "h" | "hour" => Duration::from_secs(3600),
        "d" | "day" => Duration::from_secs(86_400),
        _ => return Err(err()),
    };
    if n == 0 || n > 1_000_000_000 {
        return Err(format!("rate {text:?}: N must be between 1 and 1e9"));
    }
    Ok((n, period))
}

impl RateLimit {
    /// The stage for a route: global, API and route limits. `None` when there are none. Errors
    /// carry the config key (relative to the route when the limit is the route's).
    pub fn new(
        api: &ApiConfig,
        route: &RouteConfig,
        ctx: &StageContext<'_>,
    ) -> Result<Option<Self>, (String, String)> {
        let levels: [(&[RateLimitConfig], LimitScope, &str); 3] = [
            (
                ctx.global_rate_limits,
                LimitScope::Global,
                "global.rate_limits",
            ),
            (&api.rate_limits[..], LimitScope::Api, "api.rate_limits"),
            (&route.rate_limits[..], LimitScope::Route, "rate_limits"),
        ];
        let mut limits = Vec::new();
        for (configs, default_scope, at) in levels {
            for (i, c) in configs.iter().enumerate() {
                let here = |m: String| (format!("{at}.{i}"), m);
                let (rate, period) = parse_rate(&c.rate).map_err(here)?;
                let key = parse_key(&c.key).map_err(here)?;
                let burst = c.burst.unwrap_or(rate);
                if burst == 0 {
                    return Err(here("burst must be at least 1".into()));
                }
                let name = c.name.clone().unwrap_or_else(|| {
                    format!("{}-{}", c.key.join("+"), c.rate.replace('/', "-per-"))
                });
                let counter = match c.scope.unwrap_or(default_scope) {
                    LimitScope::Global => format!("g:{name}"),
                    LimitScope::Api => format!("a:{}:{name}", ctx.api),
                    _ => format!("r:{}:{}:{name}", ctx.api, ctx.route),
                };
                limits.push(Limit {
                    counter,
                    name,
                    key,
                    policy: Policy {
                        rate,
                        period,
                        burst,
                    },
                    fail: c.fail,
                    delay: c.delay.map(|d| (d.0.as_micros() as u64, c.queue)),
                });
            }
        }
        if limits.is_empty() {
            return Ok(None);
        }
        let policy_header = limits
            .iter()
            .map(|l| {
                let window = (l.policy.interval_us() * l.policy.burst)
                    .div_ceil(1_000_000)
                    .max(1);
                format!("\"{}\";q={};w={window}", sanitize(&l.name), l.policy.burst)
            })
            .collect::<Vec<_>>()
            .join(", ");
        Ok(Some(Self {
            limits,
            limiter: ctx.services.limiter.clone(),
            styles: api.rate_limit_headers.clone(),
            policy_header: HeaderValue::from_str(&policy_header).ok(),
            route: ctx.route.clone(),
            metrics: ctx.services.metrics.clone(),
            last_warning: AtomicU64::new(0),
            epoch: Instant::now(),
            waiting: Waiting::default(),
            bans: ctx.ban_policy.map(|p| (ctx.services.bans.clone(), p)),
            ban_store: ctx.services.ban_store.clone(),
            events: ctx.services.events.clone(),
            api: ctx.api.clone(),
        }))
    }

    fn key(&self, limit: &Limit, ex: &Exchange<'_>) -> String {
        limit_key::build(&limit.counter, &limit.key, &self.route, ex)
    }

    /// Applies the decisions (in limit order) to the exchange.
    fn conclude(
        &self,
        ex: &mut Exchange<'_>,
        decisions: impl Iterator<Item = (usize, Result<Decision, String>)>,
    ) -> Flow {
        let mut tightest: Option<(usize, Decision)> = None;
        for (i, result) in decisions {
            let limit = &self.limits[i];
            let decision = match result {
                Ok(d) => d,
                Err(e) => {
                    let fail = match limit.fail {
                        FailMode::Open => "open",
                        _ => "closed",
                    };
                    self.metrics.limiter_failure(self.limiter.backend(), fail);
                    self.warn(&limit.name, fail, &e);
                    if limit.fail == FailMode::Open {
                        continue;
                    }
                    return Flow::Respond(
                        Answer::from(Refusal::RateLimitUnavailable)
                            .with_header(header::RETRY_AFTER, "1"),
                    );
                }
            };
            if !decision.allowed {
                self.count_violation(ex);
                let mut answer = Answer::from(Refusal::RateLimited).with_header(
                    header::RETRY_AFTER,
                    &decision
                        .retry_after_us
                        .div_ceil(1_000_000)
                        .max(1)
                        .to_string(),
                );
                self.headers(&mut answer.headers, limit, &decision);
                return Flow::Respond(answer);
            }
            if tightest.is_none_or(|(_, t)| decision.remaining < t.remaining) {
                tightest = Some((i, decision));
            }
        }
        if let Some((i, d)) = tightest {
            let mut headers = std::mem::take(&mut ex.response_headers);
            self.headers(&mut headers, &self.limits[i], &d);
            ex.response_headers = headers;
        }
        Flow::Continue
    }

    fn headers(&self, out: &mut Vec<(HeaderName, HeaderValue)>, limit: &Limit, d: &Decision) {
        let reset = d.reset_us.div_ceil(1_000_000);
        for style in &self.styles {
            match style {
                RateLimitHeaderStyle::Ietf => {
                    if let Some(p) = &self.policy_header {
                        out.push((HeaderName::from_static("ratelimit-policy"), p.clone()));
                    }
                    let value =
                        format!("\"{}\";r={};t={reset}", sanitize(&limit.name), d.remaining);
                    if let Ok(v) = HeaderValue::from_str(&value) {
                        out.push((HeaderName::from_static("ratelimit"), v));
                    }
                }
                _ => {
                    out.push((
                        HeaderName::from_static("x-ratelimit-limit"),
                        limit.policy.burst.into(),
                    ));
                    out.push((
                        HeaderName::from_static("x-ratelimit-remaining"),
                        d.remaining.into(),
                    ));
                    out.push((HeaderName::from_static("x-ratelimit-reset"), reset.into()));
                }
            }
        }
    }

    /// A refusal counts towards a ban of the client IP.
    fn count_violation(&self, ex: &Exchange<'_>) {
        let Some((bans, policy)) = &self.bans else {
            return;
        };
        self.limiter
            .share_failure(bans, ex.client_ip, format!("ban:{}", ex.client_ip), *policy);
        if let FailureOutcome::LockedOut(duration) = bans.fail(&ex.client_ip, policy) {
            let _ = crate::state::ban_store::persist_ban(
                self.ban_store.as_ref(),
                ex.client_ip,
                duration,
            );
            self.events.emit(&SecurityEvent {
                kind: EventKind::Banned,
                reason: "rate_limit_violations",
                api: &self.api,
                route: &self.route,
                client_ip: ex.client_ip,
                request_id: ex.request_id,
                provider: None,
                principal: ex.principal.as_ref().map(|p| p.id.as_str()),
                detail: None,
                waf: None,
            });
        }
    }

    /// Checks `key`; over the limit with throttling, waits for the turn (bounded in time and in
    /// waiters per key) and checks again.
    async fn check_or_wait(&self, limit: &Limit, key: &str) -> Result<Decision, String> {
        let d = self
            .limiter
            .check(key, &limit.policy)
            .await
            .map_err(|e| e.to_string())?;
        let Some((max_wait, queue)) = limit.delay else {
            return Ok(d);
        };
        if d.allowed || d.retry_after_us > max_wait {
            return Ok(d);
        }
        let Some(_place) = self.waiting.enter(key, queue) else {
            return Ok(d);
        };
        tokio::time::sleep(Duration::from_micros(d.retry_after_us)).await;
        self.limiter
            .check(key, &limit.policy)
            .await
            .map_err(|e| e.to_string())
    }

    /// Logs a backend failure at most once per second per route.
    fn warn(&self, limit: &str, fail: &str, error: &str) {
        let now = self.epoch.elapsed().as_secs() + 1;
        if self.last_warning.swap(now, Ordering::Relaxed) != now {
            tracing::warn!(
                event = "rate_limit_backend_failed",
                route = %self.route,
                limit,
                fail,
                "{error}"
            );
        }
    }
}

/// A name safe inside a structured-field string.
fn sanitize(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_graphic() && *c != '"' && *c != '\\')
        .collect()
}

impl Stage for RateLimit {
    fn name(&self) -> &'static str {
        "rate_limit"
    }

    fn on_request<'a>(&'a self, ex: &'a mut Exchange<'_>) -> Step<'a> {
        let throttles = self.limits.iter().any(|l| l.delay.is_some());
        if matches!(*self.limiter, Limiter::Memory(_)) && !throttles {
            let decisions: Vec<(usize, Result<Decision, String>)> = self
                .limits
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    let key = self.key(l, ex);
                    let d = self.limiter.check_now(&key, &l.policy);
                    (i, d.ok_or_else(|| "backend needs to wait".to_owned()))
                })
                .collect();
            return Step::Done(self.conclude(ex, decisions.into_iter()));
        }
        let keys: Vec<String> = self.limits.iter().map(|l| self.key(l, ex)).collect();
        Step::Wait(Box::pin(async move {
            let mut decisions = Vec::with_capacity(keys.len());
            for (i, key) in keys.iter().enumerate() {
                let d = self.check_or_wait(&self.limits[i], key).await;
                let denied = matches!(&d, Ok(d) if !d.allowed);
                decisions.push((i, d));
                if denied {
                    break;
                }
            }
            self.conclude(ex, decisions.into_iter())
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_keys_parse_or_say_why() {
        assert_eq!(parse_rate("10/s"), Ok((10, Duration::from_secs(1))));
        assert_eq!(
            parse_rate(" 1000 / h "),
            Ok((1000, Duration::from_secs(3600)))
        );
        assert!(parse_rate("10").is_err());
        assert!(parse_rate("0/s").is_err());
        assert!(parse_rate("ten/s").is_err());
        assert!(parse_rate("10/w").is_err());
        assert_eq!(
            parse_key(&["ip".into(), "header:X-Tenant".into()]),
            Ok(vec![
                KeyPart::Ip,
                KeyPart::Header(HeaderName::from_static("x-tenant"))
            ])
        );
        assert!(parse_key(&[]).is_err());
        assert!(parse_key(&["cookie".into()]).is_err());
    }
}
