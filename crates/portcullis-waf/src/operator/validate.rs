//! The validating operators' helpers: byte ranges and URL encoding.

/// Parses `@validateByteRange` arguments such as `1-255` or `9,10,13,32-126`.
pub fn byte_ranges(argument: &str) -> Result<Box<[bool; 256]>, String> {
    let mut allowed = Box::new([false; 256]);
    for part in argument.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part, part),
        };
        let (Ok(lo), Ok(hi)) = (lo.parse::<u8>(), hi.parse::<u8>()) else {
            return Err(format!(
                "@validateByteRange: {part:?} is not a byte or byte range"
            ));
        };
        if lo > hi {
            return Err(format!("@validateByteRange: {part:?} is backwards"));
        }
        for b in lo..=hi {
            allowed[usize::from(b)] = true;
        }
    }
    if argument.trim().is_empty() {
        return Err("@validateByteRange needs ranges such as 32-126".into());
    }
    Ok(allowed)
}

/// Whether `value` has a `%` not followed by two hex digits.
pub fn bad_url_encoding(value: &[u8]) -> bool {
    let mut i = 0;
    while i < value.len() {
        if value[i] == b'%' {
            match value.get(i + 1..i + 3) {
                Some([a, b]) if a.is_ascii_hexdigit() && b.is_ascii_hexdigit() => i += 3,
                _ => return true,
            }
        } else {
            i += 1;
        }
    }
    false
}
