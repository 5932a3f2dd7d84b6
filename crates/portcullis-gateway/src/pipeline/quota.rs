//! Quotas: at most `limit` requests per calendar day, week or month per key (principal, API
//! key, ...), counted in the state backend (embedded and persisted, or Redis). A used-up quota
//! is a 429 `quota-exceeded` with `Retry-After` until the period ends. When the backend cannot
//! answer, the request is refused (503), as quotas guard paid or scarce resources.

use std::sync::Arc;

use http::header;

use super::limit_key::{self, parse_key, KeyPart};
use super::{Answer, Exchange, Flow, Stage, StageContext, Step};
use crate::config::model::{ApiConfig, QuotaConfig, QuotaPeriod, RouteConfig};
use crate::problem::Refusal;
use crate::state::calendar::{self, parse_zone, Period, Zone};
use crate::state::limiter::Limiter;
use crate::state::quota_store::QuotaStore;

struct Quota {
    counter: String,
    key: Vec<KeyPart>,
    limit: u64,
    period: Period,
    zone: Zone,
}

/// The quota stage of one route.
pub struct Quotas {
    quotas: Vec<Quota>,
    limiter: Arc<Limiter>,
    store: Arc<QuotaStore>,
    route: Arc<str>,
}

impl Quotas {
    /// The stage for a route's API and route quotas; `None` when there are none.
    pub fn new(
        api: &ApiConfig,
        route: &RouteConfig,
        ctx: &StageContext<'_>,
    ) -> Result<Option<Self>, (String, String)> {
        let mut quotas = Vec::new();
        let levels: [(&[QuotaConfig], &str, bool); 2] = [
            (&api.quotas, "api.quotas", false),
            (&route.quotas, "quotas", true),
        ];
        for (configs, at, per_route) in levels {
            for (i, c) in configs.iter().enumerate() {
                let here = |m: String| (format!("{at}.{i}"), m);
                let key = parse_key(&c.key).map_err(here)?;
                let zone = parse_zone(&c.time_zone).map_err(here)?;
                if c.limit == 0 {
                    return Err(here("limit must be at least 1".into()));
                }
                let period = match c.per {
                    QuotaPeriod::Day => Period::Day,
                    QuotaPeriod::Week => Period::Week,
                    _ => Period::Month,
                };
                let name = c.name.clone().unwrap_or_else(|| {
                    format!("{}-per-{:?}", c.key.join("+"), c.per).to_lowercase()
                });
                let counter = if per_route {
                    format!("q:{}:{}:{name}", ctx.api, ctx.route)
                } else {
                    format!("q:{}:{name}", ctx.api)
                };
                quotas.push(Quota {
                    counter,
                    key,
                    limit: c.limit,
                    period,
                    zone,
                });
            }
        }
        if quotas.is_empty() {
            return Ok(None);
        }
        Ok(Some(Self {
            quotas,
            limiter: ctx.services.limiter.clone(),
            store: ctx.services.quotas.clone(),
            route: ctx.route.clone(),
        }))
    }
}

impl Stage for Quotas {
    fn name(&self) -> &'static str {
        "quota"
    }

    fn on_request<'a>(&'a self, ex: &'a mut Exchange<'_>) -> Step<'a> {
        let now = crate::state::key_store::unix_now() as i64;
        let keys: Vec<(String, i64)> = self
            .quotas
            .iter()
            .map(|q| {
                let (period_id, end) = calendar::current_in(q.period, now, &q.zone);
                let mut key = limit_key::build(&q.counter, &q.key, &self.route, ex);
                key.push('|');
                key.push_str(&period_id);
                (key, end)
            })
            .collect();
        Step::Wait(Box::pin(async move {
            for (q, (key, end)) in self.quotas.iter().zip(&keys) {
                match self
                    .limiter
                    .take_quota(&self.store, key, q.limit, *end)
                    .await
                {
                    Ok((true, _)) => {}
                    Ok((false, _)) => {
                        let wait = (end - now).max(1);
                        return Flow::Respond(
                            Answer::from(Refusal::QuotaExceeded)
                                .with_header(header::RETRY_AFTER, &wait.to_string()),
                        );
                    }
                    Err(e) => {
                        tracing::warn!(event = "quota_backend_failed", route = %self.route, "{e}");
                        return Flow::Respond(
                            Answer::from(Refusal::RateLimitUnavailable)
                                .with_header(header::RETRY_AFTER, "1"),
                        );
                    }
                }
            }
            Flow::Continue
        }))
    }
}
