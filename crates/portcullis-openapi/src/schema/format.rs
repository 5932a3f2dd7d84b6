//! The `format` values checked on strings and numbers. Unknown formats are annotations only, as
//! JSON Schema says.

use std::net::{Ipv4Addr, Ipv6Addr};

/// A checked format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    DateTime,
    Date,
    Time,
    Email,
    Uuid,
    Uri,
    Ipv4,
    Ipv6,
    Hostname,
    Byte,
    Int32,
    Int64,
}

impl Format {
    /// The checked format named `name`, if it is one.
    pub(crate) fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "date-time" => Self::DateTime,
            "date" => Self::Date,
            "time" => Self::Time,
            "email" | "idn-email" => Self::Email,
            "uuid" => Self::Uuid,
            "uri" | "url" => Self::Uri,
            "ipv4" => Self::Ipv4,
            "ipv6" => Self::Ipv6,
            "hostname" => Self::Hostname,
            "byte" => Self::Byte,
            "int32" => Self::Int32,
            "int64" => Self::Int64,
            _ => return None,
        })
    }

    /// The format's name, for reasons.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::DateTime => "date-time",
            Self::Date => "date",
            Self::Time => "time",
            Self::Email => "email",
            Self::Uuid => "uuid",
            Self::Uri => "uri",
            Self::Ipv4 => "ipv4",
            Self::Ipv6 => "ipv6",
            Self::Hostname => "hostname",
            Self::Byte => "byte",
            Self::Int32 => "int32",
            Self::Int64 => "int64",
        }
    }

    /// Whether a string satisfies the format (numeric formats accept every string).
    pub(crate) fn check_str(self, s: &str) -> bool {
        match self {
            Self::DateTime => date_time(s),
            Self::Date => date(s),
            Self::Time => time(s),
            Self::Email => email(s),
            Self::Uuid => uuid(s),
            Self::Uri => uri(s),
            Self::Ipv4 => s.parse::<Ipv4Addr>().is_ok(),
            Self::Ipv6 => s.parse::<Ipv6Addr>().is_ok(),
            Self::Hostname => hostname(s),
            Self::Byte => base64(s),
            Self::Int32 | Self::Int64 => true,
        }
    }

    /// Whether a number satisfies the format (string formats accept every number).
    pub(crate) fn check_number(self, n: &serde_json::Number) -> bool {
        match self {
            Self::Int32 => n.as_i64().is_some_and(|v| i32::try_from(v).is_ok()),
            Self::Int64 => n.as_i64().is_some(),
            _ => true,
        }
    }
}

fn digits(s: &str, n: usize) -> Option<u32> {
    (s.len() == n && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().unwrap_or(0))
}

/// RFC 3339 `full-date`.
fn date(s: &str) -> bool {
    let mut it = s.split('-');
    let (Some(y), Some(m), Some(d), None) = (it.next(), it.next(), it.next(), it.next()) else {
        return false;
    };
    let (Some(y), Some(m), Some(d)) = (digits(y, 4), digits(m, 2), digits(d, 2)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

/// RFC 3339 `full-time` (a leap second allowed).
fn time(s: &str) -> bool {
    let s = s.to_ascii_uppercase();
    let (clock, zone) = if let Some(c) = s.strip_suffix('Z') {
        (c, None)
    } else if let Some(i) = s.rfind(['+', '-']) {
        (&s[..i], Some(&s[i + 1..]))
    } else {
        return false;
    };
    if let Some(z) = zone {
        let mut it = z.split(':');
        let (Some(h), Some(m), None) = (it.next(), it.next(), it.next()) else {
            return false;
        };
        if !matches!((digits(h, 2), digits(m, 2)), (Some(h), Some(m)) if h < 24 && m < 60) {
            return false;
        }
    }
    let (hms, frac) = match clock.split_once('.') {
        Some((hms, f)) => (hms, Some(f)),
        None => (clock, None),
    };
    if frac.is_some_and(|f| f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit())) {
        return false;
    }
    let mut it = hms.split(':');
    let (Some(h), Some(m), Some(sec), None) = (it.next(), it.next(), it.next(), it.next()) else {
        return false;
    };
    matches!(
        (digits(h, 2), digits(m, 2), digits(sec, 2)),
        (Some(h), Some(m), Some(sec)) if h < 24 && m < 60 && sec <= 60
    )
}

/// RFC 3339 `date-time`.
fn date_time(s: &str) -> bool {
    match s.find(['T', 't', ' ']) {
        Some(i) => date(&s[..i]) && time(&s[i + 1..]),
        None => false,
    }
}

fn email(s: &str) -> bool {
    let b = s.as_bytes();
    let Some(at) = b.iter().rposition(|&c| c == b'@') else {
        return false;
    };
    let (local, domain) = (&s[..at], &s[at + 1..]);
    // ASCII local parts (nearly all) are checked byte by byte; others by character.
    let plain = |c: &u8| c.is_ascii_graphic() && *c != b'@';
    let local_ok = if local.is_ascii() {
        local.as_bytes().iter().all(plain)
    } else {
        !local.contains('@') && !local.chars().any(|c| c.is_whitespace() || c.is_control())
    };
    !local.is_empty()
        && local.len() <= 64
        && local_ok
        && hostname(domain)
        && domain.as_bytes().contains(&b'.')
}

fn uuid(s: &str) -> bool {
    // Bit i set: byte i is a dash.
    const DASHES: u64 = 1 << 8 | 1 << 13 | 1 << 18 | 1 << 23;
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| {
            if DASHES >> i & 1 == 1 {
                *c == b'-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

/// An absolute URI: a scheme, a colon, and no spaces or controls.
fn uri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    let mut sb = scheme.bytes();
    sb.next().is_some_and(|c| c.is_ascii_alphabetic())
        && sb.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
        && !rest.bytes().any(|c| c <= b' ' || c == 0x7f)
}

fn hostname(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s).as_bytes();
    if s.is_empty() || s.len() > 253 {
        return false;
    }
    // One pass over labels: 1 to 63 letters, digits or dashes, not starting or ending with a
    // dash.
    let mut label = 0usize;
    let mut last = b'.';
    for &c in s {
        if c == b'.' {
            if label == 0 || last == b'-' {
                return false;
            }
            label = 0;
        } else {
            if !(c.is_ascii_alphanumeric() || c == b'-') || (label == 0 && c == b'-') {
                return false;
            }
            label += 1;
            if label > 63 {
                return false;
            }
        }
        last = c;
    }
    label > 0 && last != b'-'
}

fn base64(s: &str) -> bool {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_accept_and_refuse() {
        let cases: &[(Format, &str, bool)] = &[
            (Format::DateTime, "2026-11-24T10:00:00Z", true),
            (Format::DateTime, "2026-11-24T10:00:00.123+01:00", true),
            (Format::DateTime, "2026-02-30T10:00:00Z", false),
            (Format::DateTime, "yesterday", false),
            (Format::Date, "2024-02-29", true),
            (Format::Date, "2023-02-29", false),
            (Format::Email, "ann@example.com", true),
            (Format::Email, "ann@@example.com", false),
            (Format::Email, "' OR 1=1 --", false),
            (Format::Email, "ann smith@example.com", false),
            (Format::Email, "ann\u{7f}@example.com", false),
            (Format::Email, "ann@example", false),
            (Format::Email, "ann@.example.com", false),
            (Format::Email, "ann@example..com", false),
            (Format::Email, "@example.com", false),
            (Format::Email, "zoë@example.com", true),
            (Format::Email, "zoë\u{a0}x@example.com", false),
            (Format::Email, "first.last+tag@sub.example.co.uk", true),
            (Format::Uuid, "3fa85f64-5717-4562-b3fc-2c963f66afaZ", false),
            (Format::Uuid, "3fa85f64x5717-4562-b3fc-2c963f66afa6", false),
            (Format::Uuid, "3fa85f6445717-562-b3fc-2c963f66afa6", false),
            (Format::Uuid, "3fa85f64-5717-4562-b3fc-2c963f66afa6", true),
            (Format::Uuid, "3fa85f64", false),
            (Format::Uri, "https://example.com/x", true),
            (Format::Uri, "not a uri", false),
            (Format::Ipv4, "10.0.0.1", true),
            (Format::Ipv4, "10.0.0.256", false),
            (Format::Ipv6, "::1", true),
            (Format::Hostname, "api.example.com", true),
            (Format::Hostname, "-bad.example", false),
            (Format::Hostname, "bad-.example", false),
            (Format::Hostname, "example.com.", true),
            (Format::Hostname, "a..b", false),
            (Format::Hostname, ".", false),
            (Format::Hostname, "a_b.example", false),
            (Format::Hostname, "a-b.example", true),
            (Format::Byte, "aGVsbG8=", true),
            (Format::Byte, "@@@", false),
        ];
        for (f, s, ok) in cases {
            assert_eq!(f.check_str(s), *ok, "{} {s:?}", f.name());
        }
        let label = |n: usize| "a".repeat(n);
        assert!(Format::Hostname.check_str(&format!("{}.example", label(63))));
        assert!(!Format::Hostname.check_str(&format!("{}.example", label(64))));
        assert!(!Format::Hostname.check_str(&vec![label(60); 5].join(".")));
        assert!(!Format::Email.check_str(&format!("{}@example.com", label(65))));
        let big: serde_json::Number = (i64::from(i32::MAX) + 1).into();
        assert!(!Format::Int32.check_number(&big));
        assert!(Format::Int64.check_number(&big));
    }
}
