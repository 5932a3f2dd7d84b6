//! Proxy header semantics: hop-by-hop removal, X-Forwarded-* / Forwarded, the client IP, and
//! the request id.
//!
//! Incoming X-Forwarded-For / Forwarded / X-Forwarded-Proto / X-Forwarded-Host are kept (and
//! extended) only when the direct peer is a trusted proxy; from anyone else they are replaced,
//! so a client cannot choose the IP that limits and logs see.

use std::net::IpAddr;
use std::sync::Arc;

use http::header::{self, HeaderName, HeaderValue};
use http::HeaderMap;
use ipnet::IpNet;

/// The request-id header.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static FORWARDED: HeaderName = HeaderName::from_static("forwarded");
static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

/// Headers that describe one connection, never forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP: [&HeaderName; 8] = [
    &header::CONNECTION,
    &KEEP_ALIVE,
    &PROXY_CONNECTION,
    &header::TE,
    &header::TRAILER,
    &header::TRANSFER_ENCODING,
    &header::UPGRADE,
    &header::PROXY_AUTHORIZATION,
];

/// Removes hop-by-hop headers, including those the `Connection` header names (except Host and
/// Content-Length, which framing and routing depend on).
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // One pass to see whether there is anything to do: most messages carry no hop-by-hop header
    // but `Connection: keep-alive`, and a scan is cheaper than eight hashed removals.
    let mut present = 0u8;
    let mut named = false;
    for (name, value) in headers.iter() {
        if let Some(i) = HOP_BY_HOP.iter().position(|h| *h == name) {
            present |= 1 << i;
            if name == header::CONNECTION {
                let v = value.as_bytes();
                named |=
                    !v.eq_ignore_ascii_case(b"keep-alive") && !v.eq_ignore_ascii_case(b"close");
            }
        }
    }
    if present == 0 {
        return;
    }
    if named {
        let listed: Vec<HeaderName> = headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
            .filter(|n| *n != header::HOST && *n != header::CONTENT_LENGTH)
            .collect();
        for n in listed {
            headers.remove(n);
        }
    }
    for (i, name) in HOP_BY_HOP.iter().enumerate() {
        if present & (1 << i) != 0 {
            headers.remove(*name);
        }
    }
}

/// Trusted-proxy list.
#[derive(Debug, Default, Clone)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses CIDRs (a bare IP counts as a /32 or /128).
    pub fn parse(items: &[String]) -> Result<Self, (usize, String)> {
        let mut nets = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let net = item
                .parse::<IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| (i, format!("invalid CIDR {item:?}")))?;
            nets.push(net);
        }
        Ok(Self(nets))
    }

    /// True when `ip` is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// The client IP: the peer, or (behind trusted proxies) the rightmost untrusted address of
    /// X-Forwarded-For.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if self.0.is_empty() || !self.contains(peer) {
            return peer;
        }
        let mut client = peer;
        let hops: Vec<&str> = headers
            .get_all(&X_FORWARDED_FOR)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect();
        for hop in hops.iter().rev() {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) => {
                    client = canonical(ip);
                    if !self.contains(client) {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        client
    }
}

/// IPv4-mapped IPv6 addresses as IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// What the gateway says about a connection's peer, computed once per connection so requests
/// only copy it.
pub struct Peer {
    /// The peer's IP (IPv4-mapped IPv6 as IPv4).
    pub ip: IpAddr,
    /// The IP as text, for logs.
    pub text: Arc<str>,
    /// The IP as an X-Forwarded-For value.
    header: HeaderValue,
    /// `for=IP;proto=P;host="`, the start of this peer's `Forwarded` element.
    forwarded_prefix: Vec<u8>,
    proto: &'static str,
}

impl Peer {
    /// Describes a peer connected over TLS (`https`) or not (`http`).
    pub fn new(ip: IpAddr, tls: bool) -> Self {
        let ip = canonical(ip);
        let text = ip.to_string();
        let proto = if tls { "https" } else { "http" };
        let node = match ip {
            IpAddr::V6(_) => format!("\"[{text}]\""),
            IpAddr::V4(_) => text.clone(),
        };
        Self {
            ip,
            header: HeaderValue::from_str(&text).unwrap_or(HeaderValue::from_static("unknown")),
            forwarded_prefix: format!("for={node};proto={proto};host=\"").into_bytes(),
            text: Arc::from(text),
            proto,
        }
    }
}

/// What the gateway tells the upstream about the original request.
pub struct Forwarding<'a> {
    /// The direct peer.
    pub peer: &'a Peer,
    /// Whether the peer is a trusted proxy.
    pub trusted: bool,
    /// The Host the client asked for (already validated by the request guard).
    pub host: &'a HeaderValue,
}

impl Forwarding<'_> {
    /// Sets X-Forwarded-For/-Proto/-Host and Forwarded, keeping incoming values only from a
    /// trusted peer.
    pub fn apply(&self, headers: &mut HeaderMap) {
        let peer = self.peer;
        let mut element = Vec::with_capacity(peer.forwarded_prefix.len() + self.host.len() + 1);
        element.extend_from_slice(&peer.forwarded_prefix);
        element.extend(
            self.host
                .as_bytes()
                .iter()
                .filter(|b| !matches!(b, b'"' | b'\\')),
        );
        element.push(b'"');
        let proto = HeaderValue::from_static(peer.proto);
        if self.trusted {
            append(headers, &X_FORWARDED_FOR, &peer.text);
            append(headers, &FORWARDED, &String::from_utf8_lossy(&element));
            if !headers.contains_key(&X_FORWARDED_PROTO) {
                headers.insert(X_FORWARDED_PROTO.clone(), proto);
            }
            if !headers.contains_key(&X_FORWARDED_HOST) {
                headers.insert(X_FORWARDED_HOST.clone(), self.host.clone());
            }
        } else {
            headers.insert(X_FORWARDED_FOR.clone(), peer.header.clone());
            match HeaderValue::from_bytes(&element) {
                Ok(v) => headers.insert(FORWARDED.clone(), v),
                Err(_) => headers.remove(&FORWARDED),
            };
            headers.insert(X_FORWARDED_PROTO.clone(), proto);
            headers.insert(X_FORWARDED_HOST.clone(), self.host.clone());
        }
    }
}

fn set(headers: &mut HeaderMap, name: &HeaderName, value: &str) {
    match HeaderValue::from_str(value) {
        Ok(v) => {
            headers.insert(name.clone(), v);
        }
        Err(_) => {
            headers.remove(name);
        }
    }
}

fn append(headers: &mut HeaderMap, name: &HeaderName, value: &str) {
    let joined = {
        let existing: Vec<&str> = headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        if existing.is_empty() {
            value.to_owned()
        } else {
            format!("{}, {value}", existing.join(", "))
        }
    };
    set(headers, name, &joined);
}

/// A request id: a client-supplied `X-Request-Id` when it is 1–128 characters of
/// `[A-Za-z0-9._:-]`, otherwise a fresh random one. Held as a header value so that sending it
/// upstream, back to the client and into the log shares one buffer.
#[derive(Clone, Debug)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// The id to use for a request with these headers.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        if let Some(v) = headers.get(&X_REQUEST_ID) {
            let b = v.as_bytes();
            if !b.is_empty()
                && b.len() <= 128
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b':' | b'-'))
            {
                return Self(v.clone());
            }
        }
        let mut text = [0u8; 32];
        let id = uuid::Uuid::new_v4();
        let hex = id.simple().encode_lower(&mut text);
        Self(HeaderValue::from_str(hex).unwrap_or(HeaderValue::from_static("-")))
    }

    /// The id as text (always ASCII).
    pub fn as_str(&self) -> &str {
        self.0.to_str().unwrap_or("-")
    }

    /// The id as a header value (a cheap shared copy).
    pub fn header(&self) -> HeaderValue {
        self.0.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn hop_by_hop_and_connection_named_headers_are_removed() {
        let mut h = headers(&[
            ("connection", "keep-alive, X-Secret-Hop, host"),
            ("x-secret-hop", "1"),
            ("keep-alive", "timeout=5"),
            ("te", "trailers"),
            ("upgrade", "websocket"),
            ("proxy-authorization", "Basic abc"),
            ("host", "a"),
            ("x-end", "kept"),
        ]);
        strip_hop_by_hop(&mut h);
        let mut names: Vec<_> = h.keys().map(|k| k.as_str()).collect();
        names.sort_unstable();
        assert_eq!(names, ["host", "x-end"]);
    }

    #[test]
    fn untrusted_peers_cannot_choose_their_ip() {
        let t = TrustedProxies::parse(&["10.0.0.0/8".into()]).unwrap();
        let h = headers(&[("x-forwarded-for", "1.2.3.4")]);
        let peer: IpAddr = "192.0.2.9".parse().unwrap();
        assert_eq!(t.client_ip(peer, &h), peer);
        let mut out = h.clone();
        Forwarding {
            peer: &Peer::new(peer, true),
            trusted: false,
            host: &HeaderValue::from_static("api"),
        }
        .apply(&mut out);
        assert_eq!(out["x-forwarded-for"], "192.0.2.9");
        assert_eq!(out["forwarded"], "for=192.0.2.9;proto=https;host=\"api\"");
    }

    #[test]
    fn trusted_peers_extend_the_chain() {
        let t = TrustedProxies::parse(&["10.0.0.0/8".into(), "::1".into()]).unwrap();
        let h = headers(&[
            ("x-forwarded-for", "198.51.100.7, 10.1.1.1"),
            ("x-forwarded-proto", "http"),
        ]);
        let peer: IpAddr = "10.2.2.2".parse().unwrap();
        assert_eq!(
            t.client_ip(peer, &h),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        let mut out = h.clone();
        Forwarding {
            peer: &Peer::new(peer, true),
            trusted: true,
            host: &HeaderValue::from_static("api"),
        }
        .apply(&mut out);
        assert_eq!(out["x-forwarded-for"], "198.51.100.7, 10.1.1.1, 10.2.2.2");
        assert_eq!(out["x-forwarded-proto"], "http");
        assert!(TrustedProxies::parse(&["nope".into()]).is_err());
    }

    #[test]
    fn request_ids_are_validated() {
        let id = |h: &HeaderMap| RequestId::from_headers(h).as_str().to_owned();
        assert_eq!(id(&headers(&[("x-request-id", "abc-123")])), "abc-123");
        let long = "a".repeat(129);
        assert_ne!(id(&headers(&[("x-request-id", &long)])), long);
        assert_ne!(id(&headers(&[("x-request-id", "a b")])), "a b");
        let fresh = id(&HeaderMap::new());
        assert_eq!(fresh.len(), 32);
        assert!(fresh.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(fresh, id(&HeaderMap::new()));
    }
}
