//! The checks a single value gets from its node, shared by the tree validator (values already
//! parsed) and the streaming one (values checked while they are parsed).

use serde_json::{Number, Value};

use super::{types, Node};

/// Reports each way string `s` breaks `node`'s string rules.
pub(crate) fn string_faults(node: &Node, s: &str, fail: &mut impl FnMut(String)) {
    // A string has at most as many characters as bytes, and at least a quarter as many: count
    // them only when that does not settle the bounds.
    let bytes = s.len() as u64;
    let settled = node.max_length.is_none_or(|max| bytes <= max)
        && node.min_length.is_none_or(|min| bytes / 4 >= min);
    if !settled {
        let len = s.chars().count() as u64;
        if let Some(min) = node.min_length.filter(|m| len < *m) {
            fail(format!("shorter than {min} characters"));
        }
        if let Some(max) = node.max_length.filter(|m| len > *m) {
            fail(format!("longer than {max} characters"));
        }
    }
    if let Some(re) = &node.pattern {
        if !re.is_match(s) {
            fail("does not match the required pattern".to_owned());
        }
    }
    if let Some(f) = node.format {
        if !f.check_str(s) {
            fail(format!("not a valid {}", f.name()));
        }
    }
}

/// Reports each way number `n` breaks `node`'s numeric rules.
pub(crate) fn number_faults(node: &Node, n: &Number, fail: &mut impl FnMut(String)) {
    let x = n.as_f64().unwrap_or(f64::NAN);
    if let Some(b) = node.minimum {
        if x < b.value || (b.exclusive && x == b.value) {
            let how = if b.exclusive { "at or below" } else { "below" };
            fail(format!("{how} the minimum {}", b.value));
        }
    }
    if let Some(b) = node.maximum {
        if x > b.value || (b.exclusive && x == b.value) {
            let how = if b.exclusive { "at or above" } else { "above" };
            fail(format!("{how} the maximum {}", b.value));
        }
    }
    if let Some(m) = node.multiple_of {
        let q = x / m;
        if !q.is_finite() || (q - q.round()).abs() > 1e-9 {
            fail(format!("not a multiple of {m}"));
        }
    }
    if let Some(f) = node.format {
        if !f.check_number(n) {
            fail(format!("out of range for {}", f.name()));
        }
    }
}

/// The type bit of a value.
pub(crate) fn type_of(v: &Value) -> u8 {
    match v {
        Value::Null => types::NULL,
        Value::Bool(_) => types::BOOLEAN,
        Value::Number(n) => number_type(n),
        Value::String(_) => types::STRING,
        Value::Array(_) => types::ARRAY,
        Value::Object(_) => types::OBJECT,
    }
}

/// `integer` for whole numbers (1.0 included, as JSON Schema says), else `number`.
pub(crate) fn number_type(n: &Number) -> u8 {
    let whole = n.is_i64()
        || n.is_u64()
        || n.as_f64()
            .is_some_and(|f| f.fract() == 0.0 && f.is_finite());
    if whole {
        types::INTEGER
    } else {
        types::NUMBER
    }
}

/// Whether a value's type is in `set`.
pub(crate) fn type_matches(set: u8, v: &Value) -> bool {
    set & type_of(v) != 0
}

/// The name of one type bit, for reasons.
pub(crate) fn bit_name(bit: u8) -> &'static str {
    match bit {
        types::NULL => "null",
        types::BOOLEAN => "boolean",
        types::INTEGER => "integer",
        types::NUMBER => "number",
        types::STRING => "string",
        types::ARRAY => "array",
        _ => "object",
    }
}

/// The JSON type of a value, for reasons.
pub(crate) fn type_name(v: &Value) -> &'static str {
    bit_name(type_of(v))
}

/// JSON equality where 1 and 1.0 are the same number.
pub(crate) fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// A canonical text of a value, for `uniqueItems` (object keys are sorted by serde_json's map).
pub(crate) fn canonical(v: &Value) -> String {
    match v {
        Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), |f| f.to_string()),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lengths are counted in characters, including when the byte length alone looks decisive.
    #[test]
    fn lengths_count_characters() {
        let node = |min, max| Node {
            min_length: min,
            max_length: max,
            ..Node::default()
        };
        let faults = |node: &Node, s: &str| {
            let mut found = Vec::new();
            string_faults(node, s, &mut |r| found.push(r));
            found
        };
        let cases: &[(Option<u64>, Option<u64>, &str, usize)] = &[
            (None, Some(3), "ééé", 0),
            (None, Some(3), "éééé", 1),
            (None, Some(3), "abc", 0),
            (None, Some(3), "abcd", 1),
            (Some(2), None, "é", 1),
            (Some(2), None, "éé", 0),
            (Some(2), None, "😀", 1),
            (Some(1), None, "😀", 0),
            (Some(1), None, "", 1),
            (Some(2), Some(2), "😀😀", 0),
            (Some(3), Some(3), "😀😀", 1),
        ];
        for (min, max, s, n) in cases {
            assert_eq!(
                faults(&node(*min, *max), s).len(),
                *n,
                "{min:?}..{max:?} {s:?}"
            );
        }
    }
}
