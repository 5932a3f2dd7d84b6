//! Operators (`@rx`, `@pm`, `@detectSQLi`, ...): compiled once from a rule's argument, then
//! asked whether a (transformed) value matches. Arguments that hold macros (`%{tx.x}`) are
//! expanded per transaction by the caller and passed in.

pub mod byte_class;
pub mod factors;
mod injection;
mod pcre;
mod validate;

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use aho_corasick::AhoCorasick;
use ipnet::IpNet;
use regex::bytes::{Regex, RegexBuilder};

pub use injection::{InjectionDetector, Libinjection};

/// Largest `@pm` list (total phrase bytes) compiled to a DFA.
const MAX_DFA_PHRASE_BYTES: usize = 4096;

/// Largest compiled size of one `@rx` pattern.
const MAX_REGEX_BYTES: usize = 64 << 20;

/// An argument: fixed, or a template with macros to expand per transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// Known at load time.
    Literal(String),
    /// Contains `%{...}`: expanded when the rule runs.
    Macro(String),
}

impl Arg {
    fn new(text: &str) -> Self {
        if text.contains("%{") {
            Self::Macro(text.to_owned())
        } else {
            Self::Literal(text.to_owned())
        }
    }

    fn resolve<'a>(&'a self, expanded: Option<&'a [u8]>) -> &'a [u8] {
        match (self, expanded) {
            (Self::Macro(_), Some(e)) => e,
            (Self::Literal(s) | Self::Macro(s), _) => s.as_bytes(),
        }
    }
}

/// A numeric comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// `@eq`.
    Eq,
    /// `@ge`.
    Ge,
    /// `@gt`.
    Gt,
    /// `@le`.
    Le,
    /// `@lt`.
    Lt,
}

/// A compiled operator.
#[derive(Debug, Clone)]
pub enum Operator {
    /// `@rx`: regex search (captures available), and the smallest byte class it can match in.
    Rx(Regex, u8),
    /// `@pm` / `@pmFromFile`: any of the phrases, case-insensitive, the smallest byte class
    /// of a phrase, and the phrases (lowercase).
    Pm(AhoCorasick, u8, Arc<[Vec<u8>]>),
    /// `@streq`.
    Streq(Arg),
    /// `@within`: the value occurs in the argument.
    Within(Arg),
    /// `@contains`: the argument occurs in the value.
    Contains(Arg),
    /// `@beginsWith`.
    BeginsWith(Arg),
    /// `@endsWith`.
    EndsWith(Arg),
    /// `@eq`, `@ge`, `@gt`, `@le`, `@lt` (integers; text that is not a number counts as 0).
    Compare(Comparison, Arg),
    /// `@validateByteRange`: matches when a byte falls outside the allowed ranges.
    ValidateByteRange(Box<[bool; 256]>),
    /// `@validateUrlEncoding`: matches an invalid `%` escape.
    ValidateUrlEncoding,
    /// `@validateUtf8Encoding`: matches invalid UTF-8.
    ValidateUtf8Encoding,
    /// `@ipMatch`.
    IpMatch(Vec<IpNet>),
    /// `@unconditionalMatch`.
    Unconditional,
    /// `@detectSQLi`.
    DetectSqli,
    /// `@detectXSS`.
    DetectXss,
}

/// What a match yields: the captured texts (`TX.0`..`TX.9` when the rule captures).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Match {
    /// `captures[0]` is the whole match (or the phrase, or the libinjection fingerprint); empty
    /// when the caller did not ask for captures.
    pub captures: Vec<Vec<u8>>,
}

impl Operator {
    /// Compiles operator `name` with `argument` (files named by `@pmFromFile` are read from
    /// `base`).
    pub fn compile(name: &str, argument: &str, base: &Path) -> Result<Self, String> {
        Ok(match name {
            "rx" => {
                let pattern = pcre::bytes_pattern(argument);
                // PCRE as ModSecurity compiles it: bytes, not UTF-8 (`\x{e2}` is one byte, `.`
                // any byte), ASCII classes and case folding.
                let re = RegexBuilder::new(&pattern)
                    .unicode(false)
                    .size_limit(MAX_REGEX_BYTES)
                    .build()
                    .map_err(|e| {
                        let why = e.to_string();
                        format!("@rx: {}", why.lines().last().unwrap_or("invalid pattern"))
                    })?;
                Self::Rx(re, byte_class::regex_min_class(&pattern))
            }
            "pm" => phrases(argument.split_whitespace())?,
            "pmFromFile" => {
                let mut words = Vec::new();
                for file in argument.split_whitespace() {
                    let text = std::fs::read_to_string(base.join(file))
                        .map_err(|e| format!("@pmFromFile {file}: {e}"))?;
                    words.extend(
                        text.lines()
                            .map(str::trim)
                            .filter(|l| !l.is_empty() && !l.starts_with('#'))
                            .map(str::to_owned),
                    );
                }
                phrases(words.iter().map(String::as_str))?
            }
            "streq" => Self::Streq(Arg::new(argument)),
            "within" => Self::Within(Arg::new(argument)),
            "contains" => Self::Contains(Arg::new(argument)),
            "beginsWith" => Self::BeginsWith(Arg::new(argument)),
            "endsWith" => Self::EndsWith(Arg::new(argument)),
            "eq" => Self::Compare(Comparison::Eq, Arg::new(argument)),
            "ge" => Self::Compare(Comparison::Ge, Arg::new(argument)),
            "gt" => Self::Compare(Comparison::Gt, Arg::new(argument)),
            "le" => Self::Compare(Comparison::Le, Arg::new(argument)),
            "lt" => Self::Compare(Comparison::Lt, Arg::new(argument)),
            "validateByteRange" => Self::ValidateByteRange(validate::byte_ranges(argument)?),
            "validateUrlEncoding" => Self::ValidateUrlEncoding,
            "validateUtf8Encoding" => Self::ValidateUtf8Encoding,
            "ipMatch" => Self::IpMatch(
                argument
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| {
                        s.parse::<IpNet>()
                            .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                            .map_err(|_| format!("@ipMatch: {s:?} is not an address or CIDR"))
                    })
                    .collect::<Result<_, _>>()?,
            ),
            "unconditionalMatch" => Self::Unconditional,
            "detectSQLi" => Self::DetectSqli,
            "detectXSS" => Self::DetectXss,
            other => return Err(format!("unsupported operator @{other}")),
        })
    }

    /// Strings of which a value must hold one (ASCII case-insensitively) for the operator to
    /// match, when the operator has such a set worth checking: a regex's
    /// [factors](factors::required), a phrase list's phrases. (Negation is the caller's
    /// business.)
    pub fn factors(&self) -> Option<Vec<Vec<u8>>> {
        match self {
            Self::Rx(re, _) => factors::required(re.as_str()),
            Self::Pm(_, _, phrases) => Some(phrases.to_vec()),
            _ => None,
        }
    }

    /// The smallest [`byte_class`] of a value this operator could match (0: any value).
    pub fn min_class(&self) -> u8 {
        match self {
            Self::Rx(_, c) | Self::Pm(_, c, _) => *c,
            _ => 0,
        }
    }

    /// Whether `value` matches. `expanded` is the argument with its macros expanded (for
    /// operators whose argument has them; bytes, compared as ModSecurity compares them);
    /// `captures` asks for capture groups.
    pub fn evaluate(
        &self,
        value: &[u8],
        expanded: Option<&[u8]>,
        detector: &dyn InjectionDetector,
        captures: bool,
    ) -> Option<Match> {
        // Most matches feed no capture (and most rules that match, like the paranoia-level
        // skips, match often): the matched text is copied only when it is asked for.
        let whole = |m: &[u8]| Match {
            captures: if captures {
                vec![m.to_vec()]
            } else {
                Vec::new()
            },
        };
        match self {
            // A forward-only scan first: most values do not match, and `captures` allocates.
            Self::Rx(re, _) if !re.is_match(value) => None,
            Self::Rx(re, _) if captures => re.captures(value).map(|c| Match {
                captures: c
                    .iter()
                    .take(10)
                    .map(|g| g.map_or_else(Vec::new, |g| g.as_bytes().to_vec()))
                    .collect(),
            }),
            Self::Rx(re, _) => re.find(value).map(|m| whole(m.as_bytes())),
            Self::Pm(ac, _, _) => ac.find(value).map(|m| whole(&value[m.range()])),
            Self::Streq(a) => (value == a.resolve(expanded)).then(|| whole(value)),
            Self::Within(a) => {
                let hay = a.resolve(expanded);
                (value.is_empty() || find(hay, value)).then(|| whole(value))
            }
            Self::Contains(a) => {
                let needle = a.resolve(expanded);
                find(value, needle).then(|| whole(needle))
            }
            Self::BeginsWith(a) => {
                let p = a.resolve(expanded);
                value.starts_with(p).then(|| whole(p))
            }
            Self::EndsWith(a) => {
                let p = a.resolve(expanded);
                value.ends_with(p).then(|| whole(p))
            }
            Self::Compare(c, a) => {
                let (x, y) = (number(value), number(a.resolve(expanded)));
                let hit = match c {
                    Comparison::Eq => x == y,
                    Comparison::Ge => x >= y,
                    Comparison::Gt => x > y,
                    Comparison::Le => x <= y,
                    Comparison::Lt => x < y,
                };
                hit.then(|| whole(value))
            }
            Self::ValidateByteRange(allowed) => value
                .iter()
                .find(|b| !allowed[usize::from(**b)])
                .map(|b| whole(&[*b])),
            Self::ValidateUrlEncoding => validate::bad_url_encoding(value).then(|| whole(value)),
            Self::ValidateUtf8Encoding => std::str::from_utf8(value).is_err().then(|| whole(value)),
            Self::IpMatch(nets) => std::str::from_utf8(value)
                .ok()
                .and_then(|s| s.trim().parse::<IpAddr>().ok())
                .filter(|ip| nets.iter().any(|n| n.contains(ip)))
                .map(|_| whole(value)),
            Self::Unconditional => Some(Match::default()),
            Self::DetectSqli => detector.sqli(value).map(|fp| whole(fp.as_bytes())),
            Self::DetectXss => detector.xss(value).then(|| whole(value)),
        }
    }
}

fn phrases<'a>(words: impl Iterator<Item = &'a str>) -> Result<Operator, String> {
    let words: Vec<&str> = words.collect();
    if words.is_empty() {
        return Err("@pm needs at least one phrase".into());
    }
    let class = byte_class::phrases_min_class(words.iter().map(|w| w.as_bytes()));
    // A DFA (a table lookup per byte, about 3x faster to scan than the contiguous NFA the
    // crate picks for lists this size) when the list is short enough that its table stays
    // small; DFAs for all of CRS's lists took 39 MB.
    let bytes: usize = words.iter().map(|w| w.len()).sum();
    let kind = (bytes <= MAX_DFA_PHRASE_BYTES).then_some(aho_corasick::AhoCorasickKind::DFA);
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .kind(kind)
        .build(&words)
        .map(|ac| {
            let lower = words.iter().map(|w| w.as_bytes().to_ascii_lowercase());
            Operator::Pm(ac, class, lower.collect())
        })
        .map_err(|e| format!("@pm: {e}"))
}

/// Whether `needle` occurs in `hay` (a substring search, not a comparison per window: `@within`
/// runs it for every header name against the restricted-header list).
fn find(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

/// The integer at the start of `text`, as C's `atoi` reads it (0 when there is none).
/// Saturates instead of overflowing.
pub(crate) fn number(text: &[u8]) -> i64 {
    let t = text.trim_ascii_start();
    let (negative, digits) = match t.first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let n = digits
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0i64, |n, b| {
            n.saturating_mul(10).saturating_add(i64::from(b - b'0'))
        });
    if negative {
        -n
    } else {
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(name: &str, arg: &str, value: &str) -> Option<Match> {
        Operator::compile(name, arg, Path::new("."))
            .unwrap()
            .evaluate(value.as_bytes(), None, &Libinjection, true)
    }

    #[test]
    fn matching_operators() {
        let m = eval("rx", r"(?i)un(i)on\s+select", "1 UNION   SELECT 2").unwrap();
        assert_eq!(m.captures, [b"UNION   SELECT".to_vec(), b"I".to_vec()]);
        assert_eq!(
            eval("pm", "passwd shadow", "/etc/PASSWD").unwrap().captures[0],
            b"PASSWD"
        );
        assert!(eval("pm", "a b", "xyz").is_none());
        assert!(eval("streq", "GET", "GET").is_some() && eval("streq", "GET", "get").is_none());
        assert!(eval("within", "GET HEAD POST", "HEAD").is_some());
        assert!(eval("within", "GET HEAD POST", "PUT").is_none());
        assert!(eval("contains", "..", "/a/../b").is_some());
        assert!(eval("beginsWith", "/admin", "/admin/x").is_some());
        assert!(eval("endsWith", ".php", "/x.php").is_some());
        assert!(eval("gt", "5", "12").is_some() && eval("lt", "5", "12").is_none());
        assert!(eval("eq", "0", "abc").is_some(), "non-numbers count as 0");
        assert!(eval("ge", "2", "2x").is_some());
        assert!(eval("eq", "-3", " -3z").is_some() && eval("eq", "7", "+7").is_some());
        assert!(eval("ge", "9223372036854775807", "99999999999999999999").is_some());
        assert!(eval("ipMatch", "10.0.0.0/8, 192.168.1.1", "10.2.3.4").is_some());
        assert!(eval("ipMatch", "10.0.0.0/8", "11.0.0.1").is_none());
        assert!(eval("unconditionalMatch", "", "").is_some());
    }

    #[test]
    fn macro_arguments_use_the_expanded_text() {
        let op = Operator::compile("within", "%{tx.allowed_methods}", Path::new(".")).unwrap();
        assert!(op
            .evaluate(b"GET", Some(b"GET POST"), &Libinjection, false)
            .is_some());
        assert!(op
            .evaluate(b"TRACE", Some(b"GET POST"), &Libinjection, false)
            .is_none());
    }

    #[test]
    fn validation_and_injection_operators() {
        assert!(eval("validateByteRange", "32-126", "ok text").is_none());
        assert!(eval("validateByteRange", "32-126", "tab\there").is_some());
        assert!(eval("validateUrlEncoding", "", "a%2Fb").is_none());
        assert!(eval("validateUrlEncoding", "", "a%zzb").is_some());
        assert!(
            Operator::compile("validateUtf8Encoding", "", Path::new("."))
                .unwrap()
                .evaluate(b"\xc3\x28", None, &Libinjection, false)
                .is_some()
        );
        assert!(eval("detectSQLi", "", "1' OR '1'='1").is_some());
        assert!(eval("detectSQLi", "", "hello world").is_none());
        assert!(eval("detectXSS", "", "<script>alert(1)</script>").is_some());
        assert!(eval("detectXSS", "", "plain text").is_none());
        for (name, arg) in [
            ("rx", "(?=x)"),
            ("pm", ""),
            ("ipMatch", "nope"),
            ("validateByteRange", "9-x"),
            ("nope", ""),
        ] {
            assert!(
                Operator::compile(name, arg, Path::new(".")).is_err(),
                "{name}"
            );
        }
    }
}
