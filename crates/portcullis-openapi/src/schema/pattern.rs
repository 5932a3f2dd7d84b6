//! A compiled `pattern` keyword: a small dense DFA when the pattern allows one, so a check is a
//! walk over the string with no per-call set-up; otherwise (large or with Unicode word
//! boundaries on non-ASCII text) the `regex` crate's engine. Both are linear-time.

use regex::Regex;
use regex_automata::dfa::{dense, Automaton};
use regex_automata::util::primitives::StateID;
use regex_automata::util::start;

/// Largest dense DFA kept for one pattern; bigger ones use the regex engine.
const MAX_DFA_BYTES: usize = 64 << 10;

/// A `pattern`, searched (not anchored) as JSON Schema says.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    re: Regex,
    /// The DFA and its start state at the beginning of a text (boxed: the DFA's own struct is
    /// large, and schema nodes stay small when they only point to it).
    dfa: Option<Box<(dense::DFA<Vec<u32>>, StateID)>>,
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
            .ok()
            .and_then(|dfa| {
                let start = dfa.start_state(&start::Config::new()).ok()?;
                Some(Box::new((dfa, start)))
            });
        Self { re, dfa }
    }

    /// Whether `s` contains a match.
    pub(crate) fn is_match(&self, s: &str) -> bool {
        if let Some(compiled) = &self.dfa {
            let (dfa, start) = &**compiled;
            if let Some(found) = walk(dfa, *start, s.as_bytes()) {
                return found;
            }
        }
        self.re.is_match(s)
    }
}

/// Runs `dfa` from `start` over `text` and says whether it matched anywhere, stopping at the
/// first match; `None` when the DFA gave up (a Unicode word boundary next to non-ASCII text).
fn walk(dfa: &dense::DFA<Vec<u32>>, start: StateID, text: &[u8]) -> Option<bool> {
    let mut state = start;
    for &b in text {
        state = dfa.next_state(state, b);
        if dfa.is_special_state(state) {
            if dfa.is_match_state(state) {
                return Some(true);
            }
            if dfa.is_dead_state(state) {
                return Some(false);
            }
            if dfa.is_quit_state(state) {
                return None;
            }
        }
    }
    Some(dfa.is_match_state(dfa.next_eoi_state(state)))
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
