//! Limits on the shape of a JSON body that apply whatever the spec says: nesting depth, array
//! length, string length and property count. A spec that sets none still gets these.

use serde_json::Value;

use crate::violation::Violations;

/// Shape limits for request bodies (documented defaults; configurable per API).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShapeLimits {
    /// Deepest nesting of arrays and objects.
    pub max_depth: usize,
    /// Most items in one array.
    pub max_array_items: usize,
    /// Longest string, in characters (keys included).
    pub max_string_length: usize,
    /// Most properties in one object.
    pub max_properties: usize,
}

impl Default for ShapeLimits {
    fn default() -> Self {
        Self {
            max_depth: 32,
            max_array_items: 10_000,
            max_string_length: 100_000,
            max_properties: 1_000,
        }
    }
}

impl ShapeLimits {
    /// Checks `value`, reporting the first limit crossed under `root` (e.g. `/body`). Walks
    /// without recursion, so no input can exhaust the stack.
    pub fn check(&self, value: &Value, root: &str, out: &mut Violations) -> bool {
        self.check_nested(value, 1, root, out)
    }

    /// Like [`ShapeLimits::check`] for a value nested at `depth` (1: the top level).
    pub(crate) fn check_nested(
        &self,
        value: &Value,
        depth: usize,
        root: &str,
        out: &mut Violations,
    ) -> bool {
        let mut stack: Vec<(&Value, usize)> = vec![(value, depth)];
        while let Some((v, depth)) = stack.pop() {
            let problem = match v {
                Value::String(s) if too_long(s, self.max_string_length) => Some(format!(
                    "a string is longer than {} characters",
                    self.max_string_length
                )),
                Value::Array(a) if a.len() > self.max_array_items => Some(format!(
                    "an array has more than {} items",
                    self.max_array_items
                )),
                Value::Object(m) if m.len() > self.max_properties => Some(format!(
                    "an object has more than {} properties",
                    self.max_properties
                )),
                Value::Object(m) if m.keys().any(|k| too_long(k, self.max_string_length)) => {
                    Some(format!(
                        "a property name is longer than {} characters",
                        self.max_string_length
                    ))
                }
                Value::Array(_) | Value::Object(_) if depth > self.max_depth => {
                    Some(format!("nested deeper than {} levels", self.max_depth))
                }
                _ => None,
            };
            if let Some(reason) = problem {
                out.push(root, reason);
                return false;
            }
            match v {
                Value::Array(a) => stack.extend(a.iter().map(|c| (c, depth + 1))),
                Value::Object(m) => stack.extend(m.values().map(|c| (c, depth + 1))),
                _ => {}
            }
        }
        true
    }
}

fn too_long(s: &str, max: usize) -> bool {
    // Bytes bound characters from above: only count when it could matter.
    s.len() > max && s.chars().count() > max
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_limit_is_enforced() {
        let l = ShapeLimits {
            max_depth: 3,
            max_array_items: 2,
            max_string_length: 4,
            max_properties: 2,
        };
        let check = |v: Value| {
            let mut out = Violations::new(5);
            l.check(&v, "/body", &mut out)
        };
        assert!(check(json!({"a": [1, 2], "b": "abcd"})));
        assert!(!check(json!([[[[1]]]])));
        assert!(!check(json!([1, 2, 3])));
        assert!(!check(json!("abcde")));
        assert!(!check(json!({"a": 1, "b": 2, "c": 3})));
        assert!(!check(json!({"abcde": 1})));
        // Characters, not bytes.
        assert!(check(json!("éééé")));
    }
}
