//! JSON Schema as OpenAPI 3.0 and 3.1 write it, compiled once into a flat table of nodes.
//!
//! One compiled tree serves every use: request validation, response validation, and stripping
//! undeclared response properties. The two dialects compile to the same nodes (3.0 `nullable`
//! and boolean `exclusiveMinimum`; 3.1 type arrays and numeric `exclusiveMinimum`), so a value
//! is judged the same way whichever version the spec is written in.
//!
//! Unknown properties: an object schema that declares `properties` but says nothing about
//! `additionalProperties` is **closed** by default (the mass-assignment defence); a spec or the
//! API's config can open it. Inside `allOf`/`anyOf`/`oneOf` the enclosing schema closes over
//! the properties of all its members (as `unevaluatedProperties: false` would), so composition
//! does not make valid payloads fail.

mod compile;
pub(crate) mod format;
mod pattern;
mod rules;
mod stream;
mod strip;
mod validate;

pub(crate) use compile::Compiler;
pub(crate) use stream::{validate_json, MAX_SCAN_DEPTH};
pub(crate) use strip::strip;
pub(crate) use validate::{Direction, Validator};

use regex::Regex;
use serde_json::Value;

use format::Format;
use pattern::Pattern;

/// Index of a node in a [`Schemas`] table.
pub(crate) type SchemaId = u32;

/// Bit set of JSON types (0: any type).
pub(crate) mod types {
    pub const NULL: u8 = 1;
    pub const BOOLEAN: u8 = 2;
    pub const INTEGER: u8 = 4;
    pub const NUMBER: u8 = 8;
    pub const STRING: u8 = 16;
    pub const ARRAY: u8 = 32;
    pub const OBJECT: u8 = 64;

    /// The type names a set allows, for reasons.
    pub fn names(set: u8) -> String {
        let all = [
            (NULL, "null"),
            (BOOLEAN, "boolean"),
            (INTEGER, "integer"),
            (NUMBER, "number"),
            (STRING, "string"),
            (ARRAY, "array"),
            (OBJECT, "object"),
        ];
        // `number` includes integers: name it alone.
        let set = if set & NUMBER != 0 {
            set & !INTEGER
        } else {
            set
        };
        all.iter()
            .filter(|(b, _)| set & b != 0)
            .map(|(_, n)| *n)
            .collect::<Vec<_>>()
            .join(" or ")
    }
}

/// What an object accepts beyond its declared properties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Extra {
    /// Anything.
    Open,
    /// Nothing: undeclared properties are violations (and stripped from responses).
    Closed,
    /// Values that satisfy this schema.
    Schema(SchemaId),
}

/// A numeric bound.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bound {
    pub value: f64,
    pub exclusive: bool,
}

/// One compiled schema.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// Allowed types ([`types`] bits; 0: any).
    pub types: u8,
    /// `false` schema: nothing is valid.
    pub never: bool,
    pub enumeration: Option<Box<[Value]>>,
    pub constant: Option<Value>,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub pattern: Option<Pattern>,
    pub format: Option<Format>,
    pub minimum: Option<Bound>,
    pub maximum: Option<Bound>,
    pub multiple_of: Option<f64>,
    pub items: Option<SchemaId>,
    pub prefix_items: Box<[SchemaId]>,
    pub min_items: Option<u64>,
    pub max_items: Option<u64>,
    pub unique_items: bool,
    /// Declared properties, sorted by name.
    pub properties: Box<[(Box<str>, SchemaId)]>,
    pub required: Box<[Box<str>]>,
    /// For each declared property, its index in `required`.
    pub property_required: Box<[Option<u32>]>,
    pub pattern_properties: Box<[(Regex, SchemaId)]>,
    pub extra: Extra,
    /// `additionalProperties: true` was written (an enclosing schema must not close it).
    pub explicit_open: bool,
    /// Names declared here and by composition members, sorted (what `Extra::Closed` allows).
    pub declared: Box<[Box<str>]>,
    pub min_properties: Option<u64>,
    pub max_properties: Option<u64>,
    pub all_of: Box<[SchemaId]>,
    pub any_of: Box<[SchemaId]>,
    pub one_of: Box<[SchemaId]>,
    pub not: Option<SchemaId>,
    pub read_only: bool,
    pub write_only: bool,
    /// Its rules need the whole value at once (composition, `uniqueItems`, `enum`/`const` on
    /// containers): the scanner hands such values to the tree validator.
    pub whole: bool,
}

impl Default for Node {
    fn default() -> Self {
        Self {
            types: 0,
            never: false,
            enumeration: None,
            constant: None,
            min_length: None,
            max_length: None,
            pattern: None,
            format: None,
            minimum: None,
            maximum: None,
            multiple_of: None,
            items: None,
            prefix_items: Box::new([]),
            min_items: None,
            max_items: None,
            unique_items: false,
            properties: Box::new([]),
            required: Box::new([]),
            property_required: Box::new([]),
            pattern_properties: Box::new([]),
            extra: Extra::Open,
            explicit_open: false,
            declared: Box::new([]),
            min_properties: None,
            max_properties: None,
            all_of: Box::new([]),
            any_of: Box::new([]),
            one_of: Box::new([]),
            not: None,
            read_only: false,
            write_only: false,
            whole: false,
        }
    }
}

impl Node {
    /// The schema of property `name` declared directly on this node.
    pub(crate) fn property(&self, name: &str) -> Option<SchemaId> {
        self.property_index(name).map(|i| self.properties[i].1)
    }

    /// The index in `properties` of property `name`.
    pub(crate) fn property_index(&self, name: &str) -> Option<usize> {
        // Most objects declare a handful of properties: comparing lengths (then bytes) beats
        // the ordered comparisons of a binary search there.
        if self.properties.len() <= 16 {
            return self
                .properties
                .iter()
                .position(|(k, _)| short_eq(k.as_bytes(), name.as_bytes()));
        }
        self.properties
            .binary_search_by(|(k, _)| (**k).cmp(name))
            .ok()
    }

    /// Whether `name` is declared here or by a composition member.
    pub(crate) fn declares(&self, name: &str) -> bool {
        self.declared.binary_search_by(|k| (**k).cmp(name)).is_ok()
    }

    /// The first pattern property matching `name`.
    pub(crate) fn pattern_property(&self, name: &str) -> Option<SchemaId> {
        self.pattern_properties
            .iter()
            .find(|(re, _)| re.is_match(name))
            .map(|(_, id)| *id)
    }
}

/// Byte equality that skips the `memcmp` call for short keys (property names usually are).
fn short_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && (a.len() > 16 && a == b || a.iter().zip(b).all(|(x, y)| x == y))
}

/// The compiled schemas of a spec.
#[derive(Debug, Clone, Default)]
pub struct Schemas {
    pub(crate) nodes: Vec<Node>,
}

impl Schemas {
    pub(crate) fn node(&self, id: SchemaId) -> &Node {
        &self.nodes[id as usize]
    }

    /// The schema of property `name` of an object valid for node `id`: declared on it, on a
    /// composition member, by a pattern, or the schema for extra properties.
    pub(crate) fn property_schema(&self, id: SchemaId, name: &str) -> Option<SchemaId> {
        self.property_schema_depth(id, name, 0)
    }

    fn property_schema_depth(&self, id: SchemaId, name: &str, depth: u8) -> Option<SchemaId> {
        if depth > 16 {
            return None;
        }
        let node = self.node(id);
        if let Some(p) = node.property(name) {
            return Some(p);
        }
        for m in node.all_of.iter().chain(&*node.any_of).chain(&*node.one_of) {
            if let Some(p) = self.property_schema_depth(*m, name, depth + 1) {
                return Some(p);
            }
        }
        if let Some(p) = node.pattern_property(name) {
            return Some(p);
        }
        match node.extra {
            Extra::Schema(s) => Some(s),
            _ => None,
        }
    }

    /// The JSON types a value for node `id` may have, looking through `allOf` (0: any).
    pub(crate) fn types_of(&self, id: SchemaId) -> u8 {
        let node = self.node(id);
        if node.types != 0 {
            return node.types;
        }
        let mut t = 0;
        for m in node.all_of.iter().chain(&*node.any_of).chain(&*node.one_of) {
            t |= self.node(*m).types;
        }
        t
    }
}
