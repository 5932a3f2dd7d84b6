//! JSON request bodies validated while they are scanned: a hand-written scanner walks the bytes
//! once (after one UTF-8 check of the whole body) and checks each token against the schema as it
//! goes. A valid body builds no tree; keys and strings are borrowed from the input unless they
//! contain escapes. (serde_json's `Value` costs an allocation per value, and even its streaming
//! visitor API costs several times this scanner per byte: see docs/architecture.md.)
//!
//! Subtrees whose rules need the whole value at once (`allOf`/`anyOf`/`oneOf`/`not`,
//! `uniqueItems`, `enum`/`const` on containers) are scanned for syntax and limits, then parsed
//! into a value and judged by the tree validator. Shape limits (depth, array length, string
//! length, property count) stop the scan as soon as one is crossed. The verdict is the tree
//! validator's, violations in the same (location) order; a test compares the two on mutated
//! input.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::{Number, Value};

use super::rules::{self, bit_name};
use super::{hot, types, Direction, Extra, KeyTag, Node, SchemaId, Schemas, Validator};
use crate::limits::ShapeLimits;
use crate::violation::{safe_segment, Violation, Violations};

/// Deepest nesting the scanner follows, whatever the configured limit (it recurses).
pub(crate) const MAX_SCAN_DEPTH: usize = 128;

/// Validates the JSON text `body` travelling in `direction` against node `id` (None: syntax and
/// shape limits only), recording violations under `/body`.
pub(crate) fn validate_json(
    schemas: &Schemas,
    id: Option<SchemaId>,
    body: &[u8],
    direction: Direction,
    limits: &ShapeLimits,
    out: &mut Violations,
) {
    let text = match std::str::from_utf8(body) {
        Ok(t) => t,
        Err(e) => {
            out.push("/body", syntax_reason(body, e.valid_up_to(), false));
            return;
        }
    };
    let mut scan = Scanner {
        ctx: Ctx {
            schemas,
            direction,
            limits,
            found: Vec::new(),
            room: out.room(),
            // Deep enough for most bodies without growing.
            path: Vec::with_capacity(8),
            depth: 0,
            stop: None,
        },
        text,
        bytes: body,
        pos: 0,
    };
    let stopped = scan.document(id).err().and(scan.ctx.stop.take());
    match stopped {
        Some(Abort::Limit(reason)) => out.push("/body", reason),
        Some(Abort::Syntax { at, eof }) => out.push("/body", syntax_reason(body, at, eof)),
        None | Some(Abort::Full) => {
            let mut found = scan.ctx.found;
            found.sort_by(|a, b| by_location(&a.pointer, &b.pointer));
            for v in found {
                out.push(&v.pointer, v.reason);
            }
        }
    }
}

/// "not valid JSON (line L, column C)", counted as serde_json counts them.
fn syntax_reason(body: &[u8], at: usize, eof: bool) -> String {
    let at = at.min(body.len());
    let line = 1 + body[..at].iter().filter(|b| **b == b'\n').count();
    let start = body[..at]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let column = at - start + usize::from(!eof);
    format!("not valid JSON (line {line}, column {column})")
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

/// The scan stopped early; why is in [`Ctx::stop`]. (A unit error keeps every `Result` the
/// scanner passes around in a register.)
struct Stop;

/// What a scanning step returns.
type Scan<T> = Result<T, Stop>;

/// Why the scan stopped early.
enum Abort {
    /// Not JSON: where, and whether the text ended there.
    Syntax { at: usize, eof: bool },
    /// A shape limit was crossed: the one violation reported.
    Limit(String),
    /// The violation list is full.
    Full,
}

/// The bytes that end the plain run of a JSON string: the closing quote, an escape, or a control
/// character (not allowed unescaped).
static STRING_STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = true;
        b += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// Where the plain run of a string that starts at `start` ends: the first [`STRING_STOP`] byte
/// at or after it, or the end. Eight bytes are tested at a time (the classic "has a zero byte"
/// word tricks); each mask's lowest set bit is exact, so the lowest of their union is the stop.
fn plain_run(bytes: &[u8], start: usize) -> usize {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let below = |w: u64, n: u8| w.wrapping_sub(ONES * u64::from(n)) & !w & HIGHS;
    let mut at = start;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let w = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        let stops = below(w ^ (ONES * u64::from(b'"')), 1)
            | below(w ^ (ONES * u64::from(b'\\')), 1)
            | below(w, 0x20);
        if stops != 0 {
            return at + (stops.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    while let Some(&b) = bytes.get(at) {
        if STRING_STOP[usize::from(b)] {
            break;
        }
        at += 1;
    }
    at
}

/// Exact powers of ten as `f64` (10^22 is the largest that is exact).
static POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// The digits of a number as scanned, while they fit in a `u64`.
#[derive(Default)]
struct Mantissa {
    value: u64,
    overflow: bool,
}

impl Mantissa {
    fn push(&mut self, digit: u8) {
        match self
            .value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(digit)))
        {
            Some(v) => self.value = v,
            None => self.overflow = true,
        }
    }

    fn exact(&self) -> Option<u64> {
        (!self.overflow).then_some(self.value)
    }

    /// The number when it can be built exactly without parsing the text again: an integer
    /// that fits in `i64`, or a decimal `mantissa × 10^scale` with both factors exact in `f64`
    /// (one correctly rounded operation then gives the correctly rounded result, as `str::parse`
    /// would). None sends the caller to the general parser.
    fn number(&self, negative: bool, float: bool, scale: i64) -> Option<Number> {
        let m = self.exact()?;
        if !float {
            let i = i64::try_from(m).ok()?;
            return Some(Number::from(if negative { -i } else { i }));
        }
        if m > 1 << 53 || scale.unsigned_abs() > 22 {
            return None;
        }
        let power = POW10[scale.unsigned_abs() as usize];
        let x = if scale < 0 {
            m as f64 / power
        } else {
            m as f64 * power
        };
        Number::from_f64(if negative { -x } else { x })
    }
}

/// One step of the path to the value being scanned. A key is kept as written between its
/// quotes (no drop glue on the hot path); escapes are decoded only when a pointer is built.
enum Segment<'b> {
    Key(&'b str),
    Index(usize),
}

/// A key as written (between its quotes), decoded.
fn decoded_key(raw: &str) -> Cow<'_, str> {
    if !raw.contains('\\') {
        return Cow::Borrowed(raw);
    }
    // The scanner accepted it as a JSON string, so it decodes.
    serde_json::from_str::<String>(&format!("\"{raw}\"")).map_or(Cow::Borrowed(raw), Cow::Owned)
}

struct Ctx<'s, 'b> {
    schemas: &'s Schemas,
    direction: Direction,
    limits: &'s ShapeLimits,
    found: Vec<Violation>,
    room: usize,
    path: Vec<Segment<'b>>,
    depth: usize,
    stop: Option<Abort>,
}

impl Ctx<'_, '_> {
    fn pointer(&self) -> String {
        let mut out = String::from("/body");
        for s in &self.path {
            out.push('/');
            match s {
                Segment::Key(k) => out.push_str(&safe_segment(&decoded_key(k))),
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
            self.stop.get_or_insert(Abort::Full);
        }
    }

    /// Ends the scan when the violation list is full.
    fn check_stop(&self) -> Scan<()> {
        match self.stop {
            Some(_) => Err(Stop),
            None => Ok(()),
        }
    }

    /// Stops the scan for `why`.
    fn abort(&mut self, why: Abort) -> Stop {
        self.stop = Some(why);
        Stop
    }
}

/// A scalar as scanned, for `enum` and `const`.
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

struct Scanner<'s, 'b> {
    ctx: Ctx<'s, 'b>,
    text: &'b str,
    bytes: &'b [u8],
    pos: usize,
}

impl<'b> Scanner<'_, 'b> {
    fn document(&mut self, id: Option<SchemaId>) -> Scan<()> {
        self.ws();
        self.value(id)?;
        self.ws();
        if self.pos != self.bytes.len() {
            return Err(self.syntax());
        }
        Ok(())
    }

    /// Stops the scan: not JSON at the current position.
    fn syntax(&mut self) -> Stop {
        let eof = self.pos >= self.bytes.len();
        self.ctx.abort(Abort::Syntax { at: self.pos, eof })
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn ws(&mut self) {
        // Every whitespace byte is at most a space: one comparison settles the usual byte.
        while let Some(&b) = self.bytes.get(self.pos) {
            if b > b' ' || !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                break;
            }
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Scan<()> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.syntax())
        }
    }

    fn value(&mut self, id: Option<SchemaId>) -> Scan<()> {
        if let Some(id) = id.filter(|id| self.ctx.schemas.hot(*id).rules & hot::WHOLE != 0) {
            return self.tree(id);
        }
        match self.peek() {
            Some(b'{') => self.object(id),
            Some(b'[') => self.array(id),
            Some(b'"') => {
                let s = self.string()?;
                self.on_string(id, &s)
            }
            Some(b't') => {
                self.literal(b"true")?;
                self.on_scalar(id, Scalar::Bool(true))
            }
            Some(b'f') => {
                self.literal(b"false")?;
                self.on_scalar(id, Scalar::Bool(false))
            }
            Some(b'n') => {
                self.literal(b"null")?;
                self.on_scalar(id, Scalar::Null)
            }
            Some(b'-' | b'0'..=b'9') => {
                let n = self.number()?;
                self.on_scalar(id, Scalar::Number(&n))
            }
            _ => Err(self.syntax()),
        }
    }

    /// Scans a subtree (syntax and limits), then judges it whole with the tree validator.
    fn tree(&mut self, id: SchemaId) -> Scan<()> {
        let start = self.pos;
        self.value(None)?;
        let value: Value = serde_json::from_str(&self.text[start..self.pos]).map_err(|_| {
            self.ctx.abort(Abort::Syntax {
                at: start,
                eof: false,
            })
        })?;
        let root = self.ctx.pointer();
        let room = self.ctx.room.saturating_sub(self.ctx.found.len()).max(1);
        let mut found = Violations::new(room);
        Validator::new(self.ctx.schemas, self.ctx.direction, &mut found, &root).check(id, &value);
        for v in found.into_vec() {
            self.ctx.record(v);
        }
        self.ctx.check_stop()
    }

    fn literal(&mut self, word: &[u8]) -> Scan<()> {
        for b in word {
            self.expect(*b)?;
        }
        Ok(())
    }

    fn number(&mut self) -> Scan<Number> {
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        let mut mantissa = Mantissa::default();
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(&mut mantissa),
            _ => return Err(self.syntax()),
        }
        let mut float = false;
        let mut scale = 0i64;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.syntax());
            }
            let before = self.pos;
            self.digits(&mut mantissa);
            scale -= (self.pos - before) as i64;
            float = true;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            let minus = match self.peek() {
                Some(b'-') => {
                    self.pos += 1;
                    true
                }
                Some(b'+') => {
                    self.pos += 1;
                    false
                }
                _ => false,
            };
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.syntax());
            }
            let mut exponent = Mantissa::default();
            self.digits(&mut exponent);
            match exponent.exact() {
                Some(e) if e <= 1_000 => scale += if minus { -(e as i64) } else { e as i64 },
                _ => mantissa.overflow = true,
            }
            float = true;
        }
        if let Some(n) = mantissa.number(negative, float, scale) {
            return Ok(n);
        }
        let text = &self.text[start..self.pos];
        if !float {
            if let Ok(i) = text.parse::<i64>() {
                return Ok(i.into());
            }
            if let Ok(u) = text.parse::<u64>() {
                return Ok(u.into());
            }
        }
        text.parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .ok_or_else(|| {
                self.ctx.abort(Abort::Syntax {
                    at: start,
                    eof: false,
                })
            })
    }

    /// Scans a run of digits into `into`.
    fn digits(&mut self, into: &mut Mantissa) {
        while let Some(&b) = self.bytes.get(self.pos) {
            if !b.is_ascii_digit() {
                break;
            }
            into.push(b - b'0');
            self.pos += 1;
        }
    }

    /// A string token (at its opening quote), borrowed unless it has escapes. Inlined: it runs
    /// for every key and string value, and a call costs more than its plain path.
    #[inline(always)]
    fn string(&mut self) -> Scan<Cow<'b, str>> {
        let start = self.pos + 1;
        let end = plain_run(self.bytes, start);
        if self.bytes.get(end) == Some(&b'"') {
            self.pos = end + 1;
            return Ok(Cow::Borrowed(&self.text[start..end]));
        }
        self.pos = end;
        self.string_tail(start)
    }

    /// The rest of a string token whose plain run (from `start`) did not end at its closing
    /// quote: escapes, or a syntax error.
    #[inline(never)]
    fn string_tail(&mut self, start: usize) -> Scan<Cow<'b, str>> {
        match self.peek() {
            Some(b'\\') => self.escaped(start).map(Cow::Owned),
            _ => Err(self.syntax()),
        }
    }

    /// The rest of a string with escapes, from `start` (its first character).
    fn escaped(&mut self, start: usize) -> Scan<String> {
        let mut out = String::from(&self.text[start..self.pos]);
        loop {
            let run = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(&self.text[run..self.pos]);
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let c = match self.peek() {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.pos += 1;
                            let c = self.unicode_escape()?;
                            out.push(c);
                            continue;
                        }
                        _ => return Err(self.syntax()),
                    };
                    self.pos += 1;
                    out.push(c);
                }
                _ => return Err(self.syntax()),
            }
        }
    }

    /// The character of a `\uXXXX` escape (after the `u`), joining surrogate pairs.
    fn unicode_escape(&mut self) -> Scan<char> {
        let high = self.hex4()?;
        let code = match high {
            0xD800..=0xDBFF => {
                self.expect(b'\\')?;
                self.expect(b'u')?;
                let low = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&low) {
                    return Err(self.syntax());
                }
                0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(self.syntax()),
            c => c,
        };
        char::from_u32(code).ok_or_else(|| self.syntax())
    }

    fn hex4(&mut self) -> Scan<u32> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d = self
                .peek()
                .and_then(crate::document::hex)
                .ok_or_else(|| self.syntax())?;
            v = v * 16 + u32::from(d);
            self.pos += 1;
        }
        Ok(v)
    }

    /// After an element of an array or object: true at the closing `close`, false after a `,`
    /// (whitespace skipped either way).
    fn after_element(&mut self, close: u8) -> Scan<bool> {
        self.ws();
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                self.ws();
                Ok(false)
            }
            Some(c) if c == close => {
                self.pos += 1;
                Ok(true)
            }
            _ => Err(self.syntax()),
        }
    }

    fn enter(&mut self) -> Scan<()> {
        self.ctx.depth += 1;
        let max = self.ctx.limits.max_depth.min(MAX_SCAN_DEPTH);
        if self.ctx.depth > max {
            return Err(self
                .ctx
                .abort(Abort::Limit(format!("nested deeper than {max} levels"))));
        }
        Ok(())
    }

    /// Type, `enum` and `const`; false when the type is wrong (nothing else is checked then).
    fn common(&mut self, id: Option<SchemaId>, bit: u8, scalar: Option<Scalar<'_>>) -> bool {
        let Some(id) = id else { return true };
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

    /// Whether node `id` accepts scalar `s` of type `bit` as far as type, `enum` and `const` go
    /// (reported when not), asking [`Self::common`] only when the node has such rules.
    #[inline]
    fn typed(&mut self, id: SchemaId, bit: u8, s: Scalar<'_>) -> bool {
        let h = self.ctx.schemas.hot(id);
        if h.accepts & bit != 0 && h.rules & hot::SCALAR == 0 {
            return true;
        }
        self.common(Some(id), bit, Some(s))
    }

    /// Whether node `id` accepts a container of type `bit` (reported when not). `enum` and
    /// `const` on containers make a node [`hot::WHOLE`], so the type is all there is to check.
    fn container_typed(&mut self, id: Option<SchemaId>, bit: u8) -> bool {
        match id {
            Some(id) if self.ctx.schemas.hot(id).accepts & bit == 0 => {
                self.common(Some(id), bit, None)
            }
            _ => true,
        }
    }

    fn on_scalar(&mut self, id: Option<SchemaId>, s: Scalar<'_>) -> Scan<()> {
        let Some(id) = id else { return Ok(()) };
        let h = self.ctx.schemas.hot(id);
        let (accepted, rules) = match s {
            Scalar::Number(_) => (h.accepts & types::NUMBER != 0, hot::SCALAR | hot::NUMBER),
            _ => (h.accepts & s.type_bit() != 0, hot::SCALAR),
        };
        if accepted && h.rules & rules == 0 {
            return Ok(());
        }
        self.scalar_rules(id, s)
    }

    /// Every rule of node `id` on scalar `s`: the path taken when [`super::Hot`] cannot settle it.
    #[inline(never)]
    fn scalar_rules(&mut self, id: SchemaId, s: Scalar<'_>) -> Scan<()> {
        if self.typed(id, s.type_bit(), s) {
            if let Scalar::Number(n) = s {
                let node = self.ctx.schemas.node(id);
                let ctx = &mut self.ctx;
                rules::number_faults(node, n, &mut |r| ctx.fail(r));
            }
        }
        self.ctx.check_stop()
    }

    fn on_string(&mut self, id: Option<SchemaId>, s: &str) -> Scan<()> {
        let max = self.ctx.limits.max_string_length;
        if s.len() > max && s.chars().count() > max {
            return Err(self.ctx.abort(Abort::Limit(format!(
                "a string is longer than {max} characters"
            ))));
        }
        let Some(id) = id else { return Ok(()) };
        let h = self.ctx.schemas.hot(id);
        if h.accepts & types::STRING != 0 && h.rules & (hot::SCALAR | hot::STRING) == 0 {
            return Ok(());
        }
        self.string_rules(id, s)
    }

    /// Every rule of node `id` on string `s`.
    #[inline(never)]
    fn string_rules(&mut self, id: SchemaId, s: &str) -> Scan<()> {
        if self.typed(id, types::STRING, Scalar::Str(s)) {
            let node = self.ctx.schemas.node(id);
            let ctx = &mut self.ctx;
            rules::string_faults(node, s, &mut |r| ctx.fail(r));
        }
        self.ctx.check_stop()
    }

    fn array(&mut self, id: Option<SchemaId>) -> Scan<()> {
        self.pos += 1;
        self.enter()?;
        let schemas = self.ctx.schemas;
        let typed = self.container_typed(id, types::ARRAY);
        let node = id.filter(|_| typed).map(|id| schemas.node(id));
        let items = node.and_then(|n| n.items);
        let prefix: &[SchemaId] = node.map_or(&[], |n| &n.prefix_items);
        let mut count = 0usize;
        self.ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
        } else {
            loop {
                let max = self.ctx.limits.max_array_items;
                if count == max {
                    return Err(self
                        .ctx
                        .abort(Abort::Limit(format!("an array has more than {max} items"))));
                }
                self.ctx.path.push(Segment::Index(count));
                self.value(prefix.get(count).copied().or(items))?;
                self.ctx.path.pop();
                count += 1;
                if self.after_element(b']')? {
                    break;
                }
            }
        }
        self.ctx.depth -= 1;
        if let Some(node) = node {
            let len = count as u64;
            if let Some(min) = node.min_items.filter(|m| len < *m) {
                self.ctx.fail(format!("fewer than {min} items"));
            }
            if let Some(max) = node.max_items.filter(|m| len > *m) {
                self.ctx.fail(format!("more than {max} items"));
            }
        }
        self.ctx.check_stop()
    }

    fn object(&mut self, id: Option<SchemaId>) -> Scan<()> {
        self.pos += 1;
        self.enter()?;
        let schemas = self.ctx.schemas;
        let limits = self.ctx.limits;
        let typed = self.container_typed(id, types::OBJECT);
        let node = id.filter(|_| typed).map(|id| schemas.node(id));
        let mut seen = Seen::new(node.map_or(0, |n| n.required.len()));
        let mut count = 0usize;
        // Where the next key is looked for first: the declared property after the last one
        // found (properties are sorted by name).
        let mut guess = 0usize;
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
        } else {
            loop {
                if self.peek() != Some(b'"') {
                    return Err(self.syntax());
                }
                let quote = self.pos;
                let key = self.string()?;
                let text = self.text;
                let raw = &text[quote + 1..self.pos - 1];
                count += 1;
                if count > limits.max_properties {
                    let max = limits.max_properties;
                    return Err(self.ctx.abort(Abort::Limit(format!(
                        "an object has more than {max} properties"
                    ))));
                }
                let max = limits.max_string_length;
                if key.len() > max && key.chars().count() > max {
                    return Err(self.ctx.abort(Abort::Limit(format!(
                        "a property name is longer than {max} characters"
                    ))));
                }
                self.ws();
                self.expect(b':')?;
                self.ws();
                let (child, refusal) = match node {
                    Some(node) => {
                        let tag = match &key {
                            Cow::Borrowed(k) => KeyTag::within(self.bytes, quote + 1, k.len()),
                            Cow::Owned(k) => KeyTag::of(k.as_bytes()),
                        };
                        let (index, rule) = property_rule(
                            schemas,
                            node,
                            (&key, tag, guess),
                            self.ctx.direction,
                            &mut seen,
                        );
                        guess = index.map_or(usize::MAX, |i| i + 1);
                        rule
                    }
                    None => (None, None),
                };
                drop(key);
                self.ctx.path.push(Segment::Key(raw));
                if let Some(reason) = refusal {
                    self.ctx.fail(reason.to_owned());
                }
                self.value(child)?;
                self.ctx.path.pop();
                if self.after_element(b'}')? {
                    break;
                }
            }
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
            for (i, name) in node.required.iter().enumerate() {
                let exempt = seen.get(i)
                    || node.property(name).is_some_and(|p| {
                        let p = schemas.node(p);
                        match self.ctx.direction {
                            Direction::Request => p.read_only,
                            Direction::Response => p.write_only,
                        }
                    });
                if !exempt {
                    self.ctx.fail(format!("missing required property {name:?}"));
                }
            }
        }
        self.ctx.check_stop()
    }
}

/// What a property of an object of `node` is checked against, or why it is refused; and the
/// index of the property when `node` declares it. `key`: its name, tag, and the index to try
/// first.
fn property_rule(
    schemas: &Schemas,
    node: &Node,
    (key, tag, guess): (&str, KeyTag, usize),
    direction: Direction,
    seen: &mut Seen,
) -> (Option<usize>, (Option<SchemaId>, Option<&'static str>)) {
    let Some(index) = node.find_property(key.as_bytes(), tag, guess) else {
        if let Some(i) = node.required.iter().position(|r| **r == *key) {
            seen.set(i);
        }
        return (None, undeclared_rule(node, key));
    };
    let p = node.properties[index].1;
    if let Some(i) = node.property_required[index] {
        seen.set(i as usize);
    }
    let rules = schemas.hot(p).rules;
    let rule = match direction {
        Direction::Request if rules & hot::READ_ONLY != 0 => {
            (None, Some("read-only property may not be sent"))
        }
        Direction::Response if rules & hot::WRITE_ONLY != 0 => {
            (None, Some("write-only property may not be returned"))
        }
        _ => (Some(p), None),
    };
    (Some(index), rule)
}

/// The rule for a key an object schema does not declare itself.
fn undeclared_rule(node: &Node, key: &str) -> (Option<SchemaId>, Option<&'static str>) {
    if let Some(p) = node.pattern_property(key) {
        return (Some(p), None);
    }
    if node.declares(key) {
        return (None, None);
    }
    match node.extra {
        Extra::Open => (None, None),
        Extra::Closed => (None, Some("property not allowed by the schema")),
        Extra::Schema(s) => (Some(s), None),
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
        validate_json(
            schemas,
            Some(id),
            body,
            Direction::Request,
            limits,
            &mut out,
        );
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

    /// The v31 fixture's `createItem` body: its schemas, the body schema, and tight limits.
    fn create_item() -> (Schemas, SchemaId, ShapeLimits) {
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
        ((*op.schemas).clone(), id, limits)
    }

    /// The word-at-a-time scan stops where the byte table says, from every start.
    #[test]
    fn plain_runs_stop_where_the_byte_table_says() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let interesting = [b'"', b'\\', 0x00, 0x1f, 0x20, 0x21, 0x7f, 0x80, 0xff, b'a'];
        for len in 0..40 {
            for _ in 0..200 {
                let text: Vec<u8> = (0..len)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        // Mostly plain bytes, so runs are long enough to cross words.
                        if state.is_multiple_of(8) {
                            interesting[(state >> 8) as usize % interesting.len()]
                        } else {
                            b'a' + (state >> 8) as u8 % 26
                        }
                    })
                    .collect();
                for start in 0..=text.len() {
                    let expected = (start..text.len())
                        .find(|&i| STRING_STOP[usize::from(text[i])])
                        .unwrap_or(text.len());
                    assert_eq!(plain_run(&text, start), expected, "{text:?} from {start}");
                }
            }
        }
    }

    /// Keys are found by tag from any guess, whatever their length and wherever they sit in
    /// the text; names that share a tag's first eight bytes, or differ only in length, are not
    /// confused.
    #[test]
    fn keys_are_found_from_any_guess() {
        let names = [
            "a",
            "a\0",
            "customer",
            "customer_id",
            "customer_name",
            "id",
            "z",
        ];
        let mut sorted = names.map(|n| (Box::<str>::from(n), 0 as SchemaId)).to_vec();
        sorted.sort();
        let schemas = Schemas::new(vec![Node {
            properties: sorted.clone().into_boxed_slice(),
            ..Node::default()
        }]);
        let node = schemas.node(0);
        let probes = names
            .iter()
            .copied()
            .chain(["", "customer_i", "customer_idx", "b", "a\0\0"]);
        for name in probes {
            let expected = sorted.iter().position(|(k, _)| &**k == name);
            // The key at the very end of a text (no room for a word) and followed by more.
            for text in [
                format!("\"{name}"),
                format!("\"{name}\": 1, \"padding\": 2"),
            ] {
                let tag = KeyTag::within(text.as_bytes(), 1, name.len());
                assert_eq!(tag, KeyTag::of(name.as_bytes()), "{name:?}");
                for guess in (0..=sorted.len()).chain([usize::MAX]) {
                    let found = node.find_property(name.as_bytes(), tag, guess);
                    assert_eq!(found, expected, "{name:?} guessing {guess}");
                }
            }
        }
    }

    #[test]
    fn streaming_and_tree_validation_agree() {
        let (schemas, id, limits) = create_item();
        let seeds: [&[u8]; 7] = [
            br#"{"name": "pen", "price": 1.5, "note": null, "owner": {"name": "ann", "email": "a@b.io"}}"#,
            br#"{"id": 3, "name": "Pen!", "price": 0, "extra": [1, 2, {"a": "b"}], "secret": "x"}"#,
            br#"{"price": "1", "note": 5, "owner": {"role": "admin", "name": 7}}"#,
            br#"[{"name": "x"}, "y", 1.0, true, null]"#,
            br#"{"name": "p\u00e9n \"x\"", "price": 1e2, "note": "\ud83d\ude00\n\t\/"}"#,
            br#"{"price": -0.5E-3, "name": "a b", "tags": [], "owner": {}}"#,
            b"\t{ \"name\" :\r\n\"pen\" , \"price\":12345678901234567890 }\n",
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let spice: [&[u8]; 16] = [
            b"{", b"}", b"[", b"]", b",", b"\"", b":", b"1", b"\"k\": ", b"null", b"\\u", b"\\",
            b"e", b".", b"-", b"0",
        ];
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
            let limit = t.iter().chain(&s).any(|x| x == "limit");
            if !limit {
                // The same idea of what JSON is as serde_json's.
                assert_eq!(
                    t.iter().any(|x| x == "json"),
                    s.iter().any(|x| x == "json"),
                    "{}",
                    String::from_utf8_lossy(&body)
                );
            }
            if limit || t.iter().any(|x| x == "json") {
                continue;
            }
            assert_eq!(t, s, "{}", String::from_utf8_lossy(&body));
            compared += 1;
        }
        assert!(compared > 5_000, "{compared}");
    }

    /// The scanner's exact fast paths build the same numbers as parsing the text (the general
    /// path, which `str::parse` rounds correctly).
    #[test]
    fn numbers_scan_as_the_text_parses() {
        fn reference(text: &str) -> Option<Number> {
            if !text.contains(['.', 'e', 'E']) {
                if let Ok(i) = text.parse::<i64>() {
                    return Some(i.into());
                }
                if let Ok(u) = text.parse::<u64>() {
                    return Some(u.into());
                }
            }
            text.parse::<f64>().ok().and_then(Number::from_f64)
        }
        let schemas = Schemas::default();
        let limits = ShapeLimits {
            max_depth: 4,
            max_array_items: 4,
            max_string_length: 4,
            max_properties: 4,
        };
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let digits = |n: u64, next: &mut dyn FnMut(u64) -> u64| -> String {
            (0..n).map(|_| char::from(b'0' + next(10) as u8)).collect()
        };
        let mut fast = 0;
        for round in 0..200_000 {
            let mut text = String::new();
            if next(2) == 0 {
                text.push('-');
            }
            let int = digits(1 + next(21), &mut next);
            text.push_str(if int.starts_with('0') { "0" } else { &int });
            if next(2) == 0 {
                text.push('.');
                text.push_str(&digits(1 + next(20), &mut next));
            }
            if next(3) == 0 {
                text.push(['e', 'E'][next(2) as usize]);
                text.push_str(["", "+", "-"][next(3) as usize]);
                text.push_str(&next(if round % 100 == 0 { 2_000 } else { 40 }).to_string());
            }
            let mut scan = Scanner {
                ctx: Ctx {
                    schemas: &schemas,
                    direction: Direction::Request,
                    limits: &limits,
                    found: Vec::new(),
                    room: 1,
                    path: Vec::new(),
                    depth: 0,
                    stop: None,
                },
                text: &text,
                bytes: text.as_bytes(),
                pos: 0,
            };
            let ours = scan.number().ok();
            let theirs = reference(&text);
            assert_eq!(ours, theirs, "{text}");
            let bits = |n: &Option<Number>| n.as_ref().and_then(Number::as_f64).map(f64::to_bits);
            assert_eq!(bits(&ours), bits(&theirs), "{text}");
            if text.len() < 12 {
                fast += 1;
            }
        }
        assert!(fast > 10_000, "{fast}");
    }

    /// A key written with escapes is reported under its decoded name.
    #[test]
    fn escaped_keys_are_decoded_in_pointers() {
        let (schemas, id, limits) = create_item();
        let got = streamed(&schemas, id, br#"{"n\u0061me": 7, "price": 1}"#, &limits);
        assert!(got.iter().any(|v| v.starts_with("/body/name ")), "{got:?}");
        assert_eq!(
            got,
            tree(&schemas, id, br#"{"n\u0061me": 7, "price": 1}"#, &limits)
        );
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
