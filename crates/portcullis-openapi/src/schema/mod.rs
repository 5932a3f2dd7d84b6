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
    /// The [`KeyTag`] of each declared property (filled when the table is built).
    pub property_tags: Box<[KeyTag]>,
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
            property_tags: Box::new([]),
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
        self.find_property(name.as_bytes(), KeyTag::of(name.as_bytes()), usize::MAX)
    }

    /// The index in `properties` of the property named `name`, whose tag is `tag`, trying index
    /// `guess` first (the caller passes the slot after the previous key's, which finds every
    /// key at once when a body writes them in sorted order, as many serializers do).
    #[inline(always)]
    pub(crate) fn find_property(&self, name: &[u8], tag: KeyTag, guess: usize) -> Option<usize> {
        let tags = &self.property_tags;
        // Tags are equal for names that share their length and first eight bytes.
        let tail_eq =
            |i: usize| name.len() <= 8 || self.properties[i].0.as_bytes()[8..] == name[8..];
        if tags.get(guess) == Some(&tag) && tail_eq(guess) {
            return Some(guess);
        }
        // Most objects declare a handful of properties: a scan of the tags beats the ordered
        // comparisons of a binary search there.
        if tags.len() <= 32 {
            return tags
                .iter()
                .enumerate()
                .position(|(i, t)| *t == tag && tail_eq(i));
        }
        self.properties
            .binary_search_by(|(k, _)| k.as_bytes().cmp(name))
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

/// A property name's length and first eight bytes (zero-padded): equal names have equal tags,
/// and comparing tags settles most lookups in one comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct KeyTag {
    head: u64,
    len: usize,
}

impl KeyTag {
    /// The tag of `name`.
    pub(crate) fn of(name: &[u8]) -> Self {
        let mut head = [0u8; 8];
        let n = name.len().min(8);
        head[..n].copy_from_slice(&name[..n]);
        Self {
            head: u64::from_le_bytes(head),
            len: name.len(),
        }
    }

    /// The tag of the `len` bytes at `start` in `text`, read as one word when `text` has eight
    /// bytes there.
    #[inline(always)]
    pub(crate) fn within(text: &[u8], start: usize, len: usize) -> Self {
        match text.get(start..start + 8) {
            Some(word) => {
                let word = u64::from_le_bytes(word.try_into().unwrap_or_default());
                let head = if len >= 8 {
                    word
                } else {
                    word & ((1u64 << (8 * len)) - 1)
                };
                Self { head, len }
            }
            None => Self::of(&text[start..start + len]),
        }
    }
}

/// What the scanner needs first about a node, packed small: the types it accepts and which
/// kinds of rules it has beyond the type. A value that passes these needs no other look.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Hot {
    /// Accepted [`types`] bits (all of them for "any type"; none for the `false` schema).
    pub accepts: u8,
    /// [`hot`] bits.
    pub rules: u8,
}

/// The rule kinds of [`Hot::rules`].
pub(crate) mod hot {
    /// The value is judged whole by the tree validator.
    pub const WHOLE: u8 = 1;
    /// `enum`, `const`, or the `false` schema.
    pub const SCALAR: u8 = 2;
    /// Length, `pattern` or `format` rules for strings.
    pub const STRING: u8 = 4;
    /// Bounds, `multipleOf` or `format` rules for numbers.
    pub const NUMBER: u8 = 8;
    /// `readOnly`: refused in requests.
    pub const READ_ONLY: u8 = 16;
    /// `writeOnly`: refused in responses.
    pub const WRITE_ONLY: u8 = 32;
}

impl Hot {
    fn of(node: &Node) -> Self {
        let accepts = match node.types {
            _ if node.never => 0,
            0 => u8::MAX,
            t => t,
        };
        let mut rules = 0;
        let flag = |on: bool, bit: u8| if on { bit } else { 0 };
        rules |= flag(node.whole, hot::WHOLE);
        rules |= flag(
            node.never || node.enumeration.is_some() || node.constant.is_some(),
            hot::SCALAR,
        );
        rules |= flag(
            node.min_length.is_some()
                || node.max_length.is_some()
                || node.pattern.is_some()
                || node.format.is_some(),
            hot::STRING,
        );
        rules |= flag(
            node.minimum.is_some()
                || node.maximum.is_some()
                || node.multiple_of.is_some()
                || node.format.is_some(),
            hot::NUMBER,
        );
        rules |= flag(node.read_only, hot::READ_ONLY);
        rules |= flag(node.write_only, hot::WRITE_ONLY);
        Self { accepts, rules }
    }
}

/// The compiled schemas of a spec.
#[derive(Debug, Clone, Default)]
pub struct Schemas {
    nodes: Vec<Node>,
    /// [`Hot`] of each node, in a dense table of its own.
    hot: Vec<Hot>,
}

impl Schemas {
    /// The table of `nodes`, with what is derived from them.
    pub(crate) fn new(mut nodes: Vec<Node>) -> Self {
        for node in &mut nodes {
            node.property_tags = node
                .properties
                .iter()
                .map(|(k, _)| KeyTag::of(k.as_bytes()))
                .collect();
        }
        let hot = nodes.iter().map(Hot::of).collect();
        Self { nodes, hot }
    }

    pub(crate) fn node(&self, id: SchemaId) -> &Node {
        &self.nodes[id as usize]
    }

    /// The [`Hot`] summary of node `id`.
    #[inline]
    pub(crate) fn hot(&self, id: SchemaId) -> Hot {
        self.hot[id as usize]
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
