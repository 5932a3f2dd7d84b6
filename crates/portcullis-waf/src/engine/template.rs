//! Macro expansion (`%{tx.critical_anomaly_score}`, `%{MATCHED_VAR_NAME}`): a text with macros
//! is parsed once at load time into literal parts and variable references.

use std::borrow::Cow;

use super::collections::Collections;
use super::tx::TxNames;
use super::variables::Var;

/// The bytes a macro is guessed to expand to, when sizing an expansion.
const MACRO_GUESS: usize = 24;

/// A text that may contain macros.
#[derive(Debug, Clone, Default)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone)]
enum Part {
    Text(Vec<u8>),
    Var(Var, Option<Vec<u8>>),
    /// `%{tx.name}` with the name's number in the rule set's [`TxNames`].
    Tx(u32),
}

/// What a macro reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Macro {
    /// A TX name the rule set numbered.
    Tx(u32),
    /// Any other variable (or TX under a name outside the numbering).
    Var(Var),
}

impl Template {
    /// Parses `text`. A macro naming an unknown variable is an error.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("%{") {
            let Some(len) = rest[start..].find('}') else {
                break;
            };
            if start > 0 {
                parts.push(Part::Text(rest.as_bytes()[..start].to_vec()));
            }
            let inner = &rest[start + 2..start + len];
            // Keys are looked up case-insensitively; TX keys are stored lowercase.
            let (name, key) = match inner.split_once(['.', ':']) {
                Some((n, k)) => (n, Some(k.to_ascii_lowercase().into_bytes())),
                None => (inner, None),
            };
            let var = Var::parse(&name.to_ascii_uppercase())
                .ok_or_else(|| format!("macro %{{{inner}}} names an unknown variable"))?;
            parts.push(Part::Var(var, key));
            rest = &rest[start + len + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.as_bytes().to_vec()));
        }
        Ok(Self { parts })
    }

    /// Numbers the TX names its macros read (`%{tx.name}`) in `names`, so that expanding
    /// them is an index rather than a lookup.
    pub fn number_tx(&mut self, names: &mut TxNames) {
        for p in &mut self.parts {
            if let Part::Var(Var::Tx, Some(name)) = p {
                *p = Part::Tx(names.intern(name));
            }
        }
    }

    /// What each of its macros reads, in order.
    pub fn macros(&self) -> impl Iterator<Item = Macro> + '_ {
        self.parts.iter().filter_map(|p| match p {
            Part::Text(_) => None,
            Part::Var(v, _) => Some(Macro::Var(*v)),
            Part::Tx(n) => Some(Macro::Tx(*n)),
        })
    }

    /// The literal text before its first macro (all of it when it has none).
    pub fn literal_prefix(&self) -> &[u8] {
        match self.parts.first() {
            Some(Part::Text(t)) => t,
            _ => b"",
        }
    }

    /// Whether the text has no macros.
    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Text(_)))
    }

    /// The text, when it has no macros.
    pub fn literal(&self) -> Option<&[u8]> {
        match self.parts.as_slice() {
            [] => Some(b""),
            [Part::Text(t)] => Some(t),
            _ => None,
        }
    }

    /// Like [`expand`](Self::expand), but a text that is one macro alone
    /// (`%{tx.critical_anomaly_score}`) borrows the variable's value instead of copying it.
    pub fn expand_borrowing<'a>(&'a self, c: &'a Collections) -> Cow<'a, [u8]> {
        match self.parts.as_slice() {
            [Part::Var(v, k)] => c.first(*v, k.as_deref()).unwrap_or(Cow::Borrowed(b"")),
            [Part::Tx(n)] => Cow::Borrowed(c.tx.at(*n).map_or(&b""[..], |v| v.as_slice())),
            _ => self.expand(c),
        }
    }

    /// The text with every macro replaced by the variable's first value (empty when unset).
    pub fn expand<'a>(&'a self, c: &Collections) -> Cow<'a, [u8]> {
        match self.parts.as_slice() {
            [] => Cow::Borrowed(b""),
            [Part::Text(t)] => Cow::Borrowed(t),
            parts => {
                // Sized once: growing a vector part by part cost more than the lookups.
                let guess = parts.iter().map(|p| match p {
                    Part::Text(t) => t.len(),
                    _ => MACRO_GUESS,
                });
                let mut out = Vec::with_capacity(guess.sum());
                for p in parts {
                    match p {
                        Part::Text(t) => out.extend_from_slice(t),
                        Part::Var(v, k) => {
                            if let Some(value) = c.first(*v, k.as_deref()) {
                                out.extend_from_slice(&value);
                            }
                        }
                        Part::Tx(n) => {
                            if let Some(value) = c.tx.at(*n) {
                                out.extend_from_slice(value);
                            }
                        }
                    }
                }
                Cow::Owned(out)
            }
        }
    }

    /// [`expand`](Self::expand) as text for the log (invalid UTF-8 replaced by U+FFFD).
    pub(crate) fn expand_text(&self, c: &Collections) -> String {
        text(self.expand(c))
    }
}

/// Bytes as a `String`, invalid UTF-8 replaced by U+FFFD. Valid owned bytes become the string
/// without a copy; `from_utf8_lossy` alone would check them byte by byte and then copy them.
pub(crate) fn text(bytes: Cow<'_, [u8]>) -> String {
    match bytes {
        Cow::Owned(v) => String::from_utf8(v)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        Cow::Borrowed(b) => match std::str::from_utf8(b) {
            Ok(s) => s.to_owned(),
            Err(_) => String::from_utf8_lossy(b).into_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_tx_and_matched_values() {
        let mut c = Collections::default();
        c.tx.insert(b"critical_anomaly_score", b"5"[..].into());
        c.matched_var_name = b"ARGS:q".to_vec();
        let t = Template::parse("+%{tx.critical_anomaly_score} at %{MATCHED_VAR_NAME}%{tx.none}")
            .unwrap();
        assert_eq!(t.expand(&c).as_ref(), b"+5 at ARGS:q");
        let alone = Template::parse("%{tx.critical_anomaly_score}").unwrap();
        assert!(matches!(alone.expand_borrowing(&c), Cow::Borrowed(b"5")));
        let unset = Template::parse("%{tx.none}").unwrap();
        assert_eq!(unset.expand_borrowing(&c).as_ref(), b"");
        assert!(Template::parse("plain").unwrap().is_literal());
        assert!(Template::parse("%{nope.x}").is_err());
    }

    #[test]
    fn text_replaces_invalid_utf8_whether_owned_or_borrowed() {
        let bad = b"a\xffb\xe2\x82".to_vec();
        assert_eq!(text(Cow::Borrowed(&bad)), "a\u{fffd}b\u{fffd}");
        assert_eq!(text(Cow::Owned(bad)), "a\u{fffd}b\u{fffd}");
        assert_eq!(text(Cow::Owned("é €".as_bytes().to_vec())), "é €");
        assert_eq!(text(Cow::Borrowed("é €".as_bytes())), "é €");
    }
}
