//! JSON bodies flattened into arguments as ModSecurity 3 names them: `json.a.b` for nested
//! keys, `json.list.array_0` for array elements, scalars as their text (`true`, empty for
//! `null`, numbers exactly as written, as yajl hands them to ModSecurity). Duplicate keys are
//! all kept, in order, so no value hides behind another.
//!
//! A single pass over the bytes with an explicit stack of open containers (no recursion:
//! depth is bounded by [`MAX_JSON_DEPTH`], not by the thread's stack). Strict RFC 8259: anything else (trailing
//! commas, comments, control characters or invalid UTF-8 in strings, lone surrogates,
//! leading zeros, text after the document) is a body error; the arguments read before it are
//! kept.

use super::{Parsed, MAX_ARGUMENTS, MAX_JSON_DEPTH};

/// Parses `body`; on error the arguments read so far are kept and the error is set.
pub fn parse(body: &[u8]) -> Parsed {
    let mut out = Parsed::default();
    let mut p = Parser {
        text: body,
        at: 0,
        path: b"json".to_vec(),
        stack: Vec::new(),
        args: &mut out.args,
    };
    if let Err(e) = p.document() {
        out.error = Some(format!("JSON parsing error: {e} at byte {}", p.at));
    }
    out
}

/// An open object or array, and the length of the path before its members' suffixes.
enum Frame {
    Object { base: usize },
    Array { base: usize, index: usize },
}

struct Parser<'a> {
    text: &'a [u8],
    at: usize,
    /// The current value's argument name.
    path: Vec<u8>,
    stack: Vec<Frame>,
    args: &'a mut super::Pairs,
}

type Step = Result<(), &'static str>;

/// What [`Parser::value`] read.
enum Read {
    /// A scalar (now an argument).
    Scalar,
    /// The start of a container, up to its first member's value, whose path is set.
    Opened,
    /// An empty container's opening, left open on the stack.
    Empty,
}

impl Parser<'_> {
    fn document(&mut self) -> Step {
        loop {
            if let Read::Opened = self.value()? {
                continue;
            }
            // Close every container that ends here; stop at the next member or element.
            loop {
                self.skip_whitespace();
                let next = self.peek();
                let Some(top) = self.stack.last_mut() else {
                    return match next {
                        None => Ok(()),
                        Some(_) => Err("trailing characters"),
                    };
                };
                match (top, next) {
                    (Frame::Object { base }, Some(b',')) => {
                        let base = *base;
                        self.at += 1;
                        self.key(base)?;
                        break;
                    }
                    (Frame::Array { base, index }, Some(b',')) => {
                        *index += 1;
                        let (base, index) = (*base, *index);
                        self.at += 1;
                        self.element(base, index);
                        break;
                    }
                    (Frame::Object { base }, Some(b'}'))
                    | (Frame::Array { base, .. }, Some(b']')) => {
                        let base = *base;
                        self.at += 1;
                        self.path.truncate(base);
                        self.stack.pop();
                    }
                    _ => return Err("expected `,` or the end of the container"),
                }
            }
        }
    }

    /// One value at the current path: a scalar becomes an argument; a container is opened
    /// and left on the stack, with its first member's path set.
    fn value(&mut self) -> Result<Read, &'static str> {
        self.skip_whitespace();
        let scalar = match self.peek() {
            Some(b'{') => {
                self.open()?;
                let base = self.path.len();
                self.stack.push(Frame::Object { base });
                self.skip_whitespace();
                if self.peek() == Some(b'}') {
                    return Ok(Read::Empty);
                }
                self.key(base)?;
                return Ok(Read::Opened);
            }
            Some(b'[') => {
                self.open()?;
                let base = self.path.len();
                self.stack.push(Frame::Array { base, index: 0 });
                self.skip_whitespace();
                if self.peek() == Some(b']') {
                    return Ok(Read::Empty);
                }
                self.element(base, 0);
                return Ok(Read::Opened);
            }
            Some(b'"') => self.string()?,
            Some(b't') => self.word(b"true")?,
            Some(b'f') => self.word(b"false")?,
            Some(b'n') => {
                self.word(b"null")?;
                Vec::new()
            }
            Some(b'-' | b'0'..=b'9') => self.number()?,
            _ => return Err("expected a value"),
        };
        if self.args.len() >= MAX_ARGUMENTS {
            return Err("too many arguments");
        }
        self.args.push((self.path.clone(), scalar));
        Ok(Read::Scalar)
    }

    /// Consumes `{` or `[`, within the depth limit.
    fn open(&mut self) -> Step {
        if self.stack.len() >= MAX_JSON_DEPTH {
            return Err("nested too deeply");
        }
        self.at += 1;
        Ok(())
    }

    /// Reads `"key":` and sets the path of its value: `base` + `.key`.
    fn key(&mut self, base: usize) -> Step {
        self.skip_whitespace();
        if self.peek() != Some(b'"') {
            return Err("expected a key");
        }
        let key = self.string()?;
        self.skip_whitespace();
        if self.peek() != Some(b':') {
            return Err("expected `:`");
        }
        self.at += 1;
        self.path.truncate(base);
        self.path.push(b'.');
        self.path.extend_from_slice(&key);
        Ok(())
    }

    /// Sets the path of element `index` of the array whose path is `base` long.
    fn element(&mut self, base: usize, index: usize) {
        use std::io::Write as _;
        self.path.truncate(base);
        // Writing into a Vec cannot fail.
        let _ = write!(self.path, ".array_{index}");
    }

    /// Consumes `word` (`true`, `false`, `null`); the word.
    fn word(&mut self, word: &'static [u8]) -> Result<Vec<u8>, &'static str> {
        if !self.text[self.at..].starts_with(word) {
            return Err("expected a value");
        }
        self.at += word.len();
        Ok(word.to_vec())
    }

    /// A number, checked against the JSON grammar and kept as written.
    fn number(&mut self) -> Result<Vec<u8>, &'static str> {
        let start = self.at;
        self.eat(b'-');
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err("invalid number"),
        }
        if self.eat(b'.') {
            if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
                return Err("invalid number");
            }
            self.digits();
        }
        if self.eat(b'e') || self.eat(b'E') {
            if !self.eat(b'+') {
                self.eat(b'-');
            }
            if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
                return Err("invalid number");
            }
            self.digits();
        }
        Ok(self.text[start..self.at].to_vec())
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
    }

    /// A string (the cursor on its opening quote), unescaped, as UTF-8.
    fn string(&mut self) -> Result<Vec<u8>, &'static str> {
        self.at += 1;
        let mut out = Vec::new();
        loop {
            let rest = &self.text[self.at..];
            let run = rest
                .iter()
                .position(|b| matches!(b, b'"' | b'\\' | 0..=0x1f))
                .ok_or("unterminated string")?;
            let plain = &rest[..run];
            if std::str::from_utf8(plain).is_err() {
                return Err("invalid UTF-8 in a string");
            }
            out.extend_from_slice(plain);
            self.at += run;
            match self.text[self.at] {
                b'"' => {
                    self.at += 1;
                    return Ok(out);
                }
                b'\\' => {
                    self.at += 1;
                    self.escape(&mut out)?;
                }
                _ => return Err("control character in a string"),
            }
        }
    }

    /// The escape after a backslash.
    fn escape(&mut self, out: &mut Vec<u8>) -> Step {
        let b = self.peek().ok_or("unterminated string")?;
        self.at += 1;
        let c = match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let first = self.hex4()?;
                let code = match first {
                    0xD800..=0xDBFF => {
                        if !self.text[self.at..].starts_with(b"\\u") {
                            return Err("lone surrogate");
                        }
                        self.at += 2;
                        let second = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&second) {
                            return Err("lone surrogate");
                        }
                        0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
                    }
                    0xDC00..=0xDFFF => return Err("lone surrogate"),
                    c => c,
                };
                char::from_u32(code).ok_or("invalid escape")?
            }
            _ => return Err("invalid escape"),
        };
        let mut buf = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, &'static str> {
        let digits = self
            .text
            .get(self.at..self.at + 4)
            .ok_or("invalid escape")?;
        let mut v = 0;
        for d in digits {
            v = v * 16 + char::from(*d).to_digit(16).ok_or("invalid escape")?;
        }
        self.at += 4;
        Ok(v)
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        self.at += usize::from(hit);
        hit
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(body: &str) -> Vec<(String, String)> {
        let p = parse(body.as_bytes());
        assert!(p.error.is_none(), "{body}: {:?}", p.error);
        p.args
            .into_iter()
            .map(|(k, v)| (String::from_utf8(k).unwrap(), String::from_utf8(v).unwrap()))
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn flattens_like_modsecurity() {
        assert_eq!(
            args(r#"{"a":{"b":"x"},"l":[1,true,null],"a":"dup"}"#),
            pairs(&[
                ("json.a.b", "x"),
                ("json.l.array_0", "1"),
                ("json.l.array_1", "true"),
                ("json.l.array_2", ""),
                ("json.a", "dup"),
            ])
        );
        assert_eq!(
            args(" [ [ ] , { } , [ [ 1.50e+3 , -0 ] ] , \"s\" ] "),
            pairs(&[
                ("json.array_2.array_0.array_0", "1.50e+3"),
                ("json.array_2.array_0.array_1", "-0"),
                ("json.array_3", "s"),
            ])
        );
        assert_eq!(args("\"top\""), pairs(&[("json", "top")]));
        assert_eq!(
            args(r#"{"k\u00e9\"":"a\\b\/\n\ud83d\ude00"}"#),
            pairs(&[("json.k\u{e9}\"", "a\\b/\n\u{1F600}")])
        );
    }

    #[test]
    fn refuses_what_rfc_8259_refuses_and_keeps_what_came_before() {
        for bad in [
            "",
            "{",
            "{\"a\":",
            "{} x",
            "[1,]",
            "{\"a\":1,}",
            "[01]",
            "[1.]",
            "[.5]",
            "[1e]",
            "[+1]",
            "{a:1}",
            "[tru]",
            "[\"\t\"]",
            "[\"\\x\"]",
            "[\"\\ud800\"]",
            "[\"\\udc00\"]",
            "[\"\\ud800\\u0041\"]",
            "[\"\\u12\"]",
            "[1 2]",
            "{\"a\" 1}",
            "[\"a\"",
            "// c\n1",
            "[NaN]",
        ] {
            assert!(parse(bad.as_bytes()).error.is_some(), "{bad:?} accepted");
        }
        assert!(
            parse(b"[\"\xff\"]").error.is_some(),
            "invalid UTF-8 accepted"
        );
        let partial = parse(br#"{"a":"kept","b":[1,"#);
        assert!(partial.error.is_some());
        assert_eq!(partial.args[0], (b"json.a".to_vec(), b"kept".to_vec()));
        let deep = "[".repeat(10_000);
        assert!(parse(deep.as_bytes()).error.is_some());
        let nested = format!(
            "{}1{}",
            "[".repeat(MAX_JSON_DEPTH),
            "]".repeat(MAX_JSON_DEPTH)
        );
        assert!(parse(nested.as_bytes()).error.is_none());
    }

    #[test]
    fn accepts_exactly_what_serde_json_accepts() {
        // Mutations of a document with every kind of token, one byte at a time: the two
        // parsers must agree on every one, and on the values where they accept.
        let seed = br#"{"a":[1,-2.5e+3,true,false,null,"x\u00e9\n"],"b":{"c":{}},"d":[]}"#;
        let bytes = b"{}[]\",:\\-+.eE0159tfnulx \n\x01\xc3\xa9";
        let mut next = crate::xorshift(0x2545_f491_4f6c_dd1d);
        let mut accepted = 0;
        for _ in 0..20_000 {
            let mut doc = seed.to_vec();
            for _ in 0..1 + next() % 3 {
                let at = (next() % doc.len() as u64) as usize;
                let b = bytes[(next() % bytes.len() as u64) as usize];
                match next() % 3 {
                    0 => doc[at] = b,
                    1 => doc.insert(at, b),
                    _ => {
                        doc.remove(at);
                    }
                }
                if doc.is_empty() {
                    doc.push(b'1');
                }
            }
            let ours = parse(&doc);
            let theirs = serde_json::from_slice::<Oracle>(&doc);
            assert_eq!(
                ours.error.is_none(),
                theirs.is_ok(),
                "{:?}: {:?}",
                String::from_utf8_lossy(&doc),
                ours.error
            );
            if let Ok(Oracle(expected)) = theirs {
                accepted += 1;
                let got: Vec<(Vec<u8>, Vec<u8>)> = ours
                    .args
                    .into_iter()
                    .map(|(k, v)| {
                        // Kept as written: compared by value (serde_json's float reading
                        // can be an ulp off).
                        let n = std::str::from_utf8(&v).ok().and_then(|t| {
                            let n: f64 = t.parse().ok()?;
                            serde_json::from_str::<serde_json::Number>(t).ok()?;
                            Some(format!("{n:.10e}").into_bytes())
                        });
                        (k, n.unwrap_or(v))
                    })
                    .collect();
                assert_eq!(got, expected, "{:?}", String::from_utf8_lossy(&doc));
            }
        }
        assert!(accepted > 1_000 && accepted < 19_000, "{accepted} accepted");
    }

    /// The arguments serde_json's reading of a document gives (the test's oracle), numbers
    /// as f64 in scientific notation.
    struct Oracle(Vec<(Vec<u8>, Vec<u8>)>);

    impl<'de> serde::Deserialize<'de> for Oracle {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let mut out = Vec::new();
            serde::de::DeserializeSeed::deserialize(
                Walk {
                    path: "json".into(),
                    out: &mut out,
                },
                d,
            )?;
            Ok(Oracle(out))
        }
    }

    struct Walk<'a> {
        path: String,
        out: &'a mut Vec<(Vec<u8>, Vec<u8>)>,
    }

    impl Walk<'_> {
        fn leaf<E>(self, v: impl ToString) -> Result<(), E> {
            self.out
                .push((self.path.into_bytes(), v.to_string().into_bytes()));
            Ok(())
        }
    }

    impl<'de> serde::de::DeserializeSeed<'de> for Walk<'_> {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> serde::de::Visitor<'de> for Walk<'_> {
        type Value = ();
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_bool<E>(self, v: bool) -> Result<(), E> {
            self.leaf(v)
        }
        fn visit_i64<E>(self, v: i64) -> Result<(), E> {
            self.leaf(format!("{:.10e}", v as f64))
        }
        fn visit_u64<E>(self, v: u64) -> Result<(), E> {
            self.leaf(format!("{:.10e}", v as f64))
        }
        fn visit_f64<E>(self, v: f64) -> Result<(), E> {
            self.leaf(format!("{v:.10e}"))
        }
        fn visit_str<E>(self, v: &str) -> Result<(), E> {
            self.leaf(v)
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            self.leaf("")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            let mut i = 0;
            while let Some(()) = seq.next_element_seed(Walk {
                path: format!("{}.array_{i}", self.path),
                out: &mut *self.out,
            })? {
                i += 1;
            }
            Ok(())
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while let Some(k) = map.next_key::<String>()? {
                map.next_value_seed(Walk {
                    path: format!("{}.{k}", self.path),
                    out: &mut *self.out,
                })?;
            }
            Ok(())
        }
    }
}
