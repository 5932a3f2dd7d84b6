//! Client IP allow and deny lists (CIDR), global and per route. Deny wins; a non-empty allow
//! list refuses every address outside it. Runs first, before any credential is looked at.

use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;

use super::{Exchange, Flow, Stage, StageContext, Step};
use crate::config::model::IpFilterConfig;
use crate::problem::Refusal;
use crate::security_events::{EventKind, SecurityEvent, SecurityEvents};

/// Parsed allow and deny lists.
#[derive(Debug, Clone, Default)]
pub struct IpLists {
    /// Allowed networks (empty: all).
    pub allow: Vec<IpNet>,
    /// Denied networks.
    pub deny: Vec<IpNet>,
}

impl IpLists {
    /// Parses a config block; errors name the bad entry.
    pub fn parse(cfg: &IpFilterConfig) -> Result<Self, String> {
        let parse = |list: &[String], what: &str| {
            list.iter()
                .map(|s| {
                    s.parse::<IpNet>()
                        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                        .map_err(|_| format!("{what}: {s:?} is not an IP address or CIDR"))
                })
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Self {
            allow: parse(&cfg.allow, "allow")?,
            deny: parse(&cfg.deny, "deny")?,
        })
    }

    fn is_empty(&self) -> bool {
        self.allow.is_empty() && self.deny.is_empty()
    }

    fn permits(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        !self.deny.iter().any(|n| n.contains(&ip))
            && (self.allow.is_empty() || self.allow.iter().any(|n| n.contains(&ip)))
    }
}

/// IPv4-mapped IPv6 addresses are matched as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Refuses clients the global or route lists exclude.
pub struct IpFilter {
    global: IpLists,
    route: IpLists,
    api: Arc<str>,
    route_name: Arc<str>,
    events: Arc<SecurityEvents>,
}

impl IpFilter {
    /// The filter for a route, or `None` when neither list restricts anything.
    pub fn new(
        ctx: &StageContext<'_>,
        route: Option<&IpFilterConfig>,
    ) -> Result<Option<Self>, String> {
        let route = route.map(IpLists::parse).transpose()?.unwrap_or_default();
        if ctx.global_ip_filter.is_empty() && route.is_empty() {
            return Ok(None);
        }
        Ok(Some(Self {
            global: ctx.global_ip_filter.clone(),
            route,
            api: ctx.api.clone(),
            route_name: ctx.route.clone(),
            events: ctx.services.events.clone(),
        }))
    }
}

impl Stage for IpFilter {
    fn name(&self) -> &'static str {
        "ip_filter"
    }

    fn on_request<'a>(&'a self, ex: &'a mut Exchange<'_>) -> Step<'a> {
        if self.global.permits(ex.client_ip) && self.route.permits(ex.client_ip) {
            return Step::Done(Flow::Continue);
        }
        self.events.emit(&SecurityEvent {
            kind: EventKind::IpDenied,
            reason: "ip_not_allowed",
            api: &self.api,
            route: &self.route_name,
            client_ip: ex.client_ip,
            request_id: ex.request_id,
            provider: None,
            principal: None,
            detail: None,
            waf: None,
        });
        Step::Done(Refusal::IpDenied.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deny_wins_and_allow_restricts() {
        let lists = IpLists::parse(&IpFilterConfig {
            allow: vec!["10.0.0.0/8".into(), "127.0.0.1".into()],
            deny: vec!["10.9.0.0/16".into()],
        })
        .unwrap();
        assert!(lists.permits("10.1.2.3".parse().unwrap()));
        assert!(lists.permits("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!lists.permits("10.9.1.1".parse().unwrap()));
        assert!(!lists.permits("192.168.1.1".parse().unwrap()));
        assert!(IpLists::parse(&IpFilterConfig {
            allow: vec!["nope".into()],
            deny: vec![],
        })
        .is_err());
    }
}
