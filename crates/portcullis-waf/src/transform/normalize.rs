//! Normalising transformations: whitespace, comments, shell command lines and paths.

use std::borrow::Cow;

/// Whitespace as ModSecurity counts it (`isspace` and the non-breaking space).
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 11 | 12 | 0xA0)
}

/// `compressWhitespace`: each run of whitespace becomes one space.
pub fn compress_whitespace(input: &[u8]) -> Cow<'_, [u8]> {
    let needs = input.windows(2).any(|w| is_space(w[0]) && is_space(w[1]))
        || input.iter().any(|b| is_space(*b) && *b != b' ');
    if !needs {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len());
    let mut in_space = false;
    for &b in input {
        if is_space(b) {
            if !in_space {
                out.push(b' ');
            }
            in_space = true;
        } else {
            out.push(b);
            in_space = false;
        }
    }
    Cow::Owned(out)
}

/// `removeWhitespace`.
pub fn remove_whitespace(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.iter().any(|b| is_space(*b)) {
        return Cow::Borrowed(input);
    }
    Cow::Owned(input.iter().copied().filter(|b| !is_space(*b)).collect())
}

/// `replaceComments`: each C comment (`/* ... */`, or an unterminated one to the end) becomes
/// one space.
pub fn replace_comments(input: &[u8]) -> Cow<'_, [u8]> {
    if !input.windows(2).any(|w| w == b"/*") {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i..].starts_with(b"/*") {
            out.push(b' ');
            match input[i + 2..].windows(2).position(|w| w == b"*/") {
                Some(end) => i += 2 + end + 2,
                None => break,
            }
        } else {
            out.push(input[i]);
            i += 1;
        }
    }
    Cow::Owned(out)
}

/// `removeCommentsChar`: removes comment markers (`/*`, `*/`, `<!--`, `-->`, `--`, `#`).
pub fn remove_comment_chars(input: &[u8]) -> Cow<'_, [u8]> {
    const MARKERS: [&[u8]; 6] = [b"<!--", b"-->", b"/*", b"*/", b"--", b"#"];
    let has = |at: &[u8]| MARKERS.iter().find(|m| at.starts_with(m)).map(|m| m.len());
    if !(0..input.len()).any(|i| has(&input[i..]).is_some()) {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match has(&input[i..]) {
            Some(n) => i += n,
            None => {
                out.push(input[i]);
                i += 1;
            }
        }
    }
    Cow::Owned(out)
}

/// `cmdLine`: removes `\ " ' ^`, removes spaces before `/` and `(`, turns `,` and `;` into
/// spaces, compresses whitespace and lowercases (defeats `c^a"t /e't'c/pass*d`-style tricks).
pub fn cmd_line(input: &[u8]) -> Cow<'_, [u8]> {
    let mut out: Vec<u8> = Vec::with_capacity(input.len());
    for &b in input {
        match b {
            b'\\' | b'"' | b'\'' | b'^' => {}
            b',' | b';' => push_space(&mut out),
            b if is_space(b) => push_space(&mut out),
            b'/' | b'(' => {
                while out.last() == Some(&b' ') {
                    out.pop();
                }
                out.push(b);
            }
            b => out.push(b.to_ascii_lowercase()),
        }
    }
    if out == input {
        Cow::Borrowed(input)
    } else {
        Cow::Owned(out)
    }
}

fn push_space(out: &mut Vec<u8>) {
    if out.last() != Some(&b' ') {
        out.push(b' ');
    }
}

/// `normalizePath` (and, with `windows`, `normalizePathWin`): `\` to `/` on Windows, repeated
/// slashes collapsed, `.` segments removed, `..` segments resolved (kept at the start of a
/// relative path).
pub fn path(input: &[u8], windows: bool) -> Cow<'_, [u8]> {
    // Most values (every argument CRS reads through `t:normalizePath`) are no paths to fold:
    // answered without building one.
    if !(windows && input.contains(&b'\\')) && is_normal_path(input) {
        return Cow::Borrowed(input);
    }
    rebuild_path(input, windows)
}

/// Whether [`path`] leaves `p` as it is: no `.` or `..` segment, and no empty one except
/// before a leading `/` or after a trailing one.
fn is_normal_path(p: &[u8]) -> bool {
    let last = p.iter().filter(|b| **b == b'/').count();
    p.split(|b| *b == b'/')
        .enumerate()
        .all(|(i, seg)| match seg {
            b"." | b".." => false,
            b"" => i == 0 || i == last,
            _ => true,
        })
}

/// [`path`], by splitting and joining the segments.
fn rebuild_path(input: &[u8], windows: bool) -> Cow<'_, [u8]> {
    let converted: Cow<'_, [u8]> = if windows && input.contains(&b'\\') {
        Cow::Owned(
            input
                .iter()
                .map(|b| if *b == b'\\' { b'/' } else { *b })
                .collect(),
        )
    } else {
        Cow::Borrowed(input)
    };
    let p: &[u8] = &converted;
    let absolute = p.first() == Some(&b'/');
    let trailing = p.len() > 1 && (p.ends_with(b"/") || p.ends_with(b"/.") || p.ends_with(b"/.."));
    let mut segments: Vec<&[u8]> = Vec::new();
    for seg in p.split(|b| *b == b'/') {
        match seg {
            b"" | b"." => {}
            b".." => {
                if segments.last().is_some_and(|s| *s != b"..") {
                    segments.pop();
                } else if !absolute {
                    segments.push(seg);
                }
            }
            s => segments.push(s),
        }
    }
    let mut out = Vec::with_capacity(p.len());
    if absolute {
        out.push(b'/');
    }
    for (i, s) in segments.iter().enumerate() {
        if i > 0 {
            out.push(b'/');
        }
        out.extend_from_slice(s);
    }
    if trailing && !out.ends_with(b"/") {
        out.push(b'/');
    }
    if out == input {
        Cow::Borrowed(input)
    } else {
        Cow::Owned(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_left_as_it_is_is_one_rebuilding_leaves_unchanged() {
        let alphabet = b"a/.\\";
        let mut next = crate::xorshift(0x2545_f491_4f6c_dd1d);
        for _ in 0..20_000 {
            let len = (next() % 9) as usize;
            let p: Vec<u8> = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            for windows in [false, true] {
                assert_eq!(
                    path(&p, windows),
                    rebuild_path(&p, windows),
                    "{:?} windows={windows}",
                    String::from_utf8_lossy(&p)
                );
                let unchanged = matches!(rebuild_path(&p, windows), Cow::Borrowed(_));
                assert_eq!(matches!(path(&p, windows), Cow::Borrowed(_)), unchanged);
            }
        }
    }

    #[test]
    fn whitespace_and_comments() {
        assert_eq!(compress_whitespace(b"a \t\n b\xa0c").as_ref(), b"a b c");
        assert!(matches!(compress_whitespace(b"a b"), Cow::Borrowed(_)));
        assert_eq!(remove_whitespace(b" s e\tl\necT ").as_ref(), b"selecT");
        assert_eq!(
            replace_comments(b"un/**/ion/* x */select/*open").as_ref(),
            b"un ion select "
        );
        assert_eq!(
            remove_comment_chars(b"a/*b*/c--d#e<!--f-->").as_ref(),
            b"abcdef"
        );
    }

    #[test]
    fn command_lines_and_paths() {
        assert_eq!(
            cmd_line(b"C^a\"T /E't'c/pass\\wd ;ls,  -la").as_ref(),
            b"cat/etc/passwd ls -la"
        );
        assert_eq!(cmd_line(b"ping (x)").as_ref(), b"ping(x)");
        assert_eq!(path(b"/a//b/./c/../d/", false).as_ref(), b"/a/b/d/");
        assert_eq!(path(b"/../../etc/passwd", false).as_ref(), b"/etc/passwd");
        assert_eq!(path(b"../x/./y", false).as_ref(), b"../x/y");
        assert_eq!(
            path(b"c:\\windows\\..\\boot.ini", true).as_ref(),
            b"c:/boot.ini"
        );
        assert!(matches!(path(b"/a/b", false), Cow::Borrowed(_)));
    }
}
