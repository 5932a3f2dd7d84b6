//! Bodies on the data path, streamed without buffering.
//!
//! - [`RequestBody`] carries a client's body to the upstream and enforces the route's size
//!   limit and the request timeout while it streams (a slow or oversized body fails the exchange
//!   with 408 or 413 instead of tying up an upstream connection).
//! - [`ProxyBody`] carries a response to the client (an upstream's stream or a body the gateway
//!   wrote) and finishes the access-log entry when the last byte has gone or the client left.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};

use crate::access_log::PendingEntry;
use crate::upstream::Checkin;

/// Why a client's request body could not be forwarded.
#[derive(Debug)]
#[non_exhaustive]
pub enum BodyError {
    /// The body went past the route's `max_body_bytes`.
    TooLarge,
    /// The body did not finish within `limits.request_timeout`.
    TimedOut,
    /// The client's connection failed while sending the body.
    Client(hyper::Error),
}

/// What went wrong with a client's body, without the underlying error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyFailure {
    /// Larger than allowed (413).
    TooLarge,
    /// Too slow (408).
    TimedOut,
    /// The client's side failed or went away.
    ClientGone,
}

impl BodyError {
    /// The kind of failure.
    pub fn failure(&self) -> BodyFailure {
        match self {
            Self::TooLarge => BodyFailure::TooLarge,
            Self::TimedOut => BodyFailure::TimedOut,
            Self::Client(_) => BodyFailure::ClientGone,
        }
    }
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge => f.write_str("request body exceeds the route's limit"),
            Self::TimedOut => f.write_str("request body not received in time"),
            Self::Client(e) => write!(f, "client body error: {e}"),
        }
    }
}

impl std::error::Error for BodyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Client(e) => Some(e),
            _ => None,
        }
    }
}

/// A client's request body on its way upstream, bounded in size and time; or a body already
/// read whole (a stage judged it).
pub struct RequestBody {
    inner: Option<Incoming>,
    read: Option<Bytes>,
    remaining: u64,
    deadline: Option<Instant>,
    /// The deadline's timer, armed the first time the body makes us wait (a body that is
    /// already buffered, the usual case for small ones, never touches the timer wheel).
    timer: Option<Pin<Box<Sleep>>>,
}

impl RequestBody {
    /// A body with nothing in it (GET, retries).
    pub fn empty() -> Self {
        Self {
            inner: None,
            read: None,
            remaining: 0,
            deadline: None,
            timer: None,
        }
    }

    /// A body read whole earlier.
    pub fn full(bytes: Bytes) -> Self {
        Self {
            read: Some(bytes).filter(|b| !b.is_empty()),
            ..Self::empty()
        }
    }

    /// Streams `incoming`, failing once more than `limit` bytes arrive or at `deadline`.
    pub fn limited(incoming: Incoming, limit: u64, deadline: Instant) -> Self {
        if incoming.is_end_stream() {
            return Self::empty();
        }
        Self {
            inner: Some(incoming),
            read: None,
            remaining: limit,
            deadline: Some(deadline),
            timer: None,
        }
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = &mut *self;
        if let Some(bytes) = this.read.take() {
            return Poll::Ready(Some(Ok(Frame::data(bytes))));
        }
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let Poll::Ready(frame) = Pin::new(inner).poll_frame(cx) else {
            // Waiting on the client: now the deadline counts.
            if let Some(at) = this.deadline {
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)));
                if timer.as_mut().poll(cx).is_ready() {
                    this.inner = None;
                    return Poll::Ready(Some(Err(BodyError::TimedOut)));
                }
            }
            return Poll::Pending;
        };
        match frame {
            None => {
                this.inner = None;
                Poll::Ready(None)
            }
            Some(Err(e)) => {
                this.inner = None;
                Poll::Ready(Some(Err(BodyError::Client(e))))
            }
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    let len = data.len() as u64;
                    if len > this.remaining {
                        this.inner = None;
                        return Poll::Ready(Some(Err(BodyError::TooLarge)));
                    }
                    this.remaining -= len;
                }
                Poll::Ready(Some(Ok(frame)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.read.is_none() && self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        if let Some(bytes) = &self.read {
            return SizeHint::with_exact(bytes.len() as u64);
        }
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}

enum Inner {
    Full(Option<Bytes>),
    Upstream(Incoming),
}

/// A response body: an upstream's stream or bytes written by the gateway.
pub struct ProxyBody {
    /// Bytes already read from `inner`, sent before the rest of it.
    front: Option<Bytes>,
    inner: Inner,
    pending: Option<Box<PendingEntry>>,
    checkin: Option<Checkin>,
    held: Vec<Box<dyn std::any::Any + Send + Sync>>,
}

impl ProxyBody {
    /// A body the gateway wrote.
    pub fn full(bytes: Bytes) -> Self {
        Self {
            front: None,
            inner: Inner::Full(Some(bytes).filter(|b| !b.is_empty())),
            pending: None,
            checkin: None,
            held: Vec::new(),
        }
    }

    /// An empty body.
    pub fn empty() -> Self {
        Self::full(Bytes::new())
    }

    /// An upstream's response body, streamed. `checkin` returns the upstream connection to
    /// its pool when the body has been read to the end (at once when it is empty).
    pub fn upstream(incoming: Incoming, mut checkin: Option<Checkin>) -> Self {
        if incoming.is_end_stream() {
            if let Some(c) = checkin.as_mut() {
                c.body_done();
            }
        }
        Self {
            front: None,
            inner: Inner::Upstream(incoming),
            pending: None,
            checkin,
            held: Vec::new(),
        }
    }

    /// This body with `bytes`, read from it earlier, put back in front.
    pub fn with_front(mut self, bytes: Bytes) -> Self {
        self.front = Some(bytes).filter(|b| !b.is_empty());
        self
    }

    /// Attaches the access-log entry that is written when this body is done.
    pub fn attach(&mut self, entry: Box<PendingEntry>) {
        self.pending = Some(entry);
    }

    /// Whether the body comes from an upstream (rather than being written by the gateway).
    pub fn is_upstream(&self) -> bool {
        matches!(self.inner, Inner::Upstream(_))
    }

    /// Keeps `guard` (an in-flight slot) until the response is done or abandoned.
    pub fn hold(&mut self, guard: Box<dyn std::any::Any + Send + Sync>) {
        self.held.push(guard);
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = &mut *self;
        let frame = match (this.front.take(), &mut this.inner) {
            (Some(front), _) => Some(Ok(Frame::data(front))),
            (None, Inner::Full(bytes)) => bytes.take().map(|b| Ok(Frame::data(b))),
            (None, Inner::Upstream(incoming)) => ready!(Pin::new(incoming).poll_frame(cx)),
        };
        if let (Some(Ok(f)), Some(pending)) = (&frame, this.pending.as_mut()) {
            if let Some(data) = f.data_ref() {
                pending.add_bytes(data.len() as u64);
            }
        }
        // hyper stops polling once `is_end_stream` is true, so the end is noticed either way.
        let ended = match (&frame, &this.inner) {
            (None, _) => true,
            (Some(Ok(_)), Inner::Upstream(incoming)) => incoming.is_end_stream(),
            (Some(Ok(_)), Inner::Full(rest)) => rest.is_none(),
            (Some(Err(_)), _) => false,
        };
        if ended {
            if let Some(pending) = this.pending.as_mut() {
                pending.mark_complete();
            }
            if let Some(checkin) = this.checkin.as_mut() {
                checkin.body_done();
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.front.is_none()
            && match &self.inner {
                Inner::Full(bytes) => bytes.is_none(),
                Inner::Upstream(incoming) => incoming.is_end_stream(),
            }
    }

    fn size_hint(&self) -> SizeHint {
        let rest = match &self.inner {
            Inner::Full(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            Inner::Upstream(incoming) => incoming.size_hint(),
        };
        let front = self.front.as_ref().map_or(0, |b| b.len() as u64);
        let mut hint = SizeHint::new();
        hint.set_lower(rest.lower() + front);
        if let Some(upper) = rest.upper() {
            hint.set_upper(upper + front);
        }
        hint
    }
}
