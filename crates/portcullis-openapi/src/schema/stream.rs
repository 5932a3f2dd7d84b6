//! JSON request bodies validated while they are parsed: a `DeserializeSeed` walks the schema
//! alongside serde_json's parser, so a valid body builds no tree, allocates nothing per value,
//! and borrows its keys and strings from the input.
//!
//! Subtrees whose rules need the whole value at once (`allOf`/`anyOf`/`oneOf`/`not`,
//! `uniqueItems`, `enum`/`const` on containers) are parsed into a value and judged by the tree
//! validator; everything else is decided on the fly. Shape limits (depth, array length, string
//! length, property count) stop the parse as soon as one is crossed. The verdict is the same as
//! the tree validator's, violations in the same (location) order.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Number, Value};

use super::rules::{self, bit_name};
use super::{types, Direction, Extra, Node, SchemaId, Schemas, Validator};
use crate::limits::ShapeLimits;
use crate::violation::{safe_segment, Violation, Violations};

/// Validates the JSON text `body` against node `id` (None: shape limits only), recording
/// violations under `/body`.
pub(crate) fn validate_json(
    schemas: &Schemas,
    id: Option<SchemaId>,
    body: &[u8],
    limits: &ShapeLimits,
    out: &mut Violations,
) {
    let mut ctx = Ctx {
        schemas,
        limits,
        found: Vec::new(),
        room: out.room(),
        path: Vec::new(),
        depth: 0,
        stop: None,
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed = Seed { ctx: &mut ctx, id }
        .deserialize(&mut de)
        .and_then(|()| de.end());
    match (parsed, ctx.stop.take()) {
        (_, Some(Stop::Limit(reason))) => out.push("/body", reason),
        (Err(e), None) if e.is_syntax() || e.is_eof() || e.is_data() => out.push(
            "/body",
            format!("not valid JSON (line {}, column {})", e.line(), e.column()),
        ),
        (Err(_), None) | (Ok(()), _) | (Err(_), Some(Stop::Full)) => {
            ctx.found
                .sort_by(|a, b| by_location(&a.pointer, &b.pointer));
            for v in ctx.found {
                out.push(&v.pointer, v.reason);
            }
        }
    }
}

/// Orders pointers by location: segment by segment, indexes numerically.
fn by_location(a: &str, b: &str) -> Ordering {
    let mut x = a.split('/');
    let mut y = b.split('/');
    loop {
        match (x.next(), y.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(p), Some(q)) => {
                let o = match (p.parse::<usize>(), q.parse::<usize>()) {
                    (Ok(i), Ok(j)) => i.cmp(&j),
                    _ => p.cmp(q),
                };
                if o != Ordering::Equal {
                    return o;
                }
            }
        }
    }
}

/// Why the parse stopped early.
enum Stop {
    /// A shape limit was crossed: the one violation reported.
    Limit(String),
    /// The violation list is full.
    Full,
}

enum Segment<'de> {
    Key(Cow<'de, str>),
    Index(usize),
}

struct Ctx<'s, 'de> {
    schemas: &'s Schemas,
    limits: &'s ShapeLimits,
    found: Vec<Violation>,
    room: usize,
    path: Vec<Segment<'de>>,
    depth: usize,
    stop: Option<Stop>,
}

impl Ctx<'_, '_> {
    fn pointer(&self) -> String {
        let mut out = String::from("/body");
        for s in &self.path {
            out.push('/');
            match s {
                Segment::Key(k) => out.push_str(&safe_segment(k)),
                Segment::Index(i) => out.push_str(&i.to_string()),
            }
        }
        out
    }

    fn fail(&mut self, reason: String) {
        let pointer = self.pointer();
        self.record(Violation { pointer, reason });
    }

    fn record(&mut self, v: Violation) {
        if self.found.len() < self.room {
            self.found.push(v);
        }
        if self.found.len() >= self.room {
            self.stop.get_or_insert(Stop::Full);
        }
    }

    fn limit<E: de::Error>(&mut self, reason: String) -> E {
        self.stop = Some(Stop::Limit(reason));
        E::custom("limit")
    }

    /// An error that ends the parse when validation must stop.
    fn check_stop<E: de::Error>(&self) -> Result<(), E> {
        match self.stop {
            Some(_) => Err(E::custom("stop")),
            None => Ok(()),
        }
    }
}

/// Validates one value (or, without a schema, only checks its shape).
struct Seed<'c, 's, 'de> {
    ctx: &'c mut Ctx<'s, 'de>,
    id: Option<SchemaId>,
}

/// Rules that need the whole value: judged by the tree validator.
fn needs_tree(node: &Node) -> bool {
    !node.all_of.is_empty()
        || !node.any_of.is_empty()
        || !node.one_of.is_empty()
        || node.not.is_some()
        || node.unique_items
        || ((node.enumeration.is_some() || node.constant.is_some())
            && (node.types == 0 || node.types & (types::ARRAY | types::OBJECT) != 0))
}

impl<'de> DeserializeSeed<'de> for Seed<'_, '_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let Seed { ctx, id } = self;
        if let Some(id) = id.filter(|id| needs_tree(ctx.schemas.node(*id))) {
            let value = Value::deserialize(d)?;
            let root = ctx.pointer();
            let mut shape = Violations::new(1);
            if !ctx
                .limits
                .check_nested(&value, ctx.depth + 1, &root, &mut shape)
            {
                let reason = shape.into_vec().remove(0).reason;
                return Err(ctx.limit(reason));
            }
            let mut found = Violations::new(ctx.room.saturating_sub(ctx.found.len()).max(1));
            Validator::new(ctx.schemas, Direction::Request, &mut found, &root).check(id, &value);
            for v in found.into_vec() {
                ctx.record(v);
            }
            return ctx.check_stop();
        }
        d.deserialize_any(Visit { ctx, id })
    }
}

struct Visit<'c, 's, 'de> {
    ctx: &'c mut Ctx<'s, 'de>,
    id: Option<SchemaId>,
}

/// A scalar as parsed, for `enum` and `const`.
#[derive(Clone, Copy)]
enum Scalar<'a> {
    Null,
    Bool(bool),
    Number(&'a Number),
    Str(&'a str),
}

impl Scalar<'_> {
    fn equals(self, v: &Value) -> bool {
        match (self, v) {
            (Self::Null, Value::Null) => true,
            (Self::Bool(a), Value::Bool(b)) => a == *b,
            (Self::Number(a), Value::Number(b)) => a == b || a.as_f64() == b.as_f64(),
            (Self::Str(a), Value::String(b)) => a == b,
            _ => false,
        }
    }

    fn type_bit(self) -> u8 {
        match self {
            Self::Null => types::NULL,
            Self::Bool(_) => types::BOOLEAN,
            Self::Number(n) => rules::number_type(n),
            Self::Str(_) => types::STRING,
        }
    }
}

impl<'de> Visit<'_, '_, 'de> {
    fn node(&self) -> Option<&Node> {
        self.id.map(|id| self.ctx.schemas.node(id))
    }

    /// Type, `enum` and `const`; false when the type is wrong (nothing else is checked then).
    fn common(&mut self, bit: u8, scalar: Option<Scalar<'_>>) -> bool {
        let Some(id) = self.id else { return true };
        let node = self.ctx.schemas.node(id);
        if node.never {
            self.ctx.fail("no value is allowed here".to_owned());
            return false;
        }
        if node.types != 0 && node.types & bit == 0 {
            let reason = format!(
                "expected {}, got {}",
                types::names(node.types),
                bit_name(bit)
            );
            self.ctx.fail(reason);
            return false;
        }
        if let Some(s) = scalar {
            if let Some(allowed) = &node.enumeration {
                if !allowed.iter().any(|a| s.equals(a)) {
                    self.ctx.fail("not one of the allowed values".to_owned());
                }
            }
            if let Some(c) = &node.constant {
                if !s.equals(c) {
                    self.ctx.fail("not the required constant value".to_owned());
                }
            }
        }
        true
    }

    fn scalar<E: de::Error>(mut self, s: Scalar<'_>) -> Result<(), E> {
        let bit = s.type_bit();
        if self.common(bit, Some(s)) {
            if let (Some(node), Scalar::Number(n)) = (self.node(), s) {
                let mut faults = Vec::new();
                rules::number_faults(node, n, &mut |r| faults.push(r));
                faults.into_iter().for_each(|r| self.ctx.fail(r));
            }
        }
        self.ctx.check_stop()
    }

    fn number<E: de::Error>(self, n: Number) -> Result<(), E> {
        self.scalar(Scalar::Number(&n))
    }

    fn string<E: de::Error>(mut self, s: &str) -> Result<(), E> {
        let max = self.ctx.limits.max_string_length;
        if s.len() > max && s.chars().count() > max {
            return Err(self
                .ctx
                .limit(format!("a string is longer than {max} characters")));
        }
        if self.common(types::STRING, Some(Scalar::Str(s))) {
            if let Some(node) = self.node() {
                let mut faults = Vec::new();
                rules::string_faults(node, s, &mut |r| faults.push(r));
                faults.into_iter().for_each(|r| self.ctx.fail(r));
            }
        }
        self.ctx.check_stop()
    }

    fn enter<E: de::Error>(&mut self) -> Result<(), E> {
        self.ctx.depth += 1;
        let max = self.ctx.limits.max_depth;
        if self.ctx.depth > max {
            return Err(self.ctx.limit(format!("nested deeper than {max} levels")));
        }
        Ok(())
    }
}

impl<'de> Visitor<'de> for Visit<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.scalar(Scalar::Null)
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<(), E> {
        self.scalar(Scalar::Bool(b))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<(), E> {
        self.number(n.into())
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<(), E> {
        self.number(n.into())
    }

    fn visit_f64<E: de::Error>(self, f: f64) -> Result<(), E> {
        match Number::from_f64(f) {
            Some(n) => self.number(n),
            None => Err(E::custom("number out of range")),
        }
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<(), E> {
        self.string(s)
    }

    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<(), E> {
        self.string(s)
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<(), E> {
        self.string(&s)
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        self.enter()?;
        let typed = self.common(types::ARRAY, None);
        let node = self
            .id
            .filter(|_| typed)
            .map(|id| self.ctx.schemas.node(id));
        let (items, prefix, min, max) = match node {
            Some(n) => (n.items, n.prefix_items.clone(), n.min_items, n.max_items),
            None => (None, Box::default(), None, None),
        };
        let mut count = 0usize;
        loop {
            if count == self.ctx.limits.max_array_items {
                // One more element would cross the limit.
                self.ctx.path.push(Segment::Index(count));
                let more = seq.next_element::<de::IgnoredAny>()?;
                self.ctx.path.pop();
                if more.is_some() {
                    let max = self.ctx.limits.max_array_items;
                    return Err(self
                        .ctx
                        .limit(format!("an array has more than {max} items")));
                }
                break;
            }
            let child = prefix.get(count).copied().or(items);
            self.ctx.path.push(Segment::Index(count));
            let got = seq.next_element_seed(Seed {
                ctx: self.ctx,
                id: child,
            })?;
            self.ctx.path.pop();
            if got.is_none() {
                break;
            }
            count += 1;
        }
        self.ctx.depth -= 1;
        let len = count as u64;
        if let Some(min) = min.filter(|m| len < *m) {
            self.ctx.fail(format!("fewer than {min} items"));
        }
        if let Some(max) = max.filter(|m| len > *m) {
            self.ctx.fail(format!("more than {max} items"));
        }
        self.ctx.check_stop()
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        self.enter()?;
        let typed = self.common(types::OBJECT, None);
        let id = self.id.filter(|_| typed);
        let schemas = self.ctx.schemas;
        let node = id.map(|id| schemas.node(id));
        let mut seen = Seen::new(node.map_or(0, |n| n.required.len()));
        let mut count = 0usize;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            count += 1;
            let limits = self.ctx.limits;
            if count > limits.max_properties {
                let max = limits.max_properties;
                return Err(self
                    .ctx
                    .limit(format!("an object has more than {max} properties")));
            }
            if key.len() > limits.max_string_length
                && key.chars().count() > limits.max_string_length
            {
                let max = limits.max_string_length;
                return Err(self
                    .ctx
                    .limit(format!("a property name is longer than {max} characters")));
            }
            let mut child = None;
            let mut refusal = None;
            if let Some(node) = node {
                if let Some(i) = node.required.iter().position(|r| **r == *key) {
                    seen.set(i);
                }
                if let Some(p) = node.property(&key) {
                    if schemas.node(p).read_only {
                        refusal = Some("read-only property may not be sent");
                    } else {
                        child = Some(p);
                    }
                } else if let Some(p) = node.pattern_property(&key) {
                    child = Some(p);
                } else if !node.declares(&key) {
                    match node.extra {
                        Extra::Open => {}
                        Extra::Closed => refusal = Some("property not allowed by the schema"),
                        Extra::Schema(s) => child = Some(s),
                    }
                }
            }
            self.ctx.path.push(Segment::Key(key));
            if let Some(reason) = refusal {
                self.ctx.fail(reason.to_owned());
            }
            map.next_value_seed(Seed {
                ctx: self.ctx,
                id: child,
            })?;
            self.ctx.path.pop();
        }
        self.ctx.depth -= 1;
        if let Some(node) = node {
            let len = count as u64;
            if let Some(min) = node.min_properties.filter(|m| len < *m) {
                self.ctx.fail(format!("fewer than {min} properties"));
            }
            if let Some(max) = node.max_properties.filter(|m| len > *m) {
                self.ctx.fail(format!("more than {max} properties"));
            }
            for (_, name) in node
                .required
                .iter()
                .enumerate()
                .filter(|(i, _)| !seen.get(*i))
            {
                let exempt = node
                    .property(name)
                    .is_some_and(|p| schemas.node(p).read_only);
                if !exempt {
                    self.ctx.fail(format!("missing required property {name:?}"));
                }
            }
        }
        self.ctx.check_stop()
    }
}

/// Which required properties an object had: a bit set, on the heap only past 64 of them.
enum Seen {
    Small(u64),
    Large(Vec<bool>),
}

impl Seen {
    fn new(n: usize) -> Self {
        if n <= 64 {
            Self::Small(0)
        } else {
            Self::Large(vec![false; n])
        }
    }

    fn set(&mut self, i: usize) {
        match self {
            Self::Small(bits) => *bits |= 1 << i,
            Self::Large(v) => v[i] = true,
        }
    }

    fn get(&self, i: usize) -> bool {
        match self {
            Self::Small(bits) => bits & (1 << i) != 0,
            Self::Large(v) => v[i],
        }
    }
}

/// An object key, borrowed from the input when it has no escapes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a property name")
    }

    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(s))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(s.to_owned()))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tree path: parse, limits, then the tree validator.
    fn tree(schemas: &Schemas, id: SchemaId, body: &[u8], limits: &ShapeLimits) -> Vec<String> {
        let mut out = Violations::new(1000);
        match serde_json::from_slice::<Value>(body) {
            Err(_) => return vec!["json".into()],
            Ok(v) if !limits.check(&v, "/body", &mut out) => return vec!["limit".into()],
            Ok(v) => {
                Validator::new(schemas, Direction::Request, &mut out, "/body").check(id, &v);
            }
        }
        let mut list = out.into_vec();
        list.sort_by(|a, b| by_location(&a.pointer, &b.pointer));
        list.into_iter()
            .map(|v| format!("{} {}", v.pointer, v.reason))
            .collect()
    }

    fn streamed(schemas: &Schemas, id: SchemaId, body: &[u8], limits: &ShapeLimits) -> Vec<String> {
        let mut out = Violations::new(1000);
        validate_json(schemas, Some(id), body, limits, &mut out);
        out.into_vec()
            .into_iter()
            .map(|v| match v.reason.as_str() {
                r if r.starts_with("not valid JSON") => "json".into(),
                // The shape limits' reasons ("nested deeper ...", "an array has ...").
                r if v.pointer == "/body"
                    && (r.starts_with("nested") || r.starts_with("a ") || r.starts_with("an ")) =>
                {
                    "limit".into()
                }
                _ => format!("{} {}", v.pointer, v.reason),
            })
            .collect()
    }

    #[test]
    fn streaming_and_tree_validation_agree() {
        let text = include_str!("../../tests/fixtures/v31.yaml");
        let spec = crate::Spec::parse(
            text,
            std::path::Path::new("v31.yaml"),
            &crate::Options::default(),
        )
        .unwrap();
        let op = spec
            .operations
            .iter()
            .find(|o| o.id.as_deref() == Some("createItem"))
            .unwrap();
        let id = op.body.as_ref().unwrap().media[0].schema.unwrap();
        let limits = ShapeLimits {
            max_depth: 6,
            max_array_items: 5,
            max_string_length: 12,
            max_properties: 8,
        };
        let seeds: [&[u8]; 4] = [
            br#"{"name": "pen", "price": 1.5, "note": null, "owner": {"name": "ann", "email": "a@b.io"}}"#,
            br#"{"id": 3, "name": "Pen!", "price": 0, "extra": [1, 2, {"a": "b"}], "secret": "x"}"#,
            br#"{"price": "1", "note": 5, "owner": {"role": "admin", "name": 7}}"#,
            br#"[{"name": "x"}, "y", 1.0, true, null]"#,
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let spice: [&[u8]; 10] = [
            b"{", b"}", b"[", b"]", b",", b"\"", b":", b"1", b"\"k\": ", b"null",
        ];
        let schemas = (*op.schemas).clone();
        let mut compared = 0;
        for round in 0..20_000 {
            let mut body = seeds[round % seeds.len()].to_vec();
            for _ in 0..(next() % 4) {
                let at = (next() as usize) % (body.len() + 1);
                match next() % 3 {
                    0 if at < body.len() => {
                        body.remove(at);
                    }
                    1 => {
                        let s = spice[(next() as usize) % spice.len()];
                        body.splice(at..at, s.iter().copied());
                    }
                    _ => {}
                }
            }
            let t = tree(&schemas, id, &body, &limits);
            let s = streamed(&schemas, id, &body, &limits);
            if t.iter().any(|x| x == "json" || x == "limit")
                || s.iter().any(|x| x == "json" || x == "limit")
            {
                continue;
            }
            assert_eq!(t, s, "{}", String::from_utf8_lossy(&body));
            compared += 1;
        }
        assert!(compared > 5_000, "{compared}");
    }

    #[test]
    fn locations_order_indexes_numerically() {
        let mut v = vec![
            "/body/items/10/a",
            "/body/items/2/b",
            "/body",
            "/body/b",
            "/body/a",
        ];
        v.sort_by(|a, b| by_location(a, b));
        assert_eq!(
            v,
            [
                "/body",
                "/body/a",
                "/body/b",
                "/body/items/2/b",
                "/body/items/10/a"
            ]
        );
    }
}
