//! Decoding transformations: URL (with `%uHHHH`), JavaScript, CSS, HTML entities, C escapes,
//! base64, and UTF-8 to `%uHHHH`. Invalid sequences are left as written, as ModSecurity does.

use std::borrow::Cow;

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The byte for a `%uHHHH`-style code point: full-width ASCII (U+FF01..U+FF5E) becomes its
/// ASCII twin, anything else its low byte.
fn unicode_byte(code: u32) -> u8 {
    if (0xFF01..=0xFF5E).contains(&code) {
        (code - 0xFEE0) as u8
    } else {
        (code & 0xFF) as u8
    }
}

/// The value of `n` hex digits at `input[at..]`, if they are all hex.
fn hex_n(input: &[u8], at: usize, n: usize) -> Option<u32> {
    let digits = input.get(at..at + n)?;
    digits
        .iter()
        .try_fold(0u32, |v, b| hex(*b).map(|d| v * 16 + u32::from(d)))
}

/// `urlDecodeUni`: `%HH`, `%uHHHH` and `+`.
pub fn url_uni(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.iter().any(|b| *b == b'%' || *b == b'+') {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'%' if matches!(input.get(i + 1), Some(b'u' | b'U')) => match hex_n(input, i + 2, 4) {
                Some(code) => {
                    out.push(unicode_byte(code));
                    i += 6;
                }
                None => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b'%' => match hex_n(input, i + 1, 2) {
                Some(v) => {
                    out.push(v as u8);
                    i += 3;
                }
                None => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Cow::Owned(out)
}

/// `jsDecode`: `\uHHHH`, `\xHH`, octal, and single-character escapes.
pub fn js(input: &[u8]) -> Cow<'_, [u8]> {
    backslash_escapes(input, |input, at| {
        let Some(&next) = input.get(at) else {
            return (Some(b'\\'), 0);
        };
        if matches!(next, b'u' | b'U') {
            if let Some(code) = hex_n(input, at + 1, 4) {
                return (Some(unicode_byte(code)), 5);
            }
        }
        if matches!(next, b'x' | b'X') {
            if let Some(v) = hex_n(input, at + 1, 2) {
                return (Some(v as u8), 3);
            }
        }
        if let Some((v, used)) = octal(input, at) {
            return (Some(v), used);
        }
        (Some(control_escape(next).unwrap_or(next)), 1)
    })
}

/// Rewrites each backslash escape of `input`: `escape` gets the input and the index just after
/// the backslash, and returns the byte to write (if any) and how many bytes after the backslash
/// it consumed.
fn backslash_escapes(
    input: &[u8],
    escape: impl Fn(&[u8], usize) -> (Option<u8>, usize),
) -> Cow<'_, [u8]> {
    if !input.contains(&b'\\') {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] != b'\\' {
            out.push(input[i]);
            i += 1;
            continue;
        }
        let (byte, used) = escape(input, i + 1);
        out.extend(byte);
        i += 1 + used;
    }
    Cow::Owned(out)
}

/// The control character of a C escape letter (`n` is a newline, ...).
fn control_escape(c: u8) -> Option<u8> {
    Some(match c {
        b'a' => 7,
        b'b' => 8,
        b'f' => 12,
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        b'v' => 11,
        _ => return None,
    })
}

/// Up to three octal digits at `at` (value at most 0o377): (value, digits used).
fn octal(input: &[u8], at: usize) -> Option<(u8, usize)> {
    let mut v: u32 = 0;
    let mut used = 0;
    while used < 3 {
        match input.get(at + used) {
            Some(d @ b'0'..=b'7') if v * 8 + u32::from(d - b'0') <= 0o377 => {
                v = v * 8 + u32::from(d - b'0');
                used += 1;
            }
            _ => break,
        }
    }
    (used > 0).then_some((v as u8, used))
}

/// `cssDecode`: `\` and 1-6 hex digits (one following whitespace swallowed), `\` and a newline
/// (removed), `\` and any other character (that character).
pub fn css(input: &[u8]) -> Cow<'_, [u8]> {
    backslash_escapes(input, |input, at| {
        let digits = input[at..]
            .iter()
            .take(6)
            .take_while(|b| b.is_ascii_hexdigit())
            .count();
        if digits > 0 {
            let code = hex_n(input, at, digits).unwrap_or(0);
            let space = matches!(
                input.get(at + digits),
                Some(b' ' | b'\t' | b'\n' | b'\r' | 12)
            );
            return (Some(unicode_byte(code)), digits + usize::from(space));
        }
        match input.get(at) {
            None => (None, 0),
            Some(b'\n') => (None, 1),
            Some(c) => (Some(*c), 1),
        }
    })
}

/// `escapeSeqDecode`: ANSI C escapes (`\n`, `\x41`, `\101`, ...); unknown escapes are kept.
pub fn escape_seq(input: &[u8]) -> Cow<'_, [u8]> {
    backslash_escapes(input, |input, at| {
        let Some(&next) = input.get(at) else {
            return (Some(b'\\'), 0);
        };
        let simple = match next {
            c @ (b'\\' | b'?' | b'\'' | b'"') => Some(c),
            c => control_escape(c),
        };
        if let Some(c) = simple {
            (Some(c), 1)
        } else if let (b'x' | b'X', Some(v)) = (next, hex_n(input, at + 1, 2)) {
            (Some(v as u8), 3)
        } else if let Some((v, used)) = octal(input, at) {
            (Some(v), used)
        } else {
            (Some(b'\\'), 0)
        }
    })
}

/// `htmlEntityDecode`: `&#DDD;`, `&#xHH;` and `&quot; &amp; &lt; &gt; &nbsp;` (the `;` may be
/// missing).
pub fn html_entities(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.contains(&b'&') {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] != b'&' {
            out.push(input[i]);
            i += 1;
            continue;
        }
        let rest = &input[i + 1..];
        let (value, used) = if let Some(num) = rest.strip_prefix(b"#") {
            let (radix, digits_at) = match num.first() {
                Some(b'x' | b'X') => (16, 2),
                _ => (10, 1),
            };
            let digits = rest[digits_at..]
                .iter()
                .take_while(|b| {
                    if radix == 16 {
                        b.is_ascii_hexdigit()
                    } else {
                        b.is_ascii_digit()
                    }
                })
                .count();
            if digits == 0 {
                (None, 0)
            } else {
                // Every digit is consumed and the value saturates, as C's strtol does
                // (`&#000...000123;` is `{`).
                let v = rest[digits_at..digits_at + digits]
                    .iter()
                    .fold(0u32, |acc, b| {
                        let d = (*b as char).to_digit(radix).unwrap_or(0);
                        acc.saturating_mul(radix).saturating_add(d)
                    });
                (Some(unicode_byte(v)), digits_at + digits)
            }
        } else {
            let named: &[(&[u8], u8)] = &[
                (b"quot", b'"'),
                (b"amp", b'&'),
                (b"lt", b'<'),
                (b"gt", b'>'),
                (b"nbsp", 0xA0),
            ];
            named
                .iter()
                .find(|(n, _)| rest.len() >= n.len() && rest[..n.len()].eq_ignore_ascii_case(n))
                .map_or((None, 0), |(n, v)| (Some(*v), n.len()))
        };
        match value {
            Some(v) => {
                out.push(v);
                i += 1 + used;
                if input.get(i) == Some(&b';') {
                    i += 1;
                }
            }
            None => {
                out.push(b'&');
                i += 1;
            }
        }
    }
    Cow::Owned(out)
}

/// `base64Decode`: decodes up to the first character that is not base64 (padding optional).
pub fn base64(input: &[u8]) -> Cow<'_, [u8]> {
    let value = |c: u8| -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    };
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in input {
        let Some(v) = value(*c) else { break };
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Cow::Owned(out)
}

/// `utf8toUnicode`: every multi-byte UTF-8 character as `%uHHHH` (lowercase hex, code points
/// above U+FFFF as their full value); ASCII and invalid bytes unchanged.
pub fn utf8_to_unicode(input: &[u8]) -> Cow<'_, [u8]> {
    if input.is_ascii() {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len() * 2);
    let mut rest = input;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                push_unicode(&mut out, s);
                break;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                push_unicode(&mut out, std::str::from_utf8(good).unwrap_or(""));
                let skip = e.error_len().unwrap_or(bad.len()).max(1).min(bad.len());
                out.extend_from_slice(&bad[..skip]);
                rest = &bad[skip..];
            }
        }
    }
    Cow::Owned(out)
}

fn push_unicode(out: &mut Vec<u8>, s: &str) {
    for c in s.chars() {
        if c.is_ascii() {
            out.push(c as u8);
        } else {
            out.extend_from_slice(format!("%u{:04x}", u32::from(c)).as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_decoding() {
        assert_eq!(url_uni(b"a%27+or%201%3D1").as_ref(), b"a' or 1=1");
        assert_eq!(url_uni(b"%u0027%uff1c%zz%4").as_ref(), b"'<%zz%4");
        assert!(matches!(url_uni(b"plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn js_css_and_c_escapes() {
        assert_eq!(
            js(b"\\x3cscript\\u003e\\101\\n\\q\\").as_ref(),
            b"<script>A\nq\\"
        );
        assert_eq!(js(b"\\uff1c").as_ref(), b"<");
        assert_eq!(css(b"\\3c script\\\nx\\a").as_ref(), b"<scriptx\n");
        assert_eq!(css(b"java\\53 cript").as_ref(), b"javaScript");
        assert_eq!(escape_seq(b"\\x41\\101\\n\\q").as_ref(), b"AA\n\\q");
    }

    #[test]
    fn html_entities_and_base64_and_unicode() {
        assert_eq!(
            html_entities(b"&lt;script&gt;&#x61;&#98&quot&amp;&bogus;").as_ref(),
            b"<script>ab\"&&bogus;"
        );
        assert_eq!(html_entities(b"&#0000000000000000123;x").as_ref(), b"{x");
        assert_eq!(base64(b"c2VsZWN0IDE=").as_ref(), b"select 1");
        assert_eq!(base64(b"YWJj!garbage").as_ref(), b"abc");
        assert_eq!(utf8_to_unicode("é<ß".as_bytes()).as_ref(), b"%u00e9<%u00df");
        assert_eq!(utf8_to_unicode(b"a\xffb").as_ref(), b"a\xffb");
    }
}
