//! The JSON access log: one line per request, written off the request path.
//!
//! A request serializes its line into a shared buffer (a short, uncontended lock, no syscall, no
//! wake-up); a writer thread swaps the buffer out every [`FLUSH_EVERY`] and writes it in one go.
//! When the buffer already holds [`MAX_PENDING_BYTES`] the line is dropped and counted, so a
//! stuck disk never blocks or bloats the gateway.
//! What is logged is fixed by [`PendingEntry`]: no header values at all (so no Authorization,
//! Cookie or API key can appear) and the path without its query string (query strings carry
//! tokens more often than they should).

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::json_line::JsonLine;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;
use tokio::time::Instant;

/// How often the writer thread writes what accumulated.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Bytes waiting for the writer beyond which new lines are dropped (and counted).
pub const MAX_PENDING_BYTES: usize = 8 * 1024 * 1024;

/// Where access-log lines go.
pub struct AccessLog {
    pending: Option<Arc<Mutex<Vec<u8>>>>,
    dropped: Counter,
}

impl AccessLog {
    /// A log writing to `path` (`stdout` or a file, appended). `None`: logging disabled.
    pub fn open(path: Option<&str>, dropped: Counter) -> std::io::Result<Arc<Self>> {
        let Some(path) = path else {
            return Ok(Arc::new(Self {
                pending: None,
                dropped,
            }));
        };
        let out: Box<dyn Write + Send> = if path == "stdout" {
            Box::new(std::io::stdout())
        } else {
            Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?,
            )
        };
        let pending = Arc::new(Mutex::new(Vec::with_capacity(64 * 1024)));
        let weak = Arc::downgrade(&pending);
        std::thread::Builder::new()
            .name("portcullis-access-log".into())
            .spawn(move || write_lines(weak, out))?;
        Ok(Arc::new(Self {
            pending: Some(pending),
            dropped,
        }))
    }

    fn write(&self, record: &Record) {
        let Some(pending) = &self.pending else { return };
        let mut buf = pending.lock().unwrap_or_else(|p| p.into_inner());
        if buf.len() >= MAX_PENDING_BYTES {
            drop(buf);
            self.dropped.inc();
            return;
        }
        record.write_json(&mut buf);
    }
}

/// Writes what accumulated every [`FLUSH_EVERY`]; ends (after a last write) when the log is
/// dropped.
fn write_lines(pending: std::sync::Weak<Mutex<Vec<u8>>>, mut out: Box<dyn Write + Send>) {
    let mut spare = Vec::with_capacity(64 * 1024);
    loop {
        std::thread::sleep(FLUSH_EVERY);
        let Some(shared) = pending.upgrade() else {
            return;
        };
        {
            let mut buf = shared.lock().unwrap_or_else(|p| p.into_inner());
            std::mem::swap(&mut *buf, &mut spare);
        }
        drop(shared);
        if !spare.is_empty() {
            let _ = out.write_all(&spare);
            let _ = out.flush();
            spare.clear();
        }
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
        if self.log.pending.is_none() {
            return;
        }
        self.record.duration_ms = elapsed.as_secs_f64() * 1e3;
        self.record.completed = self.complete;
        self.log.write(&self.record);
    }
}
