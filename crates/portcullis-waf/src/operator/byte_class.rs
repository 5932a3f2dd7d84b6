//! A cheap proof that most rules cannot match most values. Values are put in nested classes
//! by the bytes they contain (letters and digits; then `_ . -`; then space; then `/ : @ , = +`;
//! then anything). At load time each `@rx` and `@pm` learns the smallest class in which it
//! could match anything: for a regex, by searching its Thompson NFA for a path to a match that
//! reads only that class's bytes (assertions such as `\b` are taken as satisfied, which can only
//! make the answer "could match"). A value of a smaller class is then skipped without running
//! the operator.
//!
//! Sound because every transformation CRS uses except `base64Decode` and `sha1` maps a value of
//! a class to a value of the same or a smaller class (decoders need `%`, `&` or `\`, which no
//! class below "anything" holds); rules with those two are never skipped, nor negated ones.

use regex_automata::nfa::thompson::{State, NFA};
use regex_automata::util::syntax;

/// Number of classes below "anything".
pub const CLASSES: u8 = 4;

/// The class of each byte (`CLASSES` for bytes outside every class).
static BYTE_CLASS: [u8; 256] = {
    let mut t = [CLASSES; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = if c.is_ascii_alphanumeric() {
            0
        } else if c == b'_' || c == b'.' || c == b'-' {
            1
        } else if c == b' ' {
            2
        } else if c == b'/' || c == b':' || c == b'@' || c == b',' || c == b'=' || c == b'+' {
            3
        } else {
            CLASSES
        };
        b += 1;
    }
    t
};

/// The smallest class holding every byte of `value`.
#[inline]
pub fn class_of(value: &[u8]) -> u8 {
    let mut class = 0;
    for b in value {
        class = class.max(BYTE_CLASS[usize::from(*b)]);
        if class == CLASSES {
            break;
        }
    }
    class
}

/// The smallest class in which the (PCRE-as-bytes) `pattern` could match something; 0 when
/// unknown.
pub fn regex_min_class(pattern: &str) -> u8 {
    let nfa = NFA::compiler()
        .syntax(syntax::Config::new().unicode(false).utf8(false))
        .configure(NFA::config().utf8(false).shrink(false))
        .build(pattern);
    let Ok(nfa) = nfa else {
        return 0;
    };
    (0..CLASSES)
        .find(|k| reachable(&nfa, *k))
        .unwrap_or(CLASSES)
}

/// The smallest class in which one of `phrases` (matched ASCII case-insensitively) fits.
pub fn phrases_min_class<'a>(phrases: impl Iterator<Item = &'a [u8]>) -> u8 {
    phrases.map(class_of).min().unwrap_or(0)
}

/// Whether the NFA can reach a match reading only bytes of class `k` or below.
fn reachable(nfa: &NFA, k: u8) -> bool {
    let allowed = |b: u8| BYTE_CLASS[usize::from(b)] <= k;
    let mut seen = vec![false; nfa.states().len()];
    let mut stack = vec![nfa.start_anchored()];
    while let Some(id) = stack.pop() {
        if std::mem::replace(&mut seen[id.as_usize()], true) {
            continue;
        }
        match nfa.state(id) {
            State::Match { .. } => return true,
            State::ByteRange { trans } => {
                if (trans.start..=trans.end).any(allowed) {
                    stack.push(trans.next);
                }
            }
            State::Sparse(s) => stack.extend(
                s.transitions
                    .iter()
                    .filter(|t| (t.start..=t.end).any(allowed))
                    .map(|t| t.next),
            ),
            State::Dense(d) => stack.extend(
                d.transitions
                    .iter()
                    .enumerate()
                    .filter(|(b, _)| allowed(*b as u8))
                    .map(|(_, next)| *next),
            ),
            State::Look { next, .. } | State::Capture { next, .. } => stack.push(*next),
            State::Union { alternates } => stack.extend(alternates.iter().copied()),
            State::BinaryUnion { alt1, alt2 } => stack.extend([*alt1, *alt2]),
            State::Fail => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_of_values_and_patterns() {
        assert_eq!(class_of(b"shipped2"), 0);
        assert_eq!(class_of(b"-created_at"), 1);
        assert_eq!(class_of(b"blue shoes"), 2);
        assert_eq!(class_of(b"ann@example.com"), 3);
        assert_eq!(class_of(b"o'brien"), CLASSES);
        assert_eq!(regex_min_class(r"(?i)union\s+select"), 2);
        assert_eq!(regex_min_class(r"['`]"), CLASSES);
        assert_eq!(regex_min_class(r"(?i)\bselect\b"), 0);
        assert_eq!(regex_min_class(r"<script|\.\./"), 3);
        assert_eq!(regex_min_class(r"^$"), 0);
        assert_eq!(
            phrases_min_class([&b"/etc/passwd"[..], b"a b"].into_iter()),
            2
        );
    }
}
