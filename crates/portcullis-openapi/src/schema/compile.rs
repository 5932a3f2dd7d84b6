//! Compiling schema objects (with their `$ref`s) into [`Node`]s, reporting every mistake with
//! its place in the spec.

use std::collections::HashMap;

use regex::{Regex, RegexBuilder};
use serde_json::{Map, Value};

use super::format::Format;
use super::pattern::Pattern;
use super::{types, Bound, Extra, Node, SchemaId, Schemas};
use crate::document::{Documents, Loc};
use crate::error::SpecError;
use crate::{UnknownFields, Version};

/// Deepest nesting of inline schemas accepted (references do not count: they are memoised).
const MAX_NESTING: usize = 64;
/// Largest compiled size of one `pattern` (the engine is linear-time; this bounds memory).
const MAX_PATTERN_BYTES: usize = 1 << 20;

/// Keywords that may sit beside `$ref` without changing its meaning.
const REF_ANNOTATIONS: [&str; 6] = [
    "$ref",
    "description",
    "summary",
    "title",
    "example",
    "examples",
];

/// Compiles the schemas of one spec.
pub(crate) struct Compiler<'d> {
    docs: &'d Documents,
    version: Version,
    policy: UnknownFields,
    nodes: Vec<Node>,
    memo: HashMap<(Loc, bool), SchemaId>,
    /// Errors found so far.
    pub errors: Vec<SpecError>,
    depth: usize,
}

impl<'d> Compiler<'d> {
    pub(crate) fn new(docs: &'d Documents, version: Version, policy: UnknownFields) -> Self {
        Self {
            docs,
            version,
            policy,
            nodes: Vec::new(),
            memo: HashMap::new(),
            errors: Vec::new(),
            depth: 0,
        }
    }

    /// The compiled table.
    pub(crate) fn finish(self) -> (Schemas, Vec<SpecError>) {
        (Schemas::new(self.nodes), self.errors)
    }

    /// A node that accepts anything.
    pub(crate) fn any(&mut self) -> SchemaId {
        self.push(Node::default())
    }

    fn push(&mut self, node: Node) -> SchemaId {
        self.nodes.push(node);
        (self.nodes.len() - 1) as SchemaId
    }

    fn error(&mut self, loc: &Loc, message: impl Into<String>) {
        let e = self.docs.error(loc, message);
        self.errors.push(e);
    }

    /// Compiles the schema at `loc`. `member`: it is an `allOf`/`anyOf`/`oneOf` member, whose
    /// unknown-property rule the enclosing schema applies.
    pub(crate) fn compile(&mut self, loc: &Loc, member: bool) -> SchemaId {
        let docs = self.docs;
        let Some(value) = docs.get(loc) else {
            self.error(loc, "schema not found");
            return self.any();
        };
        match value {
            Value::Bool(true) => self.any(),
            Value::Bool(false) => self.push(Node {
                never: true,
                ..Node::default()
            }),
            Value::Object(m) => {
                if let Some(r) = m.get("$ref") {
                    return self.compile_ref(loc, m, r, member);
                }
                if self.depth >= MAX_NESTING {
                    self.error(
                        loc,
                        format!("schemas nest deeper than {MAX_NESTING} levels"),
                    );
                    return self.any();
                }
                self.depth += 1;
                let node = self.compile_object(loc, m, member);
                self.depth -= 1;
                self.push(node)
            }
            _ => {
                self.error(loc, "a schema must be an object (or true/false in 3.1)");
                self.any()
            }
        }
    }

    fn compile_ref(
        &mut self,
        loc: &Loc,
        m: &Map<String, Value>,
        r: &Value,
        member: bool,
    ) -> SchemaId {
        let Value::String(r) = r else {
            self.error(&loc.child("$ref"), "$ref must be a string");
            return self.any();
        };
        let target = match self.docs.resolve(loc.file, r) {
            Ok(t) => t,
            Err(msg) => {
                self.error(&loc.child("$ref"), msg);
                return self.any();
            }
        };
        let siblings = self.version == Version::V31
            && m.keys().any(|k| !REF_ANNOTATIONS.contains(&k.as_str()));
        let key = (target.clone(), member || siblings);
        let referenced = match self.memo.get(&key) {
            Some(id) => *id,
            None => {
                let id = self.push(Node::default());
                self.memo.insert(key, id);
                // Recursive references see the placeholder until the target is compiled, then
                // the node itself (copied into place, so a reference costs no extra level).
                let compiled = self.compile(&target, member || siblings);
                let inner = self.nodes[compiled as usize].clone();
                self.nodes[id as usize] = inner;
                id
            }
        };
        if !siblings {
            return referenced;
        }
        // 3.1: keywords beside $ref apply together with the referenced schema.
        let mut rest = m.clone();
        rest.remove("$ref");
        let mut node = self.compile_object(loc, &rest, member);
        let mut all: Vec<SchemaId> = node.all_of.to_vec();
        all.push(referenced);
        node.all_of = all.into_boxed_slice();
        node.whole = true;
        self.finish_object(loc, &rest, &mut node, member);
        self.push(node)
    }

    fn compile_object(&mut self, loc: &Loc, m: &Map<String, Value>, member: bool) -> Node {
        let mut n = Node::default();
        self.types(loc, m, &mut n);
        if let Some(e) = m.get("enum") {
            match e {
                Value::Array(values) if !values.is_empty() => {
                    let mut values = values.clone();
                    if n.types & types::NULL != 0 && !values.contains(&Value::Null) {
                        values.push(Value::Null);
                    }
                    n.enumeration = Some(values.into_boxed_slice());
                }
                _ => self.error(&loc.child("enum"), "enum must be a non-empty array"),
            }
        }
        n.constant = m.get("const").cloned();
        n.min_length = self.count(loc, m, "minLength");
        n.max_length = self.count(loc, m, "maxLength");
        n.min_items = self.count(loc, m, "minItems");
        n.max_items = self.count(loc, m, "maxItems");
        n.min_properties = self.count(loc, m, "minProperties");
        n.max_properties = self.count(loc, m, "maxProperties");
        n.unique_items = self.flag(loc, m, "uniqueItems");
        n.read_only = self.flag(loc, m, "readOnly");
        n.write_only = self.flag(loc, m, "writeOnly");
        if let Some(p) = m.get("pattern") {
            n.pattern = self.pattern(&loc.child("pattern"), p).map(Pattern::new);
        }
        if let Some(f) = m.get("format") {
            match f {
                Value::String(f) => n.format = Format::parse(f),
                _ => self.error(&loc.child("format"), "format must be a string"),
            }
        }
        self.bounds(loc, m, &mut n);
        if let Some(v) = m.get("multipleOf") {
            match v.as_f64() {
                Some(x) if x > 0.0 => n.multiple_of = Some(x),
                _ => self.error(
                    &loc.child("multipleOf"),
                    "multipleOf must be a number above 0",
                ),
            }
        }
        match m.get("items") {
            Some(Value::Array(items)) => {
                // Tuple form (draft 4 style): the same as 3.1's prefixItems.
                n.prefix_items = (0..items.len())
                    .map(|i| self.compile(&loc.child("items").child(&i.to_string()), false))
                    .collect();
            }
            Some(_) => n.items = Some(self.compile(&loc.child("items"), false)),
            None => {}
        }
        if let Some(p) = m.get("prefixItems") {
            match p {
                Value::Array(items) => {
                    n.prefix_items = (0..items.len())
                        .map(|i| {
                            self.compile(&loc.child("prefixItems").child(&i.to_string()), false)
                        })
                        .collect();
                }
                _ => self.error(&loc.child("prefixItems"), "prefixItems must be an array"),
            }
        }
        if let Some(p) = m.get("properties") {
            match p {
                Value::Object(props) => {
                    let at = loc.child("properties");
                    let mut list: Vec<(Box<str>, SchemaId)> = props
                        .keys()
                        .map(|k| (Box::from(k.as_str()), self.compile(&at.child(k), false)))
                        .collect();
                    list.sort_by(|a, b| a.0.cmp(&b.0));
                    n.properties = list.into_boxed_slice();
                }
                _ => self.error(&loc.child("properties"), "properties must be an object"),
            }
        }
        if let Some(p) = m.get("patternProperties") {
            match p {
                Value::Object(props) => {
                    let at = loc.child("patternProperties");
                    let mut list = Vec::new();
                    for k in props.keys() {
                        let key_at = at.child(k);
                        if let Some(re) = self.pattern(&key_at, &Value::String(k.clone())) {
                            list.push((re, self.compile(&key_at, false)));
                        }
                    }
                    n.pattern_properties = list.into_boxed_slice();
                }
                _ => self.error(
                    &loc.child("patternProperties"),
                    "patternProperties must be an object",
                ),
            }
        }
        if let Some(r) = m.get("required") {
            match r {
                Value::Array(names) if names.iter().all(Value::is_string) => {
                    n.required = names
                        .iter()
                        .filter_map(Value::as_str)
                        .map(Box::from)
                        .collect();
                }
                _ => self.error(
                    &loc.child("required"),
                    "required must be an array of property names",
                ),
            }
        }
        n.all_of = self.members(loc, m, "allOf");
        n.any_of = self.members(loc, m, "anyOf");
        n.one_of = self.members(loc, m, "oneOf");
        if m.contains_key("not") {
            n.not = Some(self.compile(&loc.child("not"), false));
        }
        self.finish_object(loc, m, &mut n, member);
        n.property_required = n
            .properties
            .iter()
            .map(|(k, _)| {
                n.required
                    .iter()
                    .position(|r| r == k)
                    .and_then(|i| u32::try_from(i).ok())
            })
            .collect();
        n.whole = !n.all_of.is_empty()
            || !n.any_of.is_empty()
            || !n.one_of.is_empty()
            || n.not.is_some()
            || n.unique_items
            || ((n.enumeration.is_some() || n.constant.is_some())
                && (n.types == 0 || n.types & (types::ARRAY | types::OBJECT) != 0));
        n
    }

    /// Decides the node's unknown-property rule once its members are compiled.
    fn finish_object(&mut self, loc: &Loc, m: &Map<String, Value>, n: &mut Node, member: bool) {
        let mut declared: Vec<Box<str>> = n.properties.iter().map(|(k, _)| k.clone()).collect();
        let mut member_open = false;
        for id in n.all_of.iter().chain(&*n.any_of).chain(&*n.one_of) {
            let node = &self.nodes[*id as usize];
            declared.extend(node.declared.iter().cloned());
            member_open |= matches!(node.extra, Extra::Schema(_)) || node.explicit_open;
        }
        declared.sort();
        declared.dedup();
        n.declared = declared.into_boxed_slice();
        let explicit = match m.get("additionalProperties") {
            Some(Value::Bool(false)) => Some(Extra::Closed),
            Some(Value::Bool(true)) => Some(Extra::Open),
            Some(Value::Object(_)) => Some(Extra::Schema(
                self.compile(&loc.child("additionalProperties"), false),
            )),
            Some(_) => {
                self.error(
                    &loc.child("additionalProperties"),
                    "additionalProperties must be a boolean or a schema",
                );
                None
            }
            None => match m.get("unevaluatedProperties") {
                Some(Value::Bool(false)) => Some(Extra::Closed),
                Some(_) => Some(Extra::Open),
                None => None,
            },
        };
        let has_properties = !n.declared.is_empty() || !n.pattern_properties.is_empty();
        n.extra = match explicit {
            Some(Extra::Closed) if member => Extra::Open,
            Some(e) => e,
            None if member || member_open => Extra::Open,
            None if self.policy == UnknownFields::Closed && has_properties => Extra::Closed,
            None => Extra::Open,
        };
        n.explicit_open = explicit == Some(Extra::Open);
    }

    fn members(&mut self, loc: &Loc, m: &Map<String, Value>, key: &str) -> Box<[SchemaId]> {
        match m.get(key) {
            None => Box::new([]),
            Some(Value::Array(items)) if !items.is_empty() => (0..items.len())
                .map(|i| self.compile(&loc.child(key).child(&i.to_string()), true))
                .collect(),
            Some(_) => {
                self.error(
                    &loc.child(key),
                    format!("{key} must be a non-empty array of schemas"),
                );
                Box::new([])
            }
        }
    }

    fn types(&mut self, loc: &Loc, m: &Map<String, Value>, n: &mut Node) {
        let names: Vec<&str> = match m.get("type") {
            None => Vec::new(),
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) if ts.iter().all(Value::is_string) => {
                ts.iter().filter_map(Value::as_str).collect()
            }
            Some(_) => {
                self.error(
                    &loc.child("type"),
                    "type must be a type name or a list of them",
                );
                Vec::new()
            }
        };
        for t in names {
            n.types |= match t {
                "null" => types::NULL,
                "boolean" => types::BOOLEAN,
                "integer" => types::INTEGER,
                "number" => types::NUMBER | types::INTEGER,
                "string" => types::STRING,
                "array" => types::ARRAY,
                "object" => types::OBJECT,
                other => {
                    self.error(
                        &loc.child("type"),
                        format!("unknown type {other:?} (null, boolean, integer, number, string, array or object)"),
                    );
                    0
                }
            };
        }
        if m.get("nullable") == Some(&Value::Bool(true)) {
            if self.version == Version::V30 {
                if n.types != 0 {
                    n.types |= types::NULL;
                }
            } else {
                self.error(
                    &loc.child("nullable"),
                    "nullable is OpenAPI 3.0; in 3.1 add \"null\" to type (type: [string, \"null\"])",
                );
            }
        }
    }

    fn bounds(&mut self, loc: &Loc, m: &Map<String, Value>, n: &mut Node) {
        let number = |c: &mut Self, key: &str| -> Option<f64> {
            let v = m.get(key)?;
            let x = v.as_f64();
            if x.is_none() {
                c.error(&loc.child(key), format!("{key} must be a number"));
            }
            x
        };
        n.minimum = number(self, "minimum").map(|value| Bound {
            value,
            exclusive: false,
        });
        n.maximum = number(self, "maximum").map(|value| Bound {
            value,
            exclusive: false,
        });
        for (key, is_min) in [("exclusiveMinimum", true), ("exclusiveMaximum", false)] {
            let Some(v) = m.get(key) else { continue };
            let slot = if is_min {
                &mut n.minimum
            } else {
                &mut n.maximum
            };
            match (self.version, v) {
                (Version::V30, Value::Bool(b)) => {
                    if let Some(bound) = slot.as_mut() {
                        bound.exclusive = *b;
                    } else if *b {
                        let other = if is_min { "minimum" } else { "maximum" };
                        self.error(&loc.child(key), format!("{key}: true needs {other}"));
                    }
                }
                (Version::V31, Value::Number(x)) => {
                    let value = x.as_f64().unwrap_or(0.0);
                    let tighter = match slot {
                        Some(b) if is_min => value >= b.value,
                        Some(b) => value <= b.value,
                        None => true,
                    };
                    if tighter {
                        *slot = Some(Bound {
                            value,
                            exclusive: true,
                        });
                    }
                }
                (Version::V30, _) => self.error(
                    &loc.child(key),
                    format!("in OpenAPI 3.0 {key} is a boolean that modifies minimum/maximum"),
                ),
                (Version::V31, _) => self.error(
                    &loc.child(key),
                    format!("in OpenAPI 3.1 {key} is a number (the 3.0 boolean form is not valid)"),
                ),
            }
        }
    }

    fn count(&mut self, loc: &Loc, m: &Map<String, Value>, key: &str) -> Option<u64> {
        let v = m.get(key)?;
        let x = v.as_u64().or_else(|| {
            v.as_f64()
                .filter(|f| *f >= 0.0 && f.fract() == 0.0)
                .map(|f| f as u64)
        });
        if x.is_none() {
            self.error(
                &loc.child(key),
                format!("{key} must be a non-negative integer"),
            );
        }
        x
    }

    fn flag(&mut self, loc: &Loc, m: &Map<String, Value>, key: &str) -> bool {
        match m.get(key) {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                self.error(&loc.child(key), format!("{key} must be true or false"));
                false
            }
        }
    }

    /// Compiles a `pattern` with the linear-time engine (no backtracking, so no ReDoS).
    pub(crate) fn pattern(&mut self, loc: &Loc, p: &Value) -> Option<Regex> {
        let Value::String(p) = p else {
            self.error(loc, "pattern must be a string");
            return None;
        };
        match RegexBuilder::new(p).size_limit(MAX_PATTERN_BYTES).build() {
            Ok(re) => Some(re),
            Err(e) => {
                let why = e.to_string();
                let why = why.lines().last().unwrap_or("invalid").trim().to_owned();
                self.error(
                    loc,
                    format!(
                        "pattern {p:?} cannot be used: {why} (patterns run on a linear-time engine: no look-around or back-references)"
                    ),
                );
                None
            }
        }
    }
}
