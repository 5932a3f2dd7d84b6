//! SecLang text into directives: logical lines (a trailing `\` continues a line; `#` starts a
//! comment line), then whitespace-separated arguments, double- or single-quoted where they hold
//! spaces. Inside quotes `\"` (or `\'`) is the quote itself; every other backslash is kept, since
//! rule patterns are full of them.

/// One directive as written: its name, its arguments, and the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawDirective {
    /// 1-based line of the directive's first physical line.
    pub line: usize,
    /// The directive name (`SecRule`, `Include`, ...).
    pub name: String,
    /// The arguments, unquoted.
    pub args: Vec<String>,
}

/// Splits `text` into directives, or says which line cannot be read.
pub fn directives(text: &str) -> Result<Vec<RawDirective>, (usize, String)> {
    let mut out = Vec::new();
    let mut logical = String::new();
    let mut start = 0;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end();
        if logical.is_empty() {
            start = i + 1;
            let t = line.trim_start();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
        }
        match line.strip_suffix('\\') {
            Some(head) => {
                logical.push_str(head);
                continue;
            }
            None => logical.push_str(line),
        }
        let tokens = split(&logical).map_err(|m| (start, m))?;
        logical.clear();
        let mut tokens = tokens.into_iter();
        if let Some(name) = tokens.next() {
            out.push(RawDirective {
                line: start,
                name,
                args: tokens.collect(),
            });
        }
    }
    if !logical.is_empty() {
        return Err((
            start,
            "the file ends inside a continued line (trailing `\\`)".into(),
        ));
    }
    Ok(out)
}

/// Splits a logical line into arguments.
fn split(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = line.trim().chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut token = String::new();
        if c == '"' || c == '\'' {
            chars.next();
            let mut closed = false;
            while let Some(ch) = chars.next() {
                if ch == '\\' && chars.peek() == Some(&c) {
                    token.push(c);
                    chars.next();
                } else if ch == c {
                    closed = true;
                    break;
                } else {
                    token.push(ch);
                }
            }
            if !closed {
                return Err(format!("unterminated {c}-quoted argument"));
            }
            if chars.peek().is_some_and(|n| !n.is_whitespace()) {
                return Err("a quoted argument must be followed by a space".into());
            }
        } else {
            while let Some(&ch) = chars.peek() {
                if ch.is_whitespace() {
                    break;
                }
                token.push(ch);
                chars.next();
            }
        }
        out.push(token);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuations_quotes_and_comments() {
        let text = "# a comment\n\nSecRule ARGS \"@rx a\\\"b\\d\" \\\n    \"id:1,\\\n    phase:2\"\nSecMarker END\n";
        let d = directives(text).unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].line, 3);
        assert_eq!(d[0].args, ["ARGS", "@rx a\"b\\d", "id:1,    phase:2"]);
        assert_eq!((d[1].line, d[1].name.as_str()), (6, "SecMarker"));
    }

    #[test]
    fn broken_lines_are_errors_with_their_line() {
        assert_eq!(directives("\nSecRule ARGS \"@rx a").unwrap_err().0, 2);
        assert_eq!(directives("SecAction \"id:1\" \\").unwrap_err().0, 1);
        assert!(directives("SecRule A \"x\"y").is_err());
    }
}
