//! The JSON access log: one line per request, written off the request path.
//!
//! Lines are formatted on the request's task and handed to a writer thread through a bounded
//! channel; when the channel is full the line is dropped and counted, never blocking a request.
//! What is logged is fixed by [`PendingEntry`]: no header values at all (so no Authorization,
//! Cookie or API key can appear) and the path without its query string (query strings carry
//! tokens more often than they should).

use std::io::Write;
use std::net::IpAddr;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;
use serde::Serialize;
use tokio::time::Instant;

/// Lines waiting for the writer beyond which new lines are dropped (and counted).
const QUEUE_LINES: usize = 16 * 1024;

/// Where access-log lines go.
pub struct AccessLog {
    sender: Option<SyncSender<Vec<u8>>>,
    dropped: Counter,
}

impl AccessLog {
    /// A log writing to `path` (`stdout` or a file, appended). `None`: logging disabled.
    pub fn open(path: Option<&str>, dropped: Counter) -> std::io::Result<Arc<Self>> {
        let Some(path) = path else {
            return Ok(Arc::new(Self {
                sender: None,
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
        let (tx, rx) = sync_channel(QUEUE_LINES);
        std::thread::Builder::new()
            .name("portcullis-access-log".into())
            .spawn(move || write_lines(rx, out))?;
        Ok(Arc::new(Self {
            sender: Some(tx),
            dropped,
        }))
    }

    fn write(&self, line: Vec<u8>) {
        if let Some(tx) = &self.sender {
            if let Err(TrySendError::Full(_)) = tx.try_send(line) {
                self.dropped.inc();
            }
        }
    }
}

fn write_lines(rx: Receiver<Vec<u8>>, out: Box<dyn Write + Send>) {
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, out);
    while let Ok(line) = rx.recv() {
        let _ = out.write_all(&line);
        while let Ok(line) = rx.try_recv() {
            let _ = out.write_all(&line);
        }
        let _ = out.flush();
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
#[derive(Serialize)]
pub struct Record {
    /// Time the request arrived (RFC 3339, UTC), filled in when the entry is created.
    pub time: String,
    /// The request id (generated or a validated client one).
    pub request_id: String,
    /// Client IP (after trusted-proxy processing).
    pub client_ip: Option<IpAddr>,
    /// Listener name.
    pub listener: Arc<str>,
    /// HTTP version.
    pub protocol: &'static str,
    /// Request method.
    pub method: String,
    /// Path without the query string.
    pub path: String,
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

impl PendingEntry {
    /// Starts an entry; `latency` receives the total duration when it completes.
    pub fn new(
        log: Arc<AccessLog>,
        latency: Option<Histogram>,
        started: Instant,
        mut record: Record,
    ) -> Box<Self> {
        record.time =
            humantime::format_rfc3339_millis(SystemTime::now() - started.elapsed()).to_string();
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
        if self.log.sender.is_none() {
            return;
        }
        self.record.duration_ms = (elapsed.as_secs_f64() * 1e6).round() / 1e3;
        self.record.completed = self.complete;
        let mut line = Vec::with_capacity(384);
        if serde_json::to_writer(&mut line, &self.record).is_ok() {
            line.push(b'\n');
            self.log.write(line);
        }
    }
}
