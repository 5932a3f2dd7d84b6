//! A compiled `pattern` keyword: a small dense DFA when the pattern allows one, so a check is a
//! walk over the string with no per-call set-up; otherwise (large or with Unicode word
//! boundaries on non-ASCII text) the `regex` crate's engine. Both are linear-time.

use regex::Regex;
use regex_automata::dfa::{dense, Automaton};
use regex_automata::Input;

/// Largest dense DFA kept for one pattern; bigger ones use the regex engine.
const MAX_DFA_BYTES: usize = 64 << 10;

/// A `pattern`, searched (not anchored) as JSON Schema says.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    re: Regex,
    dfa: Option<dense::DFA<Vec<u32>>>,
}

impl Pattern {
    /// Wraps a compiled regex, building its DFA when it is small enough.
    pub(crate) fn new(re: Regex) -> Self {
        let dfa = dense::Builder::new()
            .configure(
                dense::Config::new()
                    .dfa_size_limit(Some(MAX_DFA_BYTES))
                    .determinize_size_limit(Some(4 * MAX_DFA_BYTES))
                    .unicode_word_boundary(true),
            )
            .build(re.as_str())
            .ok();
        Self { re, dfa }
    }

    /// Whether `s` contains a match.
    pub(crate) fn is_match(&self, s: &str) -> bool {
        if let Some(dfa) = &self.dfa {
            // An error means the DFA gave up (a Unicode word boundary next to non-ASCII text).
            if let Ok(found) = dfa.try_search_fwd(&Input::new(s).earliest(true)) {
                return found.is_some();
            }
        }
        self.re.is_match(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The DFA and the regex engine agree, on patterns that get a DFA and ones that do not.
    #[test]
    fn dfa_and_regex_agree() {
        let patterns = [
            "^[A-Z]{3}-[0-9]{4}$",
            "[a-z]+@",
            "^$",
            "",
            "\\bcat\\b",
            "^\\p{L}+$",
            "(?i)^sku-\\d+",
            "é+",
            "^(a|b)*c{2,3}$",
        ];
        let inputs = [
            "ABC-1234",
            "ABC-12345",
            "abc-1234",
            "",
            "x",
            "ann@example.com",
            "a cat sat",
            "écat",
            "caté",
            "Straße",
            "SKU-12",
            "sku-",
            "ééé",
            "ababccc",
            "abcccc",
            "\u{0}",
        ];
        let mut with_dfa = 0;
        for p in patterns {
            let pattern = Pattern::new(Regex::new(p).unwrap());
            with_dfa += usize::from(pattern.dfa.is_some());
            for s in inputs {
                assert_eq!(
                    pattern.is_match(s),
                    pattern.re.is_match(s),
                    "{p:?} on {s:?}"
                );
            }
        }
        assert!(with_dfa >= 6, "{with_dfa}");
    }
}
