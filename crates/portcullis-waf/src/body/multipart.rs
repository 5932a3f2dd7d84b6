//! `multipart/form-data` with ModSecurity's strict checks: a quoted or padded boundary, data
//! before the first or after the last boundary, folded part headers, bare-LF lines, a
//! Content-Disposition with a missing `;` or bad quoting all set `MULTIPART_STRICT_ERROR`; a
//! body without its final boundary, or a part without a name, is a body error.

use super::Parsed;

/// Parses `body` with the boundary named in `content_type`.
pub fn parse(body: &[u8], content_type: &[u8]) -> Parsed {
    let mut out = Parsed::default();
    let mut strict = false;
    let boundary = match boundary(content_type, &mut strict) {
        Ok(b) => b,
        Err(e) => {
            out.error = Some(format!("Multipart: {e}"));
            out.multipart_strict_error = Some(true);
            return out;
        }
    };
    let mut delimiter = b"--".to_vec();
    delimiter.extend_from_slice(&boundary);

    let mut part: Option<Part> = None;
    let mut seen_first = false;
    let mut finished = false;
    let mut rest = body;
    while !rest.is_empty() {
        let (line, ending, next) = match rest.iter().position(|b| *b == b'\n') {
            Some(i) if i > 0 && rest[i - 1] == b'\r' => {
                (&rest[..i - 1], &rest[i - 1..=i], &rest[i + 1..])
            }
            Some(i) => (&rest[..i], &rest[i..=i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..], &rest[rest.len()..]),
        };
        rest = next;
        if ending == b"\n" {
            strict = true; // a bare LF line ending
        }
        if finished {
            if !line.iter().all(u8::is_ascii_whitespace) {
                strict = true; // data after the last boundary
            }
            continue;
        }
        if let Some(after) = line.strip_prefix(delimiter.as_slice()) {
            let last = after.starts_with(b"--");
            let tail = if last { &after[2..] } else { after };
            if tail.iter().all(|b| *b == b' ' || *b == b'\t') {
                if !tail.is_empty() {
                    strict = true;
                }
                if let Some(p) = part.take() {
                    if let Err(e) = p.finish(&mut out) {
                        out.error.get_or_insert(e);
                    }
                }
                seen_first = true;
                if last {
                    finished = true;
                } else {
                    part = Some(Part::new());
                }
                continue;
            }
        }
        match &mut part {
            None => {
                if !seen_first && !line.is_empty() {
                    strict = true; // data before the first boundary
                }
            }
            Some(p) if p.in_headers => {
                if line.is_empty() {
                    p.in_headers = false;
                } else if line[0] == b' ' || line[0] == b'\t' {
                    strict = true; // folded header
                    match p.headers.last_mut() {
                        Some(h) => h.extend_from_slice(line),
                        None => {
                            out.error.get_or_insert_with(|| {
                                "Multipart: Invalid part header (folding)".into()
                            });
                        }
                    }
                } else if !line.contains(&b':') {
                    out.error.get_or_insert_with(|| {
                        "Multipart: Invalid part header (colon missing)".into()
                    });
                } else {
                    p.headers.push(line.to_vec());
                }
            }
            Some(p) => {
                if p.started_data {
                    p.data.extend_from_slice(&p.pending_ending);
                }
                p.data.extend_from_slice(line);
                p.pending_ending = ending.to_vec();
                p.started_data = true;
            }
        }
    }
    if !finished {
        out.error
            .get_or_insert_with(|| "Multipart: Final boundary missing".into());
    }
    if let Some(quirks) = out.multipart_strict_error {
        strict |= quirks;
    }
    out.multipart_strict_error = Some(strict || out.error.is_some());
    out
}

#[derive(Default)]
struct Part {
    in_headers: bool,
    headers: Vec<Vec<u8>>,
    data: Vec<u8>,
    pending_ending: Vec<u8>,
    started_data: bool,
}

impl Part {
    fn finish(self, out: &mut Parsed) -> Result<(), String> {
        let mut name = None;
        let mut filename = None;
        let mut strict = false;
        for h in &self.headers {
            let colon = h.iter().position(|b| *b == b':').unwrap_or(h.len());
            if h[..colon]
                .trim_ascii()
                .eq_ignore_ascii_case(b"content-disposition")
            {
                let (n, f) = disposition(&h[colon + 1..], &mut strict)?;
                name = n;
                filename = f;
            }
        }
        let name = name.ok_or("Multipart: Part missing name (Content-Disposition)")?;
        for h in self.headers {
            out.part_headers.push((name.clone(), h));
        }
        match filename {
            Some(f) => {
                out.files_sizes
                    .push((name.clone(), self.data.len().to_string().into_bytes()));
                out.files.push((name, f));
            }
            None => out.args.push((name, self.data)),
        }
        if strict {
            out.multipart_strict_error = Some(true);
        }
        Ok(())
    }
}

impl Part {
    fn new() -> Self {
        Self {
            in_headers: true,
            ..Self::default()
        }
    }
}

/// A part's name and file name.
type Disposition = (Option<Vec<u8>>, Option<Vec<u8>>);

/// `form-data; name="a"; filename="b"` into name and file name.
fn disposition(value: &[u8], strict: &mut bool) -> Result<Disposition, String> {
    let value = value.trim_ascii();
    let Some(rest) = strip_prefix_ci(value, b"form-data") else {
        return Err("Multipart: Invalid Content-Disposition header (not form-data)".into());
    };
    let (mut name, mut filename) = (None, None);
    let mut rest = rest.trim_ascii_start();
    while !rest.is_empty() {
        match rest.strip_prefix(b";") {
            Some(r) => rest = r.trim_ascii_start(),
            None => *strict = true, // semicolon missing
        }
        if rest.is_empty() {
            break;
        }
        let eq = rest
            .iter()
            .position(|b| *b == b'=')
            .ok_or("Multipart: Invalid Content-Disposition header (no value)")?;
        let key = rest[..eq].trim_ascii().to_ascii_lowercase();
        rest = rest[eq + 1..].trim_ascii_start();
        let v;
        if let Some(quoted) = rest.strip_prefix(b"\"") {
            let mut out = Vec::new();
            let mut i = 0;
            loop {
                match quoted.get(i) {
                    None => {
                        *strict = true; // unterminated quote
                        break;
                    }
                    Some(b'\\') if matches!(quoted.get(i + 1), Some(b'"' | b'\\')) => {
                        out.push(quoted[i + 1]);
                        i += 2;
                    }
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(b) => {
                        out.push(*b);
                        i += 1;
                    }
                }
            }
            v = out;
            rest = quoted.get(i..).unwrap_or(b"").trim_ascii_start();
        } else {
            let end = rest.iter().position(|b| *b == b';').unwrap_or(rest.len());
            let raw = rest[..end].trim_ascii();
            if raw.contains(&b'\'') || raw.contains(&b'"') || raw.contains(&b'\\') {
                *strict = true; // invalid quoting
            }
            v = raw.to_vec();
            rest = &rest[end..];
        }
        match key.as_slice() {
            b"name" => name = Some(v),
            b"filename" | b"filename*" => filename = Some(v),
            _ => {
                return Err(
                    "Multipart: Invalid Content-Disposition header (unknown parameter)".into(),
                )
            }
        }
    }
    Ok((name, filename))
}

fn strip_prefix_ci<'a>(s: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    (s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix))
        .then(|| &s[prefix.len()..])
}

/// The boundary parameter of `content_type`; quoting and padding set `strict`.
fn boundary(content_type: &[u8], strict: &mut bool) -> Result<Vec<u8>, String> {
    let lower = content_type.to_ascii_lowercase();
    let at = lower
        .windows(8)
        .position(|w| w == b"boundary")
        .ok_or("Boundary not found in C-T")?;
    let mut rest = &content_type[at + 8..];
    let before = rest.len();
    rest = rest.trim_ascii_start();
    if rest.len() != before {
        *strict = true;
    }
    rest = rest
        .strip_prefix(b"=")
        .ok_or("Invalid boundary in C-T (malformed)")?;
    let value = if rest.first().is_some_and(u8::is_ascii_whitespace) {
        *strict = true;
        rest.trim_ascii_start()
    } else {
        rest
    };
    let value = match value.strip_prefix(b"\"") {
        Some(q) => {
            *strict = true;
            let end = q
                .iter()
                .position(|b| *b == b'"')
                .ok_or("Invalid boundary in C-T (quote)")?;
            &q[..end]
        }
        None => {
            let end = value
                .iter()
                .position(|b| *b == b';' || *b == b',')
                .unwrap_or(value.len());
            let v = &value[..end];
            if v.last().is_some_and(u8::is_ascii_whitespace) {
                *strict = true;
            }
            v.trim_ascii_end()
        }
    };
    if value.is_empty() || value.len() > 70 {
        return Err("Invalid boundary in C-T (length)".into());
    }
    if !value.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        return Err("Invalid boundary in C-T (characters)".into());
    }
    Ok(value.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CT: &[u8] = b"multipart/form-data; boundary=xyz";

    #[test]
    fn fields_files_and_headers() {
        let body = b"--xyz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nhello\r\nworld\r\n--xyz\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.php\"\r\nContent-Type: text/plain\r\n\r\n<?php\r\n--xyz--\r\n";
        let p = parse(body, CT);
        assert_eq!(p.error, None);
        assert_eq!(p.multipart_strict_error, Some(false));
        assert_eq!(p.args, vec![(b"a".to_vec(), b"hello\r\nworld".to_vec())]);
        assert_eq!(p.files, vec![(b"f".to_vec(), b"x.php".to_vec())]);
        assert_eq!(p.files_sizes, vec![(b"f".to_vec(), b"5".to_vec())]);
        assert_eq!(p.part_headers.len(), 3);
    }

    #[test]
    fn strict_checks_and_errors() {
        let lf = b"--xyz\nContent-Disposition: form-data; name=\"a\"\n\nv\n--xyz--\n";
        assert_eq!(parse(lf, CT).multipart_strict_error, Some(true));
        let before =
            b"junk\r\n--xyz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--xyz--\r\n";
        assert_eq!(parse(before, CT).multipart_strict_error, Some(true));
        let quoted = b"--xyz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--xyz--\r\n";
        let p = parse(quoted, b"multipart/form-data; boundary=\"xyz\"");
        assert_eq!(p.multipart_strict_error, Some(true));
        let unfinished = b"--xyz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n";
        assert!(parse(unfinished, CT).error.is_some());
        let nameless = b"--xyz\r\nContent-Type: text/plain\r\n\r\nv\r\n--xyz--\r\n";
        assert!(parse(nameless, CT).error.is_some());
        assert!(parse(b"", b"multipart/form-data").error.is_some());
    }
}
