//! The literal factors of a regex: a set of strings such that every match of the regex
//! contains at least one of them (compared ASCII case-insensitively). A value that holds none of
//! them cannot match, so one Aho-Corasick pass over a value can rule out every regex whose
//! factors it lacks (see [`crate::engine::chains`]), the way Hyperscan and the `regex` crate's
//! own prefilters decompose patterns into literals first.
//!
//! The analysis walks the pattern's syntax tree. For each node it knows, when small enough, the
//! exact set of strings the node matches, and otherwise the best set of factors found inside
//! it: a concatenation needs any one of its parts (the longest exact run is usually best), an
//! alternation needs one factor of each branch, a repetition at least once needs its body. All
//! strings are lowercased; that only makes the filter let more values through.

use regex_automata::util::syntax;
use regex_syntax::hir::{Class, Hir, HirKind};

/// Most strings a set may hold.
const MAX_SET: usize = 64;
/// Most strings the factors of an alternation may hold.
const MAX_FACTORS: usize = 512;
/// Longest string kept in an exact set.
const MAX_LEN: usize = 48;
/// Most distinct (lowercased) bytes a class may match and still count as exact.
const MAX_CLASS: usize = 4;
/// Weakest set worth a filter (see [`score`]).
const MIN_SCORE: usize = 3;

/// A set of lowercase strings.
type Set = Vec<Vec<u8>>;

/// What a node contributes: the exact strings it matches (when few and short), and the best
/// factor set found inside it.
#[derive(Debug, Default)]
struct Info {
    exact: Option<Set>,
    factors: Option<Set>,
}

impl Info {
    fn exact(set: Set) -> Self {
        Self {
            exact: Some(set),
            factors: None,
        }
    }

    /// The stronger of its exact set and its factors.
    fn best(self) -> Option<Set> {
        better(self.exact, self.factors)
    }
}

/// The factors of the (PCRE-as-bytes) `pattern`, or `None` when no set is strong enough to be
/// worth a filter.
pub fn required(pattern: &str) -> Option<Set> {
    let config = syntax::Config::new().unicode(false).utf8(false);
    let hir = syntax::parse_with(pattern, &config).ok()?;
    analyze(&hir).best().filter(|s| score(s) >= MIN_SCORE)
}

/// How selective a set is: the weakest string's length, with two extra for a string holding a
/// byte other than a letter or digit (rarer in clean values). An empty string scores 0 (it is
/// in every value); the empty set, which nothing matches, scores highest.
fn score(set: &Set) -> usize {
    set.iter()
        .map(|s| {
            let rare = s.iter().any(|b| !b.is_ascii_alphanumeric());
            s.len() + if rare && !s.is_empty() { 2 } else { 0 }
        })
        .min()
        .unwrap_or(usize::MAX)
}

/// The stronger of two candidate sets.
fn better(a: Option<Set>, b: Option<Set>) -> Option<Set> {
    match (a, b) {
        (Some(a), Some(b)) => {
            let (sa, sb) = (score(&a), score(&b));
            if sa > sb || (sa == sb && a.len() <= b.len()) {
                Some(a)
            } else {
                Some(b)
            }
        }
        (a, b) => a.or(b),
    }
}

fn analyze(hir: &Hir) -> Info {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Info::exact(vec![Vec::new()]),
        HirKind::Literal(lit) => Info::exact(vec![lit.0.to_ascii_lowercase()]),
        HirKind::Class(class) => class_bytes(class).map_or_else(Info::default, |bytes| {
            Info::exact(bytes.into_iter().map(|b| vec![b]).collect())
        }),
        HirKind::Capture(c) => analyze(&c.sub),
        HirKind::Repetition(r) => {
            let sub = analyze(&r.sub);
            match (r.min, r.max) {
                (0, Some(1)) => Info {
                    exact: sub.exact.map(|mut e| {
                        e.push(Vec::new());
                        dedupe(e)
                    }),
                    factors: None,
                },
                (0, _) => Info::default(),
                (1, Some(1)) => sub,
                _ => Info {
                    exact: None,
                    factors: sub.best(),
                },
            }
        }
        HirKind::Concat(parts) => concat(parts),
        HirKind::Alternation(branches) => alternation(branches),
    }
}

/// The lowercased bytes a class matches, when there are at most [`MAX_CLASS`] of them.
fn class_bytes(class: &Class) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut add = |start: u32, end: u32| -> Option<()> {
        if end - start >= 256 {
            return None;
        }
        for c in start..=end {
            let b = u8::try_from(c).ok()?.to_ascii_lowercase();
            if !out.contains(&b) {
                out.push(b);
                if out.len() > MAX_CLASS {
                    return None;
                }
            }
        }
        Some(())
    };
    match class {
        Class::Bytes(c) => {
            for r in c.ranges() {
                add(u32::from(r.start()), u32::from(r.end()))?;
            }
        }
        Class::Unicode(c) => {
            for r in c.ranges() {
                add(u32::from(r.start()), u32::from(r.end()))?;
            }
        }
    }
    Some(out)
}

/// A concatenation: runs of exact parts are multiplied out; the best run or inner factor set
/// wins.
fn concat(parts: &[Hir]) -> Info {
    let mut best: Option<Set> = None;
    let mut run: Option<Set> = Some(vec![Vec::new()]);
    let mut all_exact = true;
    for part in parts {
        let info = analyze(part);
        match info.exact {
            Some(e) => {
                run = match run {
                    Some(r) => match cross(&r, &e) {
                        Some(x) => Some(x),
                        None => {
                            all_exact = false;
                            best = better(best, Some(r));
                            Some(e)
                        }
                    },
                    None => Some(e),
                };
            }
            None => {
                all_exact = false;
                if let Some(r) = run.take() {
                    best = better(best, Some(r));
                }
                best = better(best, info.factors);
            }
        }
    }
    if all_exact {
        return Info::exact(run.unwrap_or_default());
    }
    Info {
        exact: None,
        factors: better(best, run),
    }
}

/// An alternation: exact when every branch is; otherwise one factor of each branch is needed.
fn alternation(branches: &[Hir]) -> Info {
    let infos: Vec<Info> = branches.iter().map(analyze).collect();
    if infos.iter().all(|i| i.exact.is_some()) {
        let all: Set = infos
            .iter()
            .flat_map(|i| i.exact.clone().unwrap_or_default())
            .collect();
        let all = dedupe(all);
        if all.len() <= MAX_SET {
            return Info::exact(all);
        }
    }
    let mut factors = Vec::new();
    for info in infos {
        let set = info.best().filter(|s| score(s) > 0);
        match set {
            Some(s) => factors.extend(s),
            None => return Info::default(),
        }
    }
    let factors = dedupe(factors);
    Info {
        exact: None,
        factors: (factors.len() <= MAX_FACTORS).then_some(factors),
    }
}

/// Every string of `a` followed by one of `b`, when the result stays small.
fn cross(a: &Set, b: &Set) -> Option<Set> {
    if a.len() * b.len() > MAX_SET {
        return None;
    }
    let mut out = Vec::with_capacity(a.len() * b.len());
    for x in a {
        for y in b {
            if x.len() + y.len() > MAX_LEN {
                return None;
            }
            let mut s = x.clone();
            s.extend_from_slice(y);
            out.push(s);
        }
    }
    Some(dedupe(out))
}

fn dedupe(mut set: Set) -> Set {
    set.sort_unstable();
    set.dedup();
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    fn factors(p: &str) -> Option<Vec<String>> {
        required(p).map(|s| {
            s.into_iter()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .collect()
        })
    }

    #[test]
    fn factors_of_crs_shaped_patterns() {
        assert_eq!(
            factors("(?:runtime|processbuilder)").unwrap(),
            ["processbuilder", "runtime"]
        );
        assert_eq!(
            factors(r"(?i)union\s+select").unwrap(),
            ["select"],
            "the longest exact run of a concatenation"
        );
        assert_eq!(factors(r"colou?r").unwrap(), ["color", "colour"]);
        assert_eq!(factors(r"(?i)<script[^>]*>").unwrap(), ["<script"]);
        assert_eq!(
            factors(r"eval\(|new\s+Function").unwrap(),
            ["eval(", "function"]
        );
        assert_eq!(factors(r"[a-d]x"), None, "too weak: two letters");
        assert_eq!(factors(r#"[\"'`]x"#).unwrap(), ["\"x", "'x", "`x"]);
        assert_eq!(factors(r"\bxss"), Some(vec!["xss".into()]));
    }

    #[test]
    fn no_filter_when_a_match_needs_no_literal() {
        assert_eq!(factors(r"[a-z]+"), None);
        assert_eq!(factors(r"abc|[0-9]+"), None, "one branch has no factor");
        assert_eq!(factors(r"(?:abcd)*"), None);
        assert_eq!(factors(r"^$"), None);
        assert_eq!(factors(r"a?"), None);
        assert_eq!(factors(r"(?i)ab"), None, "two letters score 2");
    }

    /// The defining property, checked on every CRS-like pattern against strings that match:
    /// each match holds a factor.
    #[test]
    fn every_match_holds_a_factor() {
        let cases = [
            (r"(?i)union\s+(?:all\s+)?select", "1 UNION ALL SELECT 2"),
            (
                r"(?:clonetransform|xmldecod)er|f(?:orclosure|ilewriter)",
                "java.io.filewriter",
            ),
            (r"(?i)on(?:error|load)\s*=", "<img onLoad = x>"),
            (r"\.\./|\.\.\\", r"..\windows"),
            (r"(?i)[\x5c']?sleep\s*\(", "SlEeP (5)"),
        ];
        for (pattern, text) in cases {
            let re = regex::bytes::RegexBuilder::new(pattern)
                .unicode(false)
                .build()
                .unwrap();
            let m = re.find(text.as_bytes()).expect(pattern);
            let set = required(pattern).expect(pattern);
            let found = m.as_bytes().to_ascii_lowercase();
            assert!(
                set.iter()
                    .any(|f| memchr::memmem::find(&found, f).is_some()),
                "{pattern}: {set:?} not in {text}"
            );
        }
    }
}
