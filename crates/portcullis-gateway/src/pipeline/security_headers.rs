//! Security response headers, applied to every response the gateway sends (proxied or refused):
//! HSTS on TLS listeners, a configurable set (defaults: nosniff, `frame-ancestors 'none'`,
//! `no-referrer`, `no-store`), and removal of headers that identify the software behind the
//! gateway (`Server`, `X-Powered-By`).

use http::header::{HeaderName, HeaderValue, STRICT_TRANSPORT_SECURITY};
use http::HeaderMap;

use crate::config::model::SecurityHeadersConfig;

/// The defaults, overridable by name in `security_headers.set`.
pub const DEFAULT_HEADERS: [(&str, &str); 4] = [
    ("x-content-type-options", "nosniff"),
    ("content-security-policy", "frame-ancestors 'none'"),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-store"),
];

/// Compiled security headers.
pub struct SecurityHeaders {
    hsts: Option<HeaderValue>,
    set: Vec<(HeaderName, HeaderValue)>,
    remove: Vec<HeaderName>,
}

impl SecurityHeaders {
    /// Compiles the config; errors name the bad header.
    pub fn new(cfg: &SecurityHeadersConfig) -> Result<Self, String> {
        let hsts = (cfg.hsts.max_age > 0).then(|| {
            let mut v = format!("max-age={}", cfg.hsts.max_age);
            if cfg.hsts.include_subdomains {
                v.push_str("; includeSubDomains");
            }
            if cfg.hsts.preload {
                v.push_str("; preload");
            }
            HeaderValue::from_str(&v).unwrap_or(HeaderValue::from_static("max-age=31536000"))
        });
        let mut set: Vec<(HeaderName, HeaderValue)> = Vec::new();
        let mut names: Vec<(String, String)> = DEFAULT_HEADERS
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        for (name, value) in &cfg.set {
            let lower = name.to_ascii_lowercase();
            names.retain(|(n, _)| *n != lower);
            names.push((lower, value.clone()));
        }
        for (name, value) in names {
            if value.is_empty() {
                continue;
            }
            let n = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("invalid header name {name:?}"))?;
            let v = HeaderValue::from_str(&value)
                .map_err(|_| format!("invalid value for header {name:?}"))?;
            set.push((n, v));
        }
        let remove = cfg
            .remove
            .iter()
            .map(|n| {
                HeaderName::from_bytes(n.as_bytes())
                    .map_err(|_| format!("invalid header name {n:?}"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { hsts, set, remove })
    }

    /// Removes identifying headers from an upstream response.
    pub fn strip_identifying(&self, headers: &mut HeaderMap) {
        for name in &self.remove {
            headers.remove(name);
        }
    }

    /// Adds the security headers; HSTS only when the client connection is TLS.
    pub fn apply(&self, headers: &mut HeaderMap, tls: bool) {
        for (name, value) in &self.set {
            headers.insert(name.clone(), value.clone());
        }
        if tls {
            if let Some(hsts) = &self.hsts {
                headers.insert(STRICT_TRANSPORT_SECURITY, hsts.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_applied_and_hsts_only_on_tls() {
        let sh = SecurityHeaders::new(&SecurityHeadersConfig::default()).unwrap();
        let mut h = HeaderMap::new();
        sh.apply(&mut h, false);
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["cache-control"], "no-store");
        assert!(h.get(STRICT_TRANSPORT_SECURITY).is_none());
        sh.apply(&mut h, true);
        assert_eq!(
            h[STRICT_TRANSPORT_SECURITY],
            "max-age=31536000; includeSubDomains"
        );
    }

    #[test]
    fn a_default_can_be_replaced_or_dropped() {
        let mut cfg = SecurityHeadersConfig::default();
        cfg.set.insert("Cache-Control".into(), "".into());
        cfg.set
            .insert("Permissions-Policy".into(), "geolocation=()".into());
        let sh = SecurityHeaders::new(&cfg).unwrap();
        let mut h = HeaderMap::new();
        sh.apply(&mut h, false);
        assert!(h.get("cache-control").is_none());
        assert_eq!(h["permissions-policy"], "geolocation=()");
        cfg.set.insert("bad name".into(), "x".into());
        assert!(SecurityHeaders::new(&cfg).is_err());
    }
}
