//! `name=value&name=value` (query strings and form bodies), decoded the way ModSecurity does:
//! `+` is a space, `%XX` a byte, anything else (an invalid escape) kept as it is.

/// Splits and decodes `input` on `separator`; empty items are skipped.
pub fn parse(input: &[u8], separator: u8) -> super::Pairs {
    input
        .split(|b| *b == separator)
        .filter(|item| !item.is_empty())
        .map(|item| match item.iter().position(|b| *b == b'=') {
            Some(eq) => (decode(&item[..eq], true), decode(&item[eq + 1..], true)),
            None => (decode(item, true), Vec::new()),
        })
        .collect()
}

/// Percent-decodes `input` (and `+` to space when `plus`).
pub fn decode(input: &[u8], plus: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b == b'%' {
            if let (Some(h), Some(l)) = (
                input.get(i + 1).and_then(|c| hex(*c)),
                input.get(i + 2).and_then(|c| hex(*c)),
            ) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(if plus && b == b'+' { b' ' } else { b });
        i += 1;
    }
    out
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_like_modsecurity() {
        let p = parse(b"a=1+2&b=%41%zz&&c&d=x=y", b'&');
        assert_eq!(
            p,
            vec![
                (b"a".to_vec(), b"1 2".to_vec()),
                (b"b".to_vec(), b"A%zz".to_vec()),
                (b"c".to_vec(), b"".to_vec()),
                (b"d".to_vec(), b"x=y".to_vec()),
            ]
        );
        assert_eq!(decode(b"%2", true), b"%2");
        assert_eq!(decode(b"a+b%20", false), b"a+b ");
    }
}
