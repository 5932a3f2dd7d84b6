//! Connections to one target: opened on demand (TCP, then TLS when the target is `https`), kept
//! idle for reuse, and handed out one request at a time (HTTP/1.1) or shared (HTTP/2).
//!
//! An HTTP/1.1 connection goes back to the idle list only when its response body has been read
//! to the end ([`Checkin`]); a body dropped half-way closes the connection, so a stream is never
//! reused in an unknown state. A request that a pooled connection refused before sending anything
//! (the upstream had just closed it) is tried on the next idle connection, or a fresh one.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::body::RequestBody;

/// Why a request could not get a response from the target.
#[derive(Debug)]
pub enum PoolError {
    /// No connection could be opened (refused, timed out, TLS failed).
    Connect,
    /// The exchange failed on an open connection.
    Exchange(hyper::Error),
}

/// How to reach a target.
pub struct Connector {
    /// `host:port` to connect to.
    pub address: String,
    /// TLS: the client config and the server name to verify. `None`: plain TCP.
    pub tls: Option<(TlsConnector, ServerName<'static>)>,
    /// Time allowed to open the connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// Speak HTTP/2 (prior knowledge over TCP, ALPN over TLS).
    pub h2: bool,
}

trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static> Io for T {}

impl Connector {
    async fn open(&self) -> io::Result<Box<dyn Io>> {
        let connect = async {
            let tcp = TcpStream::connect(self.address.as_str()).await?;
            tcp.set_nodelay(true)?;
            let io: Box<dyn Io> = match &self.tls {
                Some((connector, name)) => Box::new(connector.connect(name.clone(), tcp).await?),
                None => Box::new(tcp),
            };
            Ok::<_, io::Error>(io)
        };
        tokio::time::timeout(self.connect_timeout, connect)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))?
    }
}

struct Idle {
    sender: http1::SendRequest<RequestBody>,
    since: Instant,
}

/// The connections of one target.
pub struct TargetPool {
    connector: Connector,
    idle: Mutex<Vec<Idle>>,
    shared_h2: Mutex<Option<http2::SendRequest<RequestBody>>>,
    max_idle: usize,
    idle_timeout: Duration,
}

/// Returns an HTTP/1.1 connection to its pool once the response body has been read to the end.
pub struct Checkin {
    pool: Arc<TargetPool>,
    sender: Option<http1::SendRequest<RequestBody>>,
}

impl Checkin {
    /// The body reached its end: the connection can serve another request.
    pub fn body_done(&mut self) {
        if let Some(sender) = self.sender.take() {
            self.pool.put(sender);
        }
    }
}

impl TargetPool {
    /// A pool with at most `max_idle` idle connections, each kept at most `idle_timeout`.
    pub fn new(connector: Connector, max_idle: usize, idle_timeout: Duration) -> Arc<Self> {
        Arc::new(Self {
            connector,
            idle: Mutex::new(Vec::new()),
            shared_h2: Mutex::new(None),
            max_idle,
            idle_timeout,
        })
    }

    fn put(&self, sender: http1::SendRequest<RequestBody>) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < self.max_idle {
            idle.push(Idle {
                sender,
                since: Instant::now(),
            });
        }
    }

    fn take_idle(&self) -> Option<http1::SendRequest<RequestBody>> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(entry) = idle.pop() {
            if !entry.sender.is_closed() && entry.since.elapsed() < self.idle_timeout {
                return Some(entry.sender);
            }
        }
        None
    }

    /// Sends a request; for HTTP/1.1 also returns the [`Checkin`] that gives the connection back.
    pub async fn send(
        self: &Arc<Self>,
        req: Request<RequestBody>,
    ) -> Result<(Response<Incoming>, Option<Checkin>), PoolError> {
        if self.connector.h2 {
            return self.send_h2(req).await.map(|r| (r, None));
        }
        let mut req = req;
        while let Some(mut sender) = self.take_idle() {
            // Checked in at the end of its last body; the connection task may still be finishing.
            if sender.ready().await.is_err() {
                continue;
            }
            match sender.try_send_request(req).await {
                Ok(resp) => return Ok((resp, Some(self.checkin(sender)))),
                Err(mut e) => match e.take_message() {
                    // Not sent: the connection was closing. Try the next one.
                    Some(back) => req = back,
                    None => return Err(PoolError::Exchange(e.into_error())),
                },
            }
        }
        let mut sender = self.open_h1().await?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(PoolError::Exchange)?;
        Ok((resp, Some(self.checkin(sender))))
    }

    fn checkin(self: &Arc<Self>, sender: http1::SendRequest<RequestBody>) -> Checkin {
        Checkin {
            pool: self.clone(),
            sender: Some(sender),
        }
    }

    async fn open_h1(&self) -> Result<http1::SendRequest<RequestBody>, PoolError> {
        let io = self
            .connector
            .open()
            .await
            .map_err(|_| PoolError::Connect)?;
        let (sender, conn) = http1::Builder::new()
            .handshake(TokioIo::new(io))
            .await
            .map_err(|_| PoolError::Connect)?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }

    async fn send_h2(&self, req: Request<RequestBody>) -> Result<Response<Incoming>, PoolError> {
        let existing = {
            let shared = self.shared_h2.lock().unwrap_or_else(|p| p.into_inner());
            shared.as_ref().filter(|s| !s.is_closed()).cloned()
        };
        let mut sender = match existing {
            Some(s) => s,
            None => {
                let io = self
                    .connector
                    .open()
                    .await
                    .map_err(|_| PoolError::Connect)?;
                let (sender, conn) = http2::Builder::new(TokioExecutor::new())
                    .timer(TokioTimer::new())
                    .handshake(TokioIo::new(io))
                    .await
                    .map_err(|_| PoolError::Connect)?;
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                *self.shared_h2.lock().unwrap_or_else(|p| p.into_inner()) = Some(sender.clone());
                sender
            }
        };
        sender.ready().await.map_err(PoolError::Exchange)?;
        sender.send_request(req).await.map_err(PoolError::Exchange)
    }
}

/// Resolves nothing itself: `address` is connected as given (`host:port`, DNS through the OS).
pub fn address_of(authority: &http::uri::Authority, https: bool) -> String {
    let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
    format!("{}:{port}", authority.host())
}
