//! SQL injection and XSS detection (`@detectSQLi`, `@detectXSS`) behind our own trait, so the
//! implementation (today libinjectionrs, a pure-Rust port of libinjection) can be replaced or
//! extended (it misses a few newer SQL keywords) without touching the engine.

use libinjectionrs::{SqliFlags, SqliState};

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
        // Not `detect_sqli`: to report a fingerprint it tokenizes and folds the input a second
        // time, on every input. The state already holds the fingerprint that matched.
        let mut state = SqliState::new(value, SqliFlags::FLAG_NONE);
        state.detect().then(|| state.fingerprint_string())
    }

    fn xss(&self, value: &[u8]) -> bool {
        libinjectionrs::detect_xss(value).is_injection()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xss_finds_event_handlers_in_any_case_and_through_nul_bytes() {
        // The attribute blacklist compares names case-insensitively and skips NUL bytes in
        // them, as C libinjection does (the vendored crate only compares names of the same
        // length when there is no NUL).
        for flagged in [
            &b"<a onclick=alert(1)>"[..],
            b"<a OnMouseOver=alert(1)>",
            b"<a on\0click=alert(1)>",
            b"<a onclic\0k=alert(1)>",
            b"<svg xmlns:x=y>",
        ] {
            assert!(
                Libinjection.xss(flagged),
                "{:?}",
                String::from_utf8_lossy(flagged)
            );
        }
        for clean in [
            "<a title=hello>",
            "<a onclickx>",
            "Leave at the door, please.",
        ] {
            assert!(!Libinjection.xss(clean.as_bytes()), "{clean}");
        }
    }

    #[test]
    fn sqli_answers_as_the_crate_entry_point_does() {
        let seeds: &[&[u8]] = &[
            b"1' OR '1'='1",
            b"1 UNION SELECT password FROM users--",
            b"\" or 1=1 #",
            b"admin'/*",
            b"1;DROP TABLE x",
            b"sleep(5)",
            b"-1 or 1=1",
            b"blue shoes",
            b"3fa85f64-5717-4562-b3fc-2c963f66afa6",
            b"Mozilla/5.0 (X11; Linux x86_64; rv:120.0)",
            b"O'Brien",
            b"",
        ];
        let bytes = b"'\"`#-/*();= 1aAoOrRuUnNsS\n";
        let mut next = crate::xorshift(0x9e37_79b9_7f4a_7c15);
        let (mut hits, mut total) = (0, 0);
        for seed in seeds {
            for _ in 0..400 {
                let mut v = seed.to_vec();
                for _ in 0..next() % 4 {
                    let b = bytes[(next() % bytes.len() as u64) as usize];
                    let at = (next() % (v.len() as u64 + 1)) as usize;
                    v.insert(at, b);
                }
                let reference = libinjectionrs::detect_sqli(&v);
                let expected = reference.is_injection().then(|| {
                    reference
                        .fingerprint
                        .map(|f| f.to_string())
                        .unwrap_or_default()
                });
                assert_eq!(
                    Libinjection.sqli(&v),
                    expected,
                    "{:?}",
                    String::from_utf8_lossy(&v)
                );
                hits += usize::from(expected.is_some());
                total += 1;
            }
        }
        assert!(
            hits > total / 10 && hits < total,
            "{hits} of {total} detected"
        );
    }
}
