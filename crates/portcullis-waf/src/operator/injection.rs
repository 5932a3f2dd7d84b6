//! SQL injection and XSS detection (`@detectSQLi`, `@detectXSS`) behind our own trait, so the
//! implementation (today libinjectionrs, a pure-Rust port of libinjection) can be replaced or
//! extended (it misses a few newer SQL keywords) without touching the engine.

/// Detects injections in a value.
pub trait InjectionDetector: Send + Sync {
    /// The libinjection-style fingerprint when `value` looks like SQL injection.
    fn sqli(&self, value: &[u8]) -> Option<String>;
    /// Whether `value` looks like cross-site scripting.
    fn xss(&self, value: &[u8]) -> bool;
}

/// The libinjection algorithms (via the `libinjectionrs` crate).
#[derive(Debug, Clone, Copy, Default)]
pub struct Libinjection;

impl InjectionDetector for Libinjection {
    fn sqli(&self, value: &[u8]) -> Option<String> {
        let result = libinjectionrs::detect_sqli(value);
        result.is_injection().then(|| {
            result
                .fingerprint
                .map(|f| f.to_string())
                .unwrap_or_default()
        })
    }

    fn xss(&self, value: &[u8]) -> bool {
        libinjectionrs::detect_xss(value).is_injection()
    }
}
