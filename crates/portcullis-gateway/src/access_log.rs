//! The JSON access log: one line per request, written off the request path.
//!
//! Lines go through a [`LineSink`]: serialized into a shared buffer on the request path, written
//! by a thread off it.
//! What is logged is fixed by [`PendingEntry`]: no header values at all (so no Authorization,
//! Cookie or API key can appear) and the path without its query string (query strings carry
//! tokens more often than they should).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::json_line::JsonLine;
use crate::line_sink::LineSink;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;
use tokio::time::Instant;

/// Where access-log lines go.
pub struct AccessLog {
    sink: LineSink,
}

impl AccessLog {
    /// A log writing to `path` (`stdout` or a file, appended). `None`: logging disabled.
    pub fn open(path: Option<&str>, dropped: Counter) -> std::io::Result<Arc<Self>> {
        let sink = LineSink::open(path.map(Path::new), "access-log", dropped)?;
        Ok(Arc::new(Self { sink }))
    }

    fn write(&self, record: &Record) {
        self.sink.write(|buf| record.write_json(buf));
    }
}

/// One request's log line, completed when its response body is done (or the client leaves).
pub struct PendingEntry {
    log: Arc<AccessLog>,
    latency: Option<Histogram>,
    started: Instant,
    record: Record,
    complete: bool,
}

/// The fields of a log line that are known before the body is sent.
pub struct Record {
    /// Time the request arrived, filled in when the entry is created.
    pub time: SystemTime,
    /// The request id (generated or a validated client one).
    pub request_id: crate::forwarding::RequestId,
    /// Client IP (after trusted-proxy processing), as text.
    pub client_ip: Arc<str>,
    /// Listener name.
    pub listener: Arc<str>,
    /// HTTP version.
    pub protocol: &'static str,
    /// Request method.
    pub method: http::Method,
    /// The request target; only its path (at most 512 bytes) is logged, never the query.
    pub path: http::Uri,
    /// Response status.
    pub status: u16,
    /// API name, when a route matched.
    pub api: Option<Arc<str>>,
    /// Route name, when a route matched.
    pub route: Option<Arc<str>>,
    /// Upstream target that answered.
    pub upstream: Option<Arc<str>>,
    /// Milliseconds until the upstream's response headers arrived.
    pub upstream_ms: Option<f64>,
    /// `allow`, or the refusal code.
    pub decision: &'static str,
    /// Body bytes sent to the client (filled in at the end).
    pub bytes_sent: u64,
    /// Milliseconds from arrival to the last body byte (filled in at the end).
    pub duration_ms: f64,
    /// False when the client went away before the body was complete.
    pub completed: bool,
}

impl Record {
    /// Appends this record as one JSON line (field names are the documented log schema).
    fn write_json(&self, buf: &mut Vec<u8>) {
        let mut line = JsonLine::new(buf);
        line.time("time", self.time);
        line.str("request_id", self.request_id.as_str());
        line.str("client_ip", &self.client_ip);
        line.str("listener", &self.listener);
        line.str("protocol", self.protocol);
        line.str("method", self.method.as_str());
        line.str("path", truncate(self.path.path(), 512));
        line.u64("status", u64::from(self.status));
        line.opt_str("api", self.api.as_deref());
        line.opt_str("route", self.route.as_deref());
        line.opt_str("upstream", self.upstream.as_deref());
        match self.upstream_ms {
            Some(ms) => line.millis("upstream_ms", ms),
            None => line.opt_str("upstream_ms", None),
        }
        line.str("decision", self.decision);
        line.u64("bytes_sent", self.bytes_sent);
        line.millis("duration_ms", self.duration_ms);
        line.bool("completed", self.completed);
        line.finish();
    }
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl PendingEntry {
    /// Starts an entry; `latency` receives the total duration when it completes.
    pub fn new(
        log: Arc<AccessLog>,
        latency: Option<Histogram>,
        started: Instant,
        mut record: Record,
    ) -> Box<Self> {
        record.time = SystemTime::now() - started.elapsed();
        Box::new(Self {
            log,
            latency,
            started,
            record,
            complete: false,
        })
    }

    /// Counts body bytes sent.
    pub fn add_bytes(&mut self, n: u64) {
        self.record.bytes_sent += n;
    }

    /// The body reached its end.
    pub fn mark_complete(&mut self) {
        self.complete = true;
    }
}

impl Drop for PendingEntry {
    fn drop(&mut self) {
        let elapsed: Duration = self.started.elapsed();
        if let Some(h) = &self.latency {
            h.observe(elapsed.as_secs_f64());
        }
        if !self.log.sink.is_enabled() {
            return;
        }
        self.record.duration_ms = elapsed.as_secs_f64() * 1e3;
        self.record.completed = self.complete;
        self.log.write(&self.record);
    }
}
