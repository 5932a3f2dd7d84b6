//! The data path for one request: hygiene, routing, the route's stages, the upstream, the
//! response stages, security headers, metrics and the access log.
//!
//! Every answer the gateway writes itself goes through [`Refusal`]; every response, proxied or
//! not, gets the security headers and the request id.

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::task::Poll;

use http::header::{self, HeaderValue};
use http::{Method, Request, Response, Version};
use hyper::body::Incoming;
use tokio::time::Instant;

use crate::access_log::{AccessLog, PendingEntry, Record};
use crate::body::{BodyFailure, ProxyBody, RequestBody};
use crate::forwarding::{self, Forwarding, RequestId, X_REQUEST_ID};
use crate::metrics::{Metrics, RouteMetrics};
use crate::pipeline::{Answer, Exchange, Flow, Stage, Step};
use crate::problem::Refusal;
use crate::request_guard;
use crate::route::RouteMatch;
use crate::runtime::{Route, Runtime};
use crate::upstream::UpstreamError;

/// State shared by every connection of the gateway.
pub struct Shared {
    /// The current runtime, swapped on reload.
    pub runtime: arc_swap::ArcSwap<Runtime>,
    /// Process metrics.
    pub metrics: Arc<Metrics>,
    /// The access log.
    pub access_log: Arc<AccessLog>,
}

/// Facts about the client connection.
pub struct ConnInfo {
    /// The direct peer.
    pub peer: SocketAddr,
    /// Listener name.
    pub listener: Arc<str>,
    /// Whether the connection is TLS.
    pub tls: bool,
    /// The peer as the gateway forwards and logs it, computed once per connection.
    pub peer_info: forwarding::Peer,
    /// Set when this connection sent a head with both Content-Length and Transfer-Encoding.
    pub framing_conflict: crate::listener::FramingConflict,
    /// The client certificate verified during the TLS handshake (mutual TLS).
    pub client_cert: std::sync::OnceLock<Arc<crate::auth::ClientCert>>,
}

/// What the access log and metrics need to know about how a request ended.
struct Outcome<'a> {
    route: Option<&'a Route>,
    upstream: Option<Arc<str>>,
    upstream_ms: Option<f64>,
    decision: &'static str,
}

/// Serves one request. Never fails: every error becomes a response.
pub async fn handle(
    shared: Arc<Shared>,
    conn: Arc<ConnInfo>,
    req: Request<Incoming>,
) -> Result<Response<ProxyBody>, Infallible> {
    let (parts, body) = req.into_parts();
    let h2 = parts.version == Version::HTTP_2;
    let mut unread = Some(body);
    let resp = serve(shared, conn, parts, &mut unread).await;
    if let Some(body) = unread.filter(|b| h2 && !http_body::Body::is_end_stream(b)) {
        drain(body).await;
    }
    Ok(resp)
}

/// Most of a refused HTTP/2 request body read and discarded before the answer goes out.
const DRAIN_MAX_BYTES: usize = 1024 * 1024;
/// Longest wait for it.
const DRAIN_MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Reads and discards what remains of a refused HTTP/2 request body (bounded in bytes and
/// time), as nginx does: a stream reset while the client is still uploading makes many clients
/// (curl among them) report a stream error instead of showing the 401 or 413 they were sent.
async fn drain(body: Incoming) {
    let limited = http_body_util::Limited::new(body, DRAIN_MAX_BYTES);
    let _ = tokio::time::timeout(DRAIN_MAX_WAIT, http_body_util::BodyExt::collect(limited)).await;
}

/// The data path proper; takes the request body out of `unread` when it proxies it.
async fn serve(
    shared: Arc<Shared>,
    conn: Arc<ConnInfo>,
    mut parts: http::request::Parts,
    unread: &mut Option<Incoming>,
) -> Response<ProxyBody> {
    let started = Instant::now();
    let rt = shared.runtime.load_full();
    let request_id = RequestId::from_headers(&parts.headers);
    let peer_ip = conn.peer.ip();
    let client_ip = rt.trusted_proxies.client_ip(peer_ip, &parts.headers);
    let ctx = Ctx {
        shared: &shared,
        rt: &rt,
        conn: &conn,
        started,
        request_id: &request_id,
        client_ip,
        method: parts.method.clone(),
        version: parts.version,
        uri: parts.uri.clone(),
    };

    let host = match request_guard::check(&parts, rt.limits.max_uri_bytes) {
        Ok(h) => h,
        Err(r) => return ctx.refuse(r, None, None),
    };
    // hyper drops Content-Length when Transfer-Encoding is present; the sniffer saw both.
    if parts.headers.contains_key(header::TRANSFER_ENCODING)
        && conn
            .framing_conflict
            .load(std::sync::atomic::Ordering::Relaxed)
    {
        return ctx.refuse(Refusal::BadRequest, None, None);
    }
    if let Some(left) = rt.bans.locked(&client_ip) {
        let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
        let answer =
            Answer::from(Refusal::Banned).with_header(header::RETRY_AFTER, &secs.to_string());
        return ctx.answer(answer, None);
    }
    let route = match rt.router.find(&host, parts.uri.path(), &parts.method) {
        RouteMatch::Found(route) => route.clone(),
        RouteMatch::MethodNotAllowed(allow) => {
            return ctx.refuse(Refusal::MethodNotAllowed, None, Some(allow.clone()))
        }
        RouteMatch::NotFound => return ctx.refuse(Refusal::NotFound, None, None),
    };
    forwarding::strip_hop_by_hop(&mut parts.headers);
    let response_headers;
    let mut guards;
    let mut read_body = None;
    {
        let mut exchange = Exchange::new(
            &mut parts,
            client_ip,
            request_id.as_str(),
            conn.client_cert.get(),
        );
        for stage in &route.stages {
            let flow = match stage.on_request(&mut exchange) {
                Step::Done(flow) => flow,
                Step::Wait(pending) => pending.await,
            };
            if let Flow::Respond(mut answer) = flow {
                answer.headers.append(&mut exchange.response_headers);
                return ctx.answer(answer, Some(&route));
            }
        }
        if content_length(&exchange.request.headers).is_some_and(|l| l > route.max_body_bytes) {
            return ctx.refuse(Refusal::PayloadTooLarge, Some(&route), None);
        }
        if route.reads_request_body {
            let deadline = started + rt.limits.request_timeout;
            let body = match read_request_body(unread.take(), route.max_body_bytes, deadline).await
            {
                Ok(b) => b,
                Err(refusal) => return ctx.refuse(refusal, Some(&route), None),
            };
            for stage in &route.stages {
                if let Flow::Respond(mut answer) = stage.on_request_body(&mut exchange, &body) {
                    answer.headers.append(&mut exchange.response_headers);
                    return ctx.answer(answer, Some(&route));
                }
            }
            read_body = Some(body);
        }
        response_headers = std::mem::take(&mut exchange.response_headers);
        guards = std::mem::take(&mut exchange.guards);
    }

    // Build the upstream request head.
    let upstream = &route.upstream;
    let original_host = match parts.headers.get(header::HOST) {
        Some(h) => h.clone(),
        None => HeaderValue::from_str(parts.uri.authority().map_or(host.as_str(), |a| a.as_str()))
            .unwrap_or(HeaderValue::from_static("")),
    };
    Forwarding {
        peer: &conn.peer_info,
        trusted: rt.trusted_proxies.contains(peer_ip),
        host: &original_host,
    }
    .apply(&mut parts.headers);
    parts
        .headers
        .insert(X_REQUEST_ID.clone(), request_id.header());
    let client_host = parts.headers.get(header::HOST).cloned().or_else(|| {
        parts
            .uri
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    });
    let path_and_query = rewrite_path(&parts, route.strip_prefix.as_deref());

    let request_body = match (read_body, unread.take()) {
        (Some(bytes), _) => RequestBody::full(bytes),
        (None, Some(body)) => RequestBody::limited(
            body,
            route.max_body_bytes,
            started + rt.limits.request_timeout,
        ),
        (None, None) => return ctx.refuse(Refusal::Internal, Some(&route), None),
    };
    // Retries go to another target (a pooled connection that went stale is already retried by
    // the client), so a single-target upstream never pays for keeping a copy of the headers.
    let retryable = is_idempotent(&parts.method)
        && http_body::Body::is_end_stream(&request_body)
        && upstream.len() > 1;
    let attempts = if retryable { 1 + upstream.retries } else { 1 };
    let mut request_body = Some(request_body);
    let mut tried: u64 = 0;
    let mut last_err = UpstreamError::Connect;
    let mut answered = None;
    for attempt in 0..attempts {
        let index = upstream.pick(tried);
        tried |= 1u64.checked_shl(index as u32).unwrap_or(0);
        let target = upstream.target(index);
        let Ok(uri) = upstream.uri(index, &path_and_query) else {
            return ctx.refuse(Refusal::BadRequest, Some(&route), None);
        };
        let mut builder = Request::builder()
            .method(parts.method.clone())
            .uri(uri)
            .version(if upstream.is_h2() {
                Version::HTTP_2
            } else {
                Version::HTTP_11
            });
        if let Some(h) = builder.headers_mut() {
            if attempt + 1 == attempts {
                std::mem::swap(h, &mut parts.headers);
            } else {
                h.clone_from(&parts.headers);
            }
            match (&client_host, upstream.preserve_host, upstream.is_h2()) {
                (_, _, true) => {
                    h.remove(header::HOST);
                }
                (Some(ch), true, false) => {
                    h.insert(header::HOST, ch.clone());
                }
                _ => {
                    h.insert(header::HOST, target.host_header.clone());
                }
            }
        }
        let body = request_body.take().unwrap_or_else(RequestBody::empty);
        let Ok(up_req) = builder.body(body) else {
            return ctx.refuse(Refusal::BadRequest, Some(&route), None);
        };
        let sent = Instant::now();
        match upstream.send(index, up_req).await {
            Ok((resp, checkin)) => {
                answered = Some((resp, checkin, target.label.clone(), sent.elapsed()));
                break;
            }
            Err(e) => {
                shared.metrics.upstream_error(&upstream.name, e.kind());
                tracing::warn!(
                    request_id = request_id.as_str(),
                    upstream = %upstream.name,
                    target = %target.label,
                    kind = e.kind(),
                    "upstream attempt failed"
                );
                let retry = matches!(e, UpstreamError::Connect | UpstreamError::Timeout);
                last_err = e;
                if !retry {
                    break;
                }
            }
        }
    }
    let Some((resp, checkin, target_label, upstream_time)) = answered else {
        let refusal = match last_err {
            UpstreamError::Timeout => Refusal::UpstreamTimeout,
            UpstreamError::Body(BodyFailure::TooLarge) => Refusal::PayloadTooLarge,
            UpstreamError::Body(BodyFailure::TimedOut) => Refusal::RequestTimeout,
            UpstreamError::Body(_) => Refusal::BadRequest,
            _ => Refusal::UpstreamUnavailable,
        };
        return ctx.refuse(refusal, Some(&route), None);
    };

    let (mut rparts, rbody) = resp.into_parts();
    forwarding::strip_hop_by_hop(&mut rparts.headers);
    rt.security_headers.strip_identifying(&mut rparts.headers);
    let mut response = Response::from_parts(rparts, ProxyBody::upstream(rbody, checkin));
    {
        parts.headers.clear();
        let mut exchange = Exchange::new(
            &mut parts,
            client_ip,
            request_id.as_str(),
            conn.client_cert.get(),
        );
        // What request stages kept (a WAF transaction) is theirs again on the response.
        exchange.guards = std::mem::take(&mut guards);
        for stage in &route.stages {
            stage.on_response(&exchange, &mut response);
        }
        if response.body().is_upstream() {
            let (mut head, body) = response.into_parts();
            let readers: Vec<&dyn Stage> = route
                .stages
                .iter()
                .map(|s| &**s)
                .filter(|s| s.reads_response_body(&exchange, &head))
                .collect();
            if readers.is_empty() {
                response = Response::from_parts(head, body);
            } else {
                let timeout = rt.limits.request_timeout;
                let partial = readers.iter().all(|s| s.reads_partial_response_body());
                let read = read_response_body(body, route.max_response_bytes, timeout, partial);
                match read.await {
                    Err(refusal) => return ctx.refuse(refusal, Some(&route), None),
                    Ok(ResponseRead::Whole(mut bytes)) => {
                        for stage in readers {
                            if let Flow::Respond(answer) =
                                stage.on_response_body(&exchange, &mut head, &mut bytes)
                            {
                                return ctx.answer(answer, Some(&route));
                            }
                        }
                        head.headers.insert(
                            header::CONTENT_LENGTH,
                            HeaderValue::from(bytes.len() as u64),
                        );
                        response = Response::from_parts(head, ProxyBody::full(bytes));
                    }
                    // Too large to hold: the readers (all of them inspect only) see its start,
                    // and it streams on as it came.
                    Ok(ResponseRead::Start(start, rest)) => {
                        for stage in readers {
                            let mut view = start.clone();
                            if let Flow::Respond(answer) =
                                stage.on_response_body(&exchange, &mut head, &mut view)
                            {
                                return ctx.answer(answer, Some(&route));
                            }
                        }
                        response = Response::from_parts(head, rest.with_front(start));
                    }
                }
            }
        }
        guards = std::mem::take(&mut exchange.guards);
    }
    for (name, value) in response_headers {
        response.headers_mut().append(name, value);
    }
    for guard in guards {
        response.body_mut().hold(guard);
    }
    ctx.finish(
        response,
        Outcome {
            route: Some(&route),
            upstream: Some(target_label),
            upstream_ms: Some(upstream_time.as_secs_f64() * 1e3),
            decision: "allow",
        },
    )
}

/// Reads a request body whole (a stage judges it), bounded by the route's limit and the
/// request deadline.
async fn read_request_body(
    body: Option<Incoming>,
    limit: u64,
    deadline: Instant,
) -> Result<bytes::Bytes, Refusal> {
    let Some(body) = body else {
        return Ok(bytes::Bytes::new());
    };
    let limited = RequestBody::limited(body, limit, deadline);
    match http_body_util::BodyExt::collect(limited).await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) => Err(match e.failure() {
            BodyFailure::TooLarge => Refusal::PayloadTooLarge,
            BodyFailure::TimedOut => Refusal::RequestTimeout,
            BodyFailure::ClientGone => Refusal::BadRequest,
        }),
    }
}

/// Reads an upstream response body whole (a response stage judges it). Larger than `limit`:
/// refused rather than passed unchecked.
/// An upstream response body as read for the stages that judge it.
enum ResponseRead {
    /// All of it.
    Whole(bytes::Bytes),
    /// Its first bytes (past the limit), and the body to stream the rest from.
    Start(bytes::Bytes, ProxyBody),
}

/// Reads an upstream response body for the stages that judge it: whole when it fits in
/// `limit` bytes; otherwise its start when `partial` (every reader inspects only), else a
/// refusal (502). Bounded by `timeout`.
async fn read_response_body(
    mut body: ProxyBody,
    limit: u64,
    timeout: std::time::Duration,
    partial: bool,
) -> Result<ResponseRead, Refusal> {
    let read = async move {
        // One frame, the usual case for small bodies, is kept without a copy.
        let mut first: Option<bytes::Bytes> = None;
        let mut more = bytes::BytesMut::new();
        let mut len = 0u64;
        loop {
            let Some(frame) = http_body_util::BodyExt::frame(&mut body).await else {
                let whole = match first {
                    Some(f) if more.is_empty() => f,
                    _ => more.freeze(),
                };
                return Ok(ResponseRead::Whole(whole));
            };
            let Ok(data) = frame.map_err(|_| Refusal::UpstreamUnavailable)?.into_data() else {
                continue; // trailers: not forwarded when the body is held
            };
            len += data.len() as u64;
            match first.take() {
                None if more.is_empty() => first = Some(data),
                held => {
                    if let Some(f) = held {
                        more.extend_from_slice(&f);
                    }
                    more.extend_from_slice(&data);
                }
            }
            if len > limit {
                if !partial {
                    return Err(Refusal::InvalidResponse);
                }
                let start = first.take().unwrap_or_else(|| more.split().freeze());
                return Ok(ResponseRead::Start(start, body));
            }
        }
    };
    let mut read = std::pin::pin!(read);
    // A small body usually came with the head: take it without arming a timer.
    let first = std::future::poll_fn(|cx| Poll::Ready(read.as_mut().poll(cx))).await;
    match first {
        Poll::Ready(done) => done,
        Poll::Pending => tokio::time::timeout(timeout, read)
            .await
            .unwrap_or(Err(Refusal::UpstreamTimeout)),
    }
}

/// Serves a request on a redirect listener: 308 to HTTPS on `port`, same host (without its
/// port), path and query. The Host is validated first, so it cannot inject a different target.
pub async fn redirect(
    shared: Arc<Shared>,
    conn: Arc<ConnInfo>,
    req: Request<Incoming>,
    port: u16,
) -> Result<Response<ProxyBody>, Infallible> {
    let rt = shared.runtime.load_full();
    let parts = req.into_parts().0;
    let request_id = RequestId::from_headers(&parts.headers);
    let ctx = Ctx {
        shared: &shared,
        rt: &rt,
        conn: &conn,
        started: Instant::now(),
        request_id: &request_id,
        client_ip: rt.trusted_proxies.client_ip(conn.peer.ip(), &parts.headers),
        method: parts.method.clone(),
        version: parts.version,
        uri: parts.uri.clone(),
    };
    let host = match request_guard::check(&parts, rt.limits.max_uri_bytes) {
        Ok(h) if !h.is_empty() => h,
        Ok(_) => return Ok(ctx.refuse(Refusal::BadRequest, None, None)),
        Err(r) => return Ok(ctx.refuse(r, None, None)),
    };
    let pq = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let location = if port == 443 {
        format!("https://{host}{pq}")
    } else {
        format!("https://{host}:{port}{pq}")
    };
    let Ok(location) = HeaderValue::from_str(&location) else {
        return Ok(ctx.refuse(Refusal::BadRequest, None, None));
    };
    let mut resp = Response::new(ProxyBody::empty());
    *resp.status_mut() = http::StatusCode::PERMANENT_REDIRECT;
    resp.headers_mut().insert(header::LOCATION, location);
    Ok(ctx.finish(
        resp,
        Outcome {
            route: None,
            upstream: None,
            upstream_ms: None,
            decision: "redirect",
        },
    ))
}

/// Per-request context for writing answers.
struct Ctx<'a> {
    shared: &'a Arc<Shared>,
    rt: &'a Runtime,
    conn: &'a ConnInfo,
    started: Instant,
    request_id: &'a RequestId,
    client_ip: IpAddr,
    method: Method,
    version: Version,
    uri: http::Uri,
}

impl Ctx<'_> {
    /// Writes a stage's answer: its refusal plus the headers it asked for.
    fn answer(self, answer: Answer, route: Option<&Route>) -> Response<ProxyBody> {
        let errors = answer.errors.as_deref();
        let mut resp = self.refuse_with(answer.refusal, route, None, errors);
        for (name, value) in answer.headers {
            resp.headers_mut().append(name, value);
        }
        resp
    }

    fn refuse(
        self,
        refusal: Refusal,
        route: Option<&Route>,
        allow: Option<HeaderValue>,
    ) -> Response<ProxyBody> {
        self.refuse_with(refusal, route, allow, None)
    }

    fn refuse_with(
        self,
        refusal: Refusal,
        route: Option<&Route>,
        allow: Option<HeaderValue>,
        errors: Option<&serde_json::Value>,
    ) -> Response<ProxyBody> {
        self.shared.metrics.refusal(refusal).inc();
        let mut resp =
            refusal.respond_with_errors(refusal.status(), self.request_id.as_str(), errors);
        if let Some(allow) = allow {
            resp.headers_mut().insert(header::ALLOW, allow);
        }
        if matches!(
            refusal,
            Refusal::BadRequest | Refusal::RequestTimeout | Refusal::PayloadTooLarge
        ) {
            // The rest of the request may still be on the wire: do not reuse the connection.
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        self.finish(
            resp,
            Outcome {
                route,
                upstream: None,
                upstream_ms: None,
                decision: refusal.code(),
            },
        )
    }

    fn finish(self, mut resp: Response<ProxyBody>, outcome: Outcome<'_>) -> Response<ProxyBody> {
        let headers = resp.headers_mut();
        self.rt.security_headers.apply(headers, self.conn.tls);
        headers.insert(X_REQUEST_ID.clone(), self.request_id.header());
        let metrics: &RouteMetrics = outcome.route.map_or(&self.rt.unmatched, |r| &r.metrics);
        let status = resp.status().as_u16();
        metrics.count(status);
        let record = Record {
            time: std::time::SystemTime::UNIX_EPOCH,
            request_id: self.request_id.clone(),
            client_ip: if self.conn.peer_info.ip == self.client_ip {
                self.conn.peer_info.text.clone()
            } else {
                Arc::from(self.client_ip.to_string())
            },
            listener: self.conn.listener.clone(),
            protocol: version_str(self.version),
            method: self.method,
            path: self.uri,
            status,
            api: outcome.route.map(|r| r.api.clone()),
            route: outcome.route.map(|r| r.name.clone()),
            upstream: outcome.upstream,
            upstream_ms: outcome.upstream_ms,
            decision: outcome.decision,
            bytes_sent: 0,
            duration_ms: 0.0,
            completed: false,
        };
        let entry = PendingEntry::new(
            self.shared.access_log.clone(),
            Some(metrics.latency.clone()),
            self.started,
            record,
        );
        resp.body_mut().attach(entry);
        resp
    }
}

fn version_str(v: Version) -> &'static str {
    match v {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_11 => "HTTP/1.1",
        Version::HTTP_2 => "HTTP/2",
        Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/?",
    }
}

fn content_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

fn is_idempotent(m: &Method) -> bool {
    matches!(
        *m,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE
    )
}

/// The path and query sent upstream, with the route's prefix removed.
fn rewrite_path(parts: &http::request::Parts, strip: Option<&str>) -> String {
    let pq = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let Some(prefix) = strip else {
        return pq.to_owned();
    };
    match pq.strip_prefix(prefix) {
        Some("") => "/".into(),
        Some(rest) if rest.starts_with('?') => format!("/{rest}"),
        Some(rest) if rest.starts_with('/') => rest.to_owned(),
        _ => pq.to_owned(),
    }
}
