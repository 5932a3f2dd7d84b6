//! PCRE patterns as ModSecurity compiles them (without UTF mode) for Rust's regex engine in
//! byte mode: `\x{e2}` is the byte 0xE2, and a non-ASCII character written in the pattern is
//! the sequence of its UTF-8 bytes, each matched as a byte (also inside classes).

/// Rewrites `pattern` so that a non-Unicode byte regex reads it as PCRE would.
pub fn bytes_pattern(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '\\' {
            let rest = &pattern[i + 1..];
            if let Some(hex) = rest.strip_prefix("x{").and_then(|r| r.split_once('}')) {
                let digits = hex.0;
                if (1..=2).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_hexdigit())
                {
                    out.push_str(&format!("\\x{digits:0>2}"));
                    for _ in 0..digits.len() + 3 {
                        chars.next();
                    }
                    continue;
                }
            }
            out.push('\\');
            match chars.next() {
                Some((_, next)) if next.is_ascii() => out.push(next),
                Some((_, next)) => push_bytes(&mut out, next),
                None => {}
            }
        } else if c.is_ascii() {
            out.push(c);
        } else {
            push_bytes(&mut out, c);
        }
    }
    out
}

fn push_bytes(out: &mut String, c: char) {
    let mut buf = [0u8; 4];
    for b in c.encode_utf8(&mut buf).bytes() {
        out.push_str(&format!("\\x{b:02X}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_not_code_points() {
        assert_eq!(bytes_pattern(r"a\x{e2}\x{9}b"), r"a\xe2\x09b");
        assert_eq!(bytes_pattern(r"\\x{e2}"), r"\\x{e2}");
        assert_eq!(bytes_pattern("[ⓛ]"), r"[\xE2\x93\x9B]");
        assert_eq!(bytes_pattern(r"\x{2019}"), r"\x{2019}");
        let re = regex::bytes::RegexBuilder::new(&bytes_pattern(r"\x{bc}[^>\x{be}]*"))
            .unicode(false)
            .build()
            .unwrap();
        assert!(re.is_match(b"\xbcscript"));
    }
}
