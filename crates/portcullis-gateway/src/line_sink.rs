//! A JSON-lines destination written off the request path: the access log and the security
//! event stream both use it.
//!
//! A request serializes its line into a shared buffer (a short, uncontended lock, no syscall, no
//! wake-up); a writer thread swaps the buffer out every [`FLUSH_EVERY`] and writes it in one go.
//! When the buffer already holds [`MAX_PENDING_BYTES`] the line is dropped and counted, so a
//! stuck disk never blocks or bloats the gateway.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;

/// How often the writer thread writes what accumulated.
pub const FLUSH_EVERY: Duration = Duration::from_millis(10);
/// Bytes waiting for the writer beyond which new lines are dropped (and counted).
pub const MAX_PENDING_BYTES: usize = 8 * 1024 * 1024;

/// Where lines go: `stdout`, `stderr` or a file (appended). A disabled sink drops everything.
pub struct LineSink {
    pending: Option<Arc<Mutex<Vec<u8>>>>,
    dropped: Counter,
}

impl LineSink {
    /// A sink writing to `path` (`stdout`, `stderr` or a file). `None`: disabled.
    pub fn open(path: Option<&Path>, name: &str, dropped: Counter) -> std::io::Result<Self> {
        let Some(path) = path else {
            return Ok(Self::disabled(dropped));
        };
        let out: Box<dyn Write + Send> = match path.to_str() {
            Some("stdout") => Box::new(std::io::stdout()),
            Some("stderr") => Box::new(std::io::stderr()),
            _ => Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?,
            ),
        };
        let pending = Arc::new(Mutex::new(Vec::with_capacity(64 * 1024)));
        let weak = Arc::downgrade(&pending);
        std::thread::Builder::new()
            .name(format!("portcullis-{name}"))
            .spawn(move || write_lines(weak, out))?;
        Ok(Self {
            pending: Some(pending),
            dropped,
        })
    }

    /// A sink that drops every line.
    pub fn disabled(dropped: Counter) -> Self {
        Self {
            pending: None,
            dropped,
        }
    }

    /// True when lines are written somewhere.
    pub fn is_enabled(&self) -> bool {
        self.pending.is_some()
    }

    /// Appends one line, serialized by `write` into the shared buffer.
    pub fn write(&self, write: impl FnOnce(&mut Vec<u8>)) {
        let Some(pending) = &self.pending else { return };
        let mut buf = pending.lock().unwrap_or_else(|p| p.into_inner());
        if buf.len() >= MAX_PENDING_BYTES {
            drop(buf);
            self.dropped.inc();
            return;
        }
        write(&mut buf);
    }
}

/// Writes what accumulated every [`FLUSH_EVERY`]; ends (after a last write) when the sink is
/// dropped.
fn write_lines(pending: Weak<Mutex<Vec<u8>>>, mut out: Box<dyn Write + Send>) {
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
