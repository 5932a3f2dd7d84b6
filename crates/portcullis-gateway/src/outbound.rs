//! The gateway's own small HTTP client, for the few calls it makes itself (JWKS, OIDC
//! discovery, token introspection): one fresh connection per call, TLS verified against the
//! web roots or a configured CA, a deadline on the whole exchange and a cap on the body.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Why an outbound call failed. Messages name the URL's host, never credentials.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutboundError {
    /// The URL cannot be used.
    #[error("invalid URL: {0}")]
    Url(String),
    /// Connecting, TLS or the exchange failed.
    #[error("request to {host} failed: {reason}")]
    Failed {
        /// Host called.
        host: String,
        /// What went wrong.
        reason: String,
    },
    /// No answer before the deadline.
    #[error("request to {0} timed out")]
    Timeout(String),
    /// The body was larger than allowed.
    #[error("response from {0} is too large")]
    TooLarge(String),
}

/// A response: status, headers and the whole (bounded) body.
pub struct Fetched {
    /// Status code.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
}

/// Settings shared by a provider's calls.
#[derive(Clone)]
pub struct HttpClient {
    tls: TlsConnector,
    timeout: Duration,
    max_body: usize,
}

impl HttpClient {
    /// A client verifying servers against `ca` (or the web roots), with a deadline per call and
    /// a body cap.
    pub fn new(ca: Option<PathBuf>, timeout: Duration, max_body: usize) -> Result<Self, String> {
        let mut config = crate::tls::client_config(ca)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            tls: TlsConnector::from(Arc::new(config)),
            timeout,
            max_body,
        })
    }

    /// Sends `req` (absolute URI, http or https) and reads the whole answer.
    pub async fn send(&self, req: Request<Full<Bytes>>) -> Result<Fetched, OutboundError> {
        let host = req.uri().host().unwrap_or("?").to_owned();
        tokio::time::timeout(self.timeout, self.exchange(req, &host))
            .await
            .map_err(|_| OutboundError::Timeout(host.clone()))?
    }

    async fn exchange(
        &self,
        mut req: Request<Full<Bytes>>,
        host: &str,
    ) -> Result<Fetched, OutboundError> {
        let failed = |reason: String| OutboundError::Failed {
            host: host.to_owned(),
            reason,
        };
        let uri = req.uri().clone();
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(OutboundError::Url("only http and https URLs".into())),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| OutboundError::Url("URL has no host".into()))?
            .clone();
        let address = crate::upstream::pool::address_of(&authority, https);
        let tcp = TcpStream::connect(address.as_str())
            .await
            .map_err(|e| failed(e.to_string()))?;
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        *req.uri_mut() = path
            .parse::<Uri>()
            .map_err(|e| OutboundError::Url(e.to_string()))?;
        req.headers_mut().insert(
            http::header::HOST,
            http::HeaderValue::from_str(authority.as_str())
                .map_err(|e| OutboundError::Url(e.to_string()))?,
        );
        let response = if https {
            let name = ServerName::try_from(host.to_owned())
                .map_err(|e| OutboundError::Url(e.to_string()))?;
            let tls = self
                .tls
                .connect(name, tcp)
                .await
                .map_err(|e| failed(e.to_string()))?;
            send_on(TokioIo::new(tls), req).await
        } else {
            send_on(TokioIo::new(tcp), req).await
        }
        .map_err(|e| failed(e.to_string()))?;
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, self.max_body)
            .collect()
            .await
            .map_err(|e| {
                if e.downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some()
                {
                    OutboundError::TooLarge(host.to_owned())
                } else {
                    failed(e.to_string())
                }
            })?
            .to_bytes();
        Ok(Fetched {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}

async fn send_on<I>(
    io: TokioIo<I>,
    req: Request<Full<Bytes>>,
) -> Result<http::Response<hyper::body::Incoming>, hyper::Error>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    sender.send_request(req).await
}
