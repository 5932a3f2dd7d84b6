//! A running gateway: binds listeners, serves, reloads, and shuts down gracefully.
//!
//! Reload (file change, SIGHUP, `POST /reload`) re-reads the config file, checks it whole and
//! swaps the runtime atomically; a config that fails is refused with a log line and the old one
//! keeps serving. Listener sockets, the admin listener and the access-log destination are fixed at
//! start (changing them needs a restart, and reload says so). Certificates are re-read when their
//! files change and on SIGHUP.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::access_log::AccessLog;
use crate::config::validate::{self, parse_bind};
use crate::config::{load_file, ConfigError, Diagnostic, LoadedConfig, Secret, Severity};
use crate::listener::{self, BoundListener, ConnLimits, ConnTracker, ListenerKind};
use crate::metrics::Metrics;
use crate::proxy::Shared;
use crate::runtime::Runtime;
use crate::security_events::SecurityEvents;
use crate::services::Services;
use crate::state::key_store::KeyStore;
use crate::tls::ReloadingCert;

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The config was refused.
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// A socket could not be bound.
    #[error("cannot bind listener {name} on {addr}: {source}")]
    Bind {
        /// Listener name.
        name: String,
        /// Address.
        addr: SocketAddr,
        /// OS error.
        source: std::io::Error,
    },
    /// The access log could not be opened.
    #[error("cannot open access log: {0}")]
    AccessLog(std::io::Error),
    /// The security event log could not be opened.
    #[error("cannot open security event log: {0}")]
    SecurityEvents(std::io::Error),
    /// The state store could not be opened.
    #[error("{0}")]
    State(#[from] crate::state::key_store::StoreError),
}

/// Reloads config and certificates; shared by the admin API, signals and the file watcher.
pub struct Reloader {
    shared: Arc<Shared>,
    services: Arc<Services>,
    config_path: Option<PathBuf>,
    certs: Vec<Arc<ReloadingCert>>,
    stamp: ArcSwap<Option<(SystemTime, u64)>>,
}

impl Reloader {
    /// The services every runtime shares.
    pub fn services(&self) -> Arc<Services> {
        self.services.clone()
    }

    /// The runtime currently serving.
    pub fn runtime(&self) -> Arc<Runtime> {
        self.shared.runtime.load_full()
    }

    /// Re-reads the config file and swaps the runtime if it is valid.
    pub fn reload_config(&self) -> Result<(), ConfigError> {
        let Some(path) = &self.config_path else {
            return Ok(());
        };
        self.stamp.store(Arc::new(file_stamp(path)));
        let result = load_file(path).and_then(|loaded| compile(&loaded, &self.services));
        match result {
            Ok(rt) => {
                self.shared.runtime.store(Arc::new(rt));
                self.shared.metrics.reload(true);
                tracing::info!(event = "config_reloaded", file = %path.display(), "config reloaded");
                Ok(())
            }
            Err(e) => {
                self.shared.metrics.reload(false);
                for d in &e.diagnostics {
                    tracing::error!(event = "config_reload_refused", "{d}");
                }
                tracing::error!(
                    event = "config_reload_refused",
                    "new config refused; the previous one keeps serving"
                );
                Err(e)
            }
        }
    }

    /// Re-reads certificates whose files changed (`force`: all of them).
    pub fn reload_certs(&self, force: bool) {
        for cert in &self.certs {
            match cert.reload(force) {
                Ok(true) => {
                    tracing::info!(event = "certificate_reloaded", cert = %cert.cert_path().display(), "certificate reloaded")
                }
                Ok(false) => {}
                Err(e) => tracing::error!(
                    event = "certificate_reload_failed",
                    "{e}; the previous certificate stays in use"
                ),
            }
        }
    }

    fn config_changed(&self) -> bool {
        match &self.config_path {
            Some(p) => **self.stamp.load() != file_stamp(p),
            None => false,
        }
    }
}

fn file_stamp(path: &std::path::Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

/// A running gateway.
pub struct Gateway {
    reloader: Arc<Reloader>,
    shutdown_tx: watch::Sender<bool>,
    draining: Arc<AtomicBool>,
    tracker: Arc<ConnTracker>,
    tasks: Vec<JoinHandle<()>>,
    addrs: Vec<(String, SocketAddr)>,
    admin_addr: Option<SocketAddr>,
    drain_timeout: Duration,
}

/// How often files are checked for changes.
const WATCH_INTERVAL: Duration = Duration::from_millis(500);

impl Gateway {
    /// Checks the config, binds every listener and starts serving. `config_path` enables reload
    /// from the file.
    pub async fn start(loaded: LoadedConfig, watch_file: bool) -> Result<Self, StartError> {
        crate::tls::install_provider();
        let metrics = Arc::new(Metrics::new());
        let cfg = &loaded.config;
        let events_path = match cfg.security_events.path.as_str() {
            p @ ("stdout" | "stderr") => PathBuf::from(p),
            p => loaded.base_dir.join(p),
        };
        let events = SecurityEvents::open(
            cfg.security_events.enabled.then_some(events_path.as_path()),
            metrics.clone(),
        )
        .map_err(StartError::SecurityEvents)?;
        let key_store = match &cfg.state.path {
            Some(p) => Some(Arc::new(KeyStore::open(&loaded.base_dir.join(p))?)),
            None => None,
        };
        let limiter = crate::state::limiter::Limiter::from_config(&cfg.state, &loaded.base_dir)
            .map_err(|m| config_error(&loaded, m))?;
        let now = crate::state::key_store::unix_now() as i64;
        let quotas = match &key_store {
            Some(store) => crate::state::quota_store::QuotaStore::open(Some(store.database()), now)
                .map_err(|m| config_error(&loaded, format!("reading quota counters: {m}")))?,
            None => crate::state::quota_store::QuotaStore::in_memory(),
        };
        let services = Services::new(metrics.clone(), Arc::new(events), key_store)
            .with_limiter(limiter)
            .with_quotas(quotas);
        let ban_store = match &services.key_store {
            Some(store) => Some(
                crate::state::ban_store::BanStore::open(store.database(), &services.bans, now)
                    .map_err(|m| config_error(&loaded, format!("reading bans: {m}")))?,
            ),
            None => None,
        };
        let services = Arc::new(services.with_ban_store(ban_store));
        let runtime = compile(&loaded, &services)?;
        let log_path = match cfg.access_log.path.as_str() {
            "stdout" => "stdout".to_owned(),
            p => loaded.base_dir.join(p).display().to_string(),
        };
        let access_log = AccessLog::open(
            cfg.access_log.enabled.then_some(log_path.as_str()),
            metrics.access_log_dropped(),
        )
        .map_err(StartError::AccessLog)?;
        let shared = Arc::new(Shared {
            runtime: ArcSwap::from_pointee(runtime),
            metrics: metrics.clone(),
            access_log,
        });

        let mut bound = Vec::new();
        let mut certs = Vec::new();
        let mut addrs = Vec::new();
        for l in &cfg.listeners {
            let addr = parse_bind(&l.bind).map_err(|m| config_error(&loaded, m))?;
            let tcp = listener::bind(addr)
                .await
                .map_err(|source| StartError::Bind {
                    name: l.name.clone(),
                    addr,
                    source,
                })?;
            let local = tcp.local_addr().unwrap_or(addr);
            addrs.push((l.name.clone(), local));
            let tls = match &l.tls {
                Some(t) => {
                    let cert = Arc::new(
                        ReloadingCert::load(
                            loaded.base_dir.join(&t.cert),
                            loaded.base_dir.join(&t.key),
                        )
                        .map_err(|m| config_error(&loaded, m))?,
                    );
                    certs.push(cert.clone());
                    let client_ca = t.client_ca.as_ref().map(|p| loaded.base_dir.join(p));
                    let sc = crate::tls::server_config(t, cert.clone(), client_ca.as_deref())
                        .map_err(|m| config_error(&loaded, m))?;
                    Some((TlsAcceptor::from(Arc::new(sc)), cert))
                }
                None => None,
            };
            let kind = match &l.redirect_https {
                Some(r) => ListenerKind::RedirectHttps(r.port),
                None => ListenerKind::Proxy,
            };
            bound.push(BoundListener {
                name: Arc::from(l.name.as_str()),
                tcp,
                tls,
                kind,
            });
            tracing::info!(listener = %l.name, addr = %local, tls = l.tls.is_some(), "listening");
        }

        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let tracker = Arc::new(ConnTracker::default());
        let limits = ConnLimits::new(
            cfg.limits.max_connections,
            cfg.limits.max_connections_per_ip,
        );
        let mut tasks = Vec::new();
        for b in bound {
            tasks.push(tokio::spawn(listener::run(
                b,
                shared.clone(),
                limits.clone(),
                tracker.clone(),
                shutdown_rx.clone(),
            )));
        }

        if let Some(store) = services.key_store.clone() {
            tasks.push(tokio::spawn(flush_key_usage(store, shutdown_rx.clone())));
        }
        tasks.push(tokio::spawn(flush_quotas(
            services.quotas.clone(),
            shutdown_rx.clone(),
        )));
        let reloader = Arc::new(Reloader {
            shared: shared.clone(),
            services: services.clone(),
            config_path: watch_file.then(|| loaded.file.clone()),
            certs,
            stamp: ArcSwap::from_pointee(file_stamp(&loaded.file)),
        });
        let draining = Arc::new(AtomicBool::new(false));

        let mut admin_addr = None;
        if let Some(admin) = &cfg.admin {
            let addr = parse_bind(&admin.bind).map_err(|m| config_error(&loaded, m))?;
            let token: Secret = admin
                .token
                .resolve(&loaded.base_dir)
                .map_err(|e| config_error(&loaded, e.to_string()))?;
            let tcp = listener::bind(addr)
                .await
                .map_err(|source| StartError::Bind {
                    name: "admin".into(),
                    addr,
                    source,
                })?;
            admin_addr = Some(tcp.local_addr().unwrap_or(addr));
            tasks.push(tokio::spawn(crate::admin::serve(
                tcp,
                crate::admin::AdminState {
                    token: Arc::new(token),
                    metrics,
                    reloader: reloader.clone(),
                    draining: draining.clone(),
                },
                shutdown_rx.clone(),
            )));
        }

        tasks.push(tokio::spawn(watch_files(
            reloader.clone(),
            shutdown_rx.clone(),
        )));
        tasks.push(tokio::spawn(on_sighup(reloader.clone(), shutdown_rx)));

        Ok(Self {
            reloader,
            shutdown_tx,
            draining,
            tracker,
            tasks,
            addrs,
            admin_addr,
            drain_timeout: cfg.limits.drain_timeout.0,
        })
    }

    /// The bound address of a listener (useful with port 0).
    pub fn listener_addr(&self, name: &str) -> Option<SocketAddr> {
        self.addrs.iter().find(|(n, _)| n == name).map(|(_, a)| *a)
    }

    /// The bound address of the admin listener.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    /// The reloader (config and certificates).
    pub fn reloader(&self) -> &Arc<Reloader> {
        &self.reloader
    }

    /// Open client connections.
    pub fn active_connections(&self) -> usize {
        self.tracker.active()
    }

    /// Stops accepting, lets in-flight requests finish (up to the drain timeout), then returns.
    pub async fn shutdown(self) {
        self.draining.store(true, Ordering::SeqCst);
        let _ = self.shutdown_tx.send(true);
        tracing::info!(
            event = "draining",
            connections = self.tracker.active(),
            "shutting down: draining connections"
        );
        if tokio::time::timeout(self.drain_timeout, self.tracker.wait_idle())
            .await
            .is_err()
        {
            tracing::warn!(
                event = "drain_timeout",
                connections = self.tracker.active(),
                "drain timeout reached; closing remaining connections"
            );
        }
        for t in self.tasks {
            t.abort();
        }
    }
}

/// Runs every check on a loaded config and compiles it; errors carry their locations.
fn compile(loaded: &LoadedConfig, services: &Services) -> Result<Runtime, ConfigError> {
    let report = validate::check(loaded);
    if !report.is_ok() {
        return Err(ConfigError {
            diagnostics: loaded
                .diagnose(&report.findings)
                .into_iter()
                .filter(|d| d.severity == Severity::Error)
                .collect(),
        });
    }
    Runtime::build(loaded, services).map_err(|findings| ConfigError {
        diagnostics: loaded.diagnose(&findings),
    })
}

fn config_error(loaded: &LoadedConfig, message: String) -> StartError {
    StartError::Config(ConfigError {
        diagnostics: vec![Diagnostic {
            file: loaded.file.clone(),
            line: 0,
            column: 0,
            severity: Severity::Error,
            message,
        }],
    })
}

async fn watch_files(reloader: Arc<Reloader>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(WATCH_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        if reloader.config_changed() {
            let _ = reloader.reload_config();
        }
        reloader.reload_certs(false);
    }
}

/// How often API key last-used times are written.
const KEY_USAGE_FLUSH: Duration = Duration::from_secs(10);

async fn flush_key_usage(store: Arc<KeyStore>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(KEY_USAGE_FLUSH);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        let store = store.clone();
        let flushed = tokio::task::spawn_blocking(move || store.flush_last_used()).await;
        if let Ok(Err(e)) = flushed {
            tracing::warn!(event = "key_usage_flush_failed", "{e}");
        }
    }
}

/// How often quota counters are written to the state file.
const QUOTA_FLUSH: Duration = Duration::from_secs(1);

async fn flush_quotas(
    quotas: Arc<crate::state::quota_store::QuotaStore>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(QUOTA_FLUSH);
    loop {
        let stopping = tokio::select! {
            _ = tick.tick() => false,
            _ = shutdown.wait_for(|s| *s) => true,
        };
        let store = quotas.clone();
        let now = crate::state::key_store::unix_now() as i64;
        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || store.flush(now)).await {
            tracing::warn!(event = "quota_flush_failed", "{e}");
        }
        if stopping {
            return;
        }
    }
}

async fn on_sighup(reloader: Arc<Reloader>, mut shutdown: watch::Receiver<bool>) {
    let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        tracing::warn!(
            "cannot install the SIGHUP handler; reload with POST /reload or by editing the file"
        );
        return;
    };
    loop {
        tokio::select! {
            _ = hup.recv() => {
                tracing::info!(event = "sighup", "SIGHUP: reloading config and certificates");
                let _ = reloader.reload_config();
                reloader.reload_certs(true);
            }
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}
