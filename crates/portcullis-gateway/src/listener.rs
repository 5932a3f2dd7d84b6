//! Listeners: accept TCP, apply connection limits, complete TLS, serve HTTP/1.1 and HTTP/2 on the
//! same socket, close idle connections, and drain on shutdown.
//!
//! Defences here: a global connection cap (accepting pauses at the cap) and a per-client-IP cap
//! (excess connections are closed at once); the TLS handshake and the request head must arrive
//! within `header_read_timeout` (slowloris); a connection with nothing in flight and no bytes
//! moving for `idle_timeout` is closed; HTTP/2 stream caps and reset-flood limits.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant as StdInstant};

use http::Request;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, Semaphore};
use tokio_rustls::TlsAcceptor;

use crate::framing_sniffer::FramingSniffer;
use crate::problem::Refusal;
use crate::proxy::{self, ConnInfo, Shared};
use crate::runtime::Limits;
use crate::tls::ReloadingCert;

/// What a listener does with requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListenerKind {
    /// Route and proxy.
    Proxy,
    /// Redirect everything to HTTPS on this port (308).
    RedirectHttps(u16),
}

/// A bound listening socket, ready to serve.
pub struct BoundListener {
    /// Name for logs and metrics.
    pub name: Arc<str>,
    /// The socket.
    pub tcp: TcpListener,
    /// TLS, when the listener is HTTPS.
    pub tls: Option<(TlsAcceptor, Arc<ReloadingCert>)>,
    /// Proxy or redirect.
    pub kind: ListenerKind,
}

/// Connection caps shared by all listeners.
pub struct ConnLimits {
    total: Arc<Semaphore>,
    per_ip_max: usize,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
}

impl ConnLimits {
    /// Caps: `max` connections in all, `per_ip_max` per client IP.
    pub fn new(max: usize, per_ip_max: usize) -> Arc<Self> {
        Arc::new(Self {
            total: Arc::new(Semaphore::new(max.max(1))),
            per_ip_max: per_ip_max.max(1),
            per_ip: Mutex::new(HashMap::new()),
        })
    }

    fn admit_ip(self: &Arc<Self>, ip: IpAddr) -> Option<IpGuard> {
        let mut map = self.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(ip).or_insert(0);
        if *n >= self.per_ip_max {
            return None;
        }
        *n += 1;
        Some(IpGuard {
            limits: self.clone(),
            ip,
        })
    }
}

struct IpGuard {
    limits: Arc<ConnLimits>,
    ip: IpAddr,
}

impl Drop for IpGuard {
    fn drop(&mut self) {
        let mut map = self.limits.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// Counts open connections so shutdown can wait for them.
#[derive(Default)]
pub struct ConnTracker {
    active: AtomicUsize,
    drained: Notify,
}

impl ConnTracker {
    fn enter(self: &Arc<Self>) -> TrackGuard {
        self.active.fetch_add(1, Ordering::SeqCst);
        TrackGuard(self.clone())
    }

    /// Waits until no connection is open.
    pub async fn wait_idle(&self) {
        loop {
            let notified = self.drained.notified();
            if self.active.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }

    /// Open connections now.
    pub fn active(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }
}

struct TrackGuard(Arc<ConnTracker>);

impl Drop for TrackGuard {
    fn drop(&mut self) {
        if self.0.active.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.drained.notify_waiters();
        }
    }
}

/// Accepts connections until `shutdown` turns true.
pub async fn run(
    listener: BoundListener,
    shared: Arc<Shared>,
    limits: Arc<ConnLimits>,
    tracker: Arc<ConnTracker>,
    shutdown: watch::Receiver<bool>,
) {
    let mut stop = shutdown.clone();
    let gauge = shared.metrics.connections(&listener.name);
    loop {
        let permit = tokio::select! {
            p = limits.total.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
            _ = stop.wait_for(|s| *s) => return,
        };
        let accepted = tokio::select! {
            a = listener.tcp.accept() => a,
            _ = stop.wait_for(|s| *s) => return,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(listener = %listener.name, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(ip_guard) = limits.admit_ip(peer.ip()) else {
            shared.metrics.refusal(Refusal::AccessDenied).inc();
            tracing::warn!(event = "connection_refused", reason = "per_ip_limit", client_ip = %peer.ip(), "too many connections from one client");
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let conn = Connection {
            shared: shared.clone(),
            info: Arc::new(ConnInfo {
                peer,
                listener: listener.name.clone(),
                tls: listener.tls.is_some(),
                peer_info: crate::forwarding::Peer::new(peer.ip(), listener.tls.is_some()),
                framing_conflict: FramingConflict::default(),
                client_cert: std::sync::OnceLock::new(),
            }),
            kind: listener.kind,
            tls: listener.tls.as_ref().map(|(a, _)| a.clone()),
            shutdown: shutdown.clone(),
        };
        let gauge = gauge.clone();
        let track = tracker.enter();
        tokio::spawn(async move {
            gauge.inc();
            conn.serve(tcp).await;
            gauge.dec();
            drop((permit, ip_guard, track));
        });
    }
}

struct Connection {
    shared: Arc<Shared>,
    info: Arc<ConnInfo>,
    kind: ListenerKind,
    tls: Option<TlsAcceptor>,
    shutdown: watch::Receiver<bool>,
}

impl Connection {
    async fn serve(self, tcp: TcpStream) {
        let limits = self.shared.runtime.load().limits.clone();
        let activity = Arc::new(Activity::default());
        match self.tls.clone() {
            Some(acceptor) => {
                // The TLS futures are boxed so that they do not size every connection's task:
                // a plain connection's task is then ~2.5 KB instead of ~7.7 KB.
                let handshake = Box::pin(tokio::time::timeout(
                    limits.header_read_timeout,
                    acceptor.accept(tcp),
                ))
                .await;
                match handshake {
                    Ok(Ok(stream)) => {
                        if let Some(der) = stream
                            .get_ref()
                            .1
                            .peer_certificates()
                            .and_then(|c| c.first())
                        {
                            if let Some(cert) = crate::auth::ClientCert::from_der(der) {
                                let _ = self.info.client_cert.set(Arc::new(cert));
                            }
                        }
                        let io = ActivityIo::new(
                            stream,
                            activity.clone(),
                            self.info.framing_conflict.clone(),
                            false,
                        );
                        Box::pin(self.serve_http(io, activity, &limits)).await;
                    }
                    Ok(Err(e)) => {
                        tracing::debug!(peer = %self.info.peer, error = %e, "TLS handshake failed")
                    }
                    Err(_) => tracing::debug!(peer = %self.info.peer, "TLS handshake timed out"),
                }
            }
            None => {
                let io = ActivityIo::new(
                    tcp,
                    activity.clone(),
                    self.info.framing_conflict.clone(),
                    true,
                );
                self.serve_http(io, activity, &limits).await;
            }
        }
    }

    async fn serve_http<I>(self, io: ActivityIo<I>, activity: Arc<Activity>, limits: &Limits)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let builder = http_builder(limits);
        let shared = self.shared.clone();
        let info = self.info.clone();
        let kind = self.kind;
        let act = activity.clone();
        let service = service_fn(move |req: Request<Incoming>| {
            let shared = shared.clone();
            let info = info.clone();
            let in_flight = InFlight::begin(act.clone());
            async move {
                let resp = match kind {
                    // Boxed: hyper keeps a slot the size of this future for every connection,
                    // idle ones included, and the proxy's future is ~6 KB (the bench's 1,000
                    // idle connections: 6 MB).
                    ListenerKind::Proxy => Box::pin(proxy::handle(shared, info, req)).await,
                    ListenerKind::RedirectHttps(port) => {
                        proxy::redirect(shared, info, req, port).await
                    }
                };
                drop(in_flight);
                resp
            }
        });
        let conn = builder.serve_connection(TokioIo::new(io), service);
        tokio::pin!(conn);
        let mut shutdown = self.shutdown.clone();
        let idle = limits.idle_timeout;
        let mut closing = false;
        loop {
            let idle_deadline = activity.idle_deadline(idle);
            tokio::select! {
                res = conn.as_mut() => {
                    if let Err(e) = res {
                        tracing::debug!(peer = %self.info.peer, error = %e, "connection ended with an error");
                    }
                    return;
                }
                _ = shutdown.wait_for(|s| *s), if !closing => {
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
                _ = tokio::time::sleep_until(idle_deadline.into()), if !closing => {
                    if activity.is_idle(idle) {
                        closing = true;
                        conn.as_mut().graceful_shutdown();
                    }
                }
            }
        }
    }
}

fn http_builder(limits: &Limits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192))
        .max_headers(limits.max_headers)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.h2_max_concurrent_streams)
        .max_pending_accept_reset_streams(limits.h2_max_pending_accept_reset_streams)
        .max_local_error_reset_streams(limits.h2_max_local_error_reset_streams)
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX));
    builder
}

/// Tracks when a connection last moved bytes and how many requests it has in flight.
#[derive(Default)]
struct Activity {
    last_ms: AtomicU64,
    in_flight: AtomicUsize,
}

/// Set when the connection sent a head framed two ways (see [`FramingSniffer`]).
pub type FramingConflict = Arc<AtomicBool>;

fn clock_ms() -> u64 {
    static EPOCH: OnceLock<StdInstant> = OnceLock::new();
    let epoch = EPOCH.get_or_init(StdInstant::now);
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

impl Activity {
    fn touch(&self) {
        self.last_ms.store(clock_ms(), Ordering::Relaxed);
    }

    fn is_idle(&self, idle: Duration) -> bool {
        self.in_flight.load(Ordering::Relaxed) == 0
            && clock_ms().saturating_sub(self.last_ms.load(Ordering::Relaxed))
                >= u64::try_from(idle.as_millis()).unwrap_or(u64::MAX)
    }

    fn idle_deadline(&self, idle: Duration) -> StdInstant {
        let since = clock_ms().saturating_sub(self.last_ms.load(Ordering::Relaxed));
        let left = idle.saturating_sub(Duration::from_millis(since));
        StdInstant::now() + left.max(Duration::from_millis(50))
    }
}

struct InFlight(Arc<Activity>);

impl InFlight {
    fn begin(a: Arc<Activity>) -> Self {
        a.in_flight.fetch_add(1, Ordering::Relaxed);
        Self(a)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

/// An I/O stream that records activity on every read or write that moves bytes.
struct ActivityIo<I> {
    inner: I,
    activity: Arc<Activity>,
    sniffer: FramingSniffer,
    conflict: FramingConflict,
    vectored: bool,
}

impl<I> ActivityIo<I> {
    fn new(inner: I, activity: Arc<Activity>, conflict: FramingConflict, vectored: bool) -> Self {
        activity.touch();
        Self {
            inner,
            activity,
            sniffer: FramingSniffer::default(),
            conflict,
            vectored,
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for ActivityIo<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() != before {
            self.activity.touch();
            let this = &mut *self;
            if this.sniffer.feed(&buf.filled()[before..]) {
                this.conflict.store(true, Ordering::Relaxed);
            }
        }
        r
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for ActivityIo<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        // Over TLS, rustls seals each slice of a vectored write into its own record; saying
        // "not vectored" makes hyper flatten head and body into one buffer, hence one record.
        self.vectored && self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Binds a listener address.
pub async fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.set_nodelay(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}
