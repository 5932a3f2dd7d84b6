//! Checking a JSON value against a compiled schema.

use std::collections::HashSet;

use serde_json::Value;

use super::rules::{self, canonical, json_equal, type_matches, type_name};
use super::{types, Extra, Node, SchemaId, Schemas};
use crate::violation::{Pointer, Violations};

/// Which way a value travels: `readOnly` properties may not be sent in requests, `writeOnly`
/// ones may not come back in responses (and are not required there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Request,
    Response,
}

/// Validates values against one spec's schemas, recording violations.
pub(crate) struct Validator<'a, 'v> {
    schemas: &'a Schemas,
    direction: Direction,
    out: &'a mut Violations,
    pointer: Pointer<'v>,
}

impl<'a, 'v> Validator<'a, 'v> {
    pub(crate) fn new(
        schemas: &'a Schemas,
        direction: Direction,
        out: &'a mut Violations,
        root: &str,
    ) -> Self {
        Self {
            schemas,
            direction,
            out,
            pointer: Pointer::new(root),
        }
    }

    /// Checks `value` against node `id`; true when it is valid.
    pub(crate) fn check(&mut self, id: SchemaId, value: &'v Value) -> bool {
        let node = self.schemas.node(id);
        if node.never {
            self.fail("no value is allowed here");
            return false;
        }
        if node.types != 0 && !type_matches(node.types, value) {
            self.fail(format!(
                "expected {}, got {}",
                types::names(node.types),
                type_name(value)
            ));
            return false;
        }
        let mut ok = true;
        if let Some(allowed) = &node.enumeration {
            if !allowed.iter().any(|a| json_equal(a, value)) {
                ok &= self.fail("not one of the allowed values");
            }
        }
        if let Some(c) = &node.constant {
            if !json_equal(c, value) {
                ok &= self.fail("not the required constant value");
            }
        }
        ok &= match value {
            Value::String(s) => self.string(node, s),
            Value::Number(n) => self.number(node, n),
            Value::Array(items) => self.array(node, items),
            Value::Object(map) => self.object(node, map),
            _ => true,
        };
        if self.out.is_full() {
            return false;
        }
        for m in &*node.all_of {
            ok &= self.check(*m, value);
        }
        if !node.any_of.is_empty() && !node.any_of.iter().any(|m| self.passes(*m, value)) {
            ok &= self.fail("matches none of the allowed forms (anyOf)");
        }
        if !node.one_of.is_empty() {
            let matched = node
                .one_of
                .iter()
                .filter(|m| self.passes(**m, value))
                .take(2)
                .count();
            if matched != 1 {
                ok &= self.fail(if matched == 0 {
                    "matches none of the allowed forms (oneOf)"
                } else {
                    "matches more than one of the exclusive forms (oneOf)"
                });
            }
        }
        if let Some(n) = node.not {
            if self.passes(n, value) {
                ok &= self.fail("matches a form that is not allowed (not)");
            }
        }
        ok
    }

    /// Whether `value` is valid for `id`, recording nothing.
    fn passes(&mut self, id: SchemaId, value: &'v Value) -> bool {
        let mut scratch = Violations::new(1);
        Validator {
            schemas: self.schemas,
            direction: self.direction,
            out: &mut scratch,
            pointer: Pointer::default(),
        }
        .check(id, value)
    }

    fn fail(&mut self, reason: impl Into<String>) -> bool {
        self.out.push(&self.pointer.render(), reason);
        false
    }

    fn string(&mut self, node: &Node, s: &str) -> bool {
        let mut ok = true;
        rules::string_faults(node, s, &mut |reason| ok &= self.fail(reason));
        ok
    }

    fn number(&mut self, node: &Node, n: &serde_json::Number) -> bool {
        let mut ok = true;
        rules::number_faults(node, n, &mut |reason| ok &= self.fail(reason));
        ok
    }

    fn array(&mut self, node: &Node, items: &'v [Value]) -> bool {
        let mut ok = true;
        let len = items.len() as u64;
        if let Some(min) = node.min_items.filter(|m| len < *m) {
            ok &= self.fail(format!("fewer than {min} items"));
        }
        if let Some(max) = node.max_items.filter(|m| len > *m) {
            ok &= self.fail(format!("more than {max} items"));
        }
        if node.unique_items {
            let mut seen = HashSet::with_capacity(items.len());
            if !items.iter().all(|v| seen.insert(canonical(v))) {
                ok &= self.fail("items are not unique");
            }
        }
        for (i, item) in items.iter().enumerate() {
            if self.out.is_full() {
                return false;
            }
            let schema = node.prefix_items.get(i).copied().or(node.items);
            if let Some(s) = schema {
                self.pointer.push_index(i);
                ok &= self.check(s, item);
                self.pointer.pop();
            }
        }
        ok
    }

    fn object(&mut self, node: &Node, map: &'v serde_json::Map<String, Value>) -> bool {
        let mut ok = true;
        let len = map.len() as u64;
        if let Some(min) = node.min_properties.filter(|m| len < *m) {
            ok &= self.fail(format!("fewer than {min} properties"));
        }
        if let Some(max) = node.max_properties.filter(|m| len > *m) {
            ok &= self.fail(format!("more than {max} properties"));
        }
        for name in &*node.required {
            if map.contains_key(&**name) {
                continue;
            }
            let exempt = node.property(name).is_some_and(|p| {
                let p = self.schemas.node(p);
                match self.direction {
                    Direction::Request => p.read_only,
                    Direction::Response => p.write_only,
                }
            });
            if !exempt {
                ok &= self.fail(format!("missing required property {name:?}"));
            }
        }
        for (key, value) in map {
            if self.out.is_full() {
                return false;
            }
            self.pointer.push(key);
            if let Some(p) = node.property(key) {
                let prop = self.schemas.node(p);
                if self.direction == Direction::Request && prop.read_only {
                    ok &= self.fail("read-only property may not be sent");
                } else if self.direction == Direction::Response && prop.write_only {
                    ok &= self.fail("write-only property may not be returned");
                } else {
                    ok &= self.check(p, value);
                }
            } else if let Some(p) = node.pattern_property(key) {
                ok &= self.check(p, value);
            } else if !node.declares(key) {
                match node.extra {
                    Extra::Open => {}
                    Extra::Closed => ok &= self.fail("property not allowed by the schema"),
                    Extra::Schema(s) => ok &= self.check(s, value),
                }
            }
            self.pointer.pop();
        }
        ok
    }
}
