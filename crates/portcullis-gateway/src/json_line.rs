//! A minimal writer for one-line JSON objects (the access log), faster than serde for this
//! shape: strings without characters that need escaping, the usual case, are copied as they are.

use std::time::{SystemTime, UNIX_EPOCH};

/// Writes `{"key":value,...}` into a buffer.
pub struct JsonLine<'a> {
    buf: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> JsonLine<'a> {
    /// Starts an object.
    pub fn new(buf: &'a mut Vec<u8>) -> Self {
        buf.push(b'{');
        Self { buf, first: true }
    }

    fn key(&mut self, key: &str) {
        if !self.first {
            self.buf.push(b',');
        }
        self.first = false;
        self.buf.push(b'"');
        self.buf.extend_from_slice(key.as_bytes());
        self.buf.extend_from_slice(b"\":");
    }

    /// A string field (escaped as JSON requires).
    pub fn str(&mut self, key: &str, value: &str) {
        self.key(key);
        write_escaped(self.buf, value);
    }

    /// A string field, or `null`.
    pub fn opt_str(&mut self, key: &str, value: Option<&str>) {
        match value {
            Some(v) => self.str(key, v),
            None => self.raw(key, "null"),
        }
    }

    /// An unsigned integer field.
    pub fn u64(&mut self, key: &str, value: u64) {
        self.key(key);
        self.buf.extend_from_slice(itoa_u64(value, &mut [0u8; 20]));
    }

    /// A number field with three decimals (milliseconds with microsecond precision).
    pub fn millis(&mut self, key: &str, ms: f64) {
        self.key(key);
        let micros = (ms * 1000.0).round().max(0.0) as u64;
        self.buf
            .extend_from_slice(itoa_u64(micros / 1000, &mut [0u8; 20]));
        let frac = micros % 1000;
        self.buf.extend_from_slice(&[
            b'.',
            b'0' + (frac / 100) as u8,
            b'0' + (frac / 10 % 10) as u8,
            b'0' + (frac % 10) as u8,
        ]);
    }

    /// A boolean field.
    pub fn bool(&mut self, key: &str, value: bool) {
        self.raw(key, if value { "true" } else { "false" });
    }

    /// An RFC 3339 UTC timestamp with milliseconds.
    pub fn time(&mut self, key: &str, at: SystemTime) {
        self.key(key);
        self.buf.push(b'"');
        write_rfc3339_millis(self.buf, at);
        self.buf.push(b'"');
    }

    /// A field whose value is already JSON text.
    pub fn raw(&mut self, key: &str, value: &str) {
        self.key(key);
        self.buf.extend_from_slice(value.as_bytes());
    }

    /// Closes the object and ends the line.
    pub fn finish(self) {
        self.buf.extend_from_slice(b"}\n");
    }
}

fn itoa_u64(mut n: u64, scratch: &mut [u8; 20]) -> &[u8] {
    let mut i = scratch.len();
    loop {
        i -= 1;
        scratch[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &scratch[i..];
        }
    }
}

fn write_escaped(buf: &mut Vec<u8>, s: &str) {
    buf.push(b'"');
    let bytes = s.as_bytes();
    if !bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\') {
        buf.extend_from_slice(bytes);
    } else {
        for &b in bytes {
            match b {
                b'"' => buf.extend_from_slice(b"\\\""),
                b'\\' => buf.extend_from_slice(b"\\\\"),
                b'\n' => buf.extend_from_slice(b"\\n"),
                b'\r' => buf.extend_from_slice(b"\\r"),
                b'\t' => buf.extend_from_slice(b"\\t"),
                0..=0x1f => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    buf.extend_from_slice(b"\\u00");
                    buf.push(HEX[usize::from(b >> 4)]);
                    buf.push(HEX[usize::from(b & 0xf)]);
                }
                _ => buf.push(b),
            }
        }
    }
    buf.push(b'"');
}

thread_local! {
    /// The last second formatted (`YYYY-MM-DDTHH:MM:SS`), reused within that second.
    static SECOND: std::cell::RefCell<(u64, String)> = const { std::cell::RefCell::new((u64::MAX, String::new())) };
}

fn write_rfc3339_millis(buf: &mut Vec<u8>, at: SystemTime) {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    SECOND.with(|cell| {
        let mut cached = cell.borrow_mut();
        if cached.0 != secs {
            let text = humantime::format_rfc3339_seconds(
                UNIX_EPOCH + std::time::Duration::from_secs(secs),
            )
            .to_string();
            cached.1 = text.trim_end_matches('Z').to_owned();
            cached.0 = secs;
        }
        buf.extend_from_slice(cached.1.as_bytes());
    });
    let ms = since.subsec_millis();
    buf.extend_from_slice(&[
        b'.',
        b'0' + (ms / 100) as u8,
        b'0' + (ms / 10 % 10) as u8,
        b'0' + (ms % 10) as u8,
        b'Z',
    ]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn writes_valid_json_that_serde_reads_back() {
        let mut buf = Vec::new();
        let mut line = JsonLine::new(&mut buf);
        line.str("plain", "/users/7");
        line.str("tricky", "a\"b\\c\n\u{1}é\u{7f}");
        line.opt_str("none", None);
        line.u64("zero", 0);
        line.u64("big", u64::MAX);
        line.millis("ms", 12.3456);
        line.bool("yes", true);
        line.time("t", UNIX_EPOCH + Duration::from_millis(1_700_000_000_007));
        line.finish();
        assert_eq!(buf.last(), Some(&b'\n'));
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(v["plain"], "/users/7");
        assert_eq!(v["tricky"], "a\"b\\c\n\u{1}é\u{7f}");
        assert!(v["none"].is_null());
        assert_eq!(v["big"], u64::MAX);
        assert_eq!(v["ms"].as_f64(), Some(12.346));
        assert_eq!(v["t"], "2023-11-14T22:13:20.007Z");
    }
}
