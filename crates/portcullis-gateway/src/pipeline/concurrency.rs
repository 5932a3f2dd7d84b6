//! Concurrency limits: at most `max` requests of a route in flight, at most `per_ip` of them from
//! one client IP, and at most `max_in_flight` to an upstream (shared by its routes). A request
//! over a limit gets 503 `overloaded` with `Retry-After: 1`; its slot is held until its response
//! is done (or abandoned). Runs first: an overloaded route spends nothing on the request.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use http::header;

use super::{Answer, Exchange, Flow, Stage, StageContext, Step};
use crate::config::model::RouteConfig;
use crate::problem::Refusal;

/// An in-flight counter with a cap.
#[derive(Debug)]
pub struct InFlight {
    count: AtomicUsize,
    max: usize,
}

impl InFlight {
    /// A counter allowing `max` at once.
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            count: AtomicUsize::new(0),
            max,
        })
    }

    /// A slot, or `None` when full.
    fn enter(self: &Arc<Self>) -> Option<Slot> {
        let previous = self.count.fetch_add(1, Ordering::AcqRel);
        if previous >= self.max {
            self.count.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Slot(self.clone()))
    }
}

/// A held slot; released on drop.
struct Slot(Arc<InFlight>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.count.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Requests in flight per client IP.
#[derive(Debug, Default)]
struct PerIp(Mutex<HashMap<IpAddr, usize>>);

/// A held per-IP slot; released on drop.
struct IpSlot(Arc<PerIp>, IpAddr);

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut map = self.0 .0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.1) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.1);
            }
        }
    }
}

/// The concurrency stage of one route.
pub struct Concurrency {
    route: Option<Arc<InFlight>>,
    per_ip: Option<(Arc<PerIp>, usize)>,
    upstream: Option<Arc<InFlight>>,
}

impl Concurrency {
    /// The stage for `route`, or `None` when nothing caps it.
    pub fn new(route: &RouteConfig, ctx: &StageContext<'_>) -> Option<Self> {
        let c = route.concurrency.as_ref();
        let stage = Self {
            route: c.and_then(|c| c.max).map(InFlight::new),
            per_ip: c
                .and_then(|c| c.per_ip)
                .map(|n| (Arc::new(PerIp::default()), n)),
            upstream: ctx.upstream_in_flight.clone(),
        };
        (stage.route.is_some() || stage.per_ip.is_some() || stage.upstream.is_some())
            .then_some(stage)
    }

    fn overloaded() -> Flow {
        Flow::Respond(Answer::from(Refusal::Overloaded).with_header(header::RETRY_AFTER, "1"))
    }
}

impl Stage for Concurrency {
    fn name(&self) -> &'static str {
        "concurrency"
    }

    fn on_request<'a>(&'a self, ex: &'a mut Exchange<'_>) -> Step<'a> {
        for counter in [&self.route, &self.upstream].into_iter().flatten() {
            match counter.enter() {
                Some(slot) => ex.guards.push(Box::new(slot)),
                None => return Step::Done(Self::overloaded()),
            }
        }
        if let Some((per_ip, max)) = &self.per_ip {
            let mut map = per_ip.0.lock().unwrap_or_else(|p| p.into_inner());
            let n = map.entry(ex.client_ip).or_insert(0);
            if *n >= *max {
                return Step::Done(Self::overloaded());
            }
            *n += 1;
            drop(map);
            ex.guards
                .push(Box::new(IpSlot(per_ip.clone(), ex.client_ip)));
        }
        Step::Done(Flow::Continue)
    }
}
