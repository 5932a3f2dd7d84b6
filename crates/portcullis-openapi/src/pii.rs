//! Masking personal data and secrets in JSON responses: by JSON pointer (with `*` for any key
//! or index), and by detection in string values: emails, payment card numbers (Luhn-checked),
//! IBANs (mod-97-checked), US SSNs, phone numbers, JWTs and key-shaped secrets.
//!
//! Masks keep just enough to recognise the value: `****1234` for a card, `a***@example.com` for
//! an email, `***-**-6789` for an SSN; tokens, secrets and fields named by pointer become `****`.

use regex::{Regex, RegexSet};
use serde_json::Value;

/// A kind of sensitive value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// An email address.
    Email,
    /// A payment card number that passes the Luhn check.
    Card,
    /// An IBAN that passes the mod-97 check.
    Iban,
    /// A US Social Security number.
    Ssn,
    /// A phone number (international `+` form or North American layout).
    Phone,
    /// A JSON Web Token.
    Jwt,
    /// An API key, access key or private key in a well-known shape.
    Secret,
    /// A value at a configured JSON pointer.
    Field,
}

impl Kind {
    /// Every kind that is detected in text.
    pub const DETECTED: [Kind; 7] = [
        Self::Email,
        Self::Card,
        Self::Iban,
        Self::Ssn,
        Self::Phone,
        Self::Jwt,
        Self::Secret,
    ];

    /// The name used in config, metrics and events.
    pub fn name(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Card => "card",
            Self::Iban => "iban",
            Self::Ssn => "ssn",
            Self::Phone => "phone",
            Self::Jwt => "jwt",
            Self::Secret => "secret",
            Self::Field => "field",
        }
    }

    /// The kind called `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::DETECTED.into_iter().find(|k| k.name() == name)
    }

    fn pattern(self) -> &'static str {
        match self {
            Self::Email => {
                r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}"
            }
            Self::Card => r"\b(?:\d[ -]?){12,18}\d\b",
            Self::Iban => r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b",
            Self::Ssn => r"\b\d{3}-\d{2}-\d{4}\b",
            Self::Phone => {
                r"\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,5}\b|(?:\(\d{3}\) ?|\b\d{3}[ .-])\d{3}[ .-]\d{4}\b"
            }
            Self::Jwt => r"\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*",
            Self::Secret => {
                r"\b(?:AKIA[0-9A-Z]{16}|sk_(?:live|test)_[A-Za-z0-9]{16,}|gh[pousr]_[A-Za-z0-9]{36}|xox[abprs]-[A-Za-z0-9-]{10,}|pck_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{20,}|AIza[0-9A-Za-z_-]{35})\b|-----BEGIN [A-Z ]*PRIVATE KEY-----[^-]*-----END [A-Z ]*PRIVATE KEY-----"
            }
            Self::Field => "",
        }
    }

    /// The mask for a detected value, or None when the check digits say it is not one.
    fn mask(self, found: &str) -> Option<String> {
        match self {
            Self::Email => {
                let (local, domain) = found.rsplit_once('@')?;
                let first = local.chars().next()?;
                Some(format!("{first}***@{domain}"))
            }
            Self::Card => {
                let digits: Vec<u8> = found
                    .bytes()
                    .filter(u8::is_ascii_digit)
                    .map(|b| b - b'0')
                    .collect();
                ((13..=19).contains(&digits.len()) && luhn(&digits)).then(|| last(found, 4, "****"))
            }
            Self::Iban => {
                let compact: String = found.chars().filter(|c| !c.is_whitespace()).collect();
                iban_valid(&compact).then(|| last(&compact, 4, "****"))
            }
            Self::Ssn => {
                let area = &found[..3];
                let valid = area != "000"
                    && area != "666"
                    && !area.starts_with('9')
                    && &found[4..6] != "00"
                    && &found[7..] != "0000";
                valid.then(|| last(found, 4, "***-**-"))
            }
            Self::Phone => {
                let digits = found.bytes().filter(u8::is_ascii_digit).count();
                (10..=15).contains(&digits).then(|| last(found, 2, "****"))
            }
            Self::Jwt | Self::Secret | Self::Field => Some("****".to_owned()),
        }
    }
}

/// `prefix` followed by the last `n` alphanumeric characters of `s`.
fn last(s: &str, n: usize, prefix: &str) -> String {
    let tail: Vec<char> = s.chars().filter(char::is_ascii_alphanumeric).collect();
    let start = tail.len().saturating_sub(n);
    let mut out = prefix.to_owned();
    out.extend(&tail[start..]);
    out
}

fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(*d);
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

fn iban_valid(iban: &str) -> bool {
    if !(15..=34).contains(&iban.len()) {
        return false;
    }
    let (head, tail) = iban.split_at(4);
    let mut rem: u32 = 0;
    for c in tail.chars().chain(head.chars()) {
        let v = match c {
            '0'..='9' => c as u32 - '0' as u32,
            'A'..='Z' => c as u32 - 'A' as u32 + 10,
            _ => return false,
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

/// How many values of each kind were masked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Masked {
    /// (kind, count) for each kind that masked something.
    pub counts: Vec<(Kind, usize)>,
}

impl Masked {
    fn add(&mut self, kind: Kind) {
        match self.counts.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => self.counts.push((kind, 1)),
        }
    }

    /// Total values masked.
    pub fn total(&self) -> usize {
        self.counts.iter().map(|(_, n)| n).sum()
    }
}

/// A compiled masking policy.
#[derive(Debug, Clone)]
pub struct Masker {
    detectors: Vec<(Kind, Regex)>,
    prefilter: RegexSet,
    fields: Vec<Vec<String>>,
}

impl Masker {
    /// A masker detecting `kinds` and masking the values at `pointers` (segments may be `*`).
    pub fn new(kinds: &[Kind], pointers: &[String]) -> Result<Self, String> {
        let mut detectors = Vec::new();
        for k in kinds.iter().filter(|k| **k != Kind::Field) {
            let re = Regex::new(k.pattern()).map_err(|e| format!("{}: {e}", k.name()))?;
            detectors.push((*k, re));
        }
        let prefilter =
            RegexSet::new(detectors.iter().map(|(k, _)| k.pattern())).map_err(|e| e.to_string())?;
        let mut fields = Vec::new();
        for p in pointers {
            if !p.starts_with('/') {
                return Err(format!(
                    "{p:?} is not a JSON pointer: write it like /users/*/email"
                ));
            }
            fields.push(crate::source_map::pointer_segments(p));
        }
        Ok(Self {
            detectors,
            prefilter,
            fields,
        })
    }

    /// Whether this masker can change anything.
    pub fn is_empty(&self) -> bool {
        self.detectors.is_empty() && self.fields.is_empty()
    }

    /// Masks `value` in place.
    pub fn mask(&self, value: &mut Value) -> Masked {
        let mut masked = Masked::default();
        for f in &self.fields {
            mask_field(value, f, &mut masked);
        }
        if !self.detectors.is_empty() {
            self.walk(value, &mut masked, 0);
        }
        masked
    }

    fn walk(&self, value: &mut Value, masked: &mut Masked, depth: usize) {
        if depth > 128 {
            return;
        }
        match value {
            Value::String(s) => {
                if let Some(new) = self.mask_text(s, masked) {
                    *s = new;
                }
            }
            Value::Array(items) => items
                .iter_mut()
                .for_each(|v| self.walk(v, masked, depth + 1)),
            Value::Object(m) => m.values_mut().for_each(|v| self.walk(v, masked, depth + 1)),
            _ => {}
        }
    }

    /// The text with every detected value masked, or None when nothing was found.
    fn mask_text(&self, text: &str, masked: &mut Masked) -> Option<String> {
        let hits = self.prefilter.matches(text);
        if !hits.matched_any() {
            return None;
        }
        let mut current: Option<String> = None;
        for i in hits.iter() {
            let (kind, re) = &self.detectors[i];
            let src = current.as_deref().unwrap_or(text);
            let mut changed = false;
            let out = re.replace_all(src, |c: &regex::Captures<'_>| {
                let found = &c[0];
                match kind.mask(found) {
                    Some(m) => {
                        masked.add(*kind);
                        changed = true;
                        m
                    }
                    None => found.to_owned(),
                }
            });
            if changed {
                current = Some(out.into_owned());
            }
        }
        current
    }
}

fn mask_field(value: &mut Value, path: &[String], masked: &mut Masked) {
    let Some((first, rest)) = path.split_first() else {
        if !value.is_null() && value.as_str() != Some("****") {
            *value = Value::String("****".to_owned());
            masked.add(Kind::Field);
        }
        return;
    };
    match value {
        Value::Object(m) if first == "*" => {
            m.values_mut().for_each(|v| mask_field(v, rest, masked))
        }
        Value::Object(m) => {
            if let Some(v) = m.get_mut(first) {
                mask_field(v, rest, masked);
            }
        }
        Value::Array(a) if first == "*" => a.iter_mut().for_each(|v| mask_field(v, rest, masked)),
        Value::Array(a) => {
            if let Some(v) = first.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
                mask_field(v, rest, masked);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn all() -> Masker {
        Masker::new(&Kind::DETECTED, &["/users/*/secret_answer".into()]).unwrap()
    }

    #[test]
    fn detects_and_masks_each_kind() {
        let mut v = json!({
            "email": "ann@example.com",
            "card": "4111 1111 1111 1111",
            "not_card": "4111 1111 1111 1112",
            "iban": "GB82 WEST 1234 5698 7654 32",
            "ssn": "123-45-6789",
            "bad_ssn": "000-12-3456",
            "phone": "+44 20 7946 0958",
            "us_phone": "(415) 555-0132",
            "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbm4ifQ.c2lnbmF0dXJl",
            "aws": "key AKIAIOSFODNN7EXAMPLE here",
            "users": [{"secret_answer": "my first dog rex"}],
            "plain": "nothing to see",
        });
        let masked = all().mask(&mut v);
        assert_eq!(v["email"], "a***@example.com");
        assert_eq!(v["card"], "****1111");
        assert_eq!(v["not_card"], "4111 1111 1111 1112");
        assert_eq!(v["iban"], "****5432");
        assert_eq!(v["ssn"], "***-**-6789");
        assert_eq!(v["bad_ssn"], "000-12-3456");
        assert_eq!(v["phone"], "****58");
        assert_eq!(v["us_phone"], "****32");
        assert_eq!(v["jwt"], "****");
        assert_eq!(v["aws"], "key **** here");
        assert_eq!(v["users"][0]["secret_answer"], "****");
        assert_eq!(v["plain"], "nothing to see");
        assert_eq!(masked.total(), 9);
    }

    #[test]
    fn checksums_are_right() {
        assert!(luhn(&[4, 5, 3, 2, 0, 1, 5, 1, 1, 2, 8, 3, 0, 3, 6, 6]));
        assert!(iban_valid("DE89370400440532013000"));
        assert!(!iban_valid("DE89370400440532013001"));
        assert!(Masker::new(&[], &["no-slash".into()]).is_err());
    }
}
